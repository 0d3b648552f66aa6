//! A connection to a [`Database`]: one session of its own over the database's shared engine —
//! its transaction, its read mode, and PostgreSQL's per-session settings (isolation level,
//! `lock_timeout`, `statement_timeout`). Statements go in as text (or prepared) and come back
//! as a [`StatementResult`] or a [`DbError`], with the rows the storage read and wrote.
//!
//! [`Database`]: crate::sim::database::Database

use crate::sim::clock::Micros;
use crate::sim::database::{ColumnInfo, DbError, ScriptResult, TableInfo};
use crate::sim::key_access::key_hint;
use crate::sim::key_range::{drop_where, range_hint};
use crate::sim::lock_plan::Isolation;
use crate::sim::results::{StatementKind, StatementResult};
use crate::sim::sql_script::split_statements;
use crate::sim::sqlstate::SqlState;
use crate::sim::statement::{prepare_command, Command, PrepareError, Setting};
use crate::sim::storage::{KeyHint, ReadMode, RowCounters, SharedEngine};
use crate::sim::transaction::Session;
use crate::sim::views::ViewError;
use gluesql::core::ast::Statement;
use gluesql::core::data::{Key, Value};
use gluesql::core::error::Error as GlueError;
use gluesql::core::executor::{execute, Payload};
use gluesql::core::plan::StatementPlan;
use gluesql::core::store::{Planner, Store, Transaction};
use gluesql::prelude::Glue;
use serde::{Deserialize, Serialize};
use std::fmt;

thread_local! {
    static IN_FLIGHT: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// The tables a statement scans, each taking a SIREAD lock in a serializable transaction: those
/// it reads, and the table an `UPDATE` or `DELETE` scans for its rows (an `INSERT … VALUES` reads
/// nothing).
fn siread_tables(statement: &Statement) -> Vec<String> {
    let (mut reads, writes) = crate::sim::lock_plan::tables_of(statement);
    if matches!(
        statement,
        Statement::Update { .. } | Statement::Delete { .. }
    ) {
        for table in writes {
            if !reads.contains(&table) {
                reads.push(table);
            }
        }
    }
    reads
}

/// Marks a statement as executing for as long as it lives (see [`statement_in_flight`]).
struct InFlight;

impl InFlight {
    fn start(sql: &str) -> Self {
        IN_FLIGHT.with(|cell| {
            if let Ok(mut slot) = cell.try_borrow_mut() {
                *slot = Some(sql.to_owned());
            }
        });
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.with(|cell| {
            if let Ok(mut slot) = cell.try_borrow_mut() {
                *slot = None;
            }
        });
    }
}

/// The statement GlueSQL is executing right now on this thread, if any. GlueSQL can panic on
/// some input; a panic hook asks this to say which statement stopped the engine (in the page,
/// where a panic cannot be caught, the statement is still marked when the hook runs).
pub fn statement_in_flight() -> Option<String> {
    IN_FLIGHT.with(|cell| cell.try_borrow().ok().and_then(|slot| slot.clone()))
}

/// Where a connection stands with respect to transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransactionState {
    /// No `BEGIN` is open: each statement commits on its own.
    Idle,
    /// A transaction started with `BEGIN` is open.
    Open,
    /// The open transaction failed; only `ROLLBACK` (or `COMMIT`) is accepted.
    Aborted,
}

/// A connection to a [`Database`](crate::sim::database::Database): its own session, so its own
/// transaction and read mode.
///
/// Outside `BEGIN … COMMIT` every statement commits on its own. A statement that fails inside a
/// transaction aborts it, as in PostgreSQL: every later statement fails with
/// [`DbError::TransactionAborted`] until `ROLLBACK` (or `COMMIT`, which then rolls back).
///
/// A connection also carries PostgreSQL's per-session settings: the isolation level of its
/// transactions (the database's unless `BEGIN ISOLATION LEVEL …` or `SET TRANSACTION …` chose
/// one), `lock_timeout` and `statement_timeout` (kept here, enforced by whoever waits: the
/// simulation's clock, not the database, knows how long a wait lasted).
pub struct Connection {
    glue: Glue<Session>,
    aborted: bool,
    last_counters: RowCounters,
    /// Rows read to find the rows to lock, counted with the statement that follows.
    carried: RowCounters,
    /// The level of transactions that do not choose one.
    isolation: Isolation,
    /// The open transaction's own level, if it chose one.
    txn_isolation: Option<Isolation>,
    /// Statements run in the open transaction (`SET TRANSACTION` must come before any).
    txn_statements: u32,
    lock_timeout: Option<Micros>,
    statement_timeout: Option<Micros>,
}

