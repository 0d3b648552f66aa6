//! The CDC pipeline panel (`cdc` mode): source database → connector → topics → consumer
//! groups → read models, left to right, with each one's numbers, its actions (stop, start or
//! crash the connector; pause, resume or crash a consumer; rebuild read models) and a lag chart
//! per group with its table twin.

use crate::sim::capture::{CaptureMethod, AUDIT_TABLE};
use crate::sim::clock::{format_micros, Micros, SECOND};
use crate::sim::connector::ConnectorState;
use crate::sim::world::{Command, ConsumerState, GroupSnapshot, TopicSnapshot, LAG_HISTORY};
use crate::ui::live::LiveAction;
use crate::ui::ViewRef;
use yew::prelude::*;

/// The panel's inputs.
#[derive(Properties, PartialEq)]
pub struct PipelineProps {
    /// What to show.
    pub view: ViewRef,
    /// The topic open in the message viewer, if any.
    pub viewing: Option<String>,
    /// Where actions go.
    pub on_action: Callback<LiveAction>,
}

fn ms(us: Micros) -> String {
    format_micros(us)
}

/// A lag in messages and time, in words ("caught up" at none).
fn lag_text(messages: u64, age: Micros, unit: &str) -> String {
    match messages {
        0 => "caught up".to_owned(),
        1 => format!("1 {}, {} old", unit.trim_end_matches('s'), ms(age)),
        n => format!("{n} {unit}, oldest {}", ms(age)),
    }
}

/// What a connector reads, by its capture method.
fn reads(c: &crate::sim::world::ConnectorSnapshot) -> String {
    if c.polls_outbox {
        return format!(
            "the outbox table of database {}, by query every {}: SELECT … WHERE published = FALSE, \
             then UPDATE … SET published = TRUE for what it published, in Avro",
            c.source,
            ms(c.poll_interval)
        );
    }
    if c.relayed.is_some() {
        return format!(
            "the outbox table of database {} (its WAL, through slot {}): each event routed by \
             Debezium's outbox event router to outbox.event.<aggregate>, in Avro",
            c.source, c.name
        );
    }
    match c.capture {
        CaptureMethod::Log => format!(
            "database {} (its WAL, through slot {}); topics {}",
            c.source, c.name, c.topic_prefix
        ),
        CaptureMethod::Query => format!(
            "database {} by query: the rows whose column moved past the last value seen",
            c.source
        ),
        CaptureMethod::Trigger => format!(
            "database {}'s audit table {AUDIT_TABLE}, which a trigger fills in every write",
            c.source
        ),
        CaptureMethod::DualWrite => format!(
            "nothing: the services of database {} publish their own changes after each commit \
             (a dual write: no log position, their own order, lost in a crash)",
            c.source
        ),
    }
}

/// Whether a lag is worth a warning colour: more than a second old.
fn late(age: Micros) -> bool {
    age > SECOND
}

