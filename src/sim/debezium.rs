//! Change events as Debezium's PostgreSQL connector writes them to Kafka (the format of
//! Debezium 2.7, with Kafka Connect's `JsonConverter` and `schemas.enable=false`).
//!
//! One row change becomes one message on the table's topic `<topic.prefix>.public.<table>`. Its
//! key is the primary key as a JSON object (`{"id":42}`; `null` for a table without one). Its
//! value is Debezium's envelope: `before`, `after`, `source` (`version`, `connector`, `name`,
//! `ts_ms`, `ts_us`, `ts_ns`, `snapshot`, `db`, `sequence`, `schema`, `table`, `txId`, `lsn`,
//! `xmin`), `op` (`c` create, `u` update, `d` delete, `r` read by the snapshot), `ts_ms`
//! (`ts_us`, `ts_ns`) when the connector processed it, and `transaction` (`id`, `total_order`,
//! `data_collection_order`, as with `provide.transaction.metadata=true`). A delete is followed by
//! a tombstone (same key, null value) so that compaction can remove the key; an update that
//! changes the primary key becomes a delete, a tombstone and a create, as Debezium does.
//!
//! `REPLICA IDENTITY` decides what PostgreSQL logs of the old row, and so what `before` holds:
//! `DEFAULT` — null for an update, the key columns only for a delete; `FULL` — the whole row.
//!
//! Column values follow Debezium's default mappings where they matter here: integers and
//! booleans as JSON numbers and booleans, text as strings, `TIMESTAMP` as microseconds since the
//! Unix epoch (`io.debezium.time.MicroTimestamp`), `DATE` as days since the epoch
//! (`io.debezium.time.Date`), `DECIMAL` as a string (`decimal.handling.mode=string`).
//!
//! Differences from the real connector: LSNs count change-log records, not bytes of WAL; the
//! simulation's time 0 is 2026-01-01 00:00 UTC; `xmin` is always null; there is no transaction
//! metadata topic (only the `transaction` block of each event); `version` names the Debezium
//! release whose format is copied.

use crate::sim::change_log::{Change, ChangeKind, Lsn, RowOp, TxnId};
use crate::sim::clock::Micros;
use gluesql::core::chrono::{NaiveDate, NaiveTime};
use gluesql::core::data::Value;
use serde::Serialize;
use serde_json::{Map, Value as Json};

/// The Debezium release whose event format the simulation writes.
pub const DEBEZIUM_VERSION: &str = "2.7.0.Final";

/// The simulation's time 0, 2026-01-01 00:00 UTC, in milliseconds since the Unix epoch (the
/// same start as the `{now}` template parameter).
pub const EPOCH_MS: i64 = 1_767_225_600_000;

/// What PostgreSQL writes to the WAL about a changed row's old values (`ALTER TABLE …
/// REPLICA IDENTITY`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ReplicaIdentity {
    /// The old key only (and only for deletes and key changes).
    #[default]
    Default,
    /// The whole old row.
    Full,
}

/// `source.snapshot`: whether an event was read by the initial snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMarker {
    /// Streamed from the change log (`"false"`).
    Streaming,
    /// Read by the snapshot (`"true"`).
    Snapshot,
    /// The snapshot's last event (`"last"`).
    Last,
}

impl SnapshotMarker {
    fn text(self) -> &'static str {
        match self {
            Self::Streaming => "false",
            Self::Snapshot => "true",
            Self::Last => "last",
        }
    }
}

/// Where an event sits in its transaction (`provide.transaction.metadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionOrder {
    /// The transaction's id: `txId:LSN` of its last change, as Debezium's PostgreSQL connector.
    pub id: String,
    /// The event's position among all of the transaction's events, from 1.
    pub total_order: u64,
    /// The event's position among the transaction's events for the same table, from 1.
    pub data_collection_order: u64,
}

