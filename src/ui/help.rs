//! The "?" help: what each panel shows, what the states, lock modes and labels mean, and the
//! keyboard shortcuts. Closes with Esc, the Close button, or "?" again.

use crate::sim::locks::LockMode;
use crate::sim::view::Health;
use crate::ui::icons::state_badge;
use yew::prelude::*;

/// The dialog's inputs.
#[derive(Properties, PartialEq)]
pub struct HelpProps {
    /// Closes it.
    pub on_close: Callback<MouseEvent>,
}

/// The labels the panels use, explained.
pub const LABELS: &[(&str, &str)] = &[
    (
        "orders #148",
        "Operation (transaction) number 148 of the service orders: every transaction gets a number, so you can follow one through the locks panel and the log.",
    ),
    (
        "(timeline) shop",
        "The client that runs the scenario's timeline SQL and the one-click SQL actions on database shop, as a migration or a report by hand would.",
    ),
    (
        "(console) shop",
        "Your console session on database shop: what you type in the console runs as this client, holding its locks until COMMIT or ROLLBACK.",
    ),
    (
        "root blocker",
        "A transaction that holds a lock others wait for, while it waits for nobody: end it and its queue moves.",
    ),
    (
        "p50 / p95 / p99",
        "Latency percentiles of one second: half the operations were faster than p50, 99 in 100 faster than p99.",
    ),
];

/// The words of the `events` mode, the schema registry and the invariant checker, explained.
pub const EVENT_TERMS: &[(&str, &str)] = &[
    (
        "events mode, domain event",
        "As cdc, a database per service — but the owner publishes declared domain events (OrderPlaced, OrderUpdated: the aggregate's state after the change) instead of its raw table changes. The declaration is a contract: the owner may change its tables; the events stay the same.",
    ),
    (
        "outbox, relay",
        "The owner writes each event into an outbox table in the same transaction as the change (and deletes it again: the log keeps it), so the event exists exactly when the change committed. The relay — Debezium's outbox event router — reads the outbox from the log and publishes each event to outbox.event.<aggregate>, keyed by the aggregate's id, with headers id (the event's id: a reader skips one it applied already) and type.",
    ),
    (
        "polling relay",
        "The naive relay: no log, only SQL. The owner keeps each event in the outbox with published = FALSE; every poll interval the relay runs SELECT … WHERE published = FALSE, publishes what it found and marks it published. Every poll is a query the owner's database pays for, reading an outbox that only grows; an event waits up to a poll interval.",
    ),
    (
        "stranded consumer, upgrade",
        "BACKWARD accepts removing a field that has no default, yet a consumer still reading with the old version cannot decode an event written with the new one: it stops at the first such event (a poison pill — its batch fails, its offsets stay) rather than skip it. Upgrading it (the registry's Upgrade, a new deployment of its code) makes it read with the latest version. Confluent's advice for BACKWARD: upgrade the consumers first.",
    ),
    (
        "dual write",
        "A service commits to its database, then publishes to the log itself: two writes with no transaction around both. A crash between them loses the event; two publishes can overtake each other. What the outbox and CDC exist to replace.",
    ),
    (
        "Avro, wire format, schema id",
        "Events are encoded in Avro's binary form — field values only, no names — behind a magic byte 0 and the 4-byte id of the schema that wrote them, which the registry resolves; so an event is a third the size of the same JSON. The id is global to the registry; the version counts within one subject.",
    ),
    (
        "schema registry, subject, version",
        "The registry keeps each topic's value schemas under the subject <topic>-value, as versions 1, 2, … Each reader decodes with the version it subscribed to: Avro resolves the writer's schema to it (fields it does not know skipped, missing ones taken from defaults).",
    ),
    (
        "BACKWARD, FORWARD, FULL, TRANSITIVE, NONE",
        "What a new version must keep. BACKWARD (the default): the new schema reads the data written with the last one (add fields only with defaults). FORWARD: the last schema reads data written with the new one (remove only fields with defaults). FULL: both. _TRANSITIVE: against every earlier version, not just the last. NONE: no check. An incompatible version is refused, naming the rule, the field and the consumers it would break.",
    ),
    (
        "invariant checker, quiet",
        "Compares every read model with its source, row by row by key: rows missing, extra, or differing. While changes are on their way differences are expected; quiet means nothing is left to arrive (services stopped, every connector and consumer caught up). Quiet and different means damage nothing will repair.",
    ),
    (
        "raw changes",
        "A reader listed with raw_changes keeps reading the owner's raw CDC events of that table, column by column — so a column the owner renames reaches it, and breaks it.",
    ),
];

