//! The `etl` mode: the analytics services read a copy that a batch job refreshes. A copy taken
//! while the writers are still equals the source; staleness (now − start of the last successful
//! copy) is measured and bounded by the interval plus a run; the extract is a reader on the
//! source whose core time is counted; moving the report off the shop database spares the order
//! inserts; a copy incremental by a growing column misses updates to rows it copied before, as
//! documented; a scenario that cannot run in the mode gets an error naming what is wrong.

use dataflow_lab::sim::builtin;
use dataflow_lab::sim::clock::SECOND;
use dataflow_lab::sim::modes::Mode;
use dataflow_lab::sim::scenario::Scenario;
use dataflow_lab::sim::world::{Command, EtlPhase, World};

fn shop(mode: Mode) -> Scenario {
    let mut scenario =
        Scenario::parse(builtin::scenario_text("shop").expect("built in")).expect("valid");
    scenario.mode = mode;
    scenario
}

fn rows(
    world: &mut World,
    database: &str,
    table: &str,
) -> (Vec<String>, Vec<Vec<dataflow_lab::sim::database::Cell>>) {
    let (columns, rows) = world
        .database_mut(database)
        .expect("a database")
        .committed_rows(table)
        .expect("a table");
    let mut rows: Vec<Vec<_>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(dataflow_lab::sim::database::Cell::from_value)
                .collect()
        })
        .collect();
    rows.sort_by(|a, b| a[0].text.cmp(&b[0].text));
    (columns, rows)
}

fn stop_everything(world: &mut World, scenario: &Scenario) {
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
}

#[test]
fn a_copy_taken_while_the_writers_are_still_equals_the_source() {
    let scenario = shop(Mode::Etl);
    let mut world = World::with_seed(&scenario, 42).expect("builds");
    world.step_until(5 * SECOND);
    let before = rows(&mut world, "analytics", "orders");
    assert_ne!(
        before,
        rows(&mut world, "shop", "orders"),
        "5 s in, the copy is behind the source"
    );
    stop_everything(&mut world, &scenario);
    world.step_until(6 * SECOND);
    assert_eq!(
        world.apply(Command::RunEtl).expect("runs"),
        "started: extracting"
    );
    assert!(world
        .apply(Command::RunEtl)
        .expect("answers")
        .contains("still going"));
    world.step_until(12 * SECOND);
    let snapshot = world.etl_snapshot().expect("a job");
    assert_eq!(snapshot.phase, EtlPhase::Idle);
    assert_eq!(
        (snapshot.runs, snapshot.overruns),
        (1, 0),
        "a run asked for while one is going is refused, not an overrun"
    );
    let source = rows(&mut world, "shop", "orders");
    assert!(source.1.len() > 20_000);
    assert_eq!(rows(&mut world, "analytics", "orders"), source);
    assert_eq!(
        rows(&mut world, "analytics", "customers"),
        rows(&mut world, "shop", "customers")
    );
    let tables = world
        .database_mut("analytics")
        .expect("there")
        .with_engine_ref(|e| e.table_names());
    assert_eq!(
        tables,
        ["customers", "orders"],
        "only what the analytics services read is copied"
    );
}

#[test]
fn staleness_is_measured_and_bounded_by_the_interval_and_a_run() {
    let scenario = shop(Mode::Etl);
    let mut world = World::with_seed(&scenario, 42).expect("builds");
    world.step_until(45 * SECOND);
    let report = world.report();
    let etl = report.etl.as_ref().expect("an etl report");
    assert_eq!(etl.runs, 2, "runs at 20 s and 40 s: {etl:?}");
    assert_eq!(etl.failed_runs, 0);
    let interval_ms = scenario.etl.interval.micros() as f64 / 1e3;
    assert!(
        etl.staleness_ms.p50 > 0.2 * interval_ms,
        "{:?}",
        etl.staleness_ms
    );
    assert!(
        etl.staleness_ms.max < 1.5 * interval_ms,
        "{:?}",
        etl.staleness_ms
    );
    assert!(etl.extract_core_ms > 0.0 && etl.load_core_ms > etl.extract_core_ms);
    assert!(etl.tables["orders"].rows_copied >= 2 * 20_000);
    let extract = &report.services["(etl) extract"];
    assert_eq!(extract.total.errors, 0);
}

#[test]
fn moving_the_report_to_the_analytics_copy_spares_the_order_inserts() {
    let run = |mode| {
        let mut world = World::with_seed(&shop(mode), 42).expect("builds");
        world.step_until(30 * SECOND);
        world.report()
    };
    let (shared, etl) = (run(Mode::Shared), run(Mode::Etl));
    // The order inserts no longer queue behind the report's scan; billing's own join still
    // runs on the shop database (ETL moves only the analytics readers).
    let p99 = |r: &dataflow_lab::sim::report::Report| {
        r.services["orders"].by_operation["place_order"]
            .latency_ms
            .p99
    };
    assert!(
        p99(&etl) * 2.0 <= p99(&shared),
        "place_order p99: etl {} ms, shared {} ms",
        p99(&etl),
        p99(&shared)
    );
    let shop_cores = |r: &dataflow_lab::sim::report::Report| r.databases["shop"].core_utilisation;
    assert!(shop_cores(&etl) < shop_cores(&shared));
    assert!(etl.databases["analytics"].core_utilisation > 0.0);
    assert!(etl.services["reporting"].total.operations > 5);
}

