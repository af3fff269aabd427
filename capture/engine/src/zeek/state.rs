//! TCPSessionAdapter's UpdateStateMachine (UpdateInactiveState ... UpdateResetState), with the
//! SYN/SYN-ACK reversal flip and ConnectionClosed (Python: `capture.zeek_machine`).

use super::endpoint::{CLOSED, ESTABLISHED, INACTIVE, PARTIAL, RESET, SYN_ACK_SENT, SYN_SENT};
use super::ZeekState;
use crate::segment::{Segment, ACK, FIN, RST, SYN};

/// init-bare's tcp_attempt_delay: an unanswered SYN ends the attempt this many seconds later.
pub(crate) const TCP_ATTEMPT_DELAY: f64 = 5.0;
/// init-bare's tcp_close_delay: a closed connection is deleted this many seconds after its close.
pub(crate) const TCP_CLOSE_DELAY: f64 = 5.0;

/// When one of Zeek's timers fires; NaN while unset (Python's None). Half the size of an
/// `Option<f64>`, and the same answers: capture times are never NaN, and `ts >= NaN` is false.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timer(pub f64);

impl Timer {
    pub const UNSET: Timer = Timer(f64::NAN);

    pub fn is_set(self) -> bool {
        !self.0.is_nan()
    }

    /// Whether the timer has fired by time `ts` (never while unset).
    pub fn fired(self, ts: f64) -> bool {
        ts >= self.0
    }
}

impl ZeekState {
    /// UpdateStateMachine for the sender in slot `e` (peer in `p`); true on a flip.
    pub(crate) fn state_machine(
        &mut self,
        e: usize,
        p: usize,
        is_orig: bool,
        seg: &Segment,
    ) -> bool {
        let (state, flags) = (self.sides[e].state, seg.flags);
        if state == INACTIVE {
            let flipped = self.inactive(e, p, is_orig, seg);
            if flags & (FIN | RST) != 0 {
                self.connection_closed(e, p);
            }
            return flipped;
        }
        let peer_state = self.sides[p].state;
        let peer_prev = self.sides[p].prev_state;
        let ep = &mut self.sides[e];
        let mut do_close = false;
        match state {
            SYN_SENT | SYN_ACK_SENT => {
                if flags & FIN != 0 {
                    ep.set_state(CLOSED);
                }
                if flags & RST != 0 {
                    ep.set_state(RESET);
                }
                do_close = flags & (FIN | RST) != 0;
            }
            ESTABLISHED | PARTIAL => {
                if flags & SYN != 0
                    && state == PARTIAL
                    && peer_state == INACTIVE
                    && flags & ACK == 0
                {
                    ep.set_state(SYN_SENT); // SYN_after_partial
                }
                if flags & FIN != 0 && flags & RST == 0 {
                    ep.set_state(CLOSED);
                    if peer_state == RESET && peer_prev == CLOSED {
                        // the peer's FIN then RST was a normal close
                        self.sides[p].set_state(CLOSED);
                    }
                }
                if flags & RST != 0 {
                    self.sides[e].set_state(RESET);
                }
                do_close = flags & (FIN | RST) != 0;
            }
            CLOSED if flags & RST != 0 && peer_state != CLOSED => {
                ep.set_state(RESET); // after a full FIN exchange a RST changes nothing
                do_close = true;
            }
            _ => {}
        }
        if do_close {
            self.connection_closed(e, p);
        }
        false
    }

    /// ConnectionClosed(): once a side is closed, and the connection completely (a RST, both
    /// FINs, or a silent peer), Zeek deletes the connection tcp_close_delay (5 s) later.
    fn connection_closed(&mut self, e: usize, p: usize) {
        if self.sides[e].did_close() {
            return;
        }
        self.sides[e].set_did_close();
        let (ep, peer) = (&self.sides[e], &self.sides[p]);
        if !self.close_at.is_set()
            && (ep.state == RESET || peer.did_close() || peer.state == INACTIVE)
        {
            self.close_at = Timer(self.last_ts + TCP_CLOSE_DELAY);
        }
    }

    /// UpdateInactiveState: the sender's first segment (or first after it stayed inactive).
    fn inactive(&mut self, e: usize, p: usize, is_orig: bool, seg: &Segment) -> bool {
        let (flags, mut flipped) = (seg.flags, false);
        if flags & SYN != 0 {
            if is_orig {
                let new = if flags & ACK != 0 {
                    SYN_ACK_SENT
                } else {
                    SYN_SENT
                };
                self.sides[e].set_state(new);
                if !self.attempt_at.is_set() {
                    self.attempt_at = Timer(self.last_ts + TCP_ATTEMPT_DELAY);
                }
            } else {
                if flags & ACK == 0
                    && self.sides[p].state == SYN_ACK_SENT
                    && seg.seq == self.sides[e].start_seq
                {
                    // SYN/SYN-ACK reversal (capture reordering): flip and establish.
                    self.flip();
                    self.sides[p].set_state(ESTABLISHED);
                    self.sides[e].set_first_seen(); // the sender is the originator now
                    flipped = true;
                }
                if self.sides[p].state == SYN_SENT {
                    self.sides[p].set_state(ESTABLISHED);
                }
                self.sides[e].set_state(ESTABLISHED);
            }
        }
        if flags & FIN != 0 {
            self.sides[e].set_state(CLOSED);
        }
        if flags & RST != 0 {
            self.sides[e].set_state(RESET);
        }
        if self.sides[e].state == INACTIVE {
            if !is_orig && seg.payload_len == 0 && self.orig().state == SYN_SENT {
                // an ACK of the SYN before the SYN/ACK does not make it partial
            } else if flags & ACK != 0 && self.sides[p].state == ESTABLISHED {
                // SYN/ACK seen, SYN missed, now an ACK: established, not partial.
                self.sides[e].set_state(ESTABLISHED);
                self.set_partial_flag(false);
                self.sides[e].set_first_seen();
            } else {
                self.sides[e].set_state(PARTIAL);
            }
        }
        flipped
    }
}
