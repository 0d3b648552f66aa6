//! The "shop": a small, realistic schema and data set that every lesson starts from.
//!
//! Five tables that several services of a web shop would share — `customers`, `orders`,
//! `invoices` (written by billing), `shipments` (written by fulfilment) and `jobs` (a work queue
//! kept in a table, the "database as a message queue" anti-pattern the course warns about).
//! The rows are generated from a seed with a portable ChaCha RNG, so the same seed gives exactly
//! the same data on every machine, natively and in WebAssembly. Timestamps are literals inside
//! one simulated year; nothing reads the wall clock.

use crate::sim::database::{Database, DbError};
use gluesql::core::chrono::{Duration, NaiveDate, NaiveDateTime};
use gluesql::core::data::Value;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The seed the app uses when none is given.
pub const DEFAULT_SEED: u64 = 42;

/// The shop's tables, as SQL that GlueSQL accepts.
pub const SCHEMA_SQL: &str = "\
CREATE TABLE customers (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT NOT NULL UNIQUE,
  country TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL
);
CREATE TABLE orders (
  id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL,
  status TEXT NOT NULL,
  total_cents INTEGER NOT NULL,
  created_at TIMESTAMP NOT NULL
);
CREATE TABLE invoices (
  id INTEGER PRIMARY KEY,
  order_id INTEGER NOT NULL UNIQUE,
  amount_cents INTEGER NOT NULL,
  status TEXT NOT NULL,
  issued_at TIMESTAMP NOT NULL
);
CREATE TABLE shipments (
  id INTEGER PRIMARY KEY,
  order_id INTEGER NOT NULL UNIQUE,
  carrier TEXT NOT NULL,
  status TEXT NOT NULL,
  shipped_at TIMESTAMP
);
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL
);";

/// How many rows of each generated table to make. Invoices and shipments follow from the
/// orders' statuses (a paid order has an invoice, a shipped one a shipment too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShopSize {
    /// Rows in `customers`.
    pub customers: usize,
    /// Rows in `orders`.
    pub orders: usize,
    /// Rows in `jobs`.
    pub jobs: usize,
}

impl Default for ShopSize {
    /// 60 customers, 240 orders, 40 jobs (plus about 190 invoices and 150 shipments).
    fn default() -> Self {
        Self {
            customers: 60,
            orders: 240,
            jobs: 40,
        }
    }
}

const FIRST_NAMES: &[&str] = &[
    "Ada", "Alan", "Barbara", "Claude", "Dennis", "Donald", "Edsger", "Frances", "Grace", "Hedy",
    "Ivan", "Jean", "John", "Ken", "Leslie", "Margaret", "Niklaus", "Radia", "Sophie", "Tim",
];
const LAST_NAMES: &[&str] = &[
    "Allen",
    "Backus",
    "Cerf",
    "Dijkstra",
    "Eich",
    "Floyd",
    "Gray",
    "Hopper",
    "Iverson",
    "Kahan",
    "Lamport",
    "Liskov",
    "Lovelace",
    "Moore",
    "Perlman",
    "Ritchie",
    "Stonebraker",
    "Thompson",
    "Wirth",
    "Zuse",
];
const COUNTRIES: &[&str] = &["DE", "FR", "GB", "NL", "PL", "SE", "US", "ES", "IT", "CA"];
const CARRIERS: &[&str] = &["DHL", "UPS", "PostNL", "La Poste", "FedEx"];
/// Order statuses with their weights: most orders have been delivered.
const ORDER_STATUSES: &[(&str, u32)] = &[
    ("pending", 10),
    ("paid", 15),
    ("shipped", 20),
    ("delivered", 45),
    ("cancelled", 10),
];
const JOB_KINDS: &[&str] = &["send_invoice_email", "sync_inventory", "notify_carrier"];
const JOB_STATUSES: &[(&str, u32)] = &[
    ("pending", 30),
    ("running", 10),
    ("done", 55),
    ("failed", 5),
];

/// Creates the shop's tables in `db` and fills them with rows generated from `seed`, loaded
/// straight into the storage ([`Database::bulk_load`]: 20,000 orders in a fraction of the
/// time 40 parsed `INSERT`s take; a test proves both give the same database).
///
/// # Errors
///
/// [`DbError`] if a table already exists or GlueSQL rejects a statement.
pub fn seed_shop(db: &mut Database, seed: u64, size: ShopSize) -> Result<(), DbError> {
    for statement in crate::sim::sql_script::split_statements(SCHEMA_SQL) {
        db.execute(&statement.sql)?;
    }
    for (table, rows) in shop_rows(seed, size) {
        db.bulk_load(table, rows)?;
    }
    Ok(())
}

/// A new database called `name` holding the shop, generated from `seed` at the default size.
///
/// # Errors
///
/// [`DbError`] if GlueSQL rejects a statement (a bug: the shop's SQL is ours).
pub fn shop_database(name: &str, seed: u64) -> Result<Database, DbError> {
    let mut db = Database::new(name);
    seed_shop(&mut db, seed, ShopSize::default())?;
    Ok(db)
}

