//! FlowTracker's bounds and outputs on hand-built segments: eviction, kept frames, changed ids,
//! linger, and a property test over any segment sequence (Python: tests/test_flows.py).

use std::sync::Arc;

use super::segmaker::{Conv, Send};
use super::tests_flows::{at, feed, handshake, last, tracker, with};
use super::*;

#[test]
fn eviction_closed_first_then_idle() {
    let mut t = with(TrackerConfig {
        max_flows: 3,
        ..TrackerConfig::default()
    });
    t.take_changed();
    let mut convs: Vec<Conv> = (0..3)
        .map(|i| Conv::new(("10.0.0.1", 1000 + i), ("10.0.0.2", 80)).t0(10.0 * f64::from(i)))
        .collect();
    for (i, c) in convs.iter_mut().enumerate() {
        let segs = handshake(c, 1.0 + i as f64);
        feed(&mut t, segs);
    }
    let b_rst = convs[1].send(true, "R.", 0, at(4.0));
    let a_ack = convs[0].send(true, ".", 0, at(5.0));
    feed(&mut t, vec![b_rst, a_ack]);
    let mut d = Conv::new(("10.0.0.1", 2000), ("10.0.0.2", 80));
    t.ingest(d.send(true, "S", 0, at(6.0)), &[]);
    let gone: Vec<u64> = t.take_gone().iter().map(|f| f.id).collect();
    assert_eq!((gone, t.evicted), (vec![2], 1));
    let mut e = Conv::new(("10.0.0.1", 2001), ("10.0.0.2", 80));
    t.ingest(e.send(true, "S", 0, at(7.0)), &[]);
    let gone: Vec<u64> = t.take_gone().iter().map(|f| f.id).collect();
    assert_eq!(gone, vec![3]);
    let mut ids: Vec<u64> = t.flows.keys().copied().collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![1, 4, 5]);
    let changed = t.take_changed();
    assert!(changed.contains(&2) && changed.contains(&3));
    assert_eq!(t.ingest(convs[1].send(true, "P.", 10, at(8.0)), &[]), 6);
}

#[test]
fn frames_ring_and_kept_handshake() {
    let mut c = Conv::default();
    let mut segs = handshake(&mut c, 100.0);
    segs.extend((0..20).map(|_| c.c("P.", 10)));
    segs.push(c.c("F.", 0));
    let mut t = with(TrackerConfig {
        frames_per_flow: 4,
        ..TrackerConfig::default()
    });
    let ids: Vec<u64> = segs.into_iter().map(|s| t.ingest(s, &[1, 2, 3])).collect();
    let f = last(&t, &ids);
    let kept: Vec<u64> = f.frames().iter().map(|k| k.seg.frame_no).collect();
    assert_eq!(kept, vec![1, 2, 3, 21, 22, 23, 24]);
    assert_eq!((t.kept(), t.kept_bytes()), (4, 12));
    let mut none = with(TrackerConfig {
        frames_per_flow: 0,
        ..TrackerConfig::default()
    });
    let id = none.ingest(Conv::default().c("S", 0), &[1]);
    assert!(none.flow(id).is_some_and(|f| f.frames().is_empty()));
}

#[test]
fn frame_budget_empties_the_idlest_rings() {
    let mut t = with(TrackerConfig {
        frames_per_flow: 4,
        frame_budget: 8,
        ..TrackerConfig::default()
    });
    for port in 1..=3u16 {
        let mut c = Conv::new(("10.0.0.1", port), ("10.0.0.2", 80)).t0(f64::from(port));
        for _ in 0..4 {
            t.ingest(c.c("P.", 10), &[0; 5]);
        }
    }
    // 9 > 8 at the ninth: the idlest ring goes (5 left <= 6), then flow 3 fills its ring.
    assert_eq!((t.kept(), t.kept_bytes()), (8, 40));
    let ring = |id| t.flow(id).map(|f| f.kept.ring.is_some());
    assert_eq!(
        (ring(1), ring(2), ring(3)),
        (Some(false), Some(true), Some(true))
    );
    // The handshake-less first segment moved both endpoints: it stays, as a special one.
    assert_eq!(t.flow(1).map(|f| f.frames().len()), Some(1));
}

