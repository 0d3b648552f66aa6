//! The topology: services on the left, databases with their tables on the right, an edge for
//! every service that reads or writes a table. Traffic moves along the edges at a speed that
//! follows the rate (one animated dash pattern per edge, not one sprite per statement); a
//! node's colour *and* its badge's symbol and label show its state; a broken edge (its SQL now
//! fails) is red, marked ✕, and focusable, with the error in its tooltip. In the `cdc` and
//! `etl` modes the pipeline is drawn too: a flow from each source table to its copy in another
//! database (change data capture, or the ETL job), coloured by its state.

use crate::sim::view::{FlowKind, Health, PageView};
use crate::ui::icons::{health_class, state_badge, state_symbol};
use crate::ui::ViewRef;
use yew::prelude::*;

const SERVICE_X: f64 = 10.0;
const SERVICE_H: f64 = 70.0;
const DB_HEAD: f64 = 72.0;
const ROW_H: f64 = 28.0;
const GAP: f64 = 18.0;
/// Room right of the databases for the flows of a pipeline or an ETL job.
const FLOW_ROOM: f64 = 84.0;
/// A service whose link to its database takes at least this long (ms) shows its round trip.
const FAR_RTT_MS: f64 = 2.0;

/// Where the two columns go. A wide screen gives the edges room to curve; on a phone the
/// columns are narrower and closer, so the whole picture fits the screen at a readable size.
#[derive(Clone, Copy)]
struct Geometry {
    service_w: f64,
    db_x: f64,
    db_w: f64,
    width: f64,
}

impl Geometry {
    const WIDE: Self = Self {
        service_w: 210.0,
        db_x: 470.0,
        db_w: 230.0,
        width: 716.0,
    };
    const NARROW: Self = Self {
        service_w: 160.0,
        db_x: 206.0,
        db_w: 196.0,
        width: 412.0,
    };
}

/// Below this width of its panel (CSS px) the topology uses its narrow layout: the wide one
/// would be scaled down to unreadable text (a phone, a projector's half screen).
const NARROW_BELOW: i32 = 560;

/// Whether the element the topology is drawn in is narrow (`None`: not laid out).
fn is_narrow(figure: &web_sys::Element) -> Option<bool> {
    let width = figure.client_width();
    (width > 0).then_some(width < NARROW_BELOW)
}

/// The topology's inputs.
#[derive(Properties, PartialEq)]
pub struct TopologyProps {
    /// What to draw.
    pub view: ViewRef,
    /// The legend folded under "Key" (an embed, where height is short).
    #[prop_or_default]
    pub compact: bool,
}

struct DbBox {
    name: String,
    y: f64,
    tables: Vec<String>,
}

/// How fast the traffic animation moves for a rate (a few classes, so rates do not jitter it).
fn flow_class(rate: f64) -> &'static str {
    match rate {
        r if r <= 0.0 => "flow-none",
        r if r < 5.0 => "flow-slow",
        r if r < 50.0 => "flow-medium",
        _ => "flow-fast",
    }
}

