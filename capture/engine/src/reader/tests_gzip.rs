//! Gzip input (whole, multi-member, cut at every offset, corrupt), and arbitrary bytes.

use std::io::{Cursor, Write};

use flate2::write::GzEncoder;
use flate2::Compression;
use proptest::prelude::*;

use super::gzmember::py_bytes_repr;
use super::tests::{block, epb, idb, pcap, read_all, shb};
use super::CaptureReader;

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).expect("in memory");
    enc.finish().expect("in memory")
}

fn pcapng() -> Vec<u8> {
    let mut ng = shb(false);
    ng.extend(idb(1, 0, &[], false));
    for i in 0..5 {
        ng.extend(epb(0, i, &[i as u8; 33], false));
    }
    ng
}

#[test]
fn gzip_reads_as_the_capture_inside() {
    for plain in [pcap(true, true, 50), pcapng()] {
        let want = read_all(&plain).expect("opens");
        assert_eq!(read_all(&gz(&plain)).expect("opens"), want);
        let half = plain.len() / 2;
        let multi = [gz(&plain[..half]), gz(&plain[half..]), vec![0; 5]].concat();
        assert_eq!(read_all(&multi).expect("opens"), want);
    }
}

#[test]
fn gzip_cut_at_every_offset() {
    for plain in [pcap(false, false, 20), pcapng()] {
        let whole = gz(&plain);
        let all = read_all(&plain).expect("opens").0;
        for cut in 0..whole.len() {
            match read_all(&whole[..cut]) {
                Ok((recs, error)) => {
                    assert!(
                        recs.len() <= all.len() && recs[..] == all[..recs.len()],
                        "cut {cut}"
                    );
                    let want = "t: compressed capture cut short";
                    assert_eq!(error.as_deref(), Some(want), "cut {cut}");
                }
                Err(e) => assert!(
                    e == "t: compressed capture cut short"
                        || e == "t: empty file, not a capture"
                        || e.starts_with("t: truncated pcap")
                        || e.starts_with("t: bad pcapng")
                        || e.starts_with("t: truncated pcapng")
                        || e == "t: not a pcap or pcapng file (starts with 1f)",
                    "cut {cut}: {e}"
                ),
            }
        }
    }
}

#[test]
fn gzip_corruption_messages() {
    let plain = pcap(false, false, 3);
    let whole = gz(&plain);
    let mut crc = whole.clone();
    let at = crc.len() - 8;
    crc[at] ^= 1;
    let (recs, error) = read_all(&crc).expect("opens");
    assert_eq!(recs.len(), 3);
    assert!(error
        .unwrap_or_default()
        .starts_with("t: corrupt compressed capture (CRC check failed 0x"));
    let garbage = [whole.clone(), b"PK\x03\x04".to_vec()].concat();
    let (recs, error) = read_all(&garbage).expect("opens");
    assert_eq!(recs.len(), 3);
    assert_eq!(
        error.as_deref(),
        Some("t: corrupt compressed capture (Not a gzipped file (b'PK'))")
    );
    let mut method = whole.clone();
    method[2] = 7;
    let e = read_all(&method).err();
    assert_eq!(
        e.as_deref(),
        Some("t: corrupt compressed capture (Unknown compression method)")
    );
    // A deflate block of the reserved type 3.
    let bad = [&whole[..10], &[0x07, 0, 0, 0, 0][..]].concat();
    let e = read_all(&bad).err();
    let want =
        "t: corrupt compressed capture (Error -3 while decompressing data: invalid block type)";
    assert_eq!(e.as_deref(), Some(want));
}

#[test]
fn bytes_repr_as_python() {
    assert_eq!(py_bytes_repr(b"PK"), "b'PK'");
    assert_eq!(py_bytes_repr(b"'\x00"), "b\"'\\x00\"");
    assert_eq!(py_bytes_repr(b"'\""), "b'\\'\"'");
    assert_eq!(py_bytes_repr(b"\\\n"), "b'\\\\\\n'");
}

fn drain(bytes: Vec<u8>) {
    if let Ok(mut reader) = CaptureReader::from_stream(Box::new(Cursor::new(bytes)), "f") {
        let mut n = 0usize;
        while let Some(r) = reader.next_record() {
            n += r.data.len();
        }
        let _ = (n, reader.error(), reader.record_offset());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..600), kind in 0..5u8) {
        let head = match kind {
            0 => Vec::new(),
            1 => pcap(kind % 2 == 0, false, 0),
            2 => shb(true),
            3 => [shb(false), idb(1, 0, &[], false)].concat(),
            _ => block(0x0A0D_0D0A, &[0x4d, 0x3c, 0x2b, 0x1a], false),
        };
        let bytes = [head, tail].concat();
        drain(gz(&bytes));
        drain(bytes);
    }

    #[test]
    fn arbitrary_gzip_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..300)) {
        let head = gz(&pcap(false, false, 2));
        drain([&head[..head.len() / 2], &tail[..]].concat());
        drain([&[0x1f, 0x8b, 8, 0][..], &tail[..]].concat());
    }
}
