//! Per-flow records as JSON lines or CSV, with Zeek's field names (Python: `capture.export`
//! and `Flow.record()`).
//!
//! `FlowRecord` IS FIXED (the tracker fills it, the writers write it). Field order is the
//! output's column order. `RecordWriter` writes records; `encode_json`/`encode_csv` encode one.

mod csv;
mod json;
mod text;
mod writer;

pub use self::csv::{encode_csv, encode_csv_header, CsvLine};
pub use self::json::{encode_json, json_f64};
pub use self::text::{csv_cell, escape_untrusted, json_str};
pub use self::writer::{Format, RecordWriter, BATCH_BYTES};

/// The record's field names in `Flow.record()`'s order: the CSV header.
#[rustfmt::skip]
pub const FIELDS: [&str; 47] = [
    "ts", "uid", "orig_h", "orig_p", "resp_h", "resp_p", "duration", "orig_pkts", "resp_pkts",
    "orig_bytes", "resp_bytes", "orig_ip_bytes", "resp_ip_bytes", "conn_state", "history",
    "state_orig", "state_resp", "flags_orig", "flags_resp", "payload_orig", "payload_resp",
    "isn_orig", "isn_resp", "mss_orig", "mss_resp", "wscale_orig", "wscale_resp", "sack_perm",
    "timestamps", "irtt", "rtt_syn_synack", "rtt_synack_ack", "syn_retries", "syn_retry_gaps",
    "retrans_orig", "retrans_resp", "zero_window", "closed_by", "close_kind", "illegal_flags",
    "direction_inferred", "vlan", "pid_orig", "pid_resp", "proc_orig", "proc_resp",
    "continues_uid",
];

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

impl FlagCounts {
    /// The counts by name, in `Flow.record()`'s order (the JSON object's, the Python dict's).
    pub fn named(&self) -> [(&'static str, u64); 9] {
        [
            ("syn", self.syn),
            ("synack", self.synack),
            ("fin", self.fin),
            ("rst", self.rst),
            ("psh", self.psh),
            ("urg", self.urg),
            ("ece", self.ece),
            ("cwr", self.cwr),
            ("ack", self.ack),
        ]
    }
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
    /// The uid of the earlier record of the same connection, which the tracker let go
    /// (evicted at `--max-flows`, or released once closed) before this flow's first segment.
    pub continues_uid: Option<String>,
}

#[cfg(test)]
mod tests;
