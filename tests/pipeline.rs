//! The CDC pipeline of the shop under faults, through the world's commands: a paused consumer's
//! lag grows by exactly what was produced meanwhile and drains when it resumes; a crashed
//! connector re-sends what followed its last flushed offset and the read models still end equal
//! to their sources (duplicates counted, applied once); a crashed consumer rejoins its group;
//! rebuilding read models from offset 0 of compacted topics gives the source's tables again.
//! Natively only (a browser test blocks the page while it runs; `tests/modes.rs` checks the
//! cdc trace in the browser).

#![cfg(not(target_arch = "wasm32"))]

use dataflow_lab::sim::builtin;
use dataflow_lab::sim::clock::SECOND;
use dataflow_lab::sim::modes::Mode;
use dataflow_lab::sim::scenario::Scenario;
use dataflow_lab::sim::world::{Command, World};

fn cdc_shop() -> (Scenario, World) {
    let mut scenario =
        Scenario::parse(builtin::scenario_text("shop").expect("built in")).expect("valid");
    scenario.mode = Mode::Cdc;
    let world = World::new(&scenario).expect("builds");
    (scenario, world)
}

fn apply(world: &mut World, command: Command) {
    world.apply(command).expect("applies");
}

fn stop_all_arrivals(scenario: &Scenario, world: &mut World) {
    for service in &scenario.services {
        for operation in &service.operations {
            apply(
                world,
                Command::StopOperation {
                    service: service.name.clone(),
                    operation: operation.name.clone(),
                },
            );
        }
    }
}

fn assert_read_models_equal_sources(world: &mut World) {
    let mut rows = |database: &str, table: &str| {
        world
            .database_mut(database)
            .expect("a database")
            .committed_rows(table)
            .expect("a table")
    };
    let orders = rows("orders", "orders");
    let customers = rows("orders", "customers");
    assert_eq!(rows("billing", "orders"), orders, "billing's orders");
    assert_eq!(rows("reporting", "orders"), orders, "reporting's orders");
    assert_eq!(
        rows("reporting", "customers"),
        customers,
        "reporting's customers"
    );
}

/// Lag in messages and the sum of high watermarks of billing's topic, now.
fn billing_lag(world: &World) -> (u64, u64) {
    let report = world.report();
    let high: u64 = report.topics["shop.public.orders"]
        .high_watermarks
        .iter()
        .sum();
    (report.consumer_groups["billing"].lag_messages, high)
}

#[test]
fn a_paused_consumers_lag_grows_by_what_was_produced_and_drains_on_resume() {
    let (scenario, mut world) = cdc_shop();
    world.step_until(3 * SECOND);
    apply(
        &mut world,
        Command::PauseConsumer {
            group: "billing".into(),
        },
    );
    world.step_until(3 * SECOND + SECOND / 2);
    let (lag_before, high_before) = billing_lag(&world);
    world.step_until(8 * SECOND);
    let (lag_after, high_after) = billing_lag(&world);
    assert!(high_after > high_before + 50, "orders kept coming");
    assert_eq!(
        lag_after - lag_before,
        high_after - high_before,
        "the lag grew by exactly the messages produced while paused"
    );
    // The lag is sampled while it is paused too: the chart and the p95 see the outage.
    let view = dataflow_lab::sim::view::page_view(&world);
    let billing = view
        .pipeline
        .as_ref()
        .and_then(|p| p.groups.iter().find(|g| g.name == "billing"))
        .expect("billing's group");
    let last = billing.lag_history.last().expect("samples");
    assert!(last.0 + SECOND > 8 * SECOND && last.1 > 50, "{last:?}");
    assert!(world.report().consumer_groups["billing"].lag_messages_p95 > 20);
    stop_all_arrivals(&scenario, &mut world);
    apply(
        &mut world,
        Command::ResumeConsumer {
            group: "billing".into(),
        },
    );
    world.step_until(12 * SECOND);
    assert_eq!(billing_lag(&world).0, 0, "drained");
    assert_read_models_equal_sources(&mut world);
}

