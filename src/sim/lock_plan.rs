//! Which locks a statement takes, planned from its parsed SQL, for each isolation level.
//!
//! Follows PostgreSQL for its own levels (`read_committed`, `repeatable_read`, `serializable`): a read takes ACCESS SHARE on every table
//! it reads and no row locks; `INSERT`/`UPDATE`/`DELETE` take ROW EXCLUSIVE on the table, and a
//! single-row `UPDATE`/`DELETE` by primary key takes FOR NO KEY UPDATE / FOR UPDATE on that row;
//! `ALTER TABLE`, `DROP TABLE` and `DROP INDEX` take ACCESS EXCLUSIVE; `CREATE INDEX` takes
//! SHARE. The *locking* levels add shared read locks, as a lock-based engine does: a
//! read by primary key takes FOR SHARE on the row, any other read takes SHARE on the table — so
//! a report's full scan really blocks writers. Under `locking_read_committed` those read locks
//! last for the statement; under `two_phase_locking`, until commit. Everything else lasts until
//! commit.
//!
//! A multi-row `UPDATE`/`DELETE` locks every row its `WHERE` finds, one by one in key order
//! ([`RowSet`]: the rows are found when the locks are taken, by a `SELECT` of the primary keys
//! on the statement's own connection). `SELECT … FOR UPDATE` (and `FOR NO KEY UPDATE`,
//! `FOR SHARE`, `FOR KEY SHARE`) takes ROW SHARE on the table and the row lock on every row it
//! returns, honouring `NOWAIT` and `SKIP LOCKED`; it then returns only the rows it locked.
//!
//! Simplifications: tables in subqueries of a `WHERE` are not locked; rows of a table without a
//! primary key are not locked one by one (the table locks still apply); a locking `SELECT` reads
//! no extra SHARE table lock under the locking levels (its row locks are stronger for its rows).

pub use crate::sim::isolation::Isolation;
use crate::sim::key_access::{inserted_keys, pinned_key};
use crate::sim::locks::{LockMode, Resource, RowLockMode, TableLockMode, WaitPolicy};
use crate::sim::statement::LockingClause;
use gluesql::core::ast::{
    Expr, Projection, Query, Select, SelectItem, SetExpr, Statement, TableFactor, TableWithJoins,
    ToSql,
};
use gluesql::core::data::Schema;

/// How long a lock is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockDuration {
    /// Released when the statement ends.
    Statement,
    /// Released at commit or rollback.
    Transaction,
}

/// One lock a statement needs, in the order to take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRequest {
    /// What to lock.
    pub resource: Resource,
    /// In which mode.
    pub mode: LockMode,
    /// For how long.
    pub duration: LockDuration,
}

/// Row locks on the rows a query finds: taken one by one, in the query's order, when the
/// statement's locks are taken.
#[derive(Debug, Clone, PartialEq)]
pub struct RowSet {
    /// The table whose rows are locked.
    pub table: String,
    /// `SELECT <primary key> FROM <table> WHERE … [ORDER BY …]`: the rows, in locking order.
    pub candidates: Statement,
    /// The row lock each row gets.
    pub mode: RowLockMode,
    /// What to do about a row another transaction has locked (`NOWAIT`, `SKIP LOCKED`).
    pub wait: WaitPolicy,
    /// Lock at most this many rows (a locking `SELECT`'s `LIMIT` plus `OFFSET`).
    pub limit: Option<usize>,
    /// Whether the statement then reads only the rows it locked (a locking `SELECT`; any
    /// locking statement under `read_committed`, whose rows are re-checked when it runs).
    pub restrict: bool,
    /// Whether a row that changed since the statement's snapshot is re-checked against its
    /// newest version once locked, and passed over if it no longer matches (PostgreSQL's
    /// EvalPlanQual, under `read_committed`), so a `LIMIT` moves on to the next candidate.
    pub recheck: bool,
    /// For how long.
    pub duration: LockDuration,
}

