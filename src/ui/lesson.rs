//! The lesson panel: which part of the course text the scenario teaches, the question to answer
//! before pressing play, the answer once the run has shown it, and what to try next. The words
//! come from the scenario's `[lesson]`; the page only draws them and remembers the prediction.

use crate::markdown;
use crate::sim::lesson::{Answer, LessonSpec};
use crate::ui::live::{LiveAction, Prediction};
use std::rc::Rc;
use yew::prelude::*;

/// The lesson panel's properties.
#[derive(Properties, PartialEq)]
pub struct LessonProps {
    /// The scenario's `[lesson]`.
    pub lesson: Rc<LessonSpec>,
    /// The choice the student made (or that they skipped the question), if any.
    pub prediction: Option<Prediction>,
    /// Whether the lesson is a script stepped with "Next step" rather than played.
    pub scripted: bool,
    /// Whether the run has begun (time has passed or a step was issued): from then on the
    /// prediction is final, so that it cannot be changed after a peek at the run.
    pub started: bool,
    /// Whether the answer may be shown, or what would show it.
    pub answer: Answer,
    /// Sends the prediction.
    pub on_action: Callback<LiveAction>,
}

/// `text` with its first letter in upper case.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn markdown_html(text: &str) -> Html {
    Html::from_html_unchecked(AttrValue::from(markdown::to_safe_html(text)))
}

/// The lesson: course section, predict-then-run question, answer, things to try.
#[function_component(LessonPanel)]
pub fn lesson_panel(props: &LessonProps) -> Html {
    let lesson = &props.lesson;
    let shown = props.answer == Answer::Shown;
    let waiting = match &props.answer {
        Answer::Shown => "",
        Answer::Waiting(clause) => clause.as_str(),
    };
    let evidence = lesson.shown_by.evidence();
    let question = lesson.question.as_ref().map(|question| {
        let right = lesson.answer;
        let reveal = props.prediction.is_some() && shown;
        let chose = match props.prediction {
            Some(Prediction::Choice(i)) => Some(i),
            _ => None,
        };
        let go = if props.scripted {
            "press Next step (N)"
        } else {
            "press play (Space)"
        };
        let predict = |prediction: Prediction| {
            let on_action = props.on_action.clone();
            Callback::from(move |_: MouseEvent| on_action.emit(LiveAction::Predict(prediction)))
        };
        let right_words = right
            .and_then(|r| lesson.choices.get(r))
            .map(|words| words.replace('`', ""))
            .unwrap_or_default();
        html! {
            <div class="lesson-question">
                <div class="lesson-ask markdown">
                    <b>{ "Predict, then run: " }</b>{ markdown_html(question) }
                </div>
                <div class="lesson-choices" role="radiogroup" aria-label="Your prediction">
                    { for lesson.choices.iter().enumerate().map(|(i, choice)| {
                        let chosen = chose == Some(i);
                        let class = classes!(
                            "lesson-choice",
                            chosen.then_some("chosen"),
                            (reveal && right == Some(i)).then_some("right"),
                            (reveal && chosen && right != Some(i)).then_some("wrong"),
                        );
                        let locked = reveal || (props.started && props.prediction.is_some());
                        html! {
                            <button type="button" {class} role="radio" aria-checked={chosen.to_string()}
                                disabled={locked} onclick={predict(Prediction::Choice(i))}>
                                { markdown_html(choice) }
                            </button>
                        }
                    }) }
                </div>
                if props.prediction.is_none() {
                    <button type="button" class="lesson-skip" onclick={predict(Prediction::Skipped)}
                        title="Show the checkpoints and what to watch without predicting">
                        { "Skip the question" }
                    </button>
                }
                <p class="lesson-status" role="status">{
                    match (props.prediction, reveal) {
                        (None, _) => format!(
                            "Choose an answer, then {go}. What to watch and the checkpoints show once you have chosen; the answer, once the run has shown it."
                        ),
                        (Some(Prediction::Skipped), false) => format!("No prediction: {go} and watch the checkpoints; {waiting}."),
                        (Some(_), false) if props.started => format!("Noted: your answer is final now. Watch the checkpoints: {waiting}."),
                        (Some(_), false) => format!("Noted (you can still change it until you start). Now {go} and watch the checkpoints: {waiting}."),
                        (Some(Prediction::Skipped), true) => format!("{} shows “{right_words}”.", capitalised(evidence)),
                        (Some(Prediction::Choice(p)), true) if Some(p) == right => format!("You predicted it: {evidence} shows the same."),
                        (Some(_), true) => format!("Not quite: {evidence} shows “{right_words}”."),
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
            // "Try this" names what the run shows: it waits for the prediction too.
            if !lesson.try_steps.is_empty() && (props.prediction.is_some() || lesson.question.is_none()) {
                <details class="lesson-try" open={shown}>
                    <summary>{ "Try this" }</summary>
                    <ol>{ for lesson.try_steps.iter().map(|step| html! { <li class="markdown">{ markdown_html(step) }</li> }) }</ol>
                </details>
            }
        </section>
    }
}
