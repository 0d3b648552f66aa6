//! A SQL console session, like `psql`: an input buffer, a history of what was run, and the
//! results of recent runs, over one [`Database`].
//!
//! The page's console renders this and sends it edits; everything it does — splitting a script,
//! running each statement, keeping the history, refreshing the schema — lives here, so it is
//! tested natively. It never reads a clock: the caller passes one in to time statements.
//! Simplification: the history and the kept runs are bounded ([`HISTORY_LIMIT`],
//! [`RUNS_KEPT`]), oldest dropped first.

use crate::sim::database::{Database, ScriptResult, TableInfo};
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

/// One press of "Run": the statements of a script and their results.
#[derive(Debug, PartialEq)]
pub struct ConsoleRun {
    /// Increasing number of the run in this session, from 1.
    pub id: u64,
    /// The script as it was run.
    pub script: String,
    /// One result per statement, in order.
    pub results: Vec<ScriptResult>,
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

/// A console connected to one database.
#[derive(Debug)]
pub struct ConsoleSession {
    db: Database,
    /// What the editor holds.
    pub draft: String,
    history: History,
    runs: VecDeque<ConsoleRun>,
    next_run_id: u64,
    tables: Vec<TableInfo>,
    schema_error: Option<String>,
}

impl ConsoleSession {
    /// A console on `db`, with an empty editor and history.
    pub fn new(db: Database) -> Self {
        let mut session = Self {
            db,
            draft: String::new(),
            history: History::default(),
            runs: VecDeque::new(),
            next_run_id: 1,
            tables: Vec::new(),
            schema_error: None,
        };
        session.refresh_schema();
        session
    }

    /// Runs the editor's script, records it in the history and keeps its results.
    /// Returns the run, or `None` if the script held no statement. `now_ms` times each
    /// statement.
    pub fn run_draft(&mut self, now_ms: impl FnMut() -> f64) -> Option<&ConsoleRun> {
        let script = self.draft.clone();
        self.run(&script, now_ms)
    }

    /// Runs `script`, records it in the history and keeps its results (see [`Self::run_draft`]).
    pub fn run(&mut self, script: &str, now_ms: impl FnMut() -> f64) -> Option<&ConsoleRun> {
        self.history.push(script);
        let results = self.db.run_script(script, now_ms);
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
        // Row counts move with any write and the schema with any DDL: read them again.
        self.refresh_schema();
        self.runs.front()
    }

    fn refresh_schema(&mut self) {
        match self.db.tables() {
            Ok(tables) => {
                self.tables = tables;
                self.schema_error = None;
            }
            Err(error) => self.schema_error = Some(error.to_string()),
        }
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
        &self.tables
    }

    /// Why the schema could not be read, if it could not.
    pub fn schema_error(&self) -> Option<&str> {
        self.schema_error.as_deref()
    }

    /// The database this console is connected to.
    pub fn database(&self) -> &Database {
        &self.db
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

    #[test]
    fn a_run_keeps_results_and_refreshes_the_schema() {
        let mut console = ConsoleSession::new(Database::new("db"));
        assert!(console.tables().is_empty());
        console.draft = "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1), (2); SELECT * FROM nope".into();
        let run = console.run_draft(clock()).expect("a run");
        assert_eq!(run.results.len(), 3);
        assert_eq!(run.failures(), 1);
        assert!(run.elapsed_ms() > 0.0);
        assert_eq!(console.tables().len(), 1);
        assert_eq!(console.tables()[0].row_count, 2);
        assert_eq!(console.history().entries().len(), 1);
    }

    #[test]
    fn runs_are_newest_first_and_bounded() {
        let mut console = ConsoleSession::new(Database::new("db"));
        for i in 0..RUNS_KEPT + 5 {
            console.run(&format!("SELECT {i}"), clock());
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
        let mut console = ConsoleSession::new(Database::new("db"));
        assert!(console.run("  -- just a comment", clock()).is_none());
        assert_eq!(console.runs().count(), 0);
    }

    #[test]
    fn editor_history_navigation_round_trips() {
        let mut console = ConsoleSession::new(Database::new("db"));
        console.run("SELECT 1", clock());
        console.draft = "SELECT 9".into();
        assert!(console.history_previous());
        assert_eq!(console.draft, "SELECT 1");
        assert!(console.history_next());
        assert_eq!(console.draft, "SELECT 9");
        assert!(!console.history_next());
    }
}
