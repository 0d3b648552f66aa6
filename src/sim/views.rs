//! Views: `CREATE VIEW name [(columns)] AS SELECT …`, the course text's "compatibility layers
//! (views, aliases)" — after a rename, a view with the old names lets old code read on unchanged.
//!
//! GlueSQL 0.20 has no views (its translator refuses `CREATE VIEW`), so they live in our layer:
//! the engine keeps each view's query, and a statement that names a view reads the view's query
//! in its place — `FROM orders o` becomes `FROM (SELECT …) AS o (id, status, …)` — before GlueSQL
//! plans it and before the lock planner sees it, so the statement reads and locks the view's
//! tables, as PostgreSQL's rewriter does. A view that only renames a table's columns (the
//! compatibility view of a rename) is inlined instead, as PostgreSQL inlines views: `FROM
//! orders_v2 AS o (id, status, …)`, so that it costs what reading the table costs — GlueSQL
//! joins a subquery row by row (200 × 190 rows read for a join that reads 390 through the table).
//!
//! Where this model differs from PostgreSQL:
//! - a view is read-only: `INSERT`, `UPDATE`, `DELETE` and `FOR UPDATE` through it are refused
//!   (PostgreSQL writes through a simple view into its table);
//! - a view keeps the names its query was written with: renaming a column it reads breaks the
//!   view, and dropping such a column is not refused (PostgreSQL's view follows a rename, and a
//!   drop needs `CASCADE`);
//! - `CREATE VIEW` and `DROP VIEW` take effect at once, take no lock, and are not undone by a
//!   `ROLLBACK`.

use crate::sim::sqlstate::SqlState;
use gluesql::core::ast::{
    Expr, Query, SelectItem, SetExpr, Statement, TableAlias, TableFactor, TableWithJoins,
};
use std::collections::BTreeMap;
use thiserror::Error;

/// How deep views may be nested in one another (a view reading a view …).
const MAX_DEPTH: usize = 16;

/// A view: its output column names and the query it stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewDef {
    /// The names its columns go by, in order (the `CREATE VIEW v (a, b)` list, or else the
    /// query's own labels).
    pub columns: Vec<String>,
    /// The `SELECT` it stands for.
    pub query: Query,
}

/// The views of one database, by name.
pub type Views = BTreeMap<String, ViewDef>;

/// Why a statement about or through a view was refused, in PostgreSQL's words.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ViewError {
    /// `CREATE VIEW` over a name a table or view already has.
    #[error("relation \"{0}\" already exists")]
    Exists(String),
    /// `DROP VIEW` of a name no view has.
    #[error("view \"{0}\" does not exist")]
    NotFound(String),
    /// `DROP VIEW` of a table.
    #[error("\"{0}\" is not a view (use DROP TABLE)")]
    NotAView(String),
    /// A write into a view.
    #[error(
        "cannot {verb} view \"{view}\": views are read-only in this simulator (write to its \
         table; PostgreSQL would write through a simple view)"
    )]
    ReadOnly {
        /// "insert into", "update", "delete from", "lock rows in".
        verb: &'static str,
        /// The view.
        view: String,
    },
    /// A view column list longer than the query's columns.
    #[error(
        "CREATE VIEW specifies more column names ({given}) than the query has columns ({has})"
    )]
    TooManyColumns {
        /// Names given.
        given: usize,
        /// Columns of the query.
        has: usize,
    },
    /// A view with two columns of one name.
    #[error("column \"{0}\" specified more than once")]
    DuplicateColumn(String),
    /// A view whose column names cannot be known without running it.
    #[error("CREATE VIEW needs its columns named: list them (CREATE VIEW v (a, b) AS …) or select them by name instead of *")]
    UnnamedColumns,
    /// A reference to a view with more column aliases than the view has columns.
    #[error("table \"{alias}\" has {has} columns available but {given} columns specified")]
    AliasColumns {
        /// The alias (or the view's name).
        alias: String,
        /// The view's columns.
        has: usize,
        /// Aliases given.
        given: usize,
    },
    /// Views nested too deep, or a view that reads itself.
    #[error("infinite recursion detected in rules for relation \"{0}\"")]
    Recursive(String),
}

