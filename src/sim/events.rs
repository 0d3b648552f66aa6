//! Domain events: what the `events` mode publishes instead of raw table changes.
//!
//! A scenario declares, per aggregate (`[events.order]`), the owner's table the events describe,
//! the event type of an inserted, updated and deleted row (`OrderPlaced`, `OrderUpdated`, …), the
//! payload's Avro schema (by default a record with one field per column) and which column each
//! field is taken from. That declaration is the *contract*: the owner writes each event into its
//! outbox in the same transaction as the change ([`OutboxWriter`]); the relay — Debezium's outbox
//! event router ([`crate::sim::outbox`]) — publishes it to `outbox.event.<aggregate>`, encoded
//! in Avro with the subject's latest schema ([`encode_event`]); a reader decodes it with the
//! version it subscribed to and applies the payload to its read model by key
//! ([`EventReader`]).
//!
//! The contract shields readers from the owner's internals: when the owner renames a column of
//! its table, it changes its mapping in the same deploy (the writer follows the rename in the
//! log), and the events — and every reader — stay as they were. A reader of raw change events
//! (`raw_changes = ["orders"]`) sees the new column name instead, and breaks.
//!
//! Where it differs from a real shop: the payload is the aggregate's whole state after the
//! change (event-carried state transfer), built from the changed row rather than by application
//! code; event ids are numbers that grow per database (real outboxes mostly use UUIDs), so that
//! a reader can skip an event it already applied by comparing ids per aggregate; the record's
//! timestamp is the change's commit time (`table.field.event.timestamp` pointing at a commit-time
//! column).

use crate::sim::avro_wire;
use crate::sim::change_log::{ChangeKind, ChangeLog, Lsn, PendingChange, RowOp, SchemaChange};
use crate::sim::clock::Micros;
use crate::sim::registry::{value_subject, SchemaRegistry};
use crate::sim::scenario::ScenarioError;
use crate::sim::sink::ChangeEvent;
use crate::sim::topic::{Header, Message, Payload};
use apache_avro::Schema;
use gluesql::core::ast::{ColumnDef, DataType};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};
use std::collections::BTreeMap;
use std::rc::Rc;
use thiserror::Error;

/// One aggregate's events (`[events.<aggregate>]` in a scenario).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    /// The owner's table the events describe; its owner writes them.
    pub table: String,
    /// The event type of an inserted row (`OrderPlaced`); none: inserts publish nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_insert: Option<String>,
    /// The event type of an updated row (`OrderUpdated`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_update: Option<String>,
    /// The event type of a deleted row (`OrderCancelled`); its payload is the row's last state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_delete: Option<String>,
    /// Payload field → the column it is taken from, where they differ (a field not listed is
    /// the column of its name).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// The payload's Avro schema (JSON text, as in an `.avsc` file); by default a record with
    /// one field per column of the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
}

/// An aggregate's events as a run uses them: the checked declaration.
#[derive(Debug, Clone)]
pub struct EventContract {
    /// The aggregate type (`order`): the outbox's `aggregatetype`.
    pub aggregate: String,
    /// `outbox.event.<aggregate>`.
    pub topic: String,
    /// The registry subject of its values: `<topic>-value`.
    pub subject: String,
    /// The owner's table.
    pub table: String,
    /// The table's primary key column: the outbox's `aggregateid`.
    pub key: String,
    /// Payload fields and the columns they come from, in the schema's field order; `None` for
    /// a field with a default and no column.
    pub fields: Vec<(String, Option<String>)>,
    /// Event types by what happened to the row.
    pub on_insert: Option<String>,
    /// As `on_insert`, for an update.
    pub on_update: Option<String>,
    /// As `on_insert`, for a delete.
    pub on_delete: Option<String>,
    /// The schema's text, as registered (version 1 of the subject).
    pub schema_text: String,
    /// The schema, parsed.
    pub schema: Schema,
}

impl EventContract {
    /// The event type of a row change, if the contract publishes one.
    pub fn event_type(&self, op: RowOp) -> Option<&str> {
        match op {
            RowOp::Insert => self.on_insert.as_deref(),
            RowOp::Update => self.on_update.as_deref(),
            RowOp::Delete => self.on_delete.as_deref(),
        }
    }

