//! The CDC connector against its contract (Debezium's PostgreSQL connector): every message is a
//! valid Debezium change event (checked against JSON Schemas written from Debezium's
//! documentation, `tests/schemas/`); rolled-back work emits nothing; a transaction's events are
//! contiguous and in commit order within a partition; a snapshot taken while writes go on loses
//! nothing and repeats nothing; after a crash the connector re-sends at most what came after its
//! last flushed offset, and a consumer that skips what it already applied ends equal to the
//! source. The workload is random (seeded) SQL on a real GlueSQL database.

#![cfg(not(target_arch = "wasm32"))]

use dataflow_lab::sim::change_log::Lsn;
use dataflow_lab::sim::connector::{Connector, ConnectorConfig};
use dataflow_lab::sim::database::{Database, Outcome};
use dataflow_lab::sim::debezium::{Record, ReplicaIdentity};
use dataflow_lab::sim::rng::SimRng;
use dataflow_lab::sim::topic::{Topic, TopicConfig};
use serde_json::Value as Json;
use std::collections::BTreeMap;

#[path = "common/debezium.rs"]
mod debezium;
use debezium::Validator;

fn database() -> Database {
    let mut db = Database::new("shop");
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER, status TEXT, total INTEGER)")
        .expect("creates");
    db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        .expect("creates");
    for i in 1..=30 {
        db.execute(&format!(
            "INSERT INTO orders VALUES ({i}, {}, 'new', {})",
            i % 7,
            i * 10
        ))
        .expect("seeds");
    }
    db.execute("INSERT INTO customers VALUES (1, 'Ada'), (2, 'Grace')")
        .expect("seeds");
    db
}

/// One random transaction: 1–3 statements on orders (and sometimes customers); rolled back one
/// time in five, after writing rows marked 'rolled back'.
fn random_transaction(db: &mut Database, rng: &mut SimRng, next_id: &mut i64) -> bool {
    let rollback = rng.unit() < 0.2;
    db.execute("BEGIN").expect("begins");
    for _ in 0..=rng.index(3) {
        let id = rng.int_in(1, *next_id - 1);
        let status = if rollback { "rolled back" } else { "paid" };
        let sql = match rng.index(5) {
            0 | 1 => {
                *next_id += 1;
                format!(
                    "INSERT INTO orders VALUES ({}, 1, '{status}', 5)",
                    *next_id - 1
                )
            }
            2 => {
                format!("UPDATE orders SET status = '{status}', total = total + 1 WHERE id = {id}")
            }
            3 => format!("DELETE FROM orders WHERE id = {id}"),
            _ => format!(
                "UPDATE customers SET name = '{status}' WHERE id = {}",
                1 + id % 2
            ),
        };
        db.execute(&sql).expect("runs");
    }
    db.execute(if rollback { "ROLLBACK" } else { "COMMIT" })
        .expect("ends");
    rollback
}

/// Produces `records` into their topics (created on first use, 3 partitions each).
fn produce(topics: &mut BTreeMap<String, Topic>, records: &[Record], now: u64) {
    for record in records {
        let topic = topics.entry(record.topic.clone()).or_insert_with(|| {
            Topic::new(
                record.topic.clone(),
                TopicConfig {
                    partitions: 3,
                    broker_latency: 0,
                    ..TopicConfig::default()
                },
            )
        });
        topic.produce(
            record.key.as_deref().map(Into::into),
            record.value.as_deref().map(Into::into),
            now,
        );
    }
}

/// A read model built from a topic the way an idempotent consumer does: per key, an event at or
/// below the last applied LSN is skipped (and counted).
#[derive(Default)]
struct ReadModel {
    rows: BTreeMap<String, Json>,
    applied: BTreeMap<String, Lsn>,
    duplicates: u64,
}

impl ReadModel {
    fn apply(&mut self, key: &str, value: &str) {
        let value: Json = serde_json::from_str(value).expect("JSON");
        let lsn = value["source"]["lsn"].as_u64().expect("an LSN");
        if self.applied.get(key).is_some_and(|last| lsn <= *last) {
            self.duplicates += 1;
            return;
        }
        self.applied.insert(key.to_owned(), lsn);
        match value["op"].as_str() {
            Some("d") => {
                self.rows.remove(key);
            }
            _ => {
                self.rows.insert(key.to_owned(), value["after"].clone());
            }
        }
    }

