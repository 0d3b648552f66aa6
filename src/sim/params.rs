//! Template parameters: where the values in `{braces}` of a service's SQL come from.
//!
//! Models the values real application code binds into its statements: the next order id, a
//! customer chosen among existing ones, a hot key drawn from a zipf distribution, a status from
//! a list. Every draw comes from the parameter's own seeded generator, so runs repeat exactly.
//! Key ranges (`next_id`, `existing_key`) are shared per `table.column`, so two operations that
//! insert orders never hand out the same id. Simplification: `existing_key` draws between the
//! smallest key at start and the largest handed out since, so a deleted key can be drawn.

use crate::sim::clock::Micros;
use crate::sim::rng::{SimRng, Zipf};
use crate::sim::scenario::ParamSpec;
use gluesql::core::chrono::{Duration, NaiveDate, NaiveDateTime};
use std::collections::BTreeMap;

/// Placeholders every template may use without declaring them.
pub const BUILTINS: [&str; 2] = ["now", "now_us"];

/// The names in `{braces}` of a template, in order.
pub fn placeholders(template: &str) -> impl Iterator<Item = &str> {
    template.split('{').skip(1).filter_map(|part| {
        let (name, _) = part.split_once('}')?;
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        valid.then_some(name)
    })
}

/// The prefix of placeholders filled from the operation's own last query: `{row.id}` is the
/// `id` column of the first row the previous `SELECT` of the same operation returned (how a
/// worker claims the job it just found: `SELECT id FROM jobs … FOR UPDATE SKIP LOCKED`, then
/// `UPDATE jobs … WHERE id = {row.id}`).
pub const ROW_PREFIX: &str = "row.";

/// The columns a template takes from the operation's last query (`{row.id}` → `id`).
pub fn row_placeholders(template: &str) -> impl Iterator<Item = &str> {
    template.split('{').skip(1).filter_map(|part| {
        let (name, _) = part.split_once('}')?;
        let column = name.strip_prefix(ROW_PREFIX)?;
        let valid = !column.is_empty()
            && column
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        valid.then_some(column)
    })
}

/// `template` with its `{row.column}` placeholders filled from `row` (column name, lower case →
/// SQL literal).
///
/// # Errors
///
/// The first column the row does not have.
pub fn render_row(template: &str, row: &[(String, String)]) -> Result<String, String> {
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for column in row_placeholders(template) {
        let value = row
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(column))
            .map(|(_, value)| value.clone())
            .ok_or_else(|| {
                let names: Vec<&str> = row.iter().map(|(n, _)| n.as_str()).collect();
                format!(
                    "{{row.{column}}}: the previous query returned no column {column} (it returned {})",
                    names.join(", ")
                )
            })?;
        values.insert(format!("{ROW_PREFIX}{column}"), value);
    }
    let values: BTreeMap<&str, String> = values
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    Ok(render(template, &values))
}

/// The smallest and largest key of a `table.column`, as handed out so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRange {
    /// Smallest key at start.
    pub min: i64,
    /// Largest key at start or handed out by `next_id` since.
    pub max: i64,
}

/// A parameter's generator.
#[derive(Debug, Clone)]
pub struct Param {
    spec: ParamSpec,
    rng: SimRng,
    zipf: Option<Zipf>,
}

impl Param {
    /// A generator for `spec` drawing from `rng`.
    pub fn new(spec: ParamSpec, rng: SimRng) -> Self {
        let zipf = match &spec {
            ParamSpec::Zipf { n, exponent } => Some(Zipf::new(*n, *exponent)),
            _ => None,
        };
        Self { spec, rng, zipf }
    }

    /// The `table.column` whose keys this parameter uses, if any.
    pub fn key_column(&self) -> Option<&str> {
        match &self.spec {
            ParamSpec::NextId(c) | ParamSpec::ExistingKey(c) => Some(c),
            _ => None,
        }
    }

    /// Draws a value, as SQL text to put in the template.
    pub fn draw(&mut self, keys: &mut BTreeMap<String, KeyRange>) -> String {
        match &self.spec {
            ParamSpec::NextId(column) => {
                let range = keys
                    .entry(column.clone())
                    .or_insert(KeyRange { min: 1, max: 0 });
                range.max += 1;
                range.max.to_string()
            }
            ParamSpec::ExistingKey(column) => {
                let range = keys
                    .get(column)
                    .copied()
                    .unwrap_or(KeyRange { min: 1, max: 1 });
                self.rng.int_in(range.min, range.max).to_string()
            }
            ParamSpec::Uniform([low, high]) => self.rng.int_in(*low, *high).to_string(),
            ParamSpec::Zipf { .. } => self
                .zipf
                .as_ref()
                .map_or(1, |z| z.sample(&mut self.rng))
                .to_string(),
            ParamSpec::Choice(options) => {
                let index = self.rng.index(options.len());
                options
                    .get(index)
                    .map_or_else(String::new, |o| o.replace('\'', "''"))
            }
        }
    }
}

