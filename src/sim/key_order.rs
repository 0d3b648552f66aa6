//! `ORDER BY id LIMIT n` without a sort: a query ordered by its table's primary key reads the
//! table in key order, from one end, and stops once it has its rows — PostgreSQL's "Index Scan
//! using orders_pkey" ("Index Scan Backward" for `DESC`), which reads as many rows as the
//! `LIMIT` needs (and those its `WHERE` turned down on the way) instead of the whole table.
//!
//! GlueSQL plans this for its own indexes: when a query is ordered by an indexed expression, its
//! index planner reads the table through that index and drops the sort. The primary key is not
//! one of them, so [`plan_index`] does the same for it after GlueSQL's planner has run: the
//! query's first table is read through `<table>_pkey` (a name no table holds; `SHOW INDEXES`
//! does not list it) when
//! - the statement's own query (not a subquery) sorts its rows — `ORDER BY`, with or without
//!   `LIMIT`/`OFFSET`, not grouped nor `DISTINCT` — by its first table's primary key last
//!   (`ORDER BY id`, `ORDER BY o.id DESC`, `ORDER BY status, id`), qualified by the table's
//!   name or alias when the query joins, and no joined table goes by that name;
//! - the key is an integer or text (whose key order is their SQL order);
//! - GlueSQL's planner left that table to a full scan: an index of its own on a column of the
//!   `WHERE` (`status = 'pending'`) keeps its place, as PostgreSQL, which knows how few rows
//!   such an index finds, would mostly choose it too.
//!
//! The scan ([`Session::scan_key_order`]) copies rows out one small batch at a time, and every
//! key it passes to reach a row counts as a row read (a version this reader cannot see too, as
//! PostgreSQL reads every heap tuple its index scan meets); keys it copied but GlueSQL never
//! asked for are not counted. A key range on the same table ([`crate::sim::key_range`]) and a
//! statement's key hint (the rows a locking statement re-checks) narrow it as they narrow any
//! scan.
//!
//! Where it differs from a full scan and a sort: rows after the `n`-th are never read, so a
//! mistake only such a row would show (a division by zero in the `WHERE` or the select list on
//! the 500th row of a `LIMIT 1`) goes unreported — as in PostgreSQL, which stops there too.

use crate::sim::key_access::{key_type_qualifies, primary_key};
use crate::sim::storage::KeyRange;
use crate::sim::transaction::Session;
use crate::sim::versions::ReadView;
use gluesql::core::ast::IndexOperator;
use gluesql::core::data::{Key, Schema, Value};
use gluesql::core::error::{Error, Result};
use gluesql::core::plan::{
    ExprPlan, FilterInputPlan, HashJoinInputPlan, HashJoinPlan, InnerJoinInputPlan, InnerJoinPlan,
    JoinConditionInputPlan, JoinConditionPlan, LeftOuterJoinInputPlan, LeftOuterJoinPlan,
    LimitInputPlan, LimitPlan, NestedLoopJoinInputPlan, NestedLoopJoinPlan, OffsetInputPlan,
    OffsetPlan, ProjectInputPlan, QueryPlan, SelectOrderByPlan, SourcePlan, StatementPlan,
    TableAccessPlan, TableSourcePlan,
};
use gluesql::core::store::RowIter;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::ops::Bound;

/// The name PostgreSQL gives a table's primary-key index, which the key-order scan goes by.
pub fn pkey_index_name(table: &str) -> String {
    format!("{table}_pkey")
}

/// Whether `index` is [`pkey_index_name`]`(table)`, without writing the name out (every index
/// scan asks).
pub fn is_pkey_index_name(index: &str, table: &str) -> bool {
    index.strip_suffix("_pkey") == Some(table)
}

/// How many rows the key-order scan copies out of the table at a time: enough to keep the
/// table's map from being searched once a row, few enough that a `LIMIT 1` copies little.
const BATCH: usize = 16;

/// GlueSQL's index planner, then the key order: a query it left sorting a full scan of its
/// first table by that table's primary key reads the table through `<table>_pkey` instead and
/// drops that sort, as GlueSQL's planner does for an index of its own (see the module's
/// documentation). Only the statement's own query: its subqueries keep GlueSQL's plan.
pub fn plan_index<S: BuildHasher>(
    schema_map: &HashMap<String, Schema, S>,
    statement: StatementPlan,
) -> StatementPlan {
    match gluesql::core::planner::plan_index(schema_map, statement) {
        StatementPlan::Query(query) => StatementPlan::Query(order_by_key(schema_map, query)),
        other => other,
    }
}

