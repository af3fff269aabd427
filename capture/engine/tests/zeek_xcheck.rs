//! Cross-check of `zeek::ZeekState` against the Python reference.
//!
//! `xcheck/zeek_dump.py` records every call the real Python FlowTracker makes on ZeekState over
//! every capture in tests/data (with the state after each call); this test replays the calls on
//! the Rust ZeekState and compares everything after each one. It runs only when `ZEEK_CALLS`
//! names one or more dumps (colon separated):
//!
//! ```text
//! PYTHONPATH=. .venv/bin/python capture/engine/xcheck/zeek_dump.py \
//!     /tmp/zeek_calls.txt
//! cd capture/engine && ZEEK_CALLS=/tmp/zeek_calls.txt cargo test --test zeek_xcheck -- --nocapture
//! ```

use std::collections::HashMap;

use _engine::segment::Segment;
use _engine::zeek::ZeekState;

/// `ended_before(last_ts + k)` offsets of the dump's `E` lines (zeek_dump.py ENDS).
const ENDS: [f64; 9] = [0.0, 1.0, 4.999, 5.0, 59.999, 60.0, 299.999, 300.0, 1000.0];

#[derive(Default)]
struct Tally {
    states: usize,
    calls: usize,
    mismatches: Vec<String>,
    failed_states: std::collections::HashSet<(String, u64)>,
}

struct Replay<'a> {
    capture: String,
    states: HashMap<u64, ZeekState>,
    tally: &'a mut Tally,
}

fn bit(tok: &str) -> bool {
    tok == "1"
}

fn num<T: std::str::FromStr>(tok: &str) -> T {
    match tok.parse() {
        Ok(v) => v,
        Err(_) => panic!("bad number {tok:?} in the dump"),
    }
}

/// The state after a call as the dump writes it (ret history conn ob rb last_ts os rs).
fn after(z: &ZeekState, ret: bool) -> Vec<String> {
    vec![
        if ret { "1" } else { "0" }.to_string(),
        if z.history().is_empty() {
            "-"
        } else {
            z.history()
        }
        .to_string(),
        z.conn_state().to_string(),
        z.orig_bytes().to_string(),
        z.resp_bytes().to_string(),
        format!("{:?}", z.last_ts()),
        z.orig_state().to_string(),
        z.resp_state().to_string(),
    ]
}

/// Compare `after` with the dump's tokens; last_ts compared as a number.
fn same_after(got: &[String], want: &[&str]) -> bool {
    got.len() == want.len()
        && got.iter().zip(want).enumerate().all(|(i, (g, w))| {
            if i == 5 {
                num::<f64>(g).to_bits() == num::<f64>(w).to_bits()
            } else {
                g == w
            }
        })
}

impl Replay<'_> {
    fn fail(&mut self, id: u64, line: &str, got: String) {
        self.tally.failed_states.insert((self.capture.clone(), id));
        if self.tally.mismatches.len() < 20 {
            let capture = &self.capture;
            self.tally.mismatches.push(format!(
                "{capture} #{id}\n  python: {line}\n  rust:   {got}"
            ));
        }
    }

    fn state(&mut self, id: u64) -> &mut ZeekState {
        self.states
            .entry(id)
            .or_insert_with(|| panic!("state {id} used before N"))
    }

    fn line(&mut self, line: &str) {
        let t: Vec<&str> = line.split(' ').collect();
        match t[0] {
            "C" => {
                self.capture = t[1].to_string();
                self.states.clear();
            }
            "N" => {
                self.states.insert(num(t[1]), ZeekState::new(bit(t[2])));
                self.tally.states += 1;
            }
            "U" => self.update(&t, line),
            "P" => self.plain(&t, line),
            "F" => {
                let id = num(t[1]);
                let z = self.state(id);
                z.flip();
                let got = after(z, false);
                if !same_after(&got, &t[2..]) {
                    self.fail(id, line, got.join(" "));
                }
            }
            "E" => {
                let id = num(t[1]);
                let z = self.state(id);
                let got: Vec<&str> = ENDS
                    .iter()
                    .map(|k| {
                        if z.ended_before(z.last_ts() + k) {
                            "1"
                        } else {
                            "0"
                        }
                    })
                    .collect();
                if got != t[2..] {
                    self.fail(id, line, got.join(" "));
                }
            }
            _ => {}
        }
    }

    fn update(&mut self, t: &[&str], line: &str) {
        self.tally.calls += 1;
        let id = num(t[1]);
        let seg = Segment {
            ts: num(t[3]),
            flags: num(t[4]),
            seq: num(t[5]),
            ack: num(t[6]),
            window: num(t[7]),
            payload_len: num(t[8]),
            truncated: bit(t[9]),
            bad_opts: bit(t[10]).then(|| "bad".into()),
            header_ok: bit(t[11]),
            ip_checksum_ok: bit(t[12]),
            tcp_checksum_ok: bit(t[13]),
            ..Segment::default()
        };
        let z = self.state(id);
        let before = [z.ended_before(seg.ts), z.is_reuse(&seg)];
        let ret = z.update(bit(t[2]), &seg);
        let got = after(z, ret);
        let before_ok = before == [bit(t[14]), bit(t[15])];
        if !before_ok || !same_after(&got, &t[16..]) {
            self.fail(id, line, format!("{before:?} {}", got.join(" ")));
        }
    }

    fn plain(&mut self, t: &[&str], line: &str) {
        self.tally.calls += 1;
        let id = num(t[1]);
        let z = self.state(id);
        let (ts, flags, len, window, seq, ack) = (
            num(t[3]),
            num(t[4]),
            num(t[5]),
            num(t[6]),
            num(t[7]),
            num(t[8]),
        );
        let ret = z.plain(bit(t[2]), ts, flags, len, window, seq, ack);
        let got = after(z, ret);
        if !same_after(&got, &t[9..]) {
            self.fail(id, line, got.join(" "));
        }
    }
}

#[test]
fn zeek_state_matches_python_calls() {
    let Ok(paths) = std::env::var("ZEEK_CALLS") else {
        eprintln!("ZEEK_CALLS not set: skipped (see the module doc)");
        return;
    };
    for path in paths.split(':') {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => panic!("{path}: {e}"),
        };
        let mut tally = Tally::default();
        let mut replay = Replay {
            capture: String::new(),
            states: HashMap::new(),
            tally: &mut tally,
        };
        for line in text.lines() {
            replay.line(line);
        }
        eprintln!(
            "{path}: {} states, {} calls replayed, {} states differ",
            tally.states,
            tally.calls,
            tally.failed_states.len()
        );
        for m in &tally.mismatches {
            eprintln!("{m}");
        }
        assert!(tally.failed_states.is_empty(), "{path}: mismatches");
    }
}
