//! The dashboard's acceptance figures (figure 9 of BENCHMARKS.md), timed as a browser asks:
//! HTTP/1.1 requests over a real loopback socket to the served router.
//!
//! 9a. `runs`: a store of 1,000,000 finished runs (one in ten failed), stored with
//!     `start_many`; the first page of the runs table (`GET /api/runs`, 50 runs, no filter
//!     and filtered by status), the counts, and the page itself. Target: under 100 ms.
//! 9b. `history`: one run of 100,000 transitions (a loop of 100,000 steps); opening its page:
//!     `GET /api/runs/{id}` (status, graph, state and the first page of the timeline, which
//!     reads and folds the whole history), and a page of its raw history deep inside. Target:
//!     the run opens in under a second.
//!
//! Where `chromium` and `chromedriver` are installed, each group also opens the page in
//! headless Chromium (WebDriver) and times it from the navigation until the table's rows (9a)
//! or the run's timeline and graph (9b) are drawn: what a person waits for.
//!
//! `cargo bench -p cairn-dashboard --bench dashboard` (`-- runs`, `-- history` for one
//! group). `CAIRN_BENCH_RUNS=n` changes the number of runs (default 1,000,000),
//! `CAIRN_BENCH_TRANSITIONS=n` the length of the long run (default 100,000),
//! `CAIRN_BENCH_SAMPLES=k` the requests timed per figure (default 21): each figure is the
//! median and the range of those. The store is built with process-crash durability, under
//! the target directory (`CAIRN_BENCH_DIR` overrides it).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use cairn::{Client, Context, Durability, Error, LmdbOptions, Runtime, Status, workflow};
use cairn_dashboard::{Options, serve_listener};
use fantoccini::{Client as Browser, ClientBuilder, Locator};

/// Finishes at once; one in ten fails, so that one status is a tenth of the runs.
#[workflow]
async fn quick(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let _ = ctx;
    if n % 10 == 0 {
        return Err(format!("run {n} fails on purpose"));
    }
    Ok(n)
}

async fn add(n: u64) -> Result<u64, String> {
    Ok(n + 1)
}

