//! The capture loop (live.py `_loop`, `_take`, `_close`).

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::sys::{self, io_text, Ready};
use super::{write_error, End, FrameSink, LiveCapture, LiveError, POLL_TIMEOUT, RETIRE_MS};
use super::{FLUSH_EVERY, STATS_EVERY};
use crate::pcapwrite::PcapWriter;

/// Frames handed over by one `pcap_dispatch`, so the stop flag is looked at between batches.
const BATCH: u64 = 8192;

/// The sink of one dispatch: writes `-w`, counts, and hands each frame on.
struct Pump<'a> {
    writer: Option<&'a mut PcapWriter>,
    sink: &'a mut FrameSink<'a>,
    linktype: i32,
    frames: u64,
    failed: Option<std::io::Error>,
}

impl Pump<'_> {
    fn take(&mut self, packet: &pcap::Packet<'_>) {
        if self.failed.is_some() {
            return; // live.py: the failed write ends the batch
        }
        let head = packet.header;
        // Nanosecond precision: the same float ring.py made, `sec + nsec * 1e-9`.
        let ts = head.ts.tv_sec as f64 + head.ts.tv_usec as f64 * 1e-9;
        if let Some(writer) = self.writer.as_deref_mut() {
            if let Err(e) = writer.write(ts, packet.data, head.len) {
                self.failed = Some(e);
                return;
            }
        }
        self.frames += 1;
        (self.sink)(ts, head.len, packet.data, self.linktype);
    }
}

impl LiveCapture {
    /// Run the capture loop on the calling thread until `stop` is set, `count` frames were
    /// taken, `duration` elapsed, or the interface is lost, handing each frame to
    /// `sink(ts, wire_len, data, linktype)` and writing `-w` records. `Ok` for the first three
    /// (see `ended`), a one-line `LiveError` otherwise. The handle is closed when it returns.
    pub fn run(&mut self, stop: &AtomicBool, sink: &mut FrameSink) -> Result<(), LiveError> {
        self.run_with_tick(stop, sink, &mut || {})
    }

    /// `run`, calling `tick()` whenever a look at the ring found no frame ready (at least every
    /// POLL_TIMEOUT while none come): where a consumer hands on what it gathered. What the sink
    /// got after the last tick is the caller's to hand on once `run_with_tick` returns.
    pub fn run_with_tick(
        &mut self,
        stop: &AtomicBool,
        sink: &mut FrameSink,
        tick: &mut dyn FnMut(),
    ) -> Result<(), LiveError> {
        if self.cap.is_none() {
            return Err(LiveError(format!(
                "live capture on {} has already ended",
                self.iface
            )));
        }
        self.open_writer()?;
        let result = self.pump(stop, sink, tick);
        let closed = self.close();
        self.ended = result.as_ref().ok().copied();
        result.and(closed)
    }

    fn pump(
        &mut self,
        stop: &AtomicBool,
        sink: &mut FrameSink,
        tick: &mut dyn FnMut(),
    ) -> Result<End, LiveError> {
        let started = Instant::now();
        // NaN or negative: no time at all; too large to add: no deadline.
        let deadline = self.cfg.duration.and_then(|d| {
            let span = Duration::try_from_secs_f64(d.max(0.0)).unwrap_or(Duration::MAX);
            started.checked_add(span)
        });
        let limit = self.cfg.count;
        let mut next_flush = started + FLUSH_EVERY;
        let mut next_stats = started + STATS_EVERY;
        let end = loop {
            if stop.load(Ordering::Relaxed) {
                break End::Stopped;
            }
            if limit.is_some_and(|n| self.frames() >= n) {
                return Ok(End::Count);
            }
            let now = Instant::now();
            let mut wait = POLL_TIMEOUT;
            if let Some(deadline) = deadline {
                if now >= deadline {
                    break End::Duration;
                }
                wait = wait.min(deadline - now);
            }
            if self.dispatch(sink)? == 0 {
                tick();
                self.wait(wait)?;
            }
            let now = Instant::now();
            if now >= next_flush {
                self.flush()?;
                next_flush = now + FLUSH_EVERY;
            }
            if now >= next_stats {
                self.read_kernel_stats();
                next_stats = now + STATS_EVERY;
            }
        };
        // Frames captured before the stop may sit in a block the kernel has not handed over
        // yet: it does within RETIRE_MS, so wait that long (twice) once and take them too.
        let until = Instant::now() + Duration::from_millis(2 * RETIRE_MS);
        while limit.is_none_or(|n| self.frames() < n) {
            let now = Instant::now();
            if now >= until {
                break;
            }
            if self.dispatch(sink)? == 0 {
                tick();
                self.wait(until - now)?;
            }
        }
        Ok(end)
    }

