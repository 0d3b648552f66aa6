//! A SQL console session, like `psql`: an input buffer, a history of what was run, and the
//! results of recent runs ([`ConsoleSession`], the page's side), over one [`Database`]
//! ([`ConsoleDatabase`], in the console's worker: [`crate::sim::console_server`]).
//!
//! The page's console renders the session and sends it edits; everything it does — keeping
//! the history, running each statement of a script, reading the schema again — lives here, so
//! it is tested natively. Results travel as JSON ([`ConsoleResult`]). Nothing here reads a
//! clock: the caller passes one in to time statements.
//! Simplification: the history and the kept runs are bounded ([`HISTORY_LIMIT`],
//! [`RUNS_KEPT`]), oldest dropped first.

use crate::sim::database::{
    Database, DbError, ScriptResult, StatementKind, StatementResult, TableInfo, TransactionState,
};
use crate::sim::sql_script::ScriptStatement;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// How many scripts the history keeps.
pub const HISTORY_LIMIT: usize = 200;
/// How many runs (each a script's results) the console keeps on screen.
pub const RUNS_KEPT: usize = 20;

/// Scripts run before, with a cursor for walking back and forth through them (↑/↓).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    entries: Vec<String>,
    /// Which entry is shown while browsing; `None` when editing a fresh draft.
    cursor: Option<usize>,
    /// The unfinished draft, kept while browsing so ↓ past the newest entry brings it back.
    stash: String,
}

impl History {
    /// A history holding `entries`, oldest first (for restoring a saved history).
    pub fn from_entries(entries: impl IntoIterator<Item = String>) -> Self {
        let mut history = Self::default();
        for entry in entries {
            history.push(&entry);
        }
        history
    }

    /// Records a script that was run. Blank scripts and a repeat of the newest entry are not
    /// recorded; browsing ends.
    pub fn push(&mut self, script: &str) {
        self.cursor = None;
        self.stash.clear();
        let script = script.trim();
        if script.is_empty() || self.entries.last().is_some_and(|last| last == script) {
            return;
        }
        self.entries.push(script.to_owned());
        if self.entries.len() > HISTORY_LIMIT {
            let excess = self.entries.len() - HISTORY_LIMIT;
            self.entries.drain(..excess);
        }
    }

    /// Steps back to an older entry and returns it; `draft` is what the editor holds now,
    /// kept to come back to. `None` when there is nothing older.
    pub fn back(&mut self, draft: &str) -> Option<&str> {
        let target = match self.cursor {
            None if self.entries.is_empty() => return None,
            None => {
                self.stash = draft.to_owned();
                self.entries.len() - 1
            }
            Some(0) => return None,
            Some(i) => i - 1,
        };
        self.cursor = Some(target);
        self.entries.get(target).map(String::as_str)
    }

    /// Steps forward to a newer entry and returns it; past the newest, returns the draft that
    /// was being written before browsing began. `None` when not browsing.
    pub fn forward(&mut self) -> Option<String> {
        let i = self.cursor?;
        if i + 1 < self.entries.len() {
            self.cursor = Some(i + 1);
            self.entries.get(i + 1).cloned()
        } else {
            self.cursor = None;
            Some(std::mem::take(&mut self.stash))
        }
    }

    /// All entries, oldest first.
    pub fn entries(&self) -> &[String] {
        &self.entries
    }

    /// Whether ↑/↓ are currently walking through the history.
    pub fn is_browsing(&self) -> bool {
        self.cursor.is_some()
    }
}

/// Why a console statement failed, as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsoleError {
    /// Whether GlueSQL said it (else the database: a lock, a setting, a statement refused).
    pub from_glue: bool,
    /// The message, in the engine's own words.
    pub message: String,
}

impl From<&DbError> for ConsoleError {
    fn from(error: &DbError) -> Self {
        Self {
            from_glue: matches!(error, DbError::Sql(_)),
            message: error.to_string(),
        }
    }
}

