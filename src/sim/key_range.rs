//! Index range scans on the primary key: a `SELECT` whose `WHERE` bounds the key
//! (`id BETWEEN 100 AND 199`, `id > 100 AND id <= 150`, `5 < o.id`) reads only the rows in that
//! range, in key order, as PostgreSQL reads them through the table's `_pkey` index (its "Index
//! Cond"). The storage's next scan of the table keeps to the range
//! ([`crate::sim::storage::KeyRange`]); GlueSQL still applies the `WHERE` to each row, so the
//! rows returned are those of a full scan — unless the `WHERE` is nothing but the key's bounds
//! over one table ([`RangeHint::whole_where`]): then the range is the whole condition, as an
//! index scan with no "Filter" line in PostgreSQL's plan, and the `WHERE` is not evaluated again.
//!
//! A narrowed scan evaluates the `WHERE` on fewer rows. GlueSQL reports some mistakes only when
//! it evaluates a row (a missing column, a value of the wrong type; its `AND` evaluates both
//! sides), and a full scan would meet them on rows outside the range, so a range is given only
//! when none of that can happen:
//! - the `WHERE` and every join's `ON` are `AND`/`OR` of comparisons (`=`, `<>`, `<`, `<=`, `>`,
//!   `>=`, `BETWEEN`, `IN (…)`, `IS [NOT] NULL`) between existing columns and literals of the
//!   column's own kind (a number that fits an integer column, a quoted string for text), or
//!   two columns of one type;
//! - the bounded table is the first in `FROM` and appears nowhere else in it, every table there
//!   goes by a distinct name, and none renames its columns (`AS o (a, b)`);
//! - the statement has no subquery, and its `LIMIT`/`OFFSET` are literals.
//!
//! The range is taken by the table's first read in the statement, whichever access path GlueSQL
//! chose for it (a key lookup for `id = 5`, a secondary index): then no later read of the table
//! can take it, except the key-order walk of [`crate::sim::key_order`] (`WHERE id > 5 ORDER BY
//! id LIMIT 3`), which keeps to the range. Not covered (a full scan, as before): bounds under
//! `OR`.

use crate::sim::key_access::{key_type_qualifies, primary_key};
use crate::sim::storage::KeyRange;
use gluesql::core::ast::{
    BinaryOperator, DataType, Expr, JoinConstraint, JoinOperator, Literal, SetExpr, Statement,
    TableFactor, ToSql, UnaryOperator,
};
use gluesql::core::data::{Key, Schema};
use std::ops::Bound;

/// A range of primary keys for a `SELECT`'s read of its first table.
#[derive(Debug, Clone)]
pub struct RangeHint {
    /// The keys the read keeps to.
    pub range: KeyRange,
    /// Whether the `WHERE` is nothing but bounds on the key, over one table: then the rows in
    /// the range are exactly the rows it keeps, and GlueSQL need not evaluate it on each one
    /// again ([`drop_where`]), as PostgreSQL's index scan has no "Filter" left over its
    /// "Index Cond".
    pub whole_where: bool,
}

