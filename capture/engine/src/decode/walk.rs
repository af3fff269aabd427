//! The general decoder (Python: `Decoder._decode` and its layer methods).
//!
//! Python's layer methods call one another; here each layer names the next and `decode` loops,
//! so nesting is bounded by the frame, not the stack. Every offset only grows and every layer
//! reads at its offset, so the loop ends. Python's `struct.error`/`IndexError` (a read past the
//! captured bytes) is `Malformed::TruncatedHeader`.

use super::checks::Malformed;
use crate::segment::{Addr, Opts, Segment};

pub(super) enum Found {
    Tcp(Segment),
    NonTcp,
    Fragment,
}

/// The next layer, or the end of the walk.
enum Step {
    Next(Layer),
    Done(Found),
}

enum Layer {
    /// An EtherType at this offset, then what it names at the next.
    Ether(usize),
    Ethertype(u16, usize),
    Mpls(usize),
    Ppp(usize),
    IpByVersion(usize),
    Ipv4(usize),
    Ipv6(usize),
    Tunnel(usize, u8),
    Udp(usize),
    L2tp(usize),
}

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const VLAN_TYPES: [u16; 4] = [0x8100, 0x88a8, 0x9100, 0x9200];
const MPLS_TYPES: [u16; 2] = [0x8847, 0x8848];
const PPPOE_SESSION: u16 = 0x8864;
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
const L2TP_PORT: u16 = 1701;
/// BSD loopback (DLT_NULL) AF_INET6: Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, macOS 30.
const NULL_INET6: [u32; 4] = [10, 24, 28, 30];
/// Hop-by-hop, routing, destination options, mobility, HIP, shim6.
const IPV6_EXT_SIMPLE: [u8; 6] = [0, 43, 60, 135, 139, 140];
const IPV6_FRAGMENT: u8 = 44;
const IPV6_AH: u8 = 51;
const MAX_IPV6_EXT: usize = 16;
const MAX_MPLS_LABELS: usize = 16;

/// An IP header as the TCP layer needs it.
pub(super) struct IpHead {
    pub version: u8,
    pub ip_off: usize,
    pub tcp_off: usize,
    pub src: Addr,
    pub dst: Addr,
    /// As the header gives it (IPv4 total length, IPv6 payload length + 40).
    pub ip_len: u32,
    /// IP header bytes before TCP (IPv6 extension headers included).
    pub hlen: u32,
    pub ttl: u8,
}

struct Walk<'a> {
    data: &'a [u8],
    /// The last non-empty VLAN stack seen (Python: `self._vlan`).
    vlan: Vec<u16>,
}

/// Decode a frame the long way: a segment, not TCP, a later fragment, or why it is malformed.
pub(super) fn decode(data: &[u8], linktype: i32) -> Result<Found, Malformed> {
    let mut walk = Walk {
        data,
        vlan: Vec::new(),
    };
    let mut step = walk.link(linktype)?;
    loop {
        match step {
            Step::Next(layer) => step = walk.step(layer)?,
            Step::Done(found) => return Ok(found),
        }
    }
}

impl<'a> Walk<'a> {
    fn u8(&self, off: usize) -> Result<u8, Malformed> {
        self.data
            .get(off)
            .copied()
            .ok_or(Malformed::TruncatedHeader)
    }

    fn bytes<const N: usize>(&self, off: usize) -> Result<[u8; N], Malformed> {
        off.checked_add(N)
            .and_then(|end| self.data.get(off..end))
            .and_then(|b| b.try_into().ok())
            .ok_or(Malformed::TruncatedHeader)
    }

    fn u16(&self, off: usize) -> Result<u16, Malformed> {
        self.bytes(off).map(u16::from_be_bytes)
    }

