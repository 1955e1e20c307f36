//! Opening a data directory this process may only read: a read-only copy, a snapshot mounted
//! read-only, files without write permission. LMDB opens such an environment with
//! `MDB_RDONLY` (on a read-only file system it then also goes without its lock file), but
//! nothing can be created or migrated: every database must exist and the format must be this
//! build's. Used by client-only opens only (see `RuntimeBuilder::start`); every write through
//! such a store is [`Error::ReadOnly`].

use heed::types::{Bytes, Str, U64};
use heed::{CommitOrAbort, Database, Env, EnvFlags, WithoutTls};

use super::{FORMAT_KEY, FORMAT_VERSION, INSTANCE_KEY, Meta, Runs, be_u64};
use crate::error::Error;

/// Whether `env` was opened with `MDB_RDONLY`.
pub(super) fn is_read_only(env: &Env<WithoutTls>) -> bool {
    env.get_flags()
        .is_ok_and(|flags| flags & EnvFlags::READ_ONLY.bits() != 0)
}

/// Opens the existing database `name`; a missing one is [`Error::CorruptDirectory`], since a
/// read-only open cannot create it.
pub(super) fn open_existing<KC: 'static, DC: 'static>(
    env: &Env<WithoutTls>,
    name: &'static str,
) -> Result<Database<'static, KC, DC>, Error> {
    let rtxn = env.read_txn()?;
    env.open_databases_and_commit(rtxn, |opener, rtxn| -> Result<_, Error> {
        let db: Option<Database<'_, KC, DC>> = opener.open_database(rtxn, Some(name))?;
        Ok(CommitOrAbort::<_, ()>::Commit(db))
    })?
    .unwrap_commit()
    .ok_or_else(|| Error::CorruptDirectory {
        path: env.path().to_owned(),
        key: name,
        reason: "is missing (a read-only open cannot create it)".to_owned(),
    })
}

/// The databases of [`LmdbStore`](super::LmdbStore) itself, the format checked (it must be
/// this build's: an older one cannot be brought up to date without writing) and the
/// instance id.
pub(super) struct Main {
    pub runs: Runs,
    pub meta: Meta,
    pub state: Database<'static, Bytes, Bytes>,
    pub history: Database<'static, Bytes, Bytes>,
    pub sleeps: Database<'static, Bytes, Bytes>,
    pub branches: Database<'static, Bytes, Bytes>,
    pub instance: u64,
}

pub(super) fn open_main(env: &Env<WithoutTls>) -> Result<Main, Error> {
    let runs: Database<'static, U64<heed::byteorder::BigEndian>, Bytes> =
        open_existing(env, "runs")?;
    let meta: Database<'static, Str, Bytes> = open_existing(env, "meta")?;
    let rtxn = env.read_txn()?;
    let found = meta
        .get(&rtxn, FORMAT_KEY)?
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, u32::from_be_bytes);
    if found != FORMAT_VERSION {
        return Err(Error::UnsupportedFormat {
            found,
            expected: FORMAT_VERSION,
        });
    }
    let instance = match meta.get(&rtxn, INSTANCE_KEY)? {
        Some(bytes) => be_u64(bytes).ok_or_else(|| Error::CorruptDirectory {
            path: env.path().to_owned(),
            key: INSTANCE_KEY,
            reason: format!("is {} bytes long, not 8", bytes.len()),
        })?,
        // Only the idempotency keys of running steps use it, and a client runs none.
        None => 0,
    };
    drop(rtxn);
    Ok(Main {
        runs,
        meta,
        state: open_existing(env, "state")?,
        history: open_existing(env, "history")?,
        sleeps: open_existing(env, "sleeps")?,
        branches: open_existing(env, "branches")?,
        instance,
    })
}
