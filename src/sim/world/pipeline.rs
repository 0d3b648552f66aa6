//! The `cdc` mode's pipeline in the world: connectors on the owners' databases, the topics, and
//! consumers applying events to the readers' read models with SQL through the client state
//! machine, on their own nodes, paying their own cost.
//!
//! A connector polls its source's change log every `poll_interval` (at once again after a full
//! batch), spends `event_cost` per event and produces to the topics; it flushes its offset every
//! `offset_flush_interval`. A consumer polls its group's partitions (not during a rebalance),
//! skips tombstones and events at or below the last LSN it applied for their key (counted as
//! duplicates), applies the rest in one transaction and commits the offsets after it committed
//! (at-least-once); the time from each change's commit at the source to that commit is the read
//! model's staleness. A failed batch is not committed: the next poll reads it again.
//!
//! This file holds the pipeline, its events and commands; the connector's and the consumer's
//! polling are in `connector_actor.rs` and `consumer_actor.rs`, what the page and the report
//! see of them in `pipeline_view.rs`.
//!
//! Simplification: what a consumer applied (the last LSN per key) is kept with the read model, so
//! it survives a consumer crash as it would in the read model's own table.

use super::connector_actor::ConnectorActor;
use super::consumer_actor::{ConsumerActor, ConsumerState};
use super::pipeline_view::LAG_HISTORY;
use super::{Command, CommandError, Event, Traced, World};
use crate::sim::capture::{AuditTrigger, CaptureMethod, QueryCapture};
use crate::sim::clock::Micros;
use crate::sim::connector::{Connector, ConnectorConfig, ConnectorLag, ConnectorState};
use crate::sim::consumer_group::{ConsumerGroup, TopicPartition};
use crate::sim::metrics::Distribution;
use crate::sim::modes::{CdcSpec, Plan};
use crate::sim::projection::ProjectionStore;
use crate::sim::topic::{Topic, TopicConfig};
use std::collections::BTreeMap;
use std::rc::Rc;

/// The pipeline's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PipelineEvent {
    /// A connector polls its source (stale if `generation` is not the connector's).
    ConnectorPoll { connector: usize, generation: u64 },
    /// A connector flushes its offset.
    ConnectorFlush { connector: usize },
    /// A consumer polls its partitions.
    ConsumerPoll { consumer: usize, generation: u64 },
    /// The broker's log cleaner runs retention and compaction on every topic.
    Clean,
    /// Every connector's and consumer's lag is sampled, whatever their state (a paused
    /// consumer's lag counts too).
    SampleLag,
}

/// How often lags are sampled for the charts and the p95 figures: 97 ms, which divides none
/// of the usual poll intervals (10, 50, 100, 500 ms, 1 s), so that the samples do not fall at
/// the same moment of every poll cycle — sampled every 250 ms against polls every 100 ms, every
/// sample came 0 or 50 ms after a poll and every lag p95 read exactly 50 ms.
pub const LAG_SAMPLE_EVERY: Micros = 97_000;

/// The pipeline.
#[derive(Clone)]
pub(super) struct Pipeline {
    pub spec: CdcSpec,
    pub connectors: Vec<ConnectorActor>,
    pub topics: BTreeMap<String, Topic>,
    pub consumers: Vec<ConsumerActor>,
    /// `trigger` capture: the audit trigger per source node.
    pub triggers: BTreeMap<usize, AuditTrigger>,
    /// The `events` mode's schema registry: a subject per aggregate's topic.
    pub registry: Rc<crate::sim::registry::SchemaRegistry>,
    /// The broker is down until then (a `BrokerOutage`; 0: never down).
    pub broker_down_until: Micros,
}

/// The services that run the pipeline's SQL.
#[derive(Debug, Clone, Copy)]
pub(super) struct PipelineClients<'a> {
    /// `consumers[i]` runs consumer `i`'s SQL.
    pub consumers: &'a [usize],
    /// `connectors[i]` runs connector `i`'s polls (`query` and `trigger` capture).
    pub connectors: &'a [usize],
}

