//! The session's source thread: records read, decoded and handed to the tracker in batches
//! (a live capture reads on a thread of its own: `super::live`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::State;
use crate::decode::Decoder;
use crate::live::{LiveCapture, LiveConfig};
use crate::reader::CaptureReader;
use crate::segment::Segment;

/// Segments handed over under one lock at most: the UI waits for the lock no longer than one
/// batch takes (~50 µs).
pub(super) const BATCH: usize = 256;
/// Fewer bytes buffered than this, and the next record may need a read: on a pipe, a wait.
const REFILL_SOON: usize = 1 << 16;
/// Longest sleep of a replay between two looks at the stop flag.
const NAP: Duration = Duration::from_millis(50);

/// Where a session's frames come from.
#[derive(Clone, Debug)]
pub enum SourceSpec {
    /// A live interface (`-i`, `-f`, `-B`, `-w`, `-c`, `--duration`).
    Live(LiveConfig),
    /// A capture file (`-`: standard input), as fast as it reads (`speed` None), or at its
    /// recorded pace times `speed`; `name` is what messages call it (default: the path).
    File {
        path: String,
        name: Option<String>,
        speed: Option<f64>,
    },
}

/// Decoded segments and a copy of their frames, waiting to be handed over.
#[derive(Default)]
struct Batch {
    segs: Vec<(Segment, usize, usize)>,
    frames: Vec<u8>,
}

impl Batch {
    fn push(&mut self, seg: Segment, frame: &[u8]) {
        let start = self.frames.len();
        self.frames.extend_from_slice(frame);
        self.segs.push((seg, start, self.frames.len()));
    }

    /// Give every segment to the tracker under one lock, with the decoder's counters.
    fn hand_over(&mut self, state: &Mutex<State>, decoder: &Decoder) {
        let mut st = state.lock().unwrap_or_else(PoisonError::into_inner);
        for (seg, start, end) in &self.segs {
            st.take(seg, &self.frames[*start..*end]);
        }
        self.segs.clear();
        self.frames.clear();
        end_batch(st, decoder);
    }
}

/// A source opened, ready for its thread.
pub(super) enum Opened {
    File {
        reader: Box<CaptureReader>,
        speed: Option<f64>,
    },
    Live(Box<LiveCapture>),
}

impl Opened {
    /// What must happen before reading, on the caller's thread (so that its error is the
    /// caller's): a live capture creates its `-w` file (after any privilege drop).
    pub(super) fn prepare(&mut self) -> Result<(), String> {
        match self {
            Opened::Live(capture) => capture.open_writer().map_err(|e| e.0),
            Opened::File { .. } => Ok(()),
        }
    }

    /// A live capture's link type, interface and kernel filter.
    pub(super) fn live(&self) -> Option<(i32, String, String)> {
        match self {
            Opened::Live(c) => Some((c.linktype(), c.iface().to_owned(), c.filter().to_owned())),
            Opened::File { .. } => None,
        }
    }
}

/// Open a source (so that its error is the caller's, one line).
pub(super) fn open(spec: SourceSpec) -> Result<Opened, String> {
    match spec {
        SourceSpec::File { path, name, speed } => Ok(Opened::File {
            reader: Box::new(super::open_reader(&path, name.as_deref())?),
            speed,
        }),
        SourceSpec::Live(cfg) => Ok(Opened::Live(Box::new(
            LiveCapture::open(cfg).map_err(|e| e.0)?,
        ))),
    }
}

/// Read an opened source on its own thread until it ends or `stop` is set.
pub(super) fn spawn(
    opened: Opened,
    verify_checksums: bool,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<()>, String> {
    let name = match opened {
        Opened::File { .. } => "tcpwatch-reader",
        Opened::Live(_) => "tcpwatch-tracker", // the capture has a thread of its own
    };
    thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let mut decoder = Decoder::new(verify_checksums);
            let error = match opened {
                Opened::File { reader, speed } => read(*reader, &mut decoder, speed, &state, &stop),
                Opened::Live(capture) => super::live::sniff(*capture, &mut decoder, &state, &stop),
            };
            let mut st = state.lock().unwrap_or_else(PoisonError::into_inner);
            publish_counters(&mut st.decoder, &decoder);
            st.tracker.finish();
            st.error = error;
            st.finished = true;
        })
        .map_err(|e| format!("cannot start the capture thread: {e}"))
}

/// End a batch's hand-over: publish the decoder's counters, forget old per-second counts, let
/// go of the lock, then free the frames the tracker let go of (rings emptied to stay within
/// the budgets: tens of thousands at a time, not to be freed while the UI waits for the lock).
pub(super) fn end_batch(mut st: MutexGuard<'_, State>, decoder: &Decoder) {
    publish_counters(&mut st.decoder, decoder);
    st.trim_seconds();
    let emptied = st.tracker.take_emptied();
    drop(st);
    drop(emptied);
}

/// The decoder's counters, for the UI (its kept malformed frames stay with the source: a
/// thousand of them would be copied at every batch).
fn publish_counters(shown: &mut Decoder, source: &Decoder) {
    shown.frames = source.frames;
    shown.tcp = source.tcp;
    shown.non_tcp = source.non_tcp;
    shown.fragments = source.fragments;
    shown.truncated = source.truncated;
    if shown.malformed != source.malformed {
        shown.malformed.clone_from(&source.malformed);
    }
}

/// Read to the end (or until `stop`); returns the reader's error.
fn read(
    mut reader: CaptureReader,
    decoder: &mut Decoder,
    speed: Option<f64>,
    state: &Mutex<State>,
    stop: &AtomicBool,
) -> Option<String> {
    let mut batch = Batch::default();
    let mut frame_no = 0u64;
    // (first capture time, when it was played, the clock): read at every record, without the
    // lock the UI takes to poll.
    let mut pace: Option<(f64, Instant, Arc<super::ManualClock>)> = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        // A pipe's next record may not have arrived: what is decoded goes to the view first.
        if reader.buffered() < REFILL_SOON && !batch.segs.is_empty() {
            batch.hand_over(state, decoder);
        }
        let Some(rec) = reader.next_record() else {
            break;
        };
        frame_no += 1;
        if let Some(speed) = speed {
            let (first, started, clock) = pace.get_or_insert_with(|| {
                let mut st = state.lock().unwrap_or_else(PoisonError::into_inner);
                let started = Instant::now();
                st.pace = Some((rec.ts, started, speed));
                (rec.ts, started, Arc::clone(&st.manual_clock))
            });
            let (started, clock) = (*started, &**clock);
            let due = ((rec.ts - *first) / speed).max(0.0);
            if clock.elapsed(started) < due {
                batch.hand_over(state, decoder);
                while !stop.load(Ordering::Relaxed) {
                    let left = due - clock.elapsed(started);
                    if left <= 0.0 {
                        break;
                    }
                    thread::sleep(NAP.min(Duration::from_secs_f64(left)));
                }
            }
        }
        let seg = decoder.decode(rec.data, rec.ts, rec.wire_len, rec.linktype, frame_no);
        if let Some(seg) = seg {
            batch.push(seg, rec.data);
            if batch.segs.len() >= BATCH {
                batch.hand_over(state, decoder);
            }
        }
    }
    batch.hand_over(state, decoder);
    reader.error().map(str::to_owned)
}
