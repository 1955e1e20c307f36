//! Leases: which worker runs which run, so that many workers share one schema and a run is
//! executed by one of them at a time.
//!
//! A run has an `owner` (a worker id), an `epoch` and a `lease_until_ms`, all in the `runs`
//! row, with times from the database server's clock (one clock for every host; cairn's
//! [`Clock`](crate::Clock) may be a test's). A worker takes a run by setting itself as owner
//! and bumping the epoch, in the same transaction as the write that makes the run go on
//! (its creation, a wake-up, a claimed answer, a take-over), and remembers the epoch it got.
//!
//! - **Heartbeat**: one statement per worker, every third of the lease, renews the lease of
//!   every unfinished run it owns that has a live task in it ([`start_heartbeat`]). A run
//!   whose task stopped without committing its end (a storage error in a commit, a lost
//!   lease) is left to expire: the next poll of any worker, this one's included, takes it
//!   up after the lease, as it would a dead worker's.
//! - **Take-over**: an active run (pending or running) whose lease has expired, or that no one
//!   owns (started or resumed by a client-only process), is claimed by the next worker that
//!   polls, a bounded batch at a time, `FOR UPDATE SKIP LOCKED` so that two workers never
//!   claim the same row ([`claim`]).
//! - **Fencing**: every commit of a run's own task checks, under the row's lock, that the run
//!   is still owned by this worker at the epoch it took (or at a newer one that a take of this
//!   worker committed and has not recorded yet, [`holds`]); otherwise the commit is refused
//!   with [`Error::LeaseLost`], nothing of it written, and the run's task stops in this
//!   worker ([`fence`]). A worker that was stopped past its lease may have run a step that the
//!   new owner runs again (at-least-once), but it never overwrites the new owner's state.
//!
//! A client-only process owns nothing: runs it starts or resumes are left without an owner
//! for a worker to claim.
//!
//! # Lock order (why workers do not deadlock)
//!
//! A deadlock needs a cycle of transactions, each waiting for a row lock another holds. The
//! statements that lock `runs` rows, and whether they wait:
//!
//! - the heartbeat (one `UPDATE` over the worker's runs) and every take-over claim
//!   ([`claim`], in a write batch or at start) lock with `SKIP LOCKED`: they never wait;
//! - the start-up claim's second step ([`claim_one`]) waits for one row, in a transaction that
//!   holds no other lock: it closes no cycle;
//! - a write batch (the group committer's transaction) locks the row of each op's run, in op
//!   order ([`fence`], the record's `FOR UPDATE`, [`take`]), and waits.
//!
//! The first version waited in the start-up claim: it locked claimable rows in id order,
//! waiting for each, while another worker's batch held one of them and waited for a row the
//! claim already held (`40P01`, seen in the server's log: the claim's `FOR UPDATE` against a
//! batch's `fence`). Registrations (workflows, queues), which every worker writes at start,
//! take an advisory lock first (`workflows::registration_lock`), as migrations do.
//!
//! What can still deadlock: two write batches that lock two runs in opposite orders. Each
//! worker's batches lock the runs it owns, so that needs another process acting on a run
//! this worker holds at the same time (a client answering or cancelling it, another worker's
//! timer waking it, a stale owner's refused commit), within one batch of each side. Locking
//! each batch's runs up front in id order would rule it out; until then, the retry of
//! `Driver::run_transaction` (a warning in the log) is the safety net. The multi-worker crash
//! test (`tests/postgres_crash_storm.rs`) fails on any such retry.
//!
//! The epoch a worker remembers is the one its transaction committed: epochs taken inside a
//! transaction are kept aside ([`in_transaction`]) and held only once it commits
//! ([`commit_taken`]). A batch that is refused or fails rolls the database's epoch back, and
//! the worker's must not stay ahead of it, or the run's next commit would be refused as if
//! another worker had taken it.
//!
//! A run's epoch is forgotten once the worker has no more use for it: at once when the run
//! ends here or a refused commit finds its lease lost (`let_go.rs`), else by the
//! heartbeat's sweep (`held_sweep.rs`), so that the map stays bounded by the runs the
//! worker owns.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::runs;
use super::sql::Sql;
use super::{PgStore, rid, unbig};
use crate::error::Error;
use crate::run::{RunId, Status};
use crate::store::RunRecord;

