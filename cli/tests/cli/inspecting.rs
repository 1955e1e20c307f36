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
fn runs_are_a_table_newest_first() {
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
    let expected = [dir.failed, dir.choice, dir.approval, dir.completed].map(|r| r.to_string());
    assert_eq!(ids, expected);
    let failed = &table[1];
    assert_eq!(failed[1..3], ["checkout", "failed"]);
    assert_eq!(failed.last().unwrap(), "card declined");
    assert_eq!(table[3][1..3], ["deploy", "waiting"]);
    assert_eq!(table[4][1..3], ["greet", "completed"]);
}

#[test]
fn runs_as_json_with_filters_and_a_limit() {
    let dir = DataDir::new();
    let all = dir.cairn(&["runs", "--json"]).json();
    assert_eq!(all.as_array().unwrap().len(), 4);
    assert_eq!(
        all[3],
        json!({
            "id": dir.completed.0,
            "workflow": "greet",
            "status": "completed",
            "state": all[3]["state"],
            "step": "shout",
            "transitions": 1,
            "error": null,
        })
    );

    let ids = |value: serde_json::Value| -> Vec<u64> {
        let runs = value.as_array().unwrap();
        runs.iter().map(|run| run["id"].as_u64().unwrap()).collect()
    };
    let waiting = dir.cairn(&["runs", "--status", "waiting", "--json"]).json();
    assert_eq!(ids(waiting), [dir.choice.0, dir.approval.0]);
    let deploys = dir
        .cairn(&["runs", "--workflow", "deploy", "--json"])
        .json();
    assert_eq!(ids(deploys), [dir.approval.0]);
    let none = dir.cairn(&["runs", "--status", "running", "--json"]).json();
    assert_eq!(none, json!([]));

    // A limit keeps the newest; the note that more match goes to standard error, so that the
    // JSON (or the table) on standard output stays whole.
    let limited = dir.cairn(&["runs", "--limit", "1", "--json"]);
    assert_eq!(limited.code, 0);
    assert_eq!(
        limited.stderr,
        "1 of 4 matching runs shown; --limit 4 shows them all\n"
    );
    let limited: serde_json::Value = serde_json::from_str(&limited.stdout).unwrap();
    assert_eq!(ids(limited), [dir.failed.0]);
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
