//! Steps with a retry policy and a timeout: [`Task`], made by `ctx.task(f, a, b)` (through
//! `Context::__task`) or [`Context::step_fn`](crate::Context::step_fn).
//!
//! Retrying needs a new future per attempt, so a task holds a *factory*: the arguments and a
//! function of them. Without a policy it is called once (any arguments); `.retry(..)` needs
//! `Fn` and `Clone` arguments. `#[workflow]` makes the factory of `ctx.task(f, a, b)` an `Fn`,
//! and with `.retry(..)` wraps each argument (see `retried_arg`), so that an argument that is
//! not `Clone` is reported on that argument. A task is
//! `IntoFuture`, so it is awaited directly: `ctx.task(f, x).await`,
//! `ctx.task(f, x).retry(policy).timeout(d).await`.
//!
//! Attempts, and the errors of failed ones, go into the history record of the transition the
//! step leads to. Backoff and timeouts use the runtime's [`Clock`](crate::Clock). A failed
//! attempt that will be retried commits the attempt count and the end of its backoff
//! (`WriteOp::RecordAttempts`) before the backoff starts, so a run resumed after a crash
//! continues the backoff at the right attempt, and the attempts across crashes never exceed
//! `max_attempts` (an attempt in flight at the crash runs again, with the same idempotency
//! key, counted once). A step that succeeds at its first attempt pays nothing for this.

use std::fmt::Display;
use std::future::{Future, IntoFuture};
use std::time::{Duration, SystemTime};

use tracing::Instrument;

use crate::clock::{from_ms, to_ms};
use crate::context::Context;
use crate::error::Error;
use crate::store::WriteOp;
use crate::store::events::StoredAttempts;
use crate::supervise::Abort;
use crate::workflow::BoxFuture;

/// How often and how patiently to retry a failing step: exponential backoff with jitter.
///
/// The delay before attempt `k + 1` is `initial_delay * factor^(k - 1)`, capped at
/// `max_delay`, of which a random `jitter` fraction is taken off (so that many runs failing
/// together do not retry together).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_delay: Duration,
    max_delay: Duration,
    factor: f64,
    jitter: f64,
}

impl RetryPolicy {
    /// Up to `max_attempts` attempts in all, waiting 100 ms, 200 ms, 400 ms, ... (at most 30 s)
    /// between them, with half of each wait random.
    pub fn exponential(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(30),
            factor: 2.0,
            jitter: 0.5,
        }
    }

    /// Up to `max_attempts` attempts, `delay` apart, without jitter.
    pub fn fixed(max_attempts: u32, delay: Duration) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            initial_delay: delay,
            max_delay: delay,
            factor: 1.0,
            jitter: 0.0,
        }
    }

    /// The wait before the second attempt.
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The longest wait between two attempts.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// How much longer each wait is than the one before (at least 1).
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// The fraction of each wait that is random, from 0 (none) to 1 (all of it).
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// The number of attempts in all.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    fn check(&self) -> Result<(), Error> {
        let bad = |reason: String| {
            Err(Error::InvalidArgument {
                call: "Task::retry",
                reason,
            })
        };
        if self.max_attempts == 0 {
            return bad("a retry policy needs at least one attempt".to_owned());
        }
        if !(self.factor >= 1.0 && self.factor.is_finite()) {
            return bad(format!(
                "backoff factor {} is not a number >= 1",
                self.factor
            ));
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return bad(format!("jitter {} is not between 0 and 1", self.jitter));
        }
        Ok(())
    }

    /// The wait after failed attempt `attempt` (from 1); `random` is any 64 random bits.
    pub fn delay(&self, attempt: u32, random: u64) -> Duration {
        let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let base = self.initial_delay.as_secs_f64() * self.factor.powi(exponent);
        let capped = base.min(self.max_delay.as_secs_f64());
        // 53 random bits as a fraction in [0, 1).
        let unit = (random >> 11) as f64 / (1u64 << 53) as f64;
        let secs = capped * (1.0 - self.jitter * unit);
        // `try_from_secs_f64` refuses NaN and overflow; both mean "the longest wait".
        Duration::try_from_secs_f64(secs).unwrap_or(self.max_delay)
    }
}