/// The topology view.
#[component]
pub fn Topology(props: &TopologyProps) -> Html {
    let view: &PageView = &props.view.0;
    let figure = use_node_ref();
    let narrow = use_state_eq(|| false);
    {
        // Measured whenever the panel's size changes (present mode, a new layout, the window),
        // when the browser has laid it out: measuring after each render would force a layout
        // in every frame that draws.
        let (narrow, figure) = (narrow.clone(), figure.clone());
        use_effect_with((), move |_| {
            let watcher = figure.cast::<web_sys::Element>().map(|figure| {
                crate::ui::browser::SizeWatcher::new(figure, move |figure| {
                    if let Some(value) = is_narrow(figure) {
                        narrow.set(value);
                    }
                })
            });
            move || drop(watcher)
        });
    }
    let geometry = if *narrow {
        Geometry::NARROW
    } else {
        Geometry::WIDE
    };
    let Geometry {
        service_w,
        db_x,
        db_w,
        width,
    } = geometry;
    // Room on the right for the pipeline's flows between the databases.
    let width = if view.flows.is_empty() {
        width
    } else {
        width + FLOW_ROOM
    };
    let services: Vec<_> = view.services.iter().collect();
    let mut y = GAP;
    let mut dbs: Vec<DbBox> = Vec::new();
    for database in &view.databases {
        let flow_tables = view.flows.iter().flat_map(|f| [&f.from, &f.to]);
        let mut tables: Vec<String> = view
            .edges
            .iter()
            .filter(|e| e.database == database.name)
            .map(|e| e.table.clone())
            .chain(
                flow_tables
                    .filter(|(db, _)| *db == database.name)
                    .map(|(_, t)| t.clone()),
            )
            .collect();
        tables.sort();
        tables.dedup();
        let height = DB_HEAD + ROW_H * tables.len() as f64 + 8.0;
        dbs.push(DbBox {
            name: database.name.clone(),
            y,
            tables,
        });
        y += height + GAP;
    }
    let services_height = GAP + services.len() as f64 * (SERVICE_H + GAP);
    let height = y.max(services_height).max(160.0);
    // Centre the shorter column.
    let service_offset = ((height - services_height) / 2.0).max(0.0);
    let service_y = |i: usize| service_offset + GAP + i as f64 * (SERVICE_H + GAP);

    let edges = view.edges.iter().filter_map(|edge| {
        let index = services.iter().position(|s| s.name == edge.service)?;
        let db = dbs.iter().find(|d| d.name == edge.database)?;
        let row = db.tables.iter().position(|t| *t == edge.table)?;
        let (x1, y1) = (SERVICE_X + service_w, service_y(index) + SERVICE_H / 2.0);
        let (x2, y2) = (db_x, db.y + DB_HEAD + ROW_H * row as f64 + ROW_H / 2.0);
        let mid = (x1 + x2) / 2.0;
        let path = format!("M{x1:.1},{y1:.1} C{mid:.1},{y1:.1} {mid:.1},{y2:.1} {x2:.1},{y2:.1}");
        let verb = match (edge.reads, edge.writes) {
            (true, true) => "reads and writes",
            (false, true) => "writes",
            _ => "reads",
        };
        let label = match &edge.broken {
            Some((message, sql)) => format!(
                "{} → {}.{}: broken — {message} (in: {sql})",
                edge.service, edge.database, edge.table
            ),
            None => format!(
                "{} {verb} {}.{} — {:.0} operations/s",
                edge.service, edge.database, edge.table, edge.rate_per_s
            ),
        };
        let kind = if edge.writes { "writes" } else { "reads" };
        let broken = edge.broken.is_some();
        let class = classes!("edge", kind, broken.then_some("broken"));
        let flow = classes!("flow", kind, flow_class(if broken { 0.0 } else { edge.rate_per_s }));
        Some(html! {
            <g class={class} tabindex={broken.then_some("0")} role="img" aria-label={label.clone()}>
                <title>{ label }</title>
                <path class="edge-line" d={path.clone()} />
                <path class={flow} d={path} />
                if broken {
                    <g class="break-mark" transform={format!("translate({mid:.1},{:.1})", (y1 + y2) / 2.0)}>
                        <circle r="10" />
                        { state_symbol(Health::Erroring) }
                    </g>
                }
            </g>
        })
    });

    // The pipeline: each flow leaves its source table's row on the right, bulges out and comes
    // back into its copy's row, with an arrow; further flows bulge further, so none hide.
    let row_y = |database: &str, table: &str| {
        let db = dbs.iter().find(|d| d.name == database)?;
        let row = db.tables.iter().position(|t| t == table)?;
        Some(db.y + DB_HEAD + ROW_H * row as f64 + ROW_H / 2.0)
    };
    let flows = view.flows.iter().enumerate().filter_map(|(i, flow)| {
        let (y1, y2) = (row_y(&flow.from.0, &flow.from.1)?, row_y(&flow.to.0, &flow.to.1)?);
        let x = db_x + db_w;
        let bulge = x + 16.0 + (i % 5) as f64 * 14.0;
        let path = format!("M{x:.1},{y1:.1} C{bulge:.1},{y1:.1} {bulge:.1},{y2:.1} {:.1},{y2:.1}", x + 4.0);
        let kind = match flow.kind {
            FlowKind::Cdc => "cdc",
            FlowKind::Etl => "etl",
        };
        let moving = matches!(flow.health, Health::Healthy | Health::Waiting);
        Some(html! {
            <g class={classes!("pipeline-flow", kind, health_class(flow.health))} role="img" aria-label={flow.label.clone()}>
                <title>{ flow.label.clone() }</title>
                <path class="flow-line" d={path.clone()} marker-end="url(#flow-arrow)" />
                <path class={classes!("flow", kind, if moving { "flow-slow" } else { "flow-none" })} d={path} />
            </g>
        })
    });

    let service_nodes = services.iter().enumerate().map(|(i, s)| {
        let y = service_y(i);
        let word = s.health.label();
        let state = if s.paused { "paused" } else { word };
        let line = match s.recent_p99_ms {
            Some(recent) if s.throughput_per_s == 0.0 => {
                format!("0/s · last p99 {}", format_ms(recent))
            }
            _ => format!(
                "{:.0}/s · p99 {} ",
                s.throughput_per_s,
                format_ms(s.latency_ms.p99)
            ),
        };
        let label = format!(
            "Service {}: {state} ({}) {:.0} operations per second; p99 latency {}; {} of {} connections busy; {} waiting for locks; {} round trip to {}",
            s.name,
            s.health.explanation(),
            s.throughput_per_s,
            format_ms(s.latency_ms.p99),
            s.connections.0,
            s.connections.1,
            s.lock_waits,
            format_ms(s.rtt_ms),
            s.database
        );
        // A distant service says so where nothing more urgent is said.
        let far = s.rtt_ms >= FAR_RTT_MS;
        html! {
            <g class={classes!("node", "service", health_class(s.health), s.paused.then_some("paused"))}
                transform={format!("translate({SERVICE_X},{y:.1})")} role="img" aria-label={label.clone()}>
                <title>{ label }</title>
                <rect width={service_w.to_string()} height={SERVICE_H.to_string()} rx="10" />
                <text class="node-name" x="14" y="25">{ &s.name }</text>
                <text class="node-line" x="14" y="44">{ line }</text>
                <g class="node-badge" transform={format!("translate({},{})", service_w - 18.0, 18)}>
                    <circle r="11" />
                    { state_symbol(s.health) }
                </g>
                if s.lock_waits > 0 {
                    <text class="node-wait" x="14" y="62">{ format!("{} waiting for locks", s.lock_waits) }</text>
                } else if s.health == Health::Blocking {
                    <text class="node-block" x="14" y="62">{ "others wait for its locks" }</text>
                } else if s.health == Health::Slow {
                    <text class="node-slow" x="14" y="62">{ "slow: p99 jumped ≥ 5×" }</text>
                } else if far {
                    <text class="node-line" x="14" y="62">{ format!("{} round trip", format_ms(s.rtt_ms)) }</text>
                }
            </g>
        }
    });

    let db_nodes = dbs.iter().map(|db| {
        let Some(info) = view.databases.iter().find(|d| d.name == db.name) else {
            return Html::default();
        };
        let word = info.health.label();
        let height = DB_HEAD + ROW_H * db.tables.len() as f64 + 8.0;
        let isolation = info.isolation.short_label();
        let label = format!(
            "Database {}: {word}; {} of {} cores busy; {} queued; {} locks held, {} waiting",
            db.name,
            info.cores.0,
            info.cores.1,
            info.queued,
            info.locks.held.len(),
            info.locks.waiting.len()
        );
        html! {
            <g class={classes!("node", "database", health_class(info.health))}
                transform={format!("translate({db_x},{:.1})", db.y)} role="img" aria-label={label.clone()}>
                <title>{ label }</title>
                <rect width={db_w.to_string()} height={height.to_string()} rx="10" />
                <g class="db-icon" transform="translate(14,10)">
                    <ellipse cx="7" cy="3" rx="7" ry="2.6" />
                    <path d="M0 3v10c0 1.4 3.1 2.6 7 2.6s7-1.2 7-2.6V3" />
                </g>
                <text class="node-name" x="36" y="24">{ &db.name }</text>
                <text class="node-line" x="14" y="44">{ isolation }</text>
                <text class="node-line" x="14" y="61">
                    { format!("{}/{} cores · {} queued", info.cores.0, info.cores.1, info.queued) }
                </text>
                <g class="node-badge" transform={format!("translate({},{})", db_w - 18.0, 18)}>
                    <circle r="11" />
                    { state_symbol(info.health) }
                </g>
                { for db.tables.iter().enumerate().map(|(row, table)| {
                    let y = DB_HEAD + ROW_H * row as f64;
                    html! {
                        <g class="table-row" transform={format!("translate(8,{y:.1})")}>
                            <rect width={(db_w - 16.0).to_string()} height={(ROW_H - 4.0).to_string()} rx="6" />
                            <text x="10" y="17">{ table }</text>
                        </g>
                    }
                }) }
            </g>
        }
    });

    let legend = html! {
        <>
            <span><svg width="28" height="8" aria-hidden="true"><line x1="0" y1="4" x2="28" y2="4" class="legend-write" /></svg>{ "writes" }</span>
            <span><svg width="28" height="8" aria-hidden="true"><line x1="0" y1="4" x2="28" y2="4" class="legend-read" /></svg>{ "reads" }</span>
            if view.flows.iter().any(|f| f.kind == FlowKind::Cdc) {
                <span><svg width="28" height="8" aria-hidden="true"><line x1="0" y1="4" x2="28" y2="4" class="legend-cdc" /></svg>{ "change data capture" }</span>
            }
            if view.flows.iter().any(|f| f.kind == FlowKind::Etl) {
                <span><svg width="28" height="8" aria-hidden="true"><line x1="0" y1="4" x2="28" y2="4" class="legend-etl" /></svg>{ "ETL copy" }</span>
            }
            <span>{ state_badge(Health::Healthy) }{ "healthy" }</span>
            <span>{ state_badge(Health::Waiting) }{ "waiting on locks" }</span>
            <span>{ state_badge(Health::Erroring) }{ "errors / broken" }</span>
            <span>{ state_badge(Health::Blocking) }{ "blocking others" }</span>
            <span>{ state_badge(Health::Slow) }{ "slow" }</span>
            <span>{ state_badge(Health::Idle) }{ "idle" }</span>
        </>
    };

    html! {
        <figure class={classes!("topology", (*narrow).then_some("narrow"))} ref={figure}>
            <svg viewBox={format!("0 0 {width} {height:.0}")} role="group"
                aria-label="Topology: which service reads and writes which table">
                <defs>
                    <marker id="flow-arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                        <path d="M0,0 L8,4 L0,8 z" class="flow-arrow" />
                    </marker>
                </defs>
                <g class="edges">{ for edges }{ for flows }</g>
                <g class="nodes">{ for service_nodes }{ for db_nodes }</g>
            </svg>
            if props.compact {
                <figcaption>
                    <details class="legend-key">
                        <summary>{ "Key" }</summary>
                        <div class="legend">{ legend }</div>
                    </details>
                </figcaption>
            } else {
                <figcaption class="legend">{ legend }</figcaption>
            }
            if view.edges.iter().any(|e| e.broken.is_some()) {
                <ul class="broken-list" aria-label="Broken edges">
                    { for view.edges.iter().filter_map(|e| {
                        let (message, sql) = e.broken.as_ref()?;
                        Some(html! {
                            <li>
                                { state_badge(Health::Erroring) }
                                <b>{ format!("{} → {}.{}", e.service, e.database, e.table) }</b>
                                <span>{ format!(": {message}") }</span>
                                <code>{ sql }</code>
                            </li>
                        })
                    }) }
                </ul>
            }
        </figure>
    }
}

/// Milliseconds for people: "0.12 ms", "3.4 ms", "1.2 s".
pub fn format_ms(ms: f64) -> String {
    if ms <= 0.0 {
        "–".to_owned()
    } else if ms < 1.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else if ms < 1_000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1_000.0)
    }
}
