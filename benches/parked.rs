//! Parked runs cost disk, not memory: 100,000 runs waiting in a durable sleep, 100,000
//! waiting for a person's answer, and 100,000 waiting for an event.
//!
//! `cargo bench --bench parked`. Each figure comes from a fresh child process (this binary
//! re-run with `--child`), so that the memory freed by the setup does not blur the resident
//! size: one child parks the runs, one starts a runtime over an empty directory (the
//! baseline), one starts a runtime over the parked runs. `CAIRN_BENCH_PARKED=n` changes the
//! number of runs.

use std::process::Command;
use std::time::{Duration, Instant};

use cairn::{Answer, Context, Durability, Error, Question, Runtime, Status, workflow};

#[workflow]
async fn parked(ctx: &mut Context, secs: u64) -> Result<(), Error> {
    ctx.sleep(Duration::from_secs(secs)).await?;
    Ok(())
}

#[workflow]
async fn asking(ctx: &mut Context, n: u64) -> Result<bool, Error> {
    let answer = ctx
        .wait_for_user(Question::approval(format!("approve {n}?")))
        .await?;
    Ok(answer == Answer::Approved)
}

#[workflow]
async fn awaiting(ctx: &mut Context, n: u64) -> Result<u64, Error> {
    let go = ctx.wait_for_event::<u64>("go").await?;
    Ok(n + go)
}

fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}

/// A field of `/proc/self/status` in KiB (`VmRSS:`, `RssAnon:`, `RssFile:`), 0 if missing.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn child(what: &str, dir: &str, n: u64) -> Result<(), Error> {
    match what {
        "setup" | "setup-asking" | "setup-events" => {
            let runtime = Runtime::builder()
                .path(dir)
                .durability(Durability::ProcessCrash)
                .register(parked)
                .register(asking)
                .register(awaiting)
                .start()?;
            let client = runtime.client();
            for i in 0..n {
                match what {
                    "setup-asking" => client.start(asking, i).await?,
                    "setup-events" => client.start(awaiting, i).await?,
                    _ => client.start(parked, 24 * 3600).await?,
                };
            }
            let parked_now = || match what {
                "setup-asking" => runtime.waiting_for_answers(),
                "setup-events" => {
                    let waiting = client
                        .count_by_status()
                        .map_or(0, |c| c.get(Status::Waiting));
                    if runtime.live_runs() == 0 {
                        waiting as usize
                    } else {
                        0
                    }
                }
                _ => runtime.sleeping_runs(),
            };
            while (parked_now() as u64) < n {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            runtime.shutdown().await;
        }
        _ => {
            let t = Instant::now();
            let runtime = Runtime::builder()
                .path(dir)
                .register(parked)
                .register(asking)
                .register(awaiting)
                .start()?;
            let started = t.elapsed();
            // Let the runtime settle (timer task, any resumed run) before reading memory.
            tokio::time::sleep(Duration::from_millis(200)).await;
            println!(
                "{} {} {}/{}/{} {} {}",
                rss_kib(),
                started.as_micros(),
                runtime.sleeping_runs(),
                runtime.timers_in_memory(),
                runtime.waiting_for_answers(),
                status_kib("RssAnon:"),
                status_kib("RssFile:")
            );
            runtime.shutdown().await;
        }
    }
    Ok(())
}

/// Bytes of `dir`'s data file that LMDB uses (last used page + 1, in pages): the file's own
/// size is the map size when the write map is on (a sparse file), and its allocated blocks
/// include the disk reserved ahead of the write map.
fn lmdb_used_bytes(dir: &std::path::Path) -> u64 {
    // SAFETY: the runtime that used this directory has exited; nothing else opens it.
    let env = unsafe { heed::EnvOpenOptions::new().max_dbs(32).open(dir) }.expect("open heed");
    let info = env.info();
    let page_size = u64::from(env.unnamed_database_stat().page_size);
    (info.last_page_number as u64 + 1) * page_size
}

