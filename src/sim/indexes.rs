//! Secondary indexes: a B-tree on one column of a table, as PostgreSQL's `CREATE INDEX` makes,
//! kept by our storage so that GlueSQL's index planner can read through it.
//!
//! Here are the index itself and GlueSQL's `Index` / `IndexMut` traits on a storage session
//! (the scan its index planner asks for, `CREATE INDEX`, `DROP INDEX`).
//!
//! An index maps each value of its column to the rows holding it. Like PostgreSQL's, which
//! points at every heap tuple version, it has an entry for the value of every version of a row
//! that the storage still keeps (committed, uncommitted, old ones a snapshot may need). A scan
//! looks the candidates up in the index, then reads each candidate's visible version and checks
//! it again (PostgreSQL's heap recheck): an index changes what a query costs, never what it
//! returns.
//!
//! What it costs a writer (the cost model's `per_index_entry_us`, per entry):
//! - an insert puts one entry in every index of the table;
//! - an update that changes an indexed column puts one entry in every index, as the new row
//!   version has a new address (an update that changes no indexed column adds none:
//!   PostgreSQL's HOT update);
//! - a delete adds none (PostgreSQL leaves the entries for VACUUM).
//!
//! Differences from PostgreSQL, on purpose:
//! - one column per index: no expressions, no composite, partial or unique indexes, and no
//!   `CONCURRENTLY` (`CREATE INDEX` takes its SHARE lock and builds at once);
//! - GlueSQL plans an index only for a `SELECT` (an `UPDATE` or `DELETE` scans its table), only
//!   on the first table of a join, and only for the column named without a table qualifier
//!   (`WHERE status = 'paid'`, not `WHERE o.status = 'paid'`);
//! - entries of versions that are gone are dropped at once, not by VACUUM.

use crate::sim::database::DbError;
use crate::sim::sqlstate::SqlState;
use crate::sim::statement::Command;
use crate::sim::storage::{name_taken, Engine};
use crate::sim::transaction::Session;
use gluesql::core::ast::Statement;
use gluesql::core::ast::{DataType, Expr, IndexOperator, Literal, OrderByExpr};
use gluesql::core::data::{Key, SchemaIndex, SchemaIndexOrd, Value};
use gluesql::core::error::{Error, Result};
use gluesql::core::executor::evaluate_stateless;
use gluesql::core::executor::Payload;
use gluesql::core::plan::ExprPlan;
use gluesql::core::store::{Index, IndexMut, RowIter};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// One secondary index: its name, its column, and index value → row keys.
#[derive(Debug, Clone, PartialEq)]
pub struct SecondaryIndex {
    /// The index's name (unique among the database's tables, views and indexes).
    pub name: String,
    /// The indexed column.
    pub column: String,
    /// Index value → the keys of the rows one of whose versions holds it.
    entries: BTreeMap<Key, BTreeSet<Key>>,
    /// Row key → the index values its versions hold (to take them out again).
    of_row: BTreeMap<Key, Vec<Key>>,
}

