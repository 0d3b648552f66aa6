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
use serde_json::Value as Json;

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
    let value = Envelope {
        before: None,
        after: Some(image.row()),
        source: source(row.table, row.txn, row.lsn, row.read_at, context),
        op: "r",
        context,
    };
    Record {
        topic: topic_name(context.prefix, row.table),
        key: image.key_text(context.key_columns),
        value: Some(value.text()),
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
    let record = |key: &Option<String>, value: Option<String>| Record {
        topic: topic.clone(),
        key: key.clone(),
        value,
        committed_at: change.committed_at,
        lsn: change.lsn,
    };
    let envelope = |before: Option<RowJson<'_>>, after: Option<RowJson<'_>>, op: &'static str| {
        Envelope {
            before,
            after,
            source: source(
                &change.table,
                change.txn,
                change.lsn,
                change.committed_at,
                context,
            ),
            op,
            context,
        }
        .text()
    };
    let full = context.replica_identity == ReplicaIdentity::Full;
    let keys = context.key_columns;
    match (op, before, after) {
        (RowOp::Insert, _, Some(after)) => {
            let key = after.key_text(keys);
            vec![record(&key, Some(envelope(None, Some(after.row()), "c")))]
        }
        (RowOp::Update, Some(before), Some(after)) => {
            let (old_key, new_key) = (before.key_text(keys), after.key_text(keys));
            if old_key != new_key && !keys.is_empty() {
                return vec![
                    record(
                        &old_key,
                        Some(envelope(old_row(&before, full, keys), None, "d")),
                    ),
                    record(&old_key, None),
                    record(&new_key, Some(envelope(None, Some(after.row()), "c"))),
                ];
            }
            let previous = full.then(|| before.row());
            vec![record(
                &new_key,
                Some(envelope(previous, Some(after.row()), "u")),
            )]
        }
        (RowOp::Delete, Some(before), _) => {
            let key = before.key_text(keys);
            vec![
                record(
                    &key,
                    Some(envelope(old_row(&before, full, keys), None, "d")),
                ),
                record(&key, None),
            ]
        }
        _ => Vec::new(),
    }
}

/// The message for a row as query-based capture reads it ([`crate::sim::capture`]): the row as
/// `change` left it (`after`), `before` null, the given `op` (`c` for a row the capture had not
/// seen, `u` otherwise), and `change`'s position and commit time as its source. `None` when the
/// change left no row (a delete: a query never sees one).
pub fn row_event(change: &Change, op: &'static str, context: &EventContext<'_>) -> Option<Record> {
    let ChangeKind::Row {
        after: Some(after), ..
    } = &change.kind
    else {
        return None;
    };
    let after = Image {
        columns: &change.columns,
        values: after,
    };
    let value = Envelope {
        before: None,
        after: Some(after.row()),
        source: source(
            &change.table,
            change.txn,
            change.lsn,
            change.committed_at,
            context,
        ),
        op,
        context,
    }
    .text();
    Some(Record {
        topic: topic_name(context.prefix, &change.table),
        key: after.key_text(context.key_columns),
        value: Some(value),
        committed_at: change.committed_at,
        lsn: change.lsn,
    })
}

/// What `before` holds under the replica identity: the whole row (`FULL`), or the key columns
/// (`DEFAULT`; nothing for a table without a key).
fn old_row<'a>(image: &Image<'a>, full: bool, keys: &'a [String]) -> Option<RowJson<'a>> {
    if full {
        Some(image.row())
    } else if keys.is_empty() {
        None
    } else {
        Some(image.key(keys))
    }
}

