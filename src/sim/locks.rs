//! The lock manager: PostgreSQL's table-level lock modes and row-level locks, FIFO wait queues,
//! a waits-for graph with deadlock detection, and everything the page needs to draw them.
//!
//! Models PostgreSQL's heavyweight lock manager. The eight table modes (ACCESS SHARE …
//! ACCESS EXCLUSIVE) and the four row modes (FOR KEY SHARE … FOR UPDATE) conflict as
//! PostgreSQL's documentation tabulates. Each resource has holders and a FIFO queue of waiters; a
//! request is granted only if it conflicts with no lock another owner holds *and* with no earlier
//! request still waiting — which is why one `ALTER TABLE` waiting for a long report makes every
//! later reader wait too. A request that would wait is checked for a deadlock first; the
//! requester is the victim.
//!
//! Simplifications: row locks live here, in memory, not in the tuples; an owner's own locks never
//! conflict with each other; the deadlock victim is always the requester (PostgreSQL aborts
//! whichever backend's deadlock check fires first, usually the one that waited last).

use crate::sim::clock::Micros;
use gluesql::core::data::{Key, Value};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::rc::Rc;

/// Who holds or waits for locks: a transaction (or session) id.
pub type Owner = u64;

/// PostgreSQL's table-level lock modes, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TableLockMode {
    /// Taken by `SELECT`.
    AccessShare,
    /// Taken by `SELECT … FOR UPDATE/SHARE`.
    RowShare,
    /// Taken by `INSERT`, `UPDATE`, `DELETE`.
    RowExclusive,
    /// Taken by `VACUUM`, `CREATE INDEX CONCURRENTLY`.
    ShareUpdateExclusive,
    /// Taken by `CREATE INDEX` (and by reads under the locking isolation levels here).
    Share,
    /// Taken by `CREATE TRIGGER`.
    ShareRowExclusive,
    /// Taken by `REFRESH MATERIALIZED VIEW CONCURRENTLY`.
    Exclusive,
    /// Taken by `ALTER TABLE`, `DROP TABLE`, `TRUNCATE`.
    AccessExclusive,
}

impl TableLockMode {
    /// All eight modes, weakest first.
    pub const ALL: [Self; 8] = [
        Self::AccessShare,
        Self::RowShare,
        Self::RowExclusive,
        Self::ShareUpdateExclusive,
        Self::Share,
        Self::ShareRowExclusive,
        Self::Exclusive,
        Self::AccessExclusive,
    ];

    /// The modes this one conflicts with, as a bit set over [`Self::ALL`] (PostgreSQL's
    /// `LockConflicts` table).
    fn conflict_bits(self) -> u8 {
        const AS: u8 = 1;
        const RS: u8 = 1 << 1;
        const RE: u8 = 1 << 2;
        const SUE: u8 = 1 << 3;
        const S: u8 = 1 << 4;
        const SRE: u8 = 1 << 5;
        const E: u8 = 1 << 6;
        const AE: u8 = 1 << 7;
        match self {
            Self::AccessShare => AE,
            Self::RowShare => E | AE,
            Self::RowExclusive => S | SRE | E | AE,
            Self::ShareUpdateExclusive => SUE | S | SRE | E | AE,
            Self::Share => RE | SUE | SRE | E | AE,
            Self::ShareRowExclusive => RE | SUE | S | SRE | E | AE,
            Self::Exclusive => RS | RE | SUE | S | SRE | E | AE,
            Self::AccessExclusive => AS | RS | RE | SUE | S | SRE | E | AE,
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// Whether a lock in this mode conflicts with one in `other` held by another transaction.
    pub fn conflicts_with(self, other: Self) -> bool {
        self.conflict_bits() & other.bit() != 0
    }

    /// The name PostgreSQL uses: `ACCESS SHARE`, `ROW EXCLUSIVE`, …
    pub fn name(self) -> &'static str {
        match self {
            Self::AccessShare => "ACCESS SHARE",
            Self::RowShare => "ROW SHARE",
            Self::RowExclusive => "ROW EXCLUSIVE",
            Self::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            Self::Share => "SHARE",
            Self::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            Self::Exclusive => "EXCLUSIVE",
            Self::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }
}

/// PostgreSQL's row-level lock modes, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum RowLockMode {
    /// `SELECT … FOR KEY SHARE` (and foreign-key checks).
    ForKeyShare,
    /// `SELECT … FOR SHARE` (and reads under the locking isolation levels here).
    ForShare,
    /// `UPDATE` that does not change a key.
    ForNoKeyUpdate,
    /// `SELECT … FOR UPDATE`, `DELETE`, `UPDATE` of a key.
    ForUpdate,
}

impl RowLockMode {
    /// All four modes, weakest first.
    pub const ALL: [Self; 4] = [
        Self::ForKeyShare,
        Self::ForShare,
        Self::ForNoKeyUpdate,
        Self::ForUpdate,
    ];

