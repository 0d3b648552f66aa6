//! The integration modes on the built-in shop: the same seed gives the same workload in every
//! mode, so the differences come from the architecture alone; under `cdc` the read models end
//! equal to their sources, the order writes no longer wait behind the report, staleness is
//! measured, and a run is reproducible; under `owned` a write to another service's table is
//! refused. The cdc shop's trace is checked in headless Chromium too, against the native run's
//! (`tests/golden/`); the rest runs natively only.

use dataflow_lab::sim::builtin;
use dataflow_lab::sim::clock::SECOND;
use dataflow_lab::sim::modes::Mode;
use dataflow_lab::sim::scenario::Scenario;
use dataflow_lab::sim::world::World;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// The trace hash of the built-in shop in the cdc mode, seed 7, first 10 simulated seconds, as
/// the native run computed it. Rewrite with `BLESS=1 cargo test --test modes` if the model
/// changes on purpose.
const GOLDEN_CDC_TRACE: &str = include_str!("golden/shop-cdc-seed-7-10s.trace");

fn shop(mode: Mode) -> Scenario {
    let mut scenario =
        Scenario::parse(builtin::scenario_text("shop").expect("built in")).expect("valid");
    scenario.mode = mode;
    scenario
}

fn run(scenario: &Scenario, seed: u64, seconds: u64) -> World {
    let mut world = World::with_seed(scenario, seed).expect("builds");
    world.step_until(seconds * SECOND);
    world
}

/// The cdc shop's trace is the same natively and in the browser: both equal the golden hash
/// that the native run wrote.
#[test]
fn the_cdc_trace_is_the_same_natively_and_in_the_browser() {
    let report = run(&shop(Mode::Cdc), 7, 10).report();
    assert!(report.consumer_groups["billing"].applied > 0);
    #[cfg(not(target_arch = "wasm32"))]
    if std::env::var_os("BLESS").is_some() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/golden/shop-cdc-seed-7-10s.trace"
        );
        std::fs::write(path, format!("{}\n", report.trace_hash)).expect("write golden");
        return;
    }
    assert_eq!(
        report.trace_hash,
        GOLDEN_CDC_TRACE.trim(),
        "the cdc trace differs from the native run's (tests/golden/shop-cdc-seed-7-10s.trace); \
         BLESS=1 if the model changed on purpose"
    );
}

