//! What the page runs beside the live run, on demand: the scenario in each of its modes to
//! one time (the comparison), and at each point of its `[sweep]`. Both block the page while they
//! run, so the page says so first ([`super::LiveAction::Busy`]).

use super::LiveState;
use crate::sim::clock::{Micros, SECOND};
use std::rc::Rc;

/// A comparison of the scenario's modes, run with one seed to one time.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareView {
    /// The seed.
    pub seed: u64,
    /// The simulated time every mode was run to.
    pub at: Micros,
    /// Each mode's run.
    pub runs: Vec<crate::sim::compare::ModeRun>,
}

/// The shortest run a comparison makes (one at 0 s would compare nothing).
pub const COMPARE_AT_LEAST: Micros = 10 * SECOND;

/// The longest run a comparison makes: it runs every mode at once and the page waits for it.
pub const COMPARE_AT_MOST: Micros = 60 * SECOND;

impl LiveState {
    /// Runs the scenario in each of its modes to the current time (within
    /// [`COMPARE_AT_LEAST`]–[`COMPARE_AT_MOST`]; a lesson shown by the comparison, to its end at
    /// least), with this seed, side by side.
    pub(super) fn compare_modes(mut self) -> Self {
        self.busy = None;
        self.playing = false;
        let seed = self.seed();
        let scenario = self.playback.borrow().scenario().clone();
        // A lesson whose answer is the modes side by side is compared over its whole length:
        // its evidence (a rename at 20 s) may come late.
        let whole = scenario
            .lesson
            .as_ref()
            .is_some_and(|l| l.shown_by == crate::sim::lesson::ShownBy::Compare);
        let least = if whole {
            scenario.duration.micros().max(COMPARE_AT_LEAST)
        } else {
            COMPARE_AT_LEAST
        };
        let at = self.now.max(least).min(COMPARE_AT_MOST);
        let modes = crate::sim::compare::Variant::all_for(&scenario);
        match crate::sim::compare::compare_runs(&scenario, &modes, seed, at) {
            Ok(runs) => {
                self.compare = Some(Rc::new(CompareView { seed, at, runs }));
                self.progress.compared = true;
            }
            Err((mode, error)) => {
                self.notice = Some(format!(
                    "The {} mode cannot be compared: {error}",
                    mode.name()
                ))
            }
        }
        self
    }

    /// Runs the scenario at each point of its `[sweep]`, with this seed, for the chart.
    pub(super) fn sweep_scale(mut self) -> Self {
        self.busy = None;
        self.playing = false;
        let seed = self.seed();
        let scenario = self.playback.borrow().scenario().clone();
        // Each point runs the scenario's length, within what a comparison may take.
        let until = scenario
            .duration
            .micros()
            .clamp(COMPARE_AT_LEAST, COMPARE_AT_MOST);
        let swept =
            crate::sim::sweep::resolve(&scenario, &Default::default()).and_then(|(axis, watch)| {
                crate::sim::sweep::sweep(&scenario, &axis, &watch, seed, until, |_, _| {})
            });
        match swept {
            Ok(sweep) => {
                self.sweep = Some(Rc::new(sweep));
                self.progress.swept = true;
            }
            Err(error) => self.notice = Some(format!("The sweep cannot run: {error}")),
        }
        self
    }
}
