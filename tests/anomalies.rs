//! The classic anomalies as scripted sessions, under each isolation level: dirty write, dirty
//! read, lost update, read skew and write skew — prevented or allowed as PostgreSQL's levels
//! (`read_committed`, `repeatable_read`, `serializable`) and the locking levels of lock-based
//! engines (`locking_read_committed`, `two_phase_locking`) really behave, with the blocking and
//! the aborts they show. `tests/postgres_differential.rs` checks PostgreSQL's levels against a
//! real server. Runs natively and in headless Chromium.

mod common;

use common::{ok, rows, step};
use dataflow_lab::sim::script::ScriptReport;
use serde_json::json;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

const POSTGRESQL: [&str; 3] = ["read_committed", "repeatable_read", "serializable"];
const LOCKING: [&str; 2] = ["locking_read_committed", "two_phase_locking"];

fn all_levels() -> impl Iterator<Item = &'static str> {
    POSTGRESQL.into_iter().chain(LOCKING)
}

/// Plays `steps` (session, sql) on a fresh `accounts` table under `isolation`.
fn play(isolation: &str, steps: &[(&str, &str)]) -> ScriptReport {
    common::play_script(
        isolation,
        &[
            "CREATE TABLE accounts (id INT PRIMARY KEY, balance INT)",
            "INSERT INTO accounts VALUES (1, 100), (2, 100)",
        ],
        steps,
    )
}

/// Dirty write: a second writer of a row waits for the first to finish, at every level.
#[test]
fn dirty_writes_are_prevented_by_row_locks_at_every_level() {
    for level in all_levels() {
        let r = play(
            level,
            &[
                ("T1", "BEGIN"),
                ("T2", "BEGIN"),
                ("T1", "UPDATE accounts SET balance = 1 WHERE id = 1"),
                ("T2", "UPDATE accounts SET balance = 2 WHERE id = 1"),
                ("T1", "ROLLBACK"),
                ("T2", "COMMIT"),
                ("T3", "SELECT balance FROM accounts WHERE id = 1"),
            ],
        );
        assert!(
            step(&r, 3).blocked,
            "{level}: T2 must wait for T1's row lock"
        );
        assert_eq!(
            step(&r, 3).completed_after,
            Some(4),
            "{level}: T1's rollback frees it"
        );
        assert!(ok(&r, 3), "{level}: {:?}", step(&r, 3));
        assert_eq!(rows(&r, 6), json!([[2]]), "{level}");
    }
}

/// Dirty read: nobody ever sees another transaction's uncommitted write. Under PostgreSQL's
/// levels the reader reads the old version at once — a reader never waits for a writer; under
/// the locking levels it waits for the writer.
#[test]
fn dirty_reads_are_prevented_and_only_locking_readers_wait() {
    for level in all_levels() {
        let r = play(
            level,
            &[
                ("T1", "BEGIN"),
                ("T1", "UPDATE accounts SET balance = 0 WHERE id = 1"),
                ("T2", "SELECT balance FROM accounts WHERE id = 1"),
                ("T2", "SELECT SUM(balance) FROM accounts"),
                ("T1", "ROLLBACK"),
            ],
        );
        assert_eq!(rows(&r, 2), json!([[100]]), "{level}");
        assert_eq!(rows(&r, 3), json!([[200]]), "{level}");
        assert_eq!(
            step(&r, 2).blocked,
            LOCKING.contains(&level),
            "{level}: {:?}",
            step(&r, 2)
        );
    }
}

/// Two sessions add 1 to the same row at once. PostgreSQL's READ COMMITTED makes the second
/// wait, then re-reads the row's newest version (EvalPlanQual): both increments count. Its
/// REPEATABLE READ and SERIALIZABLE refuse the second with 40001 instead.
#[test]
fn concurrent_increments_both_count_under_read_committed() {
    let steps = [
        ("T1", "BEGIN"),
        ("T2", "BEGIN"),
        ("T1", "SELECT balance FROM accounts WHERE id = 1"),
        ("T2", "SELECT balance FROM accounts WHERE id = 1"),
        (
            "T1",
            "UPDATE accounts SET balance = balance + 1 WHERE id = 1",
        ),
        (
            "T2",
            "UPDATE accounts SET balance = balance + 1 WHERE id = 1",
        ),
        ("T1", "COMMIT"),
        ("T2", "COMMIT"),
        ("T3", "SELECT balance FROM accounts WHERE id = 1"),
    ];
    let rc = play("read_committed", &steps);
    assert!(step(&rc, 5).blocked && ok(&rc, 5), "{:?}", step(&rc, 5));
    assert_eq!(step(&rc, 5).completed_after, Some(6));
    assert_eq!(rows(&rc, 8), json!([[102]]), "+2 under read_committed");
    for level in ["repeatable_read", "serializable"] {
        let r = play(level, &steps);
        assert_eq!(step(&r, 5).sqlstate.as_deref(), Some("40001"), "{level}");
        assert_eq!(step(&r, 5).completed_after, Some(6), "{level}");
        assert_eq!(rows(&r, 8), json!([[101]]), "{level}");
    }
}

