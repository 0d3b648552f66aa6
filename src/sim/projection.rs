//! Read models defined by SQL and maintained incrementally: a `GROUP BY` query over one table
//! that another service owns, declared per service in the `cdc` mode —
//! `projections = { revenue_by_status = "SELECT status, COUNT(*) AS orders, SUM(total_cents) AS
//! revenue_cents FROM orders GROUP BY status" }` — kept as a table of that name in the reader's
//! database and updated from the source table's change events instead of being run again. A
//! statement of the service that *is* the projection's query (the same parsed SQL) reads the
//! table instead: the same templates run in every mode, and in `cdc` the report that scanned
//! and grouped every order reads a handful of rows.
//!
//! The model is a stream processor's aggregation over a changelog — Kafka Streams'
//! `KTable.groupBy(…).aggregate(…)` with an adder and a subtractor — whose results a sink writes
//! as SQL: a state store keeps each source row's last *contribution* (its group and the values
//! it adds), so an event subtracts the row's previous contribution and adds its new one. That
//! works whatever the source's `REPLICA IDENTITY` (an update need not carry its `before`), a
//! tombstone removes its row's contribution, and a compacted topic replayed from the beginning
//! gives the same result. Each group a batch changes is written once: `INSERT` for a new group
//! (after a `DELETE` of any stale row of that group), `UPDATE` with its new values, `DELETE`
//! when its last row left — the statements PostgreSQL's `pg_ivm` extension issues for an
//! incrementally maintained aggregate view.
//!
//! Supported: one source table; `GROUP BY` plain columns, each of them selected; aggregates
//! `COUNT(*)`, `COUNT(col)`, `SUM(col)` and `AVG(col)` (numeric columns), each named with `AS`;
//! no `WHERE`, `HAVING`, `DISTINCT`, `ORDER BY` or `LIMIT`. `MIN` and `MAX` are refused: when
//! the row holding the minimum leaves, the new minimum needs the group's other rows.
//! Aggregates skip NULLs as in PostgreSQL and standard SQL (GlueSQL's own `SUM` is NULL as soon
//! as one value is, so with NULLs in a summed column the source's query and the projection
//! differ). A query without `GROUP BY` keeps one row, as SQL returns one for an empty table.
//!
//! Limitation: a rebuild empties the table while a batch may still be applying; that batch's
//! rows are rewritten by the replay (each group a replay touches is deleted, then inserted),
//! except a group that no longer exists at all, which stays until its table is emptied again.

use crate::sim::sink::{literal, SinkColumn};
use crate::sim::statement::Command;
use gluesql::core::ast::{
    AggregateFunction, CountArgExpr, DataType, Expr, Projection, SelectItem, SetExpr, Statement,
    TableFactor,
};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;
use std::rc::Rc;
use thiserror::Error;

/// Why a projection's SQL cannot be maintained incrementally, or an event cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProjectionError {
    /// The SQL does not parse.
    #[error("does not parse: {0}")]
    Parse(String),
    /// The SQL is not a `SELECT`.
    #[error("is not a SELECT: a projection is defined by a query")]
    NotAQuery,
    /// A clause the incremental maintenance does not support.
    #[error("has {0}, which a projection does not support (GROUP BY columns with COUNT, SUM and AVG over one table)")]
    Unsupported(&'static str),
    /// The query reads no table or more than one.
    #[error("must read exactly one table, without joins")]
    OneTable,
    /// A selected column is neither a `GROUP BY` column nor an aggregate.
    #[error("selects \"{0}\", which is neither a GROUP BY column nor an aggregate")]
    NotGrouped(String),
    /// A `GROUP BY` column is not selected, so the table could not be kept by group.
    #[error("groups by \"{0}\" without selecting it: select every GROUP BY column")]
    GroupNotSelected(String),
    /// A `GROUP BY` or aggregate argument that is not a plain column.
    #[error("uses {0}, which is not a plain column: a projection groups and aggregates columns")]
    NotAColumn(String),
    /// `MIN` or `MAX`: when the row holding the value leaves, the new one needs the group's
    /// other rows.
    #[error("uses {0}, which cannot be maintained from changes alone: when the row holding it leaves, the new value needs the group's other rows (use COUNT, SUM or AVG)")]
    MinMax(String),
    /// Another aggregate than `COUNT`, `SUM`, `AVG`, `MIN` and `MAX`.
    #[error("uses {0}, which a projection does not keep (use COUNT, SUM or AVG)")]
    UnsupportedAggregate(String),
    /// An aggregate without a usable column name.
    #[error("needs a name for {0}: write {0} AS some_name")]
    Unnamed(String),
    /// Two columns with one name.
    #[error("names two columns \"{0}\"")]
    Duplicate(String),
    /// A column the source table does not have.
    #[error("uses \"{0}\", which is not a column of {1}")]
    UnknownColumn(String, String),
    /// `SUM` or `AVG` of a column that is not a number.
    #[error("sums \"{0}\", a {1} column: SUM and AVG need a numeric column")]
    NotNumeric(String, String),
    /// A value the projection sums is not a number.
    #[error("\"{0}\" holds {1}, which is not a number")]
    NotANumber(String, String),
    /// A change event's row lacks a column the projection uses (renamed or dropped at the
    /// source).
    #[error("the row has no column \"{0}\"")]
    MissingField(String),
}

