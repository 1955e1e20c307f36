//! A run whose task stopped in a worker without committing its end (a storage error in the
//! middle of a commit) is taken up again once its lease ends, by that worker's take-over poll
//! or by another worker, instead of staying owned by the worker that stopped it (whose
//! heartbeat used to renew the leases of every run it owned, live or not, until it restarted).
//!
//! A worker process runs a three-step workflow; its second step waits for a gate file. While
//! it waits, the test makes the store fail that step's commit from inside the server: a
//! trigger on `history` raises `disk_full` (a transient storage error), or terminates the
//! commit's own connection (`pg_terminate_backend`, as an administrator or a failover would).
//! A sequence counts the faults (its `nextval` survives the rollback). Once the fault has
//! fired the trigger is dropped and the store is healthy again: the run must complete, the
//! first and third steps once each, the second once more per refused commit.

mod postgres_common;

use std::path::Path;
use std::time::{Duration, Instant};

use cairn::{Context, Runtime, workflow};
use postgres_common::{Store, child_dir, eventually, log, param, read_log, report};

/// The worker's name in the log: the child's parameter.
fn me() -> u64 {
    param()
}

async fn mark(what: String) -> Result<String, String> {
    log(&format!("{what} {}", me()));
    Ok(format!("{what} on {}", me()))
}

/// [`mark`], then waits until the test creates the file `gate` in the child's directory.
async fn gated(what: String) -> Result<String, String> {
    log(&format!("{what} {}", me()));
    let gate = child_dir().expect("a child").join("gate");
    while !gate.exists() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(format!("{what} on {}", me()))
}

#[workflow]
async fn three_steps(ctx: &mut Context, n: u64) -> Result<Vec<String>, String> {
    let one = ctx.task(mark, format!("one-{n}")).await?;
    let two = ctx.task(gated, format!("two-{n}")).await?;
    let three = ctx.task(mark, format!("three-{n}")).await?;
    Ok(vec![one, two, three])
}

#[test]
fn child_entry() {
    if child_dir().is_none() {
        return;
    }
    let store = Store::from_parent();
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::stderr)
        .try_init();
    postgres_common::tokio_runtime().block_on(async move {
        let _runtime = Runtime::builder()
            .postgres(store.options().worker_id(format!("host-{}", me())))
            .register(three_steps)
            .start()
            .expect("worker starts");
        report("ready");
        std::future::pending::<()>().await;
    });
}

/// A connection to the test server with `store`'s schema first on its search path.
fn connect(store: &Store, tokio: &tokio::runtime::Runtime) -> tokio_postgres::Client {
    tokio.block_on(async {
        let client = postgres_common::connect(store).await;
        client
            .batch_execute(&format!("SET search_path = {}", store.schema))
            .await
            .expect("search path");
        client
    })
}

/// What the armed trigger does to the commit that inserts a history record.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// `ERROR: could not extend file ... No space left on device` (`53100`).
    DiskFull,
    /// The commit's own connection is terminated by the server.
    ConnectionTerminated,
}

impl Fault {
    fn body(self) -> &'static str {
        match self {
            Fault::DiskFull => {
                "RAISE EXCEPTION 'could not extend file: No space left on device'
                     USING ERRCODE = 'disk_full';"
            }
            Fault::ConnectionTerminated => {
                // The backend takes its own SIGTERM at the next interrupt check (the sleep).
                "PERFORM pg_terminate_backend(pg_backend_pid());
                 PERFORM pg_sleep(10);
                 RETURN NEW;"
            }
        }
    }
}

/// Arms `fault` on every history insert of the store, counting in the sequence `faults`.
fn arm(db: &tokio_postgres::Client, tokio: &tokio::runtime::Runtime, store: &Store, fault: Fault) {
    let schema = &store.schema;
    let sql = format!(
        "CREATE SEQUENCE {schema}.faults;
         CREATE FUNCTION {schema}.fault() RETURNS trigger LANGUAGE plpgsql AS $fault$
         BEGIN
             PERFORM nextval('{schema}.faults');
             {}
         END $fault$;
         CREATE TRIGGER fault BEFORE INSERT ON {schema}.history
             FOR EACH ROW EXECUTE FUNCTION {schema}.fault();",
        fault.body()
    );
    tokio
        .block_on(db.batch_execute(&sql))
        .expect("arm the fault");
}

fn disarm(db: &tokio_postgres::Client, tokio: &tokio::runtime::Runtime, store: &Store) {
    let sql = format!("DROP TRIGGER fault ON {}.history", store.schema);
    tokio
        .block_on(db.batch_execute(&sql))
        .expect("disarm the fault");
}

/// How many commits the armed trigger failed.
fn faults(db: &tokio_postgres::Client, tokio: &tokio::runtime::Runtime) -> i64 {
    let row = tokio
        .block_on(db.query_one(
            "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM faults",
            &[],
        ))
        .expect("read the fault count");
    row.get(0)
}

