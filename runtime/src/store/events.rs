//! What the store keeps for events sent into runs ([`Client::send`](crate::Client::send),
//! [`Context::wait_for_event`](crate::Context::wait_for_event)) and for the attempts of a
//! retrying step: the plain data the [`WriteOp`](crate::store::WriteOp)s of both carry and
//! return, shared by every backend.
//!
//! **Events.** Each run has a queue per event name, in the order the sends committed. A
//! `wait_for_event` at position n takes the first event of its name off the queue and *binds*
//! it to (run, n) in the same write; the await in progress returns the bound event however
//! often it is re-entered (a crash before the next commit, a failed run resumed), and the
//! commit that ends the await drops the binding. So an event leaves the queue exactly once, and
//! the state that holds it is committed at most once on top of it. With nothing queued the run
//! is parked (status waiting, out of the active index, holding no task), with its deadline as a
//! durable sleep if it has a timeout; a send to a run parked on that name makes it runnable and
//! hands it over to the runtime (see `lmdb/handover.rs`) in the send's own write.
//!
//! **Attempts.** A retrying step whose attempt failed and that will try again stores how many
//! attempts it has made and when the next one is due, keyed by (run, position), before the
//! backoff starts; a run resumed there continues the backoff instead of starting at attempt 1.
//! A step that succeeds at its first attempt writes nothing here.

use serde::{Deserialize, Serialize};

/// The step name of an event wait, in the history. The commit after an await whose history
/// names it drops the await's event wait; the commit after a step with more than one attempt
/// drops its stored attempts: every other commit, the common case, touches neither table.
pub(crate) const EVENT_STEP: &str = "wait_for_event";

/// A run's wait for an event at one position, as stored. Append fields only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredWait {
    /// The event's name.
    pub name: String,
    /// When the wait began (milliseconds since the Unix epoch), for the history.
    pub started_ms: u64,
    /// When the wait gives up, if it has a timeout.
    pub deadline_ms: Option<u64>,
    /// The event taken off the queue for this wait (its sealed payload), once there is one.
    #[serde(with = "serde_bytes")]
    pub delivered: Option<Vec<u8>>,
}

/// What an [`AwaitEvent`](crate::store::WriteOp::AwaitEvent) found.
#[derive(Debug)]
pub(crate) enum Awaited {
    /// The event (sealed payload) is bound to the await: the run goes on with it.
    Received { payload: Vec<u8>, started_ms: u64 },
    /// No event, and the deadline has passed: the run goes on without one.
    TimedOut { started_ms: u64 },
    /// No event yet: the run is parked until one is sent or its deadline comes.
    Waiting { deadline_ms: Option<u64> },
}

/// The attempts a retrying step has made at a position, stored when a failed attempt is
/// followed by a retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StoredAttempts {
    /// Attempts made (and failed) so far, from 1.
    pub failed: u32,
    /// When the next attempt is due (milliseconds since the Unix epoch): the backoff's end.
    pub retry_at_ms: u64,
}

impl StoredAttempts {
    /// The stored form: `failed` (big-endian `u32`) then `retry_at_ms` (big-endian `u64`).
    pub(crate) fn to_bytes(self) -> [u8; 12] {
        let mut bytes = [0; 12];
        bytes[..4].copy_from_slice(&self.failed.to_be_bytes());
        bytes[4..].copy_from_slice(&self.retry_at_ms.to_be_bytes());
        bytes
    }

    /// The stored form read back; `None` if it is not 12 bytes.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<StoredAttempts> {
        let failed = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?);
        let retry_at_ms = u64::from_be_bytes(bytes.get(4..12)?.try_into().ok()?);
        (bytes.len() == 12).then_some(StoredAttempts {
            failed,
            retry_at_ms,
        })
    }
}
