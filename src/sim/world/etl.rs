//! The `etl` mode's batch job: every `interval` it copies the tables the analytics services
//! read from the operational database into the analytics database — extract, then load — as a
//! nightly (here: every few seconds) ETL job does.
//!
//! The extract is a reader like any other on the source: one transaction of `SELECT`s, one per
//! table, run through the SQL client state machine on the source's node, paying its cost and
//! taking the locks its isolation level takes (under a snapshot level the tables are copied as
//! of one instant; under read committed each `SELECT` sees the commits made before it). The load
//! is one transaction on the analytics node: a table copied whole is emptied and filled again;
//! a table copied incrementally by a column whose values only grow gets the rows above the
//! highest value copied so far — and so never sees an update to a row it already copied.
//! Analytics readers see a copy's rows once its load commits.
//!
//! Staleness is what the textbooks call it for a batch copy: now − the start of the last
//! successful copy. Everything committed before that start is in the copy (and possibly some
//! commits made while the extract waited for locks or a core), so it bounds how old the copy's
//! oldest missing change can be. It is sampled every [`super::pipeline::LAG_SAMPLE_EVERY`].

use super::{Event, NarrationKind, World};
use crate::sim::clock::{format_micros, Micros};
use crate::sim::database::{Cell, CellKind, Outcome};
use crate::sim::metrics::{Distribution, LatencySummary};
use crate::sim::modes::EtlSpec;
use crate::sim::service::Notify;
use serde::{Deserialize, Serialize};

/// The job's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EtlEvent {
    /// The interval is over: a run starts (unless one is still going).
    Start,
    /// The staleness is sampled.
    Sample,
}

/// What the job is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EtlPhase {
    /// Waiting for its next run.
    Idle,
    /// Reading the tables on the source.
    Extracting,
    /// Writing the copy into the analytics database.
    Loading,
}

impl EtlPhase {
    /// The phase's name, for the page.
    pub fn name(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Extracting => "extracting",
            Self::Loading => "loading",
        }
    }
}

/// One copied table.
#[derive(Clone)]
pub(super) struct EtlTable {
    name: String,
    /// For an incremental copy: the column, and the highest value copied so far as an SQL
    /// literal (`None`: nothing copied yet).
    incremental: Option<(String, Option<String>)>,
    /// The new highest value, once the running copy's load commits.
    pending_high: Option<String>,
    /// Rows the running copy loads, counted once its load commits.
    pending_rows: u64,
    rows_copied: u64,
}

/// The batch job.
#[derive(Clone)]
pub(super) struct EtlJob {
    spec: EtlSpec,
    /// The source's node and the analytics node.
    pub source: usize,
    pub target: usize,
    tables: Vec<EtlTable>,
    /// The internal clients that run the extract (on the source) and the load (on the target).
    extract_service: usize,
    load_service: usize,
    pub phase: EtlPhase,
    /// The number of the current (or last) run.
    run: u64,
    run_started: Micros,
    /// The start of the last successful copy (the copy made before the run began counts).
    pub last_success: Micros,
    /// When the next run is due.
    pub next_run: Micros,
    pub runs: u64,
    pub failed_runs: u64,
    /// Runs that fell due while the previous one was still going (skipped).
    pub overruns: u64,
    pub rows_copied: u64,
    /// Rows the current (or last) run copied.
    last_rows: u64,
    /// Core time the extracts took on the source, and the loads on the analytics database.
    pub extract_core: Micros,
    pub load_core: Micros,
    /// How long the last successful run took, extract to load commit.
    pub last_duration: Option<Micros>,
    pub last_error: Option<String>,
    staleness: Distribution,
}

impl EtlJob {
    /// A job copying `tables` from node `source` to node `target`, whose analytics copy was
    /// made from `source_db` at time 0; `extract_service` and `load_service` run its SQL.
    pub(super) fn new(
        spec: &EtlSpec,
        (source, target): (usize, usize),
        tables: &[String],
        source_db: &crate::sim::database::Database,
        (extract_service, load_service): (usize, usize),
    ) -> Self {
        let tables = tables
            .iter()
            .map(|name| EtlTable {
                name: name.clone(),
                incremental: spec
                    .incremental
                    .get(name)
                    .map(|column| (column.clone(), highest_committed(source_db, name, column))),
                pending_high: None,
                pending_rows: 0,
                rows_copied: 0,
            })
            .collect();
        Self {
            spec: spec.clone(),
            source,
            target,
            tables,
            extract_service,
            load_service,
            phase: EtlPhase::Idle,
            run: 0,
            run_started: 0,
            last_success: 0,
            next_run: spec.interval.micros().max(1),
            runs: 0,
            failed_runs: 0,
            overruns: 0,
            rows_copied: 0,
            last_rows: 0,
            extract_core: 0,
            load_core: 0,
            last_duration: None,
            last_error: None,
            staleness: Distribution::default(),
        }
    }

