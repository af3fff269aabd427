//! How flows leave a tracker and come out of it: release after `linger`, eviction at the cap,
//! the changed ids, and the walk over every flow at the end (Python: `FlowTracker._make_room`,
//! `_evict`, `_release`, `take_changed`, `finish`, `iter_flows`).

use hashbrown::HashMap;

use super::books::Books;
use super::embryo::Embryo;
use super::{Entry, FlowTracker, Flows};
use crate::flow::{sender_is_low, Flow, FlowKey};

impl FlowTracker {
    /// Before a new flow: let go of lingering closed flows, evict if at the cap.
    pub(super) fn make_room(&mut self, now: f64) {
        if self.books.closing.front().is_some_and(|c| c.0 <= now) {
            self.release(now);
        }
        if self.tracked() >= self.max_flows {
            self.evict();
        }
    }

    /// Remove a flow that leaves the tracker (evicted or released).
    fn forget(&mut self, id: u64) -> Option<Box<Flow>> {
        forget(&mut self.flows, &mut self.by_key, &mut self.books, id)
    }

    /// Evict a batch (1/64 of the cap): closed and superseded flows first, then the longest
    /// idle (embryos among them by their SYN's time), ties in id order.
    fn evict(&mut self) {
        let Self {
            flows,
            by_key,
            embryos,
            books,
            ..
        } = self;
        if !books.order.built() {
            books.order.build(flows);
        }
        // Embryos are never touched after they are made, so their creation order is their idle
        // order: one pass from the oldest serves the whole batch.
        let mut ahead = embryos.iter().flat_map(|e| e.iter()).peekable();
        let mut taken = 0;
        for _ in 0..(self.max_flows / 64).max(1) {
            let rival = ahead.peek().map(|e| {
                let (ts, id) = e.when();
                Entry::new(ts, id)
            });
            let flow = match books.order.victim(flows, rival) {
                Some(id) => match forget(flows, by_key, books, id) {
                    Some(flow) => flow,
                    None => continue,
                },
                None => {
                    let Some(embryo) = ahead.next() else { break };
                    taken += 1;
                    Box::new(grow(books, embryo))
                }
            };
            self.evicted += 1;
            books.hand_over(flow);
        }
        drop(ahead);
        if let Some(embryos) = embryos {
            embryos.pop_oldest(taken);
        }
    }

    /// Let go of the closed flows idle for `linger` seconds.
    fn release(&mut self, now: f64) {
        let linger = self.books.linger.unwrap_or(0.0);
        while let Some(&(due, id)) = self.books.closing.front() {
            if due > now {
                break;
            }
            self.books.closing.pop_front();
            let Some(flow) = self.flows.get(&id) else {
                continue; // evicted meanwhile
            };
            let due = flow.last_ts + linger;
            if due > now {
                self.books.closing.push_back((due, id)); // seen again since: look again later
                continue;
            }
            if let Some(flow) = self.forget(id) {
                self.released += 1;
                self.books.hand_over(flow);
            }
        }
    }

    /// The flows that left (evicted or released) since the last call, in the order they left.
    pub fn take_gone(&mut self) -> Vec<Flow> {
        self.books.gone.drain(..).map(|flow| *flow).collect()
    }

    /// `take_gone`, appended to `into` as they are held, boxed: no new vector each time, and
    /// no flow moved out of its box.
    pub fn gone_into(&mut self, into: &mut Vec<Box<Flow>>) {
        into.append(&mut self.books.gone);
    }

    /// Whether `take_changed` has been called: the tracker then notes every changed flow.
    pub fn watching_changes(&self) -> bool {
        self.books.changed.is_some()
    }

    /// Ids of the flows changed (or gone) since the last call, ascending; the first call: all
    /// tracked flows (embryos aside).
    pub fn take_changed(&mut self) -> Vec<u64> {
        self.take_changed_upto(usize::MAX, &[])
    }

    /// At most `limit` ids of the flows changed since they were last taken, ascending: those
    /// of `first` that changed (the rows a person is looking at), then the others from where
    /// the last bounded take stopped, wrapping around. The rest stay noted for the next take,
    /// so a load that changes more flows between two takes than a view can fold in still
    /// reaches every flow within a few takes, and nobody waits on the same ids forever.
    /// The first call starts from every tracked flow, as `take_changed`'s does.
    pub fn take_changed_upto(&mut self, limit: usize, first: &[u64]) -> Vec<u64> {
        if self.books.changed.is_none() {
            self.books.changed = Some(self.flows.keys().copied().collect());
        }
        let from = self.books.changed_from;
        let Some(changed) = self.books.changed.as_mut() else {
            return Vec::new();
        };
        if changed.len() <= limit {
            let mut out: Vec<u64> = std::mem::take(changed).into_iter().collect();
            out.sort_unstable();
            self.unmark(&out);
            return out;
        }
        let mut out: Vec<u64> = first
            .iter()
            .copied()
            .filter(|id| changed.remove(id))
            .take(limit)
            .collect();
        let room = limit - out.len();
        if room > 0 {
            // Order by distance past `from` (ids below it come after the highest): the `room`
            // nearest are taken.
            let mut rest: Vec<u64> = changed.iter().copied().collect();
            let after = |id: &u64| id.wrapping_sub(from);
            rest.select_nth_unstable_by_key(room - 1, after);
            rest.truncate(room);
            let last = rest.iter().copied().max_by_key(after);
            for id in &rest {
                changed.remove(id);
            }
            out.extend(rest);
            if let Some(last) = last {
                self.books.changed_from = last + 1;
            }
        }
        out.sort_unstable();
        self.unmark(&out);
        out
    }

