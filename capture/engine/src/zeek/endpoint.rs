//! One side of a TCP connection as Zeek keeps it (Python: `capture.zeek_endpoint`).
//!
//! Zeek's TCP_Endpoint (src/analyzer/protocol/tcp/TCP_Endpoint.{h,cc}): the endpoint state, the
//! sequence numbering relative to the first SYN (or to a SYN guessed just before the first
//! segment), its 32-bit wraps, the sizes Zeek logs; and the little of TCP_Reassembler.cc that
//! decides content gaps (history `G`).
//!
//! Integer semantics: Python masks relative numbers with 2^64 - 1 (Zeek's uint64), so they are
//! `u64` with wrapping arithmetic here. The wrap counters are `u32`; every result is Python's as
//! long as a side wraps the 32-bit space fewer than 2^32 - 1 times (4 billion segments at least).

pub(crate) const INACTIVE: u8 = 0;
pub(crate) const SYN_SENT: u8 = 1;
pub(crate) const SYN_ACK_SENT: u8 = 2;
pub(crate) const PARTIAL: u8 = 3;
pub(crate) const ESTABLISHED: u8 = 4;
pub(crate) const CLOSED: u8 = 5;
pub(crate) const RESET: u8 = 6;

/// Zeek's endpoint state names, indexed by state (`TCP_` prefix left out).
pub const STATE_NAMES: [&str; 7] = [
    "INACTIVE",
    "SYN_SENT",
    "SYN_ACK_SENT",
    "PARTIAL",
    "ESTABLISHED",
    "CLOSED",
    "RESET",
];

/// TCPSessionAdapter.cc: seq/ack jumps beyond this are not trusted on SYN and RST segments.
pub(crate) const TOO_LARGE_SEQ_DELTA: u32 = 1_048_576;
/// init-bare's tcp_max_above_hole_without_any_acks: the reassembler gives up on a side whose
/// out-of-order data grows past this before anything was acked.
const MAX_ABOVE_HOLE: u64 = 16384;
/// init-bare's tcp_max_initial_window.
pub(crate) const MAX_INITIAL_WINDOW: u64 = 16384;

/// Whether `d` (a 32-bit difference) is a step forward: nonzero and below 2^31.
pub(crate) fn forward(d: u32) -> bool {
    d != 0 && d & 0x8000_0000 == 0
}

/// (int32_t)(a - b), Zeek's seq_delta().
pub(crate) fn seq_delta(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

// Endpoint::bits
const FIN_SEEN: u8 = 1;
const RA_SKIP: u8 = 2;
const DID_CLOSE: u8 = 4;
const FIRST_SEEN: u8 = 8;

/// One side of the connection (Zeek's TCP_Endpoint plus the gap logic of its reassembler).
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    pub state: u8,
    pub prev_state: u8,
    /// FIN_SEEN (Python's fin_cnt > 0), RA_SKIP, DID_CLOSE, FIRST_SEEN (CheckPIA_FirstPacket).
    bits: u8,
    pub start_seq: u32,
    pub last_seq: u32,
    pub ack_seq: u32,
    pub seq_wraps: u32,
    pub ack_wraps: u32,
    pub fin_seq: u64,
    pub last_syn: u64,
    pub last_fin: u64,
    pub last_rst: u64,
    /// ScaledHistoryEntry counters (C, T, W, G) then their thresholds; made on first use.
    pub scaled: Option<Box<[u32; 8]>>,
    /// Reassembler: next relative byte to deliver.
    pub ra_next: u64,
    /// Reassembler: trim point (only grows, from 1).
    pub ra_trim: u64,
    /// Out-of-order data waiting above a hole, as (seq, upper); made on first use. Boxed: one
    /// word in every endpoint instead of three, for what few connections need.
    #[allow(clippy::box_collection)]
    pub ra_blocks: Option<Box<Vec<(u64, u64)>>>,
}

impl Default for Endpoint {
    fn default() -> Endpoint {
        Endpoint {
            state: INACTIVE,
            prev_state: INACTIVE,
            bits: 0,
            start_seq: 0,
            last_seq: 0,
            ack_seq: 0,
            seq_wraps: 0,
            ack_wraps: 0,
            fin_seq: 0,
            last_syn: 0,
            last_fin: 0,
            last_rst: 0,
            scaled: None,
            ra_next: 1,
            ra_trim: 1,
            ra_blocks: None,
        }
    }
}

