//! Durable document processing: fan out over a list of documents, a few at a time, and keep
//! `processed` / `total` in the run's durable state so that anyone holding a client can show
//! progress.
//!
//! ```text
//! cargo run --example document_processing [DATA_DIR]
//! ```
//!
//! Documents are processed in batches of [`CONCURRENCY`] branches of `ctx.parallel(..)`; each
//! branch's result is committed as soon as it completes. Kill the program (`kill -9` works) and
//! run it again: it resumes the run, the documents already processed are not processed again,
//! and the progress it prints continues from the stored count. State is kept in LMDB under
//! `DATA_DIR`, else `$CAIRN_DATA_DIR`, else `./cairn-data`; delete that directory to start over.

use std::time::Duration;

use cairn::{Context, Runtime, Status, step, workflow};
use serde::{Deserialize, Serialize};

/// How many documents are processed at once.
const CONCURRENCY: usize = 4;

/// What processing one document yields.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    name: String,
    words: usize,
}

/// Stands in for real work (OCR, a model call): slow enough to watch, and to interrupt.
async fn process(name: String, text: String) -> Result<Summary, String> {
    let millis = 150 + 40 * (name.len() as u64 % 5);
    tokio::time::sleep(Duration::from_millis(millis)).await;
    Ok(Summary {
        words: text.split_whitespace().count(),
        name,
    })
}

#[workflow]
pub async fn document_processing(
    ctx: &mut Context,
    documents: Vec<(String, String)>,
) -> Result<Vec<Summary>, String> {
    ctx.state().set("total", &documents.len())?;
    ctx.state().set("processed", &0usize)?;
    let batches: Vec<Vec<(String, String)>> =
        documents.chunks(CONCURRENCY).map(<[_]>::to_vec).collect();
    let mut summaries = Vec::new();
    for batch in batches {
        let branches: Vec<_> = batch
            .into_iter()
            .map(|(name, text)| step(name.clone(), process(name, text)))
            .collect();
        let done = ctx.parallel(branches).limit(CONCURRENCY).await?;
        summaries.extend(done);
        // Committed with the next transition (or the run's completion), together with the
        // position it describes.
        ctx.state().set("processed", &summaries.len())?;
    }
    Ok(summaries)
}

fn documents() -> Vec<(String, String)> {
    (1..=18)
        .map(|i| {
            let text = "lorem ipsum dolor sit amet ".repeat(i % 7 + 1);
            (format!("doc-{i:02}.txt"), text)
        })
        .collect()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut builder = Runtime::builder();
    if let Some(dir) = std::env::args_os().nth(1) {
        builder = builder.path(dir);
    }
    let runtime = builder.register(document_processing).start()?;
    let client = runtime.client();

    let unfinished = client
        .list(None)?
        .into_iter()
        .find(|run| run.workflow == "document_processing" && !run.status.is_finished());
    let run = match unfinished {
        Some(run) => {
            println!(
                "resuming run {} (processed documents are not processed again)",
                run.id
            );
            run.id
        }
        None => {
            let run = client.start(document_processing, documents()).await?;
            println!("started run {run}");
            run
        }
    };

    // Progress, read through the client while the run goes on.
    let mut shown = None;
    loop {
        let state = client.state(run)?;
        let processed: usize = state.get("processed")?.unwrap_or(0);
        let total: usize = state.get("total")?.unwrap_or(0);
        if shown != Some(processed) && total > 0 {
            println!("progress: {processed}/{total}  {}", bar(processed, total));
            shown = Some(processed);
        }
        if client.status(run)?.status.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let summaries = client.wait(document_processing, run).await?;
    let words: usize = summaries.iter().map(|s| s.words).sum();
    println!(
        "run {run} {}: {} documents, {words} words; state: {}",
        Status::Completed,
        summaries.len(),
        client.state(run)?.to_json()
    );
    runtime.shutdown().await;
    Ok(())
}

fn bar(done: usize, total: usize) -> String {
    let width = 30;
    let filled = done * width / total.max(1);
    format!("[{}{}]", "#".repeat(filled), ".".repeat(width - filled))
}
