//! A connection's transactions: `BEGIN`/`COMMIT`/`ROLLBACK`, the snapshot each statement or
//! transaction reads, serializable transactions' SIREAD reads, and the commit that turns a
//! transaction's pending changes into one change-log record.
//!
//! A [`Session`] is one connection to an [`Engine`](crate::sim::storage::Engine) (see [`crate::sim::storage`] for the tables
//! and GlueSQL's storage traits over them). Here is what it knows of its own transaction, as a
//! PostgreSQL backend does: its id, whether `BEGIN` started it or a single statement did, the rows
//! it wrote (to commit or undo them), its changes in order (for the log, and for an outbox writer
//! before the commit), which snapshot it reads ([`ReadMode`]) and, when it is serializable, its
//! registration with SSI. The statement bookkeeping (its SQL text, row counters, a key hint) is
//! here too, since a statement at REPEATABLE READ outside `BEGIN` is a transaction of its own.
//!
//! Simplifications are those of the storage: DDL is not undone by `ROLLBACK`, and a write that
//! meets another open transaction's row fails instead of waiting (the lock manager above makes
//! writers wait).

use crate::sim::change_log::{CommitSeq, PendingChange, TxnId};
use crate::sim::isolation::planted::{self, Fault};
use crate::sim::sqlstate::SqlState;
use crate::sim::storage::{ssi_message, KeyHint, KeyRange, ReadMode, RowCounters, SharedEngine};
use crate::sim::versions::{ReadView, RowVersions};
use gluesql::core::data::{CustomFunction as StructCustomFunction, Key, Value};
use gluesql::core::error::{Error, Result};
use gluesql::core::store::Transaction;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// A connection's open transaction.
#[derive(Debug, Clone)]
pub(super) struct Txn {
    pub(super) id: TxnId,
    /// Started by `BEGIN` (true) or implicitly for one statement (false).
    pub(super) explicit: bool,
    /// The rows this transaction wrote, each once.
    pub(super) written: BTreeSet<(String, Key)>,
    /// Its changes, in the order it made them, for the log.
    pub(super) changes: Vec<PendingChange>,
}

/// One connection to an [`Engine`]: what GlueSQL runs over.
#[derive(Debug)]
pub struct Session {
    pub(super) engine: SharedEngine,
    pub(super) txn: Option<Txn>,
    pub(super) mode: ReadMode,
    /// The snapshot this session reads now, registered in the engine.
    pub(super) snapshot: Option<CommitSeq>,
    pub(super) counters: Cell<RowCounters>,
    pub(super) key_hint: RefCell<Option<KeyHint>>,
    /// The key range the statement's first scan of a table keeps to (a `SELECT`'s bounds).
    pub(super) key_range: RefCell<Option<KeyRange>>,
    /// Reads see the newest committed versions whatever the snapshot (a READ COMMITTED
    /// re-check, PostgreSQL's EvalPlanQual).
    pub(super) read_latest: Cell<bool>,
    /// Whether its transactions are serializable (SSI tracks them).
    pub(super) serializable: bool,
    /// The open transaction is a statement's own, started when the statement started (outside
    /// `BEGIN`, at REPEATABLE READ and SERIALIZABLE): the connection commits it when the
    /// statement ends.
    pub(super) statement_txn: bool,
    /// The statement running now (reused buffer), and its shared copy once a change needs it.
    pub(super) sql: String,
    pub(super) sql_shared: Option<Rc<str>>,
    pub(super) functions: BTreeMap<String, StructCustomFunction>,
}

