//! Read-only Python views of the engine's flows, sides and kept segments.
//!
//! A view owns a snapshot (a clone of the flow, its kept frames shared, not copied), taken when
//! Python asks for one flow; its attributes are the names `capture.flow.Flow`, `Side` and
//! `capture.segment.Segment` had, computed on access. No view is ever made per packet.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use crate::export::{FlagCounts, FlowRecord};
use crate::flow::analysis::KINDS;
use crate::flow::{Flow, Side};
use crate::segment::Addr;
use crate::tcpstate::{Side as Dir, Transition};
use crate::tracker::KeptFrame;

fn addr_bytes<'py>(py: Python<'py>, addr: &Addr) -> Bound<'py, PyBytes> {
    PyBytes::new(py, addr.as_slice())
}

fn flags_dict<'py>(py: Python<'py>, f: &FlagCounts) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (name, count) in f.named() {
        d.set_item(name, count)?;
    }
    Ok(d)
}

/// One endpoint state change: `ts`, `frame_no`, `side` ("orig"/"resp"), `old`, `new`.
#[pyclass(module = "capture._engine", name = "Transition", frozen, get_all)]
pub struct PyTransition {
    ts: f64,
    frame_no: u64,
    side: &'static str,
    old: &'static str,
    new: &'static str,
}

impl From<&Transition> for PyTransition {
    fn from(t: &Transition) -> Self {
        PyTransition {
            ts: t.ts,
            frame_no: t.frame_no,
            side: t.side.name(),
            old: t.old.name(),
            new: t.new.name(),
        }
    }
}

#[pymethods]
impl PyTransition {
    fn __repr__(&self) -> String {
        format!(
            "Transition(ts={}, frame_no={}, side={:?}, old={:?}, new={:?})",
            crate::pyfloat::repr(self.ts),
            self.frame_no,
            self.side,
            self.old,
            self.new
        )
    }

    fn __eq__(&self, other: &Self) -> bool {
        (self.ts, self.frame_no, self.side, self.old, self.new)
            == (other.ts, other.frame_no, other.side, other.old, other.new)
    }
}

/// One kept segment with its frame (what the ladder, the inspector and `w` read).
#[pyclass(module = "capture._engine", name = "Segment", frozen)]
pub struct PySegment {
    kept: Arc<KeptFrame>,
}

impl PySegment {
    pub fn new(kept: Arc<KeptFrame>) -> PySegment {
        PySegment { kept }
    }
}