impl Pipeline {
    /// The pipeline of `plan`, already running: connectors streaming from their sources' current
    /// LSNs, read models equal to their sources; `clients` says which services run the
    /// consumers' SQL and the connectors' polls; `contracts` are the `events` mode's.
    pub(super) fn new(
        plan: &Plan,
        spec: &CdcSpec,
        nodes: &[crate::sim::node::DatabaseNode],
        clients: PipelineClients<'_>,
        mut projections: Vec<BTreeMap<String, ProjectionStore>>,
        contracts: &[crate::sim::events::EventContract],
        seed: u64,
    ) -> Self {
        let mut triggers = BTreeMap::new();
        let mut topics = BTreeMap::new();
        let mut registry = crate::sim::registry::SchemaRegistry::default();
        for contract in contracts {
            // Checked when the contracts were made: a first version is always compatible.
            let _ = registry.register(&contract.subject, &contract.schema_text);
        }
        let topic_config = |compact: bool| TopicConfig {
            partitions: spec.partitions.max(1),
            broker_latency: 0,
            compact,
            retention: if compact {
                None
            } else {
                TopicConfig::default().retention
            },
            ..TopicConfig::default()
        };
        let mut connectors = Vec::new();
        for planned in &plan.connectors {
            let mut config = ConnectorConfig::new(planned.name.clone(), planned.prefix.clone());
            config.tables = planned.tables.clone();
            config.replica_identity = spec.replica_identity.clone();
            config.batch_size = spec.batch_size.max(1);
            config.poll_interval = spec.poll_interval.micros();
            config.offset_flush_interval = spec.offset_flush_interval.micros();
            config.event_cost = spec.event_cost.micros();
            // The polling relay reads the outbox by query: what the log says of the outbox is
            // dropped (see `connector_poll`).
            let polls_outbox = spec.relay_method() == crate::sim::outbox::RelayMethod::Polling
                && planned
                    .tables
                    .iter()
                    .any(|t| t == crate::sim::outbox::OUTBOX_TABLE);
            if polls_outbox {
                config.poll_interval = spec.query_poll_interval.micros();
            }
            let mut connector = Connector::new(config);
            let mut names = Vec::new();
            for table in &planned.tables {
                if table == crate::sim::outbox::OUTBOX_TABLE {
                    // The router sends the outbox's events to their aggregates' topics, kept
                    // for their retention (a deleted aggregate has no tombstone to compact by).
                    // Only the aggregates of the tables the source owns (not its read models).
                    let source = &plan.databases[planned.source];
                    let owns =
                        |t: &String| source.tables.contains(t) && !source.read_models.contains(t);
                    for contract in contracts.iter().filter(|c| owns(&c.table)) {
                        names.push(contract.topic.clone());
                        topics.insert(
                            contract.topic.clone(),
                            Topic::new(contract.topic.clone(), topic_config(false)),
                        );
                    }
                    continue;
                }
                let name = crate::sim::debezium::topic_name(&planned.prefix, table);
                names.push(name.clone());
                topics.insert(name.clone(), Topic::new(name, topic_config(spec.compact)));
            }
            // The pipeline ran before the simulation starts: the connector's initial snapshot
            // is in the topics (so a group reset to the beginning can rebuild its read models),
            // and the read models, copies of their sources, have consumed it.
            if let Some(node) = nodes.get(planned.source) {
                if connector.start(&node.db, 0).is_ok() {
                    while connector.state() == ConnectorState::Snapshotting {
                        for record in connector.poll(&node.db, 0) {
                            if let Some(topic) = topics.get_mut(&record.topic) {
                                topic.produce(
                                    record.key.map(Rc::from),
                                    record.value.map(Rc::from),
                                    0,
                                );
                            }
                        }
                    }
                    connector.flush(&node.db);
                }
            }
            for name in names {
                if let Some(topic) = topics.get_mut(&name) {
                    topic.config.broker_latency = spec.broker_latency.micros();
                }
            }
            if spec.capture.polls_by_query() {
                connector.config.poll_interval = spec.query_poll_interval.micros();
            }
            let query = (spec.capture == CaptureMethod::Query).then(|| {
                let columns = planned
                    .tables
                    .iter()
                    .filter_map(|t| spec.query_columns.get(t).map(|c| (t.clone(), c.clone())))
                    .collect();
                QueryCapture::new(columns, &nodes[planned.source].db)
            });
            if spec.capture == CaptureMethod::Trigger {
                triggers.insert(planned.source, AuditTrigger::new(planned.tables.clone()));
            }
            connectors.push(ConnectorActor {
                connector,
                node: planned.source,
                generation: 0,
                produced: 0,
                lag_records: Distribution::default(),
                lag_time: Distribution::default(),
                capture: spec.capture,
                query,
                client: clients.connectors.get(connectors.len()).copied(),
                polling: false,
                poll_core: 0,
                audit_upto: 0,
                pending_upto: 0,
                publisher: (spec.capture == CaptureMethod::DualWrite).then(|| {
                    crate::sim::dual_write::Publisher::new(
                        crate::sim::rng::SimRng::new(
                            seed,
                            crate::sim::rng::streams::PUBLISHERS
                                - (connectors.len() as u64
                                    % crate::sim::rng::streams::PUBLISHERS_MAX),
                        ),
                        spec.publish_jitter.micros(),
                    )
                }),
                relayed: 0,
                relay_failed: 0,
                relay_error: None,
                polls_outbox,
                relay_latency: Distribution::default(),
            });
        }
        let consumers = plan
            .consumers
            .iter()
            .zip(clients.consumers)
            .map(|(planned, service)| {
                let mut topic_names: Vec<String> = Vec::new();
                for (_, topic) in &planned.tables {
                    if !topic_names.contains(topic) {
                        topic_names.push(topic.clone());
                    }
                }
                // The group has settled before the run starts: no rebalance pause at time 0.
                let mut group = ConsumerGroup::new(planned.group.clone(), topic_names.clone(), 0);
                let member = format!("{}-1", planned.group);
                let partitions = |name: &str| {
                    topics
                        .get(name)
                        .map_or(1, |t: &Topic| t.partitions().len() as u32)
                };
                group.join(&member, partitions, 0);
                group.rebalance_time = spec.rebalance_time.micros();
                for name in &topic_names {
                    let Some(topic) = topics.get(name) else {
                        continue;
                    };
                    if let Some(contract) = contracts.iter().find(|c| &c.topic == name) {
                        let _ = registry.subscribe(&contract.subject, &planned.group, 1);
                    }
                    for (number, partition) in topic.partitions().iter().enumerate() {
                        group.commit(
                            TopicPartition {
                                topic: name.clone(),
                                partition: number as u32,
                            },
                            partition.log_end_offset(),
                        );
                    }
                }
                ConsumerActor {
                    group,
                    member,
                    node: planned.database,
                    service: *service,
                    tables: planned.tables.clone(),
                    readers: contracts
                        .iter()
                        .filter(|c| planned.tables.iter().any(|(_, t)| *t == c.topic))
                        .map(|c| {
                            (
                                c.topic.clone(),
                                crate::sim::event_reader::EventReader::new(c, c.schema.clone()),
                            )
                        })
                        .collect(),
                    subsets: planned.subsets.clone(),
                    projections: projections
                        .get_mut(planned.database)
                        .map(std::mem::take)
                        .unwrap_or_default(),
                    state: ConsumerState::Running,
                    generation: 0,
                    next_batch: 0,
                    next_partition: 0,
                    poll_interval: spec.consumer_poll_interval.micros().max(1),
                    batch: None,
                    positions: Default::default(),
                    last_error: None,
                    rebuilt_at: 0,
                    staleness: BTreeMap::new(),
                    applied: BTreeMap::new(),
                    lag_messages: Distribution::default(),
                    lag_time: Distribution::default(),
                    lag_history: Default::default(),
                    duplicates: 0,
                    tombstones: 0,
                    failed_batches: 0,
                    undecodable: 0,
                    slow_per_message: 0,
                }
            })
            .collect();
        Self {
            spec: spec.clone(),
            connectors,
            topics,
            consumers,
            triggers,
            registry: Rc::new(registry),
            broker_down_until: 0,
        }
    }
}

