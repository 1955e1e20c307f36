//! What describing the state layouts costs a runtime's start: 20 registered workflows, each
//! with inferred types, started on a fresh directory (run by hand:
//! `cargo test --release --test upgrade_start_cost -- --ignored --nocapture`; it prints the
//! start time and, from the runtime's debug event, the part spent describing).

use std::time::{Duration, Instant};

use cairn::{Context, Runtime, workflow};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Paper {
    title: String,
    authors: Vec<String>,
    year: Option<u32>,
}

async fn fetch(topic: String) -> Result<Vec<Paper>, String> {
    Ok(vec![Paper {
        title: topic,
        authors: Vec::new(),
        year: None,
    }])
}

async fn summarize(papers: Vec<Paper>) -> Result<(usize, String), String> {
    Ok((papers.len(), String::new()))
}

macro_rules! workflows {
    ($($f:ident = $name:literal),* $(,)?) => {
        $(
            #[workflow(name = $name)]
            async fn $f(ctx: &mut Context, topic: String) -> Result<String, String> {
                let papers = ctx.task(fetch, topic.clone()).await?;
                let mut notes = Vec::new();
                for paper in papers.clone() {
                    let summary = ctx.task(summarize, vec![paper]).await?;
                    notes.push(summary);
                }
                let all = ctx.task(summarize, papers).await?;
                Ok(format!("{topic}: {} {}", notes.len(), all.0))
            }
        )*
        fn register_all(builder: cairn::RuntimeBuilder) -> cairn::RuntimeBuilder {
            builder $(.register($f))*
        }
    };
}

workflows!(
    w01 = "w01",
    w02 = "w02",
    w03 = "w03",
    w04 = "w04",
    w05 = "w05",
    w06 = "w06",
    w07 = "w07",
    w08 = "w08",
    w09 = "w09",
    w10 = "w10",
    w11 = "w11",
    w12 = "w12",
    w13 = "w13",
    w14 = "w14",
    w15 = "w15",
    w16 = "w16",
    w17 = "w17",
    w18 = "w18",
    w19 = "w19",
    w20 = "w20",
);

#[tokio::test]
#[ignore = "a measurement, run by hand"]
async fn start_cost_with_20_workflows() {
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_target(false)
        .try_init();
    let mut times = Vec::new();
    for _ in 0..11 {
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        let runtime = register_all(Runtime::builder().path(dir.path()))
            .start()
            .unwrap();
        times.push(started.elapsed());
        runtime.shutdown().await;
    }
    times.sort();
    let median: Duration = times[times.len() / 2];
    println!(
        "start with 20 workflows: median {median:?} (min {:?}, max {:?})",
        times[0],
        times[times.len() - 1]
    );
}
