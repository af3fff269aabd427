//! The per-segment machinery of `ZeekState`: Zeek's TCPSessionAdapter::Process
//! (Python: `capture.zeek_machine`).
//!
//! For each segment, in Process()'s order: partial status, endpoint numbering, history letters,
//! zero windows, FIN/RST counts, the ack (which numbers the peer), the sender's last sequence
//! number (retransmissions), the state machine (`state.rs`), the ack to the peer's reassembler
//! (content gaps) and the data to this side's. `fast` does the same for the common segment with
//! the branches that cannot apply left out.
//!
//! Sides are addressed by slot (`e` the sender's, `p` its peer's); a flip changes which slot is
//! the originator, never the slots, so `e` and `p` stay valid across one.

use super::endpoint::{
    forward, seq_delta, Endpoint, CLOSED, INACTIVE, MAX_INITIAL_WINDOW, RESET, TOO_LARGE_SEQ_DELTA,
};
use super::history::{
    Scaled, HIST_ACK, HIST_DATA, HIST_FIN, HIST_FIN_RST, HIST_MULTI, HIST_RST, HIST_SYN,
};
use super::ZeekState;
use crate::segment::{Segment, ACK, FIN, RST, SYN};

/// The numbers of a segment `fast` needs (Python passes them one by one).
pub(crate) struct Plain {
    pub flags: u16,
    pub length: u32,
    pub window: u16,
    pub seq: u32,
    pub ack: u32,
    pub truncated: bool,
}

impl ZeekState {
    /// TCPSessionAdapter::Process for one segment; true when the roles were flipped.
    pub(crate) fn process(&mut self, is_orig: bool, seg: &Segment) -> bool {
        let (e, p) = self.slots(is_orig);
        let (flags, length, base) = (seg.flags, seg.payload_len, seg.seq);
        let ctl = flags & (FIN | SYN | RST);
        if !self.sides[e].first_seen() {
            self.set_partial(is_orig, flags);
        }
        let mut seg_len = u64::from(length);
        if ctl != 0 {
            if ctl & RST != 0 {
                seg_len = 0; // RST data is not part of the stream
            }
            seg_len += u64::from(ctl & SYN != 0) + u64::from(ctl & FIN);
        }
        let one_past = base.wrapping_add(seg_len as u32);
        let ep = &mut self.sides[e];
        if ctl & SYN != 0 || ep.state == INACTIVE {
            ep.init_for(ctl & SYN != 0, base, one_past);
        }
        let (rel_seq, underflow) = relative_seq(ep, base);
        if ctl != 0 {
            self.update_history(e, is_orig, flags, rel_seq, length);
        } else if length != 0 || flags & ACK != 0 {
            self.data_or_ack_letter(is_orig, length);
        }
        if seg.window == 0
            && ctl & RST == 0
            && self.sides[p].state != CLOSED
            && self.sides[e].state != RESET
        {
            self.hist.scaled(&mut self.sides[e], is_orig, Scaled::W);
        }
        if ctl & FIN != 0 {
            let ep = &mut self.sides[e];
            ep.set_fin_seen();
            ep.fin_seq = rel_seq.wrapping_add(seg_len);
        }
        let mut rel_ack = 0;
        if flags & ACK != 0 {
            rel_ack = ack_numbers(&mut self.sides[p], seg.ack, ctl & RST != 0);
        }
        if ctl != 0 {
            self.update_last_seq(e, is_orig, one_past, flags, length);
        } else {
            self.advance_last_seq(e, is_orig, one_past, length);
        }
        let mut flipped = false;
        if ctl != 0 || self.sides[e].state == INACTIVE {
            flipped = self.state_machine(e, p, is_orig, seg);
        }
        if flags & ACK != 0 {
            // AckReceived() of the peer's reassembler; after a flip the peer is the originator.
            self.ack_to_peer(p, if flipped { is_orig } else { !is_orig }, rel_ack);
        }
        if length > 0 && ctl & RST == 0 && !underflow {
            let seq = rel_seq.wrapping_add(u64::from(ctl & SYN != 0));
            let peer_state = self.sides[p].state;
            self.sides[e].data_sent(seq, length, seg.truncated, peer_state);
        }
        self.sides[e].set_first_seen(); // CheckPIA_FirstPacket: the side before any flip
        flipped
    }

