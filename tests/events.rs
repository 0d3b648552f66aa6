//! The `events` mode: owners write domain events into their outbox in the transaction of the
//! change, the relay (Debezium's outbox event router) publishes them in Avro with the registry's
//! schema, and readers keep their read models from them — equal to their sources after faults,
//! shielded from the owner's column rename that breaks a reader of raw changes.

#![cfg(not(target_arch = "wasm32"))]

use dataflow_lab::sim::avro_wire;
use dataflow_lab::sim::builtin;
use dataflow_lab::sim::clock::SECOND;
use dataflow_lab::sim::modes::Mode;
use dataflow_lab::sim::scenario::Scenario;
use dataflow_lab::sim::topic::Payload;
use dataflow_lab::sim::world::{Command, World};

fn scenario(name: &str) -> Scenario {
    Scenario::parse(builtin::scenario_text(name).expect("built in")).expect("valid")
}

fn shop(mode: Mode) -> World {
    let mut scenario = scenario("shop");
    scenario.mode = mode;
    World::new(&scenario).expect("builds")
}

fn apply(world: &mut World, command: Command) {
    world.apply(command).expect("applies");
}

fn count(world: &mut World, database: &str, sql: &str) -> i64 {
    let db = world.database_mut(database).expect("a database");
    let result = db.execute(sql).expect("runs");
    let rows = dataflow_lab::sim::invariants::rows_of_result(&result).expect("rows");
    rows.1[0][0].parse().expect("a count")
}

#[test]
fn the_shop_offers_the_events_mode_because_it_declares_events() {
    assert!(scenario("shop").modes().contains(&Mode::Events));
    let mut bare = scenario("shop");
    bare.events.clear();
    // (Its expectations about the events mode would be refused first.)
    bare.expect.retain(|e| !e.modes.contains(&Mode::Events));
    assert!(!bare.modes().contains(&Mode::Events));
    bare.mode = Mode::Events;
    let Err(error) = World::new(&bare) else {
        panic!("an events run without events is refused");
    };
    assert_eq!(error.path, "mode");
    assert!(error.message.contains("declares no events"), "{error}");
}

/// Crashing the relay's connector re-sends what followed its last flushed offset, and a
/// consumer crash re-delivers what it had not committed: duplicates are delivered, skipped by
/// event id, and every read model ends equal to its source; the outbox stays empty.
#[test]
fn after_a_connector_crash_and_a_consumer_crash_every_read_model_equals_its_source() {
    let mut world = shop(Mode::Events);
    world.step_until(8 * SECOND);
    apply(
        &mut world,
        Command::CrashConnector {
            connector: "orders-connector".into(),
        },
    );
    world.step_until(10 * SECOND);
    apply(
        &mut world,
        Command::StartConnector {
            connector: "orders-connector".into(),
        },
    );
    apply(
        &mut world,
        Command::CrashConsumer {
            group: "reporting".into(),
        },
    );
    world.step_until(14 * SECOND);
    assert!(world.drain(120 * SECOND), "drains within two minutes");
    let report = world.check_invariants();
    assert!(report.quiet);
    let checked: Vec<(&str, &str)> = report
        .read_models
        .iter()
        .map(|m| (m.database.as_str(), m.table.as_str()))
        .collect();
    assert!(checked.contains(&("billing", "orders")), "{checked:?}");
    assert!(checked.contains(&("reporting", "customers")), "{checked:?}");
    for model in &report.read_models {
        assert_eq!(
            model.source, "orders",
            "fed by the orders outbox: {model:?}"
        );
        assert!(model.divergence.is_equal(), "{model:?}");
        assert!(model.divergence.rows > 0, "compared some rows: {model:?}");
    }
    assert!(
        report.duplicates_delivered > 0,
        "the crash re-sent events that were skipped"
    );
    assert_eq!(
        count(&mut world, "orders", "SELECT COUNT(*) FROM outbox"),
        0,
        "each event is deleted in the transaction that wrote it"
    );
    let relayed = world.report().connectors["orders-connector"].relayed_events;
    assert!(relayed > 100, "the relay published the events: {relayed}");
}