/// The pipeline panel.
#[component]
pub fn PipelinePanel(props: &PipelineProps) -> Html {
    let Some(pipeline) = &props.view.0.pipeline else {
        return html! {};
    };
    let command = |command: Command| {
        let on_action = props.on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(LiveAction::Command(command.clone())))
    };
    let view_topic = |topic: Option<String>| {
        let on_action = props.on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(LiveAction::ViewTopic(topic.clone())))
    };
    let now = props.view.0.now;
    html! {
        <>
        <p class="pipeline-hint">{
            if pipeline.connectors.iter().any(|c| c.polls_outbox) {
                "The owner writes each change's domain event into its outbox in the same transaction and keeps it there; the polling relay queries the outbox for the rows not yet published, publishes them to their aggregates' topics and marks them — every poll a query the owner's database pays for. Outbox, relay, Avro and the registry are explained under ? (help)."
            } else if pipeline.connectors.iter().any(|c| c.relayed.is_some()) {
                "The owner writes each change's domain event into its outbox in the same transaction; the relay reads the outbox from the log and publishes the events to their aggregates' topics, which the other services' read models are kept from. Outbox, relay, Avro and the registry are explained under ? (help)."
            } else {
                "The owner's committed changes flow through the connector and the topics into the other services' read models. LSN, slot, HW, op letters and lag are explained under ? (help)."
            }
        }</p>
        <div class="pipeline">
            <div class="pipeline-stage">
                <h3>{ "Connector" }</h3>
                { for pipeline.connectors.iter().map(|c| {
                    let state = c.state.name();
                    let running = matches!(c.state, ConnectorState::Streaming | ConnectorState::Snapshotting);
                    let name = c.name.clone();
                    html! {
                        <article class={classes!("pipe-card", "connector", state)} aria-label={format!("connector {}", c.name)}>
                            <header>
                                <b>{ match (c.relayed.is_some(), c.capture) {
                                    (true, _) if c.polls_outbox => format!("Polling relay ({})", c.name),
                                    (true, _) => format!("Outbox relay ({})", c.name),
                                    (false, CaptureMethod::DualWrite) => format!("Publisher: the {} service itself", c.source),
                                    _ => c.name.clone(),
                                } }</b>
                                <span class={classes!("pipe-state", state)}>{ state }</span>
                            </header>
                            <dl class="pipe-facts">
                                <dt>{ "reads" }</dt><dd>{ reads(c) }</dd>
                                if c.polls_outbox {
                                    <dt title="core time the outbox's database spent on the relay's polls and marks">{ "source pays" }</dt>
                                    <dd>{ format!("{} of core", ms(c.source_core)) }</dd>
                                }
                                if c.relayed.is_some() {
                                    <dt title="from an event's commit to its publish, over the whole run: the polling relay adds up to a poll interval">{ "latency p95 (run)" }</dt>
                                    <dd>{ ms(c.relay_latency_p95) }</dd>
                                }
                                if c.capture.polls_by_query() {
                                    <dt>{ "missed" }</dt>
                                    <dd class={classes!((c.missed.0 + c.missed.1 > 0).then_some("behind"))}
                                        title="Changes the source committed that this capture method never saw">
                                        { format!("{} deletes, {} other changes", c.missed.0, c.missed.1) }
                                    </dd>
                                    <dt>{ "source pays" }</dt><dd>{ format!("{} of core", ms(c.source_core)) }</dd>
                                }
                                // The polling relay reads no log: no position, lag or slot.
                                if c.capture != CaptureMethod::DualWrite && !c.polls_outbox {
                                <dt>{ "position" }</dt><dd>{ format!("LSN {} of {}", c.position, c.source_lsn) }</dd>
                                }
                                if !c.polls_outbox {
                                <dt>{ "lag" }</dt>
                                <dd class={classes!(late(c.lag.age).then_some("behind"))}>
                                    { lag_text(c.lag.records, c.lag.age, "changes") }
                                </dd>
                                }
                                if c.capture == CaptureMethod::Log && !c.polls_outbox {
                                    <dt>{ "slot keeps" }</dt><dd>{ format!("{} records of log", c.lag.retained) }</dd>
                                }
                                if c.capture != CaptureMethod::DualWrite && !c.polls_outbox {
                                <dt>{ "flushed" }</dt><dd>{ c.flushed.map_or("never".to_owned(), |l| format!("LSN {l}")) }</dd>
                                }
                                if let Some(error) = &c.error {
                                    <dt>{ "failed" }</dt>
                                    <dd class="behind">{ error.clone() }</dd>
                                }
                                if let Some(relayed) = c.relayed {
                                    <dt title="domain events published to the outbox.event.* topics (a crash makes the relay read again from its last flushed offset: those are published again, and the consumers skip them by event id)">{ "published" }</dt>
                                    <dd>{ format!("{relayed} events") }</dd>
                                } else {
                                    <dt title="events written to the topics, the initial snapshot's included">{ "produced" }</dt><dd>{ format!("{} ({} sent again)", c.produced, c.resent) }</dd>
                                }
                                <dt>{ "polls" }</dt>
                                <dd>
                                    { "every " }{ poll_chooser(&c.name, c.poll_interval, &props.on_action) }
                                    { format!(" {} per batch, {} per event", c.batch_size, ms(c.event_cost)) }
                                </dd>
                            </dl>
                            <div class="pipe-actions">
                                if running {
                                    <button type="button" class="button subtle small"
                                        onclick={command(Command::StopConnector { connector: name.clone() })}
                                        title={if c.polls_outbox {
                                            "Stop polling: the unpublished rows wait in the outbox"
                                        } else {
                                            "Stop gracefully: flush the offset; the slot keeps the source's log"
                                        }}>{ "Stop" }</button>
                                    <button type="button" class="button subtle small danger"
                                        onclick={command(Command::CrashConnector { connector: name.clone() })}
                                        title={if c.capture == CaptureMethod::DualWrite {
                                            "Crash the service between its commits and their publishes: what it committed and had not published is lost (it publishes again at once)"
                                        } else if c.polls_outbox {
                                            "Crash: a poll in flight is forgotten; the rows stay unpublished in the outbox for the next poll"
                                        } else {
                                            "Crash: what it read since its last flush will be sent again"
                                        }}>{ "Crash" }</button>
                                } else if c.state == ConnectorState::Crashed {
                                    <button type="button" class="button small"
                                        onclick={command(Command::StartConnector { connector: name.clone() })}
                                        title={if c.polls_outbox {
                                            "Restart the failed relay: it polls the outbox again for the rows not yet published (a failed relay stays down until restarted)"
                                        } else {
                                            "Restart the failed connector, as Kafka Connect's restart does: it resumes from its last flushed offset (a failed connector stays down until restarted)"
                                        }}>{ "Restart" }</button>
                                } else {
                                    <button type="button" class="button small"
                                        onclick={command(Command::StartConnector { connector: name.clone() })}
                                        title={if c.polls_outbox {
                                            "Start polling the outbox again"
                                        } else {
                                            "Start: resume from the last flushed offset"
                                        }}>{ "Start" }</button>
                                }
                            </div>
                        </article>
                    }
                }) }
            </div>
            <div class="pipeline-arrow" aria-hidden="true">{ "→" }</div>
            <div class="pipeline-stage">
                <h3>{ "Topics" }</h3>
                <div class="broker-line" aria-label="broker">
                    if let Some(back) = pipeline.broker_down_until {
                        <span class="pipe-state crashed">{ "broker down" }</span>
                        <span>{ format!(" back at {}: nothing is produced or fetched", ms(back)) }</span>
                    } else {
                        <span class="pipe-state">{ "broker up" }</span>
                        <button type="button" class="button subtle small danger"
                            onclick={command(Command::BrokerOutage { duration_ms: 10_000.0 })}
                            title="Take the broker down for 10 s: connectors cannot produce and consumers cannot fetch; the source's replication slot keeps the log, and everything resumes where it stopped">
                            { "Outage (10 s)" }
                        </button>
                    }
                </div>
                { for pipeline.topics.iter().map(|topic| {
                    let open = props.viewing.as_deref() == Some(topic.name.as_str());
                    let target = (!open).then(|| topic.name.clone());
                    html! {
                        <article class="pipe-card topic" aria-label={format!("topic {}", topic.name)}>
                            <header>
                                <b class="topic-name">{ &topic.name }</b>
                                if topic.compacted { <span class="pipe-state subtle" title="cleanup.policy=compact: the latest event per key stays">{ "compacted" }</span> }
                            </header>
                            { partitions(topic) }
                            <button type="button" class="button subtle small" aria-pressed={open.to_string()}
                                onclick={view_topic(target)}>
                                { if open { "Close messages" } else { "View messages" } }
                            </button>
                        </article>
                    }
                }) }
            </div>
            <div class="pipeline-arrow" aria-hidden="true">{ "→" }</div>
            <div class="pipeline-stage">
                <h3>{ "Consumer groups and read models" }</h3>
                { for pipeline.groups.iter().map(|group| group_card(group, now, &command, &props.on_action)) }
            </div>
        </div>
        </>
    }
}

