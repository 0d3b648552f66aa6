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
//! Simplification: what a consumer applied (the last LSN per key) is kept with the read model, so
//! it survives a consumer crash as it would in the read model's own table.

use super::{Command, CommandError, Event, Traced, World};
use crate::sim::capture::{AuditTrigger, CaptureMethod, QueryCapture, AUDIT_TABLE};
use crate::sim::clock::Micros;
use crate::sim::connector::{Connector, ConnectorConfig, ConnectorLag, ConnectorState};
use crate::sim::consumer_group::{ConsumerGroup, TopicPartition};
use crate::sim::debezium::EPOCH_MS;
use crate::sim::metrics::Distribution;
use crate::sim::modes::{CdcSpec, Plan};
use crate::sim::report::{
    round3, ConnectorReport, ConsumerGroupReport, ReadModelReport, TopicReport,
};
use crate::sim::service::Notify;
use crate::sim::sink::{apply_event, apply_tombstone, batch_statements, Applied, SinkColumn};
use crate::sim::topic::{Offset, Topic, TopicConfig};
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

/// How often lags are sampled for the charts and the p95 figures.
pub const LAG_SAMPLE_EVERY: Micros = 250_000;

/// A connector and the node it reads.
pub(super) struct ConnectorActor {
    pub connector: Connector,
    pub node: usize,
    pub generation: u64,
    pub produced: u64,
    pub lag_records: Distribution,
    pub lag_time: Distribution,
    /// How it captures changes.
    pub capture: CaptureMethod,
    /// `query` capture's bookkeeping.
    pub query: Option<QueryCapture>,
    /// For `query` and `trigger` capture: the client that runs its polls on the source.
    pub client: Option<usize>,
    /// Whether a poll is running on the source.
    pub polling: bool,
    /// Core time its polls took on the source.
    pub poll_core: Micros,
    /// `trigger` capture: the audit rows up to this id are read and deleted; the running poll
    /// reads up to `pending_upto`.
    pub audit_upto: u64,
    pub pending_upto: u64,
}

/// Where a consumer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerState {
    Running,
    Paused,
    Crashed,
}

/// A batch being applied: the offsets to commit after it, and its events.
struct Batch {
    /// Its number among the consumer's batches.
    id: u64,
    next_offsets: Vec<(TopicPartition, Offset)>,
    /// (table, key, LSN, source commit time).
    events: Vec<(String, Rc<str>, u64, Micros)>,
}

/// A consumer: one member of its group, applying to its node's read models.
pub(super) struct ConsumerActor {
    pub group: ConsumerGroup,
    pub member: String,
    pub node: usize,
    pub service: usize,
    /// Read models: table → topic.
    pub tables: Vec<(String, String)>,
    pub state: ConsumerState,
    pub generation: u64,
    /// The number of the next batch.
    next_batch: u64,
    /// Where the next poll starts among the assigned partitions (turn by turn, so that one
    /// partition catching up does not starve the others).
    next_partition: usize,
    /// How long it waits after a poll that found nothing.
    pub poll_interval: Micros,
    batch: Option<Batch>,
    /// The last LSN applied per (table, key).
    applied_lsn: BTreeMap<(String, Rc<str>), u64>,
    pub staleness: BTreeMap<String, Distribution>,
    pub applied: BTreeMap<String, u64>,
    pub lag_messages: Distribution,
    pub lag_time: Distribution,
    /// Lag at each poll over the last minute: (time, messages, age).
    pub lag_history: std::collections::VecDeque<(Micros, u64, Micros)>,
    pub duplicates: u64,
    pub tombstones: u64,
    pub failed_batches: u64,
    pub undecodable: u64,
}

/// The pipeline.
pub(super) struct Pipeline {
    pub spec: CdcSpec,
    pub connectors: Vec<ConnectorActor>,
    pub topics: BTreeMap<String, Topic>,
    pub consumers: Vec<ConsumerActor>,
    /// `trigger` capture: the audit trigger per source node.
    pub triggers: BTreeMap<usize, AuditTrigger>,
}

