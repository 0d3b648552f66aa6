//! Checkpoints: a forked world runs on exactly as the original does, in every built-in scenario
//! and every mode it offers, whatever is under way at the instant of the fork (open
//! transactions, lock waits, messages in flight, consumers mid-batch).

use dataflow_lab::sim::builtin;
use dataflow_lab::sim::clock::{Micros, SECOND};
use dataflow_lab::sim::scenario::Scenario;
use dataflow_lab::sim::world::World;

/// What a run did, as far as the tests can tell: the report whole (metrics, topics, read
/// models, errors) and its trace hash.
fn outcome(world: &World) -> String {
    serde_json::to_string(&world.report()).expect("a report serialises")
}

#[test]
fn a_fork_runs_on_as_the_original_in_every_builtin_and_mode() {
    let mut modes = std::collections::BTreeSet::new();
    for (name, text) in builtin::SCENARIOS {
        let base = Scenario::parse(text).expect("valid");
        for mode in base.modes() {
            let mut scenario = base.clone();
            scenario.mode = mode;
            let mut world = World::with_seed(&scenario, 7).expect("builds");
            // An instant with work under way: not a round time.
            let fork_at: Micros = 2 * SECOND + 345_678;
            world.step_until(fork_at);
            let mut copy = world.fork();
            assert_eq!(copy.trace_hash(), world.trace_hash(), "{name} {mode:?}");
            let end = 6 * SECOND;
            // The copy first: were anything shared, the original's run would show it.
            copy.step_until(end);
            world.step_until(end);
            assert_eq!(
                outcome(&copy),
                outcome(&world),
                "{name} in {mode:?}: the fork ran on differently"
            );
            // And the original is untouched by the copy's run (they share nothing).
            let mut alone = World::with_seed(&scenario, 7).expect("builds");
            alone.step_until(end);
            assert_eq!(alone.trace_hash(), world.trace_hash(), "{name} {mode:?}");
            modes.insert(mode.name());
        }
    }
    for mode in ["shared", "owned", "etl", "cdc", "events"] {
        assert!(
            modes.contains(mode),
            "no built-in forked in {mode}: {modes:?}"
        );
    }
}
