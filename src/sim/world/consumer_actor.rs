//! A CDC consumer in the world: one member of its group, polling its partitions and applying
//! each batch of events to its read models with SQL through the client state machine on its
//! own node; it skips what it already applied (duplicates) and commits offsets after its
//! transaction committed (at-least-once).

use super::pipeline::PipelineEvent;
use super::{Event, Traced, World};
use crate::sim::clock::Micros;
use crate::sim::consumer_group::{ConsumerGroup, TopicPartition};
use crate::sim::debezium::EPOCH_MS;
use crate::sim::idempotent::{AppliedPositions, Slot};
use crate::sim::metrics::Distribution;
use crate::sim::projection::{Contribution, ProjectionStore, ProjectionUpdate};
use crate::sim::service::Notify;
use crate::sim::sink::{
    apply_change, apply_tombstone, batch_statements, parse_event, Applied, ChangeEvent, SinkColumn,
    SinkError,
};
use crate::sim::topic::{Message, Offset};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::rc::Rc;

/// Where a consumer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsumerState {
    /// Polling and applying.
    Running,
    /// Paused by a command: not polling, its lag grows.
    Paused,
    /// Crashed: out of its group until resumed (then a rebalance).
    Crashed,
}

impl ConsumerState {
    /// The state's name, as the page and the report show it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Crashed => "crashed",
        }
    }
}

/// A batch being applied: the offsets to commit after it, and its events.
#[derive(Clone)]
pub(super) struct Batch {
    /// Its number among the consumer's batches.
    id: u64,
    next_offsets: Vec<(TopicPartition, Offset)>,
    /// (table, key, LSN, source commit time).
    events: Vec<(String, Rc<str>, Option<u64>, Micros)>,
    /// The projections' updates, kept once the batch committed.
    projections: Vec<(String, ProjectionUpdate)>,
}

/// A consumer: one member of its group, applying to its node's read models.
#[derive(Clone)]
pub(super) struct ConsumerActor {
    pub group: ConsumerGroup,
    pub member: String,
    pub node: usize,
    pub service: usize,
    /// Read models: table → topic.
    pub tables: Vec<(String, String)>,
    /// The `events` mode: per event topic it reads, how it reads the events.
    pub readers: BTreeMap<String, crate::sim::event_reader::EventReader>,
    /// The read models that keep a subset of their source's columns (only those are written).
    pub subsets: Vec<String>,
    /// The read models that are projections: name → state store.
    pub projections: BTreeMap<String, ProjectionStore>,
    pub state: ConsumerState,
    pub generation: u64,
    /// The number of the next batch.
    pub(super) next_batch: u64,
    /// Where the next poll starts among the assigned partitions (turn by turn, so that one
    /// partition catching up does not starve the others).
    pub(super) next_partition: usize,
    /// How long it waits after a poll that found nothing.
    pub poll_interval: Micros,
    pub(super) batch: Option<Batch>,
    /// What it applied per (read model, key), to skip what is delivered again.
    pub(super) positions: AppliedPositions,
    /// Why its last batch failed, if it did.
    pub last_error: Option<String>,
    /// When its read models were last rebuilt: changes committed before then and applied
    /// again by the replay are not counted in the staleness (the read model had shown them
    /// once; the replay's catch-up shows as lag and "behind source").
    pub rebuilt_at: Micros,
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
    /// A slow consumer's extra time per message (a `SlowConsumer`; 0: normal speed).
    pub slow_per_message: Micros,
}

impl ConsumerActor {
    /// Whether some of its read models are fed by domain events (which no topic holds from the
    /// beginning of the data: such read models cannot be rebuilt).
    pub(super) fn reads_events(&self) -> bool {
        self.tables
            .iter()
            .any(|(_, t)| self.readers.contains_key(t))
    }

    /// The topics it reads, each once (a replica and a projection of one table share a topic).
    pub(super) fn topics(&self) -> Vec<&str> {
        let mut topics: Vec<&str> = Vec::new();
        for (_, topic) in &self.tables {
            if !topics.contains(&topic.as_str()) {
                topics.push(topic);
            }
        }
        topics
    }
}

/// A message as a consumer reads it, parsed once whatever read models it feeds.
enum Delivered {
    /// No key, or a value that is not a change event: skipped and counted.
    Undecodable,
    /// An event its reader cannot decode (no schema, a writer schema it cannot resolve, not an
    /// outbox event): a poison pill, as for a Kafka consumer whose deserializer throws — the
    /// batch fails at it and the consumer stops there, nothing skipped.
    Poison(String),
    /// A tombstone: the key's row is gone.
    Tombstone(Rc<str>),
    /// A change event.
    Change(Rc<str>, ChangeEvent),
}

