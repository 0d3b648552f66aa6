//! The transactional outbox and the relay that publishes it: Debezium's outbox event router
//! (`io.debezium.transforms.outbox.EventRouter`), a single message transform applied to the
//! change events of an `outbox` table.
//!
//! A service writes its domain event (`OrderPlaced`, `OrderPaid`, …) as a row of the outbox
//! table in the same transaction as the change it describes, so the event exists exactly when
//! the change committed. The table has the router's default columns:
//!
//! | column | what it holds | becomes |
//! |---|---|---|
//! | `id` | the event's unique id | the message header `id` (consumers deduplicate on it) |
//! | `aggregatetype` | `order`, `customer`, … | the topic: `outbox.event.<aggregatetype>` (`route.by.field`, `route.topic.replacement`) |
//! | `aggregateid` | the aggregate's id | the message key, so one aggregate's events keep their order in one partition |
//! | `type` | `OrderPlaced`, … | the message header `type` (as `table.fields.additional.placement=type:header:type`) |
//! | `payload` | the event as JSON | the message value |
//!
//! Only inserts become messages. The pattern deletes the row in the same transaction or right
//! after it: the router drops delete events and their tombstones, so the table stays empty while
//! the log keeps the event. An update of an outbox row is not an event (the router's
//! `table.op.invalid.behavior=warn`: skipped, counted here).
//!
//! Where it differs: the payload is a `TEXT` column holding JSON (PostgreSQL would use `jsonb`),
//! expanded into a structure as with `table.expand.json.payload=true`; the value is then encoded
//! with the event type's Avro schema by the producer ([`crate::sim::avro_wire`]). A null or
//! absent payload becomes an empty object, where the router would send a null value; any
//! operation but `d` and `u` (`c`, `r` from a snapshot) is treated as an insert.

use crate::sim::change_log::Lsn;
use crate::sim::clock::Micros;
use crate::sim::debezium::Record;
use serde_json::{Map, Value as Json};
use thiserror::Error;

/// The outbox table's name.
pub const OUTBOX_TABLE: &str = "outbox";

/// The `CREATE TABLE` of the outbox, with the router's default columns.
pub const CREATE_OUTBOX: &str =
    "CREATE TABLE outbox (id TEXT PRIMARY KEY, aggregatetype TEXT NOT NULL, \
     aggregateid TEXT NOT NULL, type TEXT NOT NULL, payload TEXT)";

/// How the `events` mode's relay learns of the outbox's events (`[cdc] relay`).
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
#[serde(rename_all = "snake_case")]
pub enum RelayMethod {
    /// Debezium's outbox event router on the outbox's change events, read from the log: each
    /// outbox row is deleted in the transaction that wrote it.
    #[default]
    Log,
    /// The naive relay ([`crate::sim::outbox_poll`]): every interval it queries the outbox for
    /// the rows not yet published, publishes them and marks them published.
    Polling,
}

impl RelayMethod {
    /// Both, in the order a comparison lists them.
    pub const ALL: [Self; 2] = [Self::Log, Self::Polling];

    /// Its name in a scenario file and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Log => "log",
            Self::Polling => "polling",
        }
    }

    /// The method a name stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The `CREATE TABLE` of its outbox.
    pub fn create_outbox(self) -> &'static str {
        match self {
            Self::Log => CREATE_OUTBOX,
            Self::Polling => crate::sim::outbox_poll::CREATE_POLLED_OUTBOX,
        }
    }
}

/// The topic an aggregate type's events go to (`route.topic.replacement`'s default
/// `outbox.event.${routedByValue}`).
pub fn topic_for(aggregate_type: &str) -> String {
    format!("outbox.event.{aggregate_type}")
}

/// A domain event as the router publishes it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutedEvent {
    /// `outbox.event.<aggregatetype>`.
    pub topic: String,
    /// The aggregate's id: the message key.
    pub key: String,
    /// The event's id (header `id`).
    pub id: String,
    /// The event's type (header `type`).
    pub event_type: String,
    /// The payload, expanded from its JSON text.
    pub payload: Json,
    /// When the outbox row's transaction committed.
    pub committed_at: Micros,
    /// The outbox row's position in the change log.
    pub lsn: Lsn,
}