/// The server's time in milliseconds since the Unix epoch, in SQL.
pub(super) const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// This process as a worker.
pub(super) struct Worker {
    /// Its id, stored as the owner of the runs it holds.
    pub id: String,
    /// Whether it runs workflows (false in a client-only process, which owns nothing).
    pub runs_here: bool,
    /// How long a lease lasts without a heartbeat.
    pub lease: Duration,
    /// How many runs one take-over poll claims at first, so that idle workers share them
    /// (see [`Worker::claim_size`]).
    pub claim_batch: usize,
    /// How many the next take-over poll claims: `claim_batch`, doubled after each claim that
    /// came back full, up to `CLAIM_GROWTH` times it.
    claim_size: AtomicUsize,
    /// The epoch at which this worker took each run it holds, until it has no more use for
    /// it (`let_go.rs`, `held_sweep.rs`).
    held: Mutex<HashMap<RunId, i64>>,
    /// The runs that transactions of this worker in progress have taken, not yet held: from
    /// the take until the worker holds them (or the transaction ends without a commit).
    taking: Arc<Mutex<HashMap<RunId, usize>>>,
    /// The runs with a live task in this process, once the runtime told how to list them
    /// ([`Store::set_live_runs`](crate::store::Store::set_live_runs)): the heartbeat renews
    /// these only, and nothing before.
    live: Mutex<Option<LiveRuns>>,
}

/// At most this many times `claim_batch` in one claim (see [`Worker::claim_size`]).
const CLAIM_GROWTH: usize = 8;

/// Lists the runs with a live task in this process.
pub(super) type LiveRuns = Arc<dyn Fn() -> Vec<RunId> + Send + Sync>;

impl Worker {
    pub(super) fn new(id: String, runs_here: bool, lease: Duration, claim_batch: usize) -> Worker {
        Worker {
            id,
            runs_here,
            lease,
            claim_batch,
            claim_size: AtomicUsize::new(claim_batch),
            held: Mutex::new(HashMap::new()),
            taking: Arc::default(),
            live: Mutex::new(None),
        }
    }

    /// How many runs the next take-over poll claims. A claim that comes back full says that
    /// more runs wait (a burst started by a client, the runs of a worker that died): the next
    /// one asks for twice as many, up to [`CLAIM_GROWTH`] times `claim_batch`, so that a burst
    /// of 1,000 runs reaches an idle worker in five claims rather than sixteen (each claim is
    /// a transaction of its own, 2-12 ms on a two-core machine, and the next poll waits for
    /// it). A claim that comes back short starts again from `claim_batch`. Workers that poll
    /// together still share a burst: each one's claims skip the rows the others lock.
    pub(super) fn claim_size(&self) -> usize {
        self.claim_size.load(Ordering::Relaxed)
    }

    /// Records that a take-over poll asked for `asked` runs and claimed `claimed`.
    pub(super) fn claimed(&self, asked: usize, claimed: usize) {
        let next = if claimed >= asked {
            self.claim_size()
                .saturating_mul(2)
                .min(self.claim_batch.saturating_mul(CLAIM_GROWTH))
        } else {
            self.claim_batch
        };
        self.claim_size.store(next, Ordering::Relaxed);
    }

    pub(super) fn lease_ms(&self) -> i64 {
        i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX)
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<RunId, i64>> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records that this worker holds `run` at `epoch`, unless it holds it at a later one
    /// already: two transactions of this worker may take one run one after the other (a
    /// take-over poll and the start-up claim), and the first one's commit may be seen here
    /// after the second one's; going back to its epoch would refuse the run's next commit.
    fn hold(&self, run: RunId, epoch: i64) {
        hold_latest(&mut self.held(), run, epoch);
    }

    /// Forgets each run of `runs` held at the epoch given with it, unless it is held at
    /// another epoch by now (see `let_go.rs`).
    pub(super) fn let_go(&self, runs: impl IntoIterator<Item = (RunId, i64)>) {
        let mut runs = runs.into_iter().peekable();
        if runs.peek().is_none() {
            return;
        }
        let mut held = self.held();
        for (run, epoch) in runs {
            if held.get(&run) == Some(&epoch) {
                held.remove(&run);
            }
        }
    }

