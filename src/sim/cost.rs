//! The cost model: how much simulated time the work a statement really did takes.
//!
//! A statement's execution time is a fixed cost (parse, plan, a round trip inside the server)
//! plus a cost per row read, per row written and per index entry maintained, from the row
//! counters the storage engine reports, plus a commit cost when a transaction that wrote
//! commits. The defaults are in the range of a PostgreSQL server with its data in memory on a
//! modern core: a point lookup about 50 µs, a scan of 10,000 rows about 10 ms.
//! Simplification: no caches, no I/O, no plan quality; a row costs the same whoever reads it.

use crate::sim::clock::Micros;
use crate::sim::storage::RowCounters;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Microseconds per unit of work; every field may be overridden in a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CostModel {
    /// Fixed cost of any statement.
    #[schemars(range(min = 0.0))]
    pub per_statement_us: f64,
    /// Cost of each row read (scanned or fetched by key).
    #[schemars(range(min = 0.0))]
    pub per_row_read_us: f64,
    /// Cost of each row inserted, updated or deleted.
    #[schemars(range(min = 0.0))]
    pub per_row_written_us: f64,
    /// Cost of each secondary-index entry a write adds (see `crate::sim::indexes`): by default
    /// what the row itself costs, as PostgreSQL writes an index tuple and its WAL record for
    /// each index much as it writes the heap tuple.
    #[schemars(range(min = 0.0))]
    pub per_index_entry_us: f64,
    /// Cost of committing a transaction that wrote (the WAL flush).
    #[schemars(range(min = 0.0))]
    pub commit_us: f64,
}

impl Default for CostModel {
    fn default() -> Self {
        Self {
            per_statement_us: 50.0,
            per_row_read_us: 1.0,
            per_row_written_us: 10.0,
            per_index_entry_us: 10.0,
            commit_us: 100.0,
        }
    }
}

impl CostModel {
    /// The execution time of a statement that did `work` (rows read and written, index entries
    /// added).
    pub fn statement(&self, work: RowCounters) -> Micros {
        let us = self.per_statement_us
            + self.per_row_read_us * work.rows_read as f64
            + self.per_row_written_us * work.rows_written as f64
            + self.per_index_entry_us * work.index_entries as f64;
        to_micros(us)
    }

    /// The time to commit a transaction; free when it wrote nothing.
    pub fn commit(&self, wrote: bool) -> Micros {
        if wrote {
            to_micros(self.commit_us)
        } else {
            0
        }
    }

    /// Whether every cost is a finite, non-negative number.
    pub fn is_valid(&self) -> bool {
        [
            self.per_statement_us,
            self.per_row_read_us,
            self.per_row_written_us,
            self.per_index_entry_us,
            self.commit_us,
        ]
        .iter()
        .all(|c| c.is_finite() && *c >= 0.0)
    }
}

fn to_micros(us: f64) -> Micros {
    if us.is_finite() && us > 0.0 {
        us.round().min(1e15) as Micros
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scan_costs_more_than_a_lookup_in_proportion_to_rows() {
        let cost = CostModel::default();
        let lookup = cost.statement(RowCounters {
            rows_read: 1,
            ..RowCounters::default()
        });
        let scan = cost.statement(RowCounters {
            rows_read: 10_000,
            ..RowCounters::default()
        });
        assert_eq!(lookup, 51);
        assert_eq!(scan, 10_050);
        assert_eq!(cost.commit(false), 0);
        assert!(cost.commit(true) > 0);
    }

    #[test]
    fn each_index_entry_a_write_adds_costs_extra() {
        let cost = CostModel::default();
        let insert = |index_entries| {
            cost.statement(RowCounters {
                rows_written: 1,
                index_entries,
                ..RowCounters::default()
            })
        };
        assert!(insert(3) > insert(0));
        assert_eq!(insert(3) - insert(0), 3 * insert(1) - 3 * insert(0));
    }
}
