//! Our storage behaves as GlueSQL's own `MemoryStorage` for one connection: random sequences of
//! CREATE / INSERT / UPDATE / DELETE / SELECT / ALTER / DROP, with and without primary-key
//! predicates and ranges (which our scans keep to), give equal results statement by statement —
//! rows, counts and error messages.
//! (Native only: proptest does not run in the browser.)
#![cfg(not(target_arch = "wasm32"))]

use dataflow_lab::sim::database::{Database, Outcome};
use gluesql::core::executor::Payload;
use gluesql::prelude::{Glue, MemoryStorage};
use proptest::prelude::*;

/// A result reduced to what both storages must agree on.
#[derive(Debug, PartialEq)]
enum Seen {
    Rows(Vec<String>, Vec<Vec<String>>),
    Count(usize),
    Done,
    Error(String),
}

fn from_memory(result: gluesql::core::error::Result<Vec<Payload>>) -> Seen {
    match result.map(|mut p| p.pop()) {
        Ok(Some(Payload::Select { labels, rows })) => Seen::Rows(
            labels,
            rows.iter()
                .map(|r| r.iter().map(String::from).collect())
                .collect(),
        ),
        Ok(Some(
            Payload::Insert(n) | Payload::Update(n) | Payload::Delete(n) | Payload::DropTable(n),
        )) => Seen::Count(n),
        Ok(_) => Seen::Done,
        // As our database shows GlueSQL's messages (a syntax error as text, not in Rust's debug form).
        Err(error) => Seen::Error(dataflow_lab::sim::database::glue_message(&error)),
    }
}

fn from_ours(db: &mut Database, sql: &str) -> Seen {
    match db.execute(sql).map(|r| r.outcome) {
        Ok(Outcome::Rows { columns, rows }) => Seen::Rows(
            columns,
            rows.into_iter()
                .map(|r| r.into_iter().map(|c| c.text).collect())
                .collect(),
        ),
        Ok(Outcome::Affected(n)) => Seen::Count(n),
        Ok(Outcome::Done) => Seen::Done,
        Err(error) => Seen::Error(error.to_string()),
    }
}

/// One random statement over tables t0..t2 with columns id (key), a, b and maybe c.
fn statement() -> impl Strategy<Value = String> {
    let table = (0..3u8).prop_map(|t| format!("t{t}"));
    let key = 0..12i64;
    let value = -5..20i64;
    prop_oneof![
        2 => table.clone().prop_map(|t| format!(
            "CREATE TABLE {t} (id INTEGER PRIMARY KEY, a INTEGER, b TEXT UNIQUE)"
        )),
        6 => (table.clone(), key.clone(), value.clone(), 0..4u8).prop_map(|(t, k, v, s)| format!(
            "INSERT INTO {t} (id, a, b) VALUES ({k}, {v}, 's{s}{k}')"
        )),
        2 => (table.clone(), key.clone(), value.clone()).prop_map(|(t, k, v)| format!(
            "INSERT INTO {t} (id, a, b) VALUES ({k}, {v}, NULL), ({}, {v}, 'dup')", k + 1
        )),
        5 => (table.clone(), key.clone(), value.clone()).prop_map(|(t, k, v)| format!(
            "UPDATE {t} SET a = {v} WHERE id = {k}"
        )),
        2 => (table.clone(), key.clone(), value.clone()).prop_map(|(t, k, v)| format!(
            "UPDATE {t} SET a = a + 1 WHERE id = {k} AND a > {v}"
        )),
        2 => (table.clone(), value.clone()).prop_map(|(t, v)| format!(
            "UPDATE {t} SET a = a * 2 WHERE a < {v}"
        )),
        2 => (table.clone(), key.clone(), 0..3u8).prop_map(|(t, k, s)| format!(
            "UPDATE {t} SET b = 's{s}' WHERE id = {k}"
        )),
        3 => (table.clone(), key.clone()).prop_map(|(t, k)| format!(
            "DELETE FROM {t} WHERE id = {k}"
        )),
        1 => (table.clone(), value.clone()).prop_map(|(t, v)| format!(
            "DELETE FROM {t} WHERE a >= {v}"
        )),
        4 => table.clone().prop_map(|t| format!("SELECT * FROM {t} ORDER BY id")),
        2 => (table.clone(), key.clone()).prop_map(|(t, k)| format!(
            "SELECT id, a FROM {t} WHERE id = {k}"
        )),
        2 => table.clone().prop_map(|t| format!(
            "SELECT COUNT(*), SUM(a), MIN(b) FROM {t}"
        )),
        // Ranges of the primary key (our scan keeps to them: key_access::range_hint).
        4 => (table.clone(), range_query()).prop_map(|(t, q)| q.replace("{t}", &t)),
        1 => table.clone().prop_map(|t| format!(
            "ALTER TABLE {t} ADD COLUMN c INTEGER DEFAULT 7"
        )),
        1 => table.clone().prop_map(|t| format!("ALTER TABLE {t} DROP COLUMN c")),
        1 => table.clone().prop_map(|t| format!("ALTER TABLE {t} RENAME COLUMN a TO a2")),
        2 => table.clone().prop_map(|t| format!("ALTER TABLE {t} RENAME COLUMN a2 TO a")),
        1 => table.prop_map(|t| format!("DROP TABLE {t}")),
    ]
}