impl Clone for Connection {
    /// The same session on the copy of its engine in the fork under way ([`crate::sim::fork`]).
    fn clone(&self) -> Self {
        Self {
            glue: Glue::new(self.glue.storage.clone()),
            aborted: self.aborted,
            last_counters: self.last_counters,
            carried: self.carried,
            isolation: self.isolation,
            txn_isolation: self.txn_isolation,
            txn_statements: self.txn_statements,
            lock_timeout: self.lock_timeout,
            statement_timeout: self.statement_timeout,
        }
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("txn", &self.glue.storage.txn_id())
            .field("aborted", &self.aborted)
            .finish()
    }
}

impl Connection {
    /// A new connection to `engine` that reads with `mode` (its isolation level is
    /// `repeatable_read` for [`ReadMode::TransactionSnapshot`], `read_committed` for
    /// [`ReadMode::StatementSnapshot`], `locking_read_committed` for the latest committed).
    pub fn new(engine: SharedEngine, mode: ReadMode) -> Self {
        let isolation = match mode {
            ReadMode::TransactionSnapshot => Isolation::RepeatableRead,
            ReadMode::StatementSnapshot => Isolation::ReadCommitted,
            ReadMode::LatestCommitted => Isolation::LockingReadCommitted,
        };
        Self {
            glue: Glue::new(Session::new(engine, mode)),
            aborted: false,
            last_counters: RowCounters::default(),
            carried: RowCounters::default(),
            isolation,
            txn_isolation: None,
            txn_statements: 0,
            lock_timeout: None,
            statement_timeout: None,
        }
    }

    /// Sets the isolation level of the transactions that do not choose their own.
    pub fn set_isolation(&mut self, isolation: Isolation) {
        self.isolation = isolation;
        if self.txn_isolation.is_none() {
            self.apply_level(isolation);
        }
    }

    /// Makes the storage read (and SSI track) as `isolation` asks.
    fn apply_level(&mut self, isolation: Isolation) {
        let storage = &mut self.glue.storage;
        storage.set_read_mode(isolation.read_mode());
        storage.set_serializable(isolation == Isolation::Serializable);
    }

    /// The isolation level in force: the open transaction's, or the connection's.
    pub fn isolation(&self) -> Isolation {
        self.txn_isolation.unwrap_or(self.isolation)
    }

    /// `lock_timeout`: how long a lock request may wait (`None`: without limit).
    pub fn lock_timeout(&self) -> Option<Micros> {
        self.lock_timeout
    }

    /// Sets `lock_timeout` (a service's configured value; SQL's `SET` changes it too).
    pub fn set_lock_timeout(&mut self, timeout: Option<Micros>) {
        self.lock_timeout = timeout;
    }

    /// `statement_timeout`: how long a statement may take, lock waits included.
    pub fn statement_timeout(&self) -> Option<Micros> {
        self.statement_timeout
    }

    /// Sets `statement_timeout`.
    pub fn set_statement_timeout(&mut self, timeout: Option<Micros>) {
        self.statement_timeout = timeout;
    }

    /// Parses one statement for [`Self::execute_prepared`] (and for planning its locks).
    ///
    /// # Errors
    ///
    /// GlueSQL's parse or translate error, or [`DbError::Refused`] for a statement known to
    /// crash GlueSQL (`sql_guard`).
    pub fn prepare(sql: &str) -> Result<Command, DbError> {
        crate::sim::sql_guard::check(sql)?;
        prepare_command(sql).map_err(|error| match error {
            PrepareError::Glue(error) => DbError::Sql(error),
            PrepareError::Statement(error) => DbError::Statement(error),
        })
    }

    /// Marks the start of a statement inside a transaction: a `snapshot` transaction takes its
    /// snapshot now, at its first statement (as PostgreSQL does), even if the statement then
    /// waits for locks before it runs.
    ///
    /// A serializable transaction's scans start here too: it takes its SIREAD locks and meets
    /// the concurrent writers of what it reads (PostgreSQL examines a small table's tuples when
    /// its scan starts, before any row lock is waited for).
    ///
    /// # Errors
    ///
    /// A serialization failure (40001) when SSI aborts the transaction now: the statement fails
    /// without taking its locks.
    pub fn start_statement(&mut self, command: &Command) -> Result<(), DbError> {
        let Command::Sql { statement, .. } = command else {
            return Ok(());
        };
        if self.aborted {
            return Ok(());
        }
        let storage = &mut self.glue.storage;
        storage.start_statement_snapshot();
        storage.pin_snapshot();
        if storage.is_serializable() {
            if let Err(error) = storage.ssi_read(&siread_tables(statement)) {
                return Err(self.storage_error(DbError::Sql(error)));
            }
        }
        Ok(())
    }

