//! Property tests (proptest) of every decoder of stored bytes, as unit tests so that they reach
//! the crate-private decoders: the envelope, user values (a workflow's input, state and
//! output, `parallel` branch outputs, durable loop items, loop handles kept in the state),
//! outputs read as JSON, run records, history records, questions and answers, sessions and
//! key-value state. The indexes, sleeps and meta values, which are read inside the LMDB store,
//! are fuzzed through a real store in `lmdb/fuzz_tests.rs`.
//!
//! For each decoder: arbitrary bytes (empty, long, valid envelopes around an arbitrary payload
//! with the checksum recomputed so that decoding reaches postcard or serde_json, huge varint
//! lengths) never panic, never allocate more than [`ALLOCATION_LIMIT`] at once, and give the
//! decoder's error; a valid encoding mutated (bit flips, truncation, extension) is always an
//! error, never another value. Each property runs a fixed number of cases ([`CASES`]) so that
//! the whole file stays within a few seconds of `cargo test`.

mod largest_alloc;
mod values;

use std::collections::{BTreeMap, HashMap};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use serde::de::DeserializeOwned;

use crate::codec::{self, Format};
use crate::context::loop_items::{Cursor, LoopKey, StoredCursor, StoredIter};
use crate::context::state::RunState;
use crate::durable_iter::RangeIter;
use crate::error::Error;
use crate::history::HistoryRecord;
use crate::question::Answer;
use crate::run::RunId;
use crate::store::RunRecord;
use crate::store::hitl::StoredQuestion;
use largest_alloc::largest_allocation;
use values::*;

/// Cases of each property in `cargo test`: 256 × 14 properties, about two seconds in a debug
/// build. `CAIRN_FUZZ_CASES=100000 cargo test -p cairn-runtime --lib fuzz` runs longer.
const CASES: u32 = 256;

/// The most one decode may ask for in one allocation. The longest input here is 64 KiB, so a
/// request above this was sized from a length read in the bytes, not from the bytes.
const ALLOCATION_LIMIT: usize = 4 << 20;

pub(crate) fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("CAIRN_FUZZ_CASES")
            .ok()
            .and_then(|cases| cases.parse().ok())
            .unwrap_or(CASES),
        // Failures found are kept below as named regression tests, not in a file.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Bytes.

/// A postcard varint of a huge length or count.
fn huge_varint() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(u64::MAX),
        Just(u64::from(u32::MAX)),
        Just(1u64 << 40),
        (1u64 << 20)..(1u64 << 62),
    ]
    .prop_map(|n| postcard::to_stdvec(&n).expect("a u64 encodes"))
}

/// postcard encodings of random primitives one after another: bytes that postcard reads a
/// long way into a struct (a random byte is a valid `bool` or variant index rarely).
fn postcard_tokens() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        any::<bool>().prop_map(|b| vec![u8::from(b)]),
        (0u8..4).prop_map(|small| vec![small]),
        any::<u64>().prop_map(|n| postcard::to_stdvec(&n).expect("a u64 encodes")),
        any::<i64>().prop_map(|n| postcard::to_stdvec(&n).expect("an i64 encodes")),
        ".{0,6}".prop_map(|s| postcard::to_stdvec(&s).expect("a string encodes")),
        any::<u8>().prop_map(|b| vec![b]),
    ];
    vec(token, 0..24).prop_map(|tokens| tokens.concat())
}

/// A payload: short or long random bytes, a huge length after a few bytes, or JSON-like text.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    let json_alphabet = b" {}[]\":,0123456789.-+eEtruefalsnx\\u".to_vec();
    prop_oneof![
        3 => vec(any::<u8>(), 0..64),
        4 => postcard_tokens(),
        1 => vec(any::<u8>(), 0..65_536),
        2 => (vec(any::<u8>(), 0..8), huge_varint(), vec(any::<u8>(), 0..32))
            .prop_map(|(head, len, tail)| [head, len, tail].concat()),
        2 => vec(prop::sample::select(json_alphabet), 0..96),
    ]
}

/// `payload` behind a header with any tag and a checksum that matches.
fn sealed_with_tag(tag: u8, payload: &[u8]) -> Vec<u8> {
    let sum = crate::codec::checksum(tag, payload);
    [&[tag][..], &sum.to_le_bytes(), payload].concat()
}

