//! Steps, retries and a step's errors: the README's examples, compiled here as doctests so
//! that they cannot drift from the code.
//!
//! # A retried step
//!
//! `ctx.task(f, a, b)` is a step named `f`. `.retry(policy)` calls `f` again after a failure,
//! each attempt with its own clone of the arguments (an argument that is not `Clone` is a
//! compile error on that argument); `.timeout(d)` bounds each attempt. The result is committed
//! once, after the attempt that succeeded: a resumed run never charges the card again.
//!
//! ```
//! use std::time::Duration;
//! use cairn::{Context, RetryPolicy, workflow};
//!
//! #[derive(Clone, serde::Serialize, serde::Deserialize)]
//! struct Card { number: String }
//!
//! async fn charge_card(card: Card, amount: u64) -> Result<String, String> {
//!     Ok(format!("charged {amount} to {}", card.number))
//! }
//!
//! #[workflow]
//! async fn checkout(ctx: &mut Context, card: Card, amount: u64) -> Result<String, String> {
//!     let charge = ctx.task(charge_card, card, amount)
//!         .retry(RetryPolicy::exponential(5))
//!         .timeout(Duration::from_secs(30))
//!         .await?;
//!     Ok(charge)
//! }
//! ```
//!
//! # Handling a step's error
//!
//! Code that consumes a step's `Result` in the statement of its `.await` (`?`, method calls
//! such as `.context(..)?`, `.map_err(..)?`, `.unwrap_or(..)`, or a `match` / `if let` whose
//! arms have no `.await`, `break`, `continue` or `=` assignment) runs as part of the step,
//! before its commit. The state after it holds what the statement produced, never the error,
//! so the error type need not be serializable; a resumed run continues from that value and so
//! takes the same branch, and a crash before the commit runs the step and that code again
//! (at-least-once, like any step).
//!
//! ```
//! use std::io::ErrorKind;
//! use anyhow::Context as _;
//! use cairn::{Context, workflow};
//!
//! async fn read_cache(key: String) -> std::io::Result<String> { Ok(key) }
//! async fn read_config(path: String) -> std::io::Result<String> { Ok(path) }
//! async fn parse(text: String) -> Result<u64, std::num::ParseIntError> { text.parse() }
//!
//! #[workflow]
//! async fn cached(ctx: &mut Context, key: String, path: String) -> anyhow::Result<u64> {
//!     let cached = match ctx.task(read_cache, key.clone()).await {
//!         Ok(value) => value,
//!         Err(e) if e.kind() == ErrorKind::NotFound => String::new(),
//!         Err(e) => return Err(e.into()),
//!     };
//!     let config = ctx.task(read_config, path).await.context("reading the configuration")?;
//!     let n = ctx.task(parse, config).await.map_err(|e| anyhow::anyhow!("not a number: {e}"))?;
//!     let m = ctx.task(parse, cached).await.unwrap_or(0);
//!     let hit = if let Ok(value) = ctx.task(read_cache, key).await { !value.is_empty() } else { false };
//!     Ok(n + m + u64::from(hit))
//! }
//! ```
//!
//! A `Result` kept beyond its statement is stored, error included, so its error type must be
//! serializable; the compile error at the `.await` says so. Turning the error into text makes
//! it storable:
//!
//! ```
//! use cairn::{Context, workflow};
//!
//! async fn read_cache(key: String) -> std::io::Result<String> { Ok(key) }
//! async fn compute(key: String) -> Result<String, String> { Ok(key) }
//!
//! #[workflow]
//! async fn kept(ctx: &mut Context, key: String) -> Result<String, String> {
//!     let cached = ctx.task(read_cache, key.clone()).await.map_err(|e| e.to_string());
//!     let fresh = ctx.task(compute, key).await?;
//!     Ok(cached.unwrap_or(fresh))
//! }
//! ```
//!
//! # Steps at once
//!
//! `ctx.parallel` takes a tuple or a `Vec` of steps, written as `ctx.task(..)` (inside
//! `#[workflow]`) or [`step`](crate::step)`("name", future)`, and commits each branch's
//! result as it completes: after a crash, only the branches that had not completed run again.
//! A `Vec` with no branches gives an empty `Vec`.
//!
//! ```
//! use cairn::{Context, step, workflow};
//!
//! async fn search_arxiv(topic: String) -> Result<String, String> { Ok(topic) }
//! async fn search_wikipedia(topic: String) -> Result<String, String> { Ok(topic) }
//! async fn search_news(topic: String) -> Result<String, String> { Ok(topic) }
//! async fn fetch(url: String) -> Result<String, String> { Ok(url) }
//!
//! #[workflow]
//! async fn research(ctx: &mut Context, topic: String, urls: Vec<String>) -> Result<usize, String> {
//!     let (t1, t2, t3) = (topic.clone(), topic.clone(), topic.clone());
//!     let (arxiv, wiki, news) = ctx
//!         .parallel((ctx.task(search_arxiv, t1), ctx.task(search_wikipedia, t2), ctx.task(search_news, t3)))
//!         .await?;
//!     let pages = ctx
//!         .parallel(urls.into_iter().map(|u| ctx.task(fetch, u)).collect::<Vec<_>>())
//!         .limit(4)
//!         .await?;
//!     let (a, b) = ctx.parallel((step("a", fetch(arxiv)), step("b", fetch(wiki)))).await?;
//!     Ok(pages.len() + a.len() + b.len() + news.len())
//! }
//! ```
