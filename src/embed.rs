//! A simulation embedded in another page (`?embed=1`): which panels it shows, its theme, whose
//! messages it takes, and the messages themselves — commands from the host page in, the run's
//! `state` out — as `static/embed.js` (the host's side) and the page (`ui::browser`'s listener)
//! exchange them with `postMessage`. Pure text handling, tested natively.
//!
//! The host speaks first only to an embed it made: an embed takes a message only from its parent
//! window, and only from the origin its address names (`origin=`, which `embed.js` sets to the
//! host page's); it posts its state to that origin alone.

use crate::link::time_from_link;
use crate::sim::clock::{Micros, SECOND};
use crate::sim::expectation::{Status, Verdict};
use crate::sim::modes::Mode;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What every message an embed posts carries as `source`, so that a host can tell them from
/// other scripts' messages.
pub const MESSAGE_SOURCE: &str = "dataflow-lab";

/// One of the simulator's panels, as `panels=` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    /// The lesson's question and answer.
    Lesson,
    /// The scenario's checkpoints, judged as the run goes.
    Checkpoints,
    /// A scripted scenario's sessions side by side.
    Script,
    /// The services and the databases they use.
    Topology,
    /// Each service's latency and throughput.
    Latency,
    /// Who reads and writes which table and column.
    Coupling,
    /// Locks held and awaited.
    Locks,
    /// The SQL console inside the simulation.
    Console,
    /// What happened, in sentences.
    Log,
    /// One-click actions: pause a service, change a rate, run SQL.
    Actions,
    /// Change data capture or the outbox relay: connector, topics, consumers.
    Pipeline,
    /// The invariant checker.
    Checker,
    /// The schema registry.
    Registry,
    /// A topic's messages.
    Messages,
    /// The ETL job.
    Etl,
}

impl Panel {
    /// Every panel, in the order the page shows them.
    pub const ALL: [Panel; 15] = [
        Panel::Lesson,
        Panel::Checkpoints,
        Panel::Script,
        Panel::Topology,
        Panel::Latency,
        Panel::Coupling,
        Panel::Locks,
        Panel::Console,
        Panel::Log,
        Panel::Actions,
        Panel::Pipeline,
        Panel::Checker,
        Panel::Registry,
        Panel::Messages,
        Panel::Etl,
    ];

    /// Its name in `panels=`.
    pub fn name(self) -> &'static str {
        match self {
            Panel::Lesson => "lesson",
            Panel::Checkpoints => "checkpoints",
            Panel::Script => "script",
            Panel::Topology => "topology",
            Panel::Latency => "latency",
            Panel::Coupling => "coupling",
            Panel::Locks => "locks",
            Panel::Console => "console",
            Panel::Log => "log",
            Panel::Actions => "actions",
            Panel::Pipeline => "pipeline",
            Panel::Checker => "checker",
            Panel::Registry => "registry",
            Panel::Messages => "messages",
            Panel::Etl => "etl",
        }
    }

    /// The panel a name stands for (case and surrounding spaces do not matter).
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.trim();
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// Why a part of an embed's address, or a host's message, cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EmbedError {
    /// `panels=` names a panel there is not.
    #[error("there is no panel called \"{0}\" (the panels: {list})", list = panel_list())]
    UnknownPanel(String),
    /// `panels=` names none.
    #[error("no panel is named")]
    NoPanels,
    /// `theme=` is not light, dark or auto.
    #[error("the theme \"{0}\" is not light, dark or auto")]
    UnknownTheme(String),
    /// `origin=` is not an origin (scheme, host and port, nothing else).
    #[error("\"{0}\" is not an origin like https://docs.example.org")]
    NotAnOrigin(String),
    /// A message that is not a JSON object with a `type`.
    #[error("a message is a JSON object with a \"type\": {0}")]
    NotAMessage(String),
    /// A message of a type the embed does not know.
    #[error("the message type \"{0}\" is not play, pause, reset, seek, load, speed or state")]
    UnknownType(String),
    /// A message whose fields do not read.
    #[error("the {kind} message: {problem}")]
    BadField {
        /// The message's type.
        kind: String,
        /// What is wrong.
        problem: String,
    },
    /// `load` names a scenario there is not.
    #[error("there is no built-in scenario called \"{0}\"")]
    UnknownScenario(String),
}

fn panel_list() -> String {
    Panel::ALL.map(Panel::name).join(", ")
}

