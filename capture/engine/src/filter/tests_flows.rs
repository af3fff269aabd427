//! Each term, and the operators' precedence, on hand-built flows.

use super::Filter;
use crate::flow::Flow;
use crate::segment::Segment;
use crate::tcpstate::Side as Dir;
use crate::tracker::segmaker::{Conv, Send};
use crate::tracker::{FlowTracker, TrackerConfig};

/// The flow the segments make (the last segment's).
fn flow_of(segs: Vec<Segment>) -> Flow {
    let mut t = FlowTracker::new(TrackerConfig::default()).expect("default config");
    let mut id = 0;
    for seg in segs {
        id = t.ingest(seg, &[]);
    }
    t.flow(id).expect("tracked").clone()
}

fn at(t: f64) -> Send {
    Send {
        at: Some(t),
        ..Send::default()
    }
}

/// 10.0.0.1:40000 > 10.0.0.2:80: handshake at 100 s (iRTT 31 ms), 300 bytes each way.
fn session() -> Flow {
    let mut c = Conv::default();
    let segs = vec![
        c.send(true, "S", 0, at(100.0)),
        c.send(false, "S.", 0, at(100.030)),
        c.send(true, ".", 0, at(100.031)),
        c.send(true, "P.", 300, at(100.5)),
        c.send(false, "P.", 300, at(101.0)),
        c.send(
            false,
            "P.",
            300,
            Send {
                seq: Some(5001),
                ..at(101.5)
            },
        ), // a retransmission
    ];
    flow_of(segs)
}

/// A SYN sent three times, never answered, on IPv6 and VLAN 100.
fn unanswered() -> Flow {
    let mut c = Conv::new(("2001:db8::1", 50000), ("2001:db8::2", 443)).vlan(&[100]);
    let mut segs = vec![c.send(true, "S", 0, at(10.0))];
    for t in [11.0, 13.0] {
        segs.push(c.send(
            true,
            "S",
            0,
            Send {
                seq: Some(1000),
                ..at(t)
            },
        ));
    }
    flow_of(segs)
}

fn yes(flow: &Flow, expr: &str) -> bool {
    Filter::compile(expr)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
        .matches(flow)
}

fn check(flow: &Flow, cases: &[(&str, bool)]) {
    for &(expr, want) in cases {
        assert_eq!(yes(flow, expr), want, "{expr}");
    }
}

#[test]
#[rustfmt::skip]
fn ports() {
    check(&session(), &[
        ("port 80", true), ("80", true), ("port 40000", true), ("port 443", false),
        ("port > 40000", false), ("port >= 40000", true), ("port < 80", false),
        ("port <= 80", true), ("port != 80", true), ("port == 81", false), ("port = 80", true),
    ]);
}

#[test]
#[rustfmt::skip]
fn hosts_and_nets_compare_raw_bytes() {
    let (v4, v6) = (session(), unanswered());
    check(&v4, &[
        ("host 10.0.0.1", true), ("host 10.0.0.3", false), ("host ::ffff:10.0.0.1", false),
        ("net 10.0.0.0/30", true), ("net 10.0.0.4/30", false), ("net 10.0.0.2/31", true),
        ("net 10.0.0.4/255.255.255.252", false), ("net 0.0.0.0/0", true), ("net ::/0", false),
    ]);
    check(&v6, &[
        ("host 2001:db8::2", true), ("host [2001:DB8::1]", true), ("host 10.0.0.1", false),
        ("net 2001:db8::/32", true), ("net 2001:db9::/32", false), ("net 2001:db8::2/127", true),
        ("net 2001:db8::/127", true), ("net 2001:db8::/128", false), ("net 0.0.0.0/0", false),
    ]);
}

#[test]
#[rustfmt::skip]
fn states_conn_and_flags() {
    let (s, u) = (session(), unanswered());
    check(&s, &[
        ("state established", true), ("state ESTAB", true), ("state syn-sent", false),
        ("conn S1", true), ("conn s0", false), ("flags syn", true), ("flags synack", true),
        ("flags ack", true), ("flags psh", true), ("flags fin", false), ("flags rst", false),
    ]);
    check(&u, &[
        ("state syn_sent", true), ("state unknown", true), ("conn S0", true), ("flags ack", false),
        ("flags synack", false), ("flag SYN", true),
    ]);
    let mut c = Conv::default();
    let rare = flow_of(vec![c.c("S", 0), c.s("S.", 0), c.c("UEW.", 0), c.s("R.", 0)]);
    check(&rare, &[
        ("flags urg", true), ("flags ece", true), ("flags cwr", true), ("flags rst", true),
        ("flags fin", false), ("conn RSTR", true),
    ]);
}

