//! Opening a pair of named tables that a feature added after the first format (unique keys,
//! child workflows, queues): created on a writable open, so an older directory gets them empty
//! with no format bump, and `None` on a read-only open of a directory from before them.

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, WithoutTls};

use crate::error::Error;

/// A table of byte keys and values.
pub(super) type Db = Database<'static, Bytes, Bytes>;

/// Opens (creating if needed) the tables `first` and `second`, in their own write transaction.
pub(super) fn create(env: &Env<WithoutTls>, first: &str, second: &str) -> Result<(Db, Db), Error> {
    let wtxn = env.write_txn()?;
    Ok(env
        .create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, Error> {
            let a: Database<'_, Bytes, Bytes> = opener.create_database(wtxn, Some(first))?;
            let b: Database<'_, Bytes, Bytes> = opener.create_database(wtxn, Some(second))?;
            Ok(CommitOrAbort::<_, ()>::Commit((a, b)))
        })?
        .unwrap_commit())
}

/// Opens the tables `first` and `second` of a directory opened read-only, if it has both.
pub(super) fn open_existing(
    env: &Env<WithoutTls>,
    first: &str,
    second: &str,
) -> Result<Option<(Db, Db)>, Error> {
    let rtxn = env.read_txn()?;
    Ok(env
        .open_databases_and_commit(rtxn, |opener, rtxn| -> Result<_, Error> {
            let a: Option<Database<'_, Bytes, Bytes>> = opener.open_database(rtxn, Some(first))?;
            let b: Option<Database<'_, Bytes, Bytes>> = opener.open_database(rtxn, Some(second))?;
            Ok(CommitOrAbort::<_, ()>::Commit(a.zip(b)))
        })?
        .unwrap_commit())
}
