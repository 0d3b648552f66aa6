//! What the page asks of its live run, and what the run answers: the one way the page changes
//! or reads a [`LiveRun`] beyond its frames ([`LiveRun::tick`]).
//!
//! Every request is answered at once by [`LiveRun::handle`], which then takes what is shown
//! again (for the requests that change the run). Requests and answers are plain data that come
//! through JSON unchanged, so that the run can live where the page is not — in a Web Worker,
//! whose answers arrive a little later: the page reads an answer the same way wherever it came
//! from.

use crate::sim::clock::Micros;
use crate::sim::coupling::PreviewError;
use crate::sim::export::{ExportFile, ExportKind};
use crate::sim::live_run::{LiveRun, Viewer};
use crate::sim::playback::RecordedCommand;
use crate::sim::scenario::ScenarioError;
use crate::sim::world::{Command, CommandError, LivePreview};
use serde::{Deserialize, Serialize};

/// Something the page asks of its run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunRequest {
    /// Give the world a command now (the student's, or a script's next step).
    Apply(Command),
    /// Handle the next instant's events.
    StepInstant,
    /// Take back the last script step given.
    UndoScriptStep,
    /// Go to a time (forward by running, back from a checkpoint).
    Seek(Micros),
    /// Start again from 0 s with the same seed and no commands.
    Reset,
    /// Start again from 0 s with another seed.
    SetSeed(u64),
    /// Play a recorded run's commands from 0 s to `until` (a link, a saved run, a crash).
    Replay {
        /// The commands, in time order.
        commands: Vec<RecordedCommand>,
        /// How far to play.
        until: Micros,
    },
    /// What running a schema change now would do.
    Preview {
        /// The database.
        database: String,
        /// The SQL.
        sql: String,
    },
    /// One of the run's exports, written out.
    Export(ExportKind),
    /// The files the run can be exported as now.
    Exports,
}

impl RunRequest {
    /// Whether it changes the run (what is shown is then taken again).
    pub fn changes_the_run(&self) -> bool {
        !matches!(self, Self::Preview { .. } | Self::Export(_) | Self::Exports)
    }
}

/// The run's answer to a [`RunRequest`], with what the page needs to say about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunAnswer {
    /// A command given: the world's sentence, or why it was refused.
    Applied {
        /// The command.
        command: Command,
        /// When it was given (simulated time).
        at: Micros,
        /// What it did, or why not.
        result: Result<String, CommandError>,
    },
    /// An instant handled.
    Stepped,
    /// A script step taken back (`Ok(false)`: the script was at its start).
    Undone(Result<bool, ScenarioError>),
    /// A time reached.
    Sought {
        /// The time asked for.
        to: Micros,
        /// The time the run went on from (a checkpoint, 0 s, or where it was), or why it could
        /// not.
        from: Result<Micros, ScenarioError>,
        /// How long it took (ms of wall time).
        took_ms: f64,
        /// Whether it went back in time.
        back: bool,
    },
    /// The run started again from 0 s (with `seed`, if another was asked for).
    Restarted {
        /// The new seed, if it changed.
        seed: Option<u64>,
        /// How many of the user's commands the new start cleared.
        cleared: usize,
        /// Why it could not, if it could not.
        result: Result<(), ScenarioError>,
    },
    /// A recorded run replayed.
    Replayed(Result<(), ScenarioError>),
    /// A schema change previewed, or why it cannot be (not a schema change: then it is run
    /// as it is).
    Previewed {
        /// The database.
        database: String,
        /// The SQL.
        sql: String,
        /// What it would do.
        result: Result<LivePreview, PreviewError>,
    },
    /// An export written (`None`: the run has no such export).
    Exported {
        /// What was asked for.
        kind: ExportKind,
        /// The file's text.
        text: Option<String>,
    },
    /// The files the run can be exported as now.
    Exports(Vec<ExportFile>),
}

