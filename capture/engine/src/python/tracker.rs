//! `capture._engine.Tracker`: flows the engine owns, read by Python one flow at a time.
//!
//! Python gives it a whole capture (`read_file`, the GIL released for the read) and then asks for
//! what it needs: the ids changed since it last asked, one flow's snapshot, the flows that left.

use std::sync::{Mutex, MutexGuard};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::views::PyFlow;
use super::{stop_check, view_config, CaptureError};
use crate::decode::Decoder;
use crate::flow::random_seed;
use crate::reader::CaptureReader;
use crate::tracker::{FlowTracker, Shed, TrackerConfig};

struct Inner {
    tracker: FlowTracker,
    /// SYN-only flows kept packed: segments go through `add`, which may keep them so.
    embryos: bool,
    decoder: Decoder,
    frame_no: u64,
}

/// A flow tracker with its decoder (see the module docs).
#[pyclass(module = "capture._engine", name = "Tracker")]
pub struct PyTracker {
    inner: Mutex<Inner>,
}

impl PyTracker {
    /// A tracker that has already been fed (a headless run's, for `--insights`).
    pub(crate) fn finished(tracker: FlowTracker, verify_checksums: bool) -> PyTracker {
        PyTracker {
            inner: Mutex::new(Inner {
                tracker,
                embryos: false,
                decoder: Decoder::new(verify_checksums),
                frame_no: 0,
            }),
        }
    }

    fn lock(&self) -> PyResult<MutexGuard<'_, Inner>> {
        self.inner
            .lock()
            .map_err(|_| PyRuntimeError::new_err("the engine's tracker failed earlier"))
    }
}

#[pymethods]
impl PyTracker {
    #[new]
    #[pyo3(signature = (*, max_flows=100_000, frames_per_flow=64, frame_budget=250_000,
        frame_bytes=256 << 20, linger=None, embryos=false, verify_checksums=false, seed=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        max_flows: usize,
        frames_per_flow: usize,
        frame_budget: usize,
        frame_bytes: usize,
        linger: Option<f64>,
        embryos: bool,
        verify_checksums: bool,
        seed: Option<u64>,
    ) -> PyResult<PyTracker> {
        let budgets = (frame_budget, frame_bytes);
        let config = view_config(
            max_flows,
            frames_per_flow,
            budgets,
            linger,
            verify_checksums,
        );
        let uid_seed = seed.unwrap_or_else(random_seed);
        let tracker = FlowTracker::new(TrackerConfig {
            embryos,
            uid_seed,
            ..config
        })
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(PyTracker {
            inner: Mutex::new(Inner {
                tracker,
                embryos,
                decoder: Decoder::new(verify_checksums),
                frame_no: 0,
            }),
        })
    }

    /// Read a whole capture (`-` = standard input) into the tracker, the GIL released; returns
    /// the decoder's counters and the reader's error (one line, or None).
    #[pyo3(signature = (path, stop=None))]
    fn read_file<'py>(
        &self,
        py: Python<'py>,
        path: &str,
        stop: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut reader = CaptureReader::open(path).map_err(|e| CaptureError::new_err(e.0))?;
        let mut guard = self.lock()?;
        let inner = &mut *guard;
        let error = py.allow_threads(|| {
            let mut ask = stop_check(stop.as_ref());
            while let Some(rec) = reader.next_record() {
                inner.frame_no += 1;
                let n = inner.frame_no;
                if n.is_multiple_of(crate::headless::CHECK_EVERY) && ask() {
                    break;
                }
                if let Some(seg) =
                    inner
                        .decoder
                        .decode(rec.data, rec.ts, rec.wire_len, rec.linktype, n)
                {
                    if inner.embryos {
                        inner.tracker.add(seg, rec.data);
                    } else {
                        inner.tracker.ingest(seg, rec.data);
                    }
                }
            }
            reader.error().map(str::to_owned)
        });
        let out = counters(py, inner)?;
        out.set_item("error", error)?;
        Ok(out)
    }

    /// End of input: nothing more will come, every flow's state is final.
    fn finish(&self) -> PyResult<()> {
        self.lock()?.tracker.finish();
        Ok(())
    }

    /// The flow with this id, as a snapshot; None when it is not tracked (any more).
    fn flow(&self, id: u64) -> PyResult<Option<PyFlow>> {
        Ok(self.lock()?.tracker.flow(id).cloned().map(PyFlow::new))
    }

    /// Every tracked flow in id order, as snapshots.
    fn flows(&self) -> PyResult<Vec<PyFlow>> {
        let mut out = Vec::new();
        self.lock()?
            .tracker
            .for_each_flow(|f| out.push(PyFlow::new(f.clone())));
        Ok(out)
    }

    /// Ids of the flows changed (or gone) since the last call; the first call: all flows.
    fn take_changed(&self) -> PyResult<Vec<u64>> {
        Ok(self.lock()?.tracker.take_changed())
    }

    /// The flows evicted or released since the last call, in the order they left.
    fn take_gone(&self) -> PyResult<Vec<PyFlow>> {
        Ok(self
            .lock()?
            .tracker
            .take_gone()
            .into_iter()
            .map(PyFlow::new)
            .collect())
    }

    /// Keep no recent segments for the views (`on`), nor handshake and teardown ones (`ends`
    /// too), or keep them again: what a live session does while tracking is behind.
    #[pyo3(signature = (on, ends=false))]
    fn set_shedding(&self, on: bool, ends: bool) -> PyResult<()> {
        self.lock()?.tracker.set_shedding(shed_of(on, ends));
        Ok(())
    }

    /// Counters: frames, tcp, non_tcp, fragments, truncated, malformed (reason -> count),
    /// flows (every flow started), tracked, evicted, released, kept, kept_bytes, shed (segments
    /// not kept while shedding).
    fn counters<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        counters(py, &*self.lock()?)
    }
}

fn counters<'py>(py: Python<'py>, inner: &Inner) -> PyResult<Bound<'py, PyDict>> {
    counters_of(py, &inner.decoder, &inner.tracker)
}

/// The counters of a decoder and its tracker, as a dict.
pub(crate) fn counters_of<'py>(
    py: Python<'py>,
    d: &Decoder,
    t: &FlowTracker,
) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("frames", d.frames)?;
    out.set_item("tcp", d.tcp)?;
    out.set_item("non_tcp", d.non_tcp)?;
    out.set_item("fragments", d.fragments)?;
    out.set_item("truncated", d.truncated)?;
    let malformed = PyDict::new(py);
    for (reason, count) in &d.malformed {
        malformed.set_item(reason, count)?;
    }
    out.set_item("malformed", malformed)?;
    out.set_item("flows", t.flow_count())?;
    out.set_item("tracked", t.tracked())?;
    out.set_item("evicted", t.evicted)?;
    out.set_item("released", t.released)?;
    out.set_item("kept", t.kept())?;
    out.set_item("kept_bytes", t.kept_bytes())?;
    out.set_item("shed", t.shed())?;
    Ok(out)
}

/// `set_shedding`'s arguments as a `Shed`.
pub(crate) fn shed_of(on: bool, ends: bool) -> Shed {
    match (on, ends) {
        (false, _) => Shed::Nothing,
        (true, false) => Shed::Recent,
        (true, true) => Shed::All,
    }
}
