//! `capture._engine.Session`: a capture read on an engine thread into flows the engine owns.
//!
//! The UI polls it once per tick for what changed (flow ids, flows that left, per-second flag
//! counts, events) and asks for one flow's snapshot when it shows it. The per-flow flag counts
//! stay here (`FlagMinute`): a poll sums those of the flows the view's filter selects.

use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};

use std::sync::{Mutex, PoisonError};

use super::filter::PyFilter;
use super::views::PyFlow;
use super::{os_error, view_config, CaptureError};
use crate::export::{Format, RecordWriter};
use crate::filter::Filter;
use crate::flow::random_seed;
use crate::live::{LiveCapture, LiveConfig};
use crate::print::Printer;
use crate::segment::Addr;
use crate::session::events::{Event, EventKind};
use crate::session::flagminute::{self, Entry, FlagMinute};
use crate::session::{Outputs, Session, SourceSpec};
use crate::tcpstate::Side;
use crate::tracker::TrackerConfig;

/// A running capture (see the module docs).
#[pyclass(module = "capture._engine", name = "Session")]
pub struct PySession {
    session: Session,
    /// The last minute of the polls' per-flow flag counts, for a new filter to recount.
    minute: Mutex<FlagMinute>,
}

impl PySession {
    fn wrap(session: Session) -> PySession {
        PySession {
            session,
            minute: Mutex::default(),
        }
    }
}

