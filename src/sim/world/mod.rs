//! The world: every database node and service of a scenario, moved forward event by event.
//!
//! A discrete-event simulation: the clock jumps from one event to the next (an arrival, a
//! statement finishing, a timeline action), and every statement is real SQL executed by GlueSQL
//! on our storage, costed by what it really did. The front API is small: [`World::new`],
//! [`World::step_until`], [`World::apply`], [`World::snapshot`], [`World::report`]. The same
//! scenario and seed always give the same trace (hashed into [`Report::trace_hash`]).

mod build;
mod client;
mod commands;
mod connector_actor;
mod console_session;
mod consumer_actor;
mod coupling;
mod etl;
mod expectations;
mod invariants;
mod memory;
mod narration;
mod nodes;
mod outbox_relay;
mod pipeline;
mod pipeline_view;
mod report;
mod snapshot;
mod trace;
mod workload;

use client::ClientEvent;
use commands::TimelineEvent;
pub use consumer_actor::ConsumerState;
pub use coupling::LivePreview;
use etl::{EtlEvent, EtlJob};
pub use etl::{EtlPhase, EtlReport, EtlSnapshot, EtlTableReport};
pub use invariants::{Failing, FailingPart, InvariantReport, ReadModelCheck, Verdict};
pub use memory::{MemoryPart, MemoryPartKind};
use pipeline::{Pipeline, PipelineEvent};
pub use pipeline_view::{
    ConnectorSnapshot, GroupSnapshot, PartitionSnapshot, PipelineSnapshot, ProjectionSnapshot,
    ReadModelSnapshot, RegistrySnapshot, TopicSnapshot, LAG_HISTORY,
};
use trace::Traced;
use workload::WorkloadEvent;

pub use crate::sim::params::tables_used;
pub use commands::{Command, CommandError};
pub use console_session::{ConsoleEntry, ConsoleStatus, CONSOLE_KEPT};
pub use narration::{
    LockEvent, LockEventKind, NarrationKind, NarrationLine, LOCK_EVENTS_KEPT, NARRATION_KEPT,
};
pub use snapshot::{
    DatabaseSnapshot, LockLine, LockView, OperationSnapshot, ServiceSnapshot, WindowSummary,
    WorldSnapshot,
};

use crate::sim::clock::{format_micros, Micros};
use crate::sim::database::Database;
use crate::sim::locks::Owner;
use crate::sim::node::DatabaseNode;
use crate::sim::owners::OwnerRegistry;
use crate::sim::params::KeyRange;
use crate::sim::queue::EventQueue;
use crate::sim::report::AppliedAction;
use crate::sim::scenario::Scenario;
use crate::sim::service::{InFlight, Service};
use fnv::FnvHasher;
use std::collections::BTreeMap;
use std::hash::Hasher;

/// Something scheduled to happen, namespaced by the actor whose module handles it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    /// A service's workload: its operations' arrivals (`workload.rs`).
    Workload(WorkloadEvent),
    /// The SQL client state machine: statements ending, retries, lock timeouts (`client.rs`).
    Client(ClientEvent),
    /// The scenario's timeline: an action falls due (`commands.rs`).
    Timeline(TimelineEvent),
    /// The CDC pipeline: connectors and consumers polling (`pipeline.rs`).
    Pipeline(PipelineEvent),
    /// The ETL batch job (`etl.rs`).
    Etl(EtlEvent),
}