/// What a column of a projection holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A `GROUP BY` column of the source.
    Group(String),
    /// `COUNT(*)`.
    CountRows,
    /// `COUNT(col)`: the rows where `col` is not NULL.
    Count(String),
    /// `SUM(col)`.
    Sum(String),
    /// `AVG(col)`.
    Avg(String),
}

impl Output {
    /// The source column an aggregate reads.
    fn input(&self) -> Option<&str> {
        match self {
            Self::Count(c) | Self::Sum(c) | Self::Avg(c) => Some(c),
            Self::Group(_) | Self::CountRows => None,
        }
    }
}

/// A projection's column: its name in the table and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionColumn {
    /// The column's name (the query's `AS` name, or the grouped column's).
    pub name: String,
    /// What it holds.
    pub output: Output,
}

/// A projection's defining query, parsed and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionQuery {
    /// The SQL as written.
    pub sql: String,
    /// The table it reads.
    pub source: String,
    /// The source columns it groups by, in order.
    pub group_by: Vec<String>,
    /// Its columns, in the query's order.
    pub columns: Vec<ProjectionColumn>,
    /// The parsed statement written back as SQL, to recognise the same query written
    /// differently.
    normalized: String,
}

impl ProjectionQuery {
    /// The names its group columns have in its result (and in its table), in order.
    pub fn group_labels(&self) -> Vec<String> {
        self.columns
            .iter()
            .filter(|c| matches!(c.output, Output::Group(_)))
            .map(|c| c.name.clone())
            .collect()
    }

    /// Parses and checks `sql`.
    ///
    /// # Errors
    ///
    /// A [`ProjectionError`] saying what the incremental maintenance cannot keep.
    pub fn parse(sql: &str) -> Result<Self, ProjectionError> {
        let statement = parse_statement(sql)?;
        let Statement::Query(query) = &statement else {
            return Err(ProjectionError::NotAQuery);
        };
        if !query.order_by.is_empty() {
            return Err(ProjectionError::Unsupported("ORDER BY"));
        }
        if query.limit.is_some() || query.offset.is_some() {
            return Err(ProjectionError::Unsupported("LIMIT or OFFSET"));
        }
        let SetExpr::Select(select) = &query.body else {
            return Err(ProjectionError::NotAQuery);
        };
        if select.distinct {
            return Err(ProjectionError::Unsupported("DISTINCT"));
        }
        if select.selection.is_some() {
            return Err(ProjectionError::Unsupported("a WHERE clause"));
        }
        if select.having.is_some() {
            return Err(ProjectionError::Unsupported("HAVING"));
        }
        let TableFactor::Table { name: source, .. } = &select.from.relation else {
            return Err(ProjectionError::OneTable);
        };
        if !select.from.joins.is_empty() {
            return Err(ProjectionError::OneTable);
        }
        let group_by = select
            .group_by
            .iter()
            .map(column_of)
            .collect::<Result<Vec<_>, _>>()?;
        let Projection::SelectItems(items) = &select.projection;
        let mut columns: Vec<ProjectionColumn> = Vec::new();
        for item in items {
            let SelectItem::Expr { expr, label } = item else {
                return Err(ProjectionError::NotGrouped("*".to_owned()));
            };
            let output = match expr {
                Expr::Aggregate(aggregate) => {
                    if aggregate.distinct {
                        return Err(ProjectionError::Unsupported("an aggregate over DISTINCT"));
                    }
                    match &aggregate.func {
                        AggregateFunction::Count(CountArgExpr::Wildcard) => Output::CountRows,
                        AggregateFunction::Count(CountArgExpr::Expr(e)) => {
                            Output::Count(column_of(e)?)
                        }
                        AggregateFunction::Sum(e) => Output::Sum(column_of(e)?),
                        AggregateFunction::Avg(e) => Output::Avg(column_of(e)?),
                        AggregateFunction::Min(_) | AggregateFunction::Max(_) => {
                            return Err(ProjectionError::MinMax(sql_of(expr)))
                        }
                        AggregateFunction::Variance(_) | AggregateFunction::Stdev(_) => {
                            return Err(ProjectionError::UnsupportedAggregate(sql_of(expr)))
                        }
                    }
                }
                other => {
                    let column =
                        column_of(other).map_err(|_| ProjectionError::NotGrouped(sql_of(other)))?;
                    if !group_by.contains(&column) {
                        return Err(ProjectionError::NotGrouped(column));
                    }
                    Output::Group(column)
                }
            };
            if !is_table_name(label) {
                return Err(ProjectionError::Unnamed(sql_of(expr)));
            }
            if columns.iter().any(|c| c.name == *label) {
                return Err(ProjectionError::Duplicate(label.clone()));
            }
            columns.push(ProjectionColumn {
                name: label.clone(),
                output,
            });
        }
        if let Some(missing) = group_by.iter().find(|g| {
            !columns
                .iter()
                .any(|c| c.output == Output::Group((*g).clone()))
        }) {
            return Err(ProjectionError::GroupNotSelected(missing.clone()));
        }
        Ok(Self {
            sql: sql.trim().to_owned(),
            source: source.clone(),
            group_by,
            columns,
            normalized: normalize(&statement),
        })
    }

