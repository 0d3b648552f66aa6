//! `ORDER BY id LIMIT n` without a sort: a query ordered by its table's primary key reads the
//! table in key order, from one end, and stops once it has its rows — PostgreSQL's "Index Scan
//! using orders_pkey" ("Index Scan Backward" for `DESC`), which reads as many rows as the
//! `LIMIT` needs (and those its `WHERE` turned down on the way) instead of the whole table.
//!
//! GlueSQL plans this for its own indexes: when a query is ordered by an indexed expression, its
//! index planner reads the table through that index and drops the sort. The primary key is not
//! one of them, so [`plan_index`] gives it one for the planning of a single statement: a
//! `<table>_pkey` index on the key, added to the planner's copy of the schema only (the table
//! never holds it, `SHOW INDEXES` does not list it), and only when
//! - the query sorts its rows (`ORDER BY`, with or without `LIMIT`/`OFFSET`, not grouped nor
//!   `DISTINCT`) by its first table's primary key last (`ORDER BY id`, `ORDER BY o.id DESC`,
//!   `ORDER BY status, id`) — qualified by the table's name or alias when the query joins;
//! - the key is an integer or text (whose key order is their SQL order);
//! - GlueSQL's planner left that table to a full scan: an index of its own on a column of the
//!   `WHERE` (`status = 'pending'`) keeps its place, as PostgreSQL, which knows how few rows
//!   such an index finds, would mostly choose it too.
//!
//! The scan ([`Session::scan_key_order`]) reads rows one small batch at a time, so the rows a
//! statement reads are those GlueSQL asked for; a key range on the same table
//! ([`crate::sim::key_range`]), a predicate GlueSQL put on the index (`id > 5` in a subquery)
//! and a statement's key hint (the rows a locking statement re-checks) narrow it as they narrow
//! any scan.
//!
//! Where it differs from a full scan and a sort: rows after the `n`-th are never read, so a
//! mistake only such a row would show (a division by zero in the `WHERE` on the 500th row of a
//! `LIMIT 1`) goes unreported — as in PostgreSQL, which stops its index scan there too.

use crate::sim::indexes::{lookup, Lookup, Recheck};
use crate::sim::key_access::{key_type_qualifies, primary_key};
use crate::sim::storage::KeyRange;
use crate::sim::transaction::Session;
use crate::sim::versions::ReadView;
use gluesql::core::ast::{Expr, IndexOperator};
use gluesql::core::data::{Key, Schema, SchemaIndex, SchemaIndexOrd, Value};
use gluesql::core::error::{Error, Result};
use gluesql::core::plan::{
    ExprPlan, FilterInputPlan, LimitInputPlan, LimitPlan, OffsetInputPlan, OffsetPlan,
    ProjectInputPlan, QueryPlan, SelectOrderByPlan, SourcePlan, StatementPlan, TableAccessPlan,
};
use gluesql::core::store::RowIter;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::ops::Bound;

/// The name PostgreSQL gives a table's primary-key index, which the planner's index on the key
/// goes by.
pub fn pkey_index_name(table: &str) -> String {
    format!("{table}_pkey")
}

/// How many rows the key-order scan copies out of the table at a time: enough to keep the
/// table's map from being searched once a row, few enough that a `LIMIT 1` copies little.
const BATCH: usize = 16;

/// GlueSQL's index planner, with the table's primary key as one of its indexes when that lets a
/// query read its rows in key order instead of sorting them (see the module's documentation).
pub fn plan_index<S: BuildHasher + Clone>(
    schema_map: &HashMap<String, Schema, S>,
    statement: StatementPlan,
) -> StatementPlan {
    let planned = gluesql::core::planner::plan_index(schema_map, statement.clone());
    let Some((table, index)) = key_order_index(schema_map, &planned) else {
        return planned;
    };
    let mut with_key = schema_map.clone();
    if let Some(schema) = with_key.get_mut(&table) {
        schema.indexes.push(index);
    }
    gluesql::core::planner::plan_index(&with_key, statement)
}