    /// The extract: one `SELECT` per table (the rows above the highest value copied, for an
    /// incremental one).
    fn extract_sql(&self) -> Vec<String> {
        self.tables
            .iter()
            .map(|t| match &t.incremental {
                Some((column, Some(high))) => {
                    format!("SELECT * FROM {} WHERE {column} > {high}", t.name)
                }
                _ => format!("SELECT * FROM {}", t.name),
            })
            .collect()
    }

    /// The load of the extracted `results` (one per table, in order): per table its
    /// statements, and the rows copied; sets each incremental table's pending highest value.
    fn load_sql(&mut self, results: &[Outcome]) -> (Vec<String>, Vec<u64>) {
        let mut statements = Vec::new();
        let mut counts = Vec::new();
        for (table, result) in self.tables.iter_mut().zip(results) {
            let Outcome::Rows { columns, rows } = result else {
                counts.push(0);
                continue;
            };
            match &table.incremental {
                Some((column, high)) => {
                    // Rows above the old high value are new: a run that failed after loading
                    // them cannot leave them twice. With no high value yet (an empty table, a
                    // column of NULLs) the copy is made whole again.
                    match high {
                        Some(high) => statements.push(format!(
                            "DELETE FROM {} WHERE {column} > {high}",
                            table.name
                        )),
                        None => statements.push(format!("DELETE FROM {}", table.name)),
                    }
                    let position = columns.iter().position(|c| c == column);
                    table.pending_high = position
                        .and_then(|p| {
                            rows.iter()
                                .filter_map(|r| r.get(p))
                                .filter(|c| c.kind != CellKind::Null)
                                .max_by(|a, b| compare_cells(a, b))
                        })
                        .map(Cell::sql_literal)
                        .or_else(|| high.clone());
                }
                None => statements.push(format!("DELETE FROM {}", table.name)),
            }
            let names = columns.join(", ");
            for chunk in rows.chunks(self.spec.chunk_rows.max(1)) {
                let tuples: Vec<String> = chunk
                    .iter()
                    .map(|row| {
                        let values: Vec<String> = row.iter().map(Cell::sql_literal).collect();
                        format!("({})", values.join(", "))
                    })
                    .collect();
                statements.push(format!(
                    "INSERT INTO {} ({names}) VALUES {}",
                    table.name,
                    tuples.join(", ")
                ));
            }
            table.pending_rows = rows.len() as u64;
            counts.push(rows.len() as u64);
        }
        (statements, counts)
    }
}

/// The highest committed value of `column` in `table`, as an SQL literal.
fn highest_committed(
    db: &crate::sim::database::Database,
    table: &str,
    column: &str,
) -> Option<String> {
    let (columns, rows) = db.committed_rows(table).ok()?;
    let position = columns.iter().position(|c| c == column)?;
    let cells: Vec<Cell> = rows
        .iter()
        .filter_map(|r| r.get(position))
        .map(Cell::from_value)
        .filter(|c| c.kind != CellKind::Null)
        .collect();
    cells
        .iter()
        .max_by(|a, b| compare_cells(a, b))
        .map(Cell::sql_literal)
}

/// Orders two values of one column: numbers as numbers, the rest (text, timestamps in ISO
/// form) as text.
fn compare_cells(a: &Cell, b: &Cell) -> std::cmp::Ordering {
    match (a.text.parse::<f64>(), b.text.parse::<f64>()) {
        (Ok(x), Ok(y)) if a.kind == CellKind::Number => x.total_cmp(&y),
        _ => a.text.cmp(&b.text),
    }
}

/// The job as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EtlSnapshot {
    /// The operational database it copies from.
    pub source: String,
    /// The analytics database.
    pub target: String,
    /// What it is doing.
    pub phase: EtlPhase,
    /// Its interval, in milliseconds.
    pub interval_ms: f64,
    /// The copied tables, each with how it is copied (`"whole"` or `"incremental by id"`).
    pub tables: Vec<(String, String)>,
    /// Now − the start of the last successful copy, in milliseconds.
    pub staleness_ms: f64,
    /// When the next run is due, in milliseconds of simulated time.
    pub next_run_ms: f64,
    /// Runs that committed.
    pub runs: u64,
    /// Runs that failed.
    pub failed_runs: u64,
    /// Runs skipped because the previous one was still going.
    pub overruns: u64,
    /// Rows copied, all runs.
    pub rows_copied: u64,
    /// Core time the extracts took on the source, in milliseconds.
    pub extract_core_ms: f64,
    /// How long the last successful run took, in milliseconds.
    pub last_duration_ms: Option<f64>,
    /// The last run's failure, if the last run failed.
    pub last_error: Option<String>,
}

