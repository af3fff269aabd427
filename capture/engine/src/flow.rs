//! One TCP connection as the tracker keeps it: a `Flow`, its two `Side`s, its export record
//! (Python: `capture.flow`). `tracker::FlowTracker` builds and updates flows.

use std::sync::Arc;

use blake2::digest::{Update, VariableOutput};
use blake2::Blake2bVar;

use crate::export::{FlagCounts, FlowRecord};
use crate::pyfloat::round;
use crate::segment::{Addr, Segment, ACK, SYN};
use crate::tcpstate::{Endpoint, Side as Dir, TcpState, Transition};
use crate::tracker::KeptFrame;
use crate::zeek::ZeekState;

const B62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// (lower address, higher address, its port, the other port, VLAN ids): both directions' key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub lo: Addr,
    pub hi: Addr,
    pub lo_port: u16,
    pub hi_port: u16,
    pub vlan: Box<[u16]>,
}

impl FlowKey {
    /// The key of a segment's flow; `low`: its sender is the lower endpoint.
    pub fn of(seg: &Segment, low: bool) -> FlowKey {
        let (lo, hi, lo_port, hi_port) = if low {
            (seg.src, seg.dst, seg.sport, seg.dport)
        } else {
            (seg.dst, seg.src, seg.dport, seg.sport)
        };
        FlowKey {
            lo,
            hi,
            lo_port,
            hi_port,
            vlan: seg.vlan.clone(),
        }
    }
}

/// Whether the segment's sender is the lower endpoint: the first of the flow key.
pub fn sender_is_low(seg: &Segment) -> bool {
    seg.src < seg.dst || (seg.src == seg.dst && seg.sport <= seg.dport)
}

/// One direction of a flow: its endpoint state plus what it sent (Python: `flow.Side`).
#[derive(Clone, Debug, PartialEq)]
pub struct Side {
    /// Its RFC 9293 state and handshake/teardown marks.
    pub ep: Endpoint,
    pub pkts: u64,
    pub ip_bytes: u64,
    pub payload: u64,
    /// Segments without ACK.
    pub noack: u64,
    pub syn: u64,
    pub synack: u64,
    pub fin: u64,
    pub rst: u64,
    pub psh: u64,
    pub urg: u64,
    pub ece: u64,
    pub cwr: u64,
    /// Wireshark's base sequence number (ISN, or first seq - 1, or peer's first ack - 1).
    pub base: Option<u32>,
    /// Highest sequence number sent + 1 (the end of the sequence space seen).
    pub hi: Option<u32>,
    pub retrans: u64,
    pub zero_window: u64,
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_perm: Option<bool>,
    pub timestamps: Option<bool>,
    /// Payload bytes carried on its first SYN or SYN/ACK (TFO data).
    pub syn_data: u32,
    /// Time of its first SYN (without ACK) and first SYN/ACK; -1 before one.
    pub syn_ts: f64,
    pub synack_ts: f64,
    /// What few sides have: a TFO cookie, retried SYNs.
    pub rare: Option<Box<SideRare>>,
}

/// The parts of a `Side` that few flows need, boxed apart.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SideRare {
    /// TFO cookie on its SYN (empty = cookie request), None without the option.
    pub tfo: Option<Box<[u8]>>,
    /// With retransmissions only (else empty): the times of every SYN, the first included.
    pub syn_times: Vec<f64>,
    /// The same for its SYN/ACKs.
    pub synack_times: Vec<f64>,
}

impl Side {
    pub fn new(side: Dir) -> Side {
        Side {
            ep: Endpoint::new(side),
            pkts: 0,
            ip_bytes: 0,
            payload: 0,
            noack: 0,
            syn: 0,
            synack: 0,
            fin: 0,
            rst: 0,
            psh: 0,
            urg: 0,
            ece: 0,
            cwr: 0,
            base: None,
            hi: None,
            retrans: 0,
            zero_window: 0,
            mss: None,
            wscale: None,
            sack_perm: None,
            timestamps: None,
            syn_data: 0,
            syn_ts: -1.0,
            synack_ts: -1.0,
            rare: None,
        }
    }

    /// TFO cookie on its SYN (empty = cookie request), None without the option.
    pub fn tfo(&self) -> Option<&[u8]> {
        self.rare.as_ref().and_then(|r| r.tfo.as_deref())
    }

    /// With retransmissions only: the times of every SYN, the first included.
    pub fn syn_times(&self) -> Option<&[f64]> {
        self.rare
            .as_ref()
            .map(|r| r.syn_times.as_slice())
            .filter(|t| !t.is_empty())
    }