    /// Whether a row lock in this mode conflicts with one in `other` held by another transaction.
    pub fn conflicts_with(self, other: Self) -> bool {
        // A row lock conflicts with another when together they are stronger than the table
        // allows: the pairs of PostgreSQL's row-lock table.
        matches!(
            (self, other),
            (Self::ForUpdate, _)
                | (_, Self::ForUpdate)
                | (Self::ForNoKeyUpdate, Self::ForShare | Self::ForNoKeyUpdate)
                | (Self::ForShare, Self::ForNoKeyUpdate)
        )
    }

    /// The name PostgreSQL uses: `FOR UPDATE`, …
    pub fn name(self) -> &'static str {
        match self {
            Self::ForKeyShare => "FOR KEY SHARE",
            Self::ForShare => "FOR SHARE",
            Self::ForNoKeyUpdate => "FOR NO KEY UPDATE",
            Self::ForUpdate => "FOR UPDATE",
        }
    }
}

/// A lock mode of either kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum LockMode {
    /// A table-level mode.
    Table(TableLockMode),
    /// A row-level mode.
    Row(RowLockMode),
}

impl LockMode {
    /// Whether this mode conflicts with `other` (modes of different kinds never do).
    pub fn conflicts_with(self, other: Self) -> bool {
        match (self, other) {
            (Self::Table(a), Self::Table(b)) => a.conflicts_with(b),
            (Self::Row(a), Self::Row(b)) => a.conflicts_with(b),
            _ => false,
        }
    }

    /// Whether holding this mode already gives everything `other` would: it conflicts with
    /// every mode `other` conflicts with (FOR UPDATE covers FOR NO KEY UPDATE; ACCESS EXCLUSIVE
    /// covers every table mode).
    pub fn covers(self, other: Self) -> bool {
        let all: Vec<Self> = match other {
            Self::Table(_) => TableLockMode::ALL.into_iter().map(Self::Table).collect(),
            Self::Row(_) => RowLockMode::ALL.into_iter().map(Self::Row).collect(),
        };
        std::mem::discriminant(&self) == std::mem::discriminant(&other)
            && all
                .into_iter()
                .all(|m| !other.conflicts_with(m) || self.conflicts_with(m))
    }
}

impl LockMode {
    /// Every mode: the eight table modes, then the four row modes.
    pub fn all() -> impl Iterator<Item = Self> {
        TableLockMode::ALL
            .into_iter()
            .map(Self::Table)
            .chain(RowLockMode::ALL.into_iter().map(Self::Row))
    }

    /// What takes this mode, in PostgreSQL's terms.
    fn taken_by(self) -> &'static str {
        match self {
            Self::Table(TableLockMode::AccessShare) => "every SELECT",
            Self::Table(TableLockMode::RowShare) => "SELECT … FOR UPDATE / FOR SHARE",
            Self::Table(TableLockMode::RowExclusive) => "INSERT, UPDATE and DELETE",
            Self::Table(TableLockMode::ShareUpdateExclusive) => {
                "VACUUM and CREATE INDEX CONCURRENTLY"
            }
            Self::Table(TableLockMode::Share) => {
                "CREATE INDEX (and, here, reads at the locking isolation levels)"
            }
            Self::Table(TableLockMode::ShareRowExclusive) => "CREATE TRIGGER",
            Self::Table(TableLockMode::Exclusive) => "REFRESH MATERIALIZED VIEW CONCURRENTLY",
            Self::Table(TableLockMode::AccessExclusive) => {
                "ALTER TABLE, DROP TABLE and TRUNCATE: the whole table, for nobody else"
            }
            Self::Row(RowLockMode::ForKeyShare) => {
                "SELECT … FOR KEY SHARE (and foreign-key checks)"
            }
            Self::Row(RowLockMode::ForShare) => {
                "SELECT … FOR SHARE (and, here, reads at the locking isolation levels)"
            }
            Self::Row(RowLockMode::ForNoKeyUpdate) => "an UPDATE that does not change the key",
            Self::Row(RowLockMode::ForUpdate) => {
                "SELECT … FOR UPDATE, DELETE, and an UPDATE of the key"
            }
        }
    }

    /// The mode in plain words: what takes it and which modes it makes wait (from the
    /// conflict matrix), for a tooltip.
    pub fn explanation(self) -> String {
        let what = match self {
            Self::Table(_) => "a table lock",
            Self::Row(_) => "a row lock",
        };
        let conflicts: Vec<String> = Self::all()
            .filter(|other| self.conflicts_with(*other))
            .map(|other| other.to_string())
            .collect();
        let conflicts = if conflicts.is_empty() {
            "nothing: others never wait for it".to_owned()
        } else {
            conflicts.join(", ")
        };
        format!(
            "{self}: {what} taken by {}. It conflicts with {conflicts}.",
            self.taken_by()
        )
    }

    /// The mode of this name (`ACCESS EXCLUSIVE`, `FOR NO KEY UPDATE`), as the lock views show it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::all().find(|mode| mode.to_string() == name)
    }
}

