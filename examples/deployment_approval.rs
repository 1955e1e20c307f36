//! Deployment with a person in the loop: validate the changes, ask for approval, then deploy
//! or cancel. The question waits on disk, so the program can exit while it waits and the
//! answer can come from another process, days later.
//!
//! ```text
//! cargo run --example deployment_approval -- start [CHANGES]   # prints the run id and the question, exits
//! cargo run --example deployment_approval -- pending           # lists the questions waiting for an answer
//! cargo run --example deployment_approval -- answer RUN approve   # or reject (from any process)
//! cargo run --example deployment_approval -- resume            # finishes the answered runs
//! ```
//!
//! `start` and `resume` run the workflows (and resume any unfinished run, as every runtime
//! does); `pending` and `answer` open the store client-only and run nothing. State is kept in
//! LMDB under `$CAIRN_DATA_DIR`, else `./cairn-data`; delete that directory to start over.

use std::time::Duration;

use cairn::{Answer, Client, Context, Question, RunId, Runtime, Status, workflow};

/// Stands in for a CI check of the change set.
async fn validate_changes(changes: String) -> Result<String, String> {
    if changes.trim().is_empty() {
        return Err("nothing to deploy".to_owned());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(format!("{changes} (3 files, tests green)"))
}

/// Stands in for the deployment itself.
async fn deploy(plan: String) -> Result<String, String> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(format!("deployed {plan}"))
}

#[workflow]
pub async fn deployment_approval(ctx: &mut Context, changes: String) -> Result<String, String> {
    let plan = ctx.task(validate_changes, changes).await?;
    // Nobody answering within a week counts as a rejection.
    let question = Question::approval(format!("Deploy {plan} to prod?"))
        .timeout(Duration::from_secs(7 * 24 * 3600), Answer::Rejected);
    let answer = ctx.wait_for_user(question).await?;
    if !answer.is_approved() {
        return Ok(format!("cancelled ({answer})"));
    }
    let done = ctx.task(deploy, plan).await?;
    Ok(done)
}

fn usage() -> ! {
    eprintln!(
        "usage: deployment_approval start [CHANGES] | pending | answer RUN approve|reject | resume"
    );
    std::process::exit(2)
}

fn data_dir() -> std::path::PathBuf {
    std::env::var_os("CAIRN_DATA_DIR").map_or_else(|| "cairn-data".into(), Into::into)
}

fn runtime() -> Result<Runtime, cairn::Error> {
    Runtime::builder()
        .path(data_dir())
        .register(deployment_approval)
        .start()
}

/// Prints the question `run` waits on; `false` if it waits on none.
fn print_question(client: &Client, run: RunId) -> Result<bool, cairn::Error> {
    let Some(pending) = client.question(run)? else {
        return Ok(false);
    };
    let options: Vec<&str> = pending
        .question
        .options()
        .iter()
        .map(|o| o.id.as_str())
        .collect();
    println!(
        "run {run} asks: {} [{}]",
        pending.question.prompt(),
        options.join("/")
    );
    println!("answer with: cargo run --example deployment_approval -- answer {run} approve");
    Ok(true)
}

/// Waits until `run` finishes or waits for an answer, and says which.
async fn report(client: &Client, run: RunId) -> Result<(), cairn::Error> {
    let status = client.wait_for_status(run, Status::Waiting).await?;
    if status.status == Status::Waiting && print_question(client, run)? {
        return Ok(());
    }
    // Finished, or answered and on its way.
    match client.wait(deployment_approval, run).await {
        Ok(output) => println!("run {run}: {output}"),
        Err(error) => println!("run {run}: {error}"),
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), cairn::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["start", changes @ ..] => {
            let changes = if changes.is_empty() {
                "v2".to_owned()
            } else {
                changes.join(" ")
            };
            let runtime = runtime()?;
            let client = runtime.client();
            let run = client.start(deployment_approval, changes).await?;
            println!("started run {run}");
            report(&client, run).await?;
            runtime.shutdown().await;
        }
        ["pending"] => {
            let client = Client::open(data_dir())?;
            let pending = client.pending_questions()?;
            if pending.is_empty() {
                println!("no question is waiting for an answer");
            }
            for question in pending {
                print_question(&client, question.run)?;
            }
        }
        ["answer", run, answer] => {
            let run: RunId = run.parse().unwrap_or_else(|_| usage());
            let client = Client::open(data_dir())?;
            let answer = match client.question(run)? {
                Some(pending) => Answer::parse_for(&pending.question, answer),
                // Not waiting: `answer` says why, with a typed error.
                None => Answer::Custom((*answer).to_owned()),
            };
            match client.answer(run, answer).await {
                Ok(answer) => println!("run {run}: {answer}; `resume` finishes it"),
                Err(error) => {
                    eprintln!("{error}");
                    std::process::exit(1);
                }
            }
        }
        ["resume"] => {
            // Starting the runtime resumes every unfinished run; answered ones go on.
            let runtime = runtime()?;
            let client = runtime.client();
            let runs = client.list(None)?;
            for run in runs {
                report(&client, run.id).await?;
            }
            runtime.shutdown().await;
        }
        _ => usage(),
    }
    Ok(())
}
