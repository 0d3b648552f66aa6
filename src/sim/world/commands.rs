//! What the user and the timeline do to a running world: [`Command`]s, applied by
//! [`World::apply`], each entered in the report's timeline with its outcome.

use super::{NarrationKind, Traced, World};
use crate::sim::clock::{format_micros, Micros};
use crate::sim::params::tables_used;
use crate::sim::report::{round3, AppliedAction};
use crate::sim::scenario::{ActionKind, TimelineEntry};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Something the user (or the timeline) does to a running world.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Stop a CDC connector gracefully: it flushes its offset; its replication slot stays, so
    /// the source keeps its log for it.
    StopConnector {
        /// The connector.
        connector: String,
    },
    /// Start a stopped or crashed CDC connector: it resumes from its last flushed offset.
    StartConnector {
        /// The connector.
        connector: String,
    },
    /// Crash a CDC connector: what it read since its last flush will be sent again.
    CrashConnector {
        /// The connector.
        connector: String,
    },
    /// Pause a consumer: it stops polling, its lag grows.
    PauseConsumer {
        /// The consumer group.
        group: String,
    },
    /// Resume a paused or crashed consumer (a crashed one rejoins its group: a rebalance).
    ResumeConsumer {
        /// The consumer group.
        group: String,
    },
    /// Crash a consumer: a batch in flight is not committed and will be delivered again.
    CrashConsumer {
        /// The consumer group.
        group: String,
    },
    /// Reset a consumer group to the beginning of its topics and rebuild its read models from
    /// them (`--reset-offsets --to-earliest` after emptying the read models).
    RebuildReadModels {
        /// The consumer group.
        group: String,
    },
    /// Change how often a connector or a consumer polls when it finds nothing.
    SetPollInterval {
        /// A connector's name or a consumer group's.
        target: String,
        /// The interval, in milliseconds.
        interval_ms: f64,
    },
    /// Start the ETL job's copy now (`etl` mode), instead of waiting for its interval.
    RunEtl,
    /// Take the broker down for `duration_ms`: connectors produce nothing and consumers fetch
    /// nothing until it is back (the source's replication slot keeps the log meanwhile).
    BrokerOutage {
        /// How long, in milliseconds.
        duration_ms: f64,
    },
    /// Make a consumer slow: each message takes `per_message_ms` more (0: normal speed).
    SlowConsumer {
        /// The consumer group.
        group: String,
        /// The extra time per message, in milliseconds.
        per_message_ms: f64,
    },
    /// Stop every service's operations and heal the pipeline (start stopped or crashed
    /// connectors, resume consumers): the system drains until it is quiet, when the invariant
    /// checker's verdict is final.
    StopSources,
    /// Register a new version of a subject's schema in the schema registry (`events` mode),
    /// checked against the subject's compatibility mode first; the relay then writes with it.
    RegisterSchema {
        /// The subject (`outbox.event.order-value`).
        subject: String,
        /// The schema, as the text of an `.avsc` file.
        schema: String,
    },
    /// Upgrade a consumer group's event readers to the latest version of each subject they
    /// read (`events` mode): what `BACKWARD` compatibility asks for before the producers write
    /// with a new version; a reader stopped at an event its old version could not read goes on.
    UpgradeReaders {
        /// The consumer group.
        group: String,
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
            ActionKind::StopConnector => Self::StopConnector {
                connector: text(&entry.connector),
            },
            ActionKind::StartConnector => Self::StartConnector {
                connector: text(&entry.connector),
            },
            ActionKind::CrashConnector => Self::CrashConnector {
                connector: text(&entry.connector),
            },
            ActionKind::PauseConsumer => Self::PauseConsumer {
                group: text(&entry.group),
            },
            ActionKind::ResumeConsumer => Self::ResumeConsumer {
                group: text(&entry.group),
            },
            ActionKind::CrashConsumer => Self::CrashConsumer {
                group: text(&entry.group),
            },
            ActionKind::RebuildReadModels => Self::RebuildReadModels {
                group: text(&entry.group),
            },
            ActionKind::RunEtl => Self::RunEtl,
            ActionKind::BrokerOutage => Self::BrokerOutage {
                duration_ms: entry.duration.map_or(0.0, |d| d.micros() as f64 / 1e3),
            },
            ActionKind::SlowConsumer => Self::SlowConsumer {
                group: text(&entry.group),
                per_message_ms: entry.delay.map_or(0.0, |d| d.micros() as f64 / 1e3),
            },
        }
    }

    /// Whether it acts on the CDC pipeline or the ETL job (not on services or databases).
    pub fn is_pipeline(&self) -> bool {
        matches!(
            self,
            Self::StopConnector { .. }
                | Self::StartConnector { .. }
                | Self::CrashConnector { .. }
                | Self::PauseConsumer { .. }
                | Self::ResumeConsumer { .. }
                | Self::CrashConsumer { .. }
                | Self::RebuildReadModels { .. }
                | Self::SetPollInterval { .. }
                | Self::RunEtl
                | Self::StopSources
                | Self::RegisterSchema { .. }
                | Self::UpgradeReaders { .. }
                | Self::BrokerOutage { .. }
                | Self::SlowConsumer { .. }
        )
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
            Self::StopConnector { connector } => format!("stop {connector}"),
            Self::StartConnector { connector } => format!("start {connector}"),
            Self::CrashConnector { connector } => format!("crash {connector}"),
            Self::PauseConsumer { group } => format!("pause consumer {group}"),
            Self::ResumeConsumer { group } => format!("resume consumer {group}"),
            Self::CrashConsumer { group } => format!("crash consumer {group}"),
            Self::RebuildReadModels { group } => format!("rebuild {group}'s read models"),
            Self::SetPollInterval {
                target,
                interval_ms,
            } => format!("{target} polls every {interval_ms} ms"),
            Self::RunEtl => "run the ETL job now".to_owned(),
            Self::StopSources => "stop the sources and drain".to_owned(),
            Self::BrokerOutage { duration_ms } => format!("broker down for {duration_ms} ms"),
            Self::SlowConsumer {
                group,
                per_message_ms,
            } => format!("consumer {group} takes {per_message_ms} ms more per message"),
            Self::RegisterSchema { subject, .. } => format!("register a schema for {subject}"),
            Self::UpgradeReaders { group } => {
                format!("upgrade {group}'s readers to the latest schemas")
            }
        }
    }
}

