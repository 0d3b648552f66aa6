//! Key access: the access path a real database's planner would pick for `WHERE id = 42` in a
//! single-row `UPDATE` or `DELETE`, and for a range of the primary key in a `SELECT`
//! (`WHERE id BETWEEN 100 AND 199`, `id > 100 AND id <= 150`): PostgreSQL's index scan on the
//! table's `_pkey` index.
//!
//! GlueSQL plans `SELECT … WHERE pk = …` as a key lookup, but executes `UPDATE`/`DELETE` by
//! scanning the whole table and filtering, so their cost grows with the table. This module reads
//! the parsed statement: when its `WHERE` is a conjunction (`AND`) one of whose terms is
//! `pk = literal` (either way round) for the table's primary key, it names that key, and the
//! storage's next scan of the table yields only that row ([`crate::sim::storage::KeyHint`]).
//! GlueSQL still evaluates the whole `WHERE` on that row, so the result is the same as a full
//! scan; only the cost changes. Simplification: only integer and text primary keys qualify.
//!
//! A range works the same way ([`crate::sim::storage::KeyRange`]): the bounds come from the
//! `AND`-ed terms of a `SELECT`'s `WHERE` that compare the key with a literal of the key's own
//! type, the scan of the statement's first table yields only the rows within them, in key order,
//! and GlueSQL checks the whole `WHERE` on each. A range is given only when that scan is sure to
//! be the table's only one in the statement: the table is the first in `FROM`, appears nowhere
//! else in it, and the statement has no subquery. GlueSQL's own planner still picks its access
//! path first (a key lookup for `id = 5`, a secondary index); a range then goes unused. Not
//! covered (a full scan, as before): `ORDER BY id LIMIT n` without bounds, and `OR`.

use crate::sim::storage::{KeyHint, KeyRange};
use gluesql::core::ast::{
    BinaryOperator, DataType, Expr, JoinConstraint, JoinOperator, Literal, SetExpr, Statement,
    TableFactor, ToSql,
};
use gluesql::core::data::{Key, Schema};
use gluesql::core::executor::evaluate_stateless;
use gluesql::core::plan::plan_scalar_expr;
use std::ops::Bound;

/// The key hint for `statement`, if it is an `UPDATE` or `DELETE` whose `WHERE` pins the primary
/// key of its table to one literal value. `schema` looks a table's schema up.
pub fn key_hint(statement: &Statement, schema: impl Fn(&str) -> Option<Schema>) -> Option<KeyHint> {
    let (table_name, selection) = match statement {
        Statement::Update {
            table_name,
            selection: Some(selection),
            ..
        }
        | Statement::Delete {
            table_name,
            selection: Some(selection),
        } => (table_name, selection),
        _ => return None,
    };
    let schema = schema(table_name)?;
    let key = pinned_key(table_name, selection, &schema)?;
    Some(KeyHint {
        table: table_name.clone(),
        keys: vec![key],
    })
}

/// The primary key that `selection` (a `WHERE`) pins to one literal value for `table`, if it is
/// a conjunction with a `pk = literal` term and the key is an integer or text.
pub fn pinned_key(table: &str, selection: &Expr, schema: &Schema) -> Option<Key> {
    let pk = schema
        .column_defs
        .as_ref()?
        .iter()
        .find(|c| c.unique.is_some_and(|u| u.is_primary))?;
    if !key_type_qualifies(&pk.data_type) {
        return None;
    }
    let literal = pinned_literal(selection, &pk.name, table)?;
    let value = evaluate_stateless(None, &plan_scalar_expr(literal.clone()))
        .ok()?
        .try_into_value(&pk.data_type, false)
        .ok()?;
    Key::try_from(&value).ok()
}