/// One statement of a console run and what came of it, as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsoleResult {
    /// The statement and where it stood in the script.
    pub statement: ScriptStatement,
    /// Its kind, known even when it failed.
    pub kind: StatementKind,
    /// Its result, or the error.
    pub result: Result<StatementResult, ConsoleError>,
    /// How long it took, in milliseconds.
    pub elapsed_ms: f64,
}

impl From<ScriptResult> for ConsoleResult {
    fn from(result: ScriptResult) -> Self {
        Self {
            result: result.result.as_ref().map_err(ConsoleError::from).cloned(),
            statement: result.statement,
            kind: result.kind,
            elapsed_ms: result.elapsed_ms,
        }
    }
}

/// One press of "Run": the statements of a script and their results.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleRun {
    /// Increasing number of the run in this session, from 1.
    pub id: u64,
    /// The script as it was run.
    pub script: String,
    /// One result per statement, in order.
    pub results: Vec<ConsoleResult>,
}

impl ConsoleRun {
    /// How many statements failed.
    pub fn failures(&self) -> usize {
        self.results.iter().filter(|r| r.result.is_err()).count()
    }

    /// Total time of the run's statements, in milliseconds.
    pub fn elapsed_ms(&self) -> f64 {
        self.results.iter().map(|r| r.elapsed_ms).sum()
    }
}

/// The console's database as the page shows it: its tables with their columns and row counts
/// (or why they could not be read), and where the console's transaction stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsoleSchema {
    /// The tables and views, or why they could not be read.
    pub tables: Result<Vec<TableInfo>, String>,
    /// The console's transaction.
    pub transaction: TransactionState,
}

impl Default for ConsoleSchema {
    fn default() -> Self {
        Self {
            tables: Ok(Vec::new()),
            transaction: TransactionState::Idle,
        }
    }
}

/// The console's database, where the engine runs (the console's worker): it runs scripts and
/// says what its schema is after each.
pub struct ConsoleDatabase {
    db: Database,
}

impl ConsoleDatabase {
    /// The console on `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Runs `script`, statement by statement; `now_ms` times each.
    pub fn run(&mut self, script: &str, now_ms: impl FnMut() -> f64) -> Vec<ConsoleResult> {
        self.db
            .run_script(script, now_ms)
            .into_iter()
            .map(ConsoleResult::from)
            .collect()
    }

    /// The tables, their row counts and the transaction, as they are now.
    pub fn schema(&self) -> ConsoleSchema {
        ConsoleSchema {
            tables: self.db.tables().map_err(|error| error.to_string()),
            transaction: self.db.transaction_state(),
        }
    }
}

/// A console as the page holds it, like `psql`'s side of a connection: the editor's text, the
/// history, the results of recent runs and the schema as of the last. The database itself is
/// elsewhere ([`ConsoleDatabase`]): a run starts here ([`Self::start_run`]) and ends when its
/// results come back ([`Self::finish_run`]).
#[derive(Debug, Default)]
pub struct ConsoleSession {
    /// What the editor holds.
    pub draft: String,
    history: History,
    runs: VecDeque<ConsoleRun>,
    next_run_id: u64,
    schema: ConsoleSchema,
    /// The script sent to the database, until its results come.
    running: Option<String>,
}

impl ConsoleSession {
    /// A console with an empty editor and history, and no database yet.
    pub fn new() -> Self {
        Self {
            next_run_id: 1,
            ..Self::default()
        }
    }

    /// Starts running the editor's script: records it in the history and returns it, to send
    /// to the database; `None` when a run is going on already.
    pub fn start_run(&mut self) -> Option<String> {
        if self.running.is_some() {
            return None;
        }
        self.history.push(&self.draft);
        self.running = Some(self.draft.clone());
        self.running.clone()
    }

    /// The script being run, until its results come.
    pub fn running(&self) -> Option<&str> {
        self.running.as_deref()
    }

    /// Takes in the results of the script being run and the schema after it. Returns the run,
    /// or `None` if the script held no statement.
    pub fn finish_run(
        &mut self,
        results: Vec<ConsoleResult>,
        schema: ConsoleSchema,
    ) -> Option<&ConsoleRun> {
        let script = self.running.take()?;
        // Row counts move with any write and the schema with any DDL.
        self.schema = schema;
        if results.is_empty() {
            return None;
        }
        let run = ConsoleRun {
            id: self.next_run_id,
            script: script.trim().to_owned(),
            results,
        };
        self.next_run_id += 1;
        self.runs.push_front(run);
        self.runs.truncate(RUNS_KEPT);
        self.runs.front()
    }

