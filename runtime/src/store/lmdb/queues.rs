//! The queue tables of the LMDB backend, behind [`Limits`](crate::Limits) (see
//! `crate::queue`): which workflows are in which queue and with which limits, the runs each
//! queue holds waiting and admitted, and the recent starts its rate limit counts.
//!
//! - `queues`, keyed by a kind byte then the rest:
//!   - `L ‖ queue` -> the queue's limits (16 bytes: cap, starts per window, window in ms;
//!     0 for no cap or no rate);
//!   - `M ‖ workflow` -> the queue the workflow is in;
//!   - `W ‖ queue ‖ 0x00 ‖ !priority ‖ run` -> nothing: a waiting run, in admission order
//!     (higher priority first, then lower run id, that is start order);
//!   - `H ‖ queue ‖ 0x00 ‖ run` -> nothing: a run holding one of the queue's slots;
//!   - `S ‖ queue ‖ 0x00 ‖ ms ‖ run` -> nothing: a start within the rate limit's window.
//! - `queue_runs`: `run` -> `W` or `H`, the run's priority and its queue: where the run is,
//!   so that finishing it frees its slot (or cancelling it drops its place) with one lookup.
//!
//! Numbers are big-endian. A new run of a workflow with an `M` entry is stored queued with a
//! `W` entry in the write that creates it ([`LmdbStore::enqueue_in`]; a failed run reopened
//! by `Client::resume` queues again the same way); the queue task's
//! [`WriteOp::PumpQueues`](crate::store::WriteOp::PumpQueues) moves waiting runs to `H` while
//! the cap and the rate allow; a run that finishes leaves its queue in the write that
//! finishes it ([`LmdbStore::leave_queue_in`], called by `put`). LMDB has one writer, so the
//! count a pump reads is the count it writes against, in any number of processes.
//!
//! A directory written before these tables gets them, empty, on open (no workflow is
//! limited); a read-only open of such a directory reads them as empty.

use std::ops::Bound;

use heed::{Env, RoTxn, RwTxn, WithoutTls};

use super::{LmdbStore, be_u64};
use crate::error::Error;
use crate::lifecycle;
use crate::queue::{QueueCheck, QueueConfig};
use crate::run::{RunId, Status};
use crate::store::RunRecord;

/// Number of LMDB databases opened here.
pub(super) const DATABASES: u32 = 2;

const QUEUES: &str = "queues";
const RUNS: &str = "queue_runs";

const LIMITS: u8 = b'L';
const MEMBER: u8 = b'M';
const WAITING: u8 = b'W';
const HOLDING: u8 = b'H';
const STARTS: u8 = b'S';

use super::table_pair::Db;

pub(super) struct Tables {
    /// `None` only in a read-only open of a directory from before the tables.
    tables: Option<(Db, Db)>,
}

impl Tables {
    /// Opens (creating if needed) the tables, in their own write transaction.
    pub(super) fn open(env: &Env<WithoutTls>) -> Result<Tables, Error> {
        Ok(Tables {
            tables: Some(super::table_pair::create(env, QUEUES, RUNS)?),
        })
    }

    /// Opens the tables of a directory opened read-only, if it has them.
    pub(super) fn open_existing(env: &Env<WithoutTls>) -> Result<Tables, Error> {
        Ok(Tables {
            tables: super::table_pair::open_existing(env, QUEUES, RUNS)?,
        })
    }

    fn writable(&self) -> Result<(Db, Db), Error> {
        self.tables.ok_or_else(|| {
            Error::from(std::io::Error::other(
                "the queue tables are missing from a store opened for writing",
            ))
        })
    }
}

/// `kind ‖ queue ‖ 0x00`: the prefix of a queue's entries of one kind.
fn prefix(kind: u8, queue: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(queue.len() + 18);
    key.push(kind);
    key.extend_from_slice(queue);
    key.push(0);
    key
}

fn waiting_key(queue: &[u8], priority: u32, run: RunId) -> Vec<u8> {
    let mut key = prefix(WAITING, queue);
    key.extend_from_slice(&(u32::MAX - priority).to_be_bytes());
    key.extend_from_slice(&run.0.to_be_bytes());
    key
}

fn holding_key(queue: &[u8], run: RunId) -> Vec<u8> {
    let mut key = prefix(HOLDING, queue);
    key.extend_from_slice(&run.0.to_be_bytes());
    key
}

