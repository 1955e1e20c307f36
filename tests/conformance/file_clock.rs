//! A test clock that several processes share: the time is read from a file that the test's
//! parent process writes, so a child's runtime (its schedules, its sleeps) sees time move
//! exactly when and as far as the parent moves it, across SIGKILLs and restarts.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn::{Clock, Sleep};

/// How often a sleep reads the file again: short, so a tick follows the parent's move within
/// milliseconds.
const POLL: Duration = Duration::from_millis(2);

/// A clock reading the file at `path` (milliseconds since the Unix epoch, as text).
#[derive(Clone, Debug)]
pub struct FileClock {
    path: PathBuf,
}

impl FileClock {
    /// The clock of the file `path`, which [`FileClock::set`] must have written.
    pub fn new(path: impl Into<PathBuf>) -> FileClock {
        FileClock { path: path.into() }
    }

    /// Sets the time of the file at `path`, atomically (a reader sees the old or the new
    /// time, never a torn one).
    pub fn set(path: &Path, time: SystemTime) {
        let ms = time.duration_since(UNIX_EPOCH).unwrap().as_millis();
        let temporary = path.with_extension("next");
        std::fs::write(&temporary, ms.to_string()).expect("write the clock");
        std::fs::rename(&temporary, path).expect("move the clock in place");
    }

    fn read(path: &Path) -> SystemTime {
        let text = std::fs::read_to_string(path).expect("the parent set the clock");
        let ms: u64 = text.trim().parse().expect("milliseconds");
        UNIX_EPOCH + Duration::from_millis(ms)
    }
}

impl Clock for FileClock {
    fn now(&self) -> SystemTime {
        FileClock::read(&self.path)
    }

    fn sleep_until(&self, deadline: SystemTime) -> Sleep {
        let path = self.path.clone();
        Box::pin(async move {
            while FileClock::read(&path) < deadline {
                tokio::time::sleep(POLL).await;
            }
        })
    }
}
