//! cairn's PostgreSQL figures of BENCHMARKS.md (issue 11), each next to a baseline measured
//! in the same run, against one local server with full durability (`fsync=on`,
//! `synchronous_commit=on`):
//!
//! - `latency`: time per step of one run of sequential trivial steps, against one raw
//!   `UPDATE` of a runs-like row of the same byte size and its commit (autocommit: one round
//!   trip, one WAL flush).
//! - `throughput`: 1,000 runs of 10 steps started at once (`start_many`, from a client-only
//!   process) and run by 1, 2 and 4 worker processes sharing the schema; transitions per
//!   second until every run completed, against one raw commit per transition; after each,
//!   the server floor: the same rows (a runs-like row updated and a history row inserted
//!   per transition) written by one raw statement per 1,000 transitions, the most this
//!   server and disk give with no client work per transition.
//! - `takeover`: worker A runs 20 runs with a 2 s lease and is SIGKILLed mid-run (at five
//!   points of its heartbeat cycle); the time from the kill until worker B commits the first
//!   (and the last) of those runs' next transitions, next to what was left of A's leases at
//!   the kill (the take-over cannot come earlier).
//!
//! `cargo bench --features postgres --bench postgres [-- latency | throughput | takeover]`.
//! The bench starts its own server from the installed PostgreSQL binaries (the tests'
//! harness, `tests/conformance/postgres_server.rs`, in full-durability mode), with its data
//! directory under the target dir, on the real disk (`/tmp` may be a tmpfs, where an fsync is
//! free; `CAIRN_BENCH_DIR` overrides it); `CAIRN_TEST_POSTGRES_URL` names a server to use
//! instead (the header prints its `fsync` and `synchronous_commit`). Each figure is measured
//! `CAIRN_BENCH_PG_REPS` times (default 3; the take-over 5 times), each between two halves
//! of its baseline, and the closing table gives the median and range.
//! `CAIRN_BENCH_PG_CLAIM_BATCH=N` sets the workers' `claim_batch` (how many waiting runs a
//! worker claims per poll; default the backend's), to see how pick-up limits the throughput.
//! `CAIRN_BENCH_PG_STEPS=N` gives the throughput figure's runs N steps instead of 10: with
//! long runs the claims at the start and the last runs' tail weigh less, and the figure comes
//! near the workers' steady rate.
//!
//! Worker processes are this binary run again with `CAIRN_BENCH_PG_WORKER` set: they talk
//! to the parent with `@@` lines on stdout and shut down when their stdin closes. Every wait
//! has a deadline that ends the bench with an error naming what did not happen; the server
//! and the workers are stopped even when the bench fails or panics (drop guards, and
//! `PR_SET_PDEATHSIG` if the bench itself is killed).

#[path = "../tests/conformance/postgres_server.rs"]
mod postgres_server;
#[path = "common/stats.rs"]
mod stats;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cairn::{Context, PostgresOptions, RunId, Runtime, Status, workflow};
use stats::spread;

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

/// Runs and steps of the throughput figure.
const RUNS: u64 = 1_000;
/// Steps of each run of the throughput figure, unless `CAIRN_BENCH_PG_STEPS` says otherwise.
const STEPS: u64 = 10;