/// `query` with its sort by the key replaced by a key-order read, where it qualifies.
fn order_by_key<S: BuildHasher>(
    schema_map: &HashMap<String, Schema, S>,
    query: QueryPlan,
) -> QueryPlan {
    let read = |sort| read_in_key_order(schema_map, sort);
    let offset_input = |sort: SelectOrderByPlan| {
        if sort.exprs.is_empty() {
            OffsetInputPlan::Project(sort.input)
        } else {
            OffsetInputPlan::SelectOrderBy(sort)
        }
    };
    match query {
        QueryPlan::SelectOrderBy(sort) => {
            let sort = read(sort);
            if sort.exprs.is_empty() {
                QueryPlan::Project(sort.input)
            } else {
                QueryPlan::SelectOrderBy(sort)
            }
        }
        QueryPlan::Offset(OffsetPlan {
            input: OffsetInputPlan::SelectOrderBy(sort),
            count,
        }) => QueryPlan::Offset(OffsetPlan {
            input: offset_input(read(sort)),
            count,
        }),
        QueryPlan::Limit(LimitPlan {
            input: LimitInputPlan::SelectOrderBy(sort),
            count,
        }) => {
            let sort = read(sort);
            let input = if sort.exprs.is_empty() {
                LimitInputPlan::Project(sort.input)
            } else {
                LimitInputPlan::SelectOrderBy(sort)
            };
            QueryPlan::Limit(LimitPlan { input, count })
        }
        QueryPlan::Limit(LimitPlan {
            input:
                LimitInputPlan::Offset(OffsetPlan {
                    input: OffsetInputPlan::SelectOrderBy(sort),
                    count: skip,
                }),
            count,
        }) => QueryPlan::Limit(LimitPlan {
            input: LimitInputPlan::Offset(OffsetPlan {
                input: offset_input(read(sort)),
                count: skip,
            }),
            count,
        }),
        other => other,
    }
}

/// `sort` reading its first table through the key's index, its last sort key dropped, if that
/// key is the table's primary key and GlueSQL left the table to a full scan.
fn read_in_key_order<S: BuildHasher>(
    schema_map: &HashMap<String, Schema, S>,
    mut sort: SelectOrderByPlan,
) -> SelectOrderByPlan {
    let Some(last) = sort.exprs.last() else {
        return sort;
    };
    let asc = last.asc;
    let Some(joined) = joined_names(&sort.input.input) else {
        return sort;
    };
    let Some(table) = base_table(&mut sort.input.input) else {
        return sort;
    };
    if table.access != TableAccessPlan::FullScan {
        return sort;
    }
    let Some(schema) = schema_map.get(&table.name) else {
        return sort;
    };
    let Some(key) = primary_key(schema).filter(|key| key_type_qualifies(&key.data_type)) else {
        return sort;
    };
    let name = pkey_index_name(&table.name);
    let called = table
        .alias
        .as_ref()
        .map_or(table.name.as_str(), |a| &a.name);
    // Another table of the same name in FROM would answer a qualified name first.
    if schema.indexes.iter().any(|index| index.name == name) || joined.iter().any(|j| j == called) {
        return sort;
    }
    let by_key = match &last.expr {
        ExprPlan::Identifier(column) => joined.is_empty() && *column == key.name,
        ExprPlan::CompoundIdentifier { alias, ident } => alias == called && *ident == key.name,
        _ => false,
    };
    if by_key {
        table.access = TableAccessPlan::Index {
            name,
            asc,
            predicate: None,
        };
        sort.exprs.pop();
    }
    sort
}

