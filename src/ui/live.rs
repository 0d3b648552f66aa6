//! The live simulator's state and the actions that change it, reduced in one place.
//!
//! The run itself is a [`Playback`] from `sim`; this wraps it for Yew with the transport's
//! settings (playing, speed) and the [`PageView`] the components render. Each animation frame
//! advances the run by the wall-clock time since the last frame times the speed, within a frame
//! budget, so the page stays responsive at any speed; the view is rebuilt at most every
//! [`VIEW_EVERY_MS`] of wall time while playing (the clock every frame).

use crate::sim::builtin;
use crate::sim::clock::{format_micros, Micros, MS, SECOND};
use crate::sim::playback::Playback;
use crate::sim::scenario::Scenario;
use crate::sim::view::{page_view, PageView};
use crate::sim::world::Command;
use crate::ui::browser;
use std::cell::RefCell;
use std::rc::Rc;
use yew::Reducible;

/// How long one frame may spend advancing the simulation (ms of wall time).
pub const FRAME_BUDGET_MS: f64 = 8.0;

/// How often the panels are rebuilt while playing (ms of wall time).
pub const VIEW_EVERY_MS: f64 = 100.0;

/// The scenario the page opens when the link names none (or a broken one).
pub const DEFAULT_SCENARIO: &str = "shop";

/// Playback speeds: simulated seconds per wall second (`None`: as fast as the budget allows).
pub const SPEEDS: &[(Option<f64>, &str)] = &[
    (Some(0.25), "¼×"),
    (Some(1.0), "1×"),
    (Some(4.0), "4×"),
    (Some(16.0), "16×"),
    (None, "max"),
];

/// What the student can do.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveAction {
    /// An animation frame at this wall time (ms).
    Frame(f64),
    /// Play or pause.
    TogglePlay,
    /// Pause.
    Pause,
    /// Process the next instant's events.
    StepEvent,
    /// Advance 100 ms.
    StepTime,
    /// Go back 100 ms (re-running from the seed).
    StepBack,
    /// Go to a time (ms) on the scrubber.
    Seek(f64),
    /// Start again from zero with the same seed.
    Reset,
    /// Start again with another seed.
    SetSeed(u64),
    /// Choose a speed (an index into [`SPEEDS`]).
    SetSpeed(usize),
    /// Load a built-in scenario.
    LoadScenario(String),
    /// Give the world a command (pause a service, change a rate, run SQL).
    Command(Command),
    /// Show or hide the keyboard help.
    ToggleHelp,
}

/// How the last frames went, for the benchmark and the status line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameStats {
    /// Wall time spent advancing the simulation in the last frame (ms).
    pub last_step_ms: f64,
    /// Simulated time advanced in the last frame.
    pub last_advance: Micros,
}

/// The live simulator's state.
pub struct LiveState {
    /// The run (shared with the reducer's clones; Yew keeps the old state while reducing).
    pub playback: Rc<RefCell<Playback>>,
    /// The built-in scenario's name.
    pub scenario_name: String,
    /// What the panels show.
    pub view: Rc<PageView>,
    /// Whether time runs.
    pub playing: bool,
    /// The speed (index into [`SPEEDS`]).
    pub speed: usize,
    /// The wall time of the last frame (ms), while playing.
    pub last_frame: Option<f64>,
    /// When the view was last rebuilt (wall ms).
    pub last_view: f64,
    /// Simulated time now (updated every frame).
    pub now: Micros,
    /// The furthest time reached.
    pub horizon: Micros,
    /// Events handled so far.
    pub events: u64,
    /// A message about the page itself (a broken link, a refused command).
    pub notice: Option<String>,
    /// The outcome of the last command.
    pub last_result: Option<String>,
    /// Whether the keyboard help is open.
    pub help: bool,
    /// The last jump back's duration (ms of wall time).
    pub last_seek_ms: Option<f64>,
    /// Frame timings.
    pub frames: FrameStats,
}

