//! Isolation levels: PostgreSQL's three, and two locking levels of lock-based engines.
//!
//! - `read_committed`, `repeatable_read` and `serializable` are PostgreSQL's levels, with
//!   PostgreSQL's behaviour (checked step by step against a real server by
//!   `tests/postgres_differential.rs`): MVCC reads that never wait for row locks — a snapshot
//!   per statement under READ COMMITTED, with a waiting `UPDATE`/`DELETE`/`SELECT … FOR UPDATE`
//!   re-checking the newest version of the row it waited for (EvalPlanQual); one snapshot per
//!   transaction under REPEATABLE READ (snapshot isolation: a write to a row changed since the
//!   snapshot fails with 40001); and serializable snapshot isolation under SERIALIZABLE (SIREAD
//!   locks and read/write dependencies, [`crate::sim::ssi`]).
//! - `locking_read_committed` and `two_phase_locking` are how lock-based engines isolate:
//!   reads take shared locks (SQL Server's default READ COMMITTED with `READ_COMMITTED_SNAPSHOT`
//!   off, DB2's cursor stability: for the statement; MySQL/InnoDB's SERIALIZABLE, SQL Server's
//!   SERIALIZABLE, DB2's repeatable read: until commit, two-phase locking). A reader waits for a
//!   writer and a report blocks writers — what PostgreSQL never does.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

/// A database's (or a transaction's) isolation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// PostgreSQL's READ COMMITTED: a snapshot per statement; a writer that waited for a row
    /// re-checks the row's newest version (EvalPlanQual).
    ReadCommitted,
    /// PostgreSQL's REPEATABLE READ (snapshot isolation): one snapshot per transaction; writing
    /// a row changed since then fails with a serialization error. Also accepted as `snapshot`.
    #[default]
    RepeatableRead,
    /// PostgreSQL's SERIALIZABLE: serializable snapshot isolation — snapshot reads plus SIREAD
    /// locks; a dangerous structure of read/write dependencies aborts a transaction with 40001.
    Serializable,
    /// Lock-based READ COMMITTED (SQL Server's default, DB2's cursor stability): reads take
    /// shared locks released at the end of each statement.
    LockingReadCommitted,
    /// Strict two-phase locking (MySQL/InnoDB's and SQL Server's SERIALIZABLE): reads take shared
    /// locks held until commit.
    TwoPhaseLocking,
}

impl Isolation {
    /// Every level, in the order a chooser lists them.
    pub const ALL: [Self; 5] = [
        Self::ReadCommitted,
        Self::RepeatableRead,
        Self::Serializable,
        Self::LockingReadCommitted,
        Self::TwoPhaseLocking,
    ];

