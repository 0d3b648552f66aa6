//! The lesson's checkpoints: each expectation of the scenario, judged as the run goes, turning
//! green when it holds for good. The judging is the core's ([`crate::sim::expectation`]); this
//! only draws it.

use crate::sim::clock::{format_micros, Micros};
use crate::sim::expectation::{Status, Verdict};
use std::rc::Rc;
use yew::prelude::*;

/// The checkpoints' properties.
#[derive(Properties, PartialEq)]
pub struct CheckpointsProps {
    /// The expectations, judged at the current time.
    pub verdicts: Rc<Vec<Verdict>>,
    /// Held back until the lesson's question is answered: their captions give the answer away.
    pub hidden: bool,
}

/// A mark, a class and words for a status: colour is never the only sign.
fn look(status: Status) -> (&'static str, &'static str, &'static str) {
    match status {
        Status::Pass => ("✓", "pass", "reached"),
        Status::Fail => ("✗", "fail", "missed"),
        Status::Holding => ("◔", "holding", "holding so far"),
        Status::NotYet => ("○", "not-yet", "not yet"),
        Status::Pending => ("○", "pending", "waiting"),
    }
}

/// When a verdict was or will be judged, in words: "at 12s", "judged at 30s".
fn when(verdict: &Verdict) -> String {
    let at = |t: Micros| format_micros(t);
    match (verdict.status, verdict.settled_at, verdict.judged_at) {
        (Status::Pass | Status::Fail, Some(t), _) => format!("measured at {}", at(t)),
        (Status::Pass | Status::Fail, None, _) => String::new(),
        (_, _, Some(t)) => format!("judged at {}", at(t)),
        (_, _, None) => "judged when the script ends".to_owned(),
    }
}

/// The list of checkpoints, with how many are reached.
#[function_component(Checkpoints)]
pub fn checkpoints(props: &CheckpointsProps) -> Html {
    let rules = use_state(|| false);
    let verdicts = &props.verdicts;
    if verdicts.is_empty() {
        return html! {};
    }
    if props.hidden {
        return html! {
            <section class="checkpoints" aria-label="Checkpoints">
                <h3 class="checkpoints-title">
                    { "Checkpoints " }
                    <span class="checkpoints-count">{ format!(
                        "{} to reach: they show once you have answered the question (or skipped it)",
                        verdicts.len()
                    ) }</span>
                </h3>
            </section>
        };
    }
    let reached = verdicts.iter().filter(|v| v.status == Status::Pass).count();
    let toggle_rules = {
        let rules = rules.clone();
        Callback::from(move |_: MouseEvent| rules.set(!*rules))
    };
    html! {
        <section class="checkpoints" aria-label="Checkpoints">
            <h3 class="checkpoints-title">
                { "Checkpoints " }
                <span class="checkpoints-count">{ format!("{reached} of {} reached", verdicts.len()) }</span>
                <button type="button" class="button small subtle checkpoints-rules" aria-pressed={rules.to_string()}
                    onclick={toggle_rules} title="Show each checkpoint's expectation as the scenario file writes it">
                    { if *rules { "Hide the rules" } else { "Show the rules" } }
                </button>
            </h3>
            <ol class="checkpoint-list">
                { for verdicts.iter().map(|verdict| {
                    let (mark, class, words) = look(verdict.status);
                    html! {
                        <li class={classes!("checkpoint", class)} title={verdict.that.clone()}>
                            <span class="checkpoint-mark" aria-hidden="true">{ mark }</span>
                            <span class="checkpoint-text">
                                <span class="checkpoint-says">{ verdict.says.clone().unwrap_or_else(|| verdict.that.clone()) }</span>
                                <span class="checkpoint-state">
                                    <b>{ words }</b>
                                    { format!(" · {}", verdict.measured) }
                                </span>
                                <span class="checkpoint-when">{ when(verdict) }</span>
                                if *rules && verdict.says.is_some() {
                                    <code class="checkpoint-that">{ &verdict.that }</code>
                                }
                            </span>
                        </li>
                    }
                }) }
            </ol>
        </section>
    }
}
