//! What a run exports, the same from the page and from the command line: the run report as
//! JSON (`run --json`), the services' per-second metrics as CSV (`run --metrics-out`), what
//! happened — the narration of lock waits, deadlocks, failures and actions — as NDJSON
//! (`run --events-out`), and each topic's messages as NDJSON (`run --topics-out`): one JSON
//! object per line, in the order the broker holds them.

use crate::sim::world::{NarrationKind, World};
use serde::{Deserialize, Serialize};

/// An exported file's text and how many data rows it has (CSV rows after the header, NDJSON
/// lines), as the page shows next to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// The file's text.
    pub text: String,
    /// Data rows (not counting a CSV header).
    pub rows: usize,
}

/// The columns of [`metrics_csv`], in order.
pub const METRICS_COLUMNS: &[&str] = &[
    "second",
    "service",
    "completed",
    "errors",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
];

/// The run report as pretty JSON, exactly as `dataflow-lab run --json` prints it.
pub fn report_json(world: &World) -> String {
    serde_json::to_string_pretty(&world.report()).unwrap_or_default()
}

/// Each service's kept one-second windows (the live charts' data; the last
/// [`crate::sim::metrics::WINDOWS_KEPT`] seconds) as CSV with a header: one row per service and
/// second, services in the scenario's order.
pub fn metrics_csv(world: &World) -> Exported {
    let mut text = METRICS_COLUMNS.join(",");
    text.push('\n');
    let mut rows = 0;
    for service in &world.scenario().services {
        for window in world.windows(&service.name) {
            let l = window.latency_ms;
            text.push_str(&format!(
                "{},{},{},{},{},{},{},{}\n",
                window.second,
                csv_field(&service.name),
                window.completed,
                window.errors,
                l.p50,
                l.p95,
                l.p99,
                l.max
            ));
            rows += 1;
        }
    }
    Exported { text, rows }
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The narration's kind as exported.
fn kind_name(kind: NarrationKind) -> &'static str {
    match kind {
        NarrationKind::LockWait => "lock_wait",
        NarrationKind::Deadlock => "deadlock",
        NarrationKind::Error => "error",
        NarrationKind::SchemaBreak => "schema_break",
        NarrationKind::Action => "action",
    }
}

/// What happened, oldest first (the kept narration: see [`World::narration`]) as NDJSON:
/// `at_ms`, `last_at_ms`, `kind`, `text`, `count`, and `sql` and `longest_wait_ms` where they
/// apply.
pub fn events_ndjson(world: &World) -> Exported {
    let mut text = String::new();
    let mut rows = 0;
    for line in world.narration() {
        let mut object = serde_json::json!({
            "at_ms": line.at as f64 / 1_000.0,
            "last_at_ms": line.last_at as f64 / 1_000.0,
            "kind": kind_name(line.kind),
            "text": line.text,
            "count": line.count,
        });
        if let Some(sql) = &line.sql {
            object["sql"] = sql.as_str().into();
        }
        if line.longest_wait > 0 {
            object["longest_wait_ms"] = (line.longest_wait as f64 / 1_000.0).into();
        }
        text.push_str(&object.to_string());
        text.push('\n');
        rows += 1;
    }
    Exported { text, rows }
}

/// A topic's file name: its name with anything but letters, digits, `.`, `_` and `-` made `_`
/// (a topic's name comes from the scenario), and `.ndjson`.
pub fn topic_file_name(topic: &str) -> String {
    let safe: String = topic
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{}.ndjson", safe.trim_start_matches('.'))
}

/// The names of the run's topics (none outside `cdc` and `events`).
pub fn topic_names(world: &World) -> Vec<String> {
    world
        .topics()
        .map(|topics| topics.keys().cloned().collect())
        .unwrap_or_default()
}

