//! Which locks a statement takes, planned from its parsed SQL, for each isolation level.
//!
//! Follows PostgreSQL for `snapshot` (its MVCC levels): a read takes ACCESS SHARE on every table
//! it reads and no row locks; `INSERT`/`UPDATE`/`DELETE` take ROW EXCLUSIVE on the table, and a
//! single-row `UPDATE`/`DELETE` by primary key takes FOR NO KEY UPDATE / FOR UPDATE on that row;
//! `ALTER TABLE`, `DROP TABLE` and `DROP INDEX` take ACCESS EXCLUSIVE; `CREATE INDEX` takes
//! SHARE. The *locking* levels add shared read locks, as a two-phase-locking database does: a
//! read by primary key takes FOR SHARE on the row, any other read takes SHARE on the table — so
//! a report's full scan really blocks writers. Under `read_committed` those read locks last for
//! the statement; under `serializable`, until commit. Everything else lasts until commit.
//!
//! Simplification: rows touched by a multi-row `UPDATE`/`DELETE` are not locked one by one here
//! (the storage refuses a row that another open transaction is writing); tables in subqueries of
//! a `WHERE` are not locked.

use crate::sim::key_access::pinned_key;
use crate::sim::locks::{LockMode, Resource, RowLockMode, TableLockMode};
use crate::sim::storage::ReadMode;
use gluesql::core::ast::{Query, SetExpr, Statement, TableFactor, TableWithJoins};
use gluesql::core::data::Schema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A database's isolation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// Locking: reads take shared locks released at the end of each statement.
    ReadCommitted,
    /// Locking: reads take shared locks held until commit (two-phase locking).
    Serializable,
    /// MVCC: reads see the transaction's snapshot and take no row locks; writers lock rows,
    /// and a write–write conflict aborts.
    #[default]
    Snapshot,
}

impl Isolation {
    /// Whether reads take shared locks.
    pub fn is_locking(self) -> bool {
        matches!(self, Self::ReadCommitted | Self::Serializable)
    }

    /// How a connection at this level reads: MVCC reads one snapshot per transaction; the
    /// locking levels read what is committed (their locks keep it stable).
    pub fn read_mode(self) -> ReadMode {
        match self {
            Self::Snapshot => ReadMode::TransactionSnapshot,
            Self::ReadCommitted | Self::Serializable => ReadMode::LatestCommitted,
        }
    }
}

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

fn table_lock(table: &str, mode: TableLockMode) -> LockRequest {
    LockRequest {
        resource: Resource::Table(table.to_owned()),
        mode: LockMode::Table(mode),
        duration: LockDuration::Transaction,
    }
}

