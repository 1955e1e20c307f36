//! Every endpoint of the dashboard over HTTP (the router called as a server would call it),
//! against a real LMDB store with real workflows: status codes, JSON shapes, and the refusals:
//! unknown runs, bad ids and queries, invalid answers, missing or wrong CSRF and access
//! tokens, foreign hosts, non-loopback binds without a token.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::{StatusCode, header};
use cairn::{RunId, Status};
use cairn_dashboard::{Options, ServeError, router, serve, serve_listener};
use http_body_util::BodyExt;
use support::*;
use tower::ServiceExt;

/// The runs table: a page with every field the table shows, filters, cursor paging, counts,
/// workflow names, and 400 for what it cannot read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_are_listed_filtered_paged_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime(dir.path());
    let client = runtime.client();
    let done = client.start(looping, 2).await.unwrap();
    let failed = client.start(failing, 1).await.unwrap();
    let waiting = client.start(approval, 5).await.unwrap();
    reach(&client, done, Status::Completed).await;
    reach(&client, failed, Status::Failed).await;
    reach(&client, waiting, Status::Waiting).await;
    let app = router(client.clone(), Options::default());

    let all = get(&app, "/api/runs").await;
    assert_eq!(all.status, StatusCode::OK);
    let all = all.json();
    let runs = all["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(all["next"], serde_json::Value::Null);
    let first = &runs[0];
    assert_eq!(first["id"], done.0);
    assert_eq!(first["workflow"], "looping");
    assert_eq!(first["status"], "completed");
    assert!(first["transitions"].as_u64().unwrap() >= 2);
    assert!(first["created_at_ms"].as_u64().unwrap() > 1_600_000_000_000);
    let progress = first["progress"].as_array().unwrap();
    assert_eq!(progress[0], progress[1], "a completed run is at its end");
    assert_eq!(runs[2]["state"], client.status(waiting).unwrap().state);

    let failed_only = get(&app, "/api/runs?status=failed").await.json();
    let ids: Vec<u64> = failed_only["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [failed.0]);
    let error = failed_only["runs"][0]["error"].as_str().unwrap();
    assert!(error.contains("refused"), "{error}");

    let by_workflow = get(&app, "/api/runs?workflow=approval").await.json();
    assert_eq!(by_workflow["runs"].as_array().unwrap().len(), 1);
    let future = u64::MAX / 2;
    let none = get(&app, &format!("/api/runs?created_since={future}"))
        .await
        .json();
    assert!(none["runs"].as_array().unwrap().is_empty());

    // Two pages of one, then the last.
    let page1 = get(&app, "/api/runs?limit=2").await.json();
    assert_eq!(page1["runs"].as_array().unwrap().len(), 2);
    let cursor = page1["next"].as_str().expect("a next cursor").to_owned();
    let page2 = get(&app, &format!("/api/runs?limit=2&after={cursor}"))
        .await
        .json();
    assert_eq!(page2["runs"][0]["id"], waiting.0);
    assert_eq!(page2["next"], serde_json::Value::Null);

    for bad in [
        "/api/runs?status=sleeping",
        "/api/runs?limit=0",
        "/api/runs?limit=100000",
        "/api/runs?after=abc",
        "/api/runs?created_since=yesterday",
    ] {
        let reply = get(&app, bad).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(reply.error_kind(), "bad_request", "{bad}");
    }

    let counts = get(&app, "/api/counts").await.json();
    assert_eq!(counts["total"], 3);
    assert_eq!(counts["by_status"]["completed"], 1);
    assert_eq!(counts["by_status"]["failed"], 1);
    assert_eq!(counts["by_status"]["waiting"], 1);
    assert_eq!(counts["by_status"]["paused"], 0);

    let workflows = get(&app, "/api/workflows").await.json();
    let names: Vec<&str> = workflows
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["approval", "failing", "looping", "sleeper"]);
    runtime.shutdown().await;
}

