//! Zeek's view of a TCP connection: `history`, `conn_state`, `orig_bytes` and `resp_bytes`
//! (Python: `capture.zeek`, `capture.zeek_machine`, `capture.zeek_endpoint`).
//!
//! The public API below is fixed (shared with the tracker). `machine` holds the per-segment
//! machinery, `state` the state machine, `endpoint` one side's numbering, sizes and gap
//! detection, `history` the letters.

mod endpoint;
mod history;
mod machine;
mod state;
#[cfg(test)]
mod tests;

use crate::segment::{Segment, ACK, FIN, RST, SYN};
pub use endpoint::STATE_NAMES;
use endpoint::{Endpoint, CLOSED, ESTABLISHED, INACTIVE, PARTIAL, RESET, SYN_ACK_SENT, SYN_SENT};
use history::History;
use machine::Plain;
use state::Timer;

// init-bare's inactivity timeouts (seconds) before and after a handshake completes (TCP
// connections start with udp_inactivity_timeout: TCPAnalyzer::MakeSessionAdapter).
const INACTIVITY_HANDSHAKE: f64 = 60.0;
const INACTIVITY_TCP: f64 = 300.0;
/// At most this many SYN/ACKs are kept waiting for the zeek#2191 flip (see `update`).
const MAX_PENDING_SYNACKS: usize = 8;

// ZeekState::bits
const ORIG_SLOT: u8 = 1; // which of `sides` is the originator (a flip toggles it)
const PARTIAL_CONN: u8 = 2; // TCPSessionAdapter's is_partial
const SYNACK_DONE: u8 = 4; // Python's `_synack is None`: the zeek#2191 flip can no longer happen
const VERIFY: u8 = 8; // verify checksums (Zeek without -C)

/// Zeek's per-connection TCP bookkeeping, fed one segment at a time.
///
/// `history`, `conn_state()`, `orig_bytes` and `resp_bytes` can be read at any time: while the
/// connection is open they are what Zeek would log if it ended now.
#[derive(Clone, Debug)]
pub struct ZeekState {
    /// The two endpoints by slot; `ORIG_SLOT` says which is the originator.
    sides: [Endpoint; 2],
    hist: History,
    bits: u8,
    /// SYN/ACKs that opened the connection from its originator, kept until it is clear whether
    /// Zeek flips the roles (see `update`); None when there are none (or no longer can be).
    /// Boxed: one word in every connection instead of three, for what few need.
    #[allow(clippy::box_collection)]
    synack: Option<Box<Vec<Segment>>>,
    /// Connection::LastTime.
    last_ts: f64,
    /// When the attempt timer fires.
    attempt_at: Timer,
    /// When the delete timer after a full close fires.
    close_at: Timer,
}

impl Default for ZeekState {
    fn default() -> ZeekState {
        ZeekState::new(false)
    }
}

impl ZeekState {
    /// A connection before its first segment; `verify_checksums` as Zeek without `-C`.
    pub fn new(verify_checksums: bool) -> ZeekState {
        ZeekState {
            sides: Default::default(),
            hist: History::default(),
            bits: if verify_checksums { VERIFY } else { 0 },
            synack: None,
            last_ts: 0.0,
            attempt_at: Timer::UNSET,
            close_at: Timer::UNSET,
        }
    }

    /// A connection before its first segment, keeping the checksum setting (Python `_reset`).
    fn reset(&mut self) {
        *self = ZeekState::new(self.bits & VERIFY != 0);
    }

    /// Swap originator and responder (Connection::FlipRoles), recording `^` in the history.
    pub fn flip(&mut self) {
        self.bits ^= ORIG_SLOT;
        self.set_partial_flag(false);
        self.close_synack();
        self.hist.push('^', true);
    }

    /// Account for one segment; true when Zeek swapped originator and responder doing so.
    pub fn update(&mut self, is_orig: bool, seg: &Segment) -> bool {
        if !self.both_closed() {
            self.last_ts = seg.ts;
        }
        let bad_opts = seg.bad_opts.as_deref().is_some_and(|s| !s.is_empty());
        if (bad_opts || seg.truncated) && !seg.header_ok {
            return false;
        }
        if self.bits & VERIFY != 0 && !(seg.ip_checksum_ok && seg.tcp_checksum_ok) {
            if seg.ip_checksum_ok {
                // a bad IPv4 header never reaches TCP: no letter
                self.checksum_error(is_orig);
            }
            self.close_synack();
            return false;
        }
        let flags = seg.flags;
        if self.bits & SYNACK_DONE != 0 {
            if self.both_first_seen() && flags & (FIN | SYN | RST) == 0 {
                let (e, _) = self.slots(is_orig);
                if self.sides[e].state != INACTIVE {
                    self.fast(is_orig, &plain_of(seg));
                    return false;
                }
            }
        } else {
            let pending = self.synack.as_ref().map_or(0, |p| p.len());
            if flags & (SYN | FIN | RST | ACK) == SYN | ACK
                && is_orig
                && pending < MAX_PENDING_SYNACKS
            {
                self.synack
                    .get_or_insert_with(Box::default)
                    .push(seg.clone());
            } else if pending > 0
                && flags & (SYN | FIN | RST) == 0
                && (flags & ACK != 0 || seg.payload_len != 0)
            {
                self.flip_after_synack(is_orig, seg);
                return true;
            } else {
                self.close_synack();
            }
        }
        self.process(is_orig, seg)
    }