impl ViewError {
    /// PostgreSQL's code for the refusal.
    pub fn sqlstate(&self) -> SqlState {
        match self {
            Self::Exists(_) => SqlState::DuplicateTable,
            Self::NotFound(_) => SqlState::UndefinedTable,
            Self::NotAView(_) => SqlState::WrongObjectType,
            Self::ReadOnly { .. } => SqlState::FeatureNotSupported,
            Self::TooManyColumns { .. } => SqlState::SyntaxError,
            Self::DuplicateColumn(_) => SqlState::DuplicateColumn,
            Self::AliasColumns { .. } => SqlState::InvalidColumnReference,
            Self::UnnamedColumns => SqlState::SyntaxErrorOrAccessRuleViolation,
            Self::Recursive(_) => SqlState::InvalidObjectDefinition,
        }
    }
}

/// Builds a view from `CREATE VIEW name (columns) AS query`: its column names are the list
/// given, completed by the query's labels.
///
/// # Errors
///
/// [`ViewError::TooManyColumns`], [`ViewError::DuplicateColumn`], or
/// [`ViewError::UnnamedColumns`] for a `*` the list does not name.
pub fn define(columns: Vec<String>, query: Query) -> Result<ViewDef, ViewError> {
    let labels: Option<Vec<String>> = match &query.body {
        SetExpr::Select(select) => {
            let gluesql::core::ast::Projection::SelectItems(items) = &select.projection;
            items
                .iter()
                .map(|item| match item {
                    SelectItem::Expr { label, .. } => Some(label.clone()),
                    SelectItem::QualifiedWildcard(_) | SelectItem::Wildcard => None,
                })
                .collect()
        }
        SetExpr::Values(values) => Some(
            (1..=values.0.first().map_or(0, Vec::len))
                .map(|i| format!("column{i}"))
                .collect(),
        ),
    };
    let columns = match labels {
        Some(labels) if columns.len() > labels.len() => {
            return Err(ViewError::TooManyColumns {
                given: columns.len(),
                has: labels.len(),
            })
        }
        Some(labels) => {
            let given = columns.len();
            columns
                .into_iter()
                .chain(labels.into_iter().skip(given))
                .collect()
        }
        None if columns.is_empty() => return Err(ViewError::UnnamedColumns),
        None => columns,
    };
    let repeated = (1..columns.len()).find(|&i| columns[..i].contains(&columns[i]));
    if let Some(i) = repeated {
        return Err(ViewError::DuplicateColumn(columns[i].clone()));
    }
    Ok(ViewDef { columns, query })
}

/// `CREATE [OR REPLACE] VIEW name (columns) AS query` on `engine`.
///
/// # Errors
///
/// [`ViewError::Exists`] for a table's name, or a view's without `OR REPLACE`; as [`define`].
pub(crate) fn create(
    engine: &mut crate::sim::storage::Engine,
    name: String,
    columns: Vec<String>,
    query: Query,
    or_replace: bool,
) -> Result<(), ViewError> {
    let view = define(columns, query)?;
    let taken = match engine.relation_kind(&name) {
        Some(crate::sim::storage::RelationKind::View) => !or_replace,
        kind => kind.is_some(),
    };
    if taken {
        return Err(ViewError::Exists(name));
    }
    engine.views.insert(name, view);
    Ok(())
}

