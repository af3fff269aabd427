//! Addresses and flags written straight into the line (no `String` per segment).

use crate::segment::{Addr, ACK, AE, CWR, ECE, FIN, PSH, RST, SYN, URG};

/// tcpdump's one-letter notation, in tcpdump's order (as `segment::tcpdump_flags`).
const LETTERS: [(u16, u8); 8] = [
    (FIN, b'F'),
    (SYN, b'S'),
    (RST, b'R'),
    (PSH, b'P'),
    (URG, b'U'),
    (ECE, b'E'),
    (CWR, b'W'),
    (AE, b'e'),
];

/// Flags as `segment::tcpdump_flags` spells them: `S`, `S.`, `FP.`, `none`.
pub fn write_flags(out: &mut Vec<u8>, flags: u16) {
    let start = out.len();
    for (bit, letter) in LETTERS {
        if flags & bit != 0 {
            out.push(letter);
        }
    }
    if flags & ACK != 0 {
        out.push(b'.');
    }
    if out.len() == start {
        out.extend_from_slice(b"none");
    }
}

/// The address as `Addr`'s Display writes it (Python's `addr_str`): dotted quad, or IPv6 with
/// the first longest run of two or more zero groups as `::`.
pub fn write_addr(out: &mut Vec<u8>, addr: &Addr) {
    let b = addr.as_slice();
    if !addr.is_v6() {
        for (i, octet) in b.iter().enumerate() {
            if i > 0 {
                out.push(b'.');
            }
            push_dec(out, u64::from(*octet));
        }
        return;
    }
    let mut groups = [0u16; 8];
    for (g, pair) in groups.iter_mut().zip(b.chunks_exact(2)) {
        *g = u16::from_be_bytes([pair[0], pair[1]]);
    }
    let (start, len) = longest_zero_run(&groups);
    if len < 2 {
        write_groups(out, &groups);
        return;
    }
    write_groups(out, &groups[..start]);
    out.extend_from_slice(b"::");
    write_groups(out, &groups[start + len..]);
}

fn write_groups(out: &mut Vec<u8>, groups: &[u16]) {
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            out.push(b':');
        }
        push_hex(out, *g);
    }
}

/// (start, length) of the first longest run of zero groups.
fn longest_zero_run(groups: &[u16; 8]) -> (usize, usize) {
    let (mut best, mut run_start, mut run) = ((0, 0), 0, 0);
    for (i, &g) in groups.iter().enumerate() {
        if g == 0 {
            if run == 0 {
                run_start = i;
            }
            run += 1;
            if run > best.1 {
                best = (run_start, run);
            }
        } else {
            run = 0;
        }
    }
    best
}

/// `n` in decimal (core::fmt's machinery costs more than the rest of a line).
pub fn push_dec(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// `n` in lower-case hex, no leading zeros.
fn push_hex(out: &mut Vec<u8>, n: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut started = false;
    for shift in [12, 8, 4, 0] {
        let d = usize::from((n >> shift) & 0xf);
        if d != 0 || started || shift == 0 {
            out.push(HEX[d]);
            started = true;
        }
    }
}
