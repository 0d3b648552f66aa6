//! A field-by-field diff of two versions of an event schema, each change annotated with what it
//! does to compatibility — the data of the registry panel's "try a change" view (the panel
//! comes with the `events` mode; `registry check` gives the verdict today): before registering a new
//! version, see that adding `coupon` without a default breaks `BACKWARD`, that removing
//! `note` breaks `FORWARD` unless it had a default, that widening `int` to `long` is backward
//! but not forward compatible.
//!
//! Each line says whether, taken alone, the change keeps *backward* compatibility (the new
//! schema reads old data) and *forward* compatibility (the old schema reads new data), by
//! Avro's resolution rules ([`crate::sim::avro_compat`]); the registry's verdict on the whole
//! schema is [`crate::sim::registry::SchemaRegistry::check`].

use crate::sim::avro_compat::{can_read, type_name};
use apache_avro::schema::{RecordField, Schema};
use std::fmt;

/// What changed at one place of the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A field only the new version has.
    Added {
        /// Its type.
        type_name: String,
        /// Whether it has a default.
        default: bool,
    },
    /// A field only the old version has.
    Removed {
        /// Its type.
        type_name: String,
        /// Whether it had a default.
        had_default: bool,
    },
    /// A field the new version names differently, with the old name as an alias.
    Renamed {
        /// The old name.
        from: String,
        /// Whether the old field had a default.
        had_default: bool,
    },
    /// The field's type changed.
    TypeChanged {
        /// The old type.
        from: String,
        /// The new type.
        to: String,
    },
    /// A default was given or taken away (it matters only where the field is missing).
    DefaultChanged {
        /// Whether the new version has one.
        now: bool,
    },
    /// Symbols only the new version of an enum has.
    SymbolsAdded {
        /// The symbols.
        symbols: Vec<String>,
        /// Whether the old enum has a default symbol to read them as.
        old_default: bool,
    },
    /// Symbols only the old version of an enum has.
    SymbolsRemoved {
        /// The symbols.
        symbols: Vec<String>,
        /// Whether the new enum has a default symbol to read them as.
        new_default: bool,
    },
}

/// One line of the diff: where, what, and its effect on each direction of compatibility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    /// `OrderPlaced.items[].price`.
    pub path: String,
    /// What changed.
    pub change: Change,
    /// Whether the new schema still reads data written with the old one.
    pub backward: bool,
    /// Whether the old schema still reads data written with the new one.
    pub forward: bool,
}

impl DiffLine {
    /// The effect in words: which modes this change alone breaks.
    pub fn effect(&self) -> &'static str {
        match (self.backward, self.forward) {
            (true, true) => "compatible both ways (FULL)",
            (true, false) => {
                "breaks FORWARD: consumers still on the old schema cannot read new events"
            }
            (false, true) => {
                "breaks BACKWARD: the new schema cannot read the events already written"
            }
            (false, false) => "breaks BACKWARD and FORWARD",
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Added { type_name, default } => write!(
                f,
                "added, `{type_name}`, {}",
                if *default {
                    "with a default"
                } else {
                    "without a default"
                }
            ),
            Self::Removed {
                type_name,
                had_default,
            } => write!(
                f,
                "removed (was `{type_name}`, {})",
                if *had_default {
                    "with a default"
                } else {
                    "without a default"
                }
            ),
            Self::Renamed { from, .. } => write!(f, "renamed from `{from}` (kept as an alias)"),
            Self::TypeChanged { from, to } => write!(f, "type `{from}` → `{to}`"),
            Self::DefaultChanged { now: true } => f.write_str("default added"),
            Self::DefaultChanged { now: false } => f.write_str("default removed"),
            Self::SymbolsAdded { symbols, .. } => {
                write!(f, "symbols added: {}", symbols.join(", "))
            }
            Self::SymbolsRemoved { symbols, .. } => {
                write!(f, "symbols removed: {}", symbols.join(", "))
            }
        }
    }
}