/// The steps of each run of the throughput figure (`STEPS` or `CAIRN_BENCH_PG_STEPS`).
fn steps_per_run() -> u64 {
    std::env::var("CAIRN_BENCH_PG_STEPS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(STEPS)
}

/// Commits a run of the throughput figure makes once started: one per step and its
/// completion (the start and the claims are not counted).
fn commits_per_run() -> u64 {
    steps_per_run() + 1
}
/// Bytes of the throughput baseline's raw `UPDATE`: about what a transition of `steps`
/// writes (its run record and history record; the latency figure measures it: ~110 B).
const THROUGHPUT_STATE_BYTES: usize = 128;
/// Worker processes of the throughput figure.
const WORKER_COUNTS: [usize; 3] = [1, 2, 4];
/// Steps of the latency figure's run, and raw commits of the baseline.
const LATENCY_STEPS: u64 = 200;
const BASELINE_COMMITS: u32 = 300;
/// The take-over figure: runs, the lease, and each run's steps (long enough that the run
/// is mid-way when its worker is killed).
const TAKEOVER_RUNS: u64 = 20;
const TAKEOVER_LEASE: Duration = Duration::from_secs(2);
const TAKEOVER_STEP: Duration = Duration::from_millis(10);
const TAKEOVER_STEPS: u64 = 1_000;
const TAKEOVER_REPS: usize = 5;
/// Deadlines: a worker's start, one throughput measurement, one take-over.
const WORKER_START_LIMIT: Duration = Duration::from_secs(60);
const THROUGHPUT_LIMIT: Duration = Duration::from_secs(180);
const TAKEOVER_LIMIT: Duration = Duration::from_secs(30);

/// The server's time in milliseconds, as cairn's leases read it.
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// The worker role's environment: set means "run as a worker".
const WORKER_VAR: &str = "CAIRN_BENCH_PG_WORKER";
const URL_VAR: &str = "CAIRN_BENCH_PG_URL";
const SCHEMA_VAR: &str = "CAIRN_BENCH_PG_SCHEMA";
const LEASE_VAR: &str = "CAIRN_BENCH_PG_LEASE_MS";
/// Inherited by the worker processes from the bench's environment.
const CLAIM_BATCH_VAR: &str = "CAIRN_BENCH_PG_CLAIM_BATCH";

async fn trivial(i: u64) -> u64 {
    std::hint::black_box(i)
}

/// `n` sequential trivial steps.
#[workflow]
async fn steps(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let mut sum = 0u64;
    for i in 0..n {
        let x = ctx.step("s", trivial(i)).await;
        sum = sum.wrapping_add(x);
    }
    Ok(sum)
}

async fn pause(i: u64) -> u64 {
    tokio::time::sleep(TAKEOVER_STEP).await;
    i
}

/// `n` steps of `TAKEOVER_STEP` each: runs that are mid-way when their worker dies.
#[workflow]
async fn paced(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let mut sum = 0u64;
    for i in 0..n {
        let x = ctx.step("pause", pause(i)).await;
        sum = sum.wrapping_add(x);
    }
    Ok(sum)
}

fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

/// A tokio runtime as a worker process uses (two threads: the machine has two cores).
fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

// ---------------------------------------------------------------------------------------
// The worker process.

/// Tells the parent, on stdout.
fn report(message: &str) {
    let mut out = std::io::stdout().lock();
    // The parent is gone if this fails; the worker dies with it (PR_SET_PDEATHSIG).
    let _ = writeln!(out, "@@{message}");
    let _ = out.flush();
}

/// The worker: runs workflows on the schema its parent named until its stdin closes, and
/// reports `ready`, the first transition it commits of each run (`first RUN UNIX_NANOS`) and,
/// at the end, `done TRANSITIONS RUNS`.
fn worker_main() -> Fallible<()> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let mut options = PostgresOptions::new(var(URL_VAR)?).schema(var(SCHEMA_VAR)?);
    if let Ok(ms) = std::env::var(LEASE_VAR) {
        options = options.lease(Duration::from_millis(ms.parse()?));
    }
    if let Ok(runs) = std::env::var(CLAIM_BATCH_VAR) {
        options = options.claim_batch(runs.parse()?);
    }
    let transitions = Arc::new(AtomicU64::new(0));
    let runs = Arc::new(Mutex::new(HashSet::<RunId>::new()));
    let hook = {
        let transitions = transitions.clone();
        let runs = runs.clone();
        move |t: &cairn::Transition<'_>| {
            transitions.fetch_add(1, Ordering::Relaxed);
            if runs.lock().unwrap().insert(t.run) {
                report(&format!("first {} {}", t.run, unix_nanos()));
            }
            cairn::Flow::Continue
        }
    };
    tokio_runtime().block_on(async {
        let runtime = match Runtime::builder()
            .postgres(options)
            .register(steps)
            .register(paced)
            .on_transition(hook)
            .start()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                report(&format!("error {error}"));
                return Err(error.into());
            }
        };
        report("ready");
        // Until the parent closes our stdin (or dies).
        tokio::task::spawn_blocking(|| {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
        })
        .await?;
        runtime.shutdown().await;
        let runs = runs.lock().unwrap().len();
        report(&format!(
            "done {} {runs}",
            transitions.load(Ordering::Relaxed)
        ));
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------
// The parent's side of a worker.

