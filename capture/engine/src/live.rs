//! Live capture through libpcap: the native sniffer loop behind `-i/-f/-B/-w/-c/--duration`.
//!
//! Port of `capture/live.py`'s `LiveSource` (validation, privilege check, `-w`, count and
//! duration, kernel drops, a prompt stop, one-line errors) over libpcap (the `pcap` crate)
//! instead of the hand-written ring of `capture/ring.py`. libpcap gives the same things the
//! ring did: a memory-mapped TPACKET_V3 ring sized by `-B`, the kernel filter, VLAN tags put
//! back, each loopback packet once, `any` with cooked (SLL, link type 113) headers, and kernel
//! drop counters.
//!
//! Usage: `LiveCapture::open` (the privileged step; the caller then drops root), optionally
//! `open_writer` (so that `-w` belongs to the dropped-to user), then `run` on the sniffer thread.

mod filter;
mod ifaces;
mod privs;
mod pyrepr;
mod sys;

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use filter::{capture_filter, COOKED_DEFAULT_FILTER, DEFAULT_FILTER};
pub use ifaces::{
    default_interface, hardware_type, interface_lines, interface_names, list_interfaces,
    resolve_interface, InterfaceInfo, ANY, ARPHRD_ETHER, ARPHRD_LOOPBACK,
};
pub use privs::{can_capture, privilege_hint};
pub use pyrepr::py_repr;

use crate::pcapwrite::PcapWriter;
use sys::io_text;

mod run;

/// The ring is the receive buffer (live.py `DEFAULT_BUFFER_KIB`): 32 MiB holds ~150,000 small
/// frames, seconds of scheduling stalls at loopback rates.
pub const DEFAULT_BUFFER_KIB: u32 = 32768;
/// libpcap's default snap length: whole 64 KiB loopback frames fit.
pub const DEFAULT_SNAPLEN: i32 = 262_144;
/// A partly filled ring block is handed over after this long (ring.py `RETIRE_MS`): the
/// latency of a quiet link, and how long a stop waits for frames already captured.
pub const RETIRE_MS: u64 = 50;
/// The longest the loop waits for frames, so a stop is seen promptly (within 0.2 s with the
/// final wait of two block retirements).
pub const POLL_TIMEOUT: Duration = Duration::from_millis(100);
/// Seconds between `-w` flushes, so the file is readable while the capture runs.
pub const FLUSH_EVERY: Duration = Duration::from_millis(500);
/// How often the kernel's drop counters are read into `LiveStats`.
pub const STATS_EVERY: Duration = Duration::from_millis(100);

/// Where `run` hands each frame: `(timestamp, length on the wire, captured bytes, link type)`.
pub type FrameSink<'a> = dyn FnMut(f64, u32, &[u8], i32) + 'a;

/// What to capture (the CLI's `-i -f -B -w -c --duration` and the snap length).
#[derive(Clone, Debug, PartialEq)]
pub struct LiveConfig {
    /// Interface name, `any`, or "" for the default interface (ifaces.py's choice).
    pub iface: String,
    /// The user's `-f` expression, ANDed with the TCP-only default.
    pub filter: Option<String>,
    /// Ring size in KiB (`-B`); at least 256 KiB is used.
    pub buffer_kib: u32,
    /// `-w FILE`: every captured frame, as a classic pcap.
    pub write_path: Option<PathBuf>,
    /// `-c N`: stop after N frames.
    pub count: Option<u64>,
    /// `--duration S`: stop after S seconds.
    pub duration: Option<f64>,
    /// Bytes kept of each frame.
    pub snaplen: i32,
}

impl LiveConfig {
    /// The defaults of the CLI for `iface`: no filter, 32 MiB ring, no `-w`, no limits.
    pub fn new(iface: &str) -> Self {
        LiveConfig {
            iface: iface.to_string(),
            filter: None,
            buffer_kib: DEFAULT_BUFFER_KIB,
            write_path: None,
            count: None,
            duration: None,
            snaplen: DEFAULT_SNAPLEN,
        }
    }
}

/// Live capture cannot start or failed: one line for the user (live.py `LiveError`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveError(pub String);

impl std::fmt::Display for LiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LiveError {}

/// Counters of a capture so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Frames handed to the sink.
    pub frames: u64,
    /// Frames the kernel dropped for want of ring space, plus the interface's own drops
    /// (`pcap_stats` `ps_drop + ps_ifdrop`), as of the last reading (every `STATS_EVERY`).
    pub kernel_drops: u64,
    /// Bytes of `-w` output that reached the file.
    pub bytes_written: u64,
}

