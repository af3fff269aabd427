//! One TCP connection as the tracker keeps it: a `Flow`, its two `Side`s, its export record
//! (Python: `capture.flow`). `tracker::FlowTracker` builds and updates flows.

use std::sync::Arc;

use crate::pyfloat::round;
use crate::segment::{Addr, Segment, ACK, SYN};
use crate::tcpstate::{Side as Dir, TcpState, Transition};
use crate::tracker::KeptFrame;
use crate::zeek::ZeekState;

pub mod analysis;
mod record;
mod side;

pub use record::{random_seed, uid};
pub use side::{sender_is_low, FlowKey, Side, SideRare};

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
    /// Where the frame rings list this flow among those holding a ring (while `ring` is).
    pub holder: usize,
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
    pub kept: Kept,
    /// Both endpoints ESTABLISHED: a plain ACK segment needs no state work.
    pub steady: bool,
    /// Noted among the tracker's changed flows since they were last taken
    /// (`Books::touch_flow`).
    pub noted: bool,
    /// A newer flow took over the 4-tuple (port reuse); no more segments come here.
    pub superseded: bool,
    /// (pid, process name) owning each end, orig then resp; set by the caller (live mode).
    pub procs: Option<Box<[Option<Owner>; 2]>>,
    /// The seed of its uid: its tracker's (`TrackerConfig::uid_seed`).
    pub uid_seed: u64,
    /// The id of the flow this one continues: the same connection's flow that the tracker let
    /// go (evicted at its cap, or released once closed) before this flow's first segment came.
    pub continues: Option<std::num::NonZeroU64>,
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
            kept: Kept::default(),
            steady: false,
            noted: false,
            superseded: false,
            procs: None,
            uid_seed: 0,
            continues: None,
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

    /// Zeek-style connection uid, from the flow id and its tracker's seed.
    pub fn uid(&self) -> String {
        uid(self.uid_seed, self.id)
    }

    /// The uid of the flow this one continues (see `continues`), if any.
    pub fn continues_uid(&self) -> Option<String> {
        self.continues.map(|id| uid(self.uid_seed, id.get()))
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
        self.kept_in_order().into_iter().map(|k| &**k).collect()
    }

    /// `frames`, shared: for views that outlive this borrow of the flow.
    pub fn kept_frames(&self) -> Vec<Arc<KeptFrame>> {
        self.kept_in_order().into_iter().cloned().collect()
    }

    fn kept_in_order(&self) -> Vec<&Arc<KeptFrame>> {
        let kept = &self.kept;
        let mut out: Vec<&Arc<KeptFrame>> = kept.special.iter().collect();
        if let Some(ring) = &kept.ring {
            out.extend(ring.iter());
        }
        // Stable: of two kept with one frame number, Python's dict keeps the ring's (the later).
        out.sort_by_key(|k| k.seg.frame_no);
        let mut dedup: Vec<&Arc<KeptFrame>> = Vec::with_capacity(out.len());
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
}

fn gaps(times: Option<&[f64]>) -> Vec<f64> {
    match times {
        Some(t) => t.windows(2).map(|w| round(w[1] - w[0], 9)).collect(),
        None => Vec::new(),
    }
}

pub(crate) fn both(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (None, b) => b,
        (a, None) => a,
        (Some(a), Some(b)) => Some(a && b),
    }
}
