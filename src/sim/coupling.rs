//! The coupling map: which service reads and writes which column, read from the SQL it runs
//! (GlueSQL's parser), and the schema-change preview built on it — before a DDL statement runs,
//! the operations whose SQL names what it renames or drops, and the lock it will take.
//!
//! This is the course text's *tight coupling* made explicit: *"a schema change in one table
//! can break multiple services"*. The map is drawn as a service × `table.column` matrix with a
//! read or write mark in each cell, the table's owner (the service whose `owns` names it) and the
//! number of services writing each table.
//!
//! What breaks, as GlueSQL runs it (and as PostgreSQL would):
//! - renaming or dropping a column breaks every statement that names it, in any clause;
//! - renaming or dropping a table breaks every statement that names the table;
//! - dropping a column also breaks an `INSERT` that gives no column list (the values no longer
//!   line up), and so does adding one;
//! - `SELECT *` survives all column changes (it reads whatever columns there are) — the
//!   application code that reads the rows is what breaks, which the simulator does not run: the
//!   preview lists those operations apart, as *reads every column*.
//!
//! Simplifications: an unqualified column is resolved to the first table in scope whose schema
//! has it, or, when no table has it (renamed or dropped since), to the only table the query
//! reads — in a join it is then left out; columns of a derived table (a subquery in `FROM`) are followed into the subquery but
//! not through its aliases.

use crate::sim::locks::TableLockMode;
use crate::sim::params::sample_render;
use crate::sim::scenario::Scenario;
use crate::sim::statement::Command;
use gluesql::core::ast::{
    AggregateFunction, AlterTableOperation, CountArgExpr, Expr, Projection, Query, SelectItem,
    SetExpr, Statement, TableFactor, TableWithJoins, ToSql,
};
use gluesql::core::sqlparser::dialect::PostgreSqlDialect;
use gluesql::core::sqlparser::tokenizer::{Token, Tokenizer};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

/// Each table's columns, in declaration order: what unqualified names resolve against.
pub type Columns = BTreeMap<String, Vec<String>>;

/// A column of a table.
pub type ColumnRef = (String, String);

/// What one statement, or several, read and write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    /// Columns named where a value is read: projection, `WHERE`, joins, `SET` values, …
    pub reads: BTreeSet<ColumnRef>,
    /// Columns written: an `INSERT`'s column list, an `UPDATE`'s `SET` targets.
    pub writes: BTreeSet<ColumnRef>,
    /// Tables read with `*`: every column, by whatever name it has.
    pub every_column: BTreeSet<String>,
    /// Tables inserted into without a column list: the values must line up with the columns.
    pub positional: BTreeSet<String>,
    /// Tables whose rows it deletes.
    pub deletes: BTreeSet<String>,
    /// Every table it names.
    pub tables: BTreeSet<String>,
}

impl Access {
    /// What one statement reads and writes, resolving unqualified columns against `columns`.
    pub fn of_statement(statement: &Statement, columns: &Columns) -> Self {
        let mut access = Self::default();
        let mut walker = Walker {
            columns,
            access: &mut access,
            labels: Vec::new(),
        };
        walker.statement(statement);
        access
    }

    /// What SQL text reads and writes (placeholders such as `{id}` filled with samples); an
    /// empty access if it does not parse.
    pub fn of_sql(sql: &str, columns: &Columns) -> Self {
        match crate::sim::database::Connection::prepare(&sample_render(sql)) {
            Ok(Command::Sql { statement, .. }) => Self::of_statement(&statement, columns),
            _ => Self::default(),
        }
    }

    /// Adds what `other` reads and writes.
    pub fn merge(&mut self, other: Self) {
        self.reads.extend(other.reads);
        self.writes.extend(other.writes);
        self.every_column.extend(other.every_column);
        self.positional.extend(other.positional);
        self.deletes.extend(other.deletes);
        self.tables.extend(other.tables);
    }

    /// Whether it names the column, read or written.
    pub fn names(&self, column: &ColumnRef) -> bool {
        self.reads.contains(column) || self.writes.contains(column)
    }
}

/// A table visible in a query: the name a column may be qualified with, and the table (`None`
/// for a derived table).
type Visible = (String, Option<String>);

struct Walker<'a> {
    columns: &'a Columns,
    access: &'a mut Access,
    /// The output labels of the queries being walked (`COUNT(*) AS n`): names that `ORDER BY`
    /// and `HAVING` may use and that are no column.
    labels: Vec<String>,
}

