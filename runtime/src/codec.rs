//! The envelope of every stored value, and how user values are encoded into it.
//!
//! Every value cairn writes to LMDB is `tag ‖ checksum ‖ payload`:
//!
//! - `tag` (1 byte): how the payload is encoded, [`Format::Postcard`] or [`Format::Json`];
//! - `checksum` (4 bytes, little-endian): CRC32C of `payload`, started from `tag`;
//! - `payload`.
//!
//! **The checksum.** LMDB checks nothing, so a flipped bit used to decode as another valid
//! value (an output of 10 read back as 11). Every read here checks the checksum first; a
//! mismatch is [`Error::CorruptState`](crate::Error::CorruptState) naming the run and what
//! was damaged, never a value. CRC32C (the `crc32c` crate: SSE4.2 / ARMv8 CRC instructions,
//! a software table elsewhere) rather than xxh3: it is the checksum storage engines use for
//! exactly this (ext4 and btrfs metadata, iSCSI, LevelDB and RocksDB blocks), it detects every
//! error burst of up to 32 bits and every 1-3 bit error in values of the sizes stored here,
//! which a hash does not promise, and at several GB/s it costs tens of nanoseconds for a
//! state of a kilobyte. It detects accidental damage, not tampering.
//!
//! **User values** (a workflow's state, input and output, `parallel` branch outputs, durable
//! loop items) go through [`encode`] and [`decode`]. postcard is the fast path, but it is not
//! self-describing: internally tagged and untagged enums, `#[serde(flatten)]`,
//! `skip_serializing_if` and `serde_json::Value` serialize fine and then fail to decode. So
//! nothing is stored unverified: [`encode`] decodes the postcard bytes back as the same type
//! (every byte consumed) and falls back to serde_json, verified the same way, when that fails.
//! When neither works it returns [`Unstorable`] at once, naming the field that failed (from
//! `serde_path_to_error`, computed on that failure path only), so the caller fails the
//! transition before anything is committed: a value that was stored always decodes.
//! The decoded value is not re-encoded and compared: a `HashMap` re-encodes in another order,
//! so that comparison would refuse every map; the residual risk is a `skip_serializing_if`
//! value whose postcard bytes happen to decode, to the last byte, as another value, which
//! needs a skipped field followed by bytes that read as that field's encoding and exactly
//! fill the rest.
//!
//! Outputs are written once per run and read by tools that do not have the workflow's types
//! (`Client::result_json` in a process that does not register it), so [`encode_output`]
//! prefers JSON when it round-trips, postcard otherwise. Key-value state is JSON already
//! (`state.rs`) and is only [`seal`]ed. The runtime's own records (run record, history,
//! questions, sessions) are postcard, [`seal_record`]ed: their types are cairn's, known to
//! round-trip.
//!
//! **Older directories.** Format 3 and before stored bare postcard and JSON. They are
//! migrated on open, once, in one transaction (`lmdb/migrate.rs`): every value is wrapped
//! in the envelope with the format it was written in. Migrating rather than reading both keeps
//! one read path, and an unmarked value could not be told from an enveloped one by its bytes.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Bytes before the payload: the tag and the checksum.
pub(crate) const HEADER: usize = 5;

/// How a payload is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// postcard: compact, not self-describing.
    Postcard = 1,
    /// serde_json: self-describing.
    Json = 2,
}

impl Format {
    fn from_tag(tag: u8) -> Option<Format> {
        match tag {
            1 => Some(Format::Postcard),
            2 => Some(Format::Json),
            _ => None,
        }
    }
}

/// CRC32C of `payload`, started from `tag` rather than from zero, so that a damaged tag is
/// detected too (a CRC's start value maps one to one onto its result) without a second call
/// for one byte.
pub(crate) fn checksum(tag: u8, payload: &[u8]) -> u32 {
    crc32c::crc32c_append(u32::from(tag), payload)
}

/// `payload` in the envelope.
pub(crate) fn seal(format: Format, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER + payload.len());
    bytes.extend_from_slice(&[0; HEADER]);
    bytes.extend_from_slice(payload);
    seal_in_place(format, bytes)
}

/// Fills the header of `bytes`, whose first [`HEADER`] bytes were reserved for it.
fn seal_in_place(format: Format, mut bytes: Vec<u8>) -> Vec<u8> {
    let tag = format as u8;
    let sum = checksum(tag, &bytes[HEADER..]);
    bytes[0] = tag;
    bytes[1..HEADER].copy_from_slice(&sum.to_le_bytes());
    bytes
}