    /// The runs held (with their epochs) that `pick` picks, but none a transaction of this
    /// worker is taking right now.
    pub(super) fn held_idle(&self, mut pick: impl FnMut(RunId) -> bool) -> Vec<(RunId, i64)> {
        // Copied first, so that the two locks are never held together.
        let taking: HashSet<RunId> = lock(&self.taking).keys().copied().collect();
        self.held()
            .iter()
            .filter(|(run, _)| pick(**run) && !taking.contains(run))
            .map(|(run, epoch)| (*run, *epoch))
            .collect()
    }

    /// How many runs this worker holds an epoch of.
    pub(super) fn held_len(&self) -> usize {
        self.held().len()
    }

    /// Registers how to list the runs with a live task in this process.
    pub(super) fn set_live_runs(&self, live: LiveRuns) {
        *lock(&self.live) = Some(live);
    }

    /// Whether the runtime registered how to list the runs with a live task here.
    fn lists_live_runs(&self) -> bool {
        lock(&self.live).is_some()
    }

    /// The runs with a live task in this process (none before the runtime registered how to
    /// list them), as stored. Listed on a blocking thread: the list locks the runtime's task
    /// map, which a thread blocked on this store's runtime may hold.
    async fn live_runs(&self) -> Vec<i64> {
        let Some(live) = lock(&self.live).clone() else {
            return Vec::new();
        };
        let runs = tokio::task::spawn_blocking(move || live())
            .await
            .unwrap_or_default();
        runs.into_iter().map(rid).collect()
    }

