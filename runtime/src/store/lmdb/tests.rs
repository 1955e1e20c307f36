//! Unit tests of the LMDB backend's records, ids, keys and format check.

use super::*;
use crate::run::Status;
use crate::store::Store;
use crate::store::StoredSleep;

#[test]
fn records_round_trip_and_ids_increase() {
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
    let a = store
        .create_run(&RunRecord::new("w", 7, vec![1], 0))
        .unwrap();
    let b = store
        .create_run(&RunRecord::new("w", 7, vec![2], 0))
        .unwrap();
    assert!(b > a);
    let writes = StateWrites::default();
    let history = HistoryRecord::committed_for_test("Next");
    let commit = Commit {
        run: a,
        state_name: "Next",
        step: Some("s"),
        state: &[9],
        writes: &writes,
        history: &history,
    };
    assert_eq!(store.commit_state(commit).unwrap(), 1);
    store.complete(a, &[4], &writes, &history).unwrap();
    let record = store.load(a).unwrap().unwrap();
    assert_eq!(record.status, Status::Completed);
    assert_eq!(record.state.as_deref(), Some(&[9][..]));
    assert_eq!(record.output.as_deref(), Some(&[4][..]));
    assert_eq!(store.unfinished().unwrap().len(), 1);
    assert_eq!(store.list(None).unwrap().len(), 2);
    assert!(matches!(
        store.fail(RunId(99), "x", None),
        Err(Error::UnknownRun { run: RunId(99) })
    ));
}

/// A batch takes consecutive ids after the highest stored run, even when the counter was
/// set back behind it (a partial restore), and moves the counter past all of them.
#[test]
fn a_batch_never_takes_a_stored_runs_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
    for input in 0..3 {
        store
            .create_run(&RunRecord::new("w", 7, vec![input], 0))
            .unwrap();
    }
    store
        .in_txn(|txn| Ok(store.meta.put(txn, NEXT_RUN_KEY, &1u64.to_be_bytes())?))
        .unwrap();
    let records: Vec<RunRecord> = (10..15)
        .map(|i| RunRecord::new("w", 7, vec![i], 0))
        .collect();
    let first = store
        .in_txn(|txn| store.create_runs_in(txn, &records, false))
        .unwrap();
    assert_eq!(first, RunId(4));
    for (i, run) in (4..9).map(RunId).enumerate() {
        let record = store.load(run).unwrap().unwrap();
        assert_eq!(store.input(run).unwrap(), Some(vec![10 + i as u8]));
        assert_eq!(record.status, Status::Pending);
    }
    assert_eq!(store.list(None).unwrap().len(), 8);
    assert_eq!(store.unfinished().unwrap().len(), 8);
    let next = store
        .create_run(&RunRecord::new("w", 7, vec![], 0))
        .unwrap();
    assert_eq!(next, RunId(9));
}

#[test]
fn state_history_sleeps_and_branches_are_per_run_and_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
    let a = store
        .create_run(&RunRecord::new("w", 7, vec![], 0))
        .unwrap();
    let b = store
        .create_run(&RunRecord::new("w", 7, vec![], 0))
        .unwrap();
    let mut writes = StateWrites::default();
    writes.puts.insert("x".to_owned(), Some(b"1".to_vec()));
    writes.puts.insert("y".to_owned(), Some(b"2".to_vec()));
    let history = HistoryRecord::committed_for_test("Next");
    for run in [a, b] {
        let sleep = StoredSleep {
            started_ms: 100,
            wake_ms: 500,
        };
        store.suspend(run, 0, sleep).unwrap();
        store.commit_branch(run, 0, 1, &[7]).unwrap();
    }
    assert_eq!(store.load(a).unwrap().unwrap().status, Status::Waiting);
    assert_eq!(store.wake_at(a, 0).unwrap().map(|s| s.wake_ms), Some(500));
    assert_eq!(store.branches(a, 0).unwrap(), vec![(1, vec![7])]);
    let commit = |run| Commit {
        run,
        state_name: "Next",
        step: None,
        state: &[],
        writes: &writes,
        history: &history,
    };
    store.commit_state(commit(a)).unwrap();
    assert_eq!(store.wake_at(a, 0).unwrap(), None);
    assert!(store.branches(a, 0).unwrap().is_empty());
    // The next await's outputs are its own.
    store.commit_branch(a, 1, 0, &[8]).unwrap();
    assert_eq!(store.branches(a, 1).unwrap(), vec![(0, vec![8])]);
    assert_eq!(store.branches(b, 0).unwrap(), vec![(1, vec![7])]);
    assert_eq!(
        store.wake_at(b, 0).unwrap().map(|s| s.started_ms),
        Some(100)
    );
    assert_eq!(store.state_all(a).unwrap().len(), 2);
    assert!(store.state_all(b).unwrap().is_empty());
    let mut clear = StateWrites {
        clear: true,
        ..StateWrites::default()
    };
    clear.puts.insert("z".to_owned(), Some(b"3".to_vec()));
    store.complete(a, &[], &clear, &history).unwrap();
    assert_eq!(
        store.state_all(a).unwrap().keys().collect::<Vec<_>>(),
        ["z"]
    );
    let numbers: Vec<u64> = store.history(a).unwrap().iter().map(|h| h.number).collect();
    assert_eq!(numbers, [1, 1]);
    assert!(store.history(b).unwrap().is_empty());
    assert!(matches!(store.reopen(a), Err(Error::NotResumable { .. })));
}