/// What the connector knows when it turns a change into events.
#[derive(Debug, Clone)]
pub struct EventContext<'a> {
    /// `topic.prefix`: the topics' prefix and `source.name`.
    pub prefix: &'a str,
    /// The database's name (`source.db`).
    pub database: &'a str,
    /// The table's primary key columns now, in order (empty: no primary key).
    pub key_columns: &'a [String],
    /// The table's replica identity.
    pub replica_identity: ReplicaIdentity,
    /// Snapshot or streaming.
    pub snapshot: SnapshotMarker,
    /// When the connector processes the event.
    pub processed_at: Micros,
    /// The LSN of the previous transaction's commit, for `source.sequence`.
    pub last_commit_lsn: Option<Lsn>,
    /// The event's place in its transaction (streamed events only).
    pub transaction: Option<TransactionOrder>,
}

/// One message for Kafka: its topic, serialized key and value (`None`: a tombstone).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The topic.
    pub topic: String,
    /// The key as JSON text (`None` for a table without a primary key).
    pub key: Option<String>,
    /// The value as JSON text; `None` is a tombstone.
    pub value: Option<String>,
    /// The source's commit time of the change (the snapshot's read time for `r` events).
    pub committed_at: Micros,
    /// The change's position in the source's change log.
    pub lsn: Lsn,
}

/// The topic of `table`'s change events.
pub fn topic_name(prefix: &str, table: &str) -> String {
    format!("{prefix}.public.{table}")
}

/// A row as the snapshot read it: `op = "r"` at the snapshot's LSN.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotRow<'a> {
    /// The table.
    pub table: &'a str,
    /// Its column names, in row order.
    pub columns: &'a [String],
    /// The row.
    pub values: &'a [Value],
    /// The LSN the snapshot is consistent at.
    pub lsn: Lsn,
    /// The snapshot's transaction.
    pub txn: TxnId,
    /// When the snapshot read it.
    pub read_at: Micros,
}

/// The event for a row read by the snapshot.
pub fn snapshot_event(row: SnapshotRow<'_>, context: &EventContext<'_>) -> Record {
    let image = Image {
        columns: row.columns,
        values: row.values,
    };
    let key = image.key(context.key_columns);
    let source = source(row.table, row.txn, row.lsn, row.read_at, context);
    let value = envelope(None, Some(image.object()), source, "r", context);
    Record {
        topic: topic_name(context.prefix, row.table),
        key: key.map(|k| k.to_string()),
        value: Some(value.to_string()),
        committed_at: row.read_at,
        lsn: row.lsn,
    }
}

/// The messages for one change of the change log: none for a schema change (Debezium's
/// PostgreSQL connector emits no DDL events), one for an insert or update, two for a delete (the
/// event and its tombstone), three for an update of the primary key.
pub fn change_events(change: &Change, context: &EventContext<'_>) -> Vec<Record> {
    let ChangeKind::Row {
        op, before, after, ..
    } = &change.kind
    else {
        return Vec::new();
    };
    let (before, after) = (
        Image::of(&change.columns, before.as_deref()),
        Image::of(&change.columns, after.as_deref()),
    );
    let topic = topic_name(context.prefix, &change.table);
    let record = |key: &Option<Json>, value: Option<Json>| Record {
        topic: topic.clone(),
        key: key.as_ref().map(Json::to_string),
        value: value.map(|v| v.to_string()),
        committed_at: change.committed_at,
        lsn: change.lsn,
    };
    let source = || {
        source(
            &change.table,
            change.txn,
            change.lsn,
            change.committed_at,
            context,
        )
    };
    let full = context.replica_identity == ReplicaIdentity::Full;
    let keys = context.key_columns;
    // What `before` holds under the replica identity: the whole row, or the key columns.
    let old = |image: &Image<'_>| {
        if full {
            image.object()
        } else {
            image.key(keys).unwrap_or(Json::Null)
        }
    };
    match (op, before, after) {
        (RowOp::Insert, _, Some(after)) => {
            let key = after.key(keys);
            let value = envelope(None, Some(after.object()), source(), "c", context);
            vec![record(&key, Some(value))]
        }
        (RowOp::Update, Some(before), Some(after)) => {
            let (old_key, new_key) = (before.key(keys), after.key(keys));
            if old_key != new_key && !keys.is_empty() {
                let delete = envelope(Some(old(&before)), None, source(), "d", context);
                let create = envelope(None, Some(after.object()), source(), "c", context);
                return vec![
                    record(&old_key, Some(delete)),
                    record(&old_key, None),
                    record(&new_key, Some(create)),
                ];
            }
            let previous = full.then(|| before.object());
            let value = envelope(previous, Some(after.object()), source(), "u", context);
            vec![record(&new_key, Some(value))]
        }
        (RowOp::Delete, Some(before), _) => {
            let key = before.key(keys);
            let value = envelope(Some(old(&before)), None, source(), "d", context);
            vec![record(&key, Some(value)), record(&key, None)]
        }
        _ => Vec::new(),
    }
}

