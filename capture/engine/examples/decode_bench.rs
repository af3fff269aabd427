//! Frames per second of `Decoder::decode` on the common case (untagged Ethernet, IPv4 with IHL 5
//! or IPv6, TCP with timestamps): `cargo run --release --example decode_bench`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use _engine::decode::Decoder;

/// The system allocator, counting allocations: the common case must make none.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed on unchanged to the system allocator, which upholds the contract.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's layout obligations are passed on as they are.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from `alloc` above, i.e. from the system allocator, with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn frame(v6: bool) -> Vec<u8> {
    let mut tcp = vec![
        0x9c, 0x40, 0, 80, 0, 0, 3, 0xe8, 0, 0, 7, 0xd0, 0x80, 0x10, 1, 0,
    ];
    tcp.extend([0, 0, 0, 0, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    tcp.extend([0u8; 1448]);
    let mut f = vec![0u8; 12];
    if v6 {
        f.extend([0x86, 0xdd, 0x60, 0, 0, 0]);
        f.extend((tcp.len() as u16).to_be_bytes());
        f.extend([6, 64]);
        f.extend([0x20; 32]);
    } else {
        f.extend([0x08, 0, 0x45, 0]);
        f.extend(((tcp.len() + 20) as u16).to_be_bytes());
        f.extend([0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    }
    f.extend(tcp);
    f
}

/// CPU seconds of this process (the machine may be shared: wall time would count waiting).
fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole rusage into the pointed-to, properly sized memory.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let t = usage.ru_utime;
    t.tv_sec as f64 + t.tv_usec as f64 * 1e-6
}

fn main() {
    let frames = [frame(false), frame(true)];
    // `decode_bench fast` skips the checksum run.
    let runs: &[bool] = if std::env::args().any(|a| a == "fast") {
        &[false]
    } else {
        &[false, true]
    };
    for &verify in runs {
        let mut d = Decoder::new(verify);
        let n = 20_000_000u64;
        let (start, cpu) = (Instant::now(), cpu_seconds());
        let allocations = ALLOCATIONS.load(Ordering::Relaxed);
        let mut bytes = 0u64;
        for i in 0..n {
            let f = &frames[(i & 1) as usize];
            if let Some(seg) = d.decode(black_box(f), 1.0, f.len() as u32, 1, i) {
                bytes += u64::from(seg.payload_len);
            }
        }
        let allocations = ALLOCATIONS.load(Ordering::Relaxed) - allocations;
        let wall = n as f64 / start.elapsed().as_secs_f64() / 1e6;
        let user = n as f64 / (cpu_seconds() - cpu) / 1e6;
        println!(
            "verify_checksums={verify}: {user:.1} M frames per CPU second, {wall:.1} M per wall \
             second ({} tcp, {bytes} payload bytes, {allocations} allocations)",
            d.tcp
        );
    }
}
