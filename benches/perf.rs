//! cairn's performance figures 1-5, 7 and 10 of BENCHMARKS.md (figure 6, parked runs, is
//! `benches/parked.rs`), each printed next to a baseline measured in the same run, in each
//! durability mode: process-crash (with and without LMDB's write map for figures 1 and 2)
//! and full.
//!
//! 1. `overhead`: time per transition of a workflow of trivial steps, less the same calls in a
//!    plain `async fn`.
//! 2. `latency`: time per step of one run of sequential steps, against one raw heed commit of
//!    200 bytes (what a transition writes).
//! 3. `throughput`: transitions per second when 1 to 1,000 runs, stored and unfinished,
//!    resume at once; against one raw heed commit per transition. 3b. `bursts`: 2,000 runs
//!    started at once, then 2,000 sleeps ending at once.
//! 4. `resume`: time from opening a directory to the first new step of a run with a long
//!    history, with cold CPU caches, against a raw heed open and commit of the same file.
//! 5. `loops`: payload bytes and time per transition in a loop over many items, against the
//!    remaining items kept in the state.
//! 7. `starts` (full durability only): starting and awaiting many runs one by one, against
//!    one `start_many`, next to as many raw heed commits.
//! 10. `input`: time and data-file growth per transition of a three-step run with a 1 KB input
//!     against the same run with a 10 MB input (the input is written once, at the start).
//!
//! `cargo bench --bench perf` (or `cargo bench` for both benches); `cargo bench --bench perf
//! -- NAME` runs the groups whose name contains NAME, `CAIRN_BENCH_MODE=process-crash` (or
//! `full`) one durability mode only. These machines are noisy: read ratios
//! against the baselines rather than absolutes. Sizes shrink where the full figure would take
//! minutes; `CAIRN_BENCH_LARGE=1` adds the 1,000,000-step resume and 10,000 concurrent runs.
//! Scratch directories are under the target dir (`CAIRN_BENCH_DIR` overrides it). See
//! BENCHMARKS.md for the figures, their targets and what limits them.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn::{Context, Durability, Error, Flow, LmdbOptions, Runtime, workflow};
use stats::median_min_max;

#[path = "perf/flushes.rs"]
mod flushes;
#[path = "perf/run_floor.rs"]
mod run_floor;
#[path = "common/stats.rs"]
mod stats;

async fn trivial(i: u64) -> u64 {
    std::hint::black_box(i)
}

#[workflow]
async fn steps(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let mut sum = 0u64;
    for i in 0..n {
        let x = ctx.step("s", trivial(i)).await;
        sum = sum.wrapping_add(x);
    }
    Ok(sum)
}

/// The baseline: the remaining items as a live variable, stored with every state (what the
/// macro's `for` lowering did before loop items were stored once).
#[workflow]
async fn vec_loop(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let mut rest: std::collections::VecDeque<u64> = (0..n).collect();
    let mut sum = 0u64;
    loop {
        match rest.pop_front() {
            Some(item) => {
                let x = ctx.step("s", trivial(item)).await;
                sum = sum.wrapping_add(x);
            }
            None => break,
        }
    }
    Ok(sum)
}

/// A `for` loop over an adaptor chain, as users write it: its items are collected when the loop
/// starts and stored once, like a `Vec`'s.
#[workflow]
async fn adaptor_loop(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let mut sum = 0u64;
    for (i, item) in (0..n).rev().enumerate() {
        let x = ctx.step("s", trivial(item ^ i as u64)).await;
        sum = sum.wrapping_add(x);
    }
    Ok(sum)
}

/// A loop with its items stored once, written by hand against the calls the macro emits
/// (`__durable_iter`, `__iter_next`), with the iterator advanced by an `.await` of its own: two
/// transitions per item, where the macro's own `for` advances the iterator in the step's
/// transition (`adaptor_loop` measures that form). Figure 5 divides by two.
#[workflow]
async fn stored_loop(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let items: Vec<u64> = (0..n).collect();
    let mut iter = ctx.__durable_iter(items, cairn::__private::Known, "").await;
    let mut sum = 0u64;
    loop {
        let next = ctx.__iter_next(&mut iter).await;
        match next {
            Some(item) => {
                let x = ctx.step("s", trivial(item)).await;
                sum = sum.wrapping_add(x);
            }
            None => break,
        }
    }
    Ok(sum)
}

/// Six steps after reading the input once: the input is not live across any await, so
/// only the run's creation should pay for its size (figure 10).
#[workflow]
async fn with_input(ctx: &mut Context, input: Vec<u8>) -> Result<u64, String> {
    let len = input.len() as u64;
    let a = ctx.step("s", trivial(len)).await;
    let b = ctx.step("s", trivial(a)).await;
    let c = ctx.step("s", trivial(b)).await;
    let d = ctx.step("s", trivial(c)).await;
    let e = ctx.step("s", trivial(d)).await;
    let f = ctx.step("s", trivial(e)).await;
    Ok(f)
}

