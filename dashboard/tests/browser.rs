//! The dashboard in a real browser: headless Chromium (Debian's `chromium`), driven over
//! WebDriver (`chromedriver`, from `chromium-driver`) by fantoccini. Each test clicks what a
//! person clicks and waits for what a person sees.
//!
//! 1. A run waits for approval: its page shows the question, "Approve" is clicked, and the
//!    page shows the run `completed` with its last step in the timeline.
//! 2. A run sleeps for an hour: its "Cancel" button in the runs table is clicked, and the
//!    table shows it cancelled (and the store says so).
//!
//! Without Chromium or chromedriver the tests fail and say what to install: they never pass
//! without a browser, unless `CAIRN_SKIP_BROWSER=1` ends this test process at once, saying
//! so (as `CAIRN_SKIP_POSTGRES=1` does for the PostgreSQL tests; CI never sets it). With
//! `CAIRN_UPDATE_SCREENSHOTS=1` they also write the screenshots the README shows
//! (`docs/runs.png`, `docs/run.png`); otherwise the screenshots go under the target
//! directory, so that a test run leaves the work tree clean.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cairn::Status;
use cairn_dashboard::{Options, serve_listener};
use fantoccini::{Client as Browser, ClientBuilder, Locator};
use support::*;

/// How long a page may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(30);

const INSTALL: &str = "the browser tests need Chromium and its WebDriver: \
                       `apt-get install -y chromium chromium-driver` (.ci/run installs them)";

/// The first of `names` found on the PATH (Debian names the driver `chromedriver`).
fn find(names: &[&str]) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!("{} not found on the PATH: {INSTALL}", names.join(" or "));
}

/// A chromedriver process and the profile of the browser it starts. Dropped, it kills the
/// driver and the browser processes of that profile (a test that fails before closing its
/// session would otherwise leave Chromium running).
struct Driver {
    child: Child,
    url: String,
    profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let flag = format!("--user-data-dir={}", self.profile.display());
        let Ok(processes) = std::fs::read_dir("/proc") else {
            return;
        };
        for process in processes.flatten() {
            let Ok(pid) = process.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmdline = std::fs::read(process.path().join("cmdline")).unwrap_or_default();
            let ours = cmdline.split(|&b| b == 0).any(|arg| arg == flag.as_bytes());
            if ours {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            }
        }
    }
}

/// Ends this test process, successfully, saying that its browser tests were skipped
/// (`CAIRN_SKIP_BROWSER=1`): Rust's test harness has no way to mark a test skipped at run time.
fn skip() -> ! {
    // Written to the file descriptor, not with `eprintln!`: the test harness captures what
    // the macros print in a test, and would drop it at the exit.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "\nSKIPPED: the dashboard's browser tests did not run (CAIRN_SKIP_BROWSER=1)"
    );
    std::process::exit(0)
}

/// Starts chromedriver on a free port and waits until it accepts connections; the browser
/// will use the fresh profile directory `profile`.
async fn driver(profile: &Path) -> Driver {
    if std::env::var("CAIRN_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        skip();
    }
    let binary = find(&["chromedriver"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&binary)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{} does not start ({e}): {INSTALL}", binary.display()));
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        profile: profile.to_owned(),
    };
    let started = std::time::Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver does not listen on port {port} after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    driver
}

/// A headless Chromium session with a fresh profile (flags that let it run as root in a
/// container, and keep it off the network).
async fn browser(driver: &Driver) -> Browser {
    let chromium = find(&["chromium", "chromium-browser", "google-chrome"]);
    let args = [
        "--headless=new".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--window-size=1360,1000".to_owned(),
        format!("--user-data-dir={}", driver.profile.display()),
    ];
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({ "binary": chromium, "args": args }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| panic!("no browser session ({e}): {INSTALL}"))
}

/// Serves the dashboard over `client` on a loopback port; returns its address.
async fn dashboard(client: cairn::Client) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve_listener(client, listener, Options::default()));
    addr
}

/// Waits for the element `css` to be there.
async fn see(browser: &Browser, css: &str) -> fantoccini::elements::Element {
    browser
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("`{css}` did not appear within {PATIENCE:?}: {e}"))
}

/// Clicks the element `css` selects, once it is there and can take the click. The page
/// renders parts of itself again as the run's updates stream in: a button found a moment
/// before may be replaced (stale) or not laid out yet (not interactable) when the click
/// lands; it is then found again, until `PATIENCE` runs out.
async fn click(browser: &Browser, css: &str) {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let clicked = see(browser, css).await.click().await;
        match clicked {
            Ok(()) => return,
            Err(error) if std::time::Instant::now() < deadline && re_rendered(&error) => {}
            Err(error) => panic!("clicking `{css}`: {error}"),
        }
    }
}

/// Whether a click failed because the page was rendering the element again.
fn re_rendered(error: &fantoccini::error::CmdError) -> bool {
    error.is_element_not_interactable() || error.is_stale_element_reference()
}

