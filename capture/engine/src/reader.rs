//! Read pcap and pcapng captures (both byte orders, µs/ns and any `if_tsresol`, several
//! interfaces and sections, gzip-compressed or not, from a file or standard input).
//! Port of `capture.pcapio.CaptureReader`/`open_capture` and `capture.gunzip`.
//!
//! Hand-written rather than built on `pcap-parser`: the Python reader is the specification, to
//! its error texts and corner cases (`MAX_RECORD`, packets of undeclared interfaces, an option
//! length overrunning its block, a 12-byte section header, records cut by the end of the stream
//! yielding those before), which a general parser reports in its own terms; and the walk itself
//! is a few lines over one buffer, so records come out as slices of it with no per-record work
//! beyond reading the 16-byte header.
//!
//! Gzip input goes through `gunzip`/`gzmember`, a call-for-call port of Python 3.11's `GzipFile`
//! read path over `flate2` (zlib-rs backend, whose messages are zlib's): a cut stream gives every
//! record before the cut, and a corrupt one stops where Python's stops (see `gzmember`).

mod feed;
mod gunzip;
mod gzmember;
mod map;
mod pcap;
mod pcapng;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_gzip;
#[cfg(test)]
mod tests_map;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use feed::{Feed, Source};
use gunzip::Gunzip;
use gzmember::strerror;
use map::{Map, MIN_MAP};
use pcap::Pcap;
use pcapng::{Block, Pcapng, SHB};

/// A capture that cannot be read; the message is one line, ready for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureError(pub String);

impl std::fmt::Display for CaptureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CaptureError {}

/// Link type given to a pcapng packet whose interface was never described.
pub const UNDECLARED_INTERFACE: i32 = -1;

/// A record claiming more than this is corrupt (real snap lengths stop at 256 KiB).
pub const MAX_RECORD: usize = 16 << 20;

/// One record: capture time, length on the wire, the captured bytes, link type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Record<'a> {
    pub ts: f64,
    pub wire_len: u32,
    pub data: &'a [u8],
    pub linktype: i32,
}

enum Walker {
    Pcap(Pcap),
    Pcapng(Pcapng, Option<Block>),
    Done,
}

/// Iterates the records of one pcap or pcapng stream. Corruption found after the file header
/// does not fail: `next_record` returns `None` and `error` says what was wrong.
pub struct CaptureReader {
    name: String,
    feed: Feed,
    walker: Walker,
    format: &'static str,
    linktypes: Vec<i32>,
    snaplen: u32,
    error: Option<String>,
    offset: u64,
}

impl CaptureReader {
    /// A file, or standard input for "-" (name "standard input"); errors as `open_capture`'s.
    pub fn open(path: &str) -> Result<CaptureReader, CaptureError> {
        if path == "-" {
            return CaptureReader::from_stream(Box::new(std::io::stdin()), "standard input");
        }
        let fail = |e: std::io::Error| {
            CaptureError(match e.raw_os_error() {
                Some(libc::ENOENT) => format!("{path}: no such file"),
                Some(libc::EACCES | libc::EPERM) => format!("{path}: permission denied"),
                _ => format!("{path}: {}", strerror(&e)),
            })
        };
        if std::fs::metadata(path).map_err(fail)?.is_dir() {
            return Err(CaptureError(format!(
                "{path}: is a directory, not a capture file"
            )));
        }
        let file = File::open(path).map_err(fail)?;
        CaptureReader::from_file(file, path)
    }

    /// A regular file of at least `MIN_MAP` bytes is mapped, unless it is compressed; any
    /// other is read as a stream.
    fn from_file(mut file: File, name: &str) -> Result<CaptureReader, CaptureError> {
        let meta = file.metadata().ok().filter(std::fs::Metadata::is_file);
        let len = meta.map_or(0, |m| m.len());
        let map = if len >= MIN_MAP {
            Map::of(&file, len)
        } else {
            None
        };
        let map = map.filter(|m| m.bytes()[..2] != [0x1f, 0x8b]);
        // The file is read on from the map's end should it grow (see `Feed::unmap`).
        let Some(map) = map.filter(|_| file.seek(SeekFrom::Start(len)).is_ok()) else {
            return CaptureReader::from_stream(Box::new(file), name);
        };
        let head = map.bytes()[..4].to_vec();
        let feed = Feed::mapped(Source::Plain(Box::new(file)), map, head.len());
        CaptureReader::with_feed(feed, &head, name)
    }

    /// A capture read from `stream`, called `name` in messages.
    pub fn from_stream(
        mut stream: Box<dyn Read + Send>,
        name: &str,
    ) -> Result<CaptureReader, CaptureError> {
        let fail = |text: String| CaptureError(format!("{name}: {text}"));
        let head = read_head(&mut stream).map_err(|e| fail(strerror(&e)))?;
        let mut feed;
        let head = if head.len() >= 2 && head[..2] == [0x1f, 0x8b] {
            feed = Feed::new(Source::Gzip(Box::new(Gunzip::new(head, stream))), &[]);
            let got = feed.take(4);
            if let Source::Gzip(gz) = &feed.src {
                if let Some(why) = &gz.failure {
                    return Err(fail(why.clone()));
                }
            }
            feed.bytes(0, got).to_vec()
        } else {
            feed = Feed::new(Source::Plain(stream), &head);
            head
        };
        if let Some(why) = &feed.io_error {
            return Err(fail(why.clone()));
        }
        CaptureReader::with_feed(feed, &head, name)
    }