    /// Whether `sql` is this query (the same statement once parsed: spacing and keyword case
    /// do not matter).
    pub fn answers(&self, sql: &str) -> bool {
        parse_statement(sql).is_ok_and(|s| normalize(&s) == self.normalized)
    }

    /// The query that reads the projection `name`: its columns, in the defining query's order.
    pub fn read_sql(&self, name: &str) -> String {
        let names: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        format!("SELECT {} FROM {name}", names.join(", "))
    }

    /// The projection table's columns, given the source table's.
    ///
    /// # Errors
    ///
    /// [`ProjectionError::UnknownColumn`] or [`ProjectionError::NotNumeric`].
    pub fn table_columns(&self, source: &[SinkColumn]) -> Result<Vec<SinkColumn>, ProjectionError> {
        let type_of = |name: &str| {
            source
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.data_type.clone())
                .ok_or_else(|| ProjectionError::UnknownColumn(name.to_owned(), self.source.clone()))
        };
        self.columns
            .iter()
            .map(|column| {
                let data_type = match &column.output {
                    Output::Group(c) => type_of(c)?,
                    Output::CountRows => DataType::Int,
                    Output::Count(c) => {
                        type_of(c)?;
                        DataType::Int
                    }
                    Output::Sum(c) | Output::Avg(c) => {
                        let data_type = type_of(c)?;
                        let kind = Number::of(&data_type).ok_or_else(|| {
                            ProjectionError::NotNumeric(c.clone(), data_type.to_string())
                        })?;
                        match (&column.output, kind) {
                            (Output::Sum(_), Number::Int(_)) => DataType::Int,
                            _ => DataType::Float,
                        }
                    }
                };
                Ok(SinkColumn {
                    name: column.name.clone(),
                    data_type,
                })
            })
            .collect()
    }
}

/// The projection among `projections` (name, query) whose query `sql` is, if any: the one a
/// statement reads instead in the `cdc` mode.
pub fn answering<'a>(
    projections: &'a [(String, ProjectionQuery)],
    sql: &str,
) -> Option<&'a (String, ProjectionQuery)> {
    projections.iter().find(|(_, query)| query.answers(sql))
}

/// A number an aggregate adds up: integers exactly, floats as floats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// An integer.
    Int(i128),
    /// A float.
    Float(f64),
}

impl Number {
    /// Zero of the kind a column of `data_type` sums to, if it is numeric.
    fn of(data_type: &DataType) -> Option<Self> {
        match data_type {
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int
            | DataType::Int128
            | DataType::Uint8
            | DataType::Uint16
            | DataType::Uint32
            | DataType::Uint64
            | DataType::Uint128 => Some(Self::Int(0)),
            DataType::Float32 | DataType::Float => Some(Self::Float(0.0)),
            _ => None,
        }
    }

    /// `self + sign * other`.
    fn add(self, other: Self, sign: i8) -> Self {
        match (self, other) {
            (Self::Int(a), Self::Int(b)) => Self::Int(a + i128::from(sign) * b),
            (a, b) => Self::Float(a.as_f64() + f64::from(sign) * b.as_f64()),
        }
    }

    /// Zero of the same kind.
    fn zero(self) -> Self {
        match self {
            Self::Int(_) => Self::Int(0),
            Self::Float(_) => Self::Float(0.0),
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            Self::Int(v) => v as f64,
            Self::Float(v) => v,
        }
    }
}

/// What one source row adds to its group.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    /// Its group: the `GROUP BY` columns' values as SQL literals.
    group: Vec<String>,
    /// Per projection column, the value its aggregate reads (`None` when NULL or when the
    /// column is not an aggregate of a column).
    inputs: Vec<Option<Number>>,
}

