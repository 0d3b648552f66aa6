//! The actions panel: pause and resume services, change rates, start and stop operations, and
//! run ready-made SQL inside the simulation (a migration, a report by hand) with one click.

use crate::sim::world::Command;
use crate::ui::field::CommitInput;
use crate::ui::live::{LiveAction, SchemaPreview};
use crate::ui::ViewRef;
use std::rc::Rc;
use yew::prelude::*;

/// The highest rate the page accepts (arrivals per second): more would only make it crawl.
const MAX_RATE: f64 = 10_000.0;

/// A ready-made SQL action: a label, the database, the SQL.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    /// The button's label.
    pub label: String,
    /// The database it runs on.
    pub database: String,
    /// The SQL.
    pub sql: String,
    /// Whether its work is done: a schema change already made (the page shows it, disabled).
    pub done: bool,
}

/// The panel's inputs.
#[derive(Properties, PartialEq)]
pub struct ControlsProps {
    /// What to show.
    pub view: ViewRef,
    /// Ready-made SQL actions.
    pub presets: Rc<Vec<Preset>>,
    /// The outcome of the last command.
    pub last_result: Option<String>,
    /// A schema change previewed, waiting for "Run it".
    pub preview: Option<Rc<SchemaPreview>>,
    /// Where actions go.
    pub on_action: Callback<LiveAction>,
}

/// The actions panel.
#[component]
pub fn Controls(props: &ControlsProps) -> Html {
    let view = &props.view.0;
    let command = |command: Command| {
        let on_action = props.on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(LiveAction::Command(command.clone())))
    };
    html! {
        <div class="controls">
            <ul class="service-controls">
                { for view.services.iter().filter(|s| !s.internal).map(|service| {
                    let (label, action) = if service.paused {
                        ("Resume", Command::ResumeService { service: service.name.clone() })
                    } else {
                        ("Pause", Command::PauseService { service: service.name.clone() })
                    };
                    html! {
                        <li class="service-control">
                            <div class="service-control-head">
                                <b>{ &service.name }</b>
                                <button type="button" class="button subtle small" onclick={command(action)}
                                    aria-label={format!("{label} {}", service.name)}>{ label }</button>
                            </div>
                            <ul class="operation-controls">
                                { for service.operations.iter().map(|operation| {
                                    let on_rate = {
                                        let on_action = props.on_action.clone();
                                        let (service, operation) = (service.name.clone(), operation.name.clone());
                                        Callback::from(move |text: String| {
                                            match text.trim().parse::<f64>() {
                                                Ok(rate) if !(0.0..=MAX_RATE).contains(&rate) => on_action.emit(LiveAction::Notice(format!(
                                                    "A rate is between 0 and {MAX_RATE} arrivals per second, not {rate}."
                                                ))),
                                                Ok(rate) => on_action.emit(LiveAction::Command(Command::SetRate {
                                                    service: service.clone(),
                                                    operation: operation.clone(),
                                                    rate_per_s: rate,
                                                })),
                                                // A number field hands over "" for what is not a number.
                                                Err(_) if text.trim().is_empty() => on_action.emit(LiveAction::Notice(format!(
                                                    "The rate of {service}.{operation} must be a number: type arrivals per second, e.g. 8 or 0.5."
                                                ))),
                                                Err(_) => on_action.emit(LiveAction::Notice(format!(
                                                    "\"{}\" is not a rate: type arrivals per second, e.g. 8 or 0.5.", text.trim()
                                                ))),
                                            }
                                        })
                                    };
                                    let toggle = if operation.enabled {
                                        ("Stop", Command::StopOperation { service: service.name.clone(), operation: operation.name.clone() })
                                    } else {
                                        ("Start", Command::StartOperation { service: service.name.clone(), operation: operation.name.clone() })
                                    };
                                    html! {
                                        <li>
                                            <span class={classes!("op-name", operation.broken.is_some().then_some("broken"))}>{ &operation.name }</span>
                                            <label class="rate">
                                                <CommitInput kind="number" min="0" step="any"
                                                    value={format!("{}", operation.rate_per_s)} on_commit={on_rate}
                                                    label={format!("{}.{} arrivals per second", service.name, operation.name)} />
                                                <span aria-hidden="true">{ "/s" }</span>
                                            </label>
                                            <button type="button" class="button subtle small" onclick={command(toggle.1)}
                                                aria-label={format!("{} {}.{}", toggle.0, service.name, operation.name)}>{ toggle.0 }</button>
                                        </li>
                                    }
                                }) }
                            </ul>
                        </li>
                    }
                }) }
            </ul>
            if !props.presets.is_empty() {
            <div class="sql-action">
                <h3>{ "Run SQL in the simulation" }</h3>
                <p class="hint">{ "One transaction, as a migration or a report by hand: it takes locks, waits for them and makes others wait." }</p>
                <div class="presets">
                    { for props.presets.iter().map(|preset| {
                        let on_action = props.on_action.clone();
                        let (database, sql) = (preset.database.clone(), preset.sql.clone());
                        let onclick = Callback::from(move |_: MouseEvent| on_action.emit(
                            LiveAction::PreviewSql { database: database.clone(), sql: sql.clone() }
                        ));
                        if preset.done {
                            html! {
                                <button type="button" class="button subtle small preset-done" disabled=true
                                    title={format!("Done: the schema has already changed ({})", preset.sql)}>
                                    { format!("✓ {}", preset.label) }
                                </button>
                            }
                        } else {
                            html! {
                                <button type="button" class="button subtle small" {onclick} title={preset.sql.clone()}>
                                    { &preset.label }
                                </button>
                            }
                        }
                    }) }
                </div>
                if let Some(pending) = &props.preview {
                    <SchemaChangePreview pending={Rc::clone(pending)} on_action={props.on_action.clone()} />
                }
            </div>
            }
            if let Some(result) = &props.last_result {
                <p class="last-result" role="status">{ result }</p>
            }
        </div>
    }
}

