//! The filter language on real flows (Python: tests/test_filterexpr.py's corpus tests): seven
//! flows of the bundled captures, through the Rust reader, decoder and tracker, and the
//! expressions that must select exactly the expected ones.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use _engine::filter::Filter;
use _engine::flow::Flow;
use _engine::tcpstate::{Side as Dir, TcpState};

/// label -> (capture, a port of the flow): the flows of the corpus.
const CORPUS: [(&str, &str, u16); 7] = [
    ("http_fin", "pcapplusplus_one_http_stream_fin.pcap", 49486), // v4, port 80, FIN close
    ("irc_rej", "zeek_irc-353.pcap", 65388),                      // ::1, SYN answered by RST
    ("irc_sess", "zeek_irc-353.pcap", 65389),                     // 127.0.0.1 IRC session
    ("sack_s0", "zeek_tcp_option-sack.pcap", 20), // 127.0.0.1 SYN retried 3 times, no answer
    ("retrans", "chrissanders_tcp_retransmissions.pcapng", 1048), // mid-stream retransmissions
    ("smtp6", "zeek_communityid_ipv6.pcap", 63943), // IPv6 SMTP
    ("vlan_http", "zeek_http-vlan-0.pcap", 59856), // 802.1Q VLAN 0, port 80
];

fn corpus() -> BTreeMap<&'static str, Flow> {
    let mut out = BTreeMap::new();
    for (label, capture, port) in CORPUS {
        let flows = common::flows::track(capture).expect("a bundled capture");
        let mut hits: Vec<Flow> = flows
            .into_iter()
            .filter(|f| f.orig_port() == port || f.resp_port() == port)
            .collect();
        assert_eq!(hits.len(), 1, "{label}");
        out.insert(label, hits.remove(0));
    }
    out
}

