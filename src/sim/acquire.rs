//! Taking one statement's locks, in order, for a simulated client — a service's operation, the
//! console or a scripted session — until all are held, one must be waited for, or the statement
//! must fail.
//!
//! A [`RowSet`] step is expanded when it is reached: the statement's own connection finds the
//! rows (so it sees its transaction's snapshot and its own writes) and each row is locked in
//! turn. `SKIP LOCKED` passes over a row another transaction holds, `NOWAIT` fails at once, and
//! a `LIMIT` stops the locking once enough rows are held. A locking `SELECT` then reads only the
//! rows it locked. Under READ COMMITTED a row that changed since the statement's snapshot is
//! re-checked against its newest version once locked and passed over if it no longer matches
//! (PostgreSQL's EvalPlanQual), so `FOR UPDATE … LIMIT 1` moves on to the next candidate; the
//! row stays locked, as in PostgreSQL.

use crate::sim::clock::Micros;
use crate::sim::database::{Connection, DbError};
use crate::sim::isolation::planted::{self, Fault};
use crate::sim::lock_plan::{LockDuration, LockRequest, LockStep, RowSet};
use crate::sim::locks::{
    Acquired, LockManager, LockMode, Owner, RequestId, Resource, WaitPolicy, Wakeup,
};
use crate::sim::sqlstate::SqlState;
use crate::sim::storage::{KeyHint, ReadMode};
use gluesql::core::ast::{Query, Statement};
use gluesql::core::data::Key;
use std::collections::VecDeque;
use std::rc::Rc;

/// Where taking a statement's locks stands.
#[derive(Debug, PartialEq)]
pub enum Progress {
    /// Every lock is held: the statement can run.
    Ready,
    /// It waits for `lock`, queued as `request` behind `blockers`.
    Waiting {
        /// The queued request, to recognise its grant or cancel it.
        request: RequestId,
        /// The lock waited for.
        lock: LockRequest,
        /// Who it waits for.
        blockers: Vec<Owner>,
    },
    /// Waiting for `lock` would close `cycle`: this statement's transaction is the victim.
    Deadlock {
        /// The lock it asked for.
        lock: LockRequest,
        /// The owners in the cycle, starting with this one.
        cycle: Vec<Owner>,
    },
    /// The statement fails without running (`NOWAIT` met a locked row, or finding the rows to
    /// lock failed).
    Failed(DbError),
}

/// A row set being locked.
#[derive(Debug, Clone)]
struct RowsInProgress {
    set: RowSet,
    remaining: VecDeque<Key>,
    locked: Vec<Key>,
    /// A row whose lock was granted after a wait, still to be re-checked.
    granted: Option<Key>,
}

/// The locks one statement still has to take, and those it took for itself.
#[derive(Debug, Default, Clone)]
pub struct Acquisition {
    todo: VecDeque<LockStep>,
    rows: Option<RowsInProgress>,
    waiting: Option<(RequestId, LockRequest)>,
    only_rows: Option<KeyHint>,
    statement_locks: Vec<(Resource, LockMode)>,
    /// The lock waited for is a [`LockStep::RowIfPresent`].
    waiting_if_present: bool,
    /// A row lock granted after a wait, to give up if the row was deleted meanwhile.
    vanish_check: Option<LockRequest>,
    /// Wake-ups from locks given up, for the caller to deliver ([`Self::take_released`]).
    released: Vec<Wakeup>,
}

/// Who asks, and where: the context of [`Acquisition::advance`].
pub struct Requester<'a> {
    /// The lock owner (one per transaction).
    pub owner: Owner,
    /// The database's lock manager.
    pub locks: &'a mut LockManager,
    /// The statement's connection (to find the rows of a [`RowSet`]).
    pub connection: &'a mut Connection,
    /// The simulated time.
    pub now: Micros,
    /// The statement's SQL, shown with the locks it holds.
    pub statement: Option<Rc<str>>,
}

impl Acquisition {
    /// Starts taking `plan`'s locks.
    pub fn new(plan: Vec<LockStep>) -> Self {
        Self {
            todo: plan.into(),
            ..Self::default()
        }
    }