    /// A fresh database (at start, or loaded again): its schema; the results on screen go (a
    /// run asked for meanwhile runs on it, and its results come next).
    pub fn connect(&mut self, schema: ConsoleSchema) {
        self.schema = schema;
        self.runs.clear();
    }

    /// The database is gone (the engine stopped): the run going on ends without results, and
    /// its script is returned; nothing is known of the schema until the next database is ready.
    pub fn disconnect(&mut self) -> Option<String> {
        self.schema = ConsoleSchema::default();
        self.runs.clear();
        self.running.take()
    }

    /// Shows the previous history entry in the editor (↑). Returns whether it changed.
    pub fn history_previous(&mut self) -> bool {
        match self.history.back(&self.draft) {
            Some(entry) => {
                self.draft = entry.to_owned();
                true
            }
            None => false,
        }
    }

    /// Shows the next history entry, or the unfinished draft, in the editor (↓). Returns
    /// whether it changed.
    pub fn history_next(&mut self) -> bool {
        match self.history.forward() {
            Some(entry) => {
                self.draft = entry;
                true
            }
            None => false,
        }
    }

    /// Replaces the history (restored from the browser's storage, say).
    pub fn set_history(&mut self, history: History) {
        self.history = history;
    }

    /// The history of scripts run.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Recent runs, newest first.
    pub fn runs(&self) -> impl Iterator<Item = &ConsoleRun> {
        self.runs.iter()
    }

    /// Forgets the results on screen (not the history).
    pub fn clear_runs(&mut self) {
        self.runs.clear();
    }

    /// Tables with columns and row counts, as of the last run.
    pub fn tables(&self) -> &[TableInfo] {
        self.schema.tables.as_deref().unwrap_or_default()
    }

    /// Why the schema could not be read, if it could not.
    pub fn schema_error(&self) -> Option<&str> {
        self.schema.tables.as_ref().err().map(String::as_str)
    }

