//! Building the router and serving it: [`router`] to mount the dashboard in a program's own
//! axum server, [`serve`] and [`serve_listener`] to serve it alone (as `cairn ui` does),
//! refusing a non-loopback address unless an access token is set.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use cairn_runtime::Client;
use tokio::net::TcpListener;

use crate::app_state::{AppState, Secrets};
use crate::options::Options;
use crate::{actions, events, guard, pages, run_api, runs_api};

/// Why the dashboard could not serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The address is not a loopback one and no access token was given.
    #[error(
        "refusing to serve on {addr} without a token: anyone who can reach it could read and \
         change your runs; bind to 127.0.0.1 or give an access token (--token)"
    )]
    NonLoopbackWithoutToken {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The access token is empty or has characters that do not fit in a cookie.
    #[error("the access token must be non-empty letters, digits, '-', '_' or '.'")]
    BadToken,
    /// Binding or serving failed.
    #[error("serving on {addr}: {source}")]
    Io {
        /// The address.
        addr: String,
        /// What the operating system said.
        source: std::io::Error,
    },
}

/// The dashboard as an axum router over `client`, with every route, the guard (access token,
/// host check, CSRF) and the embedded assets. Mount it with `Router::nest` or serve it.
///
/// The router itself does not know the address it is served on: the loopback rule for a bind
/// without a token is checked by [`serve`] and [`serve_listener`]. A program that serves the
/// router itself on a non-loopback address must set [`Options::token`]. Without a token the
/// router still answers only requests whose `Host` is a loopback name.
pub fn router(client: Client, options: Options) -> Router {
    let state = AppState {
        client,
        secrets: Arc::new(Secrets::new(options.token)),
    };
    Router::new()
        .route("/", get(pages::runs_page))
        .route("/runs/{id}", get(pages::run_page))
        .route("/assets/{name}", get(pages::asset))
        .route("/api/runs", get(runs_api::list))
        .route("/api/counts", get(runs_api::counts))
        .route("/api/workflows", get(runs_api::workflows))
        .route("/api/events", get(events::table_events))
        .route("/api/runs/{id}", get(run_api::show))
        .route("/api/runs/{id}/timeline", get(run_api::timeline))
        .route("/api/runs/{id}/history", get(run_api::history_page))
        .route("/api/runs/{id}/events", get(events::run_events))
        .route("/api/runs/{id}/answer", post(actions::answer))
        .route("/api/runs/{id}/cancel", post(actions::cancel))
        .route("/api/runs/{id}/pause", post(actions::pause))
        .route("/api/runs/{id}/unpause", post(actions::unpause))
        .route("/api/runs/{id}/resume", post(actions::resume))
        .fallback(pages::fallback)
        .layer(from_fn_with_state(state.clone(), guard::guard))
        .with_state(state)
}

/// Checks the options against the address: a token must be cookie-safe, and a non-loopback
/// address needs one.
fn check(addr: SocketAddr, options: &Options) -> Result<(), ServeError> {
    if let Some(token) = &options.token {
        let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if token.is_empty() || !token.chars().all(safe) {
            return Err(ServeError::BadToken);
        }
    } else if !addr.ip().is_loopback() {
        return Err(ServeError::NonLoopbackWithoutToken { addr });
    }
    Ok(())
}

/// Binds `addr` and serves the dashboard until the process ends. A non-loopback address
/// without [`Options::token`] is refused before anything is bound.
pub async fn serve(client: Client, addr: SocketAddr, options: Options) -> Result<(), ServeError> {
    check(addr, &options)?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Io {
            addr: addr.to_string(),
            source,
        })?;
    serve_listener(client, listener, options).await
}

/// Serves the dashboard on a listener already bound (to port 0, say, to learn the port
/// first), with the same rule as [`serve`] for its address.
pub async fn serve_listener(
    client: Client,
    listener: TcpListener,
    options: Options,
) -> Result<(), ServeError> {
    let io = |source| ServeError::Io {
        addr: "the listener".to_owned(),
        source,
    };
    let addr = listener.local_addr().map_err(io)?;
    check(addr, &options)?;
    axum::serve(listener, router(client, options))
        .await
        .map_err(io)
}