impl Clone for Session {
    /// The same session, its open transaction and snapshot included, on the copy of its engine
    /// in the fork under way ([`crate::sim::fork`]): the copy's engine holds its snapshot and
    /// row versions as the original's does.
    fn clone(&self) -> Self {
        Self {
            engine: crate::sim::fork::engine(&self.engine),
            txn: self.txn.clone(),
            mode: self.mode,
            snapshot: self.snapshot,
            counters: self.counters.clone(),
            key_hint: self.key_hint.clone(),
            key_range: self.key_range.clone(),
            read_latest: self.read_latest.clone(),
            serializable: self.serializable,
            statement_txn: self.statement_txn,
            sql: self.sql.clone(),
            sql_shared: self.sql_shared.clone(),
            functions: self.functions.clone(),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.engine.borrow().discarded {
            return;
        }
        // A connection that goes away rolls back what it left open, as a server does.
        if self.txn.is_some() {
            let _ = self.finish(false);
        }
        self.release_snapshot();
    }
}

impl Session {
    /// A new session on `engine`, reading with `mode`.
    pub fn new(engine: SharedEngine, mode: ReadMode) -> Self {
        Self {
            engine,
            txn: None,
            mode,
            snapshot: None,
            counters: Cell::default(),
            key_hint: RefCell::new(None),
            key_range: RefCell::new(None),
            read_latest: Cell::new(false),
            serializable: false,
            statement_txn: false,
            sql: String::new(),
            sql_shared: None,
            functions: BTreeMap::new(),
        }
    }

    /// The engine this session is connected to.
    pub fn engine(&self) -> &SharedEngine {
        &self.engine
    }

    /// Changes how the following transactions read.
    pub fn set_read_mode(&mut self, mode: ReadMode) {
        self.mode = mode;
    }

    /// How this session reads.
    pub fn read_mode(&self) -> ReadMode {
        self.mode
    }

    /// The open transaction's id, if any.
    pub fn txn_id(&self) -> Option<TxnId> {
        self.txn.as_ref().map(|t| t.id)
    }

    /// The changes of the open transaction so far, in the order it made them (none outside a
    /// transaction): what an outbox writer turns into events before the commit.
    pub fn pending_changes(&self) -> &[PendingChange] {
        self.txn.as_ref().map_or(&[], |t| t.changes.as_slice())
    }

    /// Whether a transaction started with `BEGIN` is open.
    pub fn in_explicit_transaction(&self) -> bool {
        self.txn.as_ref().is_some_and(|t| t.explicit)
    }

    /// Whether a transaction that reads one snapshot would see a newer committed version of
    /// this row than its snapshot holds (locking it must then fail, as in PostgreSQL's
    /// REPEATABLE READ).
    pub fn row_changed_since_snapshot(&self, table: &str, key: &Key) -> bool {
        let Some(seq) = self
            .snapshot
            .filter(|_| self.mode == ReadMode::TransactionSnapshot)
        else {
            return false;
        };
        self.engine.borrow().changed_since(table, key, seq)
    }

    /// Whether a newer committed version of this row exists than the snapshot this session reads
    /// now holds (whatever its read mode).
    pub fn row_changed_since_current_snapshot(&self, table: &str, key: &Key) -> bool {
        self.snapshot
            .is_some_and(|seq| self.engine.borrow().changed_since(table, key, seq))
    }

    /// Whether the running statement sees row `key` of `table` (its snapshot, or its own write).
    pub fn row_visible(&self, table: &str, key: &Key) -> bool {
        let engine = self.engine.borrow();
        engine
            .tables
            .get(table)
            .and_then(|t| t.rows.get(key))
            .is_some_and(|row| row.visible(self.txn_id(), self.view()).is_some())
    }

    /// Whether row `key` of `table` still exists, as last committed or as this session wrote it.
    pub fn row_exists_now(&self, table: &str, key: &Key) -> bool {
        let engine = self.engine.borrow();
        engine
            .tables
            .get(table)
            .and_then(|t| t.rows.get(key))
            .is_some_and(|row| {
                row.visible(self.txn_id(), ReadView::LatestCommitted)
                    .is_some()
            })
    }