#[pymethods]
impl PySegment {
    #[getter]
    fn frame_no(&self) -> u64 {
        self.kept.seg.frame_no
    }
    #[getter]
    fn ts(&self) -> f64 {
        self.kept.seg.ts
    }
    /// Its place among its flow's segments, from 1.
    #[getter]
    fn nth(&self) -> u64 {
        self.kept.nth
    }
    #[getter]
    fn linktype(&self) -> i32 {
        self.kept.seg.linktype
    }
    #[getter]
    fn frame<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.kept.frame)
    }
    #[getter]
    fn wire_len(&self) -> u32 {
        self.kept.seg.wire_len
    }
    #[getter]
    fn truncated(&self) -> bool {
        self.kept.seg.truncated
    }
    #[getter]
    fn ip_version(&self) -> u8 {
        self.kept.seg.ip_version
    }
    #[getter]
    fn ip_off(&self) -> u32 {
        self.kept.seg.ip_off
    }
    #[getter]
    fn src<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        addr_bytes(py, &self.kept.seg.src)
    }
    #[getter]
    fn dst<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        addr_bytes(py, &self.kept.seg.dst)
    }
    #[getter]
    fn ip_len(&self) -> u32 {
        self.kept.seg.ip_len
    }
    #[getter]
    fn ttl(&self) -> u8 {
        self.kept.seg.ttl
    }
    #[getter]
    fn vlan<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.kept.seg.vlan.iter())
    }
    #[getter]
    fn tcp_off(&self) -> u32 {
        self.kept.seg.tcp_off
    }
    #[getter]
    fn sport(&self) -> u16 {
        self.kept.seg.sport
    }
    #[getter]
    fn dport(&self) -> u16 {
        self.kept.seg.dport
    }
    #[getter]
    fn seq(&self) -> u32 {
        self.kept.seg.seq
    }
    #[getter]
    fn ack(&self) -> u32 {
        self.kept.seg.ack
    }
    #[getter]
    fn flags(&self) -> u16 {
        self.kept.seg.flags
    }
    #[getter]
    fn window(&self) -> u16 {
        self.kept.seg.window
    }
    #[getter]
    fn urg_ptr(&self) -> u16 {
        self.kept.seg.urg_ptr
    }
    #[getter]
    fn opts<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.kept.seg.opts.as_slice())
    }
    #[getter]
    fn bad_opts(&self) -> &str {
        self.kept.seg.bad_opts.as_deref().unwrap_or("")
    }
    #[getter]
    fn payload_len(&self) -> u32 {
        self.kept.seg.payload_len
    }
    /// Wireshark's TCP analysis of this segment: `analysis_kinds()` bits.
    #[getter]
    fn analysis(&self) -> u16 {
        self.kept.marks.bits
    }
    /// A duplicate ACK's number (#1, #2 ...); 0 when it is none.
    #[getter]
    fn dup_ack(&self) -> u32 {
        self.kept.marks.dup_n
    }
    /// The frame a duplicate ACK repeats; 0 when it is none.
    #[getter]
    fn dup_ack_of(&self) -> u64 {
        self.kept.marks.dup_of
    }

    /// The payload bytes that were captured (may be shorter than `payload_len`).
    fn payload<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let frame = &self.kept.frame;
        let off = self.kept.seg.tcp_off as usize;
        let hlen = frame
            .get(off + 12)
            .map(|b| usize::from(b >> 4) * 4)
            .filter(|h| *h >= 20)
            .unwrap_or(20);
        let start = (off + hlen).min(frame.len());
        let end = (start + self.kept.seg.payload_len as usize).min(frame.len());
        PyBytes::new(py, &frame[start..end])
    }
}

/// One direction of a flow, as `capture.flow.Side` showed it.
#[pyclass(module = "capture._engine", name = "Side", frozen)]
pub struct PySide {
    side: Side,
}

#[pymethods]
impl PySide {
    #[getter]
    fn side(&self) -> &'static str {
        self.side.ep.side.name()
    }
    #[getter]
    fn state(&self) -> &'static str {
        self.side.ep.state.name()
    }
    #[getter]
    fn isn(&self) -> Option<u32> {
        self.side.ep.isn
    }
    #[getter]
    fn fin_seq(&self) -> i64 {
        self.side.ep.fin_seq.map_or(-1, i64::from)
    }
    #[getter]
    fn fin_acked(&self) -> bool {
        self.side.ep.fin_acked
    }
    #[getter]
    fn got_fin(&self) -> bool {
        self.side.ep.got_fin
    }
    #[getter]
    fn active(&self) -> bool {
        self.side.ep.active
    }
    #[getter]
    fn pkts(&self) -> u64 {
        self.side.pkts
    }
    #[getter]
    fn ip_bytes(&self) -> u64 {
        self.side.ip_bytes
    }
    #[getter]
    fn payload(&self) -> u64 {
        self.side.payload
    }
    #[getter]
    fn noack(&self) -> u64 {
        self.side.noack
    }
    #[getter]
    fn syn(&self) -> u64 {
        self.side.syn
    }
    #[getter]
    fn synack(&self) -> u64 {
        self.side.synack
    }
    #[getter]
    fn fin(&self) -> u64 {
        self.side.fin
    }
    #[getter]
    fn rst(&self) -> u64 {
        self.side.rst
    }
    #[getter]
    fn psh(&self) -> u64 {
        self.side.psh
    }
    #[getter]
    fn urg(&self) -> u64 {
        self.side.urg
    }
    #[getter]
    fn ece(&self) -> u64 {
        self.side.ece
    }
    #[getter]
    fn cwr(&self) -> u64 {
        self.side.cwr
    }
    #[getter]
    fn base(&self) -> i64 {
        self.side.base.map_or(-1, i64::from)
    }
    #[getter]
    fn rel_base(&self) -> Option<u32> {
        self.side.rel_base()
    }
    #[getter]
    fn hi(&self) -> i64 {
        self.side.hi.map_or(-1, i64::from)
    }
    #[getter]
    fn retrans(&self) -> u64 {
        self.side.retrans
    }
    #[getter]
    fn zero_window(&self) -> u64 {
        self.side.zero_window
    }
    /// Its last segment without SYN or RST advertised a zero window (not reopened since).
    #[getter]
    fn zero_window_open(&self) -> bool {
        self.side.zero_window_open
    }
    #[getter]
    fn mss(&self) -> Option<u16> {
        self.side.mss
    }
    #[getter]
    fn wscale(&self) -> Option<u8> {
        self.side.wscale
    }
    #[getter]
    fn sack_perm(&self) -> Option<bool> {
        self.side.sack_perm
    }
    #[getter]
    fn timestamps(&self) -> Option<bool> {
        self.side.timestamps
    }
    #[getter]
    fn tfo<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.side.tfo().map(|t| PyBytes::new(py, t))
    }
    #[getter]
    fn syn_data(&self) -> u32 {
        self.side.syn_data
    }
    #[getter]
    fn syn_ts(&self) -> f64 {
        self.side.syn_ts
    }
    #[getter]
    fn synack_ts(&self) -> f64 {
        self.side.synack_ts
    }
    #[getter]
    fn syn_times(&self) -> Option<Vec<f64>> {
        self.side.syn_times().map(<[f64]>::to_vec)
    }
    #[getter]
    fn synack_times(&self) -> Option<Vec<f64>> {
        self.side.synack_times().map(<[f64]>::to_vec)
    }
    /// Segments per flag: syn = SYN without ACK, synack = SYN+ACK, others = that flag set.
    #[getter]
    fn flags<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        flags_dict(py, &self.side.flags())
    }
    /// Its segments per TCP analysis kind (every kind, 0 for none).
    #[getter]
    fn analysis<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        analysis_dict(py, &[&self.side])
    }
}

