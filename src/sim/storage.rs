//! Our GlueSQL storage: one shared in-memory database, any number of sessions (connections) to
//! it, transactions with undo, MVCC snapshots, a change log and per-statement row counters.
//!
//! Models a PostgreSQL-like server in miniature. The [`Engine`] holds the tables (rows in key
//! order, each row a chain of versions, see [`crate::sim::versions`]), the commit sequence, the
//! open snapshots and the [`ChangeLog`]. A [`Session`] is one connection: it knows its own
//! transaction, which committed state it reads, and counts the rows each statement reads and
//! writes (its transactions and snapshots are in [`crate::sim::transaction`]; here are the
//! tables, row writes and schema changes it makes). GlueSQL runs over a session through the storage traits it defines (`Store`,
//! `StoreMut`, `Transaction`, `AlterTable`, …), so several `Glue`s over sessions of one engine
//! interleave real SQL on the same tables.
//!
//! Simplifications, on purpose:
//! - DDL (`CREATE`, `ALTER`, `DROP TABLE`) takes effect at once and is logged at once; a later
//!   `ROLLBACK` does not undo it (PostgreSQL's DDL is transactional; MySQL's is not).
//! - Writes never wait: a row already written by another open transaction makes the write fail
//!   (the lock manager, which makes writers wait, sits above the storage).
//! - Custom functions are not shared: `CREATE FUNCTION` lives in the session that ran it.
//! - Secondary indexes are one column each ([`crate::sim::indexes`] says what they cost and
//!   where they differ from PostgreSQL's).
//! - No wall clock, no randomness, no hash-map iteration: everything is ordered.

use crate::sim::change_log::{
    ChangeKind, ChangeLog, CommitSeq, PendingChange, RowOp, SchemaChange, TxnId,
};
use crate::sim::clock::Micros;
use crate::sim::indexes::SecondaryIndex;
use crate::sim::sqlstate::SqlState;
use crate::sim::ssi::{Ssi, SsiError, SsiStats};
use crate::sim::transaction::Session;
use crate::sim::versions::{ReadView, RowVersions};
use gluesql::core::ast::{ColumnDef, Expr};
use gluesql::core::data::{CustomFunction as StructCustomFunction, Key, Schema, Value};
use gluesql::core::error::{AlterTableError, Error, Result};
use gluesql::core::executor::evaluate_stateless;
use gluesql::core::plan::{plan_scalar_expr, StatementPlan};
use gluesql::core::planner::{
    fetch_schema_map, plan_aggregate, plan_hash_join, plan_primary_key, plan_schemaless, validate,
};
use gluesql::core::store::{
    AlterTable, CustomFunction, CustomFunctionMut, Metadata, Planner, RowIter, Store, StoreMut,
};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::rc::Rc;

/// Which committed state a session's statements read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadMode {
    /// Every read sees the newest committed version of each row, at the moment it reads it.
    #[default]
    LatestCommitted,
    /// Each statement reads one snapshot, taken when the statement starts (PostgreSQL's
    /// READ COMMITTED).
    StatementSnapshot,
    /// The whole transaction reads one snapshot, taken when it starts; writing a row that
    /// changed since then fails with a serialization error (PostgreSQL's REPEATABLE READ).
    TransactionSnapshot,
}

/// Rows a statement read and wrote: the input of the cost model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RowCounters {
    /// Rows returned by scans and key lookups.
    pub rows_read: u64,
    /// Rows inserted, updated or deleted.
    pub rows_written: u64,
    /// Secondary-index entries added (see [`crate::sim::indexes`] for what adds one).
    pub index_entries: u64,
}

/// A count of what the engine holds, for tests and the UI.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Tables.
    pub tables: usize,
    /// Rows with at least one version (live rows, plus deleted ones a snapshot still sees).
    pub rows: usize,
    /// Row versions, committed and uncommitted.
    pub versions: usize,
    /// Snapshots open now.
    pub open_snapshots: usize,
    /// Records in the change log.
    pub log_records: usize,
    /// The last commit sequence number.
    pub commit_seq: CommitSeq,
}

/// Only the rows with these keys, on the next scan of this table (see [`Session::set_key_hint`]).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyHint {
    /// The table whose next scan is narrowed.
    pub table: String,
    /// The only keys that scan yields, in key order.
    pub keys: Vec<Key>,
}

/// Only the rows whose keys lie in this range, on the next scan of this table (see
/// [`Session::set_key_range`]): a `SELECT` bounded by its primary key
/// ([`crate::sim::key_range`]).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRange {
    /// The table whose next scan is narrowed.
    pub table: String,
    /// The lowest key, or none.
    pub lower: Bound<Key>,
    /// The highest key, or none.
    pub upper: Bound<Key>,
}