/// A group's aggregates: its rows, and per column the non-NULL values and their sum.
#[derive(Debug, Clone, PartialEq)]
struct Totals {
    rows: i64,
    sums: Vec<(i64, Number)>,
}

/// The changes of one batch to a projection: the new contribution of each source row it
/// touched (`None`: the row is gone), the statements that write the changed groups, and the
/// groups' new totals — kept by [`ProjectionStore::commit`] once the batch committed.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectionUpdate {
    /// The SQL, in order.
    pub statements: Vec<String>,
    keys: BTreeMap<Rc<str>, Option<Contribution>>,
    groups: BTreeMap<Vec<String>, Totals>,
}

/// A projection's state store and table: what each source row contributes, and each group's
/// totals, as written in the table.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectionStore {
    name: String,
    query: ProjectionQuery,
    /// The projection table's columns.
    columns: Vec<SinkColumn>,
    /// The source's column types, for the group literals and the numbers.
    source: Vec<SinkColumn>,
    contributions: BTreeMap<Rc<str>, Contribution>,
    groups: BTreeMap<Vec<String>, Totals>,
}

impl ProjectionStore {
    /// An empty store for projection `name` of `query`, whose source table has `source`'s
    /// columns.
    ///
    /// # Errors
    ///
    /// A [`ProjectionError`] if the query uses a column the source lacks or sums a column that
    /// is not numeric.
    pub fn new(
        name: &str,
        query: ProjectionQuery,
        source: &[SinkColumn],
    ) -> Result<Self, ProjectionError> {
        let columns = query.table_columns(source)?;
        Ok(Self {
            name: name.to_owned(),
            query,
            columns,
            source: source.to_vec(),
            contributions: BTreeMap::new(),
            groups: BTreeMap::new(),
        })
    }

    /// The projection's name: its table's.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its defining query.
    pub fn query(&self) -> &ProjectionQuery {
        &self.query
    }

    /// The rows its table holds now: one per group (always one without `GROUP BY`).
    pub fn groups(&self) -> usize {
        if self.query.group_by.is_empty() {
            1
        } else {
            self.groups.len()
        }
    }

