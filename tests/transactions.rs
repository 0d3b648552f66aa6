//! Transactions over our storage with two or three connections: isolation of uncommitted work,
//! snapshots, rollback, the change log, reclaimed versions, key access and row counters.
//! Runs natively (`cargo test`) and in headless Chromium (`cargo test --target wasm32-…`).

use dataflow_lab::sim::change_log::{ChangeKind, RowOp, SchemaChange};
use dataflow_lab::sim::database::{Connection, Database, DbError, Outcome, StatementKind};
use dataflow_lab::sim::storage::{Engine, ReadMode};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

fn accounts() -> Database {
    let mut db = Database::new("bank");
    db.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, balance INTEGER NOT NULL)")
        .expect("create");
    db.execute("INSERT INTO accounts VALUES (1, 'ada', 100), (2, 'grace', 50), (3, 'linus', 0)")
        .expect("insert");
    db
}

fn ok(conn: &mut Connection, sql: &str) {
    if let Err(error) = conn.execute(sql) {
        panic!("{sql}: {error}");
    }
}

fn query(conn: &mut Connection, sql: &str) -> Vec<Vec<String>> {
    match conn.execute(sql).map(|r| r.outcome) {
        Ok(Outcome::Rows { rows, .. }) => rows
            .into_iter()
            .map(|row| row.into_iter().map(|c| c.text).collect())
            .collect(),
        other => panic!("{sql}: {other:?}"),
    }
}

fn balance(conn: &mut Connection, id: i64) -> Option<String> {
    query(
        conn,
        &format!("SELECT balance FROM accounts WHERE id = {id}"),
    )
    .pop()
    .map(|mut row| row.remove(0))
}

/// Another connection never sees uncommitted work; it sees it once committed.
#[test]
fn uncommitted_changes_are_invisible_to_other_connections() {
    let db = accounts();
    let mut writer = db.connect(ReadMode::LatestCommitted);
    let mut reader = db.connect(ReadMode::LatestCommitted);
    ok(&mut writer, "BEGIN");
    ok(
        &mut writer,
        "UPDATE accounts SET balance = 999 WHERE id = 1",
    );
    ok(&mut writer, "INSERT INTO accounts VALUES (4, 'barbara', 7)");
    ok(&mut writer, "DELETE FROM accounts WHERE id = 3");
    assert_eq!(
        balance(&mut writer, 1).as_deref(),
        Some("999"),
        "a writer sees its own work"
    );
    assert_eq!(balance(&mut reader, 1).as_deref(), Some("100"));
    assert_eq!(balance(&mut reader, 4), None);
    assert_eq!(balance(&mut reader, 3).as_deref(), Some("0"));
    assert_eq!(query(&mut reader, "SELECT COUNT(*) FROM accounts"), [["3"]]);
    ok(&mut writer, "COMMIT");
    assert_eq!(balance(&mut reader, 1).as_deref(), Some("999"));
    assert_eq!(balance(&mut reader, 4).as_deref(), Some("7"));
    assert_eq!(balance(&mut reader, 3), None);
}

/// A transaction-snapshot reader keeps its snapshot after another transaction commits; a
/// statement-snapshot reader sees the commit at its next statement.
#[test]
fn a_snapshot_reader_keeps_its_snapshot() {
    let db = accounts();
    let mut writer = db.connect(ReadMode::LatestCommitted);
    let mut repeatable = db.connect(ReadMode::TransactionSnapshot);
    let mut per_statement = db.connect(ReadMode::StatementSnapshot);
    ok(&mut repeatable, "BEGIN");
    ok(&mut per_statement, "BEGIN");
    assert_eq!(
        query(&mut repeatable, "SELECT SUM(balance) FROM accounts"),
        [["150"]]
    );
    assert_eq!(
        query(&mut per_statement, "SELECT SUM(balance) FROM accounts"),
        [["150"]]
    );

    ok(
        &mut writer,
        "UPDATE accounts SET balance = balance + 10 WHERE id = 2",
    );
    ok(&mut writer, "INSERT INTO accounts VALUES (9, 'new', 1000)");

    assert_eq!(
        query(&mut repeatable, "SELECT SUM(balance) FROM accounts"),
        [["150"]]
    );
    assert_eq!(
        balance(&mut repeatable, 9),
        None,
        "inserted after the snapshot"
    );
    assert_eq!(
        query(&mut per_statement, "SELECT SUM(balance) FROM accounts"),
        [["1160"]]
    );
    ok(&mut repeatable, "COMMIT");
    assert_eq!(
        query(&mut repeatable, "SELECT SUM(balance) FROM accounts"),
        [["1160"]]
    );
}

