//! The invariant checker: after faults (a connector crash that re-sends events, a consumer
//! crash, a paused consumer) the cdc shop drains until quiet and every read model — copies and
//! projections — equals its source, with the duplicates counted; a planted loss, a planted
//! stale row and a planted extra row are each caught and named. Natively only (a browser test
//! blocks the page while it runs).

#![cfg(not(target_arch = "wasm32"))]

use dataflow_lab::sim::builtin;
use dataflow_lab::sim::clock::SECOND;
use dataflow_lab::sim::modes::Mode;
use dataflow_lab::sim::scenario::Scenario;
use dataflow_lab::sim::world::{Command, World};

fn cdc_shop() -> World {
    let mut scenario =
        Scenario::parse(builtin::scenario_text("shop").expect("built in")).expect("valid");
    scenario.mode = Mode::Cdc;
    World::new(&scenario).expect("builds")
}

fn apply(world: &mut World, command: Command) {
    world.apply(command).expect("applies");
}

/// A run with three faults, drained: quiet, equal, duplicates seen.
fn faulted_and_drained() -> World {
    let mut world = cdc_shop();
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
    apply(
        &mut world,
        Command::PauseConsumer {
            group: "billing".into(),
        },
    );
    world.step_until(14 * SECOND);
    assert!(!world.is_quiet(), "a busy, faulted system is not quiet");
    // `drain` resumes the crashed and paused consumers itself.
    assert!(
        world.drain(120 * SECOND),
        "the shop drains within two minutes"
    );
    world
}

#[test]
fn after_faults_every_read_model_equals_its_source() {
    let world = faulted_and_drained();
    let report = world.check_invariants();
    assert!(report.quiet);
    assert!(
        report.read_models.len() >= 3,
        "billing's and reporting's read models: {:?}",
        report
            .read_models
            .iter()
            .map(|m| (&m.database, &m.table))
            .collect::<Vec<_>>()
    );
    for model in &report.read_models {
        assert!(
            model.divergence.is_equal(),
            "{}.{} differs from {}: {:?}",
            model.database,
            model.table,
            model.source,
            model.divergence
        );
        assert!(
            model.divergence.rows > 0,
            "{}.{} has rows",
            model.database,
            model.table
        );
    }
    assert!(report.holds());
    assert!(
        report.duplicates_delivered > 0,
        "the crashed connector re-sent events that consumers had applied"
    );
}

#[test]
fn a_planted_loss_a_stale_row_and_an_extra_row_are_caught_and_named() {
    let mut world = faulted_and_drained();
    let billing = world.database_mut("billing").expect("billing's database");
    billing
        .execute("DELETE FROM orders WHERE id = 3")
        .expect("plants a lost create");
    billing
        .execute("UPDATE orders SET status = 'stale' WHERE id = 5")
        .expect("plants a lost update");
    billing
        .execute("INSERT INTO orders VALUES (999999, 1, 'ghost', 1, '2026-01-01 00:00:00')")
        .expect("plants a change that never committed at the source");
    let report = world.check_invariants();
    assert!(!report.holds());
    let orders = report
        .read_models
        .iter()
        .find(|m| m.database == "billing" && m.table == "orders")
        .expect("billing.orders checked");
    let d = &orders.divergence;
    assert_eq!((d.missing, d.differing, d.extra), (1, 1, 1), "{d:?}");
    let keys: Vec<&str> = d.shown.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["id=3", "id=5", "id=999999"]);
    assert!(d.shown[1]
        .read_model
        .as_deref()
        .is_some_and(|r| r.contains("'stale'")));
    assert_eq!(report.rows_off(), 3);
    let others_equal = report
        .read_models
        .iter()
        .filter(|m| !(m.database == "billing" && m.table == "orders"))
        .all(|m| m.divergence.is_equal());
    assert!(others_equal, "only the planted read model differs");
}

/// `soak` on the command line: a few seeds of the cdc shop under faults, every run equal (exit
/// 0), the faults and duplicates counted; a bad seed range is exit 2.
#[test]
fn the_soak_command_reports_per_mode() {
    let soak = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_dataflow-lab"))
            .arg("soak")
            .args(args)
            .output()
            .expect("runs")
    };
    let output = soak(&["shop", "--seeds", "1..2", "--until", "8s"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("cdc: 2 runs"), "{stdout}");
    assert!(stdout.contains("diverged: 0 runs"), "{stdout}");
    let bad = soak(&["shop", "--seeds", "5..1"]);
    assert_eq!(bad.status.code(), Some(2));
    let dual = soak(&[
        "shop",
        "--seeds",
        "1..1",
        "--until",
        "4s",
        "--mode",
        "cdc:dual_write",
    ]);
    let stdout = String::from_utf8_lossy(&dual.stdout);
    assert!(stdout.contains("cdc:dual_write: 1 runs"), "{stdout}");
    assert!(matches!(dual.status.code(), Some(0 | 1)), "{stdout}");
    let no_pipeline = soak(&["shop", "--seeds", "1..1", "--mode", "shared"]);
    assert_eq!(
        no_pipeline.status.code(),
        Some(2),
        "shared has no read models to check"
    );
    assert!(String::from_utf8_lossy(&no_pipeline.stderr).contains("try cdc"));
}

