//! The last tick each schedule handled, on PostgreSQL (`schedule_ticks`; the same rules as
//! `lmdb/schedules.rs`): [`WriteOp::ScheduleTick`](crate::store::WriteOp::ScheduleTick)
//! reads and moves it in the transaction that starts the tick's run, under a transaction
//! lock named after the schedule, so that a tick is handled once whichever worker, restart or
//! client handles it. A tick's run is also a unique start keyed by the schedule and the
//! tick's time (`unique.rs`), so the run of a tick handled already is found by its key.

use super::leases::Worker;
use super::sql::Sql;
use super::{PgStore, big, unbig};
use crate::error::Error;
use crate::run::RunId;
use crate::store::lmdb::schedules::tick_key;
use crate::store::{Outcome, RunRecord};

/// The table, as a migration of `schema.rs`.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE schedule_ticks (schedule text PRIMARY KEY, tick_ms bigint NOT NULL);
"#;

/// [`WriteOp::ScheduleTick`](crate::store::WriteOp::ScheduleTick).
pub(super) async fn tick(
    sql: Sql<'_, '_>,
    worker: &Worker,
    schedule: &str,
    tick_ms: u64,
    record: Option<&RunRecord>,
    hand_over: bool,
) -> Result<Outcome, Error> {
    // Serializes the handlers of one schedule across workers until this transaction ends: the
    // second one then reads the first one's tick.
    sql.exec(
        "SELECT pg_advisory_xact_lock(hashtext('cairn schedule ' || $1::text))",
        &[&schedule],
    )
    .await?;
    let last = sql
        .opt(
            "SELECT tick_ms FROM schedule_ticks WHERE schedule = $1",
            &[&schedule],
        )
        .await?
        .map(|row| unbig(row.get(0)));
    if last.is_some_and(|last| last >= tick_ms) {
        // Handled already: its run, if it started one, is bound to the tick's key.
        let Some(record) = record else {
            return Ok(Outcome::Done);
        };
        let bound = sql
            .opt(
                "SELECT u.run FROM unique_keys u JOIN runs r ON r.id = u.run
                 WHERE u.workflow = $1 AND u.key = $2",
                &[&record.workflow, &tick_key(schedule, tick_ms)],
            )
            .await?;
        return Ok(bound.map_or(Outcome::Done, |row| {
            Outcome::Existing(RunId(unbig(row.get(0))))
        }));
    }
    sql.exec(
        "INSERT INTO schedule_ticks (schedule, tick_ms) VALUES ($1, $2)
         ON CONFLICT (schedule) DO UPDATE SET tick_ms = EXCLUDED.tick_ms",
        &[&schedule, &big(tick_ms)],
    )
    .await?;
    let Some(record) = record else {
        return Ok(Outcome::Done);
    };
    let key = tick_key(schedule, tick_ms);
    Ok(
        match super::unique::create_unique(sql, worker, &key, record, hand_over).await? {
            (run, true) => Outcome::Created(run),
            (run, false) => Outcome::Existing(run),
        },
    )
}

impl PgStore {
    /// [`Store::last_tick`](crate::store::Store::last_tick).
    pub(super) fn last_tick_impl(&self, schedule: &str) -> Result<Option<u64>, Error> {
        self.driver.run(|client| async move {
            let row = Sql::Conn(&client)
                .opt(
                    "SELECT tick_ms FROM schedule_ticks WHERE schedule = $1",
                    &[&schedule],
                )
                .await?;
            Ok(row.map(|row| unbig(row.get(0))))
        })
    }
}
