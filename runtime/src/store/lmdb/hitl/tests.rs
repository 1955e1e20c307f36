//! Unit tests of the LMDB questions, answer indexes and sessions.

use std::time::Duration;

use super::*;
use crate::question::Question;
use crate::store::Store;

fn question(deadline_ms: Option<u64>) -> StoredQuestion {
    StoredQuestion {
        workflow: "w".to_owned(),
        question: Question::approval("ok?").timeout(Duration::from_secs(1), Answer::Rejected),
        asked_at_ms: 0,
        deadline_ms,
        answer: None,
        answered_at_ms: None,
        timed_out: false,
    }
}

fn active(store: &LmdbStore) -> Vec<RunId> {
    let (active, _) = store.active_after(None, 100).unwrap();
    active.into_iter().map(|(run, _)| run).collect()
}

fn due(store: &LmdbStore, now_ms: u64) -> (Vec<RunId>, Option<u64>) {
    let due = store.due_answers(now_ms, 10).unwrap();
    (due.runs, due.next_deadline_ms)
}

/// Three runs waiting: `a` is answered, `b` has a deadline at 500, `c` waits for good.
fn three_waiting(store: &LmdbStore) -> [RunId; 3] {
    let runs: [RunId; 3] = std::array::from_fn(|_| {
        store
            .create_run(&RunRecord::new("w", 7, vec![], 0))
            .unwrap()
    });
    let [a, b, c] = runs;
    for (run, deadline) in [(a, None), (b, Some(500)), (c, None)] {
        let asked = store.ask(run, 0, &question(deadline), 100).unwrap();
        assert!(matches!(asked, Asked::Waiting { .. }));
    }
    store.answer(a, &Answer::Approved, 200).unwrap();
    runs
}

#[test]
fn waiting_runs_leave_the_active_index_and_due_ones_are_read_from_the_answer_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
    let [a, b, c] = three_waiting(&store);
    // Start-up reads none of them; the watcher reads only what is due.
    assert_eq!(active(&store), vec![]);
    assert_eq!(store.waiting_for_answers().unwrap(), 2);
    assert_eq!(due(&store, 200), (vec![a], Some(500)));
    assert_eq!(due(&store, 600), (vec![a, b], None));

    assert!(matches!(store.claim(a, 600).unwrap(), Claim::Claimed(_)));
    assert!(matches!(store.claim(b, 400).unwrap(), Claim::Waiting));
    let Claim::Claimed(_) = store.claim(b, 600).unwrap() else {
        panic!("the deadline passed: b takes its default answer");
    };
    assert_eq!(
        store.current_question(b).unwrap().unwrap().1.answer,
        Some(Answer::Rejected)
    );
    // Claimed runs go on (active again) and leave the answer indexes; `c` still waits.
    assert_eq!(due(&store, 600), (vec![], None));
    assert_eq!(active(&store), vec![a, b]);
    assert_eq!(store.waiting_for_answers().unwrap(), 1);
    assert!(matches!(store.claim(c, 600).unwrap(), Claim::Waiting));
    // A stale entry (the run went on without a claim) is dropped by the claim that finds it.
    let mut txn = store.env.write_txn().unwrap();
    let answered = store.hitl.waiting.answered;
    answered.put(&mut txn, &a.0.to_be_bytes(), &[0; 8]).unwrap();
    txn.commit().unwrap();
    assert!(matches!(store.claim(a, 600).unwrap(), Claim::Gone));
    assert_eq!(due(&store, 600), (vec![], None));
}

#[test]
fn a_format_2_directory_gets_its_answer_indexes_built() {
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
    let [a, b, c] = three_waiting(&store);
    // Format 2 kept waiting runs active and had no answer indexes.
    let mut txn = store.env.write_txn().unwrap();
    let waiting = store.hitl.waiting;
    waiting.answered.clear(&mut txn).unwrap();
    waiting.deadlines.clear(&mut txn).unwrap();
    for run in [a, b, c] {
        store.set_active(&mut txn, run).unwrap();
    }
    store
        .meta
        .put(&mut txn, FORMAT_KEY, &2u32.to_be_bytes())
        .unwrap();
    // Its values are this build's, already sealed.
    super::super::migrate::mark_sealed(store.meta, &mut txn);
    txn.commit().unwrap();
    let closed = store.closing_event();
    drop(store);
    closed.wait();

    let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
    assert_eq!(active(&store), vec![]);
    assert_eq!(due(&store, 600), (vec![a, b], None));
    let txn = store.env.read_txn().unwrap();
    let format = store.meta.get(&txn, FORMAT_KEY).unwrap().unwrap();
    assert_eq!(format, super::super::FORMAT_VERSION.to_be_bytes());
}