    fn from_topic(topic: &Topic) -> Self {
        let mut model = Self::default();
        for partition in topic.partitions() {
            for message in partition.messages() {
                if let (Some(key), Some(value)) = (&message.key, message.json()) {
                    model.apply(key, value);
                }
            }
        }
        model
    }
}

/// The source table as the read model keeps it: key text → row object.
fn source_rows(db: &Database, table: &str) -> BTreeMap<String, Json> {
    let (columns, rows) = db.committed_rows(table).expect("reads");
    rows.iter()
        .map(|row| {
            let object: serde_json::Map<String, Json> = columns
                .iter()
                .zip(row)
                .map(|(c, v)| (c.clone(), dataflow_lab::sim::debezium::json_value(v)))
                .collect();
            (format!("{{\"id\":{}}}", object["id"]), Json::Object(object))
        })
        .collect()
}

/// Runs `transactions` random transactions with the connector polling (and flushing) between
/// them; `crash_at` crashes and restarts it after that many.
fn run(
    seed: u64,
    transactions: usize,
    crash_at: Option<usize>,
) -> (Database, Connector, Vec<Record>) {
    let mut db = database();
    let mut config = ConnectorConfig::new("cdc", "shop");
    config.batch_size = 7;
    config
        .replica_identity
        .insert("customers".into(), ReplicaIdentity::Full);
    let mut connector = Connector::new(config);
    let mut rng = SimRng::new(seed, 1);
    let mut next_id = 31;
    let mut sent = Vec::new();
    let mut now = 0;
    connector.start(&db, now).expect("starts");
    for n in 0..transactions {
        now += 1_000;
        db.set_time(now);
        random_transaction(&mut db, &mut rng, &mut next_id);
        if rng.unit() < 0.5 {
            sent.extend(connector.poll(&db, now));
        }
        if n % 10 == 9 {
            connector.flush(&db);
        }
        if crash_at == Some(n) {
            connector.crash();
            connector.start(&db, now).expect("restarts");
        }
    }
    loop {
        let batch = connector.poll(&db, now);
        if batch.is_empty() && connector.snapshot_remaining() == 0 {
            break;
        }
        sent.extend(batch);
    }
    (db, connector, sent)
}

#[test]
fn every_message_is_a_valid_debezium_change_event() {
    let validator = Validator::new();
    let (_, _, sent) = run(11, 120, None);
    assert!(sent.len() > 100, "a real run: {} messages", sent.len());
    let mut ops = BTreeMap::new();
    for record in &sent {
        validator.check(record);
        let op = record.value.as_deref().map_or("tombstone".to_owned(), |v| {
            serde_json::from_str::<Json>(v).expect("JSON")["op"].to_string()
        });
        *ops.entry(op).or_insert(0) += 1;
    }
    assert!(
        ops.len() >= 5,
        "r, c, u, d and tombstones all seen: {ops:?}"
    );
}

#[test]
fn the_schema_rejects_what_debezium_would_not_send() {
    let validator = Validator::new();
    let (_, _, sent) = run(5, 10, None);
    let record = sent.iter().find(|r| r.value.is_some()).expect("an event");
    let mut value: Json =
        serde_json::from_str(record.value.as_deref().unwrap_or("{}")).expect("JSON");
    value["op"] = Json::from("x");
    let broken = Record {
        value: Some(value.to_string()),
        ..record.clone()
    };
    let result = std::panic::catch_unwind(|| validator.check(&broken));
    assert!(result.is_err(), "an unknown op fails the schema");
}

#[test]
fn rolled_back_transactions_emit_nothing() {
    let (_, _, sent) = run(3, 150, None);
    assert!(
        sent.iter()
            .filter_map(|r| r.value.as_deref())
            .all(|v| !v.contains("rolled back")),
        "no event carries a value only rolled-back transactions wrote"
    );
}

