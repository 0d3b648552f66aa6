//! The change log: every committed row change and every schema change, in commit order.
//!
//! Models what PostgreSQL's logical decoding reads from the write-ahead log (and what Debezium
//! turns into change events): each record has a log sequence number (LSN), the transaction that
//! made it, that transaction's commit sequence number, the table and key, and the row before and
//! after. Rolled-back work never reaches the log, because a transaction's changes are appended
//! only when it commits. DDL is logged as it runs, with its SQL text.
//!
//! Each record carries its transaction's commit time, which the simulation tells the storage
//! ([`crate::sim::storage::Engine::set_time`]) — what Debezium reports as `source.ts_ms`.
//!
//! Replication slots: a reader (a CDC connector) holds a slot at the LSN it has confirmed; the
//! log keeps every record from the oldest slot's LSN on, however many, as PostgreSQL keeps WAL
//! for a slot — so a stopped connector makes the retained log grow.
//!
//! Simplifications: the log is in memory and, past what slots hold, keeps at most
//! [`ChangeLog::retention`] records; older ones are dropped, as a real server recycles WAL
//! segments no replication slot still needs. A reader that asks for an LSN older than
//! [`ChangeLog::first_lsn`] learns that it fell behind. LSNs count records, where PostgreSQL's
//! count bytes of WAL.

use crate::sim::clock::Micros;
use gluesql::core::ast::ColumnDef;
use gluesql::core::data::{Key, Value};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

/// Log sequence number: the position of a record in the log, from 1, without gaps.
pub type Lsn = u64;
/// Commit sequence number: increases by one at every commit that changed something (and at
/// every DDL statement); a snapshot is "everything committed up to sequence N".
pub type CommitSeq = u64;
/// Transaction id, from 1, in the order transactions start.
pub type TxnId = u64;

/// How many of the newest records the log keeps by default, whether or not a slot needs them
/// (it keeps more while a slot does) — PostgreSQL's `wal_keep_size`, counted in records. A
/// record of the shop holds ~650 bytes (its rows before and after), so this bounds a log nobody
/// reads at ~6.5 MB per database: 100,000 made the shop's shared mode keep 65 MB of log after
/// an hour. Schema changes are kept whatever the retention ([`ChangeLog::schema_changes_since`]).
pub const DEFAULT_RETENTION: usize = 10_000;

/// What a row change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOp {
    /// A new row (`before` is `None`).
    Insert,
    /// A changed row (`before` and `after` are both there).
    Update,
    /// A removed row (`after` is `None`).
    Delete,
}

/// A schema change, as the storage saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum SchemaChange {
    /// `CREATE TABLE`.
    CreateTable {
        /// Its columns (empty for a schemaless table).
        columns: Vec<ColumnDef>,
    },
    /// `DROP TABLE`.
    DropTable,
    /// `ALTER TABLE … RENAME TO`.
    RenameTable {
        /// The new name.
        to: String,
    },
    /// `ALTER TABLE … RENAME COLUMN`.
    RenameColumn {
        /// The old column name.
        from: String,
        /// The new column name.
        to: String,
    },
    /// `ALTER TABLE … ADD COLUMN`.
    AddColumn {
        /// The new column.
        column: ColumnDef,
    },
    /// `ALTER TABLE … DROP COLUMN`.
    DropColumn {
        /// The dropped column's name.
        column: String,
    },
}

/// What a record is about.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeKind {
    /// A row was inserted, updated or deleted.
    Row {
        /// Insert, update or delete.
        op: RowOp,
        /// The row's primary key (or the storage's row id for a table without one).
        key: Key,
        /// The row as it was before (`None` for an insert).
        before: Option<Vec<Value>>,
        /// The row as it is after (`None` for a delete).
        after: Option<Vec<Value>>,
    },
    /// The schema changed.
    Schema(SchemaChange),
}

/// One record of the change log.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Position in the log.
    pub lsn: Lsn,
    /// The transaction that made the change.
    pub txn: TxnId,
    /// The commit sequence number of that transaction's commit.
    pub commit_seq: CommitSeq,
    /// When that transaction committed, by the simulation's clock.
    pub committed_at: Micros,
    /// The table (its name at the time of the change).
    pub table: String,
    /// The table's column names at the time of the change, in row order.
    pub columns: Rc<[String]>,
    /// The SQL statement that made the change, when known.
    pub sql: Option<Rc<str>>,
    /// What changed.
    pub kind: ChangeKind,
}