/// A worker process; SIGKILLed and reaped when dropped, so that a failing bench leaves none.
struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Worker {
    /// Starts a worker on `schema` with `lease` (else the default, 30 s) and waits until it
    /// runs.
    fn start(url: &str, schema: &str, lease: Option<Duration>) -> Fallible<Worker> {
        let mut command = Command::new(std::env::current_exe()?);
        command
            .env(WORKER_VAR, "1")
            .env(URL_VAR, url)
            .env(SCHEMA_VAR, schema);
        if let Some(lease) = lease {
            command.env(LEASE_VAR, lease.as_millis().to_string());
        }
        command.stdin(Stdio::piped()).stdout(Stdio::piped());
        // SAFETY: `prctl` is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                // The worker dies with the bench's thread that started it (the main thread).
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = command.spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no worker stdout")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(message) = line.strip_prefix("@@")
                    && tx.send(message.to_owned()).is_err()
                {
                    break;
                }
            }
        });
        let mut worker = Worker {
            child,
            stdin,
            lines,
        };
        worker.expect("ready", WORKER_START_LIMIT)?;
        Ok(worker)
    }

    /// The next message, which must start with `what`, within `limit`.
    fn expect(&mut self, what: &str, limit: Duration) -> Fallible<String> {
        match self.lines.recv_timeout(limit) {
            Ok(line) if line.starts_with(what) => Ok(line),
            Ok(line) => Err(format!("a worker said `{line}` where `{what}` was expected").into()),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(format!("no `{what}` from a worker within {limit:?}").into())
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(format!("a worker exited before `{what}`").into())
            }
        }
    }

    /// The first transition of a run this worker committed: (run, when, in Unix nanoseconds).
    fn next_first(&mut self, limit: Duration) -> Fallible<(String, u128)> {
        let line = self.expect("first ", limit)?;
        let mut words = line.split(' ').skip(1);
        let run = words.next().ok_or("a `first` without a run")?.to_owned();
        let at = words.next().ok_or("a `first` without a time")?.parse()?;
        Ok((run, at))
    }

    /// Closes its stdin, lets it shut down and returns (transitions, runs) it committed.
    fn finish(mut self) -> Fallible<(u64, u64)> {
        drop(self.stdin.take());
        let began = Instant::now();
        loop {
            let left = THROUGHPUT_LIMIT.saturating_sub(began.elapsed());
            let line = self.expect("", left)?;
            if let Some(done) = line.strip_prefix("done ") {
                let mut words = done.split(' ');
                let mut number =
                    || -> Fallible<u64> { Ok(words.next().ok_or("a short `done`")?.parse()?) };
                return Ok((number()?, number()?));
            }
        }
    }

    /// SIGKILL, and reap it.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------------------
// The server and raw SQL.

/// The server under test, stopped when dropped (unless it is the user's, from
/// `CAIRN_TEST_POSTGRES_URL`).
struct Pg {
    url: String,
    own: Option<postgres_server::Server>,
    raw: tokio_postgres::Client,
    next_schema: u64,
}

