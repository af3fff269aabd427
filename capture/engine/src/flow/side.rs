//! A flow's key and its two sides (Python: `capture.flow.Side`, `FlowKey`).

use super::analysis::{MarkCounts, SeqWatch};
use crate::export::FlagCounts;
use crate::segment::{Addr, Segment};
use crate::tcpstate::{Endpoint, Side as Dir, TcpState};

/// (lower address, higher address, its port, the other port, VLAN ids): both directions' key.
#[derive(Clone, Debug, Eq)]
pub struct FlowKey {
    pub lo: Addr,
    pub hi: Addr,
    pub lo_port: u16,
    pub hi_port: u16,
    pub vlan: Box<[u16]>,
}

// Compared and hashed on every packet (the tracker's lookups): the VLAN ids, nearly always
// none, are looked at only when there are some (a slice comparison is a library call).
impl PartialEq for FlowKey {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.lo == other.lo
            && self.hi == other.hi
            && self.lo_port == other.lo_port
            && self.hi_port == other.hi_port
            && self.vlan.len() == other.vlan.len()
            && (self.vlan.is_empty() || self.vlan == other.vlan)
    }
}

impl std::hash::Hash for FlowKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.lo.hash(state);
        self.hi.hash(state);
        state.write_u32(u32::from(self.lo_port) << 16 | u32::from(self.hi_port));
        if !self.vlan.is_empty() {
            self.vlan.hash(state);
        }
    }
}

impl FlowKey {
    /// The key of a segment's flow; `low`: its sender is the lower endpoint.
    pub fn of(seg: &Segment, low: bool) -> FlowKey {
        let (lo, hi, lo_port, hi_port) = FlowKey::ends(seg, low);
        FlowKey {
            lo,
            hi,
            lo_port,
            hi_port,
            vlan: seg.vlan.clone(),
        }
    }

    /// A segment's endpoints in key order: (lower address, higher address, their ports);
    /// `low`: its sender is the lower endpoint.
    #[inline]
    pub fn ends(seg: &Segment, low: bool) -> (Addr, Addr, u16, u16) {
        if low {
            (seg.src, seg.dst, seg.sport, seg.dport)
        } else {
            (seg.dst, seg.src, seg.dport, seg.sport)
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
    /// `base` came from its own first segment, not a SYN (Wireshark's first seq - 1): see
    /// `rel_base`.
    pub base_from_seq: bool,
    /// Highest sequence number sent + 1 (the end of the sequence space seen).
    pub hi: Option<u32>,
    pub retrans: u64,
    pub zero_window: u64,
    /// Its last segment without SYN or RST advertised a zero window (it has not reopened).
    pub zero_window_open: bool,
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
    /// Wireshark's analysis state of this direction (`flow::analysis`).
    pub watch: SeqWatch,
    /// Its segments per analysis kind (`analysis::KINDS` order), from its first marked one.
    pub marks: Option<Box<MarkCounts>>,
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
            base_from_seq: false,
            hi: None,
            retrans: 0,
            zero_window: 0,
            zero_window_open: false,
            mss: None,
            wscale: None,
            sack_perm: None,
            timestamps: None,
            syn_data: 0,
            syn_ts: -1.0,
            synack_ts: -1.0,
            rare: None,
            watch: SeqWatch::default(),
            marks: None,
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

    /// Its segments with analysis mark `bit` (an `analysis::KINDS` bit).
    pub fn marked(&self, bit: u16) -> u32 {
        super::analysis::count_of(self.marks.as_deref(), bit)
    }

    /// Where its relative sequence numbers count from, as tcpdump counts them: its ISN when its
    /// SYN was seen; else the peer's first acknowledgement - 1 when the peer's ACK came first
    /// (so the first byte it sends after the peer's view of it is 1); else its own first
    /// sequence number (that segment is 0). Wireshark differs in the last case only (it counts
    /// from the first sequence number - 1, `base`). A SYN seen after other segments (an RST
    /// injected before the SYN/ACK) still makes its ISN the base, as tcpdump re-bases on a SYN.
    /// `--print` and the flow screen's ladder both count from this base, in both directions.
    pub fn rel_base(&self) -> Option<u32> {
        if let Some(isn) = self.ep.isn {
            return Some(isn);
        }
        let base = self.base?;
        Some(if self.base_from_seq {
            base.wrapping_add(1)
        } else {
            base
        })
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