/// A topic's messages as NDJSON, partition by partition in offset order: `topic`, `partition`,
/// `offset`, `key`, `value` (decoded from Avro where the registry has its schema; null for a
/// tombstone), `timestamp_ms`, and `schema_id`, `value_bytes` and `headers` where they apply.
/// `None` when there is no such topic.
pub fn topic_ndjson(world: &World, name: &str) -> Option<Exported> {
    let topic = world.topics()?.get(name)?;
    let mut text = String::new();
    let mut rows = 0;
    for (number, partition) in topic.partitions().iter().enumerate() {
        for message in partition.messages() {
            let key = message
                .key
                .as_deref()
                .map(|t| serde_json::from_str(t).unwrap_or_else(|_| t.into()))
                .unwrap_or(serde_json::Value::Null);
            let (value, schema_id) = crate::sim::messages::decoded(message, world.registry());
            let mut line = serde_json::json!({
                "topic": name,
                "partition": number,
                "offset": message.offset,
                "key": key,
                "value": value,
                "timestamp_ms": crate::sim::debezium::epoch_us(message.timestamp) / 1_000,
            });
            if let Some(id) = schema_id {
                line["schema_id"] = id.into();
                line["value_bytes"] = message.value.as_ref().map_or(0, |v| v.len()).into();
            }
            if let Some(headers) = message.headers.as_deref() {
                line["headers"] = headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), serde_json::Value::from(&**v)))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
            }
            text.push_str(&line.to_string());
            text.push('\n');
            rows += 1;
        }
    }
    Some(Exported { text, rows })
}

/// One thing a run can be exported as.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub enum ExportKind {
    /// The run report ([`report_json`]).
    Report,
    /// The per-second metrics ([`metrics_csv`]).
    Metrics,
    /// What happened ([`events_ndjson`]).
    Events,
    /// A topic's messages ([`topic_ndjson`]).
    Topic(String),
}

impl ExportKind {
    /// The file's name for scenario `scenario`.
    pub fn file_name(&self, scenario: &str) -> String {
        match self {
            Self::Report => format!("{scenario}-report.json"),
            Self::Metrics => format!("{scenario}-metrics.csv"),
            Self::Events => format!("{scenario}-events.ndjson"),
            Self::Topic(name) => topic_file_name(name),
        }
    }

    /// The file's media type.
    pub fn mime(&self) -> &'static str {
        match self {
            Self::Report => "application/json",
            Self::Metrics => "text/csv;charset=utf-8",
            Self::Events | Self::Topic(_) => "application/x-ndjson",
        }
    }
}

/// A file the run can be exported as, with what it holds, for the page's list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ExportFile {
    /// What it is.
    pub kind: ExportKind,
    /// The file's name.
    pub file_name: String,
    /// What it holds, in a few words ("CSV: 8 columns, 240 rows").
    pub what: String,
}

/// The files the run can be exported as now, for scenario `name`: the report, the metrics,
/// what happened, and each topic.
pub fn files(world: &World, name: &str) -> Vec<ExportFile> {
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut files = vec![
        ExportFile {
            kind: ExportKind::Report,
            file_name: ExportKind::Report.file_name(name),
            what: "JSON: the run report, as dataflow-lab run --json prints it".to_owned(),
        },
        ExportFile {
            kind: ExportKind::Metrics,
            file_name: ExportKind::Metrics.file_name(name),
            what: format!(
                "CSV: {} columns, {} (per service and second, the last {} s)",
                METRICS_COLUMNS.len(),
                plural(metrics_csv(world).rows, "row", "rows"),
                crate::sim::metrics::WINDOWS_KEPT
            ),
        },
        ExportFile {
            kind: ExportKind::Events,
            file_name: ExportKind::Events.file_name(name),
            what: format!(
                "NDJSON: {} of what happened",
                plural(world.narration().count(), "line", "lines")
            ),
        },
    ];
    if let Some(topics) = world.topics() {
        for (topic_name, topic) in topics {
            let messages = topic.len();
            files.push(ExportFile {
                kind: ExportKind::Topic(topic_name.clone()),
                file_name: topic_file_name(topic_name),
                what: format!(
                    "NDJSON: {} of topic {topic_name}",
                    plural(messages, "message", "messages")
                ),
            });
        }
    }
    files
}