/// Segments per analysis kind of `sides` together, every kind in `KINDS` order.
fn analysis_dict<'py>(py: Python<'py>, sides: &[&Side]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (bit, name) in KINDS {
        let n: u64 = sides.iter().map(|s| u64::from(s.marked(bit))).sum();
        d.set_item(name, n)?;
    }
    Ok(d)
}

/// The TCP analysis kinds as (bit, Wireshark's `tcp.analysis` field name), in bit order.
#[pyfunction]
pub fn analysis_kinds() -> Vec<(u16, &'static str)> {
    KINDS.to_vec()
}

/// One TCP connection (or attempt), as `capture.flow.Flow` showed it: a snapshot.
#[pyclass(module = "capture._engine", name = "Flow", frozen)]
pub struct PyFlow {
    flow: Flow,
}

impl PyFlow {
    pub fn new(flow: Flow) -> PyFlow {
        PyFlow { flow }
    }

    /// The engine's flow behind the view.
    pub fn inner(&self) -> &Flow {
        &self.flow
    }
}

#[pymethods]
impl PyFlow {
    #[getter]
    fn id(&self) -> u64 {
        self.flow.id
    }
    #[getter]
    fn uid(&self) -> String {
        self.flow.uid()
    }
    #[getter]
    fn orig_addr<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        addr_bytes(py, &self.flow.orig_end().0)
    }
    #[getter]
    fn orig_port(&self) -> u16 {
        self.flow.orig_port()
    }
    #[getter]
    fn resp_addr<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        addr_bytes(py, &self.flow.resp_end().0)
    }
    #[getter]
    fn resp_port(&self) -> u16 {
        self.flow.resp_port()
    }
    #[getter]
    fn vlan<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.flow.vlan().iter())
    }
    #[getter]
    fn direction_inferred(&self) -> bool {
        self.flow.direction_inferred
    }
    #[getter]
    fn first_ts(&self) -> f64 {
        self.flow.first_ts
    }
    #[getter]
    fn last_ts(&self) -> f64 {
        self.flow.last_ts
    }
    #[getter]
    fn state_orig(&self) -> &'static str {
        self.flow.state_orig().name()
    }
    #[getter]
    fn state_resp(&self) -> &'static str {
        self.flow.state_resp().name()
    }
    #[getter]
    fn history(&self) -> &str {
        self.flow.history()
    }
    #[getter]
    fn conn_state(&self) -> &'static str {
        self.flow.conn_state()
    }
    #[getter]
    fn closed(&self) -> bool {
        self.flow.closed()
    }
    #[getter]
    fn close_kind(&self) -> &'static str {
        self.flow.close_kind()
    }
    #[getter]
    fn closed_by(&self) -> &'static str {
        self.flow.closed_by_name()
    }
    #[getter]
    fn rst_by(&self) -> &'static str {
        self.flow.rst_by.map_or("", Dir::name)
    }
    #[getter]
    fn irtt(&self) -> Option<f64> {
        self.flow.irtt
    }
    #[getter]
    fn rtt_syn_synack(&self) -> Option<f64> {
        self.flow.rtt_syn_synack
    }
    #[getter]
    fn rtt_synack_ack(&self) -> Option<f64> {
        self.flow.rtt_synack_ack
    }
    #[getter]
    fn syn_retries(&self) -> u64 {
        self.flow.syn_retries()
    }
    #[getter]
    fn syn_retry_gaps(&self) -> Vec<f64> {
        self.flow.syn_retry_gaps()
    }
    #[getter]
    fn synack_retries(&self) -> u64 {
        self.flow.synack_retries()
    }
    #[getter]
    fn synack_retry_gaps(&self) -> Vec<f64> {
        self.flow.synack_retry_gaps()
    }
    #[getter]
    fn sack_perm(&self) -> Option<bool> {
        self.flow.sack_perm()
    }
    #[getter]
    fn timestamps(&self) -> Option<bool> {
        self.flow.timestamps()
    }
    #[getter]
    fn time_wait_by(&self) -> &'static str {
        self.flow.time_wait_by()
    }
    /// Segments per flag over both sides (SYN, SYN/ACK, ACK, PSH, FIN, RST, URG, ECE, CWR, as
    /// the flag bar orders them; SYN is a SYN without ACK), then the illegal combinations: one
    /// call where the view reads a changed flow's counts, instead of eighteen.
    #[getter]
    fn flag_counts(&self) -> (u64, u64, u64, u64, u64, u64, u64, u64, u64, u64) {
        let (o, r) = (self.flow.orig.flags(), self.flow.resp.flags());
        let illegal = self
            .flow
            .illegal
            .as_deref()
            .map_or(0, |found| found.iter().map(|(_, n)| n).sum());
        (
            o.syn + r.syn,
            o.synack + r.synack,
            o.ack + r.ack,
            o.psh + r.psh,
            o.fin + r.fin,
            o.rst + r.rst,
            o.urg + r.urg,
            o.ece + r.ece,
            o.cwr + r.cwr,
            illegal,
        )
    }
    /// Illegal flag combinations seen (name -> count, in the order first seen); None if none.
    #[getter]
    fn illegal<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(found) = self.flow.illegal.as_deref() else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        for (name, count) in found {
            d.set_item(*name, *count)?;
        }
        Ok(Some(d))
    }
    #[getter]
    fn steady(&self) -> bool {
        self.flow.steady
    }
    #[getter]
    fn superseded(&self) -> bool {
        self.flow.superseded
    }
    /// Segments per TCP analysis kind, both directions (every kind, 0 for none).
    #[getter]
    fn analysis<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        analysis_dict(py, &[&self.flow.orig, &self.flow.resp])
    }
    #[getter]
    fn orig(&self) -> PySide {
        PySide {
            side: self.flow.orig.clone(),
        }
    }
    #[getter]
    fn resp(&self) -> PySide {
        PySide {
            side: self.flow.resp.clone(),
        }
    }
    #[getter]
    fn pid_orig(&self) -> Option<u32> {
        self.flow.proc(Dir::Orig).map(|p| p.0)
    }
    #[getter]
    fn pid_resp(&self) -> Option<u32> {
        self.flow.proc(Dir::Resp).map(|p| p.0)
    }
    #[getter]
    fn proc_orig(&self) -> Option<String> {
        self.flow.proc(Dir::Orig).map(|p| p.1.to_string())
    }
    #[getter]
    fn proc_resp(&self) -> Option<String> {
        self.flow.proc(Dir::Resp).map(|p| p.1.to_string())
    }
    /// Every endpoint state change (bounded): the data behind the ladder.
    #[getter]
    fn transitions(&self) -> Vec<PyTransition> {
        self.flow
            .transitions()
            .iter()
            .map(PyTransition::from)
            .collect()
    }

    /// The kept segments in capture order: the recent ring plus handshake and teardown.
    fn frames(&self) -> Vec<PySegment> {
        self.flow
            .kept_frames()
            .into_iter()
            .map(PySegment::new)
            .collect()
    }

    /// The export record (Zeek's field names where Zeek has them), as a dict.
    fn record<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        record_dict(py, &self.flow.record())
    }

    fn __repr__(&self) -> String {
        let (oa, op) = self.flow.orig_end();
        let (ra, rp) = self.flow.resp_end();
        format!(
            "Flow(#{} {oa}:{op} > {ra}:{rp} {}/{})",
            self.flow.id,
            self.flow.state_orig().name(),
            self.flow.state_resp().name()
        )
    }
}

