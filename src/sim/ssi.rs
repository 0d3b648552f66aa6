//! Serializable snapshot isolation (SSI): PostgreSQL's SERIALIZABLE.
//!
//! A serializable transaction reads its snapshot like REPEATABLE READ and never waits for a
//! reader; in addition every read leaves a SIREAD lock, and the engine tracks read/write
//! anti-dependencies between concurrent serializable transactions: `R --rw--> W` when R read
//! something W wrote that R's snapshot does not see — found from both sides, by the reader
//! meeting the writer's newer versions ("conflict out") and by the writer meeting the reader's
//! SIREAD lock ("conflict in"). Every serialization anomaly contains a *dangerous structure*,
//! `T0 --rw--> T1 --rw--> T2` with T2 committing first; when one could form, a transaction is
//! aborted with 40001 "could not serialize access due to read/write dependencies among
//! transactions" — at the read, the write or the commit, as PostgreSQL decides
//! (`src/backend/storage/lmgr/predicate.c`: `OnConflict_CheckForSerializationFailure`,
//! `PreCommit_CheckForSerializationFailure`, `CheckForSerializableConflictOut`,
//! `CheckTargetForConflictsIn`, `ReleasePredicateLocks`, `ClearOldPredicateLocks`; Ports and
//! Grittner, "Serializable Snapshot Isolation in PostgreSQL", VLDB 2012).
//!
//! What is modelled as PostgreSQL does it: the conditions that make a conflict a failure
//! (commit order, read-only transactions recognised at commit), who is aborted (the writer at
//! its write, the reader when the writer has committed, otherwise the writer is *doomed* and fails
//! at its next read, write or commit), the pivot doomed at commit, SIREAD locks kept after commit
//! until no overlapping serializable transaction is left, conflicts released at commit, and
//! PostgreSQL's transaction ids (assigned at a transaction's first write or row lock, by every
//! level) where its tests use them.
//!
//! Where it differs: SIREAD locks are taken on whole tables, as PostgreSQL takes them for a
//! sequential scan; PostgreSQL's index scans lock finer (index pages and tuples), so on indexed
//! lookups it aborts less often than this model. (The differential tests run PostgreSQL with index
//! scans switched off to compare like with like.) Declared `READ ONLY` transactions and their
//! safe-snapshot optimisations, two-phase commit and the summarisation of old transactions under
//! memory pressure are not modelled.

use crate::sim::change_log::{CommitSeq, TxnId};
use crate::sim::isolation::planted::{self, Fault};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

/// Why SSI aborted a transaction: PostgreSQL's message is the same for all; the reason code is
/// its detail line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("could not serialize access due to read/write dependencies among transactions")]
pub enum SsiError {
    /// The writer of a new conflict completed a dangerous structure.
    PivotDuringWrite,
    /// The reader met a committed writer that is a pivot.
    ConflictOutToPivot {
        /// The pivot's transaction id.
        pivot: u64,
    },
    /// Another transaction doomed this one; it found out reading.
    DoomedDuringRead,
    /// Another transaction doomed this one; it found out writing.
    DoomedDuringWrite,
    /// Another transaction doomed this one; it found out committing.
    DoomedAtCommit,
}

impl SsiError {
    /// PostgreSQL's detail line ("Reason code: …").
    pub fn detail(self) -> String {
        match self {
            Self::PivotDuringWrite => {
                "Reason code: Canceled on identification as a pivot, during write.".to_owned()
            }
            Self::ConflictOutToPivot { pivot } => {
                format!("Reason code: Canceled on conflict out to pivot {pivot}, during read.")
            }
            Self::DoomedDuringRead => {
                "Reason code: Canceled on identification as a pivot, during conflict out checking."
                    .to_owned()
            }
            Self::DoomedDuringWrite => {
                "Reason code: Canceled on identification as a pivot, during conflict in checking."
                    .to_owned()
            }
            Self::DoomedAtCommit => {
                "Reason code: Canceled on identification as a pivot, during commit attempt."
                    .to_owned()
            }
        }
    }
}

