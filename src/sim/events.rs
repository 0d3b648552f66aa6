//! Domain events: what the `events` mode publishes instead of raw table changes.
//!
//! A scenario declares, per aggregate (`[events.order]`), the owner's table the events describe,
//! the event type of an inserted, updated and deleted row (`OrderPlaced`, `OrderUpdated`, …), the
//! payload's Avro schema (by default a record with one field per column) and which column each
//! field is taken from. That declaration is the *contract*: the owner writes each event into its
//! outbox in the same transaction as the change ([`crate::sim::outbox_writer`]); the relay — Debezium's outbox
//! event router ([`crate::sim::outbox`]) — publishes it to `outbox.event.<aggregate>`, encoded
//! in Avro with the subject's latest schema; a reader decodes it with the version it subscribed to
//! and applies the payload to its read model by key ([`crate::sim::event_reader`]).
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

use crate::sim::change_log::RowOp;
use crate::sim::registry::value_subject;
use crate::sim::scenario::ScenarioError;
use apache_avro::Schema;
use gluesql::core::ast::{ColumnDef, DataType};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;

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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sim::avro_wire;
    use crate::sim::database::Database;
    use crate::sim::registry::SchemaRegistry;
    use serde_json::Map;

    pub(crate) fn db() -> Database {
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

    pub(crate) fn info(
        db: &Database,
    ) -> impl Fn(&str) -> Option<(Vec<ColumnDef>, Vec<String>)> + '_ {
        move |table| {
            db.with_engine_ref(|e| {
                let columns = e.column_defs(table);
                (!columns.is_empty()).then(|| (columns, e.primary_key_columns(table)))
            })
        }
    }

    pub(crate) fn spec() -> EventSpec {
        EventSpec {
            table: "orders".into(),
            on_insert: Some("OrderPlaced".into()),
            on_update: Some("OrderUpdated".into()),
            on_delete: Some("OrderCancelled".into()),
            ..EventSpec::default()
        }
    }

    pub(crate) fn contract(spec: EventSpec, db: &Database) -> Result<EventContract, ScenarioError> {
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
