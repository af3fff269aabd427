//! The captured interface goes away: the run ends with ring.py's one line, not a spin.
//!
//! Runs this test binary again in a private network namespace (`unshare -n -m`, root only) where
//! it makes a veth pair, captures on it and deletes it; nothing is sent anywhere.

use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::thread;
use std::time::{Duration, Instant};

use _engine::live::{LiveCapture, LiveConfig};

const CHILD: &str = "TCPWATCH_NETNS_CHILD";
const TEST: &str = "interface_going_away_ends_the_run_in_one_line";

fn ip(args: &[&str]) {
    let ok = Command::new("ip")
        .args(args)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ip {args:?}");
}

#[test]
fn interface_going_away_ends_the_run_in_one_line() {
    if std::env::var(CHILD).is_ok() {
        ip(&[
            "link", "add", "twl0", "type", "veth", "peer", "name", "twl1",
        ]);
        ip(&["link", "set", "twl0", "up"]);
        ip(&["link", "set", "twl1", "up"]);
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
    let me = std::env::current_exe().expect("test binary");
    // A new sysfs too, as `ip netns exec` mounts, so /sys/class/net shows this namespace.
    let script = r#"mount -t sysfs sysfs /sys && exec "$0" --exact "$1" --nocapture"#;
    let status = Command::new("unshare")
        .args(["-n", "-m", "sh", "-c", script])
        .arg(me)
        .arg(TEST)
        .env(CHILD, "1")
        .output();
    match status {
        Ok(out) if out.status.success() => {}
        Ok(out) if String::from_utf8_lossy(&out.stderr).contains("unshare failed") => {
            eprintln!("SKIPPED {TEST}: cannot make a network namespace (needs root)");
        }
        Ok(out) => panic!(
            "child failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => eprintln!("SKIPPED {TEST}: no unshare(1): {e}"),
    }
}
