//! `cairn answer` and `cairn resume`: what they commit is taken up by the next runtime on the
//! directory, which finishes the runs; a refused answer changes nothing.

use serde_json::json;

use crate::fixture::{DataDir, block_on, checkout, deploy, pick_region, runtime};

#[test]
fn an_approval_answered_from_the_cli_lets_the_run_finish() {
    let dir = DataDir::new();
    let run = dir.approval.to_string();
    let said = dir.cairn(&["answer", &run, "yes"]).ok();
    assert_eq!(
        said,
        format!("run {run} answered: approved; the program that runs `deploy` resumes it\n")
    );
    // Answered: no longer listed, and a second answer is refused.
    let questions = dir.cairn(&["questions", "--json"]).json();
    assert_eq!(questions.as_array().unwrap().len(), 1);
    let again = dir.cairn(&["answer", &run, "no"]).error(1);
    assert_eq!(
        again,
        format!(
            "error: run {run} is not waiting for an answer: it is sleeping, or its question is already answered"
        )
    );

    let output = block_on(async {
        let runtime = runtime(&dir.path);
        let output = runtime.client().wait(deploy, dir.approval).await;
        runtime.shutdown().await;
        output
    });
    assert_eq!(output.unwrap(), "https://example.test/releases/v2.1");
    let shown = dir.cairn(&["show", &run, "--json"]).json();
    assert_eq!(shown["status"], "completed");
}

#[test]
fn a_choice_answered_with_json_output() {
    let dir = DataDir::new();
    let run = dir.choice.to_string();
    let said = dir.cairn(&["answer", &run, "eu", "--json"]).json();
    assert_eq!(
        said,
        json!({"run": dir.choice.0, "answer": {"choice": "eu"}})
    );
    let output = block_on(async {
        let runtime = runtime(&dir.path);
        let output = runtime.client().wait(pick_region, dir.choice).await;
        runtime.shutdown().await;
        output
    });
    assert_eq!(output.unwrap(), "eu");
}

#[test]
fn an_answer_that_does_not_fit_is_refused_and_changes_nothing() {
    let dir = DataDir::new();
    let approval = dir.approval.to_string();
    let refused = dir.cairn(&["answer", &approval, "maybe"]).error(1);
    assert_eq!(
        refused,
        format!(
            "error: invalid answer for run {approval}: this question takes no custom answer, only one of: approve, reject"
        )
    );
    let choice = dir.choice.to_string();
    let refused = dir.cairn(&["answer", &choice, "mars"]).error(1);
    assert_eq!(
        refused,
        format!(
            "error: invalid answer for run {choice}: this question takes no custom answer, only one of: eu, us"
        )
    );
    let completed = dir.completed.to_string();
    let refused = dir.cairn(&["answer", &completed, "yes"]).error(1);
    assert_eq!(
        refused,
        format!("error: run {completed} is not waiting for an answer: its status is completed")
    );
    let questions = dir.cairn(&["questions", "--json"]).json();
    assert_eq!(questions.as_array().unwrap().len(), 2);
}

#[test]
fn a_failed_run_resumed_from_the_cli_finishes_without_running_its_committed_step_again() {
    let dir = DataDir::new();
    let run = dir.failed.to_string();
    std::fs::remove_file(&dir.declined).unwrap();
    let said = dir.cairn(&["resume", &run]).ok();
    assert!(
        said.starts_with(&format!("run {run} resumed at state ")),
        "{said}"
    );
    assert!(
        said.ends_with("; the program that runs `checkout` takes it up\n"),
        "{said}"
    );
    // Resumed: no longer failed; a second resume is refused until it fails again.
    let shown = dir.cairn(&["show", &run, "--json"]).json();
    assert_ne!(shown["status"], "failed");
    let again = dir.cairn(&["resume", &run]).error(1);
    assert!(
        again.starts_with(&format!("error: run {run} cannot be resumed")),
        "{again}"
    );

    let output = block_on(async {
        let runtime = runtime(&dir.path);
        let output = runtime.client().wait(checkout, dir.failed).await;
        runtime.shutdown().await;
        output
    });
    assert_eq!(output.unwrap(), "receipt-1 for 1000 cents");
    let shown = dir.cairn(&["show", &run, "--json"]).json();
    assert_eq!(shown["status"], "completed");
    let steps: Vec<&str> = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|record| record["step"].as_str())
        .collect();
    // `price` committed before the failure and ran once; `charge_card` failed, then passed.
    assert_eq!(
        steps.iter().filter(|s| **s == "price").count(),
        1,
        "{steps:?}"
    );
}
