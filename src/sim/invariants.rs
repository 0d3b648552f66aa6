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
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::cmp::Ordering;

/// How many differing rows a check keeps to show (it counts them all).
pub const SHOWN_ROWS: usize = 20;

/// One row that differs: its key and both versions, as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowDifference {
    /// The key, as `id=42`.
    pub key: String,
    /// The source's row (`None`: the source has no such row).
    pub source: Option<String>,
    /// The read model's row (`None`: the read model lacks it).
    pub read_model: Option<String>,
}

/// How a read model compares with its source.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
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
    compare_cells(source, read_model, key)
}

/// [`compare`] on two tables' values as [`crate::sim::database::Database::committed_rows`]
/// gives them, without writing every value out as text first (the page checks the read models
/// about once a second while it plays): two values are the same when they are equal or read
/// the same (`5` in an `INT` and in a `BIGINT` column).
pub fn compare_values(
    source: &(Vec<String>, Vec<Vec<Value>>),
    read_model: &(Vec<String>, Vec<Vec<Value>>),
    key: &[String],
) -> Divergence {
    compare_cells(source, read_model, key)
}

/// A cell the check can compare and show.
trait CheckedCell {
    /// The cell as the check shows it.
    fn text(&self) -> Cow<'_, str>;
    /// Whether two cells hold the same value.
    fn same(&self, other: &Self) -> bool;
}

impl CheckedCell for String {
    fn text(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }

    fn same(&self, other: &Self) -> bool {
        self == other
    }
}

impl CheckedCell for Value {
    fn text(&self) -> Cow<'_, str> {
        Cow::Owned(text(self))
    }

    fn same(&self, other: &Self) -> bool {
        self == other || text(self) == text(other)
    }
}

/// A cell's text, `?` past the row's end.
fn cell_text<T: CheckedCell>(row: &[T], at: usize) -> Cow<'_, str> {
    row.get(at).map_or(Cow::Borrowed("?"), T::text)
}

