//! A live run as the page plays it: a [`Playback`] and what the page shows of it, refreshed on
//! the page's rhythm.
//!
//! The page draws a [`Shown`]: the panels' [`PageView`], the message viewer's list, the invariant
//! checker's verdict, the lesson's checkpoints and the coupling map. The view is cheap and is
//! taken at every refresh; the checker and the checkpoints read every read model and may run
//! queries, so while the page plays they are taken about once a second of wall time (at once
//! when paused, after going back, and at the scenario's end); the coupling map is rebuilt only
//! when what it is drawn from changes (a schema change, a version deployed or retired).
//!
//! Nothing here knows the browser: the wall time comes in as a number, so the same run can be
//! refreshed on the page, in a worker or in a test.

use crate::sim::clock::{Micros, SECOND};
use crate::sim::coupling::{Columns, CouplingMap};
use crate::sim::expectation::{keep_settled, Verdict};
use crate::sim::messages::{messages, MessageView};
use crate::sim::playback::{Playback, RecordedCommand};
use crate::sim::view::{page_view, PageView};
use crate::sim::world::{Command, CommandError, InvariantReport};
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// How many messages the viewer lists.
pub const VIEWER_MESSAGES: usize = 40;

/// While playing, the checker and the checkpoints are taken at most this often (ms of wall
/// time).
pub const CHECK_EVERY_MS: f64 = 1_000.0;

/// How far a slice played at "max" speed asks to go: its budget stops it first.
pub const MAX_SLICE: Micros = 3_600 * SECOND;

/// How long one frame may spend advancing the simulation (ms of wall time).
pub const FRAME_BUDGET_MS: f64 = 8.0;

/// How many frame budgets one frame may spend running to a link's time: the page shows only
/// the progress meanwhile, so it can spend more.
pub const RUN_TO_FACTOR: f64 = 4.0;

/// How often the panels are rebuilt while playing (ms of wall time).
pub const VIEW_EVERY_MS: f64 = 100.0;

/// How often a playing script issues its next step (ms of wall time).
pub const SCRIPT_STEP_MS: f64 = 1_200.0;

/// The longest wall time one frame plays (ms): after a stall (a background tab, a debugger),
/// the run goes on from where it was rather than leaping.
pub const MAX_FRAME_MS: f64 = 100.0;

/// What the page asks of the run at a frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Motion {
    /// Paused: nothing moves.
    Still,
    /// Playing at `speed` (simulated seconds a wall second; `None`: as fast as the frame
    /// budget lets it).
    Playing {
        /// The speed.
        speed: Option<f64>,
    },
    /// Running to a link's time, a budgeted slice a frame (going there at once would hold the
    /// page).
    RunningTo(Micros),
}

/// What one frame did to the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    /// The simulated time it covered.
    pub advanced: Advanced,
    /// The wall time it played (ms; 0 on a frame that starts playing or changes speed).
    pub elapsed_ms: f64,
    /// The wall time it spent advancing the world (ms).
    pub step_ms: f64,
    /// The wall time it spent taking what is shown (ms), if it did ([`LiveRun::shown`] is new).
    pub view_ms: Option<f64>,
    /// A playing script's step, if one was issued: `Ok(false)` when its script had ended.
    pub script: Option<Result<bool, CommandError>>,
    /// Whether a run to a time got there.
    pub arrived: bool,
    /// The world's events handled so far, after the frame.
    pub events: u64,
}

impl Tick {
    /// A tick that moved nothing, at `now` with `events` handled.
    pub fn still(now: Micros, events: u64) -> Self {
        Self {
            advanced: Advanced {
                from: now,
                to: now,
                reached_end: false,
            },
            elapsed_ms: 0.0,
            step_ms: 0.0,
            view_ms: None,
            script: None,
            arrived: false,
            events,
        }
    }

    /// Whether the frame changed nothing the page draws (paused, a script between its steps,
    /// the first frame of play).
    pub fn idle(&self) -> bool {
        self.advanced.from == self.advanced.to
            && self.view_ms.is_none()
            && self.script.is_none()
            && !self.arrived
    }
}

/// What one slice of play did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advanced {
    /// Simulated time before the slice.
    pub from: Micros,
    /// Simulated time after it.
    pub to: Micros,
    /// Whether the slice reached the scenario's end (where it stops, the first time, so that
    /// the checkpoints are judged there and not at whatever moment the next refresh falls on).
    pub reached_end: bool,
}