/// What one serializable transaction wrote in one table: enough to decide whether a reader's
/// sequential scan meets one of its tuples.
#[derive(Debug, Clone, Default)]
struct TableWrites {
    /// It inserted or updated a row (so a tuple of its own exists).
    creates: bool,
    /// The commit sequence numbers of the versions it deleted (a deleted version is met by the
    /// readers that see it).
    deleted: BTreeSet<CommitSeq>,
}

/// A serializable transaction, as PostgreSQL's `SERIALIZABLEXACT`.
#[derive(Debug, Clone)]
struct Sxact {
    /// The engine's commit sequence number of its snapshot (which versions it sees).
    snapshot: CommitSeq,
    /// `SeqNo.lastCommitBeforeSnapshot`.
    last_commit_before_snapshot: u64,
    /// Its snapshot's xmin: the oldest transaction id running when it was taken.
    xmin: u64,
    /// `prepareSeqNo`, once it passed its commit check.
    prepare_seq: Option<u64>,
    /// `commitSeqNo`, once committed.
    commit_seq: Option<u64>,
    /// The engine's commit sequence number of its writes, once committed.
    engine_commit: Option<CommitSeq>,
    /// `finishedBefore`: the next transaction id when it committed.
    finished_before: u64,
    /// Marked for abort by another transaction's check.
    doomed: bool,
    /// Committed without writing (PostgreSQL then treats it as read-only).
    read_only: bool,
    /// `SXACT_FLAG_CONFLICT_OUT`: at commit it had a conflict out to a committed transaction.
    conflict_out: bool,
    /// `SeqNo.earliestOutConflictCommit`.
    earliest_out_conflict_commit: u64,
    /// What it wrote, per table.
    writes: BTreeMap<String, TableWrites>,
    /// Readers with `reader --rw--> this` (`inConflicts`).
    ins: BTreeSet<TxnId>,
    /// Writers with `this --rw--> writer` (`outConflicts`).
    outs: BTreeSet<TxnId>,
}

impl Sxact {
    fn committed(&self) -> bool {
        self.commit_seq.is_some()
    }

    /// `SxactIsPrepared`: passed its commit check (committing or committed).
    fn prepared(&self) -> bool {
        self.prepare_seq.is_some()
    }
}

/// The SSI state of one database: serializable transactions, SIREAD locks, rw-conflicts, and
/// the transaction ids PostgreSQL's tests compare.
#[derive(Debug, Clone, Default)]
pub struct Ssi {
    /// `LastSxactCommitSeqNo`.
    last_seq: u64,
    xacts: BTreeMap<TxnId, Sxact>,
    /// Table-level SIREAD locks: table → holders.
    siread: BTreeMap<String, BTreeSet<TxnId>>,
    /// The next transaction id to assign.
    next_xid: u64,
    /// Transactions holding a transaction id, with it (every level).
    xids: BTreeMap<TxnId, u64>,
    /// How many rw-conflicts were flagged, and how many transactions SSI aborted.
    stats: SsiStats,
}

/// What SSI did, for the benchmark and the page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsiStats {
    /// rw-antidependencies recorded.
    pub conflicts: u64,
    /// Transactions aborted or doomed by SSI.
    pub aborts: u64,
}

/// SSI's state now, as the page shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsiSummary {
    /// Per table, how many transactions hold a SIREAD lock on it (committed ones included).
    pub siread: Vec<(String, usize)>,
    /// Serializable transactions tracked (running, or committed and still overlapping one).
    pub tracked: usize,
    /// rw-antidependencies and aborts so far.
    pub stats: SsiStats,
}