    /// Takes the next locks in order; `granted` hears of each lock granted at once. Stops when
    /// all are held, at one that must be waited for, or when the statement must fail.
    pub fn advance(
        &mut self,
        who: &mut Requester<'_>,
        mut granted: impl FnMut(&LockRequest),
    ) -> Progress {
        loop {
            let read_committed =
                who.connection.session().read_mode() == ReadMode::StatementSnapshot;
            if let Some(lock) = self.vanish_check.take().filter(|_| read_committed) {
                if let Resource::Row(table, key) = &lock.resource {
                    if !who.connection.session().row_exists_now(table, key) {
                        // The row was deleted by the transaction waited for: nothing to lock.
                        let wakeups =
                            who.locks
                                .release(who.owner, &lock.resource, lock.mode, who.now);
                        self.released.extend(wakeups);
                    }
                }
            }
            if let Some(rows) = &mut self.rows {
                if let Some(key) = rows.granted.take() {
                    if read_committed
                        && !who
                            .connection
                            .session()
                            .row_exists_now(&rows.set.table, &key)
                    {
                        // Deleted by the transaction it waited for: skipped, and not kept
                        // locked (REPEATABLE READ fails on it instead, below).
                        let resource = Resource::Row(rows.set.table.clone(), key);
                        let mode = LockMode::Row(rows.set.mode);
                        let wakeups = who.locks.release(who.owner, &resource, mode, who.now);
                        self.released.extend(wakeups);
                        continue;
                    }
                    match accept(who.connection, rows, key) {
                        Ok(()) => {}
                        Err(error) => {
                            self.rows = None;
                            return Progress::Failed(error);
                        }
                    }
                    continue;
                }
                let enough = rows.set.limit.is_some_and(|n| rows.locked.len() >= n);
                let Some(key) = rows.remaining.front().cloned().filter(|_| !enough) else {
                    // A snapshot transaction cannot lock a row changed since its snapshot.
                    let session = who.connection.session();
                    if rows
                        .locked
                        .iter()
                        .any(|key| session.row_changed_since_snapshot(&rows.set.table, key))
                    {
                        self.rows = None;
                        return Progress::Failed(DbError::Storage {
                            state: SqlState::SerializationFailure,
                            message: "could not serialize access due to concurrent update"
                                .to_owned(),
                        });
                    }
                    if let Some(done) = self.rows.take().filter(|r| r.set.restrict) {
                        let mut keys = done.locked;
                        keys.sort();
                        self.only_rows = Some(KeyHint {
                            table: done.set.table,
                            keys,
                        });
                    }
                    continue;
                };
                let lock = LockRequest {
                    resource: Resource::Row(rows.set.table.clone(), key.clone()),
                    mode: LockMode::Row(rows.set.mode),
                    duration: rows.set.duration,
                };
                let policy = rows.set.wait;
                match who.locks.acquire(
                    who.owner,
                    lock.resource.clone(),
                    lock.mode,
                    who.now,
                    who.statement.clone(),
                    policy,
                ) {
                    Acquired::Granted => {
                        rows.remaining.pop_front();
                        rows.granted = Some(key);
                        self.note_granted(&lock, &mut granted);
                    }
                    Acquired::WouldWait { .. } if policy == WaitPolicy::SkipLocked => {
                        rows.remaining.pop_front();
                    }
                    Acquired::WouldWait { .. } => {
                        return Progress::Failed(DbError::LockNotAvailable(format!(
                            "could not obtain lock on row in relation \"{}\"",
                            rows.set.table
                        )));
                    }
                    Acquired::Waiting { request, blockers } => {
                        self.waiting = Some((request, lock.clone()));
                        return Progress::Waiting {
                            request,
                            lock,
                            blockers,
                        };
                    }
                    Acquired::Deadlock { cycle } => return Progress::Deadlock { lock, cycle },
                }
                continue;
            }
            let Some(step) = self.todo.pop_front() else {
                return Progress::Ready;
            };
            self.waiting_if_present = false;
            let lock = match step {
                LockStep::Lock(lock) => lock,
                LockStep::RowIfPresent(lock) => {
                    let Resource::Row(table, key) = &lock.resource else {
                        continue;
                    };
                    if !who.connection.session().row_visible(table, key) {
                        continue; // PostgreSQL locks only the rows its scan finds.
                    }
                    self.waiting_if_present = true;
                    lock
                }
                LockStep::InsertKey(lock) => {
                    let Resource::Row(table, key) = &lock.resource else {
                        continue;
                    };
                    if who.connection.session().key_settled(table, key) {
                        continue; // The insert will fail with a duplicate key at once.
                    }
                    lock
                }
                LockStep::Rows(set) => {
                    match find_rows(who.connection, &set.candidates) {
                        Ok(keys) => {
                            self.rows = Some(RowsInProgress {
                                remaining: keys.into(),
                                locked: Vec::new(),
                                granted: None,
                                set,
                            });
                        }
                        Err(error) => return Progress::Failed(error),
                    }
                    continue;
                }
            };
            match who.locks.acquire(
                who.owner,
                lock.resource.clone(),
                lock.mode,
                who.now,
                who.statement.clone(),
                WaitPolicy::Wait,
            ) {
                Acquired::Granted | Acquired::WouldWait { .. } => {
                    self.note_granted(&lock, &mut granted);
                }
                Acquired::Waiting { request, blockers } => {
                    self.waiting = Some((request, lock.clone()));
                    return Progress::Waiting {
                        request,
                        lock,
                        blockers,
                    };
                }
                Acquired::Deadlock { cycle } => return Progress::Deadlock { lock, cycle },
            }
        }
    }

