//! The invariant a pipeline must keep: once the system is quiet (no transaction running, every
//! connector caught up with its source's log, every consumer group without lag), each read
//! model equals its source — every committed change reached it exactly once *in effect*,
//! however often it was delivered.
//!
//! This file compares two tables' rows by key and says how they differ: rows missing from the
//! read model (a create or its update never arrived), rows it has that the source does not (a
//! delete never arrived, or a change arrived that never committed), and rows whose values
//! differ (an update lost, or applied out of order). The world gathers the tables
//! ([`crate::sim::world::World::check_invariants`]).

use crate::sim::results::{Cell, CellKind, Outcome, StatementResult};
use gluesql::prelude::Value;
use std::collections::BTreeMap;

/// How many differing rows a check keeps to show (it counts them all).
pub const SHOWN_ROWS: usize = 20;

/// One row that differs: its key and both versions, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowDifference {
    /// The key, as `id=42`.
    pub key: String,
    /// The source's row (`None`: the source has no such row).
    pub source: Option<String>,
    /// The read model's row (`None`: the read model lacks it).
    pub read_model: Option<String>,
}

/// How a read model compares with its source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Divergence {
    /// Rows compared (the source's).
    pub rows: usize,
    /// Rows the read model lacks.
    pub missing: usize,
    /// Rows only the read model has.
    pub extra: usize,
    /// Rows in both whose values differ.
    pub differing: usize,
    /// Up to [`SHOWN_ROWS`] of them, in key order.
    pub shown: Vec<RowDifference>,
}

impl Divergence {
    /// Whether the read model equals its source.
    pub fn is_equal(&self) -> bool {
        self.missing == 0 && self.extra == 0 && self.differing == 0
    }
}

/// A table's rows: column names, then rows of values as text (`NULL`, `42`, `'paid'`).
pub type Rows = (Vec<String>, Vec<Vec<String>>);

/// Rows of a table as [`crate::sim::database::Database::committed_rows`] gives them.
pub fn rows_of_values((columns, rows): (Vec<String>, Vec<Vec<Value>>)) -> Rows {
    let rows = rows
        .iter()
        .map(|row| row.iter().map(text).collect())
        .collect();
    (columns, rows)
}

/// Rows of a query's result, if it has rows.
pub fn rows_of_result(result: &StatementResult) -> Option<Rows> {
    let Outcome::Rows { columns, rows } = &result.outcome else {
        return None;
    };
    let cell = |cell: &Cell| match cell.kind {
        CellKind::Null => "NULL".to_owned(),
        CellKind::Text => format!("'{}'", cell.text),
        CellKind::Number | CellKind::Bool => cell.text.clone(),
    };
    Some((
        columns.clone(),
        rows.iter().map(|r| r.iter().map(cell).collect()).collect(),
    ))
}

/// Compares `read_model` with `source` on the read model's columns, rows matched by the
/// values of `key` (columns both have). A read model may keep fewer columns than its source;
/// the source's other columns are ignored.
///
/// A table that lacks a key column, or an empty key, cannot be compared: every row of both
/// counts as missing (the check fails visibly rather than calling two tables equal). A key
/// that repeats within one table counts its repeats as extra rows.
pub fn compare(source: &Rows, read_model: &Rows, key: &[String]) -> Divergence {
    let columns: Vec<&String> = read_model
        .0
        .iter()
        .filter(|c| source.0.contains(c))
        .collect();
    let index = |names: &[String], column: &str| names.iter().position(|n| n == column);
    let key_at =
        |rows: &Rows| -> Option<Vec<usize>> { key.iter().map(|k| index(&rows.0, k)).collect() };
    let (Some(source_key), Some(model_key)) = (key_at(source), key_at(read_model)) else {
        return uncomparable(source, read_model);
    };
    if key.is_empty() {
        return uncomparable(source, read_model);
    }
    let keyed = |rows: &Rows, key_at: &[usize], repeats: &mut usize| -> BTreeMap<String, String> {
        let value_at: Vec<usize> = columns.iter().filter_map(|c| index(&rows.0, c)).collect();
        let mut keyed = BTreeMap::new();
        for row in &rows.1 {
            let cell = |i: usize| row.get(i).map_or("?", String::as_str);
            let key = key
                .iter()
                .zip(key_at)
                .map(|(name, &i)| format!("{name}={}", cell(i)))
                .collect::<Vec<_>>()
                .join(", ");
            let values = columns
                .iter()
                .zip(&value_at)
                .map(|(name, &i)| format!("{name}={}", cell(i)))
                .collect::<Vec<_>>()
                .join(", ");
            if keyed.insert(key, values).is_some() {
                *repeats += 1;
            }
        }
        keyed
    };
    let (mut source_repeats, mut model_repeats) = (0, 0);
    let source_rows = keyed(source, &source_key, &mut source_repeats);
    let model_rows = keyed(read_model, &model_key, &mut model_repeats);
    let mut divergence = Divergence {
        rows: source.1.len(),
        extra: source_repeats + model_repeats,
        ..Divergence::default()
    };
    let note = |divergence: &mut Divergence, difference: RowDifference| {
        divergence.shown.push(difference);
    };
    for (key, row) in &source_rows {
        match model_rows.get(key) {
            Some(model) if model == row => {}
            Some(model) => {
                divergence.differing += 1;
                note(
                    &mut divergence,
                    RowDifference {
                        key: key.clone(),
                        source: Some(row.clone()),
                        read_model: Some(model.clone()),
                    },
                );
            }
            None => {
                divergence.missing += 1;
                note(
                    &mut divergence,
                    RowDifference {
                        key: key.clone(),
                        source: Some(row.clone()),
                        read_model: None,
                    },
                );
            }
        }
    }
    for (key, model) in &model_rows {
        if !source_rows.contains_key(key) {
            divergence.extra += 1;
            note(
                &mut divergence,
                RowDifference {
                    key: key.clone(),
                    source: None,
                    read_model: Some(model.clone()),
                },
            );
        }
    }
    divergence.shown.sort_by(|a, b| a.key.cmp(&b.key));
    divergence.shown.truncate(SHOWN_ROWS);
    divergence
}