impl EtlSnapshot {
    /// Whether the copy is overdue: older than one and a half intervals (a run failed, or runs
    /// take longer than the interval).
    pub fn overdue(&self) -> bool {
        self.staleness_ms > 1.5 * self.interval_ms
    }
}

/// The job in the JSON report (`etl`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EtlReport {
    /// The operational database it copies from.
    pub source: String,
    /// The analytics database it loads.
    pub target: String,
    /// Its interval, in milliseconds.
    pub interval_ms: f64,
    /// Per copied table: how (`"whole"` or `"incremental by <column>"`) and rows copied.
    pub tables: std::collections::BTreeMap<String, EtlTableReport>,
    /// Runs that committed.
    pub runs: u64,
    /// Runs that failed.
    pub failed_runs: u64,
    /// Runs skipped because the previous one was still going.
    pub overruns: u64,
    /// Rows copied, all runs.
    pub rows_copied: u64,
    /// Core time the extracts took on the source, in milliseconds: the load the job adds there.
    pub extract_core_ms: f64,
    /// Core time the loads took on the analytics database, in milliseconds.
    pub load_core_ms: f64,
    /// The analytics copy's staleness (now − start of the last successful copy), sampled every
    /// 97 ms, in milliseconds.
    pub staleness_ms: LatencySummary,
}

/// One copied table in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EtlTableReport {
    /// `"whole"` or `"incremental by <column>"`.
    pub copy: String,
    /// Rows copied, all runs.
    pub rows_copied: u64,
}

impl EtlTable {
    fn how(&self) -> String {
        match &self.incremental {
            Some((column, _)) => format!("incremental by {column}"),
            None => "whole".to_owned(),
        }
    }
}

impl World {
    /// Schedules the job's first run and staleness sample.
    pub(super) fn start_etl(&mut self) {
        let Some(job) = &self.etl else { return };
        let first = job.next_run;
        self.queue.schedule(first, Event::Etl(EtlEvent::Start));
        self.queue.schedule(0, Event::Etl(EtlEvent::Sample));
    }

    /// Handles a job event.
    pub(super) fn handle_etl(&mut self, event: EtlEvent) {
        match event {
            EtlEvent::Start => {
                let interval = self
                    .etl
                    .as_ref()
                    .map_or(1, |j| j.spec.interval.micros().max(1));
                if let Some(job) = self.etl.as_mut() {
                    job.next_run = self.now + interval;
                }
                self.queue
                    .schedule(self.now + interval, Event::Etl(EtlEvent::Start));
                self.record(super::Traced::EtlStart, &[]);
                if !self.start_etl_run() {
                    if let Some(job) = self.etl.as_mut() {
                        job.overruns += 1;
                    }
                }
            }
            EtlEvent::Sample => {
                let now = self.now;
                if let Some(job) = self.etl.as_mut() {
                    job.staleness.record(now.saturating_sub(job.last_success));
                }
                self.queue.schedule(
                    now + super::pipeline::LAG_SAMPLE_EVERY,
                    Event::Etl(EtlEvent::Sample),
                );
            }
        }
    }

    /// Starts a run now, unless one is going. Returns whether it started.
    pub(super) fn start_etl_run(&mut self) -> bool {
        let now = self.now;
        let Some(job) = self.etl.as_mut() else {
            return false;
        };
        if job.phase != EtlPhase::Idle {
            return false;
        }
        job.run += 1;
        job.run_started = now;
        job.phase = EtlPhase::Extracting;
        let (service, run, sql) = (job.extract_service, job.run, job.extract_sql());
        self.start_operation(service, 0, sql, None, Some(Notify::EtlExtract { run }));
        true
    }

    /// The extract of run `run` ended: on success the load starts.
    pub(super) fn etl_extract_done(
        &mut self,
        run: u64,
        ok: bool,
        results: Vec<Outcome>,
        core: Micros,
    ) {
        let Some(job) = self.etl.as_mut().filter(|j| j.run == run) else {
            return;
        };
        job.extract_core += core;
        if !ok {
            self.etl_failed(EtlPhase::Extracting);
            return;
        }
        let (statements, counts) = job.load_sql(&results);
        job.last_rows = counts.iter().sum::<u64>();
        job.phase = EtlPhase::Loading;
        let service = job.load_service;
        self.start_operation(service, 0, statements, None, Some(Notify::EtlLoad { run }));
    }

