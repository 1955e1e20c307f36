//! The start-up check of the indexes against the run records.
//!
//! The indexes ([`super::index`]: active runs, wake-ups; [`super::hitl`]: answered questions,
//! question deadlines) are what the runtime reads instead of every record. A damaged or lost
//! entry used to make a run never resume or never wake, silently. [`LmdbStore::check_indexes`]
//! reads every run record once and derives the entries each unfinished run must have:
//!
//! - an entry that does not decode, or points at a missing, finished or quarantined run, or
//!   is not the one the run's record and stored sleep or question give, is removed (logged);
//! - an entry missing is written (logged);
//! - a record, stored sleep or current question that does not decode cannot give its entries:
//!   the run is quarantined ([`super::quarantine`]) with the reason, and reported.
//!
//! The listing indexes ([`super::listing`]) are derived from every record (finished ones
//! too) and made to match the same way, their counts by status included.
//!
//! Cost: one pass over the records (each decoded and checksummed) plus one over each index, in
//! one write transaction that writes only the repairs; memory is the expected entries of the
//! unfinished runs. Measured by the ignored test `check_cost` below (figures in the README's
//! "What cairn guarantees").

use std::collections::{BTreeMap, BTreeSet};

use heed::RwTxn;
use heed::types::Bytes;

use super::hitl::deadline_key;
use super::index::wakeup_key;
use super::listing::{self, Listed};
use super::{LmdbStore, be_u64, key};
use crate::error::Error;
use crate::quarantine::CheckReport;
use crate::run::{RunId, Status};

/// Individual log lines per kind of repair; past this, only the totals.
const LOGGED: usize = 50;

type Entries = BTreeMap<Vec<u8>, Vec<u8>>;

/// The entries each index must hold.
#[derive(Default)]
struct Expected {
    active: Entries,
    wakeups: Entries,
    answered: Entries,
    deadlines: Entries,
}

