//! Reporting steps that block their worker thread.
//!
//! A run's driver, and the step futures it awaits, are polled on a tokio worker thread. A step
//! that blocks inside a poll (`std::thread::sleep`, a synchronous HTTP or database client, a
//! long computation) holds that thread: every other run scheduled on it waits, and the step's
//! own `.timeout()` cannot fire, because the timer is only looked at between polls. Nothing
//! can interrupt such a poll, but it can be seen: [`Supervised`](crate::supervise::Supervised)
//! times each poll of a run and, past [`SLOW_POLL`], logs a warning naming the run, its
//! workflow and its step, with the fix (run the blocking work with
//! `tokio::task::spawn_blocking`).
//!
//! Time the runtime itself blocks on purpose inside a poll is not counted: a group-commit
//! leader waiting for fsync in `block_in_place` (see [`crate::store::group_commit`]) is accounted here
//! with [`excused`].
//!
//! The timing sits on every transition (a poll, and the leader's commit inside it), so it
//! reads a coarse clock: on Linux `CLOCK_MONOTONIC_COARSE` (the kernel's last tick, a few ms of
//! resolution, read without the TSC), a few nanoseconds where `Instant::now` costs about 20;
//! a threshold of [`SLOW_POLL`] needs no finer.

use std::cell::Cell;
use std::time::Duration;

use crate::run::RunId;

/// A poll longer than this is reported. Long enough that an fsync or a page fault never
/// trips it, short enough that a blocked thread does not go unnoticed.
pub(crate) const SLOW_POLL: Duration = Duration::from_millis(100);

thread_local! {
    /// Time this thread spent in [`excused`] blocking, in total.
    static EXCUSED: Cell<Duration> = const { Cell::new(Duration::ZERO) };
}

/// Runs `f`, a blocking operation of the runtime's own (a commit), and keeps its duration
/// out of the blocking charged to the step being polled.
pub(crate) fn excused<T>(f: impl FnOnce() -> T) -> T {
    let began = coarse_now();
    let out = f();
    let took = coarse_now().saturating_sub(began);
    EXCUSED.with(|excused| excused.set(excused.get() + took));
    out
}

/// One poll being timed.
pub(crate) struct PollTimer {
    began: Duration,
    excused: Duration,
}

impl PollTimer {
    pub(crate) fn start() -> PollTimer {
        PollTimer {
            began: coarse_now(),
            excused: EXCUSED.with(Cell::get),
        }
    }

    /// Logs a warning if the poll blocked its thread for longer than [`SLOW_POLL`], not
    /// counting the runtime's own commits.
    /// `step` names the step in progress; asked only for a report.
    pub(crate) fn finish(
        self,
        run: RunId,
        workflow: &'static str,
        step: impl FnOnce() -> Option<&'static str>,
    ) {
        let took = coarse_now().saturating_sub(self.began);
        if took < SLOW_POLL {
            return;
        }
        let excused = EXCUSED.with(Cell::get).saturating_sub(self.excused);
        let blocked = took.saturating_sub(excused);
        if blocked < SLOW_POLL {
            return;
        }
        tracing::warn!(
            %run,
            workflow,
            step = step().unwrap_or("-"),
            blocked_ms = u64::try_from(blocked.as_millis()).unwrap_or(u64::MAX),
            "a step blocked its worker thread: other runs on that thread waited, and its \
             timeout could not fire; run blocking work with `tokio::task::spawn_blocking`"
        );
    }
}

/// Time since an arbitrary fixed point, from a coarse monotonic clock (see the module doc).
#[cfg(target_os = "linux")]
fn coarse_now() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid `timespec` for the call to fill; the clock id is a constant
    // every Linux since 2.6.32 has. On failure `now` stays zero: a poll then measures as
    // instant, which only skips a warning.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut now) };
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

/// Time since the first call, from `Instant` where no coarse clock is at hand.
#[cfg(not(target_os = "linux"))]
fn coarse_now() -> Duration {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}