#[workflow]
async fn napper(ctx: &mut Context, secs: u64) -> Result<u64, Error> {
    ctx.sleep(Duration::from_secs(secs)).await?;
    Ok(secs)
}

async fn plain(n: u64) -> u64 {
    let mut sum = 0u64;
    for i in 0..n {
        sum = sum.wrapping_add(trivial(i).await);
    }
    sum
}

fn large() -> bool {
    std::env::var_os("CAIRN_BENCH_LARGE").is_some()
}

fn scratch() -> tempfile::TempDir {
    // Under the target dir, on the real disk: /tmp may be a tmpfs, where fsync is free.
    // `CAIRN_BENCH_DIR=/dev/shm` measures on a tmpfs on purpose: with the fsync free, what is
    // left of a full-durability step is cairn's own cost.
    let dir = std::env::var_os("CAIRN_BENCH_DIR").map_or_else(
        || env!("CARGO_TARGET_TMPDIR").into(),
        std::path::PathBuf::from,
    );
    tempfile::Builder::new()
        .prefix("cairn-bench-")
        .tempdir_in(dir)
        .expect("scratch dir")
}

fn mode_name(mode: Durability) -> &'static str {
    match mode {
        Durability::Full => "full",
        _ => "process-crash",
    }
}

/// Transition log: time and payload bytes committed at each transition number.
#[derive(Default)]
struct Log {
    at: Mutex<Vec<(u64, Instant, u64)>>,
}

impl Log {
    fn hook(self: &Arc<Self>, halt_at: u64) -> impl Fn(&cairn::Transition<'_>) -> Flow + use<> {
        let log = self.clone();
        move |t| {
            let bytes = cairn::__private::payload_bytes_committed();
            log.at
                .lock()
                .unwrap()
                .push((t.number, Instant::now(), bytes));
            if t.number == halt_at {
                Flow::Halt
            } else {
                Flow::Continue
            }
        }
    }

    /// (time, bytes) from transition `from` to transition `to`.
    fn between(&self, from: u64, to: u64) -> Option<(Duration, u64)> {
        let at = self.at.lock().unwrap();
        let a = at.iter().find(|e| e.0 == from)?;
        let b = at.iter().find(|e| e.0 == to)?;
        Some((b.1 - a.1, b.2 - a.2))
    }
}

/// `mode`, saying whether process-crash mode ran with LMDB's write map (its default on Linux,
/// see [`cairn::RuntimeBuilder::write_map`]) or without (`write_map(false)`).
fn mode_label(mode: Durability, write_map: bool) -> &'static str {
    match (mode, write_map) {
        (Durability::Full, _) => mode_name(mode),
        (_, true) => "process-crash + write map (default)",
        (_, false) => "process-crash, write_map(false)",
    }
}

/// (1) Transition overhead: one run of 20,000 trivial steps, less the same 20,000 calls in a
/// plain `async fn`, per transition.
async fn overhead(mode: Durability, write_map: bool) -> Result<(), Error> {
    let n = 20_000u64;
    let dir = scratch();
    let runtime = Runtime::builder()
        .path(dir.path())
        .durability(mode)
        .lmdb(LmdbOptions::new().write_map(write_map))
        .register(steps)
        .start()?;
    let client = runtime.client();
    client.run(steps, 100).await?; // warm up
    let t = Instant::now();
    client.run(steps, n).await?;
    let cairn = t.elapsed();
    runtime.shutdown().await;
    let t = Instant::now();
    let _ = tokio::spawn(plain(n)).await;
    let base = t.elapsed();
    let per = (cairn.as_nanos() as f64 - base.as_nanos() as f64) / n as f64;
    // The target is a ratio: the overhead against one raw heed commit of what a transition
    // writes (~200 bytes), with the same flags (with fsync in full mode: fewer of them).
    let raw_n = if mode == Durability::Full { 300 } else { n };
    let raw_dir = scratch();
    let raw = raw_heed_commits_with(raw_dir.path(), raw_n, 200, mode, write_map).as_nanos() as f64
        / raw_n as f64;
    println!(
        "(1) transition overhead [{}]: {:.0} ns/transition over plain = {:.2}x a raw heed commit of 200 B with the same flags ({:.0} ns) ({:.1} ns/call plain; cairn {:.0} ns/transition total; N={n})",
        mode_label(mode, write_map),
        per,
        per / raw,
        raw,
        base.as_nanos() as f64 / n as f64,
        cairn.as_nanos() as f64 / n as f64,
    );
    Ok(())
}

/// The baseline of figures 2, 3, 3b and 7: `n` write transactions in a fresh heed environment in
/// `dir`, each putting one `value`-byte value and committing (with fsync unless `mode` is
/// process-crash); returns the time of the `n` commits.
fn raw_heed_commits(dir: &Path, n: u64, value: usize, mode: Durability) -> Duration {
    raw_heed_commits_with(dir, n, value, mode, false)
}