    /// Whether `key` of `table` is committed and nobody else is writing it: an insert of it
    /// fails at once, without waiting.
    pub fn key_settled(&self, table: &str, key: &Key) -> bool {
        let engine = self.engine.borrow();
        engine
            .tables
            .get(table)
            .and_then(|t| t.rows.get(key))
            .is_some_and(|row| {
                row.committed_as_of(ReadView::LatestCommitted).is_some()
                    && row.writer().is_none_or(|w| Some(w) == self.txn_id())
            })
    }

    /// Makes the following transactions serializable (tracked by SSI) or not.
    pub fn set_serializable(&mut self, serializable: bool) {
        self.serializable = serializable;
    }

    /// Whether the open transaction is tracked by SSI (a serializable one that took its
    /// snapshot).
    pub fn is_serializable(&self) -> bool {
        self.serializable
    }

    /// Whether SSI has doomed the open transaction (it fails at its next read, write or commit).
    pub fn is_doomed(&self) -> bool {
        self.txn
            .as_ref()
            .is_some_and(|t| self.engine.borrow().ssi.is_doomed(t.id))
    }

    /// The code of the refusal this session just got from the storage, if any.
    pub fn take_error_state(&self) -> Option<SqlState> {
        self.engine.borrow_mut().error_state.take()
    }

    /// Gives the open transaction a PostgreSQL transaction id, as a row lock does.
    pub fn assign_xid(&self) {
        if let Some(txn) = &self.txn {
            self.engine.borrow_mut().ssi.assign_xid(txn.id);
        }
    }

    /// Makes reads see the newest committed versions (`true`) or the snapshot again (`false`).
    pub fn set_read_latest(&self, latest: bool) {
        self.read_latest.set(latest);
    }

    /// Takes a new snapshot for the statement about to start if this session reads one per
    /// statement (READ COMMITTED), or if the statement is a transaction of its own at REPEATABLE
    /// READ or SERIALIZABLE: the rows it will lock are found in it, and (as in PostgreSQL) a row
    /// that changes while the statement waits for it is a serialization failure.
    pub fn start_statement_snapshot(&mut self) {
        // A statement transaction left by a statement that never ran (it failed taking its
        // locks) goes first.
        let _ = self.end_statement_transaction(false);
        match self.mode {
            ReadMode::StatementSnapshot => self.take_snapshot(),
            ReadMode::TransactionSnapshot if self.txn.is_none() => {
                self.start_txn(false);
                self.statement_txn = true;
            }
            _ => {}
        }
    }

    /// Ends the statement's own transaction, if one is open: commits it (`ok`) or rolls it back.
    ///
    /// # Errors
    ///
    /// A serialization failure when SSI refuses the commit (it is rolled back then).
    pub fn end_statement_transaction(&mut self, ok: bool) -> Result<()> {
        if !std::mem::take(&mut self.statement_txn) {
            return Ok(());
        }
        self.finish(ok)
    }

    /// Whether the open transaction is a statement's own ([`Self::start_statement_snapshot`]).
    pub fn in_statement_transaction(&self) -> bool {
        self.statement_txn
    }

    /// Takes the SIREAD locks of a statement starting now on `tables` (a serializable
    /// transaction's sequential scans), meeting the concurrent writers whose tuples they find.
    ///
    /// # Errors
    ///
    /// A serialization failure when SSI aborts the transaction now.
    pub fn ssi_read(&mut self, tables: &[String]) -> Result<()> {
        let Some(txn) = self.txn.as_ref().map(|t| t.id) else {
            return Ok(());
        };
        let mut engine = self.engine.borrow_mut();
        for table in tables {
            let has_tuples = engine.tables.get(table).is_some_and(|t| !t.rows.is_empty());
            if let Err(error) = engine.ssi.read(txn, table, has_tuples) {
                return Err(engine.refuse(SqlState::SerializationFailure, ssi_message(error)));
            }
        }
        Ok(())
    }

    /// The snapshot (commit sequence number) this session reads now, if it reads one.
    pub fn snapshot(&self) -> Option<CommitSeq> {
        self.snapshot
    }

