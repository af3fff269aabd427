//! A capture running on its own thread into a tracker the engine owns, for the TUI.
//!
//! The source thread reads and decodes without holding anything the UI waits for, and hands
//! its segments to the tracker in batches under one lock; the UI takes that lock only to ask for
//! what changed since it last asked (`poll`) and for one flow at a time. A batch is handed over
//! when it is full, when the reader is about to wait for more input (a pipe), and before a
//! replay sleeps, so a slow source shows up at once.

pub mod events;
mod source;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use crate::decode::Decoder;
use crate::flow::Flow;
use crate::reader::CaptureReader;
use crate::segment::Segment;
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
    /// Segments since the UI last asked, per (flow id, `second * 512 + flag bits`): the UI
    /// counts those of the flows it shows.
    pub flag_counts: HashMap<(u64, i64), u64>,
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
    /// A replay paced by the caller's clock instead of the wall clock: seconds since the
    /// replay began, as the caller last set them (`Session::set_clock`); None: the wall clock.
    pub manual_clock: Option<f64>,
    /// Live: frames the kernel dropped (as of the capture's last statistics reading).
    pub kernel_drops: u64,
    /// Live: the link type of the captured frames.
    pub linktype: Option<i32>,
}

impl State {
    /// Seconds of replay elapsed (the caller's clock, or the wall clock since the first record).
    fn replay_elapsed(&self) -> Option<f64> {
        let (_, started, _) = self.pace?;
        Some(
            self.manual_clock
                .unwrap_or_else(|| started.elapsed().as_secs_f64()),
        )
    }

    /// The capture time a replay has reached (it runs on between records); None otherwise.
    pub fn replay_position(&self) -> Option<f64> {
        let (first, _, speed) = self.pace?;
        Some(first + self.replay_elapsed()? * speed)
    }
}

impl State {
    /// Give one decoded segment (with its frame) to the tracker and note what it did.
    fn take(&mut self, seg: Segment, frame: &[u8]) {
        let (ts, flags) = (seg.ts, seg.flags);
        let copy = seg.clone();
        let id = self.tracker.ingest(seg, frame);
        if let Some(flow) = self.tracker.flow(id) {
            events::notice(flow, &copy, &mut self.events);
        }
        self.segments += 1;
        if ts > self.capture_ts {
            self.capture_ts = ts;
        }
        let key = ts.floor() as i64 * 512 + i64::from(flags & 0x1ff);
        *self.flag_counts.entry((id, key)).or_default() += 1;
        for flow in self.tracker.take_gone() {
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

    /// Forget per-second counts older than `SECONDS_KEPT` before the latest second (a UI that
    /// stopped asking does not make them grow without bound).
    fn trim_seconds(&mut self) {
        let newest = self.capture_ts.floor() as i64;
        let oldest = (newest - SECONDS_KEPT as i64) * 512;
        self.flag_counts.retain(|(_, key), _| *key >= oldest);
    }
}

/// A capture, opened and then running (see the module docs).
pub struct Session {
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// The opened source, until `run` hands it to its thread (in a mutex: a handle the UI
    /// thread holds must be shareable, though only `run` takes it).
    opened: Mutex<Option<source::Opened>>,
    verify_checksums: bool,
}

impl Session {
    /// Open the source (errors: one line) and start its thread.
    pub fn start(spec: SourceSpec, cfg: TrackerConfig) -> Result<Session, String> {
        let mut session = Session::open(spec, cfg)?;
        session.run()?;
        Ok(session)
    }

    /// Open the source (errors: one line) without reading it yet: a live capture's handle is
    /// opened here, the one step that needs privilege, so the caller may drop it before `run`.
    pub fn open(spec: SourceSpec, cfg: TrackerConfig) -> Result<Session, String> {
        let tracker = FlowTracker::new(cfg.clone()).map_err(|e: ConfigError| e.to_string())?;
        let state = Arc::new(Mutex::new(State {
            tracker,
            decoder: Decoder::new(cfg.verify_checksums),
            segments: 0,
            capture_ts: 0.0,
            flag_counts: HashMap::new(),
            events: EventQueue::default(),
            gone: Vec::new(),
            finished: false,
            error: None,
            pace: None,
            manual_clock: None,
            kernel_drops: 0,
            linktype: None,
        }));
        let opened = source::open(spec)?;
        state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .linktype = opened.linktype();
        Ok(Session {
            state,
            stop: Arc::new(AtomicBool::new(false)),
            thread: None,
            opened: Mutex::new(Some(opened)),
            verify_checksums: cfg.verify_checksums,
        })
    }

    /// Start reading the opened source on its thread (a live `-w` file is created now, after
    /// any privilege drop). A second call does nothing.
    pub fn run(&mut self) -> Result<(), String> {
        let taken = self
            .opened
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(opened) = taken else {
            return Ok(());
        };
        let thread = source::spawn(
            opened,
            self.verify_checksums,
            self.state.clone(),
            self.stop.clone(),
        )?;
        self.thread = Some(thread);
        Ok(())
    }

    /// Pace a replay by the caller's clock from now on: `seconds` since the replay began (a
    /// test's clock; the wall clock otherwise).
    pub fn set_clock(&self, seconds: f64) {
        self.lock().manual_clock = Some(seconds);
    }

    /// The shared state, locked (a source thread that panicked leaves it usable).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ask the source to stop and wait for its thread (a source never run just closes).
    pub fn stop(&mut self) {
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
        if let Some(thread) = self.thread.take() {
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
