//! The privilege check: without root or CAP_NET_RAW the error says how to get the right; with
//! CAP_NET_RAW alone (what setcap grants) the capture opens. Each case runs this test binary
//! again as `nobody` through setpriv(1), so it needs root to start (it skips otherwise).

mod common;

use std::process::Command;

use _engine::live::{LiveCapture, LiveConfig};

const CHILD: &str = "TCPWATCH_PRIVS_CHILD";

/// Run the named test of this binary as nobody with `caps` (setpriv arguments); its exit status.
fn as_nobody(test: &str, caps: &[&str], mode: &str) -> bool {
    let me = std::env::current_exe().expect("test binary");
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .args(caps)
        .arg(me)
        .args(["--exact", test, "--nocapture"])
        .env(CHILD, mode)
        .output()
        .is_ok_and(|out| {
            let text = String::from_utf8_lossy(&out.stdout);
            out.status.success() && text.contains("test result: ok. 1 passed")
        })
}

fn parent_can_run_children(test: &str) -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    let setpriv = Command::new("setpriv").arg("--version").output().is_ok();
    if !(root && setpriv) {
        eprintln!("SKIPPED {test}: needs root and setpriv(1) to become nobody");
    }
    root && setpriv
}

#[test]
fn unprivileged_user_is_told_how_to_capture() {
    if std::env::var(CHILD).as_deref() == Ok("none") {
        let err = LiveCapture::open(LiveConfig::new("lo"))
            .err()
            .expect("refused")
            .0;
        assert!(err.contains("sudo"), "{err}");
        assert!(
            err.contains("setcap cap_net_raw,cap_net_admin+eip /"),
            "{err}"
        );
        assert!(err.contains("-r FILE") && !err.contains('\n'), "{err}");
        eprintln!("child saw: {err}");
        return;
    }
    let test = "unprivileged_user_is_told_how_to_capture";
    if parent_can_run_children(test) {
        assert!(as_nobody(test, &["--inh-caps=-all"], "none"));
    }
}

#[test]
fn cap_net_raw_alone_is_enough_to_capture() {
    if std::env::var(CHILD).as_deref() == Ok("net_raw") {
        let cap = LiveCapture::open(LiveConfig::new("lo")).expect("opens with CAP_NET_RAW");
        assert_eq!(cap.linktype(), 1);
        return;
    }
    let test = "cap_net_raw_alone_is_enough_to_capture";
    if parent_can_run_children(test) {
        let caps = ["--inh-caps=+net_raw", "--ambient-caps=+net_raw"];
        assert!(as_nobody(test, &caps, "net_raw"));
    }
}
