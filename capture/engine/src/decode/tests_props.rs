//! Property tests: any bytes under any link type never panic and are counted exactly once; the
//! fast path gives exactly what the general walk gives (Python: tests/test_fuzz_decode.py).

use proptest::prelude::*;

use super::tests::{eth, ip4, ip6};
use super::*;

fn linktype() -> impl Strategy<Value = i32> {
    prop_oneof![
        proptest::sample::select(SUPPORTED_LINKTYPES.to_vec()),
        Just(-1),
        any::<i32>(),
    ]
}

/// An Ethernet frame close to the common case (0-2 tags of either kind, IPv4 or IPv6, a TCP
/// header with any data offset), then cut and overwritten, so both paths are exercised.
fn near_common() -> impl Strategy<Value = (Vec<u8>, u32)> {
    (
        proptest::collection::vec(
            prop_oneof![Just(0x8100u16), Just(0x88a8), Just(0x9100)],
            0..3,
        ),
        any::<bool>(),
        proptest::collection::vec(any::<u8>(), 20..90),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        any::<prop::sample::Index>(),
        0u32..200,
    )
        .prop_map(|(tags, v6, tcp, edits, cut, slack)| {
            let mut body = Vec::new();
            for tpid in tags.iter().skip(1) {
                body.extend([0, 9]);
                body.extend(tpid.to_be_bytes());
            }
            let ip = if v6 { ip6(6, &tcp) } else { ip4(6, &tcp) };
            let etype = if v6 { 0x86ddu16 } else { 0x0800 };
            let mut frame = match tags.first() {
                Some(&first) => {
                    body.extend([0, 9]);
                    body.extend(etype.to_be_bytes());
                    eth(first, &[&body[..], &ip].concat())
                }
                None => eth(etype, &ip),
            };
            for (at, byte) in edits {
                let i = at.index(frame.len());
                frame[i] = byte;
            }
            let wire = frame.len() as u32 + slack;
            frame.truncate(cut.index(frame.len() + 1));
            (frame, wire.saturating_sub(100))
        })
}

fn counted(d: &Decoder) -> u64 {
    d.tcp + d.non_tcp + d.fragments + d.malformed_total()
}

proptest! {
    #[test]
    fn any_bytes_are_counted_exactly_once(
        frames in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..160), linktype(), any::<u32>()), 1..20),
        verify in any::<bool>(),
    ) {
        let mut d = Decoder::new(verify);
        for (n, (data, linktype, wire)) in frames.iter().enumerate() {
            let (tcp, before) = (d.tcp, counted(&d));
            let seg = d.decode(data, n as f64, *wire, *linktype, n as u64 + 1);
            prop_assert_eq!(d.frames, n as u64 + 1);
            prop_assert_eq!(counted(&d), before + 1);
            prop_assert_eq!(seg.is_some(), d.tcp == tcp + 1);
            if let Some(seg) = seg {
                prop_assert!(seg.ip_off <= seg.tcp_off && seg.tcp_off as usize + 20 <= data.len());
                prop_assert_eq!(seg.caplen as usize, data.len());
            }
        }
    }

    #[test]
    fn fast_path_is_field_for_field_the_walk((frame, wire) in near_common(), verify in any::<bool>()) {
        let mut d = Decoder::new(verify);
        let seg = d.decode(&frame, 2.5, wire, LINKTYPE_ETHERNET, 7);
        prop_assert_eq!(counted(&d), 1);
        if let Some(fast) = fast::ether_fast(&frame, wire) {
            let mut walk = Decoder::new(verify);
            let mut long = walk.long(&frame, 2.5, wire, LINKTYPE_ETHERNET, 7);
            prop_assert!(long.is_some());
            if let Some(long) = long.as_mut() {
                let seg = seg.unwrap_or_default();
                // `decode` fills the per-frame fields and the checks on top of either path.
                long.frame_no = seg.frame_no;
                long.ts = seg.ts;
                long.linktype = seg.linktype;
                long.wire_len = seg.wire_len;
                long.caplen = seg.caplen;
                long.header_ok = seg.header_ok;
                long.ip_checksum_ok = seg.ip_checksum_ok;
                long.tcp_checksum_ok = seg.tcp_checksum_ok;
                prop_assert_eq!(&fast.vlan, &long.vlan);
                prop_assert_eq!(&seg, &*long);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]
    /// Python: test_tracker_accounts_every_segment. Mutated frames through a tiny tracker: every
    /// decoded segment is in exactly one flow that comes out (evicted or at the end), every flow
    /// started comes out once, the cap holds.
    #[test]
    fn tracker_accounts_every_segment(
        frames in proptest::collection::vec(near_common(), 1..25),
        cap in 1usize..6,
    ) {
        use crate::tracker::{FlowTracker, TrackerConfig};
        let mut d = Decoder::new(false);
        let mut t = FlowTracker::new(TrackerConfig {
            max_flows: cap,
            frames_per_flow: 4,
            ..TrackerConfig::default()
        })
        .expect("valid config");
        let mut out = Vec::new();
        let mut segments = 0u64;
        for (n, (frame, wire)) in frames.iter().enumerate() {
            let ts = 1000.0 + (n + 1) as f64 * 0.001;
            if let Some(seg) = d.decode(frame, ts, *wire, LINKTYPE_ETHERNET, n as u64 + 1) {
                segments += 1;
                t.ingest(seg, frame);
                prop_assert!(t.tracked() <= cap);
                t.take_changed();
            }
            out.extend(t.take_gone().iter().map(|f| f.record()));
        }
        t.finish();
        t.for_each_flow(|f| out.push(f.record()));
        let pkts: u64 = out.iter().map(|r| r.orig_pkts + r.resp_pkts).sum();
        prop_assert_eq!(pkts, segments);
        prop_assert_eq!(out.len() as u64, t.flow_count());
    }
}

/// The Ethernet frames of every bundled capture with a tshark truth file (a sample of them when
/// `step` > 1).
fn real_ethernet_frames(step: usize) -> Vec<(Vec<u8>, u32)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data");
    let mut names: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/data")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| {
            let truth = format!("{}.truth.json", p.display());
            !p.display().to_string().ends_with(".truth.json")
                && std::path::Path::new(&truth).exists()
        })
        .collect();
    names.sort();
    let mut out = Vec::new();
    for path in names {
        let Ok(mut reader) = crate::reader::CaptureReader::open(&path.display().to_string()) else {
            continue;
        };
        while let Some(r) = reader.next_record() {
            if r.linktype == LINKTYPE_ETHERNET {
                out.push((r.data.to_vec(), r.wire_len));
            }
        }
    }
    out.into_iter().step_by(step).collect()
}