impl KeyRange {
    /// Raises the lower bound to `bound` if that is higher.
    pub fn raise(&mut self, bound: Bound<Key>) {
        let higher = match (&self.lower, &bound) {
            (Bound::Unbounded, _) => true,
            (_, Bound::Unbounded) => false,
            (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b)) => b > a,
            (Bound::Included(a), Bound::Excluded(b)) => b >= a,
            (Bound::Excluded(a), Bound::Excluded(b)) => b > a,
        };
        if higher {
            self.lower = bound;
        }
    }

    /// Lowers the upper bound to `bound` if that is lower.
    pub fn lower_to(&mut self, bound: Bound<Key>) {
        let lower = match (&self.upper, &bound) {
            (Bound::Unbounded, _) => true,
            (_, Bound::Unbounded) => false,
            (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b)) => b < a,
            (Bound::Included(a), Bound::Excluded(b)) => b <= a,
            (Bound::Excluded(a), Bound::Excluded(b)) => b < a,
        };
        if lower {
            self.upper = bound;
        }
    }

    /// Whether no key lies in the range (`id > 5 AND id < 3`).
    pub fn is_empty(&self) -> bool {
        match (&self.lower, &self.upper) {
            (Bound::Included(a), Bound::Included(b)) => a > b,
            (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
                a >= b
            }
            _ => false,
        }
    }

    /// Whether `key` lies in the range.
    pub fn contains(&self, key: &Key) -> bool {
        use std::ops::RangeBounds;
        (self.lower.as_ref(), self.upper.as_ref()).contains(key)
    }

    /// The range's rows of `rows`, in key order (backwards with `rev`).
    pub(super) fn of<'a, V: Clone>(
        &self,
        rows: &'a KeyMap<V>,
    ) -> impl DoubleEndedIterator<Item = (&'a Key, &'a V)> {
        // A range that ends before it starts is refused before a B-tree sees it.
        let range =
            (!self.is_empty()).then(|| rows.range((self.lower.clone(), self.upper.clone())));
        range.into_iter().flatten()
    }
}

/// A table's rows by primary key, each row's versions shared copy-on-write: a persistent B-tree
/// (`imbl`'s), so a copy of the map ([`crate::sim::fork`]'s checkpoints) shares all its nodes,
/// and a write to either copies only the path to the row it changes. With `std`'s `BTreeMap`
/// each checkpoint held its own key map: 4 MB for the shop's 50,000 rows.
pub(super) type Rows = KeyMap<Rc<RowVersions>>;

/// A persistent B-tree by primary key with `Rc` nodes (the page runs on one thread).
pub(super) type KeyMap<V> = imbl::GenericOrdMap<Key, V, imbl::shared_ptr::RcK>;

/// A table: its schema, its column names (shared by its change records), its rows and its
/// secondary indexes.
#[derive(Debug, Clone)]
pub(super) struct Table {
    pub(super) schema: Schema,
    pub(super) columns: Rc<[String]>,
    /// Each row's versions, shared copy-on-write: a checkpoint of the world ([`crate::sim::fork`])
    /// shares the map's nodes and the rows, and a write copies only the row it changes (and the
    /// map's path to it) while a checkpoint still holds them.
    pub(super) rows: Rows,
    pub(super) indexes: Vec<SecondaryIndex>,
}

impl Table {
    fn new(schema: Schema) -> Self {
        Self {
            columns: column_names(&schema),
            schema,
            rows: Rows::new(),
            indexes: Vec::new(),
        }
    }

    /// Applies `f` to the values of every version of every row: an added or dropped column.
    /// The map is rebuilt (a persistent map has no `values_mut`), sharing nothing with the
    /// checkpoints that hold the old one.
    fn map_rows(&mut self, mut f: impl FnMut(&mut Vec<Value>)) {
        self.rows = std::mem::take(&mut self.rows)
            .into_iter()
            .map(|(key, mut row)| {
                Rc::make_mut(&mut row).map_values(&mut f);
                (key, row)
            })
            .collect();
    }

    /// The index entries a write of `before` → `after` adds, as PostgreSQL counts them: an
    /// insert, or an update that changes an indexed column (a new row version at a new
    /// address), adds one to every index; an update that changes none (a HOT update) and a
    /// delete add none.
    fn index_cost(&self, before: Option<&Vec<Value>>, after: Option<&Vec<Value>>) -> u64 {
        let every = self.indexes.len() as u64;
        match (before, after) {
            (None, Some(_)) => every,
            (Some(before), Some(after)) => {
                let changed = self.indexes.iter().any(|index| {
                    let position = self.columns.iter().position(|c| *c == index.column);
                    position.is_some_and(|p| before.get(p) != after.get(p))
                });
                if changed {
                    every
                } else {
                    0
                }
            }
            _ => 0,
        }
    }

    /// Brings every index's entries for row `key` up to the versions it holds now. Returns how
    /// many entries were added.
    pub(super) fn reindex_row(&mut self, key: &Key) -> u64 {
        let row = self.rows.get(key).map(|row| &**row);
        let mut added = 0;
        for index in &mut self.indexes {
            let Some(position) = self.columns.iter().position(|c| *c == index.column) else {
                continue;
            };
            let values = row
                .into_iter()
                .flat_map(RowVersions::all_values)
                .filter_map(|values| values.get(position));
            added += index.reindex_row(key, values);
        }
        added
    }

    fn set_schema(&mut self, schema: Schema) {
        self.columns = column_names(&schema);
        self.schema = schema;
    }
}

fn column_names(schema: &Schema) -> Rc<[String]> {
    schema
        .column_defs
        .as_ref()
        .map(|defs| defs.iter().map(|d| d.name.clone()).collect())
        .unwrap_or_else(|| Rc::from(vec!["_doc".to_owned()]))
}