    /// With retransmissions only: the times of every SYN/ACK, the first included.
    pub fn synack_times(&self) -> Option<&[f64]> {
        self.rare
            .as_ref()
            .map(|r| r.synack_times.as_slice())
            .filter(|t| !t.is_empty())
    }

    /// Its RFC 9293 state.
    pub fn state(&self) -> TcpState {
        self.ep.state
    }

    /// Segments per flag: syn = SYN without ACK, synack = SYN+ACK, others = that flag set.
    pub fn flags(&self) -> FlagCounts {
        FlagCounts {
            syn: self.syn,
            synack: self.synack,
            fin: self.fin,
            rst: self.rst,
            psh: self.psh,
            urg: self.urg,
            ece: self.ece,
            cwr: self.cwr,
            ack: self.pkts - self.noack,
        }
    }
}

/// The process owning one end of a flow: (pid, process name).
pub type Owner = (u32, Box<str>);

/// Who did something first: nobody yet, the originator or the responder.
pub type Who = Option<Dir>;

/// How a connection ended, as far as its FINs and first RST tell (see `Flow::close_kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndKind {
    Fin4Way,
    Fin3Way,
    Simultaneous,
    Rst,
    FinThenRst,
}

impl EndKind {
    pub fn name(self) -> &'static str {
        match self {
            EndKind::Fin4Way => "fin-4way",
            EndKind::Fin3Way => "fin-3way",
            EndKind::Simultaneous => "simultaneous",
            EndKind::Rst => "rst",
            EndKind::FinThenRst => "fin-then-rst",
        }
    }
}

/// The segments a flow keeps (`frames_per_flow` > 0): the recent ring, and the handshake and
/// teardown segments (`special`), which the ring's budget never drops.
#[derive(Clone, Debug, Default)]
pub struct Kept {
    pub ring: Option<std::collections::VecDeque<Arc<KeptFrame>>>,
    pub special: Vec<Arc<KeptFrame>>,
}

/// One TCP connection (or attempt), as the tracker has seen it so far (Python: `flow.Flow`).
#[derive(Clone, Debug)]
pub struct Flow {
    pub id: u64,
    pub key: FlowKey,
    /// Whether the originator is the key's first (lower) endpoint.
    pub orig_low: bool,
    pub direction_inferred: bool,
    pub first_ts: f64,
    pub last_ts: f64,
    pub orig: Side,
    pub resp: Side,
    /// The endpoints' state changes, at most MAX_TRANSITIONS.
    pub moves: Vec<Transition>,
    pub zeek: ZeekState,
    /// Wireshark's iRTT: the last SYN to the first segment with ACK and without SYN.
    pub irtt: Option<f64>,
    pub rtt_syn_synack: Option<f64>,
    pub rtt_synack_ack: Option<f64>,
    /// Wireshark's ts_mru_syn and ts_mru_synack; -1 before one.
    pub mru_syn: f64,
    pub mru_synack: f64,
    pub closed_by: Who,
    pub rst_by: Who,
    /// The state of the first RST's sender when it sent it.
    pub rst_state: TcpState,
    pub end_kind: Option<EndKind>,
    /// Illegal flag combinations in the order first seen, with counts.
    pub illegal: Option<Box<Vec<(&'static str, u64)>>>,
    /// Kept segments (a tracker with `frames_per_flow`).
    pub kept: Option<Box<Kept>>,
    /// Both endpoints ESTABLISHED: a plain ACK segment needs no state work.
    pub steady: bool,
    /// A newer flow took over the 4-tuple (port reuse); no more segments come here.
    pub superseded: bool,
    /// (pid, process name) owning each end, orig then resp; set by the caller (live mode).
    pub procs: Option<Box<[Option<Owner>; 2]>>,
}

impl Flow {
    /// A flow whose first segment is `seg`, sent by the originator when `sender_is_orig`.
    pub fn new(
        id: u64,
        key: FlowKey,
        seg: &Segment,
        sender_is_orig: bool,
        verify_checksums: bool,
    ) -> Flow {
        let (orig_addr, orig_port) = if sender_is_orig {
            (seg.src, seg.sport)
        } else {
            (seg.dst, seg.dport)
        };
        let orig_low = key.lo == orig_addr && key.lo_port == orig_port;
        let mut zeek = ZeekState::new(verify_checksums);
        if !sender_is_orig {
            zeek.flip();
        }
        Flow {
            id,
            key,
            orig_low,
            direction_inferred: seg.flags & (SYN | ACK) != SYN,
            first_ts: seg.ts,
            last_ts: seg.ts,
            orig: Side::new(Dir::Orig),
            resp: Side::new(Dir::Resp),
            moves: Vec::new(),
            zeek,
            irtt: None,
            rtt_syn_synack: None,
            rtt_synack_ack: None,
            mru_syn: -1.0,
            mru_synack: -1.0,
            closed_by: None,
            rst_by: None,
            rst_state: TcpState::Unknown,
            end_kind: None,
            illegal: None,
            kept: None,
            steady: false,
            superseded: false,
            procs: None,
        }
    }

