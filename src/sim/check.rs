//! `dataflow-lab check`: a scenario's expectations ([`crate::sim::expectation`]) run and judged,
//! per mode and seed, so that a lesson cannot silently stop showing what it says.
//!
//! A run goes to the scenario's end; its expectations are judged there. Expectations about a
//! read model's difference from its source (`diff`) are judged after the run is drained until
//! quiet (its sources stopped, its faults healed), as the invariant checker does: a busy
//! pipeline's differences are only changes on their way.
//!
//! Like [`crate::sim::soak`], this drives worlds from outside.

use crate::sim::clock::{Micros, SECOND};
use crate::sim::expectation::{Expectation, MetricKind, Status, Verdict};
use crate::sim::modes::Mode;
use crate::sim::scenario::{Scenario, ScenarioError};
use crate::sim::world::World;

/// How long a run may take to become quiet for its `diff` expectations.
pub const DRAIN_LIMIT: Micros = 120 * SECOND;

/// The modes `check` runs a scenario in unless told: its own, and every mode an expectation
/// names.
pub fn modes_to_check(scenario: &Scenario) -> Vec<Mode> {
    let mut modes = vec![scenario.mode];
    for spec in &scenario.expect {
        for mode in &spec.modes {
            if !modes.contains(mode) {
                modes.push(*mode);
            }
        }
    }
    // In the order a chooser lists them, the scenario's own first.
    let own = scenario.mode;
    modes.sort_by_key(|m| (*m != own, Mode::ALL.iter().position(|a| a == m)));
    modes
}

/// Runs `scenario` in `mode` with `seed` to its end and judges its expectations there (a `diff`
/// after draining). Every verdict is final: one still pending at the end is a failure to measure.
///
/// # Errors
///
/// The scenario cannot be built in that mode.
pub fn check_run(
    scenario: &Scenario,
    mode: Mode,
    seed: u64,
) -> Result<Vec<Verdict>, ScenarioError> {
    let mut scenario = scenario.clone();
    scenario.mode = mode;
    let mut world = World::with_seed(&scenario, seed)?;
    world.step_until(scenario.duration.micros());
    let mut verdicts = world.checkpoints();
    if world.expects_diff() {
        world.drain(DRAIN_LIMIT);
        let drained = world.checkpoints();
        for (verdict, after) in verdicts.iter_mut().zip(drained) {
            let about_diff = Expectation::parse(&verdict.that)
                .is_ok_and(|e| e.metrics().iter().any(|m| m.kind == MetricKind::Diff));
            if about_diff {
                *verdict = after;
            }
        }
    }
    for verdict in &mut verdicts {
        verdict.status = match verdict.status {
            Status::Holding => Status::Pass,
            Status::NotYet => Status::Fail,
            other => other,
        };
    }
    Ok(verdicts)
}

