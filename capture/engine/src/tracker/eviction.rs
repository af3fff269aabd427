//! The order in which `FlowTracker` evicts flows at its cap: closed first, then the idlest
//! (Python: `capture.eviction`).
//!
//! Two min-heaps of (last seen, id): closed or superseded flows, and open ones. A tracker under
//! its cap keeps none (`built` is false until the first eviction). An entry is refreshed only
//! when it reaches the top: a flow seen since it was pushed goes back with its new time, so
//! touching a flow costs nothing here. Entries of flows already gone, or (in the open heap)
//! closed since, are dropped at the top.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::Flows;

use crate::flow::Flow;

/// (last seen, flow id), ordered as Python orders the tuple.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Entry(pub f64, pub u64);

impl Entry {
    pub fn new(ts: f64, id: u64) -> Entry {
        // -0.0 and 0.0 are equal to Python; total_cmp would order them.
        Entry(ts + 0.0, id)
    }
}

impl Eq for Entry {}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

type Heap = BinaryHeap<Reverse<Entry>>;

/// The eviction heaps over a tracker's flows (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct EvictionOrder {
    done: Heap,
    open: Option<Heap>,
}

fn gone_or_closed(flow: &Flow) -> bool {
    flow.closed() || flow.superseded
}

impl EvictionOrder {
    /// Whether the heaps exist (from the first eviction on).
    pub fn built(&self) -> bool {
        self.open.is_some()
    }

    /// Heaps over every tracked flow, afresh.
    pub fn build(&mut self, flows: &Flows) {
        let (mut done, mut live) = (Vec::new(), Vec::new());
        for flow in flows.values() {
            let entry = Reverse(Entry::new(flow.last_ts, flow.id));
            if gone_or_closed(flow) {
                done.push(entry);
            } else {
                live.push(entry);
            }
        }
        self.done = Heap::from(done);
        self.open = Some(Heap::from(live));
    }

    /// A new flow is tracked (`flows` already holds it).
    pub fn opened(&mut self, last_ts: f64, id: u64, flows: &Flows) {
        let Some(open) = &mut self.open else { return };
        open.push(Reverse(Entry::new(last_ts, id)));
        if open.len() + self.done.len() > 2 * flows.len() + 1024 {
            self.build(flows); // mostly entries of flows let go: start afresh
        }
    }

    /// A flow closed or was superseded: it goes before every open flow.
    pub fn closed(&mut self, last_ts: f64, id: u64) {
        if self.open.is_some() {
            self.done.push(Reverse(Entry::new(last_ts, id)));
        }
    }

    /// The next flow to evict (left in `flows`); None when none is tracked, or when `rival` (an
    /// embryo's (time, id)) is idler than every open flow.
    pub fn victim(&mut self, flows: &Flows, rival: Option<Entry>) -> Option<u64> {
        if let Some(id) = Self::top(&mut self.done, flows, true, None) {
            return id;
        }
        let open = self.open.as_mut()?;
        Self::top(open, flows, false, rival).flatten()
    }

    /// Some(victim) or Some(None) when the rival wins; None when the heap ran dry.
    fn top(
        heap: &mut Heap,
        flows: &Flows,
        done: bool,
        rival: Option<Entry>,
    ) -> Option<Option<u64>> {
        while let Some(Reverse(Entry(ts, id))) = heap.peek().copied() {
            let flow = flows.get(&id);
            match flow {
                Some(flow) if done || !gone_or_closed(flow) => {
                    // (NaN is never a capture time; were it one, it must not loop for ever.)
                    if flow.last_ts != ts && !(ts.is_nan() && flow.last_ts.is_nan()) {
                        heap.pop();
                        heap.push(Reverse(Entry::new(flow.last_ts, id)));
                        continue;
                    }
                    if !done && rival.is_some_and(|r| r < Entry(ts, id)) {
                        return Some(None);
                    }
                    heap.pop();
                    return Some(Some(id));
                }
                _ => {
                    heap.pop();
                }
            }
        }
        None
    }
}
