//! What a workflow asks a person, and the typed answers it can get back.
//!
//! A [`Question`] is built with one constructor per input type people know (approval, single
//! choice, multiple choice, free text) and a few options (a custom answer besides the listed
//! ones, skipping, a timeout with a default answer). It is committed with the run when the
//! workflow reaches [`Context::wait_for_user`](crate::Context::wait_for_user), and every answer
//! is checked against it with [`Question::check_answer`] before it is committed, so the
//! workflow only ever sees an answer that fits the question it asked.
//!
//! Both types are stored with postcard: variant and field order are part of the stored format.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Option ids of an approval question.
const APPROVE: &str = "approve";
const REJECT: &str = "reject";

/// The kind of input a question asks for.
// Stored: append variants only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InputKind {
    /// Approve or reject (options `approve` and `reject`).
    Approval,
    /// Exactly one of the options.
    Choice,
    /// Any number of the options (none included).
    MultipleChoice,
    /// Free text.
    Text,
}

impl std::fmt::Display for InputKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InputKind::Approval => "approval",
            InputKind::Choice => "choice",
            InputKind::MultipleChoice => "multiple choice",
            InputKind::Text => "text",
        })
    }
}

/// One option of a question: a stable id (what answers name) and a label (what people read).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AnswerOption {
    /// What an answer names, say `"eu-west"`.
    pub id: String,
    /// What a person reads, say `"Europe (Ireland)"`.
    pub label: String,
}

impl AnswerOption {
    /// An option with an id and a label.
    pub fn new(id: impl Into<String>, label: impl Into<String>) -> AnswerOption {
        AnswerOption {
            id: id.into(),
            label: label.into(),
        }
    }
}

/// A person's answer, as [`Context::wait_for_user`](crate::Context::wait_for_user) returns it.
// Stored: append variants only.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Answer {
    /// An approval question was approved.
    Approved,
    /// An approval question was rejected.
    Rejected,
    /// The id of the option chosen in a single-choice question.
    Choice(String),
    /// The ids of the options chosen in a multiple-choice question, in the order given.
    Choices(Vec<String>),
    /// The text typed for a text question.
    Text(String),
    /// A custom answer besides the listed options, where the question allows one.
    Custom(String),
    /// The person skipped the question, where it allows that.
    Skipped,
}

impl Answer {
    /// Whether this is [`Answer::Approved`].
    pub fn is_approved(&self) -> bool {
        matches!(self, Answer::Approved)
    }

    /// Whether this is [`Answer::Skipped`].
    pub fn is_skipped(&self) -> bool {
        matches!(self, Answer::Skipped)
    }

    /// The chosen option id of a single choice.
    pub fn choice(&self) -> Option<&str> {
        match self {
            Answer::Choice(id) => Some(id),
            _ => None,
        }
    }

    /// The text of a text or custom answer.
    pub fn text(&self) -> Option<&str> {
        match self {
            Answer::Text(text) | Answer::Custom(text) => Some(text),
            _ => None,
        }
    }

    /// Reads an answer as a person types it on a command line: `approve`/`yes` and
    /// `reject`/`no` for an approval, an option id (or comma-separated ids) for a choice,
    /// anything for a text, `skip` where skipping is allowed; anything else is a custom answer
    /// (which [`Question::check_answer`] refuses unless the question allows it).
    pub fn parse_for(question: &Question, input: &str) -> Answer {
        let input = input.trim();
        if question.allow_skip && input == "skip" {
            return Answer::Skipped;
        }
        let is_option = |id: &str| question.options.iter().any(|o| o.id == id);
        match question.kind {
            InputKind::Approval => match input {
                APPROVE | "approved" | "yes" | "y" => Answer::Approved,
                REJECT | "rejected" | "no" | "n" => Answer::Rejected,
                other => Answer::Custom(other.to_owned()),
            },
            InputKind::Choice if is_option(input) => Answer::Choice(input.to_owned()),
            InputKind::MultipleChoice if input.split(',').map(str::trim).all(is_option) => {
                Answer::Choices(input.split(',').map(|id| id.trim().to_owned()).collect())
            }
            InputKind::Text => Answer::Text(input.to_owned()),
            InputKind::Choice | InputKind::MultipleChoice => Answer::Custom(input.to_owned()),
        }
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Approved => f.write_str("approved"),
            Answer::Rejected => f.write_str("rejected"),
            Answer::Choice(id) => write!(f, "chose {id}"),
            Answer::Choices(ids) => write!(f, "chose [{}]", ids.join(", ")),
            Answer::Text(text) => write!(f, "{text:?}"),
            Answer::Custom(text) => write!(f, "custom {text:?}"),
            Answer::Skipped => f.write_str("skipped"),
        }
    }
}

