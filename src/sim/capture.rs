//! How a CDC connector learns what changed — the capture methods, so that a student sees why
//! log-based CDC won:
//!
//! - `log` — read the database's write-ahead log through a replication slot (Debezium's
//!   PostgreSQL connector, [`crate::sim::connector`]): every committed change, in commit order,
//!   and nothing extra for the writers to do.
//! - `query` — poll each table with `SELECT * FROM t WHERE updated_at > last` (the JDBC source
//!   connector's `timestamp` mode): only rows whose column moved past the last value seen, as
//!   they are at the poll. A deleted row is never seen; a row changed twice between polls shows
//!   only its last state; a row committed late with a column value below one already seen is
//!   skipped for good; and every poll is a query the source runs.
//! - `trigger` — a trigger writes a row into an audit table inside every writing transaction,
//!   and the connector polls and empties that table: nothing is missed, but every write on the
//!   source pays for a second insert. Simplification: the audit row here holds the change's
//!   id, table and time (a real audit trigger also stores the old and new row, so it costs the
//!   writers more), and the connector takes the events' content from the change log those
//!   audit rows stand for.
//! - `dual_write` — no connector at all: the writing service commits, then publishes its
//!   changes to the topics itself ([`crate::sim::dual_write`]). Two writes, no transaction
//!   around both: a crash between them loses the events, and two services publishing in
//!   another order than they committed leave the read model wrong for good.
//!
//! [`QueryCapture`] is the `query` method's bookkeeping. What it emits is exactly what its
//! `SELECT` returns: the rows whose latest change since the last poll left the column above the
//! highest value seen — computed here from the source's change log, which also tells how many
//! changes the method missed (the log is the ground truth the method cannot see).

use crate::sim::change_log::{Change, ChangeKind, Lsn, RowOp};
use crate::sim::clock::Micros;
use crate::sim::database::Database;
use crate::sim::debezium::{row_event, EventContext, Record, ReplicaIdentity, SnapshotMarker};
use gluesql::core::data::{Key, Value};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// How a connector captures changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMethod {
    /// Read the write-ahead log (Debezium's PostgreSQL connector).
    #[default]
    Log,
    /// Poll each table for rows whose `updated_at`-like column moved on.
    Query,
    /// A trigger copies each change into an audit table, which the connector polls.
    Trigger,
    /// The writing service publishes its own changes after it commits (a dual write).
    DualWrite,
}

impl CaptureMethod {
    /// Every method, in the order a chooser lists them.
    pub const ALL: [Self; 4] = [Self::Log, Self::Query, Self::Trigger, Self::DualWrite];

    /// The method's name in a scenario file and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Log => "log",
            Self::Query => "query",
            Self::Trigger => "trigger",
            Self::DualWrite => "dual_write",
        }
    }

    /// Whether a connector of this method runs SQL on its source (its polls are queries).
    pub fn polls_by_query(self) -> bool {
        matches!(self, Self::Query | Self::Trigger)
    }

    /// The method a name stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// What query-based capture saw and missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueryStats {
    /// Polls run.
    pub polls: u64,
    /// Events emitted.
    pub events: u64,
    /// Row changes the source committed to the captured tables up to the last poll.
    pub changes: u64,
    /// Of those, deletes (never seen by a query).
    pub deletes: u64,
}

impl QueryStats {
    /// Changes that never became an event: `(deletes, other)` — other being the intermediate
    /// states of rows changed more than once between polls and the rows skipped for good.
    pub fn missed(&self) -> (u64, u64) {
        let other = self
            .changes
            .saturating_sub(self.deletes)
            .saturating_sub(self.events);
        (self.deletes, other)
    }
}

/// Query-based capture of some tables of one source.
#[derive(Debug, Clone)]
pub struct QueryCapture {
    /// Per table, the column it polls by.
    columns: BTreeMap<String, String>,
    /// Per table, the highest value of its column seen.
    high: BTreeMap<String, Option<Value>>,
    /// The keys emitted before (their next event is an update).
    emitted: BTreeSet<(String, Key)>,
    /// The source's log position at the last poll.
    position: Lsn,
    /// What it saw and missed.
    pub stats: QueryStats,
}

