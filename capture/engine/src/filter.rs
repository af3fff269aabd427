//! The display-filter language, shared by the TUI filter bar and the headless `-Y EXPR`
//! (Python: `capture.filterexpr`):
//!
//! ```text
//! port 443 and not state established
//! host 10.0.0.5 or net 2001:db8::/32
//! (flags rst || conn REJ) && retries > 0 && irtt > 10ms
//! dupacks > 2 or analysis zero_window
//! proc nginx
//! 80                      (a bare number means a port)
//! ```
//!
//! `Filter::compile` parses once into a tree of terms; `Filter::matches` walks it over a flow
//! with a few field reads and no allocation. A bad expression is a `FilterError` whose message
//! (and column) is the Python one, to the character.

use std::fmt;

use crate::flow::Flow;
use crate::segment::Addr;
use crate::tcpstate::{Side as Dir, TcpState};

mod chars;
mod ipaddr;
mod lex;
mod parse;
mod terms;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_flows;

pub use terms::state_name;
use terms::Cmp;

/// A filter expression that does not parse: what was expected, and at which character
/// (0-based, counted in characters as Python indexes a `str`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError {
    pub msg: String,
    pub pos: usize,
}

impl FilterError {
    fn new(msg: String, pos: usize) -> FilterError {
        FilterError { msg, pos }
    }
}

impl fmt::Display for FilterError {
    /// One line naming the column, as Python's `str(err)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.pos + 1, self.msg)
    }
}

impl std::error::Error for FilterError {}

/// Every term keyword of the language (`port`, `host`, ... ), sorted.
pub fn keywords() -> Vec<&'static str> {
    terms::TERMS.split(", ").collect()
}

/// A compiled filter expression: says whether a flow matches.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    /// None for the empty expression, which matches every flow.
    root: Option<Node>,
}

impl Filter {
    /// Compile `text`; an empty (or blank) expression matches every flow.
    pub fn compile(text: &str) -> Result<Filter, FilterError> {
        let tokens = lex::tokenize(text)?;
        if tokens.is_empty() {
            return Ok(Filter { root: None });
        }
        let end = text.chars().count();
        let root = parse::Parser::new(tokens, end).parse()?;
        Ok(Filter { root: Some(root) })
    }

    /// Whether `flow` matches.
    #[inline]
    pub fn matches(&self, flow: &Flow) -> bool {
        self.root.as_ref().is_none_or(|node| node.matches(flow))
    }

    /// The empty expression: every flow matches.
    pub fn is_empty(&self) -> bool {
        self.root.is_none()
    }
}

/// A node of the parsed expression; `and`/`or` chains are kept flat.
#[derive(Clone, Debug, PartialEq)]
enum Node {
    Term(Term),
    Not(Box<Node>),
    And(Box<[Node]>),
    Or(Box<[Node]>),
}

impl Node {
    fn matches(&self, f: &Flow) -> bool {
        match self {
            Node::Term(t) => t.matches(f),
            Node::Not(n) => !n.matches(f),
            Node::And(all) => all.iter().all(|n| n.matches(f)),
            Node::Or(any) => any.iter().any(|n| n.matches(f)),
        }
    }
}

/// A flag counted per side (`syn` is SYN without ACK, `ack` every segment with ACK).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flag {
    Syn,
    Synack,
    Fin,
    Rst,
    Psh,
    Ack,
    Urg,
    Ece,
    Cwr,
}

/// The whole-number values a numeric term compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Count {
    /// Retransmissions of the originator's SYN.
    Retries,
    /// Retransmitted segments, both sides.
    Retrans,
    /// Segments, both sides.
    Pkts,
    /// Payload bytes, both sides.
    Bytes,
    /// Duplicate ACKs (Wireshark's), both sides.
    DupAcks,
}

/// The times (seconds) a numeric term compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Secs {
    /// The handshake's iRTT; a flow without one never matches.
    Irtt,
    /// Last segment's time minus the first's.
    Duration,
}

/// `net`'s test on raw address bytes (Python's `in_net`): the whole prefix bytes, then the
/// masked partial byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct NetMatch {
    packed: Addr,
    size: usize,
    full: usize,
    mask: u8,
    tail: u8,
}

impl NetMatch {
    fn new(packed: &[u8], bits: u8) -> NetMatch {
        let (full, rem) = (usize::from(bits / 8), bits % 8);
        NetMatch {
            packed: Addr::new(packed),
            size: packed.len(),
            full,
            mask: 0xFFu8.checked_shl(u32::from(8 - rem)).unwrap_or(0),
            tail: if rem > 0 {
                packed.get(full).copied().unwrap_or(0)
            } else {
                0
            },
        }
    }

    #[inline]
    fn contains(&self, raw: &Addr) -> bool {
        let raw = raw.as_slice();
        raw.len() == self.size
            && raw[..self.full] == self.packed.as_slice()[..self.full]
            && (self.mask == 0 || raw[self.full] & self.mask == self.tail)
    }
}

