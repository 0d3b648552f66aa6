//! The locks panel, per database: who waits (mode, resource, statement, for how long), the
//! blocking tree with root blockers first, and the locks held that someone waits for.

use crate::sim::clock::format_micros;
use crate::sim::world::{LockLine, LockView};
use crate::ui::ViewRef;
use yew::prelude::*;

/// The panel's inputs.
#[derive(Properties, PartialEq)]
pub struct LocksPanelProps {
    /// What to draw.
    pub view: ViewRef,
}

const ROWS: usize = 8;

fn service_of(who: &str) -> &str {
    who.split(" #").next().unwrap_or(who)
}

/// The waiters of `who`, as a nested list (a blocking tree), depth-limited.
fn tree(locks: &LockView, who: &str, depth: usize) -> Html {
    let waiters: Vec<&String> = locks
        .waits_for
        .iter()
        .filter(|(_, blocker)| blocker == who)
        .map(|(waiter, _)| waiter)
        .collect();
    if waiters.is_empty() || depth > 3 {
        return Html::default();
    }
    let shown = waiters.len().min(ROWS);
    html! {
        <ul>
            { for waiters[..shown].iter().map(|waiter| html! {
                <li>
                    <span class="who waiter">{ waiter.as_str() }</span>
                    { tree(locks, waiter, depth + 1) }
                </li>
            }) }
            if waiters.len() > shown {
                <li class="more">{ format!("… and {} more", waiters.len() - shown) }</li>
            }
        </ul>
    }
}

fn row(line: &LockLine, now: u64, waiting: bool) -> Html {
    let age = format_micros(now.saturating_sub(line.since));
    html! {
        <tr class={classes!(waiting.then_some("waiting"))}>
            <td class="who">{ service_of(&line.who) }<span class="op-id">{ line.who.strip_prefix(service_of(&line.who)).unwrap_or_default() }</span></td>
            <td class="mode">{ &line.mode }</td>
            <td class="resource">{ &line.resource }</td>
            <td class="age">{ if waiting { format!("waiting {age}") } else { format!("held {age}") } }</td>
            <td class="lock-sql" title={line.statement.clone().unwrap_or_default()}>
                <code>{ line.statement.clone().unwrap_or_default() }</code>
            </td>
        </tr>
    }
}

/// The locks panel.
#[component]
pub fn LocksPanel(props: &LocksPanelProps) -> Html {
    let view = &props.view.0;
    html! {
        <div class="locks">
            { for view.databases.iter().map(|db| {
                let locks = &db.locks;
                let blockers: Vec<&str> = locks.waits_for.iter().map(|(_, b)| b.as_str()).collect();
                let holding_up: Vec<&LockLine> = locks
                    .held
                    .iter()
                    .filter(|h| blockers.contains(&h.who.as_str()))
                    .collect();
                html! {
                    <div class="lock-db" data-database={db.name.clone()}>
                        <h3>
                            { &db.name }
                            <span class="isolation">{ format!("{:?}", db.isolation).to_lowercase() }</span>
                        </h3>
                        <p class="lock-counts">
                            <span class="count"><b class="held-count">{ locks.held.len() }</b>{ " held" }</span>
                            <span class={classes!("count", (!locks.waiting.is_empty()).then_some("alert"))}>
                                <b class="waiting-count">{ locks.waiting.len() }</b>{ " waiting" }
                            </span>
                            <span class={classes!("count", (locks.deadlocks > 0).then_some("alert"))}>
                                <b class="deadlock-count">{ locks.deadlocks }</b>{ " deadlocks" }
                            </span>
                        </p>
                        if locks.root_blockers.is_empty() {
                            <p class="quiet">{ "Nobody waits for a lock." }</p>
                        } else {
                            <div class="blocking-tree">
                                <h4>{ "Blocking tree" }</h4>
                                <ul>
                                    { for locks.root_blockers.iter().take(ROWS).map(|(root, count)| html! {
                                        <li>
                                            <span class="who root">{ root.as_str() }</span>
                                            <span class="blocks">{ format!(" blocks {count}") }</span>
                                            { tree(locks, root, 0) }
                                        </li>
                                    }) }
                                </ul>
                            </div>
                        }
                        if !locks.waiting.is_empty() || !holding_up.is_empty() {
                            <div class="table-scroll">
                                <table class="lock-table">
                                    <thead><tr>
                                        <th scope="col">{ "who" }</th>
                                        <th scope="col">{ "mode" }</th>
                                        <th scope="col">{ "on" }</th>
                                        <th scope="col">{ "for" }</th>
                                        <th scope="col">{ "statement" }</th>
                                    </tr></thead>
                                    <tbody>
                                        { for holding_up.iter().take(ROWS).map(|h| row(h, view.now, false)) }
                                        { for locks.waiting.iter().take(ROWS).map(|w| row(w, view.now, true)) }
                                    </tbody>
                                </table>
                                if locks.waiting.len() > ROWS {
                                    <p class="more">{ format!("… and {} more waiting", locks.waiting.len() - ROWS) }</p>
                                }
                            </div>
                        }
                    </div>
                }
            }) }
        </div>
    }
}
