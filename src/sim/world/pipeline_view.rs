//! What the page and the report see of the pipeline: snapshots of its connectors, topics and
//! consumer groups, and the report's figures.

use super::consumer_actor::ConsumerState;
use super::World;
use crate::sim::capture::CaptureMethod;
use crate::sim::clock::Micros;
use crate::sim::connector::{ConnectorLag, ConnectorState};
use crate::sim::debezium::topic_name;
use crate::sim::metrics::Distribution;
use crate::sim::report::{
    round3, ConnectorReport, ConsumerGroupReport, ReadModelReport, TopicReport,
};
use crate::sim::topic::Offset;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::rc::Rc;

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
            let missed = actor.missed();
            let source_core = actor.source_core(pipeline.triggers.get(&actor.node));
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
                    relayed_events: actor.relayed,
                    relay_failed: actor.relay_failed,
                    relay_error: actor.relay_error.clone(),
                    relay: actor.is_relay().then_some(if actor.polls_outbox {
                        crate::sim::outbox::RelayMethod::Polling
                    } else {
                        crate::sim::outbox::RelayMethod::Log
                    }),
                    relay_latency_ms: actor.is_relay().then(|| actor.relay_latency.as_latency()),
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
            for name in actor.topics() {
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
                        projection: actor.projections.get(table).map(|p| p.query().sql.clone()),
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

/// A connector as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorSnapshot {
    /// Its name.
    pub name: String,
    /// Its source database.
    pub source: String,
    /// The tables it captures.
    pub tables: Vec<String>,
    /// Its topics' prefix (`<prefix>.public.<table>`).
    pub topic_prefix: String,
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
    /// The `events` mode's relay: the domain events it published (`None`: not a relay).
    pub relayed: Option<u64>,
    /// The polling relay: it queries the outbox instead of reading the log.
    pub polls_outbox: bool,
    /// The relay's latency p95 so far, from an event's commit to its publish.
    pub relay_latency_p95: Micros,
    /// Why it failed last, when it stopped at a record it could not produce (an outbox event
    /// that does not fit its schema); cleared once it publishes again.
    pub error: Option<String>,
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
    /// Whether a poll (`query`, `trigger`) is running on the source now.
    pub polling: bool,
}

/// A partition as the page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicSnapshot {
    /// Its name.
    pub name: String,
    /// Its partitions.
    pub partitions: Vec<PartitionSnapshot>,
    /// Whether it is compacted.
    pub compacted: bool,
}

/// A consumer group as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSnapshot {
    /// The group (its service's name).
    pub name: String,
    /// Its member.
    pub member: String,
    /// `running`, `paused` or `crashed`.
    pub state: ConsumerState,
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
    /// Why its last batch failed (a projection could not read a row), until one succeeds.
    pub last_error: Option<String>,
    /// A slow consumer's extra time per message (0: normal speed).
    pub slow_per_message: Micros,
    /// Whether it reads domain events (its read models cannot be rebuilt from its topics).
    pub reads_events: bool,
    /// Its database.
    pub database: String,
    /// Its read models.
    pub read_models: Vec<ReadModelSnapshot>,
}

/// A read model as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadModelSnapshot {
    /// Its table in the group's database.
    pub table: String,
    /// The source table it is kept from (its own name for a replica).
    pub source: String,
    /// The topic that feeds it.
    pub topic: String,
    /// Events applied to it.
    pub applied: u64,
    /// Staleness p50, in milliseconds.
    pub staleness_p50: f64,
    /// Staleness p95, in milliseconds.
    pub staleness_p95: f64,
    /// For a projection (a read model defined by SQL), what it is.
    pub projection: Option<ProjectionSnapshot>,
}

/// A projection as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectionSnapshot {
    /// Its defining query.
    pub sql: String,
    /// The rows its table holds (one per group).
    pub rows: usize,
}

/// The pipeline as the page shows it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PipelineSnapshot {
    /// The connectors.
    pub connectors: Vec<ConnectorSnapshot>,
    /// The topics.
    pub topics: Vec<TopicSnapshot>,
    /// The consumer groups.
    pub groups: Vec<GroupSnapshot>,
    /// The `events` mode's schema registry (empty otherwise).
    pub registry: RegistrySnapshot,
    /// While the broker is down: when it is back.
    pub broker_down_until: Option<Micros>,
}

/// The schema registry as the page shows it: its subjects, and the registry itself for trying
/// a change before registering it ([`crate::sim::registry::SchemaRegistry::preview`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RegistrySnapshot {
    /// The subjects.
    pub subjects: Vec<crate::sim::registry::SubjectView>,
    /// The registry.
    pub registry: Rc<crate::sim::registry::SchemaRegistry>,
    /// Per subject, the payload fields the owner's events carry now.
    pub payload_fields: BTreeMap<String, Vec<String>>,
}

