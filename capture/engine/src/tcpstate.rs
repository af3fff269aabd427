//! RFC 9293 endpoint states, as a passive observer's segments show them (Python:
//! `capture.tcpstate`; its module docstring states the rules).

use crate::segment::{Segment, ACK, FIN, RST, SYN};

/// An endpoint's state; `Unknown` when nothing has been seen of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum TcpState {
    #[default]
    Unknown = 0,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
    Closed,
}

impl TcpState {
    /// The RFC 9293 name, as every output writes it (`SYN_SENT`, `TIME_WAIT` ...).
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Unknown => "UNKNOWN",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynReceived => "SYN_RECEIVED",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN_WAIT_1",
            TcpState::FinWait2 => "FIN_WAIT_2",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST_ACK",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Closed => "CLOSED",
        }
    }
}

/// Which end of a flow: the originator or the responder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Orig,
    Resp,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Orig => "orig",
            Side::Resp => "resp",
        }
    }
}

/// One endpoint changing state: the data behind the per-flow ladder.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transition {
    pub ts: f64,
    pub frame_no: u64,
    pub side: Side,
    pub old: TcpState,
    pub new: TcpState,
}

/// Transitions kept per flow; a normal connection makes about ten, an RST storm makes none.
pub const MAX_TRANSITIONS: usize = 64;
/// Transitions of an ordinary connection, handshake to teardown (the log's first room): about
/// ten, so that most logs never grow.
const TYPICAL_MOVES: usize = 12;
pub const MASK: u32 = 0xFFFF_FFFF;
pub const HALF: u32 = 0x8000_0000;

/// `a >= b` in 32-bit sequence space (RFC 9293 §3.4, modulo 2**32).
pub fn seq_ge(a: u32, b: u32) -> bool {
    a.wrapping_sub(b) < HALF
}

// ---------------------------------------------------------------------------------------------
// The observer's rules (Python: `capture.tcpstate.advance` and its helpers).

/// What the observer knows of one endpoint's TCP state (Python: `tcpstate.Endpoint`).
#[derive(Clone, Debug, PartialEq)]
pub struct Endpoint {
    pub side: Side,
    pub state: TcpState,
    /// Sequence number of its SYN (or SYN/ACK).
    pub isn: Option<u32>,
    /// Sequence number of its first FIN.
    pub fin_seq: Option<u32>,
    /// The peer acknowledged its FIN (ack >= fin_seq + 1).
    pub fin_acked: bool,
    /// Its own ACK showed it received the peer's FIN.
    pub got_fin: bool,
    /// It sent a SYN without ACK (an active open).
    pub active: bool,
    /// In SYN_SENT, a SYN/ACK acknowledging its SYN went its way; it has not answered yet.
    pub synack_pending: bool,
}

impl Endpoint {
    /// An endpoint nothing has been seen of.
    pub fn new(side: Side) -> Endpoint {
        Endpoint {
            side,
            state: TcpState::Unknown,
            isn: None,
            fin_seq: None,
            fin_acked: false,
            got_fin: false,
            active: false,
            synack_pending: false,
        }
    }
}

/// Set `ep` to state `new`, logging the transition to `out` when it changes.
fn move_to(ep: &mut Endpoint, new: TcpState, seg: &Segment, out: &mut Vec<Transition>) {
    let old = ep.state;
    if old == new {
        return;
    }
    ep.state = new;
    out.push(Transition {
        ts: seg.ts,
        frame_no: seg.frame_no,
        side: ep.side,
        old,
        new,
    });
}

/// `log` with the transitions `new` added, up to MAX_TRANSITIONS in all.
pub fn append_log(log: &mut Vec<Transition>, new: &[Transition]) {
    if log.capacity() == 0 {
        // A whole connection's moves at once (two endpoints, about four each), not four
        // reallocations.
        log.reserve_exact(TYPICAL_MOVES);
    }
    let room = MAX_TRANSITIONS.saturating_sub(log.len());
    log.extend_from_slice(&new[..new.len().min(room)]);
}