/// A vector with the header reserved, for an encoder to append the payload to.
fn with_header(capacity: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER + capacity);
    bytes.extend_from_slice(&[0; HEADER]);
    bytes
}

/// The format and payload of sealed `bytes`, after checking the checksum. The error says
/// what is wrong, for [`Error::CorruptState`](crate::Error::CorruptState).
pub(crate) fn open(bytes: &[u8]) -> Result<(Format, &[u8]), String> {
    let (Some(&tag), Some(stored), Some(payload)) =
        (bytes.first(), bytes.get(1..HEADER), bytes.get(HEADER..))
    else {
        return Err(format!(
            "damaged: {} bytes, shorter than the {HEADER}-byte header",
            bytes.len()
        ));
    };
    let stored = u32::from_le_bytes(<[u8; 4]>::try_from(stored).unwrap_or_default());
    let computed = checksum(tag, payload);
    if stored != computed {
        return Err(format!(
            "damaged: checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
        ));
    }
    let format = Format::from_tag(tag).ok_or_else(|| format!("unknown format tag {tag}"))?;
    Ok((format, payload))
}

/// Why a value cannot be stored: postcard does not round-trip it and JSON cannot hold it.
/// Turned into [`Error::Unstorable`](crate::Error::Unstorable) by the caller, which knows what
/// the value is (input, output, which state).
#[derive(Debug)]
pub struct Unstorable {
    /// `std::any::type_name` of the value.
    pub rust_type: &'static str,
    /// The field that failed (`grid.cells`), from the JSON attempt if it got that far, else
    /// from postcard's; `None` for the value as a whole.
    pub path: Option<String>,
    /// What postcard and serde_json said.
    pub reason: String,
}

impl Unstorable {
    /// The first segment of [`path`](Self::path): for a state, the variable.
    pub fn field(&self) -> Option<&str> {
        let path = self.path.as_deref()?;
        let end = path.find(['.', '[']).unwrap_or(path.len());
        Some(&path[..end]).filter(|field| !field.is_empty())
    }

    /// The error for the user: `what` (say `input`) of `workflow`.
    pub(crate) fn into_error(self, workflow: &str, what: impl fmt::Display) -> crate::Error {
        crate::Error::Unstorable {
            workflow: workflow.to_owned(),
            what: what.to_string(),
            rust_type: self.rust_type.to_owned(),
            reason: self.reason,
        }
    }
}

/// `value` in the envelope: postcard if it decodes back, else JSON if that does; see the
/// module doc.
pub(crate) fn encode<T: Serialize + DeserializeOwned>(value: &T) -> Result<Vec<u8>, Unstorable> {
    let postcard = match encode_postcard(value) {
        Ok(bytes) => return Ok(bytes),
        Err(e) => e,
    };
    let json = match encode_json(value) {
        Ok(bytes) => return Ok(bytes),
        Err(e) => e,
    };
    Err(unstorable(value, postcard, json))
}

/// Like [`encode`], JSON first: for outputs, written once and read without the workflow's
/// types.
pub(crate) fn encode_output<T: Serialize + DeserializeOwned>(
    value: &T,
) -> Result<Vec<u8>, Unstorable> {
    let json = match encode_json(value) {
        Ok(bytes) => return Ok(bytes),
        Err(e) => e,
    };
    let postcard = match encode_postcard(value) {
        Ok(bytes) => return Ok(bytes),
        Err(e) => e,
    };
    Err(unstorable(value, postcard, json))
}

/// The value in sealed `bytes`. The error says what is wrong, for
/// [`Error::CorruptState`](crate::Error::CorruptState).
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    match open(bytes)? {
        (Format::Postcard, payload) => postcard::from_bytes(payload).map_err(|e| e.to_string()),
        (Format::Json, payload) => serde_json::from_slice(payload).map_err(|e| e.to_string()),
    }
}

/// The JSON of sealed `bytes` if they hold JSON (no type needed), `None` if postcard.
pub(crate) fn to_json(bytes: &[u8]) -> Result<Option<serde_json::Value>, String> {
    match open(bytes)? {
        (Format::Postcard, _) => Ok(None),
        (Format::Json, payload) => serde_json::from_slice(payload)
            .map(Some)
            .map_err(|e| e.to_string()),
    }
}

/// A runtime record (run record, history record, question) in the envelope, with room for
/// about `capacity` payload bytes so that encoding allocates once.
pub(crate) fn seal_record<T: Serialize>(value: &T, capacity: usize) -> postcard::Result<Vec<u8>> {
    postcard::to_extend(value, with_header(capacity))
        .map(|bytes| seal_in_place(Format::Postcard, bytes))
}

