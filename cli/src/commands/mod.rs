//! One module per command. Each takes a client on the data directory and what the command
//! line gave it, and writes its result: a table or text for people, JSON with `--json`.

mod answer;
mod control;
mod counts;
mod graph;
mod purge;
mod questions;
mod resume;
mod runs;
mod send;
mod show;
mod ui;
mod watch;

use std::path::Path;

use crate::args::Command;
use crate::data_dir;
use crate::failure::Failure;

/// Runs `command` on the data directory `dir`.
pub async fn run(command: Command, dir: &Path, json: bool) -> Result<(), Failure> {
    let client = data_dir::open(dir)?;
    match command {
        Command::Runs(filters) => runs::runs(&client, &filters, json),
        Command::Show { run } => show::show(&client, run, json),
        Command::Counts => counts::counts(&client, json),
        Command::Questions => questions::questions(&client, json),
        Command::Answer { run, answer } => answer::answer(&client, run, &answer, json).await,
        Command::Send { run, name, payload } => {
            send::send(&client, run, &name, &payload, json).await
        }
        Command::Resume { run } => resume::resume(&client, run, json).await,
        Command::Watch { run } => watch::watch(&client, run, json).await,
        Command::Graph(what) => graph::graph(&client, &what, json),
        Command::Cancel { run } => control::cancel(&client, run, json).await,
        Command::Pause { run } => control::pause(&client, run, json).await,
        Command::Unpause { run } => control::unpause(&client, run, json).await,
        Command::Purge(what) => purge::purge(&client, &what, json).await,
        Command::Ui(how) => ui::ui(client, &how).await,
    }
}