/// A set of panels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Panels(u32);

impl Panels {
    /// These panels.
    pub fn of(panels: &[Panel]) -> Self {
        Self(panels.iter().fold(0, |bits, p| bits | p.bit()))
    }

    /// The panels a `panels=` value names: `topology,locks` (spaces and case do not matter).
    ///
    /// # Errors
    ///
    /// [`EmbedError::UnknownPanel`] for a name that is not a panel's, [`EmbedError::NoPanels`]
    /// for an empty list.
    pub fn parse(text: &str) -> Result<Self, EmbedError> {
        let mut bits = 0;
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let panel =
                Panel::from_name(name).ok_or_else(|| EmbedError::UnknownPanel(name.to_owned()))?;
            bits |= panel.bit();
        }
        if bits == 0 {
            return Err(EmbedError::NoPanels);
        }
        Ok(Self(bits))
    }

    /// Whether `panel` is one of them.
    pub fn contains(self, panel: Panel) -> bool {
        self.0 & panel.bit() != 0
    }

    /// These and `panel`.
    pub fn with(self, panel: Panel) -> Self {
        Self(self.0 | panel.bit())
    }

    /// The panels, in the page's order.
    pub fn panels(self) -> Vec<Panel> {
        Panel::ALL
            .into_iter()
            .filter(|p| self.contains(*p))
            .collect()
    }

    /// The value for a link: `topology,locks`.
    pub fn for_link(self) -> String {
        self.panels()
            .into_iter()
            .map(Panel::name)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// What an embed shows when its address names no panels — one that fits 600 × 400: a
    /// script's sessions side by side, else the topology (each service's rate and p99, the
    /// databases, and the flows between them: change data capture and ETL copies included) —
    /// under the lesson's question and checkpoints when the embed is of a lesson.
    pub fn embed_default(scenario: &ScenarioShape) -> Self {
        let mut panels = if scenario.script {
            Self::of(&[Panel::Script])
        } else {
            Self::of(&[Panel::Topology])
        };
        if scenario.lesson {
            panels = panels.with(Panel::Lesson).with(Panel::Checkpoints);
        }
        panels
    }
}

/// What of a scenario decides an embed's default panels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScenarioShape {
    /// It is a script of sessions.
    pub script: bool,
    /// The embed was asked for its lesson (`lesson=`).
    pub lesson: bool,
}

/// What makes a page an embed, from its address (`?embed=1&origin=…&id=…&lesson=…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Embedding {
    /// The origin whose messages it takes and to which it posts (`origin=`); the embed's own
    /// origin when `None`.
    pub origin: Option<String>,
    /// The name it gives itself in its messages (`id=`; `embed.js` numbers its embeds).
    pub id: Option<String>,
    /// Whether it was asked for a lesson (`lesson=`): the question and checkpoints are shown.
    pub lesson: bool,
}

/// The colours an embed is drawn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    /// Light.
    Light,
    /// Dark.
    Dark,
    /// The reader's system setting.
    Auto,
}

impl Theme {
    /// The theme `theme=` names.
    ///
    /// # Errors
    ///
    /// [`EmbedError::UnknownTheme`] for anything but light, dark or auto (or system).
    pub fn parse(text: &str) -> Result<Self, EmbedError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "light" => Ok(Self::Light),
            "dark" => Ok(Self::Dark),
            "auto" | "system" => Ok(Self::Auto),
            _ => Err(EmbedError::UnknownTheme(text.trim().to_owned())),
        }
    }

    /// Its name as the page's theme setting knows it.
    pub fn setting(self) -> &'static str {
        match self {
            Self::Light => "light",
            Self::Dark => "dark",
            Self::Auto => "system",
        }
    }
}

/// An origin from `origin=`: `https://docs.example.org` or `http://127.0.0.1:8000`, with no path.
///
/// # Errors
///
/// [`EmbedError::NotAnOrigin`] for anything else (a path, a missing scheme, `null`).
pub fn origin_from_link(text: &str) -> Result<String, EmbedError> {
    let text = text.trim();
    let not = || EmbedError::NotAnOrigin(text.to_owned());
    let (scheme, rest) = text.split_once("://").ok_or_else(not)?;
    let scheme_ok = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let host_ok = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    if scheme_ok && host_ok {
        Ok(format!("{}://{}", scheme.to_ascii_lowercase(), rest))
    } else {
        Err(not())
    }
}