/// The change-data-capture words the `cdc` mode's panels use, explained.
pub const CDC_TERMS: &[(&str, &str)] = &[
    (
        "shared / owned / etl / cdc",
        "How the services share data. shared: one database, everyone reads and writes it. owned: one database, one writer per table. etl: one operational database, but the analytics services read an analytics database that a batch job refreshes by copying tables every few seconds. cdc: a database per service; the tables it reads but does not own are read models, copies kept up to date from the owner's changes — the same workload, the same seed.",
    ),
    (
        "ETL job, staleness of a copy",
        "Extract, transform, load: a batch job reads the tables on the operational database (a reader like any other: it costs that database core time and takes its locks), then writes the copy into the analytics database in one transaction. The copy's staleness is now minus the start of the last successful copy: nothing committed after that start is in it. Copied incrementally by a growing column, a table gets its new rows but never the updates to rows copied before.",
    ),
    (
        "connector",
        "Reads the committed changes of the owner's database from its write-ahead log (WAL), in commit order, and publishes one event per changed row to a topic — as Debezium's PostgreSQL connector does. Its first start takes a snapshot of the tables (events with op r).",
    ),
    (
        "Compare modes, the scorecard",
        "Runs the scenario again from 0 s in each mode with the same seed, without your own actions, to the current time (at most 60 s), so the differences come from the architecture alone. Its rows: who writes each table, lock waits, errors, each service's latency percentiles, the share of each database's cores in use, each copy's staleness p95 (read model or analytics table), consumer lag, duplicates, what capture missed and cost. \"-\" means the row does not apply to that mode. The trace is a fingerprint of the run: the same seed and mode always give the same one.",
    ),
    (
        "capture method: log, query, trigger",
        "How the connector learns what changed. log: it reads the write-ahead log — every committed change, nothing extra for the writers (why log-based CDC won). query: it polls each table for rows whose updated_at moved past the last value seen — deletes, and the in-between states of a row changed twice between polls, are never seen (missed); every poll is a query the source runs. trigger: a trigger copies every change into an audit table inside the writing transaction — nothing missed, but every write pays for a second insert.",
    ),
    (
        "LSN",
        "Log sequence number: a position in the source database's change log. The connector's position is the next LSN it reads; its lag is how many changes it has not read yet.",
    ),
    (
        "slot, flushed",
        "The replication slot keeps the source's log from the connector's last flushed position on, so nothing is lost while it is stopped or crashed — but the kept log grows. After a crash it resumes from the flushed position and sends again what came after (\"sent again\").",
    ),
    (
        "topic, partition, offset, HW",
        "A topic holds a table's events, split into partitions (P0, P1, …) by the row's key; each event has an offset in its partition. HW, the high watermark, is the offset up to which consumers can read. Compacted: old events of a key are removed once a newer one exists.",
    ),
    (
        "c u d r, tombstone",
        "An event's op: c create (insert), u update, d delete, r read by the snapshot. A tombstone is a key with no value, after a delete: compaction can then drop the key.",
    ),
    (
        "consumer group, lag",
        "The consumer of a service reads the topics of its read models and applies each event with SQL. Its lag: the messages in the topics it has not applied yet. Behind source: changes committed at the source that its read models do not show yet — including those the connector has not read.",
    ),
    (
        "read model, projection",
        "A read model is a table in the reader's own database kept from another service's change events: a copy of the table (all its columns, or those the scenario lists), or a projection — the result of a GROUP BY query (counts, sums, averages per group) kept as a small table that each change updates, so a report reads a few rows instead of grouping every row. The card shows a projection's query; the service's statement that is that query reads it.",
    ),
    (
        "staleness, delivered twice",
        "Staleness: how long after its commit at the source a change is visible in the read model. Delivered twice: events that came again (after a crash) and were skipped, because the read model had them already.",
    ),
];

