//! Frames from the capture thread to the tracking thread, in large batches over a bounded
//! queue that never makes the capture wait.
//!
//! The capture thread only copies each frame into a preallocated batch (`Producer::push`); a
//! full batch, or the frames gathered when the ring had no more (`Producer::flush`), goes on the
//! queue. When the queue is full (tracking has fallen that far behind) the batch is dropped and
//! its frames counted as queue drops, so a tracking stall never stops the ring from draining:
//! the kernel ring and this queue together are what absorbs a burst. Emptied batches come back
//! to be filled again (a batch allocated on one thread and freed on the other costs both
//! allocators dearly, see `headless::decoding`), `SPARE_BATCHES` of them: those a burst made
//! beyond are freed once tracking has caught up.
//!
//! Whole frames are copied, not only their headers: the decoder judges truncation, keeps
//! malformed frames and the tracker keeps frames for the views from the bytes libpcap gave, so
//! the tracking thread sees exactly what a `-w` file or `-r` would give it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::sync::Arc;

/// Frames in one batch at most: one wake-up of the tracking thread per batch.
pub const BATCH_FRAMES: usize = 4096;
/// Frame bytes in one batch at most (a batch ends early when the next frame would not fit; a
/// frame larger than this, possible only with a snap length above it, travels alone).
pub const BATCH_BYTES: usize = 1 << 20;

/// One frame's place in a batch.
#[derive(Clone, Copy, Debug)]
struct Head {
    ts: f64,
    wire_len: u32,
    linktype: i32,
    end: usize,
}

/// Frames copied from the ring, numbered from `first_no` on, in capture order.
#[derive(Debug)]
pub struct FrameBatch {
    /// The capture's number of the first frame (1 for the first frame captured; a `-w` file's
    /// record number).
    pub first_no: u64,
    heads: Vec<Head>,
    bytes: Vec<u8>,
}

/// One frame of a batch: `(frame number, timestamp, length on the wire, captured bytes, link
/// type)`.
pub type Frame<'a> = (u64, f64, u32, &'a [u8], i32);

impl FrameBatch {
    fn new() -> FrameBatch {
        FrameBatch {
            first_no: 1,
            heads: Vec::with_capacity(BATCH_FRAMES),
            bytes: Vec::with_capacity(BATCH_BYTES),
        }
    }

    /// Frames in the batch.
    pub fn len(&self) -> usize {
        self.heads.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heads.is_empty()
    }

    /// Whether a frame of `len` bytes still fits (an empty batch takes any frame).
    fn fits(&self, len: usize) -> bool {
        self.is_empty()
            || (self.heads.len() < BATCH_FRAMES && self.bytes.len() + len <= BATCH_BYTES)
    }

    fn push(&mut self, ts: f64, wire_len: u32, data: &[u8], linktype: i32) {
        self.bytes.extend_from_slice(data);
        let end = self.bytes.len();
        self.heads.push(Head {
            ts,
            wire_len,
            linktype,
            end,
        });
    }

    /// The frame at `index` (0 = the first of the batch).
    pub fn get(&self, index: usize) -> Frame<'_> {
        let head = self.heads[index];
        let start = index.checked_sub(1).map_or(0, |i| self.heads[i].end);
        let no = self.first_no + index as u64;
        let data = &self.bytes[start..head.end];
        (no, head.ts, head.wire_len, data, head.linktype)
    }

    /// Every frame, in capture order.
    pub fn iter(&self) -> impl Iterator<Item = Frame<'_>> {
        (0..self.len()).map(|i| self.get(i))
    }

    fn clear(&mut self, first_no: u64) {
        self.first_no = first_no;
        self.heads.clear();
        self.bytes.clear();
    }
}

/// Emptied batches kept to be filled again, at most: the rest of those a burst made are freed
/// once tracking has caught up (a full queue is 128 of them by default: 128 MiB).
pub const SPARE_BATCHES: usize = 8;

/// How far tracking is behind (batches on the queue, not yet taken, of how many fit), and the
/// emptied batches waiting to be filled again.
#[derive(Debug)]
pub struct Backlog {
    waiting: AtomicUsize,
    capacity: usize,
    /// Emptied batches given back and not yet taken again.
    idle: AtomicUsize,
}

impl Backlog {
    /// The share of the queue in use, 0 (tracking keeps up) to 1 (the next batch is dropped).
    pub fn fill(&self) -> f64 {
        self.waiting.load(Ordering::Relaxed) as f64 / self.capacity as f64
    }

    /// Emptied batches waiting to be filled again (`SPARE_BATCHES` at most).
    pub fn idle(&self) -> usize {
        self.idle.load(Ordering::Relaxed)
    }
}

