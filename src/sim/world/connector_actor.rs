//! A CDC connector in the world: on its source's node it polls the change log (`log`
//! capture) or runs its queries through the SQL client (`query`, `trigger`; see
//! [`crate::sim::capture`]), spends `event_cost` per event and produces to the topics.

use super::pipeline::PipelineEvent;
use super::{Event, Traced, World};
use crate::sim::capture::{AuditTrigger, CaptureMethod, QueryCapture, AUDIT_TABLE};
use crate::sim::clock::Micros;
use crate::sim::connector::{Connector, ConnectorState};
use crate::sim::metrics::Distribution;
use crate::sim::service::Notify;
use std::rc::Rc;

/// A connector and the node it reads.
#[derive(Clone)]
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
    /// `dual_write` capture: the services' own publishing.
    pub publisher: Option<crate::sim::dual_write::Publisher>,
    /// The `events` mode's relay: outbox events published.
    pub relayed: u64,
    /// How many times the relay failed at an event it could not route or encode (a payload
    /// that does not fit its subject's latest schema): each time, the connector stopped there.
    pub relay_failed: u64,
    /// Why the relay last failed, shown on its card until it publishes again.
    pub relay_error: Option<String>,
    /// The polling relay ([`crate::sim::outbox_poll`]): it queries the outbox through
    /// `client` instead of reading it from the log.
    pub polls_outbox: bool,
    /// The relay's latency: from an event's commit to its publish.
    pub relay_latency: Distribution,
}

/// Produces a connector's records, sent at `sent` and at the broker at `arrives` (one crossing
/// of the connector's link later): change events to their topics, and the outbox
/// table's through Debezium's outbox event router, encoded with the registry's latest schema
/// of the aggregate's subject, to the aggregate's topic (the record's timestamp is the
/// event's commit time). Gives back how many it produced, and why it stopped if an outbox
/// event could not be routed or encoded: the records after it are not produced (the
/// connector fails there, see [`World::connector_failed`]).
fn produce_records(
    topics: &mut std::collections::BTreeMap<String, crate::sim::topic::Topic>,
    registry: &crate::sim::registry::SchemaRegistry,
    actor: &mut ConnectorActor,
    records: Vec<crate::sim::debezium::Record>,
    (sent, arrives): (Micros, Micros),
) -> (u64, Option<String>) {
    let outbox = crate::sim::debezium::topic_name(
        &actor.connector.config.prefix,
        crate::sim::outbox::OUTBOX_TABLE,
    );
    let mut produced = 0;
    for record in records {
        if record.topic == outbox {
            let event = match crate::sim::outbox::route(&record) {
                Ok(crate::sim::outbox::Routed::Event(event)) => event,
                Ok(_) => {
                    produced += 1;
                    continue;
                }
                Err(why) => return (produced, Some(why.to_string())),
            };
            if let Err(why) = relay_event(topics, registry, actor, &event, arrives) {
                return (produced, Some(why));
            }
            produced += 1;
            continue;
        }
        if let Some(topic) = topics.get_mut(&record.topic) {
            // Timestamped when sent (Kafka's CreateTime), readable once it has arrived.
            topic.produce_record(
                record.key.map(Rc::from),
                record
                    .value
                    .map(|v| crate::sim::topic::Payload::Json(Rc::from(v))),
                None,
                sent,
                arrives,
            );
        }
        produced += 1;
    }
    (produced, None)
}

/// The time a connector's produce request of `count` records takes to reach the broker (none
/// for nothing to send).
pub(super) fn broker_crossing(
    network: &mut crate::sim::network::Network,
    actor: &ConnectorActor,
    count: usize,
) -> Micros {
    if count == 0 {
        return 0;
    }
    let name = &actor.connector.config.name;
    let link = network.link(name, name, crate::sim::network::BROKER);
    network.one_way(link)
}

/// Publishes one outbox event, by either relay: encoded in Avro with its subject's latest
/// schema, to its aggregate's topic, its record timestamp the event's commit time; counted, and
/// its latency (commit → publish) recorded.
///
/// # Errors
///
/// Why it cannot be published — no topic for its aggregate type (an outbox row written by
/// hand), or a payload that does not fit the schema: the relay fails there.
pub(super) fn relay_event(
    topics: &mut std::collections::BTreeMap<String, crate::sim::topic::Topic>,
    registry: &crate::sim::registry::SchemaRegistry,
    actor: &mut ConnectorActor,
    event: &crate::sim::outbox::RoutedEvent,
    now: Micros,
) -> Result<(), String> {
    let Some(topic) = topics.get_mut(&event.topic) else {
        return Err(format!(
            "{} {} is for topic {}, which no aggregate declares",
            event.event_type, event.id, event.topic
        ));
    };
    let (value, headers) = crate::sim::event_reader::encode_event(event, registry)
        .map_err(|why| format!("cannot encode {} {}: {why}", event.event_type, event.id))?;
    topic.produce_record(
        Some(Rc::from(event.key.as_str())),
        Some(value),
        Some(headers),
        event.committed_at,
        now,
    );
    actor.relayed += 1;
    actor.relay_error = None;
    actor
        .relay_latency
        .record(now.saturating_sub(event.committed_at));
    Ok(())
}

