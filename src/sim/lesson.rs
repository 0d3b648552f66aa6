//! What makes a scenario a lesson (`[lesson]`): the section of the course text it teaches, a
//! question the student answers *before* running it (predict, then run, then see), the answer
//! and its explanation revealed once the run has shown it, and what to try next.
//!
//! The measured side of a lesson is its expectations ([`crate::sim::expectation`]); this is the
//! words around them.

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
}

impl LessonSpec {
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
}
