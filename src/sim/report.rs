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
    /// Failed operations by PostgreSQL error code (`40001`, `40P01`, …).
    pub errors_by_sqlstate: BTreeMap<String, u64>,
    /// Completed operations per simulated second.
    pub throughput_per_s: f64,
    /// Total time spent waiting for locks, in milliseconds.
    pub lock_wait_ms: f64,
    /// Operations that ended early because their query found nothing (polls of an empty
    /// queue).
    #[serde(skip_serializing_if = "is_zero")]
    pub found_nothing: u64,
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
    /// The integration mode the run used (`shared`, `owned`, `cdc`).
    pub mode: String,
    /// `cdc` mode: each connector.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub connectors: BTreeMap<String, ConnectorReport>,
    /// `cdc` mode: each topic.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub topics: BTreeMap<String, TopicReport>,
    /// `cdc` mode: each consumer group.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub consumer_groups: BTreeMap<String, ConsumerGroupReport>,
    /// `cdc` mode: each read model, by database then table.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub read_models: BTreeMap<String, BTreeMap<String, ReadModelReport>>,
    /// `etl` mode: the batch job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etl: Option<crate::sim::world::EtlReport>,
    /// Each network link the run used, as `"client ↔ database"` (or `↔ broker`).
    pub network: BTreeMap<String, LinkReport>,
}

/// A network link's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkReport {
    /// Its round-trip time.
    pub rtt_ms: f64,
    /// Its mean jitter per round trip.
    pub jitter_ms: f64,
    /// Crossings (a statement's round trip counts once).
    pub crossings: u64,
    /// The mean time of a crossing.
    pub mean_ms: f64,
}

/// A CDC connector's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectorReport {
    /// Its source database.
    pub source: String,
    /// `stopped`, `snapshotting`, `streaming` or `crashed`.
    pub state: String,
    /// The next LSN it reads.
    pub position: u64,
    /// Its last flushed offset (LSN), if any.
    pub flushed_lsn: Option<u64>,
    /// `r` events its snapshots emitted.
    pub snapshot_events: u64,
    /// Events streamed from the change log (tombstones included).
    pub streamed_events: u64,
    /// Events sent again after a crash.
    pub resent_events: u64,
    /// Offset flushes.
    pub flushes: u64,
    /// Crashes.
    pub crashes: u64,
    /// Its lag now: change-log records not read yet.
    pub lag_records: u64,
    /// Its lag now: age of the oldest unread record, in milliseconds.
    pub lag_ms: f64,
    /// Its lag over the run, in records, at its polls: 95th percentile.
    pub lag_records_p95: u64,
    /// Records the source keeps for its replication slot.
    pub retained_records: u64,
    /// How it captures: `log`, `query` or `trigger`.
    pub capture: String,
    /// `query` capture: deletes it never saw.
    pub missed_deletes: u64,
    /// `query` capture: other changes it never saw (intermediate states of rows changed
    /// between polls, rows committed late below the highest value seen).
    pub missed_changes: u64,
    /// What capturing costs the source, in core milliseconds: the connector's polls (`query`,
    /// `trigger`) and the audit trigger's inserts in the writers' transactions (`trigger`).
    pub source_core_ms: f64,
    /// The `events` mode: outbox events the relay published to their aggregates' topics.
    #[serde(skip_serializing_if = "is_zero")]
    pub relayed_events: u64,
    /// The `events` mode: how many times the relay stopped at an event it could not publish
    /// (a payload that does not fit its subject's latest schema).
    #[serde(skip_serializing_if = "is_zero")]
    pub relay_failed: u64,
    /// Why the relay's last failure happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relay_error: Option<String>,
    /// The `events` mode: how the relay reads the outbox (`log` or `polling`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relay: Option<crate::sim::outbox::RelayMethod>,
    /// The `events` mode: the relay's latency, from an event's commit to its publish, in
    /// milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relay_latency_ms: Option<crate::sim::metrics::LatencySummary>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A topic's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicReport {
    /// Partitions.
    pub partitions: u32,
    /// Messages produced (the sum of the partitions' log end offsets).
    pub produced: u64,
    /// Messages kept now.
    pub messages: usize,
    /// Per partition: the high watermark now.
    pub high_watermarks: Vec<u64>,
    /// Messages removed by retention.
    pub expired: u64,
    /// Messages removed by compaction.
    pub compacted: u64,
}

/// A consumer group's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsumerGroupReport {
    /// Its members.
    pub members: Vec<String>,
    /// Topics it reads.
    pub topics: Vec<String>,
    /// Per `topic/partition`: the committed offset.
    pub committed: BTreeMap<String, u64>,
    /// Its lag now, in messages (high watermark − committed, summed).
    pub lag_messages: u64,
    /// Its lag now: the age of the oldest unconsumed message, in milliseconds.
    pub lag_ms: f64,
    /// Its lag at its polls over the run, in messages: 95th percentile.
    pub lag_messages_p95: u64,
    /// Its lag at its polls over the run, in time: percentiles in milliseconds.
    pub lag_time_ms: LatencySummary,
    /// Events applied to read models.
    pub applied: u64,
    /// Events skipped because their LSN had been applied already (delivered twice).
    pub duplicates: u64,
    /// Tombstones read (nothing to apply).
    pub tombstones: u64,
    /// Batches that failed (read again at the next poll).
    pub failed_batches: u64,
    /// Messages that were not change events (skipped).
    pub undecodable: u64,
    /// Rebalances.
    pub rebalances: u64,
}

/// A read model's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadModelReport {
    /// The topic that feeds it.
    pub topic: String,
    /// For a projection (a read model defined by SQL), its defining query.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projection: Option<String>,
    /// Events applied to it.
    pub applied: u64,
    /// Staleness: from a change's commit at the source to its commit in the read model,
    /// percentiles in milliseconds.
    pub staleness_ms: LatencySummary,
}

/// Rounds to three decimals, so reports stay readable and stable.
pub fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}