/// Every message of an event topic is Avro in Confluent's wire format: its schema id resolves
/// in the registry to the topic's subject, it carries the `id` and `type` headers, its key is
/// the aggregate id, it decodes to a record of the schema's fields, and it is smaller than the
/// same value as JSON.
#[test]
fn event_messages_are_avro_with_headers_and_decode_with_the_registry() {
    let mut world = shop(Mode::Events);
    world.step_until(5 * SECOND);
    let registry = world.registry().expect("a registry");
    let (version, registered) = registry
        .latest("outbox.event.order-value")
        .expect("the order subject");
    assert_eq!(version, 1);
    let topic = &world.topics().expect("topics")["outbox.event.order"];
    let mut seen = 0;
    let (mut avro_bytes, mut json_bytes) = (0, 0);
    for partition in topic.partitions() {
        for message in partition.messages() {
            seen += 1;
            let Some(Payload::Bytes(bytes)) = &message.value else {
                panic!("an Avro value: {message:?}");
            };
            assert_eq!(avro_wire::schema_id(bytes), Ok(registered.id));
            let (_, value) = avro_wire::decode(bytes, registry, None).expect("decodes");
            let fields: Vec<&String> = value.as_object().expect("a record").keys().collect();
            assert!(fields.iter().any(|f| *f == "total_cents"), "{fields:?}");
            assert_eq!(
                message.key.as_deref(),
                Some(value["id"].to_string().as_str()),
                "the key is the aggregate id"
            );
            assert!(message
                .header("id")
                .is_some_and(|id| id.parse::<u64>().is_ok()));
            assert!(
                matches!(message.header("type"), Some("OrderPlaced" | "OrderUpdated")),
                "{:?}",
                message.header("type")
            );
            avro_bytes += bytes.len();
            json_bytes += value.to_string().len();
        }
    }
    assert!(seen > 50, "five seconds of orders: {seen}");
    assert!(
        avro_bytes * 2 < json_bytes,
        "Avro {avro_bytes} bytes against JSON {json_bytes}"
    );
}

#[test]
fn the_same_seed_gives_the_same_trace_in_the_events_mode() {
    for relay in dataflow_lab::sim::outbox::RelayMethod::ALL {
        let run = || {
            let mut scenario = scenario("shop");
            scenario.mode = Mode::Events;
            scenario.cdc.relay = Some(relay);
            let mut world = World::new(&scenario).expect("builds");
            world.step_until(6 * SECOND);
            // The checker's reads (the polling relay's count of unpublished rows among them)
            // change nothing either.
            let _ = world.check_invariants();
            world.step_until(8 * SECOND);
            world.report().trace_hash
        };
        assert_eq!(run(), run(), "{relay:?}");
    }
}

/// The owner renames a column of its table at 20 s: the reader of raw changes fails on the new
/// column from then on and its read model stops following; the reader of the outbox's events
/// goes on and ends equal to its source.
#[test]
fn the_owners_rename_breaks_the_raw_reader_and_not_the_event_reader() {
    let mut world = World::new(&scenario("outbox-contract")).expect("builds");
    world.step_until(19 * SECOND);
    let before = world.report();
    assert_eq!(before.consumer_groups["billing"].failed_batches, 0);
    assert_eq!(before.consumer_groups["analytics"].failed_batches, 0);
    world.step_until(40 * SECOND);
    let after = world.report();
    assert!(
        after.timeline[0].result.starts_with("ok"),
        "{:?}",
        after.timeline
    );
    assert!(
        after.consumer_groups["billing"].failed_batches > 10,
        "billing's batches fail on amount_cents: {:?}",
        after.consumer_groups["billing"]
    );
    assert_eq!(after.consumer_groups["analytics"].failed_batches, 0);
    assert!(
        after.consumer_groups["analytics"].applied > before.consumer_groups["analytics"].applied,
        "analytics goes on applying"
    );
    assert!(
        after.consumer_groups["billing"].lag_ms > 10_000.0,
        "billing's lag grows: {}",
        after.consumer_groups["billing"].lag_ms
    );
    assert!(
        !world.drain(60 * SECOND),
        "billing's consumer never catches up: the system never becomes quiet"
    );
    let report = world.check_invariants();
    let model = |database: &str| {
        report
            .read_models
            .iter()
            .find(|m| m.database == database && m.table == "orders")
            .unwrap_or_else(|| panic!("{database}'s orders: {report:?}"))
    };
    assert!(model("analytics").divergence.is_equal(), "{report:?}");
    assert!(!report.sources_writing, "drained: the sources stopped");
    assert!(
        report
            .failing
            .iter()
            .any(|f| f.name == "billing" && f.why.contains("amount_cents")),
        "the checker names the failing consumer and why: {:?}",
        report.failing
    );
    assert!(
        !model("billing").divergence.is_equal(),
        "billing's copy missed the orders after the rename: {report:?}"
    );
}

