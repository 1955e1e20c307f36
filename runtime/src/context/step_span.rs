//! The `tracing` span of one step, from the moment it starts to the commit of its result.
//!
//! A step's span is made when the step begins (`Context::begin_step`), inside the span of its
//! run (`run_task.rs`), so it is the run span's child; the step's future is polled inside it.
//! It stays open until the step's result is durable or the run stops, because that is when
//! the step is done as far as the workflow is concerned: a step whose task ends before its
//! commit runs again after a restart. On close it records:
//!
//! - `attempt`: the attempt in progress, from 1 (recorded again as each retry begins);
//! - `duration_ms`: wall-clock milliseconds from the start to the close (a monotonic clock,
//!   not the runtime's [`Clock`](crate::Clock), which a test may have stopped);
//! - `outcome`: one of [`StepOutcome`]'s names;
//! - `error`: for a step with a retry policy or timeout, the error of its last attempt if it
//!   failed.
//!
//! Spans are at `INFO` level, so that a subscriber filtering at the usual level sees them and
//! an OpenTelemetry layer exports them as traces. With no subscriber interested, a span is
//! disabled and costs a check of its callsite.

use std::time::Instant;

use tracing::Span;

use crate::run::RunId;

/// How a step ended, as its span's `outcome` field says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StepOutcome {
    /// `"committed"`: its result was committed with the next transition (or the run's end).
    Committed,
    /// `"failed"`: the run failed at this step (its error ended the workflow, or it panicked).
    Failed,
    /// `"suspended"`: a durable sleep or a question: the run's task ended, on disk until its
    /// wake-up or answer; the step starts again (and commits) when the run resumes.
    Suspended,
    /// `"interrupted"`: the task ended before the result was committed (shutdown, a storage
    /// error, the transition hook halting it): the step runs again when the run resumes.
    Interrupted,
}

impl StepOutcome {
    fn name(self) -> &'static str {
        match self {
            StepOutcome::Committed => "committed",
            StepOutcome::Failed => "failed",
            StepOutcome::Suspended => "suspended",
            StepOutcome::Interrupted => "interrupted",
        }
    }
}

/// The span of the step in progress; closes as [`StepOutcome::Interrupted`] if dropped
/// unclosed.
#[derive(Debug)]
pub(crate) struct StepSpan {
    span: Span,
    /// When the step began; `None` when the span is disabled (no subscriber wants it).
    started: Option<Instant>,
    closed: bool,
}

impl StepSpan {
    /// Opens the span of step `name` of `run`, at `position`, as a child of the current span
    /// (the run's).
    pub fn start(run: RunId, workflow: &'static str, name: &'static str, position: u64) -> Self {
        let span = tracing::info_span!(
            "step",
            run = run.0,
            workflow,
            step = name,
            position,
            attempt = 1u32,
            duration_ms = tracing::field::Empty,
            outcome = tracing::field::Empty,
            error = tracing::field::Empty,
        );
        let started = (!span.is_disabled()).then(Instant::now);
        StepSpan {
            span,
            started,
            closed: false,
        }
    }

    /// The span, to poll the step's future in.
    pub fn span(&self) -> &Span {
        &self.span
    }

    /// Records that attempt `attempt` (from 1) begins.
    pub fn attempt(&self, attempt: u32) {
        self.span.record("attempt", attempt);
    }

    /// Records the error of the step's last attempt.
    pub fn error(&self, error: &str) {
        self.span.record("error", error);
    }

    /// Records the duration and `outcome`; the span closes once the last handle on it (this
    /// one, or a future still polled in it) is dropped.
    pub fn close(&mut self, outcome: StepOutcome) {
        if self.closed {
            return;
        }
        self.closed = true;
        if let Some(started) = self.started {
            let millis = started.elapsed().as_secs_f64() * 1000.0;
            self.span.record("duration_ms", millis);
        }
        self.span.record("outcome", outcome.name());
    }
}

impl Drop for StepSpan {
    fn drop(&mut self) {
        self.close(StepOutcome::Interrupted);
    }
}
