//! Per-flow records as JSON lines or CSV, with Zeek's field names (Python: `capture.export`
//! and `Flow.record()`).
//!
//! `FlowRecord` IS FIXED (the tracker fills it, the writers write it); the writers are to be
//! ported (outputs helper). Field order is the output's column order.

/// Segments per flag of one side: syn = SYN without ACK, synack = SYN+ACK, others = that flag.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlagCounts {
    pub syn: u64,
    pub synack: u64,
    pub fin: u64,
    pub rst: u64,
    pub psh: u64,
    pub urg: u64,
    pub ece: u64,
    pub cwr: u64,
    pub ack: u64,
}

/// One flow's export record, as `Flow.record()` made it (JSON `null` for `None`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlowRecord {
    pub ts: f64,
    pub uid: String,
    pub orig_h: String,
    pub orig_p: u16,
    pub resp_h: String,
    pub resp_p: u16,
    /// `round(last_ts - first_ts, 9)` as Python rounds it.
    pub duration: f64,
    pub orig_pkts: u64,
    pub resp_pkts: u64,
    pub orig_bytes: u64,
    pub resp_bytes: u64,
    pub orig_ip_bytes: u64,
    pub resp_ip_bytes: u64,
    pub conn_state: &'static str,
    pub history: String,
    pub state_orig: &'static str,
    pub state_resp: &'static str,
    pub flags_orig: FlagCounts,
    pub flags_resp: FlagCounts,
    pub payload_orig: u64,
    pub payload_resp: u64,
    pub isn_orig: Option<u32>,
    pub isn_resp: Option<u32>,
    pub mss_orig: Option<u16>,
    pub mss_resp: Option<u16>,
    pub wscale_orig: Option<u8>,
    pub wscale_resp: Option<u8>,
    pub sack_perm: Option<bool>,
    pub timestamps: Option<bool>,
    /// Rounded to 9 decimals as Python's `round(x, 9)`.
    pub irtt: Option<f64>,
    pub rtt_syn_synack: Option<f64>,
    pub rtt_synack_ack: Option<f64>,
    pub syn_retries: u64,
    /// Each `round(b - a, 9)`.
    pub syn_retry_gaps: Vec<f64>,
    pub retrans_orig: u64,
    pub retrans_resp: u64,
    pub zero_window: u64,
    pub closed_by: &'static str,
    pub close_kind: &'static str,
    /// Illegal flag combinations in the order first seen ("syn+fin", "null" ...), with counts.
    pub illegal_flags: Vec<(&'static str, u64)>,
    pub direction_inferred: bool,
    pub vlan: Vec<u16>,
    pub pid_orig: Option<u32>,
    pub pid_resp: Option<u32>,
    pub proc_orig: Option<String>,
    pub proc_resp: Option<String>,
}
