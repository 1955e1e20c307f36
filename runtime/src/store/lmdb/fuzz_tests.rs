//! Property tests of the decoders that read inside the LMDB store, through a real store: every
//! database of one run (its record, history, key-value state, sleeps, branch outputs, loop
//! items, question, session) and every index (wake-ups, active runs, pending questions,
//! answered runs, deadlines, handed-over runs, the run-id counter) filled with arbitrary or
//! damaged bytes through heed, then every read and the writes that read first. Never a panic,
//! never a raw storage error for bad bytes, and a sound run beside the damaged one still reads.
//! The meta values read at open (format version, instance id) are fuzzed by reopening.
//!
//! The byte strategies and mutations are those of [`crate::fuzz_tests`].

use std::collections::BTreeMap;

use heed::types::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

use super::*;
use crate::context::loop_items::LoopKey;
use crate::fuzz_tests::{config, stored_bytes};
use crate::question::{Answer, Question};
use crate::run::Status;
use crate::store::Store;
use crate::store::hitl::{HitlStore, StoredQuestion};

/// Where a damaged value is written, relative to the run under test.
#[derive(Clone, Debug)]
enum Place {
    /// The run's record.
    Record,
    /// Its first history record.
    History,
    /// Its key-value state value `k`.
    KvState,
    /// Its sleep at position 1.
    Sleep,
    /// Output of branch 0 at position 1.
    Branch,
    /// Item 0 of the loop entered at position 1.
    LoopItem,
    /// Its question at position 1.
    Question,
    /// The session `s` (the run ids in it).
    Session,
    /// The run-id counter.
    Counter,
    /// Any key of an index, or of `runs` itself (a damaged key).
    Key(&'static str, Vec<u8>),
}

#[derive(Clone, Debug)]
struct Damage {
    place: Place,
    bytes: Vec<u8>,
}

const INDEXES: [&str; 7] = [
    "runs",
    "wakeups",
    "active",
    "pending",
    "answered",
    "deadlines",
    "handed_over",
];

fn damage() -> impl Strategy<Value = Damage> {
    let any_key = (
        prop::sample::select(INDEXES.to_vec()),
        vec(any::<u8>(), 1..40),
    )
        .prop_map(|(table, key)| Place::Key(table, key));
    let place = prop_oneof![
        Just(Place::Record),
        Just(Place::History),
        Just(Place::KvState),
        Just(Place::Sleep),
        Just(Place::Branch),
        Just(Place::LoopItem),
        Just(Place::Question),
        Just(Place::Session),
        Just(Place::Counter),
        any_key,
    ];
    (
        place,
        stored_bytes().prop_map(|mut bytes| {
            // An LMDB value is at most the map size; keep a case fast.
            bytes.truncate(4096);
            bytes
        }),
    )
        .prop_map(|(place, bytes)| Damage { place, bytes })
}

/// The key of a loop's item, as `loop_items` lays it out.
fn loop_key() -> LoopKey {
    postcard::from_bytes(&[1, 0]).expect("position 1, loop 0")
}

/// Writes `damage` for `run` through heed, in the store's own environment.
fn write(store: &LmdbStore, run: RunId, damage: &Damage) {
    let (table, key): (&'static str, Vec<u8>) = match &damage.place {
        Place::Record => ("runs", run.0.to_be_bytes().to_vec()),
        Place::History => ("history", key_at(run, 0).to_vec()),
        Place::KvState => ("state", key(run, &[b"k"])),
        Place::Sleep => ("sleeps", key_at(run, 1).to_vec()),
        Place::Branch => (
            "branches",
            key(run, &[&1u64.to_be_bytes(), &0u32.to_be_bytes()]),
        ),
        Place::LoopItem => (
            "loop_items",
            super::loop_items::item_key(run, loop_key(), 0).to_vec(),
        ),
        Place::Question => ("questions", key_at(run, 1).to_vec()),
        Place::Session => ("sessions", b"s".to_vec()),
        Place::Counter => ("meta", NEXT_RUN_KEY.as_bytes().to_vec()),
        Place::Key(table, key) => (table, key.clone()),
    };
    let db: Database<'static, Bytes, Bytes> = match table {
        // Opened by the store with other types: heed refuses a second typing.
        "runs" => store.runs.remap_types(),
        "meta" => store.meta.remap_types(),
        "sessions" => super::read_only::open_existing::<Str, Bytes>(&store.env, "sessions")
            .expect("sessions")
            .remap_types(),
        table => super::read_only::open_existing(&store.env, table).expect("every table exists"),
    };
    let mut wtxn = store.env.write_txn().expect("a write transaction");
    db.put(&mut wtxn, &key, &damage.bytes)
        .expect("a damaged value is written");
    wtxn.commit().expect("commit");
}

