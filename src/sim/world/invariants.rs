//! The invariant checker in the world: when the system is quiet — no operation in flight, every
//! connector streaming and caught up with its source's log, every consumer running with no lag
//! and no batch half applied — each read model must equal its source
//! ([`crate::sim::invariants`]); duplicates delivered are reported beside it (at-least-once
//! delivery makes them normal; the idempotent consumer must not apply them twice, which the
//! equality proves).
//!
//! [`World::drain`] makes a run quiet: it stops every arrival, heals what faults left broken
//! (stopped or crashed connectors started, paused or crashed consumers resumed) and runs until
//! quiet or a time limit.

use super::consumer_actor::ConsumerState;
use super::World;
use crate::sim::clock::{Micros, SECOND};
use crate::sim::connector::ConnectorState;
use crate::sim::invariants::{compare, compare_values, rows_of_result, Divergence};
use serde::{Deserialize, Serialize};

/// One read model's check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadModelCheck {
    /// The reader's database.
    pub database: String,
    /// The read model's table.
    pub table: String,
    /// The owner's database.
    pub source: String,
    /// How it compares with its source (for a projection: with its query run on the source).
    pub divergence: Divergence,
}

/// The checker's verdict on a whole run.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InvariantReport {
    /// Whether the system was quiet when checked (a check of a busy system proves nothing).
    pub quiet: bool,
    /// Every read model, in database and table order.
    pub read_models: Vec<ReadModelCheck>,
    /// Messages delivered again (after a crash or a rebalance) and skipped by the consumers.
    pub duplicates_delivered: u64,
    /// Whether some service still writes (an operation enabled): quiet is then only a pause
    /// between writes, and a verdict is not final.
    pub sources_writing: bool,
    /// What stopped at something it cannot get past: waiting will not bring its read models
    /// level.
    pub failing: Vec<Failing>,
}

/// Which part of the pipeline is stuck.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailingPart {
    /// A consumer group whose last batch failed (an event it cannot decode, a row its read
    /// model cannot take).
    Consumer,
    /// A connector that stopped at a record it cannot produce (the relay, at an event that
    /// does not fit its schema).
    Connector,
}

/// A consumer group or a connector that is stuck, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failing {
    /// The consumer group's or the connector's name.
    pub name: String,
    /// Which it is.
    pub part: FailingPart,
    /// The error it stopped at.
    pub why: String,
}

/// What a check concludes, as the page's checker says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A consumer or a connector is stuck: its read models stop there, whatever the wait.
    Stuck,
    /// Quiet and equal, but the services still write: a pause between changes, not a verdict.
    Pause,
    /// Quiet, and every read model equals its source: the invariant holds.
    Holds,
    /// Quiet, and rows differ: changes were lost or applied out of order, for good.
    Diverged,
    /// Not quiet: changes are on their way and may yet put differences right.
    InFlight,
}

impl InvariantReport {
    /// Whether the run kept the invariant: quiet, and every read model equal to its source.
    pub fn holds(&self) -> bool {
        self.quiet && self.read_models.iter().all(|m| m.divergence.is_equal())
    }

    /// The conclusion, stuck parts first: see [`Verdict`].
    pub fn verdict(&self) -> Verdict {
        match (self.quiet, self.holds()) {
            _ if !self.failing.is_empty() => Verdict::Stuck,
            (true, true) if self.sources_writing => Verdict::Pause,
            (true, true) => Verdict::Holds,
            (true, false) => Verdict::Diverged,
            (false, _) => Verdict::InFlight,
        }
    }

    /// Rows missing, extra or differing, over every read model.
    pub fn rows_off(&self) -> usize {
        self.read_models
            .iter()
            .map(|m| m.divergence.missing + m.divergence.extra + m.divergence.differing)
            .sum()
    }
}

impl World {
    /// Whether nothing is left to happen in the pipeline: see the module's documentation. A
    /// world without a pipeline is quiet when no operation is in flight.
    pub fn is_quiet(&self) -> bool {
        if !self.in_flight.is_empty() {
            return false;
        }
        let Some(pipeline) = &self.pipeline else {
            return true;
        };
        if pipeline.broker_down_until > self.now {
            return false;
        }
        let connectors_caught_up = pipeline.connectors.iter().all(|actor| {
            actor.connector.state() == ConnectorState::Streaming
                && !actor.polling
                && self
                    .nodes
                    .get(actor.node)
                    .is_none_or(|node| actor.connector.lag(&node.db, self.now).records == 0)
                && (!actor.polls_outbox || self.unpublished_events(actor.node) == Some(0))
        });
        // Up to each partition's log end, not its high watermark: a message produced but not
        // yet visible (the broker's latency) is still to come.
        let consumers_drained = pipeline.consumers.iter().all(|actor| {
            actor.state == ConsumerState::Running
                && actor.batch.is_none()
                && actor.topics().into_iter().all(|name| {
                    pipeline.topics.get(name).is_none_or(|topic| {
                        (0..topic.partitions().len() as u32).all(|number| {
                            let tp = crate::sim::consumer_group::TopicPartition {
                                topic: topic.name.clone(),
                                partition: number,
                            };
                            topic.partition(number).is_none_or(|p| {
                                actor.group.position(&tp, topic) >= p.log_end_offset()
                            })
                        })
                    })
                })
        });
        connectors_caught_up && consumers_drained
    }

