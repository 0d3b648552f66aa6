//! A CDC consumer in the world: one member of its group, polling its partitions and applying
//! each batch of events to its read models with SQL through the client state machine on its
//! own node; it skips what it already applied (duplicates) and commits offsets after its
//! transaction committed (at-least-once).

use super::pipeline::PipelineEvent;
use super::{Event, Traced, World};
use crate::sim::clock::Micros;
use crate::sim::consumer_group::{ConsumerGroup, TopicPartition};
use crate::sim::debezium::EPOCH_MS;
use crate::sim::metrics::Distribution;
use crate::sim::projection::{ProjectionStore, ProjectionUpdate};
use crate::sim::service::Notify;
use crate::sim::sink::{
    apply_event, apply_tombstone, batch_statements, parse_event, Applied, SinkColumn,
};
use crate::sim::topic::Offset;
use std::collections::BTreeMap;
use std::rc::Rc;

/// Where a consumer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
pub(super) struct Batch {
    /// Its number among the consumer's batches.
    id: u64,
    next_offsets: Vec<(TopicPartition, Offset)>,
    /// (table, key, LSN, source commit time).
    events: Vec<(String, Rc<str>, u64, Micros)>,
    /// The projections' updates, kept once the batch committed.
    projections: Vec<(String, ProjectionUpdate)>,
}

/// A consumer: one member of its group, applying to its node's read models.
pub(super) struct ConsumerActor {
    pub group: ConsumerGroup,
    pub member: String,
    pub node: usize,
    pub service: usize,
    /// Read models: table → topic.
    pub tables: Vec<(String, String)>,
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
    /// The last LSN applied per (table, key).
    pub(super) applied_lsn: BTreeMap<(String, Rc<str>), u64>,
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

impl ConsumerActor {
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
        let db = &self.nodes[actor.node].db;
        let mut statements = Vec::new();
        actor.next_batch += 1;
        let mut batch = Batch {
            id: actor.next_batch,
            next_offsets: Vec::new(),
            events: Vec::new(),
            projections: Vec::new(),
        };
        // Per projection, the new contribution of each source row this batch changes.
        let mut staged: BTreeMap<String, BTreeMap<Rc<str>, _>> = BTreeMap::new();
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
            let targets: Vec<String> = actor
                .tables
                .iter()
                .filter(|(_, t)| *t == tp.topic)
                .map(|(table, _)| table.clone())
                .collect();
            if targets.is_empty() {
                continue;
            }
            let position = actor.group.position(&tp, topic);
            let messages = partition.fetch(position, max_records - fetched, now);
            let Some(last) = messages.last() else {
                continue;
            };
            batch.next_offsets.push((tp.clone(), last.offset + 1));
            fetched += messages.len();
            for message in &messages {
                if message.key.is_none() {
                    actor.undecodable += 1;
                } else if message.value.is_none() {
                    actor.tombstones += 1;
                }
            }
            for table in &targets {
                if let Some(store) = actor.projections.get(table) {
                    let staged = staged.entry(table.clone()).or_default();
                    for message in &messages {
                        let Some(key) = &message.key else { continue };
                        let Some(value) = &message.value else {
                            // A tombstone: the row is gone (its delete may be compacted away).
                            staged.insert(Rc::clone(key), None);
                            continue;
                        };
                        let Ok(event) = parse_event(value) else {
                            actor.undecodable += 1;
                            continue;
                        };
                        let slot = (table.clone(), Rc::clone(key));
                        let last_applied = pending
                            .get(&slot)
                            .or_else(|| actor.applied_lsn.get(&slot))
                            .copied();
                        if last_applied.is_some_and(|l| event.lsn <= l) {
                            actor.duplicates += 1;
                            continue;
                        }
                        let contribution = match &event.after {
                            None => None,
                            Some(after) => match store.contribution(after) {
                                Ok(c) => Some(c),
                                Err(_) => {
                                    actor.undecodable += 1;
                                    continue;
                                }
                            },
                        };
                        pending.insert(slot, event.lsn);
                        staged.insert(Rc::clone(key), contribution);
                        batch.events.push((
                            table.clone(),
                            Rc::clone(key),
                            event.lsn,
                            source_time(event.committed_us),
                        ));
                    }
                    continue;
                }
                let columns: Vec<SinkColumn> = db.with_engine_ref(|e| {
                    e.column_defs(table)
                        .into_iter()
                        .map(|c| SinkColumn {
                            name: c.name,
                            data_type: c.data_type,
                        })
                        .collect()
                });
                let subset = actor.subsets.contains(table);
                let mut applied_here: Vec<Applied> = Vec::new();
                for message in &messages {
                    let Some(key) = &message.key else { continue };
                    let Some(value) = &message.value else {
                        // A tombstone deletes the key's row (its delete event may be compacted
                        // away).
                        if let Ok(applied) = apply_tombstone(table, &columns, key) {
                            applied_here.push(applied);
                        }
                        continue;
                    };
                    let Ok(applied) = apply_event(table, &columns, key, value, subset) else {
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
                    batch.events.push((
                        table.clone(),
                        Rc::clone(key),
                        applied.lsn,
                        source_time(applied.committed_us),
                    ));
                    applied_here.push(applied);
                }
                statements.extend(batch_statements(table, &applied_here));
            }
        }
        for (name, keys) in staged {
            if keys.is_empty() {
                continue;
            }
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
            for (name, update) in batch.projections {
                if let Some(store) = actor.projections.get_mut(&name) {
                    store.commit(update);
                }
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

/// A source commit time (microseconds since the Unix epoch) as simulated time.
fn source_time(committed_us: i64) -> Micros {
    u64::try_from(committed_us.saturating_sub(EPOCH_MS.saturating_mul(1_000))).unwrap_or(0)
}
