//! The compact record of one TCP segment, shared by the decoder, the tracker and every output.
//!
//! A `Segment` owns everything the tracker and the outputs read (numbers, addresses, the option
//! bytes), so it can be kept (Zeek's pending SYN/ACKs, SYN-only flows) without the frame; the
//! frame itself is kept apart only where a person will look at it (`tracker`'s kept frames).

use std::cmp::Ordering;
use std::fmt::Write as _;

pub const FIN: u16 = 0x01;
pub const SYN: u16 = 0x02;
pub const RST: u16 = 0x04;
pub const PSH: u16 = 0x08;
pub const ACK: u16 = 0x10;
pub const URG: u16 = 0x20;
pub const ECE: u16 = 0x40;
pub const CWR: u16 = 0x80;
/// The former NS bit (RFC 3540), reused by Accurate ECN.
pub const AE: u16 = 0x100;

pub const FLAG_NAMES: [(u16, &str); 9] = [
    (FIN, "FIN"),
    (SYN, "SYN"),
    (RST, "RST"),
    (PSH, "PSH"),
    (ACK, "ACK"),
    (URG, "URG"),
    (ECE, "ECE"),
    (CWR, "CWR"),
    (AE, "AE"),
];

/// tcpdump's one-letter notation, in tcpdump's order ("[S.]", "[FP.]", "[R.]" ...).
const TCPDUMP_LETTERS: [(u16, char); 8] = [
    (FIN, 'F'),
    (SYN, 'S'),
    (RST, 'R'),
    (PSH, 'P'),
    (URG, 'U'),
    (ECE, 'E'),
    (CWR, 'W'),
    (AE, 'e'),
];

/// An IPv4 or IPv6 address as raw bytes (4 or 16 of `bytes` used, the rest zero). Ordered as
/// the raw bytes are, which is how a flow key picks its lower endpoint.
#[derive(Clone, Copy, Default)]
pub struct Addr {
    bytes: [u8; 16],
    len: u8,
}

// Equality, hashing and order on the 16 bytes as one integer: each is on every packet's path
// (two flow-key lookups), where a byte-slice comparison costs a library call.
impl PartialEq for Addr {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.wide() == other.wide()
    }
}

impl Eq for Addr {}

impl std::hash::Hash for Addr {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u128(self.wide());
        state.write_u8(self.len);
    }
}

impl Addr {
    /// An address from 4 or 16 raw bytes.
    pub fn new(raw: &[u8]) -> Addr {
        let mut bytes = [0u8; 16];
        let len = raw.len().min(16);
        bytes[..len].copy_from_slice(&raw[..len]);
        Addr {
            bytes,
            len: len as u8,
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    pub fn is_v6(&self) -> bool {
        self.len == 16
    }

    /// The bytes as one big-endian integer: its order is the bytes' (the unused ones are zero).
    #[inline]
    fn wide(&self) -> u128 {
        u128::from_be_bytes(self.bytes)
    }
}

impl Ord for Addr {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        if self.len == other.len {
            self.wide().cmp(&other.wide())
        } else {
            self.as_slice().cmp(other.as_slice())
        }
    }
}

impl PartialOrd for Addr {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Addr {
    /// The usual text form: dotted quad, or compressed IPv6 as Python's `ipaddress` writes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = &self.bytes;
        if self.len == 4 {
            write!(f, "{}.{}.{}.{}", b[0], b[1], b[2], b[3])
        } else {
            write!(f, "{}", ipv6_text(b))
        }
    }
}

impl std::fmt::Debug for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Compressed IPv6 text as Python's `str(ipaddress.IPv6Address(raw))`: the longest run of two or
/// more zero groups becomes `::` (the first such run on a tie), no IPv4-mapped dotted forms.
fn ipv6_text(b: &[u8; 16]) -> String {
    let groups: Vec<u16> = (0..8)
        .map(|i| u16::from_be_bytes([b[2 * i], b[2 * i + 1]]))
        .collect();
    let (mut best_start, mut best_len) = (usize::MAX, 0usize);
    let mut i = 0;
    while i < 8 {
        if groups[i] == 0 {
            let start = i;
            while i < 8 && groups[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                best_start = start;
                best_len = i - start;
            }
        } else {
            i += 1;
        }
    }
    let hex = |g: &[u16]| g.iter().map(|x| format!("{x:x}")).collect::<Vec<_>>();
    if best_len < 2 {
        return hex(&groups).join(":");
    }
    let head = hex(&groups[..best_start]).join(":");
    let tail = hex(&groups[best_start + best_len..]).join(":");
    format!("{head}::{tail}")
}

/// The raw TCP option bytes of a segment (at most 40), as captured (may be cut short).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Opts {
    len: u8,
    bytes: [u8; 40],
}

