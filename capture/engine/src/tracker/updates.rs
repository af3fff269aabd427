//! The per-segment steps of flow tracking: counters, sequence space, SYN/FIN/RST bookkeeping
//! (Python: `capture.flow_updates`).

use crate::flow::analysis::{self, Marks};
use crate::flow::{EndKind, Flow, Side, SideRare};
use crate::segment::{syn_options, Segment, ACK, CWR, ECE, FIN, PSH, RST, SYN, URG};
use crate::tcpstate::{seq_ge, Side as Dir, HALF};

/// SYN (or SYN/ACK) times kept per side: the first and its retries.
pub const KEEP_TIMES: usize = 16;

pub fn count_rare(snd: &mut Side, flags: u16) {
    if flags & URG != 0 {
        snd.urg += 1;
    }
    if flags & ECE != 0 {
        snd.ece += 1;
    }
    if flags & CWR != 0 {
        snd.cwr += 1;
    }
}

/// The sender's counters for a segment with ACK and none of SYN, FIN, RST.
pub fn count_plain(snd: &mut Side, ip_len: u32, plen: u32, seq: u32, flags: u16, window: u16) {
    snd.pkts += 1;
    snd.ip_bytes += u64::from(ip_len);
    if plen != 0 {
        snd.payload += u64::from(plen);
        if snd.hi == Some(seq) {
            snd.hi = Some(seq.wrapping_add(plen)); // in order: the usual case
        } else {
            seq_space(snd, seq, plen, flags);
        }
    }
    if flags & PSH != 0 {
        snd.psh += 1;
    }
    if flags & (URG | ECE | CWR) != 0 {
        count_rare(snd, flags);
    }
    if window == 0 {
        snd.zero_window += 1;
    }
    snd.zero_window_open = window == 0;
}

/// Advance the sender's high-water mark; a segment starting below it is a retransmission.
pub fn seq_space(snd: &mut Side, seq: u32, plen: u32, flags: u16) {
    let end = seq
        .wrapping_add(plen)
        .wrapping_add(u32::from(flags & FIN))
        .wrapping_add(u32::from((flags & SYN) >> 1));
    let hi = match snd.hi {
        Some(hi) if seq.wrapping_sub(hi) >= HALF => hi,
        _ => {
            snd.hi = Some(end);
            return;
        }
    };
    // A 1-byte keep-alive (seq = hi - 1) re-sends old space on purpose: not a retransmission.
    if !(plen == 1 && seq.wrapping_add(1) == hi && flags & (SYN | FIN) == 0) {
        snd.retrans += 1;
    }
    if end.wrapping_sub(hi) < HALF {
        snd.hi = Some(end);
    }
}

/// The illegal flag combinations a flags value makes, in Python's order.
pub fn illegal_names(flags: u16) -> impl Iterator<Item = &'static str> {
    let rules: [(bool, &'static str); 5] = [
        (flags & (SYN | FIN) == SYN | FIN, "syn+fin"),
        (flags & (SYN | RST) == SYN | RST, "syn+rst"),
        (flags & (FIN | RST) == FIN | RST, "fin+rst"),
        (flags & (FIN | PSH | URG) == FIN | PSH | URG, "xmas"),
        (flags & 0x1FF == 0, "null"),
    ];
    rules.into_iter().filter(|r| r.0).map(|r| r.1)
}

pub fn check_illegal(flow: &mut Flow, flags: u16) {
    for name in illegal_names(flags) {
        let counts = flow.illegal.get_or_insert_with(Default::default);
        match counts.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 += 1,
            None => counts.push((name, 1)),
        }
    }
}

fn retry(first: f64, times: &mut Vec<f64>, ts: f64) {
    // Lists only for retried SYNs: most flows keep one float per side, not a list.
    if times.is_empty() {
        times.extend([first, ts]);
    } else if times.len() < KEEP_TIMES {
        times.push(ts);
    }
}

fn rare(snd: &mut Side) -> &mut SideRare {
    snd.rare.get_or_insert_with(Default::default)
}

