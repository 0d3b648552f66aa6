//! The console inside the simulation: a student's `BEGIN; UPDATE …` holds its row locks across
//! commands, so a service waits for them until `COMMIT`; a failing statement does not stop the
//! ones after it; the session never waits for its own locks. Runs natively and in headless
//! Chromium.

use dataflow_lab::sim::clock::SECOND;
use dataflow_lab::sim::database::TransactionState;
use dataflow_lab::sim::scenario::Scenario;
use dataflow_lab::sim::view::{page_view, Health};
use dataflow_lab::sim::world::{Command, ConsoleStatus, World};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

fn world() -> World {
    let scenario = Scenario::parse(
        r#"
format_version = 1
name = "console"
[[databases]]
name = "db"
setup = ["CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)",
         "INSERT INTO t VALUES (1, 0), (2, 0), (3, 0), (4, 0)"]
[[services]]
name = "writer"
database = "db"
[[services.operations]]
name = "bump"
rate_per_s = 50
statements = ["UPDATE t SET v = v + 1 WHERE id = {id}"]
params.id = { existing_key = "t.id" }
"#,
    )
    .expect("valid");
    World::new(&scenario).expect("builds")
}

fn console(world: &mut World, sql: &str) {
    world
        .apply(Command::Console {
            database: "db".into(),
            sql: sql.into(),
        })
        .expect("the console takes it");
}

fn writer_waits(world: &World) -> usize {
    world
        .snapshot()
        .services
        .iter()
        .find(|s| s.name == "writer")
        .map_or(0, |s| s.lock_waits)
}