/// The message viewer's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Viewer {
    /// The topic shown, if the viewer is open.
    pub topic: Option<String>,
    /// The key filter.
    pub key: String,
    /// Whether the list follows the newest messages (else it holds still).
    pub follow: bool,
}

impl Default for Viewer {
    /// Closed, with no filter, following the newest messages once opened.
    fn default() -> Self {
        Self {
            topic: None,
            key: String::new(),
            follow: true,
        }
    }
}

/// What the page shows of a run at one refresh; its parts are shared, so a copy is cheap and a
/// part that did not change is the same `Rc` as before.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Shown {
    /// What the panels draw.
    pub view: Rc<PageView>,
    /// The viewer's messages, newest first (none while the viewer is closed).
    pub messages: Rc<Vec<MessageView>>,
    /// The invariant checker's last verdict (`cdc` and `events` modes).
    pub checker: Option<Rc<InvariantReport>>,
    /// The scenario's expectations as last judged (the lesson's checkpoints).
    pub checkpoints: Rc<Vec<Verdict>>,
    /// The coupling map of the services over the tables as they are now.
    pub coupling: Rc<CouplingMap>,
    /// When the checker and the checkpoints were last taken (simulated time).
    pub checked_at: Option<Micros>,
    /// Simulated time now.
    pub now: Micros,
    /// The furthest time reached on this timeline.
    pub horizon: Micros,
    /// Events handled so far.
    pub events: u64,
    /// The run's seed.
    pub seed: u64,
    /// The user's commands on this timeline, in order (what a link replays).
    pub commands: Rc<Vec<RecordedCommand>>,
    /// A script's next step and whether it has ended, if the scenario has one.
    pub script_progress: Option<(Option<usize>, bool)>,
}

/// When the checker and checkpoints were last taken.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Checked {
    /// Simulated time.
    at: Micros,
    /// The world's event count (a script's steps take no simulated time, but change what is
    /// measured).
    events: u64,
    /// How many of the user's commands the run had been given.
    commands: usize,
    /// Wall time (ms).
    wall: f64,
}

/// A run with what the page shows of it.
pub struct LiveRun {
    /// The run.
    playback: Playback,
    /// What the last refresh showed.
    shown: Shown,
    /// When the checker and checkpoints were last taken (never yet: `None`).
    checked: Option<Checked>,
    /// What the coupling map was built from (see
    /// [`crate::sim::world::World::coupling_inputs`]).
    coupling_inputs: (Vec<Columns>, Vec<bool>),
    /// The viewer's settings at the last refresh: other settings list the messages again.
    viewer: Viewer,
    /// The wall time of the last refresh (ms).
    last_refresh: f64,
    /// The last frame that played: its wall time (ms) and speed (the next frame plays the wall
    /// time since, at the same speed).
    last_play: Option<(f64, Option<f64>)>,
    /// When a playing script last issued a step (wall ms).
    last_script_step: f64,
}

impl std::fmt::Debug for LiveRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveRun")
            .field("playback", &self.playback)
            .field("checked", &self.checked)
            .finish_non_exhaustive()
    }
}

impl Shown {
    /// What the page shows of `scenario` with `seed` while its run is built elsewhere (the
    /// page's worker), until the run shows itself: 0 s, and nothing of the world yet
    /// ([`PageView::waiting`]).
    pub fn waiting(scenario: &crate::sim::scenario::Scenario, seed: u64) -> Self {
        Self {
            view: Rc::new(PageView::waiting(scenario)),
            messages: Rc::new(Vec::new()),
            checker: None,
            checkpoints: Rc::new(Vec::new()),
            coupling: Rc::new(CouplingMap {
                operations: Vec::new(),
                databases: Default::default(),
                owners: Default::default(),
                read_models: Default::default(),
                spent: Vec::new(),
            }),
            checked_at: None,
            now: 0,
            horizon: 0,
            events: 0,
            seed,
            commands: Rc::new(Vec::new()),
            script_progress: None,
        }
    }
}

impl LiveRun {
    /// The run of `playback`, shown as it is now (its checkpoints judged, not yet checked).
    pub fn new(playback: Playback) -> Self {
        let world = playback.world();
        let shown = Shown {
            view: Rc::new(page_view(world)),
            messages: Rc::new(Vec::new()),
            checker: None,
            checkpoints: Rc::new(world.checkpoints()),
            coupling: Rc::new(world.coupling_map()),
            checked_at: None,
            now: playback.now(),
            horizon: playback.horizon().max(playback.now()),
            events: world.events(),
            seed: playback.seed(),
            commands: Rc::new(playback.commands().to_vec()),
            script_progress: world.script_progress(),
        };
        let coupling_inputs = world.coupling_inputs();
        Self {
            playback,
            shown,
            checked: None,
            coupling_inputs,
            viewer: Viewer::default(),
            last_refresh: 0.0,
            last_play: None,
            last_script_step: 0.0,
        }
    }