impl LiveRun {
    /// Does what `request` asks and answers it; a request that changes the run is followed by
    /// a refresh of what is shown, at wall time `wall` (ms), with the viewer's settings, as
    /// playing or not. `clock` tells the wall time as it passes (for how long a seek took).
    pub fn handle(
        &mut self,
        request: RunRequest,
        viewer: &Viewer,
        playing: bool,
        mut clock: impl FnMut() -> f64,
    ) -> RunAnswer {
        let changes = request.changes_the_run();
        let started = clock();
        let playback = self.playback_mut();
        let now = playback.now();
        let cleared = playback.commands().len();
        let answer = match request {
            RunRequest::Apply(command) => RunAnswer::Applied {
                at: now,
                result: playback.apply(command.clone()),
                command,
            },
            RunRequest::StepInstant => {
                playback.step_instant();
                RunAnswer::Stepped
            }
            RunRequest::UndoScriptStep => RunAnswer::Undone(playback.undo_script_step()),
            RunRequest::Seek(to) => {
                let from = playback.seek(to);
                RunAnswer::Sought {
                    to,
                    from,
                    took_ms: clock() - started,
                    back: to < now,
                }
            }
            RunRequest::Reset => RunAnswer::Restarted {
                seed: None,
                cleared,
                result: playback.reset(),
            },
            RunRequest::SetSeed(seed) => RunAnswer::Restarted {
                seed: Some(seed),
                cleared,
                result: playback.set_seed(seed),
            },
            RunRequest::Replay { commands, until } => {
                RunAnswer::Replayed(playback.replay(commands, until))
            }
            RunRequest::Preview { database, sql } => RunAnswer::Previewed {
                result: playback.world().preview_schema_change(&database, &sql),
                database,
                sql,
            },
            RunRequest::Export(kind) => RunAnswer::Exported {
                text: crate::sim::export::write(playback.world(), &kind),
                kind,
            },
            RunRequest::Exports => RunAnswer::Exports(crate::sim::export::files(
                playback.world(),
                &playback.scenario().name,
            )),
        };
        if changes {
            self.refresh(viewer, clock(), playing);
        }
        answer
    }
}

