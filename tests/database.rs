//! The database wrapper, end to end: DDL, DML, GlueSQL's errors, isolation between databases
//! and the seeded shop. The same tests run natively (`cargo test`) and inside WebAssembly in
//! headless Chromium (`cargo test --target wasm32-unknown-unknown`), which is how we know the
//! engine behaves the same in the page as on the command line.
//!
//! The seeded shop is compared with `tests/golden/shop-seed-42.tsv`, a dump written by the
//! native run: if the generator changes on purpose, rewrite it with
//! `BLESS=1 cargo test --test database`.

use dataflow_lab::sim::database::{CellKind, Database, DbError, Outcome, StatementKind};
use dataflow_lab::sim::shop::{self, ShopSize, DEFAULT_SEED};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// The dump of the default shop, as written by the native run.
const GOLDEN_SHOP: &str = include_str!("golden/shop-seed-42.tsv");

fn rows(db: &mut Database, sql: &str) -> Vec<Vec<String>> {
    match db.execute(sql) {
        Ok(result) => match result.outcome {
            Outcome::Rows { rows, .. } => rows
                .into_iter()
                .map(|row| row.into_iter().map(|cell| cell.text).collect())
                .collect(),
            other => panic!("{sql}: expected rows, got {other:?}"),
        },
        Err(error) => panic!("{sql}: {error}"),
    }
}

fn scalar(db: &mut Database, sql: &str) -> String {
    rows(db, sql).remove(0).remove(0)
}

/// CREATE, ALTER (rename, add, drop a column) and DROP change what the schema reports.
#[test]
fn ddl_changes_the_schema() {
    let mut db = Database::new("ddl");
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
        .expect("create");
    db.execute("ALTER TABLE items RENAME COLUMN name TO title")
        .expect("rename");
    db.execute("ALTER TABLE items ADD COLUMN price INTEGER DEFAULT 0")
        .expect("add");
    let tables = db.tables().expect("tables");
    let columns: Vec<&str> = tables[0].columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(columns, ["id", "title", "price"]);

    let result = db.execute("DROP TABLE items").expect("drop");
    assert_eq!(result.kind, StatementKind::DropTable);
    assert_eq!(result.summary(), "1 table dropped");
    assert!(db.tables().expect("tables").is_empty());
}

/// INSERT, UPDATE and DELETE report how many rows they touched, and SELECT sees the result.
#[test]
fn dml_reports_affected_rows() {
    let mut db = Database::new("dml");
    db.execute("CREATE TABLE stock (sku INTEGER PRIMARY KEY, qty INTEGER NOT NULL)")
        .expect("create");
    let insert = db
        .execute("INSERT INTO stock VALUES (1, 5), (2, 0), (3, 12)")
        .expect("insert");
    assert_eq!(insert.outcome, Outcome::Affected(3));
    let update = db
        .execute("UPDATE stock SET qty = qty + 1 WHERE qty < 10")
        .expect("update");
    assert_eq!(update.outcome, Outcome::Affected(2));
    let delete = db
        .execute("DELETE FROM stock WHERE sku = 3")
        .expect("delete");
    assert_eq!(delete.outcome, Outcome::Affected(1));
    assert_eq!(
        rows(&mut db, "SELECT sku, qty FROM stock ORDER BY sku"),
        [["1", "6"], ["2", "1"]]
    );
}

/// A renamed column breaks the SQL that still uses the old name, with GlueSQL's own words —
/// the schema break a shared database causes.
#[test]
fn a_renamed_column_breaks_old_readers_with_gluesqls_error() {
    let mut db = shop::shop_database("shop", DEFAULT_SEED).expect("shop");
    db.execute("ALTER TABLE customers RENAME COLUMN email TO email_address")
        .expect("rename");
    let error = db
        .execute("SELECT email FROM customers WHERE id = 1")
        .expect_err("the old name is gone");
    assert!(matches!(error, DbError::Sql(_)));
    assert!(
        error.to_string().contains("identifier not found: email"),
        "unexpected message: {error}"
    );
    // New readers are fine.
    assert!(scalar(&mut db, "SELECT email_address FROM customers WHERE id = 1").contains('@'));
}

