//! The live simulator's state and the actions that change it, reduced in one place.
//!
//! The run itself is a [`LiveRun`] from `sim` (a [`Playback`] and what is shown of it); this
//! wraps it for Yew with the transport's settings (playing, speed) and the [`PageView`] and the
//! other parts the panels render, copied from the run's
//! [`Shown`](crate::sim::live_run::Shown) at each refresh. Each animation frame
//! advances the run by the wall-clock time since the last frame times the speed, within a frame
//! budget, so the page stays responsive at any speed; the view is rebuilt at most every
//! [`VIEW_EVERY_MS`](crate::sim::live_run::VIEW_EVERY_MS) of wall time while playing (the
//! clock every frame): see [`LiveRun::tick`].

use crate::authoring::{prepare, RunError, RunFile, SavedRun, ScenarioDraft, ScenarioSource};
use crate::embed::{Embedding, Panels};
use crate::link::{
    commands_for_link, commands_from_link, isolation_for_link, isolation_from_link, pack,
    speed_for_link, speed_from_link, time_for_link, time_from_link, unpack,
};
use crate::sim::clock::{format_micros, Micros, MS, SECOND};
use crate::sim::coupling::CouplingMap;
use crate::sim::expectation::Verdict;
use crate::sim::live_run::Shown;
use crate::sim::lock_plan::Isolation;
use crate::sim::messages::MessageView;
use crate::sim::modes::Mode;
use crate::sim::run_requests::{RunAnswer, RunRequest};
use crate::sim::run_server::ToRun;
use crate::sim::scenario::Scenario;
use crate::sim::view::{clock_text, PageView};
use crate::sim::world::{Command, CommandError, LivePreview};
use crate::ui::browser;
use crate::ui::keep;
use crate::ui::recovery::{self, Crash};
use crate::ui::run_worker;

mod analysis;
mod embed;
mod frame;

pub use analysis::{CompareView, RunningJob, COMPARE_AT_LEAST, COMPARE_AT_MOST};
pub use frame::{FrameStats, SpeedMeter, LINK_EVERY_MS};
use std::rc::Rc;
use yew::Reducible;

/// Link times up to this are replayed at once; later ones a slice per frame, with progress.
pub const SEEK_AT_ONCE: Micros = 20 * SECOND;

/// The scenario the page opens when the link names none (or a broken one).
pub const DEFAULT_SCENARIO: &str = "shop";

pub use crate::link::SPEEDS;

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
    /// Go back 100 ms (re-running from the seed); in a scripted scenario, take back one step.
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
    /// Run a database at another isolation level (the run starts again, same seed).
    SetIsolation {
        /// The database.
        database: String,
        /// The level.
        isolation: Isolation,
    },
    /// Give the world a command (pause a service, change a rate, run SQL).
    Command(Command),
    /// Show a message about the page (a value typed that is not one).
    Notice(String),
    /// Put the message about the page away.
    DismissNotice,
    /// Show or hide the help.
    ToggleHelp,
    /// Close the help.
    CloseHelp,
    /// Switch the presentation layout (large text, the key panels side by side).
    TogglePresent,
    /// Run the scenario in another integration mode (the run starts again, same seed).
    SetMode(Mode),
    /// Show a topic's messages in the viewer (`None` closes it).
    ViewTopic(Option<String>),
    /// Show only the messages whose key contains this text.
    FilterKey(String),
    /// Follow the newest messages, or hold the list still to read it.
    ToggleFollow,
    /// Run the scenario in each of its modes to the current time and compare them.
    Compare,
    /// Answer the lesson's question before running, or skip it.
    Predict(Prediction),
    /// Run SQL in the simulation, previewing it first if it changes a schema: what it will break
    /// and whom it will wait for, with "Run it" and "Cancel".
    PreviewSql {
        /// The database.
        database: String,
        /// The SQL.
        sql: String,
    },
    /// Put the previewed schema change away without running it.
    CancelPreview,
    /// Close the comparison.
    CloseCompare,
    /// News of the job running beside the run (a comparison, a sweep), from the worker.
    JobNews(crate::sim::job::JobReport),
    /// Stop the job running beside the run.
    CancelJob,
    /// News of the run, from the worker that serves it.
    RunNews(run_worker::News),
    /// Run the scenario at each point of its `[sweep]` and chart what grows.
    Sweep,
    /// Close the sweep.
    CloseSweep,
    /// Open or close the share panel: the run's link, with the user's actions, and its
    /// fingerprint (opening it pauses: a link is of one moment).
    ToggleShare,
    /// Open or close the scenario editor (on a lesson whose question is still open, first
    /// say that the file holds the answer).
    ToggleEditor,
    /// Open the editor although the file shows the lesson's answer.
    OpenEditorAnyway,
    /// The editor's text changed (it is checked at once, and kept in the browser).
    EditDraft(String),
    /// Run the edited scenario (from 0 s; the link then carries it).
    ApplyDraft,
    /// Put the scenario that runs back into the editor, forgetting the draft.
    RevertDraft,
    /// Put the built-in scenario of this name into the editor (not run until applied).
    DraftFromBuiltin,
    /// Save one of the run's exports as a file: the report, the metrics, what happened, a topic.
    Export(crate::sim::export::ExportKind),
    /// A command from the page this one is embedded in.
    Host(crate::embed::HostCommand),
    /// Show every panel again (after a link chose some).
    ShowAllPanels,
    /// A file the user chose or dropped: a scenario (checked, and run if it reads) or a run
    /// file (opened as it was saved).
    Import {
        /// The file's name.
        file: String,
        /// Its text, or why the browser could not read it.
        text: Result<String, String>,
    },
}

pub use crate::sim::live_run::{Viewer, VIEWER_MESSAGES};