    /// The first layer of a link type.
    fn link(&self, linktype: i32) -> Result<Step, Malformed> {
        Ok(Step::Next(match linktype {
            super::LINKTYPE_ETHERNET => Layer::Ether(12),
            super::LINKTYPE_RAW | super::LINKTYPE_RAW_OLD | super::LINKTYPE_RAW_BSD => {
                Layer::IpByVersion(0)
            }
            super::LINKTYPE_LINUX_SLL => Layer::Ethertype(self.u16(14)?, 16),
            super::LINKTYPE_LINUX_SLL2 => {
                if self.data.len() < 20 {
                    return Err(Malformed::TruncatedHeader);
                }
                Layer::Ethertype(self.u16(0)?, 20)
            }
            super::LINKTYPE_IPV4 => Layer::Ipv4(0),
            super::LINKTYPE_IPV6 => Layer::Ipv6(0),
            super::LINKTYPE_NULL => {
                let raw = self.bytes(0)?;
                return Ok(null(u32::from_le_bytes(raw), u32::from_be_bytes(raw)));
            }
            super::LINKTYPE_LOOP => {
                let family = u32::from_be_bytes(self.bytes(0)?);
                return Ok(null(family, family));
            }
            lt if lt < 0 => return Err(Malformed::UndeclaredInterface),
            lt => return Err(Malformed::UnsupportedLinkType(lt)),
        }))
    }

    fn step(&mut self, layer: Layer) -> Result<Step, Malformed> {
        match layer {
            Layer::Ether(off) => Ok(Step::Next(Layer::Ethertype(self.u16(off)?, off + 2))),
            Layer::Ethertype(etype, off) => self.ethertype(etype, off),
            Layer::Mpls(off) => self.mpls(off),
            Layer::Ppp(off) => self.ppp(off),
            Layer::IpByVersion(off) => match self.u8(off)? >> 4 {
                4 => Ok(Step::Next(Layer::Ipv4(off))),
                6 => Ok(Step::Next(Layer::Ipv6(off))),
                version => Err(Malformed::IpVersion(version)),
            },
            Layer::Ipv4(off) => self.ipv4(off),
            Layer::Ipv6(off) => self.ipv6(off),
            Layer::Tunnel(off, proto) => {
                // The innermost IP/TCP header is the one that counts (as tshark reports it).
                if off >= self.data.len() {
                    return Err(Malformed::TruncatedTunnel);
                }
                Ok(Step::Next(if proto == 4 {
                    Layer::Ipv4(off)
                } else {
                    Layer::Ipv6(off)
                }))
            }
            Layer::Udp(off) => {
                let (sport, dport) = (self.u16(off)?, self.u16(off + 2)?);
                if (sport == L2TP_PORT || dport == L2TP_PORT) && self.data.len() > off + 8 {
                    return Ok(Step::Next(Layer::L2tp(off + 8)));
                }
                Ok(Step::Done(Found::NonTcp))
            }
            Layer::L2tp(off) => self.l2tp(off),
        }
    }

    fn ethertype(&mut self, mut etype: u16, mut off: usize) -> Result<Step, Malformed> {
        let mut vlan = Vec::new();
        while VLAN_TYPES.contains(&etype) {
            vlan.push(self.u16(off)? & 0x0fff);
            etype = self.u16(off + 2)?;
            off += 4;
        }
        if !vlan.is_empty() {
            self.vlan = vlan;
        }
        Ok(Step::Next(match etype {
            ETH_IPV4 => Layer::Ipv4(off),
            ETH_IPV6 => Layer::Ipv6(off),
            _ if MPLS_TYPES.contains(&etype) => Layer::Mpls(off),
            PPPOE_SESSION => Layer::Ppp(off + 6),
            _ => return Ok(Step::Done(Found::NonTcp)),
        }))
    }

    fn mpls(&self, mut off: usize) -> Result<Step, Malformed> {
        for _ in 0..MAX_MPLS_LABELS {
            let bottom = self.u8(off + 2)? & 0x01;
            off += 4;
            if bottom != 0 {
                if self.u8(off)? >> 4 == 0 {
                    // A pseudowire control word, then an Ethernet frame.
                    return Ok(Step::Next(Layer::Ether(off + 4 + 12)));
                }
                return Ok(Step::Next(Layer::IpByVersion(off)));
            }
        }
        Err(Malformed::MplsTooDeep)
    }