    /// The columns its payload carries (what a read model fed by it keeps), key first.
    pub fn columns(&self) -> Vec<String> {
        let mut columns = vec![self.key.clone()];
        for column in self.fields.iter().filter_map(|(_, c)| c.as_ref()) {
            if !columns.contains(column) {
                columns.push(column.clone());
            }
        }
        columns
    }
}

/// The Avro type of a column, as a schema derived from the table would declare it.
fn avro_type(column: &ColumnDef) -> Json {
    let base = match column.data_type {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int
        | DataType::Uint8
        | DataType::Uint16
        | DataType::Uint32
        // (A UINT64 above 2^63 - 1 does not fit: the relay cannot encode that event.)
        | DataType::Uint64 => json!("long"),
        DataType::Float32 | DataType::Float => json!("double"),
        DataType::Boolean => json!("boolean"),
        DataType::Timestamp => json!({"type": "long", "logicalType": "timestamp-micros"}),
        DataType::Date => json!({"type": "int", "logicalType": "date"}),
        DataType::Time => json!({"type": "long", "logicalType": "time-micros"}),
        // The rest travel as text, as `debezium::json_value` writes them.
        _ => json!("string"),
    };
    if column.nullable {
        json!(["null", base])
    } else {
        base
    }
}

/// A record name from an aggregate's name: `order` → `Order`, `line_item` → `LineItem`.
fn record_name(aggregate: &str) -> String {
    let name: String = aggregate
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect();
    match name.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => name,
        _ => format!("Event{name}"),
    }
}

/// The schema a table's columns give an aggregate's payload by default: one field per column,
/// nullable columns as a union with `null` defaulting to null.
pub fn derived_schema(aggregate: &str, columns: &[ColumnDef]) -> String {
    let fields: Vec<Json> = columns
        .iter()
        .map(|c| {
            let mut field = json!({"name": c.name, "type": avro_type(c)});
            if c.nullable {
                field["default"] = Json::Null;
            }
            field
        })
        .collect();
    json!({
        "type": "record",
        "name": record_name(aggregate),
        "namespace": "shop.events",
        "fields": fields,
    })
    .to_string()
}

/// Checks the scenario's event declarations against the owners' tables: `table_info(name)`
/// gives a table's columns and primary key in the database it starts in (`None`: no such
/// table), `owner(name)` whether a service owns it.
///
/// # Errors
///
/// A [`ScenarioError`] at `events.<aggregate>…` when the table does not exist or has no owner
/// or no single-column primary key, when no event type is named, when the schema is not an
/// Avro record or does not parse, or when a field has neither a column nor a default.
pub fn contracts(
    specs: &BTreeMap<String, EventSpec>,
    table_info: impl Fn(&str) -> Option<(Vec<ColumnDef>, Vec<String>)>,
    owned: impl Fn(&str) -> bool,
) -> Result<Vec<EventContract>, ScenarioError> {
    let mut contracts: Vec<EventContract> = Vec::new();
    for (aggregate, spec) in specs {
        let at = |field: &str| format!("events.{aggregate}{field}");
        if !crate::sim::projection::is_table_name(aggregate) {
            return Err(ScenarioError::at(
                at(""),
                "is not a usable aggregate type: use letters, digits and _",
            ));
        }
        let Some((columns, keys)) = table_info(&spec.table) else {
            return Err(ScenarioError::at(
                at(".table"),
                format!("is \"{}\", which is not a table", spec.table),
            ));
        };
        if !owned(&spec.table) {
            return Err(ScenarioError::at(
                at(".table"),
                format!(
                    "is \"{}\", which no service owns: its owner writes the events",
                    spec.table
                ),
            ));
        }
        let [key] = keys.as_slice() else {
            return Err(ScenarioError::at(
                at(".table"),
                format!(
                    "is \"{}\", which has no single-column primary key: an event's aggregate id \
                     is its row's key",
                    spec.table
                ),
            ));
        };
        if spec.on_insert.is_none() && spec.on_update.is_none() && spec.on_delete.is_none() {
            return Err(ScenarioError::at(
                at(""),
                "names no event type: add on_insert, on_update or on_delete",
            ));
        }
        if let Some(other) = contracts.iter().find(|c| c.table == spec.table) {
            return Err(ScenarioError::at(
                at(".table"),
                format!(
                    "is \"{}\", which [events.{}] describes already: one aggregate per table",
                    spec.table, other.aggregate
                ),
            ));
        }
        for (field, column) in &spec.fields {
            if !columns.iter().any(|c| &c.name == column) {
                return Err(ScenarioError::at(
                    at(&format!(".fields.{field}")),
                    format!("is \"{column}\", which is not a column of {}", spec.table),
                ));
            }
        }
        let schema_text = spec
            .schema
            .clone()
            .unwrap_or_else(|| derived_schema(aggregate, &columns));
        let schema = crate::sim::registry::parse_schema(&schema_text)
            .map_err(|e| ScenarioError::at(at(".schema"), e.to_string()))?;
        let Schema::Record(record) = &schema else {
            return Err(ScenarioError::at(
                at(".schema"),
                "is not an Avro record: an event's payload is a record of fields",
            ));
        };
        let mut fields = Vec::new();
        for field in &record.fields {
            let column = spec
                .fields
                .get(&field.name)
                .cloned()
                .unwrap_or_else(|| field.name.clone());
            if columns.iter().any(|c| c.name == column) {
                fields.push((field.name.clone(), Some(column)));
            } else if field.default.is_some() {
                fields.push((field.name.clone(), None));
            } else {
                return Err(ScenarioError::at(
                    at(".schema"),
                    format!(
                        "has field \"{}\", which is no column of {} and has no default: map it \
                         with fields = {{ {} = \"<column>\" }}",
                        field.name, spec.table, field.name
                    ),
                ));
            }
        }
        if !fields
            .iter()
            .any(|(_, c)| c.as_deref() == Some(key.as_str()))
        {
            return Err(ScenarioError::at(
                at(".schema"),
                format!(
                    "has no field for {key}, the key of {}: an event names its aggregate by it \
                     and readers key their rows by it; add a field \"{key}\" or map one with \
                     fields = {{ <field> = \"{key}\" }}",
                    spec.table
                ),
            ));
        }
        let topic = crate::sim::outbox::topic_for(aggregate);
        contracts.push(EventContract {
            aggregate: aggregate.clone(),
            subject: value_subject(&topic),
            topic,
            table: spec.table.clone(),
            key: key.clone(),
            fields,
            on_insert: spec.on_insert.clone(),
            on_update: spec.on_update.clone(),
            on_delete: spec.on_delete.clone(),
            schema_text,
            schema,
        });
    }
    Ok(contracts)
}

