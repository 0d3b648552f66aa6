//! What a statement gives back: its kind (from its leading keywords), and its result — rows of
//! display values, an affected-row count, or an acknowledgement — with the rows it read and
//! wrote.

use crate::sim::storage::RowCounters;
use gluesql::core::data::Value;
use gluesql::core::executor::{Payload, PayloadVariable};
use std::fmt;

/// What kind of statement was run, from its leading keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StatementKind {
    /// `SELECT`, `WITH …`, `VALUES …`.
    Query,
    /// `INSERT`.
    Insert,
    /// `UPDATE`.
    Update,
    /// `DELETE`.
    Delete,
    /// `CREATE TABLE`.
    CreateTable,
    /// `CREATE INDEX`.
    CreateIndex,
    /// `ALTER TABLE`.
    AlterTable,
    /// `DROP TABLE`.
    DropTable,
    /// `DROP INDEX`.
    DropIndex,
    /// `BEGIN` / `START TRANSACTION`.
    Begin,
    /// `COMMIT` / `END`.
    Commit,
    /// `ROLLBACK`.
    Rollback,
    /// `SHOW …`.
    Show,
    /// `SET …` (a connection setting).
    Set,
    /// Anything else (GlueSQL will say whether it knows it).
    Other,
}

impl StatementKind {
    /// Classifies a statement by its first keywords, whether or not it is valid SQL.
    pub fn of(sql: &str) -> Self {
        let mut words = sql
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .filter(|w| !w.is_empty())
            .map(str::to_ascii_uppercase);
        let first = words.next().unwrap_or_default();
        let second = words.next().unwrap_or_default();
        match (first.as_str(), second.as_str()) {
            ("SELECT" | "WITH" | "VALUES", _) => Self::Query,
            ("INSERT", _) => Self::Insert,
            ("UPDATE", _) => Self::Update,
            ("DELETE", _) => Self::Delete,
            ("CREATE", "TABLE") => Self::CreateTable,
            ("CREATE", "INDEX" | "UNIQUE") => Self::CreateIndex,
            ("ALTER", "TABLE") => Self::AlterTable,
            ("DROP", "TABLE") => Self::DropTable,
            ("DROP", "INDEX") => Self::DropIndex,
            ("BEGIN", _) | ("START", "TRANSACTION") => Self::Begin,
            ("COMMIT" | "END", _) => Self::Commit,
            ("ROLLBACK", _) => Self::Rollback,
            ("SHOW", _) => Self::Show,
            ("SET", _) => Self::Set,
            _ => Self::Other,
        }
    }

    /// Whether this is `BEGIN`, `COMMIT` or `ROLLBACK`.
    pub fn is_transaction_control(self) -> bool {
        matches!(self, Self::Begin | Self::Commit | Self::Rollback)
    }

    /// Whether a successful statement of this kind may change the schema (tables, columns,
    /// indexes), so a schema view must be refreshed.
    pub fn changes_schema(self) -> bool {
        matches!(
            self,
            Self::CreateTable
                | Self::CreateIndex
                | Self::AlterTable
                | Self::DropTable
                | Self::DropIndex
                | Self::Other
        )
    }

    /// Whether a successful statement of this kind may change rows (so row counts move).
    pub fn changes_rows(self) -> bool {
        matches!(
            self,
            Self::Insert | Self::Update | Self::Delete | Self::Rollback | Self::Other
        ) || self.changes_schema()
    }

    /// The SQL words for this kind, for labels (`"CREATE TABLE"`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Query => "SELECT",
            Self::Insert => "INSERT",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
            Self::CreateTable => "CREATE TABLE",
            Self::CreateIndex => "CREATE INDEX",
            Self::AlterTable => "ALTER TABLE",
            Self::DropTable => "DROP TABLE",
            Self::DropIndex => "DROP INDEX",
            Self::Begin => "BEGIN",
            Self::Commit => "COMMIT",
            Self::Rollback => "ROLLBACK",
            Self::Show => "SHOW",
            Self::Set => "SET",
            Self::Other => "SQL",
        }
    }
}