/// Apply one segment sent by `snd` to both endpoints; return its state changes.
pub fn advance(snd: &mut Endpoint, rcv: &mut Endpoint, seg: &Segment) -> Vec<Transition> {
    let mut out = Vec::new();
    advance_into(snd, rcv, seg, &mut out);
    out
}

/// `advance`, appending the state changes to `out`.
pub fn advance_into(
    snd: &mut Endpoint,
    rcv: &mut Endpoint,
    seg: &Segment,
    out: &mut Vec<Transition>,
) {
    let flags = seg.flags;
    if flags & RST != 0 {
        on_rst(snd, rcv, seg, out);
        return;
    }
    // The sender first (what it received, then what it sends), then the receiver.
    if flags & ACK != 0 {
        let state = snd.state;
        let not_synced = matches!(
            state,
            TcpState::Unknown | TcpState::SynSent | TcpState::SynReceived
        );
        // A FIN from SYN_RECEIVED is a close before the handshake's ACK came (RFC 9293 fig. 5),
        // not a proof of it.
        if flags & SYN == 0 && not_synced && !(flags & FIN != 0 && state == TcpState::SynReceived) {
            move_to(snd, TcpState::Established, seg, out);
        }
        if rcv.fin_seq.is_some() && !snd.got_fin {
            sender_received(snd, rcv, seg, out);
        }
    }
    if flags & SYN != 0 {
        on_syn(snd, seg, out);
    }
    if flags & FIN != 0 {
        on_fin(snd, seg, out);
    }
    let syncing = matches!(rcv.state, TcpState::SynSent | TcpState::SynReceived);
    if flags & ACK != 0 && (syncing || (rcv.fin_seq.is_some() && !rcv.fin_acked)) {
        receiver_acked(rcv, seg, out);
    }
}

fn on_rst(snd: &mut Endpoint, rcv: &mut Endpoint, seg: &Segment, out: &mut Vec<Transition>) {
    if snd.state != TcpState::Closed {
        move_to(snd, TcpState::Closed, seg, out);
    }
    // States in which an acceptable RST closes the receiver (RFC 9293 §3.10.7).
    match rcv.state {
        TcpState::Established
        | TcpState::FinWait1
        | TcpState::FinWait2
        | TcpState::CloseWait
        | TcpState::Closing
        | TcpState::LastAck
        | TcpState::TimeWait => move_to(rcv, TcpState::Closed, seg, out),
        // A passive open goes back to LISTEN; a simultaneous open is closed.
        TcpState::SynReceived => {
            let new = if rcv.active {
                TcpState::Closed
            } else {
                TcpState::Listen
            };
            move_to(rcv, new, seg, out)
        }
        // In SYN_SENT an RST counts only if it acknowledges the SYN (RFC 9293 §3.10.7.3).
        TcpState::SynSent if acks_syn(rcv, seg) => move_to(rcv, TcpState::Closed, seg, out),
        _ => {}
    }
}

fn acks_syn(ep: &Endpoint, seg: &Segment) -> bool {
    seg.flags & ACK != 0 && ep.isn.is_some_and(|isn| seg.ack == isn.wrapping_add(1))
}

/// What `snd`'s ACK field proves it received: the peer's FIN.
fn sender_received(snd: &mut Endpoint, rcv: &Endpoint, seg: &Segment, out: &mut Vec<Transition>) {
    let Some(fin_seq) = rcv.fin_seq else { return };
    if snd.got_fin || !seq_ge(seg.ack, fin_seq.wrapping_add(1)) {
        return;
    }
    snd.got_fin = true;
    if snd.state == TcpState::FinWait1 {
        let new = if snd.fin_acked {
            TcpState::TimeWait
        } else {
            TcpState::Closing
        };
        move_to(snd, new, seg, out);
        return;
    }
    // Receiving the peer's FIN: RFC 9293 §3.10.7.4, eighth step.
    let new = match snd.state {
        TcpState::Unknown | TcpState::SynReceived | TcpState::Established => TcpState::CloseWait,
        TcpState::FinWait2 => TcpState::TimeWait,
        _ => return,
    };
    move_to(snd, new, seg, out);
}

