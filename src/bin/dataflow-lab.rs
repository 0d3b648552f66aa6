//! `dataflow-lab`: run scenarios headless, for instructors, tests and benchmarks.
//!
//! ```text
//! dataflow-lab run SCENARIO [--seed N] [--until DURATION] [--mode M] [--topics-out DIR]
//!                  [--metrics-out FILE.csv] [--events-out FILE.ndjson] [--memory] [--json]
//! dataflow-lab compare SCENARIO --modes shared,cdc[,etl,owned,cdc:query,cdc:trigger] [--seed N] [--until DURATION] [--json]
//! dataflow-lab export-psql SCENARIO DIR
//! dataflow-lab check SCENARIO [--seed N | --seeds 1..5] [--mode M] [--json]
//! dataflow-lab soak SCENARIO [--seeds 1..500] [--mode cdc] [--until DURATION]
//! dataflow-lab registry check --mode MODE --new NEW.avsc [--previous OLDEST.avsc … LATEST.avsc]
//! dataflow-lab schema
//! dataflow-lab list
//! ```
//!
//! `SCENARIO` is a file (TOML or JSON) or the name of a built-in scenario. Exit code 0 on
//! success, 2 on a bad scenario or bad arguments, with the error on standard error.
//! `registry check` exits 0 when the change is compatible, 1 when it is not (with the reason),
//! 2 when a schema file cannot be read or is not an Avro schema.