impl Pipeline {
    /// The pipeline of `plan`, already running: connectors streaming from their sources' current
    /// LSNs, read models equal to their sources; `consumer_services[i]` runs consumer `i`'s SQL,
    /// `connector_services[i]` connector `i`'s polls (`query` and `trigger` capture).
    pub(super) fn new(
        plan: &Plan,
        spec: &CdcSpec,
        nodes: &[crate::sim::node::DatabaseNode],
        consumer_services: &[usize],
        connector_services: &[usize],
    ) -> Self {
        let mut triggers = BTreeMap::new();
        let mut topics = BTreeMap::new();
        let mut connectors = Vec::new();
        for planned in &plan.connectors {
            let mut config = ConnectorConfig::new(planned.name.clone(), planned.prefix.clone());
            config.tables = planned.tables.clone();
            config.replica_identity = spec.replica_identity.clone();
            config.batch_size = spec.batch_size.max(1);
            config.poll_interval = spec.poll_interval.micros();
            config.offset_flush_interval = spec.offset_flush_interval.micros();
            config.event_cost = spec.event_cost.micros();
            let mut connector = Connector::new(config);
            let mut names = Vec::new();
            for table in &planned.tables {
                let name = crate::sim::debezium::topic_name(&planned.prefix, table);
                names.push(name.clone());
                topics.insert(
                    name.clone(),
                    Topic::new(
                        name,
                        TopicConfig {
                            partitions: spec.partitions.max(1),
                            broker_latency: 0,
                            compact: spec.compact,
                            retention: if spec.compact {
                                None
                            } else {
                                TopicConfig::default().retention
                            },
                            ..TopicConfig::default()
                        },
                    ),
                );
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
            if spec.capture != CaptureMethod::Log {
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
                client: connector_services.get(connectors.len()).copied(),
                polling: false,
                poll_core: 0,
                audit_upto: 0,
                pending_upto: 0,
            });
        }
        let consumers = plan
            .consumers
            .iter()
            .zip(consumer_services)
            .map(|(planned, service)| {
                let topic_names: Vec<String> =
                    planned.tables.iter().map(|(_, t)| t.clone()).collect();
                // The group has settled before the run starts: no rebalance pause at time 0.
                let mut group = ConsumerGroup::new(planned.group.clone(), topic_names, 0);
                let member = format!("{}-1", planned.group);
                let partitions = |name: &str| {
                    topics
                        .get(name)
                        .map_or(1, |t: &Topic| t.partitions().len() as u32)
                };
                group.join(&member, partitions, 0);
                group.rebalance_time = spec.rebalance_time.micros();
                for (_, name) in &planned.tables {
                    let Some(topic) = topics.get(name) else {
                        continue;
                    };
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
                    state: ConsumerState::Running,
                    generation: 0,
                    next_batch: 0,
                    next_partition: 0,
                    poll_interval: spec.consumer_poll_interval.micros().max(1),
                    batch: None,
                    applied_lsn: BTreeMap::new(),
                    staleness: BTreeMap::new(),
                    applied: BTreeMap::new(),
                    lag_messages: Distribution::default(),
                    lag_time: Distribution::default(),
                    lag_history: Default::default(),
                    duplicates: 0,
                    tombstones: 0,
                    failed_batches: 0,
                    undecodable: 0,
                }
            })
            .collect();
        Self {
            spec: spec.clone(),
            connectors,
            topics,
            consumers,
            triggers,
        }
    }
}