    /// The `CREATE TABLE` of its table.
    pub fn create_sql(&self) -> String {
        let columns: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("{} {}", c.name, c.data_type))
            .collect();
        format!("CREATE TABLE {} ({})", self.name, columns.join(", "))
    }

    /// Forgets every contribution (the table is emptied by the caller): before a rebuild.
    pub fn clear(&mut self) {
        self.contributions.clear();
        self.groups.clear();
    }

    /// What the row `after` (a change event's `after`, Debezium's JSON) contributes.
    ///
    /// # Errors
    ///
    /// [`ProjectionError::MissingField`] when the row lacks a column the projection uses.
    pub fn contribution(&self, after: &Map<String, Json>) -> Result<Contribution, ProjectionError> {
        let field = |name: &str| {
            after
                .get(name)
                .ok_or_else(|| ProjectionError::MissingField(name.to_owned()))
        };
        let type_of = |name: &str| {
            self.source
                .iter()
                .find(|c| c.name == name)
                .map(|c| &c.data_type)
        };
        let group = self
            .query
            .group_by
            .iter()
            .map(|g| Ok(literal(field(g)?, type_of(g))))
            .collect::<Result<Vec<_>, ProjectionError>>()?;
        let inputs = self
            .query
            .columns
            .iter()
            .map(|column| {
                let Some(input) = column.output.input() else {
                    return Ok(None);
                };
                let value = field(input)?;
                if value.is_null() {
                    return Ok(None);
                }
                let number = match type_of(input).and_then(Number::of) {
                    // INT128 and UINT128 arrive as strings (Debezium's JSON has no such numbers).
                    Some(Number::Int(_)) => match value {
                        Json::String(text) => text.parse::<i128>().ok(),
                        other => other
                            .as_i64()
                            .map(i128::from)
                            .or_else(|| other.as_u64().map(i128::from)),
                    }
                    .map(Number::Int),
                    Some(Number::Float(_)) => value.as_f64().map(Number::Float),
                    // COUNT(col) of a column that is not a number: only its presence counts.
                    None => Some(Number::Int(0)),
                };
                number
                    .map(Some)
                    .ok_or_else(|| ProjectionError::NotANumber(input.to_owned(), value.to_string()))
            })
            .collect::<Result<Vec<_>, ProjectionError>>()?;
        Ok(Contribution { group, inputs })
    }

    /// The update that gives each of `keys` (source rows, by their key) its new contribution
    /// (`None`: the row is gone): the groups they leave and join get their new totals, written
    /// with one statement each (two for a new group).
    pub fn update(&self, keys: BTreeMap<Rc<str>, Option<Contribution>>) -> ProjectionUpdate {
        let mut groups: BTreeMap<Vec<String>, Totals> = BTreeMap::new();
        let mut existed: BTreeMap<Vec<String>, bool> = BTreeMap::new();
        let mut change = |contribution: &Contribution, sign: i8| {
            let totals = groups.entry(contribution.group.clone()).or_insert_with(|| {
                existed.insert(
                    contribution.group.clone(),
                    self.groups.contains_key(&contribution.group),
                );
                self.groups
                    .get(&contribution.group)
                    .cloned()
                    .unwrap_or_else(|| self.empty_totals())
            });
            totals.rows += i64::from(sign);
            debug_assert!(totals.rows >= 0, "a group lost a row it did not have");
            for ((count, sum), input) in totals.sums.iter_mut().zip(&contribution.inputs) {
                if let Some(value) = input {
                    *count += i64::from(sign);
                    // A float sum kept by adding and subtracting drifts in its last digits;
                    // it starts again from zero whenever its group has no value left.
                    *sum = if *count == 0 {
                        sum.zero()
                    } else {
                        sum.add(*value, sign)
                    };
                }
            }
        };
        for (key, new) in &keys {
            if let Some(old) = self.contributions.get(key) {
                change(old, -1);
            }
            if let Some(new) = new {
                change(new, 1);
            }
        }
        let keep_empty = self.query.group_by.is_empty();
        let mut statements = Vec::new();
        for (group, totals) in &groups {
            let condition = self.condition(group);
            let was = existed.get(group).copied().unwrap_or(false);
            if totals.rows == 0 && !keep_empty {
                if was {
                    statements.push(format!("DELETE FROM {} WHERE {condition}", self.name));
                }
            } else if was {
                let sets: Vec<String> = self
                    .values(group, totals)
                    .into_iter()
                    .zip(&self.query.columns)
                    .filter(|(_, c)| !matches!(c.output, Output::Group(_)))
                    .map(|(value, c)| format!("{} = {value}", c.name))
                    .collect();
                statements.push(format!(
                    "UPDATE {} SET {} WHERE {condition}",
                    self.name,
                    sets.join(", ")
                ));
            } else {
                statements.push(format!("DELETE FROM {} WHERE {condition}", self.name));
                statements.push(self.insert_sql(group, totals));
            }
        }
        ProjectionUpdate {
            statements,
            keys,
            groups,
        }
    }

    /// Keeps `update` (its batch committed).
    pub fn commit(&mut self, update: ProjectionUpdate) {
        for (key, contribution) in update.keys {
            match contribution {
                Some(c) => {
                    self.contributions.insert(key, c);
                }
                None => {
                    self.contributions.remove(&key);
                }
            }
        }
        let keep_empty = self.query.group_by.is_empty();
        for (group, totals) in update.groups {
            if totals.rows == 0 && !keep_empty {
                self.groups.remove(&group);
            } else {
                self.groups.insert(group, totals);
            }
        }
    }

    /// The statements that write a query without `GROUP BY` over an empty table: its one row.
    pub fn initial_statements(&self) -> Vec<String> {
        if self.query.group_by.is_empty() && self.groups.is_empty() {
            vec![self.insert_sql(&[], &self.empty_totals())]
        } else {
            Vec::new()
        }
    }

    fn empty_totals(&self) -> Totals {
        Totals {
            rows: 0,
            sums: self
                .query
                .columns
                .iter()
                .map(|c| {
                    let zero = c
                        .output
                        .input()
                        .and_then(|i| self.source.iter().find(|s| s.name == i))
                        .and_then(|s| Number::of(&s.data_type))
                        .unwrap_or(Number::Int(0));
                    (0, zero)
                })
                .collect(),
        }
    }

    fn condition(&self, group: &[String]) -> String {
        if group.is_empty() {
            return "TRUE".to_owned();
        }
        let parts: Vec<String> = self
            .query
            .group_by
            .iter()
            .zip(group)
            .map(|(column, value)| {
                let name = self.group_column_name(column);
                if value == "NULL" {
                    format!("{name} IS NULL")
                } else {
                    format!("{name} = {value}")
                }
            })
            .collect();
        parts.join(" AND ")
    }

    /// The projection column that holds the source's `GROUP BY` column `column`.
    fn group_column_name<'a>(&'a self, column: &'a str) -> &'a str {
        self.query
            .columns
            .iter()
            .find(|c| c.output == Output::Group(column.to_owned()))
            .map_or(column, |c| c.name.as_str())
    }

    /// The row of `group` with `totals`, as SQL literals in column order.
    fn values(&self, group: &[String], totals: &Totals) -> Vec<String> {
        self.query
            .columns
            .iter()
            .zip(&totals.sums)
            .map(|(column, (count, sum))| match &column.output {
                Output::Group(c) => self
                    .query
                    .group_by
                    .iter()
                    .position(|g| g == c)
                    .and_then(|i| group.get(i))
                    .cloned()
                    .unwrap_or_else(|| "NULL".to_owned()),
                Output::CountRows => totals.rows.to_string(),
                Output::Count(_) => count.to_string(),
                Output::Sum(_) if *count == 0 => "NULL".to_owned(),
                Output::Sum(_) => match sum {
                    Number::Int(v) => v.to_string(),
                    Number::Float(v) => float_literal(*v),
                },
                Output::Avg(_) if *count == 0 => "NULL".to_owned(),
                Output::Avg(_) => float_literal(sum.as_f64() / *count as f64),
            })
            .collect()
    }

    fn insert_sql(&self, group: &[String], totals: &Totals) -> String {
        let names: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        format!(
            "INSERT INTO {} ({}) VALUES ({})",
            self.name,
            names.join(", "),
            self.values(group, totals).join(", ")
        )
    }
}

