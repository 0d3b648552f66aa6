//! The locks panel, per database: who waits (mode, resource, statement, for how long), the
//! blocking tree with root blockers first, and the locks held that someone waits for.

use crate::layout;
use crate::sim::clock::format_micros;
use crate::sim::lock_plan::Isolation;
use crate::sim::locks::LockMode;
use crate::sim::view::clock_text;
use crate::sim::world::{LockLine, LockView};
use crate::ui::live::LiveAction;
use crate::ui::ViewRef;
use yew::prelude::*;

/// The panel's inputs.
#[derive(Properties, PartialEq)]
pub struct LocksPanelProps {
    /// What to draw.
    pub view: ViewRef,
    /// Where actions go (the isolation level chooser).
    pub on_action: Callback<LiveAction>,
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
    let class = classes!(waiting.then_some("waiting"));
    html! {
        <>
            <tr class={class.clone()}>
                <td class="who" title={label_meaning(&line.who)}>{ service_of(&line.who) }<span class="op-id">{ line.who.strip_prefix(service_of(&line.who)).unwrap_or_default() }</span></td>
                <td class="mode" title={LockMode::from_name(&line.mode).map(LockMode::explanation).unwrap_or_default()}>{ &line.mode }</td>
                <td class="resource">{ &line.resource }</td>
                <td class="age">{ if waiting { format!("waiting {age}") } else { format!("held {age}") } }</td>
            </tr>
            if let Some(statement) = &line.statement {
                // The whole statement, on a line of its own under its lock.
                <tr class={classes!(class, "lock-sql-row")}>
                    <td class="lock-sql" colspan="4"><code>{ statement }</code></td>
                </tr>
            }
        </>
    }
}

/// The waits-for graph: an arrow from each waiter to whom it waits for, laid out in layers with
/// the root blockers on top ([`crate::layout`]); the last deadlock's cycle drawn in red (it is
/// broken the moment it is found: its victim is aborted).
fn waits_for_graph(database: &str, locks: &LockView) -> Html {
    let cycle: Vec<String> = locks
        .last_deadlock
        .as_ref()
        .map(|(_, c)| c.clone())
        .unwrap_or_default();
    // Root blockers first, then the waiters in queue order.
    let mut names: Vec<String> = cycle.clone();
    let roots = locks.root_blockers.iter().map(|(root, _)| root);
    let others = locks
        .waits_for
        .iter()
        .flat_map(|(waiter, blocker)| [blocker, waiter]);
    for name in roots.chain(others) {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    if names.is_empty() {
        return Html::default();
    }
    let cycle_edges: Vec<(String, String)> = cycle
        .iter()
        .enumerate()
        .filter_map(|(i, name)| Some((name.clone(), cycle.get((i + 1) % cycle.len())?.clone())))
        .filter(|_| cycle.len() > 1)
        .collect();
    let mut edges = locks.waits_for.clone();
    edges.extend(cycle_edges.iter().cloned());
    let layout = layout::layered(&names, &edges);
    let arrow = |waiter: &str, blocker: &str, class: &'static str| -> Option<Html> {
        let (from, to) = (layout.node(waiter)?, layout.node(blocker)?);
        // Two arrows between the same boxes (a cycle of two) are drawn side by side.
        let reverse = edges.iter().any(|(w, b)| w == blocker && b == waiter);
        let (dx, dy) = (to.x - from.x, to.y - from.y);
        let length = (dx * dx + dy * dy).sqrt().max(1.0);
        let shift = if reverse { 5.0 } else { 0.0 };
        let (ox, oy) = (-dy / length * shift, dx / length * shift);
        let (x1, y1) = from.border_towards(to.x + ox, to.y + oy);
        let (x2, y2) = to.border_towards(from.x + ox, from.y + oy);
        Some(html! {
            <line class={classes!("wf-edge", class)} x1={format!("{:.1}", x1 + ox)} y1={format!("{:.1}", y1 + oy)}
                x2={format!("{:.1}", x2 + ox)} y2={format!("{:.1}", y2 + oy)}
                marker-end={format!("url(#wf-arrow-{class}-{database})")} />
        })
    };
    let wait_arrows = locks
        .waits_for
        .iter()
        .filter_map(|(waiter, blocker)| arrow(waiter, blocker, "wait"));
    let cycle_arrows = cycle_edges
        .iter()
        .filter_map(|(waiter, blocker)| arrow(waiter, blocker, "cycle"));
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
        None => format!(
            "{} waiting for others; arrows point from a waiter to whom it waits for, root blockers on top.",
            locks.waits_for.len()
        ),
    };
    html! {
        <figure class={classes!("waits-for", (!cycle.is_empty()).then_some("has-cycle"))}>
            <svg viewBox={format!("0 0 {:.0} {:.0}", layout.width, layout.height)}
                style={format!("max-width: {:.0}px", layout.width * 1.15)}
                role="img" aria-label={format!("Waits-for graph: {caption}")}>
                <defs>
                    { for ["wait", "cycle"].iter().map(|class| html! {
                        <marker id={format!("wf-arrow-{class}-{database}")} class={classes!("wf-head", *class)}
                            viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                            <path d="M0,0 L10,5 L0,10 z" />
                        </marker>
                    }) }
                </defs>
                { for wait_arrows }
                { for cycle_arrows }
                { for layout.nodes.iter().map(|node| {
                    let in_cycle = cycle.contains(&node.label);
                    let victim = cycle.first().is_some_and(|c| *c == node.label);
                    let root = locks.root_blockers.iter().any(|(r, _)| *r == node.label);
                    html! {
                        <g class={classes!("wf-node", in_cycle.then_some("in-cycle"), victim.then_some("victim"),
                                root.then_some("root"), node.more.then_some("more"))}
                            transform={format!("translate({:.1},{:.1})", node.x, node.y)}>
                            <title>{ label_meaning(&node.label) }</title>
                            <rect x={format!("{:.1}", -node.w / 2.0)} y={format!("{:.1}", -layout::BOX_H / 2.0)}
                                width={format!("{:.1}", node.w)} height={layout::BOX_H.to_string()} rx="12" />
                            <text text-anchor="middle" dy="4">{ &node.label }</text>
                        </g>
                    }
                }) }
            </svg>
            <figcaption>{ caption }</figcaption>
        </figure>
    }
}

