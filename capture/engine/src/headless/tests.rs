//! The threaded export (`run_threaded`) against the run in line (`run_with`): the same totals
//! when a run is stopped at a check, and the same records as a run in line.

use std::io::Cursor;

use super::{run, HeadlessConfig, Totals, CHECK_EVERY};
use crate::export::Format;
use crate::filter::Filter;
use crate::reader::CaptureReader;

/// A pcap of `n` Ethernet frames: mostly not IP, every seventh a cut IPv4 header (malformed),
/// every third a TCP SYN of its own flow.
fn capture(n: u32) -> Vec<u8> {
    let mut out = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    out.extend([0; 8]);
    out.extend(65535u32.to_le_bytes());
    out.extend(1u32.to_le_bytes());
    for i in 0..n {
        let frame = frame(i);
        for v in [1000 + i, 0, frame.len() as u32, frame.len() as u32] {
            out.extend(v.to_le_bytes());
        }
        out.extend(frame);
    }
    out
}

fn frame(i: u32) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    if i.is_multiple_of(7) {
        f.extend([0x08, 0x00, 0x45, 0x00]); // IPv4, cut after 2 bytes
        return f;
    }
    if !i.is_multiple_of(3) {
        f.extend([0x88, 0xb5]);
        f.extend([0; 46]);
        return f;
    }
    f.extend([0x08, 0x00]);
    let mut ip = vec![
        0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    ip[12..16].copy_from_slice(&(0x0a00_0000 + i).to_be_bytes());
    f.extend(ip);
    let port = (i % 50_000) as u16 + 1024;
    f.extend(port.to_be_bytes());
    f.extend(80u16.to_be_bytes());
    f.extend(i.to_be_bytes());
    f.extend([0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    f
}

fn config(export: Option<Format>, print: bool) -> HeadlessConfig {
    HeadlessConfig {
        print,
        absolute: false,
        utc: true,
        export,
        max_flows: 1000,
        verify_checksums: false,
        filter: Filter::compile("").expect("the empty filter"),
        speed: None,
        insights: false,
        uid_seed: 0,
    }
}

/// The totals and the records of a run, stopped at the `stop_at`-th check (0: never).
fn run_on(bytes: &[u8], cfg: &HeadlessConfig, stop_at: usize) -> (Totals, Vec<u8>) {
    let stream = Box::new(Cursor::new(bytes.to_vec()));
    let mut reader = CaptureReader::from_stream(stream, "t").expect("a capture");
    let (mut lines, mut records) = (Vec::new(), Vec::new());
    let mut checks = 0;
    let mut stop = || {
        checks += 1;
        checks == stop_at
    };
    let (totals, _) =
        run(&mut reader, cfg, &mut lines, &mut records, &mut stop).expect("in memory");
    (totals, records)
}

fn counts(t: &Totals) -> impl PartialEq + std::fmt::Debug {
    let r = (t.frames, t.tcp, t.malformed.clone(), t.flows, t.evicted);
    (r, t.records, t.error.clone(), t.stopped)
}

#[test]
fn threaded_export_is_the_export_in_line() {
    let bytes = capture(2 * CHECK_EVERY as u32 + 10);
    let mut cut = bytes.clone();
    cut.extend([1, 2, 3]); // a cut record header: the error is reported
    let jsonl = Some(Format::Jsonl);
    let runs = [
        (jsonl, &bytes, 0),
        (jsonl, &cut, 2),
        (jsonl, &bytes, 1),
        (Some(Format::Csv), &cut, 0),
    ];
    for (format, bytes, stop_at) in runs {
        let threaded = run_on(bytes, &config(format, false), stop_at);
        // --print makes the same run in line (its lines go elsewhere).
        let in_line = run_on(bytes, &config(format, true), stop_at);
        assert_eq!(
            counts(&threaded.0),
            counts(&in_line.0),
            "{format:?} {stop_at}"
        );
        assert!(threaded.0.records.is_some_and(|n| n > 100));
        assert!(
            threaded.1 == in_line.1,
            "{format:?} {stop_at}: records differ"
        );
    }
    let stopped = run_on(&bytes, &config(Some(Format::Jsonl), false), 1).0;
    assert_eq!((stopped.frames, stopped.stopped), (CHECK_EVERY - 1, true));
    let cut_short = run_on(&cut, &config(jsonl, false), 0).0;
    assert!(cut_short.error.is_some_and(|e| e.contains("record header")));
}
