//! Turn one captured frame into a `Segment` (Python: `capture.decode.Decoder`).
//!
//! `Decoder::decode` never fails on bad input. A frame that is not TCP is counted as `non_tcp`;
//! a later IP fragment as `fragments`; a frame that cannot be decoded is counted in `malformed`
//! by reason (Python's texts, to the byte) and kept (bounded) in `malformed_frames`.
//!
//! Two paths, as in Python: `fast` takes the common Ethernet frame (up to two VLAN tags, IPv4
//! without options or IPv6 without extension headers, a sane TCP header within the IP and wire
//! lengths) and `walk` everything else, field for field the same (a property test checks it).
//!
//! Hand-written rather than on `etherparse`: the specification is Python's decoder, quirks
//! included, and etherparse differs where it matters. It has no MPLS (nor pseudowires), PPPoE,
//! L2TPv2 or either-byte-order DLT_NULL; it rejects what Python keeps (an IPv4 total length of 0
//! from segmentation offload, a total length below the header, a data offset beyond the IP
//! payload, which Python decodes and flags in `bad_opts`); its errors are not Python's malformed
//! reasons; and its header slices would still have to be re-read here for `payload_len`, the
//! truncation rules and the Zeek checks. The hand-written common path is a handful of loads
//! from one bounds-checked array.
//!
//! One deliberate difference: Python walks nested encapsulations (IP in IP, MPLS pseudowires,
//! L2TP) by mutual recursion and raises `RecursionError` past about 500 nested tunnels; here the
//! walk is a loop, so such a frame decodes (no stack can be exhausted by a packet).

mod checks;
mod fast;
mod walk;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_malformed;
#[cfg(test)]
mod tests_props;

use std::collections::{BTreeMap, VecDeque};

use crate::segment::Segment;

/// How many malformed frames are kept for inspection (the count itself is exact).
pub const MALFORMED_KEEP: usize = 1000;

/// pcap link types this decoder understands.
pub const LINKTYPE_NULL: i32 = 0;
pub const LINKTYPE_ETHERNET: i32 = 1;
pub const LINKTYPE_RAW_OLD: i32 = 12;
pub const LINKTYPE_RAW_BSD: i32 = 14;
pub const LINKTYPE_RAW: i32 = 101;
pub const LINKTYPE_LOOP: i32 = 108;
pub const LINKTYPE_LINUX_SLL: i32 = 113;
pub const LINKTYPE_IPV4: i32 = 228;
pub const LINKTYPE_IPV6: i32 = 229;
pub const LINKTYPE_LINUX_SLL2: i32 = 276;
/// Every link type above (Python: `SUPPORTED_LINKTYPES`).
pub const SUPPORTED_LINKTYPES: [i32; 10] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276];

/// One frame that could not be decoded, kept for inspection.
#[derive(Clone, Debug, PartialEq)]
pub struct MalformedFrame {
    pub frame_no: u64,
    pub ts: f64,
    pub linktype: i32,
    pub frame: Box<[u8]>,
    /// Why it could not be decoded (a key of `Decoder::malformed`).
    pub reason: String,
}

/// Decodes frames into segments and counts every frame exactly once.
///
/// Every frame lands in exactly one of `tcp`, `non_tcp`, `fragments` or `malformed`.
#[derive(Clone, Debug, Default)]
pub struct Decoder {
    /// Every frame handed to `decode`.
    pub frames: u64,
    /// Frames that gave a segment.
    pub tcp: u64,
    /// Frames that are not TCP (or not IP, or L2TP control messages ...).
    pub non_tcp: u64,
    /// IP fragments after the first (the first one carries the TCP header and is decoded).
    pub fragments: u64,
    /// Segments whose capture holds less than the IP header says (also counted in `tcp`).
    pub truncated: u64,
    /// Undecodable frames by reason.
    pub malformed: BTreeMap<String, u64>,
    /// The last `MALFORMED_KEEP` undecodable frames.
    pub malformed_frames: VecDeque<MalformedFrame>,
    /// Compute `Segment::ip_checksum_ok`/`tcp_checksum_ok` (else both are true).
    pub verify_checksums: bool,
}

