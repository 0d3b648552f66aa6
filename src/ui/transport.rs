//! The transport bar: play/pause, step, step back, reset, speed, the clock and the scrubber.

use crate::sim::clock::{format_micros, Micros};
use crate::sim::view::clock_text;
use crate::ui::field::CommitInput;
use crate::ui::icons;
use crate::ui::live::{LiveAction, SPEEDS};
use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// The transport bar's inputs.
#[derive(Properties, PartialEq)]
pub struct TransportProps {
    /// Whether time runs.
    pub playing: bool,
    /// Simulated time now (µs).
    pub now: u64,
    /// The furthest time reached (µs).
    pub horizon: u64,
    /// The speed (index into [`SPEEDS`]).
    pub speed: usize,
    /// The seed.
    pub seed: u64,
    /// Events handled so far (for the benchmark page, as `data-events`).
    pub events: u64,
    /// The simulated time of what the panels show (µs, as `data-shown-us`): a moment behind the
    /// clock while a run in a worker answers.
    pub shown_at: Micros,
    /// The last frame's wall time advancing the world and rebuilding the view (ms; for the
    /// benchmark page, as `data-step-ms` and `data-view-ms`).
    #[prop_or_default]
    pub frame_ms: (f64, f64),
    /// The last jump back: its duration (ms of wall time) and the simulated time it replayed.
    pub last_seek_ms: Option<(f64, Micros)>,
    /// The speed actually kept, when it falls short of the chosen one.
    pub lagging: Option<f64>,
    /// Whether the scenario is a script (back takes back a step).
    pub scripted: bool,
    /// A replay to a time under way: what to say of it and how far it has got (0 to 1). The
    /// buttons are disabled meanwhile, and its progress stands in the scrubber's place.
    #[prop_or_default]
    pub replaying: Option<(AttrValue, f64)>,
    /// The embed's short bar: reset, play, the clock, the scrubber and the speed.
    #[prop_or_default]
    pub compact: bool,
    /// Where actions go.
    pub on_action: Callback<LiveAction>,
}

