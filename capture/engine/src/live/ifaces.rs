//! Network interfaces: listing (`-D`), the default choice, validation and hardware types.
//!
//! Port of `capture/ifaces.py`. Names and flags come from sysfs (no privilege, no `unsafe`);
//! addresses from libpcap's `pcap_findalldevs`, which walks `getifaddrs` as psutil does.

use std::fs;

use super::pyrepr::py_repr;

/// The pseudo-interface that captures on every interface, with cooked (SLL) headers.
pub const ANY: &str = "any";
/// `ARPHRD_ETHER`: Ethernet framing (veth, real NICs).
pub const ARPHRD_ETHER: i32 = 1;
/// `ARPHRD_LOOPBACK`: `lo`, Ethernet framing with zero addresses.
pub const ARPHRD_LOOPBACK: i32 = 772;
const IFF_UP: u32 = 0x1;

/// One row of `-D`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// The interface name (`any` for the pseudo-interface, listed last).
    pub name: String,
    /// Administratively up (IFF_UP), as psutil's `isup`.
    pub up: bool,
    /// A loopback device (ARPHRD_LOOPBACK).
    pub loopback: bool,
    /// IPv4 and IPv6 addresses, without IPv6 scope suffixes.
    pub addresses: Vec<String>,
    /// True for the `any` pseudo-interface.
    pub any: bool,
}

impl InterfaceInfo {
    /// The line `-D` prints for this interface, numbered `n` (1-based), as ifaces.py does.
    pub fn line(&self, n: usize) -> String {
        if self.any {
            return format!("{n}. {ANY} [up] (every interface, cooked headers)");
        }
        let mut words = vec![if self.up { "up" } else { "down" }];
        if self.loopback {
            words.push("loopback");
        }
        let text = format!("{n}. {} [{}]", self.name, words.join(", "));
        if self.addresses.is_empty() {
            text
        } else {
            format!("{text} {}", self.addresses.join(" "))
        }
    }
}

/// The kernel's interfaces, in index order (as `socket.if_nameindex()` sorted).
///
/// Asked of the kernel rather than read from sysfs, which shows the namespace it was mounted
/// in (`unshare -n` without a new sysfs mount).
pub fn interface_names() -> Vec<String> {
    let mut named: Vec<(u32, String)> = vec![];
    // SAFETY: if_nameindex returns NULL or an array ended by a zero entry, whose names are
    // valid C strings until if_freenameindex, which is called once, after the copies.
    unsafe {
        let list = libc::if_nameindex();
        if list.is_null() {
            return vec![];
        }
        let mut entry = list;
        while (*entry).if_index != 0 && !(*entry).if_name.is_null() {
            let name = std::ffi::CStr::from_ptr((*entry).if_name);
            named.push(((*entry).if_index, name.to_string_lossy().into_owned()));
            entry = entry.add(1);
        }
        libc::if_freenameindex(list);
    }
    named.sort();
    named.into_iter().map(|(_, name)| name).collect()
}

/// The interfaces as `-D` shows them: every kernel interface in index order, then `any`.
pub fn list_interfaces() -> Vec<InterfaceInfo> {
    let devices = pcap::Device::list().unwrap_or_default();
    let mut out: Vec<InterfaceInfo> = interface_names()
        .into_iter()
        .map(|name| {
            let flags = read_trimmed(&format!("/sys/class/net/{name}/flags"))
                .and_then(|f| u32::from_str_radix(f.trim_start_matches("0x"), 16).ok())
                .unwrap_or(0);
            let addresses = devices
                .iter()
                .filter(|d| d.name == name)
                .flat_map(|d| d.addresses.iter().map(|a| a.addr.to_string()))
                .collect();
            InterfaceInfo {
                up: flags & IFF_UP != 0,
                loopback: hardware_type(&name) == ARPHRD_LOOPBACK,
                addresses,
                any: false,
                name,
            }
        })
        .collect();
    out.push(InterfaceInfo {
        name: ANY.to_string(),
        up: true,
        loopback: false,
        addresses: vec![],
        any: true,
    });
    out
}

/// The `-D` lines, numbered from 1.
pub fn interface_lines() -> Vec<String> {
    let all = list_interfaces();
    all.iter().enumerate().map(|(i, f)| f.line(i + 1)).collect()
}

/// The interface of the default route, else the first up non-loopback one, else `lo`.
pub fn default_interface() -> String {
    if let Some(name) = default_route_iface() {
        return name;
    }
    for info in list_interfaces() {
        if !info.any && info.up && !info.loopback {
            return info.name;
        }
    }
    "lo".to_string()
}

fn default_route_iface() -> Option<String> {
    // /proc/net/route: Iface Destination Gateway Flags ...; a default route has destination 0.
    let route = fs::read_to_string("/proc/net/route").ok()?;
    for line in route.lines().skip(1) {
        let row: Vec<&str> = line.split_whitespace().collect();
        if row.len() > 7 && row[1] == "00000000" && row[7] == "00000000" {
            return Some(row[0].to_string());
        }
    }
    let route6 = fs::read_to_string("/proc/net/ipv6_route").ok()?;
    let zero = "0".repeat(32);
    for line in route6.lines() {
        let row: Vec<&str> = line.split_whitespace().collect();
        if row.len() == 10 && row[0] == zero && row[1] == "00" && row[9] != "lo" {
            return Some(row[9].to_string());
        }
    }
    None
}

/// The interface to capture on: `name` if it exists (or is `any`), else (None) the default.
///
/// The error, one line, lists the real interfaces (ifaces.py `InterfaceError`).
pub fn resolve_interface(name: Option<&str>) -> Result<String, String> {
    let Some(name) = name else {
        return Ok(default_interface());
    };
    let names = interface_names();
    if name == ANY || names.iter().any(|n| n == name) {
        return Ok(name.to_string());
    }
    let shown: String = name
        .chars()
        .map(|c| if is_printable(c) { c } else { '?' })
        .collect();
    let mut all = names;
    all.push(ANY.to_string());
    Err(format!(
        "no such interface {}; available: {} (tcpwatch -D lists them with addresses)",
        py_repr(&shown),
        all.join(", ")
    ))
}

/// Python's `str.isprintable` for the characters an interface name can hold: control
/// characters, separators other than the space, and unassigned/format characters are not.
fn is_printable(c: char) -> bool {
    !(c.is_control() || (c.is_whitespace() && c != ' ') || ('\u{80}'..'\u{a0}').contains(&c))
}

/// The ARPHRD_* type of an interface (from sysfs); -1 when unknown.
pub fn hardware_type(name: &str) -> i32 {
    if name.contains('/') || name.starts_with('.') {
        return -1;
    }
    read_trimmed(&format!("/sys/class/net/{name}/type"))
        .and_then(|t| t.parse().ok())
        .unwrap_or(-1)
}

fn read_trimmed(path: &str) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}
