//! Flows that have seen one SYN and nothing else, kept packed until they must be a `Flow`
//! (Python: `capture.embryo`).
//!
//! A SYN flood or a port scan makes one flow per spoofed source or probed port, and most never
//! see a second segment. Such a flow ("embryo") is kept as its id and its SYN, packed into one
//! fixed record (no frame: the `Segment` holds all the tracker and Zeek read). When a second
//! segment comes for its 4-tuple, or the flow has to be read (evicted, exported), the SYN is
//! unpacked and given to the tracker as it was the first time, so the flow is the same.
//!
//! `Embryos` holds them in creation order (which is id order) in a deque, with a hash table of
//! ids over their keys; one grown from the middle leaves a tombstone until the front reaches it
//! or tombstones outnumber the living.

use std::collections::VecDeque;
use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::flow::{sender_is_low, FlowKey};
use crate::segment::{Addr, Opts, Segment};

/// Option bytes kept inline (Linux's SYN has 20); longer lists go to `Rare`.
const INLINE_OPTS: usize = 20;
const V6: u8 = 1;
const TRUNCATED: u8 = 2;
const HEADER_OK: u8 = 4;
const IP_CK_OK: u8 = 8;
const TCP_CK_OK: u8 = 16;
const DEAD: u8 = 32;

/// The rare parts of a SYN: VLAN tags, a malformed option list's reason, long options.
#[derive(Clone, Debug, Default)]
struct Rare {
    vlan: Box<[u16]>,
    bad_opts: Option<Box<str>>,
    opts: Option<Opts>,
}

/// One flow's id and its only segment, a SYN, packed.
#[derive(Clone, Debug)]
pub struct Embryo {
    id: u64,
    frame_no: u64,
    ts: f64,
    src: [u8; 16],
    dst: [u8; 16],
    seq: u32,
    ack: u32,
    ip_len: u32,
    payload_len: u32,
    wire_len: u32,
    caplen: u32,
    ip_off: u32,
    tcp_off: u32,
    linktype: i32,
    sport: u16,
    dport: u16,
    flags: u16,
    window: u16,
    urg_ptr: u16,
    ttl: u8,
    ip_version: u8,
    bits: u8,
    opts_len: u8,
    opts: [u8; INLINE_OPTS],
    rare: Option<Box<Rare>>,
}

fn addr16(a: &Addr) -> [u8; 16] {
    let mut out = [0u8; 16];
    let raw = a.as_slice();
    out[..raw.len()].copy_from_slice(raw);
    out
}