/// A run as the runtime leaves it: one transition with key-value state and history, a
/// branch output, a loop item, asked a question at position 1, in session `s`.
fn stored_run(store: &LmdbStore) -> RunId {
    let input = crate::codec::encode(&7u64).expect("an input");
    let record = RunRecord::new("w", 1, input, 0);
    let run = store.create_in_session("s", &record).unwrap_or_else(|_| {
        // The session is damaged or busy: a run outside it.
        store.create_run(&record).expect("a run is created")
    });
    let state = crate::codec::encode(&(1u8, "x".to_owned())).expect("a state");
    let value = crate::codec::seal(crate::codec::Format::Json, b"[1,2]");
    let writes = StateWrites {
        clear: false,
        puts: BTreeMap::from([("k".to_owned(), Some(value))]),
    };
    let history = HistoryRecord::committed_for_test("Next");
    let commit = Commit {
        run,
        state_name: "Next",
        step: Some("s"),
        state: &state,
        writes: &writes,
        history: &history,
    };
    store.commit_state(commit).expect("a commit");
    let output = crate::codec::encode(&5u32).expect("a branch output");
    store.commit_branch(run, 1, 0, &output).expect("a branch");
    store
        .in_txn(|txn| {
            let item = crate::codec::encode(&9u64).expect("an item");
            store
                .loop_items
                .put(txn, &super::loop_items::item_key(run, loop_key(), 0), &item)?;
            Ok(())
        })
        .expect("a loop item");
    let question = StoredQuestion {
        workflow: "w".to_owned(),
        question: Question::approval("ok?"),
        asked_at_ms: 1,
        deadline_ms: Some(10),
        answer: None,
        answered_at_ms: None,
        timed_out: false,
    };
    store.ask(run, 1, &question, 2).expect("a question");
    run
}

/// Whether `error` names what is wrong rather than passing on a storage error raw.
fn typed(error: &Error) -> bool {
    !matches!(error, Error::Storage(_) | Error::Io(_))
}

/// Every read of the store, and the writes that read first, on the damaged `run`: each gives
/// a value or a typed error. Returns the first raw error, to report.
fn read_everything(store: &LmdbStore, run: RunId) -> Result<(), String> {
    let mut raw = Vec::new();
    let mut check = |what: &str, error: Option<Error>| {
        if let Some(error) = error
            && !typed(&error)
        {
            raw.push(format!("{what}: {error:?}"));
        }
    };
    check("load", store.load(run).err());
    check("list", store.list(None).err());
    check("list running", store.list(Some(Status::Waiting)).err());
    check("list_status", store.list_status(None).err());
    check("unfinished", store.unfinished().err());
    check("active_after", store.active_after(None, 100).err());
    match store.wakeups_after(None, 100) {
        Ok(wakeups) => {
            for (wake_ms, of) in wakeups {
                check("wake_due", store.wake_due(of, wake_ms).err());
            }
        }
        Err(e) => check("wakeups_after", Some(e)),
    }
    check("sleeping", store.sleeping().err());
    check("wake_at", store.wake_at(run, 1).err());
    match store.branches(run, 1) {
        Ok(branches) => {
            for (_, bytes) in branches {
                let _ = crate::codec::decode::<u32>(&bytes);
            }
        }
        Err(e) => check("branches", Some(e)),
    }
    match store.state_all(run) {
        Ok(entries) => {
            let state = crate::context::state::RunState::new(run, entries);
            let _ = state.to_json();
            check("state get", state.get::<Vec<u8>>("k").err());
        }
        Err(e) => check("state_all", Some(e)),
    }
    check("state_get", store.state_get(run, "k").err());
    check("history", store.history(run).err());
    match store.loop_item(run, loop_key(), 0) {
        Ok(item) => {
            let _ = item.map(|bytes| crate::codec::decode::<u64>(&bytes));
        }
        Err(e) => check("loop_item", Some(e)),
    }
    check("pending_questions", store.pending_questions().err());
    check("current_question", store.current_question(run).err());
    check("waiting_for_answers", store.waiting_for_answers().err());
    match store.due_answers(u64::MAX, 100) {
        Ok(due) => {
            for of in due.runs {
                check("claim", store.claim(of, 20).err());
            }
        }
        Err(e) => check("due_answers", Some(e)),
    }
    check("answer", store.answer(run, &Answer::Approved, 3).err());
    check("session_runs", store.session_runs("s").err());
    check("take_handed_over", store.take_handed_over(100).err());
    match raw.first() {
        Some(first) => Err(first.clone()),
        None => Ok(()),
    }
}