impl Pg {
    async fn start() -> Fallible<Pg> {
        let (url, own) = match std::env::var("CAIRN_TEST_POSTGRES_URL") {
            Ok(url) => (url, None),
            Err(_) => {
                let root = std::env::var_os("CAIRN_BENCH_DIR")
                    .map_or_else(|| env!("CARGO_TARGET_TMPDIR").into(), PathBuf::from)
                    .join("cairn-bench-postgres");
                std::fs::create_dir_all(&root)?;
                let server =
                    postgres_server::start_server(&root, postgres_server::Durability::Full);
                (server.url.clone(), Some(server))
            }
        };
        let (raw, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
        // A broken connection shows as the error of the next query; its end when the server
        // stops at the end of the bench is expected.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Pg {
            url,
            own,
            raw,
            next_schema: 0,
        })
    }

    /// A new schema name (created by the first cairn process that opens it).
    fn fresh_schema(&mut self, what: &str) -> String {
        self.next_schema += 1;
        format!("bench_{what}_{}_{}", std::process::id(), self.next_schema)
    }

    async fn drop_schema(&self, schema: &str) -> Fallible<()> {
        self.raw
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await?;
        Ok(())
    }

    async fn setting(&self, name: &str) -> Fallible<String> {
        let row = self.raw.query_one(&format!("SHOW {name}"), &[]).await?;
        Ok(row.get(0))
    }

    /// Bytes a transition of `run` writes in `schema`: its run record (which holds the
    /// state) and one history record.
    async fn transition_bytes(&self, schema: &str, run: RunId) -> Fallible<i64> {
        let row = self
            .raw
            .query_one(
                &format!(
                    "SELECT (SELECT octet_length(record) FROM {schema}.runs WHERE id = $1)::bigint,
                            (SELECT avg(octet_length(record)) FROM {schema}.history
                              WHERE run = $1)::bigint"
                ),
                &[&(run.0 as i64)],
            )
            .await?;
        let record: Option<i64> = row.get(0);
        let history: Option<i64> = row.get(1);
        Ok(record.unwrap_or(0) + history.unwrap_or(0))
    }

    /// The least and most time left, in seconds, of the leases of the unfinished runs of
    /// `schema` (by the server's clock, as cairn's leases).
    async fn lease_left(&self, schema: &str) -> Fallible<(f64, f64)> {
        let row = self
            .raw
            .query_one(
                &format!(
                    "SELECT min(lease_until_ms) - {NOW_MS}, max(lease_until_ms) - {NOW_MS}
                     FROM {schema}.runs WHERE finished_ms IS NULL AND owner IS NOT NULL"
                ),
                &[],
            )
            .await?;
        let ms = |i: usize| -> Fallible<f64> {
            let left: Option<i64> = row.get(i);
            Ok(left.ok_or("no leased run")? as f64 / 1e3)
        };
        Ok((ms(0)?, ms(1)?))
    }

    /// The baseline: `n` raw commits, each one `UPDATE` of a runs-like row (the state as a
    /// `bytea` of `bytes` bytes, and the lease columns cairn's `runs` has) in autocommit
    /// mode, on one connection: one round trip and one WAL flush each. Time per commit.
    async fn raw_commit(&self, bytes: usize, n: u32) -> Fallible<Duration> {
        self.raw
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS bench_raw_runs (id bigint PRIMARY KEY,
                    record bytea NOT NULL, status integer NOT NULL, owner text,
                    epoch bigint NOT NULL, lease_until_ms bigint);
                 INSERT INTO bench_raw_runs
                    SELECT i, '', 1, 'worker', 0, 0 FROM generate_series(0, 15) AS i
                    ON CONFLICT (id) DO NOTHING",
            )
            .await?;
        let update = self
            .raw
            .prepare(
                "UPDATE bench_raw_runs SET record = $1, epoch = epoch + 1,
                    lease_until_ms = $3 WHERE id = $2",
            )
            .await?;
        let state = vec![7u8; bytes];
        // A few to warm the connection and the table.
        for i in 0..10i64 {
            self.raw.execute(&update, &[&state, &(i % 16), &i]).await?;
        }
        let began = Instant::now();
        for i in 0..i64::from(n) {
            self.raw.execute(&update, &[&state, &(i % 16), &i]).await?;
        }
        Ok(began.elapsed() / n)
    }
}