/// The table and the index on its primary key that `planned` could read its rows through in
/// the order it sorts them by, if it qualifies.
fn key_order_index<S: BuildHasher>(
    schema_map: &HashMap<String, Schema, S>,
    planned: &StatementPlan,
) -> Option<(String, SchemaIndex)> {
    let StatementPlan::Query(query) = planned else {
        return None;
    };
    let SelectOrderByPlan { input, exprs } = match query {
        QueryPlan::SelectOrderBy(sort)
        | QueryPlan::Offset(OffsetPlan {
            input: OffsetInputPlan::SelectOrderBy(sort),
            ..
        })
        | QueryPlan::Limit(LimitPlan {
            input:
                LimitInputPlan::SelectOrderBy(sort)
                | LimitInputPlan::Offset(OffsetPlan {
                    input: OffsetInputPlan::SelectOrderBy(sort),
                    ..
                }),
            ..
        }) => sort,
        _ => return None,
    };
    let joins = match &input.input {
        ProjectInputPlan::Source(_) => false,
        ProjectInputPlan::Filter(filter) => !matches!(filter.input, FilterInputPlan::Source(_)),
        ProjectInputPlan::InnerJoin(_) | ProjectInputPlan::LeftOuterJoin(_) => true,
        ProjectInputPlan::Aggregation(_) | ProjectInputPlan::Having(_) => return None,
    };
    let SourcePlan::Table(table) = input.input.base_source() else {
        return None;
    };
    if table.access != TableAccessPlan::FullScan {
        return None;
    }
    let schema = schema_map.get(&table.name)?;
    let key = primary_key(schema)?;
    if !key_type_qualifies(&key.data_type) {
        return None;
    }
    let name = pkey_index_name(&table.name);
    if schema.indexes.iter().any(|index| index.name == name) {
        return None;
    }
    let called = table
        .alias
        .as_ref()
        .map_or(table.name.as_str(), |a| &a.name);
    let expr = match &exprs.last()?.expr {
        ExprPlan::Identifier(column) if !joins && *column == key.name => {
            Expr::Identifier(column.clone())
        }
        ExprPlan::CompoundIdentifier { alias, ident } if alias == called && *ident == key.name => {
            Expr::CompoundIdentifier {
                alias: alias.clone(),
                ident: ident.clone(),
            }
        }
        _ => return None,
    };
    let index = SchemaIndex {
        name,
        expr,
        order: SchemaIndexOrd::Both,
        created: chrono::NaiveDateTime::default(),
    };
    Some((table.name.clone(), index))
}

impl Session {
    /// The rows of `table` in primary-key order (descending unless `asc` is `Some(true)` or
    /// `None`), those `cmp_value` keeps: GlueSQL's scan of the planner's `<table>_pkey` index.
    /// Takes the table's key range and key hint, as any first read of the table does.
    pub(crate) fn scan_key_order<'a>(
        &'a self,
        table: &str,
        asc: Option<bool>,
        cmp_value: Option<(&IndexOperator, Value)>,
    ) -> Result<RowIter<'a>> {
        let hint = self.take_key_hint(table);
        let mut range = self.take_key_range(table).unwrap_or(KeyRange {
            table: table.to_owned(),
            lower: Bound::Unbounded,
            upper: Bound::Unbounded,
        });
        let (position, data_type) = {
            let engine = self.engine.borrow();
            let schema = &engine
                .tables
                .get(table)
                .ok_or_else(|| Error::StorageMsg(format!("table not found: {table}")))?
                .schema;
            let key = primary_key(schema).ok_or_else(|| {
                Error::StorageMsg(format!("index \"{table}_pkey\" does not exist"))
            })?;
            let position = schema
                .column_defs
                .iter()
                .flatten()
                .position(|c| c.name == key.name)
                .unwrap_or_default();
            (position, key.data_type.clone())
        };
        let (mut recheck, mut exhausted) = (None, false);
        if let Some((op, target)) = cmp_value {
            match lookup(&target, Some(&data_type)) {
                Lookup::Nothing => exhausted = true,
                Lookup::Entries { key, recheck: row } => {
                    if let Some(key) = key {
                        narrow(&mut range, op, key);
                    }
                    recheck = Some((op.clone(), row));
                }
            }
        }
        let ascending = asc != Some(false);
        let hinted = hint.map(|hint| {
            let mut keys: Vec<Key> = hint.keys;
            keys.sort();
            keys.dedup();
            if !ascending {
                keys.reverse();
            }
            VecDeque::from(keys)
        });
        Ok(Box::new(KeyOrderScan {
            session: self,
            txn: self.txn_id(),
            view: self.view(),
            range,
            ascending,
            position,
            recheck,
            hinted,
            batch: VecDeque::new(),
            exhausted,
        }))
    }
}

