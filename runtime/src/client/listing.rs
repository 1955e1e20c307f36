//! Finding runs among millions: [`RunFilter`] (status, workflow, creation and finish time),
//! [`Client::list_runs`] a page at a time with a [`Cursor`], [`Client::count_by_status`], and
//! [`Client::purge`], which deletes the finished runs a filter selects.
//!
//! Every query is answered from the store's indexes (see `store/lmdb/listing.rs`): a page of
//! one status reads that status's index from the cursor on and the records of the runs it
//! returns, whatever the number of other runs; counts are kept per status as runs move, so
//! counting reads no run at all.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use super::Client;
use crate::clock::to_ms;
use crate::error::Error;
use crate::run::{RunId, RunStatus, Status};
use crate::runtime::Shared;
use crate::store::WriteOp;

/// How many runs one write of [`Client::purge`] deletes: each batch is one commit, so the
/// commits of running workflows wait for at most one batch (a few milliseconds, see
/// BENCHMARKS.md), never for the whole purge.
pub(crate) const PURGE_BATCH: usize = 1_000;

/// Which runs to list, count or purge. Every bound set must hold (they are ANDed); an empty
/// filter selects every run.
///
/// ```
/// # use cairn_runtime::{RunFilter, Status};
/// # use std::time::{Duration, SystemTime};
/// let week_ago = SystemTime::now() - Duration::from_secs(7 * 24 * 3600);
/// let old_failures = RunFilter::new()
///     .status(Status::Failed)
///     .workflow("research")
///     .finished_before(week_ago);
/// # let _ = old_failures;
/// ```
///
/// Times are those of the runtime's [`Clock`](crate::Clock) when the run was created or
/// finished; ranges are half-open (`since` inclusive, `before` exclusive), so consecutive
/// windows neither overlap nor leave a gap.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunFilter {
    pub(crate) status: Option<Status>,
    pub(crate) workflow: Option<String>,
    /// Milliseconds since the Unix epoch, `[since, before)`.
    pub(crate) created: (Option<u64>, Option<u64>),
    /// Likewise; set only for finished runs.
    pub(crate) finished: (Option<u64>, Option<u64>),
}

impl RunFilter {
    /// Every run.
    pub fn new() -> RunFilter {
        RunFilter::default()
    }

    /// Only runs with this status ([`Status::Corrupt`]: the quarantined ones).
    pub fn status(mut self, status: Status) -> RunFilter {
        self.status = Some(status);
        self
    }

    /// Only runs of the workflow with this name.
    pub fn workflow(mut self, name: impl Into<String>) -> RunFilter {
        self.workflow = Some(name.into());
        self
    }

    /// Only runs created at or after `time`.
    pub fn created_since(mut self, time: SystemTime) -> RunFilter {
        self.created.0 = Some(to_ms(time));
        self
    }

    /// Only runs created before `time`.
    pub fn created_before(mut self, time: SystemTime) -> RunFilter {
        self.created.1 = Some(to_ms(time));
        self
    }

    /// Only finished runs (completed, failed, ...) that finished at or after `time`.
    pub fn finished_since(mut self, time: SystemTime) -> RunFilter {
        self.finished.0 = Some(to_ms(time));
        self
    }

    /// Only finished runs that finished before `time`: what [`Client::purge`] and
    /// [`RuntimeBuilder::retention`](crate::RuntimeBuilder::retention) delete.
    pub fn finished_before(mut self, time: SystemTime) -> RunFilter {
        self.finished.1 = Some(to_ms(time));
        self
    }

    /// Whether a run with this status, workflow and times passes every bound but the status
    /// (which the caller's index decides). `finished_ms` is `None` for an unfinished run.
    pub(crate) fn admits(
        &self,
        workflow: &[u8],
        created_ms: u64,
        finished_ms: Option<u64>,
    ) -> bool {
        let within = |(since, before): (Option<u64>, Option<u64>), t: u64| {
            since.is_none_or(|s| t >= s) && before.is_none_or(|b| t < b)
        };
        self.workflow
            .as_deref()
            .is_none_or(|name| name.as_bytes() == workflow)
            && within(self.created, created_ms)
            && match finished_ms {
                Some(t) => within(self.finished, t),
                None => self.finished == (None, None),
            }
    }
}

