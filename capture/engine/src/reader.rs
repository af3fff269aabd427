//! Read pcap and pcapng captures (both byte orders, µs/ns and any `if_tsresol`, several
//! interfaces and sections, gzip-compressed or not, from a file or standard input).
//! Python: `capture.pcapio.CaptureReader` and `capture.gunzip`. TO BE PORTED (reader helper).

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

/// One record: capture time, length on the wire, the captured bytes, link type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Record<'a> {
    pub ts: f64,
    pub wire_len: u32,
    pub data: &'a [u8],
    pub linktype: i32,
}