/// In the `cdc` mode the same rename reaches every reader: both consumers fail.
#[test]
fn without_the_outbox_the_rename_breaks_every_reader() {
    let mut scenario = scenario("outbox-contract");
    scenario.mode = Mode::Cdc;
    let mut world = World::new(&scenario).expect("builds");
    world.step_until(30 * SECOND);
    let report = world.report();
    for group in ["billing", "analytics"] {
        assert!(
            report.consumer_groups[group].failed_batches > 0,
            "{group}: {:?}",
            report.consumer_groups[group]
        );
    }
}

#[test]
fn event_declarations_are_checked_against_the_tables() {
    let refused = |edit: &dyn Fn(&mut Scenario)| {
        let mut scenario = scenario("outbox-contract");
        edit(&mut scenario);
        let Err(error) = World::new(&scenario) else {
            panic!("refused");
        };
        error
    };
    let error = refused(&|s| {
        s.events.get_mut("order").expect("order").table = "invoices_typo".into();
    });
    assert_eq!(error.path, "events.order.table");
    let error = refused(&|s| {
        s.events.get_mut("order").expect("order").schema = Some(
            r#"{"type":"record","name":"O","fields":[{"name":"price","type":"long"}]}"#.into(),
        );
    });
    assert_eq!(error.path, "events.order.schema");
    assert!(error.message.contains("\"price\""), "{error}");
    let error = refused(&|s| s.services[1].raw_changes = vec!["customers".into()]);
    assert_eq!(error.path, "services[1].raw_changes[0]");
}

/// A compatible change registered while the run goes on: the relay writes with version 2 (its
/// new field's default filled in), the consumers still read with version 1 and stay equal to
/// their sources; an incompatible change is refused, naming the rule, the field and the
/// consumers, and changes nothing.
#[test]
fn registering_a_new_version_mid_run_keeps_the_readers_and_refusals_name_the_consumers() {
    let mut world = shop(Mode::Events);
    world.step_until(3 * SECOND);
    let subject = "outbox.event.order-value";
    let latest = world
        .registry()
        .and_then(|r| r.latest(subject))
        .map(|(_, s)| s.canonical.clone())
        .expect("version 1");
    let mut schema: serde_json::Value = serde_json::from_str(&latest).expect("json");
    schema["fields"]
        .as_array_mut()
        .expect("fields")
        .push(serde_json::json!({"name": "coupon", "type": "string"}));
    let refused = world
        .apply(Command::RegisterSchema {
            subject: subject.into(),
            schema: schema.to_string(),
        })
        .expect_err("a field without a default breaks BACKWARD");
    let message = refused.to_string();
    for needle in ["BACKWARD", "coupon", "billing", "reporting"] {
        assert!(message.contains(needle), "{needle} in {message}");
    }
    let preview = world
        .registry()
        .expect("registry")
        .preview(subject, &schema.to_string());
    assert!(preview.verdict.is_err());
    assert!(preview
        .diff
        .iter()
        .any(|l| l.path.ends_with("coupon") && !l.backward));
    schema["fields"][5]["default"] = serde_json::json!("none");
    let answer = world
        .apply(Command::RegisterSchema {
            subject: subject.into(),
            schema: schema.to_string(),
        })
        .expect("a field with a default is BACKWARD compatible");
    assert!(answer.contains("version 2"), "{answer}");
    let v2 = world
        .registry()
        .and_then(|r| r.latest(subject))
        .map(|(v, s)| (v, s.id))
        .expect("v2");
    assert_eq!(v2.0, 2);
    world.step_until(6 * SECOND);
    let topic = &world.topics().expect("topics")["outbox.event.order"];
    let newest = topic
        .partitions()
        .iter()
        .filter_map(|p| p.messages().last())
        .max_by_key(|m| m.timestamp)
        .expect("messages");
    let Some(Payload::Bytes(bytes)) = &newest.value else {
        panic!("Avro");
    };
    assert_eq!(
        avro_wire::schema_id(bytes),
        Ok(v2.1),
        "written with version 2"
    );
    let (_, value) = avro_wire::decode(bytes, world.registry().expect("r"), None).expect("decodes");
    assert_eq!(
        value["coupon"], "none",
        "the default filled in by the producer"
    );
    assert!(world.drain(60 * SECOND));
    let report = world.check_invariants();
    assert!(report.holds(), "{report:?}");
}

