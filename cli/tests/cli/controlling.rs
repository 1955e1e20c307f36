//! `cairn cancel`, `cairn pause`, `cairn unpause` and `cairn purge` on the fixture's runs:
//! what they commit holds for the next runtime on the directory.

use serde_json::json;

use cairn::{Context, Error, Runtime, Status, workflow};

use crate::fixture::{DataDir, block_on, cairn, pick_region, runtime};

/// The ids of the runs `cairn runs` lists with `args`.
fn ids(dir: &DataDir, args: &[&str]) -> Vec<u64> {
    let mut full = vec!["runs", "--json"];
    full.extend_from_slice(args);
    let listed = dir.cairn(&full).json();
    let runs = listed["runs"].as_array().unwrap();
    runs.iter().map(|run| run["id"].as_u64().unwrap()).collect()
}

#[test]
fn a_waiting_run_cancelled_from_the_cli_is_cancelled_at_once_and_asks_no_more() {
    let dir = DataDir::new();
    let run = dir.approval.to_string();
    assert_eq!(
        dir.cairn(&["cancel", &run]).ok(),
        format!("run {run} cancelled\n")
    );
    assert_eq!(ids(&dir, &["--status", "cancelled"]), [dir.approval.0]);
    let questions = dir.cairn(&["questions", "--json"]).json();
    assert_eq!(questions.as_array().unwrap().len(), 1);
    // Idempotent, and the same in JSON.
    let again = dir.cairn(&["cancel", &run, "--json"]).json();
    assert_eq!(again, json!({"run": dir.approval.0, "status": "cancelled"}));
    let refused = dir.cairn(&["answer", &run, "yes"]).error(1);
    assert_eq!(
        refused,
        format!("error: run {run} is not waiting for an answer (status: cancelled)")
    );
    let watched = dir.cairn(&["watch", &run]);
    assert_eq!(watched.code, 1, "{watched:#?}");
    assert_eq!(
        watched.stderr,
        format!("error: run {run} ended cancelled\n")
    );

    let completed = dir.completed.to_string();
    assert_eq!(
        dir.cairn(&["cancel", &completed]).error(1),
        format!("error: run {completed} cannot be cancelled: it has finished (status: completed)")
    );
    assert_eq!(
        dir.cairn(&["cancel", "99"]).error(1),
        "error: there is no run 99"
    );
}

#[test]
fn a_run_paused_from_the_cli_holds_until_unpaused_then_finishes() {
    let dir = DataDir::new();
    let run = dir.choice.to_string();
    assert_eq!(
        dir.cairn(&["pause", &run]).ok(),
        format!("run {run} paused; `cairn unpause {run}` lets it go on\n")
    );
    assert_eq!(ids(&dir, &["--status", "paused"]), [dir.choice.0]);
    // A paused run's question can still be answered; the answer takes effect on unpause.
    dir.cairn(&["answer", &run, "us"]).ok();
    block_on(async {
        let runtime = runtime(&dir.path);
        runtime.shutdown().await;
    });
    assert_eq!(ids(&dir, &["--status", "paused"]), [dir.choice.0]);

    let unpaused = dir.cairn(&["unpause", &run]).ok();
    assert!(
        unpaused.starts_with(&format!("run {run} unpaused (")),
        "{unpaused}"
    );
    assert!(
        unpaused.ends_with("; the program that runs `pick_region` takes it up\n"),
        "{unpaused}"
    );
    let output = block_on(async {
        let runtime = runtime(&dir.path);
        let output = runtime.client().wait(pick_region, dir.choice).await;
        runtime.shutdown().await;
        output
    });
    assert_eq!(output.unwrap(), "us");

    assert_eq!(
        dir.cairn(&["unpause", &run]).error(1),
        format!("error: run {run} is not paused (status: completed)")
    );
    let completed = dir.completed.to_string();
    assert_eq!(
        dir.cairn(&["pause", &completed]).error(1),
        format!("error: run {completed} cannot be paused: it has finished (status: completed)")
    );
}