impl World {
    /// What a fault schedule can hit: the pipeline's connectors and consumer groups (none
    /// without a pipeline).
    pub fn fault_targets(&self) -> crate::sim::faults::Targets {
        let Some(pipeline) = &self.pipeline else {
            return crate::sim::faults::Targets::default();
        };
        crate::sim::faults::Targets {
            connectors: pipeline
                .connectors
                .iter()
                .map(|a| a.connector.config.name.clone())
                .collect(),
            groups: pipeline
                .consumers
                .iter()
                .map(|a| a.group.name.clone())
                .collect(),
        }
    }

    /// The `events` mode's schema registry (`None` without a pipeline).
    pub fn registry(&self) -> Option<&crate::sim::registry::SchemaRegistry> {
        self.pipeline.as_ref().map(|p| &*p.registry)
    }

    /// The event log's topics (`cdc` mode), by name.
    pub fn topics(&self) -> Option<&BTreeMap<String, Topic>> {
        self.pipeline.as_ref().map(|p| &p.topics)
    }

    /// Schedules the pipeline's first polls and flushes.
    pub(super) fn start_pipeline(&mut self) {
        let Some(pipeline) = &self.pipeline else {
            return;
        };
        let flush = pipeline.spec.offset_flush_interval.micros().max(1);
        let clean = pipeline.spec.cleaner_interval.micros().max(1);
        self.queue
            .schedule(clean, Event::Pipeline(PipelineEvent::Clean));
        self.queue
            .schedule(0, Event::Pipeline(PipelineEvent::SampleLag));
        let (connectors, consumers) = (pipeline.connectors.len(), pipeline.consumers.len());
        for connector in 0..connectors {
            self.queue.schedule(
                0,
                Event::Pipeline(PipelineEvent::ConnectorPoll {
                    connector,
                    generation: 0,
                }),
            );
            self.queue.schedule(
                flush,
                Event::Pipeline(PipelineEvent::ConnectorFlush { connector }),
            );
        }
        for consumer in 0..consumers {
            self.queue.schedule(
                0,
                Event::Pipeline(PipelineEvent::ConsumerPoll {
                    consumer,
                    generation: 0,
                }),
            );
        }
    }