/// The page checks the invariants while the run goes on: checking reads and changes nothing
/// the run depends on, so the trace is the one of a run never checked.
#[test]
fn checking_mid_run_does_not_change_the_trace() {
    let unchecked = {
        let mut world = shop(Mode::Events);
        world.step_until(6 * SECOND);
        world.report().trace_hash
    };
    let mut world = shop(Mode::Events);
    for second in 1..=6 {
        world.step_until(second * SECOND);
        let _ = world.check_invariants();
    }
    assert_eq!(world.report().trace_hash, unchecked);
}

/// The same with a projection to check (cdc-basics' analytics): its query runs on both sides.
#[test]
fn checking_a_projection_mid_run_does_not_change_the_trace() {
    let run = |check: bool| {
        let mut world = World::new(&scenario("cdc-basics")).expect("builds");
        for second in 1..=6 {
            world.step_until(second * SECOND);
            if check {
                assert!(!world.check_invariants().read_models.is_empty());
            }
        }
        // The trace, and every message (Debezium's values carry transaction ids).
        let messages: Vec<String> = world
            .topics()
            .expect("topics")
            .values()
            .flat_map(|t| t.partitions().iter().flat_map(|p| p.messages()))
            .map(|m| format!("{:?}", m.value))
            .collect();
        (world.report().trace_hash, messages)
    };
    let (checked, unchecked) = (run(true), run(false));
    assert_eq!(checked.0, unchecked.0);
    assert!(checked.1.len() > 100, "{} messages", checked.1.len());
    assert!(checked.1 == unchecked.1, "the messages differ when checked");
}

/// `StopSources` — the page's "Stop the sources and drain" — heals a crashed relay and lets the
/// pipeline drain: once quiet, the checker holds.
#[test]
fn stopping_the_sources_after_a_relay_crash_ends_quiet_and_equal() {
    let mut world = shop(Mode::Events);
    world.step_until(4 * SECOND);
    apply(
        &mut world,
        Command::CrashConnector {
            connector: "orders-connector".into(),
        },
    );
    world.step_until(6 * SECOND);
    let busy = world.check_invariants();
    assert!(!busy.quiet);
    assert!(busy.sources_writing);
    // What the crashed relay has not read counts as on its way to the event readers.
    let snapshot = world.pipeline_snapshot().expect("a pipeline");
    let billing = snapshot
        .groups
        .iter()
        .find(|g| g.name == "billing")
        .expect("billing");
    assert!(
        billing.behind_source.0 > 10 && billing.behind_source.1 >= SECOND,
        "billing is behind its source: {:?}",
        billing.behind_source
    );
    apply(&mut world, Command::StopSources);
    world.step_until(30 * SECOND);
    let report = world.check_invariants();
    assert!(report.quiet, "drained by 30 s");
    assert!(report.holds(), "{report:?}");
}

/// The dual-write lesson's publisher crash loses what was committed and not yet published: the
/// checker, once quiet, names the missing rows; the same workload through the outbox holds.
#[test]
fn a_dual_write_crash_loses_rows_that_the_outbox_keeps() {
    let run = |mode: Mode| {
        let mut scenario = scenario("dual-write");
        scenario.mode = mode;
        let mut world = World::new(&scenario).expect("builds");
        world.step_until(5 * SECOND + 150_000);
        apply(
            &mut world,
            Command::CrashConnector {
                connector: "orders-connector".into(),
            },
        );
        apply(&mut world, Command::StopSources);
        world.step_until(30 * SECOND);
        world.check_invariants()
    };
    let dual = run(Mode::Cdc);
    assert!(dual.quiet);
    assert!(!dual.holds(), "the crash lost events: {dual:?}");
    let model = &dual.read_models[0];
    assert!(model.divergence.missing > 0, "{model:?}");
    assert!(model
        .divergence
        .shown
        .iter()
        .any(|r| r.read_model.is_none()));
    let outbox = run(Mode::Events);
    assert!(outbox.quiet && outbox.holds(), "{outbox:?}");
}

