//! A durable research pipeline: fetch papers on a topic, analyze each one, write a summary.
//!
//! ```text
//! cargo run --example research_pipeline [DATA_DIR]
//! cargo run --example research_pipeline -- --graph    # the state machine, as Mermaid
//! ```
//!
//! Every step takes about a second. Stop the program in the middle (Ctrl-C, or `kill -9`) and run
//! it again: it resumes the unfinished run from its last committed state, and the steps that had
//! completed do not run again. State is kept in LMDB under `DATA_DIR`, else `$CAIRN_DATA_DIR`,
//! else `./cairn-data`; delete that directory to start over.

use std::io;
use std::time::Duration;

use cairn::{Context, Flow, Runtime, Workflow, workflow};
use serde::{Deserialize, Serialize};

/// What the pipeline produces.
#[derive(Debug, Serialize, Deserialize)]
pub struct Report {
    topic: String,
    summary: String,
}

/// Stands in for real work (an HTTP call, a model call): slow enough to interrupt by hand.
async fn work(what: String) {
    println!("running {what}");
    tokio::time::sleep(Duration::from_millis(800)).await;
}

async fn fetch_papers(topic: String) -> io::Result<Vec<String>> {
    work(format!("fetch_papers({topic:?})")).await;
    Ok((1..=4).map(|i| format!("{topic}, part {i}")).collect())
}

async fn analyze(paper: String) -> io::Result<String> {
    work(format!("analyze({paper:?})")).await;
    Ok(format!("{paper}: {} key findings", paper.len() % 5 + 1))
}

async fn synthesize(topic: String, notes: Vec<String>) -> io::Result<String> {
    work(format!("synthesize({} notes)", notes.len())).await;
    Ok(format!("{topic}: {}", notes.join("; ")))
}

#[workflow]
pub async fn research_pipeline(ctx: &mut Context, topic: String) -> io::Result<Report> {
    let papers = ctx.task(fetch_papers, topic.clone()).await?;
    let mut notes = Vec::new();
    for paper in papers {
        let note = ctx.task(analyze, paper).await?;
        notes.push(note);
    }
    let summary = ctx
        .step("synthesize", synthesize(topic.clone(), notes))
        .await?;
    Ok(Report { topic, summary })
}

// One thread is plenty, and it keeps a resumed run from printing before `main` does: run tasks
// only get to run at `main`'s first `.await`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args_os().nth(1);
    // `--graph`: print the workflow's state machine as a Mermaid diagram, and exit.
    if arg.as_deref() == Some("--graph".as_ref()) {
        print!("{}", research_pipeline::graph().to_mermaid());
        return Ok(());
    }
    let mut builder = Runtime::builder();
    if let Some(dir) = arg {
        builder = builder.path(dir);
    }
    // `start` resumes every unfinished run of a registered workflow.
    let runtime = builder
        .register(research_pipeline)
        .on_transition(|t| {
            if let Some(step) = t.step {
                println!("  committed {step} -> state {}", t.state);
            }
            Flow::Continue
        })
        .start()?;
    let client = runtime.client();

    let unfinished = client
        .list(None)?
        .into_iter()
        .find(|run| run.workflow == "research_pipeline" && !run.status.is_finished());
    let run = match unfinished {
        Some(run) => {
            println!(
                "resuming run {} from state {} (completed steps are not run again)",
                run.id, run.state
            );
            run.id
        }
        None => {
            let run = client
                .start(research_pipeline, "durable execution".to_owned())
                .await?;
            println!("started run {run}");
            run
        }
    };

    let report = client.wait(research_pipeline, run).await?;
    println!("run {run} completed:\n{report:#?}");
    runtime.shutdown().await;
    Ok(())
}
