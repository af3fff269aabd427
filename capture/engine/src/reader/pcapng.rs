//! pcapng: sections (each with its byte order), interfaces (link type, time unit and offset
//! each), and packet blocks (enhanced, simple, obsolete). Port of `pcapio._PcapngWalker`.

use super::feed::Feed;
use super::{MAX_RECORD, UNDECLARED_INTERFACE};

/// The section header block's type, the same bytes in both orders.
pub(crate) const SHB: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// One interface description: link type, seconds per tick, offset in seconds, snap length.
#[derive(Clone, Copy)]
struct Iface {
    linktype: i32,
    unit: f64,
    offset: i64,
    snaplen: u32,
}

/// A whole block read: its type, and where its body lies in the feed.
pub(crate) struct Block {
    btype: u32,
    body: (usize, usize),
    at: usize,
}

/// A packet found: (time, wire length, data start, data end, link type).
pub(crate) type Packet = (f64, u32, usize, usize, i32);

/// The walker's state between blocks.
pub(crate) struct Pcapng {
    big: bool,
    ifaces: Vec<Iface>,
}

impl Pcapng {
    /// Reads the first block (whose type, the SHB's, was read): the walker and that block.
    pub(crate) fn open(feed: &mut Feed, name: &str) -> Result<(Pcapng, Block), String> {
        let mut walker = Pcapng {
            big: false,
            ifaces: Vec::new(),
        };
        match walker.block_after_type(feed, SHB, name)? {
            Some(first) => Ok((walker, first)),
            None => Err(format!("{name}: truncated pcapng section header")),
        }
    }

    fn u32(&self, b: &[u8]) -> u32 {
        let v = [b[0], b[1], b[2], b[3]];
        if self.big {
            u32::from_be_bytes(v)
        } else {
            u32::from_le_bytes(v)
        }
    }

    fn u16(&self, b: &[u8]) -> u16 {
        if self.big {
            u16::from_be_bytes([b[0], b[1]])
        } else {
            u16::from_le_bytes([b[0], b[1]])
        }
    }

    /// The next block after its 4 type bytes were read: `Ok(None)` when the stream ends inside it.
    fn block_after_type(
        &mut self,
        feed: &mut Feed,
        btype: [u8; 4],
        name: &str,
    ) -> Result<Option<Block>, String> {
        if feed.take(4) < 4 {
            return Ok(None);
        }
        let total;
        let body_len;
        if btype == SHB {
            let got = feed.take(4);
            match feed.bytes(feed.cur - got, feed.cur) {
                b"\x4d\x3c\x2b\x1a" => self.big = false,
                b"\x1a\x2b\x3c\x4d" => self.big = true,
                _ => return Err(format!("{name}: bad pcapng byte-order magic")),
            }
            total = self.u32(feed.bytes(feed.cur - 8, feed.cur - 4)) as usize;
            check_len(total, name)?;
            // The magic is part of the body; a 12-byte block reads no more (Python's read(-4)).
            body_len = 4 + feed.take(total.saturating_sub(16));
        } else {
            total = self.u32(feed.bytes(feed.cur - 4, feed.cur)) as usize;
            check_len(total, name)?;
            body_len = feed.take(total - 12);
        }
        if body_len < total - 12 || feed.take(4) < 4 {
            return Ok(None);
        }
        let body_end = feed.cur - 4;
        let at = body_end - body_len - 8;
        Ok(Some(Block {
            btype: self.u32(&btype),
            body: (body_end - body_len, body_end),
            at,
        }))
    }

    /// The next packet, `Ok(None)` at the clean end, or the error text. `pending` is a block
    /// already read (the first one).
    pub(crate) fn next(
        &mut self,
        feed: &mut Feed,
        pending: &mut Option<Block>,
        linktypes: &mut Vec<i32>,
        name: &str,
    ) -> Result<Option<(Packet, u64)>, String> {
        loop {
            let block = match pending.take() {
                Some(block) => block,
                None => {
                    feed.release();
                    let got = feed.take(4);
                    if got == 0 {
                        return Ok(None);
                    }
                    let raw = feed.bytes(feed.cur - got, feed.cur);
                    let block = match <[u8; 4]>::try_from(raw) {
                        Ok(btype) => self.block_after_type(feed, btype, name)?,
                        Err(_) => None,
                    };
                    match block {
                        Some(block) => block,
                        None => return Err(format!("{name}: file ends inside a pcapng block")),
                    }
                }
            };
            if let Some(packet) = self.handle(feed, &block, linktypes) {
                return Ok(Some((packet, feed.offset(block.at))));
            }
        }
    }

