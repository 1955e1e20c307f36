//! `cairn resume RUN`: reopens a failed run at its last committed state and hands it over to
//! the program that runs its workflow, which takes it up while it runs (or when it starts).

use cairn::{Client, RunId};
use serde_json::json;

use crate::failure::Failure;
use crate::output;

pub async fn resume(client: &Client, run: RunId, json: bool) -> Result<(), Failure> {
    client.resume(run).await?;
    let status = client.status(run)?;
    if json {
        output::json(&json!({ "run": run, "resumed": true, "state": status.state }));
    } else {
        output::text(&format!(
            "run {run} resumed at state {}; the program that runs `{}` takes it up\n",
            status.state, status.workflow
        ));
    }
    Ok(())
}