impl LiveState {
    /// The state for the page's link: `?scenario=NAME&seed=N`; a broken link falls back to the
    /// default scenario with a visible message.
    pub fn from_link() -> Self {
        let name = browser::query_param("scenario");
        let seed = browser::query_param("seed");
        let mut notice = None;
        let scenario_name = match name {
            Some(name) if builtin::scenario_text(&name).is_some() => name,
            Some(name) => {
                notice = Some(format!(
                    "There is no built-in scenario called \"{name}\": showing \"{DEFAULT_SCENARIO}\" instead."
                ));
                DEFAULT_SCENARIO.to_owned()
            }
            None => DEFAULT_SCENARIO.to_owned(),
        };
        let seed = match seed.map(|s| s.parse::<u64>()) {
            Some(Ok(seed)) => Some(seed),
            Some(Err(_)) => {
                notice = Some(
                    "The link's seed is not a whole number: using the scenario's own.".to_owned(),
                );
                None
            }
            None => None,
        };
        let mut state = Self::load(&scenario_name, seed);
        if notice.is_some() {
            state.notice = notice;
        }
        state
    }

    /// The state for built-in scenario `name` with `seed` (its own when `None`).
    pub fn load(name: &str, seed: Option<u64>) -> Self {
        let built = builtin::scenario_text(name)
            .ok_or_else(|| format!("no built-in scenario \"{name}\""))
            .and_then(|text| Scenario::parse(text).map_err(|e| e.to_string()))
            .and_then(|scenario| {
                let seed = seed.unwrap_or(scenario.seed);
                Playback::new(scenario, seed).map_err(|e| e.to_string())
            });
        let (playback, notice) = match built {
            Ok(playback) => (playback, None),
            Err(message) => {
                let fallback = builtin::scenario_text(DEFAULT_SCENARIO)
                    .and_then(|t| Scenario::parse(t).ok())
                    .and_then(|s| {
                        let seed = s.seed;
                        Playback::new(s, seed).ok()
                    });
                match fallback {
                    Some(playback) => (playback, Some(message)),
                    None => {
                        unreachable!("the built-in default scenario builds (a unit test says so)")
                    }
                }
            }
        };
        let view = Rc::new(page_view(playback.world()));
        Self {
            scenario_name: playback.scenario().name.clone(),
            playback: Rc::new(RefCell::new(playback)),
            view,
            playing: false,
            speed: 1,
            last_frame: None,
            last_view: 0.0,
            now: 0,
            horizon: 0,
            events: 0,
            notice,
            last_result: None,
            help: false,
            last_seek_ms: None,
            frames: FrameStats::default(),
        }
    }

    /// The scenario's title, for the header.
    pub fn title(&self) -> String {
        let playback = self.playback.borrow();
        let scenario = playback.scenario();
        scenario
            .title
            .clone()
            .unwrap_or_else(|| scenario.name.clone())
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.playback.borrow().seed()
    }

    /// The clock as text.
    pub fn clock(&self) -> String {
        format_micros(self.now)
    }

    fn with_view(mut self, wall: f64) -> Self {
        let playback = self.playback.borrow();
        self.view = Rc::new(page_view(playback.world()));
        self.now = playback.now();
        self.events = playback.world().events();
        self.horizon = playback.horizon().max(self.now);
        drop(playback);
        self.last_view = wall;
        self
    }

    fn copy(&self) -> Self {
        Self {
            playback: Rc::clone(&self.playback),
            scenario_name: self.scenario_name.clone(),
            view: Rc::clone(&self.view),
            playing: self.playing,
            speed: self.speed,
            last_frame: self.last_frame,
            last_view: self.last_view,
            now: self.now,
            horizon: self.horizon,
            events: self.events,
            notice: self.notice.clone(),
            last_result: self.last_result.clone(),
            help: self.help,
            last_seek_ms: self.last_seek_ms,
            frames: self.frames.clone(),
        }
    }