#[test]
fn without_read_ahead_records_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let open = || LmdbStore::open_with(dir.path(), 1 << 24, Durability::Full, false, false);
    let store = open().unwrap();
    let run = store
        .create_run(&RunRecord::new("w", 7, vec![3], 0))
        .unwrap();
    let closed = store.closing_event();
    drop(store);
    closed.wait();
    let store = open().unwrap();
    let record = store.load(run).unwrap().unwrap();
    assert_eq!(record.status, Status::Pending);
    assert_eq!(store.input(run).unwrap(), Some(vec![3]));
}

#[test]
fn a_newer_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
    let mut txn = store.env.write_txn().unwrap();
    store
        .meta
        .put(&mut txn, FORMAT_KEY, &(FORMAT_VERSION + 1).to_be_bytes())
        .unwrap();
    txn.commit().unwrap();
    let closed = store.closing_event();
    drop(store);
    closed.wait();
    assert!(matches!(
        LmdbStore::open(dir.path(), 1 << 24),
        Err(Error::UnsupportedFormat { found, .. }) if found == FORMAT_VERSION + 1
    ));
}

/// A new directory is created in one write transaction (one commit, so two flushes with
/// full durability), with every table a writable open uses: a table missing from
/// `new_directory::TABLES` would be created by its feature's open in a commit of its own.
#[test]
fn a_new_directory_is_created_in_one_commit() {
    use heed::types::{DecodeIgnore, Str};
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
    assert_eq!(store.env.info().last_txn_id, 1);
    let rtxn = store.env.read_txn().unwrap();
    let main: Database<'_, Str, DecodeIgnore> = store
        .env
        .open_databases_and_commit(rtxn, |opener, rtxn| -> Result<_, Error> {
            Ok(heed::CommitOrAbort::<_, ()>::Commit(
                opener.open_database(rtxn, None)?.unwrap(),
            ))
        })
        .unwrap()
        .unwrap_commit();
    let rtxn = store.env.read_txn().unwrap();
    let mut stored: Vec<String> = main
        .iter(&rtxn)
        .unwrap()
        .map(|entry| entry.unwrap().0.to_owned())
        .collect();
    stored.sort();
    let mut expected: Vec<String> = ["runs", "meta"]
        .iter()
        .chain(new_directory::TABLES)
        .map(|name| (*name).to_owned())
        .collect();
    expected.sort();
    assert_eq!(stored, expected);
    drop(rtxn);
    drop(store);
    // Reopening creates nothing and commits nothing.
    let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
    assert_eq!(store.env.info().last_txn_id, 1);
}

/// A history record is stored as its fields borrowed, renumbered: the same bytes as the
/// struct with that number, which every reader decodes.
#[test]
fn a_history_record_encodes_as_its_struct_renumbered() {
    let history = HistoryRecord {
        number: 3,
        state: "Next".to_owned(),
        step: Some("s".to_owned()),
        started_at_ms: 10,
        ended_at_ms: 20,
        attempts: 2,
        attempt_errors: vec!["first try".to_owned()],
        outcome: crate::history::HistoryOutcome::Failed {
            message: "no".to_owned(),
        },
    };
    let mut renumbered = history.clone();
    renumbered.number = 9;
    assert_eq!(
        encode(&super::history_numbered(&history, 9), 0).unwrap(),
        encode(&renumbered, 0).unwrap()
    );
}