/// The `INSERT` statements that fill the shop, in order, several rows per statement (the same
/// rows as [`shop_rows`], as SQL a person or another database can run).
pub fn shop_inserts(seed: u64, size: ShopSize) -> Vec<String> {
    let mut inserts = Vec::new();
    for (table, rows) in shop_rows(seed, size) {
        let rows: Vec<String> = rows
            .iter()
            .map(|row| {
                format!(
                    "({})",
                    row.iter().map(literal).collect::<Vec<_>>().join(", ")
                )
            })
            .collect();
        push_batches(&mut inserts, table, &rows);
    }
    inserts
}

/// A value as an SQL literal (the shop's values are integers, text and timestamps).
fn literal(value: &Value) -> String {
    match value {
        Value::I64(n) => n.to_string(),
        Value::Str(text) => format!("'{}'", text.replace('\'', "''")),
        Value::Timestamp(at) => format!("'{}'", timestamp(*at)),
        Value::Null => "NULL".to_owned(),
        other => format!("'{}'", String::from(other).replace('\'', "''")),
    }
}

/// The shop's rows, table by table in load order, in each table's column order.
pub fn shop_rows(seed: u64, size: ShopSize) -> Vec<(&'static str, Vec<Vec<Value>>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let start = NaiveDate::from_ymd_opt(2026, 1, 5)
        .and_then(|d| d.and_hms_opt(8, 0, 0))
        .unwrap_or_default();
    let year_s: i64 = 300 * 24 * 3600;
    let int = |n: usize| Value::I64(i64::try_from(n).unwrap_or(i64::MAX));
    let text = |s: &str| Value::Str(s.to_owned());

    let customers: Vec<Vec<Value>> = (1..=size.customers)
        .map(|id| {
            let first = pick(&mut rng, FIRST_NAMES);
            let last = pick(&mut rng, LAST_NAMES);
            let country = pick(&mut rng, COUNTRIES);
            // Customers sign up over the first part of the year, in id order.
            let at = start + Duration::seconds(spread(id, size.customers, year_s / 2, &mut rng));
            vec![
                int(id),
                Value::Str(format!("{first} {last}")),
                Value::Str(format!(
                    "{}.{}{id}@example.com",
                    first.to_lowercase(),
                    last.to_lowercase()
                )),
                text(country),
                Value::Timestamp(at),
            ]
        })
        .collect();

    let mut orders = Vec::new();
    let mut invoices = Vec::new();
    let mut shipments = Vec::new();
    for id in 1..=size.orders {
        let customer_id = 1 + below(&mut rng, size.customers);
        let status = weighted(&mut rng, ORDER_STATUSES);
        let total_cents: i64 = rng.gen_range(5..=400) * 125 + rng.gen_range(0..100);
        let at =
            start + Duration::seconds(year_s / 2 + spread(id, size.orders, year_s / 2, &mut rng));
        orders.push(vec![
            int(id),
            int(customer_id),
            text(status),
            Value::I64(total_cents),
            Value::Timestamp(at),
        ]);
        if matches!(status, "paid" | "shipped" | "delivered") {
            let invoice_id = invoices.len() + 1;
            let paid = status != "paid" || rng.gen_bool(0.5);
            let issued = at + Duration::minutes(rng.gen_range(1..=90));
            invoices.push(vec![
                int(invoice_id),
                int(id),
                Value::I64(total_cents),
                text(if paid { "paid" } else { "open" }),
                Value::Timestamp(issued),
            ]);
        }
        if matches!(status, "shipped" | "delivered") {
            let shipment_id = shipments.len() + 1;
            let carrier = pick(&mut rng, CARRIERS);
            let shipped = at + Duration::hours(rng.gen_range(4..=72));
            shipments.push(vec![
                int(shipment_id),
                int(id),
                text(carrier),
                text(if status == "delivered" {
                    "delivered"
                } else {
                    "in_transit"
                }),
                Value::Timestamp(shipped),
            ]);
        }
    }

    let jobs: Vec<Vec<Value>> = (1..=size.jobs)
        .map(|id| {
            let kind = pick(&mut rng, JOB_KINDS);
            let status = weighted(&mut rng, JOB_STATUSES);
            let order_id = 1 + below(&mut rng, size.orders);
            let at =
                start + Duration::seconds(year_s - 3600 + spread(id, size.jobs, 3600, &mut rng));
            vec![
                int(id),
                text(kind),
                Value::Str(format!("{{\"order_id\": {order_id}}}")),
                text(status),
                Value::Timestamp(at),
            ]
        })
        .collect();
    vec![
        ("customers", customers),
        ("orders", orders),
        ("invoices", invoices),
        ("shipments", shipments),
        ("jobs", jobs),
    ]
}

/// Seconds into a span of `span_s` for the `i`-th of `n` items: increasing with `i`, jittered.
fn spread(i: usize, n: usize, span_s: i64, rng: &mut ChaCha8Rng) -> i64 {
    let n = i64::try_from(n.max(1)).unwrap_or(i64::MAX);
    let i = i64::try_from(i).unwrap_or(0);
    let slot = span_s / n;
    (i - 1) * slot + rng.gen_range(0..slot.max(1))
}

