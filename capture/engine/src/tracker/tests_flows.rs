//! FlowTracker on hand-built segments: identity, orientation, handshake, teardown, bounds
//! (Python: tests/test_flows.py).

use super::segmaker::{make_segment, syn_options, Conv, Fields, Send};
use super::*;
use crate::tcpstate::{Side as Dir, TcpState};

pub(super) fn tracker() -> FlowTracker {
    FlowTracker::new(TrackerConfig::default()).expect("default config")
}

pub(super) fn with(cfg: TrackerConfig) -> FlowTracker {
    FlowTracker::new(cfg).expect("valid config")
}

pub(super) fn feed(t: &mut FlowTracker, segs: Vec<Segment>) -> Vec<u64> {
    segs.into_iter().map(|s| t.ingest(s, &[])).collect()
}

pub(super) fn last<'a>(t: &'a FlowTracker, ids: &[u64]) -> &'a Flow {
    t.flow(*ids.last().expect("a segment")).expect("tracked")
}

pub(super) fn at(t: f64) -> Send {
    Send {
        at: Some(t),
        ..Send::default()
    }
}

pub(super) fn handshake(c: &mut Conv, t0: f64) -> Vec<Segment> {
    let opts = |mss, ws, ts| Send {
        opts: syn_options(mss, Some(ws), true, ts),
        ..at(0.0)
    };
    vec![
        c.send(
            true,
            "S",
            0,
            Send {
                at: Some(t0),
                ..opts(1460, 7, true)
            },
        ),
        c.send(
            false,
            "S.",
            0,
            Send {
                at: Some(t0 + 0.030),
                ..opts(1380, 9, false)
            },
        ),
        c.send(true, ".", 0, at(t0 + 0.031)),
    ]
}