/// The shared database: tables, commit sequence, open snapshots and the change log.
#[derive(Debug, Default, Clone)]
pub struct Engine {
    pub(super) tables: BTreeMap<String, Table>,
    pub(super) log: ChangeLog,
    pub(super) commit_seq: CommitSeq,
    pub(super) next_txn: TxnId,
    pub(super) next_row_id: i64,
    /// Open snapshots: commit sequence number → how many sessions hold it.
    pub(super) snapshots: BTreeMap<CommitSeq, usize>,
    /// Rows holding versions that a snapshot may still need; pruned when snapshots close.
    pub(super) garbage: BTreeSet<(String, Key)>,
    /// The time the simulation says it is, stamped on commits in the change log.
    pub(super) time: Micros,
    /// Serializable snapshot isolation: SIREAD locks and rw-conflicts (PostgreSQL's SERIALIZABLE).
    pub(super) ssi: Ssi,
    /// The error code of the last refusal, read by the connection that got it.
    pub(super) error_state: Option<SqlState>,
    /// The views (`crate::sim::views`), by name: kept beside the tables, outside GlueSQL.
    pub(super) views: crate::sim::views::Views,
    /// The engine is being thrown away with its world (a checkpoint no longer kept): its
    /// sessions go without rolling back or closing snapshots, work nobody would see.
    pub(crate) discarded: bool,
}

impl Engine {
    /// An empty engine whose change log keeps at most `retention` records.
    pub fn with_log_retention(retention: usize) -> Self {
        Self {
            log: ChangeLog::with_retention(retention),
            ..Self::default()
        }
    }

    /// What `name` names among the database's relations, or `None` if it is free (PostgreSQL
    /// keeps tables, views and indexes in one namespace).
    pub fn relation_kind(&self, name: &str) -> Option<RelationKind> {
        if self.tables.contains_key(name) {
            Some(RelationKind::Table)
        } else if self.views.contains_key(name) {
            Some(RelationKind::View)
        } else if self
            .tables
            .values()
            .any(|t| t.indexes.iter().any(|i| i.name == name))
        {
            Some(RelationKind::Index)
        } else {
            None
        }
    }

    /// The table that holds index `name`, if any.
    pub fn table_of_index(&self, name: &str) -> Option<&str> {
        self.tables
            .iter()
            .find(|(_, t)| t.indexes.iter().any(|i| i.name == name))
            .map(|(table, _)| table.as_str())
    }

    /// The change log.
    pub fn log(&self) -> &ChangeLog {
        &self.log
    }

    /// The last commit sequence number.
    pub fn commit_seq(&self) -> CommitSeq {
        self.commit_seq
    }

    /// Tells the storage what time it is, for the commit times in the change log (the storage
    /// never reads a clock of its own).
    pub fn set_time(&mut self, now: Micros) {
        self.time = now;
    }

    /// The change log, to hold or move a replication slot.
    pub fn log_mut(&mut self) -> &mut ChangeLog {
        &mut self.log
    }

    /// Drops every table's rows, versions and indexes: only for a world being taken apart to
    /// see what its memory consists of ([`crate::sim::world::World::memory_parts`]).
    pub fn release_tables(&mut self) {
        self.tables.clear();
    }

    /// Counts tables, rows, versions, snapshots and log records.
    pub fn stats(&self) -> EngineStats {
        let rows = self.tables.values().map(|t| t.rows.len()).sum();
        let versions = self
            .tables
            .values()
            .flat_map(|t| t.rows.values())
            .map(|row| row.version_count())
            .sum();
        EngineStats {
            tables: self.tables.len(),
            rows,
            versions,
            open_snapshots: self.snapshots.values().sum(),
            log_records: self.log.len(),
            commit_seq: self.commit_seq,
        }
    }

    /// The smallest and largest primary key of `table`'s committed rows, read from the ends of
    /// its key order (no scan): `None` for an empty or unknown table.
    pub fn key_bounds(&self, table: &str) -> Option<(Key, Key)> {
        let rows = &self.tables.get(table)?.rows;
        let live = |(key, row): (&Key, &Rc<RowVersions>)| {
            row.committed_as_of(ReadView::LatestCommitted)
                .map(|_| key.clone())
        };
        let first = rows.iter().find_map(live)?;
        let last = rows.iter().rev().find_map(live)?;
        Some((first, last))
    }

    /// Whether `column` is `table`'s primary key.
    pub fn is_primary_key(&self, table: &str, column: &str) -> bool {
        self.tables
            .get(table)
            .and_then(|t| t.schema.column_defs.as_ref())
            .and_then(|columns| columns.iter().find(|c| c.name == column))
            .and_then(|c| c.unique)
            .is_some_and(|u| u.is_primary)
    }

