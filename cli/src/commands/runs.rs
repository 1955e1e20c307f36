//! `cairn runs`: the runs of the directory, newest first, filtered by status and workflow.

use cairn::{Client, RunStatus};

use crate::args::RunsArgs;
use crate::failure::Failure;
use crate::output;
use crate::table::Table;

pub fn runs(client: &Client, filters: &RunsArgs, json: bool) -> Result<(), Failure> {
    let mut runs = client.list(filters.status)?;
    if let Some(workflow) = &filters.workflow {
        runs.retain(|run| &run.workflow == workflow);
    }
    // The store lists in id order, oldest first; people look for the latest.
    runs.reverse();
    let matching = runs.len();
    runs.truncate(filters.limit);
    if matching > runs.len() {
        // On standard error, so that the table or JSON on standard output stays whole.
        eprintln!(
            "{} of {matching} matching runs shown; --limit {matching} shows them all",
            runs.len()
        );
    }

    if json {
        let runs = runs.iter().map(run_json).collect();
        output::json(&serde_json::Value::Array(runs));
        return Ok(());
    }
    let mut table = Table::new(&[
        "RUN",
        "WORKFLOW",
        "STATUS",
        "STATE",
        "STEP",
        "TRANSITIONS",
        "ERROR",
    ]);
    for run in &runs {
        table.row(vec![
            run.id.to_string(),
            run.workflow.clone(),
            run.status.to_string(),
            run.state.clone(),
            run.step.clone().unwrap_or_default(),
            run.transitions.to_string(),
            run.error.clone().unwrap_or_default(),
        ]);
    }
    output::text(&table.render());
    Ok(())
}

/// One run as `--json` lists it: the fields of [`RunStatus`].
pub fn run_json(run: &RunStatus) -> serde_json::Value {
    serde_json::to_value(run).expect("a run's status always converts to JSON")
}