impl World {
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
            for (_, topic) in &actor.tables {
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

    fn connector_poll(&mut self, index: usize, generation: u64) {
        let now = self.now;
        let Some(pipeline) = self.pipeline.as_mut() else {
            return;
        };
        let Some(actor) = pipeline.connectors.get_mut(index) else {
            return;
        };
        if actor.generation != generation
            || !matches!(
                actor.connector.state(),
                ConnectorState::Snapshotting | ConnectorState::Streaming
            )
        {
            return;
        }
        if actor.capture != CaptureMethod::Log {
            self.start_capture_poll(index, generation);
            return;
        }
        let db = &self.nodes[actor.node].db;
        let records = actor.connector.poll(db, now);
        let count = records.len() as u64;
        for record in records {
            if let Some(topic) = pipeline.topics.get_mut(&record.topic) {
                topic.produce(record.key.map(Rc::from), record.value.map(Rc::from), now);
            }
        }
        actor.produced += count;
        let config = &actor.connector.config;
        let cost = count.saturating_mul(config.event_cost);
        let full = count as usize >= config.batch_size.max(1);
        let next = if full {
            now + cost.max(1)
        } else {
            now + cost.max(config.poll_interval.max(1))
        };
        self.queue.schedule(
            next,
            Event::Pipeline(PipelineEvent::ConnectorPoll {
                connector: index,
                generation,
            }),
        );
        self.record(Traced::ConnectorPoll, &[index as u64, count]);
    }

    /// Starts a `query` or `trigger` connector's poll: its queries run on the source through
    /// the SQL client (the source pays for them); what they found is produced when they end.
    fn start_capture_poll(&mut self, index: usize, generation: u64) {
        let Some(pipeline) = self.pipeline.as_mut() else {
            return;
        };
        let Some(actor) = pipeline.connectors.get_mut(index) else {
            return;
        };
        let Some(client) = actor.client.filter(|_| !actor.polling) else {
            return;
        };
        let sql = match (&actor.query, pipeline.triggers.get(&actor.node)) {
            (Some(query), _) => query.select_sql(),
            (None, Some(trigger)) => {
                actor.pending_upto = trigger.last_id();
                vec![
                    format!(
                        "SELECT * FROM {AUDIT_TABLE} WHERE id > {}",
                        actor.audit_upto
                    ),
                    format!(
                        "DELETE FROM {AUDIT_TABLE} WHERE id <= {}",
                        actor.pending_upto
                    ),
                ]
            }
            (None, None) => return,
        };
        actor.polling = true;
        self.start_operation(
            client,
            0,
            sql,
            None,
            Some(Notify::CapturePoll {
                connector: index,
                generation,
            }),
        );
        self.record(Traced::ConnectorPoll, &[index as u64, 0]);
    }

    /// A `query` or `trigger` connector's poll ended: on success what it found is produced;
    /// the next poll is due a `query_poll_interval` later.
    pub(super) fn capture_poll_done(
        &mut self,
        index: usize,
        generation: u64,
        ok: bool,
        core: Micros,
    ) {
        let now = self.now;
        let Some(pipeline) = self.pipeline.as_mut() else {
            return;
        };
        let Some(actor) = pipeline.connectors.get_mut(index) else {
            return;
        };
        let interval = actor.connector.config.poll_interval.max(1);
        actor.polling = false;
        actor.poll_core += core;
        let current =
            actor.generation == generation && actor.connector.state() == ConnectorState::Streaming;
        if !current {
            return;
        }
        let db = &self.nodes[actor.node].db;
        let mut records = Vec::new();
        if ok {
            match &mut actor.query {
                Some(query) => {
                    let config = &actor.connector.config;
                    records = query.poll(db, &config.prefix, &config.replica_identity, now);
                    actor.connector.advance_to(query.position());
                }
                None => {
                    actor.audit_upto = actor.pending_upto;
                    records = actor.connector.poll(db, now);
                }
            }
        }
        let count = records.len() as u64;
        for record in records {
            if let Some(topic) = pipeline.topics.get_mut(&record.topic) {
                topic.produce(record.key.map(Rc::from), record.value.map(Rc::from), now);
            }
        }
        actor.produced += count;
        let cost = count.saturating_mul(actor.connector.config.event_cost);
        self.queue.schedule(
            now + cost.max(interval),
            Event::Pipeline(PipelineEvent::ConnectorPoll {
                connector: index,
                generation,
            }),
        );
    }

    fn consumer_poll(&mut self, index: usize, generation: u64) {
        let now = self.now;
        let Some(pipeline) = self.pipeline.as_mut() else {
            return;
        };
        let max_records = pipeline.spec.max_poll_records.max(1);
        let Some(actor) = pipeline.consumers.get_mut(index) else {
            return;
        };
        let interval = actor.poll_interval;
        if actor.generation != generation || actor.state != ConsumerState::Running {
            return;
        }
        if actor.batch.is_some() {
            // The batch's end polls again.
            return;
        }
        let poll = Event::Pipeline(PipelineEvent::ConsumerPoll {
            consumer: index,
            generation,
        });
        if actor.group.is_rebalancing(now) {
            self.queue.schedule(now + interval, poll);
            return;
        }
        let db = &self.nodes[actor.node].db;
        let mut statements = Vec::new();
        actor.next_batch += 1;
        let mut batch = Batch {
            id: actor.next_batch,
            next_offsets: Vec::new(),
            events: Vec::new(),
        };
        let mut fetched = 0;
        let mut assigned: Vec<TopicPartition> = actor.group.assignment(&actor.member).to_vec();
        if !assigned.is_empty() {
            let start = actor.next_partition % assigned.len();
            assigned.rotate_left(start);
            actor.next_partition = start + 1;
        }
        let mut pending: BTreeMap<(String, Rc<str>), u64> = BTreeMap::new();
        for tp in assigned {
            if fetched >= max_records {
                break;
            }
            let Some(topic) = pipeline.topics.get(&tp.topic) else {
                continue;
            };
            let Some(partition) = topic.partition(tp.partition) else {
                continue;
            };
            let Some(table) = actor
                .tables
                .iter()
                .find(|(_, t)| *t == tp.topic)
                .map(|(table, _)| table.clone())
            else {
                continue;
            };
            let mut applied_here: Vec<Applied> = Vec::new();
            let position = actor.group.position(&tp, topic);
            let messages = partition.fetch(position, max_records - fetched, now);
            let Some(last) = messages.last() else {
                continue;
            };
            batch.next_offsets.push((tp.clone(), last.offset + 1));
            fetched += messages.len();
            let columns: Vec<SinkColumn> = db.with_engine_ref(|e| {
                e.column_defs(&table)
                    .into_iter()
                    .map(|c| SinkColumn {
                        name: c.name,
                        data_type: c.data_type,
                    })
                    .collect()
            });
            for message in messages {
                let Some(key) = &message.key else {
                    actor.undecodable += 1;
                    continue;
                };
                let Some(value) = &message.value else {
                    // A tombstone deletes the key's row (its delete event may be compacted away).
                    actor.tombstones += 1;
                    if let Ok(applied) = apply_tombstone(&table, &columns, key) {
                        applied_here.push(applied);
                    }
                    continue;
                };
                let Ok(applied) = apply_event(&table, &columns, key, value, false) else {
                    actor.undecodable += 1;
                    continue;
                };
                let slot = (table.clone(), Rc::clone(key));
                let last_applied = pending
                    .get(&slot)
                    .or_else(|| actor.applied_lsn.get(&slot))
                    .copied();
                if last_applied.is_some_and(|l| applied.lsn <= l) {
                    actor.duplicates += 1;
                    continue;
                }
                pending.insert(slot, applied.lsn);
                let committed = applied
                    .committed_us
                    .saturating_sub(EPOCH_MS.saturating_mul(1_000));
                batch.events.push((
                    table.clone(),
                    Rc::clone(key),
                    applied.lsn,
                    u64::try_from(committed).unwrap_or(0),
                ));
                applied_here.push(applied);
            }
            statements.extend(batch_statements(&table, &applied_here));
        }
        let service = actor.service;
        let batch_id = batch.id;
        let apply = if fetched > 0 && statements.is_empty() {
            // Only tombstones and duplicates: nothing to write, the offsets move on.
            for (tp, offset) in batch.next_offsets {
                actor.group.commit(tp, offset);
            }
            false
        } else {
            actor.batch = (fetched > 0).then_some(batch);
            fetched > 0
        };
        self.record(Traced::ConsumerPoll, &[index as u64, fetched as u64]);
        if apply {
            self.start_operation(
                service,
                0,
                statements,
                None,
                Some(Notify::ConsumerBatch {
                    consumer: index,
                    batch: batch_id,
                }),
            );
        } else {
            let next = if fetched == 0 { now + interval } else { now };
            self.queue.schedule(next, poll);
        }
    }

    /// A consumer's batch ended: on success its offsets are committed and its events'
    /// staleness recorded; either way it polls again.
    pub(super) fn consumer_batch_done(&mut self, index: usize, batch_id: u64, ok: bool) {
        let now = self.now;
        let Some(pipeline) = self.pipeline.as_mut() else {
            return;
        };
        let Some(actor) = pipeline.consumers.get_mut(index) else {
            return;
        };
        let interval = actor.poll_interval;
        // A batch a rebuild dropped settles nothing (the rebuild replays what it applied).
        if actor.batch.as_ref().is_none_or(|b| b.id != batch_id) {
            return;
        }
        let Some(batch) = actor.batch.take() else {
            return;
        };
        if ok {
            // The read model committed; a crashed consumer never got to commit its offsets.
            if actor.state != ConsumerState::Crashed {
                for (tp, offset) in batch.next_offsets {
                    actor.group.commit(tp, offset);
                }
            }
            for (table, key, lsn, committed) in batch.events {
                actor
                    .staleness
                    .entry(table.clone())
                    .or_default()
                    .record(now.saturating_sub(committed));
                *actor.applied.entry(table.clone()).or_default() += 1;
                actor.applied_lsn.insert((table, key), lsn);
            }
        } else {
            actor.failed_batches += 1;
        }
        let next = if ok { now } else { now + interval };
        let generation = actor.generation;
        self.queue.schedule(
            next,
            Event::Pipeline(PipelineEvent::ConsumerPoll {
                consumer: index,
                generation,
            }),
        );
    }
}

/// The pipeline's part of the report.
pub(super) struct PipelineReport {
    pub connectors: BTreeMap<String, ConnectorReport>,
    pub topics: BTreeMap<String, TopicReport>,
    pub consumer_groups: BTreeMap<String, ConsumerGroupReport>,
    pub read_models: BTreeMap<String, BTreeMap<String, ReadModelReport>>,
}

impl World {
    /// The pipeline's figures now (empty outside the `cdc` mode).
    pub(super) fn pipeline_report(&self) -> PipelineReport {
        let mut report = PipelineReport {
            connectors: BTreeMap::new(),
            topics: BTreeMap::new(),
            consumer_groups: BTreeMap::new(),
            read_models: BTreeMap::new(),
        };
        let Some(pipeline) = &self.pipeline else {
            return report;
        };
        let now = self.now;
        let ms = |us: u64| round3(us as f64 / 1e3);
        for actor in &pipeline.connectors {
            let connector = &actor.connector;
            let db = &self.nodes[actor.node].db;
            let lag = connector.lag(db, now);
            let stats = connector.stats();
            let missed = actor.query.as_ref().map_or((0, 0), |q| q.stats.missed());
            let source_core =
                actor.poll_core + pipeline.triggers.get(&actor.node).map_or(0, |t| t.core);
            report.connectors.insert(
                connector.config.name.clone(),
                ConnectorReport {
                    source: self.nodes[actor.node].name.clone(),
                    state: connector.state().name().to_owned(),
                    position: connector.position(),
                    flushed_lsn: connector.flushed(),
                    snapshot_events: stats.snapshot_events,
                    streamed_events: stats.streamed_events,
                    resent_events: stats.resent_events,
                    flushes: stats.flushes,
                    crashes: stats.crashes,
                    lag_records: lag.records,
                    lag_ms: ms(lag.age),
                    lag_records_p95: actor.lag_records.quantile(0.95),
                    retained_records: if actor.capture == CaptureMethod::Log {
                        lag.retained
                    } else {
                        0
                    },
                    capture: actor.capture.name().to_owned(),
                    missed_deletes: missed.0,
                    missed_changes: missed.1,
                    source_core_ms: ms(source_core),
                },
            );
        }
        for (name, topic) in &pipeline.topics {
            let cleaned = topic.cleaned();
            report.topics.insert(
                name.clone(),
                TopicReport {
                    partitions: topic.partitions().len() as u32,
                    produced: topic.produced(),
                    messages: topic.len(),
                    high_watermarks: topic
                        .partitions()
                        .iter()
                        .map(|p| p.high_watermark(now))
                        .collect(),
                    expired: cleaned.expired,
                    compacted: cleaned.compacted,
                },
            );
        }
        for actor in &pipeline.consumers {
            let group = &actor.group;
            let (mut lag_messages, mut lag_age) = (0, 0);
            let mut committed = BTreeMap::new();
            for (_, name) in &actor.tables {
                let Some(topic) = pipeline.topics.get(name) else {
                    continue;
                };
                for lag in group.lag(topic, now) {
                    lag_messages += lag.messages;
                    lag_age = lag_age.max(lag.age);
                    committed.insert(
                        format!("{}/{}", lag.partition.topic, lag.partition.partition),
                        lag.committed,
                    );
                }
            }
            report.consumer_groups.insert(
                group.name.clone(),
                ConsumerGroupReport {
                    members: group.members().map(str::to_owned).collect(),
                    topics: group.topics().to_vec(),
                    committed,
                    lag_messages,
                    lag_ms: ms(lag_age),
                    lag_messages_p95: actor.lag_messages.quantile(0.95),
                    lag_time_ms: actor.lag_time.as_latency(),
                    applied: actor.applied.values().sum(),
                    duplicates: actor.duplicates,
                    tombstones: actor.tombstones,
                    failed_batches: actor.failed_batches,
                    undecodable: actor.undecodable,
                    rebalances: group.rebalances(),
                },
            );
            let database = self.nodes[actor.node].name.clone();
            let models = report.read_models.entry(database).or_default();
            for (table, topic) in &actor.tables {
                models.insert(
                    table.clone(),
                    ReadModelReport {
                        topic: topic.clone(),
                        applied: actor.applied.get(table).copied().unwrap_or(0),
                        staleness_ms: actor
                            .staleness
                            .get(table)
                            .map(Distribution::as_latency)
                            .unwrap_or_default(),
                    },
                );
            }
        }
        report
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
                        format!(
                            "{} from LSN {}",
                            actor.connector.state().name(),
                            actor.connector.position()
                        )
                    }
                };
                Ok(outcome)
            }
            Command::PauseConsumer { group: name }
            | Command::ResumeConsumer { group: name }
            | Command::CrashConsumer { group: name }
            | Command::RebuildReadModels { group: name } => {
                let index = group(name)?;
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
                        for (table, _) in &actor.tables {
                            let _ = db
                                .connect(crate::sim::storage::ReadMode::LatestCommitted)
                                .execute(&format!("DELETE FROM {table}"));
                        }
                        actor.applied_lsn.clear();
                        // A batch still applying must not commit its offsets over the reset.
                        actor.batch = None;
                        actor.group.reset_to_earliest();
                        if actor.state == ConsumerState::Crashed {
                            let member = actor.member.clone();
                            actor.group.leave(&member, partitions, now);
                            actor.group.join(&member, partitions, now);
                        }
                        actor.state = ConsumerState::Running;
                        "read models emptied; the group reads its topics from the beginning"
                            .to_owned()
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
            _ => Ok("ok".to_owned()),
        }
    }
}

