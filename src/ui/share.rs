//! The share panel: the link to the run on screen — its scenario, seed, mode, time, settings
//! and the student's own actions at their simulated times — to copy, with the run's fingerprint
//! (its trace hash), which whoever opens the link gets too. The link is built by the state
//! ([`crate::ui::live::LiveState::share_link`]); this only shows it.

use crate::link::LINK_LIMIT;
use crate::sim::export::ExportFile;
use crate::ui::browser;
use crate::ui::live::LiveAction;
use std::rc::Rc;
use yew::prelude::*;

/// The panel's inputs.
#[derive(Properties, PartialEq)]
pub struct ShareProps {
    /// The link.
    pub link: AttrValue,
    /// The run's trace hash now (`None` before its first step: the hash of no steps is the same
    /// for every run).
    pub fingerprint: Option<AttrValue>,
    /// The simulated time the link opens at, as the clock shows it.
    pub clock: AttrValue,
    /// How many of the user's actions the link replays.
    pub actions: usize,
    /// The run as a file (for a link too long to send).
    pub run_file: AttrValue,
    /// The scenario's name, for the files' names.
    pub name: AttrValue,
    /// The files the run's data can be exported as.
    pub exports: Rc<Vec<ExportFile>>,
    /// The services whose latency charts are on the page (each can be saved as SVG or PNG).
    pub charts: Rc<Vec<String>>,
    /// The HTML that embeds this scenario (its seed, mode and edits) in another page.
    pub embed: AttrValue,
    /// Where actions go (closing the panel).
    pub on_action: Callback<LiveAction>,
}

/// The share panel.
#[component]
pub fn SharePanel(props: &ShareProps) -> Html {
    let copied = use_state(|| false);
    let copy = {
        let link = props.link.clone();
        let copied = copied.clone();
        Callback::from(move |_: MouseEvent| {
            browser::copy_to_clipboard(&link);
            copied.set(true);
        })
    };
    let close = {
        let on_action = props.on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(LiveAction::ToggleShare))
    };
    // A new link (the run moved on, another action) has not been copied yet.
    {
        let copied = copied.clone();
        use_effect_with(props.link.clone(), move |_| copied.set(false));
    }
    let select_all = Callback::from(|event: FocusEvent| {
        if let Some(input) = event.target_dyn_into::<web_sys::HtmlInputElement>() {
            input.select();
        }
    });
    let select_text = Callback::from(|event: FocusEvent| {
        if let Some(area) = event.target_dyn_into::<web_sys::HtmlTextAreaElement>() {
            area.select();
        }
    });
    let save = {
        let run_file = props.run_file.clone();
        let file = format!("{}-run.json", props.name);
        Callback::from(move |_: MouseEvent| {
            browser::download(&file, "application/json", &run_file);
        })
    };
    let bytes = props.link.len();
    let too_long = bytes > LINK_LIMIT;
    let size = if bytes < 1024 {
        format!("{bytes} bytes")
    } else {
        format!("{:.1} KB", bytes as f64 / 1024.0)
    };
    let actions = match props.actions {
        0 => "no actions of yours".to_owned(),
        1 => "your 1 action replayed at its time".to_owned(),
        n => format!("your {n} actions replayed at their times"),
    };
    html! {
        <section class="share" role="region" aria-label="Share this run">
            <div class="share-bar">
                <h3>{ "Share this run" }</h3>
                <button type="button" class="button subtle small" onclick={close}>{ "Close" }</button>
            </div>
            <p class="hint">{ format!(
                "This link opens the same scenario, seed and settings at {}, with {actions}. Nothing is sent anywhere: the whole run is in the link.",
                props.clock
            ) }</p>
            <div class="share-link">
                <input type="text" readonly=true value={props.link.clone()} aria-label="Link to this run"
                    onfocus={select_all} />
                <button type="button" class="button small" onclick={copy}>
                    { if *copied { "Copied ✓" } else { "Copy link" } }
                </button>
            </div>
            <p class="share-facts">
                if let Some(fingerprint) = &props.fingerprint {
                    { "Run fingerprint " }<code class="fingerprint">{ fingerprint.clone() }</code>
                    { format!(" — whoever opens the link at {} sees the same. ", props.clock) }
                } else {
                    { "No fingerprint yet: it sums up the run's steps, and none has run. Play a moment to get one. " }
                }
                { format!("Link: {size}.") }
            </p>
            if too_long {
                <p class="share-warning" role="status">{ format!(
                    "This link is {:.1} KB, over the {} KB that some browsers, chat tools and mail programs keep: it may arrive cut short. Send the run as a file instead — it opens with Import in the scenario editor (Edit).",
                    bytes as f64 / 1024.0,
                    LINK_LIMIT / 1024
                ) }</p>
            }
            <h4 class="share-export-title">{ "Export the run's data" }</h4>
            <ul class="share-exports">
                { for props.exports.iter().map(|file| {
                    let on_action = props.on_action.clone();
                    let kind = file.kind.clone();
                    let onclick = Callback::from(move |_: MouseEvent| on_action.emit(LiveAction::Export(kind.clone())));
                    html! {
                        <li>
                            <button type="button" class="button small subtle" {onclick}>{ file.file_name.clone() }</button>
                            <span class="hint">{ file.what.clone() }</span>
                        </li>
                    }
                }) }
                { for props.charts.iter().map(|service| {
                    // (A service's name comes from the scenario: escaped for the selector.)
                    let quoted = service.replace('\\', "\\\\").replace('"', "\\\"");
                    let selector = format!(".chart-card[data-service=\"{quoted}\"] svg.chart");
                    let base = format!("{}-{service}-latency", props.name);
                    let svg = {
                        let (selector, file) = (selector.clone(), format!("{base}.svg"));
                        Callback::from(move |_: MouseEvent| browser::download_svg(&selector, &file))
                    };
                    let png = {
                        let file = format!("{base}.png");
                        Callback::from(move |_: MouseEvent| browser::download_png(&selector, &file))
                    };
                    html! {
                        <li>
                            <span class="share-chart">{ format!("Chart: {service} latency and throughput") }</span>
                            <button type="button" class="button small subtle" onclick={svg}
                                aria-label={format!("Save the {service} chart as SVG")}>{ "SVG" }</button>
                            <button type="button" class="button small subtle" onclick={png}
                                aria-label={format!("Save the {service} chart as PNG")}>{ "PNG" }</button>
                        </li>
                    }
                }) }
            </ul>
            <p class="share-file">
                <button type="button" class={classes!("button", "small", (!too_long).then_some("subtle"))} onclick={save}>
                    { "Save the run as a file" }
                </button>
                <span class="hint">{ " The same run in a file: open it with Edit → Import, or drop it on the editor." }</span>
            </p>
            <h4 class="share-export-title">{ "Embed it in a page" }</h4>
            <p class="share-embed-hint hint">{ "For a course page or documentation: this shows the scenario, with this seed and mode, in a frame loaded when scrolled to (paused at 0 s; the README's Embedding lists the attributes)." }</p>
            <textarea class="share-embed" readonly=true rows="3" spellcheck="false"
                aria-label="HTML that embeds this scenario in a page" value={props.embed.clone()}
                onfocus={select_text} />
        </section>
    }
}