/// [`raw_heed_commits`], with LMDB's write map on in process-crash mode if `write_map`.
fn raw_heed_commits_with(
    dir: &Path,
    n: u64,
    value: usize,
    mode: Durability,
    write_map: bool,
) -> Duration {
    let mut options = heed::EnvOpenOptions::new();
    options.map_size(1 << 30).max_dbs(1);
    if mode != Durability::Full {
        let flags = if write_map {
            heed::EnvFlags::NO_SYNC | heed::EnvFlags::WRITE_MAP
        } else {
            heed::EnvFlags::NO_SYNC
        };
        // SAFETY: a throwaway environment for a baseline; durability does not matter.
        unsafe {
            options.flags(flags);
        }
    }
    // SAFETY: a fresh directory that nothing else opens.
    let env = unsafe { options.open(dir) }.expect("open heed");
    let wtxn = env.write_txn().unwrap();
    type Raw<'a> =
        heed::Database<'a, heed::types::U64<heed::byteorder::BigEndian>, heed::types::Bytes>;
    let db: Raw<'_> = env
        .create_databases_and_commit(wtxn, |opener, wtxn| -> heed::Result<_> {
            let db: Raw<'_> = opener.create_database(wtxn, Some("raw"))?;
            Ok(heed::CommitOrAbort::<_, ()>::Commit(db))
        })
        .unwrap()
        .unwrap_commit();
    let bytes = vec![7u8; value];
    let t = Instant::now();
    for i in 0..n {
        let mut wtxn = env.write_txn().unwrap();
        db.put(&mut wtxn, &(i % 16), &bytes).unwrap();
        wtxn.commit().unwrap();
    }
    t.elapsed()
}

/// (2) Step latency: one run of sequential trivial steps (300 with fsync, else 5,000), time
/// per step against one raw heed commit of 200 bytes.
async fn latency(mode: Durability, write_map: bool) -> Result<(), Error> {
    let n = if mode == Durability::Full {
        300
    } else {
        5_000u64
    };
    let dir = scratch();
    let runtime = Runtime::builder()
        .path(dir.path())
        .durability(mode)
        .lmdb(LmdbOptions::new().write_map(write_map))
        .register(steps)
        .start()?;
    let client = runtime.client();
    client.run(steps, 10).await?;
    let t = Instant::now();
    client.run(steps, n).await?;
    let cairn = t.elapsed() / (n as u32 + 1);
    runtime.shutdown().await;
    // A commit of cairn writes the run record, the state and a history record: ~200 bytes.
    let raw_dir = scratch();
    let raw = raw_heed_commits(raw_dir.path(), n, 200, mode) / n as u32;
    println!(
        "(2) step latency [{}]: {:.1} µs/step vs raw heed commit {:.1} µs = {:.2}x (N={n})",
        mode_label(mode, write_map),
        cairn.as_secs_f64() * 1e6,
        raw.as_secs_f64() * 1e6,
        cairn.as_secs_f64() / raw.as_secs_f64()
    );
    Ok(())
}

/// (3) Throughput: k runs of 10 steps are stored halted after their first step; a new
/// runtime then resumes all k at once and the time until every one has finished (its 9 steps
/// and its completion: 10 transitions, runtime start included) gives transitions per second.
async fn throughput(mode: Durability) -> Result<(), Error> {
    let mut counts = vec![1u64, 10, 100, 1_000];
    if large() {
        counts.push(10_000);
    }
    let raw_dir = scratch();
    let raw = raw_heed_commits(raw_dir.path(), 200, 200, mode) / 200;
    println!(
        "(3) baseline [{}]: one raw heed commit per transition = {:.0} transitions/s",
        mode_name(mode),
        1.0 / raw.as_secs_f64()
    );
    for k in counts {
        let dir = scratch();
        // Setup: k runs that each committed one step, then halted (stored, unfinished).
        let log = Arc::new(Log::default());
        let runtime = Runtime::builder()
            .path(dir.path())
            .durability(Durability::ProcessCrash)
            .register(steps)
            .on_transition(log.hook(1))
            .start()?;
        let client = runtime.client();
        let mut ids = Vec::new();
        for _ in 0..k {
            ids.push(client.start(steps, 10).await?);
        }
        for id in &ids {
            let _ = client.wait(steps, *id).await;
        }
        runtime.shutdown().await;
        // Measured: a runtime resumes all k and each commits its 9 remaining steps and its
        // completion.
        let t = Instant::now();
        let runtime = Runtime::builder()
            .path(dir.path())
            .durability(mode)
            .register(steps)
            .start()?;
        let client = runtime.client();
        for id in &ids {
            client.wait(steps, *id).await?;
        }
        let elapsed = t.elapsed();
        runtime.shutdown().await;
        let transitions = k * 10;
        println!(
            "(3) throughput [{}]: {k:>5} concurrent runs: {:>9.0} transitions/s ({transitions} in {:.3} s)",
            mode_name(mode),
            transitions as f64 / elapsed.as_secs_f64(),
            elapsed.as_secs_f64()
        );
    }
    Ok(())
}