    /// The lock manager granted `request` after a wait: notes it, and returns the lock if it
    /// was this statement's (call [`Self::advance`] next).
    pub fn granted_after_wait(&mut self, request: RequestId) -> Option<LockRequest> {
        if self.waiting.as_ref().map(|(r, _)| *r) != Some(request) {
            return None;
        }
        let (_, lock) = self.waiting.take()?;
        if let Some(rows) = &mut self.rows {
            rows.granted = rows.remaining.pop_front();
        }
        if std::mem::take(&mut self.waiting_if_present) {
            self.vanish_check = Some(lock.clone());
        }
        self.note_granted(&lock, &mut |_| {});
        Some(lock)
    }

    /// The request it waits for, if any.
    pub fn waiting_for(&self) -> Option<RequestId> {
        self.waiting.as_ref().map(|(r, _)| *r)
    }

    /// Stops waiting (a timeout cancelled the request, or the client gave up).
    pub fn stop_waiting(&mut self) -> Option<RequestId> {
        self.waiting.take().map(|(r, _)| r)
    }

    /// The rows a locking `SELECT` locked: the statement reads only these.
    pub fn only_rows(&mut self) -> Option<KeyHint> {
        self.only_rows.take()
    }

    /// Wake-ups for others from row locks this statement gave up (a row deleted while it
    /// waited): the caller delivers them.
    pub fn take_released(&mut self) -> Vec<Wakeup> {
        std::mem::take(&mut self.released)
    }

    /// The locks to release when the statement ends (read locks under `read_committed`).
    pub fn take_statement_locks(&mut self) -> Vec<(Resource, LockMode)> {
        std::mem::take(&mut self.statement_locks)
    }

    fn note_granted(&mut self, lock: &LockRequest, granted: &mut impl FnMut(&LockRequest)) {
        if lock.duration == LockDuration::Statement {
            self.statement_locks
                .push((lock.resource.clone(), lock.mode));
        }
        granted(lock);
    }
}

/// Counts a row just locked as one of the statement's, unless the READ COMMITTED re-check finds
/// that its newest version no longer matches (PostgreSQL's EvalPlanQual).
fn accept(connection: &mut Connection, rows: &mut RowsInProgress, key: Key) -> Result<(), DbError> {
    // Locking a row writes the locker's transaction id into it: it now has one.
    connection.session().assign_xid();
    let recheck = rows.set.recheck && !planted::is(Fault::NoRecheck);
    if !recheck || connection.still_matches(&rows.set.candidates, &rows.set.table, &key)? {
        rows.locked.push(key);
    }
    Ok(())
}

