//! The report of a run: what the command line prints and what tests assert on.
//!
//! Plain data with a stable JSON form (maps in name order, numbers rounded to the microsecond),
//! so two runs with the same scenario and seed give byte-identical reports.

use crate::sim::metrics::LatencySummary;
use serde::Serialize;
use std::collections::BTreeMap;

/// Per operation or per service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadReport {
    /// Operations completed.
    pub operations: u64,
    /// Operations failed.
    pub errors: u64,
    /// Failed operations by kind (`timeout`, `schema`, `conflict`, `constraint`, `sql`).
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Completed operations per simulated second.
    pub throughput_per_s: f64,
    /// Total time spent waiting for locks, in milliseconds.
    pub lock_wait_ms: f64,
    /// Latency of completed operations, arrival to commit.
    pub latency_ms: LatencySummary,
}

/// Per service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceReport {
    /// All its operations together.
    #[serde(flatten)]
    pub total: WorkloadReport,
    /// Each operation.
    pub by_operation: BTreeMap<String, WorkloadReport>,
}

/// Per database.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatabaseReport {
    /// Statements executed.
    pub statements: u64,
    /// Rows read.
    pub rows_read: u64,
    /// Rows written.
    pub rows_written: u64,
    /// Share of core time used, 0 to 1.
    pub core_utilisation: f64,
    /// The longest queue for a core.
    pub max_core_queue: usize,
    /// Records in the change log.
    pub change_log_length: usize,
    /// Deadlocks detected.
    pub deadlocks: u64,
}

/// A timeline action as it was applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppliedAction {
    /// When, in simulated milliseconds.
    pub at_ms: f64,
    /// What, in words.
    pub action: String,
    /// How it went: `ok`, or the error.
    pub result: String,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The scenario's name.
    pub scenario: String,
    /// The seed of the run.
    pub seed: u64,
    /// Simulated time covered.
    pub simulated_ms: f64,
    /// Events processed.
    pub events: u64,
    /// A hash of the ordered event trace (hex): equal traces, equal hashes.
    pub trace_hash: String,
    /// Each service.
    pub services: BTreeMap<String, ServiceReport>,
    /// Each database.
    pub databases: BTreeMap<String, DatabaseReport>,
    /// The actions applied, in order.
    pub timeline: Vec<AppliedAction>,
    /// The scripted sessions' steps and outcomes, if the scenario has a script.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script: Option<crate::sim::script::ScriptReport>,
}

/// Rounds to three decimals, so reports stay readable and stable.
pub fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}
