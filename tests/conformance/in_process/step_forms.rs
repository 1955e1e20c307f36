//! The forms people write around steps, run and resumed from every committed state:
//! - the README's retry, `ctx.task(charge_card, card, amount).retry(policy).await?`: each
//!   attempt gets its own clone of the arguments, and the retried step's result survives a
//!   restart without the step running again;
//! - a step's `Result` handled in the statement of its `.await` (a `match`, `.context(..)?`,
//!   `.map_err(..)?`), with an error type that cannot be stored (`std::io::Error`,
//!   `anyhow::Error`): a resumed run takes the branch the committed run took;
//! - `ctx.parallel((ctx.task(..), ctx.task(..), ..))` and a `Vec` of `ctx.task(..)` built in an
//!   iterator, each branch committed as it completes: a halt after each committed branch runs
//!   only the missing ones;
//! - `ctx.parallel` over no branches returns an empty `Vec` and commits like any other step.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use cairn::{Context, Flow, RetryPolicy, workflow};
use serde::{Deserialize, Serialize};

// ---- retry with the README's form --------------------------------------------------------

use super::jump_clock::JumpClock;
use super::support;
use super::{Backend, fresh_store};
use support::{check_restarts_with, ran};

/// Not `Copy`: each attempt must get a clone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Card {
    number: String,
    holder: String,
}

/// Calls of `charge_card` so far; every third one succeeds, so each run of the retried step
/// (three attempts) fails twice first.
static CHARGE_CALLS: AtomicU32 = AtomicU32::new(0);

async fn charge_card(card: Card, amount: u64) -> Result<String, String> {
    ran("charge_card");
    // Each attempt owns its arguments: consuming them here must not starve the next attempt.
    let Card { number, holder } = card;
    let call = CHARGE_CALLS.fetch_add(1, Ordering::SeqCst);
    if call % 3 != 2 {
        return Err(format!("gateway timeout on attempt {}", call % 3 + 1));
    }
    Ok(format!(
        "{holder}:{number}:{amount}:attempt {}",
        call % 3 + 1
    ))
}

async fn record(receipt: String) -> Result<usize, String> {
    ran("record");
    Ok(receipt.len())
}

#[workflow]
async fn checkout(ctx: &mut Context, card: Card, amount: u64) -> Result<(String, usize), String> {
    let receipt = ctx
        .task(charge_card, card, amount)
        .retry(RetryPolicy::exponential(5))
        .timeout(Duration::from_secs(30))
        .await?;
    let stored = ctx.task(record, receipt.clone()).await?;
    Ok((receipt, stored))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_task_gets_cloned_arguments_and_its_result_survives_a_restart() {
    let card = Card {
        number: "4242".to_owned(),
        holder: "ada".to_owned(),
    };
    CHARGE_CALLS.store(0, Ordering::SeqCst);
    let receipt = "ada:4242:120:attempt 3".to_owned();
    let len = receipt.len();
    // Three attempts in every run: after a restart the committed receipt is used, the card is
    // not charged again.
    check_restarts_with(
        checkout,
        (card, 120),
        Ok((receipt, len)),
        &[("charge_card", 3), ("record", 1)],
        2,
        |builder| builder.clock(JumpClock::default()),
    )
    .await;
}

// ---- a step's error handled without `?` ---------------------------------------------------

/// A cache whose misses are `std::io::Error`s, which cannot be stored.
async fn read_cache(key: String) -> std::io::Result<String> {
    ran("read_cache");
    match key.strip_prefix("hit:") {
        Some(value) => Ok(value.to_owned()),
        None => Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{key} is not cached"),
        )),
    }
}

async fn compute(key: String) -> Result<String, String> {
    ran("compute");
    Ok(format!("computed {key}"))
}

async fn parse(text: String) -> Result<u64, std::num::ParseIntError> {
    ran("parse");
    text.len().to_string().parse()
}