#[test]
fn a_transactions_events_are_contiguous_and_in_commit_order_within_a_partition() {
    let (_, _, sent) = run(7, 150, None);
    let mut topics = BTreeMap::new();
    produce(&mut topics, &sent, 0);
    for topic in topics.values() {
        for partition in topic.partitions() {
            let mut seen_done: Vec<u64> = Vec::new();
            let mut current: Option<u64> = None;
            let mut last_lsn = 0;
            for message in partition.messages() {
                let Some(value) = message.json() else {
                    continue;
                };
                let value: Json = serde_json::from_str(value).expect("JSON");
                let lsn = value["source"]["lsn"].as_u64().expect("lsn");
                assert!(
                    lsn >= last_lsn,
                    "commit order in {}: {lsn} after {last_lsn}",
                    topic.name
                );
                last_lsn = lsn;
                let txn = value["source"]["txId"].as_u64().expect("txId");
                if current != Some(txn) {
                    assert!(
                        !seen_done.contains(&txn),
                        "transaction {txn} is split in {}",
                        topic.name
                    );
                    if let Some(done) = current {
                        seen_done.push(done);
                    }
                    current = Some(txn);
                }
            }
        }
    }
}

#[test]
fn a_snapshot_with_concurrent_writes_loses_nothing_and_repeats_nothing() {
    for seed in 1..=5 {
        let (db, connector, sent) = run(seed, 100, None);
        assert!(connector.stats().snapshot_events > 0);
        let mut topics = BTreeMap::new();
        produce(&mut topics, &sent, 0);
        for table in ["orders", "customers"] {
            let topic = &topics[&format!("shop.public.{table}")];
            let model = ReadModel::from_topic(topic);
            assert_eq!(
                model.duplicates, 0,
                "seed {seed}: nothing repeated in {table}"
            );
            assert_eq!(
                model.rows,
                source_rows(&db, table),
                "seed {seed}: the read model of {table} equals the source"
            );
        }
        // Each LSN's events were sent once.
        let mut per_lsn: BTreeMap<(&str, Lsn, Option<&str>), usize> = BTreeMap::new();
        for record in sent.iter().filter(|r| r.value.is_some()) {
            let at = (record.topic.as_str(), record.lsn, record.key.as_deref());
            *per_lsn.entry(at).or_default() += 1;
        }
        assert!(
            per_lsn.values().all(|n| *n == 1),
            "seed {seed}: an event sent twice"
        );
    }
}

#[test]
fn a_crash_resends_at_most_what_came_after_the_flush_and_read_models_still_match() {
    for seed in 1..=5 {
        let (db, connector, sent) = run(seed, 120, Some(64));
        let stats = connector.stats();
        assert_eq!(stats.crashes, 1);
        let mut topics = BTreeMap::new();
        produce(&mut topics, &sent, 0);
        let mut duplicates = 0;
        for table in ["orders", "customers"] {
            let model = ReadModel::from_topic(&topics[&format!("shop.public.{table}")]);
            duplicates += model.duplicates;
            assert_eq!(
                model.rows,
                source_rows(&db, table),
                "seed {seed}: {table} equals the source after the crash"
            );
        }
        let resent_values = stats.resent_events;
        assert!(
            duplicates <= resent_values,
            "seed {seed}: {duplicates} duplicates applied-once, {resent_values} re-sent"
        );
        // Flushes happen every 10 transactions: at most 10 transactions' events come again.
        assert!(
            resent_values <= 10 * 3 * 2,
            "seed {seed}: re-sent {resent_values} events"
        );
    }
}

#[test]
fn the_same_workload_gives_the_same_messages() {
    let (_, _, a) = run(9, 60, Some(30));
    let (_, _, b) = run(9, 60, Some(30));
    assert_eq!(a, b);
    // And the counts of each table's rows match what the database says.
    let (mut db, _, _) = run(9, 60, None);
    let count = match db.execute("SELECT COUNT(*) FROM orders").map(|r| r.outcome) {
        Ok(Outcome::Rows { rows, .. }) => rows[0][0].text.parse::<usize>().unwrap_or(0),
        _ => 0,
    };
    assert_eq!(count, source_rows(&db, "orders").len());
}
