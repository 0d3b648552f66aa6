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

use crate::sim::acquire::{Acquisition, Progress, Requester};
use crate::sim::database::{Connection, Outcome, StatementKind};
use crate::sim::lock_plan::{plan_locks, Isolation};
use crate::sim::locks::{LockManager, LockMode, Owner, Resource, Wakeup};
use crate::sim::owners::{Actor, OwnerRegistry};
use crate::sim::prepared::PreparedCommand;
use crate::sim::sqlstate::SqlState;
use crate::sim::statement::Command;
use crate::sim::storage::ReadMode;
use gluesql::core::store::Store;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// For errors: PostgreSQL's code (`40001`, `40P01`, `55P03`, `25P02`, `23505`, …).
    pub sqlstate: Option<String>,
    /// The result's summary or the error's message.
    pub message: String,
    /// Whether it had to wait for a lock.
    pub blocked: bool,
    /// The step whose completion let it finish, if it waited.
    pub completed_after: Option<usize>,
    /// For queries: the rows, as JSON values.
    pub rows: Option<Vec<Vec<serde_json::Value>>>,
    /// The locks its session held once it ran ("FOR NO KEY UPDATE on test row 1"), in order.
    pub locks: Vec<String>,
    /// While it waits: the lock it waits for and who holds or wants it first.
    pub waiting_for: Option<String>,
    /// A `COMMIT` that ended a failed transaction: it succeeded, but what it did was roll back
    /// (PostgreSQL answers such a `COMMIT` with `ROLLBACK`).
    pub rolled_back: bool,
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
    /// Each session's isolation level now (its transaction's, if it chose one).
    pub levels: BTreeMap<String, Isolation>,
}

#[derive(Clone)]
struct Session {
    connection: Connection,
    owner: Owner,
    /// The step it is blocked on.
    blocked: Option<Pending>,
    statement_locks: Vec<(Resource, LockMode)>,
}

/// A step that has been issued and has not run yet: its statement and its locks.
#[derive(Clone)]
struct Pending {
    index: usize,
    command: PreparedCommand,
    acquisition: Acquisition,
}

/// A script being played on one database's connections and lock manager.
#[derive(Clone)]
pub struct ScriptRunner {
    steps: Vec<StepSpec>,
    reports: Vec<StepReport>,
    sessions: BTreeMap<String, Session>,
    issued: Vec<bool>,
    finished: bool,
    outcome_of_session: BTreeMap<String, bool>,
    /// Steps that began to wait and whose blockers the world has not named yet: the step, the
    /// lock, and who holds or wants it first.
    unnamed_waits: Vec<(usize, String, Vec<Owner>)>,
    /// Wake-ups for owners that are not this script's sessions (a service's operation, the
    /// console), for the world to deliver.
    undelivered: Vec<Wakeup>,
}