impl Walker<'_> {
    fn statement(&mut self, statement: &Statement) {
        match statement {
            Statement::Query(query) => self.query(query, &[]),
            Statement::Insert {
                table_name,
                columns,
                source,
            } => {
                self.access.tables.insert(table_name.clone());
                if columns.is_empty() {
                    self.access.positional.insert(table_name.clone());
                }
                for column in columns {
                    self.access
                        .writes
                        .insert((table_name.clone(), column.clone()));
                }
                self.query(source, &[]);
            }
            Statement::Update {
                table_name,
                assignments,
                selection,
            } => {
                self.access.tables.insert(table_name.clone());
                let scope = vec![(table_name.clone(), Some(table_name.clone()))];
                for assignment in assignments {
                    self.access
                        .writes
                        .insert((table_name.clone(), assignment.id.clone()));
                    self.expr(&assignment.value, &scope);
                }
                if let Some(selection) = selection {
                    self.expr(selection, &scope);
                }
            }
            Statement::Delete {
                table_name,
                selection,
            } => {
                self.access.tables.insert(table_name.clone());
                self.access.deletes.insert(table_name.clone());
                if let Some(selection) = selection {
                    self.expr(selection, &[(table_name.clone(), Some(table_name.clone()))]);
                }
            }
            _ => {}
        }
    }

    /// A query, with the tables of the queries around it (for correlated subqueries).
    fn query(&mut self, query: &Query, outer: &[Visible]) {
        let scope = match &query.body {
            SetExpr::Select(select) => {
                let mut scope = self.from(&select.from, outer);
                scope.extend(outer.iter().cloned());
                let Projection::SelectItems(items) = &select.projection;
                self.labels
                    .extend(items.iter().filter_map(|item| match item {
                        // A bare column is labelled with its own name: not an alias.
                        SelectItem::Expr {
                            expr: Expr::Identifier(name),
                            label,
                        } if name == label => None,
                        SelectItem::Expr { label, .. } => Some(label.clone()),
                        _ => None,
                    }));
                for item in items {
                    match item {
                        SelectItem::Expr { expr, .. } => self.expr(expr, &scope),
                        SelectItem::Wildcard => {
                            let local = scope.len() - outer.len();
                            for (_, table) in &scope[..local] {
                                if let Some(table) = table {
                                    self.access.every_column.insert(table.clone());
                                }
                            }
                        }
                        SelectItem::QualifiedWildcard(name) => {
                            if let Some((_, Some(table))) = scope.iter().find(|(n, _)| n == name) {
                                self.access.every_column.insert(table.clone());
                            }
                        }
                    }
                }
                for expr in select
                    .selection
                    .iter()
                    .chain(&select.group_by)
                    .chain(&select.having)
                {
                    self.expr(expr, &scope);
                }
                for join in &select.from.joins {
                    if let gluesql::core::ast::JoinOperator::Inner(
                        gluesql::core::ast::JoinConstraint::On(on),
                    )
                    | gluesql::core::ast::JoinOperator::LeftOuter(
                        gluesql::core::ast::JoinConstraint::On(on),
                    ) = &join.join_operator
                    {
                        self.expr(on, &scope);
                    }
                }
                scope
            }
            SetExpr::Values(values) => {
                for row in &values.0 {
                    for expr in row {
                        self.expr(expr, outer);
                    }
                }
                outer.to_vec()
            }
        };
        for order in &query.order_by {
            self.expr(&order.expr, &scope);
        }
    }

    /// The tables a `FROM` makes visible, innermost first; derived tables are walked.
    fn from(&mut self, from: &TableWithJoins, outer: &[Visible]) -> Vec<Visible> {
        let mut scope = Vec::new();
        for factor in std::iter::once(&from.relation).chain(from.joins.iter().map(|j| &j.relation))
        {
            match factor {
                TableFactor::Table { name, alias } => {
                    self.access.tables.insert(name.clone());
                    let visible = alias.as_ref().map_or(name, |a| &a.name);
                    scope.push((visible.clone(), Some(name.clone())));
                }
                TableFactor::Derived { subquery, alias } => {
                    self.query(subquery, outer);
                    scope.push((alias.name.clone(), None));
                }
                TableFactor::Series { alias, size } => {
                    self.expr(size, outer);
                    scope.push((alias.name.clone(), None));
                }
                TableFactor::Dictionary { alias, .. } => scope.push((alias.name.clone(), None)),
            }
        }
        scope
    }

    /// Every column an expression names, and the queries inside it.
    fn expr(&mut self, expr: &Expr, scope: &[Visible]) {
        match expr {
            Expr::Identifier(column) => self.column(None, column, scope),
            Expr::CompoundIdentifier { alias, ident } => self.column(Some(alias), ident, scope),
            Expr::IsNull(e) | Expr::IsNotNull(e) | Expr::Nested(e) => self.expr(e, scope),
            Expr::UnaryOp { expr, .. } | Expr::Interval { expr, .. } => self.expr(expr, scope),
            Expr::InList { expr, list, .. } => {
                self.expr(expr, scope);
                for e in list {
                    self.expr(e, scope);
                }
            }
            Expr::InSubquery { expr, subquery, .. } => {
                self.expr(expr, scope);
                self.query(subquery, scope);
            }
            Expr::Exists { subquery, .. } | Expr::Subquery(subquery) => {
                self.query(subquery, scope);
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                for e in [expr, low, high] {
                    self.expr(e, scope);
                }
            }
            Expr::Like { expr, pattern, .. }
            | Expr::ILike { expr, pattern, .. }
            | Expr::Regex { expr, pattern, .. } => {
                self.expr(expr, scope);
                self.expr(pattern, scope);
            }
            Expr::BinaryOp { left, right, .. } => {
                self.expr(left, scope);
                self.expr(right, scope);
            }
            Expr::Literal(_) | Expr::Value(_) | Expr::TypedString { .. } => {}
            Expr::Aggregate(aggregate) => match &aggregate.func {
                AggregateFunction::Count(CountArgExpr::Wildcard) => {}
                AggregateFunction::Count(CountArgExpr::Expr(e))
                | AggregateFunction::Sum(e)
                | AggregateFunction::Max(e)
                | AggregateFunction::Min(e)
                | AggregateFunction::Avg(e)
                | AggregateFunction::Variance(e)
                | AggregateFunction::Stdev(e) => self.expr(e, scope),
            },
            Expr::Case {
                operand,
                when_then,
                else_result,
            } => {
                for e in operand.iter().chain(else_result) {
                    self.expr(e, scope);
                }
                for (when, then) in when_then {
                    self.expr(when, scope);
                    self.expr(then, scope);
                }
            }
            Expr::ArrayIndex { obj, indexes } => {
                self.expr(obj, scope);
                for e in indexes {
                    self.expr(e, scope);
                }
            }
            Expr::Array { elem } => {
                for e in elem {
                    self.expr(e, scope);
                }
            }
            Expr::Function(_) => self.function(expr, scope),
        }
    }

    /// The columns a function's arguments name. GlueSQL has a variant per SQL function; rather
    /// than match them all, this reads the SQL the function prints, where every column is a
    /// double-quoted name (`"status"`, `"o"."status"`) and every text a single-quoted string.
    /// (A subquery inside a function's arguments is not followed.)
    fn function(&mut self, function: &Expr, scope: &[Visible]) {
        let sql = function.to_sql();
        let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, &sql).tokenize() else {
            return;
        };
        let quoted = |token: &Token| match token {
            Token::Word(w) if w.quote_style == Some('"') => Some(w.value.clone()),
            _ => None,
        };
        let mut i = 0;
        while i < tokens.len() {
            if let Some(name) = quoted(&tokens[i]) {
                let compound = (tokens.get(i + 1) == Some(&Token::Period))
                    .then(|| tokens.get(i + 2).and_then(quoted))
                    .flatten();
                match compound {
                    Some(column) => {
                        self.column(Some(&name), &column, scope);
                        i += 3;
                        continue;
                    }
                    None => self.column(None, &name, scope),
                }
            }
            i += 1;
        }
    }

    /// A column named in a value: a read, once resolved to a table.
    fn column(&mut self, qualifier: Option<&str>, column: &str, scope: &[Visible]) {
        if let Some(found) = self.resolve(qualifier, column, scope) {
            self.access.reads.insert(found);
        }
    }

    /// The table column a name refers to, innermost table first.
    fn resolve(
        &self,
        qualifier: Option<&str>,
        column: &str,
        scope: &[Visible],
    ) -> Option<ColumnRef> {
        if let Some(qualifier) = qualifier {
            let (_, table) = scope.iter().find(|(name, _)| name == qualifier)?;
            return table.as_ref().map(|t| (t.clone(), column.to_owned()));
        }
        let has = |table: &String| {
            self.columns
                .get(table)
                .is_some_and(|columns| columns.iter().any(|c| c == column))
        };
        let tables = || scope.iter().filter_map(|(_, table)| table.as_ref());
        if let Some(table) = tables().find(|table| has(table)) {
            return Some((table.clone(), column.to_owned()));
        }
        // A name no table has — a column renamed or dropped since the SQL was written — still
        // belongs to the table when there is only one to read (unless it is an output label).
        let mut only = tables();
        match (only.next(), only.next()) {
            (Some(table), None) if !self.labels.iter().any(|l| l == column) => {
                Some((table.clone(), column.to_owned()))
            }
            _ => None,
        }
    }
}

