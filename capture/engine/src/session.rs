//! A capture running on its own thread into a tracker the engine owns, for the TUI.
//!
//! The source thread reads and decodes without holding anything the UI waits for, and hands
//! its segments to the tracker in batches under one lock; the UI takes that lock only to ask for
//! what changed since it last asked (`poll`) and for one flow at a time. A batch is handed over
//! when it is full, when the reader is about to wait for more input (a pipe), and before a
//! replay sleeps, so a slow source shows up at once.

pub mod events;
pub mod flagminute;
pub mod handoff;
mod live;
mod source;

use hashbrown::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use crate::decode::Decoder;
use crate::export::RecordWriter;
use crate::filter::Filter;
use crate::flow::Flow;
use crate::live::LiveCounters;
use crate::print::Printer;
use crate::reader::CaptureReader;
use crate::segment::{Segment, SYN};
use crate::tracker::{ConfigError, FlowTracker, TrackerConfig};
use events::{Event, EventKind, EventQueue};

pub use source::SourceSpec;

/// Seconds of per-second counts kept for the UI's rates and sparkline.
pub const SECONDS_KEPT: usize = 120;

/// What the source thread and the UI share (under `Session::state`).
pub struct State {
    pub tracker: FlowTracker,
    /// The decoder's counters, published with each batch.
    pub decoder: Decoder,
    /// Segments handed to the tracker.
    pub segments: u64,
    /// The latest capture time seen.
    pub capture_ts: f64,
    /// Segments since the UI last asked, per flow and second (see `FlagCounts`).
    pub flag_counts: FlagCounts,
    /// The second `trim_seconds` last trimmed at: it trims again only when a new one begins.
    trimmed_at: i64,
    pub events: EventQueue,
    /// Flows that left the tracker since the UI last asked, for it to keep showing (exported
    /// live, dimmed in the table).
    pub gone: Vec<Flow>,
    /// The source has ended (end of file, count or duration reached, stop asked, or failed).
    pub finished: bool,
    /// Why the source ended early, one line.
    pub error: Option<String>,
    /// A replay's clock: (first capture time, when it was played, speed).
    pub pace: Option<(f64, std::time::Instant, f64)>,
    /// A replay paced by the caller's clock instead of the wall clock (`Session::set_clock`);
    /// shared with the source thread, which reads it at every record without the lock.
    pub manual_clock: Arc<ManualClock>,
    /// Live: what the capture lost, read at each poll.
    pub loss: Option<Loss>,
    /// Live: the link type of the captured frames, the interface and the kernel filter.
    pub live: Option<(i32, String, String)>,
    /// Whether a UI reads the changes: flag counts, events and flows that left are kept for it
    /// (a headless run writes its outputs and needs none of them).
    pub ui: bool,
    /// A headless run's outputs (lines and records written as segments come), if asked.
    pub outputs: Option<Box<Outputs>>,
}

/// What a headless session writes as it goes (`--print` lines, the records of flows that
/// leave), for the caller to take at each poll; the rest of the records at `finish_export`.
pub struct Outputs {
    pub printer: Option<Printer>,
    pub writer: Option<RecordWriter<Vec<u8>>>,
    pub filter: Filter,
    /// Lines printed since the caller last took them.
    pub lines: Vec<u8>,
}

impl Outputs {
    /// Records written since the caller last took them.
    pub fn take_records(&mut self) -> std::io::Result<Vec<u8>> {
        match self.writer.as_mut() {
            Some(writer) => {
                writer.flush()?;
                Ok(std::mem::take(writer.output_mut()))
            }
            None => Ok(Vec::new()),
        }
    }
}

/// The caller's replay clock: seconds since the replay began, as last set; unset: the wall
/// clock paces the replay.
#[derive(Debug)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// The bits of no clock set (a NaN no caller can set: `set` takes seconds).
    const UNSET: u64 = u64::MAX;

    pub fn set(&self, seconds: f64) {
        self.0.store(seconds.to_bits(), Ordering::Relaxed);
    }

    /// Seconds since the replay began (at `started` by the wall clock): the caller's, if set.
    pub fn elapsed(&self, started: std::time::Instant) -> f64 {
        match self.0.load(Ordering::Relaxed) {
            Self::UNSET => started.elapsed().as_secs_f64(),
            bits => f64::from_bits(bits),
        }
    }
}