/// Ten rows updated 300 times a second by a writer whose changes reach a reader's read model by
/// `capture`: a dual write or the log.
fn hot_rows(capture: &str) -> Scenario {
    Scenario::parse(&format!(
        r#"
format_version = 1
name = "hot-rows"
mode = "cdc"
[cdc]
capture = "{capture}"
[[databases]]
name = "db"
setup = ["CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)",
         "INSERT INTO t VALUES (1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0), (7, 0), (8, 0), (9, 0), (10, 0)"]
[[services]]
name = "writer"
database = "db"
owns = ["t"]
pool_size = 8
[[services.operations]]
name = "set"
rate_per_s = 300
statements = ["UPDATE t SET v = {{v}} WHERE id = {{id}}"]
params.id = {{ uniform = [1, 10] }}
params.v = {{ uniform = [1, 1000000] }}
[[services]]
name = "reader"
database = "db"
[[services.operations]]
name = "read"
rate_per_s = 1
statements = ["SELECT v FROM t WHERE id = 1"]
"#
    ))
    .expect("valid")
}

/// Without a single fault, a dual write leaves the read model wrong for good in some runs:
/// close commits published in the other order, and no log position to put them back. The log
/// never does, over the same seeds.
#[test]
fn a_dual_write_diverges_by_publish_order_alone_and_the_log_does_not() {
    let mut diverged = Vec::new();
    for seed in 1..=5 {
        for capture in ["dual_write", "log"] {
            let mut world = World::with_seed(&hot_rows(capture), seed).expect("builds");
            world.step_until(5 * SECOND);
            assert!(world.drain(60 * SECOND), "{capture} seed {seed} drains");
            let report = world.check_invariants();
            if !report.holds() {
                assert_eq!(
                    capture, "dual_write",
                    "the log diverged, seed {seed}: {report:?}"
                );
                let model = &report.read_models[0];
                assert!(model.divergence.differing > 0, "{:?}", model.divergence);
                assert!(model
                    .divergence
                    .shown
                    .iter()
                    .all(|r| r.key.starts_with("id=")));
                diverged.push(seed);
            }
        }
    }
    assert!(
        !diverged.is_empty(),
        "no dual-write run diverged in 5 seeds"
    );
}

/// Under the soak's faults, a dual write's crashes between commit and publish lose changes
/// that no restart brings back; the same seeds through the log end equal.
#[test]
fn crashes_between_commit_and_publish_lose_changes_for_good() {
    let mut scenario =
        Scenario::parse(builtin::scenario_text("shop").expect("built in")).expect("valid");
    scenario.faults = Some(dataflow_lab::sim::faults::FaultSpec {
        kinds: vec![dataflow_lab::sim::faults::FaultKind::ConnectorCrash],
        every: dataflow_lab::sim::clock::SimDuration(2 * SECOND),
        ..Default::default()
    });
    // No publish jitter: whatever a dual write loses here, its crashes lost.
    scenario.cdc.publish_jitter = dataflow_lab::sim::clock::SimDuration(0);
    let mut lost = 0;
    for seed in 1..=3 {
        scenario.cdc.capture = dataflow_lab::sim::capture::CaptureMethod::DualWrite;
        let dual = dataflow_lab::sim::soak::soak_run(&scenario, Mode::Cdc, seed, 10 * SECOND)
            .expect("runs");
        scenario.cdc.capture = dataflow_lab::sim::capture::CaptureMethod::Log;
        let log = dataflow_lab::sim::soak::soak_run(&scenario, Mode::Cdc, seed, 10 * SECOND)
            .expect("runs");
        assert!(log.quiet && log.holds, "log, seed {seed}: {log:?}");
        assert!(dual.quiet, "dual write, seed {seed}: {dual:?}");
        lost += dual.rows_off;
    }
    assert!(lost > 0, "three seeds of crashes lost nothing");
}