/// Decides whether a failed attempt is worth another one.
pub trait RetryIf<E> {
    /// Whether to retry after `error`.
    fn should_retry(&self, error: &E) -> bool;
}

/// Retries every error (the default of [`Task::retry`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct AnyError;

impl<E> RetryIf<E> for AnyError {
    fn should_retry(&self, _: &E) -> bool {
        true
    }
}

impl<E, F: Fn(&E) -> bool> RetryIf<E> for F {
    fn should_retry(&self, error: &E) -> bool {
        self(error)
    }
}

/// Makes the future of each attempt.
pub trait Attempts {
    /// The future of one attempt.
    type Future: Future;
    /// The next attempt, or `None` if there can be no other.
    fn next_attempt(&mut self) -> Option<Self::Future>;
}

/// A factory that can be called once: any arguments, an `FnOnce`.
#[derive(Debug)]
pub struct Once<A, F> {
    call: Option<(A, F)>,
}

impl<A, F> Once<A, F> {
    pub(crate) fn new(args: A, f: F) -> Self {
        Once {
            call: Some((args, f)),
        }
    }
}

impl<A, F: FnOnce(A) -> Fut, Fut: Future> Attempts for Once<A, F> {
    type Future = Fut;

    fn next_attempt(&mut self) -> Option<Fut> {
        self.call.take().map(|(args, f)| f(args))
    }
}

/// A factory that can be called again: `Clone` arguments, an `Fn`.
#[derive(Debug)]
pub struct Repeat<A, F> {
    args: A,
    f: F,
}

impl<A: Clone, F: Fn(A) -> Fut, Fut: Future> Attempts for Repeat<A, F> {
    type Future = Fut;

    fn next_attempt(&mut self) -> Option<Fut> {
        Some((self.f)(self.args.clone()))
    }
}

/// A task without retry policy or timeout: awaited, it is the step's own future.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unguarded;

/// A task's retry policy and timeout.
#[derive(Clone, Debug)]
pub struct Guarded<P> {
    retry: Option<RetryPolicy>,
    timeout: Option<Duration>,
    retry_if: P,
}

/// Turns either guard into a [`Guarded`] one, so that `.retry` and `.timeout` compose in any
/// order.
pub trait IntoGuarded {
    /// The retry predicate kept.
    type RetryIf;
    /// The guard with its settings.
    fn into_guarded(self) -> Guarded<Self::RetryIf>;
}

impl IntoGuarded for Unguarded {
    type RetryIf = AnyError;
    fn into_guarded(self) -> Guarded<AnyError> {
        Guarded {
            retry: None,
            timeout: None,
            retry_if: AnyError,
        }
    }
}

impl<P> IntoGuarded for Guarded<P> {
    type RetryIf = P;
    fn into_guarded(self) -> Guarded<P> {
        self
    }
}

/// A step to await, with an optional retry policy and timeout. Made by `ctx.task(..)` or
/// [`Context::step_fn`].
#[must_use = "a task does nothing until it is awaited"]
pub struct Task<'c, S, G> {
    ctx: &'c mut Context,
    name: &'static str,
    attempts: S,
    guard: G,
}

impl<S, G: std::fmt::Debug> std::fmt::Debug for Task<'_, S, G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("name", &self.name)
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

impl<'c, S> Task<'c, S, Unguarded> {
    pub(crate) fn new(ctx: &'c mut Context, name: &'static str, attempts: S) -> Self {
        Task {
            ctx,
            name,
            attempts,
            guard: Unguarded,
        }
    }
}

impl<'c, A, F, G: IntoGuarded> Task<'c, Once<A, F>, G> {
    /// Retries failed attempts (any `Err`) under `policy`. The step fails with the last error
    /// once the attempts are used up.
    pub fn retry<Fut>(self, policy: RetryPolicy) -> Task<'c, Repeat<A, F>, Guarded<G::RetryIf>>
    where
        A: Clone,
        F: Fn(A) -> Fut,
    {
        let mut guard = self.guard.into_guarded();
        guard.retry = Some(policy);
        Task {
            ctx: self.ctx,
            name: self.name,
            attempts: repeat(self.attempts),
            guard,
        }
    }

