//! Wall-clock time as the runtime sees it, injectable so that tests of durable sleeps, retries
//! and timeouts run in milliseconds instead of minutes.
//!
//! Everything time-related in the runtime goes through one [`Clock`]: wake-up times of durable
//! sleeps, backoff between retry attempts, step timeouts and the timestamps of history records.
//! [`SystemClock`] is the default; [`TestClock`] only moves when a test calls
//! [`TestClock::advance`], and can tell the test when something is waiting on it, so a test never
//! needs a real sleep to get past a race.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// The future of [`Clock::sleep_until`].
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A source of wall-clock time and of sleeps measured against it.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;
    /// A future that completes once [`now`](Self::now) has reached `deadline` (at once if it
    /// already has).
    fn sleep_until(&self, deadline: SystemTime) -> Sleep;
}

/// The operating system's clock, with tokio timers for sleeps.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep_until(&self, deadline: SystemTime) -> Sleep {
        // A deadline in the past gives an error here, which is a zero wait.
        let wait = deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that stands still until [`advance`](Self::advance)d. Cheap to clone; clones share
/// the same time.
#[derive(Clone, Debug)]
pub struct TestClock {
    now: Arc<watch::Sender<SystemTime>>,
    /// How many sleeps are pending right now; tests wait on it instead of guessing.
    sleepers: Arc<watch::Sender<usize>>,
}

impl Default for TestClock {
    fn default() -> Self {
        // A fixed, recent instant: histories and wake-up times in tests are reproducible.
        TestClock::at(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    }
}

impl TestClock {
    /// A clock reading `now`.
    pub fn at(now: SystemTime) -> TestClock {
        TestClock {
            now: Arc::new(watch::Sender::new(now)),
            sleepers: Arc::new(watch::Sender::new(0)),
        }
    }

    /// Moves the clock forward by `by`, waking every sleep whose deadline is reached.
    pub fn advance(&self, by: Duration) {
        self.now.send_modify(|now| {
            // Saturate rather than panic: a test that advances "forever" means "past everything".
            *now = now.checked_add(by).unwrap_or(*now);
        });
    }

    /// How many sleeps are waiting on this clock.
    pub fn sleepers(&self) -> usize {
        *self.sleepers.borrow()
    }

    /// Waits until at least `n` sleeps are waiting on this clock (a retry backoff, a timeout, or
    /// the runtime's timer for a sleeping run), so a test can advance past them without racing.
    pub async fn wait_for_sleepers(&self, n: usize) {
        let mut changes = self.sleepers.subscribe();
        // The sender lives in `self`, so `wait_for` cannot fail while we hold it.
        let _ = changes.wait_for(|&count| count >= n).await;
    }
}

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        *self.now.borrow()
    }

    fn sleep_until(&self, deadline: SystemTime) -> Sleep {
        let mut now = self.now.subscribe();
        let sleepers = self.sleepers.clone();
        Box::pin(async move {
            if *now.borrow() >= deadline {
                return;
            }
            sleepers.send_modify(|n| *n += 1);
            // Decrements on every exit, including the future being dropped unfinished.
            let _guard = Decrement(sleepers);
            if now.wait_for(|&now| now >= deadline).await.is_err() {
                // The clock is gone, so time stops: the deadline is never reached.
                std::future::pending::<()>().await;
            }
        })
    }
}

struct Decrement(Arc<watch::Sender<usize>>);

impl Drop for Decrement {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Milliseconds since the Unix epoch of `time`; before 1970 reads as 0 and after year 584
/// million as `u64::MAX`, rather than failing over a timestamp.
pub(crate) fn to_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The instant `ms` milliseconds after the Unix epoch, saturating.
pub(crate) fn from_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_millis(ms))
        .unwrap_or(UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_test_clock_wakes_sleepers_when_advanced() {
        let clock = TestClock::default();
        let deadline = clock.now() + Duration::from_secs(60);
        let sleep = tokio::spawn(clock.sleep_until(deadline));
        clock.wait_for_sleepers(1).await;
        clock.advance(Duration::from_secs(59));
        assert_eq!(clock.sleepers(), 1);
        clock.advance(Duration::from_secs(1));
        sleep.await.unwrap();
        assert_eq!(clock.sleepers(), 0);
        // Past deadlines complete at once without counting as a sleeper.
        clock.sleep_until(UNIX_EPOCH).await;
    }

    #[test]
    fn milliseconds_round_trip() {
        let t = UNIX_EPOCH + Duration::from_millis(1_234_567);
        assert_eq!(from_ms(to_ms(t)), t);
        assert_eq!(to_ms(UNIX_EPOCH - Duration::from_secs(1)), 0);
    }
}