/// The query's first table, if it reads one without grouping.
fn base_table(input: &mut ProjectInputPlan) -> Option<&mut TableSourcePlan> {
    fn table(source: &mut SourcePlan) -> Option<&mut TableSourcePlan> {
        match source {
            SourcePlan::Table(table) => Some(table),
            _ => None,
        }
    }
    fn inner(join: &mut InnerJoinPlan) -> Option<&mut TableSourcePlan> {
        match &mut join.input {
            InnerJoinInputPlan::NestedLoop(join) => nested(join),
            InnerJoinInputPlan::Hash(join) => hash(join),
            InnerJoinInputPlan::Condition(join) => condition(join),
        }
    }
    fn left(join: &mut LeftOuterJoinPlan) -> Option<&mut TableSourcePlan> {
        match &mut join.input {
            LeftOuterJoinInputPlan::NestedLoop(join) => nested(join),
            LeftOuterJoinInputPlan::Hash(join) => hash(join),
            LeftOuterJoinInputPlan::Condition(join) => condition(join),
        }
    }
    fn nested(join: &mut NestedLoopJoinPlan) -> Option<&mut TableSourcePlan> {
        match &mut join.input {
            NestedLoopJoinInputPlan::Source(source) => table(source),
            NestedLoopJoinInputPlan::InnerJoin(join) => inner(join),
            NestedLoopJoinInputPlan::LeftOuterJoin(join) => left(join),
        }
    }
    fn hash(join: &mut HashJoinPlan) -> Option<&mut TableSourcePlan> {
        match &mut join.input {
            HashJoinInputPlan::Source(source) => table(source),
            HashJoinInputPlan::InnerJoin(join) => inner(join),
            HashJoinInputPlan::LeftOuterJoin(join) => left(join),
        }
    }
    fn condition(join: &mut JoinConditionPlan) -> Option<&mut TableSourcePlan> {
        match &mut join.input {
            JoinConditionInputPlan::NestedLoop(join) => nested(join),
            JoinConditionInputPlan::Hash(join) => hash(join),
        }
    }
    match input {
        ProjectInputPlan::Source(source) => table(source),
        ProjectInputPlan::InnerJoin(join) => inner(join),
        ProjectInputPlan::LeftOuterJoin(join) => left(join),
        ProjectInputPlan::Filter(filter) => match &mut filter.input {
            FilterInputPlan::Source(source) => table(source),
            FilterInputPlan::InnerJoin(join) => inner(join),
            FilterInputPlan::LeftOuterJoin(join) => left(join),
        },
        ProjectInputPlan::Aggregation(_) | ProjectInputPlan::Having(_) => None,
    }
}

/// The names (or aliases) the tables joined to the first one go by; `None` when one of them
/// is not a table (a derived table, a series).
fn joined_names(input: &ProjectInputPlan) -> Option<Vec<String>> {
    fn name(source: &SourcePlan, names: &mut Vec<String>) -> Option<()> {
        let SourcePlan::Table(table) = source else {
            return None;
        };
        names.push(
            table
                .alias
                .as_ref()
                .map_or(&table.name, |a| &a.name)
                .clone(),
        );
        Some(())
    }
    fn inner(join: &InnerJoinPlan, names: &mut Vec<String>) -> Option<()> {
        match &join.input {
            InnerJoinInputPlan::NestedLoop(join) => nested(join, names),
            InnerJoinInputPlan::Hash(join) => hash(join, names),
            InnerJoinInputPlan::Condition(join) => condition(join, names),
        }
    }
    fn left(join: &LeftOuterJoinPlan, names: &mut Vec<String>) -> Option<()> {
        match &join.input {
            LeftOuterJoinInputPlan::NestedLoop(join) => nested(join, names),
            LeftOuterJoinInputPlan::Hash(join) => hash(join, names),
            LeftOuterJoinInputPlan::Condition(join) => condition(join, names),
        }
    }
    fn nested(join: &NestedLoopJoinPlan, names: &mut Vec<String>) -> Option<()> {
        name(&join.right, names)?;
        match &join.input {
            NestedLoopJoinInputPlan::Source(_) => Some(()),
            NestedLoopJoinInputPlan::InnerJoin(join) => inner(join, names),
            NestedLoopJoinInputPlan::LeftOuterJoin(join) => left(join, names),
        }
    }
    fn hash(join: &HashJoinPlan, names: &mut Vec<String>) -> Option<()> {
        name(&join.right, names)?;
        match &join.input {
            HashJoinInputPlan::Source(_) => Some(()),
            HashJoinInputPlan::InnerJoin(join) => inner(join, names),
            HashJoinInputPlan::LeftOuterJoin(join) => left(join, names),
        }
    }
    fn condition(join: &JoinConditionPlan, names: &mut Vec<String>) -> Option<()> {
        match &join.input {
            JoinConditionInputPlan::NestedLoop(join) => nested(join, names),
            JoinConditionInputPlan::Hash(join) => hash(join, names),
        }
    }
    let mut names = Vec::new();
    match input {
        ProjectInputPlan::Source(_) => Some(()),
        ProjectInputPlan::InnerJoin(join) => inner(join, &mut names),
        ProjectInputPlan::LeftOuterJoin(join) => left(join, &mut names),
        ProjectInputPlan::Filter(filter) => match &filter.input {
            FilterInputPlan::Source(_) => Some(()),
            FilterInputPlan::InnerJoin(join) => inner(join, &mut names),
            FilterInputPlan::LeftOuterJoin(join) => left(join, &mut names),
        },
        ProjectInputPlan::Aggregation(_) | ProjectInputPlan::Having(_) => None,
    }?;
    Some(names)
}

