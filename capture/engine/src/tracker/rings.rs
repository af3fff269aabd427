//! The recent segments each flow keeps for the flow screen and the frame inspector (Python:
//! `capture.frame_rings`).
//!
//! Each flow holds a ring of its last `per_flow` segments (handshake and teardown segments are
//! kept apart, in `Kept::special`, and never dropped here). All the rings together stay within a
//! budget of segments and one of frame bytes: past either, the rings of the flows idle longest
//! are emptied first, down to three quarters of the budgets.

use std::collections::VecDeque;

use super::Flows;
use std::sync::Arc;

use crate::flow::Flow;
use crate::tracker::KeptFrame;

/// Keeps segments in flows' rings and counts them (`kept`, `kept_bytes`).
#[derive(Clone, Debug)]
pub struct FrameRings {
    pub per_flow: usize,
    pub budget: usize,
    pub max_bytes: usize,
    /// Segments held in all the rings now.
    pub kept: usize,
    /// Bytes of their frames.
    pub kept_bytes: usize,
}

impl FrameRings {
    pub fn new(per_flow: usize, budget: usize, max_bytes: usize) -> FrameRings {
        FrameRings {
            per_flow,
            budget: budget.max(1),
            max_bytes: max_bytes.max(1),
            kept: 0,
            kept_bytes: 0,
        }
    }

    /// Put `frame` in `flow`'s ring (its oldest falls out of a full ring). True when a budget
    /// is exceeded: the caller then calls `trim`.
    pub fn keep(&mut self, flow: &mut Flow, frame: Arc<KeptFrame>) -> bool {
        let size = self.per_flow;
        if size == 0 {
            return false;
        }
        let kept = flow.kept.get_or_insert_with(Default::default);
        let ring = kept
            .ring
            .get_or_insert_with(|| VecDeque::with_capacity(size.min(8)));
        if ring.len() < size {
            self.kept += 1;
        } else if let Some(old) = ring.pop_front() {
            self.kept_bytes -= old.frame.len();
        }
        self.kept_bytes += frame.frame.len();
        ring.push_back(frame);
        self.kept > self.budget || self.kept_bytes > self.max_bytes
    }

    /// Stop counting a ring that is let go (its flow left, or it was emptied).
    pub fn drop_ring(&mut self, ring: &VecDeque<Arc<KeptFrame>>) {
        self.kept -= ring.len();
        self.kept_bytes -= ring.iter().map(|k| k.frame.len()).sum::<usize>();
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
        let mut with_rings: Vec<(f64, u64)> = flows
            .values()
            .filter(|f| has_ring(f))
            .map(|f| (f.last_ts + 0.0, f.id)) // -0.0 == 0.0 to Python
            .collect();
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
            let ring = flows
                .get_mut(&id)
                .and_then(|f| f.kept.as_mut())
                .and_then(|k| k.ring.take());
            if let Some(ring) = ring {
                self.drop_ring(&ring);
            }
        }
        self.kept <= goal && self.kept_bytes <= goal_bytes
    }
}

fn has_ring(flow: &Flow) -> bool {
    flow.kept
        .as_ref()
        .and_then(|k| k.ring.as_ref())
        .is_some_and(|r| !r.is_empty())
}
