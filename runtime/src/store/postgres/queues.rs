//! Queues with limits on PostgreSQL, behind [`Limits`](crate::Limits) (see `crate::queue`;
//! the same rules as `lmdb/queues.rs`):
//!
//! - `queues (name)`: each queue's limits (cap, starts per window, window in ms; NULL for
//!   none);
//! - `queue_members (workflow)`: the queue each limited workflow is in;
//! - `queue_runs (run)`: a run in a queue, waiting (`holding` false, in admission order:
//!   higher priority first, then lower run id) or holding one of its slots;
//! - `queue_starts (queue, ms, run)`: the starts within a rate limit's window.
//!
//! A new run of a member workflow is stored queued with its `queue_runs` row in the write that
//! creates it ([`enqueue`], from `runs::insert`, so every create path queues); a run that
//! finishes leaves its queue in the write that finishes it ([`leave`], from `runs::put`).
//!
//! The cap across workers: [`WriteOp::PumpQueues`](crate::store::WriteOp::PumpQueues) counts
//! a queue's holding runs and recent starts only after locking the queue's row
//! (`SELECT .. FOR UPDATE`), and admits under that lock. A second worker pumping the same
//! queue waits for the first one's commit, and its count (read after the wait, READ
//! COMMITTED) includes the first one's admissions, so two workers never both take the last
//! slot. Nothing else locks a queue's row for long: creating, finishing and cancelling runs
//! touch only their own `queue_runs` rows.

use super::leases::{self, Worker};
use super::runs::{self, code};
use super::sql::Sql;
use super::{PgStore, big, rid, unbig};
use crate::error::Error;
use crate::lifecycle;
use crate::queue::{QueueCheck, QueueConfig};
use crate::run::{RunId, Status};
use crate::store::RunRecord;

/// The tables, as a migration of `schema.rs`.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE queues (name text PRIMARY KEY, cap bigint, rate_starts bigint,
    rate_window_ms bigint);
CREATE TABLE queue_members (workflow text PRIMARY KEY, queue text NOT NULL);
CREATE TABLE queue_runs (run bigint PRIMARY KEY, queue text NOT NULL, priority bigint NOT NULL,
    holding boolean NOT NULL);
CREATE INDEX queue_runs_in_order ON queue_runs (queue, holding, priority DESC, run);
CREATE TABLE queue_starts (queue text NOT NULL, ms bigint NOT NULL, run bigint NOT NULL,
    PRIMARY KEY (queue, ms, run));
"#;

/// [`WriteOp::RegisterQueues`](crate::store::WriteOp::RegisterQueues): the queues and their
/// members become exactly `queues` (upserts, so that workers starting at once do not collide;
/// the runs in a queue are kept).
pub(super) async fn register(sql: Sql<'_, '_>, queues: &[QueueConfig]) -> Result<(), Error> {
    super::workflows::registration_lock(sql).await?;
    let names: Vec<&str> = queues.iter().map(|q| q.name.as_str()).collect();
    sql.exec("DELETE FROM queues WHERE name <> ALL($1)", &[&names])
        .await?;
    for queue in queues {
        let cap = queue.max_concurrent_runs.map(i64::from);
        let starts = queue.rate.map(|(starts, _)| i64::from(starts));
        let window = queue.rate.map(|(_, window)| big(window));
        sql.exec(
            "INSERT INTO queues (name, cap, rate_starts, rate_window_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET cap = EXCLUDED.cap,
                 rate_starts = EXCLUDED.rate_starts, rate_window_ms = EXCLUDED.rate_window_ms",
            &[&queue.name, &cap, &starts, &window],
        )
        .await?;
    }
    let members: Vec<&str> = queues
        .iter()
        .flat_map(|q| q.workflows.iter().map(String::as_str))
        .collect();
    sql.exec(
        "DELETE FROM queue_members WHERE workflow <> ALL($1)",
        &[&members],
    )
    .await?;
    for queue in queues {
        for workflow in &queue.workflows {
            sql.exec(
                "INSERT INTO queue_members (workflow, queue) VALUES ($1, $2)
                 ON CONFLICT (workflow) DO UPDATE SET queue = EXCLUDED.queue",
                &[workflow, &queue.name],
            )
            .await?;
        }
    }
    Ok(())
}