    /// Resets the row counters and records the SQL text of the statement about to run.
    pub fn start_statement(&mut self, sql: &str) {
        self.counters.set(RowCounters::default());
        self.sql.clear();
        self.sql.push_str(sql);
        self.sql_shared = None;
    }

    /// The rows read and written since [`Self::start_statement`].
    pub fn counters(&self) -> RowCounters {
        self.counters.get()
    }

    /// Narrows the next scan of `hint.table` to the rows with `hint.keys`. GlueSQL scans the
    /// whole table for `UPDATE`/`DELETE … WHERE pk = …`; with the hint that scan costs one row.
    /// The hint is used once (later scans, such as a uniqueness check, see every row) and
    /// cleared at the end of the statement; GlueSQL still applies the full `WHERE`.
    pub fn set_key_hint(&self, hint: Option<KeyHint>) {
        *self.key_hint.borrow_mut() = hint;
    }

    /// Takes the key hint if it is for `table` (a hint is used once).
    pub(super) fn take_key_hint(&self, table: &str) -> Option<KeyHint> {
        let mut hint = self.key_hint.borrow_mut();
        match hint.as_ref() {
            Some(h) if h.table == table => hint.take(),
            _ => None,
        }
    }

    /// Narrows the next scan of a table to a range of keys (`None` clears it).
    pub fn set_key_range(&self, range: Option<KeyRange>) {
        *self.key_range.borrow_mut() = range;
    }

    /// Takes the key range if it is for `table` (a range is used once).
    pub(super) fn take_key_range(&self, table: &str) -> Option<KeyRange> {
        let mut range = self.key_range.borrow_mut();
        match range.as_ref() {
            Some(r) if r.table == table => range.take(),
            _ => None,
        }
    }

    /// Ends the statement: clears the key hint and range and the SQL text, and lets a snapshot
    /// pinned for it go.
    pub fn end_statement(&mut self) {
        self.key_hint.borrow_mut().take();
        self.key_range.borrow_mut().take();
        self.sql.clear();
        self.sql_shared = None;
    }

    /// The running statement's SQL, shared by the changes it makes (`None` outside a statement).
    pub(super) fn statement_sql(&mut self) -> Option<Rc<str>> {
        if self.sql.is_empty() {
            return None;
        }
        Some(Rc::clone(
            self.sql_shared
                .get_or_insert_with(|| Rc::from(self.sql.as_str())),
        ))
    }

    pub(super) fn view(&self) -> ReadView {
        if self.read_latest.get() {
            return ReadView::LatestCommitted;
        }
        self.snapshot
            .map_or(ReadView::LatestCommitted, ReadView::Snapshot)
    }

    fn release_snapshot(&mut self) {
        if let Some(seq) = self.snapshot.take() {
            self.engine.borrow_mut().close_snapshot(seq);
        }
    }

    fn take_snapshot(&mut self) {
        self.release_snapshot();
        let seq = self.engine.borrow_mut().open_snapshot();
        self.snapshot = Some(seq);
        self.register_serializable(seq);
    }

    /// Registers the open transaction with SSI, reading snapshot `seq`, if it is serializable.
    fn register_serializable(&mut self, seq: CommitSeq) {
        if let Some(txn) = self
            .txn
            .as_ref()
            .filter(|_| self.serializable && self.mode == ReadMode::TransactionSnapshot)
        {
            self.engine.borrow_mut().ssi.begin(txn.id, seq);
        }
    }

    pub(super) fn count(&self, read: u64, written: u64) {
        let mut c = self.counters.get();
        c.rows_read += read;
        c.rows_written += written;
        self.counters.set(c);
    }

    /// Counts index entries added by the statement (the cost model charges each).
    pub(super) fn count_index_entries(&self, entries: u64) {
        let mut c = self.counters.get();
        c.index_entries += entries;
        self.counters.set(c);
    }

