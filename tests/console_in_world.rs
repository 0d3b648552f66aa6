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
