//! A question a run waits on, as `cairn questions` and `cairn show` present it: one line of
//! text for people (its kind and what answers it), an object for scripts.

use std::time::{SystemTime, UNIX_EPOCH};

use cairn::{InputKind, PendingQuestion, Question};
use serde_json::json;

/// What answers the question, as `cairn answer` reads it: `approve | reject`, the option ids,
/// `TEXT`, and `skip` where allowed.
pub fn answers(question: &Question) -> String {
    let mut answers: Vec<String> = match question.kind() {
        InputKind::Text => vec!["TEXT".to_owned()],
        InputKind::MultipleChoice => vec![format!(
            "{} (comma-separated)",
            option_ids(question).join(",")
        )],
        _ => option_ids(question),
    };
    if question.allows_custom() {
        answers.push("CUSTOM TEXT".to_owned());
    }
    if question.allows_skip() {
        answers.push("skip".to_owned());
    }
    answers.join(" | ")
}

fn option_ids(question: &Question) -> Vec<String> {
    question.options().iter().map(|o| o.id.clone()).collect()
}

/// The question as `--json` shows it.
pub fn json(pending: &PendingQuestion) -> serde_json::Value {
    let question = &pending.question;
    let (timeout_ms, default) = match question.timeout_and_default() {
        Some((after, default)) => (Some(after.as_millis()), Some(default)),
        None => (None, None),
    };
    json!({
        "run": pending.run,
        "workflow": pending.workflow,
        "text": question.prompt(),
        "kind": question.kind(),
        "options": question.options(),
        "allows_custom": question.allows_custom(),
        "allows_skip": question.allows_skip(),
        "timeout_ms": timeout_ms,
        "default": default,
        "asked_at_ms": ms(pending.asked_at),
        "deadline_ms": pending.deadline.map(ms),
    })
}

/// A time as milliseconds since the Unix epoch, as the store keeps times.
pub fn ms(time: SystemTime) -> u64 {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}
