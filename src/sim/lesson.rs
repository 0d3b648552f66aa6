//! What makes a scenario a lesson (`[lesson]`): the section of the course text it teaches, a
//! question the student answers *before* running it (predict, then run, then see), the answer
//! and its explanation revealed once the run has shown it, and what to try next.
//!
//! The measured side of a lesson is its expectations ([`crate::sim::expectation`]); this is the
//! words around them.

use crate::sim::modes::Mode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A scenario's `[lesson]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LessonSpec {
    /// The section of the course text it teaches, as titled there ("Performance Interference").
    pub section: String,
    /// What to predict before pressing play (Markdown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// The possible answers, at least two when there is a question.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// Which choice is right (from 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<usize>,
    /// Why, in Markdown: shown once the run has shown it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explain: Option<String>,
    /// Things to try next, one step each (Markdown).
    #[serde(default, rename = "try", skip_serializing_if = "Vec::is_empty")]
    pub try_steps: Vec<String>,
    /// What shows the answer (default: the run, in a mode with checkpoints): `"compare"` when
    /// the evidence is the modes side by side, `"sweep"` when it is the scenario at growing
    /// scale.
    #[serde(default, skip_serializing_if = "ShownBy::is_run")]
    pub shown_by: ShownBy,
}

/// What shows a lesson's answer: the page keeps it hidden until then.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ShownBy {
    /// The run itself, once its checkpoints are settled (or its time or script is over), in a
    /// mode that has checkpoints.
    #[default]
    Run,
    /// The modes side by side: a comparison, or each mode with checkpoints played through.
    Compare,
    /// The scenario run at each point of its `[sweep]`.
    Sweep,
}

impl ShownBy {
    fn is_run(&self) -> bool {
        *self == Self::Run
    }

    /// What shows the answer, as the subject of "… shows": "the run", "the comparison".
    pub fn evidence(self) -> &'static str {
        match self {
            Self::Run => "the run",
            Self::Compare => "the comparison",
            Self::Sweep => "the sweep",
        }
    }
}

/// What the student answered to a lesson's question before running it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prediction {
    /// One of the choices (an index into them).
    Choice(usize),
    /// No answer: the student wants to watch without predicting.
    Skipped,
}

/// What a student has done in a lesson that can show its answer, kept while they switch its
/// modes, seeds and isolation levels.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Progress {
    /// The modes in which a run's checkpoints settled (or its time or script ran out).
    pub settled: Vec<Mode>,
    /// Whether the modes were compared side by side.
    pub compared: bool,
    /// Whether the sweep ran.
    pub swept: bool,
}

impl Progress {
    /// Notes that a run in `mode` has settled.
    pub fn settle(&mut self, mode: Mode) {
        if !self.settled.contains(&mode) {
            self.settled.push(mode);
        }
    }
}

/// Whether a lesson's answer may be shown, or what would show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Shown: the student has seen the evidence.
    Shown,
    /// Not yet: the clause, plain text, says what will show it ("the answer shows once they
    /// are settled").
    Waiting(String),
}