impl Default for Opts {
    fn default() -> Opts {
        Opts {
            len: 0,
            bytes: [0; 40],
        }
    }
}

impl Opts {
    pub fn new(raw: &[u8]) -> Opts {
        let mut bytes = [0u8; 40];
        let len = raw.len().min(40);
        bytes[..len].copy_from_slice(&raw[..len]);
        Opts {
            len: len as u8,
            bytes,
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl std::fmt::Debug for Opts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Opts({:02x?})", self.as_slice())
    }
}

/// One decoded TCP segment (Python: `capture.segment.Segment`, less the frame itself).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Segment {
    /// 1-based position of the frame in its capture (or live session).
    pub frame_no: u64,
    /// Capture time, seconds since the epoch (computed exactly as the Python reader did).
    pub ts: f64,
    /// pcap LINKTYPE of the frame.
    pub linktype: i32,
    /// The frame's length on the wire.
    pub wire_len: u32,
    /// Bytes of the frame that were captured.
    pub caplen: u32,
    /// The capture holds less than the IP header says (snap length, or a cut record).
    pub truncated: bool,
    pub ip_version: u8,
    /// Offset of the (innermost) IP header in the frame.
    pub ip_off: u32,
    pub src: Addr,
    pub dst: Addr,
    /// IP bytes as the header gives them (IPv4 total length, IPv6 payload length + 40).
    pub ip_len: u32,
    pub ttl: u8,
    /// VLAN ids, outermost first; empty when untagged.
    pub vlan: Box<[u16]>,
    /// Offset of the TCP header in the frame.
    pub tcp_off: u32,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    /// FIN..CWR in the low byte, AE in bit 8.
    pub flags: u16,
    pub window: u16,
    pub urg_ptr: u16,
    /// The raw option bytes (may be cut short in a truncated frame).
    pub opts: Opts,
    /// Why the option list or data offset is malformed; None when fine.
    pub bad_opts: Option<Box<str>>,
    /// TCP payload bytes as the IP header gives them (not what was captured).
    pub payload_len: u32,
    /// Zeek's TCPAnalyzer::ExtractTCP_Header test: the header length is at least 20 and runs
    /// past neither the IP payload nor the captured bytes (`zeek_endpoint.header_ok`).
    pub header_ok: bool,
    /// IPv4 header checksum correct (always true for IPv6); computed only when the decoder
    /// verifies checksums, else true.
    pub ip_checksum_ok: bool,
    /// TCP checksum correct; computed only when the decoder verifies checksums, else true.
    pub tcp_checksum_ok: bool,
}

/// Flags as tcpdump prints them between brackets: `S`, `S.`, `F.`, `R.`, `none`.
pub fn tcpdump_flags(flags: u16) -> String {
    let mut out: String = TCPDUMP_LETTERS
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, c)| *c)
        .collect();
    if flags & ACK != 0 {
        out.push('.');
    }
    if out.is_empty() {
        out.push_str("none");
    }
    out
}

