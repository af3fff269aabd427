//! Python 3.11's `gzip._GzipReader` (with its `_PaddedFile` and tcpwatch's `_Prefixed`): gzip
//! members, each a header, a raw deflate stream checked by CRC-32 and length, then optional zero
//! padding. Ported call for call because *where* a corrupt stream stops depends on it: Python
//! feeds zlib one `io.DEFAULT_BUFFER_SIZE` (8 KiB) window of compressed bytes per read, into an
//! output buffer grown block by block (`pycore_blocks_output_buffer.h`), and drops the whole
//! read's output when zlib reports an error.

use std::io::Read;

use flate2::{Crc, Decompress, FlushDecompress, Status};

/// Compressed bytes handed to zlib per read (Python's `io.DEFAULT_BUFFER_SIZE`).
const WINDOW: usize = 8192;
const KB: usize = 1 << 10;
const MB: usize = 1 << 20;
/// `BUFFER_BLOCK_SIZE` of CPython's blocks output buffer: each zlib call's output space.
const BLOCKS: [usize; 17] = [
    32 * KB,
    64 * KB,
    256 * KB,
    MB,
    4 * MB,
    8 * MB,
    16 * MB,
    16 * MB,
    32 * MB,
    32 * MB,
    32 * MB,
    32 * MB,
    64 * MB,
    64 * MB,
    128 * MB,
    128 * MB,
    256 * MB,
];
const FHCRC: u8 = 2;
const FEXTRA: u8 = 4;
const FNAME: u8 = 8;
const FCOMMENT: u8 = 16;

/// Why a gzip read failed, as Python raises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GzError {
    /// `EOFError`: the stream ended inside a member.
    Eof,
    /// `OSError` (including `BadGzipFile`) or `zlib.error`, with its text.
    Bad(String),
}

/// `str(OSError)` for an I/O error: "[Errno 5] Input/output error".
pub(crate) fn os_error_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => format!("[Errno {code}] {}", strerror(e)),
        None => e.to_string(),
    }
}