/// With many flows the idlest rings are picked out by a selection, not a sort of every ring
/// (`FrameRings::trim`): whatever the mix of ring lengths and byte sizes, after each segment
/// every flow that lost its ring was idler (last seen, then id) than every flow that has one.
#[test]
fn trimmed_rings_are_always_the_idlest_among_many() {
    let mut t = with(TrackerConfig {
        frames_per_flow: 4,
        frame_budget: 300,
        frame_bytes: 40_000,
        ..TrackerConfig::default()
    });
    let mut convs: Vec<Conv> = (0..500u16)
        .map(|i| Conv::new(("10.2.0.1", 1000 + i), ("10.0.0.2", 80)))
        .collect();
    let mut seen: HashMap<u64, u32> = HashMap::new(); // segments per flow id
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut trims = 0;
    for step in 0..4000u32 {
        xorshift(&mut state);
        // a few busy flows and many quiet ones, frames of 60 to 1,500 bytes
        let pick = (state % 500) as usize;
        let i = if state.is_multiple_of(3) {
            pick % 20
        } else {
            pick
        };
        let ts = 1000.0 + f64::from(step) * 0.01;
        let seg = convs[i].send(
            true,
            "P.",
            10,
            Send {
                at: Some(ts),
                ..Send::default()
            },
        );
        let before = t.kept();
        let id = t.ingest(seg, &vec![0u8; 60 + (state >> 20) as usize % 1440]);
        *seen.entry(id).or_default() += 1;
        trims += usize::from(t.kept() < before);
        assert!(t.kept() <= 300 && t.kept_bytes() <= 40_000);
        if t.kept() >= before {
            continue;
        }
        let (mut newest_without, mut idlest_with) = ((f64::MIN, 0), (f64::MAX, u64::MAX));
        t.for_each_flow(|f| {
            let has = f.kept.ring.as_ref().is_some_and(|r| !r.is_empty());
            let at = (f.last_ts, f.id);
            // a flow's first segment is kept apart (it moved the endpoints): no ring yet
            if has
                && at
                    .0
                    .total_cmp(&idlest_with.0)
                    .then(at.1.cmp(&idlest_with.1))
                    .is_lt()
            {
                idlest_with = at;
            } else if !has
                && seen.get(&f.id).is_some_and(|&n| n > 1)
                && at
                    .0
                    .total_cmp(&newest_without.0)
                    .then(at.1.cmp(&newest_without.1))
                    .is_gt()
            {
                newest_without = at;
            }
        });
        assert!(
            newest_without.0 < idlest_with.0
                || (newest_without.0 == idlest_with.0 && newest_without.1 < idlest_with.1),
            "step {step}: a ring of {newest_without:?} was emptied before one of {idlest_with:?}"
        );
    }
    assert!(trims > 20, "the budgets were reached {trims} times");
}

#[test]
fn take_changed() {
    let mut t = tracker();
    let mut cs: Vec<Conv> = [1, 2, 3]
        .iter()
        .map(|p| Conv::new(("10.0.0.1", *p), ("10.0.0.2", 80)))
        .collect();
    let segs = vec![cs[0].c("S", 0), cs[1].c("S", 0)];
    feed(&mut t, segs);
    assert_eq!(t.take_changed(), vec![1, 2]);
    assert_eq!(t.take_changed(), Vec::<u64>::new());
    let segs = vec![cs[1].s("S.", 0), cs[2].c("S", 0)];
    feed(&mut t, segs);
    assert_eq!(t.take_changed(), vec![2, 3]);
    // noted as changed while the ids were watched, taken, changed again: taken again
    for _ in 0..2 {
        let segs = vec![cs[1].c(".", 0), cs[2].s("S.", 0), cs[1].c(".", 0)];
        feed(&mut t, segs);
        assert_eq!(t.take_changed(), vec![2, 3]);
    }
    let segs = vec![cs[2].c(".", 0)];
    feed(&mut t, segs);
    assert_eq!(t.take_changed_upto(1, &[]), vec![3]);
}

