//! Addresses and networks read as Python 3.11's `ipaddress` reads them (`ip_address`,
//! `ip_network` with strict=True): the same texts accepted, the same two messages
//! (`... has host bits set`, `... does not appear to be an IPv4 or IPv6 network`) on a network
//! that is refused. Scope ids (`%eth0`) are left out: the filter's tokens cannot hold `%`.

use crate::segment::Addr;

/// `_BaseV4._parse_octet`: 1-3 ASCII digits, no leading zero, at most 255.
fn parse_octet(s: &str) -> Option<u32> {
    let ok = !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit())
        && s.len() <= 3
        && (s == "0" || !s.starts_with('0'));
    let v: u32 = if ok { s.parse().ok()? } else { return None };
    (v <= 255).then_some(v)
}

/// `_BaseV4._ip_int_from_string`: four dotted octets.
fn v4_int(s: &str) -> Option<u32> {
    let octets: Vec<&str> = s.split('.').collect();
    if octets.len() != 4 {
        return None;
    }
    octets
        .iter()
        .try_fold(0u32, |acc, o| Some(acc << 8 | parse_octet(o)?))
}

/// `IPv4Address(str)`.
pub(super) fn v4(s: &str) -> Option<u32> {
    if s.contains('/') {
        return None;
    }
    v4_int(s)
}

/// `_BaseV6._parse_hextet`: 1-4 ASCII hex digits (`int('', 16)` refuses the empty one).
fn parse_hextet(s: &str) -> Option<u128> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(s, 16).ok()
}

/// `_BaseV6._ip_int_from_string`: hextets, one `::`, an optional dotted IPv4 tail.
fn v6_int(s: &str) -> Option<u128> {
    const HEXTETS: usize = 8;
    let mut parts: Vec<String> = s.split(':').map(str::to_owned).collect();
    if parts.len() < 3 {
        return None;
    }
    if parts.last().is_some_and(|p| p.contains('.')) {
        let tail = v4(&parts.pop()?)?;
        parts.push(format!("{:x}", tail >> 16));
        parts.push(format!("{:x}", tail & 0xFFFF));
    }
    if parts.len() > HEXTETS + 1 {
        return None;
    }
    let n = parts.len();
    let mut skip = None;
    for (i, part) in parts.iter().enumerate().take(n - 1).skip(1) {
        if part.is_empty() {
            if skip.is_some() {
                return None;
            }
            skip = Some(i);
        }
    }
    let (hi, lo, skipped) = match skip {
        Some(at) => {
            let (mut hi, mut lo) = (at, n - at - 1);
            if parts[0].is_empty() {
                hi -= 1;
                if hi != 0 {
                    return None;
                }
            }
            if parts[n - 1].is_empty() {
                lo -= 1;
                if lo != 0 {
                    return None;
                }
            }
            let skipped = HEXTETS.checked_sub(hi + lo).filter(|k| *k >= 1)?;
            (hi, lo, skipped)
        }
        None if n != HEXTETS || parts[0].is_empty() || parts[n - 1].is_empty() => return None,
        None => (n, 0, 0),
    };
    let mut ip: u128 = 0;
    for part in &parts[..hi] {
        ip = ip << 16 | parse_hextet(part)?;
    }
    ip = ip.checked_shl(16 * skipped as u32).unwrap_or(0);
    for part in &parts[n - lo..] {
        ip = ip << 16 | parse_hextet(part)?;
    }
    Some(ip)
}

/// `IPv6Address(str)` (without scope ids).
pub(super) fn v6(s: &str) -> Option<u128> {
    if s.is_empty() || s.contains('/') {
        return None;
    }
    v6_int(s)
}

/// `ip_address(text).packed`: IPv4 first, then IPv6.
pub(super) fn ip_address(s: &str) -> Option<Addr> {
    if let Some(ip) = v4(s) {
        return Some(Addr::new(&ip.to_be_bytes()));
    }
    v6(s).map(|ip| Addr::new(&ip.to_be_bytes()))
}

/// A network: its address's raw bytes and the prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Network {
    pub addr: Addr,
    pub prefix: u8,
}

/// `_prefix_from_prefix_string`: ASCII digits (leading zeros allowed), 0 to `max`.
fn prefix_number(s: &str, max: u8) -> Option<u8> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = s.trim_start_matches('0');
    if digits.len() > 3 {
        return None;
    }
    let v: u32 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    u8::try_from(v).ok().filter(|v| *v <= max)
}

/// `_prefix_from_ip_int` for IPv4: ones then zeros, or None.
fn mask_prefix(ip: u32) -> Option<u8> {
    let zeros = ip.trailing_zeros(); // 32 for 0, as `_count_righthand_zero_bits`
    let ones = 32 - zeros;
    let leading = u64::from(ip) >> zeros;
    (leading == (1u64 << ones) - 1).then_some(ones as u8)
}

/// `IPv4Network._make_netmask` on a string: a prefix length, a netmask or a hostmask.
fn v4_prefix(s: &str) -> Option<u8> {
    if let Some(p) = prefix_number(s, 32) {
        return Some(p);
    }
    let ip = v4_int(s)?;
    mask_prefix(ip).or_else(|| mask_prefix(!ip))
}

/// What `IPv4Network`/`IPv6Network` make of a text: refused (an address or netmask error, so
/// `ip_network` tries the other version), host bits set (ends `ip_network`), or a network.
enum Outcome {
    Refused,
    HostBits(String),
    Net(Network),
}

fn v4_network(addr: &str, mask: Option<&str>) -> Outcome {
    let Some(ip) = v4(addr) else {
        return Outcome::Refused;
    };
    let Some(prefix) = mask.map_or(Some(32), v4_prefix) else {
        return Outcome::Refused;
    };
    let netmask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    let addr = Addr::new(&ip.to_be_bytes());
    if ip & netmask != ip {
        return Outcome::HostBits(format!("{addr}/{prefix} has host bits set"));
    }
    Outcome::Net(Network { addr, prefix })
}

fn v6_network(addr: &str, mask: Option<&str>) -> Outcome {
    let Some(ip) = v6(addr) else {
        return Outcome::Refused;
    };
    let Some(prefix) = mask.map_or(Some(128), |m| prefix_number(m, 128)) else {
        return Outcome::Refused;
    };
    let netmask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    let addr = Addr::new(&ip.to_be_bytes());
    if ip & netmask != ip {
        return Outcome::HostBits(format!("{addr}/{prefix} has host bits set"));
    }
    Outcome::Net(Network { addr, prefix })
}

/// `ip_network(text)` (strict): the network, or the text of Python's `ValueError`.
pub(super) fn ip_network(s: &str) -> Result<Network, String> {
    let halves: Vec<&str> = s.split('/').collect();
    if halves.len() <= 2 {
        let mask = halves.get(1).copied();
        for build in [v4_network, v6_network] {
            match build(halves[0], mask) {
                Outcome::Refused => {}
                Outcome::HostBits(msg) => return Err(msg),
                Outcome::Net(net) => return Ok(net),
            }
        }
    }
    // `{address!r}`: a token holds no quote, backslash or unprintable character, so repr is
    // the text in single quotes.
    Err(format!(
        "'{s}' does not appear to be an IPv4 or IPv6 network"
    ))
}