impl Endpoint {
    fn flag(&self, bit: u8) -> bool {
        self.bits & bit != 0
    }

    pub fn fin_seen(&self) -> bool {
        self.flag(FIN_SEEN)
    }

    pub fn set_fin_seen(&mut self) {
        self.bits |= FIN_SEEN;
    }

    pub fn ra_skip(&self) -> bool {
        self.flag(RA_SKIP)
    }

    pub fn did_close(&self) -> bool {
        self.flag(DID_CLOSE)
    }

    pub fn set_did_close(&mut self) {
        self.bits |= DID_CLOSE;
    }

    pub fn first_seen(&self) -> bool {
        self.flag(FIRST_SEEN)
    }

    pub fn set_first_seen(&mut self) {
        self.bits |= FIRST_SEEN;
    }

    /// Whether out-of-order data is buffered (Python: `ra_blocks` truthy).
    pub fn has_blocks(&self) -> bool {
        self.ra_blocks.as_ref().is_some_and(|b| !b.is_empty())
    }

    pub fn set_state(&mut self, new: u8) {
        if new != self.state {
            self.prev_state = self.state;
            self.state = new;
        }
    }

    pub fn init_seqs(&mut self, start: u32, last: u32) {
        self.start_seq = start;
        self.ack_seq = start;
        self.last_seq = last;
    }

    pub fn update_last_seq(&mut self, seq: u32) {
        if seq < self.last_seq {
            self.seq_wraps = self.seq_wraps.wrapping_add(1);
        }
        self.last_seq = seq;
    }

    /// get_relative_seq(): `cur` relative to the start, as Zeek's uint64, and underflow.
    pub fn relative(&self, cur: u32, last: u32, wraps: u32) -> (u64, bool) {
        let d = cur.wrapping_sub(last);
        let mut wraps = u64::from(wraps);
        if d & 0x8000_0000 != 0 {
            if wraps != 0 && cur > last {
                wraps -= 1; // seems to belong to the previous 32-bit space
            }
        } else if d != 0 && cur < last {
            wraps += 1;
        }
        if wraps == 0 {
            let rel = cur.wrapping_sub(self.start_seq);
            // below the start: Zeek's uint64 of a negative number
            return (rel as i32 as i64 as u64, rel & 0x8000_0000 != 0);
        }
        let rel = (wraps << 32)
            .wrapping_add(u64::from(cur))
            .wrapping_sub(u64::from(self.start_seq));
        (rel, false)
    }

    /// The highest ack received for this side, relative to its start (Python masks with M64).
    pub fn acked(&self) -> u64 {
        self.ack64().wrapping_sub(u64::from(self.start_seq))
    }

    fn ack64(&self) -> u64 {
        (u64::from(self.ack_wraps) << 32) + u64::from(self.ack_seq)
    }

    fn no_data_acked(&self) -> bool {
        let ack = self.ack64();
        let start = u64::from(self.start_seq);
        ack == start || ack == start + 1
    }

    /// TCP_Endpoint::Size(): bytes sent, from sequence numbers (SYN and FIN excluded).
    /// Only the peer's state matters.
    pub fn size(&self, peer_state: u8) -> u64 {
        if self.prev_state == SYN_SENT
            && self.state == RESET
            && peer_state == INACTIVE
            && !self.no_data_acked()
        {
            return 0; // a half-open connection found and aborted: its numbers mean nothing
        }
        let last64 = (u64::from(self.seq_wraps) << 32) + u64::from(self.last_seq);
        let mut size = last64
            .max(self.ack64())
            .wrapping_sub(u64::from(self.start_seq));
        size = size.saturating_sub(1);
        if self.fin_seen() {
            size = size.saturating_sub(1);
        }
        size
    }

    /// init_endpoint(): set the numbering on an endpoint's first segment or a new SYN.
    pub fn init_for(&mut self, syn: bool, first: u32, last: u32) {
        match self.state {
            INACTIVE if syn => self.init_seqs(first, last),
            // partial connection: number as though a SYN had been seen
            INACTIVE => self.init_seqs(first.wrapping_sub(1), first),
            // SYN_seq_jump
            SYN_SENT | SYN_ACK_SENT if syn && first != self.start_seq => {
                self.init_seqs(first, last)
            }
            // guess that this SYN sets the connection up
            ESTABLISHED | PARTIAL if syn => self.init_seqs(first, last),
            // the earlier RST may have been injected
            RESET if syn && self.prev_state == INACTIVE => self.init_seqs(first, last),
            _ => {}
        }
    }