    /// Ends a statement that will not run (it failed taking its locks): its own transaction, if
    /// it had one, is rolled back.
    pub fn abandon_statement(&mut self) {
        let _ = self.glue.storage.end_statement_transaction(false);
    }

    /// Our storage's refusals travel through GlueSQL as text; their code waits in the storage.
    fn storage_error(&self, error: DbError) -> DbError {
        match error {
            DbError::Sql(GlueError::StorageMsg(message)) => {
                match self.glue.storage.take_error_state() {
                    Some(state) => DbError::Storage { state, message },
                    None => DbError::Sql(GlueError::StorageMsg(message)),
                }
            }
            other => other,
        }
    }

    /// PostgreSQL's EvalPlanQual re-check under READ COMMITTED: whether the newest committed
    /// version of row `key` of `table` still matches `query` (a [`crate::sim::lock_plan::RowSet`]'s
    /// candidates), if it changed since the statement's snapshot. The rows read count towards
    /// the statement that follows.
    ///
    /// # Errors
    ///
    /// GlueSQL's error if the query fails.
    pub fn still_matches(
        &mut self,
        query: &Statement,
        table: &str,
        key: &Key,
    ) -> Result<bool, DbError> {
        if !self
            .glue
            .storage
            .row_changed_since_current_snapshot(table, key)
        {
            return Ok(true);
        }
        let storage = &mut self.glue.storage;
        storage.set_read_latest(true);
        storage.set_key_hint(Some(KeyHint {
            table: table.to_owned(),
            keys: vec![key.clone()],
        }));
        let keys = self.candidate_keys(query.clone());
        let storage = &mut self.glue.storage;
        storage.set_read_latest(false);
        storage.set_key_hint(None);
        Ok(keys?.contains(key))
    }

    /// The primary keys of the rows `query` returns, in its order: the rows a locking
    /// statement must lock. The rows it reads count towards the statement that follows.
    ///
    /// # Errors
    ///
    /// GlueSQL's error if the query fails.
    pub fn candidate_keys(&mut self, query: Statement) -> Result<Vec<Key>, DbError> {
        let storage = &mut self.glue.storage;
        storage.pin_snapshot();
        let before = storage.counters();
        let plan = storage.plan(StatementPlan::from(query))?;
        let payload = execute(&mut *storage, &plan);
        let after = storage.counters();
        self.carried.rows_read += after.rows_read - before.rows_read;
        let Payload::Select { rows, .. } = payload? else {
            return Ok(Vec::new());
        };
        Ok(rows
            .iter()
            .filter_map(|row| row.first())
            .filter_map(|value| Key::try_from(value).ok())
            .collect())
    }

    /// Runs exactly one SQL statement.
    ///
    /// # Errors
    ///
    /// [`DbError::Sql`] with GlueSQL's message when the statement is invalid or fails,
    /// [`DbError::Empty`] for text without a statement, [`DbError::SeveralStatements`] for more
    /// than one, [`DbError::TransactionAborted`] after a failure inside a transaction.
    pub fn execute(&mut self, sql: &str) -> Result<StatementResult, DbError> {
        let statements = split_statements(sql);
        match statements.len() {
            0 => Err(DbError::Empty),
            1 => self.execute_statement(&statements[0].sql),
            n => Err(DbError::SeveralStatements(n)),
        }
    }

    /// Runs every statement of a script in order, each on its own: a failing statement is
    /// reported and the next one still runs (as `psql` does by default).
    ///
    /// `now_ms` is the caller's clock (the browser's `performance.now()`, a test's counter); the
    /// database itself never reads a clock.
    pub fn run_script(
        &mut self,
        script: &str,
        mut now_ms: impl FnMut() -> f64,
    ) -> Vec<ScriptResult> {
        split_statements(script)
            .into_iter()
            .map(|statement| {
                let started = now_ms();
                let result = self.execute_statement(&statement.sql);
                let elapsed_ms = (now_ms() - started).max(0.0);
                ScriptResult {
                    kind: StatementKind::of(&statement.sql),
                    statement,
                    result,
                    elapsed_ms,
                }
            })
            .collect()
    }