/// (3b) Bursts: many runs started at once (from as many tasks), then their sleeps all ending
/// at the same instant. Each start is a commit, and each wake-up one more plus the run's
/// completion: without group commit, one fsync each.
async fn bursts(mode: Durability) -> Result<(), Error> {
    let n = 2_000u64;
    let raw_dir = scratch();
    let raw = raw_heed_commits(raw_dir.path(), 100, 200, mode) / 100;
    let dir = scratch();
    let clock = cairn::TestClock::default();
    let runtime = Runtime::builder()
        .path(dir.path())
        .durability(mode)
        .clock(clock.clone())
        .register(napper)
        .start()?;
    let client = runtime.client();
    let t = Instant::now();
    let mut starts = tokio::task::JoinSet::new();
    for _ in 0..n {
        let client = client.clone();
        starts.spawn(async move { client.start(napper, 1).await });
    }
    let mut ids = Vec::new();
    while let Some(started) = starts.join_next().await {
        ids.push(started.expect("start task")?);
    }
    let started = t.elapsed();
    while (runtime.sleeping_runs() as u64) < n {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let t = Instant::now();
    clock.advance(Duration::from_secs(2));
    for id in &ids {
        client.wait(napper, *id).await?;
    }
    let woken = t.elapsed();
    runtime.shutdown().await;
    let per_second = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "(3b) bursts [{}]: {n} starts at once: {:.0} starts/s; {n} sleeps ending at once: {:.0} runs woken and completed/s (one raw heed commit each: {:.0}/s)",
        mode_name(mode),
        per_second(started),
        per_second(woken),
        1.0 / raw.as_secs_f64(),
    );
    Ok(())
}

/// Reopenings measured per history length (after the first one, reported apart).
const REOPENS: u64 = 15;

/// (4) Resume: a run with a history of n steps (10 to 100,000, or 1,000,000 with
/// `CAIRN_BENCH_LARGE`) is reopened [`REOPENS`] times, each time with cold CPU caches; the
/// median time from opening to the first new step, as a ratio to the 10-step history, next to
/// a raw heed open and commit of the same file.
async fn resume(mode: Durability) -> Result<(), Error> {
    let mut lengths = vec![10u64, 1_000, 100_000];
    if large() {
        lengths.push(1_000_000);
    }
    let mut sweep = vec![0u8; 128 << 20];
    let mut first = None;
    // The first runtime started in the process pays for warming up (thread pools, page
    // tables); measure a 10-step run once without reporting it.
    lengths.insert(0, 10);
    let mut warm_up = true;
    for n in lengths {
        let dir = scratch();
        let log = Arc::new(Log::default());
        let runtime = Runtime::builder()
            .path(dir.path())
            .durability(Durability::ProcessCrash)
            .register(steps)
            .on_transition(log.hook(n))
            .start()?;
        let _ = runtime.client().run(steps, n + REOPENS + 10).await;
        runtime.shutdown().await;
        // The history was written without fsync; flush it now, or the first fsync of the
        // measured run pays for writing the whole history to disk.
        std::fs::File::open(dir.path().join("data.mdb"))
            .and_then(|file| file.sync_all())
            .map_err(Error::from)?;
        // Right after the set-up, whose history streamed through the CPU caches: a long
        // history leaves them colder than a short one, so this one is not the figure.
        let after_set_up = reopen(dir.path(), mode, n + 1).await?;
        // Each reopening starts with cold CPU caches and TLB, as in a process that starts
        // after a crash, whatever the history length; and next to it, a raw heed open and
        // one commit of the same file, the same way.
        let (mut cairn, mut raw) = (Vec::new(), Vec::new());
        for i in 0..REOPENS {
            evict_cpu_caches(&mut sweep);
            cairn.push(reopen(dir.path(), mode, n + 2 + i).await?);
            evict_cpu_caches(&mut sweep);
            raw.push(raw_reopen(dir.path(), mode));
        }
        if std::mem::take(&mut warm_up) {
            continue;
        }
        let (cairn, raw) = (Spread::of(cairn), Spread::of(raw));
        let base = *first.get_or_insert(cairn.median);
        println!(
            "(4) resume [{}]: after {n:>7} steps: {} µs to the first new step = {:.2}x the 10-step run; raw heed open + commit of the same file {} µs; first reopen after the set-up {:.0} µs",
            mode_name(mode),
            cairn,
            cairn.median / base,
            raw,
            after_set_up.as_secs_f64() * 1e6,
        );
    }
    Ok(())
}

