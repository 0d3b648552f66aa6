//! The classic anomalies as scripted sessions, under each isolation level: dirty write, dirty
//! read, lost update, read skew and write skew — prevented or allowed as a locking database
//! (`read_committed`, `serializable`) or an MVCC database (`snapshot`, PostgreSQL's REPEATABLE
//! READ) really behaves, with the blocking and the aborts they show.
//! Runs natively and in headless Chromium.

mod common;

use common::{ok, rows, step};
use dataflow_lab::sim::script::ScriptReport;
use serde_json::json;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

const LEVELS: [&str; 3] = ["read_committed", "serializable", "snapshot"];

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
    for level in LEVELS {
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

/// Dirty read: nobody ever sees another transaction's uncommitted write. Under the locking
/// levels the reader waits for the writer; under snapshot it reads the old value at once.
#[test]
fn dirty_reads_are_prevented_at_every_level() {
    for level in LEVELS {
        let r = play(
            level,
            &[
                ("T1", "BEGIN"),
                ("T1", "UPDATE accounts SET balance = 0 WHERE id = 1"),
                ("T2", "SELECT balance FROM accounts WHERE id = 1"),
                ("T1", "ROLLBACK"),
            ],
        );
        assert_eq!(rows(&r, 2), json!([[100]]), "{level}");
        assert_eq!(
            step(&r, 2).blocked,
            level != "snapshot",
            "{level}: {:?}",
            step(&r, 2)
        );
    }
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

/// Lost update: two read-modify-write transactions on one row. Read committed loses T1's
/// update; serializable deadlocks and aborts one; snapshot aborts the second writer with a
/// serialization error once the first commits.
#[test]
fn lost_updates_happen_only_under_read_committed() {
    let rc = play("read_committed", &LOST_UPDATE);
    assert!(step(&rc, 5).blocked && ok(&rc, 5), "{:?}", step(&rc, 5));
    assert_eq!(rc.committed, ["T1", "T2"], "both commit: T1's 150 is lost");

    let serializable = play("serializable", &LOST_UPDATE);
    assert_eq!(
        step(&serializable, 5).error_kind.as_deref(),
        Some("deadlock")
    );
    assert!(
        step(&serializable, 4).blocked,
        "T1 waits for T2's shared lock"
    );
    assert_eq!(step(&serializable, 4).completed_after, Some(5));
    assert_eq!(serializable.committed, ["T1"]);
    assert_eq!(serializable.aborted, ["T2"]);

    let snapshot = play("snapshot", &LOST_UPDATE);
    assert_eq!(
        step(&snapshot, 5).error_kind.as_deref(),
        Some("serialization")
    );
    assert_eq!(step(&snapshot, 5).completed_after, Some(6));
    assert_eq!(snapshot.committed, ["T1"]);
}

/// Read skew: T1 reads account 1, T2 moves money from 1 to 2 and commits, T1 reads account 2.
/// Read committed sees an inconsistent total; snapshot sees its snapshot; serializable makes
/// T2's write wait until T1 is done.
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
    let rc = play("read_committed", &steps);
    assert_eq!(rows(&rc, 1), json!([[100]]));
    assert_eq!(rows(&rc, 6), json!([[150]]), "T1 sees a total of 250: skew");

    let snapshot = play("snapshot", &steps);
    assert_eq!(
        rows(&snapshot, 6),
        json!([[100]]),
        "T1 sees its snapshot: 200"
    );

    // Under serializable T2's first write already waits for T1's shared lock, so the script
    // that shows the skew elsewhere would stall; T2 goes on when T1 commits instead.
    let serializable = play(
        "serializable",
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
        step(&serializable, 3).blocked,
        "T2 waits for T1's shared row lock"
    );
    assert_eq!(
        step(&serializable, 3).completed_after,
        Some(5),
        "T1's commit frees it"
    );
    assert_eq!(
        rows(&serializable, 4),
        json!([[100]]),
        "T1 sees a consistent 200"
    );
    assert_eq!(serializable.committed, ["T1", "T2"]);
}

/// Write skew: each transaction checks the total and withdraws from a different account. Both
/// commit under read committed and under snapshot (snapshot isolation allows write skew); under
/// serializable their shared read locks collide and one is aborted.
#[test]
fn write_skew_is_prevented_only_by_serializable() {
    let steps = [
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
    for level in ["read_committed", "snapshot"] {
        let r = play(level, &steps);
        assert_eq!(
            r.committed,
            ["T1", "T2"],
            "{level}: both withdraw, the total goes negative"
        );
    }
    let serializable = play("serializable", &steps);
    assert_eq!(serializable.committed.len(), 1, "{serializable:?}");
    assert!(serializable
        .steps
        .iter()
        .any(|s| s.error_kind.as_deref() == Some("deadlock")));
}
