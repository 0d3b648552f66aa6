//! What the page runs beside the live run, on demand: the scenario in each of its modes to one
//! time (the comparison), and at each point of its `[sweep]`. Each is a [`Job`] that the page's
//! worker runs ([`crate::ui::worker`]) while the page keeps drawing; the state holds the job
//! while it runs, and takes its news ([`super::LiveAction::JobNews`]).

use super::LiveState;
use crate::authoring::{JobRequest, SavedRun};
use crate::sim::clock::{Micros, SECOND};
use crate::sim::job::{JobKind, JobProgress, JobReport, News, Outcome};
use std::cell::Cell;
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

/// A job running beside the live run, and how far it has got.
#[derive(Debug, Clone, PartialEq)]
pub struct RunningJob {
    /// The job, as the worker is sent it.
    pub request: Rc<JobRequest>,
    /// Runs finished so far, once the worker has said.
    pub progress: Option<JobProgress>,
}

impl RunningJob {
    /// Its number (the request's): news of another job (one cancelled, or of a scenario since
    /// left) is ignored.
    pub fn id(&self) -> u32 {
        self.request.id
    }

    /// What it runs and how far it has got, for the page's note ("Comparing the modes, each
    /// to 1m: 2 of 5 done, running etl…").
    pub fn note(&self) -> String {
        let doing = match self.request.kind {
            JobKind::Compare { at } => format!(
                "{}, each to {}",
                self.request.kind.doing(),
                crate::sim::clock::format_micros(at)
            ),
            JobKind::Sweep { .. } => self.request.kind.doing().to_owned(),
        };
        match &self.progress {
            Some(JobProgress { done, of, running }) if done < of => format!(
                "{doing}: {done} of {of} done{}…",
                running
                    .as_ref()
                    .map(|r| format!(", running {r}"))
                    .unwrap_or_default()
            ),
            _ => format!("{doing}…"),
        }
    }
}

/// The shortest run a comparison makes (one at 0 s would compare nothing).
pub const COMPARE_AT_LEAST: Micros = 10 * SECOND;

/// The longest run a comparison makes: it runs every mode, one after the other.
pub const COMPARE_AT_MOST: Micros = 60 * SECOND;

thread_local! {
    static LAST_JOB: Cell<u32> = const { Cell::new(0) };
}

impl LiveState {
    /// Starts a comparison of the scenario in each of its modes to the current time (within
    /// [`COMPARE_AT_LEAST`]–[`COMPARE_AT_MOST`]; a lesson shown by the comparison, to its end at
    /// least), with this seed, side by side.
    pub(super) fn compare_modes(mut self) -> Self {
        let scenario = self.scenario().clone();
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
        self.start_job(JobKind::Compare { at });
        self
    }

    /// Starts the scenario at each point of its `[sweep]`, with this seed, for the chart.
    pub(super) fn sweep_scale(mut self) -> Self {
        let scenario = self.scenario().clone();
        // Each point runs the scenario's length, within what a comparison may take.
        let until = scenario
            .duration
            .micros()
            .clamp(COMPARE_AT_LEAST, COMPARE_AT_MOST);
        self.start_job(JobKind::Sweep { until });
        self
    }

    /// Holds a job of `kind` on this run (without the user's commands, as the comparison
    /// always ran) as the one running: the simulator hands it to the worker.
    fn start_job(&mut self, kind: JobKind) {
        let id = LAST_JOB.with(|last| {
            last.set(last.get().wrapping_add(1));
            last.get()
        });
        let run = SavedRun {
            commands: Vec::new(),
            ..self.saved_run()
        };
        self.job = Some(Rc::new(RunningJob {
            request: Rc::new(JobRequest { id, kind, run }),
            progress: None,
        }));
    }

    /// Takes the news of a job: its progress, or its outcome shown (a comparison, a sweep) or
    /// its failure said. News of a job that is no longer the one running is ignored.
    pub(super) fn take_news(mut self, report: JobReport) -> Self {
        let Some(running) = self.job.clone().filter(|j| j.id() == report.id) else {
            return self;
        };
        match report.news {
            News::Progress(progress) => {
                self.job = Some(Rc::new(RunningJob {
                    progress: Some(progress),
                    ..(*running).clone()
                }));
            }
            News::Done(outcome) => {
                self.job = None;
                match (outcome, running.request.kind) {
                    (Ok(Outcome::Compared(runs)), JobKind::Compare { at }) => {
                        self.compare = Some(Rc::new(CompareView {
                            seed: running.request.run.seed,
                            at,
                            runs,
                        }));
                        self.progress.compared = true;
                    }
                    (Ok(Outcome::Swept(sweep)), JobKind::Sweep { .. }) => {
                        self.sweep = Some(Rc::new(sweep));
                        self.progress.swept = true;
                    }
                    (Ok(outcome), kind) => {
                        debug_assert!(false, "{kind:?} found {outcome:?}");
                    }
                    (Err(error), _) => self.notice = Some(error.to_string()),
                }
            }
        }
        self
    }
}
