//! `cairn answer RUN ANSWER`: reads the answer as the run's question expects it and commits
//! it; the program that runs the workflow resumes the run.

use cairn::{Answer, Client, RunId, Status};
use serde_json::json;

use crate::failure::Failure;
use crate::output;

pub async fn answer(client: &Client, run: RunId, input: &str, json: bool) -> Result<(), Failure> {
    let Some(pending) = client.question(run)? else {
        // Names the run if it does not exist, else says why it takes no answer.
        let status = client.status(run)?;
        let why = match status.status {
            Status::Waiting => "it is sleeping, or its question is already answered".to_owned(),
            other => format!("its status is {other}"),
        };
        return Err(Failure(format!(
            "run {run} is not waiting for an answer: {why}"
        )));
    };
    let answer = Answer::parse_for(&pending.question, input);
    let committed = client.answer(run, answer).await?;
    if json {
        output::json(&json!({ "run": run, "answer": committed }));
    } else {
        output::text(&format!(
            "run {run} answered: {committed}; the program that runs `{}` resumes it\n",
            pending.workflow
        ));
    }
    Ok(())
}