#[test]
fn a_console_transaction_holds_its_locks_until_commit() {
    let mut world = world();
    world.step_until(SECOND);
    console(&mut world, "BEGIN; UPDATE t SET v = 100 WHERE v >= 0");
    world.step_until(2 * SECOND);
    assert_eq!(world.console_state("db"), Some(TransactionState::Open));
    assert!(
        writer_waits(&world) > 0,
        "the writer waits for the console's row locks"
    );
    let locks = world.locks("db");
    assert_eq!(
        locks.root_blockers.first().map(|(who, _)| who.as_str()),
        Some("console")
    );
    assert!(locks.waiting.iter().all(|w| w.who.starts_with("writer")));
    let view = page_view(&world);
    let health = |name: &str| {
        view.services
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.health)
    };
    assert_eq!(health("(console) db"), Some(Health::Blocking));
    assert_eq!(health("writer"), Some(Health::Waiting));
    let done_before = world.report().services["writer"].total.operations;

    console(&mut world, "COMMIT");
    world.step_until(3 * SECOND);
    assert_eq!(world.console_state("db"), Some(TransactionState::Idle));
    assert_eq!(writer_waits(&world), 0);
    assert!(world.locks("db").waiting.is_empty());
    assert!(world.report().services["writer"].total.operations > done_before);
    let outcomes: Vec<String> = world
        .console_entries()
        .map(|e| match &e.status {
            ConsoleStatus::Done(Ok(result)) => result.summary(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    assert!(outcomes[1].contains("4 rows"), "{outcomes:?}");
}

#[test]
fn a_failing_console_statement_does_not_stop_the_next() {
    let mut world = world();
    console(&mut world, "SELECT nope FROM t; SELECT COUNT(*) FROM t");
    world.step_until(SECOND);
    let entries: Vec<_> = world.console_entries().collect();
    assert!(matches!(&entries[0].status, ConsoleStatus::Done(Err(m)) if m.contains("nope")));
    assert!(matches!(&entries[1].status, ConsoleStatus::Done(Ok(_))));
}

#[test]
fn a_console_session_never_waits_for_its_own_locks() {
    let mut world = world();
    console(&mut world, "BEGIN; UPDATE t SET v = 7 WHERE id = 1");
    world.step_until(SECOND / 2);
    console(&mut world, "UPDATE t SET v = 8 WHERE id = 1");
    world.step_until(SECOND);
    let last = world.console_entries().last().expect("an entry");
    assert!(
        matches!(last.status, ConsoleStatus::Done(Ok(_))),
        "{:?}",
        last.status
    );
    console(&mut world, "ROLLBACK");
    world.step_until(2 * SECOND);
    assert_eq!(world.console_state("db"), Some(TransactionState::Idle));
}

/// A database with a scripted session `T1` (stepped by hand) and the console, both on row 1.
fn scripted(steps: &str) -> World {
    let scenario = Scenario::parse(&format!(
        r#"
format_version = 1
name = "console and script"
[[databases]]
name = "db"
# READ COMMITTED: a write that waited re-reads the row (REPEATABLE READ would refuse it, 40001).
isolation = "read_committed"
setup = ["CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)", "INSERT INTO t VALUES (1, 0)"]
[script]
database = "db"
steps = [{steps}]
"#
    ))
    .expect("valid");
    let mut world = World::new(&scenario).expect("builds");
    world.set_script_manual(true);
    world
}

fn script_step(world: &mut World) {
    world.apply(Command::ScriptStep).expect("a script");
    world.step_until(world.now() + SECOND / 10);
}

fn last_console_status(world: &World) -> ConsoleStatus {
    world
        .console_entries()
        .last()
        .map(|e| e.status.clone())
        .expect("a console entry")
}

/// The lost wake-up, console side: a console statement waiting for a scripted session is woken
/// when that session commits (the script runner used to drop wake-ups for owners it did not
/// know, leaving the console waiting until its hour-long deadline).
#[test]
fn a_console_statement_waiting_for_a_scripted_session_wakes_at_its_commit() {
    let mut world = scripted(
        r#"{ session = "T1", sql = "BEGIN" },
           { session = "T1", sql = "UPDATE t SET v = 1 WHERE id = 1" },
           { session = "T1", sql = "COMMIT" }"#,
    );
    script_step(&mut world);
    script_step(&mut world);
    console(&mut world, "UPDATE t SET v = v + 10 WHERE id = 1");
    world.step_until(world.now() + SECOND);
    assert!(
        matches!(last_console_status(&world), ConsoleStatus::WaitingForLock(ref who) if who.iter().any(|w| w == "T1")),
        "the console waits for T1: {:?}",
        last_console_status(&world)
    );
    script_step(&mut world);
    assert!(
        matches!(last_console_status(&world), ConsoleStatus::Done(Ok(_))),
        "T1's commit wakes the console: {:?}",
        last_console_status(&world)
    );
    let rows = world
        .database_mut("db")
        .expect("db")
        .execute("SELECT v FROM t WHERE id = 1")
        .expect("reads");
    assert!(format!("{:?}", rows.outcome).contains("11"), "{rows:?}");
}

/// The lost wake-up, script side: a scripted step waiting for the console's transaction goes on
/// when the console commits (the world used to drop wake-ups for owners that were not its
/// operations).
#[test]
fn a_scripted_step_waiting_for_the_console_wakes_at_its_commit() {
    let mut world = scripted(
        r#"{ session = "T1", sql = "UPDATE t SET v = v + 10 WHERE id = 1" },
           { session = "T1", sql = "SELECT v FROM t WHERE id = 1" }"#,
    );
    console(&mut world, "BEGIN; UPDATE t SET v = 1 WHERE id = 1");
    world.step_until(world.now() + SECOND);
    script_step(&mut world);
    let blocked = world.script_report().expect("a script").steps[0].clone();
    assert!(blocked.blocked, "T1 waits for the console: {blocked:?}");
    assert_eq!(blocked.outcome, "pending");
    assert!(
        blocked
            .waiting_for
            .as_deref()
            .is_some_and(|w| w.ends_with("held by console")),
        "the step names the console it waits for: {blocked:?}"
    );
    console(&mut world, "COMMIT");
    world.step_until(world.now() + SECOND);
    let report = world.script_report().expect("a script");
    assert_eq!(
        report.steps[0].outcome, "ok",
        "the console's commit wakes T1: {:?}",
        report.steps[0]
    );
    script_step(&mut world);
    let report = world.script_report().expect("a script");
    assert_eq!(
        report.steps[1].rows,
        Some(vec![vec![serde_json::json!(11)]]),
        "{:?}",
        report.steps[1]
    );
}
