//! Opening the named tables that a feature added after the first format (unique keys, child
//! workflows, queues, events, the originals of migrated runs): created on a writable open, so
//! an older directory gets them empty with no format bump, and `None` on a read-only open of a
//! directory from before them.

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, WithoutTls};

use crate::error::Error;

/// A table of byte keys and values.
pub(super) type Db = Database<'static, Bytes, Bytes>;

/// Opens (creating if needed) the tables `first` and `second`, in their own write transaction.
pub(super) fn create(env: &Env<WithoutTls>, first: &str, second: &str) -> Result<(Db, Db), Error> {
    let [a, b] = create_all(env, [first, second])?;
    Ok((a, b))
}

/// Opens the tables `first` and `second` of a directory opened read-only, if it has both.
pub(super) fn open_existing(
    env: &Env<WithoutTls>,
    first: &str,
    second: &str,
) -> Result<Option<(Db, Db)>, Error> {
    Ok(open_all_existing(env, [first, second])?.map(|[a, b]| (a, b)))
}

/// Opens (creating if needed) the tables `names`, in their own write transaction.
pub(super) fn create_all<const N: usize>(
    env: &Env<WithoutTls>,
    names: [&str; N],
) -> Result<[Db; N], Error> {
    let wtxn = env.write_txn()?;
    Ok(env
        .create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, Error> {
            let mut dbs: Vec<Database<'_, Bytes, Bytes>> = Vec::with_capacity(N);
            for name in names {
                dbs.push(opener.create_database(wtxn, Some(name))?);
            }
            let Ok(dbs) = <[_; N]>::try_from(dbs) else {
                unreachable!("one table per name")
            };
            Ok(CommitOrAbort::<_, ()>::Commit(dbs))
        })?
        .unwrap_commit())
}

/// Opens the tables `names` of a directory opened read-only, if it has them all.
pub(super) fn open_all_existing<const N: usize>(
    env: &Env<WithoutTls>,
    names: [&str; N],
) -> Result<Option<[Db; N]>, Error> {
    let rtxn = env.read_txn()?;
    Ok(env
        .open_databases_and_commit(rtxn, |opener, rtxn| -> Result<_, Error> {
            let mut dbs: Vec<Database<'_, Bytes, Bytes>> = Vec::with_capacity(N);
            for name in names {
                match opener.open_database(rtxn, Some(name))? {
                    Some(db) => dbs.push(db),
                    None => return Ok(CommitOrAbort::<_, ()>::Commit(None)),
                }
            }
            let Ok(dbs) = <[_; N]>::try_from(dbs) else {
                unreachable!("one table per name")
            };
            Ok(CommitOrAbort::<_, ()>::Commit(Some(dbs)))
        })?
        .unwrap_commit())
}
