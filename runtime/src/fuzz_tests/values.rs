//! The values the properties encode and then damage: user values of the usual shapes, and
//! arbitrary run records, history records, questions and answers.

use std::collections::BTreeMap;

use proptest::collection::vec;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use crate::history::{HistoryOutcome, HistoryRecord};
use crate::question::{Answer, AnswerOption, Question};
use crate::run::Status;
use crate::store::RunRecord;
use crate::store::hitl::StoredQuestion;

// ---------------------------------------------------------------------------------------------
// Values.

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) enum Kind {
    Draft,
    Published { year: u16 },
    Retracted(String),
}

/// A user value of the usual shape: postcard stores it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct Paper {
    id: u64,
    title: String,
    scores: Vec<u32>,
    tags: BTreeMap<String, i64>,
    source: Option<String>,
    kind: Kind,
}

/// Internally tagged: postcard cannot decode it, so it is stored as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub(super) enum Tagged {
    A { x: u32 },
    B { s: String, n: Option<i64> },
}

pub(super) fn paper() -> impl Strategy<Value = Paper> {
    (
        any::<u64>(),
        ".{0,12}",
        vec(any::<u32>(), 0..8),
        prop::collection::btree_map(".{0,6}", any::<i64>(), 0..4),
        proptest::option::of(".{0,12}"),
        prop_oneof![
            Just(Kind::Draft),
            any::<u16>().prop_map(|year| Kind::Published { year }),
            ".{0,8}".prop_map(Kind::Retracted),
        ],
    )
        .prop_map(|(id, title, scores, tags, source, kind)| Paper {
            id,
            title,
            scores,
            tags,
            source,
            kind,
        })
}

pub(super) fn tagged() -> impl Strategy<Value = Tagged> {
    prop_oneof![
        any::<u32>().prop_map(|x| Tagged::A { x }),
        (".{0,8}", proptest::option::of(any::<i64>())).prop_map(|(s, n)| Tagged::B { s, n }),
    ]
}

pub(super) fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Pending),
        Just(Status::Running),
        Just(Status::Waiting),
        Just(Status::Completed),
        Just(Status::Failed),
    ]
}

pub(super) fn run_record() -> impl Strategy<Value = RunRecord> {
    (
        (".{0,12}", any::<u64>(), status(), ".{0,12}"),
        (
            proptest::option::of(".{0,8}"),
            any::<u64>(),
            vec(any::<u8>(), 0..32),
        ),
        (
            proptest::option::of(vec(any::<u8>(), 0..64)),
            proptest::option::of(vec(any::<u8>(), 0..16)),
            proptest::option::of(".{0,16}"),
            any::<u64>(),
            any::<u64>(),
        ),
    )
        .prop_map(
            |(
                (workflow, fingerprint, status, state_name),
                (step, transitions, input),
                (state, output, error, created_at_ms, updated_at_ms),
            )| RunRecord {
                workflow,
                fingerprint,
                status,
                state_name,
                step,
                transitions,
                input,
                state,
                output,
                error,
                created_at_ms,
                updated_at_ms,
                hints: crate::store::Hints::UNKNOWN,
            },
        )
}

pub(super) fn history_record() -> impl Strategy<Value = HistoryRecord> {
    (
        (any::<u64>(), ".{0,12}", proptest::option::of(".{0,8}")),
        (any::<u64>(), any::<u64>(), any::<u32>()),
        vec(".{0,16}", 0..3),
        prop_oneof![
            Just(HistoryOutcome::Committed),
            Just(HistoryOutcome::Completed),
            ".{0,16}".prop_map(|message| HistoryOutcome::Failed { message }),
        ],
    )
        .prop_map(
            |((number, state, step), (started_at_ms, ended_at_ms, attempts), errors, outcome)| {
                HistoryRecord {
                    number,
                    state,
                    step,
                    started_at_ms,
                    ended_at_ms,
                    attempts,
                    attempt_errors: errors,
                    outcome,
                }
            },
        )
}

pub(super) fn answer() -> impl Strategy<Value = Answer> {
    prop_oneof![
        Just(Answer::Approved),
        Just(Answer::Rejected),
        ".{0,8}".prop_map(Answer::Choice),
        vec(".{0,8}", 0..3).prop_map(Answer::Choices),
        ".{0,16}".prop_map(Answer::Text),
        ".{0,16}".prop_map(Answer::Custom),
        Just(Answer::Skipped),
    ]
}

pub(super) fn question() -> impl Strategy<Value = Question> {
    let options = vec(
        (".{0,4}", ".{0,8}").prop_map(|(id, label)| AnswerOption::new(id, label)),
        1..4,
    );
    (
        prop_oneof![
            ".{0,16}".prop_map(Question::approval),
            (".{0,16}", options.clone()).prop_map(|(text, o)| Question::choice(text, o)),
            (".{0,16}", options).prop_map(|(text, o)| Question::multiple_choice(text, o)),
            ".{0,16}".prop_map(Question::text),
        ],
        any::<bool>(),
        proptest::option::of((any::<u32>(), answer())),
    )
        .prop_map(|(question, skip, timeout)| {
            let question = if skip {
                question.allow_skip()
            } else {
                question
            };
            match timeout {
                Some((ms, default)) => {
                    question.timeout(std::time::Duration::from_millis(ms.into()), default)
                }
                None => question,
            }
        })
}

pub(super) fn stored_question() -> impl Strategy<Value = StoredQuestion> {
    (
        ".{0,12}",
        question(),
        any::<u64>(),
        proptest::option::of(any::<u64>()),
        proptest::option::of(answer()),
        proptest::option::of(any::<u64>()),
        any::<bool>(),
    )
        .prop_map(
            |(workflow, question, asked_at_ms, deadline_ms, answer, answered_at_ms, timed_out)| {
                StoredQuestion {
                    workflow,
                    question,
                    asked_at_ms,
                    deadline_ms,
                    answer,
                    answered_at_ms,
                    timed_out,
                }
            },
        )
}