impl Default for ManualClock {
    fn default() -> ManualClock {
        ManualClock(AtomicU64::new(Self::UNSET))
    }
}

/// Where a live capture counts the frames it lost.
pub struct Loss {
    /// The capture's counters: frames the kernel dropped (ring full) as of its last reading.
    pub kernel: Arc<LiveCounters>,
    /// Frames the capture thread dropped because tracking was that far behind (`handoff`).
    pub queue: Arc<AtomicU64>,
    /// How full the queue to tracking is.
    pub backlog: Arc<handoff::Backlog>,
}

impl State {
    /// The state of a session (with a UI) that has taken nothing yet.
    pub fn new(mut tracker: FlowTracker, verify_checksums: bool) -> State {
        // The frames of emptied rings are freed by the source thread after it lets go of the
        // lock (`source::end_batch`), not while the UI waits for it.
        tracker.defer_frees();
        State {
            tracker,
            decoder: Decoder::new(verify_checksums),
            segments: 0,
            capture_ts: 0.0,
            flag_counts: FlagCounts::default(),
            trimmed_at: i64::MIN,
            events: EventQueue::default(),
            gone: Vec::new(),
            finished: false,
            error: None,
            pace: None,
            manual_clock: Arc::default(),
            loss: None,
            live: None,
            ui: true,
            outputs: None,
        }
    }

    /// Live: frames the kernel dropped (as of the capture's last statistics reading).
    pub fn kernel_drops(&self) -> u64 {
        self.loss
            .as_ref()
            .map_or(0, |l| l.kernel.snapshot().kernel_drops)
    }

    /// Live: frames dropped between the capture thread and tracking (the queue was full).
    pub fn queue_drops(&self) -> u64 {
        self.loss
            .as_ref()
            .map_or(0, |l| l.queue.load(Ordering::Relaxed))
    }

    /// Live: the share of the queue to tracking in use (0 for a file: nothing waits there).
    pub fn queue_fill(&self) -> f64 {
        self.loss.as_ref().map_or(0.0, |l| l.backlog.fill())
    }

    /// Seconds of replay elapsed (the caller's clock, or the wall clock since the first record).
    fn replay_elapsed(&self) -> Option<f64> {
        let (_, started, _) = self.pace?;
        Some(self.manual_clock.elapsed(started))
    }

    /// The capture time a replay has reached (it runs on between records); None otherwise.
    pub fn replay_position(&self) -> Option<f64> {
        let (first, _, speed) = self.pace?;
        Some(first + self.replay_elapsed()? * speed)
    }
}

impl State {
    /// Give one decoded segment (with its frame) to the tracker and note what it did.
    /// Read in place: a `Segment` is big enough for a move to be a copy.
    fn take(&mut self, seg: &Segment, frame: &[u8]) {
        let (ts, flags) = (seg.ts, seg.flags);
        let printing = self.outputs.as_ref().is_some_and(|o| o.printer.is_some());
        if self.ui || printing {
            let id = self.tracker.ingest_ref(seg, frame);
            // events are made of SYNs and state changes only: other segments need no look
            let eventful = self.ui && (flags & SYN != 0 || self.tracker.moved());
            if let Some(flow) = self.tracker.flow(id).filter(|_| eventful || printing) {
                if eventful {
                    events::notice(flow, seg, &mut self.events);
                }
                if let Some(out) = self.outputs.as_deref_mut() {
                    print_line(out, flow, seg);
                }
            }
            if self.ui {
                let key = ts.floor() as i64 * 512 + i64::from(flags & 0x1ff);
                self.flag_counts.note(id, key);
            }
        } else {
            // Nothing reads the flow back: SYN-only flows may stay packed, as a file's do.
            self.tracker.add_ref(seg, frame);
        }
        self.segments += 1;
        if ts > self.capture_ts {
            self.capture_ts = ts;
        }
        if !self.tracker.has_gone() {
            return;
        }
        for flow in self.tracker.take_gone() {
            if let Some(out) = self.outputs.as_deref_mut() {
                if let Some(writer) = out.writer.as_mut().filter(|_| out.filter.matches(&flow)) {
                    // a Vec cannot fail to take a record
                    let _ = writer.write(&flow.record());
                }
            }
            if self.ui {
                self.events.push(Event {
                    ts: flow.last_ts,
                    flow_id: flow.id,
                    kind: EventKind::Gone {
                        evicted: !flow.closed(),
                    },
                });
                self.gone.push(flow);
            }
        }
    }

