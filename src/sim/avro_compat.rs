//! Whether a reader's Avro schema can read data written with a writer's schema — Avro's schema
//! resolution rules (the specification's "Schema Resolution") — and, when it cannot, *where*
//! and *why*, in words a student can act on.
//!
//! The verdict is `apache-avro`'s `SchemaCompatibility::can_read`, with one correction that
//! Confluent's schema registry and Avro's specification make: the crate answers `Partial` when
//! only some of the writer's data resolves (an enum that lost a symbol, a union that lost a
//! branch, a type that only some union branches can be read as), and a registry calls those
//! incompatible — a message written with the missing symbol or branch cannot be read. Only
//! `Full` is compatible here.
//!
//! The explanation walks both schemas itself: records field by field (a reader field matches
//! the writer field of its name, or of one of its aliases), enums symbol by symbol, unions branch
//! by branch, arrays and maps through their items, and names the first place that does not
//! resolve with a path such as `OrderPlaced.items[].price`.
//!
//! Where it differs from the specification: as in `apache-avro`, named types (records, enums,
//! fixed) must keep their unqualified name — the specification also lets a reader's *type*
//! aliases match a renamed writer type; field aliases are honoured. A named type defined in
//! one schema and only referred to by name in the other (because the field that defined it
//! moved or went away) may be refused by the crate's checker where Avro resolves it; event
//! schemas that define each named type where it is first used, in every version, avoid it.

use apache_avro::schema::{RecordField, Schema};
use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a reader cannot read a writer's data: where, and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Incompatibility {
    /// Where, as a path from the top type: `OrderPlaced.items[].price`; the top type's name
    /// alone when the problem is the type itself.
    pub path: String,
    /// The field the problem is in (the last field name of the path), if any.
    pub field: Option<String>,
    /// The rule, in a sentence about the reader and the writer.
    pub rule: String,
}

impl fmt::Display for Incompatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.rule)
    }
}

/// Whether data written with `writer` can always be read with `reader`: `Ok` only when every
/// value the writer can produce resolves; otherwise where and why it does not.
pub fn can_read(writer: &Schema, reader: &Schema) -> Result<(), Incompatibility> {
    if fully(writer, reader) {
        return Ok(());
    }
    let top = type_name(reader);
    let mut walk = Walk {
        path: top,
        field: None,
    };
    Err(walk.explain(writer, reader).unwrap_or_else(|| {
        // The walk found nothing more precise: say what the crate said.
        let rule = match SchemaCompatibility::can_read(writer, reader) {
            Err(error) => error.to_string(),
            Ok(_) => "only some of the writer's values can be read".to_owned(),
        };
        walk.at(rule)
    }))
}

/// Whether `apache-avro` calls the pair fully compatible.
fn fully(writer: &Schema, reader: &Schema) -> bool {
    matches!(
        SchemaCompatibility::can_read(writer, reader),
        Ok(Compatibility::Full)
    )
}

/// The walk's position.
struct Walk {
    path: String,
    field: Option<String>,
}

impl Walk {
    fn at(&self, rule: String) -> Incompatibility {
        Incompatibility {
            path: self.path.clone(),
            field: self.field.clone(),
            rule,
        }
    }

    /// Runs `f` one step deeper, restoring the position after.
    fn deeper<T>(
        &mut self,
        suffix: &str,
        field: Option<&str>,
        f: impl FnOnce(&mut Self) -> T,
    ) -> T {
        let (path, old_field) = (self.path.clone(), self.field.clone());
        self.path.push_str(suffix);
        if let Some(field) = field {
            self.field = Some(field.to_owned());
        }
        let result = f(self);
        self.path = path;
        self.field = old_field;
        result
    }