    /// Retries under `policy` the failed attempts whose error `retry_if` accepts; an error it
    /// refuses (say, a card declined, as opposed to a network error) fails the step at once.
    pub fn retry_if<Fut, P>(
        self,
        policy: RetryPolicy,
        retry_if: P,
    ) -> Task<'c, Repeat<A, F>, Guarded<P>>
    where
        A: Clone,
        F: Fn(A) -> Fut,
    {
        let guard = self.guard.into_guarded();
        Task {
            ctx: self.ctx,
            name: self.name,
            attempts: repeat(self.attempts),
            guard: Guarded {
                retry: Some(policy),
                timeout: guard.timeout,
                retry_if,
            },
        }
    }
}

fn repeat<A, F>(once: Once<A, F>) -> Repeat<A, F> {
    match once.call {
        Some((args, f)) => Repeat { args, f },
        // A `Once` is only emptied by running it, which consumes the task.
        None => unreachable!("a task is turned into a retrying one before it runs"),
    }
}

impl<'c, S, G: IntoGuarded> Task<'c, S, G> {
    /// Fails each attempt that takes longer than `timeout` with [`Error::Timeout`] (turned into
    /// the step's error type with `From`); with a retry policy, a timed-out attempt is retried
    /// like any other failure.
    ///
    /// The timeout is checked between polls, so it cannot stop a step that blocks its thread
    /// (`std::thread::sleep`, a synchronous client): run such work with
    /// `tokio::task::spawn_blocking` inside the step, and the timeout holds (the blocking
    /// thread finishes on its own). A poll that blocks for over 100 ms is logged as a warning
    /// naming the run and step.
    pub fn timeout(self, timeout: Duration) -> Task<'c, S, Guarded<G::RetryIf>> {
        let mut guard = self.guard.into_guarded();
        guard.timeout = Some(timeout);
        Task {
            ctx: self.ctx,
            name: self.name,
            attempts: self.attempts,
            guard,
        }
    }
}

impl<'c, S> IntoFuture for Task<'c, S, Unguarded>
where
    S: Attempts + Send + 'c,
    S::Future: Send + 'c,
{
    type Output = <S::Future as Future>::Output;
    type IntoFuture = BoxFuture<'c, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        let Task {
            ctx,
            name,
            mut attempts,
            ..
        } = self;
        if let Err(refused) = ctx.begin_step(name) {
            return Box::pin(ctx.refuse(refused));
        }
        let span = ctx.step_span();
        match attempts.next_attempt() {
            Some(fut) => Box::pin(fut.instrument(span)),
            None => unreachable!("a fresh task has its first attempt"),
        }
    }
}

impl<'c, S, P, T, E> IntoFuture for Task<'c, S, Guarded<P>>
where
    S: Attempts + Send + 'c,
    S::Future: Future<Output = Result<T, E>> + Send + 'c,
    T: Send + 'c,
    E: From<Error> + Display + Send + 'c,
    P: RetryIf<E> + Send + 'c,
{
    type Output = Result<T, E>;
    type IntoFuture = BoxFuture<'c, Result<T, E>>;

    fn into_future(self) -> Self::IntoFuture {
        // Each attempt is polled in the step's span, made when the step begins.
        Box::pin(self.run_guarded())
    }
}

