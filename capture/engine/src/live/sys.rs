//! The two system calls the capture loop makes on libpcap's socket besides libpcap's own:
//! a bounded `poll`, and reading the socket's pending error.

use std::os::fd::RawFd;
use std::time::Duration;

/// What a bounded wait on the capture socket found.
#[derive(Debug, PartialEq, Eq)]
pub enum Ready {
    /// Frames may be waiting (or nothing happened and the wait timed out: try anyway).
    Maybe,
    /// The socket reports an error (POLLERR), e.g. ENETDOWN when the interface goes away.
    Error,
}

/// Wait up to `timeout` for `fd` to become readable; EINTR counts as a timeout.
pub fn wait_readable(fd: RawFd, timeout: Duration) -> Ready {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: `pfd` is a valid, exclusively borrowed pollfd array of length 1 for the call.
    let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
    if rc > 0 && pfd.revents & (libc::POLLERR | libc::POLLNVAL | libc::POLLHUP) != 0 {
        Ready::Error
    } else {
        Ready::Maybe
    }
}

/// The socket's pending error (SO_ERROR, which reading clears); 0 when there is none.
pub fn take_socket_error(fd: RawFd) -> i32 {
    let mut err: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `err` and `len` are valid for writes, and `len` is the size of `err`.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        err
    } else {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
    }
}

/// The C library's text for an errno, as Python's `strerror` shows it (no "(os error N)").
pub fn strerror(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// An I/O error's text without Rust's "(os error N)" suffix.
pub fn io_text(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(errno) => strerror(errno),
        None => err.to_string(),
    }
}

const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// Ask the kernel not to queue outgoing frames on this packet socket (Linux 4.20+; false when
/// refused). On a loopback interface each packet is seen leaving and arriving: libpcap drops
/// the outgoing copy after it crossed the ring, so without this it halves the ring's room and
/// doubles the kernel's drop count (ring.py set it too).
pub fn ignore_outgoing(fd: RawFd) -> bool {
    let one: libc::c_int = 1;
    // SAFETY: `one` is a valid c_int for the duration of the call and its size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_PACKET,
            PACKET_IGNORE_OUTGOING,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    rc == 0
}
