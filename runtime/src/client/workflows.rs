//! The workflows a runtime registered, read from the store: their state graphs and versions,
//! for a process that does not have the workflows' code (the `cairn` CLI, a dashboard, any
//! [`Client::open`]). A runtime stores them at every start (see `runtime/graphs.rs`).

use crate::client::Client;
use crate::error::Error;
use crate::graph::{StoredWorkflow, WorkflowGraph};
use crate::run::RunId;

impl Client {
    /// The state graph of the workflow named `name`, as the last runtime started on this
    /// store registered it (its current version), or `None` if no runtime has registered it.
    /// Needs no workflow registered in this process:
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), cairn_runtime::Error> {
    /// let client = cairn_runtime::Client::open("cairn-data")?;
    /// if let Some(graph) = client.workflow_graph("research_pipeline")? {
    ///     println!("{}", graph.to_mermaid());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn workflow_graph(&self, name: &str) -> Result<Option<WorkflowGraph>, Error> {
        Ok(self.shared.store()?.workflow(name)?.map(|w| w.graph))
    }

    /// The state graph of the version of its workflow that stored `run` (the one with the
    /// run's layout fingerprint: an older version's, for a run it left unfinished), or `None` if no
    /// runtime registered that version. [`Error::UnknownRun`] for an unknown run. Draw the
    /// run's position with [`WorkflowGraph::to_mermaid_marking`] and the run's
    /// [`state`](crate::RunStatus::state).
    pub fn run_graph(&self, run: RunId) -> Result<Option<WorkflowGraph>, Error> {
        let store = self.shared.store()?;
        let record = store.load(run)?.ok_or(Error::UnknownRun { run })?;
        Ok(store
            .workflows()?
            .into_iter()
            .find(|w| w.name == record.workflow && w.has_layout(record.fingerprint))
            .map(|w| w.graph))
    }

    /// Every workflow registered on this store by a runtime, every version kept (the current
    /// one and older ones, see [`StoredWorkflow::current`]), by name then fingerprint.
    pub fn workflows(&self) -> Result<Vec<StoredWorkflow>, Error> {
        self.shared.store()?.workflows()
    }

    /// For a run moved to a newer layout at a runtime's start (migrated, or adopted because
    /// its state is stored the same way, see
    /// [`RuntimeBuilder::migrate`](crate::RuntimeBuilder::migrate)): the layout id and the
    /// state name it had before, kept (with the original state) until the run commits its
    /// next transition; `None` otherwise.
    pub fn migrated_from(&self, run: RunId) -> Result<Option<(u64, String)>, Error> {
        Ok(self
            .shared
            .store()?
            .migrated_original(run)?
            .map(|original| (original.fingerprint, original.state_name)))
    }

    /// For an unfinished run stored under another layout than the current version of its
    /// workflow (as last registered on this store): what changed in the state it is in, read
    /// from the descriptions both versions stored, without the code. `Some(vec![])` means its
    /// state is stored the same way (a runtime of the current version adopts it, unless its
    /// `version` differs); `None` for a run of the current layout, a finished run, or when a
    /// description is missing. What [`Runtime::incompatible_runs`](crate::Runtime::incompatible_runs)
    /// reports, for a tool (`cairn show`).
    pub fn layout_changes(&self, run: RunId) -> Result<Option<Vec<crate::LayoutChange>>, Error> {
        let record = self.load(run)?;
        if record.status.is_finished() {
            return Ok(None);
        }
        let versions = self.shared.store()?.workflows()?;
        let mut versions = versions.iter().filter(|w| w.name == record.workflow);
        let (mut stored, mut current) = (None, None);
        for version in versions.by_ref() {
            if version.has_layout(record.fingerprint) {
                stored = Some(version);
            }
            if version.current {
                current = Some(version);
            }
        }
        let (Some(stored), Some(current)) = (stored, current) else {
            return Ok(None);
        };
        if current.has_layout(record.fingerprint) {
            return Ok(None);
        }
        let (Some(old), Some(new)) = (&stored.layout, &current.layout) else {
            return Ok(None);
        };
        Ok(crate::layout::compare::layout_changes(
            old,
            new,
            &record.state_name,
        ))
    }
}
