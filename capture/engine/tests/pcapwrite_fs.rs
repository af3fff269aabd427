//! The pcap writer on real file systems that fill up: the file is cut back to its last whole
//! record and the error returned (pcapio.py `PcapWriter`'s guarantee, which `-w` relies on
//! for a full disk).

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use _engine::live::{LiveCapture, LiveConfig};
use _engine::pcapwrite::PcapWriter;
use common::*;

/// Record count of a classic pcap, or None when it does not end on a record boundary.
fn whole_records(path: &Path) -> Option<usize> {
    let data = std::fs::read(path).ok()?;
    let (mut pos, mut n) = (24, 0);
    while pos < data.len() {
        let head = data.get(pos..pos + 16)?;
        pos += 16 + u32::from_le_bytes(head[8..12].try_into().ok()?) as usize;
        n += 1;
    }
    (pos == data.len()).then_some(n)
}

/// Write records of `size` bytes until the writer fails; returns the error's errno.
fn fill(path: &Path, size: usize) -> i32 {
    let mut w = PcapWriter::create(path, 1, 262_144).expect("create");
    for n in 0..100_000u32 {
        if let Err(e) = w.write(f64::from(n), &vec![n as u8; size], size as u32) {
            return e.raw_os_error().unwrap_or(0);
        }
    }
    w.flush().err().and_then(|e| e.raw_os_error()).unwrap_or(0)
}

const CHILD: &str = "TCPWATCH_FSIZE_CHILD";

#[test]
fn file_size_limit_leaves_whole_records() {
    if let Ok(path) = std::env::var(CHILD) {
        // In the child only: the limit and the ignored SIGXFSZ apply to this process alone.
        // SAFETY: plain system calls with valid arguments; no other thread writes files here.
        unsafe {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: 100_000,
                rlim_max: 100_000,
            };
            assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
        }
        assert_eq!(fill(Path::new(&path), 999), libc::EFBIG);
        return;
    }
    let dir = TempDir::new("fsize");
    let path = dir.0.join("x.pcap");
    let me = std::env::current_exe().expect("test binary");
    let out = Command::new(me)
        .args(["--exact", "file_size_limit_leaves_whole_records"])
        .env(CHILD, &path)
        .output()
        .expect("run the child");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("test result: ok. 1 passed"),
        "{text}"
    );
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size <= 100_000 && size > 90_000, "{size}");
    assert_eq!(
        whole_records(&path),
        Some(((size - 24) / (16 + 999)) as usize)
    );
    assert_eq!((size - 24) % (16 + 999), 0);
    if let Some(n) = tcpdump_count(&path) {
        assert_eq!(n, whole_records(&path).unwrap());
    }
}

/// A 64 KiB tmpfs mounted on a fresh directory (root only), unmounted when dropped.
fn tiny_tmpfs(tag: &str) -> Option<TempDir> {
    let dir = TempDir::new(tag);
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&dir.0)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED {tag}: cannot mount a tmpfs (needs root)");
        return None;
    }
    Some(dir)
}

#[test]
fn full_tmpfs_leaves_whole_records() {
    let Some(dir) = tiny_tmpfs("tmpfs-writer") else {
        return;
    };
    let path = dir.0.join("x.pcap");
    assert_eq!(fill(&path, 1234), libc::ENOSPC);
    let records = whole_records(&path).expect("whole records");
    assert!(records > 10);
    if let Some(n) = tcpdump_count(&path) {
        assert_eq!(n, records);
    }
}

#[test]
fn live_write_on_a_full_disk_ends_in_one_line_and_a_valid_file() {
    if !privileged("live_write_on_a_full_disk_ends_in_one_line_and_a_valid_file") {
        return;
    }
    let Some(dir) = tiny_tmpfs("tmpfs-live") else {
        return;
    };
    let path = dir.0.join("x.pcap");
    let echo = Echo::start("127.0.0.1");
    let mut cfg = LiveConfig::new("lo");
    cfg.filter = Some(format!("port {}", echo.port()));
    cfg.write_path = Some(path.clone());
    let mut cap = LiveCapture::open(cfg).expect("open lo");
    let stop = AtomicBool::new(false);
    let result = thread::scope(|s| {
        let runner = s.spawn(|| cap.run(&stop, &mut |_, _, _, _| {}));
        exchange(echo.addr, &vec![9u8; 300_000]);
        thread::sleep(Duration::from_millis(800)); // past a flush (every 0.5 s)
        stop.store(true, Ordering::Relaxed);
        runner.join().expect("capture thread")
    });
    let want = format!("cannot write {}: No space left on device", path.display());
    assert_eq!(result.map_err(|e| e.0), Err(want));
    let records = whole_records(&path).expect("whole records");
    if let Some(n) = tcpdump_count(&path) {
        assert_eq!(n, records);
    }
    assert_eq!(
        cap.stats().bytes_written,
        std::fs::metadata(&path).unwrap().len()
    );
}
