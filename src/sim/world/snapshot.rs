//! What the world looks like now, for the page: services, databases, locks and the one-second
//! windows behind the live charts.

use super::World;
use crate::sim::clock::Micros;
use crate::sim::locks::Owner;
use crate::sim::owners::Actor;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a part of the world is doing now, for the page.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldSnapshot {
    /// Simulated time.
    pub now: Micros,
    /// Each service: name, connections in use, operations waiting for one, paused.
    pub services: Vec<ServiceSnapshot>,
    /// Each database: name, cores busy, cores, queue length.
    pub databases: Vec<DatabaseSnapshot>,
}

/// A service's state.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSnapshot {
    /// Its name.
    pub name: String,
    /// Connections in use.
    pub busy_connections: usize,
    /// Operations waiting for a connection.
    pub waiting: usize,
    /// Whether it is paused.
    pub paused: bool,
    /// Completed and failed operations so far.
    pub completed: u64,
    /// Failed operations so far.
    pub errors: u64,
    /// Connections in its pool.
    pub pool_size: usize,
    /// Operations waiting for a lock now.
    pub lock_waits: usize,
    /// The database it connects to.
    pub database: String,
    /// Whether it is one of the simulation's own clients (timeline, console, pipeline).
    pub internal: bool,
    /// Whether it is a pipeline's client (a CDC consumer or connector, the ETL job): its work
    /// is drawn as the pipeline, not as a service.
    pub pipeline: bool,
    /// The round-trip time of its link to its database.
    pub rtt: Micros,
    /// Its operations.
    pub operations: Vec<OperationSnapshot>,
}

/// An operation's state.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationSnapshot {
    /// Its name.
    pub name: String,
    /// Arrivals per second.
    pub rate_per_s: f64,
    /// Whether arrivals happen.
    pub enabled: bool,
    /// Tables it reads.
    pub reads: Vec<String>,
    /// Tables it writes.
    pub writes: Vec<String>,
    /// The schema error it keeps failing with (message, statement), if its last outcome was one.
    pub broken: Option<(String, String)>,
    /// The tables that schema error concerns (empty when it is not broken).
    pub broken_tables: Vec<String>,
}

/// One line of the lock view: a lock held or a request waiting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockLine {
    /// The table or row.
    pub resource: String,
    /// The mode (`ACCESS SHARE`, `FOR UPDATE`, …).
    pub mode: String,
    /// Who: the service and operation number, or `script`.
    pub who: String,
    /// The statement that holds or waits.
    pub statement: Option<String>,
    /// Since when (simulated µs).
    pub since: Micros,
}

/// A database's locks at one moment, for the page's locks panel.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LockView {
    /// Locks held.
    pub held: Vec<LockLine>,
    /// Requests waiting, in queue order per resource.
    pub waiting: Vec<LockLine>,
    /// Who waits for whom.
    pub waits_for: Vec<(String, String)>,
    /// Who blocks others without waiting, with how many wait behind it, most first.
    pub root_blockers: Vec<(String, usize)>,
    /// Deadlocks so far.
    pub deadlocks: u64,
    /// The last deadlock: when, and who waited for whom in its cycle (the victim first).
    pub last_deadlock: Option<(Micros, Vec<String>)>,
}

/// One second of a service's life.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSummary {
    /// Which second of the run.
    pub second: u64,
    /// Operations completed in it.
    pub completed: u64,
    /// Operations failed in it.
    pub errors: u64,
    /// Latency percentiles of the operations completed in it.
    pub latency_ms: crate::sim::metrics::LatencySummary,
}

/// A database's state.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseSnapshot {
    /// Its name.
    pub name: String,
    /// Statements executing.
    pub busy_cores: u32,
    /// Cores.
    pub cores: u32,
    /// Operations waiting for a core.
    pub queued: usize,
    /// Its isolation level.
    pub isolation: crate::sim::lock_plan::Isolation,
    /// The scenario database it is made from (itself, but in the `cdc` mode, where each
    /// service's database is made from the shared one): where its settings live.
    pub spec: String,
    /// Serializable snapshot isolation's state (SIREAD locks, conflicts, aborts).
    pub ssi: crate::sim::ssi::SsiSummary,
}

