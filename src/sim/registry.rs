//! A schema registry, as Confluent's Schema Registry keeps event schemas beside Kafka: subjects
//! (one per topic's values, `<topic>-value`, its default `TopicNameStrategy`), each a list of
//! versions; every distinct schema gets a global id, which each message carries in its first
//! five bytes ([`crate::sim::avro_wire`]); and a compatibility mode per subject (default
//! `BACKWARD`, the registry's default) that decides which new versions are accepted.
//!
//! The modes are Confluent's: `BACKWARD` — the new schema can read data written with the latest
//! version (consumers upgrade first); `FORWARD` — the latest version can read data written with
//! the new one (producers upgrade first); `FULL` — both; their `_TRANSITIVE` forms check against
//! every earlier version, not only the latest; `NONE` checks nothing. Whether one schema reads
//! another is Avro's resolution rules ([`crate::sim::avro_compat`]).
//!
//! Consumers say which subject they read and with which version; a refused change names the
//! rule, the field and the consumers it would break. Registering a schema a subject already
//! has returns its existing version, and a schema that another subject registered keeps its id,
//! as the registry does. Not modelled: deleting versions, references between schemas, other
//! formats than Avro, and the REST API itself.

use crate::sim::avro_compat::{self, Incompatibility};
use apache_avro::Schema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use thiserror::Error;

/// A compatibility mode: which earlier versions a new one is checked against, and in which
/// direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CompatibilityMode {
    /// The new schema reads data written with the latest version.
    #[default]
    Backward,
    /// The new schema reads data written with every earlier version.
    BackwardTransitive,
    /// The latest version reads data written with the new schema.
    Forward,
    /// Every earlier version reads data written with the new schema.
    ForwardTransitive,
    /// Backward and forward, against the latest version.
    Full,
    /// Backward and forward, against every earlier version.
    FullTransitive,
    /// Anything goes.
    None,
}

impl CompatibilityMode {
    /// Every mode, in the registry's documentation order.
    pub const ALL: [Self; 7] = [
        Self::Backward,
        Self::BackwardTransitive,
        Self::Forward,
        Self::ForwardTransitive,
        Self::Full,
        Self::FullTransitive,
        Self::None,
    ];

    /// The registry's name for it: `BACKWARD`, `FULL_TRANSITIVE`, …
    pub fn name(self) -> &'static str {
        match self {
            Self::Backward => "BACKWARD",
            Self::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Self::Forward => "FORWARD",
            Self::ForwardTransitive => "FORWARD_TRANSITIVE",
            Self::Full => "FULL",
            Self::FullTransitive => "FULL_TRANSITIVE",
            Self::None => "NONE",
        }
    }

    /// The mode a name stands for, in any case, with `-` or `_`.
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.trim().to_ascii_uppercase().replace('-', "_");
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// What it promises, in a sentence for a tooltip.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::Backward => {
                "A consumer on the new schema can read what was written with the latest version: \
                 upgrade consumers first."
            }
            Self::BackwardTransitive => {
                "A consumer on the new schema can read what was written with any earlier version: \
                 replay a topic from its beginning."
            }
            Self::Forward => {
                "A consumer still on the latest version can read what the new schema writes: \
                 upgrade producers first."
            }
            Self::ForwardTransitive => {
                "A consumer on any earlier version can read what the new schema writes."
            }
            Self::Full => "Backward and forward, against the latest version.",
            Self::FullTransitive => "Backward and forward, against every earlier version.",
            Self::None => "No check: any change is accepted, and consumers may break.",
        }
    }

    /// Whether the new schema must read old data.
    fn backward(self) -> bool {
        matches!(
            self,
            Self::Backward | Self::BackwardTransitive | Self::Full | Self::FullTransitive
        )
    }

    /// Whether old versions must read new data.
    fn forward(self) -> bool {
        matches!(
            self,
            Self::Forward | Self::ForwardTransitive | Self::Full | Self::FullTransitive
        )
    }

    /// Whether every earlier version counts, not only the latest.
    fn transitive(self) -> bool {
        matches!(
            self,
            Self::BackwardTransitive | Self::ForwardTransitive | Self::FullTransitive
        )
    }
}

