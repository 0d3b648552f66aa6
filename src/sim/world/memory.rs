//! What a world's memory consists of. [`World::memory_parts`] takes a world apart, one part at
//! a time, and asks the caller's allocator after each how much live memory is left: the
//! difference is what that part held. The command line counts its allocations and prints the
//! parts (`dataflow-lab run --memory`); the core itself never reads an allocator.
//!
//! Shared data is counted where it is released: a row version or a change-log record shared
//! with a checkpoint is freed (and counted) only when its last holder goes, so measure a world
//! that no checkpoint shares.

use super::World;
use crate::sim::change_log::ChangeLog;
use crate::sim::metrics::OperationMetrics;

/// One part of a world's memory and the bytes releasing it gave back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryPart {
    /// What it is, as the command line prints it.
    pub name: &'static str,
    /// Bytes freed when it was released.
    pub bytes: usize,
}

impl World {
    /// Releases this world part by part — the change logs, the topics' messages, the
    /// operations' metrics, the narration and console, the events to come, the services, the
    /// tables' rows and versions, then the rest — and gives, for each, how much `live` (the caller's count of allocated bytes) fell.
    pub fn memory_parts(mut self, live: &dyn Fn() -> usize) -> Vec<MemoryPart> {
        let mut parts = Vec::new();
        let mut before = live();
        let mut released = |name: &'static str| {
            let now = live();
            parts.push(MemoryPart {
                name,
                bytes: before.saturating_sub(now),
            });
            before = now;
        };
        for node in &self.nodes {
            node.db.with_engine_mut(|engine| {
                let retention = engine.log().retention();
                *engine.log_mut() = ChangeLog::with_retention(retention);
            });
        }
        released("change log (committed changes kept for readers)");
        if let Some(pipeline) = self.pipeline.as_mut() {
            pipeline.topics.clear();
        }
        released("topics (messages kept by retention)");
        for service in &mut self.services {
            for operation in &mut service.operations {
                operation.metrics = OperationMetrics::default();
            }
        }
        released("metrics (latencies, per-second windows)");
        self.narration.clear();
        self.lock_events.clear();
        self.console.clear();
        self.applied.clear();
        released("narration, lock events, console");
        self.queue = Default::default();
        self.in_flight.clear();
        released("events to come, operations in flight");
        self.services.clear();
        released("services (connections, prepared statements, random streams)");
        for node in &self.nodes {
            node.db.with_engine_mut(|engine| engine.release_tables());
        }
        released("tables (rows, their versions, indexes)");
        drop(self);
        released("the rest (scenario, nodes, locks, network)");
        parts
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::builtin;
    use crate::sim::clock::SECOND;
    use crate::sim::scenario::Scenario;
    use crate::sim::world::World;
    use std::cell::Cell;

    #[test]
    fn every_part_is_released_once_and_in_order() {
        let scenario =
            Scenario::parse(builtin::scenario_text("shop").expect("built in")).expect("valid");
        let mut world = World::new(&scenario).expect("builds");
        world.step_until(SECOND);
        // A fake allocator count that falls by 10 at each look: each part gets exactly 10.
        let count = Cell::new(1_000usize);
        let live = || {
            count.set(count.get() - 10);
            count.get()
        };
        let parts = world.memory_parts(&live);
        assert_eq!(parts.len(), 8);
        assert!(parts.iter().all(|p| p.bytes == 10), "{parts:?}");
        assert!(parts[0].name.starts_with("change log"));
        assert!(parts[6].name.starts_with("tables"));
    }
}
