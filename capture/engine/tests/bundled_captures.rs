//! The reader, decoder and tracker on every bundled capture of `tests/data` (the ones with a
//! tshark `*.truth.json`): what the Python unit tests of the deleted pure-Python pipeline checked
//! on real files (tests/test_decode.py, test_pcapio.py, test_embryos.py, test_ingest_paths.py).

use std::path::PathBuf;

use _engine::decode::Decoder;
use _engine::export::FlowRecord;
use _engine::flow::Flow;
use _engine::pcapwrite::PcapWriter;
use _engine::reader::CaptureReader;
use _engine::segment::{parse_options, syn_options, Segment};
use _engine::tracker::{FlowTracker, TrackerConfig};
use proptest::prelude::*;
use serde_json::Value;

/// Seconds a closed flow lingers in an export (the engine's `tracker::HEADLESS_LINGER`).
const LINGER: f64 = 5.0;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(name)
}

/// The captures that have a tshark truth file, by name.
fn captures() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(data(""))
        .expect("tests/data")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| !n.ends_with(".truth.json") && data(&format!("{n}.truth.json")).exists())
        .collect();
    out.sort();
    assert!(out.len() > 20, "{out:?}");
    out
}

fn truth(name: &str) -> Value {
    let text = std::fs::read_to_string(data(&format!("{name}.truth.json"))).expect("truth");
    serde_json::from_str(&text).expect("truth is JSON")
}

/// Every record of a capture: (ts, wire_len, data, linktype), and the reader's error.
type Rec = (f64, u32, Vec<u8>, i32);

fn records(path: &str) -> Option<(Vec<Rec>, Option<String>)> {
    let mut reader = CaptureReader::open(path).ok()?;
    let mut out = Vec::new();
    while let Some(r) = reader.next_record() {
        out.push((r.ts, r.wire_len, r.data.to_vec(), r.linktype));
    }
    Some((out, reader.error().map(str::to_string)))
}

/// The decoded segments (with their frames) of a capture; None when the reader cannot open it.
fn segments(name: &str) -> Option<Vec<(Segment, Vec<u8>)>> {
    let (recs, _) = records(data(name).to_str()?)?;
    let mut d = Decoder::new(false);
    Some(
        recs.into_iter()
            .enumerate()
            .filter_map(|(i, (ts, wire, frame, lt))| {
                d.decode(&frame, ts, wire, lt, i as u64 + 1)
                    .map(|s| (s, frame))
            })
            .collect(),
    )
}

fn counted(d: &Decoder) -> u64 {
    d.tcp + d.non_tcp + d.fragments + d.malformed_total()
}

/// test_decode.py::test_every_public_capture_yields_tsharks_tcp_segments
#[test]
fn every_public_capture_yields_tsharks_tcp_segments() {
    for name in captures() {
        let truth = truth(&name);
        let mut reader = CaptureReader::open(data(&name).to_str().expect("utf-8"))
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let mut d = Decoder::new(false);
        let (mut tcp, mut ip_bytes, mut n) = (0u64, 0u64, 0u64);
        while let Some(r) = reader.next_record() {
            n += 1;
            if let Some(seg) = d.decode(r.data, r.ts, r.wire_len, r.linktype, n) {
                tcp += 1;
                ip_bytes += u64::from(seg.ip_len);
            }
        }
        assert_eq!(reader.error(), None, "{name}");
        assert_eq!(Some(tcp), truth["tcp_packets"].as_u64(), "{name}");
        let expected: u64 = truth["conversations"]
            .as_array()
            .expect("conversations")
            .iter()
            .flat_map(|c| ["i2r", "r2i"].map(|d| c[d]["ip_bytes"].as_u64().expect("ip_bytes")))
            .sum();
        assert_eq!(ip_bytes, expected, "{name}");
        assert_eq!(d.frames, counted(&d), "{name}");
        assert_eq!(d.frames, n, "{name}");
    }
}