impl SecondaryIndex {
    /// An empty index on `column`.
    pub fn new(name: impl Into<String>, column: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            column: column.into(),
            entries: BTreeMap::new(),
            of_row: BTreeMap::new(),
        }
    }

    /// Makes row `row`'s entries those of `values` (the indexed column's value in each version
    /// the row holds now; none for a row that is gone). Returns how many entries it added: the
    /// work an index does for a write.
    pub fn reindex_row<'a>(&mut self, row: &Key, values: impl Iterator<Item = &'a Value>) -> u64 {
        let mut now: Vec<Key> = values.filter_map(index_key).collect();
        now.sort();
        now.dedup();
        let before = self.of_row.remove(row).unwrap_or_default();
        let mut added = 0;
        for value in &before {
            if now.binary_search(value).is_err() {
                if let Some(rows) = self.entries.get_mut(value) {
                    rows.remove(row);
                    if rows.is_empty() {
                        self.entries.remove(value);
                    }
                }
            }
        }
        for value in &now {
            if before.binary_search(value).is_err() {
                self.entries
                    .entry(value.clone())
                    .or_default()
                    .insert(row.clone());
                added += 1;
            }
        }
        if !now.is_empty() {
            self.of_row.insert(row.clone(), now);
        }
        added
    }

    /// The rows whose entries may satisfy `predicate` (all of them without one), each once, in
    /// index order. `predicate`'s value must have the column's type (see [`index_key`]).
    pub fn candidates(&self, predicate: Option<(&IndexOperator, &Key)>) -> Vec<Key> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let range = match predicate {
            None => (Unbounded, Unbounded),
            Some((IndexOperator::Eq, value)) => (Included(value), Included(value)),
            Some((IndexOperator::Gt, value)) => (Excluded(value), Unbounded),
            Some((IndexOperator::GtEq, value)) => (Included(value), Unbounded),
            Some((IndexOperator::Lt, value)) => (Unbounded, Excluded(value)),
            Some((IndexOperator::LtEq, value)) => (Unbounded, Included(value)),
        };
        let mut seen = BTreeSet::new();
        self.entries
            .range::<Key, _>(range)
            .flat_map(|(_, rows)| rows.iter())
            .filter(|row| seen.insert(*row))
            .cloned()
            .collect()
    }

    /// How many entries the index holds.
    pub fn entry_count(&self) -> usize {
        self.entries.values().map(BTreeSet::len).sum()
    }
}

/// How an index scan finds the rows for `column op target`.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// Read the entries in the range `op key` (all of them without a key), then re-check each
    /// row's visible value.
    Entries {
        /// The target as the index orders it; `None`: every entry.
        key: Option<Key>,
        /// How each row's value is checked again.
        recheck: Recheck,
    },
    /// No row can match (a number compared with a text column, 5.5 with an INTEGER one): what
    /// GlueSQL's own comparison of the column with that literal decides.
    Nothing,
}

/// How a row's value is checked against the target, as GlueSQL's filter would.
#[derive(Debug, Clone, PartialEq)]
pub enum Recheck {
    /// Against a value of the column's own type.
    Value(Value),
    /// Against a quoted literal, parsed for the column's type as GlueSQL parses it
    /// (`created_at >= '2026-01-01'`, `id = '3'`).
    Text(String),
}

impl Recheck {
    /// Whether `value` satisfies `op` with this target.
    pub fn holds(&self, value: &Value, op: &IndexOperator) -> bool {
        match self {
            Self::Value(target) => satisfies(value, op, target),
            Self::Text(_) if matches!(value, Value::Null) => false,
            Self::Text(text) => {
                let expr = ExprPlan::BinaryOp {
                    left: Box::new(ExprPlan::Value(value.clone())),
                    op: op.clone().into(),
                    right: Box::new(ExprPlan::Literal(Literal::QuotedString(text.clone()))),
                };
                evaluate_stateless(None, &expr)
                    .and_then(bool::try_from)
                    .unwrap_or(false)
            }
        }
    }
}

/// How to look up `target` in an index on a column of type `column`. A target of the column's
/// own type, or a number converting exactly to a numeric column's type, is looked up in its
/// range; a quoted literal for another type is checked row by row with GlueSQL's literal
/// rules; a number compared with a column that is not numeric matches nothing.
pub fn lookup(target: &Value, column: Option<&DataType>) -> Lookup {
    let Some(column) = column else {
        return Lookup::Entries {
            key: None,
            recheck: Recheck::Value(target.clone()),
        };
    };
    let in_range = |value: Value| Lookup::Entries {
        key: index_key(&value),
        recheck: Recheck::Value(value),
    };
    match target {
        Value::Null => in_range(Value::Null),
        _ if target.get_type().as_ref() == Some(column) => in_range(target.clone()),
        Value::Str(text) => Lookup::Entries {
            key: None,
            recheck: Recheck::Text(text.clone()),
        },
        _ if is_number(target) && is_numeric(column) => {
            let converted = target.cast(column).ok();
            let back = converted
                .as_ref()
                .and_then(|c| c.cast(&target.get_type()?).ok());
            match (converted, back) {
                (Some(converted), Some(back)) if back == *target => in_range(converted),
                _ => Lookup::Nothing,
            }
        }
        _ if is_number(target) => Lookup::Nothing,
        _ => Lookup::Entries {
            key: None,
            recheck: Recheck::Value(target.clone()),
        },
    }
}

