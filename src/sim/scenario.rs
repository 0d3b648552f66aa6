//! Scenario files: what an instructor writes to describe a system — databases, services and
//! their operations, a timeline of actions — in TOML (or JSON), checked with clear errors.
//!
//! The types here are the format: serde reads them, `schemars` turns them into the JSON Schema
//! that documents the format (`dataflow-lab schema`). Every error names the field by its path
//! (`services[1].operations[0].rate_per_s`) and, for TOML, its line and column. Unknown fields
//! are errors, so a typo never passes silently. References between parts (a service's database,
//! a timeline action's service) are checked after reading; the tables a template uses are
//! checked when the world is built, against the real database.

use crate::sim::clock::SimDuration;
use crate::sim::cost::CostModel;
use crate::sim::scenario_text::{json_keys_unique, line_col, locate_json, locate_toml};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use thiserror::Error;

/// The format version this build reads.
pub const FORMAT_VERSION: u32 = 1;

/// A whole scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The version of this format; must be 1.
    pub format_version: u32,
    /// A short identifier (`shop`), used by `dataflow-lab run NAME` and in links.
    pub name: String,
    /// A human title.
    #[serde(default)]
    pub title: Option<String>,
    /// What the scenario shows, in Markdown (rendered without raw HTML).
    #[serde(default)]
    pub description: Option<String>,
    /// What to watch, in one sentence (Markdown): the page shows it above the panels, so a
    /// student who just pressed play knows where to look.
    #[serde(default)]
    pub watch: Option<String>,
    /// The seed of every random choice; a run is fully determined by scenario and seed.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// How long a run lasts unless told otherwise.
    #[serde(default = "default_duration")]
    pub duration: SimDuration,
    /// The databases.
    pub databases: Vec<DatabaseSpec>,
    /// The services that use them.
    #[serde(default)]
    pub services: Vec<ServiceSpec>,
    /// Actions at given times: migrations, rate changes, pauses.
    #[serde(default)]
    pub timeline: Vec<TimelineEntry>,
    /// Scripted sessions: an explicit interleaving of statements, for step-by-step demos.
    #[serde(default)]
    pub script: Option<crate::sim::script::ScriptSpec>,
    /// How the services share data: `shared` (one database), `owned` (one writer per table) or
    /// `cdc` (a database per service, read models fed by change data capture). The command line's
    /// `--mode` and the page's switch override it.
    #[serde(default)]
    pub mode: crate::sim::modes::Mode,
    /// The CDC pipeline's settings, for the `cdc` mode.
    #[serde(default)]
    pub cdc: crate::sim::modes::CdcSpec,
    /// The ETL batch job's settings, for the `etl` mode.
    #[serde(default)]
    pub etl: crate::sim::modes::EtlSpec,
    /// A sweep over scale (`[sweep]`): more copies of some services, or more load, for
    /// `dataflow-lab sweep` and the page's sweep panel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<crate::sim::sweep::SweepSpec>,
    /// The network every statement and message crosses: a round-trip time and jitter, and
    /// links that differ (`[network]`, `[[network.links]]`).
    #[serde(default)]
    pub network: crate::sim::network::NetworkSpec,
    /// A seeded random fault schedule for soak runs (`dataflow-lab soak`): connector and
    /// consumer crashes, slow consumers.
    #[serde(default)]
    pub faults: Option<crate::sim::faults::FaultSpec>,
    /// Domain events, per aggregate type (`[events.order]`): in the `events` mode the owner of
    /// each table writes them into its outbox and the relay publishes them to
    /// `outbox.event.<aggregate>`; readers keep their read models from them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub events: BTreeMap<String, crate::sim::events::EventSpec>,
    /// What to watch in the `events` mode, in one sentence (Markdown): the page shows it instead
    /// of `watch` when the run is in `events`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_watch: Option<String>,
    /// Named stretches of the run (`[[phases]]`) that expectations compare: `before report`,
    /// `during report`, `after rename`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<crate::sim::expectation::PhaseSpec>,
    /// What the run is expected to show (`[[expect]]`), checked by `dataflow-lab check` and
    /// shown on the page as checkpoints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<crate::sim::expectation::ExpectSpec>,
    /// What makes it a lesson: the course text's section, a question to answer before running,
    /// what to try next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lesson: Option<crate::sim::lesson::LessonSpec>,
}

fn default_seed() -> u64 {
    42
}

fn default_duration() -> SimDuration {
    SimDuration(60_000_000)
}