    fn execute_statement(&mut self, sql: &str) -> Result<StatementResult, DbError> {
        let command = Self::prepare(sql);
        self.execute_prepared(sql, command, None)
    }

    /// Runs a statement parsed by [`Self::prepare`] (`sql` is its text, for the change log and
    /// the result's kind). `only_rows` narrows the scan of one table to the rows a locking
    /// `SELECT` locked.
    ///
    /// # Errors
    ///
    /// As [`Self::execute`], plus the parse error `command` carries.
    pub fn execute_prepared(
        &mut self,
        sql: &str,
        command: Result<Command, DbError>,
        only_rows: Option<KeyHint>,
    ) -> Result<StatementResult, DbError> {
        let _in_flight = InFlight::start(sql);
        self.run_prepared(sql, command, only_rows)
    }

    fn run_prepared(
        &mut self,
        sql: &str,
        command: Result<Command, DbError>,
        only_rows: Option<KeyHint>,
    ) -> Result<StatementResult, DbError> {
        let kind = StatementKind::of(sql);
        if self.aborted {
            match kind {
                StatementKind::Rollback => {}
                StatementKind::Commit => {
                    // PostgreSQL answers COMMIT of a failed transaction with ROLLBACK.
                    self.glue.storage.rollback()?;
                    self.aborted = false;
                    self.end_of_transaction();
                    return Ok(StatementResult::done(StatementKind::Rollback));
                }
                _ => return Err(DbError::TransactionAborted),
            }
        }
        self.glue.storage.start_statement(sql);
        let mut payload = command.and_then(|command| self.run(command, only_rows));
        // A statement's own transaction commits (or rolls back) with it.
        if self.glue.storage.in_statement_transaction() {
            let ended = self.glue.storage.end_statement_transaction(payload.is_ok());
            if let (Ok(_), Err(error)) = (&payload, ended) {
                payload = Err(DbError::Sql(error));
            }
        }
        let payload = payload.map_err(|error| self.storage_error(error));
        let mut counters = self.glue.storage.counters();
        let carried = std::mem::take(&mut self.carried);
        counters.rows_read += carried.rows_read;
        self.last_counters = counters;
        self.glue.storage.end_statement();
        let result = match payload {
            Ok(payload) => {
                if matches!(kind, StatementKind::Rollback | StatementKind::Commit) {
                    self.aborted = false;
                }
                Ok(StatementResult::from_payload(
                    kind,
                    payload,
                    self.last_counters,
                ))
            }
            Err(error) => {
                if self.glue.storage.in_explicit_transaction() {
                    // PostgreSQL aborts the transaction at the error: its work is undone and
                    // its locks go now; the client still has to say ROLLBACK.
                    self.abort();
                }
                Err(error)
            }
        };
        if !self.glue.storage.in_explicit_transaction() {
            self.end_of_transaction();
        }
        result
    }

    /// Forgets the transaction's own level once it has ended.
    fn end_of_transaction(&mut self) {
        self.txn_statements = 0;
        if self.txn_isolation.take().is_some() {
            self.apply_level(self.isolation);
        }
    }

    /// Carries out one prepared statement: GlueSQL's pipeline (plan → execute) with the key
    /// access path slipped in, or a transaction command, or a setting.
    fn run(&mut self, command: Command, only_rows: Option<KeyHint>) -> Result<Payload, DbError> {
        let statement = match self.resolve_views(command)? {
            Command::Sql { statement, .. } => statement,
            Command::CreateView {
                name,
                columns,
                query,
                or_replace,
            } => {
                let mut engine = self.glue.storage.engine.borrow_mut();
                crate::sim::views::create(&mut engine, name, columns, query, or_replace)?;
                return Ok(Payload::Create);
            }
            Command::DropView { names, if_exists } => {
                let mut engine = self.glue.storage.engine.borrow_mut();
                crate::sim::views::drop(&mut engine, &names, if_exists)?;
                return Ok(Payload::DropTable(names.len()));
            }
            // An index the resolver did not find in any table.
            Command::DropIndex { name, if_exists } => {
                let engine = self.glue.storage.engine.borrow();
                return crate::sim::indexes::drop_unresolved(&engine, &name, if_exists);
            }
            Command::Begin(isolation) => {
                let in_transaction = self.glue.storage.in_explicit_transaction();
                let payload = self.plan_and_execute(Statement::StartTransaction, None)?;
                if let Some(isolation) = isolation.filter(|_| !in_transaction) {
                    self.set_transaction_isolation(isolation)?;
                }
                return Ok(payload);
            }
            Command::Set(setting) => {
                match setting {
                    Setting::TransactionIsolation(isolation) => {
                        self.set_transaction_isolation(isolation)?;
                    }
                    Setting::SessionIsolation(isolation) => self.set_isolation(isolation),
                    Setting::LockTimeout(timeout) => self.lock_timeout = timeout,
                    Setting::StatementTimeout(timeout) => self.statement_timeout = timeout,
                }
                return Ok(Payload::Create); // Reported as done.
            }
        };
        if self.glue.storage.in_explicit_transaction() {
            self.txn_statements += 1;
        }
        self.plan_and_execute(statement, only_rows)
    }

