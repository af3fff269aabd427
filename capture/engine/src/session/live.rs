//! A live session on two threads: the capture thread drains libpcap's ring into batches (and
//! writes `-w`), the session's source thread decodes and tracks them (`handoff`).
//!
//! Measured with `bench/replay_bench.py` (BENCHMARKS.md "Live capture"): with decoding and
//! tracking on the thread that read the ring, every pause of tracking (the UI's lock, a burst of
//! new flows) left the ring undrained, and the kernel dropped what did not fit in it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use super::handoff::{self, Consumer, FrameBatch, Producer, BATCH_BYTES, BATCH_FRAMES};
use super::source::{end_batch, BATCH};
use super::{Loss, State};
use crate::decode::Decoder;
use crate::live::LiveCapture;
use crate::segment::Segment;
use crate::tracker::Shed;

/// Frames waiting for the tracker, at most, as a multiple of the kernel's ring (`-B`): by
/// default 128 MiB behind the 32 MiB ring, ~240,000 frames of the realistic capture (~560 bytes
/// a frame), half a second of tcpreplay's 500,000 frames/s; a larger `-B` makes both larger.
/// (Headless, the tracker's own pace is ~2 million frames/s of a core; the queue is for the
/// moments it does not get one. With the TUI on a busy machine those last longer: at twice the
/// ring, the queue still filled in 6 of 53 runs of `bench/replay_bench.py --tui`, shedding
/// included; at four times, in none of 6.) Batches are made as the queue grows.
pub const QUEUE_PER_RING: usize = 4;

/// Tracking that falls behind keeps fewer frames for the views (`FlowTracker::set_shedding`):
/// no recent segments once `RECENT_FROM` of the queue waits, until no more than `RECENT_UNTIL`
/// does, and none at all (handshake and teardown too) from `ALL_FROM` until `ALL_UNTIL`.
/// Keeping a copy of each frame for the flow screen and the inspector is most of what a
/// segment costs tracking with a UI (about 0.9 of 1.5 µs on the realistic capture,
/// `bench/session_bench.py`): without it, tracking catches up at about three times the pace
/// rather than drop whole batches of frames from a full queue. Every segment is still tracked;
/// the status bar counts the segments not kept and the flow screen says where they were.
pub const RECENT_FROM: f64 = 0.25;
pub const RECENT_UNTIL: f64 = 1.0 / 16.0;
pub const ALL_FROM: f64 = 0.5;
pub const ALL_UNTIL: f64 = 0.125;

/// What tracking sheds, given what it shed and how full the queue is now (see `RECENT_FROM`).
pub fn shedding(was: Shed, fill: f64) -> Shed {
    let level = |all: bool, recent: bool| match (all, recent) {
        (true, _) => Shed::All,
        (false, true) => Shed::Recent,
        (false, false) => Shed::Nothing,
    };
    let entered = level(fill >= ALL_FROM, fill >= RECENT_FROM);
    let held = level(fill > ALL_UNTIL, fill > RECENT_UNTIL);
    entered.max(was.min(held))
}

/// Batches in the queue for a ring of `buffer_kib` (at least 8).
pub fn queued_batches(buffer_kib: u32) -> usize {
    let ring = (buffer_kib as usize).saturating_mul(1024);
    (ring.saturating_mul(QUEUE_PER_RING) / BATCH_BYTES).max(8)
}

/// Capture on a thread of its own and track here until the capture ends (stop, `-c`,
/// `--duration`, interface lost) and every frame it took is tracked; returns why it failed, if
/// it did.
pub(super) fn sniff(
    capture: LiveCapture,
    decoder: &mut Decoder,
    state: &Mutex<State>,
    stop: &Arc<AtomicBool>,
) -> Option<String> {
    let queue = Arc::new(AtomicU64::new(0));
    let queued = queued_batches(capture.config().buffer_kib);
    let (producer, consumer) = handoff::channel(queued, Arc::clone(&queue));
    state.lock().unwrap_or_else(PoisonError::into_inner).loss = Some(Loss {
        kernel: capture.counters(),
        queue,
        backlog: consumer.backlog(),
    });
    let stop_capture = Arc::clone(stop);
    let capturing = thread::Builder::new()
        .name("tcpwatch-sniffer".into())
        .spawn(move || capture_into(capture, producer, &stop_capture));
    let capturing = match capturing {
        Ok(handle) => handle,
        Err(e) => return Some(format!("cannot start the capture thread: {e}")),
    };
    track(&consumer, decoder, state);
    drop(consumer);
    capturing
        .join()
        .unwrap_or_else(|_| Some("the capture thread failed".into()))
}