    /// The run.
    pub fn playback(&self) -> &Playback {
        &self.playback
    }

    /// The run, to play, step, seek or command (then [`LiveRun::refresh`] shows it).
    pub fn playback_mut(&mut self) -> &mut Playback {
        &mut self.playback
    }

    /// What was shown at the last refresh.
    pub fn shown(&self) -> &Shown {
        &self.shown
    }

    /// Plays `elapsed_ms` of wall time at `speed` (simulated seconds a wall second; `None`: as
    /// far as `keep_going` lets it, see [`MAX_SLICE`]). It stops at the scenario's end the first
    /// time it gets there, and early (after a whole instant) once `keep_going` says no: the
    /// page's frame budget.
    pub fn play(
        &mut self,
        elapsed_ms: f64,
        speed: Option<f64>,
        keep_going: impl FnMut() -> bool,
    ) -> Advanced {
        let from = self.playback.now();
        let target = match speed {
            Some(speed) => from + (elapsed_ms.max(0.0) * 1_000.0 * speed) as Micros,
            None => from + MAX_SLICE,
        };
        let end = self.playback.scenario().duration.micros();
        let target = if from < end { target.min(end) } else { target };
        self.playback.run_until(target, keep_going);
        let to = self.playback.now();
        Advanced {
            from,
            to,
            reached_end: from < end && to >= end,
        }
    }

    /// One animation frame at wall time `at` (ms): the run moves as `motion` says, within the
    /// frame's budget (`clock` tells the wall time as it passes), and what is shown is taken
    /// again on its rhythm ([`VIEW_EVERY_MS`], and at once at the scenario's end or a run's
    /// arrival) with the viewer's settings.
    ///
    /// A script whose services are all its own plays a step every [`SCRIPT_STEP_MS`] instead
    /// of time passing.
    pub fn tick(
        &mut self,
        at: f64,
        motion: Motion,
        viewer: &Viewer,
        clock: impl FnMut() -> f64,
    ) -> Tick {
        self.tick_within(at, motion, viewer, FRAME_BUDGET_MS, clock)
    }

    /// [`LiveRun::tick`] within `budget_ms` of wall time (four times that to run to a time),
    /// for a run that is not on the page's thread.
    pub fn tick_within(
        &mut self,
        at: f64,
        motion: Motion,
        viewer: &Viewer,
        budget_ms: f64,
        clock: impl FnMut() -> f64,
    ) -> Tick {
        let mut tick = self.move_on(at, motion, viewer, budget_ms, clock);
        tick.events = self.playback.world().events();
        tick
    }

    /// [`LiveRun::tick`] but for its events.
    fn move_on(
        &mut self,
        at: f64,
        motion: Motion,
        viewer: &Viewer,
        budget_ms: f64,
        mut clock: impl FnMut() -> f64,
    ) -> Tick {
        let mut tick = Tick::still(self.playback.now(), 0);
        let speed = match motion {
            Motion::Still => {
                self.last_play = None;
                return tick;
            }
            Motion::RunningTo(target) => {
                self.last_play = None;
                let started = clock();
                let deadline = started + RUN_TO_FACTOR * budget_ms;
                tick.arrived = self.playback.run_until(target, || clock() < deadline);
                tick.advanced.to = self.playback.now();
                tick.step_ms = clock() - started;
                if tick.arrived {
                    self.refresh_timed(viewer, at, false, &mut tick, &mut clock);
                }
                return tick;
            }
            Motion::Playing { speed } => speed,
        };
        let view = &self.shown.view;
        if view.script.is_some() && view.services.iter().all(|s| s.internal) {
            self.last_play = None;
            if at - self.last_script_step < SCRIPT_STEP_MS {
                return tick;
            }
            self.last_script_step = at;
            let started = clock();
            tick.script = Some(self.script_step());
            tick.step_ms = clock() - started;
            tick.advanced.to = self.playback.now();
            self.refresh_timed(viewer, at, true, &mut tick, &mut clock);
            return tick;
        }
        tick.elapsed_ms = match self.last_play {
            Some((last, last_speed)) if last_speed == speed => (at - last).clamp(0.0, MAX_FRAME_MS),
            _ => 0.0,
        };
        self.last_play = Some((at, speed));
        let started = clock();
        let deadline = started + budget_ms;
        tick.advanced = self.play(tick.elapsed_ms, speed, || clock() < deadline);
        tick.step_ms = clock() - started;
        if at - self.last_refresh >= VIEW_EVERY_MS || tick.advanced.reached_end {
            self.refresh_timed(viewer, at, true, &mut tick, &mut clock);
        }
        tick
    }