    fn plan_and_execute(
        &mut self,
        statement: Statement,
        only_rows: Option<KeyHint>,
    ) -> Result<Payload, DbError> {
        let storage = &mut self.glue.storage;
        let hint = only_rows.or_else(|| {
            key_hint(&statement, |table| {
                storage.fetch_schema(table).ok().flatten()
            })
        });
        storage.set_key_hint(hint);
        let range = range_hint(&statement, |table| {
            storage.fetch_schema(table).ok().flatten()
        });
        let mut statement = statement;
        if range.as_ref().is_some_and(|r| r.whole_where) {
            drop_where(&mut statement);
        }
        storage.set_key_range(range.map(|r| r.range));
        let plan = storage.plan(StatementPlan::from(statement));
        let result = plan.and_then(|plan| execute(&mut *storage, &plan));
        // A range GlueSQL's own access path left unused must not reach a later statement.
        storage.set_key_range(None);
        match result {
            // A doomed serializable transaction learns it at its insert's conflict-in check,
            // which PostgreSQL makes before it looks for a duplicate key.
            Err(error)
                if storage.is_doomed()
                    && crate::sim::sqlstate::of_glue(&error) == SqlState::UniqueViolation =>
            {
                Err(DbError::Storage {
                    state: SqlState::SerializationFailure,
                    message: format!(
                        "{} ({})",
                        crate::sim::ssi::SsiError::DoomedDuringWrite,
                        crate::sim::ssi::SsiError::DoomedDuringWrite.detail()
                    ),
                })
            }
            other => Ok(other?),
        }
    }

    /// `SET TRANSACTION ISOLATION LEVEL`: only inside a transaction, before its first query.
    fn set_transaction_isolation(&mut self, isolation: Isolation) -> Result<(), DbError> {
        if !self.glue.storage.in_explicit_transaction() {
            return Err(DbError::Setting(
                SqlState::NoActiveSqlTransaction,
                "SET TRANSACTION can only be used in transaction blocks (run BEGIN first)",
            ));
        }
        if self.txn_statements > 0 {
            return Err(DbError::Setting(
                SqlState::ActiveSqlTransaction,
                "SET TRANSACTION ISOLATION LEVEL must be called before any query",
            ));
        }
        self.txn_isolation = Some(isolation);
        self.apply_level(isolation);
        Ok(())
    }

    /// `command` with every view it reads replaced by the view's query (`crate::sim::views`),
    /// and a `DROP INDEX name` given its table: what the lock planner and GlueSQL see.
    /// Expanding twice changes nothing.
    ///
    /// # Errors
    ///
    /// A write into a view, a locking clause over one, views nested too deep.
    pub fn resolve_views(&self, command: Command) -> Result<Command, DbError> {
        if let Command::DropIndex { name, .. } = &command {
            let engine = self.glue.storage.engine.borrow();
            return Ok(crate::sim::indexes::resolve_drop(&engine, name).unwrap_or(command));
        }
        let Command::Sql {
            mut statement,
            locking,
        } = command
        else {
            return Ok(command);
        };
        let engine = self.glue.storage.engine.borrow();
        let columns_of = |table: &str| engine.tables.get(table).map(|t| t.columns.to_vec());
        let named = crate::sim::views::expand(&mut statement, &engine.views, &columns_of)?;
        if let (Some(view), Some(_)) = (named, locking) {
            return Err(ViewError::ReadOnly {
                verb: "lock rows in",
                view,
            }
            .into());
        }
        Ok(Command::Sql { statement, locking })
    }

    /// Rows read and written by the last statement.
    pub fn last_counters(&self) -> RowCounters {
        self.last_counters
    }

    /// Whether a transaction started with `BEGIN` is open.
    pub fn in_transaction(&self) -> bool {
        self.aborted || self.glue.storage.in_explicit_transaction()
    }