impl fmt::Display for CompatibilityMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which way a check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum Direction {
    /// The new schema cannot read data written with an earlier version.
    NewCannotReadOld,
    /// An earlier version cannot read data written with the new schema.
    OldCannotReadNew,
}

/// Why a schema change was refused: the rule, the version it failed against, where, and who
/// would break.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Refusal {
    /// The subject.
    pub subject: String,
    /// The mode in force.
    pub mode: CompatibilityMode,
    /// The earlier version it failed against.
    pub version: u32,
    /// Which way.
    pub direction: Direction,
    /// Where and why.
    pub reason: Incompatibility,
    /// The consumers it would break: for [`Direction::OldCannotReadNew`], those whose version
    /// cannot read the new data; for [`Direction::NewCannotReadOld`], every consumer of the
    /// subject, as each would break on the messages already written once it upgrades.
    pub consumers: Vec<String>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule = match self.direction {
            Direction::NewCannotReadOld => format!(
                "the new schema must read data written with version {}",
                self.version
            ),
            Direction::OldCannotReadNew => format!(
                "version {} must read data written with the new schema",
                self.version
            ),
        };
        write!(
            f,
            "incompatible with {} of subject `{}` ({rule}): {}",
            self.mode, self.subject, self.reason
        )?;
        if !self.consumers.is_empty() {
            let who = self.consumers.join(", ");
            match self.direction {
                Direction::OldCannotReadNew => write!(f, ". It would break: {who}")?,
                Direction::NewCannotReadOld => write!(
                    f,
                    ". It would break, once upgraded, on the messages already written: {who}"
                )?,
            }
        }
        Ok(())
    }
}

/// What the registry refuses.
#[derive(Debug, Clone, PartialEq, Eq, Error, Deserialize, Serialize)]
pub enum RegistryError {
    /// The text is not an Avro schema.
    #[error("not a valid Avro schema: {0}")]
    InvalidSchema(String),
    /// The change breaks the subject's compatibility mode.
    #[error("{0}")]
    Incompatible(Box<Refusal>),
    /// No such subject.
    #[error("no subject `{0}` in the registry")]
    UnknownSubject(String),
    /// No such version of a subject.
    #[error("subject `{subject}` has no version {version}")]
    UnknownVersion {
        /// The subject.
        subject: String,
        /// The version asked for.
        version: u32,
    },
}

/// A registered schema: its global id, its parsed form and the text it was registered with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisteredSchema {
    /// The global id messages carry.
    pub id: u32,
    /// The schema (carried as its JSON text where a registry is sent between threads).
    #[serde(with = "schema_text")]
    pub schema: Schema,
    /// Its normalized JSON, defaults and aliases included (what identical schemas share;
    /// Avro's Parsing Canonical Form would drop defaults, which matter to compatibility).
    pub canonical: String,
}

/// A schema as its JSON text, for serde: Avro's `Schema` writes itself but does not read.
mod schema_text {
    use apache_avro::Schema;
    use serde::{de::Error as _, Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(schema: &Schema, to: S) -> Result<S::Ok, S::Error> {
        serde_json::to_string(schema)
            .map_err(serde::ser::Error::custom)?
            .serialize(to)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(from: D) -> Result<Schema, D::Error> {
        let text = String::deserialize(from)?;
        Schema::parse_str(&text).map_err(D::Error::custom)
    }
}

/// One subject: its versions (ids, oldest first), its own mode if set, and its consumers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Subject {
    /// Version `n` is `versions[n - 1]`, a schema id.
    pub versions: Vec<u32>,
    /// The subject's own mode; the registry's default otherwise.
    pub mode: Option<CompatibilityMode>,
    /// Who reads it, with the version each reads with.
    pub consumers: BTreeMap<String, u32>,
}

/// A consumer that a registered change leaves behind (see [`SchemaRegistry::stranded`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stranded {
    /// The consumer (its group).
    pub consumer: String,
    /// The version it reads with.
    pub version: u32,
    /// Why that version cannot read the new data.
    pub reason: Incompatibility,
}