/// Whether an embed takes a message: it comes from its parent window and from the origin it
/// was told (its own when the address names none).
pub fn accepts(allowed: &str, from_parent: bool, message_origin: &str) -> bool {
    from_parent && message_origin != "null" && message_origin == allowed
}

/// A simulated time in a message: seconds, or a link's time (`"12.5s"`, `"1500ms"`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum TimeValue {
    Seconds(f64),
    Text(String),
}

/// A speed in a message: a multiple (`4`), or a link's speed (`"4x"`, `"max"`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum SpeedValue {
    Multiple(f64),
    Text(String),
}

/// The message as it is written, before its values are checked.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum Written {
    // Written as empty structs: serde takes any field on a unit variant.
    Play {},
    Pause {},
    Reset {},
    Seek {
        t: TimeValue,
    },
    Speed {
        speed: SpeedValue,
    },
    Load {
        #[serde(default)]
        scenario: Option<String>,
        #[serde(default)]
        seed: Option<u64>,
        #[serde(default)]
        mode: Option<String>,
    },
    State {},
}

/// A command from the host page.
#[derive(Debug, Clone, PartialEq)]
pub enum HostCommand {
    /// Play.
    Play,
    /// Pause.
    Pause,
    /// Back to 0 s, same seed.
    Reset,
    /// Go to this simulated time (forwards plays the run there; backwards replays it).
    Seek(Micros),
    /// Play at this speed (an index into [`crate::link::SPEEDS`]).
    Speed(usize),
    /// Load a built-in scenario (the one shown when `None`), with a seed and a mode (its own
    /// when `None`).
    Load {
        /// The scenario.
        scenario: Option<String>,
        /// The seed.
        seed: Option<u64>,
        /// The integration mode.
        mode: Option<Mode>,
    },
    /// Send the state now.
    State,
}

/// The most a `seek` may ask for: a day of simulated time (more would hold the embed for long).
pub const SEEK_LIMIT: Micros = 24 * 3600 * SECOND;

impl HostCommand {
    /// A message from the host, as JSON text: `{"type":"seek","t":12.5}`.
    ///
    /// # Errors
    ///
    /// [`EmbedError`] saying what does not read: not an object with a type, a type not known,
    /// a field that is not what it should be, a scenario or mode there is not.
    pub fn parse(json: &str) -> Result<Self, EmbedError> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| EmbedError::NotAMessage(e.to_string()))?;
        let kind = match value.get("type") {
            Some(serde_json::Value::String(kind)) => kind.clone(),
            Some(_) => return Err(EmbedError::NotAMessage("\"type\" is not text".to_owned())),
            None => return Err(EmbedError::NotAMessage("it has no \"type\"".to_owned())),
        };
        const KNOWN: [&str; 7] = ["play", "pause", "reset", "seek", "speed", "load", "state"];
        if !KNOWN.contains(&kind.as_str()) {
            return Err(EmbedError::UnknownType(kind));
        }
        let bad = |problem: String| EmbedError::BadField {
            kind: kind.clone(),
            problem,
        };
        let written: Written = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
        Ok(match written {
            Written::Play {} => Self::Play,
            Written::Pause {} => Self::Pause,
            Written::Reset {} => Self::Reset,
            Written::State {} => Self::State,
            Written::Seek { t } => {
                let at = match t {
                    TimeValue::Seconds(s) if s.is_finite() && s >= 0.0 => {
                        Some((s * SECOND as f64).round() as Micros)
                    }
                    TimeValue::Seconds(_) => None,
                    TimeValue::Text(text) => time_from_link(&text),
                };
                let at = at.ok_or_else(|| {
                    bad("t is a time in seconds (12.5) or like \"12.5s\", from 0".to_owned())
                })?;
                if at > SEEK_LIMIT {
                    return Err(bad("t is more than a day of simulated time".to_owned()));
                }
                Self::Seek(at)
            }
            Written::Speed { speed } => {
                let text = match speed {
                    SpeedValue::Multiple(m) => m.to_string(),
                    SpeedValue::Text(t) => t,
                };
                let index = crate::link::speed_from_link(&text)
                    .ok_or_else(|| bad(format!("{text} is not 0.25, 1, 4, 16 or max")))?;
                Self::Speed(index)
            }
            Written::Load {
                scenario,
                seed,
                mode,
            } => {
                if let Some(name) = &scenario {
                    if crate::sim::builtin::scenario_text(name).is_none() {
                        return Err(EmbedError::UnknownScenario(name.clone()));
                    }
                }
                let mode = match mode {
                    Some(name) => Some(Mode::from_name(&name).ok_or_else(|| {
                        bad(format!(
                            "the mode \"{name}\" is not shared, owned, etl, cdc or events"
                        ))
                    })?),
                    None => None,
                };
                Self::Load {
                    scenario,
                    seed,
                    mode,
                }
            }
        })
    }
}