    /// Whether this worker holds `run`, or a transaction of it is taking it right now.
    fn has(&self, run: RunId) -> bool {
        self.held().contains_key(&run) || lock(&self.taking).contains_key(&run)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The epochs a transaction in progress took, and the worker's list of runs being taken,
/// which they leave when the worker holds them ([`commit_taken`]) or, uncommitted, when the
/// transaction ends.
#[derive(Default)]
struct Taken {
    epochs: Vec<(RunId, i64)>,
    taking: Option<Arc<Mutex<HashMap<RunId, usize>>>>,
}

impl Taken {
    fn push(&mut self, worker: &Worker, run: RunId, epoch: i64) {
        *lock(&worker.taking).entry(run).or_insert(0) += 1;
        self.taking.get_or_insert_with(|| worker.taking.clone());
        self.epochs.push((run, epoch));
    }

    /// Leaves the list of runs being taken (after they are held, or dropped).
    fn settle(&mut self) -> Vec<(RunId, i64)> {
        let epochs = std::mem::take(&mut self.epochs);
        if let Some(taking) = &self.taking {
            let mut taking = lock(taking);
            for (run, _) in &epochs {
                if let Some(count) = taking.get_mut(run) {
                    *count -= 1;
                    if *count == 0 {
                        taking.remove(run);
                    }
                }
            }
        }
        epochs
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        self.settle();
    }
}

tokio::task_local! {
    /// The epochs taken by the transaction in progress, held once it commits.
    static TAKEN: RefCell<Taken>;
}

/// Runs `transaction` with a list of the epochs it takes kept aside: they are held by the
/// worker only if it calls [`commit_taken`] after its commit.
pub(super) async fn in_transaction<F: std::future::Future>(transaction: F) -> F::Output {
    TAKEN
        .scope(RefCell::new(Taken::default()), transaction)
        .await
}

/// After the commit of the transaction running in [`in_transaction`]: the worker holds the
/// epochs it took.
pub(super) fn commit_taken(worker: &Worker) {
    let _ = TAKEN.try_with(|taken| {
        let mut taken = taken.borrow_mut();
        // Held first, then out of the list being taken: never in neither.
        {
            let mut held = worker.held();
            for (run, epoch) in &taken.epochs {
                hold_latest(&mut held, *run, *epoch);
            }
        }
        taken.settle();
    });
}

/// `held[run] = epoch`, unless it holds a later epoch (epochs of a run only grow).
fn hold_latest(held: &mut HashMap<RunId, i64>, run: RunId, epoch: i64) {
    let at = held.entry(run).or_insert(epoch);
    *at = (*at).max(epoch);
}

/// Remembers that `worker` took `run` at `epoch`: at the commit of the transaction in
/// progress, or at once outside one.
pub(super) fn taken(worker: &Worker, run: RunId, epoch: i64) {
    if TAKEN
        .try_with(|taken| taken.borrow_mut().push(worker, run, epoch))
        .is_err()
    {
        worker.hold(run, epoch);
    }
}

/// The epoch at which `worker` holds `run`, counting what the transaction in progress took.
pub(super) fn held_epoch(worker: &Worker, run: RunId) -> Option<i64> {
    let pending = TAKEN
        .try_with(|taken| {
            taken
                .borrow()
                .epochs
                .iter()
                .rev()
                .find(|(r, _)| *r == run)
                .map(|(_, epoch)| *epoch)
        })
        .ok()
        .flatten();
    pending.or_else(|| worker.held().get(&run).copied())
}

/// The fence's rule ([`fence`]; `batch.rs` and `lost_leases.rs` read the row themselves):
/// whether `worker`, holding `held` of a run, may commit to its row owned by `owner` at
/// `epoch`. It may at the epoch it holds, with the row its own or released by a sent event
/// (no owner), or at a newer epoch of its own take ([`taken_since`]).
pub(super) fn holds(worker: &Worker, held: Option<i64>, owner: Option<&str>, epoch: i64) -> bool {
    let unowned_or_mine = owner.is_none_or(|owner| owner == worker.id);
    (unowned_or_mine && held == Some(epoch)) || taken_since(worker, held, owner, epoch)
}

/// Whether a row owned by `worker` at `epoch`, above the epoch it holds (`held`), is its own
/// take that it has not recorded yet. A take (a wake-up, a claimed answer, a take-over poll)
/// bumps the epoch in its transaction, and the worker holds the new epoch only once that
/// commit has returned ([`commit_taken`]). A commit of the run's live task in between (a task
/// that `run_task::resume_if_claimed` started after an event released the run, while the
/// answer watcher took it) found the row ahead of the worker and was refused with
/// [`Error::LeaseLost`]: its task stopped and its `wait` failed, though no other worker had
/// the run. Only this worker's takes set it as owner with a new epoch (another worker's set
/// theirs, a client-only process's none), and epochs only grow, so the row's epoch is one
/// this worker holds a moment later; the fence lets the commit through, as it will then.
fn taken_since(worker: &Worker, held: Option<i64>, owner: Option<&str>, epoch: i64) -> bool {
    owner == Some(worker.id.as_str()) && held.is_some_and(|held| epoch > held)
}

/// [`held_epoch`] of each run of `runs` (with a tag of the caller's, an op's index say) that
/// `worker` holds, outside a transaction, under one lock.
pub(super) fn held_epochs<T>(
    worker: &Worker,
    runs: impl Iterator<Item = (T, RunId)>,
) -> Vec<(T, RunId, i64)> {
    let held = worker.held();
    runs.filter_map(|(tag, run)| Some((tag, run, *held.get(&run)?)))
        .collect()
}

/// A default worker id: host name, process id and a few random bits, so that two processes
/// (or one restarted) never share one.
pub(super) fn default_worker_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".to_owned());
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    format!(
        "{}-{}-{:08x}",
        host.trim(),
        std::process::id(),
        hasher.finish() as u32
    )
}

/// Makes this worker the owner of `run` (a new epoch), if it runs workflows; a client-only
/// process leaves the run without owner instead, for a worker to claim.
pub(super) async fn take(sql: Sql<'_, '_>, worker: &Worker, run: RunId) -> Result<(), Error> {
    if !worker.runs_here {
        sql.exec(
            "UPDATE runs SET owner = NULL, lease_until_ms = NULL WHERE id = $1",
            &[&rid(run)],
        )
        .await?;
        return Ok(());
    }
    let row = sql
        .opt(
            &format!(
                "UPDATE runs SET owner = $2, epoch = epoch + 1, lease_until_ms = {NOW_MS} + $3
                 WHERE id = $1 RETURNING epoch"
            ),
            &[&rid(run), &worker.id, &worker.lease_ms()],
        )
        .await?;
    if let Some(row) = row {
        taken(worker, run, row.get(0));
    }
    Ok(())
}

/// Checks, under the run's row lock, that this worker still holds `run` at the epoch it took
/// it with, and renews the lease: [`Error::LeaseLost`] otherwise (see the module doc).
///
/// The renewal is why a run whose row is often locked by its commits keeps its lease: the
/// heartbeat skips rows a commit holds, and each commit renews the lease of its own run.
pub(super) async fn fence(sql: Sql<'_, '_>, worker: &Worker, run: RunId) -> Result<(), Error> {
    if !worker.runs_here {
        return Ok(());
    }
    let held = held_epoch(worker, run);
    if let Some(epoch) = held {
        // [`holds`], under the row's lock. `owner IS NULL`: a send that woke the run
        // released it (`events::send`) and no worker has claimed it since (a claim bumps the
        // epoch). This worker, which parked it, may have resumed it itself at that epoch
        // (`run_task::resume_if_claimed`): it takes the run back here. `epoch > $4` with this
        // worker as owner: its own take, not recorded yet ([`taken_since`]). A stale worker's
        // epoch is below the row's and the row another's: still refused.
        let renewed = sql
            .exec(
                &format!(
                    "UPDATE runs SET owner = $2, lease_until_ms = {NOW_MS} + $3
                     WHERE id = $1
                       AND ((owner = $2 OR owner IS NULL) AND epoch = $4
                            OR owner = $2 AND epoch > $4)"
                ),
                &[&rid(run), &worker.id, &worker.lease_ms(), &epoch],
            )
            .await?;
        if renewed == 1 {
            return Ok(());
        }
    }
    // Refused: what the row says instead, for the warning.
    let row = sql
        .opt("SELECT owner, epoch FROM runs WHERE id = $1", &[&rid(run)])
        .await?;
    let Some(row) = row else {
        return Err(Error::UnknownRun { run });
    };
    let owner: Option<String> = row.get(0);
    let epoch: i64 = row.get(1);
    tracing::warn!(
        %run,
        owner = owner.as_deref().unwrap_or("-"),
        epoch,
        held = ?held,
        "commit refused: the run's lease is held by another worker now"
    );
    Err(Error::LeaseLost { run })
}

/// The active runs (pending or running) a worker may claim, as SQL over `runs r` joined with
/// `active a`: no owner, an expired lease, or (with `$4`) this worker id's own lease, and not
/// quarantined. `$2` is the worker id, `$5` the active status codes.
///
/// The conditions on the run's row are one `COALESCE`d condition, which the planner cannot
/// estimate from statistics (it counts it for half the rows), rather than filters that it
/// can: on a `runs` table not analyzed yet (a new schema's first minute) it took them to
/// keep a handful of rows, and read every pending and running run through `runs_by_status`
/// and sorted them all to claim the first 64 (2-3.5 ms per claim of 1,000 new runs, each
/// claim reading all that were left). Now it walks `active` in id order and stops at the
/// limit (`tests/postgres_batch_plan.rs`). Every active run is pending or running, so the
/// status index would never narrow the walk. The quarantine check is inside it too: as an
/// anti-join the planner costed it with `quarantine`'s size unknown (an empty table is never
/// analyzed, so it is taken for ten pages of rows) and expected it to leave one run.
const CLAIMABLE: &str = "COALESCE(r.status = ANY($5)
         AND (r.owner IS NULL
              OR r.lease_until_ms < (extract(epoch from clock_timestamp()) * 1000)::bigint
              OR ($4 AND r.owner = $2))
         AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.run = r.id), false)";

