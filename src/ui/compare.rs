//! The compare view: the scenario run with the same seed to the same simulated time in each
//! of its integration modes — each service's p99 per second overlaid, one line per mode, and
//! the scorecard as a table.

use crate::sim::clock::format_micros;
use crate::sim::compare::ModeRun;
use crate::ui::live::{CompareView, LiveAction};
use std::rc::Rc;
use yew::prelude::*;

/// The view's inputs.
#[derive(Properties, PartialEq)]
pub struct CompareProps {
    /// The comparison.
    pub compare: Rc<CompareView>,
    /// Where actions go.
    pub on_action: Callback<LiveAction>,
    /// Whether a comparison or a sweep is running (one at a time).
    #[prop_or_default]
    pub busy: bool,
}

/// The compare view.
#[component]
pub fn ComparePanel(props: &CompareProps) -> Html {
    let compare = &props.compare;
    let close = {
        let on_action = props.on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(LiveAction::CloseCompare))
    };
    let again = {
        let on_action = props.on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(LiveAction::Compare))
    };
    let runs = &compare.runs;
    let services: Vec<String> = runs
        .first()
        .map(|r| r.p99_per_second.keys().cloned().collect())
        .unwrap_or_default();
    html! {
        <div class="compare">
            <div class="compare-bar">
                <p>{ format!("Seed {}, every mode run afresh to {} — the same arrivals and parameters in each, so the differences come from the architecture (your own actions are not replayed here).",
                    compare.seed, format_micros(compare.at)) }</p>
                <button type="button" class="button subtle small" onclick={again} disabled={props.busy}>{ "Compare at the current time" }</button>
                <button type="button" class="button subtle small" onclick={close}>{ "Close" }</button>
            </div>
            <ul class="compare-legend" aria-label="The modes' lines">
                { for runs.iter().enumerate().map(|(i, run)| html! {
                    <li><span class={classes!("swatch", mode_class(&run.card.mode, i))} />{ &run.card.mode }</li>
                }) }
            </ul>
            <p class="compare-hint">{ "Each chart: one service's p99 per second of the run, from 0 s to the time compared; lines of modes with the same figures lie on top of each other (the thickest is drawn first)." }</p>
            <div class="compare-charts">
                { for services.iter().map(|service| overlay(service, runs, compare.at)) }
            </div>
            { scorecard(runs) }
        </div>
    }
}

/// The class of a mode's line and swatch: its own for the five modes, so that a mode looks the
/// same in every scenario; by its place for another variant (a capture method).
fn mode_class(mode: &str, place: usize) -> String {
    match mode {
        "shared" | "owned" | "etl" | "cdc" | "events" => format!("mode-{mode}"),
        _ => format!("mode-{place}"),
    }
}

/// One service's p99 per second, one line per mode.
fn overlay(service: &str, runs: &[ModeRun], at: u64) -> Html {
    let (width, height) = (300.0, 90.0);
    let seconds = (at / crate::sim::clock::SECOND).max(1) as f64;
    let top = runs
        .iter()
        .filter_map(|r| r.p99_per_second.get(service))
        .flatten()
        .map(|(_, p99)| *p99)
        .fold(0.0_f64, f64::max)
        .max(0.001);
    html! {
        <figure class="compare-chart">
            <figcaption><b>{ service }</b>{ format!(" p99 per second (top {top:.1} ms)") }</figcaption>
            <svg viewBox={format!("0 0 {width} {height}")} preserveAspectRatio="none" role="img"
                aria-label={format!("{service}'s p99 latency per second in each mode")}>
                <line class="axis" x1="0" y1={height.to_string()} x2={width.to_string()} y2={height.to_string()} />
                { for runs.iter().enumerate().map(|(i, run)| {
                    let points: Vec<String> = run.p99_per_second.get(service).into_iter().flatten()
                        .map(|(second, p99)| {
                            let x = (*second as f64 + 0.5) / seconds * width;
                            let y = height - p99 / top * (height - 4.0) - 2.0;
                            format!("{x:.1},{y:.1}")
                        })
                        .collect();
                    html! { <polyline class={classes!("mode-line", mode_class(&run.card.mode, i))} points={points.join(" ")} /> }
                }) }
            </svg>
            <div class="compare-axis" aria-hidden="true"><span>{ "0s" }</span><span>{ format_micros(at) }</span></div>
        </figure>
    }
}

/// The scorecard: one column per mode.
fn scorecard(runs: &[ModeRun]) -> Html {
    let cards: Vec<_> = runs.iter().map(|r| r.card.clone()).collect();
    let services: Vec<String> = cards
        .first()
        .map(|c| c.latency_ms.keys().cloned().collect())
        .unwrap_or_default();
    let rows = crate::sim::compare::scorecard_rows(&services, &cards);
    html! {
        <>
        <p class="compare-hint">{ "Rows in grey are the same in every mode: the ones in black differ." }</p>
        <div class="scorecard-wrap" tabindex="0" role="region" aria-label="Scorecard">
        <table class="scorecard">
            <thead>
                <tr><th scope="col">{ "" }</th>
                    { for cards.iter().map(|c| html! { <th scope="col">{ &c.mode }</th> }) }
                </tr>
            </thead>
            <tbody>
                { for rows.iter().map(|(label, cells)| {
                    // A row that is the same in every mode says nothing about the modes: it
                    // steps back, so that the eye goes to the rows that differ.
                    let same = cells.windows(2).all(|pair| pair[0] == pair[1]);
                    html! {
                        <tr class={classes!(same.then_some("same"))}
                            title={same.then_some("The same in every mode")}>
                            <th scope="row">{ label }</th>{ for cells.iter().map(|c| html! { <td>{ c }</td> }) }
                        </tr>
                    }
                }) }
            </tbody>
        </table>
        </div>
        <p class="compare-hint">
            { "Staleness is measured on the changes a copy applied: a copy that stopped applying them shows in “behind at the end” and “failed batches”. Run fingerprints (the same scenario, seed and mode always give the same): " }
            { for cards.iter().enumerate().map(|(i, c)| html! {
                <>{ if i > 0 { ", " } else { "" } }{ format!("{} ", c.mode) }<code>{ &c.trace_hash }</code></>
            }) }
            { "." }
        </p>
        </>
    }
}