#[test]
fn damaged_values_and_keys_are_typed_errors_and_other_runs_stay_readable() {
    // Each case opens a store, writes two runs and reads everything: 256 cases in about
    // three seconds.
    let mut runner = TestRunner::new(config());
    runner
        .run(&vec(damage(), 1..4), |damages| {
            // A store per case, so that a failing case replays (and shrinks) alone.
            let dir = tempfile::tempdir().expect("a temporary directory");
            let store = LmdbStore::open(dir.path(), 1 << 26).expect("a store");
            let sound = stored_run(&store);
            let run = stored_run(&store);
            for damage in &damages {
                write(&store, run, damage);
            }
            if let Err(raw) = read_everything(&store, run) {
                return Err(TestCaseError::fail(raw));
            }
            // The run beside the damaged one still reads, and a new run gets a fresh id.
            let record = store
                .load(sound)
                .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            prop_assert_eq!(record.map(|r| r.workflow), Some("w".to_owned()));
            store
                .history(sound)
                .map_err(|e| TestCaseError::fail(format!("history: {e:?}")))?;
            let new = store
                .create_run(&RunRecord::new("new", 1, vec![], 0))
                .map_err(|e| TestCaseError::fail(format!("create_run: {e:?}")))?;
            prop_assert!(new > run && new > sound);
            Ok(())
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
}

// ---------------------------------------------------------------------------------------------
// Failing cases found by the property above, kept.

/// Found by `damaged_values_and_keys_are_typed_errors_and_other_runs_stay_readable`: a key of
/// `runs` that is not eight bytes long (a damaged key) made every read of the run ids fail
/// with a raw heed decoding error: no new run could be created, and `list` and the start-up
/// scan failed for every run.
#[test]
fn a_damaged_key_in_runs_blocks_neither_new_runs_nor_listing() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = LmdbStore::open(dir.path(), 1 << 26).expect("a store");
    let sound = stored_run(&store);
    let damage = Damage {
        place: Place::Key("runs", vec![7, 1, 2]),
        bytes: vec![1, 2, 3],
    };
    write(&store, sound, &damage);
    let new = store
        .create_run(&RunRecord::new("new", 1, vec![], 0))
        .expect("a new run despite the damaged key");
    assert!(new > sound);
    let listed: Vec<RunId> = store
        .list(None)
        .expect("a listing")
        .into_iter()
        .map(|(run, _)| run)
        .collect();
    assert_eq!(listed, [sound, new]);
    assert_eq!(store.unfinished().expect("unfinished runs").len(), 2);
}

/// The meta values read when a directory is opened (format version, instance id, run-id
/// counter), damaged: the open succeeds or is a typed error, and after a successful open the
/// stored run still reads and a new run does not take its id.
#[test]
fn damaged_meta_values_open_or_are_typed_errors() {
    let keys = prop::sample::select(vec![FORMAT_KEY, INSTANCE_KEY, NEXT_RUN_KEY]);
    let value = prop_oneof![
        vec(any::<u8>(), 0..12),
        (0u32..8).prop_map(|format| format.to_be_bytes().to_vec()),
    ];
    // Each case opens a directory twice: 64 cases, about a second.
    let mut runner = TestRunner::new(ProptestConfig {
        cases: config().cases / 4,
        ..config()
    });
    runner
        .run(&(keys, value), |(meta_key, value)| {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let store = LmdbStore::open(dir.path(), 1 << 26).expect("a store");
            let run = stored_run(&store);
            let mut wtxn = store.env.write_txn().expect("a write transaction");
            store
                .meta
                .put(&mut wtxn, meta_key, &value)
                .expect("a damaged meta value");
            wtxn.commit().expect("commit");
            let closed = store.closing_event();
            drop(store);
            closed.wait();
            match LmdbStore::open(dir.path(), 1 << 26) {
                Ok(store) => {
                    read_everything(&store, run).map_err(TestCaseError::fail)?;
                    let new = store
                        .create_run(&RunRecord::new("new", 1, vec![], 0))
                        .map_err(|e| TestCaseError::fail(format!("create_run: {e:?}")))?;
                    prop_assert!(new > run);
                }
                Err(Error::UnsupportedFormat { .. } | Error::CorruptDirectory { .. }) => {}
                Err(other) => prop_assert!(false, "{meta_key}: {other:?}"),
            }
            Ok(())
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
}
