//! The scripted sessions side by side: one column per session, one row per step, issued one
//! at a time ("Next step", or N), each with its outcome, the locks its session then held, and
//! what it waits for while it is blocked.

use crate::sim::script::StepReport;
use crate::sim::view::ScriptView;
use crate::sim::world::Command;
use crate::ui::live::LiveAction;
use crate::ui::ViewRef;
use yew::prelude::*;

/// The script view's inputs.
#[derive(Properties, PartialEq)]
pub struct ScriptPanelProps {
    /// What to show.
    pub view: ViewRef,
    /// Where actions go.
    pub on_action: Callback<LiveAction>,
}

fn cell(step: &StepReport, next: bool) -> Html {
    let (class, word) = match (step.outcome.as_str(), step.blocked) {
        ("pending", true) => ("waiting", "waiting"),
        ("pending", false) => ("pending", if next { "next" } else { "not yet" }),
        ("ok", _) if step.rolled_back => ("rolled-back", "rolled back"),
        ("ok", _) => ("ok", "ok"),
        _ => ("failed", step.error_kind.as_deref().unwrap_or("error")),
    };
    html! {
        <div class={classes!("step-card", class, next.then_some("next"))}>
            <div class="step-head">
                <span class="step-index">{ format!("#{}", step.index + 1) }</span>
                <span class={classes!("console-state", class)}>{ word }</span>
                if let Some(code) = &step.sqlstate {
                    <span class="sqlstate" title={crate::sim::sqlstate::describe(code)}>{ code }</span>
                }
            </div>
            <code class="step-sql">{ &step.sql }</code>
            if step.outcome != "pending" {
                <p class="step-message">{ &step.message }</p>
            }
            if let Some(waiting) = &step.waiting_for {
                <p class="step-waiting">
                    { if step.outcome == "pending" { "waits for " } else { "waited for " } }
                    { waiting }
                    { step.completed_after.map(|i| format!(" — freed by step #{}", i + 1)).unwrap_or_default() }
                </p>
            }
            if let Some(rows) = &step.rows {
                <p class="step-rows">{ rows.iter().map(|r| format!("({})", r.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", "))).collect::<Vec<_>>().join(" ") }</p>
            }
            if !step.locks.is_empty() && step.outcome == "ok" {
                <details class="step-locks">
                    <summary>{ format!("{} lock{} held", step.locks.len(), if step.locks.len() == 1 { "" } else { "s" }) }</summary>
                    <ul>{ for step.locks.iter().map(|l| html! { <li>{ l }</li> }) }</ul>
                </details>
            }
        </div>
    }
}

/// The scripted sessions, side by side.
#[component]
pub fn ScriptPanel(props: &ScriptPanelProps) -> Html {
    let Some(script) = &props.view.0.script else {
        return Html::default();
    };
    let script: &ScriptView = script;
    let step = {
        let on_action = props.on_action.clone();
        Callback::from(move |_: MouseEvent| {
            on_action.emit(LiveAction::Command(Command::ScriptStep))
        })
    };
    let run_all = {
        let on_action = props.on_action.clone();
        let count = script.steps.len() + 1;
        Callback::from(move |_: MouseEvent| {
            for _ in 0..count {
                on_action.emit(LiveAction::Command(Command::ScriptStep));
            }
        })
    };
    let columns = script.sessions.len();
    html! {
        <div class="script-view">
            <div class="script-controls">
                <button type="button" class="button primary small" onclick={step} disabled={script.finished}
                    title={if script.next.is_some() { "Issue the next statement (N)" } else { "Every step has been issued: end the script as clients disconnecting would — what is still open or waiting is rolled back (N)" }}>
                    { match script.next {
                        Some(i) => format!("Next step: #{} (N)", i + 1),
                        None if script.finished => "The script has ended".to_owned(),
                        None => "Disconnect every session (N)".to_owned(),
                    } }
                </button>
                <button type="button" class="button subtle small" onclick={run_all} disabled={script.finished}>
                    { "Run to the end" }
                </button>
                if script.finished {
                    <span class="script-outcome">
                        { format!("committed: {} · rolled back: {}",
                            if script.committed.is_empty() { "—".to_owned() } else { script.committed.join(", ") },
                            if script.aborted.is_empty() { "—".to_owned() } else { script.aborted.join(", ") }) }
                    </span>
                }
            </div>
            <div class="table-scroll" tabindex="0" role="region" aria-label="Script steps">
                <table class="script-table" style={format!("--sessions: {columns}")}>
                    <thead>
                        <tr>{ for script.sessions.iter().zip(&script.levels).map(|(s, level)| html! {
                            <th scope="col"><span class="session-name">{ s }</span><span class="session-level" title={level.explanation()}>{ level.label() }</span></th>
                        }) }</tr>
                    </thead>
                    <tbody>
                        { for script.steps.iter().map(|step| {
                            let next = script.next == Some(step.index);
                            html! {
                                <tr class={classes!(next.then_some("next-row"))} data-step={step.index.to_string()}>
                                    { for script.sessions.iter().map(|session| html! {
                                        <td>{ if *session == step.session { cell(step, next) } else { Html::default() } }</td>
                                    }) }
                                </tr>
                            }
                        }) }
                    </tbody>
                </table>
            </div>
        </div>
    }
}