/// The range of primary keys that a `SELECT`'s read of its first table can keep to, if its
/// `WHERE` bounds the key and the statement qualifies (see the module's documentation).
/// `schema` looks a table's schema up.
pub fn range_hint(
    statement: &Statement,
    schema: impl Fn(&str) -> Option<Schema>,
) -> Option<RangeHint> {
    let Statement::Query(query) = statement else {
        return None;
    };
    let SetExpr::Select(select) = &query.body else {
        return None;
    };
    if ![&query.limit, &query.offset]
        .into_iter()
        .all(|e| e.as_ref().is_none_or(|e| matches!(e, Expr::Literal(_))))
    {
        return None;
    }
    let selection = select.selection.as_ref()?;
    let mut tables = Vec::new();
    for relation in std::iter::once(&select.from.relation)
        .chain(select.from.joins.iter().map(|join| &join.relation))
    {
        let TableFactor::Table { name, alias } = relation else {
            return None;
        };
        if alias.as_ref().is_some_and(|a| !a.columns.is_empty()) {
            return None;
        }
        let called = alias.as_ref().map_or(name.as_str(), |a| a.name.as_str());
        tables.push(FromTable {
            name,
            called,
            schema: schema(name)?,
        });
    }
    let (first, others) = tables.split_first()?;
    let distinct = tables
        .iter()
        .enumerate()
        .all(|(i, t)| tables[..i].iter().all(|u| u.called != t.called));
    if !distinct || others.iter().any(|t| t.name == first.name) {
        return None;
    }
    let pk = primary_key(&first.schema)?;
    if !key_type_qualifies(&pk.data_type) {
        return None;
    }
    let from = From {
        tables: &tables,
        joined: !others.is_empty(),
    };
    let ons = select
        .from
        .joins
        .iter()
        .map(|join| match &join.join_operator {
            JoinOperator::Inner(JoinConstraint::On(on))
            | JoinOperator::LeftOuter(JoinConstraint::On(on)) => Some(on),
            _ => None,
        });
    if !from.cannot_fail(selection) || !ons.flatten().all(|on| from.cannot_fail(on)) {
        return None;
    }
    let column = KeyColumn {
        name: &pk.name,
        data_type: &pk.data_type,
        called: first.called,
        unqualified: !from.joined,
    };
    let mut range = KeyRange {
        table: first.name.to_owned(),
        lower: Bound::Unbounded,
        upper: Bound::Unbounded,
    };
    let narrowed = narrow(selection, &column, &mut range);
    if !narrowed.any {
        return None;
    }
    // A subquery (in the projection, say) could read the table again; a second `SELECT` in
    // the statement's text is the sign of one.
    if query.to_sql().matches("SELECT").count() != 1 {
        return None;
    }
    Some(RangeHint {
        range,
        whole_where: !from.joined && narrowed.all,
    })
}

/// Takes the `WHERE` out of a `SELECT` whose [`RangeHint::whole_where`] holds: the range
/// given to the storage keeps to the rows it would keep.
pub fn drop_where(statement: &mut Statement) {
    if let Statement::Query(query) = statement {
        if let SetExpr::Select(select) = &mut query.body {
            select.selection = None;
        }
    }
}

/// A table of a `FROM`: its name, the name it goes by there (its alias, or its name), and its
/// schema.
struct FromTable<'a> {
    name: &'a str,
    called: &'a str,
    schema: Schema,
}

/// The tables of a `FROM`, to check the columns a condition names.
struct From<'a> {
    tables: &'a [FromTable<'a>],
    joined: bool,
}

impl From<'_> {
    /// The type of the column `expr` names, if it names one that exists (an unqualified name
    /// only outside joins, where it cannot be another table's).
    fn column_type(&self, expr: &Expr) -> Option<&DataType> {
        let (table, column) = match expr {
            Expr::Identifier(column) if !self.joined => (None, column),
            Expr::CompoundIdentifier { alias, ident } => (Some(alias.as_str()), ident),
            _ => return None,
        };
        self.tables
            .iter()
            .filter(|t| table.is_none_or(|name| name == t.called))
            .find_map(|t| {
                t.schema
                    .column_defs
                    .as_ref()?
                    .iter()
                    .find(|c| c.name == *column)
            })
            .map(|c| &c.data_type)
    }

    /// Whether `expr` compares existing columns with literals of their kind only, so that its
    /// evaluation cannot fail on any row.
    fn cannot_fail(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Nested(inner) => self.cannot_fail(inner),
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And | BinaryOperator::Or,
                right,
            } => self.cannot_fail(left) && self.cannot_fail(right),
            Expr::BinaryOp {
                left,
                op:
                    BinaryOperator::Eq
                    | BinaryOperator::NotEq
                    | BinaryOperator::Lt
                    | BinaryOperator::LtEq
                    | BinaryOperator::Gt
                    | BinaryOperator::GtEq,
                right,
            } => match (self.column_type(left), self.column_type(right)) {
                (Some(a), Some(b)) => a == b,
                (Some(t), None) => literal_of(right, t),
                (None, Some(t)) => literal_of(left, t),
                (None, None) => false,
            },
            Expr::Between {
                expr, low, high, ..
            } => self
                .column_type(expr)
                .is_some_and(|t| literal_of(low, t) && literal_of(high, t)),
            Expr::InList { expr, list, .. } => self
                .column_type(expr)
                .is_some_and(|t| list.iter().all(|e| literal_of(e, t))),
            Expr::IsNull(inner) | Expr::IsNotNull(inner) => self.column_type(inner).is_some(),
            _ => false,
        }
    }
}

