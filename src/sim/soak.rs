//! Soak runs: a scenario under its seeded fault schedule ([`crate::sim::faults`]) for many
//! seeds, each drained until quiet and checked by the invariant checker
//! ([`crate::sim::world::World::check_invariants`]) — the evidence that a pipeline loses
//! nothing and applies nothing twice, whatever crashes when.
//!
//! Like [`crate::sim::compare`], this drives worlds from outside: the world itself knows
//! nothing of soaks.

use crate::sim::clock::{Micros, SECOND};
use crate::sim::compare::Variant;
use crate::sim::faults;
#[cfg(test)]
use crate::sim::modes::Mode;
use crate::sim::scenario::{Scenario, ScenarioError};
use crate::sim::world::{Command, World};

/// How long a run may take to become quiet once its sources stop.
pub const DRAIN_LIMIT: Micros = 300 * SECOND;

/// How many differing rows a run keeps to show.
const SHOWN: usize = 5;

/// One seed's run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoakRun {
    /// The seed.
    pub seed: u64,
    /// Faults injected (the ones the world accepted).
    pub faults: usize,
    /// Whether it became quiet within [`DRAIN_LIMIT`].
    pub quiet: bool,
    /// Whether every read model equalled its source.
    pub holds: bool,
    /// Rows missing, extra or differing, over every read model.
    pub rows_off: usize,
    /// Messages delivered again and skipped.
    pub duplicates: u64,
    /// A few of the differing rows: `billing.orders id=3: source … / read model …`.
    pub differing: Vec<String>,
}

/// Runs `scenario` in `variant` (a mode, and for `cdc` a capture method: `cdc:dual_write`) with
/// `seed` for `until` of simulated time under its fault
/// schedule (the default schedule if it declares none), drains it and checks it.
///
/// # Errors
///
/// The scenario cannot be built in that mode.
pub fn soak_run(
    scenario: &Scenario,
    variant: impl Into<Variant>,
    seed: u64,
    until: Micros,
) -> Result<SoakRun, ScenarioError> {
    let variant = variant.into();
    let mode = variant.mode;
    let mut scenario = scenario.clone();
    scenario.mode = mode;
    if let Some(capture) = variant.capture {
        scenario.cdc.capture = capture;
    }
    let mut world = World::with_seed(&scenario, seed)?;
    if world.topics().is_none() {
        return Err(ScenarioError::at(
            "mode",
            format!(
                "a soak checks read models against their sources, and the {} mode has no \
                 pipeline feeding read models (try cdc)",
                mode.name()
            ),
        ));
    }
    let spec = scenario.faults.clone().unwrap_or_default();
    let schedule = faults::schedule(&spec, seed, &world.fault_targets(), until);
    let mut injected = 0;
    // Faults still going on at `until` are ended by the drain's healing.
    for (at, command) in schedule.into_iter().take_while(|(at, _)| *at < until) {
        world.step_until(at);
        let starts = match &command {
            Command::CrashConnector { .. }
            | Command::CrashConsumer { .. }
            | Command::PauseConsumer { .. }
            | Command::BrokerOutage { .. } => true,
            Command::SlowConsumer { per_message_ms, .. } => *per_message_ms > 0.0,
            _ => false,
        };
        if world.apply(command).is_ok() && starts {
            injected += 1;
        }
    }
    world.step_until(until);
    let quiet = world.drain(DRAIN_LIMIT);
    let report = world.check_invariants();
    let differing = report
        .read_models
        .iter()
        .flat_map(|model| {
            model.divergence.shown.iter().map(move |row| {
                format!(
                    "{}.{} {}: source {} / read model {}",
                    model.database,
                    model.table,
                    row.key,
                    row.source.as_deref().unwrap_or("(none)"),
                    row.read_model.as_deref().unwrap_or("(none)")
                )
            })
        })
        .take(SHOWN)
        .collect();
    Ok(SoakRun {
        seed,
        faults: injected,
        quiet,
        holds: report.holds(),
        rows_off: report.rows_off(),
        duplicates: report.duplicates_delivered,
        differing,
    })
}

/// What many seeds of one mode came to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SoakSummary {
    /// Runs made.
    pub runs: usize,
    /// Faults injected over all runs.
    pub faults: usize,
    /// Seeds whose read models ended different from their sources.
    pub diverged: Vec<u64>,
    /// Seeds that did not become quiet (not checked meaningfully).
    pub not_quiet: Vec<u64>,
    /// Rows off over all runs.
    pub rows_off: usize,
    /// Duplicates delivered (and skipped) over all runs.
    pub duplicates: u64,
    /// The first diverged run's differing rows.
    pub example: Vec<String>,
}

impl SoakSummary {
    /// Adds one run.
    pub fn add(&mut self, run: &SoakRun) {
        self.runs += 1;
        self.faults += run.faults;
        self.rows_off += run.rows_off;
        self.duplicates += run.duplicates;
        if !run.quiet {
            self.not_quiet.push(run.seed);
        } else if !run.holds {
            if self.diverged.is_empty() {
                self.example.clone_from(&run.differing);
            }
            self.diverged.push(run.seed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::builtin;

    #[test]
    fn a_faulted_cdc_run_ends_equal_and_a_summary_counts_it() {
        let scenario =
            Scenario::parse(builtin::scenario_text("shop").expect("built in")).expect("valid");
        let run = soak_run(&scenario, Mode::Cdc, 3, 12 * SECOND).expect("runs");
        assert!(run.faults > 0, "{run:?}");
        assert!(run.quiet && run.holds, "{run:?}");
        let mut summary = SoakSummary::default();
        summary.add(&run);
        summary.add(&SoakRun {
            seed: 9,
            holds: false,
            rows_off: 2,
            differing: vec!["x".into()],
            ..run.clone()
        });
        assert_eq!(summary.runs, 2);
        assert_eq!(summary.diverged, [9]);
        assert_eq!(summary.example, ["x"]);
        assert_eq!(summary.rows_off, 2);
    }
}
