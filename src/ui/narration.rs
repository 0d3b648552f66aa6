//! The narration ("What happened"): what happened, in sentences, newest first, filterable by kind, with the
//! newest line announced to screen readers.

use crate::sim::world::NarrationKind;
use crate::ui::icons::narration_badge;
use crate::ui::ViewRef;
use yew::prelude::*;

/// The log's inputs.
#[derive(Properties, PartialEq)]
pub struct NarrationProps {
    /// What to show.
    pub view: ViewRef,
    /// What to say while the log is empty (it depends on the scenario: play, or step a script).
    pub empty_hint: AttrValue,
}

const FILTERS: &[(&str, &str)] = &[
    ("all", "Everything"),
    ("locks", "Lock waits and deadlocks"),
    ("errors", "Failures"),
    ("schema", "Schema breaks"),
    ("actions", "Actions"),
];

fn matches(filter: &str, kind: NarrationKind) -> bool {
    match filter {
        "locks" => matches!(kind, NarrationKind::LockWait | NarrationKind::Deadlock),
        "errors" => matches!(kind, NarrationKind::Error | NarrationKind::SchemaBreak),
        "schema" => kind == NarrationKind::SchemaBreak,
        "actions" => kind == NarrationKind::Action,
        _ => true,
    }
}

fn class(kind: NarrationKind) -> &'static str {
    match kind {
        NarrationKind::LockWait => "lock",
        NarrationKind::Deadlock => "deadlock",
        NarrationKind::Error => "error",
        NarrationKind::SchemaBreak => "schema-break",
        NarrationKind::Action => "action",
    }
}

/// The narration panel.
#[component]
pub fn Narration(props: &NarrationProps) -> Html {
    let filter = use_state(|| "all".to_owned());
    let on_filter = {
        let filter = filter.clone();
        Callback::from(move |event: Event| {
            if let Some(value) = crate::ui::browser::select_value(&event) {
                filter.set(value);
            }
        })
    };
    let view = &props.view.0;
    let lines: Vec<_> = view
        .log
        .iter()
        .rev()
        .filter(|line| matches(&filter, line.kind))
        .take(100)
        .collect();
    let newest = view
        .log
        .last()
        .map(|l| format!("{} — {}", l.at, l.text))
        .unwrap_or_default();
    html! {
        <div class="event-log">
            <label class="field">
                <span>{ "Show" }</span>
                <select onchange={on_filter} aria-label="Show in what happened">
                    { for FILTERS.iter().map(|(value, label)| html! {
                        <option value={*value} selected={*filter == *value}>{ *label }</option>
                    }) }
                </select>
            </label>
            <p class="visually-hidden" aria-live="polite" aria-atomic="true">{ newest }</p>
            if lines.is_empty() {
                <p class="quiet">{ props.empty_hint.clone() }</p>
            } else {
                <ol class="log-lines" reversed=true tabindex="0" aria-label="What happened, newest first">
                    { for lines.iter().map(|line| {
                        html! {
                            <li class={classes!("log-line", class(line.kind))}>
                                <span class="log-icon">{ narration_badge(line.kind) }</span>
                                <time>{ &line.at }</time>
                                <span class="log-text">{ &line.text }</span>
                                if let Some(sql) = &line.sql {
                                    <code class="log-sql">{ sql }</code>
                                }
                            </li>
                        }
                    }) }
                </ol>
            }
        </div>
    }
}