/// Counts the heap, for `run --memory`.
#[cfg(not(target_arch = "wasm32"))]
#[global_allocator]
static HEAP: dataflow_lab::heap::CountingAllocator = dataflow_lab::heap::CountingAllocator;

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use clap::{Parser, Subcommand};
    use dataflow_lab::sim::builtin;
    use dataflow_lab::sim::clock::{format_micros, SimDuration};
    use dataflow_lab::sim::compare::Variant;
    use dataflow_lab::sim::export;
    use dataflow_lab::sim::modes::Mode;
    use dataflow_lab::sim::registry::{
        self, CompatibilityMode, Direction, RegistryError, SchemaRegistry,
    };
    use dataflow_lab::sim::report::{Report, WorkloadReport};
    use dataflow_lab::sim::scenario::Scenario;
    use dataflow_lab::sim::soak::{soak_run, SoakSummary};
    use dataflow_lab::sim::world::World;
    use std::process::ExitCode;

    /// Watch dataflow through a shared database: run Dataflow Lab scenarios headless.
    #[derive(Parser)]
    #[command(name = "dataflow-lab", version, about)]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(Subcommand)]
    enum Command {
        /// Run a scenario and print its report.
        Run {
            /// A scenario file (.toml or .json) or the name of a built-in scenario.
            scenario: String,
            /// The seed (default: the scenario's own).
            #[arg(long)]
            seed: Option<u64>,
            /// How much simulated time to run, e.g. 60s or 500ms (default: the scenario's).
            #[arg(long, value_parser = parse_duration)]
            until: Option<SimDuration>,
            /// Print the report as JSON.
            #[arg(long)]
            json: bool,
            /// The integration mode: shared, owned, etl, cdc or events (default: the scenario's).
            #[arg(long, value_parser = parse_mode)]
            mode: Option<Mode>,
            /// Write each topic's messages to DIR/<topic>.ndjson (cdc mode), one JSON object per
            /// line: topic, partition, offset, key, value (null for a tombstone), timestamp_ms.
            #[arg(long, value_name = "DIR")]
            topics_out: Option<std::path::PathBuf>,
            /// Write each service's per-second metrics (the last 120 s: second, service,
            /// completed, errors, p50/p95/p99/max ms) to FILE as CSV, as the page exports them.
            #[arg(long, value_name = "FILE")]
            metrics_out: Option<std::path::PathBuf>,
            /// Write what happened (lock waits, deadlocks, failures, actions; the last 500) to
            /// FILE as NDJSON, as the page exports it.
            #[arg(long, value_name = "FILE")]
            events_out: Option<std::path::PathBuf>,
            /// After the run, print to standard error the memory it holds (live heap and peak)
            /// and what that consists of: change log, topics, metrics, narration, tables, the
            /// rest.
            #[arg(long)]
            memory: bool,
        },
        /// Run a scenario with one seed in several modes and print a scorecard per mode.
        Compare {
            /// A scenario file (.toml or .json) or the name of a built-in scenario.
            scenario: String,
            /// The modes, comma-separated (shared, owned, etl, cdc, events; cdc:query and cdc:trigger
            /// for cdc with another capture method, events:log and events:polling for the outbox's
            /// relay).
            #[arg(long, value_delimiter = ',', value_parser = Variant::parse, default_value = "shared,cdc")]
            modes: Vec<Variant>,
            /// The seed (default: the scenario's own).
            #[arg(long)]
            seed: Option<u64>,
            /// How much simulated time to run (default: the scenario's).
            #[arg(long, value_parser = parse_duration)]
            until: Option<SimDuration>,
            /// Print the scorecards as JSON.
            #[arg(long)]
            json: bool,
        },
        /// Run a scenario again at a growing scale — more copies of some services, or more load —
        /// with one seed, and print per point the services a schema change broke, the lock
        /// waits, a chosen operation's p99 and the busiest database's core use.
        Sweep {
            /// A scenario file (.toml or .json) or the name of a built-in scenario.
            scenario: String,
            /// Copies of the --clone services at each point, comma-separated (e.g. 1,2,4,8).
            #[arg(long, value_delimiter = ',', requires = "clone")]
            services: Vec<u32>,
            /// The services to copy, comma-separated (with --services).
            #[arg(long, value_delimiter = ',', requires = "services")]
            clone: Vec<String>,
            /// Load factors at each point, comma-separated (e.g. 1,2,4,8): every rate multiplied.
            #[arg(long, value_delimiter = ',', conflicts_with = "services")]
            load: Vec<f64>,
            /// The operation whose p99 to follow, as service.operation.
            #[arg(long)]
            watch: Option<String>,
            /// The seed (default: the scenario's own).
            #[arg(long)]
            seed: Option<u64>,
            /// The integration mode (default: the scenario's).
            #[arg(long, value_parser = parse_mode)]
            mode: Option<Mode>,
            /// How much simulated time each point runs (default: the scenario's).
            #[arg(long, value_parser = parse_duration)]
            until: Option<SimDuration>,
            /// Print the points as JSON.
            #[arg(long)]
            json: bool,
        },
        /// Write a scripted scenario as psql files (one per session, a setup, and a README of
        /// the order to type them in), to replay the lesson against a real PostgreSQL.
        ExportPsql {
            /// A scenario file (.toml or .json) or the name of a built-in scenario, with a
            /// [script].
            scenario: String,
            /// The directory to write into (created if missing).
            dir: std::path::PathBuf,
        },
        /// Run a scenario under its seeded fault schedule for many seeds; each run is drained
        /// until quiet and its read models checked against their sources. Prints, per mode, the
        /// runs that ended with a difference (and the rows), the duplicates, the faults. Exit 1
        /// if any run diverged or did not become quiet.
        Soak {
            /// A scenario file (.toml or .json) or the name of a built-in scenario.
            scenario: String,
            /// The seeds, as FIRST..LAST (inclusive).
            #[arg(long, default_value = "1..100", value_parser = parse_seeds)]
            seeds: (u64, u64),
            /// The modes, comma-separated (default: cdc); cdc:dual_write, cdc:query and
            /// cdc:trigger for cdc with another capture method.
            #[arg(long, value_delimiter = ',', value_parser = Variant::parse, default_value = "cdc")]
            mode: Vec<Variant>,
            /// Simulated time under faults per run, before draining (default: 20s).
            #[arg(long, value_parser = parse_duration, default_value = "20s")]
            until: SimDuration,
        },
        /// Run a scenario to its end and check its expectations ([[expect]]): each with the
        /// value measured, pass or fail, per mode and seed. Exit 1 if any fails (or cannot be
        /// measured).
        Check {
            /// A scenario file (.toml or .json) or the name of a built-in scenario.
            scenario: String,
            /// One seed (default: the scenario's own).
            #[arg(long, conflicts_with = "seeds")]
            seed: Option<u64>,
            /// Several seeds, as FIRST..LAST (inclusive).
            #[arg(long, value_parser = parse_seeds)]
            seeds: Option<(u64, u64)>,
            /// Only this mode (default: the scenario's own and every mode an expectation names).
            #[arg(long, value_parser = parse_mode)]
            mode: Option<Mode>,
            /// Print every verdict as JSON (one object per mode and seed).
            #[arg(long)]
            json: bool,
        },
        /// Print the coupling map: which service reads (R) and writes (W) which column, read
        /// from their SQL, with each table's owner and writers; with --preview, what a schema
        /// change would break and the lock it takes.
        Coupling {
            /// A scenario file (.toml or .json) or the name of a built-in scenario.
            scenario: String,
            /// A DDL statement to preview, e.g. "ALTER TABLE orders RENAME COLUMN status TO state".
            #[arg(long, value_name = "SQL")]
            preview: Option<String>,
            /// The database the statement runs on (default: the scenario's first).
            #[arg(long)]
            database: Option<String>,
            /// Print the map (or the preview) as JSON.
            #[arg(long)]
            json: bool,
        },
        /// Check event schemas as a schema registry would (Avro, Confluent's compatibility
        /// modes).
        Registry {
            #[command(subcommand)]
            command: RegistryCommand,
        },
        /// Print the JSON Schema of the scenario format.
        Schema,
        /// List the built-in scenarios.
        List,
    }

    #[derive(Subcommand)]
    enum RegistryCommand {
        /// Whether a new version of an event schema may follow the earlier ones: prints
        /// `compatible`, or `incompatible` with the rule, the version and the field it breaks.
        Check {
            /// BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL,
            /// FULL_TRANSITIVE or NONE.
            #[arg(long, value_parser = parse_compatibility)]
            mode: CompatibilityMode,
            /// The new schema (.avsc).
            #[arg(long = "new", value_name = "NEW.avsc")]
            new_schema: std::path::PathBuf,
            /// The versions already registered, oldest first.
            #[arg(long, num_args = 1.., value_name = "OLDEST.avsc … LATEST.avsc")]
            previous: Vec<std::path::PathBuf>,
        },
    }

    /// Runs `run` for every seed of `first..=last` on every core the machine has, and hands
    /// each result to `each` in seed order as soon as the seeds before it are done, so the
    /// output is what one core would print. Once `each` returns an error no further seed is
    /// started, and that error is returned; a run that panics is said with its seed and the
    /// panic goes on. (A world is single-threaded: each thread builds its own from the shared
    /// scenario.)
    fn over_seeds<T: Send, E>(
        first: u64,
        last: u64,
        run: impl Fn(u64) -> T + Sync,
        mut each: impl FnMut(u64, T) -> Result<(), E>,
    ) -> Result<(), E> {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let seeds = usize::try_from(last.saturating_sub(first)).map_or(usize::MAX, |n| n + 1);
        let workers = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(seeds);
        let next = AtomicU64::new(first);
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let (sender, receiver) = std::sync::mpsc::channel();
            for _ in 0..workers {
                let sender = sender.clone();
                let (next, stop, run) = (&next, &stop, &run);
                scope.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let seed = next.fetch_add(1, Ordering::Relaxed);
                        if seed < first || seed > last {
                            break;
                        }
                        // A panic (a bug) is handed to the main thread with its seed.
                        let result =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(seed)));
                        if result.is_err() {
                            stop.store(true, Ordering::Relaxed);
                        }
                        if sender.send((seed, result)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(sender);
            let mut finished = std::collections::BTreeMap::new();
            let mut due = first;
            for (seed, result) in receiver {
                let result = match result {
                    Ok(result) => result,
                    Err(panic) => {
                        eprintln!("\nerror: the run of seed {seed} panicked");
                        std::panic::resume_unwind(panic);
                    }
                };
                finished.insert(seed, result);
                while let Some(result) = finished.remove(&due) {
                    if let Err(error) = each(due, result) {
                        stop.store(true, Ordering::Relaxed);
                        return Err(error);
                    }
                    due = due.saturating_add(1);
                }
            }
            Ok(())
        })
    }

    /// Draws the progress bar of a run over many seeds on standard error, in place.
    fn progress(done: usize, total: usize, started: std::time::Instant) {
        use std::io::Write;
        let width = 30;
        let filled = done * width / total.max(1);
        eprint!(
            "\r[{}{}] {done}/{total} runs, {:.0} s",
            "#".repeat(filled),
            " ".repeat(width.saturating_sub(filled)),
            started.elapsed().as_secs_f64()
        );
        let _ = std::io::stderr().flush();
    }

    fn parse_seeds(text: &str) -> Result<(u64, u64), String> {
        let bad = || format!("seeds are FIRST..LAST, e.g. 1..500, not \"{text}\"");
        let (first, last) = text.split_once("..").ok_or_else(bad)?;
        let first: u64 = first.trim().parse().map_err(|_| bad())?;
        let last: u64 = last
            .trim()
            .trim_start_matches('=')
            .parse()
            .map_err(|_| bad())?;
        if last < first {
            return Err(bad());
        }
        if last - first >= 1_000_000 {
            return Err(format!("at most a million seeds at a time, not \"{text}\""));
        }
        Ok((first, last))
    }

    /// `soak`: every seed in every mode, a progress bar on a terminal, a summary per mode.
    fn soak_command(
        source: &str,
        (first, last): (u64, u64),
        modes: &[Variant],
        until: SimDuration,
    ) -> ExitCode {
        use std::io::IsTerminal;
        let (label, _, scenario) = match load(source) {
            Ok(loaded) => loaded,
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(2);
            }
        };
        let total = ((last - first + 1) as usize * modes.len()).max(1);
        let terminal = std::io::stderr().is_terminal();
        let started = std::time::Instant::now();
        let mut done = 0;
        let mut diverged = false;
        println!(
            "soak: {label}, seeds {first}..{last}, {} simulated per run under faults, then drained",
            until
        );
        for &mode in modes {
            let mut summary = SoakSummary::default();
            let runs = over_seeds(
                first,
                last,
                |seed| soak_run(&scenario, mode, seed, until.micros()).map_err(|e| e.to_string()),
                |_, run| {
                    let run = match run {
                        Ok(run) => run,
                        Err(error) => {
                            eprintln!("\nerror: {label} in {}: {error}", mode.name());
                            return Err(ExitCode::from(2));
                        }
                    };
                    summary.add(&run);
                    done += 1;
                    if terminal {
                        progress(done, total, started);
                    }
                    Ok(())
                },
            );
            if let Err(code) = runs {
                return code;
            }
            if terminal {
                eprintln!();
            }
            // A run that never became quiet proves nothing: it fails the soak too.
            diverged |= !summary.diverged.is_empty() || !summary.not_quiet.is_empty();
            let seeds = |list: &[u64]| {
                let shown: Vec<String> = list.iter().take(10).map(u64::to_string).collect();
                let more = list.len().saturating_sub(10);
                if more > 0 {
                    format!("{} (+{more} more)", shown.join(", "))
                } else {
                    shown.join(", ")
                }
            };
            println!(
                "{}: {} runs, {} faults injected",
                mode.name(),
                summary.runs,
                summary.faults
            );
            println!(
                "  read models equal to their sources: {} runs",
                summary.runs - summary.diverged.len() - summary.not_quiet.len()
            );
            println!(
                "  diverged: {} runs{}",
                summary.diverged.len(),
                if summary.diverged.is_empty() {
                    String::new()
                } else {
                    format!(" (seeds {})", seeds(&summary.diverged))
                }
            );
            println!("  rows missing, extra or differing: {}", summary.rows_off);
            println!(
                "  duplicates delivered (skipped, none applied twice unless diverged): {}",
                summary.duplicates
            );
            if !summary.not_quiet.is_empty() {
                println!(
                    "  not quiet after draining: {} runs (seeds {})",
                    summary.not_quiet.len(),
                    seeds(&summary.not_quiet)
                );
            }
            for line in &summary.example {
                println!("    {line}");
            }
        }
        println!("{:.1} s", started.elapsed().as_secs_f64());
        if diverged {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    }

    /// `coupling`: the matrix of a scenario's services over its columns, or a schema change
    /// previewed against it.
    fn coupling_command(
        source: &str,
        preview: Option<&str>,
        database: Option<&str>,
        json: bool,
    ) -> ExitCode {
        let (label, _, scenario) = match load(source) {
            Ok(loaded) => loaded,
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(2);
            }
        };
        let world = match World::new(&scenario) {
            Ok(world) => world,
            Err(error) => {
                eprintln!("error: {label}: {error}");
                return ExitCode::from(2);
            }
        };
        let map = world.coupling_map();
        if let Some(sql) = preview {
            let Some(database) = database
                .map(str::to_owned)
                .or_else(|| scenario.databases.first().map(|d| d.name.clone()))
            else {
                eprintln!("error: {label} has no database");
                return ExitCode::from(2);
            };
            let preview = match map.preview(&database, sql) {
                Ok(preview) => preview,
                Err(error) => {
                    eprintln!("error: {error}");
                    return ExitCode::from(2);
                }
            };
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&preview).unwrap_or_default()
                );
                return ExitCode::SUCCESS;
            }
            let table = preview.change.table().unwrap_or_default();
            println!(
                "{sql}\n  {} and takes {} on {table}",
                preview.change.describe(),
                preview.lock.name()
            );
            if preview.breaks.is_empty() {
                println!("  breaks nothing: no operation's SQL names what it changes");
            }
            for affected in &preview.breaks {
                println!(
                    "  breaks {}.{}: {}",
                    affected.service, affected.operation, affected.why
                );
            }
            for affected in &preview.every_column {
                println!(
                    "  runs on {}.{}: {}",
                    affected.service, affected.operation, affected.why
                );
            }
            return ExitCode::SUCCESS;
        }
        if json {
            println!("{}", serde_json::to_string_pretty(&map).unwrap_or_default());
            return ExitCode::SUCCESS;
        }
        println!("coupling: {label} (R reads by name, W writes, RW both, * only through SELECT *)");
        for (database, tables) in &map.databases {
            let services: Vec<&str> = map
                .services()
                .into_iter()
                .filter(|s| {
                    map.operations
                        .iter()
                        .any(|o| o.service == *s && o.database == *database)
                })
                .collect();
            let first = tables
                .values()
                .flat_map(|columns| columns.iter().map(|c| c.len() + 2))
                .max()
                .unwrap_or(8)
                .max(database.len());
            print!("\n{database:<first$}");
            for service in &services {
                print!("  {service}");
            }
            println!();
            for (table, columns) in tables {
                let writers = map.writers(database, table);
                let owner = map.owner(database, table).unwrap_or("none declared");
                println!(
                    "{table} (owner: {owner}; written by {})",
                    if writers.is_empty() {
                        "nobody".to_owned()
                    } else {
                        writers.join(", ")
                    }
                );
                let missing = map.missing(database, table);
                let rows = columns
                    .iter()
                    .map(|c| (c, ""))
                    .chain(missing.iter().map(|c| (c, " (gone)")));
                for (column, gone) in rows {
                    print!("{:<first$}", format!("  {column}{gone}"));
                    let key = (table.clone(), column.clone());
                    for service in &services {
                        let mark = map.mark(service, database, &key).map_or("", |m| m.symbol());
                        print!("  {mark:<width$}", width = service.len());
                    }
                    println!();
                }
            }
        }
        ExitCode::SUCCESS
    }

    /// `check`: every mode and seed, a progress bar on a terminal across several runs; each
    /// expectation with its verdict over the seeds and a value measured.
    fn check_command(
        source: &str,
        seed: Option<u64>,
        seeds: Option<(u64, u64)>,
        mode: Option<Mode>,
        json: bool,
    ) -> ExitCode {
        use dataflow_lab::sim::check::{check_run, modes_to_check, passed};
        use dataflow_lab::sim::expectation::Verdict;
        use std::io::IsTerminal;
        let (label, _, scenario) = match load(source) {
            Ok(loaded) => loaded,
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(2);
            }
        };
        if scenario.expect.is_empty() {
            eprintln!("error: {label} has no expectations ([[expect]]) to check");
            return ExitCode::from(2);
        }
        let (first, last) = seeds.unwrap_or_else(|| {
            let one = seed.unwrap_or(scenario.seed);
            (one, one)
        });
        let modes = match mode {
            Some(mode) if !scenario.modes().contains(&mode) => {
                eprintln!("error: {label} does not run in the {} mode", mode.name());
                return ExitCode::from(2);
            }
            Some(mode) => vec![mode],
            None => modes_to_check(&scenario),
        };
        let total = (last - first + 1) as usize * modes.len();
        let terminal = std::io::stderr().is_terminal() && total > 1 && !json;
        let started = std::time::Instant::now();
        let mut failed = false;
        let mut done = 0;
        let mut json_runs = Vec::new();
        if !json {
            println!("check: {label}, seeds {first}..{last}");
        }
        for &mode in &modes {
            // Per expectation: its verdict in each seed.
            let mut results: Vec<Vec<(u64, Verdict)>> = Vec::new();
            let runs = over_seeds(
                first,
                last,
                |seed| check_run(&scenario, mode, seed).map_err(|e| e.to_string()),
                |seed, verdicts| {
                    let verdicts = match verdicts {
                        Ok(verdicts) => verdicts,
                        Err(error) => {
                            eprintln!("\nerror: {label} in {}: {error}", mode.name());
                            return Err(ExitCode::from(2));
                        }
                    };
                    if json {
                        json_runs.push(serde_json::json!({
                            "mode": mode.name(), "seed": seed, "verdicts": verdicts,
                        }));
                    }
                    for (i, verdict) in verdicts.into_iter().enumerate() {
                        if results.len() <= i {
                            results.push(Vec::new());
                        }
                        results[i].push((seed, verdict));
                    }
                    done += 1;
                    if terminal {
                        progress(done, total, started);
                    }
                    Ok(())
                },
            );
            if let Err(code) = runs {
                return code;
            }
            if terminal {
                eprintln!();
            }
            let all_passed = results.iter().flatten().all(|(_, v)| passed(v));
            failed |= !all_passed;
            if json {
                continue;
            }
            println!("{} mode:", mode.name());
            for per_seed in &results {
                let passes = per_seed.iter().filter(|(_, v)| passed(v)).count();
                let Some((_, first_verdict)) = per_seed.first() else {
                    continue;
                };
                // The first failing seed is the one to show; else the first seed.
                let (shown_seed, shown) = per_seed
                    .iter()
                    .find(|(_, v)| !passed(v))
                    .unwrap_or(&per_seed[0]);
                let verdict = if passes == per_seed.len() {
                    "PASS"
                } else {
                    "FAIL"
                };
                println!("  {verdict}  {}", first_verdict.that);
                if let Some(says) = &first_verdict.says {
                    println!("        {says}");
                }
                let seeds_passed = if per_seed.len() > 1 {
                    format!("{passes}/{} seeds passed; ", per_seed.len())
                } else {
                    String::new()
                };
                println!(
                    "        {seeds_passed}seed {shown_seed}: {} ({:?})",
                    shown.measured, shown.status
                );
            }
        }
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(&json_runs).unwrap_or_default()
            );
        } else {
            println!(
                "{} in {:.1} s",
                if failed {
                    "FAILED"
                } else {
                    "all expectations hold"
                },
                started.elapsed().as_secs_f64()
            );
        }
        if failed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    }

    fn parse_compatibility(text: &str) -> Result<CompatibilityMode, String> {
        CompatibilityMode::parse(text).ok_or_else(|| {
            let names: Vec<&str> = CompatibilityMode::ALL.iter().map(|m| m.name()).collect();
            format!(
                "no compatibility mode \"{text}\" (modes: {})",
                names.join(", ")
            )
        })
    }

    /// `registry check`: registers the previous versions without checks, then checks the new one
    /// under `mode`.
    fn registry_check(
        mode: CompatibilityMode,
        new_schema: &std::path::Path,
        previous: &[std::path::PathBuf],
    ) -> ExitCode {
        const SUBJECT: &str = "subject";
        let read = |path: &std::path::Path| -> Result<String, String> {
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
        };
        let mut registry = SchemaRegistry::new(CompatibilityMode::None);
        // Which file each version came from (identical files are one version).
        let mut files: Vec<&std::path::Path> = Vec::new();
        for path in previous {
            let registered = read(path).and_then(|text| {
                registry
                    .register(SUBJECT, &text)
                    .map_err(|e| format!("{}: {e}", path.display()))
            });
            match registered {
                Ok(registration) if registration.version as usize > files.len() => files.push(path),
                Ok(_) => {}
                Err(message) => {
                    eprintln!("error: {message}");
                    return ExitCode::from(2);
                }
            }
        }
        let schema = match read(new_schema).and_then(|text| {
            registry::parse_schema(&text).map_err(|e| format!("{}: {e}", new_schema.display()))
        }) {
            Ok(schema) => schema,
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(2);
            }
        };
        registry.set_mode(SUBJECT, mode);
        match registry.check(SUBJECT, &schema) {
            Ok(()) => {
                println!("compatible");
                ExitCode::SUCCESS
            }
            Err(RegistryError::Incompatible(refusal)) => {
                let version = |v: u32| {
                    files
                        .get((v as usize).saturating_sub(1))
                        .map(|p| format!("version {v} ({})", p.display()))
                        .unwrap_or_else(|| format!("version {v}"))
                };
                let rule = match refusal.direction {
                    Direction::NewCannotReadOld => format!(
                        "{} cannot read data written with {}",
                        new_schema.display(),
                        version(refusal.version)
                    ),
                    Direction::OldCannotReadNew => format!(
                        "{} cannot read data written with {}",
                        version(refusal.version),
                        new_schema.display()
                    ),
                };
                println!("incompatible under {mode}: {rule}: {}", refusal.reason);
                ExitCode::from(1)
            }
            Err(other) => {
                eprintln!("error: {other}");
                ExitCode::from(2)
            }
        }
    }

    fn parse_mode(text: &str) -> Result<Mode, String> {
        Mode::from_name(text).ok_or_else(|| {
            let names: Vec<&str> = Mode::ALL.iter().map(|m| m.name()).collect();
            format!("no mode \"{text}\" (modes: {})", names.join(", "))
        })
    }

    fn parse_duration(text: &str) -> Result<SimDuration, String> {
        SimDuration::parse(text)
    }

    fn load(source: &str) -> Result<(String, String, Scenario), String> {
        let path = std::path::Path::new(source);
        let (label, text) = if path.is_file() {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("cannot read {source}: {e}"))?;
            (source.to_owned(), text)
        } else if let Some(text) = builtin::scenario_text(source) {
            (format!("built-in scenario {source}"), text.to_owned())
        } else {
            let names: Vec<&str> = builtin::SCENARIOS.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "{source}: no such file, and no built-in scenario of that name (built-in: {})",
                names.join(", ")
            ));
        };
        Scenario::parse(&text)
            .map(|scenario| (label.clone(), text.clone(), scenario))
            .map_err(|e| format!("{label}: {e}"))
    }

    pub fn main() -> ExitCode {
        let cli = Cli::parse();
        match cli.command {
            Command::Schema => {
                println!("{}", Scenario::json_schema());
                ExitCode::SUCCESS
            }
            Command::List => {
                for (name, text) in builtin::SCENARIOS {
                    let title = Scenario::parse(text)
                        .ok()
                        .and_then(|s| s.title)
                        .unwrap_or_default();
                    let modes = Scenario::parse(text)
                        .map(|s| {
                            s.modes()
                                .iter()
                                .map(|m| m.name())
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .unwrap_or_default();
                    println!("{name:<18} {modes:<21} {title}");
                }
                ExitCode::SUCCESS
            }
            Command::Compare {
                scenario,
                modes,
                seed,
                until,
                json,
            } => compare_command(&scenario, &modes, seed, until, json),
            Command::ExportPsql { scenario, dir } => export_psql_command(&scenario, &dir),
            Command::Sweep {
                scenario,
                services,
                clone,
                load,
                watch,
                seed,
                mode,
                until,
                json,
            } => {
                let given = dataflow_lab::sim::sweep::SweepSpec {
                    clone,
                    services,
                    load,
                    watch,
                };
                sweep_command(&scenario, given, seed, mode, until, json)
            }
            Command::Soak {
                scenario,
                seeds,
                mode,
                until,
            } => soak_command(&scenario, seeds, &mode, until),
            Command::Check {
                scenario,
                seed,
                seeds,
                mode,
                json,
            } => check_command(&scenario, seed, seeds, mode, json),
            Command::Coupling {
                scenario,
                preview,
                database,
                json,
            } => coupling_command(&scenario, preview.as_deref(), database.as_deref(), json),
            Command::Registry {
                command:
                    RegistryCommand::Check {
                        mode,
                        new_schema,
                        previous,
                    },
            } => registry_check(mode, &new_schema, &previous),
            Command::Run {
                scenario,
                seed,
                until,
                json,
                mode,
                topics_out,
                metrics_out,
                events_out,
                memory,
            } => {
                let (label, text, mut scenario) = match load(&scenario) {
                    Ok(loaded) => loaded,
                    Err(message) => {
                        eprintln!("error: {message}");
                        return ExitCode::from(2);
                    }
                };
                if let Some(mode) = mode {
                    scenario.mode = mode;
                }
                if memory {
                    dataflow_lab::heap::start_counting();
                }
                let seed = seed.unwrap_or(scenario.seed);
                let mut world = match World::with_seed(&scenario, seed) {
                    Ok(world) => world,
                    Err(e) => {
                        eprintln!("error: {label}: {}", e.located_in(&text));
                        return ExitCode::from(2);
                    }
                };
                let until = until.unwrap_or(scenario.duration).micros();
                world.step_until(until);
                if let Some(dir) = topics_out {
                    if let Err(e) = write_topics(&world, &dir) {
                        eprintln!("error: {e}");
                        return ExitCode::FAILURE;
                    }
                }
                let files = [
                    (metrics_out, export::metrics_csv(&world)),
                    (events_out, export::events_ndjson(&world)),
                ];
                for (path, exported) in files {
                    if let Some(path) = path {
                        if let Err(e) = std::fs::write(&path, exported.text) {
                            eprintln!("error: cannot write {}: {e}", path.display());
                            return ExitCode::FAILURE;
                        }
                    }
                }
                let report = world.report();
                if memory {
                    eprint!("{}", memory_text(world));
                }
                if json {
                    return print_json(&report);
                }
                print!("{}", summary(&scenario, &report, until));
                ExitCode::SUCCESS
            }
        }
    }

    /// `export-psql`: writes the scenario's script as psql files into `dir`.
    fn export_psql_command(source: &str, dir: &std::path::Path) -> ExitCode {
        let (label, _, scenario) = match load(source) {
            Ok(loaded) => loaded,
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(2);
            }
        };
        let files = match dataflow_lab::sim::psql_export::export(&scenario, &scenario.name) {
            Ok(files) => files,
            Err(e) => {
                eprintln!("error: {label}: {e}");
                return ExitCode::from(2);
            }
        };
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("error: cannot create {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
        for file in &files {
            let path = dir.join(&file.name);
            if let Err(e) = std::fs::write(&path, &file.text) {
                eprintln!("error: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
        println!(
            "wrote {} files to {}: start with {}",
            files.len(),
            dir.display(),
            dir.join("README.md").display()
        );
        ExitCode::SUCCESS
    }

    /// Writes every topic of `world` to `dir/<topic>.ndjson`.
    fn write_topics(world: &World, dir: &std::path::Path) -> Result<(), String> {
        if world.topics().is_none() {
            return Err(
                "--topics-out needs a run with topics: use --mode cdc or events".to_owned(),
            );
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        for name in export::topic_names(world) {
            let Some(exported) = export::topic_ndjson(world, &name) else {
                continue;
            };
            let path = dir.join(export::topic_file_name(&name));
            std::fs::write(&path, exported.text)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        Ok(())
    }

    fn compare_command(
        source: &str,
        modes: &[Variant],
        seed: Option<u64>,
        until: Option<SimDuration>,
        json: bool,
    ) -> ExitCode {
        let (label, text, scenario) = match load(source) {
            Ok(loaded) => loaded,
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(2);
            }
        };
        let seed = seed.unwrap_or(scenario.seed);
        let until = until.unwrap_or(scenario.duration).micros();
        let cards = match dataflow_lab::sim::compare::compare(&scenario, modes, seed, until) {
            Ok(cards) => cards,
            Err((mode, e)) => {
                eprintln!(
                    "error: {label} in mode {}: {}",
                    mode.name(),
                    e.located_in(&text)
                );
                return ExitCode::from(2);
            }
        };
        if json {
            return print_json(&cards);
        }
        print!("{}", scorecard_table(&scenario, seed, until, &cards));
        ExitCode::SUCCESS
    }

    /// Prints `value` as pretty JSON on stdout (exit 0), or why it cannot be (exit 1).
    fn print_json(value: &impl serde::Serialize) -> ExitCode {
        match serde_json::to_string_pretty(value) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    }

    /// `sweep`: the scenario's `[sweep]`, or the one given on the command line, point by point,
    /// with a progress bar on a terminal.
    fn sweep_command(
        source: &str,
        given: dataflow_lab::sim::sweep::SweepSpec,
        seed: Option<u64>,
        mode: Option<Mode>,
        until: Option<SimDuration>,
        json: bool,
    ) -> ExitCode {
        use std::io::{IsTerminal, Write};
        let (label, text, mut scenario) = match load(source) {
            Ok(loaded) => loaded,
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(2);
            }
        };
        if let Some(mode) = mode {
            scenario.mode = mode;
        }
        let (axis, watch) = match dataflow_lab::sim::sweep::resolve(&scenario, &given) {
            Ok(found) => found,
            Err(e) => {
                eprintln!("error: {label}: {e}");
                return ExitCode::from(2);
            }
        };
        let seed = seed.unwrap_or(scenario.seed);
        let until = until.unwrap_or(scenario.duration).micros();
        let terminal = std::io::stderr().is_terminal() && !json;
        let started = std::time::Instant::now();
        let result =
            dataflow_lab::sim::sweep::sweep(&scenario, &axis, &watch, seed, until, |i, n| {
                if terminal {
                    eprint!(
                        "\r{label}: point {}/{n}, {:.0} s",
                        i + 1,
                        started.elapsed().as_secs_f64()
                    );
                    let _ = std::io::stderr().flush();
                }
            });
        if terminal {
            eprintln!();
        }
        let sweep = match result {
            Ok(sweep) => sweep,
            Err(dataflow_lab::sim::sweep::SweepError::Build { point, error }) => {
                eprintln!("error: {label} at {point}: {}", error.located_in(&text));
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("error: {label}: {e}");
                return ExitCode::from(2);
            }
        };
        if json {
            return print_json(&sweep);
        }
        println!(
            "sweep: {label}, {} mode, seed {seed}, {} per point",
            scenario.mode.name(),
            dataflow_lab::sim::clock::format_micros(until)
        );
        print!("{sweep}");
        ExitCode::SUCCESS
    }

    fn scorecard_table(
        scenario: &Scenario,
        seed: u64,
        until: u64,
        cards: &[dataflow_lab::sim::compare::Scorecard],
    ) -> String {
        let services: Vec<String> = scenario.services.iter().map(|s| s.name.clone()).collect();
        let mut rows: Vec<(String, Vec<String>)> = vec![(
            String::new(),
            cards.iter().map(|c| c.mode.clone()).collect(),
        )];
        rows.extend(dataflow_lab::sim::compare::scorecard_rows(&services, cards));
        rows.push(dataflow_lab::sim::compare::trace_row(cards));
        let label_width = rows
            .iter()
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(0);
        let cell_width = rows
            .iter()
            .flat_map(|(_, cells)| cells.iter().map(|c| c.chars().count()))
            .max()
            .unwrap_or(0)
            + 2;
        let mut out = format!(
            "{} — seed {seed}, {} simulated\n\n",
            scenario.name,
            format_micros(until)
        );
        for (label, cells) in rows {
            out.push_str(&format!("{label:<label_width$}"));
            for cell in cells {
                out.push_str(&format!("{cell:>cell_width$}"));
            }
            out.push('\n');
        }
        out
    }

    fn row(name: &str, operation: &str, w: &WorkloadReport) -> String {
        format!(
            "{name:<16} {operation:<18} {:>8} {:>7} {:>8.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2}\n",
            w.operations,
            w.errors,
            w.throughput_per_s,
            w.latency_ms.p50,
            w.latency_ms.p95,
            w.latency_ms.p99,
            w.latency_ms.max
        )
    }

    /// `run --memory`: the live heap and its peak, what the databases and topics keep, and the
    /// world taken apart part by part (`World::memory_parts`).
    fn memory_text(mut world: World) -> String {
        use dataflow_lab::heap::{live_bytes, peak_bytes};
        let mb = |bytes: usize| format!("{:.1} MB", bytes as f64 / 1_000_000.0);
        let mut text = format!(
            "memory at {}: {} live, {} at most\n",
            format_micros(world.now()),
            mb(live_bytes()),
            mb(peak_bytes())
        );
        for name in world.database_names() {
            if let Some(db) = world.database_mut(&name) {
                let stats = db.stats();
                text += &format!(
                    "  {name}: {} rows, {} row versions, {} change-log records\n",
                    stats.rows, stats.versions, stats.log_records
                );
            }
        }
        if let Some(topics) = world.topics() {
            let messages: usize = topics.values().map(|t| t.len()).sum();
            text += &format!("  topics: {} messages kept\n", messages);
        }
        text += "what it consists of (bytes freed as each part is released):\n";
        for part in world.memory_parts(&live_bytes) {
            text += &format!("  {:>9}  {}\n", mb(part.bytes), part.kind.label());
        }
        text
    }

    fn summary(scenario: &Scenario, report: &Report, until: u64) -> String {
        let mut out = format!(
            "{} — {}\nseed {}, {} simulated, {} events, trace {}\n\n",
            report.scenario,
            scenario.title.as_deref().unwrap_or(""),
            report.seed,
            format_micros(until),
            report.events,
            report.trace_hash
        );
        out.push_str(&format!(
            "{:<16} {:<18} {:>8} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8}\n",
            "service",
            "operation",
            "done",
            "errors",
            "per s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms"
        ));
        for (name, service) in &report.services {
            out.push_str(&row(name, "(all)", &service.total));
            for (operation, w) in &service.by_operation {
                out.push_str(&row("", operation, w));
            }
            if !service.total.errors_by_kind.is_empty() {
                let kinds: Vec<String> = service
                    .total
                    .errors_by_kind
                    .iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect();
                out.push_str(&format!("{:<16} errors: {}\n", "", kinds.join(", ")));
            }
        }
        out.push_str(&format!(
            "\n{:<12} {:>10} {:>12} {:>12} {:>10} {:>9} {:>10}\n",
            "database",
            "statements",
            "rows read",
            "rows written",
            "cores used",
            "max queue",
            "change log"
        ));
        for (name, db) in &report.databases {
            out.push_str(&format!(
                "{name:<12} {:>10} {:>12} {:>12} {:>9.0}% {:>9} {:>10}\n",
                db.statements,
                db.rows_read,
                db.rows_written,
                db.core_utilisation * 100.0,
                db.max_core_queue,
                db.change_log_length
            ));
        }
        if !report.timeline.is_empty() {
            out.push_str("\ntimeline\n");
            for action in &report.timeline {
                out.push_str(&format!(
                    "  {:>10.3}s  {}  → {}\n",
                    action.at_ms / 1e3,
                    action.action,
                    action.result
                ));
            }
        }
        out
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
