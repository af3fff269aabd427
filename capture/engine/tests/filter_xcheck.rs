//! Cross-check of the filter language against `capture.filterexpr`, expression by expression
//! and flow by flow over every bundled capture:
//!
//! ```text
//! PYTHONPATH=. /work/refvenv/bin/python capture/engine/xcheck/filter_dump.py /tmp/filterdump.jsonl
//! FILTER_XCHECK=/tmp/filterdump.jsonl cargo test --test filter_xcheck -- --nocapture
//! ```
//!
//! Each expression must compile where Python's does, and fail with the same message (and
//! column) where Python's fails; each compiled one must give Python's verdict on every flow,
//! the flows built by the Rust reader, decoder and tracker (given the dump's process names).
//! Without `FILTER_XCHECK` the test does nothing.

mod common;

use _engine::filter::Filter;
use _engine::flow::Flow;
use _engine::tcpstate::Side as Dir;
use serde_json::Value;

/// As `xcheck/filter_dump.py`'s PROCS: process names by flow id.
const PROCS: [Option<&str>; 7] = [
    None,
    Some("nginx"),
    Some("Firefox Web Content"),
    Some("sshd: root@pts/0"),
    Some("ΣΊΣΥΦΟΣ"),
    Some("İstanbul-K"),
    Some("curl"),
];

fn name_procs(flow: &mut Flow) {
    let n = PROCS.len() as u64;
    let pick = |i: u64| PROCS[(i % n) as usize].map(|p| (1000 + i as u32, p.into()));
    flow.set_proc(Dir::Orig, pick(flow.id));
    flow.set_proc(Dir::Resp, pick(3 * flow.id + 1));
}

/// Compare the compile results; the filters of the expressions Python compiled, in order.
fn compile_all(exprs: &[Value], problems: &mut Vec<String>) -> Vec<Option<Filter>> {
    let mut filters = Vec::new();
    let (mut skipped, mut refused) = (0, 0);
    for e in exprs {
        let text = e["text"].as_str().expect("text");
        let ours = Filter::compile(text);
        if let Some(exc) = e.get("exception") {
            // A Python bug (not a FilterError): the port answers with a FilterError instead.
            skipped += 1;
            eprintln!("python raised {exc} on {text:?}; rust: {ours:?}");
            continue;
        }
        if let Some(msg) = e.get("error").and_then(Value::as_str) {
            refused += 1;
            match &ours {
                Err(err) if err.to_string() == msg => {}
                _ => problems.push(format!("{text:?}: python {msg:?}, rust {ours:?}")),
            }
            continue;
        }
        match ours {
            Ok(f) => filters.push(Some(f)),
            Err(err) => {
                problems.push(format!("{text:?}: python compiles, rust: {err}"));
                filters.push(None);
            }
        }
    }
    eprintln!(
        "{} expressions: {} compiled, {refused} errors compared, {skipped} python exceptions",
        exprs.len(),
        filters.len()
    );
    filters
}

fn texts(exprs: &[Value]) -> Vec<&str> {
    exprs
        .iter()
        .filter(|e| e.get("ok").is_some())
        .map(|e| e["text"].as_str().expect("text"))
        .collect()
}

#[test]
fn filters_match_python_on_every_flow() {
    let Ok(path) = std::env::var("FILTER_XCHECK") else {
        eprintln!("FILTER_XCHECK unset: run xcheck/filter_dump.py first (see the module docs)");
        return;
    };
    let dump = std::fs::read_to_string(&path).expect("the dump");
    let mut lines = dump
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json"));
    let head = lines.next().expect("the expressions line");
    let exprs = head["exprs"].as_array().expect("exprs");
    let mut problems = Vec::new();
    let filters = compile_all(exprs, &mut problems);
    let names = texts(exprs);
    let (mut captures, mut verdicts) = (0, 0u64);
    for line in lines {
        let capture = line["capture"].as_str().expect("capture");
        let Some(mut flows) = common::flows::track(capture) else {
            problems.push(format!("{capture}: rust cannot open it"));
            continue;
        };
        flows.iter_mut().for_each(name_procs);
        let ids: Vec<u64> = flows.iter().map(|f| f.id).collect();
        let want_ids: Vec<u64> = line["ids"]
            .as_array()
            .expect("ids")
            .iter()
            .map(|v| v.as_u64().expect("id"))
            .collect();
        if ids != want_ids {
            problems.push(format!("{capture}: flow ids {ids:?}, python {want_ids:?}"));
            continue;
        }
        captures += 1;
        let want = line["verdicts"].as_array().expect("verdicts");
        for ((filter, want), text) in filters.iter().zip(want).zip(&names) {
            let Some(filter) = filter else { continue };
            let ours: String = flows
                .iter()
                .map(|f| if filter.matches(f) { '1' } else { '0' })
                .collect();
            verdicts += ours.len() as u64;
            if ours != want.as_str().expect("a verdict string") {
                problems.push(format!("{capture} {text:?}: rust {ours}, python {want}"));
            }
        }
    }
    eprintln!(
        "{captures} captures, {verdicts} verdicts compared, {} differences",
        problems.len()
    );
    for p in problems.iter().take(40) {
        eprintln!("  {p}");
    }
    assert!(
        problems.is_empty(),
        "{} differences from Python",
        problems.len()
    );
}
