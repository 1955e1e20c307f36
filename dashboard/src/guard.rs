//! Who may use the dashboard, checked on every request before any handler runs.
//!
//! - **Access token** (when [`Options::token`](crate::Options::token) is set): the request
//!   carries it as `Authorization: Bearer TOKEN` or in the `cairn_token` cookie, else 401.
//!   `GET /?token=TOKEN` with the right token sets that cookie (`HttpOnly`, `SameSite=Strict`)
//!   and redirects to `/`, so a person opens one link and the token leaves the address bar.
//! - **Host** (without a token, the dashboard serves loopback only): the `Host` header must
//!   name a loopback host (`localhost`, `127.x.y.z`, `[::1]`), else 403. A web page the
//!   browser visits elsewhere could otherwise point its own domain at 127.0.0.1 (DNS
//!   rebinding) and read the dashboard as same-origin.
//! - **CSRF**: every request that is not a GET or HEAD carries the server's random CSRF token
//!   in the `X-Cairn-Csrf` header, else 403. The pages embed it; another site can neither
//!   read it nor set a custom header on a cross-site request.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api_error::ApiError;
use crate::app_state::{AppState, same_secret};

/// The header a POST carries the CSRF token in.
pub const CSRF_HEADER: &str = "x-cairn-csrf";

/// The cookie a browser carries the access token in.
const TOKEN_COOKIE: &str = "cairn_token";

/// The middleware: lets the request through, or answers 401/403 itself.
pub(crate) async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    match &state.secrets.access {
        Some(token) => {
            if !carries_token(headers, token) {
                if let Some(response) = token_login(&request, token) {
                    return response;
                }
                return ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "this dashboard needs its access token: open /?token=TOKEN, or send \
                     `Authorization: Bearer TOKEN`",
                )
                .into_response();
            }
        }
        None => {
            if !is_loopback_host(headers) {
                return ApiError::new(
                    StatusCode::FORBIDDEN,
                    "host",
                    "this dashboard serves loopback host names only (localhost, 127.0.0.1, \
                     [::1]); give it a token to serve others",
                )
                .into_response();
            }
        }
    }
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !sent.is_some_and(|sent| same_secret(sent, &state.secrets.csrf)) {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                format!(
                    "missing or wrong CSRF token: a change must send the page's token in the \
                     {CSRF_HEADER} header"
                ),
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Whether the request carries `token` as a bearer token or in the cookie.
fn carries_token(headers: &HeaderMap, token: &str) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|sent| same_secret(sent.trim(), token));
    bearer
        || headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(name, value)| name == TOKEN_COOKIE && same_secret(value, token))
}

/// `GET /?token=TOKEN` with the right token: the cookie and a redirect to `/`.
fn token_login(request: &Request, token: &str) -> Option<Response> {
    if request.method() != Method::GET || request.uri().path() != "/" {
        return None;
    }
    let sent = request
        .uri()
        .query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == "token")?
        .1;
    if !same_secret(sent, token) {
        return None;
    }
    let cookie = format!("{TOKEN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/");
    Some(
        (
            StatusCode::SEE_OTHER,
            [
                (header::SET_COOKIE, cookie),
                (header::LOCATION, "/".to_owned()),
            ],
        )
            .into_response(),
    )
}

/// Whether the `Host` header names a loopback host (any port).
fn is_loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        // HTTP/1.1 requires a Host; a request without one did not come from a browser.
        return false;
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [::1]:port
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