/// The live simulator's state.
pub struct LiveState {
    /// The number of the run in the page's worker, whose news come as
    /// [`LiveAction::RunNews`]; `None` when no worker could start (the notice says why). The
    /// page changes and reads the run only by asking it ([`crate::sim::run_requests`]) and
    /// telling it how to move ([`crate::sim::live_run::Motion`]).
    run: Option<u32>,
    /// The editor's text being checked by the worker before it runs ([`ToRun::Check`]).
    applying: Option<Rc<Applying>>,
    /// The scenario the run plays (its isolation levels and mode applied).
    scenario: Rc<Scenario>,
    /// What the run showed at its last refresh (its seed, the user's commands, the script's
    /// progress; the parts the panels draw are copied out below).
    shown: Shown,
    /// The time last asked of a run in a worker (a seek, a replay), until its answer comes.
    asked_to: Option<Micros>,
    /// Whether the run is being built in the worker: the page shows [`Shown::waiting`] until
    /// it shows itself.
    pub starting: bool,
    /// The files the run can be exported as, taken while the share panel is open.
    pub exports: Option<Rc<Vec<crate::sim::export::ExportFile>>>,
    /// The scenario's name.
    pub scenario_name: String,
    /// Where the scenario comes from: a built-in, or the user's own text.
    pub source: ScenarioSource,
    /// The scenario editor's draft, while the editor is open.
    pub editor: Option<Rc<ScenarioDraft>>,
    /// Where the editor's draft came from, when that needs saying (kept from an earlier visit,
    /// a link's broken scenario, a file).
    pub editor_note: Option<String>,
    /// Whether the page is asking before opening the editor on a lesson whose answer the file
    /// would give away.
    pub editor_warning: bool,
    /// Databases whose isolation level the user changed (the scenario's own otherwise).
    pub isolation: Vec<(String, Isolation)>,
    /// The integration mode the user chose (the scenario's own otherwise).
    pub mode: Option<Mode>,
    /// The message viewer's settings.
    pub viewer: Viewer,
    /// The viewer's messages, newest first.
    pub messages: Rc<Vec<MessageView>>,
    /// The comparison of the modes, if one was asked for.
    pub compare: Option<Rc<CompareView>>,
    /// The sweep over scale, if one was asked for.
    pub sweep: Option<Rc<crate::sim::sweep::Sweep>>,
    /// The job running beside the run (a comparison, a sweep), while it runs: the simulator
    /// hands it to the worker, and the page says how far it has got.
    pub job: Option<Rc<RunningJob>>,
    /// What the panels show.
    pub view: Rc<PageView>,
    /// Whether time runs.
    pub playing: bool,
    /// The speed (index into [`SPEEDS`]).
    pub speed: usize,
    /// The speed actually kept.
    pub meter: SpeedMeter,
    /// When the address was last brought up to date while playing (wall ms).
    pub last_link: f64,
    /// Simulated time now (updated every frame).
    pub now: Micros,
    /// The furthest time reached.
    pub horizon: Micros,
    /// Events handled so far.
    pub events: u64,
    /// A problem with what the page was asked (a broken link, a refused value): shown until
    /// the next such message.
    pub notice: Option<String>,
    /// A piece of information about what just happened (the run started again with a new
    /// seed): shown until the user does something else.
    pub info: Option<String>,
    /// A time a link asked for, being replayed to a slice per frame (a long run would freeze
    /// the page if replayed at once).
    pub seeking: Option<Micros>,
    /// How far that replay has got (the run's time, ahead of what is shown).
    pub replayed_to: Micros,
    /// The outcome of the last command, in a sentence.
    pub last_result: Option<String>,
    /// The last pipeline or ETL command's answer, for its panel.
    pub pipeline_result: Option<String>,
    /// The schema registry's last answer, for its panel.
    pub registry_result: Option<String>,
    /// Whether the help is open.
    pub help: bool,
    /// Whether the presentation layout is on.
    pub present: bool,
    /// Whether the share panel (the run's link and fingerprint) is open.
    pub share: bool,
    /// The last jump back: its duration (ms of wall time) and the simulated time it replayed.
    pub last_seek_ms: Option<(f64, Micros)>,
    /// Frame timings.
    pub frames: FrameStats,
    /// The invariant checker's last verdict (`cdc` and `events` modes; it runs about once a
    /// second while playing, see [`crate::sim::live_run`]).
    pub checker: Option<Rc<crate::sim::world::InvariantReport>>,
    /// The scenario's expectations judged now (the lesson's checkpoints), refreshed with the
    /// checker's rhythm: some run queries or compare read models.
    pub checkpoints: Rc<Vec<Verdict>>,
    /// The answer the student chose to the lesson's question, before running it.
    pub prediction: Option<Prediction>,
    /// What the student has seen of the lesson that can show its answer (kept across its
    /// modes, seeds and levels).
    pub progress: crate::sim::lesson::Progress,
    /// The coupling map of the scenario's services over the tables as they are now, with the
    /// operations running now (refreshed with the checkpoints).
    pub coupling: Rc<CouplingMap>,
    /// A schema change previewed and not yet run or cancelled.
    pub schema_preview: Option<Rc<SchemaPreview>>,
    /// The panels the link chose (`panels=`); every panel when `None` (an embed shows its
    /// scenario's default ones then, see [`LiveState::shown_panels`]).
    pub panels: Option<Panels>,
    /// The page is embedded in another (`embed=1`): no chrome, the chosen panels, and the host
    /// page's commands taken by message.
    pub embed: Option<Rc<Embedding>>,
    /// Counts the host's commands: each is answered with the state (two taken before the page
    /// renders get one answer).
    pub host_commands: u32,
    /// Why the host's last command could not be done as asked, to tell the host.
    pub host_error: Option<String>,
}

/// A schema change the student is about to run, with what it will do.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaPreview {
    /// The database.
    pub database: String,
    /// The SQL.
    pub sql: String,
    /// What it will break and whom it will wait for.
    pub preview: LivePreview,
}

pub use crate::sim::lesson::Prediction;

/// The editor's text the worker is asked about, before it runs.
#[derive(Debug)]
struct Applying {
    /// The number of the question ([`ToRun::Check`]).
    id: u32,
    /// The text.
    text: String,
    /// What the editor says of it once it runs (where it came from).
    note: Option<String>,
}

/// A scenario text the editor applies, as it would run.
struct Applied {
    scenario: Scenario,
    seed: u64,
    source: ScenarioSource,
    isolation: Vec<(String, Isolation)>,
    mode: Option<Mode>,
}

/// The scenario of `source` with the user's isolation levels and mode, ready to play with
/// `seed` (the scenario's own when `None`): read, not yet built.
fn prepared(
    source: &ScenarioSource,
    seed: Option<u64>,
    isolation: &[(String, Isolation)],
    mode: Option<Mode>,
) -> Result<(Scenario, u64), RunError> {
    let scenario = prepare(source.scenario()?, isolation, mode)?;
    let seed = seed.unwrap_or(scenario.seed);
    Ok((scenario, seed))
}

