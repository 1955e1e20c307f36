//! The pages and their assets, all compiled into the binary (`include_str!`): hand-written
//! HTML, CSS and JavaScript, no build step, nothing fetched at run time.
//!
//! Each HTML page gets the server's CSRF token in a `<meta>` tag (the scripts send it back
//! with every POST). The pages allow scripts from this origin only (a Content-Security-Policy
//! without `unsafe-inline`), so the run data they show can never run as code.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::api_error::ApiError;
use crate::app_state::AppState;
use crate::run_api::run_id;

const RUNS_HTML: &str = include_str!("../assets/runs.html");
const RUN_HTML: &str = include_str!("../assets/run.html");

/// `(name, content type, body)` of every asset under `/assets/`.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../assets/app.css"),
    ),
    (
        "common.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/common.js"),
    ),
    (
        "runs.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/runs.js"),
    ),
    (
        "run.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/run.js"),
    ),
    (
        "graph.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/graph.js"),
    ),
    (
        "timeline.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/timeline.js"),
    ),
];

/// What every page forbids: scripts, styles, images and connections from elsewhere.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
                   script-src 'self'; connect-src 'self'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'self'";

fn page(state: &AppState, html: &str) -> Response {
    let body = html.replace("{{CSRF}}", &state.secrets.csrf);
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `GET /`: the runs table.
pub(crate) async fn runs_page(State(state): State<AppState>) -> Response {
    page(&state, RUNS_HTML)
}

/// `GET /runs/{id}`: one run (its data is read by the page's script).
pub(crate) async fn run_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    run_id(&id)?;
    Ok(page(&state, RUN_HTML))
}

/// `GET /assets/{name}`.
pub(crate) async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(asset, _, _)| *asset == name) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        None => not_found().into_response(),
    }
}

/// What an unknown path answers.
pub(crate) fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such page or endpoint",
    )
}

/// The fallback of the router.
pub(crate) async fn fallback() -> ApiError {
    not_found()
}