impl Change {
    /// The record's value of `column` after the change (before it, for a delete).
    pub fn value(&self, column: &str) -> Option<&Value> {
        let ChangeKind::Row { before, after, .. } = &self.kind else {
            return None;
        };
        let index = self.columns.iter().position(|c| c == column)?;
        after.as_ref().or(before.as_ref())?.get(index)
    }
}

/// A change that is not in the log yet (its transaction has not committed).
#[derive(Debug, Clone, PartialEq)]
pub struct PendingChange {
    /// The table.
    pub table: String,
    /// The table's column names.
    pub columns: Rc<[String]>,
    /// The statement that made it.
    pub sql: Option<Rc<str>>,
    /// What changed.
    pub kind: ChangeKind,
}

/// The log itself.
#[derive(Debug, Clone)]
pub struct ChangeLog {
    /// Each record shared: a checkpoint of the world copies the log's order, not its records.
    records: VecDeque<Rc<Change>>,
    next_lsn: Lsn,
    retention: usize,
    /// Replication slots: name → the first LSN the slot's reader still needs.
    slots: BTreeMap<String, Lsn>,
    /// Every schema change ever logged, kept whatever retention drops (few, and what a
    /// reader following the schema must never miss — Debezium keeps a schema history topic
    /// for the same reason).
    schema_history: Vec<Rc<Change>>,
}

impl Default for ChangeLog {
    fn default() -> Self {
        Self::with_retention(DEFAULT_RETENTION)
    }
}

impl ChangeLog {
    /// An empty log that keeps at most `retention` records (at least one).
    pub fn with_retention(retention: usize) -> Self {
        Self {
            records: VecDeque::new(),
            schema_history: Vec::new(),
            next_lsn: 1,
            retention: retention.max(1),
            slots: BTreeMap::new(),
        }
    }

    /// Appends one transaction's changes, in the order they were made, with consecutive LSNs;
    /// the transaction committed at `committed_at`.
    pub fn append(
        &mut self,
        txn: TxnId,
        commit_seq: CommitSeq,
        committed_at: Micros,
        changes: impl IntoIterator<Item = PendingChange>,
    ) {
        for change in changes {
            let is_schema = matches!(change.kind, ChangeKind::Schema(_));
            self.records.push_back(Rc::new(Change {
                lsn: self.next_lsn,
                txn,
                commit_seq,
                committed_at,
                table: change.table,
                columns: change.columns,
                sql: change.sql,
                kind: change.kind,
            }));
            if is_schema {
                if let Some(record) = self.records.back() {
                    self.schema_history.push(Rc::clone(record));
                }
            }
            self.next_lsn += 1;
        }
        self.trim();
    }

    /// The schema changes with an LSN of at least `lsn`, oldest first, however old: kept
    /// beyond retention (see [`Self::since`] for every record).
    pub fn schema_changes_since(&self, lsn: Lsn) -> impl Iterator<Item = &Change> {
        let skip = self.schema_history.partition_point(|c| c.lsn < lsn);
        self.schema_history[skip..].iter().map(|c| &**c)
    }

    /// Drops the records past retention that no slot needs.
    fn trim(&mut self) {
        let needed = self.slots.values().min().copied().unwrap_or(Lsn::MAX);
        while self.records.len() > self.retention
            && self.records.front().is_some_and(|c| c.lsn < needed)
        {
            self.records.pop_front();
        }
    }

    /// Creates (or moves) the replication slot `name` so that the log keeps every record from
    /// `lsn` on. A slot created at the next LSN holds nothing yet.
    pub fn hold_slot(&mut self, name: &str, lsn: Lsn) {
        self.slots.insert(name.to_owned(), lsn);
        self.trim();
    }

    /// Drops the replication slot `name`.
    pub fn drop_slot(&mut self, name: &str) {
        self.slots.remove(name);
        self.trim();
    }

    /// The first LSN the slot `name` still needs, if there is such a slot.
    pub fn slot(&self, name: &str) -> Option<Lsn> {
        self.slots.get(name).copied()
    }

    /// How many records are kept for slots beyond what retention alone would keep.
    pub fn held_for_slots(&self) -> usize {
        self.records.len().saturating_sub(self.retention)
    }

    /// The records with an LSN of at least `lsn`, oldest first.
    pub fn since(&self, lsn: Lsn) -> impl Iterator<Item = &Change> {
        let skip = usize::try_from(lsn.saturating_sub(self.first_lsn())).unwrap_or(usize::MAX);
        self.records.iter().skip(skip).map(|c| &**c)
    }

