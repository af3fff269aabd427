//! `capture._engine.run_file`: a whole capture to `--print` lines and `--export` records.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::rc::Rc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::tracker::PyTracker;
use super::{os_error, stop_check, CaptureError};
use crate::export::Format;
use crate::filter::Filter;
use crate::flow::random_seed;
use crate::headless::{self, HeadlessConfig};
use crate::reader::CaptureReader;

const OUT_BUFFER: usize = 1 << 20;

/// One writer shared by the lines and the records when both go to standard output.
#[derive(Clone)]
struct Shared(Rc<RefCell<Box<dyn Write>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

/// Read a whole capture (`-` = standard input) and write `--print` lines to standard output
/// and/or `--export` records to `output` (standard output when None), of the flows `filter` (a
/// display-filter expression) selects. `stop()` is called now and
/// then; a true answer ends the read early (what was tracked is still exported). Returns the
/// totals as a dict: frames, tcp, malformed (reason -> count), flows, evicted, records, error,
/// stopped, and with `insights` the finished `Tracker` (every flow kept, one frame each).
/// `speed` replays the capture at its recorded pace times `speed`. `seed` fixes the uids (by
/// default each run has its own, from the OS's randomness).
#[pyfunction]
#[pyo3(signature = (path, *, print=false, absolute=false, utc=false, export=None, output=None,
    max_flows=250_000, verify_checksums=false, filter="", speed=None, insights=false, stop=None,
    seed=None))]
#[allow(clippy::too_many_arguments)]
pub fn run_file<'py>(
    py: Python<'py>,
    path: &str,
    print: bool,
    absolute: bool,
    utc: bool,
    export: Option<&str>,
    output: Option<&str>,
    max_flows: usize,
    verify_checksums: bool,
    filter: &str,
    speed: Option<f64>,
    insights: bool,
    stop: Option<Py<PyAny>>,
    seed: Option<u64>,
) -> PyResult<Bound<'py, PyDict>> {
    let filter = Filter::compile(filter).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let export = match export {
        None => None,
        Some("jsonl") => Some(Format::Jsonl),
        Some("csv") => Some(Format::Csv),
        Some(other) => return Err(PyValueError::new_err(format!("unknown export {other:?}"))),
    };
    let cfg = HeadlessConfig {
        print,
        absolute,
        utc,
        export,
        max_flows,
        verify_checksums,
        filter,
        speed: speed.filter(|s| *s > 0.0),
        insights,
        uid_seed: seed.unwrap_or_else(random_seed),
    };
    let output = output.map(str::to_owned);
    let path = path.to_owned();
    let result = py.allow_threads(move || -> Result<_, RunError> {
        let mut reader = CaptureReader::open(&path).map_err(RunError::Capture)?;
        let stdout: Box<dyn Write> = Box::new(BufWriter::with_capacity(OUT_BUFFER, io::stdout()));
        let mut lines = Shared(Rc::new(RefCell::new(stdout)));
        let mut records: Box<dyn Write> = match &output {
            Some(file) => Box::new(BufWriter::with_capacity(
                OUT_BUFFER,
                File::create(file).map_err(RunError::Io)?,
            )),
            None => Box::new(lines.clone()),
        };
        let mut ask = stop_check(stop.as_ref());
        let (totals, tracker) =
            headless::run(&mut reader, &cfg, &mut lines, &mut records, &mut ask)
                .map_err(RunError::Io)?;
        records.flush().map_err(RunError::Io)?;
        lines.flush().map_err(RunError::Io)?;
        Ok((totals, tracker))
    });
    let (totals, tracker) = match result {
        Ok(done) => done,
        Err(RunError::Capture(e)) => return Err(CaptureError::new_err(e.0)),
        Err(RunError::Io(e)) => return Err(os_error(py, e)),
    };
    let out = PyDict::new(py);
    out.set_item("frames", totals.frames)?;
    out.set_item("tcp", totals.tcp)?;
    out.set_item(
        "malformed",
        totals.malformed.into_iter().collect::<Vec<_>>(),
    )?;
    out.set_item("flows", totals.flows)?;
    out.set_item("evicted", totals.evicted)?;
    out.set_item("records", totals.records)?;
    out.set_item("error", totals.error)?;
    out.set_item("stopped", totals.stopped)?;
    if insights {
        out.set_item("tracker", PyTracker::finished(tracker, verify_checksums))?;
    }
    Ok(out)
}

enum RunError {
    Capture(crate::reader::CaptureError),
    Io(io::Error),
}