    /// Established, or closed from established: where Zeek counts content gaps.
    pub fn is_clean(&self) -> bool {
        self.state == ESTABLISHED || (self.state == CLOSED && self.prev_state == ESTABLISHED)
    }

    // -- TCP_Reassembler: only what decides content gaps --------------------------------------

    /// TrimToSeq() on an ack up to `seq`; returns the content gaps found (Gap() calls).
    pub fn trim_to(&mut self, seq: u64, partial: bool) -> u64 {
        let gaps = if self.ra_next < seq {
            self.undelivered(seq, partial)
        } else {
            0
        };
        if let Some(blocks) = self.ra_blocks.as_mut() {
            let keep = blocks
                .iter()
                .position(|b| b.1 > seq)
                .unwrap_or(blocks.len());
            blocks.drain(..keep);
        }
        if seq > self.ra_trim {
            self.ra_trim = seq;
        }
        gaps
    }

    /// Undelivered(): everything below `up_to` not seen is a gap; returns how many.
    fn undelivered(&mut self, up_to: u64, partial: bool) -> u64 {
        if up_to <= 2 && partial {
            return 0; // the faked SYN of a partial connection is not a gap
        }
        let mut gaps = 0;
        if !self.ra_skip() {
            while let Some(&(seq, _)) = self.first_block() {
                if seq >= up_to {
                    break;
                }
                gaps += 1;
                self.ra_next = seq;
                self.absorb();
            }
            if up_to > self.ra_next {
                gaps += 1;
            }
        }
        if up_to > self.ra_next {
            self.ra_next = up_to;
        }
        gaps
    }

    fn first_block(&self) -> Option<&(u64, u64)> {
        self.ra_blocks.as_ref().and_then(|b| b.first())
    }

    /// DataSent(): `length` bytes at relative `seq` reach the reassembler (`truncated`: the
    /// segment's payload was not captured whole).
    pub fn data_sent(&mut self, seq: u64, length: u32, truncated: bool, peer_state: u8) {
        if truncated || self.ra_skip() {
            return; // payload not captured whole is never reassembled (truncated_tcp_payload)
        }
        let ack = self.acked();
        // Python's sum is unbounded; it exceeds 2^64 only after 2^32 wraps (see the module doc)
        let upper = seq.saturating_add(u64::from(length));
        let mut seq = seq;
        if seq < ack {
            if upper <= ack {
                return;
            }
            seq = ack;
        }
        let trim = self.ra_trim;
        if upper <= trim {
            return;
        }
        seq = seq.max(trim);
        if seq <= self.ra_next {
            if upper > self.ra_next {
                self.ra_next = upper;
                if self.has_blocks() {
                    self.absorb();
                }
                // tcp_max_initial_window: stop buffering a side nobody acks (no gap: in order)
                if ack <= 1 && self.size(peer_state) > MAX_INITIAL_WINDOW {
                    self.trim_to(self.ra_next, false);
                }
            }
        } else {
            let blocks = self.ra_blocks.get_or_insert_with(Box::default);
            let mut i = blocks.len();
            while i > 0 && blocks[i - 1].0 > seq {
                i -= 1;
            }
            blocks.insert(i, (seq, upper));
        }
        let ra_next = self.ra_next;
        if let Some(blocks) = self.ra_blocks.as_mut() {
            let above = blocks
                .last()
                .is_some_and(|b| b.1 > ra_next.saturating_add(MAX_ABOVE_HOLE));
            if ack <= 1 && above {
                // above_hole_data_without_any_acks: give up on this side
                self.ra_blocks = None;
                self.bits |= RA_SKIP;
            }
        }
    }

    /// Deliver the stored blocks that now follow on from `ra_next`.
    fn absorb(&mut self) {
        let Some(blocks) = self.ra_blocks.as_mut() else {
            return;
        };
        let mut n = 0;
        for &(seq, upper) in blocks.iter() {
            if seq > self.ra_next {
                break;
            }
            n += 1;
            self.ra_next = self.ra_next.max(upper);
        }
        blocks.drain(..n);
    }
}
