//! Zeek's view of a TCP connection: `history`, `conn_state`, `orig_bytes` and `resp_bytes`
//! (Python: `capture.zeek`, `capture.zeek_machine`, `capture.zeek_endpoint`).
//!
//! THE API BELOW IS FIXED; the bodies are placeholders until the port lands (zeek helper).

use crate::segment::{Segment, ACK, SYN};

/// Zeek's per-connection TCP bookkeeping, fed one segment at a time.
#[derive(Clone, Debug, Default)]
pub struct ZeekState {
    verify: bool,
    history: String,
}

impl ZeekState {
    /// A connection before its first segment; `verify_checksums` as Zeek without `-C`.
    pub fn new(verify_checksums: bool) -> ZeekState {
        ZeekState {
            verify: verify_checksums,
            history: String::new(),
        }
    }

    /// Swap originator and responder (Connection::FlipRoles), recording `^` in the history.
    pub fn flip(&mut self) {
        self.history.push('^');
    }

    /// Account for one segment; true when Zeek swapped originator and responder doing so.
    pub fn update(&mut self, _is_orig: bool, _seg: &Segment) -> bool {
        false
    }

    /// `update` for a segment captured whole with a sound header, with ACK and none of SYN,
    /// FIN, RST, from its numbers alone. False, with nothing changed, when the connection is
    /// not in the state this shortcut covers: then `update` must be given the segment.
    #[allow(clippy::too_many_arguments)]
    pub fn plain(
        &mut self,
        _is_orig: bool,
        _ts: f64,
        _flags: u16,
        _length: u32,
        _window: u16,
        _seq: u32,
        _ack: u32,
    ) -> bool {
        let _ = self.verify;
        false
    }

    /// Connection::LastTime: the last segment's time (frozen once both sides closed).
    pub fn last_ts(&self) -> f64 {
        0.0
    }

    /// Whether Zeek would have removed this connection before a segment at time `ts`.
    pub fn ended_before(&self, _ts: f64) -> bool {
        false
    }

    /// TCPSessionAdapter::IsReuse: whether this SYN starts a new connection on the 4-tuple.
    pub fn is_reuse(&self, _seg: &Segment) -> bool {
        false
    }

    /// Zeek's `history` so far.
    pub fn history(&self) -> &str {
        &self.history
    }

    /// Zeek's `conn_state` for the endpoint states reached so far.
    pub fn conn_state(&self) -> &'static str {
        "OTH"
    }

    /// Originator payload bytes as Zeek logs them (from sequence numbers, not bytes seen).
    pub fn orig_bytes(&self) -> u64 {
        0
    }

    /// Responder payload bytes as Zeek logs them.
    pub fn resp_bytes(&self) -> u64 {
        0
    }

    /// Zeek's endpoint state names (`ESTABLISHED` ... without the `TCP_` prefix).
    pub fn orig_state(&self) -> &'static str {
        "INACTIVE"
    }

    pub fn resp_state(&self) -> &'static str {
        "INACTIVE"
    }
}

/// Zeek's default `likely_server_ports` (TCP ports of the scripts loaded by default).
pub const LIKELY_SERVER_PORTS: [u16; 48] = [
    135, 20000, 53, 79, 21, 2811, 80, 81, 631, 1080, 3128, 8000, 8080, 8888, 143, 6666, 6667, 6668,
    6669, 88, 389, 3268, 502, 1883, 1434, 3306, 110, 5432, 3389, 6379, 139, 445, 25, 587, 22, 5222,
    5269, 443, 563, 585, 614, 636, 989, 990, 992, 993, 995, 5223,
];

/// Whether Zeek makes the *receiver* of a connection's first segment its originator
/// (TCPAnalyzer::WantConnection; see the Python docstring).
/// Only a first segment that is not a plain SYN is a candidate, and then only when its source
/// port is a likely server port; if both ports are, Zeek flips only a non-SYN segment whose source
/// port is the lower one (a SYN/ACK may be a stealth scan's reply).
pub fn initial_flip(seg: &Segment) -> bool {
    let flags = seg.flags;
    if flags & SYN != 0 && flags & ACK == 0 {
        return false;
    }
    if !LIKELY_SERVER_PORTS.contains(&seg.sport) {
        return false;
    }
    if LIKELY_SERVER_PORTS.contains(&seg.dport) {
        return flags & SYN == 0 && seg.sport < seg.dport;
    }
    true
}