/// Why a command could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, Error, Deserialize, Serialize)]
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
    /// The run has no CDC pipeline.
    #[error("there is no CDC pipeline: this run's mode is {0}")]
    NoPipeline(String),
    /// No connector of that name.
    #[error("there is no connector called \"{0}\"")]
    UnknownConnector(String),
    /// No consumer group of that name.
    #[error("there is no consumer group called \"{0}\"")]
    UnknownGroup(String),
    /// The run has no ETL job.
    #[error("there is no ETL job: this run's mode is {0}")]
    NoEtl(String),
    /// A poll interval must be between a millisecond and an hour.
    #[error("a poll interval must be between 1 and 3,600,000 milliseconds, got {0}")]
    BadInterval(String),
    /// The registry refused the schema (unreadable, or incompatible: the rule, the field and
    /// the consumers it would break).
    #[error(transparent)]
    Registry(#[from] crate::sim::registry::RegistryError),
    /// A rebuild of read models kept from domain events: their topics do not hold the rows
    /// that existed before the first event.
    #[error(
        "consumer group \"{0}\" reads domain events, and its topics start at the first event: \
         the rows the owner had before are in no event, so a rebuild from the beginning would \
         lose them (CDC's topics start with a snapshot of every row; an outbox has none unless \
         the owner publishes one)"
    )]
    NoHistory(String),
    /// The consumer group reads no domain events (not the `events` mode, or raw changes only).
    #[error("consumer group \"{0}\" reads no domain events")]
    NoReaders(String),
}

/// The timeline's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TimelineEvent {
    /// The scenario's timeline entry `index` falls due.
    Action { index: usize },
}

impl World {
    /// Handles a timeline event: applies the entry's command as if the user had.
    pub(super) fn handle_timeline(&mut self, event: TimelineEvent) {
        match event {
            TimelineEvent::Action { index } => {
                self.record(Traced::TimelineAction, &[index as u64]);
                if let Some(entry) = self.scenario.timeline.get(index) {
                    let command = Command::from_entry(entry);
                    let _ = self.apply(command);
                }
            }
        }
    }