    /// The first place where `reader` cannot read `writer`, if the walk can name one.
    fn explain(&mut self, writer: &Schema, reader: &Schema) -> Option<Incompatibility> {
        if fully(writer, reader) {
            return None;
        }
        if let (Some(w), Some(r)) = (writer.name(), reader.name()) {
            if w.name() != r.name() {
                return Some(self.at(format!(
                    "the type was renamed from `{}` to `{}`: a reader resolves named types by \
                     name",
                    w.name(),
                    r.name()
                )));
            }
        }
        match (writer, reader) {
            (Schema::Record(w), Schema::Record(r)) => self.record(&w.fields, &r.fields),
            (Schema::Enum(w), Schema::Enum(r)) => {
                let missing: Vec<&str> = w
                    .symbols
                    .iter()
                    .filter(|s| !r.symbols.contains(s))
                    .map(String::as_str)
                    .collect();
                Some(self.at(format!(
                    "the writer's symbol{} {} {} not in the reader's enum, which has no default \
                     symbol to read {} as",
                    plural(missing.len()),
                    quoted(&missing),
                    if missing.len() == 1 { "is" } else { "are" },
                    if missing.len() == 1 { "it" } else { "them" },
                )))
            }
            (Schema::Array(w), Schema::Array(r)) => {
                self.deeper("[]", None, |walk| walk.explain(&w.items, &r.items))
            }
            (Schema::Map(w), Schema::Map(r)) => {
                self.deeper("{}", None, |walk| walk.explain(&w.types, &r.types))
            }
            (Schema::Union(w), Schema::Union(r)) => {
                let lost: Vec<String> = w
                    .variants()
                    .iter()
                    .filter(|wv| !r.variants().iter().any(|rv| fully(wv, rv)))
                    .map(type_name)
                    .collect();
                let lost: Vec<&str> = lost.iter().map(String::as_str).collect();
                Some(self.at(format!(
                    "the writer's union branch{} {} {} no match in the reader's union {}",
                    if lost.len() == 1 { "" } else { "es" },
                    quoted(&lost),
                    if lost.len() == 1 { "has" } else { "have" },
                    type_name(reader)
                )))
            }
            (Schema::Union(w), _) => {
                let lost: Vec<String> = w
                    .variants()
                    .iter()
                    .filter(|wv| !fully(wv, reader))
                    .map(type_name)
                    .collect();
                let lost: Vec<&str> = lost.iter().map(String::as_str).collect();
                Some(self.at(format!(
                    "the writer writes a union {}, and its branch{} {} cannot be read as `{}`",
                    type_name(writer),
                    if lost.len() == 1 { "" } else { "es" },
                    quoted(&lost),
                    type_name(reader)
                )))
            }
            (_, Schema::Union(_)) => Some(self.at(format!(
                "no branch of the reader's union {} can read the writer's `{}`",
                type_name(reader),
                type_name(writer)
            ))),
            _ => Some(self.at(format!(
                "the type changed from `{}` to `{}`; Avro reads int as long, float or double, \
                 long as float or double, float as double, and string and bytes as each other, \
                 nothing else",
                type_name(writer),
                type_name(reader)
            ))),
        }
    }