#[test]
fn a_connector_crash_resends_after_the_last_flush_and_read_models_still_match() {
    let (scenario, mut world) = cdc_shop();
    world.step_until(15 * SECOND);
    apply(
        &mut world,
        Command::CrashConnector {
            connector: "orders-connector".into(),
        },
    );
    world.step_until(18 * SECOND);
    let stalled = world.report();
    assert_eq!(stalled.connectors["orders-connector"].state, "crashed");
    let view = dataflow_lab::sim::view::page_view(&world);
    let billing = view
        .pipeline
        .as_ref()
        .and_then(|p| p.groups.iter().find(|g| g.name == "billing"))
        .expect("billing's group");
    assert_eq!(billing.lag_messages, 0, "nothing new reaches the topics");
    assert!(
        billing.behind_source.0 > 50 && billing.behind_source.1 > SECOND,
        "but its read model falls behind the source: {:?}",
        billing.behind_source
    );
    assert!(
        stalled.connectors["orders-connector"].lag_records > 50,
        "the source's log grows behind the crashed connector"
    );
    apply(
        &mut world,
        Command::StartConnector {
            connector: "orders-connector".into(),
        },
    );
    stop_all_arrivals(&scenario, &mut world);
    world.step_until(25 * SECOND);
    let report = world.report();
    let connector = &report.connectors["orders-connector"];
    assert_eq!(connector.state, "streaming");
    assert!(connector.resent_events > 0, "{connector:?}");
    let duplicates: u64 = report.consumer_groups.values().map(|g| g.duplicates).sum();
    assert!(duplicates > 0, "the re-sent events reached the consumers");
    // Each group reads the orders topic: every re-sent orders event is a duplicate there.
    assert!(
        report.consumer_groups["billing"].duplicates <= connector.resent_events,
        "at most what was re-sent"
    );
    assert_eq!(connector.lag_records, 0);
    assert_read_models_equal_sources(&mut world);
}

#[test]
fn a_crashed_consumer_rejoins_with_a_rebalance_and_catches_up() {
    let (scenario, mut world) = cdc_shop();
    world.step_until(2 * SECOND);
    apply(
        &mut world,
        Command::CrashConsumer {
            group: "reporting".into(),
        },
    );
    world.step_until(4 * SECOND);
    apply(
        &mut world,
        Command::ResumeConsumer {
            group: "reporting".into(),
        },
    );
    stop_all_arrivals(&scenario, &mut world);
    world.step_until(12 * SECOND);
    let report = world.report();
    assert!(
        report.consumer_groups["reporting"].rebalances >= 3,
        "joined, left, joined"
    );
    assert_eq!(report.consumer_groups["reporting"].lag_messages, 0);
    assert_read_models_equal_sources(&mut world);
}

#[test]
fn rebuilding_from_offset_zero_of_compacted_topics_gives_the_source_again() {
    let (scenario, mut world) = cdc_shop();
    world.step_until(31 * SECOND);
    let compacted = world.report().topics["shop.public.orders"].compacted;
    assert!(compacted > 0, "the cleaner compacted the orders topic");
    for group in ["billing", "reporting"] {
        apply(
            &mut world,
            Command::RebuildReadModels {
                group: group.into(),
            },
        );
    }
    stop_all_arrivals(&scenario, &mut world);
    world.step_until(60 * SECOND);
    let report = world.report();
    assert!(
        report.consumer_groups["billing"].applied > 20_000,
        "the whole topic replayed"
    );
    assert_read_models_equal_sources(&mut world);
}

#[test]
fn pipeline_commands_name_what_does_not_exist() {
    let (_, mut world) = cdc_shop();
    let error = world
        .apply(Command::CrashConnector {
            connector: "nope".into(),
        })
        .expect_err("refused");
    assert!(error.to_string().contains("no connector called \"nope\""));
    let mut shared =
        Scenario::parse(builtin::scenario_text("shop").expect("built in")).expect("valid");
    shared.mode = Mode::Shared;
    let mut world = World::new(&shared).expect("builds");
    let error = world
        .apply(Command::PauseConsumer {
            group: "billing".into(),
        })
        .expect_err("refused");
    assert!(error.to_string().contains("no CDC pipeline"), "{error}");
}