/// The capture thread: every frame copied into the queue's batches, handed over whenever the
/// ring is empty for a moment; the rest handed over at the end.
fn capture_into(mut capture: LiveCapture, producer: Producer, stop: &AtomicBool) -> Option<String> {
    let producer = std::cell::RefCell::new(producer);
    let result = capture.run_with_tick(
        stop,
        &mut |ts, wire_len, data, linktype| {
            if !producer.borrow_mut().push(ts, wire_len, data, linktype) {
                stop.store(true, Ordering::Relaxed); // tracking is gone: nothing to capture for
            }
        },
        &mut || {
            if !producer.borrow_mut().flush() {
                stop.store(true, Ordering::Relaxed);
            }
        },
    );
    producer.into_inner().finish();
    result.err().map(|e| e.0)
}

/// The tracking side: each batch decoded, then given to the tracker `BATCH` segments under one
/// lock (the UI waits for the lock no longer than that takes), shedding kept frames while the
/// queue is far behind (`shedding`).
fn track(consumer: &Consumer, decoder: &mut Decoder, state: &Mutex<State>) {
    let mut segs: Vec<(Segment, usize)> = Vec::with_capacity(BATCH_FRAMES);
    let backlog = consumer.backlog();
    let mut shed = Shed::Nothing;
    while let Some(frames) = consumer.recv() {
        for (i, (no, ts, wire_len, data, linktype)) in frames.iter().enumerate() {
            if let Some(seg) = decoder.decode(data, ts, wire_len, linktype, no) {
                segs.push((seg, i));
            }
        }
        let was = shed;
        shed = shedding(was, backlog.fill());
        hand_over(
            &mut segs,
            &frames,
            decoder,
            state,
            (shed != was).then_some(shed),
        );
        consumer.give_back(frames);
    }
}