/// Bytes a damaged store could hold: anything, empty too, and envelopes of either format (or
/// an unknown one) around an arbitrary payload, with the checksum recomputed so that decoding
/// gets past it.
pub(crate) fn stored_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => Just(Vec::new()),
        3 => payload(),
        4 => payload().prop_map(|p| codec::seal(Format::Postcard, &p)),
        3 => payload().prop_map(|p| codec::seal(Format::Json, &p)),
        1 => (any::<u8>(), payload()).prop_map(|(tag, p)| sealed_with_tag(tag, &p)),
    ]
}

/// A change to a valid encoding.
#[derive(Clone, Debug)]
pub(crate) enum Mutation {
    /// One to four bits flipped.
    Flip(Vec<(Index, u8)>),
    /// Cut to a shorter length.
    Truncate(Index),
    /// Bytes appended.
    Extend(Vec<u8>),
}

pub(crate) fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        2 => vec((any::<Index>(), 0..8u8), 1..5).prop_map(Mutation::Flip),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => vec(any::<u8>(), 1..16).prop_map(Mutation::Extend),
    ]
}

/// `bytes` changed by `mutation`; `None` when the flips cancel out.
pub(crate) fn mutate(bytes: &[u8], mutation: &Mutation) -> Option<Vec<u8>> {
    let mut out = bytes.to_vec();
    match mutation {
        Mutation::Flip(flips) => {
            for (at, bit) in flips {
                out[at.index(bytes.len())] ^= 1 << bit;
            }
        }
        Mutation::Truncate(len) => out.truncate(len.index(bytes.len())),
        Mutation::Extend(more) => out.extend_from_slice(more),
    }
    (out != bytes).then_some(out)
}

/// `decode(bytes)`, checking that it asked for no huge allocation.
fn watched<T>(bytes: &[u8], decode: impl FnOnce(&[u8]) -> T) -> T {
    let (out, largest) = largest_allocation(|| decode(bytes));
    assert!(
        largest <= ALLOCATION_LIMIT,
        "decoding {} bytes asked for {largest} bytes at once",
        bytes.len()
    );
    out
}

// ---------------------------------------------------------------------------------------------
// What each decoder does with what it decoded, as the runtime would.

/// A decoded question used as the runtime and a client use one.
fn use_question(stored: &StoredQuestion) {
    let question = &stored.question;
    let _ = question.check();
    let _ = question.timeout_and_default();
    let _ = (question.prompt(), question.kind(), question.options());
    if let Some(answer) = &stored.answer {
        let _ = question.check_answer(answer);
        let _ = answer.to_string();
    }
    if let Some(default) = question.default_answer() {
        let _ = question.check_answer(default);
    }
}

/// A decoded loop handle advanced as a loop would, for at most `steps` items.
fn advance<C: StoredCursor>(cursor: &mut C, steps: usize) {
    for _ in 0..steps {
        if matches!(cursor.advance(), Cursor::Done) {
            return;
        }
    }
}

/// A user value decoded (state, input, output, branch output, loop item): an error or a value,
/// without a panic or a huge allocation.
fn decode_user<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    watched(bytes, codec::decode::<T>)
}

/// A key-value state value read as a `T` by [`RunState::get`]: `CorruptState` or `StateType`.
fn kv_get<T: DeserializeOwned>(bytes: &[u8]) -> Result<Option<T>, Error> {
    let state = RunState::new(RunId(1), BTreeMap::from([("k".to_owned(), bytes.to_vec())]));
    let out = watched(bytes, |_| state.get::<T>("k"));
    let _ = watched(bytes, |_| state.to_json());
    out
}

fn typed_state_error(error: &Error) -> bool {
    matches!(error, Error::CorruptState { .. } | Error::StateType { .. })
}