/// One step of a statement's locking.
#[derive(Debug, Clone, PartialEq)]
pub enum LockStep {
    /// One lock.
    Lock(LockRequest),
    /// A row lock taken only if the statement sees the row (an `UPDATE`/`DELETE` by primary
    /// key), and given up if the row was deleted while the statement waited for it: PostgreSQL
    /// locks the tuples its scan finds, and skips one that a concurrent transaction deleted.
    RowIfPresent(LockRequest),
    /// A key an `INSERT` writes: locked, waiting if need be, unless the key is committed and
    /// nobody is writing it — PostgreSQL's unique index makes an insert wait for a transaction
    /// that is inserting, updating or deleting the same key, and fail at once (23505) when the
    /// key is simply there.
    InsertKey(LockRequest),
    /// A lock on each row a query finds.
    Rows(RowSet),
}

impl LockStep {
    /// The single lock, if this step is one.
    pub fn request(&self) -> Option<&LockRequest> {
        match self {
            Self::Lock(request) | Self::RowIfPresent(request) | Self::InsertKey(request) => {
                Some(request)
            }
            Self::Rows(_) => None,
        }
    }
}

fn table_lock(table: &str, mode: TableLockMode) -> LockRequest {
    LockRequest {
        resource: Resource::Table(table.to_owned()),
        mode: LockMode::Table(mode),
        duration: LockDuration::Transaction,
    }
}

/// The locks `statement` takes under `isolation`, in order; `locking` is the `FOR UPDATE`-style
/// clause taken off a `SELECT`; `schema` looks a table's schema up (to find its primary key).
pub fn plan_locks(
    statement: &Statement,
    locking: Option<LockingClause>,
    isolation: Isolation,
    schema: impl Fn(&str) -> Option<Schema>,
) -> Vec<LockStep> {
    let read_duration = match isolation {
        Isolation::LockingReadCommitted => LockDuration::Statement,
        _ => LockDuration::Transaction,
    };
    let reads = |query: &Query, plan: &mut Vec<LockStep>| {
        let mut tables = Vec::new();
        tables_of_query(query, &mut tables);
        for table in &tables {
            plan.push(LockStep::Lock(table_lock(
                table,
                TableLockMode::AccessShare,
            )));
        }
        if !isolation.is_locking() {
            return;
        }
        // A single-table read pinned to one key locks that row; anything else the tables.
        let pinned = match (&query.body, tables.as_slice()) {
            (SetExpr::Select(select), [table]) => select
                .selection
                .as_ref()
                .zip(schema(table))
                .and_then(|(selection, schema)| pinned_key(table, selection, &schema))
                .map(|key| (table.clone(), key)),
            _ => None,
        };
        match pinned {
            Some((table, key)) => plan.push(LockStep::Lock(LockRequest {
                resource: Resource::Row(table, key),
                mode: LockMode::Row(RowLockMode::ForShare),
                duration: read_duration,
            })),
            None => plan.extend(tables.iter().map(|table| {
                LockStep::Lock(LockRequest {
                    duration: read_duration,
                    ..table_lock(table, TableLockMode::Share)
                })
            })),
        }
    };

    let mut plan = Vec::new();
    match statement {
        Statement::Query(query) => match (locking, locked_select(query)) {
            (Some(clause), Some((select, table, alias))) => {
                plan.push(LockStep::Lock(table_lock(table, TableLockMode::RowShare)));
                // LIMIT n OFFSET m returns at most n rows after skipping m: lock n + m.
                let limit = query.limit.as_ref().and_then(literal_count).map(|limit| {
                    limit + query.offset.as_ref().and_then(literal_count).unwrap_or(0)
                });
                if let Some(pk) = schema(table).as_ref().and_then(primary_key) {
                    plan.push(LockStep::Rows(RowSet {
                        table: table.to_owned(),
                        candidates: candidates(
                            table,
                            alias,
                            &pk,
                            select.selection.clone(),
                            query.order_by.clone(),
                        ),
                        mode: clause.strength,
                        wait: clause.wait,
                        limit,
                        restrict: true,
                        recheck: isolation == Isolation::ReadCommitted,
                        duration: LockDuration::Transaction,
                    }));
                }
            }
            _ => reads(query, &mut plan),
        },
        Statement::Insert {
            table_name,
            columns,
            source,
        } => {
            plan.push(LockStep::Lock(table_lock(
                table_name,
                TableLockMode::RowExclusive,
            )));
            reads(source, &mut plan);
            let keys = schema(table_name)
                .and_then(|schema| inserted_keys(columns, source, &schema))
                .unwrap_or_default();
            plan.extend(keys.into_iter().map(|key| {
                LockStep::InsertKey(LockRequest {
                    resource: Resource::Row(table_name.clone(), key),
                    mode: LockMode::Row(RowLockMode::ForUpdate),
                    duration: LockDuration::Transaction,
                })
            }));
        }
        Statement::Update {
            table_name,
            selection,
            ..
        }
        | Statement::Delete {
            table_name,
            selection,
        } => {
            plan.push(LockStep::Lock(table_lock(
                table_name,
                TableLockMode::RowExclusive,
            )));
            let mode = if matches!(statement, Statement::Update { .. }) {
                RowLockMode::ForNoKeyUpdate
            } else {
                RowLockMode::ForUpdate
            };
            let schema = schema(table_name);
            let key = selection
                .as_ref()
                .zip(schema.as_ref())
                .and_then(|(selection, schema)| pinned_key(table_name, selection, schema));
            if let Some(key) = key {
                plan.push(LockStep::RowIfPresent(LockRequest {
                    resource: Resource::Row(table_name.clone(), key),
                    mode: LockMode::Row(mode),
                    duration: LockDuration::Transaction,
                }));
            } else if let Some(pk) = schema.as_ref().and_then(primary_key) {
                plan.push(LockStep::Rows(RowSet {
                    table: table_name.clone(),
                    candidates: candidates(table_name, None, &pk, selection.clone(), Vec::new()),
                    mode,
                    wait: WaitPolicy::Wait,
                    limit: None,
                    // Under READ COMMITTED the statement then runs on a new snapshot, over the
                    // rows it locked only: its WHERE re-checks each one's newest version.
                    restrict: isolation == Isolation::ReadCommitted,
                    recheck: false,
                    duration: LockDuration::Transaction,
                }));
            }
        }
        Statement::AlterTable { name, .. } => {
            plan.push(LockStep::Lock(table_lock(
                name,
                TableLockMode::AccessExclusive,
            )));
        }
        Statement::DropTable { names, .. } => {
            plan.extend(
                names
                    .iter()
                    .map(|name| LockStep::Lock(table_lock(name, TableLockMode::AccessExclusive))),
            );
        }
        Statement::CreateIndex { table_name, .. } => {
            plan.push(LockStep::Lock(table_lock(table_name, TableLockMode::Share)));
        }
        Statement::DropIndex { table_name, .. } => {
            plan.push(LockStep::Lock(table_lock(
                table_name,
                TableLockMode::AccessExclusive,
            )));
        }
        _ => {}
    }
    plan
}

