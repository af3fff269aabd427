//! The writer's record-boundary guarantee, over a fake file that fills up.

use super::*;
use proptest::prelude::*;

/// A file of at most `room` bytes: writes past it are short, then fail like a full disk.
struct SmallFile {
    data: Vec<u8>,
    room: usize,
    chunk: usize,
}

impl RecordFile for SmallFile {
    fn write_some(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(self.room - self.data.len()).min(self.chunk);
        if n == 0 {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        self.data.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn cut(&mut self, len: u64) -> io::Result<()> {
        self.data.truncate(len as usize);
        Ok(())
    }
}

/// Record lengths of a classic pcap, or None when it does not end on a record boundary.
fn whole_records(file: &[u8]) -> Option<Vec<usize>> {
    let mut pos = 24;
    let mut out = vec![];
    if file.len() < pos {
        return None;
    }
    while pos < file.len() {
        let head = file.get(pos..pos + 16)?;
        let caplen = u32::from_le_bytes(head[8..12].try_into().ok()?) as usize;
        pos += 16 + caplen;
        out.push(caplen);
    }
    (pos == file.len()).then_some(out)
}

#[test]
fn header_and_record_layout() {
    let file = SmallFile {
        data: vec![],
        room: 1 << 20,
        chunk: usize::MAX,
    };
    let mut w = PcapWriter::new(file, 1, 262_144);
    w.write(1_700_000_000.25, b"abcd", 60).unwrap();
    w.flush().unwrap();
    let data = &w.file.as_ref().unwrap().data;
    assert_eq!(&data[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
    assert_eq!(
        u32::from_le_bytes(data[16..20].try_into().unwrap()),
        262_144
    );
    assert_eq!(u32::from_le_bytes(data[20..24].try_into().unwrap()), 1);
    assert_eq!(
        u32::from_le_bytes(data[24..28].try_into().unwrap()),
        1_700_000_000
    );
    assert_eq!(
        u32::from_le_bytes(data[28..32].try_into().unwrap()),
        250_000
    );
    assert_eq!(u32::from_le_bytes(data[32..36].try_into().unwrap()), 4);
    assert_eq!(u32::from_le_bytes(data[36..40].try_into().unwrap()), 60);
    assert_eq!(&data[40..], b"abcd");
    assert_eq!(w.bytes_on_disk(), 44);
}

#[test]
fn timestamps_round_like_python() {
    // pcapio.py: int(round((ts - sec) * 1e6)), carried at 1e6.
    // Values printed by `int(ts), int(round((ts - int(ts)) * 1e6))` in CPython.
    assert_eq!(split_ts(1.0000005), (1, 1));
    assert_eq!(split_ts(2.9999999), (3, 0));
    assert_eq!(split_ts(0.0000025), (0, 2)); // a tie: to even
    assert_eq!(split_ts(1_700_000_000.000_000_5), (1_700_000_000, 0));
    assert_eq!(split_ts(1_700_000_000.123_456), (1_700_000_000, 123_456));
}

#[test]
fn snaplen_cuts_the_frame_but_keeps_the_wire_length() {
    let file = SmallFile {
        data: vec![],
        room: 1 << 20,
        chunk: usize::MAX,
    };
    let mut w = PcapWriter::new(file, 1, 3);
    w.write(0.0, b"abcdef", 6).unwrap();
    w.close().unwrap();
    assert!(w.close().is_ok(), "a second close does nothing");
}

#[test]
fn a_full_file_is_cut_back_to_the_last_whole_record() {
    let file = SmallFile {
        data: vec![],
        room: 24 + 2 * (16 + 100) + 50,
        chunk: 7,
    };
    let mut w = PcapWriter::new(file, 1, 262_144);
    for n in 0..5u8 {
        w.write(f64::from(n), &[n; 100], 100).unwrap();
    }
    let err = w.flush().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
    let data = &w.file.as_ref().unwrap().data;
    assert_eq!(whole_records(data), Some(vec![100, 100]));
    assert_eq!(w.bytes_on_disk(), data.len() as u64);
    // The other three records are still buffered: room made, they follow.
    w.file.as_mut().unwrap().room = 1 << 20;
    w.close().unwrap();
}

proptest! {
    #[test]
    fn any_failure_point_leaves_whole_records(
        sizes in proptest::collection::vec(0usize..3000, 1..40),
        room in 0usize..40_000,
        chunk in 1usize..5000,
    ) {
        let file = SmallFile { data: vec![], room, chunk };
        let mut w = PcapWriter::new(file, 1, 2000);
        let mut failed = false;
        for (n, size) in sizes.iter().enumerate() {
            if w.write(n as f64, &vec![1u8; *size], *size as u32).is_err() {
                failed = true;
                break;
            }
        }
        if !failed {
            failed = w.flush().is_err();
        }
        let data = w.file.as_ref().unwrap().data.clone();
        if data.len() >= 24 {
            prop_assert!(whole_records(&data).is_some());
        } else {
            prop_assert!(failed && data.is_empty());
        }
        // With room, everything buffered follows: all records, in order, snapped at 2000.
        w.file.as_mut().unwrap().room = usize::MAX;
        w.flush().unwrap();
        let all = whole_records(&w.file.as_ref().unwrap().data).unwrap();
        let want: Vec<usize> = sizes.iter().take(all.len()).map(|s| (*s).min(2000)).collect();
        prop_assert_eq!(all, want);
    }
}