impl LiveState {
    /// The state for the page's link: `?scenario=NAME&seed=N&speed=4&t=12.3s&isolation=db:level`
    /// (a broken part falls back with a visible message), or the run the engine stopped in,
    /// restored after the reload.
    pub fn from_link() -> Self {
        if let Some(crash) = recovery::take_crash() {
            return Self::restore(crash);
        }
        let restore_failed = recovery::restore_failed();
        let mut notices: Vec<String> = Vec::new();
        if restore_failed {
            notices.push(
                "The SQL engine stopped again while your run was being restored: it starts afresh."
                    .to_owned(),
            );
        }
        let (kept, kept_notice) = keep::load();
        notices.extend(kept_notice);
        let embed = embed::embedding_from_link(&mut notices);
        let panels = embed::panels_from_link(&mut notices);
        embed::check_theme(&mut notices);
        let named = match browser::scenario_param() {
            Some(name) if ScenarioSource::Builtin(name.clone()).text().is_some() => name,
            Some(name) if browser::query_param("src").is_some() => name,
            Some(name) => {
                notices.push(format!(
                    "There is no built-in scenario called \"{name}\": showing \"{DEFAULT_SCENARIO}\" instead."
                ));
                DEFAULT_SCENARIO.to_owned()
            }
            None => DEFAULT_SCENARIO.to_owned(),
        };
        // The link's own scenario text, if it carries one; a broken one falls back to the
        // built-in it names (or the default), its text kept in the editor to fix.
        let fallback = || {
            let builtin = ScenarioSource::Builtin(named.clone());
            if builtin.text().is_some() {
                builtin
            } else {
                ScenarioSource::Builtin(DEFAULT_SCENARIO.to_owned())
            }
        };
        let mut broken: Option<String> = None;
        let mut fell_back = false;
        let source = match browser::query_param("src").map(|packed| unpack(&packed)) {
            Some(Ok(text)) => match ScenarioDraft::new(text.clone()).problem {
                None => ScenarioSource::of_text(&text),
                Some(problem) => {
                    let instead = fallback();
                    notices.push(format!(
                        "The link's scenario has a problem — {problem}: showing \"{}\" instead. The link's text is in the scenario editor, to fix and apply.",
                        builtin_name(&instead)
                    ));
                    broken = Some(text);
                    fell_back = true;
                    instead
                }
            },
            Some(Err(problem)) => {
                let instead = fallback();
                notices.push(format!(
                    "The link's scenario cannot be read — {problem}: showing \"{}\" instead.",
                    builtin_name(&instead)
                ));
                fell_back = true;
                instead
            }
            None => ScenarioSource::Builtin(named.clone()),
        };
        let seed = match browser::query_param("seed").map(|s| s.trim().parse::<u64>()) {
            Some(Ok(seed)) => Some(seed),
            Some(Err(_)) => {
                notices.push(
                    "The link's seed is not a whole number: using the scenario's own.".to_owned(),
                );
                None
            }
            None => None,
        };
        let speed = match browser::query_param("speed") {
            Some(text) => speed_from_link(&text).unwrap_or_else(|| {
                notices.push(format!(
                    "The link's speed \"{text}\" is not one of ¼, 1, 4, 16 or max: playing at 1×."
                ));
                1
            }),
            // The speed last chosen in this browser (an embed plays as its author wrote it).
            None if embed.is_some() => 1,
            None => kept
                .settings
                .speed
                .filter(|s| *s < SPEEDS.len())
                .unwrap_or(1),
        };
        let at = match browser::query_param("t") {
            Some(text) => time_from_link(&text).or_else(|| {
                notices.push(format!(
                    "The link's time \"{text}\" is not a time like 12.3s: starting at 0 s."
                ));
                None
            }),
            None => None,
        };
        let isolation = match browser::query_param("isolation").map(|t| isolation_from_link(&t)) {
            Some(Ok(levels)) => levels,
            Some(Err(problem)) => {
                notices.push(format!(
                    "The link's isolation: {problem}; using the scenario's own."
                ));
                Vec::new()
            }
            None => Vec::new(),
        };
        let mode = match browser::query_param("mode") {
            Some(text) => Mode::from_name(&text).or_else(|| {
                notices.push(format!(
                    "The link's mode \"{text}\" is not shared, owned, etl, cdc or events: using the scenario's own."
                ));
                None
            }),
            None => None,
        };
        // A mode the scenario cannot run in keeps the scenario, in its own mode.
        let modes = source.scenario().ok().map(|s| (s.modes(), s.mode, s.name));
        let mode = match (mode, modes) {
            (Some(mode), Some((modes, own, scenario_name))) if !modes.contains(&mode) => {
                let names: Vec<&str> = modes.iter().map(|m| m.name()).collect();
                notices.push(format!(
                    "{scenario_name} cannot run in the {} mode (its modes: {}): showing it in its own, {}.",
                    mode.name(),
                    names.join(", "),
                    own.name()
                ));
                None
            }
            (mode, _) => mode,
        };
        let commands = match browser::query_param("run").map(|text| commands_from_link(&text)) {
            Some(Ok(commands)) => commands,
            Some(Err(problem)) => {
                notices.push(format!(
                    "The link's recorded actions cannot be read — {problem}: the run starts without them."
                ));
                Vec::new()
            }
            None => Vec::new(),
        };
        let mut state = Self::load(&source, seed, isolation, mode);
        // A scenario that reads but whose run cannot be built (a table its SQL names is not
        // there) is a text with a problem too: kept in the editor, at its line.
        if let ScenarioSource::Edited(text) = &source {
            if state.source != source {
                let problem = crate::sim::scenario::ScenarioError::at(
                    "",
                    state.notice.take().unwrap_or_default(),
                );
                let instead = fallback();
                notices.push(format!(
                    "The link's scenario has a problem — {problem}: showing \"{}\" instead. The link's text is in the scenario editor, to fix and apply.",
                    builtin_name(&instead)
                ));
                broken = None;
                fell_back = true;
                state = Self::load(&instead, seed, Vec::new(), None);
                state.editor = Some(Rc::new(ScenarioDraft::failed(text.to_string(), problem)));
                state.editor_note =
                    Some("The scenario the link carried, with its problem.".to_owned());
            }
        }
        // The student's own actions, replayed at their times (not on another scenario than
        // the one they were given in).
        if !commands.is_empty() && !fell_back && state.notice.is_none() {
            state = state.ask(RunRequest::Replay { commands, until: 0 });
        }
        state.speed = speed;
        state.present = match browser::query_param("present") {
            _ if embed.is_some() => false,
            Some(present) => present == "1",
            None => kept.settings.present,
        };
        state.panels = panels;
        state.embed = embed.map(Rc::new);
        // `autoplay=1` plays at once (once a link's time is reached); `paused=1` wins over it.
        let flag =
            |name: &str| browser::query_param(name).is_some_and(|v| v != "0" && v != "false");
        state.playing = flag("autoplay") && !flag("paused");
        if let Some(text) = broken {
            state.editor = Some(Rc::new(ScenarioDraft::new(text)));
            state.editor_note = Some("The scenario the link carried, with its problem.".to_owned());
        }
        match at.filter(|at| *at > 0) {
            Some(at) if at <= SEEK_AT_ONCE => {
                state = state.seek(at);
                state.last_seek_ms = None;
            }
            // The transport shows how far the replay has got.
            Some(at) => state.seeking = Some(at),
            None => {}
        }
        if let Some(notice) = state.notice.take() {
            notices.push(notice);
        }
        // An embed's reader did not write its address: its author did.
        let notices = notices.join(" ");
        let notices = if state.embed.is_some() {
            notices.replace("The link's", "This embed's")
        } else {
            notices
        };
        state.notice = (!notices.is_empty()).then_some(notices);
        state.remember();
        state
    }

    /// The run the engine stopped in, at the same time, with every command but the one that
    /// panicked, and a message that says which statement it was.
    pub(super) fn restore(crash: Crash) -> Self {
        let run = crash.run;
        let at = run.at;
        let source = run.scenario_source();
        let (commands, dropped) =
            recovery::without_culprit(run.commands, crash.statement.as_deref());
        let mut state = Self::load(&source, Some(run.seed), run.isolation, run.mode);
        state.speed = run.speed.min(SPEEDS.len() - 1);
        let kept = commands.len();
        state = state.ask(RunRequest::Replay {
            commands,
            until: run.at,
        });
        recovery::restored();
        let statement = crash
            .statement
            .map_or_else(|| "a statement".to_owned(), |s| format!("`{}`", s.trim()));
        state.notice = Some(format!(
            "The SQL engine stopped on {statement} ({}). The run came back at {}, paused, with {} of your commands replayed{}: press play to go on.",
            crash.message,
            clock_text(at),
            kept,
            if dropped > 0 { ", without the one that stopped it" } else { "" },
        ));
        state.remember();
        state
    }

    /// The state for the scenario from `source` with `seed` (its own when `None`) and the
    /// user's isolation levels, with the lesson's progress kept in this browser; the default
    /// scenario, with a message, if it cannot be built.
    pub fn load(
        source: &ScenarioSource,
        seed: Option<u64>,
        isolation: Vec<(String, Isolation)>,
        mode: Option<Mode>,
    ) -> Self {
        let started = prepared(source, seed, &isolation, mode).map(|(scenario, seed)| {
            Self::with_run(scenario, seed, source.clone(), isolation, mode, None)
        });
        started.unwrap_or_else(|error| Self::fallback(error.to_string()))
    }