/// What a transaction's label means, for its tooltip.
fn label_meaning(label: &str) -> String {
    if let Some(rest) = label.strip_prefix("(timeline) ") {
        let (database, number) = rest.split_once(" #").unwrap_or((rest, ""));
        format!(
            "{label}: the client that runs the scenario's timeline SQL and one-click actions on {database}{}",
            if number.is_empty() { String::new() } else { format!(", transaction #{number}") }
        )
    } else if let Some(rest) = label.strip_prefix("(console) ") {
        format!("{label}: your console session on {rest}")
    } else if let Some((service, number)) = label.rsplit_once(" #") {
        format!("{label}: transaction number {number} of the service {service}")
    } else if label.ends_with(" more") {
        format!("{label} waiting, not drawn")
    } else {
        label.to_owned()
    }
}

/// The lock-wait timeline: a bar per transaction over the last seconds — the span it held
/// locks, and its waits in a distinct colour and pattern.
fn gantt(view: &crate::sim::view::PageView) -> Html {
    if view.lock_timeline.is_empty() {
        return Html::default();
    }
    let (left, width, row_h) = (130.0_f64, 290.0_f64, 20.0_f64);
    let (from, to) = view.timeline_window;
    let span = to.saturating_sub(from).max(1_000) as f64;
    let x = |t: u64| left + t.saturating_sub(from).min(to - from) as f64 / span * width;
    let height = row_h * view.lock_timeline.len() as f64 + 22.0;
    let start_label = if from == 0 {
        "0 s".to_owned()
    } else {
        format!("{} (−5 s)", clock_text(from))
    };
    html! {
        <figure class="gantt">
            <svg viewBox={format!("0 0 {} {height:.0}", left + width + 6.0)} role="img"
                aria-label={format!("Lock-wait timeline from {} to now ({}): which transactions held locks and when they waited", clock_text(from), clock_text(to))}>
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
                        <g class={classes!("gantt-row", row.waits.is_empty().then_some("holder"))}>
                            <title>{ format!("{}: {}", label_meaning(&row.who), if waits_text.is_empty() { "held locks others waited for".to_owned() } else { waits_text.join("; ") }) }</title>
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
                <text class="tick" x={left.to_string()} y={(height - 4.0).to_string()}>{ start_label }</text>
                <text class="tick" x={(left + width).to_string()} y={(height - 4.0).to_string()} text-anchor="end">{ format!("now ({})", clock_text(to)) }</text>
            </svg>
            <figcaption class="gantt-legend">
                <span><i class="swatch held"></i>{ "holding locks" }</span>
                <span><i class="swatch wait"></i>{ "waiting for a lock" }</span>
            </figcaption>
        </figure>
    }
}