#[test]
fn purge_deletes_the_finished_runs_a_filter_selects_and_leaves_the_rest() {
    let dir = DataDir::new();
    // None finished an hour ago.
    let dry = dir
        .cairn(&["purge", "--finished-before", "1h", "--dry-run"])
        .ok();
    assert_eq!(dry, "0 finished runs would be purged\n");
    let none = dir
        .cairn(&["purge", "--finished-before", "1h", "--json"])
        .json();
    assert_eq!(none, json!({"purged": 0}));

    // The failed run, by status; then every finished one (the completed run) but the
    // waiting ones, which are never purged.
    let until_now = ["purge", "--finished-before", "2099-01-01"];
    let failed = [
        until_now.as_slice(),
        &["--status", "failed", "--dry-run", "--json"],
    ]
    .concat();
    assert_eq!(dir.cairn(&failed).json(), json!({"would_purge": 1}));
    let failed = [until_now.as_slice(), &["--status", "failed"]].concat();
    assert_eq!(dir.cairn(&failed).ok(), "1 finished runs purged\n");
    assert_eq!(
        ids(&dir, &[]),
        [dir.completed.0, dir.approval.0, dir.choice.0]
    );
    assert_eq!(dir.cairn(&until_now).ok(), "1 finished runs purged\n");
    assert_eq!(ids(&dir, &[]), [dir.approval.0, dir.choice.0]);
    let completed = dir.completed.to_string();
    assert_eq!(
        dir.cairn(&["show", &completed]).error(1),
        format!("error: there is no run {completed}")
    );
    // The waiting runs are intact.
    let questions = dir.cairn(&["questions", "--json"]).json();
    assert_eq!(questions.as_array().unwrap().len(), 2);

    let missing = dir.cairn(&["purge"]).error(2);
    assert!(missing.contains("--finished-before <TIME>"), "{missing}");
}

async fn quick(n: u64) -> Result<u64, String> {
    Ok(n + 1)
}

/// Returns once the file `gate` exists: holds the run mid-step until the test lets it go.
async fn held(gate: String) -> Result<String, String> {
    while !std::path::Path::new(&gate).exists() {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    Ok(gate)
}

/// One quick step (so the run is running), then one held until its gate opens.
#[workflow]
async fn hold(ctx: &mut Context, gate: String) -> Result<String, String> {
    ctx.task(quick, 1).await?;
    let gate = ctx.task(held, gate).await?;
    Ok(gate)
}

#[test]
fn a_running_run_is_asked_to_cancel_or_pause_and_stops_at_its_next_commit() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("cairn-data");
    let dir = path.to_str().unwrap().to_owned();
    let gate = |name: &str| temp.path().join(name).to_str().unwrap().to_owned();
    let (to_cancel, to_pause) = (gate("cancel-gate"), gate("pause-gate"));
    block_on(async {
        let runtime = Runtime::builder()
            .path(&path)
            .register(hold)
            .start()
            .unwrap();
        let client = runtime.client();
        let cancelled = client.start(hold, to_cancel.clone()).await.unwrap();
        let paused = client.start(hold, to_pause.clone()).await.unwrap();
        // Running once its quick step is committed (a watch sees each commit).
        for run in [cancelled, paused] {
            let mut watch = client.watch(run).unwrap();
            while let Some(update) = watch.next().await {
                if update.unwrap().transitions >= 1 {
                    break;
                }
            }
            assert_eq!(client.status(run).unwrap().status, Status::Running);
        }
        // The CLI, a second process, while this one runs both runs mid-step.
        let cli = |args: Vec<String>| {
            tokio::task::spawn_blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                cairn(&args)
            })
        };
        let said = cli(vec![
            "--dir".into(),
            dir.clone(),
            "cancel".into(),
            cancelled.to_string(),
        ]);
        assert_eq!(
            said.await.unwrap().ok(),
            format!(
                "run {cancelled} asked to cancel: it is running, and ends cancelled at its next commit (the step in flight finishes, its result dropped)\n"
            )
        );
        let said = cli(vec![
            "--dir".into(),
            dir.clone(),
            "pause".into(),
            paused.to_string(),
        ]);
        assert_eq!(
            said.await.unwrap().ok(),
            format!(
                "run {paused} asked to pause: it is running, and holds once its step in flight is committed\n"
            )
        );
        std::fs::write(&to_cancel, "").unwrap();
        std::fs::write(&to_pause, "").unwrap();
        let error = client.wait(hold, cancelled).await.unwrap_err();
        assert!(matches!(error, Error::Cancelled { .. }), "{error}");
        let status = client
            .wait_for_status(paused, Status::Paused)
            .await
            .unwrap();
        assert_eq!((status.status, status.transitions), (Status::Paused, 2));
        runtime.shutdown().await;
    });
}