/// The `SELECT` of a locking query over one table: the select, the table and its alias.
fn locked_select(query: &Query) -> Option<(&Select, &str, Option<&str>)> {
    let SetExpr::Select(select) = &query.body else {
        return None;
    };
    match &select.from.relation {
        TableFactor::Table { name, alias } if select.from.joins.is_empty() => Some((
            select,
            name.as_str(),
            alias.as_ref().map(|a| a.name.as_str()),
        )),
        _ => None,
    }
}

/// The name of `schema`'s primary key column.
fn primary_key(schema: &Schema) -> Option<String> {
    schema
        .column_defs
        .as_ref()?
        .iter()
        .find(|c| c.unique.is_some_and(|u| u.is_primary))
        .map(|c| c.name.clone())
}

/// A `LIMIT`/`OFFSET` written as a whole number.
fn literal_count(expr: &Expr) -> Option<usize> {
    expr.to_sql().trim().parse().ok()
}

/// `SELECT <alias>.<pk> FROM <table> [<alias>] WHERE … ORDER BY …`.
fn candidates(
    table: &str,
    alias: Option<&str>,
    pk: &str,
    selection: Option<Expr>,
    order_by: Vec<gluesql::core::ast::OrderByExpr>,
) -> Statement {
    Statement::Query(Query {
        body: SetExpr::Select(Box::new(Select {
            distinct: false,
            projection: Projection::SelectItems(vec![SelectItem::Expr {
                expr: Expr::CompoundIdentifier {
                    alias: alias.unwrap_or(table).to_owned(),
                    ident: pk.to_owned(),
                },
                label: pk.to_owned(),
            }]),
            from: TableWithJoins {
                relation: TableFactor::Table {
                    name: table.to_owned(),
                    alias: alias.map(|name| gluesql::core::ast::TableAlias {
                        name: name.to_owned(),
                        columns: Vec::new(),
                    }),
                },
                joins: Vec::new(),
            },
            selection,
            group_by: Vec::new(),
            having: None,
        })),
        order_by,
        limit: None,
        offset: None,
    })
}

