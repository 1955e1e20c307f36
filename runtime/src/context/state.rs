//! Durable per-run key-value state: `ctx.state()` in a workflow, `client.state(run)` outside.
//!
//! Writes are buffered in the [`Context`] and committed in the same LMDB write transaction as
//! the run's next transition (or its completion), so after a crash the stored values always
//! match the stored position: a segment that re-runs re-makes its writes from the same
//! starting point. Reads see the buffered writes first.
//!
//! Values are stored as JSON rather than postcard because JSON describes itself: the client can
//! show any run's state (say `processed` of `total`) without knowing the types a workflow used.
//! Each value is stored in the envelope of [`crate::codec`], so a damaged one is
//! [`Error::CorruptState`] rather than another value.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::Context;
use crate::error::Error;
use crate::run::RunId;

/// State changes made since the last commit, applied in order: `clear` first, then `puts`
/// (`None` deletes the key).
#[derive(Debug, Default, Clone)]
pub(crate) struct StateWrites {
    pub clear: bool,
    pub puts: BTreeMap<String, Option<Vec<u8>>>,
}

impl StateWrites {
    pub fn is_empty(&self) -> bool {
        !self.clear && self.puts.is_empty()
    }
}

/// The durable state of the current run, from [`Context::state`].
#[derive(Debug)]
pub struct State<'a> {
    pub(crate) ctx: &'a mut Context,
}

/// Longest key, in bytes, that [`State::set`] accepts: LMDB's key limit (511 bytes) less the
/// 8 bytes of the run id that prefix every stored key. A longer key would be refused by the
/// commit, long after the call that made it.
pub const MAX_STATE_KEY_BYTES: usize = 511 - 8;

/// [`Error::InvalidArgument`] for a key over [`MAX_STATE_KEY_BYTES`].
fn check_key(call: &'static str, key: &str) -> Result<(), Error> {
    if key.len() <= MAX_STATE_KEY_BYTES {
        return Ok(());
    }
    Err(Error::InvalidArgument {
        call,
        reason: format!(
            "the key is {} bytes long; state keys are at most {MAX_STATE_KEY_BYTES} bytes",
            key.len()
        ),
    })
}

impl State<'_> {
    /// The value stored under `key`, or `None`. A value that does not deserialize as `T` is
    /// [`Error::StateType`]; a key longer than [`MAX_STATE_KEY_BYTES`] is
    /// [`Error::InvalidArgument`].
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        check_key("State::get", key)?;
        let run = self.ctx.run_id();
        let writes = &self.ctx.writes;
        let bytes = match writes.puts.get(key) {
            Some(buffered) => buffered.clone(),
            None if writes.clear => None,
            None => self.ctx.shared.store()?.state_get(run, key)?,
        };
        let workflow = self.ctx.workflow();
        bytes
            .map(|bytes| decode(run, workflow, key, &bytes))
            .transpose()
    }

    /// Stores `value` under `key`, durable with the next transition. A key longer than
    /// [`MAX_STATE_KEY_BYTES`] is [`Error::InvalidArgument`], here rather than at the commit.
    pub fn set<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Error> {
        check_key("State::set", key)?;
        let bytes = serde_json::to_vec(value).map_err(|e| Error::Encode {
            workflow: self.ctx.workflow().to_owned(),
            what: "state value",
            reason: e.to_string(),
        })?;
        let sealed = crate::codec::seal(crate::codec::Format::Json, &bytes);
        self.ctx.writes.puts.insert(key.to_owned(), Some(sealed));
        Ok(())
    }

    /// Removes `key`, durable with the next transition. A key longer than
    /// [`MAX_STATE_KEY_BYTES`] cannot have been set, so deleting it does nothing.
    pub fn delete(&mut self, key: &str) {
        if check_key("State::delete", key).is_err() {
            return;
        }
        self.ctx.writes.puts.insert(key.to_owned(), None);
    }

    /// Removes every key of this run, durable with the next transition.
    pub fn clear(&mut self) {
        self.ctx.writes.clear = true;
        self.ctx.writes.puts.clear();
    }
}

fn decode<T: DeserializeOwned>(
    run: RunId,
    workflow: &str,
    key: &str,
    bytes: &[u8],
) -> Result<T, Error> {
    let json = json_of(bytes).map_err(|reason| Error::CorruptState {
        run,
        workflow: workflow.to_owned(),
        reason: format!("key-value state `{key}`: {reason}"),
    })?;
    serde_json::from_slice(json).map_err(|e| Error::StateType {
        run,
        key: key.to_owned(),
        reason: e.to_string(),
    })
}

/// The JSON in a stored key-value state value.
fn json_of(bytes: &[u8]) -> Result<&[u8], String> {
    match crate::codec::open(bytes)? {
        (crate::codec::Format::Json, json) => Ok(json),
        (format, _) => Err(format!("stored as {format:?}, not JSON")),
    }
}

/// A snapshot of a run's durable state, from [`Client::state`](crate::Client::state): what was
/// committed with its last transition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunState {
    run: RunId,
    entries: BTreeMap<String, Vec<u8>>,
}

impl RunState {
    pub(crate) fn new(run: RunId, entries: BTreeMap<String, Vec<u8>>) -> RunState {
        RunState { run, entries }
    }

    /// The value under `key` as a `T`, or `None`; [`Error::StateType`] if it is not a `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        self.entries
            .get(key)
            .map(|bytes| decode(self.run, "<unknown>", key, bytes))
            .transpose()
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// Whether there is no value.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The whole state as a JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        let object = self
            .entries
            .iter()
            .map(|(key, bytes)| {
                // Values are written by `State::set` as JSON; anything else is shown as null
                // rather than hiding the other keys.
                let value = json_of(bytes)
                    .ok()
                    .and_then(|json| serde_json::from_slice(json).ok())
                    .unwrap_or(serde_json::Value::Null);
                (key.clone(), value)
            })
            .collect();
        serde_json::Value::Object(object)
    }
}