/// A run being created (or a failed one reopened): if its workflow is in a queue, its place
/// in the queue is written and the record to store is returned, queued; `None` (nothing
/// written) for a workflow in no queue. The caller writes the record.
pub(super) async fn enqueue(
    sql: Sql<'_, '_>,
    run: RunId,
    record: &RunRecord,
    priority: u32,
) -> Result<Option<RunRecord>, Error> {
    let Some(row) = sql
        .opt(
            "SELECT queue FROM queue_members WHERE workflow = $1",
            &[&record.workflow],
        )
        .await?
    else {
        return Ok(None);
    };
    let queue: String = row.get(0);
    sql.exec(
        "INSERT INTO queue_runs (run, queue, priority, holding) VALUES ($1, $2, $3, false)
         ON CONFLICT (run) DO UPDATE
             SET queue = EXCLUDED.queue, priority = EXCLUDED.priority, holding = false",
        &[&rid(run), &queue, &i64::from(priority)],
    )
    .await?;
    let mut queued = record.clone();
    lifecycle::queue(&mut queued);
    Ok(Some(queued))
}

/// [`WriteOp::CreateWithPriority`](crate::store::WriteOp::CreateWithPriority): a new run
/// (queued by `runs::insert` if its workflow has a queue), placed by `priority`.
pub(super) async fn create_with_priority(
    sql: Sql<'_, '_>,
    worker: &Worker,
    record: &RunRecord,
    priority: u32,
    hand_over: bool,
) -> Result<RunId, Error> {
    let run =
        super::writes::create_runs(sql, worker, std::slice::from_ref(record), hand_over).await?;
    sql.exec(
        "UPDATE queue_runs SET priority = $2 WHERE run = $1",
        &[&rid(run), &i64::from(priority)],
    )
    .await?;
    Ok(run)
}

/// `run` finished (or is being deleted): it leaves its queue, freeing its slot or its place,
/// in the caller's write.
pub(super) async fn leave(sql: Sql<'_, '_>, run: RunId) -> Result<(), Error> {
    sql.exec("DELETE FROM queue_runs WHERE run = $1", &[&rid(run)])
        .await?;
    Ok(())
}

/// [`WriteOp::Reopen`](crate::store::WriteOp::Reopen): a failed run runs again; its failed
/// step gets its attempts afresh, and a run of a queue waits for a slot again (its slot was
/// freed when it failed).
pub(super) async fn reopen(sql: Sql<'_, '_>, run: RunId, now: u64) -> Result<RunRecord, Error> {
    let mut record = runs::must_get(sql, run).await?;
    lifecycle::reopen(run, &mut record, now)?;
    runs::put(sql, run, &record).await?;
    runs::set_active(sql, run).await?;
    super::events::forget_attempts(sql, run, record.transitions).await?;
    if let Some(queued) = enqueue(sql, run, &record, 0).await? {
        runs::put(sql, run, &queued).await?;
        record = queued;
    }
    Ok(record)
}

/// A queue's limits as stored.
#[derive(Clone, Copy, Debug, Default)]
struct Limits {
    cap: Option<u32>,
    /// Starts per window, and the window in milliseconds.
    rate: Option<(u32, u64)>,
}

/// A waiting run as read: whether its row is stale (its run is gone or no longer queued) and
/// its workflow.
struct Waiting {
    run: RunId,
    workflow: Option<String>,
    stale: bool,
}

/// One queue with waiting runs, as read for a plan.
struct QueueRead {
    name: String,
    limits: Limits,
    holding: usize,
    /// The times of the starts within the rate window.
    starts: Vec<u64>,
    waiting: Vec<Waiting>,
}

/// A waiting run the pump admits (or drops, if `stale`).
struct Admission {
    queue: String,
    run: RunId,
    window: Option<u64>,
    stale: bool,
}

#[derive(Default)]
struct Plan {
    admissions: Vec<Admission>,
    check: QueueCheck,
}

