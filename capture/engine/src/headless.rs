//! A whole capture to `--print` lines and `--export` records (Python: `tui.headless`'s file
//! path): reader → decoder → tracker → printer / writer, with nothing handed to Python per
//! packet.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::thread;
use std::time::{Duration, Instant};

use crate::decode::Decoder;
use crate::export::{Format, RecordWriter};
use crate::filter::Filter;
use crate::flow::Flow;
use crate::print::Printer;
use crate::reader::CaptureReader;
use crate::tracker::{FlowTracker, TrackerConfig};
use decoding::Decoded;
use encoder::Encoder;

mod decoding;
mod encoder;
#[cfg(test)]
mod tests;

/// Records between two calls of the caller's `stop` check (signals, interrupts).
pub const CHECK_EVERY: u64 = 1 << 16;
/// Longest sleep of a replay between two looks at `stop`.
const NAP: Duration = Duration::from_millis(50);

/// What a headless run does (the command line's choices).
#[derive(Clone, Debug)]
pub struct HeadlessConfig {
    /// A tcpdump-like line per segment.
    pub print: bool,
    /// `-S`: absolute sequence numbers.
    pub absolute: bool,
    /// Times in UTC rather than local time.
    pub utc: bool,
    /// `--export`: the record format.
    pub export: Option<Format>,
    pub max_flows: usize,
    pub verify_checksums: bool,
    /// The display filter (`-Y`, `-p`, `--host`): only the flows it selects are printed and
    /// exported (an empty filter selects all).
    pub filter: Filter,
    /// `--replay SPEED`: records at their recorded pace times SPEED; None: as fast as they read.
    pub speed: Option<f64>,
    /// `--insights`: every flow is kept to the end (and one frame of each), for the findings.
    pub insights: bool,
    /// The seed of the flows' uids (`TrackerConfig::uid_seed`).
    pub uid_seed: u64,
}

/// The counters of a finished run (the totals line).
#[derive(Clone, Debug, Default)]
pub struct Totals {
    pub frames: u64,
    pub tcp: u64,
    pub malformed: BTreeMap<String, u64>,
    pub flows: u64,
    pub evicted: u64,
    /// Records written (with `--export`).
    pub records: Option<u64>,
    /// Why reading stopped before the end of the capture, one line.
    pub error: Option<String>,
    /// The run was stopped by the caller (a signal) before the end.
    pub stopped: bool,
}

/// Run `reader` to its end (or until `stop` says so), printing to `lines` and exporting to
/// `records`; returns the totals and the tracker (its flows, for `--insights`). An output that
/// cannot be written ends the run with its error.
///
/// A plain export (no `--print` lines to interleave with, no replay pacing the records, no
/// `--insights` reading the flows after) encodes its records on a second thread (see
/// `encoder`); the tracker it returns then holds no flows.
pub fn run(
    reader: &mut CaptureReader,
    cfg: &HeadlessConfig,
    lines: &mut dyn Write,
    records: &mut dyn Write,
    stop: &mut dyn FnMut() -> bool,
) -> io::Result<(Totals, FlowTracker)> {
    let alone = !cfg.print && cfg.speed.is_none() && !cfg.insights;
    match cfg.export.filter(|_| alone) {
        Some(format) => thread::scope(|scope| {
            let encoder = Encoder::start(scope, format, &cfg.filter);
            let out = Exporter::Threaded(encoder, records);
            run_threaded(scope, reader, cfg, out, stop)
        }),
        None => {
            let writer = cfg.export.map(|format| RecordWriter::new(format, records));
            let out = writer.map_or(Exporter::Off, Exporter::Inline);
            run_with(reader, cfg, lines, out, stop)
        }
    }
}

/// Where the records of the flows that left go.
enum Exporter<'w, 's> {
    Off,
    Inline(RecordWriter<&'w mut dyn Write>),
    Threaded(Encoder<'s>, &'w mut dyn Write),
}

impl Exporter<'_, '_> {
    /// Export the flows that left `tracker` (evicted, or closed and quiet), or let them go.
    fn gone_from(&mut self, tracker: &mut FlowTracker, filter: &Filter) -> io::Result<()> {
        if let Exporter::Threaded(encoder, out) = self {
            return encoder.add_gone(tracker, *out);
        }
        let gone = tracker.take_gone();
        if gone.is_empty() {
            return Ok(());
        }
        self.gone(filter, gone)
    }