    /// The default scenario, saying why the one asked for is not running (`notice`).
    fn fallback(notice: String) -> Self {
        let default = ScenarioSource::Builtin(DEFAULT_SCENARIO.to_owned());
        match prepared(&default, None, &[], None).map(|(scenario, seed)| {
            Self::with_run(scenario, seed, default, Vec::new(), None, Some(notice))
        }) {
            Ok(state) => state,
            Err(_) => unreachable!("the built-in default scenario builds (a unit test says so)"),
        }
    }

    /// The state for the run of `scenario` with `seed` (from `source`), with the lesson's
    /// progress kept in this browser. The run starts in the page's worker, which shows it once
    /// built (the page shows [`Shown::waiting`] meanwhile, and falls back if it does not
    /// build: [`FromRun::Started`]).
    fn with_run(
        scenario: Scenario,
        seed: u64,
        source: ScenarioSource,
        isolation: Vec<(String, Isolation)>,
        mode: Option<Mode>,
        notice: Option<String>,
    ) -> Self {
        let lesson = keep::read()
            .lessons
            .remove(&scenario.name)
            .unwrap_or_default();
        let scenario_name = scenario.name.clone();
        let scenario = Rc::new(scenario);
        let shown = Shown::waiting(&scenario, seed);
        let (run, notice) = match run_worker::start(&scenario, seed) {
            Ok(number) => (Some(number), notice),
            Err(why) => (
                None,
                Some(format!(
                    "The run cannot start: {why}. Reload the page to try again."
                )),
            ),
        };
        Self {
            starting: true,
            scenario,
            shown: shown.clone(),
            asked_to: None,
            exports: None,
            scenario_name,
            source,
            editor: None,
            editor_note: None,
            editor_warning: false,
            run,
            applying: None,
            isolation,
            mode,
            viewer: Viewer::default(),
            messages: shown.messages,
            compare: None,
            sweep: None,
            job: None,
            view: shown.view,
            playing: false,
            speed: 1,
            meter: SpeedMeter::default(),
            last_link: 0.0,
            now: 0,
            horizon: 0,
            events: 0,
            notice,
            info: None,
            seeking: None,
            replayed_to: 0,
            last_result: None,
            pipeline_result: None,
            registry_result: None,
            help: false,
            present: false,
            share: false,
            last_seek_ms: None,
            frames: FrameStats::default(),
            checker: shown.checker,
            checkpoints: shown.checkpoints,
            prediction: lesson.prediction,
            progress: lesson.progress,
            coupling: shown.coupling,
            schema_preview: None,
            panels: None,
            embed: None,
            host_commands: 0,
            host_error: None,
        }
    }

    /// The run's time as the page has it: the time last asked of a run in a worker until its
    /// answer comes, else the clock's.
    fn at(&self) -> Micros {
        self.asked_to.unwrap_or(self.now)
    }

    /// The scenario's title, for the header.
    pub fn title(&self) -> String {
        let scenario = self.scenario();
        scenario
            .title
            .clone()
            .unwrap_or_else(|| scenario.name.clone())
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.shown.seed
    }

    /// The clock as text.
    pub fn clock(&self) -> String {
        format_micros(self.now)
    }

    /// A replay to a time under way (a link's, a run file's, an embed's host's): what the
    /// transport says of it, and how far it has got (0 to 1). The page takes no other action
    /// meanwhile (its buttons are disabled).
    pub fn replaying(&self) -> Option<(String, f64)> {
        let target = self.seeking?;
        let said = if self.embed.is_some() {
            "Running to"
        } else {
            "Replaying the run to"
        };
        let done = (self.replayed_to.min(target) as f64 / target.max(1) as f64).clamp(0.0, 1.0);
        Some((format!("{said} {}…", clock_text(target)), done))
    }

    /// The speed actually kept, when it falls short of the chosen one while playing.
    pub fn lagging(&self) -> Option<f64> {
        // At "max" no speed is chosen, so none can fall short.
        SPEEDS.get(self.speed)?.0?;
        let achieved = self.meter.achieved?;
        (self.playing && self.meter.falling_short).then_some(achieved)
    }