/// A connector as the page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorSnapshot {
    /// Its name.
    pub name: String,
    /// Its source database.
    pub source: String,
    /// The tables it captures.
    pub tables: Vec<String>,
    /// Where it stands.
    pub state: ConnectorState,
    /// The next LSN it reads.
    pub position: u64,
    /// The source's next LSN.
    pub source_lsn: u64,
    /// Its last flushed offset.
    pub flushed: Option<u64>,
    /// Its lag now.
    pub lag: ConnectorLag,
    /// Events sent again after crashes.
    pub resent: u64,
    /// Events produced so far (snapshot included).
    pub produced: u64,
    /// Its poll interval.
    pub poll_interval: Micros,
    /// Its batch size.
    pub batch_size: usize,
    /// Its work per event.
    pub event_cost: Micros,
    /// How it captures changes.
    pub capture: CaptureMethod,
    /// `query` capture: (deletes, other changes) it never saw.
    pub missed: (u64, u64),
    /// What capturing has cost the source: its polls and the audit trigger's inserts.
    pub source_core: Micros,
}

/// A partition as the page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionSnapshot {
    /// First offset kept.
    pub log_start: Offset,
    /// High watermark.
    pub high_watermark: Offset,
    /// Next offset.
    pub log_end: Offset,
    /// Messages kept.
    pub messages: usize,
}