/// A topic's partitions as lanes: the log from its start to its end, the high watermark marked.
fn partitions(topic: &TopicSnapshot) -> Html {
    let widest = topic
        .partitions
        .iter()
        .map(|p| p.log_end)
        .max()
        .unwrap_or(0)
        .max(1);
    html! {
        <ul class="partition-lanes">
            { for topic.partitions.iter().enumerate().map(|(number, p)| {
                let share = |offset: u64| offset as f64 * 100.0 / widest as f64;
                html! {
                    <li class="lane" title={format!(
                        "partition {number}: offsets {}–{}, high watermark {}, {} messages kept",
                        p.log_start, p.log_end.saturating_sub(1), p.high_watermark, p.messages)}>
                        <span class="lane-label">{ format!("P{number}") }</span>
                        <span class="lane-bar">
                            <span class="lane-fill" style={format!("left:{:.1}%;width:{:.1}%",
                                share(p.log_start), share(p.log_end) - share(p.log_start))} />
                            <span class="lane-hw" style={format!("left:{:.1}%", share(p.high_watermark))} />
                        </span>
                        <span class="lane-count" title="messages kept in the partition · its high watermark (the offset consumers can read up to)">{ format!("{} kept · HW {}", p.messages, p.high_watermark) }</span>
                    </li>
                }
            }) }
        </ul>
    }
}

