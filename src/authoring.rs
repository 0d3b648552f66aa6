//! What an instructor edits and what the page keeps: where the scenario on the page comes from
//! (a built-in, or a text edited or imported), a draft checked as `dataflow-lab check` checks a
//! file, the run file that stands in for a link too long to send, and the record of edits,
//! settings and lesson progress kept in the browser between visits. Pure text handling, tested
//! natively; the page reads and writes files and storage through `ui::browser`.

use crate::sim::builtin;
use crate::sim::clock::Micros;
use crate::sim::job::{Job, JobKind};
use crate::sim::lesson::{Prediction, Progress};
use crate::sim::lock_plan::Isolation;
use crate::sim::modes::Mode;
use crate::sim::playback::RecordedCommand;
use crate::sim::scenario::{Scenario, ScenarioError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::rc::Rc;
use thiserror::Error;

/// The largest scenario text the editor, a link or a file import takes (bytes): far above any
/// lesson (the largest built-in is under 20 KB), far below what would stall the page.
pub const SCENARIO_LIMIT: usize = 256 * 1024;

/// Where the scenario on the page comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScenarioSource {
    /// A built-in scenario, by name.
    Builtin(String),
    /// A scenario the user edited or imported: its whole text.
    Edited(Rc<str>),
}

impl ScenarioSource {
    /// The source of `text`: the built-in scenario it is word for word, or an edit.
    pub fn of_text(text: &str) -> Self {
        match builtin::SCENARIOS.iter().find(|(_, t)| *t == text) {
            Some((name, _)) => Self::Builtin((*name).to_owned()),
            None => Self::Edited(Rc::from(text)),
        }
    }

    /// The scenario's text (`None` for a built-in name there is no scenario for).
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Builtin(name) => builtin::scenario_text(name),
            Self::Edited(text) => Some(text),
        }
    }

    /// The user's own text, when the scenario is not a built-in (what a link and a run file
    /// carry).
    pub fn edited_text(&self) -> Option<&str> {
        match self {
            Self::Edited(text) => Some(text),
            Self::Builtin(_) => None,
        }
    }

    /// Whether the scenario is the user's own text rather than a built-in.
    pub fn is_edited(&self) -> bool {
        matches!(self, Self::Edited(_))
    }

    /// The scenario, read and checked.
    ///
    /// # Errors
    ///
    /// [`RunError::NoSuchBuiltin`], or the text's first problem.
    pub fn scenario(&self) -> Result<Scenario, RunError> {
        match self {
            Self::Builtin(name) => {
                let text = builtin::scenario_text(name)
                    .ok_or_else(|| RunError::NoSuchBuiltin(name.clone()))?;
                Scenario::parse(text).map_err(RunError::BadBuiltin)
            }
            Self::Edited(text) => Scenario::parse(text).map_err(RunError::Edited),
        }
    }
}

/// Why a scenario cannot be run as the page was asked to run it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RunError {
    /// No built-in scenario has that name.
    #[error("there is no built-in scenario \"{0}\"")]
    NoSuchBuiltin(String),
    /// A built-in that does not read (a unit test says none is).
    #[error("{0}")]
    BadBuiltin(ScenarioError),
    /// The user's own text does not read.
    #[error("your scenario: {0}")]
    Edited(ScenarioError),
    /// A mode the scenario cannot run in.
    #[error("\"{scenario}\" cannot run in the {mode} mode (its modes: {modes})")]
    ModeNotOffered {
        /// The scenario's name.
        scenario: String,
        /// The mode asked for.
        mode: &'static str,
        /// The modes it has.
        modes: String,
    },
    /// It reads, but its run cannot be built (a table its SQL names is not there).
    #[error("{0}")]
    Build(ScenarioError),
}