#[test]
fn bounded_takes_put_the_asked_ids_first_and_reach_every_flow_in_turn() {
    let mut t = tracker();
    let mut cs: Vec<Conv> = (1..=10)
        .map(|p| Conv::new(("10.0.0.1", p), ("10.0.0.2", 80)))
        .collect();
    let segs: Vec<_> = cs.iter_mut().map(|c| c.c("S", 0)).collect();
    feed(&mut t, segs);
    // The first take starts from every flow; the ids asked for come first.
    assert_eq!(t.take_changed_upto(4, &[9, 42]), vec![1, 2, 3, 9]);
    assert_eq!(t.changed_left(), 6);
    assert_eq!(t.take_changed_upto(4, &[]), vec![4, 5, 6, 7]);
    // Flows 1 and 2 change again: the next takes go on from 8 and wrap around to them.
    let segs = vec![cs[0].s("S.", 0), cs[1].s("S.", 0)];
    feed(&mut t, segs);
    assert_eq!(t.take_changed_upto(3, &[]), vec![1, 8, 10]);
    assert_eq!(t.take_changed_upto(3, &[]), vec![2]);
    assert_eq!(t.changed_left(), 0);
    // Under the limit, a take is `take_changed`.
    let segs = vec![cs[2].s("S.", 0)];
    feed(&mut t, segs);
    assert_eq!(t.take_changed_upto(100, &[]), vec![3]);
}

#[test]
fn finish_and_flows_in_id_order() {
    let mut t = tracker();
    for i in 0..5 {
        t.ingest(
            Conv::new(("10.0.0.1", 100 - i), ("10.0.0.2", 80)).c("S", 0),
            &[],
        );
    }
    t.take_changed();
    t.finish();
    let mut ids = Vec::new();
    t.for_each_flow(|f| ids.push(f.id));
    assert!(t.finished);
    assert_eq!(ids, vec![1, 2, 3, 4, 5]);
    assert_eq!(t.take_changed(), vec![1, 2, 3, 4, 5]);
}

#[test]
fn linger_releases_closed_quiet_flows() {
    let mut t = with(TrackerConfig {
        frames_per_flow: 0,
        linger: Some(5.0),
        ..TrackerConfig::default()
    });
    let mut a = Conv::new(("10.0.0.1", 1), ("10.0.0.2", 80));
    let segs = vec![
        a.send(true, "S", 0, at(1.0)),
        a.send(false, "R.", 0, at(1.1)),
    ];
    feed(&mut t, segs);
    let mut b = Conv::new(("10.0.0.1", 2), ("10.0.0.2", 80));
    t.ingest(b.send(true, "S", 0, at(3.0)), &[]);
    assert!(t.take_gone().is_empty());
    t.ingest(
        Conv::new(("10.0.0.1", 3), ("10.0.0.2", 80)).send(true, "S", 0, at(6.2)),
        &[],
    );
    let gone: Vec<u64> = t.take_gone().iter().map(|f| f.id).collect();
    assert_eq!((gone, t.released, t.evicted), (vec![1], 1, 0));
}

mod props {
    use super::super::segmaker::{make_segment, Fields};
    use super::*;
    use proptest::prelude::*;

