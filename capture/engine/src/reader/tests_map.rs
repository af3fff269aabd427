//! Mapped capture files (`map`): the same records, offsets and errors as a stream of the same
//! bytes, and a file that grows while it is read is read on past its map.

use std::io::Write;

use super::map::MIN_MAP;
use super::tests::{epb, idb, pcap, read_all, shb, Rec};
use super::CaptureReader;

/// A file under the temporary directory, removed on drop.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(tag: &str, bytes: &[u8]) -> TempFile {
        let name = format!("tcpwatch-map-{}-{tag}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, bytes).expect("a writable temporary directory");
        TempFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temporary path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn records(reader: &mut CaptureReader) -> Vec<Rec> {
    let mut out = Vec::new();
    while let Some(r) = reader.next_record() {
        out.push((r.ts, r.wire_len, r.data.to_vec(), r.linktype, 0));
        out.last_mut().expect("pushed").4 = reader.record_offset();
    }
    out
}

fn read_file(tag: &str, bytes: &[u8]) -> (Vec<Rec>, Option<String>) {
    let file = TempFile::new(tag, bytes);
    let mut reader = CaptureReader::open(file.path()).expect("a capture");
    let got = records(&mut reader);
    (got, reader.error().map(|e| e.replace(file.path(), "t")))
}

/// A pcapng of more than `MIN_MAP` bytes: two sections, frames of every length mod 4.
fn big_pcapng() -> Vec<u8> {
    let mut out = Vec::new();
    for section in 0..2u32 {
        out.extend(shb(section == 1));
        out.extend(idb(1, 65535, &[], section == 1));
        for i in 0..12_000u32 {
            let frame = vec![i as u8; 40 + (i % 7) as usize];
            out.extend(epb(0, u64::from(i) * 1000, &frame, section == 1));
        }
    }
    assert!(out.len() as u64 > MIN_MAP);
    out
}

#[test]
fn mapped_files_read_as_streams() {
    let plain = pcap(false, true, 20_000);
    assert!(plain.len() as u64 > MIN_MAP);
    let cut_record = &plain[..plain.len() - 10];
    let cut_header = &plain[..plain.len() - 70];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&pcap(true, false, 30_000)).expect("in memory");
    let mut gzipped = gz.finish().expect("in memory");
    gzipped.resize(MIN_MAP as usize + 10, 0); // trailing garbage: Python's error
    let ng = big_pcapng();
    let cases = [
        ("pcap", plain.as_slice()),
        ("cut-record", cut_record),
        ("cut-header", cut_header),
        ("gzip", gzipped.as_slice()),
        ("pcapng", ng.as_slice()),
        ("pcapng-cut", &ng[..ng.len() - 3]),
    ];
    for (tag, bytes) in cases {
        let (want, error) = read_all(bytes).expect("a capture");
        assert!(want.len() > 1000, "{tag}");
        assert_eq!(read_file(tag, bytes), (want, error), "{tag}");
    }
}

#[test]
fn a_file_grown_after_open_is_read_on() {
    let all = pcap(false, false, 20_000);
    // The map ends inside a record: its head is in the map, its tail only in the file.
    let at = all.len() - 76 * 300 - 30;
    let file = TempFile::new("grow", &all[..at]);
    let mut reader = CaptureReader::open(file.path()).expect("a capture");
    let first = reader.next_record().map(|r| r.data.to_vec());
    assert_eq!(first, Some(vec![0; 60]));
    let mut appender = std::fs::OpenOptions::new()
        .append(true)
        .open(&file.0)
        .expect("the file just written");
    appender.write_all(&all[at..]).expect("appended");
    let mut got = vec![(first.expect("read"), reader.record_offset())];
    while let Some(r) = reader.next_record() {
        got.push((r.data.to_vec(), reader.record_offset()));
    }
    let (want, error) = read_all(&all).expect("a capture");
    let want: Vec<_> = want.into_iter().map(|r| (r.2, r.4)).collect();
    assert_eq!((got, reader.error()), (want, error.as_deref()));
}