impl Ssi {
    /// Registers a serializable transaction as it takes its snapshot (`snapshot`: the engine's
    /// commit sequence number).
    pub fn begin(&mut self, txn: TxnId, snapshot: CommitSeq) {
        let xmin = self
            .xids
            .values()
            .copied()
            .min()
            .unwrap_or(self.next_xid)
            .min(self.next_xid);
        self.xacts.insert(
            txn,
            Sxact {
                snapshot,
                last_commit_before_snapshot: self.last_seq,
                xmin,
                prepare_seq: None,
                commit_seq: None,
                engine_commit: None,
                finished_before: 0,
                doomed: false,
                read_only: false,
                conflict_out: false,
                earliest_out_conflict_commit: 0,
                writes: BTreeMap::new(),
                ins: BTreeSet::new(),
                outs: BTreeSet::new(),
            },
        );
    }

    /// Whether `txn` is a serializable transaction being tracked.
    pub fn tracks(&self, txn: TxnId) -> bool {
        self.xacts.contains_key(&txn)
    }

    /// Whether another transaction's check doomed `txn` (it fails at its next read of a row,
    /// write or commit).
    pub fn is_doomed(&self, txn: TxnId) -> bool {
        self.xacts.get(&txn).is_some_and(|x| x.doomed)
    }

    /// Gives `txn` a transaction id if it has none (at its first write or row lock, at any level).
    pub fn assign_xid(&mut self, txn: TxnId) {
        if !self.xids.contains_key(&txn) {
            self.xids.insert(txn, self.next_xid);
            self.next_xid += 1;
        }
    }

    /// A transaction's id, if it has one.
    pub fn xid(&self, txn: TxnId) -> Option<u64> {
        self.xids.get(&txn).copied()
    }

    /// What SSI has done so far.
    pub fn stats(&self) -> SsiStats {
        self.stats
    }

    /// How many serializable transactions are tracked (active, or committed and still needed).
    pub fn tracked(&self) -> usize {
        self.xacts.len()
    }

    /// A serializable `txn` reads `table` (a sequential scan): a SIREAD lock on the table, and a
    /// conflict out to every concurrent serializable writer whose tuples the scan meets.
    /// `has_tuples`: whether the table holds any row version (a doomed transaction learns its
    /// fate when it examines one).
    ///
    /// # Errors
    ///
    /// [`SsiError`] when this transaction must abort now.
    pub fn read(&mut self, txn: TxnId, table: &str, has_tuples: bool) -> Result<(), SsiError> {
        let Some(me) = self.xacts.get(&txn) else {
            return Ok(());
        };
        if me.doomed && has_tuples {
            return Err(self.abort_with(SsiError::DoomedDuringRead));
        }
        self.siread.entry(table.to_owned()).or_default().insert(txn);
        let snapshot = me.snapshot;
        let writers: Vec<TxnId> = self
            .xacts
            .iter()
            .filter(|(id, w)| **id != txn && !w.doomed)
            .filter(|(_, w)| w.engine_commit.is_none_or(|seq| seq > snapshot))
            .filter(|(_, w)| {
                w.writes.get(table).is_some_and(|writes| {
                    writes.creates || writes.deleted.iter().any(|seq| *seq <= snapshot)
                })
            })
            .filter(|(id, _)| !me.outs.contains(id))
            .map(|(id, _)| *id)
            .collect();
        for writer in writers {
            self.flag_conflict(txn, writer, txn)?;
        }
        Ok(())
    }