impl Pg {
    /// The server floor of the throughput figure: the rows `RUNS` runs of `steps_per_run()` steps
    /// write (each transition a runs-like row updated and a history row inserted, `bytes`
    /// of state each), written with as few statements as PostgreSQL allows: per step, one
    /// statement in autocommit for all `RUNS` runs (an `unnest` `UPDATE` and an `INSERT`
    /// in one data-modifying `WITH`), full durability. Transitions per second: what one
    /// connection gets from this server and disk with no per-transition client work, a
    /// ceiling next to cairn's figure.
    async fn server_floor(&self, bytes: usize) -> Fallible<f64> {
        self.raw
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS bench_floor_runs, bench_floor_history;
                 CREATE TABLE bench_floor_runs (id bigint PRIMARY KEY, record bytea NOT NULL,
                    status integer NOT NULL, owner text, epoch bigint NOT NULL,
                    lease_until_ms bigint);
                 CREATE TABLE bench_floor_history (run bigint NOT NULL, seq bigint NOT NULL,
                    record bytea NOT NULL, PRIMARY KEY (run, seq));
                 INSERT INTO bench_floor_runs
                    SELECT i, '', 1, 'worker', 1, 0 FROM generate_series(1, {RUNS}) AS i"
            ))
            .await?;
        let step = self
            .raw
            .prepare(&format!(
                "WITH up AS (
                     UPDATE bench_floor_runs r SET record = u.record,
                         lease_until_ms = {NOW_MS} + 30000
                     FROM unnest($1::bigint[], $2::bytea[]) AS u(id, record)
                     WHERE r.id = u.id AND r.owner = 'worker' AND r.epoch = 1
                     RETURNING r.id)
                 INSERT INTO bench_floor_history (run, seq, record)
                 SELECT u.id, $3, u.record FROM unnest($1::bigint[], $2::bytea[]) AS u(id, record)"
            ))
            .await?;
        let ids: Vec<i64> = (1..=RUNS as i64).collect();
        let records: Vec<Vec<u8>> = (0..RUNS).map(|_| vec![7u8; bytes]).collect();
        let began = Instant::now();
        for seq in 0..commits_per_run() as i64 {
            self.raw.execute(&step, &[&ids, &records, &seq]).await?;
        }
        let elapsed = began.elapsed();
        self.raw
            .batch_execute("DROP TABLE bench_floor_runs, bench_floor_history")
            .await?;
        Ok((RUNS * commits_per_run()) as f64 / elapsed.as_secs_f64())
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        if let Some(server) = self.own.take() {
            server.stop();
        }
    }
}

fn options(url: &str, schema: &str) -> PostgresOptions {
    PostgresOptions::new(url).schema(schema)
}

/// A client-only process's view of `schema`.
fn client_only(url: &str, schema: &str) -> Fallible<Runtime> {
    Ok(Runtime::builder()
        .postgres(options(url, schema))
        .register(steps)
        .register(paced)
        .client_only()
        .start()?)
}

// ---------------------------------------------------------------------------------------
// The figures.

/// One measurement of a figure next to its baseline.
struct Sample {
    value: f64,
    baseline: f64,
}

/// (1) Step latency: one run of `LATENCY_STEPS` sequential trivial steps in this process,
/// time per step (its start and completion included, over `LATENCY_STEPS + 1`); baseline: a
/// raw commit of the bytes a transition writes (as measured on the warm-up run), half of
/// them right before the run and half right after (the shared disk's fsync time drifts
/// within seconds). In milliseconds.
async fn latency(pg: &mut Pg) -> Fallible<Sample> {
    let schema = pg.fresh_schema("latency");
    let runtime = Runtime::builder()
        .postgres(options(&pg.url, &schema))
        .register(steps)
        .start()?;
    let client = runtime.client();
    let warm_up = client.start(steps, 10).await?;
    client.wait(steps, warm_up).await?;
    let bytes = pg.transition_bytes(&schema, warm_up).await?;
    let before = pg.raw_commit(bytes as usize, BASELINE_COMMITS / 2).await?;
    let began = Instant::now();
    let run = client.start(steps, LATENCY_STEPS).await?;
    tokio::time::timeout(THROUGHPUT_LIMIT, client.wait(steps, run))
        .await
        .map_err(|_| "the latency run did not finish in time")??;
    let per_step = began.elapsed() / (LATENCY_STEPS as u32 + 1);
    let after = pg.raw_commit(bytes as usize, BASELINE_COMMITS / 2).await?;
    let raw = (before + after) / 2;
    runtime.shutdown().await;
    pg.drop_schema(&schema).await?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "latency: {:.3} ms/step vs raw UPDATE + commit of {bytes} B {:.3} ms = {:.2}x (N={LATENCY_STEPS})",
        ms(per_step),
        ms(raw),
        ms(per_step) / ms(raw)
    );
    Ok(Sample {
        value: ms(per_step),
        baseline: ms(raw),
    })
}