    /// Where the console's transaction stands, as of the last run.
    pub fn transaction(&self) -> TransactionState {
        self.schema.transaction
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> impl FnMut() -> f64 {
        let mut t = 0.0;
        move || {
            t += 0.25;
            t
        }
    }

    #[test]
    fn history_walks_back_and_returns_to_the_draft() {
        let mut history = History::default();
        history.push("SELECT 1");
        history.push("SELECT 2");
        assert_eq!(history.back("half-typed"), Some("SELECT 2"));
        assert_eq!(history.back("ignored"), Some("SELECT 1"));
        assert_eq!(history.back("ignored"), None, "nothing older");
        assert_eq!(history.forward().as_deref(), Some("SELECT 2"));
        assert_eq!(history.forward().as_deref(), Some("half-typed"));
        assert_eq!(history.forward(), None, "not browsing any more");
    }

    #[test]
    fn history_skips_blanks_and_repeats_and_is_bounded() {
        let mut history = History::default();
        history.push("  ");
        history.push("SELECT 1");
        history.push("SELECT 1 ");
        assert_eq!(history.entries(), ["SELECT 1"]);
        for i in 0..HISTORY_LIMIT + 10 {
            history.push(&format!("SELECT {i}"));
        }
        assert_eq!(history.entries().len(), HISTORY_LIMIT);
        assert_eq!(history.entries()[0], "SELECT 10");
    }

    /// Runs `script` as the page does: started in the session, run on `db`, finished with
    /// the results.
    fn run<'a>(
        console: &'a mut ConsoleSession,
        db: &mut ConsoleDatabase,
        script: &str,
    ) -> Option<&'a ConsoleRun> {
        console.draft = script.to_owned();
        let script = console.start_run().expect("no run going on");
        let results = db.run(&script, clock());
        // What travels between them is JSON.
        let results: Vec<ConsoleResult> =
            serde_json::from_str(&serde_json::to_string(&results).expect("it writes"))
                .expect("it reads back");
        console.finish_run(results, db.schema())
    }

    #[test]
    fn a_run_keeps_results_and_refreshes_the_schema() {
        let (mut console, mut db) = (
            ConsoleSession::new(),
            ConsoleDatabase::new(Database::new("db")),
        );
        assert!(console.tables().is_empty());
        let script = "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1), (2); SELECT * FROM nope";
        let run = run(&mut console, &mut db, script).expect("a run");
        assert_eq!(run.results.len(), 3);
        assert_eq!(run.failures(), 1);
        assert!(run.results[2]
            .result
            .as_ref()
            .is_err_and(|e| e.message.contains("nope")));
        assert!(run.elapsed_ms() > 0.0);
        assert_eq!(console.tables().len(), 1);
        assert_eq!(console.tables()[0].row_count, 2);
        assert_eq!(console.history().entries().len(), 1);
        assert_eq!(console.running(), None);
    }

    #[test]
    fn a_transaction_shows_on_the_session_and_one_run_goes_at_a_time() {
        let (mut console, mut db) = (
            ConsoleSession::new(),
            ConsoleDatabase::new(Database::new("db")),
        );
        run(
            &mut console,
            &mut db,
            "CREATE TABLE t (id INT PRIMARY KEY); BEGIN",
        );
        assert_eq!(console.transaction(), TransactionState::Open);
        console.draft = "SELECT 1".into();
        assert!(console.start_run().is_some());
        assert_eq!(console.start_run(), None, "one at a time");
        // The engine stopped: the run ends without results.
        assert_eq!(console.disconnect().as_deref(), Some("SELECT 1"));
        assert_eq!(console.running(), None);
        assert_eq!(console.runs().count(), 0);
        assert_eq!(console.transaction(), TransactionState::Idle);
    }

    #[test]
    fn a_run_asked_for_before_the_database_is_ready_gets_its_results() {
        let mut console = ConsoleSession::new();
        console.draft = "SELECT COUNT(*) FROM t".into();
        let script = console.start_run().expect("a run");
        // The database comes up, then runs what was asked meanwhile.
        let mut db = ConsoleDatabase::new(Database::new("db"));
        db.run("CREATE TABLE t (id INT PRIMARY KEY)", clock());
        console.connect(db.schema());
        let results = db.run(&script, clock());
        let run = console
            .finish_run(results, db.schema())
            .expect("its results");
        assert_eq!(run.failures(), 0);
    }

    #[test]
    fn runs_are_newest_first_and_bounded() {
        let (mut console, mut db) = (
            ConsoleSession::new(),
            ConsoleDatabase::new(Database::new("db")),
        );
        for i in 0..RUNS_KEPT + 5 {
            run(&mut console, &mut db, &format!("SELECT {i}"));
        }
        let ids: Vec<u64> = console.runs().map(|r| r.id).collect();
        assert_eq!(ids.len(), RUNS_KEPT);
        assert!(ids.windows(2).all(|w| w[0] > w[1]));
        let newest = format!("SELECT {}", RUNS_KEPT + 4);
        assert_eq!(
            console.runs().next().map(|r| r.script.as_str()),
            Some(newest.as_str())
        );
    }

    #[test]
    fn an_empty_script_makes_no_run() {
        let (mut console, mut db) = (
            ConsoleSession::new(),
            ConsoleDatabase::new(Database::new("db")),
        );
        assert!(run(&mut console, &mut db, "  -- just a comment").is_none());
        assert_eq!(console.runs().count(), 0);
    }

    #[test]
    fn editor_history_navigation_round_trips() {
        let (mut console, mut db) = (
            ConsoleSession::new(),
            ConsoleDatabase::new(Database::new("db")),
        );
        run(&mut console, &mut db, "SELECT 1");
        console.draft = "SELECT 9".into();
        assert!(console.history_previous());
        assert_eq!(console.draft, "SELECT 1");
        assert!(console.history_next());
        assert_eq!(console.draft, "SELECT 9");
        assert!(!console.history_next());
    }
}
