//! The LMDB tables of events sent into runs and of the attempts of retrying steps (what they
//! hold and why is in [`crate::store::events`]):
//!
//! - `events`: run ‖ name length (big-endian `u32`) ‖ name (UTF-8) ‖ sequence (big-endian
//!   `u64`) -> the sealed payload. The length makes one name's queue one contiguous range that
//!   no other name shares (`a` and `ab`); the sequence keeps the queue in send order.
//! - `event_waits`: run ‖ position -> sealed postcard [`StoredWait`]: the wait in progress at
//!   that await, and the event bound to it once there is one.
//! - `attempts`: run ‖ position -> [`StoredAttempts`] (12 bytes).
//!
//! A parked wait is a run with status waiting, out of the active index, with its deadline (if
//! any) as a sleep at the same position, so that the timer and the start-up check treat it
//! like any durable sleep. The commit that ends an await drops its wait and attempts
//! ([`LmdbStore::end_await_in`], only after an event wait or a step with several attempts);
//! a purge drops all three tables' entries of the run.
//!
//! A directory written before these tables gets them, empty, on open: no format change.

use heed::{Env, RoTxn, RwTxn, WithoutTls};

use super::index::wakeup_key;
use super::table_pair::{self, Db};
use super::{LmdbStore, delete_prefix, key, key_at};
use crate::error::Error;
use crate::history::HistoryRecord;
use crate::lifecycle;
use crate::run::{RunId, Status};
use crate::store::events::{Awaited, EVENT_STEP, StoredAttempts, StoredWait};

/// Number of LMDB databases opened here.
pub(super) const DATABASES: u32 = 3;

const EVENTS: &str = "events";
const WAITS: &str = "event_waits";
const ATTEMPTS: &str = "attempts";

#[derive(Clone, Copy)]
struct Dbs {
    events: Db,
    waits: Db,
    attempts: Db,
}

pub(super) struct Tables {
    /// `None` only in a read-only open of a directory from before the tables.
    dbs: Option<Dbs>,
}

impl Tables {
    /// Opens (creating if needed) the tables, in their own write transaction.
    pub(super) fn open(env: &Env<WithoutTls>) -> Result<Tables, Error> {
        let [events, waits, attempts] = table_pair::create_all(env, [EVENTS, WAITS, ATTEMPTS])?;
        Ok(Tables {
            dbs: Some(Dbs {
                events,
                waits,
                attempts,
            }),
        })
    }

    /// Opens the tables of a directory opened read-only, if it has them.
    pub(super) fn open_existing(env: &Env<WithoutTls>) -> Result<Tables, Error> {
        let dbs = table_pair::open_all_existing(env, [EVENTS, WAITS, ATTEMPTS])?.map(
            |[events, waits, attempts]| Dbs {
                events,
                waits,
                attempts,
            },
        );
        Ok(Tables { dbs })
    }

    /// Every table, by name, for tests that look at everything a run left.
    #[cfg(test)]
    pub(super) fn all(&self) -> Vec<(&'static str, Db)> {
        self.dbs.map_or_else(Vec::new, |dbs| {
            vec![
                (EVENTS, dbs.events),
                (WAITS, dbs.waits),
                (ATTEMPTS, dbs.attempts),
            ]
        })
    }

    fn writable(&self) -> Result<Dbs, Error> {
        self.dbs.ok_or_else(|| {
            Error::from(std::io::Error::other(
                "the event tables are missing from a store opened for writing",
            ))
        })
    }
}

/// The key prefix of `run`'s queue of events named `name`.
fn queue_prefix(run: RunId, name: &str) -> Vec<u8> {
    let len = u32::try_from(name.len()).unwrap_or(u32::MAX);
    key(run, &[&len.to_be_bytes(), name.as_bytes()])
}

fn corrupt(run: RunId, what: &str, e: impl std::fmt::Display) -> Error {
    Error::CorruptState {
        run,
        workflow: "<unknown>".to_owned(),
        reason: format!("{what} does not decode: {e}"),
    }
}

impl LmdbStore {
    /// The wait stored at `position` of `run`, if any.
    fn event_wait_at(
        &self,
        txn: &RoTxn<'_>,
        run: RunId,
        position: u64,
    ) -> Result<Option<StoredWait>, Error> {
        let Some(dbs) = self.events.dbs else {
            return Ok(None);
        };
        match dbs.waits.get(txn, &key_at(run, position))? {
            Some(bytes) => crate::codec::open_record(bytes)
                .map(Some)
                .map_err(|e| corrupt(run, "the event wait", e)),
            None => Ok(None),
        }
    }