/// A question for a person: its text, input kind, options, and what to do if nobody answers.
///
/// ```
/// # use cairn_runtime::{Answer, Question, AnswerOption};
/// # use std::time::Duration;
/// let approve = Question::approval("Deploy v2 to prod?")
///     .timeout(Duration::from_secs(24 * 3600), Answer::Rejected);
/// let region = Question::choice(
///     "Which region?",
///     [AnswerOption::new("eu", "Europe"), AnswerOption::new("us", "United States")],
/// )
/// .allow_custom()
/// .allow_skip();
/// # let _ = (approve, region);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    text: String,
    kind: InputKind,
    options: Vec<AnswerOption>,
    allow_custom: bool,
    allow_skip: bool,
    /// Milliseconds after which `default` is taken; milliseconds rather than a `Duration` so
    /// that the stored form is two plain integers.
    timeout_ms: Option<u64>,
    default: Option<Answer>,
}

impl Question {
    fn new(text: impl Into<String>, kind: InputKind, options: Vec<AnswerOption>) -> Question {
        Question {
            text: text.into(),
            kind,
            options,
            allow_custom: false,
            allow_skip: false,
            timeout_ms: None,
            default: None,
        }
    }

    /// Approve or reject; answered with [`Answer::Approved`] or [`Answer::Rejected`] (or
    /// [`Answer::Choice`] of `"approve"` / `"reject"`, the ids of its two options).
    pub fn approval(text: impl Into<String>) -> Question {
        Question::new(
            text,
            InputKind::Approval,
            vec![
                AnswerOption::new(APPROVE, "Approve"),
                AnswerOption::new(REJECT, "Reject"),
            ],
        )
    }

    /// Exactly one of `options`; answered with [`Answer::Choice`].
    pub fn choice(
        text: impl Into<String>,
        options: impl IntoIterator<Item = AnswerOption>,
    ) -> Question {
        Question::new(text, InputKind::Choice, options.into_iter().collect())
    }

    /// One or more of `options`; answered with [`Answer::Choices`] (an empty choice is refused:
    /// allow [skipping](Self::allow_skip) for "none of these").
    pub fn multiple_choice(
        text: impl Into<String>,
        options: impl IntoIterator<Item = AnswerOption>,
    ) -> Question {
        Question::new(
            text,
            InputKind::MultipleChoice,
            options.into_iter().collect(),
        )
    }

    /// Free text; answered with [`Answer::Text`].
    pub fn text(text: impl Into<String>) -> Question {
        Question::new(text, InputKind::Text, Vec::new())
    }

    /// Also accepts [`Answer::Custom`]: an answer besides the listed options.
    #[must_use]
    pub fn allow_custom(mut self) -> Question {
        self.allow_custom = true;
        self
    }

    /// Also accepts [`Answer::Skipped`].
    #[must_use]
    pub fn allow_skip(mut self) -> Question {
        self.allow_skip = true;
        self
    }

    /// Takes `default` as the answer if nobody answers within `after` of the question being
    /// asked. The deadline is committed with the question, so it holds across restarts.
    #[must_use]
    pub fn timeout(mut self, after: Duration, default: Answer) -> Question {
        self.timeout_ms = Some(u64::try_from(after.as_millis()).unwrap_or(u64::MAX));
        self.default = Some(default);
        self
    }

    /// The question's text.
    pub fn prompt(&self) -> &str {
        &self.text
    }

    /// Its input kind.
    pub fn kind(&self) -> InputKind {
        self.kind
    }

    /// Its options (approve and reject for an approval, none for a text).
    pub fn options(&self) -> &[AnswerOption] {
        &self.options
    }

    /// Whether a custom answer is accepted.
    pub fn allows_custom(&self) -> bool {
        self.allow_custom
    }

    /// Whether skipping is accepted.
    pub fn allows_skip(&self) -> bool {
        self.allow_skip
    }

    /// The timeout and its default answer, if any.
    pub fn timeout_and_default(&self) -> Option<(Duration, &Answer)> {
        Some((
            Duration::from_millis(self.timeout_ms?),
            self.default.as_ref()?,
        ))
    }

    pub(crate) fn timeout_ms(&self) -> Option<u64> {
        self.timeout_ms
    }

    pub(crate) fn default_answer(&self) -> Option<&Answer> {
        self.default.as_ref()
    }

    /// Checks that the question itself makes sense: a choice has options, option ids are
    /// distinct, the default answer fits. Returns what is wrong.
    pub(crate) fn check(&self) -> Result<(), String> {
        if matches!(self.kind, InputKind::Choice | InputKind::MultipleChoice)
            && self.options.is_empty()
        {
            return Err(format!("a {} question needs options", self.kind));
        }
        for (i, option) in self.options.iter().enumerate() {
            if self.options[..i].iter().any(|o| o.id == option.id) {
                return Err(format!("option id `{}` is given twice", option.id));
            }
        }
        if let Some(default) = &self.default {
            self.check_answer(default)
                .map_err(|reason| format!("the default answer does not fit: {reason}"))?;
        }
        Ok(())
    }