impl fmt::Display for Stranded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} reads with version {}, which cannot read data written with it ({}): it will \
             stop at the first such event until it is upgraded",
            self.consumer, self.version, self.reason
        )
    }
}

/// A subject's registration: which version and id a schema got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registration {
    /// Its version in the subject.
    pub version: u32,
    /// Its global id.
    pub id: u32,
}

/// The registry: subjects and the schemas they hold.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SchemaRegistry {
    subjects: BTreeMap<String, Subject>,
    schemas: Vec<RegisteredSchema>,
    default_mode: CompatibilityMode,
}

/// Parses the text of an `.avsc` file.
pub fn parse_schema(text: &str) -> Result<Schema, RegistryError> {
    Schema::parse_str(text).map_err(|e| RegistryError::InvalidSchema(e.to_string()))
}

/// The subject of a topic's values under the default naming strategy.
pub fn value_subject(topic: &str) -> String {
    format!("{topic}-value")
}

impl SchemaRegistry {
    /// An empty registry whose subjects default to `mode`.
    pub fn new(mode: CompatibilityMode) -> Self {
        Self {
            default_mode: mode,
            ..Self::default()
        }
    }

    /// The subjects, by name.
    pub fn subjects(&self) -> &BTreeMap<String, Subject> {
        &self.subjects
    }

    /// The mode of a subject that has none of its own.
    pub fn default_mode(&self) -> CompatibilityMode {
        self.default_mode
    }

    /// The mode a subject's changes are checked with.
    pub fn mode(&self, subject: &str) -> CompatibilityMode {
        self.subjects
            .get(subject)
            .and_then(|s| s.mode)
            .unwrap_or(self.default_mode)
    }

    /// Sets a subject's own mode (creating the subject if need be).
    pub fn set_mode(&mut self, subject: &str, mode: CompatibilityMode) {
        self.subjects.entry(subject.to_owned()).or_default().mode = Some(mode);
    }

    /// The schema with a global id: what a message's five-byte header resolves to.
    pub fn schema_by_id(&self, id: u32) -> Option<&RegisteredSchema> {
        id.checked_sub(1).and_then(|i| self.schemas.get(i as usize))
    }

    /// A subject's version (1-based).
    pub fn version(&self, subject: &str, version: u32) -> Result<&RegisteredSchema, RegistryError> {
        let entry = self
            .subjects
            .get(subject)
            .ok_or_else(|| RegistryError::UnknownSubject(subject.to_owned()))?;
        version
            .checked_sub(1)
            .and_then(|i| entry.versions.get(i as usize))
            .and_then(|id| self.schema_by_id(*id))
            .ok_or_else(|| RegistryError::UnknownVersion {
                subject: subject.to_owned(),
                version,
            })
    }

    /// A subject's latest version and its schema.
    pub fn latest(&self, subject: &str) -> Option<(u32, &RegisteredSchema)> {
        let entry = self.subjects.get(subject)?;
        let id = *entry.versions.last()?;
        Some((entry.versions.len() as u32, self.schema_by_id(id)?))
    }

    /// Records that `consumer` reads `subject` with `version`.
    pub fn subscribe(
        &mut self,
        subject: &str,
        consumer: &str,
        version: u32,
    ) -> Result<(), RegistryError> {
        self.version(subject, version)?;
        if let Some(entry) = self.subjects.get_mut(subject) {
            entry.consumers.insert(consumer.to_owned(), version);
        }
        Ok(())
    }

