//! The message viewer: a topic's messages by partition and offset, newest first — key, `op`
//! coloured, source LSN — each opening to its row's fields before and after (what changed
//! highlighted) and the whole value as formatted JSON. Filter by key; follow the newest or hold
//! the list still to read it.

use crate::sim::clock::format_micros;
use crate::sim::messages::MessageView;
use crate::ui::live::{LiveAction, Viewer};
use std::rc::Rc;
use yew::prelude::*;

/// The viewer's inputs.
#[derive(Properties, PartialEq)]
pub struct MessagesProps {
    /// The viewer's settings (topic, key filter, follow).
    pub viewer: Viewer,
    /// The messages, newest first.
    pub messages: Rc<Vec<MessageView>>,
    /// Every topic, for the chooser.
    pub topics: Vec<String>,
    /// Where actions go.
    pub on_action: Callback<LiveAction>,
}

fn op_name(op: Option<&str>) -> &'static str {
    match op {
        Some("c") => "create",
        Some("u") => "update",
        Some("d") => "delete",
        Some("r") => "read",
        Some(_) => "other",
        None => "tombstone",
    }
}

/// The message viewer.
#[component]
pub fn MessageViewer(props: &MessagesProps) -> Html {
    let open = use_state(|| None::<(u32, u64)>);
    let root = use_node_ref();
    // Opened below the pipeline, the viewer comes into view.
    {
        let root = root.clone();
        use_effect_with(props.viewer.topic.clone(), move |topic| {
            if topic.is_some() {
                if let Some(element) = root.cast::<web_sys::Element>() {
                    element.scroll_into_view();
                }
            }
        });
    }
    let Some(topic) = props.viewer.topic.clone() else {
        return html! {};
    };
    let on_topic = {
        let on_action = props.on_action.clone();
        Callback::from(move |event: Event| {
            if let Some(value) = crate::ui::browser::select_value(&event) {
                on_action.emit(LiveAction::ViewTopic(Some(value)));
            }
        })
    };
    let on_key = {
        let on_action = props.on_action.clone();
        Callback::from(move |event: InputEvent| {
            if let Some(input) = event.target_dyn_into::<web_sys::HtmlInputElement>() {
                on_action.emit(LiveAction::FilterKey(input.value()));
            }
        })
    };
    let on_follow = {
        let on_action = props.on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(LiveAction::ToggleFollow))
    };
    let on_close = {
        let on_action = props.on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(LiveAction::ViewTopic(None)))
    };
    html! {
        <div class="message-viewer" ref={root}>
            <div class="viewer-bar">
                <label class="field">
                    <span>{ "Topic" }</span>
                    <select onchange={on_topic} aria-label="Topic">
                        { for props.topics.iter().map(|t| html! {
                            <option value={t.clone()} selected={*t == topic}>{ t }</option>
                        }) }
                    </select>
                </label>
                <label class="field">
                    <span>{ "Key contains" }</span>
                    <input type="search" value={props.viewer.key.clone()} oninput={on_key}
                        placeholder="e.g. 20017" aria-label="Filter by key" />
                </label>
                <button type="button" class="button subtle small" aria-pressed={props.viewer.follow.to_string()}
                    onclick={on_follow}
                    title="Follow the newest messages, or hold the list still to read it">
                    { if props.viewer.follow { "Following" } else { "Held" } }
                </button>
                <button type="button" class="button subtle small" onclick={on_close}>{ "Close" }</button>
            </div>
            if props.messages.is_empty() {
                <p class="empty-hint">{ "No message yet: press play, and the orders the shop takes arrive here." }</p>
            }
            <ol class="messages" tabindex="0" aria-label={format!("messages of {topic}, newest first")}>
                { for props.messages.iter().map(|m| {
                    let id = (m.partition, m.offset);
                    let expanded = *open == Some(id);
                    let toggle = {
                        let open = open.clone();
                        let on_action = props.on_action.clone();
                        let following = props.viewer.follow;
                        Callback::from(move |_: MouseEvent| {
                            open.set(if expanded { None } else { Some(id) });
                            // A message being read must not slide away: hold the list.
                            if !expanded && following {
                                on_action.emit(LiveAction::ToggleFollow);
                            }
                        })
                    };
                    let event_type = m.headers.iter().find(|(k, _)| k == "type").map(|(_, v)| v.clone());
                    let op = if event_type.is_some() { "event" } else { op_name(m.op.as_deref()) };
                    html! {
                        <li class={classes!("message", op, expanded.then_some("open"))}>
                            <button type="button" class="message-head" onclick={toggle}
                                aria-expanded={expanded.to_string()}>
                                <span class="message-at">{ format!("P{}:{}", m.partition, m.offset) }</span>
                                if let Some(event_type) = &event_type {
                                    <span class="event-type">{ event_type }</span>
                                } else {
                                    <span class={classes!("op-badge", op)}>{ m.op.clone().unwrap_or_else(|| "∅".to_owned()) }</span>
                                }
                                <code class="message-key">{ &m.key }</code>
                                <span class="message-meta">
                                    { m.lsn.map(|l| format!("LSN {l} · ")).unwrap_or_default() }
                                    { m.schema_id.map(|_| format!("Avro {} B (JSON {} B) · ", m.bytes, m.json_bytes)).unwrap_or_default() }
                                    { format_micros(m.timestamp) }
                                </span>
                            </button>
                            if expanded {
                                <div class="message-body">
                                    if let Some(id) = m.schema_id {
                                        <p class="avro-facts" aria-label="avro facts">
                                            { format!("Avro binary in Confluent's wire format: magic byte 0, schema id {id} (the registry resolves it), then the value — {} bytes, where the same value as JSON takes {} bytes. Headers: {}.",
                                                m.bytes, m.json_bytes,
                                                m.headers.iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join(", ")) }
                                        </p>
                                        <table class="field-diff">
                                            <thead><tr><th>{ "field" }</th><th>{ "value" }</th></tr></thead>
                                            <tbody>
                                                { for m.fields.iter().map(|f| html! {
                                                    <tr>
                                                        <th scope="row">{ &f.name }</th>
                                                        <td>{ f.after.clone().unwrap_or_default() }</td>
                                                    </tr>
                                                }) }
                                            </tbody>
                                        </table>
                                    } else if m.op.is_none() {
                                        <p>{ "A tombstone: the key with no value. Compaction keeps it a while, then removes the key from the topic." }</p>
                                    } else {
                                        <table class="field-diff">
                                            <thead><tr><th>{ "column" }</th><th>{ "before" }</th><th>{ "after" }</th></tr></thead>
                                            <tbody>
                                                { for m.fields.iter().map(|f| html! {
                                                    <tr class={classes!(f.changed.then_some("changed"))}>
                                                        <th scope="row">{ &f.name }</th>
                                                        <td>{ f.before.clone().unwrap_or_else(|| "—".to_owned()) }</td>
                                                        <td>{ f.after.clone().unwrap_or_else(|| "—".to_owned()) }</td>
                                                    </tr>
                                                }) }
                                            </tbody>
                                        </table>
                                        if m.op.as_deref() == Some("u") && m.fields.iter().all(|f| f.before.is_none()) {
                                            <p class="hint">{ "before is null: the table's REPLICA IDENTITY is DEFAULT, so PostgreSQL does not log the old row of an update." }</p>
                                        }
                                    }
                                    <pre class="message-json" tabindex="0"><code>{ &m.pretty }</code></pre>
                                </div>
                            }
                        </li>
                    }
                }) }
            </ol>
        </div>
    }
}
