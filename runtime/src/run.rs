//! Identity and progress of a run, as the client sees them.

use std::fmt;
use std::num::ParseIntError;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Identifies one run of a workflow. Ids are allocated in increasing order and never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub u64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for RunId {
    type Err = ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(RunId)
    }
}

/// Where a run is in its life.
// The variant order is part of the stored format (postcard encodes the index): append only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Status {
    /// Created; no transition committed yet.
    Pending,
    /// At least one transition committed, not finished.
    Running,
    /// Finished with an output.
    Completed,
    /// Finished with an error.
    Failed,
    /// Suspended in a durable sleep or waiting for a person's answer: no task and no memory in
    /// any process, only a wake-up time or a question on disk.
    Waiting,
    /// Quarantined: its stored bytes do not decode, or its index entries could not be derived
    /// from them. Never stored in a run record (the mark is kept apart, since the record may be
    /// what is damaged): listings show it, with the reason as the run's error. Left alone by
    /// every restart until it is failed, resumed or purged (see
    /// [`Client::resume`](crate::Client::resume)).
    Corrupt,
    /// Ended by [`Client::cancel`](crate::Client::cancel): finished, with neither output nor
    /// error, its index entries gone; it never runs again.
    Cancelled,
    /// Held by [`Client::pause`](crate::Client::pause): stored, with no task in any process
    /// and not resumed by a restart, until [`Client::unpause`](crate::Client::unpause).
    Paused,
    /// Waiting in its queue ([`Limits`](crate::Limits)) for a free slot or for its rate
    /// limit: stored, with no task in any process, started by a runtime when the queue admits
    /// it (then [`Pending`](Status::Pending)).
    Queued,
}

impl Status {
    /// Whether the run has ended: with an output, an error, or cancelled.
    pub fn is_finished(self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Cancelled)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Waiting => "waiting",
            Status::Corrupt => "corrupt",
            Status::Cancelled => "cancelled",
            Status::Paused => "paused",
            Status::Queued => "queued",
        })
    }
}

/// A snapshot of a run's progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStatus {
    /// The run.
    pub id: RunId,
    /// Name of its workflow.
    pub workflow: String,
    /// Where it is in its life.
    pub status: Status,
    /// Name of the last committed state (`"Start"` before the first transition).
    pub state: String,
    /// Step whose completion led to the current state, if any.
    pub step: Option<String>,
    /// Number of committed transitions.
    pub transitions: u64,
    /// Error message of a failed run.
    pub error: Option<String>,
    /// When the run was created, in milliseconds since the Unix epoch, by the runtime's clock
    /// (0 when its record is unreadable).
    #[serde(default)]
    pub created_at_ms: u64,
    /// When its record last changed (its last commit, its end), likewise.
    #[serde(default)]
    pub updated_at_ms: u64,
}
