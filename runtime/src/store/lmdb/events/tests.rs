//! Unit tests of the LMDB event tables: a parked run is in no index the runtime reads and the
//! start-up check leaves it so; a send wakes it (active, handed over) only when it waits for
//! that name; the bound event is returned again until the commit after the await drops it.

use super::*;
use crate::history::HistoryRecord;
use crate::store::lmdb::test_support::Commit;
use crate::store::{Outcome, RunRecord, Store, WriteOp};

fn wait(name: &str, deadline_ms: Option<u64>) -> StoredWait {
    StoredWait {
        name: name.to_owned(),
        started_ms: 1,
        deadline_ms,
        delivered: None,
    }
}

fn await_event(store: &LmdbStore, run: RunId, name: &str) -> Awaited {
    let op = WriteOp::AwaitEvent {
        run,
        position: 0,
        wait: wait(name, None),
    };
    store.apply_one(op).unwrap().awaited().unwrap()
}

fn send(store: &LmdbStore, run: RunId, name: &str, payload: u8) -> bool {
    let op = WriteOp::SendEvent {
        run,
        name: name.to_owned(),
        payload: vec![payload],
    };
    store.apply_one(op).unwrap().woken().unwrap()
}

fn active(store: &LmdbStore) -> Vec<RunId> {
    let (active, _) = store.active_after(None, 100).unwrap();
    active.into_iter().map(|(run, _)| run).collect()
}

#[test]
fn a_parked_run_is_left_parked_by_the_start_up_check_and_woken_by_its_event_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
    let run = store
        .create_run(&RunRecord::new("w", 7, vec![1], 0))
        .unwrap();
    assert!(matches!(
        await_event(&store, run, "paid"),
        Awaited::Waiting { deadline_ms: None }
    ));
    assert_eq!(store.load(run).unwrap().unwrap().status, Status::Waiting);
    assert_eq!(active(&store), []);
    let report = store.check_indexes(0).unwrap();
    assert_eq!((report.removed, report.reindexed), (0, 0), "{report:?}");
    assert_eq!(active(&store), []);

    // Another name is queued, and wakes nothing.
    assert!(!send(&store, run, "other", 9));
    assert!(!store.any_handed_over().unwrap());
    assert!(send(&store, run, "paid", 1));
    assert_eq!(active(&store), [run]);
    assert_eq!(store.take_handed_over(10).unwrap(), [(run, 0)]);
    // A second event of the name queues behind the first.
    assert!(!send(&store, run, "paid", 2));

    // Re-entered (a crash before the next commit), the await gets the same event.
    for _ in 0..2 {
        match await_event(&store, run, "paid") {
            Awaited::Received { payload, .. } => assert_eq!(payload, [1]),
            other => panic!("{other:?}"),
        }
    }
    let history = HistoryRecord {
        step: Some("wait_for_event".to_owned()),
        ..HistoryRecord::committed_for_test("Paid")
    };
    store
        .commit_state(Commit {
            run,
            state_name: "Paid",
            step: Some("wait_for_event"),
            state: &[0],
            writes: &Default::default(),
            history: &history,
        })
        .unwrap();
    // The next await, at the next position, takes the next event.
    let next = WriteOp::AwaitEvent {
        run,
        position: 1,
        wait: wait("paid", None),
    };
    match store.apply_one(next).unwrap() {
        Outcome::Awaited(Awaited::Received { payload, .. }) => assert_eq!(payload, [2]),
        other => panic!("{other:?}"),
    }
    let bound = store
        .in_txn(|txn| store.event_wait_at(txn, run, 0))
        .unwrap();
    assert_eq!(bound, None, "the commit after the await dropped its wait");
}

#[test]
fn attempts_stay_until_the_step_commits_or_its_run_is_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
    let run = store
        .create_run(&RunRecord::new("w", 7, vec![1], 0))
        .unwrap();
    let record = |failed| WriteOp::RecordAttempts {
        run,
        position: 0,
        attempts: StoredAttempts {
            failed,
            retry_at_ms: 500,
        },
    };
    store.apply_one(record(1)).unwrap().done().unwrap();
    store.apply_one(record(2)).unwrap().done().unwrap();
    let stored = store.attempts_at(run, 0).unwrap();
    assert_eq!(
        stored,
        Some(StoredAttempts {
            failed: 2,
            retry_at_ms: 500
        })
    );

    // Failed for good, then reopened: the step gets its attempts afresh.
    store.fail(run, "boom", None).unwrap();
    store.reopen(run).unwrap();
    assert_eq!(store.attempts_at(run, 0).unwrap(), None);

    // Retried, then committed at its third attempt: dropped with the commit.
    store.apply_one(record(2)).unwrap().done().unwrap();
    let history = HistoryRecord {
        step: Some("call".to_owned()),
        attempts: 3,
        ..HistoryRecord::committed_for_test("Called")
    };
    store
        .commit_state(Commit {
            run,
            state_name: "Called",
            step: Some("call"),
            state: &[0],
            writes: &Default::default(),
            history: &history,
        })
        .unwrap();
    assert_eq!(store.attempts_at(run, 0).unwrap(), None);
}
