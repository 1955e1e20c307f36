//! The arguments of a retried step: `ctx.task(f, a, b).retry(policy)` calls `f` once per
//! attempt, each time with its own clone of `a` and `b`.
//!
//! When `#[workflow]` sees `.retry(..)` or `.retry_if(..)` on a `ctx.task(..)`, it wraps each
//! argument in [`retried_arg`], spanned on the argument. That is where an argument that is not
//! `Clone` is reported, with a message that says what to do, instead of a bound on the whole
//! argument tuple failing at `.retry`. The wrapper itself is always `Clone` (it keeps the clone
//! function of its value), so `.retry`'s own bound never adds a second error.

/// One argument of a retried step, with the function that clones it.
pub struct RetriedArg<T> {
    value: T,
    clone: fn(&T) -> T,
}

impl<T> RetriedArg<T> {
    /// The argument, for the attempt's call.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> Clone for RetriedArg<T> {
    fn clone(&self) -> Self {
        RetriedArg {
            value: (self.clone)(&self.value),
            clone: self.clone,
        }
    }
}

/// Required of every argument of a retried step: `Clone`, with a message about retries.
#[diagnostic::on_unimplemented(
    message = "this argument of a retried step is not `Clone`: each attempt calls the step with its own copy of the arguments",
    label = "`{Self}` is not `Clone`",
    note = "derive or implement `Clone` for `{Self}`, or pass what is cheap to clone (an id, an `Arc<{Self}>`) and build the value inside the step"
)]
pub trait RetryArg: Sized {
    /// A copy for the next attempt.
    fn clone_for_attempt(&self) -> Self;
}

// Not recommended, so that rustc reports the missing `RetryArg` with the message above rather
// than the missing `Clone` bound of this impl, and does not suggest passing `&arg` (a
// reference is `Clone`, but the step takes the value).
#[diagnostic::do_not_recommend]
impl<T: Clone> RetryArg for T {
    fn clone_for_attempt(&self) -> T {
        self.clone()
    }
}

/// Wraps `value` as an argument of a retried step.
pub fn retried_arg<T: RetryArg>(value: T) -> RetriedArg<T> {
    RetriedArg {
        value,
        clone: T::clone_for_attempt,
    }
}