impl LmdbStore {
    /// Checks the indexes against the runs and repairs them (see the module doc), in one
    /// write transaction.
    pub(crate) fn check_indexes_impl(&self, now_ms: u64) -> Result<CheckReport, Error> {
        let mut txn = self.write_txn()?;
        let mut report = CheckReport::default();
        let quarantine = self.quarantine.db()?;
        let mut quarantined = BTreeSet::new();
        let mut bad_marks = Vec::new();
        for entry in quarantine.iter(&txn)? {
            let (k, _) = entry?;
            match be_u64(k) {
                Some(run) => {
                    quarantined.insert(run);
                }
                None => bad_marks.push(k.to_vec()),
            }
        }
        for k in bad_marks {
            tracing::warn!(key = ?k, "removing a quarantine entry whose key is no run id");
            quarantine.delete(&mut txn, &k)?;
            report.removed += 1;
        }

        let mut expected = Expected::default();
        let mut listing = listing::Expected::default();
        let mut to_quarantine = Vec::new();
        // Keys read as bytes: a damaged one is no run to check (and is left, reported).
        for entry in self.runs.remap_key_type::<Bytes>().iter(&txn)? {
            let (run_key, bytes) = entry?;
            let Some(id) = be_u64(run_key) else {
                tracing::error!(
                    key = ?run_key,
                    "a run key that is not a run id: its record is left as is"
                );
                continue;
            };
            report.runs += 1;
            let run = RunId(id);
            let decoded = Self::decode(run, bytes);
            let is_quarantined = quarantined.contains(&id) || decoded.is_err();
            listing.add(run, &Listed::of(decoded.as_ref().ok(), is_quarantined));
            if quarantined.contains(&id) {
                continue;
            }
            let record = match decoded {
                Ok(record) => record,
                Err(e) => {
                    to_quarantine.push((run, e.to_string()));
                    continue;
                }
            };
            // A paused run is in no index: it waits for `Client::unpause`; a queued one waits
            // in its queue (`queues.rs`).
            if record.status.is_finished()
                || matches!(record.status, Status::Paused | Status::Queued)
            {
                continue;
            }
            let id_key = id.to_be_bytes().to_vec();
            let position = record.transitions;
            if record.status != Status::Waiting {
                expected.active.insert(id_key, Vec::new());
                continue;
            }
            let sleep = self
                .sleeps
                .get(&txn, &key(run, &[&position.to_be_bytes()]))?;
            if let Some(sleep) = sleep {
                match sleep
                    .get(..8)
                    .and_then(be_u64)
                    .filter(|_| sleep.len() == 16)
                {
                    Some(wake_ms) => {
                        let k = wakeup_key((wake_ms, run)).to_vec();
                        expected.wakeups.insert(k, position.to_be_bytes().to_vec());
                    }
                    None => to_quarantine.push((
                        run,
                        format!("the sleep at position {position} does not decode"),
                    )),
                }
                continue;
            }
            match self.question_at(&txn, run, position) {
                Ok(Some(question)) => {
                    let at = position.to_be_bytes().to_vec();
                    if question.answer.is_some() {
                        expected.answered.insert(id_key, at);
                    } else if let Some(deadline) = question.deadline_ms {
                        expected
                            .deadlines
                            .insert(deadline_key(deadline, run).to_vec(), at);
                    }
                }
                Ok(None) => match self.waits_on_children(&txn, run, position)? {
                    // Parked on its children: in `answered` once they have all finished.
                    Some(true) => {
                        expected
                            .answered
                            .insert(id_key, position.to_be_bytes().to_vec());
                    }
                    Some(false) => {}
                    None => match self.parked_on_event(&txn, run, position) {
                        // Parked on an event: the send wakes it, no index entry is needed.
                        Ok(true) => {}
                        // Waiting with neither sleep, question, children nor event: running
                        // it stores one again.
                        Ok(false) => {
                            expected.active.insert(id_key, Vec::new());
                        }
                        Err(e) => to_quarantine.push((run, e.to_string())),
                    },
                },
                Err(e) => to_quarantine.push((run, e.to_string())),
            }
        }

        for (n, (run, reason)) in to_quarantine.iter().enumerate() {
            listing.quarantine(*run, self.get(&txn, *run).ok().flatten().as_ref());
            if n < LOGGED {
                tracing::warn!(%run, reason, "run quarantined at start");
            }
            self.quarantine_in(&mut txn, *run, reason, now_ms)?;
            quarantined.insert(run.0);
            report.quarantined += 1;
        }

        let tables = [
            ("active", self.index.active, &expected.active),
            ("wakeups", self.index.wakeups, &expected.wakeups),
            ("answered", self.hitl.waiting.answered, &expected.answered),
            (
                "deadlines",
                self.hitl.waiting.deadlines,
                &expected.deadlines,
            ),
        ];
        for (name, db, wanted) in tables {
            reconcile(&mut txn, name, db, wanted, &mut report)?;
        }
        let counts = listing.counts();
        let listing_tables = [
            ("listed", self.listing.listed, &listing.listed),
            ("by_status", self.listing.by_status, &listing.by_status),
            (
                "by_workflow",
                self.listing.by_workflow,
                &listing.by_workflow,
            ),
            ("finished", self.listing.finished, &listing.finished),
            ("status_counts", self.listing.counts, &counts),
        ];
        for (name, db, wanted) in listing_tables {
            reconcile(&mut txn, name, db, wanted, &mut report)?;
        }
        txn.commit()?;
        Ok(report)
    }
}