/// [`seal_record`] in two steps, for a record whose last bytes are known only later: the
/// header reserved and `value` encoded after it. The caller may append more postcard bytes,
/// then seals with [`seal_postcard`].
pub(crate) fn unsealed_record<T: Serialize>(
    value: &T,
    capacity: usize,
) -> postcard::Result<Vec<u8>> {
    postcard::to_extend(value, with_header(capacity))
}

/// Seals `bytes` from [`unsealed_record`]: the tag and the checksum of what follows them.
pub(crate) fn seal_postcard(bytes: Vec<u8>) -> Vec<u8> {
    seal_in_place(Format::Postcard, bytes)
}

/// The runtime record in sealed `bytes`.
pub(crate) fn open_record<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    match open(bytes)? {
        (Format::Postcard, payload) => postcard::from_bytes(payload).map_err(|e| e.to_string()),
        (Format::Json, _) => Err("a runtime record stored as JSON".to_owned()),
    }
}

/// [`open_record`], and the bytes that follow the record (a trailer that a reader which
/// does not know it ignores, see `store::stored_record`).
pub(crate) fn open_record_with_rest<T: DeserializeOwned>(
    bytes: &[u8],
) -> Result<(T, &[u8]), String> {
    match open(bytes)? {
        (Format::Postcard, payload) => {
            postcard::take_from_bytes(payload).map_err(|e| e.to_string())
        }
        (Format::Json, _) => Err("a runtime record stored as JSON".to_owned()),
    }
}