impl fmt::Display for LockMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Table(m) => f.write_str(m.name()),
            Self::Row(m) => f.write_str(m.name()),
        }
    }
}

/// What is locked: a table, or one row of a table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resource {
    /// A table.
    Table(String),
    /// A row, by the table and its key.
    Row(String, Key),
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Table(t) => f.write_str(t),
            Self::Row(t, key) => write!(f, "{t} row {}", String::from(Value::from(key.clone()))),
        }
    }
}

/// How long a request may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitPolicy {
    /// Wait in the queue (the default).
    Wait,
    /// Fail at once instead of waiting (`NOWAIT`).
    NoWait,
    /// Give up this resource at once instead of waiting (`SKIP LOCKED`).
    SkipLocked,
}

/// A request's number, to cancel it or to recognise it when granted.
pub type RequestId = u64;

/// What became of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// Granted now.
    Granted,
    /// Queued behind these owners; it will be granted by a later release.
    Waiting {
        /// The request, to cancel it on a timeout.
        request: RequestId,
        /// Who it waits for (holders and earlier waiters it conflicts with).
        blockers: Vec<Owner>,
    },
    /// Waiting would close a cycle of waits: the requester must abort.
    Deadlock {
        /// The owners in the cycle, starting with the requester.
        cycle: Vec<Owner>,
    },
    /// It would wait, and the policy said not to.
    WouldWait {
        /// Who it would have waited for.
        blockers: Vec<Owner>,
    },
}

/// A lock that is held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// Who holds it.
    pub owner: Owner,
    /// In which mode.
    pub mode: LockMode,
    /// Since when.
    pub since: Micros,
    /// The statement that took it.
    pub statement: Option<Rc<str>>,
}

/// A request that waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// Its number.
    pub request: RequestId,
    /// Who waits.
    pub owner: Owner,
    /// For which mode.
    pub mode: LockMode,
    /// Since when.
    pub since: Micros,
    /// The statement that waits.
    pub statement: Option<Rc<str>>,
}

/// A request granted by a release: the waiter can go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wakeup {
    /// The request.
    pub request: RequestId,
    /// Its owner.
    pub owner: Owner,
    /// The resource.
    pub resource: Resource,
    /// The mode.
    pub mode: LockMode,
    /// How long it waited.
    pub waited: Micros,
}

#[derive(Debug, Default, Clone)]
struct Entry {
    holders: Vec<Held>,
    queue: VecDeque<Waiting>,
}

impl Entry {
    /// Owners that `owner` asking for `mode` would wait for: other owners' conflicting locks,
    /// then other owners' earlier conflicting waiting requests (up to `before`).
    fn blockers(&self, owner: Owner, mode: LockMode, before: usize) -> Vec<Owner> {
        let mut blockers: Vec<Owner> = self
            .holders
            .iter()
            .filter(|h| h.owner != owner && mode.conflicts_with(h.mode))
            .map(|h| h.owner)
            .collect();
        blockers.extend(
            self.queue
                .iter()
                .take(before)
                .filter(|w| w.owner != owner && mode.conflicts_with(w.mode))
                .map(|w| w.owner),
        );
        blockers.sort_unstable();
        blockers.dedup();
        blockers
    }