#[pymethods]
impl PySession {
    /// Start reading `path` (`-` = standard input; `name` is what messages call it); `speed`
    /// replays it at its recorded pace times `speed`; `clock`: the replay is paced by the
    /// caller's clock from the first record on (seconds since it began, then `set_clock`).
    /// Raises `CaptureError` (one line) when it cannot be read.
    #[new]
    #[pyo3(signature = (path, *, name=None, speed=None, max_flows=100_000, frames_per_flow=64,
        frame_budget=250_000, frame_bytes=256 << 20, linger=None, verify_checksums=false,
        seed=None, clock=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        path: String,
        name: Option<String>,
        speed: Option<f64>,
        max_flows: usize,
        frames_per_flow: usize,
        frame_budget: usize,
        frame_bytes: usize,
        linger: Option<f64>,
        verify_checksums: bool,
        seed: Option<u64>,
        clock: Option<f64>,
    ) -> PyResult<PySession> {
        if speed.is_some_and(|s| s <= 0.0 || s.is_nan()) {
            return Err(PyValueError::new_err("the replay speed must be positive"));
        }
        let spec = SourceSpec::File { path, name, speed };
        let budgets = (frame_budget, frame_bytes);
        let cfg = TrackerConfig {
            uid_seed: seed.unwrap_or_else(random_seed),
            ..view_config(
                max_flows,
                frames_per_flow,
                budgets,
                linger,
                verify_checksums,
            )
        };
        // Opening standard input may wait for a writer: without the GIL.
        let session = py
            .allow_threads(|| {
                let session = Session::open(spec, cfg)?;
                if let Some(seconds) = clock {
                    session.set_clock(seconds); // before any record is read
                }
                session.run().map(|()| session)
            })
            .map_err(CaptureError::new_err)?;
        Ok(PySession::wrap(session))
    }

    /// Open a live capture (`iface` "" = the default interface; `filter` ANDed with the
    /// TCP-only default; `buffer_kib` the ring; `write_path` every frame as a pcap; `count`,
    /// `duration` stop conditions) without reading yet: the one step that needs privilege, so
    /// the caller can drop root before `start()`. Raises `CaptureError` with one line (unknown
    /// interface, bad filter, `-w` not writable, no privilege: with how to get it).
    /// `print`, `absolute`, `export`, `display_filter`, `insights`: a headless run, whose
    /// tracker is a capture file's (`TrackerConfig::headless`; the frame keywords are the UI's).
    #[staticmethod]
    #[pyo3(signature = (iface="", *, filter=None, buffer_kib=32768, write_path=None,
        count=None, duration=None, max_flows=100_000, frames_per_flow=64,
        frame_budget=250_000, frame_bytes=256 << 20, linger=None, print=false, absolute=false,
        export=None, display_filter="", insights=false, seed=None))]
    #[allow(clippy::too_many_arguments)]
    fn live(
        py: Python<'_>,
        iface: &str,
        filter: Option<String>,
        buffer_kib: u32,
        write_path: Option<std::path::PathBuf>,
        count: Option<u64>,
        duration: Option<f64>,
        max_flows: usize,
        frames_per_flow: usize,
        frame_budget: usize,
        frame_bytes: usize,
        linger: Option<f64>,
        print: bool,
        absolute: bool,
        export: Option<&str>,
        display_filter: &str,
        insights: bool,
        seed: Option<u64>,
    ) -> PyResult<PySession> {
        let selects =
            Filter::compile(display_filter).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let format = match export {
            None => None,
            Some("jsonl") => Some(Format::Jsonl),
            Some("csv") => Some(Format::Csv),
            Some(other) => return Err(PyValueError::new_err(format!("unknown export {other:?}"))),
        };
        let mut live = LiveConfig::new(iface);
        live.filter = filter;
        live.buffer_kib = buffer_kib;
        live.write_path = write_path;
        live.count = count;
        live.duration = duration;
        let headless = print || format.is_some() || insights;
        let seed = seed.unwrap_or_else(random_seed);
        let cfg = if headless {
            TrackerConfig {
                // Flows stay to the end, where their processes are named (`annotate_all`): a
                // closed flow written after `linger` would be written without its owners.
                linger: None,
                uid_seed: seed,
                ..TrackerConfig::headless(max_flows, format.is_some(), insights)
            }
        } else {
            let budgets = (frame_budget, frame_bytes);
            TrackerConfig {
                uid_seed: seed,
                ..view_config(max_flows, frames_per_flow, budgets, linger, false)
            }
        };
        let session = py
            .allow_threads(|| Session::open(SourceSpec::Live(live), cfg))
            .map_err(CaptureError::new_err)?;
        if headless {
            // A headless run: nobody reads the UI's changes, flag counts or events.
            session.lock().ui = false;
            session.set_outputs(Outputs {
                printer: print.then(|| Printer::new(absolute, false)),
                writer: format.map(|f| RecordWriter::new(f, Vec::new())),
                filter: selects,
                lines: Vec::new(),
            });
        }
        Ok(PySession::wrap(session))
    }

    /// The records of every flow still tracked, for the end of a headless run (after the
    /// records of the flows that left, taken at each poll); with the count of all records.
    fn finish_export<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyBytes>, u64)> {
        let (bytes, count) = self.session.finish_export().map_err(|e| os_error(py, e))?;
        Ok((PyBytes::new(py, &bytes), count))
    }

    /// Our listening endpoints (port, or (address bytes, port)): they orient flows seen
    /// mid-stream (the responder is the listening end).
    fn set_listen_ports(&self, ports: Vec<Bound<'_, PyAny>>) -> PyResult<()> {
        let mut keys = std::collections::HashSet::new();
        for item in ports {
            if let Ok(port) = item.extract::<u16>() {
                keys.insert((None, port));
            } else {
                let (addr, port): (Vec<u8>, u16) = item.extract()?;
                keys.insert((Some(Addr::new(&addr)), port));
            }
        }
        self.session.lock().tracker.listen_ports = keys;
        Ok(())
    }

    /// A live capture's interface and kernel filter; None for a file.
    fn live_info(&self) -> Option<(String, String)> {
        let st = self.session.lock();
        st.live
            .as_ref()
            .map(|(_, iface, filter)| (iface.clone(), filter.clone()))
    }

    /// Start reading what `live` opened (files start at once); a second call does nothing.
    fn start(&self, py: Python<'_>) -> PyResult<()> {
        py.allow_threads(|| self.session.run())
            .map_err(CaptureError::new_err)
    }

    /// What changed since the last poll: `changed` (flow ids, sorted) with `flows` (their
    /// snapshots, None for a flow no longer tracked; their `frames()` are the handshake and
    /// teardown segments only, `flow(id)` has the recent ones too), `gone` (flows that left,
    /// as snapshots, with every kept segment), the segments counted since, per (second * 512
    /// + flag bits): `flag_totals` over every flow and `flag_matched` over the flows
    /// `matching` (a `Filter`) selects (None without one), both as `(key, segments)` in time
    /// order, and `per_second` (`(second, segments)`),
    /// `events` (tuples `(ts, flow_id, kind, detail)`), and the running totals `segments`,
    /// `capture_ts`, `finished`, `error`, `events_dropped`; live, `queue_fill`: the share of
    /// the queue from the capture thread to tracking in use (0 to 1: past it, frames are
    /// dropped), how far tracking is behind.
    ///
    /// `max_changed` bounds the flows taken (the ids in `first` that changed come first, then
    /// the others in turn; see `FlowTracker::take_changed_upto`); `changed_left` says how many
    /// more wait for the next polls. `max_events` bounds the events: the newest are taken,
    /// and `events_skipped` counts those passed over (a reader keeping no more events than
    /// that would let them go anyway: each costs Python objects).
    #[pyo3(signature = (max_changed=None, first=Vec::new(), matching=None, max_events=None))]
    fn poll<'py>(
        &self,
        py: Python<'py>,
        max_changed: Option<usize>,
        first: Vec<u64>,
        matching: Option<PyRef<'_, PyFilter>>,
        max_events: Option<usize>,
    ) -> PyResult<Bound<'py, PyDict>> {
        // Everything is taken out under the lock, and made into Python objects after it: the
        // sniffer thread waits for the lock no longer than a few moves take.
        let taken = {
            let mut guard = self.session.lock();
            let st = &mut *guard;
            let ui = st.ui;
            let outputs = st.outputs.as_deref_mut().map(|o| {
                let lines = std::mem::take(&mut o.lines);
                (lines, o.take_records())
            });
            let changed = if ui {
                let limit = max_changed.unwrap_or(usize::MAX);
                st.tracker.take_changed_upto(limit, &first)
            } else {
                Vec::new()
            };
            let flows = changed.iter().map(|&id| st.tracker.snapshot(id)).collect();
            let gone = std::mem::take(&mut st.gone);
            let flags = std::mem::take(&mut st.flag_counts);
            let (events, events_skipped) = st.events.take(max_events.unwrap_or(usize::MAX));
            Polled {
                changed,
                flows,
                changed_left: st.tracker.changed_left(),
                gone,
                flags,
                events,
                events_skipped,
                events_dropped: st.events.dropped,
                segments: st.segments,
                capture_ts: st.capture_ts,
                position: st.replay_position(),
                kernel_drops: st.kernel_drops(),
                queue_drops: st.queue_drops(),
                queue_fill: st.queue_fill(),
                linktype: st.live.as_ref().map(|l| l.0),
                outputs,
                finished: st.finished,
                error: st.error.clone(),
            }
        };
        // The segments' flag counts, summed per flow and second outside the lock; the flows
        // the filter selects among them judged under it again (the tracker's flows as they are
        // now, those that left as they left).
        let flags: Vec<Entry> = taken.flags.into_entries();
        let selected = matching.as_ref().map(|filter| {
            let ids = flags.iter().map(|((id, _), _)| *id);
            let st = self.session.lock();
            selection(&st.tracker, &taken.gone, filter.filter(), ids)
        });
        let out = PyDict::new(py);
        out.set_item("changed", taken.changed)?;
        let flows: Vec<Option<PyFlow>> = taken
            .flows
            .into_iter()
            .map(|f| f.map(PyFlow::new))
            .collect();
        out.set_item("flows", flows)?;
        out.set_item("changed_left", taken.changed_left)?;
        let gone: Vec<PyFlow> = taken.gone.into_iter().map(PyFlow::new).collect();
        out.set_item("gone", gone)?;
        // Summed here for the view: per second (the packet rate), per (second, flags) over
        // every flow (the flag bar without a filter) and over the flows the filter selects.
        let totals = flagminute::sum(flags.iter(), |_| true);
        let matched =
            selected.map(|selected| flagminute::sum(flags.iter(), |id| selected.contains(&id)));
        let mut per_second: Vec<(i64, u64)> = Vec::new();
        for &(key, n) in &totals {
            match per_second.last_mut() {
                Some((second, sum)) if *second == key.div_euclid(512) => *sum += n,
                _ => per_second.push((key.div_euclid(512), n)),
            }
        }
        out.set_item("per_second", per_second)?;
        out.set_item("flag_totals", totals)?;
        out.set_item("flag_matched", matched)?;
        self.minute
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .add(flags);
        let events = taken
            .events
            .iter()
            .map(|e| event_tuple(py, e))
            .collect::<PyResult<Vec<_>>>()?;
        out.set_item("events", events)?;
        out.set_item("events_skipped", taken.events_skipped)?;
        out.set_item("events_dropped", taken.events_dropped)?;
        out.set_item("segments", taken.segments)?;
        out.set_item("capture_ts", taken.capture_ts)?;
        out.set_item("position", taken.position)?;
        out.set_item("kernel_drops", taken.kernel_drops)?;
        out.set_item("queue_drops", taken.queue_drops)?;
        out.set_item("queue_fill", taken.queue_fill)?;
        out.set_item("linktype", taken.linktype)?;
        if let Some((lines, records)) = taken.outputs {
            out.set_item("lines", PyBytes::new(py, &lines))?;
            let records = records.map_err(|e| os_error(py, e))?;
            out.set_item("records", PyBytes::new(py, &records))?;
        }
        out.set_item("finished", taken.finished)?;
        out.set_item("error", taken.error)?;
        Ok(out)
    }

    /// The last minute's segments of the flows `matching` selects (judged as they are now),
    /// per (second * 512 + flag bits): `(key, segments)` in time order, for a new filter.
    fn flag_minute(&self, py: Python<'_>, matching: PyRef<'_, PyFilter>) -> Vec<(i64, u64)> {
        let filter = matching.filter();
        py.allow_threads(|| {
            let minute = self.minute.lock().unwrap_or_else(PoisonError::into_inner);
            let ids = minute.flows();
            let selected = selection(&self.session.lock().tracker, &[], filter, ids.into_iter());
            minute.count(&selected)
        })
    }

    /// Pace a replay by the caller's clock from now on: `seconds` since the replay began.
    fn set_clock(&self, seconds: f64) {
        self.session.set_clock(seconds);
    }

    /// Keep no recent segments for the views from now on (`on`), nor handshake and teardown
    /// ones (`ends` too), or keep them again, as live tracking does by itself while it is
    /// behind the capture (`FlowTracker::set_shedding`).
    #[pyo3(signature = (on, ends=false))]
    fn set_shedding(&self, on: bool, ends: bool) {
        let shed = super::tracker::shed_of(on, ends);
        self.session.lock().tracker.set_shedding(shed);
    }

    /// Name the process owning one end (`side`: "orig" or "resp") of a tracked flow, as live
    /// attribution finds it (`pid` None clears it); false when the flow is not tracked.
    #[pyo3(signature = (flow_id, side, pid, name))]
    fn set_process(
        &self,
        flow_id: u64,
        side: &str,
        pid: Option<u32>,
        name: Option<&str>,
    ) -> PyResult<bool> {
        let side = match side {
            "orig" => Side::Orig,
            "resp" => Side::Resp,
            _ => return Err(PyValueError::new_err("side is 'orig' or 'resp'")),
        };
        let owner = pid.map(|pid| (pid, Box::from(name.unwrap_or(""))));
        Ok(self.session.lock().tracker.set_proc(flow_id, side, owner))
    }

    /// The flow with this id, as a snapshot; None when it is not tracked (any more).
    fn flow(&self, id: u64) -> Option<PyFlow> {
        self.session
            .lock()
            .tracker
            .flow(id)
            .cloned()
            .map(PyFlow::new)
    }

    /// Every tracked flow in id order, as snapshots.
    fn flows(&self) -> Vec<PyFlow> {
        let mut out = Vec::new();
        self.session
            .lock()
            .tracker
            .for_each_flow(|f| out.push(PyFlow::new(f.clone())));
        out
    }

    /// The decoder's and the tracker's counters (as `Tracker.counters`).
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let st = self.session.lock();
        super::tracker::counters_of(py, &st.decoder, &st.tracker)
    }

    /// Stop reading and wait for the engine's thread (what was read stays readable).
    fn stop(&self, py: Python<'_>) {
        py.allow_threads(|| self.session.stop());
    }
}

