//! `cairn runs`, `cairn show` and `cairn questions`: the table people read and the JSON
//! scripts parse, on the fixture's four runs.

use serde_json::json;

use crate::fixture::DataDir;

/// The cells of a table's lines, split on runs of two or more spaces.
fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|line| {
            line.split("  ")
                .map(str::trim)
                .filter(|cell| !cell.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

#[test]
fn runs_are_a_table_in_the_order_they_were_created() {
    let dir = DataDir::new();
    let table = rows(&dir.cairn(&["runs"]).ok());
    assert_eq!(
        table[0],
        [
            "RUN",
            "WORKFLOW",
            "STATUS",
            "STATE",
            "STEP",
            "TRANSITIONS",
            "ERROR"
        ]
    );
    let ids: Vec<String> = table[1..].iter().map(|row| row[0].clone()).collect();
    let expected = [dir.completed, dir.approval, dir.choice, dir.failed].map(|r| r.to_string());
    assert_eq!(ids, expected);
    assert_eq!(
        table[1][1..],
        ["greet", "completed", "Shout", "shout", "1", "-"]
    );
    assert_eq!(table[2][1..3], ["deploy", "waiting"]);
    assert_eq!(
        table[3][1..],
        ["pick_region", "waiting", "Start", "-", "0", "-"]
    );
    let failed = &table[4];
    assert_eq!(failed[1..3], ["checkout", "failed"]);
    assert_eq!(failed.last().unwrap(), "card declined");
}

/// The run ids of a `cairn runs --json` page, and its cursor.
fn page(value: &serde_json::Value) -> (Vec<u64>, Option<String>) {
    let runs = value["runs"].as_array().unwrap();
    let ids = runs.iter().map(|run| run["id"].as_u64().unwrap()).collect();
    (ids, value["next"].as_str().map(str::to_owned))
}

#[test]
fn runs_as_json_with_filters() {
    let dir = DataDir::new();
    let all = dir.cairn(&["runs", "--json"]).json();
    assert_eq!(page(&all).0.len(), 4);
    assert_eq!(all["next"], json!(null));
    // When it was created and last changed (ms since the epoch), then the rest exactly.
    let mut first = all["runs"][0].clone();
    let times = first.as_object_mut().unwrap();
    let created = times.remove("created_at_ms").unwrap().as_u64().unwrap();
    let updated = times.remove("updated_at_ms").unwrap().as_u64().unwrap();
    assert!(created > 1_600_000_000_000 && updated >= created);
    assert_eq!(
        first,
        json!({
            "id": dir.completed.0,
            "workflow": "greet",
            "status": "completed",
            "state": "Shout",
            "step": "shout",
            "transitions": 1,
            "error": null,
        })
    );

    let ids = |args: &[&str]| {
        let mut full = vec!["runs", "--json"];
        full.extend_from_slice(args);
        page(&dir.cairn(&full).json()).0
    };
    assert_eq!(
        ids(&["--status", "waiting"]),
        [dir.approval.0, dir.choice.0]
    );
    assert_eq!(ids(&["--workflow", "deploy"]), [dir.approval.0]);
    assert_eq!(
        ids(&["--status", "waiting", "--workflow", "greet"]),
        [0u64; 0]
    );
    assert_eq!(ids(&["--status", "running"]), [0u64; 0]);
    // Times: every run was made within the last hour, two of them finished.
    assert_eq!(ids(&["--created-since", "1h"]).len(), 4);
    assert_eq!(ids(&["--created-before", "1h"]), [0u64; 0]);
    assert_eq!(ids(&["--created-since", "2000-01-01T00:00:00Z"]).len(), 4);
    assert_eq!(
        ids(&["--finished-since", "1h"]),
        [dir.completed.0, dir.failed.0]
    );
    assert_eq!(ids(&["--finished-before", "1h"]), [0u64; 0]);
}

#[test]
fn runs_come_a_page_at_a_time() {
    let dir = DataDir::new();
    let first = dir.cairn(&["runs", "--limit", "3", "--json"]).json();
    let (ids, next) = page(&first);
    assert_eq!(ids, [dir.completed.0, dir.approval.0, dir.choice.0]);
    let next = next.expect("a cursor to the next page");
    let second = dir
        .cairn(&["runs", "--limit", "3", "--after", &next, "--json"])
        .json();
    assert_eq!(page(&second), (vec![dir.failed.0], None));

    // For people, the next page is told on standard error: the table stays a table.
    let limited = dir.cairn(&["runs", "--limit", "1"]);
    assert_eq!(limited.code, 0);
    assert_eq!(limited.stdout.lines().count(), 2, "{limited:#?}");
    assert!(
        limited
            .stderr
            .starts_with("more runs: the next page is --after "),
        "{limited:#?}"
    );
}

#[test]
fn show_a_completed_run_with_its_output_state_and_history() {
    let dir = DataDir::new();
    let run = dir.completed.to_string();
    let text = dir.cairn(&["show", &run]).ok();
    for line in [
        format!("run          {run}"),
        "workflow     greet".to_owned(),
        "status       completed".to_owned(),
        "step         shout".to_owned(),
        "transitions  1".to_owned(),
        "output       \"HELLO, ADA!\"".to_owned(),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in\n{text}"
        );
    }
    assert!(
        text.contains(
            "key-value state\n{\n  \"greeting\": \"HELLO, ADA!\",\n  \"name\": \"ada\"\n}\n"
        ),
        "{text}"
    );
    let history = text.split("\nhistory\n").nth(1).unwrap();
    let history = rows(history);
    assert_eq!(
        history[0],
        [
            "#", "STATE", "STEP", "STARTED", "DURATION", "ATTEMPTS", "OUTCOME"
        ]
    );
    assert_eq!(history[1][2], "shout");
    assert_eq!(history[1][5], "1");
    assert_eq!(history[1][6], "committed");
    assert_eq!(history.last().unwrap()[1], "Completed");
    assert_eq!(history.last().unwrap().last().unwrap(), "completed");

    let shown = dir.cairn(&["show", &run, "--json"]).json();
    assert_eq!(shown["status"], "completed");
    assert_eq!(shown["output"], "HELLO, ADA!");
    assert_eq!(
        shown["kv"],
        json!({"name": "ada", "greeting": "HELLO, ADA!"})
    );
    assert_eq!(shown["question"], json!(null));
    let history = shown["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["step"], "shout");
    assert_eq!(history[0]["attempts"], 1);
    assert_eq!(history[1]["outcome"], "completed");
    assert!(shown["started_at_ms"].as_u64().unwrap() <= shown["updated_at_ms"].as_u64().unwrap());
}

#[test]
fn show_a_waiting_run_with_its_question_and_a_failed_one_with_its_error() {
    let dir = DataDir::new();
    let text = dir.cairn(&["show", &dir.approval.to_string()]).ok();
    assert!(text.contains("status       waiting\n"), "{text}");
    assert!(
        text.contains("question     Deploy v2.1 to prod? (approval)\n"),
        "{text}"
    );
    assert!(text.contains("answers      approve | reject\n"), "{text}");
    let shown = dir
        .cairn(&["show", &dir.approval.to_string(), "--json"])
        .json();
    assert_eq!(shown["question"]["kind"], "approval");
    assert_eq!(shown["question"]["text"], "Deploy v2.1 to prod?");
    assert_eq!(shown["kv"], json!({"version": "v2.1"}));
    assert_eq!(shown["transitions"], 1);

    let text = dir.cairn(&["show", &dir.failed.to_string()]).ok();
    assert!(text.contains("status       failed\n"), "{text}");
    assert!(text.contains("error        card declined\n"), "{text}");
    assert!(text.contains("failed: card declined"), "{text}");
    let shown = dir
        .cairn(&["show", &dir.failed.to_string(), "--json"])
        .json();
    assert_eq!(shown["error"], "card declined");
    assert_eq!(shown["kv"], json!({"cart": "3 books"}));
    let history = shown["history"].as_array().unwrap();
    assert_eq!(
        history.last().unwrap()["outcome"],
        json!({"failed": {"message": "card declined"}})
    );
}

#[test]
fn questions_lists_what_each_waiting_run_asks() {
    let dir = DataDir::new();
    let table = rows(&dir.cairn(&["questions"]).ok());
    assert_eq!(
        table[0],
        [
            "RUN", "WORKFLOW", "KIND", "ASKED", "DEADLINE", "QUESTION", "ANSWERS"
        ]
    );
    assert_eq!(table.len(), 3);
    let approval = &table[1];
    assert_eq!(approval[0], dir.approval.to_string());
    assert_eq!(approval[1..3], ["deploy", "approval"]);
    assert_eq!(
        approval[4..],
        ["-", "Deploy v2.1 to prod?", "approve | reject"]
    );
    let choice = &table[2];
    assert_eq!(choice[1..3], ["pick_region", "choice"]);
    assert_eq!(choice[5..], ["Where should api run?", "eu | us | skip"]);

    let questions = dir.cairn(&["questions", "--json"]).json();
    let questions = questions.as_array().unwrap();
    assert_eq!(questions.len(), 2);
    assert_eq!(questions[1]["run"], dir.choice.0);
    assert_eq!(questions[1]["kind"], "choice");
    assert_eq!(
        questions[1]["options"],
        json!([{"id": "eu", "label": "Europe"}, {"id": "us", "label": "United States"}])
    );
    assert_eq!(questions[1]["allows_skip"], true);
    assert_eq!(questions[1]["deadline_ms"], json!(null));
}

/// `cairn counts`: how many runs each status has, from the store's counters (no run read), in
/// the order of the statuses, with the total; the fixture has one completed, one failed and
/// two waiting runs.
#[test]
fn counts_are_per_status_with_the_total() {
    let dir = DataDir::new();
    let table = rows(&dir.cairn(&["counts"]).ok());
    assert_eq!(
        table,
        [
            vec!["STATUS", "RUNS"],
            vec!["completed", "1"],
            vec!["failed", "1"],
            vec!["waiting", "2"],
            vec!["total", "4"],
        ]
    );
    let counts = dir.cairn(&["counts", "--json"]).json();
    assert_eq!(
        counts,
        json!({"counts": {"waiting": 2, "completed": 1, "failed": 1}, "total": 4})
    );
}