/// Whether `expr` is a literal of `data_type`'s own kind: a whole number that fits an integer
/// type, a number for a float or decimal, a quoted string for text.
fn literal_of(expr: &Expr, data_type: &DataType) -> bool {
    let number = |e: &Expr| matches!(e, Expr::Literal(Literal::Number(_)));
    let is_number = match expr {
        Expr::UnaryOp {
            op: UnaryOperator::Minus | UnaryOperator::Plus,
            expr,
        } => number(expr),
        other => number(other),
    };
    match data_type {
        DataType::Text => matches!(expr, Expr::Literal(Literal::QuotedString(_))),
        DataType::Float32 | DataType::Float | DataType::Decimal => is_number,
        t if key_type_qualifies(t) => is_number && literal_key(expr, t).is_some(),
        _ => false,
    }
}

/// The key a literal gives for a key column of `data_type`: a whole number that fits it, or a
/// quoted string for text (so that the key order is the order GlueSQL compares in).
fn literal_key(expr: &Expr, data_type: &DataType) -> Option<Key> {
    let whole = |e: &Expr| match e {
        // `id < 5.5` must not become `id < 5`.
        Expr::Literal(Literal::Number(n)) => !n.to_string().contains(['.', 'e', 'E']),
        _ => false,
    };
    let fits = match (data_type, expr) {
        (DataType::Text, Expr::Literal(Literal::QuotedString(_))) => true,
        (DataType::Text, _) => false,
        (_, Expr::UnaryOp { expr: inner, .. }) => whole(inner),
        (_, other) => whole(other),
    };
    if !fits {
        return None;
    }
    match crate::sim::key_access::literal_key(expr, data_type)? {
        Key::None => None,
        key => Some(key),
    }
}

/// The primary key column a range is sought for, and the names it goes by.
struct KeyColumn<'a> {
    name: &'a str,
    data_type: &'a DataType,
    /// The name its table goes by in `FROM` (an alias hides the table's name, as in SQL).
    called: &'a str,
    /// Whether the column may be named alone (outside joins).
    unqualified: bool,
}

impl KeyColumn<'_> {
    fn named_by(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Nested(inner) => self.named_by(inner),
            Expr::Identifier(name) => self.unqualified && name == self.name,
            Expr::CompoundIdentifier { alias, ident } => ident == self.name && alias == self.called,
            _ => false,
        }
    }
}

/// Which of a condition's `AND`-ed terms bound the key.
#[derive(Clone, Copy)]
struct Narrowed {
    /// At least one.
    any: bool,
    /// Every one: the condition is nothing but the key's bounds.
    all: bool,
}

impl Narrowed {
    const YES: Self = Self {
        any: true,
        all: true,
    };
    const NO: Self = Self {
        any: false,
        all: false,
    };
}