impl RegistrySnapshot {
    /// What registering `text` as the next version of `subject` would do: the registry's
    /// preview, and whether the relay could still encode the owner's events with it — a field
    /// the events do not carry needs a default (an alias names an old *writer* field for a
    /// reader; it does not rename what the producer writes).
    pub fn preview(&self, subject: &str, text: &str) -> crate::sim::registry::Preview {
        let mut preview = self.registry.preview(subject, text);
        let (Some(carried), Ok(apache_avro::Schema::Record(record))) = (
            self.payload_fields.get(subject),
            crate::sim::registry::parse_schema(text),
        ) else {
            return preview;
        };
        let missing: Vec<&str> = record
            .fields
            .iter()
            .filter(|f| f.default.is_none() && !carried.contains(&f.name))
            .map(|f| f.name.as_str())
            .collect();
        if !missing.is_empty() {
            preview.producer = Some(format!(
                "the owner's events carry no field {} and it has no default, so the relay \
                 cannot encode them with this version: it would stop at the next event \
                 (an alias helps a reader find an old field; it does not rename what the \
                 producer writes)",
                missing.join(", ")
            ));
        }
        preview
    }
}

impl PartialEq for RegistrySnapshot {
    /// The same registry, or one that shows and previews the same: the same subjects with the
    /// same versions, modes and readers, the same default mode and the same payloads (a
    /// registry that came through JSON is another `Rc`).
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.registry, &other.registry)
            || (self.subjects == other.subjects
                && self.payload_fields == other.payload_fields
                && self.registry.default_mode() == other.registry.default_mode())
    }
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
                    topic_prefix: format!("{}.public.*", c.config.prefix),
                    state: c.state(),
                    position: c.position(),
                    source_lsn: db.with_engine_ref(|e| e.log().next_lsn()),
                    flushed: c.flushed(),
                    lag: c.lag(db, now),
                    resent: c.stats().resent_events,
                    produced: actor.produced + c.stats().snapshot_events,
                    relayed: actor.is_relay().then_some(actor.relayed),
                    polls_outbox: actor.polls_outbox,
                    relay_latency_p95: actor.relay_latency.quantile(0.95),
                    error: actor.relay_error.clone(),
                    poll_interval: c.config.poll_interval,
                    batch_size: c.config.batch_size,
                    event_cost: c.config.event_cost,
                    capture: actor.capture,
                    missed: actor.missed(),
                    source_core: actor.source_core(pipeline.triggers.get(&actor.node)),
                    polling: actor.polling,
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
                        messages: p.len(),
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
                for name in actor.topics() {
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
                    let config = &connector.connector.config;
                    // A relay feeds the event topics of its owner's aggregates: what it has not
                    // read from the log (or, polling, not yet published) is on its way too.
                    let feeds = actor.tables.iter().any(|(_, topic)| {
                        config
                            .tables
                            .iter()
                            .any(|t| topic_name(&config.prefix, t) == *topic)
                            || (actor.readers.contains_key(topic)
                                && self.services.iter().any(|s| {
                                    s.node == connector.node
                                        && s.outbox.as_ref().is_some_and(|o| {
                                            o.contracts.iter().any(|c| &c.topic == topic)
                                        })
                                }))
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
                    state: actor.state,
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
                    last_error: actor.last_error.clone(),
                    slow_per_message: actor.slow_per_message,
                    reads_events: actor.reads_events(),
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
                            let projection = actor.projections.get(table);
                            ReadModelSnapshot {
                                table: table.clone(),
                                source: projection
                                    .map_or_else(|| table.clone(), |p| p.query().source.clone()),
                                topic: topic.clone(),
                                applied: actor.applied.get(table).copied().unwrap_or(0),
                                staleness_p50: staleness.p50,
                                staleness_p95: staleness.p95,
                                projection: projection.map(|p| ProjectionSnapshot {
                                    sql: p.query().sql.clone(),
                                    rows: p.groups(),
                                }),
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        Some(PipelineSnapshot {
            connectors,
            topics,
            groups,
            registry: RegistrySnapshot {
                subjects: pipeline.registry.views(),
                registry: Rc::clone(&pipeline.registry),
                payload_fields: self
                    .services
                    .iter()
                    .filter_map(|s| s.outbox.as_ref())
                    .flat_map(|o| o.payload_fields())
                    .collect(),
            },
            broker_down_until: self.broker_down(),
        })
    }
}
