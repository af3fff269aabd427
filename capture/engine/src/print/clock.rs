//! `HH:MM:SS.uuuuuu` as SegmentPrinter writes it: local time (TZ) or UTC, one calendar
//! conversion per second of capture.

use std::io::Write as _;

extern "C" {
    /// POSIX `tzset` (time.h); the libc crate does not bind it.
    fn tzset();
}

/// The time-of-day column, with the last second's `HH:MM:SS` kept.
pub struct Clock {
    utc: bool,
    second: i64,
    /// `HH:MM:SS` of `second`; empty before the first (as Python starts at second -1 with "").
    hms: [u8; 8],
    hms_len: usize,
}

impl Clock {
    /// A clock in UTC, or in local time as the TZ environment variable says.
    pub fn new(utc: bool) -> Clock {
        if !utc {
            // SAFETY: tzset reads TZ and sets libc's zone globals; it takes no pointer from us.
            // (Like Python's time module, we do not change TZ while converting.)
            unsafe { tzset() };
        }
        Clock {
            utc,
            second: -1,
            hms: [0; 8],
            hms_len: 0,
        }
    }

    /// Appends `HH:MM:SS.uuuuuu` for the epoch time `ts`.
    pub fn write_time(&mut self, ts: f64, out: &mut Vec<u8>) {
        let sec = ts as i64;
        // A float epoch time carries up to ~0.25 us of error: nudge before truncating, so that
        // microsecond stamps print exactly as tcpdump prints them (Python's printer does).
        let usec = (((ts - sec as f64) * 1e6 + 0.3) as i64).min(999_999);
        if sec != self.second {
            self.second = sec;
            self.hms_len = match self.hms_of(sec) {
                Some(hms) => {
                    self.hms = hms;
                    8
                }
                None => 0,
            };
        }
        out.extend_from_slice(&self.hms[..self.hms_len]);
        out.push(b'.');
        match u32::try_from(usec) {
            Ok(us) => {
                let mut digits = [b'0'; 6];
                for (i, d) in digits.iter_mut().enumerate() {
                    *d = b'0' + (us / 10u32.pow(5 - i as u32) % 10) as u8;
                }
                out.extend_from_slice(&digits);
            }
            // Before 1970 Python writes a negative count, zero-padded after its sign.
            Err(_) => {
                let _ = write!(out, "{usec:06}");
            }
        }
    }

    /// `HH:MM:SS` of the second `sec`, or None when the C library cannot convert it (where
    /// Python raises).
    fn hms_of(&self, sec: i64) -> Option<[u8; 8]> {
        let t = libc::time_t::try_from(sec).ok()?;
        // SAFETY: `tm` is plain old data, so all-zero bytes are a valid value.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are to live locals for the whole call; the _r variants write
        // only into `tm` (no shared static buffer).
        let done = unsafe {
            if self.utc {
                libc::gmtime_r(&t, &mut tm)
            } else {
                libc::localtime_r(&t, &mut tm)
            }
        };
        if done.is_null() {
            return None;
        }
        let mut hms = [0u8; 8];
        let fields = [tm.tm_hour, tm.tm_min, tm.tm_sec];
        for (i, v) in fields.into_iter().enumerate() {
            let v = u8::try_from(v.clamp(0, 99)).unwrap_or(0);
            hms[i * 3] = b'0' + v / 10;
            hms[i * 3 + 1] = b'0' + v % 10;
            if i < 2 {
                hms[i * 3 + 2] = b':';
            }
        }
        Some(hms)
    }
}