    fn handle(&mut self, feed: &Feed, block: &Block, linktypes: &mut Vec<i32>) -> Option<Packet> {
        let (from, to) = block.body;
        let body = feed.bytes(from, to);
        let clip = |start: usize, caplen: u32| {
            let end = (start as u64 + caplen as u64).min(body.len() as u64) as usize;
            (from + start.min(end), from + end)
        };
        match block.btype {
            0x0A0D0D0A => self.ifaces.clear(), // a new section starts a new interface list
            1 if body.len() >= 8 => {
                let linktype = self.u16(body) as i32;
                let snaplen = self.u32(&body[4..]);
                let (unit, offset) = self.iface_options(&body[8..]);
                self.ifaces.push(Iface {
                    linktype,
                    unit,
                    offset,
                    snaplen,
                });
                linktypes.push(linktype);
            }
            6 if body.len() >= 20 => {
                let iface = self.u32(body);
                let ticks = (self.u32(&body[4..]) as u64) << 32 | self.u32(&body[8..]) as u64;
                let (caplen, wirelen) = (self.u32(&body[12..]), self.u32(&body[16..]));
                let (s, e) = clip(20, caplen);
                return Some(self.packet(iface, ticks, wirelen, s, e));
            }
            3 if body.len() >= 4 && !self.ifaces.is_empty() => {
                let wirelen = self.u32(body);
                let Iface {
                    linktype, snaplen, ..
                } = self.ifaces[0];
                let snap = if snaplen != 0 { snaplen } else { wirelen };
                let caplen = wirelen.min(snap).min((body.len() - 4) as u32);
                let (s, e) = clip(4, caplen);
                return Some((0.0, wirelen, s, e, linktype));
            }
            2 if body.len() >= 20 => {
                let iface = self.u16(body) as u32;
                let ticks = (self.u32(&body[4..]) as u64) << 32 | self.u32(&body[8..]) as u64;
                let (caplen, wirelen) = (self.u32(&body[12..]), self.u32(&body[16..]));
                let (s, e) = clip(20, caplen);
                return Some(self.packet(iface, ticks, wirelen, s, e));
            }
            _ => {}
        }
        None
    }

    /// A packet block's record; one naming an undeclared interface is still handed on (with
    /// link type `UNDECLARED_INTERFACE`) so the decoder counts it as malformed.
    fn packet(&self, iface: u32, ticks: u64, wirelen: u32, s: usize, e: usize) -> Packet {
        match self.ifaces.get(iface as usize) {
            None => (ticks as f64 * 1e-6, wirelen, s, e, UNDECLARED_INTERFACE),
            Some(i) => (
                i.offset as f64 + ticks as f64 * i.unit,
                wirelen,
                s,
                e,
                i.linktype,
            ),
        }
    }

    /// `if_tsresol` (code 9) and `if_tsoffset` (code 14); a declared length may overrun.
    fn iface_options(&self, opts: &[u8]) -> (f64, i64) {
        let (mut unit, mut offset, mut pos) = (1e-6, 0i64, 0usize);
        while pos + 4 <= opts.len() {
            let code = self.u16(&opts[pos..]);
            let length = self.u16(&opts[pos + 2..]) as usize;
            let value = &opts[pos + 4..(pos + 4 + length).min(opts.len())];
            if code == 0 {
                break;
            }
            if code == 9 && !value.is_empty() {
                let r = value[0];
                // Python's `**` on floats is C's pow().
                unit = if r & 0x80 != 0 {
                    2f64.powf(-((r & 0x7f) as f64))
                } else {
                    10f64.powf(-(r as f64))
                };
            } else if code == 14 && value.len() == 8 {
                let mut v = [0u8; 8];
                v.copy_from_slice(value);
                offset = if self.big {
                    i64::from_be_bytes(v)
                } else {
                    i64::from_le_bytes(v)
                };
            }
            pos += 4 + ((length + 3) & !3);
        }
        (unit, offset)
    }
}

fn check_len(total: usize, name: &str) -> Result<(), String> {
    if total < 12 || !total.is_multiple_of(4) || total > MAX_RECORD {
        return Err(format!("{name}: corrupt pcapng block length {total}"));
    }
    Ok(())
}
