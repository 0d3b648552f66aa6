//! The messages between a host page and its embed: whose the embed takes, the host's
//! commands (read and checked), and what the embed tells the host (its state, its height,
//! errors), with when it tells the state.

use super::EmbedError;
use crate::link::time_from_link;
use crate::sim::clock::{Micros, SECOND};
use crate::sim::expectation::{Status, Verdict};
use crate::sim::modes::Mode;
use serde::{Deserialize, Serialize};

/// What every message an embed posts carries as `source`, so that a host can tell them from
/// other scripts' messages.
pub const MESSAGE_SOURCE: &str = "dataflow-lab";

/// An origin from `origin=`, as a browser writes it in `MessageEvent.origin`: scheme and host in
/// lower case, the port only when it is not the scheme's default (`HTTPS://Docs.Example.org:443`
/// is `https://docs.example.org`), so that it compares equal to the origins messages carry.
///
/// # Errors
///
/// [`EmbedError::NotAnOrigin`] for anything else (a path, a missing scheme or host, a port that
/// is not a number up to 65535, `null`).
pub fn origin_from_link(text: &str) -> Result<String, EmbedError> {
    let text = text.trim();
    let not = || EmbedError::NotAnOrigin(text.to_owned());
    let (scheme, rest) = text.split_once("://").ok_or_else(not)?;
    let scheme = scheme.to_ascii_lowercase();
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    // A host, an IPv6 address in brackets, and perhaps a port.
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') && !port.contains(']') => (host, Some(port)),
        _ => (rest, None),
    };
    let host = host.to_ascii_lowercase();
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
        && !host.starts_with('.')
        && !host.ends_with('.');
    if !scheme_ok || !host_ok {
        return Err(not());
    }
    let port = match port {
        None => None,
        Some(port) => {
            let number: u16 = port
                .parse()
                .ok()
                .filter(|_| port.chars().all(|c| c.is_ascii_digit()))
                .ok_or_else(not)?;
            let default = match scheme.as_str() {
                "http" | "ws" => Some(80),
                "https" | "wss" => Some(443),
                _ => None,
            };
            (Some(number) != default).then_some(number)
        }
    };
    Ok(match port {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
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

/// The commands a host may send, as their messages' `type`.
pub const MESSAGE_TYPES: [&str; 7] = ["play", "pause", "reset", "seek", "speed", "load", "state"];

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
        if !MESSAGE_TYPES.contains(&kind.as_str()) {
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
                            "the mode \"{name}\" is not one of {}",
                            Mode::ALL.map(Mode::name).join(", ")
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

/// How often an embed whose time moves tells its host the time (wall ms).
pub const STATE_EVERY_MS: f64 = 250.0;

/// What of an embed's run the host hears about, to decide when to tell it: at once when the run
/// starts or stops, when its scenario, seed, mode, speed or checkpoints change, when the time
/// changes while it stands still (a seek, a step), and after each of the host's commands; while
/// its time moves, every [`STATE_EVERY_MS`].
#[derive(Debug, Clone, PartialEq)]
pub struct StatePost {
    /// Whether time runs.
    pub running: bool,
    /// The scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// The integration mode.
    pub mode: Mode,
    /// The speed (an index into [`crate::link::SPEEDS`]).
    pub speed: usize,
    /// The time, while it stands still; `None` while it moves (playing, or running to a time).
    pub paused_at: Option<Micros>,
    /// The checkpoints' statuses.
    pub checkpoints: Vec<Status>,
    /// How many of the host's commands the embed has taken.
    pub commands: u32,
}

impl StatePost {
    /// Whether to tell the host now, `since_ms` of wall time after it was last told `last`.
    pub fn due(&self, last: Option<&StatePost>, since_ms: f64) -> bool {
        match last {
            None => true,
            Some(last) if last != self => true,
            Some(_) => self.paused_at.is_none() && since_ms >= STATE_EVERY_MS,
        }
    }
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
            (r#"{"type":"fly"}"#, "\"fly\" is not one of play, pause"),
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

    #[test]
    fn origins_are_written_as_browsers_write_them() {
        for (written, origin) in [
            ("HTTPS://Docs.Example.org", "https://docs.example.org"),
            ("https://docs.example.org:443", "https://docs.example.org"),
            ("http://docs.example.org:80", "http://docs.example.org"),
            ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
            (
                "https://docs.example.org:8443",
                "https://docs.example.org:8443",
            ),
            ("http://[::1]:8080", "http://[::1]:8080"),
            ("http://[::1]", "http://[::1]"),
        ] {
            assert_eq!(
                origin_from_link(written).as_deref(),
                Ok(origin),
                "{written}"
            );
        }
        for bad in [
            "docs.example.org",
            "https://docs.example.org/guide",
            "null",
            "https://",
            "https://a b",
            "https://...:",
            "https://a:99999",
            "https://a:8o",
            "https://a:",
            "://a",
        ] {
            assert!(origin_from_link(bad).is_err(), "{bad} is not an origin");
        }
    }

    fn post() -> StatePost {
        StatePost {
            running: false,
            scenario: "shop".to_owned(),
            seed: 7,
            mode: Mode::Shared,
            speed: 1,
            paused_at: Some(0),
            checkpoints: vec![Status::Pending],
            commands: 0,
        }
    }

    #[test]
    fn the_state_is_told_at_once_on_a_change_and_while_time_moves_four_times_a_second() {
        let told = post();
        assert!(told.due(None, 0.0), "the first state is told at once");
        assert!(
            !told.due(Some(&told), 10_000.0),
            "paused and unchanged: never again"
        );
        let changes = [
            StatePost {
                running: true,
                paused_at: None,
                ..post()
            },
            StatePost {
                paused_at: Some(5_000_000),
                ..post()
            },
            StatePost { speed: 2, ..post() },
            StatePost { seed: 8, ..post() },
            StatePost {
                mode: Mode::Cdc,
                ..post()
            },
            StatePost {
                checkpoints: vec![Status::Pass],
                ..post()
            },
            StatePost {
                commands: 1,
                ..post()
            },
        ];
        for changed in changes {
            assert!(changed.due(Some(&told), 0.0), "{changed:?} is told at once");
        }
        let moving = StatePost {
            running: true,
            paused_at: None,
            ..post()
        };
        assert!(!moving.due(Some(&moving), STATE_EVERY_MS - 1.0));
        assert!(moving.due(Some(&moving), STATE_EVERY_MS));
    }
}
