//! The schema-change preview tells the truth: on every built-in scenario, renaming a column
//! breaks exactly the operations the preview named, and no other — the course text's *"a schema
//! change in one table can break multiple services"*, checked against GlueSQL running the change.

use dataflow_lab::sim::builtin::SCENARIOS;
use dataflow_lab::sim::modes::Mode;
use dataflow_lab::sim::scenario::Scenario;
use dataflow_lab::sim::world::{Command, World};
use std::collections::{BTreeMap, BTreeSet};

const SECOND: u64 = 1_000_000;

/// Each operation's completed operations and schema errors so far, by (service, operation).
fn tallies(world: &World) -> BTreeMap<(String, String), (u64, u64)> {
    let report = world.report();
    let mut out = BTreeMap::new();
    for (service, s) in &report.services {
        for (operation, w) in &s.by_operation {
            let schema = w.errors_by_kind.get("schema").copied().unwrap_or(0);
            out.insert((service.clone(), operation.clone()), (w.operations, schema));
        }
    }
    out
}

struct Seen {
    cases: usize,
    broke_as_named: usize,
    ran_as_named: usize,
}

/// Renames `table.column` at 1 s and compares what fails between 2 s and 5 s with the preview.
fn rename_and_compare(
    scenario: &Scenario,
    database: &str,
    table: &str,
    column: &str,
    seen: &mut Seen,
) {
    let name = &scenario.name;
    let mut world = World::new(scenario).unwrap_or_else(|e| panic!("{name}: {e}"));
    world.step_until(SECOND);
    let sql = format!("ALTER TABLE {table} RENAME COLUMN {column} TO {column}_renamed");
    let preview = world
        .preview_schema_change(database, &sql)
        .unwrap_or_else(|e| panic!("{name}: {sql}: {e}"));
    let named: BTreeSet<(String, String)> = preview
        .preview
        .breaks
        .iter()
        .map(|a| (a.service.clone(), a.operation.clone()))
        .collect();
    world
        .apply(Command::RunSql {
            database: database.to_owned(),
            sql: sql.clone(),
        })
        .unwrap_or_else(|e| panic!("{name}: {sql}: {e}"));
    // The ALTER may wait for a long report; the tally starts once it has surely run.
    world.step_until(2 * SECOND);
    let before = tallies(&world);
    world.step_until(5 * SECOND);
    let after = tallies(&world);
    seen.cases += 1;
    for (key, (ops, schema_errors)) in &after {
        let (ops_before, errors_before) = before.get(key).copied().unwrap_or((0, 0));
        let failed = schema_errors - errors_before;
        let succeeded = ops - ops_before;
        if failed + succeeded == 0 {
            continue; // it did not run in the window: nothing to compare.
        }
        let (service, operation) = key;
        if named.contains(key) {
            assert!(
                succeeded == 0 && failed > 0,
                "{name}: `{sql}`: the preview named {service}.{operation}, but it completed {succeeded} and failed {failed} times"
            );
            seen.broke_as_named += 1;
        } else {
            assert_eq!(
                failed, 0,
                "{name}: `{sql}`: {service}.{operation} failed {failed} times on the schema, and the preview did not name it"
            );
            seen.ran_as_named += 1;
        }
    }
}

#[test]
fn renaming_a_column_breaks_exactly_what_the_preview_names_in_every_builtin() {
    let mut seen = Seen {
        cases: 0,
        broke_as_named: 0,
        ran_as_named: 0,
    };
    for (name, text) in SCENARIOS {
        let mut scenario = Scenario::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        if scenario.services.is_empty() || scenario.script.is_some() {
            continue;
        }
        scenario.mode = Mode::Shared;
        let world = World::new(&scenario).unwrap_or_else(|e| panic!("{name}: {e}"));
        let map = world.coupling_map();
        for (database, tables) in &map.databases {
            for (table, columns) in tables {
                // Every column some operation names, and one that none does.
                let named: Vec<&String> = columns
                    .iter()
                    .filter(|c| {
                        map.operations
                            .iter()
                            .any(|o| o.access.names(&(table.clone(), (*c).clone())))
                    })
                    .collect();
                let unnamed = columns.iter().find(|c| !named.contains(c));
                for column in named.into_iter().chain(unnamed) {
                    rename_and_compare(&scenario, database, table, column, &mut seen);
                }
            }
        }
    }
    eprintln!(
        "{} renames; {} operations broke as the preview said, {} ran on as it said",
        seen.cases, seen.broke_as_named, seen.ran_as_named
    );
    // Not vacuous: many renames, many operations seen breaking as named and running on.
    assert!(seen.cases >= 30, "{} renames tried", seen.cases);
    assert!(
        seen.broke_as_named >= 20,
        "{} operations broke as named",
        seen.broke_as_named
    );
    assert!(
        seen.ran_as_named >= 50,
        "{} operations ran on unnamed",
        seen.ran_as_named
    );
}
