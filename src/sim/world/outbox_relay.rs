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

impl World {
    /// Starts the polling relay's query, unless one (or its mark) is still running.
    pub(super) fn start_relay_poll(&mut self, index: usize, generation: u64) {
        let Some(actor) = self.connector_mut(index) else {
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
    /// earlier generation (the relay crashed meanwhile), or one that ends while the broker is
    /// down, publishes nothing: the rows stay unpublished for the next poll. A poll that failed
    /// (the outbox dropped or changed by hand) fails the relay with the database's message.
    pub(super) fn relay_poll_done(
        &mut self,
        index: usize,
        generation: u64,
        failure: Option<&str>,
        results: &[Outcome],
        core: Micros,
    ) {
        let now = self.now;
        let Some(pipeline) = self.pipeline.as_mut() else {
            return;
        };
        let broker_down = pipeline.broker_down_until > now;
        let Some(actor) = pipeline.connectors.get_mut(index) else {
            return;
        };
        actor.poll_core += core;
        actor.polling = false;
        let current =
            actor.generation == generation && actor.connector.state() == ConnectorState::Streaming;
        if !current || broker_down {
            return;
        }
        if let Some(why) = failure {
            self.connector_failed(index, format!("its poll of the outbox failed: {why}"));
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
        let mut stopped = None;
        let arrives =
            now + super::connector_actor::broker_crossing(&mut self.network, actor, found.len());
        for (id, event) in found {
            let relayed = super::connector_actor::relay_event(
                &mut pipeline.topics,
                &pipeline.registry,
                actor,
                &event,
                arrives,
            );
            if let Err(why) = relayed {
                stopped = Some(why);
                break;
            }
            actor.produced += 1;
            published.push(id);
        }
        // What was published is marked even when an event stopped the relay: that event and
        // those after it stay unpublished, for the poll after a restart.
        if let (Some(sql), Some(client)) =
            (crate::sim::outbox_poll::mark_sql(&published), actor.client)
        {
            actor.polling = true;
            self.start_operation(
                client,
                0,
                vec![sql],
                None,
                Some(Notify::RelayMark { connector: index }),
            );
        }
        if let Some(why) = stopped {
            self.connector_failed(index, why);
        }
    }

    /// The polling relay's mark ended: its next poll (at its interval) may start. A mark that
    /// failed fails the relay: what it published is still unpublished, so it is published again
    /// after a restart (the readers skip those duplicates by event id).
    pub(super) fn relay_mark_done(&mut self, index: usize, failure: Option<&str>, core: Micros) {
        let Some(actor) = self.connector_mut(index) else {
            return;
        };
        actor.poll_core += core;
        actor.polling = false;
        if let Some(why) = failure {
            if actor.connector.state() == ConnectorState::Streaming {
                self.connector_failed(
                    index,
                    format!("its mark of the published rows failed: {why}"),
                );
            }
        }
    }

    /// The outbox rows on `node` that the polling relay has not published yet: events on their
    /// way (read through a read-only connection, which changes nothing); `None` when the outbox
    /// cannot be read (dropped or changed by hand).
    pub(super) fn unpublished_events(&self, node: usize) -> Option<u64> {
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE published = FALSE",
            crate::sim::outbox::OUTBOX_TABLE
        );
        let result = self.nodes.get(node)?.db.read_only_query(&sql).ok()?;
        let (_, rows) = crate::sim::invariants::rows_of_result(&result)?;
        rows.first()?.first()?.parse().ok()
    }
}