/// (2) Throughput with `workers` worker processes: transitions per second from
/// `start_many` of `RUNS` runs of `steps_per_run()` steps (in a client-only process, this one) until
/// every run completed; the baseline is one raw commit per transition, half of the raw
/// commits right before the runs start, half right after they complete.
async fn throughput(pg: &mut Pg, workers: usize) -> Fallible<(Sample, f64)> {
    let schema = pg.fresh_schema("throughput");
    let mut started = Vec::new();
    for _ in 0..workers {
        started.push(Worker::start(&pg.url, &schema, None)?);
    }
    let runtime = client_only(&pg.url, &schema)?;
    let client = runtime.client();
    let before = pg
        .raw_commit(THROUGHPUT_STATE_BYTES, BASELINE_COMMITS / 2)
        .await?;
    let worker_cpu =
        |started: &[Worker]| -> f64 { started.iter().map(|w| cpu_seconds(w.child.id())).sum() };
    let server_pid = pg.own.as_ref().map(|s| s.pid);
    let cpu_before = (worker_cpu(&started), server_pid.map(server_cpu_seconds));
    let began = Instant::now();
    let steps_each = steps_per_run();
    client
        .start_many(steps, (0..RUNS).map(|_| steps_each))
        .await?;
    loop {
        let counts = client.count_by_status()?;
        let completed = counts.get(Status::Completed);
        if completed == RUNS {
            break;
        }
        if counts.get(Status::Failed) > 0 {
            return Err(format!("{} runs failed", counts.get(Status::Failed)).into());
        }
        if began.elapsed() > THROUGHPUT_LIMIT {
            return Err(format!(
                "{completed} of {RUNS} runs completed in {THROUGHPUT_LIMIT:?} with {workers} workers"
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = began.elapsed();
    let workers_cpu = worker_cpu(&started) - cpu_before.0;
    let server_cpu = server_pid
        .map(server_cpu_seconds)
        .zip(cpu_before.1)
        .map(|(a, b)| a - b);
    let after = pg
        .raw_commit(THROUGHPUT_STATE_BYTES, BASELINE_COMMITS / 2)
        .await?;
    let baseline_per_s = 2.0 / (before + after).as_secs_f64();
    runtime.shutdown().await;
    let mut spread = Vec::new();
    let mut hooked = 0;
    for worker in started {
        let (transitions, runs) = worker.finish()?;
        hooked += transitions;
        spread.push(runs.to_string());
    }
    pg.drop_schema(&schema).await?;
    let committed = RUNS * commits_per_run();
    let per_s = committed as f64 / elapsed.as_secs_f64();
    let transitions = committed as f64;
    let wall = elapsed.as_secs_f64();
    println!(
        "CPU while the runs ran ({wall:.2} s): worker processes {workers_cpu:.2} s ({:.0}% of one core, {:.0} µs per transition); server {}",
        100.0 * workers_cpu / wall,
        1e6 * workers_cpu / transitions,
        server_cpu.map_or(
            "not measured (not the bench's own server)".to_owned(),
            |cpu| format!(
                "{cpu:.2} s ({:.0}% of one core, {:.0} µs per transition)",
                100.0 * cpu / wall,
                1e6 * cpu / transitions
            )
        ),
    );
    let floor = pg.server_floor(THROUGHPUT_STATE_BYTES).await?;
    println!(
        "server floor (the same rows, one unnest UPDATE + INSERT per {RUNS} transitions): {floor:.0} transitions/s; cairn at {:.0}% of it",
        100.0 * per_s / floor
    );
    println!(
        "throughput: {workers} worker(s): {per_s:.0} transitions/s ({} in {:.2} s; steps committed {hooked}; runs per worker {}) = {:.1}x one raw commit per transition ({baseline_per_s:.0}/s)",
        committed,
        elapsed.as_secs_f64(),
        spread.join("/"),
        per_s / baseline_per_s
    );
    let sample = Sample {
        value: per_s,
        baseline: baseline_per_s,
    };
    Ok((sample, floor))
}

/// CPU time (user and system) process `pid` used so far, in seconds (0 once it is gone).
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime, fields 14 and 15 of proc(5), here 11 and 12 (from field 3).
    // SAFETY: `sysconf` reads a constant of the system.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) + ticks(12)) as f64 / per_second
}

/// CPU time of the server: its postmaster and the processes it started (backends, WAL
/// writer, checkpointer), in seconds.
fn server_cpu_seconds(postmaster: u32) -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            pid == postmaster
                || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                    stat.rsplit_once(')')
                        .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                        == Some(postmaster)
                })
        })
        .map(cpu_seconds)
        .sum()
}

