//! Cross-check of the flow tracker against the Python tool's golden exports.
//!
//! The Python reader and decoder dump every segment of every bundled capture:
//!
//! ```text
//! PYTHONPATH=. .venv/bin/python \
//!     capture/engine/xcheck/dump_segments.py /tmp/segdump
//! TRACKER_XCHECK_DIR=/tmp/segdump cargo test --test tracker_xcheck -- --nocapture
//! ```
//!
//! Each capture's segments go through a tracker configured as the headless export configures it
//! (no frames, embryos, linger 5 s; max_flows 250000 for `export.jsonl.gz` and 10 for
//! `evict.jsonl.gz`); the records, flows that left first and then every flow in id order, are
//! compared with the golden ones field by field. Zeek's four fields wait for the Zeek port.
//!
//! `xcheck/dump_tracker.py /tmp/segdump` (run as `dump_segments.py`, after it) adds what the
//! Python tracker gives in four other configurations (no embryos and a cap of 3; kept frames with
//! small budgets and linger; embryos with a cap of 7; all bounds tight): every flow's record,
//! transitions, kept frame numbers and a few properties, the changed ids every 7th frame, and the
//! counters. `tracker_matches_python_in_other_configurations` compares them all.
//! Without `TRACKER_XCHECK_DIR` both tests do nothing.

#![recursion_limit = "256"]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use _engine::export::{FlagCounts, FlowRecord};
use _engine::segment::{Addr, Opts, Segment};
use _engine::tracker::{FlowTracker, TrackerConfig};
use serde_json::{json, Value};

const ZEEK_FIELDS: [&str; 4] = ["history", "conn_state", "orig_bytes", "resp_bytes"];

type Record = BTreeMap<String, Value>;

fn hex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn segment(v: &Value) -> Segment {
    let u = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("field {k}"));
    let b = |k: &str| v[k].as_bool().unwrap_or_else(|| panic!("field {k}"));
    let vlan: Vec<u16> = v["vlan"]
        .as_array()
        .expect("vlan")
        .iter()
        .map(|x| x.as_u64().expect("vlan id") as u16)
        .collect();
    Segment {
        frame_no: u("frame_no"),
        ts: v["ts"].as_f64().expect("ts"),
        linktype: v["linktype"].as_i64().expect("linktype") as i32,
        wire_len: u("wire_len") as u32,
        caplen: u("caplen") as u32,
        truncated: b("truncated"),
        ip_version: u("ip_version") as u8,
        ip_off: u("ip_off") as u32,
        src: Addr::new(&hex(v["src"].as_str().expect("src"))),
        dst: Addr::new(&hex(v["dst"].as_str().expect("dst"))),
        ip_len: u("ip_len") as u32,
        ttl: u("ttl") as u8,
        vlan: vlan.into(),
        tcp_off: u("tcp_off") as u32,
        sport: u("sport") as u16,
        dport: u("dport") as u16,
        seq: u("seq") as u32,
        ack: u("ack") as u32,
        flags: u("flags") as u16,
        window: u("window") as u16,
        urg_ptr: u("urg_ptr") as u16,
        opts: Opts::new(&hex(v["opts"].as_str().expect("opts"))),
        bad_opts: v["bad_opts"].as_str().map(Into::into),
        payload_len: u("payload_len") as u32,
        header_ok: b("header_ok"),
        ip_checksum_ok: b("ip_checksum_ok"),
        tcp_checksum_ok: b("tcp_checksum_ok"),
    }
}

fn flags(f: &FlagCounts) -> Value {
    json!({"syn": f.syn, "synack": f.synack, "fin": f.fin, "rst": f.rst, "psh": f.psh,
           "urg": f.urg, "ece": f.ece, "cwr": f.cwr, "ack": f.ack})
}

/// The record as Python's `json.dumps(Flow.record())` would hold it.
fn to_json(r: &FlowRecord) -> Record {
    let illegal: serde_json::Map<String, Value> = r
        .illegal_flags
        .iter()
        .map(|(k, n)| (k.to_string(), json!(n)))
        .collect();
    let v = json!({
        "ts": r.ts, "uid": r.uid, "orig_h": r.orig_h, "orig_p": r.orig_p, "resp_h": r.resp_h,
        "resp_p": r.resp_p, "duration": r.duration, "orig_pkts": r.orig_pkts,
        "resp_pkts": r.resp_pkts, "orig_bytes": r.orig_bytes, "resp_bytes": r.resp_bytes,
        "orig_ip_bytes": r.orig_ip_bytes, "resp_ip_bytes": r.resp_ip_bytes,
        "conn_state": r.conn_state, "history": r.history, "state_orig": r.state_orig,
        "state_resp": r.state_resp, "flags_orig": flags(&r.flags_orig),
        "flags_resp": flags(&r.flags_resp), "payload_orig": r.payload_orig,
        "payload_resp": r.payload_resp, "isn_orig": r.isn_orig, "isn_resp": r.isn_resp,
        "mss_orig": r.mss_orig, "mss_resp": r.mss_resp, "wscale_orig": r.wscale_orig,
        "wscale_resp": r.wscale_resp, "sack_perm": r.sack_perm, "timestamps": r.timestamps,
        "irtt": r.irtt, "rtt_syn_synack": r.rtt_syn_synack, "rtt_synack_ack": r.rtt_synack_ack,
        "syn_retries": r.syn_retries, "syn_retry_gaps": r.syn_retry_gaps,
        "retrans_orig": r.retrans_orig, "retrans_resp": r.retrans_resp,
        "zero_window": r.zero_window, "closed_by": r.closed_by, "close_kind": r.close_kind,
        "illegal_flags": illegal, "direction_inferred": r.direction_inferred, "vlan": r.vlan,
        "pid_orig": r.pid_orig, "pid_resp": r.pid_resp, "proc_orig": r.proc_orig,
        "proc_resp": r.proc_resp,
    });
    serde_json::from_value(v).expect("an object")
}

