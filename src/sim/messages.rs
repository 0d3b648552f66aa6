//! The message viewer's data: a topic's messages by partition and offset, newest first, each
//! with its key, its operation and its row's fields before and after — what changed marked —
//! and the whole value as formatted JSON. An outbox event's value is Avro in Confluent's wire
//! format: the viewer decodes it with the registry's schema and shows its id, its headers and its
//! size in bytes next to the size of the same value as JSON.

use crate::sim::clock::Micros;
use crate::sim::topic::Topic;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// One field of a change event's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// The column.
    pub name: String,
    /// Its value before (JSON text), if the event has a `before` with it.
    pub before: Option<String>,
    /// Its value after, if the event has an `after` with it.
    pub after: Option<String>,
    /// Whether it differs between before and after (both known).
    pub changed: bool,
}

/// One message as the viewer shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageView {
    /// Its partition.
    pub partition: u32,
    /// Its offset.
    pub offset: u64,
    /// Its key (JSON text; empty if none).
    pub key: String,
    /// `c`, `u`, `d` or `r`; `None` for a tombstone.
    pub op: Option<String>,
    /// The source LSN.
    pub lsn: Option<u64>,
    /// When it was produced.
    pub timestamp: Micros,
    /// The row's fields, in column order.
    pub fields: Vec<FieldChange>,
    /// The value as indented JSON (`null` for a tombstone).
    pub pretty: String,
    /// Its headers (an outbox event's `id` and `type`).
    pub headers: Vec<(String, String)>,
    /// For an Avro value: the writer schema's registry id.
    pub schema_id: Option<u32>,
    /// The value's size in bytes as the broker stores it.
    pub bytes: usize,
    /// The same value's size as compact JSON text.
    pub json_bytes: usize,
}

/// A message's value as JSON, with the schema id of an Avro value; an Avro value that does not
/// decode shows as a string saying why.
pub fn decoded(
    message: &crate::sim::topic::Message,
    registry: Option<&crate::sim::registry::SchemaRegistry>,
) -> (Json, Option<u32>) {
    use crate::sim::topic::Payload;
    match &message.value {
        None => (Json::Null, None),
        Some(Payload::Json(text)) => (serde_json::from_str(text).unwrap_or(Json::Null), None),
        Some(Payload::Bytes(bytes)) => {
            let id = crate::sim::avro_wire::schema_id(bytes).ok();
            let value = registry
                .ok_or_else(|| "no schema registry".to_owned())
                .and_then(|r| {
                    crate::sim::avro_wire::decode(bytes, r, None).map_err(|e| e.to_string())
                });
            match value {
                Ok((_, value)) => (value, id),
                Err(why) => (Json::String(format!("(undecodable: {why})")), id),
            }
        }
    }
}

/// The newest `limit` messages of `topic` whose key contains `key_filter` (all if empty),
/// newest first (by timestamp, then partition and offset); Avro values are decoded with
/// `registry`'s schemas.
pub fn messages(
    topic: &Topic,
    key_filter: &str,
    limit: usize,
    registry: Option<&crate::sim::registry::SchemaRegistry>,
) -> Vec<MessageView> {
    let filter = key_filter.trim();
    let mut all: Vec<(Micros, u32, &crate::sim::topic::Message)> = Vec::new();
    for (number, partition) in topic.partitions().iter().enumerate() {
        // Each partition's newest first; `limit` of each is enough for the merge.
        let newest = partition
            .messages()
            .rev()
            .filter(|m| filter.is_empty() || m.key.as_deref().is_some_and(|k| k.contains(filter)))
            .take(limit);
        all.extend(newest.map(|m| (m.timestamp, number as u32, m)));
    }
    all.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(b.1.cmp(&a.1))
            .then(b.2.offset.cmp(&a.2.offset))
    });
    all.into_iter()
        .take(limit)
        .map(|(timestamp, partition, message)| {
            let (value, schema_id) = decoded(message, registry);
            let headers = message
                .headers
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let (fields, op) = if schema_id.is_some() {
                (payload_fields(&value), None)
            } else {
                (fields(&value), value["op"].as_str().map(str::to_owned))
            };
            MessageView {
                partition,
                offset: message.offset,
                key: message.key.as_deref().unwrap_or_default().to_owned(),
                op,
                lsn: value["source"]["lsn"].as_u64(),
                timestamp,
                fields,
                bytes: message
                    .value
                    .as_ref()
                    .map_or(0, crate::sim::topic::Payload::len),
                json_bytes: if value.is_null() {
                    0
                } else {
                    value.to_string().len()
                },
                pretty: serde_json::to_string_pretty(&value).unwrap_or_default(),
                headers,
                schema_id,
            }
        })
        .collect()
}