/// `scenario` with the user's isolation levels (for the databases it has) and integration mode.
///
/// # Errors
///
/// [`RunError::ModeNotOffered`] for a mode the scenario cannot run in.
pub fn prepare(
    mut scenario: Scenario,
    isolation: &[(String, Isolation)],
    mode: Option<Mode>,
) -> Result<Scenario, RunError> {
    for (database, level) in isolation {
        if let Some(spec) = scenario.databases.iter_mut().find(|d| &d.name == database) {
            spec.isolation = *level;
        }
    }
    if let Some(mode) = mode {
        let modes = scenario.modes();
        if !modes.contains(&mode) {
            return Err(RunError::ModeNotOffered {
                scenario: scenario.name.clone(),
                mode: mode.name(),
                modes: modes
                    .iter()
                    .map(|m| m.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        scenario.mode = mode;
    }
    Ok(scenario)
}

/// A scenario being edited: its text and what checking it found.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioDraft {
    /// The text as typed.
    pub text: String,
    /// The first problem found (as the command line's `check` reports it), if any.
    pub problem: Option<ScenarioError>,
    /// The scenario's name, title and modes when the text is valid, for the editor's status.
    pub summary: Option<String>,
}

impl ScenarioDraft {
    /// Checks `text` as a scenario file.
    pub fn new(text: String) -> Self {
        if text.len() > SCENARIO_LIMIT {
            return Self {
                text,
                problem: Some(ScenarioError::at(
                    "",
                    format!(
                        "the scenario is over {} KB: the page takes scenarios up to that size",
                        SCENARIO_LIMIT / 1024
                    ),
                )),
                summary: None,
            };
        }
        match Scenario::parse(&text) {
            Ok(scenario) => {
                let modes: Vec<&str> = scenario.modes().iter().map(|m| m.name()).collect();
                let summary = format!(
                    "{} — {} service{}, {} database{}, {}, mode{} {}",
                    scenario.name,
                    scenario.services.len(),
                    if scenario.services.len() == 1 {
                        ""
                    } else {
                        "s"
                    },
                    scenario.databases.len(),
                    if scenario.databases.len() == 1 {
                        ""
                    } else {
                        "s"
                    },
                    scenario.duration,
                    if modes.len() == 1 { "" } else { "s" },
                    modes.join(", ")
                );
                Self {
                    text,
                    problem: None,
                    summary: Some(summary),
                }
            }
            Err(problem) => Self {
                text,
                problem: Some(problem),
                summary: None,
            },
        }
    }

    /// `text`, which reads as a scenario, with a problem that only building its run finds (a
    /// table its SQL names that is not there).
    pub fn failed(text: String, problem: ScenarioError) -> Self {
        Self {
            text,
            problem: Some(problem),
            summary: None,
        }
    }

    /// Whether the text reads as a scenario.
    pub fn is_valid(&self) -> bool {
        self.problem.is_none()
    }

    /// How many lines the text has (at least one, as the editor shows it).
    pub fn lines(&self) -> usize {
        self.text.split('\n').count()
    }
}

/// Where line `line` (1-based) of `text` starts and ends, in UTF-16 code units (the units a
/// text area's selection counts in), without its line break.
pub fn line_span_utf16(text: &str, line: usize) -> Option<(u32, u32)> {
    let mut start = 0u32;
    for (index, content) in text.split('\n').enumerate() {
        let length = content.trim_end_matches('\r').encode_utf16().count() as u32;
        if index + 1 == line {
            return Some((start, start + length));
        }
        start += content.encode_utf16().count() as u32 + 1;
    }
    None
}

/// Why a run file or the browser's record cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthoringError {
    /// Not JSON, or JSON of another shape.
    #[error("it is not what the page writes ({0})")]
    NotRecognised(String),
    /// Written by a newer version of the page.
    #[error("it was written by a newer version of Dataflow Lab (format {found}, this page reads up to {supported})")]
    Newer {
        /// The version found.
        found: u32,
        /// The newest this page reads.
        supported: u32,
    },
}

/// What it takes to rebuild a run: its scenario, seed, settings and the user's commands at
/// their simulated times. The page keeps one for the tab (to come back from an engine crash)
/// and writes one as a file when a link would be too long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedRun {
    /// The scenario's name (a built-in's, unless `source` is given).
    pub scenario: String,
    /// The scenario's whole text, when it is the user's own rather than a built-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The seed.
    pub seed: u64,
    /// The speed (an index into the page's speeds).
    #[serde(default)]
    pub speed: usize,
    /// Databases whose isolation level the user changed.
    #[serde(default)]
    pub isolation: Vec<(String, Isolation)>,
    /// The integration mode the user chose, if not the scenario's.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// Simulated time on screen.
    #[serde(default)]
    pub at: Micros,
    /// The user's commands, in order.
    #[serde(default)]
    pub commands: Vec<RecordedCommand>,
}

impl SavedRun {
    /// Where the run's scenario comes from.
    pub fn scenario_source(&self) -> ScenarioSource {
        match &self.source {
            Some(text) => ScenarioSource::Edited(Rc::from(text.as_str())),
            None => ScenarioSource::Builtin(self.scenario.clone()),
        }
    }
}

/// A job for the page's worker ([`crate::sim::job`]), as it travels there (JSON): what it runs,
/// and the run it runs on as a [`SavedRun`] (the scenario's name or text, seed, isolation levels
/// and mode, without the user's commands), which the worker reads and prepares again exactly as
/// the page built its own run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRequest {
    /// The page's number for the job (its reports carry it).
    pub id: u32,
    /// What it runs.
    pub kind: JobKind,
    /// The run it runs on.
    pub run: SavedRun,
}

