//! The tcpdump-like line per segment (Python: `capture.printer.SegmentPrinter`).
//!
//! The format follows `tcpdump -n`: time, `IP`/`IP6`, `src.port > dst.port`, `Flags [..]`, seq,
//! ack, win, urg, options, length. Sequence numbers are relative to each direction's first
//! sequence number (its ISN when the SYN was seen), as tcpdump and Wireshark show them;
//! `absolute` is `-S`. The line ends with the flow's id and any state the segment moved an
//! endpoint to.

mod clock;
pub(crate) mod text;

use crate::segment::{parse_options, Segment, ACK, FIN, RST, SYN, URG};
use crate::tcpstate::{Side, Transition};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Write as _;

pub use self::clock::Clock;
use self::text::{push_dec, write_addr, write_flags};

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
    bases: HashMap<(u64, bool), u32, BuildHasherDefault<IdHasher>>,
}

/// A multiplicative hash for (flow id, direction) keys: flow ids are the tracker's counters, not
/// chosen by a sender, so SipHash's flooding defence buys nothing here.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
}

impl Printer {
    /// A printer with relative sequence numbers unless `absolute` (`-S`), and times in local
    /// time (as the TZ environment variable says) unless `utc`.
    pub fn new(absolute: bool, utc: bool) -> Printer {
        Printer {
            absolute,
            clock: Clock::new(utc),
            bases: HashMap::default(),
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
        out.push(b'.');
        push_dec(out, seg.sport.into());
        out.extend_from_slice(b" > ");
        write_addr(out, &seg.dst);
        out.push(b'.');
        push_dec(out, seg.dport.into());
        out.extend_from_slice(b": Flags [");
        write_flags(out, seg.flags);
        out.push(b']');
        let (seq, ack) = self.seq_ack(seg, flow_id, from_orig);
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