/// `DROP VIEW [IF EXISTS] names` on `engine`: all of them, or none.
///
/// # Errors
///
/// [`ViewError::NotAView`] for a table, [`ViewError::NotFound`] for an unknown name without
/// `IF EXISTS`.
pub(crate) fn drop(
    engine: &mut crate::sim::storage::Engine,
    names: &[String],
    if_exists: bool,
) -> Result<(), ViewError> {
    for name in names {
        if engine.tables.contains_key(name) {
            return Err(ViewError::NotAView(name.clone()));
        }
        if !engine.views.contains_key(name) && !if_exists {
            return Err(ViewError::NotFound(name.clone()));
        }
    }
    for name in names {
        engine.views.remove(name);
    }
    Ok(())
}

/// A view as the schema sidebar lists it: its columns (untyped) and its query.
pub fn table_info((name, view): (&String, &ViewDef)) -> crate::sim::database::TableInfo {
    use gluesql::core::ast::ToSql;
    crate::sim::database::TableInfo {
        name: name.clone(),
        columns: view
            .columns
            .iter()
            .map(|column| crate::sim::database::ColumnInfo {
                name: column.clone(),
                data_type: String::new(),
                nullable: true,
                primary_key: false,
                unique: false,
            })
            .collect(),
        indexes: Vec::new(),
        row_count: 0,
        view: Some(view.query.to_sql()),
    }
}

/// Replaces every view `statement` reads by the view's query, and refuses a write into a view.
/// Returns the first view it named, if any.
///
/// # Errors
///
/// [`ViewError::ReadOnly`] for an `INSERT`, `UPDATE` or `DELETE` into a view,
/// [`ViewError::Recursive`] for views nested too deep.
pub fn expand(
    statement: &mut Statement,
    views: &Views,
    columns_of: &dyn Fn(&str) -> Option<Vec<String>>,
) -> Result<Option<String>, ViewError> {
    if views.is_empty() {
        return Ok(None);
    }
    let mut expander = Expander {
        views,
        columns_of,
        named: None,
    };
    match statement {
        Statement::Query(query) => expander.query(query, 0)?,
        Statement::Insert {
            table_name, source, ..
        } => {
            expander.target(table_name, "insert into")?;
            expander.query(source, 0)?;
        }
        Statement::Update {
            table_name,
            assignments,
            selection,
        } => {
            expander.target(table_name, "update")?;
            for assignment in assignments {
                expander.expr(&mut assignment.value, 0)?;
            }
            if let Some(selection) = selection {
                expander.expr(selection, 0)?;
            }
        }
        Statement::Delete {
            table_name,
            selection,
        } => {
            expander.target(table_name, "delete from")?;
            if let Some(selection) = selection {
                expander.expr(selection, 0)?;
            }
        }
        Statement::CreateTable {
            source: Some(source),
            ..
        } => expander.query(source, 0)?,
        _ => {}
    }
    Ok(expander.named)
}

/// Walks a statement, replacing views.
struct Expander<'a> {
    views: &'a Views,
    /// A table's column names, in order (`None` for a name no table has).
    columns_of: &'a dyn Fn(&str) -> Option<Vec<String>>,
    named: Option<String>,
}