/// Median and 10th–90th percentiles of some timings, in µs.
struct Spread {
    median: f64,
    low: f64,
    high: f64,
}

impl Spread {
    fn of(mut times: Vec<Duration>) -> Spread {
        times.sort();
        let at = |q: usize| times[(times.len() - 1) * q / 100].as_secs_f64() * 1e6;
        Spread {
            median: at(50),
            low: at(10),
            high: at(90),
        }
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>4.0} (p10–p90 {:.0}–{:.0})",
            self.median, self.low, self.high
        )
    }
}

/// Opens the runtime in `dir` and returns the time to the first transition after it (the
/// run halts at transition `halt_at`, the first new one).
async fn reopen(dir: &Path, mode: Durability, halt_at: u64) -> Result<Duration, Error> {
    let log = Arc::new(Log::default());
    let t = Instant::now();
    let runtime = Runtime::builder()
        .path(dir)
        .durability(mode)
        .register(steps)
        .on_transition(log.hook(halt_at))
        .start()?;
    let _ = runtime.client().wait(steps, cairn::RunId(1)).await;
    let at = log.at.lock().unwrap().first().map(|e| e.1);
    runtime.shutdown().await;
    Ok(at.map_or(Duration::ZERO, |at| at - t))
}

/// A raw heed open of cairn's directory `dir` and one commit of ~200 bytes into a database
/// of its own (the fair baseline: same file, no cairn), closed before returning.
fn raw_reopen(dir: &Path, mode: Durability) -> Duration {
    let t = Instant::now();
    let mut options = heed::EnvOpenOptions::new();
    options.map_size(10 << 30).max_dbs(1);
    if mode != Durability::Full {
        // SAFETY: a baseline; durability does not matter.
        unsafe {
            options.flags(heed::EnvFlags::NO_SYNC);
        }
    }
    // SAFETY: cairn closed this environment before; nothing else opens it.
    let env = unsafe { options.open(dir) }.expect("open heed");
    let wtxn = env.write_txn().unwrap();
    type Raw<'a> = heed::Database<'a, heed::types::Bytes, heed::types::Bytes>;
    let db: Raw<'_> = env
        .create_databases_and_commit(wtxn, |opener, wtxn| -> heed::Result<_> {
            let db: Raw<'_> = opener.create_database(wtxn, Some("raw-baseline"))?;
            Ok(heed::CommitOrAbort::<_, ()>::Commit(db))
        })
        .unwrap()
        .unwrap_commit();
    let mut wtxn = env.write_txn().unwrap();
    db.put(&mut wtxn, b"k", &[7u8; 200]).unwrap();
    wtxn.commit().unwrap();
    let elapsed = t.elapsed();
    env.prepare_for_closing().wait();
    elapsed
}

/// Writes one byte per cache line of `sweep`, a buffer larger than the last-level cache, so
/// that what runs next starts with cold CPU caches and TLB whatever ran before it.
fn evict_cpu_caches(sweep: &mut [u8]) {
    for line in sweep.chunks_mut(64) {
        line[0] = line[0].wrapping_add(1);
    }
    std::hint::black_box(sweep);
}

/// (5) Loops over n items (2,000 with fsync, else 100,000): payload bytes and time per
/// transition at items 1, 1,000 and n - 1, for the items stored once (`stored_loop`), for an
/// adaptor chain collected and stored once (`adaptor_loop`), and for the baseline that keeps
/// the remaining items in the state (`vec_loop`, stopped after 1,001 transitions).
async fn loops(mode: Durability) -> Result<(), Error> {
    let n = if mode == Durability::Full {
        2_000u64
    } else {
        100_000
    };
    let dir = scratch();
    let log = Arc::new(Log::default());
    let runtime = Runtime::builder()
        .path(dir.path())
        .durability(mode)
        .register(stored_loop)
        .register(vec_loop)
        .on_transition(log.hook(u64::MAX))
        .start()?;
    runtime.client().run(stored_loop, n).await?;
    // Transition 1 stores the items; item i (from 0) then takes transitions 2i+2 (its
    // `__iter_next`) and 2i+3 (its step).
    for item in [1, 1_000, n - 1] {
        if let Some((time, bytes)) = log.between(2 * item + 1, 2 * item + 3) {
            println!(
                "(5) loop, items stored once [{}]: item {item:>6} of {n}: {:>5} payload bytes/transition, {:>6.1} µs/transition",
                mode_name(mode),
                bytes / 2,
                time.as_secs_f64() * 1e6 / 2.0
            );
        }
    }
    // The same through the macro, over `(0..n).rev().enumerate()`: transition 1 commits the
    // first step with the items, item i's step is transition i + 1.
    let adaptor = Arc::new(Log::default());
    runtime.shutdown().await;
    let dir3 = scratch();
    let runtime = Runtime::builder()
        .path(dir3.path())
        .durability(mode)
        .register(adaptor_loop)
        .on_transition(adaptor.hook(u64::MAX))
        .start()?;
    runtime.client().run(adaptor_loop, n).await?;
    for item in [1, 1_000, n - 1] {
        if let Some((time, bytes)) = adaptor.between(item, item + 1) {
            println!(
                "(5) loop over an adaptor chain, items collected and stored once [{}]: item {item:>6} of {n}: {:>5} payload bytes/transition, {:>6.1} µs/transition",
                mode_name(mode),
                bytes,
                time.as_secs_f64() * 1e6
            );
        }
    }
    // Baseline: the rest of the items in the state, halted after 1,001
    // transitions: at 100,000 items it would write O(n²) bytes in all.
    let base = Arc::new(Log::default());
    runtime.shutdown().await;
    let dir2 = scratch();
    let runtime = Runtime::builder()
        .path(dir2.path())
        .durability(mode)
        .register(vec_loop)
        .on_transition(base.hook(1_001))
        .start()?;
    let _ = runtime.client().run(vec_loop, n).await;
    runtime.shutdown().await;
    for item in [1u64, 1_000] {
        if let Some((time, bytes)) = base.between(item, item + 1) {
            println!(
                "(5) loop, baseline Vec in state [{}]: item {item:>6} of {n}: {:>7} payload bytes/transition, {:>6.1} µs/transition",
                mode_name(mode),
                bytes,
                time.as_secs_f64() * 1e6
            );
        }
    }
    drop(dir);
    drop(dir3);
    Ok(())
}