impl ConnectorActor {
    /// Whether it is the `events` mode's outbox relay (by the log or by polling).
    pub(super) fn is_relay(&self) -> bool {
        self.connector
            .config
            .tables
            .iter()
            .any(|t| t == crate::sim::outbox::OUTBOX_TABLE)
    }

    /// `query` capture's misses: (deletes, other changes).
    pub(super) fn missed(&self) -> (u64, u64) {
        self.query.as_ref().map_or((0, 0), |q| q.stats.missed())
    }

    /// What capturing has cost the source: its polls, and `trigger`'s audit inserts.
    pub(super) fn source_core(&self, trigger: Option<&AuditTrigger>) -> Micros {
        self.poll_core + trigger.map_or(0, |t| t.core)
    }
}

impl World {
    /// The connector actor `index`, if the run has a pipeline and such a connector.
    pub(super) fn connector_mut(&mut self, index: usize) -> Option<&mut ConnectorActor> {
        self.pipeline
            .as_mut()
            .and_then(|p| p.connectors.get_mut(index))
    }

    pub(super) fn connector_poll(&mut self, index: usize, generation: u64) {
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
        if pipeline.broker_down_until > now {
            // The broker is down: the connector cannot produce, so it reads nothing (the slot
            // keeps the source's log) until it is back.
            self.queue.schedule(
                pipeline.broker_down_until,
                Event::Pipeline(PipelineEvent::ConnectorPoll {
                    connector: index,
                    generation,
                }),
            );
            return;
        }
        if actor.capture.polls_by_query() {
            self.start_capture_poll(index, generation);
            return;
        }
        let db = &self.nodes[actor.node].db;
        let mut records = actor.connector.poll(db, now);
        if actor.polls_outbox {
            // The polling relay reads the outbox by query, not from the log.
            let outbox = crate::sim::debezium::topic_name(
                &actor.connector.config.prefix,
                crate::sim::outbox::OUTBOX_TABLE,
            );
            records.retain(|r| r.topic != outbox);
        }
        if let Some(publisher) = &mut actor.publisher {
            // A dual write: the services publish what they committed, in their own order and
            // without a log position; there are no offsets to come back to.
            records = publisher.publish(records);
            actor.connector.flush(db);
        }
        let arrives = now + broker_crossing(&mut self.network, actor, records.len());
        let (count, failure) = produce_records(
            &mut pipeline.topics,
            &pipeline.registry,
            actor,
            records,
            (now, arrives),
        );
        actor.produced += count;
        if let Some(why) = failure {
            self.connector_failed(index, why);
            return;
        }
        let config = &actor.connector.config;
        let cost = count.saturating_mul(config.event_cost);
        let full = count as usize >= config.batch_size.max(1);
        let next = if full {
            now + cost.max(1)
        } else {
            now + cost.max(config.poll_interval.max(1))
        };
        let polls_outbox = actor.polls_outbox;
        self.queue.schedule(
            next,
            Event::Pipeline(PipelineEvent::ConnectorPoll {
                connector: index,
                generation,
            }),
        );
        self.record(Traced::ConnectorPoll, &[index as u64, count]);
        if polls_outbox {
            self.start_relay_poll(index, generation);
        }
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
        let Some(client) = actor.client else {
            return;
        };
        if actor.polling {
            // A poll of an earlier generation (before a restart) still runs on the source: try
            // again a poll interval later, so this generation's polling goes on.
            let next = self.now + actor.connector.config.poll_interval.max(1);
            self.queue.schedule(
                next,
                Event::Pipeline(PipelineEvent::ConnectorPoll {
                    connector: index,
                    generation,
                }),
            );
            return;
        }
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
        let arrives = now + broker_crossing(&mut self.network, actor, records.len());
        let (count, failure) = produce_records(
            &mut pipeline.topics,
            &pipeline.registry,
            actor,
            records,
            (now, arrives),
        );
        actor.produced += count;
        if let Some(why) = failure {
            self.connector_failed(index, why);
            return;
        }
        let cost = count.saturating_mul(actor.connector.config.event_cost);
        self.queue.schedule(
            now + cost.max(interval),
            Event::Pipeline(PipelineEvent::ConnectorPoll {
                connector: index,
                generation,
            }),
        );
    }

    /// A connector could not produce a record (an outbox event that does not route or does not
    /// fit its subject's latest schema): it fails, as a Kafka Connect task does with the
    /// default `errors.tolerance=none`. Nothing after the record is produced and nothing is
    /// skipped: a restart reads again from the last flushed offset and meets the same record,
    /// until its cause is fixed.
    pub(super) fn connector_failed(&mut self, index: usize, why: String) {
        let Some(actor) = self.connector_mut(index) else {
            return;
        };
        actor.connector.crash();
        // As a crash: whatever of it is still running (a poll on the source) is stale.
        actor.generation += 1;
        actor.relay_failed += 1;
        actor.relay_error = Some(why.clone());
        let text = format!(
            "{} failed: {why}. It stops there, as a Kafka Connect task does (errors.tolerance = \
             none): nothing after it is published, nothing is skipped; restarted, it reads again \
             from its last flushed offset",
            actor.connector.config.name
        );
        self.narrate(super::NarrationKind::Error, text, None, 0);
    }
}