/// A service's outbox: at the commit of each of its transactions, the events of the changes it
/// made to its evented tables, written into the outbox table (and deleted again) in that
/// transaction.
#[derive(Debug, Clone)]
pub struct OutboxWriter {
    /// The contracts of the tables the service owns.
    pub contracts: Vec<EventContract>,
    /// Per contract, field → the column it is taken from now (renames followed).
    columns: Vec<Vec<(String, Option<String>)>>,
    /// Per contract, the table's name now.
    tables: Vec<String>,
    next_id: u64,
    /// The log read so far for the owner's schema changes.
    seen_lsn: Lsn,
    /// Events written.
    pub written: u64,
    /// Which relay reads the outbox: the log relay's rows are deleted at once, the polling
    /// relay's stay until it marks them published.
    pub relay: crate::sim::outbox::RelayMethod,
}

impl OutboxWriter {
    /// A writer of `contracts`' events, whose ids start after `first_id - 1`.
    pub fn new(contracts: Vec<EventContract>, first_id: u64) -> Self {
        Self {
            columns: contracts.iter().map(|c| c.fields.clone()).collect(),
            tables: contracts.iter().map(|c| c.table.clone()).collect(),
            contracts,
            next_id: first_id.max(1),
            seen_lsn: 0,
            written: 0,
            relay: crate::sim::outbox::RelayMethod::Log,
        }
    }

    /// Whether a statement writing `tables` needs the outbox (and so a transaction).
    pub fn covers(&self, tables: &[String]) -> bool {
        tables.iter().any(|t| self.tables.contains(t))
    }