    /// Zeek >= 5.1 (zeek/zeek#2191): a connection that opened with a SYN/ACK followed by an ACK
    /// or data, in either direction, is flipped: the SYN/ACK's sender is the server. The history
    /// reads as if the roles had been right from the start.
    fn flip_after_synack(&mut self, is_orig: bool, seg: &Segment) {
        let pending = self.synack.take().unwrap_or_default();
        self.reset();
        self.last_ts = seg.ts;
        self.close_synack();
        self.hist.push('^', true);
        for old in pending.iter() {
            self.process(false, old);
        }
        self.process(!is_orig, seg);
    }

    /// `update` for a segment captured whole with a sound header, with ACK and none of SYN,
    /// FIN, RST, from its numbers alone. False, with nothing changed, when the connection is
    /// not in the state this shortcut covers: then `update` must be given the segment.
    #[allow(clippy::too_many_arguments)]
    pub fn plain(
        &mut self,
        is_orig: bool,
        ts: f64,
        flags: u16,
        length: u32,
        window: u16,
        seq: u32,
        ack: u32,
    ) -> bool {
        if self.bits & (SYNACK_DONE | VERIFY) != SYNACK_DONE || !self.both_first_seen() {
            return false;
        }
        let (e, _) = self.slots(is_orig);
        if self.sides[e].state == INACTIVE {
            return false;
        }
        if !self.both_closed() {
            self.last_ts = ts;
        }
        let s = Plain {
            flags,
            length,
            window,
            seq,
            ack,
            truncated: false,
        };
        self.fast(is_orig, &s);
        true
    }

    /// Connection::LastTime: the last segment's time (frozen once both sides closed).
    pub fn last_ts(&self) -> f64 {
        self.last_ts
    }

    /// Whether Zeek would have removed this connection before a segment at time `ts`.
    ///
    /// Zeek's timers fire before a packet with a later (or equal) timestamp is processed, and
    /// the packet then opens a new connection. Modelled: the attempt timer (an unanswered SYN
    /// after tcp_attempt_delay), the delete timer after a complete close (tcp_close_delay) and
    /// the inactivity timeout (1 min until the handshake is over, then tcp_inactivity_timeout).
    /// Ask before `update(seg)`; if true, give `seg` to a new ZeekState.
    pub fn ended_before(&self, ts: f64) -> bool {
        if self.close_at.fired(ts) {
            return true;
        }
        let (o, r) = (self.orig(), self.resp());
        if self.attempt_at.fired(ts)
            && matches!(o.state, SYN_SENT | SYN_ACK_SENT)
            && r.state == INACTIVE
        {
            return true;
        }
        // TCP_Endpoint::SetState switches to tcp_inactivity_timeout when a side leaves the
        // handshake states (INACTIVE, SYN_SENT, SYN_ACK_SENT).
        let done = o.state.max(r.state).max(o.prev_state).max(r.prev_state) > SYN_ACK_SENT;
        let timeout = if done {
            INACTIVITY_TCP
        } else {
            INACTIVITY_HANDSHAKE
        };
        ts - self.last_ts >= timeout
    }

    /// TCPSessionAdapter::IsReuse: whether this SYN starts a new connection on the 4-tuple.
    ///
    /// Only a SYN can (a SYN/ACK only while the originator is silent): once a side has closed,
    /// any; before that, one whose number is not the originator's first.
    pub fn is_reuse(&self, seg: &Segment) -> bool {
        let flags = seg.flags;
        let bad_opts = seg.bad_opts.as_deref().is_some_and(|s| !s.is_empty());
        if flags & SYN == 0 || (bad_opts && !seg.header_ok) {
            return false;
        }
        let (o, r) = (self.orig(), self.resp());
        let mut first = o;
        if flags & ACK != 0 {
            if o.state != INACTIVE {
                return false; // not a half connection
            }
            first = r;
        }
        if o.did_close() || r.did_close() {
            return true;
        }
        if seg.seq == first.start_seq {
            return false;
        }
        // a SYN that belongs to a SYN/ACK seen first (reordered capture) is the same connection
        flags & ACK != 0
            || first.state != SYN_ACK_SENT
            || r.state != INACTIVE
            || seg.seq != r.start_seq
    }