/// (3) Take-over: worker A runs `TAKEOVER_RUNS` runs with a `TAKEOVER_LEASE` lease; once
/// each committed a transition there, worker B starts, and A is SIGKILLed `kill_after`
/// later (repetitions vary it, so that the kill lands at different points of A's heartbeat
/// cycle). Times from the kill to B's first commit of one of those runs, and to its first
/// commit of the last of them, and the least and most of A's leases left at the kill, in
/// seconds.
async fn takeover(pg: &mut Pg, kill_after: Duration) -> Fallible<(f64, f64, f64, f64)> {
    let schema = pg.fresh_schema("takeover");
    let mut a = Worker::start(&pg.url, &schema, Some(TAKEOVER_LEASE))?;
    let runtime = client_only(&pg.url, &schema)?;
    runtime
        .client()
        .start_many(paced, (0..TAKEOVER_RUNS).map(|_| TAKEOVER_STEPS))
        .await?;
    runtime.shutdown().await;
    for _ in 0..TAKEOVER_RUNS {
        a.next_first(TAKEOVER_LIMIT)?;
    }
    let mut b = Worker::start(&pg.url, &schema, Some(TAKEOVER_LEASE))?;
    tokio::time::sleep(kill_after).await;
    // What is left of A's leases: the take-over cannot come before the least of them ends.
    let left = pg.lease_left(&schema).await?;
    let killed = unix_nanos();
    a.kill();
    let mut firsts = Vec::new();
    let mut seen = HashSet::new();
    while seen.len() < TAKEOVER_RUNS as usize {
        let (run, at) = b.next_first(TAKEOVER_LIMIT)?;
        if seen.insert(run) {
            firsts.push(at.saturating_sub(killed) as f64 / 1e9);
        }
    }
    b.kill();
    pg.drop_schema(&schema).await?;
    let first = firsts.iter().copied().fold(f64::INFINITY, f64::min);
    let last = firsts.iter().copied().fold(0.0, f64::max);
    println!(
        "takeover: SIGKILL ({kill_after:?} after B started; A's leases had {:.3}–{:.3} s left) -> first run continued on another worker {first:.3} s, all {TAKEOVER_RUNS} {last:.3} s (lease {TAKEOVER_LEASE:?})",
        left.0, left.1
    );
    Ok((first, last, left.0, left.1))
}

// ---------------------------------------------------------------------------------------
// The table.

fn row(figure: &str, samples: &[Sample], digits: usize, unit: &str, target: &str) {
    let values: Vec<f64> = samples.iter().map(|s| s.value).collect();
    let baselines: Vec<f64> = samples.iter().map(|s| s.baseline).collect();
    let ratios: Vec<f64> = samples.iter().map(|s| s.value / s.baseline).collect();
    println!(
        "| {figure} | {} {unit} | {} {unit} | {}x | {target} |",
        spread(&values, digits),
        spread(&baselines, digits),
        spread(&ratios, 2)
    );
}

