//! The wrapper future every run's driver is polled through.
//!
//! Generated code keeps the user's own return type for `?` and `return`, so the runtime's
//! failures (a storage error, corrupt state, a halt) cannot travel through it. Instead
//! `Context` puts them in an [`AbortSlot`] and parks the driver forever; [`Supervised`] checks
//! the slot after every poll that returns `Pending` and ends the run with it. It also turns a
//! panic anywhere in the driver (a step included) into an outcome instead of a dead task.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use crate::blocking::PollTimer;
use crate::error::Error;
use crate::run::RunId;
use crate::workflow::BoxFuture;

/// Why a driver was stopped from outside its own control flow.
#[derive(Debug)]
pub(crate) enum Abort {
    /// The transition hook asked to stop as if the process died after the last commit.
    Halt,
    /// The runtime could not go on (storage, encoding, corrupt state).
    Error(Error),
    /// The workflow's code asked for something that cannot be made durable (a loop over an
    /// iterator without an end, a second step inside one `.await`): the run fails with this
    /// error, as if it had returned it, and `Client::resume` continues it once the code is
    /// fixed.
    Fail(Error),
    /// The run reached a durable sleep whose wake-up time is committed: its task ends and the
    /// timer resumes it from its last committed state at `wake_at`.
    Suspend {
        /// When to resume the run.
        wake_at: std::time::SystemTime,
    },
    /// The run reached `wait_for_user` and its question is committed: its task ends and the
    /// answer watcher resumes it once an answer is committed, or at `deadline` (the default
    /// answer's) if there is one. Also a run parked on its child runs (`Context::child`,
    /// `deadline` `None`): the watcher resumes it once they have finished.
    AwaitAnswer {
        /// When the question's default answer is taken.
        deadline: Option<std::time::SystemTime>,
    },
}

/// Shared between a run's `Context` and its [`Supervised`] wrapper: why to stop the run, and
/// the step in progress (named in the report of a step that blocks its thread).
#[derive(Clone, Debug, Default)]
pub(crate) struct AbortSlot(Arc<Mutex<Slot>>);

#[derive(Debug, Default)]
struct Slot {
    abort: Option<Abort>,
    step: Option<&'static str>,
}

impl AbortSlot {
    pub fn set(&self, abort: Abort) {
        let mut slot = lock(&self.0);
        // The first reason is the real one; anything after it is a consequence.
        if slot.abort.is_none() {
            slot.abort = Some(abort);
        }
    }

    fn take(&self) -> Option<Abort> {
        lock(&self.0).abort.take()
    }

    /// Records the step the run has begun.
    pub fn set_step(&self, step: &'static str) {
        lock(&self.0).step = Some(step);
    }

    fn step(&self) -> Option<&'static str> {
        lock(&self.0).step
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked (every critical
/// section here is a single assignment or map operation).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How a supervised driver ended.
pub(crate) enum Outcome<T> {
    /// The driver returned.
    Done(T),
    /// The driver panicked; the message of the panic.
    Panicked(String),
    /// The driver was aborted through its slot.
    Aborted(Abort),
}

/// Polls a driver, catching panics and aborts, and reporting a poll that blocks its thread
/// (see [`crate::blocking`]). The driver is dropped as soon as it ends.
pub(crate) struct Supervised<'a, T> {
    driver: Option<BoxFuture<'a, T>>,
    slot: AbortSlot,
    run: RunId,
    workflow: &'static str,
}

impl<'a, T> Supervised<'a, T> {
    pub fn new(
        driver: BoxFuture<'a, T>,
        slot: AbortSlot,
        run: RunId,
        workflow: &'static str,
    ) -> Self {
        Supervised {
            driver: Some(driver),
            slot,
            run,
            workflow,
        }
    }
}

impl<T> Future for Supervised<'_, T> {
    type Output = Outcome<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome<T>> {
        let Some(driver) = self.driver.as_mut() else {
            // Polled after completion: there is nothing left to drive.
            return Poll::Pending;
        };
        let timer = PollTimer::start();
        let polled = catch_unwind(AssertUnwindSafe(|| driver.as_mut().poll(cx)));
        timer.finish(self.run, self.workflow, || self.slot.step());
        let outcome = match polled {
            Ok(Poll::Ready(value)) => Outcome::Done(value),
            Ok(Poll::Pending) => match self.slot.take() {
                Some(abort) => Outcome::Aborted(abort),
                None => return Poll::Pending,
            },
            Err(payload) => Outcome::Panicked(panic_message(payload.as_ref())),
        };
        self.driver = None;
        Poll::Ready(outcome)
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic without a message".to_owned()
    }
}
