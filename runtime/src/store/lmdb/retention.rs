//! Deleting runs: every entry of one run ([`LmdbStore::delete_run_in`], shared by the purge of
//! a quarantined run and of finished ones), and a batch of finished runs chosen by a filter
//! ([`WriteOp::PurgeFinished`](crate::store::WriteOp::PurgeFinished), what
//! [`Client::purge`](crate::Client::purge) and the runtime's retention task commit).
//!
//! A batch finds its runs in the `finished` index of [`super::listing`] (oldest finish
//! first), so its cost is that of the runs it deletes, not of the runs kept. The freed pages
//! go to LMDB's free list and are reused by later writes: a store whose runs are purged as
//! fast as they finish keeps its file size (measured in BENCHMARKS.md, "file size under
//! churn").

use heed::RwTxn;

use super::hitl::deadline_key;
use super::index::wakeup_key;
use super::{LmdbStore, be_u64, delete_prefix, key, split_pair};
use crate::client::listing::RunFilter;
use crate::error::Error;
use crate::run::RunId;
use crate::store::hitl::StoredQuestion;

/// How the entries of a run in the time-keyed indexes (wake-ups, question deadlines), whose
/// keys start with a time, are found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TimeKeyed {
    /// From the run's own stored sleeps and questions: a few lookups. For a finished run,
    /// whose entries were written by this build and are consistent with them.
    FromRun,
    /// By scanning both indexes whole: for a quarantined run, whose sleeps or questions may
    /// be what is damaged.
    Scan,
}

impl LmdbStore {
    /// [`WriteOp::PurgeFinished`](crate::store::WriteOp::PurgeFinished) inside `txn`: how
    /// many runs were deleted.
    pub(super) fn purge_finished_in(
        &self,
        txn: &mut RwTxn<'_>,
        filter: &RunFilter,
        limit: usize,
    ) -> Result<u64, Error> {
        let runs = self.purgeable_in(txn, filter, limit)?;
        for &run in &runs {
            self.delete_run_in(txn, run, TimeKeyed::FromRun)?;
        }
        if !runs.is_empty() {
            tracing::debug!(purged = runs.len(), "finished runs purged");
        }
        Ok(runs.len() as u64)
    }

    /// Deletes every entry of `run`: its record, key-value state, history, sleeps, branch
    /// outputs, loop items, questions (answered or not), quarantine mark, its entries in
    /// every index (active, wake-ups, answers, deadlines, hand-overs, listing), and its unique
    /// key, which a later `Client::start_unique` may then bind to a new run.
    pub(super) fn delete_run_in(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        time_keyed: TimeKeyed,
    ) -> Result<(), Error> {
        let id = run.0.to_be_bytes();
        let prefix = key(run, &[]);
        // First, while the sleeps and questions that locate them are still there.
        match time_keyed {
            TimeKeyed::FromRun => self.delete_time_keyed_of(txn, run, &prefix)?,
            TimeKeyed::Scan => {
                for db in [self.index.wakeups, self.hitl.waiting.deadlines] {
                    let mut of_run = Vec::new();
                    for entry in db.iter(txn)? {
                        let (k, _) = entry?;
                        if k.get(8..) == Some(&id[..]) {
                            of_run.push(k.to_vec());
                        }
                    }
                    for k in of_run {
                        db.delete(txn, &k)?;
                    }
                }
            }
        }
        self.unlist(txn, run)?;
        self.free_unique_key_in(txn, run)?;
        self.forget_children_in(txn, run)?;
        self.delete_events_of(txn, &prefix)?;
        self.runs.delete(txn, &run.0)?;
        self.delete_input_in(txn, run)?;
        self.delete_request_in(txn, run)?;
        for db in [
            self.state,
            self.history,
            self.sleeps,
            self.branches,
            self.loop_items,
            self.hitl.questions,
            self.hitl.pending,
        ] {
            delete_prefix(db, txn, &prefix)?;
        }
        for db in [
            self.quarantine.db()?,
            self.index.active,
            self.hitl.waiting.answered,
            self.handover.handed_over,
        ] {
            db.delete(txn, &id)?;
        }
        Ok(())
    }