/// The capture thread's end.
pub struct Producer {
    tx: SyncSender<FrameBatch>,
    emptied: Receiver<FrameBatch>,
    batch: FrameBatch,
    /// An empty batch kept for the next hand-over (the queue was full last time).
    spare: Option<FrameBatch>,
    /// The number the next frame pushed gets.
    next_no: u64,
    drops: Arc<AtomicU64>,
    backlog: Arc<Backlog>,
    /// The tracking thread is gone: nothing is handed over any more.
    closed: bool,
}

/// The tracking thread's end.
pub struct Consumer {
    rx: Receiver<FrameBatch>,
    emptied: Sender<FrameBatch>,
    backlog: Arc<Backlog>,
}

/// A queue holding `queued` batches at most (at least 1); frames dropped because it was full
/// are added to `drops`.
pub fn channel(queued: usize, drops: Arc<AtomicU64>) -> (Producer, Consumer) {
    let (tx, rx) = mpsc::sync_channel(queued.max(1));
    let (emptied, back) = mpsc::channel();
    let backlog = Arc::new(Backlog {
        waiting: AtomicUsize::new(0),
        capacity: queued.max(1),
        idle: AtomicUsize::new(0),
    });
    let producer = Producer {
        tx,
        emptied: back,
        batch: FrameBatch::new(),
        spare: None,
        next_no: 1,
        drops,
        backlog: Arc::clone(&backlog),
        closed: false,
    };
    let consumer = Consumer {
        rx,
        emptied,
        backlog,
    };
    (producer, consumer)
}

impl Producer {
    /// Copy one frame into the batch (handing the batch over first when the frame does not
    /// fit); never waits. False once the tracking thread is gone.
    pub fn push(&mut self, ts: f64, wire_len: u32, data: &[u8], linktype: i32) -> bool {
        if !self.batch.fits(data.len()) {
            self.flush();
        }
        self.batch.push(ts, wire_len, data, linktype);
        self.next_no += 1;
        if self.batch.len() >= BATCH_FRAMES {
            self.flush();
        }
        !self.closed
    }

    /// Hand over the frames gathered so far, without waiting: when the queue is full they are
    /// dropped (and counted). False once the tracking thread is gone.
    pub fn flush(&mut self) -> bool {
        if self.batch.is_empty() || self.closed {
            self.batch.clear(self.next_no);
            return !self.closed;
        }
        let next = self.spare.take().or_else(|| {
            let back = self.emptied.try_recv().ok()?;
            self.backlog.idle.fetch_sub(1, Ordering::Relaxed);
            Some(back)
        });
        let full = std::mem::replace(&mut self.batch, next.unwrap_or_else(FrameBatch::new));
        // counted before it is sent: the consumer may take it at once
        self.backlog.waiting.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(full) {
            Ok(()) => {}
            Err(TrySendError::Full(lost)) => {
                self.backlog.waiting.fetch_sub(1, Ordering::Relaxed);
                self.drops.fetch_add(lost.len() as u64, Ordering::Relaxed);
                // the lost batch is filled again at once (it is warm in the cache)
                self.spare = Some(std::mem::replace(&mut self.batch, lost));
            }
            Err(TrySendError::Disconnected(_)) => {
                self.backlog.waiting.fetch_sub(1, Ordering::Relaxed);
                self.closed = true;
            }
        }
        self.batch.clear(self.next_no);
        !self.closed
    }

    /// The capture has ended: hand over the rest, waiting for room (nothing is lost at the
    /// end for want of a moment).
    pub fn finish(mut self) {
        if self.batch.is_empty() || self.closed {
            return;
        }
        let rest = std::mem::replace(&mut self.batch, FrameBatch::new());
        self.backlog.waiting.fetch_add(1, Ordering::Relaxed);
        if self.tx.send(rest).is_err() {
            self.backlog.waiting.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Frames dropped so far because the queue was full.
    pub fn drops(&self) -> u64 {
        self.drops.load(Ordering::Relaxed)
    }
}

impl Consumer {
    /// The next batch, waiting for it; None once the capture thread has finished and every
    /// batch has been taken.
    pub fn recv(&self) -> Option<FrameBatch> {
        let batch = self.rx.recv().ok()?;
        self.backlog.waiting.fetch_sub(1, Ordering::Relaxed);
        Some(batch)
    }

    /// How far behind the consumer is (shared with the producer).
    pub fn backlog(&self) -> Arc<Backlog> {
        Arc::clone(&self.backlog)
    }

    /// Give an emptied batch back to be filled again (freed instead when `SPARE_BATCHES` wait
    /// already).
    pub fn give_back(&self, batch: FrameBatch) {
        if self.backlog.idle.load(Ordering::Relaxed) >= SPARE_BATCHES {
            return;
        }
        self.backlog.idle.fetch_add(1, Ordering::Relaxed);
        if self.emptied.send(batch).is_err() {
            self.backlog.idle.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests;