/// The C library's text for an OS error (Rust appends " (os error N)" to it).
pub(crate) fn strerror(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Python's `repr(bytes)`.
pub(crate) fn py_bytes_repr(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = String::from("b");
    out.push(quote as char);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            _ if c == quote => {
                out.push('\\');
                out.push(c as char);
            }
            0x20..=0x7e => out.push(c as char),
            _ => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push(quote as char);
    out
}

/// tcpwatch's `_Prefixed` over the raw stream: the already-read `head` first (a short read while
/// it lasts), then the raw stream read as a buffered Python file does (all `n` bytes unless it
/// ends).
struct Compressed {
    head: Vec<u8>,
    head_pos: usize,
    raw: Box<dyn Read + Send>,
}

impl Compressed {
    fn read(&mut self, n: usize, out: &mut Vec<u8>) -> Result<(), GzError> {
        if self.head_pos < self.head.len() {
            let k = n.min(self.head.len() - self.head_pos);
            out.extend_from_slice(&self.head[self.head_pos..self.head_pos + k]);
            self.head_pos += k;
            return Ok(());
        }
        let start = out.len();
        out.resize(start + n, 0);
        let mut got = 0;
        while got < n {
            match self.raw.read(&mut out[start + got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    out.truncate(start);
                    return Err(GzError::Bad(os_error_text(&e)));
                }
            }
        }
        out.truncate(start + got);
        Ok(())
    }
}

/// `gzip._PaddedFile`: bytes pushed back (`prepend`) are read again before the file.
struct Padded {
    back: Vec<u8>,
    back_pos: usize,
    file: Compressed,
}

impl Padded {
    fn read(&mut self, size: usize, out: &mut Vec<u8>) -> Result<(), GzError> {
        let rest = self.back.len() - self.back_pos;
        if rest >= size {
            out.extend_from_slice(&self.back[self.back_pos..self.back_pos + size]);
            self.back_pos += size;
            return Ok(());
        }
        out.extend_from_slice(&self.back[self.back_pos..]);
        self.back.clear();
        self.back_pos = 0;
        self.file.read(size - rest, out)
    }

    fn read_vec(&mut self, size: usize) -> Result<Vec<u8>, GzError> {
        let mut out = Vec::with_capacity(size);
        self.read(size, &mut out)?;
        Ok(out)
    }

    /// `gzip._read_exact`: exactly `n` bytes or `EOFError`.
    fn read_exact(&mut self, n: usize) -> Result<Vec<u8>, GzError> {
        let mut data = self.read_vec(n)?;
        while data.len() < n {
            let before = data.len();
            self.read(n - before, &mut data)?;
            if data.len() == before {
                return Err(GzError::Eof);
            }
        }
        Ok(data)
    }

    fn prepend(&mut self, data: &[u8]) {
        let mut back = data.to_vec();
        back.extend_from_slice(&self.back[self.back_pos..]);
        self.back = back;
        self.back_pos = 0;
    }
}

/// `gzip._GzipReader`: the decompressed bytes of every member, read by `read(size)`.
pub(crate) struct GzReader {
    fp: Padded,
    dec: Decompress,
    dec_eof: bool,
    new_member: bool,
    crc: Crc,
    stream_size: u64,
    window: Vec<u8>,
}

impl GzReader {
    /// A reader of the gzip stream `head` + the rest of `raw`.
    pub(crate) fn new(head: Vec<u8>, raw: Box<dyn Read + Send>) -> GzReader {
        let file = Compressed {
            head,
            head_pos: 0,
            raw,
        };
        GzReader {
            fp: Padded {
                back: Vec::new(),
                back_pos: 0,
                file,
            },
            dec: Decompress::new(false),
            dec_eof: false,
            new_member: true,
            crc: Crc::new(),
            stream_size: 0,
            window: Vec::with_capacity(WINDOW),
        }
    }

    /// `_GzipReader.read(len(dst))` into `dst`: some bytes, 0 at the end of the last member.
    pub(crate) fn read(&mut self, dst: &mut [u8]) -> Result<usize, GzError> {
        if dst.is_empty() {
            return Ok(0);
        }
        loop {
            if self.dec_eof {
                self.read_eof()?;
                self.new_member = true;
                self.dec = Decompress::new(false);
                self.dec_eof = false;
            }
            if self.new_member {
                self.crc = Crc::new();
                self.stream_size = 0;
                if !self.read_header()? {
                    return Ok(0);
                }
                self.new_member = false;
            }
            let mut window = std::mem::take(&mut self.window);
            window.clear();
            let read = self.fp.read(WINDOW, &mut window);
            let result = read.and_then(|()| self.decompress(&window, dst));
            if let Ok((_, used)) = result {
                if used < window.len() {
                    self.fp.prepend(&window[used..]);
                }
            }
            let empty = window.is_empty();
            self.window = window;
            let (n, _) = result?;
            if n > 0 {
                self.crc.update(&dst[..n]);
                self.stream_size += n as u64;
                return Ok(n);
            }
            if empty {
                return Err(GzError::Eof);
            }
        }
    }

    /// `zlib.Decompress.decompress(data, max_length=len(out))`: (bytes written, input used).
    fn decompress(&mut self, data: &[u8], out: &mut [u8]) -> Result<(usize, usize), GzError> {
        let max = out.len();
        let (mut allocated, mut blocks) = (BLOCKS[0].min(max), 1);
        let (mut written, mut used) = (0, 0);
        loop {
            if written == allocated {
                if written == max {
                    break;
                }
                allocated += BLOCKS[blocks.min(BLOCKS.len() - 1)].min(max - allocated);
                blocks += 1;
            }
            let (in0, out0) = (self.dec.total_in(), self.dec.total_out());
            let status = self.dec.decompress(
                &data[used..],
                &mut out[written..allocated],
                FlushDecompress::Sync,
            );
            used += (self.dec.total_in() - in0) as usize;
            written += (self.dec.total_out() - out0) as usize;
            match status {
                Ok(Status::StreamEnd) => {
                    self.dec_eof = true;
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    let why = e.message().unwrap_or("invalid input data");
                    return Err(GzError::Bad(format!(
                        "Error -3 while decompressing data: {why}"
                    )));
                }
            }
            if written < allocated {
                break;
            }
        }
        Ok((written, used))
    }

    /// `gzip._read_gzip_header`: false at the clean end of the stream.
    fn read_header(&mut self) -> Result<bool, GzError> {
        let magic = self.fp.read_vec(2)?;
        if magic.is_empty() {
            return Ok(false);
        }
        if magic != [0x1f, 0x8b] {
            let shown = py_bytes_repr(&magic);
            return Err(GzError::Bad(format!("Not a gzipped file ({shown})")));
        }
        let head = self.fp.read_exact(8)?;
        if head[0] != 8 {
            return Err(GzError::Bad("Unknown compression method".into()));
        }
        let flag = head[1];
        if flag & FEXTRA != 0 {
            let len = self.fp.read_exact(2)?;
            self.fp
                .read_exact(u16::from_le_bytes([len[0], len[1]]) as usize)?;
        }
        for field in [FNAME, FCOMMENT] {
            if flag & field != 0 {
                loop {
                    let s = self.fp.read_vec(1)?;
                    if s.is_empty() || s[0] == 0 {
                        break;
                    }
                }
            }
        }
        if flag & FHCRC != 0 {
            self.fp.read_exact(2)?;
        }
        Ok(true)
    }

    /// `_GzipReader._read_eof`: the member's CRC-32 and length, then skip zero padding.
    fn read_eof(&mut self) -> Result<(), GzError> {
        let t = self.fp.read_exact(8)?;
        let crc32 = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
        let isize = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
        let ours = self.crc.sum();
        if crc32 != ours {
            return Err(GzError::Bad(format!(
                "CRC check failed {crc32:#x} != {ours:#x}"
            )));
        }
        if isize as u64 != self.stream_size & 0xffff_ffff {
            return Err(GzError::Bad("Incorrect length of data produced".into()));
        }
        loop {
            let c = self.fp.read_vec(1)?;
            if c != [0] {
                if !c.is_empty() {
                    self.fp.prepend(&c);
                }
                return Ok(());
            }
        }
    }
}