/// A broker outage: nothing is produced or fetched while it lasts (the relay's log position
/// stays, its lag grows), and once it is over the pipeline catches up with nothing lost.
#[test]
fn a_broker_outage_stops_the_flow_and_loses_nothing() {
    let mut world = shop(Mode::Events);
    world.step_until(3 * SECOND);
    let produced =
        |world: &World| -> u64 { world.report().topics.values().map(|t| t.produced).sum() };
    let before = produced(&world);
    let answer = world
        .apply(Command::BrokerOutage {
            duration_ms: 4_000.0,
        })
        .expect("applies");
    assert!(answer.starts_with("down until"), "{answer}");
    world.step_until(6 * SECOND);
    assert_eq!(
        produced(&world),
        before,
        "nothing produced while the broker is down"
    );
    let report = world.report();
    assert!(
        report.connectors["orders-connector"].lag_records > 0,
        "the relay falls behind the log"
    );
    assert!(!world.is_quiet());
    world.step_until(8 * SECOND);
    assert!(produced(&world) > before, "the relay produces again");
    apply(&mut world, Command::StopSources);
    world.step_until(30 * SECOND);
    let report = world.check_invariants();
    assert!(report.quiet && report.holds(), "{report:?}");
}

/// A slow consumer falls behind the others on the same topic, and catches up at its normal
/// speed.
#[test]
fn a_slow_consumer_falls_behind_and_catches_up() {
    let mut world = shop(Mode::Events);
    world.step_until(2 * SECOND);
    apply(
        &mut world,
        Command::SlowConsumer {
            group: "billing".into(),
            per_message_ms: 80.0,
        },
    );
    world.step_until(8 * SECOND);
    // Its lag as sampled over the run (the lag at one instant depends on whether a batch
    // has just been committed).
    let report = world.report();
    let (slow, normal) = (
        report.consumer_groups["billing"].lag_messages_p95,
        report.consumer_groups["reporting"].lag_messages_p95,
    );
    assert!(
        slow > normal + 20,
        "billing {slow} behind, reporting {normal} (p95)"
    );
    apply(
        &mut world,
        Command::SlowConsumer {
            group: "billing".into(),
            per_message_ms: 0.0,
        },
    );
    assert!(world.drain(60 * SECOND));
    assert!(world.check_invariants().holds());
}

/// The two new fault kinds in a seeded schedule: soaked, the events shop still ends equal.
#[test]
fn soaked_under_broker_outages_and_slow_consumers_the_events_shop_holds() {
    let mut scenario = scenario("shop");
    scenario.faults = Some(dataflow_lab::sim::faults::FaultSpec {
        kinds: vec![
            dataflow_lab::sim::faults::FaultKind::BrokerOutage,
            dataflow_lab::sim::faults::FaultKind::ConsumerSlow,
        ],
        every: dataflow_lab::sim::clock::SimDuration(3_000_000),
        ..Default::default()
    });
    let run =
        dataflow_lab::sim::soak::soak_run(&scenario, Mode::Events, 4, 15 * SECOND).expect("runs");
    assert!(run.faults > 0, "{run:?}");
    assert!(run.quiet && run.holds, "{run:?}");
}

#[test]
fn timeline_faults_need_their_fields() {
    let mut scenario = scenario("shop");
    scenario.timeline = vec![dataflow_lab::sim::scenario::TimelineEntry {
        at: dataflow_lab::sim::clock::SimDuration(1_000_000),
        action: dataflow_lab::sim::scenario::ActionKind::BrokerOutage,
        database: None,
        sql: None,
        service: None,
        operation: None,
        rate_per_s: None,
        connector: None,
        group: None,
        duration: None,
        delay: None,
    }];
    let error = scenario.check().expect_err("no duration");
    assert_eq!(error.path, "timeline[0].duration");
    scenario.timeline[0].duration = Some(dataflow_lab::sim::clock::SimDuration(2_000_000));
    scenario.mode = Mode::Events;
    let mut world = World::new(&scenario).expect("builds");
    world.step_until(2 * SECOND);
    assert!(
        world.report().timeline[0].result.contains("down until"),
        "{:?}",
        world.report().timeline
    );
}

/// The order subject's latest schema, as JSON to edit.
fn latest_order_schema(world: &World) -> serde_json::Value {
    let latest = world
        .registry()
        .and_then(|r| r.latest("outbox.event.order-value"))
        .map(|(_, s)| s.canonical.clone())
        .expect("a version");
    serde_json::from_str(&latest).expect("json")
}

