//! The world: every database node and service of a scenario, moved forward event by event.
//!
//! A discrete-event simulation: the clock jumps from one event to the next (an arrival, a
//! statement finishing, a timeline action), and every statement is real SQL executed by GlueSQL
//! on our storage, costed by what it really did. The front API is small: [`World::new`],
//! [`World::step_until`], [`World::apply`], [`World::snapshot`], [`World::report`]. The same
//! scenario and seed always give the same trace (hashed into [`Report::trace_hash`]).

use crate::sim::acquire::{Acquisition, Progress, Requester};
use crate::sim::clock::{format_micros, Micros, SECOND};
use crate::sim::database::{Connection, Database, DbError};
use crate::sim::lock_plan::{plan_locks, Isolation};
use crate::sim::locks::{Owner, Wakeup};
use crate::sim::metrics::{ErrorKind, OperationMetrics};
use crate::sim::node::DatabaseNode;
use crate::sim::params::{timestamp_text, KeyRange, Param};
use crate::sim::queue::EventQueue;
use crate::sim::report::{
    round3, AppliedAction, DatabaseReport, Report, ServiceReport, WorkloadReport,
};
use crate::sim::rng::SimRng;
use crate::sim::scenario::{ActionKind, Scenario, ScenarioError, TimelineEntry};
use crate::sim::service::{InFlight, Operation, Service};
use crate::sim::shop::{self, ShopSize};
use crate::sim::statement::Command as SqlCommand;
use crate::sim::storage::ReadMode;
use fnv::FnvHasher;
use gluesql::core::data::Key;
use gluesql::core::store::Store;
use std::collections::BTreeMap;
use std::hash::Hasher;
use std::rc::Rc;
use thiserror::Error;

/// Something the user (or the timeline) does to a running world.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum Command {
    /// Run SQL on a database now (a migration, a report by hand).
    RunSql {
        /// The database.
        database: String,
        /// The statements.
        sql: String,
    },
    /// Type SQL at a database's console, inside the simulation: statement by statement, in the
    /// console's own session, so a `BEGIN` stays open (holding its locks) until `COMMIT` or
    /// `ROLLBACK` in a later command.
    Console {
        /// The database.
        database: String,
        /// The statements.
        sql: String,
    },
    /// Issue the script's next step; when no step is left, end the script (every session still
    /// in a transaction is rolled back, as when clients disconnect).
    ScriptStep,
    /// Change an operation's arrival rate.
    SetRate {
        /// The service.
        service: String,
        /// The operation.
        operation: String,
        /// Arrivals per second (0 stops arrivals).
        rate_per_s: f64,
    },
    /// Start an operation's arrivals.
    StartOperation {
        /// The service.
        service: String,
        /// The operation.
        operation: String,
    },
    /// Stop an operation's arrivals.
    StopOperation {
        /// The service.
        service: String,
        /// The operation.
        operation: String,
    },
    /// Hold back a service's new operations.
    PauseService {
        /// The service.
        service: String,
    },
    /// Let a paused service go on.
    ResumeService {
        /// The service.
        service: String,
    },
}

impl Command {
    /// The command a (checked) timeline entry stands for.
    pub fn from_entry(entry: &TimelineEntry) -> Self {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let service = text(&entry.service);
        let operation = text(&entry.operation);
        match entry.action {
            ActionKind::Sql => Self::RunSql {
                database: text(&entry.database),
                sql: text(&entry.sql),
            },
            ActionKind::SetRate => Self::SetRate {
                service,
                operation,
                rate_per_s: entry.rate_per_s.unwrap_or(0.0),
            },
            ActionKind::StartOperation => Self::StartOperation { service, operation },
            ActionKind::StopOperation => Self::StopOperation { service, operation },
            ActionKind::PauseService => Self::PauseService { service },
            ActionKind::ResumeService => Self::ResumeService { service },
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::RunSql { database, sql } => format!("sql on {database}: {}", sql.trim()),
            Self::Console { database, sql } => format!("console on {database}: {}", sql.trim()),
            Self::ScriptStep => "script: next step".to_owned(),
            Self::SetRate {
                service,
                operation,
                rate_per_s,
            } => {
                format!("set {service}.{operation} to {rate_per_s}/s")
            }
            Self::StartOperation { service, operation } => format!("start {service}.{operation}"),
            Self::StopOperation { service, operation } => format!("stop {service}.{operation}"),
            Self::PauseService { service } => format!("pause {service}"),
            Self::ResumeService { service } => format!("resume {service}"),
        }
    }
}

/// Why a command could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    /// No database of that name.
    #[error("there is no database called \"{0}\"")]
    UnknownDatabase(String),
    /// No service of that name.
    #[error("there is no service called \"{0}\"")]
    UnknownService(String),
    /// No operation of that name in the service.
    #[error("{0} has no operation called \"{1}\"")]
    UnknownOperation(String, String),
    /// The scenario has no script to step through.
    #[error("this scenario has no script")]
    NoScript,
    /// A rate must be zero or positive.
    #[error("a rate must be zero or a positive number, got {0}")]
    BadRate(String),
    /// The SQL failed; the message is the database's.
    #[error("{0}")]
    Sql(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Arrival {
        service: usize,
        operation: usize,
        generation: u64,
    },
    Retry {
        op: u64,
    },
    StatementDone {
        op: u64,
    },
    /// A lock wait ends: after the connection's `lock_timeout` or `statement_timeout`, or at the
    /// operation's deadline, whichever comes first (`kind` says which).
    LockTimeout {
        op: u64,
        request: u64,
        kind: ErrorKind,
    },
    ThinkDone {
        op: u64,
    },
    Timeline {
        index: usize,
    },
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
    /// Which operation each lock owner (transaction) is.
    owners: BTreeMap<Owner, u64>,
    next_owner: Owner,
    keys: BTreeMap<String, KeyRange>,
    trace: FnvHasher,
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
}

/// How many console entries the world keeps.
pub const CONSOLE_KEPT: usize = 200;

/// Where a statement typed at the console stands.
#[derive(Debug, Clone, PartialEq)]
pub enum ConsoleStatus {
    /// Not started yet (an earlier statement is running).
    Queued,
    /// Taking its locks (waiting for one, or for a core).
    Running,
    /// Waiting for a lock held or wanted by these.
    WaitingForLock(Vec<String>),
    /// Done, with its result or the error's message.
    Done(Result<crate::sim::database::StatementResult, String>),
}

/// One statement typed at the simulation's console.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleEntry {
    /// Its number.
    pub id: u64,
    /// The database.
    pub database: String,
    /// The statement.
    pub sql: String,
    /// When it was typed.
    pub submitted: Micros,
    /// When it finished.
    pub finished: Option<Micros>,
    /// Where it stands.
    pub status: ConsoleStatus,
}

/// How many lines of narration the world keeps for the page's log of what happened.
pub const NARRATION_KEPT: usize = 500;