    const CLOSE_KINDS: [&str; 7] = [
        "",
        "half-closed",
        "fin-4way",
        "fin-3way",
        "simultaneous",
        "rst",
        "fin-then-rst",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Whatever segments come (any flags, seq, length), counts add up and states stay valid.
        #[test]
        fn any_segment_sequence_keeps_invariants(
            steps in prop::collection::vec(
                (any::<bool>(), 0u16..0x200, 0u32..3000, prop::option::of(any::<u32>()), 0u16..2),
                0..40,
            ),
            isn in any::<u32>(),
        ) {
            let mut nxt = [isn, isn ^ 0x5A5A_5A5A];
            let mut t = with(TrackerConfig {
                max_flows: 4,
                frames_per_flow: 3,
                ..TrackerConfig::default()
            });
            t.take_changed();
            let mut gone = 0u64;
            for (client, bits, length, seq, window) in &steps {
                let (me, other) = if *client { (0, 1) } else { (1, 0) };
                let ends = [("10.0.0.1", 40000), ("10.0.0.2", 80)];
                let f = Fields {
                    seq: seq.unwrap_or(nxt[me]),
                    ack: nxt[other],
                    payload_len: *length,
                    window: *window,
                    ..Fields::default()
                };
                let seq_sent = f.seq;
                let seg = make_segment(ends[me].0, ends[me].1, ends[other].0, ends[other].1, *bits, f);
                let end = seq_sent.wrapping_add(*length);
                if end.wrapping_sub(nxt[me]) < 0x8000_0000 {
                    nxt[me] = end;
                }
                let id = t.ingest(seg, &[0; 3]);
                let flow = t.flow(id).expect("tracked");
                let rec = flow.record();
                prop_assert!(CLOSE_KINDS.contains(&rec.close_kind));
                gone += t.take_gone().iter().map(|f| f.orig.pkts + f.resp.pkts).sum::<u64>();
            }
            let mut seen = 0u64;
            t.for_each_flow(|f| seen += f.orig.pkts + f.resp.pkts);
            prop_assert_eq!(seen + gone, steps.len() as u64);
            prop_assert!(t.kept() <= t.flows.len() * 3);
            // the changed ids are flows that were started (tracked, or gone since)
            let started = t.flow_count();
            prop_assert!(t.take_changed().iter().all(|id| (1..=started).contains(id)));
        }
    }
}

/// Python: test_frame_bytes_budget_counts_what_the_frames_weigh. Big frames (64 KiB on
/// loopback) fill the byte budget long before the segment budget: the idlest rings are emptied
/// so that the kept frames stay within it.
#[test]
fn frame_bytes_budget_counts_what_the_frames_weigh() {
    let mut convs: Vec<Conv> = (0..6u16)
        .map(|i| Conv::new(("10.1.0.1", 40000 + i), ("10.0.0.2", 80)).isns(u32::from(i), 5000))
        .collect();
    let mut segs = Vec::new();
    for c in &mut convs {
        segs.extend([c.c("S", 0), c.s("S.", 0), c.c(".", 0)]);
    }
    for _ in 0..5 {
        for c in &mut convs {
            segs.push(c.c("P.", 16_000)); // a 16 KB segment each
        }
    }
    segs.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    // The frame as segmaker's Python twin builds it: IPv4 + TCP headers, then the payload.
    let frame = |s: &Segment| vec![0u8; 40 + s.payload_len as usize];
    let mut t = with(TrackerConfig {
        frames_per_flow: 8,
        frame_bytes: 200_000,
        ..TrackerConfig::default()
    });
    for seg in &segs {
        t.ingest(seg.clone(), &frame(seg));
        assert!(t.kept_bytes() <= 200_000);
        let (mut n, mut bytes) = (0, 0);
        t.for_each_flow(|f| {
            if let Some(ring) = f.kept.ring.as_ref() {
                n += ring.len();
                bytes += ring.iter().map(|k| k.frame.weight()).sum::<usize>();
            }
        });
        assert_eq!((t.kept(), t.kept_bytes()), (n, bytes));
    }
    let mut unbounded = with(TrackerConfig {
        frames_per_flow: 8,
        ..TrackerConfig::default()
    });
    for seg in &segs {
        unbounded.ingest(seg.clone(), &frame(seg));
    }
    // what the rings would hold without the byte budget
    assert!(
        unbounded.kept_bytes() > 450_000,
        "{}",
        unbounded.kept_bytes()
    );
}

