//! Scripted sessions: an explicit interleaving of statements by named sessions, for step-by-step
//! demonstrations of locks and anomalies (lost update, deadlock, write skew, …).
//!
//! Models several `psql` windows side by side. Steps are issued in the listed order; a step is
//! issued once the previous one has completed or is blocked on a lock; a step whose session is
//! still blocked waits until that session is free, while the other sessions' steps go on (as a
//! person at two terminals types on in the free one). A blocked step completes when the lock it
//! waits for is granted — usually because another step committed or rolled back, which the
//! report names (`completed_after`). When nothing more can happen, every session still inside a
//! transaction is rolled back, as when a client disconnects, so every step ends with an outcome.
//! Simplification: steps take no simulated time.

use crate::sim::database::{Connection, DbError, Outcome, StatementKind};
use crate::sim::lock_plan::{plan_locks, Isolation, LockDuration, LockRequest};
use crate::sim::locks::{Acquired, LockManager, LockMode, Owner, Resource, WaitPolicy, Wakeup};
use crate::sim::storage::ReadMode;
use gluesql::core::store::Store;
use gluesql::prelude::{parse, translate};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// A scenario's `[script]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScriptSpec {
    /// The database the sessions connect to.
    pub database: String,
    /// The statements, in the order they are issued.
    pub steps: Vec<StepSpec>,
}

/// One step: a session and a statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// The session's name (`T1`, `alice`, …).
    pub session: String,
    /// One SQL statement.
    pub sql: String,
}

/// What became of a step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    /// Its position in the script, from 0.
    pub index: usize,
    /// The session.
    pub session: String,
    /// The statement.
    pub sql: String,
    /// `ok` or `error` (`pending` only while it waits).
    pub outcome: String,
    /// For errors: `deadlock`, `lock_timeout`, `serialization`, `aborted` or `sql`.
    pub error_kind: Option<String>,
    /// The result's summary or the error's message.
    pub message: String,
    /// Whether it had to wait for a lock.
    pub blocked: bool,
    /// The step whose completion let it finish, if it waited.
    pub completed_after: Option<usize>,
    /// For queries: the rows, as JSON values.
    pub rows: Option<Vec<Vec<serde_json::Value>>>,
}

/// The report of a script.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ScriptReport {
    /// Every step, in listed order.
    pub steps: Vec<StepReport>,
    /// Sessions whose last transaction committed.
    pub committed: Vec<String>,
    /// Sessions whose last transaction was rolled back or aborted.
    pub aborted: Vec<String>,
}

struct Session {
    connection: Connection,
    owner: Owner,
    /// The step it is blocked on, with the locks still to take.
    blocked: Option<(usize, VecDeque<LockRequest>, u64)>,
    statement_locks: Vec<(Resource, LockMode)>,
}

/// A script being played on one database's connections and lock manager.
pub struct ScriptRunner {
    steps: Vec<StepSpec>,
    reports: Vec<StepReport>,
    sessions: BTreeMap<String, Session>,
    issued: Vec<bool>,
    isolation: Isolation,
    finished: bool,
    outcome_of_session: BTreeMap<String, bool>,
}

impl ScriptRunner {
    /// A runner for `spec` on a database with `isolation`; `connect` opens a connection.
    pub fn new(
        spec: &ScriptSpec,
        isolation: Isolation,
        mut connect: impl FnMut(ReadMode) -> Connection,
    ) -> Self {
        let mode = isolation.read_mode();
        let mut sessions = BTreeMap::new();
        for (i, step) in spec.steps.iter().enumerate() {
            sessions
                .entry(step.session.clone())
                .or_insert_with(|| Session {
                    connection: connect(mode),
                    // Owners of scripted sessions count down from the top, apart from services'.
                    owner: u64::MAX - i as u64,
                    blocked: None,
                    statement_locks: Vec::new(),
                });
        }
        let reports = spec
            .steps
            .iter()
            .enumerate()
            .map(|(index, s)| StepReport {
                index,
                session: s.session.clone(),
                sql: s.sql.clone(),
                outcome: "pending".to_owned(),
                error_kind: None,
                message: String::new(),
                blocked: false,
                completed_after: None,
                rows: None,
            })
            .collect();
        Self {
            steps: spec.steps.clone(),
            reports,
            sessions,
            issued: vec![false; spec.steps.len()],
            isolation,
            finished: false,
            outcome_of_session: BTreeMap::new(),
        }
    }