    /// The originator's address and port.
    pub fn orig_end(&self) -> (Addr, u16) {
        let k = &self.key;
        if self.orig_low {
            (k.lo, k.lo_port)
        } else {
            (k.hi, k.hi_port)
        }
    }

    /// The responder's address and port.
    pub fn resp_end(&self) -> (Addr, u16) {
        let k = &self.key;
        if self.orig_low {
            (k.hi, k.hi_port)
        } else {
            (k.lo, k.lo_port)
        }
    }

    pub fn orig_port(&self) -> u16 {
        self.orig_end().1
    }

    pub fn resp_port(&self) -> u16 {
        self.resp_end().1
    }

    pub fn vlan(&self) -> &[u16] {
        &self.key.vlan
    }

    /// Every endpoint state change (bounded): the data behind the ladder.
    pub fn transitions(&self) -> &[Transition] {
        &self.moves
    }

    /// Zeek-style connection uid, deterministic from the flow id.
    pub fn uid(&self) -> String {
        uid(self.id)
    }

    pub fn state_orig(&self) -> TcpState {
        self.orig.ep.state
    }

    pub fn state_resp(&self) -> TcpState {
        self.resp.ep.state
    }

    /// Zeek's history string (so far).
    pub fn history(&self) -> &str {
        self.zeek.history()
    }

    /// Zeek's conn_state (provisional while the connection is open).
    pub fn conn_state(&self) -> &'static str {
        self.zeek.conn_state()
    }

    /// An RST was seen, or a FIN from both sides.
    pub fn closed(&self) -> bool {
        self.rst_by.is_some() || (self.orig.ep.fin_seq.is_some() && self.resp.ep.fin_seq.is_some())
    }