/// Python: test_record_has_every_field_and_is_json. The JSON line of a record has exactly the
/// agreed fields, in order, and reads back as JSON; the uid is Zeek-style.
#[test]
fn record_has_every_field_and_is_json() {
    const FIELDS: &[&str] = &[
        "ts",
        "uid",
        "orig_h",
        "orig_p",
        "resp_h",
        "resp_p",
        "duration",
        "orig_pkts",
        "resp_pkts",
        "orig_bytes",
        "resp_bytes",
        "orig_ip_bytes",
        "resp_ip_bytes",
        "conn_state",
        "history",
        "state_orig",
        "state_resp",
        "flags_orig",
        "flags_resp",
        "payload_orig",
        "payload_resp",
        "isn_orig",
        "isn_resp",
        "mss_orig",
        "mss_resp",
        "wscale_orig",
        "wscale_resp",
        "sack_perm",
        "timestamps",
        "irtt",
        "rtt_syn_synack",
        "rtt_synack_ack",
        "syn_retries",
        "syn_retry_gaps",
        "retrans_orig",
        "retrans_resp",
        "zero_window",
        "closed_by",
        "close_kind",
        "illegal_flags",
        "direction_inferred",
        "vlan",
        "pid_orig",
        "pid_resp",
        "proc_orig",
        "proc_resp",
        "continues_uid",
    ];
    let mut c = Conv::default();
    let mut t = tracker();
    let ids = feed(&mut t, handshake(&mut c, 100.0));
    let rec = last(&t, &ids).record();
    let mut out = Vec::new();
    {
        let mut w = crate::export::RecordWriter::new(crate::export::Format::Jsonl, &mut out);
        w.write(&rec).expect("write to a Vec");
        w.flush().expect("flush");
    }
    let text = String::from_utf8(out).expect("utf-8");
    let value: serde_json::Value = serde_json::from_str(text.trim_end()).expect("JSON");
    let keys: Vec<&str> = value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, FIELDS);
    let uid = value["uid"].as_str().expect("uid");
    assert!(uid.len() == 18 && uid.starts_with('C'));
    assert!(uid[1..].chars().all(|ch| ch.is_ascii_alphanumeric()));
    // same id, same uid
    let mut other = tracker();
    let id = other.ingest(Conv::default().c("S", 0), &[]);
    assert_eq!(other.flow(id).map(Flow::uid).as_deref(), Some(uid));
}

#[test]
fn a_flow_that_comes_back_after_eviction_continues_its_record() {
    // GIVEN a probe answered by a SYN/ACK, evicted at the cap by newer probes
    let mut t = with(TrackerConfig {
        max_flows: 2,
        embryos: true,
        frames_per_flow: 0,
        ..TrackerConfig::default()
    });
    let mut probe = Conv::new(("10.0.0.9", 5555), ("10.0.0.2", 22))
        .isns(7000, 9000)
        .t0(1.0);
    t.ingest(probe.c("S", 0), &[]);
    let first = t.ingest(probe.s("S.", 0), &[]);
    for port in [81, 82, 83] {
        let mut newer = Conv::new(("10.0.0.9", 5555), ("10.0.0.2", port)).t0(2.0);
        t.add(newer.c("S", 0), &[]);
    }
    let gone: Vec<u64> = t.take_gone().iter().map(|f| f.id).collect();
    assert!(gone.contains(&first), "{gone:?}");
    // WHEN its SYN/ACK is retried, and its SYN sent again (same ISN)
    let retry = t.ingest(
        probe.send(
            false,
            "S.",
            0,
            Send {
                seq: Some(9000),
                ..at(9.0)
            },
        ),
        &[],
    );
    // THEN the new flow is linked to the evicted one
    let flow = t.flow(retry).expect("tracked");
    assert_ne!(retry, first);
    assert_eq!(flow.continues.map(|id| id.get()), Some(first));
    assert_eq!(
        flow.record().continues_uid,
        Some(crate::flow::uid(0, first))
    );
    // ... and a SYN with a new ISN on the same ports after that flow left too is a new
    // connection (port reuse), as is any flow whose 4-tuple was never let go.
    let mut other = Conv::new(("10.0.0.9", 5555), ("10.0.0.2", 83))
        .isns(1, 2)
        .t0(10.0);
    let id = t.ingest(other.c("S.", 0), &[]);
    assert!(t.flow(id).is_some_and(|f| f.continues.is_none()));
    for port in [84, 85, 86] {
        let mut newer = Conv::new(("10.0.0.9", 5555), ("10.0.0.2", port)).t0(30.0);
        t.add(newer.c("S", 0), &[]);
    }
    assert!(t.take_gone().iter().any(|f| f.id == retry));
    let again = t.ingest(
        probe.send(
            true,
            "S",
            0,
            Send {
                seq: Some(12345),
                ..at(20.0)
            },
        ),
        &[],
    );
    assert!(t.flow(again).is_some_and(|f| f.continues.is_none()));
}

