//! The `dataflow-lab` command line: byte-identical reports for one seed, exit code 2 and a
//! located error for every malformed scenario in `tests/scenarios/bad/`, and a parser that
//! never panics, whatever bytes it is fed; `compare` prints one scorecard per mode and the same
//! one twice; `--topics-out` writes each topic as NDJSON, `--metrics-out` the metrics as CSV and
//! `--events-out` what happened as NDJSON; `export-psql` writes psql files.
//! (Native only.)
#![cfg(not(target_arch = "wasm32"))]

use dataflow_lab::sim::builtin;
use dataflow_lab::sim::scenario::Scenario;
use dataflow_lab::sim::world::World;
use proptest::prelude::*;
use std::path::Path;
use std::process::{Command, Output};

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dataflow-lab"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn json_field(output: &Output, field: &str) -> String {
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    report[field].to_string()
}

/// `run shop --seed 7 --until 60s --json` twice gives byte-identical output; seed 8 another
/// trace.
#[test]
fn a_run_repeats_byte_for_byte() {
    let args = ["run", "shop", "--seed", "7", "--until", "60s", "--json"];
    let first = cli(&args);
    let second = cli(&args);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(!first.stdout.is_empty());
    assert!(first.stdout == second.stdout, "two runs with seed 7 differ");
    let other = cli(&["run", "shop", "--seed", "8", "--until", "60s", "--json"]);
    assert_ne!(
        json_field(&first, "trace_hash"),
        json_field(&other, "trace_hash")
    );
    for field in [
        "scenario",
        "seed",
        "simulated_ms",
        "services",
        "databases",
        "timeline",
    ] {
        assert_ne!(
            json_field(&first, field),
            "null",
            "the report lacks {field}"
        );
    }
}