/// A multi-row `UPDATE` that waited re-checks each row's newest version: a row that no longer
/// matches its `WHERE` is left alone (PostgreSQL's EvalPlanQual under READ COMMITTED).
#[test]
fn a_waiting_update_skips_rows_that_stopped_matching() {
    let r = play(
        "read_committed",
        &[
            ("T1", "BEGIN"),
            ("T1", "UPDATE accounts SET balance = 50 WHERE id = 1"),
            (
                "T2",
                "UPDATE accounts SET balance = balance * 2 WHERE balance = 100",
            ),
            ("T1", "COMMIT"),
            ("T3", "SELECT id, balance FROM accounts ORDER BY id"),
        ],
    );
    assert!(step(&r, 2).blocked && ok(&r, 2), "{:?}", step(&r, 2));
    assert_eq!(rows(&r, 4), json!([[1, 50], [2, 200]]));
}

const LOST_UPDATE: [(&str, &str); 8] = [
    ("T1", "BEGIN"),
    ("T2", "BEGIN"),
    ("T1", "SELECT balance FROM accounts WHERE id = 1"),
    ("T2", "SELECT balance FROM accounts WHERE id = 1"),
    ("T1", "UPDATE accounts SET balance = 150 WHERE id = 1"),
    ("T2", "UPDATE accounts SET balance = 120 WHERE id = 1"),
    ("T1", "COMMIT"),
    ("T2", "COMMIT"),
];

/// Lost update: two read-modify-write transactions on one row, the new value computed by the
/// application. Both READ COMMITTED levels lose T1's update; PostgreSQL's snapshot levels abort
/// the second writer with 40001 once the first commits; two-phase locking deadlocks.
#[test]
fn lost_updates_happen_under_the_read_committed_levels() {
    for level in ["read_committed", "locking_read_committed"] {
        let r = play(level, &LOST_UPDATE);
        assert!(
            step(&r, 5).blocked && ok(&r, 5),
            "{level}: {:?}",
            step(&r, 5)
        );
        assert_eq!(
            r.committed,
            ["T1", "T2"],
            "{level}: both commit, 150 is lost"
        );
    }
    for level in ["repeatable_read", "serializable"] {
        let r = play(level, &LOST_UPDATE);
        assert_eq!(
            step(&r, 5).error_kind.as_deref(),
            Some("serialization"),
            "{level}"
        );
        assert_eq!(step(&r, 5).sqlstate.as_deref(), Some("40001"));
        assert_eq!(step(&r, 5).completed_after, Some(6), "{level}");
        assert_eq!(r.committed, ["T1"], "{level}");
    }
    let two_pl = play("two_phase_locking", &LOST_UPDATE);
    assert_eq!(step(&two_pl, 5).error_kind.as_deref(), Some("deadlock"));
    assert_eq!(step(&two_pl, 5).sqlstate.as_deref(), Some("40P01"));
    assert!(step(&two_pl, 4).blocked, "T1 waits for T2's shared lock");
    assert_eq!(step(&two_pl, 4).completed_after, Some(5));
    assert_eq!(two_pl.committed, ["T1"]);
    assert_eq!(two_pl.aborted, ["T2"]);
}

/// Read skew: T1 reads account 1, T2 moves money from 1 to 2 and commits, T1 reads account 2.
/// The read committed levels see an inconsistent total; the snapshot levels see their snapshot;
/// two-phase locking makes T2's write wait until T1 is done.
#[test]
fn read_skew_happens_only_under_read_committed() {
    let steps = [
        ("T1", "BEGIN"),
        ("T1", "SELECT balance FROM accounts WHERE id = 1"),
        ("T2", "BEGIN"),
        ("T2", "UPDATE accounts SET balance = 50 WHERE id = 1"),
        ("T2", "UPDATE accounts SET balance = 150 WHERE id = 2"),
        ("T2", "COMMIT"),
        ("T1", "SELECT balance FROM accounts WHERE id = 2"),
        ("T1", "COMMIT"),
    ];
    for level in ["read_committed", "locking_read_committed"] {
        let r = play(level, &steps);
        assert_eq!(rows(&r, 1), json!([[100]]), "{level}");
        assert_eq!(
            rows(&r, 6),
            json!([[150]]),
            "{level}: T1 sees a total of 250: skew"
        );
    }
    for level in ["repeatable_read", "serializable"] {
        let r = play(level, &steps);
        assert_eq!(rows(&r, 6), json!([[100]]), "{level}: T1 sees its snapshot");
        assert!(!step(&r, 3).blocked, "{level}: the writer never waits");
    }

    // Under two-phase locking T2's first write already waits for T1's shared lock, so the
    // script that shows the skew elsewhere would stall; T2 goes on when T1 commits instead.
    let two_pl = play(
        "two_phase_locking",
        &[
            ("T1", "BEGIN"),
            ("T1", "SELECT balance FROM accounts WHERE id = 1"),
            ("T2", "BEGIN"),
            ("T2", "UPDATE accounts SET balance = 50 WHERE id = 1"),
            ("T1", "SELECT balance FROM accounts WHERE id = 2"),
            ("T1", "COMMIT"),
            ("T2", "UPDATE accounts SET balance = 150 WHERE id = 2"),
            ("T2", "COMMIT"),
        ],
    );
    assert!(
        step(&two_pl, 3).blocked,
        "T2 waits for T1's shared row lock"
    );
    assert_eq!(
        step(&two_pl, 3).completed_after,
        Some(5),
        "T1's commit frees it"
    );
    assert_eq!(rows(&two_pl, 4), json!([[100]]), "T1 sees a consistent 200");
    assert_eq!(two_pl.committed, ["T1", "T2"]);
}