/// A running simulation.
pub struct World {
    scenario: Scenario,
    seed: u64,
    now: Micros,
    queue: EventQueue<Event>,
    nodes: Vec<DatabaseNode>,
    services: Vec<Service>,
    in_flight: BTreeMap<u64, InFlight>,
    next_op: u64,
    /// Who each lock owner (transaction) is: the one place owners are handed out, so that
    /// every lock wake-up reaches the actor that waits.
    owners: OwnerRegistry,
    keys: BTreeMap<String, KeyRange>,
    /// The FNV-1a state of the trace so far (a plain number, so that a world can be cloned).
    trace: u64,
    events: u64,
    applied: Vec<AppliedAction>,
    recorded: Option<Vec<RecordedStatement>>,
    script: Option<(usize, crate::sim::script::ScriptRunner)>,
    /// Per database node, the index of the service that runs timeline SQL.
    timeline_services: Vec<usize>,
    /// Per database node, the index of the service that runs console SQL, and its lock owner
    /// (one session: its transaction outlives each command).
    console_services: Vec<(usize, Owner)>,
    console: std::collections::VecDeque<ConsoleEntry>,
    next_console_entry: u64,
    /// Whether statements take locks (off only to measure what locking costs).
    locking: bool,
    /// Whether the script waits for [`Command::ScriptStep`]s instead of playing at once.
    script_manual: bool,
    lock_events: std::collections::VecDeque<LockEvent>,
    /// Who each waiting transaction waits for, to name them when the wait ends.
    blocked_by: BTreeMap<Owner, Vec<String>>,
    narration: std::collections::VecDeque<NarrationLine>,
    /// The `cdc` mode's pipeline: connectors, topics, consumers.
    pipeline: Option<Pipeline>,
    /// The `etl` mode's batch job.
    etl: Option<EtlJob>,
    /// The links every statement and message crosses.
    network: crate::sim::network::Network,
    /// Per node, in the `cdc` mode: the tables it owns and its read models.
    node_tables: Vec<(Vec<String>, Vec<String>)>,
    /// Per node, the scenario database it is made from.
    node_specs: Vec<String>,
    /// What each phase of the run did, for expectations over phases.
    phase_windows: Vec<expectations::PhaseWindow>,
}

impl Clone for World {
    /// A copy sharing nothing with this world: the same as [`World::fork`] (each engine copied
    /// once, every connection of the copy on the copy of its engine).
    fn clone(&self) -> Self {
        crate::sim::fork::scope(|| Self {
            scenario: self.scenario.clone(),
            seed: self.seed,
            now: self.now,
            queue: self.queue.clone(),
            nodes: self.nodes.clone(),
            services: self.services.clone(),
            in_flight: self.in_flight.clone(),
            next_op: self.next_op,
            owners: self.owners.clone(),
            keys: self.keys.clone(),
            trace: self.trace,
            events: self.events,
            applied: self.applied.clone(),
            recorded: self.recorded.clone(),
            script: self.script.clone(),
            timeline_services: self.timeline_services.clone(),
            console_services: self.console_services.clone(),
            console: self.console.clone(),
            next_console_entry: self.next_console_entry,
            locking: self.locking,
            script_manual: self.script_manual,
            lock_events: self.lock_events.clone(),
            blocked_by: self.blocked_by.clone(),
            narration: self.narration.clone(),
            pipeline: self.pipeline.clone(),
            etl: self.etl.clone(),
            network: self.network.clone(),
            node_tables: self.node_tables.clone(),
            node_specs: self.node_specs.clone(),
            phase_windows: self.phase_windows.clone(),
        })
    }
}

/// A statement the simulation executed, for replaying the same work without it (benchmarks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedStatement {
    /// The database node's index.
    pub node: usize,
    /// The connection: (service index, pool slot); `None` for timeline SQL.
    pub connection: Option<(usize, usize)>,
    /// The SQL.
    pub sql: String,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("scenario", &self.scenario.name)
            .field("seed", &self.seed)
            .field("now", &self.now)
            .finish()
    }
}

impl World {
    /// Starts keeping every statement executed from now on (see [`Self::recorded_sql`]).
    pub fn record_sql(&mut self) {
        self.recorded.get_or_insert_with(Vec::new);
    }

    /// Turns locking off (or on again): statements then take no locks at all. Only for
    /// measuring the lock manager's cost; a run without locks is not a faithful database.
    pub fn set_locking(&mut self, on: bool) {
        self.locking = on;
    }

    /// The statements executed since [`Self::record_sql`], in order.
    pub fn recorded_sql(&self) -> &[RecordedStatement] {
        self.recorded.as_deref().unwrap_or_default()
    }

    /// The database called `name`, to query it or to replay statements on it.
    pub fn database_mut(&mut self, name: &str) -> Option<&mut Database> {
        self.nodes
            .iter_mut()
            .find(|n| n.name == name)
            .map(|n| &mut n.db)
    }

    /// The names of the databases, in scenario order.
    pub fn database_names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    fn keep_sql(&mut self, node: usize, connection: Option<(usize, usize)>, sql: &str) {
        if let Some(recorded) = self.recorded.as_mut() {
            recorded.push(RecordedStatement {
                node,
                connection,
                sql: sql.to_owned(),
            });
        }
    }

