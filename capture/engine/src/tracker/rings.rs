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
    pub fn trim(&mut self, flows: &mut Flows) {
        let (goal, goal_bytes) = (self.budget * 3 / 4, self.max_bytes * 3 / 4);
        // Python's dict order is id order here (a tracker keeping frames grows no embryos),
        // and its sort is stable: ties in last seen go by id.
        let mut with_rings: Vec<(f64, u64)> = flows
            .values()
            .filter(|f| has_ring(f))
            .map(|f| (f.last_ts + 0.0, f.id)) // -0.0 == 0.0 to Python
            .collect();
        with_rings.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (_, id) in with_rings {
            if self.kept <= goal && self.kept_bytes <= goal_bytes {
                break;
            }
            let ring = flows
                .get_mut(&id)
                .and_then(|f| f.kept.as_mut())
                .and_then(|k| k.ring.take());
            if let Some(ring) = ring {
                self.drop_ring(&ring);
            }
        }
    }
}

fn has_ring(flow: &Flow) -> bool {
    flow.kept
        .as_ref()
        .and_then(|k| k.ring.as_ref())
        .is_some_and(|r| !r.is_empty())
}
