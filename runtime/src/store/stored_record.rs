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
//!
//! **A transition without decoding the record** ([`Checkpointed`]). A committed transition
//! changes the record's hot fields (state name, step, transition count, state, update time,
//! hints) and keeps the rest. Rather than decode the whole record into owned fields, change
//! them and encode it again, the LMDB backend reads the stored bytes as a borrowed [`View`]
//! (the checksum checked, nothing allocated), encodes the new record from the kept fields as
//! borrowed and the hot ones from the transition, and appends the hints once the commit's
//! other writes have moved them. The bytes are those of the decode/change/encode path (a test
//! below checks it), so the format is unchanged. A pending run's first transition (status too
//! among the hot fields) takes this path as well, and hands its caller what the run's
//! listing entry needs ([`Started`]).

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

/// A stored record's fields borrowed from its bytes, in [`RunRecord`]'s order.
#[derive(Deserialize)]
// The fields a checkpoint replaces are read only to get past them (postcard is not
// self-describing: a field cannot be skipped by its type).
#[allow(dead_code)]
struct View<'a> {
    workflow: &'a str,
    fingerprint: u64,
    status: Status,
    state_name: &'a str,
    #[serde(borrow)]
    step: Option<&'a str>,
    transitions: u64,
    #[serde(with = "serde_bytes")]
    input: &'a [u8],
    #[serde(with = "serde_bytes", borrow)]
    state: Option<&'a [u8]>,
    #[serde(with = "serde_bytes", borrow)]
    output: Option<&'a [u8]>,
    #[serde(borrow)]
    error: Option<&'a str>,
    created_at_ms: u64,
    updated_at_ms: u64,
}

/// A run's record after a committed transition, encoded from its stored bytes without
/// decoding them into a [`RunRecord`] (see the module doc); the hints go last, when
/// [`seal`](Self::seal)ed, so that the commit's other writes can move them first.
pub(crate) struct Checkpointed {
    /// The header reserved, then the record's fields; the trailer is appended by `seal`.
    body: Vec<u8>,
    /// The record's transition count after this one.
    pub transitions: u64,
    /// The stored hints, for the commit to move on before [`seal`](Self::seal).
    pub hints: Hints,
    /// Set when this is the run's first transition (the record was
    /// [`Pending`](Status::Pending)): its status changes, so the caller moves its listing
    /// entry too.
    pub started: Option<Started>,
}

/// What a run's listing entry needs of a record that leaves [`Status::Pending`] in a
/// [`Checkpointed`] transition, copied out of the stored bytes (which the commit's next writes
/// may move).
pub(crate) struct Started {
    pub created_at_ms: u64,
    pub workflow: String,
}