/// Flags spelled out: `SYN ACK`, or `none`.
pub fn flag_words(flags: u16) -> String {
    let words: Vec<&str> = FLAG_NAMES
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if words.is_empty() {
        "none".into()
    } else {
        words.join(" ")
    }
}

/// The TCP options of one segment, parsed (RFC 9293 §3.2 and the option registries).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TcpOptions {
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_perm: bool,
    pub sack_blocks: Vec<(u32, u32)>,
    pub ts_val: Option<u32>,
    pub ts_ecr: Option<u32>,
    /// TFO cookie (kind 34, or 254 with magic 0xF989); empty for a cookie request.
    pub tfo_cookie: Option<Vec<u8>>,
    pub mptcp: bool,
    /// Every option in order, as (kind, name, value text).
    pub items: Vec<(u8, String, String)>,
    pub malformed: String,
}

fn opt_name(kind: u8) -> String {
    match kind {
        0 => "eol".into(),
        1 => "nop".into(),
        2 => "mss".into(),
        3 => "wscale".into(),
        4 => "sackOK".into(),
        5 => "sack".into(),
        8 => "TS".into(),
        19 => "md5".into(),
        28 => "uto".into(),
        29 => "tcp-ao".into(),
        30 => "mptcp".into(),
        34 => "tfo".into(),
        254 => "exp".into(),
        _ => format!("opt-{kind}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Parse an option list. Never fails: an overrun or bad length sets `malformed`.
pub fn parse_options(raw: &[u8]) -> TcpOptions {
    let mut o = TcpOptions::default();
    let (mut i, n) = (0usize, raw.len());
    while i < n {
        let kind = raw[i];
        if kind == 0 {
            o.items.push((0, "eol".into(), String::new()));
            break;
        }
        if kind == 1 {
            o.items.push((1, "nop".into(), String::new()));
            i += 1;
            continue;
        }
        if i + 1 >= n {
            o.malformed = format!("option kind {kind} has no length byte");
            break;
        }
        let length = raw[i + 1] as usize;
        if length < 2 || i + length > n {
            o.malformed = format!("option kind {kind} has bad length {length}");
            break;
        }
        parse_one(&mut o, kind, &raw[i + 2..i + length]);
        i += length;
    }
    o
}

fn parse_one(o: &mut TcpOptions, kind: u8, body: &[u8]) {
    let mut name = opt_name(kind);
    let mut value = hex(body);
    let n = body.len();
    if kind == 2 && n == 2 {
        let mss = u16::from_be_bytes([body[0], body[1]]);
        o.mss = Some(mss);
        value = mss.to_string();
    } else if kind == 3 && n == 1 {
        o.wscale = Some(body[0]);
        value = body[0].to_string();
    } else if kind == 4 && n == 0 {
        o.sack_perm = true;
    } else if kind == 5 && n > 0 && n.is_multiple_of(8) {
        o.sack_blocks = body
            .chunks_exact(8)
            .map(|c| (be32(&c[..4]), be32(&c[4..])))
            .collect();
        value = o
            .sack_blocks
            .iter()
            .map(|(a, b)| format!("{a}:{b}"))
            .collect::<Vec<_>>()
            .join(" ");
    } else if kind == 8 && n == 8 {
        let (val, ecr) = (be32(&body[..4]), be32(&body[4..]));
        o.ts_val = Some(val);
        o.ts_ecr = Some(ecr);
        value = format!("val {val} ecr {ecr}");
    } else if kind == 34 {
        o.tfo_cookie = Some(body.to_vec());
        value = if n > 0 {
            format!("cookie {}", hex(body))
        } else {
            "cookiereq".into()
        };
    } else if kind == 254 && n >= 2 && body[..2] == [0xf9, 0x89] {
        name = "tfo".into();
        o.tfo_cookie = Some(body[2..].to_vec());
        value = if n > 2 {
            format!("cookie {}", hex(&body[2..]))
        } else {
            "cookiereq".into()
        };
    } else if kind == 30 {
        o.mptcp = true;
        value = if n > 0 {
            format!("subtype {}", body[0] >> 4)
        } else {
            String::new()
        };
    } else if matches!(kind, 2 | 3 | 4 | 5 | 8) {
        o.malformed = format!("option {name} has bad length {}", n + 2);
        value = format!("len {}", n + 2);
    } else {
        value = format!("kind {kind} len {}", n + 2);
    }
    o.items.push((kind, name, value));
}

/// A SYN's handshake options as `parse_options` finds them, without the text of every option:
/// (mss, wscale, sack_perm, timestamps, tfo_cookie). For the tracker.
pub type SynOptions = (Option<u16>, Option<u8>, bool, bool, Option<Box<[u8]>>);

/// The handshake options of a SYN (see `SynOptions`).
pub fn syn_options(raw: &[u8]) -> SynOptions {
    let (mut mss, mut wscale, mut sack, mut ts, mut tfo) = (None, None, false, false, None);
    let (mut i, n) = (0usize, raw.len());
    while i < n {
        let kind = raw[i];
        if kind == 1 {
            i += 1;
            continue;
        }
        if kind == 0 || i + 1 >= n {
            break;
        }
        let length = raw[i + 1] as usize;
        if length < 2 || i + length > n {
            break;
        }
        // A known option of the wrong length is skipped (parse_options flags it and goes on).
        match kind {
            2 if length == 4 => mss = Some(u16::from_be_bytes([raw[i + 2], raw[i + 3]])),
            3 if length == 3 => wscale = Some(raw[i + 2]),
            4 if length == 2 => sack = true,
            8 if length == 10 => ts = true,
            34 => tfo = Some(raw[i + 2..i + length].into()),
            254 if length >= 4 && raw[i + 2..i + 4] == [0xf9, 0x89] => {
                tfo = Some(raw[i + 4..i + length].into())
            }
            _ => {}
        }
        i += length;
    }
    (mss, wscale, sack, ts, tfo)
}

/// `addr:port`, with IPv6 addresses bracketed.
pub fn endpoint(addr: &Addr, port: u16) -> String {
    if addr.is_v6() {
        format!("[{addr}]:{port}")
    } else {
        format!("{addr}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_text_matches_python() {
        let cases: [(&str, [u8; 16]); 4] = [
            ("::1", {
                let mut b = [0; 16];
                b[15] = 1;
                b
            }),
            ("::", [0; 16]),
            ("2001:db8::1:0:0:1", {
                let mut b = [0; 16];
                b[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
                b[9] = 1;
                b[15] = 1;
                b
            }),
            ("::ffff:a00:1", {
                let mut b = [0; 16];
                b[10] = 0xff;
                b[11] = 0xff;
                b[12] = 10;
                b[15] = 1;
                b
            }),
        ];
        for (text, raw) in cases {
            assert_eq!(Addr::new(&raw).to_string(), text);
        }
    }

    #[test]
    fn flags_read_as_tcpdump_writes_them() {
        assert_eq!(tcpdump_flags(SYN), "S");
        assert_eq!(tcpdump_flags(SYN | ACK), "S.");
        assert_eq!(tcpdump_flags(FIN | PSH | ACK), "FP.");
        assert_eq!(tcpdump_flags(0), "none");
        assert_eq!(flag_words(SYN | ACK), "SYN ACK");
    }

    #[test]
    fn options_parse_and_flag_bad_lengths() {
        let raw = [
            2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2,
        ];
        let o = parse_options(&raw);
        assert_eq!(o.mss, Some(1460));
        assert_eq!(o.wscale, Some(7));
        assert!(o.sack_perm);
        assert_eq!((o.ts_val, o.ts_ecr), (Some(1), Some(2)));
        assert_eq!(o.items[4].2, "val 1 ecr 2");
        assert_eq!(
            parse_options(&[2, 9]).malformed,
            "option kind 2 has bad length 9"
        );
        assert_eq!(syn_options(&raw).0, Some(1460));
    }
}