/// What kind of thing happened, for the narration's filter and icons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NarrationKind {
    /// A statement waited for a lock (and got it).
    LockWait,
    /// A deadlock was found and a victim aborted.
    Deadlock,
    /// An operation failed (timeout, lock timeout, conflict, SQL error).
    Error,
    /// An operation failed because its SQL names a table or column that is gone.
    SchemaBreak,
    /// A timeline action or a user's command, and its outcome.
    Action,
}

/// One line of the narration: "12.4 s — billing waited 340 ms for ROW EXCLUSIVE on orders, held
/// by reporting".
#[derive(Debug, Clone, PartialEq)]
pub struct NarrationLine {
    /// When it (first) happened.
    pub at: Micros,
    /// When it last happened (repeats within a second are counted, not listed).
    pub last_at: Micros,
    /// What kind.
    pub kind: NarrationKind,
    /// The sentence.
    pub text: String,
    /// The statement involved, if any.
    pub sql: Option<String>,
    /// How many times (1, or more for repeats).
    pub count: u64,
    /// For lock waits: the longest of them.
    pub longest_wait: Micros,
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
    /// Whether it is the hidden client that runs timeline and console SQL.
    pub internal: bool,
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
}

/// How many lock events the world keeps for the page's narration.
pub const LOCK_EVENTS_KEPT: usize = 1_000;

/// What happened to a lock request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockEventKind {
    /// Granted at once.
    Granted,
    /// Queued behind other transactions.
    Waited,
    /// Granted after waiting.
    GrantedAfterWait,
    /// Every lock of a transaction released (commit or abort).
    Released,
    /// Gave up after the service's `lock_timeout`.
    TimedOut,
    /// Aborted as a deadlock victim.
    Deadlock,
}

/// One lock event, for the page's narration ("billing waited 340 ms for ROW EXCLUSIVE on
/// orders, held by reporting").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockEvent {
    /// When (simulated µs).
    pub at: Micros,
    /// The database.
    pub database: String,
    /// What happened.
    pub kind: LockEventKind,
    /// Who asked: the service and operation number, or `script`.
    pub who: String,
    /// The table or row (empty for `Released` and `TimedOut`).
    pub resource: String,
    /// The mode (empty for `Released` and `TimedOut`).
    pub mode: String,
    /// Who it waited for (for `Waited`), or the cycle (for `Deadlock`).
    pub others: Vec<String>,
    /// How long it waited (for `GrantedAfterWait`).
    pub waited: Micros,
}

/// One line of the lock view: a lock held or a request waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
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
}

fn stream_of(service: usize, operation: usize, slot: usize) -> u64 {
    ((service as u64) << 40) | ((operation as u64) << 20) | slot as u64
}

impl World {
    /// Builds the world of `scenario` with the scenario's own seed.
    ///
    /// # Errors
    ///
    /// A [`ScenarioError`] when the setup SQL fails, a template uses a table that does not
    /// exist, or the pools ask for more connections than a database accepts.
    pub fn new(scenario: &Scenario) -> Result<Self, ScenarioError> {
        Self::with_seed(scenario, scenario.seed)
    }

    /// Builds the world of `scenario` with another seed.
    ///
    /// # Errors
    ///
    /// As [`World::new`].
    pub fn with_seed(scenario: &Scenario, seed: u64) -> Result<Self, ScenarioError> {
        let databases = Self::build_databases(scenario, seed)?;
        Self::with_databases(scenario, seed, databases)
    }

    /// The scenario's databases with their seeded data and setup SQL run: the expensive part
    /// of building a world, which [`crate::sim::playback::Playback`] keeps a copy of so that
    /// going back in time does not redo it.
    ///
    /// # Errors
    ///
    /// As [`World::new`].
    pub fn build_databases(scenario: &Scenario, seed: u64) -> Result<Vec<Database>, ScenarioError> {
        scenario.check()?;
        let error = |path: String, message: String| ScenarioError {
            line: None,
            column: None,
            path,
            message,
        };
        let mut databases = Vec::new();
        for (i, spec) in scenario.databases.iter().enumerate() {
            if !spec.cost.is_valid() {
                return Err(error(
                    format!("databases[{i}].cost"),
                    "must hold non-negative numbers".into(),
                ));
            }
            let mut db = Database::new(spec.name.clone());
            if let Some(size) = spec.shop {
                let size = ShopSize {
                    customers: size.customers,
                    orders: size.orders,
                    jobs: size.jobs,
                };
                shop::seed_shop(&mut db, seed, size)
                    .map_err(|e| error(format!("databases[{i}].shop"), e.to_string()))?;
            }
            for (k, sql) in spec.setup.iter().enumerate() {
                for result in db.run_script(sql, || 0.0) {
                    if let Err(e) = result.result {
                        return Err(error(
                            format!("databases[{i}].setup[{k}]"),
                            format!("failed: {e}"),
                        ));
                    }
                }
            }
            databases.push(db);
        }
        Ok(databases)
    }

