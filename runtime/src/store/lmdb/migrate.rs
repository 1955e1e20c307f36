//! Format 4: every stored value in the envelope of [`crate::codec`] (a format tag and a
//! CRC32C checksum).
//!
//! Directories of formats 1-3 stored bare postcard (records, states, inputs, outputs, branch
//! outputs, loop items, questions, sessions) and bare JSON (key-value state). On open they are
//! rewritten once, in one write transaction, each value wrapped with the format it was
//! written in, so that after it there is one way to read every value. It runs before the
//! older migrations of [`super::index`] and [`super::hitl`] (which read run records and
//! questions, so must find them sealed) and leaves a mark that it is done; the format number
//! is raised to 4 after them. A crash in between leaves either nothing done (the transaction
//! did not commit) or the mark, and the next open goes on from there.
//!
//! Its cost is one read and one write of every value, once; a value that does not decode as a
//! run record stays as it is, and fails its checksum when read, as damage does.

use heed::types::{Bytes, Str};
use heed::{CommitOrAbort, Database, Env, RwTxn, WithoutTls};

use super::{FORMAT_KEY, Meta, Runs};
use crate::codec::{Format, seal};
use crate::error::Error;
use crate::store::RunRecord;

/// The format that put every value in the envelope.
pub(super) const SEALED_FORMAT: u32 = 4;

/// Present while the values are sealed but the format number not yet raised.
const SEALED_MARK: &str = "values_sealed";

/// Seals the values of a directory older than [`SEALED_FORMAT`], unless done already.
pub(super) fn seal_values(env: &Env<WithoutTls>, runs: Runs, meta: Meta) -> Result<(), Error> {
    let wtxn = env.write_txn()?;
    env.create_databases_and_commit(wtxn, |opener, wtxn| -> Result<_, Error> {
        if super::stored_format(meta, wtxn)? >= SEALED_FORMAT
            || meta.get(wtxn, SEALED_MARK)?.is_some()
        {
            return Ok(CommitOrAbort::<(), ()>::Abort(()));
        }
        let mut sealed = 0usize;
        sealed += seal_records(wtxn, runs)?;
        for (name, format) in [
            ("history", Format::Postcard),
            ("branches", Format::Postcard),
            ("loop_items", Format::Postcard),
            ("questions", Format::Postcard),
            ("state", Format::Json),
        ] {
            let db: Database<'_, Bytes, Bytes> = opener.create_database(wtxn, Some(name))?;
            sealed += seal_all(wtxn, db, format)?;
        }
        let sessions: Database<'_, Str, Bytes> = opener.create_database(wtxn, Some("sessions"))?;
        let entries: Vec<(String, Vec<u8>)> = sessions
            .iter(wtxn)?
            .map(|entry| entry.map(|(k, v)| (k.to_owned(), seal(Format::Postcard, v))))
            .collect::<Result<_, _>>()?;
        sealed += entries.len();
        for (k, v) in entries {
            sessions.put(wtxn, &k, &v)?;
        }
        meta.put(wtxn, SEALED_MARK, &[])?;
        tracing::info!(
            sealed,
            "added checksums to the values of an older data directory"
        );
        Ok(CommitOrAbort::Commit(()))
    })?;
    Ok(())
}

/// Marks the values of a directory as sealed, for tests that fake an older format number on
/// a directory written by this build.
#[cfg(test)]
pub(super) fn mark_sealed(meta: Meta, wtxn: &mut RwTxn<'_>) {
    meta.put(wtxn, SEALED_MARK, &[]).unwrap();
}

/// Raises the format number once the values are sealed and the older migrations are done.
pub(super) fn finish(env: &Env<WithoutTls>, meta: Meta) -> Result<(), Error> {
    let mut wtxn = env.write_txn()?;
    if super::stored_format(meta, &wtxn)? < SEALED_FORMAT {
        meta.put(&mut wtxn, FORMAT_KEY, &SEALED_FORMAT.to_be_bytes())?;
        meta.delete(&mut wtxn, SEALED_MARK)?;
        wtxn.commit()?;
    }
    Ok(())
}

/// Wraps every value of `db` as `format`; returns how many.
fn seal_all(
    wtxn: &mut RwTxn<'_>,
    db: Database<'_, Bytes, Bytes>,
    format: Format,
) -> Result<usize, Error> {
    let entries: Vec<(Vec<u8>, Vec<u8>)> = db
        .iter(wtxn)?
        .map(|entry| entry.map(|(k, v)| (k.to_vec(), seal(format, v))))
        .collect::<Result<_, _>>()?;
    for (k, v) in &entries {
        db.put(wtxn, k, v)?;
    }
    Ok(entries.len())
}