fn matched(corpus: &BTreeMap<&'static str, Flow>, expr: &str) -> BTreeSet<&'static str> {
    let filter = Filter::compile(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
    corpus
        .iter()
        .filter(|(_, f)| filter.matches(f))
        .map(|(l, _)| *l)
        .collect()
}

const ALL: &[&str] = &[
    "http_fin",
    "irc_rej",
    "irc_sess",
    "sack_s0",
    "retrans",
    "smtp6",
    "vlan_http",
];

fn all_but(out: &[&'static str]) -> Vec<&'static str> {
    ALL.iter().copied().filter(|l| !out.contains(l)).collect()
}

fn matches_table() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("", ALL.to_vec()),
        ("port 80", vec!["http_fin", "sack_s0", "vlan_http"]),
        ("80", vec!["http_fin", "sack_s0", "vlan_http"]),
        ("port 6666", vec!["irc_rej", "irc_sess"]),
        ("port > 60000", vec!["irc_rej", "irc_sess", "smtp6"]),
        ("host ::1", vec!["irc_rej"]),
        ("host [::1]", vec!["irc_rej"]),
        ("host 127.0.0.1", vec!["irc_sess", "sack_s0"]),
        ("host 2607:f8b0:400c:c03::1a", vec!["smtp6"]),
        ("net 127.0.0.0/8", vec!["irc_sess", "sack_s0"]),
        ("net 10.3.0.0/16", vec!["retrans"]),
        ("net 2000::/3", vec!["smtp6"]),
        ("net ::/0", vec!["irc_rej", "smtp6"]),
        ("net 0.0.0.0/0", all_but(&["irc_rej", "smtp6"])),
        ("net 10.2.0.0/15", vec!["retrans"]),
        ("net 10.4.0.0/14", vec![]),
        (
            "net 192.168.1.0/25 or net 127.0.0.1/32",
            vec!["http_fin", "irc_sess", "sack_s0"],
        ),
        ("net 192.168.1.128/25", vec![]),
        ("net 2607:f8b0:4000::/36", vec!["smtp6"]),
        ("net 2607:f8b0:4010::/44", vec![]),
        ("net ::1/128", vec!["irc_rej"]),
        ("vlan 0", vec!["vlan_http"]),
        ("flags ack", all_but(&["sack_s0"])),
        ("flags rst", vec!["irc_rej"]),
        (
            "flags synack",
            vec!["http_fin", "irc_sess", "smtp6", "vlan_http"],
        ),
        ("FLAGS SYN and not flags synack", vec!["irc_rej", "sack_s0"]),
        ("retries > 0", vec!["sack_s0"]),
        ("retries >= 3 && retries <= 3", vec!["sack_s0"]),
        ("retrans > 0 and net 10.0.0.0/8", vec!["retrans"]),
        ("proc nginx", vec![]),
        ("not port 80 and not port 6666", vec!["retrans", "smtp6"]),
        ("!(port 80 || port 6666)", vec!["retrans", "smtp6"]),
        ("not not port 25", vec!["smtp6"]),
        // precedence: and binds tighter than or; parentheses override
        (
            "port 6666 or port 80 and host 127.0.0.1",
            vec!["irc_rej", "irc_sess", "sack_s0"],
        ),
        (
            "(port 6666 or port 80) and host 127.0.0.1",
            vec!["irc_sess", "sack_s0"],
        ),
        ("port 80 && !host 127.0.0.1", vec!["http_fin", "vlan_http"]),
        (
            "port 80 AND NOT vlan 0 OR host ::1",
            vec!["http_fin", "sack_s0", "irc_rej"],
        ),
        ("id 2", vec!["irc_sess"]),
        ("id 2,5-6 and port 6666", vec!["irc_sess"]),
        ("id 1-999999999", ALL.to_vec()),
    ]
}

#[test]
fn expressions_select_exactly_the_expected_flows() {
    let corpus = corpus();
    for (expr, want) in matches_table() {
        let want: BTreeSet<&str> = want.into_iter().collect();
        assert_eq!(matched(&corpus, expr), want, "{expr}");
        if !expr.is_empty() {
            let rest: BTreeSet<&str> = ALL.iter().copied().filter(|l| !want.contains(l)).collect();
            assert_eq!(
                matched(&corpus, &format!("not ({expr})")),
                rest,
                "not ({expr})"
            );
        }
    }
}

#[test]
fn conn_and_state_match_each_flow_s_own_values() {
    let corpus = corpus();
    for conn in [
        "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH",
    ] {
        let want: BTreeSet<&str> = corpus
            .iter()
            .filter(|(_, f)| f.conn_state() == conn)
            .map(|(l, _)| *l)
            .collect();
        assert_eq!(
            matched(&corpus, &format!("conn {}", conn.to_lowercase())),
            want,
            "{conn}"
        );
    }
    for state in [
        TcpState::Unknown,
        TcpState::Closed,
        TcpState::Listen,
        TcpState::SynSent,
        TcpState::SynReceived,
        TcpState::Established,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::CloseWait,
        TcpState::Closing,
        TcpState::LastAck,
        TcpState::TimeWait,
    ] {
        let want: BTreeSet<&str> = corpus
            .iter()
            .filter(|(_, f)| f.state_orig() == state || f.state_resp() == state)
            .map(|(l, _)| *l)
            .collect();
        let name = state.name().to_lowercase().replace('_', "-");
        assert_eq!(matched(&corpus, &format!("state {name}")), want, "{name}");
    }
}

#[test]
fn concrete_states() {
    let corpus = corpus();
    assert!(matched(&corpus, "conn REJ").contains("irc_rej"));
    assert!(matched(&corpus, "conn S0 and state syn_sent").contains("sack_s0"));
    assert!(matched(&corpus, "conn SF").contains("http_fin"));
}

#[test]
fn irtt_compares_in_seconds_whatever_the_unit() {
    let corpus = corpus();
    assert!(corpus["irc_sess"].irtt.is_some() && corpus["retrans"].irtt.is_none());
    for (text, seconds) in [
        ("10ms", 0.010),
        ("250us", 250e-6),
        ("0.5s", 0.5),
        ("1", 1.0),
    ] {
        let want: BTreeSet<&str> = corpus
            .iter()
            .filter(|(_, f)| f.irtt.is_some_and(|v| v > seconds))
            .map(|(l, _)| *l)
            .collect();
        assert_eq!(matched(&corpus, &format!("irtt > {text}")), want, "{text}");
    }
    assert!(!matched(&corpus, "irtt >= 0s").contains("retrans"));
    assert!(matched(&corpus, "not irtt >= 0s").contains("retrans"));
}

#[test]
fn proc_matches_either_end_case_insensitively() {
    let mut corpus = corpus();
    if let Some(flow) = corpus.get_mut("irc_sess") {
        flow.set_proc(Dir::Resp, Some((42, "ircd: Nginx-like worker".into())));
    }
    assert_eq!(matched(&corpus, "proc nginx"), BTreeSet::from(["irc_sess"]));
    assert_eq!(
        matched(&corpus, "proc NGINX and port 6666"),
        BTreeSet::from(["irc_sess"])
    );
}
