//! The bytes of a capture stream in one growing buffer: records are handed out as slices of it.
//!
//! Two ways to read, as the Python reader has: `take(n)` is `CaptureReader._read_exact(n)` (file
//! headers, pcapng blocks), `refill(need)` is `pcapio._refill` with `read1` (pcap records: what
//! is available, so a pipe is never waited on for more than the record needs).
//!
//! A plain stream may be read ahead in large chunks: the result cannot differ. A gzip stream is
//! read with exactly Python's calls (no read-ahead in `take`), since where a corrupt stream stops
//! depends on them (see `gunzip`).

use std::io::{ErrorKind, Read};

use super::gunzip::Gunzip;
use super::gzmember::strerror;
use super::map::Map;

/// Bytes read between two givings-back of a mapped file's pages.
const DISCARD_EVERY: usize = 4 << 20;

/// Python's `pcapio.CHUNK`: the size of a refill read.
pub(crate) const CHUNK: usize = 1 << 20;

/// Where the bytes come from.
pub(crate) enum Source {
    /// A file or pipe, uncompressed.
    Plain(Box<dyn Read + Send>),
    /// A gzip stream, through Python's layers.
    Gzip(Box<Gunzip>),
}

/// The buffer: `buf[start..end]` holds data still needed, `cur` is the stream's read position.
/// A mapped file is its own buffer: `map` stands for `buf` until its end is reached.
pub(crate) struct Feed {
    buf: Vec<u8>,
    map: Option<Map>,
    /// How far the map's pages were given back (`Map::discard`).
    discarded: usize,
    start: usize,
    pub(crate) cur: usize,
    end: usize,
    /// Offset in the stream of `buf[0]`.
    base: u64,
    pub(crate) src: Source,
    /// An I/O error that ended a plain stream (the C library's text).
    pub(crate) io_error: Option<String>,
}

impl Feed {
    /// A feed whose first bytes, already read, are `head` (consumed: `cur` is after them).
    pub(crate) fn new(src: Source, head: &[u8]) -> Feed {
        let mut buf = head.to_vec();
        buf.resize(head.len().max(4096), 0);
        Feed {
            buf,
            map: None,
            discarded: 0,
            start: 0,
            cur: head.len(),
            end: head.len(),
            base: 0,
            src,
            io_error: None,
        }
    }

    /// A feed over a mapped file whose first `head` bytes were read already; `src` reads the
    /// file on from the end of the map (what was appended since it was made).
    pub(crate) fn mapped(src: Source, map: Map, head: usize) -> Feed {
        let end = map.bytes().len();
        Feed {
            buf: Vec::new(),
            map: Some(map),
            discarded: 0,
            start: 0,
            cur: head.min(end),
            end,
            base: 0,
            src,
            io_error: None,
        }
    }

    /// The bytes from `from` (an index got from `cur`) to `to`.
    #[inline]
    pub(crate) fn bytes(&self, from: usize, to: usize) -> &[u8] {
        match &self.map {
            Some(map) => &map.bytes()[from..to],
            None => &self.buf[from..to],
        }
    }

    /// Bytes available after `cur`.
    #[inline]
    pub(crate) fn avail(&self) -> usize {
        self.end - self.cur
    }

    /// Stream offset of the buffer index `at`.
    pub(crate) fn offset(&self, at: usize) -> u64 {
        self.base + at as u64
    }

    /// A mapped file's pages before `at` (a record about to be handed out starts there) are
    /// given back every `DISCARD_EVERY` bytes read.
    #[inline]
    pub(crate) fn pass(&mut self, at: usize) {
        if at >= self.discarded + DISCARD_EVERY {
            if let Some(map) = &self.map {
                map.discard(self.discarded, at);
                self.discarded = at;
            }
        }
    }

    /// Forget the bytes before `cur` (indices from before move).
    pub(crate) fn release(&mut self) {
        self.start = self.cur;
    }

    /// `_read_exact(n)`: advance `cur` by up to `n` bytes (fewer only at the end); the bytes
    /// are then `bytes(cur - got, cur)`.
    pub(crate) fn take(&mut self, n: usize) -> usize {
        while self.avail() < n {
            let got = match &self.src {
                Source::Gzip(_) => self.fill(n - self.avail(), false),
                Source::Plain(_) => self.fill(CHUNK.max(n - self.avail()), true),
            };
            if got == 0 {
                break;
            }
        }
        let got = n.min(self.avail());
        self.cur += got;
        got
    }

    /// `_refill(read1, buf, pos, need)`: at least `need` bytes after `cur` unless the stream
    /// ends; the bytes before `cur` are released.
    pub(crate) fn refill(&mut self, need: usize) {
        self.release();
        while self.avail() < need {
            if self.fill(CHUNK.max(need - self.avail()), true) == 0 {
                break;
            }
        }
    }

    /// One `read(size)` (or `read1(size)`) appended at `end`: the count, 0 at the end.
    fn fill(&mut self, size: usize, one: bool) -> usize {
        self.unmap();
        self.room(size);
        let dst = &mut self.buf[self.end..self.end + size];
        let got = match &mut self.src {
            Source::Gzip(gz) if one => gz.read1(dst),
            Source::Gzip(gz) => gz.read(dst),
            Source::Plain(raw) => read_some(raw, dst, &mut self.io_error),
        };
        self.end += got;
        got
    }

    /// At the end of a map: its bytes still needed move to `buf` (indices move as in `room`),
    /// and reading goes on from the file, as a `read` of a growing file would.
    #[cold]
    fn unmap(&mut self) {
        let Some(map) = self.map.take() else {
            return;
        };
        self.buf = map.bytes()[self.start..self.end].to_vec();
        self.base += self.start as u64;
        (self.cur, self.end) = (self.cur - self.start, self.end - self.start);
        self.start = 0;
    }

    /// Room for `size` bytes after `end`, moving the needed bytes to the front first.
    fn room(&mut self, size: usize) {
        if self.buf.len() - self.end >= size {
            return;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            (self.cur, self.end) = (self.cur - self.start, self.end - self.start);
            self.start = 0;
        }
        if self.buf.len() - self.end < size {
            self.buf.resize(self.end + size, 0);
        }
    }
}

/// One `read` of a plain stream (what a pipe has, a chunk of a file); 0 at its end or at an
/// I/O error (kept in `error`).
fn read_some(raw: &mut Box<dyn Read + Send>, dst: &mut [u8], error: &mut Option<String>) -> usize {
    if error.is_some() {
        return 0;
    }
    loop {
        match raw.read(dst) {
            Ok(n) => return n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                *error = Some(strerror(&e));
                return 0;
            }
        }
    }
}