impl World {
    /// What every service and database is doing now.
    pub fn snapshot(&self) -> WorldSnapshot {
        let mut lock_waits = vec![0; self.services.len()];
        for op in self.in_flight.values() {
            if op.waiting_lock.is_some() {
                lock_waits[op.service] += 1;
            }
        }
        WorldSnapshot {
            now: self.now,
            services: self
                .services
                .iter()
                .enumerate()
                .map(|(index, s)| ServiceSnapshot {
                    name: s.name.clone(),
                    busy_connections: s.busy_connections(),
                    waiting: s.waiting.len(),
                    paused: s.paused,
                    completed: s.operations.iter().map(|o| o.metrics.completed).sum(),
                    errors: s.operations.iter().map(|o| o.metrics.errors()).sum(),
                    pool_size: s.pool.len(),
                    lock_waits: lock_waits[index],
                    database: self.nodes[s.node].name.clone(),
                    // Every client after the scenario's own services is the simulation's:
                    // timeline, console, CDC consumers.
                    internal: index >= self.scenario.services.len(),
                    // After the timeline's and the console's client of every node come the
                    // pipeline's clients.
                    pipeline: index >= self.scenario.services.len() + 2 * self.nodes.len(),
                    rtt: self.network.rtt(s.link),
                    operations: s
                        .operations
                        .iter()
                        .map(|o| OperationSnapshot {
                            name: o.name.clone(),
                            rate_per_s: o.rate_per_s,
                            enabled: o.enabled,
                            reads: o.reads.clone(),
                            writes: o.writes.clone(),
                            broken: o
                                .broken_by()
                                .map(|(_, _, message, sql)| (message.clone(), sql.clone())),
                            broken_tables: o
                                .broken_by()
                                .map(|_| o.broken_tables.clone())
                                .unwrap_or_default(),
                        })
                        .collect(),
                })
                .collect(),
            databases: self
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| DatabaseSnapshot {
                    name: n.name.clone(),
                    busy_cores: n.busy,
                    cores: n.cores,
                    queued: n.queue.len(),
                    isolation: n.isolation,
                    ssi: n.db.ssi_summary(),
                    spec: self
                        .node_specs
                        .get(i)
                        .cloned()
                        .unwrap_or_else(|| n.name.clone()),
                })
                .collect(),
        }
    }

    /// The kept one-second windows of `service`'s operations merged, oldest first: second,
    /// completed, errors and latency percentiles — the live charts' data.
    pub fn windows(&self, service: &str) -> Vec<WindowSummary> {
        let Some(s) = self.services.iter().find(|s| s.name == service) else {
            return Vec::new();
        };
        let mut seconds: BTreeMap<u64, (u64, u64, Vec<&crate::sim::metrics::Window>)> =
            BTreeMap::new();
        for operation in &s.operations {
            for window in operation.metrics.windows() {
                let entry = seconds.entry(window.second).or_default();
                entry.0 += window.completed;
                entry.1 += window.errors;
                entry.2.push(window);
            }
        }
        seconds
            .into_iter()
            .map(|(second, (completed, errors, windows))| WindowSummary {
                second,
                completed,
                errors,
                latency_ms: crate::sim::metrics::Window::merged_latency(&windows),
            })
            .collect()
    }

    /// A lock owner's name for people: `console`, a scripted session's name, or the service
    /// and in-flight number of an operation (`billing #12`).
    pub(super) fn who(&self, owner: Owner) -> String {
        match self.owners.actor(owner) {
            Some(Actor::Console { .. }) => "console".to_owned(),
            Some(Actor::Session(name)) => name.clone(),
            Some(Actor::Operation(id)) => match self.in_flight.get(id) {
                Some(op) => format!("{} #{id}", self.services[op.service].name),
                None => format!("transaction #{id}"),
            },
            None => format!("transaction {owner}"),
        }
    }

    /// The locks of database `name` now: held, waiting, waits-for edges, root blockers.
    pub fn locks(&self, name: &str) -> LockView {
        let Some(node) = self.nodes.iter().find(|n| n.name == name) else {
            return LockView::default();
        };
        let line = |resource: &crate::sim::locks::Resource,
                    mode: crate::sim::locks::LockMode,
                    owner: Owner,
                    statement: &Option<std::rc::Rc<str>>,
                    since: Micros| LockLine {
            resource: resource.to_string(),
            mode: mode.to_string(),
            who: self.who(owner),
            statement: statement.as_deref().map(str::to_owned),
            since,
        };
        LockView {
            held: node
                .locks
                .held()
                .iter()
                .map(|(r, h)| line(r, h.mode, h.owner, &h.statement, h.since))
                .collect(),
            waiting: node
                .locks
                .waiting()
                .iter()
                .map(|(r, w)| line(r, w.mode, w.owner, &w.statement, w.since))
                .collect(),
            waits_for: node
                .locks
                .waits_for()
                .into_iter()
                .map(|(a, b)| (self.who(a), self.who(b)))
                .collect(),
            root_blockers: node
                .locks
                .root_blockers()
                .into_iter()
                .map(|(o, n)| (self.who(o), n))
                .collect(),
            deadlocks: node.locks.deadlocks(),
            last_deadlock: node
                .locks
                .last_deadlock()
                .map(|(at, cycle)| (*at, cycle.iter().map(|o| self.who(*o)).collect())),
        }
    }
}