const WRITE_SKEW: [(&str, &str); 8] = [
    ("T1", "BEGIN"),
    ("T2", "BEGIN"),
    ("T1", "SELECT SUM(balance) FROM accounts"),
    ("T2", "SELECT SUM(balance) FROM accounts"),
    (
        "T1",
        "UPDATE accounts SET balance = balance - 150 WHERE id = 1",
    ),
    (
        "T2",
        "UPDATE accounts SET balance = balance - 150 WHERE id = 2",
    ),
    ("T1", "COMMIT"),
    ("T2", "COMMIT"),
];

/// Write skew: each transaction checks the total and withdraws from a different account. Both
/// commit under the read committed levels and under REPEATABLE READ (snapshot isolation allows
/// write skew); PostgreSQL's SERIALIZABLE aborts one with 40001 — without anybody waiting — and
/// two-phase locking's shared read locks collide in a deadlock.
#[test]
fn write_skew_is_prevented_only_by_the_serializable_levels() {
    for level in [
        "read_committed",
        "repeatable_read",
        "locking_read_committed",
    ] {
        let r = play(level, &WRITE_SKEW);
        assert_eq!(
            r.committed,
            ["T1", "T2"],
            "{level}: both withdraw, the total goes negative"
        );
    }
    let ssi = play("serializable", &WRITE_SKEW);
    assert_eq!(ssi.committed, ["T1"], "{ssi:?}");
    assert!(ssi.steps.iter().all(|s| !s.blocked), "SSI never waits");
    let failed = &ssi.steps[7];
    assert_eq!(failed.sqlstate.as_deref(), Some("40001"), "{failed:?}");
    assert!(
        failed
            .message
            .starts_with("could not serialize access due to read/write dependencies"),
        "{failed:?}"
    );
    let two_pl = play("two_phase_locking", &WRITE_SKEW);
    assert_eq!(two_pl.committed.len(), 1, "{two_pl:?}");
    assert!(two_pl
        .steps
        .iter()
        .any(|s| s.error_kind.as_deref() == Some("deadlock")));
}

/// The G2 anti-dependency cycle with a read-only transaction (Fekete's example): T2 reads both
/// accounts after T1 changed one and committed, but before T3 — which read earlier — commits.
/// Snapshot isolation lets all three commit; SERIALIZABLE aborts one.
#[test]
fn serializable_aborts_a_dependency_cycle_through_a_reader() {
    let steps = [
        ("T1", "BEGIN"),
        ("T2", "BEGIN"),
        ("T1", "SELECT SUM(balance) FROM accounts"),
        ("T2", "SELECT balance FROM accounts WHERE id = 1"),
        (
            "T2",
            "UPDATE accounts SET balance = balance + 10 WHERE id = 2",
        ),
        (
            "T1",
            "UPDATE accounts SET balance = balance - 10 WHERE id = 1",
        ),
        ("T1", "COMMIT"),
        ("T2", "COMMIT"),
    ];
    let rr = play("repeatable_read", &steps);
    assert_eq!(rr.committed, ["T1", "T2"]);
    let ssi = play("serializable", &steps);
    assert_eq!(ssi.committed.len(), 1, "{ssi:?}");
    assert!(
        ssi.steps
            .iter()
            .any(|s| s.sqlstate.as_deref() == Some("40001")),
        "{ssi:?}"
    );
}

/// A reader is never blocked by a writer under PostgreSQL's levels, whatever it reads.
#[test]
fn postgresql_readers_never_wait_for_writers() {
    for level in POSTGRESQL {
        let r = play(
            level,
            &[
                ("W", "BEGIN"),
                ("W", "UPDATE accounts SET balance = 0 WHERE id = 1"),
                ("W", "DELETE FROM accounts WHERE id = 2"),
                ("W", "INSERT INTO accounts VALUES (3, 5)"),
                ("R", "BEGIN"),
                ("R", "SELECT * FROM accounts"),
                ("R", "SELECT COUNT(*) FROM accounts WHERE balance > 0"),
                ("R", "COMMIT"),
                ("W", "COMMIT"),
            ],
        );
        assert!(r.steps.iter().all(|s| !s.blocked), "{level}: {r:?}");
        assert_eq!(rows(&r, 6), json!([[2]]), "{level}");
    }
}