impl QueryCapture {
    /// Capture of `columns` (table → column) on `db`, starting now: every row there counts as
    /// seen (the pipeline's initial copy), the high values are the columns' current maxima.
    /// Simplification: rows of a table with a composite primary key are not remembered as
    /// seen, so their first captured change is emitted as a create (`c`) rather than `u`.
    pub fn new(columns: BTreeMap<String, String>, db: &Database) -> Self {
        let mut high = BTreeMap::new();
        let mut emitted = BTreeSet::new();
        for (table, column) in &columns {
            let Ok((names, rows)) = db.committed_rows(table) else {
                high.insert(table.clone(), None);
                continue;
            };
            let keys = db.with_engine_ref(|e| e.primary_key_columns(table));
            let position = names.iter().position(|n| n == column);
            let key_at: Vec<usize> = keys
                .iter()
                .filter_map(|k| names.iter().position(|n| n == k))
                .collect();
            let mut max: Option<Value> = None;
            for row in &rows {
                if let Some(value) = position.and_then(|p| row.get(p)) {
                    if above(value, max.as_ref()) {
                        max = Some(value.clone());
                    }
                }
                if let [at] = key_at[..] {
                    if let Some(key) = row.get(at).and_then(|v| Key::try_from(v.clone()).ok()) {
                        emitted.insert((table.clone(), key));
                    }
                }
            }
            high.insert(table.clone(), max);
        }
        let position = db.with_engine_ref(|e| e.log().next_lsn());
        Self {
            columns,
            high,
            emitted,
            position,
            stats: QueryStats::default(),
        }
    }

    /// The source's log position at the last poll: the log before it is no longer needed.
    pub fn position(&self) -> Lsn {
        self.position
    }

    /// The poll's queries, one per table, as the connector sends them to the source.
    pub fn select_sql(&self) -> Vec<String> {
        self.columns
            .iter()
            .map(
                |(table, column)| match self.high.get(table).cloned().flatten() {
                    Some(value) => format!(
                        "SELECT * FROM {table} WHERE {column} > {}",
                        sql_literal(&value)
                    ),
                    None => format!("SELECT * FROM {table}"),
                },
            )
            .collect()
    }

    /// Polls at `now`: the events for the rows the queries return, ordered by the column as the
    /// queries are; the highest values move on and what was missed is counted.
    pub fn poll(
        &mut self,
        db: &Database,
        prefix: &str,
        identities: &BTreeMap<String, ReplicaIdentity>,
        now: Micros,
    ) -> Vec<Record> {
        self.stats.polls += 1;
        let (changes, next): (Vec<Change>, Lsn) = db.with_engine_ref(|e| {
            let log = e.log();
            (log.since(self.position).cloned().collect(), log.next_lsn())
        });
        self.position = next;
        let mut latest: BTreeMap<(String, Key), Change> = BTreeMap::new();
        for change in changes {
            let ChangeKind::Row { op, key, .. } = &change.kind else {
                continue;
            };
            if !self.columns.contains_key(&change.table) {
                continue;
            }
            self.stats.changes += 1;
            if *op == RowOp::Delete {
                self.stats.deletes += 1;
            }
            latest.insert((change.table.clone(), key.clone()), change);
        }
        let mut found: Vec<(String, Key, Value, Change)> = Vec::new();
        for ((table, key), change) in latest {
            let ChangeKind::Row { after: Some(_), .. } = &change.kind else {
                continue;
            };
            let Some(value) = self.columns.get(&table).and_then(|c| change.value(c)) else {
                continue;
            };
            let high = self.high.get(&table).cloned().flatten();
            if above(value, high.as_ref()) {
                found.push((table, key, value.clone(), change));
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0).then(compare(&a.2, &b.2)).then(a.1.cmp(&b.1)));
        let mut records = Vec::new();
        let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (table, key, value, change) in found {
            let high = self.high.entry(table.clone()).or_insert(None);
            if above(&value, high.as_ref()) {
                *high = Some(value);
            }
            let op = if self.emitted.insert((table.clone(), key)) {
                "c"
            } else {
                "u"
            };
            let key_columns = keys
                .entry(table.clone())
                .or_insert_with(|| db.with_engine_ref(|e| e.primary_key_columns(&table)));
            let context = EventContext {
                prefix,
                database: db.name(),
                key_columns,
                replica_identity: identities.get(&table).copied().unwrap_or_default(),
                snapshot: SnapshotMarker::Streaming,
                processed_at: now,
                last_commit_lsn: None,
                transaction: None,
            };
            if let Some(record) = row_event(&change, op, &context) {
                records.push(record);
            }
        }
        self.stats.events += records.len() as u64;
        records
    }
}