    /// A serializable `txn` writes a row of `table`: `creates` for an insert or update (a new
    /// tuple), `deleted` the commit sequence number of the version it replaces or deletes. Every
    /// concurrent holder of a SIREAD lock on the table gets a conflict into this one.
    ///
    /// # Errors
    ///
    /// [`SsiError`] when this transaction must abort now.
    pub fn write(
        &mut self,
        txn: TxnId,
        table: &str,
        creates: bool,
        deleted: Option<CommitSeq>,
    ) -> Result<(), SsiError> {
        let Some(me) = self.xacts.get(&txn) else {
            return Ok(());
        };
        if me.doomed {
            return Err(self.abort_with(SsiError::DoomedDuringWrite));
        }
        let xmin = me.xmin;
        let readers: Vec<TxnId> = self
            .siread
            .get(table)
            .into_iter()
            .flatten()
            .filter(|id| **id != txn)
            .filter(|id| {
                self.xacts.get(id).is_some_and(|r| {
                    !r.doomed
                        && (!r.committed() || xmin < r.finished_before)
                        && !r.outs.contains(&txn)
                })
            })
            .copied()
            .collect();
        for reader in readers {
            self.flag_conflict(reader, txn, txn)?;
        }
        if let Some(me) = self.xacts.get_mut(&txn) {
            let writes = me.writes.entry(table.to_owned()).or_default();
            writes.creates |= creates;
            writes.deleted.extend(deleted);
        }
        Ok(())
    }

    /// `PreCommit_CheckForSerializationFailure`: a doomed transaction fails; a pivot between a
    /// reader of this transaction's writes and an active writer is doomed.
    ///
    /// # Errors
    ///
    /// [`SsiError::DoomedAtCommit`] when this transaction must roll back instead.
    pub fn pre_commit(&mut self, txn: TxnId) -> Result<(), SsiError> {
        let Some(me) = self.xacts.get(&txn) else {
            return Ok(());
        };
        if me.doomed {
            return Err(self.abort_with(SsiError::DoomedAtCommit));
        }
        let mut doom = Vec::new();
        for near in &me.ins {
            let Some(pivot) = self.xacts.get(near) else {
                continue;
            };
            if pivot.committed() || pivot.doomed {
                continue;
            }
            let dangerous = !planted::is(Fault::NoSsiAbort)
                && pivot.ins.iter().any(|far| {
                    *far == txn
                        || self
                            .xacts
                            .get(far)
                            .is_some_and(|f| !f.committed() && !f.read_only && !f.doomed)
                });
            if dangerous {
                doom.push(*near);
            }
        }
        for pivot in doom {
            if let Some(pivot) = self.xacts.get_mut(&pivot) {
                pivot.doomed = true;
                self.stats.aborts += 1;
            }
        }
        self.last_seq += 1;
        let seq = self.last_seq;
        if let Some(me) = self.xacts.get_mut(&txn) {
            me.prepare_seq = Some(seq);
        }
        Ok(())
    }

    /// `txn` committed (its writes as `engine_commit`, `None` if it wrote nothing): its SIREAD
    /// locks stay while overlapping transactions run; conflicts that can no longer matter go.
    pub fn commit(&mut self, txn: TxnId, engine_commit: Option<CommitSeq>) {
        if self.xacts.contains_key(&txn) {
            self.last_seq += 1;
            let seq = self.last_seq;
            let next_xid = self.next_xid;
            let committed: BTreeMap<TxnId, (bool, bool, u64)> = self
                .xacts
                .iter()
                .map(|(id, x)| {
                    (
                        *id,
                        (x.committed(), x.read_only, x.prepare_seq.unwrap_or(0)),
                    )
                })
                .collect();
            let Some(me) = self.xacts.get_mut(&txn) else {
                return;
            };
            me.commit_seq = Some(seq);
            me.engine_commit = engine_commit;
            me.finished_before = next_xid;
            me.read_only = me.writes.is_empty();
            let read_only = me.read_only;
            // Conflicts out to transactions that committed before us: remembered as a flag.
            let mut released_outs = Vec::new();
            for out in me.outs.clone() {
                let Some(&(out_committed, _, out_prepare)) = committed.get(&out) else {
                    continue;
                };
                if !read_only && out_committed {
                    if !me.conflict_out || out_prepare < me.earliest_out_conflict_commit {
                        me.earliest_out_conflict_commit = out_prepare;
                    }
                    me.conflict_out = true;
                }
                if out_committed {
                    released_outs.push(out);
                }
            }
            let released_ins: Vec<TxnId> = me
                .ins
                .iter()
                .filter(|id| committed.get(id).is_some_and(|(c, ro, _)| *c || *ro))
                .copied()
                .collect();
            for out in released_outs {
                self.release_conflict(txn, out);
            }
            for reader in released_ins {
                self.release_conflict(reader, txn);
            }
        }
        self.xids.remove(&txn);
        self.clear_old();
    }

