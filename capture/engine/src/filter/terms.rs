//! The filter terms and the values they read (Python: `filterexpr`'s primitives, `_port`,
//! `_count`, `_duration`, `parse_address`, `parse_network`).

use std::cmp::Ordering;

use super::ipaddr;
use super::lex::{digit_value, is_number, show, Token};
use super::parse::Parser;
use super::{Count, FilterError, Flag, Secs, Term};
use crate::flow::analysis::KINDS;
use crate::tcpstate::TcpState;

/// A comparison of a flow's value with the filter's (Python's `operator` functions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

impl Cmp {
    /// `a OP b`; a NaN compares as in Python (only `!=` holds).
    #[inline]
    pub fn test<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
        }
    }
}

/// The terms by keyword, sorted as Python's `sorted(_PRIMITIVES)` lists them in errors.
pub(crate) const TERMS: &str =
    "analysis, bytes, conn, dupacks, duration, flag, flags, host, id, irtt, net, pkts, port, \
                     proc, retrans, retries, state, vlan";

/// The RFC 9293 states by the names `state` takes (Python: `STATES`).
const STATES: [(&str, TcpState); 12] = [
    ("UNKNOWN", TcpState::Unknown),
    ("CLOSED", TcpState::Closed),
    ("LISTEN", TcpState::Listen),
    ("SYN_SENT", TcpState::SynSent),
    ("SYN_RECEIVED", TcpState::SynReceived),
    ("ESTABLISHED", TcpState::Established),
    ("FIN_WAIT_1", TcpState::FinWait1),
    ("FIN_WAIT_2", TcpState::FinWait2),
    ("CLOSE_WAIT", TcpState::CloseWait),
    ("CLOSING", TcpState::Closing),
    ("LAST_ACK", TcpState::LastAck),
    ("TIME_WAIT", TcpState::TimeWait),
];
const KNOWN_STATES: &str = "close_wait, closed, closing, established, fin_wait_1, fin_wait_2, \
                            last_ack, listen, syn_received, syn_sent, time_wait, unknown";

/// Zeek's conn_state values (Python: `CONN_STATES`), sorted as the error lists them.
const CONN_STATES: [&str; 13] = [
    "OTH", "REJ", "RSTO", "RSTOS0", "RSTR", "RSTRH", "S0", "S1", "S2", "S3", "SF", "SH", "SHR",
];

/// The flag names `flags` takes, in Python's order (`FLAGS`).
const FLAGS: [(&str, Flag); 9] = [
    ("syn", Flag::Syn),
    ("synack", Flag::Synack),
    ("fin", Flag::Fin),
    ("rst", Flag::Rst),
    ("psh", Flag::Psh),
    ("ack", Flag::Ack),
    ("urg", Flag::Urg),
    ("ece", Flag::Ece),
    ("cwr", Flag::Cwr),
];

/// `state_name`: an RFC 9293 state name normalised (`syn-sent`, `Syn_Sent` → `SYN_SENT`).
pub fn state_name(text: &str) -> String {
    let name = text.to_uppercase().replace('-', "_");
    match name.as_str() {
        "SYN_RCVD" | "SYN_RECV" => "SYN_RECEIVED".into(),
        "ESTAB" => "ESTABLISHED".into(),
        _ => name,
    }
}

/// A decimal number as written, saturated past `u128` (it then exceeds any flow's count).
fn whole(text: &str) -> u128 {
    text.bytes().fold(0u128, |n, b| {
        n.saturating_mul(10).saturating_add(u128::from(b - b'0'))
    })
}