    /// Zeek's `history` so far.
    pub fn history(&self) -> &str {
        self.hist.as_str()
    }

    /// Zeek's `conn_state` (main.zeek conn_state()) for the endpoint states reached so far.
    pub fn conn_state(&self) -> &'static str {
        let (os, rs) = (self.orig().state, self.resp().state);
        let o_inactive = matches!(os, INACTIVE | PARTIAL);
        let r_inactive = matches!(rs, INACTIVE | PARTIAL);
        if rs == RESET {
            if matches!(os, SYN_SENT | SYN_ACK_SENT)
                || (os == RESET && self.orig_bytes() == 0 && self.resp_bytes() == 0)
            {
                return "REJ";
            }
            return if o_inactive { "RSTRH" } else { "RSTR" };
        }
        if os == RESET {
            if r_inactive {
                return if rstos0_history(self.history()) {
                    "RSTOS0"
                } else {
                    "OTH"
                };
            }
            return "RSTO";
        }
        match (os, rs) {
            (CLOSED, CLOSED) => "SF",
            (CLOSED, _) if r_inactive => "SH",
            (CLOSED, _) => "S2",
            (_, CLOSED) if o_inactive => "SHR",
            (_, CLOSED) => "S3",
            (SYN_SENT, INACTIVE) => "S0",
            (ESTABLISHED, ESTABLISHED) => "S1",
            _ => "OTH",
        }
    }

    /// Originator payload bytes as Zeek logs them (from sequence numbers, not bytes seen).
    pub fn orig_bytes(&self) -> u64 {
        self.orig().size(self.resp().state)
    }

    /// Responder payload bytes as Zeek logs them.
    pub fn resp_bytes(&self) -> u64 {
        self.resp().size(self.orig().state)
    }

    /// Zeek's endpoint state of the originator (`ESTABLISHED` ... without the `TCP_` prefix).
    pub fn orig_state(&self) -> &'static str {
        STATE_NAMES[usize::from(self.orig().state)]
    }

    /// Zeek's endpoint state of the responder.
    pub fn resp_state(&self) -> &'static str {
        STATE_NAMES[usize::from(self.resp().state)]
    }

    // -- helpers shared by the submodules ------------------------------------------------------

    /// The slots of the sender and of its peer.
    fn slots(&self, is_orig: bool) -> (usize, usize) {
        let o = usize::from(self.bits & ORIG_SLOT);
        if is_orig {
            (o, o ^ 1)
        } else {
            (o ^ 1, o)
        }
    }

    fn orig(&self) -> &Endpoint {
        &self.sides[self.slots(true).0]
    }

    fn resp(&self) -> &Endpoint {
        &self.sides[self.slots(false).0]
    }

    fn both_closed(&self) -> bool {
        self.sides[0].did_close() && self.sides[1].did_close()
    }

    fn both_first_seen(&self) -> bool {
        self.sides[0].first_seen() && self.sides[1].first_seen()
    }

    fn partial(&self) -> bool {
        self.bits & PARTIAL_CONN != 0
    }

    fn set_partial_flag(&mut self, on: bool) {
        if on {
            self.bits |= PARTIAL_CONN;
        } else {
            self.bits &= !PARTIAL_CONN;
        }
    }

    /// The zeek#2191 flip can no longer happen: drop the kept SYN/ACKs.
    fn close_synack(&mut self) {
        self.bits |= SYNACK_DONE;
        self.synack = None;
    }

    /// TCP_Endpoint::ChecksumError(): history C, logarithmic.
    fn checksum_error(&mut self, is_orig: bool) {
        let (e, _) = self.slots(is_orig);
        self.hist
            .scaled(&mut self.sides[e], is_orig, history::Scaled::C);
    }
}

fn plain_of(seg: &Segment) -> Plain {
    Plain {
        flags: seg.flags,
        length: seg.payload_len,
        window: seg.window,
        seq: seg.seq,
        ack: seg.ack,
        truncated: seg.truncated,
    }
}

/// main.zeek conn_state(): an originator RST with no answer is RSTOS0 only for a history that
/// fully matches `\^?S[^HAFGIQ]*R.*`: an R after the S before any of H, A, F, G, I, Q.
fn rstos0_history(history: &str) -> bool {
    let rest = history.strip_prefix('^').unwrap_or(history);
    let Some(rest) = rest.strip_prefix('S') else {
        return false;
    };
    for c in rest.chars() {
        match c {
            'R' => return true,
            'H' | 'A' | 'F' | 'G' | 'I' | 'Q' => return false,
            _ => {}
        }
    }
    false
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
