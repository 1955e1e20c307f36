//! `cairn show RUN`: everything the store knows of one run: its status and position, times,
//! output or error, key-value state, the question it waits on, its history, and for a run
//! stored by an older layout of its workflow what changed in its state.

use std::fmt::Write;

use cairn::{Client, HistoryRecord, RunId, Status};
use serde_json::json;

use crate::failure::Failure;
use crate::history_view;
use crate::output;
use crate::question_view;
use crate::table::Table;
use crate::time;

pub fn show(client: &Client, run: RunId, json: bool) -> Result<(), Failure> {
    let status = client.status(run)?;
    let kv = client.state(run)?.to_json();
    let question = client.question(run)?;
    let history = client.history(run)?;
    // The output is read without the workflow when it is stored as JSON (as most are); what
    // only the workflow's own types decode is said to be so, not hidden.
    let output = (status.status == Status::Completed).then(|| client.result_json(run));
    let layout = client.layout_changes(run)?;
    let started_at_ms = history.first().map(|record| record.started_at_ms);
    let updated_at_ms = history.last().map(|record| record.ended_at_ms);

    if json {
        let (output, output_error) = match output {
            Some(Ok(value)) => (value, None),
            Some(Err(error)) => (serde_json::Value::Null, Some(error.to_string())),
            None => (serde_json::Value::Null, None),
        };
        let mut shown = super::runs::run_json(&status);
        let fields = json!({
            "started_at_ms": started_at_ms,
            "updated_at_ms": updated_at_ms,
            "output": output,
            "output_error": output_error,
            "kv": kv,
            "question": question.as_ref().map(question_view::json),
            "history": history,
            "layout_changes": layout.as_ref().map(|changes| {
                changes.iter().map(ToString::to_string).collect::<Vec<_>>()
            }),
        });
        if let (Some(shown), serde_json::Value::Object(fields)) = (shown.as_object_mut(), fields) {
            shown.extend(fields);
        }
        output::json(&shown);
        return Ok(());
    }

    let mut text = String::new();
    let mut field = |name: &str, value: &str| {
        let value = if value.is_empty() { "-" } else { value };
        let _ = writeln!(text, "{name:<12} {value}");
    };
    field("run", &status.id.to_string());
    field("workflow", &status.workflow);
    field("status", &status.status.to_string());
    field("state", &status.state);
    field("step", status.step.as_deref().unwrap_or_default());
    field("transitions", &status.transitions.to_string());
    field(
        "started",
        &started_at_ms.map(time::instant).unwrap_or_default(),
    );
    field(
        "updated",
        &updated_at_ms.map(time::instant).unwrap_or_default(),
    );
    match &output {
        Some(Ok(value)) => field("output", &value.to_string()),
        Some(Err(error)) => field("output", &format!("(not readable here: {error})")),
        None => {}
    }
    if let Some(error) = &status.error {
        field("error", error);
    }
    if let Some(pending) = &question {
        let question = &pending.question;
        field(
            "question",
            &format!("{} ({})", question.prompt(), question.kind()),
        );
        field("answers", &question_view::answers(question));
        if let Some(deadline) = pending.deadline {
            field("deadline", &time::instant(question_view::ms(deadline)));
        }
    }
    match &layout {
        None => {}
        Some(changes) if changes.is_empty() => field(
            "layout",
            "older than the current version's, its state stored the same way: a runtime of \
             the current version adopts it",
        ),
        Some(changes) => {
            let changes: Vec<String> = changes.iter().map(ToString::to_string).collect();
            field(
                "layout",
                &format!(
                    "older than the current version's: {}; finish it with the old code \
                     (`register_previous`) or move it (`RuntimeBuilder::migrate`)",
                    changes.join("; ")
                ),
            );
        }
    }
    let kv = serde_json::to_string_pretty(&kv).expect("a JSON value always renders");
    let _ = write!(text, "\nkey-value state\n{kv}\n\nhistory\n");
    text.push_str(&history_table(&history).render());
    output::text(&text);
    Ok(())
}

fn history_table(history: &[HistoryRecord]) -> Table {
    let mut table = Table::new(&[
        "#", "STATE", "STEP", "STARTED", "DURATION", "ATTEMPTS", "OUTCOME",
    ]);
    for record in history {
        let attempts = match record.attempts {
            0 => String::new(),
            attempts => attempts.to_string(),
        };
        table.row(vec![
            record.number.to_string(),
            record.state.clone(),
            record.step.clone().unwrap_or_default(),
            time::instant(record.started_at_ms),
            time::duration(record.ended_at_ms.saturating_sub(record.started_at_ms)),
            attempts,
            history_view::outcome(record),
        ]);
    }
    table
}