/// A row as a message key and a change event's `after` would carry it: the key as JSON text
/// (`None` without key columns) and the row as a JSON object. For state built from a table's
/// rows that later events must find by key (a projection's initial contributions).
pub fn row_json(
    columns: &[String],
    values: &[Value],
    key_columns: &[String],
) -> (Option<String>, serde_json::Map<String, Json>) {
    let image = Image { columns, values };
    let row = columns
        .iter()
        .zip(values)
        .map(|(c, v)| (c.clone(), json_value(v)))
        .collect();
    (image.key_text(key_columns), row)
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

    /// The whole row, for JSON.
    fn row(&self) -> RowJson<'a> {
        RowJson {
            columns: self.columns,
            values: self.values,
            only: None,
        }
    }

    /// The key columns, for JSON.
    fn key(&self, key_columns: &'a [String]) -> RowJson<'a> {
        RowJson {
            columns: self.columns,
            values: self.values,
            only: Some(key_columns),
        }
    }

    /// The key as JSON text (`None` without key columns).
    fn key_text(&self, key_columns: &'a [String]) -> Option<String> {
        (!key_columns.is_empty())
            .then(|| serde_json::to_string(&self.key(key_columns)).unwrap_or_default())
    }
}

/// A row (or its key columns, in key order) written as a JSON object, in column order.
struct RowJson<'a> {
    columns: &'a [String],
    values: &'a [Value],
    only: Option<&'a [String]>,
}

impl Serialize for RowJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        match self.only {
            None => {
                for (column, value) in self.columns.iter().zip(self.values) {
                    map.serialize_entry(column, &Cell(value))?;
                }
            }
            Some(keys) => {
                for key in keys {
                    let value = self
                        .columns
                        .iter()
                        .position(|c| c == key)
                        .and_then(|i| self.values.get(i));
                    map.serialize_entry(key, &value.map(Cell))?;
                }
            }
        }
        map.end()
    }
}

/// A column value, written as Debezium's JSON converter writes it (see [`json_value`]).
struct Cell<'a>(&'a Value);

impl Serialize for Cell<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => serializer.serialize_none(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::I8(v) => serializer.serialize_i8(*v),
            Value::I16(v) => serializer.serialize_i16(*v),
            Value::I32(v) => serializer.serialize_i32(*v),
            Value::I64(v) => serializer.serialize_i64(*v),
            Value::U8(v) => serializer.serialize_u8(*v),
            Value::U16(v) => serializer.serialize_u16(*v),
            Value::U32(v) => serializer.serialize_u32(*v),
            Value::U64(v) => serializer.serialize_u64(*v),
            Value::Str(s) => serializer.serialize_str(s),
            other => json_value(other).serialize(serializer),
        }
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
) -> Source<'a> {
    let us = epoch_us(at);
    // Debezium's `sequence`: the last committed LSN and the event's LSN, as strings in a JSON
    // array that is itself a string.
    let sequence = match context.last_commit_lsn {
        Some(last) => format!("[\"{last}\",\"{lsn}\"]"),
        None => format!("[null,\"{lsn}\"]"),
    };
    Source {
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
    }
}

/// Debezium's envelope, in its field order.
struct Envelope<'a> {
    before: Option<RowJson<'a>>,
    after: Option<RowJson<'a>>,
    source: Source<'a>,
    op: &'static str,
    context: &'a EventContext<'a>,
}

impl Envelope<'_> {
    fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Serialize for Envelope<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let us = epoch_us(self.context.processed_at);
        let mut map = serializer.serialize_map(Some(8))?;
        map.serialize_entry("before", &self.before)?;
        map.serialize_entry("after", &self.after)?;
        map.serialize_entry("source", &self.source)?;
        map.serialize_entry("op", self.op)?;
        map.serialize_entry("ts_ms", &(us / 1_000))?;
        map.serialize_entry("ts_us", &us)?;
        map.serialize_entry("ts_ns", &us.saturating_mul(1_000))?;
        match &self.context.transaction {
            Some(t) => map.serialize_entry(
                "transaction",
                &serde_json::json!({
                    "id": t.id,
                    "total_order": t.total_order,
                    "data_collection_order": t.data_collection_order,
                }),
            )?,
            None => map.serialize_entry("transaction", &None::<()>)?,
        }
        map.end()
    }
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