    /// [`LiveRun::refresh`], its wall time noted in `tick`.
    fn refresh_timed(
        &mut self,
        viewer: &Viewer,
        at: f64,
        playing: bool,
        tick: &mut Tick,
        clock: &mut impl FnMut() -> f64,
    ) {
        let started = clock();
        self.refresh(viewer, at, playing);
        tick.view_ms = Some(clock() - started);
    }

    /// A playing script's next step: `Ok(false)` when its script has ended (or it has none),
    /// and nothing was issued.
    ///
    /// # Errors
    ///
    /// As [`Playback::apply`] of [`Command::ScriptStep`].
    pub fn script_step(&mut self) -> Result<bool, CommandError> {
        let ended = self
            .playback
            .world()
            .script_progress()
            .is_none_or(|(_, ended)| ended);
        if ended {
            return Ok(false);
        }
        self.playback.apply(Command::ScriptStep).map(|_| true)
    }

    /// Takes what the page shows from the world now, at wall time `wall` (ms), with the viewer's
    /// settings; `playing` says whether the page plays (then the checker and checkpoints wait
    /// for their second, see the module's documentation).
    pub fn refresh(&mut self, viewer: &Viewer, wall: f64, playing: bool) -> &Shown {
        self.last_refresh = wall;
        let world = self.playback.world();
        let now = self.playback.now();
        let events = world.events();
        let commands = self.playback.commands().len();
        let view = Rc::new(page_view(world));
        let topic = viewer
            .topic
            .as_ref()
            .and_then(|name| world.topics()?.get(name));
        // Another topic or filter lists again; a viewer holding still keeps its list (pressing
        // Hold keeps the one being read).
        let other_list = (&viewer.topic, &viewer.key) != (&self.viewer.topic, &self.viewer.key);
        let messages = match topic {
            None if self.shown.messages.is_empty() => Rc::clone(&self.shown.messages),
            None => Rc::new(Vec::new()),
            Some(topic) if viewer.follow || other_list || self.shown.messages.is_empty() => {
                Rc::new(messages(
                    topic,
                    &viewer.key,
                    VIEWER_MESSAGES,
                    world.registry(),
                ))
            }
            Some(_) => Rc::clone(&self.shown.messages),
        };
        self.viewer = viewer.clone();
        let went_back = self.checked.is_some_and(|c| now < c.at);
        // A command given while paused changes what is checked without time passing or an
        // event (a service stopped, a connector crashed); so do a script's steps, which take
        // no simulated time: a scripted lesson is checked at each one.
        let moved = self
            .checked
            .is_none_or(|c| c.at != now || c.events != events || c.commands != commands)
            || view.script.is_some();
        // The end of the scenario, reached since the last check: checked there, at once.
        let end = self.playback.scenario().duration.micros();
        let reached_end = now == end && self.checked.is_none_or(|c| c.at < end);
        let due = self.checked.is_none_or(|c| wall - c.wall >= CHECK_EVERY_MS);
        if moved && (!playing || went_back || reached_end || due) {
            let checker = view
                .pipeline
                .as_ref()
                .map(|_| Rc::new(world.check_invariants()));
            let fresh = world.checkpoints_given(checker.as_deref());
            self.shown.checkpoints =
                Rc::new(keep_settled(&self.shown.checkpoints, fresh, went_back));
            self.shown.checker = checker;
            // A schema change that has run, a version deployed or retired (or a jump back before
            // them) changes what the services' SQL names.
            let inputs = world.coupling_inputs();
            if inputs != self.coupling_inputs {
                self.shown.coupling = Rc::new(world.coupling_map());
                self.coupling_inputs = inputs;
            }
            self.checked = Some(Checked {
                at: now,
                events,
                commands,
                wall,
            });
            self.shown.checked_at = Some(now);
        }
        self.shown.view = view;
        self.shown.messages = messages;
        self.shown.now = now;
        self.shown.events = events;
        self.shown.horizon = self.playback.horizon().max(now);
        self.shown.seed = self.playback.seed();
        if self.playback.commands() != self.shown.commands.as_slice() {
            self.shown.commands = Rc::new(self.playback.commands().to_vec());
        }
        self.shown.script_progress = world.script_progress();
        &self.shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::builtin;
    use crate::sim::clock::MS;
    use crate::sim::expectation::Status;

    fn run(name: &str) -> LiveRun {
        let text = builtin::scenario_text(name).expect("a built-in scenario");
        let scenario = crate::sim::scenario::Scenario::parse(text).expect("it reads");
        let seed = scenario.seed;
        LiveRun::new(Playback::new(scenario, seed).expect("it builds"))
    }

    #[test]
    fn what_is_shown_while_a_run_is_built_elsewhere_is_its_scenario_at_0s_and_nothing_else() {
        let live = run("cdc-basics");
        let scenario = live.playback().scenario();
        let waiting = Shown::waiting(scenario, 9);
        assert_eq!((waiting.now, waiting.seed), (0, 9));
        assert_eq!(waiting.view.mode, scenario.mode);
        assert_eq!(waiting.view.modes, scenario.modes());
        assert!(waiting.view.services.is_empty() && waiting.view.databases.is_empty());
        // The run, once built, shows what the placeholder does not.
        assert!(!live.shown().view.services.is_empty());
        assert_eq!(live.shown().view.modes, waiting.view.modes);
    }

    fn closed() -> Viewer {
        Viewer::default()
    }

    /// What a worker would post: the view as JSON.
    fn through_json(shown: &Shown) -> Shown {
        let text = serde_json::to_string(shown).expect("it writes");
        serde_json::from_str(&text).expect("it reads back")
    }

    #[test]
    fn what_is_shown_comes_through_json_unchanged_in_every_mode() {
        for name in ["shop", "cdc-basics", "outbox-contract", "lost-update"] {
            let mut live = run(name);
            live.playback_mut().run_until(8 * SECOND, || true);
            while live.script_step().expect("each step runs") {}
            let shown = live.refresh(&closed(), 0.0, false).clone();
            let back = through_json(&shown);
            assert_eq!(*back.view, *shown.view, "{name}: the panels");
            assert_eq!(
                *back.checkpoints, *shown.checkpoints,
                "{name}: the checkpoints"
            );
            assert_eq!(*back.coupling, *shown.coupling, "{name}: the coupling map");
            assert_eq!(
                (back.now, back.horizon, back.events, back.checked_at),
                (shown.now, shown.horizon, shown.events, shown.checked_at),
                "{name}: the clock"
            );
            assert_eq!(
                serde_json::to_value(&back).expect("it writes"),
                serde_json::to_value(&shown).expect("it writes"),
                "{name}: the checker and the rest"
            );
        }
    }

    #[test]
    fn a_registry_sent_as_json_previews_a_change_as_the_original_does() {
        let mut live = run("outbox-contract");
        live.playback_mut().run_until(5 * SECOND, || true);
        let shown = live.refresh(&closed(), 0.0, false).clone();
        let registry = &shown
            .view
            .pipeline
            .as_ref()
            .expect("the events mode has a pipeline")
            .registry;
        let subject = registry
            .subjects
            .first()
            .expect("a subject registered by 5 s");
        let latest = subject.versions.last().expect("a version");
        let back = through_json(&shown);
        let back_registry = &back.view.pipeline.as_ref().expect("still there").registry;
        for text in [latest.text.as_str(), r#"{"type": "string"}"#] {
            assert_eq!(
                back_registry.preview(&subject.name, text),
                registry.preview(&subject.name, text),
                "the parsed schemas came back"
            );
        }
    }

    #[test]
    fn while_playing_the_checkpoints_wait_for_their_second_and_a_pause_takes_them_at_once() {
        let mut live = run("shop");
        live.refresh(&closed(), 0.0, true);
        assert_eq!(live.shown().checked_at, Some(0), "the first refresh checks");
        live.playback_mut().run_until(2 * SECOND, || true);
        let shown = live.refresh(&closed(), 400.0, true);
        assert_eq!(shown.now, 2 * SECOND, "the view follows the world");
        assert_eq!(shown.checked_at, Some(0), "playing, not a second later");
        assert_eq!(
            live.refresh(&closed(), 1_000.0, true).checked_at,
            Some(2 * SECOND),
            "a second of wall time later"
        );
        live.playback_mut().run_until(3 * SECOND, || true);
        assert_eq!(
            live.refresh(&closed(), 1_100.0, false).checked_at,
            Some(3 * SECOND),
            "paused: at once"
        );
    }

    #[test]
    fn going_back_or_reaching_the_end_is_checked_at_once_while_playing() {
        let mut live = run("shop");
        live.playback_mut().run_until(5 * SECOND, || true);
        live.refresh(&closed(), 0.0, true);
        live.playback_mut().seek(2 * SECOND).expect("it seeks");
        assert_eq!(
            live.refresh(&closed(), 10.0, true).checked_at,
            Some(2 * SECOND)
        );
        let end = live.playback().scenario().duration.micros();
        live.playback_mut().run_until(end, || true);
        assert_eq!(live.refresh(&closed(), 20.0, true).checked_at, Some(end));
    }

    #[test]
    fn a_settled_checkpoint_keeps_its_verdict_going_forward_and_is_judged_again_going_back() {
        let mut live = run("shop");
        let end = live.playback().scenario().duration.micros();
        live.playback_mut().run_until(end, || true);
        let at_end = Rc::clone(&live.refresh(&closed(), 0.0, false).checkpoints);
        let settled: Vec<usize> = at_end
            .iter()
            .enumerate()
            .filter(|(_, v)| matches!(v.status, Status::Pass | Status::Fail))
            .map(|(i, _)| i)
            .collect();
        assert!(
            !settled.is_empty(),
            "the shop settles a checkpoint by its end"
        );
        live.playback_mut().run_until(end + 30 * SECOND, || true);
        let later = Rc::clone(&live.refresh(&closed(), 10.0, false).checkpoints);
        for i in &settled {
            assert_eq!(later[*i], at_end[*i], "kept as settled at the end");
        }
        live.playback_mut().seek(SECOND).expect("it seeks");
        let back = Rc::clone(&live.refresh(&closed(), 20.0, false).checkpoints);
        assert!(
            settled
                .iter()
                .any(|i| !matches!(back[*i].status, Status::Pass | Status::Fail)),
            "at 1 s nothing the end settled is settled yet: {back:?}"
        );
    }

    #[test]
    fn a_viewer_holding_still_keeps_its_list_until_its_settings_change() {
        let mut live = run("cdc-basics");
        live.playback_mut().run_until(3 * SECOND, || true);
        live.refresh(&closed(), 0.0, false);
        let topic = live
            .playback()
            .world()
            .topics()
            .and_then(|topics| {
                topics
                    .iter()
                    .find(|(_, t)| t.partitions().iter().any(|p| !p.is_empty()))
            })
            .map(|(name, _)| name.clone())
            .expect("a topic with messages by 3 s");
        let held = Viewer {
            topic: Some(topic),
            key: String::new(),
            follow: false,
        };
        let first = Rc::clone(&live.refresh(&held, 10.0, false).messages);
        assert!(!first.is_empty(), "the list is taken when the viewer opens");
        live.playback_mut().run_until(8 * SECOND, || true);
        let still = Rc::clone(&live.refresh(&held, 20.0, false).messages);
        assert!(Rc::ptr_eq(&first, &still), "held still");
        let following = Viewer {
            follow: true,
            ..held.clone()
        };
        let newer = Rc::clone(&live.refresh(&following, 30.0, false).messages);
        assert_ne!(*newer, *first, "following shows the messages of 3 s to 8 s");
        let filtered = Viewer {
            key: "no such key".to_owned(),
            ..held
        };
        assert!(live.refresh(&filtered, 40.0, false).messages.is_empty());
        assert!(live.refresh(&closed(), 50.0, false).messages.is_empty());
    }

    #[test]
    fn the_coupling_map_is_drawn_again_only_when_a_schema_changes() {
        let mut live = run("shop");
        let before = Rc::clone(&live.refresh(&closed(), 0.0, false).coupling);
        live.playback_mut().run_until(SECOND, || true);
        let same = Rc::clone(&live.refresh(&closed(), 10.0, false).coupling);
        assert!(
            Rc::ptr_eq(&before, &same),
            "nothing changed what it is drawn from"
        );
        live.playback_mut()
            .apply(Command::RunSql {
                database: "shop".to_owned(),
                sql: "ALTER TABLE orders RENAME COLUMN status TO state".to_owned(),
            })
            .expect("it runs");
        live.playback_mut().run_until(3 * SECOND, || true);
        let after = Rc::clone(&live.refresh(&closed(), 20.0, false).coupling);
        assert!(!Rc::ptr_eq(&before, &after));
        assert_ne!(
            *before, *after,
            "the rename breaks what names orders.status"
        );
    }

    #[test]
    fn a_slice_plays_its_wall_time_at_the_speed_and_stops_once_at_the_end() {
        let mut live = run("shop");
        let slice = live.play(100.0, Some(1.0), || true);
        assert_eq!((slice.from, slice.to), (0, 100 * MS));
        let slice = live.play(100.0, Some(16.0), || true);
        assert_eq!(slice.to, 1_700 * MS, "16× plays 1.6 s in 100 ms");
        let end = live.playback().scenario().duration.micros();
        live.playback_mut().run_until(end - 50 * MS, || true);
        let slice = live.play(100.0, Some(16.0), || true);
        assert_eq!(slice.to, end, "the end stops the slice");
        assert!(slice.reached_end);
        let slice = live.play(100.0, Some(16.0), || true);
        assert!(
            slice.to > end && !slice.reached_end,
            "and then it plays on: {slice:?}"
        );
    }

    #[test]
    fn at_max_a_slice_goes_as_far_as_its_budget() {
        let mut live = run("shop");
        let mut left = 200;
        let slice = live.play(16.0, None, || {
            left -= 1;
            left > 0
        });
        assert!(
            slice.to > 0 && slice.to < MAX_SLICE,
            "stopped by the budget: {slice:?}"
        );
        assert!(
            slice.to < live.playback().scenario().duration.micros(),
            "200 instants of the shop are well short of its minute"
        );
    }

    #[test]
    fn a_playing_script_steps_to_its_end_and_then_says_so() {
        let mut live = run("lost-update");
        let mut steps = 0;
        while live.script_step().expect("each step runs") {
            steps += 1;
            assert!(steps < 100, "the script ends");
        }
        assert!(steps >= 2, "the lost update takes a few steps: {steps}");
        assert_eq!(
            live.playback()
                .world()
                .script_progress()
                .map(|(_, ended)| ended),
            Some(true)
        );
        assert!(!live.script_step().expect("nothing to run"), "still ended");
        let mut shop = run("shop");
        assert!(
            !shop.script_step().expect("no script"),
            "a scenario without one"
        );
    }

    /// A wall clock that never runs out of budget.
    fn frozen() -> impl FnMut() -> f64 {
        || 0.0
    }

    const PLAY_1X: Motion = Motion::Playing { speed: Some(1.0) };

    #[test]
    fn a_frame_plays_the_wall_time_since_the_last_and_takes_the_view_every_tenth_of_a_second() {
        let mut live = run("shop");
        let still = live.tick(1_000.0, Motion::Still, &closed(), frozen());
        assert_eq!(still.advanced.to, 0, "paused: nothing moves");
        assert!(still.view_ms.is_none());
        let first = live.tick(1_016.0, PLAY_1X, &closed(), frozen());
        assert_eq!(
            (first.elapsed_ms, first.advanced.to),
            (0.0, 0),
            "the first frame only starts the clock"
        );
        assert!(first.view_ms.is_some(), "the first view is taken");
        let second = live.tick(1_066.0, PLAY_1X, &closed(), frozen());
        assert_eq!((second.elapsed_ms, second.advanced.to), (50.0, 50 * MS));
        assert!(second.view_ms.is_none(), "50 ms after the last view");
        assert_eq!(live.shown().now, 0, "the view is the one of 0 s still");
        let third = live.tick(1_120.0, PLAY_1X, &closed(), frozen());
        assert!(third.view_ms.is_some(), "104 ms after the last view");
        assert_eq!(live.shown().now, third.advanced.to);
        let faster = live.tick(
            1_136.0,
            Motion::Playing { speed: Some(16.0) },
            &closed(),
            frozen(),
        );
        assert_eq!(faster.elapsed_ms, 0.0, "a new speed starts the clock again");
        let faster = live.tick(
            1_152.0,
            Motion::Playing { speed: Some(16.0) },
            &closed(),
            frozen(),
        );
        assert_eq!(faster.advanced.to - faster.advanced.from, 256 * MS);
        live.tick(1_200.0, Motion::Still, &closed(), frozen());
        live.tick(9_000.0, PLAY_1X, &closed(), frozen());
        let after_stall = live.tick(60_000.0, PLAY_1X, &closed(), frozen());
        assert_eq!(
            after_stall.elapsed_ms, MAX_FRAME_MS,
            "a long stall plays one frame's worth, not the minute"
        );
    }

    #[test]
    fn a_run_to_a_time_goes_a_budgeted_slice_a_frame_and_shows_its_arrival() {
        let mut live = run("shop");
        let target = 20 * SECOND;
        // Each look at the clock takes a millisecond: a frame's budget is a few dozen looks.
        let mut wall = 0.0;
        let mut frames = 0;
        loop {
            frames += 1;
            assert!(frames < 100_000, "it gets there");
            let tick = live.tick(wall, Motion::RunningTo(target), &closed(), || {
                wall += 1.0;
                wall
            });
            assert!(
                tick.step_ms <= RUN_TO_FACTOR * FRAME_BUDGET_MS + 1.0,
                "within the budget: {tick:?}"
            );
            if tick.arrived {
                assert_eq!(tick.advanced.to, target);
                assert!(tick.view_ms.is_some(), "the arrival is shown");
                break;
            }
            assert!(tick.view_ms.is_none(), "on the way, only the progress");
        }
        assert!(frames > 1, "20 s of the shop take more than one budget");
        assert_eq!(live.shown().now, target);
        assert_eq!(live.shown().checked_at, Some(target), "checked on arrival");
    }

    #[test]
    fn a_playing_script_steps_on_its_own_rhythm_and_says_when_it_has_ended() {
        let mut live = run("lost-update");
        live.refresh(&closed(), 0.0, false);
        let mut steps = 0;
        let mut ended = false;
        for frame in 0..2_000 {
            let at = 1_200.0 + f64::from(frame) * 100.0;
            let tick = live.tick(at, PLAY_1X, &closed(), frozen());
            match tick.script {
                None => assert_ne!(frame % 12, 0, "a step every 1.2 s, at {at} ms"),
                Some(Ok(true)) => {
                    steps += 1;
                    assert_eq!(frame % 12, 0, "not between steps");
                    assert!(tick.view_ms.is_some(), "each step is shown");
                }
                Some(Ok(false)) => {
                    ended = true;
                    break;
                }
                Some(Err(error)) => panic!("a step failed: {error}"),
            }
        }
        assert!(ended && steps >= 2, "{steps} steps, then the end");
    }

    #[test]
    fn hold_keeps_the_list_being_read() {
        let mut live = run("cdc-basics");
        live.playback_mut().run_until(3 * SECOND, || true);
        let topic = live
            .playback()
            .world()
            .topics()
            .and_then(|topics| topics.keys().next().cloned());
        let following = Viewer {
            topic,
            ..Viewer::default()
        };
        let read = Rc::clone(&live.refresh(&following, 0.0, false).messages);
        live.playback_mut().run_until(6 * SECOND, || true);
        let held = Viewer {
            follow: false,
            ..following
        };
        let kept = Rc::clone(&live.refresh(&held, 10.0, false).messages);
        assert!(Rc::ptr_eq(&read, &kept), "Hold keeps the list of 3 s");
    }

    #[test]
    fn a_paused_refresh_with_nothing_new_takes_nothing_again_and_a_command_is_checked_at_once() {
        let mut live = run("cdc-basics");
        live.playback_mut().run_until(2 * SECOND, || true);
        let first = live.refresh(&closed(), 0.0, false).clone();
        assert!(first.checker.is_some(), "a cdc run has a checker");
        let again = live.refresh(&closed(), 10.0, false).clone();
        assert!(Rc::ptr_eq(&first.checkpoints, &again.checkpoints));
        assert!(Rc::ptr_eq(
            first.checker.as_ref().expect("checked"),
            again.checker.as_ref().expect("checked")
        ));
        let connector = first
            .view
            .pipeline
            .as_ref()
            .and_then(|p| p.connectors.first())
            .map(|c| c.name.clone())
            .expect("a connector");
        let crashed = live
            .playback_mut()
            .apply(Command::CrashConnector { connector });
        crashed.expect("the connector crashes");
        let after = live.refresh(&closed(), 20.0, false).clone();
        assert_eq!(after.now, first.now, "no time passed");
        assert!(
            !Rc::ptr_eq(&first.checkpoints, &after.checkpoints),
            "the command is checked at once"
        );
        let mut shop = run("shop");
        assert!(
            shop.refresh(&closed(), 0.0, false).checker.is_none(),
            "shared has none"
        );
    }
}
