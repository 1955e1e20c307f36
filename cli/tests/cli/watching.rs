//! `cairn watch`: follows a run that another process runs until it finishes, and says how it
//! finished with its exit code.

use std::process::{Command, Stdio};

use cairn::Answer;

use crate::fixture::{DataDir, block_on, deploy, runtime};

#[test]
fn a_watched_run_is_followed_until_it_completes_while_another_process_runs_it() {
    let dir = DataDir::new();
    let run = dir.approval.to_string();
    let watcher = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["watch", &run, "--dir", dir.path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The run is taken up by a runtime in this process once answered; the watcher (a
    // client-only process) sees its transitions whenever it starts reading: the first
    // update holds the whole history so far.
    let output = block_on(async {
        let runtime = runtime(&dir.path);
        let client = runtime.client();
        client.answer(dir.approval, Answer::Approved).await.unwrap();
        client.wait(deploy, dir.approval).await.unwrap();
        let output = tokio::task::spawn_blocking(|| watcher.wait_with_output().unwrap())
            .await
            .unwrap();
        runtime.shutdown().await;
        output
    });
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert_eq!(String::from_utf8(output.stderr).unwrap(), "");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with(&format!("run {run} of workflow `deploy`: ")),
        "{stdout}"
    );
    let position = |prefix: &str| {
        lines
            .iter()
            .position(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting {prefix:?} in\n{stdout}"))
    };
    let built = position("  #1 Build  after build  ");
    let released = position("  #3 Release  after release  ");
    assert!(built < released, "{stdout}");
    assert!(lines[built].ends_with("committed"), "{stdout}");
    assert_eq!(lines.last().unwrap(), &format!("run {run} completed"));
}

#[test]
fn watching_a_failed_run_exits_1_with_its_error() {
    let dir = DataDir::new();
    let run = dir.failed.to_string();
    let outcome = dir.cairn(&["watch", &run]);
    assert_eq!(outcome.code, 1, "{outcome:#?}");
    assert_eq!(
        outcome.stderr,
        format!("error: run {run} failed: card declined\n")
    );
    assert_eq!(
        outcome.stdout.lines().next().unwrap(),
        format!("run {run} of workflow `checkout`: failed at state Price (1 transitions)")
    );
    assert!(
        outcome.stdout.contains("failed: card declined\n"),
        "{outcome:#?}"
    );
    assert!(
        outcome.stdout.ends_with(&format!("run {run} failed\n")),
        "{outcome:#?}"
    );
}

#[test]
fn watch_with_json_prints_one_update_per_line() {
    let dir = DataDir::new();
    let stdout = dir
        .cairn(&["watch", &dir.completed.to_string(), "--json"])
        .ok();
    let updates: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    // A finished run: its one update is the last.
    assert_eq!(updates.len(), 1, "{stdout}");
    let update = &updates[0];
    assert_eq!(update["run"], dir.completed.0);
    assert_eq!(update["status"], "completed");
    assert_eq!(update["changed"]["name"], "ada");
    assert_eq!(update["history"].as_array().unwrap().len(), 2);

    assert_eq!(
        dir.cairn(&["watch", "99"]).error(1),
        "error: there is no run 99"
    );
}