/// A checkpoint as an embed reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckpointState {
    /// The expectation as written.
    pub that: String,
    /// Its caption.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub says: Option<String>,
    /// `pass`, `fail`, `holding`, `not_yet` or `pending`.
    pub status: Status,
    /// The measured values, as the page shows them.
    pub measured: String,
}

impl From<&Verdict> for CheckpointState {
    fn from(verdict: &Verdict) -> Self {
        Self {
            that: verdict.that.clone(),
            says: verdict.says.clone(),
            status: verdict.status,
            measured: verdict.measured.clone(),
        }
    }
}

/// What an embed tells its host.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum EmbedMessage {
    /// Where the run is: sent when it starts or stops, when its scenario, seed or checkpoints
    /// change, a few times a second while playing, and when the host asks.
    State {
        /// The scenario's name.
        scenario: String,
        /// Its title.
        title: String,
        /// The seed.
        seed: u64,
        /// The integration mode shown.
        mode: String,
        /// Simulated time, in seconds.
        time: f64,
        /// The same, as the page shows it.
        clock: String,
        /// Whether time runs.
        running: bool,
        /// The speed, as a link writes it (`1`, `4`, `max`).
        speed: String,
        /// Events handled so far.
        events: u64,
        /// The scenario's checkpoints, judged now.
        checkpoints: Vec<CheckpointState>,
    },
    /// The embed's content is this tall (CSS pixels): the host sizes the frame to it.
    Resize {
        /// The height.
        height: u32,
    },
    /// A message from the host that could not be done, and why.
    Error {
        /// What went wrong.
        message: String,
    },
}

/// A message for the host: `message` with the [`MESSAGE_SOURCE`] and the embed's `id` (from
/// its address, so that a page with several can tell them apart), as JSON.
pub fn envelope(message: &EmbedMessage, id: Option<&str>) -> String {
    let mut value = serde_json::to_value(message).unwrap_or(serde_json::Value::Null);
    if let serde_json::Value::Object(fields) = &mut value {
        fields.insert("source".to_owned(), MESSAGE_SOURCE.into());
        if let Some(id) = id {
            fields.insert("id".to_owned(), id.into());
        }
    }
    value.to_string()
}