/// A database node: a storage engine plus cores, a connection limit and a cost model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSpec {
    /// Its name, which services refer to.
    pub name: String,
    /// How many statements execute at once; the rest queue.
    #[serde(default = "default_cores", deserialize_with = "positive_u32")]
    #[schemars(range(min = 1))]
    pub cores: u32,
    /// How many connections it accepts.
    #[serde(default = "default_max_connections", deserialize_with = "positive_u32")]
    #[schemars(range(min = 1))]
    pub max_connections: u32,
    /// How much simulated time the work of a statement costs.
    #[serde(default)]
    pub cost: CostModel,
    /// The isolation level: `snapshot` (MVCC, the default), `read_committed` or `serializable`
    /// (locking: reads take shared locks).
    #[serde(default)]
    pub isolation: crate::sim::lock_plan::Isolation,
    /// The shop's tables and generated rows (`[databases.shop]`), sized as given.
    #[serde(default)]
    pub shop: Option<ShopSpec>,
    /// SQL run once at start, in order (after the shop, if any).
    #[serde(default)]
    pub setup: Vec<String>,
    /// SQL to suggest in the page's console for this database: something to try that shows
    /// the scenario's point (`BEGIN; UPDATE jobs …` to hold locks the services need).
    #[serde(default)]
    pub console_example: Option<String>,
}

fn default_cores() -> u32 {
    4
}

fn default_max_connections() -> u32 {
    100
}

/// The size of the generated shop data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShopSpec {
    /// Rows in `customers`.
    #[serde(default = "default_customers", deserialize_with = "positive_usize")]
    pub customers: usize,
    /// Rows in `orders`.
    #[serde(default = "default_orders", deserialize_with = "positive_usize")]
    pub orders: usize,
    /// Rows in `jobs`.
    #[serde(default = "default_jobs", deserialize_with = "positive_usize")]
    pub jobs: usize,
}

fn default_customers() -> usize {
    60
}
fn default_orders() -> usize {
    240
}
fn default_jobs() -> usize {
    40
}

/// A service: a named workload with a connection pool and operations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Its name.
    pub name: String,
    /// The database it connects to.
    pub database: String,
    /// Connections in its pool; an operation waits for a free one.
    #[serde(default = "default_pool", deserialize_with = "positive_u32")]
    #[schemars(range(min = 1))]
    pub pool_size: u32,
    /// An operation that has not finished after this long fails with a timeout.
    #[serde(default = "default_timeout")]
    pub timeout: SimDuration,
    /// A statement that waits this long for a lock fails (`lock_timeout`); none by default.
    #[serde(default)]
    pub lock_timeout: Option<SimDuration>,
    /// A statement that takes longer than this, lock waits included, is cancelled
    /// (`statement_timeout`); none by default.
    #[serde(default)]
    pub statement_timeout: Option<SimDuration>,
    /// The isolation level of its transactions, if not its database's.
    #[serde(default)]
    pub isolation: Option<crate::sim::lock_plan::Isolation>,
    /// How many times a failed operation is tried again.
    #[serde(default)]
    pub retries: u32,
    /// The wait before a retry.
    #[serde(default = "default_backoff")]
    pub retry_backoff: SimDuration,
    /// What it does.
    #[serde(default)]
    pub operations: Vec<OperationSpec>,
    /// The tables it owns: the only ones it may write in the `owned` and `cdc` modes (in `cdc`
    /// they live in its own database; the others it reads become read models there).
    #[serde(default)]
    pub owns: Vec<String>,
    /// What it is for: `operational` (the default) or `analytics` (a reporting service: in
    /// the `etl` mode it reads the analytics database the batch job refreshes).
    #[serde(default)]
    pub role: crate::sim::modes::Role,
    /// In the `cdc` mode, the columns a read model keeps, per table it reads and another
    /// service owns (`orders = ["id", "status", "total_cents"]`; the primary key must be
    /// among them); a table not listed keeps every column.
    #[serde(default)]
    pub read_models: BTreeMap<String, Vec<String>>,
    /// In the `cdc` mode, read models defined by SQL and maintained incrementally from the
    /// change events: name → a `GROUP BY` query over one table another service owns
    /// (`revenue_by_status = "SELECT status, COUNT(*) AS orders, SUM(total_cents) AS
    /// revenue_cents FROM orders GROUP BY status"`). A statement of the service that is this
    /// query reads the projection instead; other modes run the query itself.
    #[serde(default)]
    pub projections: BTreeMap<String, String>,
    /// In the `events` mode, tables it keeps reading as raw change events (CDC of the owner's
    /// table, mapped column by column) although the owner publishes domain events for them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub raw_changes: Vec<String>,
}

fn default_pool() -> u32 {
    4
}
fn default_timeout() -> SimDuration {
    SimDuration(5_000_000)
}
fn default_backoff() -> SimDuration {
    SimDuration(10_000)
}