impl LessonSpec {
    /// Whether the answer may be shown, given what the student has done (`progress`), the
    /// mode running now, and the modes whose runs have checkpoints for the question
    /// (`answered_in`; empty when the scenario has no expectations).
    pub fn answer(&self, progress: &Progress, mode: Mode, answered_in: &[Mode]) -> Answer {
        let counts = |m: &Mode| answered_in.is_empty() || answered_in.contains(m);
        let names = |modes: &[Mode]| {
            modes
                .iter()
                .map(|m| m.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self.shown_by {
            ShownBy::Run if progress.settled.iter().any(counts) => Answer::Shown,
            ShownBy::Run if counts(&mode) => {
                Answer::Waiting("the answer shows once they are settled".to_owned())
            }
            ShownBy::Run => Answer::Waiting(format!(
                "this mode has no checkpoints for the question — the answer shows in {}",
                names(answered_in)
            )),
            ShownBy::Compare
                if progress.compared
                    || (!answered_in.is_empty()
                        && answered_in.iter().all(|m| progress.settled.contains(m))) =>
            {
                Answer::Shown
            }
            ShownBy::Compare => {
                let seen = answered_in
                    .iter()
                    .filter(|m| progress.settled.contains(m))
                    .count();
                Answer::Waiting(format!(
                    "the answer shows once you have seen every mode — press “Compare modes”, or play each of {} to its end ({seen} of {} so far)",
                    names(answered_in),
                    answered_in.len()
                ))
            }
            ShownBy::Sweep if progress.swept => Answer::Shown,
            ShownBy::Sweep => Answer::Waiting(
                "the answer shows once you have pressed “Sweep scale” — it is in how the figures grow"
                    .to_owned(),
            ),
        }
    }

    /// Checks what the types cannot: a question has choices and a right answer among them.
    ///
    /// # Errors
    ///
    /// The field's path under `lesson` and what is wrong.
    pub fn check(&self) -> Result<(), (String, String)> {
        if self.section.trim().is_empty() {
            return Err((
                "section".into(),
                "must name a section of the course text".into(),
            ));
        }
        if self.question.is_some() {
            if self.choices.len() < 2 {
                return Err((
                    "choices".into(),
                    "must list at least two answers to the question".into(),
                ));
            }
            match self.answer {
                Some(answer) if answer < self.choices.len() => {}
                Some(answer) => {
                    return Err((
                        "answer".into(),
                        format!(
                            "is {answer}, but the choices are numbered 0 to {}",
                            self.choices.len() - 1
                        ),
                    ))
                }
                None => return Err(("answer".into(), "is needed with a question".into())),
            }
        } else if !self.choices.is_empty() || self.answer.is_some() {
            return Err((
                "question".into(),
                "is needed with choices and an answer".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lesson() -> LessonSpec {
        LessonSpec {
            section: "Performance Interference".into(),
            question: Some("What happens?".into()),
            choices: vec!["a".into(), "b".into()],
            answer: Some(1),
            explain: None,
            try_steps: vec![],
            shown_by: ShownBy::Run,
        }
    }

    #[test]
    fn a_question_needs_choices_and_an_answer_among_them() {
        assert_eq!(lesson().check(), Ok(()));
        let mut bad = lesson();
        bad.answer = Some(2);
        assert_eq!(bad.check().unwrap_err().0, "answer");
        bad.answer = None;
        assert_eq!(bad.check().unwrap_err().0, "answer");
        bad.choices.truncate(1);
        assert_eq!(bad.check().unwrap_err().0, "choices");
        let mut no_question = lesson();
        no_question.question = None;
        assert_eq!(no_question.check().unwrap_err().0, "question");
        no_question.choices.clear();
        no_question.answer = None;
        assert_eq!(no_question.check(), Ok(()));
    }

    #[test]
    fn the_answer_waits_for_the_evidence_the_lesson_names() {
        let shared = [Mode::Shared];
        let mut progress = Progress::default();
        let run = lesson();
        assert!(matches!(
            run.answer(&progress, Mode::Shared, &shared),
            Answer::Waiting(_)
        ));
        // A mode without checkpoints for the question shows nothing, and says where to look.
        let Answer::Waiting(elsewhere) = run.answer(&progress, Mode::Cdc, &shared) else {
            panic!("shown in a mode without checkpoints");
        };
        assert!(elsewhere.contains("in shared"), "{elsewhere}");
        progress.settle(Mode::Cdc);
        assert!(matches!(
            run.answer(&progress, Mode::Cdc, &shared),
            Answer::Waiting(_)
        ));
        progress.settle(Mode::Shared);
        assert_eq!(run.answer(&progress, Mode::Cdc, &shared), Answer::Shown);

        let both = [Mode::Shared, Mode::Cdc];
        let compare = LessonSpec {
            shown_by: ShownBy::Compare,
            ..lesson()
        };
        let mut progress = Progress::default();
        progress.settle(Mode::Shared);
        let Answer::Waiting(half) = compare.answer(&progress, Mode::Shared, &both) else {
            panic!("shown by one mode of two");
        };
        assert!(half.contains("1 of 2"), "{half}");
        progress.settle(Mode::Cdc);
        assert_eq!(compare.answer(&progress, Mode::Cdc, &both), Answer::Shown);
        let compared = Progress {
            compared: true,
            ..Progress::default()
        };
        assert_eq!(
            compare.answer(&compared, Mode::Shared, &both),
            Answer::Shown
        );

        let sweep = LessonSpec {
            shown_by: ShownBy::Sweep,
            ..lesson()
        };
        let mut progress = Progress::default();
        progress.settle(Mode::Shared);
        assert!(matches!(
            sweep.answer(&progress, Mode::Shared, &shared),
            Answer::Waiting(_)
        ));
        progress.swept = true;
        assert_eq!(
            sweep.answer(&progress, Mode::Shared, &shared),
            Answer::Shown
        );
    }
}