fn register(world: &mut World, schema: &serde_json::Value) -> String {
    world
        .apply(Command::RegisterSchema {
            subject: "outbox.event.order-value".into(),
            schema: schema.to_string(),
        })
        .expect("accepted")
}

fn order_events(world: &World) -> usize {
    world.topics().expect("topics")["outbox.event.order"].len()
}

/// A version the relay's events do not fit (`status` renamed `state`, with an alias: BACKWARD
/// accepts it, but the owner's code still writes `status`): the relay stops at the first event
/// it cannot encode, as a Kafka Connect task does, publishing nothing after it and skipping
/// nothing; restarted, it stops there again. Once a version that fits is registered and the
/// relay restarted, every event arrives and the read models end equal.
#[test]
fn a_relay_that_cannot_encode_an_event_stops_there_until_the_schema_fits() {
    let mut world = shop(Mode::Events);
    world.step_until(3 * SECOND);
    let v1 = latest_order_schema(&world);
    let mut renamed = v1.clone();
    let status = renamed["fields"]
        .as_array_mut()
        .expect("fields")
        .iter_mut()
        .find(|f| f["name"] == "status")
        .expect("a status field");
    status["name"] = "state".into();
    status["aliases"] = serde_json::json!(["status"]);
    let snapshot = world.pipeline_snapshot().expect("a pipeline").registry;
    let preview = snapshot.preview("outbox.event.order-value", &renamed.to_string());
    assert!(
        preview.verdict.is_ok(),
        "BACKWARD accepts a rename with an alias"
    );
    let producer = preview.producer.unwrap_or_default();
    assert!(
        producer.contains("carry no field state"),
        "the preview warns that the relay cannot write it: {producer}"
    );
    register(&mut world, &renamed);
    world.step_until(5 * SECOND);
    let stopped_at = order_events(&world);
    world.step_until(8 * SECOND);
    let report = world.report();
    let relay = &report.connectors["orders-connector"];
    assert_eq!(relay.state, "crashed", "{relay:?}");
    assert!(relay.relay_failed >= 1);
    let error = relay.relay_error.clone().unwrap_or_default();
    assert!(error.contains("cannot encode"), "{error}");
    assert_eq!(order_events(&world), stopped_at, "nothing published after");
    let check = world.check_invariants();
    assert!(
        check.failing.iter().any(|f| f.name == "orders-connector"
            && f.part == dataflow_lab::sim::world::FailingPart::Connector),
        "{:?}",
        check.failing
    );
    assert_eq!(check.verdict(), dataflow_lab::sim::world::Verdict::Stuck);
    apply(
        &mut world,
        Command::StartConnector {
            connector: "orders-connector".into(),
        },
    );
    world.step_until(10 * SECOND);
    let again = world.report().connectors["orders-connector"].clone();
    assert_eq!(again.state, "crashed", "it meets the same event again");
    assert!(again.relay_failed > relay.relay_failed);
    assert_eq!(order_events(&world), stopped_at);
    // A version that fits what the owner writes, and reads what version 2 would have written.
    let mut fixed = v1;
    let status = fixed["fields"]
        .as_array_mut()
        .expect("fields")
        .iter_mut()
        .find(|f| f["name"] == "status")
        .expect("a status field");
    status["aliases"] = serde_json::json!(["state"]);
    register(&mut world, &fixed);
    apply(
        &mut world,
        Command::StartConnector {
            connector: "orders-connector".into(),
        },
    );
    assert!(world.drain(60 * SECOND), "drains once the relay goes on");
    assert!(order_events(&world) > stopped_at);
    let report = world.check_invariants();
    assert!(report.holds(), "{report:?}");
    assert!(report.failing.is_empty(), "{:?}", report.failing);
}