/// Writing a row that changed since the snapshot is a serialization failure; writing a row
/// another open transaction is writing fails too (the lock manager will make it wait).
#[test]
fn write_conflicts_are_errors() {
    let db = accounts();
    let mut a = db.connect(ReadMode::TransactionSnapshot);
    let mut b = db.connect(ReadMode::LatestCommitted);
    ok(&mut a, "BEGIN");
    assert_eq!(balance(&mut a, 1).as_deref(), Some("100"));
    ok(&mut b, "UPDATE accounts SET balance = 0 WHERE id = 1");
    let error = a
        .execute("UPDATE accounts SET balance = balance - 10 WHERE id = 1")
        .expect_err("lost update prevented");
    assert!(
        error.to_string().contains("could not serialize access"),
        "{error}"
    );
    ok(&mut a, "ROLLBACK");

    ok(&mut b, "BEGIN");
    ok(&mut b, "UPDATE accounts SET balance = 5 WHERE id = 2");
    let mut c = db.connect(ReadMode::LatestCommitted);
    let error = c
        .execute("UPDATE accounts SET balance = 6 WHERE id = 2")
        .expect_err("row is being written");
    assert!(
        error.to_string().contains("being written by transaction"),
        "{error}"
    );
    ok(&mut b, "COMMIT");
    ok(&mut c, "UPDATE accounts SET balance = 6 WHERE id = 2");
    assert_eq!(balance(&mut c, 2).as_deref(), Some("6"));
}

/// ROLLBACK restores exactly the rows there were; a failing autocommit statement leaves nothing.
#[test]
fn rollback_restores_the_exact_rows() {
    let mut db = accounts();
    let before = db.dump().expect("dump");
    let mut conn = db.connect(ReadMode::LatestCommitted);
    ok(&mut conn, "BEGIN");
    ok(
        &mut conn,
        "INSERT INTO accounts VALUES (10, 'x', 1), (11, 'y', 2)",
    );
    ok(&mut conn, "UPDATE accounts SET balance = balance * 2");
    ok(&mut conn, "DELETE FROM accounts WHERE id = 10 OR id = 2");
    ok(&mut conn, "UPDATE accounts SET owner = 'z' WHERE id = 11");
    ok(&mut conn, "ROLLBACK");
    assert_eq!(db.dump().expect("dump"), before);
    assert!(!conn.in_transaction());

    let error = db
        .execute("INSERT INTO accounts VALUES (20, 'ok', 1), (1, 'duplicate', 2)")
        .expect_err("duplicate key");
    assert!(matches!(error, DbError::Sql(_)));
    assert_eq!(
        db.dump().expect("dump"),
        before,
        "the failed statement left nothing"
    );
}

/// After a failure inside a transaction, PostgreSQL refuses everything until ROLLBACK; COMMIT
/// then rolls back.
#[test]
fn a_failed_statement_aborts_the_transaction_as_in_postgresql() {
    let db = accounts();
    let mut conn = db.connect(ReadMode::LatestCommitted);
    ok(&mut conn, "BEGIN");
    ok(&mut conn, "UPDATE accounts SET balance = 1 WHERE id = 1");
    assert!(conn.execute("SELECT nope FROM accounts").is_err());
    assert!(conn.is_aborted());
    assert_eq!(conn.execute("SELECT 1"), Err(DbError::TransactionAborted));
    let commit = conn.execute("COMMIT").expect("COMMIT answers");
    assert_eq!(commit.kind, StatementKind::Rollback);
    assert!(!conn.is_aborted());
    assert_eq!(
        balance(&mut conn, 1).as_deref(),
        Some("100"),
        "nothing was committed"
    );
}