/// One operation: a transaction of SQL templates, arriving as a Poisson process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OperationSpec {
    /// Its name.
    pub name: String,
    /// Average arrivals per second.
    #[serde(deserialize_with = "positive_f64")]
    #[schemars(range(min = 0.0))]
    pub rate_per_s: f64,
    /// Whether it runs from the start (a timeline action can start it later).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Time the service spends between two statements of the operation.
    #[serde(default)]
    pub think_time: SimDuration,
    /// The SQL templates, run in order as one transaction. `{name}` is replaced by the
    /// parameter `name`, `{now}` by the simulated time as a timestamp literal's text,
    /// `{now_us}` by the simulated time in microseconds.
    pub statements: Vec<String>,
    /// How each `{name}` of the templates gets its value.
    #[serde(default)]
    pub params: BTreeMap<String, ParamSpec>,
}

fn yes() -> bool {
    true
}

/// Where a template parameter's value comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ParamSpec {
    /// The next id of `table.column`: one more than the largest at start, then counting up.
    NextId(String),
    /// A uniform integer in `[low, high]`.
    Uniform([i64; 2]),
    /// A zipf-distributed integer in `1..=n`: a few hot keys get most of the traffic.
    Zipf {
        /// How many distinct values.
        n: u64,
        /// How skewed (1.0 is classic zipf; larger is hotter).
        exponent: f64,
    },
    /// A key of `table.column` between its smallest value at start and its largest so far.
    ExistingKey(String),
    /// One of the listed texts, uniformly.
    Choice(Vec<String>),
}

/// What a timeline action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Run `sql` on `database` (a migration, a manual report).
    Sql,
    /// Set `service`'s `operation` to `rate_per_s`.
    SetRate,
    /// Start `service`'s `operation`.
    StartOperation,
    /// Stop `service`'s `operation`.
    StopOperation,
    /// Pause `service`: nothing new starts until it resumes.
    PauseService,
    /// Resume a paused `service`.
    ResumeService,
    /// `cdc`: stop `connector` gracefully (its slot keeps the source's log).
    StopConnector,
    /// `cdc`: start `connector` again from its last flushed offset.
    StartConnector,
    /// `cdc`: crash `connector` (what followed its last flush is sent again).
    CrashConnector,
    /// `cdc`: pause the consumer of `group`.
    PauseConsumer,
    /// `cdc`: resume the consumer of `group`.
    ResumeConsumer,
    /// `cdc`: crash the consumer of `group`.
    CrashConsumer,
    /// `cdc`: rebuild `group`'s read models from offset 0.
    RebuildReadModels,
    /// `etl`: start the ETL job's copy now.
    RunEtl,
    /// `cdc`, `events`: the broker is down for `duration`: nothing is produced or fetched, and
    /// the pipeline resumes where it stopped.
    BrokerOutage,
    /// `cdc`, `events`: `group`'s consumer takes `delay` longer per message (`0s`: normal again).
    SlowConsumer,
}

/// An action at a time. Which fields it needs depends on `action`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimelineEntry {
    /// When, from the start of the run.
    pub at: SimDuration,
    /// What.
    pub action: ActionKind,
    /// For `sql`: the database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// For `sql`: the statements (separated by `;`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// For service actions: the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// For operation actions: the operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// For `set_rate`: the new rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_s: Option<f64>,
    /// For connector actions: the connector (`<service>-connector`, for a service that owns
    /// tables others read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector: Option<String>,
    /// For consumer actions: the consumer group (the reading service's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// For `broker_outage`: how long the broker is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<SimDuration>,
    /// For `slow_consumer`: the extra time per message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<SimDuration>,
}

fn positive_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = f64::deserialize(d)?;
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(serde::de::Error::custom(format!(
            "must be a positive number, got {value}"
        )))
    }
}

fn positive_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let value = i64::deserialize(d)?;
    match u32::try_from(value) {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(serde::de::Error::custom(format!(
            "must be a whole number of at least 1, got {value}"
        ))),
    }
}

fn positive_usize<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    positive_u32(d).map(|v| v as usize)
}