impl<'c, S, P, T, E> Task<'c, S, Guarded<P>>
where
    S: Attempts,
    S::Future: Future<Output = Result<T, E>>,
    E: From<Error> + Display,
    P: RetryIf<E>,
{
    async fn run_guarded(self) -> Result<T, E> {
        let Task {
            ctx,
            name,
            mut attempts,
            guard,
        } = self;
        if let Some(policy) = &guard.retry {
            policy.check()?;
        }
        let max_attempts = guard.retry.map_or(1, |p| p.max_attempts);
        let clock = ctx.shared.clock.clone();
        if let Err(refused) = ctx.begin_step(name) {
            return ctx.abort(refused).await;
        }
        let mut random = seed(
            ctx.shared.instance ^ ctx.run_id().0,
            ctx.position(),
            clock.now(),
        );
        let mut attempt = 1;
        if guard.retry.is_some() && ctx.position() == ctx.first_position {
            // Where the run was resumed, this step may have been in a backoff when the
            // process stopped: it goes on from the attempts it had made.
            match resumed_attempts(ctx).await {
                Ok(Some(stored)) => {
                    attempt = stored.failed.saturating_add(1);
                    clock.sleep_until(from_ms(stored.retry_at_ms)).await;
                }
                Ok(None) => {}
                Err(error) => return ctx.abort(Abort::Error(error)).await,
            }
        }
        let span = ctx.step_span();
        loop {
            ctx.segment.attempts = attempt;
            if attempt > 1
                && let Some(step_span) = &ctx.segment.span
            {
                // The span was opened with attempt 1.
                step_span.attempt(attempt);
            }
            let Some(fut) = attempts.next_attempt() else {
                unreachable!("a retrying task has an attempt for every retry")
            };
            let fut = fut.instrument(span.clone());
            let outcome = match guard.timeout {
                None => fut.await,
                Some(timeout) => {
                    let deadline = deadline(clock.now(), timeout, "Task::timeout")?;
                    tokio::select! {
                        // An attempt that has finished wins over a timeout due at the same
                        // poll.
                        biased;
                        outcome = fut => outcome,
                        () = clock.sleep_until(deadline) => Err(E::from(Error::Timeout {
                            step: name.to_owned(),
                            after: timeout,
                        })),
                    }
                }
            };
            let error = match outcome {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let message = error.to_string();
            if let Some(step_span) = &ctx.segment.span {
                step_span.error(&message);
            }
            ctx.segment.errors.push(message);
            if attempt >= max_attempts || !guard.retry_if.should_retry(&error) {
                return Err(error);
            }
            let wait = match &guard.retry {
                Some(policy) => policy.delay(attempt, xorshift(&mut random)),
                None => Duration::ZERO,
            };
            tracing::debug!(run = %ctx.run_id(), step = name, attempt, %error, ?wait, "retrying step");
            let wake = deadline(clock.now(), wait, "Task::retry")?;
            // Committed before the backoff, so that a crash during it neither restarts the
            // count nor shortens the wait. Only a failure that is retried pays this commit.
            let attempts = StoredAttempts {
                failed: attempt,
                retry_at_ms: to_ms(wake),
            };
            if let Err(error) = record_attempts(ctx, attempts).await {
                return ctx.abort(Abort::Error(error)).await;
            }
            clock.sleep_until(wake).await;
            attempt += 1;
        }
    }
}

/// The attempts stored by the retrying step at the run's position, if any.
async fn resumed_attempts(ctx: &Context) -> Result<Option<StoredAttempts>, Error> {
    let (run, position) = (ctx.run_id(), ctx.position());
    ctx.shared.store()?.attempts_at(run, position)
}

/// Commits `attempts` for the retrying step at the run's position.
async fn record_attempts(ctx: &Context, attempts: StoredAttempts) -> Result<(), Error> {
    let (run, position) = (ctx.run_id(), ctx.position());
    ctx.shared
        .commit(WriteOp::RecordAttempts {
            run,
            position,
            attempts,
        })
        .await?
        .done()
}

/// `now + after`, or a typed error if that is past the end of the clock.
pub(crate) fn deadline(
    now: SystemTime,
    after: Duration,
    call: &'static str,
) -> Result<SystemTime, Error> {
    now.checked_add(after)
        .ok_or_else(|| Error::InvalidArgument {
            call,
            reason: format!("{after:?} from now is past the end of the clock"),
        })
}

/// A non-zero xorshift seed from the step's identity and the time: jitter only has to differ
/// between runs, not be unpredictable.
fn seed(run: u64, position: u64, now: SystemTime) -> u64 {
    let nanos = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let seed = run
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(position.rotate_left(32))
        ^ u64::from(nanos);
    seed | 1
}

/// One step of xorshift64.
fn xorshift(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

#[cfg(test)]
mod tests;
