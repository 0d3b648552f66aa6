//! Row locks taken by SQL, as scripted sessions: `SELECT … FOR UPDATE` with `SKIP LOCKED` and
//! `NOWAIT`, multi-row `UPDATE`s waiting for row locks, isolation levels chosen per transaction
//! (`BEGIN ISOLATION LEVEL`, `SET TRANSACTION`), and the snapshot taken at a transaction's first
//! statement. Each behaves as PostgreSQL does. Runs natively and in headless Chromium.

mod common;

use common::{ok, rows, step};
use dataflow_lab::sim::script::ScriptReport;
use serde_json::json;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

const LEVELS: [&str; 5] = [
    "read_committed",
    "repeatable_read",
    "serializable",
    "locking_read_committed",
    "two_phase_locking",
];

const JOBS: &[&str] = &[
    "CREATE TABLE jobs (id INT PRIMARY KEY, state TEXT)",
    "INSERT INTO jobs VALUES (1, 'new'), (2, 'new'), (3, 'new')",
];

const ACCOUNTS: &[&str] = &[
    "CREATE TABLE accounts (id INT PRIMARY KEY, balance INT)",
    "INSERT INTO accounts VALUES (1, 100), (2, 100)",
];

const NEXT_JOB: &str =
    "SELECT id FROM jobs WHERE state = 'new' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED";

fn jobs(isolation: &str, steps: &[(&str, &str)]) -> ScriptReport {
    common::play_script(isolation, JOBS, steps)
}

/// The job-queue pattern: two workers each claim a different job without waiting.
#[test]
fn skip_locked_hands_each_worker_a_different_job() {
    for level in LEVELS {
        let r = jobs(
            level,
            &[
                ("W1", "BEGIN"),
                ("W2", "BEGIN"),
                ("W1", NEXT_JOB),
                ("W2", NEXT_JOB),
                ("W1", "UPDATE jobs SET state = 'W1' WHERE id = 1"),
                ("W2", "UPDATE jobs SET state = 'W2' WHERE id = 2"),
                ("W1", "COMMIT"),
                ("W2", "COMMIT"),
                ("W3", "SELECT id, state FROM jobs ORDER BY id"),
            ],
        );
        assert_eq!(rows(&r, 2), json!([[1]]), "{level}");
        assert_eq!(rows(&r, 3), json!([[2]]), "{level}: W2 skips W1's job");
        assert!(!step(&r, 3).blocked, "{level}: SKIP LOCKED never waits");
        if level == "serializable" {
            // Both workers read `jobs` with a sequential scan, so each holds a table-wide SIREAD
            // lock that the other's UPDATE meets: a dependency cycle. PostgreSQL aborts the
            // second to commit (checked against it by tests/postgres_differential.rs); an index
            // on the state would let it lock finer.
            assert_eq!(r.committed, ["W1"], "{level}");
            assert_eq!(step(&r, 7).sqlstate.as_deref(), Some("40001"), "{level}");
            assert_eq!(rows(&r, 8), json!([[1, "W1"], [2, "new"], [3, "new"]]));
        } else {
            assert_eq!(
                rows(&r, 8),
                json!([[1, "W1"], [2, "W2"], [3, "new"]]),
                "{level}"
            );
            assert_eq!(r.committed, ["W1", "W2"], "{level}");
        }
    }
}

/// Without `SKIP LOCKED` the second worker queues for the same row until the first commits.
#[test]
fn for_update_waits_for_the_row_and_then_reads_the_committed_value() {
    let r = common::play_script(
        "read_committed",
        ACCOUNTS,
        &[
            ("T1", "BEGIN"),
            ("T2", "BEGIN"),
            ("T1", "SELECT balance FROM accounts WHERE id = 1 FOR UPDATE"),
            ("T2", "SELECT balance FROM accounts WHERE id = 1 FOR UPDATE"),
            ("T1", "UPDATE accounts SET balance = 150 WHERE id = 1"),
            ("T1", "COMMIT"),
            ("T2", "COMMIT"),
        ],
    );
    assert!(step(&r, 3).blocked, "T2 must wait for T1's row lock");
    assert_eq!(step(&r, 3).completed_after, Some(5), "freed by T1's COMMIT");
    assert_eq!(rows(&r, 3), json!([[150]]), "T2 reads what T1 committed");

    // PostgreSQL's REPEATABLE READ refuses to lock a row changed since the snapshot.
    let r = common::play_script(
        "snapshot",
        ACCOUNTS,
        &[
            ("T1", "BEGIN"),
            ("T2", "BEGIN"),
            ("T2", "SELECT COUNT(*) FROM accounts"),
            ("T1", "UPDATE accounts SET balance = 150 WHERE id = 1"),
            ("T2", "SELECT balance FROM accounts WHERE id = 1 FOR UPDATE"),
            ("T1", "COMMIT"),
            ("T2", "COMMIT"),
        ],
    );
    assert!(step(&r, 4).blocked);
    assert_eq!(step(&r, 4).error_kind.as_deref(), Some("serialization"));
    assert!(step(&r, 4)
        .message
        .contains("could not serialize access due to concurrent update"));
    assert_eq!(r.aborted, ["T2"]);
}

/// `NOWAIT` fails at once with PostgreSQL's message, and the transaction is aborted.
#[test]
fn nowait_fails_at_once_and_aborts_the_transaction() {
    let r = jobs(
        "repeatable_read",
        &[
            ("W1", "BEGIN"),
            ("W1", "SELECT * FROM jobs WHERE id = 1 FOR UPDATE"),
            ("W2", "BEGIN"),
            ("W2", "SELECT * FROM jobs WHERE id = 1 FOR UPDATE NOWAIT"),
            ("W2", "SELECT * FROM jobs WHERE id = 2"),
            ("W1", "COMMIT"),
        ],
    );
    let nowait = step(&r, 3);
    assert!(!nowait.blocked);
    assert_eq!(nowait.error_kind.as_deref(), Some("lock_timeout"));
    assert_eq!(
        nowait.message,
        "could not obtain lock on row in relation \"jobs\""
    );
    assert_eq!(step(&r, 4).error_kind.as_deref(), Some("aborted"));
    assert!(ok(&r, 5));
}

