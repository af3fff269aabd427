//! tcpwatch's `capture.gunzip.Gunzip`: a gzip stream read through Python's `GzipFile`, whose
//! `read`/`read1` go through an `io.BufferedReader` (8 KiB) over `_GzipReader`. A failure (cut
//! or corrupt stream) makes every later read return nothing and is kept in `failure`.

use std::io::Read;

use super::gzmember::{GzError, GzReader};

/// `io.DEFAULT_BUFFER_SIZE`: the `BufferedReader`'s buffer.
const BUFFER: usize = 8192;

/// `io.BufferedReader(_GzipReader)` (CPython's C implementation, read side only).
struct Buffered {
    raw: GzReader,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
}

impl Buffered {
    /// `BufferedReader.read(len(dst))`: all of `dst` unless the stream ends; on an error the
    /// bytes gathered by this call are lost, as in `_bufferedreader_read_generic`.
    fn read(&mut self, dst: &mut [u8]) -> Result<usize, GzError> {
        let n = dst.len();
        let have = self.end - self.pos;
        if n <= have {
            dst.copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        dst[..have].copy_from_slice(&self.buf[self.pos..self.end]);
        let (mut written, mut remaining) = (have, n - have);
        (self.pos, self.end) = (0, 0);
        // MINUS_LAST_BLOCK: whole buffer-sized blocks go straight to the caller.
        while remaining >= BUFFER {
            let r = remaining & !(BUFFER - 1);
            let got = self.raw.read(&mut dst[written..written + r])?;
            if got == 0 {
                return Ok(written);
            }
            remaining -= got;
            written += got;
        }
        while remaining > 0 && self.end < BUFFER {
            let got = self.raw.read(&mut self.buf[self.end..BUFFER])?;
            if got == 0 {
                return Ok(written);
            }
            self.end += got;
            let k = got.min(remaining);
            dst[written..written + k].copy_from_slice(&self.buf[self.pos..self.pos + k]);
            (written, remaining, self.pos) = (written + k, remaining - k, self.pos + k);
        }
        Ok(written)
    }

    /// `BufferedReader.read1(len(dst))`: buffered bytes if any, else one raw read.
    fn read1(&mut self, dst: &mut [u8]) -> Result<usize, GzError> {
        let have = self.end - self.pos;
        if have > 0 {
            let k = have.min(dst.len());
            dst[..k].copy_from_slice(&self.buf[self.pos..self.pos + k]);
            self.pos += k;
            return Ok(k);
        }
        (self.pos, self.end) = (0, 0);
        self.raw.read(dst)
    }
}

/// The decompressed bytes of a gzip stream whose first bytes, `head`, were already read.
pub(crate) struct Gunzip {
    inner: Buffered,
    /// Why the stream ended early (`None` while it is fine), as `Gunzip.failure`.
    pub(crate) failure: Option<String>,
}

impl Gunzip {
    pub(crate) fn new(head: Vec<u8>, raw: Box<dyn Read + Send>) -> Gunzip {
        let inner = Buffered {
            raw: GzReader::new(head, raw),
            buf: vec![0; BUFFER],
            pos: 0,
            end: 0,
        };
        Gunzip {
            inner,
            failure: None,
        }
    }

    /// `Gunzip.read(len(dst))`: 0 at the end or at a failure.
    pub(crate) fn read(&mut self, dst: &mut [u8]) -> usize {
        let result = if self.failure.is_some() {
            Ok(0)
        } else {
            self.inner.read(dst)
        };
        self.settle(result)
    }

    /// `Gunzip.read1(len(dst))`: what is available, 0 at the end or at a failure.
    pub(crate) fn read1(&mut self, dst: &mut [u8]) -> usize {
        let result = if self.failure.is_some() {
            Ok(0)
        } else {
            self.inner.read1(dst)
        };
        self.settle(result)
    }

    fn settle(&mut self, result: Result<usize, GzError>) -> usize {
        match result {
            Ok(n) => n,
            Err(GzError::Eof) => {
                self.failure = Some("compressed capture cut short".into());
                0
            }
            Err(GzError::Bad(why)) => {
                let why = why.split_ascii_whitespace().collect::<Vec<_>>().join(" ");
                self.failure = Some(format!("corrupt compressed capture ({why})"));
                0
            }
        }
    }
}
