//! The ETL panel (`etl` mode): operational database → batch job → analytics database, with the
//! job's phase, schedule, last run and the load it puts on the source, the analytics copy's
//! staleness, and an action to run the copy now.

use crate::sim::clock::format_micros;
use crate::sim::world::{Command, EtlPhase};
use crate::ui::live::LiveAction;
use crate::ui::ViewRef;
use yew::prelude::*;

/// The panel's inputs.
#[derive(Properties, PartialEq)]
pub struct EtlProps {
    /// What to show.
    pub view: ViewRef,
    /// Where actions go.
    pub on_action: Callback<LiveAction>,
}

fn ms(value: f64) -> String {
    format_micros((value * 1e3).max(0.0) as u64)
}

/// The ETL panel.
#[component]
pub fn EtlPanel(props: &EtlProps) -> Html {
    let Some(job) = &props.view.0.etl else {
        return html! {};
    };
    let now_ms = props.view.0.now as f64 / 1e3;
    let run_now = {
        let on_action = props.on_action.clone();
        Callback::from(move |_: MouseEvent| on_action.emit(LiveAction::Command(Command::RunEtl)))
    };
    let phase = job.phase.name();
    let stale = job.overdue();
    html! {
        <>
        <p class="pipeline-hint">{ "A batch job copies the tables the analytics services read from the operational database into theirs, every few seconds: between copies the analytics copy stands still. Staleness is explained under ? (help)." }</p>
        <div class="pipeline">
            <div class="pipeline-stage">
                <h3>{ "Operational database" }</h3>
                <article class="pipe-card" aria-label={format!("database {}", job.source)}>
                    <header><b>{ &job.source }</b></header>
                    <dl class="pipe-facts">
                        <dt>{ "serves" }</dt><dd>{ "the operational services, and the job's extract" }</dd>
                        <dt>{ "extract load" }</dt><dd>{ format!("{} of core, all runs", ms(job.extract_core_ms)) }</dd>
                    </dl>
                </article>
            </div>
            <div class="pipeline-arrow" aria-hidden="true">{ "→" }</div>
            <div class="pipeline-stage">
                <h3>{ "Batch job" }</h3>
                <article class={classes!("pipe-card", "connector", phase)} aria-label="ETL job">
                    <header>
                        <b>{ "etl" }</b>
                        <span class={classes!("pipe-state", (job.phase == EtlPhase::Idle).then_some("subtle"))}>{ phase }</span>
                    </header>
                    <dl class="pipe-facts">
                        <dt>{ "every" }</dt><dd>{ ms(job.interval_ms) }</dd>
                        <dt>{ "next run" }</dt><dd>{ format!("in {}", ms(job.next_run_ms - now_ms)) }</dd>
                        <dt>{ "last run" }</dt><dd>{ job.last_duration_ms.map_or("none yet".to_owned(), |d| format!("took {}", ms(d))) }</dd>
                        <dt>{ "runs" }</dt><dd>{ format!("{} committed, {} failed", job.runs, job.failed_runs) }
                            if job.overruns > 0 { { format!("; {} not started because the last was still going", job.overruns) } }</dd>
                        <dt>{ "rows copied" }</dt><dd>{ format!("{} (all runs)", job.rows_copied) }</dd>
                        if let Some(error) = &job.last_error {
                            <dt>{ "last error" }</dt><dd class="behind">{ error }</dd>
                        }
                    </dl>
                    <div class="pipe-actions">
                        <button type="button" class="button small" onclick={run_now}
                            disabled={job.phase != EtlPhase::Idle}
                            title="Start a copy now instead of waiting for the interval">{ "Run the copy now" }</button>
                    </div>
                </article>
            </div>
            <div class="pipeline-arrow" aria-hidden="true">{ "→" }</div>
            <div class="pipeline-stage">
                <h3>{ "Analytics database" }</h3>
                <article class="pipe-card" aria-label={format!("database {}", job.target)}>
                    <header><b>{ &job.target }</b></header>
                    <dl class="pipe-facts">
                        <dt>{ "tables" }</dt>
                        <dd>{ job.tables.iter().map(|(t, how)| format!("{t} ({how})")).collect::<Vec<_>>().join(", ") }</dd>
                        <dt>{ "staleness" }</dt>
                        <dd class={classes!("etl-staleness", stale.then_some("behind"))}
                            title="Now − the start of the last successful copy: everything committed before that start is in the copy">
                            { format!("{} behind the source", ms(job.staleness_ms)) }
                        </dd>
                    </dl>
                </article>
            </div>
        </div>
        </>
    }
}