    fn is_empty(&self) -> bool {
        self.holders.is_empty() && self.queue.is_empty()
    }
}

/// One database's locks.
#[derive(Debug, Default, Clone)]
pub struct LockManager {
    entries: BTreeMap<Resource, Entry>,
    next_request: RequestId,
    deadlocks: u64,
    last_deadlock: Option<(Micros, Vec<Owner>)>,
}

impl LockManager {
    /// Asks for `mode` on `resource` for `owner`, at time `now`, for `statement`.
    pub fn acquire(
        &mut self,
        owner: Owner,
        resource: Resource,
        mode: LockMode,
        now: Micros,
        statement: Option<Rc<str>>,
        policy: WaitPolicy,
    ) -> Acquired {
        let entry = self.entries.entry(resource.clone()).or_default();
        let mut own = entry.holders.iter().filter(|h| h.owner == owner).peekable();
        let holds_some = own.peek().is_some();
        if own.any(|h| h.mode == mode || h.mode.covers(mode)) {
            return Acquired::Granted;
        }
        // A transaction that already holds a lock here does not queue behind waiters (they may
        // be waiting for it: queueing would deadlock), as in PostgreSQL; it only waits for
        // conflicting holders.
        let before = if holds_some { 0 } else { entry.queue.len() };
        let blockers = entry.blockers(owner, mode, before);
        if blockers.is_empty() {
            entry.holders.push(Held {
                owner,
                mode,
                since: now,
                statement,
            });
            return Acquired::Granted;
        }
        if policy != WaitPolicy::Wait {
            if entry.is_empty() {
                self.entries.remove(&resource);
            }
            return Acquired::WouldWait { blockers };
        }
        self.next_request += 1;
        let request = self.next_request;
        let waiting = Waiting {
            request,
            owner,
            mode,
            since: now,
            statement,
        };
        if holds_some {
            entry.queue.push_front(waiting); // Ahead of those who may wait for it.
        } else {
            entry.queue.push_back(waiting);
        }
        if let Some(cycle) = self.cycle_from(owner) {
            self.deadlocks += 1;
            self.last_deadlock = Some((now, cycle.clone()));
            self.cancel(request, now);
            return Acquired::Deadlock { cycle };
        }
        Acquired::Waiting { request, blockers }
    }

    /// Withdraws a waiting request (a lock timeout, a deadlock victim); requests behind it may
    /// now be granted.
    pub fn cancel(&mut self, request: RequestId, now: Micros) -> Vec<Wakeup> {
        let mut touched = None;
        for (resource, entry) in &mut self.entries {
            if let Some(index) = entry.queue.iter().position(|w| w.request == request) {
                entry.queue.remove(index);
                touched = Some(resource.clone());
                break;
            }
        }
        match touched {
            Some(resource) => self.grant_waiters(&[resource], now),
            None => Vec::new(),
        }
    }

    /// Releases one lock (a shared read lock at the end of a statement, say).
    pub fn release(
        &mut self,
        owner: Owner,
        resource: &Resource,
        mode: LockMode,
        now: Micros,
    ) -> Vec<Wakeup> {
        let Some(entry) = self.entries.get_mut(resource) else {
            return Vec::new();
        };
        entry
            .holders
            .retain(|h| !(h.owner == owner && h.mode == mode));
        self.grant_waiters(std::slice::from_ref(resource), now)
    }

    /// Releases every lock of `owner` and withdraws its waiting requests (commit or abort).
    pub fn release_all(&mut self, owner: Owner, now: Micros) -> Vec<Wakeup> {
        let mut touched = Vec::new();
        for (resource, entry) in &mut self.entries {
            let before = (entry.holders.len(), entry.queue.len());
            entry.holders.retain(|h| h.owner != owner);
            entry.queue.retain(|w| w.owner != owner);
            if (entry.holders.len(), entry.queue.len()) != before {
                touched.push(resource.clone());
            }
        }
        self.grant_waiters(&touched, now)
    }