/// The decoded `segs` of `frames` to the tracker, `BATCH` under one lock; `shed`: what to shed
/// from now on, when that changes.
fn hand_over(
    segs: &mut Vec<(Segment, usize)>,
    frames: &FrameBatch,
    decoder: &Decoder,
    state: &Mutex<State>,
    shed: Option<Shed>,
) {
    // at least one hand-over, which publishes the counters of frames that were not TCP
    let mut from = 0;
    loop {
        let part = &segs[from..segs.len().min(from + BATCH)];
        let mut st = state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(shed) = shed.filter(|_| from == 0) {
            st.tracker.set_shedding(shed);
        }
        for (seg, i) in part {
            st.take(seg, frames.get(*i).3);
        }
        end_batch(st, decoder);
        from += part.len();
        if from == segs.len() {
            break;
        }
    }
    segs.clear();
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::AtomicU64;
    use std::sync::{Arc, Mutex};

    use super::{handoff, queued_batches, shedding, track};
    use super::{ALL_FROM, ALL_UNTIL, RECENT_FROM, RECENT_UNTIL};
    use crate::decode::Decoder;
    use crate::reader::CaptureReader;
    use crate::segment::{FIN, RST, SYN};
    use crate::session::State;
    use crate::tracker::{FlowTracker, Shed, TrackerConfig};

    #[test]
    fn each_level_of_shedding_starts_at_its_mark_and_lasts_down_to_its_own() {
        let below = |x: f64| x - 0.01;
        let above = |x: f64| x + 0.01;
        for (was, fill, now) in [
            (Shed::Nothing, below(RECENT_FROM), Shed::Nothing),
            (Shed::Nothing, RECENT_FROM, Shed::Recent),
            (Shed::Nothing, ALL_FROM, Shed::All),
            (Shed::Recent, below(RECENT_FROM), Shed::Recent),
            (Shed::Recent, above(RECENT_UNTIL), Shed::Recent),
            (Shed::Recent, RECENT_UNTIL, Shed::Nothing),
            (Shed::Recent, ALL_FROM, Shed::All),
            (Shed::All, below(ALL_FROM), Shed::All),
            (Shed::All, above(ALL_UNTIL), Shed::All),
            (Shed::All, ALL_UNTIL, Shed::Recent),
            (Shed::All, RECENT_UNTIL, Shed::Nothing),
        ] {
            assert_eq!(shedding(was, fill), now, "{was:?} at {fill}");
        }
    }

    /// A capture's frames in 32 batches, queued all at once before tracking starts (as when
    /// tracking is stalled), then tracked as a live session tracks them. After batch k is
    /// taken 32 - k wait: batches 1-27 keep no frames (more than 4/32 wait), batches 28 and 29
    /// keep handshake and teardown segments only (SYN, FIN or RST, or one that moved an
    /// endpoint's state), batches 30-32 keep every segment again (2/32 or fewer wait). Every
    /// segment is tracked either way.
    #[test]
    fn tracking_that_is_behind_sheds_kept_frames_and_catches_up() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/chrissanders_http_espn_fail.pcapng"
        );
        let mut reader = CaptureReader::open(path).expect("bundled capture");
        let mut frames = Vec::new();
        while let Some(r) = reader.next_record() {
            frames.push((r.ts, r.wire_len, r.data.to_vec(), r.linktype));
        }
        let batches = 32;
        let (mut producer, consumer) = handoff::channel(batches, Arc::new(AtomicU64::new(0)));
        let per_batch = frames.len().div_ceil(batches);
        assert_eq!(frames.len().div_ceil(per_batch), batches);
        for chunk in frames.chunks(per_batch) {
            for (ts, wire_len, data, linktype) in chunk {
                assert!(producer.push(*ts, *wire_len, data, *linktype));
            }
            assert!(producer.flush());
        }
        producer.finish();
        assert_eq!(consumer.backlog().fill(), 1.0);

        let tracker = FlowTracker::new(TrackerConfig::default()).unwrap();
        let state = Mutex::new(State::new(tracker, false));
        let mut decoder = Decoder::new(false);
        track(&consumer, &mut decoder, &state);
        let mut st = state.lock().unwrap();

        let batch_of = |frame_no: u64| (frame_no as usize - 1) / per_batch + 1;
        let mut places: HashMap<u64, Vec<(u64, u64)>> = HashMap::new();
        let mut segments = 0;
        let mut kept_ends = 0;
        st.tracker.for_each_flow(|flow| {
            segments += flow.orig.pkts + flow.resp.pkts;
            for kept in flow.frames() {
                let no = kept.seg.frame_no;
                match batch_of(no) {
                    1..=27 => panic!("frame {no} was kept while all were shed"),
                    28 | 29 => {
                        kept_ends += 1;
                        let moved = flow.moves.iter().any(|t| t.frame_no == no);
                        let ends = kept.seg.flags & (SYN | FIN | RST) != 0;
                        assert!(ends || moved, "frame {no}: neither handshake nor teardown");
                    }
                    _ => {}
                }
                places.entry(flow.id).or_default().push((no, kept.nth));
            }
        });
        assert_eq!(segments, st.segments);
        // what was shed: every segment of batches 1-27, and some of batches 28 and 29, the
        // rest of which was kept
        let mut tcp = [0u64; 33];
        let mut count = Decoder::new(false);
        for (i, (ts, wire_len, data, linktype)) in frames.iter().enumerate() {
            let no = i as u64 + 1;
            if count.decode(data, *ts, *wire_len, *linktype, no).is_some() {
                tcp[batch_of(no)] += 1;
            }
        }
        let shed_ends = st.tracker.shed() - tcp[1..=27].iter().sum::<u64>();
        let ends = tcp[28] + tcp[29];
        assert!(shed_ends > 0 && shed_ends < ends, "{shed_ends} of {ends}");
        assert_eq!(kept_ends + shed_ends, ends);
        for (id, mut kept) in places {
            kept.sort_unstable();
            let flow = st.tracker.flow(id).unwrap();
            for pair in kept.windows(2) {
                // places grow with frame numbers, and once shedding has ended every segment of
                // a flow is kept (its ring holds 64)
                assert!(pair[0].1 < pair[1].1, "{pair:?}");
                if batch_of(pair[0].0) >= 30 {
                    assert_eq!(pair[0].1 + 1, pair[1].1, "{pair:?}");
                }
            }
            let last = kept.last().unwrap();
            if batch_of(last.0) >= 30 {
                assert_eq!(last.1, flow.orig.pkts + flow.resp.pkts, "flow {id}");
            }
        }
    }

    #[test]
    fn the_queue_follows_the_ring() {
        assert_eq!(queued_batches(crate::live::DEFAULT_BUFFER_KIB), 128);
        assert_eq!(queued_batches(131_072), 512);
        assert_eq!(queued_batches(256), 8);
    }
}
