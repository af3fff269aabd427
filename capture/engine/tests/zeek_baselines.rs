//! Zeek's per-connection state (`zeek::ZeekState`) against Zeek's own test-suite baselines
//! (`tests/data/zeek/`, see its README): the part of tests/test_zeek_baselines.py that needs
//! the state itself, which the Python views do not show.
//!
//! * Tests that print `c$orig` and `c$resp`: each endpoint's size and Zeek state, from the flow
//!   the real reader, decoder and tracker make (checksums verified, as those btests ran).
//! * Zeek's connection identity: one `ZeekState` per 4-tuple, ended where Zeek ends it
//!   (`ended_before`, `is_reuse`), roles from `initial_flip` and the flips `update` reports,
//!   reproduces the rows Zeek logs where the tracker (one flow per 4-tuple until a new SYN)
//!   keeps one flow: every row, in order.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use _engine::decode::Decoder;
use _engine::reader::CaptureReader;
use _engine::segment::{Addr, Segment};
use _engine::tracker::{FlowTracker, TrackerConfig};
use _engine::zeek::{initial_flip, ZeekState, STATE_NAMES};
use common::flows::data;

const COMPARED: [&str; 4] = ["history", "conn_state", "orig_bytes", "resp_bytes"];

fn baseline(name: &str) -> PathBuf {
    data("zeek").join(name)
}

/// Every decoded TCP segment of a capture in tests/data, with its frame.
fn segments(capture: &str, verify: bool) -> Vec<(Segment, Vec<u8>)> {
    let path = data(capture);
    let mut reader = CaptureReader::open(path.to_str().expect("utf-8 path"))
        .unwrap_or_else(|e| panic!("{capture}: {}", e.0));
    let mut decoder = Decoder::new(verify);
    let mut out = Vec::new();
    let mut frame_no = 0u64;
    while let Some(rec) = reader.next_record() {
        frame_no += 1;
        if let Some(seg) = decoder.decode(rec.data, rec.ts, rec.wire_len, rec.linktype, frame_no) {
            out.push((seg, rec.data.to_vec()));
        }
    }
    assert!(reader.error().is_none(), "{capture}: {:?}", reader.error());
    out
}

/// Rows of a Zeek log baseline (full ASCII logs with `#fields`, or zeek-cut -m output), TCP only.
fn read_log(name: &str) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(baseline(name)).expect("baseline");
    let mut fields: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with("###")) {
        if let Some(rest) = line.strip_prefix("#fields") {
            fields = rest.split('\t').skip(1).map(str::to_owned).collect();
        } else if line.starts_with('#') {
            continue;
        } else if fields.is_empty() {
            fields = line.split('\t').map(str::to_owned).collect();
        } else {
            let values: Vec<&str> = line.split('\t').collect();
            assert_eq!(values.len(), fields.len(), "{name}: {line}");
            rows.push(
                fields
                    .iter()
                    .cloned()
                    .zip(values.iter().map(|v| v.to_string()))
                    .collect::<HashMap<_, _>>(),
            );
        }
    }
    rows.into_iter()
        .filter(|r| r.get("proto").is_none_or(|p| p == "tcp"))
        .collect()
}

type Key = (String, u16, String, u16);

fn key(row: &HashMap<String, String>) -> Key {
    let port = |k: &str| row[k].parse::<u16>().expect("port");
    (
        row["id.orig_h"].clone(),
        port("id.orig_p"),
        row["id.resp_h"].clone(),
        port("id.resp_p"),
    )
}

/// (size, Zeek endpoint state name) of each `[size=..., state=...,` the test printed.
fn endpoints(name: &str) -> Vec<(u64, String)> {
    let text = std::fs::read_to_string(baseline(name)).expect("baseline");
    let mut out = Vec::new();
    for part in text.split("[size=").skip(1) {
        let Some((size, rest)) = part.split_once(", state=") else {
            continue;
        };
        let Some((state, _)) = rest.split_once(',') else {
            continue;
        };
        let (Ok(size), Ok(state)) = (size.parse::<u64>(), state.parse::<usize>()) else {
            continue;
        };
        out.push((size, STATE_NAMES[state].to_string()));
    }
    out
}

fn endpoint_sizes_and_states(capture: &str, name: &str) {
    let mut tracker = FlowTracker::new(TrackerConfig {
        verify_checksums: true,
        ..TrackerConfig::default()
    })
    .expect("tracker");
    for (seg, frame) in segments(capture, true) {
        tracker.ingest(seg, &frame);
    }
    tracker.finish();
    let mut flows = Vec::new();
    tracker.for_each_flow(|f| flows.push(f.clone()));
    assert_eq!(flows.len(), 1, "{capture}: one flow");
    let z = &flows[0].zeek;
    let got = vec![
        (z.orig_bytes(), z.orig_state().to_string()),
        (z.resp_bytes(), z.resp_state().to_string()),
    ];
    let want = endpoints(name);
    assert_eq!(want.len(), 2, "{name}: two endpoints printed");
    assert_eq!(got, want, "{capture}");
}