impl ScriptRunner {
    /// A runner for `spec` on a database with `isolation`; `connect` opens a connection and
    /// `owners` gives each session its lock owner.
    pub fn new(
        spec: &ScriptSpec,
        isolation: Isolation,
        mut connect: impl FnMut(ReadMode) -> Connection,
        owners: &mut OwnerRegistry,
    ) -> Self {
        let mode = isolation.read_mode();
        let mut sessions = BTreeMap::new();
        for step in &spec.steps {
            sessions
                .entry(step.session.clone())
                .or_insert_with(|| Session {
                    connection: {
                        let mut connection = connect(mode);
                        connection.set_isolation(isolation);
                        connection
                    },
                    owner: owners.allocate(Actor::Session(step.session.clone())),
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
                sqlstate: None,
                message: String::new(),
                blocked: false,
                completed_after: None,
                rows: None,
                locks: Vec::new(),
                waiting_for: None,
                rolled_back: false,
            })
            .collect();
        Self {
            steps: spec.steps.clone(),
            reports,
            sessions,
            issued: vec![false; spec.steps.len()],
            finished: false,
            outcome_of_session: BTreeMap::new(),
            unnamed_waits: Vec::new(),
            undelivered: Vec::new(),
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
        if let Some(pending) = self.prepare(&name, index) {
            self.proceed(&name, pending, locks, None);
        }
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
            if let Some(mut pending) = session.blocked.take() {
                let wakeups = pending
                    .acquisition
                    .stop_waiting()
                    .map(|request| locks.cancel(request, 0))
                    .unwrap_or_default();
                let report = &mut self.reports[pending.index];
                report.outcome = "error".to_owned();
                report.error_kind = Some("aborted".to_owned());
                report.message = "the session disconnected while waiting".to_owned();
                self.wake(wakeups, locks, None);
            }
        }
        self.finished = true;
    }

    /// Parses the step's statement and plans its locks (none for an aborted transaction: its
    /// statements fail at once).
    fn prepare(&mut self, name: &str, index: usize) -> Option<Pending> {
        let session = self.sessions.get_mut(name)?;
        let connection = &mut session.connection;
        let command = Connection::prepare(&self.steps[index].sql)
            .and_then(|command| connection.resolve_views(command))
            .and_then(|command| connection.start_statement(&command).map(|()| command));
        let plan = match &command {
            Ok(Command::Sql { statement, locking }) if !connection.is_aborted() => {
                let store = connection.session();
                plan_locks(statement, *locking, connection.isolation(), |t| {
                    store.fetch_schema(t).ok().flatten()
                })
            }
            _ => Vec::new(),
        };
        Some(Pending {
            index,
            command: PreparedCommand::new(&self.steps[index].sql, command),
            acquisition: Acquisition::new(plan),
        })
    }

    /// Takes the step's locks; runs it when all are held. `after` is the step whose completion
    /// resumed it.
    fn proceed(
        &mut self,
        name: &str,
        mut pending: Pending,
        locks: &mut LockManager,
        after: Option<usize>,
    ) {
        let Some(session) = self.sessions.get_mut(name) else {
            return;
        };
        let progress = pending.acquisition.advance(
            &mut Requester {
                owner: session.owner,
                locks,
                connection: &mut session.connection,
                now: 0,
                statement: None,
            },
            |_| {},
        );
        let index = pending.index;
        let released = pending.acquisition.take_released();
        match progress {
            Progress::Ready => {
                let statement_locks = pending.acquisition.take_statement_locks();
                session.statement_locks.extend(statement_locks);
                self.execute(name, pending, locks, after);
            }
            Progress::Waiting { lock, blockers, .. } => {
                let lock = format!("{} on {}", lock.mode, lock.resource);
                let names: Vec<String> = blockers
                    .iter()
                    .map(|b| self.session_of(*b).unwrap_or("another session").to_owned())
                    .collect();
                let report = &mut self.reports[index];
                report.blocked = true;
                report.waiting_for = Some(format!("{lock}, held by {}", names.join(", ")));
                self.unnamed_waits.push((index, lock, blockers));
                if let Some(session) = self.sessions.get_mut(name) {
                    session.blocked = Some(pending);
                }
            }
            Progress::Deadlock { cycle, .. } => {
                let names: Vec<&str> = cycle.iter().filter_map(|o| self.session_of(*o)).collect();
                // The cycle starts with the requester; each owner waits for the next.
                let waits: Vec<String> = names
                    .iter()
                    .zip(names.iter().cycle().skip(1))
                    .map(|(waiter, holder)| format!("{waiter} waits for {holder}"))
                    .collect();
                let message = format!(
                    "deadlock detected: {}; {name}'s transaction is rolled back",
                    waits.join(", ")
                );
                self.fail(
                    name,
                    index,
                    SqlState::DeadlockDetected,
                    message,
                    locks,
                    after,
                );
            }
            Progress::Failed(error) => {
                self.fail(
                    name,
                    index,
                    error.sqlstate(),
                    error.to_string(),
                    locks,
                    after,
                );
            }
        }
        if !released.is_empty() {
            self.wake(released, locks, after);
        }
    }

    /// The step fails before it runs: its transaction is aborted and its locks go (PostgreSQL
    /// aborts at the error; the session still has to say ROLLBACK).
    fn fail(
        &mut self,
        name: &str,
        index: usize,
        state: SqlState,
        message: String,
        locks: &mut LockManager,
        after: Option<usize>,
    ) {
        let report = &mut self.reports[index];
        report.outcome = "error".to_owned();
        report.error_kind = Some(error_kind(state).to_owned());
        report.sqlstate = Some(state.code().to_owned());
        report.message = message;
        report.completed_after = after;
        let Some(session) = self.sessions.get_mut(name) else {
            return;
        };
        session.connection.abandon_statement();
        if session.connection.in_transaction() {
            session.connection.abort();
            self.outcome_of_session.insert(name.to_owned(), false);
        }
        session.statement_locks.clear();
        let wakeups = locks.release_all(session.owner, 0);
        self.wake(wakeups, locks, Some(index));
    }

    fn execute(
        &mut self,
        name: &str,
        mut pending: Pending,
        locks: &mut LockManager,
        after: Option<usize>,
    ) {
        let Some(session) = self.sessions.get_mut(name) else {
            return;
        };
        let index = pending.index;
        let sql = self.steps[index].sql.clone();
        let kind = StatementKind::of(&sql);
        let only_rows = pending.acquisition.only_rows();
        let result =
            session
                .connection
                .execute_prepared(&sql, pending.command.into_command(), only_rows);
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
                        if kind == StatementKind::Commit {
                            report.rolled_back = true;
                            report.message = "ROLLBACK: the transaction had failed, so COMMIT \
                                              rolled it back"
                                .to_owned();
                        }
                    }
                    _ => {}
                }
            }
            Err(error) => {
                report.outcome = "error".to_owned();
                report.error_kind = Some(error_kind(error.sqlstate()).to_owned());
                report.sqlstate = Some(error.sqlstate().code().to_owned());
                report.message = error.to_string();
            }
        }
        let mut wakeups = Vec::new();
        for (resource, mode) in std::mem::take(&mut session.statement_locks) {
            wakeups.extend(locks.release(session.owner, &resource, mode, 0));
        }
        if matches!(kind, StatementKind::Commit | StatementKind::Rollback)
            || !session.connection.in_transaction()
            || session.connection.is_aborted()
        {
            wakeups.extend(locks.release_all(session.owner, 0));
        }
        let owner = session.owner;
        self.reports[index].locks = locks
            .held()
            .into_iter()
            .filter(|(_, held)| held.owner == owner)
            .map(|(resource, held)| format!("{} on {resource}", held.mode))
            .collect();
        self.wake(wakeups, locks, Some(index));
    }

    /// Resumes the sessions whose lock requests were granted.
    fn wake(&mut self, wakeups: Vec<Wakeup>, locks: &mut LockManager, after: Option<usize>) {
        for wakeup in wakeups {
            let Some(name) = self.session_of(wakeup.owner).map(str::to_owned) else {
                self.undelivered.push(wakeup);
                continue;
            };
            let Some(session) = self.sessions.get_mut(&name) else {
                continue;
            };
            let Some(mut pending) = session.blocked.take() else {
                continue;
            };
            if pending
                .acquisition
                .granted_after_wait(wakeup.request)
                .is_none()
            {
                session.blocked = Some(pending);
                continue;
            }
            self.proceed(&name, pending, locks, after);
        }
    }

    /// Delivers wake-ups that other actors' releases produced for this script's sessions:
    /// each granted step runs (and what it releases may wake others, kept for
    /// [`Self::take_undelivered`]).
    pub fn deliver(&mut self, wakeups: Vec<Wakeup>, locks: &mut LockManager) {
        self.wake(wakeups, locks, None);
    }

    /// Names who the steps that began to wait since the last call wait for: `who` names lock
    /// owners that are not this script's sessions (the console, a service's transaction), while
    /// they are still known.
    pub fn name_waits(&mut self, who: impl Fn(Owner) -> String) {
        for (index, lock, blockers) in std::mem::take(&mut self.unnamed_waits) {
            let names: Vec<String> = blockers
                .iter()
                .map(|b| match self.session_of(*b) {
                    Some(name) => name.to_owned(),
                    None => who(*b),
                })
                .collect();
            if let Some(report) = self.reports.get_mut(index) {
                report.waiting_for = Some(format!("{lock}, held by {}", names.join(", ")));
            }
        }
    }

    /// The wake-ups this script's sessions produced for other actors since the last call.
    pub fn take_undelivered(&mut self) -> Vec<Wakeup> {
        std::mem::take(&mut self.undelivered)
    }

    /// The session a lock owner is.
    pub fn session_of(&self, owner: Owner) -> Option<&str> {
        self.sessions
            .iter()
            .find(|(_, s)| s.owner == owner)
            .map(|(name, _)| name.as_str())
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
            levels: self
                .sessions
                .iter()
                .map(|(name, s)| (name.clone(), s.connection.isolation()))
                .collect(),
        }
    }
}

