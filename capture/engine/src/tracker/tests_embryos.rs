//! Embryos: flows that have seen one SYN only, kept packed (Python: tests/test_embryos.py).
//! That they change nothing that comes out, on every bundled capture, is checked by
//! `tests/tracker_xcheck.rs`; here the same is checked on a hand-made mix.

use super::segmaker::{Conv, Send};
use super::*;

fn embryo_tracker(max_flows: usize) -> FlowTracker {
    FlowTracker::new(TrackerConfig {
        max_flows,
        frames_per_flow: 0,
        linger: Some(5.0),
        embryos: true,
        ..TrackerConfig::default()
    })
    .expect("valid config")
}

fn syn(i: u32) -> Conv {
    let client = format!("10.9.{}.{}", i / 250, i % 250 + 1);
    Conv::new((&client, 40000 + i as u16), ("10.0.0.80", 80)).isns(i * 7, 5000)
}

#[test]
fn a_flood_stays_packed_until_a_flow_grows() {
    let mut t = embryo_tracker(100_000);
    let mut convs: Vec<Conv> = (0..500).map(syn).collect();
    for c in &mut convs {
        t.add(c.c("S", 0), &[]);
    }
    assert_eq!((t.flow_count(), t.tracked()), (500, 500));
    assert!(t.flows.is_empty());
    t.add(convs[7].s("S.", 0), &[]); // the server answers one: it grows, SYN first
    assert_eq!((t.flows.len(), t.tracked()), (1, 500));
    let grown = t.flow(8).expect("grown");
    assert_eq!(
        (
            grown.orig.ep.isn,
            grown.orig_port(),
            grown.direction_inferred
        ),
        (Some(49), 40007, false)
    );
    assert_eq!((grown.orig.pkts, grown.resp.pkts), (1, 1));
    let mut seen = Vec::new();
    t.for_each_flow(|f| seen.push((f.id, f.orig.pkts)));
    assert_eq!(
        seen.iter().map(|s| s.0).collect::<Vec<_>>(),
        (1..=500).collect::<Vec<_>>()
    );
    assert_eq!(seen[0].1, 1);
}

#[test]
fn a_new_syn_on_an_embryo_grows_it_then_starts_the_next_flow() {
    let mut t = embryo_tracker(100_000);
    let mut first = Conv::default().isns(1000, 5000);
    t.add(first.c("S", 0), &[]);
    let again = first.send(
        true,
        "S",
        0,
        Send {
            seq: Some(1000),
            ..Send::default()
        },
    );
    t.add(again, &[]); // the same ISN: a retransmission, same flow
    let mut other = Conv::default().isns(90_000, 5000);
    t.add(other.c("S", 0), &[]); // a new ISN on the 4-tuple: a new flow (port reuse)
    let mut seen = Vec::new();
    t.for_each_flow(|f| seen.push((f.id, f.orig.pkts, f.syn_retries())));
    assert_eq!(seen, vec![(1, 2, 1), (2, 1, 0)]);
}

#[test]
fn embryos_need_a_tracker_without_frames() {
    let cfg = TrackerConfig {
        frames_per_flow: 4,
        embryos: true,
        ..TrackerConfig::default()
    };
    assert!(FlowTracker::new(cfg).is_err());
}

/// The records as the headless export writes them: the flows that left, then the rest.
fn export(segs: &[Segment], embryos: bool, max_flows: usize) -> Vec<crate::export::FlowRecord> {
    let mut t = FlowTracker::new(TrackerConfig {
        max_flows,
        frames_per_flow: 0,
        linger: Some(5.0),
        embryos,
        ..TrackerConfig::default()
    })
    .expect("valid config");
    let mut out = Vec::new();
    for seg in segs {
        if embryos {
            t.add(seg.clone(), &[]);
        } else {
            t.ingest(seg.clone(), &[]);
        }
        out.extend(t.take_gone().iter().map(Flow::record));
    }
    t.finish();
    t.for_each_flow(|f| out.push(f.record()));
    out
}

#[test]
fn embryos_change_nothing_that_comes_out() {
    // A scan with some answers, resets and retries, over time, with and without a tight cap.
    let mut segs = Vec::new();
    let mut convs: Vec<Conv> = (0..300).map(|i| syn(i % 150).t0(f64::from(i))).collect();
    for (i, c) in convs.iter_mut().enumerate() {
        segs.push(c.c("S", 0));
        match i % 5 {
            0 => segs.extend([
                c.s("S.", 0),
                c.c(".", 0),
                c.c("F.", 0),
                c.s("F.", 0),
                c.c(".", 0),
            ]),
            1 => segs.push(c.s("R.", 0)),
            2 => segs.push(c.send(
                true,
                "S",
                0,
                Send {
                    seq: Some(c.nxt[0] - 1),
                    ..Send::default()
                },
            )),
            _ => {}
        }
    }
    segs.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    for max_flows in [100_000, 64, 3] {
        assert_eq!(
            export(&segs, true, max_flows),
            export(&segs, false, max_flows),
            "{max_flows}"
        );
    }
}

#[test]
fn embryo_round_trips_its_segment() {
    let mut c = Conv::new(("2001:db8::1", 1), ("2001:db8::2", 2)).vlan(&[7, 8]);
    let mut long = vec![1u8; 30];
    long.extend([2, 4, 5, 0xb4]);
    let mut seg = c.send(
        true,
        "SE",
        12,
        Send {
            opts: long,
            ..Send::default()
        },
    );
    seg.bad_opts = Some("odd".into());
    seg.truncated = true;
    let e = embryo::Embryo::pack(9, &seg);
    assert_eq!(e.segment(), seg);
    let mut embryos = embryo::Embryos::default();
    embryos.insert(e);
    let key = embryo::key_of(&seg);
    assert!(embryos.contains(&key));
    assert_eq!(embryos.remove(&key).map(|e| e.segment()), Some(seg));
    assert!(embryos.is_empty());
}

#[test]
fn sizes_stay_small() {
    let sizes = (
        std::mem::size_of::<Flow>(),
        std::mem::size_of::<crate::flow::Side>(),
        std::mem::size_of::<embryo::Embryo>(),
    );
    eprintln!(
        "size_of Flow {}, Side {}, Embryo {}",
        sizes.0, sizes.1, sizes.2
    );
    assert!(sizes.2 <= 136);
}

#[test]
fn an_embryo_named_its_process_grows_and_keeps_it() {
    let mut t = embryo_tracker(100);
    let mut c = syn(3);
    t.add(c.c("S", 0), &[]);
    assert!(t.flows.is_empty());
    let mut before = None;
    t.for_each_flow(|f| before = Some(f.record()));
    let owner: Owner = (4242, Box::from("curl"));
    assert!(t.set_proc(1, crate::tcpstate::Side::Orig, Some(owner.clone())));
    assert_eq!((t.flows.len(), t.tracked()), (1, 1));
    let grown = t.flow(1).expect("grown");
    assert_eq!(grown.proc(crate::tcpstate::Side::Orig), Some(&owner));
    let mut after = grown.record();
    after.pid_orig = None;
    after.proc_orig = None;
    assert_eq!(Some(after), before);
    assert!(!t.set_proc(99, crate::tcpstate::Side::Orig, None));
}