/// A row image: column names and values in order.
struct Image<'a> {
    columns: &'a [String],
    values: &'a [Value],
}

impl<'a> Image<'a> {
    fn of(columns: &'a [String], values: Option<&'a [Value]>) -> Option<Self> {
        values.map(|values| Self { columns, values })
    }

    /// The whole row as a JSON object, in column order.
    fn object(&self) -> Json {
        Json::Object(
            self.columns
                .iter()
                .zip(self.values)
                .map(|(c, v)| (c.clone(), json_value(v)))
                .collect(),
        )
    }

    /// The key columns as a JSON object (`None` without key columns).
    fn key(&self, key_columns: &[String]) -> Option<Json> {
        if key_columns.is_empty() {
            return None;
        }
        let mut key = Map::new();
        for column in key_columns {
            let value = self
                .columns
                .iter()
                .position(|c| c == column)
                .and_then(|i| self.values.get(i))
                .map_or(Json::Null, json_value);
            key.insert(column.clone(), value);
        }
        Some(Json::Object(key))
    }
}

#[derive(Serialize)]
struct Source<'a> {
    version: &'static str,
    connector: &'static str,
    name: &'a str,
    ts_ms: i64,
    ts_us: i64,
    ts_ns: i64,
    snapshot: &'static str,
    db: &'a str,
    sequence: String,
    schema: &'static str,
    table: &'a str,
    #[serde(rename = "txId")]
    tx_id: TxnId,
    lsn: Lsn,
    xmin: Option<u64>,
}

fn source<'a>(
    table: &'a str,
    txn: TxnId,
    lsn: Lsn,
    at: Micros,
    context: &EventContext<'a>,
) -> Json {
    let us = epoch_us(at);
    // Debezium's `sequence`: the last committed LSN and the event's LSN, as strings in a JSON
    // array that is itself a string.
    let sequence = serde_json::json!([
        context.last_commit_lsn.map(|l| l.to_string()),
        lsn.to_string()
    ])
    .to_string();
    serde_json::to_value(Source {
        version: DEBEZIUM_VERSION,
        connector: "postgresql",
        name: context.prefix,
        ts_ms: us / 1_000,
        ts_us: us,
        ts_ns: us.saturating_mul(1_000),
        snapshot: context.snapshot.text(),
        db: context.database,
        sequence,
        schema: "public",
        table,
        tx_id: txn,
        lsn,
        xmin: None,
    })
    .unwrap_or(Json::Null)
}

fn envelope(
    before: Option<Json>,
    after: Option<Json>,
    source: Json,
    op: &str,
    context: &EventContext<'_>,
) -> Json {
    let us = epoch_us(context.processed_at);
    let mut value = Map::new();
    value.insert("before".into(), before.unwrap_or(Json::Null));
    value.insert("after".into(), after.unwrap_or(Json::Null));
    value.insert("source".into(), source);
    value.insert("op".into(), Json::from(op));
    value.insert("ts_ms".into(), Json::from(us / 1_000));
    value.insert("ts_us".into(), Json::from(us));
    value.insert("ts_ns".into(), Json::from(us.saturating_mul(1_000)));
    value.insert(
        "transaction".into(),
        match &context.transaction {
            Some(t) => serde_json::json!({
                "id": t.id,
                "total_order": t.total_order,
                "data_collection_order": t.data_collection_order,
            }),
            None => Json::Null,
        },
    );
    Json::Object(value)
}

