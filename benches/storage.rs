//! Statements per second on our storage and on GlueSQL's `MemoryStorage`, in one run:
//! single-row INSERT, SELECT by key, UPDATE by key and a GROUP BY over all rows, on tables of
//! 1,000 and 50,000 rows. Then secondary indexes on ours: one INSERT into a table with no
//! index and with three, and a lookup by a non-key column with and without its index, timed
//! and in the simulator's cost model. `cargo bench --bench storage`; figures go in the README.
//!
//! Both run through GlueSQL's full pipeline (parse, plan, execute); ours through
//! `Database::execute`, which also turns values into display cells.

//! (Native only: on wasm32 this bench is an empty program.)

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
    use dataflow_lab::sim::database::Database;
    use gluesql::prelude::{Glue, MemoryStorage};
    use std::time::{Duration, Instant};

    const SIZES: [i64; 2] = [1_000, 50_000];
    const STATUSES: [&str; 4] = ["pending", "paid", "shipped", "delivered"];

    /// Something that runs one SQL statement and panics if it fails.
    trait Sql {
        fn run(&mut self, sql: &str);
    }

    impl Sql for Database {
        fn run(&mut self, sql: &str) {
            if let Err(error) = self.execute(sql) {
                panic!("{sql}: {error}");
            }
        }
    }

    impl Sql for Glue<MemoryStorage> {
        fn run(&mut self, sql: &str) {
            if let Err(error) = self.execute(sql) {
                panic!("{sql}: {error}");
            }
        }
    }

    fn fill(db: &mut dyn Sql, rows: i64) {
        db.run("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, status TEXT NOT NULL, total_cents INTEGER NOT NULL)");
        for start in (1..=rows).step_by(1_000) {
            let values: Vec<String> = (start..(start + 1_000).min(rows + 1))
                .map(|id| {
                    let status = STATUSES[usize::try_from(id % 4).unwrap_or(0)];
                    format!("({id}, {}, '{status}', {})", id % 97, id * 7 % 10_000)
                })
                .collect();
            db.run(&format!("INSERT INTO orders VALUES {}", values.join(", ")));
        }
    }

    /// The four phases on one table of `rows` rows, each timed on both storages back to back, so
    /// that drift in the machine's speed touches both alike.
    fn phases(c: &mut Criterion, rows: i64) {
        let mut group = c.benchmark_group(format!("{rows} rows"));
        group.throughput(Throughput::Elements(1));
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(300));
        group.measurement_time(Duration::from_secs(2));

        let mut storages: Vec<(&str, Box<dyn Sql>)> = vec![
            ("ours", Box::new(Database::new("bench"))),
            (
                "MemoryStorage",
                Box::new(Glue::new(MemoryStorage::default())),
            ),
        ];
        for (_, db) in &mut storages {
            fill(&mut **db, rows);
        }
        for (name, db) in &mut storages {
            // Inserted rows are deleted again after each sample (not timed), so every sample
            // inserts into a table of `rows` rows.
            group.bench_function(BenchmarkId::new("insert one row", *name), |b| {
                b.iter_custom(|iterations| {
                    let started = Instant::now();
                    for i in 1..=i64::try_from(iterations).unwrap_or(i64::MAX) {
                        db.run(&format!(
                            "INSERT INTO orders VALUES ({}, 1, 'pending', 100)",
                            rows + i
                        ));
                    }
                    let elapsed = started.elapsed();
                    db.run(&format!("DELETE FROM orders WHERE id > {rows}"));
                    elapsed
                });
            });
        }
        for (name, db) in &mut storages {
            let mut key = 0;
            group.bench_function(BenchmarkId::new("select by key", *name), |b| {
                b.iter(|| {
                    key = key % rows + 1;
                    db.run(&format!("SELECT * FROM orders WHERE id = {key}"));
                });
            });
        }
        for (name, db) in &mut storages {
            let mut key = 0;
            group.bench_function(BenchmarkId::new("update by key", *name), |b| {
                b.iter(|| {
                    key = key % rows + 1;
                    db.run(&format!(
                        "UPDATE orders SET total_cents = total_cents + 1 WHERE id = {key}"
                    ));
                });
            });
        }
        for (name, db) in &mut storages {
            group.bench_function(BenchmarkId::new("group by all rows", *name), |b| {
                b.iter(|| {
                    db.run("SELECT status, COUNT(*), SUM(total_cents) FROM orders GROUP BY status")
                });
            });
        }
        group.finish();
    }

    const INDEXED: [&str; 3] = ["customer_id", "status", "total_cents"];

    /// What secondary indexes cost writers and save readers, on our storage: wall time per
    /// statement, and (printed once) the simulated time the cost model charges for it.
    fn indexes(c: &mut Criterion) {
        let rows = 10_000;
        let mut group = c.benchmark_group(format!("indexes, {rows} rows"));
        group.throughput(Throughput::Elements(1));
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(300));
        group.measurement_time(Duration::from_secs(2));
        let cost = dataflow_lab::sim::cost::CostModel::default();
        for count in [0, INDEXED.len()] {
            let mut db = Database::new("bench");
            fill(&mut db, rows);
            for column in &INDEXED[..count] {
                db.run(&format!(
                    "CREATE INDEX orders_{column} ON orders ({column})"
                ));
            }
            db.run(&format!(
                "INSERT INTO orders VALUES ({}, 1, 'pending', 100)",
                rows + 1
            ));
            let simulated = cost.statement(db.default_connection().last_counters());
            db.run("SELECT * FROM orders WHERE customer_id = 5");
            let lookup = db.default_connection().last_counters();
            eprintln!(
                "simulated, {count} indexes: insert one row {simulated} µs; \
                 customer_id = 5 reads {} rows, {} µs",
                lookup.rows_read,
                cost.statement(lookup)
            );
            group.bench_function(BenchmarkId::new("insert one row", count), |b| {
                b.iter_custom(|iterations| {
                    let started = Instant::now();
                    for i in 1..=i64::try_from(iterations).unwrap_or(i64::MAX) {
                        db.run(&format!(
                            "INSERT INTO orders VALUES ({}, 1, 'pending', 100)",
                            rows + 1 + i
                        ));
                    }
                    let elapsed = started.elapsed();
                    db.run(&format!("DELETE FROM orders WHERE id > {}", rows + 1));
                    elapsed
                });
            });
            group.bench_function(BenchmarkId::new("customer_id = 5", count), |b| {
                b.iter(|| db.run("SELECT * FROM orders WHERE customer_id = 5"));
            });
        }
        group.finish();
    }

    fn storages(c: &mut Criterion) {
        for rows in SIZES {
            phases(c, rows);
        }
        indexes(c);
    }

    criterion_group!(benches, storages);
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(native::benches);

#[cfg(target_arch = "wasm32")]
fn main() {}
