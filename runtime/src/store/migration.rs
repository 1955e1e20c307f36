//! The backend-free part of [`WriteOp::MigrateRun`](crate::store::WriteOp::MigrateRun): what a
//! migration of a run checks (the run is still stored under the layout it is migrated from)
//! and what it produces (its original, sealed, to keep until the run's next transition, and
//! its record under the new layout). Each backend only reads the record and writes these two
//! in its own tables (`lmdb/originals.rs`, `postgres/originals.rs`), and reads a kept original
//! back through [`open_original`], so that the rules are written once.

use crate::error::Error;
use crate::run::RunId;
use crate::store::{MigratedOriginal, RunRecord};

/// Moves `record` (run `run`'s, as stored) from layout `from` to layout `fingerprint` and, if
/// given, to the migrated `state` (its name and bytes). Returns what it replaced, sealed for
/// the backend's table of originals. [`Error::IncompatibleState`] if the run is no longer
/// stored under `from` (another process moved it); `record` is then left as it was.
pub(crate) fn migrate(
    run: RunId,
    record: &mut RunRecord,
    from: u64,
    fingerprint: u64,
    state: Option<&(String, Vec<u8>)>,
) -> Result<Vec<u8>, Error> {
    if record.fingerprint != from {
        return Err(Error::IncompatibleState {
            run,
            workflow: record.workflow.clone(),
            stored: record.fingerprint,
            expected: fingerprint,
            changes: Vec::new(),
            note: Some(format!(
                "it was to be migrated from layout {from:#018x}, and is no longer stored under it"
            )),
        });
    }
    let original = MigratedOriginal {
        fingerprint: record.fingerprint,
        state_name: record.state_name.clone(),
        state: record.state.clone(),
    };
    let sealed = crate::codec::seal_record(&original, 64).map_err(|e| Error::Encode {
        workflow: record.workflow.clone(),
        what: "original of a migrated run",
        reason: e.to_string(),
    })?;
    record.fingerprint = fingerprint;
    if let Some((name, bytes)) = state {
        record.state_name = name.clone();
        record.state = Some(bytes.clone());
    }
    Ok(sealed)
}

/// The original kept by a migration of `run`, from the `sealed` bytes that [`migrate`]
/// returned; [`Error::CorruptState`] if they do not decode.
pub(crate) fn open_original(run: RunId, sealed: &[u8]) -> Result<MigratedOriginal, Error> {
    crate::codec::open_record(sealed).map_err(|e| Error::CorruptState {
        run,
        workflow: "<unknown>".to_owned(),
        reason: format!("the original of a migrated run does not decode: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored() -> RunRecord {
        let mut record = RunRecord::new("wf", 1, Vec::new(), 0);
        record.state_name = "Step1".to_owned();
        record.state = Some(vec![1, 2, 3]);
        record
    }

    #[test]
    fn a_migration_moves_the_record_and_keeps_what_it_replaced() {
        let mut record = stored();
        let new_state = ("Step1Renamed".to_owned(), vec![9]);
        let sealed = migrate(RunId(7), &mut record, 1, 2, Some(&new_state)).unwrap();
        assert_eq!(record.fingerprint, 2);
        assert_eq!(record.state_name, "Step1Renamed");
        assert_eq!(record.state, Some(vec![9]));
        assert_eq!(
            open_original(RunId(7), &sealed).unwrap(),
            MigratedOriginal {
                fingerprint: 1,
                state_name: "Step1".to_owned(),
                state: Some(vec![1, 2, 3]),
            }
        );
    }

    #[test]
    fn a_run_no_longer_under_the_old_layout_is_refused_and_left_as_it_was() {
        let mut record = stored();
        let error = migrate(RunId(7), &mut record, 5, 2, None).unwrap_err();
        assert!(
            matches!(
                error,
                Error::IncompatibleState {
                    run: RunId(7),
                    stored: 1,
                    expected: 2,
                    ..
                }
            ),
            "{error:?}"
        );
        assert_eq!(record, stored());
    }

    #[test]
    fn damaged_original_bytes_are_a_typed_error() {
        let error = open_original(RunId(7), b"not a sealed record").unwrap_err();
        assert!(
            matches!(error, Error::CorruptState { run: RunId(7), .. }),
            "{error:?}"
        );
    }
}
