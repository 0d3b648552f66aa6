//! The scenario editor: the running scenario's TOML with line numbers, checked as it is typed
//! by the same parser as `dataflow-lab check` (a problem is shown at its line and field), with
//! Apply, Revert, import and export of files (a file picker, or dropped on the editor) and a link
//! to the format's JSON Schema. The state checks and keeps the draft
//! ([`crate::ui::live::LiveState`]); this only shows it and sends what the user does.

use crate::authoring::{line_span_utf16, ScenarioDraft};
use crate::sim::scenario::Syntax;
use crate::ui::browser;
use crate::ui::live::LiveAction;
use std::rc::Rc;
use web_sys::{DragEvent, HtmlInputElement, HtmlTextAreaElement, KeyboardEvent};
use yew::prelude::*;

/// The largest file Import reads (bytes).
const IMPORT_LIMIT: usize = 2 * 1024 * 1024;

/// The editor's inputs.
#[derive(Properties, PartialEq)]
pub struct ScenarioEditorProps {
    /// The draft and what checking it found.
    pub draft: Rc<ScenarioDraft>,
    /// The scenario's text as it runs (Apply and Revert have nothing to do when the draft is
    /// the same).
    pub running: AttrValue,
    /// The scenario's name, for the exported file's name.
    pub name: AttrValue,
    /// Whether a built-in scenario of this name exists and differs from the draft.
    pub builtin_differs: bool,
    /// Where the draft came from, when that needs saying.
    pub note: Option<AttrValue>,
    /// Whether an Apply is being built, to run once it has (the run goes on meanwhile).
    #[prop_or_default]
    pub applying: bool,
    /// Where edits, applies and imports go.
    pub on_action: Callback<LiveAction>,
}

/// Closes the editor and gives the focus back to the button that opened it.
fn close_and_refocus(on_action: &Callback<LiveAction>) {
    on_action.emit(LiveAction::ToggleEditor);
    browser::focus(".edit-button");
}

/// Reads the first file of a picker or a drop and sends it as an import.
fn import_first(files: Option<web_sys::FileList>, on_action: &Callback<LiveAction>) {
    if let Some(file) = files.and_then(|files| files.get(0)) {
        // A scenario, or a run with its scenario and actions, is far smaller: not read at all.
        if file.size() > IMPORT_LIMIT as f64 {
            on_action.emit(LiveAction::Import {
                file: file.name(),
                text: Err(format!(
                    "it is over {} MB, far more than a scenario or a saved run",
                    IMPORT_LIMIT / (1024 * 1024)
                )),
            });
            return;
        }
        let on_action = on_action.clone();
        browser::read_file(file, move |file, text| {
            on_action.emit(LiveAction::Import { file, text });
        });
    }
}