fn records(segments: &[Segment], max_flows: usize) -> Vec<FlowRecord> {
    let cfg = TrackerConfig {
        max_flows,
        frames_per_flow: 0,
        linger: Some(5.0),
        embryos: true,
        ..TrackerConfig::default()
    };
    let mut tracker = FlowTracker::new(cfg).expect("a valid configuration");
    let mut out = Vec::new();
    for seg in segments {
        tracker.add(seg.clone(), &[]);
        out.extend(tracker.take_gone().iter().map(|f| f.record()));
    }
    tracker.finish();
    out.extend(tracker.take_gone().iter().map(|f| f.record()));
    tracker.for_each_flow(|f| out.push(f.record()));
    out
}

fn golden(path: &Path) -> Vec<Record> {
    let mut text = String::new();
    let file = std::fs::File::open(path).expect("golden file");
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .expect("gzip");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn read_dump(dump: &Path) -> Vec<Segment> {
    let text = std::fs::read_to_string(dump).expect("dump");
    text.lines()
        .map(|l| segment(&serde_json::from_str(l).expect("a JSON line")))
        .collect()
}

#[derive(Default)]
struct Tally {
    compared: usize,
    count_mismatch: Vec<String>,
    by_field: BTreeMap<String, usize>,
    examples: Vec<String>,
}

impl Tally {
    fn compare(&mut self, what: &str, got: &[Record], want: &[Record]) {
        if want.len() != got.len() {
            self.count_mismatch
                .push(format!("{what}: {} vs {}", got.len(), want.len()));
        }
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            self.compared += 1;
            for (field, wv) in w {
                if ZEEK_FIELDS.contains(&field.as_str()) || g.get(field) == Some(wv) {
                    continue;
                }
                *self.by_field.entry(field.clone()).or_default() += 1;
                if self.examples.len() < 20 {
                    let gv = g.get(field);
                    self.examples
                        .push(format!("{what} #{i} {field}: {gv:?} != {wv}"));
                }
            }
        }
    }
}