/// A uniform index in `0..n` (0 when `n` is 0), drawn the same way on every platform.
///
/// Never sample a `usize` range: `rand` draws `usize` from 32 bits on wasm32 and 64 bits on
/// x86_64, so the same seed gives different numbers in the browser and natively.
fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    let n = u64::try_from(n).unwrap_or(u64::MAX).max(1);
    usize::try_from(rng.gen_range(0..n)).unwrap_or(0)
}

fn pick<'a>(rng: &mut ChaCha8Rng, items: &[&'a str]) -> &'a str {
    items[below(rng, items.len())]
}

fn weighted<'a>(rng: &mut ChaCha8Rng, items: &[(&'a str, u32)]) -> &'a str {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut roll = rng.gen_range(0..total);
    for (item, weight) in items {
        if roll < *weight {
            return item;
        }
        roll -= weight;
    }
    items[items.len() - 1].0
}

fn timestamp(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Appends `INSERT INTO table VALUES …` statements of at most 500 rows each (GlueSQL checks a
/// unique column against the whole table once per statement, so fewer, larger batches load
/// faster).
fn push_batches(inserts: &mut Vec<String>, table: &str, rows: &[String]) {
    for chunk in rows.chunks(500) {
        inserts.push(format!("INSERT INTO {table} VALUES {}", chunk.join(", ")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::database::Outcome;

    fn count(db: &mut Database, sql: &str) -> i64 {
        match db.execute(sql).map(|r| r.outcome) {
            Ok(Outcome::Rows { rows, .. }) => rows[0][0].text.parse().expect("a number"),
            other => panic!("{sql}: {other:?}"),
        }
    }

    #[test]
    fn the_shop_has_the_promised_sizes() {
        let mut db = shop_database("shop", DEFAULT_SEED).expect("seeded");
        let size = ShopSize::default();
        assert_eq!(
            count(&mut db, "SELECT COUNT(*) FROM customers"),
            size.customers as i64
        );
        assert_eq!(
            count(&mut db, "SELECT COUNT(*) FROM orders"),
            size.orders as i64
        );
        assert_eq!(
            count(&mut db, "SELECT COUNT(*) FROM jobs"),
            size.jobs as i64
        );
        let invoices = count(&mut db, "SELECT COUNT(*) FROM invoices");
        let shipments = count(&mut db, "SELECT COUNT(*) FROM shipments");
        // Shipped orders are a subset of invoiced ones, which are a subset of all orders.
        assert!(0 < shipments && shipments < invoices && invoices < size.orders as i64);
    }

    #[test]
    fn the_data_is_referentially_consistent() {
        let mut db = shop_database("shop", DEFAULT_SEED).expect("seeded");
        let orphans = count(
            &mut db,
            "SELECT COUNT(*) FROM orders o LEFT JOIN customers c ON o.customer_id = c.id \
             WHERE c.id IS NULL",
        );
        assert_eq!(orphans, 0);
        let mismatched = count(
            &mut db,
            "SELECT COUNT(*) FROM invoices i JOIN orders o ON i.order_id = o.id \
             WHERE i.amount_cents <> o.total_cents",
        );
        assert_eq!(mismatched, 0);
        let early = count(
            &mut db,
            "SELECT COUNT(*) FROM shipments s JOIN orders o ON s.order_id = o.id \
             WHERE s.shipped_at < o.created_at",
        );
        assert_eq!(early, 0);
    }

    #[test]
    fn the_same_seed_gives_the_same_rows_and_another_seed_other_rows() {
        let a = shop_inserts(7, ShopSize::default());
        let b = shop_inserts(7, ShopSize::default());
        let c = shop_inserts(8, ShopSize::default());
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    /// The bulk load gives exactly the database the `INSERT` statements give.
    #[test]
    fn loading_in_bulk_equals_loading_with_inserts() {
        let size = ShopSize::default();
        let bulk = shop_database("shop", 9).expect("seeded");
        let mut by_sql = Database::new("shop");
        for statement in crate::sim::sql_script::split_statements(SCHEMA_SQL) {
            by_sql.execute(&statement.sql).expect("schema");
        }
        for insert in shop_inserts(9, size) {
            by_sql.execute(&insert).expect("insert");
        }
        let dump = |db: &Database| {
            ["customers", "orders", "invoices", "shipments", "jobs"]
                .iter()
                .map(|t| {
                    let mut db = db.copy();
                    format!(
                        "{:?}",
                        db.execute(&format!("SELECT * FROM {t} ORDER BY id"))
                            .map(|r| r.outcome)
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(dump(&bulk), dump(&by_sql));
        let mut copy = bulk.copy();
        assert!(
            copy.execute("INSERT INTO orders VALUES (1, 1, 'x', 1, '2026-01-01 00:00:00')")
                .is_err(),
            "keys are enforced after a bulk load"
        );
    }
}
