//! Applying change events to a read model with SQL: what a consumer (a JDBC sink connector,
//! or a service's own consumer) runs on its database for each Debezium event.
//!
//! A create, update or snapshot read becomes an upsert of the event's `after` row — GlueSQL has
//! no `INSERT … ON CONFLICT`, so a `DELETE` by key and an `INSERT` — and a delete becomes a
//! `DELETE` by key; tombstones change nothing. A replica maps the row's fields to columns of the
//! same names, all of them — so a column renamed at the source arrives under its new name and
//! fails the insert, which is how a consumer that maps raw columns breaks on a schema change; a
//! read model declared as a subset of columns writes only those (and so misses a renamed one
//! silently).
//! Values are turned back from Debezium's JSON mappings into SQL literals by the read model's
//! column types (`TIMESTAMP` from microseconds since the epoch, `DATE` from days).

use gluesql::core::ast::DataType;
use gluesql::core::chrono::{DateTime, NaiveDate, NaiveTime};
use serde_json::Value as Json;
use thiserror::Error;

/// A read model's column: its name and type.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkColumn {
    /// The column's name.
    pub name: String,
    /// Its SQL type.
    pub data_type: DataType,
}

/// Why an event cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SinkError {
    /// The value is not a change event.
    #[error("not a change event: {0}")]
    NotAnEvent(String),
    /// The event's key has no usable column.
    #[error("the event has no key to apply it by")]
    NoKey,
}

/// A row to insert: column names and their SQL literals.
pub type RowLiterals = (Vec<String>, Vec<String>);

/// What a change event asks of the read model.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The SQL statements, in order (none for a tombstone).
    pub statements: Vec<String>,
    /// The row's key as an SQL condition (`id = 3`).
    pub condition: String,
    /// For an upsert: the columns and their SQL literals; `None` for a delete.
    pub row: Option<RowLiterals>,
    /// The source LSN of the change (`None` for a dual write's event or a tombstone).
    pub lsn: Option<u64>,
    /// The source commit time, in microseconds since the Unix epoch (`source.ts_us`).
    pub committed_us: i64,
}

/// A change event's parts a read model needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    /// `c`, `u`, `d` or `r`.
    pub op: String,
    /// The row after the change (`None` for a delete).
    pub after: Option<serde_json::Map<String, Json>>,
    /// The source LSN of the change (`None`: a dual write's event, which has none).
    pub lsn: Option<u64>,
    /// The source commit time, in microseconds since the Unix epoch (`source.ts_us`).
    pub committed_us: i64,
}

/// Reads a Debezium change event's value (JSON text).
///
/// # Errors
///
/// [`SinkError::NotAnEvent`] when it is not one.
pub fn parse_event(value: &str) -> Result<ChangeEvent, SinkError> {
    let mut event: Json =
        serde_json::from_str(value).map_err(|e| SinkError::NotAnEvent(e.to_string()))?;
    // `null` from a dual write: the publishing service has no log position.
    let lsn = match event["source"].get("lsn") {
        None => return Err(SinkError::NotAnEvent("no source.lsn".into())),
        Some(Json::Null) => None,
        Some(other) => Some(
            other
                .as_u64()
                .ok_or_else(|| SinkError::NotAnEvent("source.lsn is not a position".into()))?,
        ),
    };
    let committed_us = event["source"]["ts_us"]
        .as_i64()
        .or_else(|| event["source"]["ts_ms"].as_i64().map(|ms| ms * 1_000))
        .ok_or_else(|| SinkError::NotAnEvent("no source.ts_us".into()))?;
    let op = event["op"].as_str().unwrap_or_default().to_owned();
    let after = match event.get_mut("after").map(Json::take) {
        Some(Json::Object(row)) => Some(row),
        _ => None,
    };
    let after = if op == "d" { None } else { after };
    match op.as_str() {
        "d" => {}
        "c" | "u" | "r" if after.is_some() => {}
        "c" | "u" | "r" => return Err(SinkError::NotAnEvent("no after".into())),
        other => return Err(SinkError::NotAnEvent(format!("unknown op {other:?}"))),
    }
    Ok(ChangeEvent {
        op,
        after,
        lsn,
        committed_us,
    })
}