impl Session {
    /// The rows of `table` in primary-key order (descending when `asc` is `Some(false)`):
    /// GlueSQL's scan of `<table>_pkey`, which only [`plan_index`] plans. Takes the table's key
    /// range and key hint, as any first read of the table does.
    ///
    /// # Errors
    ///
    /// A storage error when the table or its primary key is gone, or when asked for rows by a
    /// predicate on the key (the planner never puts one on this index).
    pub(crate) fn scan_key_order<'a>(
        &'a self,
        table: &str,
        asc: Option<bool>,
        cmp_value: Option<(&IndexOperator, Value)>,
    ) -> Result<RowIter<'a>> {
        let index = pkey_index_name(table);
        if cmp_value.is_some() {
            return Err(Error::StorageMsg(format!(
                "index \"{index}\" is read in key order, not by a predicate"
            )));
        }
        let hint = self.take_key_hint(table);
        let range = self.take_key_range(table).unwrap_or(KeyRange {
            table: table.to_owned(),
            lower: Bound::Unbounded,
            upper: Bound::Unbounded,
        });
        let keyed = self
            .engine
            .borrow()
            .tables
            .get(table)
            .is_some_and(|t| primary_key(&t.schema).is_some());
        if !keyed {
            return Err(Error::StorageMsg(format!(
                "index \"{index}\" does not exist"
            )));
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
            hinted,
            batch: VecDeque::new(),
            passed: 0,
            exhausted: false,
        }))
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
    /// A key hint's keys, in the walk's order, instead of the table's.
    hinted: Option<VecDeque<Key>>,
    /// Rows copied out, each with the keys passed to reach it (itself included).
    batch: VecDeque<(u64, Key, Vec<Value>)>,
    /// Keys passed since the last row copied out: versions this reader cannot see.
    passed: u64,
    exhausted: bool,
}

impl KeyOrderScan<'_> {
    /// Copies the next visible rows out of the table, up to [`BATCH`] of them, or marks the
    /// walk exhausted.
    fn refill(&mut self) {
        let engine = self.session.engine.borrow();
        let Some(table) = engine.tables.get(&self.range.table) else {
            self.exhausted = true;
            return;
        };
        let (txn, view) = (self.txn, self.view);
        let mut passed = self.passed;
        let mut found = Vec::with_capacity(BATCH);
        let mut walk = |key: &Key, values: Option<&Vec<Value>>| {
            passed += 1;
            if let Some(values) = values {
                found.push((std::mem::take(&mut passed), key.clone(), values.clone()));
            }
            found.len() < BATCH
        };
        let mut last = None;
        if let Some(keys) = &mut self.hinted {
            while let Some(key) = keys.pop_front() {
                if self.range.contains(&key) {
                    let visible = table.rows.get(&key).and_then(|r| r.visible(txn, view));
                    if !walk(&key, visible) {
                        break;
                    }
                }
            }
            self.exhausted = keys.is_empty();
        } else {
            let mut rows = self.range.of(&table.rows);
            let mut step = |(key, row): (&Key, &std::rc::Rc<crate::sim::versions::RowVersions>)| {
                last = Some(key.clone());
                walk(key, row.visible(txn, view))
            };
            self.exhausted = if self.ascending {
                rows.all(&mut step)
            } else {
                rows.rev().all(&mut step)
            };
        }
        self.passed = passed;
        self.batch.extend(found);
        if let Some(key) = last {
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

    /// The next row; every key passed to reach it counts as a row read, as PostgreSQL reads
    /// each heap tuple its index scan meets, visible or not.
    fn next(&mut self) -> Option<Self::Item> {
        while self.batch.is_empty() && !self.exhausted {
            self.refill();
        }
        let Some((passed, key, values)) = self.batch.pop_front() else {
            // The walk's end: the invisible keys after the last row were read too.
            self.session.count(std::mem::take(&mut self.passed), 0);
            return None;
        };
        self.session.count(passed, 0);
        Some(Ok((key, values)))
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

    /// [`firsts`] on the database's default connection.
    fn ids(db: &mut Database, sql: &str) -> (Vec<String>, u64) {
        firsts(db.default_connection(), sql)
    }

    /// Ids as the console shows them.
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
                "SELECT j.id FROM jobs j WHERE EXISTS (SELECT 1 FROM jobs k WHERE j.id > 250) ORDER BY j.id LIMIT 5",
                "SELECT j.id FROM jobs j WHERE EXISTS (SELECT 1 FROM jobs k WHERE j.id > 250) ORDER BY j.id + 0 LIMIT 5",
            ),
            (
                "SELECT id FROM jobs WHERE id BETWEEN 100 AND 150 ORDER BY id DESC",
                "SELECT id FROM jobs WHERE id BETWEEN 100 AND 150 ORDER BY id + 0 DESC",
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
            firsts(&mut other, "SELECT id FROM jobs ORDER BY id LIMIT 2"),
            (texts([4, 5]), 5),
            "its own delete it sees; the three deleted rows are passed, and read"
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
