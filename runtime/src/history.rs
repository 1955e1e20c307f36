//! The history of a run: one record per committed transition, plus one for its end.
//!
//! Records are written in the same write transaction as the commit they describe, so the
//! history never shows a transition that did not happen. Resuming never reads them: they are
//! for people (`client.history(run)`), dashboards and debugging.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::clock::from_ms;

/// What one history record describes.
// The variant order is part of the stored format (postcard encodes the index): append only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HistoryOutcome {
    /// A transition was committed: the awaited step (or sleep, or `parallel`) completed.
    Committed,
    /// The run completed with an output.
    Completed,
    /// The run failed with this message.
    Failed {
        /// The workflow's error message.
        message: String,
    },
}

/// One entry of a run's history, as returned by [`Client::history`](crate::Client::history).
// Encoded with postcard: field order is part of the stored format.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRecord {
    /// Number of committed transitions after this record: `Transition::number` for a
    /// transition; for the run's end, the position it ended at.
    pub number: u64,
    /// Name of the state committed (`"Completed"` or `"Failed"` for the run's end).
    pub state: String,
    /// The step that ran in this segment, if one did.
    pub step: Option<String>,
    /// When the step started (or, without a step, when the segment began), in milliseconds
    /// since the Unix epoch, by the runtime's clock.
    pub started_at_ms: u64,
    /// When the record was committed, in milliseconds since the Unix epoch.
    pub ended_at_ms: u64,
    /// How many attempts the step took (1 without retries; 0 when no step ran).
    pub attempts: u32,
    /// Error messages of the failed attempts that were retried (or of the last one that failed
    /// the run), oldest first.
    pub attempt_errors: Vec<String>,
    /// What happened.
    pub outcome: HistoryOutcome,
}

/// Records the store's unit tests commit, so that a new field is added in one place.
#[cfg(test)]
impl HistoryRecord {
    /// A committed transition to `state` after the step `"s"`, one attempt.
    pub(crate) fn committed_for_test(state: &str) -> HistoryRecord {
        HistoryRecord {
            number: 0,
            state: state.to_owned(),
            step: Some("s".to_owned()),
            started_at_ms: 1,
            ended_at_ms: 2,
            attempts: 1,
            attempt_errors: Vec::new(),
            outcome: HistoryOutcome::Committed,
        }
    }

    /// The end of a run, completed at `state` with no step.
    pub(crate) fn completed_for_test(state: &str) -> HistoryRecord {
        HistoryRecord {
            step: None,
            outcome: HistoryOutcome::Completed,
            ..HistoryRecord::committed_for_test(state)
        }
    }
}

impl HistoryRecord {
    /// [`started_at_ms`](Self::started_at_ms) as a time.
    pub fn started_at(&self) -> SystemTime {
        from_ms(self.started_at_ms)
    }

    /// [`ended_at_ms`](Self::ended_at_ms) as a time.
    pub fn ended_at(&self) -> SystemTime {
        from_ms(self.ended_at_ms)
    }
}