    /// Builds the world of `scenario` with `seed` around `databases`, as
    /// [`World::build_databases`] made them (or copies of them).
    ///
    /// # Errors
    ///
    /// As [`World::new`].
    pub fn with_databases(
        scenario: &Scenario,
        seed: u64,
        databases: Vec<Database>,
    ) -> Result<Self, ScenarioError> {
        let error = |path: String, message: String| ScenarioError {
            line: None,
            column: None,
            path,
            message,
        };
        let mut nodes = Vec::new();
        for (spec, db) in scenario.databases.iter().zip(databases) {
            let mut node = DatabaseNode::new(
                spec.name.clone(),
                db,
                spec.cores,
                spec.max_connections,
                spec.cost,
            );
            node.isolation = spec.isolation;
            nodes.push(node);
        }

        let mut keys = BTreeMap::new();
        let mut services = Vec::new();
        for (s, spec) in scenario.services.iter().enumerate() {
            let node_index = nodes
                .iter()
                .position(|n| n.name == spec.database)
                .ok_or_else(|| {
                    error(
                        format!("services[{s}].database"),
                        "is not a database".into(),
                    )
                })?;
            let node = &mut nodes[node_index];
            if node.connections + spec.pool_size > node.max_connections {
                return Err(error(
                    format!("services[{s}].pool_size"),
                    format!(
                        "is {}, but {} accepts {} connections and {} are taken",
                        spec.pool_size, node.name, node.max_connections, node.connections
                    ),
                ));
            }
            node.connections += spec.pool_size;
            let isolation = spec.isolation.unwrap_or(node.isolation);
            let pool = (0..spec.pool_size)
                .map(|_| {
                    let mut connection = client(&node.db, isolation);
                    connection.set_lock_timeout(spec.lock_timeout.map(|t| t.micros()));
                    connection.set_statement_timeout(spec.statement_timeout.map(|t| t.micros()));
                    connection
                })
                .collect::<Vec<_>>();
            let mut operations = Vec::new();
            for (o, op) in spec.operations.iter().enumerate() {
                let at = format!("services[{s}].operations[{o}]");
                let params: Vec<(String, Param)> = op
                    .params
                    .iter()
                    .enumerate()
                    .map(|(p, (name, param))| {
                        (
                            name.clone(),
                            Param::new(param.clone(), SimRng::new(seed, stream_of(s, o, p + 1))),
                        )
                    })
                    .collect();
                for (name, param) in &params {
                    if let Some(column) = param.key_column() {
                        let range = key_range(&mut node.db, column)
                            .map_err(|m| error(format!("{at}.params.{name}"), m))?;
                        keys.entry(column.to_owned()).or_insert(range);
                    }
                }
                check_tables(&mut node.db, &op.statements, &at)?;
                let (reads, writes) = tables_used(&op.statements);
                operations.push(Operation {
                    name: op.name.clone(),
                    rate_per_s: op.rate_per_s,
                    enabled: op.enabled,
                    think_time: op.think_time.micros(),
                    statements: op.statements.clone(),
                    params,
                    arrivals: SimRng::new(seed, stream_of(s, o, 0)),
                    generation: 0,
                    metrics: OperationMetrics::default(),
                    reads,
                    writes,
                    last_error: None,
                    last_success: None,
                });
            }
            services.push(Service {
                name: spec.name.clone(),
                node: node_index,
                free: (0..pool.len()).collect(),
                pool,
                waiting: Default::default(),
                paused: false,
                timeout: spec.timeout.micros(),
                retries: spec.retries,
                retry_backoff: spec.retry_backoff.micros(),
                operations,
            });
        }

        // Two more clients per database: one runs timeline SQL (each command a transaction),
        // the other the console (a session whose transactions span commands).
        let mut timeline_services = Vec::new();
        let mut console_services = Vec::new();
        for (index, node) in nodes.iter_mut().enumerate() {
            node.connections += 2;
            timeline_services.push(services.len());
            services.push(internal_client(
                format!("(timeline) {}", node.name),
                index,
                node,
                SimRng::new(seed, u64::MAX),
            ));
            // Console owners count down from the middle, apart from services' and scripts'.
            console_services.push((services.len(), u64::MAX / 2 - index as u64));
            services.push(internal_client(
                format!("(console) {}", node.name),
                index,
                node,
                SimRng::new(seed, u64::MAX - 1),
            ));
        }
        let mut world = Self {
            scenario: scenario.clone(),
            seed,
            now: 0,
            queue: EventQueue::default(),
            nodes,
            services,
            in_flight: BTreeMap::new(),
            next_op: 1,
            owners: BTreeMap::new(),
            next_owner: 1,
            keys,
            trace: FnvHasher::default(),
            events: 0,
            applied: Vec::new(),
            recorded: None,
            script: None,
            timeline_services,
            console_services,
            console: Default::default(),
            next_console_entry: 1,
            locking: true,
            script_manual: false,
            lock_events: Default::default(),
            blocked_by: BTreeMap::new(),
            narration: Default::default(),
        };
        if let Some(spec) = &scenario.script {
            let index = world
                .nodes
                .iter()
                .position(|n| n.name == spec.database)
                .ok_or_else(|| error("script.database".into(), "is not a database".into()))?;
            let node = &world.nodes[index];
            let runner = crate::sim::script::ScriptRunner::new(spec, node.isolation, |mode| {
                node.db.connect(mode)
            });
            world.script = Some((index, runner));
        }
        for (index, entry) in scenario.timeline.iter().enumerate() {
            world
                .queue
                .schedule(entry.at.micros(), Event::Timeline { index });
        }
        for s in 0..world.services.len() {
            for o in 0..world.services[s].operations.len() {
                world.schedule_arrival(s, o);
            }
        }
        Ok(world)
    }

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
        match &mut self.script {
            Some((node, runner)) => runner.issue_next(&mut self.nodes[*node].locks),
            None => false,
        }
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

    fn record(&mut self, code: u8, values: &[u64]) {
        self.events += 1;
        self.trace.write_u64(self.now);
        self.trace.write_u8(code);
        for v in values {
            self.trace.write_u64(*v);
        }
    }