fn active_codes() -> Vec<i32> {
    vec![runs::code(Status::Pending), runs::code(Status::Running)]
}

/// Claims up to `limit` claimable runs (see [`CLAIMABLE`]) with ids above `after`, in id
/// order, skipping rows other transactions hold right now (`SKIP LOCKED`: this statement
/// never waits for a row lock, so it can be part of no deadlock); with `mine`, also those
/// whose lease this worker id holds.
///
/// A row skipped here is claimable by the next take-over poll of any worker, except a row of
/// this worker id's own live lease: no other worker takes it, and this worker's heartbeat
/// would renew it for ever. The start-up claim therefore follows this call with
/// [`skipped`] and [`claim_one`] ([`PgStore::start_up_claim`]).
pub(super) async fn claim(
    sql: Sql<'_, '_>,
    worker: &Worker,
    after: i64,
    limit: usize,
    mine: bool,
) -> Result<Vec<(RunId, RunRecord)>, Error> {
    claim_where(sql, worker, "a.run > $1", after, limit, mine, "SKIP LOCKED").await
}

/// Claims run `run` if it is still claimable (with this worker id's own leases) once the
/// transaction that holds its row ends, and this worker does not hold it or is not taking it
/// already (its take-over poll runs beside the start-up claim: a second take of a run whose
/// task runs here would race that task's commits). The one claim that waits for a row lock:
/// run in a transaction of its own, holding no other lock while it waits, it closes no cycle
/// of waiting transactions (no deadlock).
pub(super) async fn claim_one(
    sql: Sql<'_, '_>,
    worker: &Worker,
    run: RunId,
) -> Result<Vec<(RunId, RunRecord)>, Error> {
    // Once this lock is ours, a transaction of this worker that took the run has committed,
    // and its take is in `held` or `taking` (recorded before its commit was sent).
    sql.opt("SELECT 1 FROM runs WHERE id = $1 FOR UPDATE", &[&rid(run)])
        .await?;
    if worker.has(run) {
        return Ok(Vec::new());
    }
    claim_where(sql, worker, "a.run = $1", rid(run), 1, true, "").await
}