fn close_to(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn handshake_record() {
    let mut c = Conv::default().isns(111, 222);
    let mut segs = handshake(&mut c, 100.0);
    segs.extend([c.c("P.", 300), c.s(".", 0)]);
    let mut t = tracker();
    let ids = feed(&mut t, segs);
    let rec = last(&t, &ids).record();
    assert_eq!((rec.isn_orig, rec.isn_resp), (Some(111), Some(222)));
    assert_eq!(
        (rec.mss_orig, rec.mss_resp, rec.wscale_orig, rec.wscale_resp),
        (Some(1460), Some(1380), Some(7), Some(9))
    );
    assert_eq!((rec.sack_perm, rec.timestamps), (Some(true), Some(false)));
    assert!(close_to(rec.rtt_syn_synack.unwrap_or(0.0), 0.030));
    assert!(close_to(rec.rtt_synack_ack.unwrap_or(0.0), 0.001));
    assert!(close_to(rec.irtt.unwrap_or(0.0), 0.031));
    assert_eq!(
        (rec.state_orig, rec.state_resp, rec.direction_inferred),
        ("ESTABLISHED", "ESTABLISHED", false)
    );
    assert_eq!(
        (rec.orig_pkts, rec.resp_pkts, rec.payload_orig),
        (3, 2, 300)
    );
}

#[test]
fn uid_is_zeek_style_and_follows_the_id() {
    // Python: _uid(1) and _uid(2); seed 0 hashes the id alone, as tcpwatch did before seeds.
    assert_eq!(crate::flow::uid(0, 1), "CFPnExO2gvHCzSm7V2");
    let u = crate::flow::uid(0, 2);
    assert!(
        u.len() == 18 && u.starts_with('C') && u[1..].chars().all(|c| c.is_ascii_alphanumeric())
    );
    let mut t = tracker();
    let id = t.ingest(Conv::default().c("S", 0), &[]);
    assert_eq!(t.flow(id).map(Flow::uid), Some(crate::flow::uid(0, 1)));
}

#[test]
fn uids_follow_the_seed() {
    let zeek_style = |u: &str| {
        u.len() == 18 && u.starts_with('C') && u[1..].chars().all(|c| c.is_ascii_alphanumeric())
    };
    let seeded = |seed: u64| {
        let mut t = FlowTracker::new(TrackerConfig {
            uid_seed: seed,
            ..TrackerConfig::default()
        })
        .expect("a tracker");
        let id = t.ingest(Conv::default().c("S", 0), &[]);
        t.flow(id).map(Flow::uid).expect("a flow")
    };
    // The same seed gives the same uids; another seed (a byte more, or the same bytes shifted)
    // others; a run's own seed, drawn from the OS, others again.
    assert_eq!(seeded(7), seeded(7));
    let uids: std::collections::HashSet<String> = [0, 1, 7, 256, 1 << 63, u64::MAX]
        .into_iter()
        .map(seeded)
        .chain([
            seeded(crate::flow::random_seed()),
            seeded(crate::flow::random_seed()),
        ])
        .collect();
    assert_eq!(uids.len(), 8);
    assert!(uids.iter().all(|u| zeek_style(u)));
    assert_ne!(crate::flow::random_seed(), crate::flow::random_seed());
}

#[test]
fn counters_per_direction() {
    let mut c = Conv::default();
    let mut segs = handshake(&mut c, 100.0);
    segs.extend([c.c("P.", 100), c.s("PE.", 50), c.c("F.", 0), c.s("R", 0)]);
    let orig_ip: u64 = segs
        .iter()
        .filter(|s| s.sport == 40000)
        .map(|s| u64::from(s.ip_len))
        .sum();
    let mut t = tracker();
    let ids = feed(&mut t, segs);
    let f = last(&t, &ids);
    assert_eq!((f.orig.pkts, f.resp.pkts), (4, 3));
    assert_eq!(f.orig.ip_bytes, orig_ip);
    assert_eq!((f.orig.payload, f.resp.payload), (100, 50));
    let o = f.orig.flags();
    let r = f.resp.flags();
    let v = |x: &crate::export::FlagCounts| {
        [
            x.syn, x.synack, x.fin, x.rst, x.psh, x.urg, x.ece, x.cwr, x.ack,
        ]
    };
    assert_eq!(v(&o), [1, 0, 1, 0, 1, 0, 0, 0, 3]);
    assert_eq!(v(&r), [0, 1, 0, 1, 1, 0, 1, 0, 2]);
}

#[test]
fn both_directions_one_flow_and_loopback_same_address() {
    let mut c = Conv::new(("127.0.0.1", 50000), ("127.0.0.1", 8080));
    let mut segs = handshake(&mut c, 100.0);
    segs.push(c.s("P.", 10));
    let mut t = tracker();
    let ids = feed(&mut t, segs);
    assert!(ids.iter().all(|i| *i == ids[0]));
    let f = last(&t, &ids);
    assert_eq!((f.orig_port(), f.resp_port()), (50000, 8080));
    assert_eq!((f.orig.pkts, f.resp.pkts), (2, 2));
}

#[test]
fn vlans_separate_flows() {
    let mut t = tracker();
    let a = t.ingest(Conv::default().vlan(&[10]).c("S", 0), &[]);
    let b = t.ingest(Conv::default().vlan(&[10, 20]).c("S", 0), &[]);
    let c = t.ingest(Conv::default().vlan(&[10]).c("S", 0), &[]);
    assert!(a == c && a != b);
    assert_eq!(t.flow(b).map(|f| f.record().vlan), Some(vec![10, 20]));
}

#[test]
fn syn_retry_gaps() {
    let mut c = Conv::default();
    let mut segs: Vec<Segment> = [0.0, 1.0, 3.0, 7.0]
        .iter()
        .map(|dt| {
            c.send(
                true,
                "S",
                0,
                Send {
                    seq: Some(1000),
                    ..at(50.0 + dt)
                },
            )
        })
        .collect();
    segs.push(c.send(false, "S.", 0, at(57.2)));
    segs.push(c.send(true, ".", 0, at(57.25)));
    let mut t = tracker();
    let ids = feed(&mut t, segs);
    assert!(ids.iter().all(|i| *i == ids[0]));
    let f = last(&t, &ids);
    assert_eq!(f.syn_retries(), 3);
    assert_eq!(f.syn_retry_gaps(), vec![1.0, 2.0, 4.0]);
    assert!((f.rtt_syn_synack.unwrap_or(0.0) - 0.2).abs() < 1e-6);
    assert!((f.irtt.unwrap_or(0.0) - 0.25).abs() < 1e-6);
    assert_eq!(f.orig.retrans, 3);
}

#[test]
fn synack_retries() {
    let mut c = Conv::default();
    let segs = vec![
        c.send(true, "S", 0, at(1.0)),
        c.send(false, "S.", 0, at(1.1)),
        c.send(
            false,
            "S.",
            0,
            Send {
                seq: Some(5000),
                ..at(2.1)
            },
        ),
    ];
    let mut t = tracker();
    let ids = feed(&mut t, segs);
    let f = last(&t, &ids);
    assert_eq!((f.synack_retries(), f.synack_retry_gaps()), (1, vec![1.0]));
}

fn ack(n: u32) -> Send {
    Send {
        ack: Some(n),
        ..Send::default()
    }
}

/// The teardown segments of each close kind, after a handshake.
fn close(c: &mut Conv, kind: &str) -> Vec<Segment> {
    match kind {
        "fin-4way" => vec![c.c("F.", 0), c.s(".", 0), c.s("F.", 0), c.c(".", 0)],
        "fin-3way" => vec![c.c("F.", 0), c.s("F.", 0), c.c(".", 0)],
        "simultaneous" => vec![
            c.c("F.", 0),
            c.send(false, "F.", 0, ack(1001)),
            c.c(".", 0),
            c.s(".", 0),
        ],
        "rst" => vec![c.s("R.", 0)],
        "fin-then-rst" => vec![c.c("F.", 0), c.s("R.", 0)],
        "half-closed" => vec![c.c("F.", 0), c.s(".", 0), c.s("P.", 20)],
        "" => vec![c.c("P.", 20)],
        "fin-4way-then-rst" => vec![
            c.c("F.", 0),
            c.s(".", 0),
            c.s("F.", 0),
            c.c(".", 0),
            c.c("R", 0),
        ],
        _ => unreachable!(),
    }
}

#[test]
fn close_kinds() {
    for (kind, expected, closed_by, time_wait_by, closed) in [
        ("fin-4way", "fin-4way", "orig", "orig", true),
        ("fin-3way", "fin-3way", "orig", "orig", true),
        ("simultaneous", "simultaneous", "orig", "both", true),
        ("rst", "rst", "resp", "", true),
        ("fin-then-rst", "fin-then-rst", "orig", "", true),
        ("half-closed", "half-closed", "orig", "", false),
        ("", "", "", "", false),
        ("fin-4way-then-rst", "fin-4way", "orig", "orig", true),
    ] {
        let mut c = Conv::default();
        let mut segs = handshake(&mut c, 100.0);
        segs.extend(close(&mut c, kind));
        let mut t = tracker();
        let ids = feed(&mut t, segs);
        let f = last(&t, &ids);
        let got = (
            f.close_kind(),
            f.closed_by_name(),
            f.time_wait_by(),
            f.closed(),
        );
        assert_eq!(got, (expected, closed_by, time_wait_by, closed), "{kind}");
    }
}

#[test]
fn rst_by_and_state() {
    let mut c = Conv::default();
    let segs = vec![c.c("S", 0), c.send(false, "R.", 0, ack(1001))];
    let mut t = tracker();
    let ids = feed(&mut t, segs);
    let f = last(&t, &ids);
    assert_eq!(
        (f.rst_by, f.rst_state, f.close_kind()),
        (Some(Dir::Resp), TcpState::Unknown, "rst")
    );
    assert!((f.irtt.unwrap_or(0.0) - 0.001).abs() < 1e-6);
}

#[test]
fn port_reuse() {
    for (before, new_isn, new_flow) in [
        ("fin-4way", 9_000_000, true),
        ("fin-3way", 9_000_000, true),
        ("rst", 9_000_000, true),
        ("fin-4way", 1000, false),
        ("", 9_000_000, true),
    ] {
        let mut c = Conv::default();
        let mut segs = handshake(&mut c, 100.0);
        segs.extend(close(&mut c, before));
        let mut t = tracker();
        let first = *feed(&mut t, segs).last().expect("segments");
        c.nxt[0] = new_isn;
        let nxt = t.ingest(c.c("S", 0), &[]);
        assert_eq!(nxt != first, new_flow, "{before} {new_isn}");
        if new_flow {
            assert!(t.flow(first).is_some_and(|f| f.superseded));
            assert_eq!(nxt, first + 1);
            let f = t.flow(nxt).expect("new flow");
            assert_eq!(
                (f.orig.ep.isn, f.orig.pkts, f.state_orig()),
                (Some(new_isn), 1, TcpState::SynSent)
            );
            let synack = c.send(
                false,
                "S.",
                0,
                Send {
                    seq: Some(7777),
                    ..Send::default()
                },
            );
            assert_eq!(t.ingest(synack, &[]), nxt);
            assert!(t.flow(first).is_some());
        }
    }
}

#[test]
fn sequence_wrap_is_not_a_retransmission() {
    let mut c = Conv::default().isns(u32::MAX - 99, 5000);
    let mut segs = handshake(&mut c, 100.0);
    segs.extend([c.c("P.", 60), c.c("P.", 60), c.c("P.", 60)]);
    let last_seq = segs[segs.len() - 1].seq;
    let mut t = tracker();
    let ids = feed(&mut t, segs);
    let f = last(&t, &ids);
    assert_eq!(f.orig.retrans, 0);
    assert_eq!(f.orig.hi, Some((u32::MAX - 99).wrapping_add(181)));
    let again = c.send(
        true,
        "P.",
        60,
        Send {
            seq: Some(last_seq),
            ..Send::default()
        },
    );
    let id = t.ingest(again, &[]);
    assert_eq!(t.flow(id).map(|f| f.orig.retrans), Some(1));
}

#[test]
fn keepalive_is_not_a_retransmission() {
    let mut c = Conv::default();
    let mut segs = handshake(&mut c, 100.0);
    segs.push(c.c("P.", 10));
    segs.push(c.send(
        true,
        ".",
        1,
        Send {
            seq: Some(1010),
            ..Send::default()
        },
    ));
    let mut t = tracker();
    let ids = feed(&mut t, segs);
    assert_eq!(last(&t, &ids).orig.retrans, 0);
}

#[test]
fn zero_window() {
    let mut c = Conv::default();
    let zero = || Send {
        window: Some(0),
        ..Send::default()
    };
    let mut segs = handshake(&mut c, 100.0);
    segs.extend([
        c.send(false, ".", 0, zero()),
        c.send(false, ".", 0, zero()),
        c.send(true, "R.", 0, zero()),
    ]);
    let mut t = tracker();
    let ids = feed(&mut t, segs);
    let f = last(&t, &ids);
    assert_eq!(
        (
            f.resp.zero_window,
            f.orig.zero_window,
            f.record().zero_window
        ),
        (2, 0, 2)
    );
}

#[test]
fn illegal_flags() {
    for (flags, names) in [
        ("SF", vec![("syn+fin", 1)]),
        ("SR", vec![("syn+rst", 1)]),
        ("FR.", vec![("fin+rst", 1)]),
        ("none", vec![("null", 1)]),
        ("FPU", vec![("xmas", 1)]),
        (
            "SFRPU.",
            vec![("syn+fin", 1), ("syn+rst", 1), ("fin+rst", 1), ("xmas", 1)],
        ),
        ("S", vec![]),
    ] {
        let bits = super::segmaker::flag_bits(flags);
        let f = Fields {
            seq: 5,
            ..Fields::default()
        };
        let seg = make_segment("10.0.0.9", 1234, "10.0.0.10", 22, bits, f);
        let mut t = tracker();
        let id = t.ingest(seg, &[]);
        let got = t.flow(id).map(|f| f.record().illegal_flags);
        assert_eq!(got, Some(names), "{flags}");
    }
}

#[test]
fn orientation_first_syn() {
    let mut c = Conv::new(("10.0.0.1", 80), ("10.0.0.2", 40000));
    let mut t = tracker();
    let id = t.ingest(c.c("S", 0), &[]);
    let f = t.flow(id).expect("flow");
    assert_eq!((f.orig_port(), f.direction_inferred), (80, false));
}

#[test]
fn orientation_synack_first() {
    let mut c = Conv::default();
    let segs = vec![c.send(false, "S.", 0, ack(1001)), c.c(".", 0), c.c("P.", 5)];
    let mut t = tracker();
    let ids = feed(&mut t, segs);
    let f = last(&t, &ids);
    assert_eq!(
        (f.orig_port(), f.resp_port(), f.direction_inferred),
        (40000, 80, true)
    );
    assert!(f.history().starts_with('^'));
    assert_eq!((f.orig.pkts, f.resp.pkts), (2, 1));
}

#[test]
fn orientation_synack_before_syn() {
    let mut c = Conv::default();
    let segs = vec![c.send(false, "S.", 0, ack(1001)), c.c("S", 0), c.c(".", 0)];
    let mut t = tracker();
    let ids = feed(&mut t, segs);
    assert!(ids.iter().all(|i| *i == ids[0]));
    let f = last(&t, &ids);
    assert_eq!(
        (f.orig_port(), f.direction_inferred, f.orig.ep.isn),
        (40000, false, Some(1000))
    );
}

#[test]
fn orientation_mid_stream() {
    for (client, orig_port) in [(true, 40000), (false, 40000)] {
        let mut c = Conv::default();
        let mut t = tracker();
        let id = t.ingest(c.send(client, "P.", 100, Send::default()), &[]);
        let f = t.flow(id).expect("flow");
        assert_eq!((f.orig_port(), f.direction_inferred), (orig_port, true));
        assert_eq!(f.history().starts_with('^'), !client);
    }
}

#[test]
fn orientation_listen_ports() {
    let server = super::segmaker::addr("10.0.0.2");
    for listen in [(None, 7000), (Some(server), 7000)] {
        let mut c = Conv::new(("10.0.0.1", 50123), ("10.0.0.2", 7000));
        let mut t = tracker();
        t.listen_ports.insert(listen);
        let id = t.ingest(c.s("P.", 10), &[]);
        let f = t.flow(id).expect("flow");
        assert_eq!(
            (f.orig_port(), f.resp_port(), f.direction_inferred),
            (50123, 7000, true)
        );
    }
}

#[test]
fn tfo_cookie_and_syn_data() {
    let mut tfo = vec![34, 10];
    tfo.extend([1u8; 8]);
    let mut c = Conv::default();
    let mut t = tracker();
    let seg = c.send(
        true,
        "S",
        120,
        Send {
            opts: tfo,
            ..Send::default()
        },
    );
    let id = t.ingest(seg, &[]);
    let f = t.flow(id).expect("flow");
    assert_eq!((f.orig.tfo(), f.orig.syn_data), (Some(&[1u8; 8][..]), 120));
}

#[test]
fn simultaneous_open_is_one_flow() {
    let mut c = Conv::new(("10.0.0.1", 5000), ("10.0.0.2", 6000)).isns(10, 20);
    let seq = |n| Send {
        seq: Some(n),
        ..Send::default()
    };
    let segs = vec![
        c.c("S", 0),
        c.s("S", 0),
        c.send(true, "S.", 0, seq(10)),
        c.send(false, "S.", 0, seq(20)),
        c.c(".", 0),
    ];
    let mut t = tracker();
    let ids = feed(&mut t, segs);
    assert!(ids.iter().all(|i| *i == ids[0]));
    let f = last(&t, &ids);
    assert_eq!((f.orig_port(), f.direction_inferred), (5000, false));
    assert_eq!(
        (f.orig.ep.isn, f.resp.ep.isn, f.state_orig(), f.state_resp()),
        (
            Some(10),
            Some(20),
            TcpState::Established,
            TcpState::Established
        )
    );
    assert_eq!((f.orig.syn, f.resp.syn, f.resp.synack), (1, 1, 1));
}