/// One step per item: `n` transitions.
#[workflow]
async fn long_loop(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let mut sum = 0;
    for i in 0..n {
        let x = ctx.task(add, i).await?;
        sum += x;
    }
    Ok(sum)
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn scratch() -> tempfile::TempDir {
    let dir = std::env::var_os("CAIRN_BENCH_DIR").map_or_else(
        || env!("CARGO_TARGET_TMPDIR").into(),
        std::path::PathBuf::from,
    );
    tempfile::Builder::new()
        .prefix("cairn-dashboard-bench-")
        .tempdir_in(dir)
        .expect("scratch dir")
}

fn start(dir: &Path) -> Result<Runtime, Error> {
    Runtime::builder()
        .lmdb(LmdbOptions::new().path(dir).map_size(16 << 30))
        .durability(Durability::ProcessCrash)
        .register(quick)
        .register(long_loop)
        .start()
}

/// Starts `n` runs of `quick` in chunks of `start_many` and waits until all are finished.
async fn fill(client: &Client, n: u64) -> Result<(), Error> {
    const CHUNK: u64 = 10_000;
    let finished = |client: &Client| -> Result<u64, Error> {
        let counts = client.count_by_status()?;
        Ok(counts.get(Status::Completed) + counts.get(Status::Failed))
    };
    let mut started = 0;
    while started < n {
        let count = CHUNK.min(n - started);
        client.start_many(quick, started..started + count).await?;
        started += count;
        while finished(client)? + 3 * CHUNK < started {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    while finished(client)? < n {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// Serves the dashboard over `client` on a loopback port.
async fn serve(client: Client) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(serve_listener(client, listener, Options::default()));
    addr
}

/// One GET over a fresh connection, as a browser's first request: the time until the whole
/// response is read, and its size.
fn get(addr: SocketAddr, path: &str) -> (Duration, usize) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).expect("connects");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("sends");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("reads");
    let elapsed = started.elapsed();
    assert!(
        reply.starts_with(b"HTTP/1.1 200"),
        "{path}: {}",
        String::from_utf8_lossy(&reply[..reply.len().min(300)])
    );
    (elapsed, reply.len())
}

/// Times `samples` requests of `path` (after one to warm up) and prints the median and range.
fn time(addr: SocketAddr, name: &str, path: &str, samples: usize) {
    get(addr, path);
    let mut times: Vec<Duration> = Vec::with_capacity(samples);
    let mut bytes = 0;
    for _ in 0..samples {
        let (elapsed, size) = get(addr, path);
        times.push(elapsed);
        bytes = size;
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "  {name:<52} median {:>9.3} ms  range {:.3} - {:.3} ms  ({bytes} bytes)",
        ms(times[samples / 2]),
        ms(times[0]),
        ms(times[samples - 1]),
    );
}

/// Headless Chromium over chromedriver, if both are installed; the driver is killed on drop.
struct Chromium {
    driver: std::process::Child,
    browser: Browser,
    _profile: tempfile::TempDir,
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

async fn chromium() -> Option<Chromium> {
    let on_path = |name: &str| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    };
    let (Some(chromium), Some(chromedriver)) = (on_path("chromium"), on_path("chromedriver"))
    else {
        println!("  (no chromium/chromedriver on the PATH: the browser figure is skipped)");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let driver = std::process::Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(20) {
            println!("  (chromedriver does not listen: the browser figure is skipped)");
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let profile = scratch();
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
        format!("--user-data-dir={}", profile.path().display()),
    ];
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({ "binary": chromium, "args": args }),
    );
    let browser =
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(browser) => browser,
            Err(e) => {
                println!("  (no browser session: {e}; the browser figure is skipped)");
                return None;
            }
        };
    Some(Chromium {
        driver,
        browser,
        _profile: profile,
    })
}

/// Times `samples` openings of `url` in the browser until every one of `drawn` (CSS
/// selectors) is on the page.
async fn time_in_browser(name: &str, url: &str, drawn: &[&str], samples: usize) {
    let Some(chromium) = chromium().await else {
        return;
    };
    let browser = &chromium.browser;
    let mut times = Vec::with_capacity(samples);
    for i in 0..=samples {
        // A blank page between openings, so that each one loads from scratch.
        browser.goto("about:blank").await.expect("about:blank");
        let started = Instant::now();
        browser.goto(url).await.expect("the page loads");
        for css in drawn {
            browser
                .wait()
                .at_most(Duration::from_secs(60))
                .for_element(Locator::Css(css))
                .await
                .unwrap_or_else(|e| panic!("{css} not drawn: {e}"));
        }
        let elapsed = started.elapsed();
        if std::env::var_os("CAIRN_BENCH_VERBOSE").is_some() {
            eprintln!("    opening {i}: {elapsed:?}");
        }
        if i > 0 {
            times.push(elapsed);
        }
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "  {name:<52} median {:>9.3} ms  range {:.3} - {:.3} ms",
        ms(times[samples / 2]),
        ms(times[0]),
        ms(times[samples - 1]),
    );
    let _ = chromium.browser.clone().close().await;
}

async fn runs_figures(samples: usize) -> Result<(), Error> {
    let n = env_number("CAIRN_BENCH_RUNS", 1_000_000);
    let dir = scratch();
    let runtime = start(dir.path())?;
    let client = runtime.client();
    let started = Instant::now();
    fill(&client, n).await?;
    let built = started.elapsed();
    println!(
        "9a. the runs table among {n} stored runs (built in {:.1} s, {:.0} runs/s; {samples} requests each)",
        built.as_secs_f64(),
        n as f64 / built.as_secs_f64()
    );
    let addr = serve(client.clone()).await;
    tokio::task::spawn_blocking(move || {
        time(
            addr,
            "first page (50), no filter: GET /api/runs",
            "/api/runs?limit=50",
            samples,
        );
        time(
            addr,
            "first page (50) of failed runs",
            "/api/runs?status=failed&limit=50",
            samples,
        );
        let deep = n / 2;
        time(
            addr,
            "a page deep in (cursor at run n/2)",
            &format!("/api/runs?limit=50&after={deep}"),
            samples,
        );
        time(
            addr,
            "counts by status: GET /api/counts",
            "/api/counts",
            samples,
        );
        time(addr, "the page: GET /", "/", samples);
    })
    .await
    .expect("the requests run");
    time_in_browser(
        "in Chromium: open /, until the 50 rows are drawn",
        &format!("http://{addr}/"),
        &["#runs tbody tr:nth-of-type(50)", ".count"],
        samples.min(7),
    )
    .await;
    runtime.shutdown().await;
    Ok(())
}

async fn history_figures(samples: usize) -> Result<(), Error> {
    let n = env_number("CAIRN_BENCH_TRANSITIONS", 100_000);
    let dir = scratch();
    let runtime = start(dir.path())?;
    let client = runtime.client();
    let started = Instant::now();
    let run = client.start(long_loop, n).await?;
    client.wait(long_loop, run).await?;
    let built = started.elapsed();
    let records = client.history(run)?.len();
    println!(
        "9b. opening a run of {n} transitions ({records} history records, run in {:.1} s; {samples} requests each)",
        built.as_secs_f64()
    );
    let addr = serve(client.clone()).await;
    tokio::task::spawn_blocking(move || {
        time(
            addr,
            "the run: GET /api/runs/{id} (graph, state, timeline)",
            &format!("/api/runs/{run}"),
            samples,
        );
        time(
            addr,
            "the page: GET /runs/{id}",
            &format!("/runs/{run}"),
            samples,
        );
        let middle = n / 2;
        time(
            addr,
            "raw history, 100 records from n/2",
            &format!("/api/runs/{run}/history?offset={middle}&limit=100"),
            samples,
        );
        time(
            addr,
            "a timeline page: GET /api/runs/{id}/timeline",
            &format!("/api/runs/{run}/timeline?offset=0&limit=200"),
            samples,
        );
    })
    .await
    .expect("the requests run");
    time_in_browser(
        "in Chromium: open /runs/{id}, until timeline and graph",
        &format!("http://{addr}/runs/{run}"),
        &[
            "#status.completed",
            ".tl-row[data-kind='loop']",
            "#graph svg .node.current",
        ],
        samples.min(7),
    )
    .await;
    runtime.shutdown().await;
    Ok(())
}

fn main() -> Result<(), Error> {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    let samples = usize::try_from(env_number("CAIRN_BENCH_SAMPLES", 21))
        .unwrap_or(21)
        .max(1);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    if wanted("history") {
        tokio.block_on(history_figures(samples))?;
    }
    if wanted("runs") {
        tokio.block_on(runs_figures(samples))?;
    }
    Ok(())
}