impl Delivered {
    /// A message of a change topic, or of an event topic read by `reader`.
    fn of(
        message: &Message,
        reader: Option<&crate::sim::event_reader::EventReader>,
        registry: &crate::sim::registry::SchemaRegistry,
    ) -> Self {
        if let Some(reader) = reader {
            return match reader.read(message, registry) {
                Ok((key, event)) => Self::Change(Rc::from(key), event),
                Err(error) => Self::Poison(error.to_string()),
            };
        }
        match (&message.key, message.json()) {
            (None, _) => Self::Undecodable,
            (Some(key), None) if message.value.is_none() => Self::Tombstone(Rc::clone(key)),
            (Some(_), None) => Self::Undecodable,
            (Some(key), Some(value)) => match parse_event(value) {
                Ok(event) => Self::Change(Rc::clone(key), event),
                Err(_) => Self::Undecodable,
            },
        }
    }
}

/// What one poll stages for the read models: per replica the events to apply, per projection
/// the new contribution of each source row it changes.
#[derive(Default)]
struct Staged {
    replicas: BTreeMap<String, Vec<Applied>>,
    projections: BTreeMap<String, BTreeMap<Rc<str>, Option<Contribution>>>,
    /// Why the batch cannot be applied (a projection cannot read a row).
    failure: Option<String>,
}

impl ConsumerActor {
    /// Stages `delivered` for the read model `table`: a replica's upsert or delete, or a
    /// projection's new contribution for the key.
    fn stage(
        &self,
        staged: &mut Staged,
        table: &str,
        columns: &[SinkColumn],
        delivered: &Delivered,
    ) -> Result<(), SinkError> {
        let (key, event) = match delivered {
            Delivered::Undecodable | Delivered::Poison(_) => return Ok(()),
            Delivered::Tombstone(key) => (key, None),
            Delivered::Change(key, event) => (key, Some(event)),
        };
        if let Some(store) = self.projections.get(table) {
            let contribution = match event.and_then(|e| e.after.as_ref()) {
                None => None,
                Some(after) => match store.contribution(after) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        staged
                            .failure
                            .get_or_insert_with(|| format!("{table}: {e}"));
                        return Ok(());
                    }
                },
            };
            staged
                .projections
                .entry(table.to_owned())
                .or_default()
                .insert(Rc::clone(key), contribution);
            return Ok(());
        }
        let applied = match event {
            // A tombstone deletes the key's row (its delete event may be compacted away).
            None => apply_tombstone(table, columns, key)?,
            Some(event) => {
                let subset = self.subsets.iter().any(|t| t == table);
                apply_change(table, columns, key, event, subset)?
            }
        };
        staged
            .replicas
            .entry(table.to_owned())
            .or_default()
            .push(applied);
        Ok(())
    }
}