pub fn on_syn(flow: &mut Flow, seg: &Segment, is_orig: bool) {
    let ts = seg.ts;
    let (mru_syn, snd) = (flow.mru_syn, sender(flow, is_orig));
    if snd.ep.isn.is_none() {
        snd.ep.isn = Some(seg.seq); // also on a SYN+RST, which moves no state
    }
    if seg.flags & ACK != 0 {
        snd.synack += 1;
        if snd.synack_ts < 0.0 {
            snd.synack_ts = ts;
        } else {
            retry(snd.synack_ts, &mut rare(snd).synack_times, ts);
        }
        if !is_orig {
            if flow.rtt_syn_synack.is_none() && mru_syn >= 0.0 {
                flow.rtt_syn_synack = Some(ts - mru_syn);
            }
            flow.mru_synack = ts;
        }
    } else {
        snd.syn += 1;
        if snd.syn_ts < 0.0 {
            snd.syn_ts = ts;
        } else {
            retry(snd.syn_ts, &mut rare(snd).syn_times, ts);
        }
        flow.mru_syn = ts; // Wireshark's ts_mru_syn: iRTT runs from the last SYN
        if is_orig {
            flow.direction_inferred = false; // a late SYN (reordered capture) confirms it
        }
    }
    let snd = sender(flow, is_orig);
    if snd.sack_perm.is_none() {
        // The first SYN of this side carries its handshake options.
        let (mss, wscale, sack, ts_opt, tfo) = syn_options(seg.opts.as_slice());
        snd.mss = mss;
        snd.wscale = wscale;
        snd.sack_perm = Some(sack);
        snd.timestamps = Some(ts_opt);
        if tfo.is_some() || snd.rare.is_some() {
            rare(snd).tfo = tfo;
        }
        snd.syn_data = seg.payload_len;
    }
}

fn sender(flow: &mut Flow, is_orig: bool) -> &mut Side {
    if is_orig {
        &mut flow.orig
    } else {
        &mut flow.resp
    }
}

/// A segment with ACK and without SYN: it may complete the handshake.
pub fn on_ack(flow: &mut Flow, seg: &Segment, is_orig: bool) {
    // Wireshark: the first such segment after a SYN, in either direction, whatever else it has.
    if flow.irtt.is_none() && flow.mru_syn >= 0.0 {
        flow.irtt = Some(seg.ts - flow.mru_syn);
    }
    if is_orig && flow.rtt_synack_ack.is_none() && flow.mru_synack >= 0.0 {
        flow.rtt_synack_ack = Some(seg.ts - flow.mru_synack);
    }
}

pub fn on_fin(flow: &mut Flow, seg: &Segment, is_orig: bool) {
    let (snd, rcv) = if is_orig {
        (&mut flow.orig, &flow.resp)
    } else {
        (&mut flow.resp, &flow.orig)
    };
    snd.fin += 1;
    if snd.ep.fin_seq.is_some() {
        return; // a retransmitted FIN
    }
    let (side, got_fin, rcv_fin) = (snd.ep.side, snd.ep.got_fin, rcv.ep.fin_seq);
    if flow.closed_by.is_none() {
        flow.closed_by = Some(side);
    }
    let Some(rcv_fin) = rcv_fin else { return };
    if flow.end_kind.is_some() {
        return;
    }
    // This is the second side's first FIN: how did it relate to the first one?
    flow.end_kind = Some(if got_fin {
        EndKind::Fin4Way
    } else if seg.flags & ACK != 0 && seq_ge(seg.ack, rcv_fin.wrapping_add(1)) {
        EndKind::Fin3Way
    } else {
        EndKind::Simultaneous
    });
}

pub fn on_rst(flow: &mut Flow, is_orig: bool) {
    let snd = sender(flow, is_orig);
    snd.rst += 1;
    let (side, state): (Dir, _) = (snd.ep.side, snd.ep.state);
    if flow.rst_by.is_some() {
        return;
    }
    flow.rst_by = Some(side);
    flow.rst_state = state;
    if flow.closed_by.is_none() {
        flow.closed_by = Some(side);
    }
    if flow.end_kind.is_none() {
        let fins = flow.orig.ep.fin_seq.is_some() || flow.resp.ep.fin_seq.is_some();
        flow.end_kind = Some(if fins {
            EndKind::FinThenRst
        } else {
            EndKind::Rst
        });
    }
}

/// Wireshark's analysis of a segment (`flow::analysis`), counted on its sender.
#[inline]
pub fn analyze(flow: &mut Flow, seg: &Segment, is_orig: bool) -> Marks {
    let irtt = flow.irtt;
    let (snd, rcv) = if is_orig {
        (&mut flow.orig, &mut flow.resp)
    } else {
        (&mut flow.resp, &mut flow.orig)
    };
    let marks = analysis::analyze(&mut snd.watch, &mut rcv.watch, seg, irtt);
    analysis::count(&mut snd.marks, marks.bits);
    marks
}