/// The claimable runs (with this worker id's own leases) with ids in `after < id <= upto`
/// that are not in `claimed`: the rows a [`claim`] skipped because another transaction held
/// them, if they are still claimable as of now. It reads without locking.
pub(super) async fn skipped(
    sql: Sql<'_, '_>,
    worker: &Worker,
    after: i64,
    upto: i64,
    claimed: &[i64],
) -> Result<Vec<RunId>, Error> {
    let rows = sql
        .rows(
            &format!(
                "SELECT r.id FROM active a JOIN runs r ON r.id = a.run
                 WHERE a.run > $1 AND a.run <= $3 AND a.run <> ALL($6) AND {CLAIMABLE}
                 ORDER BY a.run"
            ),
            &[&after, &worker.id, &upto, &true, &active_codes(), &claimed],
        )
        .await?;
    Ok(rows.iter().map(|row| RunId(unbig(row.get(0)))).collect())
}

/// The claim of [`claim_where`]: `$1` the key `which` compares with, `$2` the worker id,
/// `$3` the lease in ms, `$4` whether its own leases count, `$5` the active status codes,
/// `$6` the limit.
pub(super) fn claim_statement(which: &str, skip: &str) -> String {
    // `ORDER BY` under `FOR UPDATE`: rows are locked in id order.
    format!(
        "WITH claimable AS (
             SELECT r.id FROM active a JOIN runs r ON r.id = a.run
             WHERE {which} AND {CLAIMABLE}
             ORDER BY a.run LIMIT $6
             FOR UPDATE OF r {skip})
         UPDATE runs SET owner = $2, epoch = runs.epoch + 1,
             lease_until_ms = {NOW_MS} + $3
         FROM claimable WHERE runs.id = claimable.id
         RETURNING runs.id, runs.epoch, runs.record"
    )
}

async fn claim_where(
    sql: Sql<'_, '_>,
    worker: &Worker,
    which: &str,
    key: i64,
    limit: usize,
    mine: bool,
    skip: &str,
) -> Result<Vec<(RunId, RunRecord)>, Error> {
    let rows = sql
        .rows(
            &claim_statement(which, skip),
            &[
                &key,
                &worker.id,
                &worker.lease_ms(),
                &mine,
                &active_codes(),
                &i64::try_from(limit).unwrap_or(i64::MAX),
            ],
        )
        .await?;
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        let run = RunId(unbig(row.get(0)));
        taken(worker, run, row.get(1));
        match PgStore::decode(run, row.get(2)) {
            Ok(record) => claimed.push((run, record)),
            Err(e) => tracing::error!(%run, error = %e, "skipping unreadable run record"),
        }
    }
    claimed.sort_by_key(|(run, _)| *run);
    Ok(claimed)
}

/// Which claim a transaction of [`PgStore::claim_transaction`] makes.
#[derive(Clone, Copy)]
enum ClaimOf {
    /// [`claim`] of unowned and expired runs: up to `limit` runs above `after`.
    Free { after: i64, limit: usize },
    /// [`claim_one`].
    One(RunId),
}