/// Narrows `range` to the keys `op key` holds for (`Gt 5`: above 5).
fn narrow(range: &mut KeyRange, op: &IndexOperator, key: Key) {
    match op {
        IndexOperator::Eq => {
            range.raise(Bound::Included(key.clone()));
            range.lower_to(Bound::Included(key));
        }
        IndexOperator::Gt => range.raise(Bound::Excluded(key)),
        IndexOperator::GtEq => range.raise(Bound::Included(key)),
        IndexOperator::Lt => range.lower_to(Bound::Excluded(key)),
        IndexOperator::LtEq => range.lower_to(Bound::Included(key)),
    }
}

/// A lazy walk of a table in key order: each batch is copied out under a short borrow of the
/// engine, and the walk goes on from the last key it passed.
struct KeyOrderScan<'a> {
    session: &'a Session,
    txn: Option<crate::sim::change_log::TxnId>,
    view: ReadView,
    /// The keys not walked yet: the walk moves its lower bound up (or its upper one down).
    range: KeyRange,
    ascending: bool,
    /// Where the key is among the row's values, for the re-check.
    position: usize,
    /// The predicate GlueSQL put on the index, checked again on each row's key.
    recheck: Option<(IndexOperator, Recheck)>,
    /// A key hint's keys, in the walk's order, instead of the table's.
    hinted: Option<VecDeque<Key>>,
    batch: VecDeque<(Key, Vec<Value>)>,
    exhausted: bool,
}

impl KeyOrderScan<'_> {
    /// Copies the next visible rows out of the table, up to [`BATCH`] of them.
    fn refill(&mut self) {
        let engine = self.session.engine.borrow();
        let Some(table) = engine.tables.get(&self.range.table) else {
            self.exhausted = true;
            return;
        };
        let (txn, view) = (self.txn, self.view);
        let keeps = |values: &Vec<Value>| {
            self.recheck.as_ref().is_none_or(|(op, recheck)| {
                values
                    .get(self.position)
                    .is_some_and(|value| recheck.holds(value, op))
            })
        };
        if let Some(keys) = &mut self.hinted {
            while self.batch.len() < BATCH {
                let Some(key) = keys.pop_front() else {
                    self.exhausted = true;
                    break;
                };
                if !self.range.contains(&key) {
                    continue;
                }
                if let Some(values) = table.rows.get(&key).and_then(|r| r.visible(txn, view)) {
                    if keeps(values) {
                        self.batch.push_back((key, values.clone()));
                    }
                }
            }
            return;
        }
        let mut passed = None;
        let mut found = Vec::with_capacity(BATCH);
        {
            let mut walk = |key: &Key, values: Option<&Vec<Value>>| {
                passed = Some(key.clone());
                if let Some(values) = values.filter(|v| keeps(v)) {
                    found.push((key.clone(), values.clone()));
                }
                found.len() < BATCH
            };
            let mut rows = self.range.of(&table.rows);
            let all = if self.ascending {
                rows.all(|(k, r)| walk(k, r.visible(txn, view)))
            } else {
                rows.rev().all(|(k, r)| walk(k, r.visible(txn, view)))
            };
            self.exhausted = all;
        }
        self.batch.extend(found);
        if let Some(key) = passed {
            if self.ascending {
                self.range.lower = Bound::Excluded(key);
            } else {
                self.range.upper = Bound::Excluded(key);
            }
        }
    }
}

