//! Starting runs and reading their progress and results.
//!
//! Typed methods take the workflow value (`client.run(research, input)`) so the compiler checks
//! input and output types; the `_json` methods take a workflow name and JSON, for CLIs and HTTP
//! front ends.

mod cancel;
mod children;
mod events;
pub(crate) mod json_input;
pub(crate) mod listing;
mod priority;
pub(crate) mod progress;
pub(crate) mod questions;
mod repair;
pub(crate) mod session;
mod ticks;
pub(crate) mod unique;
pub(crate) mod watch;
mod workflows;

use std::sync::Arc;

use crate::client::progress::Changes;
use crate::context::state::RunState;
use crate::error::Error;
use crate::history::HistoryRecord;
use crate::registry::{Entry, ErasedStart, decode_output, encode_input};
use crate::run::{RunId, RunStatus, Status};
use crate::runtime::Shared;
use crate::store::RunRecord;
use crate::store::WriteOp;
use crate::workflow::Workflow;

/// Starts and queries runs. Cheap to clone; obtained from [`Runtime::client`](crate::Runtime::client).
#[derive(Clone)]
pub struct Client {
    pub(crate) shared: Arc<Shared>,
}

impl Client {
    pub(crate) fn new(shared: Arc<Shared>) -> Client {
        Client { shared }
    }

    /// Starts a run of `workflow` and returns its id once the run is stored.
    pub async fn start<W: Workflow>(&self, workflow: W, input: W::Input) -> Result<RunId, Error> {
        let _ = workflow;

        let entry = self.shared.typed_entry::<W>()?.clone();
        self.start_entry(entry, encode_input::<W>(&input)?).await
    }

    /// Starts one run of `workflow` per input, all stored in ONE write transaction (one fsync
    /// with [`Durability::Full`](crate::Durability::Full), where as many [`start`](Self::start)
    /// calls awaited one by one pay one each), and returns their ids in input order. All or
    /// none: an input that cannot be stored fails the whole call with its typed error
    /// ([`Error::Unstorable`], say) before anything is written, and a crash during the commit
    /// leaves either every run or none. No input returns an empty `Vec` and writes nothing.
    ///
    /// The runs then go on as [`start`](Self::start)'s do: here, or in a client-only process
    /// handed over to the runtime that runs the workflows, in the same transaction.
    pub async fn start_many<W: Workflow>(
        &self,
        workflow: W,
        inputs: impl IntoIterator<Item = W::Input>,
    ) -> Result<Vec<RunId>, Error> {
        let _ = workflow;
        let entry = self.shared.typed_entry::<W>()?.clone();
        let inputs = inputs
            .into_iter()
            .map(|input| encode_input::<W>(&input))
            .collect::<Result<Vec<_>, Error>>()?;
        self.start_entries(entry, inputs).await
    }

    /// [`start_many`](Self::start_many) for the workflow named `workflow`, with JSON inputs
    /// read as [`start_json`](Self::start_json) reads one. An input that does not read
    /// ([`Error::InputKeys`], [`Error::MalformedInput`]) fails the whole call before anything
    /// is written.
    pub async fn start_many_json(
        &self,
        workflow: &str,
        inputs: Vec<serde_json::Value>,
    ) -> Result<Vec<RunId>, Error> {
        let entry = self.shared.entry(workflow)?.clone();
        let inputs = inputs
            .into_iter()
            .map(|input| entry.input_from_json(input))
            .collect::<Result<Vec<_>, Error>>()?;
        self.start_entries(entry, inputs).await
    }

    /// Starts a run of `workflow` and waits for its output.
    pub async fn run<W: Workflow>(&self, workflow: W, input: W::Input) -> Result<W::Output, Error> {
        let run = self.start(workflow, input).await?;
        self.wait(workflow, run).await
    }