/// Check a live capture's configuration without opening anything (the interface, the filters,
/// the `-w` path, the privilege, in that order): returns (interface, kernel filter) or raises
/// `CaptureError` with the one line `Session.live` would give.
#[pyfunction]
#[pyo3(signature = (iface="", *, filter=None, write_path=None))]
pub fn check_live(
    iface: &str,
    filter: Option<String>,
    write_path: Option<std::path::PathBuf>,
) -> PyResult<(String, String)> {
    let mut cfg = LiveConfig::new(iface);
    cfg.filter = filter;
    cfg.write_path = write_path;
    let checked = LiveCapture::check(&cfg).map_err(|e| CaptureError::new_err(e.0))?;
    Ok((checked.iface, checked.filter))
}

/// What one poll took out of the session's state.
struct Polled {
    changed: Vec<u64>,
    flows: Vec<Option<crate::flow::Flow>>,
    changed_left: usize,
    gone: Vec<crate::flow::Flow>,
    /// The segments' flag counts since the last poll.
    flags: crate::session::FlagCounts,
    events: Vec<Event>,
    events_skipped: usize,
    events_dropped: u64,
    segments: u64,
    capture_ts: f64,
    position: Option<f64>,
    kernel_drops: u64,
    queue_drops: u64,
    queue_fill: f64,
    linktype: Option<i32>,
    outputs: Option<(Vec<u8>, std::io::Result<Vec<u8>>)>,
    finished: bool,
    error: Option<String>,
}

