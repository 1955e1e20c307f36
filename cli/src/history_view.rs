//! A run's history record as people read it, in `cairn show` and `cairn watch`.

use std::fmt::Write;

use cairn::{HistoryOutcome, HistoryRecord};

/// What a history record says happened, with the errors of retried attempts.
pub fn outcome(record: &HistoryRecord) -> String {
    let mut outcome = match &record.outcome {
        HistoryOutcome::Committed => "committed".to_owned(),
        HistoryOutcome::Completed => "completed".to_owned(),
        HistoryOutcome::Failed { message } => format!("failed: {message}"),
        other => format!("{other:?}").to_lowercase(),
    };
    let retried = match record.outcome {
        // A failed run's last attempt error is its message, shown already.
        HistoryOutcome::Failed { .. } => record.attempt_errors.len().saturating_sub(1),
        _ => record.attempt_errors.len(),
    };
    if retried > 0 {
        let _ = write!(
            outcome,
            " (retried after: {})",
            record.attempt_errors[..retried].join("; ")
        );
    }
    outcome
}