    /// The load of run `run` ended: on success the copy is the analytics database's.
    pub(super) fn etl_load_done(&mut self, run: u64, ok: bool, core: Micros) {
        let now = self.now;
        let Some(job) = self.etl.as_mut().filter(|j| j.run == run) else {
            return;
        };
        job.load_core += core;
        if !ok {
            self.etl_failed(EtlPhase::Loading);
            return;
        }
        job.phase = EtlPhase::Idle;
        job.runs += 1;
        job.last_success = job.run_started;
        job.last_duration = Some(now - job.run_started);
        job.rows_copied += job.last_rows;
        job.last_error = None;
        for table in &mut job.tables {
            table.rows_copied += std::mem::take(&mut table.pending_rows);
            if let Some((_, high)) = &mut table.incremental {
                if let Some(new) = table.pending_high.take() {
                    *high = Some(new);
                }
            }
        }
        let text = format!(
            "The ETL job's run {run} committed: {} rows copied into {} in {}; its readers now see \
             the data as it was at {}",
            job.last_rows,
            self.nodes[job.target].name,
            format_micros(now - job.run_started),
            format_micros(job.run_started)
        );
        self.narrate(NarrationKind::Action, text, None, 0);
    }

    /// A run failed in `phase`: the analytics copy stays as it was, the next run starts over.
    fn etl_failed(&mut self, phase: EtlPhase) {
        let Some(job) = self.etl.as_mut() else { return };
        job.phase = EtlPhase::Idle;
        job.failed_runs += 1;
        for table in &mut job.tables {
            table.pending_high = None;
            table.pending_rows = 0;
        }
        let (service, what) = match phase {
            EtlPhase::Extracting => (job.extract_service, "its extract failed"),
            _ => (job.load_service, "its load failed"),
        };
        let error = self.services[service].operations[0]
            .last_error
            .as_ref()
            .map(|(_, _, message, _)| message.clone())
            .unwrap_or_default();
        let text = format!(
            "The ETL job's run failed: {what} ({error}); the analytics copy stays as it was"
        );
        if let Some(job) = self.etl.as_mut() {
            job.last_error = Some(error);
        }
        self.narrate(NarrationKind::Error, text, None, 0);
    }

    /// The job as the page shows it (`etl` mode).
    pub fn etl_snapshot(&self) -> Option<EtlSnapshot> {
        let job = self.etl.as_ref()?;
        Some(EtlSnapshot {
            source: self.nodes[job.source].name.clone(),
            target: self.nodes[job.target].name.clone(),
            phase: job.phase,
            interval_ms: job.spec.interval.micros() as f64 / 1e3,
            tables: job
                .tables
                .iter()
                .map(|t| (t.name.clone(), t.how()))
                .collect(),
            staleness_ms: self.now.saturating_sub(job.last_success) as f64 / 1e3,
            next_run_ms: job.next_run as f64 / 1e3,
            runs: job.runs,
            failed_runs: job.failed_runs,
            overruns: job.overruns,
            rows_copied: job.rows_copied,
            extract_core_ms: job.extract_core as f64 / 1e3,
            last_duration_ms: job.last_duration.map(|d| d as f64 / 1e3),
            last_error: job.last_error.clone(),
        })
    }

    /// The job in the JSON report.
    pub(super) fn etl_report(&self) -> Option<EtlReport> {
        let job = self.etl.as_ref()?;
        let ms = |us: Micros| crate::sim::report::round3(us as f64 / 1e3);
        Some(EtlReport {
            source: self.nodes[job.source].name.clone(),
            target: self.nodes[job.target].name.clone(),
            interval_ms: ms(job.spec.interval.micros()),
            tables: job
                .tables
                .iter()
                .map(|t| {
                    (
                        t.name.clone(),
                        EtlTableReport {
                            copy: t.how(),
                            rows_copied: t.rows_copied,
                        },
                    )
                })
                .collect(),
            runs: job.runs,
            failed_runs: job.failed_runs,
            overruns: job.overruns,
            rows_copied: job.rows_copied,
            extract_core_ms: ms(job.extract_core),
            load_core_ms: ms(job.load_core),
            staleness_ms: job.staleness.as_latency(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(text: &str, kind: CellKind) -> Cell {
        Cell {
            text: text.to_owned(),
            kind,
        }
    }

    #[test]
    fn numbers_compare_as_numbers_and_text_as_text() {
        let (nine, ten) = (cell("9", CellKind::Number), cell("10", CellKind::Number));
        assert_eq!(compare_cells(&nine, &ten), std::cmp::Ordering::Less);
        let (a, b) = (
            cell("2026-01-09 00:00:00", CellKind::Text),
            cell("2026-01-10 00:00:00", CellKind::Text),
        );
        assert_eq!(compare_cells(&a, &b), std::cmp::Ordering::Less);
    }
}