/// A problem with a scenario file, with where it is (it travels to the page as it is, see
/// [`crate::sim::run_requests`]).
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub struct ScenarioError {
    /// Line (1-based), when known.
    pub line: Option<usize>,
    /// Column (1-based), when known.
    pub column: Option<usize>,
    /// The field's path (`services[1].operations[0].rate_per_s`), empty for the whole file.
    pub path: String,
    /// What is wrong, in plain words.
    pub message: String,
    /// Where inside the field's text the problem is (1-based, in characters), for a field that
    /// has a grammar of its own (an expectation): [`ScenarioError::located_in`] adds it to the
    /// column.
    pub within: Option<usize>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "line {line}, column {column}: ")?,
            (Some(line), None) => write!(f, "line {line}: ")?,
            _ => {}
        }
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else if self.message.starts_with("must") || self.message.starts_with("is ") {
            write!(f, "{} {}", self.path, self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl ScenarioError {
    /// Adds the line and column of the error's field in `text` (a TOML or JSON scenario), if
    /// it has none yet and the field is found there.
    pub fn located_in(mut self, text: &str) -> Self {
        if self.line.is_none() {
            let found = match Syntax::sniff(text) {
                Syntax::Toml => locate_toml(text, &self.path),
                Syntax::Json => locate_json(text, &self.path),
            };
            if let Some((line, column)) = found {
                self.line = Some(line);
                // Past the opening quote of a one-line string.
                self.column = Some(column + self.within.unwrap_or(0));
            }
        }
        self
    }

    /// An error at `path` (no line: found after reading).
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            line: None,
            column: None,
            path: path.into(),
            message: message.into(),
            within: None,
        }
    }
}

/// Which syntax a scenario file is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// TOML (`.toml`), the usual one.
    Toml,
    /// JSON (`.json`).
    Json,
}

impl Syntax {
    /// Guesses the syntax from the text: JSON starts with `{`.
    pub fn sniff(text: &str) -> Self {
        if text.trim_start().starts_with('{') {
            Self::Json
        } else {
            Self::Toml
        }
    }
}

impl Scenario {
    /// The integration modes this scenario can run in: `shared` always; `owned` and `cdc` when
    /// its services say which tables they own (and, for `cdc`, it has no script).
    pub fn modes(&self) -> Vec<crate::sim::modes::Mode> {
        use crate::sim::modes::Mode;
        let owners = self.services.iter().any(|s| !s.owns.is_empty());
        Mode::ALL
            .into_iter()
            .filter(|m| match m {
                Mode::Shared => true,
                Mode::Owned => owners,
                Mode::Cdc => owners && self.script.is_none(),
                Mode::Events => owners && self.script.is_none() && !self.events.is_empty(),
                Mode::Etl => {
                    self.script.is_none()
                        && self
                            .services
                            .iter()
                            .any(|s| s.role == crate::sim::modes::Role::Analytics)
                }
            })
            .collect()
    }

    /// The modes in which some expectation is checked (an expectation that names no mode is
    /// checked in every mode the scenario runs in): where a run can show the lesson's answer.
    pub fn modes_with_expectations(&self) -> Vec<crate::sim::modes::Mode> {
        self.modes()
            .into_iter()
            .filter(|mode| {
                self.expect
                    .iter()
                    .any(|e| e.modes.is_empty() || e.modes.contains(mode))
            })
            .collect()
    }

    /// Reads and checks a scenario, TOML or JSON (sniffed).
    ///
    /// # Errors
    ///
    /// A [`ScenarioError`] naming the field and, where known, the line.
    pub fn parse(text: &str) -> Result<Self, ScenarioError> {
        let scenario = match Syntax::sniff(text) {
            Syntax::Toml => Self::read_toml(text)?,
            Syntax::Json => Self::read_json(text)?,
        };
        scenario.check().map_err(|error| error.located_in(text))?;
        Ok(scenario)
    }

    /// Reads TOML into a JSON value first, then the scenario from that value: the scenario's
    /// many types are then read through one deserializer only, which keeps the page's
    /// WebAssembly small (each deserializer copies every type's reading code).
    fn read_toml(text: &str) -> Result<Self, ScenarioError> {
        let value = toml::from_str::<serde_json::Value>(text).map_err(|error| {
            let (line, column) = error
                .span()
                .map(|span| line_col(text, span.start))
                .map_or((None, None), |(l, c)| (Some(l), Some(c)));
            ScenarioError {
                line,
                column,
                path: String::new(),
                message: error.message().trim().to_owned(),
                within: None,
            }
        })?;
        Self::from_value(value).map_err(|error| error.located_in(text))
    }

    fn read_json(text: &str) -> Result<Self, ScenarioError> {
        let value = json_keys_unique(text)
            .and_then(|()| serde_json::from_str::<serde_json::Value>(text))
            .map_err(|error| {
                let message = error.to_string();
                let message = message
                    .rsplit_once(" at line ")
                    .map_or(message.as_str(), |(m, _)| m)
                    .to_owned();
                ScenarioError {
                    line: Some(error.line()),
                    column: Some(error.column()),
                    path: String::new(),
                    message,
                    within: None,
                }
            })?;
        Self::from_value(value).map_err(|error| error.located_in(text))
    }