/// The help dialog.
#[component]
pub fn HelpDialog(props: &HelpProps) -> Html {
    let states = [
        Health::Healthy,
        Health::Slow,
        Health::Waiting,
        Health::Blocking,
        Health::Erroring,
        Health::Idle,
    ];
    html! {
        <div class="help-dialog" role="dialog" aria-modal="false" aria-labelledby="help-title">
            <div class="help-head">
                <h2 id="help-title">{ "How to read this page" }</h2>
                <button type="button" class="button primary small" onclick={props.on_close.clone()}>{ "Close (Esc)" }</button>
            </div>
            <div class="help-body" tabindex="0">
                <section>
                    <h3>{ "The panels" }</h3>
                    <dl>
                        <dt>{ "Topology" }</dt>
                        <dd>{ "Each service (left) and the tables it reads (dashed) or writes (solid) in its database (right). Traffic moves faster as the rate grows; a red edge marked ✕ is SQL that now fails." }</dd>
                        <dt>{ "Latency and throughput" }</dt>
                        <dd>{ "Per service, the last 60 seconds: p50/p95/p99 lines, operations per second as bars (failures stacked in red), and the same numbers in a table." }</dd>
                        <dt>{ "Locks" }</dt>
                        <dd>{ "Per database: how many locks are held and waited for, the lock-wait timeline (who held, who waited and when), the waits-for graph (an arrow from a waiter to whom it waits for), the blocking tree and the locks that matter." }</dd>
                        <dt>{ "Console" }</dt>
                        <dd>{ "SQL you type runs inside the simulation, among the services: BEGIN; UPDATE … holds its locks until you COMMIT, and the services that need them wait." }</dd>
                        <dt>{ "What happened" }</dt>
                        <dd>{ "What happened, in sentences: lock waits with who caused them, deadlocks, failures with the database's error, your actions." }</dd>
                    </dl>
                </section>
                <section>
                    <h3>{ "States" }</h3>
                    <dl class="help-states">
                        { for states.iter().map(|state| html! {
                            <>
                                <dt>{ state_badge(*state) }{ state.label() }</dt>
                                <dd>{ state.explanation() }</dd>
                            </>
                        }) }
                    </dl>
                </section>
                <section>
                    <h3>{ "Labels" }</h3>
                    <dl>
                        { for LABELS.iter().map(|(label, meaning)| html! {
                            <><dt><code>{ *label }</code></dt><dd>{ *meaning }</dd></>
                        }) }
                    </dl>
                </section>
                <section>
                    <h3>{ "Change data capture (the cdc mode)" }</h3>
                    <dl>
                        { for CDC_TERMS.iter().map(|(term, meaning)| html! {
                            <><dt><code>{ *term }</code></dt><dd>{ *meaning }</dd></>
                        }) }
                    </dl>
                </section>
                <section>
                    <h3>{ "Events, the outbox and the schema registry (the events mode)" }</h3>
                    <dl>
                        { for EVENT_TERMS.iter().map(|(term, meaning)| html! {
                            <><dt><code>{ *term }</code></dt><dd>{ *meaning }</dd></>
                        }) }
                    </dl>
                </section>
                <section>
                    <h3>{ "Lock modes (PostgreSQL's)" }</h3>
                    <dl class="help-modes">
                        { for LockMode::all().map(|mode| {
                            let text = mode.explanation();
                            let meaning = text.split_once(": ").map_or(text.clone(), |(_, rest)| rest.to_owned());
                            html! { <><dt><code>{ mode.to_string() }</code></dt><dd>{ meaning }</dd></> }
                        }) }
                    </dl>
                </section>
                <section>
                    <h3>{ "Keyboard" }</h3>
                    <dl class="help-keys">
                        <dt><kbd>{ "Space" }</kbd></dt><dd>{ "play / pause" }</dd>
                        <dt><kbd>{ "→" }</kbd></dt><dd>{ "next event" }</dd>
                        <dt><kbd>{ "←" }</kbd></dt><dd>{ "back 100 ms (replays from the seed); in a script, take back one step" }</dd>
                        <dt><kbd>{ "R" }</kbd></dt><dd>{ "reset to 0 s" }</dd>
                        <dt><kbd>{ "N" }</kbd></dt><dd>{ "next step of a script" }</dd>
                        <dt><kbd>{ "?" }</kbd></dt><dd>{ "this help" }</dd>
                        <dt><kbd>{ "Esc" }</kbd></dt><dd>{ "close this help" }</dd>
                    </dl>
                </section>
            </div>
        </div>
    }
}
