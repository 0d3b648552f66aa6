//! Key access for single-row `UPDATE` and `DELETE`: the access path a real database's planner
//! would pick for `WHERE id = 42`. (A `SELECT`'s range of keys is [`crate::sim::key_range`].)
//!
//! GlueSQL plans `SELECT … WHERE pk = …` as a key lookup, but executes `UPDATE`/`DELETE` by
//! scanning the whole table and filtering, so their cost grows with the table. This module reads
//! the parsed statement: when its `WHERE` is a conjunction (`AND`) one of whose terms is
//! `pk = literal` (either way round) for the table's primary key, it names that key, and the
//! storage's next scan of the table yields only that row ([`crate::sim::storage::KeyHint`]).
//! GlueSQL still evaluates the whole `WHERE` on that row, so the result is the same as a full
//! scan; only the cost changes. Simplification: only integer and text primary keys qualify.

use crate::sim::storage::KeyHint;
use gluesql::core::ast::{BinaryOperator, DataType, Expr, Statement};
use gluesql::core::data::{Key, Schema};
use gluesql::core::executor::evaluate_stateless;
use gluesql::core::plan::plan_scalar_expr;

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
    let pk = primary_key(schema)?;
    if !key_type_qualifies(&pk.data_type) {
        return None;
    }
    literal_key(pinned_literal(selection, &pk.name, table)?, &pk.data_type)
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
            literal_key(literal, &pk.data_type)
        })
        .collect()
}

/// The key a constant expression gives as a value of `data_type` (a NULL gives `Key::None`).
pub(crate) fn literal_key(literal: &Expr, data_type: &DataType) -> Option<Key> {
    let value = evaluate_stateless(None, &plan_scalar_expr(literal.clone()))
        .ok()?
        .try_into_value(data_type, false)
        .ok()?;
    Key::try_from(&value).ok()
}

/// The table's primary key column, if it has one.
pub(crate) fn primary_key(schema: &Schema) -> Option<&gluesql::core::ast::ColumnDef> {
    schema
        .column_defs
        .as_ref()?
        .iter()
        .find(|c| c.unique.is_some_and(|u| u.is_primary))
}

/// Whether keys of this type keep their SQL order as [`Key`]s: integers and text.
pub(crate) fn key_type_qualifies(data_type: &DataType) -> bool {
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
