//! The common Ethernet frame (Python: `_ether_fast`), or None for the general walk.
//!
//! Common: up to two VLAN tags (802.1Q or 802.1ad, then 802.1Q), then IPv4 without options and
//! not fragmented, or IPv6 without extension headers; then TCP with a sane data offset, all
//! within the IP length and the wire length. Whatever it declines, `walk` decodes the same way.

use super::walk::{tcp_segment, IpHead};
use crate::segment::{Addr, Segment};

const TPID_8021Q: [u8; 2] = [0x81, 0x00];
const TPID_8021AD: [u8; 2] = [0x88, 0xa8];
const ETH_IPV4: [u8; 2] = [0x08, 0x00];
const ETH_IPV6: [u8; 2] = [0x86, 0xdd];

fn pair(data: &[u8], off: usize) -> Option<[u8; 2]> {
    data.get(off..off + 2)?.try_into().ok()
}

/// The segment of a common Ethernet frame (all but the per-frame fields `decode` sets).
#[inline]
pub(super) fn ether_fast(data: &[u8], wire_len: u32) -> Option<Segment> {
    let mut etype = pair(data, 12)?;
    let mut off = 14;
    if etype == TPID_8021Q || etype == TPID_8021AD {
        etype = pair(data, 16)?;
        off = 18;
        if etype == TPID_8021Q {
            etype = pair(data, 20)?;
            off = 22;
        }
    }
    let head = match etype {
        ETH_IPV4 => ipv4(data, off)?,
        ETH_IPV6 => ipv6(data, off)?,
        _ => return None,
    };
    let hlen = u32::from(data.get(head.tcp_off + 12)? >> 4) * 4;
    if hlen < 20
        || head.hlen + hlen > head.ip_len
        || off as u64 + u64::from(head.ip_len) > u64::from(wire_len)
    {
        return None;
    }
    Some(tcp_segment(data, &head, vlan_ids(data, off)))
}

/// IPv4 with IHL 5, TCP, neither MF nor a fragment offset; the frame holds IP + TCP headers.
#[inline]
fn ipv4(data: &[u8], off: usize) -> Option<IpHead> {
    let h: &[u8; 40] = data.get(off..off + 40)?.try_into().ok()?;
    if h[0] != 0x45 || h[9] != 6 || h[6] & 0x3f != 0 || h[7] != 0 {
        return None;
    }
    Some(IpHead {
        version: 4,
        ip_off: off,
        tcp_off: off + 20,
        src: Addr::new(&h[12..16]),
        dst: Addr::new(&h[16..20]),
        ip_len: u32::from(u16::from_be_bytes([h[2], h[3]])),
        hlen: 20,
        ttl: h[8],
    })
}

/// IPv6 whose next header is TCP; the frame holds IP + TCP headers.
#[inline]
fn ipv6(data: &[u8], off: usize) -> Option<IpHead> {
    let h: &[u8; 60] = data.get(off..off + 60)?.try_into().ok()?;
    if h[6] != 6 || h[0] >> 4 != 6 {
        return None;
    }
    Some(IpHead {
        version: 6,
        ip_off: off,
        tcp_off: off + 40,
        src: Addr::new(&h[8..24]),
        dst: Addr::new(&h[24..40]),
        ip_len: u32::from(u16::from_be_bytes([h[4], h[5]])) + 40,
        hlen: 40,
        ttl: h[7],
    })
}

/// The VLAN ids of the tags between the MAC addresses and the EtherType at `off - 2`. The
/// untagged frame's answer (nothing to allocate) is inlined; the tags are read apart.
#[inline]
fn vlan_ids(data: &[u8], off: usize) -> Box<[u16]> {
    if off == 14 {
        return Box::default();
    }
    tag_ids(data, off)
}

#[inline(never)]
fn tag_ids(data: &[u8], off: usize) -> Box<[u16]> {
    data.get(12..off - 2)
        .unwrap_or_default()
        .chunks_exact(4)
        .map(|tag| u16::from_be_bytes([tag[2], tag[3]]) & 0x0fff)
        .collect()
}
