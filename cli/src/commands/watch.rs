//! `cairn watch RUN`: the run as it is, then each committed transition as it happens, until
//! the run finishes; the exit code says how it finished (0 completed, 1 failed or cancelled),
//! so that a script can wait on a run with `cairn watch RUN && ...`.
//!
//! Text for people is one line per history record (the record's number, state, step,
//! duration, attempts and outcome) followed by the key-value state it changed; `--json` is one
//! [`RunUpdate`] per line (JSON Lines), as the library yields them.

use std::fmt::Write;

use cairn::{Client, HistoryRecord, RunId, RunUpdate, Status};

use crate::failure::Failure;
use crate::history_view;
use crate::output;
use crate::time;

pub async fn watch(client: &Client, run: RunId, json: bool) -> Result<(), Failure> {
    let mut updates = client.watch(run)?;
    let mut last: Option<RunUpdate> = None;
    while let Some(update) = updates.next().await {
        let update = update?;
        if json {
            let line = serde_json::to_string(&update).expect("an update always converts to JSON");
            output::text(&format!("{line}\n"));
        } else {
            output::text(&describe(last.as_ref(), &update));
        }
        last = Some(update);
    }
    let last = last.expect("a watch yields at least one update or an error");
    match last.status {
        Status::Completed => Ok(()),
        Status::Failed => Err(Failure(format!(
            "run {run} failed: {}",
            last.error.unwrap_or_default()
        ))),
        status => Err(Failure(format!("run {run} ended {status}"))),
    }
}

/// The lines of text that tell what `update` brings after `previous`.
fn describe(previous: Option<&RunUpdate>, update: &RunUpdate) -> String {
    let mut text = String::new();
    if previous.is_none() {
        let _ = writeln!(
            text,
            "run {} of workflow `{}`: {} at state {} ({} transitions)",
            update.run, update.workflow, update.status, update.state, update.transitions
        );
    }
    for record in &update.history {
        let _ = writeln!(text, "{}", history_line(record));
    }
    for (key, value) in &update.changed {
        let _ = writeln!(text, "    {key} = {value}");
    }
    for key in &update.removed {
        let _ = writeln!(text, "    {key} removed");
    }
    let status_changed = previous.is_some_and(|previous| previous.status != update.status);
    if status_changed && !update.is_final() {
        let _ = writeln!(text, "  now {}", update.status);
    }
    if update.is_final() {
        let _ = writeln!(text, "run {} {}", update.run, update.status);
    }
    text
}

/// One history record on one line: `  #2 Analyze  after analyze  1.01s  attempt 1  committed`.
fn history_line(record: &HistoryRecord) -> String {
    let mut line = format!("  #{} {}", record.number, record.state);
    if let Some(step) = &record.step {
        let _ = write!(line, "  after {step}");
    }
    let took = record.ended_at_ms.saturating_sub(record.started_at_ms);
    let _ = write!(line, "  {}", time::duration(took));
    if record.attempts > 1 {
        let _ = write!(line, "  {} attempts", record.attempts);
    }
    let _ = write!(line, "  {}", history_view::outcome(record));
    line
}