impl PgStore {
    /// The start-up claim of [`Store::claim_active`](crate::store::Store::claim_active): up
    /// to `limit` runs above `after` that this worker may take (its own id's among them), in
    /// id order, and the id to continue after if there may be more.
    ///
    /// Three steps, none of which waits for a row lock while it holds another (see the lock
    /// order in the module doc): claim the unowned and expired runs no other transaction
    /// holds ([`claim`]); list what that skipped, and this worker id's own live leases
    /// ([`skipped`]); take each of those in a transaction of its own, waiting for the one
    /// that holds it ([`claim_one`]): typically the last write of this worker's previous
    /// incarnation, another worker's batch, or this worker's take-over poll.
    #[allow(clippy::type_complexity)] // as `Store::claim_active`
    pub(super) fn start_up_claim(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<(Vec<(RunId, RunRecord)>, Option<RunId>), Error> {
        // This worker id's own live leases (a restart with a fixed id takes back its runs at
        // once) go through the third step only, which leaves a run this worker's take-over
        // poll took meanwhile to the task the poll started.
        let mut claimed = self.claim_transaction(ClaimOf::Free { after, limit })?;
        let full = claimed.len() >= limit;
        // Runs past the last one claimed are the next call's.
        let upto = match claimed.last() {
            Some((last, _)) if full => rid(*last),
            _ => i64::MAX,
        };
        let ids: Vec<i64> = claimed.iter().map(|(run, _)| rid(*run)).collect();
        let worker = &*self.worker;
        let skipped = self.driver.run(|client| async move {
            skipped(Sql::Conn(&client), worker, after, upto, &ids).await
        })?;
        for run in skipped {
            claimed.extend(self.claim_transaction(ClaimOf::One(run))?);
        }
        claimed.sort_by_key(|(run, _)| *run);
        Ok((claimed, full.then_some(RunId(unbig(upto)))))
    }

    /// Runs one claim in a transaction of its own; the worker holds the epochs it took once
    /// it commits.
    fn claim_transaction(&self, of: ClaimOf) -> Result<Vec<(RunId, RunRecord)>, Error> {
        let worker = &*self.worker;
        self.driver.run_transaction(|mut client| {
            in_transaction(async move {
                let tx = client.transaction().await.map_err(super::error::pg_error)?;
                let sql = Sql::Tx(&tx);
                let claimed = match of {
                    ClaimOf::Free { after, limit } => {
                        claim(sql, worker, after, limit, false).await?
                    }
                    ClaimOf::One(run) => claim_one(sql, worker, run).await?,
                };
                tx.commit().await.map_err(super::error::pg_error)?;
                commit_taken(worker);
                Ok(claimed)
            })
        })
    }
}

/// Whether some active run waits for a worker (no owner, or an expired lease).
pub(super) async fn any_claimable(sql: Sql<'_, '_>) -> Result<bool, Error> {
    let row = sql
        .opt(
            &format!(
                "SELECT 1 FROM active a JOIN runs r ON r.id = a.run
                 WHERE r.status = ANY($1) AND (r.owner IS NULL OR r.lease_until_ms < {NOW_MS})
                 LIMIT 1"
            ),
            &[&active_codes()],
        )
        .await?;
    Ok(row.is_some())
}

/// Spawns the heartbeat on the store's runtime: every third of the lease, one statement
/// renews the leases of the runs this worker owns and runs (a live task here), on a
/// connection of its own (never queued behind a busy pool). It ends with the store (its
/// runtime shuts down). A failed renewal is logged and retried at the next tick, on a new
/// connection; past the lease, the runs are another worker's to take and this worker's
/// commits of them are refused.
///
/// Only runs with a live task: a run owned here whose task stopped (a commit failed on a
/// storage error or was refused, see `runtime/run_task.rs`) is still `running` in the
/// database, and renewed, it would wait for this worker's restart. A run that suspended
/// needs no lease (only active runs are claimed), and a run claimed but not started yet
/// has the fresh lease of its claim.
///
/// Each beat also checks a batch of the runs held without a live task here against their
/// rows, and forgets those this worker has no more use for (`held_sweep.rs`).
pub(super) fn start_heartbeat(
    driver: &super::connect::Driver,
    config: tokio_postgres::Config,
    worker: std::sync::Arc<Worker>,
) {
    driver.handle().spawn(async move {
        let mut tick = tokio::time::interval(worker.lease / 3);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut connection: Option<tokio_postgres::Client> = None;
        let mut sweep = super::held_sweep::Sweep::default();
        loop {
            tick.tick().await;
            let live = worker.live_runs().await;
            // Before any run registered as live, a held run may be one claimed and about to
            // start: nothing is swept until the runtime lists its live runs.
            let idle = if worker.lists_live_runs() {
                sweep.next(&worker, &live)
            } else {
                Vec::new()
            };
            if live.is_empty() && idle.is_empty() {
                continue;
            }
            if connection
                .as_ref()
                .is_none_or(tokio_postgres::Client::is_closed)
            {
                match config.connect(tokio_postgres::NoTls).await {
                    Ok((client, driver)) => {
                        tokio::spawn(driver);
                        connection = Some(client);
                    }
                    Err(error) => {
                        tracing::warn!(worker = worker.id, %error, "could not renew the leases");
                        continue;
                    }
                }
            }
            let Some(client) = &connection else { continue };
            if !live.is_empty() {
                let renewed = client
                    .execute(
                        // Rows a commit holds right now are skipped rather than waited for
                        // (waiting in scan order could deadlock with a batch locking runs in
                        // its order); the next beat, a third of a lease later, renews them.
                        &format!(
                            "UPDATE runs SET lease_until_ms = {NOW_MS} + $2
                             WHERE id IN (SELECT id FROM runs
                                          WHERE id = ANY($3) AND owner = $1
                                              AND finished_ms IS NULL
                                          ORDER BY id FOR UPDATE SKIP LOCKED)"
                        ),
                        &[&worker.id, &worker.lease_ms(), &live],
                    )
                    .await;
                if let Err(error) = renewed {
                    let error = super::error::pg_error(error);
                    tracing::warn!(worker = worker.id, %error, "could not renew the leases");
                    connection = None;
                    continue;
                }
            }
            if let Err(error) = super::held_sweep::sweep(client, &worker, &idle).await {
                let error = super::error::pg_error(error);
                tracing::debug!(worker = worker.id, %error, "could not sweep the held runs");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only a row this worker owns, above an epoch it holds, is its own take not recorded
    /// yet; another owner, no owner, the epoch held (the usual check's case) or an older one,
    /// and a run it holds no epoch of are not.
    #[test]
    fn a_newer_epoch_is_the_workers_own_take_only_when_it_owns_the_row() {
        let worker = Worker::new("me".to_owned(), true, Duration::from_secs(30), 64);
        assert!(taken_since(&worker, Some(3), Some("me"), 4));
        assert!(taken_since(&worker, Some(3), Some("me"), 9));
        assert!(!taken_since(&worker, Some(3), Some("them"), 4));
        assert!(!taken_since(&worker, Some(3), None, 4));
        assert!(!taken_since(&worker, Some(3), Some("me"), 3));
        assert!(!taken_since(&worker, Some(3), Some("me"), 2));
        assert!(!taken_since(&worker, None, Some("me"), 4));
        // The whole rule: the epoch held, the row its own or without owner; or its own take.
        assert!(holds(&worker, Some(3), Some("me"), 3));
        assert!(holds(&worker, Some(3), None, 3));
        assert!(holds(&worker, Some(3), Some("me"), 4));
        assert!(!holds(&worker, Some(3), Some("them"), 3));
        assert!(!holds(&worker, Some(3), None, 4));
        assert!(!holds(&worker, None, None, 3));
    }

    #[test]
    fn claims_grow_while_they_come_back_full_and_start_again_after_a_short_one() {
        let worker = Worker::new("w".to_owned(), true, Duration::from_secs(30), 64);
        let mut asked = Vec::new();
        for _ in 0..5 {
            let size = worker.claim_size();
            asked.push(size);
            worker.claimed(size, size);
        }
        assert_eq!(
            asked,
            [64, 128, 256, 512, 512],
            "doubling, up to 8 times claim_batch"
        );
        worker.claimed(512, 40);
        assert_eq!(worker.claim_size(), 64, "a short claim starts again");
        // A poll that asked for fewer than the claim size (its own limit) and got them all.
        worker.claimed(10, 10);
        assert_eq!(worker.claim_size(), 128);
    }
}