/// The table a *simple* view renames: one table's columns, all of them, in their order, maybe
/// under other names, with no `WHERE`, grouping or limit — and no name moved to another column
/// (so that a column's name means the same column in the table and through the view). `names`
/// are the names the statement reads it by: the view's, renamed again by the reference's
/// column aliases.
/// Such a view is read as that table under an alias that renames its columns, the way
/// PostgreSQL inlines a view into the query: GlueSQL's hash joins and our key access keep
/// working, where a subquery would be joined row by row.
fn renamed_table(
    view: &ViewDef,
    names: &[String],
    columns_of: &dyn Fn(&str) -> Option<Vec<String>>,
) -> Option<String> {
    let query = &view.query;
    let SetExpr::Select(select) = &query.body else {
        return None;
    };
    if select.distinct
        || select.selection.is_some()
        || !select.group_by.is_empty()
        || select.having.is_some()
        || !select.from.joins.is_empty()
        || !query.order_by.is_empty()
        || query.limit.is_some()
        || query.offset.is_some()
    {
        return None;
    }
    let TableFactor::Table { name, alias } = &select.from.relation else {
        return None;
    };
    if alias.as_ref().is_some_and(|a| !a.columns.is_empty()) {
        return None;
    }
    let base = columns_of(name)?;
    let gluesql::core::ast::Projection::SelectItems(items) = &select.projection;
    let selected: Vec<&String> = match items.as_slice() {
        [SelectItem::Wildcard] => base.iter().collect(),
        items => items
            .iter()
            .map(|item| match item {
                SelectItem::Expr {
                    expr: Expr::Identifier(column),
                    ..
                } => Some(column),
                SelectItem::Expr {
                    expr: Expr::CompoundIdentifier { alias: q, ident },
                    ..
                } if q == name || alias.as_ref().is_some_and(|a| &a.name == q) => Some(ident),
                _ => None,
            })
            .collect::<Option<_>>()?,
    };
    let same_columns = selected.len() == base.len()
        && names.len() == base.len()
        && selected.iter().zip(&base).all(|(s, b)| *s == b)
        && names
            .iter()
            .zip(&base)
            .all(|(v, b)| v == b || !base.contains(v));
    same_columns.then(|| name.clone())
}

