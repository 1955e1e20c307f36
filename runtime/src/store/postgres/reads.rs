//! The [`Store`] impl of the PostgreSQL backend: its reads, each one statement on a pooled
//! connection (or one snapshot where several must agree), and its one write entry (applied
//! in `writes.rs`).

use std::collections::BTreeMap;

use super::error::corrupt;
use super::runs;
use super::sql::Sql;
use super::{PgStore, big, rid, unbig};
use crate::context::loop_items::LoopKey;
use crate::error::Error;
use crate::history::HistoryRecord;
use crate::run::{RunId, Status};
use crate::store::{Outcome, ProgressRead, RunRecord, Store, StoredSleep, WriteError, WriteOp};

fn history_of(run: RunId, rows: &[tokio_postgres::Row]) -> Result<Vec<HistoryRecord>, Error> {
    rows.iter()
        .map(|row| {
            crate::codec::open_record(row.get(0)).map_err(|e| corrupt(run, "history record", e))
        })
        .collect()
}

fn state_of(rows: &[tokio_postgres::Row]) -> BTreeMap<String, Vec<u8>> {
    rows.iter().map(|row| (row.get(0), row.get(1))).collect()
}

impl Store for PgStore {
    fn write(&self, ops: &[&WriteOp], now_ms: u64) -> Result<Vec<Outcome>, WriteError> {
        self.write_batch(ops, now_ms)
    }

    fn set_waker(&self, waker: std::sync::Arc<dyn Fn(crate::store::Change) + Send + Sync>) {
        *self
            .waker
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(waker);
    }

    fn set_live_runs(&self, live: std::sync::Arc<dyn Fn() -> Vec<RunId> + Send + Sync>) {
        self.worker.set_live_runs(live);
    }

    fn commits_block(&self) -> bool {
        // A round trip to the server and its WAL flush.
        true
    }

    fn concurrent_transactions(&self) -> bool {
        // Each on a connection of the pool (see `Driver::commit_transaction`).
        true
    }

    fn instance_id(&self) -> u64 {
        self.instance
    }

    fn load(&self, run: RunId) -> Result<Option<RunRecord>, Error> {
        // Kept for the run's next transition if this worker runs it (`one_trip.rs`).
        self.load_and_learn(run)
    }

    fn input(&self, run: RunId) -> Result<Option<Vec<u8>>, Error> {
        self.driver
            .run(|client| async move { super::inputs::get(Sql::Conn(&client), run).await })
    }

    fn active_after(
        &self,
        after: Option<RunId>,
        limit: usize,
    ) -> Result<(Vec<(RunId, RunRecord)>, Option<RunId>), Error> {
        let after = after.map_or(0, rid);
        let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
        self.driver.run(|client| async move {
            let rows = Sql::Conn(&client)
                .rows(
                    "SELECT a.run, r.record FROM active a LEFT JOIN runs r ON r.id = a.run
                     WHERE a.run > $1 ORDER BY a.run LIMIT $2",
                    &[&after, &limit_sql],
                )
                .await?;
            let mut out = Vec::new();
            let mut last = None;
            for row in &rows {
                let run = RunId(unbig(row.get(0)));
                last = Some(run);
                let Some(bytes) = row.get::<_, Option<&[u8]>>(1) else {
                    continue;
                };
                match PgStore::decode(run, bytes) {
                    Ok(record) if !record.status.is_finished() => out.push((run, record)),
                    Ok(_) => {}
                    Err(e) => tracing::error!(%run, error = %e, "skipping unreadable run record"),
                }
            }
            Ok((out, if rows.len() >= limit { last } else { None }))
        })
    }