    /// The primary key columns of `table`, in declaration order (empty without one).
    pub fn primary_key_columns(&self, table: &str) -> Vec<String> {
        self.tables
            .get(table)
            .and_then(|t| t.schema.column_defs.as_ref())
            .map(|columns| {
                columns
                    .iter()
                    .filter(|c| c.unique.is_some_and(|u| u.is_primary))
                    .map(|c| c.name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The columns of `table` (name, type, constraints), in declaration order.
    pub fn column_defs(&self, table: &str) -> Vec<gluesql::core::ast::ColumnDef> {
        self.tables
            .get(table)
            .and_then(|t| t.schema.column_defs.clone())
            .unwrap_or_default()
    }

    /// The names of the tables, in order.
    pub fn table_names(&self) -> Vec<String> {
        self.tables.keys().cloned().collect()
    }

    /// Whether the row `key` of `table` has a committed version newer than `seq`.
    pub fn changed_since(&self, table: &str, key: &Key, seq: CommitSeq) -> bool {
        self.tables
            .get(table)
            .and_then(|t| t.rows.get(key))
            .is_some_and(|r| r.changed_since(seq))
    }

    /// What serializable snapshot isolation has done on this database.
    pub fn ssi_stats(&self) -> SsiStats {
        self.ssi.stats()
    }

    /// SSI's state now: SIREAD locks per table, transactions tracked, conflicts and aborts.
    pub fn ssi_summary(&self) -> crate::sim::ssi::SsiSummary {
        self.ssi.summary()
    }

    /// The SIREAD locks held now: (table, transaction).
    pub fn siread_locks(&self) -> Vec<(String, TxnId)> {
        self.ssi.siread_locks()
    }

    /// A refusal with PostgreSQL's code: the message goes through GlueSQL, the code waits here
    /// for the connection ([`Session::take_error_state`]).
    pub(super) fn refuse(&mut self, state: SqlState, message: impl Into<String>) -> Error {
        self.error_state = Some(state);
        Error::StorageMsg(message.into())
    }

    /// The last transaction id handed out.
    pub fn last_txn_id(&self) -> TxnId {
        self.next_txn
    }

    /// Takes back the transaction ids handed out since `last` ([`Engine::last_txn_id`]) to
    /// read-only transactions that have ended: as PostgreSQL gives a read-only transaction only
    /// a virtual id, reading (the invariant checker's queries) leaves the ids later writers get
    /// as they would have been. The caller makes sure every transaction started since has
    /// ended without writing.
    pub fn forget_read_only_txns(&mut self, last: TxnId) {
        self.next_txn = self.next_txn.min(last);
    }

    pub(super) fn begin_txn(&mut self) -> TxnId {
        self.next_txn += 1;
        self.next_txn
    }

    pub(super) fn oldest_snapshot(&self) -> Option<CommitSeq> {
        self.snapshots.keys().next().copied()
    }

    pub(super) fn open_snapshot(&mut self) -> CommitSeq {
        *self.snapshots.entry(self.commit_seq).or_insert(0) += 1;
        self.commit_seq
    }

    pub(super) fn close_snapshot(&mut self, seq: CommitSeq) {
        let before = self.oldest_snapshot();
        if let Some(count) = self.snapshots.get_mut(&seq) {
            *count -= 1;
            if *count == 0 {
                self.snapshots.remove(&seq);
            }
        }
        if self.oldest_snapshot() != before {
            self.vacuum();
        }
    }

    /// Prunes the rows that kept old versions for snapshots that are now closed.
    fn vacuum(&mut self) {
        let oldest = self.oldest_snapshot();
        let garbage = std::mem::take(&mut self.garbage);
        for (table_name, key) in garbage {
            self.prune_row(&table_name, &key, oldest);
        }
    }

    pub(super) fn prune_row(&mut self, table_name: &str, key: &Key, oldest: Option<CommitSeq>) {
        let Some(table) = self.tables.get_mut(table_name) else {
            return;
        };
        let Some(row) = table.rows.get_mut(key) else {
            return;
        };
        let row = Rc::make_mut(row);
        let gone = row.prune(oldest);
        let history = row.has_history();
        if gone {
            table.rows.remove(key);
        }
        table.reindex_row(key);
        if !gone && history {
            self.garbage.insert((table_name.to_owned(), key.clone()));
        }
    }

    /// Makes a schema change take effect: logs it under its own commit sequence number.
    fn log_schema_change(
        &mut self,
        txn: TxnId,
        table: &str,
        sql: Option<Rc<str>>,
        change: SchemaChange,
    ) {
        self.commit_seq += 1;
        let columns = self
            .tables
            .get(table)
            .map_or_else(|| Rc::from(Vec::new()), |t| Rc::clone(&t.columns));
        self.log.append(
            txn,
            self.commit_seq,
            self.time,
            [PendingChange {
                table: table.to_owned(),
                columns,
                sql,
                kind: ChangeKind::Schema(change),
            }],
        );
    }
}

/// The versions of a row that does not exist yet.
static NO_ROW: RowVersions = RowVersions::EMPTY;

/// PostgreSQL's words for an SSI abort: its message and its reason code.
pub(super) fn ssi_message(error: SsiError) -> String {
    format!("{error} ({})", error.detail())
}

/// What a relation's name names: PostgreSQL keeps the three in one namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    /// A table.
    Table,
    /// A view (`crate::sim::views`).
    View,
    /// A secondary index (`crate::sim::indexes`).
    Index,
}

impl std::fmt::Display for RelationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Table => "table",
            Self::View => "view",
            Self::Index => "index",
        })
    }
}

/// A shared handle on an engine, as sessions hold it.
pub type SharedEngine = Rc<RefCell<Engine>>;

