//! Measuring a scenario's expectations ([`crate::sim::expectation`]) in the world: the numbers the
//! command line's `check` prints and the page's checkpoints show.
//!
//! Whole-run metrics come from what the world measures anyway (each operation's metrics, the
//! pipeline's report, the databases). A metric over a phase (`p99(orders) during report`) needs
//! its own tally: the world keeps one [`PhaseWindow`] per (service, operation, stretch) that an
//! expectation names, filled as operations complete, fail or wait for locks.

use super::World;
use crate::sim::clock::Micros;
use crate::sim::expectation::{
    Expectation, Measured, Metric, MetricKind, Quantile, Region, Status, Verdict,
};
use crate::sim::metrics::{LatencySummary, OperationMetrics};
use crate::sim::report::Report;
use std::cell::OnceCell;

/// What one service (or one of its operations) did during one stretch of the run.
#[derive(Debug, Clone)]
pub(super) struct PhaseWindow {
    service: usize,
    operation: Option<usize>,
    from: Micros,
    to: Micros,
    metrics: OperationMetrics,
}

/// The windows a scenario's expectations need, empty.
pub(super) fn phase_windows(
    scenario: &crate::sim::scenario::Scenario,
    services: &[crate::sim::service::Service],
) -> Vec<PhaseWindow> {
    let mut windows: Vec<PhaseWindow> = Vec::new();
    let duration = scenario.duration.micros();
    for spec in &scenario.expect {
        let Ok(expectation) = Expectation::parse(&spec.that) else {
            continue;
        };
        for metric in expectation.metrics() {
            if metric.region == Region::Whole || !metric.kind.by_phase() {
                continue;
            }
            let Some((from, to)) = metric.region.span(&scenario.phases, duration) else {
                continue;
            };
            let Some((service, operation)) = resolve(services, metric) else {
                continue;
            };
            let known = windows
                .iter()
                .any(|w| (w.service, w.operation, w.from, w.to) == (service, operation, from, to));
            if !known {
                windows.push(PhaseWindow {
                    service,
                    operation,
                    from,
                    to,
                    metrics: OperationMetrics::default(),
                });
            }
        }
    }
    windows
}

/// The service and operation indexes a metric's `service[.operation]` names.
fn resolve(
    services: &[crate::sim::service::Service],
    metric: &Metric,
) -> Option<(usize, Option<usize>)> {
    let (service, operation) = metric.target_parts();
    let s = services.iter().position(|s| s.name == service)?;
    let o = match operation {
        Some(name) => Some(services[s].operations.iter().position(|o| o.name == name)?),
        None => None,
    };
    Some((s, o))
}

fn quantile(summary: LatencySummary, q: Quantile) -> f64 {
    match q {
        Quantile::P50 => summary.p50,
        Quantile::P95 => summary.p95,
        Quantile::P99 => summary.p99,
        Quantile::Max => summary.max,
    }
}

impl World {
    /// Adds to the phase windows that cover `now` for this operation: `f` records into each.
    pub(super) fn record_in_phases(
        &mut self,
        service: usize,
        operation: usize,
        f: impl Fn(&mut OperationMetrics),
    ) {
        let now = self.now;
        for window in &mut self.phase_windows {
            if window.service == service
                && window.operation.is_none_or(|o| o == operation)
                && (window.from..window.to).contains(&now)
            {
                f(&mut window.metrics);
            }
        }
    }

    /// The scenario's expectations that apply in the mode this world runs in, each judged now:
    /// the page's checkpoints, the command line's `check`.
    pub fn checkpoints(&self) -> Vec<Verdict> {
        self.checkpoints_given(None)
    }

    /// [`Self::checkpoints`], reusing `invariants` when the caller has just checked them (the
    /// page checks them for its checker panel): comparing every read model with its source is
    /// the dearest measure, and would otherwise run twice.
    pub fn checkpoints_given(&self, invariants: Option<&super::InvariantReport>) -> Vec<Verdict> {
        let report = OnceCell::new();
        let checked = OnceCell::new();
        if let Some(given) = invariants {
            let _ = checked.set(given.clone());
        }
        let invariants = checked;
        let mode = self.scenario.mode;
        self.scenario
            .expect
            .iter()
            .filter(|spec| spec.modes.is_empty() || spec.modes.contains(&mode))
            .filter_map(|spec| {
                let expectation = Expectation::parse(&spec.that).ok()?;
                let mut verdict = expectation.judge(spec.says.clone(), |metric| {
                    self.measure_with(metric, &report, &invariants)
                });
                // A scripted lesson is judged when its script ends, whatever the clock says.
                if self.scenario.script.is_none() {
                    verdict.judged_at = expectation
                        .judged_at(&self.scenario.phases, self.scenario.duration.micros());
                }
                if matches!(verdict.status, Status::Pass | Status::Fail) {
                    verdict.settled_at = Some(self.now);
                }
                Some(verdict)
            })
            .collect()
    }