/// The queues with waiting runs, in name order (bytes, as LMDB orders them).
async fn waiting_queues(sql: Sql<'_, '_>) -> Result<Vec<String>, Error> {
    let rows = sql
        .rows(
            "SELECT DISTINCT queue COLLATE \"C\" FROM queue_runs WHERE NOT holding
             ORDER BY 1",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Reads `queue` for a plan at `now`; with `lock`, its row is locked first (a pump), so that
/// the counts read stay true until the transaction commits.
async fn read_queue(
    sql: Sql<'_, '_>,
    queue: String,
    now: u64,
    lock: bool,
) -> Result<QueueRead, Error> {
    let statement = if lock {
        "SELECT cap, rate_starts, rate_window_ms FROM queues WHERE name = $1 FOR UPDATE"
    } else {
        "SELECT cap, rate_starts, rate_window_ms FROM queues WHERE name = $1"
    };
    // A queue no longer configured (its runs still waiting) has no limits: they go on rather
    // than wait for ever.
    let limits = sql
        .opt(statement, &[&queue])
        .await?
        .map_or_else(Limits::default, |row| {
            let cap = row
                .get::<_, Option<i64>>(0)
                .and_then(|c| u32::try_from(c).ok());
            let starts = row
                .get::<_, Option<i64>>(1)
                .and_then(|s| u32::try_from(s).ok());
            let window = row.get::<_, Option<i64>>(2).map(unbig);
            Limits {
                cap: cap.filter(|&c| c > 0),
                rate: starts.zip(window).filter(|&(s, w)| s > 0 && w > 0),
            }
        });
    let holding = sql
        .one(
            "SELECT COUNT(*) FROM queue_runs WHERE queue = $1 AND holding",
            &[&queue],
        )
        .await?;
    let holding = usize::try_from(holding.get::<_, i64>(0)).unwrap_or(usize::MAX);
    let starts = match limits.rate {
        Some((_, window)) => sql
            .rows(
                "SELECT ms FROM queue_starts WHERE queue = $1 AND ms > $2 ORDER BY ms",
                &[&queue, &big(now.saturating_sub(window))],
            )
            .await?
            .iter()
            .map(|row| unbig(row.get(0)))
            .collect(),
        None => Vec::new(),
    };
    let rows = sql
        .rows(
            "SELECT q.run, r.workflow, r.status FROM queue_runs q LEFT JOIN runs r ON r.id = q.run
             WHERE q.queue = $1 AND NOT q.holding ORDER BY q.priority DESC, q.run",
            &[&queue],
        )
        .await?;
    // A quarantined run is listed as corrupt: its record (read when it is admitted) says.
    let (queued, corrupt) = (code(Status::Queued), code(Status::Corrupt));
    let waiting = rows
        .iter()
        .map(|row| {
            let status: Option<i32> = row.get(2);
            Waiting {
                run: RunId(unbig(row.get(0))),
                workflow: row.get(1),
                stale: status.is_none_or(|s| s != queued && s != corrupt),
            }
        })
        .collect();
    Ok(QueueRead {
        name: queue,
        limits,
        holding,
        starts,
        waiting,
    })
}

/// Adds to `plan` what a pump at `now` admits of `queue`, up to `limit` admissions in all.
fn plan_queue(
    queue: &QueueRead,
    now: u64,
    runnable: &impl Fn(&str) -> bool,
    limit: usize,
    plan: &mut Plan,
) {
    plan.check.waiting = true;
    let mut holding = queue.holding;
    let mut started = queue.starts.len();
    let mut earliest = queue.starts.iter().copied().min();
    for waiting in &queue.waiting {
        if plan.admissions.len() >= limit {
            break;
        }
        let stale = waiting.stale;
        if !stale && !waiting.workflow.as_deref().is_some_and(runnable) {
            // Another process's workflow: left for a runtime that can run it.
            continue;
        }
        if !stale {
            if queue.limits.cap.is_some_and(|cap| holding >= cap as usize) {
                break;
            }
            if let Some((starts, window)) = queue.limits.rate
                && started >= starts as usize
            {
                let next = earliest.map_or(now, |e| e.saturating_add(window));
                plan.check.next_ms = Some(plan.check.next_ms.map_or(next, |n| n.min(next)));
                break;
            }
            holding += 1;
            started += 1;
            earliest.get_or_insert(now);
        }
        plan.admissions.push(Admission {
            queue: queue.name.clone(),
            run: waiting.run,
            window: queue.limits.rate.map(|(_, window)| window),
            stale,
        });
    }
}

/// [`WriteOp::PumpQueues`](crate::store::WriteOp::PumpQueues): admits what the plan says,
/// each queue counted under its row lock, leases the admitted runs to this worker (which
/// starts them) and returns them.
pub(super) async fn pump(
    sql: Sql<'_, '_>,
    worker: &Worker,
    workflows: &[String],
    limit: usize,
    now: u64,
) -> Result<Vec<RunId>, Error> {
    let runnable = |workflow: &str| workflows.iter().any(|w| w == workflow);
    let mut plan = Plan::default();
    for queue in waiting_queues(sql).await? {
        let read = read_queue(sql, queue, now, true).await?;
        plan_queue(&read, now, &runnable, limit, &mut plan);
        if plan.admissions.len() >= limit {
            break;
        }
    }
    let mut admitted = Vec::with_capacity(plan.admissions.len());
    for admission in plan.admissions {
        let run = admission.run;
        // The run's row, locked: a cancel or purge of it committed meanwhile is seen here.
        let record = runs::get_locked(sql, run).await?;
        let Some(mut record) = record.filter(|r| !admission.stale && r.status == Status::Queued)
        else {
            leave(sql, run).await?;
            continue;
        };
        sql.exec(
            "UPDATE queue_runs SET holding = true WHERE run = $1",
            &[&rid(run)],
        )
        .await?;
        if let Some(window) = admission.window {
            sql.exec(
                "DELETE FROM queue_starts WHERE queue = $1 AND ms <= $2",
                &[&admission.queue, &big(now.saturating_sub(window))],
            )
            .await?;
            sql.exec(
                "INSERT INTO queue_starts (queue, ms, run) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&admission.queue, &big(now), &rid(run)],
            )
            .await?;
        }
        lifecycle::admit(&mut record, now);
        runs::put(sql, run, &record).await?;
        // This worker starts it: its lease, whoever created the run.
        leases::take(sql, worker, run).await?;
        admitted.push(run);
    }
    Ok(admitted)
}

impl PgStore {
    /// [`Store::queue_check`](crate::store::Store::queue_check): the plan of a pump of one
    /// run, read without locks or writes.
    pub(super) fn queue_check_impl(
        &self,
        now: u64,
        runnable: &dyn Fn(&str) -> bool,
    ) -> Result<QueueCheck, Error> {
        let reads = self.driver.run(|client| async move {
            let sql = Sql::Conn(&client);
            let mut reads = Vec::new();
            for queue in waiting_queues(sql).await? {
                reads.push(read_queue(sql, queue, now, false).await?);
            }
            Ok(reads)
        })?;
        let mut plan = Plan::default();
        for read in &reads {
            plan_queue(read, now, &runnable, 1, &mut plan);
            if !plan.admissions.is_empty() {
                break;
            }
        }
        plan.check.ready = !plan.admissions.is_empty();
        Ok(plan.check)
    }
}

impl PgStore {
    /// [`Store::queue_configs`](crate::store::Store::queue_configs): the `queues` rows with
    /// their members, read in one snapshot.
    pub(super) fn queue_configs_impl(&self) -> Result<Vec<QueueConfig>, Error> {
        self.driver.run(|client| async move {
            let rows = Sql::Conn(&client)
                .rows(
                    "SELECT q.name, q.cap, q.rate_starts, q.rate_window_ms,
                         COALESCE(array_agg(m.workflow) FILTER (WHERE m.workflow IS NOT NULL),
                             '{}')
                     FROM queues q LEFT JOIN queue_members m ON m.queue = q.name
                     GROUP BY q.name",
                    &[],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|row| {
                    let small = |value: Option<i64>| value.and_then(|v| u32::try_from(v).ok());
                    let starts = small(row.get(2));
                    let window: Option<i64> = row.get(3);
                    QueueConfig {
                        name: row.get(0),
                        max_concurrent_runs: small(row.get(1)),
                        rate: starts.zip(window.map(unbig)),
                        workflows: row.get(4),
                    }
                })
                .collect())
        })
    }
}