/// The statements that apply the event `value` (JSON text) with key `key` to `table`, whose
/// columns are `columns`; `subset`: write only those columns (else every field of the row).
///
/// # Errors
///
/// [`SinkError`] when the value is not a Debezium change event or the key is unusable.
pub fn apply_event(
    table: &str,
    columns: &[SinkColumn],
    key: &str,
    value: &str,
    subset: bool,
) -> Result<Applied, SinkError> {
    apply_change(table, columns, key, &parse_event(value)?, subset)
}

/// As [`apply_event`], for an event already read with [`parse_event`].
///
/// # Errors
///
/// [`SinkError`] when the key is unusable.
pub fn apply_change(
    table: &str,
    columns: &[SinkColumn],
    key: &str,
    event: &ChangeEvent,
    subset: bool,
) -> Result<Applied, SinkError> {
    let ChangeEvent {
        after,
        lsn,
        committed_us,
        ..
    } = event;
    let (lsn, committed_us) = (*lsn, *committed_us);
    let key: Json = serde_json::from_str(key).map_err(|e| SinkError::NotAnEvent(e.to_string()))?;
    let Some(key) = key.as_object().filter(|k| !k.is_empty()) else {
        return Err(SinkError::NoKey);
    };
    let column_type = |name: &str| {
        columns
            .iter()
            .find(|c| c.name == name)
            .map(|c| &c.data_type)
    };
    let condition: Vec<String> = key
        .iter()
        .map(|(name, v)| format!("{name} = {}", literal(v, column_type(name))))
        .collect();
    let condition = condition.join(" AND ");
    let delete = format!("DELETE FROM {table} WHERE {condition}");
    let mut row = None;
    let statements = match after {
        None => vec![delete],
        Some(after) => {
            let fields: Vec<(&String, &Json)> = after
                .iter()
                .filter(|(name, _)| !subset || column_type(name).is_some())
                .collect();
            let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
            let values: Vec<String> = fields
                .iter()
                .map(|(n, v)| literal(v, column_type(n)))
                .collect();
            let insert = format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                names.join(", "),
                values.join(", ")
            );
            row = Some((names.iter().map(|n| (*n).to_owned()).collect(), values));
            vec![delete, insert]
        }
    };
    Ok(Applied {
        statements,
        condition,
        row,
        lsn,
        committed_us,
    })
}

/// The statements that apply a batch of events to `table` with the same result as applying
/// them one by one: per key only its last event counts, so each key touched is deleted once
/// (by key) and the rows that remain are inserted with one multi-row `INSERT` per column list —
/// as a JDBC sink connector batches its writes.
pub fn batch_statements(table: &str, events: &[Applied]) -> Vec<String> {
    let mut last: Vec<(&str, Option<&RowLiterals>)> = Vec::new();
    for event in events {
        match last.iter_mut().find(|(c, _)| *c == event.condition) {
            Some(entry) => entry.1 = event.row.as_ref(),
            None => last.push((event.condition.as_str(), event.row.as_ref())),
        }
    }
    let mut statements: Vec<String> = last
        .iter()
        .map(|(condition, _)| format!("DELETE FROM {table} WHERE {condition}"))
        .collect();
    let mut inserts: Vec<(&Vec<String>, Vec<String>)> = Vec::new();
    for (_, row) in &last {
        let Some((names, values)) = row else { continue };
        let tuple = format!("({})", values.join(", "));
        match inserts.iter_mut().find(|(n, _)| *n == names) {
            Some((_, tuples)) => tuples.push(tuple),
            None => inserts.push((names, vec![tuple])),
        }
    }
    statements.extend(inserts.into_iter().map(|(names, tuples)| {
        format!(
            "INSERT INTO {table} ({}) VALUES {}",
            names.join(", "),
            tuples.join(", ")
        )
    }));
    statements
}