impl RunAnswer {
    /// Whether the request it answers changed the run (see [`RunRequest::changes_the_run`]).
    pub fn changed_the_run(&self) -> bool {
        !matches!(
            self,
            Self::Previewed { .. } | Self::Exported { .. } | Self::Exports(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::builtin;
    use crate::sim::clock::{MS, SECOND};
    use crate::sim::playback::Playback;

    fn run(name: &str) -> LiveRun {
        let text = builtin::scenario_text(name).expect("a built-in scenario");
        let scenario = crate::sim::scenario::Scenario::parse(text).expect("it reads");
        let seed = scenario.seed;
        LiveRun::new(Playback::new(scenario, seed).expect("it builds"))
    }

    /// Asks `request` of `live`, paused, with the viewer closed, the request and its answer
    /// sent through JSON as a worker would.
    fn ask(live: &mut LiveRun, request: RunRequest) -> RunAnswer {
        let text = serde_json::to_string(&request).expect("it writes");
        let request: RunRequest = serde_json::from_str(&text).expect("it reads back");
        let answer = live.handle(request, &Viewer::default(), false, || 0.0);
        let text = serde_json::to_string(&answer).expect("it writes");
        let back: RunAnswer = serde_json::from_str(&text).expect("it reads back");
        assert_eq!(back, answer, "the answer comes through JSON unchanged");
        back
    }

    #[test]
    fn a_command_is_answered_with_its_sentence_or_its_refusal_and_shown_at_once() {
        let mut live = run("shop");
        live.playback_mut().run_until(2 * SECOND, || true);
        let answer = ask(
            &mut live,
            RunRequest::Apply(Command::PauseService {
                service: "billing".to_owned(),
            }),
        );
        let RunAnswer::Applied { at, result, .. } = answer else {
            panic!("answered as a command: {answer:?}");
        };
        assert_eq!(at, 2 * SECOND);
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(live.playback().commands().len(), 1, "recorded");
        assert!(
            live.shown()
                .view
                .services
                .iter()
                .any(|s| s.name == "billing" && s.paused),
            "what is shown was taken again"
        );
        let refused = ask(
            &mut live,
            RunRequest::Apply(Command::PauseService {
                service: "nobody".to_owned(),
            }),
        );
        assert!(
            matches!(
                refused,
                RunAnswer::Applied {
                    result: Err(CommandError::UnknownService(_)),
                    ..
                }
            ),
            "{refused:?}"
        );
        assert_eq!(
            live.playback().commands().len(),
            1,
            "a refusal is not recorded"
        );
    }

    #[test]
    fn seeking_stepping_and_starting_again_move_the_run_and_what_is_shown() {
        let mut live = run("shop");
        let answer = ask(&mut live, RunRequest::Seek(3 * SECOND));
        assert!(
            matches!(answer, RunAnswer::Sought { to, from: Ok(0), back: false, .. } if to == 3 * SECOND),
            "{answer:?}"
        );
        assert_eq!(live.shown().now, 3 * SECOND);
        let back = ask(&mut live, RunRequest::Seek(3 * SECOND - 100 * MS));
        assert!(
            matches!(back, RunAnswer::Sought { from: Ok(from), back: true, .. } if from < 3 * SECOND - 100 * MS),
            "going back runs on from an earlier time: {back:?}"
        );
        assert_eq!(ask(&mut live, RunRequest::StepInstant), RunAnswer::Stepped);
        assert!(live.shown().now > 3 * SECOND - 100 * MS, "an instant later");
        let seed = live.playback().seed() + 1;
        let answer = ask(&mut live, RunRequest::SetSeed(seed));
        assert_eq!(
            answer,
            RunAnswer::Restarted {
                seed: Some(seed),
                cleared: 0,
                result: Ok(())
            }
        );
        assert_eq!((live.shown().now, live.playback().seed()), (0, seed));
    }

    #[test]
    fn a_replayed_run_comes_back_with_its_commands_and_a_script_step_can_be_taken_back() {
        let mut live = run("shop");
        live.playback_mut().run_until(SECOND, || true);
        ask(
            &mut live,
            RunRequest::Apply(Command::PauseService {
                service: "billing".to_owned(),
            }),
        );
        let commands = live.playback().commands().to_vec();
        let mut other = run("shop");
        let answer = ask(
            &mut other,
            RunRequest::Replay {
                commands,
                until: 2 * SECOND,
            },
        );
        assert_eq!(answer, RunAnswer::Replayed(Ok(())));
        assert_eq!(other.shown().now, 2 * SECOND);
        assert_eq!(other.playback().commands(), live.playback().commands());

        let mut script = run("lost-update");
        assert_eq!(
            ask(&mut script, RunRequest::UndoScriptStep),
            RunAnswer::Undone(Ok(false)),
            "nothing to take back at the start"
        );
        ask(&mut script, RunRequest::Apply(Command::ScriptStep));
        assert_eq!(
            ask(&mut script, RunRequest::UndoScriptStep),
            RunAnswer::Undone(Ok(true))
        );
        assert!(script.playback().commands().is_empty());
    }

    #[test]
    fn reading_requests_answer_without_changing_the_run() {
        let mut live = run("shop");
        live.playback_mut().run_until(2 * SECOND, || true);
        let events = live.playback().world().events();
        let preview = ask(
            &mut live,
            RunRequest::Preview {
                database: "shop".to_owned(),
                sql: "ALTER TABLE orders RENAME COLUMN status TO state".to_owned(),
            },
        );
        let RunAnswer::Previewed {
            result: Ok(preview),
            ..
        } = preview
        else {
            panic!("a rename is a schema change: {preview:?}");
        };
        assert!(
            !preview.preview.breaks.is_empty(),
            "the rename breaks what names orders.status"
        );
        let not_schema = ask(
            &mut live,
            RunRequest::Preview {
                database: "shop".to_owned(),
                sql: "SELECT 1".to_owned(),
            },
        );
        assert!(
            matches!(not_schema, RunAnswer::Previewed { result: Err(_), .. }),
            "{not_schema:?}"
        );
        let RunAnswer::Exports(files) = ask(&mut live, RunRequest::Exports) else {
            panic!("a list of files");
        };
        assert!(files.iter().any(|f| f.kind == ExportKind::Metrics));
        let RunAnswer::Exported {
            text: Some(text), ..
        } = ask(&mut live, RunRequest::Export(ExportKind::Metrics))
        else {
            panic!("the metrics are exported");
        };
        assert!(text.lines().count() > 1, "a header and a row a second");
        assert_eq!(
            ask(
                &mut live,
                RunRequest::Export(ExportKind::Topic("none".to_owned()))
            ),
            RunAnswer::Exported {
                kind: ExportKind::Topic("none".to_owned()),
                text: None
            }
        );
        assert_eq!(live.playback().world().events(), events, "nothing ran");
        assert!(live.playback().commands().is_empty());
    }

    #[test]
    fn every_request_and_its_answer_agree_on_whether_the_run_changed() {
        let mut live = run("shop");
        ask(&mut live, RunRequest::Seek(2 * SECOND));
        let requests = vec![
            RunRequest::Apply(Command::PauseService {
                service: "billing".to_owned(),
            }),
            RunRequest::StepInstant,
            RunRequest::UndoScriptStep,
            RunRequest::Seek(SECOND),
            RunRequest::Seek(2 * SECOND),
            RunRequest::Preview {
                database: "shop".to_owned(),
                sql: "ALTER TABLE orders RENAME COLUMN status TO state".to_owned(),
            },
            RunRequest::Export(ExportKind::Metrics),
            RunRequest::Exports,
            RunRequest::Replay {
                commands: Vec::new(),
                until: SECOND,
            },
            RunRequest::SetSeed(7),
            RunRequest::Reset,
        ];
        for request in requests {
            let said = request.changes_the_run();
            let answer = ask(&mut live, request.clone());
            assert_eq!(
                answer.changed_the_run(),
                said,
                "{request:?} answered {answer:?}"
            );
        }
    }
}