/// A `FOR SHARE` lock lets other sharers in and keeps writers out.
#[test]
fn for_share_admits_sharers_and_blocks_writers() {
    let r = jobs(
        "repeatable_read",
        &[
            ("A", "BEGIN"),
            ("A", "SELECT * FROM jobs WHERE id = 1 FOR SHARE"),
            ("B", "SELECT * FROM jobs WHERE id = 1 FOR KEY SHARE"),
            ("C", "UPDATE jobs SET state = 'x' WHERE id = 1"),
            ("A", "COMMIT"),
        ],
    );
    assert!(
        !step(&r, 2).blocked,
        "FOR KEY SHARE is compatible with FOR SHARE"
    );
    assert!(
        step(&r, 3).blocked,
        "FOR NO KEY UPDATE conflicts with FOR SHARE"
    );
    assert_eq!(step(&r, 3).completed_after, Some(4));
    assert!(ok(&r, 3));
}

/// A multi-row `UPDATE` waits for the row another transaction writes (a dirty write prevented
/// by waiting, not by an error), then updates every row — or, at PostgreSQL's snapshot levels,
/// fails because the row changed after its snapshot.
#[test]
fn a_multi_row_update_waits_for_row_locks() {
    for level in LEVELS {
        let r = common::play_script(
            level,
            ACCOUNTS,
            &[
                ("T1", "BEGIN"),
                ("T1", "UPDATE accounts SET balance = 0 WHERE id = 2"),
                (
                    "T2",
                    "UPDATE accounts SET balance = balance + 1 WHERE balance >= 0",
                ),
                ("T1", "COMMIT"),
                ("T3", "SELECT balance FROM accounts ORDER BY id"),
            ],
        );
        assert!(step(&r, 2).blocked, "{level}");
        assert_eq!(step(&r, 2).completed_after, Some(3), "{level}");
        if matches!(level, "repeatable_read" | "serializable") {
            // The statement's snapshot was taken before it waited: the row changed since, so
            // PostgreSQL's snapshot levels refuse it.
            assert_eq!(step(&r, 2).sqlstate.as_deref(), Some("40001"), "{level}");
            assert_eq!(rows(&r, 4), json!([[100], [0]]), "{level}");
        } else {
            assert!(ok(&r, 2), "{level}: {}", step(&r, 2).message);
            assert_eq!(rows(&r, 4), json!([[101], [1]]), "{level}");
        }
    }
}

/// `BEGIN ISOLATION LEVEL REPEATABLE READ` on a `two_phase_locking` database makes that
/// transaction read its snapshot without a shared lock, so a writer does not wait; a plain
/// `BEGIN` keeps the database's locking level and the writer waits. `SET TRANSACTION` must come
/// first, and its errors carry PostgreSQL's codes.
#[test]
fn a_transaction_can_choose_its_isolation_level() {
    let script = |begin: &'static str| {
        common::play_script(
            "two_phase_locking",
            ACCOUNTS,
            &[
                ("R", begin),
                ("R", "SELECT SUM(balance) FROM accounts"),
                ("W", "UPDATE accounts SET balance = 0 WHERE id = 1"),
                ("R", "COMMIT"),
            ],
        )
    };
    let locking = script("BEGIN");
    assert!(step(&locking, 2).blocked);
    assert_eq!(step(&locking, 2).completed_after, Some(3));
    let snapshot = script("begin isolation level repeatable read");
    assert!(!step(&snapshot, 2).blocked);

    let r = common::play_script(
        "two_phase_locking",
        ACCOUNTS,
        &[
            ("R", "BEGIN"),
            ("R", "SET TRANSACTION ISOLATION LEVEL READ COMMITTED"),
            ("R", "SELECT SUM(balance) FROM accounts"),
            ("W", "UPDATE accounts SET balance = 0 WHERE id = 1"),
            ("R", "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"),
            ("R", "COMMIT"),
            ("R", "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"),
        ],
    );
    assert!(ok(&r, 1));
    assert!(!step(&r, 3).blocked, "READ COMMITTED readers take no locks");
    assert_eq!(
        step(&r, 4).message,
        "SET TRANSACTION ISOLATION LEVEL must be called before any query"
    );
    assert_eq!(step(&r, 4).sqlstate.as_deref(), Some("25001"));
    assert_eq!(step(&r, 6).sqlstate.as_deref(), Some("25P01"));
}

/// A `repeatable_read` transaction's snapshot is taken at its first statement, not at `BEGIN`: a
/// commit in between is visible (PostgreSQL's behaviour).
#[test]
fn the_snapshot_is_taken_at_the_first_statement() {
    let r = common::play_script(
        "repeatable_read",
        ACCOUNTS,
        &[
            ("T1", "BEGIN"),
            ("T2", "UPDATE accounts SET balance = 5 WHERE id = 1"),
            ("T1", "SELECT balance FROM accounts WHERE id = 1"),
            ("T2", "UPDATE accounts SET balance = 6 WHERE id = 1"),
            ("T1", "SELECT balance FROM accounts WHERE id = 1"),
            ("T1", "COMMIT"),
        ],
    );
    assert_eq!(rows(&r, 2), json!([[5]]));
    assert_eq!(rows(&r, 4), json!([[5]]), "the snapshot holds from then on");
}