/// The owner and epoch of `run`'s row.
fn lease_of(
    db: &tokio_postgres::Client,
    tokio: &tokio::runtime::Runtime,
    run: cairn::RunId,
) -> (Option<String>, i64) {
    let id = i64::try_from(run.0).unwrap();
    let row = tokio
        .block_on(db.query_one("SELECT owner, epoch FROM runs WHERE id = $1", &[&id]))
        .expect("read the run's lease");
    (row.get(0), row.get(1))
}

fn count(dir: &Path, line: &str) -> usize {
    read_log(dir).iter().filter(|l| *l == line).count()
}

/// The scenario of the module doc with `fault`; with `second_worker`, another worker is
/// started once the fault is armed, and either may take the run up.
///
/// The fault stays armed until the run is taken again (a new epoch): a fault lifted sooner
/// could let the write's own second attempt (the batch written op by op) succeed, and the
/// run would never stop. Each take while it is armed may fail again; the run goes on once
/// it is lifted.
fn a_stopped_run_is_taken_up_after_its_lease(fault: Fault, second_worker: bool) {
    let lease = Duration::from_secs(1);
    let store = Store::fresh(lease);
    let dir = tempfile::tempdir().unwrap();
    let tokio = postgres_common::tokio_runtime();
    let _guard = tokio.enter();
    let client = Runtime::builder()
        .postgres(store.options())
        .register(three_steps)
        .client_only()
        .start()
        .expect("client")
        .client();
    let mut a = store.spawn("child_entry", dir.path(), 1);
    assert_eq!(a.until("ready"), "ready");
    let run = tokio.block_on(client.start(three_steps, 7)).unwrap();
    eventually(Duration::from_secs(30), "the run in its gated step", || {
        count(dir.path(), "two-7 1") == 1
    });

    let db = connect(&store, &tokio);
    let (owner, epoch) = lease_of(&db, &tokio, run);
    assert_eq!(owner.as_deref(), Some("host-1"));
    arm(&db, &tokio, &store, fault);
    let b = second_worker.then(|| {
        let mut b = store.spawn("child_entry", dir.path(), 2);
        assert_eq!(b.until("ready"), "ready");
        b
    });
    std::fs::write(dir.path().join("gate"), b"").unwrap();
    eventually(
        Duration::from_secs(30),
        "the fault to fail the commit",
        || faults(&db, &tokio) >= 1,
    );
    let stopped_at = Instant::now();
    // Stopped in worker 1, the run is still `running` and owned by it: its lease must end
    // (no renewal) for a take-over poll to take it, with a new epoch.
    let patience = 20 * lease;
    let began = Instant::now();
    while lease_of(&db, &tokio, run).1 == epoch {
        assert!(
            began.elapsed() < patience,
            "the run stopped by {fault:?} was not taken again within {patience:?} (lease \
             {lease:?}): its lease is still {:?}; log {:?}",
            lease_of(&db, &tokio, run),
            read_log(dir.path())
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let taken_after = stopped_at.elapsed();
    disarm(&db, &tokio, &store);

    let output = tokio
        .block_on(tokio::time::timeout(
            Duration::from_secs(30),
            client.wait(three_steps, run),
        ))
        .expect("the run completes once the store is healthy")
        .unwrap();
    eprintln!(
        "{fault:?}: the stopped run was taken again {taken_after:?} after the fault (lease \
         {lease:?}), completed {:?} after it, {} commits failed",
        stopped_at.elapsed(),
        faults(&db, &tokio)
    );
    let log = read_log(dir.path());
    assert_eq!(output[0], "one-7 on 1", "{log:?}");
    let on = |step: &str| {
        (1..=2)
            .map(|worker| count(dir.path(), &format!("{step} {worker}")))
            .sum::<usize>()
    };
    // Each committed step once; the step whose commit failed ran again.
    assert_eq!(on("one-7"), 1, "{log:?}");
    assert!(on("two-7") >= 2, "{log:?}");
    assert_eq!(on("three-7"), 1, "{log:?}");
    assert_eq!(log.len(), 2 + on("two-7"), "{log:?}");
    let history: Vec<_> = client
        .history(run)
        .unwrap()
        .into_iter()
        .map(|record| record.state)
        .collect();
    assert_eq!(history, ["Mark", "Gated", "Mark2", "Completed"]);
    if let Some(b) = b {
        b.kill();
    }
    a.kill();
}

#[test]
fn a_run_stopped_by_a_storage_error_is_taken_up_after_its_lease() {
    if child_dir().is_some() {
        return;
    }
    a_stopped_run_is_taken_up_after_its_lease(Fault::DiskFull, false);
}

#[test]
fn a_run_whose_commit_lost_its_connection_is_taken_up_after_its_lease() {
    if child_dir().is_some() {
        return;
    }
    a_stopped_run_is_taken_up_after_its_lease(Fault::ConnectionTerminated, true);
}
