//! Work the page runs beside the live run, on demand: the scenario in each of its modes to one
//! time (a comparison), or at each point of its `[sweep]`.
//!
//! The page hands a job to a Web Worker (as [`crate::authoring::JobRequest`]: the scenario's
//! text and settings, which the worker reads again) and hears back how far it got and what it
//! found ([`JobReport`], JSON), and keeps drawing while it runs. A comparison's report comes
//! through JSON unchanged (a unit test says so): a worker changes where the work runs, not what
//! it finds.

use crate::sim::clock::Micros;
use crate::sim::compare::{compare_runs, ModeRun, Variant};
use crate::sim::scenario::Scenario;
use crate::sim::sweep::{self, Sweep};
use serde::{Deserialize, Serialize};

/// What a job runs: the modes side by side, or the points of a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// The scenario in each of its modes ([`Variant::all_for`]) to `at`.
    Compare {
        /// The simulated time every mode is run to.
        at: Micros,
    },
    /// The scenario at each point of its `[sweep]`, each for `until`.
    Sweep {
        /// How long each point runs.
        until: Micros,
    },
}

/// A piece of work run beside the live run: `kind` on `scenario` with `seed`.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// What it runs.
    pub kind: JobKind,
    /// The scenario as the page runs it (its isolation levels and mode applied).
    pub scenario: Scenario,
    /// The seed every run uses.
    pub seed: u64,
}

/// What a job found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A comparison: each mode's run, in the order of [`Variant::all_for`].
    Compared(Vec<ModeRun>),
    /// A sweep: each point.
    Swept(Sweep),
}

/// How far a job has got: `done` of its `of` runs finished, and the one running now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobProgress {
    /// Runs finished (modes compared, points swept).
    pub done: usize,
    /// Runs in all.
    pub of: usize,
    /// The run that starts now, where it has a name (a comparison's mode).
    #[serde(default)]
    pub running: Option<String>,
}

/// Why a job found nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum JobError {
    /// A mode's world could not be built.
    #[error("The {mode} mode cannot be compared: {message}")]
    Compare {
        /// The mode (a [`Variant`]'s name).
        mode: String,
        /// Why.
        message: String,
    },
    /// The sweep could not run (no `[sweep]`, or a point's world could not be built).
    #[error("The sweep cannot run: {0}")]
    Sweep(String),
    /// The job's scenario could not be read or prepared again where it runs.
    #[error("The job's scenario cannot be built: {0}")]
    Scenario(String),
    /// A job or a report that did not read as one (what the worker and the page send each
    /// other is JSON).
    #[error("The job's messages could not be read: {0}")]
    Unreadable(String),
    /// The engine panicked while running the job (WebAssembly cannot go on after that: the
    /// worker that ran it is gone, and the next job starts a new one).
    #[error("The SQL engine stopped while running it: {0}")]
    Crashed(String),
    /// No worker could run the job (the page holds no engine of its own).
    #[error("No worker could run it: {0}")]
    NoWorker(String),
}

impl JobKind {
    /// What it runs, in a few words for the page ("Comparing the modes").
    pub fn doing(&self) -> &'static str {
        match self {
            Self::Compare { .. } => "Comparing the modes",
            Self::Sweep { .. } => "Sweeping the scale",
        }
    }
}

impl Job {
    /// Runs the job here and now, telling `progress` before each run and once all are done.
    ///
    /// # Errors
    ///
    /// [`JobError::Compare`] for the first mode whose world cannot be built;
    /// [`JobError::Sweep`] when the scenario has no sweep or a point cannot be built.
    pub fn run(&self, mut progress: impl FnMut(JobProgress)) -> Result<Outcome, JobError> {
        let Self {
            kind,
            scenario,
            seed,
        } = self;
        match *kind {
            JobKind::Compare { at } => {
                let variants = Variant::all_for(scenario);
                let of = variants.len();
                let mut runs = Vec::with_capacity(of);
                for (done, variant) in variants.iter().enumerate() {
                    progress(JobProgress {
                        done,
                        of,
                        running: Some(variant.name()),
                    });
                    let run = compare_runs(scenario, std::slice::from_ref(variant), *seed, at)
                        .map_err(|(variant, error)| JobError::Compare {
                            mode: variant.name(),
                            message: error.to_string(),
                        })?;
                    runs.extend(run);
                }
                progress(JobProgress {
                    done: of,
                    of,
                    running: None,
                });
                Ok(Outcome::Compared(runs))
            }
            JobKind::Sweep { until } => {
                let error = |e: sweep::SweepError| JobError::Sweep(e.to_string());
                let (axis, watch) = sweep::resolve(scenario, &Default::default()).map_err(error)?;
                let swept = sweep::sweep(scenario, &axis, &watch, *seed, until, |done, of| {
                    progress(JobProgress {
                        done,
                        of,
                        running: None,
                    })
                })
                .map_err(error)?;
                let of = swept.points.len();
                progress(JobProgress {
                    done: of,
                    of,
                    running: None,
                });
                Ok(Outcome::Swept(swept))
            }
        }
    }
}