    /// `txn` rolled back (or was aborted): its locks and conflicts go at once.
    pub fn abort(&mut self, txn: TxnId) {
        if let Some(me) = self.xacts.remove(&txn) {
            for out in me.outs {
                if let Some(w) = self.xacts.get_mut(&out) {
                    w.ins.remove(&txn);
                }
            }
            for reader in me.ins {
                if let Some(r) = self.xacts.get_mut(&reader) {
                    r.outs.remove(&txn);
                }
            }
            for holders in self.siread.values_mut() {
                holders.remove(&txn);
            }
        }
        self.xids.remove(&txn);
        self.clear_old();
    }

    /// A summary for the page.
    pub fn summary(&self) -> SsiSummary {
        SsiSummary {
            siread: self
                .siread
                .iter()
                .filter(|(_, holders)| !holders.is_empty())
                .map(|(table, holders)| (table.clone(), holders.len()))
                .collect(),
            tracked: self.xacts.len(),
            stats: self.stats,
        }
    }

    /// The SIREAD locks held now, as (table, holder) pairs, for the page.
    pub fn siread_locks(&self) -> Vec<(String, TxnId)> {
        self.siread
            .iter()
            .flat_map(|(table, holders)| holders.iter().map(move |h| (table.clone(), *h)))
            .collect()
    }

    /// `FlagRWConflict(reader, writer)` with its failure check; `current` is the transaction
    /// doing the check.
    fn flag_conflict(
        &mut self,
        reader: TxnId,
        writer: TxnId,
        current: TxnId,
    ) -> Result<(), SsiError> {
        if reader == writer {
            return Ok(());
        }
        if self.is_failure(reader, writer) {
            if current == writer {
                return Err(self.abort_with(SsiError::PivotDuringWrite));
            }
            if self.xacts.get(&writer).is_some_and(Sxact::prepared) {
                let pivot = self.xid(writer).unwrap_or(writer);
                return Err(self.abort_with(SsiError::ConflictOutToPivot { pivot }));
            }
            if let Some(w) = self.xacts.get_mut(&writer) {
                w.doomed = true;
                self.stats.aborts += 1;
            }
        }
        if let Some(r) = self.xacts.get_mut(&reader) {
            r.outs.insert(writer);
        }
        if let Some(w) = self.xacts.get_mut(&writer) {
            w.ins.insert(reader);
        }
        self.stats.conflicts += 1;
        Ok(())
    }

    /// `OnConflict_CheckForSerializationFailure`: whether `reader --rw--> writer` completes a
    /// dangerous structure that can still become an anomaly.
    fn is_failure(&self, reader: TxnId, writer: TxnId) -> bool {
        let (Some(r), Some(w)) = (self.xacts.get(&reader), self.xacts.get(&writer)) else {
            return false;
        };
        if planted::is(Fault::NoSsiAbort) {
            return false;
        }
        // R --> W --> T2, W committed with a conflict out to a transaction committed before it.
        if w.committed() && w.conflict_out {
            return true;
        }
        // R --> W --> T2, T2 committed (prepared) first.
        let writer_is_pivot = w.outs.iter().filter_map(|t2| self.xacts.get(t2)).any(|t2| {
            let Some(t2_prepare) = t2.prepare_seq else {
                return false;
            };
            r.commit_seq.is_none_or(|c| t2_prepare <= c)
                && w.commit_seq.is_none_or(|c| t2_prepare <= c)
                && (!r.read_only || t2_prepare <= r.last_commit_before_snapshot)
        });
        if writer_is_pivot {
            return true;
        }
        // T0 --> R --> W, W committed (prepared) first.
        if let Some(w_prepare) = w.prepare_seq.filter(|_| !r.read_only) {
            return r.ins.iter().filter_map(|t0| self.xacts.get(t0)).any(|t0| {
                !t0.doomed
                    && t0.commit_seq.is_none_or(|c| c >= w_prepare)
                    && (!t0.read_only || t0.last_commit_before_snapshot >= w_prepare)
            });
        }
        false
    }

