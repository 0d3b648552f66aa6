//! A live run served away from the page — in a Web Worker — so that no simulation event, not
//! even a 20,000-row report, holds one of the page's frames.
//!
//! The page sends [`ToRun`] messages: start a run, ask it something ([`RunRequest`]), move it
//! (play, pause, run to a time: a [`Motion`], with the message viewer's settings). The
//! [`RunServer`] answers each request at once, and while the run moves it plays a slice a
//! tick ([`LiveRun::tick`]) and reports each as a [`FromRun::Frame`], with what is shown when
//! it was taken again. Every message names its run (a number the page gives each new run), so
//! that the news of a run the page has moved on from is told apart and dropped.
//!
//! The messages travel as JSON. Nothing here knows the browser: the server is driven by the
//! worker's loop in `ui`, and natively by the tests below.

use crate::sim::clock::Micros;
use crate::sim::live_run::{LiveRun, Motion, Shown, Tick, Viewer};
use crate::sim::playback::Playback;
use crate::sim::run_requests::{RunAnswer, RunRequest};
use crate::sim::scenario::{Scenario, ScenarioError};
use serde::{Deserialize, Serialize};

/// The budget of a tick of the served run (ms of wall time): a worker holds no frame, so a
/// tick may use most of a 60 Hz frame's time.
pub const TICK_BUDGET_MS: f64 = 14.0;

/// How often the served run ticks while it moves (ms of wall time).
pub const TICK_EVERY_MS: f64 = 16.0;

/// A message from the page to its served run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToRun {
    /// Start run number `run` of `scenario` (prepared: its isolation levels and mode applied)
    /// with `seed`, in place of any other.
    Start {
        /// The page's number for the run.
        run: u32,
        /// The scenario.
        scenario: Box<Scenario>,
        /// The seed.
        seed: u64,
    },
    /// Ask run `run` something; answered with `id`.
    Ask {
        /// The run asked.
        run: u32,
        /// The page's number for the request.
        id: u32,
        /// What is asked.
        request: RunRequest,
        /// The viewer's settings, for the refresh after it.
        viewer: Viewer,
        /// Whether the page plays (then the checker waits for its second).
        playing: bool,
    },
    /// Whether `scenario` (prepared) builds with `seed`, without touching the run served:
    /// answered by [`FromRun::Checked`] with `id` (the editor's Apply asks this first, so that
    /// a scenario that does not build leaves the run as it was).
    Check {
        /// The page's number for the question.
        id: u32,
        /// The scenario.
        scenario: Box<Scenario>,
        /// The seed.
        seed: u64,
    },
    /// How run `run` moves from now on, and the viewer's settings.
    Move {
        /// The run.
        run: u32,
        /// Still, playing, or running to a time.
        motion: Motion,
        /// The viewer's settings.
        viewer: Viewer,
        /// Where the page's clock stood when it said so: a run told to stop goes back there if
        /// it played past it meanwhile (what the student paused on is what stays).
        #[serde(default)]
        at: Option<Micros>,
    },
}

/// A message from the served run to the page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FromRun {
    /// Run `run` started (with what it shows at 0 s), or could not.
    Started {
        /// The run.
        run: u32,
        /// What it shows, or why it could not start.
        result: Result<Box<Shown>, ScenarioError>,
    },
    /// The answer to request `id` of run `run`, and what the run shows after it.
    Answer {
        /// The run.
        run: u32,
        /// The request answered.
        id: u32,
        /// The answer.
        answer: RunAnswer,
        /// What the run shows after it.
        shown: Box<Shown>,
    },
    /// The answer to [`ToRun::Check`] `id`: what building the scenario found wrong, if
    /// anything.
    Checked {
        /// The question answered.
        id: u32,
        /// The problem, if the run does not build.
        problem: Option<ScenarioError>,
    },
    /// The server stopped (a panic, a module that did not load where it runs): the run is
    /// gone.
    Failed {
        /// Why.
        why: String,
        /// The SQL statement the engine was running when it panicked, if it was.
        #[serde(default)]
        statement: Option<String>,
    },
    /// A tick of run `run`, with what it shows when that was taken again.
    Frame {
        /// The run.
        run: u32,
        /// What the tick did.
        tick: Tick,
        /// What the run shows, when the tick took it again.
        shown: Option<Box<Shown>>,
    },
}

