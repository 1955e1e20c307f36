//! Taking a run up again by hand: [`Client::resume`] a failed run (or one stopped in this
//! runtime), and the ways out of quarantine for a run whose stored data is damaged:
//! [`Client::quarantined`], [`Client::fail`], [`Client::resume`] once repaired,
//! [`Client::purge_run`].

use super::Client;
use crate::error::Error;
use crate::run::RunId;
use crate::store::{RunRecord, WriteOp};

impl Client {
    /// Restarts a failed run from its last committed state: the steps whose results were
    /// committed do not run again; the one that failed (and the code after the last commit)
    /// does. A run this runtime stopped because a commit failed ([`Error::DiskFull`], say)
    /// resumes the same way once the cause is gone. [`Error::NotResumable`] if the run has
    /// not failed.
    ///
    /// A quarantined run (see [`quarantined`](Self::quarantined)) is tried again once its
    /// stored data is repaired: it leaves quarantine and runs from its last committed state.
    /// If it still does not decode, it goes back to quarantine with the new reason and this
    /// returns [`Error::CorruptState`].
    pub async fn resume(&self, run: RunId) -> Result<(), Error> {
        if self.shared.store()?.quarantine_entry(run)?.is_some() {
            return self.resume_quarantined(run).await;
        }
        let record = self.load(run)?;
        // A client-only process (the `cairn` CLI, say) need not register the workflow: the
        // runtime that takes the run up checks that it can run it, as for a handed-over start.
        if !self.shared.is_client_only() {
            self.check(run, &record, None)?;
        }
        // A run this runtime stopped without recording a failure (its commit failed: the disk
        // was full, say) is still stored as running: it resumes as it is.
        let stopped = self.shared.aborted(run).is_some() && !record.status.is_finished();
        let record = if stopped {
            record
        } else {
            self.shared
                .commit(WriteOp::Reopen { run })
                .await?
                .record()?
        };
        tracing::info!(%run, workflow = record.workflow, "failed run resumed");
        self.continue_run(run, record).await
    }

    /// Has `run`, reopened at its last commit, run again: here, or in a client-only process by
    /// the runtime of another process, which picks it up while it runs.
    pub(super) async fn continue_run(&self, run: RunId, record: RunRecord) -> Result<(), Error> {
        if self.shared.is_client_only() {
            let position = record.transitions;
            self.shared
                .commit(WriteOp::HandOver { run, position })
                .await?
                .done()?;
        } else {
            self.shared.resume_stored(run, record)?;
        }
        self.shared.notify();
        Ok(())
    }

    /// [`resume`](Self::resume) of a quarantined run.
    async fn resume_quarantined(&self, run: RunId) -> Result<(), Error> {
        let again = |error: Error| async move {
            if let Error::CorruptState { reason, .. } = &error {
                let reason = reason.clone();
                self.shared
                    .commit(WriteOp::Quarantine { run, reason })
                    .await?
                    .done()?;
                tracing::warn!(%run, %error, "quarantined run still damaged: back in quarantine");
            }
            Err(error)
        };
        // Decoded before it leaves quarantine, and checked against this build.
        let record = match self.load(run) {
            Ok(record) => record,
            Err(error) => return again(error).await,
        };
        self.check(run, &record, None)?;
        let released = self.shared.commit(WriteOp::Release { run }).await;
        let record = match released.and_then(crate::store::Outcome::record) {
            Ok(record) => record,
            Err(error) => return again(error).await,
        };
        tracing::info!(%run, workflow = record.workflow, "quarantined run resumed");
        if record.status.is_finished() {
            self.shared.notify();
            return Ok(());
        }
        self.continue_run(run, record).await
    }

    /// The runs in quarantine, in id order, each with the reason: a run whose stored data
    /// (record, input, state, question, loop item...) does not decode, or whose index entries
    /// could not be derived from it. Found at start (a consistency check of the indexes
    /// against the runs) or met while running, instead of leaving the run to fail at every
    /// restart. A quarantined run is left alone by every restart and listed by
    /// [`list`](Self::list) as [`Status::Corrupt`](crate::Status::Corrupt). Ways out: [`fail`](Self::fail),
    /// [`resume`](Self::resume) once the data is repaired, or [`purge_run`](Self::purge_run).
    pub fn quarantined(&self) -> Result<Vec<crate::quarantine::Quarantined>, Error> {
        Ok(self
            .shared
            .store()?
            .quarantined()?
            .into_iter()
            .map(|(run, entry)| entry.to_public(run))
            .collect())
    }

    /// Fails a quarantined run with `message` (its history and state kept): from then on it
    /// is a failed run like any other, which [`resume`](Self::resume) restarts from its last
    /// committed state. [`Error::NotQuarantined`] for a run that is not in quarantine (a
    /// healthy run fails by its own code); [`Error::CorruptState`] if its run record itself
    /// does not decode (then repair it, or [`purge_run`](Self::purge_run) it).
    pub async fn fail(&self, run: RunId, message: &str) -> Result<(), Error> {
        let message = message.to_owned();
        self.shared
            .commit(WriteOp::FailQuarantined { run, message })
            .await?
            .done()?;
        tracing::info!(%run, "quarantined run failed by hand");
        self.shared.notify();
        Ok(())
    }

    /// Deletes every entry of a quarantined or finished run, in one transaction: its record,
    /// state, key-value state, history, sleeps, `parallel` branch outputs, loop items,
    /// questions, quarantine mark and index entries. Its id is not reused.
    /// [`Error::NotQuarantined`] for an unfinished run that is not quarantined.
    pub async fn purge_run(&self, run: RunId) -> Result<(), Error> {
        self.shared.commit(WriteOp::Purge { run }).await?.done()?;
        self.shared.notify();
        Ok(())
    }
}