/// The range of primary keys that a `SELECT`'s scan of its first table can keep to, if the
/// `AND`-ed terms of its `WHERE` bound the key (see the module's documentation for when).
pub fn range_hint(
    statement: &Statement,
    schema: impl Fn(&str) -> Option<Schema>,
) -> Option<KeyRange> {
    let Statement::Query(query) = statement else {
        return None;
    };
    let SetExpr::Select(select) = &query.body else {
        return None;
    };
    let TableFactor::Table { name, alias } = &select.from.relation else {
        return None;
    };
    let joined = !select.from.joins.is_empty();
    if select.from.joins.iter().any(
        |join| !matches!(&join.relation, TableFactor::Table { name: other, .. } if other != name),
    ) {
        return None;
    }
    let selection = select.selection.as_ref()?;
    let schema_of = &schema;
    let schema = schema_of(name)?;
    let pk = schema
        .column_defs
        .as_ref()?
        .iter()
        .find(|c| c.unique.is_some_and(|u| u.is_primary))?;
    if !key_type_qualifies(&pk.data_type) {
        return None;
    }
    let column = KeyColumn {
        name: &pk.name,
        data_type: &pk.data_type,
        table: name,
        alias: alias.as_ref().map(|a| a.name.as_str()),
        // In a join an unqualified name could be another table's column.
        unqualified: !joined,
    };
    // Every column the `WHERE` and the joins' `ON` name must exist: GlueSQL reports a missing
    // one only when it evaluates a row, and a narrowed scan evaluates fewer rows (PostgreSQL
    // refuses such a statement before it reads any), so a renamed column must still fail.
    let mut tables = vec![(
        alias.as_ref().map_or(name.as_str(), |a| a.name.as_str()),
        schema.clone(),
    )];
    for join in &select.from.joins {
        let TableFactor::Table { name, alias } = &join.relation else {
            return None;
        };
        tables.push((
            alias.as_ref().map_or(name.as_str(), |a| a.name.as_str()),
            schema_of(name)?,
        ));
    }
    let names = ColumnNames { tables, joined };
    let ons = select
        .from
        .joins
        .iter()
        .filter_map(|join| match &join.join_operator {
            JoinOperator::Inner(JoinConstraint::On(on))
            | JoinOperator::LeftOuter(JoinConstraint::On(on)) => Some(on),
            _ => None,
        });
    if !names.known(selection) || !ons.into_iter().all(|on| names.known(on)) {
        return None;
    }
    let mut range = KeyRange {
        table: name.clone(),
        lower: Bound::Unbounded,
        upper: Bound::Unbounded,
    };
    if !narrow(selection, &column, &mut range) {
        return None;
    }
    // Any subquery may scan the same table: its scan must not take the range. (A subquery is
    // the only way a second `SELECT` gets into the statement.)
    (query.to_sql().matches("SELECT").count() == 1).then_some(range)
}

/// The columns of the tables in a `FROM`, by the name each table goes by there (its alias, or
/// its name).
struct ColumnNames<'a> {
    tables: Vec<(&'a str, Schema)>,
    joined: bool,
}

impl ColumnNames<'_> {
    fn has(&self, table: Option<&str>, column: &str) -> bool {
        self.tables
            .iter()
            .filter(|(name, _)| table.is_none_or(|t| t == *name))
            .any(|(_, schema)| {
                schema
                    .column_defs
                    .as_ref()
                    .is_some_and(|defs| defs.iter().any(|c| c.name == column))
            })
    }

    /// Whether every column `expr` names exists (`false` too for what this does not look
    /// into: functions, subqueries).
    fn known(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Identifier(column) => !self.joined && self.has(None, column),
            Expr::CompoundIdentifier { alias, ident } => self.has(Some(alias), ident),
            Expr::Literal(_) | Expr::Value(_) | Expr::TypedString { .. } => true,
            Expr::IsNull(e)
            | Expr::IsNotNull(e)
            | Expr::Nested(e)
            | Expr::UnaryOp { expr: e, .. } => self.known(e),
            Expr::BinaryOp { left, right, .. }
            | Expr::Like {
                expr: left,
                pattern: right,
                ..
            }
            | Expr::ILike {
                expr: left,
                pattern: right,
                ..
            }
            | Expr::Regex {
                expr: left,
                pattern: right,
                ..
            } => self.known(left) && self.known(right),
            Expr::Between {
                expr, low, high, ..
            } => self.known(expr) && self.known(low) && self.known(high),
            Expr::InList { expr, list, .. } => {
                self.known(expr) && list.iter().all(|e| self.known(e))
            }
            Expr::Case {
                operand,
                when_then,
                else_result,
            } => {
                operand.as_deref().is_none_or(|e| self.known(e))
                    && when_then
                        .iter()
                        .all(|(w, t)| self.known(w) && self.known(t))
                    && else_result.as_deref().is_none_or(|e| self.known(e))
            }
            _ => false,
        }
    }
}

