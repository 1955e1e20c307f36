//! `cairn runs`: the runs a filter selects (status, workflow, creation and finish times), a
//! page at a time in the order they were created, read from the store's listing indexes: a
//! page costs the same among a thousand runs or a million.

use cairn::{Client, RunStatus};
use serde_json::json;

use crate::args::RunsArgs;
use crate::failure::Failure;
use crate::output;
use crate::table::Table;

pub fn runs(client: &Client, args: &RunsArgs, json: bool) -> Result<(), Failure> {
    let page = client.list_runs(&args.filter(), args.limit, args.after)?;
    if json {
        let runs: Vec<serde_json::Value> = page.runs.iter().map(run_json).collect();
        let next = page.next.map(|cursor| cursor.to_string());
        output::json(&json!({ "runs": runs, "next": next }));
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
    for run in &page.runs {
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
    if let Some(next) = page.next {
        // On standard error, so that the table on standard output stays a table.
        eprintln!("more runs: the next page is --after {next}");
    }
    Ok(())
}

/// One run as `--json` lists it: the fields of [`RunStatus`].
pub fn run_json(run: &RunStatus) -> serde_json::Value {
    serde_json::to_value(run).expect("a run's status always converts to JSON")
}
