//! The privilege check before opening a packet socket, and the hint when it is missing.
//!
//! Port of `capture/privs.py` (`can_capture`, `privilege_hint`). Dropping root after the handle
//! is open stays with the caller, which owns the process.

use std::fs;

const CAP_NET_RAW: u32 = 13;

/// How to obtain the right to capture, in one line (privs.py `privilege_hint`). The program
/// named is the running executable: the Python interpreter when the engine is loaded by it.
pub fn privilege_hint() -> String {
    let interp = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "python3".to_string());
    format!(
        "live capture needs root or CAP_NET_RAW: run it with sudo, or grant the capability \
         with: sudo setcap cap_net_raw,cap_net_admin+eip {interp} \
         (reading a capture file with -r FILE needs no privilege)"
    )
}

/// Whether this process may open a packet socket (root, or CAP_NET_RAW in effect).
pub fn can_capture() -> bool {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|rest| rest.split_whitespace().collect::<Vec<_>>())
    };
    // Uid: real effective saved fs
    let euid_root = field("Uid:").is_some_and(|f| f.get(1) == Some(&"0"));
    let caps = field("CapEff:")
        .and_then(|f| f.first().and_then(|h| u64::from_str_radix(h, 16).ok()))
        .unwrap_or(0);
    euid_root || (caps >> CAP_NET_RAW) & 1 == 1
}