/// A topic as the page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicSnapshot {
    /// Its name.
    pub name: String,
    /// Its partitions.
    pub partitions: Vec<PartitionSnapshot>,
    /// Whether it is compacted.
    pub compacted: bool,
}

/// A consumer group as the page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSnapshot {
    /// The group (its service's name).
    pub name: String,
    /// Its member.
    pub member: String,
    /// `running`, `paused` or `crashed`.
    pub state: &'static str,
    /// Whether a rebalance holds it now.
    pub rebalancing: bool,
    /// Per topic partition: (topic, partition, committed offset, high watermark).
    pub partitions: Vec<(String, u32, Offset, Offset)>,
    /// Lag now in messages.
    pub lag_messages: u64,
    /// Lag now: age of the oldest unconsumed message.
    pub lag_age: Micros,
    /// How far its read models are behind their sources now: changes committed at the source
    /// and not applied yet (not yet read by the connector, or in the topics unconsumed), and the
    /// age of the oldest.
    pub behind_source: (u64, Micros),
    /// The last minute's lag at its polls: (time, messages, age).
    pub lag_history: Vec<(Micros, u64, Micros)>,
    /// Events delivered again and skipped.
    pub duplicates: u64,
    /// Batches that failed.
    pub failed_batches: u64,
    /// Its poll interval.
    pub poll_interval: Micros,
    /// Its database.
    pub database: String,
    /// Its read models: (table, topic, applied, staleness p50 and p95 in ms).
    pub read_models: Vec<(String, String, u64, f64, f64)>,
}

