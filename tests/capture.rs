//! The capture methods on the built-in `capture-methods` scenario, same seed: the log misses
//! nothing and costs the writers nothing; a query misses every delete and the intermediate
//! states of rows changed between polls (counted), so its read model keeps deleted rows; a
//! trigger misses nothing but every write pays for its audit insert, and its polls load the
//! source. Every message of every method is a Debezium change event. A scenario that cannot
//! capture by query says why. Natively only (the JSON Schema validator is a native
//! dev-dependency).

#![cfg(not(target_arch = "wasm32"))]

#[path = "common/debezium.rs"]
mod debezium;

use dataflow_lab::sim::builtin;
use dataflow_lab::sim::capture::CaptureMethod;
use dataflow_lab::sim::clock::SECOND;
use dataflow_lab::sim::compare::{compare, Variant};
use dataflow_lab::sim::modes::Mode;
use dataflow_lab::sim::report::Report;
use dataflow_lab::sim::scenario::Scenario;
use dataflow_lab::sim::world::{Command, World};
use debezium::Validator;
use std::collections::BTreeSet;

fn scenario(capture: CaptureMethod) -> Scenario {
    let mut scenario =
        Scenario::parse(builtin::scenario_text("capture-methods").expect("built in"))
            .expect("valid");
    scenario.cdc.capture = capture;
    scenario
}

/// Runs 30 s, stops every operation and lets the pipeline drain for 5 s.
fn run_and_drain(capture: CaptureMethod) -> World {
    let scenario = scenario(capture);
    let mut world = World::with_seed(&scenario, 11).expect("builds");
    world.step_until(30 * SECOND);
    for service in &scenario.services {
        for operation in &service.operations {
            world
                .apply(Command::StopOperation {
                    service: service.name.clone(),
                    operation: operation.name.clone(),
                })
                .expect("stops");
        }
    }
    world.step_until(35 * SECOND);
    world
}

/// The ids in a table.
fn ids(world: &mut World, database: &str) -> BTreeSet<String> {
    let (_, rows) = world
        .database_mut(database)
        .expect("a database")
        .committed_rows("orders")
        .expect("a table");
    rows.iter().map(|r| String::from(&r[0])).collect()
}

fn connector(report: &Report) -> &dataflow_lab::sim::report::ConnectorReport {
    &report.connectors["orders-connector"]
}

fn check_messages(world: &World) {
    let validator = Validator::new();
    let topics = world.topics().expect("cdc has topics");
    let mut messages = 0;
    for topic in topics.values() {
        for partition in topic.partitions() {
            for message in partition.messages() {
                validator.check_message(message.key.as_deref(), message.json());
                messages += 1;
            }
        }
    }
    assert!(messages > 100, "{messages} messages");
}

/// With the log, the read model ends equal to the source: every change reached it.
#[test]
fn the_log_misses_nothing() {
    let mut world = run_and_drain(CaptureMethod::Log);
    let report = world.report();
    assert_eq!(connector(&report).capture, "log");
    assert_eq!(ids(&mut world, "billing"), ids(&mut world, "orders"));
    check_messages(&world);
}

/// A query sees neither deletes nor the paid state of an order paid and shipped in one
/// transaction: both counted, and the read model keeps the deleted orders.
#[test]
fn a_query_misses_deletes_and_intermediate_states_and_its_read_model_keeps_deleted_rows() {
    let mut world = run_and_drain(CaptureMethod::Query);
    let report = world.report();
    let c = connector(&report);
    assert_eq!(c.capture, "query");
    assert!(c.missed_deletes > 0, "{c:?}");
    assert!(
        c.missed_changes > 0,
        "an order paid and shipped in one transaction shows only shipped: {c:?}"
    );
    assert!(
        c.source_core_ms > 0.0,
        "the polls are queries on the source"
    );
    let (source, model) = (ids(&mut world, "orders"), ids(&mut world, "billing"));
    assert!(
        source.is_subset(&model),
        "every live order reached the read model"
    );
    assert!(
        model.len() - source.len() >= 1,
        "deleted orders stay in the read model: {} rows there, {} at the source",
        model.len(),
        source.len()
    );
    check_messages(&world);
}

