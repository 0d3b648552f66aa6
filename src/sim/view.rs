//! What the live page draws, derived from the world in one place: the page's components only
//! render a [`PageView`] (no simulation logic in the UI), and tests can check the numbers a
//! student reads without a browser.

use crate::sim::clock::{format_micros, Micros, SECOND};
use crate::sim::database::{Outcome, TransactionState};
use crate::sim::lock_plan::Isolation;
use crate::sim::metrics::LatencySummary;
use crate::sim::world::{
    ConsoleStatus, ConsumerState, EtlSnapshot, LockEventKind, LockView, NarrationKind,
    PipelineSnapshot, World,
};
use serde::{Deserialize, Serialize};

/// How many seconds the latency charts show.
pub const CHART_SECONDS: u64 = 60;

/// How many event-log lines the page gets.
pub const LOG_LINES: usize = 200;

/// A node's state, for its colour, badge and label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Health {
    /// Working normally.
    Healthy,
    /// Nothing arrives (paused or every operation stopped).
    Idle,
    /// Some of its operations wait for locks.
    Waiting,
    /// Some of its operations failed in the last second.
    Erroring,
    /// It holds locks that others wait for, and waits for nobody (a root blocker).
    Blocking,
    /// Its p99 latency in the last whole second jumped to [`SLOW_FACTOR`] times (or more) its
    /// own median p99 of the last minute: something else is taking its database's time.
    Slow,
}

/// How many times its usual p99 a service's last second must reach to be shown "slow".
pub const SLOW_FACTOR: f64 = 5.0;

/// Below this p99 (ms) nobody is "slow": a jump from 0.1 ms to 0.5 ms is noise to a user.
pub const SLOW_FLOOR_MS: f64 = 1.0;

/// Whether a service whose last whole seconds had these p99s (oldest first, the last one is
/// the second being judged) has become slow: its last p99 is at least [`SLOW_FACTOR`] times the
/// median of the seconds before it (three at least) and above [`SLOW_FLOOR_MS`].
pub fn is_slow(p99s: &[f64]) -> bool {
    let Some((&last, before)) = p99s.split_last() else {
        return false;
    };
    let mut before: Vec<f64> = before.iter().copied().filter(|p| *p > 0.0).collect();
    if before.len() < 3 || last < SLOW_FLOOR_MS {
        return false;
    }
    before.sort_by(f64::total_cmp);
    let median = before[before.len() / 2];
    last >= SLOW_FACTOR * median
}

impl Health {
    /// A word for the badge.
    pub fn label(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Idle => "idle",
            Self::Waiting => "waiting on locks",
            Self::Erroring => "errors",
            Self::Blocking => "blocking others",
            Self::Slow => "slow",
        }
    }

    /// What the state means, in a sentence for a tooltip or the help.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::Healthy => "Working normally: its operations complete at their usual speed.",
            Self::Idle => "Nothing arrives: it is paused, or all its operations are stopped.",
            Self::Waiting => {
                "Some of its operations are stuck waiting for a lock that another transaction holds."
            }
            Self::Erroring => {
                "Some of its operations failed in the last second (a timeout, a deadlock, SQL that no longer matches the schema…)."
            }
            Self::Blocking => {
                "It holds locks that others are waiting for, while it waits for nobody: the root of a queue."
            }
            Self::Slow => {
                "Its p99 latency in the last second is at least 5 times its usual p99 over the last minute: something else is taking the database's time."
            }
        }
    }
}

/// One operation's controls and state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationView {
    /// Its name.
    pub name: String,
    /// Arrivals per second.
    pub rate_per_s: f64,
    /// Whether arrivals happen.
    pub enabled: bool,
    /// The schema error it keeps failing with, and the statement.
    pub broken: Option<(String, String)>,
}