/// A float as an SQL literal GlueSQL reads as a float.
fn float_literal(v: f64) -> String {
    if v.is_finite() {
        let text = format!("{v}");
        if text.contains('.') {
            text
        } else {
            format!("{text}.0")
        }
    } else {
        "NULL".to_owned()
    }
}

fn parse_statement(sql: &str) -> Result<Statement, ProjectionError> {
    match crate::sim::database::Connection::prepare(sql) {
        Ok(Command::Sql {
            statement,
            locking: None,
        }) => Ok(statement),
        Ok(_) => Err(ProjectionError::NotAQuery),
        Err(e) => Err(ProjectionError::Parse(e.to_string())),
    }
}

/// The column `expr` names.
fn column_of(expr: &Expr) -> Result<String, ProjectionError> {
    match expr {
        Expr::Identifier(name) => Ok(name.clone()),
        Expr::CompoundIdentifier { ident, .. } => Ok(ident.clone()),
        other => Err(ProjectionError::NotAColumn(sql_of(other))),
    }
}

fn sql_of(expr: &Expr) -> String {
    use gluesql::core::ast::ToSql;
    expr.to_sql().replace('"', "")
}

/// A statement as GlueSQL writes it back: one spelling for the many ways to write it.
fn normalize(statement: &Statement) -> String {
    use gluesql::core::ast::ToSql;
    match statement {
        Statement::Query(query) => query.to_sql(),
        _ => String::new(),
    }
}