impl Checkpointed {
    /// The record sealed in `stored` after [`lifecycle::checkpoint`](crate::lifecycle::checkpoint)
    /// with these arguments. `Ok(None)` when this path does not apply and the caller decodes
    /// the record as usual: the run is neither running nor pending (a status the run rules
    /// refuse or change more in), or the record holds its input inline (an older directory's,
    /// moved to its table by the usual path). A pending run's first transition comes with
    /// [`Checkpointed::started`]. An error says why `stored` does not read (a damaged checksum
    /// among others).
    pub(crate) fn of(
        stored: &[u8],
        state_name: &str,
        step: Option<&str>,
        state: &[u8],
        now_ms: u64,
    ) -> Result<Option<Checkpointed>, String> {
        let payload = match crate::codec::open(stored)? {
            (crate::codec::Format::Postcard, payload) => payload,
            (crate::codec::Format::Json, _) => {
                return Err("a runtime record stored as JSON".to_owned());
            }
        };
        let (view, rest) =
            postcard::take_from_bytes::<View<'_>>(payload).map_err(|e| e.to_string())?;
        let started = match view.status {
            Status::Running => None,
            Status::Pending => Some(Started {
                created_at_ms: view.created_at_ms,
                workflow: view.workflow.to_owned(),
            }),
            _ => return Ok(None),
        };
        if !view.input.is_empty() {
            return Ok(None);
        }
        let hints = match postcard::from_bytes::<Trailer>(rest) {
            Ok(trailer) if !rest.is_empty() => trailer.hints(),
            _ => Hints::UNKNOWN,
        };
        // What `lifecycle::checkpoint` sets, field by field (the test
        // `a_checkpoint_patched_is_the_checkpoint_encoded` holds the two together).
        let transitions = view.transitions + 1;
        let body = Body {
            workflow: view.workflow,
            fingerprint: view.fingerprint,
            status: Status::Running,
            state_name,
            step,
            transitions,
            input: &[],
            state: Some(state),
            output: view.output,
            error: view.error,
            created_at_ms: view.created_at_ms,
            updated_at_ms: now_ms,
        };
        let capacity = 64
            + view.workflow.len()
            + state_name.len()
            + step.map_or(0, str::len)
            + state.len()
            + view.output.map_or(0, <[u8]>::len)
            + view.error.map_or(0, str::len);
        let body = crate::codec::unsealed_record(&body, capacity).map_err(|e| e.to_string())?;
        Ok(Some(Checkpointed {
            body,
            transitions,
            hints,
            started,
        }))
    }

    /// The record with its (moved) hints, sealed: the bytes to store.
    pub(crate) fn seal(self) -> postcard::Result<Vec<u8>> {
        let bytes = postcard::to_extend(&Trailer::from(self.hints), self.body)?;
        Ok(crate::codec::seal_postcard(bytes))
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

    /// The patched path gives, byte for byte, what decoding the stored record, applying
    /// `lifecycle::checkpoint` and encoding it again gives, for records with and without
    /// optional fields and hints; and it declines the records it is not for.
    #[test]
    fn a_checkpoint_patched_is_the_checkpoint_encoded() {
        let mut running = record();
        running.input.clear();
        running.status = Status::Running;
        running.hints = Hints {
            history_len: Some(3),
            sleep: true,
            branches: false,
            migrated: true,
        };
        let mut bare = running.clone();
        bare.step = None;
        bare.state = None;
        bare.hints = Hints::NEW;
        let mut odd = running.clone();
        odd.output = Some(vec![7; 300]);
        odd.error = Some("earlier".to_owned());
        odd.created_at_ms = u64::MAX;
        // A new run's first transition: pending, no state yet.
        let mut pending = bare.clone();
        pending.status = Status::Pending;
        pending.transitions = 0;
        pending.state_name = String::new();
        for (stored, with_hints) in [(running, true), (bare, true), (odd, false), (pending, true)] {
            let bytes = seal(&stored, with_hints).unwrap();
            for (name, step, state) in [
                ("Next", Some("fetch"), &[1u8, 2][..]),
                ("Done", None, &[0; 1000][..]),
            ] {
                let mut expected = open(&bytes).unwrap();
                crate::lifecycle::checkpoint(&mut expected, name, step, state, 99);
                expected.hints.history_len = Some(7);
                let mut patched = Checkpointed::of(&bytes, name, step, state, 99)
                    .unwrap()
                    .expect("a running or pending record");
                let started = patched.started.take();
                assert_eq!(started.is_some(), stored.status == Status::Pending);
                if let Some(started) = started {
                    assert_eq!(started.created_at_ms, stored.created_at_ms);
                    assert_eq!(started.workflow, stored.workflow);
                }
                let read = if with_hints {
                    stored.hints
                } else {
                    Hints::UNKNOWN
                };
                assert_eq!(patched.hints, read);
                assert_eq!(patched.transitions, expected.transitions);
                patched.hints.history_len = Some(7);
                assert_eq!(patched.seal().unwrap(), seal(&expected, true).unwrap());
            }
        }
    }

    #[test]
    fn a_checkpoint_is_not_patched_into_a_record_it_is_not_for() {
        for status in [Status::Waiting, Status::Completed, Status::Paused] {
            let mut other = record();
            other.input.clear();
            other.status = status;
            let bytes = seal(&other, true).unwrap();
            assert!(
                Checkpointed::of(&bytes, "N", None, &[], 1)
                    .unwrap()
                    .is_none(),
                "{status:?}"
            );
        }
        // An older directory's record, its input inline.
        let mut inline = record();
        inline.status = Status::Running;
        let older = crate::codec::seal_record(&inline, 0).unwrap();
        assert!(
            Checkpointed::of(&older, "N", None, &[], 1)
                .unwrap()
                .is_none()
        );
    }

    /// The checksum is checked before anything is read: a flipped bit anywhere in the
    /// record is an error, never a patched record.
    #[test]
    fn a_damaged_record_is_not_patched() {
        let mut running = record();
        running.input.clear();
        running.status = Status::Running;
        let bytes = seal(&running, true).unwrap();
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x10;
            assert!(
                Checkpointed::of(&damaged, "N", None, &[], 1).is_err(),
                "bit flipped at {at}"
            );
        }
    }