    /// Handles a pipeline event.
    pub(super) fn handle_pipeline(&mut self, event: PipelineEvent) {
        match event {
            PipelineEvent::ConnectorPoll {
                connector,
                generation,
            } => self.connector_poll(connector, generation),
            PipelineEvent::ConnectorFlush { connector } => {
                let now = self.now;
                let Some(pipeline) = self.pipeline.as_mut() else {
                    return;
                };
                let Some(actor) = pipeline.connectors.get_mut(connector) else {
                    return;
                };
                actor.connector.flush(&self.nodes[actor.node].db);
                let next = now + pipeline.spec.offset_flush_interval.micros().max(1);
                self.queue.schedule(
                    next,
                    Event::Pipeline(PipelineEvent::ConnectorFlush { connector }),
                );
                self.record(Traced::ConnectorFlush, &[connector as u64]);
            }
            PipelineEvent::ConsumerPoll {
                consumer,
                generation,
            } => self.consumer_poll(consumer, generation),
            PipelineEvent::SampleLag => {
                self.sample_lag();
                self.queue.schedule(
                    self.now + LAG_SAMPLE_EVERY,
                    Event::Pipeline(PipelineEvent::SampleLag),
                );
            }
            PipelineEvent::Clean => {
                let now = self.now;
                let Some(pipeline) = self.pipeline.as_mut() else {
                    return;
                };
                let mut removed = 0;
                for topic in pipeline.topics.values_mut() {
                    let cleaned = topic.clean(now);
                    removed += cleaned.expired + cleaned.compacted + cleaned.tombstones;
                }
                let next = now + pipeline.spec.cleaner_interval.micros().max(1);
                self.queue
                    .schedule(next, Event::Pipeline(PipelineEvent::Clean));
                self.record(Traced::Clean, &[removed]);
            }
        }
    }

    /// Records every connector's and consumer group's lag now.
    fn sample_lag(&mut self) {
        let now = self.now;
        let Some(pipeline) = self.pipeline.as_mut() else {
            return;
        };
        for actor in &mut pipeline.connectors {
            let lag: ConnectorLag = actor.connector.lag(&self.nodes[actor.node].db, now);
            actor.lag_records.record(lag.records);
            actor.lag_time.record(lag.age);
        }
        for actor in &mut pipeline.consumers {
            let (mut messages, mut age) = (0, 0);
            for topic in actor.topics() {
                if let Some(topic) = pipeline.topics.get(topic) {
                    for lag in actor.group.lag(topic, now) {
                        messages += lag.messages;
                        age = age.max(lag.age);
                    }
                }
            }
            actor.lag_messages.record(messages);
            actor.lag_time.record(age);
            actor.lag_history.push_back((now, messages, age));
            while actor
                .lag_history
                .front()
                .is_some_and(|(at, ..)| now.saturating_sub(*at) > LAG_HISTORY)
            {
                actor.lag_history.pop_front();
            }
        }
    }
}