/// One operation of a service, with what its statements read and write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationAccess {
    /// The service.
    pub service: String,
    /// The operation.
    pub operation: String,
    /// The database it runs on.
    pub database: String,
    /// Its statements, as written.
    pub statements: Vec<String>,
    /// What they read and write, together.
    pub access: Access,
    /// Whether it runs now: a stopped operation (a version not deployed yet, or retired) is
    /// drawn and previewed with the others only while it runs.
    pub enabled: bool,
}

/// A cell of the matrix: what a service does with a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Mark {
    /// It reads the column by name.
    Read,
    /// It writes the column (by name, or by position in an `INSERT` without a column list).
    Write,
    /// Both.
    ReadWrite,
    /// It reads the column only through `SELECT *`.
    Implicit,
}

impl Mark {
    /// The mark as drawn in the matrix: `R`, `W`, `RW`, `*`.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Read => "R",
            Self::Write => "W",
            Self::ReadWrite => "RW",
            Self::Implicit => "*",
        }
    }
}

/// The coupling map of a scenario: every operation's column-level reads and writes, against
/// the databases' tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CouplingMap {
    /// Every operation, in scenario order.
    pub operations: Vec<OperationAccess>,
    /// Each database's tables and their columns.
    pub databases: BTreeMap<String, Columns>,
    /// The owner of each table (the service whose `owns` names it), by database and table.
    pub owners: BTreeMap<String, BTreeMap<String, String>>,
    /// Each database's read models: tables that are copies the pipeline keeps of another
    /// service's table (`cdc` and `events` modes), written by no service.
    pub read_models: BTreeMap<String, BTreeSet<String>>,
    /// For each of the scenario's ready-made actions ([`crate::sim::presets::presets`]),
    /// whether it is spent: a schema change already made ([`Self::applies`] no more).
    #[serde(default)]
    pub spent: Vec<bool>,
}