/// [`compare`] and [`compare_values`], for cells of either kind.
fn compare_cells<T: CheckedCell>(
    source: &(Vec<String>, Vec<Vec<T>>),
    read_model: &(Vec<String>, Vec<Vec<T>>),
    key: &[String],
) -> Divergence {
    let columns: Vec<&String> = read_model
        .0
        .iter()
        .filter(|c| source.0.contains(c))
        .collect();
    let index = |names: &[String], column: &str| names.iter().position(|n| n == column);
    let key_at =
        |names: &[String]| -> Option<Vec<usize>> { key.iter().map(|k| index(names, k)).collect() };
    let uncomparable = || Divergence {
        rows: source.1.len(),
        missing: source.1.len().max(read_model.1.len()).max(1),
        ..Divergence::default()
    };
    let (Some(source_key), Some(model_key)) = (key_at(&source.0), key_at(&read_model.0)) else {
        return uncomparable();
    };
    if key.is_empty() {
        return uncomparable();
    }
    let values_at = |names: &[String]| -> Vec<usize> {
        columns.iter().filter_map(|c| index(names, c)).collect()
    };
    let (source_values, model_values) = (values_at(&source.0), values_at(&read_model.0));
    let (mut source_repeats, mut model_repeats) = (0, 0);
    let source_rows = by_key(&source.1, &source_key, &mut source_repeats);
    let model_rows = by_key(&read_model.1, &model_key, &mut model_repeats);
    let mut divergence = Divergence {
        rows: source.1.len(),
        extra: source_repeats + model_repeats,
        ..Divergence::default()
    };
    // Both tables in key order, walked side by side; a difference keeps its key and its rows.
    // Every difference's key is written out (they are shown in the order of their text), only
    // the rows of the ones shown.
    let same = |a: &[T], b: &[T]| {
        source_values
            .iter()
            .zip(&model_values)
            .all(|(&i, &j)| match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) => x.same(y),
                (x, y) => x.is_none() && y.is_none(),
            })
    };
    let mut differences: Vec<(&[Cow<str>], Pair<T>)> = Vec::new();
    let (mut s, mut m) = (0, 0);
    while s < source_rows.len() || m < model_rows.len() {
        let order = match (source_rows.get(s), model_rows.get(m)) {
            (Some(a), Some(b)) => a.0.cmp(&b.0),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match order {
            Ordering::Equal => {
                let ((key, a), (_, b)) = (&source_rows[s], &model_rows[m]);
                if !same(a, b) {
                    divergence.differing += 1;
                    differences.push((key, (Some(a), Some(b))));
                }
                s += 1;
                m += 1;
            }
            Ordering::Less => {
                divergence.missing += 1;
                differences.push((&source_rows[s].0, (Some(source_rows[s].1), None)));
                s += 1;
            }
            Ordering::Greater => {
                divergence.extra += 1;
                differences.push((&model_rows[m].0, (None, Some(model_rows[m].1))));
                m += 1;
            }
        }
    }
    let named = |names: &[&String], texts: &mut dyn Iterator<Item = Cow<str>>| {
        names
            .iter()
            .zip(texts)
            .map(|(name, text)| format!("{name}={text}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let key_names: Vec<&String> = key.iter().collect();
    let mut shown: Vec<(String, Pair<T>)> = differences
        .into_iter()
        .map(|(texts, pair)| (named(&key_names, &mut texts.iter().cloned()), pair))
        .collect();
    shown.sort_by(|a, b| a.0.cmp(&b.0));
    shown.truncate(SHOWN_ROWS);
    let row_text =
        |row: &[T], at: &[usize]| named(&columns, &mut at.iter().map(|&i| cell_text(row, i)));
    divergence.shown = shown
        .into_iter()
        .map(|(key, (a, b))| RowDifference {
            key,
            source: a.map(|row| row_text(row, &source_values)),
            read_model: b.map(|row| row_text(row, &model_values)),
        })
        .collect();
    divergence
}

/// A difference's rows: the source's and the read model's, where they have one.
type Pair<'a, T> = (Option<&'a [T]>, Option<&'a [T]>);

/// A table's rows with their keys (the cells at `key_at`, as text), in key order. Of rows
/// with the same key the last is kept; the others are counted in `repeats`.
fn by_key<'a, T: CheckedCell>(
    rows: &'a [Vec<T>],
    key_at: &[usize],
    repeats: &mut usize,
) -> Vec<(Vec<Cow<'a, str>>, &'a [T])> {
    let mut keyed: Vec<(Vec<Cow<str>>, &[T])> = rows
        .iter()
        .map(|row| {
            let key = key_at.iter().map(|&i| cell_text(row, i)).collect();
            (key, row.as_slice())
        })
        .collect();
    // A stable sort keeps same-key rows in table order; reversed, the first of each run is
    // the table's last, which `dedup_by` keeps.
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.reverse();
    let before = keyed.len();
    keyed.dedup_by(|later, kept| later.0 == kept.0);
    *repeats += before - keyed.len();
    keyed.reverse();
    keyed
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
    fn of_rows_with_one_key_the_last_counts() {
        let source = rows(
            &["id", "status", "total"],
            &[(1, "paid", 10), (2, "new", 5)],
        );
        let model = rows(
            &["id", "status", "total"],
            &[(1, "new", 10), (2, "new", 5), (1, "paid", 10)],
        );
        let divergence = compare(&source, &model, &key());
        assert_eq!(
            (divergence.missing, divergence.extra, divergence.differing),
            (0, 1, 0),
            "{divergence:?}"
        );
        let reversed = rows(
            &["id", "status", "total"],
            &[(1, "paid", 10), (2, "new", 5), (1, "new", 10)],
        );
        assert_eq!(compare(&source, &reversed, &key()).differing, 1);
    }

    #[test]
    fn only_the_first_differences_by_key_text_are_shown_but_all_are_counted() {
        let source = rows(
            &["id", "status", "total"],
            &(1..=30).map(|id| (id, "new", id)).collect::<Vec<_>>(),
        );
        let model = rows(&["id", "status", "total"], &[(2, "paid", 2)]);
        let divergence = compare(&source, &model, &key());
        assert_eq!((divergence.missing, divergence.differing), (29, 1));
        assert_eq!(divergence.shown.len(), SHOWN_ROWS);
        let keys: Vec<&str> = divergence.shown.iter().map(|d| d.key.as_str()).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "shown in the order of their keys' text");
        assert_eq!(&keys[..3], ["id=1", "id=10", "id=11"]);
        let differing = divergence.shown.iter().find(|d| d.key == "id=2");
        assert_eq!(
            differing.and_then(|d| d.read_model.as_deref()),
            Some("id=2, status='paid', total=2")
        );
    }

    #[test]
    fn values_compare_as_their_text_does() {
        let table = |rows: &[(Value, &str)]| {
            (
                vec!["id".to_owned(), "status".to_owned()],
                rows.iter()
                    .map(|(id, status)| vec![id.clone(), Value::Str(status.to_string())])
                    .collect::<Vec<_>>(),
            )
        };
        let source = table(&[
            (Value::I64(1), "paid"),
            (Value::I64(2), "new"),
            (Value::I64(3), "new"),
        ]);
        // The same ids in a narrower integer column; one status differs, one row is missing.
        let model = table(&[(Value::I32(2), "new"), (Value::I32(1), "shipped")]);
        let by_values = compare_values(&source, &model, &key());
        let by_text = compare(
            &rows_of_values(source.clone()),
            &rows_of_values(model.clone()),
            &key(),
        );
        assert_eq!(by_values, by_text);
        assert_eq!((by_values.missing, by_values.differing), (1, 1));
        assert!(compare_values(&source, &source, &key()).is_equal());
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
