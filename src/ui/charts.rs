//! Latency charts: per service, p50/p95/p99 of each of the last 60 whole seconds, with the same
//! numbers as text in a table beside the chart (the table is what screen readers and tests
//! read).

use crate::sim::view::{ServiceView, CHART_SECONDS};
use crate::ui::icons::state_badge;
use crate::ui::topology::format_ms;
use crate::ui::ViewRef;
use yew::prelude::*;

const W: f64 = 320.0;
const H: f64 = 120.0;
const LEFT: f64 = 58.0;
const BOTTOM: f64 = 18.0;
/// The height of the throughput bars at the bottom of a chart.
const TP_HEIGHT: f64 = 24.0;

/// The charts' inputs.
#[derive(Properties, PartialEq)]
pub struct ChartsProps {
    /// What to draw.
    pub view: ViewRef,
}

/// A round axis maximum at or above `value`.
fn nice_max(value: f64) -> f64 {
    if value <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|m| *m >= value)
        .unwrap_or(10.0 * magnitude)
}

fn chart(service: &ServiceView, now_second: u64) -> Html {
    // The axis always spans the last 60 seconds, ending now (early in a run, the data sits at
    // the right-hand end).
    let first = now_second as i64 - CHART_SECONDS as i64;
    let max = nice_max(
        service
            .seconds
            .iter()
            .map(|(_, _, _, l)| l.p99)
            .fold(0.0, f64::max),
    );
    let x = |second: u64| {
        LEFT + ((second as i64 - first) as f64 + 0.5) / CHART_SECONDS as f64 * (W - LEFT - 6.0)
    };
    let y = |ms: f64| (H - BOTTOM) - (ms / max).min(1.0) * (H - BOTTOM - 8.0);
    let line = |pick: fn(&crate::sim::metrics::LatencySummary) -> f64| {
        service
            .seconds
            .iter()
            .filter(|(_, completed, ..)| *completed > 0)
            .map(|(second, _, _, latency)| format!("{:.1},{:.1}", x(*second), y(pick(latency))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    // Throughput as faint bars along the bottom (their own scale), failures stacked on top.
    let busiest = service
        .seconds
        .iter()
        .map(|(_, c, e, _)| c + e)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let bar_width = (W - LEFT - 6.0) / CHART_SECONDS as f64 - 1.0;
    let bars = service.seconds.iter().map(|(second, completed, errors, _)| {
        let ok_h = *completed as f64 / busiest * TP_HEIGHT;
        let err_h = *errors as f64 / busiest * TP_HEIGHT;
        let left = x(*second) - bar_width / 2.0;
        html! {
            <g>
                <rect class="tp-bar" x={format!("{left:.1}")} y={format!("{:.1}", H - BOTTOM - ok_h)}
                    width={format!("{bar_width:.1}")} height={format!("{ok_h:.1}")} />
                if *errors > 0 {
                    <rect class="error-tick" x={format!("{left:.1}")} y={format!("{:.1}", H - BOTTOM - ok_h - err_h.max(2.0))}
                        width={format!("{bar_width:.1}")} height={format!("{:.1}", err_h.max(2.0))} />
                }
            </g>
        }
    });
    let label = format!(
        "{} latency over the last {CHART_SECONDS} seconds: p99 up to {}",
        service.name,
        format_ms(max)
    );
    html! {
        <svg class="chart" viewBox={format!("0 0 {W} {H}")} role="img" aria-label={label}>
            <line class="axis" x1={LEFT.to_string()} y1={(H - BOTTOM).to_string()} x2={(W - 4.0).to_string()} y2={(H - BOTTOM).to_string()} />
            <line class="grid" x1={LEFT.to_string()} y1={y(max / 2.0).to_string()} x2={(W - 4.0).to_string()} y2={y(max / 2.0).to_string()} />
            <line class="grid" x1={LEFT.to_string()} y1={y(max).to_string()} x2={(W - 4.0).to_string()} y2={y(max).to_string()} />
            <text class="tick" x={(LEFT - 4.0).to_string()} y={(y(max) + 4.0).to_string()} text-anchor="end">{ format_ms(max) }</text>
            <text class="tick" x={(LEFT - 4.0).to_string()} y={(y(max / 2.0) + 4.0).to_string()} text-anchor="end">{ format_ms(max / 2.0) }</text>
            <text class="tick" x={(LEFT - 4.0).to_string()} y={(H - BOTTOM + 4.0).to_string()} text-anchor="end">{ "0" }</text>
            <text class="tick" x={LEFT.to_string()} y={(H - 3.0).to_string()}>{ format!("−{CHART_SECONDS} s") }</text>
            <text class="tick" x={(W - 4.0).to_string()} y={(H - 3.0).to_string()} text-anchor="end">{ "now" }</text>
            { for bars }
            <text class="tick tp-tick" x={((LEFT + W) / 2.0).to_string()} y={(H - 3.0).to_string()} text-anchor="middle">
                { format!("bars: up to {busiest:.0} ops/s") }
            </text>
            <polyline class="p50" points={line(|l| l.p50)} />
            <polyline class="p95" points={line(|l| l.p95)} />
            <polyline class="p99" points={line(|l| l.p99)} />
        </svg>
    }
}

/// The charts and their tables.
#[component]
pub fn Charts(props: &ChartsProps) -> Html {
    let view = &props.view.0;
    let now_second = view.now / 1_000_000;
    html! {
        <div class="charts">
            <p class="chart-legend" aria-hidden="true">
                <span class="key p50">{ "p50" }</span>
                <span class="key p95">{ "p95" }</span>
                <span class="key p99">{ "p99" }</span>
                <span class="key ops">{ "ops/s (bars)" }</span>
                <span class="key errors">{ "failed" }</span>
            </p>
            { for view.services.iter().filter(|s| !s.internal).map(|service| {
                let word = service.health.label();
                html! {
                    <div class="chart-card" data-service={service.name.clone()}>
                        <h3>
                            { state_badge(service.health) }
                            { &service.name }
                            <span class="chart-state">{ word }</span>
                        </h3>
                        { chart(service, now_second) }
                        <table class="chart-summary">
                            <caption class="visually-hidden">{ format!("{} in the last whole second", service.name) }</caption>
                            <thead><tr>
                                <th scope="col">{ "ops/s" }</th>
                                <th scope="col">{ "errors/s" }</th>
                                <th scope="col">{ "p50" }</th>
                                <th scope="col">{ "p95" }</th>
                                <th scope="col">{ "p99" }</th>
                            </tr></thead>
                            <tbody><tr>
                                <td class="throughput">{ format!("{:.0}", service.throughput_per_s) }</td>
                                <td class={classes!("errors", (service.errors_per_s > 0.0).then_some("alert"))}>{ format!("{:.0}", service.errors_per_s) }</td>
                                <td class="p50">{ format_ms(service.latency_ms.p50) }</td>
                                <td class="p95">{ format_ms(service.latency_ms.p95) }</td>
                                <td class="p99">{ format_ms(service.latency_ms.p99) }</td>
                            </tr></tbody>
                        </table>
                        <p class="chart-totals">
                            { format!("{} done · {} failed · {}/{} connections busy", service.completed, service.errors, service.connections.0, service.connections.1) }
                            if service.lock_waits > 0 {
                                <span class="alert">{ format!(" · {} waiting for locks", service.lock_waits) }</span>
                            }
                        </p>
                    </div>
                }
            }) }
        </div>
    }
}