impl Session {
    /// Writes one row version for the open transaction: `values` `None` deletes.
    fn write_row(&mut self, table_name: &str, key: Key, values: Option<Vec<Value>>) -> Result<()> {
        let view = self.view();
        let snapshot = self
            .snapshot
            .filter(|_| self.mode == ReadMode::TransactionSnapshot);
        let txn_id = self.txn_or_new_id();
        let sql = self.statement_sql();
        let (kind, columns) = {
            let mut engine = self.engine.borrow_mut();
            let table = engine
                .tables
                .get(table_name)
                .ok_or_else(|| Error::StorageMsg(format!("table not found: {table_name}")))?;
            let columns = Rc::clone(&table.columns);
            let Some(row) = table
                .rows
                .get(&key)
                .map(|row| &**row)
                .or(values.as_ref().map(|_| &NO_ROW))
            else {
                return Ok(()); // Deleting a row that does not exist changes nothing.
            };
            let other_writer = row.writer().filter(|w| *w != txn_id);
            let mine = row.writer() == Some(txn_id);
            let before = row.visible(Some(txn_id), view).cloned();
            let live = row.committed_as_of(ReadView::LatestCommitted).is_some();
            let changed = snapshot.is_some_and(|seq| row.changed_since(seq));
            let replaced = (!mine && before.is_some()).then(|| row.last_commit_seq());
            if let Some(other) = other_writer {
                let message = format!(
                    "row {} of {table_name} is being written by transaction {other}, which has \
                     not committed",
                    String::from(Value::from(key.clone()))
                );
                return Err(engine.refuse(SqlState::SerializationFailure, message));
            }
            // (An insert has no old version to find changed: its key is checked below.)
            if changed && before.is_some() {
                return Err(engine.refuse(
                    SqlState::SerializationFailure,
                    "could not serialize access due to concurrent update",
                ));
            }
            // SSI's conflict-in check comes first, as heap_insert/heap_update make it before
            // the unique index is checked.
            engine.ssi.assign_xid(txn_id);
            if let Err(error) = engine
                .ssi
                .write(txn_id, table_name, values.is_some(), replaced)
            {
                return Err(engine.refuse(SqlState::SerializationFailure, ssi_message(error)));
            }
            if before.is_none() && values.is_some() && live && !mine {
                // A key inserted and committed after this transaction's snapshot: PostgreSQL's
                // unique index sees it whatever the snapshot.
                let name = String::from(Value::from(key.clone()));
                return Err(engine.refuse(
                    SqlState::UniqueViolation,
                    format!(
                        "duplicate key value violates unique constraint \"{table_name}_pkey\" \
                         (key {name} already exists)"
                    ),
                ));
            }
            let Some(table) = engine.tables.get_mut(table_name) else {
                return Ok(());
            };
            let op = match (&before, &values) {
                (None, None) => return Ok(()),
                (None, Some(_)) => RowOp::Insert,
                (Some(_), Some(_)) => RowOp::Update,
                (Some(_), None) => RowOp::Delete,
            };
            let cost = table.index_cost(before.as_ref(), values.as_ref());
            Rc::make_mut(table.rows.entry(key.clone()).or_default()).write(txn_id, values.clone());
            table.reindex_row(&key);
            self.count_index_entries(cost);
            let kind = ChangeKind::Row {
                op,
                key: key.clone(),
                before,
                after: values,
            };
            (kind, columns)
        };
        let txn = self.txn_mut();
        txn.written.insert((table_name.to_owned(), key));
        txn.changes.push(PendingChange {
            table: table_name.to_owned(),
            columns,
            sql,
            kind,
        });
        self.count(0, 1);
        Ok(())
    }

    fn schema_change(&mut self, table: &str, change: SchemaChange) {
        let txn = self.txn_or_new_id();
        self.engine.borrow_mut().ssi.assign_xid(txn);
        let sql = self.statement_sql();
        self.engine
            .borrow_mut()
            .log_schema_change(txn, table, sql, change);
    }

    /// Changes a table's schema with `f`, and logs the change `f` reports (if any).
    fn alter(
        &mut self,
        table_name: &str,
        f: impl FnOnce(&mut Table) -> Result<Option<SchemaChange>>,
    ) -> Result<()> {
        let change = {
            let mut engine = self.engine.borrow_mut();
            let table = engine
                .tables
                .get_mut(table_name)
                .ok_or_else(|| AlterTableError::TableNotFound(table_name.to_owned()))?;
            f(table)?
        };
        if let Some(change) = change {
            self.schema_change(table_name, change);
        }
        Ok(())
    }
}

/// PostgreSQL's refusal of a relation name already in use, by a table, a view or an index.
pub(super) fn name_taken(engine: &mut Engine, name: &str) -> Error {
    let message = match engine.relation_kind(name) {
        Some(kind) => format!("relation \"{name}\" already exists (a {kind})"),
        None => format!("relation \"{name}\" already exists"),
    };
    engine.refuse(SqlState::DuplicateTable, message)
}

fn column_defs_mut<'a>(table: &'a mut Table, table_name: &str) -> Result<&'a mut Vec<ColumnDef>> {
    table
        .schema
        .column_defs
        .as_mut()
        .ok_or_else(|| AlterTableError::SchemalessTableFound(table_name.to_owned()).into())
}

impl Store for Session {
    fn fetch_schema(&self, table_name: &str) -> Result<Option<Schema>> {
        Ok(self
            .engine
            .borrow()
            .tables
            .get(table_name)
            .map(|t| t.schema.clone()))
    }

    fn fetch_all_schemas(&self) -> Result<Vec<Schema>> {
        Ok(self
            .engine
            .borrow()
            .tables
            .values()
            .map(|t| t.schema.clone())
            .collect())
    }