/// What changed between two reports of a script, in sentences for the page's narration: each
/// step that ran (with its outcome), each step that started to wait (and for whom), each wait
/// that ended (and which step ended it), deadlocks and their victims.
pub fn narrate(
    before: &ScriptReport,
    after: &ScriptReport,
    database: &str,
) -> Vec<(crate::sim::world::NarrationKind, String, Option<String>)> {
    use crate::sim::world::NarrationKind;
    let mut lines = Vec::new();
    for step in &after.steps {
        let old = before.steps.get(step.index);
        let was_waiting = old.is_some_and(|o| o.outcome == "pending" && o.blocked);
        let changed = old.is_none_or(|o| o.outcome != step.outcome || o.blocked != step.blocked);
        if !changed {
            continue;
        }
        let who = &step.session;
        let sql = Some(step.sql.clone());
        let line = match (step.outcome.as_str(), step.error_kind.as_deref()) {
            ("pending", _) if !step.blocked => continue,
            ("pending", _) => (
                NarrationKind::LockWait,
                format!(
                    "{who} waits (step {}): {}",
                    step.index + 1,
                    step.waiting_for.as_deref().unwrap_or("for a lock")
                ),
            ),
            ("ok", _) if was_waiting => (
                NarrationKind::LockWait,
                format!(
                    "{who} got its lock and went on (step {}){}: {}",
                    step.index + 1,
                    step.completed_after
                        .and_then(|i| after.steps.get(i))
                        .map(|freed| format!(
                            " after {}'s {} (step {})",
                            freed.session,
                            first_word(&freed.sql),
                            freed.index + 1
                        ))
                        .unwrap_or_default(),
                    step.message
                ),
            ),
            ("ok", _) => (
                NarrationKind::Action,
                format!("{who} (step {}): {}", step.index + 1, step.message),
            ),
            (_, Some("deadlock")) => (
                NarrationKind::Deadlock,
                format!(
                    "deadlock on {database}: {who} is aborted (step {}) — {}",
                    step.index + 1,
                    step.message
                ),
            ),
            _ => (
                NarrationKind::Error,
                format!("{who} failed (step {}): {}", step.index + 1, step.message),
            ),
        };
        lines.push((line.0, line.1, sql));
    }
    lines
}

fn first_word(sql: &str) -> String {
    sql.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase()
}

/// A step's error kind, from its code.
fn error_kind(state: SqlState) -> &'static str {
    match state {
        SqlState::InFailedSqlTransaction => "aborted",
        SqlState::LockNotAvailable => "lock_timeout",
        SqlState::SerializationFailure => "serialization",
        SqlState::DeadlockDetected => "deadlock",
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
