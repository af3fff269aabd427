//! Flows: one TCP connection each, built from segments (Python: `capture.flows.FlowTracker`;
//! its module docstring states the rules: identity, orientation, port reuse, teardown kinds,
//! measures). The tracker never reads a clock: all time comes from the segments.
//!
//! Identity is the 4-tuple plus the VLAN ids (`FlowKey`, the lower endpoint first). The
//! originator is the sender of the first SYN; without one a SYN/ACK's sender is the responder,
//! else an endpoint in `listen_ports`, else the first segment's sender unless Zeek would flip it
//! (`zeek::initial_flip`). A SYN whose sequence number differs from its sender's base on the
//! 4-tuple starts a new flow (port reuse), as Wireshark's `tcp.stream` does.
//!
//! Flows leave through eviction at `max_flows` (closed and superseded first, then the idlest) or,
//! with `linger`, once closed and quiet; either way they are queued for `take_gone`.

mod books;
mod departed;
mod embryo;
mod eviction;
mod lookup;
mod rings;
#[cfg(test)]
pub(crate) mod segmaker;
mod updates;

#[cfg(test)]
mod tests_bounds;
#[cfg(test)]
mod tests_embryos;
#[cfg(test)]
mod tests_flows;

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use hashbrown::HashMap;

use crate::flow::analysis::Marks;
use crate::flow::{sender_is_low, Flow, FlowKey, Owner};
use crate::segment::{Addr, Segment, ACK, FIN, RST, SYN};
use crate::zeek::initial_flip;
use books::Books;
pub use books::KEEP_SPECIAL;
use embryo::{key_of, Embryo, Embryos};
use eviction::Entry;
use lookup::KeyView;
use rings::FrameRings;
pub use rings::Shed;
use updates::count_plain;
pub use updates::KEEP_TIMES;

/// Segments kept in all the flows' rings together, by default.
pub const FRAME_BUDGET: usize = 250_000;
/// Frame bytes kept in all the rings together, by default: a loopback frame reaches 64 KiB.
pub const FRAME_BYTES: usize = 256 << 20;

/// How a tracker bounds itself (Python: `FlowTracker.__init__`'s arguments).
#[derive(Clone, Debug, PartialEq)]
pub struct TrackerConfig {
    /// Flows tracked at most (at least 1); past it a batch of 1/64 is evicted.
    pub max_flows: usize,
    /// The ring of recent segments kept per flow; 0 keeps no segments at all.
    pub frames_per_flow: usize,
    /// Segments kept in all the rings together.
    pub frame_budget: usize,
    /// Frame bytes kept in all the rings together.
    pub frame_bytes: usize,
    /// Seconds of capture time after which a closed (or superseded), quiet flow is let go.
    pub linger: Option<f64>,
    /// Keep flows that saw one plain SYN packed (needs `frames_per_flow` 0; see `add`).
    pub embryos: bool,
    /// Zeek's checksum checks (Zeek without `-C`).
    pub verify_checksums: bool,
    /// The seed of the flows' uids (`flow::uid`): a run's own (`flow::random_seed`) unless the
    /// user fixed one (`--seed`).
    pub uid_seed: u64,
}

impl Default for TrackerConfig {
    fn default() -> TrackerConfig {
        TrackerConfig {
            max_flows: 100_000,
            frames_per_flow: 64,
            frame_budget: FRAME_BUDGET,
            frame_bytes: FRAME_BYTES,
            linger: None,
            embryos: false,
            verify_checksums: false,
            uid_seed: 0,
        }
    }
}

impl TrackerConfig {
    /// A tracker whose flows a person looks at (the TUI's sessions, `capture._engine.Tracker`):
    /// every flow a `Flow` with its recent frames, none packed, none let go early.
    pub fn for_views(max_flows: usize, frames_per_flow: usize) -> TrackerConfig {
        TrackerConfig {
            max_flows,
            frames_per_flow,
            ..TrackerConfig::default()
        }
    }

    /// The tracker of a headless run (`--print`, `--export`, `--insights`), for a capture file
    /// and a live capture alike, so that both give the same records.
    pub fn headless(max_flows: usize, export: bool, insights: bool) -> TrackerConfig {
        TrackerConfig {
            max_flows: max_flows.max(1),
            // --insights reads handshake and teardown frames (RST with data, a SYN/ACK's ack): a
            // one-frame ring keeps those pinned; plain print/export keeps none.
            frames_per_flow: usize::from(insights),
            // An export writes each closed flow once it has been quiet a while, so memory follows
            // the open flows; not with --insights, which needs every flow at the end.
            linger: (export && !insights).then_some(HEADLESS_LINGER),
            // A flow that has seen one SYN only stays packed until it grows or is exported
            // (--print needs each segment's flow at once, so it never makes embryos).
            embryos: !insights,
            ..TrackerConfig::default()
        }
    }
}