/// Simulated time as microseconds since the Unix epoch.
pub fn epoch_us(at: Micros) -> i64 {
    EPOCH_MS
        .saturating_mul(1_000)
        .saturating_add(i64::try_from(at).unwrap_or(i64::MAX))
}

/// A column value as Debezium's JSON converter writes it.
pub fn json_value(value: &Value) -> Json {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::from(*b),
        Value::I8(v) => Json::from(*v),
        Value::I16(v) => Json::from(*v),
        Value::I32(v) => Json::from(*v),
        Value::I64(v) => Json::from(*v),
        Value::U8(v) => Json::from(*v),
        Value::U16(v) => Json::from(*v),
        Value::U32(v) => Json::from(*v),
        Value::U64(v) => Json::from(*v),
        Value::F32(v) => {
            serde_json::Number::from_f64(f64::from(*v)).map_or(Json::Null, Json::Number)
        }
        Value::F64(v) => serde_json::Number::from_f64(*v).map_or(Json::Null, Json::Number),
        Value::Str(s) => Json::from(s.as_str()),
        Value::Decimal(d) => Json::from(d.to_string()),
        Value::Date(d) => Json::from(d.signed_duration_since(epoch).num_days()),
        Value::Timestamp(t) => {
            let since = t.signed_duration_since(epoch.and_time(NaiveTime::MIN));
            since
                .num_microseconds()
                .map_or_else(|| Json::from(t.to_string()), Json::from)
        }
        Value::Time(t) => {
            let since = t.signed_duration_since(NaiveTime::MIN);
            since
                .num_microseconds()
                .map_or_else(|| Json::from(t.to_string()), Json::from)
        }
        other => Json::from(String::from(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gluesql::core::data::Key;
    use std::rc::Rc;

    fn change(op: RowOp, before: Option<Vec<Value>>, after: Option<Vec<Value>>) -> Change {
        Change {
            lsn: 7,
            txn: 3,
            commit_seq: 2,
            committed_at: 1_500_000,
            table: "orders".into(),
            columns: Rc::from(vec!["id".to_owned(), "status".to_owned()]),
            sql: None,
            kind: ChangeKind::Row {
                op,
                key: Key::I64(1),
                before,
                after,
            },
        }
    }

    fn row(id: i64, status: &str) -> Option<Vec<Value>> {
        Some(vec![Value::I64(id), Value::Str(status.into())])
    }

    fn context(identity: ReplicaIdentity, keys: &[String]) -> EventContext<'_> {
        EventContext {
            prefix: "shop",
            database: "shop",
            key_columns: keys,
            replica_identity: identity,
            snapshot: SnapshotMarker::Streaming,
            processed_at: 1_502_000,
            last_commit_lsn: Some(5),
            transaction: Some(TransactionOrder {
                id: "3:7".into(),
                total_order: 1,
                data_collection_order: 1,
            }),
        }
    }

    fn parse(record: &Record) -> Json {
        serde_json::from_str(record.value.as_deref().expect("a value")).expect("JSON")
    }

    #[test]
    fn an_insert_is_one_create_event_keyed_by_the_primary_key() {
        let keys = ["id".to_owned()];
        let records = change_events(
            &change(RowOp::Insert, None, row(1, "new")),
            &context(ReplicaIdentity::Default, &keys),
        );
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].topic, "shop.public.orders");
        assert_eq!(records[0].key.as_deref(), Some("{\"id\":1}"));
        let value = parse(&records[0]);
        assert_eq!(value["op"], "c");
        assert_eq!(value["before"], Json::Null);
        assert_eq!(value["after"]["status"], "new");
        assert_eq!(value["source"]["lsn"], 7);
        assert_eq!(value["source"]["txId"], 3);
        assert_eq!(value["source"]["ts_ms"], EPOCH_MS + 1_500);
        assert_eq!(value["ts_ms"], EPOCH_MS + 1_502);
        assert_eq!(value["source"]["sequence"], "[\"5\",\"7\"]");
        let fields: Vec<&String> = value.as_object().expect("object").keys().collect();
        assert_eq!(
            fields,
            [
                "before",
                "after",
                "source",
                "op",
                "ts_ms",
                "ts_us",
                "ts_ns",
                "transaction"
            ],
            "the envelope's fields in Debezium's order"
        );
    }

    #[test]
    fn replica_identity_decides_what_before_holds() {
        let keys = ["id".to_owned()];
        let update = change(RowOp::Update, row(1, "new"), row(1, "paid"));
        let delete = change(RowOp::Delete, row(1, "paid"), None);
        let default = context(ReplicaIdentity::Default, &keys);
        let full = context(ReplicaIdentity::Full, &keys);

        let value = parse(&change_events(&update, &default)[0]);
        assert_eq!(
            value["before"],
            Json::Null,
            "DEFAULT: no old row for an update"
        );
        let value = parse(&change_events(&update, &full)[0]);
        assert_eq!(value["before"]["status"], "new", "FULL: the whole old row");

        let records = change_events(&delete, &default);
        assert_eq!(records.len(), 2, "a delete and its tombstone");
        assert_eq!(
            parse(&records[0])["before"],
            serde_json::json!({"id": 1}),
            "DEFAULT: the key only"
        );
        assert_eq!(records[1].value, None);
        assert_eq!(records[1].key, records[0].key);
        let records = change_events(&delete, &full);
        assert_eq!(parse(&records[0])["before"]["status"], "paid");
    }

    #[test]
    fn an_update_of_the_key_is_a_delete_a_tombstone_and_a_create() {
        let keys = ["id".to_owned()];
        let records = change_events(
            &change(RowOp::Update, row(1, "new"), row(2, "new")),
            &context(ReplicaIdentity::Default, &keys),
        );
        let ops: Vec<Option<String>> = records
            .iter()
            .map(|r| {
                r.value
                    .as_ref()
                    .map(|_| parse(r)["op"].as_str().unwrap_or("").to_owned())
            })
            .collect();
        assert_eq!(ops, [Some("d".into()), None, Some("c".into())]);
        assert_eq!(records[2].key.as_deref(), Some("{\"id\":2}"));
    }

    #[test]
    fn schema_changes_are_not_events() {
        let mut ddl = change(RowOp::Insert, None, None);
        ddl.kind = ChangeKind::Schema(crate::sim::change_log::SchemaChange::DropTable);
        assert!(change_events(&ddl, &context(ReplicaIdentity::Default, &[])).is_empty());
    }

    #[test]
    fn a_snapshot_read_is_an_r_event() {
        let columns = ["id".to_owned(), "status".to_owned()];
        let values = [Value::I64(4), Value::Str("new".into())];
        let keys = ["id".to_owned()];
        let mut context = context(ReplicaIdentity::Default, &keys);
        context.snapshot = SnapshotMarker::Last;
        context.transaction = None;
        let record = snapshot_event(
            SnapshotRow {
                table: "orders",
                columns: &columns,
                values: &values,
                lsn: 9,
                txn: 5,
                read_at: 0,
            },
            &context,
        );
        let value = parse(&record);
        assert_eq!(value["op"], "r");
        assert_eq!(value["source"]["snapshot"], "last");
        assert_eq!(value["transaction"], Json::Null);
    }

    #[test]
    fn values_follow_debeziums_default_mappings() {
        let date = NaiveDate::from_ymd_opt(1970, 1, 11).expect("a date");
        assert_eq!(json_value(&Value::Date(date)), Json::from(10));
        let at = date.and_hms_opt(0, 0, 1).expect("a time");
        assert_eq!(
            json_value(&Value::Timestamp(at)),
            Json::from(10 * 86_400_000_000_i64 + 1_000_000)
        );
        assert_eq!(json_value(&Value::Bool(true)), Json::from(true));
        assert_eq!(json_value(&Value::Null), Json::Null);
    }
}
