//! One runtime per data directory: a second runtime on the same directory, in another process
//! or in this one, is refused with [`Error::DirectoryInUse`] naming the directory and the
//! holder's pid, while client-only opens stay allowed; the lock dies with its process, so a
//! runtime starts again after the holder is SIGKILLed.

mod context_common;

use std::path::Path;

use cairn::{Client, Context, Error, Runtime, workflow};
use context_common::process::{child_dir, report, spawn_child, tokio_runtime};

async fn double(n: u64) -> Result<u64, String> {
    Ok(n * 2)
}

#[workflow]
async fn doubler(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let doubled = ctx.task(double, n).await?;
    Ok(doubled)
}

/// The child holds a runtime on the directory until it is killed.
#[test]
fn child_entry() {
    let Some(dir) = child_dir() else { return };
    tokio_runtime().block_on(async move {
        let runtime = Runtime::builder()
            .path(dir.join("db"))
            .register(doubler)
            .start()
            .expect("the first runtime starts");
        let output = runtime.client().run(doubler, 21).await.expect("run");
        report(&format!("holding {} {output}", std::process::id()));
        std::future::pending::<()>().await;
    });
}

fn start(dir: &Path) -> Result<Runtime, Error> {
    Runtime::builder()
        .path(dir.join("db"))
        .register(doubler)
        .start()
}

#[test]
fn a_runtime_in_another_process_holds_the_directory_until_it_dies() {
    if child_dir().is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut holder = spawn_child(dir.path(), 0, 0);
    let message = holder.until("holding");
    let pid: u32 = message.split(' ').nth(1).unwrap().parse().unwrap();
    assert_eq!(message, format!("holding {pid} 42"));
    tokio_runtime().block_on(async {
        match start(dir.path()) {
            Err(Error::DirectoryInUse { path, pid: holder }) => {
                assert_eq!(path, dir.path().join("db"));
                assert_eq!(holder, Some(pid));
                let shown = Error::DirectoryInUse { path, pid: holder }.to_string();
                assert!(shown.contains(&format!("pid {pid}")), "{shown}");
                assert!(shown.contains(&dir.path().display().to_string()), "{shown}");
            }
            other => panic!("expected DirectoryInUse, got {other:?}"),
        }
        // A client-only open runs nothing, so it is allowed next to the runtime.
        let client = Client::open(dir.path().join("db")).expect("client-only open");
        assert_eq!(client.list(None).unwrap().len(), 1);
    });
    holder.kill();
    // The OS released the killed holder's lock: no stale lock file blocks the directory.
    tokio_runtime().block_on(async {
        let runtime = start(dir.path()).expect("starts once the holder is dead");
        assert_eq!(runtime.client().run(doubler, 5).await.unwrap(), 10);
        runtime.shutdown().await;
    });
}

#[test]
fn a_second_runtime_in_the_same_process_is_refused_until_the_first_shuts_down() {
    if child_dir().is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    tokio_runtime().block_on(async {
        let first = start(dir.path()).unwrap();
        match start(dir.path()) {
            Err(Error::DirectoryInUse { path, pid }) => {
                assert_eq!(path, dir.path().join("db"));
                assert_eq!(pid, Some(std::process::id()));
            }
            other => panic!("expected DirectoryInUse, got {other:?}"),
        }
        // The refused start touched nothing: the first runtime still works.
        assert_eq!(first.client().run(doubler, 4).await.unwrap(), 8);
        first.shutdown().await;
        let second = start(dir.path()).expect("starts after the first shut down");
        assert_eq!(second.client().run(doubler, 6).await.unwrap(), 12);
        second.shutdown().await;
    });
}