    /// Waits until `run` finishes and returns its output, or [`Error::RunFailed`] with its
    /// failure. In a process that runs the workflow, it returns as soon as the run finishes;
    /// in a client-only one ([`Client::open`], [`RuntimeBuilder::client_only`](crate::RuntimeBuilder::client_only)),
    /// where the workflow runs in another process, it reads the run again after a delay that
    /// starts at 2 ms and doubles up to 100 ms, so it returns at most 100 ms after the run
    /// finishes.
    pub async fn wait<W: Workflow>(&self, workflow: W, run: RunId) -> Result<W::Output, Error> {
        let _ = workflow;
        self.shared.check_registered::<W>()?;
        let record = self.wait_record(run, Some(W::NAME)).await?;
        finished(run, record, |output| decode_output::<W>(run, output))
    }

    /// Starts a run of the workflow named `workflow` with a JSON input: an object keyed by
    /// the workflow's parameter names (`{"topic": "quantum computing"}`), or the input type's
    /// own JSON (the value of a single parameter, an array of several in order, `null` for
    /// none). A single parameter whose type is itself read from an object is ambiguous: an
    /// object whose only key is the parameter's name is read keyed first, then as the value
    /// itself (the rules are in `json_input.rs`). An object whose keys are not the parameters
    /// is [`Error::InputKeys`], naming the missing and unknown keys; a value of the wrong type
    /// is [`Error::MalformedInput`].
    pub async fn start_json(
        &self,
        workflow: &str,
        input: serde_json::Value,
    ) -> Result<RunId, Error> {
        let entry = self.shared.entry(workflow)?.clone();
        let input = entry.input_from_json(input)?;
        self.start_entry(entry, input).await
    }

    /// Starts a run of the workflow named `workflow` with a JSON input and waits for its output.
    pub async fn run_json(
        &self,
        workflow: &str,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        let run = self.start_json(workflow, input).await?;
        self.wait_json(run).await
    }

    /// Waits until `run` finishes and returns its output as JSON; like [`wait`](Self::wait),
    /// also in a client-only process. A process that does not register the workflow reads
    /// outputs stored as JSON (those that JSON round-trips); others need it registered.
    pub async fn wait_json(&self, run: RunId) -> Result<serde_json::Value, Error> {
        let record = self.wait_record(run, None).await?;
        self.output_json(run, record)
    }

    /// The progress of `run`. A quarantined run, or one whose record does not decode, is
    /// [`Status::Corrupt`] with the reason as its `error`.
    pub fn status(&self, run: RunId) -> Result<RunStatus, Error> {
        self.shared.store()?.run_status(run)
    }

    /// The output of a finished run, without waiting.
    pub fn result<W: Workflow>(&self, workflow: W, run: RunId) -> Result<W::Output, Error> {
        let _ = workflow;
        self.shared.check_registered::<W>()?;
        let record = self.load(run)?;
        self.check(run, &record, Some(W::NAME))?;
        finished(run, record, |output| decode_output::<W>(run, output))
    }

    /// The output of a finished run as JSON, without waiting.
    /// Outputs stored as JSON are read without the workflow (see [`wait_json`](Self::wait_json)).
    pub fn result_json(&self, run: RunId) -> Result<serde_json::Value, Error> {
        let record = self.load(run)?;
        self.output_json(run, record)
    }

    /// The outcome of a finished run as JSON: read as stored when the output is JSON, else
    /// decoded by the registered workflow. A failed or unfinished run needs no workflow.
    fn output_json(&self, run: RunId, record: RunRecord) -> Result<serde_json::Value, Error> {
        match &record.output {
            Some(output) if record.status == Status::Completed => {
                if let Some(json) = stored_json(run, &record.workflow, output)? {
                    return Ok(json);
                }
                self.check(run, &record, None)?.output_to_json(run, output)
            }
            // Not completed (or completed without an output): no output is decoded, but a run
            // of a registered workflow that this build cannot run is reported as such.
            _ => {
                if self.shared.entry(&record.workflow).is_ok() {
                    self.check(run, &record, None)?;
                }
                finished(run, record, |_| Ok(serde_json::Value::Null))
            }
        }
    }