    fn abort_with(&mut self, error: SsiError) -> SsiError {
        self.stats.aborts += 1;
        error
    }

    fn release_conflict(&mut self, reader: TxnId, writer: TxnId) {
        if let Some(r) = self.xacts.get_mut(&reader) {
            r.outs.remove(&writer);
        }
        if let Some(w) = self.xacts.get_mut(&writer) {
            w.ins.remove(&reader);
        }
    }

    /// `ClearOldPredicateLocks`: a committed transaction is forgotten, with its SIREAD locks,
    /// once every active serializable transaction took its snapshot after it finished.
    fn clear_old(&mut self) {
        let global_xmin = self
            .xacts
            .values()
            .filter(|x| !x.committed())
            .map(|x| x.xmin)
            .min();
        let old: Vec<TxnId> = self
            .xacts
            .iter()
            .filter(|(_, x)| x.committed())
            .filter(|(_, x)| global_xmin.is_none_or(|xmin| x.finished_before <= xmin))
            .map(|(id, _)| *id)
            .collect();
        for txn in old {
            self.abort(txn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Write skew: T1 and T2 each read the table and write one row: T1 --rw--> T2 --rw--> T1.
    /// The first to commit wins and dooms the other, which fails at its commit.
    #[test]
    fn write_skew_aborts_one_transaction() {
        let mut ssi = Ssi::default();
        ssi.begin(1, 0);
        ssi.begin(2, 0);
        ssi.read(1, "accounts", true).expect("reads");
        ssi.read(2, "accounts", true).expect("reads");
        ssi.assign_xid(1);
        ssi.write(1, "accounts", true, Some(0))
            .expect("T2 has not written");
        ssi.assign_xid(2);
        ssi.write(2, "accounts", true, Some(0))
            .expect("nobody has committed yet: no failure is certain");
        ssi.pre_commit(1).expect("the first to commit wins");
        ssi.commit(1, Some(1));
        assert!(ssi.is_doomed(2), "the pivot is doomed when T1 commits");
        assert_eq!(ssi.pre_commit(2), Err(SsiError::DoomedAtCommit));
    }

    #[test]
    fn a_lone_serializable_transaction_never_fails() {
        let mut ssi = Ssi::default();
        ssi.begin(1, 0);
        ssi.read(1, "t", true).expect("reads");
        ssi.assign_xid(1);
        ssi.write(1, "t", true, Some(0)).expect("writes");
        ssi.pre_commit(1).expect("commits");
        ssi.commit(1, Some(1));
        assert_eq!(ssi.tracked(), 0, "nothing overlaps: forgotten at once");
        assert!(ssi.siread_locks().is_empty());
    }

    #[test]
    fn read_only_transactions_that_commit_first_do_not_conflict_later() {
        // R reads t and commits before any writer; T then writes t: R appears to run first.
        let mut ssi = Ssi::default();
        ssi.begin(1, 0);
        ssi.begin(2, 0);
        ssi.read(1, "t", true).expect("reads");
        ssi.pre_commit(1).expect("commits");
        ssi.commit(1, None);
        ssi.assign_xid(2);
        ssi.write(2, "t", true, Some(0))
            .expect("no dangerous structure");
        ssi.pre_commit(2).expect("commits");
    }
}