/// Seconds (capture time) a closed flow stays in a headless export before it is written and let
/// go: Zeek deletes a closed connection after tcp_close_delay, 5 s; late segments come well
/// within it.
pub const HEADLESS_LINGER: f64 = 5.0;

/// A tracker that cannot be built as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub &'static str);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for ConfigError {}

/// The tracked flows by id, boxed: a table of pointers wastes less in its spare room.
pub(crate) type Flows = HashMap<u64, Box<Flow>, BuildHasherDefault<IdHasher>>;

/// The hash of a flow id: the id times 2**64 / the golden ratio (Fibonacci hashing), one
/// multiplication on every segment's path instead of a keyed hash. The tracker numbers its
/// flows itself, 1, 2, 3 ..., so nothing from the wire can crowd them into a few buckets; and
/// the product spreads consecutive ids over both ends of the hash, which the table reads (the
/// low bits pick the bucket, the top ones tag it).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    #[inline]
    fn write_u64(&mut self, id: u64) {
        self.0 = (self.0 ^ id).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    /// Only ids are hashed here; any other bytes are folded in eight at a time all the same.
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A segment kept for the views, with its frame as captured.
#[derive(Clone, Debug, PartialEq)]
pub struct KeptFrame {
    pub seg: Segment,
    pub frame: FrameBytes,
    /// What Wireshark's TCP analysis found in it (`flow::analysis`).
    pub marks: Marks,
    /// Its place among its flow's segments, from 1: the segments between two kept ones whose
    /// places are not consecutive were not kept (the ladder says how many, and where).
    pub nth: u64,
}

impl KeptFrame {
    pub fn new(seg: &Segment, frame: &[u8], marks: Marks, nth: u64) -> KeptFrame {
        KeptFrame {
            seg: seg.clone(),
            frame: frame.into(),
            marks,
            nth,
        }
    }

    /// Become `new(seg, frame, marks, nth)` in place, reusing this frame's memory where it can.
    pub fn set(&mut self, seg: &Segment, frame: &[u8], marks: Marks, nth: u64) {
        self.seg.clone_from(seg);
        self.frame.set(frame);
        self.marks = marks;
        self.nth = nth;
    }
}

/// Frames of at most this many bytes are kept inline (see `FrameBytes`).
pub const INLINE_FRAME: usize = 176;

/// The bytes of a kept frame. Short frames (any segment without payload, small requests and
/// answers) live inline, in the kept segment's own allocation; longer ones in one of their own.
/// Each kept frame was two allocations, and with 100,000 busy flows in view the allocator took
/// a fifth of the session thread; inline, it costs 8-13% less CPU a segment there. The price:
/// a kept frame weighs 376 bytes besides any heap bytes (was ~210 plus its bytes), ~90 bytes
/// more for a bare ACK, ~170 more for a full-size frame, about the same for 150-byte ones.
///
/// A kept segment written over another (see `rings`) keeps the other's heap buffer when the
/// new frame fills at least three quarters of it: the frame budget counts what the buffers
/// take (`weight`), not only the frames' bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum FrameBytes {
    Inline(u8, [u8; INLINE_FRAME]),
    Heap(Vec<u8>),
}

impl From<&[u8]> for FrameBytes {
    fn from(frame: &[u8]) -> FrameBytes {
        match u8::try_from(frame.len()) {
            Ok(len) if frame.len() <= INLINE_FRAME => {
                let mut bytes = [0u8; INLINE_FRAME];
                bytes[..frame.len()].copy_from_slice(frame);
                FrameBytes::Inline(len, bytes)
            }
            _ => FrameBytes::Heap(frame.to_vec()),
        }
    }
}

impl FrameBytes {
    /// Hold `frame` instead, in the memory held now when it fits as well (a heap buffer: when
    /// the frame fills at least three quarters of it).
    pub fn set(&mut self, frame: &[u8]) {
        match self {
            FrameBytes::Inline(len, bytes) if frame.len() <= INLINE_FRAME => {
                bytes[..frame.len()].copy_from_slice(frame);
                *len = frame.len() as u8; // at most INLINE_FRAME
            }
            FrameBytes::Heap(bytes)
                if frame.len() > INLINE_FRAME
                    && frame.len() <= bytes.capacity()
                    && frame.len() >= bytes.capacity() - bytes.capacity() / 4 =>
            {
                bytes.clear();
                bytes.extend_from_slice(frame);
            }
            _ => *self = FrameBytes::from(frame),
        }
    }

