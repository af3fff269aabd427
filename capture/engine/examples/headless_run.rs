//! A whole capture through the headless path, timed: `cargo run --release --example
//! headless_run -- FILE [jsonl|csv|print] [RECORDS]` (output discarded, or the records written
//! to the file RECORDS, to compare). For profiling the engine without the Python around it.

use std::fs::File;
use std::io::{self, Write};
use std::time::Instant;

use _engine::export::Format;
use _engine::filter::Filter;
use _engine::headless::{run, HeadlessConfig};
use _engine::reader::CaptureReader;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: headless_run FILE [jsonl|csv|print]");
    let mode = args.next().unwrap_or_else(|| "jsonl".into());
    let cfg = HeadlessConfig {
        print: mode == "print",
        absolute: false,
        utc: true,
        export: match mode.as_str() {
            "jsonl" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            _ => None,
        },
        max_flows: 250_000,
        verify_checksums: false,
        filter: Filter::compile("").expect("the empty filter compiles"),
        speed: None,
        insights: false,
        uid_seed: 0,
    };
    let started = Instant::now();
    let mut reader = CaptureReader::open(&path).expect("a readable capture");
    let mut records: Box<dyn Write> = match args.next() {
        Some(out) => Box::new(io::BufWriter::new(
            File::create(out).expect("a writable records file"),
        )),
        None => Box::new(io::sink()),
    };
    let mut lines = io::sink();
    let (totals, _) = run(&mut reader, &cfg, &mut lines, &mut records, &mut || false)
        .expect("the sink takes everything");
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} frames, {} flows in {secs:.3} s: {:.0} frames/s",
        totals.frames,
        totals.flows,
        totals.frames as f64 / secs
    );
}