/// Saves a screenshot under the target directory, and in `docs/` when asked to.
async fn screenshot(browser: &Browser, name: &str) {
    let png = browser.screenshot().await.expect("a screenshot");
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&scratch, &png).unwrap();
    if std::env::var_os("CAIRN_UPDATE_SCREENSHOTS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join(name), &png).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approving_a_waiting_run_in_the_browser_completes_it() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime(&dir.path().join("data"));
    let client = runtime.client();
    // A few runs before it, so that the page is the run's among others.
    let looped = client.start(looping, 12).await.unwrap();
    reach(&client, looped, Status::Completed).await;
    let run = client.start(approval, 41).await.unwrap();
    reach(&client, run, Status::Waiting).await;
    let addr = dashboard(client.clone()).await;
    let driver = driver(&dir.path().join("profile")).await;
    let browser = browser(&driver).await;

    browser
        .goto(&format!("http://{addr}/runs/{run}"))
        .await
        .unwrap();
    see(&browser, "#status.waiting").await;
    let prompt = see(&browser, "#question .prompt").await;
    assert_eq!(prompt.text().await.unwrap(), "Publish 42?");
    see(&browser, "#graph svg .node.current").await;
    click(&browser, "button[data-answer='approve']").await;

    see(&browser, "#status.completed").await;
    let last = see(&browser, ".tl-row[data-step='publish']").await;
    assert!(last.text().await.unwrap().contains("publish"));
    see(&browser, ".tl-row[data-kind='end']").await;
    assert!(
        browser
            .find(Locator::Css("#question"))
            .await
            .unwrap()
            .attr("hidden")
            .await
            .unwrap()
            .is_some(),
        "the question is gone once answered"
    );
    assert_eq!(
        client.wait(approval, run).await.unwrap(),
        "published 42",
        "the store says the same"
    );
    screenshot(&browser, "run.png").await;
    browser.close().await.unwrap();
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_sleeping_run_from_the_runs_table() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime(&dir.path().join("data"));
    let client = runtime.client();
    // The table as a person finds it: finished, failed, waiting and sleeping runs.
    let done = client.start(looping, 30).await.unwrap();
    let failed = client.start(failing, 7).await.unwrap();
    let asking = client.start(approval, 1).await.unwrap();
    let sleeping = client.start(sleeper, 3_600).await.unwrap();
    reach(&client, done, Status::Completed).await;
    reach(&client, failed, Status::Failed).await;
    reach(&client, asking, Status::Waiting).await;
    reach(&client, sleeping, Status::Waiting).await;
    let addr = dashboard(client.clone()).await;
    let driver = driver(&dir.path().join("profile")).await;
    let browser = browser(&driver).await;

    browser.goto(&format!("http://{addr}/")).await.unwrap();
    see(
        &browser,
        &format!("tr[data-run='{sleeping}'][data-status='waiting']"),
    )
    .await;
    see(&browser, ".count[data-status='failed']").await;
    see(&browser, "#live.on").await;
    screenshot(&browser, "runs.png").await;
    click(
        &browser,
        &format!("tr[data-run='{sleeping}'] button.cancel"),
    )
    .await;

    see(
        &browser,
        &format!("tr[data-run='{sleeping}'][data-status='cancelled']"),
    )
    .await;
    assert_eq!(client.status(sleeping).unwrap().status, Status::Cancelled);
    // The other runs are untouched.
    assert_eq!(client.status(asking).unwrap().status, Status::Waiting);
    browser.close().await.unwrap();
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_run_shows_its_loop_folded_and_opens_its_records_a_page_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime(&dir.path().join("data"));
    let client = runtime.client();
    let run = client.start(looping, 2_000).await.unwrap();
    reach(&client, run, Status::Completed).await;
    let addr = dashboard(client.clone()).await;
    let driver = driver(&dir.path().join("profile")).await;
    let browser = browser(&driver).await;

    browser
        .goto(&format!("http://{addr}/runs/{run}"))
        .await
        .unwrap();
    see(&browser, "#status.completed").await;
    let folded = see(&browser, ".tl-row[data-kind='loop']").await;
    let text = folded.text().await.unwrap();
    assert!(
        text.contains("2,000 ×") || text.contains("2000 ×"),
        "{text}"
    );
    let rows = browser
        .find_all(Locator::Css("#timeline > .tl-row"))
        .await
        .unwrap();
    assert_eq!(
        rows.len(),
        2,
        "the loop and the end: 2,001 records in two rows"
    );
    click(&browser, ".tl-row[data-kind='loop'] button").await;
    see(&browser, ".tl-sub .tl-row:nth-of-type(100)").await;
    let opened = browser
        .find_all(Locator::Css(".tl-sub .tl-row"))
        .await
        .unwrap();
    assert_eq!(opened.len(), 100, "the first page of its records");
    click(&browser, ".tl-sub > button").await;
    see(&browser, ".tl-sub .tl-row:nth-of-type(200)").await;
    browser.close().await.unwrap();
    runtime.shutdown().await;
}

/// A browser allows six connections per host, and a page kept in the back/forward cache
/// would keep its event stream open: going back and forth between the table and a run ten
/// times must not run out of connections (it stalled for a minute before the pages closed
/// their streams on leaving).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn going_back_and_forth_does_not_run_out_of_connections() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime(&dir.path().join("data"));
    let client = runtime.client();
    let run = client.start(sleeper, 3_600).await.unwrap();
    reach(&client, run, Status::Waiting).await;
    let addr = dashboard(client.clone()).await;
    let driver = driver(&dir.path().join("profile")).await;
    let browser = browser(&driver).await;
    // Ten round trips take a few seconds; with streams left open, the seventh page waited
    // about a minute for a connection.
    let round_trips = async {
        for _ in 0..10 {
            browser.goto(&format!("http://{addr}/")).await.unwrap();
            see(&browser, "#live.on").await;
            click(&browser, &format!("tr[data-run='{run}'] a")).await;
            see(&browser, "#live.on").await;
            see(&browser, "#status.waiting").await;
            browser.back().await.unwrap();
            see(&browser, &format!("tr[data-run='{run}']")).await;
            see(&browser, "#live.on").await;
        }
    };
    tokio::time::timeout(PATIENCE, round_trips)
        .await
        .expect("ten round trips within 30 s: the pages close their streams on leaving");
    browser.close().await.unwrap();
    runtime.shutdown().await;
}
