//! `cairn`: inspect and operate the runs of a cairn data directory from a shell.
//!
//! The tool opens the directory as a client only ([`cairn::Client::open`]): it never runs a
//! workflow, so it can be used next to the program that does, or on a copy of its directory.
//! Every failure is one line on standard error and an exit code (see [`failure`]).

mod args;
mod commands;
mod data_dir;
mod failure;
mod history_view;
mod output;
mod question_view;
mod table;
mod time;

use std::process::ExitCode;

use clap::Parser;

use crate::args::Cli;
use crate::failure::Failure;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // `--help` and `--version` are "errors" that print to standard output and succeed.
        Err(error) if !error.use_stderr() => {
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("error: {}", failure::one_line(&error));
            return ExitCode::from(Failure::USAGE_EXIT);
        }
    };
    let dir = data_dir::resolve(cli.global.dir.as_deref());
    // One thread: a client reads and commits, it runs no workflow.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime on the current thread starts");
    match runtime.block_on(commands::run(cli.command, &dir, cli.global.json)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            Failure::exit_code()
        }
    }
}
