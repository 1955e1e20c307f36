//! Unit tests of the disk reserve ahead of LMDB's write map.

use std::os::unix::fs::MetadataExt;

use super::*;
use crate::durability::Durability;
use crate::store::RunRecord;
use crate::store::lmdb::LmdbStore;

/// Bytes of `dir`'s data file allocated on disk.
fn allocated(dir: &Path) -> u64 {
    std::fs::metadata(data_file(dir)).unwrap().blocks() * 512
}

fn used(store: &LmdbStore) -> u64 {
    let info = store.env.info();
    let page_size = u64::from(store.env.unnamed_database_stat().page_size);
    (info.last_page_number as u64 + 1) * page_size
}

/// As the database grows past several chunks, the data file's allocated blocks stay ahead
/// of LMDB's last used page by at least the margin, before every write.
#[test]
fn the_data_file_stays_allocated_ahead_of_lmdb() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        LmdbStore::open_with(dir.path(), 1 << 30, Durability::ProcessCrash, true, true).unwrap();
    let reserve = store
        .reserve
        .as_ref()
        .expect("fallocate works on the test disk");
    let first = reserve.reserved();
    // Reserved at open, before the environment's first pages were written.
    assert!(first >= MARGIN + CHUNK && first >= used(&store) + MARGIN);
    assert!(allocated(dir.path()) >= first);
    // A 1 MiB input per run: 100 MiB in all, past the first chunk.
    for _ in 0..100 {
        store
            .create_run(&RunRecord::new("w", 7, vec![7; 1 << 20], 0))
            .unwrap();
        let reserved = reserve.reserved();
        assert!(
            reserved >= used(&store) + MARGIN,
            "{reserved} {}",
            used(&store)
        );
        assert!(allocated(dir.path()) >= reserved);
    }
    assert!(reserve.reserved() > first + CHUNK);
    // The apparent size is LMDB's (the map size), untouched by the reservation.
    let len = std::fs::metadata(data_file(dir.path())).unwrap().len();
    assert_eq!(len, 1 << 30);
}

/// The estimate of a batch of new runs covers what its commit makes LMDB allocate, for
/// many small runs (where the per-run entries dominate) and for a few large inputs.
#[test]
fn a_batch_of_runs_stays_within_its_estimate() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        LmdbStore::open_with(dir.path(), 1 << 30, Durability::ProcessCrash, true, true).unwrap();
    for (runs, input) in [(20_000, 8), (20, 1 << 20)] {
        let records = (0..runs)
            .map(|_| RunRecord::new("a_workflow_name", 7, vec![7; input], 0))
            .collect();
        let op = WriteOp::CreateRuns {
            records,
            hand_over: true,
        };
        let before = used(&store);
        crate::store::group_commit::write_one(&store, &op, 0).unwrap();
        let grown = used(&store) - before;
        assert!(
            grown <= op.reserve_bytes(),
            "{runs} runs of {input} bytes: grew {grown}, estimated {}",
            op.reserve_bytes()
        );
    }
}

/// What a failed reservation got is given back: a released range has no blocks.
#[test]
fn a_released_range_frees_its_blocks() {
    // Sparse at the map size, as LMDB leaves `data.mdb` with the write map.
    let file = tempfile::tempfile().unwrap();
    file.set_len(16 << 20).unwrap();
    fallocate(&file, 0, 8 << 20).unwrap();
    assert!(file.metadata().unwrap().blocks() * 512 >= 8 << 20);
    release(&file, 0, 8 << 20);
    assert_eq!(file.metadata().unwrap().blocks(), 0);
    assert_eq!(file.metadata().unwrap().len(), 16 << 20);
}

/// Near the end of the map the reservation stops at the map size (LMDB fails with
/// `MDB_MAP_FULL` before writing past it), rather than failing the commit.
#[test]
fn the_reservation_never_passes_the_map_size() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        LmdbStore::open_with(dir.path(), 1 << 24, Durability::ProcessCrash, true, true).unwrap();
    let reserve = store.reserve.as_ref().unwrap();
    assert_eq!(reserve.reserved(), 1 << 24);
    store
        .create_run(&RunRecord::new("w", 7, vec![], 0))
        .unwrap();
    assert_eq!(reserve.reserved(), 1 << 24);
}

/// Without the write map, or in full durability, nothing is reserved: LMDB `pwrite`s and
/// reports a full disk itself.
#[test]
fn nothing_is_reserved_without_the_write_map() {
    for (durability, write_map) in [(Durability::ProcessCrash, false), (Durability::Full, true)] {
        let dir = tempfile::tempdir().unwrap();
        let store = LmdbStore::open_with(dir.path(), 1 << 30, durability, write_map, true).unwrap();
        assert!(store.reserve.is_none());
        assert!(allocated(dir.path()) < 1 << 20);
    }
}