/// A consumer group: its state, lag (chart and table), committed offsets, read models, actions.
fn group_card(
    group: &GroupSnapshot,
    now: Micros,
    command: &dyn Fn(Command) -> Callback<MouseEvent>,
    on_action: &Callback<LiveAction>,
) -> Html {
    let name = group.name.clone();
    let state = if group.rebalancing {
        "rebalancing"
    } else if group.state == ConsumerState::Running && group.last_error.is_some() {
        // Polling, but every batch fails: as good as stopped.
        "failing"
    } else {
        group.state.name()
    };
    html! {
        <article class={classes!("pipe-card", "group", state)} aria-label={format!("consumer group {}", group.name)}>
            <header>
                <b>{ &group.name }</b>
                <span class={classes!("pipe-state", state)}>{ state }</span>
            </header>
            <dl class="pipe-facts">
                <dt title="messages in the topics it has not consumed yet">{ "lag" }</dt>
                <dd class={classes!(late(group.lag_age).then_some("behind"))}>
                    { lag_text(group.lag_messages, group.lag_age, "messages") }
                </dd>
                <dt title="changes committed at the source that its read models do not show yet: not read by the connector, or waiting in the topics">{ "behind source" }</dt>
                <dd class={classes!(late(group.behind_source.1).then_some("behind"))}>
                    { lag_text(group.behind_source.0, group.behind_source.1, "changes") }
                </dd>
                <dt>{ "delivered twice" }</dt><dd>{ group.duplicates }</dd>
                if group.slow_per_message > 0 {
                    <dt>{ "slow" }</dt><dd class="behind">{ format!("+{} per message", ms(group.slow_per_message)) }</dd>
                }
                <dt title="how long it waits after a poll that found nothing">{ "polls" }</dt>
                <dd>{ "every " }{ poll_chooser(&group.name, group.poll_interval, on_action) }{ " when idle" }</dd>
                if group.failed_batches > 0 {
                    <dt>{ "failed batches" }</dt><dd class="behind">{ group.failed_batches }</dd>
                }
                if let Some(error) = &group.last_error {
                    <dt>{ "last error" }</dt><dd class="behind">{ error }</dd>
                }
            </dl>
            { lag_chart(group, now) }
            <ul class="read-models">
                { for group.read_models.iter().map(|model| html! {
                    <li title={model.projection.as_ref().map(|p| p.sql.clone())}>
                        <b>{ format!("{}.{}", group.database, model.table) }</b>
                        if let Some(projection) = &model.projection {
                            <span class="projection">{ format!(
                                "projection of {} · {} {}",
                                model.source,
                                projection.rows,
                                if projection.rows == 1 { "row" } else { "rows" }
                            ) }</span>
                            <code class="projection-sql">{ &projection.sql }</code>
                        }
                        <span>{
                            if model.applied == 0 {
                                if model.projection.is_some() {
                                    "computed at the start; no change applied yet".to_owned()
                                } else {
                                    "a copy from the start; no change applied yet".to_owned()
                                }
                            } else {
                                format!(
                                    "{} applied · stale p50 {:.0} ms, p95 {:.0} ms",
                                    model.applied, model.staleness_p50, model.staleness_p95
                                )
                            }
                        }</span>
                    </li>
                }) }
            </ul>
            <div class="pipe-actions">
                if group.state == ConsumerState::Running {
                    <button type="button" class="button subtle small"
                        onclick={command(Command::PauseConsumer { group: name.clone() })}
                        title="Pause: it stops polling; its lag grows">{ "Pause" }</button>
                    <button type="button" class="button subtle small danger"
                        onclick={command(Command::CrashConsumer { group: name.clone() })}
                        title="Crash: a batch in flight is not committed and comes again">{ "Crash" }</button>
                } else {
                    <button type="button" class="button small"
                        onclick={command(Command::ResumeConsumer { group: name.clone() })}
                        title="Resume (a crashed consumer rejoins its group: a rebalance)">{ "Resume" }</button>
                }
                if group.slow_per_message > 0 {
                    <button type="button" class="button small"
                        onclick={command(Command::SlowConsumer { group: name.clone(), per_message_ms: 0.0 })}
                        title="Back to its normal speed">{ "Normal speed" }</button>
                } else {
                    <button type="button" class="button subtle small"
                        onclick={command(Command::SlowConsumer { group: name.clone(), per_message_ms: 5.0 })}
                        title="Make it slow: 5 ms more per message (a slow downstream call); its lag grows when messages come faster than it applies them">{ "Slow down" }</button>
                }
                if group.reads_events {
                    <button type="button" class="button subtle small" disabled=true
                        title="Its event topics start at the first event: the rows the owner had before are in no event, so a replay from offset 0 would lose them (CDC's topics start with a snapshot)">{ "Rebuild" }</button>
                } else {
                    <button type="button" class="button subtle small"
                        onclick={command(Command::RebuildReadModels { group: name.clone() })}
                        title="Empty the read models and replay the topics from offset 0">{ "Rebuild" }</button>
                }
            </div>
        </article>
    }
}

