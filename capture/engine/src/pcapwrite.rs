//! A classic pcap writer (microsecond timestamps) that stays valid record by record.
//!
//! Port of `capture/pcapio.py` `PcapWriter`: records are buffered and written with plain
//! `write` calls, so the writer knows how much of the buffer reached the file. When a write
//! fails (disk full, quota, file size limit, I/O error) the file is cut back to the end of the
//! last whole record before the error is returned, so it stays a capture that `tcpdump -r`
//! reads to its end; the records not written stay buffered.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;

/// Buffered bytes that make `write` flush (pcapio.py `PcapWriter.FLUSH_AT`).
pub const FLUSH_AT: usize = 1 << 16;
/// libpcap's default snap length, the header's default (pcapio.py's `snaplen=262144`).
pub const DEFAULT_SNAPLEN: u32 = 262_144;

/// Where the records go: a file that can be written in part and cut back.
pub trait RecordFile {
    /// Write some of `buf`, returning how much was written (like `write(2)`).
    fn write_some(&mut self, buf: &[u8]) -> io::Result<usize>;
    /// Make the file `len` bytes long and continue writing there.
    fn cut(&mut self, len: u64) -> io::Result<()>;
}

impl RecordFile for File {
    fn write_some(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write(buf)
    }

    fn cut(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)?;
        self.seek(SeekFrom::Start(len)).map(|_| ())
    }
}

/// A classic pcap writer over a `RecordFile` (a `File` unless a test says otherwise).
pub struct PcapWriter<F: RecordFile = File> {
    file: Option<F>,
    snaplen: u32,
    buf: Vec<u8>,
    /// Where each whole record (the file header first) ends in `buf`.
    ends: Vec<usize>,
    on_disk: u64,
    written: u64,
}

impl PcapWriter<File> {
    /// Create (or truncate) `path` and buffer the file header.
    ///
    /// The error is returned as the OS gave it; the caller words it for the user.
    pub fn create(path: &Path, linktype: i32, snaplen: u32) -> io::Result<Self> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(Self::new(file, linktype, snaplen))
    }
}

impl<F: RecordFile> PcapWriter<F> {
    /// A writer over an already open, empty `file`.
    pub fn new(file: F, linktype: i32, snaplen: u32) -> Self {
        let mut buf = Vec::with_capacity(FLUSH_AT + (1 << 16));
        buf.extend_from_slice(&0xA1B2_C3D4u32.to_le_bytes());
        buf.extend_from_slice(&2u16.to_le_bytes());
        buf.extend_from_slice(&4u16.to_le_bytes());
        buf.extend_from_slice(&0i32.to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        buf.extend_from_slice(&snaplen.to_le_bytes());
        buf.extend_from_slice(&(linktype as u32).to_le_bytes());
        let ends = vec![buf.len()];
        PcapWriter {
            file: Some(file),
            snaplen,
            buf,
            ends,
            on_disk: 0,
            written: 0,
        }
    }

    /// Records appended so far (written or still buffered).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Bytes that reached the file.
    pub fn bytes_on_disk(&self) -> u64 {
        self.on_disk
    }

    /// Append one frame (cut to the snap length); flushes once `FLUSH_AT` bytes are buffered.
    pub fn write(&mut self, ts: f64, data: &[u8], wire_len: u32) -> io::Result<()> {
        let (sec, usec) = split_ts(ts);
        let data = &data[..data.len().min(self.snaplen as usize)];
        self.buf.extend_from_slice(&sec.to_le_bytes());
        self.buf.extend_from_slice(&usec.to_le_bytes());
        self.buf
            .extend_from_slice(&(data.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(&wire_len.to_le_bytes());
        self.buf.extend_from_slice(data);
        self.ends.push(self.buf.len());
        self.written += 1;
        if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    /// Write the buffered records to the file (see the module doc on errors).
    pub fn flush(&mut self) -> io::Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Err(io::Error::other("pcap writer is closed"));
        };
        let mut done = 0;
        while done < self.buf.len() {
            match file.write_some(&self.buf[done..]) {
                Ok(0) => {
                    let err = io::Error::from(io::ErrorKind::WriteZero);
                    return Err(self.cut_back(done, err));
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.cut_back(done, e)),
            }
        }
        self.consume(done);
        Ok(())
    }

    /// Part of a record may have reached the file: end it after the last whole one, and keep
    /// the rest buffered from that record on.
    fn cut_back(&mut self, done: usize, err: io::Error) -> io::Error {
        let kept = self.ends.iter().rev().find(|&&end| end <= done).copied();
        let kept = kept.unwrap_or(0);
        if let Some(file) = self.file.as_mut() {
            // As in pcapio.py the cut is best effort: the write error is what gets reported.
            let _ = file.cut(self.on_disk + kept as u64);
        }
        self.consume(kept);
        err
    }

    fn consume(&mut self, n: usize) {
        self.buf.drain(..n);
        self.on_disk += n as u64;
        self.ends.retain(|&end| end > n);
        for end in &mut self.ends {
            *end -= n;
        }
    }

    /// Flush and close; later calls do nothing. The file is closed even when the flush fails.
    pub fn close(&mut self) -> io::Result<()> {
        if self.file.is_none() {
            return Ok(());
        }
        let result = self.flush();
        self.file = None;
        result
    }
}

/// Seconds and microseconds as pcapio.py computes them: `int(ts)`, then
/// `int(round((ts - sec) * 1e6))` (round half to even), carried into the seconds at 1e6.
pub fn split_ts(ts: f64) -> (u32, u32) {
    let whole = ts.trunc();
    let mut sec = whole as u32;
    let mut usec = ((ts - whole) * 1e6).round_ties_even() as u32;
    if usec >= 1_000_000 {
        sec = sec.wrapping_add(1);
        usec -= 1_000_000;
    }
    (sec, usec)
}

#[cfg(test)]
mod tests;