#[test]
fn a_column_renamed_at_the_source_breaks_the_consumers_not_the_readers() {
    let (_, mut world) = cdc_shop();
    world.step_until(2 * SECOND);
    // The page's preset names the scenario's shared database: in cdc it runs where orders lives.
    world
        .apply(Command::RunSql {
            database: "shop".into(),
            sql: "ALTER TABLE orders RENAME COLUMN status TO state".into(),
        })
        .expect("runs on the owner's database");
    world.step_until(8 * SECOND);
    let report = world.report();
    let billing = &report.consumer_groups["billing"];
    assert!(
        billing.failed_batches > 0,
        "events now carry `state`, which billing's read model does not have: {billing:?}"
    );
    assert!(billing.lag_messages > 10, "its lag grows: {billing:?}");
    // billing's own queries read its read model, which still has `status`: they go on.
    let own_errors = report.services["billing"]
        .total
        .errors_by_kind
        .get("schema")
        .copied();
    assert_eq!(own_errors, None, "billing's queries are not broken");
    let owner_errors = report.services["orders"]
        .total
        .errors_by_kind
        .get("schema")
        .copied();
    assert!(
        owner_errors.unwrap_or(0) > 0,
        "the owner's own update_status breaks"
    );
}

#[test]
fn cdc_basics_stops_and_starts_its_connector_without_losing_anything() {
    let scenario =
        Scenario::parse(builtin::scenario_text("cdc-basics").expect("built in")).expect("valid");
    assert_eq!(scenario.mode, Mode::Cdc);
    let mut world = World::new(&scenario).expect("builds");
    world.step_until(29 * SECOND);
    let stopped = world.report();
    let connector = &stopped.connectors["orders-connector"];
    assert_eq!(connector.state, "stopped");
    assert!(
        connector.retained_records > 20,
        "the slot keeps the log: {connector:?}"
    );
    assert!(
        stopped.consumer_groups["analytics"].lag_messages == 0,
        "nothing new reached the topics"
    );
    world.step_until(60 * SECOND);
    let report = world.report();
    assert!(
        report
            .timeline
            .iter()
            .all(|a| !a.result.starts_with("error")),
        "{:?}",
        report.timeline
    );
    assert_eq!(report.connectors["orders-connector"].state, "streaming");
    assert!(
        report.consumer_groups["billing"].rebalances >= 3,
        "the crashed consumer rejoined"
    );
    let rows = |world: &mut World, db: &str| {
        world
            .database_mut(db)
            .expect("a database")
            .committed_rows("orders")
            .expect("orders")
    };
    let source = rows(&mut world, "orders");
    // The last second's changes may still be on their way; everything before them arrived.
    let billing = rows(&mut world, "billing");
    assert!(
        billing.1.len() + 10 >= source.1.len(),
        "{} of {}",
        billing.1.len(),
        source.1.len()
    );
    assert_eq!(report.services["analytics"].total.errors, 0);
    // analytics keeps its report's query as a projection: once the orders stop, it is the
    // query's result on the orders database.
    stop_all_arrivals(&scenario, &mut world);
    world.step_until(64 * SECOND);
    let sql = &scenario.services[2].projections["revenue_by_status"];
    assert_projection_equals_query(&mut world, "analytics", "revenue_by_status", "orders", sql);
}

/// The service that owns the table `sql` reads.
fn owner_of_query(scenario: &Scenario, sql: &str) -> String {
    let query = dataflow_lab::sim::projection::ProjectionQuery::parse(sql).expect("a projection");
    scenario
        .services
        .iter()
        .find(|s| s.owns.contains(&query.source))
        .map(|s| s.name.clone())
        .expect("an owner")
}