/// A domain event's fields: its payload's, all "after".
fn payload_fields(value: &Json) -> Vec<FieldChange> {
    value
        .as_object()
        .map(|payload| {
            payload
                .iter()
                .map(|(name, v)| FieldChange {
                    name: name.clone(),
                    before: None,
                    after: Some(v.to_string()),
                    changed: false,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The row's fields from `before` and `after`, in `after`'s order (then any only in `before`).
fn fields(value: &Json) -> Vec<FieldChange> {
    let before = value["before"].as_object();
    let after = value["after"].as_object();
    let mut names: Vec<&String> = after.map(|a| a.keys().collect()).unwrap_or_default();
    if let Some(before) = before {
        for name in before.keys() {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
        .into_iter()
        .map(|name| {
            let old = before.and_then(|b| b.get(name)).map(Json::to_string);
            let new = after.and_then(|a| a.get(name)).map(Json::to_string);
            FieldChange {
                name: name.clone(),
                changed: matches!((&old, &new), (Some(o), Some(n)) if o != n),
                before: old,
                after: new,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::topic::TopicConfig;
    use std::rc::Rc;

    fn topic() -> Topic {
        let mut topic = Topic::new(
            "shop.public.orders",
            TopicConfig {
                partitions: 2,
                broker_latency: 0,
                ..TopicConfig::default()
            },
        );
        let value = |op: &str, before: &str, after: &str| {
            Some(Rc::from(format!(
                r#"{{"before":{before},"after":{after},"source":{{"lsn":7}},"op":"{op}"}}"#
            )))
        };
        topic.produce(
            Some(Rc::from(r#"{"id":1}"#)),
            value("c", "null", r#"{"id":1,"status":"new"}"#),
            10,
        );
        topic.produce(
            Some(Rc::from(r#"{"id":1}"#)),
            value(
                "u",
                r#"{"id":1,"status":"new"}"#,
                r#"{"id":1,"status":"paid"}"#,
            ),
            20,
        );
        topic.produce(Some(Rc::from(r#"{"id":22}"#)), None, 30);
        topic
    }

    #[test]
    fn newest_first_with_what_changed() {
        let list = messages(&topic(), "", 10, None);
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].op, None, "the tombstone is newest");
        assert_eq!(list[1].op.as_deref(), Some("u"));
        let status = list[1]
            .fields
            .iter()
            .find(|f| f.name == "status")
            .expect("status");
        assert!(status.changed);
        assert_eq!(status.before.as_deref(), Some("\"new\""));
        assert_eq!(status.after.as_deref(), Some("\"paid\""));
        let id = list[1].fields.iter().find(|f| f.name == "id").expect("id");
        assert!(!id.changed);
        assert_eq!(list[1].lsn, Some(7));
        assert!(list[1].pretty.contains("\n"), "indented");
    }

    #[test]
    fn a_key_filter_and_a_limit() {
        let list = messages(&topic(), "22", 10, None);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].key, r#"{"id":22}"#);
        assert_eq!(messages(&topic(), "", 2, None).len(), 2);
    }
}