/// What a tombstone (a key with no value) asks of the read model: delete the key's row, as a
/// JDBC sink with `delete.enabled` does — so a delete whose event compaction removed is still
/// applied. It carries no source position.
///
/// # Errors
///
/// [`SinkError::NoKey`] when the key is not a JSON object with columns.
pub fn apply_tombstone(
    table: &str,
    columns: &[SinkColumn],
    key: &str,
) -> Result<Applied, SinkError> {
    let key: Json = serde_json::from_str(key).map_err(|e| SinkError::NotAnEvent(e.to_string()))?;
    let Some(key) = key.as_object().filter(|k| !k.is_empty()) else {
        return Err(SinkError::NoKey);
    };
    let condition: Vec<String> = key
        .iter()
        .map(|(name, v)| {
            let data_type = columns
                .iter()
                .find(|c| c.name == *name)
                .map(|c| &c.data_type);
            format!("{name} = {}", literal(v, data_type))
        })
        .collect();
    let condition = condition.join(" AND ");
    Ok(Applied {
        statements: vec![format!("DELETE FROM {table} WHERE {condition}")],
        condition,
        row: None,
        lsn: None,
        committed_us: 0,
    })
}

/// A JSON value as an SQL literal for a column of `data_type`.
pub(crate) fn literal(value: &Json, data_type: Option<&DataType>) -> String {
    match (value, data_type) {
        (Json::Null, _) => "NULL".to_owned(),
        (Json::Bool(b), _) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
        (Json::Number(n), Some(DataType::Timestamp)) => n
            .as_i64()
            .and_then(DateTime::from_timestamp_micros)
            .map_or_else(
                || "NULL".to_owned(),
                |t| format!("'{}'", t.naive_utc().format("%Y-%m-%d %H:%M:%S%.6f")),
            ),
        (Json::Number(n), Some(DataType::Date)) => n
            .as_i64()
            .and_then(|days| {
                NaiveDate::from_ymd_opt(1970, 1, 1)
                    .and_then(|e| e.checked_add_signed(gluesql::core::chrono::Duration::days(days)))
            })
            .map_or_else(|| "NULL".to_owned(), |d| format!("'{d}'")),
        // Debezium's MicroTime: microseconds since midnight.
        (Json::Number(n), Some(DataType::Time)) => n
            .as_u64()
            .and_then(|micros| {
                let seconds = u32::try_from(micros / 1_000_000).ok()?;
                let nanos = (micros % 1_000_000) as u32 * 1_000;
                NaiveTime::from_num_seconds_from_midnight_opt(seconds, nanos)
            })
            .map_or_else(
                || "NULL".to_owned(),
                |t| format!("'{}'", t.format("%H:%M:%S%.6f")),
            ),
        (Json::Number(n), _) => n.to_string(),
        (Json::String(s), _) => format!("'{}'", s.replace('\'', "''")),
        (other, _) => format!("'{}'", other.to_string().replace('\'', "''")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Vec<SinkColumn> {
        vec![
            SinkColumn {
                name: "id".into(),
                data_type: DataType::Int,
            },
            SinkColumn {
                name: "status".into(),
                data_type: DataType::Text,
            },
            SinkColumn {
                name: "created_at".into(),
                data_type: DataType::Timestamp,
            },
        ]
    }

    fn event(op: &str, after: &str) -> String {
        format!(
            r#"{{"before":null,"after":{after},"source":{{"lsn":9,"ts_us":1767225600000000}},"op":"{op}","ts_ms":1}}"#
        )
    }

    #[test]
    fn events_are_read_once_and_what_is_not_one_is_refused() {
        let update = parse_event(&event("u", r#"{"id":3,"status":"paid"}"#)).expect("an event");
        assert_eq!((update.op.as_str(), update.lsn), ("u", Some(9)));
        assert_eq!(update.after.expect("a row")["status"], "paid");
        let delete = parse_event(&event("d", r#"{"id":3}"#)).expect("a delete");
        assert!(delete.after.is_none(), "a delete has no row after it");
        let unpositioned = event("u", r#"{"id":3}"#).replace(r#""lsn":9"#, r#""lsn":null"#);
        assert_eq!(
            parse_event(&unpositioned)
                .expect("a dual write's event")
                .lsn,
            None
        );
        for bad in [
            "not json".to_owned(),
            r#"{"op":"c","after":{},"source":{"ts_us":1}}"#.to_owned(),
            event("x", "{}"),
            event("c", "null"),
        ] {
            assert!(
                matches!(parse_event(&bad), Err(SinkError::NotAnEvent(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_update_becomes_an_upsert_with_types_turned_back() {
        let applied = apply_event(
            "orders",
            &columns(),
            r#"{"id":3}"#,
            &event(
                "u",
                r#"{"id":3,"status":"it's paid","created_at":1767225600000001}"#,
            ),
            false,
        )
        .expect("applies");
        assert_eq!(applied.lsn, Some(9));
        assert_eq!(
            applied.statements,
            [
                "DELETE FROM orders WHERE id = 3",
                "INSERT INTO orders (id, status, created_at) VALUES (3, 'it''s paid', '2026-01-01 00:00:00.000001')",
            ]
        );
    }

    #[test]
    fn a_delete_deletes_by_key() {
        let value =
            r#"{"before":{"id":3},"after":null,"source":{"lsn":4,"ts_us":5},"op":"d","ts_ms":1}"#;
        let applied =
            apply_event("orders", &columns(), r#"{"id":3}"#, value, false).expect("applies");
        assert_eq!(applied.statements, ["DELETE FROM orders WHERE id = 3"]);
    }

    #[test]
    fn a_replica_sends_every_field_and_a_subset_only_its_columns() {
        let renamed = event("c", r#"{"id":3,"state":"new","created_at":1}"#);
        let replica =
            apply_event("orders", &columns(), r#"{"id":3}"#, &renamed, false).expect("applies");
        assert!(
            replica.statements[1].starts_with("INSERT INTO orders (id, state, created_at)"),
            "the renamed field is sent as it is, and will fail: {:?}",
            replica.statements
        );
        let subset =
            apply_event("orders", &columns(), r#"{"id":3}"#, &renamed, true).expect("applies");
        assert!(
            subset.statements[1].starts_with("INSERT INTO orders (id, created_at)"),
            "{:?}",
            subset.statements
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(apply_event("t", &columns(), "{}", "not json", false).is_err());
        assert_eq!(
            apply_event("t", &columns(), "null", &event("c", "{}"), false),
            Err(SinkError::NoKey)
        );
    }

    #[test]
    fn a_batch_keeps_each_keys_last_event() {
        let applied = |key: i64, op: &str, status: &str| {
            let after = if op == "d" {
                "null".to_owned()
            } else {
                format!(r#"{{"id":{key},"status":"{status}"}}"#)
            };
            let value = format!(
                r#"{{"before":null,"after":{after},"source":{{"lsn":1,"ts_us":1}},"op":"{op}","ts_ms":1}}"#
            );
            apply_event(
                "orders",
                &columns(),
                &format!(r#"{{"id":{key}}}"#),
                &value,
                false,
            )
            .expect("applies")
        };
        let events = [
            applied(1, "c", "new"),
            applied(2, "c", "new"),
            applied(1, "u", "paid"),
            applied(2, "d", ""),
            applied(3, "u", "x"),
        ];
        assert_eq!(
            batch_statements("orders", &events),
            [
                "DELETE FROM orders WHERE id = 1",
                "DELETE FROM orders WHERE id = 2",
                "DELETE FROM orders WHERE id = 3",
                "INSERT INTO orders (id, status) VALUES (1, 'paid'), (3, 'x')",
            ]
        );
    }

    /// A TIME travels as Debezium's MicroTime (microseconds since midnight) and lands as the
    /// same time of day.
    #[test]
    fn a_micro_time_becomes_a_time_literal() {
        let noonish = serde_json::json!(45_296_000_250_u64);
        assert_eq!(
            literal(&noonish, Some(&DataType::Time)),
            "'12:34:56.000250'"
        );
        let too_late = serde_json::json!(86_400_000_000_u64);
        assert_eq!(literal(&too_late, Some(&DataType::Time)), "NULL");
    }
}
