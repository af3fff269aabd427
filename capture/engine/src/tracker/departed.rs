//! The flows a tracker let go (evicted at its cap, released once closed), remembered by key for
//! a while so that a connection that comes back is marked as the continuation of its earlier
//! flow.
//!
//! Zeek does the same as the tracker underneath: once a connection's state is gone (its
//! inactivity timeout), the next packet of the 4-tuple makes a new connection with a new uid,
//! and nothing links the two. tcpwatch writes the new record too, and links it to the earlier
//! one (`Flow::continues`, exported as `continues_uid`). A plain SYN whose sequence number is
//! not its sender's base in the earlier flow is a new connection (port reuse, as `tcp.stream`
//! splits them), not a continuation.
//!
//! Bounded: two generations of at most `KEPT` keys each (the older dropped whole when the newer
//! fills), about 40 bytes a key: a flow that comes back after 65,536 to 131,072 others have
//! left is not linked. Keys are remembered by their 64-bit hash (the tracker's random hasher):
//! two keys hashing alike in one run is a chance of about n²/2⁶⁵.

use std::hash::BuildHasher;
use std::num::NonZeroU64;

use hashbrown::{DefaultHashBuilder, HashMap};

use crate::flow::{Flow, FlowKey};
use crate::segment::{Segment, ACK, SYN};

/// Keys per generation.
pub const KEPT: usize = 1 << 16;

/// What is remembered of a flow that left: its id and each endpoint's base sequence number.
#[derive(Clone, Copy, Debug)]
struct Left {
    id: NonZeroU64,
    lo_base: Option<u32>,
    hi_base: Option<u32>,
}

/// The departed flows by key hash (see the module docs).
#[derive(Debug, Default)]
pub struct Departed {
    hasher: DefaultHashBuilder,
    newer: HashMap<u64, Left>,
    older: HashMap<u64, Left>,
}

impl Departed {
    /// Remember a flow that leaves the tracker.
    pub fn remember(&mut self, flow: &Flow) {
        let Some(id) = NonZeroU64::new(flow.id) else {
            return;
        };
        let (lo, hi) = if flow.orig_low {
            (&flow.orig, &flow.resp)
        } else {
            (&flow.resp, &flow.orig)
        };
        if self.newer.len() >= KEPT {
            self.older = std::mem::take(&mut self.newer);
        }
        let left = Left {
            id,
            lo_base: lo.base,
            hi_base: hi.base,
        };
        self.newer.insert(self.hasher.hash_one(&flow.key), left);
    }

    /// Whether anything is remembered (a tracker that never let a flow go looks nothing up).
    pub fn is_empty(&self) -> bool {
        self.newer.is_empty() && self.older.is_empty()
    }

    /// Whether a flow on `key` left and is remembered.
    pub fn knows(&self, key: &FlowKey) -> bool {
        if self.is_empty() {
            return false;
        }
        let hash = self.hasher.hash_one(key);
        self.newer.contains_key(&hash) || self.older.contains_key(&hash)
    }

    /// The id of the departed flow that `seg`, the first segment of a new flow on `key` (its
    /// sender the lower endpoint when `low`), continues; the memory of it is dropped.
    pub fn continued(&mut self, key: &FlowKey, seg: &Segment, low: bool) -> Option<NonZeroU64> {
        if self.is_empty() {
            return None;
        }
        let hash = self.hasher.hash_one(key);
        let left = match self.newer.remove(&hash) {
            Some(left) => left,
            None => self.older.remove(&hash)?,
        };
        let base = if low { left.lo_base } else { left.hi_base };
        let new_connection = seg.flags & (SYN | ACK) == SYN && base != Some(seg.seq);
        (!new_connection).then_some(left.id)
    }
}
