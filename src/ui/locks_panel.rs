//! The locks panel, per database: who waits (mode, resource, statement, for how long), the
//! blocking tree with root blockers first, and the locks held that someone waits for.

use crate::sim::clock::format_micros;
use crate::sim::view::clock_text;
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

const GRAPH_NODES: usize = 10;

/// The waits-for graph: an arrow from each waiter to whom it waits for; the last deadlock's
/// cycle drawn in red (it is broken the moment it is found: its victim is aborted).
fn waits_for_graph(database: &str, locks: &LockView) -> Html {
    let cycle: Vec<String> = locks
        .last_deadlock
        .as_ref()
        .map(|(_, c)| c.clone())
        .unwrap_or_default();
    let mut names: Vec<&str> = cycle.iter().map(String::as_str).collect();
    for (waiter, blocker) in &locks.waits_for {
        for name in [waiter.as_str(), blocker.as_str()] {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    if names.is_empty() {
        return Html::default();
    }
    let hidden = names.len().saturating_sub(GRAPH_NODES);
    names.truncate(GRAPH_NODES);
    let (cx, cy, r) = (150.0_f64, 92.0_f64, 62.0_f64);
    let place = |i: usize| {
        let angle = std::f64::consts::TAU * i as f64 / names.len().max(1) as f64
            - std::f64::consts::FRAC_PI_2;
        (cx + r * angle.cos() * 1.6, cy + r * angle.sin())
    };
    let at = |name: &str| names.iter().position(|n| *n == name).map(place);
    let arrow = |from: (f64, f64), to: (f64, f64), class: &'static str| {
        // Stop short of the node's label box.
        let (dx, dy) = (to.0 - from.0, to.1 - from.1);
        let length = (dx * dx + dy * dy).sqrt().max(1.0);
        let (ux, uy) = (dx / length, dy / length);
        let (x1, y1) = (from.0 + ux * 30.0, from.1 + uy * 14.0);
        let (x2, y2) = (to.0 - ux * 34.0, to.1 - uy * 15.0);
        html! {
            <line class={classes!("wf-edge", class)} x1={format!("{x1:.1}")} y1={format!("{y1:.1}")}
                x2={format!("{x2:.1}")} y2={format!("{y2:.1}")}
                marker-end={format!("url(#wf-arrow-{class}-{database})")} />
        }
    };
    let cycle_edges = cycle.iter().enumerate().filter_map(|(i, name)| {
        let next = cycle.get((i + 1) % cycle.len())?;
        Some(arrow(at(name)?, at(next)?, "cycle"))
    });
    let edges = locks
        .waits_for
        .iter()
        .filter_map(|(waiter, blocker)| Some(arrow(at(waiter)?, at(blocker)?, "wait")));
    let caption = match &locks.last_deadlock {
        Some((when, cycle)) => format!(
            "Deadlock found at {}: {} — {} was aborted.",
            clock_text(*when),
            cycle
                .iter()
                .chain(cycle.first())
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" waits for "),
            cycle.first().map_or("", String::as_str)
        ),
        None => format!("{} waiting for others", locks.waits_for.len()),
    };
    html! {
        <figure class={classes!("waits-for", (!cycle.is_empty()).then_some("has-cycle"))}>
            <svg viewBox="0 0 300 184" role="img" aria-label={format!("Waits-for graph: {caption}")}>
                <defs>
                    { for ["wait", "cycle"].iter().map(|class| html! {
                        <marker id={format!("wf-arrow-{class}-{database}")} class={classes!("wf-head", *class)}
                            viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                            <path d="M0,0 L10,5 L0,10 z" />
                        </marker>
                    }) }
                </defs>
                { for edges }
                { for cycle_edges }
                { for names.iter().enumerate().map(|(i, name)| {
                    let (x, y) = place(i);
                    let in_cycle = cycle.iter().any(|c| c == name);
                    let victim = cycle.first().is_some_and(|c| c == name);
                    html! {
                        <g class={classes!("wf-node", in_cycle.then_some("in-cycle"), victim.then_some("victim"))}
                            transform={format!("translate({x:.1},{y:.1})")}>
                            <rect x="-40" y="-12" width="80" height="24" rx="12" />
                            <text text-anchor="middle" dy="4">{ shorten(name) }</text>
                        </g>
                    }
                }) }
            </svg>
            <figcaption>
                { caption }
                if hidden > 0 { { format!(" (+{hidden} more not drawn)") } }
            </figcaption>
        </figure>
    }
}