fn shorten_long(name: &str) -> String {
    if name.chars().count() <= 20 {
        return name.to_owned();
    }
    // Keep the transaction's number: it is how a row is found in the other views.
    match name.rsplit_once(" #") {
        Some((who, number)) if number.len() < 8 => {
            let room = 20 - number.len() - 2;
            format!("{}…#{number}", who.chars().take(room).collect::<String>())
        }
        _ => format!("{}…", name.chars().take(19).collect::<String>()),
    }
}

/// The locks panel.
#[component]
pub fn LocksPanel(props: &LocksPanelProps) -> Html {
    let view = &props.view.0;
    let on_isolation = |database: String| {
        let on_action = props.on_action.clone();
        Callback::from(move |event: Event| {
            let level = crate::ui::browser::select_value(&event)
                .and_then(|value| Isolation::from_name(&value));
            if let Some(isolation) = level {
                on_action.emit(LiveAction::SetIsolation {
                    database: database.clone(),
                    isolation,
                });
            }
        })
    };
    html! {
        <div class="locks">
            if !view.lock_timeline.is_empty() {
                <div class="lock-timeline">
                    <h3>{ if view.now >= crate::sim::view::TIMELINE_SPAN { "Lock waits, the last 5 s" } else { "Lock waits since 0 s" } }</h3>
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
                            <label class="isolation-choice" title={
                                if db.spec == db.name {
                                    db.isolation.explanation().to_owned()
                                } else {
                                    format!("{} Every service's database is made from {}: choosing here changes them all.", db.isolation.explanation(), db.spec)
                                }
                            }>
                                <span>{ "isolation" }</span>
                                <select onchange={on_isolation(db.spec.clone())} aria-label={format!("Isolation level of {}", db.name)}>
                                    { for Isolation::ALL.iter().map(|level| html! {
                                        <option value={level.name()} selected={*level == db.isolation}
                                            title={level.explanation()}>{ level.label() }</option>
                                    }) }
                                </select>
                            </label>
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
                        if db.isolation == Isolation::Serializable || db.ssi.stats.conflicts > 0 {
                            <p class="ssi-line" title="Serializable snapshot isolation: every read leaves a SIREAD lock (here on the whole table, as PostgreSQL's sequential scans do); a write that meets another transaction's SIREAD lock is a read/write dependency, and when dependencies could form a cycle one transaction fails with 40001 instead of anybody waiting. In this simulator each statement runs in the engine at one instant, so transactions of a single statement never overlap one another and leave no SIREAD lock behind: the locks and dependencies counted here are those of multi-statement transactions (and of the console).">
                                <span class="count">{ "SIREAD locks: " }
                                    {
                                        if db.ssi.siread.is_empty() {
                                            "none".to_owned()
                                        } else {
                                            db.ssi.siread.iter().map(|(t, n)| format!("{t} ×{n}")).collect::<Vec<_>>().join(", ")
                                        }
                                    }
                                </span>
                                <span class="count"><b>{ db.ssi.stats.conflicts }</b>{ if db.ssi.stats.conflicts == 1 { " rw-dependency" } else { " rw-dependencies" } }</span>
                                <span class={classes!("count", (db.ssi.stats.aborts > 0).then_some("alert"))}>
                                    <b class="ssi-aborts">{ db.ssi.stats.aborts }</b>{ " aborted by SSI (40001)" }
                                </span>
                            </p>
                        }
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
                            <div class="table-scroll" tabindex="0" role="region" aria-label="Locks held and awaited">
                                <table class="lock-table">
                                    <thead><tr>
                                        <th scope="col">{ "who" }</th>
                                        <th scope="col">{ "mode" }</th>
                                        <th scope="col">{ "on" }</th>
                                        <th scope="col">{ "for" }</th>
                                    </tr></thead>
                                    <tbody>
                                        { for holding_up.iter().take(ROWS).map(|h| row(h, view.now, false)) }
                                        { for locks.waiting.iter().take(ROWS).map(|w| row(w, view.now, true)) }
                                    </tbody>
                                </table>
                                if holding_up.len() > ROWS {
                                    <p class="more">{ format!("… and {} more locks held that others wait for", holding_up.len() - ROWS) }</p>
                                }
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