    fn fetch_data(&self, table_name: &str, key: &Key) -> Result<Option<Vec<Value>>> {
        // A key lookup is the table's first read: a range it left unused goes with it.
        self.take_key_range(table_name);
        let engine = self.engine.borrow();
        let row = engine
            .tables
            .get(table_name)
            .and_then(|t| t.rows.get(key))
            .and_then(|r| r.visible(self.txn_id(), self.view()))
            .cloned();
        if row.is_some() {
            self.count(1, 0);
        }
        Ok(row)
    }

    fn scan_data<'a>(&'a self, table_name: &str) -> Result<RowIter<'a>> {
        let hint = self.take_key_hint(table_name);
        let range = self.take_key_range(table_name);
        let (txn, view) = (self.txn_id(), self.view());
        let engine = self.engine.borrow();
        let rows: Vec<(Key, Vec<Value>)> = match engine.tables.get(table_name) {
            None => Vec::new(),
            Some(table) => match hint {
                Some(hint) => hint
                    .keys
                    .into_iter()
                    .filter_map(|key| {
                        let values = table.rows.get(&key)?.visible(txn, view)?.clone();
                        Some((key, values))
                    })
                    .collect(),
                None => match range {
                    Some(range) => range
                        .of(&table.rows)
                        .filter_map(|(key, r)| {
                            r.visible(txn, view).map(|v| (key.clone(), v.clone()))
                        })
                        .collect(),
                    None => {
                        let mut rows = Vec::with_capacity(table.rows.len());
                        rows.extend(table.rows.iter().filter_map(|(key, r)| {
                            r.visible(txn, view).map(|v| (key.clone(), v.clone()))
                        }));
                        rows
                    }
                },
            },
        };
        Ok(Box::new(rows.into_iter().map(move |row| {
            self.count(1, 0);
            Ok(row)
        })))
    }
}

impl StoreMut for Session {
    fn insert_schema(&mut self, schema: &Schema) -> Result<()> {
        let name = schema.table_name.clone();
        let created = {
            let mut engine = self.engine.borrow_mut();
            if !engine.tables.contains_key(&name) && engine.relation_kind(&name).is_some() {
                return Err(name_taken(&mut engine, &name));
            }
            match engine.tables.get_mut(&name) {
                // GlueSQL re-inserts a schema to change it (dropping a foreign key, say).
                Some(table) => {
                    // The indexes are ours: the copy GlueSQL hands back cannot add or drop any.
                    let indexes = std::mem::take(&mut table.schema.indexes);
                    table.set_schema(schema.clone());
                    table.schema.indexes = indexes;
                    false
                }
                None => {
                    engine
                        .tables
                        .insert(name.clone(), Table::new(schema.clone()));
                    true
                }
            }
        };
        if created {
            let columns = schema.column_defs.clone().unwrap_or_default();
            self.schema_change(&name, SchemaChange::CreateTable { columns });
        }
        Ok(())
    }

    fn delete_schema(&mut self, table_name: &str) -> Result<()> {
        if self.engine.borrow().tables.contains_key(table_name) {
            self.schema_change(table_name, SchemaChange::DropTable);
            let mut engine = self.engine.borrow_mut();
            engine.tables.remove(table_name);
            engine.garbage.retain(|(t, _)| t != table_name);
        }
        Ok(())
    }

    fn append_data(&mut self, table_name: &str, rows: Vec<Vec<Value>>) -> Result<()> {
        for values in rows {
            let key = {
                let mut engine = self.engine.borrow_mut();
                engine.next_row_id += 1;
                Key::I64(engine.next_row_id)
            };
            self.write_row(table_name, key, Some(values))?;
        }
        Ok(())
    }

    fn insert_data(&mut self, table_name: &str, rows: Vec<(Key, Vec<Value>)>) -> Result<()> {
        for (key, values) in rows {
            self.write_row(table_name, key, Some(values))?;
        }
        Ok(())
    }

    fn delete_data(&mut self, table_name: &str, keys: Vec<Key>) -> Result<()> {
        for key in keys {
            self.write_row(table_name, key, None)?;
        }
        Ok(())
    }
}

impl AlterTable for Session {
    fn rename_schema(&mut self, table_name: &str, new_table_name: &str) -> Result<()> {
        {
            let mut engine = self.engine.borrow_mut();
            if engine.relation_kind(new_table_name).is_some() {
                return Err(name_taken(&mut engine, new_table_name));
            }
            if !engine.tables.contains_key(table_name) {
                return Err(AlterTableError::TableNotFound(table_name.to_owned()).into());
            }
        }
        // Logged under the old name, with the columns it had.
        self.schema_change(
            table_name,
            SchemaChange::RenameTable {
                to: new_table_name.to_owned(),
            },
        );
        {
            let mut engine = self.engine.borrow_mut();
            let mut table = engine
                .tables
                .remove(table_name)
                .ok_or_else(|| AlterTableError::TableNotFound(table_name.to_owned()))?;
            new_table_name.clone_into(&mut table.schema.table_name);
            engine.tables.insert(new_table_name.to_owned(), table);
            let garbage = std::mem::take(&mut engine.garbage);
            engine.garbage = garbage
                .into_iter()
                .map(|(t, k)| {
                    (
                        if t == table_name {
                            new_table_name.to_owned()
                        } else {
                            t
                        },
                        k,
                    )
                })
                .collect();
        }
        if let Some(txn) = self.txn.as_mut() {
            let renamed = |t: &mut String| {
                if t == table_name {
                    new_table_name.clone_into(t);
                }
            };
            txn.written = std::mem::take(&mut txn.written)
                .into_iter()
                .map(|(mut t, k)| {
                    renamed(&mut t);
                    (t, k)
                })
                .collect();
            txn.changes.iter_mut().for_each(|c| renamed(&mut c.table));
        }
        Ok(())
    }

