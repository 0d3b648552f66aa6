//! One SQL database: a GlueSQL engine over an in-memory storage, seen through a small, typed API.
//!
//! This is the database a simulated service (or a student at the console) talks to. A statement
//! goes in as text and comes back as a [`StatementResult`] — column names and rows as display
//! values, an affected-row count, or a plain acknowledgement — or as a [`DbError`] carrying
//! GlueSQL's own message, which is what the student should read. Several databases can live side
//! by side; each owns its storage, so they are isolated from each other.
//!
//! Underneath is our own storage engine ([`crate::sim::storage`]): several connections share one
//! database, each with its own transaction; every committed change reaches the change log; each
//! statement reports the rows it read and wrote. Single-row `UPDATE`/`DELETE` by primary key read
//! one row, not the whole table ([`crate::sim::key_access`]).

use crate::sim::change_log::{Change, Lsn};
use crate::sim::clock::Micros;
use crate::sim::sql_script::ScriptStatement;
use crate::sim::sqlstate::SqlState;
use crate::sim::statement::StatementError;
use crate::sim::storage::{Engine, EngineStats, ReadMode, SharedEngine};
use crate::sim::views::ViewError;
use gluesql::core::data::{Key, Value};
use gluesql::core::error::Error as GlueError;
use gluesql::core::store::Store;
use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use thiserror::Error;

pub use crate::sim::connection::{statement_in_flight, Connection, TransactionState};
pub use crate::sim::results::{Cell, CellKind, Outcome, StatementKind, StatementResult};

/// GlueSQL's message for `error`. A parser's error comes from GlueSQL in Rust's debug form
/// (`parser: ParserError(\n    "Expected: …",\n)`): its text is taken out of it, as
/// `syntax error: Expected: …`.
pub fn glue_message(error: &GlueError) -> String {
    match error {
        GlueError::Parser(debug) => debug_text(debug)
            .map_or_else(|| error.to_string(), |text| format!("syntax error: {text}")),
        other => other.to_string(),
    }
}

/// The string inside `Name(\n "…",\n)`, unescaped, if `debug` has that form.
fn debug_text(debug: &str) -> Option<String> {
    let inner = debug.trim().strip_suffix(')')?;
    let (name, quoted) = inner.split_once('(')?;
    if !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    serde_json::from_str(quoted.trim().trim_end_matches(',').trim_end()).ok()
}