    fn put_wait(
        &self,
        txn: &mut RwTxn<'_>,
        dbs: Dbs,
        run: RunId,
        position: u64,
        wait: &StoredWait,
    ) -> Result<(), Error> {
        let bytes = crate::codec::seal_record(wait, 64).map_err(|e| Error::Encode {
            workflow: String::new(),
            what: "an event wait",
            reason: e.to_string(),
        })?;
        dbs.waits.put(txn, &key_at(run, position), &bytes)?;
        Ok(())
    }

    /// [`WriteOp::SendEvent`](crate::store::WriteOp::SendEvent) inside `txn`: whether the send
    /// woke the run.
    pub(super) fn send_event_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        name: &str,
        payload: &[u8],
        now_ms: u64,
    ) -> Result<bool, Error> {
        let dbs = self.events.writable()?;
        let mut record = self.get(txn, run)?.ok_or(Error::UnknownRun { run })?;
        if record.status.is_finished() {
            return Err(Error::EventToFinishedRun {
                run,
                status: record.status,
            });
        }
        let prefix = queue_prefix(run, name);
        let next = match dbs.events.rev_prefix_iter(txn, &prefix)?.next() {
            Some(entry) => {
                let (k, _) = entry?;
                let last = k.get(prefix.len()..).and_then(super::be_u64);
                last.ok_or_else(|| corrupt(run, "an event queue key", "bad sequence"))? + 1
            }
            None => 0,
        };
        let mut k = prefix;
        k.extend_from_slice(&next.to_be_bytes());
        dbs.events.put(txn, &k, payload)?;

        // Wakes the run if it is parked on this name (a paused run waits for its unpause).
        let position = record.transitions;
        if record.status != Status::Waiting || self.quarantine_entry_in(txn, run)?.is_some() {
            return Ok(false);
        }
        let parked = self
            .event_wait_at(txn, run, position)?
            .filter(|wait| wait.name == name && wait.delivered.is_none());
        let Some(wait) = parked else {
            return Ok(false);
        };
        lifecycle::go_on(&mut record, now_ms);
        self.put(txn, run, &record)?;
        self.set_active(txn, run)?;
        if let Some(deadline) = wait.deadline_ms {
            self.index
                .wakeups
                .delete(txn, &wakeup_key((deadline, run)))?;
        }
        // For the runtime's watcher, in whichever process runs the workflow.
        self.hand_over_in(txn, run, position)?;
        Ok(true)
    }

    /// [`WriteOp::AwaitEvent`](crate::store::WriteOp::AwaitEvent) inside `txn`.
    pub(super) fn await_event_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        position: u64,
        asked: &StoredWait,
        now_ms: u64,
    ) -> Result<Awaited, Error> {
        let dbs = self.events.writable()?;
        let mut record = self.get(txn, run)?.ok_or(Error::UnknownRun { run })?;
        lifecycle::at_position(run, record.transitions, position)?;
        let stored = self.event_wait_at(txn, run, position)?;
        let is_stored = stored.is_some();
        let mut wait = stored.unwrap_or_else(|| asked.clone());
        let started_ms = wait.started_ms;
        let going_on = |store: &Self, txn: &mut RwTxn<'_>, record: &mut crate::store::RunRecord| {
            let status = lifecycle::runnable(record);
            if lifecycle::set_status(record, status, now_ms) {
                store.put(txn, run, record)?;
            }
            store.set_active(txn, run)
        };
        if let Some(payload) = wait.delivered.clone() {
            going_on(self, txn, &mut record)?;
            return Ok(Awaited::Received {
                payload,
                started_ms,
            });
        }
        let first = match dbs
            .events
            .prefix_iter(txn, &queue_prefix(run, &wait.name))?
            .next()
        {
            Some(entry) => {
                let (k, v) = entry?;
                Some((k.to_vec(), v.to_vec()))
            }
            None => None,
        };
        if let Some((k, payload)) = first {
            // Taken off the queue and bound to this await in one write.
            dbs.events.delete(txn, &k)?;
            wait.delivered = Some(payload.clone());
            self.put_wait(txn, dbs, run, position, &wait)?;
            going_on(self, txn, &mut record)?;
            return Ok(Awaited::Received {
                payload,
                started_ms,
            });
        }
        if wait.deadline_ms.is_some_and(|deadline| deadline <= now_ms) {
            going_on(self, txn, &mut record)?;
            return Ok(Awaited::TimedOut { started_ms });
        }
        if !is_stored {
            self.put_wait(txn, dbs, run, position, &wait)?;
        }
        lifecycle::wait(&mut record, now_ms);
        // Its deadline is a sleep entry at this position (below).
        record.hints.sleep |= wait.deadline_ms.is_some();
        self.put(txn, run, &record)?;
        self.index.active.delete(txn, &run.0.to_be_bytes())?;
        if let Some(deadline) = wait.deadline_ms {
            // The deadline as a durable sleep at this position: the timer wakes the run then.
            let mut value = deadline.to_be_bytes().to_vec();
            value.extend_from_slice(&started_ms.to_be_bytes());
            self.sleeps.put(txn, &key_at(run, position), &value)?;
            self.index_sleep(txn, run, position, deadline)?;
        }
        Ok(Awaited::Waiting {
            deadline_ms: wait.deadline_ms,
        })
    }

    /// Whether `run`, waiting at `position` with neither sleep nor question, is parked on an
    /// event with none of its name queued: it then needs no index entry (the send wakes it).
    /// For the start-up check (`consistency.rs`).
    pub(super) fn parked_on_event(
        &self,
        txn: &RoTxn<'_>,
        run: RunId,
        position: u64,
    ) -> Result<bool, Error> {
        let (Some(dbs), Some(wait)) = (self.events.dbs, self.event_wait_at(txn, run, position)?)
        else {
            return Ok(false);
        };
        if wait.delivered.is_some() {
            return Ok(false);
        }
        let queued = dbs
            .events
            .prefix_iter(txn, &queue_prefix(run, &wait.name))?
            .next()
            .is_some();
        Ok(!queued)
    }

    /// [`WriteOp::RecordAttempts`](crate::store::WriteOp::RecordAttempts) inside `txn`.
    pub(super) fn record_attempts_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        position: u64,
        attempts: StoredAttempts,
    ) -> Result<(), Error> {
        let dbs = self.events.writable()?;
        let record = self.get(txn, run)?.ok_or(Error::UnknownRun { run })?;
        lifecycle::at_position(run, record.transitions, position)?;
        dbs.attempts
            .put(txn, &key_at(run, position), &attempts.to_bytes())?;
        Ok(())
    }

    /// [`Store::attempts_at`](crate::store::Store::attempts_at).
    pub(super) fn attempts_at_impl(
        &self,
        run: RunId,
        position: u64,
    ) -> Result<Option<StoredAttempts>, Error> {
        let Some(dbs) = self.events.dbs else {
            return Ok(None);
        };
        let txn = self.env.read_txn()?;
        match dbs.attempts.get(&txn, &key_at(run, position))? {
            Some(bytes) => StoredAttempts::from_bytes(bytes)
                .map(Some)
                .ok_or_else(|| corrupt(run, "the attempts of a retrying step", "bad length")),
            None => Ok(None),
        }
    }

    /// Drops the attempts stored at `position` of `run` (a failed run reopened: its step gets
    /// its attempts afresh).
    pub(super) fn forget_attempts_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        position: u64,
    ) -> Result<(), Error> {
        if let Some(dbs) = self.events.dbs {
            dbs.attempts.delete(txn, &key_at(run, position))?;
        }
        Ok(())
    }

    /// What the commit that ends the await at `position` drops: its event wait (and the event
    /// bound to it) if it was one, its step's attempts if it made several. `history` is the
    /// commit's record of the await, which says which (see [`EVENT_STEP`]): a commit after any
    /// other await, the common case, costs no lookup here.
    pub(super) fn end_await_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        position: u64,
        history: &HistoryRecord,
    ) -> Result<(), Error> {
        let Some(dbs) = self.events.dbs else {
            return Ok(());
        };
        let k = key_at(run, position);
        if history.step.as_deref() == Some(EVENT_STEP) {
            dbs.waits.delete(txn, &k)?;
        }
        if history.attempts > 1 {
            dbs.attempts.delete(txn, &k)?;
        }
        Ok(())
    }

    /// Deletes every event, wait and attempt count of `run` (purged); `prefix` is its key
    /// prefix.
    pub(super) fn delete_events_of(&self, txn: &mut RwTxn<'_>, prefix: &[u8]) -> Result<(), Error> {
        if let Some(dbs) = self.events.dbs {
            for db in [dbs.events, dbs.waits, dbs.attempts] {
                delete_prefix(db, txn, prefix)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
