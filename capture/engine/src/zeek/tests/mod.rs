//! The ZeekState cases of tests/test_zeek.py, from hand-built segments.
//!
//! Each case plays one conversation with the tracker's orientation rule (the first segment's
//! sender is the originator, a SYN/ACK's receiver when `initial_flip` says so) and checks what
//! Zeek would log.

use super::*;

mod cases;
mod more;
use crate::segment::{Addr, PSH};

/// tcpdump's flag letters (`S.`, `FP.`) to flag bits (tests/segmaker.py flag_bits).
fn flag_bits(text: &str) -> u16 {
    text.chars()
        .map(|c| match c {
            'F' => FIN,
            'S' => SYN,
            'R' => RST,
            'P' => PSH,
            '.' => ACK,
            _ => panic!("flag letter {c}"),
        })
        .fold(0, |a, b| a | b)
}

pub(super) fn segment(from: (u8, u16), to: (u8, u16), flags: u16, seq: u32, ack: u32) -> Segment {
    Segment {
        src: Addr::new(&[10, 0, 0, from.0]),
        dst: Addr::new(&[10, 0, 0, to.0]),
        sport: from.1,
        dport: to.1,
        flags,
        seq,
        ack,
        window: 65535,
        header_ok: true,
        ip_checksum_ok: true,
        tcp_checksum_ok: true,
        ..Segment::default()
    }
}

/// Both ends of one connection (tests/segmaker.py Conv): seq/ack follow the conversation.
pub(super) struct Conv {
    ends: [(u8, u16); 2],
    nxt: [u32; 2],
    ts: f64,
    sent: Vec<(bool, Segment)>,
}

/// Optional fields of one `Conv` segment.
#[derive(Default)]
pub(super) struct Kw {
    len: u32,
    seq: Option<u32>,
    ack: Option<u32>,
    window: Option<u16>,
}

pub(super) fn kw() -> Kw {
    Kw::default()
}

impl Kw {
    pub(super) fn len(mut self, n: u32) -> Kw {
        self.len = n;
        self
    }
    pub(super) fn seq(mut self, n: u32) -> Kw {
        self.seq = Some(n);
        self
    }
    pub(super) fn ack(mut self, n: u32) -> Kw {
        self.ack = Some(n);
        self
    }
    pub(super) fn window(mut self, n: u16) -> Kw {
        self.window = Some(n);
        self
    }
}

impl Conv {
    pub(super) fn new() -> Conv {
        Conv::with((1, 40000), (2, 80), 1000)
    }

    pub(super) fn with(client: (u8, u16), server: (u8, u16), isn_c: u32) -> Conv {
        Conv {
            ends: [client, server],
            nxt: [isn_c, 5000],
            ts: 1000.0,
            sent: Vec::new(),
        }
    }

    pub(super) fn c(&mut self, flags: &str, kw: Kw) -> Segment {
        self.send(0, flags, kw)
    }

    pub(super) fn s(&mut self, flags: &str, kw: Kw) -> Segment {
        self.send(1, flags, kw)
    }

    fn send(&mut self, side: usize, flags: &str, kw: Kw) -> Segment {
        let bits = flag_bits(flags);
        self.ts += 0.001;
        let seq = kw.seq.unwrap_or(self.nxt[side]);
        let ack = kw.ack.unwrap_or(if bits & ACK != 0 {
            self.nxt[side ^ 1]
        } else {
            0
        });
        let mut seg = segment(self.ends[side], self.ends[side ^ 1], bits, seq, ack);
        seg.ts = self.ts;
        seg.payload_len = kw.len;
        seg.window = kw.window.unwrap_or(65535);
        let end = seq
            .wrapping_add(kw.len)
            .wrapping_add(u32::from(bits & SYN != 0) + u32::from(bits & FIN != 0));
        if end.wrapping_sub(self.nxt[side]) < 0x8000_0000 {
            self.nxt[side] = end;
        }
        self.sent.push((side == 0, seg.clone()));
        seg
    }
}

/// Run a conversation; returns the state and the flips `update` reported.
pub(super) fn play_conv(c: &Conv) -> (ZeekState, Vec<bool>) {
    let mut z = ZeekState::new(false);
    let mut orig_is_client = true;
    // "client": the first segment's sender
    let client = c.sent.first().is_none_or(|(side, _)| *side);
    if let Some((_, first)) = c.sent.first() {
        if initial_flip(first) {
            z.flip();
            orig_is_client = false;
        }
    }
    let mut flips = Vec::new();
    for (side, seg) in &c.sent {
        let flipped = z.update((*side == client) == orig_is_client, seg);
        if flipped {
            orig_is_client = !orig_is_client;
        }
        flips.push(flipped);
    }
    (z, flips)
}

pub(super) fn play(script: fn(&mut Conv)) -> ZeekState {
    let mut c = Conv::new();
    script(&mut c);
    play_conv(&c).0
}