/// What the worker tells the page about job `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobReport {
    /// The job's number.
    pub id: u32,
    /// How it goes.
    pub news: News,
}

/// How a job goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum News {
    /// Still running.
    Progress(JobProgress),
    /// Finished: what it found, or why it found nothing.
    Done(Result<Outcome, JobError>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::builtin::SCENARIOS;
    use crate::sim::clock::SECOND;

    fn scenario(name: &str) -> Scenario {
        Scenario::parse(crate::sim::builtin::scenario_text(name).expect("built in")).expect("valid")
    }

    /// A comparison's report read back as JSON is what the comparison found run directly,
    /// trace hashes and latencies alike; progress counts up to the number of modes. (The
    /// figures are written in their shortest form and read back by serde_json's default float
    /// parser, exact for these; its `float_roundtrip` feature, 9 KB of the page's gzip, would
    /// make it exact for every float.)
    #[test]
    fn a_comparison_through_json_finds_what_it_finds_directly() {
        let scenario = scenario("shop");
        let (seed, at) = (7, 3 * SECOND);
        let direct = compare_runs(&scenario, &Variant::all_for(&scenario), seed, at)
            .expect("the shop compares");
        let job = Job {
            kind: JobKind::Compare { at },
            scenario,
            seed,
        };
        let mut heard = Vec::new();
        let report = JobReport {
            id: 3,
            news: News::Done(job.run(|p| heard.push(p))),
        };
        let text = serde_json::to_string(&report).expect("the report writes");
        let report: JobReport = serde_json::from_str(&text).expect("the report reads back");
        assert_eq!(report.id, 3);
        assert_eq!(
            report.news,
            News::Done(Ok(Outcome::Compared(direct.clone())))
        );
        let of = direct.len();
        assert!(of >= 2, "the shop runs in several modes");
        assert_eq!(
            heard.first(),
            Some(&JobProgress {
                done: 0,
                of,
                running: Some("shared".to_owned())
            })
        );
        assert_eq!(heard.last().map(|p| (p.done, p.of)), Some((of, of)));
        assert!(heard.windows(2).all(|w| w[0].done < w[1].done));
    }

    /// A sweep runs each point of the scenario's `[sweep]`; a scenario without one is a
    /// [`JobError::Sweep`] that says so, not a panic.
    #[test]
    fn a_sweep_runs_each_point_and_a_scenario_without_one_says_so() {
        let with = SCENARIOS
            .iter()
            .map(|(name, _)| scenario(name))
            .find(|s| s.sweep.is_some())
            .expect("a built-in scenario sweeps");
        let job = Job {
            kind: JobKind::Sweep { until: SECOND },
            scenario: with,
            seed: 1,
        };
        let mut heard = Vec::new();
        let Ok(Outcome::Swept(swept)) = job.run(|p| heard.push(p)) else {
            panic!("the sweep runs");
        };
        assert!(swept.points.len() >= 2);
        let points = swept.points.len();
        assert_eq!(heard.last().map(|p| (p.done, p.of)), Some((points, points)));
        let without = Job {
            kind: JobKind::Sweep { until: SECOND },
            scenario: scenario("shop"),
            seed: 1,
        };
        let error = without.run(|_| {}).expect_err("the shop has no sweep");
        assert!(matches!(error, JobError::Sweep(_)));
        assert!(error.to_string().contains("no [sweep]"), "{error}");
    }
}