impl Iterator for KeyOrderScan<'_> {
    type Item = Result<(Key, Vec<Value>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.batch.is_empty() && !self.exhausted {
            self.refill();
        }
        let row = self.batch.pop_front()?;
        self.session.count(1, 0);
        Some(Ok(row))
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::connection::Connection;
    use crate::sim::database::Database;
    use crate::sim::results::Outcome;
    use crate::sim::storage::ReadMode;

    /// A database with `jobs(id, status, n)`: ids 1–`n`, the first `done` of them done.
    fn jobs(n: i64, done: i64) -> Database {
        let mut db = Database::new("test");
        db.execute("CREATE TABLE jobs (id INT PRIMARY KEY, status TEXT, n INT)")
            .expect("creates");
        let values: Vec<String> = (1..=n)
            .map(|id| {
                let status = if id <= done { "done" } else { "pending" };
                format!("({id}, '{status}', {})", id % 7)
            })
            .collect();
        db.execute(&format!("INSERT INTO jobs VALUES {}", values.join(", ")))
            .expect("inserts");
        db
    }

    /// The first cell of each row `sql` returns, and the rows it read.
    fn firsts(connection: &mut Connection, sql: &str) -> (Vec<String>, u64) {
        let result = connection
            .execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let read = connection.last_counters().rows_read;
        let Outcome::Rows { rows, .. } = result.outcome else {
            panic!("{sql}: no rows");
        };
        let firsts = rows
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .next()
                    .map(|cell| cell.text)
                    .unwrap_or_default()
            })
            .collect();
        (firsts, read)
    }

    fn ids(db: &mut Database, sql: &str) -> (Vec<String>, u64) {
        firsts(db.default_connection(), sql)
    }

    fn texts(ids: impl IntoIterator<Item = i64>) -> Vec<String> {
        ids.into_iter().map(|id| id.to_string()).collect()
    }

    #[test]
    fn a_limit_ordered_by_the_key_reads_only_the_rows_it_needs() {
        let mut db = jobs(1_000, 0);
        assert_eq!(
            ids(&mut db, "SELECT id FROM jobs ORDER BY id LIMIT 3"),
            (texts([1, 2, 3]), 3)
        );
        assert_eq!(
            ids(&mut db, "SELECT id FROM jobs ORDER BY id DESC LIMIT 2"),
            (texts([1_000, 999]), 2)
        );
        assert_eq!(
            ids(&mut db, "SELECT id FROM jobs ORDER BY id LIMIT 2 OFFSET 10"),
            (texts([11, 12]), 12)
        );
        assert_eq!(
            ids(&mut db, "SELECT id FROM jobs ORDER BY id"),
            (texts(1..=1_000), 1_000),
            "no limit: every row"
        );
    }

    #[test]
    fn the_where_turns_rows_down_on_the_way() {
        let mut db = jobs(1_000, 400);
        assert_eq!(
            ids(
                &mut db,
                "SELECT id FROM jobs WHERE status = 'pending' ORDER BY id LIMIT 1"
            ),
            (texts([401]), 401),
            "the 400 done jobs are read and turned down"
        );
        assert_eq!(
            ids(
                &mut db,
                "SELECT id FROM jobs WHERE id > 990 ORDER BY id LIMIT 5"
            ),
            (texts(991..=995), 5),
            "the key range and the limit together"
        );
        assert_eq!(
            ids(
                &mut db,
                "SELECT id FROM jobs WHERE id < 20 ORDER BY id DESC LIMIT 2"
            ),
            (texts([19, 18]), 2)
        );
    }

    #[test]
    fn the_rows_are_those_of_a_sort_in_every_shape() {
        let mut db = jobs(300, 100);
        db.execute("CREATE TABLE notes (id INT PRIMARY KEY, job_id INT, body TEXT)")
            .expect("creates");
        let values: Vec<String> = (1..=50)
            .map(|id| format!("({id}, {}, 'n{id}')", id * 5))
            .collect();
        db.execute(&format!("INSERT INTO notes VALUES {}", values.join(", ")))
            .expect("inserts");
        db.execute("DELETE FROM jobs WHERE id % 10 = 3")
            .expect("deletes");
        // The same query ordered by an expression that is not the key sorts a full scan: the
        // reference the key-order scan must agree with.
        for (sql, reference) in [
            (
                "SELECT id FROM jobs WHERE n = 2 ORDER BY id DESC LIMIT 7",
                "SELECT id FROM jobs WHERE n = 2 ORDER BY id + 0 DESC LIMIT 7",
            ),
            (
                "SELECT id FROM jobs ORDER BY n, id LIMIT 9",
                "SELECT id FROM jobs ORDER BY n, id + 0 LIMIT 9",
            ),
            (
                "SELECT j.id FROM jobs j JOIN notes o ON o.job_id = j.id ORDER BY j.id DESC LIMIT 4",
                "SELECT j.id FROM jobs j JOIN notes o ON o.job_id = j.id ORDER BY j.id + 0 DESC LIMIT 4",
            ),
            (
                "SELECT j.id FROM jobs j LEFT JOIN notes o ON o.job_id = j.id WHERE o.id IS NULL ORDER BY j.id LIMIT 6",
                "SELECT j.id FROM jobs j LEFT JOIN notes o ON o.job_id = j.id WHERE o.id IS NULL ORDER BY j.id + 0 LIMIT 6",
            ),
            (
                "SELECT id FROM jobs WHERE id IN (SELECT job_id FROM notes WHERE id > 40) ORDER BY id LIMIT 3",
                "SELECT id FROM jobs WHERE id IN (SELECT job_id FROM notes WHERE id > 40) ORDER BY id + 0 LIMIT 3",
            ),
            (
                "SELECT id FROM jobs WHERE status = 'pending' ORDER BY id DESC",
                "SELECT id FROM jobs WHERE status = 'pending' ORDER BY id + 0 DESC",
            ),
        ] {
            let (rows, read) = ids(&mut db, sql);
            let (expected, full) = ids(&mut db, reference);
            assert_eq!(rows, expected, "{sql}");
            assert!(!rows.is_empty(), "{sql}: the test means something");
            assert!(read <= full, "{sql}: {read} rows read, the sort read {full}");
        }
    }

    #[test]
    fn an_index_on_the_where_keeps_its_place() {
        let mut db = jobs(1_000, 990);
        db.execute("CREATE INDEX jobs_status ON jobs (status)")
            .expect("indexes");
        let (rows, read) = ids(
            &mut db,
            "SELECT id FROM jobs WHERE status = 'pending' ORDER BY id LIMIT 1",
        );
        assert_eq!(rows, texts([991]));
        assert!(
            read <= 10,
            "the 10 pending rows through the index, not {read}"
        );
    }

    #[test]
    fn uncommitted_and_deleted_rows_are_read_as_a_scan_reads_them() {
        let mut db = jobs(10, 0);
        let mut other = db.connect(ReadMode::StatementSnapshot);
        other.execute("BEGIN").expect("begins");
        other
            .execute("DELETE FROM jobs WHERE id <= 3")
            .expect("deletes");
        other
            .execute("INSERT INTO jobs VALUES (11, 'pending', 0)")
            .expect("inserts");
        assert_eq!(
            ids(&mut db, "SELECT id FROM jobs ORDER BY id LIMIT 2").0,
            texts([1, 2]),
            "the other transaction's delete is not committed"
        );
        assert_eq!(
            firsts(&mut other, "SELECT id FROM jobs ORDER BY id LIMIT 2").0,
            texts([4, 5]),
            "its own delete it sees"
        );
        assert_eq!(
            firsts(&mut other, "SELECT id FROM jobs ORDER BY id DESC LIMIT 1").0,
            texts([11])
        );
        assert_eq!(
            ids(&mut db, "SELECT id FROM jobs ORDER BY id DESC LIMIT 1").0,
            texts([10])
        );
    }

    #[test]
    fn a_text_key_and_a_real_index_of_the_same_name() {
        let mut db = Database::new("test");
        db.execute("CREATE TABLE words (w TEXT PRIMARY KEY, n INT)")
            .expect("creates");
        db.execute(
            "INSERT INTO words VALUES ('pear', 0), ('apple', 1), ('fig', 2), ('kiwi', 3), ('date', 4)",
        )
        .expect("inserts");
        let strings = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        let (words, read) = ids(&mut db, "SELECT w FROM words ORDER BY w LIMIT 2");
        assert_eq!((words, read), (strings(&["apple", "date"]), 2));
        // A user's own index named like the planner's: the query still runs, as a sort.
        db.execute("CREATE INDEX words_pkey ON words (n)")
            .expect("indexes");
        let (words, read) = ids(&mut db, "SELECT w FROM words ORDER BY w DESC LIMIT 1");
        assert_eq!((words, read), (strings(&["pear"]), 5));
        let (words, _) = ids(&mut db, "SELECT w FROM words ORDER BY n LIMIT 1");
        assert_eq!(words, strings(&["pear"]));
    }
}