/// The flows among `ids` that `filter` selects: tracked ones as they are now, those that just
/// left (`gone`) as they left.
fn selection(
    tracker: &crate::tracker::FlowTracker,
    gone: &[crate::flow::Flow],
    filter: &Filter,
    ids: impl Iterator<Item = u64>,
) -> hashbrown::HashSet<u64> {
    let gone: hashbrown::HashMap<u64, &crate::flow::Flow> =
        gone.iter().map(|f| (f.id, f)).collect();
    let mut verdicts: hashbrown::HashMap<u64, bool> = hashbrown::HashMap::new();
    for id in ids {
        verdicts.entry(id).or_insert_with(|| {
            let flow = tracker.flow(id).or_else(|| gone.get(&id).copied());
            flow.is_some_and(|f| filter.matches(f))
        });
    }
    verdicts
        .into_iter()
        .filter(|(_, yes)| *yes)
        .map(|(id, _)| id)
        .collect()
}

/// `-D`: one line per network interface (index, name, state, addresses), then `any`.
#[pyfunction]
pub fn interface_lines() -> Vec<String> {
    crate::live::interface_lines()
}

/// The interface live capture takes when none is named: the default route's, else the first
/// up non-loopback one, else `lo`.
#[pyfunction]
pub fn default_interface() -> String {
    crate::live::default_interface()
}