    /// Reads the scenario from a parsed value, naming the field of any error by its path.
    fn from_value(value: serde_json::Value) -> Result<Self, ScenarioError> {
        serde_path_to_error::deserialize(value).map_err(|error| {
            let path = clean_path(&error.path().to_string());
            ScenarioError::at(path, error.into_inner().to_string())
        })
    }

    /// Checks what the types cannot: the version, unique names and references between parts.
    ///
    /// # Errors
    ///
    /// The first problem found, with the field's path (no line: [`Scenario::parse`] adds it).
    pub fn check(&self) -> Result<(), ScenarioError> {
        if self.format_version != FORMAT_VERSION {
            return Err(ScenarioError::at(
                "format_version",
                format!(
                    "must be {FORMAT_VERSION}, got {} (this build reads version {FORMAT_VERSION})",
                    self.format_version
                ),
            ));
        }
        if self.name.trim().is_empty() {
            return Err(ScenarioError::at("name", "must not be empty"));
        }
        if self.databases.is_empty() {
            return Err(ScenarioError::at(
                "databases",
                "must list at least one database",
            ));
        }
        unique(self.databases.iter().map(|d| d.name.as_str()), "databases")?;
        unique(self.services.iter().map(|s| s.name.as_str()), "services")?;
        let databases: BTreeSet<&str> = self.databases.iter().map(|d| d.name.as_str()).collect();
        for (i, service) in self.services.iter().enumerate() {
            let at = format!("services[{i}]");
            if !databases.contains(service.database.as_str()) {
                return Err(ScenarioError::at(
                    format!("{at}.database"),
                    format!(
                        "is \"{}\", which is not one of the databases ({})",
                        service.database,
                        join(&databases)
                    ),
                ));
            }
            unique(
                service.operations.iter().map(|o| o.name.as_str()),
                &format!("{at}.operations"),
            )?;
            for (j, operation) in service.operations.iter().enumerate() {
                check_operation(operation, &format!("{at}.operations[{j}]"))?;
            }
        }
        for (i, entry) in self.timeline.iter().enumerate() {
            self.check_entry(entry, &format!("timeline[{i}]"))?;
        }
        self.check_cdc()?;
        if let Some(sweep) = &self.sweep {
            sweep.axis(self).map_err(|e| match e {
                crate::sim::sweep::SweepError::Invalid { field, message } => {
                    ScenarioError::at(format!("sweep.{field}"), message)
                }
                crate::sim::sweep::SweepError::NoSweep => {
                    ScenarioError::at("sweep", "must give services (with clone) or load")
                }
                other => ScenarioError::at("sweep", other.to_string()),
            })?;
        }
        self.network.check(
            &self
                .services
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>(),
            // The etl mode's analytics database is a node too.
            &self
                .databases
                .iter()
                .map(|d| d.name.as_str())
                .chain([self.etl.database.as_str()])
                .collect::<Vec<_>>(),
        )?;
        crate::sim::expectation_rules::check_expectations(self)?;
        if let Some(lesson) = &self.lesson {
            lesson.check().map_err(|(field, message)| {
                ScenarioError::at(format!("lesson.{field}"), message)
            })?;
            match lesson.shown_by {
                crate::sim::lesson::ShownBy::Sweep if self.sweep.is_none() => {
                    return Err(ScenarioError::at(
                        "lesson.shown_by",
                        "is \"sweep\", but the scenario has no [sweep] to run",
                    ))
                }
                crate::sim::lesson::ShownBy::Compare if self.modes().len() < 2 => {
                    return Err(ScenarioError::at(
                        "lesson.shown_by",
                        "is \"compare\", but the scenario runs in one mode only: nothing to compare",
                    ))
                }
                _ => {}
            }
        }
        if let Some(script) = &self.script {
            if !databases.contains(script.database.as_str()) {
                return Err(ScenarioError::at(
                    "script.database",
                    format!(
                        "is \"{}\", which is not one of the databases ({})",
                        script.database,
                        join(&databases)
                    ),
                ));
            }
            if script.steps.is_empty() {
                return Err(ScenarioError::at(
                    "script.steps",
                    "must list at least one step",
                ));
            }
            for (i, step) in script.steps.iter().enumerate() {
                if step.session.trim().is_empty() {
                    return Err(ScenarioError::at(
                        format!("script.steps[{i}].session"),
                        "must not be empty",
                    ));
                }
                if crate::sim::sql_script::split_statements(&step.sql).len() != 1 {
                    return Err(ScenarioError::at(
                        format!("script.steps[{i}].sql"),
                        "must hold exactly one SQL statement",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The `[cdc]` settings within what a run can take: 1–64 partitions, intervals of at least
    /// a millisecond and at most an hour, batches of at least one.
    fn check_cdc(&self) -> Result<(), ScenarioError> {
        let cdc = &self.cdc;
        if !(1..=64).contains(&cdc.partitions) {
            return Err(ScenarioError::at(
                "cdc.partitions",
                format!("must be 1 to 64, got {}", cdc.partitions),
            ));
        }
        let hour = 3_600_000_000;
        for (field, value) in [
            ("poll_interval", cdc.poll_interval),
            ("offset_flush_interval", cdc.offset_flush_interval),
            ("consumer_poll_interval", cdc.consumer_poll_interval),
            ("cleaner_interval", cdc.cleaner_interval),
        ] {
            if !(1_000..=hour).contains(&value.micros()) {
                return Err(ScenarioError::at(
                    format!("cdc.{field}"),
                    "must be between 1ms and 1h",
                ));
            }
        }
        if let Some(faults) = &self.faults {
            for (field, value) in [("every", faults.every), ("duration", faults.duration)] {
                if !(1_000..=hour).contains(&value.micros()) {
                    return Err(ScenarioError::at(
                        format!("faults.{field}"),
                        "must be between 1ms and 1h",
                    ));
                }
            }
        }
        for (field, value) in [
            ("broker_latency", cdc.broker_latency),
            ("rebalance_time", cdc.rebalance_time),
            ("event_cost", cdc.event_cost),
            ("publish_jitter", cdc.publish_jitter),
        ] {
            if value.micros() > hour {
                return Err(ScenarioError::at(
                    format!("cdc.{field}"),
                    "must be at most 1h",
                ));
            }
        }
        if cdc.batch_size == 0 || cdc.max_poll_records == 0 {
            let field = if cdc.batch_size == 0 {
                "batch_size"
            } else {
                "max_poll_records"
            };
            return Err(ScenarioError::at(
                format!("cdc.{field}"),
                "must be at least 1",
            ));
        }
        Ok(())
    }

    fn check_entry(&self, entry: &TimelineEntry, at: &str) -> Result<(), ScenarioError> {
        let need = |field: &str, value: &Option<String>| -> Result<String, ScenarioError> {
            value.clone().ok_or_else(|| {
                ScenarioError::at(
                    format!("{at}.{field}"),
                    format!("is required for action \"{}\"", action_name(entry.action)),
                )
            })
        };
        match entry.action {
            ActionKind::Sql => {
                let database = need("database", &entry.database)?;
                need("sql", &entry.sql)?;
                if !self.databases.iter().any(|d| d.name == database) {
                    return Err(ScenarioError::at(
                        format!("{at}.database"),
                        format!("is \"{database}\", which is not a database of this scenario"),
                    ));
                }
            }
            ActionKind::StopConnector | ActionKind::StartConnector | ActionKind::CrashConnector => {
                let connector = need("connector", &entry.connector)?;
                let known = self
                    .services
                    .iter()
                    .any(|s| !s.owns.is_empty() && format!("{}-connector", s.name) == connector);
                if !known {
                    let names: Vec<String> = self
                        .services
                        .iter()
                        .filter(|s| !s.owns.is_empty())
                        .map(|s| format!("{}-connector", s.name))
                        .collect();
                    return Err(ScenarioError::at(
                        format!("{at}.connector"),
                        format!(
                            "is \"{connector}\", which is not a connector of this scenario (a service \
                             that owns tables has one: {})",
                            names.join(", ")
                        ),
                    ));
                }
            }
            ActionKind::RunEtl => {}
            ActionKind::BrokerOutage => {
                let duration = entry.duration.ok_or_else(|| {
                    ScenarioError::at(format!("{at}.duration"), "is needed by broker_outage")
                })?;
                if !(1_000..=3_600_000_000).contains(&duration.micros()) {
                    return Err(ScenarioError::at(
                        format!("{at}.duration"),
                        "must be between 1ms and 1h",
                    ));
                }
            }
            ActionKind::SlowConsumer if entry.delay.is_none_or(|d| d.micros() > 60_000_000) => {
                return Err(ScenarioError::at(
                    format!("{at}.delay"),
                    "is needed by slow_consumer: the extra time per message, at most 1m (0s: normal \
                     speed)",
                ));
            }
            ActionKind::PauseConsumer
            | ActionKind::SlowConsumer
            | ActionKind::ResumeConsumer
            | ActionKind::CrashConsumer
            | ActionKind::RebuildReadModels => {
                let group = need("group", &entry.group)?;
                if !self.services.iter().any(|s| s.name == group) {
                    return Err(ScenarioError::at(
                        format!("{at}.group"),
                        format!(
                            "is \"{group}\", which is not a service of this scenario (a consumer \
                             group is named after the service it feeds)"
                        ),
                    ));
                }
            }
            kind => {
                let service_name = need("service", &entry.service)?;
                let service =
                    self.services
                        .iter()
                        .find(|s| s.name == service_name)
                        .ok_or_else(|| {
                            ScenarioError::at(
                        format!("{at}.service"),
                        format!("is \"{service_name}\", which is not a service of this scenario"),
                    )
                        })?;
                if matches!(
                    kind,
                    ActionKind::SetRate | ActionKind::StartOperation | ActionKind::StopOperation
                ) {
                    let operation = need("operation", &entry.operation)?;
                    if !service.operations.iter().any(|o| o.name == operation) {
                        return Err(ScenarioError::at(
                            format!("{at}.operation"),
                            format!(
                                "is \"{operation}\", which is not an operation of {service_name}"
                            ),
                        ));
                    }
                }
                if kind == ActionKind::SetRate {
                    match entry.rate_per_s {
                        Some(rate) if rate.is_finite() && rate >= 0.0 => {}
                        Some(rate) => {
                            return Err(ScenarioError::at(
                                format!("{at}.rate_per_s"),
                                format!("must be zero or a positive number, got {rate}"),
                            ))
                        }
                        None => {
                            return Err(ScenarioError::at(
                                format!("{at}.rate_per_s"),
                                "is required for action \"set_rate\"",
                            ))
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The JSON Schema of the format, pretty-printed.
    pub fn json_schema() -> String {
        let schema = schemars::schema_for!(Scenario);
        serde_json::to_string_pretty(&schema).unwrap_or_default()
    }
}

fn action_name(kind: ActionKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn check_operation(operation: &OperationSpec, at: &str) -> Result<(), ScenarioError> {
    if operation.statements.is_empty() {
        return Err(ScenarioError::at(
            format!("{at}.statements"),
            "must list at least one SQL statement",
        ));
    }
    for (name, param) in &operation.params {
        let field = format!("{at}.params.{name}");
        match param {
            ParamSpec::NextId(target) | ParamSpec::ExistingKey(target)
                if target.split('.').count() != 2 || target.split('.').any(str::is_empty) =>
            {
                return Err(ScenarioError::at(
                    field,
                    format!("must name a column as \"table.column\", got \"{target}\""),
                ));
            }
            ParamSpec::Uniform([low, high]) if low > high => {
                return Err(ScenarioError::at(
                    field,
                    format!("must have low <= high, got [{low}, {high}]"),
                ));
            }
            ParamSpec::Zipf { n, exponent }
                if *n == 0 || !exponent.is_finite() || *exponent <= 0.0 =>
            {
                return Err(ScenarioError::at(
                    field,
                    "must have n >= 1 and a positive exponent",
                ));
            }
            ParamSpec::Choice(options) if options.is_empty() => {
                return Err(ScenarioError::at(field, "must list at least one choice"));
            }
            _ => {}
        }
    }
    for (k, template) in operation.statements.iter().enumerate() {
        let after_a_query = operation.statements[..k].iter().any(|t| {
            crate::sim::results::StatementKind::of(t) == crate::sim::results::StatementKind::Query
        });
        if let Some(column) = crate::sim::params::row_placeholders(template).next() {
            if !after_a_query {
                return Err(ScenarioError::at(
                    format!("{at}.statements[{k}]"),
                    format!("uses {{row.{column}}}, but no SELECT comes before it in this operation (it takes the previous query's first row)"),
                ));
            }
        }
        for placeholder in crate::sim::params::placeholders(template) {
            if !operation.params.contains_key(placeholder)
                && !crate::sim::params::BUILTINS.contains(&placeholder)
            {
                return Err(ScenarioError::at(
                    format!("{at}.statements[{k}]"),
                    format!("uses {{{placeholder}}}, which is not a parameter (add it under params, or use {{now}} / {{now_us}})"),
                ));
            }
        }
    }
    Ok(())
}

fn unique<'a>(names: impl Iterator<Item = &'a str>, at: &str) -> Result<(), ScenarioError> {
    let mut seen = BTreeSet::new();
    for (i, name) in names.enumerate() {
        if !seen.insert(name) {
            return Err(ScenarioError::at(
                format!("{at}[{i}].name"),
                format!("is \"{name}\" again: names must be unique"),
            ));
        }
    }
    Ok(())
}

fn join(names: &BTreeSet<&str>) -> String {
    names.iter().copied().collect::<Vec<_>>().join(", ")
}

/// `services[1].operations[0].rate_per_s` as serde_path_to_error writes it, without the `?` it
/// uses for unknown positions.
fn clean_path(path: &str) -> String {
    if path == "." {
        String::new()
    } else {
        path.replace(".?", "").replace('?', "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
format_version = 1
name = "tiny"

[[databases]]
name = "db"
setup = ["CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)"]

[[services]]
name = "writer"
database = "db"

[[services.operations]]
name = "insert"
rate_per_s = 10
statements = ["INSERT INTO t VALUES ({id}, 1)"]
params = { id = { next_id = "t.id" } }
"#;

    #[test]
    fn a_minimal_scenario_reads_with_defaults() {
        let scenario = Scenario::parse(MINIMAL).expect("valid");
        assert_eq!(scenario.seed, 42);
        assert_eq!(scenario.databases[0].cores, 4);
        assert_eq!(scenario.services[0].pool_size, 4);
        assert_eq!(
            scenario.services[0].operations[0].params["id"],
            ParamSpec::NextId("t.id".to_owned())
        );
    }

    #[test]
    fn a_negative_rate_names_the_field_and_line() {
        let text = MINIMAL.replace("rate_per_s = 10", "rate_per_s = -3");
        let error = Scenario::parse(&text).expect_err("negative rate");
        assert_eq!(error.path, "services[0].operations[0].rate_per_s");
        assert_eq!(error.line, Some(15));
        assert_eq!(
            error.to_string(),
            "line 15, column 14: services[0].operations[0].rate_per_s must be a positive number, got -3"
        );
    }

    #[test]
    fn a_missing_database_is_located() {
        let text = MINIMAL.replace("database = \"db\"", "database = \"nope\"");
        let error = Scenario::parse(&text).expect_err("missing database");
        assert_eq!(error.path, "services[0].database");
        assert_eq!(error.line, Some(11));
        assert!(
            error.message.contains("not one of the databases (db)"),
            "{error}"
        );
    }

    #[test]
    fn a_lesson_shown_by_what_the_scenario_cannot_run_is_located() {
        let text =
            format!("{MINIMAL}\n[lesson]\nsection = \"Tight Coupling\"\nshown_by = \"sweep\"\n");
        let error = Scenario::parse(&text).expect_err("no sweep");
        assert_eq!(error.path, "lesson.shown_by");
        assert_eq!(error.line, Some(21));
        assert!(error.message.contains("no [sweep]"), "{error}");
        let compare = text.replace("\"sweep\"", "\"compare\"");
        let error = Scenario::parse(&compare).expect_err("one mode");
        assert!(error.message.contains("one mode"), "{error}");
        let run = text.replace("\"sweep\"", "\"run\"");
        assert!(Scenario::parse(&run).is_ok());
    }

    #[test]
    fn json_is_read_too() {
        let json =
            r#"{"format_version": 1, "name": "j", "databases": [{"name": "db", "cores": 0}]}"#;
        let error = Scenario::parse(json).expect_err("zero cores");
        assert_eq!(error.path, "databases[0].cores");
        assert_eq!(error.line, Some(1));
    }

    #[test]
    fn json_errors_found_after_reading_name_their_line() {
        let json = "{\n  \"format_version\": 1,\n  \"name\": \"j\",\n  \"seed\": \"many\",\n  \"databases\": []\n}";
        let error = Scenario::parse(json).expect_err("a seed is a number");
        assert_eq!(
            (error.path.as_str(), error.line),
            ("seed", Some(4)),
            "{error}"
        );
        assert!(error.message.contains("invalid type"), "{error}");
        let twice = json.replace("\"seed\": \"many\"", "\"name\": \"again\"");
        let error = Scenario::parse(&twice).expect_err("a key twice");
        assert_eq!(error.line, Some(4), "{error}");
        assert!(error.message.contains("duplicate key `name`"), "{error}");
        let json = json.replace("\"many\"", "1");
        let error = Scenario::parse(&json).expect_err("no database");
        assert_eq!(
            (error.path.as_str(), error.line),
            ("databases", Some(5)),
            "{error}"
        );
    }

    #[test]
    fn toml_type_errors_name_their_field_and_line() {
        let text = MINIMAL.replace("rate_per_s = 10", "rate_per_s = \"fast\"");
        let error = Scenario::parse(&text).expect_err("a rate is a number");
        assert_eq!(error.path, "services[0].operations[0].rate_per_s");
        assert_eq!(error.line, Some(15), "{error}");
        let error = Scenario::parse("format_version = 1\nname = \"x\"\nname = \"y\"\n")
            .expect_err("a key twice");
        assert_eq!(error.line, Some(3), "{error}");
    }
}