/// The lock-wait timeline: a bar per transaction over the last seconds — the span it held
/// locks, and its waits in a distinct colour and pattern.
fn gantt(view: &crate::sim::view::PageView) -> Html {
    use crate::sim::view::TIMELINE_SPAN;
    if view.lock_timeline.is_empty() {
        return Html::default();
    }
    let (left, width, row_h) = (110.0_f64, 300.0_f64, 20.0_f64);
    let from = view.now.saturating_sub(TIMELINE_SPAN);
    let x = |t: u64| left + (t.saturating_sub(from)) as f64 / TIMELINE_SPAN as f64 * width;
    let height = row_h * view.lock_timeline.len() as f64 + 22.0;
    html! {
        <figure class="gantt">
            <svg viewBox={format!("0 0 {} {height:.0}", left + width + 6.0)} role="img"
                aria-label="Lock-wait timeline of the last five seconds: which transactions held locks and when they waited">
                <defs>
                    <pattern id="gantt-wait" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
                        <rect width="6" height="6" class="wait-fill" />
                        <line x1="0" y1="0" x2="0" y2="6" class="wait-stripe" />
                    </pattern>
                </defs>
                { for view.lock_timeline.iter().enumerate().map(|(i, row)| {
                    let y = i as f64 * row_h;
                    let held_end = row.held.1.unwrap_or(view.now);
                    let waits_text: Vec<String> = row.waits.iter().map(|(start, end, what)| format!(
                        "waited {} for {what}", format_micros(end.unwrap_or(view.now).saturating_sub(*start)))).collect();
                    html! {
                        <g class="gantt-row">
                            <title>{ format!("{}: {}", row.who, if waits_text.is_empty() { "held locks others waited for".to_owned() } else { waits_text.join("; ") }) }</title>
                            <text class="gantt-label" x={(left - 6.0).to_string()} y={format!("{:.1}", y + 14.0)} text-anchor="end">{ shorten_long(&row.who) }</text>
                            <rect class="gantt-held" x={format!("{:.1}", x(row.held.0))} y={format!("{:.1}", y + 4.0)}
                                width={format!("{:.1}", (x(held_end) - x(row.held.0)).max(1.5))} height="12" rx="2" />
                            { for row.waits.iter().map(|(start, end, _)| {
                                let start = (*start).max(from);
                                let end = end.unwrap_or(view.now);
                                html! {
                                    <rect class="gantt-wait" x={format!("{:.1}", x(start))} y={format!("{:.1}", y + 4.0)}
                                        width={format!("{:.1}", (x(end) - x(start)).max(1.5))} height="12" rx="2" />
                                }
                            }) }
                        </g>
                    }
                }) }
                <text class="tick" x={left.to_string()} y={(height - 4.0).to_string()}>{ "−5 s" }</text>
                <text class="tick" x={(left + width).to_string()} y={(height - 4.0).to_string()} text-anchor="end">{ "now" }</text>
            </svg>
            <figcaption class="gantt-legend">
                <span><i class="swatch held"></i>{ "holding locks" }</span>
                <span><i class="swatch wait"></i>{ "waiting for a lock" }</span>
            </figcaption>
        </figure>
    }
}

fn shorten_long(name: &str) -> String {
    if name.chars().count() <= 16 {
        name.to_owned()
    } else {
        format!("{}…", name.chars().take(15).collect::<String>())
    }
}

/// A graph node's label: at most 12 characters, keeping an operation's number ("storefr…#149").
fn shorten(name: &str) -> String {
    if name.chars().count() <= 12 {
        return name.to_owned();
    }
    match name.rsplit_once(" #") {
        Some((service, number)) if number.len() < 8 => {
            let room = 12 - number.len() - 2;
            format!(
                "{}…#{number}",
                service.chars().take(room).collect::<String>()
            )
        }
        _ => format!("{}…", name.chars().take(11).collect::<String>()),
    }
}

/// The locks panel.
#[component]
pub fn LocksPanel(props: &LocksPanelProps) -> Html {
    let view = &props.view.0;
    html! {
        <div class="locks">
            if !view.lock_timeline.is_empty() {
                <div class="lock-timeline">
                    <h3>{ "Lock waits, last 5 s" }</h3>
                    { gantt(view) }
                </div>
            }
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
                        { waits_for_graph(&db.name, locks) }
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