/// The pipeline as the page shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PipelineSnapshot {
    /// The connectors.
    pub connectors: Vec<ConnectorSnapshot>,
    /// The topics.
    pub topics: Vec<TopicSnapshot>,
    /// The consumer groups.
    pub groups: Vec<GroupSnapshot>,
}

/// How long a group's lag history reaches back.
pub const LAG_HISTORY: Micros = 60 * crate::sim::clock::SECOND;

impl World {
    /// The pipeline now, for the page (`None` outside the `cdc` mode).
    pub fn pipeline_snapshot(&self) -> Option<PipelineSnapshot> {
        let pipeline = self.pipeline.as_ref()?;
        let now = self.now;
        let connectors = pipeline
            .connectors
            .iter()
            .map(|actor| {
                let db = &self.nodes[actor.node].db;
                let c = &actor.connector;
                ConnectorSnapshot {
                    name: c.config.name.clone(),
                    source: self.nodes[actor.node].name.clone(),
                    tables: c.config.tables.clone(),
                    state: c.state(),
                    position: c.position(),
                    source_lsn: db.with_engine_ref(|e| e.log().next_lsn()),
                    flushed: c.flushed(),
                    lag: c.lag(db, now),
                    resent: c.stats().resent_events,
                    produced: actor.produced + c.stats().snapshot_events,
                    poll_interval: c.config.poll_interval,
                    batch_size: c.config.batch_size,
                    event_cost: c.config.event_cost,
                    capture: actor.capture,
                    missed: actor.query.as_ref().map_or((0, 0), |q| q.stats.missed()),
                    source_core: actor.poll_core
                        + pipeline.triggers.get(&actor.node).map_or(0, |t| t.core),
                }
            })
            .collect();
        let topics = pipeline
            .topics
            .values()
            .map(|t| TopicSnapshot {
                name: t.name.clone(),
                partitions: t
                    .partitions()
                    .iter()
                    .map(|p| PartitionSnapshot {
                        log_start: p.log_start_offset(),
                        high_watermark: p.high_watermark(now),
                        log_end: p.log_end_offset(),
                        messages: p.messages().count(),
                    })
                    .collect(),
                compacted: t.config.compact,
            })
            .collect();
        let groups = pipeline
            .consumers
            .iter()
            .map(|actor| {
                let mut partitions = Vec::new();
                let (mut lag_messages, mut lag_age) = (0, 0);
                for (_, name) in &actor.tables {
                    let Some(topic) = pipeline.topics.get(name) else {
                        continue;
                    };
                    for lag in actor.group.lag(topic, now) {
                        lag_messages += lag.messages;
                        lag_age = lag_age.max(lag.age);
                        partitions.push((
                            lag.partition.topic,
                            lag.partition.partition,
                            lag.committed,
                            lag.high_watermark,
                        ));
                    }
                }
                // What the connectors feeding its topics have not read yet comes on top of what
                // waits in the topics.
                let (mut behind, mut behind_age) = (lag_messages, lag_age);
                for connector in &pipeline.connectors {
                    let feeds = actor.tables.iter().any(|(table, _)| {
                        connector.connector.config.tables.iter().any(|t| t == table)
                    });
                    if feeds {
                        let lag = connector.connector.lag(&self.nodes[connector.node].db, now);
                        behind += lag.records;
                        behind_age = behind_age.max(lag.age);
                    }
                }
                GroupSnapshot {
                    behind_source: (behind, behind_age),
                    name: actor.group.name.clone(),
                    member: actor.member.clone(),
                    state: match actor.state {
                        ConsumerState::Running => "running",
                        ConsumerState::Paused => "paused",
                        ConsumerState::Crashed => "crashed",
                    },
                    rebalancing: actor.group.is_rebalancing(now),
                    partitions,
                    lag_messages,
                    lag_age,
                    lag_history: actor
                        .lag_history
                        .iter()
                        .filter(|(at, ..)| now.saturating_sub(*at) <= LAG_HISTORY)
                        .copied()
                        .collect(),
                    duplicates: actor.duplicates,
                    failed_batches: actor.failed_batches,
                    poll_interval: actor.poll_interval,
                    database: self.nodes[actor.node].name.clone(),
                    read_models: actor
                        .tables
                        .iter()
                        .map(|(table, topic)| {
                            let staleness = actor
                                .staleness
                                .get(table)
                                .map(Distribution::as_latency)
                                .unwrap_or_default();
                            (
                                table.clone(),
                                topic.clone(),
                                actor.applied.get(table).copied().unwrap_or(0),
                                staleness.p50,
                                staleness.p95,
                            )
                        })
                        .collect(),
                }
            })
            .collect();
        Some(PipelineSnapshot {
            connectors,
            topics,
            groups,
        })
    }
}
