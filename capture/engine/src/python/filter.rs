//! `capture._engine.Filter`: the display-filter language, compiled once, tested per flow view.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::views::PyFlow;
use crate::filter::{keywords, Filter};

/// A compiled display filter (`port 443 and not state established`); `matches(flow)` on the
/// engine's flow snapshots. A bad expression raises `ValueError(msg, pos)` (column `pos + 1`).
#[pyclass(module = "capture._engine", name = "Filter", frozen)]
pub struct PyFilter {
    filter: Filter,
}

impl PyFilter {
    /// The compiled filter.
    pub(super) fn filter(&self) -> &Filter {
        &self.filter
    }
}

#[pymethods]
impl PyFilter {
    #[new]
    fn new(text: &str) -> PyResult<PyFilter> {
        Filter::compile(text)
            .map(|filter| PyFilter { filter })
            .map_err(|e| PyValueError::new_err((e.msg, e.pos)))
    }

    /// Whether the flow (a `capture._engine.Flow` snapshot) matches.
    fn matches(&self, flow: &PyFlow) -> bool {
        self.filter.matches(flow.inner())
    }

    /// The empty expression: every flow matches.
    #[getter]
    fn empty(&self) -> bool {
        self.filter.is_empty()
    }

    fn __call__(&self, flow: &PyFlow) -> bool {
        self.filter.matches(flow.inner())
    }
}

/// Every term keyword of the filter language, sorted.
#[pyfunction]
pub fn filter_keywords() -> Vec<&'static str> {
    keywords()
}