fn start_key(queue: &[u8], ms: u64, run: RunId) -> Vec<u8> {
    let mut key = prefix(STARTS, queue);
    key.extend_from_slice(&ms.to_be_bytes());
    key.extend_from_slice(&run.0.to_be_bytes());
    key
}

fn keyed(kind: u8, name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 1);
    key.push(kind);
    key.extend_from_slice(name.as_bytes());
    key
}

/// A queue's limits as stored.
#[derive(Clone, Copy, Debug, Default)]
struct StoredLimits {
    cap: Option<u32>,
    /// Starts per window, and the window in milliseconds.
    rate: Option<(u32, u64)>,
}

impl StoredLimits {
    fn encode(queue: &QueueConfig) -> [u8; 16] {
        let mut bytes = [0u8; 16];
        bytes[..4].copy_from_slice(&queue.max_concurrent_runs.unwrap_or(0).to_be_bytes());
        let (starts, window) = queue.rate.unwrap_or((0, 0));
        bytes[4..8].copy_from_slice(&starts.to_be_bytes());
        bytes[8..].copy_from_slice(&window.to_be_bytes());
        bytes
    }

    /// A value that does not read as limits reads as none: the runs go on rather than
    /// wait for ever on a damaged entry.
    fn decode(bytes: &[u8]) -> StoredLimits {
        let (Some(cap), Some(starts), Some(window)) = (
            bytes
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes),
            bytes
                .get(4..8)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes),
            bytes.get(8..16).and_then(be_u64),
        ) else {
            return StoredLimits::default();
        };
        StoredLimits {
            cap: (cap > 0).then_some(cap),
            rate: (starts > 0 && window > 0).then_some((starts, window)),
        }
    }
}

/// A waiting run the pump admits (or drops, if `stale`: its record is no longer queued).
struct Admission {
    queue: Vec<u8>,
    waiting_key: Vec<u8>,
    run: RunId,
    priority: u32,
    /// The queue's rate window, to record the start in.
    window: Option<u64>,
    stale: bool,
}

/// What a pump would do now.
struct Plan {
    admissions: Vec<Admission>,
    check: QueueCheck,
}

impl LmdbStore {
    /// [`WriteOp::RegisterQueues`](crate::store::WriteOp::RegisterQueues) inside `txn`:
    /// the queues and their members become exactly `queues`.
    pub(super) fn register_queues_in(
        &self,
        txn: &mut RwTxn<'_>,
        queues: &[QueueConfig],
    ) -> Result<(), Error> {
        let (db, _) = self.queues.writable()?;
        let configured = (
            Bound::Included(&[LIMITS][..]),
            Bound::Excluded(&[MEMBER + 1][..]),
        );
        db.delete_range(txn, &configured)?;
        for queue in queues {
            db.put(
                txn,
                &keyed(LIMITS, &queue.name),
                &StoredLimits::encode(queue),
            )?;
            for workflow in &queue.workflows {
                db.put(txn, &keyed(MEMBER, workflow), queue.name.as_bytes())?;
            }
        }
        Ok(())
    }

