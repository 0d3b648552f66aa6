//! The live simulator as an embed in another page: what its address asks for, the host page's
//! commands, and the state it tells the host (the messages themselves are [`crate::embed`]'s).

use super::{LiveAction, LiveState, SEEK_AT_ONCE};
use crate::authoring::ScenarioSource;
use crate::embed::{
    origin_from_link, seconds, EmbedMessage, Embedding, HostCommand, Panel, Panels, ScenarioShape,
    Theme,
};
use crate::link::speed_for_link;
use crate::sim::clock::Micros;
use crate::sim::view::clock_text;
use crate::ui::browser;
use std::rc::Rc;

/// The embedding the address asks for (`embed=1`, with `origin=`, `id=`, `lesson=`), if any;
/// a part that does not read is said in `notices`.
pub(super) fn embedding_from_link(notices: &mut Vec<String>) -> Option<Embedding> {
    if !browser::embedded() {
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
/// `notices`, and every panel is shown.
pub(super) fn panels_from_link(notices: &mut Vec<String>) -> Option<Panels> {
    let text = browser::query_param("panels")?;
    Panels::parse(&text)
        .map_err(|problem| {
            notices.push(format!(
                "The link's panels: {problem}. Showing the usual ones."
            ));
        })
        .ok()
}

/// Says in `notices` a `theme=` that is not a theme (the page starts in the usual one).
pub(super) fn check_theme(notices: &mut Vec<String>) {
    if let Some(Err(problem)) = browser::query_param("theme").map(|t| Theme::parse(&t)) {
        notices.push(format!("The link's theme: {problem}; using the usual one."));
    }
}

impl LiveState {
    /// The panels on screen: those the link chose (in an embed, its scenario's default ones
    /// when it chose none, or none that show anything of it); every panel otherwise (`None`).
    pub fn shown_panels(&self) -> Option<Panels> {
        let Some(embed) = &self.embed else {
            return self.panels;
        };
        let shape = ScenarioShape {
            script: self.view.script.is_some(),
            services: !self.view.services.is_empty(),
            pipeline: self.view.pipeline.is_some(),
            etl: self.view.etl.is_some(),
            lesson: embed.lesson,
        };
        Some(match self.panels {
            Some(panels) => panels.for_scenario(&shape),
            None => Panels::embed_default(&shape),
        })
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

    /// The HTML that embeds this scenario in another page: `embed.js` from where this page is
    /// served, and an element with the scenario, its seed and mode (and an edited scenario's
    /// text).
    pub fn embed_snippet(&self) -> String {
        let mut attributes = vec![
            ("scenario", self.scenario_name.clone()),
            ("seed", self.seed().to_string()),
        ];
        if let Some(mode) = self.mode {
            attributes.push(("mode", mode.name().to_owned()));
        }
        if let Some(text) = self.source.edited_text() {
            attributes.push(("src", crate::link::pack(text)));
        }
        let attributes: String = attributes
            .iter()
            .map(|(name, value)| format!(" data-{name}=\"{}\"", escape_attribute(value)))
            .collect();
        format!(
            "<script src=\"{}embed.js\" defer></script>\n<div data-dataflow-lab{attributes}></div>",
            browser::app_base()
        )
    }

    /// A command from the host page, done as the page's own buttons do it, and answered with
    /// the state. While the run goes to a time, `play` and `pause` say what to do once there,
    /// `state` answers at once, and the others stop the run where it is first.
    pub(super) fn host(self: Rc<Self>, command: HostCommand) -> Rc<Self> {
        let cancels = !matches!(
            command,
            HostCommand::Play | HostCommand::Pause | HostCommand::State
        );
        let this = if self.seeking.is_some() && cancels {
            let mut stopped = self.copy();
            stopped.seeking = None;
            stopped.info = None;
            Rc::new(stopped.with_view())
        } else {
            self
        };
        let mut error = None;
        let this_commands = this.host_commands;
        let done = match command {
            HostCommand::Play | HostCommand::Pause if this.seeking.is_some() => {
                let mut next = this.copy();
                next.playing = command == HostCommand::Play;
                Rc::new(next)
            }
            HostCommand::Play if this.playing => this,
            HostCommand::Play => this.reduce_action(LiveAction::TogglePlay),
            HostCommand::Pause => this.reduce_action(LiveAction::Pause),
            HostCommand::Reset => this.reduce_action(LiveAction::Reset),
            HostCommand::Speed(index) => this.reduce_action(LiveAction::SetSpeed(index)),
            HostCommand::State => this,
            HostCommand::Seek(at) => this.host_seek(at),
            HostCommand::Load {
                scenario,
                seed,
                mode,
            } => {
                let source = scenario.map_or_else(|| this.source.clone(), ScenarioSource::Builtin);
                let modes = source.scenario().map(|s| s.modes()).unwrap_or_default();
                if let Some(refused) = mode.filter(|m| !modes.contains(m)) {
                    let names: Vec<&str> = modes.iter().map(|m| m.name()).collect();
                    error = Some(format!(
                        "the load message: this scenario cannot run in the {} mode (its modes: {}); it runs in its own",
                        refused.name(),
                        names.join(", ")
                    ));
                }
                let mut loaded = this.reload(
                    &source,
                    seed,
                    Vec::new(),
                    mode.filter(|m| modes.contains(m)),
                );
                loaded.notice = error.clone().or(loaded.notice);
                loaded.remember();
                Rc::new(loaded)
            }
        };
        // Counted from before the command: a load starts a fresh state.
        let commands = this_commands.wrapping_add(1);
        let mut answered = done.copy();
        answered.host_commands = commands;
        answered.host_error = error;
        Rc::new(answered)
    }

    /// Goes to `at`: at once when that is cheap (a step forward, or back to an early time: going
    /// back replays the run from 0 s), else a slice per frame, as a link's time is.
    fn host_seek(self: Rc<Self>, at: Micros) -> Rc<Self> {
        let cheap_forward = at >= self.now && at - self.now <= SEEK_AT_ONCE;
        if cheap_forward || at <= SEEK_AT_ONCE {
            return self.reduce_action(LiveAction::Seek(at as f64 / 1_000.0));
        }
        let playing = self.playing;
        let from = if at < self.now {
            self.reduce_action(LiveAction::Reset)
        } else {
            self
        };
        let mut next = from.copy();
        next.playing = playing;
        next.seeking = Some(at);
        next.replayed_to = next.now;
        Rc::new(next)
    }
}

/// `text` for a double-quoted HTML attribute.
fn escape_attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
}