/// The fast path's segment against the general walk's, on `frame`; whether the fast path answered.
fn fast_equals_walk(frame: &[u8], wire: u32, n: u64) -> bool {
    let Some(fast) = fast::ether_fast(frame, wire) else {
        return false;
    };
    let mut d = Decoder::new(false);
    let seg = d.decode(frame, 1.0, wire, LINKTYPE_ETHERNET, n);
    let mut walk = Decoder::new(false);
    let mut long = walk
        .long(frame, 1.0, wire, LINKTYPE_ETHERNET, n)
        .expect("the walk decodes what the fast path decodes");
    let seg = seg.expect("decode answers when the fast path does");
    // `decode` fills the per-frame fields and the checks on top of either path.
    long.frame_no = seg.frame_no;
    long.ts = seg.ts;
    long.linktype = seg.linktype;
    long.wire_len = seg.wire_len;
    long.caplen = seg.caplen;
    long.header_ok = seg.header_ok;
    long.ip_checksum_ok = seg.ip_checksum_ok;
    long.tcp_checksum_ok = seg.tcp_checksum_ok;
    assert_eq!(fast.vlan, long.vlan, "frame {n}");
    assert_eq!(seg, long, "frame {n}");
    true
}

/// Python: test_fast_path_equals_the_long_way_on_real_frames.
#[test]
fn fast_path_equals_the_walk_on_real_frames() {
    let frames = real_ethernet_frames(1);
    let answered = frames
        .iter()
        .enumerate()
        .filter(|(n, (frame, wire))| fast_equals_walk(frame, *wire, *n as u64 + 1))
        .count();
    assert!(
        answered > frames.len() / 2,
        "{answered} of {}",
        frames.len()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// Python: test_fast_path_equals_the_long_way_on_mutated_frames (real frames, a few bytes
    /// overwritten, cut anywhere, the wire length kept, the cut one or 20 bytes under it).
    #[test]
    fn fast_path_equals_the_walk_on_mutated_real_frames(
        pick in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..5),
        cut in any::<prop::sample::Index>(),
        wire_kind in 0u8..3,
    ) {
        thread_local! {
            static FRAMES: Vec<(Vec<u8>, u32)> = real_ethernet_frames(7)
                .into_iter()
                .filter(|(f, _)| 14 < f.len() && f.len() < 2000)
                .collect();
        }
        FRAMES.with(|frames| {
            let (frame, wire) = &frames[pick.index(frames.len())];
            let mut raw = frame.clone();
            for (at, byte) in &edits {
                let i = at.index(raw.len());
                raw[i] = *byte;
            }
            raw.truncate(cut.index(raw.len() + 1));
            let wire = match wire_kind {
                0 => *wire,
                1 => raw.len() as u32,
                _ => (raw.len() as u32).saturating_sub(20),
            };
            fast_equals_walk(&raw, wire, 1);
        });
    }
}
