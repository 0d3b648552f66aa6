//! Helpers shared by the scripted-session tests.

use dataflow_lab::sim::scenario::Scenario;
use dataflow_lab::sim::script::{ScriptReport, StepReport};
use dataflow_lab::sim::world::World;

/// Plays `steps` (session, sql) on a database at `isolation` set up by `setup`, to the end.
pub fn play_script(isolation: &str, setup: &[&str], steps: &[(&str, &str)]) -> ScriptReport {
    let quote = |sql: &str| format!("\"{}\"", sql.replace('"', "\\\""));
    let steps: Vec<String> = steps
        .iter()
        .map(|(session, sql)| format!("  {{ session = \"{session}\", sql = {} }},", quote(sql)))
        .collect();
    let setup: Vec<String> = setup.iter().map(|sql| quote(sql)).collect();
    let text = format!(
        r#"format_version = 1
name = "scripted"
[[databases]]
name = "db"
isolation = "{isolation}"
setup = [{}]
[script]
database = "db"
steps = [
{}
]
"#,
        setup.join(", "),
        steps.join("\n")
    );
    let scenario = Scenario::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let mut world = World::new(&scenario).expect("builds");
    world.step_until(1);
    world.script_report().expect("a script")
}

/// Step `index` of a report.
pub fn step(report: &ScriptReport, index: usize) -> &StepReport {
    &report.steps[index]
}

/// Whether step `index` succeeded.
pub fn ok(report: &ScriptReport, index: usize) -> bool {
    step(report, index).outcome == "ok"
}

/// Step `index`'s rows, as JSON.
pub fn rows(report: &ScriptReport, index: usize) -> serde_json::Value {
    serde_json::json!(step(report, index).rows)
}