impl CouplingMap {
    /// Whether `sql` can still run on `database` as it is: a schema change whose work is
    /// already done (the column renamed, added or dropped) cannot; anything else can.
    pub fn applies(&self, database: &str, sql: &str) -> bool {
        let Ok(Command::Sql { statement, .. }) = crate::sim::database::Connection::prepare(sql)
        else {
            return true;
        };
        match (SchemaChange::of(&statement), self.databases.get(database)) {
            (Some(change), Some(columns)) => change.applies(columns),
            _ => true,
        }
    }

    /// The map of `scenario`'s services over the tables `columns` gives for each database, each
    /// operation running or not as `enabled` says.
    pub fn build(
        scenario: &Scenario,
        columns: impl Fn(&str) -> Columns,
        enabled: impl Fn(&str, &str) -> bool,
    ) -> Self {
        let databases: BTreeMap<String, Columns> = scenario
            .databases
            .iter()
            .map(|d| (d.name.clone(), columns(&d.name)))
            .collect();
        let empty = Columns::new();
        let operations = scenario
            .services
            .iter()
            .flat_map(|service| {
                let known = databases.get(&service.database).unwrap_or(&empty);
                let enabled = &enabled;
                service.operations.iter().map(move |operation| {
                    let mut access = Access::default();
                    for sql in &operation.statements {
                        access.merge(Access::of_sql(sql, known));
                    }
                    OperationAccess {
                        service: service.name.clone(),
                        operation: operation.name.clone(),
                        database: service.database.clone(),
                        statements: operation.statements.clone(),
                        access,
                        enabled: enabled(&service.name, &operation.name),
                    }
                })
            })
            .collect();
        let mut owners: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for service in &scenario.services {
            for table in &service.owns {
                owners
                    .entry(service.database.clone())
                    .or_default()
                    .insert(table.clone(), service.name.clone());
            }
        }
        let mut map = Self {
            operations,
            databases,
            owners,
            read_models: BTreeMap::new(),
            spent: Vec::new(),
        };
        map.spent = crate::sim::presets::presets(scenario)
            .iter()
            .map(|preset| !map.applies(&preset.database, &preset.sql))
            .collect();
        map
    }

    /// The map with each database's read models named (by database, the tables that are
    /// copies kept by the pipeline).
    #[must_use]
    pub fn with_read_models(mut self, read_models: BTreeMap<String, BTreeSet<String>>) -> Self {
        self.read_models = read_models;
        self.read_models.retain(|_, tables| !tables.is_empty());
        self
    }

    /// Whether `database`'s `table` is a read model: a copy the pipeline keeps.
    pub fn is_read_model(&self, database: &str, table: &str) -> bool {
        self.read_models
            .get(database)
            .is_some_and(|tables| tables.contains(table))
    }

    /// The owner of `database`'s `table`, if a service declares it.
    pub fn owner(&self, database: &str, table: &str) -> Option<&str> {
        self.owners.get(database)?.get(table).map(String::as_str)
    }

    /// The operations that run now.
    pub fn running(&self) -> impl Iterator<Item = &OperationAccess> {
        self.operations.iter().filter(|o| o.enabled)
    }

    /// The services with an operation running now, in scenario order, each once.
    pub fn services(&self) -> Vec<&str> {
        let mut services: Vec<&str> = Vec::new();
        for op in self.running() {
            if !services.contains(&op.service.as_str()) {
                services.push(&op.service);
            }
        }
        services
    }

    /// What `service` does with `database`'s `table.column`, if anything.
    pub fn mark(&self, service: &str, database: &str, column: &ColumnRef) -> Option<Mark> {
        let ops = || {
            self.running()
                .filter(|o| o.service == service && o.database == database)
        };
        let read = ops().any(|o| o.access.reads.contains(column));
        // `SELECT *` and an INSERT without a column list name the table's columns as they are
        // now, not one renamed or dropped since.
        let exists = self
            .databases
            .get(database)
            .and_then(|tables| tables.get(&column.0))
            .is_some_and(|columns| columns.contains(&column.1));
        let star = exists && ops().any(|o| o.access.every_column.contains(&column.0));
        let write = ops().any(|o| {
            o.access.writes.contains(column) || (exists && o.access.positional.contains(&column.0))
        });
        match (read || star, write) {
            (true, true) => Some(Mark::ReadWrite),
            (true, false) if read => Some(Mark::Read),
            (true, false) => Some(Mark::Implicit),
            (false, true) => Some(Mark::Write),
            (false, false) => None,
        }
    }