    /// The flows of `ids` are no longer among the changed ones (`Books::touch_flow`).
    fn unmark(&mut self, ids: &[u64]) {
        for id in ids {
            if let Some(flow) = self.flows.get_mut(id) {
                flow.noted = false;
            }
        }
    }

    /// How many changed flows wait to be taken (`take_changed_upto`).
    pub fn changed_left(&self) -> usize {
        self.books.changed.as_ref().map_or(0, |c| c.len())
    }

    /// End of input: nothing more will come, every flow's state is final.
    pub fn finish(&mut self) {
        self.finished = true;
        if let Some(changed) = &mut self.books.changed {
            changed.extend(self.flows.keys().copied());
        }
    }

    /// Every tracked flow in id order, embryos grown one at a time as they come (so an export
    /// at the end holds one of them at a time, not all).
    pub fn for_each_flow(&mut self, mut f: impl FnMut(&Flow)) {
        let ids = sorted_ids(&self.flows);
        let Self {
            flows,
            embryos,
            books,
            ..
        } = self;
        let grown = embryos.iter().flat_map(|e| e.iter());
        in_id_order(ids, grown, |next| match next {
            Next::Embryo(embryo) => f(&grow(books, embryo)),
            Next::Tracked(id) => {
                if let Some(flow) = flows.get(&id) {
                    f(flow);
                }
            }
        });
    }
}

impl FlowTracker {
    /// `for_each_flow`, the flows taken out of the tracker: what an export at the end does
    /// when nothing needs the flows afterwards. The tracker is left without flows.
    pub fn drain_flows(&mut self, mut f: impl FnMut(Box<Flow>)) {
        let mut flows = std::mem::take(&mut self.flows);
        let ids = sorted_ids(&flows);
        self.by_key.clear();
        let embryos = self.embryos.as_mut().map(std::mem::take);
        let grown = embryos.iter().flat_map(|e| e.iter());
        let books = &mut self.books;
        in_id_order(ids, grown, |next| match next {
            Next::Embryo(embryo) => f(Box::new(grow(books, embryo))),
            Next::Tracked(id) => {
                if let Some(flow) = flows.remove(&id) {
                    f(flow);
                }
            }
        });
    }
}

/// The next flow in id order: a tracked one (by id), or an embryo still to be grown.
enum Next<'a> {
    Tracked(u64),
    Embryo(&'a Embryo),
}

fn sorted_ids(flows: &Flows) -> Vec<u64> {
    let mut ids: Vec<u64> = flows.keys().copied().collect();
    ids.sort_unstable();
    ids
}

/// Merge the tracked flows' ids (ascending) with the embryos (in creation order, so ascending
/// ids too) into one walk in id order.
fn in_id_order<'a>(
    ids: Vec<u64>,
    grown: impl Iterator<Item = &'a Embryo>,
    mut each: impl FnMut(Next<'a>),
) {
    let mut grown = grown.peekable();
    let mut tracked = ids.into_iter().peekable();
    loop {
        let take_embryo = match (tracked.peek(), grown.peek()) {
            (None, None) => break,
            (Some(id), Some(e)) => e.id() < *id,
            (None, Some(_)) => true,
            (Some(_), None) => false,
        };
        let next = if take_embryo {
            grown.next().map(Next::Embryo)
        } else {
            tracked.next().map(Next::Tracked)
        };
        if let Some(next) = next {
            each(next);
        }
    }
}

/// Remove a flow that leaves the tracker (evicted or released).
fn forget(
    flows: &mut Flows,
    by_key: &mut HashMap<FlowKey, u64>,
    books: &mut Books,
    id: u64,
) -> Option<Box<Flow>> {
    let flow = flows.remove(&id)?;
    if by_key.get(&flow.key) == Some(&id) {
        by_key.remove(&flow.key);
    }
    // The ring stops counting but stays with the flow: whoever takes it may read its frames.
    books.rings.drop_ring(id, &flow.kept);
    Some(flow)
}

/// The `Flow` an embryo stands for, as `ingest` would have made it; not tracked.
fn grow(books: &mut Books, embryo: &Embryo) -> Flow {
    let seg = embryo.segment();
    let key = FlowKey::of(&seg, sender_is_low(&seg));
    let mut flow = Flow::new(embryo.id(), key, &seg, true, books.verify_checksums);
    flow.uid_seed = books.uid_seed;
    books.account(&mut flow, &seg, true, &[]);
    flow
}