    /// A copy of the whole simulation as it is now — databases with their open transactions,
    /// locks, queues, topics, random streams — sharing nothing with this one: run on, it does
    /// exactly what this world would (a checkpoint, [`crate::sim::fork`]).
    pub fn fork(&self) -> World {
        crate::sim::fork::fork(self)
    }

    /// Throws this world away without the work a closing connection does for those who stay
    /// (rolling back, closing snapshots, pruning versions): for a copy nobody will run again.
    pub fn discard(self) {
        for node in &self.nodes {
            node.db.with_engine_mut(|engine| engine.discarded = true);
        }
    }

    /// The trace hash so far: the run's fingerprint, the same for the same scenario, seed,
    /// commands and time (see [`Report::trace_hash`]).
    pub fn trace_hash(&self) -> String {
        format!("{:016x}", self.trace)
    }

    /// Events handled so far (the simulator's unit of work).
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Simulated time now.
    pub fn now(&self) -> Micros {
        self.now
    }

    /// The scenario being run.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The seed of this run.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Lets the page step through the script: `step_until` no longer plays it to its end, and
    /// [`Command::ScriptStep`] issues its steps one at a time.
    pub fn set_script_manual(&mut self, manual: bool) {
        self.script_manual = manual;
    }

    /// Issues the script's next step (if its session is free). Returns whether one was issued.
    pub fn script_issue_next(&mut self) -> bool {
        let issued = match &mut self.script {
            Some((node, runner)) => runner.issue_next(&mut self.nodes[*node].locks),
            None => false,
        };
        self.settle_script();
        issued
    }

    /// The script step that would be issued next, and whether the script has ended.
    pub fn script_progress(&self) -> Option<(Option<usize>, bool)> {
        self.script
            .as_ref()
            .map(|(_, runner)| (runner.next_step(), runner.is_finished()))
    }

    /// The script's report so far, if the scenario has a script.
    pub fn script_report(&self) -> Option<crate::sim::script::ScriptReport> {
        self.script.as_ref().map(|(_, runner)| runner.report())
    }

    /// Processes every event up to and including `until`, then sets the clock to `until`. A
    /// script, if any, is played to its end first (its steps take no simulated time).
    pub fn step_until(&mut self, until: Micros) {
        if let Some((node, runner)) = self.script.as_mut().filter(|_| !self.script_manual) {
            if !runner.is_finished() {
                runner.run_to_end(&mut self.nodes[*node].locks);
                self.settle_script();
            }
        }
        while let Some((at, event)) = self.queue.pop_until(until) {
            self.now = at;
            self.handle(event);
        }
        self.now = self.now.max(until);
    }

    /// Processes the next event, if any; returns whether there was one.
    pub fn step(&mut self) -> bool {
        match self.queue.pop_until(Micros::MAX) {
            Some((at, event)) => {
                self.now = at;
                self.handle(event);
                true
            }
            None => false,
        }
    }

    /// The time of the next event, if any.
    pub fn next_event_time(&self) -> Option<Micros> {
        self.queue.peek_time()
    }

    /// Adds what just happened to the trace (whose hash the report carries) and counts it as
    /// an event handled.
    fn record(&mut self, traced: Traced, values: &[u64]) {
        self.events += 1;
        let mut trace = FnvHasher::with_key(self.trace);
        trace.write_u64(self.now);
        trace.write_u8(traced.code());
        for v in values {
            trace.write_u64(*v);
        }
        self.trace = trace.finish();
    }

    /// Hands an event to the module of the actor it belongs to.
    fn handle(&mut self, event: Event) {
        self.tell_time();
        match event {
            Event::Workload(event) => self.handle_workload(event),
            Event::Client(event) => self.handle_client(event),
            Event::Timeline(event) => self.handle_timeline(event),
            Event::Pipeline(event) => self.handle_pipeline(event),
            Event::Etl(event) => self.handle_etl(event),
        }
    }

    /// Tells every database what time it is, for the commit times in their change logs.
    fn tell_time(&self) {
        for node in &self.nodes {
            node.db.set_time(self.now);
        }
    }

    /// A short human summary of the clock: `"12.5s"`.
    pub fn clock_text(&self) -> String {
        format_micros(self.now)
    }
}