    /// Whether every step has been issued and the sessions disconnected.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The step to issue next: the first one not yet issued whose session is free (a blocked
    /// session's steps wait for it; the other sessions go on, as people at two terminals do).
    pub fn next_step(&self) -> Option<usize> {
        (0..self.steps.len()).find(|&i| {
            !self.issued[i]
                && !(0..i)
                    .any(|j| !self.issued[j] && self.steps[j].session == self.steps[i].session)
                && self
                    .sessions
                    .get(&self.steps[i].session)
                    .is_some_and(|s| s.blocked.is_none())
        })
    }

    /// Issues the next step (see [`Self::next_step`]). Returns whether a step was issued.
    pub fn issue_next(&mut self, locks: &mut LockManager) -> bool {
        let Some(index) = self.next_step() else {
            return false;
        };
        self.issued[index] = true;
        let name = self.steps[index].session.clone();
        let plan = self.plan(&name, index);
        self.take_locks(&name, index, plan.into(), locks, None);
        true
    }

    /// Issues every step it can, then disconnects every session (rolling back what is open).
    pub fn run_to_end(&mut self, locks: &mut LockManager) {
        while self.issue_next(locks) {}
        self.finish(locks);
    }

    /// Disconnects the sessions left inside a transaction with nothing more to do, one by one
    /// (rolling back, which may let blocked steps and the steps behind them go on), until no
    /// session is left open; then marks the script finished.
    pub fn finish(&mut self, locks: &mut LockManager) {
        loop {
            while self.issue_next(locks) {}
            let idle = self
                .sessions
                .iter()
                .find(|(_, s)| s.blocked.is_none() && s.connection.in_transaction())
                .map(|(name, _)| name.clone());
            let Some(name) = idle else { break };
            let Some(session) = self.sessions.get_mut(&name) else {
                break;
            };
            let _ = session.connection.execute("ROLLBACK");
            self.outcome_of_session.insert(name.clone(), false);
            let owner = session.owner;
            let wakeups = locks.release_all(owner, 0);
            self.wake(wakeups, locks, None);
        }
        // Nothing can still be blocked (a cycle of waits is a deadlock, caught when it forms),
        // but a disconnecting client would give up any wait.
        let names: Vec<String> = self.sessions.keys().cloned().collect();
        for name in names {
            let Some(session) = self.sessions.get_mut(&name) else {
                continue;
            };
            if let Some((index, _, request)) = session.blocked.take() {
                let wakeups = locks.cancel(request, 0);
                let report = &mut self.reports[index];
                report.outcome = "error".to_owned();
                report.error_kind = Some("aborted".to_owned());
                report.message = "the session disconnected while waiting".to_owned();
                self.wake(wakeups, locks, None);
            }
        }
        self.finished = true;
    }

    fn plan(&self, name: &str, index: usize) -> Vec<LockRequest> {
        let Some(session) = self.sessions.get(name) else {
            return Vec::new();
        };
        let store = session.connection.session();
        parse(&self.steps[index].sql)
            .ok()
            .and_then(|mut parsed| parsed.pop())
            .and_then(|statement| translate(&statement).ok())
            .map(|statement| {
                plan_locks(&statement, self.isolation, |t| {
                    store.fetch_schema(t).ok().flatten()
                })
            })
            .unwrap_or_default()
    }

    /// Takes the step's locks; runs it when all are held. `after` is the step whose completion
    /// resumed it.
    fn take_locks(
        &mut self,
        name: &str,
        index: usize,
        mut todo: VecDeque<LockRequest>,
        locks: &mut LockManager,
        after: Option<usize>,
    ) {
        let Some(session) = self.sessions.get_mut(name) else {
            return;
        };
        if session.connection.is_aborted() {
            todo.clear(); // A failed transaction takes no more locks; the statement fails.
        }
        while let Some(request) = todo.front().cloned() {
            match locks.acquire(
                session.owner,
                request.resource.clone(),
                request.mode,
                0,
                None,
                WaitPolicy::Wait,
            ) {
                Acquired::Granted | Acquired::WouldWait { .. } => {
                    todo.pop_front();
                    if request.duration == LockDuration::Statement {
                        session
                            .statement_locks
                            .push((request.resource, request.mode));
                    }
                }
                Acquired::Waiting { request, .. } => {
                    self.reports[index].blocked = true;
                    session.blocked = Some((index, todo, request));
                    return;
                }
                Acquired::Deadlock { cycle } => {
                    let names: Vec<String> = cycle
                        .iter()
                        .filter_map(|o| {
                            self.sessions
                                .iter()
                                .find(|(_, s)| s.owner == *o)
                                .map(|(n, _)| n.clone())
                        })
                        .collect();
                    let report = &mut self.reports[index];
                    report.outcome = "error".to_owned();
                    report.error_kind = Some("deadlock".to_owned());
                    report.message = format!(
                        "deadlock detected: {} wait for each other",
                        names.join(" → ")
                    );
                    report.completed_after = after;
                    // The victim's transaction is aborted, and its locks go.
                    let Some(session) = self.sessions.get_mut(name) else {
                        return;
                    };
                    session.connection.abort();
                    self.outcome_of_session.insert(name.to_owned(), false);
                    let wakeups = locks.release_all(session.owner, 0);
                    self.wake(wakeups, locks, Some(index));
                    return;
                }
            }
        }
        self.execute(name, index, locks, after);
    }