impl RoutedEvent {
    /// The message headers, as Kafka carries them.
    pub fn headers(&self) -> [(&'static str, &str); 2] {
        [("id", &self.id), ("type", &self.event_type)]
    }
}

/// What the router does with one change event of the outbox table.
#[derive(Debug, Clone, PartialEq)]
pub enum Routed {
    /// An insert: the event to publish.
    Event(Box<RoutedEvent>),
    /// A delete or its tombstone: nothing to publish (the pattern's cleanup).
    Dropped,
    /// An update of an outbox row: not an event; skipped with a warning.
    SkippedUpdate,
}

/// An outbox change event the router cannot turn into a message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OutboxError {
    /// The change event is not Debezium's envelope.
    #[error("the outbox change event is not a Debezium envelope: {0}")]
    Envelope(String),
    /// A column the router needs is missing or null.
    #[error("the outbox row has no `{0}`")]
    MissingColumn(&'static str),
    /// The payload column is not JSON.
    #[error("the outbox row's payload is not JSON: {0}")]
    Payload(String),
}

/// Applies the router to one change event of the outbox table.
pub fn route(record: &Record) -> Result<Routed, OutboxError> {
    let Some(value) = &record.value else {
        return Ok(Routed::Dropped);
    };
    let envelope: Json =
        serde_json::from_str(value).map_err(|e| OutboxError::Envelope(e.to_string()))?;
    let op = envelope
        .get("op")
        .and_then(Json::as_str)
        .ok_or_else(|| OutboxError::Envelope("no `op`".to_owned()))?;
    match op {
        "d" => return Ok(Routed::Dropped),
        "u" => return Ok(Routed::SkippedUpdate),
        _ => {}
    }
    let after = envelope
        .get("after")
        .and_then(Json::as_object)
        .ok_or_else(|| OutboxError::Envelope(format!("an `{op}` event without `after`")))?;
    let text = |column: &'static str| -> Result<String, OutboxError> {
        match after.get(column) {
            Some(Json::String(s)) => Ok(s.clone()),
            Some(Json::Number(n)) => Ok(n.to_string()),
            _ => Err(OutboxError::MissingColumn(column)),
        }
    };
    let payload = match after.get("payload") {
        Some(Json::String(s)) => {
            serde_json::from_str(s).map_err(|e| OutboxError::Payload(e.to_string()))?
        }
        Some(Json::Null) | None => Json::Object(Map::new()),
        Some(other) => other.clone(),
    };
    Ok(Routed::Event(Box::new(RoutedEvent {
        topic: topic_for(&text("aggregatetype")?),
        key: text("aggregateid")?,
        id: text("id")?,
        event_type: text("type")?,
        payload,
        committed_at: record.committed_at,
        lsn: record.lsn,
    })))
}

/// The `INSERT` that writes an event into the outbox, and the `DELETE` that removes it again in
/// the same transaction (the pattern's recommendation: the log keeps the event, the table stays
/// empty).
pub fn write_statements(
    id: &str,
    aggregate_type: &str,
    aggregate_id: &str,
    event_type: &str,
    payload: &Json,
) -> [String; 2] {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
    [
        format!(
            "INSERT INTO {OUTBOX_TABLE} (id, aggregatetype, aggregateid, type, payload) VALUES ({}, {}, {}, {}, {})",
            quote(id),
            quote(aggregate_type),
            quote(aggregate_id),
            quote(event_type),
            quote(&payload.to_string())
        ),
        format!("DELETE FROM {OUTBOX_TABLE} WHERE id = {}", quote(id)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(value: Option<Json>) -> Record {
        Record {
            topic: "shop.public.outbox".to_owned(),
            key: Some(r#"{"id":"e-1"}"#.to_owned()),
            value: value.map(|v| v.to_string()),
            committed_at: 1_000,
            lsn: 7,
        }
    }

    fn row(payload: &str) -> Json {
        json!({"id": "e-1", "aggregatetype": "order", "aggregateid": "42",
            "type": "OrderPlaced", "payload": payload})
    }

    /// Debezium's documented example: an insert into the outbox with `aggregatetype` `Order`
    /// and `aggregateid` `1` becomes a message on `outbox.event.Order` with key `1`, header
    /// `id`, and the payload as its value.
    #[test]
    fn an_insert_becomes_an_event_on_the_aggregate_types_topic() {
        let routed = route(&record(Some(json!({"before": null,
            "after": row(r#"{"order_id": 42, "total_cents": 1999}"#), "op": "c"}))))
        .expect("routes");
        let Routed::Event(event) = routed else {
            panic!("an insert is an event: {routed:?}");
        };
        assert_eq!(event.topic, "outbox.event.order");
        assert_eq!(event.key, "42");
        assert_eq!(event.headers(), [("id", "e-1"), ("type", "OrderPlaced")]);
        assert_eq!(event.payload, json!({"order_id": 42, "total_cents": 1999}));
        assert_eq!((event.committed_at, event.lsn), (1_000, 7));
    }

    #[test]
    fn deletes_tombstones_and_updates_publish_nothing() {
        let delete = record(Some(
            json!({"before": {"id": "e-1"}, "after": null, "op": "d"}),
        ));
        assert_eq!(route(&delete), Ok(Routed::Dropped));
        assert_eq!(route(&record(None)), Ok(Routed::Dropped));
        let update = record(Some(json!({"before": null, "after": row("{}"), "op": "u"})));
        assert_eq!(route(&update), Ok(Routed::SkippedUpdate));
    }

    #[test]
    fn a_broken_row_is_an_error_that_names_the_column() {
        let mut broken = row("{}");
        broken["aggregateid"] = Json::Null;
        let error = route(&record(Some(json!({"after": broken, "op": "c"})))).expect_err("no key");
        assert_eq!(error, OutboxError::MissingColumn("aggregateid"));
        let bad_payload = record(Some(json!({"after": row("{not json"), "op": "c"})));
        assert!(matches!(route(&bad_payload), Err(OutboxError::Payload(_))));
    }

    #[test]
    fn the_written_statements_quote_their_values() {
        let [insert, delete] = write_statements(
            "e-'1",
            "order",
            "42",
            "OrderPlaced",
            &json!({"note": "it's"}),
        );
        assert!(
            insert.contains("'e-''1'") && insert.contains("it''s"),
            "{insert}"
        );
        assert_eq!(delete, "DELETE FROM outbox WHERE id = 'e-''1'");
    }
}
