//! The lesson's checkpoints: each expectation of the scenario, judged as the run goes, turning
//! green when it holds for good. The judging is the core's ([`crate::sim::expectation`]); this
//! only draws it.

use crate::sim::expectation::{Status, Verdict};
use std::rc::Rc;
use yew::prelude::*;

/// The checkpoints' properties.
#[derive(Properties, PartialEq)]
pub struct CheckpointsProps {
    /// The expectations, judged at the current time.
    pub verdicts: Rc<Vec<Verdict>>,
}

/// A mark, a class and words for a status: colour is never the only sign.
fn look(status: Status) -> (&'static str, &'static str, &'static str) {
    match status {
        Status::Pass => ("✓", "pass", "reached"),
        Status::Fail => ("✗", "fail", "missed"),
        Status::Holding => ("…", "holding", "holding so far"),
        Status::NotYet => ("○", "not-yet", "not yet"),
        Status::Pending => ("○", "pending", "waiting"),
    }
}

/// The list of checkpoints, with how many are reached.
#[function_component(Checkpoints)]
pub fn checkpoints(props: &CheckpointsProps) -> Html {
    let verdicts = &props.verdicts;
    if verdicts.is_empty() {
        return html! {};
    }
    let reached = verdicts.iter().filter(|v| v.status == Status::Pass).count();
    html! {
        <section class="checkpoints" aria-label="Checkpoints">
            <h3 class="checkpoints-title">
                { "Checkpoints " }
                <span class="checkpoints-count">{ format!("{reached} of {} reached", verdicts.len()) }</span>
            </h3>
            <ol class="checkpoint-list">
                { for verdicts.iter().map(|verdict| {
                    let (mark, class, words) = look(verdict.status);
                    html! {
                        <li class={classes!("checkpoint", class)} title={verdict.that.clone()}>
                            <span class="checkpoint-mark" aria-hidden="true">{ mark }</span>
                            <span class="checkpoint-text">
                                <span class="checkpoint-says">{ verdict.says.clone().unwrap_or_else(|| verdict.that.clone()) }</span>
                                <span class="visually-hidden">{ format!(" — {words}: ") }</span>
                                <span class="checkpoint-measured">{ &verdict.measured }</span>
                                if verdict.says.is_some() {
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