impl JobRequest {
    /// The job: the run's scenario prepared as the page prepared it, with its seed.
    ///
    /// # Errors
    ///
    /// A [`RunError`] when the scenario no longer reads or cannot run in the mode (the page
    /// built it from the same text, so only a changed build would).
    pub fn job(&self) -> Result<Job, RunError> {
        let scenario = prepare(
            self.run.scenario_source().scenario()?,
            &self.run.isolation,
            self.run.mode,
        )?;
        Ok(Job {
            kind: self.kind,
            scenario,
            seed: self.run.seed,
        })
    }
}

/// What a run file says it is, so that a scenario file is not taken for one.
pub const RUN_FILE_FORMAT: &str = "dataflow-lab-run";

/// The newest run-file version this page writes and reads.
pub const RUN_FILE_VERSION: u32 = 1;

/// A run saved as a file (what a link carries, when the link would be too long to send).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFile {
    /// Always [`RUN_FILE_FORMAT`].
    pub format: String,
    /// The file's version ([`RUN_FILE_VERSION`]).
    pub version: u32,
    /// The run.
    #[serde(flatten)]
    pub run: SavedRun,
}

impl RunFile {
    /// The file for `run`, as pretty JSON.
    pub fn write(run: &SavedRun) -> String {
        let file = Self {
            format: RUN_FILE_FORMAT.to_owned(),
            version: RUN_FILE_VERSION,
            run: run.clone(),
        };
        serde_json::to_string_pretty(&file).unwrap_or_default()
    }

    /// The run in `text`, or `Ok(None)` when the text is not a run file at all (a scenario
    /// file, say).
    ///
    /// # Errors
    ///
    /// [`AuthoringError`] for a run file that cannot be read.
    pub fn read(text: &str) -> Result<Option<SavedRun>, AuthoringError> {
        #[derive(Deserialize)]
        struct Header {
            format: Option<String>,
            version: Option<u32>,
        }
        let Ok(header) = serde_json::from_str::<Header>(text) else {
            return Ok(None);
        };
        if header.format.as_deref() != Some(RUN_FILE_FORMAT) {
            return Ok(None);
        }
        let version = header.version.unwrap_or(0);
        if version > RUN_FILE_VERSION {
            return Err(AuthoringError::Newer {
                found: version,
                supported: RUN_FILE_VERSION,
            });
        }
        serde_json::from_str::<Self>(text)
            .map(|file| Some(file.run))
            .map_err(|e| AuthoringError::NotRecognised(e.to_string()))
    }
}

/// The newest version of the browser's record this page writes and reads.
pub const KEPT_VERSION: u32 = 1;

/// A lesson's progress as kept between visits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KeptLesson {
    /// The student's answer to the question, if given.
    pub prediction: Option<Prediction>,
    /// What the student has seen (runs settled, comparison, sweep).
    pub progress: Progress,
}

/// The page's settings kept between visits (a link's own parameters win over them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KeptSettings {
    /// The playback speed (an index into the page's speeds).
    pub speed: Option<usize>,
    /// Whether the presentation layout was on.
    pub present: bool,
}

/// What the page keeps in the browser between visits: scenario drafts, settings and lesson
/// progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kept {
    /// The record's version ([`KEPT_VERSION`]).
    pub version: u32,
    /// Scenario texts being edited, by the name of the scenario they edit.
    #[serde(default)]
    pub drafts: BTreeMap<String, String>,
    /// Lesson progress, by scenario name.
    #[serde(default)]
    pub lessons: BTreeMap<String, KeptLesson>,
    /// Settings.
    #[serde(default)]
    pub settings: KeptSettings,
}

impl Default for Kept {
    fn default() -> Self {
        Self {
            version: KEPT_VERSION,
            drafts: BTreeMap::new(),
            lessons: BTreeMap::new(),
            settings: KeptSettings::default(),
        }
    }
}

impl Kept {
    /// The record in `json`.
    ///
    /// # Errors
    ///
    /// [`AuthoringError`] when it is not a record this page wrote, or one from a newer page.
    pub fn read(json: &str) -> Result<Self, AuthoringError> {
        let kept: Self =
            serde_json::from_str(json).map_err(|e| AuthoringError::NotRecognised(e.to_string()))?;
        if kept.version > KEPT_VERSION {
            return Err(AuthoringError::Newer {
                found: kept.version,
                supported: KEPT_VERSION,
            });
        }
        Ok(kept)
    }