    /// The services that write `database`'s `table` (insert, update or delete), in order.
    pub fn writers(&self, database: &str, table: &str) -> Vec<&str> {
        let mut writers: Vec<&str> = Vec::new();
        for op in self.running().filter(|o| o.database == database) {
            let a = &op.access;
            let writes = a.positional.contains(table)
                || a.deletes.contains(table)
                || a.writes.iter().any(|(t, _)| t == table);
            if writes && !writers.contains(&op.service.as_str()) {
                writers.push(&op.service);
            }
        }
        writers
    }

    /// The columns of `database`'s `table` that running operations name but the table does
    /// not have (renamed or dropped): the SQL that names them fails.
    pub fn missing(&self, database: &str, table: &str) -> Vec<String> {
        let known = self
            .databases
            .get(database)
            .and_then(|tables| tables.get(table));
        let mut missing: Vec<String> = Vec::new();
        for op in self.running().filter(|o| o.database == database) {
            for (t, column) in op.access.reads.iter().chain(&op.access.writes) {
                let exists = known.is_some_and(|columns| columns.contains(column));
                if t == table && !exists && !missing.contains(column) {
                    missing.push(column.clone());
                }
            }
        }
        missing.sort();
        missing
    }

    /// The services that name `database`'s `table` at all, in order.
    pub fn users(&self, database: &str, table: &str) -> Vec<&str> {
        let mut users: Vec<&str> = Vec::new();
        for op in self.running().filter(|o| o.database == database) {
            if op.access.tables.contains(table) && !users.contains(&op.service.as_str()) {
                users.push(&op.service);
            }
        }
        users
    }

    /// What a DDL statement on `database` would break, before it runs.
    ///
    /// # Errors
    ///
    /// [`PreviewError`] if the SQL does not parse or is not a schema change.
    pub fn preview(&self, database: &str, sql: &str) -> Result<Preview, PreviewError> {
        let statement = match crate::sim::database::Connection::prepare(sql) {
            Ok(Command::Sql { statement, .. }) => statement,
            Ok(_) => return Err(PreviewError::NotSchemaChange),
            Err(error) => return Err(PreviewError::Sql(error.to_string())),
        };
        let change = SchemaChange::of(&statement).ok_or(PreviewError::NotSchemaChange)?;
        let mut breaks = Vec::new();
        let mut every_column = Vec::new();
        for op in self.running().filter(|o| o.database == database) {
            if let Some(why) = change.breaks(&op.access) {
                breaks.push(Affected {
                    service: op.service.clone(),
                    operation: op.operation.clone(),
                    why,
                });
            } else if let Some(table) = change
                .table()
                .filter(|t| op.access.every_column.contains(*t))
            {
                every_column.push(Affected {
                    service: op.service.clone(),
                    operation: op.operation.clone(),
                    why: format!(
                        "reads every column of {table} with *: its SQL still runs, but the rows it gets change shape"
                    ),
                });
            }
        }
        Ok(Preview {
            owner: change
                .table()
                .and_then(|t| self.owner(database, t))
                .map(str::to_owned),
            lock: change.lock(),
            change,
            breaks,
            every_column,
        })
    }
}

/// Why a schema change cannot be previewed.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum PreviewError {
    /// The SQL does not parse: GlueSQL's message.
    #[error("{0}")]
    Sql(String),
    /// The statement changes no schema.
    #[error("not a schema change: the preview reads ALTER TABLE, DROP TABLE, CREATE INDEX and DROP INDEX")]
    NotSchemaChange,
}

/// A schema change, as the preview understands it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SchemaChange {
    /// `ALTER TABLE t RENAME COLUMN c TO d`.
    RenameColumn {
        /// The table.
        table: String,
        /// The column's name now.
        column: String,
        /// Its new name.
        to: String,
    },
    /// `ALTER TABLE t DROP COLUMN c`.
    DropColumn {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// `ALTER TABLE t ADD COLUMN c …`.
    AddColumn {
        /// The table.
        table: String,
        /// The new column.
        column: String,
    },
    /// `ALTER TABLE t RENAME TO u`.
    RenameTable {
        /// The table.
        table: String,
        /// Its new name.
        to: String,
    },
    /// `DROP TABLE t, …`.
    DropTables {
        /// The tables.
        tables: Vec<String>,
    },
    /// `CREATE INDEX` or `DROP INDEX` on a table: no statement breaks, but it takes a lock.
    Index {
        /// The table.
        table: String,
        /// Whether it creates the index (else drops it).
        create: bool,
    },
}