    fn frames(&self) -> u64 {
        self.counters.frames.load(Ordering::Relaxed)
    }

    /// Take up to a batch of ready frames (never blocks); returns how many libpcap handed over.
    fn dispatch(&mut self, sink: &mut FrameSink) -> Result<u64, LiveError> {
        let Some(cap) = self.cap.as_mut() else {
            return Ok(0);
        };
        let taken = self.counters.frames.load(Ordering::Relaxed);
        let room = self.cfg.count.map_or(BATCH, |n| n.saturating_sub(taken));
        let mut pump = Pump {
            writer: self.writer.as_mut(),
            sink,
            linktype: self.linktype,
            frames: 0,
            failed: None,
        };
        let got = cap.dispatch(Some(room.min(BATCH) as usize), |p| pump.take(&p));
        let (frames, failed) = (pump.frames, pump.failed);
        self.counters
            .frames
            .store(taken + frames, Ordering::Relaxed);
        if let Some(err) = failed {
            let path = self.cfg.write_path.clone().unwrap_or_default();
            return Err(write_error(&path, &err));
        }
        match got {
            Ok(n) => Ok(n as u64),
            Err(e) => Err(self.lost(&super::pcap_text(&e))),
        }
    }

    /// Wait for frames, up to `wait`; an error on the socket ends the capture.
    fn wait(&mut self, wait: Duration) -> Result<(), LiveError> {
        let Some(cap) = self.cap.as_ref() else {
            return Ok(());
        };
        let fd = cap.as_raw_fd();
        if sys::wait_readable(fd, wait) == Ready::Error {
            let err = sys::take_socket_error(fd);
            if err != 0 {
                // E.g. ENETDOWN when the interface goes down or away: report it, as ring.py
                // did, rather than spin on a socket that polls ready forever.
                return Err(LiveError(format!(
                    "live capture on {} stopped: {}",
                    self.iface,
                    sys::strerror(err)
                )));
            }
        }
        Ok(())
    }

    /// The error for libpcap's failure to read: interface loss in ring.py's words.
    fn lost(&self, text: &str) -> LiveError {
        if text.contains("interface disappeared") || text.contains("interface went down") {
            let down = sys::strerror(libc::ENETDOWN);
            return LiveError(format!("live capture on {} stopped: {down}", self.iface));
        }
        LiveError(format!("live capture on {} failed: {text}", self.iface))
    }

    fn flush(&mut self) -> Result<(), LiveError> {
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        let result = writer.flush();
        self.counters
            .bytes_written
            .store(writer.bytes_on_disk(), Ordering::Relaxed);
        let path = self.cfg.write_path.clone().unwrap_or_default();
        result.map_err(|e| write_error(&path, &e))
    }

    /// Fold libpcap's counters in: `ps_drop` (ring full) plus `ps_ifdrop` (the interface's).
    fn read_kernel_stats(&mut self) {
        if let Some(Ok(stat)) = self.cap.as_mut().map(|c| c.stats()) {
            let drops = u64::from(stat.dropped) + u64::from(stat.if_dropped);
            self.counters.kernel_drops.store(drops, Ordering::Relaxed);
        }
    }

    /// live.py `_close`: the last counters, `-w` flushed and closed, the handle closed.
    fn close(&mut self) -> Result<(), LiveError> {
        self.read_kernel_stats();
        self.cap = None;
        let Some(mut writer) = self.writer.take() else {
            return Ok(());
        };
        let result = writer.close();
        self.counters
            .bytes_written
            .store(writer.bytes_on_disk(), Ordering::Relaxed);
        result.map_err(|e| {
            let path = self.cfg.write_path.clone().unwrap_or_default();
            LiveError(format!("cannot finish {}: {}", path.display(), io_text(&e)))
        })
    }
}