    /// Stops every arrival, heals the pipeline and runs until quiet, for at most `limit` of
    /// simulated time; whether it became quiet.
    pub fn drain(&mut self, limit: Micros) -> bool {
        self.stop_sources();
        let until = self.now.saturating_add(limit);
        loop {
            // Twice in a row: a consumer can be between two polls with nothing in flight.
            if self.is_quiet() {
                let then = self.now + SECOND / 10;
                self.step_until(then);
                if self.is_quiet() {
                    return true;
                }
            }
            if self.now >= until {
                return false;
            }
            let next = (self.now + SECOND / 2).min(until);
            self.step_until(next);
        }
    }

    /// Whether some service of the scenario has an operation that still arrives.
    pub fn sources_writing(&self) -> bool {
        self.services
            .iter()
            .take(self.scenario.services.len())
            .any(|s| s.operations.iter().any(|o| o.enabled && o.rate_per_s > 0.0))
    }

    /// Stops every operation of every service (nothing new is written) and heals the
    /// pipeline, so that it drains.
    pub fn stop_sources(&mut self) {
        let operations: Vec<(String, String)> = self
            .services
            .iter()
            .flat_map(|s| {
                s.operations
                    .iter()
                    .map(|o| (s.name.clone(), o.name.clone()))
            })
            .collect();
        for (service, operation) in operations {
            // Every name comes from the world itself: stopping cannot fail.
            let _ = self.apply(super::Command::StopOperation { service, operation });
        }
        self.heal();
    }

    /// Starts stopped or crashed connectors and resumes paused or crashed consumers, as an
    /// operator would once the faults are over.
    pub fn heal(&mut self) {
        let Some(pipeline) = &self.pipeline else {
            return;
        };
        let connectors: Vec<String> = pipeline
            .connectors
            .iter()
            .filter(|a| a.connector.state() != ConnectorState::Streaming)
            .filter(|a| a.connector.state() != ConnectorState::Snapshotting)
            .map(|a| a.connector.config.name.clone())
            .collect();
        let consumers: Vec<String> = pipeline
            .consumers
            .iter()
            .filter(|a| a.state != ConsumerState::Running)
            .map(|a| a.group.name.clone())
            .collect();
        for connector in connectors {
            // A connector that cannot start stays as it is; the check then finds it not quiet.
            let _ = self.apply(super::Command::StartConnector { connector });
        }
        for group in consumers {
            let _ = self.apply(super::Command::ResumeConsumer { group });
        }
        // A slow consumer is a fault too: it goes back to its normal speed.
        if let Some(pipeline) = self.pipeline.as_mut() {
            for actor in &mut pipeline.consumers {
                actor.slow_per_message = 0;
            }
        }
    }

