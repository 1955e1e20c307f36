//! Changing a workflow with a run in flight: a run stored by the first version (its papers
//! have a title) is met by the second (papers also have a year, a type rustc infers in the
//! workflow). The second version reports exactly what changed, then moves the run with a
//! migration, and the run finishes with the new code.
//!
//! ```text
//! cargo run --example changing_a_workflow
//! ```

use cairn::{Context, Flow, Runtime, StoredState, workflow};
use serde::{Deserialize, Serialize};

/// The first version's types and steps.
mod before {
    use super::*;

    #[derive(Clone, Debug, Serialize, Deserialize)]
    pub struct Paper {
        pub title: String,
    }

    pub async fn fetch(topic: String) -> Result<Vec<Paper>, String> {
        Ok(vec![Paper {
            title: format!("A survey of {topic}"),
        }])
    }

    pub async fn summarize(papers: Vec<Paper>) -> Result<String, String> {
        Ok(papers
            .iter()
            .map(|p| p.title.clone())
            .collect::<Vec<_>>()
            .join("; "))
    }

    #[workflow(name = "reading_list")]
    pub async fn reading_list(ctx: &mut Context, topic: String) -> Result<String, String> {
        let papers = ctx.task(fetch, topic).await?;
        let summary = ctx.task(summarize, papers).await?;
        Ok(summary)
    }
}

/// The second version: a paper has a year. Nothing written in the workflow changed, so the
/// macro's fingerprint is the same; the description traced at start is not.
mod after {
    use super::*;

    #[derive(Clone, Debug, Serialize, Deserialize)]
    pub struct Paper {
        pub title: String,
        pub year: u32,
    }

    pub async fn fetch(topic: String) -> Result<Vec<Paper>, String> {
        Ok(vec![Paper {
            title: format!("A survey of {topic}"),
            year: 2025,
        }])
    }

    pub async fn summarize(papers: Vec<Paper>) -> Result<String, String> {
        let titles: Vec<String> = papers
            .iter()
            .map(|p| format!("{} ({})", p.title, p.year))
            .collect();
        Ok(titles.join("; "))
    }

    #[workflow(name = "reading_list")]
    pub async fn reading_list(ctx: &mut Context, topic: String) -> Result<String, String> {
        let papers = ctx.task(fetch, topic).await?;
        let summary = ctx.task(summarize, papers).await?;
        Ok(summary)
    }
}

#[tokio::main]
async fn main() -> Result<(), cairn::Error> {
    let dir = tempfile::tempdir().expect("a temporary directory");

    // The first version stores a run and stops right after its first step (as a deploy would).
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(before::reading_list)
        .on_transition(|_| Flow::Halt)
        .start()?;
    let client = runtime.client();
    let run = client
        .start(before::reading_list, "durable workflows".to_owned())
        .await?;
    let _ = client.wait(before::reading_list, run).await;
    runtime.shutdown().await;

    // The second version, as deployed without thinking: the run is left alone and reported.
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(after::reading_list)
        .start()?;
    for report in runtime.incompatible_runs() {
        println!("reported: {report}\n");
    }
    runtime.shutdown().await;

    // The second version with a migration: each stored paper gets a year.
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(after::reading_list)
        .migrate(after::reading_list, |mut old: StoredState| {
            println!("migrating run state `{}`: {:?}", old.state, old.fields);
            if let Some(papers) = old.fields.get_mut("papers") {
                for paper in papers.as_array_mut().into_iter().flatten() {
                    paper["year"] = serde_json::json!(0);
                }
            }
            Ok(old)
        })
        .start()?;
    let summary = runtime.client().wait(after::reading_list, run).await?;
    println!("finished with the new code: {summary}");
    runtime.shutdown().await;
    Ok(())
}
