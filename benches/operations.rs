//! Operating many runs (figure 8 of BENCHMARKS.md): listing and counting among 1,000,000
//! stored runs, purge throughput, and the data file's size under churn, each next to its
//! baseline measured in the same run.
//!
//! 8a. `listing`: 1,000,000 finished runs (one in ten failed); the first page (100) of one
//!     status, of one workflow, and a page deep in the status (after 50,000 runs), from the
//!     indexes, against the full scan `Client::list(Some(status))`; the counts by status,
//!     against counting that scan.
//! 8b. `purge`: runs purged per second (`Client::purge` of all of them), and the latency of
//!     a one-step workflow run while the purge goes on, against the same runs before it.
//! 8c. `churn`: 1,000,000 runs started, finished and purged in 10 waves of 100,000; the data
//!     file's size after each wave (LMDB reuses the pages a purge frees), against the size
//!     after the first wave and the file of the same runs kept.
//!
//! `cargo bench --bench operations` (`-- listing`, `-- churn` to run one group).
//! Process-crash durability and `start_many` keep the set-up short. `CAIRN_BENCH_RUNS=n`
//! changes the number of runs (default 1,000,000), `CAIRN_BENCH_REPEAT=k` the repetitions
//! (default 3): each figure is printed as the median and the range of the repetitions.
//! Scratch directories are under the target dir (`CAIRN_BENCH_DIR` overrides it).

#[path = "common/stats.rs"]
mod stats;

use std::path::Path;
use std::time::{Duration, Instant};

use cairn::{
    Client, Context, Durability, Error, LmdbOptions, RunFilter, Runtime, Status, workflow,
};
use stats::median_min_max;

/// Finishes at once (no await): a run costs one commit to start and one to finish. One in
/// ten fails, so that one status is a tenth of the runs.
#[workflow]
async fn quick(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let _ = ctx;
    if n % 10 == 0 {
        return Err(format!("run {n} fails on purpose"));
    }
    Ok(n)
}

async fn trivial(n: u64) -> u64 {
    std::hint::black_box(n)
}

/// What a running workflow does while a purge goes on: one step, then done.
#[workflow]
async fn one_step(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let x = ctx.step("s", trivial(n)).await;
    Ok(x)
}