/// One service: its numbers now and its last seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceView {
    /// Its name.
    pub name: String,
    /// The database it uses.
    pub database: String,
    /// Whether it is the client that runs timeline and console SQL (no chart, no controls).
    pub internal: bool,
    /// Its state.
    pub health: Health,
    /// Whether it is paused.
    pub paused: bool,
    /// Operations completed in the last whole second.
    pub throughput_per_s: f64,
    /// Operations failed in the last whole second.
    pub errors_per_s: f64,
    /// Latency of the last whole second's operations.
    pub latency_ms: LatencySummary,
    /// The p99 latency of the latest whole second in which some operation completed (for a
    /// service that works now and then, like a report every few seconds), if any.
    pub recent_p99_ms: Option<f64>,
    /// Connections in use, and the pool's size.
    pub connections: (usize, usize),
    /// The round-trip time of its link to its database, in milliseconds.
    pub rtt_ms: f64,
    /// Operations waiting for a connection.
    pub waiting_for_connection: usize,
    /// Operations waiting for a lock.
    pub lock_waits: usize,
    /// Completed and failed operations so far.
    pub completed: u64,
    /// Failed operations so far.
    pub errors: u64,
    /// The last [`CHART_SECONDS`] whole seconds: (second, completed, errors, latency).
    pub seconds: Vec<(u64, u64, u64, LatencySummary)>,
    /// Its operations.
    pub operations: Vec<OperationView>,
}

/// One database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseView {
    /// Its name.
    pub name: String,
    /// The scenario database whose settings it runs with (itself, but in the `cdc` mode: the
    /// shared database each service's was made from); the isolation chooser changes that one.
    pub spec: String,
    /// Its isolation level.
    pub isolation: Isolation,
    /// Statements executing, and cores.
    pub cores: (u32, u32),
    /// Statements waiting for a core.
    pub queued: usize,
    /// Its locks now.
    pub locks: LockView,
    /// Its state.
    pub health: Health,
    /// Serializable snapshot isolation: SIREAD locks per table, conflicts, aborts.
    pub ssi: crate::sim::ssi::SsiSummary,
}

/// An edge of the topology: a service reading or writing a table of a database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeView {
    /// The service.
    pub service: String,
    /// The database.
    pub database: String,
    /// The table.
    pub table: String,
    /// Whether the service reads it.
    pub reads: bool,
    /// Whether the service writes it.
    pub writes: bool,
    /// Operations per second over this edge (the last whole second).
    pub rate_per_s: f64,
    /// The schema error that broke it, with the statement, if it is broken.
    pub broken: Option<(String, String)>,
}

/// What carries data along a [`FlowView`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlowKind {
    /// A CDC pipeline: connector, topic, consumer group.
    Cdc,
    /// The ETL job's copy.
    Etl,
}

/// Data moving from a table of one database to a table of another without a service running
/// it: a CDC pipeline feeding a read model, or the ETL job's copy — the pipeline drawn in the
/// topology.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowView {
    /// The source: (database, table).
    pub from: (String, String),
    /// The copy: (database, table).
    pub to: (String, String),
    /// CDC or ETL.
    pub kind: FlowKind,
    /// Healthy (flowing), waiting (behind by more than a second, or the copy overdue), erroring
    /// (a connector stopped or crashed, a consumer crashed) or idle (a paused consumer, an ETL
    /// job between runs).
    pub health: Health,
    /// What it is, for a tooltip and screen readers.
    pub label: String,
}

