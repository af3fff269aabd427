//! Live capture on an Ethernet interface (a veth pair) in a private network namespace: VLAN
//! tags the kernel strips are put back (one tag or two), and the interface going away ends the run in one line.
//!
//! Each test runs this test binary again in a new network namespace (`unshare -n -m`, root
//! only), where frames cross only the veth pair made there.

use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::thread;
use std::time::{Duration, Instant};

use _engine::live::{LiveCapture, LiveConfig};

const CHILD: &str = "TCPWATCH_NETNS_CHILD";

fn ip(args: &[&str]) {
    let ok = Command::new("ip")
        .args(args)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ip {args:?}");
}

fn veth_pair() {
    ip(&[
        "link", "add", "twl0", "type", "veth", "peer", "name", "twl1",
    ]);
    ip(&["link", "set", "twl0", "up"]);
    ip(&["link", "set", "twl1", "up"]);
}

fn mac(dev: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(format!("/sys/class/net/{dev}/address")).expect("mac");
    text.trim()
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).expect("hex"))
        .collect()
}

/// An Ethernet frame with `tags` ((TPID, VLAN id), outer first) holding an IPv4 TCP SYN
/// 203.0.113.2:40000 -> .1:7000 (documentation addresses, inside the namespace only).
fn tagged_syn(tags: &[(u16, u16)]) -> Vec<u8> {
    let mut f = mac("twl0");
    f.extend(mac("twl1"));
    for (tpid, vid) in tags {
        f.extend(tpid.to_be_bytes());
        f.extend(vid.to_be_bytes());
    }
    f.extend([0x08, 0x00]);
    f.extend([
        0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0, 203, 0, 113, 2, 203, 0, 113, 1,
    ]);
    f.extend([
        0x9c, 0x40, 0x1b, 0x58, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 0x50, 0x02,
    ]);
    f.extend([0xff, 0xff, 0, 0, 0, 0]);
    f
}

#[test]
fn vlan_tags_are_put_back_and_pass_the_default_filter() {
    if std::env::var(CHILD).as_deref() == Ok("vlan") {
        veth_pair();
        let mut cfg = LiveConfig::new("twl0");
        cfg.duration = Some(1.0);
        let mut cap = LiveCapture::open(cfg).expect("open twl0");
        // one tag, and two (802.1ad QinQ: an S-tag outside a C-tag)
        let frames = [
            tagged_syn(&[(0x8100, 100)]),
            tagged_syn(&[(0x88a8, 200), (0x8100, 100)]),
        ];
        let hex: Vec<String> = frames
            .iter()
            .map(|f| f.iter().map(|b| format!("{b:02x}")).collect())
            .collect();
        let send = "import socket, sys\n\
                    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n\
                    s.bind(('twl1', 0))\n\
                    for f in sys.argv[1:]: s.send(bytes.fromhex(f))";
        let sender = thread::spawn(move || {
            thread::sleep(Duration::from_millis(200));
            let ok = Command::new("python3")
                .args(["-c", send])
                .args(&hex)
                .status();
            assert!(ok.is_ok_and(|s| s.success()), "python3 sends the frames");
        });
        let mut got = vec![];
        let result = cap.run(&AtomicBool::new(false), &mut |_, wire, data, lt| {
            got.push((wire, data.to_vec(), lt));
        });
        sender.join().expect("sender");
        assert_eq!(result, Ok(()));
        let sent: Vec<_> = frames.map(|f| (f.len() as u32, f, 1)).into();
        assert_eq!(got, sent);
        return;
    }
    in_netns("vlan_tags_are_put_back_and_pass_the_default_filter", "vlan");
}

#[test]
fn interface_going_away_ends_the_run_in_one_line() {
    if std::env::var(CHILD).as_deref() == Ok("loss") {
        veth_pair();
        let mut cap = LiveCapture::open(LiveConfig::new("twl0")).expect("open twl0");
        let deleter = thread::spawn(|| {
            thread::sleep(Duration::from_millis(300));
            ip(&["link", "del", "twl0"]);
            Instant::now()
        });
        let result = cap.run(&AtomicBool::new(false), &mut |_, _, _, _| {});
        let ended = Instant::now();
        let deleted = deleter.join().expect("deleter");
        assert!(ended.duration_since(deleted) < Duration::from_secs(2));
        let err = result.expect_err("an error").0;
        assert_eq!(err, "live capture on twl0 stopped: Network is down");
        return;
    }
    in_netns("interface_going_away_ends_the_run_in_one_line", "loss");
}

/// Run `test` of this binary in a new network namespace with `mode` for its child part.
fn in_netns(test: &str, mode: &str) {
    let me = std::env::current_exe().expect("test binary");
    // A new sysfs too, as `ip netns exec` mounts, so /sys/class/net shows this namespace.
    let script = r#"mount -t sysfs sysfs /sys && exec "$0" --exact "$1" --nocapture"#;
    let status = Command::new("unshare")
        .args(["-n", "-m", "sh", "-c", script])
        .arg(me)
        .arg(test)
        .env(CHILD, mode)
        .output();
    match status {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains("test result: ok. 1 passed"),
                "the child ran it: {text}"
            );
        }
        Ok(out) if String::from_utf8_lossy(&out.stderr).contains("unshare failed") => {
            eprintln!("SKIPPED {test}: cannot make a network namespace (needs root)");
        }
        Ok(out) => panic!(
            "child failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => eprintln!("SKIPPED {test}: no unshare(1): {e}"),
    }
}