    /// Aborts the open transaction from outside (a deadlock victim): its work is undone at once
    /// and, as in PostgreSQL, every statement fails until `ROLLBACK` (or `COMMIT`).
    pub fn abort(&mut self) {
        let _ = self.glue.storage.rollback();
        self.aborted = true;
        self.txn_statements = 0;
    }

    /// Whether the open transaction failed and waits for `ROLLBACK`.
    pub fn is_aborted(&self) -> bool {
        self.aborted
    }

    /// Idle, in a transaction, or in a failed one.
    pub fn transaction_state(&self) -> TransactionState {
        match (self.in_transaction(), self.aborted) {
            (_, true) => TransactionState::Aborted,
            (true, false) => TransactionState::Open,
            (false, false) => TransactionState::Idle,
        }
    }

    /// Changes how this connection's following transactions read.
    pub fn set_read_mode(&mut self, mode: ReadMode) {
        self.glue.storage.set_read_mode(mode);
    }

    /// The session underneath, for what SQL cannot ask (its transaction id, its snapshot).
    pub fn session(&self) -> &Session {
        &self.glue.storage
    }

    /// The session underneath, to load rows straight into its storage
    /// ([`crate::sim::database::Database::bulk_load`]).
    pub(crate) fn session_mut(&mut self) -> &mut Session {
        &mut self.glue.storage
    }

    /// Every table with its columns, indexes and row count (as this connection sees them),
    /// sorted by name.
    ///
    /// # Errors
    ///
    /// [`DbError::Sql`] if the storage cannot be read.
    pub fn tables(&self) -> Result<Vec<TableInfo>, DbError> {
        let storage = &self.glue.storage;
        storage
            .fetch_all_schemas()?
            .into_iter()
            .map(|schema| {
                let columns = schema
                    .column_defs
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| ColumnInfo {
                        data_type: c.data_type.to_string(),
                        nullable: c.nullable,
                        primary_key: c.unique.is_some_and(|u| u.is_primary),
                        unique: c.unique.is_some(),
                        name: c.name,
                    })
                    .collect();
                let row_count = storage.scan_data(&schema.table_name)?.count();
                let mut indexes: Vec<String> = schema
                    .indexes
                    .iter()
                    .map(crate::sim::indexes::describe)
                    .collect();
                indexes.sort();
                Ok(TableInfo {
                    name: schema.table_name,
                    columns,
                    indexes,
                    row_count,
                    view: None,
                })
            })
            .collect::<Result<Vec<_>, DbError>>()
            .map(|mut tables| {
                let engine = storage.engine.borrow();
                tables.extend(engine.views.iter().map(crate::sim::views::table_info));
                tables
            })
    }

    /// Each table's and each view's column names in declaration order, without counting rows
    /// (cheap enough to ask often): what the coupling map resolves column names against (a
    /// service reading a view reads the view's columns).
    ///
    /// # Errors
    ///
    /// [`DbError::Sql`] if the storage cannot be read.
    pub fn columns(&self) -> Result<std::collections::BTreeMap<String, Vec<String>>, DbError> {
        let mut columns: std::collections::BTreeMap<String, Vec<String>> = self
            .glue
            .storage
            .fetch_all_schemas()?
            .into_iter()
            .map(|schema| {
                let columns = schema
                    .column_defs
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| c.name)
                    .collect();
                (schema.table_name, columns)
            })
            .collect();
        let engine = self.glue.storage.engine.borrow();
        for (name, view) in &engine.views {
            columns.insert(name.clone(), view.columns.clone());
        }
        Ok(columns)
    }

    /// A plain-text dump of every table's rows in key order (as this connection sees them), one
    /// line per row, tab-separated. Two databases hold the same data exactly when their dumps
    /// are equal.
    ///
    /// # Errors
    ///
    /// [`DbError::Sql`] if the storage cannot be read.
    pub fn dump(&self) -> Result<String, DbError> {
        let storage = &self.glue.storage;
        let mut out = String::new();
        for table in self.tables()? {
            let columns: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
            out.push_str(&format!("# {} ({})\n", table.name, columns.join(", ")));
            for row in storage.scan_data(&table.name)? {
                let (key, values) = row?;
                let mut line = key_text(&key);
                for value in &values {
                    line.push('\t');
                    line.push_str(&String::from(value));
                }
                out.push_str(&line);
                out.push('\n');
            }
        }
        Ok(out)
    }
}

/// A key as the dump writes it.
fn key_text(key: &Key) -> String {
    String::from(Value::from(key.clone()))
}
