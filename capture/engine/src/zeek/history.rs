//! Connection::history and the letters' bookkeeping (Python: the history parts of
//! `capture.zeek_machine`).

use super::endpoint::Endpoint;

// Conn.h: masks of Connection::hist_seen; the responder's are shifted left by 16.
pub(crate) const HIST_SYN: u32 = 0x1;
pub(crate) const HIST_FIN: u32 = 0x2;
pub(crate) const HIST_RST: u32 = 0x4;
pub(crate) const HIST_FIN_RST: u32 = 0x8;
pub(crate) const HIST_DATA: u32 = 0x10;
pub(crate) const HIST_ACK: u32 = 0x20;
pub(crate) const HIST_MULTI: u32 = 0x40;

/// Letters counted on a logarithmic scale (indexes into `Endpoint::scaled`).
#[derive(Clone, Copy)]
pub(crate) enum Scaled {
    C = 0,
    T = 1,
    W = 2,
    G = 3,
}

const SCALED_CODES: [char; 4] = ['C', 'T', 'W', 'G'];

/// Room for the letters of nearly every history ("ShADadFf"), made with the first one.
const ROOM: usize = 16;

/// Zeek's `history` text and Connection::hist_seen (not swapped by a flip, as in Zeek).
#[derive(Clone, Debug, Default)]
pub(crate) struct History {
    /// A flow holds one (a pointer here, small); letters come one at a time, so the string
    /// has room to grow rather than an exact length (which cost a reallocation per letter).
    /// Boxed: a bare String would take ZeekState past its budget (`state_is_small`).
    #[allow(clippy::box_collection)]
    text: Option<Box<String>>,
    seen: u32,
}

impl History {
    pub fn as_str(&self) -> &str {
        self.text.as_deref().map_or("", String::as_str)
    }

    /// Append one letter, upper case for the originator.
    pub fn push(&mut self, code: char, is_orig: bool) {
        let text = self
            .text
            .get_or_insert_with(|| Box::new(String::with_capacity(ROOM)));
        text.push(if is_orig {
            code
        } else {
            code.to_ascii_lowercase()
        });
    }

    /// Connection::CheckHistory: record `code` the first time; true if seen before.
    pub fn check(&mut self, is_orig: bool, mask: u32, code: char) -> bool {
        let mask = if is_orig { mask } else { mask << 16 };
        if self.seen & mask != 0 {
            return true;
        }
        self.seen |= mask;
        self.push(code, is_orig);
        false
    }

    /// Connection::ScaledHistoryEntry: a letter at the 1st, 10th, 100th ... occurrence.
    pub fn scaled(&mut self, ep: &mut Endpoint, is_orig: bool, kind: Scaled) {
        let counters = ep
            .scaled
            .get_or_insert_with(|| Box::new([0, 0, 0, 0, 1, 1, 1, 1]));
        let k = kind as usize;
        let mut count = counters[k] + 1;
        let threshold = counters[k + 4];
        if count == threshold {
            self.push(SCALED_CODES[k], is_orig);
            if u64::from(threshold) * 10 > u64::from(u32::MAX) {
                count = 0; // the uint32 threshold would wrap: Zeek restarts the count
            } else {
                counters[k + 4] = threshold * 10;
            }
        }
        counters[k] = count;
    }
}
