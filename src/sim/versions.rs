//! Row versions (MVCC): the committed versions of one row plus at most one uncommitted version.
//!
//! Models how PostgreSQL keeps several tuple versions so that a reader sees a consistent snapshot
//! while a writer works: each committed version carries the commit sequence number that made it,
//! a delete is a version without values (a tombstone), and a transaction's own write sits beside
//! the committed versions until it commits or rolls back. Versions that no snapshot can see any
//! more are pruned, as VACUUM would. Simplification: one uncommitted version per row — a second
//! writer must wait (the lock manager's job) or fail.

use crate::sim::change_log::{CommitSeq, TxnId};
use gluesql::core::data::Value;
use smallvec::SmallVec;

/// A row's committed versions, oldest first; `None` values are a delete. Most rows have one
/// version, kept in place: a read reaches its values without one more pointer to follow (which
/// a range read over a large table paid for in cache misses).
type Committed = SmallVec<[(CommitSeq, Option<Vec<Value>>); 1]>;

/// Which committed state a read sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadView {
    /// The newest committed version of every row, as of the moment of the read.
    LatestCommitted,
    /// The newest version committed at or before this commit sequence number.
    Snapshot(CommitSeq),
}

/// A write that has not committed yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Uncommitted {
    /// The writing transaction.
    pub txn: TxnId,
    /// The new row, or `None` for a delete.
    pub values: Option<Vec<Value>>,
}

/// One row's versions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowVersions {
    /// Committed versions, oldest first; `None` values are a delete.
    committed: Committed,
    /// The write in progress, if any.
    uncommitted: Option<Uncommitted>,
}

impl RowVersions {
    /// A row with no version at all (one about to be inserted).
    pub const EMPTY: Self = Self {
        committed: SmallVec::new_const(),
        uncommitted: None,
    };

    /// The row as `txn` (if any) sees it through `view`: its own uncommitted write first, else
    /// the committed version the view selects. `None` if the row does not exist for it.
    pub fn visible(&self, txn: Option<TxnId>, view: ReadView) -> Option<&Vec<Value>> {
        if let (Some(mine), Some(write)) = (txn, &self.uncommitted) {
            if write.txn == mine {
                return write.values.as_ref();
            }
        }
        self.committed_as_of(view)
    }

    /// The committed row the view selects, ignoring uncommitted writes.
    pub fn committed_as_of(&self, view: ReadView) -> Option<&Vec<Value>> {
        let version = match view {
            ReadView::LatestCommitted => self.committed.last(),
            ReadView::Snapshot(seq) => self.committed.iter().rev().find(|(s, _)| *s <= seq),
        };
        version.and_then(|(_, values)| values.as_ref())
    }

    /// The commit sequence number of the newest committed version (0 if there is none).
    pub fn last_commit_seq(&self) -> CommitSeq {
        self.committed.last().map_or(0, |(seq, _)| *seq)
    }

    /// Whether a version newer than `seq` was committed (a write–write conflict for a
    /// transaction whose snapshot is `seq`).
    pub fn changed_since(&self, seq: CommitSeq) -> bool {
        self.last_commit_seq() > seq
    }

    /// The transaction whose write is in progress on this row, if any.
    pub fn writer(&self) -> Option<TxnId> {
        self.uncommitted.as_ref().map(|w| w.txn)
    }

    /// Records `txn`'s write (replacing its earlier write of the same row).
    pub fn write(&mut self, txn: TxnId, values: Option<Vec<Value>>) {
        self.uncommitted = Some(Uncommitted { txn, values });
    }

    /// Turns `txn`'s write into the committed version `seq`. Returns whether there was one.
    pub fn commit(&mut self, txn: TxnId, seq: CommitSeq) -> bool {
        match self.uncommitted.take() {
            Some(write) if write.txn == txn => {
                self.committed.push((seq, write.values));
                true
            }
            other => {
                self.uncommitted = other;
                false
            }
        }
    }

    /// Drops `txn`'s write, restoring what was committed.
    pub fn roll_back(&mut self, txn: TxnId) {
        if self.writer() == Some(txn) {
            self.uncommitted = None;
        }
    }

    /// Applies `f` to the values of every version (committed and uncommitted): how a schema
    /// change (adding or dropping a column) reaches old versions too.
    pub fn map_values(&mut self, mut f: impl FnMut(&mut Vec<Value>)) {
        for values in self.committed.iter_mut().filter_map(|(_, v)| v.as_mut()) {
            f(values);
        }
        if let Some(values) = self.uncommitted.as_mut().and_then(|w| w.values.as_mut()) {
            f(values);
        }
    }