    /// Deletes the wake-ups of `run`'s stored sleeps and the deadlines of its questions.
    fn delete_time_keyed_of(
        &self,
        txn: &mut RwTxn<'_>,
        run: RunId,
        prefix: &[u8],
    ) -> Result<(), Error> {
        let mut wakeups = Vec::new();
        for entry in self.sleeps.prefix_iter(txn, prefix)? {
            let (_, v) = entry?;
            wakeups.extend(v.get(..8).and_then(be_u64).map(|ms| wakeup_key((ms, run))));
        }
        let mut deadlines = Vec::new();
        for entry in self.hitl.questions.prefix_iter(txn, prefix)? {
            let (k, v) = entry?;
            let question = crate::codec::open_record::<StoredQuestion>(v).ok();
            if let Some(ms) = question.and_then(|q| q.deadline_ms) {
                deadlines.push(deadline_key(ms, run));
            }
            // Keys are run ‖ position: nothing else to learn from them.
            debug_assert!(split_pair(k).is_some());
        }
        for k in wakeups {
            self.index.wakeups.delete(txn, &k)?;
        }
        for k in deadlines {
            self.hitl.waiting.deadlines.delete(txn, &k)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use heed::types::Bytes;

    use super::*;
    use crate::context::loop_items::PendingLoops;
    use crate::context::state::StateWrites;
    use crate::history::HistoryRecord;
    use crate::question::{Answer, Question};
    use crate::run::Status;
    use crate::store::group_commit::write_one;
    use crate::store::hitl::StoredQuestion;
    use crate::store::{RunRecord, Store, StoredSleep, WriteOp};

    fn history() -> HistoryRecord {
        HistoryRecord::committed_for_test("Next")
    }

    /// Every key of `run` in every database of the store, by where its id is in the key.
    fn keys_of(store: &LmdbStore, run: RunId) -> Vec<(&'static str, Vec<u8>)> {
        let id = run.0.to_be_bytes();
        let txn = store.env.read_txn().unwrap();
        let mut found = Vec::new();
        let first: [(&str, Database<'static, Bytes, Bytes>); 12] = [
            ("runs", store.runs.remap_key_type::<Bytes>()),
            ("state", store.state),
            ("history", store.history),
            ("sleeps", store.sleeps),
            ("branches", store.branches),
            ("loop_items", store.loop_items),
            ("questions", store.hitl.questions),
            ("pending", store.hitl.pending),
            ("answered", store.hitl.waiting.answered),
            ("active", store.index.active),
            ("handed_over", store.handover.handed_over),
            ("listed", store.listing.listed),
        ];
        let last: [(&str, Database<'static, Bytes, Bytes>); 5] = [
            ("wakeups", store.index.wakeups),
            ("deadlines", store.hitl.waiting.deadlines),
            ("by_status", store.listing.by_status),
            ("by_workflow", store.listing.by_workflow),
            ("finished", store.listing.finished),
        ];
        for (name, db) in first.into_iter().chain(store.events.all()) {
            for entry in db.iter(&txn).unwrap() {
                let (k, _) = entry.unwrap();
                if k.starts_with(&id) {
                    found.push((name, k.to_vec()));
                }
            }
        }
        for (name, db) in last {
            for entry in db.iter(&txn).unwrap() {
                let (k, _) = entry.unwrap();
                if k.ends_with(&id) {
                    found.push((name, k.to_vec()));
                }
            }
        }
        found
    }

    use heed::Database;

    /// A run with an entry in every table a finished run can have: key-value state, history,
    /// loop items, a branch output, an answered question with a deadline, a sleep whose
    /// wake-up is still indexed, a queued event, an event bound to a wait and a retrying
    /// step's attempts.
    fn busy_run(store: &LmdbStore, workflow: &str, now: u64) -> RunId {
        let run = store
            .create_run(&RunRecord::new(workflow, 7, vec![1], now))
            .unwrap();
        let mut writes = StateWrites::default();
        writes.puts.insert("k".to_owned(), Some(vec![2]));
        let mut loops = PendingLoops::default();
        loops.enter(0, vec![vec![3], vec![4]]);
        let commit = WriteOp::CommitState {
            run,
            position: 0,
            state_name: "Next",
            step: Some("s"),
            state: vec![5],
            writes,
            history: history(),
            items: loops.take(),
        };
        write_one(store, &commit, now).unwrap();
        store.commit_branch(run, 1, 0, &[6]).unwrap();
        for cents in [1, 2] {
            let send = WriteOp::SendEvent {
                run,
                name: "paid".to_owned(),
                payload: vec![cents],
            };
            write_one(store, &send, now).unwrap();
        }
        let wait = WriteOp::AwaitEvent {
            run,
            position: 1,
            wait: crate::store::events::StoredWait {
                name: "paid".to_owned(),
                started_ms: now,
                deadline_ms: None,
                delivered: None,
            },
        };
        write_one(store, &wait, now).unwrap();
        let attempts = WriteOp::RecordAttempts {
            run,
            position: 1,
            attempts: crate::store::events::StoredAttempts {
                failed: 1,
                retry_at_ms: now,
            },
        };
        write_one(store, &attempts, now).unwrap();
        let question = StoredQuestion {
            workflow: workflow.to_owned(),
            question: Question::approval("ok?").timeout(Duration::from_secs(1), Answer::Rejected),
            asked_at_ms: now,
            deadline_ms: Some(now + 1_000),
            answer: None,
            answered_at_ms: None,
            timed_out: false,
        };
        store.ask(run, 1, &question, now).unwrap();
        store.answer(run, &Answer::Approved, now).unwrap();
        store.claim(run, now).unwrap();
        store
            .suspend(
                run,
                1,
                StoredSleep {
                    started_ms: now,
                    wake_ms: now + 5_000,
                },
            )
            .unwrap();
        run
    }

    #[test]
    fn a_purge_deletes_everything_of_the_finished_runs_it_selects_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
        let old = busy_run(&store, "w", 1_000);
        let fail = WriteOp::Fail {
            run: old,
            position: 1,
            message: "boom".to_owned(),
            history: Some(history()),
        };
        write_one(&store, &fail, 2_000).unwrap();
        let recent = busy_run(&store, "w", 1_000);
        let fail = WriteOp::Fail {
            run: recent,
            position: 1,
            message: "boom".to_owned(),
            history: None,
        };
        write_one(&store, &fail, 9_000).unwrap();
        let unfinished = busy_run(&store, "w", 1_000);
        assert!(!keys_of(&store, old).is_empty());
        let before_recent = keys_of(&store, recent);
        let before_unfinished = keys_of(&store, unfinished);

        let cutoff = UNIX_EPOCH + Duration::from_millis(5_000);
        let purge = |filter: RunFilter| {
            let op = WriteOp::PurgeFinished { filter, limit: 10 };
            write_one(&store, &op, 10_000).unwrap().purged().unwrap()
        };
        assert_eq!(purge(RunFilter::new().finished_before(cutoff)), 1);
        assert_eq!(keys_of(&store, old), Vec::new());
        assert_eq!(store.load(old).unwrap(), None);
        assert_eq!(keys_of(&store, recent), before_recent);
        assert_eq!(keys_of(&store, unfinished), before_unfinished);
        // Nothing more before the cutoff; an unfinished run is never purged.
        assert_eq!(purge(RunFilter::new().finished_before(cutoff)), 0);
        assert_eq!(purge(RunFilter::new().status(Status::Waiting)), 0);
        assert_eq!(purge(RunFilter::new().workflow("other")), 0);
        assert_eq!(purge(RunFilter::new()), 1);
        assert_eq!(keys_of(&store, recent), Vec::new());
        let counts = store.count_by_status().unwrap();
        assert_eq!(
            counts.iter().collect::<Vec<_>>(),
            vec![(Status::Waiting, 1)]
        );
        // The indexes agree with the records after it.
        let report = store.check_indexes(10_000).unwrap();
        assert_eq!((report.removed, report.reindexed), (0, 0), "{report:?}");
    }
}
