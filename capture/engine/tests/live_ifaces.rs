//! `-D`: the engine's interface lines equal ifaces.py's (psutil) on this machine.
//!
//! The reference Python is `$TCPWATCH_REF_PYTHON` (default /work/refvenv/bin/python) with the
//! repository on PYTHONPATH; without it the comparison is skipped with a message.

use std::path::Path;
use std::process::Command;

use _engine::live::{default_interface, interface_lines, interface_names, resolve_interface};

fn python_says(code: &str) -> Option<String> {
    let python = std::env::var("TCPWATCH_REF_PYTHON")
        .unwrap_or_else(|_| "/work/refvenv/bin/python".to_string());
    if !Path::new(&python).exists() {
        eprintln!("SKIPPED: no reference Python at {python}");
        return None;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(python)
        .args(["-c", code])
        .env("PYTHONPATH", repo)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn dash_d_lines_equal_ifaces_py() {
    let code = "from capture.live import ifaces; print('\\n'.join(ifaces.list_interfaces()))";
    let Some(want) = python_says(code) else {
        return;
    };
    assert_eq!(interface_lines().join("\n") + "\n", want);
}

#[test]
fn default_interface_equals_ifaces_py() {
    let code = "from capture.live import ifaces; print(ifaces.default_interface())";
    let Some(want) = python_says(code) else {
        return;
    };
    assert_eq!(default_interface() + "\n", want);
}

#[test]
fn names_and_any_resolve() {
    assert!(interface_names().contains(&"lo".to_string()));
    assert_eq!(resolve_interface(Some("any")).as_deref(), Ok("any"));
    assert_eq!(resolve_interface(Some("lo")).as_deref(), Ok("lo"));
    let err = resolve_interface(Some("bad\x01name")).unwrap_err();
    assert!(
        err.starts_with("no such interface 'bad?name'; available: "),
        "{err}"
    );
}