/// Rows of `sql` on `database`, as text, sorted (a projection's rows have no order).
fn sorted_rows(world: &mut World, database: &str, sql: &str) -> Vec<Vec<String>> {
    let result = world
        .database_mut(database)
        .expect("a database")
        .execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let dataflow_lab::sim::database::Outcome::Rows { rows, .. } = result.outcome else {
        panic!("{sql} returned no rows");
    };
    let mut rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| r.into_iter().map(|c| c.text).collect())
        .collect();
    rows.sort();
    rows
}

/// The projection `name` in `database` holds what its query gives on the owner's table.
fn assert_projection_equals_query(
    world: &mut World,
    database: &str,
    name: &str,
    owner: &str,
    sql: &str,
) {
    let query = dataflow_lab::sim::projection::ProjectionQuery::parse(sql).expect("a projection");
    let expected = sorted_rows(world, owner, sql);
    let kept = sorted_rows(world, database, &query.read_sql(name));
    assert!(!expected.is_empty(), "{sql} gives rows");
    assert_eq!(kept, expected, "{database}.{name} = {sql} on {owner}");
}

/// A small cdc scenario whose writer deletes and inserts, with a cleaner every second.
fn churn(extra: &str) -> Scenario {
    churn_text(extra).expect("valid")
}

fn churn_text(extra: &str) -> Result<Scenario, dataflow_lab::sim::scenario::ScenarioError> {
    Scenario::parse(&format!(
        r#"
format_version = 1
name = "churn"
mode = "cdc"
[cdc]
cleaner_interval = "1s"
{extra}
[[databases]]
name = "db"
setup = ["CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)",
         "INSERT INTO t VALUES (1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0), (7, 0), (8, 0), (9, 0), (10, 0)"]
[[services]]
name = "writer"
database = "db"
owns = ["t"]
[[services.operations]]
name = "remove"
rate_per_s = 5
statements = ["DELETE FROM t WHERE id = {{id}}"]
params.id = {{ existing_key = "t.id" }}
[[services.operations]]
name = "add"
rate_per_s = 5
statements = ["INSERT INTO t VALUES ({{id}}, 1)"]
params.id = {{ next_id = "t.id" }}
[[services]]
name = "reader"
database = "db"
[[services.operations]]
name = "count"
rate_per_s = 1
statements = ["SELECT COUNT(*) FROM t"]
"#
    ))
}

#[test]
fn deletes_reach_a_consumer_that_was_paused_while_compaction_ran() {
    let scenario = churn("");
    let mut world = World::new(&scenario).expect("builds");
    world.step_until(SECOND);
    apply(
        &mut world,
        Command::PauseConsumer {
            group: "reader".into(),
        },
    );
    world.step_until(6 * SECOND);
    assert!(
        world.report().topics["db.public.t"].compacted > 0,
        "compaction removed delete events the paused consumer had not read"
    );
    stop_all_arrivals(&scenario, &mut world);
    apply(
        &mut world,
        Command::ResumeConsumer {
            group: "reader".into(),
        },
    );
    world.step_until(9 * SECOND);
    let mut rows = |db: &str| {
        world
            .database_mut(db)
            .expect("a database")
            .committed_rows("t")
            .expect("t")
    };
    let source = rows("writer");
    assert!(
        source.1.len() < 10 + 25,
        "rows were deleted: {}",
        source.1.len()
    );
    assert_eq!(rows("reader"), source, "the tombstones deleted the rows");
}

#[test]
fn cdc_settings_out_of_range_and_unkeyed_read_models_are_refused() {
    let error = churn_text("partitions = 4000000000").expect_err("refused");
    assert_eq!(error.path, "cdc.partitions");
    assert!(error.line.is_some(), "the line is named: {error:?}");
    let error = churn_text("poll_interval = \"0s\"").expect_err("refused");
    assert_eq!(error.path, "cdc.poll_interval");
    let mut unkeyed = churn("");
    unkeyed.databases[0].setup = vec!["CREATE TABLE t (id INTEGER, v INTEGER)".into()];
    unkeyed.services[0].operations.truncate(1);
    unkeyed.services[0].operations[0].params.clear();
    unkeyed.services[0].operations[0].statements = vec!["DELETE FROM t WHERE v = 1".into()];
    let error = World::new(&unkeyed).expect_err("refused");
    assert!(error.message.contains("no primary key"), "{error}");
}