/// Bad SQL is an error value with GlueSQL's message, never a panic, and the database keeps
/// working afterwards.
#[test]
fn bad_sql_is_an_error_and_the_database_goes_on() {
    let mut db = Database::new("errors");
    for bad in [
        "SELEKT 1",
        "SELECT * FROM missing",
        "CREATE TABLE t (id VARCHAR(10))",
        "INSERT INTO nowhere VALUES (1)",
        "SELECT 1 +",
        "'unterminated",
    ] {
        let error = db.execute(bad).expect_err(bad);
        assert!(!error.to_string().is_empty(), "{bad}: empty message");
    }
    assert_eq!(scalar(&mut db, "SELECT 40 + 2"), "42");
}

/// A script runs every statement; each gets its own result, failures included.
#[test]
fn a_script_gives_each_statement_its_own_result() {
    let mut db = Database::new("script");
    let results = db.run_script(
        "CREATE TABLE t (id INTEGER PRIMARY KEY);\n\
         INSERT INTO t VALUES (1);\n\
         INSERT INTO t VALUES (1);\n\
         SELECT COUNT(*) FROM t;",
        || 0.0,
    );
    let kinds: Vec<StatementKind> = results.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            StatementKind::CreateTable,
            StatementKind::Insert,
            StatementKind::Insert,
            StatementKind::Query
        ]
    );
    assert!(results[2].result.is_err(), "duplicate primary key");
    let count = match &results[3].result {
        Ok(r) => r.summary(),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(count, "1 row");
}

/// Two databases share nothing: a table or a row in one is not in the other.
#[test]
fn two_databases_are_isolated() {
    let mut orders = shop::shop_database("orders-db", DEFAULT_SEED).expect("shop");
    let mut billing = Database::new("billing-db");
    billing
        .execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
        .expect("create");
    orders.execute("DELETE FROM orders").expect("delete");
    billing
        .execute("INSERT INTO orders VALUES (1)")
        .expect("insert");
    assert_eq!(scalar(&mut orders, "SELECT COUNT(*) FROM orders"), "0");
    assert_eq!(scalar(&mut billing, "SELECT COUNT(*) FROM orders"), "1");
    assert!(billing.execute("SELECT * FROM customers").is_err());
    assert_eq!(orders.name(), "orders-db");
}

/// The shop has the documented size, typed columns and keys.
#[test]
fn the_shop_has_its_documented_shape() {
    let mut db = shop::shop_database("shop", DEFAULT_SEED).expect("shop");
    let tables = db.tables().expect("tables");
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["customers", "invoices", "jobs", "orders", "shipments"]
    );
    let size = ShopSize::default();
    let orders = tables.iter().find(|t| t.name == "orders").expect("orders");
    assert_eq!(orders.row_count, size.orders);
    assert!(orders.columns[0].primary_key);
    let total: usize = tables.iter().map(|t| t.row_count).sum();
    assert!(
        (300..1500).contains(&total),
        "a few hundred rows, got {total}"
    );

    let first = db
        .execute("SELECT id, total_cents, created_at FROM orders WHERE id = 1")
        .expect("select");
    let Outcome::Rows { rows, .. } = first.outcome else {
        panic!("rows");
    };
    assert_eq!(rows[0][1].kind, CellKind::Number);
    assert_eq!(rows[0][2].kind, CellKind::Text);
}

/// The same seed gives the same shop, row for row, on every run and on every platform: the
/// dump equals the golden file written by the native run.
#[test]
fn the_seeded_shop_is_identical_across_runs_and_platforms() {
    let first = shop::shop_database("a", DEFAULT_SEED)
        .and_then(|db| db.dump())
        .expect("dump");
    let second = shop::shop_database("b", DEFAULT_SEED)
        .and_then(|db| db.dump())
        .expect("dump");
    assert_eq!(first, second, "two runs in one process differ");

    #[cfg(not(target_arch = "wasm32"))]
    if std::env::var_os("BLESS").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/shop-seed-42.tsv");
        std::fs::write(path, &first).expect("write the golden file");
        return;
    }
    if let Some((line, (got, want))) = first
        .lines()
        .zip(GOLDEN_SHOP.lines())
        .enumerate()
        .find(|(_, (got, want))| got != want)
    {
        panic!(
            "the seeded shop (seed {DEFAULT_SEED}) differs from tests/golden/shop-seed-42.tsv \
             at line {}:\n  got:  {got}\n  want: {want}\n\
             if the generator changed on purpose, run BLESS=1 cargo test --test database",
            line + 1
        );
    }
    assert_eq!(
        first.len(),
        GOLDEN_SHOP.len(),
        "the dump's length differs from the golden file"
    );

    let other = shop::shop_database("c", DEFAULT_SEED + 1)
        .and_then(|db| db.dump())
        .expect("dump");
    assert_ne!(first, other, "another seed must give other data");
}