/// The served run, with how it moves.
#[derive(Debug, Default)]
pub struct RunServer {
    /// The run and its number, once one has started.
    run: Option<(u32, LiveRun)>,
    /// How it moves.
    motion: Option<Motion>,
    /// The viewer's settings.
    viewer: Viewer,
}

impl RunServer {
    /// A server with no run yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the run moves (the worker's loop ticks it).
    pub fn moving(&self) -> bool {
        self.run.is_some() && self.motion.is_some_and(|m| m != Motion::Still)
    }

    /// Takes in one message from the page, and says what to post back. `clock` tells the wall
    /// time (ms).
    pub fn receive(&mut self, message: ToRun, mut clock: impl FnMut() -> f64) -> Vec<FromRun> {
        match message {
            ToRun::Start {
                run,
                scenario,
                seed,
            } => {
                self.motion = None;
                self.run = None;
                self.viewer = Viewer::default();
                let result = Playback::new(*scenario, seed).map(|playback| {
                    let mut live = LiveRun::new(playback);
                    let shown = Box::new(live.refresh(&self.viewer, clock(), false).clone());
                    self.run = Some((run, live));
                    shown
                });
                vec![FromRun::Started { run, result }]
            }
            ToRun::Check { id, scenario, seed } => vec![FromRun::Checked {
                id,
                problem: Playback::new(*scenario, seed).err(),
            }],
            ToRun::Ask {
                run,
                id,
                request,
                viewer,
                playing,
            } => {
                let Some((current, live)) = self.run.as_mut().filter(|(r, _)| *r == run) else {
                    return Vec::new();
                };
                self.viewer = viewer;
                // Asked as paused (a step, a reset): the run stops where it is first, as the
                // page's own run would.
                if !playing {
                    self.motion = Some(Motion::Still);
                }
                let answer = live.handle(request, &self.viewer, playing, &mut clock);
                vec![FromRun::Answer {
                    run: *current,
                    id,
                    answer,
                    shown: Box::new(live.shown().clone()),
                }]
            }
            ToRun::Move {
                run,
                motion,
                viewer,
                at,
            } => {
                if self.run.as_ref().is_some_and(|(r, _)| *r == run) {
                    let viewer_changed = viewer != self.viewer;
                    let stopped = self.motion.is_some_and(|m| m != Motion::Still);
                    self.motion = Some(motion);
                    self.viewer = viewer;
                    // A run that stops, or a paused run's new viewer setting, shows itself at
                    // once (paused, the checker and checkpoints are taken at once).
                    if (viewer_changed || stopped) && motion == Motion::Still {
                        if let Some((run, live)) = self.run.as_mut() {
                            if let Some(at) = at.filter(|at| stopped && *at < live.playback().now())
                            {
                                // A run that built once rebuilds: should it not, it stays
                                // where it is, which it shows.
                                if live.playback_mut().seek(at).is_err() {
                                    self.motion = Some(Motion::Still);
                                }
                            }
                            let shown =
                                Box::new(live.refresh(&self.viewer, clock(), false).clone());
                            return vec![FromRun::Frame {
                                run: *run,
                                tick: Tick::still(live.playback().now(), live.shown().events),
                                shown: Some(shown),
                            }];
                        }
                    }
                }
                Vec::new()
            }
        }
    }