/// BACKWARD accepts removing a field without a default, and says who it strands: the consumers
/// still reading with version 1 cannot decode an event written with version 2. Each stops at the
/// first such event (its batch fails, its offsets stay) rather than skip it; upgraded to version
/// 2, it decodes the event — and then meets what its read model needs: `status` is NOT NULL
/// there, and the events no longer carry it.
#[test]
fn an_event_a_reader_cannot_decode_stops_it_until_it_is_upgraded() {
    let mut world = shop(Mode::Events);
    world.step_until(3 * SECOND);
    let mut removed = latest_order_schema(&world);
    removed["fields"]
        .as_array_mut()
        .expect("fields")
        .retain(|f| f["name"] != "status");
    let preview = world
        .registry()
        .expect("registry")
        .preview("outbox.event.order-value", &removed.to_string());
    assert!(preview.verdict.is_ok(), "BACKWARD accepts a removal");
    let stranded: Vec<&str> = preview
        .stranded
        .iter()
        .map(|s| s.consumer.as_str())
        .collect();
    assert!(stranded.contains(&"billing"), "{stranded:?}");
    let answer = register(&mut world, &removed);
    assert!(
        answer.contains("Warning") && answer.contains("billing") && answer.contains("status"),
        "{answer}"
    );
    world.step_until(8 * SECOND);
    let before = world.report().consumer_groups["billing"].clone();
    world.step_until(12 * SECOND);
    let after = world.report().consumer_groups["billing"].clone();
    assert!(after.failed_batches > before.failed_batches);
    assert_eq!(after.committed, before.committed, "its offsets stay put");
    let check = world.check_invariants();
    let why = check
        .failing
        .iter()
        .find(|f| f.name == "billing")
        .map(|f| f.why.clone())
        .unwrap_or_default();
    assert!(why.contains("cannot decode the event at offset"), "{why}");
    assert!(
        world
            .narration()
            .any(|l| l.text.contains("billing's consumer cannot apply its batch")),
        "what happened says so"
    );
    let answer = world
        .apply(Command::UpgradeReaders {
            group: "billing".into(),
        })
        .expect("upgrades");
    assert!(answer.contains("version 2"), "{answer}");
    let readers = world
        .registry()
        .expect("registry")
        .views()
        .into_iter()
        .find(|s| s.name == "outbox.event.order-value")
        .expect("the subject")
        .consumers;
    assert!(readers.contains(&("billing".to_owned(), 2)), "{readers:?}");
    world.step_until(16 * SECOND);
    let check = world.check_invariants();
    let why = check
        .failing
        .iter()
        .find(|f| f.name == "billing")
        .map(|f| f.why.clone())
        .unwrap_or_default();
    assert!(!why.contains("cannot decode"), "it decodes now: {why}");
    assert!(why.contains("status"), "and needs the field it lost: {why}");
}

/// A write by hand (the console, a timeline statement) goes around the owner's outbox: the page
/// says so, and the readers of the events miss it.
#[test]
fn a_console_write_to_an_evented_table_is_narrated_as_bypassing_the_outbox() {
    let mut world = shop(Mode::Events);
    world.step_until(2 * SECOND);
    apply(
        &mut world,
        Command::Console {
            database: "orders".into(),
            sql: "UPDATE orders SET status = 'refunded' WHERE id = 1".into(),
        },
    );
    world.step_until(3 * SECOND);
    let lines: Vec<String> = world.narration().map(|l| l.text.clone()).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("went around the outbox of the orders service")),
        "{lines:?}"
    );
    assert!(world.drain(60 * SECOND));
    let report = world.check_invariants();
    assert!(!report.holds(), "the readers never heard of it");
}

/// Event-fed read models cannot be rebuilt from their topics, which start at the first event.
#[test]
fn rebuilding_event_fed_read_models_is_refused_with_the_reason() {
    let mut world = shop(Mode::Events);
    world.step_until(2 * SECOND);
    let error = world
        .apply(Command::RebuildReadModels {
            group: "billing".into(),
        })
        .expect_err("refused");
    assert!(error.to_string().contains("first event"), "{error}");
}