#[test]
#[rustfmt::skip]
fn counts_and_times() {
    let (s, u) = (session(), unanswered());
    check(&s, &[
        ("pkts == 6", true), ("pkts > 6", false), ("bytes == 900", true), ("bytes >= 901", false),
        ("retrans = 1", true), ("retries > 0", false), ("irtt > 30ms", true),
        ("irtt > 32000us", false), ("irtt < 0.04", true), ("duration == 1.5", true),
        ("duration > 1s", true), ("duration != 1500ms", false),
        ("analysis retransmission", true), ("analysis Duplicate_ACK", false),
        ("dupacks == 0", true), ("not analysis keep-alive", true),
    ]);
    check(&u, &[
        ("retries == 2", true), ("retries >= 3", false), ("duration == 3", true),
        ("analysis retransmission", true), ("dupacks > 0", false),
        // Without a handshake iRTT no comparison holds, `!=` included.
        ("irtt != 0", false), ("irtt >= 0", false), ("not irtt >= 0", true),
    ]);
}

#[test]
fn proc_is_a_case_insensitive_substring_of_either_end() {
    let mut f = session();
    check(&f, &[("proc nginx", false)]);
    f.set_proc(Dir::Resp, Some((42, "ircd: Nginx-like worker".into())));
    check(
        &f,
        &[
            ("proc nginx", true),
            ("proc NGINX-LIKE", true),
            ("proc apache", false),
        ],
    );
    f.set_proc(Dir::Orig, Some((7, "ΣΊΣΥΦΟΣ".into())));
    // Python's lower() ends a word with final sigma.
    check(
        &f,
        &[
            ("proc σίσυφος", true),
            ("proc ΣΊΣΥΦΟΣ", true),
            ("proc σίσυφοσ", false),
        ],
    );
    f.set_proc(Dir::Orig, Some((7, "İstanbul".into())));
    // "İ" lower-cases to "i" and a combining dot (not a word character of a token).
    check(
        &f,
        &[
            ("proc İSTANBUL", true),
            ("proc stanbul", true),
            ("proc istanbul", false),
        ],
    );
}

/// The ids among `ids` whose flow `expr` selects.
fn selected(expr: &str, ids: std::ops::Range<u64>) -> Vec<u64> {
    let filter = Filter::compile(expr).expect("compiles");
    let mut f = session();
    ids.filter(|&id| {
        f.id = id;
        filter.matches(&f)
    })
    .collect()
}

#[test]
fn vlan_and_ids() {
    let u = unanswered();
    check(
        &u,
        &[("vlan 100", true), ("vlan 0", false), ("vlan 99999", false)],
    );
    check(&session(), &[("vlan 0", false)]);
    assert_eq!(selected("id 3,7,12-14", 1..20), [3, 7, 12, 13, 14]);
    assert_eq!(selected("id 1-4,9,11-12", 1..15), [1, 2, 3, 4, 9, 11, 12]);
}

#[test]
#[rustfmt::skip]
fn precedence() {
    check(&session(), &[
        // and binds tighter than or; not tighter than both; parentheses override.
        ("port 1 or port 80 and port 2", false), ("port 80 or port 1 and port 2", true),
        ("(port 80 or port 1) and port 2", false), ("not port 80 or port 40000", true),
        ("not (port 80 or port 1)", false), ("! port 1 && port 80", true),
        ("port 1 || port 2 || ! ! port 80", true), ("NOT port 80 AND port 40000", false),
        ("port 80 and not port 1 and not not port 40000", true),
    ]);
}

#[test]
fn an_empty_filter_matches_every_flow() {
    let filter = Filter::compile("").expect("compiles");
    assert!(filter.matches(&session()) && filter.matches(&unanswered()));
}

#[test]
#[rustfmt::skip]
fn dupacks_count_both_sides() {
    let mut c = Conv::default();
    let mut segs = vec![c.c("S", 0), c.s("S.", 0), c.c(".", 0), c.s(".", 100), c.c(".", 0)];
    let hole = c.nxt[1];
    c.nxt[1] += 100;
    segs.push(c.s(".", 100)); // previous segment not captured
    let dup = Send { ack: Some(hole), ..Send::default() };
    segs.extend((0..3).map(|_| c.send(true, ".", 0, dup.clone())));
    check(&flow_of(segs), &[
        ("dupacks == 3", true), ("dupacks > 3", false), ("analysis duplicate_ack", true),
        ("analysis lost_segment", true), ("analysis fast_retransmission", false),
    ]);
}
