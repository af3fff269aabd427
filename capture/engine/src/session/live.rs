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

/// Frames waiting for the tracker, at most, as a multiple of the kernel's ring (`-B`): by
/// default 64 MiB behind the 32 MiB ring, ~120,000 frames of the realistic capture (~560 bytes
/// a frame), a quarter of a second of tcpreplay's 500,000 frames/s; a larger `-B` makes both
/// larger. (The tracker's own pace is ~2 million frames/s of a core; the queue is for the
/// moments it does not get one.)
pub const QUEUE_PER_RING: usize = 2;

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
/// lock (the UI waits for the lock no longer than that takes).
fn track(consumer: &Consumer, decoder: &mut Decoder, state: &Mutex<State>) {
    let mut segs: Vec<(Segment, usize)> = Vec::with_capacity(BATCH_FRAMES);
    while let Some(frames) = consumer.recv() {
        for (i, (no, ts, wire_len, data, linktype)) in frames.iter().enumerate() {
            if let Some(seg) = decoder.decode(data, ts, wire_len, linktype, no) {
                segs.push((seg, i));
            }
        }
        hand_over(&mut segs, &frames, decoder, state);
        consumer.give_back(frames);
    }
}

fn hand_over(
    segs: &mut Vec<(Segment, usize)>,
    frames: &FrameBatch,
    decoder: &Decoder,
    state: &Mutex<State>,
) {
    // at least one hand-over, which publishes the counters of frames that were not TCP
    let mut from = 0;
    loop {
        let part = &segs[from..segs.len().min(from + BATCH)];
        let mut st = state.lock().unwrap_or_else(PoisonError::into_inner);
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
    use super::queued_batches;

    #[test]
    fn the_queue_follows_the_ring() {
        assert_eq!(queued_batches(crate::live::DEFAULT_BUFFER_KIB), 64);
        assert_eq!(queued_batches(131_072), 256);
        assert_eq!(queued_batches(256), 8);
    }
}
