//! The idempotent consumer's bookkeeping: what it applied to each read model, per key, so that a
//! change delivered again (at-least-once: a connector that crashed re-sends what followed its
//! last flushed offset; a consumer that crashed reads again from its last committed offset) is
//! applied once.
//!
//! A change event carries its source position (`source.lsn`): one at or below the last LSN
//! applied for its key is a duplicate. A tombstone carries nothing but its key; it follows its
//! delete event in the same partition, so when that delete was a duplicate, the tombstone that
//! comes after it is one too — applying it would delete a row inserted again since under the
//! same key. A tombstone whose delete the consumer never saw (compaction removed it) is applied.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// A read model and a key: (table, key as JSON text).
pub type Slot = (String, Rc<str>);

/// What a consumer applied, per read model and key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppliedPositions {
    /// The last source LSN applied, as committed with the read model.
    committed: BTreeMap<Slot, u64>,
    /// Keys whose delete was skipped as a duplicate and whose tombstone has not come yet.
    owed_tombstones: BTreeSet<Slot>,
}

impl AppliedPositions {
    /// Whether the change at `lsn` for `slot` is to be applied: above the last LSN applied,
    /// counting what the batch being read already took (`pending`, where it is then noted).
    /// `delete`: the change deletes the row (its tombstone follows).
    pub fn admit(
        &mut self,
        pending: &mut BTreeMap<Slot, u64>,
        slot: Slot,
        lsn: u64,
        delete: bool,
    ) -> bool {
        let last = pending
            .get(&slot)
            .or_else(|| self.committed.get(&slot))
            .copied();
        if last.is_some_and(|l| lsn <= l) {
            if delete {
                self.owed_tombstones.insert(slot);
            }
            return false;
        }
        self.owed_tombstones.remove(&slot);
        pending.insert(slot, lsn);
        true
    }

    /// Whether a tombstone for `slot` is to be applied: not when it follows a delete that was a
    /// duplicate.
    pub fn admit_tombstone(&mut self, slot: &Slot) -> bool {
        !self.owed_tombstones.remove(slot)
    }

    /// Notes that the change at `lsn` for `slot` is in the read model (its batch committed).
    pub fn commit(&mut self, slot: Slot, lsn: u64) {
        self.committed.insert(slot, lsn);
    }

    /// Forgets everything: the read models were emptied for a rebuild.
    pub fn clear(&mut self) {
        self.committed.clear();
        self.owed_tombstones.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(key: &str) -> Slot {
        ("t".to_owned(), Rc::from(key))
    }

    #[test]
    fn a_change_at_or_below_the_last_applied_lsn_is_a_duplicate() {
        let mut positions = AppliedPositions::default();
        let mut pending = BTreeMap::new();
        assert!(positions.admit(&mut pending, slot("1"), 5, false));
        // The same batch delivers it twice.
        assert!(!positions.admit(&mut pending, slot("1"), 5, false));
        assert!(positions.admit(&mut pending, slot("1"), 6, false));
        positions.commit(slot("1"), 6);
        let mut next = BTreeMap::new();
        assert!(!positions.admit(&mut next, slot("1"), 6, false));
        assert!(
            positions.admit(&mut next, slot("2"), 1, false),
            "another key"
        );
        assert!(positions.admit(&mut next, slot("1"), 7, false));
    }

    #[test]
    fn the_tombstone_of_a_duplicate_delete_is_skipped_and_others_applied() {
        let mut positions = AppliedPositions::default();
        // Applied: delete at 2 (and its tombstone), the key inserted again at 3.
        positions.commit(slot("k"), 3);
        // Delivered again: the delete at 2, its tombstone, the insert at 3.
        let mut pending = BTreeMap::new();
        assert!(!positions.admit(&mut pending, slot("k"), 2, true));
        assert!(
            !positions.admit_tombstone(&slot("k")),
            "applying it would delete the row inserted at 3"
        );
        assert!(!positions.admit(&mut pending, slot("k"), 3, false));
        // A tombstone whose delete compaction removed is applied.
        assert!(positions.admit_tombstone(&slot("gone")));
        // A new delete is applied, and so is its tombstone.
        assert!(positions.admit(&mut pending, slot("k"), 4, true));
        assert!(positions.admit_tombstone(&slot("k")));
        positions.clear();
        assert!(positions.admit(&mut BTreeMap::new(), slot("k"), 1, false));
    }
}