    /// A run being created (or a failed one reopened): if its workflow is in a queue, its
    /// place in the queue is written and the record to store is returned, queued; `None` (and
    /// nothing written, nothing copied) for a workflow in no queue. The caller writes the
    /// record.
    pub(super) fn enqueue_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        record: &RunRecord,
        priority: u32,
    ) -> Result<Option<RunRecord>, Error> {
        let Some((db, runs)) = self.queues.tables else {
            return Ok(None);
        };
        let Some(queue) = db
            .get(txn, &keyed(MEMBER, &record.workflow))?
            .map(<[u8]>::to_vec)
        else {
            return Ok(None);
        };
        let mut queued = record.clone();
        lifecycle::queue(&mut queued);
        db.put(txn, &waiting_key(&queue, priority, run), &[])?;
        runs.put(txn, &run.0.to_be_bytes(), &place(WAITING, priority, &queue))?;
        Ok(Some(queued))
    }

    /// `run` finished (or is being deleted): it leaves its queue, freeing its slot or its
    /// place, in the caller's write.
    pub(super) fn leave_queue_in(&self, txn: &mut RwTxn<'_>, run: RunId) -> Result<(), Error> {
        let Some((db, runs)) = self.queues.tables else {
            return Ok(());
        };
        let id = run.0.to_be_bytes();
        let Some(stored) = runs.get(txn, &id)?.map(<[u8]>::to_vec) else {
            return Ok(());
        };
        runs.delete(txn, &id)?;
        let (Some(&kind), Some(priority), Some(queue)) = (
            stored.first(),
            stored
                .get(1..5)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes),
            stored.get(5..),
        ) else {
            return Ok(());
        };
        match kind {
            WAITING => db.delete(txn, &waiting_key(queue, priority, run))?,
            _ => db.delete(txn, &holding_key(queue, run))?,
        };
        Ok(())
    }

    /// What a pump at `now` would admit, at most `limit` runs, of the workflows `runnable`
    /// accepts (those the pumping runtime can run).
    fn plan(
        &self,
        txn: &RoTxn<'_>,
        now: u64,
        runnable: &dyn Fn(&str) -> bool,
        limit: usize,
    ) -> Result<Plan, Error> {
        let mut plan = Plan {
            admissions: Vec::new(),
            check: QueueCheck::default(),
        };
        let Some((db, _)) = self.queues.tables else {
            return Ok(plan);
        };
        let mut from = vec![WAITING];
        loop {
            // The next queue with waiting runs.
            let range = (
                Bound::Included(&from[..]),
                Bound::Excluded(&[WAITING + 1][..]),
            );
            let Some(first) = db.range(txn, &range)?.next() else {
                break;
            };
            let (key, _) = first?;
            let Some(end) = key.iter().position(|&b| b == 0) else {
                break;
            };
            let queue = key[1..end].to_vec();
            plan.check.waiting = true;
            self.plan_queue(txn, db, &queue, now, runnable, limit, &mut plan)?;
            if plan.admissions.len() >= limit {
                break;
            }
            // Past every key of this queue: `W ‖ queue ‖ 0x01`.
            from = vec![WAITING];
            from.extend_from_slice(&queue);
            from.push(1);
        }
        plan.check.ready = !plan.admissions.is_empty();
        Ok(plan)
    }

    #[allow(clippy::too_many_arguments)]
    fn plan_queue(
        &self,
        txn: &RoTxn<'_>,
        db: Db,
        queue: &[u8],
        now: u64,
        runnable: &dyn Fn(&str) -> bool,
        limit: usize,
        plan: &mut Plan,
    ) -> Result<(), Error> {
        let mut name = vec![LIMITS];
        name.extend_from_slice(queue);
        let limits = db
            .get(txn, &name)?
            .map(StoredLimits::decode)
            .unwrap_or_default();
        let mut holding = db.prefix_iter(txn, &prefix(HOLDING, queue))?.count();
        // Starts within the window, and the earliest of them (when the next may start).
        let (mut started, mut earliest) = (0usize, None::<u64>);
        if let Some((_, window)) = limits.rate {
            for entry in db.prefix_iter(txn, &prefix(STARTS, queue))? {
                let (key, _) = entry?;
                let ms = key
                    .len()
                    .checked_sub(16)
                    .and_then(|at| be_u64(&key[at..at + 8]));
                if let Some(ms) = ms.filter(|&ms| ms.saturating_add(window) > now) {
                    started += 1;
                    earliest = Some(earliest.map_or(ms, |e: u64| e.min(ms)));
                }
            }
        }
        for entry in db.prefix_iter(txn, &prefix(WAITING, queue))? {
            if plan.admissions.len() >= limit {
                break;
            }
            let (key, _) = entry?;
            let Some(run) = key.len().checked_sub(8).and_then(|at| be_u64(&key[at..])) else {
                continue;
            };
            let run = RunId(run);
            let priority = key
                .len()
                .checked_sub(12)
                .and_then(|at| key[at..at + 4].try_into().ok())
                .map_or(0, |b| u32::MAX - u32::from_be_bytes(b));
            let record = self.get(txn, run).ok().flatten();
            let stale = record.as_ref().is_none_or(|r| r.status != Status::Queued);
            if !stale && !record.as_ref().is_some_and(|r| runnable(&r.workflow)) {
                // Another process's workflow: left for a runtime that can run it.
                continue;
            }
            if !stale {
                if limits.cap.is_some_and(|cap| holding >= cap as usize) {
                    break;
                }
                if let Some((starts, window)) = limits.rate
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
                queue: queue.to_vec(),
                waiting_key: key.to_vec(),
                run,
                priority,
                window: limits.rate.map(|(_, window)| window),
                stale,
            });
        }
        Ok(())
    }

    /// [`Store::queue_check`](crate::store::Store::queue_check).
    pub(super) fn queue_check_impl(
        &self,
        now: u64,
        runnable: &dyn Fn(&str) -> bool,
    ) -> Result<QueueCheck, Error> {
        if self.queues.tables.is_none() {
            return Ok(QueueCheck::default());
        }
        let txn = self.env.read_txn()?;
        Ok(self.plan(&txn, now, runnable, 1)?.check)
    }

    /// [`WriteOp::PumpQueues`](crate::store::WriteOp::PumpQueues) inside `txn`: admits what
    /// the plan says, and returns the admitted runs.
    pub(super) fn pump_queues_in(
        &self,
        txn: &mut RwTxn<'_>,
        now: u64,
        workflows: &[String],
        limit: usize,
    ) -> Result<Vec<RunId>, Error> {
        let (db, runs) = self.queues.writable()?;
        let runnable = |workflow: &str| workflows.iter().any(|w| w == workflow);
        let plan = self.plan(txn, now, &runnable, limit)?;
        let mut admitted = Vec::with_capacity(plan.admissions.len());
        for admission in plan.admissions {
            let Admission {
                queue,
                waiting_key,
                run,
                priority,
                window,
                stale,
            } = admission;
            db.delete(txn, &waiting_key)?;
            if stale {
                runs.delete(txn, &run.0.to_be_bytes())?;
                continue;
            }
            db.put(txn, &holding_key(&queue, run), &[])?;
            runs.put(txn, &run.0.to_be_bytes(), &place(HOLDING, priority, &queue))?;
            if let Some(window) = window {
                self.prune_starts_in(txn, db, &queue, now, window)?;
                db.put(txn, &start_key(&queue, now, run), &[])?;
            }
            self.update_in(
                txn,
                run,
                |record| {
                    lifecycle::admit(record, now);
                    Ok(())
                },
                |_, _| Ok(()),
            )?;
            admitted.push(run);
        }
        Ok(admitted)
    }

    /// Drops the starts of `queue` that have left the rate window.
    fn prune_starts_in(
        &self,
        txn: &mut RwTxn<'_>,
        db: Db,
        queue: &[u8],
        now: u64,
        window: u64,
    ) -> Result<(), Error> {
        let mut old = Vec::new();
        for entry in db.prefix_iter(txn, &prefix(STARTS, queue))? {
            let (key, _) = entry?;
            let ms = key
                .len()
                .checked_sub(16)
                .and_then(|at| be_u64(&key[at..at + 8]));
            match ms {
                Some(ms) if ms.saturating_add(window) > now => break,
                _ => old.push(key.to_vec()),
            }
        }
        for key in old {
            db.delete(txn, &key)?;
        }
        Ok(())
    }
}

