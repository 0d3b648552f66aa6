//! A simulation embedded in another page (`?embed=1`): which panels it shows and its theme
//! ([`panels`]), and the messages its host page and it exchange with `postMessage` — the host's
//! commands in, the run's state out ([`messages`]). `static/embed.js` is the host's side; the
//! page listens and posts through `ui::browser`. Pure text handling, tested natively.
//!
//! An embed takes a message only from its parent window, and only from the origin its address
//! names (`origin=`, which `embed.js` sets to the host page's); it posts only to that origin.

pub mod messages;
pub mod panels;

pub use messages::{
    accepts, envelope, origin_from_link, seconds, CheckpointState, EmbedMessage, HostCommand,
    StatePost, MESSAGE_SOURCE, MESSAGE_TYPES, SEEK_LIMIT, STATE_EVERY_MS,
};
pub use panels::{Panel, Panels, ScenarioShape, Theme};
use thiserror::Error;

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

/// Why a part of an embed's address, or a host's message, cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EmbedError {
    /// `panels=` names a panel there is not.
    #[error("there is no panel called \"{0}\" (the panels: {list})", list = panels::panel_list())]
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
    #[error("the message type \"{0}\" is not one of {list}", list = messages::MESSAGE_TYPES.join(", "))]
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