/// The flows of the run's pipeline and ETL job.
fn flows(pipeline: Option<&PipelineSnapshot>, etl: Option<&EtlSnapshot>) -> Vec<FlowView> {
    let mut flows = Vec::new();
    if let Some(pipeline) = pipeline {
        for group in &pipeline.groups {
            for model in &group.read_models {
                let (table, topic, p95) = (&model.table, &model.topic, model.staleness_p95);
                let source = &model.source;
                let Some(connector) = pipeline
                    .connectors
                    .iter()
                    .find(|c| c.tables.contains(source))
                else {
                    continue;
                };
                let stopped = !matches!(
                    connector.state,
                    crate::sim::connector::ConnectorState::Streaming
                        | crate::sim::connector::ConnectorState::Snapshotting
                );
                let health = if stopped || group.state == ConsumerState::Crashed {
                    Health::Erroring
                } else if group.state == ConsumerState::Paused {
                    Health::Idle
                } else if group.behind_source.1 > SECOND {
                    Health::Waiting
                } else {
                    Health::Healthy
                };
                let label = format!(
                    "{}.{source} → {} ({}) → topic {topic} → group {} → {}.{table}: {} changes behind the source; staleness p95 {p95:.0} ms",
                    connector.source,
                    connector.name,
                    connector.state.name(),
                    group.name,
                    group.database,
                    group.behind_source.0,
                );
                flows.push(FlowView {
                    from: (connector.source.clone(), source.clone()),
                    to: (group.database.clone(), table.clone()),
                    kind: FlowKind::Cdc,
                    health,
                    label,
                });
            }
        }
    }
    if let Some(job) = etl {
        let health = if job.last_error.is_some() {
            Health::Erroring
        } else if job.overdue() {
            Health::Waiting
        } else if job.phase == crate::sim::world::EtlPhase::Idle {
            Health::Idle
        } else {
            Health::Healthy
        };
        for (table, how) in &job.tables {
            flows.push(FlowView {
                from: (job.source.clone(), table.clone()),
                to: (job.target.clone(), table.clone()),
                kind: FlowKind::Etl,
                health,
                label: format!(
                    "ETL job copies {}.{table} into {}.{table} every {:.0} s ({how}), now {}; the copy is {:.1} s old",
                    job.source,
                    job.target,
                    job.interval_ms / 1e3,
                    job.phase.name(),
                    job.staleness_ms / 1e3
                ),
            });
        }
    }
    flows
}

/// One line of the narration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// When, as text ("12.4s").
    pub at: String,
    /// When, in simulated µs (for sorting and filtering by time).
    pub at_us: Micros,
    /// What kind.
    pub kind: NarrationKind,
    /// The sentence, with "(×N)" for repeats.
    pub text: String,
    /// The statement involved, if any.
    pub sql: Option<String>,
}

/// Where a console statement stands, for its badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsoleState {
    /// Not started.
    Queued,
    /// Running (taking locks, waiting for a core).
    Running,
    /// Waiting for a lock.
    Waiting,
    /// Done.
    Ok,
    /// Failed.
    Failed,
}

/// One statement typed at the simulation's console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsoleLine {
    /// Its number.
    pub id: u64,
    /// The database.
    pub database: String,
    /// The statement.
    pub sql: String,
    /// Where it stands.
    pub state: ConsoleState,
    /// The result's summary, the error, or whom it waits for.
    pub message: String,
    /// How long it took (or has waited so far).
    pub took: String,
    /// A query's columns and first rows.
    pub rows: Option<(Vec<String>, Vec<Vec<String>>)>,
}

/// A scenario's scripted sessions, for the side-by-side view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptView {
    /// The sessions, in order of first appearance: the view's columns.
    pub sessions: Vec<String>,
    /// Each session's isolation level now, in the order of `sessions`.
    pub levels: Vec<Isolation>,
    /// Every step, with its outcome so far.
    pub steps: Vec<crate::sim::script::StepReport>,
    /// The step the next click issues.
    pub next: Option<usize>,
    /// Whether the script has ended.
    pub finished: bool,
    /// Sessions whose last transaction committed / was rolled back or aborted.
    pub committed: Vec<String>,
    /// See `committed`.
    pub aborted: Vec<String>,
}

/// How far back the lock-wait timeline reaches.
pub const TIMELINE_SPAN: Micros = 5 * SECOND;

/// How many transactions the lock-wait timeline shows.
pub const TIMELINE_ROWS: usize = 12;

/// One transaction on the lock-wait timeline: when it held locks, and when it waited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineRow {
    /// Who ("billing #12", "console", a script session).
    pub who: String,
    /// The database.
    pub database: String,
    /// From its first lock (or the window's start) to its release (`None`: still holding).
    pub held: (Micros, Option<Micros>),
    /// Its waits: start, end (`None`: still waiting), and what for ("ROW EXCLUSIVE on orders").
    pub waits: Vec<(Micros, Option<Micros>, String)>,
}