/// (7) Start N runs and await all their results, with full durability: N `start` calls
/// awaited one by one (each pays its own fsync), N `start` calls made at once from N tasks
/// (their creations share group commits, as transitions do), one `start_many` (one commit
/// for all N), and N tasks each calling `run` (N waits at once), next to N raw heed commits
/// with fsync and the floor of the runs' own writes (`perf/run_floor.rs`) in the same run.
/// Each run is a three-step workflow.
async fn starts(mode: Durability) -> Result<(), Error> {
    if let Some(rounds) = std::env::var("CAIRN_BENCH_STARTS_MANY_ONLY")
        .ok()
        .and_then(|r| r.parse::<usize>().ok())
    {
        return start_many_only(mode, rounds).await;
    }
    for n in [1_000u64, 10_000] {
        let (one_by_one, _) = start_and_await(mode, n, Starts::OneByOne).await?;
        let (concurrent, _) = start_and_await(mode, n, Starts::Concurrent).await?;
        let (batched, call) = start_and_await(mode, n, Starts::Many).await?;
        let (each_runs, _) = start_and_await(mode, n, Starts::RunEach).await?;
        let raw_dir = scratch();
        let raw = raw_heed_commits(raw_dir.path(), n, 200, mode);
        let floor_dir = scratch();
        let floor = run_floor::run_life_floor(floor_dir.path(), n);
        let rate = |d: Duration| n as f64 / d.as_secs_f64();
        // Ratios of rates: to the starts awaited one by one (each pays its own commit), and
        // to as many raw heed commits with fsync in the same run (the disk's own pace).
        let vs_sequential = |d: Duration| rate(d) / rate(one_by_one);
        let vs_raw = |d: Duration| rate(d) / rate(raw);
        println!(
            "(7) starts [{}]: N={n:>6}: sequential start {:>8.0} runs/s ({:.3} s) = {:.2}x raw; concurrent starts {:>8.0} runs/s ({:.3} s) = {:.1}x sequential, {:.1}x raw; start_many {:>8.0} runs/s ({:.3} s, of which the call {:.1} ms) = {:.1}x sequential, {:.1}x raw; `run` in N tasks {:>8.0} runs/s ({:.3} s) = {:.1}x sequential; raw heed commits {:>6.0}/s ({:.3} s); floor (raw heed, the runs' writes alone) {:>8.0} runs/s = {:.1}x sequential",
            mode_name(mode),
            rate(one_by_one),
            one_by_one.as_secs_f64(),
            vs_raw(one_by_one),
            rate(concurrent),
            concurrent.as_secs_f64(),
            vs_sequential(concurrent),
            vs_raw(concurrent),
            rate(batched),
            batched.as_secs_f64(),
            call.as_secs_f64() * 1e3,
            vs_sequential(batched),
            vs_raw(batched),
            rate(each_runs),
            each_runs.as_secs_f64(),
            vs_sequential(each_runs),
            rate(raw),
            raw.as_secs_f64(),
            rate(floor),
            vs_sequential(floor),
        );
    }
    Ok(())
}