    pub(super) fn find_service(&self, name: &str) -> Result<usize, CommandError> {
        self.services
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| CommandError::UnknownService(name.to_owned()))
    }

    pub(super) fn find_operation(
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
        self.tell_time();
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

    /// The node a command naming `database` runs `sql` on: the node of that name; in the `cdc`
    /// mode, where the scenario's shared database became a database per service, the database
    /// that owns the first table the SQL names (a migration of `orders` runs where `orders`
    /// lives), else the first that has it as a read model.
    fn node_for(&self, database: &str, sql: &str) -> Result<usize, CommandError> {
        if let Some(index) = self.nodes.iter().position(|n| n.name == database) {
            return Ok(index);
        }
        let unknown = || CommandError::UnknownDatabase(database.to_owned());
        if !self.scenario.databases.iter().any(|d| d.name == database) {
            return Err(unknown());
        }
        let first = crate::sim::sql_script::split_statements(sql)
            .into_iter()
            .next()
            .ok_or_else(unknown)?;
        let (reads, writes) = tables_used(std::slice::from_ref(&first.sql));
        let table = writes.first().or(reads.first()).ok_or_else(unknown)?;
        let table = table.as_str();
        self.node_tables
            .iter()
            .position(|(owns, _)| owns.iter().any(|t| t == table))
            .or_else(|| {
                self.node_tables
                    .iter()
                    .position(|(_, models)| models.iter().any(|t| t == table))
            })
            .ok_or_else(unknown)
    }

    /// Writes the outcome of a timeline operation into its report entry.
    pub(super) fn settle_action(
        &mut self,
        action: Option<usize>,
        outcome: String,
        schema_break: bool,
    ) {
        let Some(entry) = action.and_then(|i| self.applied.get_mut(i)) else {
            return;
        };
        let waited = self.now as f64 / 1e3 - entry.at_ms;
        let waited = format_micros((waited * 1e3).max(0.0) as Micros);
        entry.result = format!("{outcome} (after {waited})");
        let text = format!("{} → {outcome} after {waited}", entry.action);
        let kind = if schema_break {
            NarrationKind::SchemaBreak
        } else {
            NarrationKind::Action
        };
        self.narrate(kind, text, None, 0);
    }

    /// Carries out `command`, whose entry in the report's timeline is number `action`.
    pub(super) fn apply_inner(
        &mut self,
        command: &Command,
        action: usize,
    ) -> Result<String, CommandError> {
        match command {
            Command::RunSql { database, sql } => {
                let index = self.node_for(database, sql)?;
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
                self.start_operation(service, 0, statements, Some(action), None);
                Ok("started".to_owned())
            }
            Command::Console { database, sql } => {
                let index = self.node_for(database, sql)?;
                let statements: Vec<String> = crate::sim::sql_script::split_statements(sql)
                    .into_iter()
                    .map(|s| s.sql)
                    .collect();
                if statements.is_empty() {
                    return Err(CommandError::Sql("there is no SQL statement to run".into()));
                }
                let count = statements.len();
                let (service, _) = self.console_services[index];
                self.start_operation(service, 0, statements, None, None);
                Ok(format!(
                    "{count} statement{} sent to the console",
                    if count == 1 { "" } else { "s" }
                ))
            }
            Command::ScriptStep => {
                let before = self.script_report();
                let Some((node, runner)) = &mut self.script else {
                    return Err(CommandError::NoScript);
                };
                let locks = &mut self.nodes[*node].locks;
                let result = if runner.is_finished() {
                    "the script has ended".to_owned()
                } else if runner.issue_next(locks) {
                    "step issued".to_owned()
                } else {
                    runner.finish(locks);
                    "the script has ended: open transactions were rolled back".to_owned()
                };
                self.settle_script();
                self.narrate_script(before.as_ref());
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
            Command::StopConnector { .. }
            | Command::StartConnector { .. }
            | Command::CrashConnector { .. }
            | Command::PauseConsumer { .. }
            | Command::ResumeConsumer { .. }
            | Command::CrashConsumer { .. }
            | Command::RebuildReadModels { .. }
            | Command::SetPollInterval { .. }
            | Command::BrokerOutage { .. }
            | Command::SlowConsumer { .. }
            | Command::UpgradeReaders { .. } => self.apply_pipeline(command),
            Command::RunEtl => {
                if self.etl.is_none() {
                    return Err(CommandError::NoEtl(self.scenario.mode.name().to_owned()));
                }
                Ok(if self.start_etl_run() {
                    "started: extracting".to_owned()
                } else {
                    "a run is still going: skipped".to_owned()
                })
            }
            Command::PauseService { service } | Command::ResumeService { service } => {
                let s = self.find_service(service)?;
                self.services[s].paused = matches!(command, Command::PauseService { .. });
                Ok("ok".to_owned())
            }
            Command::StopSources => {
                self.stop_sources();
                Ok("stopped: the pipeline drains".to_owned())
            }
            Command::RegisterSchema { subject, schema } => {
                let mode = self.scenario.mode.name().to_owned();
                let Some(pipeline) = self.pipeline.as_mut() else {
                    return Err(CommandError::NoPipeline(mode));
                };
                let registry = std::rc::Rc::make_mut(&mut pipeline.registry);
                let registration = registry.register(subject, schema)?;
                let mut answer = format!(
                    "registered as version {} (id {})",
                    registration.version, registration.id
                );
                if let Ok(registered) = registry.version(subject, registration.version) {
                    for stranded in registry.stranded(subject, &registered.schema) {
                        answer.push_str(&format!(". Warning: {stranded}"));
                    }
                }
                Ok(answer)
            }
        }
    }
}