    /// The durable key-value state of `run` as of its last committed transition, while it runs
    /// and after it finished.
    pub fn state(&self, run: RunId) -> Result<RunState, Error> {
        let store = self.shared.store()?;
        if store.load(run)?.is_none() {
            return Err(Error::UnknownRun { run });
        }
        Ok(RunState::new(run, store.state_all(run)?))
    }

    /// The history of `run`: one record per committed transition and one for its end, oldest
    /// first.
    pub fn history(&self, run: RunId) -> Result<Vec<HistoryRecord>, Error> {
        let store = self.shared.store()?;
        if store.load(run)?.is_none() {
            return Err(Error::UnknownRun { run });
        }
        store.history(run)
    }

    /// Waits until `run` has status `status` (or has finished, whatever its status) and
    /// returns its progress: say, until a run is [`Status::Waiting`] in a durable sleep.
    /// Polls in a client-only process as [`wait`](Self::wait) does.
    pub async fn wait_for_status(&self, run: RunId, status: Status) -> Result<RunStatus, Error> {
        let mut changes = Changes::new(&self.shared);
        loop {
            let current = self.status(run)?;
            let reached = current.status == status || current.status.is_finished();
            if reached && !self.shared.ending_here(run, current.status) {
                return Ok(current);
            }
            if current.status == Status::Corrupt {
                return Err(Error::CorruptState {
                    run,
                    workflow: current.workflow,
                    reason: format!("quarantined: {}", current.error.unwrap_or_default()),
                });
            }
            if let Some(error) = self.shared.aborted(run) {
                return Err(error);
            }
            if self.shared.is_shut_down() {
                return Err(Error::ShutDown);
            }
            changes.next().await?;
        }
    }

    /// Every run, or those with `status`, in id order. A quarantined run, or one whose record
    /// does not decode, is listed as [`Status::Corrupt`] with the reason as its `error`
    /// (and `"<unknown>"` as its workflow when the record is unreadable), never dropped.
    pub fn list(&self, status: Option<Status>) -> Result<Vec<RunStatus>, Error> {
        self.shared.store()?.list_status(status)
    }

    async fn start_entry(&self, entry: Arc<dyn Entry>, input: Vec<u8>) -> Result<RunId, Error> {
        let now = self.shared.now_ms();
        let record = RunRecord::new(entry.name(), entry.layout_id(), input.clone(), now);
        let run = self
            .shared
            .commit(WriteOp::CreateRun { record })
            .await?
            .created()?;
        tracing::info!(%run, workflow = entry.name(), "run started");
        self.shared
            .launch(run, entry, ErasedStart::New(input), 0)
            .await?;
        Ok(run)
    }

    /// Stores one run of `entry` per encoded input in one transaction, then has them run (see
    /// [`start_many`](Self::start_many)).
    async fn start_entries(
        &self,
        entry: Arc<dyn Entry>,
        inputs: Vec<Vec<u8>>,
    ) -> Result<Vec<RunId>, Error> {
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.shared.now_ms();
        let records = inputs
            .iter()
            .map(|input| RunRecord::new(entry.name(), entry.layout_id(), input.clone(), now))
            .collect();
        let hand_over = self.shared.is_client_only();
        let first = self
            .shared
            .commit(WriteOp::CreateRuns { records, hand_over })
            .await?
            .created()?;
        let runs: Vec<RunId> = (first.0..).map(RunId).take(inputs.len()).collect();
        tracing::info!(
            first = %runs[0],
            count = runs.len(),
            workflow = entry.name(),
            "runs started"
        );
        if !hand_over {
            // Their first transitions come together: one batch rather than the first alone.
            self.shared.expect_commits(runs.len());
            for (&run, input) in runs.iter().zip(inputs) {
                self.shared
                    .spawn(run, entry.clone(), ErasedStart::New(input), 0)?;
            }
        }
        Ok(runs)
    }

