//! A new run never takes the id of a stored one, whatever the directory's run-id counter
//! says: a counter set back or damaged (written here through heed, as a bad restore or a
//! flipped bit would leave it) is overtaken by the highest stored id, so existing runs keep
//! their input, output and history.

mod support;

use std::path::Path;

use cairn::{Context, RunId, Runtime, Status, workflow};
use support::raw_store::with_database;

async fn double(n: u64) -> Result<u64, String> {
    Ok(n * 2)
}

#[workflow]
async fn doubler(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let doubled = ctx.task(double, n).await?;
    Ok(doubled)
}

fn start(dir: &Path) -> Runtime {
    Runtime::builder()
        .path(dir)
        .register(doubler)
        .start()
        .unwrap()
}

/// Writes `value` under `key` in the directory's meta database, with the runtime shut down.
fn write_meta(dir: &Path, key: &str, value: &[u8]) {
    with_database(dir, "meta", |txn, meta| {
        meta.put(txn, key.as_bytes(), value).unwrap()
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counter_set_back_or_damaged_never_makes_a_new_run_overwrite_one() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = start(dir.path());
    let client = runtime.client();
    let mut stored = Vec::new();
    for n in 1..=3 {
        let run = client.start(doubler, n).await.unwrap();
        assert_eq!(client.wait(doubler, run).await.unwrap(), n * 2);
        stored.push(run);
    }
    runtime.shutdown().await;

    // Set back to 1, then to something that is not a counter at all.
    for counter in [&1u64.to_be_bytes()[..], &[0xff, 0x01, 0x02][..]] {
        write_meta(dir.path(), "next_run_id", counter);
        let runtime = start(dir.path());
        let client = runtime.client();
        let run = client.start(doubler, 100).await.unwrap();
        assert!(!stored.contains(&run), "new run {run} took a stored id");
        assert_eq!(client.wait(doubler, run).await.unwrap(), 200);
        stored.push(run);
        runtime.shutdown().await;
    }

    let runtime = start(dir.path());
    let client = runtime.client();
    let inputs = [1, 2, 3, 100, 100];
    for (&run, n) in stored.iter().zip(inputs) {
        assert_eq!(client.wait(doubler, run).await.unwrap(), n * 2, "run {run}");
        let history = client.history(run).unwrap();
        // One step and the completion each: nothing of another run mixed in.
        assert_eq!(history.len(), 2, "run {run}: {history:?}");
    }
    let listed: Vec<RunId> = client.list(None).unwrap().iter().map(|r| r.id).collect();
    assert_eq!(listed, stored);
    assert!(
        client
            .list(None)
            .unwrap()
            .iter()
            .all(|r| r.status == Status::Completed)
    );
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_instance_id_is_an_error_naming_the_directory_not_a_new_id() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = start(dir.path());
    let client = runtime.client();
    let run = client.start(doubler, 1).await.unwrap();
    client.wait(doubler, run).await.unwrap();
    runtime.shutdown().await;

    write_meta(dir.path(), "instance_id", &[1, 2, 3]);
    for attempt in 0..2 {
        match Runtime::builder()
            .path(dir.path())
            .register(doubler)
            .start()
        {
            Err(cairn::Error::CorruptDirectory { path, key, reason }) => {
                assert_eq!(path, dir.path());
                assert_eq!(key, "instance_id");
                assert!(reason.contains("3 bytes"), "{reason}");
            }
            other => panic!("attempt {attempt}: expected CorruptDirectory, got {other:?}"),
        }
    }
    // A client cannot read the id either, for the same reason.
    assert!(matches!(
        cairn::Client::open(dir.path()),
        Err(cairn::Error::CorruptDirectory { .. })
    ));
}