impl SchemaChange {
    /// The change a statement makes, if it is DDL.
    pub fn of(statement: &Statement) -> Option<Self> {
        Some(match statement {
            Statement::AlterTable { name, operation } => match operation {
                AlterTableOperation::RenameColumn {
                    old_column_name,
                    new_column_name,
                } => Self::RenameColumn {
                    table: name.clone(),
                    column: old_column_name.clone(),
                    to: new_column_name.clone(),
                },
                AlterTableOperation::DropColumn { column_name, .. } => Self::DropColumn {
                    table: name.clone(),
                    column: column_name.clone(),
                },
                AlterTableOperation::AddColumn { column_def } => Self::AddColumn {
                    table: name.clone(),
                    column: column_def.name.clone(),
                },
                AlterTableOperation::RenameTable { table_name } => Self::RenameTable {
                    table: name.clone(),
                    to: table_name.clone(),
                },
            },
            Statement::DropTable { names, .. } => Self::DropTables {
                tables: names.clone(),
            },
            Statement::CreateIndex { table_name, .. } => Self::Index {
                table: table_name.clone(),
                create: true,
            },
            Statement::DropIndex { table_name, .. } => Self::Index {
                table: table_name.clone(),
                create: false,
            },
            _ => return None,
        })
    }

    /// The table it changes (the first, for several).
    pub fn table(&self) -> Option<&str> {
        match self {
            Self::RenameColumn { table, .. }
            | Self::DropColumn { table, .. }
            | Self::AddColumn { table, .. }
            | Self::RenameTable { table, .. }
            | Self::Index { table, .. } => Some(table),
            Self::DropTables { tables } => tables.first().map(String::as_str),
        }
    }

    /// Whether it can still run on tables with these `columns`: what it renames or drops is
    /// there, what it adds or renames to is not (an index: its table is there).
    pub fn applies(&self, columns: &Columns) -> bool {
        let has = |table: &str, column: &str| {
            columns
                .get(table)
                .is_some_and(|c| c.iter().any(|name| name == column))
        };
        match self {
            Self::RenameColumn { table, column, to } => has(table, column) && !has(table, to),
            Self::DropColumn { table, column } => has(table, column),
            Self::AddColumn { table, column } => columns.contains_key(table) && !has(table, column),
            Self::RenameTable { table, to } => {
                columns.contains_key(table) && !columns.contains_key(to)
            }
            Self::DropTables { tables } => tables.iter().all(|t| columns.contains_key(t)),
            Self::Index { table, .. } => columns.contains_key(table),
        }
    }

    /// The table lock it takes, as PostgreSQL's `ALTER TABLE`, `DROP` and `CREATE INDEX` do
    /// (the same as the lock planner's).
    pub fn lock(&self) -> TableLockMode {
        match self {
            Self::Index { create: true, .. } => TableLockMode::Share,
            _ => TableLockMode::AccessExclusive,
        }
    }

    /// Why the change breaks SQL that reads and writes `access`, if it does.
    pub fn breaks(&self, access: &Access) -> Option<String> {
        match self {
            Self::RenameColumn { table, column, .. } | Self::DropColumn { table, column } => {
                let named = (table.clone(), column.clone());
                if access.names(&named) {
                    let how = match (
                        access.reads.contains(&named),
                        access.writes.contains(&named),
                    ) {
                        (true, true) => "reads and writes",
                        (false, true) => "writes",
                        _ => "reads",
                    };
                    return Some(format!("{how} {table}.{column} by name"));
                }
                (matches!(self, Self::DropColumn { .. }) && access.positional.contains(table))
                    .then(|| format!("inserts into {table} without a column list"))
            }
            Self::AddColumn { table, .. } => access
                .positional
                .contains(table)
                .then(|| format!("inserts into {table} without a column list")),
            Self::RenameTable { table, .. } => access
                .tables
                .contains(table)
                .then(|| format!("names the table {table}")),
            Self::DropTables { tables } => tables
                .iter()
                .find(|t| access.tables.contains(*t))
                .map(|t| format!("names the table {t}")),
            Self::Index { .. } => None,
        }
    }

    /// The change in words: "renames orders.status to state".
    pub fn describe(&self) -> String {
        match self {
            Self::RenameColumn { table, column, to } => {
                format!("renames {table}.{column} to {to}")
            }
            Self::DropColumn { table, column } => format!("drops {table}.{column}"),
            Self::AddColumn { table, column } => format!("adds {table}.{column}"),
            Self::RenameTable { table, to } => format!("renames the table {table} to {to}"),
            Self::DropTables { tables } => format!("drops {}", tables.join(", ")),
            Self::Index { table, create } => format!(
                "{} an index on {table}",
                if *create { "creates" } else { "drops" }
            ),
        }
    }
}

/// An operation a schema change affects, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affected {
    /// The service.
    pub service: String,
    /// The operation.
    pub operation: String,
    /// What in its SQL the change touches.
    pub why: String,
}