    /// What the two paths cost per transition on a record like the perf bench's (run by
    /// hand: `cargo test --release -p cairn-runtime --lib -- --ignored --nocapture
    /// checkpoint_paths_timed`): decode, `lifecycle::checkpoint` and encode, against
    /// [`Checkpointed`]; medians of 15 interleaved rounds of 200,000 each.
    #[test]
    #[ignore = "a timing, run by hand in release"]
    fn checkpoint_paths_timed() {
        use std::hint::black_box;
        use std::time::Instant;
        let mut stored = RunRecord::new("steps", 7, Vec::new(), 5);
        stored.status = Status::Running;
        stored.state_name = "AfterStep".to_owned();
        stored.step = Some("step".to_owned());
        stored.state = Some(vec![7; 24]);
        stored.transitions = 1234;
        stored.hints = Hints::NEW;
        let bytes = seal(&stored, true).unwrap();
        let state = [8u8; 24];
        let rounds = 200_000u32;
        let time = |f: &dyn Fn() -> Vec<u8>| {
            let t = Instant::now();
            for _ in 0..rounds {
                black_box(f());
            }
            t.elapsed().as_nanos() as f64 / f64::from(rounds)
        };
        let whole = || {
            let mut record = open(black_box(&bytes)).unwrap();
            crate::lifecycle::checkpoint(&mut record, "AfterStep", Some("step"), &state, 99);
            record.hints.history_len = Some(1235);
            seal(&record, true).unwrap()
        };
        let patched = || {
            let mut record =
                Checkpointed::of(black_box(&bytes), "AfterStep", Some("step"), &state, 99)
                    .unwrap()
                    .unwrap();
            record.hints.history_len = Some(1235);
            record.seal().unwrap()
        };
        // Rounds of the two interleaved, so that the machine's load meets both alike.
        let (mut wholes, mut patches, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..15 {
            let (w, p) = (time(&whole), time(&patched));
            wholes.push(w);
            patches.push(p);
            ratios.push(p / w);
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[7]
        };
        let (whole, patched) = (median(&mut wholes), median(&mut patches));
        let ratio = median(&mut ratios);
        let (low, high) = (ratios[0], ratios[14]);
        println!(
            "record of {} B: decode + checkpoint + encode {whole:.0} ns, patched {patched:.0} ns; \
             patched / whole per round: {ratio:.2}x [{low:.2}-{high:.2}]",
            bytes.len()
        );
    }

    #[test]
    fn an_older_record_reads_with_its_input_inline_and_unknown_hints() {
        let older = crate::codec::seal_record(&record(), 0).unwrap();
        let read = open(&older).unwrap();
        assert_eq!(read.input, b"sealed input");
        assert_eq!(read.hints, Hints::UNKNOWN);
    }
}
