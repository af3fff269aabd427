//! Each analysis kind on hand-made segment sequences, through the tracker (kept frames and
//! per-side counts), as Wireshark 4.0 marks them.

use super::*;
use crate::flow::Flow;
use crate::tracker::segmaker::{Conv, Send};
use crate::tracker::{FlowTracker, TrackerConfig};

/// Feed `segs` to a tracker that keeps every frame; the flow (the first one).
fn run(segs: Vec<Segment>) -> Flow {
    let mut t = FlowTracker::new(TrackerConfig::default()).expect("default config");
    let mut id = 0;
    for seg in segs {
        id = t.ingest(seg, &[]);
    }
    t.flow(id).expect("tracked").clone()
}

/// (frame, bits) of every kept frame with marks.
fn marked(flow: &Flow) -> Vec<(u64, u16)> {
    flow.frames()
        .iter()
        .filter(|k| k.marks.bits != 0)
        .map(|k| (k.seg.frame_no, k.marks.bits))
        .collect()
}

fn handshake(c: &mut Conv) -> Vec<Segment> {
    vec![c.c("S", 0), c.s("S.", 0), c.c(".", 0)]
}

fn ack_at(n: u32) -> Send {
    Send {
        ack: Some(n),
        ..Send::default()
    }
}

#[test]
fn duplicate_acks_count_from_the_last_new_ack_and_name_its_frame() {
    let mut c = Conv::default();
    let mut segs = handshake(&mut c);
    segs.push(c.s(".", 100)); // 4: server data 5001..5101
    segs.push(c.c(".", 0)); // 5: acks 5101 (a new ACK number)
    let hole = c.nxt[1];
    c.nxt[1] += 100; // 5101..5201 lost
    segs.push(c.s(".", 100)); // 6: previous segment not captured
    let dup = Send {
        ack: Some(hole),
        ..Send::default()
    };
    for _ in 0..3 {
        segs.push(c.send(true, ".", 0, dup.clone())); // 7, 8, 9: dup ACKs #1-#3 of frame 5
    }
    segs.push(c.send(
        false,
        ".",
        100,
        Send {
            seq: Some(hole),
            ..Send::default()
        },
    )); // 10
    let flow = run(segs);
    let frames = flow.frames();
    let dups: Vec<(u64, u32, u64)> = frames
        .iter()
        .filter(|k| k.marks.bits & DUPLICATE_ACK != 0)
        .map(|k| (k.seg.frame_no, k.marks.dup_n, k.marks.dup_of))
        .collect();
    assert_eq!(dups, [(7, 1, 5), (8, 2, 5), (9, 3, 5)]);
    assert_eq!(marked(&flow)[0], (6, LOST_SEGMENT));
    assert_eq!(marked(&flow).last(), Some(&(10, FAST_RETRANSMISSION)));
    assert_eq!(flow.orig.marked(DUPLICATE_ACK), 3);
    assert_eq!(flow.resp.marked(FAST_RETRANSMISSION), 1);
    assert_eq!(flow.resp.marked(LOST_SEGMENT), 1);
    assert_eq!(flow.resp.marked(DUPLICATE_ACK), 0);
}

#[test]
fn a_late_resend_is_a_retransmission_a_quick_one_out_of_order() {
    let mut c = Conv::default();
    let mut segs = handshake(&mut c);
    let start = c.nxt[0];
    segs.push(c.c("P.", 100)); // 4
    segs.push(c.c("P.", 100)); // 5
                               // 6: the first again, 0.5 ms later (iRTT 1 ms): out of order
    segs.push(c.send(
        true,
        "P.",
        100,
        Send {
            seq: Some(start),
            dt: Some(0.0005),
            ..Send::default()
        },
    ));
    // 7: the first again, 1 s later: a retransmission
    segs.push(c.send(
        true,
        "P.",
        100,
        Send {
            seq: Some(start),
            dt: Some(1.0),
            ..Send::default()
        },
    ));
    let flow = run(segs);
    assert_eq!(marked(&flow), [(6, OUT_OF_ORDER), (7, RETRANSMISSION)]);
}

#[test]
fn resending_acknowledged_data_is_spurious() {
    let mut c = Conv::default();
    let mut segs = handshake(&mut c);
    let start = c.nxt[0];
    segs.push(c.c("P.", 100)); // 4
    segs.push(c.s(".", 0)); // 5: acks it
    segs.push(c.send(
        true,
        "P.",
        100,
        Send {
            seq: Some(start),
            dt: Some(1.0),
            ..Send::default()
        },
    ));
    assert_eq!(marked(&run(segs)), [(6, SPURIOUS_RETRANSMISSION)]);
}