/// `CAIRN_BENCH_STARTS_MANY_ONLY=ROUNDS`: only the `start_many` way of figure 7, `ROUNDS` times
/// at each N, with no baseline: for profiles of its CPU (with `CAIRN_BENCH_DIR=/dev/shm`, where
/// the fsync is free, the rate is cairn's own cost per run). `CAIRN_BENCH_STARTS_N` (a
/// comma-separated list) replaces the sizes 1,000 and 10,000, so that `perf stat` can count the
/// CPU of one size alone.
async fn start_many_only(mode: Durability, rounds: usize) -> Result<(), Error> {
    let sizes: Vec<u64> = match std::env::var("CAIRN_BENCH_STARTS_N") {
        Ok(list) => list
            .split(',')
            .map(|n| {
                n.trim().parse().unwrap_or_else(|_| {
                    panic!("CAIRN_BENCH_STARTS_N: `{n}` is not a number of runs (say `1000,10000`)")
                })
            })
            .collect(),
        Err(_) => vec![1_000, 10_000],
    };
    for n in sizes {
        let mut rates = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let (elapsed, _) = start_and_await(mode, n, Starts::Many).await?;
            rates.push(n as f64 / elapsed.as_secs_f64());
        }
        let (median, min, max) = median_min_max(&rates);
        println!(
            "(7) start_many only [{}]: N={n:>6}: {median:>8.0} runs/s (median of {rounds}, {min:.0}-{max:.0}) = {:.2} µs/run",
            mode_name(mode),
            1e6 / median,
        );
    }
    Ok(())
}

/// How figure 7 starts its runs.
#[derive(Clone, Copy)]
enum Starts {
    /// `start` awaited one after the other.
    OneByOne,
    /// `start` from one task per run, all at once.
    Concurrent,
    /// One `start_many`.
    Many,
    /// `run` (start, then wait for its own result) from one task per run, all at once: the
    /// way a program awaiting many results from many tasks writes it, `n` waits live at once.
    RunEach,
}

/// Time to start `n` three-step runs (the way `how` says) in a fresh directory and await every
/// result; also returns how long the starts alone took (for [`Starts::RunEach`], where each
/// task awaits its own result, the whole time).
async fn start_and_await(
    mode: Durability,
    n: u64,
    how: Starts,
) -> Result<(Duration, Duration), Error> {
    let dir = scratch();
    let runtime = Runtime::builder()
        .path(dir.path())
        .durability(mode)
        .register(steps)
        .start()?;
    let client = runtime.client();
    let t = Instant::now();
    let ids = match how {
        Starts::Many => client.start_many(steps, (0..n).map(|_| 3)).await?,
        Starts::OneByOne => {
            let mut ids = Vec::with_capacity(n as usize);
            for _ in 0..n {
                ids.push(client.start(steps, 3).await?);
            }
            ids
        }
        Starts::Concurrent => {
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..n {
                let client = client.clone();
                tasks.spawn(async move { client.start(steps, 3).await });
            }
            let mut ids = Vec::with_capacity(n as usize);
            while let Some(started) = tasks.join_next().await {
                ids.push(started.map_err(|e| Error::from(std::io::Error::other(e)))??);
            }
            ids
        }
        Starts::RunEach => {
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..n {
                let client = client.clone();
                tasks.spawn(async move { client.run(steps, 3).await });
            }
            while let Some(ran) = tasks.join_next().await {
                ran.map_err(|e| Error::from(std::io::Error::other(e)))??;
            }
            Vec::new()
        }
    };
    let started = t.elapsed();
    for id in ids {
        client.wait(steps, id).await?;
    }
    let elapsed = t.elapsed();
    runtime.shutdown().await;
    Ok((elapsed, started))
}

/// Store open: `Runtime` start (the store opened, its tables created or checked, recovery)
/// and shutdown, on a fresh directory and on an existing one; against a raw heed open of a
/// fresh directory with one table created and one commit (with fsync in full mode).
async fn opens(mode: Durability) -> Result<(), Error> {
    const OPENS: usize = 15;
    let start = |dir: &Path| {
        Runtime::builder()
            .path(dir)
            .durability(mode)
            .register(steps)
            .start()
    };
    let (mut fresh, mut existing, mut raw) = (Vec::new(), Vec::new(), Vec::new());
    // Each fresh start over the raw open measured right after it: the disk's flush time swings
    // within seconds on a shared machine, and a ratio of neighbours cancels most of that.
    let mut ratios = Vec::new();
    let kept = scratch();
    start(kept.path())?.shutdown().await;
    for _ in 0..OPENS {
        let dir = scratch();
        let t = Instant::now();
        let runtime = start(dir.path())?;
        fresh.push(t.elapsed());
        runtime.shutdown().await;
        let t = Instant::now();
        let runtime = start(kept.path())?;
        existing.push(t.elapsed());
        runtime.shutdown().await;
        let dir = scratch();
        raw.push(raw_reopen(dir.path(), mode));
        ratios.push(fresh[fresh.len() - 1].as_secs_f64() / raw[raw.len() - 1].as_secs_f64());
    }
    println!(
        "(open) runtime start [{}]: fresh directory {} µs = {:.1}x the raw open (median of paired ratios), existing {} µs; raw heed open + 1 table + 1 commit, fresh: {} µs",
        mode_name(mode),
        Spread::of(fresh),
        median_min_max(&ratios).0,
        Spread::of(existing),
        Spread::of(raw),
    );
    Ok(())
}