    /// Forget per-second counts older than `SECONDS_KEPT` before the latest second (a UI that
    /// stopped asking does not make them grow without bound).
    fn trim_seconds(&mut self) {
        let newest = self.capture_ts.floor() as i64;
        if newest == self.trimmed_at {
            return; // nothing has become older than the window since
        }
        self.trimmed_at = newest;
        let oldest = (newest - SECONDS_KEPT as i64) * 512;
        self.flag_counts.forget_before(oldest);
    }
}

/// Segments noted in a `FlagCounts` tally before they are summed (16 MiB): a UI that stops
/// polling does not make the tally grow by a record a segment.
const TALLY_SUMMED_AT: usize = 1 << 20;

/// Segments per (flow id, `second * 512 + flag bits`), for the UI to count those of the flows
/// it shows. The source thread only notes each segment in a tally (a push, where a map costs a
/// hash lookup a segment); the poll takes the whole (under the lock, a move) and sums it after
/// letting go (`into_entries`).
#[derive(Debug, Default)]
pub struct FlagCounts {
    summed: HashMap<(u64, i64), u64>,
    tally: Vec<(u64, i64)>,
}

impl FlagCounts {
    /// One segment of flow `id` at `key` (`second * 512 + flag bits`).
    pub fn note(&mut self, id: u64, key: i64) {
        self.tally.push((id, key));
        if self.tally.len() >= TALLY_SUMMED_AT {
            self.sum();
        }
    }

    fn sum(&mut self) {
        for key in self.tally.drain(..) {
            *self.summed.entry(key).or_default() += 1;
        }
    }

    /// Forget the counts of the seconds before `oldest` (a key, `second * 512`).
    pub fn forget_before(&mut self, oldest: i64) {
        self.summed.retain(|(_, key), _| *key >= oldest);
        self.tally.retain(|(_, key)| *key >= oldest);
    }

    /// The counts: `((flow id, key), segments)`, in no particular order.
    pub fn into_entries(mut self) -> Vec<flagminute::Entry> {
        self.sum();
        self.summed.into_iter().collect()
    }
}

/// `--print`'s line for `seg`, which `flow` has just taken, if the filter selects the flow.
fn print_line(out: &mut Outputs, flow: &Flow, seg: &Segment) {
    let Some(printer) = out.printer.as_mut() else {
        return;
    };
    if !out.filter.matches(flow) {
        return;
    }
    let from_orig = (seg.src, seg.sport) == flow.orig_end();
    printer.line(&mut out.lines, seg, flow, from_orig);
}

/// A capture, opened and then running (see the module docs).
pub struct Session {
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    /// The source's thread, once running (in a mutex: `stop` may come from any thread).
    thread: Mutex<Option<JoinHandle<()>>>,
    /// The opened source, until `run` hands it to its thread (in a mutex: a handle the UI
    /// thread holds must be shareable, though only `run` takes it).
    opened: Mutex<Option<source::Opened>>,
    verify_checksums: bool,
}

impl Session {
    /// Open the source (errors: one line) and start its thread.
    pub fn start(spec: SourceSpec, cfg: TrackerConfig) -> Result<Session, String> {
        let session = Session::open(spec, cfg)?;
        session.run()?;
        Ok(session)
    }

    /// Open the source (errors: one line) without reading it yet: a live capture's handle is
    /// opened here, the one step that needs privilege, so the caller may drop it before `run`.
    pub fn open(spec: SourceSpec, cfg: TrackerConfig) -> Result<Session, String> {
        let tracker = FlowTracker::new(cfg.clone()).map_err(|e: ConfigError| e.to_string())?;
        let state = Arc::new(Mutex::new(State::new(tracker, cfg.verify_checksums)));
        let opened = source::open(spec)?;
        state.lock().unwrap_or_else(PoisonError::into_inner).live = opened.live();
        Ok(Session {
            state,
            stop: Arc::new(AtomicBool::new(false)),
            thread: Mutex::new(None),
            opened: Mutex::new(Some(opened)),
            verify_checksums: cfg.verify_checksums,
        })
    }