/// The counters, shared with other threads while `run` holds the capture.
#[derive(Debug, Default)]
pub struct LiveCounters {
    frames: AtomicU64,
    kernel_drops: AtomicU64,
    bytes_written: AtomicU64,
}

impl LiveCounters {
    /// The current values.
    pub fn snapshot(&self) -> LiveStats {
        LiveStats {
            frames: self.frames.load(Ordering::Relaxed),
            kernel_drops: self.kernel_drops.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
        }
    }
}

/// Why `run` returned without an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The `stop` flag was set.
    Stopped,
    /// `count` frames were captured.
    Count,
    /// `duration` elapsed.
    Duration,
}

/// What `LiveCapture::check` found: the interface to capture, its ARPHRD type, the whole
/// kernel filter (the TCP-only default ANDed with the user's).
#[derive(Clone, Debug)]
pub struct Checked {
    pub iface: String,
    pub htype: i32,
    pub filter: String,
}

/// An open, filtered capture handle (and, once `open_writer` ran, its `-w` file).
pub struct LiveCapture {
    cap: Option<pcap::Capture<pcap::Active>>,
    cfg: LiveConfig,
    iface: String,
    /// The whole kernel filter: the TCP-only default ANDed with the user's.
    filter: String,
    linktype: i32,
    writer: Option<PcapWriter>,
    counters: Arc<LiveCounters>,
    ended: Option<End>,
}

impl LiveCapture {
    /// Validate `cfg` and open the handle: the only step that needs privilege.
    ///
    /// In live.py's order: the interface, the filter (a bad one is named before privilege is
    /// checked), the `-w` path, the privilege (with the hint), then libpcap's activation.
    pub fn open(cfg: LiveConfig) -> Result<LiveCapture, LiveError> {
        Self::open_with(cfg, false)
    }

    /// `open`, choosing libpcap's immediate mode, for measurement: immediate mode makes
    /// libpcap use TPACKET_V2, one fixed-size slot per frame (MTU-sized: 64 KiB on `lo`), so a
    /// 32 MiB ring holds ~500 loopback frames instead of ~150,000; see `examples/live_bench.rs`.
    pub fn open_with(cfg: LiveConfig, immediate: bool) -> Result<LiveCapture, LiveError> {
        let Checked {
            iface,
            htype,
            filter: expr,
        } = Self::check(&cfg)?;
        let user = cfg.filter.as_deref().filter(|f| !f.is_empty());
        let cap = activate(&iface, &cfg, immediate)?;
        let mut cap = cap
            .setnonblock()
            .map_err(|e| LiveError(format!("cannot capture on {iface}: {}", pcap_text(&e))))?;
        cap.filter(&expr, true)
            .map_err(|e| LiveError(filter::bad_filter(user.unwrap_or(&expr), &e)))?;
        if htype == ARPHRD_LOOPBACK && iface != ANY {
            // best effort: on older kernels libpcap still skips the outgoing copies itself
            sys::ignore_outgoing(cap.as_raw_fd());
        }
        let linktype = cap.get_datalink().0;
        Ok(LiveCapture {
            cap: Some(cap),
            cfg,
            iface,
            filter: expr,
            linktype,
            writer: None,
            counters: Arc::default(),
            ended: None,
        })
    }

    /// Everything `open` checks before it opens (the interface, the filters, the `-w` path, the
    /// privilege), without opening: what a caller can say before it starts anything.
    pub fn check(cfg: &LiveConfig) -> Result<Checked, LiveError> {
        let wanted = Some(cfg.iface.as_str()).filter(|n| !n.is_empty());
        let iface = resolve_interface(wanted).map_err(LiveError)?;
        let htype = hardware_type(&iface);
        let cooked = iface == ANY || (htype != ARPHRD_ETHER && htype != ARPHRD_LOOPBACK);
        let user = cfg.filter.as_deref().filter(|f| !f.is_empty());
        let filter = capture_filter(user, cooked);
        if let Some(user) = user {
            // alone first, so that an error names the user's expression
            filter::check(user, cooked).map_err(LiveError)?;
        }
        filter::check(&filter, cooked).map_err(LiveError)?;
        if let Some(path) = &cfg.write_path {
            check_writable(path)?;
        }
        if !can_capture() {
            return Err(LiveError(privilege_hint()));
        }
        Ok(Checked {
            iface,
            htype,
            filter,
        })
    }

    /// The link type of the frames (1 Ethernet, 113 Linux cooked on `any`, ...).
    pub fn linktype(&self) -> i32 {
        self.linktype
    }

    /// The kernel filter in force (the TCP-only default ANDed with the user's `-f`).
    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// What was asked for (`-B`, `-w`, `-c`, ...).
    pub fn config(&self) -> &LiveConfig {
        &self.cfg
    }

