//! A plain export's capture read and decoded on a thread of its own, the segments handed to
//! the tracker in batches: reading (page faults and cache misses on the capture's bytes) and
//! decoding were a third of the tracking thread's work.
//!
//! The caller's `stop` check stays with the caller, at the same records as in line: at each
//! `CHECK_EVERY`-th record the decoder sends its counts so far, and a run stopped there reports
//! them, as if nothing had been read past that record.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::{Scope, ScopedJoinHandle};

use super::CHECK_EVERY;
use crate::decode::Decoder;
use crate::reader::CaptureReader;
use crate::segment::Segment;

/// Segments handed over at once: one wake-up of the tracker per batch.
const BATCH: usize = 512;
/// Batches decoded ahead of the tracker at most.
const QUEUED: usize = 8;

/// What the decoding thread sends, in capture order.
pub(super) enum Decoded {
    /// The next segments.
    Segments(Vec<Segment>),
    /// The caller's `stop` check is due before the next record; the counts up to here.
    Check(Counts),
}

/// The decoder's counters, and why reading stopped early (the totals line).
#[derive(Clone, Debug, Default)]
pub(super) struct Counts {
    pub(super) frames: u64,
    pub(super) tcp: u64,
    pub(super) malformed: BTreeMap<String, u64>,
    pub(super) error: Option<String>,
}

impl Counts {
    fn of(decoder: &Decoder, error: Option<&str>) -> Counts {
        Counts {
            frames: decoder.frames,
            tcp: decoder.tcp,
            malformed: decoder.malformed.clone(),
            error: error.map(str::to_owned),
        }
    }
}

/// The caller's end: the batches in capture order, and the way back for emptied ones.
pub(super) struct Segments {
    pub(super) decoded: Receiver<Decoded>,
    /// Emptied batches go back to be filled again: a batch allocated on one thread and freed
    /// on the other cost both allocators dearly.
    pub(super) emptied: Sender<Vec<Segment>>,
}

/// The two ends of the batches' way and back.
struct Ends {
    tx: SyncSender<Decoded>,
    emptied: Receiver<Vec<Segment>>,
}

/// Start reading `reader` in `scope`: the segments come from `decoded` (dropping it stops
/// the thread), the thread's result is the counts at the end of the capture.
pub(super) fn start<'scope, 'env>(
    scope: &'scope Scope<'scope, 'env>,
    reader: &'env mut CaptureReader,
    verify_checksums: bool,
) -> (Segments, ScopedJoinHandle<'scope, Counts>) {
    let (tx, decoded) = mpsc::sync_channel(QUEUED);
    let (emptied, back) = mpsc::channel();
    let ends = Ends { tx, emptied: back };
    let worker = scope.spawn(move || decode_all(reader, verify_checksums, &ends));
    (Segments { decoded, emptied }, worker)
}

fn decode_all(reader: &mut CaptureReader, verify: bool, tx: &Ends) -> Counts {
    let mut decoder = Decoder::new(verify);
    let mut batch = Vec::with_capacity(BATCH);
    let mut frame_no: u64 = 0;
    while let Some(rec) = reader.next_record() {
        frame_no += 1;
        if frame_no.is_multiple_of(CHECK_EVERY) {
            let counts = Counts::of(&decoder, None);
            if !send(tx, &mut batch) || tx.tx.send(Decoded::Check(counts)).is_err() {
                return Counts::of(&decoder, None); // the tracker stopped: nothing waits
            }
        }
        if let Some(seg) = decoder.decode(rec.data, rec.ts, rec.wire_len, rec.linktype, frame_no) {
            batch.push(seg);
            if batch.len() == BATCH && !send(tx, &mut batch) {
                return Counts::of(&decoder, None);
            }
        }
    }
    send(tx, &mut batch);
    Counts::of(&decoder, reader.error())
}

/// Hand over the batch (if any), an emptied one taking its place; false when the receiver
/// is gone.
fn send(ends: &Ends, batch: &mut Vec<Segment>) -> bool {
    if batch.is_empty() {
        return true;
    }
    let next = ends.emptied.try_recv();
    let full = std::mem::replace(batch, next.unwrap_or_else(|_| Vec::with_capacity(BATCH)));
    ends.tx.send(Decoded::Segments(full)).is_ok()
}