    /// What the link carries now, parameter by parameter (`None`: left out).
    fn link_pairs(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("scenario", Some(self.scenario_name.clone())),
            ("seed", Some(self.seed().to_string())),
            (
                "speed",
                (self.speed != 1).then(|| speed_for_link(self.speed)),
            ),
            ("t", (self.at() > 0).then(|| time_for_link(self.at()))),
            ("isolation", isolation_for_link(&self.isolation)),
            ("mode", self.mode.map(|m| m.name().to_owned())),
            ("present", self.present.then(|| "1".to_owned())),
            ("panels", self.panels.map(Panels::for_link)),
            ("run", commands_for_link(&self.shown.commands)),
            ("src", self.source.edited_text().map(pack)),
        ]
    }

    /// The run as it is now, as the tab keeps it and a run file holds it.
    pub fn saved_run(&self) -> SavedRun {
        SavedRun {
            scenario: self.scenario_name.clone(),
            source: self.source.edited_text().map(str::to_owned),
            seed: self.seed(),
            speed: self.speed,
            isolation: self.isolation.clone(),
            mode: self.mode,
            at: self.at(),
            commands: self.shown.commands.to_vec(),
        }
    }

    /// The run as a file to save (for a link too long to send): open it again with the
    /// scenario editor's Import.
    pub fn run_file(&self) -> String {
        RunFile::write(&self.saved_run())
    }

    /// The scenario's text as it runs (for the editor and for export).
    pub fn scenario_text(&self) -> String {
        self.source.text().unwrap_or_default().to_owned()
    }

    /// The link to this run as it is now: scenario, seed, time, settings and the user's
    /// commands, which whoever opens it sees replayed.
    pub fn share_link(&self) -> String {
        let pairs = self.link_pairs();
        let pairs: Vec<(&str, Option<&str>)> =
            pairs.iter().map(|(k, v)| (*k, v.as_deref())).collect();
        browser::url_with_query(&pairs)
    }

    /// How many commands of the user's the link replays.
    pub fn recorded_commands(&self) -> usize {
        self.shown.commands.len()
    }

    /// Keeps the address and the tab's record of the run up to date with what is on screen.
    fn remember(&self) {
        let pairs = self.link_pairs();
        let pairs: Vec<(&str, Option<&str>)> =
            pairs.iter().map(|(k, v)| (*k, v.as_deref())).collect();
        browser::set_query(&pairs);
        recovery::save_run(&self.saved_run());
    }

    /// Whether the editor's Apply is being built in the worker (it runs once built).
    pub fn applying(&self) -> bool {
        self.applying.is_some()
    }

    /// The scenario the run plays.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Asks the run `request` (see [`crate::sim::run_requests`]) and takes in its answer:
    /// what is shown after it, and what the page says about it.
    fn ask(self, request: RunRequest) -> Self {
        let Some(run) = self.run else {
            return self;
        };
        let (viewer, playing) = (self.viewer.clone(), self.playing);
        // Steps asked in a row add up, from the time last asked for (the clock shows each when
        // its answer comes, with the panels).
        let mut this = self;
        match &request {
            RunRequest::Seek(to) => this.asked_to = Some(*to),
            // The commands the run will hold, for the link and the tab's record meanwhile.
            RunRequest::Replay { commands, until } => {
                this.asked_to = Some(*until);
                let mut commands = commands.clone();
                commands.sort_by_key(|c| c.at);
                this.shown.commands = Rc::new(commands);
            }
            _ => {}
        }
        run_worker::ask(|id| ToRun::Ask {
            run,
            id,
            request,
            viewer,
            playing,
        });
        this
    }

    /// What the page says about the run's answer (a command's sentence on the panel it acts on,
    /// a refusal as a notice), and what it does with it (a preview shown, a file saved).
    fn take_answer(mut self, answer: RunAnswer) -> Self {
        match answer {
            RunAnswer::Applied {
                command,
                at,
                result,
            } => {
                // A pipeline's answer is shown on its panel, next to the button pressed.
                let sentence = command_sentence(&command, &result);
                if matches!(
                    command,
                    Command::RegisterSchema { .. } | Command::UpgradeReaders { .. }
                ) {
                    self.registry_result = sentence;
                } else if command.is_pipeline() {
                    let at = clock_text(at);
                    self.pipeline_result = sentence.map(|s| format!("{at} — {s}"));
                } else {
                    self.last_result = sentence;
                }
            }
            RunAnswer::Stepped => {}
            RunAnswer::Exports(files) => self.exports = Some(Rc::new(files)),
            RunAnswer::Undone(Ok(true)) => self.last_result = None,
            RunAnswer::Undone(Ok(false)) => {
                self.notice = Some("No step to take back: the script is at its start.".to_owned())
            }
            RunAnswer::Sought {
                to,
                from: Ok(from),
                took_ms,
                back,
            } => {
                if self.asked_to == Some(to) {
                    self.asked_to = None;
                }
                if back {
                    self.last_seek_ms = Some((took_ms, to.saturating_sub(from)));
                }
            }
            RunAnswer::Restarted {
                seed: Some(seed),
                cleared,
                result: Ok(()),
            } => {
                self.info = Some(format!(
                    "Seed {seed}: the run starts again from 0 s with other random arrivals and data{}.",
                    if cleared > 0 { " (your commands were cleared)" } else { "" }
                ));
            }
            RunAnswer::Restarted {
                seed: None,
                result: Ok(()),
                ..
            } => {}
            RunAnswer::Replayed(Ok(())) => self.asked_to = None,
            RunAnswer::Sought {
                from: Err(error), ..
            }
            | RunAnswer::Replayed(Err(error)) => {
                self.asked_to = None;
                self.notice = Some(error.to_string());
            }
            RunAnswer::Undone(Err(error))
            | RunAnswer::Restarted {
                result: Err(error), ..
            } => self.notice = Some(error.to_string()),
            RunAnswer::Previewed {
                database,
                sql,
                result: Ok(preview),
            } => {
                self.schema_preview = Some(Rc::new(SchemaPreview {
                    database,
                    sql,
                    preview,
                }));
            }
            // Not a schema change (or SQL the run will report on): run it at once.
            RunAnswer::Previewed { database, sql, .. } => {
                return self.reduce_command(Command::RunSql { database, sql })
            }
            RunAnswer::Exported {
                kind,
                text: Some(text),
            } => browser::download(&kind.file_name(&self.scenario_name), kind.mime(), &text),
            RunAnswer::Exported { text: None, .. } => {
                self.notice = Some("That export is not part of this run.".to_owned())
            }
        }
        self
    }

    /// This state showing the run as it is now, at wall time `wall` (ms).
    fn with_view(self) -> Self {
        if let Some(run) = self.run {
            run_worker::send_move(run, self.motion(), &self.viewer, Some(self.now));
        }
        self
    }

    /// This state showing `shown`.
    fn take_shown(mut self, shown: Shown) -> Self {
        self.starting = false;
        self.shown = shown.clone();
        self.view = shown.view;
        self.messages = shown.messages;
        self.checker = shown.checker;
        self.checkpoints = shown.checkpoints;
        self.coupling = shown.coupling;
        self.now = shown.now;
        self.events = shown.events;
        self.horizon = shown.horizon;
        if self.run_settled() {
            let mode = self.scenario().mode;
            self.progress.settle(mode);
        }
        self
    }

    /// This state with the panels showing what `before` showed (its view, messages, checks,
    /// clock), until the run's own answer comes.
    fn showing_as(mut self, before: &LiveState) -> Self {
        self.starting = false;
        self.view = Rc::clone(&before.view);
        self.messages = Rc::clone(&before.messages);
        self.checker = before.checker.clone();
        self.checkpoints = Rc::clone(&before.checkpoints);
        self.coupling = Rc::clone(&before.coupling);
        self.now = before.now;
        self.events = before.events;
        self.horizon = before.horizon;
        self
    }

    fn copy(&self) -> Self {
        Self {
            run: self.run,
            applying: self.applying.clone(),
            scenario: Rc::clone(&self.scenario),
            shown: self.shown.clone(),
            asked_to: self.asked_to,
            starting: self.starting,
            exports: self.exports.clone(),
            scenario_name: self.scenario_name.clone(),
            source: self.source.clone(),
            editor: self.editor.clone(),
            editor_note: self.editor_note.clone(),
            editor_warning: self.editor_warning,
            isolation: self.isolation.clone(),
            mode: self.mode,
            viewer: self.viewer.clone(),
            messages: Rc::clone(&self.messages),
            compare: self.compare.clone(),
            sweep: self.sweep.clone(),
            job: self.job.clone(),
            view: Rc::clone(&self.view),
            playing: self.playing,
            speed: self.speed,
            meter: self.meter,
            last_link: self.last_link,
            now: self.now,
            horizon: self.horizon,
            events: self.events,
            notice: self.notice.clone(),
            info: self.info.clone(),
            seeking: self.seeking,
            replayed_to: self.replayed_to,
            last_result: self.last_result.clone(),
            pipeline_result: self.pipeline_result.clone(),
            registry_result: self.registry_result.clone(),
            help: self.help,
            present: self.present,
            share: self.share,
            last_seek_ms: self.last_seek_ms,
            frames: self.frames.clone(),
            checker: self.checker.clone(),
            checkpoints: Rc::clone(&self.checkpoints),
            prediction: self.prediction,
            progress: self.progress.clone(),
            coupling: Rc::clone(&self.coupling),
            schema_preview: self.schema_preview.clone(),
            panels: self.panels,
            embed: self.embed.clone(),
            host_commands: self.host_commands,
            host_error: self.host_error.clone(),
        }
    }

    fn seek(mut self, to: Micros) -> Self {
        // The replay's wall time is not playing time: the speed is measured afresh.
        self.meter = SpeedMeter::default();
        self.ask(RunRequest::Seek(to))
    }

    /// A fresh run of `source` with `seed` and `isolation`, keeping the page's settings.
    fn reload(
        &self,
        source: &ScenarioSource,
        seed: Option<u64>,
        isolation: Vec<(String, Isolation)>,
        mode: Option<Mode>,
    ) -> Self {
        self.carry_over(Self::load(source, seed, isolation, mode))
    }

    /// `loaded` with this page's settings, the lesson's prediction and progress if it is the
    /// same lesson, and the editor as it was.
    pub(super) fn carry_over(&self, mut loaded: Self) -> Self {
        loaded.speed = self.speed;
        loaded.present = self.present;
        loaded.help = self.help;
        loaded.panels = self.panels;
        loaded.embed = self.embed.clone();
        // Another seed, mode or level of the same lesson keeps the student's prediction.
        if loaded.scenario_name == self.scenario_name {
            loaded.prediction = self.prediction;
            loaded.progress = self.progress.clone();
        }
        // An open editor stays open: with its draft on the same scenario, with the new one's
        // text on another.
        if self.editor.is_some() {
            if loaded.scenario_name == self.scenario_name {
                loaded.editor = self.editor.clone();
                loaded.editor_note = self.editor_note.clone();
            } else if loaded.spoilers_hidden() {
                // Another lesson, its question open: ask before showing its file.
                loaded.editor_warning = true;
            } else {
                loaded.open_editor();
            }
        }
        loaded
    }

    /// Opens the editor on the scenario's draft kept in this browser, if there is one that
    /// differs from what runs, or else on the text that runs.
    fn open_editor(&mut self) {
        let running = self.scenario_text();
        let kept = keep::read()
            .drafts
            .remove(&self.scenario_name)
            .filter(|draft| *draft != running);
        self.editor_note = kept.is_some().then(|| {
            "Your edit of this scenario, kept in this browser from before. It is not what runs: Apply runs it, Revert puts back what runs.".to_owned()
        });
        self.editor = Some(Rc::new(ScenarioDraft::new(kept.unwrap_or(running))));
    }

    /// The run `text` (a scenario that reads) would start: the scenario prepared, with the
    /// seed kept if the user chose one, and the mode and isolation levels kept where the new
    /// scenario has them; `None` for a text that does not read or prepare.
    fn to_apply(&self, text: &str) -> Option<Applied> {
        let source = ScenarioSource::of_text(text);
        let scenario = source.scenario().ok()?;
        let own_seed = self.scenario().seed;
        let seed = if self.seed() != own_seed {
            self.seed()
        } else {
            scenario.seed
        };
        let mode = self.mode.filter(|m| scenario.modes().contains(m));
        let isolation: Vec<(String, Isolation)> = self
            .isolation
            .iter()
            .filter(|(database, _)| scenario.databases.iter().any(|d| &d.name == database))
            .cloned()
            .collect();
        let scenario = prepare(scenario, &isolation, mode).ok()?;
        Some(Applied {
            scenario,
            seed,
            source,
            isolation,
            mode,
        })
    }

    /// Asks the worker whether `text` (a scenario that reads) builds; the answer
    /// ([`FromRun::Checked`]) runs it ([`Self::apply_checked`]) or says what is wrong, and the
    /// run goes on meanwhile.
    /// `note`: what the editor says of it once it runs.
    fn apply_scenario(&self, text: &str, note: Option<String>) -> Self {
        let mut next = self.copy();
        let Some(applied) = self.to_apply(text) else {
            return next;
        };
        if let Some(id) = run_worker::check(&applied.scenario, applied.seed) {
            next.applying = Some(Rc::new(Applying {
                id,
                text: text.to_owned(),
                note,
            }));
        }
        next
    }

    /// Runs `applying` from 0 s, the worker having built it; the link then carries the text.
    fn apply_checked(&self, applying: &Applying) -> Self {
        let text = applying.text.as_str();
        let Some(Applied {
            scenario,
            seed,
            source,
            isolation,
            mode,
        }) = self.to_apply(text)
        else {
            return self.copy();
        };
        let had_commands = !self.shown.commands.is_empty();
        let started = Self::with_run(scenario, seed, source, isolation, mode, None);
        let mut loaded = self.carry_over(started);
        loaded.editor = Some(Rc::new(ScenarioDraft::new(text.to_owned())));
        loaded.editor_note = applying.note.clone();
        // Applied while playing, it plays on from 0 s.
        loaded.playing = self.playing;
        loaded.info = Some(format!(
            "{} runs from 0 s with seed {}{}. The page's link now carries it: Share sends it as it is.",
            match &loaded.source {
                ScenarioSource::Edited(_) => format!("Your version of {}", loaded.scenario_name),
                ScenarioSource::Builtin(name) => format!("The built-in {name}"),
            },
            loaded.seed(),
            if had_commands { " (your commands were cleared)" } else { "" }
        ));
        loaded
    }

    /// The editor's text, which the worker found does not build (`problem`): said in the
    /// editor, at its line, and the run goes on as it was.
    fn apply_refused(&self, text: &str, problem: crate::sim::scenario::ScenarioError) -> Self {
        let mut unchanged = self.copy();
        unchanged.editor = Some(Rc::new(ScenarioDraft::failed(
            text.to_owned(),
            problem.located_in(text),
        )));
        unchanged.editor_note = Some(
            "Applying it found a problem that reading the file alone cannot: nothing changed, the run goes on as it was.".to_owned(),
        );
        unchanged
    }

    /// Opens a run saved as a file, as it was: its scenario, seed and settings, and the user's
    /// commands replayed to its time.
    fn open_run(&self, run: SavedRun, file: &str) -> Self {
        let mut loaded = self.reload(
            &run.scenario_source(),
            Some(run.seed),
            run.isolation,
            run.mode,
        );
        if loaded.notice.is_some() {
            return loaded;
        }
        loaded.speed = run.speed.min(SPEEDS.len() - 1);
        let count = run.commands.len();
        // A long run is replayed a slice per frame, as a link's is (at once it would hold the
        // page).
        let at_once = run.at.min(SEEK_AT_ONCE);
        let mut loaded = loaded.ask(RunRequest::Replay {
            commands: run.commands,
            until: at_once,
        });
        loaded.info = Some(if run.at > at_once {
            loaded.seeking = Some(run.at);
            loaded.replayed_to = at_once;
            format!(
                "Opening the run in {file}: {}, replaying its {count} actions to {}…",
                loaded.scenario_name,
                clock_text(run.at)
            )
        } else {
            format!(
                "Opened the run in {file}: {} at {}, with {count} of its actions replayed.",
                loaded.scenario_name,
                clock_text(at_once)
            )
        });
        // The editor shows what now runs.
        if loaded.editor.is_some() {
            loaded.editor = Some(Rc::new(ScenarioDraft::new(loaded.scenario_text())));
            loaded.editor_note = Some(format!("The scenario of the run in {file}."));
        }
        loaded
    }

    /// Applies a command to the run and says what it did, on the panel it acts on.
    fn reduce_command(mut self, command: Command) -> Self {
        if matches!(command, Command::RunSql { .. }) {
            self.schema_preview = None;
        }
        let next = self.ask(RunRequest::Apply(command));
        next.remember();
        next
    }

    /// Whether the run has begun: time has passed, or a script's first step was issued.
    pub fn run_started(&self) -> bool {
        self.now > 0
            || self
                .shown
                .script_progress
                .is_some_and(|(next, ended)| ended || next != Some(0))
    }

    /// Whether what gives the lesson's answer away (the scenario's "Watch" line, the
    /// checkpoints' captions and values) is held back: the lesson asks a question the student
    /// has neither answered nor skipped.
    pub fn spoilers_hidden(&self) -> bool {
        // A page that does not show the question (an embed without its lesson) hides nothing.
        self.prediction.is_none()
            && self.shows(crate::embed::Panel::Lesson)
            && self
                .scenario()
                .lesson
                .as_ref()
                .is_some_and(|l| l.question.is_some())
    }

    /// Whether the lesson's answer may be shown (see [`crate::sim::lesson::LessonSpec::answer`]),
    /// or what would show it.
    pub fn answer(&self) -> crate::sim::lesson::Answer {
        let scenario = self.scenario();
        match &scenario.lesson {
            Some(lesson) => lesson.answer(
                &self.progress,
                scenario.mode,
                &scenario.modes_with_expectations(),
            ),
            None => crate::sim::lesson::Answer::Shown,
        }
    }

    /// Whether this run has shown what it can: its checkpoints are settled, its script has
    /// ended or its time is over.
    fn run_settled(&self) -> bool {
        let scenario = self.scenario();
        let script_ended =
            self.view.script.is_some() && self.shown.script_progress.is_some_and(|(_, end)| end);
        self.now >= scenario.duration.micros()
            || script_ended
            || crate::sim::expectation::settled(&self.checkpoints)
    }
}