    /// Grants, in queue order, every waiting request on these resources that no longer conflicts.
    fn grant_waiters(&mut self, resources: &[Resource], now: Micros) -> Vec<Wakeup> {
        let mut wakeups = Vec::new();
        for resource in resources {
            let Some(entry) = self.entries.get_mut(resource) else {
                continue;
            };
            let mut index = 0;
            while index < entry.queue.len() {
                let waiting = &entry.queue[index];
                if entry
                    .blockers(waiting.owner, waiting.mode, index)
                    .is_empty()
                {
                    if let Some(w) = entry.queue.remove(index) {
                        wakeups.push(Wakeup {
                            request: w.request,
                            owner: w.owner,
                            resource: resource.clone(),
                            mode: w.mode,
                            waited: now.saturating_sub(w.since),
                        });
                        entry.holders.push(Held {
                            owner: w.owner,
                            mode: w.mode,
                            since: now,
                            statement: w.statement,
                        });
                    }
                } else {
                    index += 1;
                }
            }
            if entry.is_empty() {
                self.entries.remove(resource);
            }
        }
        wakeups
    }

    /// The waits-for edges: (waiter, owner it waits for), sorted.
    pub fn waits_for(&self) -> Vec<(Owner, Owner)> {
        let mut edges = BTreeSet::new();
        for entry in self.entries.values() {
            for (index, waiting) in entry.queue.iter().enumerate() {
                for blocker in entry.blockers(waiting.owner, waiting.mode, index) {
                    edges.insert((waiting.owner, blocker));
                }
            }
        }
        edges.into_iter().collect()
    }

    /// A cycle of waits through `start`, if there is one: `[start, …]`, each waiting for the next
    /// and the last for `start`.
    fn cycle_from(&self, start: Owner) -> Option<Vec<Owner>> {
        let mut graph: BTreeMap<Owner, Vec<Owner>> = BTreeMap::new();
        for (from, to) in self.waits_for() {
            graph.entry(from).or_default().push(to);
        }
        let mut path = vec![start];
        let mut visited = BTreeSet::new();
        fn dfs(
            graph: &BTreeMap<Owner, Vec<Owner>>,
            start: Owner,
            path: &mut Vec<Owner>,
            visited: &mut BTreeSet<Owner>,
        ) -> bool {
            let Some(&node) = path.last() else {
                return false;
            };
            for &next in graph.get(&node).map(Vec::as_slice).unwrap_or_default() {
                if next == start {
                    return true;
                }
                if visited.insert(next) {
                    path.push(next);
                    if dfs(graph, start, path, visited) {
                        return true;
                    }
                    path.pop();
                }
            }
            false
        }
        dfs(&graph, start, &mut path, &mut visited).then_some(path)
    }

    /// Every lock held, by resource.
    pub fn held(&self) -> Vec<(Resource, Held)> {
        self.entries
            .iter()
            .flat_map(|(r, e)| e.holders.iter().map(move |h| (r.clone(), h.clone())))
            .collect()
    }

    /// Every waiting request, by resource, in queue order.
    pub fn waiting(&self) -> Vec<(Resource, Waiting)> {
        self.entries
            .iter()
            .flat_map(|(r, e)| e.queue.iter().map(move |w| (r.clone(), w.clone())))
            .collect()
    }