/// How many rows of a console query the page shows.
pub const CONSOLE_ROWS: usize = 20;

/// Everything the live page shows at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageView {
    /// Simulated time.
    pub now: Micros,
    /// The clock as text.
    pub clock: String,
    /// The services (the internal timeline client only once it has done something).
    pub services: Vec<ServiceView>,
    /// The databases.
    pub databases: Vec<DatabaseView>,
    /// Who reads and writes which table.
    pub edges: Vec<EdgeView>,
    /// The narration's last lines, oldest first.
    pub log: Vec<LogLine>,
    /// The console's statements, oldest first.
    pub console: Vec<ConsoleLine>,
    /// Each database's console session: its transaction state.
    pub console_sessions: Vec<(String, TransactionState)>,
    /// The scripted sessions, if the scenario has a script.
    pub script: Option<ScriptView>,
    /// The last [`TIMELINE_SPAN`]: transactions that waited for a lock or made others wait.
    pub lock_timeline: Vec<TimelineRow>,
    /// The lock-wait timeline's window: from `now − TIMELINE_SPAN` (or 0 s) to now.
    pub timeline_window: (Micros, Micros),
    /// The run's integration mode.
    pub mode: crate::sim::modes::Mode,
    /// The modes the scenario can run in.
    pub modes: Vec<crate::sim::modes::Mode>,
    /// The `cdc` mode's pipeline: connectors, topics, consumer groups, read models.
    pub pipeline: Option<crate::sim::world::PipelineSnapshot>,
    /// The `etl` mode's batch job.
    pub etl: Option<crate::sim::world::EtlSnapshot>,
    /// The data moved between databases by the pipeline or the ETL job, for the topology.
    pub flows: Vec<FlowView>,
    /// The run's trace hash so far: its fingerprint, which a link opened elsewhere reproduces.
    pub fingerprint: String,
}

impl PageView {
    /// What the page shows of `scenario` while its run is built elsewhere (the page's worker):
    /// its mode and modes at 0 s, and nothing yet of its services and databases.
    pub fn waiting(scenario: &crate::sim::scenario::Scenario) -> Self {
        Self {
            now: 0,
            clock: clock_text(0),
            services: Vec::new(),
            databases: Vec::new(),
            edges: Vec::new(),
            log: Vec::new(),
            console: Vec::new(),
            console_sessions: Vec::new(),
            script: None,
            lock_timeline: Vec::new(),
            timeline_window: (0, 0),
            mode: scenario.mode,
            modes: scenario.modes(),
            pipeline: None,
            etl: None,
            flows: Vec::new(),
            fingerprint: String::new(),
        }
    }
}

/// The transport's clock: milliseconds always shown, so the width never jumps ("2.550 s",
/// "1:02.550").
pub fn clock_text(now: Micros) -> String {
    let ms = now / 1_000;
    if now < 60 * SECOND {
        format!("{}.{:03} s", ms / 1_000, ms % 1_000)
    } else {
        format!("{}:{:02}.{:03}", ms / 60_000, (ms / 1_000) % 60, ms % 1_000)
    }
}

