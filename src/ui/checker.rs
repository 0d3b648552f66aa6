//! The invariant checker panel (`cdc` and `events` modes): every read model against its source,
//! by key — green when equal, red with the rows that differ — and whether the system is quiet,
//! when the verdict is final. "Stop the sources" ends the writes and heals the pipeline so that
//! it drains.

use crate::sim::world::{Command, FailingPart, InvariantReport, Verdict};
use crate::ui::live::LiveAction;
use std::rc::Rc;
use yew::prelude::*;

/// The panel's inputs.
#[derive(Properties, PartialEq)]
pub struct CheckerProps {
    /// The last check (the page checks about once a second while it plays).
    pub report: Option<Rc<InvariantReport>>,
    /// Where actions go.
    pub on_action: Callback<LiveAction>,
}

/// The invariant checker panel.
#[component]
pub fn CheckerPanel(props: &CheckerProps) -> Html {
    let Some(report) = &props.report else {
        return html! { <p class="muted">{ "Checking…" }</p> };
    };
    let stop = {
        let on_action = props.on_action.clone();
        Callback::from(move |_: MouseEvent| {
            on_action.emit(LiveAction::Command(Command::StopSources));
        })
    };
    let rows = match report.rows_off() {
        1 => "1 row".to_owned(),
        n => format!("{n} rows"),
    };
    let (class, verdict) = match report.verdict() {
        Verdict::Stuck => (
            "broken",
            report
                .failing
                .iter()
                .map(|f| match f.part {
                    FailingPart::Consumer => format!("{}'s consumer fails on every batch ({}): its read models stop here, and no amount of waiting will bring them level.", f.name, f.why),
                    FailingPart::Connector => format!("{} stopped ({}): nothing after that event is published until its cause is fixed and the connector restarted, so the read models stop there.", f.name, f.why),
                })
                .collect::<Vec<_>>()
                .join(" "),
        ),
        Verdict::Pause => (
            "in-flight",
            "Equal right now — but the services are still writing, so this is a pause between changes, not a verdict. Stop the sources for a final one.".to_owned(),
        ),
        Verdict::Holds => (
            "holds",
            "Quiet, and every read model equals its source: every committed change arrived exactly once in effect.".to_owned(),
        ),
        Verdict::Diverged => (
            "broken",
            format!("Quiet, and {rows} {} — nothing more will arrive to fix {}.",
                if report.rows_off() == 1 { "differs: a change was lost or applied out of order" } else { "differ: changes were lost or applied out of order" },
                if report.rows_off() == 1 { "it" } else { "them" }),
        ),
        Verdict::InFlight => (
            "in-flight",
            format!("Not quiet: changes are still on their way, so the {rows} differing now may yet be put right. Stop the sources to let the pipeline drain and get a final verdict."),
        ),
    };
    html! {
        <div class={classes!("checker", class)} aria-label="invariant checker">
            <div class="checker-head">
                <p class="checker-verdict" role="status">
                    <span class="checker-mark" aria-hidden="true">
                        { match class { "holds" => "✓", "broken" => "✗", _ => "…" } }
                    </span>
                    { verdict }
                </p>
                <button type="button" class="button subtle small" onclick={stop}
                    title="Stop every service's operations and restart crashed connectors and consumers: the pipeline drains until quiet">
                    { "Stop the sources and drain" }
                </button>
            </div>
            <p class="muted">{ format!("Messages delivered again so far, and skipped (by log position, or by event id in events): {}", report.duplicates_delivered) }</p>
            <ul class="checker-models">
                { for report.read_models.iter().map(|model| {
                    let d = &model.divergence;
                    let equal = d.is_equal();
                    let state = if equal { "equal" } else if report.quiet { "differs" } else { "behind" };
                    html! {
                        <li class={classes!("checker-model", state)}
                            aria-label={format!("read model {}.{}", model.database, model.table)}>
                            <div class="checker-model-head">
                                <b>{ format!("{}.{}", model.database, model.table) }</b>
                                <span class="muted">{ if model.source.is_empty() {
                                    " fed by nothing".to_owned()
                                } else {
                                    format!(" against its source in {}", model.source)
                                } }</span>
                                <span class={classes!("pipe-state", state)}>
                                    { if equal {
                                        format!("equal ({} rows)", d.rows)
                                    } else {
                                        format!("{} missing, {} extra, {} differing", d.missing, d.extra, d.differing)
                                    } }
                                </span>
                            </div>
                            if !d.shown.is_empty() {
                                <table class="checker-rows" tabindex="0">
                                    <thead><tr><th>{ "key" }</th><th>{ "source" }</th><th>{ "read model" }</th></tr></thead>
                                    <tbody>
                                        { for d.shown.iter().take(5).map(|row| html! {
                                            <tr>
                                                <td>{ &row.key }</td>
                                                <td>{ row.source.clone().unwrap_or_else(|| "(none)".to_owned()) }</td>
                                                <td>{ row.read_model.clone().unwrap_or_else(|| "(missing)".to_owned()) }</td>
                                            </tr>
                                        }) }
                                    </tbody>
                                </table>
                            }
                        </li>
                    }
                }) }
            </ul>
        </div>
    }
}