/// The audit table trigger-based capture writes into, on the source.
pub const AUDIT_TABLE: &str = "cdc_audit";

/// The statement that creates [`AUDIT_TABLE`].
pub const AUDIT_DDL: &str =
    "CREATE TABLE cdc_audit (id INTEGER PRIMARY KEY, table_name TEXT, changed_at TEXT)";

/// Trigger-based capture on one source: which tables have the audit trigger, the audit rows'
/// next id, and what the trigger cost the writers.
#[derive(Debug, Clone, Default)]
pub struct AuditTrigger {
    /// The tables with the trigger.
    pub tables: Vec<String>,
    /// The next audit row's id.
    pub next_id: u64,
    /// Core time the trigger's inserts took, all writers.
    pub core: Micros,
}

impl AuditTrigger {
    /// The trigger on `tables`.
    pub fn new(tables: Vec<String>) -> Self {
        Self {
            tables,
            next_id: 1,
            core: 0,
        }
    }

    /// The insert the trigger runs after `sql` changed `rows` rows at `now` — one audit row per
    /// changed row — or `None` when `sql` writes no table with the trigger.
    pub fn audit_sql(&mut self, sql: &str, rows: u64, now: Micros) -> Option<String> {
        let (_, writes) = crate::sim::params::tables_used(&[sql.to_owned()]);
        let table = writes.iter().find(|t| self.tables.contains(t))?;
        let at = crate::sim::clock::format_micros(now);
        let values: Vec<String> = (0..rows)
            .map(|i| format!("({}, '{table}', '{at}')", self.next_id + i))
            .collect();
        self.next_id += rows;
        Some(format!(
            "INSERT INTO {AUDIT_TABLE} VALUES {}",
            values.join(", ")
        ))
    }

    /// The highest audit id handed out so far.
    pub fn last_id(&self) -> u64 {
        self.next_id - 1
    }
}

/// Whether `value` is above `high` (anything but `NULL` is above nothing).
fn above(value: &Value, high: Option<&Value>) -> bool {
    if matches!(value, Value::Null) {
        return false;
    }
    high.is_none_or(|h| compare(value, h) == Ordering::Greater)
}

/// Orders two values of one column as an index on it would (GlueSQL's key order); values that
/// cannot be a key (floats' NaN, maps, lists) count as equal.
fn compare(a: &Value, b: &Value) -> Ordering {
    match (Key::try_from(a.clone()), Key::try_from(b.clone())) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        _ => Ordering::Equal,
    }
}