    /// The owner changes its mapping with its schema: a column renamed in the log since the
    /// last call is renamed in the mapping, a dropped column leaves its field without a column,
    /// a renamed table is followed.
    pub fn follow_schema(&mut self, log: &ChangeLog) {
        for change in log.since(self.seen_lsn + 1) {
            let ChangeKind::Schema(schema) = &change.kind else {
                continue;
            };
            for (c, table) in self.tables.iter_mut().enumerate() {
                if *table != change.table {
                    continue;
                }
                match schema {
                    SchemaChange::RenameColumn { from, to } => {
                        for (_, column) in &mut self.columns[c] {
                            if column.as_deref() == Some(from.as_str()) {
                                *column = Some(to.clone());
                            }
                        }
                    }
                    SchemaChange::DropColumn { column: dropped } => {
                        for (_, column) in &mut self.columns[c] {
                            if column.as_deref() == Some(dropped.as_str()) {
                                *column = None;
                            }
                        }
                    }
                    SchemaChange::RenameTable { to } => *table = to.clone(),
                    _ => {}
                }
            }
        }
        self.seen_lsn = log.next_lsn().saturating_sub(1);
    }

    /// The statements that write the events of `changes` (a transaction's, in order) into the
    /// outbox at `now`: per event an `INSERT` and the `DELETE` that removes it again (for the
    /// polling relay, only the `INSERT`, unpublished).
    pub fn statements(&mut self, changes: &[PendingChange], now: Micros) -> Vec<String> {
        let mut statements = Vec::new();
        for change in changes {
            let ChangeKind::Row {
                op,
                key,
                before,
                after,
            } = &change.kind
            else {
                continue;
            };
            let Some(c) = self.tables.iter().position(|t| *t == change.table) else {
                continue;
            };
            let contract = &self.contracts[c];
            let Some(event_type) = contract.event_type(*op) else {
                continue;
            };
            let Some(row) = after.as_ref().or(before.as_ref()) else {
                continue;
            };
            let mut payload = Map::new();
            for (field, column) in &self.columns[c] {
                let value = column
                    .as_ref()
                    .and_then(|name| change.columns.iter().position(|n| n == name))
                    .and_then(|i| row.get(i))
                    .map(crate::sim::debezium::json_value);
                // A field whose column is gone is left out: the schema's default fills it, or
                // the relay cannot encode the event.
                if let Some(value) = value {
                    payload.insert(field.clone(), value);
                }
            }
            let aggregate_id = crate::sim::debezium::json_value(&gluesql_key_value(key));
            let aggregate_id = match aggregate_id {
                Json::String(s) => s,
                other => other.to_string(),
            };
            let id = self.next_id;
            self.next_id += 1;
            self.written += 1;
            let payload = Json::Object(payload);
            match self.relay {
                crate::sim::outbox::RelayMethod::Log => {
                    statements.extend(crate::sim::outbox::write_statements(
                        &id.to_string(),
                        &contract.aggregate,
                        &aggregate_id,
                        event_type,
                        &payload,
                    ));
                }
                crate::sim::outbox::RelayMethod::Polling => {
                    statements.push(crate::sim::outbox_poll::write_statement(
                        id,
                        &contract.aggregate,
                        &aggregate_id,
                        event_type,
                        &payload,
                        now,
                    ));
                }
            }
        }
        statements
    }
}

/// A key as the value it holds.
fn gluesql_key_value(key: &gluesql::core::data::Key) -> gluesql::core::data::Value {
    gluesql::core::data::Value::from(key.clone())
}