    fn start_txn(&mut self, explicit: bool) {
        let id = self.engine.borrow_mut().begin_txn();
        self.txn = Some(Txn {
            id,
            explicit,
            written: BTreeSet::new(),
            changes: Vec::new(),
        });
        // An explicit transaction takes its snapshot at its first statement, not at BEGIN; a
        // statement's own transaction uses the snapshot taken when the statement started.
        if self.mode == ReadMode::TransactionSnapshot && !explicit {
            self.take_snapshot();
        }
    }

    /// Takes the open transaction's snapshot if it reads one and has not taken it yet (at its
    /// first statement, as PostgreSQL does).
    pub fn pin_snapshot(&mut self) {
        let explicit = self.in_explicit_transaction();
        if explicit && self.mode == ReadMode::TransactionSnapshot && self.snapshot.is_none() {
            self.take_snapshot();
        }
    }

    /// Writes `rows` (each with its key) into `table` as one committed transaction, without
    /// GlueSQL's parsing and checks and without change-log entries (the data a database starts
    /// with; CDC takes it as a snapshot, as Debezium does): the fast way to load data our own
    /// code generated (the shop's thousands of rows), which a test proves equal to loading it
    /// with `INSERT`.
    ///
    /// # Errors
    ///
    /// A storage error if the table does not exist or a row is being written by another
    /// transaction; nothing is written then.
    pub fn load_rows(&mut self, table: &str, rows: Vec<(Key, Vec<Value>)>) -> Result<()> {
        if self.txn.is_some() {
            return Err(Error::StorageMsg(
                "a bulk load needs a connection outside any transaction".to_owned(),
            ));
        }
        let mut engine = self.engine.borrow_mut();
        let txn = engine.begin_txn();
        let seq = engine.commit_seq + 1;
        let target = engine
            .tables
            .get_mut(table)
            .ok_or_else(|| Error::StorageMsg(format!("table not found: {table}")))?;
        if let Some((key, _)) = rows.iter().find(|(key, _)| target.rows.contains_key(key)) {
            return Err(Error::StorageMsg(format!(
                "a bulk load into {table} found the key {key:?} already there"
            )));
        }
        for (key, values) in rows {
            let mut row = RowVersions::default();
            row.write(txn, Some(values));
            row.commit(txn, seq);
            target.rows.insert(key.clone(), Rc::new(row));
            // A loaded row is in the table's indexes too.
            target.reindex_row(&key);
        }
        engine.commit_seq = seq;
        Ok(())
    }

    /// Commits (`true`) or rolls back (`false`) the open transaction.
    ///
    /// # Errors
    ///
    /// A serialization failure when SSI refuses the commit: the transaction is rolled back.
    pub(super) fn finish(&mut self, commit: bool) -> Result<()> {
        let Some(txn) = self.txn.take() else {
            return Ok(());
        };
        // Close our own snapshot first, so our commit can prune what only we kept.
        self.statement_txn = false;
        self.release_snapshot();
        let mut engine = self.engine.borrow_mut();
        let refused = if commit {
            engine.ssi.pre_commit(txn.id).err()
        } else {
            None
        };
        let commit = commit && refused.is_none();
        let mut committed_as = None;
        if commit && !txn.changes.is_empty() {
            engine.commit_seq += 1;
            let seq = engine.commit_seq;
            let oldest = engine.oldest_snapshot();
            for (table_name, key) in &txn.written {
                let committed = engine
                    .tables
                    .get_mut(table_name)
                    .and_then(|t| t.rows.get_mut(key))
                    .is_some_and(|row| Rc::make_mut(row).commit(txn.id, seq));
                if committed {
                    engine.prune_row(table_name, key, oldest);
                }
            }
            let changes = txn
                .changes
                .into_iter()
                .filter(|c| engine.tables.contains_key(&c.table));
            let changes: Vec<PendingChange> = changes.collect();
            let time = engine.time;
            engine.log.append(txn.id, seq, time, changes);
            committed_as = Some(seq);
        } else if !commit {
            for (table_name, key) in &txn.written {
                if let Some(table) = engine.tables.get_mut(table_name) {
                    if let Some(row) = table.rows.get_mut(key) {
                        let row = Rc::make_mut(row);
                        row.roll_back(txn.id);
                        if row.version_count() == 0 {
                            table.rows.remove(key);
                        }
                        table.reindex_row(key);
                    }
                }
            }
        }
        if commit {
            engine.ssi.commit(txn.id, committed_as);
        } else {
            engine.ssi.abort(txn.id);
        }
        match refused {
            Some(error) => Err(engine.refuse(SqlState::SerializationFailure, ssi_message(error))),
            None => Ok(()),
        }
    }

