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
    let mut world = faulted_and_drained();
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
}
