//! The live simulator as an embed in another page: what its address asks for, the host page's
//! commands, and the state it tells the host (the messages themselves are [`crate::embed`]'s).

use super::{LiveAction, LiveState, SEEK_AT_ONCE};
use crate::authoring::ScenarioSource;
use crate::embed::{
    origin_from_link, seconds, EmbedMessage, Embedding, HostCommand, Panel, Panels, ScenarioShape,
    Theme,
};
use crate::link::speed_for_link;
use crate::sim::view::clock_text;
use crate::ui::browser;
use std::rc::Rc;

/// The embedding the address asks for (`embed=1`, with `origin=`, `id=`, `lesson=`), if any;
/// a part that does not read is said in `notices`.
pub(super) fn embedding_from_link(notices: &mut Vec<String>) -> Option<Embedding> {
    if browser::query_param("embed").as_deref() != Some("1") {
        return None;
    }
    let origin = browser::query_param("origin").and_then(|text| {
        origin_from_link(&text)
            .map_err(|problem| {
                notices.push(format!(
                    "The embed's origin: {problem}. It takes messages from its own origin only."
                ));
            })
            .ok()
    });
    Some(Embedding {
        origin,
        id: browser::query_param("id").map(|id| id.chars().take(64).collect()),
        lesson: browser::query_param("lesson").is_some(),
    })
}

/// The panels the address chooses (`panels=`), if any; a name that is not a panel's is said in
/// `notices` (and so is a theme that is not one: the page starts in the usual one).
pub(super) fn panels_from_link(notices: &mut Vec<String>) -> Option<Panels> {
    if let Some(Err(problem)) = browser::query_param("theme").map(|t| Theme::parse(&t)) {
        notices.push(format!("The link's theme: {problem}; using the usual one."));
    }
    let text = browser::query_param("panels")?;
    Panels::parse(&text)
        .map_err(|problem| {
            notices.push(format!(
                "The link's panels: {problem}. Showing the usual ones."
            ));
        })
        .ok()
}

impl LiveState {
    /// The panels on screen: those the link chose; in an embed that chose none, its
    /// scenario's default ones; every panel otherwise (`None`).
    pub fn shown_panels(&self) -> Option<Panels> {
        match (&self.embed, self.panels) {
            (_, Some(panels)) => Some(panels),
            (Some(embed), None) => Some(Panels::embed_default(&ScenarioShape {
                script: self.view.script.is_some(),
                lesson: embed.lesson,
            })),
            (None, None) => None,
        }
    }

    /// Whether `panel` is on screen.
    pub fn shows(&self, panel: Panel) -> bool {
        self.shown_panels().is_none_or(|p| p.contains(panel))
    }

    /// The origin an embed takes messages from and posts to (`None`: not an embed).
    pub fn host_origin(&self) -> Option<String> {
        let embed = self.embed.as_ref()?;
        Some(embed.origin.clone().unwrap_or_else(browser::own_origin))
    }

    /// The run's state, for the host page.
    pub fn embed_state(&self) -> EmbedMessage {
        EmbedMessage::State {
            scenario: self.scenario_name.clone(),
            title: self.title(),
            seed: self.seed(),
            mode: self.view.mode.name().to_owned(),
            time: seconds(self.now),
            clock: clock_text(self.now),
            running: self.playing,
            speed: speed_for_link(self.speed),
            events: self.events,
            checkpoints: self.checkpoints.iter().map(Into::into).collect(),
        }
    }

    /// A link that opens this run — scenario, seed, time, the user's actions — in the whole
    /// page, every panel shown.
    pub fn open_link(&self) -> String {
        let mut pairs = self.link_pairs();
        for name in [
            "embed", "origin", "id", "panels", "autoplay", "paused", "lesson", "theme",
        ] {
            pairs.push((name, None));
        }
        let pairs: Vec<(&str, Option<&str>)> =
            pairs.iter().map(|(k, v)| (*k, v.as_deref())).collect();
        browser::url_with_query(&pairs)
    }

    /// A command from the host page, done as the page's own buttons do it.
    pub(super) fn host(self: Rc<Self>, command: HostCommand) -> Rc<Self> {
        match command {
            HostCommand::Play if self.playing => self,
            HostCommand::Play => self.reduce_action(LiveAction::TogglePlay),
            HostCommand::Pause => self.reduce_action(LiveAction::Pause),
            HostCommand::Reset => self.reduce_action(LiveAction::Reset),
            HostCommand::Speed(index) => self.reduce_action(LiveAction::SetSpeed(index)),
            HostCommand::Seek(at) if at <= self.now.saturating_add(SEEK_AT_ONCE) => {
                self.reduce_action(LiveAction::Seek(at as f64 / 1_000.0))
            }
            HostCommand::Seek(at) => {
                // Far ahead: run there a slice per frame, as a link's time is.
                let mut next = self.copy();
                next.info = Some(format!("Running to {}…", clock_text(at)));
                next.seeking = Some(at);
                Rc::new(next)
            }
            HostCommand::State => {
                let mut next = self.copy();
                next.host_asked = next.host_asked.wrapping_add(1);
                Rc::new(next)
            }
            HostCommand::Load {
                scenario,
                seed,
                mode,
            } => {
                let source = scenario.map_or_else(|| self.source.clone(), ScenarioSource::Builtin);
                let modes = source.scenario().map(|s| s.modes()).unwrap_or_default();
                let refused = mode.filter(|m| !modes.contains(m));
                let mut loaded = self.reload(
                    &source,
                    seed,
                    Vec::new(),
                    mode.filter(|m| modes.contains(m)),
                );
                if let Some(mode) = refused {
                    loaded.notice = Some(format!(
                        "This scenario cannot run in the {} mode: it runs in its own.",
                        mode.name()
                    ));
                }
                loaded.remember();
                Rc::new(loaded)
            }
        }
    }
}
