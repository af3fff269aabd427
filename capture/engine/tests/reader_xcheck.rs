//! Cross-check against the Python reader: reads the cases written by `xcheck/reader_xcheck.py`
//! and compares every record (time bits, lengths, link type, data hash) and the error with
//! Python's. Ignored by default (11k cases; generate them first, see the script), and passes
//! with a note when they were not generated; `READER_XCHECK_DIR` overrides /tmp/reader-xcheck.
//!
//! `cargo test --release --test reader_xcheck -- --ignored --nocapture`

use std::fmt::Write as _;
use std::path::PathBuf;

use _engine::reader::CaptureReader;
use blake2::digest::consts::U16;
use blake2::{Blake2b, Digest};

fn dump(path: &str, name: &str) -> String {
    let mut out = format!("FILE {name}\n");
    let mut reader = match CaptureReader::open(path) {
        Ok(reader) => reader,
        Err(e) => return out + &format!("OPEN_ERROR {e}\n"),
    };
    writeln!(out, "FORMAT {} {}", reader.format(), reader.snaplen()).ok();
    while let Some(r) = reader.next_record() {
        let digest = Blake2b::<U16>::digest(r.data);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let (bits, len) = (r.ts.to_bits(), r.data.len());
        writeln!(
            out,
            "R {bits:016x} {} {len} {} {hex}",
            r.wire_len, r.linktype
        )
        .ok();
    }
    let types: Vec<String> = reader.linktypes().iter().map(|t| t.to_string()).collect();
    let error = reader.error().unwrap_or("");
    writeln!(out, "END [{}] {error}", types.join(", ")).ok();
    out
}

#[test]
#[ignore]
fn records_and_errors_equal_pythons() {
    let dir = PathBuf::from(
        std::env::var("READER_XCHECK_DIR").unwrap_or_else(|_| "/tmp/reader-xcheck".into()),
    );
    let Ok(list) = std::fs::read_to_string(dir.join("cases.txt")) else {
        eprintln!(
            "no cases in {}: run xcheck/reader_xcheck.py first",
            dir.display()
        );
        return;
    };
    let expected = std::fs::read_to_string(dir.join("python.txt")).expect("python.txt");
    let mut wanted = expected.split("FILE ").filter(|s| !s.is_empty());
    let (mut same, mut differ) = (0, Vec::new());
    for name in list.lines().filter(|l| !l.is_empty()) {
        let path = dir.join(name);
        let ours = dump(path.to_str().expect("utf-8 path"), name);
        let theirs = format!("FILE {}", wanted.next().unwrap_or(""));
        if ours == theirs {
            same += 1;
        } else {
            let first = ours.lines().zip(theirs.lines()).find(|(a, b)| a != b);
            differ.push(format!("{name}: first difference {first:?}"));
        }
    }
    println!("reader xcheck: {same} cases equal, {} differ", differ.len());
    for line in differ.iter().take(40) {
        println!("  {line}");
    }
    assert!(
        differ.is_empty(),
        "{} cases differ from Python",
        differ.len()
    );
}