/// (10) Input size: one six-step run of [`with_input`] per repetition (a fresh directory
/// each), with a 1 KB and a 10 MB input, interleaved; per transition between the second and
/// the sixth step: time, and growth of LMDB's data file (what the commits wrote to disk
/// beyond the pages they reused). Without the write map, so that the file grows by what is
/// written rather than by a reservation made ahead.
async fn input_size(mode: Durability) -> Result<(), Error> {
    const REPEAT: usize = 3;
    // The window: from the second transition to the sixth, past what happens once after the
    // start (the run's first step, the input's buffer freed once it is dead, the kernel's
    // writeback of the 10 MB the creation wrote), which a window from the first transition
    // counted as if it were paid at every transition.
    const FROM: u64 = 2;
    const TO: u64 = 6;
    let sizes = [1_000usize, 10_000_000];
    let mut rows: Vec<Vec<(f64, i64)>> = vec![Vec::new(); sizes.len()];
    for _ in 0..REPEAT {
        for (row, &size) in rows.iter_mut().zip(&sizes) {
            let dir = scratch();
            let data = dir.path().join("data.mdb");
            let at: Arc<Mutex<Vec<(u64, Instant, u64)>>> = Arc::default();
            let log = at.clone();
            let file = data.clone();
            let runtime = Runtime::builder()
                .path(dir.path())
                .durability(mode)
                .lmdb(LmdbOptions::new().write_map(false))
                .register(with_input)
                .on_transition(move |t| {
                    let len = std::fs::metadata(&file).map_or(0, |m| m.len());
                    log.lock().unwrap().push((t.number, Instant::now(), len));
                    Flow::Continue
                })
                .start()?;
            runtime.client().run(with_input, vec![7u8; size]).await?;
            runtime.shutdown().await;
            let at = at.lock().unwrap();
            let find = |n: u64| at.iter().find(|e| e.0 == n).copied();
            if let (Some(first), Some(last)) = (find(FROM), find(TO)) {
                let time = (last.1 - first.1).as_secs_f64() / (TO - FROM) as f64;
                let growth = (last.2 as i64 - first.2 as i64) / (TO - FROM) as i64;
                row.push((time, growth));
            }
        }
    }
    for (row, size) in rows.iter().zip(sizes) {
        if row.is_empty() {
            continue;
        }
        let times: Vec<f64> = row.iter().map(|r| r.0 * 1e6).collect();
        let growths: Vec<f64> = row.iter().map(|r| r.1 as f64).collect();
        let (time, time_min, time_max) = median_min_max(&times);
        let (growth, growth_min, growth_max) = median_min_max(&growths);
        println!(
            "(10) input [{}]: {size:>9}-byte input: {time:>9.1} µs/transition (median of {}, {time_min:.1}-{time_max:.1}); data file +{growth:.0} bytes/transition (median, {growth_min:.0}-{growth_max:.0})",
            mode_name(mode),
            times.len(),
        );
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    rt.block_on(async {
        // `CAIRN_BENCH_MODE=process-crash` (or `full`) measures one mode only, for profiles.
        let mode_wanted = std::env::var("CAIRN_BENCH_MODE").ok();
        for mode in [Durability::ProcessCrash, Durability::Full] {
            if mode_wanted.as_deref().is_some_and(|m| m != mode_name(mode)) {
                continue;
            }
            let want = |name: &str| only.as_deref().is_none_or(|o| name.contains(o));
            // Process-crash mode is measured with and without the write map (its default on
            // Linux): two rows.
            let write_maps: &[bool] = if mode == Durability::Full {
                &[false]
            } else {
                &[false, true]
            };
            for &write_map in write_maps {
                if want("overhead") {
                    overhead(mode, write_map).await?;
                }
                if want("latency") {
                    latency(mode, write_map).await?;
                }
            }
            if want("throughput") {
                throughput(mode).await?;
            }
            if want("bursts") {
                bursts(mode).await?;
            }
            if want("resume") {
                resume(mode).await?;
            }
            if want("loops") {
                loops(mode).await?;
            }
            if want("input") {
                input_size(mode).await?;
            }
            // Full durability only: what a batch saves is fsyncs.
            if want("starts") && mode == Durability::Full {
                starts(mode).await?;
            }
            if want("open") {
                opens(mode).await?;
            }
            // Raw heed only, with fsync: LMDB's sync options and the file kept ahead.
            if want("flushes") && mode == Durability::Full {
                flushes::flushes(scratch);
            }
        }
        Ok(())
    })
}