    /// What the frame's bytes take: their heap buffer's size, or their length inline.
    pub fn weight(&self) -> usize {
        match self {
            FrameBytes::Inline(len, _) => usize::from(*len),
            FrameBytes::Heap(bytes) => bytes.capacity(),
        }
    }
}

impl std::ops::Deref for FrameBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            FrameBytes::Inline(len, bytes) => &bytes[..usize::from(*len)],
            FrameBytes::Heap(bytes) => bytes,
        }
    }
}

/// Turns segments into flows (see the module docs).
#[derive(Debug)]
pub struct FlowTracker {
    max_flows: usize,
    frames_per_flow: usize,
    flows: Flows,
    by_key: HashMap<FlowKey, u64>,
    embryos: Option<Embryos>,
    books: Books,
    next_id: u64,
    /// Flows evicted at the cap.
    pub evicted: u64,
    /// Flows let go early (see `TrackerConfig::linger`).
    pub released: u64,
    /// `finish` was called.
    pub finished: bool,
    /// Live mode: our listening endpoints, (None, port) for any address; they respond.
    pub listen_ports: HashSet<(Option<Addr>, u16)>,
}

impl FlowTracker {
    /// A tracker; embryos need a tracker that keeps no frames.
    pub fn new(cfg: TrackerConfig) -> Result<FlowTracker, ConfigError> {
        if cfg.embryos && cfg.frames_per_flow != 0 {
            return Err(ConfigError("embryos need a tracker that keeps no frames"));
        }
        let rings = FrameRings::new(cfg.frames_per_flow, cfg.frame_budget, cfg.frame_bytes);
        Ok(FlowTracker {
            max_flows: cfg.max_flows.max(1),
            frames_per_flow: cfg.frames_per_flow,
            flows: Flows::default(),
            by_key: HashMap::new(),
            embryos: cfg.embryos.then(Embryos::default),
            books: Books::new(rings, cfg.linger, cfg.verify_checksums, cfg.uid_seed),
            next_id: 1,
            evicted: 0,
            released: 0,
            finished: false,
            listen_ports: HashSet::new(),
        })
    }

    /// The ring of recent segments kept per flow (0: none).
    pub fn frames_per_flow(&self) -> usize {
        self.frames_per_flow
    }

    /// Keep the frames of the rings emptied to stay within the budgets for `take_emptied`,
    /// rather than free them at once (see `rings`).
    pub fn defer_frees(&mut self) {
        self.books.rings.defer_frees();
    }

    /// The rings emptied since the last call, for the caller to free (with `defer_frees`).
    pub fn take_emptied(&mut self) -> Vec<std::collections::VecDeque<std::sync::Arc<KeptFrame>>> {
        self.books.rings.take_emptied()
    }

    /// Segments held in the flows' rings now (not counting handshake and teardown).
    pub fn kept(&self) -> usize {
        self.books.rings.kept
    }

    /// Keep fewer segments for the views from now on (`Shed`), or all again: what a live
    /// session does while tracking is behind the capture (`session::live`), so as to catch up
    /// rather than drop frames.
    pub fn set_shedding(&mut self, shed: Shed) {
        self.books.rings.shedding = shed;
    }

    /// Segments the rings did not keep because they were shedding (`set_shedding`).
    pub fn shed(&self) -> u64 {
        self.books.rings.shed
    }

    /// Bytes of the frames of the segments in `kept`.
    pub fn kept_bytes(&self) -> usize {
        self.books.rings.kept_bytes
    }

    /// Whether the segment ingested last moved an endpoint of its flow (a state change: the
    /// only segments besides SYNs that events are made of).
    pub fn moved(&self) -> bool {
        self.books.moved
    }

    /// Flows that left and wait for `take_gone`.
    pub fn has_gone(&self) -> bool {
        !self.books.gone.is_empty()
    }

    /// Every flow ever started, tracked or gone.
    pub fn flow_count(&self) -> u64 {
        self.next_id - 1
    }

    /// Flows held now, embryos included.
    pub fn tracked(&self) -> usize {
        self.flows.len() + self.embryos.as_ref().map_or(0, Embryos::len)
    }

    /// A tracked flow (not an embryo) by id.
    pub fn flow(&self, id: u64) -> Option<&Flow> {
        self.flows.get(&id).map(|f| &**f)
    }

