//! The simulator embedded in another page: its short title bar, and its side of the host's
//! messages — commands taken from the host, the run's state, and the content's height posted
//! back (the messages are [`crate::embed`]'s; `static/embed.js` is the host's side).

use crate::embed::{envelope, EmbedMessage, HostCommand};
use crate::sim::expectation::Status;
use crate::sim::modes::Mode;
use crate::ui::browser::{self, HeightWatcher, ParentMessages};
use crate::ui::live::{LiveAction, LiveState};
use wasm_bindgen::JsCast;
use yew::prelude::*;

/// How often a playing embed tells its host the time (wall ms).
pub const STATE_EVERY_MS: f64 = 250.0;

/// The embed's title bar's inputs.
#[derive(Properties, PartialEq)]
pub struct EmbedBarProps {
    /// The scenario's title.
    pub title: AttrValue,
    /// The seed.
    pub seed: u64,
    /// The integration mode, when the scenario has more than one.
    pub mode: Option<AttrValue>,
    /// The link that opens this run in the whole page (made when it is followed: it carries
    /// the time).
    pub open_link: Callback<(), String>,
}

/// The embed's title bar: what it shows, and a link to open it whole in a new tab.
#[component]
pub fn EmbedBar(props: &EmbedBarProps) -> Html {
    // The link is brought up to date as it is followed (by pointer or by key).
    let refresh = {
        let open_link = props.open_link.clone();
        move |event: &Event| {
            if let Some(anchor) = event
                .current_target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlAnchorElement>().ok())
            {
                anchor.set_href(&open_link.emit(()));
            }
        }
    };
    let on_pointer = {
        let refresh = refresh.clone();
        Callback::from(move |event: PointerEvent| refresh(&event))
    };
    let on_click = Callback::from(move |event: MouseEvent| refresh(&event));
    html! {
        <header class="embed-bar">
            <h2 class="scenario-title" title={props.title.clone()}>{ &props.title }</h2>
            <span class="embed-meta">
                { format!("seed {}", props.seed) }
                if let Some(mode) = &props.mode {
                    { format!(" · {mode}") }
                }
            </span>
            <a class="embed-open" href={props.open_link.emit(())} target="_blank" rel="noopener"
                onpointerdown={on_pointer} onclick={on_click}
                title="Open this run — same scenario, seed and time — in Dataflow Lab, with every panel">
                { "Open in Dataflow Lab ↗" }
            </a>
        </header>
    }
}

/// What, when it changes, makes an embed tell its host its state at once.
#[derive(Clone, PartialEq)]
struct Signature {
    running: bool,
    scenario: String,
    seed: u64,
    mode: Mode,
    /// The time, while paused (a seek, a step); while playing it is sent every
    /// [`STATE_EVERY_MS`] instead.
    paused_at: Option<u64>,
    checkpoints: Vec<Status>,
    asked: u32,
}

/// The embed's side of the host's messages: takes the host's commands (from its parent
/// window, at the origin it was given), and posts the run's state and the content's height.
/// Does nothing on a page that is not an embed.
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
                        Err(problem) => browser::post_to_parent(
                            &envelope(
                                &EmbedMessage::Error {
                                    message: problem.to_string(),
                                },
                                reply_id.as_deref(),
                            ),
                            &reply_to,
                        ),
                    }
                });
                let heights = HeightWatcher::new("embed-root", move |height| {
                    browser::post_to_parent(
                        &envelope(&EmbedMessage::Resize { height }, id.as_deref()),
                        &origin,
                    );
                });
                (messages, heights)
            });
            move || drop(listening)
        });
    }
    let last = use_mut_ref(|| (f64::NEG_INFINITY, None::<Signature>));
    let handle = state.clone();
    use_effect(move || {
        let Some(origin) = origin else {
            return;
        };
        let signature = Signature {
            running: handle.playing,
            scenario: handle.scenario_name.clone(),
            seed: handle.seed(),
            mode: handle.view.mode,
            paused_at: (!handle.playing).then_some(handle.now),
            checkpoints: handle.checkpoints.iter().map(|v| v.status).collect(),
            asked: handle.host_asked,
        };
        let wall = browser::now_ms();
        let mut last = last.borrow_mut();
        let changed = last.1.as_ref() != Some(&signature);
        if changed || (handle.playing && wall - last.0 >= STATE_EVERY_MS) {
            browser::post_to_parent(&envelope(&handle.embed_state(), id.as_deref()), &origin);
            *last = (wall, Some(signature));
        }
    });
}
