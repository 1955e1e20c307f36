//! Unit tests of the listing tables: moved on every status change, repaired by the start-up check, built for older directories.

use super::*;
use crate::context::state::StateWrites;
use crate::store::{Store, StoredSleep, WriteError, WriteOp};

fn history() -> crate::history::HistoryRecord {
    crate::history::HistoryRecord::completed_for_test("Done")
}

fn ids(store: &LmdbStore, filter: &RunFilter) -> Vec<u64> {
    let (runs, more) = store.list_runs(filter, None, 100).unwrap();
    assert_eq!(more, None);
    runs.iter().map(|r| r.id.0).collect()
}

fn counts(store: &LmdbStore) -> Vec<(Status, u64)> {
    store.count_by_status().unwrap().iter().collect()
}

/// Everything in the five tables, to compare before and after a rebuild.
fn dump(store: &LmdbStore) -> Vec<Vec<(Vec<u8>, Vec<u8>)>> {
    let txn = store.env.read_txn().unwrap();
    let t = &store.listing;
    [t.listed, t.by_status, t.by_workflow, t.finished, t.counts]
        .iter()
        .map(|db| {
            db.iter(&txn)
                .unwrap()
                .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                .collect()
        })
        .collect()
}

#[test]
fn every_status_change_moves_the_run_and_the_check_and_an_older_directory_agree() {
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
    let new = |workflow, created| {
        store
            .create_run(&RunRecord::new(workflow, 7, vec![], created))
            .unwrap()
    };
    let (a, b, c, d) = (new("w1", 10), new("w2", 20), new("w1", 30), new("w1", 40));
    assert_eq!(counts(&store), vec![(Status::Pending, 4)]);
    let writes = StateWrites::default();
    let complete = WriteOp::Complete {
        run: a,
        position: 0,
        output: vec![],
        writes: writes.clone(),
        history: history(),
    };
    crate::store::group_commit::write_one(&store, &complete, 1_000).unwrap();
    store.fail(b, "boom", None).unwrap();
    let sleep = StoredSleep {
        started_ms: 1,
        wake_ms: 500,
    };
    store.suspend(c, 0, sleep).unwrap();
    assert_eq!(
        counts(&store),
        vec![
            (Status::Pending, 1),
            (Status::Completed, 1),
            (Status::Failed, 1),
            (Status::Waiting, 1)
        ]
    );
    assert_eq!(
        ids(&store, &RunFilter::new().status(Status::Completed)),
        [a.0]
    );
    assert_eq!(
        ids(&store, &RunFilter::new().workflow("w1")),
        [a.0, c.0, d.0]
    );
    let w1_pending = RunFilter::new().workflow("w1").status(Status::Pending);
    assert_eq!(ids(&store, &w1_pending), [d.0]);
    let t = |ms| std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    let created = RunFilter::new().created_since(t(20)).created_before(t(40));
    assert_eq!(ids(&store, &created), [b.0, c.0]);
    let finished = RunFilter::new().finished_before(t(1_001));
    assert_eq!(ids(&store, &finished), [a.0]);
    // A page at a time: the cursor is the last id looked at.
    let (page, next) = store.list_runs(&RunFilter::new(), None, 2).unwrap();
    assert_eq!((page.len(), next), (2, Some(b)));
    let (page, next) = store.list_runs(&RunFilter::new(), next, 2).unwrap();
    assert_eq!((page[0].id, page[1].id, next), (c, d, None));

    // Quarantined: filed as corrupt, whatever its record says; released: back.
    let quarantine = WriteOp::Quarantine {
        run: c,
        reason: "damaged".to_owned(),
    };
    store.apply_one(quarantine).unwrap();
    assert_eq!(
        ids(&store, &RunFilter::new().status(Status::Waiting)),
        Vec::<u64>::new()
    );
    let (corrupt, _) = store
        .list_runs(&RunFilter::new().status(Status::Corrupt), None, 10)
        .unwrap();
    assert_eq!((corrupt[0].id, corrupt[0].status), (c, Status::Corrupt));
    let reopened = store.reopen(b).unwrap();
    assert_eq!(reopened.status, Status::Pending);
    assert_eq!(
        ids(&store, &RunFilter::new().status(Status::Pending)),
        [b.0, d.0]
    );
    // The check finds them as the writes left them (it drops the quarantined run's
    // wake-up, which is none of these tables).
    let before = dump(&store);
    store.check_indexes(0).unwrap();
    assert_eq!(dump(&store), before);
    store.apply_one(WriteOp::Release { run: c }).unwrap();
    assert_eq!(
        ids(&store, &RunFilter::new().status(Status::Running)),
        Vec::<u64>::new()
    );
    assert_eq!(
        ids(&store, &RunFilter::new().status(Status::Pending)),
        [b.0, c.0, d.0]
    );
    let expected = dump(&store);

    // Damaged: the start-up check rebuilds them.
    let mut txn = store.write_txn().unwrap();
    for db in [store.listing.by_status, store.listing.counts] {
        db.clear(&mut txn).unwrap();
    }
    store
        .listing
        .by_workflow
        .put(&mut txn, &workflow_key(b"w9", RunId(77)), &[])
        .unwrap();
    txn.commit().unwrap();
    let report = store.check_indexes(0).unwrap();
    assert!(report.reindexed > 0 && report.removed == 1, "{report:?}");
    assert_eq!(dump(&store), expected);

    // A format 4 directory (before these indexes) gets them built on open.
    let mut txn = store.write_txn().unwrap();
    let t = &store.listing;
    for db in [t.listed, t.by_status, t.by_workflow, t.finished, t.counts] {
        db.clear(&mut txn).unwrap();
    }
    store
        .meta
        .put(&mut txn, FORMAT_KEY, &4u32.to_be_bytes())
        .unwrap();
    txn.commit().unwrap();
    let closed = store.closing_event();
    drop(store);
    closed.wait();
    let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
    assert_eq!(dump(&store), expected);
    let txn = store.env.read_txn().unwrap();
    let format = store.meta.get(&txn, FORMAT_KEY).unwrap().unwrap();
    assert_eq!(format, LISTED_FORMAT.to_be_bytes());
}