#[workflow]
async fn cached(ctx: &mut Context, key: String) -> Result<(String, u64), String> {
    let hit = match ctx.task(read_cache, key.clone()).await {
        Ok(value) => Some(value),
        Err(error) => {
            // The error is used in the arm, before the commit: it is never stored.
            assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
            None
        }
    };
    let value = match hit {
        Some(value) => value,
        None => ctx.task(compute, key).await?,
    };
    let length = ctx
        .task(parse, value.clone())
        .await
        .map_err(|e| format!("not a number: {e}"))?;
    Ok((value, length))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matched_error_takes_the_same_branch_after_a_restart() {
    // A hit: no `compute`.
    check_restarts_with(
        cached,
        "hit:fresh".to_owned(),
        Ok(("fresh".to_owned(), 5)),
        &[("parse", 1), ("read_cache", 1)],
        2,
        |builder| builder,
    )
    .await;
    // A miss: `compute`, exactly once, whichever state the run resumed from.
    check_restarts_with(
        cached,
        "k".to_owned(),
        Ok(("computed k".to_owned(), 10)),
        &[("compute", 1), ("parse", 1), ("read_cache", 1)],
        3,
        |builder| builder,
    )
    .await;
}

async fn read_config(path: String) -> std::io::Result<String> {
    ran("read_config");
    if path.is_empty() {
        return Err(std::io::Error::other("no path"));
    }
    Ok(format!("config of {path}"))
}

#[workflow]
async fn with_anyhow(ctx: &mut Context, path: String) -> anyhow::Result<usize> {
    let text = ctx
        .task(read_config, path.clone())
        .await
        .context("reading the configuration")?;
    let fallback = ctx
        .task(read_config, String::new())
        .await
        .unwrap_or_default();
    let ok = if let Ok(again) = ctx.task(read_config, path).await {
        again == text
    } else {
        false
    };
    Ok(text.len() + fallback.len() + usize::from(ok))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anyhow_context_unwrap_or_and_if_let_resume() {
    check_restarts_with(
        with_anyhow,
        "app.toml".to_owned(),
        Ok("config of app.toml".len() + 1),
        &[("read_config", 3)],
        3,
        |builder| builder,
    )
    .await;
    // `.context(..)?` fails the run with the context and the cause.
    let _serial = support::serial().await;
    let store = fresh_store();
    let runtime = store.runtime().register(with_anyhow).start().unwrap();
    let run = runtime
        .client()
        .start(with_anyhow, String::new())
        .await
        .unwrap();
    match runtime.client().wait(with_anyhow, run).await {
        Err(cairn::Error::RunFailed { message, .. }) => {
            assert!(message.contains("reading the configuration"), "{message}")
        }
        other => panic!("expected a failed run, got {other:?}"),
    }
    runtime.shutdown().await;
}

// ---- parallel `ctx.task` branches ---------------------------------------------------------

async fn search_arxiv(topic: String) -> Result<String, String> {
    ran("search_arxiv");
    Ok(format!("arxiv on {topic}"))
}

async fn search_wikipedia(topic: String) -> Result<String, String> {
    ran("search_wikipedia");
    Ok(format!("wikipedia on {topic}"))
}

async fn search_news(topic: String, days: u32) -> Result<String, String> {
    ran("search_news");
    Ok(format!("news on {topic} ({days} days)"))
}

async fn search_source(source: String, topic: String) -> Result<String, String> {
    ran(format!("search_source {source}"));
    Ok(format!("{source} on {topic}"))
}

#[workflow]
async fn research(ctx: &mut Context, topic: String) -> Result<Vec<String>, String> {
    let (t1, t2, t3) = (topic.clone(), topic.clone(), topic.clone());
    // One at a time, so that a halt after branch k leaves exactly k committed.
    let (arxiv, wikipedia, news) = ctx
        .parallel((
            ctx.task(search_arxiv, t1),
            ctx.task(search_wikipedia, t2),
            ctx.task(search_news, t3, 7),
        ))
        .limit(1)
        .await?;
    let sources = vec!["blogs".to_owned(), "forums".to_owned()];
    let more = ctx
        .parallel(
            sources
                .into_iter()
                .map(|source| ctx.task(search_source, source, topic.clone()))
                .collect::<Vec<_>>(),
        )
        .limit(1)
        .await?;
    let mut all = vec![arxiv, wikipedia, news];
    all.extend(more);
    Ok(all)
}

const RESEARCH_STEPS: &[(&str, usize)] = &[
    ("search_arxiv", 1),
    ("search_news", 1),
    ("search_source blogs", 1),
    ("search_source forums", 1),
    ("search_wikipedia", 1),
];

fn research_output() -> Vec<String> {
    [
        "arxiv on qc",
        "wikipedia on qc",
        "news on qc (7 days)",
        "blogs on qc",
        "forums on qc",
    ]
    .map(str::to_owned)
    .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_tasks_resume_from_every_stored_state() {
    check_restarts_with(
        research,
        "qc".to_owned(),
        Ok(research_output()),
        RESEARCH_STEPS,
        2,
        |builder| builder,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_halt_after_each_committed_task_branch_runs_only_the_missing_ones() {
    // Five branch commits in all (three, then two); halt right after the k-th.
    for halt_at in 1..=5 {
        let _serial = support::serial().await;
        let store = fresh_store();
        let seen = std::sync::Arc::new(AtomicU32::new(0));
        let counter = seen.clone();
        let runtime = store
            .runtime()
            .register(research)
            .on_branch(move |_| {
                if counter.fetch_add(1, Ordering::SeqCst) + 1 == halt_at {
                    Flow::Halt
                } else {
                    Flow::Continue
                }
            })
            .start()
            .unwrap();
        let run = runtime
            .client()
            .start(research, "qc".to_owned())
            .await
            .unwrap();
        assert!(matches!(
            runtime.client().wait(research, run).await,
            Err(cairn::Error::Halted { .. })
        ));
        runtime.shutdown().await;
        let before = support::take_step_counts();
        assert_eq!(
            before.values().sum::<usize>(),
            halt_at as usize,
            "{before:?}"
        );

        let runtime = store.runtime().register(research).start().unwrap();
        let output = runtime.client().wait(research, run).await.unwrap();
        runtime.shutdown().await;
        assert_eq!(output, research_output());
        let mut all = before;
        for (step, n) in support::take_step_counts() {
            *all.entry(step).or_default() += n;
        }
        let expected = RESEARCH_STEPS
            .iter()
            .map(|(name, n)| (name.to_string(), *n))
            .collect();
        assert_eq!(all, expected, "halt at {halt_at}");
    }
}

// ---- parallel over nothing ----------------------------------------------------------------

async fn measure(doc: String) -> Result<usize, String> {
    ran("measure");
    Ok(doc.len())
}

#[workflow]
async fn fan_out(ctx: &mut Context, docs: Vec<String>) -> Result<(Vec<usize>, usize), String> {
    let lengths = ctx
        .parallel(
            docs.into_iter()
                .map(|doc| ctx.task(measure, doc))
                .collect::<Vec<_>>(),
        )
        .await?;
    let settled = ctx
        .parallel(Vec::<cairn::Branch<std::future::Ready<Result<u8, String>>>>::new())
        .settled()
        .await?;
    Ok((lengths, settled.len()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_over_no_branches_returns_an_empty_vec() {
    check_restarts_with(
        fan_out,
        Vec::new(),
        Ok((Vec::new(), 0)),
        &[],
        2,
        |builder| builder,
    )
    .await;
    check_restarts_with(
        fan_out,
        vec!["ab".to_owned(), "c".to_owned()],
        Ok((vec![2, 1], 0)),
        &[("measure", 2)],
        2,
        |builder| builder,
    )
    .await;
}