    /// The level's name in a scenario file (`read_committed`).
    pub fn name(self) -> &'static str {
        match self {
            Self::ReadCommitted => "read_committed",
            Self::RepeatableRead => "repeatable_read",
            Self::Serializable => "serializable",
            Self::LockingReadCommitted => "locking_read_committed",
            Self::TwoPhaseLocking => "two_phase_locking",
        }
    }

    /// How the page names it: PostgreSQL's name, or what the locking level imitates.
    pub fn label(self) -> &'static str {
        match self {
            Self::ReadCommitted => "READ COMMITTED",
            Self::RepeatableRead => "REPEATABLE READ",
            Self::Serializable => "SERIALIZABLE",
            Self::LockingReadCommitted => "locking READ COMMITTED (SQL Server)",
            Self::TwoPhaseLocking => "two-phase locking (MySQL)",
        }
    }

    /// A short label for a small space (the topology's database node).
    pub fn short_label(self) -> &'static str {
        match self {
            Self::ReadCommitted => "READ COMMITTED",
            Self::RepeatableRead => "REPEATABLE READ",
            Self::Serializable => "SERIALIZABLE",
            Self::LockingReadCommitted => "locking READ COMMITTED",
            Self::TwoPhaseLocking => "two-phase locking",
        }
    }

    /// The level a scenario file's name stands for (`snapshot` is `repeatable_read`).
    pub fn from_name(name: &str) -> Option<Self> {
        if name == "snapshot" {
            return Some(Self::RepeatableRead);
        }
        Self::ALL.into_iter().find(|level| level.name() == name)
    }

    /// The level a name stands for, or an error that says what to write instead.
    ///
    /// # Errors
    ///
    /// A sentence naming the level meant, for names of other systems and spellings people try.
    pub fn parse(name: &str) -> Result<Self, String> {
        if let Some(level) = Self::from_name(name) {
            return Ok(level);
        }
        let normal = name.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        if let Some(level) = Self::from_name(&normal) {
            return Err(format!(
                "unknown isolation level \"{name}\": write \"{}\"",
                level.name()
            ));
        }
        let hint = match normal.as_str() {
            "read_uncommitted" => Some((
                Self::ReadCommitted,
                "PostgreSQL runs READ UNCOMMITTED as READ COMMITTED",
            )),
            "snapshot_isolation" | "si" | "mvcc" => Some((
                Self::RepeatableRead,
                "PostgreSQL's snapshot isolation is REPEATABLE READ",
            )),
            "ssi" | "serializable_snapshot_isolation" => Some((
                Self::Serializable,
                "PostgreSQL's SERIALIZABLE is serializable snapshot isolation",
            )),
            "locking" | "locking_serializable" | "2pl" | "s2pl" | "strict_two_phase_locking" => {
                Some((
                    Self::TwoPhaseLocking,
                    "the locking level that holds read locks until commit",
                ))
            }
            "cursor_stability" | "read_committed_locking" => Some((
                Self::LockingReadCommitted,
                "the locking level that holds read locks for a statement",
            )),
            _ => None,
        };
        Err(match hint {
            Some((level, why)) => format!(
                "unknown isolation level \"{name}\": {why} — write \"{}\"",
                level.name()
            ),
            None => format!(
                "unknown isolation level \"{name}\": write one of {}",
                Self::ALL
                    .iter()
                    .map(|level| format!("\"{}\"", level.name()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }

    /// What the level does here, in a sentence for a tooltip.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::ReadCommitted => {
                "PostgreSQL's READ COMMITTED (its default): each statement reads a fresh snapshot and never waits for a writer; an UPDATE that waited for a row re-reads its newest version and re-checks its WHERE, so two `value = value + 1` both count — but a read-then-write in the application can still lose an update."
            }
            Self::RepeatableRead => {
                "PostgreSQL's REPEATABLE READ (snapshot isolation): each transaction reads one snapshot and takes no read locks, so readers and writers never wait for each other; two writers of one row: the second fails with a serialization error (40001). Write skew is still possible."
            }
            Self::Serializable => {
                "PostgreSQL's SERIALIZABLE (serializable snapshot isolation): snapshot reads that never block, plus SIREAD locks that record what each transaction read; when concurrent read/write dependencies could form a cycle, one transaction is aborted with 40001 instead of waiting."
            }
            Self::LockingReadCommitted => {
                "Locking READ COMMITTED, as lock-based engines do it (SQL Server's default, DB2): a read takes shared locks for the length of its statement, so a reader waits for a writer's row lock and a scan makes writers wait while it runs. PostgreSQL never does this."
            }
            Self::TwoPhaseLocking => {
                "Two-phase locking, as MySQL/InnoDB and SQL Server run SERIALIZABLE: reads take shared locks held until COMMIT, so a long report blocks every writer of what it read until it ends. PostgreSQL never does this."
            }
        }
    }

    /// Whether reads take shared locks.
    pub fn is_locking(self) -> bool {
        matches!(self, Self::LockingReadCommitted | Self::TwoPhaseLocking)
    }

    /// Whether it is one of PostgreSQL's own levels.
    pub fn is_postgresql(self) -> bool {
        !self.is_locking()
    }

    /// How a connection at this level reads: a snapshot per statement (READ COMMITTED), one per
    /// transaction (REPEATABLE READ, SERIALIZABLE), or what is committed (the locking levels:
    /// their locks keep it stable).
    pub fn read_mode(self) -> crate::sim::storage::ReadMode {
        use crate::sim::storage::ReadMode;
        match self {
            Self::ReadCommitted => ReadMode::StatementSnapshot,
            Self::RepeatableRead | Self::Serializable => ReadMode::TransactionSnapshot,
            Self::LockingReadCommitted | Self::TwoPhaseLocking => ReadMode::LatestCommitted,
        }
    }
}

impl<'de> Deserialize<'de> for Isolation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// Faults the differential tests plant on purpose, to show that comparing with PostgreSQL catches
/// them. Never set outside those tests.
#[doc(hidden)]
pub mod planted {
    use std::cell::Cell;

    /// A deliberate departure from PostgreSQL.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Fault {
        /// READ COMMITTED does not re-read a row it waited for (no EvalPlanQual).
        NoRecheck,
        /// SERIALIZABLE never aborts a dangerous structure.
        NoSsiAbort,
    }

    thread_local! {
        static FAULT: Cell<Option<Fault>> = const { Cell::new(None) };
    }

    /// Plants `fault` on this thread (`None` removes it).
    pub fn plant(fault: Option<Fault>) {
        FAULT.with(|cell| cell.set(fault));
    }

    /// Whether `fault` is planted on this thread.
    pub fn is(fault: Fault) -> bool {
        FAULT.with(|cell| cell.get() == Some(fault))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_snapshot_is_repeatable_read() {
        for level in Isolation::ALL {
            assert_eq!(Isolation::from_name(level.name()), Some(level));
            assert_eq!(Isolation::parse(level.name()), Ok(level));
        }
        assert_eq!(
            Isolation::from_name("snapshot"),
            Some(Isolation::RepeatableRead)
        );
    }

    #[test]
    fn names_of_other_systems_say_what_to_write() {
        let error = Isolation::parse("read_uncommitted").expect_err("refused");
        assert!(error.contains("write \"read_committed\""), "{error}");
        let error = Isolation::parse("2PL").expect_err("refused");
        assert!(error.contains("\"two_phase_locking\""), "{error}");
        let error = Isolation::parse("Repeatable Read").expect_err("refused");
        assert!(error.ends_with("write \"repeatable_read\""), "{error}");
        let error = Isolation::parse("chaos").expect_err("refused");
        assert!(error.contains("\"locking_read_committed\""), "{error}");
    }

    #[test]
    fn a_scenario_file_gets_the_hint() {
        #[derive(Debug, Deserialize)]
        struct Db {
            #[allow(dead_code)]
            isolation: Isolation,
        }
        let error = toml::from_str::<Db>("isolation = \"mvcc\"").expect_err("refused");
        assert!(
            error.to_string().contains("write \"repeatable_read\""),
            "{error}"
        );
        let db: Db = toml::from_str("isolation = \"snapshot\"").expect("alias");
        assert_eq!(db.isolation, Isolation::RepeatableRead);
    }
}