/// The change log holds exactly the committed changes, in commit order, with before and
/// after images — console DDL and DML included — and never a rolled-back change.
#[test]
fn the_change_log_holds_exactly_the_committed_changes_in_commit_order() {
    let mut db = accounts();
    let start = db.with_engine_ref(|e| e.log().next_lsn());
    let mut first = db.connect(ReadMode::LatestCommitted);
    let mut second = db.connect(ReadMode::LatestCommitted);
    let mut third = db.connect(ReadMode::LatestCommitted);
    ok(&mut first, "BEGIN");
    ok(&mut first, "UPDATE accounts SET balance = 90 WHERE id = 1");
    ok(&mut second, "BEGIN");
    ok(&mut second, "INSERT INTO accounts VALUES (5, 'edsger', 5)");
    ok(&mut third, "BEGIN");
    ok(&mut third, "DELETE FROM accounts WHERE id = 3");
    ok(&mut second, "COMMIT");
    ok(&mut third, "ROLLBACK");
    ok(&mut first, "UPDATE accounts SET balance = 80 WHERE id = 1");
    ok(&mut first, "COMMIT");
    // The console's own statements go through the database's default connection.
    db.execute("ALTER TABLE accounts ADD COLUMN note TEXT NULL")
        .expect("ddl");
    db.execute("DELETE FROM accounts WHERE id = 2")
        .expect("dml");

    let changes = db.changes_since(start);
    let lsns: Vec<u64> = changes.iter().map(|c| c.lsn).collect();
    let expected: Vec<u64> = (start..start + 5).collect();
    assert_eq!(lsns, expected, "consecutive LSNs");
    assert!(changes
        .windows(2)
        .all(|w| w[0].commit_seq <= w[1].commit_seq));

    let row = |i: usize| match &changes[i].kind {
        ChangeKind::Row {
            op, before, after, ..
        } => (*op, before.clone(), after.clone()),
        other => panic!("change {i}: {other:?}"),
    };
    // The second connection committed first.
    assert_eq!(row(0).0, RowOp::Insert);
    assert_eq!(
        changes[0].value("owner").map(String::from).as_deref(),
        Some("edsger")
    );
    // Then the first connection's two updates, in the order it made them, same transaction.
    assert_eq!(row(1).0, RowOp::Update);
    assert_eq!(changes[1].txn, changes[2].txn);
    assert_eq!(
        changes[1].value("balance").map(String::from).as_deref(),
        Some("90")
    );
    let (_, before, after) = row(2);
    assert_eq!(before.map(|v| String::from(&v[2])).as_deref(), Some("90"));
    assert_eq!(after.map(|v| String::from(&v[2])).as_deref(), Some("80"));
    // Then the console's DDL, with its SQL, and its delete with the row's last image.
    assert!(
        matches!(&changes[3].kind, ChangeKind::Schema(SchemaChange::AddColumn { column }) if column.name == "note")
    );
    assert!(changes[3]
        .sql
        .as_deref()
        .is_some_and(|sql| sql.starts_with("ALTER TABLE")));
    let (op, before, after) = row(4);
    assert_eq!(op, RowOp::Delete);
    assert_eq!(
        before.map(|v| v.len()),
        Some(4),
        "the image has the new column"
    );
    assert_eq!(after, None);
    // The rolled-back delete of row 3 is nowhere.
    assert!(!changes.iter().any(|c| matches!(
        &c.kind,
        ChangeKind::Row {
            op: RowOp::Delete,
            ..
        }
    ) && c.value("owner").map(String::from).as_deref()
        == Some("linus")));
}