    /// Every record still kept, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Change> {
        self.records.iter().map(|c| &**c)
    }

    /// The LSN of the oldest record kept (the next LSN if the log is empty).
    pub fn first_lsn(&self) -> Lsn {
        self.records.front().map_or(self.next_lsn, |c| c.lsn)
    }

    /// The LSN the next record will get.
    pub fn next_lsn(&self) -> Lsn {
        self.next_lsn
    }

    /// How many records are kept.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no record is kept.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// How many records the log keeps at most.
    pub fn retention(&self) -> usize {
        self.retention
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(table: &str, id: i64) -> PendingChange {
        PendingChange {
            table: table.to_owned(),
            columns: Rc::from(vec!["id".to_owned()]),
            sql: None,
            kind: ChangeKind::Row {
                op: RowOp::Insert,
                key: Key::I64(id),
                before: None,
                after: Some(vec![Value::I64(id)]),
            },
        }
    }

    #[test]
    fn records_get_consecutive_lsns_in_append_order() {
        let mut log = ChangeLog::default();
        log.append(7, 1, 10, [insert("t", 1), insert("t", 2)]);
        log.append(9, 2, 20, [insert("u", 3)]);
        let lsns: Vec<Lsn> = log.iter().map(|c| c.lsn).collect();
        assert_eq!(lsns, [1, 2, 3]);
        let txns: Vec<TxnId> = log.iter().map(|c| c.txn).collect();
        assert_eq!(txns, [7, 7, 9]);
        assert_eq!(log.next_lsn(), 4);
        let times: Vec<Micros> = log.iter().map(|c| c.committed_at).collect();
        assert_eq!(times, [10, 10, 20]);
        assert_eq!(
            log.iter().nth(2).and_then(|c| c.value("id")),
            Some(&Value::I64(3))
        );
    }

    #[test]
    fn since_reads_from_a_position() {
        let mut log = ChangeLog::default();
        log.append(1, 1, 0, (1..=5).map(|i| insert("t", i)));
        let tail: Vec<Lsn> = log.since(4).map(|c| c.lsn).collect();
        assert_eq!(tail, [4, 5]);
        assert_eq!(log.since(99).count(), 0);
    }

    #[test]
    fn retention_drops_the_oldest_records() {
        let mut log = ChangeLog::with_retention(3);
        log.append(1, 1, 0, (1..=5).map(|i| insert("t", i)));
        assert_eq!(log.len(), 3);
        assert_eq!(log.first_lsn(), 3);
        let from_start: Vec<Lsn> = log.since(1).map(|c| c.lsn).collect();
        assert_eq!(
            from_start,
            [3, 4, 5],
            "a reader behind retention sees only what is kept"
        );
    }

    #[test]
    fn schema_changes_outlive_retention() {
        let mut log = ChangeLog::with_retention(3);
        let rename = PendingChange {
            table: "t".to_owned(),
            columns: Rc::from(vec!["id".to_owned()]),
            sql: Some(Rc::from("ALTER TABLE t RENAME COLUMN a TO b")),
            kind: ChangeKind::Schema(SchemaChange::RenameColumn {
                from: "a".to_owned(),
                to: "b".to_owned(),
            }),
        };
        log.append(1, 1, 0, [insert("t", 1), rename, insert("t", 2)]);
        log.append(2, 2, 0, (3..=9).map(|i| insert("t", i)));
        assert!(
            log.first_lsn() > 2,
            "retention dropped the rename from the log"
        );
        let kept: Vec<Lsn> = log.schema_changes_since(1).map(|c| c.lsn).collect();
        assert_eq!(kept, [2], "but not from the schema history");
        assert_eq!(log.schema_changes_since(3).count(), 0);
    }

    #[test]
    fn a_replication_slot_keeps_the_log_its_reader_still_needs() {
        let mut log = ChangeLog::with_retention(3);
        log.hold_slot("cdc", 1);
        log.append(1, 1, 0, (1..=5).map(|i| insert("t", i)));
        assert_eq!(log.len(), 5, "the slot holds everything from LSN 1");
        assert_eq!(log.held_for_slots(), 2);
        log.hold_slot("cdc", 4);
        assert_eq!(
            log.first_lsn(),
            3,
            "retention keeps three; the slot no longer needs 1-3"
        );
        log.append(2, 2, 0, (6..=9).map(|i| insert("t", i)));
        assert_eq!(log.first_lsn(), 4, "LSN 4 on is still needed");
        assert_eq!(log.slot("cdc"), Some(4));
        log.drop_slot("cdc");
        assert_eq!(log.len(), 3);
        assert_eq!(log.held_for_slots(), 0);
    }
}