/// test_pcapio.py::test_timestamps_match_tshark: the first frame's time equals tshark's to the
/// microsecond, in every byte order, unit and format.
#[test]
fn timestamps_match_tshark() {
    for name in [
        "tcpdump_tcp-handshake-nano.pcap", // little-endian, nanoseconds
        "pcapplusplus_nanosecs_big_endian.pcap", // big-endian, nanoseconds
        "zeek_tcp_options.pcap",           // little-endian, microseconds
        "zeek_vlan-pcp-dei.pcapng",        // pcapng
    ] {
        let (recs, _) = records(data(name).to_str().expect("utf-8")).expect("opens");
        // The earliest conversation start, as tshark's text "secs.nanos".
        let firsts: Vec<(u64, u64)> = truth(name)["conversations"]
            .as_array()
            .expect("conversations")
            .iter()
            .map(|c| {
                let text = c["first_ts"].as_str().expect("first_ts");
                let (s, f) = text.split_once('.').expect("secs.frac");
                let nanos = format!("{f:0<9}")[..9].parse().expect("frac");
                (s.parse().expect("secs"), nanos)
            })
            .collect();
        let (secs, nanos) = firsts.into_iter().min().expect("a conversation");
        let ts = recs[0].0;
        let frac = ts - secs as f64; // exact: both near the same second
        let diff = (frac - nanos as f64 * 1e-9).abs();
        assert!(diff < 1e-6, "{name}: {ts} vs {secs}.{nanos:09} ({diff})");
    }
}

/// test_pcapio.py::test_pcapng_with_many_interfaces_keeps_each_link_type
#[test]
fn pcapng_with_many_interfaces_keeps_each_link_type() {
    let path = data("pcapplusplus_many_interfaces-1.pcapng");
    let mut reader = CaptureReader::open(path.to_str().expect("utf-8")).expect("opens");
    let mut kinds = std::collections::BTreeSet::new();
    while let Some(r) = reader.next_record() {
        kinds.insert(r.linktype);
    }
    assert_eq!(reader.linktypes().len(), 11);
    assert!(kinds.contains(&0) && kinds.contains(&1), "{kinds:?}");
}