/// PostgreSQL's `DROP INDEX name` as the statement GlueSQL runs (`DROP INDEX table.name`),
/// once the index's table is found; `None` if no table has it.
pub fn resolve_drop(engine: &Engine, name: &str) -> Option<Command> {
    let table = engine.table_of_index(name)?;
    Some(Command::Sql {
        statement: Statement::DropIndex {
            name: name.to_owned(),
            table_name: table.to_owned(),
        },
        locking: None,
    })
}

/// `DROP INDEX name` of a name no table's index has: nothing with `IF EXISTS`, else PostgreSQL's
/// error (42809 for a table or view, 42704 for an unknown name).
///
/// # Errors
///
/// [`DbError::Storage`] with the code above.
pub fn drop_unresolved(engine: &Engine, name: &str, if_exists: bool) -> Result<Payload, DbError> {
    match engine.relation_kind(name) {
        Some(kind) => Err(DbError::Storage {
            state: SqlState::WrongObjectType,
            message: format!("\"{name}\" is not an index (it is a {kind})"),
        }),
        None if if_exists => Ok(Payload::DropIndex),
        None => Err(DbError::Storage {
            state: SqlState::UndefinedObject,
            message: format!("index \"{name}\" does not exist"),
        }),
    }
}

/// An index as the schema sidebar lists it: "orders_status (status)".
pub fn describe(index: &SchemaIndex) -> String {
    match &index.expr {
        Expr::Identifier(column) => format!("{} ({column})", index.name),
        _ => index.name.clone(),
    }
}

/// Whether `value` is a number of any width (what GlueSQL compares as numbers).
pub fn is_number(value: &Value) -> bool {
    matches!(
        value,
        Value::I8(_)
            | Value::I16(_)
            | Value::I32(_)
            | Value::I64(_)
            | Value::I128(_)
            | Value::U8(_)
            | Value::U16(_)
            | Value::U32(_)
            | Value::U64(_)
            | Value::U128(_)
            | Value::F32(_)
            | Value::F64(_)
            | Value::Decimal(_)
    )
}

fn is_numeric(data_type: &DataType) -> bool {
    use DataType::*;
    matches!(
        data_type,
        Int8 | Int16
            | Int32
            | Int
            | Int128
            | Uint8
            | Uint16
            | Uint32
            | Uint64
            | Uint128
            | Float32
            | Float
            | Decimal
    )
}

/// Whether a B-tree can index a column of this type (PostgreSQL has no default B-tree operator
/// class for lists, maps or points either).
pub fn indexable(data_type: &DataType) -> bool {
    !matches!(data_type, DataType::List | DataType::Map | DataType::Point)
}

/// A value as an index holds it (`NULL` included, ordered last as in PostgreSQL's default);
/// `None` for a value no B-tree can order (a list, a map).
pub fn index_key(value: &Value) -> Option<Key> {
    Key::try_from(value.clone()).ok()
}

/// Whether a row whose indexed column holds `value` satisfies `op target`, with GlueSQL's own
/// comparison (what the query would have decided without the index). The planner asks
/// `column IS NULL` as `= NULL` and `column IS NOT NULL` as `< NULL`.
pub fn satisfies(value: &Value, op: &IndexOperator, target: &Value) -> bool {
    match (value, target) {
        (Value::Null, Value::Null) => matches!(op, IndexOperator::Eq),
        (_, Value::Null) => matches!(op, IndexOperator::Lt),
        (Value::Null, _) => false,
        _ => value.evaluate_cmp(target).is_some_and(|order| match op {
            IndexOperator::Eq => order == Ordering::Equal,
            IndexOperator::Gt => order == Ordering::Greater,
            IndexOperator::GtEq => order != Ordering::Less,
            IndexOperator::Lt => order == Ordering::Less,
            IndexOperator::LtEq => order != Ordering::Greater,
        }),
    }
}

// GlueSQL's index traits on a session of our storage: the scan its planner asks for, and
// CREATE / DROP INDEX.

