//! The two ends of an event topic: the relay's producer ([`encode_event`]: a routed outbox event
//! in Avro, Confluent's wire format, with the subject's latest schema and the `id` and `type`
//! headers) and a reader ([`EventReader`]: decodes with the version it subscribed to, by Avro's
//! schema resolution, and turns the payload into an upsert or a delete of its read model's row,
//! positioned by the event's id so that a duplicate is skipped).

use crate::sim::avro_wire;
use crate::sim::events::EventContract;
use crate::sim::registry::{value_subject, SchemaRegistry};
use crate::sim::sink::ChangeEvent;
use crate::sim::topic::{Header, Message, Payload};
use apache_avro::Schema;
use serde_json::{json, Map, Value as Json};
use std::rc::Rc;
use thiserror::Error;

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
    use crate::sim::change_log::{ChangeKind, PendingChange, RowOp};
    use crate::sim::events::tests::{contract, db, spec};
    use crate::sim::events::EventSpec;
    use crate::sim::outbox_writer::OutboxWriter;

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
}