/// A chooser of how often `target` (a connector or a consumer group) polls, which sends
/// [`Command::SetPollInterval`].
fn poll_chooser(target: &str, current: Micros, on_action: &Callback<LiveAction>) -> Html {
    const CHOICES_MS: [u64; 6] = [10, 50, 100, 500, 1_000, 5_000];
    let current_ms = current / 1_000;
    let mut choices = CHOICES_MS.to_vec();
    if !choices.contains(&current_ms) {
        choices.push(current_ms);
        choices.sort_unstable();
    }
    let onchange = {
        let (target, on_action) = (target.to_owned(), on_action.clone());
        Callback::from(move |event: Event| {
            let Some(interval_ms) =
                crate::ui::browser::select_value(&event).and_then(|v| v.parse::<f64>().ok())
            else {
                return;
            };
            on_action.emit(LiveAction::Command(Command::SetPollInterval {
                target: target.clone(),
                interval_ms,
            }));
        })
    };
    html! {
        <select class="poll-chooser" aria-label={format!("{target} polls every")} {onchange}>
            { for choices.into_iter().map(|ms| html! {
                <option value={ms.to_string()} selected={ms == current_ms}>{ format_micros(ms * 1_000) }</option>
            }) }
        </select>
    }
}

/// The group's lag over the last minute: messages as a line, with the table twin.
fn lag_chart(group: &GroupSnapshot, now: Micros) -> Html {
    let (width, height) = (240.0, 48.0);
    let start = now.saturating_sub(LAG_HISTORY);
    // The worst lag of each second, so that polls in between do not draw a comb.
    let mut seconds: Vec<(Micros, u64)> = Vec::new();
    for (at, messages, _) in &group.lag_history {
        let second = at / SECOND;
        match seconds.last_mut() {
            Some((s, worst)) if *s == second => *worst = (*worst).max(*messages),
            _ => seconds.push((second, *messages)),
        }
    }
    let most = seconds.iter().map(|(_, m)| *m).max().unwrap_or(0).max(1);
    let points: Vec<String> = seconds
        .iter()
        .map(|(second, messages)| {
            let at = (second * SECOND + SECOND / 2).min(now);
            let x = (at.saturating_sub(start)) as f64 / LAG_HISTORY as f64 * width;
            let y = height - *messages as f64 / most as f64 * (height - 4.0) - 2.0;
            format!("{x:.1},{y:.1}")
        })
        .collect();
    // The table: the lag at the end of each of the last ten 6-second spans.
    let rows: Vec<(Micros, u64, Micros)> = (0..10)
        .filter_map(|i| {
            let until = now.saturating_sub(i * LAG_HISTORY / 10);
            group
                .lag_history
                .iter()
                .rev()
                .find(|(at, ..)| *at <= until)
                .copied()
        })
        .collect();
    html! {
        <figure class="lag-chart">
            <svg viewBox={format!("0 0 {width} {height}")} preserveAspectRatio="none" role="img"
                aria-label={format!("{}'s lag over the last minute, at most {most} messages", group.name)}>
                <line class="axis" x1="0" y1={height.to_string()} x2={width.to_string()} y2={height.to_string()} />
                <polyline class="lag-line" points={points.join(" ")} />
            </svg>
            <figcaption>{ format!("lag, last 60 s: worst per second (top: {most} {})", if most == 1 { "message" } else { "messages" }) }</figcaption>
            <details class="table-twin">
                <summary>{ "As a table" }</summary>
                <table>
                    <thead><tr><th>{ "at" }</th><th>{ "messages" }</th><th>{ "oldest unread" }</th></tr></thead>
                    <tbody>
                        { for rows.iter().map(|(at, messages, age)| html! {
                            <tr><td>{ ms(*at) }</td><td>{ messages }</td><td>{ ms(*age) }</td></tr>
                        }) }
                    </tbody>
                </table>
            </details>
        </figure>
    }
}
