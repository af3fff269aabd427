//! Hand-built captures: both byte orders, µs/ns, pcapng interfaces/sections/options, cut files.

use std::io::{Cursor, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::{CaptureReader, MAX_RECORD, UNDECLARED_INTERFACE};

pub(super) type Rec = (f64, u32, Vec<u8>, i32, u64);

/// Every record of `bytes`, then the error (or the open error as `Err`).
pub(super) fn read_all(bytes: &[u8]) -> Result<(Vec<Rec>, Option<String>), String> {
    let stream = Box::new(Cursor::new(bytes.to_vec()));
    let mut reader = CaptureReader::from_stream(stream, "t").map_err(|e| e.0)?;
    let mut out = Vec::new();
    while let Some(r) = reader.next_record() {
        out.push((r.ts, r.wire_len, r.data.to_vec(), r.linktype, 0));
        out.last_mut().expect("pushed").4 = reader.record_offset();
    }
    Ok((out, reader.error().map(str::to_string)))
}

fn u16b(v: u16, big: bool) -> [u8; 2] {
    if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

fn u32b(v: u32, big: bool) -> [u8; 4] {
    if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

/// A pcap with `n` 60-byte records (record i: second 1000+i, fraction 999+i, wire 70).
pub(super) fn pcap(big: bool, nano: bool, n: u32) -> Vec<u8> {
    let magic: u32 = if nano { 0xA1B2_3C4D } else { 0xA1B2_C3D4 };
    let mut out = u32b(magic, big).to_vec();
    out.extend(u16b(2, big));
    out.extend(u16b(4, big));
    out.extend([0; 8]);
    out.extend(u32b(65535, big));
    out.extend(u32b(0x1000_0001, big)); // FCS bits above the link type
    for i in 0..n {
        for v in [1000 + i, 999 + i, 60, 70] {
            out.extend(u32b(v, big));
        }
        out.extend(std::iter::repeat_n(i as u8, 60));
    }
    out
}

pub(super) fn block(btype: u32, body: &[u8], big: bool) -> Vec<u8> {
    let mut body = body.to_vec();
    body.resize(body.len().div_ceil(4) * 4, 0);
    let total = 12 + body.len() as u32;
    let mut out = u32b(btype, big).to_vec();
    out.extend(u32b(total, big));
    out.extend(body);
    out.extend(u32b(total, big));
    out
}

fn opt(code: u16, value: &[u8], big: bool) -> Vec<u8> {
    let mut out = u16b(code, big).to_vec();
    out.extend(u16b(value.len() as u16, big));
    out.extend(value);
    out.resize(out.len().div_ceil(4) * 4, 0);
    out
}

pub(super) fn shb(big: bool) -> Vec<u8> {
    let mut body = u32b(0x1A2B_3C4D, big).to_vec();
    body.extend(u16b(1, big));
    body.extend([0; 2]);
    body.extend([0xff; 8]);
    block(0x0A0D_0D0A, &body, big)
}

pub(super) fn idb(linktype: u16, snaplen: u32, opts: &[u8], big: bool) -> Vec<u8> {
    let mut body = u16b(linktype, big).to_vec();
    body.extend([0; 2]);
    body.extend(u32b(snaplen, big));
    body.extend(opts);
    block(1, &body, big)
}

pub(super) fn epb(iface: u32, ticks: u64, frame: &[u8], big: bool) -> Vec<u8> {
    let mut body = Vec::new();
    for v in [
        iface,
        (ticks >> 32) as u32,
        ticks as u32,
        frame.len() as u32,
        99,
    ] {
        body.extend(u32b(v, big));
    }
    body.extend(frame);
    block(6, &body, big)
}

#[test]
fn pcap_both_orders_and_units() {
    for (big, nano) in [(false, false), (true, false), (false, true), (true, true)] {
        let (recs, error) = read_all(&pcap(big, nano, 3)).expect("opens");
        assert_eq!(error, None);
        assert_eq!(recs.len(), 3);
        let unit = if nano { 1e-9 } else { 1e-6 };
        for (i, (ts, wire, data, linktype, offset)) in recs.iter().enumerate() {
            assert_eq!(*ts, (1000 + i) as f64 + (999 + i) as f64 * unit);
            assert_eq!((*wire, data.len(), *linktype), (70, 60, 1));
            assert_eq!(data[0], i as u8);
            assert_eq!(*offset, 24 + 76 * i as u64);
        }
    }
    let reader = CaptureReader::from_stream(Box::new(Cursor::new(pcap(true, true, 0))), "t");
    let reader = reader.expect("opens");
    assert_eq!(
        (reader.format(), reader.snaplen(), reader.linktypes()),
        ("pcap", 65535, &[1][..])
    );
}

#[test]
fn pcapng_interfaces_sections_and_options() {
    for big in [false, true] {
        let frame = [7u8; 42];
        let mut cap = shb(big);
        cap.extend(idb(1, 0, &[], big));
        let mut opts = opt(9, &[9], big);
        opts.extend(opt(
            14,
            &u32b(5, big)
                .iter()
                .chain(&[0; 4])
                .copied()
                .collect::<Vec<_>>(),
            big,
        ));
        cap.extend(idb(101, 0, &opts, big));
        cap.extend(epb(0, 1_700_000_000_123_456, &frame, big));
        cap.extend(epb(1, 1_700_000_000_123_456_789, &frame, big));
        cap.extend(epb(2, 1_500_000, &frame, big));
        cap.extend(shb(!big)); // a new section, the other byte order: interfaces start over
        cap.extend(idb(113, 0, &opt(9, &[0x83], !big), !big));
        cap.extend(epb(0, 80, &frame, !big));
        cap.extend(epb(1, 80, &frame, !big));
        let (recs, error) = read_all(&cap).expect("opens");
        assert_eq!(error, None);
        let got: Vec<(f64, i32)> = recs.iter().map(|r| (r.0, r.3)).collect();
        let offset = if big { 5i64 << 32 } else { 5 };
        assert_eq!(
            got,
            vec![
                (1_700_000_000_123_456_f64 * 1e-6, 1),
                (
                    offset as f64 + 1_700_000_000_123_456_789_f64 * 10f64.powf(-9.0),
                    101
                ),
                (1.5, UNDECLARED_INTERFACE),
                (10.0, 113),
                (80.0 * 1e-6, UNDECLARED_INTERFACE),
            ]
        );
        assert!(recs.iter().all(|r| r.2 == frame && r.1 == 99));
        let reader = CaptureReader::from_stream(Box::new(Cursor::new(cap)), "t").expect("opens");
        assert_eq!(reader.format(), "pcapng");
    }
}

#[test]
fn pcapng_simple_and_obsolete_packets() {
    let frame: Vec<u8> = (0..60).collect();
    let mut cap = shb(false);
    cap.extend(block(
        3,
        &[&80u32.to_le_bytes()[..], &frame].concat(),
        false,
    )); // no interface: skipped
    cap.extend(idb(1, 20, &[], false));
    cap.extend(block(
        3,
        &[&80u32.to_le_bytes()[..], &frame].concat(),
        false,
    ));
    let opb = [
        &[0, 0, 0, 0][..],
        &0u32.to_le_bytes(),
        &99u32.to_le_bytes(),
        &10u32.to_le_bytes(),
        &60u32.to_le_bytes(),
        &frame,
    ]
    .concat();
    cap.extend(block(2, &opb, false));
    let (recs, error) = read_all(&cap).expect("opens");
    assert_eq!(error, None);
    assert_eq!(recs.len(), 2);
    assert_eq!(
        (recs[0].0, recs[0].1, &recs[0].2[..], recs[0].3),
        (0.0, 80, &frame[..20], 1)
    );
    assert_eq!((recs[1].0, recs[1].1, recs[1].2.len()), (99e-6, 60, 10));
    assert_eq!(recs[0].4 as usize, shb(false).len() + 76 + 20);
}

#[test]
fn interface_option_overrunning_the_block() {
    for code in [9u16, 14] {
        let mut opts = code.to_le_bytes().to_vec();
        opts.extend(8u16.to_le_bytes()); // announces 8 bytes, the block ends
        let mut cap = shb(false);
        cap.extend(idb(1, 0, &opts, false));
        cap.extend(epb(0, 3, &[1, 2, 3], false));
        let (recs, error) = read_all(&cap).expect("opens");
        assert_eq!((recs.len(), error), (1, None));
        assert_eq!(recs[0].0, 3e-6);
    }
}

#[test]
fn open_errors() {
    let err = |bytes: &[u8]| read_all(bytes).err().unwrap_or_default();
    assert_eq!(err(b""), "t: empty file, not a capture");
    assert_eq!(
        err(b"GIF89a"),
        "t: not a pcap or pcapng file (starts with 47494638)"
    );
    assert_eq!(
        err(b"\xd4\xc3"),
        "t: not a pcap or pcapng file (starts with d4c3)"
    );
    assert_eq!(
        err(&pcap(false, false, 0)[..10]),
        "t: truncated pcap file header"
    );
    let mut v9 = pcap(false, false, 0);
    v9[4] = 9;
    assert_eq!(err(&v9), "t: unsupported pcap version 9");
    assert_eq!(err(&shb(false)[..10]), "t: bad pcapng byte-order magic");
    assert_eq!(err(&shb(false)[..20]), "t: truncated pcapng section header");
    let mut odd = shb(false);
    odd[4] = 29;
    assert_eq!(err(&odd), "t: corrupt pcapng block length 29");
    let dir = std::env::temp_dir();
    let dir = dir.to_str().expect("utf-8");
    let open = |p: &str| CaptureReader::open(p).err().map(|e| e.0);
    assert_eq!(
        open(dir),
        Some(format!("{dir}: is a directory, not a capture file"))
    );
    assert_eq!(
        open("/nonexistent/x.pcap"),
        Some("/nonexistent/x.pcap: no such file".into())
    );
}

#[test]
fn corrupt_records_after_the_first() {
    let mut cap = pcap(false, false, 1);
    cap.extend([1, 0, 0, 0, 0, 0, 0, 0]);
    cap.extend(((MAX_RECORD + 1) as u32).to_le_bytes());
    cap.extend([60, 0, 0, 0]);
    let (recs, error) = read_all(&cap).expect("opens");
    assert_eq!(recs.len(), 1);
    assert_eq!(
        error.as_deref(),
        Some("t: corrupt record (claims 16777217 bytes)")
    );
    let mut ng = shb(false);
    ng.extend(idb(1, 0, &[], false));
    ng.extend(epb(0, 1, &[1; 8], false));
    ng.extend(
        block(6, &[0; 40], false)[..4]
            .iter()
            .chain(&50u32.to_le_bytes()),
    );
    let (recs, error) = read_all(&ng).expect("opens");
    assert_eq!(recs.len(), 1);
    assert_eq!(error.as_deref(), Some("t: corrupt pcapng block length 50"));
}

/// Cut at every offset: the whole records before the cut, then the right error.
#[test]
fn cut_files_give_the_records_before_the_cut() {
    let whole = pcap(true, false, 4);
    for cut in 24..whole.len() {
        let (recs, error) = read_all(&whole[..cut]).expect("header whole");
        let done = (cut - 24) / 76;
        assert_eq!(recs.len(), done, "cut {cut}");
        let error = error.unwrap_or_default();
        match (cut - 24) % 76 {
            0 => assert_eq!(error, ""),
            1..=15 => assert_eq!(error, "t: file ends inside a record header"),
            _ => assert_eq!(error, "t: file ends inside a record (60 bytes announced)"),
        }
    }
    let mut ng = shb(true);
    ng.extend(idb(1, 0, &[], true));
    let starts: Vec<usize> = (0..4)
        .map(|i| {
            let at = ng.len();
            ng.extend(epb(0, i, &[i as u8; 30], true));
            at
        })
        .collect();
    for cut in starts[0]..ng.len() {
        let (recs, error) = read_all(&ng[..cut]).expect("header whole");
        let done = starts.iter().filter(|&&s| s + 64 <= cut).count();
        assert_eq!(recs.len(), done, "cut {cut}");
        let whole_block = starts.contains(&cut);
        let want = if whole_block {
            ""
        } else {
            "t: file ends inside a pcapng block"
        };
        assert_eq!(error.unwrap_or_default(), want, "cut {cut}");
    }
}

/// A stream that hands out scripted chunks and counts the reads it was asked for.
struct Chunks {
    chunks: Vec<Vec<u8>>,
    reads: Arc<AtomicUsize>,
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let i = self.reads.fetch_add(1, Ordering::SeqCst);
        let Some(chunk) = self.chunks.get_mut(i) else {
            return Ok(0);
        };
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        chunk.drain(..n);
        Ok(n)
    }
}

/// A pipe's record is handed over as soon as it is whole: no read beyond it is asked for.
#[test]
fn pipe_records_are_not_held_back() {
    let cap = pcap(false, false, 2);
    let reads = Arc::new(AtomicUsize::new(0));
    let chunks = vec![
        cap[..4].to_vec(),
        cap[4..24 + 76].to_vec(),
        cap[100..].to_vec(),
    ];
    let stream = Chunks {
        chunks,
        reads: reads.clone(),
    };
    let mut reader = CaptureReader::from_stream(Box::new(stream), "p").expect("opens");
    assert_eq!(reads.load(Ordering::SeqCst), 2);
    assert!(reader.next_record().is_some());
    assert_eq!(
        reads.load(Ordering::SeqCst),
        2,
        "the first record needed no more reading"
    );
    assert!(reader.next_record().is_some());
    assert!(reader.next_record().is_none());
    assert_eq!(reader.error(), None);
}

/// Through a real pipe whose writer stays open: each record arrives while more may follow.
#[test]
fn real_pipe_is_not_waited_on() {
    use std::io::Write;
    use std::sync::mpsc;
    use std::time::Duration;

    let (reader, mut writer) = std::io::pipe().expect("pipe");
    let cap = pcap(false, true, 2);
    writer.write_all(&cap[..24 + 76]).expect("write");
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let mut capture = CaptureReader::from_stream(Box::new(reader), "-").expect("opens");
        for _ in 0..2 {
            let got = capture.next_record().map(|r| r.data[0]);
            tx.send(got).expect("send");
        }
        capture.next_record().is_none() && capture.error().is_none()
    });
    let wait = Duration::from_secs(10);
    assert_eq!(
        rx.recv_timeout(wait),
        Ok(Some(0)),
        "first record while the pipe is open"
    );
    writer.write_all(&cap[24 + 76..]).expect("write");
    assert_eq!(rx.recv_timeout(wait), Ok(Some(1)));
    drop(writer);
    assert!(thread.join().expect("reader thread"));
}