    /// The record as JSON.
    pub fn write(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_that_cannot_run_as_asked_says_why() {
        let missing = ScenarioSource::Builtin("shp".to_owned()).scenario();
        assert_eq!(missing, Err(RunError::NoSuchBuiltin("shp".to_owned())));
        let edited = ScenarioSource::of_text("name = 3")
            .scenario()
            .expect_err("not a scenario");
        assert!(matches!(edited, RunError::Edited(_)), "{edited:?}");
        assert!(
            edited.to_string().starts_with("your scenario: "),
            "{edited}"
        );

        let shop = ScenarioSource::Builtin("shop".to_owned())
            .scenario()
            .expect("the shop reads");
        let levels = [
            ("shop".to_owned(), Isolation::Serializable),
            ("nowhere".to_owned(), Isolation::Serializable),
        ];
        let prepared = prepare(shop.clone(), &levels, Some(Mode::Cdc)).expect("the shop has cdc");
        assert_eq!(prepared.mode, Mode::Cdc);
        assert_eq!(prepared.databases[0].isolation, Isolation::Serializable);
        let lost = ScenarioSource::Builtin("lost-update".to_owned())
            .scenario()
            .expect("lost-update reads");
        match prepare(lost, &[], Some(Mode::Cdc)) {
            Err(RunError::ModeNotOffered { scenario, mode, .. }) => {
                assert_eq!((scenario.as_str(), mode), ("lost-update", "cdc"));
            }
            other => panic!("lost-update has no cdc mode: {other:?}"),
        }
    }
    use crate::sim::world::Command;

    #[test]
    fn the_schema_the_editor_links_to_is_the_formats_own() {
        // The page serves static/scenario.schema.json (the editor's "JSON Schema" link).
        let served = include_str!("../static/scenario.schema.json");
        assert_eq!(
            served.trim_end(),
            Scenario::json_schema().trim_end(),
            "static/scenario.schema.json is out of date: \
             cargo run --bin dataflow-lab -- schema > static/scenario.schema.json"
        );
    }

    #[test]
    fn a_builtin_text_is_its_builtin_and_anything_else_an_edit() {
        let shop = builtin::scenario_text("shop").expect("shop is built in");
        assert_eq!(
            ScenarioSource::of_text(shop),
            ScenarioSource::Builtin("shop".to_owned())
        );
        let edited = shop.replacen("seed", "# a comment\nseed", 1);
        let source = ScenarioSource::of_text(&edited);
        assert!(source.is_edited());
        assert_eq!(source.text(), Some(edited.as_str()));
        assert!(source.scenario().is_ok());
        assert!(ScenarioSource::Builtin("nope".to_owned())
            .scenario()
            .expect_err("no such built-in")
            .to_string()
            .contains("nope"));
    }

    #[test]
    fn a_draft_with_a_bad_value_names_its_line_and_field() {
        let shop = builtin::scenario_text("shop").expect("shop is built in");
        let good = ScenarioDraft::new(shop.to_owned());
        assert!(good.is_valid());
        assert!(good
            .summary
            .as_deref()
            .is_some_and(|s| s.starts_with("shop")));
        let line = shop
            .lines()
            .position(|l| l.trim_start().starts_with("rate_per_s"))
            .expect("the shop has a rate")
            + 1;
        let bad: String = shop
            .lines()
            .enumerate()
            .map(|(i, l)| {
                if i + 1 == line {
                    "rate_per_s = -5".to_owned()
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let draft = ScenarioDraft::new(bad);
        let problem = draft.problem.expect("a negative rate is refused");
        assert_eq!(problem.line, Some(line), "{problem}");
        assert!(problem.path.ends_with("rate_per_s"), "{problem}");
        assert!(draft.summary.is_none());
    }

    #[test]
    fn a_draft_over_the_limit_is_refused_without_reading_it() {
        let draft = ScenarioDraft::new("#".repeat(SCENARIO_LIMIT + 1));
        assert!(!draft.is_valid());
        assert_eq!(draft.lines(), 1);
    }

    #[test]
    fn line_spans_count_utf16_units_and_leave_out_line_breaks() {
        let text = "a = 1\r\nb = \"µ😀\"\nc";
        assert_eq!(line_span_utf16(text, 1), Some((0, 5)));
        // "b = \"µ😀\"": µ is one unit, 😀 two.
        assert_eq!(line_span_utf16(text, 2), Some((7, 16)));
        assert_eq!(line_span_utf16(text, 3), Some((17, 18)));
        assert_eq!(line_span_utf16(text, 4), None);
        assert_eq!(line_span_utf16(text, 0), None);
    }

    /// A job request through JSON is the job on the scenario the page runs: a built-in with
    /// its level and mode changed, and an edited text, each prepared as the page prepares it.
    #[test]
    fn a_job_request_through_json_runs_on_the_scenario_the_page_runs() {
        let edited =
            builtin::scenario_text("shop")
                .expect("built in")
                .replacen("seed = 42", "seed = 43", 1);
        for (source, isolation, mode) in [
            (
                ScenarioSource::Builtin("shop".to_owned()),
                vec![("shop".to_owned(), Isolation::Serializable)],
                Some(Mode::Cdc),
            ),
            (ScenarioSource::of_text(&edited), Vec::new(), None),
        ] {
            let request = JobRequest {
                id: 4,
                kind: JobKind::Compare { at: 2_000_000 },
                run: SavedRun {
                    scenario: "shop".to_owned(),
                    source: source.edited_text().map(str::to_owned),
                    seed: 9,
                    speed: 1,
                    isolation: isolation.clone(),
                    mode,
                    at: 0,
                    commands: Vec::new(),
                },
            };
            let text = serde_json::to_string(&request).expect("writes");
            let back: JobRequest = serde_json::from_str(&text).expect("reads back");
            assert_eq!(back, request);
            let expected =
                prepare(source.scenario().expect("reads"), &isolation, mode).expect("prepares");
            assert_eq!(
                back.job().expect("the job builds"),
                Job {
                    kind: JobKind::Compare { at: 2_000_000 },
                    scenario: expected,
                    seed: 9,
                }
            );
        }
    }

    fn run() -> SavedRun {
        SavedRun {
            scenario: "mine".to_owned(),
            source: Some("name = \"mine\"".to_owned()),
            seed: 7,
            speed: 2,
            isolation: vec![("shop".to_owned(), Isolation::Serializable)],
            mode: Some(Mode::Cdc),
            at: 1_500_000,
            commands: vec![RecordedCommand {
                at: 1_000_000,
                command: Command::PauseService {
                    service: "billing".to_owned(),
                },
            }],
        }
    }

    #[test]
    fn a_run_file_reads_back_as_written() {
        let text = RunFile::write(&run());
        assert!(text.contains(RUN_FILE_FORMAT));
        assert_eq!(RunFile::read(&text), Ok(Some(run())));
        assert_eq!(
            run().scenario_source(),
            ScenarioSource::Edited(Rc::from("name = \"mine\""))
        );
    }

    #[test]
    fn a_scenario_is_not_taken_for_a_run_file_and_a_newer_file_is_named() {
        assert_eq!(RunFile::read("name = \"shop\""), Ok(None));
        assert_eq!(RunFile::read("{\"name\": \"shop\"}"), Ok(None));
        let newer = RunFile::write(&run()).replace("\"version\": 1", "\"version\": 9");
        assert!(matches!(
            RunFile::read(&newer),
            Err(AuthoringError::Newer { found: 9, .. })
        ));
        let broken = RunFile::write(&run()).replace("\"seed\": 7", "\"seed\": \"seven\"");
        assert!(matches!(
            RunFile::read(&broken),
            Err(AuthoringError::NotRecognised(_))
        ));
    }

    #[test]
    fn the_browser_record_reads_back_and_refuses_what_it_did_not_write() {
        let mut kept = Kept::default();
        kept.drafts
            .insert("shop".to_owned(), "name = \"shop\"".to_owned());
        kept.lessons.insert(
            "lost-update".to_owned(),
            KeptLesson {
                prediction: Some(Prediction::Choice(1)),
                progress: Progress {
                    settled: vec![Mode::Shared],
                    compared: true,
                    swept: false,
                },
            },
        );
        kept.settings.speed = Some(3);
        assert_eq!(Kept::read(&kept.write()), Ok(kept));
        assert!(Kept::read("{not json").is_err());
        assert!(Kept::read("[1, 2]").is_err());
        assert!(matches!(
            Kept::read("{\"version\": 2}"),
            Err(AuthoringError::Newer { found: 2, .. })
        ));
        // A record from this version with parts missing reads with those parts empty.
        assert_eq!(Kept::read("{\"version\": 1}"), Ok(Kept::default()));
    }
}