    /// The reader of a feed whose first bytes, `head`, were read.
    fn with_feed(feed: Feed, head: &[u8], name: &str) -> Result<CaptureReader, CaptureError> {
        let mut reader = CaptureReader {
            name: name.to_string(),
            feed,
            walker: Walker::Done,
            format: "",
            linktypes: Vec::new(),
            snaplen: 0,
            error: None,
            offset: 0,
        };
        reader.start(head)?;
        Ok(reader)
    }

    fn start(&mut self, head: &[u8]) -> Result<(), CaptureError> {
        let name = self.name.as_str();
        if head.is_empty() {
            return Err(CaptureError(format!("{name}: empty file, not a capture")));
        }
        if pcap::magic(head).is_some() {
            let opened = Pcap::open(&mut self.feed, head, name);
            let (layout, snaplen) = opened.map_err(|text| self.open_error(text))?;
            self.linktypes.push(layout.linktype);
            (self.format, self.snaplen, self.walker) = ("pcap", snaplen, Walker::Pcap(layout));
        } else if head == SHB {
            let opened = Pcapng::open(&mut self.feed, name);
            let (walker, first) = opened.map_err(|text| self.open_error(text))?;
            (self.format, self.walker) = ("pcapng", Walker::Pcapng(walker, Some(first)));
        } else {
            let hex: String = head.iter().map(|b| format!("{b:02x}")).collect();
            return Err(CaptureError(format!(
                "{name}: not a pcap or pcapng file (starts with {hex})"
            )));
        }
        Ok(())
    }

    /// An error while opening: an I/O error of the stream (Python's `OSError`) comes first.
    fn open_error(&self, text: String) -> CaptureError {
        let io = self.feed.io_error.as_ref();
        CaptureError(io.map_or(text, |why| format!("{}: {why}", self.name)))
    }

    /// Bytes read from the stream but not handed out yet: when fewer than a record needs, the
    /// next `next_record` reads (and on a pipe may wait for the writer).
    pub fn buffered(&self) -> usize {
        self.feed.avail()
    }

    /// The next record; `None` at the end of the capture or at corruption (then `error()` says
    /// why, in one line).
    #[inline]
    pub fn next_record(&mut self) -> Option<Record<'_>> {
        let name = self.name.as_str();
        let found = match &mut self.walker {
            Walker::Pcap(layout) => layout.next(&mut self.feed, name).map(|r| {
                r.map(|(ts, wire, s, e)| {
                    ((ts, wire, s, e, layout.linktype), self.feed.offset(s - 16))
                })
            }),
            Walker::Pcapng(walker, pending) => {
                walker.next(&mut self.feed, pending, &mut self.linktypes, name)
            }
            Walker::Done => return None,
        };
        match found {
            Ok(Some(((ts, wire_len, s, e, linktype), offset))) => {
                self.offset = offset;
                self.feed.pass(s);
                let data = self.feed.bytes(s, e);
                Some(Record {
                    ts,
                    wire_len,
                    data,
                    linktype,
                })
            }
            Ok(None) => self.finish(None),
            Err(text) => self.finish(Some(text)),
        }
    }

    /// Ends the walk: the stream's own failure (gzip, I/O) takes precedence, as in Python's
    /// `CaptureReader.error`.
    #[cold]
    fn finish(&mut self, text: Option<String>) -> Option<Record<'_>> {
        self.walker = Walker::Done;
        let failure = match &self.feed.src {
            Source::Gzip(gz) => gz.failure.clone(),
            Source::Plain(_) => self.feed.io_error.clone(),
        };
        self.error = failure.map(|why| format!("{}: {why}", self.name)).or(text);
        None
    }

    /// Why reading stopped early (`None` while reading, or when the capture was read to its end).
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// "pcap" or "pcapng".
    pub fn format(&self) -> &'static str {
        self.format
    }

    /// The link types of the interfaces met so far (pcap: its one link type).
    pub fn linktypes(&self) -> &[i32] {
        &self.linktypes
    }

    /// A pcap's snap length (0 for pcapng, as in Python).
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// Byte offset, in the (decompressed) stream, of the record last returned: its pcap record
    /// header, or its pcapng block.
    pub fn record_offset(&self) -> u64 {
        self.offset
    }

    /// The name used in messages (the path, or "standard input").
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Python's `_read_exact(4)` on the raw stream: up to 4 bytes, fewer only at its end.
fn read_head(stream: &mut Box<dyn Read + Send>) -> std::io::Result<Vec<u8>> {
    let mut head = vec![0; 4];
    let mut got = 0;
    while got < 4 {
        match stream.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(got);
    Ok(head)
}