/// core.tcp.fin-retransmit: Zeek's endpoint size and state on both sides.
#[test]
fn fin_retransmit_endpoint_sizes_and_states() {
    endpoint_sizes_and_states(
        "zeek_tcp_fin_retransmission.pcap",
        "core.tcp.fin-retransmit.out",
    );
}

/// core.tcp.rst-after-syn: Zeek's endpoint size and state on both sides.
#[test]
fn rst_after_syn_endpoint_sizes_and_states() {
    endpoint_sizes_and_states(
        "zeek_tcp_rst-inject-rae.pcap",
        "core.tcp.rst-after-syn.stdout",
    );
}

type End = (Addr, u16);

struct Conn {
    orig: End,
    state: ZeekState,
    a: End,
    b: End,
}

/// Zeek's connection table over the real reader and decoder: one ZeekState per 4-tuple, ended
/// where Zeek ends it (`ended_before`, `is_reuse`), roles from `initial_flip` and the flips
/// `update` reports. What the tracker would do if it followed Zeek's identity rules.
fn zeek_connections(capture: &str) -> Vec<HashMap<&'static str, String>> {
    let mut table: HashMap<(End, End), usize> = HashMap::new();
    let mut conns: Vec<Conn> = Vec::new();
    for (seg, _) in segments(capture, false) {
        let (src, dst) = ((seg.src, seg.sport), (seg.dst, seg.dport));
        let k = if src <= dst { (src, dst) } else { (dst, src) };
        let mut at = table.get(&k).copied();
        if let Some(i) = at {
            let state = &conns[i].state;
            if state.ended_before(seg.ts) || state.is_reuse(&seg) {
                at = None;
            }
        }
        let i = match at {
            Some(i) => i,
            None => {
                let mut state = ZeekState::new(false);
                let mut orig = src;
                if initial_flip(&seg) {
                    state.flip();
                    orig = dst;
                }
                conns.push(Conn {
                    orig,
                    state,
                    a: src,
                    b: dst,
                });
                table.insert(k, conns.len() - 1);
                conns.len() - 1
            }
        };
        let conn = &mut conns[i];
        let is_orig = src == conn.orig;
        if conn.state.update(is_orig, &seg) {
            conn.orig = if conn.orig == conn.a { conn.b } else { conn.a };
        }
    }
    conns
        .iter()
        .map(|c| {
            let resp = if c.orig == c.a { c.b } else { c.a };
            HashMap::from([
                (
                    "id",
                    format!("{} {} {} {}", c.orig.0, c.orig.1, resp.0, resp.1),
                ),
                ("history", c.state.history().to_string()),
                ("conn_state", c.state.conn_state().to_string()),
                ("orig_bytes", c.state.orig_bytes().to_string()),
                ("resp_bytes", c.state.resp_bytes().to_string()),
            ])
        })
        .collect()
}

fn connection_ends_reproduce_the_split_rows(capture: &str, log: &str) {
    let rows = read_log(log);
    assert!(!rows.is_empty(), "{log}");
    let conns = zeek_connections(capture);
    let ids: Vec<String> = conns.iter().map(|c| c["id"].clone()).collect();
    let want: Vec<String> = rows
        .iter()
        .map(|r| {
            let (a, p, b, q) = key(r);
            format!("{a} {p} {b} {q}")
        })
        .collect();
    assert_eq!(ids, want, "{capture}: the connections, in order");
    for (row, conn) in rows.iter().zip(&conns) {
        for k in COMPARED {
            match row.get(k) {
                Some(v) if v != "-" => assert_eq!(&conn[k], v, "{capture} {:?} {k}", key(row)),
                _ => {}
            }
        }
    }
}

/// With Zeek's ends applied every row of ssh.half-duplex-client matches, in order (Zeek's
/// attempt timer splits five connections there).
#[test]
fn half_duplex_connection_ends_reproduce_the_split_rows() {
    connection_ends_reproduce_the_split_rows(
        "zeek_ssh_ssh.client-side-half-duplex.pcap",
        "scripts.base.protocols.ssh.half-duplex-client.conn.log",
    );
}

/// With Zeek's ends applied every row of core.expire-all-timers matches, in order (Zeek's
/// inactivity timeout splits the connection there).
#[test]
fn retransmit_timeout_connection_ends_reproduce_the_split_rows() {
    connection_ends_reproduce_the_split_rows(
        "zeek_tcp_retransmit-timeout.pcapng",
        "core.expire-all-timers.conn-all.log",
    );
}