/// The tables a statement reads and the tables it writes, each once, in order: what the page's
/// topology draws as a service's edges.
pub fn tables_of(statement: &Statement) -> (Vec<String>, Vec<String>) {
    let mut reads = Vec::new();
    let mut writes = Vec::new();
    match statement {
        Statement::Query(query) => tables_of_query(query, &mut reads),
        Statement::Insert {
            table_name, source, ..
        } => {
            writes.push(table_name.clone());
            tables_of_query(source, &mut reads);
        }
        Statement::Update { table_name, .. } | Statement::Delete { table_name, .. } => {
            writes.push(table_name.clone());
        }
        Statement::AlterTable { name, .. } => writes.push(name.clone()),
        Statement::DropTable { names, .. } => writes.extend(names.iter().cloned()),
        Statement::CreateIndex { table_name, .. } | Statement::DropIndex { table_name, .. } => {
            writes.push(table_name.clone());
        }
        _ => {}
    }
    (reads, writes)
}

/// The tables a query reads, in order, each once (including joins and derived tables).
fn tables_of_query(query: &Query, tables: &mut Vec<String>) {
    if let SetExpr::Select(select) = &query.body {
        tables_of_from(&select.from, tables);
    }
}

fn tables_of_from(from: &TableWithJoins, tables: &mut Vec<String>) {
    tables_of_factor(&from.relation, tables);
    for join in &from.joins {
        tables_of_factor(&join.relation, tables);
    }
}