/// A sleep committed at a position the run has left (its task started from a stale record,
/// or another task committed it further) is refused with `MovedOn` and writes nothing: stored,
/// it would mark the run waiting on a wake-up that never wakes it (a wake-up only wakes the
/// sleep at the run's position). The same rule on PostgreSQL: `tests/postgres_stale_suspend.rs`.
#[test]
fn a_sleep_at_a_position_the_run_has_left_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
    let run = run_at_position_two(&store);
    let sleep = StoredSleep {
        started_ms: 1,
        wake_ms: 500,
    };
    let refused = store.suspend(run, 1, sleep);
    refused_as_moved_on(&refused, run, "");
    let record = store.load(run).unwrap().unwrap();
    assert_eq!(record.status, Status::Running);
    assert_eq!(store.wake_at(run, 1).unwrap(), None);
    assert_eq!(store.sleeping().unwrap(), 0);
    // At its position, the same sleep is stored.
    store.suspend(run, 2, sleep).unwrap();
    assert_eq!(store.load(run).unwrap().unwrap().status, Status::Waiting);
    assert_eq!(store.wake_at(run, 2).unwrap().map(|s| s.wake_ms), Some(500));
}

/// Asserts that `result` refuses a write at position 1 of `run`, which is stored at position 2
/// (see [`run_at_position_two`]); `what` names the write in the failure.
fn refused_as_moved_on<T: std::fmt::Debug>(result: &Result<T, Error>, run: RunId, what: &str) {
    assert!(
        matches!(
            result,
            Err(Error::MovedOn {
                run: r,
                position: 1,
                stored: 2
            }) if *r == run
        ),
        "{what} {result:?}"
    );
}

/// A new run, committed to position 2.
fn run_at_position_two(store: &LmdbStore) -> RunId {
    let run = store
        .create_run(&RunRecord::new("w", 7, vec![], 0))
        .unwrap();
    let writes = StateWrites::default();
    let history = HistoryRecord::committed_for_test("Next");
    for _ in 0..2 {
        store
            .commit_state(Commit {
                run,
                state_name: "Next",
                step: Some("s"),
                state: &[1],
                writes: &writes,
                history: &history,
            })
            .unwrap();
    }
    run
}

/// The twin of the sleep above for a question (`wait_for_user`): asked at a position the run
/// has left, it is refused with `MovedOn` and writes nothing. Stored, it would mark the run
/// waiting on a question no answer can reach (an answer goes to the question at the run's
/// position). The same rule on PostgreSQL: `tests/postgres_stale_suspend.rs`.
#[test]
fn a_question_at_a_position_the_run_has_left_is_refused() {
    use crate::question::Question;
    use crate::store::hitl::{HitlStore, StoredQuestion};
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
    let run = run_at_position_two(&store);
    let question = StoredQuestion {
        workflow: "w".to_owned(),
        question: Question::approval("go on?"),
        asked_at_ms: 1,
        deadline_ms: None,
        answer: None,
        answered_at_ms: None,
        timed_out: false,
    };
    let refused = store.ask(run, 1, &question, 1);
    refused_as_moved_on(&refused, run, "");
    assert_eq!(store.load(run).unwrap().unwrap().status, Status::Running);
    assert!(store.pending_questions().unwrap().is_empty());
    assert_eq!(store.waiting_for_answers().unwrap(), 0);
    // At its position, the same question is stored.
    store.ask(run, 2, &question, 1).unwrap();
    assert_eq!(store.load(run).unwrap().unwrap().status, Status::Waiting);
    assert_eq!(
        store.current_question(run).unwrap().map(|(at, _)| at),
        Some(2)
    );
}

/// The twin for a wait for an event: at a position the run has left it is refused with
/// `MovedOn`, and the event queued for the run stays queued (taken and bound there, it would
/// be lost to the run); at the run's position the same wait receives it.
#[test]
fn an_event_wait_at_a_position_the_run_has_left_is_refused_and_takes_no_event() {
    use crate::store::events::{Awaited, StoredWait};
    use crate::store::group_commit::write_one;
    use crate::store::{Outcome, WriteOp};
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
    let run = run_at_position_two(&store);
    let send = WriteOp::SendEvent {
        run,
        name: "go".to_owned(),
        payload: vec![7],
    };
    write_one(&store, &send, 1).unwrap();
    let wait = |position| WriteOp::AwaitEvent {
        run,
        position,
        wait: StoredWait {
            name: "go".to_owned(),
            started_ms: 1,
            deadline_ms: None,
            delivered: None,
        },
    };
    let refused = write_one(&store, &wait(1), 1);
    refused_as_moved_on(&refused, run, "");
    assert_eq!(store.load(run).unwrap().unwrap().status, Status::Running);
    let received = write_one(&store, &wait(2), 1).unwrap();
    assert!(
        matches!(
            &received,
            Outcome::Awaited(Awaited::Received { payload, .. }) if payload == &[7]
        ),
        "{received:?}"
    );
}

