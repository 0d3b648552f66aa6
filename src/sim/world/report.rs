//! The report of a run: per service and operation, per database, the timeline and the script.

use super::World;
use crate::sim::metrics::OperationMetrics;
use crate::sim::report::{
    round3, DatabaseReport, LinkReport, Report, ServiceReport, WorkloadReport,
};
use std::collections::BTreeMap;

impl World {
    /// The report of the run so far.
    pub fn report(&self) -> Report {
        let seconds = self.now as f64 / 1e6;
        let workload = |m: &OperationMetrics| WorkloadReport {
            operations: m.completed,
            errors: m.errors(),
            errors_by_kind: m
                .errors_by_kind
                .iter()
                .map(|(k, n)| (k.name().to_owned(), *n))
                .collect(),
            errors_by_sqlstate: m
                .errors_by_sqlstate
                .iter()
                .map(|(state, n)| (state.code().to_owned(), *n))
                .collect(),
            throughput_per_s: if seconds > 0.0 {
                round3(m.completed as f64 / seconds)
            } else {
                0.0
            },
            latency_ms: m.latency(),
            lock_wait_ms: round3(m.lock_wait_us as f64 / 1e3),
            found_nothing: m.found_nothing,
        };
        let services = self
            .services
            .iter()
            .enumerate()
            // The timeline's own client appears once it has run something.
            .filter(|(i, s)| {
                !(self.timeline_services.contains(i)
                    || self.console_services.iter().any(|(c, _)| c == i))
                    || s.operations
                        .iter()
                        .any(|o| o.metrics.completed + o.metrics.errors() > 0)
            })
            .map(|(_, s)| {
                let mut total = OperationMetrics::default();
                let mut by_operation = BTreeMap::new();
                for o in &s.operations {
                    total.merge(&o.metrics);
                    by_operation.insert(o.name.clone(), workload(&o.metrics));
                }
                (
                    s.name.clone(),
                    ServiceReport {
                        total: workload(&total),
                        by_operation,
                    },
                )
            })
            .collect();
        let databases = self
            .nodes
            .iter()
            .map(|n| {
                (
                    n.name.clone(),
                    DatabaseReport {
                        statements: n.counters.statements,
                        rows_read: n.counters.rows_read,
                        rows_written: n.counters.rows_written,
                        core_utilisation: round3(n.utilisation(self.now)),
                        max_core_queue: n.counters.max_queue,
                        change_log_length: n.db.stats().log_records,
                        deadlocks: n.locks.deadlocks(),
                    },
                )
            })
            .collect();
        let pipeline = self.pipeline_report();
        Report {
            scenario: self.scenario.name.clone(),
            seed: self.seed,
            simulated_ms: round3(self.now as f64 / 1e3),
            events: self.events,
            trace_hash: self.trace_hash(),
            services,
            databases,
            timeline: self.applied.clone(),
            script: self.script_report(),
            mode: self.scenario.mode.name().to_owned(),
            connectors: pipeline.connectors,
            topics: pipeline.topics,
            consumer_groups: pipeline.consumer_groups,
            read_models: pipeline.read_models,
            etl: self.etl_report(),
            network: self
                .network
                .stats()
                .into_iter()
                .filter(|l| l.crossings > 0)
                .map(|l| {
                    (
                        format!("{} ↔ {}", l.client, l.to),
                        LinkReport {
                            rtt_ms: round3(l.rtt as f64 / 1e3),
                            jitter_ms: round3(l.jitter as f64 / 1e3),
                            crossings: l.crossings,
                            mean_ms: round3(l.delay as f64 / l.crossings as f64 / 1e3),
                        },
                    )
                })
                .collect(),
        }
    }
}
