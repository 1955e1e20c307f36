//! What the dashboard's tests share: real workflows (one that waits for approval, one that
//! sleeps, one that fails, one that loops), a runtime on a fresh LMDB directory, and HTTP
//! calls to the router as a browser would make them.

#![allow(dead_code)]

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use cairn::{Context, Question, RunId, Runtime, Status, workflow};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn prepare(n: u64) -> Result<u64, String> {
    Ok(n + 1)
}

async fn publish(n: u64) -> Result<String, String> {
    Ok(format!("published {n}"))
}

async fn refuse(n: u64) -> Result<u64, String> {
    Err(format!("refused {n}"))
}

/// Prepares, asks a person to approve, then publishes.
#[workflow]
pub async fn approval(ctx: &mut Context, n: u64) -> Result<String, String> {
    let prepared = ctx.task(prepare, n).await?;
    ctx.state().set("prepared", &prepared)?;
    let answer = ctx
        .wait_for_user(Question::approval(format!("Publish {prepared}?")))
        .await?;
    if !answer.is_approved() {
        return Ok("rejected".to_owned());
    }
    let done = ctx.task(publish, prepared).await?;
    Ok(done)
}

/// Prepares, then sleeps `secs` seconds durably.
#[workflow]
pub async fn sleeper(ctx: &mut Context, secs: u64) -> Result<u64, String> {
    let prepared = ctx.task(prepare, secs).await?;
    ctx.sleep(Duration::from_secs(secs)).await?;
    Ok(prepared)
}

/// Its second step always fails.
#[workflow]
pub async fn failing(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let x = ctx.task(prepare, n).await?;
    let y = ctx.task(refuse, x).await?;
    Ok(y)
}

/// One step per item of `0..n`.
#[workflow]
pub async fn looping(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let mut sum = 0;
    for i in 0..n {
        let x = ctx.task(prepare, i).await?;
        sum += x;
    }
    Ok(sum)
}

/// A runtime running the four workflows on `dir`. These tests are about the dashboard, not
/// durability: without an fsync per commit, the 2,000-step run takes about a second even
/// when the disk is busy (on a CI machine whose disk was shared with three starting browsers
/// it took over 20 s with full durability, and the test failed waiting for it).
pub fn runtime(dir: &std::path::Path) -> Runtime {
    Runtime::builder()
        .path(dir)
        .durability(cairn::Durability::ProcessCrash)
        .register(approval)
        .register(sleeper)
        .register(failing)
        .register(looping)
        .start()
        .expect("the runtime starts")
}

/// The host a browser on this machine names.
pub const HOST: &str = "127.0.0.1:7777";

/// The answer of one request: status, headers, body.
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `kind` of a JSON error body.
    pub fn error_kind(&self) -> String {
        self.json()["error"]["kind"]
            .as_str()
            .unwrap_or_else(|| panic!("no error kind in {}", self.text()))
            .to_owned()
    }
}

/// One request to `router` from a loopback host, with `headers` and a JSON `body`.
pub async fn request(
    router: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Reply {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, HOST);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    if body.is_some() {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
    }
    let request = builder
        .body(Body::from(body.unwrap_or("").to_owned()))
        .expect("a request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("the body reads")
        .to_bytes()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

/// `GET uri`.
pub async fn get(router: &Router, uri: &str) -> Reply {
    request(router, "GET", uri, &[], None).await
}

/// The CSRF token the runs page embeds.
pub async fn csrf(router: &Router) -> String {
    let page = get(router, "/").await.text();
    let marker = "name=\"csrf-token\" content=\"";
    let start = page.find(marker).expect("the page embeds the token") + marker.len();
    page[start..start + 64].to_owned()
}

/// `POST uri` with the CSRF token and an optional JSON body.
pub async fn post(router: &Router, csrf: &str, uri: &str, body: Option<&str>) -> Reply {
    request(router, "POST", uri, &[("x-cairn-csrf", csrf)], body).await
}

/// Waits until `run` has `status` (or has finished). The bound only turns a hang into a
/// failure; it is not a speed assertion.
pub async fn reach(client: &cairn::Client, run: RunId, status: Status) {
    tokio::time::timeout(
        Duration::from_secs(120),
        client.wait_for_status(run, status),
    )
    .await
    .expect("the run gets there within 120 s")
    .expect("the run can be waited for");
}
