//! The lesson panel: which part of the course text the scenario teaches, the question to answer
//! before pressing play, the answer once the run has shown it, and what to try next. The words
//! come from the scenario's `[lesson]`; the page only draws them and remembers the prediction.

use crate::markdown;
use crate::sim::lesson::LessonSpec;
use crate::ui::live::LiveAction;
use std::rc::Rc;
use yew::prelude::*;

/// The lesson panel's properties.
#[derive(Properties, PartialEq)]
pub struct LessonProps {
    /// The scenario's `[lesson]`.
    pub lesson: Rc<LessonSpec>,
    /// The choice the student made, if any.
    pub prediction: Option<usize>,
    /// Whether the run has shown the answer (checkpoints settled, script or time over).
    pub shown: bool,
    /// Sends the prediction.
    pub on_action: Callback<LiveAction>,
}

fn markdown_html(text: &str) -> Html {
    Html::from_html_unchecked(AttrValue::from(markdown::to_safe_html(text)))
}

/// The lesson: course section, predict-then-run question, answer, things to try.
#[function_component(LessonPanel)]
pub fn lesson_panel(props: &LessonProps) -> Html {
    let lesson = &props.lesson;
    let question = lesson.question.as_ref().map(|question| {
        let answered = props.prediction.is_some();
        let right = lesson.answer;
        let reveal = answered && props.shown;
        html! {
            <div class="lesson-question">
                <div class="lesson-ask markdown">
                    <b>{ "Predict, then run: " }</b>{ markdown_html(question) }
                </div>
                <div class="lesson-choices" role="radiogroup" aria-label="Your prediction">
                    { for lesson.choices.iter().enumerate().map(|(i, choice)| {
                        let chosen = props.prediction == Some(i);
                        let class = classes!(
                            "lesson-choice",
                            chosen.then_some("chosen"),
                            (reveal && right == Some(i)).then_some("right"),
                            (reveal && chosen && right != Some(i)).then_some("wrong"),
                        );
                        let onclick = {
                            let on_action = props.on_action.clone();
                            Callback::from(move |_: MouseEvent| on_action.emit(LiveAction::Predict(i)))
                        };
                        html! {
                            <button type="button" {class} role="radio" aria-checked={chosen.to_string()}
                                disabled={reveal} {onclick}>
                                { choice }
                            </button>
                        }
                    }) }
                </div>
                <p class="lesson-status" role="status">{
                    match (props.prediction, reveal) {
                        (None, _) => "Choose an answer, then press play: the answer shows once the run has shown it.".to_owned(),
                        (Some(_), false) => "Noted. Press play and watch the checkpoints; the answer shows once they are settled.".to_owned(),
                        (Some(p), true) if Some(p) == right => "You predicted it: the run shows the same.".to_owned(),
                        (Some(_), true) => format!(
                            "Not quite: the run shows “{}”.",
                            right.and_then(|r| lesson.choices.get(r)).map(String::as_str).unwrap_or("")
                        ),
                    }
                }</p>
                if reveal {
                    if let Some(explain) = &lesson.explain {
                        <div class="lesson-explain markdown">{ markdown_html(explain) }</div>
                    }
                }
            </div>
        }
    });
    html! {
        <section class="lesson" aria-label="Lesson">
            <p class="lesson-section">{ "Course text: " }<b>{ &lesson.section }</b></p>
            { for question }
            if !lesson.try_steps.is_empty() {
                <details class="lesson-try" open={props.shown}>
                    <summary>{ "Try this" }</summary>
                    <ol>{ for lesson.try_steps.iter().map(|step| html! { <li class="markdown">{ markdown_html(step) }</li> }) }</ol>
                </details>
            }
        </section>
    }
}