    /// One tick at wall time `at` (ms) of a moving run, within [`TICK_BUDGET_MS`] (`clock`
    /// tells the wall time as it passes): its frame, unless the tick changed nothing. A run to
    /// a time that arrives, or a script that ends, stops moving.
    pub fn tick(&mut self, at: f64, clock: impl FnMut() -> f64) -> Option<FromRun> {
        let motion = self.motion?;
        let (run, live) = self.run.as_mut()?;
        if motion == Motion::Still {
            return None;
        }
        let tick = live.tick_within(at, motion, &self.viewer, TICK_BUDGET_MS, clock);
        if tick.arrived || matches!(tick.script, Some(Ok(false) | Err(_))) {
            self.motion = Some(Motion::Still);
        }
        if tick.idle() {
            return None;
        }
        let shown = tick.view_ms.map(|_| Box::new(live.shown().clone()));
        Some(FromRun::Frame {
            run: *run,
            tick,
            shown,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::builtin;
    use crate::sim::clock::SECOND;
    use crate::sim::world::Command;

    fn scenario(name: &str) -> Scenario {
        let text = builtin::scenario_text(name).expect("a built-in scenario");
        Scenario::parse(text).expect("it reads")
    }

    /// Sends `message` through JSON, and the server's messages back through JSON.
    fn send(server: &mut RunServer, message: ToRun) -> Vec<FromRun> {
        let text = serde_json::to_string(&message).expect("it writes");
        let message: ToRun = serde_json::from_str(&text).expect("it reads back");
        server
            .receive(message, || 0.0)
            .into_iter()
            .map(|m| {
                let text = serde_json::to_string(&m).expect("it writes");
                serde_json::from_str(&text).expect("it reads back")
            })
            .collect()
    }

    fn start(server: &mut RunServer, run: u32, name: &str) -> Box<Shown> {
        let scenario = scenario(name);
        let seed = scenario.seed;
        let mut news = send(
            server,
            ToRun::Start {
                run,
                scenario: Box::new(scenario),
                seed,
            },
        );
        match news.pop() {
            Some(FromRun::Started {
                run: started,
                result: Ok(shown),
            }) if started == run => shown,
            other => panic!("it starts: {other:?}"),
        }
    }

    #[test]
    fn every_built_in_scenario_travels_as_json_unchanged() {
        for (name, text) in builtin::SCENARIOS {
            let scenario = Scenario::parse(text).expect("it reads");
            let json = serde_json::to_string(&scenario).expect("it writes");
            let back: Scenario = serde_json::from_str(&json).expect("it reads back");
            assert_eq!(back, scenario, "{name}");
        }
    }

    #[test]
    fn a_served_run_plays_a_tick_at_a_time_and_shows_itself_on_its_rhythm() {
        let mut server = RunServer::new();
        let shown = start(&mut server, 1, "shop");
        assert_eq!(shown.now, 0);
        assert!(!server.moving(), "a new run is still");
        assert!(server.tick(0.0, || 0.0).is_none());
        send(
            &mut server,
            ToRun::Move {
                run: 1,
                motion: Motion::Playing { speed: Some(1.0) },
                viewer: Viewer::default(),
                at: None,
            },
        );
        assert!(server.moving());
        let mut frames = 0;
        let mut shown_at = Vec::new();
        for i in 0..40 {
            let at = 1_000.0 + f64::from(i) * TICK_EVERY_MS;
            if let Some(FromRun::Frame { run, tick, shown }) = server.tick(at, || 0.0) {
                assert_eq!(run, 1);
                frames += 1;
                if let Some(shown) = shown {
                    assert_eq!(shown.now, tick.advanced.to, "shown as it is");
                    shown_at.push(at);
                }
            }
        }
        assert!(frames >= 38, "a frame a tick, but the first: {frames}");
        assert!(
            (5..=8).contains(&shown_at.len()),
            "shown every 100 ms over 640 ms: {shown_at:?}"
        );
    }

    #[test]
    fn requests_are_answered_for_their_run_only_and_a_run_to_a_time_stops_on_arrival() {
        let mut server = RunServer::new();
        start(&mut server, 1, "shop");
        start(&mut server, 2, "shop");
        let ask = |run| ToRun::Ask {
            run,
            id: 7,
            request: RunRequest::Apply(Command::PauseService {
                service: "billing".to_owned(),
            }),
            viewer: Viewer::default(),
            playing: false,
        };
        assert!(
            send(&mut server, ask(1)).is_empty(),
            "a run the page has left gets no answer"
        );
        let news = send(&mut server, ask(2));
        assert!(
            matches!(
                news.as_slice(),
                [FromRun::Answer { run: 2, id: 7, answer: RunAnswer::Applied { result: Ok(_), .. }, shown }]
                    if shown.commands.len() == 1
            ),
            "{news:?}"
        );
        send(
            &mut server,
            ToRun::Move {
                run: 2,
                motion: Motion::RunningTo(5 * SECOND),
                viewer: Viewer::default(),
                at: None,
            },
        );
        let mut wall = 0.0;
        let mut arrived = None;
        for _ in 0..10_000 {
            match server.tick(wall, || {
                wall += 1.0;
                wall
            }) {
                Some(FromRun::Frame { tick, shown, .. }) if tick.arrived => {
                    arrived = shown;
                    break;
                }
                _ => {}
            }
        }
        let arrived = arrived.expect("it arrives, and shows itself there");
        assert_eq!(arrived.now, 5 * SECOND);
        assert!(!server.moving(), "and stops there");
    }

    #[test]
    fn a_run_told_to_stop_goes_back_to_where_the_page_paused() {
        let mut server = RunServer::new();
        start(&mut server, 1, "shop");
        let play = |motion, at| ToRun::Move {
            run: 1,
            motion,
            viewer: Viewer::default(),
            at,
        };
        send(
            &mut server,
            play(Motion::Playing { speed: Some(1.0) }, None),
        );
        for i in 0..30 {
            server.tick(f64::from(i) * TICK_EVERY_MS, || 0.0);
        }
        let news = send(
            &mut server,
            play(Motion::Still, Some(200 * crate::sim::clock::MS)),
        );
        let [FromRun::Frame {
            shown: Some(shown), ..
        }] = news.as_slice()
        else {
            panic!("a stopped run shows itself: {news:?}");
        };
        assert_eq!(
            shown.now,
            200 * crate::sim::clock::MS,
            "back where the page's clock stood"
        );
        assert!(!server.moving());
    }

    #[test]
    fn a_paused_run_shows_a_new_viewer_setting_at_once() {
        let mut server = RunServer::new();
        start(&mut server, 1, "cdc-basics");
        send(
            &mut server,
            ToRun::Ask {
                run: 1,
                id: 1,
                request: RunRequest::Seek(3 * SECOND),
                viewer: Viewer::default(),
                playing: false,
            },
        );
        let news = send(
            &mut server,
            ToRun::Move {
                run: 1,
                motion: Motion::Still,
                viewer: Viewer {
                    topic: Some("shop.public.orders".to_owned()),
                    ..Viewer::default()
                },
                at: None,
            },
        );
        let [FromRun::Frame {
            shown: Some(shown), ..
        }] = news.as_slice()
        else {
            panic!("shown at once: {news:?}");
        };
        assert!(!shown.messages.is_empty(), "the topic's messages by 3 s");
    }

    #[test]
    fn a_check_builds_the_scenario_aside_and_leaves_the_run_served_as_it_was() {
        let mut server = RunServer::new();
        start(&mut server, 1, "shop");
        let moving = ToRun::Move {
            run: 1,
            motion: Motion::Playing { speed: Some(1.0) },
            viewer: Viewer::default(),
            at: None,
        };
        send(&mut server, moving);
        let text = builtin::scenario_text("shop").expect("the shop");
        assert!(text.contains("FROM jobs"));
        let broken = Scenario::parse(&text.replace("FROM jobs", "FROM jobz")).expect("it reads");
        let check = |server: &mut RunServer, id: u32, scenario: Scenario| {
            let seed = scenario.seed;
            let scenario = Box::new(scenario);
            match send(server, ToRun::Check { id, scenario, seed }).as_slice() {
                [FromRun::Checked {
                    id: answered,
                    problem,
                }] if *answered == id => problem.clone(),
                other => panic!("one answer to check {id}: {other:?}"),
            }
        };
        let problem = check(&mut server, 7, broken).expect("a table that is not there");
        assert!(problem.to_string().contains("jobz"), "{problem}");
        assert_eq!(check(&mut server, 8, scenario("cdc-basics")), None);
        // The run served is the same run, still playing.
        assert!(server.moving());
        let news = send(
            &mut server,
            ToRun::Ask {
                run: 1,
                id: 9,
                request: RunRequest::Exports,
                viewer: Viewer::default(),
                playing: true,
            },
        );
        assert!(
            matches!(
                news.as_slice(),
                [FromRun::Answer { run: 1, answer: RunAnswer::Exports(files), .. }]
                    if files.iter().all(|f| f.file_name.starts_with("shop"))
            ),
            "the shop's run 1 answers: {news:?}"
        );
    }
}