/// The acceptance of the rebuild, on every built-in scenario that runs in cdc: past a run of
/// the log cleaner (so the topics are compacted), every consumer group is reset to offset 0
/// and replays; once the writers stop, every read model equals its owner's table.
#[test]
fn every_builtin_read_model_rebuilt_from_offset_zero_equals_its_source() {
    let (mut checked, mut compacted) = (0, 0);
    for (name, text) in builtin::SCENARIOS {
        let mut scenario = Scenario::parse(text).expect("valid");
        if !scenario.modes().contains(&Mode::Cdc) {
            continue;
        }
        scenario.mode = Mode::Cdc;
        scenario.cdc.capture = dataflow_lab::sim::capture::CaptureMethod::Log;
        // A migration on the timeline (outbox-contract's rename) breaks read models on purpose:
        // without the migrations, the versions deployed with them (which may use a table a
        // migration creates) are left out too.
        use dataflow_lab::sim::scenario::ActionKind;
        scenario.timeline.retain(|e| {
            !matches!(
                e.action,
                ActionKind::Sql | ActionKind::StartOperation | ActionKind::StopOperation
            )
        });
        for service in &mut scenario.services {
            service.operations.retain(|o| o.enabled);
        }
        let mut world = World::new(&scenario).expect("builds");
        let cleaned = scenario.cdc.cleaner_interval.micros() + SECOND;
        world.step_until(cleaned);
        let report = world.report();
        compacted += report.topics.values().map(|t| t.compacted).sum::<u64>();
        for group in report.consumer_groups.keys() {
            apply(
                &mut world,
                Command::RebuildReadModels {
                    group: group.clone(),
                },
            );
        }
        stop_all_arrivals(&scenario, &mut world);
        world.step_until(cleaned + 40 * SECOND);
        let report = world.report();
        for (database, tables) in &report.read_models {
            for (table, model) in tables {
                if let Some(sql) = &model.projection {
                    let owner = owner_of_query(&scenario, sql);
                    assert_projection_equals_query(&mut world, database, table, &owner, sql);
                    checked += 1;
                    continue;
                }
                let owner = scenario
                    .services
                    .iter()
                    .find(|s| s.owns.contains(table))
                    .expect("an owner");
                let mut rows = |database: &str| {
                    world
                        .database_mut(database)
                        .expect("a database")
                        .committed_rows(table)
                        .expect("a table")
                };
                let source = rows(&owner.name);
                assert_eq!(
                    rows(database),
                    source,
                    "{name}: {database}.{table} after a rebuild"
                );
                checked += 1;
            }
        }
        for (group, figures) in &report.consumer_groups {
            assert_eq!(figures.lag_messages, 0, "{name}: {group} drained");
        }
    }
    assert!(checked >= 7, "read models checked: {checked}");
    assert!(
        compacted > 0,
        "the cleaner compacted something before the rebuilds"
    );
}