/// Kept segments are written over the frames of emptied rings and over those falling out of
/// full rings (`FrameRings::keep`): whatever the mix of sizes, every frame a flow holds is the
/// segment it was kept for, and frames a view holds are never written over.
#[test]
fn reused_frames_hold_their_own_segment_and_views_keep_theirs() {
    let mut t = with(TrackerConfig {
        frames_per_flow: 3,
        frame_budget: 200,
        frame_bytes: 30_000,
        ..TrackerConfig::default()
    });
    // the bytes of frame `n`: 40 to 339 of them (inline and on the heap, lengths repeating)
    let bytes = |n: u64| -> Vec<u8> {
        (0..40 + (n * 37 % 300) as usize)
            .map(|i| (n as usize + i) as u8)
            .collect()
    };
    let holds_its_own = |k: &KeptFrame| {
        *k.frame == bytes(k.seg.frame_no)[..] && u64::from(k.seg.payload_len) == k.seg.frame_no % 7
    };
    let mut convs: Vec<Conv> = (0..300u16)
        .map(|i| Conv::new(("10.3.0.1", 1000 + i), ("10.0.0.2", 80)))
        .collect();
    let mut held: Vec<Arc<KeptFrame>> = Vec::new();
    let mut frame_no = 0u64;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut trims = 0;
    for step in 0..6000u32 {
        xorshift(&mut state);
        let i = (state % 300) as usize;
        // now and then a FIN or RST: kept apart too, so shared with the ring
        let flags = match state % 97 {
            0 => "F.",
            1 => "R.",
            _ => "P.",
        };
        frame_no += 1;
        let mut seg = convs[i].send(
            true,
            flags,
            (frame_no % 7) as u32,
            Send {
                at: Some(1000.0 + f64::from(step) * 0.01),
                ..Send::default()
            },
        );
        seg.frame_no = frame_no;
        let before = t.kept();
        let id = t.ingest(seg, &bytes(frame_no));
        trims += usize::from(t.kept() < before);
        if step % 500 == 0 {
            held.extend(t.flow(id).map(Flow::kept_frames).unwrap_or_default());
        }
    }
    assert!(trims > 20, "the budgets were reached {trims} times");
    let mut frames = 0;
    t.for_each_flow(|f| {
        for k in f.frames() {
            assert!(holds_its_own(k), "flow {}: frame {}", f.id, k.seg.frame_no);
            frames += 1;
        }
    });
    assert!(frames > 150, "{frames} frames kept");
    assert!(held.len() >= 12 && held.iter().all(|k| holds_its_own(k)));
}

/// A kept frame reads back byte for byte whether it is kept inline (short) or on the heap.
#[test]
fn kept_frames_read_back_whole_inline_or_not() {
    for len in [
        0,
        1,
        60,
        INLINE_FRAME - 1,
        INLINE_FRAME,
        INLINE_FRAME + 1,
        1514,
        65_535,
    ] {
        let frame: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let kept = FrameBytes::from(&frame[..]);
        assert_eq!((&*kept, kept.len()), (&frame[..], len));
        assert_eq!(matches!(kept, FrameBytes::Inline(..)), len <= INLINE_FRAME);
    }
}

/// What a kept frame weighs besides its bytes (the doc of `FrameBytes` says it).
#[test]
fn kept_frame_size() {
    let size = std::mem::size_of::<KeptFrame>();
    eprintln!("size_of KeptFrame {size}");
    assert!(size <= 512, "{size}");
}

/// Move `state` to the next number of a xorshift64 sequence (Marsaglia's 13, 7, 17): the
/// same pseudo-random segments on every run.
fn xorshift(state: &mut u64) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
}