    /// A copy of a tracked flow without its ring of recent segments (its handshake and
    /// teardown segments are in it): what a view of many flows reads, at a fraction of the
    /// cost (a ring shares up to `frames_per_flow` frames); `flow` has them all.
    pub fn snapshot(&mut self, id: u64) -> Option<Flow> {
        let flow = self.flows.get_mut(&id)?;
        let ring = flow.kept.ring.take();
        let copy = Flow::clone(flow);
        flow.kept.ring = ring;
        Some(copy)
    }

    /// A tracked flow by id, to annotate it (`Flow::set_proc`).
    pub fn flow_mut(&mut self, id: u64) -> Option<&mut Flow> {
        self.flows.get_mut(&id).map(|f| &mut **f)
    }

    /// Set the (pid, process name) owning one end of a tracked flow (live attribution) and
    /// note the flow changed; false when the flow is not tracked.
    /// An embryo named this way grows into a tracked flow first (a live export's SYN-only flow
    /// keeps the process that sent its SYN).
    pub fn set_proc(&mut self, id: u64, side: crate::tcpstate::Side, owner: Option<Owner>) -> bool {
        if !self.flows.contains_key(&id) {
            self.grow_embryo(id);
        }
        let Some(flow) = self.flows.get_mut(&id) else {
            return false;
        };
        if flow.proc(side) != owner.as_ref() {
            flow.set_proc(side, owner);
            self.books.touch(id);
        }
        true
    }

    /// `ingest` for a caller that does not need the flow back (a headless run). With embryos,
    /// a flow's first segment that is a plain SYN is kept packed until a second one comes.
    pub fn add(&mut self, seg: Segment, frame: &[u8]) {
        self.add_ref(&seg, frame);
    }

    /// `add` of a segment the caller keeps: a batch of them is read in place, not each moved
    /// out of it (a `Segment` is big enough for a move to be a memcpy call).
    pub fn add_ref(&mut self, seg: &Segment, frame: &[u8]) {
        if self.embryos.is_some() && seg.flags & (SYN | ACK | FIN | RST) == SYN {
            let key = key_of(seg);
            let known = self.embryos.as_ref().is_some_and(|e| e.contains(&key));
            // A flow that comes back after it left is made whole at once, to be linked to it.
            if !known && !self.by_key.contains_key(&key) && !self.books.departed.knows(&key) {
                self.make_room(seg.ts);
                let id = self.take_id();
                if let Some(embryos) = &mut self.embryos {
                    embryos.insert(Embryo::pack(id, seg));
                }
                return;
            }
        }
        self.ingest_ref(seg, frame);
    }

    /// Account for one segment; return the id of the flow it belongs to. `frame` is copied
    /// only when the tracker keeps frames.
    pub fn ingest(&mut self, seg: Segment, frame: &[u8]) -> u64 {
        self.ingest_ref(&seg, frame)
    }

    /// `ingest` of a segment the caller keeps.
    pub fn ingest_ref(&mut self, seg: &Segment, frame: &[u8]) -> u64 {
        self.books.moved = false;
        let low = sender_is_low(seg);
        let found = self.by_key.get(&KeyView::of(seg, low)).copied();
        let flags = seg.flags;
        if let (Some(id), ACK) = (found, flags & (SYN | FIN | RST | ACK)) {
            if let Some(flow) = self.flows.get_mut(&id).filter(|f| f.steady) {
                let over = steady(flow, low, seg, frame, &mut self.books);
                if over {
                    self.books.rings.trim(&mut self.flows);
                }
                return id;
            }
        }
        self.ingest_slow(seg, frame, found, low, FlowKey::of(seg, low))
    }

    /// `ingest` for a new flow, a SYN, FIN or RST, or an unsettled flow.
    fn ingest_slow(
        &mut self,
        seg: &Segment,
        frame: &[u8],
        found: Option<u64>,
        low: bool,
        key: FlowKey,
    ) -> u64 {
        let mut id = found;
        if id.is_none() {
            let embryos = self.embryos.as_mut().filter(|e| !e.is_empty());
            let first = embryos.and_then(|e| e.remove(&key));
            if let Some(embryo) = first {
                // The 4-tuple's first SYN was kept packed: replay it first.
                let first = embryo.segment();
                let fid = self.new_flow(&first, sender_is_low(&first), embryo.id());
                self.account(fid, &first, true, &[]);
                id = Some(fid);
            }
        }
        let (fid, is_orig) = match id.and_then(|i| self.flows.get_mut(&i)) {
            None => {
                let fid = self.new_flow(seg, low, 0);
                (
                    fid,
                    self.flows.get(&fid).is_some_and(|f| flow_is_orig(f, low)),
                )
            }
            Some(flow) => {
                let is_orig = flow_is_orig(flow, low);
                let snd = if is_orig { &flow.orig } else { &flow.resp };
                let reused =
                    seg.flags & (SYN | ACK) == SYN && snd.base.is_some_and(|b| b != seg.seq);
                if reused {
                    flow.superseded = true;
                    flow.steady = false;
                    let (closed, last_ts, old) = (flow.closed(), flow.last_ts, flow.id);
                    if !closed {
                        self.books.watch_close(last_ts, old);
                    }
                    (self.new_flow(seg, low, 0), true)
                } else {
                    (flow.id, is_orig)
                }
            }
        };
        self.account(fid, seg, is_orig, frame);
        fid
    }