/// One term, its arguments parsed.
#[derive(Clone, Debug, PartialEq)]
enum Term {
    /// `port N` (or a bare number): either end's port.
    Port(u16),
    /// `port OP N`: either end's port compares.
    PortCmp(Cmp, u16),
    /// `host ADDR`: either end's address, byte for byte.
    Host(Addr),
    Net(NetMatch),
    /// `state NAME`: either endpoint's state.
    State(TcpState),
    /// `conn NAME`: Zeek's conn_state.
    Conn(&'static str),
    /// `flags NAME`: either side sent one.
    Flag(Flag),
    /// `proc TEXT`: lower-cased, a substring of either end's lower-cased process name.
    Proc(Box<str>),
    /// `vlan N`: one of the flow's VLAN ids (None: past 65535, matches nothing).
    Vlan(Option<u16>),
    /// `id 3,7,12-40`: inclusive ranges.
    Id(Box<[(u128, u128)]>),
    Count(Count, Cmp, u128),
    /// `analysis KIND`: a segment with that TCP analysis mark (a `KINDS` bit) was seen.
    Mark(u16),
    Secs(Secs, Cmp, f64),
}

impl Term {
    #[inline]
    fn matches(&self, f: &Flow) -> bool {
        match self {
            Term::Port(p) => f.orig_port() == *p || f.resp_port() == *p,
            Term::PortCmp(cmp, p) => cmp.test(f.orig_port(), *p) || cmp.test(f.resp_port(), *p),
            Term::Host(a) => {
                let a = a.as_slice();
                f.orig_end().0.as_slice() == a || f.resp_end().0.as_slice() == a
            }
            Term::Net(net) => net.contains(&f.orig_end().0) || net.contains(&f.resp_end().0),
            Term::State(s) => f.state_orig() == *s || f.state_resp() == *s,
            Term::Conn(name) => f.conn_state() == *name,
            Term::Flag(flag) => flag_count(&f.orig, *flag) > 0 || flag_count(&f.resp, *flag) > 0,
            Term::Proc(needle) => has_proc(f, Dir::Orig, needle) || has_proc(f, Dir::Resp, needle),
            Term::Vlan(v) => v.is_some_and(|v| f.vlan().contains(&v)),
            Term::Id(spans) => {
                let id = u128::from(f.id);
                spans.iter().any(|&(lo, hi)| lo <= id && id <= hi)
            }
            Term::Count(what, cmp, v) => cmp.test(count(f, *what), *v),
            Term::Mark(bit) => f.orig.marked(*bit) > 0 || f.resp.marked(*bit) > 0,
            Term::Secs(what, cmp, v) => secs(f, *what).is_some_and(|x| cmp.test(x, *v)),
        }
    }
}

fn flag_count(s: &crate::flow::Side, flag: Flag) -> u64 {
    match flag {
        Flag::Syn => s.syn,
        Flag::Synack => s.synack,
        Flag::Fin => s.fin,
        Flag::Rst => s.rst,
        Flag::Psh => s.psh,
        Flag::Ack => s.pkts.saturating_sub(s.noack),
        Flag::Urg => s.urg,
        Flag::Ece => s.ece,
        Flag::Cwr => s.cwr,
    }
}

fn count(f: &Flow, what: Count) -> u128 {
    let both = |a: u64, b: u64| u128::from(a) + u128::from(b);
    match what {
        Count::Retries => u128::from(f.syn_retries()),
        Count::Retrans => both(f.orig.retrans, f.resp.retrans),
        Count::Pkts => both(f.orig.pkts, f.resp.pkts),
        Count::Bytes => both(f.orig.payload, f.resp.payload),
        Count::DupAcks => {
            let dup = crate::flow::analysis::DUPLICATE_ACK;
            both(f.orig.marked(dup).into(), f.resp.marked(dup).into())
        }
    }
}

fn secs(f: &Flow, what: Secs) -> Option<f64> {
    match what {
        Secs::Irtt => f.irtt,
        Secs::Duration => Some(f.last_ts - f.first_ts),
    }
}

/// Python's `needle in name.lower()`. An ASCII name (nearly every process) is searched in
/// place; any other is lower-cased first, as Python does, which allocates.
fn has_proc(f: &Flow, side: Dir, needle: &str) -> bool {
    let Some((_, name)) = f.proc(side) else {
        return false;
    };
    if name.is_ascii() {
        let (hay, pin) = (name.as_bytes(), needle.as_bytes());
        return pin.is_empty()
            || pin.len() <= hay.len()
                && hay
                    .windows(pin.len())
                    .any(|w| w.iter().zip(pin).all(|(h, p)| h.to_ascii_lowercase() == *p));
    }
    name.to_lowercase().contains(needle)
}
