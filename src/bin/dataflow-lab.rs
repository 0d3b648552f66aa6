//! `dataflow-lab`: run scenarios headless, for instructors, tests and benchmarks.
//!
//! ```text
//! dataflow-lab run SCENARIO [--seed N] [--until DURATION] [--json]
//! dataflow-lab schema
//! dataflow-lab list
//! ```
//!
//! `SCENARIO` is a file (TOML or JSON) or the name of a built-in scenario. Exit code 0 on
//! success, 2 on a bad scenario or bad arguments, with the error on standard error.

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use clap::{Parser, Subcommand};
    use dataflow_lab::sim::builtin;
    use dataflow_lab::sim::clock::{format_micros, SimDuration};
    use dataflow_lab::sim::modes::Mode;
    use dataflow_lab::sim::report::{Report, WorkloadReport};
    use dataflow_lab::sim::scenario::Scenario;
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
            /// The integration mode: shared, owned or cdc (default: the scenario's).
            #[arg(long, value_parser = parse_mode)]
            mode: Option<Mode>,
        },
        /// Print the JSON Schema of the scenario format.
        Schema,
        /// List the built-in scenarios.
        List,
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
                    println!("{name:<16} {title}");
                }
                ExitCode::SUCCESS
            }
            Command::Run {
                scenario,
                seed,
                until,
                json,
                mode,
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
                let report = world.report();
                if json {
                    match serde_json::to_string_pretty(&report) {
                        Ok(text) => println!("{text}"),
                        Err(e) => {
                            eprintln!("error: {e}");
                            return ExitCode::FAILURE;
                        }
                    }
                } else {
                    print!("{}", summary(&scenario, &report, until));
                }
                ExitCode::SUCCESS
            }
        }
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
