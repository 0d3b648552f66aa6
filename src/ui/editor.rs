//! The SQL editor: a multi-line text area, the Run button, and one-click examples.
//!
//! Keys: Ctrl+Enter (⌘+Enter on a Mac) runs; ↑ on the first line and ↓ on the last line walk
//! through the history, as in a terminal. Everything else is a plain text area, so Tab still
//! moves the focus on (no keyboard trap).

use crate::ui::state::{Action, EXAMPLES};
use wasm_bindgen::JsCast;
use web_sys::{HtmlTextAreaElement, KeyboardEvent};
use yew::prelude::*;

/// What the editor shows and where it sends actions.
#[derive(Properties, PartialEq)]
pub struct EditorProps {
    /// The editor text.
    pub draft: AttrValue,
    /// Where edits, runs and history steps go.
    pub on_action: Callback<Action>,
}

/// Whether the caret sits on the first (`up`) or last (`!up`) line of the text area, with
/// nothing selected: only then do ↑/↓ leave the text for the history.
fn caret_on_edge_line(area: &HtmlTextAreaElement, up: bool) -> bool {
    let (Ok(Some(start)), Ok(Some(end))) = (area.selection_start(), area.selection_end()) else {
        return false;
    };
    if start != end {
        return false;
    }
    // Selection offsets count UTF-16 code units.
    let text: Vec<u16> = area.value().encode_utf16().collect();
    let caret = usize::try_from(start).unwrap_or(0).min(text.len());
    let newline = u16::from(b'\n');
    if up {
        !text[..caret].contains(&newline)
    } else {
        !text[caret..].contains(&newline)
    }
}

/// The editor with its toolbar.
#[component]
pub fn Editor(props: &EditorProps) -> Html {
    let area_ref = use_node_ref();

    let oninput = {
        let on_action = props.on_action.clone();
        Callback::from(move |event: InputEvent| {
            if let Some(area) = event.target_dyn_into::<HtmlTextAreaElement>() {
                on_action.emit(Action::Edit(area.value()));
            }
        })
    };

    let onkeydown = {
        let on_action = props.on_action.clone();
        Callback::from(move |event: KeyboardEvent| {
            let Some(area) = event
                .target()
                .and_then(|t| t.dyn_into::<HtmlTextAreaElement>().ok())
            else {
                return;
            };
            let modified = event.alt_key() || event.shift_key();
            match event.key().as_str() {
                "Enter" if event.ctrl_key() || event.meta_key() => {
                    event.prevent_default();
                    // Run what is in the box now, even if an input event is still pending.
                    on_action.emit(Action::Edit(area.value()));
                    on_action.emit(Action::Run);
                }
                "ArrowUp" if !modified && !event.ctrl_key() && caret_on_edge_line(&area, true) => {
                    event.prevent_default();
                    on_action.emit(Action::HistoryPrevious);
                }
                "ArrowDown"
                    if !modified && !event.ctrl_key() && caret_on_edge_line(&area, false) =>
                {
                    event.prevent_default();
                    on_action.emit(Action::HistoryNext);
                }
                _ => {}
            }
        })
    };

    let run = {
        let on_action = props.on_action.clone();
        let area_ref = area_ref.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(area) = area_ref.cast::<HtmlTextAreaElement>() {
                on_action.emit(Action::Edit(area.value()));
            }
            on_action.emit(Action::Run);
        })
    };

    let clear = {
        let on_action = props.on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(Action::ClearResults))
    };

    let lines = props.draft.lines().count().clamp(4, 14);

    html! {
        <section class="editor" aria-label="SQL editor">
            <label class="editor-label" for="sql-input">{ "SQL" }
                <span class="hint">
                    { "Separate statements with " }<kbd>{ ";" }</kbd>
                    { " · " }<kbd>{ "Ctrl" }</kbd>{ "+" }<kbd>{ "Enter" }</kbd>{ " runs · " }
                    <kbd>{ "↑" }</kbd><kbd>{ "↓" }</kbd>{ " history" }
                </span>
            </label>
            <textarea
                id="sql-input"
                ref={area_ref}
                class="sql-input"
                rows={lines.to_string()}
                spellcheck="false"
                autocomplete="off"
                autocapitalize="off"
                value={props.draft.clone()}
                {oninput}
                {onkeydown}
            />
            <div class="toolbar">
                <button type="button" class="button primary" onclick={run}
                    title="Run every statement (Ctrl+Enter)">
                    <svg class="icon" viewBox="0 0 16 16" aria-hidden="true"><path d="M4 2.5v11l9-5.5z"/></svg>
                    { "Run" }
                </button>
                <button type="button" class="button" onclick={clear}>{ "Clear results" }</button>
                <div class="examples" role="group" aria-label="Example queries">
                    <span class="examples-label">{ "Try:" }</span>
                    { for EXAMPLES.iter().map(|(title, sql)| {
                        let on_action = props.on_action.clone();
                        let sql = (*sql).to_owned();
                        let onclick = Callback::from(move |_: MouseEvent| {
                            on_action.emit(Action::RunExample(sql.clone()));
                        });
                        html! { <button type="button" class="chip" {onclick}>{ *title }</button> }
                    }) }
                </div>
            </div>
        </section>
    }
}