    /// The interface actually captured (the default one when the config named none).
    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// Create the `-w` file and write its header (a valid, empty capture from the start).
    ///
    /// Call it after dropping privileges so the file belongs to the user; `run` calls it if
    /// the caller did not. Does nothing without `-w` or when already open.
    pub fn open_writer(&mut self) -> Result<(), LiveError> {
        let Some(path) = self.cfg.write_path.clone() else {
            return Ok(());
        };
        if self.writer.is_some() {
            return Ok(());
        }
        // libpcap takes a snap length <= 0 as its default, and so does the file header here
        let snaplen = u32::try_from(self.cfg.snaplen)
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or(DEFAULT_SNAPLEN as u32);
        let mut writer = PcapWriter::create(&path, self.linktype, snaplen)
            .map_err(|e| LiveError(format!("{}: cannot write: {}", path.display(), io_text(&e))))?;
        writer.flush().map_err(|e| write_error(&path, &e))?;
        self.counters
            .bytes_written
            .store(writer.bytes_on_disk(), Ordering::Relaxed);
        self.writer = Some(writer);
        Ok(())
    }

    /// The counters so far (also readable from another thread through `counters`).
    pub fn stats(&self) -> LiveStats {
        self.counters.snapshot()
    }

    /// The counters, for another thread to read while `run` holds the capture.
    pub fn counters(&self) -> Arc<LiveCounters> {
        Arc::clone(&self.counters)
    }

    /// Why the last `run` ended (None before, or when it failed).
    pub fn ended(&self) -> Option<End> {
        self.ended
    }
}

fn activate(
    iface: &str,
    cfg: &LiveConfig,
    immediate: bool,
) -> Result<pcap::Capture<pcap::Active>, LiveError> {
    let fail = |e: pcap::Error| {
        let text = pcap_text(&e);
        if text.contains("Operation not permitted") || text.contains("ermission") {
            LiveError(privilege_hint())
        } else {
            LiveError(format!("cannot capture on {iface}: {text}"))
        }
    };
    let buffer = (cfg.buffer_kib.max(256) as usize).saturating_mul(1024);
    pcap::Capture::from_device(iface)
        .map_err(fail)?
        .promisc(false)
        .snaplen(cfg.snaplen)
        .buffer_size(i32::try_from(buffer).unwrap_or(i32::MAX))
        // In non-blocking mode this is only the ring's block retirement (TPACKET_V3).
        .timeout(RETIRE_MS as i32)
        .precision(pcap::Precision::Nano)
        .immediate_mode(immediate)
        .open()
        .map_err(fail)
}

/// libpcap's own words for an error, on one line.
fn pcap_text(err: &pcap::Error) -> String {
    let text = match err {
        pcap::Error::PcapError(text) => text.clone(),
        other => other.to_string(),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn write_error(path: &Path, err: &std::io::Error) -> LiveError {
    // the only file the loop writes: say which, and why (disk full, quota, EIO)
    LiveError(format!("cannot write {}: {}", path.display(), io_text(err)))
}

/// live.py `_check_writable`: fail before capturing rather than after.
fn check_writable(path: &Path) -> Result<(), LiveError> {
    let shown = path.display();
    let target = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let parent = target
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    if target.is_dir() {
        return Err(LiveError(format!(
            "cannot write {shown}: it is a directory"
        )));
    }
    let ok = if target.exists() {
        access(&target, libc::W_OK)
    } else {
        parent.is_dir() && access(&parent, libc::W_OK | libc::X_OK)
    };
    if ok {
        return Ok(());
    }
    let why = if parent.is_dir() {
        "permission denied"
    } else {
        "no such directory"
    };
    Err(LiveError(format!("cannot write {shown}: {why}")))
}

fn access(path: &Path, mode: libc::c_int) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    unsafe { libc::access(c.as_ptr(), mode) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_can_move_to_the_sniffer_thread() {
        fn sendable<T: Send>() {}
        sendable::<LiveCapture>();
        sendable::<Arc<LiveCounters>>();
        fn shared<T: Sync>() {}
        shared::<LiveCounters>();
    }

    #[test]
    fn unwritable_paths_are_named_in_one_line() {
        let err = check_writable(Path::new("/proc")).unwrap_err().0;
        assert_eq!(err, "cannot write /proc: it is a directory");
        let err = check_writable(Path::new("/no/such/dir/x.pcap"))
            .unwrap_err()
            .0;
        assert_eq!(err, "cannot write /no/such/dir/x.pcap: no such directory");
        assert!(check_writable(&std::env::temp_dir().join("x.pcap")).is_ok());
    }
}
