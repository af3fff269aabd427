//! `Printer` against Python's SegmentPrinter, segment by segment. The fixture is made by
//! `xcheck/print_fixture.py` (not committed), e.g. from the repository root:
//!   TZ=UTC PYTHONPATH=. python capture/engine/xcheck/print_fixture.py /tmp/tcpwatch-print.jsonl
//! then `TZ=UTC cargo test --test print_python` (the path may be set in TCPWATCH_PRINT_FIXTURE).
//! Relative and absolute lines are compared in local time when this process has the fixture's
//! TZ, and in UTC (`utc = true`) when the fixture was made with TZ=UTC. Without the fixture the
//! test says so and passes.

use _engine::print::Printer;
use _engine::segment::{Addr, Opts, Segment};
use _engine::tcpstate::{Side, TcpState, Transition};
use serde_json::Value;

const STATES: [TcpState; 12] = [
    TcpState::Unknown,
    TcpState::Listen,
    TcpState::SynSent,
    TcpState::SynReceived,
    TcpState::Established,
    TcpState::FinWait1,
    TcpState::FinWait2,
    TcpState::CloseWait,
    TcpState::Closing,
    TcpState::LastAck,
    TcpState::TimeWait,
    TcpState::Closed,
];

fn unhex(v: &Value) -> Vec<u8> {
    let s = v.as_str().expect("hex");
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex digit"))
        .collect()
}

fn num(row: &Value, key: &str) -> u64 {
    row[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key}: {}", row[key]))
}

fn state(v: &Value) -> TcpState {
    let name = v.as_str().expect("state name");
    *STATES
        .iter()
        .find(|s| s.name() == name)
        .unwrap_or_else(|| panic!("state {name}"))
}

fn segment(row: &Value) -> Segment {
    Segment {
        frame_no: num(row, "frame_no"),
        ts: row["ts"].as_f64().expect("ts"),
        ip_version: num(row, "ip_version") as u8,
        src: Addr::new(&unhex(&row["src"])),
        dst: Addr::new(&unhex(&row["dst"])),
        sport: num(row, "sport") as u16,
        dport: num(row, "dport") as u16,
        seq: num(row, "seq") as u32,
        ack: num(row, "ack") as u32,
        flags: num(row, "flags") as u16,
        window: num(row, "window") as u16,
        urg_ptr: num(row, "urg_ptr") as u16,
        opts: Opts::new(&unhex(&row["opts"])),
        bad_opts: row["bad_opts"].as_str().map(Into::into),
        payload_len: num(row, "payload_len") as u32,
        ..Segment::default()
    }
}

fn moves(row: &Value) -> Vec<Transition> {
    let list = row["moves"].as_array().expect("moves");
    list.iter()
        .map(|m| Transition {
            ts: m[0].as_f64().expect("ts"),
            frame_no: m[1].as_u64().expect("frame_no"),
            side: if m[2] == "orig" {
                Side::Orig
            } else {
                Side::Resp
            },
            old: state(&m[3]),
            new: state(&m[4]),
        })
        .collect()
}

/// The printers of one capture: (absolute, utc) and which expected line each checks.
fn printers(tz_matches: bool, fixture_utc: bool) -> Vec<(Printer, &'static str, String)> {
    let mut out = Vec::new();
    for (absolute, key) in [(false, "rel"), (true, "abs")] {
        if tz_matches {
            out.push((Printer::new(absolute, false), key, format!("{key} local")));
        }
        if fixture_utc {
            out.push((Printer::new(absolute, true), key, format!("{key} utc")));
        }
    }
    out
}

#[test]
fn lines_as_python_prints_them() {
    let path = std::env::var("TCPWATCH_PRINT_FIXTURE")
        .unwrap_or_else(|_| "/tmp/tcpwatch-print.jsonl".to_string());
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("no fixture at {path}: skipped (see this file's header)");
        return;
    };
    let here_tz = std::env::var("TZ").ok();
    let (mut lines, mut captures, mut bad) = (0usize, 0usize, Vec::new());
    let mut current = Vec::new();
    let mut buf = Vec::new();
    for row in text.lines() {
        let row: Value = serde_json::from_str(row).expect("a JSON row");
        if let Some(name) = row.get("capture") {
            let tz = row["tz"].as_str().map(str::to_owned);
            current = printers(tz == here_tz, tz.as_deref() == Some("UTC"));
            assert!(!current.is_empty(), "{name}: run with TZ={tz:?}");
            captures += 1;
            continue;
        }
        let (seg, moves) = (segment(&row), moves(&row));
        let flow_id = num(&row, "flow_id");
        let from_orig = row["from_orig"].as_bool().expect("from_orig");
        for (printer, key, label) in current.iter_mut() {
            buf.clear();
            printer.line(&mut buf, &seg, flow_id, from_orig, &moves);
            let want = format!("{}\n", row[*key].as_str().expect("line"));
            if buf != want.as_bytes() && bad.len() < 20 {
                let got = String::from_utf8_lossy(&buf);
                bad.push(format!(
                    "{label} frame {}:\n py {want} rs {got}",
                    seg.frame_no
                ));
            }
            lines += 1;
        }
    }
    eprintln!("{captures} captures, {lines} lines compared ({path})");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Lines a second, on the fixture's segments (`cargo test --release --test print_python --
/// --ignored --nocapture`).
#[test]
#[ignore]
fn print_speed() {
    let path = std::env::var("TCPWATCH_PRINT_FIXTURE")
        .unwrap_or_else(|_| "/tmp/tcpwatch-print.jsonl".to_string());
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    let rows: Vec<(Segment, Vec<Transition>, u64, bool)> = text
        .lines()
        .map(|row| serde_json::from_str::<Value>(row).expect("a JSON row"))
        .filter(|row| row.get("capture").is_none())
        .map(|row| {
            let from_orig = row["from_orig"].as_bool().expect("from_orig");
            (segment(&row), moves(&row), num(&row, "flow_id"), from_orig)
        })
        .collect();
    let mut printer = Printer::new(false, true);
    let mut out = Vec::with_capacity(1 << 20);
    let start = std::time::Instant::now();
    let rounds = 200;
    for _ in 0..rounds {
        for (seg, moves, id, from_orig) in &rows {
            printer.line(&mut out, seg, *id, *from_orig, moves);
            if out.len() > 1 << 19 {
                out.clear();
            }
        }
    }
    let per = start.elapsed().as_nanos() as f64 / (rounds * rows.len()) as f64;
    eprintln!("{per:.0} ns a line ({} segments x {rounds})", rows.len());
}