    /// Start reading the opened source on its thread (a live `-w` file is created now, after
    /// any privilege drop). A second call does nothing.
    pub fn run(&self) -> Result<(), String> {
        let taken = self
            .opened
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(mut opened) = taken else {
            return Ok(());
        };
        if let Err(why) = opened.prepare() {
            self.lock().finished = true;
            return Err(why);
        }
        let thread = source::spawn(
            opened,
            self.verify_checksums,
            self.state.clone(),
            self.stop.clone(),
        )?;
        *self.thread.lock().unwrap_or_else(PoisonError::into_inner) = Some(thread);
        Ok(())
    }

    /// Write `--print` lines and `--export` records as the capture goes (before `run`): the
    /// caller takes them at each poll (`Outputs`), and the records of the flows still tracked
    /// at the end with `finish_export`.
    pub fn set_outputs(&self, outputs: Outputs) {
        self.lock().outputs = Some(Box::new(outputs));
    }

    /// The records of every flow still tracked (after those that left), for the end of a
    /// headless run; with how many records were written in all.
    pub fn finish_export(&self) -> std::io::Result<(Vec<u8>, u64)> {
        let mut st = self.lock();
        let State {
            tracker, outputs, ..
        } = &mut *st;
        let Some(out) = outputs.as_deref_mut() else {
            return Ok((Vec::new(), 0));
        };
        let Some(writer) = out.writer.as_mut() else {
            return Ok((Vec::new(), 0));
        };
        let filter = &out.filter;
        tracker.for_each_flow(|flow| {
            if filter.matches(flow) {
                let _ = writer.write(&flow.record());
            }
        });
        writer.flush()?;
        let count = writer.count();
        Ok((std::mem::take(writer.output_mut()), count))
    }

    /// Pace a replay by the caller's clock from now on: `seconds` since the replay began (a
    /// test's clock; the wall clock otherwise).
    pub fn set_clock(&self, seconds: f64) {
        self.lock().manual_clock.set(seconds);
    }

    /// The shared state, locked (a source thread that panicked leaves it usable).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ask the source to stop and wait for its thread (a source never run just closes).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let never_run = self
            .opened
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .is_some();
        if never_run {
            self.lock().finished = true;
        }
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A reader for `path` (`-` = standard input), ready to walk; `name` (when given) is what its
/// messages call it (a pipe handed over as `/dev/fd/N` is still "standard input").
pub fn open_reader(path: &str, name: Option<&str>) -> Result<CaptureReader, String> {
    match name {
        None => CaptureReader::open(path).map_err(|e| e.0),
        Some(name) => {
            let file = std::fs::File::open(path).map_err(|e| format!("{name}: {e}"))?;
            CaptureReader::from_stream(Box::new(file), name).map_err(|e| e.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_counts_sum_the_noted_segments_per_flow_and_key() {
        let mut counts = FlagCounts::default();
        for (id, key) in [
            (1, 512 * 10 + 2),
            (2, 512 * 10 + 2),
            (1, 512 * 10 + 2),
            (1, 512 * 11),
        ] {
            counts.note(id, key);
        }
        counts.forget_before(512 * 11);
        counts.note(2, 512 * 12 + 0x10);
        let mut entries = counts.into_entries();
        entries.sort_unstable();
        assert_eq!(entries, vec![((1, 512 * 11), 1), ((2, 512 * 12 + 0x10), 1)]);
    }

    #[test]
    fn a_long_tally_is_summed_as_it_goes() {
        let mut counts = FlagCounts::default();
        for i in 0..TALLY_SUMMED_AT as u64 + 10 {
            counts.note(i % 3, 512);
        }
        assert!(counts.tally.len() < 100, "{}", counts.tally.len());
        let total: u64 = counts.into_entries().iter().map(|(_, n)| n).sum();
        assert_eq!(total, TALLY_SUMMED_AT as u64 + 10);
    }
}