/// test_pcapio.py::test_writer_round_trip_is_valid_for_tcpdump (the engine's writer, which `-w`
/// uses, and its reader).
#[test]
fn writer_round_trip_is_valid_for_tcpdump() {
    let (src, _) =
        records(data("tcpdump_print-flags.pcap").to_str().expect("utf-8")).expect("opens");
    let dir = std::env::temp_dir().join(format!("tcpwatch-roundtrip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let out = dir.join("copy.pcap");
    let mut w = PcapWriter::create(&out, src[0].3, 262_144).expect("create");
    for (ts, wire, frame, _) in &src {
        w.write(*ts, frame, *wire).expect("write");
    }
    w.close().expect("close");
    let (back, err) = records(out.to_str().expect("utf-8")).expect("reads back");
    assert_eq!(err, None);
    assert_eq!(back.len(), src.len());
    for (a, b) in back.iter().zip(&src) {
        assert_eq!((a.1, &a.2, a.3), (b.1, &b.2, b.3));
        assert!((a.0 - b.0).abs() < 1e-6);
    }
    if let Ok(run) = std::process::Command::new("tcpdump")
        .args(["-n", "-r"])
        .arg(&out)
        .output()
    {
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&run.stdout).lines().count(),
            src.len()
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The records as the headless export writes them: the flows that left first, then the rest.
fn export(
    segs: &[(Segment, Vec<u8>)],
    cfg: TrackerConfig,
    add: bool,
) -> (Vec<FlowRecord>, FlowTracker) {
    let mut t = FlowTracker::new(cfg).expect("valid config");
    let mut out = Vec::new();
    for (seg, _) in segs {
        if add {
            t.add(seg.clone(), &[]);
        } else {
            t.ingest(seg.clone(), &[]);
        }
        out.extend(t.take_gone().iter().map(Flow::record));
    }
    t.finish();
    out.extend(t.take_gone().iter().map(Flow::record));
    t.for_each_flow(|f| out.push(f.record()));
    (out, t)
}

/// test_embryos.py::test_embryos_change_nothing_that_comes_out: packed SYN-only flows are
/// invisible in the export, on every capture, with and without a flow cap.
#[test]
fn embryos_change_nothing_that_comes_out() {
    for name in captures() {
        let Some(segs) = segments(&name) else {
            continue;
        };
        for max_flows in [100_000, 3] {
            let cfg = |embryos| TrackerConfig {
                max_flows,
                frames_per_flow: 0,
                linger: Some(LINGER),
                embryos,
                ..TrackerConfig::default()
            };
            let (packed, a) = export(&segs, cfg(true), true);
            let (plain, b) = export(&segs, cfg(false), false);
            assert_eq!(packed, plain, "{name} {max_flows}");
            assert_eq!(
                (a.evicted, a.flow_count()),
                (b.evicted, b.flow_count()),
                "{name}"
            );
        }
    }
}

fn sorted_records(recs: &[FlowRecord]) -> Vec<String> {
    let mut out: Vec<String> = recs.iter().map(|r| format!("{r:?}")).collect();
    out.sort();
    out
}

/// test_ingest_paths.py::test_linger_releases_closed_flows_without_changing_records
#[test]
fn linger_releases_closed_flows_without_changing_records() {
    for name in captures() {
        let Some(segs) = segments(&name) else {
            continue;
        };
        let cfg = |linger| TrackerConfig {
            max_flows: 100_000,
            frames_per_flow: 0,
            linger,
            ..TrackerConfig::default()
        };
        let (kept, _) = export(&segs, cfg(None), false);
        let (early, t) = export(&segs, cfg(Some(LINGER)), false);
        assert_eq!(sorted_records(&early), sorted_records(&kept), "{name}");
        assert_eq!(t.evicted, 0, "{name}");
    }
}

/// test_ingest_paths.py::test_linger_lets_closed_flows_go
#[test]
fn linger_lets_closed_flows_go() {
    let segs = segments("tcpdump_resp_1_benchmark.pcap").expect("opens");
    let cfg = TrackerConfig {
        max_flows: 100_000,
        frames_per_flow: 0,
        linger: Some(0.0),
        ..TrackerConfig::default()
    };
    let (recs, mut t) = export(&segs, cfg, false);
    let closed = recs
        .iter()
        .filter(|r| !["", "half-closed"].contains(&r.close_kind))
        .count() as u64;
    // the last to close has no later flow to wait for
    assert!(
        closed > 1 && t.released + 1 >= closed,
        "{} {closed}",
        t.released
    );
    let mut left = 0u64;
    t.for_each_flow(|_| left += 1);
    assert_eq!(left + t.released, t.flow_count());
}

/// test_ingest_paths.py::test_frame_budget_empties_the_idlest_rings_first: kept segments stay
/// within the global budget; the idlest flows lose their rings first; every flow keeps its
/// handshake and teardown segments.
#[test]
fn frame_budget_empties_the_idlest_rings_first() {
    let segs = segments("tcpdump_resp_1_benchmark.pcap").expect("opens");
    let mut t = FlowTracker::new(TrackerConfig {
        frames_per_flow: 8,
        frame_budget: 40,
        ..TrackerConfig::default()
    })
    .expect("valid config");
    for (seg, frame) in &segs {
        t.ingest(seg.clone(), frame);
        assert!(t.kept() <= 40);
        let mut in_rings = 0;
        t.for_each_flow(|f| {
            in_rings += f.kept.ring.as_ref().map_or(0, |r| r.len());
        });
        assert_eq!(t.kept(), in_rings);
    }
    let mut flows = Vec::new();
    t.for_each_flow(|f| flows.push(f.clone()));
    assert!(segs.len() > 40 && flows.len() > 5);
    let has_ring = |f: &Flow| f.kept.ring.as_ref().is_some_and(|r| !r.is_empty());
    let (with, without): (Vec<&Flow>, Vec<&Flow>) = flows.iter().partition(|f| has_ring(f));
    assert!(!with.is_empty() && !without.is_empty());
    let oldest_with = with.iter().map(|f| f.last_ts).fold(f64::INFINITY, f64::min);
    let newest_without = without
        .iter()
        .map(|f| f.last_ts)
        .fold(f64::NEG_INFINITY, f64::max);
    assert!(oldest_with >= newest_without);
    for f in without {
        let mut special: Vec<u64> = f.kept.special.iter().map(|s| s.seg.frame_no).collect();
        special.sort_unstable();
        let frames: Vec<u64> = f.frames().iter().map(|k| k.seg.frame_no).collect();
        assert_eq!(frames, special, "flow {}", f.id);
        assert!(!frames.is_empty(), "flow {}: its SYN at least", f.id);
    }
}

/// test_ingest_paths.py::test_eviction_order_equals_a_full_sort: the lazily refreshed eviction
/// heaps evict the flows a full sort by (open, last seen, id) would, in its order.
#[test]
fn eviction_order_equals_a_full_sort() {
    let mut checked = 0;
    for name in captures() {
        let Some(segs) = segments(&name) else {
            continue;
        };
        // a capture in time order: the heaps are exact when flows' times only move forward
        if !segs.windows(2).all(|w| w[0].0.ts <= w[1].0.ts) {
            continue;
        }
        for cap in [1usize, 3, 17, 130] {
            for linger in [None, Some(0.5)] {
                let mut t = FlowTracker::new(TrackerConfig {
                    max_flows: cap,
                    frames_per_flow: 0,
                    linger,
                    ..TrackerConfig::default()
                })
                .expect("valid config");
                for (seg, _) in &segs {
                    let mut order: Vec<(bool, f64, u64)> = Vec::new();
                    t.for_each_flow(|f| {
                        order.push((!(f.closed() || f.superseded), f.last_ts, f.id));
                    });
                    order.sort_by(|a, b| {
                        a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2))
                    });
                    let (evicted, released) = (t.evicted, t.released);
                    t.ingest(seg.clone(), &[]);
                    let gone: Vec<u64> = t.take_gone().iter().map(|f| f.id).collect();
                    if t.released != released {
                        continue; // lingering flows left too: the sort is of what stayed
                    }
                    let n = (t.evicted - evicted) as usize;
                    assert_eq!(n, gone.len(), "{name} cap {cap}");
                    if n > 0 {
                        checked += 1;
                        assert_eq!(n, (cap / 64).max(1), "{name} cap {cap}");
                        let expected: Vec<u64> = order[..n].iter().map(|o| o.2).collect();
                        assert_eq!(gone, expected, "{name} cap {cap} {linger:?}");
                    }
                }
            }
        }
    }
    assert!(checked > 100, "{checked}");
}

/// test_fuzz_decode.py::test_fuzz_findings_stay_fixed: each kept fuzz finding (the first byte
/// is atheris' mode, then a capture) goes through reader, decoder and tracker.
#[test]
fn fuzz_findings_stay_fixed() {
    let dir = data("fuzz");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/data/fuzz")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .collect();
    names.sort();
    assert!(!names.is_empty());
    for path in names {
        let bytes = std::fs::read(&path).expect("finding");
        let name = path.display().to_string();
        let stream = std::io::Cursor::new(bytes[1..].to_vec());
        let Ok(mut reader) = CaptureReader::from_stream(Box::new(stream), &name) else {
            continue;
        };
        let mut d = Decoder::new(false);
        let mut t = FlowTracker::new(TrackerConfig {
            max_flows: 4,
            frames_per_flow: 4,
            ..TrackerConfig::default()
        })
        .expect("valid config");
        let mut n = 0u64;
        while let Some(r) = reader.next_record() {
            n += 1;
            if let Some(seg) = d.decode(r.data, r.ts, r.wire_len, r.linktype, n) {
                t.ingest(seg, r.data);
            }
        }
        t.finish();
        assert_eq!(counted(&d), n, "{name}");
        t.for_each_flow(|f| {
            let _ = f.record();
        });
    }
}

/// One TCP option of the kinds a SYN carries, with any length and contents (test_ingest_paths
/// `_OPTION`).
fn option() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::sample::select(vec![vec![0u8], vec![1u8]]),
        (
            prop::sample::select(vec![2u8, 3, 4, 5, 8, 19, 30, 34, 254]),
            0u8..15,
            prop::collection::vec(any::<u8>(), 0..13),
        )
            .prop_map(|(kind, len, body)| {
                let mut o = vec![kind, len];
                if kind == 254 {
                    o.extend([0xf9, 0x89]);
                }
                o.extend(body);
                o
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    /// test_ingest_paths.py::test_syn_options_agree_with_parse_options
    #[test]
    fn syn_options_agree_with_parse_options(
        opts in prop::collection::vec(option(), 0..7),
        cut in 0usize..41,
    ) {
        let raw: Vec<u8> = opts.concat();
        let raw = &raw[..cut.min(raw.len())];
        let o = parse_options(raw);
        let tfo: Option<Box<[u8]>> = o.tfo_cookie.clone().map(Into::into);
        prop_assert_eq!(syn_options(raw), (o.mss, o.wscale, o.sack_perm, o.ts_val.is_some(), tfo));
    }
}
