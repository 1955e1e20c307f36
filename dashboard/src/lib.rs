//! A local web dashboard for cairn: the runs of a store in a table (filters, paging, live
//! updates), each run's state machine, timeline, key-value state and pending question, and
//! the buttons that answer, cancel, pause, unpause and resume it.
//!
//! It is built only on the public [`Client`] API, so it serves any store a client opens: the
//! `cairn ui` command opens a data directory client-only and serves this router; a program
//! that runs workflows can mount it next to its own routes:
//!
//! ```no_run
//! # async fn demo(client: cairn_runtime::Client) -> Result<(), cairn_dashboard::ServeError> {
//! use cairn_dashboard::{Options, serve};
//! // 127.0.0.1 only; a non-loopback address is refused without a token.
//! serve(client, "127.0.0.1:7777".parse().unwrap(), Options::default()).await
//! # }
//! ```
//!
//! Every asset (HTML, CSS, JavaScript, the graph drawing) is compiled into the binary: nothing
//! is fetched at run time. Safety: see [`Options`] and the `guard` module: every change is a
//! POST that carries the server's CSRF token, a non-loopback bind needs an access token, and
//! without one only loopback host names are served (a DNS-rebinding page gets 403).

mod actions;
mod api_error;
mod app_state;
mod events;
mod guard;
mod options;
mod pages;
mod run_api;
mod runs_api;
mod serve;
mod timeline;

pub use api_error::ApiError;
pub use options::Options;
pub use serve::{ServeError, router, serve, serve_listener};
pub use timeline::{Timeline, TimelineItem};

/// The client the dashboard reads and writes through (re-exported for convenience).
pub use cairn_runtime::Client;