/// Wraps the input, state and output inside each run record, then the record itself.
fn seal_records(wtxn: &mut RwTxn<'_>, runs: Runs) -> Result<usize, Error> {
    let mut records = Vec::new();
    for entry in runs.iter(wtxn)? {
        let (id, bytes) = entry?;
        match postcard::from_bytes::<RunRecord>(bytes) {
            Ok(record) => records.push((id, record)),
            Err(e) => {
                tracing::error!(run = id, error = %e, "run record does not decode; left as it is")
            }
        }
    }
    for (id, record) in &mut records {
        let wrap = |bytes: &mut Vec<u8>| *bytes = seal(Format::Postcard, bytes);
        wrap(&mut record.input);
        record.state.as_mut().map(wrap);
        record.output.as_mut().map(wrap);
        let bytes =
            crate::codec::seal_record(&*record, record.encoded_len_hint()).map_err(|e| {
                Error::Encode {
                    workflow: record.workflow.clone(),
                    what: "run record",
                    reason: e.to_string(),
                }
            })?;
        runs.put(wtxn, id, &bytes)?;
    }
    Ok(records.len())
}

#[cfg(test)]
mod tests {
    use super::super::{LmdbStore, key, key_at};
    use super::*;
    use crate::context::loop_items::LoopKey;
    use crate::history::HistoryRecord;
    use crate::run::RunId;
    use crate::store::Store;

    /// A format 3 directory, written value by value as that format stored them (bare
    /// postcard and JSON), reads back through the store after the migration.
    #[test]
    fn a_format_3_directory_has_every_value_sealed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
        let run = RunId(1);
        let mut record = RunRecord::new("w", 7, postcard::to_stdvec(&"input").unwrap(), 0);
        record.state = Some(postcard::to_stdvec(&(1u8, 2u8)).unwrap());
        record.output = Some(postcard::to_stdvec(&42u64).unwrap());
        let history = HistoryRecord::committed_for_test("Next");
        // Position 0, first loop there (its fields are private to `loop_items`).
        let loop_key: LoopKey = postcard::from_bytes(&[0, 0]).unwrap();
        let mut txn = store.env.write_txn().unwrap();
        let bare = postcard::to_stdvec(&record).unwrap();
        store.runs.put(&mut txn, &run.0, &bare).unwrap();
        let bare_history = postcard::to_stdvec(&history).unwrap();
        store
            .history
            .put(&mut txn, &key_at(run, 0), &bare_history)
            .unwrap();
        store
            .state
            .put(&mut txn, &key(run, &[b"k"]), b"[1,2]")
            .unwrap();
        let item = super::super::loop_items::item_key(run, loop_key, 0);
        store.loop_items.put(&mut txn, &item, &[30]).unwrap();
        let branch = key(run, &[&0u64.to_be_bytes(), &1u32.to_be_bytes()]);
        store.branches.put(&mut txn, &branch, &[5]).unwrap();
        store
            .meta
            .put(&mut txn, FORMAT_KEY, &3u32.to_be_bytes())
            .unwrap();
        txn.commit().unwrap();
        let closed = store.closing_event();
        drop(store);
        closed.wait();

        let store = LmdbStore::open(dir.path(), 1 << 24).unwrap();
        let loaded = store.load(run).unwrap().unwrap();
        let decode = crate::codec::decode::<String>;
        assert_eq!(decode(&loaded.input).unwrap(), "input");
        let state = loaded.state.unwrap();
        assert_eq!(crate::codec::decode::<(u8, u8)>(&state).unwrap(), (1, 2));
        let output = loaded.output.unwrap();
        assert_eq!(crate::codec::decode::<u64>(&output).unwrap(), 42);
        assert_eq!(store.history(run).unwrap(), vec![history]);
        let value = store.state_get(run, "k").unwrap().unwrap();
        assert_eq!(
            crate::codec::open(&value).unwrap(),
            (Format::Json, &b"[1,2]"[..])
        );
        let item = store.loop_item(run, loop_key, 0).unwrap().unwrap();
        assert_eq!(crate::codec::decode::<u8>(&item).unwrap(), 30);
        let branches = store.branches(run, 0).unwrap();
        assert_eq!(crate::codec::decode::<u8>(&branches[0].1).unwrap(), 5);
        let txn = store.env.read_txn().unwrap();
        let format = store.meta.get(&txn, FORMAT_KEY).unwrap().unwrap();
        assert_eq!(format, super::super::FORMAT_VERSION.to_be_bytes());
        assert!(store.meta.get(&txn, SEALED_MARK).unwrap().is_none());
    }
}