    fn record(
        &mut self,
        writer: &[RecordField],
        reader: &[RecordField],
    ) -> Option<Incompatibility> {
        for field in reader {
            let matched = std::iter::once(&field.name)
                .chain(field.aliases.iter())
                .find_map(|name| writer.iter().find(|w| &w.name == name));
            let suffix = format!(".{}", field.name);
            let found = self.deeper(&suffix, Some(&field.name), |walk| match matched {
                Some(w) => walk.explain(&w.schema, &field.schema),
                None if field.default.is_none() => Some(walk.at(format!(
                    "the reader's field `{}` has no default, and the writer has no field of that \
                     name{}",
                    field.name,
                    if field.aliases.is_empty() {
                        " (nor an alias of it)".to_owned()
                    } else {
                        format!(" nor of its aliases {}", quoted_strings(&field.aliases))
                    }
                ))),
                None => None,
            });
            if found.is_some() {
                return found;
            }
        }
        None
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn quoted(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn quoted_strings(items: &[String]) -> String {
    quoted(&items.iter().map(String::as_str).collect::<Vec<_>>())
}

/// A short name for a schema, as a student would write it: `int`, `OrderPlaced`,
/// `array<string>`, `map<long>`, `[null, string]`.
pub fn type_name(schema: &Schema) -> String {
    match schema {
        Schema::Null => "null".to_owned(),
        Schema::Boolean => "boolean".to_owned(),
        Schema::Int => "int".to_owned(),
        Schema::Long => "long".to_owned(),
        Schema::Float => "float".to_owned(),
        Schema::Double => "double".to_owned(),
        Schema::Bytes => "bytes".to_owned(),
        Schema::String => "string".to_owned(),
        Schema::Array(a) => format!("array<{}>", type_name(&a.items)),
        Schema::Map(m) => format!("map<{}>", type_name(&m.types)),
        Schema::Union(u) => format!(
            "[{}]",
            u.variants()
                .iter()
                .map(type_name)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Schema::Ref { name } => name.name().to_owned(),
        other => match other.name() {
            Some(name) => name.name().to_owned(),
            None => format!("{:?}", apache_avro::schema::SchemaKind::from(other)).to_lowercase(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(json: &str) -> Schema {
        Schema::parse_str(json).expect("a valid schema")
    }

    fn order(fields: &str) -> Schema {
        schema(&format!(
            r#"{{"type": "record", "name": "OrderPlaced", "fields": [{fields}]}}"#
        ))
    }

    #[test]
    fn a_field_added_without_a_default_is_named() {
        let old = order(r#"{"name": "id", "type": "long"}"#);
        let new = order(r#"{"name": "id", "type": "long"}, {"name": "coupon", "type": "string"}"#);
        let error = can_read(&old, &new).expect_err("the new reader needs a coupon");
        assert_eq!(error.path, "OrderPlaced.coupon");
        assert_eq!(error.field.as_deref(), Some("coupon"));
        assert!(error.rule.contains("no default"), "{error}");
        assert_eq!(
            can_read(&new, &old),
            Ok(()),
            "an old reader ignores the new field"
        );
    }

    #[test]
    fn a_nested_type_change_names_its_path() {
        let item = |t: &str| {
            order(&format!(
                r#"{{"name": "items", "type": {{"type": "array", "items": {{"type": "record", "name": "Item", "fields": [{{"name": "price", "type": "{t}"}}]}}}}}}"#
            ))
        };
        let error = can_read(&item("long"), &item("int")).expect_err("long does not narrow");
        assert_eq!(error.path, "OrderPlaced.items[].price");
        assert!(error.rule.contains("from `long` to `int`"), "{error}");
        assert_eq!(can_read(&item("int"), &item("long")), Ok(()));
    }

    #[test]
    fn a_partially_readable_enum_is_incompatible_and_names_the_lost_symbol() {
        let status = |symbols: &str| {
            schema(&format!(
                r#"{{"type": "enum", "name": "Status", "symbols": [{symbols}]}}"#
            ))
        };
        let writer = status(r#""PENDING", "PAID", "SHIPPED""#);
        let reader = status(r#""PENDING", "PAID""#);
        assert_eq!(
            SchemaCompatibility::can_read(&writer, &reader),
            Ok(Compatibility::Partial),
            "the crate calls this partial"
        );
        let error = can_read(&writer, &reader).expect_err("SHIPPED cannot be read");
        assert!(error.rule.contains("`SHIPPED`"), "{error}");
    }

    #[test]
    fn type_names_are_short() {
        assert_eq!(
            type_name(&schema(r#"["null", "string"]"#)),
            "[null, string]"
        );
        assert_eq!(
            type_name(&schema(
                r#"{"type": "map", "values": {"type": "array", "items": "int"}}"#
            )),
            "map<array<int>>"
        );
    }
}
