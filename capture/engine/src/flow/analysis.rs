//! Wireshark's TCP analysis of each segment (`tcp.analysis.*`): duplicate ACKs, fast
//! retransmissions, segments not captured, keep-alives, zero-window probes, window updates ...
//!
//! The rules are those of `tcp_analyze_sequence_number` in Wireshark's `packet-tcp.c` (4.0),
//! in its order, with its per-direction state (`SeqWatch`: a few numbers a side, nothing
//! allocated per segment). Like Wireshark, 0 stands for "not seen yet" in `nextseq` and
//! `maxseqtobeacked`, and times that run backwards never fall inside a time window.

use crate::segment::{Segment, ACK, FIN, RST, SYN};
use crate::tcpstate::HALF;

/// The window is 0 (none of SYN, FIN, RST).
pub const ZERO_WINDOW: u16 = 1 << 0;
/// One byte at the next sequence number while the peer's window is 0.
pub const ZERO_WINDOW_PROBE: u16 = 1 << 1;
/// The zero-window probe's answer: the same ACK, still a zero window.
pub const ZERO_WINDOW_PROBE_ACK: u16 = 1 << 2;
/// 0 or 1 byte one below the next sequence number.
pub const KEEP_ALIVE: u16 = 1 << 3;
/// The keep-alive's answer: the same ACK and window again.
pub const KEEP_ALIVE_ACK: u16 = 1 << 4;
/// No data, the same seq and ACK as the sender's last segment, another window.
pub const WINDOW_UPDATE: u16 = 1 << 5;
/// No data, the same seq, ACK and window as the sender's last segment.
pub const DUPLICATE_ACK: u16 = 1 << 6;
/// Starts beyond the next sequence number: the capture missed something before it.
pub const LOST_SEGMENT: u16 = 1 << 7;
/// Acknowledges beyond what the peer was seen to send.
pub const ACK_LOST_SEGMENT: u16 = 1 << 8;
/// Data (or SYN, FIN) below the next sequence number, none of the kinds below.
pub const RETRANSMISSION: u16 = 1 << 9;
/// A retransmission of what the peer's 2+ duplicate ACKs asked for, within 20 ms of the last.
pub const FAST_RETRANSMISSION: u16 = 1 << 10;
/// A retransmission of data the peer had already acknowledged.
pub const SPURIOUS_RETRANSMISSION: u16 = 1 << 11;
/// Below the next sequence number, within the iRTT (or 3 ms) of the segment that set it.
pub const OUT_OF_ORDER: u16 = 1 << 12;

/// Every kind, with Wireshark's field name (`tcp.analysis.NAME`), in bit order.
pub const KINDS: [(u16, &str); 13] = [
    (ZERO_WINDOW, "zero_window"),
    (ZERO_WINDOW_PROBE, "zero_window_probe"),
    (ZERO_WINDOW_PROBE_ACK, "zero_window_probe_ack"),
    (KEEP_ALIVE, "keep_alive"),
    (KEEP_ALIVE_ACK, "keep_alive_ack"),
    (WINDOW_UPDATE, "window_update"),
    (DUPLICATE_ACK, "duplicate_ack"),
    (LOST_SEGMENT, "lost_segment"),
    (ACK_LOST_SEGMENT, "ack_lost_segment"),
    (RETRANSMISSION, "retransmission"),
    (FAST_RETRANSMISSION, "fast_retransmission"),
    (SPURIOUS_RETRANSMISSION, "spurious_retransmission"),
    (OUT_OF_ORDER, "out_of_order"),
];

/// Per-kind segment counts of one side, in `KINDS` order.
pub type MarkCounts = [u32; KINDS.len()];

/// What the analysis found in one segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Marks {
    /// `KINDS` bits.
    pub bits: u16,
    /// A duplicate ACK's number (#1, #2 ... since the ACK number last changed); 0 otherwise.
    pub dup_n: u32,
    /// The frame a duplicate ACK repeats (the sender's last segment with a new ACK number).
    pub dup_of: u64,
}

