//! The tcpdump-like line per segment (Python: `capture.printer.SegmentPrinter`).
//!
//! The format follows `tcpdump -n`: time, `IP`/`IP6`, `src.port > dst.port`, `Flags [..]`, seq,
//! ack, win, urg, options, length. Sequence numbers are relative to each direction's base as
//! the tracker keeps it (`Side::rel_base`, which the flow screen's ladder reads too): its ISN
//! when its SYN was seen, as tcpdump and Wireshark count; for a flow seen mid-stream, tcpdump's
//! base (the peer's first ack - 1, else the direction's first sequence number). A SYN's line
//! shows both numbers absolute, as tcpdump prints it (the ISN it chooses, and ISN + 1 on a
//! SYN/ACK); every other line shows both relative (tcpdump prints the first line of a flow
//! seen mid-stream, and segments without ACK, absolute). `absolute` is `-S`. The line ends with
//! the flow's id and any state the segment moved an endpoint to.

mod clock;
pub(crate) mod text;

use crate::flow::Flow;
use crate::segment::{parse_options, Segment, ACK, FIN, RST, SYN, URG};
use crate::tcpstate::{Side, Transition};
use std::io::Write as _;

pub use self::clock::Clock;
use self::text::{push_dec, write_addr, write_flags};

/// Transitions of the flow looked at: a segment moves at most both endpoints (and a port-reuse
/// restart), so the last few suffice.
const RECENT_MOVES: usize = 4;

/// The sequence text tcpdump prints: none (a bare ACK), one number, or `first:end`.
enum Seq {
    Omitted,
    One(u32),
    Range(u32, u32),
}

/// Formats segments.
pub struct Printer {
    absolute: bool,
    clock: Clock,
}

impl Printer {
    /// A printer with relative sequence numbers unless `absolute` (`-S`), and times in local
    /// time (as the TZ environment variable says) unless `utc`.
    pub fn new(absolute: bool, utc: bool) -> Printer {
        Printer {
            absolute,
            clock: Clock::new(utc),
        }
    }

    /// Appends the line for `seg` (and its `\n`) to `out`. `seg` has just been given to
    /// `flow`, sent by its originator if `from_orig`; the line shows the transitions it made.
    pub fn line(&mut self, out: &mut Vec<u8>, seg: &Segment, flow: &Flow, from_orig: bool) {
        self.clock.write_time(seg.ts, out);
        out.extend_from_slice(if seg.ip_version == 4 {
            b" IP "
        } else {
            b" IP6 "
        });
        write_addr(out, &seg.src);
        out.push(b'.');
        push_dec(out, seg.sport.into());
        out.extend_from_slice(b" > ");
        write_addr(out, &seg.dst);
        out.push(b'.');
        push_dec(out, seg.dport.into());
        out.extend_from_slice(b": Flags [");
        write_flags(out, seg.flags);
        out.push(b']');
        let (seq, ack) = self.seq_ack(seg, flow, from_orig);
        if let Seq::One(seq) | Seq::Range(seq, _) = seq {
            out.extend_from_slice(b", seq ");
            push_dec(out, seq.into());
        }
        if let Seq::Range(_, end) = seq {
            out.push(b':');
            push_dec(out, end.into());
        }
        if let Some(ack) = ack {
            out.extend_from_slice(b", ack ");
            push_dec(out, ack.into());
        }
        out.extend_from_slice(b", win ");
        push_dec(out, seg.window.into());
        if seg.flags & URG != 0 {
            out.extend_from_slice(b", urg ");
            push_dec(out, seg.urg_ptr.into());
        }
        if !seg.opts.is_empty() {
            out.extend_from_slice(b", options [");
            write_options(out, seg.opts.as_slice());
            out.push(b']');
        }
        if let Some(bad) = seg.bad_opts.as_deref().filter(|b| !b.is_empty()) {
            let _ = write!(out, ", [{bad}]");
        }
        out.extend_from_slice(b", length ");
        push_dec(out, seg.payload_len.into());
        write_tail(out, seg, flow.id, flow.transitions());
        out.push(b'\n');
    }

    /// Sequence and ack as tcpdump prints them (`None` when tcpdump leaves the ack out).
    fn seq_ack(&self, seg: &Segment, flow: &Flow, from_orig: bool) -> (Seq, Option<u32>) {
        let (mine, theirs) = if from_orig {
            (&flow.orig, &flow.resp)
        } else {
            (&flow.resp, &flow.orig)
        };
        let relative = !self.absolute && seg.flags & SYN == 0;
        let from = |base: Option<u32>, n: u32| match base.filter(|_| relative) {
            Some(base) => n.wrapping_sub(base),
            None => n,
        };
        let ack = (seg.flags & ACK != 0).then(|| from(theirs.rel_base(), seg.ack));
        let seq = from(mine.rel_base(), seg.seq);
        let seq = if seg.payload_len != 0 {
            Seq::Range(seq, seq.wrapping_add(seg.payload_len))
        } else if seg.flags & (SYN | FIN | RST) != 0 {
            Seq::One(seq)
        } else {
            Seq::Omitted // tcpdump leaves out the sequence number of a bare ACK
        };
        (seq, ack)
    }
}

/// `name value` per option, `,`-separated, and `,[why]` when the list is malformed.
fn write_options(out: &mut Vec<u8>, raw: &[u8]) {
    let opts = parse_options(raw);
    for (i, (_, name, value)) in opts.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(name.as_bytes());
        if !value.is_empty() {
            out.push(b' ');
            out.extend_from_slice(value.as_bytes());
        }
    }
    if !opts.malformed.is_empty() {
        let _ = write!(out, ",[{}]", opts.malformed);
    }
}

/// `  #id`, then the states this segment moved an endpoint to (`client SYN_SENT; server ...`).
fn write_tail(out: &mut Vec<u8>, seg: &Segment, flow_id: u64, moves: &[Transition]) {
    out.extend_from_slice(b"  #");
    push_dec(out, flow_id);
    let recent = &moves[moves.len().saturating_sub(RECENT_MOVES)..];
    let mine = recent.iter().filter(|t| t.frame_no == seg.frame_no);
    for (i, t) in mine.enumerate() {
        out.extend_from_slice(if i == 0 { b" " } else { b"; " });
        out.extend_from_slice(match t.side {
            Side::Orig => b"client ",
            Side::Resp => b"server ",
        });
        out.extend_from_slice(t.new.name().as_bytes());
    }
}

#[cfg(test)]
mod tests;