/// The changes from `old` to `new`, in the new schema's field order (removed fields last).
pub fn diff(old: &Schema, new: &Schema) -> Vec<DiffLine> {
    let mut lines = Vec::new();
    walk(&type_name(new), old, new, &mut lines);
    lines
}

fn same(a: &Schema, b: &Schema) -> bool {
    serde_json::to_value(a).ok() == serde_json::to_value(b).ok()
}

fn line(path: &str, change: Change, backward: bool, forward: bool) -> DiffLine {
    DiffLine {
        path: path.to_owned(),
        change,
        backward,
        forward,
    }
}

fn walk(path: &str, old: &Schema, new: &Schema, lines: &mut Vec<DiffLine>) {
    if same(old, new) {
        return;
    }
    let same_name = match (old.name(), new.name()) {
        (Some(a), Some(b)) => a.name() == b.name(),
        _ => true,
    };
    match (old, new) {
        (Schema::Record(o), Schema::Record(n)) if same_name => {
            fields(path, &o.fields, &n.fields, lines)
        }
        (Schema::Array(o), Schema::Array(n)) => {
            walk(&format!("{path}[]"), &o.items, &n.items, lines)
        }
        (Schema::Map(o), Schema::Map(n)) => walk(&format!("{path}{{}}"), &o.types, &n.types, lines),
        (Schema::Enum(o), Schema::Enum(n)) if same_name => {
            let added: Vec<String> = n
                .symbols
                .iter()
                .filter(|s| !o.symbols.contains(s))
                .cloned()
                .collect();
            let removed: Vec<String> = o
                .symbols
                .iter()
                .filter(|s| !n.symbols.contains(s))
                .cloned()
                .collect();
            if !added.is_empty() {
                let old_default = o.default.is_some();
                lines.push(line(
                    path,
                    Change::SymbolsAdded {
                        symbols: added,
                        old_default,
                    },
                    true,
                    old_default,
                ));
            }
            if !removed.is_empty() {
                let new_default = n.default.is_some();
                lines.push(line(
                    path,
                    Change::SymbolsRemoved {
                        symbols: removed,
                        new_default,
                    },
                    new_default,
                    true,
                ));
            }
        }
        _ => lines.push(line(
            path,
            Change::TypeChanged {
                from: type_name(old),
                to: type_name(new),
            },
            can_read(old, new).is_ok(),
            can_read(new, old).is_ok(),
        )),
    }
}