impl Index for Session {
    fn scan_indexed_data<'a>(
        &'a self,
        table_name: &str,
        index_name: &str,
        asc: Option<bool>,
        cmp_value: Option<(&IndexOperator, Value)>,
    ) -> Result<RowIter<'a>> {
        let planned_on_key = crate::sim::key_order::is_pkey_index_name(index_name, table_name)
            && self
                .engine
                .borrow()
                .tables
                .get(table_name)
                .is_some_and(|table| table.indexes.iter().all(|index| index.name != index_name));
        if planned_on_key {
            return self.scan_key_order(table_name, asc, cmp_value);
        }
        // An index scan is the table's first read: a key range it left unused goes with it.
        self.take_key_range(table_name);
        let hint = self.take_key_hint(table_name);
        let (txn, view) = (self.txn_id(), self.view());
        let engine = self.engine.borrow();
        let table = engine
            .tables
            .get(table_name)
            .ok_or_else(|| Error::StorageMsg(format!("table not found: {table_name}")))?;
        let index = table
            .indexes
            .iter()
            .find(|i| i.name == index_name)
            .ok_or_else(|| Error::StorageMsg(format!("index \"{index_name}\" does not exist")))?;
        let position = table
            .columns
            .iter()
            .position(|c| *c == index.column)
            .ok_or_else(|| Error::StorageMsg(format!("index \"{index_name}\" lost its column")))?;
        let data_type = table
            .schema
            .column_defs
            .as_ref()
            .and_then(|defs| defs.get(position))
            .map(|def| def.data_type.clone());
        // How the target is looked up and each row checked again, as GlueSQL's filter would.
        let lookup = cmp_value
            .as_ref()
            .map(|(op, target)| ((*op).clone(), lookup(target, data_type.as_ref())));
        let keys = match (hint, &lookup) {
            (_, Some((_, Lookup::Nothing))) => Vec::new(),
            (Some(hint), _) => hint.keys,
            (None, Some((op, Lookup::Entries { key: Some(key), .. }))) => {
                index.candidates(Some((op, key)))
            }
            (None, _) => index.candidates(None),
        };
        // Every candidate is a row read (PostgreSQL fetches each heap tuple to check it).
        self.count(keys.len() as u64, 0);
        let mut rows: Vec<(Key, Vec<Value>)> = keys
            .into_iter()
            .filter_map(|key| {
                let values = table.rows.get(&key)?.visible(txn, view)?;
                let value = values.get(position)?;
                if let Some((op, Lookup::Entries { recheck, .. })) = &lookup {
                    if !recheck.holds(value, op) {
                        return None;
                    }
                }
                Some((key, values.clone()))
            })
            .collect();
        // In the visible versions' order (an entry may be an older version's value).
        let value_key = |values: &[Value]| values.get(position).and_then(index_key);
        rows.sort_by(|(ka, a), (kb, b)| {
            let order = value_key(a).cmp(&value_key(b));
            let order = if asc == Some(false) {
                order.reverse()
            } else {
                order
            };
            order.then_with(|| ka.cmp(kb))
        });
        Ok(Box::new(rows.into_iter().map(Ok)))
    }
}

impl IndexMut for Session {
    fn create_index(
        &mut self,
        table_name: &str,
        index_name: &str,
        column: &OrderByExpr,
    ) -> Result<()> {
        let Expr::Identifier(column) = &column.expr else {
            let mut engine = self.engine.borrow_mut();
            return Err(engine.refuse(
                SqlState::FeatureNotSupported,
                "Dataflow Lab indexes one column: CREATE INDEX name ON table (column)",
            ));
        };
        let (read, entries) = {
            let mut engine = self.engine.borrow_mut();
            if engine.relation_kind(index_name).is_some() {
                return Err(name_taken(&mut engine, index_name));
            }
            let created = chrono::DateTime::from_timestamp_micros(
                i64::try_from(engine.time).unwrap_or(i64::MAX),
            )
            .map(|t| t.naive_utc())
            .unwrap_or_default();
            let data_type = engine
                .tables
                .get(table_name)
                .and_then(|t| t.schema.column_defs.as_ref())
                .and_then(|defs| defs.iter().find(|d| d.name == *column))
                .map(|d| d.data_type.clone());
            if let Some(data_type) = data_type.filter(|t| !indexable(t)) {
                let message = format!(
                    "data type {data_type} has no default operator class for access method \"btree\""
                );
                return Err(engine.refuse(SqlState::UndefinedObject, message));
            }
            let table = engine
                .tables
                .get_mut(table_name)
                .ok_or_else(|| Error::StorageMsg(format!("table not found: {table_name}")))?;
            table.indexes.push(SecondaryIndex::new(index_name, column));
            let keys: Vec<Key> = table.rows.keys().cloned().collect();
            let entries: u64 = keys.iter().map(|key| table.reindex_row(key)).sum();
            table.schema.indexes.push(SchemaIndex {
                name: index_name.to_owned(),
                expr: Expr::Identifier(column.clone()),
                order: SchemaIndexOrd::Both,
                created,
            });
            (keys.len() as u64, entries)
        };
        self.count(read, 0);
        self.count_index_entries(entries);
        Ok(())
    }