    /// `process` for the common segment: no SYN/FIN/RST, both sides seen, sender active.
    ///
    /// The same steps with the branches that cannot apply left out and the usual case of each
    /// number computation (no wrap of the 32-bit space so far) done in place.
    pub(crate) fn fast(&mut self, is_orig: bool, s: &Plain) {
        let (e, p) = self.slots(is_orig);
        let state = self.sides[e].state;
        if s.length != 0 || s.flags & ACK != 0 {
            self.data_or_ack_letter(is_orig, s.length);
        }
        if s.window == 0 && self.sides[p].state != CLOSED && state != RESET {
            self.hist.scaled(&mut self.sides[e], is_orig, Scaled::W);
        }
        let mut rel_ack = 0;
        if s.flags & ACK != 0 {
            rel_ack = fast_ack(&mut self.sides[p], s.ack);
        }
        let ep = &mut self.sides[e];
        let last = ep.last_seq;
        let one_past = s.seq.wrapping_add(s.length);
        let (mut rel_seq, mut underflow) = (0, false);
        if s.length != 0 {
            let d = s.seq.wrapping_sub(last);
            if ep.seq_wraps != 0 || (forward(d) && s.seq < last) {
                (rel_seq, underflow) = ep.relative(s.seq, last, ep.seq_wraps);
            } else {
                // get_relative_seq() without wraps: relative to the start, may underflow
                let rel = s.seq.wrapping_sub(ep.start_seq);
                (rel_seq, underflow) = (u64::from(rel), rel >= 0x8000_0000);
            }
        }
        self.advance_last_seq(e, is_orig, one_past, s.length);
        if s.flags & ACK != 0 {
            self.ack_to_peer(p, !is_orig, rel_ack);
        }
        if s.length != 0 && !underflow {
            self.fast_data(e, p, rel_seq, s.length, s.truncated);
        }
    }

    /// The data of `fast`: in order with nothing buffered, the reassembler just moves on.
    fn fast_data(&mut self, e: usize, p: usize, rel_seq: u64, length: u32, truncated: bool) {
        let peer_state = self.sides[p].state;
        let ep = &mut self.sides[e];
        let acked = ep.acked();
        if truncated || ep.ra_skip() || ep.has_blocks() || rel_seq != ep.ra_next || rel_seq < acked
        {
            ep.data_sent(rel_seq, length, truncated, peer_state);
            return;
        }
        ep.ra_next = rel_seq.saturating_add(u64::from(length));
        if acked <= 1 && ep.size(peer_state) > MAX_INITIAL_WINDOW {
            ep.trim_to(ep.ra_next, false);
        }
    }

    /// D or A (d or a), once per direction.
    fn data_or_ack_letter(&mut self, is_orig: bool, length: u32) {
        if length != 0 {
            self.hist.check(is_orig, HIST_DATA, 'D');
        } else {
            self.hist.check(is_orig, HIST_ACK, 'A');
        }
    }

    /// The sender's last sequence number for a segment without SYN/FIN/RST.
    fn advance_last_seq(&mut self, e: usize, is_orig: bool, one_past: u32, length: u32) {
        let ep = &mut self.sides[e];
        let last = ep.last_seq;
        if ep.state == RESET {
            // nothing after a RST is trusted
        } else if forward(one_past.wrapping_sub(last)) {
            if one_past < last {
                ep.seq_wraps = ep.seq_wraps.wrapping_add(1);
            }
            ep.last_seq = one_past;
        } else if length > 0 {
            self.hist.scaled(ep, is_orig, Scaled::T);
        }
    }

    /// AckReceived() of the peer's reassembler, for an ack relative to the peer's stream.
    fn ack_to_peer(&mut self, p: usize, gap_is_orig: bool, rel_ack: u64) {
        let partial = self.partial();
        let peer = &mut self.sides[p];
        let mut rel_ack = rel_ack;
        if peer.fin_seen() && rel_ack >= peer.fin_seq {
            // the ack of the FIN is not data; -1 (fin_seq 0) is below every trim point
            let Some(below) = peer.fin_seq.checked_sub(1) else {
                return;
            };
            rel_ack = below;
        }
        if rel_ack <= peer.ra_trim {
            return;
        }
        if peer.ra_next < rel_ack || peer.has_blocks() {
            let gaps = peer.trim_to(rel_ack, partial);
            if gaps != 0 {
                self.gaps(p, gap_is_orig, gaps);
            }
        } else {
            peer.ra_trim = rel_ack;
        }
    }

    fn set_partial(&mut self, is_orig: bool, flags: u16) {
        if is_orig {
            if !self.orig().first_seen() {
                self.set_partial_flag(flags & SYN == 0 || flags & ACK != 0);
            }
        } else if !self.resp().first_seen() && !self.partial() {
            self.set_partial_flag(flags & SYN == 0);
        }
    }