    /// Whether the scenario has an expectation (in this mode) about a read model's difference
    /// from its source, which the command line measures after draining the run.
    pub fn expects_diff(&self) -> bool {
        let mode = self.scenario.mode;
        self.scenario
            .expect
            .iter()
            .filter(|spec| spec.modes.is_empty() || spec.modes.contains(&mode))
            .filter_map(|spec| Expectation::parse(&spec.that).ok())
            .any(|e| e.metrics().iter().any(|m| m.kind == MetricKind::Diff))
    }

    /// One metric, now: see [`Measured`].
    pub fn measure(&self, metric: &Metric) -> Measured {
        self.measure_with(metric, &OnceCell::new(), &OnceCell::new())
    }

    fn measure_with(
        &self,
        metric: &Metric,
        report: &OnceCell<Report>,
        invariants: &OnceCell<super::InvariantReport>,
    ) -> Measured {
        let duration = self.scenario.duration.micros();
        // A scripted lesson is over when its script is, whatever the clock says.
        let at_end = self.now >= duration || self.script_progress().is_some_and(|(_, ended)| ended);
        let value = |value: f64, final_: bool| Measured::Value { value, final_ };
        let unavailable = |why: String| Measured::Unavailable(why);
        let report = || report.get_or_init(|| self.report());
        match metric.kind {
            MetricKind::Ops
            | MetricKind::FoundNothing
            | MetricKind::Errors(_)
            | MetricKind::Latency(_)
            | MetricKind::Throughput
            | MetricKind::LockWait
            | MetricKind::ExecTime => {
                let Some((service, operation)) = resolve(&self.services, metric) else {
                    return unavailable(format!("no service {}", metric.target));
                };
                let Some((from, to)) = metric.region.span(&self.scenario.phases, duration) else {
                    return unavailable(format!("no such phase for {}", metric.name));
                };
                if self.now < from {
                    return Measured::Pending(format!(
                        "{} starts at {}",
                        describe(&metric.region),
                        crate::sim::clock::format_micros(from)
                    ));
                }
                let mut merged = OperationMetrics::default();
                let metrics = if metric.region == Region::Whole {
                    let s = &self.services[service];
                    match operation {
                        Some(o) => &s.operations[o].metrics,
                        None => {
                            for o in &s.operations {
                                merged.merge(&o.metrics);
                            }
                            &merged
                        }
                    }
                } else {
                    match self.phase_windows.iter().find(|w| {
                        (w.service, w.operation, w.from, w.to) == (service, operation, from, to)
                    }) {
                        Some(window) => &window.metrics,
                        None => return unavailable(format!("{} is not tallied", metric.name)),
                    }
                };
                let final_ = self.now >= to;
                match metric.kind {
                    MetricKind::Ops => value(metrics.completed as f64, final_),
                    MetricKind::FoundNothing => value(metrics.found_nothing as f64, final_),
                    MetricKind::Errors(None) => value(metrics.errors() as f64, final_),
                    MetricKind::Errors(Some(kind)) => value(
                        metrics.errors_by_kind.get(&kind).copied().unwrap_or(0) as f64,
                        final_,
                    ),
                    MetricKind::LockWait => value(metrics.lock_wait_us as f64 / 1e3, final_),
                    MetricKind::ExecTime if metrics.completed == 0 => Measured::Pending(format!(
                        "no {} operation has completed {} yet",
                        metric.target,
                        describe(&metric.region)
                    )),
                    MetricKind::ExecTime => value(
                        metrics.exec_us as f64 / metrics.completed as f64 / 1e3,
                        final_,
                    ),
                    MetricKind::Throughput => {
                        let seconds = (self.now.min(to) - from) as f64 / 1e6;
                        if seconds <= 0.0 {
                            Measured::Pending(format!(
                                "{} has just begun",
                                describe(&metric.region)
                            ))
                        } else {
                            value(metrics.completed as f64 / seconds, final_)
                        }
                    }
                    MetricKind::Latency(_) if metrics.completed == 0 => {
                        let region = describe(&metric.region);
                        if final_ {
                            unavailable(format!(
                                "no {} operation completed {region}",
                                metric.target
                            ))
                        } else {
                            Measured::Pending(format!(
                                "no {} operation has completed {region} yet",
                                metric.target
                            ))
                        }
                    }
                    MetricKind::Latency(q) => value(quantile(metrics.latency(), q), final_),
                    _ => unavailable(String::new()),
                }
            }
            MetricKind::Duplicates | MetricKind::FailedBatches => {
                match report().consumer_groups.get(&metric.target) {
                    Some(group) if metric.kind == MetricKind::Duplicates => {
                        value(group.duplicates as f64, at_end)
                    }
                    Some(group) => value(group.failed_batches as f64, at_end),
                    None => unavailable(format!(
                        "no consumer group {} in {} mode",
                        metric.target,
                        self.scenario.mode.name()
                    )),
                }
            }
            MetricKind::Staleness(q) => {
                let (service, table) = metric.target_parts();
                match report()
                    .read_models
                    .get(service)
                    .and_then(|models| models.get(table.unwrap_or_default()))
                {
                    Some(model) => value(quantile(model.staleness_ms, q), at_end),
                    // In etl, an analytics service reads the batch job's copy: its staleness.
                    None if report().etl.is_some() => value(
                        quantile(
                            report()
                                .etl
                                .as_ref()
                                .map(|e| e.staleness_ms)
                                .unwrap_or_default(),
                            q,
                        ),
                        at_end,
                    ),
                    None => unavailable(format!(
                        "no read model {} in {} mode",
                        metric.target,
                        self.scenario.mode.name()
                    )),
                }
            }
            MetricKind::Lag | MetricKind::Missed | MetricKind::SourceCost => {
                match report().connectors.get(&metric.target) {
                    Some(connector) => value(
                        match metric.kind {
                            MetricKind::Lag => connector.lag_ms,
                            MetricKind::Missed => {
                                (connector.missed_changes + connector.missed_deletes) as f64
                            }
                            _ => connector.source_core_ms,
                        },
                        at_end,
                    ),
                    None => unavailable(format!(
                        "no connector {} in {} mode",
                        metric.target,
                        self.scenario.mode.name()
                    )),
                }
            }
            MetricKind::Diff => {
                let check = invariants.get_or_init(|| self.check_invariants());
                let (service, table) = metric.target_parts();
                let database = self
                    .services
                    .iter()
                    .find(|s| s.name == service)
                    .map(|s| self.nodes[s.node].name.clone())
                    .unwrap_or_default();
                let Some(model) = check
                    .read_models
                    .iter()
                    .find(|m| m.database == database && Some(m.table.as_str()) == table)
                else {
                    return unavailable(format!(
                        "no read model {} in {} mode",
                        metric.target,
                        self.scenario.mode.name()
                    ));
                };
                if !check.quiet {
                    return Measured::Pending("changes are still in flight".to_owned());
                }
                let d = &model.divergence;
                value((d.missing + d.extra + d.differing) as f64, at_end)
            }
            MetricKind::Deadlocks => match self.nodes.iter().find(|n| n.name == metric.target) {
                Some(node) => value(node.locks.deadlocks() as f64, at_end),
                None => unavailable(format!("no database {}", metric.target)),
            },
            MetricKind::Statements => match self.nodes.iter().find(|n| n.name == metric.target) {
                Some(node) => value(node.counters.statements as f64, at_end),
                None => unavailable(format!(
                    "no database {} in {} mode",
                    metric.target,
                    self.scenario.mode.name()
                )),
            },
            MetricKind::Query => {
                let Some(node) = self.nodes.iter().find(|n| n.name == metric.target) else {
                    return unavailable(format!("no database {}", metric.target));
                };
                let sql = metric.sql.as_deref().unwrap_or_default();
                match node.db.read_only_query(sql) {
                    Ok(result) => match first_number(&result) {
                        Some(number) => value(number, at_end),
                        None => unavailable("the query returned no number".to_owned()),
                    },
                    Err(error) => unavailable(format!("the query failed: {error}")),
                }
            }
            MetricKind::StepsFailed => {
                let Some(script) = self.script_report() else {
                    return unavailable("no script".to_owned());
                };
                let failed = script
                    .steps
                    .iter()
                    .filter(|s| s.outcome == "error")
                    .filter(|s| {
                        metric.target.is_empty()
                            || s.error_kind.as_deref() == Some(metric.target.as_str())
                    })
                    .count();
                let done = self.script_progress().is_some_and(|(_, finished)| finished);
                value(failed as f64, done || at_end)
            }
        }
    }
}

fn describe(region: &Region) -> String {
    match region {
        Region::Whole => "in the run".to_owned(),
        Region::Before(p) => format!("before {p}"),
        Region::During(p) => format!("during {p}"),
        Region::After(p) => format!("after {p}"),
    }
}

/// The first cell of a query's result as a number (NULL counts as 0: `SUM` of no rows).
fn first_number(result: &crate::sim::results::StatementResult) -> Option<f64> {
    use crate::sim::results::{CellKind, Outcome};
    let Outcome::Rows { rows, .. } = &result.outcome else {
        return None;
    };
    let cell = rows.first()?.first()?;
    match cell.kind {
        CellKind::Null => Some(0.0),
        _ => cell.text.parse::<f64>().ok(),
    }
}