/// What Wireshark remembers of one direction (`tcp_analyze_seq_info` and `window`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeqWatch {
    /// Highest sequence number sent + 1 (SYN and FIN count one); 0 before any segment.
    nextseq: u32,
    /// The end of the data sent without a hole: what an ACK may acknowledge; 0 before any.
    maxseqtobeacked: u32,
    lastack: u32,
    window: u16,
    /// The marks of the last segment (a keep-alive or probe is answered by the next one back).
    last_bits: u16,
    /// Duplicate ACKs since the ACK number last changed (or `UNSEEN`).
    dupacks: u32,
    /// The peer was told "ACKed unseen segment" since this side's last segment.
    unseen_said: bool,
    /// The last frame whose ACK number differed from the one before it.
    lastnondupack: u64,
    nextseq_ts: f64,
    lastack_ts: f64,
}

/// The duplicate-ACK count of a side whose peer acknowledged data the capture did not show
/// (Wireshark's -1 in an unsigned counter).
const UNSEEN: u32 = u32::MAX;

fn seq_lt(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < HALF
}

fn seq_gt(a: u32, b: u32) -> bool {
    seq_lt(b, a)
}

/// `0 <= t < limit`: Wireshark's unsigned time difference is huge when time runs backwards.
fn within(t: f64, limit: f64) -> bool {
    (0.0..limit).contains(&t)
}

/// Analyse `seg`, sent by the side whose state is `fwd` (`rev`: the other side's), as Wireshark
/// does; `irtt`: the flow's handshake RTT, if known (the out-of-order time limit).
pub fn analyze(fwd: &mut SeqWatch, rev: &mut SeqWatch, seg: &Segment, irtt: Option<f64>) -> Marks {
    let (seq, ack, len, flags, win) = (seg.seq, seg.ack, seg.payload_len, seg.flags, seg.window);
    let plain = flags & (SYN | FIN | RST) == 0;
    let mut marks = Marks::default();
    let mut bits = 0u16;
    // Wireshark's checks up to its `finished_fwd` label: a probe, or a probe's or keep-alive's
    // answer, is nothing else.
    'fwd: {
        if len == 1 && seq == fwd.nextseq && rev.window == 0 {
            bits |= ZERO_WINDOW_PROBE;
            break 'fwd;
        }
        if win == 0 && plain {
            bits |= ZERO_WINDOW;
        }
        if fwd.nextseq != 0 && seq_gt(seq, fwd.nextseq) && flags & RST == 0 {
            bits |= LOST_SEGMENT;
        }
        if len <= 1 && seq == fwd.nextseq.wrapping_sub(1) && plain {
            bits |= KEEP_ALIVE;
        }
        // No data, the same seq and ACK as the sender's last segment.
        if len != 0 || seq != fwd.nextseq || ack != fwd.lastack || !plain {
            break 'fwd;
        }
        if win != 0 && win != fwd.window {
            bits |= WINDOW_UPDATE;
        }
        if win != 0 && win == fwd.window && rev.last_bits & KEEP_ALIVE != 0 {
            bits |= KEEP_ALIVE_ACK;
        } else if win == 0 && fwd.window == 0 && rev.last_bits & ZERO_WINDOW_PROBE != 0 {
            bits |= ZERO_WINDOW_PROBE_ACK;
        } else if win != 0 && win == fwd.window {
            // After an "ACKed unseen segment" (`UNSEEN`) the count starts again.
            fwd.dupacks = if fwd.dupacks == UNSEEN {
                1
            } else {
                fwd.dupacks.saturating_add(1)
            };
            bits |= DUPLICATE_ACK;
            marks.dup_n = fwd.dupacks;
            marks.dup_of = fwd.lastnondupack;
        }
    }
    if ack != fwd.lastack {
        fwd.lastnondupack = seg.frame_no;
        fwd.dupacks = 0;
    }
    if rev.maxseqtobeacked != 0 && seq_gt(ack, rev.maxseqtobeacked) && flags & ACK != 0 {
        // Not again while the peer stays silent; and the mark moves on to what was seen. The
        // peer's duplicate-ACK count becomes `UNSEEN`, which 4.0.17 takes for "2 or more" (a
        // fast retransmission may follow, as tshark 4.0.17 marks them).
        if !rev.unseen_said {
            bits |= ACK_LOST_SEGMENT;
        }
        rev.unseen_said = true;
        rev.maxseqtobeacked = rev.nextseq;
        rev.dupacks = UNSEEN;
    }
    if (len > 0 || flags & (SYN | FIN) != 0) && bits & KEEP_ALIVE == 0 {
        bits |= resent(fwd, rev, seg, irtt);
    }
    advance(fwd, seg, bits);
    marks.bits = bits;
    marks
}