/// The heavier tests, natively only.
#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::*;
    use dataflow_lab::sim::lock_plan::Isolation;
    use dataflow_lab::sim::view::FlowKind;
    use dataflow_lab::sim::world::Command;
    use std::collections::{BTreeMap, BTreeSet};

    /// The SQL each of the scenario's services issued, as a set per service.
    fn issued(scenario: &Scenario, seed: u64, seconds: u64) -> BTreeMap<String, BTreeSet<String>> {
        let mut world = World::with_seed(scenario, seed).expect("builds");
        world.record_sql();
        world.step_until(seconds * SECOND);
        let names: Vec<String> = scenario.services.iter().map(|s| s.name.clone()).collect();
        let mut by_service: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for statement in world.recorded_sql() {
            let Some((service, _)) = statement.connection else {
                continue;
            };
            let Some(name) = names.get(service) else {
                continue;
            };
            if !matches!(statement.sql.as_str(), "BEGIN" | "COMMIT" | "ROLLBACK") {
                by_service
                    .entry(name.clone())
                    .or_default()
                    .insert(statement.sql.clone());
            }
        }
        by_service
    }

    #[test]
    fn the_same_seed_gives_the_same_workload_in_every_mode() {
        let shared = issued(&shop(Mode::Shared), 3, 5);
        assert!(shared.values().map(BTreeSet::len).sum::<usize>() > 100);
        for mode in [Mode::Owned, Mode::Etl, Mode::Cdc] {
            assert_eq!(
                issued(&shop(mode), 3, 5),
                shared,
                "{} issues the same statements",
                mode.name()
            );
        }
    }

    #[test]
    fn cdc_read_models_end_equal_to_their_sources() {
        let scenario = shop(Mode::Cdc);
        let mut world = run(&scenario, 42, 10);
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
        world.step_until(20 * SECOND);
        let rows = |world: &mut World, database: &str, table: &str| {
            world
                .database_mut(database)
                .expect("a database")
                .committed_rows(table)
                .expect("a table")
        };
        let source = rows(&mut world, "orders", "orders");
        assert!(source.1.len() > 20_000, "the orders written arrived");
        assert_eq!(rows(&mut world, "billing", "orders"), source);
        assert_eq!(rows(&mut world, "reporting", "orders"), source);
        assert_eq!(
            rows(&mut world, "reporting", "customers"),
            rows(&mut world, "orders", "customers")
        );
        let report = world.report();
        let group = &report.consumer_groups["billing"];
        assert_eq!(group.lag_messages, 0, "drained: {group:?}");
        assert!(group.applied > 100);
    }

    #[test]
    fn cdc_takes_the_report_off_the_order_writes() {
        for isolation in [Isolation::LockingReadCommitted, Isolation::TwoPhaseLocking] {
            let mut shared = shop(Mode::Shared);
            shared.databases[0].isolation = isolation;
            let mut cdc = shared.clone();
            cdc.mode = Mode::Cdc;
            let p99 = |scenario: &Scenario| {
                run(scenario, 42, 30).report().services["orders"]
                    .total
                    .latency_ms
                    .p99
            };
            let (shared_p99, cdc_p99) = (p99(&shared), p99(&cdc));
            assert!(
                cdc_p99 * 5.0 <= shared_p99,
                "{}: order writes' p99 {cdc_p99} ms under cdc, {shared_p99} ms shared",
                isolation.name()
            );
        }
    }

    #[test]
    fn cdc_measures_staleness_and_lag() {
        let report = run(&shop(Mode::Cdc), 42, 20).report();
        assert_eq!(report.mode, "cdc");
        let staleness = report.read_models["billing"]["orders"].staleness_ms;
        assert!(staleness.p95 > 0.0, "{staleness:?}");
        assert!(staleness.p50 <= staleness.p95 && staleness.p95 <= staleness.max);
        let connector = &report.connectors["orders-connector"];
        assert_eq!(connector.state, "streaming");
        assert!(connector.streamed_events > 100);
        assert!(connector.flushes >= 1);
        let produced: u64 = report.topics.values().map(|t| t.produced).sum();
        assert_eq!(
            produced,
            connector.snapshot_events + connector.streamed_events,
            "the topics hold the initial snapshot and what was streamed"
        );
        assert!(
            connector.snapshot_events > 20_000,
            "the shop's orders and customers"
        );
        assert!(report.consumer_groups["reporting"].lag_time_ms.max > 0.0);
    }

    /// Every hop of the pipeline crosses the network: a far broker (the connector's produce and
    /// the consumer's fetch each cross a 40 ms link once) makes the read model staler by
    /// about a round trip, and the source's own latency does not change.
    #[test]
    fn a_far_broker_adds_its_crossings_to_staleness() {
        use dataflow_lab::sim::clock::SimDuration;
        use dataflow_lab::sim::network::LinkSpec;
        let near = shop(Mode::Cdc);
        let mut far = near.clone();
        for from in ["orders-connector", "billing"] {
            far.network.links.push(LinkSpec {
                from: from.to_owned(),
                to: "broker".to_owned(),
                rtt: Some(SimDuration(40_000)),
                jitter: None,
            });
        }
        far.check().expect("valid links");
        let near = run(&near, 42, 20).report();
        let far = run(&far, 42, 20).report();
        let staleness = |r: &dataflow_lab::sim::report::Report| {
            r.read_models["billing"]["orders"].staleness_ms.p50
        };
        assert!(
            staleness(&far) >= staleness(&near) + 30.0,
            "{} ms near, {} ms far",
            staleness(&near),
            staleness(&far)
        );
        assert!(far.network["orders-connector ↔ broker"].mean_ms >= 20.0);
        let place = |r: &dataflow_lab::sim::report::Report| {
            r.services["orders"].by_operation["place_order"]
                .latency_ms
                .p50
        };
        assert!(
            place(&far) < place(&near) * 1.5,
            "the source does not feel the broker"
        );
    }

    #[test]
    fn a_cdc_run_is_reproducible() {
        let scenario = shop(Mode::Cdc);
        let a = run(&scenario, 9, 10).report();
        let b = run(&scenario, 9, 10).report();
        assert_eq!(a, b);
        assert_ne!(a.trace_hash, run(&scenario, 10, 10).report().trace_hash);
    }

    #[test]
    fn owned_refuses_a_write_to_another_services_table() {
        let mut scenario = shop(Mode::Owned);
        let report = run(&scenario, 42, 5).report();
        let permission = |report: &dataflow_lab::sim::report::Report| -> u64 {
            report
                .services
                .values()
                .map(|s| {
                    s.total
                        .errors_by_kind
                        .get("permission")
                        .copied()
                        .unwrap_or(0)
                })
                .sum()
        };
        assert_eq!(
            permission(&report),
            0,
            "the shop's services write their own tables"
        );
        // billing now also marks orders paid: a write to orders, which billing does not own.
        scenario.services[1].operations[0]
            .statements
            .push("UPDATE orders SET status = 'paid' WHERE id = {invoice}".into());
        let world = run(&scenario, 42, 5);
        let report = world.report();
        assert!(permission(&report) > 10, "{:?}", report.services["billing"]);
        let narration: Vec<String> = world.narration().map(|l| l.text.clone()).collect();
        assert!(
            narration
                .iter()
                .any(|t| t.contains("permission denied for table orders")),
            "{narration:?}"
        );
        // The same scenario in cdc mode is refused before it runs, naming what is wrong.
        scenario.mode = Mode::Cdc;
        let error = World::new(&scenario).expect_err("refused");
        assert!(
            error
                .message
                .contains("billing.pay_invoice writes table \"orders\""),
            "{error}"
        );
    }

    #[test]
    fn the_page_view_shows_the_pipeline_and_the_messages() {
        let world = run(&shop(Mode::Cdc), 42, 5);
        let view = dataflow_lab::sim::view::page_view(&world);
        assert_eq!(view.mode, Mode::Cdc);
        assert_eq!(
            view.modes,
            [
                Mode::Shared,
                Mode::Owned,
                Mode::Etl,
                Mode::Cdc,
                Mode::Events
            ]
        );
        assert!(
            view.databases.iter().all(|d| d.spec == "shop"),
            "every service's database is made from the shared one, whose settings the isolation chooser changes"
        );
        let pipeline = view.pipeline.expect("a pipeline");
        assert_eq!(pipeline.connectors.len(), 1);
        assert_eq!(pipeline.topics.len(), 2);
        let billing = pipeline
            .groups
            .iter()
            .find(|g| g.name == "billing")
            .expect("billing");
        assert_eq!(
            billing.state,
            dataflow_lab::sim::world::ConsumerState::Running
        );
        assert!(!billing.lag_history.is_empty());
        assert!(billing.read_models[0].applied > 0, "applied");
        let topic = &world.topics().expect("topics")["shop.public.orders"];
        let messages = dataflow_lab::sim::messages::messages(topic, "", 20, None);
        assert_eq!(messages.len(), 20);
        assert!(messages
            .windows(2)
            .all(|w| w[0].timestamp >= w[1].timestamp));
        let update = messages
            .iter()
            .find(|m| m.op.as_deref() == Some("u"))
            .expect("an order's update");
        assert!(update.fields.iter().any(|f| f.name == "status"));
        // The topology draws the pipeline: a flow from each source table to each read model.
        let flows: Vec<String> = view
            .flows
            .iter()
            .map(|f| format!("{}.{} -> {}.{}", f.from.0, f.from.1, f.to.0, f.to.1))
            .collect();
        assert!(
            flows.contains(&"orders.orders -> billing.orders".to_owned()),
            "{flows:?}"
        );
        assert!(flows.contains(&"orders.customers -> reporting.customers".to_owned()));
        assert!(view.flows.iter().all(|f| f.kind == FlowKind::Cdc));
        // The shared shop has no pipeline.
        let shared = dataflow_lab::sim::view::page_view(&run(&shop(Mode::Shared), 42, 1));
        assert!(shared.pipeline.is_none());
        assert!(shared.flows.is_empty());
        // The etl shop draws the job's copies.
        let etl = dataflow_lab::sim::view::page_view(&run(&shop(Mode::Etl), 42, 1));
        assert!(etl.flows.iter().any(|f| f.kind == FlowKind::Etl
            && f.from.0 == "shop"
            && f.to == ("analytics".to_owned(), "orders".to_owned())));
    }
}
