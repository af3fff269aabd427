//! The recent segments each flow keeps for the flow screen and the frame inspector (Python:
//! `capture.frame_rings`).
//!
//! Each flow holds a ring of its last `per_flow` segments (handshake and teardown segments are
//! kept apart, in `Kept::special`, and never dropped here). All the rings together stay within a
//! budget of segments and one of frame bytes: past either, the rings of the flows idle longest
//! are emptied first, down to three quarters of the budgets.
//!
//! With 100,000 flows in view that happens every few hundred milliseconds under load, inside
//! the session's lock: the flows holding a ring are therefore also listed apart (`holders`,
//! with when each was last seen) so that a trim reads one table instead of every flow, and the
//! frames of the emptied rings can be handed to the caller to free after it lets go of the lock
//! (`defer_frees`).
//!
//! At that pace most kept segments live well under a second, and allocating each one and
//! freeing it again took a fifth of the session thread. So the frames of emptied rings are kept
//! as spares (up to a quarter of the budget: what one trim empties, and what the keeps until
//! the next one take back), and a new kept segment is written over the frame that falls out
//! of its own full ring, or over a spare; a frame a view still holds is never written over.

use std::collections::VecDeque;

use super::Flows;
use std::sync::Arc;

use crate::flow::analysis::Marks;
use crate::flow::{Flow, Kept};
use crate::segment::Segment;
use crate::tracker::KeptFrame;

/// A flow holding a ring: when it was last seen (its `last_ts` when its latest frame was
/// kept) and the bytes of its ring's frames (so that letting a ring go reads none of them).
#[derive(Clone, Copy, Debug)]
struct Holder {
    id: u64,
    last_ts: f64,
    bytes: usize,
}

/// Keeps segments in flows' rings and counts them (`kept`, `kept_bytes`).
#[derive(Clone, Debug)]
pub struct FrameRings {
    pub per_flow: usize,
    pub budget: usize,
    pub max_bytes: usize,
    /// Segments held in all the rings now.
    pub kept: usize,
    /// Bytes their frames take (`FrameBytes::weight`).
    pub kept_bytes: usize,
    /// The flows whose ring holds frames (see `Holder`), each at its `Kept::holder`; the
    /// slots of rings let go hold id 0 (no flow's) until they are taken again.
    holders: Vec<Holder>,
    /// The free slots of `holders`.
    free: Vec<usize>,
    /// Rings emptied by `trim`, for the caller to free (when asked: `defer_frees`).
    emptied: Option<Vec<VecDeque<Arc<KeptFrame>>>>,
    /// Emptied rings whose frames are written over by the next kept segments.
    spare: Vec<VecDeque<Arc<KeptFrame>>>,
    /// Frames in `spare`.
    spare_frames: usize,
    /// Spare rings drained of their frames, for flows that start a ring.
    spare_rings: Vec<VecDeque<Arc<KeptFrame>>>,
    /// What not to keep for now (`FlowTracker::set_shedding`).
    pub shedding: Shed,
    /// Segments not kept while shedding.
    pub shed: u64,
}

/// Which segments the rings do not keep for a while (live tracking that is behind sheds them
/// to catch up: `session::live::shedding`), counted in `FrameRings::shed`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Shed {
    /// Keep as always.
    #[default]
    Nothing,
    /// Keep no recent segments, only those of the handshake and teardown.
    Recent,
    /// Keep none.
    All,
}

/// Drained rings kept for reuse, at most.
const SPARE_RINGS: usize = 4096;

impl FrameRings {
    pub fn new(per_flow: usize, budget: usize, max_bytes: usize) -> FrameRings {
        FrameRings {
            per_flow,
            budget: budget.max(1),
            max_bytes: max_bytes.max(1),
            kept: 0,
            kept_bytes: 0,
            holders: Vec::new(),
            free: Vec::new(),
            emptied: None,
            spare: Vec::new(),
            spare_frames: 0,
            spare_rings: Vec::new(),
            shedding: Shed::Nothing,
            shed: 0,
        }
    }

    /// From now on keep the rings `trim` empties for `take_emptied`, instead of freeing them
    /// at once (a session frees them after letting go of its lock).
    pub fn defer_frees(&mut self) {
        self.emptied.get_or_insert_with(Vec::new);
    }