    fn wakeups_after(
        &self,
        after: Option<(u64, RunId)>,
        limit: usize,
    ) -> Result<Vec<(u64, RunId)>, Error> {
        let (wake, run) = after.map_or((-1, -1), |(wake_ms, run)| (big(wake_ms), rid(run)));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.driver.run(|client| async move {
            let rows = Sql::Conn(&client)
                .rows(
                    "SELECT wake_ms, run FROM wakeups WHERE (wake_ms, run) > ($1, $2)
                     ORDER BY wake_ms, run LIMIT $3",
                    &[&wake, &run, &limit],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|row| (unbig(row.get(0)), RunId(unbig(row.get(1)))))
                .collect())
        })
    }

    fn sleeping(&self) -> Result<u64, Error> {
        self.driver.run(|client| async move {
            let row = Sql::Conn(&client)
                .one("SELECT COUNT(*) FROM wakeups", &[])
                .await?;
            Ok(unbig(row.get(0)))
        })
    }

    fn wake_at(&self, run: RunId, position: u64) -> Result<Option<StoredSleep>, Error> {
        self.driver.run(|client| async move {
            let row = Sql::Conn(&client)
                .opt(
                    "SELECT wake_ms, started_ms FROM sleeps WHERE run = $1 AND position = $2",
                    &[&rid(run), &big(position)],
                )
                .await?;
            Ok(row.map(|row| StoredSleep {
                wake_ms: unbig(row.get(0)),
                started_ms: unbig(row.get(1)),
            }))
        })
    }

    fn branches(&self, run: RunId, position: u64) -> Result<Vec<(u32, Vec<u8>)>, Error> {
        self.driver.run(|client| async move {
            let rows = Sql::Conn(&client)
                .rows(
                    "SELECT idx, output FROM branches WHERE run = $1 AND position = $2
                     ORDER BY idx",
                    &[&rid(run), &big(position)],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|row| {
                    let index = u32::try_from(row.get::<_, i64>(0)).unwrap_or(u32::MAX);
                    (index, row.get(1))
                })
                .collect())
        })
    }

    fn loop_item(&self, run: RunId, key: LoopKey, index: u64) -> Result<Option<Vec<u8>>, Error> {
        self.driver.run(|client| async move {
            let row = Sql::Conn(&client)
                .opt(
                    "SELECT item FROM loop_items
                     WHERE run = $1 AND position = $2 AND seq = $3 AND idx = $4",
                    &[
                        &rid(run),
                        &big(key.position()),
                        &i64::from(key.seq()),
                        &big(index),
                    ],
                )
                .await?;
            Ok(row.map(|row| row.get(0)))
        })
    }

    fn state_get(&self, run: RunId, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.driver.run(|client| async move {
            let row = Sql::Conn(&client)
                .opt(
                    "SELECT value FROM kv WHERE run = $1 AND key = $2",
                    &[&rid(run), &key],
                )
                .await?;
            Ok(row.map(|row| row.get(0)))
        })
    }

    fn state_all(&self, run: RunId) -> Result<BTreeMap<String, Vec<u8>>, Error> {
        self.driver.run(|client| async move {
            let rows = Sql::Conn(&client)
                .rows(
                    "SELECT key, value FROM kv WHERE run = $1 ORDER BY key",
                    &[&rid(run)],
                )
                .await?;
            Ok(state_of(&rows))
        })
    }

    fn history(&self, run: RunId) -> Result<Vec<HistoryRecord>, Error> {
        self.driver.run(|client| async move {
            let rows = Sql::Conn(&client)
                .rows(
                    "SELECT record FROM history WHERE run = $1 ORDER BY seq",
                    &[&rid(run)],
                )
                .await?;
            history_of(run, &rows)
        })
    }

    fn any_handed_over(&self) -> Result<bool, Error> {
        let runs_here = self.worker.runs_here;
        self.driver.run(|client| async move {
            let sql = Sql::Conn(&client);
            let hint = sql
                .opt("SELECT 1 FROM handed_over LIMIT 1", &[])
                .await?
                .is_some();
            // A worker also takes the runs whose lease expired (their worker died).
            Ok(hint || (runs_here && super::leases::any_claimable(sql).await?))
        })
    }

    fn claim_active(
        &self,
        after: Option<RunId>,
        limit: usize,
    ) -> Result<(Vec<(RunId, RunRecord)>, Option<RunId>), Error> {
        if !self.worker.runs_here {
            return self.active_after(after, limit);
        }
        self.start_up_claim(after.map_or(0, rid), limit)
    }

    fn quarantine_entry(
        &self,
        run: RunId,
    ) -> Result<Option<crate::quarantine::StoredEntry>, Error> {
        self.driver
            .run(|client| async move { runs::quarantine_entry(Sql::Conn(&client), run).await })
    }

    fn quarantined(&self) -> Result<Vec<(RunId, crate::quarantine::StoredEntry)>, Error> {
        self.driver.run(|client| async move {
            let rows = Sql::Conn(&client)
                .rows("SELECT run, entry FROM quarantine ORDER BY run", &[])
                .await?;
            Ok(rows
                .iter()
                .map(|row| (RunId(unbig(row.get(0))), runs::entry_of(row.get(1))))
                .collect())
        })
    }

    fn list_status(&self, status: Option<Status>) -> Result<Vec<crate::run::RunStatus>, Error> {
        self.list_status_impl(status)
    }

    fn run_status(&self, run: RunId) -> Result<crate::run::RunStatus, Error> {
        self.run_status_impl(run)
    }

    fn run_count(&self) -> Result<u64, Error> {
        self.driver.run(|client| async move {
            let row = Sql::Conn(&client)
                .one("SELECT COUNT(*) FROM runs", &[])
                .await?;
            Ok(unbig(row.get(0)))
        })
    }

    fn list_runs(
        &self,
        filter: &crate::client::listing::RunFilter,
        after: Option<RunId>,
        limit: usize,
    ) -> Result<(Vec<crate::run::RunStatus>, Option<RunId>), Error> {
        self.list_runs_impl(filter, after, limit)
    }

    fn count_by_status(&self) -> Result<crate::client::listing::StatusCounts, Error> {
        self.count_by_status_impl()
    }

    fn attempts_at(
        &self,
        run: RunId,
        position: u64,
    ) -> Result<Option<crate::store::events::StoredAttempts>, Error> {
        self.attempts_at_impl(run, position)
    }

    fn last_tick(&self, schedule: &str) -> Result<Option<u64>, Error> {
        self.last_tick_impl(schedule)
    }

    fn queue_check(
        &self,
        now_ms: u64,
        runnable: &dyn Fn(&str) -> bool,
    ) -> Result<crate::queue::QueueCheck, Error> {
        self.queue_check_impl(now_ms, runnable)
    }

    fn parent_of(&self, run: RunId) -> Result<Option<(RunId, u64)>, Error> {
        self.parent_of_impl(run)
    }

    fn children_of(&self, parent: RunId) -> Result<Vec<RunId>, Error> {
        self.children_of_impl(parent)
    }

    fn check_indexes(&self, _now_ms: u64) -> Result<crate::quarantine::CheckReport, Error> {
        self.check_indexes_impl()
    }

    fn queue_configs(&self) -> Result<Vec<crate::queue::QueueConfig>, Error> {
        self.queue_configs_impl()
    }

    fn workflows(&self) -> Result<Vec<crate::graph::StoredWorkflow>, Error> {
        self.workflows_impl()
    }

    fn migrated_original(
        &self,
        run: RunId,
    ) -> Result<Option<crate::store::MigratedOriginal>, Error> {
        self.migrated_original_impl(run)
    }

    fn workflow(&self, name: &str) -> Result<Option<crate::graph::StoredWorkflow>, Error> {
        self.workflow_impl(name)
    }

    fn progress(&self, run: RunId, history_from: u64) -> Result<Option<ProgressRead>, Error> {
        self.driver.run(|mut client| async move {
            // One snapshot for the three reads, so that they agree.
            let tx = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .map_err(super::error::pg_error)?;
            let sql = Sql::Tx(&tx);
            let Some(record) = runs::get(sql, run).await? else {
                return Ok(None);
            };
            let history = sql
                .rows(
                    "SELECT record FROM history WHERE run = $1 AND seq >= $2 ORDER BY seq",
                    &[&rid(run), &big(history_from)],
                )
                .await?;
            let state = sql
                .rows(
                    "SELECT key, value FROM kv WHERE run = $1 ORDER BY key",
                    &[&rid(run)],
                )
                .await?;
            let read = ProgressRead {
                history: history_of(run, &history)?,
                state: state_of(&state),
                record,
            };
            tx.commit().await.map_err(super::error::pg_error)?;
            Ok(Some(read))
        })
    }
}