/// Makes `db` hold exactly `wanted`: removes every other entry, writes the missing ones.
fn reconcile(
    txn: &mut RwTxn<'_>,
    name: &str,
    db: heed::Database<Bytes, Bytes>,
    wanted: &Entries,
    report: &mut CheckReport,
) -> Result<(), Error> {
    let mut extra = Vec::new();
    let mut present = BTreeSet::new();
    for entry in db.iter(txn)? {
        let (k, v) = entry?;
        match wanted.get(k) {
            Some(value) if value.as_slice() == v => {
                present.insert(k.to_vec());
            }
            _ => extra.push(k.to_vec()),
        }
    }
    for k in extra {
        if report.removed < LOGGED {
            tracing::warn!(index = name, key = ?k, "removing an index entry that does not match its run");
        }
        db.delete(txn, &k)?;
        report.removed += 1;
    }
    for (k, v) in wanted {
        if !present.contains(k) {
            if report.reindexed < LOGGED {
                tracing::warn!(index = name, key = ?k, "re-indexing a run missing from the index");
            }
            db.put(txn, k, v)?;
            report.reindexed += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{RunRecord, Store, StoredSleep};

    /// `n` runs in one transaction: a quarter completed, a quarter asleep, half running.
    fn fill(store: &LmdbStore, n: u64) {
        let mut txn = store.write_txn().unwrap();
        for i in 0..n {
            let mut record = RunRecord::new("w", 7, vec![0; 32], 0);
            record.transitions = 3;
            record.state = Some(vec![1; 200]);
            record.status = match i % 4 {
                0 => Status::Completed,
                1 => Status::Waiting,
                _ => Status::Running,
            };
            let run = store.create_run_in(&mut txn, &record).unwrap();
            if record.status == Status::Running {
                store.set_active(&mut txn, run).unwrap();
            }
            if record.status == Status::Waiting {
                let sleep = StoredSleep {
                    started_ms: 1,
                    wake_ms: 1_000 + i,
                };
                store.suspend_in(&mut txn, run, 3, sleep, 0).unwrap();
            }
        }
        txn.commit().unwrap();
    }

    #[test]
    fn a_consistent_directory_needs_no_repair_and_a_damaged_one_is_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let store = LmdbStore::open(dir.path(), 1 << 26).unwrap();
        fill(&store, 40);
        let report = store.check_indexes(0).unwrap();
        assert_eq!(
            report,
            CheckReport {
                runs: 40,
                ..CheckReport::default()
            }
        );
        let (active, _) = store.active_after(None, 100).unwrap();
        let wakeups = store.wakeups_after(None, 100).unwrap();
        let mut txn = store.write_txn().unwrap();
        store.index.active.clear(&mut txn).unwrap();
        store.index.wakeups.clear(&mut txn).unwrap();
        // And a run key that is no run id: left, but it stops neither the check nor a listing.
        store
            .runs
            .remap_key_type::<Bytes>()
            .put(&mut txn, &[1, 2, 3], &[0])
            .unwrap();
        txn.commit().unwrap();
        let report = store.check_indexes(0).unwrap();
        assert_eq!(report.reindexed, 30);
        assert_eq!(report.runs, 40);
        assert_eq!(store.active_after(None, 100).unwrap().0, active);
        assert_eq!(store.wakeups_after(None, 100).unwrap(), wakeups);
        assert_eq!(store.list_status(None).unwrap().len(), 40);
    }

    /// The cost of the start-up check: `cargo test -p cairn-runtime --release --lib
    /// check_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement"]
    fn check_cost() {
        for n in [10_000u64, 100_000] {
            let dir = tempfile::tempdir().unwrap();
            let store = LmdbStore::open(dir.path(), 1 << 32).unwrap();
            fill(&store, n);
            let mut times = Vec::new();
            for _ in 0..5 {
                let started = std::time::Instant::now();
                let report = store.check_indexes(0).unwrap();
                times.push(started.elapsed());
                assert_eq!(report.runs as u64, n);
                assert_eq!(report.removed + report.reindexed, 0);
            }
            times.sort();
            println!(
                "{n} runs (3/4 unfinished, 1/4 asleep): check median {:?}, min {:?}, max {:?}",
                times[2], times[0], times[4]
            );
        }
    }
}