/// Why a statement did not run.
#[derive(Debug, Error, PartialEq)]
pub enum DbError {
    /// GlueSQL refused or failed the statement; the message is GlueSQL's own text.
    #[error("{}", glue_message(.0))]
    Sql(#[from] GlueError),
    /// The text held no statement (only white space or comments).
    #[error("there is no SQL statement to run")]
    Empty,
    /// [`Database::execute`] takes exactly one statement.
    #[error("expected one SQL statement, found {0}: run a script with `run_script`")]
    SeveralStatements(usize),
    /// An earlier statement of the open transaction failed (PostgreSQL's behaviour).
    #[error(
        "current transaction is aborted, commands ignored until end of transaction block \
         (run ROLLBACK)"
    )]
    TransactionAborted,
    /// A lock could not be had at once (`NOWAIT`), PostgreSQL's `lock_not_available`.
    #[error("{0}")]
    LockNotAvailable(String),
    /// A setting refused, in PostgreSQL's words, with PostgreSQL's code.
    #[error("{1}")]
    Setting(SqlState, &'static str),
    /// The simulator's SQL refused the statement (an unknown setting, a misplaced `FOR UPDATE`).
    #[error(transparent)]
    Statement(#[from] StatementError),
    /// The storage engine refused or aborted it (a serialization failure), with PostgreSQL's code.
    #[error("{message}")]
    Storage {
        /// PostgreSQL's code for it.
        state: SqlState,
        /// PostgreSQL's message.
        message: String,
    },
    /// A statement known to crash GlueSQL, refused before it reaches it.
    #[error(transparent)]
    Refused(#[from] crate::sim::sql_guard::GuardError),
    /// A statement about or through a view refused (`crate::sim::views`).
    #[error(transparent)]
    View(#[from] ViewError),
}

impl DbError {
    /// PostgreSQL's error code for this error (SQLSTATE): what a client branches on, and what
    /// the simulator derives an error's kind from.
    pub fn sqlstate(&self) -> SqlState {
        match self {
            Self::Sql(error) => crate::sim::sqlstate::of_glue(error),
            Self::Empty | Self::SeveralStatements(_) => SqlState::SyntaxError,
            Self::TransactionAborted => SqlState::InFailedSqlTransaction,
            Self::LockNotAvailable(_) => SqlState::LockNotAvailable,
            Self::Setting(state, _) | Self::Storage { state, .. } => *state,
            Self::Statement(error) => error.sqlstate(),
            Self::Refused(_) => SqlState::FeatureNotSupported,
            Self::View(error) => error.sqlstate(),
        }
    }
}

/// One statement of a script with what came of it.
#[derive(Debug, PartialEq)]
pub struct ScriptResult {
    /// The statement and where it stood in the script.
    pub statement: ScriptStatement,
    /// Its kind, known even when it failed.
    pub kind: StatementKind,
    /// Its result, or GlueSQL's error.
    pub result: Result<StatementResult, DbError>,
    /// How long it took by the caller's clock, in milliseconds.
    pub elapsed_ms: f64,
}

/// A column of a table, as the schema describes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// SQL type, as GlueSQL names it (`INT`, `TEXT`, `TIMESTAMP`, …).
    pub data_type: String,
    /// Whether `NULL` is allowed.
    pub nullable: bool,
    /// Whether this is the primary key.
    pub primary_key: bool,
    /// Whether values must be unique (primary keys are unique too).
    pub unique: bool,
}

/// A table with its columns, indexes and current row count.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TableInfo {
    /// Table name.
    pub name: String,
    /// Columns in declaration order; empty for a schemaless table.
    pub columns: Vec<ColumnInfo>,
    /// Secondary indexes, each as "name (column)".
    pub indexes: Vec<String>,
    /// Rows in the table now (0 for a view, which is not counted).
    pub row_count: usize,
    /// For a view, the query it stands for (`None` for a table).
    pub view: Option<String>,
}

/// A named SQL database: one shared engine, any number of [`Connection`]s, and a change log.
///
/// The database's own methods (`execute`, `run_script`, `tables`, `dump`) go through a default
/// connection that reads the latest committed state; [`Database::connect`] opens more.
pub struct Database {
    name: String,
    engine: SharedEngine,
    default: Connection,
}

impl Clone for Database {
    /// The database and its default connection on one copy of its engine
    /// ([`crate::sim::fork`]): with the world it belongs to, in a checkpoint.
    fn clone(&self) -> Self {
        crate::sim::fork::scope(|| Self {
            name: self.name.clone(),
            engine: crate::sim::fork::engine(&self.engine),
            default: self.default.clone(),
        })
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("name", &self.name)
            .finish()
    }
}

impl Database {
    /// An empty database called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self::with_engine(name, Engine::default())
    }

    /// A database called `name` over `engine` (to choose the change log's retention, say).
    pub fn with_engine(name: impl Into<String>, engine: Engine) -> Self {
        let engine = Rc::new(RefCell::new(engine));
        Self {
            name: name.into(),
            default: Connection::new(Rc::clone(&engine), ReadMode::LatestCommitted),
            engine,
        }
    }

    /// A copy of this database as it is now, with a fresh default connection. Meant for a
    /// database nobody is inside a transaction on (open transactions would be copied half-done).
    pub fn copy(&self) -> Self {
        Self::with_engine(self.name.clone(), self.with_engine_ref(Engine::clone))
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Opens a new connection that reads with `mode`.
    pub fn connect(&self, mode: ReadMode) -> Connection {
        Connection::new(Rc::clone(&self.engine), mode)
    }

    /// Loads `rows` (values in the table's column order) straight into `table`, in one
    /// transaction, bypassing SQL: for data generated by our own code, consistent by
    /// construction (no type, `NOT NULL` or `UNIQUE` checks are made). Returns the rows loaded.
    ///
    /// # Errors
    ///
    /// [`DbError::Sql`] if the table does not exist, has no primary key, or a key is not an
    /// integer or text.
    pub fn bulk_load(&mut self, table: &str, rows: Vec<Vec<Value>>) -> Result<usize, DbError> {
        let schema = self
            .default
            .session()
            .fetch_schema(table)?
            .ok_or_else(|| GlueError::StorageMsg(format!("table not found: {table}")))?;
        let primary = schema
            .column_defs
            .iter()
            .flatten()
            .position(|c| c.unique.is_some_and(|u| u.is_primary))
            .ok_or_else(|| GlueError::StorageMsg(format!("{table} has no primary key")))?;
        let count = rows.len();
        let keyed = rows
            .into_iter()
            .map(|row| {
                let key = row
                    .get(primary)
                    .and_then(|value| Key::try_from(value).ok())
                    .ok_or_else(|| GlueError::StorageMsg(format!("a row of {table} has no key")))?;
                Ok((key, row))
            })
            .collect::<Result<Vec<_>, GlueError>>()?;
        self.default.session_mut().load_rows(table, keyed)?;
        Ok(count)
    }

    /// The default connection, which `execute` and `run_script` use.
    pub fn default_connection(&mut self) -> &mut Connection {
        &mut self.default
    }

    /// The default connection, to read through it.
    pub fn default_connection_ref(&self) -> &Connection {
        &self.default
    }

    /// The default connection's transaction state.
    pub fn transaction_state(&self) -> TransactionState {
        self.default.transaction_state()
    }

    /// Runs exactly one SQL statement on the default connection (see [`Connection::execute`]).
    ///
    /// # Errors
    ///
    /// As [`Connection::execute`].
    pub fn execute(&mut self, sql: &str) -> Result<StatementResult, DbError> {
        self.default.execute(sql)
    }

    /// Runs a script on the default connection (see [`Connection::run_script`]).
    pub fn run_script(&mut self, script: &str, now_ms: impl FnMut() -> f64) -> Vec<ScriptResult> {
        self.default.run_script(script, now_ms)
    }

    /// Every table with its columns, indexes and committed row count, sorted by name.
    ///
    /// # Errors
    ///
    /// [`DbError::Sql`] if the storage cannot be read.
    pub fn tables(&self) -> Result<Vec<TableInfo>, DbError> {
        self.default.tables()
    }

    /// Each table's column names (see [`Connection::columns`]).
    ///
    /// # Errors
    ///
    /// [`DbError::Sql`] if the storage cannot be read.
    pub fn columns(&self) -> Result<std::collections::BTreeMap<String, Vec<String>>, DbError> {
        self.default.columns()
    }

    /// A plain-text dump of every table (see [`Connection::dump`]).
    ///
    /// # Errors
    ///
    /// [`DbError::Sql`] if the storage cannot be read.
    pub fn dump(&self) -> Result<String, DbError> {
        self.default.dump()
    }

    /// Reads the change log (and anything else the engine knows) through `f`.
    pub fn with_engine_ref<T>(&self, f: impl FnOnce(&Engine) -> T) -> T {
        f(&self.engine.borrow())
    }

    /// Runs a query on a connection of its own that reads the newest committed rows and
    /// leaves no trace the run depends on: the transaction id it took is given back (a
    /// read-only transaction in PostgreSQL has only a virtual id), so checking a running world
    /// changes none of the ids its writers get.
    ///
    /// # Errors
    ///
    /// The query's [`DbError`].
    pub fn read_only_query(&self, sql: &str) -> Result<StatementResult, DbError> {
        let last = self.engine.borrow().last_txn_id();
        let result = self.connect(ReadMode::LatestCommitted).execute(sql);
        self.engine.borrow_mut().forget_read_only_txns(last);
        result
    }

    /// Every committed row of `table` now, in key order, with its column names: what a CDC
    /// connector's snapshot reads.
    ///
    /// # Errors
    ///
    /// A storage error if the table does not exist.
    pub fn committed_rows(&self, table: &str) -> Result<(Vec<String>, Vec<Vec<Value>>), DbError> {
        let connection = self.connect(ReadMode::LatestCommitted);
        let session = connection.session();
        let columns = session
            .fetch_schema(table)?
            .and_then(|s| s.column_defs)
            .map(|defs| defs.into_iter().map(|d| d.name).collect())
            .unwrap_or_default();
        let rows = session
            .scan_data(table)?
            .map(|row| row.map(|(_, values)| values))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((columns, rows))
    }

    /// Tells the storage what time the simulation says it is (stamped on commits in the change
    /// log).
    pub fn set_time(&self, now: Micros) {
        self.engine.borrow_mut().set_time(now);
    }

    /// Runs `f` on the storage engine, to change what is not data (a replication slot).
    pub fn with_engine_mut<T>(&self, f: impl FnOnce(&mut Engine) -> T) -> T {
        f(&mut self.engine.borrow_mut())
    }

    /// The change log's records from `lsn` on, cloned.
    pub fn changes_since(&self, lsn: Lsn) -> Vec<Change> {
        self.engine.borrow().log().since(lsn).cloned().collect()
    }

    /// What the engine holds: tables, rows, versions, snapshots, log records.
    pub fn stats(&self) -> EngineStats {
        self.engine.borrow().stats()
    }

    /// Serializable snapshot isolation's state: SIREAD locks, conflicts, aborts.
    pub fn ssi_summary(&self) -> crate::sim::ssi::SsiSummary {
        self.engine.borrow().ssi_summary()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_with_people() -> Database {
        let mut db = Database::new("test");
        db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL, age INTEGER)")
            .expect("create");
        db.execute("INSERT INTO people VALUES (1, 'Ada', 36), (2, 'Grace', NULL)")
            .expect("insert");
        db
    }

    #[test]
    fn kinds_are_classified_by_leading_keywords() {
        assert_eq!(StatementKind::of("  select 1"), StatementKind::Query);
        assert_eq!(
            StatementKind::of("Create Table t (a INT)"),
            StatementKind::CreateTable
        );
        assert_eq!(
            StatementKind::of("CREATE UNIQUE INDEX i ON t (a)"),
            StatementKind::CreateIndex
        );
        assert_eq!(StatementKind::of("start transaction"), StatementKind::Begin);
        assert_eq!(
            StatementKind::of("ALTER TABLE t RENAME COLUMN a TO b"),
            StatementKind::AlterTable
        );
        assert_eq!(StatementKind::of("VACUUM"), StatementKind::Other);
        assert_eq!(StatementKind::of(""), StatementKind::Other);
    }

    #[test]
    fn a_select_returns_labels_and_typed_cells() {
        let mut db = db_with_people();
        let result = db
            .execute("SELECT id, name, age FROM people ORDER BY id")
            .expect("select");
        let Outcome::Rows { columns, rows } = result.outcome else {
            panic!("expected rows, got {result:?}");
        };
        assert_eq!(columns, ["id", "name", "age"]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][1].text, "Ada");
        assert_eq!(rows[0][0].kind, CellKind::Number);
        assert_eq!(rows[1][2].kind, CellKind::Null);
        assert_eq!(rows[1][2].text, "NULL");
    }

    #[test]
    fn summaries_speak_plainly() {
        let mut db = db_with_people();
        let update = db
            .execute("UPDATE people SET age = 37 WHERE id = 1")
            .expect("update");
        assert_eq!(update.summary(), "1 row updated");
        let delete = db.execute("DELETE FROM people").expect("delete");
        assert_eq!(delete.summary(), "2 rows deleted");
        let create = db.execute("CREATE TABLE t (a INT)").expect("create");
        assert_eq!(create.summary(), "table created");
    }

    #[test]
    fn errors_carry_gluesqls_message() {
        let mut db = db_with_people();
        let error = db
            .execute("SELECT nme FROM people")
            .expect_err("unknown column");
        assert!(matches!(error, DbError::Sql(_)));
        assert!(error.to_string().contains("nme"), "{error}");
        let error = db.execute("SELEC 1").expect_err("parse error");
        assert!(error.to_string().starts_with("syntax error:"), "{error}");
    }

    #[test]
    fn a_syntax_error_reads_as_text_not_as_rust() {
        let mut db = Database::new("t");
        let message = db.execute("SELEC 1").expect_err("not SQL").to_string();
        assert!(message.starts_with("syntax error: Expected"), "{message}");
        assert!(message.contains("SELEC at Line: 1, Column: 1"), "{message}");
        assert!(
            !message.contains("ParserError") && !message.contains('\n'),
            "{message}"
        );
        let own = GlueError::Parser("there is no SQL statement".to_owned());
        assert_eq!(
            glue_message(&own),
            own.to_string(),
            "our own parser messages stay"
        );
    }

    #[test]
    fn execute_takes_exactly_one_statement() {
        let mut db = db_with_people();
        assert_eq!(db.execute("  -- nothing\n"), Err(DbError::Empty));
        assert_eq!(
            db.execute("SELECT 1; SELECT 2"),
            Err(DbError::SeveralStatements(2))
        );
    }

    #[test]
    fn a_script_runs_on_after_a_failing_statement() {
        let mut db = db_with_people();
        let mut clock = 0.0;
        let results = db.run_script(
            "INSERT INTO people VALUES (3, 'Linus', 55);\nSELECT * FROM nowhere;\nSELECT COUNT(*) FROM people",
            || {
                clock += 1.5;
                clock
            },
        );
        assert_eq!(results.len(), 3);
        assert!(results[0].result.is_ok());
        assert!(results[1].result.is_err());
        assert_eq!(results[1].statement.line, 2);
        assert_eq!(results[1].kind, StatementKind::Query);
        let Ok(StatementResult {
            outcome: Outcome::Rows { rows, .. },
            ..
        }) = &results[2].result
        else {
            panic!("expected rows");
        };
        assert_eq!(rows[0][0].text, "3");
        assert!(results.iter().all(|r| r.elapsed_ms == 1.5));
    }

    #[test]
    fn tables_lists_columns_keys_and_counts() {
        let mut db = db_with_people();
        db.execute("CREATE TABLE audit (at TIMESTAMP, note TEXT)")
            .expect("create");
        let tables = db.tables().expect("tables");
        let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["audit", "people"]);
        let people = &tables[1];
        assert_eq!(people.row_count, 2);
        assert!(people.columns[0].primary_key);
        assert_eq!(people.columns[0].data_type, "INT");
        assert!(!people.columns[1].nullable);
        assert!(people.columns[2].nullable);
    }

    #[test]
    fn show_tables_returns_rows() {
        let mut db = db_with_people();
        let result = db.execute("SHOW TABLES").expect("show");
        assert_eq!(result.summary(), "1 row");
    }
}