/// Narrows `range` by the `AND`-ed terms of `expr` that bound the key; whether any did, and
/// whether all did.
fn narrow(expr: &Expr, column: &KeyColumn<'_>, range: &mut KeyRange) -> Narrowed {
    match expr {
        Expr::Nested(inner) => narrow(inner, column, range),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            let (left, right) = (narrow(left, column, range), narrow(right, column, range));
            Narrowed {
                any: left.any || right.any,
                all: left.all && right.all,
            }
        }
        Expr::Between {
            expr,
            negated: false,
            low,
            high,
        } if column.named_by(expr) => {
            let (Some(low), Some(high)) = (
                literal_key(low, column.data_type),
                literal_key(high, column.data_type),
            ) else {
                return Narrowed::NO;
            };
            range.raise(Bound::Included(low));
            range.lower_to(Bound::Included(high));
            Narrowed::YES
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
                return Narrowed::NO;
            };
            let Some(key) = literal_key(literal, column.data_type) else {
                return Narrowed::NO;
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
                _ => return Narrowed::NO,
            }
            Narrowed::YES
        }
        _ => Narrowed::NO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gluesql::core::ast::{ColumnDef, ColumnUniqueOption};
    use gluesql::prelude::{parse, translate};

    fn schema(table: &str, pk_type: DataType) -> Schema {
        let column = |name: &str, data_type: DataType, primary: bool| ColumnDef {
            name: name.to_owned(),
            data_type,
            nullable: !primary,
            default: None,
            unique: primary.then_some(ColumnUniqueOption { is_primary: true }),
            comment: None,
        };
        Schema {
            table_name: table.to_owned(),
            column_defs: Some(vec![
                column("id", pk_type, true),
                column("status", DataType::Text, false),
                column("n", DataType::Int, false),
            ]),
            indexes: Vec::new(),
            engine: None,
            foreign_keys: Vec::new(),
            comment: None,
        }
    }

    fn range(sql: &str, pk_type: DataType) -> Option<(Bound<Key>, Bound<Key>)> {
        let parsed = parse(sql).expect("parses");
        let statement = translate(&parsed[0]).expect("translates");
        range_hint(&statement, |name| match name {
            "orders" => Some(schema("orders", pk_type.clone())),
            "customers" => Some(schema("customers", DataType::Int)),
            _ => None,
        })
        .map(|r| (r.range.lower, r.range.upper))
    }

    fn whole_where(sql: &str) -> Option<bool> {
        let parsed = parse(sql).expect("parses");
        let statement = translate(&parsed[0]).expect("translates");
        range_hint(&statement, |name| match name {
            "orders" => Some(schema("orders", DataType::Int)),
            "customers" => Some(schema("customers", DataType::Int)),
            _ => None,
        })
        .map(|r| r.whole_where)
    }

    #[test]
    fn a_where_of_key_bounds_only_is_the_range_itself() {
        for sql in [
            "SELECT * FROM orders WHERE id BETWEEN 10 AND 20",
            "SELECT * FROM orders WHERE 10 <= id AND (orders.id < 20) LIMIT 5",
            "SELECT COUNT(*) FROM orders o WHERE o.id = 7",
            "SELECT id FROM orders WHERE id > 3 ORDER BY id LIMIT 1",
        ] {
            assert_eq!(whole_where(sql), Some(true), "{sql}");
        }
        for sql in [
            "SELECT * FROM orders WHERE status = 'x' AND id > 10 AND id <= 20",
            "SELECT * FROM orders WHERE id > 1 AND id <> 5",
            "SELECT * FROM orders WHERE id > 1 AND id IS NOT NULL",
            "SELECT * FROM orders WHERE id > 1 AND id IN (2, 3)",
            "SELECT o.id FROM orders o JOIN customers c ON c.status = o.status WHERE o.id < 3",
        ] {
            assert_eq!(whole_where(sql), Some(false), "{sql}");
        }
    }

    #[test]
    fn dropping_the_where_leaves_the_rest_of_the_select() {
        let parsed =
            parse("SELECT id FROM orders WHERE id > 3 ORDER BY id LIMIT 2").expect("parses");
        let mut statement = translate(&parsed[0]).expect("translates");
        drop_where(&mut statement);
        let Statement::Query(query) = &statement else {
            panic!("a query");
        };
        let sql = query.to_sql();
        assert!(!sql.contains("WHERE"), "{sql}");
        assert!(
            sql.contains("ORDER BY") && sql.ends_with("LIMIT 2"),
            "{sql}"
        );
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
                "SELECT * FROM orders WHERE 10 <= id AND (orders.id < 20) LIMIT 5",
                (Included(i(10)), Excluded(i(20))),
            ),
            (
                "SELECT * FROM orders o WHERE o.id >= -5 AND o.id > -7 AND o.n IN (1, 2)",
                (Included(i(-5)), Unbounded),
            ),
            (
                "SELECT * FROM orders WHERE id = 7 AND status IS NOT NULL",
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
    fn bounds_a_range_cannot_hold_scan_the_table() {
        for sql in [
            "SELECT * FROM orders WHERE id > 1 OR status = 'x'",
            "SELECT * FROM orders WHERE NOT (id > 1)",
            "SELECT * FROM orders WHERE id NOT BETWEEN 1 AND 5",
            "SELECT * FROM orders WHERE id < 5.5",
            "SELECT * FROM orders WHERE id > '5'",
            "SELECT * FROM orders WHERE id > n",
            "SELECT * FROM orders ORDER BY id LIMIT 1",
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
        assert_eq!(
            range("SELECT * FROM orders WHERE id < 1000", DataType::Int8),
            None,
            "1000 does not fit an INT8 key"
        );
    }

    #[test]
    fn a_condition_that_could_fail_on_a_row_outside_the_range_scans_the_table() {
        for sql in [
            "SELECT * FROM orders WHERE id > 1 AND renamed = 'x'",
            "SELECT * FROM orders WHERE id > 1 AND UPPER(status) = 'X'",
            "SELECT * FROM orders WHERE id > 1000 AND status",
            "SELECT * FROM orders WHERE id > 5 AND 10 / (id - 3) > 0",
            "SELECT * FROM orders WHERE id > 5 AND n = 'seven'",
            "SELECT * FROM orders WHERE id > 5 AND status LIKE 'a%'",
            "SELECT * FROM orders WHERE id > 5 AND status = n",
            "SELECT * FROM orders o JOIN customers c ON c.id = 10 / (o.id - 3) WHERE o.id > 5",
        ] {
            assert_eq!(range(sql, DataType::Int), None, "{sql}");
        }
    }

    #[test]
    fn a_range_is_given_only_when_the_first_read_of_the_table_is_its_only_one() {
        for sql in [
            "SELECT * FROM orders WHERE id > 1 AND id IN (SELECT id FROM orders)",
            "SELECT * FROM orders WHERE id > (SELECT MIN(id) FROM orders)",
            "SELECT id, (SELECT MAX(id) FROM orders) FROM orders WHERE id > 1",
            "SELECT * FROM orders WHERE id > 1 LIMIT (SELECT COUNT(*) FROM orders)",
            "SELECT * FROM orders o JOIN orders p ON p.id = o.id WHERE o.id > 1",
            "SELECT * FROM customers c JOIN orders o ON o.id = c.id WHERE o.id > 1",
            "SELECT * FROM orders o JOIN customers c ON c.id = o.id WHERE id > 1",
            "SELECT * FROM orders o JOIN customers o ON o.id = o.n WHERE o.id > 5",
            "SELECT * FROM orders JOIN customers AS orders ON orders.n = orders.n WHERE orders.id > 5",
            "SELECT * FROM orders o JOIN customers c ON c.n = o.n WHERE orders.id > 5",
            "SELECT * FROM orders a (n, id) WHERE a.id > 100",
            "SELECT * FROM orders o JOIN nobody n ON n.id = o.id WHERE o.id > 1",
        ] {
            assert_eq!(range(sql, DataType::Int), None, "{sql}");
        }
    }
}