impl Embryo {
    /// The embryo of flow `id`, whose first segment is `seg`.
    pub fn pack(id: u64, seg: &Segment) -> Embryo {
        let raw_opts = seg.opts.as_slice();
        let mut opts = [0u8; INLINE_OPTS];
        let inline = raw_opts.len() <= INLINE_OPTS;
        if inline {
            opts[..raw_opts.len()].copy_from_slice(raw_opts);
        }
        let rare = if !inline || !seg.vlan.is_empty() || seg.bad_opts.is_some() {
            Some(Box::new(Rare {
                vlan: seg.vlan.clone(),
                bad_opts: seg.bad_opts.clone(),
                opts: (!inline).then_some(seg.opts),
            }))
        } else {
            None
        };
        let flag = |on: bool, bit: u8| if on { bit } else { 0 };
        Embryo {
            id,
            frame_no: seg.frame_no,
            ts: seg.ts,
            src: addr16(&seg.src),
            dst: addr16(&seg.dst),
            seq: seg.seq,
            ack: seg.ack,
            ip_len: seg.ip_len,
            payload_len: seg.payload_len,
            wire_len: seg.wire_len,
            caplen: seg.caplen,
            ip_off: seg.ip_off,
            tcp_off: seg.tcp_off,
            linktype: seg.linktype,
            sport: seg.sport,
            dport: seg.dport,
            flags: seg.flags,
            window: seg.window,
            urg_ptr: seg.urg_ptr,
            ttl: seg.ttl,
            ip_version: seg.ip_version,
            bits: flag(seg.src.is_v6(), V6)
                | flag(seg.truncated, TRUNCATED)
                | flag(seg.header_ok, HEADER_OK)
                | flag(seg.ip_checksum_ok, IP_CK_OK)
                | flag(seg.tcp_checksum_ok, TCP_CK_OK),
            opts_len: if inline { raw_opts.len() as u8 } else { 0 },
            opts,
            rare,
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// (time of the SYN, flow id): the embryo's place in the eviction order.
    pub fn when(&self) -> (f64, u64) {
        (self.ts, self.id)
    }

    fn addr(&self, raw: &[u8; 16]) -> Addr {
        Addr::new(if self.bits & V6 != 0 { raw } else { &raw[..4] })
    }

    /// The flow key of its SYN.
    pub fn key(&self) -> FlowKey {
        // Cheaper than unpacking the whole segment for a hash or a comparison.
        let (src, dst) = (self.addr(&self.src), self.addr(&self.dst));
        let low = src < dst || (src == dst && self.sport <= self.dport);
        let vlan: Box<[u16]> = self
            .rare
            .as_ref()
            .map(|r| r.vlan.clone())
            .unwrap_or_default();
        let (lo, hi, lo_port, hi_port) = if low {
            (src, dst, self.sport, self.dport)
        } else {
            (dst, src, self.dport, self.sport)
        };
        FlowKey {
            lo,
            hi,
            lo_port,
            hi_port,
            vlan,
        }
    }

    /// The SYN, as the decoder gave it.
    pub fn segment(&self) -> Segment {
        let rare = self.rare.as_deref();
        let opts = match rare.and_then(|r| r.opts) {
            Some(opts) => opts,
            None => Opts::new(&self.opts[..self.opts_len as usize]),
        };
        Segment {
            frame_no: self.frame_no,
            ts: self.ts,
            linktype: self.linktype,
            wire_len: self.wire_len,
            caplen: self.caplen,
            truncated: self.bits & TRUNCATED != 0,
            ip_version: self.ip_version,
            ip_off: self.ip_off,
            src: self.addr(&self.src),
            dst: self.addr(&self.dst),
            ip_len: self.ip_len,
            ttl: self.ttl,
            vlan: rare.map(|r| r.vlan.clone()).unwrap_or_default(),
            tcp_off: self.tcp_off,
            sport: self.sport,
            dport: self.dport,
            seq: self.seq,
            ack: self.ack,
            flags: self.flags,
            window: self.window,
            urg_ptr: self.urg_ptr,
            opts,
            bad_opts: rare.and_then(|r| r.bad_opts.clone()),
            payload_len: self.payload_len,
            header_ok: self.bits & HEADER_OK != 0,
            ip_checksum_ok: self.bits & IP_CK_OK != 0,
            tcp_checksum_ok: self.bits & TCP_CK_OK != 0,
        }
    }

    fn dead(&self) -> bool {
        self.bits & DEAD != 0
    }
}

/// The embryos of a tracker, by key and in creation order.
#[derive(Debug)]
pub struct Embryos {
    /// In id order, tombstones (DEAD) included.
    queue: VecDeque<Embryo>,
    /// Ids of the living, hashed by their key.
    index: HashTable<u64>,
    /// The tracker's own hasher (`by_key`'s), randomly seeded as std's but several times
    /// quicker: every plain SYN is looked up here.
    hasher: DefaultHashBuilder,
    dead: usize,
}

impl Default for Embryos {
    fn default() -> Embryos {
        Embryos {
            queue: VecDeque::new(),
            index: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            dead: 0,
        }
    }
}

impl Embryos {
    /// How many are held.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn position(queue: &VecDeque<Embryo>, id: u64) -> Option<usize> {
        queue.binary_search_by_key(&id, |e| e.id).ok()
    }

    /// The living embryo with this id, if any.
    pub fn get(&self, id: u64) -> Option<&Embryo> {
        let i = Self::position(&self.queue, id)?;
        Some(&self.queue[i]).filter(|e| !e.dead())
    }

    /// Whether an embryo has this key.
    pub fn contains(&self, key: &FlowKey) -> bool {
        let hash = self.hasher.hash_one(key);
        let queue = &self.queue;
        self.index
            .find(hash, |id| Self::matches(queue, *id, key))
            .is_some()
    }

    fn matches(queue: &VecDeque<Embryo>, id: u64, key: &FlowKey) -> bool {
        Self::position(queue, id).is_some_and(|i| queue[i].key() == *key)
    }

    /// Keep a new embryo (its id is above every one held, and its key is new).
    pub fn insert(&mut self, embryo: Embryo) {
        let hash = self.hasher.hash_one(embryo.key());
        let (hasher, queue) = (&self.hasher, &self.queue);
        let id = embryo.id;
        // Rehashing reads the keys of those already queued; the new one is not yet among them.
        self.index.insert_unique(hash, id, |other| {
            Self::position(queue, *other).map_or(0, |i| hasher.hash_one(queue[i].key()))
        });
        // Grow by a quarter, not double: the queue is most of a flood's memory.
        let queue = &mut self.queue;
        if queue.len() == queue.capacity() {
            queue.reserve_exact((queue.len() / 4).max(64));
        }
        queue.push_back(embryo);
    }

    /// Take out the embryo with this key, if any.
    pub fn remove(&mut self, key: &FlowKey) -> Option<Embryo> {
        let hash = self.hasher.hash_one(key);
        let queue = &self.queue;
        let entry = self
            .index
            .find_entry(hash, |id| Self::matches(queue, *id, key))
            .ok()?;
        let (id, _) = entry.remove();
        let i = Self::position(&self.queue, id)?;
        let out = self.queue[i].clone();
        self.queue[i].bits |= DEAD;
        self.queue[i].rare = None;
        self.dead += 1;
        self.tidy();
        Some(out)
    }

    /// Drop tombstones at the front, and all of them once they outnumber the living.
    fn tidy(&mut self) {
        while self.queue.front().is_some_and(Embryo::dead) {
            self.queue.pop_front();
            self.dead -= 1;
        }
        if self.dead > 64 && self.dead > self.index.len() {
            self.queue.retain(|e| !e.dead());
            self.dead = 0;
        }
    }

    /// The living embryos, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Embryo> {
        self.queue.iter().filter(|e| !e.dead())
    }

    /// Take out the oldest `n` (the front of `iter`).
    pub fn pop_oldest(&mut self, n: usize) {
        for _ in 0..n {
            self.tidy();
            let Some(first) = self.queue.pop_front() else {
                return;
            };
            let hash = self.hasher.hash_one(first.key());
            if let Ok(entry) = self.index.find_entry(hash, |id| *id == first.id) {
                entry.remove();
            }
        }
        self.tidy();
    }
}

/// The key of a segment for an embryo lookup.
pub fn key_of(seg: &Segment) -> FlowKey {
    FlowKey::of(seg, sender_is_low(seg))
}