/// What a command did, in a sentence for the actions panel (`None`: the panel it acts on
/// shows it already, as the console does).
fn command_sentence(command: &Command, result: &Result<String, CommandError>) -> Option<String> {
    let outcome = match result {
        Err(error) => return Some(format!("Not done: {error}.")),
        Ok(outcome) => outcome,
    };
    Some(match command {
        Command::RunSql { sql, .. } => format!(
            "Running `{}` as one transaction: watch the locks panel and what happened.",
            sql.trim()
        ),
        Command::Console { .. } | Command::ScriptStep => return None,
        Command::SetRate {
            service,
            operation,
            rate_per_s,
        } => format!("{service}.{operation} now arrives {rate_per_s} times a second."),
        Command::StartOperation { service, operation } => {
            format!("{service}.{operation} started: arrivals come again.")
        }
        Command::StopOperation { service, operation } => {
            format!("{service}.{operation} stopped: no new arrivals (work in flight finishes).")
        }
        Command::PauseService { service } => {
            format!("{service} is paused: its new operations wait until you resume it.")
        }
        Command::ResumeService { service } => format!("{service} goes on. ({outcome})"),
        Command::StopConnector { connector }
        | Command::StartConnector { connector }
        | Command::CrashConnector { connector } => format!("{connector}: {outcome}."),
        Command::PauseConsumer { group }
        | Command::ResumeConsumer { group }
        | Command::CrashConsumer { group }
        | Command::RebuildReadModels { group } => format!("Consumer {group}: {outcome}."),
        Command::SetPollInterval {
            target,
            interval_ms,
        } => format!("{target} now polls every {interval_ms} ms."),
        Command::RunEtl => format!("The ETL job: {outcome}."),
        Command::BrokerOutage { .. } => format!("The broker: {outcome}."),
        Command::SlowConsumer { group, .. } => format!("Consumer {group}: {outcome}."),
        Command::StopSources => {
            "Every service stopped and the pipeline healed: it drains until quiet, when the checker's verdict is final.".to_owned()
        }
        Command::RegisterSchema { subject, .. } => format!("{subject}: {outcome}."),
        Command::UpgradeReaders { group } => format!("Consumer {group} now {outcome}."),
    })
}