/// Why an event could not be published or read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EventError {
    /// No contract for the topic, or no schema registered for its subject.
    #[error("no schema registered for {0}")]
    NoSchema(String),
    /// The payload or the message does not fit the schema.
    #[error(transparent)]
    Wire(#[from] avro_wire::WireError),
    /// The message has no key, no value, or no `id` header that is a number.
    #[error("not an outbox event: {0}")]
    NotAnEvent(&'static str),
}

/// The relay's producer: `event` encoded with its subject's latest schema in the wire format,
/// with its `id` and `type` headers.
///
/// # Errors
///
/// [`EventError`] when the subject has no schema or the payload does not fit it.
pub fn encode_event(
    event: &crate::sim::outbox::RoutedEvent,
    registry: &SchemaRegistry,
) -> Result<(Payload, Rc<[Header]>), EventError> {
    let subject = value_subject(&event.topic);
    let (_, registered) = registry
        .latest(&subject)
        .ok_or_else(|| EventError::NoSchema(subject.clone()))?;
    let bytes = avro_wire::encode(registered.id, &registered.schema, &event.payload)?;
    let headers: Rc<[Header]> = event
        .headers()
        .iter()
        .map(|(k, v)| (Rc::from(*k), Rc::from(*v)))
        .collect();
    Ok((Payload::Bytes(Rc::from(bytes)), headers))
}

/// A reader of one aggregate's events: decodes each with the schema version it subscribed to
/// and turns its payload into an upsert (or a delete) of its read model's row.
#[derive(Debug, Clone)]
pub struct EventReader {
    /// The topic it reads.
    pub topic: String,
    /// The owner's table the events describe.
    pub table: String,
    /// Its reader schema: the version it subscribed to.
    pub schema: Schema,
    /// Payload field → its read model's column (the columns as they were when it subscribed).
    pub fields: Vec<(String, String)>,
    /// The read model's key column.
    pub key: String,
    /// The event type that deletes the row.
    pub on_delete: Option<String>,
}

impl EventReader {
    /// The reader of `contract`'s events, with reader schema `schema`.
    pub fn new(contract: &EventContract, schema: Schema) -> Self {
        Self {
            topic: contract.topic.clone(),
            table: contract.table.clone(),
            schema,
            fields: contract
                .fields
                .iter()
                .filter_map(|(f, c)| c.clone().map(|c| (f.clone(), c)))
                .collect(),
            key: contract.key.clone(),
            on_delete: contract.on_delete.clone(),
        }
    }

    /// The read model's key (JSON text, `{"id": 7}`) and the change `message` asks for, as a
    /// change event whose position is the event's id.
    ///
    /// # Errors
    ///
    /// [`EventError`] when the message is not an outbox event or does not decode.
    pub fn read(
        &self,
        message: &Message,
        registry: &SchemaRegistry,
    ) -> Result<(String, ChangeEvent), EventError> {
        let Some(Payload::Bytes(bytes)) = &message.value else {
            return Err(EventError::NotAnEvent("no Avro value"));
        };
        let id = message
            .header("id")
            .and_then(|id| id.parse::<u64>().ok())
            .ok_or(EventError::NotAnEvent("no numeric id header"))?;
        let (_, payload) = avro_wire::decode(bytes, registry, Some(&self.schema))?;
        let Json::Object(payload) = payload else {
            return Err(EventError::NotAnEvent("the payload is not a record"));
        };
        let mut row = Map::new();
        for (field, column) in &self.fields {
            if let Some(value) = payload.get(field) {
                row.insert(column.clone(), value.clone());
            }
        }
        let key_value = row
            .get(&self.key)
            .cloned()
            .ok_or(EventError::NotAnEvent("the payload has no key field"))?;
        let key = json!({ self.key.clone(): key_value }).to_string();
        let deleted =
            self.on_delete.is_some() && message.header("type") == self.on_delete.as_deref();
        Ok((
            key,
            ChangeEvent {
                op: if deleted { "d" } else { "u" }.to_owned(),
                after: (!deleted).then_some(row),
                lsn: Some(id),
                committed_us: crate::sim::debezium::epoch_us(message.timestamp),
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::database::Database;

    fn db() -> Database {
        let mut db = Database::new("shop");
        db.execute(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT NOT NULL, \
             total_cents INTEGER NOT NULL, note TEXT, created_at TIMESTAMP NOT NULL)",
        )
        .expect("creates");
        db.execute(crate::sim::outbox::CREATE_OUTBOX)
            .expect("creates the outbox");
        db
    }

    fn info(db: &Database) -> impl Fn(&str) -> Option<(Vec<ColumnDef>, Vec<String>)> + '_ {
        move |table| {
            db.with_engine_ref(|e| {
                let columns = e.column_defs(table);
                (!columns.is_empty()).then(|| (columns, e.primary_key_columns(table)))
            })
        }
    }

    fn spec() -> EventSpec {
        EventSpec {
            table: "orders".into(),
            on_insert: Some("OrderPlaced".into()),
            on_update: Some("OrderUpdated".into()),
            on_delete: Some("OrderCancelled".into()),
            ..EventSpec::default()
        }
    }

    fn contract(spec: EventSpec, db: &Database) -> Result<EventContract, ScenarioError> {
        contracts(&[("order".to_owned(), spec)].into(), info(db), |_| true).map(|mut c| c.remove(0))
    }

    #[test]
    fn a_derived_schema_has_a_field_per_column_and_nullable_columns_default_to_null() {
        let db = db();
        let contract = contract(spec(), &db).expect("valid");
        assert_eq!(contract.topic, "outbox.event.order");
        assert_eq!(contract.subject, "outbox.event.order-value");
        assert_eq!(contract.key, "id");
        let names: Vec<&str> = contract.fields.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(names, ["id", "status", "total_cents", "note", "created_at"]);
        let schema: Json = serde_json::from_str(&contract.schema_text).expect("json");
        assert_eq!(schema["name"], "Order");
        assert_eq!(schema["fields"][3]["type"], json!(["null", "string"]));
        assert_eq!(schema["fields"][3]["default"], Json::Null);
    }

    #[test]
    fn declarations_that_cannot_work_are_errors_at_their_field() {
        let db = db();
        let error = |spec: EventSpec| contract(spec, &db).expect_err("refused");
        let e = error(EventSpec {
            table: "nope".into(),
            ..spec()
        });
        assert_eq!(e.path, "events.order.table");
        let e = error(EventSpec {
            on_insert: None,
            on_update: None,
            on_delete: None,
            ..spec()
        });
        assert!(e.message.contains("no event type"), "{e}");
        let e = error(EventSpec {
            schema: Some(
                r#"{"type":"record","name":"O","fields":[{"name":"total","type":"long"}]}"#.into(),
            ),
            ..spec()
        });
        assert_eq!(e.path, "events.order.schema");
        assert!(e.message.contains("\"total\""), "{e}");
        let e = error(EventSpec {
            fields: [("total".to_owned(), "amount".to_owned())].into(),
            ..spec()
        });
        assert_eq!(e.path, "events.order.fields.total");
        let e = error(EventSpec {
            schema: Some("\"string\"".into()),
            ..spec()
        });
        assert!(e.message.contains("not an Avro record"), "{e}");
        let e = error(EventSpec {
            schema: Some(
                r#"{"type":"record","name":"O","fields":[{"name":"status","type":"string"}]}"#
                    .into(),
            ),
            ..spec()
        });
        assert_eq!(e.path, "events.order.schema");
        assert!(e.message.contains("no field for id"), "{e}");
        let e = contracts(&[("order".to_owned(), spec())].into(), info(&db), |_| false)
            .expect_err("unowned");
        assert!(e.message.contains("no service owns"), "{e}");
    }

    /// Written into the outbox in a transaction, relayed through the router, encoded and read
    /// back: the reader's row is the source row, its position the event id.
    #[test]
    fn an_insert_travels_from_the_outbox_to_a_read_models_row() {
        let mut db = db();
        let declared = EventSpec {
            schema: Some(
                r#"{"type":"record","name":"Order","fields":[
                {"name":"id","type":"long"},{"name":"total","type":"long"},
                {"name":"status","type":"string"}]}"#
                    .into(),
            ),
            fields: [("total".to_owned(), "total_cents".to_owned())].into(),
            ..spec()
        };
        let contract = contract(declared, &db).expect("valid");
        let mut registry = SchemaRegistry::default();
        registry
            .register(&contract.subject, &contract.schema_text)
            .expect("registers");
        let mut writer = OutboxWriter::new(vec![contract.clone()], 1);
        assert!(writer.covers(&["orders".to_owned()]));
        let change = PendingChange {
            table: "orders".into(),
            columns: Rc::from(vec![
                "id".to_owned(),
                "status".to_owned(),
                "total_cents".to_owned(),
            ]),
            sql: None,
            kind: ChangeKind::Row {
                op: RowOp::Insert,
                key: gluesql::core::data::Key::I64(7),
                before: None,
                after: Some(vec![
                    gluesql::core::data::Value::I64(7),
                    gluesql::core::data::Value::Str("pending".into()),
                    gluesql::core::data::Value::I64(1_999),
                ]),
            },
        };
        let statements = writer.statements(std::slice::from_ref(&change), 0);
        assert_eq!(statements.len(), 2, "{statements:?}");
        assert!(statements[0].contains("'OrderPlaced'"), "{}", statements[0]);
        assert!(statements[1].starts_with("DELETE FROM outbox"));
        for sql in &statements {
            db.execute(sql).expect("the outbox statements run");
        }
        let payload: Json = serde_json::from_str(
            statements[0]
                .split("'{")
                .nth(1)
                .map(|rest| format!("{{{}", rest.trim_end_matches("')")))
                .as_deref()
                .unwrap_or("{}"),
        )
        .expect("a JSON payload");
        assert_eq!(
            payload,
            json!({"id": 7, "total": 1999, "status": "pending"})
        );
        let routed = crate::sim::outbox::RoutedEvent {
            topic: contract.topic.clone(),
            key: "7".into(),
            id: "1".into(),
            event_type: "OrderPlaced".into(),
            payload,
            committed_at: 5_000,
            lsn: 3,
        };
        let (value, headers) = encode_event(&routed, &registry).expect("encodes");
        let message = Message {
            offset: 0,
            key: Some(Rc::from("7")),
            value: Some(value),
            headers: Some(headers),
            timestamp: 5_000,
            visible_at: 5_000,
        };
        assert_eq!(message.header("type"), Some("OrderPlaced"));
        let reader = EventReader::new(&contract, contract.schema.clone());
        let (key, event) = reader.read(&message, &registry).expect("reads");
        assert_eq!(key, r#"{"id":7}"#);
        assert_eq!(event.op, "u");
        assert_eq!(event.lsn, Some(1));
        let after = event.after.expect("a row");
        assert_eq!(
            after["total_cents"],
            json!(1999),
            "mapped back to the column"
        );
        assert_eq!(after["status"], json!("pending"));
    }

    #[test]
    fn the_writer_follows_its_owners_rename_and_the_payload_stays_the_same() {
        let mut db = db();
        let contract = contract(spec(), &db).expect("valid");
        let mut writer = OutboxWriter::new(vec![contract], 1);
        db.execute("ALTER TABLE orders RENAME COLUMN total_cents TO amount_cents")
            .expect("renames");
        db.with_engine_ref(|e| writer.follow_schema(e.log()));
        let change = PendingChange {
            table: "orders".into(),
            columns: Rc::from(vec!["id".to_owned(), "amount_cents".to_owned()]),
            sql: None,
            kind: ChangeKind::Row {
                op: RowOp::Delete,
                key: gluesql::core::data::Key::I64(1),
                before: Some(vec![
                    gluesql::core::data::Value::I64(1),
                    gluesql::core::data::Value::I64(50),
                ]),
                after: None,
            },
        };
        let statements = writer.statements(&[change], 0);
        assert!(
            statements[0].contains("'OrderCancelled'"),
            "{}",
            statements[0]
        );
        assert!(
            statements[0].contains(r#""total_cents":50"#),
            "the event keeps its field: {}",
            statements[0]
        );
    }

    /// Every column type GlueSQL has gets an Avro type that its values, as the outbox writes
    /// them, encode with and decode back to.
    #[test]
    fn every_column_type_encodes_with_its_derived_schema() {
        let mut db = Database::new("shop");
        db.execute(
            "CREATE TABLE things (id INTEGER PRIMARY KEY, a INT8, b INT16, c INT32, d UINT8, \
             e UINT16, f UINT32, g UINT64, h INT128, i UINT128, j FLOAT32, k FLOAT, l BOOLEAN, \
             m TEXT, n DECIMAL, o DATE, p TIMESTAMP, q TIME, r UUID, s INET, t BYTEA, u INTERVAL)",
        )
        .expect("creates");
        db.execute(
            "INSERT INTO things VALUES (1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1.5, 2.5, TRUE, 'x', 1.25, \
             DATE '2024-01-02', TIMESTAMP '2024-01-02 03:04:05', TIME '12:34:56', \
             '936DA01F-9ABD-4D9D-80C7-02AF85C822A8', '127.0.0.1', X'0102', INTERVAL '1' DAY)",
        )
        .expect("inserts");
        let columns = db.with_engine_ref(|e| e.column_defs("things"));
        let schema =
            crate::sim::registry::parse_schema(&derived_schema("thing", &columns)).expect("parses");
        let (_, rows) = db.committed_rows("things").expect("rows");
        let payload: Map<String, Json> = columns
            .iter()
            .zip(&rows[0])
            .map(|(c, v)| (c.name.clone(), crate::sim::debezium::json_value(v)))
            .collect();
        let payload = Json::Object(payload);
        let mut registry = SchemaRegistry::default();
        let id = registry
            .register("things-value", &derived_schema("thing", &columns))
            .expect("registers")
            .id;
        let bytes = avro_wire::encode(id, &schema, &payload).expect("encodes");
        let (_, back) = avro_wire::decode(&bytes, &registry, None).expect("decodes");
        assert_eq!(back, payload);
    }
}