/// Simulated time in seconds, for a state message.
pub fn seconds(at: Micros) -> f64 {
    at as f64 / SECOND as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panels_read_in_any_case_and_order_and_write_back_in_the_pages() {
        let panels = Panels::parse(" Locks, topology ,,").expect("two panels");
        assert!(panels.contains(Panel::Locks) && panels.contains(Panel::Topology));
        assert!(!panels.contains(Panel::Latency));
        assert_eq!(panels.for_link(), "topology,locks");
        assert_eq!(Panels::parse(&panels.for_link()), Ok(panels));
        let every = Panel::ALL.map(Panel::name).join(",");
        assert_eq!(Panels::parse(&every).map(|p| p.panels().len()), Ok(15));
    }

    #[test]
    fn an_unknown_panel_is_named_with_the_list_and_none_is_refused() {
        let error = Panels::parse("topology,lockz").expect_err("lockz is no panel");
        assert_eq!(error, EmbedError::UnknownPanel("lockz".to_owned()));
        assert!(error.to_string().contains("locks, console"), "{error}");
        assert_eq!(Panels::parse(" , "), Err(EmbedError::NoPanels));
    }

    #[test]
    fn the_default_panels_follow_the_scenario() {
        let plain = Panels::embed_default(&ScenarioShape::default());
        assert_eq!(plain.for_link(), "topology");
        let script = Panels::embed_default(&ScenarioShape {
            script: true,
            lesson: true,
        });
        assert_eq!(script.for_link(), "lesson,checkpoints,script");
        assert!(!script.contains(Panel::Topology));
    }

    #[test]
    fn themes_and_origins_are_checked() {
        assert_eq!(Theme::parse(" Dark"), Ok(Theme::Dark));
        assert_eq!(Theme::parse("system").map(Theme::setting), Ok("system"));
        assert!(Theme::parse("blue").is_err());
        assert_eq!(
            origin_from_link("HTTPS://docs.example.org"),
            Ok("https://docs.example.org".to_owned())
        );
        assert_eq!(
            origin_from_link("http://127.0.0.1:8000"),
            Ok("http://127.0.0.1:8000".to_owned())
        );
        for bad in [
            "docs.example.org",
            "https://docs.example.org/guide",
            "null",
            "https://",
            "https://a b",
        ] {
            assert!(origin_from_link(bad).is_err(), "{bad} is not an origin");
        }
    }

    #[test]
    fn a_message_is_taken_only_from_the_parent_at_the_allowed_origin() {
        let allowed = "https://docs.example.org";
        assert!(accepts(allowed, true, "https://docs.example.org"));
        assert!(!accepts(allowed, true, "https://evil.example.com"));
        assert!(!accepts(allowed, false, "https://docs.example.org"));
        assert!(!accepts("null", true, "null"));
    }

    #[test]
    fn host_commands_read_with_their_values_checked() {
        assert_eq!(
            HostCommand::parse(r#"{"type":"play"}"#),
            Ok(HostCommand::Play)
        );
        assert_eq!(
            HostCommand::parse(r#"{"type":"seek","t":12.5}"#),
            Ok(HostCommand::Seek(12_500_000))
        );
        assert_eq!(
            HostCommand::parse(r#"{"type":"seek","t":"1500ms"}"#),
            Ok(HostCommand::Seek(1_500_000))
        );
        assert_eq!(
            HostCommand::parse(r#"{"type":"speed","speed":4}"#),
            Ok(HostCommand::Speed(2))
        );
        assert_eq!(
            HostCommand::parse(r#"{"type":"load","scenario":"shop","seed":7,"mode":"cdc"}"#),
            Ok(HostCommand::Load {
                scenario: Some("shop".to_owned()),
                seed: Some(7),
                mode: Some(Mode::Cdc),
            })
        );
    }

    #[test]
    fn a_bad_message_says_what_is_wrong() {
        let cases = [
            ("[1,2]", "no \"type\""),
            ("not json", "JSON object"),
            (r#"{"type":"fly"}"#, "\"fly\" is not play"),
            (r#"{"type":"seek"}"#, "missing field `t`"),
            (r#"{"type":"seek","t":-1}"#, "from 0"),
            (r#"{"type":"seek","t":"soon"}"#, "from 0"),
            (r#"{"type":"seek","t":1e9}"#, "more than a day"),
            (r#"{"type":"play","now":true}"#, "unknown field `now`"),
            (r#"{"type":"speed","speed":3}"#, "3 is not"),
            (r#"{"type":"load","scenario":"shp"}"#, "\"shp\""),
            (r#"{"type":"load","mode":"kafka"}"#, "\"kafka\""),
            (r#"{"type":"load","seed":-4}"#, "the load message"),
        ];
        for (json, says) in cases {
            let error = HostCommand::parse(json).expect_err(json).to_string();
            assert!(error.contains(says), "{json}: {error}");
        }
    }

    #[test]
    fn the_envelope_carries_source_id_and_the_state() {
        let message = EmbedMessage::State {
            scenario: "shop".to_owned(),
            title: "Shop".to_owned(),
            seed: 7,
            mode: "shared".to_owned(),
            time: seconds(2_500_000),
            clock: "2.500 s".to_owned(),
            running: true,
            speed: "1".to_owned(),
            events: 40,
            checkpoints: Vec::new(),
        };
        let json: serde_json::Value =
            serde_json::from_str(&envelope(&message, Some("docs-1"))).expect("JSON");
        assert_eq!(json["source"], MESSAGE_SOURCE);
        assert_eq!(json["type"], "state");
        assert_eq!(json["id"], "docs-1");
        assert_eq!(json["time"], 2.5);
        assert_eq!(json["running"], true);
        let resize: serde_json::Value =
            serde_json::from_str(&envelope(&EmbedMessage::Resize { height: 380 }, None))
                .expect("JSON");
        assert_eq!(resize["height"], 380);
        assert!(resize.get("id").is_none());
    }
}