/// The scenario editor.
#[component]
pub fn ScenarioEditor(props: &ScenarioEditorProps) -> Html {
    let area = use_node_ref();
    let picker = use_node_ref();
    let dragging = use_state(|| false);
    let draft = &props.draft;
    let changed = draft.text != props.running.as_str();
    let bad_line = draft.problem.as_ref().and_then(|p| p.line);

    let oninput = {
        let on_action = props.on_action.clone();
        Callback::from(move |event: InputEvent| {
            if let Some(area) = event.target_dyn_into::<HtmlTextAreaElement>() {
                on_action.emit(LiveAction::EditDraft(area.value()));
            }
        })
    };
    let onkeydown = {
        let on_action = props.on_action.clone();
        let can_apply = changed && draft.is_valid();
        Callback::from(move |event: KeyboardEvent| {
            if (event.ctrl_key() || event.meta_key()) && event.key() == "Enter" {
                event.prevent_default();
                if can_apply {
                    on_action.emit(LiveAction::ApplyDraft);
                }
            } else if event.key() == "Escape" {
                close_and_refocus(&on_action);
            }
        })
    };
    let send = |action: LiveAction| {
        let on_action = props.on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(action.clone()))
    };
    let export = {
        let text = draft.text.clone();
        let extension = match Syntax::sniff(&text) {
            Syntax::Toml => "toml",
            Syntax::Json => "json",
        };
        let file = format!("{}.{extension}", props.name);
        Callback::from(move |_: MouseEvent| {
            browser::download(&file, "text/plain;charset=utf-8", &text);
        })
    };
    let choose = {
        let picker = picker.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(input) = picker.cast::<HtmlInputElement>() {
                input.click();
            }
        })
    };
    let onchange = {
        let on_action = props.on_action.clone();
        Callback::from(move |event: Event| {
            if let Some(input) = event.target_dyn_into::<HtmlInputElement>() {
                import_first(input.files(), &on_action);
                // The same file chosen again is a change again.
                input.set_value("");
            }
        })
    };
    let ondragover = {
        let dragging = dragging.clone();
        Callback::from(move |event: DragEvent| {
            event.prevent_default();
            dragging.set(true);
        })
    };
    let ondragleave = {
        let dragging = dragging.clone();
        Callback::from(move |_: DragEvent| dragging.set(false))
    };
    let ondrop = {
        let dragging = dragging.clone();
        let on_action = props.on_action.clone();
        Callback::from(move |event: DragEvent| {
            event.prevent_default();
            dragging.set(false);
            import_first(event.data_transfer().and_then(|t| t.files()), &on_action);
        })
    };
    let go_to = {
        let area = area.clone();
        let text = draft.text.clone();
        Callback::from(move |line: usize| {
            if let (Some(area), Some((start, end))) = (
                area.cast::<HtmlTextAreaElement>(),
                line_span_utf16(&text, line),
            ) {
                let _ = area.focus();
                let _ = area.set_selection_range(start, end);
                // Bring the line to the middle of the view (clear of the sticky playback bar).
                if let Some(line) = web_sys::window()
                    .and_then(|w| w.document())
                    .and_then(|d| d.get_element_by_id("scenario-bad-line"))
                {
                    let options = web_sys::ScrollIntoViewOptions::new();
                    options.set_block(web_sys::ScrollLogicalPosition::Center);
                    line.scroll_into_view_with_scroll_into_view_options(&options);
                }
            }
        })
    };

    let lines = draft.lines();
    let widest = draft
        .text
        .split('\n')
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    let status = match (&draft.problem, &draft.summary) {
        (Some(problem), _) => {
            let where_ = problem.line.map(|line| {
                let go_to = go_to.clone();
                html! {
                    <button type="button" class="button small subtle"
                        onclick={Callback::from(move |_: MouseEvent| go_to.emit(line))}>
                        { format!("Go to line {line}") }
                    </button>
                }
            });
            html! {
                <div class="scenario-status bad" role="status">
                    <span>{ "✗ " }{ problem.to_string() }</span>
                    { for where_ }
                </div>
            }
        }
        (None, summary) => html! {
            <div class="scenario-status good" role="status">
                <span>{ format!("✓ Reads as a scenario: {}", summary.clone().unwrap_or_default()) }</span>
                if changed {
                    <span class="muted">{ " — not running yet: Apply runs it (Ctrl+Enter)." }</span>
                } else {
                    <span class="muted">{ " — this is what runs." }</span>
                }
            </div>
        },
    };

    // A disabled Apply says why, where the pointer is.
    let apply_title = if props.applying {
        "The edited scenario is being checked"
    } else if !changed {
        "Nothing to apply: the scenario is as it runs"
    } else if !draft.is_valid() {
        "The text has a problem (see below the editor): fix it to apply"
    } else {
        "Run the edited scenario from 0 s; the page's link then carries it"
    };

    html! {
        <section class="scenario-editor" role="region" aria-label="Scenario editor">
            <div class="scenario-editor-bar">
                <h3>{ "Edit the scenario" }</h3>
                <div class="scenario-editor-buttons">
                    <button type="button" class="button small primary"
                        disabled={props.applying || !(changed && draft.is_valid())}
                        aria-busy={props.applying.then_some("true")}
                        onclick={send(LiveAction::ApplyDraft)}
                        title={apply_title}>
                        { if props.applying { "Applying…" } else { "Apply" } }
                    </button>
                    <button type="button" class="button small subtle" disabled={!changed}
                        onclick={send(LiveAction::RevertDraft)} title="Put back the scenario as it runs">
                        { "Revert" }
                    </button>
                    if props.builtin_differs {
                        <button type="button" class="button small subtle" onclick={send(LiveAction::DraftFromBuiltin)}
                            title="Put the built-in scenario of this name in the editor, as it ships">
                            { "Built-in version" }
                        </button>
                    }
                    <button type="button" class="button small subtle" onclick={choose}
                        title="Open a scenario file (.toml or .json) or a run saved from the Share panel">
                        { "Import…" }
                    </button>
                    <input type="file" ref={picker} class="visually-hidden" tabindex="-1" aria-hidden="true"
                        accept=".toml,.json,text/plain,application/json,application/toml" {onchange} />
                    <button type="button" class="button small subtle" onclick={export}
                        title="Save the editor's text as a file">
                        { "Export" }
                    </button>
                    <a class="scenario-schema" href="scenario.schema.json" target="_blank" rel="noopener">
                        { "JSON Schema" }
                    </a>
                    <button type="button" class="button small subtle" onclick={{
                        let on_action = props.on_action.clone();
                        Callback::from(move |_: MouseEvent| close_and_refocus(&on_action))
                    }} title="Close the editor (Esc); a draft not applied is kept in this browser">
                        { "Close" }
                    </button>
                </div>
            </div>
            <p class="hint">
                { "The scenario's file, checked as you type with the same rules as " }
                <code>{ "dataflow-lab check" }</code>
                { ". Apply runs it from 0 s. Drop a .toml, .json or saved run file here to open it. Your edits are kept in this browser." }
            </p>
            if let Some(note) = &props.note {
                <p class="scenario-note" role="status">{ note.clone() }</p>
            }
            <div class={classes!("scenario-source", dragging.then_some("dragging"))}
                {ondragover} {ondragleave} {ondrop}>
                <div class="scenario-gutter" aria-hidden="true">
                    { for (1..=lines).map(|n| {
                        let bad = bad_line == Some(n);
                        html! {
                            <span class={classes!(bad.then_some("bad"))}
                                id={bad.then_some("scenario-bad-line")}>{ n }</span>
                        }
                    }) }
                </div>
                <textarea ref={area} value={draft.text.clone()} {oninput} {onkeydown}
                    rows={(lines + 1).to_string()} cols={(widest + 2).max(20).to_string()} wrap="off" spellcheck="false"
                    autocomplete="off" autocapitalize="off"
                    aria-label="Scenario file (TOML)"
                    aria-invalid={(!draft.is_valid()).to_string()} />
            </div>
            { status }
        </section>
    }
}