    fn execute(&mut self, name: &str, index: usize, locks: &mut LockManager, after: Option<usize>) {
        let Some(session) = self.sessions.get_mut(name) else {
            return;
        };
        let sql = self.steps[index].sql.clone();
        let kind = StatementKind::of(&sql);
        let result = session.connection.execute(&sql);
        let report = &mut self.reports[index];
        report.completed_after = after;
        match result {
            Ok(result) => {
                report.outcome = "ok".to_owned();
                report.message = result.summary();
                if let Outcome::Rows { rows, .. } = &result.outcome {
                    report.rows = Some(
                        rows.iter()
                            .map(|r| r.iter().map(json_cell).collect())
                            .collect(),
                    );
                }
                match result.kind {
                    StatementKind::Commit => {
                        self.outcome_of_session.insert(name.to_owned(), true);
                    }
                    StatementKind::Rollback => {
                        self.outcome_of_session.insert(name.to_owned(), false);
                    }
                    _ => {}
                }
            }
            Err(error) => {
                report.outcome = "error".to_owned();
                report.error_kind = Some(error_kind(&error).to_owned());
                report.message = error.to_string();
            }
        }
        let mut wakeups = Vec::new();
        for (resource, mode) in std::mem::take(&mut session.statement_locks) {
            wakeups.extend(locks.release(session.owner, &resource, mode, 0));
        }
        if matches!(kind, StatementKind::Commit | StatementKind::Rollback)
            || !session.connection.in_transaction()
        {
            wakeups.extend(locks.release_all(session.owner, 0));
        }
        self.wake(wakeups, locks, Some(index));
    }

    /// Resumes the sessions whose lock requests were granted.
    fn wake(&mut self, wakeups: Vec<Wakeup>, locks: &mut LockManager, after: Option<usize>) {
        for wakeup in wakeups {
            let Some(name) = self
                .sessions
                .iter()
                .find(|(_, s)| s.owner == wakeup.owner)
                .map(|(n, _)| n.clone())
            else {
                continue;
            };
            let Some(session) = self.sessions.get_mut(&name) else {
                continue;
            };
            let Some((index, mut todo, request)) = session.blocked.take() else {
                continue;
            };
            if request != wakeup.request {
                session.blocked = Some((index, todo, request));
                continue;
            }
            if let Some(granted) = todo.pop_front() {
                if granted.duration == LockDuration::Statement {
                    session
                        .statement_locks
                        .push((granted.resource, granted.mode));
                }
            }
            self.take_locks(&name, index, todo, locks, after);
        }
    }

    /// The report so far.
    pub fn report(&self) -> ScriptReport {
        let mut committed = Vec::new();
        let mut aborted = Vec::new();
        for (name, ok) in &self.outcome_of_session {
            if *ok {
                committed.push(name.clone());
            } else {
                aborted.push(name.clone());
            }
        }
        ScriptReport {
            steps: self.reports.clone(),
            committed,
            aborted,
        }
    }
}

fn error_kind(error: &DbError) -> &'static str {
    let message = error.to_string();
    match error {
        DbError::TransactionAborted => "aborted",
        _ if message.contains("could not serialize") || message.contains("being written") => {
            "serialization"
        }
        _ if message.contains("deadlock") => "deadlock",
        _ => "sql",
    }
}

fn json_cell(cell: &crate::sim::database::Cell) -> serde_json::Value {
    use crate::sim::database::CellKind;
    match cell.kind {
        CellKind::Null => serde_json::Value::Null,
        CellKind::Number => cell
            .text
            .parse::<i64>()
            .map(serde_json::Value::from)
            .or_else(|_| cell.text.parse::<f64>().map(serde_json::Value::from))
            .unwrap_or_else(|_| serde_json::Value::String(cell.text.clone())),
        CellKind::Bool => serde_json::Value::Bool(cell.text == "TRUE"),
        CellKind::Text => serde_json::Value::String(cell.text.clone()),
    }
}