/// What went wrong with one format: the message, and the path of the field it was about.
struct Failure {
    path: Option<String>,
    message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "at `{path}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Postcard bytes of `value` that decode back as a `T`, to the last byte.
fn encode_postcard<T: Serialize + DeserializeOwned>(value: &T) -> Result<Vec<u8>, Failure> {
    let bytes = postcard::to_extend(value, with_header(64)).map_err(|e| Failure {
        path: None,
        message: format!("does not encode ({e})"),
    })?;
    match postcard::take_from_bytes::<T>(&bytes[HEADER..]) {
        Ok((_, [])) => Ok(seal_in_place(Format::Postcard, bytes)),
        Ok((_, rest)) => Err(Failure {
            path: None,
            message: format!("decodes with {} bytes left over", rest.len()),
        }),
        Err(e) => {
            // The failure path only: decode again to find the field.
            let mut deserializer = postcard::Deserializer::from_bytes(&bytes[HEADER..]);
            let path = serde_path_to_error::deserialize::<_, T>(&mut deserializer)
                .err()
                .map(|e| e.path().to_string());
            Err(Failure {
                path: path.filter(|p| p != "."),
                message: format!("does not decode ({e})"),
            })
        }
    }
}

/// JSON bytes of `value` that decode back as a `T`.
fn encode_json<T: Serialize + DeserializeOwned>(value: &T) -> Result<Vec<u8>, Failure> {
    let mut bytes = with_header(128);
    if let Err(e) =
        serde_path_to_error::serialize(value, &mut serde_json::Serializer::new(&mut bytes))
    {
        return Err(Failure {
            path: Some(e.path().to_string()).filter(|p| p != "."),
            message: format!("does not encode ({})", e.inner()),
        });
    }
    let mut deserializer = serde_json::Deserializer::from_slice(&bytes[HEADER..]);
    let decoded = serde_path_to_error::deserialize::<_, T>(&mut deserializer)
        .map_err(|e| (Some(e.path().to_string()), e.into_inner()))
        .and_then(|_| deserializer.end().map_err(|e| (None, e)));
    match decoded {
        Ok(()) => Ok(seal_in_place(Format::Json, bytes)),
        Err((path, e)) => Err(Failure {
            path: path.filter(|p| p != "."),
            message: format!("does not decode ({e})"),
        }),
    }
}

fn unstorable<T>(_: &T, postcard: Failure, json: Failure) -> Unstorable {
    Unstorable {
        rust_type: std::any::type_name::<T>(),
        path: json.path.clone().or_else(|| postcard.path.clone()),
        reason: format!("postcard: {postcard}; JSON: {json}"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type")]
    enum Tagged {
        A { x: u32 },
    }

    #[test]
    fn plain_values_are_postcard_and_the_others_json() {
        let plain = encode(&(7u32, "x".to_owned())).unwrap();
        assert_eq!(open(&plain).unwrap().0, Format::Postcard);
        assert_eq!(
            decode::<(u32, String)>(&plain).unwrap(),
            (7, "x".to_owned())
        );
        let tagged = encode(&Tagged::A { x: 3 }).unwrap();
        assert_eq!(open(&tagged).unwrap().0, Format::Json);
        assert_eq!(decode::<Tagged>(&tagged).unwrap(), Tagged::A { x: 3 });
        let map: HashMap<String, u32> = (0..50).map(|i| (i.to_string(), i)).collect();
        assert_eq!(open(&encode(&map).unwrap()).unwrap().0, Format::Postcard);
    }

    #[test]
    fn a_value_neither_format_holds_names_the_field() {
        #[derive(Debug, Serialize, Deserialize)]
        struct Holder {
            ok: u32,
            grid: Tagged2,
        }
        #[derive(Debug, Serialize, Deserialize)]
        #[serde(tag = "kind")]
        enum Tagged2 {
            G { cells: BTreeMap<(u8, u8), u8> },
        }
        let value = Holder {
            ok: 1,
            grid: Tagged2::G {
                cells: BTreeMap::from([((1, 2), 3)]),
            },
        };
        let error = encode(&value).unwrap_err();
        assert_eq!(error.field(), Some("grid"));
        assert!(error.rust_type.ends_with("Holder"));
        assert!(
            error.reason.contains("key must be a string"),
            "{}",
            error.reason
        );
    }

    #[test]
    fn every_flipped_bit_is_detected() {
        let sealed = encode(&vec![10u64, 20, 30]).unwrap();
        for at in 0..sealed.len() {
            for bit in 0..8 {
                let mut damaged = sealed.clone();
                damaged[at] ^= 1 << bit;
                assert!(decode::<Vec<u64>>(&damaged).is_err(), "byte {at} bit {bit}");
            }
        }
        assert!(decode::<Vec<u64>>(&sealed[..3]).is_err());
    }

    #[test]
    fn outputs_prefer_json() {
        let sealed = encode_output(&vec![1u8, 2]).unwrap();
        assert_eq!(to_json(&sealed).unwrap(), Some(serde_json::json!([1, 2])));
        // Tuple keys: not JSON, so postcard.
        let map = BTreeMap::from([((1u8, 2u8), 3u8)]);
        let sealed = encode_output(&map).unwrap();
        assert_eq!(to_json(&sealed).unwrap(), None);
        assert_eq!(decode::<BTreeMap<(u8, u8), u8>>(&sealed).unwrap(), map);
    }

    /// What the guarantee costs per value, in release builds:
    /// `cargo test -p cairn-runtime --release --lib codec::tests::cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn cost() {
        #[derive(Serialize, Deserialize)]
        struct Note {
            title: String,
            scores: Vec<u64>,
            tags: Vec<String>,
            source: Option<String>,
        }
        let small = (42u64, "step three".to_owned());
        let large: Vec<Note> = (0..8)
            .map(|i| Note {
                title: format!("paper {i} on durable workflows and their states"),
                scores: (0..16).map(|s| s * 1_000 + i).collect(),
                tags: vec!["rust".to_owned(), "lmdb".to_owned()],
                source: Some("https://example.org/paper".to_owned()),
            })
            .collect();
        fn time(label: &str, size: usize, mut f: impl FnMut()) {
            let n = 200_000;
            for _ in 0..n / 10 {
                f();
            }
            let started = std::time::Instant::now();
            for _ in 0..n {
                f();
            }
            let ns = started.elapsed().as_nanos() as f64 / f64::from(n);
            println!("{label:>45} ({size:>5} B): {ns:>8.1} ns");
        }
        fn measure<T: Serialize + DeserializeOwned>(name: &str, value: &T) {
            let bare = postcard::to_stdvec(value).unwrap();
            let sealed = encode(value).unwrap();
            let n = bare.len();
            time(&format!("{name}: postcard encode (before)"), n, || {
                std::hint::black_box(postcard::to_stdvec(std::hint::black_box(value)).unwrap());
            });
            time(
                &format!("{name}: verified encode + CRC32C (after)"),
                n,
                || {
                    std::hint::black_box(encode(std::hint::black_box(value)).unwrap());
                },
            );
            time(&format!("{name}: CRC32C alone"), n, || {
                std::hint::black_box(checksum(1, std::hint::black_box(&bare)));
            });
            time(&format!("{name}: postcard decode (before)"), n, || {
                std::hint::black_box(
                    postcard::from_bytes::<T>(std::hint::black_box(&bare)).unwrap(),
                );
            });
            time(&format!("{name}: checked decode (after)"), n, || {
                std::hint::black_box(decode::<T>(std::hint::black_box(&sealed)).unwrap());
            });
        }
        measure("small", &small);
        measure("large", &large);
    }
}