#[test]
fn the_same_seed_gives_the_same_trace_twice() {
    let scenario = shop(Mode::Etl);
    let hash = || {
        let mut world = World::with_seed(&scenario, 9).expect("builds");
        world.step_until(22 * SECOND);
        world.report().trace_hash
    };
    assert_eq!(hash(), hash());
}

const TINY: &str = r#"
format_version = 1
name = "tiny"
mode = "etl"
[[databases]]
name = "app"
setup = [
  "CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT)",
  "INSERT INTO orders VALUES (1, 'pending'), (2, 'pending')",
]
[[services]]
name = "dashboard"
database = "app"
role = "analytics"
[[services.operations]]
name = "count"
rate_per_s = 1
statements = ["SELECT status, COUNT(*) FROM orders GROUP BY status"]
[etl]
interval = "1s"
incremental = { orders = "id" }
"#;

#[test]
fn an_incremental_copy_takes_new_rows_and_misses_updates_to_old_ones() {
    let scenario = Scenario::parse(TINY).expect("valid");
    let mut world = World::with_seed(&scenario, 1).expect("builds");
    world
        .apply(Command::RunSql {
            database: "app".into(),
            sql: "UPDATE orders SET status = 'paid' WHERE id = 1; INSERT INTO orders VALUES (3, 'pending')".into(),
        })
        .expect("runs");
    world.step_until(3 * SECOND);
    let copy = rows(&mut world, "analytics", "orders");
    let texts: Vec<Vec<String>> = copy
        .1
        .iter()
        .map(|r| r.iter().map(|c| c.text.clone()).collect())
        .collect();
    assert_eq!(
        texts,
        [["1", "pending"], ["2", "pending"], ["3", "pending"]],
        "row 3 arrived; row 1's update did not"
    );
    let report = world.report();
    let etl = report.etl.expect("a report");
    assert_eq!(etl.tables["orders"].copy, "incremental by id");
    assert!(etl.runs >= 2);
    assert_eq!(
        etl.tables["orders"].rows_copied, 1,
        "only the new row was copied"
    );
}

#[test]
fn scenarios_that_cannot_run_in_etl_mode_say_why() {
    let no_analytics = TINY.replace("role = \"analytics\"\n", "");
    let error = World::new(&Scenario::parse(&no_analytics).expect("valid")).expect_err("refused");
    assert!(
        error.to_string().contains("role = \"analytics\""),
        "{error}"
    );

    let writes = TINY.replace(
        "SELECT status, COUNT(*) FROM orders GROUP BY status",
        "UPDATE orders SET status = 'seen' WHERE id = 1",
    );
    let error = World::new(&Scenario::parse(&writes).expect("valid")).expect_err("refused");
    assert!(
        error
            .to_string()
            .contains("dashboard.count writes table \"orders\""),
        "{error}"
    );

    let unknown = TINY.replace("orders = \"id\"", "invoices = \"id\"");
    let error = World::new(&Scenario::parse(&unknown).expect("valid")).expect_err("refused");
    assert!(
        error.to_string().contains("etl.incremental.invoices"),
        "{error}"
    );

    let no_column = TINY.replace("orders = \"id\"", "orders = \"updated_at\"");
    let error = World::new(&Scenario::parse(&no_column).expect("valid")).expect_err("refused");
    assert_eq!(error.path, "etl.incremental.orders");
    assert!(
        error.to_string().contains("not a column of orders"),
        "{error}"
    );

    let taken = TINY.replace("interval = \"1s\"", "interval = \"1s\"\ndatabase = \"app\"");
    let error = World::new(&Scenario::parse(&taken).expect("valid")).expect_err("refused");
    assert!(error.to_string().contains("etl.database"), "{error}");

    let shop = shop(Mode::Shared);
    assert_eq!(
        shop.modes(),
        [
            Mode::Shared,
            Mode::Owned,
            Mode::Etl,
            Mode::Cdc,
            Mode::Events
        ]
    );
}

/// A run whose load fails (the analytics copy's column was renamed) copies nothing: its rows
/// are not counted, the copy keeps its old rows, the panel shows the error and the topology's
/// flow turns red.
#[test]
fn a_failed_load_counts_nothing_and_shows_its_error() {
    let scenario = Scenario::parse(TINY).expect("valid");
    let mut world = World::with_seed(&scenario, 1).expect("builds");
    world
        .apply(Command::RunSql {
            database: "analytics".into(),
            sql: "ALTER TABLE orders RENAME COLUMN status TO state".into(),
        })
        .expect("runs");
    world
        .apply(Command::RunSql {
            database: "app".into(),
            sql: "INSERT INTO orders VALUES (3, 'pending')".into(),
        })
        .expect("runs");
    world.step_until(3 * SECOND);
    let report = world.report();
    let etl = report.etl.as_ref().expect("a report");
    assert_eq!(etl.runs, 0, "{etl:?}");
    assert!(etl.failed_runs >= 2, "{etl:?}");
    assert_eq!(etl.rows_copied, 0, "a failed run copies nothing");
    assert_eq!(etl.tables["orders"].rows_copied, 0);
    assert_eq!(
        rows(&mut world, "analytics", "orders").1.len(),
        2,
        "the old copy stays"
    );
    let snapshot = world.etl_snapshot().expect("a job");
    assert!(snapshot.last_error.is_some());
    let view = dataflow_lab::sim::view::page_view(&world);
    assert!(view
        .flows
        .iter()
        .all(|f| f.health == dataflow_lab::sim::view::Health::Erroring));
}