/// The segment dumps in `dir`, sorted.
fn segment_dumps(dir: &Path) -> Vec<PathBuf> {
    let mut dumps: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("dump dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    dumps.sort();
    dumps
}

#[test]
fn records_match_the_golden_exports() {
    let Some(dir) = std::env::var_os("TRACKER_XCHECK_DIR") else {
        eprintln!("TRACKER_XCHECK_DIR not set: skipped");
        return;
    };
    let golden_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden");
    let dumps = segment_dumps(Path::new(&dir));
    let mut tally = Tally::default();
    for dump in &dumps {
        let name = dump
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let capture = name.trim_end_matches(".jsonl");
        let segments = read_dump(dump);
        for (max_flows, file) in [(250_000, "export.jsonl.gz"), (10, "evict.jsonl.gz")] {
            let want = golden(&golden_root.join(capture).join(file));
            let got: Vec<_> = records(&segments, max_flows).iter().map(to_json).collect();
            tally.compare(&format!("{capture}/{file}"), &got, &want);
        }
    }
    eprintln!(
        "captures: {}, records compared: {}",
        dumps.len(),
        tally.compared
    );
    eprintln!("record count mismatches: {:?}", tally.count_mismatch);
    eprintln!("mismatches by field: {:?}", tally.by_field);
    for e in &tally.examples {
        eprintln!("  {e}");
    }
    assert!(tally.count_mismatch.is_empty() && tally.by_field.is_empty());
}

/// The configurations of `xcheck/dump_tracker.py`, by name.
fn configs() -> Vec<(&'static str, TrackerConfig)> {
    let base = TrackerConfig::default();
    vec![
        (
            "A",
            TrackerConfig {
                max_flows: 3,
                frames_per_flow: 0,
                ..base.clone()
            },
        ),
        (
            "B",
            TrackerConfig {
                frames_per_flow: 4,
                frame_budget: 50,
                frame_bytes: 20_000,
                linger: Some(2.0),
                ..base.clone()
            },
        ),
        (
            "C",
            TrackerConfig {
                max_flows: 7,
                frames_per_flow: 0,
                embryos: true,
                ..base.clone()
            },
        ),
        (
            "D",
            TrackerConfig {
                max_flows: 5,
                frames_per_flow: 2,
                frame_budget: 7,
                frame_bytes: 1_000_000,
                linger: Some(0.5),
                ..base
            },
        ),
    ]
}

/// One flow as `dump_tracker.py`'s `flow_out` writes it.
fn flow_out(f: &_engine::flow::Flow) -> Value {
    let mut record = to_json(&f.record());
    for field in ZEEK_FIELDS {
        record.remove(field);
    }
    let transitions: Vec<Value> = f
        .transitions()
        .iter()
        .map(|t| json!([t.ts, t.frame_no, t.side.name(), t.old.name(), t.new.name()]))
        .collect();
    let frames: Vec<u64> = f.frames().iter().map(|k| k.seg.frame_no).collect();
    json!({
        "record": record, "transitions": transitions, "frames": frames,
        "synack_retries": f.synack_retries(), "synack_retry_gaps": f.synack_retry_gaps(),
        "time_wait_by": f.time_wait_by(), "steady": f.steady, "superseded": f.superseded,
    })
}

/// What the Rust tracker gives in one configuration, in `dump_tracker.py`'s shape.
fn run_config(segments: &[Segment], cfg: &TrackerConfig) -> Value {
    let mut t = FlowTracker::new(cfg.clone()).expect("valid");
    let mut flows = Vec::new();
    let mut changed = Vec::new();
    t.take_changed();
    for seg in segments {
        let frame = vec![0u8; seg.caplen as usize];
        if cfg.embryos {
            t.add(seg.clone(), &frame);
        } else {
            t.ingest(seg.clone(), &frame);
        }
        flows.extend(t.take_gone().iter().map(flow_out));
        if seg.frame_no % 7 == 0 {
            changed.push(json!(t.take_changed()));
        }
    }
    t.finish();
    changed.push(json!(t.take_changed()));
    flows.extend(t.take_gone().iter().map(flow_out));
    t.for_each_flow(|f| flows.push(flow_out(f)));
    let summary = json!({
        "kept": t.kept(), "kept_bytes": t.kept_bytes(), "evicted": t.evicted,
        "released": t.released, "flow_count": t.flow_count(), "tracked": t.tracked(),
    });
    json!({"flows": flows, "summary": summary, "changed": changed})
}

/// Where two JSON values first differ, as a path.
fn first_difference(got: &Value, want: &Value, path: &str) -> Option<String> {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            if g.len() != w.len() {
                return Some(format!("{path}: keys {:?} vs {:?}", g.keys(), w.keys()));
            }
            w.iter().find_map(|(k, wv)| match g.get(k) {
                Some(gv) => first_difference(gv, wv, &format!("{path}.{k}")),
                None => Some(format!("{path}.{k}: missing")),
            })
        }
        (Value::Array(g), Value::Array(w)) if g.len() == w.len() => g
            .iter()
            .zip(w)
            .enumerate()
            .find_map(|(i, (gv, wv))| first_difference(gv, wv, &format!("{path}[{i}]"))),
        _ if got == want => None,
        _ => Some(format!("{path}: {got} != {want}")),
    }
}

#[test]
fn tracker_matches_python_in_other_configurations() {
    let Some(dir) = std::env::var_os("TRACKER_XCHECK_DIR") else {
        eprintln!("TRACKER_XCHECK_DIR not set: skipped");
        return;
    };
    let dir = PathBuf::from(dir);
    if !dir.join("tracker").is_dir() {
        eprintln!(
            "no {}/tracker (xcheck/dump_tracker.py): skipped",
            dir.display()
        );
        return;
    }
    let (mut runs, mut flows, mut differ) = (0, 0, Vec::new());
    for dump in segment_dumps(&dir) {
        let capture = dump
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let segments = read_dump(&dump);
        for (name, cfg) in configs() {
            let path = dir.join("tracker").join(format!("{capture}.{name}.json"));
            let text = std::fs::read_to_string(&path).expect("python tracker dump");
            let want: Value = serde_json::from_str(&text).expect("JSON");
            let got = run_config(&segments, &cfg);
            runs += 1;
            flows += want["flows"].as_array().map_or(0, Vec::len);
            if let Some(diff) = first_difference(&got, &want, "") {
                differ.push(format!("{capture} {name}: {diff}"));
            }
        }
    }
    eprintln!(
        "runs: {runs}, flows compared: {flows}, runs differing: {}",
        differ.len()
    );
    for d in differ.iter().take(20) {
        eprintln!("  {d}");
    }
    assert!(differ.is_empty());
}
