//! Helpers shared by the integration tests: flows from the bundled captures (`flows`), and for
//! the live tests real loopback traffic and reading frames back.

#![allow(dead_code)]

pub mod flows;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::thread;

use _engine::live::can_capture;

/// True when this process may capture; otherwise says why the test is skipped.
pub fn privileged(test: &str) -> bool {
    if can_capture() {
        return true;
    }
    eprintln!("SKIPPED {test}: live capture needs root or CAP_NET_RAW");
    false
}

/// An echo server on `host` (port chosen by the kernel), serving in a thread until dropped.
pub struct Echo {
    pub addr: SocketAddr,
}

impl Echo {
    pub fn start(host: &str) -> Echo {
        let listener = TcpListener::bind((host, 0)).expect("bind on loopback");
        let addr = listener.local_addr().expect("local address");
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { break };
                thread::spawn(move || {
                    let mut buf = vec![0u8; 1 << 16];
                    while let Ok(n) = conn.read(&mut buf) {
                        if n == 0 || conn.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Echo { addr }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

/// One connection: connect, send `payload` while reading it back, close (FIN each way).
pub fn exchange(addr: SocketAddr, payload: &[u8]) {
    let mut conn = TcpStream::connect(addr).expect("connect on loopback");
    let mut reader = conn.try_clone().expect("clone");
    let back = thread::spawn(move || {
        let mut back = vec![];
        reader.read_to_end(&mut back).map(|_| back.len())
    });
    conn.write_all(payload).expect("send");
    conn.shutdown(Shutdown::Write).expect("shutdown");
    assert_eq!(
        back.join().expect("reader").expect("read back"),
        payload.len()
    );
}

/// TCP flags bits.
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const ACK: u8 = 0x10;

/// (source port, destination port, flags) of a TCP frame, Ethernet (1) or Linux cooked (113).
pub fn tcp_of(data: &[u8], linktype: i32) -> Option<(u16, u16, u8)> {
    let (ethertype, l3) = match linktype {
        1 => (u16::from_be_bytes([*data.get(12)?, *data.get(13)?]), 14),
        113 => (u16::from_be_bytes([*data.get(14)?, *data.get(15)?]), 16),
        _ => return None,
    };
    let l4 = match ethertype {
        0x0800 => l3 + usize::from(data.get(l3)? & 0x0f) * 4,
        0x86dd => l3 + 40,
        _ => return None,
    };
    let tcp = data.get(l4..l4 + 14)?;
    let sport = u16::from_be_bytes([tcp[0], tcp[1]]);
    let dport = u16::from_be_bytes([tcp[2], tcp[3]]);
    Some((sport, dport, tcp[13]))
}

/// The lines `tcpdump -nr FILE` prints (one per packet), or None without tcpdump.
pub fn tcpdump_lines(path: &std::path::Path) -> Option<Vec<String>> {
    let out = Command::new("tcpdump").arg("-nr").arg(path).output().ok()?;
    assert!(
        out.status.success(),
        "tcpdump -r failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    Some(text.lines().map(str::to_string).collect())
}

/// A temporary directory removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("tcpwatch-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).output();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The number of packets `tcpdump --count -r FILE` reads (it reads every record, whatever
/// the bytes), or None without tcpdump.
pub fn tcpdump_count(path: &std::path::Path) -> Option<usize> {
    let out = Command::new("tcpdump")
        .arg("--count")
        .arg("-r")
        .arg(path)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace().next()?.parse().ok()
}

/// The frames of a little-endian classic pcap (what tcpdump and our writer write here).
pub fn pcap_frames(path: &std::path::Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap_or_default();
    let mut out = vec![];
    let mut pos = 24;
    while let Some(head) = data.get(pos..pos + 16) {
        let caplen = u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize;
        let Some(frame) = data.get(pos + 16..pos + 16 + caplen) else {
            break;
        };
        out.push(frame.to_vec());
        pos += 16 + caplen;
    }
    out
}

/// tcpdump writing `iface`'s frames matching `expr` to `path` (packet-buffered), until
/// stopped or dropped.
pub struct Tcpdump(std::process::Child);

impl Tcpdump {
    /// Started and listening, or None without tcpdump. On `any`, Linux cooked v1 headers (113)
    /// as ours: tcpdump 4.99 would pick v2.
    pub fn start(iface: &str, expr: &str, path: &std::path::Path) -> Option<Tcpdump> {
        use std::io::BufRead;
        use std::process::Stdio;
        let mut cmd = Command::new("tcpdump");
        cmd.args(["-i", iface, "-U", "--immediate-mode", "-B", "65536", "-w"]);
        if iface == "any" {
            cmd.args(["-y", "LINUX_SLL"]);
        }
        let child = cmd
            .arg(path)
            .arg(expr)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .ok()?;
        let mut dump = Tcpdump(child);
        let mut err = std::io::BufReader::new(dump.0.stderr.take()?);
        let mut line = String::new();
        // "listening on lo, ..." once the filter is set
        while !line.contains("listening on") {
            line.clear();
            if err.read_line(&mut line).ok()? == 0 {
                return None;
            }
        }
        thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
        Some(dump)
    }

    /// SIGINT (tcpdump's own way out, after which it writes what it holds), then SIGKILL if it
    /// has not exited within 5 s.
    pub fn stop(mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        for _ in 0..50 {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for Tcpdump {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}
