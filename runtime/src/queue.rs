//! Queues with limits: how many runs of a workflow (or of a named queue that several
//! workflows share) execute at once, across every process on the store, and how fast they
//! may start. Configured at registration with
//! [`RuntimeBuilder::register_with`](crate::RuntimeBuilder::register_with).
//!
//! Every new run of a limited workflow is stored [`Queued`](crate::Status::Queued): on disk,
//! in its queue's order (higher [priority](crate::Client::start_with_priority) first, then
//! start order), holding no task. The runtime's queue task admits queued runs in one write
//! while the queue has a free slot and its rate allows (`runtime/queues.rs`), and the store
//! frees a run's slot in the same commit that finishes it (`store/lmdb/queues.rs`), so the
//! cap is kept by the store, not by a process's memory: it holds after a crash and with
//! several processes.

use std::time::Duration;

use crate::error::Error;

/// Longest queue name, in bytes.
pub const MAX_QUEUE_NAME_BYTES: usize = 200;

/// Limits on a workflow's runs: see
/// [`RuntimeBuilder::register_with`](crate::RuntimeBuilder::register_with).
///
/// ```
/// use std::time::Duration;
/// use cairn_runtime::Limits;
///
/// // At most 5 runs at once, at most 10 started per second, in the queue "emails" that
/// // other workflows registered with the same queue name share.
/// let limits = Limits::new()
///     .max_concurrent_runs(5)
///     .rate_limit(10, Duration::from_secs(1))
///     .queue("emails");
/// # let _ = limits;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    pub(crate) queue: Option<String>,
    pub(crate) max_concurrent_runs: Option<u32>,
    pub(crate) rate: Option<(u32, Duration)>,
}

impl Limits {
    /// No limit yet: every run still goes through the queue (in priority order).
    pub fn new() -> Limits {
        Limits::default()
    }

    /// At most `runs` runs of the queue are started and not finished at once (running,
    /// sleeping or waiting for a person all count; completed, failed and cancelled runs do
    /// not), counted in the store across every process. At least 1.
    pub fn max_concurrent_runs(mut self, runs: u32) -> Limits {
        self.max_concurrent_runs = Some(runs);
        self
    }

    /// At most `starts` runs of the queue start within any window of length `per` (a
    /// sliding window on the runtime's [`Clock`](crate::Clock)): `rate_limit(10,
    /// Duration::from_secs(1))` is ten runs per second.
    pub fn rate_limit(mut self, starts: u32, per: Duration) -> Limits {
        self.rate = Some((starts, per));
        self
    }

    /// Puts the workflow in the queue named `name`, whose limits every workflow in it shares
    /// (default: a queue of its own, named after the workflow). Workflows registered in one
    /// queue must give it the same limits.
    pub fn queue(mut self, name: impl Into<String>) -> Limits {
        self.queue = Some(name.into());
        self
    }
}

/// What the queue task reads before it writes: whether a pump now would admit a run, when
/// the earliest rate-limited queue allows its next start, and whether any run waits at all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct QueueCheck {
    pub ready: bool,
    pub next_ms: Option<u64>,
    pub waiting: bool,
}

/// A queue as the store keeps it: its limits and the workflows in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct QueueConfig {
    pub name: String,
    pub max_concurrent_runs: Option<u32>,
    /// Starts allowed per window, and the window in milliseconds.
    pub rate: Option<(u32, u64)>,
    pub workflows: Vec<String>,
}

/// The queues of a runtime's registrations, `(workflow, limits)`: one per queue name, its
/// limits checked. [`Error::InvalidArgument`] for a bad limit or two workflows giving one
/// queue different limits.
pub(crate) fn configs(limited: &[(&'static str, Limits)]) -> Result<Vec<QueueConfig>, Error> {
    let invalid = |reason: String| Error::InvalidArgument {
        call: "RuntimeBuilder::register_with",
        reason,
    };
    let mut queues: Vec<(QueueConfig, &Limits)> = Vec::new();
    for (workflow, limits) in limited {
        let name = limits
            .queue
            .clone()
            .unwrap_or_else(|| (*workflow).to_owned());
        if name.is_empty() || name.len() > MAX_QUEUE_NAME_BYTES || name.contains('\0') {
            return Err(invalid(format!(
                "the queue name `{name}` must be 1 to {MAX_QUEUE_NAME_BYTES} bytes, without NUL"
            )));
        }
        if limits.max_concurrent_runs == Some(0) {
            return Err(invalid(format!(
                "queue `{name}`: max_concurrent_runs must be at least 1"
            )));
        }
        let rate = match limits.rate {
            None => None,
            Some((starts, per)) => {
                let window = u64::try_from(per.as_millis()).unwrap_or(u64::MAX);
                if starts == 0 || window == 0 {
                    return Err(invalid(format!(
                        "queue `{name}`: a rate limit needs at least 1 start per at least 1 ms"
                    )));
                }
                Some((starts, window))
            }
        };
        match queues.iter_mut().find(|(q, _)| q.name == name) {
            Some((queue, first)) => {
                let caps = |l: &Limits| (l.max_concurrent_runs, l.rate);
                if caps(first) != caps(limits) {
                    return Err(invalid(format!(
                        "workflows `{}` and `{workflow}` give queue `{name}` different limits",
                        queue.workflows[0]
                    )));
                }
                queue.workflows.push((*workflow).to_owned());
            }
            None => queues.push((
                QueueConfig {
                    name,
                    max_concurrent_runs: limits.max_concurrent_runs,
                    rate,
                    workflows: vec![(*workflow).to_owned()],
                },
                limits,
            )),
        }
    }
    Ok(queues.into_iter().map(|(q, _)| q).collect())
}
