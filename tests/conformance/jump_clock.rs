//! A test clock for the suite: a clock that jumps to every deadline, so that
//! durable sleeps, backoff and timeouts take no real time and need no test to advance them.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn::{Clock, Sleep};

/// A clock that stands still, except that a sleep moves it to the sleep's deadline and returns
/// at once: runs see time pass exactly as far as they wait.
#[derive(Clone, Debug)]
pub struct JumpClock(Arc<Mutex<SystemTime>>);

impl Default for JumpClock {
    fn default() -> Self {
        JumpClock(Arc::new(Mutex::new(
            UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        )))
    }
}

impl Clock for JumpClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap()
    }

    fn sleep_until(&self, deadline: SystemTime) -> Sleep {
        let mut now = self.0.lock().unwrap();
        if *now < deadline {
            *now = deadline;
        }
        Box::pin(async {})
    }
}