/// Every malformed scenario is refused with exit code 2 and an error naming its field and line.
#[test]
fn malformed_scenarios_name_the_field_and_the_line() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/bad");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml" || e == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 15,
        "only {} malformed scenarios",
        files.len()
    );
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        let expected = match text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect:"))
        {
            Some(path) => path.trim().to_owned(),
            None => std::fs::read_to_string(file.with_extension("expect"))
                .expect("a .expect file beside a JSON case")
                .trim()
                .to_owned(),
        };
        let output = cli(&["run", file.to_str().expect("utf-8 path"), "--until", "1s"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(&expected),
            "{name}: the error does not name {expected}: {stderr}"
        );
        assert!(
            stderr.contains("line "),
            "{name}: the error has no line: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
}

/// `schema`, `list`, and a scenario that is neither a file nor built in.
#[test]
fn schema_list_and_unknown_scenarios() {
    let schema = cli(&["schema"]);
    assert!(schema.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&schema.stdout).expect("JSON Schema");
    assert!(schema["properties"]["format_version"].is_object());
    assert!(schema["definitions"]["OperationSpec"].is_object());

    let list = cli(&["list"]);
    assert!(String::from_utf8_lossy(&list.stdout).starts_with("shop"));

    let missing = cli(&["run", "no-such-scenario"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("built-in: shop"));
}

/// A small valid scenario, for mutations that may survive parsing and reach the world.
const SMALL: &str = r#"format_version = 1
name = "small"
duration = "2s"
[[databases]]
name = "db"
shop = { customers = 5, orders = 20, jobs = 3 }
[[services]]
name = "s"
database = "db"
[[services.operations]]
name = "o"
rate_per_s = 20
statements = ["UPDATE orders SET status = '{st}' WHERE id = {k}", "SELECT COUNT(*) FROM orders"]
params = { k = { existing_key = "orders.id" }, st = { choice = ["a", "b"] } }
[[timeline]]
at = "1s"
action = "sql"
database = "db"
sql = "ALTER TABLE orders RENAME COLUMN status TO state"
"#;

#[test]
fn compare_scores_each_mode_and_repeats() {
    let args = [
        "compare",
        "shop",
        "--modes",
        "shared,cdc",
        "--until",
        "5s",
        "--seed",
        "3",
        "--json",
    ];
    let first = cli(&args);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(
        first.stdout,
        cli(&args).stdout,
        "the same seed, the same scorecard"
    );
    let cards: serde_json::Value = serde_json::from_slice(&first.stdout).expect("JSON");
    assert_eq!(cards[0]["mode"], "shared");
    assert_eq!(cards[1]["mode"], "cdc");
    assert!(
        cards[1]["staleness_p95_ms"]["billing.orders"]
            .as_f64()
            .unwrap_or(0.0)
            > 0.0
    );
    let table = cli(&["compare", "shop", "--until", "2s"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("orders p99 (ms)") && text.contains("staleness p95"),
        "{text}"
    );
    let bad = cli(&["compare", "shop", "--modes", "shared,kafka"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no mode \"kafka\""));
}

#[test]
fn topics_out_writes_one_line_per_message() {
    let dir = std::env::temp_dir().join(format!("dataflow-lab-topics-{}", std::process::id()));
    let dir_text = dir.to_string_lossy().to_string();
    let out = cli(&[
        "run",
        "shop",
        "--mode",
        "cdc",
        "--until",
        "2s",
        "--topics-out",
        &dir_text,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.join("shop.public.orders.ndjson")).expect("written");
    let mut streamed = 0;
    for line in text.lines() {
        let message: serde_json::Value = serde_json::from_str(line).expect("one JSON per line");
        let fields: Vec<&String> = message.as_object().expect("an object").keys().collect();
        assert_eq!(
            fields,
            [
                "topic",
                "partition",
                "offset",
                "key",
                "value",
                "timestamp_ms"
            ]
        );
        if message["value"]["op"] == "u" || message["value"]["op"] == "c" {
            streamed += 1;
        }
    }
    assert!(streamed > 10, "events streamed after the snapshot");
    let _ = std::fs::remove_dir_all(&dir);
    let shared = cli(&["run", "shop", "--until", "1s", "--topics-out", &dir_text]);
    assert!(!shared.status.success(), "no topics without cdc");
}

#[test]
fn metrics_and_events_out_write_what_the_page_exports() {
    let dir = std::env::temp_dir().join(format!("dataflow-lab-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let (metrics, events) = (dir.join("metrics.csv"), dir.join("events.ndjson"));
    let out = cli(&[
        "run",
        "alter-queue",
        "--until",
        "6s",
        "--metrics-out",
        &metrics.to_string_lossy(),
        "--events-out",
        &events.to_string_lossy(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_to_string(&metrics).expect("written");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("second,service,completed,errors,p50_ms,p95_ms,p99_ms,max_ms")
    );
    let rows: Vec<&str> = lines.collect();
    assert!(
        rows.len() >= 6,
        "six seconds of the services: {}",
        rows.len()
    );
    let ndjson = std::fs::read_to_string(&events).expect("written");
    assert!(
        ndjson.lines().count() >= 1,
        "alter-queue's ALTER and its lock waits are narrated"
    );
    for line in ndjson.lines() {
        let event: serde_json::Value = serde_json::from_str(line).expect("one JSON per line");
        assert!(
            event["at_ms"].is_number() && event["text"].is_string(),
            "{line}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn mutate(text: &str, at: usize, cut: usize, insert: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = at % (chars.len() + 1);
    let end = (at + cut).min(chars.len());
    let mut out: String = chars[..at].iter().collect();
    out.push_str(insert);
    out.extend(&chars[end..]);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Random bytes never make the parser panic.
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = Scenario::parse(&text);
    }

    /// Random edits of valid scenarios never panic the parser, nor the world when they parse.
    #[test]
    fn mutations_never_panic(
        at in 0usize..2_000,
        cut in 0usize..12,
        insert in prop::sample::select(vec!["", "-", "0", "\"", "[", "]", "{", "}", "=", "\n", "x", "1e9", "-1", "\"9s\"", "NaN"]),
        builtin in any::<bool>(),
    ) {
        let base = if builtin { builtin::scenario_text("shop").unwrap_or(SMALL) } else { SMALL };
        let text = mutate(base, at, cut, insert);
        if let Ok(scenario) = Scenario::parse(&text) {
            if !builtin {
                if let Ok(mut world) = World::new(&scenario) {
                    world.step_until(2_000_000);
                    let _ = world.report();
                }
            }
        }
    }
}

/// `export-psql` writes a scripted scenario as psql files and says where; a scenario without a
/// script is refused with exit code 2.
#[test]
fn export_psql_writes_a_file_per_session_and_refuses_a_scenario_without_a_script() {
    let dir = std::env::temp_dir().join(format!("dataflow-lab-psql-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let output = cli(&[
        "export-psql",
        "deadlock",
        dir.to_str().expect("a UTF-8 path"),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("README.md"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("the directory")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "00-setup.sql",
            "01-A.sql",
            "02-B.sql",
            "03-auditor.sql",
            "README.md"
        ]
    );
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("readme");
    assert!(readme.contains("ERROR 40P01"), "{readme}");
    let _ = std::fs::remove_dir_all(&dir);

    let refused = cli(&["export-psql", "shop", dir.to_str().expect("a UTF-8 path")]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("has no [script]"));
    assert!(!dir.exists(), "nothing written for a refused scenario");
}

/// `check` prints each expectation with PASS and its measured value and exits 0 when all hold;
/// an expectation that cannot hold makes it print FAIL and exit 1; a scenario without
/// expectations is exit 2.
#[test]
fn check_passes_fails_and_says_why() {
    let output = cli(&["check", "deadlock", "--seeds", "1..2"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("PASS  deadlocks(bank) == 1"), "{stdout}");
    assert!(stdout.contains("2/2 seeds passed"), "{stdout}");
    let text = builtin::scenario_text("deadlock")
        .expect("built in")
        .replace("deadlocks(bank) == 1", "deadlocks(bank) == 2");
    let dir = std::env::temp_dir().join(format!("dataflow-lab-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let path = dir.join("deadlock.toml");
    std::fs::write(&path, text).expect("written");
    let output = cli(&["check", path.to_str().expect("a path"), "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let runs: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let failed = runs[0]["verdicts"]
        .as_array()
        .expect("verdicts")
        .iter()
        .find(|v| v["status"] == "fail")
        .expect("one failed");
    assert_eq!(failed["that"], "deadlocks(bank) == 2");
    assert_eq!(failed["measured"], "1 deadlock == 2");
    let bare = dir.join("bare.toml");
    std::fs::write(
        &bare,
        "format_version = 1\nname = \"bare\"\n[[databases]]\nname = \"d\"\n",
    )
    .expect("written");
    let output = cli(&["check", bare.to_str().expect("a path")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no expectations"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `coupling` prints who reads and writes each column; `--preview` names what a rename breaks.
#[test]
fn coupling_prints_the_matrix_and_previews_a_rename() {
    let output = cli(&["coupling", "tight-coupling"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("orders (owner: orders; written by orders)"),
        "{stdout}"
    );
    assert!(stdout.contains("  status"), "{stdout}");
    let output = cli(&[
        "coupling",
        "tight-coupling",
        "--preview",
        "ALTER TABLE orders RENAME COLUMN status TO state",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("ACCESS EXCLUSIVE on orders"), "{stdout}");
    assert!(stdout.contains("breaks billing.invoice_paid"), "{stdout}");
    assert!(stdout.contains("breaks shipping.to_ship"), "{stdout}");
    assert!(!stdout.contains("breaks support"), "{stdout}");
    let output = cli(&["coupling", "tight-coupling", "--preview", "SELECT 1"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a schema change"));
}

/// `sweep` prints a row per point of the scenario's `[sweep]` (or the one given), and says
/// why when there is none.
#[test]
fn sweep_prints_a_row_per_point_and_refuses_a_scenario_without_one() {
    let output = cli(&["sweep", "as-systems-scale", "--until", "12s"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for label in ["1 × reader", "2 × reader", "4 × reader", "8 × reader"] {
        assert!(text.contains(label), "{text}");
    }
    assert!(text.contains("services broken"), "{text}");
    let none = cli(&["sweep", "shop"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no [sweep]"));
    let load = cli(&["sweep", "shop", "--load", "1,2", "--until", "2s", "--json"]);
    assert!(
        load.status.success(),
        "{}",
        String::from_utf8_lossy(&load.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&load.stdout).expect("JSON");
    assert_eq!(json["points"].as_array().map(Vec::len), Some(2));
    let wrong = cli(&["sweep", "shop", "--clone", "nobody", "--services", "1,2"]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("sweep.clone"));
}

/// `check` over several seeds runs them on every core but prints them in seed order, each run
/// what it is when checked alone (a world per thread, nothing shared).
#[test]
fn check_over_seeds_gives_each_seeds_own_verdicts_in_order() {
    let together = cli(&["check", "alter-queue", "--seeds", "1..3", "--json"]);
    let runs: serde_json::Value = serde_json::from_slice(&together.stdout).expect("JSON");
    let runs = runs.as_array().expect("runs");
    let seeds: Vec<u64> = runs.iter().filter_map(|r| r["seed"].as_u64()).collect();
    assert_eq!(seeds, [1, 2, 3]);
    assert_ne!(
        runs[0]["verdicts"], runs[1]["verdicts"],
        "the seeds measure different values, so a mix-up would show"
    );
    for run in runs {
        let seed = run["seed"].to_string();
        let alone = cli(&["check", "alter-queue", "--seed", &seed, "--json"]);
        let alone: serde_json::Value = serde_json::from_slice(&alone.stdout).expect("JSON");
        assert_eq!(alone[0]["verdicts"], run["verdicts"], "seed {seed}");
    }
}
