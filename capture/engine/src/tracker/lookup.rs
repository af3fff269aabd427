//! A segment's flow key borrowed from the segment, for the lookup every segment makes: a
//! `FlowKey` owns its VLAN ids, so building one per segment allocated for every tagged frame.

use std::hash::{Hash, Hasher};

use hashbrown::Equivalent;

use crate::flow::FlowKey;
use crate::segment::{Addr, Segment};

/// `FlowKey::of(seg, low)` without the copy of the VLAN ids; it hashes and compares as that key.
pub(super) struct KeyView<'a> {
    lo: Addr,
    hi: Addr,
    lo_port: u16,
    hi_port: u16,
    vlan: &'a [u16],
}

impl KeyView<'_> {
    /// The key of a segment's flow; `low`: its sender is the lower endpoint (`FlowKey::of`).
    #[inline]
    pub(super) fn of(seg: &Segment, low: bool) -> KeyView<'_> {
        let (lo, hi, lo_port, hi_port) = FlowKey::ends(seg, low);
        KeyView {
            lo,
            hi,
            lo_port,
            hi_port,
            vlan: &seg.vlan,
        }
    }
}

/// Exactly `FlowKey`'s hash (flow/side.rs), or a map of `FlowKey`s would not find the key:
/// `view_hashes_as_the_key` checks it.
impl Hash for KeyView<'_> {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.lo.hash(state);
        self.hi.hash(state);
        state.write_u32(u32::from(self.lo_port) << 16 | u32::from(self.hi_port));
        if !self.vlan.is_empty() {
            self.vlan.hash(state);
        }
    }
}

impl Equivalent<FlowKey> for KeyView<'_> {
    #[inline]
    fn equivalent(&self, key: &FlowKey) -> bool {
        self.lo == key.lo
            && self.hi == key.hi
            && self.lo_port == key.lo_port
            && self.hi_port == key.hi_port
            && self.vlan.len() == key.vlan.len()
            && (self.vlan.is_empty() || *self.vlan == *key.vlan)
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use hashbrown::{DefaultHashBuilder, HashMap};

    use super::*;
    use crate::flow::sender_is_low;

    fn segment(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, vlan: &[u16]) -> Segment {
        Segment {
            src: Addr::new(&src),
            dst: Addr::new(&dst),
            sport,
            dport,
            vlan: vlan.into(),
            ..Segment::default()
        }
    }

    proptest::proptest! {
        /// The view hashes as the key it stands for, equals it, and differs from other keys.
        #[test]
        fn view_hashes_as_the_key(
            src in proptest::array::uniform4(0u8..4),
            dst in proptest::array::uniform4(0u8..4),
            sport in 0u16..4,
            dport in 0u16..4,
            vlan in proptest::collection::vec(0u16..3, 0..3),
            other_vlan in proptest::collection::vec(0u16..3, 0..3),
        ) {
            let hasher = DefaultHashBuilder::default();
            let seg = segment(src, dst, sport, dport, &vlan);
            let low = sender_is_low(&seg);
            let key = FlowKey::of(&seg, low);
            let view = KeyView::of(&seg, low);
            proptest::prop_assert_eq!(hasher.hash_one(&view), hasher.hash_one(&key));
            proptest::prop_assert!(view.equivalent(&key));
            let mut map = HashMap::new();
            map.insert(key, 1);
            proptest::prop_assert_eq!(map.get(&view), Some(&1));
            // The other direction of the same flow has the same key.
            let back = segment(dst, src, dport, sport, &vlan);
            let view = KeyView::of(&back, sender_is_low(&back));
            proptest::prop_assert_eq!(map.get(&view), Some(&1));
            // Another flow's view finds nothing.
            let other = segment(src, dst, sport, dport, &other_vlan);
            let view = KeyView::of(&other, sender_is_low(&other));
            let want = (other_vlan == vlan).then_some(&1);
            proptest::prop_assert_eq!(map.get(&view), want);
        }
    }
}
