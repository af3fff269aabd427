//! The last minute of per-flow flag counts, kept in the engine for the flag bar of a filtered
//! view: each poll sums the counts of the flows a filter selects (`sum`), and a new filter
//! recounts the minute (`FlagMinute::count`), so that no per-flow count crosses into Python.

use std::collections::VecDeque;

use hashbrown::{HashMap, HashSet};

/// Seconds of capture time the flag bar's rates and sparkline cover.
pub const MINUTE: i64 = 60;
/// Per-flow counts kept at most (~10 MB): past it, the oldest polls' counts are let go and a
/// new filter recounts those seconds as empty.
pub const KEPT_ENTRIES: usize = 400_000;

/// `((flow id, second * 512 + flag bits), segments)`, as the session counts them.
pub type Entry = ((u64, i64), u64);

/// The polls' per-flow counts of the last minute (see the module docs).
#[derive(Debug, Default)]
pub struct FlagMinute {
    /// (newest second among its counts, the counts) per poll, oldest first.
    polls: VecDeque<(i64, Vec<Entry>)>,
    entries: usize,
    newest: i64,
}

impl FlagMinute {
    /// Keep one poll's counts; forget those past the minute or the entry budget.
    pub fn add(&mut self, entries: Vec<Entry>) {
        let Some(newest) = entries
            .iter()
            .map(|((_, key), _)| key.div_euclid(512))
            .max()
        else {
            return;
        };
        self.newest = if self.polls.is_empty() {
            newest
        } else {
            self.newest.max(newest)
        };
        self.entries += entries.len();
        self.polls.push_back((newest, entries));
        while let Some((second, counts)) = self.polls.front() {
            if *second > self.newest - MINUTE && self.entries <= KEPT_ENTRIES {
                break;
            }
            self.entries -= counts.len();
            self.polls.pop_front();
        }
    }

    /// Every flow with counts kept.
    pub fn flows(&self) -> HashSet<u64> {
        self.polls
            .iter()
            .flat_map(|(_, counts)| counts.iter().map(|((id, _), _)| *id))
            .collect()
    }

    /// The kept counts of the flows `selected` holds, per (second * 512 + flag bits).
    pub fn count(&self, selected: &HashSet<u64>) -> Vec<(i64, u64)> {
        let all = self.polls.iter().flat_map(|(_, counts)| counts.iter());
        sum(all, |id| selected.contains(&id))
    }

    /// Counts kept now.
    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }
}

/// `entries` of the flows `selects` says yes to, summed per (second * 512 + flag bits), in
/// time order.
pub fn sum<'a>(
    entries: impl Iterator<Item = &'a Entry>,
    mut selects: impl FnMut(u64) -> bool,
) -> Vec<(i64, u64)> {
    let mut per_key: HashMap<i64, u64> = HashMap::new();
    for &((id, key), n) in entries {
        if selects(id) {
            *per_key.entry(key).or_default() += n;
        }
    }
    let mut out: Vec<(i64, u64)> = per_key.into_iter().collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(id: u64, second: i64, flags: i64, n: u64) -> Entry {
        ((id, second * 512 + flags), n)
    }

    #[test]
    fn sums_the_selected_flows_per_second_and_flags_in_time_order() {
        let entries = [
            at(1, 10, 2, 1),
            at(2, 10, 2, 3),
            at(1, 9, 0x12, 1),
            at(2, 11, 0x10, 5),
        ];
        assert_eq!(
            sum(entries.iter(), |_| true),
            vec![(9 * 512 + 0x12, 1), (10 * 512 + 2, 4), (11 * 512 + 0x10, 5)]
        );
        assert_eq!(
            sum(entries.iter(), |id| id == 2),
            vec![(10 * 512 + 2, 3), (11 * 512 + 0x10, 5)]
        );
    }

    #[test]
    fn keeps_a_minute_and_recounts_it_for_a_new_selection() {
        let mut minute = FlagMinute::default();
        minute.add(vec![at(1, 100, 2, 1), at(2, 100, 2, 1)]);
        minute.add(vec![at(2, 130, 0x10, 4)]);
        minute.add(Vec::new()); // a quiet poll changes nothing
        assert_eq!((minute.len(), minute.flows().len()), (3, 2));
        let only_2: HashSet<u64> = [2].into_iter().collect();
        assert_eq!(
            minute.count(&only_2),
            vec![(100 * 512 + 2, 1), (130 * 512 + 0x10, 4)]
        );
        // second 160 ends the minute of the poll whose newest second was 100
        minute.add(vec![at(1, 160, 0x11, 2)]);
        assert_eq!(minute.len(), 2);
        let both: HashSet<u64> = [1, 2].into_iter().collect();
        assert_eq!(
            minute.count(&both),
            vec![(130 * 512 + 0x10, 4), (160 * 512 + 0x11, 2)]
        );
    }

    #[test]
    fn lets_the_oldest_polls_go_past_the_entry_budget() {
        let mut minute = FlagMinute::default();
        let poll = |second| {
            (0..KEPT_ENTRIES as u64 / 2)
                .map(|id| at(id, second, 2, 1))
                .collect()
        };
        minute.add(poll(10));
        minute.add(poll(11));
        assert_eq!(minute.len(), KEPT_ENTRIES);
        minute.add(vec![at(7, 12, 2, 1)]);
        assert_eq!(minute.len(), KEPT_ENTRIES / 2 + 1);
        let seven: HashSet<u64> = [7].into_iter().collect();
        assert_eq!(
            minute.count(&seven),
            vec![(11 * 512 + 2, 1), (12 * 512 + 2, 1)]
        );
    }
}