/// The name of the built-in scenario `source` is, for messages ("your scenario" for an edit).
fn builtin_name(source: &ScenarioSource) -> String {
    match source {
        ScenarioSource::Builtin(name) => name.clone(),
        ScenarioSource::Edited(_) => "your scenario".to_owned(),
    }
}

impl Reducible for LiveState {
    type Action = LiveAction;

    /// Reduces `action`, then keeps in the browser what should outlive the page: the lesson's
    /// prediction and progress, and the settings.
    fn reduce(self: Rc<Self>, action: LiveAction) -> Rc<Self> {
        let next = Rc::clone(&self).reduce_action(action);
        if next.prediction != self.prediction
            || next.progress != self.progress
            || next.scenario_name != self.scenario_name
        {
            let (name, prediction, progress) = (
                next.scenario_name.clone(),
                next.prediction,
                next.progress.clone(),
            );
            if prediction.is_some() || progress != Default::default() {
                keep::update(|kept| {
                    kept.lessons.insert(
                        name,
                        crate::authoring::KeptLesson {
                            prediction,
                            progress,
                        },
                    );
                });
            }
        }
        // An embed's speed is its author's, not this browser's setting.
        if (next.speed != self.speed || next.present != self.present) && next.embed.is_none() {
            let (speed, present) = (next.speed, next.present);
            keep::update(|kept| {
                kept.settings.speed = Some(speed);
                kept.settings.present = present;
            });
        }
        next
    }
}