    /// The open transaction, started implicitly if there is none (GlueSQL always begins one,
    /// so this is a safety net).
    pub(super) fn txn_mut(&mut self) -> &mut Txn {
        if self.txn.is_none() {
            self.start_txn(false);
        }
        self.txn
            .as_mut()
            .unwrap_or_else(|| unreachable!("a transaction was just started"))
    }

    pub(super) fn txn_or_new_id(&mut self) -> TxnId {
        self.txn_mut().id
    }
}

impl Transaction for Session {
    fn begin(&mut self, autocommit: bool) -> Result<bool> {
        if autocommit {
            // Called before every statement but BEGIN/COMMIT/ROLLBACK (and for a READ
            // COMMITTED re-check, which must not move the statement's snapshot).
            if self.mode == ReadMode::StatementSnapshot
                && !self.read_latest.get()
                && !planted::is(Fault::NoRecheck)
            {
                self.take_snapshot();
            }
            self.pin_snapshot();
            if self.txn.is_some() {
                return Ok(false);
            }
            self.start_txn(false);
            return Ok(true);
        }
        // `BEGIN` inside a transaction is a no-op, as in PostgreSQL (which only warns).
        if !self.in_explicit_transaction() {
            self.start_txn(true);
        }
        Ok(false)
    }

    fn rollback(&mut self) -> Result<()> {
        let _ = self.finish(false);
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        self.finish(true)
    }
}

#[cfg(test)]
mod tests {
    use super::Session;
    use crate::sim::storage::tests::{engine, glue, run};
    use crate::sim::storage::ReadMode;
    use gluesql::prelude::Glue;
    use std::rc::Rc;

    #[test]
    fn a_dropped_connection_rolls_back_what_it_left_open() {
        let engine = engine();
        let mut a = glue(&engine);
        run(&mut a, "CREATE TABLE t (id INTEGER PRIMARY KEY)");
        run(&mut a, "BEGIN");
        run(&mut a, "INSERT INTO t VALUES (1)");
        assert_eq!(engine.borrow().stats().versions, 1);
        drop(a);
        assert_eq!(engine.borrow().stats().versions, 0);
        assert_eq!(engine.borrow().stats().rows, 0);
    }

    #[test]
    fn a_statement_snapshot_moves_forward_between_statements() {
        let engine = engine();
        let mut writer = glue(&engine);
        let mut reader = Glue::new(Session::new(
            Rc::clone(&engine),
            ReadMode::StatementSnapshot,
        ));
        run(&mut writer, "CREATE TABLE t (id INTEGER PRIMARY KEY)");
        run(&mut reader, "BEGIN");
        run(&mut reader, "SELECT * FROM t");
        let first = reader.storage.snapshot();
        run(&mut writer, "INSERT INTO t VALUES (1)");
        run(&mut reader, "SELECT * FROM t");
        assert!(reader.storage.snapshot() > first);
        run(&mut reader, "COMMIT");
        assert_eq!(reader.storage.snapshot(), None);
        assert_eq!(engine.borrow().stats().open_snapshots, 0);
    }
}
