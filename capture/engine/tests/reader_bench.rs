//! Reader throughput on small frames (ignored by default; run in release):
//! `cargo test --release --test reader_bench -- --ignored --nocapture`.

use std::io::Write;
use std::time::Instant;

use _engine::reader::CaptureReader;

const RECORDS: u32 = 4_000_000;

fn write_pcap(path: &str) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let head = [
        0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
    ];
    out.write_all(&head).expect("write");
    for i in 0..RECORDS {
        for v in [i / 1000, i % 1_000_000, 60, 60] {
            out.write_all(&v.to_le_bytes()).expect("write");
        }
        out.write_all(&[i as u8; 60]).expect("write");
    }
}

fn write_pcapng(path: &str) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let block = |t: u32, body: &[u8]| {
        let total = 12 + body.len() as u32;
        [
            &t.to_le_bytes()[..],
            &total.to_le_bytes(),
            body,
            &total.to_le_bytes(),
        ]
        .concat()
    };
    let shb = [
        0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ];
    out.write_all(&block(0x0A0D_0D0A, &shb)).expect("write");
    out.write_all(&block(1, &[1, 0, 0, 0, 0, 0, 4, 0]))
        .expect("write");
    for i in 0..RECORDS {
        let mut body = Vec::with_capacity(80);
        for v in [0, 0, i, 60, 60] {
            body.extend(v.to_le_bytes());
        }
        body.extend([i as u8; 60]);
        out.write_all(&block(6, &body)).expect("write");
    }
}

fn measure(path: &str) {
    measure_n(path, RECORDS as u64);
}

fn measure_n(path: &str, records: u64) {
    for _ in 0..3 {
        let start = Instant::now();
        let mut reader = CaptureReader::open(path).expect("opens");
        let (mut n, mut sum) = (0u64, 0u64);
        while let Some(r) = reader.next_record() {
            n += 1;
            sum += r.data.len() as u64 + r.wire_len as u64;
        }
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(n, records);
        println!(
            "{path}: {n} records in {secs:.3} s = {:.1} M records/s ({sum})",
            n as f64 / secs / 1e6
        );
    }
}

#[test]
#[ignore]
fn small_frames_per_second() {
    let (pcap, pcapng) = ("/tmp/reader-bench.pcap", "/tmp/reader-bench.pcapng");
    write_pcap(pcap);
    write_pcapng(pcapng);
    measure(pcap);
    measure(pcapng);
    // A gzip-compressed capture (the first million records), through Python's gzip layers.
    let gz = "/tmp/reader-bench.pcap.gz";
    let plain = std::fs::read(pcap).expect("written");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&plain[..24 + 76 * 1_000_000])
        .expect("in memory");
    std::fs::write(gz, enc.finish().expect("in memory")).expect("write");
    measure_n(gz, 1_000_000);
}