/// The page's view of `world` now.
pub fn page_view(world: &World) -> PageView {
    let snapshot = world.snapshot();
    let now = snapshot.now;
    // The last *whole* second: the one before the current one.
    let last_second = (now / SECOND).checked_sub(1);
    let lock_views: Vec<LockView> = snapshot
        .databases
        .iter()
        .map(|d| world.locks(&d.name))
        .collect();
    // Who blocks others without waiting: "orders #12" is the service orders; "console" is the
    // console client of the database whose locks name it.
    let mut blocking: Vec<String> = Vec::new();
    for (database, locks) in snapshot.databases.iter().zip(&lock_views) {
        for (who, _) in &locks.root_blockers {
            let service = who.split(" #").next().unwrap_or(who);
            blocking.push(if service == "console" {
                format!("(console) {}", database.name)
            } else {
                service.to_owned()
            });
        }
    }
    let services: Vec<ServiceView> = snapshot
        .services
        .iter()
        .filter(|s| !s.pipeline)
        .filter(|s| !s.internal || s.completed + s.errors > 0 || s.busy_connections > 0)
        .map(|s| {
            let windows = world.windows(&s.name);
            let first = (now / SECOND).saturating_sub(CHART_SECONDS);
            let seconds: Vec<(u64, u64, u64, LatencySummary)> = windows
                .iter()
                .filter(|w| w.second >= first && Some(w.second) <= last_second)
                .map(|w| (w.second, w.completed, w.errors, w.latency_ms))
                .collect();
            let last = seconds
                .last()
                .filter(|(second, ..)| Some(*second) == last_second);
            let (throughput, errors, latency) = last
                .map(|(_, c, e, l)| (*c as f64, *e as f64, *l))
                .unwrap_or_default();
            let active = !s.paused && s.operations.iter().any(|o| o.enabled && o.rate_per_s > 0.0);
            let broken = s.operations.iter().any(|o| o.broken.is_some());
            let p99s: Vec<f64> = seconds
                .iter()
                .filter(|(_, completed, ..)| *completed > 0)
                .map(|(.., latency)| latency.p99)
                .collect();
            let slow = last.is_some_and(|(_, completed, ..)| *completed > 0) && is_slow(&p99s);
            let health = if errors > 0.0 || broken {
                Health::Erroring
            } else if s.lock_waits > 0 {
                Health::Waiting
            } else if blocking.contains(&s.name) {
                Health::Blocking
            } else if slow {
                Health::Slow
            } else if !active && s.busy_connections == 0 {
                Health::Idle
            } else {
                Health::Healthy
            };
            ServiceView {
                name: s.name.clone(),
                database: s.database.clone(),
                internal: s.internal,
                health,
                paused: s.paused,
                throughput_per_s: throughput,
                errors_per_s: errors,
                latency_ms: latency,
                recent_p99_ms: seconds
                    .iter()
                    .rev()
                    .find(|(_, completed, ..)| *completed > 0)
                    .map(|(.., latency)| latency.p99),
                connections: (s.busy_connections, s.pool_size),
                rtt_ms: s.rtt as f64 / 1e3,
                waiting_for_connection: s.waiting,
                lock_waits: s.lock_waits,
                completed: s.completed,
                errors: s.errors,
                seconds,
                operations: s
                    .operations
                    .iter()
                    .map(|o| OperationView {
                        name: o.name.clone(),
                        rate_per_s: o.rate_per_s,
                        enabled: o.enabled,
                        broken: o.broken.clone(),
                    })
                    .collect(),
            }
        })
        .collect();

    let mut edges: Vec<EdgeView> = Vec::new();
    for (service, view) in snapshot
        .services
        .iter()
        .filter(|s| !s.internal)
        .zip(services.iter().filter(|v| !v.internal))
    {
        for operation in &service.operations {
            let rate = view
                .seconds
                .last()
                .filter(|(second, ..)| Some(*second) == last_second)
                .map_or(0.0, |(_, c, e, _)| (c + e) as f64);
            let tables = operation
                .reads
                .iter()
                .map(|t| (t, true, false))
                .chain(operation.writes.iter().map(|t| (t, false, true)));
            for (table, reads, writes) in tables {
                let share = rate / service.operations.len().max(1) as f64;
                // A broken operation breaks the edges of the tables its error concerns only.
                let broken = operation.broken.clone().filter(|_| {
                    operation.broken_tables.is_empty() || operation.broken_tables.contains(table)
                });
                match edges
                    .iter_mut()
                    .find(|e| e.service == service.name && &e.table == table)
                {
                    Some(edge) => {
                        edge.reads |= reads;
                        edge.writes |= writes;
                        edge.broken = edge.broken.take().or(broken);
                    }
                    None => edges.push(EdgeView {
                        service: service.name.clone(),
                        database: service.database.clone(),
                        table: table.clone(),
                        reads,
                        writes,
                        rate_per_s: share,
                        broken,
                    }),
                }
            }
        }
    }

    let databases = snapshot
        .databases
        .iter()
        .zip(lock_views)
        .map(|(d, locks)| {
            let health = if locks.waiting.is_empty() {
                Health::Healthy
            } else {
                Health::Waiting
            };
            DatabaseView {
                name: d.name.clone(),
                spec: d.spec.clone(),
                isolation: d.isolation,
                cores: (d.busy_cores, d.cores),
                queued: d.queued,
                locks,
                health,
                ssi: d.ssi.clone(),
            }
        })
        .collect();

    let narration: Vec<_> = world.narration().collect();
    let log = narration[narration.len().saturating_sub(LOG_LINES)..]
        .iter()
        .map(|h| LogLine {
            at: format_micros(h.at),
            at_us: h.at,
            kind: h.kind,
            text: match (h.count, h.longest_wait) {
                (1, 0) => h.text.clone(),
                (1, waited) => format!("{} — {}", h.text, format_micros(waited)),
                (n, 0) if h.last_at == h.at => format!("{} (×{n})", h.text),
                (n, 0) => format!("{} (×{n} until {})", h.text, format_micros(h.last_at)),
                (n, waited) => format!(
                    "{} (×{n} until {}, longest {})",
                    h.text,
                    format_micros(h.last_at),
                    format_micros(waited)
                ),
            },
            sql: h.sql.clone(),
        })
        .collect();

    let console = world
        .console_entries()
        .map(|entry| {
            let took = format_micros(
                entry
                    .finished
                    .unwrap_or(now)
                    .saturating_sub(entry.submitted),
            );
            let (state, message, rows) = match &entry.status {
                ConsoleStatus::Queued => (ConsoleState::Queued, "queued".to_owned(), None),
                ConsoleStatus::Running => (ConsoleState::Running, "running".to_owned(), None),
                ConsoleStatus::WaitingForLock(whom) => (
                    ConsoleState::Waiting,
                    format!("waiting for a lock held by {}", whom.join(", ")),
                    None,
                ),
                ConsoleStatus::Done(Ok(result)) => {
                    let rows = match &result.outcome {
                        Outcome::Rows { columns, rows } => Some((
                            columns.clone(),
                            rows.iter()
                                .take(CONSOLE_ROWS)
                                .map(|r| r.iter().map(|c| c.text.clone()).collect())
                                .collect(),
                        )),
                        _ => None,
                    };
                    (ConsoleState::Ok, result.summary(), rows)
                }
                ConsoleStatus::Done(Err(message)) => (ConsoleState::Failed, message.clone(), None),
            };
            ConsoleLine {
                id: entry.id,
                database: entry.database.clone(),
                sql: entry.sql.clone(),
                state,
                message,
                took,
                rows,
            }
        })
        .collect();
    let console_sessions = snapshot
        .databases
        .iter()
        .filter_map(|d| Some((d.name.clone(), world.console_state(&d.name)?)))
        .collect();

    let script =
        world
            .script_report()
            .zip(world.script_progress())
            .map(|(report, (next, finished))| {
                let mut sessions: Vec<String> = Vec::new();
                for step in &report.steps {
                    if !sessions.contains(&step.session) {
                        sessions.push(step.session.clone());
                    }
                }
                let levels = sessions
                    .iter()
                    .map(|s| report.levels.get(s).copied().unwrap_or_default())
                    .collect();
                ScriptView {
                    sessions,
                    levels,
                    steps: report.steps,
                    next,
                    finished,
                    committed: report.committed,
                    aborted: report.aborted,
                }
            });

    let lock_timeline = lock_timeline(world, now);
    let (pipeline, etl) = (world.pipeline_snapshot(), world.etl_snapshot());

    PageView {
        fingerprint: world.trace_hash(),
        now,
        clock: clock_text(now),
        services,
        databases,
        edges,
        log,
        console,
        console_sessions,
        script,
        lock_timeline,
        timeline_window: (now.saturating_sub(TIMELINE_SPAN), now),
        mode: world.scenario().mode,
        modes: world.scenario().modes(),
        flows: flows(pipeline.as_ref(), etl.as_ref()),
        pipeline,
        etl,
    }
}