/// A run's page data: status, graph, key-value state, output, the question while it waits,
/// and its timeline; the timeline and history pages; the answer that lets it finish, refused
/// without the CSRF token, with a wrong one, when it does not fit, when malformed, twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_run_is_shown_and_answered() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime(dir.path());
    let client = runtime.client();
    let run = client.start(approval, 41).await.unwrap();
    reach(&client, run, Status::Waiting).await;
    let app = router(client.clone(), Options::default());
    let token = csrf(&app).await;

    let view = get(&app, &format!("/api/runs/{run}")).await;
    assert_eq!(view.status, StatusCode::OK);
    let view = view.json();
    assert_eq!(view["run"]["status"], "waiting");
    assert_eq!(view["question"]["kind"], "approval");
    assert_eq!(view["question"]["text"], "Publish 42?");
    let options: Vec<&str> = view["question"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(options, ["approve", "reject"]);
    assert!(view["state"].is_object());
    assert_eq!(view["graph"]["workflow"], "approval");
    assert!(view["graph"]["states"].as_array().unwrap().len() >= 3);
    let timeline = &view["timeline"];
    assert_eq!(timeline["items"][0]["type"], "record");
    assert_eq!(timeline["items"][0]["kind"], "step");
    assert_eq!(timeline["items"][0]["step"], "prepare");
    assert_eq!(timeline["visited"].as_object().unwrap().len(), 1);

    let uri = format!("/api/runs/{run}/answer");
    let approve = r#"{"answer": "approved"}"#;
    let missing = request(&app, "POST", &uri, &[], Some(approve)).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert_eq!(missing.error_kind(), "csrf");
    let wrong = request(
        &app,
        "POST",
        &uri,
        &[("x-cairn-csrf", "0123")],
        Some(approve),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(wrong.error_kind(), "csrf");
    let misfit = post(
        &app,
        &token,
        &uri,
        Some(r#"{"answer": {"choice": "maybe"}}"#),
    )
    .await;
    assert_eq!(
        misfit.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        misfit.text()
    );
    assert_eq!(misfit.error_kind(), "invalid_answer");
    let malformed = post(&app, &token, &uri, Some(r#"{"answer": 7}"#)).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    let not_json = post(&app, &token, &uri, Some("approve")).await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        client.status(run).unwrap().status,
        Status::Waiting,
        "nothing changed"
    );

    let answered = post(&app, &token, &uri, Some(approve)).await;
    assert_eq!(answered.status, StatusCode::OK, "{}", answered.text());
    assert_eq!(answered.json()["answer"], "approved");
    reach(&client, run, Status::Completed).await;
    let again = post(&app, &token, &uri, Some(approve)).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text());

    let view = get(&app, &format!("/api/runs/{run}")).await.json();
    assert_eq!(view["run"]["status"], "completed");
    assert_eq!(view["question"], serde_json::Value::Null);
    assert_eq!(view["output"], "published 42");
    assert_eq!(view["state"]["prepared"], 42, "{view:#}");
    let items = view["timeline"]["items"].as_array().unwrap();
    let steps: Vec<&str> = items.iter().filter_map(|i| i["step"].as_str()).collect();
    assert_eq!(steps, ["prepare", "wait_for_user", "publish"]);
    assert_eq!(items[1]["kind"], "wait", "the wait for a person is a gap");
    assert_eq!(items.last().unwrap()["kind"], "end");
    assert_eq!(items.last().unwrap()["outcome"], "completed");

    let history = get(&app, &format!("/api/runs/{run}/history?offset=1&limit=1")).await;
    assert_eq!(history.status, StatusCode::OK);
    let history = history.json();
    assert_eq!(history["total"], 4);
    assert_eq!(history["records"].as_array().unwrap().len(), 1);
    assert_eq!(history["records"][0]["step"], "wait_for_user");
    let page = get(&app, &format!("/api/runs/{run}/timeline?offset=3&limit=5"))
        .await
        .json();
    assert_eq!(page["offset"], 3);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let bad = get(&app, &format!("/api/runs/{run}/timeline?limit=0")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    runtime.shutdown().await;
}

/// Pause, unpause and cancel a sleeping run, each idempotent where the client's is, and the
/// typed conflicts after; resume of a failed run; 404 for a run that does not exist, 400 for
/// an id that is not one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controls_change_runs_and_refuse_with_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime(dir.path());
    let client = runtime.client();
    let sleeping = client.start(sleeper, 3_600).await.unwrap();
    let failed = client.start(failing, 1).await.unwrap();
    reach(&client, sleeping, Status::Waiting).await;
    reach(&client, failed, Status::Failed).await;
    let app = router(client.clone(), Options::default());
    let token = csrf(&app).await;
    let act = |run: RunId, action: &str| format!("/api/runs/{run}/{action}");

    let paused = post(&app, &token, &act(sleeping, "pause"), None).await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.text());
    assert_eq!(paused.json()["run"]["status"], "paused");
    assert_eq!(
        post(&app, &token, &act(sleeping, "pause"), None)
            .await
            .status,
        StatusCode::OK
    );
    let unpaused = post(&app, &token, &act(sleeping, "unpause"), None).await;
    assert_eq!(unpaused.status, StatusCode::OK);
    // In this process the run is taken up at once, and goes back to its sleep.
    let status = unpaused.json()["run"]["status"].clone();
    assert!(status == "running" || status == "waiting", "{status}");
    reach(&client, sleeping, Status::Waiting).await;
    let not_paused = post(&app, &token, &act(sleeping, "unpause"), None).await;
    assert_eq!(not_paused.status, StatusCode::CONFLICT);
    assert_eq!(not_paused.error_kind(), "not_paused");
    let cancelled = post(&app, &token, &act(sleeping, "cancel"), None).await;
    assert_eq!(cancelled.status, StatusCode::OK);
    assert_eq!(cancelled.json()["run"]["status"], "cancelled");
    assert_eq!(client.status(sleeping).unwrap().status, Status::Cancelled);
    assert_eq!(
        post(&app, &token, &act(sleeping, "cancel"), None)
            .await
            .status,
        StatusCode::OK
    );
    let not_pausable = post(&app, &token, &act(sleeping, "pause"), None).await;
    assert_eq!(not_pausable.status, StatusCode::CONFLICT);
    assert_eq!(not_pausable.error_kind(), "not_pausable");
    let not_resumable = post(&app, &token, &act(sleeping, "resume"), None).await;
    assert_eq!(not_resumable.status, StatusCode::CONFLICT);
    assert_eq!(not_resumable.error_kind(), "not_resumable");
    let not_cancellable = post(&app, &token, &act(failed, "cancel"), None).await;
    assert_eq!(not_cancellable.status, StatusCode::CONFLICT);
    assert_eq!(not_cancellable.error_kind(), "not_cancellable");

    // The failed run's page shows its error; resuming runs the failing step again.
    let view = get(&app, &format!("/api/runs/{failed}")).await.json();
    assert!(view["run"]["error"].as_str().unwrap().contains("refused 2"));
    let last = view["timeline"]["items"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["outcome"], "failed");
    let before = client.history(failed).unwrap().len();
    let resumed = post(&app, &token, &act(failed, "resume"), None).await;
    assert_eq!(resumed.status, StatusCode::OK, "{}", resumed.text());
    reach(&client, failed, Status::Failed).await;
    tokio::time::timeout(Duration::from_secs(20), async {
        while client.history(failed).unwrap().len() == before {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the resumed run fails again, and says so in its history");

    let unknown = RunId(999_999);
    for uri in [
        format!("/api/runs/{unknown}"),
        format!("/api/runs/{unknown}/timeline"),
        format!("/api/runs/{unknown}/history"),
        format!("/api/runs/{unknown}/events"),
    ] {
        let reply = get(&app, &uri).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(reply.error_kind(), "unknown_run", "{uri}");
    }
    for action in ["cancel", "pause", "unpause", "resume"] {
        let reply = post(&app, &token, &act(unknown, action), None).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{action}: {}",
            reply.text()
        );
        assert_eq!(reply.error_kind(), "unknown_run");
    }
    let answer = post(
        &app,
        &token,
        &act(unknown, "answer"),
        Some(r#"{"answer":"approved"}"#),
    )
    .await;
    assert!(
        matches!(answer.status, StatusCode::NOT_FOUND | StatusCode::CONFLICT),
        "{}",
        answer.text()
    );
    for uri in ["/api/runs/abc", "/api/runs/-1/timeline", "/runs/abc"] {
        let reply = get(&app, uri).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}");
    }
    assert_eq!(
        post(&app, &token, "/api/runs/x/cancel", None).await.status,
        StatusCode::BAD_REQUEST
    );
    let wrong_method = get(&app, &act(sleeping, "cancel")).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    runtime.shutdown().await;
}

/// A loop of 40 iterations folds into one timeline item; its records stay readable a page at
/// a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loop_iterations_fold_in_the_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime(dir.path());
    let client = runtime.client();
    let run = client.start(looping, 40).await.unwrap();
    reach(&client, run, Status::Completed).await;
    let app = router(client.clone(), Options::default());
    let view = get(&app, &format!("/api/runs/{run}")).await.json();
    let timeline = &view["timeline"];
    assert_eq!(timeline["records"], 41);
    let items = timeline["items"].as_array().unwrap();
    let folded: Vec<&serde_json::Value> = items.iter().filter(|i| i["type"] == "loop").collect();
    assert_eq!(folded.len(), 1, "{items:#?}");
    assert_eq!(folded[0]["iterations"], 40);
    assert_eq!(folded[0]["body"][0][1], "prepare");
    assert_eq!(timeline["visited"].as_object().unwrap().len(), 1);
    let history = get(&app, &format!("/api/runs/{run}/history?offset=10&limit=5"))
        .await
        .json();
    assert_eq!(history["records"].as_array().unwrap().len(), 5);
    assert_eq!(history["records"][0]["number"], 11);
    runtime.shutdown().await;
}

/// The pages and assets: HTML with the CSRF token and a strict Content-Security-Policy, CSS
/// and scripts with their types, JSON 404 for the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_assets_are_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime(dir.path());
    let app = router(runtime.client(), Options::default());
    let page = get(&app, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("name=\"csrf-token\""));
    assert!(!page.text().contains("{{CSRF}}"));
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert_eq!(csrf(&app).await.len(), 64);
    let run_page = get(&app, "/runs/1").await;
    assert_eq!(run_page.status, StatusCode::OK);
    assert!(run_page.text().contains("/assets/graph.js"));
    for (asset, kind) in [
        ("app.css", "text/css"),
        ("common.js", "text/javascript"),
        ("runs.js", "text/javascript"),
        ("run.js", "text/javascript"),
        ("graph.js", "text/javascript"),
        ("timeline.js", "text/javascript"),
    ] {
        let reply = get(&app, &format!("/assets/{asset}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{asset}");
        assert!(
            reply.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        assert!(reply.body.len() > 500, "{asset} is not empty");
    }
    let missing = get(&app, "/assets/nope.js").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let nowhere = get(&app, "/nowhere").await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert_eq!(nowhere.error_kind(), "not_found");
    // Another router has another CSRF token.
    let other = router(runtime.client(), Options::default());
    assert_ne!(csrf(&app).await, csrf(&other).await);
    runtime.shutdown().await;
}

/// Live updates: a run's stream sends its progress (and ends after the final one); the
/// table's stream sends the counts and the runs it follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_send_progress() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime(dir.path());
    let client = runtime.client();
    let run = client.start(looping, 3).await.unwrap();
    reach(&client, run, Status::Completed).await;
    let app = router(client.clone(), Options::default());

    let body = |uri: String| {
        let app = app.clone();
        async move {
            let request = axum::http::Request::get(uri)
                .header(header::HOST, HOST)
                .body(axum::body::Body::empty())
                .unwrap();
            let response = app.oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(
                response.headers()[header::CONTENT_TYPE],
                "text/event-stream"
            );
            response.into_body()
        }
    };
    let mut stream = body(format!("/api/runs/{run}/events")).await;
    let frame = stream.frame().await.unwrap().unwrap().into_data().unwrap();
    let text = String::from_utf8_lossy(&frame).into_owned();
    assert!(text.starts_with("event: update"), "{text}");
    assert!(
        text.contains("\"status\":\"completed\"") && text.contains("\"last\":true"),
        "{text}"
    );
    assert!(
        stream.frame().await.is_none(),
        "the stream ends after the final update"
    );

    let mut table = body(format!("/api/events?runs={run}")).await;
    let mut seen = String::new();
    while !(seen.contains("event: counts") && seen.contains("event: run")) {
        let frame = tokio::time::timeout(Duration::from_secs(5), table.frame())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .unwrap();
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    assert!(seen.contains("\"total\":1"), "{seen}");
    let bad = get(&app, "/api/events?runs=1,x").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    runtime.shutdown().await;
}

/// With an access token every request needs it (bearer or cookie; `/?token=` sets the
/// cookie); without one only loopback host names are served; a non-loopback bind without a
/// token is refused, and so is a token that does not fit in a cookie.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_is_guarded() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime(dir.path());
    let client = runtime.client();

    let open = router(client.clone(), Options::default());
    // A page elsewhere that points its own name at 127.0.0.1 (DNS rebinding).
    let rebinding = {
        let req = axum::http::Request::get("/api/counts")
            .header(header::HOST, "evil.example:7777")
            .body(axum::body::Body::empty())
            .unwrap();
        open.clone().oneshot(req).await.unwrap().status()
    };
    assert_eq!(rebinding, StatusCode::FORBIDDEN);
    for host in ["localhost:1", "127.0.0.1", "[::1]:8080"] {
        let req = axum::http::Request::get("/api/counts")
            .header(header::HOST, host)
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(
            open.clone().oneshot(req).await.unwrap().status(),
            StatusCode::OK,
            "{host}"
        );
    }

    let guarded = router(client.clone(), Options::with_token("s3cret-token"));
    let refused = get(&guarded, "/api/counts").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.error_kind(), "unauthorized");
    assert_eq!(get(&guarded, "/").await.status, StatusCode::UNAUTHORIZED);
    let wrong = request(
        &guarded,
        "GET",
        "/api/counts",
        &[("authorization", "Bearer nope")],
        None,
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let bearer = request(
        &guarded,
        "GET",
        "/api/counts",
        &[("authorization", "Bearer s3cret-token")],
        None,
    )
    .await;
    assert_eq!(bearer.status, StatusCode::OK);
    let login = get(&guarded, "/?token=s3cret-token").await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    assert_eq!(login.headers[header::LOCATION], "/");
    let cookie = login.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let pair = cookie.split(';').next().unwrap();
    let with_cookie = request(&guarded, "GET", "/api/counts", &[("cookie", pair)], None).await;
    assert_eq!(with_cookie.status, StatusCode::OK);
    assert_eq!(
        get(&guarded, "/?token=wrong").await.status,
        StatusCode::UNAUTHORIZED
    );
    // The token does not replace the CSRF token for a change.
    let post_without_csrf = request(
        &guarded,
        "POST",
        "/api/runs/1/cancel",
        &[("authorization", "Bearer s3cret-token")],
        None,
    )
    .await;
    assert_eq!(post_without_csrf.status, StatusCode::FORBIDDEN);
    // With a token, any host is served (the token is the guard).
    let req = axum::http::Request::get("/api/counts")
        .header(header::HOST, "dashboard.internal")
        .header(header::AUTHORIZATION, "Bearer s3cret-token")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(
        guarded.clone().oneshot(req).await.unwrap().status(),
        StatusCode::OK
    );

    let everywhere: SocketAddr = "0.0.0.0:0".parse().unwrap();
    let refused = serve(client.clone(), everywhere, Options::default()).await;
    assert!(
        matches!(refused, Err(ServeError::NonLoopbackWithoutToken { .. })),
        "{refused:?}"
    );
    let message = refused.unwrap_err().to_string();
    assert!(message.contains("--token"), "{message}");
    let listener = tokio::net::TcpListener::bind(everywhere).await.unwrap();
    let refused = serve_listener(client.clone(), listener, Options::default()).await;
    assert!(matches!(
        refused,
        Err(ServeError::NonLoopbackWithoutToken { .. })
    ));
    let bad_token = serve(
        client.clone(),
        "127.0.0.1:0".parse().unwrap(),
        Options::with_token("has space"),
    )
    .await;
    assert!(
        matches!(bad_token, Err(ServeError::BadToken)),
        "{bad_token:?}"
    );

    // A real socket: bound on loopback, served, answering over TCP.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(serve_listener(client.clone(), listener, Options::default()));
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(
            format!("GET /api/counts HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("\"total\":0"), "{reply}");
    server.abort();
    runtime.shutdown().await;
}
