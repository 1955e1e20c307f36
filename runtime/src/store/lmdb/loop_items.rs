//! The `loop_items` database of the LMDB backend: the items of durable `for` loops, written
//! once when a loop is entered (see [`crate::context::loop_items`] for why) and deleted when the run
//! completes.
//!
//! Keys are `run ‖ position ‖ seq ‖ index`, big-endian, so one run's items are one key range.

use std::ops::Bound;

use heed::types::Bytes;
use heed::{Database, RwTxn};

use crate::context::loop_items::{LoopItems, LoopKey};
use crate::error::Error;
use crate::run::RunId;

/// The `loop_items` database: keys start with the big-endian run id.
pub(crate) type ItemsDb = Database<'static, Bytes, Bytes>;

pub(crate) fn item_key(run: RunId, key: LoopKey, index: u64) -> [u8; 28] {
    let mut out = [0; 28];
    out[..8].copy_from_slice(&run.0.to_be_bytes());
    out[8..16].copy_from_slice(&key.position().to_be_bytes());
    out[16..20].copy_from_slice(&key.seq().to_be_bytes());
    out[20..].copy_from_slice(&index.to_be_bytes());
    out
}

/// Writes one loop's items, in the caller's transaction.
pub(crate) fn put(
    db: ItemsDb,
    txn: &mut RwTxn<'_>,
    run: RunId,
    loop_items: &LoopItems,
) -> Result<(), Error> {
    for (index, item) in (0u64..).zip(&loop_items.items) {
        // Keys ascend, so LMDB can append at the end of the B-tree instead of searching.
        db.put(txn, &item_key(run, loop_items.key, index), item)?;
    }
    Ok(())
}

/// Deletes every loop item of `run`, in the caller's transaction (the run has completed).
pub(crate) fn delete_run(db: ItemsDb, txn: &mut RwTxn<'_>, run: RunId) -> Result<(), Error> {
    let start = run.0.to_be_bytes();
    let end = run.0.checked_add(1).map(u64::to_be_bytes);
    let range: (Bound<&[u8]>, Bound<&[u8]>) = (
        Bound::Included(&start[..]),
        end.as_ref()
            .map_or(Bound::Unbounded, |end| Bound::Excluded(&end[..])),
    );
    db.delete_range(txn, &range)?;
    Ok(())
}

/// Opens (creating if needed) the `loop_items` database, in its own write transaction.
pub(crate) fn open_db(env: &heed::Env<heed::WithoutTls>) -> Result<ItemsDb, Error> {
    let wtxn = env.write_txn()?;
    let db = env
        .create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, Error> {
            let db: Database<'_, Bytes, Bytes> =
                opener.create_database(wtxn, Some("loop_items"))?;
            Ok(heed::CommitOrAbort::<_, ()>::Commit(db))
        })?
        .unwrap_commit();
    Ok(db)
}