/// `Side::name` of `side` as an interned Python string, made once.
fn side_name(py: Python<'_>, side: Side) -> &Bound<'_, PyString> {
    static NAMES: GILOnceCell<[Py<PyString>; 2]> = GILOnceCell::new();
    let names = NAMES.get_or_init(py, || {
        [Side::Orig, Side::Resp].map(|s| PyString::intern(py, s.name()).unbind())
    });
    match side {
        Side::Orig => names[0].bind(py),
        Side::Resp => names[1].bind(py),
    }
}

fn event_tuple<'py>(py: Python<'py>, e: &Event) -> PyResult<Bound<'py, PyTuple>> {
    // Kinds and sides as interned strings: a busy capture makes tens of thousands of events a
    // second, and a new string for each was a good part of their cost.
    let side = |side: Side| side_name(py, side).clone().into_any().unbind();
    let (kind, detail): (&Bound<'py, PyString>, PyObject) = match &e.kind {
        EventKind::Handshake { irtt } => (
            intern!(py, "handshake"),
            irtt.into_pyobject(py)?.into_any().unbind(),
        ),
        EventKind::Refused => (intern!(py, "refused"), py.None()),
        EventKind::Reset { by } => (intern!(py, "reset"), side(*by)),
        EventKind::Fin { by } => (intern!(py, "fin"), side(*by)),
        EventKind::TimeWait { side: which } => (intern!(py, "time_wait"), side(*which)),
        EventKind::SynRetry { n, gap } => (
            intern!(py, "syn_retry"),
            (*n, *gap).into_pyobject(py)?.into_any().unbind(),
        ),
        EventKind::Gone { evicted: true } => (intern!(py, "evicted"), py.None()),
        EventKind::Gone { evicted: false } => (intern!(py, "released"), py.None()),
    };
    PyTuple::new(
        py,
        [
            e.ts.into_pyobject(py)?.into_any().unbind(),
            e.flow_id.into_pyobject(py)?.into_any().unbind(),
            kind.clone().into_any().unbind(),
            detail,
        ],
    )
}