    fn seek(mut self, to: Micros) -> Self {
        let started = browser::now_ms();
        let backwards = to < self.now;
        let result = self.playback.borrow_mut().seek(to);
        if let Err(error) = result {
            self.notice = Some(error.to_string());
        }
        if backwards {
            self.last_seek_ms = Some(browser::now_ms() - started);
        }
        self.with_view(browser::now_ms())
    }
}

impl Reducible for LiveState {
    type Action = LiveAction;

    fn reduce(self: Rc<Self>, action: LiveAction) -> Rc<Self> {
        let mut next = self.copy();
        let wall = browser::now_ms();
        let next = match action {
            LiveAction::Frame(at) => {
                if !next.playing {
                    return self;
                }
                let elapsed = next
                    .last_frame
                    .map_or(0.0, |last| (at - last).clamp(0.0, 100.0));
                next.last_frame = Some(at);
                let started = browser::now_ms();
                let deadline = started + FRAME_BUDGET_MS;
                let target = match SPEEDS[next.speed].0 {
                    Some(speed) => next.now + (elapsed * 1_000.0 * speed) as Micros,
                    None => next.now + 3_600 * SECOND,
                };
                let before = next.now;
                next.playback
                    .borrow_mut()
                    .run_until(target, || browser::now_ms() < deadline);
                let now = next.playback.borrow().now();
                next.events = next.playback.borrow().world().events();
                next.now = now;
                next.horizon = next.horizon.max(now);
                next.frames = FrameStats {
                    last_step_ms: browser::now_ms() - started,
                    last_advance: now - before,
                };
                if wall - next.last_view >= VIEW_EVERY_MS {
                    next.with_view(wall)
                } else {
                    next
                }
            }
            LiveAction::TogglePlay => {
                next.playing = !next.playing;
                next.last_frame = None;
                next.with_view(wall)
            }
            LiveAction::Pause => {
                next.playing = false;
                next.last_frame = None;
                next.with_view(wall)
            }
            LiveAction::StepEvent => {
                next.playing = false;
                next.playback.borrow_mut().step_instant();
                next.with_view(wall)
            }
            LiveAction::StepTime => {
                next.playing = false;
                let to = next.now + 100 * MS;
                next.seek(to)
            }
            LiveAction::StepBack => {
                next.playing = false;
                let to = next.now.saturating_sub(100 * MS);
                next.seek(to)
            }
            LiveAction::Seek(ms) => {
                let to = (ms.max(0.0) * 1_000.0) as Micros;
                next.seek(to)
            }
            LiveAction::Reset => {
                next.playing = false;
                if let Err(error) = next.playback.borrow_mut().reset() {
                    next.notice = Some(error.to_string());
                }
                next.horizon = 0;
                next.last_result = None;
                next.with_view(wall)
            }
            LiveAction::SetSeed(seed) => {
                next.playing = false;
                if let Err(error) = next.playback.borrow_mut().set_seed(seed) {
                    next.notice = Some(error.to_string());
                }
                next.horizon = 0;
                next.with_view(wall)
            }
            LiveAction::SetSpeed(index) => {
                next.speed = index.min(SPEEDS.len() - 1);
                next.last_frame = None;
                next
            }
            LiveAction::LoadScenario(name) => {
                let mut loaded = Self::load(&name, None);
                loaded.speed = next.speed;
                browser::set_query(&[("scenario", &loaded.scenario_name)]);
                loaded
            }
            LiveAction::Command(command) => {
                let result = next.playback.borrow_mut().apply(command);
                next.last_result = Some(match result {
                    Ok(summary) => summary,
                    Err(error) => format!("refused: {error}"),
                });
                next.horizon = next.now;
                next.with_view(wall)
            }
            LiveAction::ToggleHelp => {
                next.help = !next.help;
                next
            }
        };
        Rc::new(next)
    }
}