/// The lock-wait timeline from the world's lock events: per transaction, the span it held
/// locks and its waits, for those that waited or were waited for in the last
/// [`TIMELINE_SPAN`] (the longest waits first, at most [`TIMELINE_ROWS`]).
fn lock_timeline(world: &World, now: Micros) -> Vec<TimelineRow> {
    let from = now.saturating_sub(TIMELINE_SPAN);
    let mut rows: Vec<TimelineRow> = Vec::new();
    let mut blockers: Vec<String> = Vec::new();
    for event in world.lock_events() {
        let index = match rows
            .iter()
            .rposition(|r| r.who == event.who && r.database == event.database && r.held.1.is_none())
        {
            Some(index) => index,
            None => {
                rows.push(TimelineRow {
                    who: event.who.clone(),
                    database: event.database.clone(),
                    held: (event.at, None),
                    waits: Vec::new(),
                });
                rows.len() - 1
            }
        };
        let row = &mut rows[index];
        match event.kind {
            LockEventKind::Waited => {
                row.waits.push((
                    event.at,
                    None,
                    format!("{} on {}", event.mode, event.resource),
                ));
                blockers.extend(event.others.iter().cloned());
            }
            LockEventKind::GrantedAfterWait => {
                if let Some(wait) = row.waits.iter_mut().rev().find(|w| w.1.is_none()) {
                    wait.1 = Some(event.at);
                }
            }
            LockEventKind::TimedOut | LockEventKind::Deadlock => {
                if let Some(wait) = row.waits.iter_mut().rev().find(|w| w.1.is_none()) {
                    wait.1 = Some(event.at);
                }
            }
            LockEventKind::Released => row.held.1 = Some(event.at),
            LockEventKind::Granted => {}
        }
    }
    let mut kept: Vec<TimelineRow> = rows
        .into_iter()
        .filter(|r| r.held.1.is_none_or(|end| end >= from))
        .filter(|r| !r.waits.is_empty() || blockers.contains(&r.who))
        .map(|mut r| {
            r.held.0 = r.held.0.max(from);
            r
        })
        .collect();
    let waited = |r: &TimelineRow| -> Micros {
        r.waits
            .iter()
            .map(|(start, end, _)| end.unwrap_or(now).saturating_sub(*start))
            .sum()
    };
    // Those who made others wait come first (without them a wait has no cause on the chart),
    // the more waits they caused the earlier; then the longest waiters.
    let caused = |r: &TimelineRow| blockers.iter().filter(|b| **b == r.who).count();
    kept.sort_by_key(|r| {
        (
            std::cmp::Reverse(caused(r).min(1)),
            std::cmp::Reverse(waited(r)),
        )
    });
    kept.truncate(TIMELINE_ROWS);
    kept.sort_by_key(|r| r.held.0);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scenario::Scenario;
    use crate::sim::world::Command;

    fn world() -> World {
        let scenario = Scenario::parse(
            r#"
format_version = 1
name = "tiny"
# The services on the database's host: 100 two-statement transactions a second on three rows
# would otherwise hold their row locks across round trips and wait for each other.
network = { rtt = "0ms", jitter = "0ms" }
[[databases]]
name = "db"
setup = ["CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)",
         "CREATE TABLE log (id INTEGER PRIMARY KEY, note TEXT)",
         "INSERT INTO t VALUES (1, 0), (2, 0), (3, 0)"]
[[services]]
name = "writer"
database = "db"
[[services.operations]]
name = "bump"
rate_per_s = 100
statements = ["UPDATE t SET v = v + 1 WHERE id = {id}", "INSERT INTO log VALUES ({n}, 'x')"]
params.id = { existing_key = "t.id" }
params.n = { next_id = "log.id" }
[[services]]
name = "reader"
database = "db"
[[services.operations]]
name = "look"
rate_per_s = 50
statements = ["SELECT v FROM t WHERE id = {id}"]
params.id = { existing_key = "t.id" }
"#,
        )
        .expect("valid");
        World::new(&scenario).expect("builds")
    }

    #[test]
    fn the_page_reads_throughput_latency_and_edges() {
        let mut world = world();
        world.step_until(3 * SECOND);
        let view = page_view(&world);
        assert_eq!(view.clock, "3.000 s");
        assert_eq!(clock_text(62_345_000), "1:02.345");
        let writer = &view.services[0];
        assert!(writer.throughput_per_s > 0.0);
        assert!(writer.latency_ms.p99 >= writer.latency_ms.p50);
        assert_eq!(writer.health, Health::Healthy);
        assert_eq!(writer.seconds.len(), 3, "three whole seconds so far");
        let edge = |service: &str, table: &str| {
            view.edges
                .iter()
                .find(|e| e.service == service && e.table == table)
                .cloned()
                .unwrap_or_else(|| panic!("no edge {service} → {table}: {:?}", view.edges))
        };
        assert!(edge("writer", "t").writes && edge("writer", "log").writes);
        assert!(edge("reader", "t").reads && !edge("reader", "t").writes);
        assert!(edge("reader", "t").rate_per_s > 0.0);
        assert_eq!(view.services.len(), 2, "the timeline client stays hidden");
    }

    #[test]
    fn the_lock_timeline_shows_the_alter_waiting_behind_the_report() {
        let text = crate::sim::builtin::scenario_text("alter-queue").expect("built in");
        let scenario = Scenario::parse(text).expect("valid");
        let mut world = World::new(&scenario).expect("builds");
        world.step_until(2_550_000);
        let view = page_view(&world);
        let alter = view
            .lock_timeline
            .iter()
            .find(|r| r.who.starts_with("(timeline)"))
            .expect("the migration waited");
        assert_eq!(alter.waits.len(), 1);
        let (start, end, what) = &alter.waits[0];
        assert!(end.is_none(), "still waiting at 2.55 s");
        assert!(
            *start >= 2_500_000 && what.starts_with("ACCESS EXCLUSIVE"),
            "{what} from {start}"
        );
        assert!(
            view.lock_timeline
                .iter()
                .any(|r| r.who.starts_with("reporting") && r.waits.is_empty()),
            "the report it waits for is on the timeline too: {:?}",
            view.lock_timeline
                .iter()
                .map(|r| &r.who)
                .collect::<Vec<_>>()
        );
        assert!(view.lock_timeline.len() <= TIMELINE_ROWS);
    }

    #[test]
    fn a_renamed_column_breaks_the_readers_edge_and_the_log_says_why() {
        let mut world = world();
        world.step_until(SECOND);
        world
            .apply(Command::RunSql {
                database: "db".into(),
                sql: "ALTER TABLE t RENAME COLUMN v TO value".into(),
            })
            .expect("applies");
        world.step_until(3 * SECOND);
        let view = page_view(&world);
        let reader = view
            .services
            .iter()
            .find(|s| s.name == "reader")
            .expect("reader");
        assert_eq!(reader.health, Health::Erroring);
        let broken = view
            .edges
            .iter()
            .find(|e| e.service == "reader" && e.table == "t")
            .and_then(|e| e.broken.clone())
            .expect("the reader's edge is broken");
        assert!(broken.1.contains("SELECT v FROM t"), "{broken:?}");
        // The writer's transaction breaks on t; its edge to log, which lost nothing, stays whole.
        let writer_edge = |table: &str| {
            view.edges
                .iter()
                .find(|e| e.service == "writer" && e.table == table)
                .cloned()
                .expect("the writer's edge")
        };
        assert!(writer_edge("t").broken.is_some());
        assert!(writer_edge("log").broken.is_none());
        let line = view
            .log
            .iter()
            .find(|l| l.kind == NarrationKind::SchemaBreak && l.text.starts_with("reader"))
            .expect("the reader's schema break in the log");
        assert!(
            line.text.starts_with("reader.look failed (schema)"),
            "{}",
            line.text
        );
        assert!(
            line.text.contains("×"),
            "repeats are counted: {}",
            line.text
        );
        assert!(view.log.iter().any(|l| l.kind == NarrationKind::Action
            && l.text.contains("ALTER TABLE t RENAME COLUMN v TO value")));
    }
}
