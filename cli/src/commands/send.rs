//! `cairn send RUN NAME JSON`: commits the event `NAME` with the JSON payload into the run;
//! the run's next `ctx.wait_for_event("NAME")` receives it (the program that runs the
//! workflow resumes the run if it is waiting for it).

use cairn::{Client, RunId};
use serde_json::json;

use crate::failure::Failure;
use crate::output;

pub async fn send(
    client: &Client,
    run: RunId,
    name: &str,
    payload: &str,
    json: bool,
) -> Result<(), Failure> {
    let payload: serde_json::Value = serde_json::from_str(payload)
        .map_err(|e| Failure(format!("the payload is not JSON: {e}")))?;
    client.send_json(run, name, payload).await?;
    if json {
        output::json(&json!({ "run": run, "event": name, "sent": true }));
    } else {
        output::text(&format!("event `{name}` sent to run {run}\n"));
    }
    Ok(())
}