/// A trigger misses nothing (the read model ends equal to the source), its audit rows are
/// written and then emptied by the connector's polls, and every insert pays for its audit row.
#[test]
fn a_trigger_misses_nothing_but_every_write_pays_for_it() {
    let mut world = run_and_drain(CaptureMethod::Trigger);
    let report = world.report();
    let c = connector(&report);
    assert_eq!(c.capture, "trigger");
    assert!(c.source_core_ms > 0.0);
    assert_eq!(ids(&mut world, "billing"), ids(&mut world, "orders"));
    check_messages(&world);
    let audit = world
        .database_mut("orders")
        .expect("the source")
        .committed_rows("cdc_audit")
        .expect("the audit table")
        .1
        .len();
    assert_eq!(audit, 0, "the drained connector emptied the audit table");
    let log = run_and_drain(CaptureMethod::Log).report();
    let written = |r: &Report| r.databases["orders"].rows_written;
    assert!(
        written(&report) as f64 > 1.5 * written(&log) as f64,
        "every change to orders also wrote an audit row: {} rows against {}",
        written(&report),
        written(&log)
    );
    let p50 = |r: &Report| {
        r.services["orders"].by_operation["place_order"]
            .latency_ms
            .p50
    };
    assert!(
        p50(&report) > p50(&log),
        "an insert with its audit row is slower: {} ms against {} ms",
        p50(&report),
        p50(&log)
    );
}

/// The compare scorecard sets the three methods side by side, the same twice.
#[test]
fn the_scorecard_sets_the_methods_side_by_side() {
    let scenario = scenario(CaptureMethod::Log);
    let variants: Vec<Variant> = ["cdc", "cdc:query", "cdc:trigger"]
        .into_iter()
        .map(|v| Variant::parse(v).expect("a variant"))
        .collect();
    let cards = compare(&scenario, &variants, 11, 30 * SECOND).expect("runs");
    let names: Vec<&str> = cards.iter().map(|c| c.mode.as_str()).collect();
    assert_eq!(names, ["cdc", "cdc:query", "cdc:trigger"]);
    assert!(cards[1].capture_missed > 0);
    assert!(cards[2].capture_source_core_ms > cards[0].capture_source_core_ms);
    let staleness = |i: usize| cards[i].staleness_p95_ms["billing.orders"];
    assert!(
        staleness(1) > 2.0 * staleness(0),
        "a poll a second is staler than the log: {} ms against {} ms",
        staleness(1),
        staleness(0)
    );
    assert_eq!(
        cards,
        compare(&scenario, &variants, 11, 30 * SECOND).expect("runs"),
        "the same seed scores the same"
    );
}

/// A query connector crashed and started again while its poll runs on the source goes on
/// polling (the stale poll's end must not leave the new generation without a next poll).
#[test]
fn a_query_connector_restarted_mid_poll_goes_on_polling() {
    let scenario = scenario(CaptureMethod::Query);
    let mut world = World::with_seed(&scenario, 11).expect("builds");
    world.step_until(5 * SECOND);
    let polling = |world: &World| {
        world
            .pipeline_snapshot()
            .is_some_and(|p| p.connectors[0].polling)
    };
    while !polling(&world) {
        assert!(world.step(), "the run goes on");
    }
    for command in [
        Command::CrashConnector {
            connector: "orders-connector".into(),
        },
        Command::StartConnector {
            connector: "orders-connector".into(),
        },
    ] {
        world.apply(command).expect("applies");
    }
    let produced = |world: &World| world.topics().expect("topics")["shop.public.orders"].produced();
    let before = produced(&world);
    world.step_until(world.now() + 5 * SECOND);
    assert!(
        produced(&world) > before + 10,
        "the connector polls again after its restart: {} → {}",
        before,
        produced(&world)
    );
}

/// Query capture without a column for a captured table, or with one that is not there, is a
/// scenario error naming the field; a variant on a mode without capture is refused.
#[test]
fn query_capture_needs_a_column_for_every_captured_table() {
    let mut scenario = scenario(CaptureMethod::Query);
    scenario.mode = Mode::Cdc;
    scenario.cdc.query_columns.clear();
    let error = World::new(&scenario).expect_err("refused");
    assert!(error.to_string().contains("cdc.query_columns"), "{error}");
    assert!(error.to_string().contains("orders"), "{error}");
    scenario
        .cdc
        .query_columns
        .insert("orders".into(), "changed_on".into());
    let error = World::new(&scenario).expect_err("refused");
    assert!(
        error.to_string().contains("not a column of orders"),
        "{error}"
    );
    assert!(Variant::parse("shared:query").is_err());
    assert!(Variant::parse("cdc:poll").is_err());
}
