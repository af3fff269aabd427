//! The kernel filter: "TCP only" ANDed with the user's `-f`, compiled by libpcap.
//!
//! Port of `capture/bpf.py`: the same expressions, and a bad expression reported in one line
//! naming the user's text, before any privilege is needed (a dead handle compiles it).

use super::pyrepr::py_repr;

/// TCP, untagged or behind one or two VLAN tags (802.1ad QinQ: a capture file's decoder reads
/// those too). libpcap's `vlan` shifts every later offset by 4, in every later branch: so the
/// second tag is looked for inside the first's branch, not beside it.
pub const DEFAULT_FILTER: &str = "tcp or (vlan and (tcp or (vlan and tcp)))";
/// Cooked captures hand the filter the network header; the kernel strips VLAN tags there.
pub const COOKED_DEFAULT_FILTER: &str = "tcp";
const DLT_EN10MB: i32 = 1;
/// libpcap's DLT for frames that start at the IP header (bpf.py's choice for cooked sockets).
const DLT_RAW: i32 = 12;

/// The expression actually compiled: TCP only, ANDed with the user's expression.
///
/// The user's expression is repeated after `vlan` so that, in the tagged branches, it is read
/// with the shifted offsets (bpf.py `capture_filter`).
pub fn capture_filter(user: Option<&str>, cooked: bool) -> String {
    match user.filter(|u| !u.is_empty()) {
        None if cooked => COOKED_DEFAULT_FILTER.to_string(),
        None => DEFAULT_FILTER.to_string(),
        Some(u) if cooked => format!("tcp and ({u})"),
        Some(u) => {
            format!("(tcp and ({u})) or (vlan and ((tcp and ({u})) or (vlan and tcp and ({u}))))")
        }
    }
}

/// One line for a filter libpcap rejects: `bad capture filter 'EXPR': REASON`.
pub fn bad_filter(expr: &str, err: &pcap::Error) -> String {
    let reason = match err {
        pcap::Error::PcapError(text) => text.split_whitespace().collect::<Vec<_>>().join(" "),
        pcap::Error::InvalidInputString => "it contains a NUL character".to_string(),
        other => other.to_string(),
    };
    format!("bad capture filter {}: {reason}", py_repr(expr))
}

/// Compile `expr` on a dead handle of the capture's framing, without privilege.
pub fn check(expr: &str, cooked: bool) -> Result<(), String> {
    let dlt = if cooked { DLT_RAW } else { DLT_EN10MB };
    let dead = pcap::Capture::dead(pcap::Linktype(dlt)).map_err(|e| bad_filter(expr, &e))?;
    dead.compile(expr, true)
        .map(|_| ())
        .map_err(|e| bad_filter(expr, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_like_bpf_py() {
        assert_eq!(capture_filter(None, false), DEFAULT_FILTER);
        assert_eq!(capture_filter(Some(""), true), "tcp");
        assert_eq!(capture_filter(Some("port 80"), true), "tcp and (port 80)");
        assert_eq!(
            capture_filter(Some("port 80"), false),
            "(tcp and (port 80)) or (vlan and ((tcp and (port 80)) \
             or (vlan and tcp and (port 80))))"
        );
    }

    #[test]
    fn bad_expressions_are_named_with_libpcap_reason() {
        // The same lines as bpf.py through scapy (checked with the reference venv).
        let err = check("port porrt", false).unwrap_err();
        assert_eq!(err, "bad capture filter 'port porrt': unknown port 'porrt'");
        let err = check("tcp and (", true).unwrap_err();
        assert_eq!(
            err,
            "bad capture filter 'tcp and (': can't parse filter expression: syntax error"
        );
        assert!(check("port 80", false).is_ok() && check("port 80", true).is_ok());
        assert!(check("a\0b", false).unwrap_err().contains("NUL"));
    }
}
