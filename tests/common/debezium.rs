//! The JSON Schemas of Debezium's change-event key and envelope (written from Debezium's
//! documentation, `tests/schemas/`), compiled once to check messages against.
#![allow(dead_code)]

use dataflow_lab::sim::debezium::Record;
use serde_json::Value as Json;

const ENVELOPE: &str = include_str!("../schemas/debezium-envelope.schema.json");
const KEY: &str = include_str!("../schemas/debezium-key.schema.json");

/// The two JSON Schemas, compiled.
pub struct Validator {
    schemas: boon::Schemas,
    envelope: boon::SchemaIndex,
    key: boon::SchemaIndex,
}

impl Validator {
    /// Compiles the two schemas.
    pub fn new() -> Self {
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        let mut compile = |name: &str, text: &str| {
            let url = format!("file:///{name}");
            let json: Json = serde_json::from_str(text).expect("the schema is JSON");
            compiler.add_resource(&url, json).expect("adds");
            compiler.compile(&url, &mut schemas).expect("compiles")
        };
        let envelope = compile("envelope.json", ENVELOPE);
        let key = compile("key.json", KEY);
        Self {
            schemas,
            envelope,
            key,
        }
    }

    /// Panics unless `record`'s key and value are a Debezium key and change event.
    pub fn check(&self, record: &Record) {
        self.check_message(record.key.as_deref(), record.value.as_deref());
    }

    /// Panics unless `key` and `value` (`None`: a tombstone) are a Debezium key and change
    /// event.
    pub fn check_message(&self, key: Option<&str>, value: Option<&str>) {
        let key: Json = key.map_or(Json::Null, |k| {
            serde_json::from_str(k).expect("the key is JSON")
        });
        if let Err(e) = self.schemas.validate(&key, self.key) {
            panic!("key {key} is not a Debezium key: {e}");
        }
        if let Some(value) = value {
            let value: Json = serde_json::from_str(value).expect("the value is JSON");
            if let Err(e) = self.schemas.validate(&value, self.envelope) {
                panic!("{value:#} is not a Debezium change event: {e:#}");
            }
        }
    }
}