/// The transport bar.
#[component]
pub fn Transport(props: &TransportProps) -> Html {
    let send = |action: LiveAction| {
        let on_action = props.on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(action.clone()))
    };
    let on_speed = {
        let on_action = props.on_action.clone();
        Callback::from(move |event: Event| {
            if let Some(value) = crate::ui::browser::select_value(&event) {
                if let Ok(index) = value.parse::<usize>() {
                    on_action.emit(LiveAction::SetSpeed(index));
                }
            }
        })
    };
    let on_scrub = {
        let on_action = props.on_action.clone();
        Callback::from(move |event: InputEvent| {
            if let Some(input) = event
                .target()
                .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
            {
                if let Ok(ms) = input.value().parse::<f64>() {
                    on_action.emit(LiveAction::Seek(ms));
                }
            }
        })
    };
    let on_seed = {
        let (on_action, current) = (props.on_action.clone(), props.seed);
        Callback::from(move |text: String| match text.trim().parse::<u64>() {
            Ok(seed) if seed == current => {}
            Ok(seed) => on_action.emit(LiveAction::SetSeed(seed)),
            Err(_) => on_action.emit(LiveAction::Notice(format!(
                "\"{}\" is not a seed: a seed is a whole number from 0 to {}.",
                text.trim(),
                u64::MAX
            ))),
        })
    };
    let back_label = if props.scripted {
        "Take back the last script step (Left arrow)"
    } else {
        "Step back 100 milliseconds (Left arrow)"
    };
    let busy = props.replaying.is_some();
    let horizon_ms = (props.horizon.max(props.now) / 1_000).max(1);
    let now_ms = props.now / 1_000;
    let (play_label, play_icon) = if props.playing {
        ("Pause (Space)", "pause")
    } else {
        ("Play (Space)", "play")
    };
    html! {
        <div class="transport" role="toolbar" aria-label="Simulation controls">
            <div class="transport-buttons">
                <button type="button" class="button icon-button" onclick={send(LiveAction::Reset)} disabled={busy}
                    title="Reset to 0 s (R)" aria-label="Reset to zero (R)">{ icons::transport("reset") }</button>
                if !props.compact {
                    <button type="button" class="button icon-button" onclick={send(LiveAction::StepBack)} disabled={busy}
                        title={back_label} aria-label={back_label}>{ icons::transport("back") }</button>
                }
                <button type="button" class="button icon-button play" id="play" disabled={busy}
                    onclick={send(LiveAction::TogglePlay)} title={play_label}
                    aria-label={play_label} aria-pressed={props.playing.to_string()}>
                    { icons::transport(play_icon) }
                </button>
                if !props.compact {
                    <button type="button" class="button icon-button" onclick={send(LiveAction::StepEvent)} disabled={busy}
                        title="Next event (→)" aria-label="Step to the next event (Right arrow)">{ icons::transport("step") }</button>
                    <button type="button" class="button subtle" onclick={send(LiveAction::StepTime)} disabled={busy}
                        title="Advance 100 ms">{ "+100 ms" }</button>
                }
            </div>
            <div class="clock" aria-live="off">
                <span class="clock-label">{ "simulated" }</span>
                <output id="clock" class="clock-value" aria-label="Simulated time" data-events={props.events.to_string()} data-shown-us={props.shown_at.to_string()}
                    data-step-ms={format!("{:.2}", props.frame_ms.0)} data-view-ms={format!("{:.2}", props.frame_ms.1)}>
                    { clock_text(props.now) }
                </output>
            </div>
            if let Some((said, done)) = &props.replaying {
                <div class="scrubber replay-note" role="status">
                    <span>{ format!("{said} {:.0} %", done * 100.0) }</span>
                    <progress max="1" value={done.to_string()} aria-label={said.clone()}></progress>
                </div>
            } else {
                <label class="scrubber">
                    <span class="visually-hidden">{ "Simulated time" }</span>
                    <input type="range" min="0" max={horizon_ms.to_string()} step="10"
                        value={now_ms.to_string()} oninput={on_scrub}
                        aria-valuetext={format_micros(props.now)} />
                </label>
            }
            <label class="field">
                <span>{ "Speed" }</span>
                <select onchange={on_speed} aria-label="Speed">
                    { for SPEEDS.iter().enumerate().map(|(i, (_, label))| html! {
                        <option value={i.to_string()} selected={i == props.speed}>{ *label }</option>
                    }) }
                </select>
            </label>
            // The note's place is kept while it is away (but in an embed), so that the scrubber
            // does not change width under the pointer when it comes and goes.
            if let Some(kept) = props.lagging {
                <span class="speed-note" role="status"
                    title="This computer cannot simulate that fast: the simulation runs as fast as it can, and every number stays exact.">
                    { format!("running at {}", speed_text(kept)) }
                </span>
            } else if !props.compact {
                <span class="speed-note idle" aria-hidden="true">{ "running at 00.0×" }</span>
            }
            if !props.compact {
                <label class="field seed">
                    <span>{ "Seed" }</span>
                    <CommitInput kind="number" min="0" step="1" id="seed" value={props.seed.to_string()}
                        on_commit={on_seed} label="Seed" disabled={busy}
                        title="The seed decides every random choice: the same seed replays the same run. Changing it starts again from 0 s." />
                </label>
                if let Some((ms, replayed)) = props.last_seek_ms {
                    <span class="seek-note" title="The last jump back: the run went on from the nearest copy of itself kept before that moment (one per simulated second near where you are, fewer further back), replaying what followed">
                        { format!("replayed {} in {ms:.0} ms", format_micros(replayed)) }
                    </span>
                }
                <button type="button" class="button subtle help-button" onclick={send(LiveAction::ToggleHelp)}
                    title="Help: shortcuts and the words the panels use (?)" aria-label="Help (?)">{ "?" }</button>
            }
        </div>
    }
}

/// A speed for people: "0.45×", "3.2×".
fn speed_text(speed: f64) -> String {
    if speed < 1.0 {
        format!("{speed:.2}×")
    } else {
        format!("{speed:.1}×")
    }
}