#[test]
fn keep_alive_and_its_ack() {
    let mut c = Conv::default();
    let mut segs = handshake(&mut c);
    segs.push(c.c("P.", 10)); // 4
    segs.push(c.s(".", 0)); // 5
    let below = c.nxt[0] - 1;
    segs.push(c.send(
        true,
        ".",
        0,
        Send {
            seq: Some(below),
            dt: Some(60.0),
            ..Send::default()
        },
    ));
    segs.push(c.s(".", 0)); // 7: the same ACK and window back
    segs.push(c.send(
        true,
        ".",
        1,
        Send {
            seq: Some(below),
            dt: Some(60.0),
            ..Send::default()
        },
    ));
    let flow = run(segs);
    assert_eq!(
        marked(&flow),
        [(6, KEEP_ALIVE), (7, KEEP_ALIVE_ACK), (8, KEEP_ALIVE)]
    );
    assert_eq!(flow.orig.marked(KEEP_ALIVE), 2);
}

#[test]
fn zero_window_probe_its_ack_and_the_window_update() {
    let mut c = Conv::default();
    let mut segs = handshake(&mut c);
    segs.push(c.c("P.", 100)); // 4
    let closed = Send {
        window: Some(0),
        ..Send::default()
    };
    segs.push(c.send(false, ".", 0, closed.clone())); // 5: zero window
    let probe_seq = c.nxt[0];
    segs.push(c.send(
        true,
        ".",
        1,
        Send {
            seq: Some(probe_seq),
            ..Send::default()
        },
    )); // 6
    c.nxt[0] = probe_seq; // a probe's byte does not advance
    segs.push(c.send(false, ".", 0, closed)); // 7: the probe's ACK, still zero
    segs.push(c.s(".", 0)); // 8: window opens
    let flow = run(segs);
    assert_eq!(
        marked(&flow),
        [
            (5, ZERO_WINDOW),
            (6, ZERO_WINDOW_PROBE),
            (7, ZERO_WINDOW | ZERO_WINDOW_PROBE_ACK),
            (8, WINDOW_UPDATE),
        ]
    );
    assert_eq!(flow.resp.marked(ZERO_WINDOW), 2);
    assert_eq!(flow.resp.zero_window, 2);
}

#[test]
fn an_ack_beyond_what_was_seen_acks_an_unseen_segment() {
    let mut c = Conv::default();
    let mut segs = handshake(&mut c);
    segs.push(c.c("P.", 100)); // 4
    let beyond = c.nxt[0] + 500;
    segs.push(c.send(false, ".", 0, ack_at(beyond))); // 5
                                                      // 6: the same again while the client is silent: not said twice, a duplicate ACK
    segs.push(c.send(false, ".", 0, ack_at(beyond)));
    segs.push(c.c("P.", 100)); // 7: the client goes on (below what was acknowledged)
    segs.push(c.send(false, ".", 0, ack_at(beyond + 100))); // 8: beyond again, said again
    let flow = run(segs);
    let marks = marked(&flow);
    assert_eq!(marks[..2], [(5, ACK_LOST_SEGMENT), (6, DUPLICATE_ACK)]);
    assert_eq!(marks.last(), Some(&(8, ACK_LOST_SEGMENT)));
    assert_eq!(flow.resp.marked(ACK_LOST_SEGMENT), 2);
}

#[test]
fn plain_traffic_has_no_marks() {
    let mut c = Conv::default();
    let mut segs = handshake(&mut c);
    for _ in 0..5 {
        segs.push(c.c("P.", 100));
        segs.push(c.s(".", 0));
        segs.push(c.s("P.", 300));
        segs.push(c.c(".", 0));
    }
    segs.extend([c.c("F.", 0), c.s("F.", 0), c.c(".", 0)]);
    let flow = run(segs);
    assert_eq!(marked(&flow), []);
    assert!(flow.orig.marks.is_none() && flow.resp.marks.is_none());
}

#[test]
fn a_retried_syn_is_a_retransmission() {
    let mut c = Conv::default();
    let syn = c.c("S", 0);
    let mut again = syn.clone();
    again.frame_no = 2;
    again.ts += 1.0;
    let flow = run(vec![syn, again]);
    assert_eq!(marked(&flow), [(2, RETRANSMISSION)]);
}

#[test]
fn sequence_wrap_is_plain() {
    let mut c = Conv::default().isns(u32::MAX - 150, 7);
    let mut segs = handshake(&mut c);
    for _ in 0..4 {
        segs.push(c.c("P.", 100));
        segs.push(c.s(".", 0));
    }
    assert_eq!(marked(&run(segs)), []);
}

#[test]
fn time_running_backwards_is_outside_every_window() {
    assert!(!within(-0.001, 0.02));
    assert!(within(0.0, 0.02) && !within(0.02, 0.02));
}