    fn gone(&mut self, filter: &Filter, flows: Vec<Flow>) -> io::Result<()> {
        match self {
            Exporter::Off => Ok(()),
            Exporter::Inline(writer) => export(writer, filter, flows.iter()),
            Exporter::Threaded(encoder, out) => encoder.add(flows.into_iter().map(Box::new), *out),
        }
    }

    /// At the end: the flows still tracked are exported too, and the output flushed; the
    /// count of records written. A threaded export takes the flows out of the tracker.
    fn rest(self, tracker: &mut FlowTracker, filter: &Filter) -> io::Result<Option<u64>> {
        let mut failed = None;
        let count = match self {
            Exporter::Off => return Ok(None),
            Exporter::Inline(mut writer) => {
                tracker.for_each_flow(|flow| {
                    if failed.is_none() && filter.matches(flow) {
                        failed = writer.write(&flow.record()).err();
                    }
                });
                if let Some(err) = failed {
                    return Err(err);
                }
                writer.flush()?;
                writer.count()
            }
            Exporter::Threaded(mut encoder, out) => {
                tracker.drain_flows(|flow| {
                    if failed.is_none() {
                        failed = encoder.add([flow], out).err();
                    }
                });
                if let Some(err) = failed {
                    return Err(err);
                }
                let count = encoder.finish(out)?;
                out.flush()?;
                count
            }
        };
        Ok(Some(count))
    }
}

fn run_with(
    reader: &mut CaptureReader,
    cfg: &HeadlessConfig,
    lines: &mut dyn Write,
    mut out: Exporter<'_, '_>,
    stop: &mut dyn FnMut() -> bool,
) -> io::Result<(Totals, FlowTracker)> {
    let mut decoder = Decoder::new(cfg.verify_checksums);
    let mut tracker = FlowTracker::new(tracker_config(cfg))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let mut printer = cfg.print.then(|| Printer::new(cfg.absolute, cfg.utc));
    let mut pace = cfg.speed.map(Pace::new);
    let mut line = Vec::with_capacity(256);
    let mut totals = Totals::default();
    let mut frame_no: u64 = 0;
    while let Some(rec) = reader.next_record() {
        frame_no += 1;
        if frame_no.is_multiple_of(CHECK_EVERY) && stop() {
            totals.stopped = true;
            break;
        }
        if let Some(pace) = pace.as_mut() {
            if !pace.wait_for(rec.ts, lines, stop)? {
                totals.stopped = true;
                break;
            }
        }
        let Some(seg) = decoder.decode(rec.data, rec.ts, rec.wire_len, rec.linktype, frame_no)
        else {
            continue;
        };
        match printer.as_mut() {
            Some(printer) => {
                let (src, sport) = (seg.src, seg.sport);
                let id = tracker.ingest(seg.clone(), rec.data);
                if let Some(flow) = tracker.flow(id).filter(|f| cfg.filter.matches(f)) {
                    let from_orig = (src, sport) == flow.orig_end();
                    line.clear();
                    printer.line(&mut line, &seg, flow, from_orig);
                    lines.write_all(&line)?;
                }
            }
            None if cfg.insights => {
                tracker.ingest(seg, rec.data);
            }
            None => tracker.add(seg, rec.data),
        }
        // Flows that left (evicted, or closed and quiet): exported now, or let go.
        out.gone_from(&mut tracker, &cfg.filter)?;
    }
    lines.flush()?;
    tracker.finish();
    out.gone(&cfg.filter, tracker.take_gone())?;
    totals.records = out.rest(&mut tracker, &cfg.filter)?;
    totals.frames = decoder.frames;
    totals.tcp = decoder.tcp;
    totals.malformed = decoder.malformed.clone();
    totals.flows = tracker.flow_count();
    totals.evicted = tracker.evicted;
    totals.error = reader.error().map(str::to_owned);
    Ok((totals, tracker))
}

/// `run_with` for a plain export: reading and decoding on one thread (see `decoding`),
/// tracking on this one, encoding on a third (see `encoder`).
fn run_threaded<'scope, 'env>(
    scope: &'scope thread::Scope<'scope, 'env>,
    reader: &'env mut CaptureReader,
    cfg: &HeadlessConfig,
    mut out: Exporter<'_, '_>,
    stop: &mut dyn FnMut() -> bool,
) -> io::Result<(Totals, FlowTracker)> {
    let mut tracker = FlowTracker::new(tracker_config(cfg))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    // An export without --insights keeps no frames (`tracker_config`): `add` reads none.
    debug_assert_eq!(tracker.frames_per_flow(), 0);
    let (segments, decoding) = decoding::start(scope, reader, cfg.verify_checksums);
    let mut totals = Totals::default();
    let mut stopped_at = None;
    for batch in &segments.decoded {
        let mut batch = match batch {
            Decoded::Segments(segments) => segments,
            Decoded::Check(counts) if stop() => {
                stopped_at = Some(counts);
                break;
            }
            Decoded::Check(_) => continue,
        };
        for seg in &batch {
            tracker.add_ref(seg, &[]);
        }
        batch.clear();
        // The flows that left during the batch, in the order they left: the same records in
        // the same order as taking them after each segment, for one look per batch.
        out.gone_from(&mut tracker, &cfg.filter)?;
        // The decoder gone (at the end) needs no more batches.
        let _ = segments.emptied.send(batch);
    }
    drop(segments);
    let at_end = decoding
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    totals.stopped = stopped_at.is_some();
    let counts = stopped_at.unwrap_or(at_end);
    tracker.finish();
    out.gone_from(&mut tracker, &cfg.filter)?;
    totals.records = out.rest(&mut tracker, &cfg.filter)?;
    totals.frames = counts.frames;
    totals.tcp = counts.tcp;
    totals.malformed = counts.malformed;
    totals.flows = tracker.flow_count();
    totals.evicted = tracker.evicted;
    totals.error = counts.error;
    Ok((totals, tracker))
}

/// The tracker a headless run needs (Python: `tui.headless.run_headless`).
fn tracker_config(cfg: &HeadlessConfig) -> TrackerConfig {
    TrackerConfig {
        verify_checksums: cfg.verify_checksums,
        uid_seed: cfg.uid_seed,
        ..TrackerConfig::headless(cfg.max_flows, cfg.export.is_some(), cfg.insights)
    }
}

fn export<'a>(
    writer: &mut RecordWriter<&mut dyn Write>,
    filter: &Filter,
    flows: impl Iterator<Item = &'a Flow>,
) -> io::Result<()> {
    for flow in flows.filter(|f| filter.matches(f)) {
        writer.write(&flow.record())?;
    }
    Ok(())
}

/// `--replay`: records handed on at their recorded pace times `speed`.
struct Pace {
    speed: f64,
    start: Option<(f64, Instant)>,
}

impl Pace {
    fn new(speed: f64) -> Pace {
        Pace { speed, start: None }
    }

    /// Wait until a record of capture time `ts` is due (what was printed is flushed first, so
    /// it shows while we wait); false when `stop` said so meanwhile.
    fn wait_for(
        &mut self,
        ts: f64,
        lines: &mut dyn Write,
        stop: &mut dyn FnMut() -> bool,
    ) -> io::Result<bool> {
        let (first, started) = *self.start.get_or_insert((ts, Instant::now()));
        let due = Duration::from_secs_f64(((ts - first) / self.speed).max(0.0));
        if started.elapsed() >= due {
            return Ok(true);
        }
        lines.flush()?;
        while let Some(left) = due.checked_sub(started.elapsed()) {
            if stop() {
                return Ok(false);
            }
            thread::sleep(left.min(NAP));
        }
        Ok(true)
    }
}