impl Expander<'_> {
    fn target(&self, table: &str, verb: &'static str) -> Result<(), ViewError> {
        if self.views.contains_key(table) {
            return Err(ViewError::ReadOnly {
                verb,
                view: table.to_owned(),
            });
        }
        Ok(())
    }

    fn query(&mut self, query: &mut Query, depth: usize) -> Result<(), ViewError> {
        match &mut query.body {
            SetExpr::Select(select) => {
                self.from(&mut select.from, depth)?;
                let gluesql::core::ast::Projection::SelectItems(items) = &mut select.projection;
                for item in items {
                    if let SelectItem::Expr { expr, .. } = item {
                        self.expr(expr, depth)?;
                    }
                }
                for expr in select
                    .selection
                    .iter_mut()
                    .chain(select.having.iter_mut())
                    .chain(select.group_by.iter_mut())
                {
                    self.expr(expr, depth)?;
                }
            }
            SetExpr::Values(values) => {
                for expr in values.0.iter_mut().flatten() {
                    self.expr(expr, depth)?;
                }
            }
        }
        for order in &mut query.order_by {
            self.expr(&mut order.expr, depth)?;
        }
        Ok(())
    }

    fn from(&mut self, from: &mut TableWithJoins, depth: usize) -> Result<(), ViewError> {
        self.relation(&mut from.relation, depth)?;
        for join in &mut from.joins {
            self.relation(&mut join.relation, depth)?;
            let (gluesql::core::ast::JoinOperator::Inner(constraint)
            | gluesql::core::ast::JoinOperator::LeftOuter(constraint)) = &mut join.join_operator;
            if let gluesql::core::ast::JoinConstraint::On(on) = constraint {
                self.expr(on, depth)?;
            }
        }
        Ok(())
    }

    fn relation(&mut self, relation: &mut TableFactor, depth: usize) -> Result<(), ViewError> {
        match relation {
            TableFactor::Table { name, alias } => {
                let Some(view) = self.views.get(name.as_str()) else {
                    return Ok(());
                };
                if depth >= MAX_DEPTH {
                    return Err(ViewError::Recursive(name.clone()));
                }
                let alias_name = alias
                    .as_ref()
                    .map_or_else(|| name.clone(), |alias| alias.name.clone());
                // Column aliases written on the reference rename the view's columns again.
                let mut columns = view.columns.clone();
                if let Some(alias) = alias {
                    if alias.columns.len() > columns.len() {
                        return Err(ViewError::AliasColumns {
                            alias: alias.name.clone(),
                            has: columns.len(),
                            given: alias.columns.len(),
                        });
                    }
                    for (column, renamed) in columns.iter_mut().zip(&alias.columns) {
                        renamed.clone_into(column);
                    }
                }
                // Inlined only if the names the statement sees (the aliases included) keep
                // each table column's name or take a name no other column has.
                let inlined = renamed_table(view, &columns, self.columns_of);
                let alias = TableAlias {
                    name: alias_name,
                    columns,
                };
                let derived = match inlined {
                    Some(table) => TableFactor::Table {
                        name: table,
                        alias: Some(alias),
                    },
                    None => {
                        let mut subquery = view.query.clone();
                        // The view's own query may read views.
                        self.query(&mut subquery, depth + 1)?;
                        TableFactor::Derived { subquery, alias }
                    }
                };
                let name = name.clone();
                *relation = derived;
                self.named.get_or_insert(name);
                Ok(())
            }
            TableFactor::Derived { subquery, .. } => self.query(subquery, depth),
            TableFactor::Series { .. } | TableFactor::Dictionary { .. } => Ok(()),
        }
    }

    fn expr(&mut self, expr: &mut Expr, depth: usize) -> Result<(), ViewError> {
        match expr {
            Expr::InSubquery { expr, subquery, .. } => {
                self.expr(expr, depth)?;
                self.query(subquery, depth)
            }
            Expr::Exists { subquery, .. } | Expr::Subquery(subquery) => self.query(subquery, depth),
            Expr::IsNull(e) | Expr::IsNotNull(e) | Expr::Nested(e) => self.expr(e, depth),
            Expr::UnaryOp { expr, .. } | Expr::Interval { expr, .. } => self.expr(expr, depth),
            Expr::InList { expr, list, .. } => {
                self.expr(expr, depth)?;
                list.iter_mut().try_for_each(|e| self.expr(e, depth))
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                self.expr(expr, depth)?;
                self.expr(low, depth)?;
                self.expr(high, depth)
            }
            Expr::Like { expr, pattern, .. }
            | Expr::ILike { expr, pattern, .. }
            | Expr::Regex { expr, pattern, .. } => {
                self.expr(expr, depth)?;
                self.expr(pattern, depth)
            }
            Expr::BinaryOp { left, right, .. } => {
                self.expr(left, depth)?;
                self.expr(right, depth)
            }
            Expr::Case {
                operand,
                when_then,
                else_result,
            } => {
                for e in operand.iter_mut().chain(else_result.iter_mut()) {
                    self.expr(e, depth)?;
                }
                for (when, then) in when_then {
                    self.expr(when, depth)?;
                    self.expr(then, depth)?;
                }
                Ok(())
            }
            // A subquery inside a function's arguments is not looked into: a view named only
            // there meets GlueSQL's "table not found".
            Expr::Identifier(_)
            | Expr::CompoundIdentifier { .. }
            | Expr::Literal(_)
            | Expr::Value(_)
            | Expr::TypedString { .. }
            | Expr::Function(_)
            | Expr::Aggregate(_)
            | Expr::ArrayIndex { .. }
            | Expr::Array { .. } => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::database::Database;

    fn shop() -> Database {
        let mut db = Database::new("shop");
        for sql in [
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT, total_cents INTEGER)",
            "INSERT INTO orders VALUES (1, 'paid', 100), (2, 'new', 200)",
            "CREATE TABLE invoices (order_id INTEGER PRIMARY KEY, amount_cents INTEGER)",
            "INSERT INTO invoices VALUES (1, 100)",
        ] {
            db.execute(sql).expect(sql);
        }
        db
    }

    fn rows(db: &mut Database, sql: &str) -> Vec<Vec<String>> {
        let result = db.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        match result.outcome {
            crate::sim::database::Outcome::Rows { rows, .. } => rows
                .iter()
                .map(|row| row.iter().map(|cell| cell.sql_literal()).collect())
                .collect(),
            other => panic!("{sql}: {other:?}"),
        }
    }

    #[test]
    fn old_code_reads_the_old_names_through_a_view_after_a_rename() {
        let mut db = shop();
        let old = "SELECT o.id FROM orders o LEFT JOIN invoices i ON i.order_id = o.id \
                   WHERE i.order_id IS NULL AND o.status = 'new' ORDER BY o.id";
        assert_eq!(rows(&mut db, old), vec![vec!["2".to_owned()]]);
        db.execute("ALTER TABLE orders RENAME TO orders_v2")
            .expect("rename table");
        db.execute("ALTER TABLE orders_v2 RENAME COLUMN status TO state")
            .expect("rename column");
        assert!(
            db.execute(old).is_err(),
            "without the view the old query fails"
        );
        db.execute(
            "CREATE VIEW orders (id, status, total_cents) AS \
             SELECT id, state, total_cents FROM orders_v2",
        )
        .expect("create view");
        assert_eq!(rows(&mut db, old), vec![vec!["2".to_owned()]]);
        // New rows written to the table show through the view.
        db.execute("INSERT INTO orders_v2 VALUES (3, 'new', 300)")
            .expect("insert");
        assert_eq!(rows(&mut db, old).len(), 2);
        // In a subquery too, and under the view's own name.
        assert_eq!(
            rows(
                &mut db,
                "SELECT COUNT(*) FROM invoices WHERE order_id IN (SELECT id FROM orders WHERE orders.status = 'paid')"
            ),
            vec![vec!["1".to_owned()]]
        );
    }

    #[test]
    fn a_renaming_view_costs_what_its_table_costs_and_a_filtering_one_still_works() {
        let mut db = shop();
        for i in 3..60 {
            db.execute(&format!("INSERT INTO orders VALUES ({i}, 'paid', {i})"))
                .expect("insert");
            db.execute(&format!("INSERT INTO invoices VALUES ({i}, {i})"))
                .expect("invoice");
        }
        let join = |from: &str| {
            format!(
                "SELECT o.id FROM {from} o LEFT JOIN invoices i ON i.order_id = o.id \
                 WHERE i.order_id IS NULL ORDER BY o.id"
            )
        };
        let direct = rows(&mut db, &join("orders"));
        let direct_read = db.default_connection_ref().last_counters().rows_read;
        db.execute(
            "CREATE VIEW renamed (id, state, cents) AS SELECT id, status, total_cents FROM orders",
        )
        .expect("renaming view");
        db.execute("CREATE VIEW paid AS SELECT id, total_cents FROM orders WHERE status = 'paid'")
            .expect("filtering view");
        assert_eq!(rows(&mut db, &join("renamed")), direct);
        let renamed_read = db.default_connection_ref().last_counters().rows_read;
        assert!(
            renamed_read <= direct_read,
            "{renamed_read} rows read through the view, {direct_read} from the table"
        );
        // A view that filters is a subquery: the same answer, at a higher cost.
        db.execute("INSERT INTO orders VALUES (60, 'paid', 60)")
            .expect("an unbilled paid order");
        let direct_read = direct_read + 2;
        assert_eq!(rows(&mut db, &join("paid")), vec![vec!["60".to_owned()]]);
        assert!(db.default_connection_ref().last_counters().rows_read > direct_read);
        // Names keep their meaning: a view that moves a name to another column is a subquery.
        db.execute("CREATE VIEW swapped (id, total_cents, status) AS SELECT id, status, total_cents FROM orders")
            .expect("swapping view");
        assert_eq!(
            rows(&mut db, "SELECT status FROM swapped WHERE id = 2"),
            vec![vec!["200".to_owned()]]
        );
    }

    #[test]
    fn a_view_is_read_only_and_dropped_by_name() {
        let mut db = shop();
        db.execute("CREATE VIEW paid AS SELECT id, total_cents AS amount FROM orders WHERE status = 'paid'")
            .expect("create view");
        assert_eq!(
            rows(&mut db, "SELECT amount FROM paid"),
            vec![vec!["100".to_owned()]]
        );
        for write in [
            "INSERT INTO paid VALUES (9, 9)",
            "UPDATE paid SET amount = 1",
            "DELETE FROM paid",
        ] {
            let error = db.execute(write).expect_err(write);
            assert!(error.to_string().contains("read-only"), "{write}: {error}");
        }
        let error = db
            .execute("CREATE VIEW orders AS SELECT id FROM invoices")
            .expect_err("name taken");
        assert_eq!(error.sqlstate(), SqlState::DuplicateTable);
        let error = db.execute("DROP VIEW orders").expect_err("a table");
        assert_eq!(error.sqlstate(), SqlState::WrongObjectType);
        db.execute("DROP VIEW paid").expect("drop view");
        assert!(db.execute("SELECT amount FROM paid").is_err());
        db.execute("DROP VIEW IF EXISTS paid").expect("if exists");
        assert_eq!(
            db.execute("DROP VIEW paid").expect_err("gone").sqlstate(),
            SqlState::UndefinedTable
        );
    }

    #[test]
    fn views_on_views_expand_and_a_star_needs_names() {
        let mut db = shop();
        db.execute("CREATE VIEW v1 AS SELECT id, total_cents FROM orders")
            .expect("v1");
        db.execute("CREATE VIEW v2 (n, cents) AS SELECT id, total_cents FROM v1 WHERE id > 1")
            .expect("v2");
        assert_eq!(
            rows(&mut db, "SELECT n, cents FROM v2"),
            vec![vec!["2".to_owned(), "200".to_owned()]]
        );
        let error = db
            .execute("CREATE VIEW v3 AS SELECT * FROM orders")
            .expect_err("unnamed");
        assert!(error.to_string().contains("columns named"), "{error}");
        db.execute("CREATE VIEW v3 (a, b, c) AS SELECT * FROM orders")
            .expect("named star");
        assert_eq!(
            rows(&mut db, "SELECT c FROM v3 WHERE a = 1"),
            vec![vec!["100".to_owned()]]
        );
        let error = db
            .execute("SELECT id FROM v1 FOR UPDATE")
            .expect_err("locking a view");
        assert!(error.to_string().contains("read-only"), "{error}");
    }

    #[test]
    fn a_view_refuses_a_repeated_or_surplus_column_name_as_postgresql_does() {
        let mut db = shop();
        for (sql, state) in [
            (
                "CREATE VIEW v (a, a) AS SELECT id, total_cents FROM orders",
                SqlState::DuplicateColumn,
            ),
            (
                "CREATE VIEW v AS SELECT id, id FROM orders",
                SqlState::DuplicateColumn,
            ),
            (
                "CREATE VIEW v (a, b, c) AS SELECT id, total_cents FROM orders",
                SqlState::SyntaxError,
            ),
        ] {
            assert_eq!(db.execute(sql).expect_err(sql).sqlstate(), state, "{sql}");
        }
        assert!(db.with_engine_ref(|e| e.relation_kind("v").is_none()));
    }

    #[test]
    fn column_aliases_on_a_view_reference_are_honoured_or_refused() {
        let mut db = shop();
        db.execute(
            "CREATE VIEW o (id, state, total_cents) AS SELECT id, status, total_cents FROM orders",
        )
        .expect("a renaming view");
        // The reference swaps two names: `id` now names the view's `state`, so the view is
        // not inlined as a renamed table (GlueSQL would find `id` in the table).
        assert_eq!(
            rows(
                &mut db,
                "SELECT id, state FROM o AS r (state, id) ORDER BY state"
            ),
            vec![
                vec!["'paid'".to_owned(), "1".to_owned()],
                vec!["'new'".to_owned(), "2".to_owned()]
            ]
        );
        let error = db
            .execute("SELECT * FROM o AS r (a, b, c, d)")
            .expect_err("four names for three columns");
        assert_eq!(
            error.sqlstate(),
            SqlState::InvalidColumnReference,
            "{error}"
        );
        assert!(error.to_string().contains("3 columns available"), "{error}");
    }
}
