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

/// The parts a world's memory is counted in, in the order they are released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryPartKind {
    /// The databases' change logs.
    ChangeLog,
    /// The topics' messages.
    Topics,
    /// The operations' latencies and per-second windows.
    Metrics,
    /// Narration, lock events, the console and the applied actions.
    Narration,
    /// The event queue and the operations in flight.
    Events,
    /// The services: their connections, prepared statements, random streams.
    Services,
    /// The tables: rows, their versions, indexes.
    Tables,
    /// Everything else: the scenario, the nodes, locks, network, the pipeline's actors.
    Rest,
}

impl MemoryPartKind {
    /// What the part is, as the command line prints it.
    pub fn label(self) -> &'static str {
        match self {
            Self::ChangeLog => "change log (committed changes kept for readers)",
            Self::Topics => "topics (messages kept by retention)",
            Self::Metrics => "metrics (latencies, per-second windows)",
            Self::Narration => "narration, lock events, console",
            Self::Events => "events to come, operations in flight",
            Self::Services => "services (connections, prepared statements, random streams)",
            Self::Tables => "tables (rows, their versions, indexes)",
            Self::Rest => "the rest (scenario, nodes, locks, network, the pipeline's actors)",
        }
    }
}

/// One part of a world's memory and the bytes releasing it gave back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryPart {
    /// Which part.
    pub kind: MemoryPartKind,
    /// Bytes freed when it was released.
    pub bytes: usize,
}

impl World {
    /// Releases this world part by part, in [`MemoryPartKind`]'s order, and gives for each
    /// how much `live` (the caller's count of allocated bytes) fell.
    pub fn memory_parts(mut self, live: &dyn Fn() -> usize) -> Vec<MemoryPart> {
        // The empty metrics that replace the operations' are made before counting starts, so
        // that what they hold is not taken off the metrics' part.
        let mut empty_metrics: Vec<OperationMetrics> = self
            .services
            .iter()
            .flat_map(|s| &s.operations)
            .map(|_| OperationMetrics::default())
            .collect();
        let mut parts = Vec::new();
        let mut before = live();
        let mut released = |kind: MemoryPartKind| {
            let now = live();
            parts.push(MemoryPart {
                kind,
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
        released(MemoryPartKind::ChangeLog);
        if let Some(pipeline) = self.pipeline.as_mut() {
            pipeline.topics.clear();
        }
        released(MemoryPartKind::Topics);
        for operation in self.services.iter_mut().flat_map(|s| &mut s.operations) {
            operation.metrics = empty_metrics.pop().unwrap_or_default();
        }
        released(MemoryPartKind::Metrics);
        self.narration.clear();
        self.lock_events.clear();
        self.console.clear();
        self.applied.clear();
        released(MemoryPartKind::Narration);
        self.queue = Default::default();
        self.in_flight.clear();
        released(MemoryPartKind::Events);
        self.services.clear();
        released(MemoryPartKind::Services);
        for node in &self.nodes {
            node.db.with_engine_mut(|engine| engine.release_tables());
        }
        released(MemoryPartKind::Tables);
        drop(self);
        released(MemoryPartKind::Rest);
        parts
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::builtin;
    use crate::sim::clock::SECOND;
    use crate::sim::scenario::Scenario;
    use crate::sim::world::{MemoryPartKind, World};
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
        assert_eq!(parts[0].kind, MemoryPartKind::ChangeLog);
        assert_eq!(parts[6].kind, MemoryPartKind::Tables);
        assert_eq!(parts[7].kind, MemoryPartKind::Rest);
    }
}