    fn update_history(&mut self, e: usize, is_orig: bool, flags: u16, rel_seq: u64, length: u32) {
        let (syn, fin, rst) = (flags & SYN != 0, flags & FIN != 0, flags & RST != 0);
        let hist = &mut self.hist;
        let ep = &mut self.sides[e];
        if u8::from(syn) + u8::from(fin) + u8::from(rst) > 1 {
            if fin && rst {
                hist.check(is_orig, HIST_FIN_RST, 'I');
            } else {
                hist.check(is_orig, HIST_MULTI, 'Q');
            }
        } else if syn {
            let code = if flags & ACK != 0 { 'H' } else { 'S' };
            // S/H/F/R repeat only when their sequence number differs from the last one's.
            if hist.check(is_orig, HIST_SYN, code) && rel_seq != ep.last_syn {
                hist.push(code, is_orig);
            }
            ep.last_syn = rel_seq;
        } else if fin {
            let end = rel_seq.wrapping_add(u64::from(length)); // the number after its data
            if hist.check(is_orig, HIST_FIN, 'F') && end != ep.last_fin {
                hist.push('F', is_orig);
            }
            ep.last_fin = end;
        } else if rst {
            if hist.check(is_orig, HIST_RST, 'R') && rel_seq != ep.last_rst {
                hist.push('R', is_orig);
            }
            ep.last_rst = rel_seq;
        } else if length != 0 {
            hist.check(is_orig, HIST_DATA, 'D');
        } else if flags & ACK != 0 {
            hist.check(is_orig, HIST_ACK, 'A');
        }
    }

    /// The sender's last sequence number for a SYN, FIN or RST.
    fn update_last_seq(&mut self, e: usize, is_orig: bool, last: u32, flags: u16, length: u32) {
        let ep = &mut self.sides[e];
        let delta = seq_delta(last, ep.last_seq);
        if flags & (SYN | RST) != 0 && delta.unsigned_abs() > TOO_LARGE_SEQ_DELTA {
            // an outlandish SYN or RST number is not trusted
        } else if flags & FIN != 0 && ep.last_seq == ep.start_seq.wrapping_add(1) {
            ep.update_last_seq(last); // > 2 GB connections seen only at SYN and FIN
        } else if ep.state == RESET {
        } else if delta > 0 {
            ep.update_last_seq(last);
        } else if length > 0 {
            self.hist.scaled(ep, is_orig, Scaled::T);
        }
    }

    /// TCP_Reassembler::Gap(): history G for a content gap while both sides are clean.
    fn gaps(&mut self, ep: usize, is_orig: bool, count: u64) {
        if self.sides[ep].is_clean() && self.sides[ep ^ 1].is_clean() {
            for _ in 0..count {
                self.hist.scaled(&mut self.sides[ep], is_orig, Scaled::G);
            }
        }
    }
}

/// The sequence number of a segment relative to its sender's start, and whether it underflows.
fn relative_seq(ep: &Endpoint, base: u32) -> (u64, bool) {
    let last = ep.last_seq;
    let d = base.wrapping_sub(last);
    if ep.seq_wraps != 0 || (forward(d) && base < last) {
        return ep.relative(base, last, ep.seq_wraps);
    }
    // get_relative_seq() without wraps, inline: relative to the start
    let rel = base.wrapping_sub(ep.start_seq);
    (rel as i32 as i64 as u64, rel >= 0x8000_0000)
}

/// The ack as a relative number of the peer's stream; advances the peer's ack_seq.
fn ack_numbers(peer: &mut Endpoint, ack: u32, rst: bool) -> u64 {
    if peer.state == INACTIVE {
        // init_peer(): number as if its SYN had been seen
        peer.init_seqs(ack.wrapping_sub(1), ack.wrapping_sub(1));
        return 1;
    }
    let (rel_ack, underflow) = peer.relative(ack, peer.ack_seq, peer.ack_wraps);
    if underflow {
        return 0;
    }
    if !rst {
        // acks on RSTs are not trusted
        let d = ack.wrapping_sub(peer.ack_seq);
        // update_ack_seq(): forward only; an ack of 0 far ahead is more likely broken
        if forward(d) && !(ack == 0 && d > TOO_LARGE_SEQ_DELTA) {
            if ack < peer.ack_seq {
                peer.ack_wraps = peer.ack_wraps.wrapping_add(1);
            }
            peer.ack_seq = ack;
        }
    }
    rel_ack
}

/// `ack_numbers` of `fast`, with the no-wrap case done in place.
fn fast_ack(peer: &mut Endpoint, ack: u32) -> u64 {
    let pa = peer.ack_seq;
    let d = ack.wrapping_sub(pa);
    if peer.state == INACTIVE || peer.ack_wraps != 0 || (forward(d) && ack < pa) {
        return ack_numbers(peer, ack, false);
    }
    let rel_ack = ack.wrapping_sub(peer.start_seq);
    if rel_ack & 0x8000_0000 != 0 {
        return 0; // below the start: ack underflow
    }
    if forward(d) && !(ack == 0 && d > TOO_LARGE_SEQ_DELTA) {
        peer.ack_seq = ack;
    }
    u64::from(rel_ack)
}