/// Old versions are reclaimed: 100,000 updates of the same rows do not grow the storage, and
/// versions kept for a snapshot go once the snapshot closes. The log keeps its retention.
#[test]
fn old_versions_are_reclaimed() {
    let mut db = Database::with_engine("churn", Engine::with_log_retention(1_000));
    db.execute("CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        .expect("create");
    db.execute("INSERT INTO counters VALUES (1, 0), (2, 0), (3, 0), (4, 0)")
        .expect("insert");
    let rows = 4;
    let mut most_versions = 0;
    for i in 0..100_000 {
        db.execute(&format!(
            "UPDATE counters SET n = n + 1 WHERE id = {}",
            i % rows + 1
        ))
        .expect("update");
        if i % 1_000 == 0 {
            most_versions = most_versions.max(db.stats().versions);
        }
    }
    assert_eq!(
        query(db.default_connection(), "SELECT SUM(n) FROM counters"),
        [["100000"]]
    );
    assert!(
        most_versions <= rows as usize,
        "versions grew to {most_versions}"
    );
    let stats = db.stats();
    assert_eq!(stats.versions, rows as usize);
    assert!(stats.log_records <= 1_000);

    let mut reader = db.connect(ReadMode::TransactionSnapshot);
    ok(&mut reader, "BEGIN");
    assert_eq!(
        query(&mut reader, "SELECT SUM(n) FROM counters"),
        [["100000"]]
    );
    for _ in 0..500 {
        db.execute("UPDATE counters SET n = n + 1 WHERE id = 1")
            .expect("update");
    }
    assert!(
        db.stats().versions > rows as usize,
        "the snapshot keeps an old version"
    );
    assert_eq!(
        query(&mut reader, "SELECT SUM(n) FROM counters"),
        [["100000"]]
    );
    ok(&mut reader, "COMMIT");
    assert_eq!(
        db.stats().versions,
        rows as usize,
        "closing the snapshot reclaims them"
    );
    assert_eq!(db.stats().open_snapshots, 0);
}

/// A single-row UPDATE or DELETE by primary key reads one row, however big the table; other
/// statements read what they scan. Uniqueness is still checked against every row.
#[test]
fn key_access_reads_one_row_and_counters_tell() {
    let mut db = Database::new("big");
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, code TEXT UNIQUE, qty INTEGER)")
        .expect("create");
    let values: Vec<String> = (1..=1_000).map(|i| format!("({i}, 'c{i}', 0)")).collect();
    let insert = db
        .execute(&format!("INSERT INTO items VALUES {}", values.join(", ")))
        .expect("insert");
    assert_eq!(insert.counters.rows_written, 1_000);

    let update = db
        .execute("UPDATE items SET qty = 5 WHERE id = 500")
        .expect("update");
    assert_eq!(update.outcome, Outcome::Affected(1));
    assert_eq!(
        (update.counters.rows_read, update.counters.rows_written),
        (1, 1)
    );

    let scan = db
        .execute("UPDATE items SET qty = 6 WHERE qty = 5")
        .expect("update");
    assert_eq!(scan.outcome, Outcome::Affected(1));
    assert_eq!(scan.counters.rows_read, 1_000);

    let delete = db
        .execute("DELETE FROM items WHERE id = 7 AND qty = 0")
        .expect("delete");
    assert_eq!(
        (delete.counters.rows_read, delete.counters.rows_written),
        (1, 1)
    );
    let missed = db
        .execute("DELETE FROM items WHERE id = 8 AND qty = 99")
        .expect("delete");
    assert_eq!(
        missed.outcome,
        Outcome::Affected(0),
        "the rest of the WHERE still applies"
    );

    let duplicate = db.execute("UPDATE items SET code = 'c2' WHERE id = 1");
    assert!(
        duplicate.is_err(),
        "a duplicate unique value is still caught: {duplicate:?}"
    );

    let select = db
        .execute("SELECT * FROM items WHERE id = 3")
        .expect("select");
    assert_eq!(select.counters.rows_read, 1);
    let all = db.execute("SELECT COUNT(*) FROM items").expect("count");
    assert_eq!(all.counters.rows_read, 999);
}

/// DDL takes effect at once and stays, even if its transaction rolls back (documented).
#[test]
fn ddl_is_applied_at_once() {
    let db = accounts();
    let mut conn = db.connect(ReadMode::LatestCommitted);
    let mut other = db.connect(ReadMode::LatestCommitted);
    ok(&mut conn, "BEGIN");
    ok(&mut conn, "CREATE TABLE audit (id INTEGER PRIMARY KEY)");
    ok(
        &mut conn,
        "ALTER TABLE accounts RENAME COLUMN owner TO holder",
    );
    assert_eq!(query(&mut other, "SELECT COUNT(*) FROM audit"), [["0"]]);
    ok(&mut conn, "ROLLBACK");
    assert!(other.execute("SELECT owner FROM accounts").is_err());
    assert_eq!(
        query(&mut other, "SELECT holder FROM accounts WHERE id = 1"),
        [["ada"]]
    );
}
