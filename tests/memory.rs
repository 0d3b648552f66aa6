//! What a run's memory consists of, counted by the allocator (`dataflow_lab::heap`): the parts
//! `World::memory_parts` names add up to what the world held, its tables hold the most in the
//! shared shop, and the change log nobody reads stays within its retention. (One test in this
//! file: the count is the whole process's.)

use dataflow_lab::heap::{live_bytes, start_counting, CountingAllocator};
use dataflow_lab::sim::builtin;
use dataflow_lab::sim::change_log::DEFAULT_RETENTION;
use dataflow_lab::sim::clock::SECOND;
use dataflow_lab::sim::scenario::Scenario;
use dataflow_lab::sim::world::{MemoryPartKind, World};

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator;

/// The shared shop after 20 simulated seconds: its parts add up, its rows are the most of it,
/// and its change log stays within retention at a plausible cost per record.
#[test]
fn the_shops_memory_is_its_tables_and_a_bounded_log() {
    start_counting();
    let before = live_bytes();
    let scenario =
        Scenario::parse(builtin::scenario_text("shop").expect("built in")).expect("valid");
    let mut world = World::new(&scenario).expect("builds");
    world.step_until(20 * SECOND);
    let held = live_bytes().saturating_sub(before);
    let stats = world
        .database_mut("shop")
        .expect("the shop's database")
        .stats();
    assert!(
        stats.rows >= 20_000,
        "the shop seeds 20,000 orders: {stats:?}"
    );
    assert!(stats.log_records > 0 && stats.log_records <= DEFAULT_RETENTION);

    let parts = world.memory_parts(&live_bytes);
    let named: u64 = parts.iter().map(|p| p.bytes as u64).sum();
    // Everything the world held is released by one part or another (the scenario kept here
    // and the allocator's own rounding aside).
    assert!(
        named as f64 >= held as f64 * 0.9 && named <= held as u64 + 1_000_000,
        "parts {named} B of {held} B held: {parts:?}"
    );
    let bytes = |kind: MemoryPartKind| parts.iter().find(|p| p.kind == kind).map_or(0, |p| p.bytes);
    assert!(
        parts
            .iter()
            .all(|p| p.bytes <= bytes(MemoryPartKind::Tables)),
        "the rows are the most of it: {parts:?}"
    );
    assert!(bytes(MemoryPartKind::Tables) >= 20_000 * 100, "{parts:?}");
    let per_record = bytes(MemoryPartKind::ChangeLog) as f64 / stats.log_records as f64;
    assert!(
        (50.0..5_000.0).contains(&per_record),
        "a change-log record holds its rows before and after: {per_record:.0} B"
    );
}