/// Whether a verdict counts as passed in a check (a pending one did not measure: it fails).
pub fn passed(verdict: &Verdict) -> bool {
    verdict.status == Status::Pass
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCENARIO: &str = r#"
format_version = 1
name = "tiny"
duration = "3s"

[[databases]]
name = "db"
setup = ["CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)"]

[[services]]
name = "writer"
database = "db"

[[services.operations]]
name = "insert"
rate_per_s = 50
statements = ["INSERT INTO t (id, v) VALUES ({id}, 1)"]
params.id = { next_id = "t.id" }

[[timeline]]
at = "1s"
action = "sql"
database = "db"
sql = "ALTER TABLE t RENAME COLUMN v TO w"

[[phases]]
name = "rename"
from = "1s"

[[expect]]
that = "ops(writer) before rename > 40"

[[expect]]
that = "errors(writer, schema) before rename == 0"

[[expect]]
that = "errors(writer.insert, schema) after rename > 50"
says = "the rename breaks the writer"

[[expect]]
that = "query(db, \"SELECT COUNT(*) FROM t\") >= 30"

[[expect]]
that = "p99(writer) > 1s"
"#;

    #[test]
    fn a_run_is_judged_at_its_end() {
        let scenario = Scenario::parse(SCENARIO).unwrap();
        let verdicts = check_run(&scenario, Mode::Shared, 1).unwrap();
        let statuses: Vec<Status> = verdicts.iter().map(|v| v.status).collect();
        assert_eq!(
            statuses,
            [
                Status::Pass,
                Status::Pass,
                Status::Pass,
                Status::Pass,
                Status::Fail
            ],
            "{verdicts:#?}"
        );
        assert_eq!(
            verdicts[2].says.as_deref(),
            Some("the rename breaks the writer")
        );
        assert!(verdicts[4].measured.contains("ms"), "{verdicts:#?}");
    }

    #[test]
    fn phases_split_the_run_where_it_changes() {
        // Before the rename every insert succeeds; after it every insert fails: a metric over the
        // whole run would mix them.
        let scenario = Scenario::parse(SCENARIO).unwrap();
        let mut world = World::with_seed(&scenario, 3).unwrap();
        world.step_until(500_000);
        let early = world.checkpoints();
        assert_eq!(early[0].status, Status::NotYet, "{early:#?}");
        assert_eq!(early[1].status, Status::Holding, "{early:#?}");
        assert_eq!(early[2].status, Status::Pending, "{early:#?}");
        assert!(early[2].measured.contains("starts at"), "{early:#?}");
        world.step_until(1_500_000);
        let later = world.checkpoints();
        assert_eq!(later[0].status, Status::Pass, "{later:#?}");
        assert_eq!(later[1].status, Status::Pass, "{later:#?}");
        // Settled as soon as enough failures were counted: a growing count.
        world.step_until(2_900_000);
        assert_eq!(world.checkpoints()[2].status, Status::Pass);
    }

    #[test]
    fn a_bad_expectation_is_refused_at_its_line_and_column() {
        let text = SCENARIO.replace(
            "that = \"ops(writer) before rename > 40\"",
            "that = \"ops(writer) befor rename > 40\"",
        );
        let error = Scenario::parse(&text).unwrap_err();
        let line = text
            .lines()
            .position(|l| l.contains("befor rename"))
            .unwrap()
            + 1;
        assert_eq!(error.line, Some(line), "{error}");
        // `that = "` is 8 characters; the unknown word starts at column 13 of the expectation.
        assert_eq!(error.column, Some(8 + 13), "{error}");
        assert_eq!(error.path, "expect[0].that");
        let unknown = SCENARIO.replace("ops(writer) before", "ops(writr) before");
        let error = Scenario::parse(&unknown).unwrap_err();
        assert!(
            error.message.contains("\"writr\" is not a service"),
            "{error}"
        );
        let phase = SCENARIO.replace("before rename > 40", "before migration > 40");
        let error = Scenario::parse(&phase).unwrap_err();
        assert!(error.message.contains("phase \"migration\""), "{error}");
    }

    #[test]
    fn modes_to_check_are_the_scenarios_own_and_those_named() {
        let mut scenario = Scenario::parse(SCENARIO).unwrap();
        assert_eq!(modes_to_check(&scenario), [Mode::Shared]);
        scenario.mode = Mode::Owned;
        scenario.expect[0].modes = vec![Mode::Shared];
        assert_eq!(modes_to_check(&scenario), [Mode::Owned, Mode::Shared]);
    }

    #[test]
    fn a_query_that_does_not_parse_reads_but_does_not_build() {
        // The page reads a scenario without the engine's SQL parser; the build finds it.
        let broken = SCENARIO.replace("SELECT COUNT(*) FROM t\\\"", "SELECT COUNT(*) FROM\\\"");
        assert_ne!(broken, SCENARIO);
        let scenario = Scenario::parse(&broken).expect("it reads");
        let error = World::build_databases(&scenario, 1).expect_err("its query does not parse");
        let located = error.located_in(&broken);
        assert!(located.to_string().contains("query:"), "{located}");
        assert_eq!(
            located.line,
            broken
                .lines()
                .position(|l| l.contains("query(db"))
                .map(|i| i + 1),
            "{located}"
        );
    }
}