/// What a schema change will do, said before it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    /// The change.
    pub change: SchemaChange,
    /// The table lock it takes (and holds to the end of its transaction).
    pub lock: TableLockMode,
    /// The service that owns the table, if one is declared: its own operations that break
    /// change with its schema, the others' do not.
    pub owner: Option<String>,
    /// The operations whose SQL will fail once it has run.
    pub breaks: Vec<Affected>,
    /// The operations that read the table with `*`: their SQL runs on, their rows change.
    pub every_column: Vec<Affected>,
}

impl Preview {
    /// The services that will break, each once, in order.
    pub fn broken_services(&self) -> Vec<&str> {
        let mut services: Vec<&str> = Vec::new();
        for affected in &self.breaks {
            if !services.contains(&affected.service.as_str()) {
                services.push(&affected.service);
            }
        }
        services
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Columns {
        [
            ("orders", vec!["id", "customer_id", "status", "total_cents"]),
            ("customers", vec!["id", "name", "email"]),
            ("invoices", vec!["id", "order_id", "amount_cents"]),
        ]
        .into_iter()
        .map(|(t, cs)| (t.to_owned(), cs.into_iter().map(str::to_owned).collect()))
        .collect()
    }

    fn col(table: &str, column: &str) -> ColumnRef {
        (table.to_owned(), column.to_owned())
    }

    #[test]
    fn a_schema_change_already_made_no_longer_applies() {
        let change = |sql: &str| match crate::sim::database::Connection::prepare(sql) {
            Ok(Command::Sql { statement, .. }) => SchemaChange::of(&statement).expect("DDL"),
            other => panic!("{sql}: {other:?}"),
        };
        let mut now = columns();
        let rename = change("ALTER TABLE orders RENAME COLUMN status TO state");
        assert!(rename.applies(&now));
        now.insert(
            "orders".into(),
            vec![
                "id".into(),
                "customer_id".into(),
                "state".into(),
                "total_cents".into(),
            ],
        );
        assert!(!rename.applies(&now), "status is gone");
        assert!(change("ALTER TABLE orders ADD COLUMN note TEXT NULL").applies(&now));
        assert!(!change("ALTER TABLE orders ADD COLUMN state TEXT NULL").applies(&now));
        assert!(!change("ALTER TABLE orders DROP COLUMN status").applies(&now));
        assert!(!change("ALTER TABLE orders RENAME TO invoices").applies(&now));
        assert!(!change("DROP TABLE nothing").applies(&now));
        assert!(change("CREATE INDEX o_s ON orders (state)").applies(&now));
    }

    #[test]
    fn a_join_resolves_qualified_and_unqualified_columns() {
        let a = Access::of_sql(
            "SELECT o.id, name, total_cents FROM orders o JOIN customers c ON c.id = o.customer_id WHERE status = 'paid' ORDER BY email",
            &columns(),
        );
        for (t, c) in [
            ("orders", "id"),
            ("customers", "name"),
            ("orders", "total_cents"),
            ("customers", "id"),
            ("orders", "customer_id"),
            ("orders", "status"),
            ("customers", "email"),
        ] {
            assert!(a.reads.contains(&col(t, c)), "{t}.{c} in {:?}", a.reads);
        }
        assert!(a.writes.is_empty());
        assert!(!a.reads.contains(&col("customers", "status")));
    }

    #[test]
    fn writes_are_insert_columns_and_set_targets() {
        let insert = Access::of_sql(
            "INSERT INTO invoices (id, order_id, amount_cents) VALUES ({id}, {order}, 10)",
            &columns(),
        );
        assert_eq!(insert.writes.len(), 3);
        assert!(insert.positional.is_empty());
        let update = Access::of_sql(
            "UPDATE orders SET status = 'shipped', total_cents = total_cents + 1 WHERE id = {row.id}",
            &columns(),
        );
        assert!(update.writes.contains(&col("orders", "status")));
        assert!(update.reads.contains(&col("orders", "total_cents")));
        assert!(update.reads.contains(&col("orders", "id")));
        let positional = Access::of_sql("INSERT INTO invoices VALUES (1, 2, 3)", &columns());
        assert!(positional.positional.contains("invoices"));
    }

    #[test]
    fn subqueries_and_wildcards_are_followed() {
        let a = Access::of_sql(
            "SELECT * FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE email LIKE '%@x')",
            &columns(),
        );
        assert!(a.every_column.contains("orders"));
        assert!(a.reads.contains(&col("customers", "email")));
        assert!(a.reads.contains(&col("orders", "customer_id")));
        assert!(a.tables.contains("customers"));
    }

    #[test]
    fn columns_inside_functions_are_found() {
        let a = Access::of_sql(
            "SELECT COALESCE(o.total_cents, 0), LOWER(email) FROM orders o JOIN customers c ON c.id = o.customer_id",
            &columns(),
        );
        assert!(
            a.reads.contains(&col("orders", "total_cents")),
            "{:?}",
            a.reads
        );
        assert!(
            a.reads.contains(&col("customers", "email")),
            "{:?}",
            a.reads
        );
        assert!(!a.reads.iter().any(|(_, c)| c == "0"));
    }

    #[test]
    fn a_name_no_table_has_belongs_to_the_only_table_read() {
        let a = Access::of_sql(
            "SELECT id, COUNT(*) AS n FROM orders WHERE state = 'paid' GROUP BY id ORDER BY n",
            &columns(),
        );
        assert!(a.reads.contains(&col("orders", "state")), "{:?}", a.reads);
        assert!(!a.reads.contains(&col("orders", "n")), "{:?}", a.reads);
        let join = Access::of_sql(
            "SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id WHERE state = 'x'",
            &columns(),
        );
        assert!(!join.reads.iter().any(|(_, c)| c == "state"));
    }

    #[test]
    fn a_rename_breaks_exactly_the_sql_that_names_the_column() {
        let reads_status =
            Access::of_sql("SELECT id FROM orders WHERE status = 'paid'", &columns());
        let star = Access::of_sql("SELECT * FROM orders", &columns());
        let other = Access::of_sql("SELECT name FROM customers", &columns());
        let change = SchemaChange::RenameColumn {
            table: "orders".into(),
            column: "status".into(),
            to: "state".into(),
        };
        assert!(change.breaks(&reads_status).is_some());
        assert!(change.breaks(&star).is_none());
        assert!(change.breaks(&other).is_none());
        assert_eq!(change.lock(), TableLockMode::AccessExclusive);
        let drop = SchemaChange::DropColumn {
            table: "invoices".into(),
            column: "amount_cents".into(),
        };
        let positional = Access::of_sql("INSERT INTO invoices VALUES (1, 2, 3)", &columns());
        assert!(drop.breaks(&positional).is_some());
    }

    #[test]
    fn a_column_gone_from_the_table_is_listed_with_its_readers() {
        let scenario = Scenario::parse(crate::sim::builtin::scenario_text("shop").expect("shop"))
            .expect("parses");
        let mut renamed = columns();
        renamed.insert(
            "orders".into(),
            vec![
                "id".into(),
                "customer_id".into(),
                "state".into(),
                "total_cents".into(),
            ],
        );
        let before = CouplingMap::build(&scenario, |_| columns(), |_, _| true);
        let after = CouplingMap::build(&scenario, |_| renamed.clone(), |_, _| true);
        assert!(!before
            .missing("shop", "orders")
            .contains(&"status".to_owned()));
        assert!(after
            .missing("shop", "orders")
            .contains(&"status".to_owned()));
    }

    #[test]
    fn a_gone_column_keeps_its_readers_and_loses_its_implicit_writers() {
        let mut renamed = columns();
        renamed.insert(
            "orders".into(),
            vec![
                "id".into(),
                "customer_id".into(),
                "state".into(),
                "total_cents".into(),
            ],
        );
        // A bare column in the select list is labelled with its own name; it is still a read
        // of the table's column, gone or not.
        let named = Access::of_sql("SELECT id, status FROM orders ORDER BY id", &renamed);
        assert!(named.reads.contains(&col("orders", "status")), "{named:?}");
        let text = r#"
            format_version = 1
            name = "t"
            [[databases]]
            name = "shop"
            [[services]]
            name = "writer"
            database = "shop"
            [[services.operations]]
            name = "insert"
            rate_per_s = 1
            statements = ["INSERT INTO orders VALUES (1, 2, 'paid', 3)"]
            [[services.operations]]
            name = "dump"
            rate_per_s = 1
            statements = ["SELECT * FROM orders"]
            [[services]]
            name = "reader"
            database = "shop"
            [[services.operations]]
            name = "read"
            rate_per_s = 1
            statements = ["SELECT id, status FROM orders"]
        "#;
        let scenario = Scenario::parse(text).expect("parses");
        let map = CouplingMap::build(&scenario, |_| renamed.clone(), |_, _| true);
        let status = col("orders", "status");
        let state = col("orders", "state");
        // The INSERT without a column list and the SELECT * name the columns as they are now.
        assert_eq!(map.mark("writer", "shop", &state), Some(Mark::ReadWrite));
        assert_eq!(map.mark("writer", "shop", &status), None);
        assert_eq!(map.mark("reader", "shop", &status), Some(Mark::Read));
        assert!(map.missing("shop", "orders").contains(&"status".to_owned()));
    }

    #[test]
    fn the_preview_names_the_lock_and_refuses_what_is_not_ddl() {
        let scenario = Scenario::parse(crate::sim::builtin::scenario_text("shop").expect("shop"))
            .expect("parses");
        let map = CouplingMap::build(&scenario, |_| columns(), |_, _| true);
        let preview = map
            .preview("shop", "ALTER TABLE orders RENAME COLUMN status TO state")
            .expect("a preview");
        assert_eq!(preview.lock, TableLockMode::AccessExclusive);
        assert!(!preview.breaks.is_empty());
        assert_eq!(
            map.preview("shop", "SELECT 1"),
            Err(PreviewError::NotSchemaChange)
        );
        assert!(matches!(
            map.preview("shop", "ALTER TABLE"),
            Err(PreviewError::Sql(_))
        ));
    }
}