/// Where the next page of [`Client::list_runs`] begins: runs are listed in id order (which is
/// creation order), and a cursor is the last id looked at. Stable under concurrent writes: a
/// run is listed on at most one page, and a run that matches the filter from the first page
/// to the last is listed exactly once. Its text form (`Display`/`FromStr`) lets a command
/// line or a web page hand it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cursor(pub(crate) RunId);

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.0)
    }
}

impl FromStr for Cursor {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(|id| Cursor(RunId(id)))
    }
}

/// One page of [`Client::list_runs`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// At most the limit asked for, in id order.
    pub runs: Vec<RunStatus>,
    /// Where the next page begins; `None` when there is no more.
    pub next: Option<Cursor>,
}

/// How many runs have each status ([`Client::count_by_status`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusCounts {
    /// Keyed by the status's stored discriminant, so iteration follows the order of
    /// [`Status`]'s variants.
    pub(crate) counts: BTreeMap<u32, (Status, u64)>,
}

impl StatusCounts {
    /// How many runs have `status` (0 if none).
    pub fn get(&self, status: Status) -> u64 {
        self.iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, count)| count)
    }

    /// How many runs in all.
    pub fn total(&self) -> u64 {
        self.iter().map(|(_, count)| count).sum()
    }

    /// Each status that has runs, with their number, in the order of [`Status`]'s variants.
    pub fn iter(&self) -> impl Iterator<Item = (Status, u64)> + '_ {
        self.counts
            .values()
            .copied()
            .filter(|(_, count)| *count > 0)
    }
}

impl Client {
    /// Up to `limit` runs that `filter` selects, in id order, after `cursor` (`None`: from
    /// the first), and the cursor of the next page. Read from the store's indexes: the page
    /// of one status or workflow costs the same among a thousand runs or a million. A
    /// quarantined run is listed with [`Status::Corrupt`] (like [`list`](Self::list)).
    ///
    /// ```no_run
    /// # async fn f(client: cairn_runtime::Client) -> Result<(), cairn_runtime::Error> {
    /// use cairn_runtime::{RunFilter, Status};
    /// let filter = RunFilter::new().status(Status::Failed);
    /// let mut cursor = None;
    /// loop {
    ///     let page = client.list_runs(&filter, 100, cursor)?;
    ///     for run in &page.runs {
    ///         println!("{} {}", run.id, run.workflow);
    ///     }
    ///     match page.next {
    ///         Some(next) => cursor = Some(next),
    ///         None => break,
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_runs(
        &self,
        filter: &RunFilter,
        limit: usize,
        cursor: Option<Cursor>,
    ) -> Result<Page, Error> {
        if limit == 0 {
            return Ok(Page {
                runs: Vec::new(),
                next: cursor,
            });
        }
        let (runs, next) = self
            .shared
            .store()?
            .list_runs(filter, cursor.map(|c| c.0), limit)?;
        Ok(Page {
            runs,
            next: next.map(Cursor),
        })
    }

    /// How many runs have each status, from counters the store keeps as runs move between
    /// statuses: no run is read. Quarantined runs count as [`Status::Corrupt`].
    pub fn count_by_status(&self) -> Result<StatusCounts, Error> {
        self.shared.store()?.count_by_status()
    }

    /// Deletes the finished runs `filter` selects (unfinished ones are never touched) and
    /// every entry of them: record, state, history, key-value state, loop items, questions,
    /// index entries. Returns how many were deleted. Done in batches of 1,000 runs, one
    /// commit each, so the commits of running workflows are never held up for long; a crash
    /// between batches leaves the runs not yet purged as they were.
    ///
    /// A run that is the last of a session carries the session's key-value state to its next
    /// run: purging it starts the session afresh.
    pub async fn purge(&self, filter: &RunFilter) -> Result<u64, Error> {
        let purged = purge_batches(&self.shared, filter).await?;
        if purged > 0 {
            tracing::info!(purged, "finished runs purged");
        }
        Ok(purged)
    }
}

/// [`Client::purge`]: one commit per batch until a batch comes back short.
pub(crate) async fn purge_batches(shared: &Shared, filter: &RunFilter) -> Result<u64, Error> {
    let mut purged = 0;
    loop {
        let op = WriteOp::PurgeFinished {
            filter: filter.clone(),
            limit: PURGE_BATCH,
        };
        let batch = shared.commit(op).await?.purged()?;
        purged += batch;
        if batch < PURGE_BATCH as u64 {
            return Ok(purged);
        }
    }
}