impl LiveState {
    fn reduce_action(self: Rc<Self>, action: LiveAction) -> Rc<Self> {
        match action {
            // The host's commands are taken even while the run goes to a time.
            LiveAction::Host(command) => return self.host(command),
            LiveAction::Frame(_) => return self.frame(),
            _ => {}
        }
        let mut next = self.copy();
        let wall = browser::now_ms();
        if next.seeking.is_some()
            && !matches!(
                action,
                LiveAction::Frame(_)
                    | LiveAction::ToggleHelp
                    | LiveAction::CloseHelp
                    | LiveAction::JobNews(_)
                    | LiveAction::RunNews(_)
                    | LiveAction::CancelJob
                    | LiveAction::SetSpeed(_)
                    | LiveAction::DismissNotice
            )
        {
            // Wait for the link's replay to finish: acting on a half-replayed run would fork it
            // at the wrong time.
            return self;
        }
        if !matches!(
            action,
            LiveAction::Frame(_)
                | LiveAction::ToggleHelp
                | LiveAction::CloseHelp
                | LiveAction::JobNews(_)
                | LiveAction::RunNews(_)
        ) {
            next.info = None;
            // What the last jump back took is said until the next thing the user does.
            next.last_seek_ms = None;
        }
        let next = match action {
            LiveAction::Frame(_) => return self.frame(),
            LiveAction::Host(command) => return self.host(command),
            LiveAction::ShowAllPanels => {
                next.panels = None;
                next.remember();
                next
            }
            LiveAction::TogglePlay => {
                next.playing = !next.playing;
                next.meter = SpeedMeter::default();
                let next = next.with_view();
                next.remember();
                next
            }
            LiveAction::Pause => {
                next.playing = false;
                let next = next.with_view();
                next.remember();
                next
            }
            LiveAction::StepEvent if next.view.script.is_some() => {
                // In a script, the next event is its next step.
                next.playing = false;
                next.reduce_command(Command::ScriptStep)
            }
            LiveAction::StepEvent => {
                next.playing = false;
                let next = next.ask(RunRequest::StepInstant);
                next.remember();
                next
            }
            LiveAction::StepTime => {
                next.playing = false;
                let to = next.at() + 100 * MS;
                let next = next.seek(to);
                next.remember();
                next
            }
            LiveAction::StepBack => {
                next.playing = false;
                let next = if next.view.script.is_some() {
                    next.ask(RunRequest::UndoScriptStep)
                } else {
                    let to = next.at().saturating_sub(100 * MS);
                    next.seek(to)
                };
                next.remember();
                next
            }
            LiveAction::Seek(ms) => {
                let to = (ms.max(0.0) * 1_000.0) as Micros;
                let next = next.seek(to);
                next.remember();
                next
            }
            LiveAction::Reset => {
                next.playing = false;
                next.last_result = None;
                next.pipeline_result = None;
                next.registry_result = None;
                let next = next.ask(RunRequest::Reset);
                next.remember();
                next
            }
            LiveAction::SetSeed(seed) => {
                next.playing = false;
                // A comparison or sweep running with the old seed would show figures of a run
                // the page no longer plays.
                next.job = None;
                next.last_result = None;
                next.pipeline_result = None;
                next.registry_result = None;
                let next = next.ask(RunRequest::SetSeed(seed));
                next.remember();
                next
            }
            LiveAction::SetSpeed(index) => {
                next.speed = index.min(SPEEDS.len() - 1);
                next.meter = SpeedMeter::default();
                next.remember();
                next
            }
            LiveAction::LoadScenario(name) => {
                let loaded = next.reload(&ScenarioSource::Builtin(name), None, Vec::new(), None);
                loaded.remember();
                loaded
            }
            LiveAction::SetIsolation {
                database,
                isolation,
            } => {
                let mut levels: Vec<(String, Isolation)> = next
                    .isolation
                    .iter()
                    .filter(|(d, _)| *d != database)
                    .cloned()
                    .collect();
                let own = next
                    .scenario()
                    .databases
                    .iter()
                    .find(|d| d.name == database)
                    .map(|d| d.isolation);
                // The scenario's own level is stated by its file, not by the link.
                let file_level = next
                    .source
                    .scenario()
                    .ok()
                    .as_ref()
                    .and_then(|s| s.databases.iter().find(|d| d.name == database))
                    .map(|d| d.isolation);
                if file_level != Some(isolation) {
                    levels.push((database.clone(), isolation));
                }
                let seed = next.seed();
                let had_commands = !next.shown.commands.is_empty();
                let mut loaded = next.reload(&next.source.clone(), Some(seed), levels, next.mode);
                if own != Some(isolation) {
                    loaded.info = Some(format!(
                        "{database} now runs at {}: the run starts again from 0 s with the same seed, so you can compare{}.",
                        isolation.label(),
                        if had_commands { " (your commands were cleared)" } else { "" }
                    ));
                }
                loaded.remember();
                loaded
            }
            LiveAction::Command(command) => next.reduce_command(command),
            LiveAction::Notice(text) => {
                next.notice = Some(text);
                next
            }
            LiveAction::DismissNotice => {
                next.notice = None;
                next
            }
            LiveAction::PreviewSql { database, sql } => {
                next.ask(RunRequest::Preview { database, sql })
            }
            LiveAction::CancelPreview => {
                next.schema_preview = None;
                next
            }
            LiveAction::Predict(prediction) => {
                next.prediction = Some(prediction);
                next
            }
            LiveAction::ToggleHelp => {
                next.help = !next.help;
                next
            }
            LiveAction::CloseHelp => {
                next.help = false;
                next
            }
            LiveAction::TogglePresent => {
                next.present = !next.present;
                next.remember();
                next
            }
            LiveAction::SetMode(mode) => {
                let seed = next.seed();
                let mut loaded = next.reload(
                    &next.source.clone(),
                    Some(seed),
                    next.isolation.clone(),
                    Some(mode),
                );
                if loaded.notice.is_none() {
                    loaded.info = Some(format!(
                        "The same workload with the same seed ({seed}), now in the {} mode, from 0 s — press play: {}",
                        mode.name(),
                        mode.explanation()
                    ));
                }
                loaded.remember();
                loaded
            }
            LiveAction::ViewTopic(topic) => {
                next.viewer.topic = topic;
                next.with_view()
            }
            LiveAction::FilterKey(key) => {
                next.viewer.key = key;
                next.with_view()
            }
            LiveAction::Compare => next.compare_modes(),
            LiveAction::CloseCompare => {
                next.compare = None;
                next
            }
            LiveAction::JobNews(report) => next.take_news(report),
            LiveAction::RunNews(news) => return self.take_run_news(next, &news.0, wall),
            LiveAction::CancelJob => {
                next.job = None;
                next
            }
            LiveAction::Sweep => next.sweep_scale(),
            LiveAction::ToggleShare => {
                next.share = !next.share;
                if next.share {
                    next.playing = false;
                }
                let next = next.with_view();
                next.remember();
                if next.share {
                    next.ask(RunRequest::Exports)
                } else {
                    next
                }
            }
            LiveAction::CloseSweep => {
                next.sweep = None;
                next
            }
            // (Written once, from the kind: the list's counts are not needed to save it.)
            LiveAction::Export(kind) => next.ask(RunRequest::Export(kind)),
            LiveAction::ToggleEditor => {
                if next.editor.is_some() || next.editor_warning {
                    next.editor = None;
                    next.editor_note = None;
                    next.editor_warning = false;
                } else if next.spoilers_hidden() {
                    next.editor_warning = true;
                } else {
                    next.open_editor();
                }
                next
            }
            LiveAction::OpenEditorAnyway => {
                next.editor_warning = false;
                next.open_editor();
                next
            }
            LiveAction::EditDraft(text) => {
                let name = next.scenario_name.clone();
                let kept = text.clone();
                let saved = keep::update(|k| {
                    k.drafts.insert(name, kept);
                });
                next.editor = Some(Rc::new(ScenarioDraft::new(text)));
                next.editor_note = (!saved).then(|| {
                    "This browser does not keep the draft (its storage is full or off): Export it, or apply it, to keep it.".to_owned()
                });
                next
            }
            LiveAction::ApplyDraft => match next.editor.clone() {
                Some(draft) if draft.is_valid() => next.apply_scenario(&draft.text, None),
                _ => next,
            },
            LiveAction::RevertDraft => {
                let name = next.scenario_name.clone();
                keep::update(|k| {
                    k.drafts.remove(&name);
                });
                next.editor = Some(Rc::new(ScenarioDraft::new(next.scenario_text())));
                next.editor_note = None;
                next
            }
            LiveAction::DraftFromBuiltin => {
                let builtin = ScenarioSource::Builtin(next.scenario_name.clone());
                if let Some(text) = builtin.text() {
                    next.editor = Some(Rc::new(ScenarioDraft::new(text.to_owned())));
                    next.editor_note = Some(format!(
                        "The built-in {} as it ships: Apply runs it.",
                        next.scenario_name
                    ));
                }
                next
            }
            LiveAction::Import {
                file,
                text: Ok(text),
            } if text.contains('\0') || text.matches('\u{FFFD}').count() > 2 => {
                next.notice = Some(format!(
                    "{file} is not a text file: a scenario is a TOML or JSON file, a saved run a JSON file."
                ));
                next
            }
            LiveAction::Import { file, text } => match text
                .map(|t| t.replace("\r\n", "\n"))
                .map(|t| (RunFile::read(&t), t))
            {
                Err(problem) => {
                    next.notice = Some(format!("{file} could not be read: {problem}."));
                    next
                }
                Ok((Err(problem), _)) => {
                    next.notice = Some(format!("{file} cannot be opened as a run: {problem}."));
                    next
                }
                Ok((Ok(Some(run)), _)) => {
                    let loaded = next.open_run(run, &file);
                    loaded.remember();
                    loaded
                }
                Ok((Ok(None), text)) => {
                    let draft = ScenarioDraft::new(text);
                    if draft.is_valid() {
                        if let Ok(scenario) = ScenarioSource::of_text(&draft.text).scenario() {
                            keep::update(|k| {
                                k.drafts.insert(scenario.name, draft.text.clone());
                            });
                        }
                        // (An apply that fails says so in the note instead.)
                        next.apply_scenario(&draft.text, Some(format!("Imported from {file}.")))
                    } else {
                        next.editor = Some(Rc::new(draft));
                        next.editor_note = Some(format!(
                            "Imported from {file}. It has a problem, shown below at its line: nothing runs until it is fixed and applied."
                        ));
                        next
                    }
                }
            },
            LiveAction::ToggleFollow => {
                next.viewer.follow = !next.viewer.follow;
                next.with_view()
            }
        };
        Rc::new(next)
    }
}