    fn ppp(&self, mut off: usize) -> Result<Step, Malformed> {
        if self.u8(off)? == 0xff && self.u8(off + 1)? == 0x03 {
            off += 2; // HDLC address/control, present in L2TP's PPP
        }
        let mut proto = u16::from(self.u8(off)?);
        if proto & 1 != 0 {
            off += 1; // protocol field compression: a one-byte protocol
        } else {
            proto = self.u16(off)?;
            off += 2;
        }
        Ok(match proto {
            PPP_IPV4 => Step::Next(Layer::Ipv4(off)),
            PPP_IPV6 => Step::Next(Layer::Ipv6(off)),
            _ => Step::Done(Found::NonTcp),
        })
    }

    fn l2tp(&self, mut off: usize) -> Result<Step, Malformed> {
        let flags = self.u16(off)?;
        if flags & 0x8000 != 0 || flags & 0x000f != 2 {
            return Ok(Step::Done(Found::NonTcp)); // a control message, or not L2TPv2
        }
        off += 2 + if flags & 0x4000 != 0 { 2 } else { 0 } + 4;
        off += if flags & 0x0800 != 0 { 4 } else { 0 };
        if flags & 0x0200 != 0 {
            off += 2 + usize::from(self.u16(off)?);
        }
        Ok(Step::Next(Layer::Ppp(off)))
    }

    fn ipv4(&self, off: usize) -> Result<Step, Malformed> {
        let h: [u8; 20] = self.bytes(off)?;
        let version = h[0] >> 4;
        if version != 4 {
            return Err(Malformed::Ipv4Version(version));
        }
        let ihl = usize::from(h[0] & 0x0f) * 4;
        if ihl < 20 {
            return Err(Malformed::Ipv4ShortHeader);
        }
        if u16::from_be_bytes([h[6], h[7]]) & 0x1fff != 0 {
            return Ok(Step::Done(Found::Fragment));
        }
        match h[9] {
            proto @ (4 | 41) => return Ok(Step::Next(Layer::Tunnel(off + ihl, proto))),
            17 => return Ok(Step::Next(Layer::Udp(off + ihl))),
            6 => {}
            _ => return Ok(Step::Done(Found::NonTcp)),
        }
        let head = IpHead {
            version: 4,
            ip_off: off,
            tcp_off: off + ihl,
            src: Addr::new(&h[12..16]),
            dst: Addr::new(&h[16..20]),
            ip_len: u32::from(u16::from_be_bytes([h[2], h[3]])),
            hlen: ihl as u32,
            ttl: h[8],
        };
        self.tcp(head)
    }

    fn ipv6(&self, off: usize) -> Result<Step, Malformed> {
        let h: [u8; 40] = self.bytes(off)?;
        let version = h[0] >> 4;
        if version != 6 {
            return Err(Malformed::Ipv6Version(version));
        }
        let (mut nxt, mut pos) = (h[6], off + 40);
        for _ in 0..MAX_IPV6_EXT {
            match nxt {
                6 => {
                    let head = IpHead {
                        version: 6,
                        ip_off: off,
                        tcp_off: pos,
                        src: Addr::new(&h[8..24]),
                        dst: Addr::new(&h[24..40]),
                        ip_len: u32::from(u16::from_be_bytes([h[4], h[5]])) + 40,
                        hlen: (pos - off) as u32,
                        ttl: h[7],
                    };
                    return self.tcp(head);
                }
                _ if IPV6_EXT_SIMPLE.contains(&nxt) => {
                    (nxt, pos) = (
                        self.u8(pos)?,
                        pos + (usize::from(self.u8(pos + 1)?) + 1) * 8,
                    );
                }
                IPV6_FRAGMENT => {
                    if self.u16(pos + 2)? & 0xfff8 != 0 {
                        return Ok(Step::Done(Found::Fragment));
                    }
                    (nxt, pos) = (self.u8(pos)?, pos + 8);
                }
                IPV6_AH => {
                    (nxt, pos) = (
                        self.u8(pos)?,
                        pos + (usize::from(self.u8(pos + 1)?) + 2) * 4,
                    );
                }
                4 | 41 => return Ok(Step::Next(Layer::Tunnel(pos, nxt))),
                17 => return Ok(Step::Next(Layer::Udp(pos))),
                _ => return Ok(Step::Done(Found::NonTcp)),
            }
        }
        Err(Malformed::Ipv6ChainTooLong)
    }