fn runs() -> u64 {
    std::env::var("CAIRN_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn repeat() -> usize {
    std::env::var("CAIRN_BENCH_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

fn scratch() -> tempfile::TempDir {
    // Under the target dir, on the real disk: /tmp may be a tmpfs.
    let dir = std::env::var_os("CAIRN_BENCH_DIR").map_or_else(
        || env!("CARGO_TARGET_TMPDIR").into(),
        std::path::PathBuf::from,
    );
    tempfile::Builder::new()
        .prefix("cairn-bench-")
        .tempdir_in(dir)
        .expect("scratch dir")
}

fn start(dir: &Path, write_map: bool) -> Result<Runtime, Error> {
    Runtime::builder()
        .lmdb(
            LmdbOptions::new()
                .path(dir)
                .map_size(16 << 30)
                .write_map(write_map),
        )
        .durability(Durability::ProcessCrash)
        .register(quick)
        .register(one_step)
        .start()
}

/// Starts `n` runs of `quick` with `start_many` in chunks and waits until all are finished
/// (from the counts, so no run is read to find out).
async fn fill(client: &Client, n: u64) -> Result<(), Error> {
    const CHUNK: u64 = 10_000;
    let finished = |client: &Client| -> Result<u64, Error> {
        let counts = client.count_by_status()?;
        Ok(counts.get(Status::Completed) + counts.get(Status::Failed))
    };
    let base = finished(client)?;
    let mut started = 0;
    while started < n {
        let count = CHUNK.min(n - started);
        client.start_many(quick, started..started + count).await?;
        started += count;
        // At most a few chunks in flight, so memory stays that of a few thousand tasks.
        while finished(client)? + 3 * CHUNK < base + started {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    while finished(client)? < base + n {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// Median time of `k` calls of `f`.
fn time_median<T>(k: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::with_capacity(k);
    let mut last = None;
    for _ in 0..k {
        let started = Instant::now();
        last = Some(std::hint::black_box(f()));
        times.push(started.elapsed());
    }
    times.sort();
    (times[k / 2], last.expect("k > 0"))
}

/// Figures of one repetition, by name, in the order printed.
type Figures = Vec<(String, f64, &'static str)>;

fn summary(name: &str, unit: &str, values: &[f64]) {
    let (median, min, max) = median_min_max(values);
    println!("  {name:<58} median {median:>12.3} {unit:<6} range {min:.3} - {max:.3}");
}

fn report(title: &str, repetitions: &[Figures]) {
    println!("{title} ({} repetitions)", repetitions.len());
    for (i, (name, _, unit)) in repetitions[0].iter().enumerate() {
        let values: Vec<f64> = repetitions.iter().map(|r| r[i].1).collect();
        summary(name, unit, &values);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// 8a and 8b on one store of `n` runs.
async fn listing_and_purge(n: u64) -> Result<(Figures, Figures), Error> {
    let dir = scratch();
    let runtime = start(dir.path(), true)?;
    let client = runtime.client();
    let started = Instant::now();
    fill(&client, n).await?;
    let fill_time = started.elapsed();

    let mut listing = Figures::new();
    listing.push((
        "set-up: runs stored and finished per second".into(),
        n as f64 / fill_time.as_secs_f64(),
        "runs/s",
    ));
    let failed = RunFilter::new().status(Status::Failed);
    let (first, page) = time_median(5, || client.list_runs(&failed, 100, None));
    let page = page?;
    assert_eq!(page.runs.len() as u64, 100.min(n / 10));
    listing.push((
        "first page (100) of one status, from the index".into(),
        ms(first),
        "ms",
    ));
    let by_workflow = RunFilter::new().workflow("quick");
    let (first_wf, _) = time_median(5, || client.list_runs(&by_workflow, 100, None));
    listing.push((
        "first page (100) of one workflow, from the index".into(),
        ms(first_wf),
        "ms",
    ));
    // A cursor deep in the status: after the 50,000th failed run (run 500,001).
    let deep: cairn::Cursor = format!("{}", n / 2).parse().expect("a cursor");
    let (deep_page, _) = time_median(5, || client.list_runs(&failed, 100, Some(deep)));
    listing.push((
        "a page deep in the status (cursor at run n/2)".into(),
        ms(deep_page),
        "ms",
    ));
    let (scan, scanned) = time_median(1, || client.list(Some(Status::Failed)));
    assert_eq!(scanned?.len() as u64, n / 10);
    listing.push((
        "baseline: full scan, Client::list(Some(status))".into(),
        ms(scan),
        "ms",
    ));
    let (count, counts) = time_median(5, || client.count_by_status());
    assert_eq!(counts?.total(), n);
    listing.push((
        "counts by status, from the kept counts".into(),
        ms(count),
        "ms",
    ));
    let (count_scan, all) = time_median(1, || client.list(None).map(|runs| runs.len()));
    assert_eq!(all? as u64, n);
    listing.push((
        "baseline: counting a full scan, Client::list(None)".into(),
        ms(count_scan),
        "ms",
    ));

    // 8b: one-step runs, one after another, before and during the purge.
    let mut purge = Figures::new();
    let mut before = Vec::new();
    for i in 0..200 {
        let t = Instant::now();
        client.run(one_step, i).await?;
        before.push(t.elapsed());
    }
    let runner = {
        let client = client.clone();
        tokio::spawn(async move {
            let mut during = Vec::new();
            let mut i = 0;
            loop {
                let t = Instant::now();
                if client.run(one_step, i).await.is_err() {
                    break;
                }
                during.push(t.elapsed());
                i += 1;
                if DONE.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
            }
            during
        })
    };
    let started = Instant::now();
    let purged = client.purge(&RunFilter::new().workflow("quick")).await?;
    let purge_time = started.elapsed();
    DONE.store(true, std::sync::atomic::Ordering::Relaxed);
    let during = runner.await.expect("runner");
    DONE.store(false, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(purged, n);
    purge.push((
        "runs purged per second".into(),
        n as f64 / purge_time.as_secs_f64(),
        "runs/s",
    ));
    let pct = |v: &[Duration], p: f64| {
        let mut v = v.to_vec();
        v.sort();
        ms(v[((v.len() - 1) as f64 * p) as usize])
    };
    purge.push((
        "one-step run during the purge: median".into(),
        pct(&during, 0.5),
        "ms",
    ));
    purge.push((
        "one-step run during the purge: p99".into(),
        pct(&during, 0.99),
        "ms",
    ));
    purge.push((
        "one-step run during the purge: max".into(),
        pct(&during, 1.0),
        "ms",
    ));
    purge.push((
        "baseline: one-step run before the purge: median".into(),
        pct(&before, 0.5),
        "ms",
    ));
    purge.push((
        "baseline: one-step run before the purge: max".into(),
        pct(&before, 1.0),
        "ms",
    ));
    purge.push((
        "one-step runs completed during the purge".into(),
        during.len() as f64,
        "runs",
    ));
    runtime.shutdown().await;
    Ok((listing, purge))
}

static DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// 8c: `n` runs in 10 waves, each started, finished and purged; the file after each wave.
async fn churn(n: u64) -> Result<Figures, Error> {
    let dir = scratch();
    // Without the write map: with it, LMDB sizes the file to the whole map at once.
    let runtime = start(dir.path(), false)?;
    let client = runtime.client();
    let file = dir.path().join("data.mdb");
    let mut figures = Figures::new();
    let wave = n / 10;
    for w in 1..=10 {
        fill(&client, wave).await?;
        let full = std::fs::metadata(&file).map_or(0, |m| m.len());
        let purged = client.purge(&RunFilter::new()).await?;
        assert_eq!(purged, wave);
        let size = std::fs::metadata(&file).map_or(0, |m| m.len());
        let mib = |b: u64| b as f64 / (1 << 20) as f64;
        println!(
            "    wave {w:>2}: {wave} runs; data file {:>8.1} MiB with them, {:>8.1} MiB after the purge",
            mib(full),
            mib(size)
        );
        figures.push((
            format!("data file after wave {w:>2} (started, finished, purged)"),
            mib(size),
            "MiB",
        ));
    }
    runtime.shutdown().await;
    // The baseline: the same runs kept, in a directory of their own.
    let kept = scratch();
    let runtime = start(kept.path(), false)?;
    fill(&runtime.client(), n).await?;
    let size = std::fs::metadata(kept.path().join("data.mdb")).map_or(0, |m| m.len());
    figures.push((
        "baseline: data file with all the runs kept (no purge)".into(),
        size as f64 / (1 << 20) as f64,
        "MiB",
    ));
    runtime.shutdown().await;
    Ok(figures)
}

fn main() -> Result<(), Error> {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let n = runs();
    let (mut listings, mut purges, mut churns) = (Vec::new(), Vec::new(), Vec::new());
    for r in 1..=repeat() {
        if wanted("listing") || wanted("purge") {
            eprintln!("repetition {r}: listing and purge of {n} runs");
            let (listing, purge) = tokio.block_on(listing_and_purge(n))?;
            listings.push(listing);
            purges.push(purge);
        }
        if wanted("churn") {
            eprintln!("repetition {r}: churn of {n} runs");
            churns.push(tokio.block_on(churn(n))?);
        }
    }
    if !listings.is_empty() {
        report(&format!("8a. listing among {n} stored runs"), &listings);
        report(&format!("8b. purge of {n} runs"), &purges);
    }
    if !churns.is_empty() {
        report(&format!("8c. churn: {n} runs in 10 waves"), &churns);
    }
    Ok(())
}
