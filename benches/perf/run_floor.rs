//! The floor under figure 7: the LMDB writes a three-step run's whole life needs, done by
//! raw heed with no cairn around them (no tasks, no group commit, no encoding), `N` runs per
//! transaction, one transaction per round as `start_many` commits them.
//!
//! The writes are the ones cairn's store makes for such a run, counted with uprobes on
//! `mdb_put` / `mdb_get` / `mdb_del` over `start_many` (key and value sizes too; 2026-11-30):
//!
//! | round | per run |
//! |---|---|
//! | creation | record put (60 B), input put, `active` put, `listed` put, `by_status` put, `by_workflow` put |
//! | first step | record get + put, history put, `listed` get + put, `by_status` del + put |
//! | second and third step | record get + put, history put |
//! | completion | record get + put, history put, `listed` get + put, `by_status` del + put, `finished` put, `active` del |
//!
//! 28 B-tree operations per run in 8 tables. cairn also looks up keys that are usually absent
//! (cancel requests, parents, queues: ~10 per run, each in an empty table, 6.5 ns apiece) and
//! writes the status counts once per batch; the floor leaves both out. Whatever cairn does
//! beyond these writes (the runs' tasks, the hand-off to the committer, encoding) comes on
//! top, so `N / floor time` bounds the `start_many` rate that any scheduling of today's
//! tables can reach on one writer thread.

use std::path::Path;
use std::time::{Duration, Instant};

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, EnvOpenOptions, RwTxn};

/// The tables a run's life writes, as cairn's store names them.
const TABLES: [&str; 8] = [
    "runs",
    "inputs",
    "active",
    "history",
    "listed",
    "by_status",
    "by_workflow",
    "finished",
];

const RUNS: usize = 0;
const INPUTS: usize = 1;
const ACTIVE: usize = 2;
const HISTORY: usize = 3;
const LISTED: usize = 4;
const BY_STATUS: usize = 5;
const BY_WORKFLOW: usize = 6;
const FINISHED: usize = 7;

const PENDING: u32 = 0;
const RUNNING: u32 = 1;
const COMPLETED: u32 = 3;

/// The finish time of every run, in the `finished` key.
const FINISHED_MS: u64 = 1_764_460_800_000;

type Db<'e> = Database<'e, Bytes, Bytes>;

/// Time to write the lives of `n` runs in five transactions (creation, three steps,
/// completion), each committed with fsync.
pub fn run_life_floor(dir: &Path, n: u64) -> Duration {
    let mut options = EnvOpenOptions::new();
    options.map_size(1 << 30).max_dbs(TABLES.len() as u32);
    // SAFETY: a fresh directory that nothing else opens.
    let env = unsafe { options.open(dir) }.expect("open heed");
    let wtxn = env.write_txn().expect("write txn");
    let dbs: [Db<'_>; TABLES.len()] = env
        .create_databases_and_commit(wtxn, |opener, wtxn| -> heed::Result<_> {
            let mut dbs = Vec::with_capacity(TABLES.len());
            for name in TABLES {
                dbs.push(opener.create_database(wtxn, Some(name))?);
            }
            let dbs: [Db<'_>; TABLES.len()] = dbs.try_into().expect("one per name");
            Ok(CommitOrAbort::<_, ()>::Commit(dbs))
        })
        .expect("tables")
        .unwrap_commit();

    let record = [7u8; 60];
    let history = [5u8; 26];
    let listed = [3u8; 26];
    let workflow = b"steps";
    let t = Instant::now();
    let mut wtxn = env.write_txn().expect("write txn");
    for run in 0..n {
        let id = run.to_be_bytes();
        dbs[RUNS].put(&mut wtxn, &id, &record).unwrap();
        dbs[INPUTS].put(&mut wtxn, &id, &[1u8; 6]).unwrap();
        dbs[ACTIVE].put(&mut wtxn, &id, &[]).unwrap();
        dbs[LISTED].put(&mut wtxn, &id, &listed).unwrap();
        dbs[BY_STATUS]
            .put(&mut wtxn, &status_key(PENDING, run), &[])
            .unwrap();
        let mut by_workflow = (workflow.len() as u32).to_be_bytes().to_vec();
        by_workflow.extend_from_slice(workflow);
        by_workflow.extend_from_slice(&id);
        dbs[BY_WORKFLOW].put(&mut wtxn, &by_workflow, &[]).unwrap();
    }
    wtxn.commit().unwrap();
    for step in 1..=4u64 {
        let mut wtxn = env.write_txn().unwrap();
        for run in 0..n {
            let id = run.to_be_bytes();
            transition(&dbs, &mut wtxn, &id, step, &record, &history);
            let moves = match step {
                1 => Some((PENDING, RUNNING)),
                4 => Some((RUNNING, COMPLETED)),
                _ => None,
            };
            if let Some((from, to)) = moves {
                // Read before it is written, as cairn's listing reads a run's entry to
                // know which keys to move.
                std::hint::black_box(dbs[LISTED].get(&wtxn, &id).unwrap());
                dbs[LISTED].put(&mut wtxn, &id, &listed).unwrap();
                dbs[BY_STATUS]
                    .delete(&mut wtxn, &status_key(from, run))
                    .unwrap();
                dbs[BY_STATUS]
                    .put(&mut wtxn, &status_key(to, run), &[])
                    .unwrap();
            }
            if step == 4 {
                // Keyed by finish time, then run: one time for the whole batch.
                let mut finished = FINISHED_MS.to_be_bytes().to_vec();
                finished.extend_from_slice(&id);
                dbs[FINISHED].put(&mut wtxn, &finished, &[]).unwrap();
                dbs[ACTIVE].delete(&mut wtxn, &id).unwrap();
            }
        }
        wtxn.commit().unwrap();
    }
    t.elapsed()
}

/// One transition of a run: its record read and written again, a history record appended.
fn transition(
    dbs: &[Db],
    wtxn: &mut RwTxn<'_>,
    id: &[u8; 8],
    step: u64,
    record: &[u8],
    history: &[u8],
) {
    // Read and copied out, as cairn patches the stored record into a new one.
    let stored = dbs[RUNS].get(wtxn, id).unwrap().expect("the run's record");
    std::hint::black_box(stored.to_vec());
    dbs[RUNS].put(wtxn, id, record).unwrap();
    let mut key = id.to_vec();
    key.extend_from_slice(&step.to_be_bytes());
    dbs[HISTORY].put(wtxn, &key, history).unwrap();
}

/// A `by_status` key: status code, then the run, big-endian.
fn status_key(code: u32, run: u64) -> Vec<u8> {
    let mut key = code.to_be_bytes().to_vec();
    key.extend_from_slice(&run.to_be_bytes());
    key
}
