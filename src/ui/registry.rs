//! The schema registry panel (`events` mode): each subject's versions, ids, compatibility mode
//! and consumers, and "try a change": edit the latest schema and see, before registering it,
//! the field-by-field diff with each change's effect and the registry's verdict — then register
//! it (a refusal names the rule, the field and the consumers it would break).

use crate::sim::world::{Command, RegistrySnapshot};
use crate::ui::live::LiveAction;
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

/// The panel's inputs.
#[derive(Properties, PartialEq)]
pub struct RegistryProps {
    /// The registry now.
    pub registry: RegistrySnapshot,
    /// The last registration's answer, if any.
    pub result: Option<String>,
    /// Where actions go.
    pub on_action: Callback<LiveAction>,
}

/// The schema registry panel.
#[component]
pub fn RegistryPanel(props: &RegistryProps) -> Html {
    let subjects = &props.registry.subjects;
    // The subject most consumers read comes first: the one the lesson is about.
    let busiest = subjects
        .iter()
        .enumerate()
        .max_by_key(|(i, s)| (s.consumers.len(), std::cmp::Reverse(*i)))
        .map_or(0, |(i, _)| i);
    let chosen = use_state(|| busiest);
    let draft = use_state(|| None::<String>);
    // The text last sent to the registry: its answer is shown while the draft is that text.
    let sent = use_state(|| None::<String>);
    let Some(subject) = subjects.get(*chosen).or(subjects.first()) else {
        return html! {};
    };
    let latest = subject
        .versions
        .last()
        .map(|v| v.text.clone())
        .unwrap_or_default();
    let newest = subject.versions.last().map_or(0, |v| v.version);
    let text = (*draft).clone().unwrap_or_else(|| latest.clone());
    let preview = props.registry.preview(&subject.name, &text);
    let changed = text.trim() != latest.trim();
    let on_input = {
        let draft = draft.clone();
        Callback::from(move |e: InputEvent| {
            let area: HtmlTextAreaElement = e.target_unchecked_into();
            draft.set(Some(area.value()));
        })
    };
    let reset = {
        let draft = draft.clone();
        Callback::from(move |_: MouseEvent| draft.set(None))
    };
    let register = {
        let on_action = props.on_action.clone();
        let subject = subject.name.clone();
        let text = text.clone();
        let draft = draft.clone();
        let sent = sent.clone();
        let accepted = preview.verdict.is_ok();
        Callback::from(move |_: MouseEvent| {
            sent.set(Some(text.clone()));
            on_action.emit(LiveAction::Command(Command::RegisterSchema {
                subject: subject.clone(),
                schema: text.clone(),
            }));
            if accepted {
                draft.set(None);
            }
        })
    };
    let choose = {
        let chosen = chosen.clone();
        let draft = draft.clone();
        Callback::from(move |e: Event| {
            let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
            chosen.set(select.selected_index().max(0) as usize);
            draft.set(None);
        })
    };
    html! {
        <div class="registry">
            <div class="registry-subjects">
                <label>
                    { "Subject " }
                    <select onchange={choose} aria-label="subject">
                        { for subjects.iter().enumerate().map(|(i, s)| html! {
                            <option selected={i == *chosen}>{ &s.name }</option>
                        }) }
                    </select>
                </label>
                <dl class="pipe-facts">
                    <dt>{ "compatibility" }</dt>
                    <dd title={subject.mode.explanation()}>{ subject.mode.name() }</dd>
                    <dt>{ "versions" }</dt>
                    <dd>{ subject.versions.iter().map(|v| format!("v{} (id {})", v.version, v.id)).collect::<Vec<_>>().join(", ") }</dd>
                    <dt>{ "consumers" }</dt>
                    <dd class="registry-consumers">
                        { for subject.consumers.iter().map(|(c, v)| {
                            let group = c.clone();
                            let on_action = props.on_action.clone();
                            let upgrade = Callback::from(move |_: MouseEvent| {
                                on_action.emit(LiveAction::Command(Command::UpgradeReaders { group: group.clone() }));
                            });
                            html! {
                                <span class="registry-consumer">
                                    { format!("{c} reads v{v}") }
                                    if *v < newest {
                                        <button type="button" class="button subtle small" onclick={upgrade}
                                            title="Make this consumer read with the latest version of every subject it reads (a new deployment of its code)">
                                            { format!("Upgrade to v{newest}") }
                                        </button>
                                    }
                                </span>
                            }
                        }) }
                    </dd>
                </dl>
            </div>
            <div class="registry-try">
                <label for="schema-draft"><b>{ "Try a change" }</b>{ " — edit the latest version, then register it:" }</label>
                <textarea id="schema-draft" class="schema-draft" spellcheck="false" rows="12"
                    aria-label="schema draft" value={text.clone()} oninput={on_input} />
                <div class="registry-preview" aria-label="schema change preview">
                    if changed && preview.diff.is_empty() && preview.verdict.is_ok() {
                        <p class="muted">{ "No field changes (formatting only)." }</p>
                    }
                    if !preview.diff.is_empty() {
                        <ul class="schema-diff">
                            { for preview.diff.iter().map(|line| {
                                let class = if line.backward && line.forward { "compatible" } else { "breaking" };
                                html! {
                                    <li class={classes!(class)}>
                                        <code>{ &line.path }</code>{ format!(": {} — ", line.change) }
                                        <span class="effect">{ line.effect() }</span>
                                    </li>
                                }
                            }) }
                        </ul>
                    }
                    if changed {
                        { match &preview.verdict {
                            Ok(()) if preview.producer.is_some() => html! {
                                <p class="verdict warn" role="status">
                                    { format!("{} accepts it, but {}.", subject.mode.name(), preview.producer.clone().unwrap_or_default()) }
                                </p>
                            },
                            Ok(()) if !preview.stranded.is_empty() => html! {
                                <p class="verdict warn" role="status">
                                    { format!("{} accepts it, but: ", subject.mode.name()) }
                                    { preview.stranded.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ") }
                                    { ". BACKWARD expects consumers to be upgraded first: once it is registered, each of them gets an Upgrade button under consumers." }
                                </p>
                            },
                            Ok(()) => html! { <p class="verdict ok" role="status">{ format!("{} accepts it.", subject.mode.name()) }</p> },
                            Err(why) => html! { <p class="verdict refused" role="status">{ format!("Would be refused: {why}") }</p> },
                        } }
                    }
                </div>
                <div class="pipe-actions">
                    <button type="button" class="button small" disabled={!changed} onclick={register}>{ "Register" }</button>
                    <button type="button" class="button subtle small" disabled={!changed} onclick={reset}>{ "Revert" }</button>
                </div>
                if let Some(result) = props.result.as_ref().filter(|_| !changed || sent.as_deref() == Some(text.as_str())) {
                    <p class="last-result" role="status" aria-label="registry answer">{ result }</p>
                }
            </div>
        </div>
    }
}