    /// Checks a new schema against the subject's mode without registering it.
    pub fn check(&self, subject: &str, schema: &Schema) -> Result<(), RegistryError> {
        let Some(entry) = self.subjects.get(subject) else {
            return Ok(());
        };
        let mode = self.mode(subject);
        let count = entry.versions.len();
        let against: Vec<usize> = if mode.transitive() {
            (0..count).rev().collect()
        } else {
            count.checked_sub(1).into_iter().collect()
        };
        for index in against {
            let Some(old) = self.schema_by_id(entry.versions[index]) else {
                continue;
            };
            let version = index as u32 + 1;
            let failed = if mode.backward() {
                avro_compat::can_read(&old.schema, schema)
                    .err()
                    .map(|reason| (Direction::NewCannotReadOld, reason))
            } else {
                None
            };
            let failed = failed.or_else(|| {
                if mode.forward() {
                    avro_compat::can_read(schema, &old.schema)
                        .err()
                        .map(|reason| (Direction::OldCannotReadNew, reason))
                } else {
                    None
                }
            });
            if let Some((direction, reason)) = failed {
                let consumers = self.broken_consumers(subject, schema, direction);
                return Err(RegistryError::Incompatible(Box::new(Refusal {
                    subject: subject.to_owned(),
                    mode,
                    version,
                    direction,
                    reason,
                    consumers,
                })));
            }
        }
        Ok(())
    }

    /// Who a refused change would break (see [`Refusal::consumers`]).
    fn broken_consumers(&self, subject: &str, new: &Schema, direction: Direction) -> Vec<String> {
        let Some(entry) = self.subjects.get(subject) else {
            return Vec::new();
        };
        entry
            .consumers
            .iter()
            .filter(|(_, version)| match direction {
                Direction::NewCannotReadOld => true,
                Direction::OldCannotReadNew => self
                    .version(subject, **version)
                    .is_ok_and(|old| avro_compat::can_read(new, &old.schema).is_err()),
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The consumers an accepted change leaves behind: those whose version cannot read data
    /// written with `schema` (under `BACKWARD`, removing a field without a default is
    /// accepted, yet a consumer still on the old version stops at the first event written with
    /// the new one — Confluent's advice: upgrade consumers first).
    pub fn stranded(&self, subject: &str, schema: &Schema) -> Vec<Stranded> {
        let Some(entry) = self.subjects.get(subject) else {
            return Vec::new();
        };
        entry
            .consumers
            .iter()
            .filter_map(|(consumer, version)| {
                let old = self.version(subject, *version).ok()?;
                let reason = avro_compat::can_read(schema, &old.schema).err()?;
                Some(Stranded {
                    consumer: consumer.clone(),
                    version: *version,
                    reason,
                })
            })
            .collect()
    }

    /// Registers a schema under a subject: its existing version if the subject already has it,
    /// else a new version once the mode accepts it.
    pub fn register(&mut self, subject: &str, text: &str) -> Result<Registration, RegistryError> {
        let schema = parse_schema(text)?;
        let canonical = serde_json::to_string(&schema)
            .map_err(|e| RegistryError::InvalidSchema(e.to_string()))?;
        if let Some(entry) = self.subjects.get(subject) {
            if let Some(index) = entry.versions.iter().position(|id| {
                self.schema_by_id(*id)
                    .is_some_and(|s| s.canonical == canonical)
            }) {
                return Ok(Registration {
                    version: index as u32 + 1,
                    id: entry.versions[index],
                });
            }
        }
        self.check(subject, &schema)?;
        let id = match self.schemas.iter().find(|s| s.canonical == canonical) {
            Some(existing) => existing.id,
            None => {
                let id = self.schemas.len() as u32 + 1;
                self.schemas.push(RegisteredSchema {
                    id,
                    schema,
                    canonical,
                });
                id
            }
        };
        let entry = self.subjects.entry(subject.to_owned()).or_default();
        entry.versions.push(id);
        Ok(Registration {
            version: entry.versions.len() as u32,
            id,
        })
    }
}

/// One version of a subject as the registry panel shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionView {
    /// Its version in the subject (from 1).
    pub version: u32,
    /// Its global id (what messages carry).
    pub id: u32,
    /// The schema as indented JSON.
    pub text: String,
}

/// A subject as the registry panel shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectView {
    /// `<topic>-value`.
    pub name: String,
    /// The mode its changes are checked with.
    pub mode: CompatibilityMode,
    /// Its versions, oldest first.
    pub versions: Vec<VersionView>,
    /// Who reads it, with the version each reads with.
    pub consumers: Vec<(String, u32)>,
}

/// A schema change tried in the panel before it is registered: the field-by-field diff from
/// the latest version, and the registry's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// The changes from the latest version, each with its effect.
    pub diff: Vec<crate::sim::schema_diff::DiffLine>,
    /// `Ok` when the registry would accept it; else why not (the rule, the field, the
    /// consumers), or why the text is not a schema.
    pub verdict: Result<(), String>,
    /// The consumers it would leave behind if accepted (their version cannot read it).
    pub stranded: Vec<Stranded>,
    /// Why the producer could not write with it, if it could not (see
    /// [`crate::sim::world::RegistrySnapshot::preview`]; the registry alone does not know).
    pub producer: Option<String>,
}

