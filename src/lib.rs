//! cairn: durable workflows for Rust.
//!
//! Put `#[workflow]` on an ordinary `async fn` and it becomes a persisted state machine: one
//! state per `.await`, holding exactly the variables live across it. A [`Runtime`] runs the
//! machine on tokio and commits every transition to LMDB before the workflow goes on, so a
//! restart after a crash resumes each unfinished run from its last committed state, without
//! replaying anything.
//!
//! ```ignore
//! use cairn::{workflow, Context, Runtime};
//!
//! async fn fetch_papers(topic: String) -> Result<Vec<String>, std::io::Error> { /* ... */ }
//! async fn summarize(paper: String) -> Result<String, std::io::Error> { /* ... */ }
//!
//! #[workflow]
//! async fn research(ctx: &mut Context, topic: String) -> Result<Vec<String>, std::io::Error> {
//!     let papers = ctx.task(fetch_papers, topic).await?;
//!     let mut notes = Vec::new();
//!     for paper in papers {
//!         notes.push(ctx.task(summarize, paper).await?);
//!     }
//!     Ok(notes)
//! }
//! ```
//!
//! See the README for the full tour and `examples/` for runnable programs.

pub use cairn_macros::workflow;
pub use cairn_runtime::*;

pub mod steps;