    /// How the connection ended (see `capture.flows`' docstring): "" while neither FIN nor RST.
    pub fn close_kind(&self) -> &'static str {
        match (self.end_kind, self.closed_by) {
            (Some(kind), _) => kind.name(),
            (None, Some(_)) => "half-closed",
            (None, None) => "",
        }
    }

    /// "orig", "resp" or "" as Python writes `closed_by`.
    pub fn closed_by_name(&self) -> &'static str {
        self.closed_by.map_or("", Dir::name)
    }

    /// Retransmissions of the originator's SYN (same ISN).
    pub fn syn_retries(&self) -> u64 {
        self.orig.syn_times().map_or(0, |t| t.len() as u64 - 1)
    }

    /// Seconds between successive SYNs of the originator (1, 2, 4 ... on Linux).
    pub fn syn_retry_gaps(&self) -> Vec<f64> {
        gaps(self.orig.syn_times())
    }

    /// Retransmissions of the responder's SYN/ACK.
    pub fn synack_retries(&self) -> u64 {
        self.resp.synack_times().map_or(0, |t| t.len() as u64 - 1)
    }

    /// Seconds between successive SYN/ACKs of the responder.
    pub fn synack_retry_gaps(&self) -> Vec<f64> {
        gaps(self.resp.synack_times())
    }

    /// SACK permitted by every SYN seen (both sides: negotiated); None without a SYN.
    pub fn sack_perm(&self) -> Option<bool> {
        both(self.orig.sack_perm, self.resp.sack_perm)
    }

    /// Timestamps option on every SYN seen (both sides: in use); None without a SYN.
    pub fn timestamps(&self) -> Option<bool> {
        both(self.orig.timestamps, self.resp.timestamps)
    }

    /// Who entered TIME_WAIT: "orig", "resp", "both" or "".
    pub fn time_wait_by(&self) -> &'static str {
        let tw = |d: Dir| {
            self.moves
                .iter()
                .any(|t| t.new == TcpState::TimeWait && t.side == d)
        };
        match (tw(Dir::Orig), tw(Dir::Resp)) {
            (true, true) => "both",
            (true, false) => "orig",
            (false, true) => "resp",
            (false, false) => "",
        }
    }

    /// The kept segments in capture order: the recent ring plus handshake and teardown.
    pub fn frames(&self) -> Vec<&KeptFrame> {
        let Some(kept) = &self.kept else {
            return Vec::new();
        };
        let mut out: Vec<&KeptFrame> = kept.special.iter().map(|k| &**k).collect();
        if let Some(ring) = &kept.ring {
            out.extend(ring.iter().map(|k| &**k));
        }
        // Stable: of two kept with one frame number, Python's dict keeps the ring's (the later).
        out.sort_by_key(|k| k.seg.frame_no);
        let mut dedup: Vec<&KeptFrame> = Vec::with_capacity(out.len());
        for k in out {
            match dedup.last_mut() {
                Some(last) if last.seg.frame_no == k.seg.frame_no => *last = k,
                _ => dedup.push(k),
            }
        }
        dedup
    }

    /// Set the (pid, process name) owning one end (live mode); None clears it.
    pub fn set_proc(&mut self, side: Dir, owner: Option<Owner>) {
        let procs = self.procs.get_or_insert_with(Default::default);
        procs[side as usize] = owner;
    }

    /// The (pid, process name) owning one end, when known.
    pub fn proc(&self, side: Dir) -> Option<&Owner> {
        self.procs.as_ref().and_then(|p| p[side as usize].as_ref())
    }

    /// The export record (Zeek's field names where Zeek has them), as `Flow.record()`.
    pub fn record(&self) -> FlowRecord {
        let (o, r, z) = (&self.orig, &self.resp, &self.zeek);
        let (orig_h, orig_p) = self.orig_end();
        let (resp_h, resp_p) = self.resp_end();
        let po = self.proc(Dir::Orig);
        let pr = self.proc(Dir::Resp);
        FlowRecord {
            ts: self.first_ts,
            uid: self.uid(),
            orig_h: orig_h.to_string(),
            orig_p,
            resp_h: resp_h.to_string(),
            resp_p,
            duration: round(self.last_ts - self.first_ts, 9),
            orig_pkts: o.pkts,
            resp_pkts: r.pkts,
            orig_bytes: z.orig_bytes(),
            resp_bytes: z.resp_bytes(),
            orig_ip_bytes: o.ip_bytes,
            resp_ip_bytes: r.ip_bytes,
            conn_state: z.conn_state(),
            history: z.history().to_string(),
            state_orig: o.ep.state.name(),
            state_resp: r.ep.state.name(),
            flags_orig: o.flags(),
            flags_resp: r.flags(),
            payload_orig: o.payload,
            payload_resp: r.payload,
            isn_orig: o.ep.isn,
            isn_resp: r.ep.isn,
            mss_orig: o.mss,
            mss_resp: r.mss,
            wscale_orig: o.wscale,
            wscale_resp: r.wscale,
            sack_perm: self.sack_perm(),
            timestamps: self.timestamps(),
            irtt: self.irtt.map(|x| round(x, 9)),
            rtt_syn_synack: self.rtt_syn_synack.map(|x| round(x, 9)),
            rtt_synack_ack: self.rtt_synack_ack.map(|x| round(x, 9)),
            syn_retries: self.syn_retries(),
            syn_retry_gaps: self.syn_retry_gaps(),
            retrans_orig: o.retrans,
            retrans_resp: r.retrans,
            zero_window: o.zero_window + r.zero_window,
            closed_by: self.closed_by_name(),
            close_kind: self.close_kind(),
            illegal_flags: self.illegal.as_deref().cloned().unwrap_or_default(),
            direction_inferred: self.direction_inferred,
            vlan: self.key.vlan.to_vec(),
            pid_orig: po.map(|p| p.0),
            pid_resp: pr.map(|p| p.0),
            proc_orig: po.map(|p| p.1.to_string()),
            proc_resp: pr.map(|p| p.1.to_string()),
        }
    }
}

/// Zeek-style uid: "C" and 17 base62 characters of blake2b-104 over the id (Python: `_uid`).
pub fn uid(fid: u64) -> String {
    let mut digest = [0u8; 13];
    let mut hasher = Blake2bVar::new(13).expect("13 is a valid blake2b digest size");
    hasher.update(&fid.to_be_bytes());
    hasher
        .finalize_variable(&mut digest)
        .expect("the buffer is the digest's size");
    let mut n = digest.iter().fold(0u128, |n, b| n << 8 | u128::from(*b));
    let mut out = String::with_capacity(18);
    out.push('C');
    // Two base62 digits at a time, least significant first, as Python's pair table.
    for _ in 0..8 {
        let r = (n % 3844) as usize;
        n /= 3844;
        out.push(B62[r % 62] as char);
        out.push(B62[r / 62] as char);
    }
    out.push(B62[(n % 62) as usize] as char);
    out
}

fn gaps(times: Option<&[f64]>) -> Vec<f64> {
    match times {
        Some(t) => t.windows(2).map(|w| round(w[1] - w[0], 9)).collect(),
        None => Vec::new(),
    }
}

fn both(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (None, b) => b,
        (a, None) => a,
        (Some(a), Some(b)) => Some(a && b),
    }
}
