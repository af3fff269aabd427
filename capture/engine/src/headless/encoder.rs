//! The records of the flows that left, encoded on a second thread: building a record and
//! writing it as JSON or CSV is a quarter of a plain export's work, and the tracker cannot
//! wait on it. The caller still does every write to the output, in the order the flows left,
//! so the bytes written are exactly those of encoding in line.

use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::thread::{Scope, ScopedJoinHandle};

use crate::export::{Format, RecordWriter, BATCH_BYTES};
use crate::filter::Filter;
use crate::flow::Flow;
use crate::tracker::FlowTracker;

/// Flows handed over at once: one wake-up of the encoder per batch, not per flow.
const BATCH: usize = 256;
/// Batches on their way to the encoder at most (then the tracker waits for it).
const QUEUED: usize = 8;

/// The caller's end: flows go in, encoded bytes come back to be written. The flows stay in
/// the boxes the tracker held them in: each is about a kilobyte.
#[allow(
    clippy::vec_box,
    reason = "a Flow is about a kilobyte: moved once, as a pointer"
)]
pub(super) struct Encoder<'scope> {
    pending: Vec<Box<Flow>>,
    flows: Option<SyncSender<Vec<Box<Flow>>>>,
    bytes: Receiver<Vec<u8>>,
    worker: Option<ScopedJoinHandle<'scope, io::Result<u64>>>,
}

impl<'scope> Encoder<'scope> {
    /// An encoder thread in `scope` writing `format`, the flows `filter` selects.
    pub(super) fn start<'env>(
        scope: &'scope Scope<'scope, 'env>,
        format: Format,
        filter: &'env Filter,
    ) -> Encoder<'scope> {
        let (flows, inbox) = mpsc::sync_channel::<Vec<Box<Flow>>>(QUEUED);
        // Unbounded: the caller takes the bytes only between its batches, so a bound here
        // could leave each thread waiting on the other.
        let (outbox, bytes) = mpsc::channel();
        let worker = scope.spawn(move || {
            // The writer only encodes: its bytes are handed back whole, not copied into it.
            let mut writer = RecordWriter::new(format, io::sink());
            // The caller gone means it failed: its error is the one reported, not this one.
            let gone = |_| io::Error::from(io::ErrorKind::BrokenPipe);
            for batch in inbox {
                for flow in batch.iter().filter(|f| filter.matches(f)) {
                    writer.encode(&flow.record());
                    if writer.encoded_len() >= BATCH_BYTES {
                        outbox.send(writer.take_encoded()).map_err(gone)?;
                    }
                }
            }
            if writer.encoded_len() > 0 {
                outbox.send(writer.take_encoded()).map_err(gone)?;
            }
            Ok(writer.count())
        });
        Encoder {
            pending: Vec::with_capacity(BATCH),
            flows: Some(flows),
            bytes,
            worker: Some(worker),
        }
    }

    /// Queue the flows that left; what the encoder has done so far is written to `out`.
    pub(super) fn add(
        &mut self,
        gone: impl IntoIterator<Item = Box<Flow>>,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        self.pending.extend(gone);
        self.ship(out)
    }

    /// `add` of the flows that left `tracker`, moved straight into the batch.
    pub(super) fn add_gone(
        &mut self,
        tracker: &mut FlowTracker,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        tracker.gone_into(&mut self.pending);
        self.ship(out)
    }

    /// Full batches go to the encoder, `BATCH` flows each: an eviction lets thousands of flows
    /// go at once, and sent whole they would put `QUEUED` times that many on the way (a
    /// 1,000,000-SYN flood held 33 MB of flows there).
    fn ship(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if self.pending.len() < BATCH {
            return Ok(());
        }
        while self.pending.len() >= BATCH {
            let rest = self.pending.split_off(BATCH);
            let batch = std::mem::replace(&mut self.pending, rest);
            if let Some(flows) = &self.flows {
                if flows.send(batch).is_err() {
                    // The encoder stopped on an error, which `finish` reports.
                    return self.finish(out).map(drop);
                }
            }
        }
        loop {
            match self.bytes.try_recv() {
                Ok(piece) => out.write_all(&piece)?,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return Ok(()),
            }
        }
    }

    /// Encode what is queued, write it all to `out`; the records written.
    pub(super) fn finish(&mut self, out: &mut dyn Write) -> io::Result<u64> {
        if let Some(flows) = self.flows.take() {
            let batch = std::mem::take(&mut self.pending);
            // A failed send means the encoder stopped on an error, reported below.
            let _ = flows.send(batch);
        }
        while let Ok(piece) = self.bytes.recv() {
            out.write_all(&piece)?;
        }
        match self.worker.take().map(ScopedJoinHandle::join) {
            Some(Ok(done)) => done,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => Err(io::Error::other("the encoder was already finished")),
        }
    }
}
