//! Every way the CLI is refused: one line on standard error naming the problem, nothing on
//! standard output, exit code 1 for a failed operation and 2 for a wrong command line. A data
//! directory that is not there is never created.

use std::process::Command;

use crate::fixture::{DataDir, cairn};

#[test]
fn a_missing_data_directory_is_named_and_not_created() {
    let temp = tempfile::tempdir().unwrap();
    let missing = temp.path().join("nowhere");
    let missing_arg = missing.to_str().unwrap();
    for args in [
        vec!["runs"],
        vec!["show", "1"],
        vec!["questions"],
        vec!["answer", "1", "yes"],
        vec!["resume", "1"],
        vec!["watch", "1"],
        vec!["graph", "deploy"],
        vec!["cancel", "1"],
        vec!["pause", "1"],
        vec!["unpause", "1"],
        vec!["purge", "--finished-before", "1d"],
    ] {
        let mut full = vec!["--dir", missing_arg];
        full.extend(args);
        let error = cairn(&full).error(1);
        assert_eq!(
            error,
            format!(
                "error: no data directory at {missing_arg} (give one with --dir or $CAIRN_DATA_DIR)"
            )
        );
    }
    assert!(!missing.exists());

    // A directory that holds no store is not made into one either.
    let empty = temp.path().to_str().unwrap();
    let error = cairn(&["runs", "--dir", empty]).error(1);
    assert_eq!(
        error,
        format!("error: {empty} is not a cairn data directory: it has no data.mdb")
    );
    assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0);
}

#[test]
fn the_default_directory_is_cairn_data_dir_else_cairn_data() {
    let temp = tempfile::tempdir().unwrap();
    let run = |env: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
        command.arg("runs").current_dir(temp.path());
        match env {
            Some(dir) => command.env("CAIRN_DATA_DIR", dir),
            None => command.env_remove("CAIRN_DATA_DIR"),
        };
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(1));
        String::from_utf8(output.stderr).unwrap()
    };
    assert!(run(None).starts_with("error: no data directory at cairn-data "));
    assert!(run(Some("from-env")).starts_with("error: no data directory at from-env "));

    // And the directory found that way is read.
    let dir = DataDir::new();
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["runs", "--json"])
        .env("CAIRN_DATA_DIR", &dir.path)
        .output()
        .unwrap();
    assert!(output.status.success());
    let runs: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(runs["runs"].as_array().unwrap().len(), 4);
}

#[test]
fn an_unknown_run_is_named() {
    let dir = DataDir::new();
    for args in [
        ["show", "99"].as_slice(),
        &["show", "99", "--json"],
        &["answer", "99", "yes"],
        &["resume", "99"],
        &["watch", "99"],
    ] {
        assert_eq!(
            dir.cairn(args).error(1),
            "error: there is no run 99",
            "{args:?}"
        );
    }
}

#[test]
fn a_run_that_cannot_be_resumed_says_why() {
    let dir = DataDir::new();
    let run = dir.completed.to_string();
    assert_eq!(
        dir.cairn(&["resume", &run]).error(1),
        format!("error: run {run} cannot be resumed: only a failed run can (status: completed)")
    );
}

#[test]
fn a_wrong_command_line_is_one_line_and_exit_code_2() {
    let dir = DataDir::new();
    let cases: [(&[&str], &str); 9] = [
        (&[], "'cairn' requires a subcommand"),
        (&["frobnicate"], "unrecognized subcommand 'frobnicate'"),
        (
            &["run"],
            "unrecognized subcommand 'run'; tip: a similar subcommand exists: 'runs'",
        ),
        (&["show", "abc"], "a run id is a whole number, such as 42"),
        (&["show"], "<RUN>"),
        (&["answer", "2"], "<ANSWER>"),
        (
            &["runs", "--status", "done"],
            "expected one of: queued, pending, running, waiting, paused, completed, failed, cancelled, corrupt",
        ),
        (
            &["runs", "--finished-before", "last week"],
            "`last week` is not a time: write a UTC date and time (2026-11-29, 2026-11-29T16:52:10Z) or how long ago (90s, 15m, 2h, 7d)",
        ),
        (
            &["runs", "--after", "x"],
            "invalid value 'x' for '--after <CURSOR>'",
        ),
    ];
    for (args, expected) in cases {
        let error = dir.cairn(args).error(2);
        assert!(error.contains(expected), "{args:?}: {error}");
        assert!(error.ends_with("(see `cairn --help`)"), "{args:?}: {error}");
    }
}

#[test]
fn help_and_version_go_to_standard_output_and_succeed() {
    let help = cairn(&["--help"]).ok();
    assert!(help.contains("Usage: cairn [OPTIONS] <COMMAND>"), "{help}");
    for command in [
        "runs",
        "show",
        "questions",
        "answer",
        "resume",
        "watch",
        "graph",
        "cancel",
        "pause",
        "unpause",
        "purge",
    ] {
        assert!(
            help.contains(&format!("\n  {command} ")),
            "{command}: {help}"
        );
    }
    let answer_help = cairn(&["answer", "--help"]).ok();
    assert!(
        answer_help.contains("approve (yes, y) or reject (no, n)"),
        "{answer_help}"
    );
    let version = cairn(&["--version"]).ok();
    assert_eq!(version, format!("cairn {}\n", env!("CARGO_PKG_VERSION")));
}
