//! Event messages in Confluent's wire format: a magic byte `0`, the writer schema's registry id
//! as four big-endian bytes, then the value in Avro's binary encoding — what Kafka clients with
//! Confluent's Avro serializer put in a record's value. A reader looks the id up in the
//! registry ([`crate::sim::registry`]) and decodes with that writer schema, resolved to its own
//! reader schema if it has one (Avro's schema resolution: defaults filled in, unknown fields
//! skipped, int promoted to long, …).
//!
//! Values go in and come out as JSON (`serde_json::Value`), as the message viewer shows them:
//! records as objects, enums as their symbol, a union as its branch's value, bytes as an array
//! of numbers.

use crate::sim::registry::SchemaRegistry;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value as AvroValue;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::Schema;
use serde_json::Value as Json;
use thiserror::Error;

/// The first byte of every message in the wire format.
pub const MAGIC_BYTE: u8 = 0;

/// The header's length: the magic byte and the four-byte id.
pub const HEADER_LEN: usize = 5;

/// What encoding or decoding a message can run into.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    /// The value does not fit the schema.
    #[error("the value does not match the schema: {0}")]
    Encode(String),
    /// Fewer than five bytes, or a first byte other than 0.
    #[error("not in the wire format: {0}")]
    Header(&'static str),
    /// The header's id is not in the registry.
    #[error("schema id {0} is not in the registry")]
    UnknownId(u32),
    /// The body is not a value of the writer's schema (or does not resolve to the reader's).
    #[error("the message does not decode: {0}")]
    Decode(String),
}

/// Encodes a JSON value as a message: the header with `id`, then the Avro binary of `value`
/// under `schema` (`schema` being the one `id` names).
pub fn encode(id: u32, schema: &Schema, value: &Json) -> Result<Vec<u8>, WireError> {
    let encode_error = |e: apache_avro::Error| WireError::Encode(e.to_string());
    let avro = AvroValue::try_from(value.clone())
        .and_then(|v| v.resolve(schema))
        .map_err(encode_error)?;
    let body = GenericDatumWriter::builder(schema)
        .build()
        .and_then(|writer| writer.write_value_to_vec(avro))
        .map_err(encode_error)?;
    let mut message = Vec::with_capacity(HEADER_LEN + body.len());
    message.push(MAGIC_BYTE);
    message.extend_from_slice(&id.to_be_bytes());
    message.extend_from_slice(&body);
    Ok(message)
}

/// The schema id a message's header names.
pub fn schema_id(message: &[u8]) -> Result<u32, WireError> {
    match message {
        [MAGIC_BYTE, a, b, c, d, ..] => Ok(u32::from_be_bytes([*a, *b, *c, *d])),
        [_, _, _, _, _, ..] => Err(WireError::Header("the magic byte is not 0")),
        _ => Err(WireError::Header("shorter than its five-byte header")),
    }
}

/// Decodes a message with the writer schema its id names in `registry`, read as `reader` if
/// given (else as the writer's schema): the id and the value as JSON.
pub fn decode(
    message: &[u8],
    registry: &SchemaRegistry,
    reader: Option<&Schema>,
) -> Result<(u32, Json), WireError> {
    let id = schema_id(message)?;
    let writer = registry.schema_by_id(id).ok_or(WireError::UnknownId(id))?;
    let mut body = &message[HEADER_LEN..];
    let value = GenericDatumReader::builder(&writer.schema)
        .maybe_reader_schema(reader)
        .build()
        .and_then(|datum| datum.read_value(&mut body))
        .map_err(|e| WireError::Decode(e.to_string()))?;
    if !body.is_empty() {
        return Err(WireError::Decode(format!(
            "{} bytes left over after the value",
            body.len()
        )));
    }
    let json = Json::try_from(value).map_err(|e| WireError::Decode(e.to_string()))?;
    Ok((id, json))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PLACED: &str = r#"{"type": "record", "name": "OrderPlaced", "fields": [
        {"name": "order_id", "type": "long"},
        {"name": "customer_id", "type": "int"},
        {"name": "total_cents", "type": "long"},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["PENDING", "PAID"]}},
        {"name": "note", "type": ["null", "string"], "default": null}]}"#;

    fn registry() -> (SchemaRegistry, u32) {
        let mut registry = SchemaRegistry::default();
        let id = registry.register("orders-value", PLACED).expect("valid").id;
        (registry, id)
    }

    #[test]
    fn a_message_decodes_to_the_value_it_was_made_from() {
        let (registry, id) = registry();
        let schema = &registry.schema_by_id(id).expect("registered").schema;
        let value = json!({"order_id": 42, "customer_id": 7, "total_cents": 12_345,
            "status": "PAID", "note": "gift"});
        let message = encode(id, schema, &value).expect("encodes");
        assert_eq!(message[0], MAGIC_BYTE);
        assert_eq!(schema_id(&message), Ok(id));
        assert!(
            message.len() < value.to_string().len() / 2,
            "{} bytes of Avro for {} of JSON",
            message.len(),
            value.to_string().len()
        );
        assert_eq!(decode(&message, &registry, None), Ok((id, value)));
    }

    #[test]
    fn a_newer_reader_fills_in_its_defaults() {
        let (registry, id) = registry();
        let schema = &registry.schema_by_id(id).expect("registered").schema;
        let value = json!({"order_id": 1, "customer_id": 2, "total_cents": 3,
            "status": "PENDING", "note": null});
        let message = encode(id, schema, &value).expect("encodes");
        let reader = Schema::parse_str(
            r#"{"type": "record", "name": "OrderPlaced", "fields": [
            {"name": "order_id", "type": "long"},
            {"name": "currency", "type": "string", "default": "EUR"}]}"#,
        )
        .expect("valid");
        let (_, read) = decode(&message, &registry, Some(&reader)).expect("resolves");
        assert_eq!(read, json!({"order_id": 1, "currency": "EUR"}));
    }

    #[test]
    fn bad_messages_and_values_are_errors() {
        let (registry, id) = registry();
        let schema = &registry.schema_by_id(id).expect("registered").schema;
        assert!(matches!(
            encode(id, schema, &json!({"order_id": "x"})),
            Err(WireError::Encode(_))
        ));
        assert!(matches!(schema_id(&[0, 0]), Err(WireError::Header(_))));
        assert!(matches!(
            schema_id(&[1, 0, 0, 0, 1, 2]),
            Err(WireError::Header(_))
        ));
        assert_eq!(
            decode(&[0, 0, 0, 0, 9, 2], &registry, None),
            Err(WireError::UnknownId(9))
        );
        assert!(matches!(
            decode(&[0, 0, 0, 0, id as u8], &registry, None),
            Err(WireError::Decode(_))
        ));
    }
}