    /// [`Error::CorruptState`] with the reason if `run` is quarantined: it would never
    /// finish by itself.
    fn not_quarantined(&self, run: RunId, record: &RunRecord) -> Result<(), Error> {
        match self.shared.store()?.quarantine_entry(run)? {
            Some(entry) => Err(Error::CorruptState {
                run,
                workflow: record.workflow.clone(),
                reason: format!("quarantined: {}", entry.reason),
            }),
            None => Ok(()),
        }
    }

    fn load(&self, run: RunId) -> Result<RunRecord, Error> {
        self.shared
            .store()?
            .load(run)?
            .ok_or(Error::UnknownRun { run })
    }

    /// Checks that the run's bytes can be read by this build: the expected workflow, registered,
    /// with the same state layout.
    fn check(
        &self,
        run: RunId,
        record: &RunRecord,
        expected: Option<&str>,
    ) -> Result<&Arc<dyn Entry>, Error> {
        check_workflow(run, record, expected)?;
        self.shared
            .entry_for(run, &record.workflow, record.fingerprint)
    }

    /// Waits for the run to finish (see [`Changes`] for how). Subscribes before each read, so
    /// a finish between the read and the wait still wakes it.
    async fn wait_record(&self, run: RunId, expected: Option<&str>) -> Result<RunRecord, Error> {
        let mut changes = Changes::new(&self.shared);
        loop {
            let record = self.load(run)?;
            self.not_quarantined(run, &record)?;
            if self.shared.is_client_only() {
                // The process that runs it may have the workflow registered while this one
                // does not; what the output needs is checked once it is there.
                check_workflow(run, &record, expected)?;
            } else if expected.is_some() || !record.status.is_finished() {
                // A run this runtime cannot run would never finish here: say so now. (A
                // finished one may have its output stored as JSON, read without the workflow:
                // see `output_json`.)
                self.check(run, &record, expected)?;
            }
            if record.status.is_finished() && !self.shared.ending_here(run, record.status) {
                return Ok(record);
            }
            if let Some(error) = self.shared.aborted(run) {
                // A commit refused for good makes the task commit the run's failure
                // (`run_task.rs`) before it stops, maybe after the read above: the stored
                // failure is the outcome then.
                if error.refused_for_good() {
                    let record = self.load(run)?;
                    if record.status.is_finished() {
                        return Ok(record);
                    }
                }
                return Err(error);
            }
            if self.shared.is_shut_down() {
                return Err(Error::ShutDown);
            }
            changes.next().await?;
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

/// The JSON of stored output bytes, if they hold JSON; `None` for postcard.
pub(crate) fn stored_json(
    run: RunId,
    workflow: &str,
    output: &[u8],
) -> Result<Option<serde_json::Value>, Error> {
    crate::codec::to_json(output).map_err(|e| Error::CorruptState {
        run,
        workflow: workflow.to_owned(),
        reason: format!("output: {e}"),
    })
}

/// [`Error::WrongWorkflow`] unless the run belongs to `expected` (if given).
fn check_workflow(run: RunId, record: &RunRecord, expected: Option<&str>) -> Result<(), Error> {
    match expected {
        Some(expected) if expected != record.workflow => Err(Error::WrongWorkflow {
            run,
            expected: expected.to_owned(),
            actual: record.workflow.clone(),
        }),
        _ => Ok(()),
    }
}

/// The outcome of a finished run; `decode` reads a completed run's output bytes.
fn finished<T>(
    run: RunId,
    record: RunRecord,
    decode: impl FnOnce(&[u8]) -> Result<T, Error>,
) -> Result<T, Error> {
    match record.status {
        Status::Completed => match &record.output {
            Some(output) => decode(output),
            None => Err(Error::CorruptState {
                run,
                workflow: record.workflow,
                reason: "completed run has no output".to_owned(),
            }),
        },
        Status::Failed => Err(Error::RunFailed {
            run,
            message: record.error.unwrap_or_default(),
        }),
        Status::Cancelled => Err(Error::Cancelled { run }),
        status => Err(Error::NotFinished { run, status }),
    }
}