    /// The owners that block others without waiting themselves: the roots of the blocking tree,
    /// each with how many owners wait on it, directly or not. Most blocking first.
    pub fn root_blockers(&self) -> Vec<(Owner, usize)> {
        let edges = self.waits_for();
        let waiters: BTreeSet<Owner> = edges.iter().map(|(w, _)| *w).collect();
        let mut roots: Vec<(Owner, usize)> = edges
            .iter()
            .map(|(_, b)| *b)
            .filter(|b| !waiters.contains(b))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|root| {
                let mut behind = BTreeSet::new();
                let mut frontier = vec![root];
                while let Some(node) = frontier.pop() {
                    for (w, b) in &edges {
                        if *b == node && behind.insert(*w) {
                            frontier.push(*w);
                        }
                    }
                }
                (root, behind.len())
            })
            .collect();
        roots.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        roots
    }

    /// Deadlocks detected so far.
    pub fn deadlocks(&self) -> u64 {
        self.deadlocks
    }

    /// The last deadlock found: when, and the cycle (starting with its victim).
    pub fn last_deadlock(&self) -> Option<&(Micros, Vec<Owner>)> {
        self.last_deadlock.as_ref()
    }

    /// Whether nothing is held or waited for.
    pub fn is_idle(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(t: &str) -> Resource {
        Resource::Table(t.to_owned())
    }

    fn t(mode: TableLockMode) -> LockMode {
        LockMode::Table(mode)
    }

    /// PostgreSQL's documented table-level conflict matrix ("Conflicting Lock Modes"): row =
    /// requested mode, column = existing mode, in the order of `TableLockMode::ALL`.
    const PG_TABLE_MATRIX: [&str; 8] = [
        ".......X", // ACCESS SHARE
        "......XX", // ROW SHARE
        "....XXXX", // ROW EXCLUSIVE
        "...XXXXX", // SHARE UPDATE EXCLUSIVE
        "..XX.XXX", // SHARE
        "..XXXXXX", // SHARE ROW EXCLUSIVE
        ".XXXXXXX", // EXCLUSIVE
        "XXXXXXXX", // ACCESS EXCLUSIVE
    ];

    /// PostgreSQL's documented row-level conflict table ("Conflicting Row-Level Locks"), in the
    /// order of `RowLockMode::ALL`.
    const PG_ROW_MATRIX: [&str; 4] = [
        "...X", // FOR KEY SHARE
        "..XX", // FOR SHARE
        ".XXX", // FOR NO KEY UPDATE
        "XXXX", // FOR UPDATE
    ];

    /// Checks every pair of `modes` against a documented matrix of `X` (conflict) and `.`.
    fn check_matrix<M: Copy>(
        modes: &[M],
        matrix: &[&str],
        conflicts: impl Fn(M, M) -> bool,
        name: impl Fn(M) -> &'static str,
    ) {
        for (i, requested) in modes.iter().enumerate() {
            for (j, existing) in modes.iter().enumerate() {
                let documented = matrix[i].as_bytes()[j] == b'X';
                assert_eq!(
                    conflicts(*requested, *existing),
                    documented,
                    "{} requested, {} held",
                    name(*requested),
                    name(*existing)
                );
            }
        }
    }

    #[test]
    fn all_64_table_mode_pairs_match_postgresql() {
        check_matrix(
            &TableLockMode::ALL,
            &PG_TABLE_MATRIX,
            TableLockMode::conflicts_with,
            TableLockMode::name,
        );
    }

    #[test]
    fn all_16_row_mode_pairs_match_postgresql() {
        check_matrix(
            &RowLockMode::ALL,
            &PG_ROW_MATRIX,
            RowLockMode::conflicts_with,
            RowLockMode::name,
        );
    }

    #[test]
    fn a_waiting_alter_table_makes_later_readers_wait() {
        use TableLockMode::*;
        let mut locks = LockManager::default();
        let report = locks.acquire(
            1,
            table("orders"),
            t(AccessShare),
            0,
            None,
            WaitPolicy::Wait,
        );
        assert_eq!(report, Acquired::Granted);
        let alter = locks.acquire(
            2,
            table("orders"),
            t(AccessExclusive),
            10,
            None,
            WaitPolicy::Wait,
        );
        assert!(matches!(alter, Acquired::Waiting { ref blockers, .. } if blockers == &[1]));
        let reader = locks.acquire(
            3,
            table("orders"),
            t(AccessShare),
            20,
            None,
            WaitPolicy::Wait,
        );
        assert!(
            matches!(reader, Acquired::Waiting { ref blockers, .. } if blockers == &[2]),
            "a reader queues behind the waiting ALTER TABLE: {reader:?}"
        );
        assert_eq!(
            locks.root_blockers(),
            [(1, 2)],
            "the report blocks both, one directly"
        );
        let woken = locks.release_all(1, 100);
        assert_eq!(woken.len(), 1);
        assert_eq!((woken[0].owner, woken[0].waited), (2, 90));
        let woken = locks.release_all(2, 150);
        assert_eq!((woken[0].owner, woken[0].waited), (3, 130));
        locks.release_all(3, 160);
        assert!(locks.is_idle());
    }

    #[test]
    fn a_cycle_of_waits_is_a_deadlock_and_the_requester_is_the_victim() {
        let row = |k: i64| Resource::Row("accounts".into(), Key::I64(k));
        let update = LockMode::Row(RowLockMode::ForNoKeyUpdate);
        let mut locks = LockManager::default();
        assert_eq!(
            locks.acquire(1, row(1), update, 0, None, WaitPolicy::Wait),
            Acquired::Granted
        );
        assert_eq!(
            locks.acquire(2, row(2), update, 0, None, WaitPolicy::Wait),
            Acquired::Granted
        );
        assert!(matches!(
            locks.acquire(1, row(2), update, 5, None, WaitPolicy::Wait),
            Acquired::Waiting { .. }
        ));
        let second = locks.acquire(2, row(1), update, 6, None, WaitPolicy::Wait);
        assert_eq!(second, Acquired::Deadlock { cycle: vec![2, 1] });
        assert_eq!(locks.deadlocks(), 1);
        let woken = locks.release_all(2, 9);
        assert_eq!(woken.iter().map(|w| w.owner).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn nowait_and_skip_locked_do_not_queue() {
        let mut locks = LockManager::default();
        let exclusive = t(TableLockMode::AccessExclusive);
        locks.acquire(1, table("jobs"), exclusive, 0, None, WaitPolicy::Wait);
        let nowait = locks.acquire(2, table("jobs"), exclusive, 0, None, WaitPolicy::NoWait);
        assert_eq!(nowait, Acquired::WouldWait { blockers: vec![1] });
        assert!(locks.waiting().is_empty());
    }

    #[test]
    fn an_owner_never_conflicts_with_itself() {
        let mut locks = LockManager::default();
        use TableLockMode::*;
        assert_eq!(
            locks.acquire(1, table("t"), t(AccessShare), 0, None, WaitPolicy::Wait),
            Acquired::Granted
        );
        assert_eq!(
            locks.acquire(1, table("t"), t(AccessExclusive), 0, None, WaitPolicy::Wait),
            Acquired::Granted
        );
        assert_eq!(locks.held().len(), 2);
    }

    /// T1 holds FOR UPDATE on a row, T2 queues for it, T1 then updates the row: T1 already has
    /// what it needs (no deadlock with T2); a new mode T1 lacks goes ahead of T2 in the queue.
    #[test]
    fn a_holder_does_not_queue_behind_its_own_waiters() {
        let row = Resource::Row("accounts".into(), Key::I64(1));
        let r = |m| LockMode::Row(m);
        use RowLockMode::*;
        let mut locks = LockManager::default();
        locks.acquire(1, row.clone(), r(ForShare), 0, None, WaitPolicy::Wait);
        locks.acquire(3, row.clone(), r(ForShare), 0, None, WaitPolicy::Wait);
        let queued = locks.acquire(2, row.clone(), r(ForUpdate), 1, None, WaitPolicy::Wait);
        assert!(matches!(queued, Acquired::Waiting { .. }));
        // Holder 1 upgrades: waits for holder 3 only, ahead of 2.
        let upgrade = locks.acquire(1, row.clone(), r(ForNoKeyUpdate), 2, None, WaitPolicy::Wait);
        assert!(matches!(upgrade, Acquired::Waiting { ref blockers, .. } if blockers == &[3]));
        let woken = locks.release_all(3, 5);
        assert_eq!(woken.iter().map(|w| w.owner).collect::<Vec<_>>(), [1]);
        // Covered modes are granted at once.
        assert!(r(ForUpdate).covers(r(ForNoKeyUpdate)));
        assert!(!r(ForShare).covers(r(ForNoKeyUpdate)));
        assert!(t(TableLockMode::AccessExclusive).covers(t(TableLockMode::RowExclusive)));
        assert!(!t(TableLockMode::Share).covers(t(TableLockMode::RowExclusive)));
        assert!(!t(TableLockMode::Share).covers(r(ForShare)));
        assert_eq!(
            locks.acquire(1, row, r(ForKeyShare), 6, None, WaitPolicy::Wait),
            Acquired::Granted
        );
    }

    #[test]
    fn every_mode_explains_what_takes_it_and_what_it_blocks() {
        let access_share = LockMode::from_name("ACCESS SHARE").expect("named");
        let text = access_share.explanation();
        assert!(text.contains("every SELECT"), "{text}");
        assert!(
            text.ends_with("conflicts with ACCESS EXCLUSIVE."),
            "only ALTER/DROP make a reader wait: {text}"
        );
        let exclusive = LockMode::from_name("ACCESS EXCLUSIVE").expect("named");
        let text = exclusive.explanation();
        let blocked = text.split("conflicts with ").nth(1).expect("a list");
        assert_eq!(
            blocked.split(", ").count(),
            8,
            "every table mode waits: {text}"
        );
        assert!(LockMode::from_name("FOR NO KEY UPDATE").is_some());
        assert!(LockMode::from_name("SUPER LOCK").is_none());
        assert_eq!(LockMode::all().count(), 12);
    }
}
