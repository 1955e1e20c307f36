//! Sending events into runs ([`Client::send`], [`Client::send_json`]), from any process; the
//! workflow's side is [`Context::wait_for_event`](crate::Context::wait_for_event), and what
//! the store keeps is in [`crate::store::events`].

use serde::Serialize;

use crate::client::Client;
use crate::codec::{Format, seal};
use crate::error::Error;
use crate::run::RunId;
use crate::store::WriteOp;

impl Client {
    /// Sends the event `name` with `payload` into `run`: committed (queued for the run, in
    /// send order per name) before this returns, so it survives any crash, and delivered
    /// once, to the run's next `ctx.wait_for_event("name")` (now, if it is waiting for it: a
    /// runtime that runs the workflow then resumes it, this one at once, one in another
    /// process within its poll interval, one started later at its start).
    ///
    /// Payloads are stored as JSON. [`Error::UnknownRun`] and [`Error::EventToFinishedRun`]
    /// store nothing; so does [`Error::EventType`], when the run's workflow is registered in
    /// this process and waits for `name` with another payload type (else a payload of the
    /// wrong type fails the run when it is delivered). [`Error::Encode`] for a payload that
    /// JSON cannot hold (a map with keys that are not strings or numbers).
    pub async fn send<T: Serialize + ?Sized>(
        &self,
        run: RunId,
        name: &str,
        payload: &T,
    ) -> Result<(), Error> {
        let json = serde_json::to_vec(payload).map_err(|e| Error::Encode {
            workflow: String::new(),
            what: "an event payload as JSON",
            reason: e.to_string(),
        })?;
        self.send_bytes(run, name, json).await
    }

    /// [`send`](Self::send) with the payload as JSON, for CLIs and HTTP front ends (`cairn
    /// send RUN NAME JSON`).
    pub async fn send_json(
        &self,
        run: RunId,
        name: &str,
        payload: serde_json::Value,
    ) -> Result<(), Error> {
        let json = serde_json::to_vec(&payload).map_err(|e| Error::Encode {
            workflow: String::new(),
            what: "an event payload as JSON",
            reason: e.to_string(),
        })?;
        self.send_bytes(run, name, json).await
    }

    async fn send_bytes(&self, run: RunId, name: &str, json: Vec<u8>) -> Result<(), Error> {
        self.check_event_type(run, name, &json)?;
        let woken = self
            .shared
            .commit(WriteOp::SendEvent {
                run,
                name: name.to_owned(),
                payload: seal(Format::Json, &json),
            })
            .await?
            .woken()?;
        tracing::debug!(%run, event = name, woken, "event sent");
        if woken {
            // The run was handed over: this process's watcher, if it runs it, starts it now.
            self.shared.answers.notify();
        }
        Ok(())
    }

    /// Refuses `json` if the run's workflow, registered here with the run's layout, waits for
    /// `name` and `json` decodes as none of the types it waits for it with.
    fn check_event_type(&self, run: RunId, name: &str, json: &[u8]) -> Result<(), Error> {
        let Some(record) = self.shared.store()?.load(run)? else {
            return Err(Error::UnknownRun { run });
        };
        let Ok(entry) = self
            .shared
            .entry_for(run, &record.workflow, record.fingerprint)
        else {
            return Ok(()); // not known here: checked at delivery
        };
        let types = entry.event_types();
        let mut refusals = types.iter().filter(|e| e.name == name).map(|e| {
            (e.check)(json).map_err(|reason| Error::EventType {
                run,
                event: name.to_owned(),
                expected: (e.type_name)().to_owned(),
                reason,
            })
        });
        match refusals.next() {
            None => Ok(()),
            Some(Ok(())) => Ok(()),
            Some(Err(first)) => match refusals.find(Result::is_ok) {
                Some(_) => Ok(()),
                None => Err(first),
            },
        }
    }
}
