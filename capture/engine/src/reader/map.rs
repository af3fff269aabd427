//! A capture file mapped into memory: records are slices of the page cache, with no `read`
//! copying each byte into a buffer first (that copy was an eighth of a whole export run).

use std::fs::File;
use std::os::fd::AsRawFd;

/// Files smaller than this are read: a map costs more than it saves on a few pages.
pub(crate) const MIN_MAP: u64 = 1 << 20;

/// A private, read-only map of a file's first `len` bytes, unmapped on drop.
pub(crate) struct Map {
    ptr: *const u8,
    len: usize,
}

// SAFETY: the map is owned by this value alone (nothing else holds its address) and is only
// ever read, so handing it to another thread is sound.
unsafe impl Send for Map {}

impl Map {
    /// The first `len` bytes of `file` (a regular file), `None` when it cannot be mapped (the
    /// caller reads it instead).
    pub(crate) fn of(file: &File, len: u64) -> Option<Map> {
        let len = usize::try_from(len).ok().filter(|&n| n > 0)?;
        // SAFETY: a fresh mapping at an address the kernel picks, of an open descriptor, read
        // only and private: it aliases no Rust object. The file may still change under it
        // (another process truncating or rewriting the capture while we read): bytes rewritten
        // are read as they are (the walk and the decoder take arbitrary bytes), and pages cut
        // off by a truncation raise SIGBUS, which ends the process, as it does for every
        // program reading a mapped file (tcpdump -r reads instead, but a capture rewritten
        // while it is read gives no meaningful result either way). A file that grows is read
        // on past the map (see `Feed::unmap`).
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return None;
        }
        // SAFETY: advice on the range just mapped; it changes no contents (only read-ahead).
        unsafe { libc::madvise(ptr, len, libc::MADV_SEQUENTIAL) };
        Some(Map {
            ptr: ptr.cast::<u8>(),
            len,
        })
    }

    /// Give back the pages of `[from, to)` (rounded inwards to whole pages): a reader that has
    /// gone past them does not keep a whole capture resident (a 575 MB file read to its end
    /// otherwise counts 575 MB in the process's RSS).
    pub(crate) fn discard(&self, from: usize, to: usize) {
        const PAGE: usize = 4096;
        let (from, to) = (from.div_ceil(PAGE) * PAGE, (to.min(self.len) / PAGE) * PAGE);
        if from >= to {
            return;
        }
        // SAFETY: a range inside our private, read-only file mapping. MADV_DONTNEED drops its
        // pages; touching them again faults them back in from the file with the same bytes, so
        // no slice of the map (even one still held) ever reads different contents.
        unsafe {
            libc::madvise(
                self.ptr.add(from).cast_mut().cast(),
                to - from,
                libc::MADV_DONTNEED,
            )
        };
    }

    /// The mapped bytes.
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` is a live mapping of `len` readable bytes until `drop` (see `of` for
        // the file changing underneath).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `of`, unmapped once; no slice of it outlives `self`
        // (they borrow it).
        unsafe { libc::munmap(self.ptr.cast_mut().cast(), self.len) };
    }
}
