//! RFC 9293 endpoint states, as a passive observer's segments show them (Python:
//! `capture.tcpstate`; its module docstring states the rules).

/// An endpoint's state; `Unknown` when nothing has been seen of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum TcpState {
    #[default]
    Unknown = 0,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
    Closed,
}

impl TcpState {
    /// The RFC 9293 name, as every output writes it (`SYN_SENT`, `TIME_WAIT` ...).
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Unknown => "UNKNOWN",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynReceived => "SYN_RECEIVED",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN_WAIT_1",
            TcpState::FinWait2 => "FIN_WAIT_2",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST_ACK",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Closed => "CLOSED",
        }
    }
}

/// Which end of a flow: the originator or the responder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Orig,
    Resp,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Orig => "orig",
            Side::Resp => "resp",
        }
    }
}

/// One endpoint changing state: the data behind the per-flow ladder.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transition {
    pub ts: f64,
    pub frame_no: u64,
    pub side: Side,
    pub old: TcpState,
    pub new: TcpState,
}

/// Transitions kept per flow; a normal connection makes about ten, an RST storm makes none.
pub const MAX_TRANSITIONS: usize = 64;
pub const MASK: u32 = 0xFFFF_FFFF;
pub const HALF: u32 = 0x8000_0000;

/// `a >= b` in 32-bit sequence space (RFC 9293 §3.4, modulo 2**32).
pub fn seq_ge(a: u32, b: u32) -> bool {
    a.wrapping_sub(b) < HALF
}
