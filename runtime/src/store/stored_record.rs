//! How a [`RunRecord`] is stored: its fields in their postcard order with the input written
//! empty (each backend keeps a run's input in a table of its own, written once when the run
//! is created, so that a commit rewrites a record of the size of its state, not of its
//! input), followed on LMDB by the record's [`Hints`].
//!
//! Neither part changes the stored format, so no format bump and no migration:
//! - the input keeps its place in the record. A sealed value is never empty (its envelope
//!   has a header), so an empty input means "in the table of inputs", and a record of an
//!   older directory, with its input inline, reads as it always did (a backend moves such an
//!   input to its table the first time it writes the record);
//! - the hints follow the record's last field. postcard's `from_bytes` ignores what follows
//!   the value, so an older build reads such a record as before (and drops the hints when it
//!   writes it back); a record without them (older, or written by an older build) reads with
//!   [`Hints::UNKNOWN`], under which the backend looks up and deletes as it did before.

use serde::{Deserialize, Serialize};

use super::RunRecord;
use crate::run::Status;

/// What the LMDB backend knows of a run's entries beside its record, kept in the record so
/// that a commit neither looks up the run's last history key nor deletes entries that do not
/// exist. Each flag says an entry *may* exist: a flag set in vain costs a delete, a flag
/// missing would leave an entry behind, so writers set them before writing the entry and
/// only the commit that deletes the entries clears them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hints {
    /// The key of the run's next history record, if known (else found by a lookup).
    pub history_len: Option<u64>,
    /// A sleep entry may exist at the await in progress.
    pub sleep: bool,
    /// Branch outputs of a `parallel` may exist at the await in progress.
    pub branches: bool,
    /// The original of a migration may be kept (`originals.rs`).
    pub migrated: bool,
}

impl Hints {
    /// A record read without hints: anything may exist.
    pub(crate) const UNKNOWN: Hints = Hints {
        history_len: None,
        sleep: true,
        branches: true,
        migrated: true,
    };

    /// A new run: nothing beside its record yet.
    pub(crate) const NEW: Hints = Hints {
        history_len: Some(0),
        sleep: false,
        branches: false,
        migrated: false,
    };
}

impl Default for Hints {
    /// What a record decoded on its own knows: nothing ([`Hints::UNKNOWN`]).
    fn default() -> Hints {
        Hints::UNKNOWN
    }
}

/// Tag of the trailer's layout, so that a later layout can be told from this one (a trailer
/// with an unknown tag reads as [`Hints::UNKNOWN`]).
const HINTS_V1: u8 = 1;
const SLEEP: u8 = 1;
const BRANCHES: u8 = 2;
const MIGRATED: u8 = 4;

/// The trailer after the record's fields.
#[derive(Serialize, Deserialize)]
struct Trailer {
    tag: u8,
    history_len: Option<u64>,
    flags: u8,
}

impl From<Hints> for Trailer {
    fn from(hints: Hints) -> Trailer {
        let flag = |on: bool, bit: u8| if on { bit } else { 0 };
        Trailer {
            tag: HINTS_V1,
            history_len: hints.history_len,
            flags: flag(hints.sleep, SLEEP)
                | flag(hints.branches, BRANCHES)
                | flag(hints.migrated, MIGRATED),
        }
    }
}

impl Trailer {
    fn hints(&self) -> Hints {
        if self.tag != HINTS_V1 {
            return Hints::UNKNOWN;
        }
        Hints {
            history_len: self.history_len,
            sleep: self.flags & SLEEP != 0,
            branches: self.flags & BRANCHES != 0,
            migrated: self.flags & MIGRATED != 0,
        }
    }
}

/// The record's fields, borrowed, in [`RunRecord`]'s order (the same postcard bytes), with
/// the input left out.
#[derive(Serialize)]
struct Body<'a> {
    workflow: &'a str,
    fingerprint: u64,
    status: Status,
    state_name: &'a str,
    step: Option<&'a str>,
    transitions: u64,
    #[serde(with = "serde_bytes")]
    input: &'a [u8],
    #[serde(with = "serde_bytes")]
    state: Option<&'a [u8]>,
    #[serde(with = "serde_bytes")]
    output: Option<&'a [u8]>,
    error: Option<&'a str>,
    created_at_ms: u64,
    updated_at_ms: u64,
}

impl<'a> Body<'a> {
    fn of(record: &'a RunRecord) -> Body<'a> {
        Body {
            workflow: &record.workflow,
            fingerprint: record.fingerprint,
            status: record.status,
            state_name: &record.state_name,
            step: record.step.as_deref(),
            transitions: record.transitions,
            input: &[],
            state: record.state.as_deref(),
            output: record.output.as_deref(),
            error: record.error.as_deref(),
            created_at_ms: record.created_at_ms,
            updated_at_ms: record.updated_at_ms,
        }
    }
}

/// `record` sealed without its input (stored apart), and with its hints if `with_hints`.
pub(crate) fn seal(record: &RunRecord, with_hints: bool) -> postcard::Result<Vec<u8>> {
    let capacity = record.encoded_len_hint() + 12;
    if with_hints {
        crate::codec::seal_record(&(Body::of(record), Trailer::from(record.hints)), capacity)
    } else {
        crate::codec::seal_record(&Body::of(record), capacity)
    }
}

/// The record in sealed `bytes`, with its hints ([`Hints::UNKNOWN`] without).
pub(crate) fn open(bytes: &[u8]) -> Result<RunRecord, String> {
    let (mut record, rest) = crate::codec::open_record_with_rest::<RunRecord>(bytes)?;
    record.hints = match postcard::from_bytes::<Trailer>(rest) {
        Ok(trailer) if !rest.is_empty() => trailer.hints(),
        _ => Hints::UNKNOWN,
    };
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> RunRecord {
        let mut record = RunRecord::new("w", 7, b"sealed input".to_vec(), 5);
        record.state = Some(vec![1, 2, 3]);
        record.step = Some("s".to_owned());
        record.transitions = 3;
        record
    }

    #[test]
    fn the_body_is_the_records_own_encoding_with_the_input_empty() {
        let mut without_input = record();
        without_input.input.clear();
        let ours = crate::codec::seal_record(&Body::of(&record()), 0).unwrap();
        let serde = crate::codec::seal_record(&without_input, 0).unwrap();
        assert_eq!(ours, serde);
    }

    #[test]
    fn hints_round_trip_and_an_older_build_reads_past_them() {
        let mut stored = record();
        stored.hints = Hints {
            history_len: Some(41),
            sleep: true,
            branches: false,
            migrated: true,
        };
        let bytes = seal(&stored, true).unwrap();
        let read = open(&bytes).unwrap();
        assert_eq!(read.hints, stored.hints);
        assert!(read.input.is_empty());
        // What an older build does: decode the record alone, ignoring the trailer.
        let older: RunRecord = crate::codec::open_record(&bytes).unwrap();
        assert_eq!((older.transitions, older.state), (3, Some(vec![1, 2, 3])));
    }

    #[test]
    fn an_older_record_reads_with_its_input_inline_and_unknown_hints() {
        let older = crate::codec::seal_record(&record(), 0).unwrap();
        let read = open(&older).unwrap();
        assert_eq!(read.input, b"sealed input");
        assert_eq!(read.hints, Hints::UNKNOWN);
    }
}