/// Two digit strings compared by value, whatever their length (Python's ints are unbounded).
fn cmp_decimal(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// `_port`: a port number 0-65535.
pub(super) fn port(tok: Token<'_>) -> Result<u16, FilterError> {
    let value = if is_number(tok.text) {
        u16::try_from(whole(tok.text)).ok()
    } else {
        None
    };
    value.ok_or_else(|| {
        let msg = format!("expected a port number 0-65535, got {}", show(tok.text));
        FilterError::new(msg, tok.pos)
    })
}

/// `_count`: a whole number.
fn count(tok: Token<'_>) -> Result<u128, FilterError> {
    if !is_number(tok.text) {
        let msg = format!("expected a whole number, got {}", show(tok.text));
        return Err(FilterError::new(msg, tok.pos));
    }
    Ok(whole(tok.text))
}

/// `_duration`: seconds from `10ms`, `250us`, `1.5s` or `2` (seconds); `_DURATION_RE` with
/// Python's `\d` (any script's digits, which `float()` reads too) and IGNORECASE units.
fn duration(tok: Token<'_>) -> Result<f64, FilterError> {
    let error = || {
        let msg = format!(
            "expected a duration like 10ms, 250us or 1.5s, got {}",
            show(tok.text)
        );
        FilterError::new(msg, tok.pos)
    };
    let mut number = String::with_capacity(tok.text.len());
    let (mut digits, mut dot) = (0usize, false);
    let mut unit_at = tok.text.len();
    for (at, c) in tok.text.char_indices() {
        if let Some(d) = digit_value(c) {
            number.push(char::from(b'0' + d));
            digits += 1;
        } else if c == '.' && !dot {
            number.push('.');
            dot = true;
        } else {
            unit_at = at;
            break;
        }
    }
    // `\d+(?:\.\d*)?|\.\d+`: a lone dot is no number.
    if digits == 0 {
        return Err(error());
    }
    // The regex also takes U+017F (long s) for `s`, but Python then fails on `.lower()` with a
    // KeyError; here that unit is refused as a bad duration.
    let scale = match tok.text[unit_at..].to_ascii_lowercase().as_str() {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "us" => 1e-6,
        _ => return Err(error()),
    };
    let seconds: f64 = number.parse().map_err(|_| error())?;
    Ok(seconds * scale)
}

/// `id 3,7,12-40`: inclusive ranges of flow ids.
fn id_spans(tok: Token<'_>) -> Result<Box<[(u128, u128)]>, FilterError> {
    let mut spans = Vec::new();
    for part in tok.text.split(',') {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        if !is_number(lo) || !is_number(hi) || cmp_decimal(hi, lo) == Ordering::Less {
            let msg = format!("expected flow ids like 3,7,12-40, got {}", show(tok.text));
            return Err(FilterError::new(msg, tok.pos));
        }
        spans.push((whole(lo), whole(hi)));
    }
    Ok(spans.into())
}

/// The term a keyword (`port`, `host` ...) starts, its arguments read from `p`.
pub(super) fn build(p: &mut Parser<'_>, kw: Token<'_>) -> Result<Term, FilterError> {
    let word = kw.text.to_lowercase();
    Ok(match word.as_str() {
        "port" if p.at_comparator() => {
            let cmp = p.comparator(kw)?;
            Term::PortCmp(cmp, port(p.take("a port number after the comparison")?)?)
        }
        "port" => Term::Port(port(p.take("a port number after 'port'")?)?),
        "host" => host(p.take("an address after 'host'")?)?,
        "net" => net(p.take("a network after 'net'")?)?,
        "state" => state(p.take("a TCP state after 'state'")?)?,
        "conn" => conn(p.take("a Zeek conn_state after 'conn'")?)?,
        "flags" | "flag" => flag(p.take("a flag name after 'flags'")?)?,
        "proc" => Term::Proc(
            p.take("a process name after 'proc'")?
                .text
                .to_lowercase()
                .into(),
        ),
        "vlan" => Term::Vlan(u16::try_from(count(p.take("a VLAN id after 'vlan'")?)?).ok()),
        "id" => Term::Id(id_spans(p.take("flow ids after 'id' (like 3,7,12-40)")?)?),
        "retries" => numeric(p, kw, Count::Retries)?,
        "retrans" => numeric(p, kw, Count::Retrans)?,
        "dupacks" => numeric(p, kw, Count::DupAcks)?,
        "analysis" => mark(p.take("a TCP analysis kind after 'analysis'")?)?,
        "pkts" => numeric(p, kw, Count::Pkts)?,
        "bytes" => numeric(p, kw, Count::Bytes)?,
        "irtt" => timed(p, kw, Secs::Irtt)?,
        "duration" => timed(p, kw, Secs::Duration)?,
        _ => {
            let msg = format!("unknown filter term {} (try: {TERMS})", show(kw.text));
            return Err(FilterError::new(msg, kw.pos));
        }
    })
}

fn value_after(kw: Token<'_>) -> String {
    format!("a value after {} and the comparison", show(kw.text))
}

fn numeric(p: &mut Parser<'_>, kw: Token<'_>, what: Count) -> Result<Term, FilterError> {
    let cmp = p.comparator(kw)?;
    Ok(Term::Count(what, cmp, count(p.take(&value_after(kw))?)?))
}

fn timed(p: &mut Parser<'_>, kw: Token<'_>, what: Secs) -> Result<Term, FilterError> {
    let cmp = p.comparator(kw)?;
    Ok(Term::Secs(what, cmp, duration(p.take(&value_after(kw))?)?))
}

fn host(tok: Token<'_>) -> Result<Term, FilterError> {
    let text = tok.text.trim_matches(|c| c == '[' || c == ']');
    ipaddr::ip_address(text).map(Term::Host).ok_or_else(|| {
        let msg = format!("expected an IPv4 or IPv6 address, got {}", show(tok.text));
        FilterError::new(msg, tok.pos)
    })
}

fn net(tok: Token<'_>) -> Result<Term, FilterError> {
    let text = tok.text.trim_matches(|c| c == '[' || c == ']');
    let net = ipaddr::ip_network(text).map_err(|err| {
        let msg = format!(
            "expected a network like 10.0.0.0/8, got {} ({err})",
            show(tok.text)
        );
        FilterError::new(msg, tok.pos)
    })?;
    Ok(Term::Net(super::NetMatch::new(
        net.addr.as_slice(),
        net.prefix,
    )))
}

fn state(tok: Token<'_>) -> Result<Term, FilterError> {
    let name = state_name(tok.text);
    match STATES.iter().find(|(n, _)| *n == name) {
        Some(&(_, st)) => Ok(Term::State(st)),
        None => {
            let msg = format!("unknown state {} (one of: {KNOWN_STATES})", show(tok.text));
            Err(FilterError::new(msg, tok.pos))
        }
    }
}

fn conn(tok: Token<'_>) -> Result<Term, FilterError> {
    let name = tok.text.to_uppercase();
    match CONN_STATES.iter().find(|n| **n == name) {
        Some(&n) => Ok(Term::Conn(n)),
        None => {
            let known = CONN_STATES.join(" ");
            let msg = format!("unknown conn_state {} (one of: {known})", show(tok.text));
            Err(FilterError::new(msg, tok.pos))
        }
    }
}

fn flag(tok: Token<'_>) -> Result<Term, FilterError> {
    let name = tok.text.to_lowercase();
    match FLAGS.iter().find(|(n, _)| *n == name) {
        Some(&(_, f)) => Ok(Term::Flag(f)),
        None => {
            let known: Vec<&str> = FLAGS.iter().map(|(n, _)| *n).collect();
            let msg = format!(
                "unknown flag {} (one of: {})",
                show(tok.text),
                known.join(" ")
            );
            Err(FilterError::new(msg, tok.pos))
        }
    }
}

/// `analysis KIND`: one of Wireshark's `tcp.analysis` names (`duplicate_ack`, `keep_alive` …).
fn mark(tok: Token<'_>) -> Result<Term, FilterError> {
    let name = tok.text.to_lowercase().replace('-', "_");
    match KINDS.iter().find(|(_, n)| *n == name) {
        Some(&(bit, _)) => Ok(Term::Mark(bit)),
        None => {
            let known: Vec<&str> = KINDS.iter().map(|(_, n)| *n).collect();
            let msg = format!(
                "unknown TCP analysis kind {} (one of: {})",
                show(tok.text),
                known.join(" ")
            );
            Err(FilterError::new(msg, tok.pos))
        }
    }
}