/// A read model declared with a subset of its source's columns keeps only those (written by
/// its consumer, rebuilt equal to the source's projection); a read model that leaves out the
/// key, keeps a column that is not there, or lacks a column its service's SQL names is refused
/// with the field named.
#[test]
fn a_read_model_may_keep_a_subset_of_its_sources_columns() {
    let mut scenario =
        Scenario::parse(builtin::scenario_text("shop").expect("built in")).expect("valid");
    scenario.mode = Mode::Cdc;
    let keep = ["id", "status", "total_cents"].map(String::from).to_vec();
    scenario.services[1]
        .read_models
        .insert("orders".into(), keep.clone());
    let mut world = World::new(&scenario).expect("builds");
    world.step_until(5 * SECOND);
    stop_all_arrivals(&scenario, &mut world);
    world.step_until(8 * SECOND);
    let (columns, rows) = world
        .database_mut("billing")
        .expect("billing")
        .committed_rows("orders")
        .expect("the read model");
    assert_eq!(columns, keep);
    let (source_columns, source_rows) = world
        .database_mut("orders")
        .expect("orders")
        .committed_rows("orders")
        .expect("the source");
    let at: Vec<usize> = keep
        .iter()
        .map(|c| {
            source_columns
                .iter()
                .position(|s| s == c)
                .expect("a column")
        })
        .collect();
    let projected: Vec<Vec<_>> = source_rows
        .iter()
        .map(|r| at.iter().map(|i| r[*i].clone()).collect())
        .collect();
    assert!(projected.len() > 20_000);
    assert_eq!(rows, projected, "the read model is the source's projection");
    let report = world.report();
    assert_eq!(report.consumer_groups["billing"].undecodable, 0);
    assert!(report.services["billing"].total.errors == 0);

    let refused = |keep: &[&str]| {
        let mut scenario = scenario.clone();
        scenario.services[1].read_models.insert(
            "orders".into(),
            keep.iter().map(|c| (*c).to_owned()).collect(),
        );
        World::new(&scenario).expect_err("refused")
    };
    let error = refused(&["status", "total_cents"]);
    assert_eq!(error.path, "services[1].read_models.orders");
    assert!(error.message.contains("primary key"), "{error}");
    let error = refused(&["id", "state"]);
    assert!(error.message.contains("not a column of orders"), "{error}");
    let error = refused(&["id", "total_cents"]);
    assert!(
        error.path.starts_with("services[1].operations["),
        "billing's find_unbilled reads o.status: {error}"
    );
}

/// A projection (a read model defined by SQL) follows inserts, deletes whose events compaction
/// removed while its consumer was paused (their tombstones remain), a connector crash that
/// re-sends events (duplicates skipped) and a rebuild from offset 0 — equal each time to its
/// query run on the owner's table; the reader's statement that is the query reads it, and no
/// copy of the table is kept.
#[test]
fn a_projection_is_maintained_through_deletes_compaction_crashes_and_a_rebuild() {
    const BY_V: &str = "SELECT v, COUNT(*) AS n, SUM(id) AS ids, AVG(id) AS mean FROM t GROUP BY v";
    let mut scenario = churn("");
    // The writer also moves rows between groups: "remove" with another statement.
    let mut bump = scenario.services[0].operations[0].clone();
    bump.name = "bump".into();
    bump.statements = vec!["UPDATE t SET v = v + 1 WHERE id = {id}".into()];
    scenario.services[0].operations.push(bump);
    scenario.services[1]
        .projections
        .insert("by_v".into(), BY_V.into());
    scenario.services[1].operations[0].statements = vec![BY_V.replace("SELECT", "select")];
    let mut world = World::new(&scenario).expect("builds");
    let tables = world
        .database_mut("reader")
        .expect("reader")
        .with_engine_ref(|e| e.table_names());
    assert_eq!(tables, ["by_v"], "the query is answered by the projection");
    assert_projection_equals_query(&mut world, "reader", "by_v", "writer", BY_V);
    world.step_until(SECOND);
    apply(
        &mut world,
        Command::PauseConsumer {
            group: "reader".into(),
        },
    );
    world.step_until(6 * SECOND);
    assert!(world.report().topics["db.public.t"].compacted > 0);
    apply(
        &mut world,
        Command::ResumeConsumer {
            group: "reader".into(),
        },
    );
    world.step_until(8 * SECOND);
    apply(
        &mut world,
        Command::CrashConnector {
            connector: "writer-connector".into(),
        },
    );
    world.step_until(9 * SECOND);
    apply(
        &mut world,
        Command::StartConnector {
            connector: "writer-connector".into(),
        },
    );
    world.step_until(12 * SECOND);
    stop_all_arrivals(&scenario, &mut world);
    world.step_until(15 * SECOND);
    let report = world.report();
    let group = &report.consumer_groups["reader"];
    assert!(group.duplicates > 0, "the crash re-sent events: {group:?}");
    assert_eq!(group.undecodable, 0);
    assert!(report.read_models["reader"]["by_v"].applied > 50);
    assert_eq!(
        report.services["reader"].total.errors, 0,
        "the reader's query ran on the projection"
    );
    assert!(report.services["reader"].total.operations > 5);
    assert_projection_equals_query(&mut world, "reader", "by_v", "writer", BY_V);
    let staleness = report.read_models["reader"]["by_v"].staleness_ms;
    apply(
        &mut world,
        Command::RebuildReadModels {
            group: "reader".into(),
        },
    );
    world.step_until(18 * SECOND);
    assert_projection_equals_query(&mut world, "reader", "by_v", "writer", BY_V);
    let report = world.report();
    assert!(
        report.read_models["reader"]["by_v"].applied > 100,
        "the replay applied"
    );
    assert_eq!(
        report.read_models["reader"]["by_v"].staleness_ms, staleness,
        "changes replayed by a rebuild are not counted as stale"
    );
}