/// Whether `name` can name a table or a column without quotes: a letter or `_`, then letters,
/// digits and `_`.
pub fn is_table_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::database::{Database, Outcome};

    const SQL: &str = "SELECT status, COUNT(*) AS orders, SUM(total_cents) AS revenue_cents, \
                       AVG(total_cents) AS average_cents, COUNT(note) AS noted FROM orders \
                       GROUP BY status";

    fn source() -> Vec<SinkColumn> {
        [
            ("id", DataType::Int),
            ("status", DataType::Text),
            ("total_cents", DataType::Int),
            ("note", DataType::Text),
        ]
        .into_iter()
        .map(|(name, data_type)| SinkColumn {
            name: name.into(),
            data_type,
        })
        .collect()
    }

    fn store() -> ProjectionStore {
        let query = ProjectionQuery::parse(SQL).expect("a projection");
        ProjectionStore::new("by_status", query, &source()).expect("a store")
    }

    fn row(id: i64, status: &str, total: Option<i64>, note: Option<&str>) -> Map<String, Json> {
        let mut map = Map::new();
        map.insert("id".into(), Json::from(id));
        map.insert("status".into(), Json::from(status));
        map.insert("total_cents".into(), total.map_or(Json::Null, Json::from));
        map.insert("note".into(), note.map_or(Json::Null, Json::from));
        map
    }

    /// Applies `changes` (key, new row) as one batch, on `db` too.
    fn apply(
        store: &mut ProjectionStore,
        db: &mut Database,
        changes: &[(i64, Option<Map<String, Json>>)],
    ) -> Vec<String> {
        let keys = changes
            .iter()
            .map(|(key, after)| {
                let contribution = after
                    .as_ref()
                    .map(|a| store.contribution(a).expect("a contribution"));
                (Rc::from(format!("{{\"id\":{key}}}").as_str()), contribution)
            })
            .collect();
        let update = store.update(keys);
        for sql in &update.statements {
            db.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        let statements = update.statements.clone();
        store.commit(update);
        statements
    }

    fn rows(db: &mut Database, sql: &str) -> Vec<Vec<String>> {
        match db.execute(sql).expect("a query").outcome {
            Outcome::Rows { rows, .. } => {
                let mut rows: Vec<Vec<String>> = rows
                    .into_iter()
                    .map(|r| r.into_iter().map(|c| c.text).collect())
                    .collect();
                rows.sort();
                rows
            }
            other => panic!("not rows: {other:?}"),
        }
    }

    #[test]
    fn the_query_is_read_into_groups_and_aggregates() {
        let query = ProjectionQuery::parse(SQL).expect("a projection");
        assert_eq!(query.source, "orders");
        assert_eq!(query.group_by, ["status"]);
        let outputs: Vec<&Output> = query.columns.iter().map(|c| &c.output).collect();
        assert_eq!(
            outputs,
            [
                &Output::Group("status".into()),
                &Output::CountRows,
                &Output::Sum("total_cents".into()),
                &Output::Avg("total_cents".into()),
                &Output::Count("note".into()),
            ]
        );
        assert!(query.answers(
            "select status, count(*) as orders, sum(total_cents) as revenue_cents,\n  \
             avg(total_cents) as average_cents, count(note) as noted from orders group by status"
        ));
        assert!(!query.answers("SELECT status, COUNT(*) AS orders FROM orders GROUP BY status"));
        assert_eq!(
            query.read_sql("by_status"),
            "SELECT status, orders, revenue_cents, average_cents, noted FROM by_status"
        );
    }

    #[test]
    fn what_cannot_be_maintained_is_refused_with_the_reason() {
        let cases = [
            ("SELECT status, COUNT(*) AS n FROM orders WHERE id > 3 GROUP BY status", "WHERE"),
            ("SELECT status, MIN(total_cents) AS low FROM orders GROUP BY status", "group's other rows"),
            ("SELECT status, COUNT(*) FROM orders GROUP BY status", "AS some_name"),
            ("SELECT status, id, COUNT(*) AS n FROM orders GROUP BY status", "neither"),
            ("SELECT COUNT(*) AS n FROM orders GROUP BY status", "without selecting"),
            ("SELECT o.status, COUNT(*) AS n FROM orders o JOIN customers c ON o.id = c.id GROUP BY o.status", "one table"),
            ("SELECT status, COUNT(*) AS n FROM orders GROUP BY status ORDER BY status", "ORDER BY"),
            ("SELECT status, SUM(total_cents + 1) AS n FROM orders GROUP BY status", "plain column"),
            ("DELETE FROM orders", "not a SELECT"),
            ("SELEKT", "does not parse"),
        ];
        for (sql, expected) in cases {
            let error = ProjectionQuery::parse(sql).expect_err(sql).to_string();
            assert!(error.contains(expected), "{sql}: {error}");
        }
        let query =
            ProjectionQuery::parse("SELECT status, SUM(note) AS n FROM orders GROUP BY status")
                .expect("parses");
        let error = ProjectionStore::new("p", query, &source()).expect_err("text");
        assert!(error.to_string().contains("numeric"), "{error}");
        let query =
            ProjectionQuery::parse("SELECT state, COUNT(*) AS n FROM orders GROUP BY state")
                .expect("parses");
        let error = ProjectionStore::new("p", query, &source()).expect_err("no column");
        assert!(
            error.to_string().contains("not a column of orders"),
            "{error}"
        );
    }

    #[test]
    fn changes_move_rows_between_groups_and_the_table_equals_the_query() {
        let mut store = store();
        let mut db = Database::new("t");
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, total_cents INTEGER, note TEXT)")
            .expect("source");
        db.execute(&store.create_sql()).expect("projection table");
        let read = store.query().read_sql("by_status");
        let check = |db: &mut Database| {
            let source = rows(db, SQL);
            let projection = rows(db, &read);
            assert_eq!(source, projection);
        };
        // Inserts: two groups appear with INSERTs.
        let statements = apply(
            &mut store,
            &mut db,
            &[
                (1, Some(row(1, "pending", Some(100), None))),
                (2, Some(row(2, "pending", Some(300), Some("gift")))),
                (3, Some(row(3, "paid", Some(50), None))),
            ],
        );
        assert!(
            statements
                .iter()
                .filter(|s| s.starts_with("INSERT"))
                .count()
                == 2
        );
        for (id, status, total, note) in [
            (1, "pending", 100, "NULL"),
            (2, "pending", 300, "'gift'"),
            (3, "paid", 50, "NULL"),
        ] {
            db.execute(&format!(
                "INSERT INTO orders VALUES ({id}, '{status}', {total}, {note})"
            ))
            .expect("insert");
        }
        check(&mut db);
        // An update moves a row to another group: both groups are UPDATEd.
        let statements = apply(
            &mut store,
            &mut db,
            &[(1, Some(row(1, "paid", Some(100), None)))],
        );
        assert!(
            statements.iter().all(|s| s.starts_with("UPDATE")),
            "{statements:?}"
        );
        db.execute("UPDATE orders SET status = 'paid' WHERE id = 1")
            .expect("update");
        check(&mut db);
        // A delete empties a group: it is deleted.
        let statements = apply(&mut store, &mut db, &[(2, None)]);
        assert_eq!(
            statements,
            ["DELETE FROM by_status WHERE status = 'pending'"]
        );
        db.execute("DELETE FROM orders WHERE id = 2")
            .expect("delete");
        check(&mut db);
        assert_eq!(store.groups(), 1);
        // The same row delivered again (in a batch of its own) changes nothing.
        apply(
            &mut store,
            &mut db,
            &[(3, Some(row(3, "paid", Some(70), None)))],
        );
        apply(
            &mut store,
            &mut db,
            &[(3, Some(row(3, "paid", Some(70), None)))],
        );
        db.execute("UPDATE orders SET total_cents = 70 WHERE id = 3")
            .expect("update");
        check(&mut db);
    }

    #[test]
    fn nulls_are_skipped_and_a_null_group_is_a_group() {
        let mut store = store();
        let mut db = Database::new("t");
        db.execute(&store.create_sql()).expect("projection table");
        let mut nameless = row(1, "x", None, None);
        nameless.insert("status".into(), Json::Null);
        apply(
            &mut store,
            &mut db,
            &[(1, Some(nameless)), (2, Some(row(2, "x", None, None)))],
        );
        let rows = rows(
            &mut db,
            "SELECT status, orders, revenue_cents, average_cents FROM by_status",
        );
        // Sorted: "NULL" before "x".
        assert_eq!(rows[0], ["NULL", "1", "NULL", "NULL"]);
        assert_eq!(rows[1], ["x", "1", "NULL", "NULL"]);
        apply(&mut store, &mut db, &[(1, None)]);
        assert_eq!(store.groups(), 1);
    }

    #[test]
    fn a_query_without_group_by_keeps_its_one_row() {
        let query = ProjectionQuery::parse(
            "SELECT COUNT(*) AS orders, SUM(total_cents) AS revenue FROM orders",
        )
        .expect("parses");
        let mut store = ProjectionStore::new("totals", query, &source()).expect("a store");
        let mut db = Database::new("t");
        db.execute(&store.create_sql()).expect("table");
        for sql in store.initial_statements() {
            db.execute(&sql).expect("initial row");
        }
        assert_eq!(rows(&mut db, "SELECT * FROM totals"), [["0", "NULL"]]);
        apply(
            &mut store,
            &mut db,
            &[(1, Some(row(1, "a", Some(5), None)))],
        );
        apply(&mut store, &mut db, &[(1, None)]);
        assert_eq!(rows(&mut db, "SELECT * FROM totals"), [["0", "NULL"]]);
    }

    #[test]
    fn a_float_sum_starts_again_from_zero_when_its_group_has_no_value_left() {
        let float_source = vec![
            SinkColumn {
                name: "id".into(),
                data_type: DataType::Int,
            },
            SinkColumn {
                name: "price".into(),
                data_type: DataType::Float,
            },
        ];
        let query = ProjectionQuery::parse(
            "SELECT SUM(price) AS total, AVG(price) AS mean, COUNT(*) AS n FROM items",
        )
        .expect("parses");
        let mut store = ProjectionStore::new("totals", query, &float_source).expect("a store");
        let mut db = Database::new("t");
        db.execute(&store.create_sql()).expect("table");
        for sql in store.initial_statements() {
            db.execute(&sql).expect("initial row");
        }
        let item = |id: i64, price: Option<f64>| {
            let mut map = Map::new();
            map.insert("id".into(), Json::from(id));
            map.insert("price".into(), price.map_or(Json::Null, Json::from));
            (id, Some(map))
        };
        apply(
            &mut store,
            &mut db,
            &[item(1, Some(0.1)), item(2, Some(0.2))],
        );
        assert_eq!(
            rows(&mut db, "SELECT total FROM totals")[0][0]
                .parse::<f64>()
                .ok(),
            Some(0.1 + 0.2)
        );
        apply(&mut store, &mut db, &[item(1, None), item(2, None)]);
        assert_eq!(
            rows(&mut db, "SELECT total, mean, n FROM totals"),
            [["NULL", "NULL", "2"]]
        );
        apply(&mut store, &mut db, &[item(1, Some(0.3))]);
        assert_eq!(
            rows(&mut db, "SELECT total, mean FROM totals"),
            [["0.3", "0.3"]],
            "no rounding left over from 0.1 + 0.2 − 0.1 − 0.2"
        );
    }

    #[test]
    fn a_row_without_a_used_column_is_an_error() {
        let store = store();
        let mut renamed = row(1, "paid", Some(5), None);
        renamed.remove("total_cents");
        renamed.insert("amount_cents".into(), Json::from(5));
        assert_eq!(
            store.contribution(&renamed),
            Err(ProjectionError::MissingField("total_cents".into()))
        );
    }
}