    fn rename_column(&mut self, table_name: &str, old: &str, new: &str) -> Result<()> {
        self.alter(table_name, |table| {
            let defs = column_defs_mut(table, table_name)?;
            if defs.iter().any(|d| d.name == new) {
                return Err(AlterTableError::AlreadyExistingColumn(new.to_owned()).into());
            }
            let def = defs
                .iter_mut()
                .find(|d| d.name == old)
                .ok_or(AlterTableError::RenamingColumnNotFound)?;
            new.clone_into(&mut def.name);
            // An index follows its column, as in PostgreSQL.
            for index in table.indexes.iter_mut().filter(|i| i.column == old) {
                new.clone_into(&mut index.column);
            }
            for index in &mut table.schema.indexes {
                if index.expr == Expr::Identifier(old.to_owned()) {
                    index.expr = Expr::Identifier(new.to_owned());
                }
            }
            let schema = table.schema.clone();
            table.set_schema(schema);
            Ok(Some(SchemaChange::RenameColumn {
                from: old.to_owned(),
                to: new.to_owned(),
            }))
        })
    }

    fn add_column(&mut self, table_name: &str, column_def: &ColumnDef) -> Result<()> {
        self.alter(table_name, |table| {
            let defs = column_defs_mut(table, table_name)?;
            if defs.iter().any(|d| d.name == column_def.name) {
                return Err(AlterTableError::AlreadyExistingColumn(column_def.name.clone()).into());
            }
            let value = match (&column_def.default, column_def.nullable) {
                (Some(expr), nullable) => {
                    let expr = plan_scalar_expr(expr.clone());
                    evaluate_stateless(None, &expr)?
                        .try_into_value(&column_def.data_type, nullable)?
                }
                (None, true) => Value::Null,
                (None, false) => {
                    return Err(AlterTableError::DefaultValueRequired(column_def.clone()).into());
                }
            };
            defs.push(column_def.clone());
            let schema = table.schema.clone();
            table.set_schema(schema);
            table.map_rows(|values| values.push(value.clone()));
            Ok(Some(SchemaChange::AddColumn {
                column: column_def.clone(),
            }))
        })
    }

    fn drop_column(&mut self, table_name: &str, column_name: &str, if_exists: bool) -> Result<()> {
        self.alter(table_name, |table| {
            let defs = column_defs_mut(table, table_name)?;
            let Some(index) = defs.iter().position(|d| d.name == column_name) else {
                if if_exists {
                    return Ok(None);
                }
                return Err(AlterTableError::DroppingColumnNotFound(column_name.to_owned()).into());
            };
            defs.remove(index);
            // Dropping a column drops the indexes on it, as in PostgreSQL.
            table.indexes.retain(|i| i.column != column_name);
            let indexed = Expr::Identifier(column_name.to_owned());
            table.schema.indexes.retain(|i| i.expr != indexed);
            let schema = table.schema.clone();
            table.set_schema(schema);
            table.map_rows(|values| {
                if index < values.len() {
                    values.remove(index);
                }
            });
            Ok(Some(SchemaChange::DropColumn {
                column: column_name.to_owned(),
            }))
        })
    }
}

impl Metadata for Session {}

impl CustomFunction for Session {
    fn fetch_function<'a>(&'a self, func_name: &str) -> Result<Option<&'a StructCustomFunction>> {
        Ok(self.functions.get(&func_name.to_uppercase()))
    }

    fn fetch_all_functions(&self) -> Result<Vec<&StructCustomFunction>> {
        Ok(self.functions.values().collect())
    }
}

impl CustomFunctionMut for Session {
    fn insert_function(&mut self, func: StructCustomFunction) -> Result<()> {
        self.functions.insert(func.func_name.to_uppercase(), func);
        Ok(())
    }

    fn delete_function(&mut self, func_name: &str) -> Result<()> {
        self.functions.remove(&func_name.to_uppercase());
        Ok(())
    }
}

/// GlueSQL's planning steps, with its index planner among them (its default leaves it out).
impl Planner for Session {
    fn plan(&self, statement: StatementPlan) -> Result<StatementPlan> {
        let schema_map = fetch_schema_map(self, &statement)?;
        validate(&schema_map, &statement)?;
        let statement = plan_schemaless(&schema_map, statement)?;
        let statement = plan_primary_key(&schema_map, statement);
        // GlueSQL orders groups by their first row: an index scan, which changes which row
        // comes first, would change the order of a grouped query's result.
        let statement = if orders_groups(&statement) {
            statement
        } else {
            crate::sim::key_order::plan_index(&schema_map, statement)
        };
        let statement = plan_hash_join(&schema_map, statement);
        Ok(plan_aggregate(statement))
    }
}

