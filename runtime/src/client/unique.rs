//! Unique starts: `client.start_unique(workflow, key, input)` starts at most one run per
//! workflow and key, and returns that run's id to every later call with the same key, in this
//! process or another: the idempotency of an order id, a webhook's delivery id, a job's name.
//!
//! The key is looked up and the run created in one write transaction
//! ([`WriteOp::CreateUnique`]), so two callers at once cannot both create. A key stays bound
//! to its run until the run is purged ([`Client::purge`], [`Client::purge_run`]), whatever
//! the run's status: a finished or failed run's id is returned, and purging it frees the key.

use std::sync::Arc;

use crate::client::Client;
use crate::error::Error;
use crate::registry::{Entry, ErasedStart, encode_input};
use crate::run::RunId;
use crate::store::{RunRecord, WriteOp};
use crate::workflow::Workflow;

/// Longest unique key, in bytes. The store keys it with the workflow's name, within LMDB's
/// 511-byte key limit.
pub const MAX_UNIQUE_KEY_BYTES: usize = 255;

/// [`Error::InvalidArgument`] for a unique key that is empty or over [`MAX_UNIQUE_KEY_BYTES`].
fn check_key(call: &'static str, key: &str) -> Result<(), Error> {
    if !key.is_empty() && key.len() <= MAX_UNIQUE_KEY_BYTES {
        return Ok(());
    }
    Err(Error::InvalidArgument {
        call,
        reason: format!(
            "the unique key is {} bytes long; it must be 1 to {MAX_UNIQUE_KEY_BYTES} bytes",
            key.len()
        ),
    })
}

impl Client {
    /// Starts a run of `workflow` unless one was started with `key` already, and returns the
    /// run's id either way: a second call, here or in another process, at the same moment or
    /// later, gets the first call's run, and its `input` is not looked at. Keys are per
    /// workflow: two workflows may use the same key for two runs.
    ///
    /// The key stays bound to its run after the run finished, completed or failed, until the
    /// run is purged ([`purge`](Self::purge), [`purge_run`](Self::purge_run)); the next call
    /// with the key then starts a new run. [`Error::InvalidArgument`] for an empty key or one
    /// over [`MAX_UNIQUE_KEY_BYTES`].
    pub async fn start_unique<W: Workflow>(
        &self,
        workflow: W,
        key: &str,
        input: W::Input,
    ) -> Result<RunId, Error> {
        let _ = workflow;
        check_key("Client::start_unique", key)?;
        let entry = self.shared.typed_entry::<W>()?.clone();
        self.start_unique_entry(entry, key, encode_input::<W>(&input)?)
            .await
    }

    /// [`start_unique`](Self::start_unique) for the workflow named `workflow`, with a JSON
    /// input read as [`start_json`](Self::start_json) reads one.
    pub async fn start_unique_json(
        &self,
        workflow: &str,
        key: &str,
        input: serde_json::Value,
    ) -> Result<RunId, Error> {
        check_key("Client::start_unique_json", key)?;
        let entry = self.shared.entry(workflow)?.clone();
        let input = entry.input_from_json(input)?;
        self.start_unique_entry(entry, key, input).await
    }

    /// Finds or stores the run of `key`, and has a new one run: here, or in a client-only
    /// process handed over to the runtime in the write that stores it.
    async fn start_unique_entry(
        &self,
        entry: Arc<dyn Entry>,
        key: &str,
        input: Vec<u8>,
    ) -> Result<RunId, Error> {
        let now = self.shared.now_ms();
        let record = RunRecord::new(entry.name(), entry.layout_id(), input.clone(), now);
        let hand_over = self.shared.is_client_only();
        let op = WriteOp::CreateUnique {
            key: key.to_owned(),
            record,
            hand_over,
        };
        let (run, created) = self.shared.commit(op).await?.unique()?;
        if !created {
            tracing::debug!(%run, key, workflow = entry.name(), "unique key bound already");
            return Ok(run);
        }
        tracing::info!(%run, key, workflow = entry.name(), "run started with a unique key");
        if !hand_over {
            self.shared.spawn(run, entry, ErasedStart::New(input), 0)?;
        }
        Ok(run)
    }
}
