//! The tcpdump-like line per segment (Python: `capture.printer.SegmentPrinter`).
//!
//! The format follows `tcpdump -n`: time, `IP`/`IP6`, `src.port > dst.port`, `Flags [..]`, seq,
//! ack, win, urg, options, length. Sequence numbers are relative to each direction's first
//! sequence number (its ISN when the SYN was seen), as tcpdump and Wireshark show them;
//! `absolute` is `-S`. The line ends with the flow's id and any state the segment moved an
//! endpoint to.

mod clock;
mod text;

use crate::segment::{parse_options, Segment, ACK, FIN, RST, SYN, URG};
use crate::tcpstate::{Side, Transition};
use std::collections::HashMap;
use std::io::Write as _;

pub use self::clock::Clock;
use self::text::{write_addr, write_flags};

/// Per-direction sequence bases remembered at most (then forgotten, as the tracker evicts
/// flows).
pub const MAX_BASES: usize = 1_000_000;

/// Transitions of the flow looked at: a segment moves at most both endpoints (and a port-reuse
/// restart), so the last few suffice.
const RECENT_MOVES: usize = 4;

/// The sequence text tcpdump prints: none (a bare ACK), one number, or `first:end`.
enum Seq {
    Omitted,
    One(u32),
    Range(u32, u32),
}

/// Formats segments; remembers each flow direction's first sequence number.
pub struct Printer {
    absolute: bool,
    clock: Clock,
    bases: HashMap<(u64, bool), u32>,
}

impl Printer {
    /// A printer with relative sequence numbers unless `absolute` (`-S`), and times in local
    /// time (as the TZ environment variable says) unless `utc`.
    pub fn new(absolute: bool, utc: bool) -> Printer {
        Printer {
            absolute,
            clock: Clock::new(utc),
            bases: HashMap::new(),
        }
    }

    /// Appends the line for `seg` (and its `\n`) to `out`. `seg` has just been given to flow
    /// `flow_id`, sent by its originator if `from_orig`; `moves` are the flow's last
    /// transitions (the printer shows those this segment made).
    pub fn line(
        &mut self,
        out: &mut Vec<u8>,
        seg: &Segment,
        flow_id: u64,
        from_orig: bool,
        moves: &[Transition],
    ) {
        self.clock.write_time(seg.ts, out);
        out.extend_from_slice(if seg.ip_version == 4 {
            b" IP "
        } else {
            b" IP6 "
        });
        write_addr(out, &seg.src);
        let _ = write!(out, ".{} > ", seg.sport);
        write_addr(out, &seg.dst);
        let _ = write!(out, ".{}: Flags [", seg.dport);
        write_flags(out, seg.flags);
        out.push(b']');
        let (seq, ack) = self.seq_ack(seg, flow_id, from_orig);
        let _ = match seq {
            Seq::Omitted => Ok(()),
            Seq::One(seq) => write!(out, ", seq {seq}"),
            Seq::Range(seq, end) => write!(out, ", seq {seq}:{end}"),
        };
        if let Some(ack) = ack {
            let _ = write!(out, ", ack {ack}");
        }
        let _ = write!(out, ", win {}", seg.window);
        if seg.flags & URG != 0 {
            let _ = write!(out, ", urg {}", seg.urg_ptr);
        }
        if !seg.opts.is_empty() {
            out.extend_from_slice(b", options [");
            write_options(out, seg.opts.as_slice());
            out.push(b']');
        }
        if let Some(bad) = seg.bad_opts.as_deref().filter(|b| !b.is_empty()) {
            let _ = write!(out, ", [{bad}]");
        }
        let _ = write!(out, ", length {}", seg.payload_len);
        write_tail(out, seg, flow_id, moves);
        out.push(b'\n');
    }

    /// Sequence and ack as tcpdump prints them (`None` when tcpdump leaves the ack out).
    fn seq_ack(&mut self, seg: &Segment, flow_id: u64, from_orig: bool) -> (Seq, Option<u32>) {
        let syn = seg.flags & SYN != 0;
        let key = (flow_id, from_orig);
        let base = match self.bases.get(&key) {
            Some(&base) if !syn => base,
            _ => {
                if self.bases.len() >= MAX_BASES {
                    self.bases.clear();
                }
                self.bases.insert(key, seg.seq);
                seg.seq
            }
        };
        let other = self.bases.get(&(flow_id, !from_orig)).copied();
        let ack = (seg.flags & ACK != 0).then(|| match other {
            Some(other) if !(self.absolute || syn) => seg.ack.wrapping_sub(other),
            _ => seg.ack,
        });
        let seq = if self.absolute || syn {
            seg.seq
        } else {
            seg.seq.wrapping_sub(base)
        };
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
    let _ = write!(out, "  #{flow_id}");
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