/// Which kind of retransmission a segment with data, SYN or FIN is, if any.
fn resent(fwd: &SeqWatch, rev: &SeqWatch, seg: &Segment, irtt: Option<f64>) -> u16 {
    let (seq, len) = (seg.seq, seg.payload_len);
    // More than one byte starting one below nextseq follows a zero-window probe: new data.
    let behind = fwd.nextseq != 0
        && seq_lt(seq, fwd.nextseq)
        && !(len > 1 && fwd.nextseq.wrapping_sub(1) == seq);
    let end = seq.wrapping_add(len);
    if len > 0 && rev.lastack != 0 && !seq_gt(end, rev.lastack) {
        return SPURIOUS_RETRANSMISSION;
    }
    // `UNSEEN` counts as 2 or more here, as Wireshark's unsigned -1 does.
    if behind && rev.dupacks >= 2 && rev.lastack == seq && within(seg.ts - rev.lastack_ts, 0.02) {
        return FAST_RETRANSMISSION;
    }
    let limit = irtt.filter(|t| *t > 0.0).unwrap_or(0.003);
    // Soon after the highest segment, and not a copy of it (whose SYN or FIN counts one).
    let copy = fwd.nextseq == end.wrapping_add(u32::from(seg.flags & (SYN | FIN) != 0));
    if behind && within(seg.ts - fwd.nextseq_ts, limit) && !copy {
        return OUT_OF_ORDER;
    }
    if behind {
        RETRANSMISSION
    } else {
        0
    }
}

/// Remember what the segment tells of its sender (Wireshark's updates after the checks).
fn advance(fwd: &mut SeqWatch, seg: &Segment, bits: u16) {
    let seq = seg.seq;
    let mut next = seq.wrapping_add(seg.payload_len);
    if seg.flags & (SYN | FIN) != 0 {
        next = next.wrapping_add(1);
    }
    // A zero-window probe's byte does not move the sequence space on.
    let probe = bits & ZERO_WINDOW_PROBE != 0;
    if (seq_gt(next, fwd.nextseq) || fwd.nextseq == 0) && !probe {
        fwd.nextseq = next;
        fwd.nextseq_ts = seg.ts;
    }
    if (seq == fwd.maxseqtobeacked || fwd.maxseqtobeacked == 0) && !probe {
        fwd.maxseqtobeacked = fwd.nextseq;
    }
    fwd.window = seg.window;
    fwd.lastack = seg.ack;
    fwd.lastack_ts = seg.ts;
    fwd.last_bits = bits;
    fwd.unseen_said = false;
}

/// Add a segment's marks to its sender's counts (allocated at the side's first mark).
pub fn count(counts: &mut Option<Box<MarkCounts>>, bits: u16) {
    if bits == 0 {
        return;
    }
    let c = counts.get_or_insert_with(Default::default);
    for (i, (bit, _)) in KINDS.iter().enumerate() {
        if bits & bit != 0 {
            c[i] = c[i].saturating_add(1);
        }
    }
}

/// The count of one kind (a `KINDS` bit) in `counts`.
pub fn count_of(counts: Option<&MarkCounts>, bit: u16) -> u32 {
    let at = KINDS.iter().position(|(b, _)| *b == bit);
    match (counts, at) {
        (Some(c), Some(i)) => c[i],
        _ => 0,
    }
}

#[cfg(test)]
mod tests;
