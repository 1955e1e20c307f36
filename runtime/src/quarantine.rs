//! Quarantine: where a run goes when its stored bytes cannot be decoded or its index entries
//! cannot be derived, instead of staying `Running` to fail again at every restart.
//!
//! A quarantined run has an entry in the store's `quarantine` table (run -> [`StoredEntry`]),
//! with the reason. A table rather than a status in the run record, because the record
//! itself may be what does not decode: the mark must not need it. The record is left as it
//! was, so that writing the good bytes back repairs the run. A quarantined run is out of
//! every index the runtime reads (active runs, wake-ups, answers), so no restart touches it;
//! listings show it with [`Status::Corrupt`](crate::Status::Corrupt) and the reason.
//!
//! Ways out, each from [`Client`](crate::Client): `fail` (typed, with a message; then it is a
//! failed run like any other), `resume` (tries again: a run that still does not decode goes
//! back to quarantine with the new reason), or `purge_run` (deletes every entry of the run).

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::run::{RunId, RunStatus, Status};
use crate::store::RunRecord;

/// A quarantined run, as [`Runtime::quarantined`](crate::Runtime::quarantined) and
/// [`Client::quarantined`](crate::Client::quarantined) list it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quarantined {
    /// The run.
    pub run: RunId,
    /// Why: what did not decode, or which index entry could not be derived.
    pub reason: String,
    /// When it was quarantined.
    pub since: SystemTime,
}

/// The stored value of a quarantine entry, sealed by `crate::codec`. Field order is part of
/// the stored format.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredEntry {
    pub reason: String,
    pub since_ms: u64,
}

impl StoredEntry {
    pub(crate) fn to_public(&self, run: RunId) -> Quarantined {
        Quarantined {
            run,
            reason: self.reason.clone(),
            since: crate::clock::from_ms(self.since_ms),
        }
    }
}

/// What the start-up check of the indexes (`lmdb/consistency.rs`) found and did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CheckReport {
    /// Run records read.
    pub runs: usize,
    /// Index entries removed (undecodable, stale, or not the derived one).
    pub removed: usize,
    /// Index entries written because they were missing.
    pub reindexed: usize,
    /// Runs quarantined by this check.
    pub quarantined: usize,
}

/// How a run is listed, for every backend: its record's status; or, if it is quarantined
/// (`quarantined` holds the reason) or its record does not decode, [`Status::Corrupt`] with
/// the reason as its error and whatever the record says if it decodes.
pub(crate) fn listed_status(
    run: RunId,
    decoded: Result<RunRecord, Error>,
    quarantined: Option<String>,
) -> RunStatus {
    match (quarantined, decoded) {
        (None, Ok(record)) => record.to_status(run),
        (Some(reason), decoded) => corrupt_status(run, decoded.ok(), reason),
        (None, Err(e)) => corrupt_status(run, None, e.to_string()),
    }
}

fn corrupt_status(run: RunId, record: Option<RunRecord>, reason: String) -> RunStatus {
    match record {
        Some(record) => RunStatus {
            status: Status::Corrupt,
            error: Some(reason),
            ..record.to_status(run)
        },
        None => RunStatus {
            id: run,
            workflow: "<unknown>".to_owned(),
            status: Status::Corrupt,
            state: String::new(),
            step: None,
            transitions: 0,
            error: Some(reason),
            created_at_ms: 0,
            updated_at_ms: 0,
        },
    }
}