    /// Checks every read model against its source (see the module's documentation). A
    /// projection is compared with its query run on the source, which goes through the
    /// database's default connection: check at the end of a run (or when quiet), not in the
    /// middle of one whose later statements should not see that query.
    pub fn check_invariants(&self) -> InvariantReport {
        let quiet = self.is_quiet();
        let Some(pipeline) = &self.pipeline else {
            return InvariantReport {
                quiet,
                sources_writing: self.sources_writing(),
                ..InvariantReport::default()
            };
        };
        let duplicates_delivered = pipeline.consumers.iter().map(|a| a.duplicates).sum();
        let mut models: Vec<ModelToCheck> = Vec::new();
        let mut unfed: Vec<(String, String)> = Vec::new();
        for actor in &pipeline.consumers {
            for (table, topic) in &actor.tables {
                let source = match actor.readers.get(topic) {
                    // An event topic: its source is the owner whose outbox the relay reads.
                    Some(reader) => pipeline.connectors.iter().find(|c| {
                        c.is_relay()
                            && self.services.iter().any(|s| {
                                s.node == c.node
                                    && s.outbox.as_ref().is_some_and(|o| {
                                        o.contracts.iter().any(|k| k.table == reader.table)
                                    })
                            })
                    }),
                    None => pipeline.connectors.iter().find(|c| {
                        topic.starts_with(&format!("{}.public.", c.connector.config.prefix))
                    }),
                };
                let Some(source) = source else {
                    // A read model nobody feeds cannot be equal to anything: it fails visibly.
                    let database = self.nodes[actor.node].name.clone();
                    unfed.push((database, table.clone()));
                    continue;
                };
                let projection = actor
                    .projections
                    .get(table)
                    .map(|p| (p.query().sql.clone(), p.query().read_sql(table)));
                models.push((actor.node, table.clone(), source.node, projection));
            }
        }
        let mut read_models = Vec::new();
        for (reader, table, source, projection) in models {
            let divergence = match &projection {
                Some((query, read)) => self.compare_projection(reader, source, query, read),
                None => self.compare_copy(reader, source, &table),
            };
            read_models.push(ReadModelCheck {
                database: self.nodes[reader].name.clone(),
                table,
                source: self.nodes[source].name.clone(),
                divergence,
            });
        }
        for (database, table) in unfed {
            read_models.push(ReadModelCheck {
                database,
                source: String::new(),
                table,
                divergence: unreadable(),
            });
        }
        read_models.sort_by(|a, b| (&a.database, &a.table).cmp(&(&b.database, &b.table)));
        let connectors = pipeline.connectors.iter().filter_map(|a| {
            a.relay_error.clone().map(|why| Failing {
                name: a.connector.config.name.clone(),
                part: FailingPart::Connector,
                why,
            })
        });
        let consumers = pipeline.consumers.iter().filter_map(|a| {
            a.last_error.clone().map(|why| Failing {
                name: a.group.name.clone(),
                part: FailingPart::Consumer,
                why,
            })
        });
        let failing = connectors.chain(consumers).collect();
        InvariantReport {
            quiet,
            read_models,
            duplicates_delivered,
            sources_writing: self.sources_writing(),
            failing,
        }
    }

    /// A read model that copies its source table (all or some of its columns).
    fn compare_copy(&self, reader: usize, source: usize, table: &str) -> Divergence {
        let source_db = &self.nodes[source].db;
        let key = source_db.with_engine_ref(|e| e.primary_key_columns(table));
        match (
            source_db.committed_rows(table),
            self.nodes[reader].db.committed_rows(table),
        ) {
            (Ok(source_rows), Ok(model_rows)) => compare_values(&source_rows, &model_rows, &key),
            _ => unreadable(),
        }
    }

    /// A projection: its table against its query run on the source, rows matched by the
    /// query's group columns.
    fn compare_projection(
        &self,
        reader: usize,
        source: usize,
        query: &str,
        read_sql: &str,
    ) -> Divergence {
        // Read-only connections of their own: checking changes nothing the run depends on.
        let read = |node: usize, sql: &str| self.nodes[node].db.read_only_query(sql);
        let expected = read(source, query);
        let kept = read(reader, read_sql);
        let (Ok(expected), Ok(kept)) = (expected, kept) else {
            return unreadable();
        };
        let (Some(expected), Some(kept)) = (rows_of_result(&expected), rows_of_result(&kept))
        else {
            return unreadable();
        };
        // Rows are matched by the group columns, under the names the query gives them.
        let Ok(parsed) = crate::sim::projection::ProjectionQuery::parse(query) else {
            return unreadable();
        };
        let key = parsed.group_labels();
        compare(&expected, &kept, &key)
    }
}

/// A read model to check: the reader's node, the table, the source's node, and for a
/// projection its query and the query that reads its table.
type ModelToCheck = (usize, String, usize, Option<(String, String)>);

/// A table that cannot be read counts as one missing row: the check fails visibly.
fn unreadable() -> Divergence {
    Divergence {
        missing: 1,
        ..Divergence::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::builtin;
    use crate::sim::scenario::Scenario;

    fn shop(mode: crate::sim::modes::Mode) -> World {
        let mut scenario =
            Scenario::parse(builtin::scenario_text("shop").expect("built in")).expect("valid");
        scenario.mode = mode;
        World::new(&scenario).expect("builds")
    }

    #[test]
    fn a_busy_world_is_not_quiet_and_a_drained_one_is() {
        let mut world = shop(crate::sim::modes::Mode::Cdc);
        world.step_until(3 * SECOND);
        assert!(!world.is_quiet(), "the shop is busy three seconds in");
        assert!(world.drain(60 * SECOND));
        assert!(world.is_quiet());
        let stopped = world.now();
        world.step_until(stopped + 2 * SECOND);
        assert!(world.is_quiet(), "nothing arrives once drained");
    }

    #[test]
    fn without_a_pipeline_there_is_nothing_to_check() {
        let mut world = shop(crate::sim::modes::Mode::Shared);
        world.step_until(SECOND);
        assert!(world.drain(30 * SECOND));
        let report = world.check_invariants();
        assert!(report.quiet && report.read_models.is_empty());
        assert_eq!(report.rows_off(), 0);
    }
}