/// Whether `statement` is a grouped query (`GROUP BY`, `HAVING`) with an `ORDER BY`.
fn orders_groups(statement: &StatementPlan) -> bool {
    use gluesql::core::plan::{
        DistinctInputPlan, DistinctPlan, LimitInputPlan, LimitPlan, OffsetInputPlan, OffsetPlan,
        ProjectInputPlan, ProjectPlan, QueryPlan, SelectOrderByPlan,
    };
    let grouped = |plan: &ProjectPlan| {
        matches!(
            plan.input,
            ProjectInputPlan::Aggregation(_) | ProjectInputPlan::Having(_)
        )
    };
    let StatementPlan::Query(query) = statement else {
        return false;
    };
    match query {
        QueryPlan::SelectOrderBy(SelectOrderByPlan { input, .. })
        | QueryPlan::Offset(OffsetPlan {
            input: OffsetInputPlan::SelectOrderBy(SelectOrderByPlan { input, .. }),
            ..
        })
        | QueryPlan::Limit(LimitPlan {
            input:
                LimitInputPlan::SelectOrderBy(SelectOrderByPlan { input, .. })
                | LimitInputPlan::Offset(OffsetPlan {
                    input: OffsetInputPlan::SelectOrderBy(SelectOrderByPlan { input, .. }),
                    ..
                }),
            ..
        })
        | QueryPlan::Distinct(DistinctPlan {
            input: DistinctInputPlan::SelectOrderBy(SelectOrderByPlan { input, .. }),
        }) => grouped(input),
        _ => false,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use gluesql::prelude::Glue;

    #[test]
    fn a_key_range_narrows_to_the_tighter_bound_and_knows_when_it_is_empty() {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let mut range = KeyRange {
            table: "t".to_owned(),
            lower: Unbounded,
            upper: Unbounded,
        };
        range.raise(Included(Key::I64(3)));
        range.raise(Excluded(Key::I64(3)));
        range.raise(Included(Key::I64(2)));
        range.lower_to(Included(Key::I64(9)));
        range.lower_to(Excluded(Key::I64(9)));
        range.lower_to(Included(Key::I64(10)));
        assert_eq!(
            (range.lower.clone(), range.upper.clone()),
            (Excluded(Key::I64(3)), Excluded(Key::I64(9)))
        );
        let rows: KeyMap<()> = (0..12).map(|k| (Key::I64(k), ())).collect();
        let keys: Vec<_> = range.of(&rows).map(|(k, ())| k.clone()).collect();
        assert_eq!(keys, (4..9).map(Key::I64).collect::<Vec<_>>());
        let backwards: Vec<_> = range.of(&rows).rev().map(|(k, ())| k.clone()).collect();
        assert_eq!(backwards, (4..9).rev().map(Key::I64).collect::<Vec<_>>());
        range.raise(Included(Key::I64(9)));
        assert!(range.is_empty());
        assert_eq!(range.of(&rows).count(), 0, "an empty range never panics");
        range.lower = Included(Key::I64(5));
        range.upper = Included(Key::I64(5));
        assert!(!range.is_empty());
        assert_eq!(range.of(&rows).count(), 1);
    }

    pub(crate) fn engine() -> SharedEngine {
        Rc::new(RefCell::new(Engine::default()))
    }

    pub(crate) fn glue(engine: &SharedEngine) -> Glue<Session> {
        Glue::new(Session::new(Rc::clone(engine), ReadMode::LatestCommitted))
    }

    pub(crate) fn run(glue: &mut Glue<Session>, sql: &str) {
        glue.storage.start_statement(sql);
        let result = glue.execute(sql);
        glue.storage.end_statement();
        if let Err(error) = result {
            panic!("{sql}: {error}");
        }
    }

    #[test]
    fn deleting_nothing_leaves_no_trace() {
        let engine = engine();
        let mut a = glue(&engine);
        run(&mut a, "CREATE TABLE t (id INTEGER PRIMARY KEY)");
        a.storage
            .delete_data("t", vec![Key::I64(9)])
            .expect("delete");
        run(&mut a, "COMMIT");
        let stats = engine.borrow().stats();
        assert_eq!((stats.rows, stats.versions), (0, 0));
    }

    #[test]
    fn schema_changes_are_logged_with_their_sql_and_the_old_table_name() {
        let engine = engine();
        let mut a = glue(&engine);
        run(&mut a, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
        run(&mut a, "ALTER TABLE t RENAME TO u");
        run(&mut a, "ALTER TABLE u DROP COLUMN v");
        let engine = engine.borrow();
        let records: Vec<(&str, &SchemaChange)> = engine
            .log()
            .iter()
            .filter_map(|c| match &c.kind {
                ChangeKind::Schema(change) => Some((c.table.as_str(), change)),
                ChangeKind::Row { .. } => None,
            })
            .collect();
        assert_eq!(records.len(), 3);
        assert!(
            matches!(records[0], ("t", SchemaChange::CreateTable { columns }) if columns.len() == 2)
        );
        assert!(matches!(records[1], ("t", SchemaChange::RenameTable { to }) if to == "u"));
        assert!(matches!(records[2], ("u", SchemaChange::DropColumn { column }) if column == "v"));
        let sql = engine.log().iter().nth(1).and_then(|c| c.sql.clone());
        assert_eq!(sql.as_deref(), Some("ALTER TABLE t RENAME TO u"));
        assert_eq!(
            engine.commit_seq(),
            3,
            "each DDL statement commits on its own"
        );
    }
}