    fn tcp(&self, head: IpHead) -> Result<Step, Malformed> {
        if self.data.len() < head.tcp_off + 20 {
            return Err(Malformed::TruncatedTcp);
        }
        let vlan = self.vlan.as_slice().into();
        Ok(Step::Done(Found::Tcp(tcp_segment(self.data, &head, vlan))))
    }
}

/// DLT_NULL stores the family in the capturing host's byte order: accept either.
fn null(family_le: u32, family_be: u32) -> Step {
    if family_le == 2 || family_be == 2 {
        Step::Next(Layer::Ipv4(4))
    } else if NULL_INET6.contains(&family_le) || NULL_INET6.contains(&family_be) {
        Step::Next(Layer::Ipv6(4))
    } else {
        Step::Done(Found::NonTcp)
    }
}

/// The segment of a TCP header at `head.tcp_off` (Python: `_tcp_fields`); the frame holds its
/// 20 fixed bytes. Per-frame fields (`frame_no`, `ts`, ...) and the checks are `decode`'s.
#[inline(always)]
pub(super) fn tcp_segment(data: &[u8], head: &IpHead, vlan: Box<[u16]>) -> Segment {
    let off = head.tcp_off;
    let t: [u8; 20] = data
        .get(off..off + 20)
        .and_then(|t| t.try_into().ok())
        .unwrap_or([0; 20]);
    let captured_ip = data.len().saturating_sub(head.ip_off) as i64;
    let mut ip_len = i64::from(head.ip_len);
    if ip_len == 0 && head.version == 4 {
        ip_len = captured_ip; // TSO: the kernel hands over segments with total length 0
    }
    let ip_hlen = i64::from(head.hlen);
    let mut hlen = i64::from(t[12] >> 4) * 4;
    let mut bad_opts = None;
    if hlen < 20 {
        bad_opts = Some(format!("bad data offset {hlen}").into());
        hlen = 20;
    } else if ip_hlen + hlen > ip_len {
        bad_opts = Some(format!("data offset {hlen} beyond the IP payload").into());
        hlen = (ip_len - ip_hlen).max(20);
    }
    let opts_end = data.len().min(off + hlen as usize);
    let opts = data.get(off + 20..opts_end).unwrap_or_default();
    Segment {
        truncated: captured_ip < ip_len,
        ip_version: head.version,
        ip_off: head.ip_off as u32,
        src: head.src,
        dst: head.dst,
        ip_len: ip_len.clamp(0, u32::MAX.into()) as u32,
        ttl: head.ttl,
        vlan,
        tcp_off: off as u32,
        sport: u16::from_be_bytes([t[0], t[1]]),
        dport: u16::from_be_bytes([t[2], t[3]]),
        seq: u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
        ack: u32::from_be_bytes([t[8], t[9], t[10], t[11]]),
        flags: u16::from(t[13]) | (u16::from(t[12] & 1) << 8),
        window: u16::from_be_bytes([t[14], t[15]]),
        urg_ptr: u16::from_be_bytes([t[18], t[19]]),
        opts: Opts::new(opts),
        bad_opts,
        payload_len: (ip_len - ip_hlen - hlen).max(0) as u32,
        ..Segment::default()
    }
}