/// Two tables that cannot be matched by key: every row of each counts as missing.
fn uncomparable(source: &Rows, read_model: &Rows) -> Divergence {
    Divergence {
        rows: source.1.len(),
        missing: source.1.len().max(read_model.1.len()).max(1),
        ..Divergence::default()
    }
}

/// A value as the check shows it: `NULL`, numbers and text as they are.
fn text(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_owned(),
        Value::Str(s) => format!("'{s}'"),
        other => String::from(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(columns: &[&str], rows: &[(i64, &str, i64)]) -> Rows {
        rows_of_values((
            columns.iter().map(|c| c.to_string()).collect(),
            rows.iter()
                .map(|(id, status, total)| {
                    vec![
                        Value::I64(*id),
                        Value::Str(status.to_string()),
                        Value::I64(*total),
                    ]
                })
                .collect(),
        ))
    }

    fn key() -> Vec<String> {
        vec!["id".to_owned()]
    }

    #[test]
    fn equal_tables_are_equal_whatever_the_row_order() {
        let source = rows(
            &["id", "status", "total"],
            &[(1, "paid", 10), (2, "new", 20)],
        );
        let model = rows(
            &["id", "status", "total"],
            &[(2, "new", 20), (1, "paid", 10)],
        );
        let divergence = compare(&source, &model, &key());
        assert!(divergence.is_equal(), "{divergence:?}");
        assert_eq!(divergence.rows, 2);
    }

    #[test]
    fn missing_extra_and_differing_rows_are_counted_and_shown() {
        let source = rows(
            &["id", "status", "total"],
            &[(1, "paid", 10), (2, "new", 20), (3, "new", 30)],
        );
        let model = rows(
            &["id", "status", "total"],
            &[(1, "new", 10), (3, "new", 30), (4, "x", 0)],
        );
        let divergence = compare(&source, &model, &key());
        assert_eq!(
            (divergence.missing, divergence.extra, divergence.differing),
            (1, 1, 1)
        );
        assert!(!divergence.is_equal());
        let keys: Vec<&str> = divergence.shown.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(keys, ["id=1", "id=2", "id=4"]);
        assert_eq!(
            divergence.shown[0].source.as_deref(),
            Some("id=1, status='paid', total=10")
        );
        assert_eq!(
            divergence.shown[0].read_model.as_deref(),
            Some("id=1, status='new', total=10")
        );
        assert_eq!(divergence.shown[1].read_model, None);
        assert_eq!(divergence.shown[2].source, None);
    }

    #[test]
    fn tables_without_the_key_or_with_repeated_keys_are_never_equal() {
        let source = rows(
            &["id", "status", "total"],
            &[(1, "paid", 10), (2, "new", 20)],
        );
        let keyless = rows(
            &["code", "status", "total"],
            &[(1, "paid", 10), (2, "new", 20)],
        );
        assert!(!compare(&source, &keyless, &key()).is_equal());
        assert!(!compare(&source, &source, &[]).is_equal());
        let repeated = rows(
            &["id", "status", "total"],
            &[(1, "paid", 10), (1, "paid", 10), (2, "new", 20)],
        );
        let divergence = compare(&source, &repeated, &key());
        assert_eq!(divergence.extra, 1, "{divergence:?}");
    }

    #[test]
    fn a_read_model_of_fewer_columns_is_compared_on_its_columns() {
        let source = rows(&["id", "status", "total"], &[(1, "paid", 10)]);
        let mut model = rows(&["id", "status", "total"], &[(1, "paid", 99)]);
        model.0.truncate(2);
        for row in &mut model.1 {
            row.truncate(2);
        }
        assert!(compare(&source, &model, &key()).is_equal());
    }
}
