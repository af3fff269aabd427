//! `Filter::matches` allocates nothing: a counting allocator watches every term (ASCII process
//! names; a non-ASCII one is lower-cased into a new string, as Python does) over the flows of a
//! bundled capture.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use _engine::filter::Filter;
use _engine::tcpstate::Side as Dir;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is the one `System.alloc` needs.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn matching_allocates_nothing() {
    let mut flows = common::flows::track("zeek_irc-353.pcap").expect("a bundled capture");
    for f in &mut flows {
        f.set_proc(Dir::Orig, Some((1, "ircd: Nginx-like worker".into())));
    }
    let filter = Filter::compile(
        "(port 6666 or port > 1000 or 80) and (host ::1 or host 127.0.0.1 or net 10.0.0.0/8) \
         and not (state syn_sent or conn S0 or flags urg or flags ack and vlan 3) \
         and (proc nginx or id 1-4,9 or retries > 0 or retrans >= 0 or pkts > 1 or bytes != 0) \
         and (irtt > 1us or duration >= 0s or not irtt >= 0)",
    )
    .expect("compiles");
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let hits = flows.iter().filter(|f| filter.matches(f)).count();
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    assert!(hits > 0);
    assert_eq!(
        after - before,
        0,
        "allocations while matching {} flows",
        flows.len()
    );
}