impl fmt::Display for StatementKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The broad type of a displayed value, so a table can align numbers and mark `NULL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CellKind {
    /// SQL `NULL`.
    Null,
    /// Integers, floats and decimals.
    Number,
    /// `TRUE` / `FALSE`.
    Bool,
    /// Text, dates, times, ids and everything else.
    Text,
}

/// One value of a result row, ready to display.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cell {
    /// The value as text (`NULL` for null).
    pub text: String,
    /// What kind of value it is.
    pub kind: CellKind,
}

impl Cell {
    /// The value as an SQL literal: `NULL`, a number or boolean as it is, anything else quoted
    /// (so a timestamp's text is read back by the column's type).
    pub fn sql_literal(&self) -> String {
        match self.kind {
            CellKind::Null => "NULL".to_owned(),
            CellKind::Number | CellKind::Bool => self.text.clone(),
            CellKind::Text => format!("'{}'", self.text.replace('\'', "''")),
        }
    }

    /// A stored value as the page shows it.
    pub fn from_value(value: &Value) -> Self {
        let kind = match value {
            Value::Null => CellKind::Null,
            Value::Bool(_) => CellKind::Bool,
            number if crate::sim::indexes::is_number(number) => CellKind::Number,
            _ => CellKind::Text,
        };
        Self {
            text: String::from(value),
            kind,
        }
    }

    /// [`Cell::from_value`], taking the value: a text's string is moved, not copied.
    pub fn from_owned(value: Value) -> Self {
        match value {
            Value::Str(text) => Self {
                text,
                kind: CellKind::Text,
            },
            other => Self::from_value(&other),
        }
    }
}

/// What a statement produced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Outcome {
    /// A result set: column names and rows of display values.
    Rows {
        /// Column labels, in order.
        columns: Vec<String>,
        /// Rows, each with one cell per column.
        rows: Vec<Vec<Cell>>,
    },
    /// Rows inserted, updated, deleted, or tables dropped.
    Affected(usize),
    /// The statement ran and has nothing to report (`CREATE TABLE`, `ALTER TABLE`, …).
    Done,
}

/// The result of one successful statement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatementResult {
    /// What kind of statement it was.
    pub kind: StatementKind,
    /// What it produced.
    pub outcome: Outcome,
    /// Rows it read and wrote in the storage.
    pub counters: RowCounters,
}

impl StatementResult {
    /// A one-line, plain-language summary: `"240 rows"`, `"3 rows updated"`, `"table created"`.
    pub fn summary(&self) -> String {
        fn rows(n: usize) -> String {
            if n == 1 {
                "1 row".to_owned()
            } else {
                format!("{n} rows")
            }
        }
        match (&self.outcome, self.kind) {
            (Outcome::Rows { rows: r, .. }, _) => rows(r.len()),
            (Outcome::Affected(n), StatementKind::Insert) => format!("{} inserted", rows(*n)),
            (Outcome::Affected(n), StatementKind::Update) => format!("{} updated", rows(*n)),
            (Outcome::Affected(n), StatementKind::Delete) => format!("{} deleted", rows(*n)),
            (Outcome::Affected(n), StatementKind::DropTable) => {
                format!("{n} table{} dropped", if *n == 1 { "" } else { "s" })
            }
            (Outcome::Affected(n), _) => format!("{} affected", rows(*n)),
            (Outcome::Done, StatementKind::CreateTable) => "table created".to_owned(),
            (Outcome::Done, StatementKind::CreateIndex) => "index created".to_owned(),
            (Outcome::Done, StatementKind::AlterTable) => "table altered".to_owned(),
            (Outcome::Done, StatementKind::DropIndex) => "index dropped".to_owned(),
            (Outcome::Done, StatementKind::Begin) => "transaction started".to_owned(),
            (Outcome::Done, StatementKind::Commit) => "committed".to_owned(),
            (Outcome::Done, StatementKind::Rollback) => "rolled back".to_owned(),
            (Outcome::Done, _) => "done".to_owned(),
        }
    }

    pub(crate) fn done(kind: StatementKind) -> Self {
        Self {
            kind,
            outcome: Outcome::Done,
            counters: RowCounters::default(),
        }
    }

    pub(crate) fn from_payload(
        kind: StatementKind,
        payload: Payload,
        counters: RowCounters,
    ) -> Self {
        let outcome = match payload {
            Payload::Select { labels, rows } => Outcome::Rows {
                columns: labels,
                rows: rows
                    .into_iter()
                    .map(|row| row.into_iter().map(Cell::from_owned).collect())
                    .collect(),
            },
            Payload::SelectMap(maps) => {
                // Schemaless rows: the union of their keys, in key order, as columns.
                let mut columns: Vec<String> =
                    maps.iter().flat_map(|m| m.keys().cloned()).collect();
                columns.sort();
                columns.dedup();
                let rows = maps
                    .iter()
                    .map(|m| {
                        columns
                            .iter()
                            .map(|c| Cell::from_value(m.get(c).unwrap_or(&Value::Null)))
                            .collect()
                    })
                    .collect();
                Outcome::Rows { columns, rows }
            }
            Payload::ShowColumns(columns) => Outcome::Rows {
                columns: vec!["column".to_owned(), "type".to_owned()],
                rows: columns
                    .into_iter()
                    .map(|(name, data_type)| {
                        vec![text_cell(name), text_cell(data_type.to_string())]
                    })
                    .collect(),
            },
            Payload::ShowVariable(variable) => {
                let (column, values) = match variable {
                    PayloadVariable::Tables(names) => ("table", names),
                    PayloadVariable::Functions(names) => ("function", names),
                    PayloadVariable::Version(version) => ("version", vec![version]),
                };
                Outcome::Rows {
                    columns: vec![column.to_owned()],
                    rows: values.into_iter().map(|v| vec![text_cell(v)]).collect(),
                }
            }
            Payload::Insert(n)
            | Payload::Update(n)
            | Payload::Delete(n)
            | Payload::DropTable(n) => Outcome::Affected(n),
            Payload::Create
            | Payload::DropFunction
            | Payload::AlterTable
            | Payload::CreateIndex
            | Payload::DropIndex
            | Payload::StartTransaction
            | Payload::Commit
            | Payload::Rollback => Outcome::Done,
        };
        Self {
            kind,
            outcome,
            counters,
        }
    }
}

fn text_cell(text: String) -> Cell {
    Cell {
        text,
        kind: CellKind::Text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(text: &str, kind: CellKind) -> Cell {
        Cell {
            text: text.to_owned(),
            kind,
        }
    }

    #[test]
    fn literals_quote_text_and_keep_numbers_and_null() {
        assert_eq!(cell("42", CellKind::Number).sql_literal(), "42");
        assert_eq!(cell("NULL", CellKind::Null).sql_literal(), "NULL");
        assert_eq!(cell("O'Hara", CellKind::Text).sql_literal(), "'O''Hara'");
    }

    #[test]
    fn a_value_taken_shows_as_the_same_value_borrowed() {
        let values = [
            Value::Str("paid".to_owned()),
            Value::I64(-7),
            Value::F64(2.5),
            Value::Bool(true),
            Value::Null,
        ];
        for value in values {
            assert_eq!(Cell::from_owned(value.clone()), Cell::from_value(&value));
        }
    }
}
