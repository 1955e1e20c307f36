//! `cairn cancel`, `cairn pause` and `cairn unpause`: each commits its request (durable and
//! idempotent), then says where the run is: cancelled or paused at once, or, for a run that
//! is running in some process, asked to stop at its next commit.

use cairn::{Client, RunId, Status};
use serde_json::json;

use crate::failure::Failure;
use crate::output;

pub async fn cancel(client: &Client, run: RunId, json: bool) -> Result<(), Failure> {
    client.cancel(run).await?;
    let status = client.status(run)?.status;
    let said = match status {
        Status::Cancelled => format!("run {run} cancelled"),
        _ => format!(
            "run {run} asked to cancel: it is {status}, and ends cancelled at its next commit (the step in flight finishes, its result dropped)"
        ),
    };
    report(run, status, &said, json);
    Ok(())
}

pub async fn pause(client: &Client, run: RunId, json: bool) -> Result<(), Failure> {
    client.pause(run).await?;
    let status = client.status(run)?.status;
    let said = match status {
        Status::Paused => format!("run {run} paused; `cairn unpause {run}` lets it go on"),
        _ => format!(
            "run {run} asked to pause: it is {status}, and holds once its step in flight is committed"
        ),
    };
    report(run, status, &said, json);
    Ok(())
}

pub async fn unpause(client: &Client, run: RunId, json: bool) -> Result<(), Failure> {
    client.unpause(run).await?;
    let current = client.status(run)?;
    let said = format!(
        "run {run} unpaused ({}); the program that runs `{}` takes it up",
        current.status, current.workflow
    );
    report(run, current.status, &said, json);
    Ok(())
}

/// Says what happened: `said` for people, the run and its status for scripts.
fn report(run: RunId, status: Status, said: &str, json: bool) {
    if json {
        output::json(&json!({ "run": run, "status": status }));
    } else {
        output::text(&format!("{said}\n"));
    }
}