/// The naive polling relay publishes the same events as the log relay — every read model ends
/// equal — but an event waits for the next poll, every poll and mark is a query the owner's
/// database runs, and the outbox keeps every row (marked published) where the log relay's
/// outbox stays empty.
#[test]
fn the_polling_relay_delivers_everything_later_and_at_the_owners_expense() {
    use dataflow_lab::sim::outbox::RelayMethod;
    let run = |relay: RelayMethod| {
        let mut scenario = scenario("outbox-relays");
        scenario.cdc.relay = Some(relay);
        let mut world = World::new(&scenario).expect("builds");
        world.step_until(20 * SECOND);
        let report = world.report();
        assert!(world.drain(60 * SECOND), "{relay:?} drains");
        let check = world.check_invariants();
        assert!(check.holds(), "{relay:?}: {check:?}");
        let outbox = count(&mut world, "orders", "SELECT COUNT(*) FROM outbox");
        let unpublished = count(
            &mut world,
            "orders",
            "SELECT COUNT(*) FROM outbox WHERE published = FALSE",
        );
        (report, outbox, unpublished)
    };
    let (log, log_outbox, _) = run(RelayMethod::Log);
    let (polling, polling_outbox, unpublished) = run(RelayMethod::Polling);
    assert_eq!(log_outbox, 0, "the log relay's outbox stays empty");
    assert!(polling_outbox > 400, "{polling_outbox} rows kept");
    assert_eq!(unpublished, 0, "drained: every row published");
    let relay = |r: &dataflow_lab::sim::report::Report| r.connectors["orders-connector"].clone();
    let (log_relay, polling_relay) = (relay(&log), relay(&polling));
    assert_eq!(polling_relay.relay, Some(RelayMethod::Polling));
    assert_eq!(log_relay.relay, Some(RelayMethod::Log));
    assert!(polling_relay.relayed_events > 400);
    assert_eq!(
        polling.consumer_groups["billing"].duplicates, 0,
        "each row published once"
    );
    let p95 = |r: &dataflow_lab::sim::report::ConnectorReport| {
        r.relay_latency_ms.as_ref().map_or(0.0, |l| l.p95)
    };
    assert!(
        p95(&polling_relay) > 5.0 * p95(&log_relay).max(1.0),
        "polling {} ms, log {} ms",
        p95(&polling_relay),
        p95(&log_relay)
    );
    assert!(
        p95(&polling_relay) >= 300.0,
        "an event waits for the next poll of a 1 s interval: {} ms",
        p95(&polling_relay)
    );
    assert_eq!(
        log_relay.source_core_ms, 0.0,
        "the log costs the owner no query"
    );
    assert!(polling_relay.source_core_ms > 0.0);
    let staleness =
        |r: &dataflow_lab::sim::report::Report| r.read_models["billing"]["orders"].staleness_ms.p95;
    assert!(
        staleness(&polling) > 2.0 * staleness(&log),
        "billing's copy: polling {} ms, log {} ms",
        staleness(&polling),
        staleness(&log)
    );
}

/// The polling relay crashed mid-run (its poll or mark in flight goes stale) and a row written
/// by hand into its outbox for an aggregate no one declares: the relay stops there, says why,
/// and publishes nothing after it; once the row is gone and the relay restarted, everything
/// arrives and every read model ends equal.
#[test]
fn the_polling_relay_stops_at_what_it_cannot_publish_and_loses_nothing() {
    use dataflow_lab::sim::outbox::RelayMethod;
    let mut scenario = scenario("outbox-relays");
    scenario.cdc.relay = Some(RelayMethod::Polling);
    let mut world = World::new(&scenario).expect("builds");
    world.step_until(3 * SECOND + SECOND / 2);
    apply(
        &mut world,
        Command::CrashConnector {
            connector: "orders-connector".into(),
        },
    );
    apply(
        &mut world,
        Command::StartConnector {
            connector: "orders-connector".into(),
        },
    );
    apply(
        &mut world,
        Command::Console {
            database: "orders".into(),
            sql: "INSERT INTO outbox VALUES (1000000, 'invoice', '7', 'InvoicePaid', '{}', \
                  '2026-01-01 00:00:04', FALSE)"
                .into(),
        },
    );
    world.step_until(8 * SECOND);
    let stopped = world.report().connectors["orders-connector"].clone();
    assert_eq!(stopped.state, "crashed", "{stopped:?}");
    let why = stopped.relay_error.clone().unwrap_or_default();
    assert!(why.contains("outbox.event.invoice"), "{why}");
    let published = order_events(&world);
    world.step_until(10 * SECOND);
    assert_eq!(order_events(&world), published, "nothing published after");
    apply(
        &mut world,
        Command::Console {
            database: "orders".into(),
            sql: "DELETE FROM outbox WHERE id = 1000000".into(),
        },
    );
    world.step_until(10 * SECOND + SECOND / 2);
    apply(
        &mut world,
        Command::StartConnector {
            connector: "orders-connector".into(),
        },
    );
    assert!(world.drain(60 * SECOND), "drains");
    let report = world.check_invariants();
    assert!(report.holds(), "{report:?}");
    assert!(report.failing.is_empty(), "{:?}", report.failing);
}