    /// Drops the committed versions that no reader can see any more: everything older than the
    /// newest version visible to the oldest snapshot (`None`: no snapshot is open, only the
    /// newest version matters). Returns whether the row is gone entirely (only a tombstone, or
    /// nothing, is left and no write is in progress), so the caller can remove it.
    pub fn prune(&mut self, oldest_snapshot: Option<CommitSeq>) -> bool {
        let keep_from = match oldest_snapshot {
            None => self.committed.len().saturating_sub(1),
            Some(seq) => self
                .committed
                .iter()
                .rposition(|(s, _)| *s <= seq)
                .unwrap_or(0),
        };
        self.committed.drain(..keep_from);
        let only_tombstone = match self.committed.as_slice() {
            [] => true,
            [(seq, None)] => oldest_snapshot.is_none_or(|snapshot| *seq <= snapshot),
            _ => false,
        };
        only_tombstone && self.uncommitted.is_none()
    }

    /// The values of every version this row holds (committed, then uncommitted), deletes left
    /// out: what its index entries point at.
    pub fn all_values(&self) -> impl Iterator<Item = &Vec<Value>> {
        self.committed
            .iter()
            .filter_map(|(_, values)| values.as_ref())
            .chain(self.uncommitted.as_ref().and_then(|w| w.values.as_ref()))
    }

    /// How many versions this row holds (committed plus uncommitted).
    pub fn version_count(&self) -> usize {
        self.committed.len() + usize::from(self.uncommitted.is_some())
    }

    /// Whether more than one version is kept (so a later prune may free something).
    pub fn has_history(&self) -> bool {
        self.committed.len() > 1 || matches!(self.committed.last(), Some((_, None)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: i64) -> Option<Vec<Value>> {
        Some(vec![Value::I64(n)])
    }

    fn committed(versions: &[(CommitSeq, Option<Vec<Value>>)]) -> RowVersions {
        RowVersions {
            committed: versions.iter().cloned().collect(),
            uncommitted: None,
        }
    }

    #[test]
    fn a_snapshot_sees_the_newest_version_at_or_before_it() {
        let r = committed(&[(2, row(20)), (5, row(50)), (9, None)]);
        assert_eq!(r.committed_as_of(ReadView::Snapshot(1)), None);
        assert_eq!(r.committed_as_of(ReadView::Snapshot(4)), row(20).as_ref());
        assert_eq!(r.committed_as_of(ReadView::Snapshot(8)), row(50).as_ref());
        assert_eq!(r.committed_as_of(ReadView::Snapshot(9)), None, "deleted");
        assert_eq!(r.committed_as_of(ReadView::LatestCommitted), None);
        assert!(r.changed_since(5));
        assert!(!r.changed_since(9));
    }

    #[test]
    fn only_the_writer_sees_its_uncommitted_write() {
        let mut r = committed(&[(1, row(1))]);
        r.write(7, row(2));
        assert_eq!(
            r.visible(Some(7), ReadView::LatestCommitted),
            row(2).as_ref()
        );
        assert_eq!(
            r.visible(Some(8), ReadView::LatestCommitted),
            row(1).as_ref()
        );
        assert_eq!(r.visible(None, ReadView::Snapshot(1)), row(1).as_ref());
        assert_eq!(r.writer(), Some(7));
    }

    #[test]
    fn commit_and_rollback() {
        let mut r = committed(&[(1, row(1))]);
        r.write(7, row(2));
        assert!(
            !r.commit(8, 2),
            "another transaction cannot commit 7's write"
        );
        r.roll_back(7);
        assert_eq!(r, committed(&[(1, row(1))]));
        r.write(9, None);
        assert!(r.commit(9, 3));
        assert_eq!(r.committed_as_of(ReadView::LatestCommitted), None);
        assert_eq!(r.committed_as_of(ReadView::Snapshot(2)), row(1).as_ref());
    }

    #[test]
    fn pruning_keeps_what_the_oldest_snapshot_needs() {
        let mut r = committed(&[(1, row(1)), (3, row(3)), (6, row(6))]);
        assert!(!r.prune(Some(4)));
        assert_eq!(r, committed(&[(3, row(3)), (6, row(6))]));
        assert!(!r.prune(None));
        assert_eq!(r, committed(&[(6, row(6))]));
    }

    #[test]
    fn a_deleted_row_is_gone_once_no_snapshot_predates_the_delete() {
        let mut r = committed(&[(1, row(1)), (4, None)]);
        assert!(!r.prune(Some(2)), "snapshot 2 still sees the row");
        assert!(r.prune(Some(4)));
        let mut r = committed(&[(1, row(1)), (4, None)]);
        assert!(r.prune(None));
    }
}
