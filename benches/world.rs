//! The simulator's overhead: simulated statements per wall-clock second for the built-in shop
//! scenario, against the very same statements (same connections, same order, same database)
//! executed directly on GlueSQL and our storage without the simulator. `cargo bench --bench
//! world`; the ratio of the two is the overhead (goal: at most 1.25×). A third run without the
//! lock manager gives the lock manager's own share. A last group runs the shop for 60 simulated
//! seconds in the `shared` and the `cdc` mode (goal: cdc within 1.5× the wall time of shared),
//! and at each of PostgreSQL's isolation levels (the cost of SSI's tracking). The last takes a
//! checkpoint of the shop (`World::fork`) at 10 and 60 simulated seconds; the very last, the
//! checks the page makes about once a second while the cdc shop plays.
//! (Native only: on wasm32 this bench is an empty program.)

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use criterion::{criterion_group, Criterion, Throughput};
    use dataflow_lab::sim::builtin;
    use dataflow_lab::sim::clock::SECOND;
    use dataflow_lab::sim::database::Connection;
    use dataflow_lab::sim::playback::Playback;
    use dataflow_lab::sim::scenario::Scenario;
    use dataflow_lab::sim::storage::ReadMode;
    use dataflow_lab::sim::world::{RecordedStatement, World};
    use std::collections::BTreeMap;
    use std::time::{Duration, Instant};

    const SIMULATED: u64 = 10 * SECOND;

    fn shop() -> Scenario {
        let text = builtin::scenario_text("shop").unwrap_or_default();
        match Scenario::parse(text) {
            Ok(scenario) => scenario,
            Err(e) => panic!("the built-in shop: {e}"),
        }
    }

    fn world(scenario: &Scenario) -> World {
        World::new(scenario).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Replays `statements` on a freshly built (not stepped) world's databases.
    fn replay(fresh: &mut World, statements: &[RecordedStatement]) {
        let names = fresh.database_names();
        let mut connections: BTreeMap<(usize, usize, usize), Connection> = BTreeMap::new();
        for statement in statements {
            let Some(name) = names.get(statement.node) else {
                continue;
            };
            let Some(db) = fresh.database_mut(name) else {
                continue;
            };
            match statement.connection {
                Some((service, slot)) => {
                    let connection = connections
                        .entry((statement.node, service, slot))
                        .or_insert_with(|| db.connect(ReadMode::StatementSnapshot));
                    let _ = connection.execute(&statement.sql);
                }
                None => {
                    let _ = db.run_script(&statement.sql, || 0.0);
                }
            }
        }
    }

    /// Runs `work` on `iterations` freshly built worlds; only `work` is timed (building a
    /// world seeds 20,000 orders, which is not what is measured).
    fn timed(iterations: u64, scenario: &Scenario, work: impl Fn(&mut World)) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..iterations {
            let mut w = world(scenario);
            let started = Instant::now();
            work(&mut w);
            total += started.elapsed();
        }
        total
    }

    fn overhead(c: &mut Criterion) {
        let scenario = shop();
        let mut recorder = world(&scenario);
        recorder.record_sql();
        recorder.step_until(SIMULATED);
        let statements = recorder.recorded_sql().to_vec();

        let mut group = c.benchmark_group("shop, 10 simulated seconds");
        group.throughput(Throughput::Elements(statements.len() as u64));
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(8));
        group.bench_function("simulated", |b| {
            b.iter_custom(|n| timed(n, &scenario, |w| w.step_until(SIMULATED)));
        });
        group.bench_function("simulated without locks", |b| {
            b.iter_custom(|n| {
                timed(n, &scenario, |w| {
                    w.set_locking(false);
                    w.step_until(SIMULATED);
                })
            });
        });
        group.bench_function("same SQL without the simulator", |b| {
            b.iter_custom(|n| timed(n, &scenario, |w| replay(w, &statements)));
        });
        group.finish();
    }

    /// The shop for 60 simulated seconds, shared, cdc and etl (building the world not timed).
    fn modes(c: &mut Criterion) {
        let shared = shop();
        let mut cdc = shared.clone();
        cdc.mode = dataflow_lab::sim::modes::Mode::Cdc;
        let mut etl = shared.clone();
        etl.mode = dataflow_lab::sim::modes::Mode::Etl;
        let mut group = c.benchmark_group("shop, 60 simulated seconds");
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(20));
        for (name, scenario) in [("shared", &shared), ("cdc", &cdc), ("etl", &etl)] {
            group.bench_function(name, |b| {
                b.iter_custom(|n| timed(n, scenario, |w| w.step_until(60 * SECOND)));
            });
        }
        group.finish();
    }

    /// The shop for 60 simulated seconds (shared) at PostgreSQL's three levels: what READ
    /// COMMITTED's statement snapshots and SERIALIZABLE's SSI tracking cost next to REPEATABLE
    /// READ (the default).
    fn levels(c: &mut Criterion) {
        use dataflow_lab::sim::isolation::Isolation;
        let mut group = c.benchmark_group("shop, 60 simulated seconds, by isolation level");
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(20));
        for level in [
            Isolation::RepeatableRead,
            Isolation::ReadCommitted,
            Isolation::Serializable,
        ] {
            let mut scenario = shop();
            for database in &mut scenario.databases {
                database.isolation = level;
            }
            group.bench_function(level.name(), |b| {
                b.iter_custom(|n| timed(n, &scenario, |w| w.step_until(60 * SECOND)));
            });
        }
        group.finish();
    }

    /// A checkpoint: the whole shop forked (copied) at 10 and at 60 simulated seconds, shared
    /// and cdc — what the page pays each time it keeps one, and again to go back to it.
    fn checkpoints(c: &mut Criterion) {
        let shared = shop();
        let mut cdc = shared.clone();
        cdc.mode = dataflow_lab::sim::modes::Mode::Cdc;
        let mut group = c.benchmark_group("shop, a checkpoint (World::fork)");
        group.sample_size(20);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(5));
        for (name, scenario) in [("shared", &shared), ("cdc", &cdc)] {
            for seconds in [10, 60] {
                group.bench_function(format!("{name} at {seconds} s"), |b| {
                    // Built here, so that a filter leaving this out does not run it.
                    let mut running = world(scenario);
                    running.step_until(seconds * SECOND);
                    b.iter(|| running.fork());
                });
            }
        }
        group.finish();
        // What keeping them costs a run: 60 simulated seconds played as the page plays them
        // (`Playback`, a checkpoint every simulated second), against `modes`' bare world.
        let mut group = c.benchmark_group("shop, 60 simulated seconds with checkpoints");
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(20));
        for (name, scenario) in [("shared", &shared), ("cdc", &cdc)] {
            group.bench_function(name, |b| {
                b.iter_custom(|n| {
                    let mut total = Duration::ZERO;
                    for _ in 0..n {
                        let mut playback =
                            Playback::new(scenario.clone(), 1).unwrap_or_else(|e| panic!("{e}"));
                        let started = Instant::now();
                        playback.run_until(60 * SECOND, || true);
                        total += started.elapsed();
                    }
                    total
                });
            });
        }
        group.finish();
    }

    /// What the page checks about once a second of wall time while the cdc shop plays: every
    /// read model against its source (the checker panel), and the lesson's checkpoints.
    fn checks(c: &mut Criterion) {
        let mut cdc = shop();
        cdc.mode = dataflow_lab::sim::modes::Mode::Cdc;
        let mut group = c.benchmark_group("shop (cdc) at 10 s, the page's checks");
        group.sample_size(20);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(5));
        group.bench_function("read models against their sources", |b| {
            let mut running = world(&cdc);
            running.step_until(10 * SECOND);
            b.iter(|| running.check_invariants());
        });
        group.bench_function(
            "the checker and the checkpoints, as the page runs them",
            |b| {
                let mut running = world(&cdc);
                running.step_until(10 * SECOND);
                b.iter(|| {
                    let invariants = running.check_invariants();
                    running.checkpoints_given(Some(&invariants))
                });
            },
        );
        group.finish();
    }

    criterion_group!(benches, overhead, modes, levels, checkpoints, checks);
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(native::benches);

#[cfg(target_arch = "wasm32")]
fn main() {}