// ---------------------------------------------------------------------------------------------
// Arbitrary bytes: never a panic, an error of the decoder's type.

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_envelope_opens_or_says_why(bytes in stored_bytes()) {
        let opened = watched(&bytes, |b| codec::open(b).map(|(format, p)| (format, p.len())));
        if let Ok((format, payload_len)) = opened {
            prop_assert_eq!(payload_len + codec::HEADER, bytes.len());
            prop_assert!(matches!(format, Format::Postcard | Format::Json));
        }
    }

    #[test]
    fn user_values_decode_or_say_why(bytes in stored_bytes()) {
        let _ = decode_user::<u64>(&bytes);
        let _ = decode_user::<String>(&bytes);
        let _ = decode_user::<Vec<u64>>(&bytes);
        let _ = decode_user::<Vec<String>>(&bytes);
        let _ = decode_user::<HashMap<String, Vec<u8>>>(&bytes);
        let _ = decode_user::<BTreeMap<(u8, u8), i64>>(&bytes);
        let _ = decode_user::<(u8, String, Option<i64>)>(&bytes);
        let _ = decode_user::<Paper>(&bytes);
        let _ = decode_user::<Tagged>(&bytes);
        let _ = decode_user::<serde_json::Value>(&bytes);
        let _ = decode_user::<f64>(&bytes);
        let _ = decode_user::<Answer>(&bytes);
    }

    #[test]
    fn loop_handles_in_a_state_decode_and_advance_or_say_why(bytes in stored_bytes()) {
        if let Ok(mut handle) = decode_user::<StoredIter<String>>(&bytes) {
            advance(&mut handle, 1_000);
        }
        let _ = decode_user::<LoopKey>(&bytes);
        if let Ok(mut range) = decode_user::<RangeIter<u8>>(&bytes) {
            advance(&mut range, 1_000);
        }
        if let Ok(mut range) = decode_user::<RangeIter<i8>>(&bytes) {
            advance(&mut range, 1_000);
        }
        if let Ok(mut range) = decode_user::<RangeIter<u64>>(&bytes) {
            advance(&mut range, 1_000);
        }
    }

    #[test]
    fn outputs_read_as_json_are_corrupt_state_or_json(bytes in stored_bytes()) {
        match watched(&bytes, |b| crate::client::stored_json(RunId(3), "w", b)) {
            Ok(_) => {}
            Err(Error::CorruptState { run, .. }) => prop_assert_eq!(run, RunId(3)),
            Err(other) => prop_assert!(false, "not CorruptState: {other:?}"),
        }
    }

    #[test]
    fn runtime_records_decode_or_say_why(bytes in stored_bytes()) {
        if let Ok(record) = watched(&bytes, codec::open_record::<RunRecord>) {
            let _ = record.to_status(RunId(1));
            let _ = record.encoded_len_hint();
        }
        let _ = watched(&bytes, codec::open_record::<HistoryRecord>);
        if let Ok(question) = watched(&bytes, codec::open_record::<StoredQuestion>) {
            use_question(&question);
        }
        let _ = watched(&bytes, codec::open_record::<Answer>);
        let _ = watched(&bytes, codec::open_record::<Vec<u64>>);
    }

    #[test]
    fn key_value_state_is_a_value_or_a_typed_error(bytes in stored_bytes()) {
        for result in [
            kv_get::<serde_json::Value>(&bytes).map(drop),
            kv_get::<u64>(&bytes).map(drop),
            kv_get::<Vec<String>>(&bytes).map(drop),
            kv_get::<Paper>(&bytes).map(drop),
            kv_get::<Tagged>(&bytes).map(drop),
        ] {
            if let Err(error) = result {
                prop_assert!(typed_state_error(&error), "{error:?}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Valid encodings, mutated: always an error.

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_mutated_user_value_is_an_error(value in paper(), mutation in mutation()) {
        let sealed = codec::encode(&value).expect("a Paper is storable");
        prop_assert_eq!(codec::decode::<Paper>(&sealed), Ok(value.clone()));
        if let Some(damaged) = mutate(&sealed, &mutation) {
            prop_assert!(decode_user::<Paper>(&damaged).is_err());
        }
    }

    #[test]
    fn a_mutated_json_value_is_an_error(value in tagged(), mutation in mutation()) {
        let sealed = codec::encode_output(&value).expect("a Tagged is storable");
        prop_assert_eq!(codec::decode::<Tagged>(&sealed), Ok(value.clone()));
        if let Some(damaged) = mutate(&sealed, &mutation) {
            prop_assert!(decode_user::<Tagged>(&damaged).is_err());
            prop_assert!(watched(&damaged, codec::to_json).is_err());
        }
    }

    #[test]
    fn a_mutated_run_record_is_an_error(record in run_record(), mutation in mutation()) {
        let sealed = codec::seal_record(&record, 64).expect("a record encodes");
        prop_assert_eq!(codec::open_record::<RunRecord>(&sealed), Ok(record.clone()));
        if let Some(damaged) = mutate(&sealed, &mutation) {
            prop_assert!(watched(&damaged, codec::open_record::<RunRecord>).is_err());
        }
    }

    #[test]
    fn a_mutated_history_record_is_an_error(
        record in history_record(),
        mutation in mutation(),
    ) {
        let sealed = codec::seal_record(&record, 64).expect("a record encodes");
        prop_assert_eq!(codec::open_record::<HistoryRecord>(&sealed), Ok(record.clone()));
        if let Some(damaged) = mutate(&sealed, &mutation) {
            prop_assert!(watched(&damaged, codec::open_record::<HistoryRecord>).is_err());
        }
    }

    #[test]
    fn a_mutated_question_is_an_error(question in stored_question(), mutation in mutation()) {
        let sealed = codec::seal_record(&question, 64).expect("a question encodes");
        prop_assert_eq!(codec::open_record::<StoredQuestion>(&sealed), Ok(question.clone()));
        if let Some(damaged) = mutate(&sealed, &mutation) {
            prop_assert!(watched(&damaged, codec::open_record::<StoredQuestion>).is_err());
        }
    }

    #[test]
    fn a_mutated_session_is_an_error(runs in vec(any::<u64>(), 0..16), mutation in mutation()) {
        let sealed = codec::seal_record(&runs, 64).expect("a session encodes");
        prop_assert_eq!(codec::open_record::<Vec<u64>>(&sealed), Ok(runs.clone()));
        if let Some(damaged) = mutate(&sealed, &mutation) {
            prop_assert!(watched(&damaged, codec::open_record::<Vec<u64>>).is_err());
        }
    }

    #[test]
    fn a_mutated_key_value_state_is_corrupt_state(value in paper(), mutation in mutation()) {
        let json = serde_json::to_vec(&value).expect("a Paper is JSON");
        let sealed = codec::seal(Format::Json, &json);
        prop_assert_eq!(kv_get::<Paper>(&sealed).ok().flatten(), Some(value.clone()));
        if let Some(damaged) = mutate(&sealed, &mutation) {
            let error = kv_get::<Paper>(&damaged).expect_err("damage is detected");
            prop_assert!(matches!(error, Error::CorruptState { .. }), "{error:?}");
        }
    }

    #[test]
    fn a_mutated_loop_handle_is_an_error(
        next in any::<u64>(),
        len in any::<u64>(),
        mutation in mutation(),
    ) {
        let sealed = codec::encode(&(0u64, 0u32, next, len)).expect("a handle encodes");
        let _ = decode_user::<StoredIter<u8>>(&sealed).expect("the same bytes as a handle");
        if let Some(damaged) = mutate(&sealed, &mutation) {
            prop_assert!(decode_user::<StoredIter<u8>>(&damaged).is_err());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Failing cases found by the properties above, kept.

/// Found by `loop_handles_in_a_state_decode_and_advance_or_say_why`: the handle of a range loop
/// (`for i in a..=b` across an `.await`) past its last value (`next` 109, `last` 0, not done)
/// decoded, and the loop then counted 109, 110, ... up to 255 and panicked with an overflow
/// (wrapped around to 0 in a release build). It is refused when decoded.
#[test]
fn a_range_handle_past_its_last_value_is_refused() {
    let past = codec::seal(Format::Postcard, &[109, 0, 0]);
    // postcard drops the message of a custom error; serde_json keeps it.
    assert!(codec::decode::<RangeIter<u8>>(&past).is_err());
    let json = codec::seal(Format::Json, br#"{"next":109,"last":0,"done":false}"#);
    let error = codec::decode::<RangeIter<u8>>(&json).expect_err("past its last value");
    assert!(error.contains("past its last value"), "{error}");
    // Every range a loop can store still decodes, and as itself.
    for range in [
        RangeIter::from(3u8..3),
        RangeIter::from(0u8..=255),
        RangeIter::from(200u8..),
    ] {
        for sealed in [codec::encode(&range), codec::encode_output(&range)] {
            let sealed = sealed.expect("a range handle is storable");
            assert_eq!(codec::decode::<RangeIter<u8>>(&sealed), Ok(range.clone()));
        }
    }
}
