//! A bundled capture through the Rust reader, decoder and tracker, as `tests/captures.py`
//! `track` runs the Python ones: frames_per_flow 64, every segment ingested, `finish()`.

use std::path::PathBuf;

use _engine::decode::Decoder;
use _engine::flow::Flow;
use _engine::reader::CaptureReader;
use _engine::tracker::{FlowTracker, TrackerConfig};

/// `tests/data/<name>` of the repository.
pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(name)
}

/// Every flow of the capture, in id order (None if it cannot be opened).
pub fn track(name: &str) -> Option<Vec<Flow>> {
    let path = data(name);
    let mut reader = CaptureReader::open(path.to_str()?).ok()?;
    let mut decoder = Decoder::new(false);
    let mut tracker = FlowTracker::new(TrackerConfig {
        frames_per_flow: 64,
        ..TrackerConfig::default()
    })
    .ok()?;
    let mut frame_no = 0u64;
    while let Some(rec) = reader.next_record() {
        frame_no += 1;
        if let Some(seg) = decoder.decode(rec.data, rec.ts, rec.wire_len, rec.linktype, frame_no) {
            tracker.ingest(seg, rec.data);
        }
    }
    tracker.finish();
    let mut flows = Vec::new();
    tracker.for_each_flow(|f| flows.push(f.clone()));
    Some(flows)
}