/// The simulated wall-clock time `now` as timestamp text: the run starts at 2026-01-01 00:00.
pub fn timestamp_text(now: Micros) -> String {
    let start = NaiveDate::from_ymd_opt(2026, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or(NaiveDateTime::MIN);
    let micros = i64::try_from(now).unwrap_or(i64::MAX);
    (start + Duration::microseconds(micros))
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string()
}

/// The simulated time a [`timestamp_text`] (or GlueSQL's display of it) stands for.
pub fn parse_timestamp_text(text: &str) -> Option<Micros> {
    let start = NaiveDate::from_ymd_opt(2026, 1, 1)?.and_hms_opt(0, 0, 0)?;
    let time = NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S%.f").ok()?;
    let micros = (time - start).num_microseconds()?;
    Micros::try_from(micros).ok()
}

/// Replaces every `{name}` of `template` by its value; unknown names stay as they are.
pub fn render(template: &str, values: &BTreeMap<&str, String>) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.split_once('}') {
            Some((name, tail)) if values.contains_key(name) => {
                out.push_str(&values[name]);
                rest = tail;
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The tables SQL templates read and write (each once, in order), from their parsed SQL.
pub fn tables_used(templates: &[String]) -> (Vec<String>, Vec<String>) {
    let mut reads: Vec<String> = Vec::new();
    let mut writes: Vec<String> = Vec::new();
    for template in templates {
        if let Ok(crate::sim::statement::Command::Sql { statement, .. }) =
            crate::sim::database::Connection::prepare(&sample_render(template))
        {
            let (r, w) = crate::sim::lock_plan::tables_of(&statement);
            reads.extend(
                r.into_iter()
                    .filter(|t| !reads.contains(t))
                    .collect::<Vec<_>>(),
            );
            writes.extend(
                w.into_iter()
                    .filter(|t| !writes.contains(t))
                    .collect::<Vec<_>>(),
            );
        }
    }
    (reads, writes)
}

/// A template rendered with every placeholder set to 1: SQL that parses, to read its shape.
pub fn sample_render(template: &str) -> String {
    let values: std::collections::BTreeMap<&str, String> = placeholders(template)
        .map(|name| (name, "1".to_owned()))
        .collect();
    let row: Vec<(String, String)> = row_placeholders(template)
        .map(|column| (column.to_owned(), "1".to_owned()))
        .collect();
    let rendered = render(template, &values);
    render_row(&rendered, &row).unwrap_or(rendered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_placeholders_take_the_previous_querys_first_row() {
        let template = "UPDATE jobs SET status = 'done', worker = {row.worker} WHERE id = {row.id}";
        let columns: Vec<&str> = row_placeholders(template).collect();
        assert_eq!(columns, ["worker", "id"]);
        let row = [
            ("id".to_owned(), "7".to_owned()),
            ("worker".to_owned(), "'w1'".to_owned()),
        ];
        assert_eq!(
            render_row(template, &row).unwrap(),
            "UPDATE jobs SET status = 'done', worker = 'w1' WHERE id = 7"
        );
        let error = render_row(template, &row[..1]).unwrap_err();
        assert!(error.contains("no column worker"), "{error}");
        assert_eq!(
            sample_render("DELETE FROM jobs WHERE id = {row.id}"),
            "DELETE FROM jobs WHERE id = 1"
        );
        assert_eq!(placeholders(template).count(), 0, "not parameters");
    }

    #[test]
    fn placeholders_are_found_and_rendered() {
        let template = "INSERT INTO t VALUES ({id}, '{status}', '{now}') -- {not a name}";
        let names: Vec<&str> = placeholders(template).collect();
        assert_eq!(names, ["id", "status", "now"]);
        let values = BTreeMap::from([
            ("id", "7".to_owned()),
            ("status", "paid".to_owned()),
            ("now", timestamp_text(1_500_000)),
        ]);
        assert_eq!(
            render(template, &values),
            "INSERT INTO t VALUES (7, 'paid', '2026-01-01 00:00:01.500000') -- {not a name}"
        );
    }

    #[test]
    fn next_ids_are_shared_per_column_and_existing_keys_stay_in_range() {
        let mut keys = BTreeMap::from([("t.id".to_owned(), KeyRange { min: 1, max: 10 })]);
        let mut a = Param::new(ParamSpec::NextId("t.id".into()), SimRng::new(1, 1));
        let mut b = Param::new(ParamSpec::NextId("t.id".into()), SimRng::new(1, 2));
        assert_eq!(a.draw(&mut keys), "11");
        assert_eq!(b.draw(&mut keys), "12");
        let mut existing = Param::new(ParamSpec::ExistingKey("t.id".into()), SimRng::new(1, 3));
        for _ in 0..100 {
            let key: i64 = existing.draw(&mut keys).parse().expect("a number");
            assert!((1..=12).contains(&key));
        }
        let mut choice = Param::new(ParamSpec::Choice(vec!["it's".into()]), SimRng::new(1, 4));
        assert_eq!(choice.draw(&mut keys), "it''s");
    }
}