/// The other writes a run's own task makes at its await (a branch output of a `parallel`, a
/// child started, the wait for the children, a retried step's attempts) follow the same rule:
/// at a position the run has left each is refused with `MovedOn` and writes nothing (a stale
/// task's child would be a run no await waits for); at the run's position each is written.
/// The same rule on PostgreSQL (`postgres/batch.rs`, `writes.rs`, `children.rs`, `events.rs`).
#[test]
fn the_awaits_writes_at_a_position_the_run_has_left_are_refused() {
    use crate::store::WriteOp;
    use crate::store::events::StoredAttempts;
    use crate::store::group_commit::write_one;
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
    let run = run_at_position_two(&store);
    let writes = |position| {
        [
            WriteOp::CommitBranch {
                run,
                position,
                index: 0,
                output: vec![1],
            },
            WriteOp::RecordAttempts {
                run,
                position,
                attempts: StoredAttempts {
                    failed: 1,
                    retry_at_ms: 5,
                },
            },
            WriteOp::StartChild {
                parent: run,
                position,
                slot: 0,
                record: RunRecord::new("child", 7, vec![], 0),
            },
            WriteOp::AwaitChildren {
                parent: run,
                position,
            },
        ]
    };
    for op in writes(1) {
        let refused = write_one(&store, &op, 1);
        refused_as_moved_on(&refused, run, &format!("{op:?}"));
    }
    assert!(store.branches(run, 1).unwrap().is_empty());
    assert_eq!(store.attempts_at(run, 1).unwrap(), None);
    assert!(store.children_of(run).unwrap().is_empty());
    assert_eq!(store.load(run).unwrap().unwrap().status, Status::Running);
    // At its position, each is written: the parent waits for its child.
    for op in writes(2) {
        write_one(&store, &op, 1).unwrap();
    }
    assert_eq!(store.branches(run, 2).unwrap(), vec![(0, vec![1])]);
    assert!(store.attempts_at(run, 2).unwrap().is_some());
    assert_eq!(store.children_of(run).unwrap().len(), 1);
    assert_eq!(store.load(run).unwrap().unwrap().status, Status::Waiting);
}

/// A stale commit (made at a position the run has left) that meets a pending request: a
/// cancel stops the run there, the stale commit dropped and nothing of it written; a pause is
/// not applied by it (the commit is refused with `MovedOn`, as without a request) and waits
/// for the commit of the run's next task. A cancel is what the user asked of the run, and the
/// stale task may be the only task of it (after a double fault on PostgreSQL, its worker owns
/// the run again): refusing it would start a new task from the stored state, whose step would
/// run before its commit met the cancel. A pause writes the commit it meets, which a stale one
/// must not do. PostgreSQL applies requests in the same order (`postgres/cancel.rs`).
#[test]
fn a_stale_commit_that_meets_a_cancel_cancels_the_run_and_writes_nothing_of_its_own() {
    use crate::store::group_commit::write_one;
    use crate::store::{Outcome, WriteOp};
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
    let stale_commit = |run, position| WriteOp::CommitState {
        run,
        position,
        state_name: "Stale",
        step: Some("s"),
        state: vec![9],
        writes: StateWrites::default(),
        history: HistoryRecord::committed_for_test("Stale"),
        items: Vec::new(),
    };

    let cancelled = run_at_position_two(&store);
    write_one(&store, &WriteOp::Cancel { run: cancelled }, 1).unwrap();
    let stopped = write_one(&store, &stale_commit(cancelled, 1), 1).unwrap();
    assert!(
        matches!(
            stopped,
            Outcome::Stopped {
                status: Status::Cancelled,
                ..
            }
        ),
        "{stopped:?}"
    );
    let record = store.load(cancelled).unwrap().unwrap();
    assert_eq!(record.status, Status::Cancelled);
    assert_eq!((record.transitions, record.state), (2, Some(vec![1])));
    let history = store.history(cancelled).unwrap();
    assert!(history.iter().all(|h| h.state != "Stale"), "{history:?}");

    let paused = run_at_position_two(&store);
    write_one(&store, &WriteOp::Pause { run: paused }, 1).unwrap();
    refused_as_moved_on(&write_one(&store, &stale_commit(paused, 1), 1), paused, "");
    assert_eq!(store.load(paused).unwrap().unwrap().status, Status::Running);
    // The run's next task's commit, at its position, meets the pause.
    let held = write_one(&store, &stale_commit(paused, 2), 1).unwrap();
    assert!(
        matches!(
            held,
            Outcome::Stopped {
                status: Status::Paused,
                ..
            }
        ),
        "{held:?}"
    );
}