impl SchemaRegistry {
    /// The subjects as the registry panel shows them.
    pub fn views(&self) -> Vec<SubjectView> {
        self.subjects
            .iter()
            .map(|(name, subject)| SubjectView {
                name: name.clone(),
                mode: self.mode(name),
                versions: subject
                    .versions
                    .iter()
                    .enumerate()
                    .filter_map(|(i, id)| {
                        let schema = self.schema_by_id(*id)?;
                        let text = serde_json::from_str::<serde_json::Value>(&schema.canonical)
                            .ok()
                            .and_then(|v| serde_json::to_string_pretty(&v).ok())
                            .unwrap_or_else(|| schema.canonical.clone());
                        Some(VersionView {
                            version: i as u32 + 1,
                            id: *id,
                            text,
                        })
                    })
                    .collect(),
                consumers: subject
                    .consumers
                    .iter()
                    .map(|(c, v)| (c.clone(), *v))
                    .collect(),
            })
            .collect()
    }

    /// What registering `text` as the next version of `subject` would do, without doing it.
    pub fn preview(&self, subject: &str, text: &str) -> Preview {
        let schema = match parse_schema(text) {
            Ok(schema) => schema,
            Err(e) => {
                return Preview {
                    diff: Vec::new(),
                    verdict: Err(e.to_string()),
                    stranded: Vec::new(),
                    producer: None,
                }
            }
        };
        let diff = self
            .latest(subject)
            .map(|(_, latest)| crate::sim::schema_diff::diff(&latest.schema, &schema))
            .unwrap_or_default();
        let verdict = self.check(subject, &schema).map_err(|e| e.to_string());
        let stranded = match verdict {
            Ok(()) => self.stranded(subject, &schema),
            Err(_) => Vec::new(),
        };
        Preview {
            diff,
            verdict,
            stranded,
            producer: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = r#"{"type": "record", "name": "OrderPlaced", "fields": [
        {"name": "id", "type": "long"}]}"#;
    const V2: &str = r#"{"type": "record", "name": "OrderPlaced", "fields": [
        {"name": "id", "type": "long"},
        {"name": "total_cents", "type": "long", "default": 0}]}"#;
    const NO_DEFAULT: &str = r#"{"type": "record", "name": "OrderPlaced", "fields": [
        {"name": "id", "type": "long"},
        {"name": "coupon", "type": "string"}]}"#;

    #[test]
    fn versions_count_up_and_ids_are_shared_across_subjects() {
        let mut registry = SchemaRegistry::default();
        let first = registry.register("orders-value", V1).expect("first");
        assert_eq!(first, Registration { version: 1, id: 1 });
        let second = registry.register("orders-value", V2).expect("compatible");
        assert_eq!(second, Registration { version: 2, id: 2 });
        let again = registry.register("orders-value", V1).expect("known");
        assert_eq!(again, first, "a schema the subject has keeps its version");
        let elsewhere = registry.register("audit-value", V2).expect("new subject");
        assert_eq!(elsewhere, Registration { version: 1, id: 2 });
        assert_eq!(
            registry.latest("orders-value").map(|(v, s)| (v, s.id)),
            Some((2, 2))
        );
        assert!(registry.schema_by_id(3).is_none());
    }

    #[test]
    fn a_refusal_names_the_mode_the_field_and_the_consumers() {
        let mut registry = SchemaRegistry::default();
        registry.register("orders-value", V1).expect("first");
        registry
            .subscribe("orders-value", "billing", 1)
            .expect("subscribes");
        let Err(RegistryError::Incompatible(refusal)) =
            registry.register("orders-value", NO_DEFAULT)
        else {
            panic!("a field without a default breaks BACKWARD");
        };
        assert_eq!(refusal.mode, CompatibilityMode::Backward);
        assert_eq!(refusal.direction, Direction::NewCannotReadOld);
        assert_eq!(refusal.reason.field.as_deref(), Some("coupon"));
        assert_eq!(refusal.consumers, ["billing"]);
        let text = refusal.to_string();
        assert!(text.contains("BACKWARD") && text.contains("coupon") && text.contains("billing"));
        assert_eq!(registry.latest("orders-value").map(|(v, _)| v), Some(1));
    }

    #[test]
    fn forward_names_only_the_consumers_whose_version_cannot_read_the_new_data() {
        let mut registry = SchemaRegistry::default();
        registry.set_mode("orders-value", CompatibilityMode::None);
        registry.register("orders-value", V1).expect("v1");
        registry
            .register("orders-value", NO_DEFAULT)
            .expect("v2, no check");
        registry
            .subscribe("orders-value", "billing", 1)
            .expect("v1 reader");
        registry
            .subscribe("orders-value", "shipping", 2)
            .expect("v2 reader");
        registry.set_mode("orders-value", CompatibilityMode::ForwardTransitive);
        // Drops `coupon`: version 2's readers need it, version 1's do not.
        let Err(RegistryError::Incompatible(refusal)) = registry.register("orders-value", V2)
        else {
            panic!("version 2 cannot read data without a coupon");
        };
        assert_eq!(refusal.direction, Direction::OldCannotReadNew);
        assert_eq!(refusal.version, 2);
        assert_eq!(refusal.consumers, ["shipping"]);
    }

    #[test]
    fn a_changed_default_is_a_new_version() {
        let mut registry = SchemaRegistry::new(CompatibilityMode::None);
        registry.register("orders-value", V2).expect("v1");
        let other_default = V2.replace(r#""default": 0"#, r#""default": 1"#);
        let second = registry
            .register("orders-value", &other_default)
            .expect("v2");
        assert_eq!(
            second.version, 2,
            "defaults are part of a schema's identity"
        );
    }

    #[test]
    fn modes_parse_in_any_spelling() {
        assert_eq!(
            CompatibilityMode::parse("full-transitive"),
            Some(CompatibilityMode::FullTransitive)
        );
        assert_eq!(
            CompatibilityMode::parse("none"),
            Some(CompatibilityMode::None)
        );
        assert_eq!(CompatibilityMode::parse("sideways"), None);
        for mode in CompatibilityMode::ALL {
            assert_eq!(CompatibilityMode::parse(mode.name()), Some(mode));
        }
    }

    #[test]
    fn an_invalid_schema_says_why() {
        let error = SchemaRegistry::default()
            .register("x-value", r#"{"type": "record", "name": "X"}"#)
            .expect_err("a record needs fields");
        assert!(matches!(error, RegistryError::InvalidSchema(_)), "{error}");
    }
}