fn reps() -> usize {
    std::env::var("CAIRN_BENCH_PG_REPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3)
        .max(1)
}

async fn bench(only: Option<&str>) -> Fallible<()> {
    let want = |name: &str| only.is_none_or(|o| name.contains(o));
    let mut pg = Pg::start().await?;
    println!(
        "PostgreSQL {} at {}: fsync={}, synchronous_commit={}, full_page_writes={}; data {}",
        pg.setting("server_version").await?,
        pg.url,
        pg.setting("fsync").await?,
        pg.setting("synchronous_commit").await?,
        pg.setting("full_page_writes").await?,
        pg.own
            .as_ref()
            .map_or("(the server of CAIRN_TEST_POSTGRES_URL)".to_owned(), |s| s
                .dir
                .display()
                .to_string()),
    );
    let reps = reps();
    let mut latencies = Vec::new();
    let mut throughputs: Vec<Vec<Sample>> = WORKER_COUNTS.iter().map(|_| Vec::new()).collect();
    let mut takeovers = Vec::new();
    // The server floor, measured after each throughput figure.
    let mut floors = Vec::new();
    for rep in 1..=reps {
        println!("-- repetition {rep} of {reps}");
        if want("latency") {
            latencies.push(latency(&mut pg).await?);
        }
        if want("throughput") {
            for (i, &workers) in WORKER_COUNTS.iter().enumerate() {
                let (sample, floor) = throughput(&mut pg, workers).await?;
                throughputs[i].push(sample);
                floors.push(floor);
            }
        }
    }
    if want("takeover") {
        let count = TAKEOVER_REPS.max(reps);
        for i in 0..count {
            // Kills spread over one heartbeat cycle (a third of the lease).
            let kill_after =
                Duration::from_millis(500) + (TAKEOVER_LEASE / 3).mul_f64(i as f64 / count as f64);
            takeovers.push(takeover(&mut pg, kill_after).await?);
        }
    }
    println!();
    println!(
        "Median (range) of {reps} repetitions, each next to its baseline from the same repetition:"
    );
    println!("| figure | cairn | baseline | ratio | target |");
    println!("|---|---|---|---|---|");
    if !latencies.is_empty() {
        row(
            &format!(
                "step latency, {LATENCY_STEPS} sequential steps (baseline: one raw UPDATE + commit)"
            ),
            &latencies,
            3,
            "ms",
            "≤ 1.5x",
        );
    }
    for (i, samples) in throughputs.iter().enumerate() {
        if !samples.is_empty() {
            row(
                &format!(
                    "throughput, {RUNS} runs × {} steps, {} worker process(es) (baseline: one raw commit per transition)",
                    steps_per_run(),
                    WORKER_COUNTS[i]
                ),
                samples,
                0,
                "tr/s",
                "≥ 20x, growing with workers",
            );
        }
    }
    if !floors.is_empty() {
        println!(
            "| server floor: the same rows, one raw unnest UPDATE + INSERT per {RUNS} transitions, autocommit, {} measurements | {} tr/s | | | the ceiling of the throughput rows on this server |",
            floors.len(),
            spread(&floors, 0),
        );
    }
    if !takeovers.is_empty() {
        let firsts: Vec<f64> = takeovers.iter().map(|t| t.0).collect();
        let lasts: Vec<f64> = takeovers.iter().map(|t| t.1).collect();
        let least_left = takeovers.iter().map(|t| t.2).fold(f64::INFINITY, f64::min);
        let most_left = takeovers.iter().map(|t| t.3).fold(0.0, f64::max);
        println!(
            "| take-over after SIGKILL, {} repetitions: first / all {TAKEOVER_RUNS} runs continued | {} s / {} s | lease {:.1} s, heartbeat every {:.2} s (a third), poll {} ms (jittered 80–100%); leases left at the kill {least_left:.2}–{most_left:.2} s | | lease left + poll |",
            takeovers.len(),
            spread(&firsts, 2),
            spread(&lasts, 2),
            TAKEOVER_LEASE.as_secs_f64(),
            TAKEOVER_LEASE.as_secs_f64() / 3.0,
            100,
        );
    }
    Ok(())
}

fn main() {
    if std::env::var_os(WORKER_VAR).is_some() {
        if let Err(error) = worker_main() {
            eprintln!("benches/postgres.rs worker: {error}");
            std::process::exit(1);
        }
        return;
    }
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let outcome = tokio_runtime().block_on(bench(only.as_deref()));
    if let Err(error) = outcome {
        // With its causes: a driver's error often says only "error connecting to server".
        let mut message = error.to_string();
        let mut cause = error.source();
        while let Some(inner) = cause {
            message.push_str(&format!(": {inner}"));
            cause = inner.source();
        }
        eprintln!("benches/postgres.rs failed: {message}");
        std::process::exit(1);
    }
}