impl World {
    pub(super) fn consumer_poll(&mut self, index: usize, generation: u64) {
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
        if pipeline.broker_down_until > now {
            // The broker is down: nothing to fetch until it is back.
            self.queue.schedule(pipeline.broker_down_until, poll);
            return;
        }
        let db = &self.nodes[actor.node].db;
        // Kafka's consumers long-poll: the fetch already waits at the broker, and what is
        // readable there reaches the consumer one crossing of its link later.
        let group = &actor.group.name;
        let link = self.network.link(group, group, crate::sim::network::BROKER);
        let readable_at = now.saturating_sub(self.network.one_way(link));
        actor.next_batch += 1;
        let mut batch = Batch {
            id: actor.next_batch,
            next_offsets: Vec::new(),
            events: Vec::new(),
            projections: Vec::new(),
        };
        let mut staged = Staged::default();
        let mut columns: BTreeMap<String, Vec<SinkColumn>> = BTreeMap::new();
        let mut fetched = 0;
        let mut assigned: Vec<TopicPartition> = actor.group.assignment(&actor.member).to_vec();
        if !assigned.is_empty() {
            let start = actor.next_partition % assigned.len();
            assigned.rotate_left(start);
            actor.next_partition = start + 1;
        }
        let mut pending: BTreeMap<Slot, u64> = BTreeMap::new();
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
            let targets: Vec<String> = actor
                .tables
                .iter()
                .filter(|(_, t)| *t == tp.topic)
                .map(|(table, _)| table.clone())
                .collect();
            if targets.is_empty() {
                continue;
            }
            for table in &targets {
                columns.entry(table.clone()).or_insert_with(|| {
                    db.with_engine_ref(|e| {
                        e.column_defs(table)
                            .into_iter()
                            .map(|c| SinkColumn {
                                name: c.name,
                                data_type: c.data_type,
                            })
                            .collect()
                    })
                });
            }
            let position = actor.group.position(&tp, topic);
            let messages = partition.fetch(position, max_records - fetched, readable_at);
            let Some(last) = messages.last() else {
                continue;
            };
            batch.next_offsets.push((tp.clone(), last.offset + 1));
            fetched += messages.len();
            for message in messages {
                let delivered =
                    Delivered::of(message, actor.readers.get(&tp.topic), &pipeline.registry);
                if let Delivered::Poison(why) = &delivered {
                    staged.failure.get_or_insert_with(|| {
                        format!(
                            "cannot decode the event at offset {} of {}[{}]: {why}",
                            message.offset, tp.topic, tp.partition
                        )
                    });
                    continue;
                }
                let mut duplicate = false;
                for table in &targets {
                    let admitted = match &delivered {
                        Delivered::Undecodable | Delivered::Poison(_) => false,
                        Delivered::Tombstone(key) => actor
                            .positions
                            .admit_tombstone(&(table.clone(), Rc::clone(key))),
                        Delivered::Change(key, event) => {
                            let slot = (table.clone(), Rc::clone(key));
                            let delete = event.after.is_none();
                            // A dual write's event has no position: nothing to compare it
                            // with, so it is always applied.
                            let admitted = event.lsn.is_none_or(|lsn| {
                                actor.positions.admit(&mut pending, slot, lsn, delete)
                            });
                            if admitted {
                                batch.events.push((
                                    table.clone(),
                                    Rc::clone(key),
                                    event.lsn,
                                    source_time(event.committed_us),
                                ));
                            }
                            admitted
                        }
                    };
                    if !admitted {
                        duplicate = !matches!(delivered, Delivered::Undecodable);
                        continue;
                    }
                    let table_columns = columns.get(table).map_or(&[][..], Vec::as_slice);
                    if actor
                        .stage(&mut staged, table, table_columns, &delivered)
                        .is_err()
                    {
                        actor.undecodable += 1;
                    }
                }
                match delivered {
                    Delivered::Undecodable => actor.undecodable += 1,
                    Delivered::Poison(_) => {}
                    Delivered::Tombstone(_) => actor.tombstones += 1,
                    Delivered::Change(..) if duplicate => actor.duplicates += 1,
                    Delivered::Change(..) => {}
                }
            }
        }
        if let Some(failure) = staged.failure {
            // An event it cannot decode, or a row a projection cannot read (a column renamed or
            // dropped at the source): the batch is not applied and its offsets are not
            // committed; the consumer polls the same messages again, and its read models stop
            // there.
            actor.failed_batches += 1;
            let text = format!(
                "{}'s consumer cannot apply its batch and stops there: {failure}",
                actor.group.name
            );
            actor.last_error = Some(failure);
            self.record(Traced::ConsumerPoll, &[index as u64, fetched as u64]);
            self.queue.schedule(now + interval, poll);
            self.narrate(super::NarrationKind::Error, text, None, 0);
            return;
        }
        let mut statements = Vec::new();
        for (table, applied) in &staged.replicas {
            statements.extend(batch_statements(table, applied));
        }
        for (name, keys) in staged.projections {
            let Some(store) = actor.projections.get(&name) else {
                continue;
            };
            let update = store.update(keys);
            statements.extend(update.statements.iter().cloned());
            batch.projections.push((name, update));
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

    /// A consumer's batch ended: on success (`failure` `None`) its offsets are committed and
    /// its events' staleness recorded; on failure it keeps the database's message; either way it
    /// polls again.
    pub(super) fn consumer_batch_done(
        &mut self,
        index: usize,
        batch_id: u64,
        failure: Option<&str>,
    ) {
        let ok = failure.is_none();
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
        // A slow consumer spends its extra time per message before it polls again.
        let slow = actor
            .slow_per_message
            .saturating_mul(batch.events.len() as Micros);
        if ok {
            actor.last_error = None;
            // The read model committed; a crashed consumer never got to commit its offsets.
            if actor.state != ConsumerState::Crashed {
                for (tp, offset) in batch.next_offsets {
                    actor.group.commit(tp, offset);
                }
            }
            for (table, key, lsn, committed) in batch.events {
                if committed >= actor.rebuilt_at {
                    actor
                        .staleness
                        .entry(table.clone())
                        .or_default()
                        .record(now.saturating_sub(committed));
                }
                *actor.applied.entry(table.clone()).or_default() += 1;
                if let Some(lsn) = lsn {
                    actor.positions.commit((table, key), lsn);
                }
            }
            for (name, update) in batch.projections {
                if let Some(store) = actor.projections.get_mut(&name) {
                    store.commit(update);
                }
            }
        } else {
            actor.failed_batches += 1;
            // Why: the database's error, as its SQL client got it.
            actor.last_error = failure.map(str::to_owned);
        }
        let next = if ok { now + slow } else { now + interval };
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

/// A source commit time (microseconds since the Unix epoch) as simulated time.
fn source_time(committed_us: i64) -> Micros {
    u64::try_from(committed_us.saturating_sub(EPOCH_MS.saturating_mul(1_000))).unwrap_or(0)
}
