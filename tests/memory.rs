//! What a run's memory consists of, counted by the allocator (`dataflow_lab::heap`): the parts
//! `World::memory_parts` names add up to what the world held, its tables hold the most in the
//! shared shop, the change log nobody reads stays within its retention, and a checkpoint shares
//! the tables with the world (and, in cdc, the topics' logs). (One test in this file: the count is the whole process's.)

use dataflow_lab::heap::{live_bytes, start_counting, CountingAllocator};
use dataflow_lab::sim::builtin;
use dataflow_lab::sim::change_log::DEFAULT_RETENTION;
use dataflow_lab::sim::clock::SECOND;
use dataflow_lab::sim::scenario::Scenario;
use dataflow_lab::sim::world::{MemoryPartKind, World};

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator;

/// The shared shop after 20 simulated seconds: its parts add up, its rows are the most of it, a
/// checkpoint of it costs under a twentieth of its tables, and its change log stays within
/// retention at a plausible cost per record.
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

    // A checkpoint (what the page keeps every simulated second or so) shares the rows and the
    // tables' key maps with the world; a second of the run then copies only what it wrote.
    let before_fork = live_bytes();
    let mut checkpoint = world.fork();
    let fork_bytes = live_bytes().saturating_sub(before_fork);
    let before_second = live_bytes();
    checkpoint.step_until(21 * SECOND);
    let second_bytes = live_bytes().saturating_sub(before_second);
    drop(checkpoint);

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
    // A copy of the key maps alone would be ~80 B a row (a sixth of what the tables hold).
    let tables = bytes(MemoryPartKind::Tables);
    assert!(
        fork_bytes * 20 < tables && second_bytes * 20 < tables,
        "a checkpoint cost {fork_bytes} B, and {second_bytes} B more after a second, of {tables} B of tables"
    );
    let per_record = bytes(MemoryPartKind::ChangeLog) as f64 / stats.log_records as f64;
    assert!(
        (50.0..5_000.0).contains(&per_record),
        "a change-log record holds its rows before and after: {per_record:.0} B"
    );

    // In cdc, a checkpoint shares the topics' logs too: it costs a small part of the messages
    // kept, where it once copied every partition's queue whole (measured at 20 s: 0.85 MB
    // against 13.3 MB of topics; 2.5 MB before).
    let mut cdc = scenario.clone();
    cdc.mode = dataflow_lab::sim::modes::Mode::Cdc;
    let mut world = World::new(&cdc).expect("builds");
    world.step_until(20 * SECOND);
    let before_fork = live_bytes();
    let checkpoint = world.fork();
    let fork_bytes = live_bytes().saturating_sub(before_fork);
    drop(checkpoint);
    let messages: usize = world
        .topics()
        .map_or(0, |t| t.values().map(|t| t.len()).sum());
    let parts = world.memory_parts(&live_bytes);
    let topics = parts
        .iter()
        .find(|p| p.kind == MemoryPartKind::Topics)
        .map_or(0, |p| p.bytes);
    assert!(
        messages > 1_000,
        "the cdc shop's topics keep messages: {messages}"
    );
    assert!(
        fork_bytes * 10 < topics,
        "a checkpoint of the cdc shop cost {fork_bytes} B against {topics} B of topics ({messages} messages): {parts:?}"
    );
}