/// The keys of the rows to lock; an `ORDER BY` that names the select list's aliases cannot run
/// on the key alone, so it is dropped then (the rows are locked in key order).
fn find_rows(connection: &mut Connection, candidates: &Statement) -> Result<Vec<Key>, DbError> {
    match connection.candidate_keys(candidates.clone()) {
        Ok(keys) => Ok(keys),
        Err(error) => match candidates {
            Statement::Query(query) if !query.order_by.is_empty() => {
                let unordered = Statement::Query(Query {
                    order_by: Vec::new(),
                    ..query.clone()
                });
                connection.candidate_keys(unordered).map_err(|_| error)
            }
            _ => Err(error),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::database::Database;
    use crate::sim::lock_plan::{plan_locks, Isolation};
    use crate::sim::statement::{prepare, Command};
    use crate::sim::storage::ReadMode;
    use gluesql::core::store::Store;

    struct Setup {
        db: Database,
        locks: LockManager,
    }

    fn setup() -> Setup {
        let mut db = Database::new("jobs");
        db.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY, state TEXT)")
            .expect("create");
        db.execute("INSERT INTO jobs VALUES (1, 'new'), (2, 'new'), (3, 'done'), (4, 'new')")
            .expect("insert");
        Setup {
            db,
            locks: LockManager::default(),
        }
    }

    fn start(
        s: &mut Setup,
        connection: &mut Connection,
        owner: Owner,
        sql: &str,
    ) -> (Acquisition, Progress) {
        let Command::Sql { statement, locking } = prepare(sql).expect("prepares") else {
            panic!("not a statement")
        };
        let plan = plan_locks(&statement, locking, Isolation::RepeatableRead, |t| {
            connection.session().fetch_schema(t).ok().flatten()
        });
        let mut acquisition = Acquisition::new(plan);
        let progress = acquisition.advance(
            &mut Requester {
                owner,
                locks: &mut s.locks,
                connection,
                now: 0,
                statement: None,
            },
            |_| {},
        );
        (acquisition, progress)
    }

    #[test]
    fn skip_locked_takes_the_next_free_rows_and_reads_only_them() {
        let mut s = setup();
        let mut first = s.db.connect(ReadMode::TransactionSnapshot);
        let mut second = s.db.connect(ReadMode::TransactionSnapshot);
        let sql =
            "SELECT id FROM jobs WHERE state = 'new' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED";
        let (mut a, progress) = start(&mut s, &mut first, 1, sql);
        assert_eq!(progress, Progress::Ready);
        let keys = a.only_rows().expect("restricted").keys;
        assert_eq!(keys, [Key::I64(1)]);
        let (mut b, progress) = start(&mut s, &mut second, 2, sql);
        assert_eq!(progress, Progress::Ready);
        assert_eq!(b.only_rows().expect("restricted").keys, [Key::I64(2)]);
    }

    #[test]
    fn nowait_fails_at_once_and_a_plain_lock_waits() {
        let mut s = setup();
        let mut first = s.db.connect(ReadMode::TransactionSnapshot);
        let mut second = s.db.connect(ReadMode::TransactionSnapshot);
        let (_, progress) = start(
            &mut s,
            &mut first,
            1,
            "SELECT * FROM jobs WHERE id = 2 FOR UPDATE",
        );
        assert_eq!(progress, Progress::Ready);
        let (_, progress) = start(
            &mut s,
            &mut second,
            2,
            "SELECT * FROM jobs WHERE id = 2 FOR SHARE NOWAIT",
        );
        let Progress::Failed(error) = progress else {
            panic!("expected a failure, got {progress:?}")
        };
        assert_eq!(
            error.to_string(),
            "could not obtain lock on row in relation \"jobs\""
        );
        let (mut waiting, progress) = start(
            &mut s,
            &mut second,
            2,
            "UPDATE jobs SET state = 'x' WHERE state = 'new'",
        );
        let Progress::Waiting {
            request,
            blockers,
            lock,
        } = progress
        else {
            panic!("expected a wait, got {progress:?}")
        };
        assert_eq!(blockers, [1]);
        assert_eq!(lock.resource.to_string(), "jobs row 2");
        // Row 1 was locked before the wait; rows 4 follows once row 2 is granted.
        let wakeups = s.locks.release_all(1, 10);
        assert_eq!(wakeups.len(), 1);
        assert_eq!(
            waiting.granted_after_wait(request).map(|l| l.resource),
            Some(lock.resource)
        );
        let progress = waiting.advance(
            &mut Requester {
                owner: 2,
                locks: &mut s.locks,
                connection: &mut second,
                now: 10,
                statement: None,
            },
            |_| {},
        );
        assert_eq!(progress, Progress::Ready);
        let held: Vec<String> = s
            .locks
            .held()
            .iter()
            .filter(|(_, h)| h.owner == 2)
            .map(|(r, _)| r.to_string())
            .collect();
        assert!(
            ["jobs row 1", "jobs row 2", "jobs row 4"]
                .iter()
                .all(|r| held.contains(&r.to_string())),
            "{held:?}"
        );
        assert!(!held.contains(&"jobs row 3".to_owned()));
    }
}