/// The primary key column a range is sought for, and the names it goes by.
struct KeyColumn<'a> {
    name: &'a str,
    data_type: &'a DataType,
    table: &'a str,
    alias: Option<&'a str>,
    unqualified: bool,
}

impl KeyColumn<'_> {
    fn named_by(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Nested(inner) => self.named_by(inner),
            Expr::Identifier(name) => self.unqualified && name == self.name,
            Expr::CompoundIdentifier { alias, ident } => {
                ident == self.name && (self.alias == Some(alias.as_str()) || alias == self.table)
            }
            _ => false,
        }
    }

    /// The key a literal of the column's own kind gives (a number for an integer key, a
    /// quoted string for a text key), so that the key order is the order GlueSQL compares in.
    fn key(&self, expr: &Expr) -> Option<Key> {
        let integer = *self.data_type != DataType::Text;
        let own_kind = |expr: &Expr| match expr {
            // A whole number only: `id < 5.5` must not become `id < 5`.
            Expr::Literal(Literal::Number(n)) => {
                integer && !n.to_string().contains(['.', 'e', 'E'])
            }
            Expr::Literal(Literal::QuotedString(_)) => !integer,
            _ => false,
        };
        let fits = match expr {
            Expr::UnaryOp { expr: inner, .. } => integer && own_kind(inner),
            Expr::Nested(inner) => own_kind(inner),
            other => own_kind(other),
        };
        if !fits {
            return None;
        }
        let value = evaluate_stateless(None, &plan_scalar_expr(expr.clone()))
            .ok()?
            .try_into_value(self.data_type, false)
            .ok()?;
        match Key::try_from(&value).ok()? {
            Key::None => None,
            key => Some(key),
        }
    }
}

/// Narrows `range` by the terms of `expr` that bound the key; whether any did.
fn narrow(expr: &Expr, column: &KeyColumn<'_>, range: &mut KeyRange) -> bool {
    match expr {
        Expr::Nested(inner) => narrow(inner, column, range),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            let left = narrow(left, column, range);
            narrow(right, column, range) || left
        }
        Expr::Between {
            expr,
            negated: false,
            low,
            high,
        } if column.named_by(expr) => {
            let (Some(low), Some(high)) = (column.key(low), column.key(high)) else {
                return false;
            };
            range.raise(Bound::Included(low));
            range.lower_to(Bound::Included(high));
            true
        }
        Expr::BinaryOp { left, op, right } => {
            let (op, literal) = if column.named_by(left) {
                (op.clone(), right)
            } else if column.named_by(right) {
                // `5 < id` is `id > 5`.
                let flipped = match op {
                    BinaryOperator::Lt => BinaryOperator::Gt,
                    BinaryOperator::LtEq => BinaryOperator::GtEq,
                    BinaryOperator::Gt => BinaryOperator::Lt,
                    BinaryOperator::GtEq => BinaryOperator::LtEq,
                    other => other.clone(),
                };
                (flipped, left)
            } else {
                return false;
            };
            let Some(key) = column.key(literal) else {
                return false;
            };
            match op {
                BinaryOperator::Eq => {
                    range.raise(Bound::Included(key.clone()));
                    range.lower_to(Bound::Included(key));
                }
                BinaryOperator::Gt => range.raise(Bound::Excluded(key)),
                BinaryOperator::GtEq => range.raise(Bound::Included(key)),
                BinaryOperator::Lt => range.lower_to(Bound::Excluded(key)),
                BinaryOperator::LtEq => range.lower_to(Bound::Included(key)),
                _ => return false,
            }
            true
        }
        _ => false,
    }
}

/// The primary keys an `INSERT … VALUES` writes, when every row gives its key as a literal
/// (`None` otherwise: the insert cannot say in advance which keys it takes).
pub fn inserted_keys(
    columns: &[String],
    source: &gluesql::core::ast::Query,
    schema: &Schema,
) -> Option<Vec<Key>> {
    let defs = schema.column_defs.as_ref()?;
    let (position, pk) = defs
        .iter()
        .enumerate()
        .find(|(_, c)| c.unique.is_some_and(|u| u.is_primary))?;
    if !key_type_qualifies(&pk.data_type) {
        return None;
    }
    let position = if columns.is_empty() {
        position
    } else {
        columns.iter().position(|c| *c == pk.name)?
    };
    let gluesql::core::ast::SetExpr::Values(values) = &source.body else {
        return None;
    };
    values
        .0
        .iter()
        .map(|row| {
            let literal = row.get(position).filter(|e| is_literal(e))?;
            let value = evaluate_stateless(None, &plan_scalar_expr(literal.clone()))
                .ok()?
                .try_into_value(&pk.data_type, false)
                .ok()?;
            Key::try_from(&value).ok()
        })
        .collect()
}