/// The text of export `kind` (`None` for a topic the run does not have).
pub fn write(world: &World, kind: &ExportKind) -> Option<String> {
    match kind {
        ExportKind::Report => Some(report_json(world)),
        ExportKind::Metrics => Some(metrics_csv(world).text),
        ExportKind::Events => Some(events_ndjson(world).text),
        ExportKind::Topic(name) => topic_ndjson(world, name).map(|e| e.text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::builtin;
    use crate::sim::clock::SECOND;
    use crate::sim::modes::Mode;
    use crate::sim::scenario::Scenario;

    fn run(name: &str, mode: Option<Mode>, seconds: u64) -> World {
        let mut scenario =
            Scenario::parse(builtin::scenario_text(name).expect("built in")).expect("reads");
        if let Some(mode) = mode {
            scenario.mode = mode;
        }
        let mut world = World::new(&scenario).expect("builds");
        world.step_until(seconds * SECOND);
        world
    }

    #[test]
    fn metrics_have_a_row_per_service_and_second_under_the_header() {
        let world = run("shop", None, 5);
        let csv = metrics_csv(&world);
        let mut lines = csv.text.lines();
        assert_eq!(lines.next(), Some(METRICS_COLUMNS.join(",").as_str()));
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), csv.rows);
        assert!(
            csv.rows >= 5,
            "a few seconds of a few services: {}",
            csv.rows
        );
        assert!(rows
            .iter()
            .all(|r| r.split(',').count() == METRICS_COLUMNS.len()));
        assert!(rows.iter().any(|r| r.split(',').nth(1) == Some("orders")));
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn events_are_one_json_object_per_line_in_time_order() {
        let mut world = run("shop", None, 2);
        // Actions are narrated: two of them, at two moments.
        for (service, until) in [("billing", 3), ("shipping", 4)] {
            world
                .apply(crate::sim::world::Command::PauseService {
                    service: service.to_owned(),
                })
                .expect("the shop has the service");
            world.step_until(until * SECOND);
        }
        let events = events_ndjson(&world);
        assert!(
            events.rows >= 2,
            "the actions are narrated: {}",
            events.text
        );
        let parsed: Vec<serde_json::Value> = events
            .text
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect();
        assert_eq!(parsed.len(), events.rows);
        let times: Vec<f64> = parsed
            .iter()
            .map(|v| v["at_ms"].as_f64().expect("a time"))
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");
        assert!(parsed.iter().all(|v| v["kind"].is_string()));
    }

    #[test]
    fn a_topic_exports_its_messages_and_an_unknown_one_nothing() {
        let world = run("shop", Some(Mode::Cdc), 5);
        let names = topic_names(&world);
        assert!(!names.is_empty(), "cdc has topics");
        let topic = topic_ndjson(&world, &names[0]).expect("the topic exists");
        assert!(topic.rows > 0);
        let first: serde_json::Value =
            serde_json::from_str(topic.text.lines().next().expect("a line")).expect("JSON");
        assert_eq!(first["topic"], names[0].as_str());
        assert!(first["offset"].is_u64());
        assert!(topic_ndjson(&world, "no.such.topic").is_none());
        assert_eq!(topic_file_name("../evil/name"), "_evil_name.ndjson");
        assert!(topic_names(&run("shop", None, 1)).is_empty());
    }

    #[test]
    fn the_list_counts_what_each_file_holds() {
        let world = run("shop", Some(Mode::Cdc), 3);
        let files = files(&world, "shop");
        let metrics = files
            .iter()
            .find(|f| f.kind == ExportKind::Metrics)
            .expect("metrics are listed");
        assert_eq!(metrics.file_name, "shop-metrics.csv");
        let rows = metrics_csv(&world).rows;
        assert!(
            metrics.what.contains(&format!("{rows} rows")),
            "{}",
            metrics.what
        );
        for file in &files {
            let text = write(&world, &file.kind).expect("each listed file is written");
            if let ExportKind::Topic(name) = &file.kind {
                let lines = text.lines().count();
                assert!(
                    file.what.contains(&format!("{lines} message")),
                    "{name}: {}",
                    file.what
                );
            }
        }
        assert!(files.iter().any(|f| matches!(f.kind, ExportKind::Topic(_))));
        assert_eq!(write(&world, &ExportKind::Topic("nope".to_owned())), None);
    }

    #[test]
    fn the_report_is_the_command_lines_json() {
        let world = run("shop", None, 2);
        let json: serde_json::Value =
            serde_json::from_str(&report_json(&world)).expect("the report is JSON");
        assert_eq!(json["scenario"], "shop");
        assert_eq!(json["trace_hash"], world.trace_hash().as_str());
    }
}
