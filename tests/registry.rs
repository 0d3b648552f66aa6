//! The schema registry against Avro's schema resolution rules: a table of reader/writer pairs
//! whose expected answers come from the specification ("Schema Resolution": promotions, record
//! fields matched by name or alias, defaults, enum symbols, unions, arrays, maps, fixed), every
//! compatibility mode over a history of three versions, transitive and not, messages in the wire
//! format that decode back to their values, and the `registry check` command line.

use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};
use apache_avro::Schema;
use dataflow_lab::sim::avro_compat::can_read;
use dataflow_lab::sim::avro_wire;
use dataflow_lab::sim::registry::{CompatibilityMode, Direction, RegistryError, SchemaRegistry};
use serde_json::json;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// A record `R` with these fields (JSON).
fn rec(fields: &str) -> String {
    format!(r#"{{"type": "record", "name": "R", "fields": [{fields}]}}"#)
}

/// A record `R` with one field `f` of this type (JSON).
fn field(t: &str) -> String {
    rec(&format!(r#"{{"name": "f", "type": {t}}}"#))
}

fn status(symbols: &str, default: Option<&str>) -> String {
    let default = default
        .map(|d| format!(r#", "default": "{d}""#))
        .unwrap_or_default();
    format!(r#"{{"type": "enum", "name": "Status", "symbols": [{symbols}]{default}}}"#)
}

fn item(fields: &str) -> String {
    format!(r#"{{"type": "record", "name": "Item", "fields": [{fields}]}}"#)
}

/// (what, writer, reader, whether the reader can read everything the writer writes)
fn pairs() -> Vec<(&'static str, String, String, bool)> {
    let s = |t: &str| t.to_owned();
    let id = r#"{"name": "id", "type": "long"}"#;
    vec![
        // Primitives and Avro's promotions.
        ("int as int", s(r#""int""#), s(r#""int""#), true),
        ("int promoted to long", s(r#""int""#), s(r#""long""#), true),
        (
            "int promoted to float",
            s(r#""int""#),
            s(r#""float""#),
            true,
        ),
        (
            "int promoted to double",
            s(r#""int""#),
            s(r#""double""#),
            true,
        ),
        (
            "long promoted to float",
            s(r#""long""#),
            s(r#""float""#),
            true,
        ),
        (
            "long promoted to double",
            s(r#""long""#),
            s(r#""double""#),
            true,
        ),
        (
            "float promoted to double",
            s(r#""float""#),
            s(r#""double""#),
            true,
        ),
        ("long narrowed to int", s(r#""long""#), s(r#""int""#), false),
        (
            "double narrowed to float",
            s(r#""double""#),
            s(r#""float""#),
            false,
        ),
        ("float read as long", s(r#""float""#), s(r#""long""#), false),
        (
            "string read as bytes",
            s(r#""string""#),
            s(r#""bytes""#),
            true,
        ),
        (
            "bytes read as string",
            s(r#""bytes""#),
            s(r#""string""#),
            true,
        ),
        ("string read as int", s(r#""string""#), s(r#""int""#), false),
        (
            "boolean read as int",
            s(r#""boolean""#),
            s(r#""int""#),
            false,
        ),
        ("null as null", s(r#""null""#), s(r#""null""#), true),
        // Records.
        (
            "field added with a default",
            rec(id),
            rec(&format!(
                r#"{id}, {{"name": "email", "type": "string", "default": ""}}"#
            )),
            true,
        ),
        (
            "field added without a default",
            rec(id),
            rec(&format!(r#"{id}, {{"name": "email", "type": "string"}}"#)),
            false,
        ),
        (
            "field removed (the reader ignores it)",
            rec(&format!(r#"{id}, {{"name": "email", "type": "string"}}"#)),
            rec(id),
            true,
        ),
        (
            "field with a default removed",
            rec(&format!(
                r#"{id}, {{"name": "email", "type": "string", "default": ""}}"#
            )),
            rec(id),
            true,
        ),
        (
            "field renamed, the old name an alias",
            rec(r#"{"name": "total", "type": "long"}"#),
            rec(r#"{"name": "amount", "type": "long", "aliases": ["total"]}"#),
            true,
        ),
        (
            "field renamed without an alias",
            rec(r#"{"name": "total", "type": "long"}"#),
            rec(r#"{"name": "amount", "type": "long"}"#),
            false,
        ),
        (
            "field renamed without an alias, but with a default",
            rec(r#"{"name": "total", "type": "long"}"#),
            rec(r#"{"name": "amount", "type": "long", "default": 0}"#),
            true,
        ),
        (
            "field promoted int to long",
            field(r#""int""#),
            field(r#""long""#),
            true,
        ),
        (
            "field narrowed long to int",
            field(r#""long""#),
            field(r#""int""#),
            false,
        ),
        (
            "nested record: field added with a default",
            field(&item(r#"{"name": "sku", "type": "string"}"#)),
            field(&item(
                r#"{"name": "sku", "type": "string"}, {"name": "qty", "type": "int", "default": 1}"#,
            )),
            true,
        ),
        (
            "nested record: field added without a default",
            field(&item(r#"{"name": "sku", "type": "string"}"#)),
            field(&item(
                r#"{"name": "sku", "type": "string"}, {"name": "qty", "type": "int"}"#,
            )),
            false,
        ),
        (
            "record renamed",
            rec(id),
            format!(r#"{{"type": "record", "name": "Other", "fields": [{id}]}}"#),
            false,
        ),
        // Enums.
        (
            "enum symbol added",
            status(r#""A", "B""#, None),
            status(r#""A", "B", "C""#, None),
            true,
        ),
        (
            "enum symbol removed, no default",
            status(r#""A", "B", "C""#, None),
            status(r#""A", "B""#, None),
            false,
        ),
        (
            "enum symbol removed, the reader has a default symbol",
            status(r#""A", "B", "C""#, None),
            status(r#""A", "B""#, Some("A")),
            true,
        ),
        (
            "enum with no symbol in common",
            status(r#""A", "B""#, None),
            status(r#""C", "D""#, None),
            false,
        ),
        (
            "enum unchanged",
            status(r#""A", "B""#, None),
            status(r#""A", "B""#, None),
            true,
        ),
        // Unions.
        (
            "union widened",
            s(r#"["null", "string"]"#),
            s(r#"["null", "string", "int"]"#),
            true,
        ),
        (
            "union narrowed",
            s(r#"["null", "string", "int"]"#),
            s(r#"["null", "string"]"#),
            false,
        ),
        (
            "a type made nullable",
            s(r#""string""#),
            s(r#"["null", "string"]"#),
            true,
        ),
        (
            "a nullable type made required",
            s(r#"["null", "string"]"#),
            s(r#""string""#),
            false,
        ),
        (
            "int read by a union branch long",
            s(r#""int""#),
            s(r#"["null", "long"]"#),
            true,
        ),
        (
            "union of int and long read as long",
            s(r#"["int", "long"]"#),
            s(r#""long""#),
            true,
        ),
        (
            "union of int and string read as long",
            s(r#"["int", "string"]"#),
            s(r#""long""#),
            false,
        ),
        // Arrays and maps.
        (
            "array items promoted",
            s(r#"{"type": "array", "items": "int"}"#),
            s(r#"{"type": "array", "items": "long"}"#),
            true,
        ),
        (
            "array items narrowed",
            s(r#"{"type": "array", "items": "long"}"#),
            s(r#"{"type": "array", "items": "int"}"#),
            false,
        ),
        (
            "map values promoted",
            s(r#"{"type": "map", "values": "int"}"#),
            s(r#"{"type": "map", "values": "double"}"#),
            true,
        ),
        (
            "map values changed type",
            s(r#"{"type": "map", "values": "string"}"#),
            s(r#"{"type": "map", "values": "int"}"#),
            false,
        ),
        (
            "array read as a map",
            s(r#"{"type": "array", "items": "int"}"#),
            s(r#"{"type": "map", "values": "int"}"#),
            false,
        ),
        (
            "array of records: field added without a default",
            format!(
                r#"{{"type": "array", "items": {}}}"#,
                item(r#"{"name": "sku", "type": "string"}"#)
            ),
            format!(
                r#"{{"type": "array", "items": {}}}"#,
                item(r#"{"name": "sku", "type": "string"}, {"name": "qty", "type": "int"}"#)
            ),
            false,
        ),
        (
            "map of records: field removed",
            format!(
                r#"{{"type": "map", "values": {}}}"#,
                item(r#"{"name": "sku", "type": "string"}, {"name": "qty", "type": "int"}"#)
            ),
            format!(
                r#"{{"type": "map", "values": {}}}"#,
                item(r#"{"name": "sku", "type": "string"}"#)
            ),
            true,
        ),
        // Fixed.
        (
            "fixed of the same size",
            s(r#"{"type": "fixed", "name": "Hash", "size": 16}"#),
            s(r#"{"type": "fixed", "name": "Hash", "size": 16}"#),
            true,
        ),
        (
            "fixed of another size",
            s(r#"{"type": "fixed", "name": "Hash", "size": 16}"#),
            s(r#"{"type": "fixed", "name": "Hash", "size": 8}"#),
            false,
        ),
    ]
}

fn parse(text: &str) -> Schema {
    Schema::parse_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Every pair of the table gets Avro's answer, and every refusal says where and why.
#[test]
fn the_registry_agrees_with_avros_resolution_rules() {
    let pairs = pairs();
    assert!(pairs.len() >= 40, "only {} pairs", pairs.len());
    let mut wrong = Vec::new();
    for (what, writer, reader, expected) in &pairs {
        let verdict = can_read(&parse(writer), &parse(reader));
        if verdict.is_ok() != *expected {
            wrong.push(format!("{what}: expected {expected}, got {verdict:?}"));
        }
        if let Err(reason) = verdict {
            assert!(
                !reason.rule.is_empty() && !reason.path.is_empty(),
                "{what}: {reason:?}"
            );
        }
    }
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // The correction matters: the crate answers `Partial` for some pairs Avro calls
    // incompatible (lost enum symbols, narrowed unions), and they are refused here.
    let partial = pairs
        .iter()
        .filter(|(_, writer, reader, expected)| {
            !expected
                && SchemaCompatibility::can_read(&parse(writer), &parse(reader))
                    == Ok(Compatibility::Partial)
        })
        .count();
    assert!(
        partial >= 3,
        "only {partial} partially compatible pairs in the table"
    );
}

/// Three versions, each step compatible with the one before, and a new one that is compatible
/// with the latest but not with every earlier one: the transitive modes refuse it and name the
/// newest version it fails against.
#[test]
fn every_mode_over_a_history_of_three_versions() {
    use CompatibilityMode as M;
    let id = r#"{"name": "id", "type": "long"}"#;
    let name = r#"{"name": "name", "type": "string", "default": ""}"#;
    let email = r#"{"name": "email", "type": "string", "default": ""}"#;
    let email_required = r#"{"name": "email", "type": "string"}"#;
    // A: the new version makes `email` required; version 2 has no email at all.
    let history_a = [
        rec(id),
        rec(&format!("{id}, {name}")),
        rec(&format!("{id}, {name}, {email}")),
    ];
    let new_a = rec(&format!("{id}, {name}, {email_required}"));
    // B: version 1 required `email`; the new version drops it.
    let history_b = [
        rec(&format!("{id}, {email_required}")),
        rec(&format!("{id}, {email}")),
        rec(&format!("{id}, {email}, {name}")),
    ];
    let new_b = rec(&format!("{id}, {name}"));
    // C: `id` becomes a string: nothing but NONE accepts it.
    let new_c = rec(
        r#"{"name": "id", "type": "string"}, {"name": "name", "type": "string", "default": ""}"#,
    );
    type Expected = Option<(u32, Direction)>;
    type Case<'a> = (&'a str, &'a [String; 3], &'a String, [(M, Expected); 7]);
    let cases: [Case; 3] = [
        (
            "A",
            &history_a,
            &new_a,
            [
                (M::Backward, None),
                (
                    M::BackwardTransitive,
                    Some((2, Direction::NewCannotReadOld)),
                ),
                (M::Forward, None),
                (M::ForwardTransitive, None),
                (M::Full, None),
                (M::FullTransitive, Some((2, Direction::NewCannotReadOld))),
                (M::None, None),
            ],
        ),
        (
            "B",
            &history_b,
            &new_b,
            [
                (M::Backward, None),
                (M::BackwardTransitive, None),
                (M::Forward, None),
                (M::ForwardTransitive, Some((1, Direction::OldCannotReadNew))),
                (M::Full, None),
                (M::FullTransitive, Some((1, Direction::OldCannotReadNew))),
                (M::None, None),
            ],
        ),
        (
            "C",
            &history_b,
            &new_c,
            [
                (M::Backward, Some((3, Direction::NewCannotReadOld))),
                (
                    M::BackwardTransitive,
                    Some((3, Direction::NewCannotReadOld)),
                ),
                (M::Forward, Some((3, Direction::OldCannotReadNew))),
                (M::ForwardTransitive, Some((3, Direction::OldCannotReadNew))),
                (M::Full, Some((3, Direction::NewCannotReadOld))),
                (M::FullTransitive, Some((3, Direction::NewCannotReadOld))),
                (M::None, None),
            ],
        ),
    ];
    for (case, history, new, expectations) in cases {
        for (mode, expected) in expectations {
            let mut registry = SchemaRegistry::new(M::None);
            for version in history {
                registry.register("orders-value", version).expect("history");
            }
            registry.set_mode("orders-value", mode);
            let got = match registry.register("orders-value", new) {
                Ok(registration) => {
                    assert_eq!(registration.version, 4, "{case} {mode}");
                    None
                }
                Err(RegistryError::Incompatible(refusal)) => {
                    assert_eq!(refusal.mode, mode);
                    Some((refusal.version, refusal.direction))
                }
                Err(other) => panic!("{case} {mode}: {other}"),
            };
            assert_eq!(got, expected, "history {case} under {mode}");
        }
    }
}

/// A message in the wire format decodes back to its value, and its schema id resolves in the
/// registry to the version it was written with, also after newer versions were registered.
#[test]
fn messages_decode_back_and_their_ids_resolve() {
    let mut registry = SchemaRegistry::default();
    let v1 = rec(
        r#"{"name": "id", "type": "long"}, {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["PENDING", "PAID"]}}"#,
    );
    let v2 = rec(
        r#"{"name": "id", "type": "long"}, {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["PENDING", "PAID"]}}, {"name": "note", "type": ["null", "string"], "default": null}"#,
    );
    let first = registry.register("orders-value", &v1).expect("v1");
    let value = json!({"id": 9_007_199_254_740_993_i64, "status": "PAID"});
    let schema = registry
        .schema_by_id(first.id)
        .expect("resolves")
        .schema
        .clone();
    let message = avro_wire::encode(first.id, &schema, &value).expect("encodes");
    let second = registry
        .register("orders-value", &v2)
        .expect("v2 is backward compatible");
    assert_ne!(first.id, second.id);
    assert_eq!(avro_wire::schema_id(&message), Ok(first.id));
    assert_eq!(
        avro_wire::decode(&message, &registry, None),
        Ok((first.id, value.clone()))
    );
    let reader = registry
        .version("orders-value", 2)
        .expect("v2")
        .schema
        .clone();
    let (_, upgraded) = avro_wire::decode(&message, &registry, Some(&reader)).expect("resolves");
    assert_eq!(
        upgraded,
        json!({"id": 9_007_199_254_740_993_i64, "status": "PAID", "note": null})
    );
}

/// `registry check`: exit 0 and `compatible`, exit 1 and the reason, exit 2 for a file that is
/// not a schema.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_command_line_checks_a_change() {
    use std::process::Command;
    let dir = std::env::temp_dir().join(format!("dataflow-lab-registry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("writes");
        path.display().to_string()
    };
    let v1 = write("v1.avsc", &rec(r#"{"name": "id", "type": "long"}"#));
    let v2 = write(
        "v2.avsc",
        &rec(
            r#"{"name": "id", "type": "long"}, {"name": "email", "type": "string", "default": ""}"#,
        ),
    );
    let v3 = write(
        "v3.avsc",
        &rec(r#"{"name": "id", "type": "long"}, {"name": "email", "type": "string"}"#),
    );
    let broken = write("broken.avsc", r#"{"type": "record", "name": "R""#);
    let check = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_dataflow-lab"))
            .args(["registry", "check"])
            .args(args)
            .output()
            .expect("runs");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, out, _) = check(&["--mode", "BACKWARD", "--new", &v3, "--previous", &v1, &v2]);
    assert_eq!((code, out.trim()), (Some(0), "compatible"));
    let (code, out, _) = check(&[
        "--mode",
        "backward_transitive",
        "--new",
        &v3,
        "--previous",
        &v1,
        &v2,
    ]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.starts_with("incompatible") && out.contains("email") && out.contains("v1.avsc"),
        "{out}"
    );
    let (code, _, err) = check(&["--mode", "FULL", "--new", &broken, "--previous", &v1]);
    assert_eq!(code, Some(2));
    assert!(err.contains("broken.avsc"), "{err}");
    let (code, _, err) = check(&["--mode", "SIDEWAYS", "--new", &v1]);
    assert_eq!(code, Some(2));
    assert!(err.contains("BACKWARD"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
