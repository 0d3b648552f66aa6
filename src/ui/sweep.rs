//! The sweep view: the scenario run again at each point of its `[sweep]` (more copies of some
//! services, or more load), with one seed — a bar chart per measure, one bar per point, and the
//! figures as a table, so "as systems scale" reads as a growth.

use crate::sim::clock::format_micros;
use crate::sim::sweep::{Sweep, SweepPoint};
use crate::ui::live::LiveAction;
use std::rc::Rc;
use yew::prelude::*;

/// The view's inputs.
#[derive(Properties, PartialEq)]
pub struct SweepProps {
    /// The sweep's result.
    pub sweep: Rc<Sweep>,
    /// Where actions go.
    pub on_action: Callback<LiveAction>,
}

/// One measure charted: its title, its unit and how to read it off a point.
struct Measure {
    title: &'static str,
    unit: &'static str,
    value: fn(&SweepPoint) -> f64,
    format: fn(f64) -> String,
}

const MEASURES: [Measure; 4] = [
    Measure {
        title: "Services broken by the schema change",
        unit: "",
        value: |p| p.services_broken as f64,
        format: |v| format!("{v:.0}"),
    },
    Measure {
        title: "Lock wait, all services",
        unit: "ms",
        value: |p| p.lock_wait_ms,
        format: |v| format!("{v:.0}"),
    },
    Measure {
        title: "p99 latency of ",
        unit: "ms",
        value: |p| p.p99_ms,
        format: |v| format!("{v:.1}"),
    },
    Measure {
        title: "Busiest database's cores in use",
        unit: "%",
        value: |p| p.core_utilisation * 100.0,
        format: |v| format!("{v:.0}"),
    },
];

/// The sweep view.
#[component]
pub fn SweepPanel(props: &SweepProps) -> Html {
    let sweep = &props.sweep;
    let close = {
        let on_action = props.on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(LiveAction::CloseSweep))
    };
    html! {
        <div class="sweep">
            <div class="compare-bar">
                <p>{ format!(
                    "The same scenario run {} times afresh, seed {}, {} each, with {} growing — the scenario's own services draw from the same random streams at every point, so what changes comes from what grows (your own actions are not replayed here).",
                    sweep.points.len(), sweep.seed, format_micros((sweep.until_ms * 1e3) as u64), sweep.axis
                ) }</p>
                <button type="button" class="button subtle small" onclick={close}>{ "Close" }</button>
            </div>
            <div class="compare-charts">
                { for MEASURES.iter().map(|m| bars(sweep, m)) }
            </div>
            { table(sweep) }
        </div>
    }
}

/// One measure's bars, one per point, each labelled with its value.
fn bars(sweep: &Sweep, measure: &Measure) -> Html {
    let (width, height, top_room, label_room) = (300.0, 110.0, 16.0, 18.0);
    let values: Vec<f64> = sweep.points.iter().map(|p| (measure.value)(p)).collect();
    let top = values.iter().copied().fold(0.0_f64, f64::max).max(1e-9);
    let n = values.len().max(1) as f64;
    let slot = width / n;
    let bar = (slot * 0.6).min(48.0);
    let plot = height - top_room - label_room;
    let title = if measure.title.ends_with("of ") {
        format!("{}{}", measure.title, sweep.watch)
    } else {
        measure.title.to_owned()
    };
    let unit = if measure.unit.is_empty() {
        String::new()
    } else {
        format!(" ({})", measure.unit)
    };
    let described: Vec<String> = sweep
        .points
        .iter()
        .zip(&values)
        .map(|(p, v)| format!("{}: {}{}", p.label, (measure.format)(*v), measure.unit))
        .collect();
    let label = format!("{title}{unit}: {}", described.join(", "));
    html! {
        <figure class="compare-chart sweep-chart">
            <figcaption><b>{ title }</b>{ unit }</figcaption>
            <svg viewBox={format!("0 0 {width} {height}")} role="img" aria-label={label}>
                <line class="axis" x1="0" y1={(height - label_room).to_string()} x2={width.to_string()} y2={(height - label_room).to_string()} />
                { for sweep.points.iter().zip(&values).enumerate().map(|(i, (point, value))| {
                    let x = slot * i as f64 + (slot - bar) / 2.0;
                    let h = value / top * plot;
                    let y = height - label_room - h;
                    html! {
                        <g class="sweep-bar">
                            <rect x={format!("{x:.1}")} y={format!("{y:.1}")} width={format!("{bar:.1}")} height={format!("{h:.1}")} />
                            <text class="sweep-value" x={format!("{:.1}", x + bar / 2.0)} y={format!("{:.1}", y - 4.0)}>{ (measure.format)(*value) }</text>
                            <text class="sweep-label" x={format!("{:.1}", x + bar / 2.0)} y={format!("{:.1}", height - 4.0)}>{ &point.label }</text>
                        </g>
                    }
                }) }
            </svg>
        </figure>
    }
}

/// The figures, one row per point.
fn table(sweep: &Sweep) -> Html {
    html! {
        <div class="scorecard-wrap" tabindex="0" role="region" aria-label="Sweep figures">
        <table class="scorecard sweep-table">
            <thead>
                <tr>
                    <th scope="col">{ &sweep.axis }</th>
                    <th scope="col">{ "services broken" }</th>
                    <th scope="col">{ "schema errors" }</th>
                    <th scope="col">{ "errors" }</th>
                    <th scope="col">{ "lock wait (ms)" }</th>
                    <th scope="col">{ format!("p99 {} (ms)", sweep.watch) }</th>
                    <th scope="col">{ "busiest cores" }</th>
                </tr>
            </thead>
            <tbody>
                { for sweep.points.iter().map(|p| html! {
                    <tr>
                        <th scope="row">{ &p.label }</th>
                        <td>{ p.services_broken }</td>
                        <td>{ p.schema_errors }</td>
                        <td>{ p.errors }</td>
                        <td>{ format!("{:.1}", p.lock_wait_ms) }</td>
                        <td>{ format!("{:.2}", p.p99_ms) }</td>
                        <td>{ format!("{:.0} %", p.core_utilisation * 100.0) }</td>
                    </tr>
                }) }
            </tbody>
        </table>
        </div>
    }
}