    /// The rings emptied since the last call (none unless `defer_frees`).
    pub fn take_emptied(&mut self) -> Vec<VecDeque<Arc<KeptFrame>>> {
        self.emptied
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Keep `seg` (captured as `frame`, with its `marks`) in `flow`'s ring, and with `special`
    /// (`Some(n)`) among its handshake and teardown segments too, while it has fewer than `n`.
    /// The oldest falls out of a full ring. True when a budget is exceeded: the caller then
    /// calls `trim`.
    pub fn keep(
        &mut self,
        flow: &mut Flow,
        seg: &Segment,
        frame: &[u8],
        marks: Marks,
        special: Option<usize>,
    ) -> bool {
        let size = self.per_flow;
        if size == 0 {
            return false;
        }
        if self.shedding == Shed::All || self.shedding == Shed::Recent && special.is_none() {
            self.shed += 1;
            return false;
        }
        let nth = flow.orig.pkts + flow.resp.pkts;
        let kept = &mut flow.kept;
        let ring = match &mut kept.ring {
            Some(ring) => ring,
            none => {
                let holder = Holder {
                    id: flow.id,
                    last_ts: flow.last_ts,
                    bytes: 0,
                };
                kept.holder = match self.free.pop() {
                    Some(at) => {
                        self.holders[at] = holder;
                        at
                    }
                    None => {
                        self.holders.push(holder);
                        self.holders.len() - 1
                    }
                };
                let ring = self.spare_rings.pop();
                none.insert(ring.unwrap_or_else(|| VecDeque::with_capacity(size.min(8))))
            }
        };
        let holder = &mut self.holders[kept.holder];
        let mut old = None;
        if ring.len() < size {
            self.kept += 1;
        } else if let Some(out) = ring.pop_front() {
            self.kept_bytes -= out.frame.weight();
            holder.bytes -= out.frame.weight();
            old = Some(out);
        }
        let new = old
            .and_then(|out| write_over(out, seg, frame, marks, nth))
            .unwrap_or_else(|| {
                reuse(
                    &mut self.spare,
                    &mut self.spare_frames,
                    &mut self.spare_rings,
                    seg,
                    frame,
                    marks,
                    nth,
                )
            });
        self.kept_bytes += new.frame.weight();
        holder.bytes += new.frame.weight();
        holder.last_ts = flow.last_ts;
        if special.is_some_and(|limit| kept.special.len() < limit) {
            kept.special.push(new.clone());
        }
        ring.push_back(new);
        self.kept > self.budget || self.kept_bytes > self.max_bytes
    }

    /// Stop counting the ring of flow `id` (`kept`: its frames), which is let go (the flow
    /// left, or it was emptied).
    pub fn drop_ring(&mut self, id: u64, kept: &Kept) {
        let Some(ring) = kept.ring.as_ref() else {
            return;
        };
        self.kept -= ring.len();
        let at = kept.holder;
        debug_assert_eq!(self.holders.get(at).map(|h| h.id), Some(id));
        let holder = std::mem::replace(
            &mut self.holders[at],
            Holder {
                id: 0,
                last_ts: 0.0,
                bytes: 0,
            },
        );
        self.free.push(at);
        debug_assert_eq!(
            holder.bytes,
            ring.iter().map(|k| k.frame.weight()).sum::<usize>()
        );
        self.kept_bytes -= holder.bytes;
    }

    /// Empty the rings of the idlest flows until both budgets are down to three quarters.
    ///
    /// With many flows this runs often (every quarter budget of new frames), so the idlest
    /// are picked out by a selection of about as many rings as the budgets need on average,
    /// sorted alone; the rest are sorted only in the rare case that was not enough.
    pub fn trim(&mut self, flows: &mut Flows) {
        let (goal, goal_bytes) = (self.budget * 3 / 4, self.max_bytes * 3 / 4);
        // Python's dict order is id order here (a tracker keeping frames grows no embryos),
        // and its sort is stable: ties in last seen go by id.
        let mut with_rings: Vec<(f64, u64)> = self
            .holders
            .iter()
            .filter(|holder| holder.id != 0)
            .map(|holder| (holder.last_ts + 0.0, holder.id)) // -0.0 == 0.0 to Python
            .collect();
        debug_assert!(with_rings
            .iter()
            .all(|&(ts, id)| flows
                .get(&id)
                .is_some_and(|f| has_ring(f) && f.last_ts + 0.0 == ts)));
        let order = |a: &(f64, u64), b: &(f64, u64)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        let rings = with_rings.len().max(1);
        let share = |over: usize, total: usize| over.saturating_mul(rings).div_ceil(total.max(1));
        let guess = share(self.kept.saturating_sub(goal), self.kept).max(share(
            self.kept_bytes.saturating_sub(goal_bytes),
            self.kept_bytes,
        ));
        let first = (guess + guess / 4 + 16).min(with_rings.len());
        if first < with_rings.len() {
            with_rings.select_nth_unstable_by(first, order);
        }
        with_rings[..first].sort_unstable_by(order);
        let mut done = self.empty_rings(flows, &with_rings[..first], goal, goal_bytes);
        if !done {
            let rest = &mut with_rings[first..];
            rest.sort_unstable_by(order);
            done = self.empty_rings(flows, rest, goal, goal_bytes);
        }
        debug_assert!(done || with_rings.is_empty() || self.kept == 0);
    }

    /// Empty the rings of `ids` in turn until both budgets are down to the goals; true when
    /// they are.
    fn empty_rings(
        &mut self,
        flows: &mut Flows,
        ids: &[(f64, u64)],
        goal: usize,
        goal_bytes: usize,
    ) -> bool {
        for &(_, id) in ids {
            if self.kept <= goal && self.kept_bytes <= goal_bytes {
                return true;
            }
            let Some(kept) = flows.get_mut(&id).map(|f| &mut f.kept) else {
                continue;
            };
            self.drop_ring(id, kept);
            let ring = kept.ring.take();
            if let Some(ring) = ring {
                if self.spare_frames < self.budget / 4 {
                    self.spare_frames += ring.len();
                    self.spare.push(ring);
                } else if let Some(emptied) = self.emptied.as_mut() {
                    emptied.push(ring);
                }
            }
        }
        self.kept <= goal && self.kept_bytes <= goal_bytes
    }
}

/// A kept segment written over a spare frame no view holds, or a new one.
fn reuse(
    spare: &mut Vec<VecDeque<Arc<KeptFrame>>>,
    spare_frames: &mut usize,
    spare_rings: &mut Vec<VecDeque<Arc<KeptFrame>>>,
    seg: &Segment,
    frame: &[u8],
    marks: Marks,
    nth: u64,
) -> Arc<KeptFrame> {
    while let Some(ring) = spare.last_mut() {
        let Some(out) = ring.pop_front() else {
            if let Some(ring) = spare.pop().filter(|_| spare_rings.len() < SPARE_RINGS) {
                spare_rings.push(ring);
            }
            continue;
        };
        *spare_frames -= 1;
        if let Some(next) = ring.front() {
            prefetch(Arc::as_ptr(next));
        }
        if let Some(new) = write_over(out, seg, frame, marks, nth) {
            return new;
        }
    }
    Arc::new(KeptFrame::new(seg, frame, marks, nth))
}

/// `out` made the kept segment, unless a view still holds it.
fn write_over(
    mut out: Arc<KeptFrame>,
    seg: &Segment,
    frame: &[u8],
    marks: Marks,
    nth: u64,
) -> Option<Arc<KeptFrame>> {
    Arc::get_mut(&mut out)?.set(seg, frame, marks, nth);
    Some(out)
}

fn has_ring(flow: &Flow) -> bool {
    flow.kept.ring.as_ref().is_some_and(|r| !r.is_empty())
}

/// Ask for the cache lines of the kept frame at `at` (the next spare to be written over) and
/// of its reference counts just before it (`Arc::get_mut` reads them first). A spare was let go
/// long ago, so it is out of the cache: fetched while this segment is kept, it is there for the
/// next (`bench/session_bench.py` on the realistic capture: about 10% less CPU a segment).
#[inline]
fn prefetch(at: *const KeptFrame) {
    #[cfg(target_arch = "x86_64")]
    {
        let counts = 2 * std::mem::size_of::<usize>();
        let start = (at as *const i8).wrapping_sub(counts);
        for line in 0..(counts + std::mem::size_of::<KeptFrame>()).div_ceil(64) + 1 {
            // SAFETY: a prefetch only hints the cache: it changes nothing the program can see
            // and never faults, whatever the address (`wrapping_add` keeps the arithmetic
            // defined).
            unsafe {
                use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(line * 64));
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}