    fn account(&mut self, id: u64, seg: &Segment, is_orig: bool, frame: &[u8]) {
        let Some(flow) = self.flows.get_mut(&id) else {
            return;
        };
        if self.books.account(flow, seg, is_orig, frame) {
            self.books.rings.trim(&mut self.flows);
        }
    }

    /// Start tracking a flow whose first segment is `seg`; `fid` non-zero: a grown embryo,
    /// which already has its id and its room.
    fn new_flow(&mut self, seg: &Segment, low: bool, mut fid: u64) -> u64 {
        let key = FlowKey::of(seg, low);
        if fid == 0 {
            self.make_room(seg.ts);
            fid = self.take_id();
        }
        let orig = self.sender_is_orig(seg);
        let mut flow = Flow::new(fid, key.clone(), seg, orig, self.books.verify_checksums);
        flow.uid_seed = self.books.uid_seed;
        if !self.by_key.contains_key(&key) {
            flow.continues = self.books.departed.continued(&key, seg, low);
        }
        let last_ts = flow.last_ts;
        self.flows.insert(fid, Box::new(flow));
        self.by_key.insert(key, fid);
        self.books.order.opened(last_ts, fid, &self.flows);
        fid
    }

    /// Make the embryo with this id a tracked flow (its SYN replayed, as when a second segment
    /// comes); nothing when there is none.
    fn grow_embryo(&mut self, id: u64) {
        let embryos = self.embryos.as_mut();
        let Some(key) = embryos.as_ref().and_then(|e| e.get(id)).map(Embryo::key) else {
            return;
        };
        let Some(embryo) = embryos.and_then(|e| e.remove(&key)) else {
            return;
        };
        let first = embryo.segment();
        let fid = self.new_flow(&first, sender_is_low(&first), embryo.id());
        self.account(fid, &first, true, &[]);
    }

    fn take_id(&mut self) -> u64 {
        let fid = self.next_id;
        self.next_id += 1;
        fid
    }

    /// Orientation from a flow's first segment (see the module docs).
    fn sender_is_orig(&self, seg: &Segment) -> bool {
        let syn_ack = seg.flags & (SYN | ACK);
        if syn_ack == SYN {
            return true;
        }
        if syn_ack == SYN | ACK {
            return false;
        }
        let ports = &self.listen_ports;
        if !ports.is_empty() {
            let listens =
                |a: Addr, p: u16| ports.contains(&(None, p)) || ports.contains(&(Some(a), p));
            if listens(seg.dst, seg.dport) {
                return true;
            }
            if listens(seg.src, seg.sport) {
                return false;
            }
        }
        !initial_flip(seg)
    }
}

/// The common case: a plain ACK segment on a flow whose endpoints are both ESTABLISHED. True
/// when the frame rings went over a budget.
fn steady(flow: &mut Flow, low: bool, seg: &Segment, frame: &[u8], books: &mut Books) -> bool {
    let is_orig = flow_is_orig(flow, low);
    let (ts, plen, window) = (seg.ts, seg.payload_len, seg.window);
    // Zeek's shortcut holds only for a sound segment captured whole (Python's `ingest`).
    if seg.bad_opts.is_some()
        || seg.truncated
        || !flow
            .zeek
            .plain(is_orig, ts, seg.flags, plen, window, seg.seq, seg.ack)
    {
        flow.zeek.update(is_orig, seg);
    }
    let snd = if is_orig {
        &mut flow.orig
    } else {
        &mut flow.resp
    };
    count_plain(snd, seg.ip_len, plen, seg.seq, seg.flags, window);
    let marks = updates::analyze(flow, seg, is_orig);
    flow.last_ts = ts;
    let mut over = false;
    if books.rings.per_flow != 0 {
        over = books.rings.keep(flow, seg, frame, marks, None);
    }
    books.touch_flow(flow);
    over
}

fn flow_is_orig(flow: &Flow, low: bool) -> bool {
    low == flow.orig_low
}

mod leaving;