/// Projections that cannot be kept are refused with the field named: a query the incremental
/// maintenance cannot follow, one over the service's own table, and a name that is a table's.
#[test]
fn projections_that_cannot_be_kept_are_refused() {
    let refused = |service: usize, name: &str, sql: &str| {
        let mut scenario = churn("");
        scenario.services[service]
            .projections
            .insert(name.into(), sql.into());
        World::new(&scenario).expect_err("refused")
    };
    let error = refused(
        1,
        "big",
        "SELECT v, COUNT(*) AS n FROM t WHERE v > 0 GROUP BY v",
    );
    assert_eq!(error.path, "services[1].projections.big");
    assert!(error.message.contains("WHERE"), "{error}");
    let error = refused(1, "low", "SELECT v, MIN(id) AS low FROM t GROUP BY v");
    assert!(error.message.contains("MIN"), "{error}");
    let error = refused(0, "mine", "SELECT v, COUNT(*) AS n FROM t GROUP BY v");
    assert!(error.message.contains("owns itself"), "{error}");
    let error = refused(1, "t", "SELECT v, COUNT(*) AS n FROM t GROUP BY v");
    assert!(error.message.contains("name of a table"), "{error}");
    let error = refused(1, "by_w", "SELECT w, COUNT(*) AS n FROM t GROUP BY w");
    assert!(error.message.contains("not a column of t"), "{error}");
}

/// A key deleted and inserted again, then delivered again after a connector crash: the delete
/// and the insert are duplicates, and so is the delete's tombstone — applying it would delete
/// the row inserted since. The replica and the projection end equal to the source.
#[test]
fn a_tombstone_delivered_again_does_not_delete_a_row_inserted_since() {
    const BY_V: &str = "SELECT v, COUNT(*) AS n FROM t GROUP BY v";
    let mut scenario = churn("offset_flush_interval = \"60s\"");
    let mut reinsert = scenario.services[0].operations[0].clone();
    reinsert.name = "reinsert".into();
    reinsert.statements = vec![
        "DELETE FROM t WHERE id = {id}".into(),
        "INSERT INTO t VALUES ({id}, 2)".into(),
    ];
    scenario.services[0].operations = vec![reinsert];
    scenario.services[1]
        .projections
        .insert("by_v".into(), BY_V.into());
    let mut world = World::new(&scenario).expect("builds");
    world.step_until(4 * SECOND);
    apply(
        &mut world,
        Command::CrashConnector {
            connector: "writer-connector".into(),
        },
    );
    apply(
        &mut world,
        Command::StartConnector {
            connector: "writer-connector".into(),
        },
    );
    world.step_until(5 * SECOND);
    stop_all_arrivals(&scenario, &mut world);
    world.step_until(8 * SECOND);
    let report = world.report();
    assert!(report.connectors["writer-connector"].resent_events > 20);
    assert!(report.consumer_groups["reader"].duplicates > 20);
    let mut rows = |db: &str| {
        world
            .database_mut(db)
            .expect("a database")
            .committed_rows("t")
            .expect("t")
    };
    let source = rows("writer");
    assert_eq!(source.1.len(), 10, "every key deleted was inserted again");
    assert_eq!(rows("reader"), source, "the replica kept every row");
    assert_projection_equals_query(&mut world, "reader", "by_v", "writer", BY_V);
}