fn key_type_qualifies(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int
            | DataType::Int128
            | DataType::Uint8
            | DataType::Uint16
            | DataType::Uint32
            | DataType::Uint64
            | DataType::Uint128
            | DataType::Text
    )
}

/// The literal that `column` is set equal to by one of the `AND`-ed terms of `expr`.
fn pinned_literal<'a>(expr: &'a Expr, column: &str, table: &str) -> Option<&'a Expr> {
    match expr {
        Expr::Nested(inner) => pinned_literal(inner, column, table),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => pinned_literal(left, column, table).or_else(|| pinned_literal(right, column, table)),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } => {
            if names_column(left, column, table) && is_literal(right) {
                Some(right)
            } else if names_column(right, column, table) && is_literal(left) {
                Some(left)
            } else {
                None
            }
        }
        _ => None,
    }
}

fn names_column(expr: &Expr, column: &str, table: &str) -> bool {
    match expr {
        Expr::Nested(inner) => names_column(inner, column, table),
        Expr::Identifier(name) => name == column,
        Expr::CompoundIdentifier { alias, ident } => alias == table && ident == column,
        _ => false,
    }
}

/// A constant: a literal, possibly negated or parenthesised.
fn is_literal(expr: &Expr) -> bool {
    match expr {
        Expr::Literal(_) | Expr::Value(_) => true,
        Expr::Nested(inner) | Expr::UnaryOp { expr: inner, .. } => is_literal(inner),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gluesql::core::ast::{ColumnDef, ColumnUniqueOption};
    use gluesql::prelude::{parse, translate};

    fn schema(pk_type: DataType) -> Schema {
        let column = |name: &str, data_type: DataType, primary: bool| ColumnDef {
            name: name.to_owned(),
            data_type,
            nullable: !primary,
            default: None,
            unique: primary.then_some(ColumnUniqueOption { is_primary: true }),
            comment: None,
        };
        Schema {
            table_name: "orders".to_owned(),
            column_defs: Some(vec![
                column("id", pk_type, true),
                column("status", DataType::Text, false),
            ]),
            indexes: Vec::new(),
            engine: None,
            foreign_keys: Vec::new(),
            comment: None,
        }
    }

    fn hint(sql: &str, pk_type: DataType) -> Option<Key> {
        let parsed = parse(sql).expect("parses");
        let statement = translate(&parsed[0]).expect("translates");
        key_hint(&statement, |name| {
            (name == "orders").then(|| schema(pk_type.clone()))
        })
        .and_then(|h| h.keys.into_iter().next())
    }

    #[test]
    fn an_equality_on_the_primary_key_pins_the_key() {
        assert_eq!(
            hint(
                "UPDATE orders SET status = 'x' WHERE id = 42",
                DataType::Int
            ),
            Some(Key::I64(42))
        );
        assert_eq!(
            hint("DELETE FROM orders WHERE 7 = id", DataType::Int),
            Some(Key::I64(7))
        );
        assert_eq!(
            hint("DELETE FROM orders WHERE orders.id = -3", DataType::Int),
            Some(Key::I64(-3))
        );
        assert_eq!(
            hint(
                "UPDATE orders SET status = 'x' WHERE status = 'new' AND (id = 5)",
                DataType::Int
            ),
            Some(Key::I64(5))
        );
        assert_eq!(
            hint("DELETE FROM orders WHERE id = 'a-1'", DataType::Text),
            Some(Key::Str("a-1".to_owned()))
        );
    }

    fn range(sql: &str, pk_type: DataType) -> Option<(Bound<Key>, Bound<Key>)> {
        let parsed = parse(sql).expect("parses");
        let statement = translate(&parsed[0]).expect("translates");
        range_hint(&statement, |name| match name {
            "orders" => Some(schema(pk_type.clone())),
            "customers" => Some(Schema {
                table_name: "customers".to_owned(),
                ..schema(DataType::Int)
            }),
            _ => None,
        })
        .map(|r| (r.lower, r.upper))
    }

    #[test]
    fn bounds_on_the_primary_key_give_a_range() {
        use Bound::{Excluded, Included, Unbounded};
        let i = Key::I64;
        for (sql, expected) in [
            (
                "SELECT * FROM orders WHERE id BETWEEN 10 AND 20",
                (Included(i(10)), Included(i(20))),
            ),
            (
                "SELECT * FROM orders WHERE status = 'x' AND id > 10 AND id <= 20",
                (Excluded(i(10)), Included(i(20))),
            ),
            (
                "SELECT * FROM orders WHERE 10 <= id AND (orders.id < 20)",
                (Included(i(10)), Excluded(i(20))),
            ),
            (
                "SELECT * FROM orders o WHERE o.id >= -5 AND o.id > -7",
                (Included(i(-5)), Unbounded),
            ),
            (
                "SELECT * FROM orders WHERE id = 7",
                (Included(i(7)), Included(i(7))),
            ),
            (
                "SELECT o.id FROM orders o JOIN customers c ON c.status = o.status WHERE o.id < 3",
                (Unbounded, Excluded(i(3))),
            ),
        ] {
            assert_eq!(range(sql, DataType::Int), Some(expected), "{sql}");
        }
        assert_eq!(
            range(
                "SELECT * FROM orders WHERE id > 'b' AND id < 'd'",
                DataType::Text
            ),
            Some((
                Excluded(Key::Str("b".to_owned())),
                Excluded(Key::Str("d".to_owned()))
            ))
        );
    }

    #[test]
    fn a_range_is_given_only_when_the_scan_is_the_tables_only_one() {
        for sql in [
            "SELECT * FROM orders WHERE id > 1 OR status = 'x'",
            "SELECT * FROM orders WHERE NOT (id > 1)",
            "SELECT * FROM orders WHERE id NOT BETWEEN 1 AND 5",
            "SELECT * FROM orders WHERE id < 5.5",
            "SELECT * FROM orders WHERE id > '5'",
            "SELECT * FROM orders WHERE id > a",
            "SELECT * FROM orders WHERE id > 1 AND id IN (SELECT id FROM orders)",
            "SELECT * FROM orders WHERE id > (SELECT MIN(id) FROM orders)",
            "SELECT * FROM orders o JOIN orders p ON p.id = o.id WHERE o.id > 1",
            "SELECT * FROM orders o JOIN customers c ON c.id = o.id WHERE id > 1",
            "SELECT * FROM orders o JOIN customers c ON c.name = o.status WHERE o.id > 1",
            "SELECT * FROM orders o JOIN nobody n ON n.id = o.id WHERE o.id > 1",
            "SELECT * FROM orders ORDER BY id LIMIT 1",
            "SELECT * FROM orders WHERE id > 1 AND renamed = 'x'",
            "SELECT * FROM orders WHERE id > 1 AND UPPER(status) = 'X'",
            "UPDATE orders SET status = 'x' WHERE id > 1",
        ] {
            assert_eq!(range(sql, DataType::Int), None, "{sql}");
        }
        assert_eq!(
            range("SELECT * FROM orders WHERE id > 1.5", DataType::Float),
            None
        );
        assert_eq!(
            range("SELECT * FROM orders WHERE id > 5", DataType::Text),
            None
        );
    }

    #[test]
    fn anything_else_scans_the_table() {
        for sql in [
            "UPDATE orders SET status = 'x'",
            "UPDATE orders SET status = 'x' WHERE id = 1 OR id = 2",
            "UPDATE orders SET status = 'x' WHERE id > 1",
            "UPDATE orders SET status = 'x' WHERE status = 'new'",
            "DELETE FROM orders WHERE id = (SELECT MAX(id) FROM orders)",
            "DELETE FROM orders WHERE NOT (id = 1)",
            "DELETE FROM other WHERE id = 1",
            "SELECT * FROM orders WHERE id = 1",
        ] {
            assert_eq!(hint(sql, DataType::Int), None, "{sql}");
        }
        assert_eq!(
            hint("DELETE FROM orders WHERE id = 1.5", DataType::Float),
            None
        );
    }
}