impl Decoder {
    /// A decoder with every count at zero.
    pub fn new(verify_checksums: bool) -> Decoder {
        Decoder {
            verify_checksums,
            ..Decoder::default()
        }
    }

    /// All malformed frames, whatever the reason.
    pub fn malformed_total(&self) -> u64 {
        self.malformed.values().sum()
    }

    /// Decode one frame; None when it is not a (first-fragment) TCP segment. Counts every frame
    /// exactly once.
    pub fn decode(
        &mut self,
        data: &[u8],
        ts: f64,
        wire_len: u32,
        linktype: i32,
        frame_no: u64,
    ) -> Option<Segment> {
        self.frames += 1;
        // The common case is built and finished in the return slot: a Segment is big enough
        // for a move to be a memcpy call.
        if linktype == LINKTYPE_ETHERNET {
            let mut fast = fast::ether_fast(data, wire_len);
            if let Some(seg) = fast.as_mut() {
                self.finish(seg, data, ts, wire_len, linktype, frame_no);
                return fast;
            }
        }
        let mut found = self.long(data, ts, wire_len, linktype, frame_no);
        if let Some(seg) = found.as_mut() {
            self.finish(seg, data, ts, wire_len, linktype, frame_no);
        }
        found
    }

    /// Count a segment and fill in what both paths leave: the per-frame fields and the checks.
    #[inline(always)]
    fn finish(
        &mut self,
        seg: &mut Segment,
        data: &[u8],
        ts: f64,
        wire_len: u32,
        linktype: i32,
        frame_no: u64,
    ) {
        self.tcp += 1;
        if seg.truncated {
            self.truncated += 1;
        }
        seg.frame_no = frame_no;
        seg.ts = ts;
        seg.linktype = linktype;
        seg.wire_len = wire_len;
        seg.caplen = u32::try_from(data.len()).unwrap_or(u32::MAX);
        seg.header_ok = checks::header_ok(seg, data);
        if self.verify_checksums {
            seg.ip_checksum_ok = checks::ip_checksum_ok(seg, data);
            seg.tcp_checksum_ok = checks::tcp_checksum_ok(seg, data);
        } else {
            seg.ip_checksum_ok = true;
            seg.tcp_checksum_ok = true;
        }
    }

    /// Python's `_long` less the `tcp`/`truncated` counts (done by `decode` for both paths):
    /// the general walk, its outcome counted, and the payload cut to what the wire held.
    fn long(
        &mut self,
        data: &[u8],
        ts: f64,
        wire_len: u32,
        linktype: i32,
        frame_no: u64,
    ) -> Option<Segment> {
        let mut seg = match walk::decode(data, linktype) {
            Ok(walk::Found::Tcp(seg)) => seg,
            Ok(walk::Found::NonTcp) => {
                self.non_tcp += 1;
                return None;
            }
            Ok(walk::Found::Fragment) => {
                self.fragments += 1;
                return None;
            }
            Err(reason) => {
                self.count_malformed(reason.to_string(), data, ts, linktype, frame_no);
                return None;
            }
        };
        // IP longer than the frame on the wire (a bad length, or a segmentation offload
        // artefact): the payload is what the wire held, as tshark's tcp.len; ip_len stays the
        // header's, so IP byte counts agree with tshark's.
        let held = i64::from(wire_len).max(data.len() as i64);
        let excess = i64::from(seg.ip_off) + i64::from(seg.ip_len) - held;
        if excess > 0 && seg.payload_len != 0 {
            seg.payload_len = (i64::from(seg.payload_len) - excess).max(0) as u32;
        }
        Some(seg)
    }

    fn count_malformed(
        &mut self,
        reason: String,
        data: &[u8],
        ts: f64,
        linktype: i32,
        frame_no: u64,
    ) {
        match self.malformed.get_mut(&reason) {
            Some(count) => *count += 1,
            None => {
                self.malformed.insert(reason.clone(), 1);
            }
        }
        if self.malformed_frames.len() >= MALFORMED_KEEP {
            self.malformed_frames.pop_front();
        }
        self.malformed_frames.push_back(MalformedFrame {
            frame_no,
            ts,
            linktype,
            frame: data.into(),
            reason,
        });
    }
}