fn tables_of_factor(factor: &TableFactor, tables: &mut Vec<String>) {
    match factor {
        TableFactor::Table { name, .. } if !tables.contains(name) => tables.push(name.clone()),
        TableFactor::Derived { subquery, .. } => tables_of_query(subquery, tables),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::database::Database;
    use crate::sim::statement::{prepare, Command};
    use gluesql::core::store::Store;

    fn plan(sql: &str, isolation: Isolation) -> Vec<(String, String, LockDuration)> {
        let mut db = Database::new("plan");
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT)")
            .expect("create");
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
            .expect("create");
        let session = db.default_connection().session();
        let Command::Sql { statement, locking } = prepare(sql).expect("prepares") else {
            return Vec::new();
        };
        plan_locks(&statement, locking, isolation, |t| {
            session.fetch_schema(t).ok().flatten()
        })
        .into_iter()
        .map(|step| match step {
            LockStep::Lock(r) | LockStep::RowIfPresent(r) | LockStep::InsertKey(r) => {
                (r.resource.to_string(), r.mode.to_string(), r.duration)
            }
            LockStep::Rows(set) => (
                format!(
                    "rows of {} ({}{}{})",
                    set.table,
                    match &set.candidates {
                        Statement::Query(query) => query.to_sql(),
                        other => format!("{other:?}"),
                    },
                    set.limit
                        .map(|l| format!(", first {l}"))
                        .unwrap_or_default(),
                    match set.wait {
                        WaitPolicy::Wait => "",
                        WaitPolicy::NoWait => ", nowait",
                        WaitPolicy::SkipLocked => ", skip locked",
                    }
                ),
                LockMode::Row(set.mode).to_string(),
                set.duration,
            ),
        })
        .collect()
    }

    use LockDuration::{Statement as S, Transaction as T};

    fn lock(resource: &str, mode: &str, duration: LockDuration) -> (String, String, LockDuration) {
        (resource.to_owned(), mode.to_owned(), duration)
    }

    #[test]
    fn snapshot_reads_take_access_share_only() {
        assert_eq!(
            plan(
                "SELECT * FROM orders o JOIN customers c ON c.id = o.id",
                Isolation::RepeatableRead
            ),
            [
                lock("orders", "ACCESS SHARE", T),
                lock("customers", "ACCESS SHARE", T)
            ]
        );
    }

    #[test]
    fn locking_reads_take_share_locks_for_the_statement_or_the_transaction() {
        assert_eq!(
            plan("SELECT COUNT(*) FROM orders", Isolation::TwoPhaseLocking),
            [
                lock("orders", "ACCESS SHARE", T),
                lock("orders", "SHARE", T)
            ]
        );
        assert_eq!(
            plan(
                "SELECT COUNT(*) FROM orders",
                Isolation::LockingReadCommitted
            ),
            [
                lock("orders", "ACCESS SHARE", T),
                lock("orders", "SHARE", S)
            ]
        );
        assert_eq!(
            plan(
                "SELECT * FROM orders WHERE id = 7",
                Isolation::LockingReadCommitted
            ),
            [
                lock("orders", "ACCESS SHARE", T),
                lock("orders row 7", "FOR SHARE", S)
            ]
        );
    }

    #[test]
    fn writes_lock_the_table_and_a_pinned_row() {
        assert_eq!(
            plan(
                "UPDATE orders SET status = 'x' WHERE id = 3",
                Isolation::RepeatableRead
            ),
            [
                lock("orders", "ROW EXCLUSIVE", T),
                lock("orders row 3", "FOR NO KEY UPDATE", T)
            ]
        );
        assert_eq!(
            plan("DELETE FROM orders WHERE id = 3", Isolation::RepeatableRead),
            [
                lock("orders", "ROW EXCLUSIVE", T),
                lock("orders row 3", "FOR UPDATE", T)
            ]
        );
        assert_eq!(
            plan(
                "INSERT INTO orders VALUES (1, 'new'), (2, 'new')",
                Isolation::TwoPhaseLocking
            ),
            [
                lock("orders", "ROW EXCLUSIVE", T),
                lock("orders row 1", "FOR UPDATE", T),
                lock("orders row 2", "FOR UPDATE", T)
            ],
            "an insert locks the keys it writes (taken only while somebody writes them)"
        );
        assert_eq!(
            plan(
                "INSERT INTO orders SELECT id + 10, status FROM orders",
                Isolation::RepeatableRead
            ),
            [
                lock("orders", "ROW EXCLUSIVE", T),
                lock("orders", "ACCESS SHARE", T)
            ],
            "keys computed by a query are not known in advance"
        );
    }

    #[test]
    fn ddl_takes_access_exclusive() {
        assert_eq!(
            plan(
                "ALTER TABLE orders RENAME COLUMN status TO state",
                Isolation::RepeatableRead
            ),
            [lock("orders", "ACCESS EXCLUSIVE", T)]
        );
        assert_eq!(
            plan("DROP TABLE orders, customers", Isolation::RepeatableRead),
            [
                lock("orders", "ACCESS EXCLUSIVE", T),
                lock("customers", "ACCESS EXCLUSIVE", T)
            ]
        );
        assert!(plan("COMMIT", Isolation::TwoPhaseLocking).is_empty());
    }

    #[test]
    fn multi_row_writes_lock_the_rows_their_where_finds() {
        assert_eq!(
            plan(
                "UPDATE orders SET status = 'x' WHERE status = 'y'",
                Isolation::RepeatableRead
            ),
            [
                lock("orders", "ROW EXCLUSIVE", T),
                lock(
                    "rows of orders (SELECT \"orders\".\"id\" AS \"id\" FROM \"orders\" WHERE \"status\" = 'y')",
                    "FOR NO KEY UPDATE",
                    T
                )
            ]
        );
        assert_eq!(
            plan("DELETE FROM orders", Isolation::RepeatableRead)[1].1,
            "FOR UPDATE"
        );
    }

    #[test]
    fn locking_selects_take_row_share_and_lock_what_they_return() {
        let steps = plan(
            "SELECT * FROM orders o WHERE o.status = 'new' ORDER BY o.id LIMIT 2 OFFSET 1 FOR UPDATE SKIP LOCKED",
            Isolation::TwoPhaseLocking,
        );
        assert_eq!(steps[0], lock("orders", "ROW SHARE", T));
        assert_eq!(steps.len(), 2, "no SHARE table lock: {steps:?}");
        assert!(
            steps[1]
                .0
                .starts_with("rows of orders (SELECT \"o\".\"id\""),
            "{steps:?}"
        );
        assert!(
            steps[1]
                .0
                .ends_with("ORDER BY \"o\".\"id\", first 3, skip locked)"),
            "{steps:?}"
        );
        assert_eq!(steps[1].1, "FOR UPDATE");
        let share = plan(
            "SELECT * FROM customers FOR KEY SHARE NOWAIT",
            Isolation::RepeatableRead,
        );
        assert_eq!(share[1].1, "FOR KEY SHARE");
        assert!(share[1].0.ends_with(", nowait)"), "{share:?}");
    }
}
