//! Classic pcap: the file header, then 16-byte record headers each followed by its bytes
//! (`CaptureReader._pcap` / `_pcap_records`, and `PcapBlocks`, which stops the same way).

use super::feed::Feed;
use super::MAX_RECORD;

/// One pcap stream's layout, from its magic and file header.
pub(crate) struct Pcap {
    big: bool,
    unit: f64,
    pub(crate) linktype: i32,
}

/// A record found: (time, wire length, start and end of its bytes in the feed, record offset).
pub(crate) type Found = (f64, u32, usize, usize);

/// Byte order and time unit of a pcap magic, `None` for another magic.
pub(crate) fn magic(head: &[u8]) -> Option<(bool, f64)> {
    match head {
        b"\xd4\xc3\xb2\xa1" => Some((false, 1e-6)),
        b"\xa1\xb2\xc3\xd4" => Some((true, 1e-6)),
        b"\x4d\x3c\xb2\xa1" => Some((false, 1e-9)),
        b"\xa1\xb2\x3c\x4d" => Some((true, 1e-9)),
        _ => None,
    }
}

#[inline]
fn u32_at(b: &[u8], at: usize, big: bool) -> u32 {
    let v = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if big {
        u32::from_be_bytes(v)
    } else {
        u32::from_le_bytes(v)
    }
}

impl Pcap {
    /// Reads the 20 bytes after the magic: (layout, snap length), or the error text.
    pub(crate) fn open(feed: &mut Feed, head: &[u8], name: &str) -> Result<(Pcap, u32), String> {
        let Some((big, unit)) = magic(head) else {
            return Err(format!("{name}: not a pcap file"));
        };
        if feed.take(20) < 20 {
            return Err(format!("{name}: truncated pcap file header"));
        }
        let h = feed.bytes(feed.cur - 20, feed.cur);
        let major = if big {
            u16::from_be_bytes([h[0], h[1]])
        } else {
            u16::from_le_bytes([h[0], h[1]])
        };
        if major != 2 {
            return Err(format!("{name}: unsupported pcap version {major}"));
        }
        let snaplen = u32_at(h, 12, big);
        // The top bits of the link type carry FCS information.
        let linktype = (u32_at(h, 16, big) & 0x03FF_FFFF) as i32;
        Ok((
            Pcap {
                big,
                unit,
                linktype,
            },
            snaplen,
        ))
    }

    /// The next record, `Ok(None)` at the clean end, or the error text.
    #[inline]
    pub(crate) fn next(&self, feed: &mut Feed, name: &str) -> Result<Option<Found>, String> {
        if feed.avail() < 16 {
            feed.refill(16);
            if feed.avail() < 16 {
                if feed.avail() > 0 {
                    return Err(format!("{name}: file ends inside a record header"));
                }
                return Ok(None);
            }
        }
        let h = feed.bytes(feed.cur, feed.cur + 16);
        let (sec, frac) = (u32_at(h, 0, self.big), u32_at(h, 4, self.big));
        let (caplen, wirelen) = (u32_at(h, 8, self.big), u32_at(h, 12, self.big));
        if caplen as usize > MAX_RECORD {
            return Err(format!("{name}: corrupt record (claims {caplen} bytes)"));
        }
        let len = 16 + caplen as usize;
        if feed.avail() < len {
            feed.refill(len);
            if feed.avail() < len {
                return Err(format!(
                    "{name}: file ends inside a record ({caplen} bytes announced)"
                ));
            }
        }
        let at = feed.cur;
        feed.cur += len;
        Ok(Some((
            sec as f64 + frac as f64 * self.unit,
            wirelen,
            at + 16,
            at + len,
        )))
    }
}
