//! What the tracker's flows cost in heap and inline bytes, counted by a wrapping allocator.
//! `cargo test --test tracker_memory -- --nocapture` prints the figures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use _engine::segment::{Addr, Opts, Segment, ACK, SYN};
use _engine::tracker::{FlowTracker, TrackerConfig};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged; only a counter is kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's layout is passed on as given.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn syn(i: u32, flags: u16, from_client: bool) -> Segment {
    let client = Addr::new(&(0x0a00_0000 + i).to_be_bytes());
    let server = Addr::new(&[192, 0, 2, 80]);
    let (src, dst, sport, dport) = if from_client {
        (client, server, 40000 + (i % 20000) as u16, 80)
    } else {
        (server, client, 80, 40000 + (i % 20000) as u16)
    };
    Segment {
        frame_no: u64::from(i) + 1,
        ts: f64::from(i) * 1e-4,
        linktype: 1,
        wire_len: 74,
        caplen: 74,
        ip_version: 4,
        ip_off: 14,
        src,
        dst,
        ip_len: 60,
        ttl: 64,
        tcp_off: 34,
        sport,
        dport,
        seq: i.wrapping_mul(7919),
        ack: if flags & ACK != 0 { 1 } else { 0 },
        flags,
        window: 64240,
        opts: Opts::new(&[
            2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ]),
        header_ok: true,
        ip_checksum_ok: true,
        tcp_checksum_ok: true,
        ..Segment::default()
    }
}

fn per_flow(n: u32, embryos: bool, answered: bool) -> f64 {
    let before = LIVE.load(Ordering::Relaxed);
    let cfg = TrackerConfig {
        max_flows: 1_000_000,
        frames_per_flow: 0,
        embryos,
        ..TrackerConfig::default()
    };
    let mut tracker = FlowTracker::new(cfg).expect("valid");
    for i in 0..n {
        tracker.add(syn(i, SYN, true), &[]);
        if answered {
            tracker.add(syn(i, SYN | ACK, false), &[]);
        }
    }
    assert_eq!(tracker.tracked(), n as usize);
    let used = LIVE.load(Ordering::Relaxed) - before + std::mem::size_of::<FlowTracker>() as isize;
    drop(tracker);
    used as f64 / f64::from(n)
}

#[test]
fn a_syn_flood_costs_little_per_flow() {
    let flood = per_flow(200_000, true, false);
    let full = per_flow(50_000, false, true);
    eprintln!("SYN flood, embryos: {flood:.0} B/flow; answered SYNs, full flows: {full:.0} B/flow");
    assert!(flood < 200.0);
}
