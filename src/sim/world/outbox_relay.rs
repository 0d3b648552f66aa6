//! The polling relay in the world ([`crate::sim::outbox_poll`]): on the owner's node, through a
//! SQL client of its own, it queries the outbox for the rows not yet published every
//! `query_poll_interval`, publishes them in Avro like the log relay does, and marks them
//! published. The owner's database pays for every poll and mark; the relay's latency — from
//! the event's commit to its publish — is measured.

use super::{Traced, World};
use crate::sim::clock::Micros;
use crate::sim::connector::ConnectorState;
use crate::sim::results::Outcome;
use crate::sim::service::Notify;
use std::rc::Rc;

impl World {
    /// Starts the polling relay's query, unless one (or its mark) is still running.
    pub(super) fn start_relay_poll(&mut self, index: usize, generation: u64) {
        let Some(actor) = self
            .pipeline
            .as_mut()
            .and_then(|p| p.connectors.get_mut(index))
        else {
            return;
        };
        let Some(client) = actor.client.filter(|_| !actor.polling) else {
            return;
        };
        actor.polling = true;
        let sql = crate::sim::outbox_poll::poll_sql(actor.connector.config.batch_size);
        self.start_operation(
            client,
            0,
            vec![sql],
            None,
            Some(Notify::RelayPoll {
                connector: index,
                generation,
            }),
        );
        self.record(Traced::ConnectorPoll, &[index as u64, 0]);
    }

    /// The polling relay's query ended: what it found is published, then marked. A poll of an
    /// earlier generation (the relay crashed meanwhile) publishes nothing: the rows stay
    /// unpublished for the next one.
    pub(super) fn relay_poll_done(
        &mut self,
        index: usize,
        generation: u64,
        ok: bool,
        results: &[Outcome],
        core: Micros,
    ) {
        let now = self.now;
        let Some(pipeline) = self.pipeline.as_mut() else {
            return;
        };
        let Some(actor) = pipeline.connectors.get_mut(index) else {
            return;
        };
        actor.poll_core += core;
        actor.polling = false;
        let current =
            actor.generation == generation && actor.connector.state() == ConnectorState::Streaming;
        if !ok || !current {
            return;
        }
        let found = match results.last().map(crate::sim::outbox_poll::events) {
            None => Vec::new(),
            Some(Ok(found)) => found,
            Some(Err(why)) => {
                self.connector_failed(index, why.to_string());
                return;
            }
        };
        let mut published = Vec::with_capacity(found.len());
        let mut failure = None;
        for (id, event) in found {
            let encoded = crate::sim::event_reader::encode_event(&event, &pipeline.registry);
            let (value, headers) = match encoded {
                Ok(encoded) => encoded,
                Err(why) => {
                    failure = Some(format!(
                        "cannot encode {} {}: {why}",
                        event.event_type, event.id
                    ));
                    break;
                }
            };
            if let Some(topic) = pipeline.topics.get_mut(&event.topic) {
                topic.produce_record(
                    Some(Rc::from(event.key.as_str())),
                    Some(value),
                    Some(headers),
                    event.committed_at,
                    now,
                );
            }
            actor.relayed += 1;
            actor.produced += 1;
            actor.relay_error = None;
            actor
                .relay_latency
                .record(now.saturating_sub(event.committed_at));
            published.push(id);
        }
        let client = actor.client;
        // The mark goes out even when an event failed: what was published is marked, and the
        // event that failed stays unpublished (a restart polls it again).
        if let (Some(sql), Some(client)) = (crate::sim::outbox_poll::mark_sql(&published), client) {
            actor.polling = true;
            self.start_operation(
                client,
                0,
                vec![sql],
                None,
                Some(Notify::RelayMark { connector: index }),
            );
        }
        if let Some(why) = failure {
            self.connector_failed(index, why);
        }
    }

    /// The polling relay's mark ended: its next poll (at its interval) may start.
    pub(super) fn relay_mark_done(&mut self, index: usize, core: Micros) {
        if let Some(actor) = self
            .pipeline
            .as_mut()
            .and_then(|p| p.connectors.get_mut(index))
        {
            actor.poll_core += core;
            actor.polling = false;
        }
    }

    /// The outbox rows on `node` that the polling relay has not published yet: events on their
    /// way (read through a read-only connection, which changes nothing).
    pub(super) fn unpublished_events(&self, node: usize) -> u64 {
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE published = FALSE",
            crate::sim::outbox::OUTBOX_TABLE
        );
        self.nodes
            .get(node)
            .and_then(|n| n.db.read_only_query(&sql).ok())
            .and_then(|result| crate::sim::invariants::rows_of_result(&result))
            .and_then(|(_, rows)| rows.first()?.first()?.parse().ok())
            .unwrap_or(0)
    }
}