/// A run's place in `queue_runs`: `kind ‖ priority ‖ queue`.
fn place(kind: u8, priority: u32, queue: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(queue.len() + 5);
    value.push(kind);
    value.extend_from_slice(&priority.to_be_bytes());
    value.extend_from_slice(queue);
    value
}

impl LmdbStore {
    /// [`Store::queue_configs`](crate::store::Store::queue_configs): the `L` entries with
    /// the `M` entries naming them.
    pub(super) fn queue_configs_impl(&self) -> Result<Vec<QueueConfig>, Error> {
        let Some((db, _)) = self.queues.tables else {
            return Ok(Vec::new());
        };
        let txn = self.env.read_txn()?;
        let mut queues = Vec::new();
        for entry in db.prefix_iter(&txn, &[LIMITS])? {
            let (key, value) = entry?;
            let limits = StoredLimits::decode(value);
            queues.push(QueueConfig {
                name: String::from_utf8_lossy(&key[1..]).into_owned(),
                max_concurrent_runs: limits.cap,
                rate: limits.rate,
                workflows: Vec::new(),
            });
        }
        for entry in db.prefix_iter(&txn, &[MEMBER])? {
            let (key, queue) = entry?;
            let workflow = String::from_utf8_lossy(&key[1..]).into_owned();
            match queues.iter_mut().find(|q| q.name.as_bytes() == queue) {
                Some(config) => config.workflows.push(workflow),
                // A member of no stored queue: no configuration reads so, so the next start
                // registers the queues again.
                None => queues.push(QueueConfig {
                    name: String::from_utf8_lossy(queue).into_owned(),
                    max_concurrent_runs: None,
                    rate: None,
                    workflows: vec![workflow],
                }),
            }
        }
        Ok(queues)
    }
}