impl World {
    /// Carries out a command on the pipeline.
    pub(super) fn apply_pipeline(&mut self, command: &Command) -> Result<String, CommandError> {
        let now = self.now;
        let mode = self.scenario.mode.name().to_owned();
        let Some(pipeline) = self.pipeline.as_mut() else {
            return Err(CommandError::NoPipeline(mode));
        };
        let connector = |name: &str| {
            pipeline
                .connectors
                .iter()
                .position(|c| c.connector.config.name == name)
                .ok_or_else(|| CommandError::UnknownConnector(name.to_owned()))
        };
        let group = |name: &str| {
            pipeline
                .consumers
                .iter()
                .position(|c| c.group.name == name)
                .ok_or_else(|| CommandError::UnknownGroup(name.to_owned()))
        };
        match command {
            Command::StopConnector { connector: name }
            | Command::StartConnector { connector: name }
            | Command::CrashConnector { connector: name } => {
                let index = connector(name)?;
                let actor = &mut pipeline.connectors[index];
                let db = &self.nodes[actor.node].db;
                actor.generation += 1;
                let generation = actor.generation;
                let outcome = match command {
                    Command::StopConnector { .. } => {
                        actor.connector.stop(db);
                        "stopped: offset flushed, the slot keeps the source's log".to_owned()
                    }
                    Command::CrashConnector { .. } if actor.publisher.is_some() => {
                        // The service crashed between its commits and their publishes: what it
                        // had not published is gone; it publishes again from now on.
                        actor.connector.crash();
                        actor.connector.resume_at_current(db);
                        self.queue.schedule(
                            now,
                            Event::Pipeline(PipelineEvent::ConnectorPoll {
                                connector: index,
                                generation,
                            }),
                        );
                        "crashed between commit and publish: the changes it had not published \
                         are lost"
                            .to_owned()
                    }
                    Command::CrashConnector { .. } => {
                        actor.connector.crash();
                        "crashed: what it read since its last flush will come again".to_owned()
                    }
                    _ => {
                        actor
                            .connector
                            .start(db, now)
                            .map_err(|e| CommandError::Sql(e.to_string()))?;
                        self.queue.schedule(
                            now,
                            Event::Pipeline(PipelineEvent::ConnectorPoll {
                                connector: index,
                                generation,
                            }),
                        );
                        if actor.polls_outbox {
                            "polling the outbox again for the rows not yet published".to_owned()
                        } else {
                            format!(
                                "{} from LSN {}",
                                actor.connector.state().name(),
                                actor.connector.position()
                            )
                        }
                    }
                };
                Ok(outcome)
            }
            Command::PauseConsumer { group: name }
            | Command::ResumeConsumer { group: name }
            | Command::CrashConsumer { group: name }
            | Command::RebuildReadModels { group: name } => {
                let index = group(name)?;
                let actor = &pipeline.consumers[index];
                if matches!(command, Command::RebuildReadModels { .. }) && actor.reads_events() {
                    // The event topics start at the first event: the rows the owner had before
                    // (copied into the read models when the run began) are in no event.
                    return Err(CommandError::NoHistory(name.clone()));
                }
                let partitions = |topic: &str| {
                    pipeline
                        .topics
                        .get(topic)
                        .map_or(1, |t| t.partitions().len() as u32)
                };
                let actor = &mut pipeline.consumers[index];
                actor.generation += 1;
                let generation = actor.generation;
                let outcome = match command {
                    Command::PauseConsumer { .. } => {
                        actor.state = ConsumerState::Paused;
                        "paused: its lag grows".to_owned()
                    }
                    Command::CrashConsumer { .. } => {
                        actor.state = ConsumerState::Crashed;
                        actor.group.crash(&actor.member);
                        "crashed: its batch in flight will be delivered again".to_owned()
                    }
                    Command::RebuildReadModels { .. } => {
                        let db = &self.nodes[actor.node].db;
                        let mut statements: Vec<String> = actor
                            .tables
                            .iter()
                            .map(|(table, _)| format!("DELETE FROM {table}"))
                            .collect();
                        actor.positions.clear();
                        actor.rebuilt_at = now;
                        for store in actor.projections.values_mut() {
                            store.clear();
                            // A query without GROUP BY keeps its one row.
                            statements.extend(store.initial_statements());
                        }
                        // A read model the console dropped or changed cannot be emptied: said.
                        let failures: Vec<String> = statements
                            .iter()
                            .filter_map(|sql| {
                                db.connect(crate::sim::storage::ReadMode::LatestCommitted)
                                    .execute(sql)
                                    .err()
                                    .map(|e| format!("{sql}: {e}"))
                            })
                            .collect();
                        // A batch still applying must not commit its offsets over the reset.
                        actor.batch = None;
                        actor.group.reset_to_earliest();
                        if actor.state == ConsumerState::Crashed {
                            let member = actor.member.clone();
                            actor.group.leave(&member, partitions, now);
                            actor.group.join(&member, partitions, now);
                        }
                        actor.state = ConsumerState::Running;
                        if failures.is_empty() {
                            "read models emptied; the group reads its topics from the beginning"
                                .to_owned()
                        } else {
                            format!(
                                "the group reads its topics from the beginning, but {}",
                                failures.join("; ")
                            )
                        }
                    }
                    _ => {
                        if actor.state == ConsumerState::Crashed {
                            let member = actor.member.clone();
                            actor.group.leave(&member, partitions, now);
                            actor.group.join(&member, partitions, now);
                        }
                        actor.state = ConsumerState::Running;
                        if actor.group.is_rebalancing(now) {
                            "rejoined its group: consumption waits for the rebalance".to_owned()
                        } else {
                            "resumed".to_owned()
                        }
                    }
                };
                if actor.state == ConsumerState::Running && actor.batch.is_none() {
                    self.queue.schedule(
                        now,
                        Event::Pipeline(PipelineEvent::ConsumerPoll {
                            consumer: index,
                            generation,
                        }),
                    );
                }
                Ok(outcome)
            }
            Command::SetPollInterval {
                target,
                interval_ms,
            } => {
                if !interval_ms.is_finite() || !(1.0..=3_600_000.0).contains(interval_ms) {
                    return Err(CommandError::BadInterval(interval_ms.to_string()));
                }
                let micros = (*interval_ms * 1_000.0).round().max(1.0) as Micros;
                if let Ok(index) = connector(target) {
                    pipeline.connectors[index].connector.config.poll_interval = micros;
                } else {
                    let index = group(target)?;
                    pipeline.consumers[index].poll_interval = micros;
                }
                Ok("ok".to_owned())
            }
            Command::BrokerOutage { duration_ms } => {
                if !duration_ms.is_finite() || !(1.0..=3_600_000.0).contains(duration_ms) {
                    return Err(CommandError::BadInterval(duration_ms.to_string()));
                }
                let until = now + (*duration_ms * 1_000.0).round() as Micros;
                pipeline.broker_down_until = pipeline.broker_down_until.max(until);
                Ok(format!(
                    "down until {}: nothing is produced or fetched meanwhile",
                    crate::sim::clock::format_micros(pipeline.broker_down_until)
                ))
            }
            Command::SlowConsumer {
                group: name,
                per_message_ms,
            } => {
                if !per_message_ms.is_finite() || !(0.0..=60_000.0).contains(per_message_ms) {
                    return Err(CommandError::BadInterval(per_message_ms.to_string()));
                }
                let index = group(name)?;
                let actor = &mut pipeline.consumers[index];
                actor.slow_per_message = (*per_message_ms * 1_000.0).round() as Micros;
                Ok(if actor.slow_per_message == 0 {
                    "back to its normal speed".to_owned()
                } else {
                    format!("slow: {per_message_ms} ms more per message")
                })
            }
            Command::UpgradeReaders { group: name } => {
                let index = group(name)?;
                let registry = Rc::make_mut(&mut pipeline.registry);
                let actor = &mut pipeline.consumers[index];
                if actor.readers.is_empty() {
                    return Err(CommandError::NoReaders(name.clone()));
                }
                // Every subscription first: an error leaves every reader as it was.
                let mut upgrades = Vec::new();
                for (topic, reader) in &actor.readers {
                    let subject = crate::sim::registry::value_subject(&reader.topic);
                    if let Some((version, latest)) = registry.latest(&subject) {
                        upgrades.push((topic.clone(), subject, version, latest.schema.clone()));
                    }
                }
                if upgrades.is_empty() {
                    return Err(CommandError::NoReaders(name.clone()));
                }
                for (_, subject, version, _) in &upgrades {
                    registry.subscribe(subject, name, *version)?;
                }
                let mut answer = Vec::new();
                for (topic, subject, version, schema) in upgrades {
                    if let Some(reader) = actor.readers.get_mut(&topic) {
                        reader.schema = schema;
                    }
                    answer.push(format!("{subject} version {version}"));
                }
                Ok(format!("reads {}", answer.join(", ")))
            }
            _ => Ok("ok".to_owned()),
        }
    }

    /// Whether the broker is down now (a `BrokerOutage`): when it is back, if so.
    pub(super) fn broker_down(&self) -> Option<Micros> {
        self.pipeline
            .as_ref()
            .map(|p| p.broker_down_until)
            .filter(|until| *until > self.now)
    }
}
