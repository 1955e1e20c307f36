//! The forms people write around steps: the README's retry, a step's error handled in the
//! statement of its `.await` (with error types that cannot be stored), `ctx.task` branches in
//! `ctx.parallel`, and an owned copy of a borrowed result.
use std::time::Duration;

use anyhow::Context as _;
use cairn::{Context, RetryPolicy, workflow};

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Card {
    number: String,
}

async fn charge_card(card: Card, amount: u64) -> Result<String, String> {
    Ok(format!("{}:{amount}", card.number))
}

async fn read_cache(key: String) -> std::io::Result<String> {
    Ok(key)
}

async fn parse(text: String) -> Result<u64, std::num::ParseIntError> {
    text.parse()
}

async fn label(_: u64) -> Result<&'static str, String> {
    Ok("label")
}

async fn search(topic: String) -> Result<String, String> {
    Ok(topic)
}

#[workflow]
async fn checkout(ctx: &mut Context, card: Card, amount: u64) -> Result<String, String> {
    let charge = ctx
        .task(charge_card, card.clone(), amount)
        .retry(RetryPolicy::exponential(5))
        .timeout(Duration::from_secs(30))
        .await?;
    let again = ctx
        .task(charge_card, card, amount)
        .timeout(Duration::from_secs(30))
        .retry_if(RetryPolicy::fixed(3, Duration::from_secs(1)), |e: &String| {
            e.contains("timeout")
        })
        .await?;
    Ok(charge + &again)
}

#[workflow]
async fn handled(ctx: &mut Context, key: String) -> Result<u64, String> {
    let value = match ctx.task(read_cache, key.clone()).await {
        Ok(value) => value,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "0".to_owned(),
        Err(e) => return Err(e.to_string()),
    };
    let n = ctx.task(parse, value).await.map_err(|e| e.to_string())?;
    let m = ctx.task(parse, key.clone()).await.unwrap_or(0);
    let k = ctx.task(parse, key).await.ok();
    let name = ctx.task(label, n).await?.to_owned();
    Ok(n + m + k.unwrap_or(0) + name.len() as u64)
}

#[workflow]
async fn with_anyhow(ctx: &mut Context, key: String) -> anyhow::Result<String> {
    let value = ctx.task(read_cache, key).await.context("reading the cache")?;
    let same = if let Ok(again) = ctx.task(read_cache, value.clone()).await {
        again == value
    } else {
        false
    };
    Ok(format!("{value} {same}"))
}

#[workflow]
async fn research(ctx: &mut Context, topic: String) -> Result<Vec<String>, String> {
    let (t1, t2, t3) = (topic.clone(), topic.clone(), topic.clone());
    let (a, b, c) = ctx
        .parallel((
            ctx.task(search, t1),
            ctx.task(search, t2),
            ctx.task(search, t3),
        ))
        .await?;
    let topics = vec![a, b, c];
    let more = ctx
        .parallel(
            topics
                .into_iter()
                .map(|t| ctx.task(search, t))
                .collect::<Vec<_>>(),
        )
        .limit(2)
        .await?;
    let listed = ctx
        .parallel(vec![ctx.task(search, topic.clone()), ctx.task(search, topic)])
        .await?;
    Ok(more.into_iter().chain(listed).collect())
}

fn main() {}