/// What the listing indexes add to an ordinary transition (running to running: one
/// lookup of the run's entry), next to a whole transition committed alone:
/// `cargo test -p cairn-runtime --release --lib listing_cost -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement"]
fn listing_cost() {
    let dir = tempfile::tempdir().unwrap();
    let durability = crate::durability::Durability::ProcessCrash;
    let store = LmdbStore::open_with(dir.path(), 1 << 30, durability, false, true).unwrap();
    let n = 20_000u64;
    let mut runs = Vec::new();
    for _ in 0..n {
        let run = store
            .create_run(&RunRecord::new("w", 7, vec![0; 32], 0))
            .unwrap();
        runs.push(run);
    }
    let commit = |run: RunId| WriteOp::CommitState {
        run,
        position: 0,
        state_name: "Next",
        step: Some("s"),
        state: vec![1; 200],
        writes: StateWrites::default(),
        history: history(),
        items: Vec::new(),
    };
    for &run in &runs {
        crate::store::group_commit::write_one(&store, &commit(run), 1).unwrap();
    }
    for round in 0..3 {
        let started = std::time::Instant::now();
        for &run in &runs {
            crate::store::group_commit::write_one(&store, &commit(run), 1).unwrap();
        }
        let transition = started.elapsed() / n as u32;
        let records: Vec<RunRecord> = runs
            .iter()
            .map(|&r| store.load(r).unwrap().unwrap())
            .collect();
        let mut txn = store.write_txn().unwrap();
        let started = std::time::Instant::now();
        for (&run, record) in runs.iter().zip(&records) {
            store.track_listing(&mut txn, run, record).unwrap();
        }
        let tracking = started.elapsed() / n as u32;
        drop(txn);
        println!(
            "round {round}: a transition committed alone (process-crash) {transition:?}; \
             the listing lookup a status write adds {tracking:?} (skipped by a transition)"
        );
    }
}

#[test]
fn status_codes_are_the_stored_discriminants() {
    for (n, status) in [
        Status::Pending,
        Status::Running,
        Status::Completed,
        Status::Failed,
        Status::Waiting,
        Status::Corrupt,
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(status_code(status), u32::try_from(n).unwrap());
        assert_eq!(status_of(status_code(status)), Some(status));
    }
    assert_eq!(status_of(1_000), None);
}

#[test]
fn an_entry_round_trips() {
    let listed = Listed {
        code: 3,
        created_ms: 5,
        finished_ms: Some(9),
        workflow: b"w".to_vec(),
    };
    assert_eq!(Listed::decode(&listed.encode()), Some(listed));
    let unfinished = Listed {
        finished_ms: None,
        ..Listed::of(None, true)
    };
    assert_eq!(Listed::decode(&unfinished.encode()), Some(unfinished));
}

/// The counts of a batch are summed and written once at its end (`count_deltas.rs`): a batch
/// that creates runs, finishes some and cancels one leaves the counts of the runs it left, as
/// the start-up check derives them; a batch with a refused op changes no count, and one
/// after it (on the same thread) still counts.
#[test]
fn a_batchs_count_moves_are_written_once_and_match_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
    let records = (0..5).map(|i| RunRecord::new("w", 7, vec![], i)).collect();
    let create = WriteOp::CreateRuns {
        records,
        hand_over: false,
    };
    let complete = |run| WriteOp::Complete {
        run,
        position: 0,
        output: vec![],
        writes: StateWrites::default(),
        history: history(),
    };
    let runs: Vec<RunId> = (1..=5).map(RunId).collect();
    let batch = [
        create,
        complete(runs[0]),
        complete(runs[1]),
        WriteOp::Cancel { run: runs[2] },
    ];
    let outcomes = store
        .write(&batch.iter().collect::<Vec<_>>(), 100)
        .unwrap_or_else(|_| panic!("the batch is refused"));
    assert_eq!(outcomes.len(), 4);
    let expected = vec![
        (Status::Pending, 2),
        (Status::Completed, 2),
        (Status::Cancelled, 1),
    ];
    assert_eq!(counts(&store), expected);
    let before = dump(&store);
    store.check_indexes(0).unwrap();
    assert_eq!(dump(&store), before, "the check derives the same counts");

    let refused = [complete(runs[3]), complete(RunId(999))];
    let error = store.write(&refused.iter().collect::<Vec<_>>(), 200);
    assert!(matches!(error, Err(WriteError::Refused { index: 1, .. })));
    assert_eq!(counts(&store), expected, "a refused batch moves no count");

    let alone = complete(runs[3]);
    store
        .write(&[&alone], 300)
        .unwrap_or_else(|_| panic!("refused"));
    assert_eq!(
        counts(&store),
        vec![
            (Status::Pending, 1),
            (Status::Completed, 3),
            (Status::Cancelled, 1)
        ]
    );
}
