//! The simulator embedded in another page: its short title bar, and its side of the host's
//! messages — commands taken from the host, the run's state, and the content's height posted
//! back (the messages are [`crate::embed`]'s; `static/embed.js` is the host's side).

use crate::embed::{envelope, EmbedError, EmbedMessage, HostCommand, StatePost};
use crate::ui::browser::{self, HeightWatcher, ParentMessages};
use crate::ui::live::{LiveAction, LiveState};
use yew::prelude::*;

/// The embed's title bar's inputs.
#[derive(Properties, PartialEq)]
pub struct EmbedBarProps {
    /// The scenario's title.
    pub title: AttrValue,
    /// The seed.
    pub seed: u64,
    /// The integration mode, when the scenario has more than one.
    pub mode: Option<AttrValue>,
    /// A link to the scenario in the whole page, cheap to make (its name and seed); brought up
    /// to date with `open_link` as it is followed.
    pub href: AttrValue,
    /// The link that opens this run — at its time, with the user's actions — in the whole page
    /// (made only when it is followed: it packs the actions).
    pub open_link: Callback<(), String>,
}

/// The embed's title bar: what it shows, and a link to open it whole in a new tab.
#[component]
pub fn EmbedBar(props: &EmbedBarProps) -> Html {
    // The link is brought up to date as it is followed (by pointer or by key).
    let anchor = use_node_ref();
    let refresh = {
        let (open_link, anchor) = (props.open_link.clone(), anchor.clone());
        move || {
            if let Some(anchor) = anchor.cast::<web_sys::HtmlAnchorElement>() {
                anchor.set_href(&open_link.emit(()));
            }
        }
    };
    let on_pointer = {
        let refresh = refresh.clone();
        Callback::from(move |_: PointerEvent| refresh())
    };
    let on_click = Callback::from(move |_: MouseEvent| refresh());
    html! {
        <header class="embed-bar">
            <h2 class="scenario-title" title={props.title.clone()}>{ &props.title }</h2>
            <span class="embed-meta">
                { format!("seed {}", props.seed) }
                if let Some(mode) = &props.mode {
                    { format!(" · {mode}") }
                }
            </span>
            <a class="embed-open" ref={anchor} href={props.href.clone()} target="_blank" rel="noopener"
                onpointerdown={on_pointer} onclick={on_click}
                title="Open this run — same scenario, seed and time — in Dataflow Lab, with every panel">
                { "Open in Dataflow Lab ↗" }
            </a>
        </header>
    }
}

/// The embed's side of the host's messages: takes the host's commands (from its parent
/// window, at the origin it was given), and posts the run's state (when [`StatePost::due`]
/// says), its errors and the content's height. Does nothing on a page that is not an embed.
#[hook]
pub fn use_host(state: &UseReducerHandle<LiveState>) {
    let origin = state.host_origin();
    let id = state.embed.as_ref().and_then(|e| e.id.clone());
    {
        let (dispatcher, origin, id) = (state.dispatcher(), origin.clone(), id.clone());
        use_effect_with((), move |_| {
            let listening = origin.map(|origin| {
                let (reply_to, reply_id) = (origin.clone(), id.clone());
                let messages = ParentMessages::new(origin.clone(), move |text| {
                    match HostCommand::parse(&text) {
                        Ok(command) => dispatcher.dispatch(LiveAction::Host(command)),
                        // Not a message at all (another script's): not for us.
                        Err(EmbedError::NotAMessage(_)) => {}
                        Err(problem) => post(
                            &EmbedMessage::Error {
                                message: problem.to_string(),
                            },
                            reply_id.as_deref(),
                            &reply_to,
                        ),
                    }
                });
                let heights = HeightWatcher::new("embed-root", move |height| {
                    post(&EmbedMessage::Resize { height }, id.as_deref(), &origin);
                });
                (messages, heights)
            });
            move || drop(listening)
        });
    }
    let last = use_mut_ref(|| (f64::NEG_INFINITY, None::<StatePost>));
    let handle = state.clone();
    use_effect(move || {
        let Some(origin) = origin else {
            return;
        };
        // A run being built has no state to tell yet (no checkpoints, no time): the host hears
        // of it once it shows itself.
        if handle.starting {
            return;
        }
        let moving = handle.playing || handle.seeking.is_some();
        let now = StatePost {
            running: handle.playing,
            scenario: handle.scenario_name.clone(),
            seed: handle.seed(),
            mode: handle.view.mode,
            speed: handle.speed,
            paused_at: (!moving).then_some(handle.now),
            checkpoints: handle.checkpoints.iter().map(|v| v.status).collect(),
            commands: handle.host_commands,
        };
        let wall = browser::now_ms();
        let mut last = last.borrow_mut();
        if !now.due(last.1.as_ref(), wall - last.0) {
            return;
        }
        // The first time, what is wrong with the embed's address, for its author.
        if last.1.is_none() {
            if let Some(message) = handle.notice.clone() {
                post(&EmbedMessage::Error { message }, id.as_deref(), &origin);
            }
        }
        let answering = last.1.as_ref().map(|l| l.commands) != Some(now.commands);
        if let Some(message) = handle.host_error.clone().filter(|_| answering) {
            post(&EmbedMessage::Error { message }, id.as_deref(), &origin);
        }
        post(&handle.embed_state(), id.as_deref(), &origin);
        *last = (wall, Some(now));
    });
}

/// Posts `message` to the host page at `origin`.
fn post(message: &EmbedMessage, id: Option<&str>, origin: &str) {
    browser::post_to_parent(&envelope(message, id), origin);
}