/// The preview card's inputs.
#[derive(Properties, PartialEq)]
struct PreviewProps {
    pending: Rc<SchemaPreview>,
    on_action: Callback<LiveAction>,
}

/// What a schema change will do, before it runs: the lock, whom it waits for, what breaks.
#[component]
fn SchemaChangePreview(props: &PreviewProps) -> Html {
    let pending = &props.pending;
    let preview = &pending.preview.preview;
    let table = preview.change.table().unwrap_or_default();
    let run = {
        let on_action = props.on_action.clone();
        let command = Command::RunSql {
            database: pending.database.clone(),
            sql: pending.sql.clone(),
        };
        Callback::from(move |_: MouseEvent| on_action.emit(LiveAction::Command(command.clone())))
    };
    let cancel = {
        let on_action = props.on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(LiveAction::CancelPreview))
    };
    // The owner's own operations change with its schema (it deploys them together); the
    // others' break unless someone tells them.
    let is_owner =
        |a: &&crate::sim::coupling::Affected| preview.owner.as_deref() == Some(a.service.as_str());
    let owners: Vec<&crate::sim::coupling::Affected> =
        preview.breaks.iter().filter(is_owner).collect();
    let others: Vec<&crate::sim::coupling::Affected> =
        preview.breaks.iter().filter(|a| !is_owner(a)).collect();
    let mut broken: Vec<&str> = others.iter().map(|a| a.service.as_str()).collect();
    broken.dedup();
    html! {
        <div class="schema-preview" role="region" aria-label="Schema change preview">
            <p class="schema-preview-sql"><code>{ &pending.sql }</code></p>
            <p>{ format!("It {} and takes {} on {table}", preview.change.describe(), preview.lock.name()) }
                { match pending.preview.waits_for.as_slice() {
                    [] => ": nobody holds a conflicting lock now, so it should run at once.".to_owned(),
                    who => format!(
                        ". It will wait for {} — and every statement on {table} after it will wait behind it.",
                        who.join(", ")
                    ),
                } }
            </p>
            if broken.is_empty() && owners.is_empty() {
                <p class="schema-preview-safe">{ "No running operation names what it changes: nothing should break." }</p>
            }
            if !broken.is_empty() {
                <p class="schema-preview-breaks"><b>{ format!(
                    "It will break {} {} that {} not own {table}:",
                    broken.len(),
                    if broken.len() == 1 { "service" } else { "services" },
                    if broken.len() == 1 { "does" } else { "do" },
                ) }</b></p>
                <ul class="schema-preview-list">
                    { for others.iter().map(|a| html! {
                        <li><b>{ format!("{}.{}", a.service, a.operation) }</b>{ format!(" — {}", a.why) }</li>
                    }) }
                </ul>
            }
            if !owners.is_empty() {
                <p class="schema-preview-owner">{ format!(
                    "And the owner's own code, which must change with it (as {} deploys its new version):",
                    preview.owner.as_deref().unwrap_or_default()
                ) }</p>
                <ul class="schema-preview-list">
                    { for owners.iter().map(|a| html! {
                        <li>{ format!("{}.{} — {}", a.service, a.operation, a.why) }</li>
                    }) }
                </ul>
            }
            if !preview.every_column.is_empty() {
                <ul class="schema-preview-list muted">
                    { for preview.every_column.iter().map(|a| html! {
                        <li>{ format!("{}.{} {}", a.service, a.operation, a.why) }</li>
                    }) }
                </ul>
            }
            <div class="schema-preview-buttons">
                <button type="button" class="button small" onclick={run}>{ "Run it" }</button>
                <button type="button" class="button subtle small" onclick={cancel}>{ "Cancel" }</button>
            </div>
        </div>
    }
}