/// A `FlowRecord` as the dict `Flow.record()` returned, keys in the output's order.
pub fn record_dict<'py>(py: Python<'py>, r: &FlowRecord) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("ts", r.ts)?;
    d.set_item("uid", &r.uid)?;
    d.set_item("orig_h", &r.orig_h)?;
    d.set_item("orig_p", r.orig_p)?;
    d.set_item("resp_h", &r.resp_h)?;
    d.set_item("resp_p", r.resp_p)?;
    d.set_item("duration", r.duration)?;
    d.set_item("orig_pkts", r.orig_pkts)?;
    d.set_item("resp_pkts", r.resp_pkts)?;
    d.set_item("orig_bytes", r.orig_bytes)?;
    d.set_item("resp_bytes", r.resp_bytes)?;
    d.set_item("orig_ip_bytes", r.orig_ip_bytes)?;
    d.set_item("resp_ip_bytes", r.resp_ip_bytes)?;
    d.set_item("conn_state", r.conn_state)?;
    d.set_item("history", &r.history)?;
    d.set_item("state_orig", r.state_orig)?;
    d.set_item("state_resp", r.state_resp)?;
    d.set_item("flags_orig", flags_dict(py, &r.flags_orig)?)?;
    d.set_item("flags_resp", flags_dict(py, &r.flags_resp)?)?;
    d.set_item("payload_orig", r.payload_orig)?;
    d.set_item("payload_resp", r.payload_resp)?;
    d.set_item("isn_orig", r.isn_orig)?;
    d.set_item("isn_resp", r.isn_resp)?;
    d.set_item("mss_orig", r.mss_orig)?;
    d.set_item("mss_resp", r.mss_resp)?;
    d.set_item("wscale_orig", r.wscale_orig)?;
    d.set_item("wscale_resp", r.wscale_resp)?;
    d.set_item("sack_perm", r.sack_perm)?;
    d.set_item("timestamps", r.timestamps)?;
    d.set_item("irtt", r.irtt)?;
    d.set_item("rtt_syn_synack", r.rtt_syn_synack)?;
    d.set_item("rtt_synack_ack", r.rtt_synack_ack)?;
    d.set_item("syn_retries", r.syn_retries)?;
    d.set_item("syn_retry_gaps", PyList::new(py, &r.syn_retry_gaps)?)?;
    d.set_item("retrans_orig", r.retrans_orig)?;
    d.set_item("retrans_resp", r.retrans_resp)?;
    d.set_item("zero_window", r.zero_window)?;
    d.set_item("closed_by", r.closed_by)?;
    d.set_item("close_kind", r.close_kind)?;
    let illegal = PyDict::new(py);
    for (name, count) in &r.illegal_flags {
        illegal.set_item(*name, *count)?;
    }
    d.set_item("illegal_flags", illegal)?;
    d.set_item("direction_inferred", r.direction_inferred)?;
    d.set_item("vlan", PyList::new(py, &r.vlan)?)?;
    d.set_item("pid_orig", r.pid_orig)?;
    d.set_item("pid_resp", r.pid_resp)?;
    d.set_item("proc_orig", r.proc_orig.as_deref())?;
    d.set_item("proc_resp", r.proc_resp.as_deref())?;
    d.set_item("continues_uid", r.continues_uid.as_deref())?;
    Ok(d)
}