    fn drop_index(&mut self, table_name: &str, index_name: &str) -> Result<()> {
        let mut engine = self.engine.borrow_mut();
        let dropped = engine.tables.get_mut(table_name).is_some_and(|table| {
            let before = table.indexes.len();
            table.indexes.retain(|i| i.name != index_name);
            table.schema.indexes.retain(|i| i.name != index_name);
            table.indexes.len() < before
        });
        if dropped {
            Ok(())
        } else {
            let message = format!("index \"{index_name}\" does not exist");
            Err(engine.refuse(SqlState::UndefinedObject, message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::database::Database;
    use crate::sim::results::Outcome;
    use crate::sim::sqlstate::SqlState;
    use crate::sim::storage::{ReadMode, RowCounters};

    /// A table of `n` orders, every tenth one `paid`, every seventh amount NULL.
    fn orders(n: i64) -> Database {
        let mut db = Database::new("test");
        db.execute(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT NOT NULL, amount INTEGER)",
        )
        .expect("create");
        let values: Vec<String> = (1..=n)
            .map(|i| {
                let status = if i % 10 == 0 { "paid" } else { "new" };
                let amount = if i % 7 == 0 {
                    "NULL".to_owned()
                } else {
                    ((i * 37) % 100).to_string()
                };
                format!("({i}, '{status}', {amount})")
            })
            .collect();
        db.execute(&format!("INSERT INTO orders VALUES {}", values.join(", ")))
            .expect("insert");
        db
    }

    fn rows(db: &mut Database, sql: &str) -> (Vec<Vec<String>>, RowCounters) {
        let result = db.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let counters = db.default_connection().last_counters();
        let Outcome::Rows { rows, .. } = result.outcome else {
            panic!("{sql}: no rows");
        };
        let rows = rows
            .into_iter()
            .map(|row| row.into_iter().map(|cell| cell.text).collect())
            .collect();
        (rows, counters)
    }

    const QUERIES: [&str; 13] = [
        "SELECT status, SUM(amount) AS amount FROM orders GROUP BY status ORDER BY amount DESC",
        "SELECT id FROM orders WHERE status = 5",
        "SELECT COUNT(*) FROM orders WHERE amount = '37'",
        "SELECT COUNT(*) FROM orders WHERE amount >= '90'",
        "SELECT id FROM orders WHERE status = 'paid'",
        "SELECT id, amount FROM orders WHERE amount > 90",
        "SELECT id FROM orders WHERE amount <= 3 AND status = 'new'",
        "SELECT id FROM orders WHERE amount >= 99.5",
        "SELECT id FROM orders WHERE amount < 4.5",
        "SELECT id FROM orders WHERE amount IS NULL",
        "SELECT COUNT(*) FROM orders WHERE amount IS NOT NULL",
        "SELECT id, amount FROM orders ORDER BY amount DESC LIMIT 12",
        "SELECT id, amount FROM orders ORDER BY amount LIMIT 12",
    ];

    #[test]
    fn an_index_changes_what_a_query_reads_never_what_it_returns() {
        let mut db = orders(300);
        let without: Vec<_> = QUERIES.iter().map(|q| rows(&mut db, q)).collect();
        db.execute("CREATE INDEX orders_status ON orders (status)")
            .expect("index status");
        db.execute("CREATE INDEX orders_amount ON orders (amount)")
            .expect("index amount");
        // Without ORDER BY the order is the plan's (index order through an index), as in
        // PostgreSQL: compare those as sets.
        let unordered = |query: &str, mut rows: Vec<Vec<String>>| {
            if !query.contains("ORDER BY") {
                rows.sort();
            }
            rows
        };
        for (query, (expected, scanned)) in QUERIES.iter().zip(&without) {
            let (got, read) = rows(&mut db, query);
            assert_eq!(
                unordered(query, got),
                unordered(query, expected.clone()),
                "{query}"
            );
            assert!(read.rows_read <= scanned.rows_read, "{query}");
        }
        // The equality lookup reads the 30 paid orders, not the 300.
        let paid_query = "SELECT id FROM orders WHERE status = 'paid'";
        let (_, scan) = &without[QUERIES
            .iter()
            .position(|q| *q == paid_query)
            .expect("listed")];
        let (paid, lookup) = rows(&mut db, paid_query);
        assert_eq!(paid.len(), 30);
        assert_eq!(scan.rows_read, 300);
        assert_eq!(lookup.rows_read, 30);
        // A qualified column is not planned on the index (GlueSQL matches the bare name).
        let (_, qualified) = rows(&mut db, "SELECT o.id FROM orders o WHERE o.status = 'paid'");
        assert_eq!(qualified.rows_read, 300);
    }

    #[test]
    fn each_index_costs_every_insert_and_indexed_update_an_entry_and_a_hot_update_none() {
        let mut db = orders(10);
        let insert = |db: &mut Database, id: i64| {
            db.execute(&format!("INSERT INTO orders VALUES ({id}, 'new', 5)"))
                .expect("insert");
            db.default_connection().last_counters().index_entries
        };
        assert_eq!(insert(&mut db, 100), 0);
        for (name, column) in [("by_status", "status"), ("by_amount", "amount")] {
            db.execute(&format!("CREATE INDEX {name} ON orders ({column})"))
                .expect("index");
        }
        db.execute("CREATE INDEX by_amount_too ON orders (amount)")
            .expect("a second index on a column");
        assert_eq!(insert(&mut db, 101), 3);
        // A new row version at a new address: one entry in every index, as in PostgreSQL.
        db.execute("UPDATE orders SET status = 'paid' WHERE id = 101")
            .expect("update");
        assert_eq!(db.default_connection().last_counters().index_entries, 3);
        db.execute("UPDATE orders SET status = 'paid' WHERE id = 101")
            .expect("update to the same value");
        assert_eq!(db.default_connection().last_counters().index_entries, 0);
        db.execute("DELETE FROM orders WHERE id = 101")
            .expect("delete");
        assert_eq!(db.default_connection().last_counters().index_entries, 0);
        // Building reads every row and adds an entry for each.
        db.execute("CREATE INDEX by_id ON orders (id)")
            .expect("index");
        let built = db.default_connection().last_counters();
        assert_eq!((built.rows_read, built.index_entries), (11, 11));
    }

    #[test]
    fn quoted_literals_are_parsed_for_the_column_as_without_the_index() {
        let mut db = Database::new("test");
        db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, at TIMESTAMP, tags LIST)")
            .expect("create");
        db.execute(
            "INSERT INTO events VALUES (1, '2025-12-31 23:00:00', '[]'), \
             (2, '2026-01-01 00:00:00', '[]'), (3, '2026-01-02 08:30:00', '[]')",
        )
        .expect("insert");
        let queries = [
            "SELECT id FROM events WHERE at >= '2026-01-01'",
            "SELECT id FROM events WHERE at = '2026-01-01T00:00:00'",
            "SELECT id FROM events WHERE at < '2026-01-02 08:30'",
        ];
        let without: Vec<_> = queries.iter().map(|q| rows(&mut db, q).0).collect();
        assert_eq!(without[0].len(), 2, "GlueSQL parses the date");
        db.execute("CREATE INDEX events_at ON events (at)")
            .expect("index");
        for (query, expected) in queries.iter().zip(&without) {
            assert_eq!(&rows(&mut db, query).0, expected, "{query}");
        }
        // No B-tree for a list, as PostgreSQL has none for arrays of no default class.
        let error = db
            .execute("CREATE INDEX events_tags ON events (tags)")
            .expect_err("a list column");
        assert_eq!(error.sqlstate(), SqlState::UndefinedObject, "{error}");
        // And DROP INDEX of a table says what it is.
        let error = db.execute("DROP INDEX events").expect_err("a table");
        assert_eq!(error.sqlstate(), SqlState::WrongObjectType, "{error}");
    }

    #[test]
    fn a_bulk_load_fills_the_indexes() {
        let mut db = Database::new("test");
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)")
            .expect("create");
        db.execute("CREATE INDEX t_n ON t (n)").expect("index");
        let loaded = db
            .bulk_load(
                "t",
                (1..=50)
                    .map(|i| vec![Value::I64(i), Value::I64(i % 5)])
                    .collect(),
            )
            .expect("load");
        assert_eq!(loaded, 50);
        let (found, read) = rows(&mut db, "SELECT id FROM t WHERE n = 3");
        assert_eq!((found.len(), read.rows_read), (10, 10));
    }

    #[test]
    fn a_snapshot_finds_a_row_by_the_value_it_sees() {
        let db = orders(20);
        let mut writer = db.connect(ReadMode::LatestCommitted);
        let mut reader = db.connect(ReadMode::TransactionSnapshot);
        writer
            .execute("CREATE INDEX by_status ON orders (status)")
            .expect("index");
        reader.execute("BEGIN").expect("begin");
        reader
            .execute("SELECT COUNT(*) FROM orders")
            .expect("take the snapshot");
        writer
            .execute("UPDATE orders SET status = 'shipped' WHERE id = 10")
            .expect("update");
        let paid = |c: &mut crate::sim::database::Connection| {
            let result = c
                .execute("SELECT id FROM orders WHERE status = 'paid'")
                .expect("select");
            match result.outcome {
                Outcome::Rows { rows, .. } => rows.len(),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            paid(&mut reader),
            2,
            "the snapshot still sees order 10 paid"
        );
        assert_eq!(paid(&mut writer), 1);
        reader.execute("COMMIT").expect("commit");
        assert_eq!(paid(&mut reader), 1);
    }

    #[test]
    fn indexes_share_one_namespace_with_tables_and_views_and_follow_their_column() {
        let mut db = orders(20);
        db.execute("CREATE INDEX by_status ON orders (status)")
            .expect("index");
        for sql in [
            "CREATE INDEX orders ON orders (amount)",
            "CREATE INDEX by_status ON orders (amount)",
            "CREATE TABLE by_status (id INTEGER PRIMARY KEY)",
            "CREATE VIEW by_status AS SELECT id FROM orders",
            "ALTER TABLE orders RENAME TO by_status",
        ] {
            let error = db.execute(sql).expect_err(sql);
            assert_eq!(error.sqlstate(), SqlState::DuplicateTable, "{sql}: {error}");
        }
        db.execute("CREATE VIEW paid AS SELECT id FROM orders WHERE status = 'paid'")
            .expect("view");
        let error = db
            .execute("CREATE TABLE paid (id INTEGER PRIMARY KEY)")
            .expect_err("a table named like a view");
        assert_eq!(error.sqlstate(), SqlState::DuplicateTable, "{error}");
        let error = db
            .execute("CREATE INDEX by_sum ON orders (amount + 1)")
            .expect_err("an expression index");
        assert_eq!(error.sqlstate(), SqlState::FeatureNotSupported, "{error}");
        // Renaming the column keeps the index working under the new name.
        db.execute("ALTER TABLE orders RENAME COLUMN status TO state")
            .expect("rename");
        let (paid, read) = rows(&mut db, "SELECT id FROM orders WHERE state = 'paid'");
        assert_eq!((paid.len(), read.rows_read), (2, 2));
        // PostgreSQL's DROP INDEX name, and GlueSQL's DROP INDEX table.name.
        db.execute("DROP INDEX by_status").expect("drop index");
        let (_, read) = rows(&mut db, "SELECT id FROM orders WHERE state = 'paid'");
        assert_eq!(read.rows_read, 20);
        let error = db.execute("DROP INDEX by_status").expect_err("gone");
        assert_eq!(error.sqlstate(), SqlState::UndefinedObject, "{error}");
        db.execute("DROP INDEX IF EXISTS by_status")
            .expect("IF EXISTS");
        db.execute("CREATE INDEX by_amount ON orders (amount)")
            .expect("index");
        db.execute("DROP INDEX orders.by_amount")
            .expect("GlueSQL's form");
        // Dropping the column drops its index.
        db.execute("CREATE INDEX by_amount ON orders (amount)")
            .expect("index again");
        db.execute("ALTER TABLE orders DROP COLUMN amount")
            .expect("drop column");
        db.execute("CREATE INDEX by_amount ON orders (state)")
            .expect("the name is free again");
    }

    fn key(n: i64) -> Key {
        Key::I64(n)
    }

    #[test]
    fn an_insert_adds_one_entry_and_an_update_that_keeps_the_value_adds_none() {
        let mut index = SecondaryIndex::new("orders_status", "status");
        let paid = Value::Str("paid".into());
        let shipped = Value::Str("shipped".into());
        assert_eq!(index.reindex_row(&key(1), [&paid].into_iter()), 1);
        // The same value in a new version: a HOT update, no new entry.
        assert_eq!(index.reindex_row(&key(1), [&paid, &paid].into_iter()), 0);
        // A new value while the old version is still kept: one more entry, both findable.
        assert_eq!(index.reindex_row(&key(1), [&paid, &shipped].into_iter()), 1);
        assert_eq!(index.entry_count(), 2);
        // The old version pruned: its entry goes.
        assert_eq!(index.reindex_row(&key(1), [&shipped].into_iter()), 0);
        assert_eq!(index.entry_count(), 1);
        let paid_key = index_key(&paid).expect("a string is a key");
        assert!(index
            .candidates(Some((&IndexOperator::Eq, &paid_key)))
            .is_empty());
        // The row gone entirely.
        index.reindex_row(&key(1), std::iter::empty());
        assert_eq!(index.entry_count(), 0);
    }

    #[test]
    fn candidates_come_in_index_order_each_once() {
        let mut index = SecondaryIndex::new("t_n", "n");
        for (row, n) in [(1, 30), (2, 10), (3, 20), (4, 10)] {
            index.reindex_row(&key(row), [&Value::I64(n)].into_iter());
        }
        index.reindex_row(&key(5), [&Value::Null].into_iter());
        // Row 4 also holds an older version with 25.
        index.reindex_row(&key(4), [&Value::I64(10), &Value::I64(25)].into_iter());
        assert_eq!(
            index.candidates(None),
            vec![key(2), key(4), key(3), key(1), key(5)],
            "ascending by value, NULL last, row 4 once"
        );
        assert_eq!(
            index.candidates(Some((&IndexOperator::Gt, &key(10)))),
            vec![key(3), key(4), key(1), key(5)],
        );
        assert_eq!(
            index.candidates(Some((&IndexOperator::LtEq, &key(20)))),
            vec![key(2), key(4), key(3)]
        );
    }

    #[test]
    fn the_recheck_agrees_with_sql_comparison_and_null_rules() {
        let five = Value::I64(5);
        assert!(satisfies(&five, &IndexOperator::Eq, &Value::I64(5)));
        assert!(satisfies(&five, &IndexOperator::Gt, &Value::F64(4.5)));
        assert!(satisfies(&five, &IndexOperator::LtEq, &Value::I64(5)));
        assert!(!satisfies(&five, &IndexOperator::Lt, &Value::I64(5)));
        assert!(!satisfies(
            &Value::Str("5".into()),
            &IndexOperator::Eq,
            &Value::I64(5)
        ));
        assert!(!satisfies(&Value::Null, &IndexOperator::Gt, &five));
        // IS NULL and IS NOT NULL, as the planner asks them.
        assert!(satisfies(&Value::Null, &IndexOperator::Eq, &Value::Null));
        assert!(!satisfies(&five, &IndexOperator::Eq, &Value::Null));
        assert!(satisfies(&five, &IndexOperator::Lt, &Value::Null));
        assert!(!satisfies(&Value::Null, &IndexOperator::Lt, &Value::Null));
    }
}
