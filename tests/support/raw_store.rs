//! Raw access to a data directory's LMDB tables through heed, for the tests that damage
//! stored bytes on purpose (bit flips, lost index entries, a counter set back) with no
//! runtime open.

use std::path::Path;

/// A table of the directory: every key and value as bytes.
pub type Table<'e> = heed::Database<'e, heed::types::Bytes, heed::types::Bytes>;

/// Opens the environment of `dir`, runs `f` on the table `name` in a write transaction,
/// commits, and closes the environment before returning.
pub fn with_database<T>(
    dir: &Path,
    name: &str,
    f: impl FnOnce(&mut heed::RwTxn<'_>, Table<'_>) -> T,
) -> T {
    // SAFETY: no other handle on the environment is open in this process (the runtime was
    // shut down and its environment closed), and no other process uses the directory.
    let env = unsafe {
        heed::EnvOpenOptions::new()
            .max_dbs(64)
            .map_size(10 << 30)
            .open(dir)
            .expect("the environment opens")
    };
    let wtxn = env.write_txn().expect("a write transaction");
    let db = env
        .create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, heed::Error> {
            let db = opener.create_database(wtxn, Some(name))?;
            Ok(heed::CommitOrAbort::<_, ()>::Commit(db))
        })
        .expect("the table opens")
        .unwrap_commit();
    let mut txn = env.write_txn().expect("a write transaction");
    let out = f(&mut txn, db);
    txn.commit().expect("commit");
    env.prepare_for_closing().wait();
    out
}

/// The id of the last committed write transaction of `dir`'s environment: unchanged between
/// two reads when nothing was committed in between. Opens and closes the environment.
// Used by `start_commits` only; the other binaries that include this module do not.
#[allow(dead_code)]
pub fn last_txn_id(dir: &Path) -> usize {
    // SAFETY: as in `with_database`: no other handle on the environment is open.
    let env = unsafe {
        heed::EnvOpenOptions::new()
            .max_dbs(64)
            .map_size(10 << 30)
            .open(dir)
            .expect("the environment opens")
    };
    let id = env.info().last_txn_id;
    env.prepare_for_closing().wait();
    id
}
