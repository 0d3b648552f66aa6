//! Services' workloads: each operation's arrivals (a Poisson process at its rate, from its own
//! random stream) and the SQL each arrival runs, its parameters drawn and rendered.

use super::{Event, Traced, World};
use crate::sim::params::timestamp_text;
use std::collections::BTreeMap;

/// A workload's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WorkloadEvent {
    /// An operation arrives. `generation` is the operation's when it was scheduled: a rate
    /// change or a stop since then makes it stale.
    Arrival {
        service: usize,
        operation: usize,
        generation: u64,
    },
}

impl World {
    /// Handles a workload event.
    pub(super) fn handle_workload(&mut self, event: WorkloadEvent) {
        match event {
            WorkloadEvent::Arrival {
                service,
                operation,
                generation,
            } => {
                let op = &self.services[service].operations[operation];
                if op.generation != generation || !op.enabled {
                    return;
                }
                self.schedule_arrival(service, operation);
                self.record(Traced::Arrival, &[service as u64, operation as u64]);
                if !self.services[service].paused {
                    self.arrive(service, operation);
                }
            }
        }
    }

    /// Schedules the next arrival of operation `o` of service `s`, if it is running.
    pub(super) fn schedule_arrival(&mut self, s: usize, o: usize) {
        let op = &mut self.services[s].operations[o];
        if !op.enabled || op.rate_per_s <= 0.0 {
            return;
        }
        let gap = op.arrivals.exponential_gap(op.rate_per_s);
        let generation = op.generation;
        if let Some(at) = self.now.checked_add(gap) {
            self.queue.schedule(
                at,
                Event::Workload(WorkloadEvent::Arrival {
                    service: s,
                    operation: o,
                    generation,
                }),
            );
        }
    }

    /// An arrival of operation `o` of service `s`: draws its parameters, renders its SQL and
    /// starts it.
    fn arrive(&mut self, s: usize, o: usize) {
        let now = self.now;
        let service = &mut self.services[s];
        let operation = &mut service.operations[o];
        let mut values: BTreeMap<&str, String> = BTreeMap::new();
        values.insert("now", timestamp_text(now));
        values.insert("now_us", now.to_string());
        for (name, param) in &mut operation.params {
            values.insert(name.as_str(), param.draw(&mut self.keys));
        }
        let sql: Vec<String> = operation
            .statements
            .iter()
            .map(|t| crate::sim::params::render(t, &values))
            .collect();
        self.start_operation(s, o, sql, None, None);
    }
}