    /// Checks `answer` against the question and returns it in its canonical form (a choice of
    /// `"approve"` for an approval becomes [`Answer::Approved`]), or says why it does not fit.
    pub fn check_answer(&self, answer: &Answer) -> Result<Answer, String> {
        let known = |id: &str| self.options.iter().any(|o| o.id == id);
        let ids = || {
            self.options
                .iter()
                .map(|o| o.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match (self.kind, answer) {
            (_, Answer::Skipped) if self.allow_skip => Ok(Answer::Skipped),
            (_, Answer::Skipped) => Err("this question cannot be skipped".to_owned()),
            (_, Answer::Custom(_)) if self.allow_custom => Ok(answer.clone()),
            (_, Answer::Custom(_)) => Err(format!(
                "this question takes no custom answer, only one of: {}",
                ids()
            )),
            (InputKind::Approval, Answer::Approved | Answer::Rejected) => Ok(answer.clone()),
            (InputKind::Approval, Answer::Choice(id)) if id == APPROVE => Ok(Answer::Approved),
            (InputKind::Approval, Answer::Choice(id)) if id == REJECT => Ok(Answer::Rejected),
            (InputKind::Choice | InputKind::Approval, Answer::Choice(id)) if !known(id) => {
                Err(format!("`{id}` is not one of the options ({})", ids()))
            }
            (InputKind::Choice, Answer::Choice(_)) => Ok(answer.clone()),
            (InputKind::MultipleChoice, Answer::Choices(chosen)) => {
                if chosen.is_empty() {
                    // "None of these" is a skip, which the question must allow: an empty
                    // choice would let a caller bypass that.
                    return Err(format!(
                        "choose at least one of the options ({}){}",
                        ids(),
                        if self.allow_skip { ", or skip" } else { "" }
                    ));
                }
                if let Some(id) = chosen.iter().find(|id| !known(id)) {
                    return Err(format!("`{id}` is not one of the options ({})", ids()));
                }
                let mut seen = chosen.iter().enumerate();
                if let Some((_, id)) = seen.find(|(i, id)| chosen[..*i].contains(id)) {
                    return Err(format!("`{id}` is chosen twice"));
                }
                Ok(answer.clone())
            }
            (InputKind::Text, Answer::Text(_)) => Ok(answer.clone()),
            (kind, answer) => Err(format!("{answer} does not answer a {kind} question")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_checked_against_the_question() {
        let approval = Question::approval("ok?");
        assert_eq!(
            approval.check_answer(&Answer::Approved),
            Ok(Answer::Approved)
        );
        assert_eq!(
            approval.check_answer(&Answer::Choice("reject".into())),
            Ok(Answer::Rejected)
        );
        assert!(approval.check_answer(&Answer::Text("yes".into())).is_err());
        assert!(approval.check_answer(&Answer::Skipped).is_err());
        assert!(
            approval
                .check_answer(&Answer::Custom("maybe".into()))
                .is_err()
        );

        let options = [AnswerOption::new("a", "A"), AnswerOption::new("b", "B")];
        let choice = Question::choice("which?", options.clone()).allow_custom();
        assert!(choice.check_answer(&Answer::Choice("c".into())).is_err());
        assert!(choice.check_answer(&Answer::Custom("c".into())).is_ok());
        assert!(choice.check_answer(&Answer::Approved).is_err());

        let many = Question::multiple_choice("which?", options).allow_skip();
        assert!(
            many.check_answer(&Answer::Choices(vec!["a".into(), "b".into()]))
                .is_ok()
        );
        assert!(
            many.check_answer(&Answer::Choices(vec!["a".into(), "a".into()]))
                .is_err()
        );
        assert!(
            many.check_answer(&Answer::Choices(vec!["z".into()]))
                .is_err()
        );
        assert_eq!(many.check_answer(&Answer::Skipped), Ok(Answer::Skipped));
        assert!(many.check_answer(&Answer::Choices(Vec::new())).is_err());
    }

    #[test]
    fn questions_are_checked() {
        assert!(Question::choice("which?", []).check().is_err());
        let twice = [AnswerOption::new("a", "A"), AnswerOption::new("a", "B")];
        assert!(Question::choice("which?", twice).check().is_err());
        let bad_default =
            Question::approval("ok?").timeout(Duration::from_secs(1), Answer::Skipped);
        assert!(bad_default.check().is_err());
        let options = [AnswerOption::new("a", "A")];
        let empty_default = Question::multiple_choice("which?", options)
            .timeout(Duration::from_secs(1), Answer::Choices(Vec::new()));
        assert!(empty_default.check().is_err());
        assert!(Question::text("why?").check().is_ok());
    }

    #[test]
    fn typed_answers_parse() {
        let approval = Question::approval("ok?");
        assert_eq!(Answer::parse_for(&approval, "yes"), Answer::Approved);
        let options = [AnswerOption::new("a", "A"), AnswerOption::new("b", "B")];
        let many = Question::multiple_choice("which?", options);
        assert_eq!(
            Answer::parse_for(&many, "a, b"),
            Answer::Choices(vec!["a".into(), "b".into()])
        );
    }
}
