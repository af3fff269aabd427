//! Why a frame is malformed (Python's reason texts), and the per-segment checks Zeek makes
//! (Python: `zeek_endpoint.header_ok`, `ip_checksum_ok`, `tcp_checksum_ok`).

use std::fmt;

use crate::segment::Segment;

/// Why a frame cannot be decoded; `Display` gives Python's reason text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Malformed {
    /// A read past the captured bytes (Python: `struct.error` or `IndexError`).
    TruncatedHeader,
    UndeclaredInterface,
    UnsupportedLinkType(i32),
    MplsTooDeep,
    IpVersion(u8),
    Ipv4Version(u8),
    Ipv4ShortHeader,
    Ipv6Version(u8),
    Ipv6ChainTooLong,
    TruncatedTunnel,
    TruncatedTcp,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::TruncatedHeader => f.write_str("truncated header"),
            Malformed::UndeclaredInterface => {
                f.write_str("packet of an undeclared pcapng interface")
            }
            Malformed::UnsupportedLinkType(lt) => write!(f, "unsupported link type {lt}"),
            Malformed::MplsTooDeep => f.write_str("MPLS label stack too deep"),
            Malformed::IpVersion(v) => write!(f, "IP version {v}"),
            Malformed::Ipv4Version(v) => write!(f, "IPv4 header with version {v}"),
            Malformed::Ipv4ShortHeader => f.write_str("IPv4 header length below 20"),
            Malformed::Ipv6Version(v) => write!(f, "IPv6 header with version {v}"),
            Malformed::Ipv6ChainTooLong => f.write_str("IPv6 extension header chain too long"),
            Malformed::TruncatedTunnel => f.write_str("truncated tunnelled IP header"),
            Malformed::TruncatedTcp => f.write_str("truncated TCP header"),
        }
    }
}

/// Zeek's TCPAnalyzer::ExtractTCP_Header test: the header length is at least 20 and runs past
/// neither the IP payload nor the captured bytes.
pub(super) fn header_ok(seg: &Segment, data: &[u8]) -> bool {
    let off = seg.tcp_off as usize;
    let Some(&byte) = data.get(off + 12) else {
        return false;
    };
    let hdr = i64::from(byte >> 4) * 4;
    let room = i64::from(seg.ip_len) - (i64::from(seg.tcp_off) - i64::from(seg.ip_off));
    20 <= hdr && hdr <= room && off + hdr as usize <= data.len()
}

/// The big-endian integer of `bytes` modulo 0xFFFF: the ones' complement sum of its 16-bit
/// words, as Python's `int.from_bytes(b, "big") % 0xFFFF` (2^16 = 1 modulo 0xFFFF). An odd
/// length leaves the first byte as a word of its own, exactly as that integer does.
fn be_mod_ffff(bytes: &[u8]) -> i64 {
    let (head, words) = match bytes.split_first() {
        Some((&first, rest)) if bytes.len() % 2 == 1 => (u64::from(first), rest),
        _ => (0, bytes),
    };
    // 2^32 = 1 modulo 0xFFFF too: eight bytes at a time, as two 32-bit halves.
    let mut chunks = words.chunks_exact(8);
    let mut sum = head;
    for chunk in &mut chunks {
        let x = u64::from_be_bytes(chunk.try_into().unwrap_or_default());
        sum += (x >> 32) + (x & 0xffff_ffff);
    }
    for w in chunks.remainder().chunks_exact(2) {
        sum += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    (sum % 0xffff) as i64
}

/// Whether an IPv4 header checksum verifies (always true for IPv6, which has none). As Python,
/// a header summing to 0 (all zeros) verifies too.
pub(super) fn ip_checksum_ok(seg: &Segment, data: &[u8]) -> bool {
    if seg.ip_version != 4 {
        return true;
    }
    let off = seg.ip_off as usize;
    let Some(&ver_ihl) = data.get(off) else {
        return true;
    };
    let end = data.len().min(off + usize::from(ver_ihl & 0x0f) * 4);
    be_mod_ffff(data.get(off..end).unwrap_or_default()) == 0
}

/// Whether the TCP checksum verifies; true when the segment was not captured whole (Zeek
/// validates only when `caplen >= len`).
pub(super) fn tcp_checksum_ok(seg: &Segment, data: &[u8]) -> bool {
    if seg.truncated {
        return true;
    }
    let tcp_len = i64::from(seg.ip_len) - (i64::from(seg.tcp_off) - i64::from(seg.ip_off));
    let start = seg.tcp_off as usize;
    // Python's slice `frame[tcp_off : tcp_off + tcp_len]`: empty when tcp_len <= 0.
    let body = if tcp_len > 0 {
        let end = data.len().min(start.saturating_add(tcp_len as usize));
        data.get(start..end).unwrap_or_default()
    } else {
        &[]
    };
    if (body.len() as i64) < tcp_len {
        return true;
    }
    let mut total = be_mod_ffff(body);
    if tcp_len & 1 != 0 {
        total = total * 256 % 0xffff; // the last byte is the high half of a word
    }
    total += be_mod_ffff(seg.src.as_slice()) + be_mod_ffff(seg.dst.as_slice()) + 6 + tcp_len;
    total.rem_euclid(0xffff) == 0
}

#[cfg(test)]
mod tests {
    use super::be_mod_ffff;

    #[test]
    fn big_endian_integer_modulo_ffff() {
        // int.from_bytes(b, "big") % 0xFFFF, computed in Python.
        assert_eq!(be_mod_ffff(&[]), 0);
        assert_eq!(be_mod_ffff(&[0xff, 0xff]), 0);
        assert_eq!(be_mod_ffff(&[1, 2, 3]), 0x0001 + 0x0203);
        assert_eq!(be_mod_ffff(&[0xff, 0xfe, 0x00, 0x03]), 2);
        // Python: int.from_bytes(bytes(range(1, 24)), "big") % 0xFFFF == 33936
        let bytes: Vec<u8> = (1..24).collect();
        assert_eq!(be_mod_ffff(&bytes), 33936);
        assert_eq!(be_mod_ffff(&bytes[1..]), 33936 - 1);
    }
}