/// The receiver takes in the ACK: of its SYN, or of its FIN.
fn receiver_acked(rcv: &mut Endpoint, seg: &Segment, out: &mut Vec<Transition>) {
    let state = rcv.state;
    if matches!(state, TcpState::SynSent | TcpState::SynReceived) {
        // SYN_SENT needs the SYN too (a bare ACK is dropped there, RFC 9293 §3.10.7.3).
        if state == TcpState::SynSent && seg.flags & SYN == 0 {
            return;
        }
        if rcv
            .isn
            .is_none_or(|isn| seq_ge(seg.ack, isn.wrapping_add(1)))
        {
            if state == TcpState::SynSent {
                // RFC 9293 §3.10.7.3: in SYN-SENT an acceptable SYN/ACK moves the endpoint to
                // ESTABLISHED, and it "forms an ACK segment and sends it". An observer sees the
                // SYN/ACK pass, not arrive: it may be lost, or meet a scanner that never
                // answers (the responder then retries its SYN/ACK, which is the proof that no
                // ACK came). Only the endpoint's own ACK (or a SYN/ACK of its own, in a
                // simultaneous open) shows that it took the SYN/ACK in, as only its ACK of a
                // FIN shows it took that FIN in (`sender_received`). Until then it stays
                // SYN_SENT; the sender's rules in `advance_into` and `on_syn` move it.
                rcv.synack_pending = true;
                return;
            }
            move_to(rcv, TcpState::Established, seg, out);
        }
        return;
    }
    let Some(fin_seq) = rcv.fin_seq else { return };
    if !rcv.fin_acked && seq_ge(seg.ack, fin_seq.wrapping_add(1)) {
        rcv.fin_acked = true;
        let new = match state {
            TcpState::FinWait1 => TcpState::FinWait2,
            TcpState::Closing => TcpState::TimeWait,
            TcpState::LastAck => TcpState::Closed,
            _ => return,
        };
        move_to(rcv, new, seg, out);
    }
}

fn on_syn(snd: &mut Endpoint, seg: &Segment, out: &mut Vec<Transition>) {
    if snd.isn.is_none() {
        snd.isn = Some(seg.seq);
    }
    if seg.flags & ACK != 0 {
        if snd.state == TcpState::Unknown {
            snd.state = TcpState::Listen; // it answered a SYN, so it was listening
        }
        if snd.state == TcpState::SynSent && snd.synack_pending {
            // A simultaneous open: its SYN/ACK acknowledges the peer's SYN/ACK, taken in.
            move_to(snd, TcpState::Established, seg, out);
            return;
        }
        if matches!(snd.state, TcpState::Listen | TcpState::SynSent) {
            move_to(snd, TcpState::SynReceived, seg, out);
        }
        return;
    }
    snd.active = true;
    if snd.state == TcpState::Unknown {
        snd.state = TcpState::Closed; // an active open starts from CLOSED
    }
    if matches!(snd.state, TcpState::Closed | TcpState::Listen) {
        move_to(snd, TcpState::SynSent, seg, out);
    }
}

fn on_fin(snd: &mut Endpoint, seg: &Segment, out: &mut Vec<Transition>) {
    if snd.fin_seq.is_none() {
        // The FIN takes the sequence number after the data (and after the SYN, if both are set).
        let syn = u32::from(seg.flags & SYN != 0);
        snd.fin_seq = Some(seg.seq.wrapping_add(seg.payload_len).wrapping_add(syn));
    }
    match snd.state {
        TcpState::CloseWait => move_to(snd, TcpState::LastAck, seg, out),
        // The sender of a FIN moves from these to FIN_WAIT_1 (an active close).
        TcpState::Unknown
        | TcpState::SynSent
        | TcpState::SynReceived
        | TcpState::Established
        | TcpState::Listen => move_to(snd, TcpState::FinWait1, seg, out),
        _ => {}
    }
}

#[cfg(test)]
#[path = "tracker/tests_tcpstate.rs"]
mod tests;