/// A value as an SQL literal, for the poll's `WHERE`.
fn sql_literal(value: &Value) -> String {
    match value {
        Value::Timestamp(t) => format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S%.6f")),
        other => crate::sim::database::Cell::from_value(other).sql_literal(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Database {
        let mut db = Database::new("shop");
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, updated_at INTEGER)")
            .expect("creates");
        db.execute("INSERT INTO orders VALUES (1, 'new', 10), (2, 'new', 11)")
            .expect("inserts");
        db
    }

    fn capture(db: &Database) -> QueryCapture {
        QueryCapture::new([("orders".to_owned(), "updated_at".to_owned())].into(), db)
    }

    fn ops(records: &[Record]) -> Vec<String> {
        records
            .iter()
            .map(|r| {
                let value: serde_json::Value =
                    serde_json::from_str(r.value.as_deref().expect("a value")).expect("json");
                format!(
                    "{}{}",
                    value["op"].as_str().unwrap_or("?"),
                    value["after"]["id"]
                )
            })
            .collect()
    }

    #[test]
    fn a_poll_sees_new_and_updated_rows_by_their_column() {
        let mut db = db();
        let mut capture = capture(&db);
        assert_eq!(
            capture.select_sql(),
            ["SELECT * FROM orders WHERE updated_at > 11"]
        );
        db.execute("INSERT INTO orders VALUES (3, 'new', 12)")
            .expect("ok");
        db.execute("UPDATE orders SET status = 'paid', updated_at = 13 WHERE id = 1")
            .expect("ok");
        let records = capture.poll(&db, "shop", &BTreeMap::new(), 0);
        assert_eq!(ops(&records), ["c3", "u1"], "ordered by the column");
        assert_eq!(capture.stats.missed(), (0, 0));
        assert_eq!(
            capture.select_sql(),
            ["SELECT * FROM orders WHERE updated_at > 13"]
        );
    }

    #[test]
    fn deletes_and_intermediate_states_are_missed_and_counted() {
        let mut db = db();
        let mut capture = capture(&db);
        db.execute("UPDATE orders SET status = 'paid', updated_at = 12 WHERE id = 1")
            .expect("ok");
        db.execute("UPDATE orders SET status = 'shipped', updated_at = 13 WHERE id = 1")
            .expect("ok");
        db.execute("DELETE FROM orders WHERE id = 2").expect("ok");
        let records = capture.poll(&db, "shop", &BTreeMap::new(), 0);
        assert_eq!(ops(&records), ["u1"], "only the last state; no delete");
        assert_eq!(capture.stats.missed(), (1, 1));
    }

    #[test]
    fn a_row_committed_late_below_the_high_value_is_skipped_for_good() {
        let mut db = db();
        let mut capture = capture(&db);
        db.execute("INSERT INTO orders VALUES (3, 'new', 20)")
            .expect("ok");
        assert_eq!(ops(&capture.poll(&db, "shop", &BTreeMap::new(), 0)), ["c3"]);
        // A transaction that stamped its row earlier commits only now.
        db.execute("INSERT INTO orders VALUES (4, 'new', 15)")
            .expect("ok");
        assert!(capture.poll(&db, "shop", &BTreeMap::new(), 0).is_empty());
        assert_eq!(capture.stats.missed(), (0, 1));
    }

    #[test]
    fn the_trigger_writes_one_audit_row_per_changed_row_of_its_tables_only() {
        let mut trigger = AuditTrigger::new(vec!["orders".to_owned()]);
        let sql = trigger
            .audit_sql("UPDATE orders SET status = 'paid' WHERE id < 3", 2, 1_000)
            .expect("orders has the trigger");
        assert_eq!(
            sql,
            "INSERT INTO cdc_audit VALUES (1, 'orders', '1ms'), (2, 'orders', '1ms')"
        );
        assert_eq!(trigger.last_id(), 2);
        assert!(trigger
            .audit_sql("UPDATE invoices SET status = 'paid'", 5, 0)
            .is_none());
        let mut db = Database::new("shop");
        db.execute(AUDIT_DDL).expect("creates");
        db.execute(&sql).expect("the audit insert runs");
    }

    #[test]
    fn method_names_round_trip() {
        for method in CaptureMethod::ALL {
            assert_eq!(CaptureMethod::from_name(method.name()), Some(method));
        }
    }
}