fn run_child(what: &str, dir: &std::path::Path, n: u64) -> String {
    let exe = std::env::current_exe().expect("own path");
    let out = Command::new(exe)
        .args(["--child", what, &dir.display().to_string(), &n.to_string()])
        .output()
        .expect("child");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio");
        let n = args.get(4).and_then(|n| n.parse().ok()).unwrap_or(0);
        return rt.block_on(child(&args[2], &args[3], n));
    }
    let n: u64 = std::env::var("CAIRN_BENCH_PARKED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let scratch = |p| {
        tempfile::Builder::new()
            .prefix(p)
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("scratch dir")
    };
    let empty = scratch("cairn-bench-empty-");
    let full = scratch("cairn-bench-parked-");
    let t = Instant::now();
    run_child("setup", full.path(), n);
    let setup = t.elapsed();
    let parse = |s: String| -> (f64, f64, String, String) {
        let mut it = s.split_whitespace();
        let rss = it.next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
        let us = it.next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
        let sleeping = it.next().unwrap_or("?").to_owned();
        let split = format!(
            "anon {} KiB + file {} KiB",
            it.next().unwrap_or("?"),
            it.next().unwrap_or("?")
        );
        (rss, us, sleeping, split)
    };
    let asking_dir = scratch("cairn-bench-asking-");
    let t = Instant::now();
    run_child("setup-asking", asking_dir.path(), n);
    let setup_asking = t.elapsed();
    let events_dir = scratch("cairn-bench-events-");
    let t = Instant::now();
    run_child("setup-events", events_dir.path(), n);
    let setup_events = t.elapsed();
    let (rss0, start0, _, split0) = parse(run_child("start", empty.path(), 0));
    let (rss1, start1, sleeping, split1) = parse(run_child("start", full.path(), n));
    let (rss2, start2, waiting, split2) = parse(run_child("start", asking_dir.path(), n));
    let (rss3, start3, _, split3) = parse(run_child("start", events_dir.path(), n));
    let disk = lmdb_used_bytes(full.path());
    println!(
        "(6) parked runs: {n} runs parked in {:.1} s (setup)",
        setup.as_secs_f64()
    );
    println!(
        "(6) parked runs: RSS {:.1} MiB with {n} asleep (sleeping/wake-ups in memory/waiting for answers: {sleeping}) vs {:.1} MiB with none = {:.2}x",
        rss1 / 1024.0,
        rss0 / 1024.0,
        rss1 / rss0
    );
    println!("(6) parked runs: RSS split {split1} parked vs {split0} empty");
    println!(
        "(6) parked runs: disk {} bytes/run ({:.1} MiB used in data.mdb); start {:.1} ms vs {:.1} ms empty",
        disk / n.max(1),
        disk as f64 / (1024.0 * 1024.0),
        start1 / 1000.0,
        start0 / 1000.0
    );
    let disk = lmdb_used_bytes(asking_dir.path());
    println!(
        "(6) runs waiting for a person: {n} parked in {:.1} s (setup); RSS {:.1} MiB ({waiting}) vs {:.1} MiB with none = {:.2}x; {split2}",
        setup_asking.as_secs_f64(),
        rss2 / 1024.0,
        rss0 / 1024.0,
        rss2 / rss0
    );
    println!(
        "(6) runs waiting for a person: disk {} bytes/run; start {:.1} ms vs {:.1} ms empty",
        disk / n.max(1),
        start2 / 1000.0,
        start0 / 1000.0
    );
    let disk = lmdb_used_bytes(events_dir.path());
    println!(
        "(6) runs waiting for an event: {n} parked in {:.1} s (setup); RSS {:.1} MiB vs {:.1} MiB with none = {:.2}x; {split3}",
        setup_events.as_secs_f64(),
        rss3 / 1024.0,
        rss0 / 1024.0,
        rss3 / rss0
    );
    println!(
        "(6) runs waiting for an event: disk {} bytes/run; start {:.1} ms vs {:.1} ms empty",
        disk / n.max(1),
        start3 / 1000.0,
        start0 / 1000.0
    );
    Ok(())
}
