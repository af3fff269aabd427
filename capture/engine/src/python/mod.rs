//! The `capture._engine` extension module: the engine's Python API.
//!
//! Every per-packet loop runs with the GIL released (`allow_threads`); Python is called back
//! only every `headless::CHECK_EVERY` records, to run its signal handlers and ask whether to stop.

use std::io;

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyOSError};
use pyo3::prelude::*;

use crate::tracker::TrackerConfig;

mod filter;
mod run;
mod session;
mod tracker;
mod views;

create_exception!(
    _engine,
    CaptureError,
    PyException,
    "A capture cannot be read; the message is one line, ready for the user."
);

/// The engine's version (the crate's).
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// An `OSError` as Python raises it (errno and strerror set, so `BrokenPipeError` for EPIPE).
pub(crate) fn os_error(py: Python<'_>, err: io::Error) -> PyErr {
    match err.raw_os_error() {
        Some(code) => {
            let text = py
                .import("os")
                .and_then(|os| os.call_method1("strerror", (code,)))
                .and_then(|t| t.extract::<String>())
                .unwrap_or_else(|_| err.to_string());
            PyOSError::new_err((code, text))
        }
        None => PyOSError::new_err(err.to_string()),
    }
}

/// A check to call every so often from a loop that runs without the GIL: it takes the GIL,
/// runs Python's signal handlers and asks `stop()`; true means stop (an exception counts).
pub(crate) fn stop_check(stop: Option<&Py<PyAny>>) -> impl FnMut() -> bool + '_ {
    move || {
        Python::with_gil(|py| {
            py.check_signals().is_err()
                || stop.is_some_and(|f| f.call0(py).and_then(|v| v.is_truthy(py)).unwrap_or(true))
        })
    }
}

/// The tracker the bindings' keywords ask for (`Tracker`, `Session`, `Session.live` with a UI):
/// the views' configuration with the budgets Python may change.
pub(crate) fn view_config(
    max_flows: usize,
    frames_per_flow: usize,
    (frame_budget, frame_bytes): (usize, usize),
    linger: Option<f64>,
    verify_checksums: bool,
) -> TrackerConfig {
    TrackerConfig {
        frame_budget,
        frame_bytes,
        linger,
        verify_checksums,
        ..TrackerConfig::for_views(max_flows, frames_per_flow)
    }
}

#[pymodule]
fn _engine(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("CaptureError", m.py().get_type::<CaptureError>())?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(run::run_file, m)?)?;
    m.add_function(wrap_pyfunction!(session::check_live, m)?)?;
    m.add_function(wrap_pyfunction!(session::interface_lines, m)?)?;
    m.add_function(wrap_pyfunction!(session::default_interface, m)?)?;
    m.add_class::<tracker::PyTracker>()?;
    m.add_class::<filter::PyFilter>()?;
    m.add_function(wrap_pyfunction!(filter::filter_keywords, m)?)?;
    m.add_function(wrap_pyfunction!(views::analysis_kinds, m)?)?;
    m.add_class::<session::PySession>()?;
    m.add_class::<views::PyFlow>()?;
    m.add_class::<views::PySide>()?;
    m.add_class::<views::PySegment>()?;
    m.add_class::<views::PyTransition>()?;
    Ok(())
}