/// A `SELECT` over `{t}` bounded by its primary key, as a range, with other terms, in a join,
/// or beside a subquery that must not take the range.
fn range_query() -> impl Strategy<Value = String> {
    let key = -2..14i64;
    let value = -5..20i64;
    let op = prop::sample::select(vec![">", ">=", "<", "<=", "="]);
    prop_oneof![
        (key.clone(), key.clone()).prop_map(|(lo, hi)| format!(
            "SELECT id, a FROM {{t}} WHERE id BETWEEN {lo} AND {hi} ORDER BY id"
        )),
        (op.clone(), key.clone(), value.clone()).prop_map(|(op, k, v)| format!(
            "SELECT * FROM {{t}} WHERE id {op} {k} AND a < {v} ORDER BY id"
        )),
        (op.clone(), key.clone(), op.clone(), key.clone()).prop_map(|(o1, k1, o2, k2)| format!(
            "SELECT id FROM {{t}} WHERE {k1} {o1} id AND (id {o2} {k2}) ORDER BY id"
        )),
        (key.clone(), key.clone()).prop_map(|(k1, k2)| format!(
            "SELECT COUNT(*), SUM(a) FROM {{t}} WHERE id < {k1}.5 AND id > -{k2}"
        )),
        (key.clone(), key.clone()).prop_map(|(k1, k2)| format!(
            "SELECT COUNT(*), MAX(b) FROM {{t}} WHERE id <= {k1} AND ({k2} < id)"
        )),
        (op.clone(), key.clone(), 1..4u8).prop_map(|(op, k, n)| format!(
            "SELECT id, b FROM {{t}} WHERE id {op} {k} ORDER BY id DESC LIMIT {n}"
        )),
        (key.clone(), key.clone()).prop_map(|(k1, k2)| format!(
            "SELECT x.id, y.id FROM {{t}} x JOIN {{t}} y ON y.a = x.a WHERE x.id BETWEEN {k1} AND {k2} ORDER BY x.id, y.id"
        )),
        (key.clone(), key.clone()).prop_map(|(k1, k2)| format!(
            "SELECT x.id, y.b FROM {{t}} x JOIN t0 y ON y.id = x.a WHERE x.id >= {k1} AND x.id <= {k2} ORDER BY x.id"
        )),
        (key.clone(), key.clone()).prop_map(|(k1, k2)| format!(
            "SELECT id FROM {{t}} WHERE id > {k1} AND a IN (SELECT a FROM {{t}} WHERE id < {k2}) ORDER BY id"
        )),
        // Conditions that fail on some rows: a range must not skip the failure.
        (key.clone(), key.clone()).prop_map(|(k1, k2)| format!(
            "SELECT id FROM {{t}} WHERE id > {k1} AND 10 / (a - {k2}) > 0 ORDER BY id"
        )),
        key.clone().prop_map(|k| format!("SELECT id FROM {{t}} WHERE id < {k} AND b ORDER BY id")),
        key.clone().prop_map(|k| format!("SELECT id FROM {{t}} WHERE id < {k} AND a = 'x' ORDER BY id")),
        // Names that collide: the bounded name is another table's.
        key.clone().prop_map(|k| format!(
            "SELECT x.id FROM {{t}} x JOIN t0 t1 ON t1.a = x.a WHERE t1.id > {k} ORDER BY x.id, t1.id"
        )),
        key.clone().prop_map(|k| format!(
            "SELECT x.id FROM {{t}} x (a, id, b) WHERE x.id > {k} ORDER BY x.a"
        )),
        key.prop_map(|k| format!(
            "SELECT id, a FROM {{t}} WHERE id = {k} OR id BETWEEN {} AND {} ORDER BY id", k - 3, k + 1
        )),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Statement by statement, both storages give the same result.
    #[test]
    fn our_storage_matches_memory_storage(statements in prop::collection::vec(statement(), 1..80)) {
        let mut ours = Database::new("ours");
        let mut memory = Glue::new(MemoryStorage::default());
        for t in 0..3 {
            let setup = format!("CREATE TABLE t{t} (id INTEGER PRIMARY KEY, a INTEGER, b TEXT UNIQUE)");
            let setup = setup.as_str();
            ours.execute(setup).expect("setup");
            memory.execute(setup).expect("setup");
        }
        for (i, sql) in statements.iter().enumerate() {
            let expected = from_memory(memory.execute(sql));
            let seen = from_ours(&mut ours, sql);
            prop_assert_eq!(seen, expected, "statement {} differs: {}", i + 1, sql);
        }
    }
}

/// A query over `a` or `b` that an index on either can answer.
fn indexed_query() -> impl Strategy<Value = String> {
    let table = (0..3u8).prop_map(|t| format!("t{t}"));
    let value = -5..20i64;
    let op = prop_oneof![Just("="), Just(">"), Just(">="), Just("<"), Just("<=")];
    prop_oneof![
        (table.clone(), op, value.clone())
            .prop_map(|(t, op, v)| format!("SELECT id, a, b FROM {t} WHERE a {op} {v}")),
        (table.clone(), 0..3u8, value)
            .prop_map(|(t, s, v)| format!("SELECT id FROM {t} WHERE b = 's{s}' OR a = {v}")),
        (table.clone(), 0..3u8).prop_map(|(t, s)| format!("SELECT id FROM {t} WHERE b >= 's{s}'")),
        table
            .clone()
            .prop_map(|t| format!("SELECT id FROM {t} WHERE a IS NULL")),
        table
            .clone()
            .prop_map(|t| format!("SELECT COUNT(*) FROM {t} WHERE b IS NOT NULL")),
        table
            .clone()
            .prop_map(|t| format!("SELECT id, a FROM {t} ORDER BY a")),
        table
            .clone()
            .prop_map(|t| format!("SELECT id, b FROM {t} ORDER BY b DESC")),
        table
            .clone()
            .prop_map(|t| format!("SELECT b, SUM(a) AS a FROM {t} GROUP BY b ORDER BY a")),
        (table.clone(), -5..20i64)
            .prop_map(|(t, v)| format!("SELECT id FROM {t} WHERE a >= '{v}'")),
        (table, -5..20i64).prop_map(|(t, v)| format!("SELECT id FROM {t} WHERE b = {v}")),
    ]
}

/// Rows in a canonical order, unless the query asked for one.
fn canonical(sql: &str, seen: Seen) -> Seen {
    match seen {
        Seen::Rows(labels, mut rows) if !sql.contains("ORDER BY") => {
            rows.sort();
            Seen::Rows(labels, rows)
        }
        other => other,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// With indexes on `a` and `b`, every statement gives what it gives without them: an
    /// index changes what a query reads, never what it returns (row order aside where the
    /// query sets none, as in PostgreSQL).
    #[test]
    fn indexes_never_change_a_result(
        statements in prop::collection::vec(
            prop_oneof![3 => statement(), 2 => indexed_query()], 1..80)
    ) {
        let mut plain = Database::new("plain");
        let mut indexed = Database::new("indexed");
        for t in 0..3 {
            let setup = format!("CREATE TABLE t{t} (id INTEGER PRIMARY KEY, a INTEGER, b TEXT UNIQUE)");
            plain.execute(&setup).expect("setup");
            indexed.execute(&setup).expect("setup");
            indexed.execute(&format!("CREATE INDEX t{t}_a ON t{t} (a)")).expect("index a");
            indexed.execute(&format!("CREATE INDEX t{t}_b ON t{t} (b)")).expect("index b");
        }
        for (i, sql) in statements.iter().enumerate() {
            let expected = canonical(sql, from_ours(&mut plain, sql));
            let seen = canonical(sql, from_ours(&mut indexed, sql));
            prop_assert_eq!(seen, expected, "statement {} differs: {}", i + 1, sql);
        }
    }
}

/// A key range left unused by a key lookup is not taken by a later read of the same table (a
/// custom function's subquery here), which must see the whole table.
#[test]
fn a_range_left_unused_reaches_no_other_read() {
    let mut ours = Database::new("ours");
    for sql in [
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, n INTEGER)",
        "INSERT INTO orders VALUES (1, 1), (5, 5), (9, 9)",
        "CREATE FUNCTION top() RETURN (SELECT id FROM orders WHERE n > 6)",
    ] {
        ours.execute(sql).expect(sql);
    }
    assert_eq!(
        from_ours(
            &mut ours,
            "SELECT id, top() AS top FROM orders WHERE id = 5"
        ),
        Seen::Rows(
            vec!["id".to_owned(), "top".to_owned()],
            vec![vec!["5".to_owned(), "9".to_owned()]]
        )
    );
}
