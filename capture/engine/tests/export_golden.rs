//! Every golden export (`tests/golden/<capture>/export.jsonl.gz`, `evict.jsonl.gz`) read back
//! into `FlowRecord`s and written again: the JSON lines and the CSV (`export.csv.gz`) must come
//! out byte for byte as Python wrote them.

use _engine::export::{FlagCounts, FlowRecord, Format, RecordWriter};
use flate2::read::GzDecoder;
use serde_json::{Map, Value};
use std::io::Read;
use std::path::{Path, PathBuf};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden")
}

fn gunzip(path: &Path) -> Vec<u8> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    GzDecoder::new(file)
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    out
}

/// Strings the record keeps as `&'static str` (leaked: a test reads a few thousand).
fn leak(v: &Value) -> &'static str {
    Box::leak(v.as_str().expect("a string").to_owned().into_boxed_str())
}

fn uint(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("not an unsigned integer: {v}"))
}

fn opt<T>(v: &Value, f: impl Fn(&Value) -> T) -> Option<T> {
    (!v.is_null()).then(|| f(v))
}

fn float(v: &Value) -> f64 {
    assert!(v.is_f64(), "not a float: {v}");
    v.as_f64().expect("a float")
}

fn flag_counts(v: &Value) -> FlagCounts {
    let m = v.as_object().expect("flag counts");
    let keys: Vec<&str> = m.keys().map(String::as_str).collect();
    let order = [
        "syn", "synack", "fin", "rst", "psh", "urg", "ece", "cwr", "ack",
    ];
    assert_eq!(keys, order);
    FlagCounts {
        syn: uint(&m["syn"]),
        synack: uint(&m["synack"]),
        fin: uint(&m["fin"]),
        rst: uint(&m["rst"]),
        psh: uint(&m["psh"]),
        urg: uint(&m["urg"]),
        ece: uint(&m["ece"]),
        cwr: uint(&m["cwr"]),
        ack: uint(&m["ack"]),
    }
}

fn record(m: &Map<String, Value>) -> FlowRecord {
    let s = |k: &str| m[k].as_str().expect("a string").to_owned();
    let small = |v: &Value| uint(v);
    FlowRecord {
        ts: float(&m["ts"]),
        uid: s("uid"),
        orig_h: s("orig_h"),
        orig_p: uint(&m["orig_p"]) as u16,
        resp_h: s("resp_h"),
        resp_p: uint(&m["resp_p"]) as u16,
        duration: float(&m["duration"]),
        orig_pkts: uint(&m["orig_pkts"]),
        resp_pkts: uint(&m["resp_pkts"]),
        orig_bytes: uint(&m["orig_bytes"]),
        resp_bytes: uint(&m["resp_bytes"]),
        orig_ip_bytes: uint(&m["orig_ip_bytes"]),
        resp_ip_bytes: uint(&m["resp_ip_bytes"]),
        conn_state: leak(&m["conn_state"]),
        history: s("history"),
        state_orig: leak(&m["state_orig"]),
        state_resp: leak(&m["state_resp"]),
        flags_orig: flag_counts(&m["flags_orig"]),
        flags_resp: flag_counts(&m["flags_resp"]),
        payload_orig: uint(&m["payload_orig"]),
        payload_resp: uint(&m["payload_resp"]),
        isn_orig: opt(&m["isn_orig"], |v| small(v) as u32),
        isn_resp: opt(&m["isn_resp"], |v| small(v) as u32),
        mss_orig: opt(&m["mss_orig"], |v| small(v) as u16),
        mss_resp: opt(&m["mss_resp"], |v| small(v) as u16),
        wscale_orig: opt(&m["wscale_orig"], |v| small(v) as u8),
        wscale_resp: opt(&m["wscale_resp"], |v| small(v) as u8),
        sack_perm: opt(&m["sack_perm"], |v| v.as_bool().expect("bool")),
        timestamps: opt(&m["timestamps"], |v| v.as_bool().expect("bool")),
        irtt: opt(&m["irtt"], float),
        rtt_syn_synack: opt(&m["rtt_syn_synack"], float),
        rtt_synack_ack: opt(&m["rtt_synack_ack"], float),
        syn_retries: uint(&m["syn_retries"]),
        syn_retry_gaps: m["syn_retry_gaps"]
            .as_array()
            .expect("list")
            .iter()
            .map(float)
            .collect(),
        retrans_orig: uint(&m["retrans_orig"]),
        retrans_resp: uint(&m["retrans_resp"]),
        zero_window: uint(&m["zero_window"]),
        closed_by: leak(&m["closed_by"]),
        close_kind: leak(&m["close_kind"]),
        illegal_flags: m["illegal_flags"]
            .as_object()
            .expect("object")
            .iter()
            .map(|(k, v)| (&*Box::leak(k.clone().into_boxed_str()), uint(v)))
            .collect(),
        direction_inferred: m["direction_inferred"].as_bool().expect("bool"),
        vlan: m["vlan"]
            .as_array()
            .expect("list")
            .iter()
            .map(|v| uint(v) as u16)
            .collect(),
        pid_orig: opt(&m["pid_orig"], |v| small(v) as u32),
        pid_resp: opt(&m["pid_resp"], |v| small(v) as u32),
        proc_orig: opt(&m["proc_orig"], |v| v.as_str().expect("string").to_owned()),
        proc_resp: opt(&m["proc_resp"], |v| v.as_str().expect("string").to_owned()),
        continues_uid: opt(&m["continues_uid"], |v| {
            v.as_str().expect("string").to_owned()
        }),
    }
}

fn records(jsonl: &[u8]) -> Vec<FlowRecord> {
    jsonl
        .split(|&c| c == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            let v: Value = serde_json::from_slice(line).expect("a JSON line");
            let m = v.as_object().expect("an object");
            assert_eq!(m.len(), 47, "fields");
            record(m)
        })
        .collect()
}

fn written(format: Format, recs: &[FlowRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = RecordWriter::new(format, &mut out);
    for rec in recs {
        w.write(rec).expect("write to a Vec");
    }
    w.flush().expect("flush");
    assert_eq!(w.count(), recs.len() as u64);
    drop(w);
    out
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    let at = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let from = at.saturating_sub(80);
    format!(
        "at byte {at}:\n python {:?}\n rust   {:?}",
        String::from_utf8_lossy(&a[from..(at + 80).min(a.len())]),
        String::from_utf8_lossy(&b[from..(at + 80).min(b.len())]),
    )
}

#[test]
fn golden_exports_written_again_byte_for_byte() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("tests/golden")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("export.jsonl.gz").exists())
        .collect();
    dirs.sort();
    assert!(dirs.len() > 100, "golden captures: {}", dirs.len());
    let (mut flows, mut failures) = (0, Vec::new());
    for dir in &dirs {
        let jsonl = gunzip(&dir.join("export.jsonl.gz"));
        let recs = records(&jsonl);
        flows += recs.len();
        let checks = [
            ("export.jsonl", jsonl.clone(), written(Format::Jsonl, &recs)),
            (
                "export.csv",
                gunzip(&dir.join("export.csv.gz")),
                written(Format::Csv, &recs),
            ),
        ];
        let evict = gunzip(&dir.join("evict.jsonl.gz"));
        let evicted = written(Format::Jsonl, &records(&evict));
        for (name, want, got) in checks.into_iter().chain([("evict.jsonl", evict, evicted)]) {
            if want != got {
                let name = format!("{}/{name}", dir.display());
                failures.push(format!("{name} {}", first_difference(&want, &got)));
            }
        }
    }
    eprintln!("{} captures, {flows} flows written again", dirs.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