    fn schedule_arrival(&mut self, s: usize, o: usize) {
        let op = &mut self.services[s].operations[o];
        if !op.enabled || op.rate_per_s <= 0.0 {
            return;
        }
        let gap = op.arrivals.exponential_gap(op.rate_per_s);
        let generation = op.generation;
        if let Some(at) = self.now.checked_add(gap) {
            self.queue.schedule(
                at,
                Event::Arrival {
                    service: s,
                    operation: o,
                    generation,
                },
            );
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Arrival {
                service,
                operation,
                generation,
            } => {
                let op = &self.services[service].operations[operation];
                if op.generation != generation || !op.enabled {
                    return;
                }
                self.schedule_arrival(service, operation);
                self.record(1, &[service as u64, operation as u64]);
                if !self.services[service].paused {
                    self.arrive(service, operation);
                }
            }
            Event::Retry { op } => {
                self.record(2, &[op]);
                self.acquire_connection(op);
            }
            Event::StatementDone { op } => {
                self.record(3, &[op]);
                self.statement_done(op);
            }
            Event::ThinkDone { op } => {
                self.record(8, &[op]);
                self.before_statement(op);
            }
            Event::LockTimeout { op, request, kind } => {
                let waiting = self
                    .in_flight
                    .get(&op)
                    .and_then(|o| o.waiting_lock)
                    .is_some_and(|(r, _)| r == request);
                if waiting {
                    if let Some(o) = self.in_flight.get(&op) {
                        let (owner, node) = (o.owner, self.services[o.service].node);
                        self.lock_event(node, LockEventKind::TimedOut, owner, None, &[], 0);
                    }
                    self.record(12, &[op, request]);
                    if let Some(o) = self.in_flight.get_mut(&op) {
                        o.last_error = kind.message().map(str::to_owned);
                    }
                    self.fail(op, kind);
                }
            }
            Event::Timeline { index } => {
                self.record(4, &[index as u64]);
                if let Some(entry) = self.scenario.timeline.get(index) {
                    let command = Command::from_entry(entry);
                    let _ = self.apply(command);
                }
            }
        }
    }

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
        self.start_operation(s, o, sql, None);
    }

    /// Starts an operation of service `s` that runs `sql` (one transaction if several
    /// statements); `action` is the timeline entry it carries out, if any.
    fn start_operation(&mut self, s: usize, o: usize, mut sql: Vec<String>, action: Option<usize>) {
        let now = self.now;
        let console_owner = self
            .console_services
            .iter()
            .find(|(service, _)| *service == s)
            .map(|(_, owner)| *owner);
        let explicit = sql.len() > 1 && console_owner.is_none();
        if explicit {
            sql.push("COMMIT".to_owned());
        }
        let id = self.next_op;
        self.next_op += 1;
        let timeout = self.services[s].timeout;
        self.in_flight.insert(
            id,
            InFlight {
                service: s,
                operation: o,
                arrived: now,
                deadline: now.saturating_add(timeout),
                attempt: 0,
                sql,
                explicit,
                next: 0,
                connection: None,
                wrote: false,
                failure: None,
                last_error: None,
                action,
                owner: self.next_owner,
                acquisition: Acquisition::default(),
                prepared: None,
                only_rows: None,
                statement_deadline: None,
                console: None,
                statement_locks: Vec::new(),
                waiting_lock: None,
            },
        );
        match console_owner {
            Some(owner) => {
                let database = self.nodes[self.services[s].node].name.clone();
                let mut entries = Vec::new();
                if let Some(op) = self.in_flight.get_mut(&id) {
                    op.owner = owner;
                    for statement in &op.sql {
                        let entry = self.next_console_entry;
                        self.next_console_entry += 1;
                        entries.push(entry);
                        self.console.push_back(ConsoleEntry {
                            id: entry,
                            database: database.clone(),
                            sql: statement.clone(),
                            submitted: now,
                            finished: None,
                            status: ConsoleStatus::Queued,
                        });
                    }
                    op.console = Some(crate::sim::service::ConsoleWork {
                        entries,
                        result: None,
                    });
                }
                while self.console.len() > CONSOLE_KEPT {
                    self.console.pop_front();
                }
                self.owners.insert(owner, id);
            }
            None => {
                self.owners.insert(self.next_owner, id);
                self.next_owner += 1;
            }
        }
        self.acquire_connection(id);
    }

    fn acquire_connection(&mut self, id: u64) {
        let Some(op) = self.in_flight.get(&id) else {
            return;
        };
        let service = &mut self.services[op.service];
        match service.free.pop_front() {
            Some(connection) => self.begin(id, connection),
            None => service.waiting.push_back(id),
        }
    }

    fn begin(&mut self, id: u64, connection: usize) {
        let Some(op) = self.in_flight.get_mut(&id) else {
            return;
        };
        op.connection = Some(connection);
        op.next = 0;
        op.wrote = false;
        if op.explicit {
            let service = op.service;
            let _ = self.services[service].pool[connection].execute("BEGIN");
            self.keep_sql(
                self.services[service].node,
                Some((service, connection)),
                "BEGIN",
            );
        }
        self.before_statement(id);
    }

    /// Parses the operation's next statement, plans its locks and starts taking them; once all
    /// are held, the statement asks for a core.
    fn before_statement(&mut self, id: u64) {
        let now = self.now;
        let Some(op) = self.in_flight.get_mut(&id) else {
            return;
        };
        let service = &mut self.services[op.service];
        let sql = op.sql.get(op.next).map(String::as_str).unwrap_or_default();
        let command = Connection::prepare(sql);
        let Some(connection) = op.connection.and_then(|slot| service.pool.get_mut(slot)) else {
            return;
        };
        if let Ok(command) = &command {
            connection.start_statement(command);
        }
        op.statement_deadline = connection.statement_timeout().map(|t| now + t);
        let plan = match &command {
            Ok(SqlCommand::Sql { statement, locking })
                if self.locking && !connection.is_aborted() =>
            {
                let session = connection.session();
                plan_locks(statement, *locking, connection.isolation(), |table| {
                    session.fetch_schema(table).ok().flatten()
                })
            }
            _ => Vec::new(),
        };
        op.prepared = Some(command);
        op.acquisition = Acquisition::new(plan);
        self.set_console_status(id, ConsoleStatus::Running);
        self.take_locks(id);
    }

    /// The console entry of the operation's running statement, if it is console work.
    fn console_entry_of(&self, id: u64) -> Option<u64> {
        let op = self.in_flight.get(&id)?;
        op.console.as_ref()?.entries.get(op.next).copied()
    }

    fn set_console_status(&mut self, id: u64, status: ConsoleStatus) {
        let Some(entry) = self.console_entry_of(id) else {
            return;
        };
        let now = self.now;
        if let Some(line) = self.console.iter_mut().find(|e| e.id == entry) {
            if matches!(status, ConsoleStatus::Done(_)) {
                line.finished = Some(now);
            }
            line.status = status;
        }
    }

    /// The console's statements, oldest first (at most [`CONSOLE_KEPT`]).
    pub fn console_entries(&self) -> impl Iterator<Item = &ConsoleEntry> {
        self.console.iter()
    }

    /// The console session's transaction state on database `name`.
    pub fn console_state(&self, name: &str) -> Option<crate::sim::database::TransactionState> {
        let index = self.nodes.iter().position(|n| n.name == name)?;
        let (service, _) = self.console_services.get(index)?;
        Some(self.services[*service].pool.first()?.transaction_state())
    }

    /// Takes the statement's remaining locks in order; stops at one it must wait for, and asks
    /// for a core once all are held.
    fn take_locks(&mut self, id: u64) {
        let now = self.now;
        let Some(op) = self.in_flight.get_mut(&id) else {
            return;
        };
        let service = &mut self.services[op.service];
        let node_index = service.node;
        let Some(connection) = op.connection.and_then(|slot| service.pool.get_mut(slot)) else {
            return;
        };
        let lock_timeout = connection.lock_timeout();
        let owner = op.owner;
        let mut granted = Vec::new();
        let progress = op.acquisition.advance(
            &mut Requester {
                owner,
                locks: &mut self.nodes[node_index].locks,
                connection,
                now,
                statement: op.sql.get(op.next).map(|s| Rc::from(s.as_str())),
            },
            |lock| granted.push((lock.resource.clone(), lock.mode)),
        );
        let (deadline, statement_deadline) = (op.deadline, op.statement_deadline);
        for (resource, mode) in &granted {
            let lock = Some((resource, *mode));
            self.lock_event(node_index, LockEventKind::Granted, owner, lock, &[], 0);
        }
        match progress {
            Progress::Ready => {
                if let Some(op) = self.in_flight.get_mut(&id) {
                    let locks = op.acquisition.take_statement_locks();
                    op.statement_locks.extend(locks);
                    op.only_rows = op.acquisition.only_rows();
                }
                self.request_core(id);
            }
            Progress::Waiting {
                request,
                lock,
                blockers,
            } => {
                if let Some(op) = self.in_flight.get_mut(&id) {
                    op.waiting_lock = Some((request, now));
                }
                let event = Some((&lock.resource, lock.mode));
                self.lock_event(
                    node_index,
                    LockEventKind::Waited,
                    owner,
                    event,
                    &blockers,
                    0,
                );
                let names = blockers.iter().map(|b| self.who(*b)).collect();
                self.set_console_status(id, ConsoleStatus::WaitingForLock(names));
                // The wait ends at the lock timeout, the statement timeout or the operation's
                // deadline, whichever comes first (a later grant makes the event a no-op).
                let (at, kind) = [
                    lock_timeout.map(|t| (now + t, ErrorKind::LockTimeout)),
                    statement_deadline.map(|at| (at, ErrorKind::StatementTimeout)),
                    Some((deadline, ErrorKind::Timeout)),
                ]
                .into_iter()
                .flatten()
                .min_by_key(|(at, _)| *at)
                .unwrap_or((deadline, ErrorKind::Timeout));
                self.queue.schedule(
                    at.max(now),
                    Event::LockTimeout {
                        op: id,
                        request,
                        kind,
                    },
                );
                self.record(9, &[id, request]);
            }
            Progress::Deadlock { lock, cycle } => {
                let event = Some((&lock.resource, lock.mode));
                self.lock_event(node_index, LockEventKind::Deadlock, owner, event, &cycle, 0);
                self.record(11, &[id, cycle.len() as u64]);
                let names: Vec<String> = cycle.iter().map(|o| self.who(*o)).collect();
                if let Some(op) = self.in_flight.get_mut(&id) {
                    op.last_error = Some(format!(
                        "deadlock detected: {} wait for each other",
                        names.join(" → ")
                    ));
                }
                self.fail(id, ErrorKind::Deadlock);
            }
            Progress::Failed(error) => {
                let kind = match &error {
                    DbError::LockNotAvailable(_) => ErrorKind::LockTimeout,
                    other => ErrorKind::of_message(&other.to_string()),
                };
                if let Some(op) = self.in_flight.get_mut(&id) {
                    op.last_error = Some(error.to_string());
                }
                self.fail(id, kind);
            }
        }
    }

    fn lock_event(
        &mut self,
        node: usize,
        kind: LockEventKind,
        owner: Owner,
        lock: Option<(&crate::sim::locks::Resource, crate::sim::locks::LockMode)>,
        others: &[Owner],
        waited: Micros,
    ) {
        let event = LockEvent {
            at: self.now,
            database: self.nodes[node].name.clone(),
            kind,
            who: self.who(owner),
            resource: lock.map(|(r, _)| r.to_string()).unwrap_or_default(),
            mode: lock.map(|(_, m)| m.to_string()).unwrap_or_default(),
            others: others.iter().map(|o| self.who(*o)).collect(),
            waited,
        };
        match kind {
            LockEventKind::Waited => {
                self.blocked_by.insert(owner, event.others.clone());
            }
            LockEventKind::GrantedAfterWait => {
                let blockers = self.blocked_by.remove(&owner).unwrap_or_default();
                if waited >= 1_000 {
                    let text = format!(
                        "{} waited for {} on {}, blocked by {}",
                        service_of(&event.who),
                        event.mode,
                        event.resource,
                        names(&blockers),
                    );
                    self.narrate(NarrationKind::LockWait, text, None, waited);
                }
            }
            LockEventKind::Deadlock => {
                self.blocked_by.remove(&owner);
                let text = format!(
                    "deadlock on {}: {} wait for each other — {} is aborted",
                    event.database,
                    event.others.join(" → "),
                    event.who,
                );
                self.narrate(NarrationKind::Deadlock, text, None, 0);
            }
            LockEventKind::Released | LockEventKind::TimedOut => {
                self.blocked_by.remove(&owner);
            }
            LockEventKind::Granted => {}
        }
        self.lock_events.push_back(event);
        while self.lock_events.len() > LOCK_EVENTS_KEPT {
            self.lock_events.pop_front();
        }
    }

    /// Adds a line to the narration; the same line again within a second is counted instead.
    fn narrate(&mut self, kind: NarrationKind, text: String, sql: Option<String>, waited: Micros) {
        let now = self.now;
        let repeat =
            self.narration.iter_mut().rev().take(8).find(|h| {
                h.kind == kind && h.text == text && now.saturating_sub(h.last_at) <= SECOND
            });
        if let Some(line) = repeat {
            line.count += 1;
            line.last_at = now;
            line.longest_wait = line.longest_wait.max(waited);
            return;
        }
        self.narration.push_back(NarrationLine {
            at: now,
            last_at: now,
            kind,
            text,
            sql,
            count: 1,
            longest_wait: waited,
        });
        while self.narration.len() > NARRATION_KEPT {
            self.narration.pop_front();
        }
    }

    /// The narration: lock waits of a millisecond or more, deadlocks, failures (repeats within
    /// a second counted on one line), actions and their outcomes; oldest first, at most
    /// [`NARRATION_KEPT`].
    pub fn narration(&self) -> impl Iterator<Item = &NarrationLine> {
        self.narration.iter()
    }

    /// The most recent lock events (at most [`LOCK_EVENTS_KEPT`]), oldest first.
    pub fn lock_events(&self) -> impl Iterator<Item = &LockEvent> {
        self.lock_events.iter()
    }

    /// Lets the operations whose lock requests were granted go on.
    fn wake(&mut self, wakeups: Vec<Wakeup>) {
        for wakeup in wakeups {
            let Some(&id) = self.owners.get(&wakeup.owner) else {
                continue;
            };
            let Some(op) = self.in_flight.get_mut(&id) else {
                continue;
            };
            if op.acquisition.granted_after_wait(wakeup.request).is_none() {
                continue;
            }
            op.waiting_lock = None;
            self.services[op.service].operations[op.operation]
                .metrics
                .lock_wait_us += wakeup.waited;
            let node = self.services[op.service].node;
            let lock = Some((&wakeup.resource, wakeup.mode));
            self.lock_event(
                node,
                LockEventKind::GrantedAfterWait,
                wakeup.owner,
                lock,
                &[],
                wakeup.waited,
            );
            self.record(10, &[id, wakeup.waited]);
            self.take_locks(id);
        }
    }

    /// Releases the locks the operation took for its statement (`all`: for its transaction).
    fn release_locks(&mut self, id: u64, all: bool) {
        let Some(op) = self.in_flight.get(&id) else {
            return;
        };
        let (owner, node_index) = (op.owner, self.services[op.service].node);
        if all && self.locking {
            self.lock_event(node_index, LockEventKind::Released, owner, None, &[], 0);
        }
        let Some(op) = self.in_flight.get_mut(&id) else {
            return;
        };
        let node = &mut self.nodes[node_index];
        let mut wakeups = Vec::new();
        let mut statement_locks = std::mem::take(&mut op.statement_locks);
        statement_locks.extend(op.acquisition.take_statement_locks());
        for (resource, mode) in statement_locks {
            wakeups.extend(node.locks.release(op.owner, &resource, mode, self.now));
        }
        if all {
            op.acquisition.stop_waiting();
            if let Some((request, _)) = op.waiting_lock.take() {
                wakeups.extend(node.locks.cancel(request, self.now));
            }
            wakeups.extend(node.locks.release_all(op.owner, self.now));
        }
        self.wake(wakeups);
    }

    fn request_core(&mut self, id: u64) {
        let Some(op) = self.in_flight.get(&id) else {
            return;
        };
        let node = &mut self.nodes[self.services[op.service].node];
        if node.has_free_core() {
            self.execute(id);
        } else {
            node.enqueue(id);
        }
    }

    /// Runs the operation's next statement on its connection and holds a core for its cost.
    fn execute(&mut self, id: u64) {
        let now = self.now;
        let Some(op) = self.in_flight.get_mut(&id) else {
            return;
        };
        let service = &mut self.services[op.service];
        let node = &mut self.nodes[service.node];
        let Some(slot) = op.connection else { return };
        let Some(connection) = service.pool.get_mut(slot) else {
            return;
        };
        let sql = op.sql.get(op.next).cloned().unwrap_or_default();
        let command = op
            .prepared
            .take()
            .unwrap_or_else(|| Connection::prepare(&sql));
        let result = connection.execute_prepared(&sql, command, op.only_rows.take());
        let work = connection.last_counters();
        if let Some(console) = &mut op.console {
            console.result = Some(match &result {
                Ok(outcome) => Ok(outcome.clone()),
                Err(error) => Err(error.to_string()),
            });
        }
        let is_commit = op.explicit && op.next + 1 == op.sql.len();
        let mut cost = node.cost.statement(work, 0);
        op.wrote |= work.rows_written > 0;
        if is_commit || !op.explicit {
            cost += node.cost.commit(op.wrote);
        }
        op.failure = result.err().map(|e| e.to_string());
        // A statement that would outlast its statement_timeout is cancelled when the timeout
        // strikes. Its effects go with it: a read has none, and a failed transaction is rolled
        // back. Simplification: an autocommit write has already committed, so it runs on.
        if let Some(at) = op.statement_deadline {
            if now + cost > at && (work.rows_written == 0 || op.explicit) {
                cost = at.saturating_sub(now);
                op.failure = ErrorKind::StatementTimeout.message().map(str::to_owned);
            }
        }
        node.start(cost, work.rows_read, work.rows_written);
        let ok = u64::from(op.failure.is_none());
        let (s_index, node_index) = (op.service, service.node);
        self.queue
            .schedule(now + cost, Event::StatementDone { op: id });
        self.record(5, &[id, cost, work.rows_read, work.rows_written, ok]);
        self.keep_sql(node_index, Some((s_index, slot)), &sql);
    }

    fn statement_done(&mut self, id: u64) {
        let Some(op) = self.in_flight.get(&id) else {
            return;
        };
        let node_index = self.services[op.service].node;
        self.nodes[node_index].finish();
        self.release_locks(id, false);
        self.next_from_core_queue(node_index);

        if self
            .in_flight
            .get(&id)
            .is_some_and(|op| op.console.is_some())
        {
            self.console_statement_done(id);
            return;
        }
        let Some(op) = self.in_flight.get_mut(&id) else {
            return;
        };
        if let Some(message) = op.failure.take() {
            let kind = ErrorKind::of_message(&message);
            op.last_error = Some(message);
            self.fail(id, kind);
        } else if self.now > op.deadline {
            self.fail(id, ErrorKind::Timeout);
        } else if op.next + 1 < op.sql.len() {
            op.next += 1;
            let think = self.services[op.service].operations[op.operation].think_time;
            if think == 0 {
                self.before_statement(id);
            } else {
                // Thinking holds the connection but no core.
                self.queue
                    .schedule(self.now + think, Event::ThinkDone { op: id });
            }
        } else {
            self.complete(id);
        }
    }

    /// A console statement ended (ran, or failed before running): its entry gets the result,
    /// the session's locks go if its transaction ended (or failed), and the next statement
    /// starts — a failure does not stop the ones after it, as in `psql`.
    fn console_statement_done(&mut self, id: u64) {
        let Some(op) = self.in_flight.get_mut(&id) else {
            return;
        };
        let result = op
            .console
            .as_mut()
            .and_then(|c| c.result.take())
            .or_else(|| op.failure.take().map(Err))
            .unwrap_or_else(|| Err("the statement did not run".to_owned()));
        op.failure = None;
        let (service, slot) = (op.service, op.connection);
        self.set_console_status(id, ConsoleStatus::Done(result));
        let connection = slot.and_then(|c| self.services[service].pool.get(c));
        let transaction_over = connection.is_none_or(|c| !c.in_transaction() || c.is_aborted());
        self.release_locks(id, transaction_over);
        let Some(op) = self.in_flight.get_mut(&id) else {
            return;
        };
        if op.next + 1 < op.sql.len() {
            op.next += 1;
            self.before_statement(id);
        } else {
            self.complete(id);
        }
    }

    fn next_from_core_queue(&mut self, node_index: usize) {
        while self.nodes[node_index].has_free_core() {
            let Some(next) = self.nodes[node_index].queue.pop_front() else {
                return;
            };
            let expired = self
                .in_flight
                .get(&next)
                .is_some_and(|op| self.now > op.deadline);
            if expired {
                self.fail(next, ErrorKind::Timeout);
            } else {
                self.execute(next);
            }
        }
    }

    fn release_connection(&mut self, s: usize, connection: usize) {
        loop {
            let Some(waiter) = self.services[s].waiting.pop_front() else {
                self.services[s].free.push_back(connection);
                return;
            };
            let expired = self
                .in_flight
                .get(&waiter)
                .is_some_and(|op| self.now > op.deadline);
            if expired {
                self.finish_failed(waiter, ErrorKind::Timeout);
            } else {
                self.begin(waiter, connection);
                return;
            }
        }
    }

    fn fail(&mut self, id: u64, kind: ErrorKind) {
        let Some(op) = self.in_flight.get_mut(&id) else {
            return;
        };
        if op.console.is_some() {
            // A console statement failed before it ran (a deadlock, a lock timeout, NOWAIT):
            // as in PostgreSQL, the session's transaction is aborted and its locks go.
            let message = op
                .last_error
                .take()
                .unwrap_or_else(|| kind.name().to_owned());
            op.failure = Some(message);
            if let Some(console) = &mut op.console {
                console.result = None;
            }
            let (service, slot) = (op.service, op.connection);
            if let Some(connection) = slot.and_then(|c| self.services[service].pool.get_mut(c)) {
                if connection.in_transaction() {
                    connection.abort();
                }
            }
            self.console_statement_done(id);
            return;
        }
        let service = op.service;
        let connection = op.connection.take();
        if let Some(connection) = connection {
            if op.explicit {
                let _ = self.services[service].pool[connection].execute("ROLLBACK");
                self.keep_sql(
                    self.services[service].node,
                    Some((service, connection)),
                    "ROLLBACK",
                );
            }
        }
        self.release_locks(id, true);
        if let Some(connection) = connection {
            self.release_connection(service, connection);
        }
        let Some(op) = self.in_flight.get_mut(&id) else {
            return;
        };
        let retries = self.services[service].retries;
        if op.attempt < retries && kind != ErrorKind::Timeout && self.now < op.deadline {
            op.attempt += 1;
            let backoff = self.services[service].retry_backoff;
            self.queue
                .schedule(self.now + backoff, Event::Retry { op: id });
        } else {
            self.finish_failed(id, kind);
        }
    }

    fn finish_failed(&mut self, id: u64, kind: ErrorKind) {
        self.release_locks(id, true);
        if let Some(op) = self.in_flight.remove(&id) {
            self.owners.remove(&op.owner);
            let message = op
                .last_error
                .clone()
                .unwrap_or_else(|| kind.name().to_owned());
            self.settle_action(op.action, format!("error: {message}"));
            let sql = op.sql.get(op.next).cloned().unwrap_or_default();
            let now = self.now;
            let service = &mut self.services[op.service];
            let operation = &mut service.operations[op.operation];
            operation.metrics.record_error(now, kind);
            operation.last_error = Some((now, kind, message.clone(), sql.clone()));
            let text = format!(
                "{}.{} failed ({}): {message}",
                service.name,
                operation.name,
                kind.name()
            );
            let kind = if kind == ErrorKind::Schema {
                NarrationKind::SchemaBreak
            } else {
                NarrationKind::Error
            };
            if op.action.is_none() {
                self.narrate(kind, text, Some(sql), 0);
            }
            self.record(6, &[id, kind as u64]);
        }
    }

    fn complete(&mut self, id: u64) {
        let open_console_transaction = self.in_flight.get(&id).is_some_and(|op| {
            op.console.is_some()
                && op
                    .connection
                    .and_then(|c| self.services[op.service].pool.get(c))
                    .is_some_and(|c| c.in_transaction())
        });
        if !open_console_transaction {
            self.release_locks(id, true);
        }
        let Some(op) = self.in_flight.remove(&id) else {
            return;
        };
        self.owners.remove(&op.owner);
        self.settle_action(op.action, "ok".to_owned());
        let latency = self.now - op.arrived;
        let operation = &mut self.services[op.service].operations[op.operation];
        operation.metrics.record_success(self.now, latency);
        operation.last_success = Some(self.now);
        self.record(7, &[id, latency]);
        if let Some(connection) = op.connection {
            self.release_connection(op.service, connection);
        }
    }

    fn find_service(&self, name: &str) -> Result<usize, CommandError> {
        self.services
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| CommandError::UnknownService(name.to_owned()))
    }

    fn find_operation(
        &self,
        service: &str,
        operation: &str,
    ) -> Result<(usize, usize), CommandError> {
        let s = self.find_service(service)?;
        let o = self.services[s]
            .operations
            .iter()
            .position(|o| o.name == operation)
            .ok_or_else(|| {
                CommandError::UnknownOperation(service.to_owned(), operation.to_owned())
            })?;
        Ok((s, o))
    }

    /// Applies a command now. Returns a one-line summary of what happened.
    ///
    /// # Errors
    ///
    /// [`CommandError`] when it names something that does not exist or its SQL fails (the
    /// failure is also recorded in the report's timeline).
    pub fn apply(&mut self, command: Command) -> Result<String, CommandError> {
        let index = self.applied.len();
        self.applied.push(AppliedAction {
            at_ms: round3(self.now as f64 / 1e3),
            action: command.describe(),
            result: "started".to_owned(),
        });
        if command != Command::ScriptStep {
            self.narrate(NarrationKind::Action, command.describe(), None, 0);
        }
        let result = self.apply_inner(&command, index);
        if let Some(action) = self.applied.get_mut(index) {
            match &result {
                Ok(summary) if summary == "started" => {}
                Ok(summary) => action.result.clone_from(summary),
                Err(e) => action.result = format!("error: {e}"),
            }
        }
        result
    }

    /// Writes the outcome of a timeline operation into its report entry.
    fn settle_action(&mut self, action: Option<usize>, outcome: String) {
        let Some(entry) = action.and_then(|i| self.applied.get_mut(i)) else {
            return;
        };
        let waited = self.now as f64 / 1e3 - entry.at_ms;
        let waited = format_micros((waited * 1e3).max(0.0) as Micros);
        entry.result = format!("{outcome} (after {waited})");
        let text = format!("{} → {outcome} after {waited}", entry.action);
        let kind = if outcome.starts_with("error")
            && ErrorKind::of_message(&outcome) == ErrorKind::Schema
        {
            NarrationKind::SchemaBreak
        } else {
            NarrationKind::Action
        };
        self.narrate(kind, text, None, 0);
    }

    /// Carries out `command`, whose entry in the report's timeline is number `action`.
    fn apply_inner(&mut self, command: &Command, action: usize) -> Result<String, CommandError> {
        match command {
            Command::RunSql { database, sql } => {
                let index = self
                    .nodes
                    .iter()
                    .position(|n| &n.name == database)
                    .ok_or_else(|| CommandError::UnknownDatabase(database.clone()))?;
                let statements: Vec<String> = crate::sim::sql_script::split_statements(sql)
                    .into_iter()
                    .map(|s| s.sql)
                    .collect();
                if statements.is_empty() {
                    return Err(CommandError::Sql("there is no SQL statement to run".into()));
                }
                // It runs like any client's work: it takes its locks (and may wait for them),
                // then a core. The report's timeline entry gets its result when it ends.
                let service = self.timeline_services[index];
                self.start_operation(service, 0, statements, Some(action));
                Ok("started".to_owned())
            }
            Command::Console { database, sql } => {
                let index = self
                    .nodes
                    .iter()
                    .position(|n| &n.name == database)
                    .ok_or_else(|| CommandError::UnknownDatabase(database.clone()))?;
                let statements: Vec<String> = crate::sim::sql_script::split_statements(sql)
                    .into_iter()
                    .map(|s| s.sql)
                    .collect();
                if statements.is_empty() {
                    return Err(CommandError::Sql("there is no SQL statement to run".into()));
                }
                let count = statements.len();
                let (service, _) = self.console_services[index];
                self.start_operation(service, 0, statements, None);
                Ok(format!(
                    "{count} statement{} sent to the console",
                    if count == 1 { "" } else { "s" }
                ))
            }
            Command::ScriptStep => {
                let Some((node, runner)) = &mut self.script else {
                    return Err(CommandError::NoScript);
                };
                let before = runner.report();
                let locks = &mut self.nodes[*node].locks;
                let result = if runner.is_finished() {
                    "the script has ended".to_owned()
                } else if runner.issue_next(locks) {
                    "step issued".to_owned()
                } else {
                    runner.finish(locks);
                    "the script has ended: open transactions were rolled back".to_owned()
                };
                let after = runner.report();
                let database = self.nodes[*node].name.clone();
                for (kind, text, sql) in crate::sim::script::narrate(&before, &after, &database) {
                    self.narrate(kind, text, sql, 0);
                }
                Ok(result)
            }
            Command::SetRate {
                service,
                operation,
                rate_per_s,
            } => {
                if !rate_per_s.is_finite() || *rate_per_s < 0.0 {
                    return Err(CommandError::BadRate(rate_per_s.to_string()));
                }
                let (s, o) = self.find_operation(service, operation)?;
                let op = &mut self.services[s].operations[o];
                op.rate_per_s = *rate_per_s;
                op.generation += 1;
                self.schedule_arrival(s, o);
                Ok("ok".to_owned())
            }
            Command::StartOperation { service, operation }
            | Command::StopOperation { service, operation } => {
                let (s, o) = self.find_operation(service, operation)?;
                let start = matches!(command, Command::StartOperation { .. });
                let op = &mut self.services[s].operations[o];
                op.enabled = start;
                op.generation += 1;
                if start {
                    self.schedule_arrival(s, o);
                }
                Ok("ok".to_owned())
            }
            Command::PauseService { service } | Command::ResumeService { service } => {
                let s = self.find_service(service)?;
                self.services[s].paused = matches!(command, Command::PauseService { .. });
                Ok("ok".to_owned())
            }
        }
    }

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
                    internal: self.timeline_services.contains(&index)
                        || self.console_services.iter().any(|(s, _)| *s == index),
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
                        })
                        .collect(),
                })
                .collect(),
            databases: self
                .nodes
                .iter()
                .map(|n| DatabaseSnapshot {
                    name: n.name.clone(),
                    busy_cores: n.busy,
                    cores: n.cores,
                    queued: n.queue.len(),
                    isolation: n.isolation,
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

    fn who(&self, owner: Owner) -> String {
        if self.console_services.iter().any(|(_, o)| *o == owner) {
            return "console".to_owned();
        }
        if let Some(name) = self
            .script
            .as_ref()
            .and_then(|(_, runner)| runner.session_of(owner))
        {
            return name.to_owned();
        }
        match self
            .owners
            .get(&owner)
            .and_then(|id| self.in_flight.get(id).map(|op| (id, op)))
        {
            Some((id, op)) => format!("{} #{id}", self.services[op.service].name),
            None => "script".to_owned(),
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
            throughput_per_s: if seconds > 0.0 {
                round3(m.completed as f64 / seconds)
            } else {
                0.0
            },
            latency_ms: m.latency(),
            lock_wait_ms: round3(m.lock_wait_us as f64 / 1e3),
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
        Report {
            scenario: self.scenario.name.clone(),
            seed: self.seed,
            simulated_ms: round3(self.now as f64 / 1e3),
            events: self.events,
            trace_hash: format!("{:016x}", self.trace.finish()),
            services,
            databases,
            timeline: self.applied.clone(),
            script: self.script_report(),
        }
    }

    /// A short human summary of the clock: `"12.5s"`.
    pub fn clock_text(&self) -> String {
        format_micros(self.now)
    }
}

/// A client of the simulation's own (timeline SQL, the console): one connection, no arrivals,
/// an hour's timeout.
fn internal_client(name: String, index: usize, node: &DatabaseNode, arrivals: SimRng) -> Service {
    Service {
        name,
        node: index,
        pool: vec![client(&node.db, node.isolation)],
        free: [0].into(),
        waiting: Default::default(),
        paused: false,
        timeout: 3_600 * crate::sim::clock::SECOND,
        retries: 0,
        retry_backoff: 0,
        operations: vec![Operation {
            name: "sql".to_owned(),
            rate_per_s: 0.0,
            enabled: false,
            think_time: 0,
            statements: Vec::new(),
            params: Vec::new(),
            arrivals,
            generation: 0,
            metrics: OperationMetrics::default(),
            reads: Vec::new(),
            writes: Vec::new(),
            last_error: None,
            last_success: None,
        }],
    }
}

/// A connection to `db` whose transactions run at `isolation`.
fn client(db: &Database, isolation: Isolation) -> Connection {
    let mut connection = db.connect(isolation.read_mode());
    connection.set_isolation(isolation);
    connection
}

/// The smallest and largest value of `table.column` now.
fn key_range(db: &mut Database, column: &str) -> Result<KeyRange, String> {
    let (table, column) = column.split_once('.').unwrap_or((column, ""));
    // A primary key's range is read from the ends of the table's key order, not by a scan.
    let bounds = db.with_engine_ref(|engine| {
        engine
            .is_primary_key(table, column)
            .then(|| engine.key_bounds(table))
    });
    match bounds {
        Some(Some((Key::I64(min), Key::I64(max)))) => return Ok(KeyRange { min, max }),
        Some(None) => return Ok(KeyRange { min: 1, max: 0 }),
        _ => {}
    }
    let sql = format!("SELECT MIN({column}), MAX({column}) FROM {table}");
    let result = db
        .execute(&sql)
        .map_err(|e| format!("names a column that cannot be read: {e}"))?;
    let crate::sim::database::Outcome::Rows { rows, .. } = result.outcome else {
        return Err("names a column that cannot be read".to_owned());
    };
    let number = |i: usize| {
        rows.first()
            .and_then(|r| r.get(i))
            .and_then(|c| c.text.parse::<i64>().ok())
    };
    Ok(match (number(0), number(1)) {
        (Some(min), Some(max)) => KeyRange { min, max },
        _ => KeyRange { min: 1, max: 0 },
    })
}

/// Checks that the templates' tables exist: the tables a statement names in `FROM`, `JOIN`
/// and as its target, against the database's tables (from the parsed SQL: a 20,000-row report
/// is not run to find out); writes are also run once with placeholder values in a transaction
/// that is rolled back, which finds the tables named anywhere else in them.
fn check_tables(db: &mut Database, templates: &[String], at: &str) -> Result<(), ScenarioError> {
    let missing = |k: usize, table: &str| ScenarioError {
        line: None,
        column: None,
        path: format!("{at}.statements[{k}]"),
        message: format!(
            "uses table \"{}\", which does not exist at start",
            table.trim()
        ),
    };
    let mut probe = db.connect(ReadMode::LatestCommitted);
    for (k, template) in templates.iter().enumerate() {
        let kind = crate::sim::database::StatementKind::of(template);
        if kind.changes_schema() || kind.is_transaction_control() {
            continue;
        }
        let sample = sample_render(template);
        if let Ok(SqlCommand::Sql { statement, .. }) = Connection::prepare(&sample) {
            let (reads, writes) = crate::sim::lock_plan::tables_of(&statement);
            let exists = |t: &String| probe.session().fetch_schema(t).ok().flatten().is_some();
            if let Some(table) = reads.iter().chain(&writes).find(|t| !exists(t)) {
                return Err(missing(k, table));
            }
            if writes.is_empty() {
                continue;
            }
        }
        let _ = probe.execute("BEGIN");
        let result = probe.execute(&sample);
        let _ = probe.execute("ROLLBACK");
        if let Err(e) = result {
            let message = e.to_string();
            if let Some(table) = message.split("table not found: ").nth(1) {
                return Err(missing(k, table));
            }
        }
    }
    Ok(())
}

/// The tables a service's templates read and write (each once, in order).
fn tables_used(templates: &[String]) -> (Vec<String>, Vec<String>) {
    let mut reads: Vec<String> = Vec::new();
    let mut writes: Vec<String> = Vec::new();
    for template in templates {
        if let Ok(SqlCommand::Sql { statement, .. }) = Connection::prepare(&sample_render(template))
        {
            let (r, w) = crate::sim::lock_plan::tables_of(&statement);
            reads.extend(
                r.into_iter()
                    .filter(|t| !reads.contains(t))
                    .collect::<Vec<_>>(),
            );
            writes.extend(
                w.into_iter()
                    .filter(|t| !writes.contains(t))
                    .collect::<Vec<_>>(),
            );
        }
    }
    (reads, writes)
}

/// The service part of a lock owner's name ("billing #12" → "billing").
fn service_of(who: &str) -> &str {
    who.split(" #").next().unwrap_or(who)
}

/// Names for a sentence: services once each, "a, b and c".
fn names(who: &[String]) -> String {
    let mut list: Vec<&str> = Vec::new();
    for name in who.iter().map(|w| service_of(w)) {
        if !list.contains(&name) {
            list.push(name);
        }
    }
    match list.as_slice() {
        [] => "nobody".to_owned(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn sample_render(template: &str) -> String {
    let values: BTreeMap<&str, String> = crate::sim::params::placeholders(template)
        .map(|name| (name, "1".to_owned()))
        .collect();
    crate::sim::params::render(template, &values)
}