/// The locks `statement` takes under `isolation`; `schema` looks a table's schema up (to find
/// its primary key).
pub fn plan_locks(
    statement: &Statement,
    isolation: Isolation,
    schema: impl Fn(&str) -> Option<Schema>,
) -> Vec<LockRequest> {
    let read_duration = match isolation {
        Isolation::ReadCommitted => LockDuration::Statement,
        _ => LockDuration::Transaction,
    };
    let reads = |query: &Query, plan: &mut Vec<LockRequest>| {
        let mut tables = Vec::new();
        tables_of_query(query, &mut tables);
        for table in &tables {
            plan.push(table_lock(table, TableLockMode::AccessShare));
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
            Some((table, key)) => plan.push(LockRequest {
                resource: Resource::Row(table, key),
                mode: LockMode::Row(RowLockMode::ForShare),
                duration: read_duration,
            }),
            None => plan.extend(tables.iter().map(|table| LockRequest {
                duration: read_duration,
                ..table_lock(table, TableLockMode::Share)
            })),
        }
    };

    let mut plan = Vec::new();
    match statement {
        Statement::Query(query) => reads(query, &mut plan),
        Statement::Insert {
            table_name, source, ..
        } => {
            plan.push(table_lock(table_name, TableLockMode::RowExclusive));
            reads(source, &mut plan);
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
            plan.push(table_lock(table_name, TableLockMode::RowExclusive));
            let row_mode = if matches!(statement, Statement::Update { .. }) {
                RowLockMode::ForNoKeyUpdate
            } else {
                RowLockMode::ForUpdate
            };
            let key = selection
                .as_ref()
                .zip(schema(table_name))
                .and_then(|(selection, schema)| pinned_key(table_name, selection, &schema));
            if let Some(key) = key {
                plan.push(LockRequest {
                    resource: Resource::Row(table_name.clone(), key),
                    mode: LockMode::Row(row_mode),
                    duration: LockDuration::Transaction,
                });
            }
        }
        Statement::AlterTable { name, .. } => {
            plan.push(table_lock(name, TableLockMode::AccessExclusive));
        }
        Statement::DropTable { names, .. } => {
            plan.extend(
                names
                    .iter()
                    .map(|name| table_lock(name, TableLockMode::AccessExclusive)),
            );
        }
        Statement::CreateIndex { table_name, .. } => {
            plan.push(table_lock(table_name, TableLockMode::Share));
        }
        Statement::DropIndex { table_name, .. } => {
            plan.push(table_lock(table_name, TableLockMode::AccessExclusive));
        }
        _ => {}
    }
    plan
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
    use gluesql::core::store::Store;
    use gluesql::prelude::{parse, translate};

    fn plan(sql: &str, isolation: Isolation) -> Vec<(String, String, LockDuration)> {
        let mut db = Database::new("plan");
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT)")
            .expect("create");
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
            .expect("create");
        let session = db.default_connection().session();
        let statement = translate(&parse(sql).expect("parses")[0]).expect("translates");
        plan_locks(&statement, isolation, |t| {
            session.fetch_schema(t).ok().flatten()
        })
        .into_iter()
        .map(|r| (r.resource.to_string(), r.mode.to_string(), r.duration))
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
                Isolation::Snapshot
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
            plan("SELECT COUNT(*) FROM orders", Isolation::Serializable),
            [
                lock("orders", "ACCESS SHARE", T),
                lock("orders", "SHARE", T)
            ]
        );
        assert_eq!(
            plan("SELECT COUNT(*) FROM orders", Isolation::ReadCommitted),
            [
                lock("orders", "ACCESS SHARE", T),
                lock("orders", "SHARE", S)
            ]
        );
        assert_eq!(
            plan(
                "SELECT * FROM orders WHERE id = 7",
                Isolation::ReadCommitted
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
                Isolation::Snapshot
            ),
            [
                lock("orders", "ROW EXCLUSIVE", T),
                lock("orders row 3", "FOR NO KEY UPDATE", T)
            ]
        );
        assert_eq!(
            plan("DELETE FROM orders WHERE id = 3", Isolation::Snapshot),
            [
                lock("orders", "ROW EXCLUSIVE", T),
                lock("orders row 3", "FOR UPDATE", T)
            ]
        );
        assert_eq!(
            plan(
                "UPDATE orders SET status = 'x' WHERE status = 'y'",
                Isolation::Snapshot
            ),
            [lock("orders", "ROW EXCLUSIVE", T)]
        );
        assert_eq!(
            plan(
                "INSERT INTO orders VALUES (1, 'new')",
                Isolation::Serializable
            ),
            [lock("orders", "ROW EXCLUSIVE", T)]
        );
    }

    #[test]
    fn ddl_takes_access_exclusive() {
        assert_eq!(
            plan(
                "ALTER TABLE orders RENAME COLUMN status TO state",
                Isolation::Snapshot
            ),
            [lock("orders", "ACCESS EXCLUSIVE", T)]
        );
        assert_eq!(
            plan("DROP TABLE orders, customers", Isolation::Snapshot),
            [
                lock("orders", "ACCESS EXCLUSIVE", T),
                lock("customers", "ACCESS EXCLUSIVE", T)
            ]
        );
        assert!(plan("COMMIT", Isolation::Serializable).is_empty());
    }
}