fn fields(path: &str, old: &[RecordField], new: &[RecordField], lines: &mut Vec<DiffLine>) {
    let mut matched_old: Vec<&str> = Vec::new();
    for field in new {
        let here = format!("{path}.{}", field.name);
        let by_name = old.iter().find(|o| o.name == field.name);
        let by_alias = || {
            old.iter()
                .find(|o| field.aliases.iter().any(|alias| alias == &o.name))
        };
        match by_name.or_else(by_alias) {
            Some(previous) => {
                matched_old.push(&previous.name);
                if previous.name != field.name {
                    let had_default = previous.default.is_some();
                    lines.push(line(
                        &here,
                        Change::Renamed {
                            from: previous.name.clone(),
                            had_default,
                        },
                        true,
                        had_default,
                    ));
                }
                walk(&here, &previous.schema, &field.schema, lines);
                if previous.default.is_some() != field.default.is_some() {
                    lines.push(line(
                        &here,
                        Change::DefaultChanged {
                            now: field.default.is_some(),
                        },
                        true,
                        true,
                    ));
                }
            }
            None => {
                let default = field.default.is_some();
                lines.push(line(
                    &here,
                    Change::Added {
                        type_name: type_name(&field.schema),
                        default,
                    },
                    default,
                    true,
                ));
            }
        }
    }
    for previous in old
        .iter()
        .filter(|o| !matched_old.contains(&o.name.as_str()))
    {
        let had_default = previous.default.is_some();
        lines.push(line(
            &format!("{path}.{}", previous.name),
            Change::Removed {
                type_name: type_name(&previous.schema),
                had_default,
            },
            true,
            had_default,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::avro_compat;

    fn order(fields: &str) -> Schema {
        Schema::parse_str(&format!(
            r#"{{"type": "record", "name": "OrderPlaced", "fields": [{fields}]}}"#
        ))
        .expect("valid")
    }

    const OLD: &str = r#"{"name": "id", "type": "int"},
        {"name": "total", "type": "long"},
        {"name": "note", "type": "string", "default": ""},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID", "LOST"]}}"#;
    const NEW: &str = r#"{"name": "id", "type": "long"},
        {"name": "amount", "type": "long", "aliases": ["total"]},
        {"name": "coupon", "type": "string"},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID", "SHIPPED"]}}"#;

    #[test]
    fn every_kind_of_change_is_listed_with_its_effect() {
        let lines = diff(&order(OLD), &order(NEW));
        let seen: Vec<(String, String, bool, bool)> = lines
            .iter()
            .map(|l| (l.path.clone(), l.change.to_string(), l.backward, l.forward))
            .collect();
        let expect = |path: &str, change: &str, backward: bool, forward: bool| {
            assert!(
                seen.contains(&(path.to_owned(), change.to_owned(), backward, forward)),
                "{path} {change} ({backward}, {forward}) not in {seen:#?}"
            );
        };
        expect("OrderPlaced.id", "type `int` → `long`", true, false);
        expect(
            "OrderPlaced.amount",
            "renamed from `total` (kept as an alias)",
            true,
            false,
        );
        expect(
            "OrderPlaced.coupon",
            "added, `string`, without a default",
            false,
            true,
        );
        expect("OrderPlaced.status", "symbols added: SHIPPED", true, false);
        expect("OrderPlaced.status", "symbols removed: LOST", false, true);
        expect(
            "OrderPlaced.note",
            "removed (was `string`, with a default)",
            true,
            true,
        );
        assert_eq!(lines.len(), 6, "{seen:#?}");
    }

    /// The lines agree with the whole-schema verdict: the change is backward compatible exactly
    /// when every line is, and so forward.
    #[test]
    fn the_lines_agree_with_the_verdict_on_the_whole_schema() {
        let cases = [
            (OLD, NEW),
            (
                OLD,
                r#"{"name": "id", "type": "int"}, {"name": "total", "type": "long"}, {"name": "note", "type": "string", "default": ""}, {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID", "LOST"]}}, {"name": "gift", "type": "boolean", "default": false}"#,
            ),
            (
                r#"{"name": "id", "type": "long"}, {"name": "x", "type": "int", "default": 0}"#,
                r#"{"name": "id", "type": "long"}"#,
            ),
            (
                r#"{"name": "id", "type": "long"}, {"name": "x", "type": "int"}"#,
                r#"{"name": "id", "type": "long"}"#,
            ),
        ];
        for (old, new) in cases {
            let (old, new) = (order(old), order(new));
            let lines = diff(&old, &new);
            assert_eq!(
                lines.iter().all(|l| l.backward),
                avro_compat::can_read(&old, &new).is_ok(),
                "backward: {lines:#?}"
            );
            assert_eq!(
                lines.iter().all(|l| l.forward),
                avro_compat::can_read(&new, &old).is_ok(),
                "forward: {lines:#?}"
            );
        }
    }

    #[test]
    fn an_unchanged_schema_has_no_lines_and_effects_read_well() {
        assert!(diff(&order(OLD), &order(OLD)).is_empty());
        let line = &diff(&order(OLD), &order(NEW))[0];
        assert!(
            line.effect().starts_with("breaks FORWARD"),
            "{}",
            line.effect()
        );
    }
}
