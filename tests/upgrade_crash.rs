//! Migrations across SIGKILL: a child process migrating the runs of an older layout
//! (`tests/fixtures/upgrade/field_added`, see `tests/upgrade.rs`) is killed inside the
//! migration function, then after the migration is committed while the run's next step is in
//! flight; a last child finishes the run. The log (appended with one `write` per line, which
//! survives SIGKILL) shows what ran: a migration interrupted before its commit runs again, one
//! committed never does, and the original is kept until the run's next transition.

mod context_common;

use std::path::Path;

use cairn::{Context, RunId, Runtime, workflow};
use context_common::process::{
    child_dir, log, param, read_log, report, spawn_child, tokio_runtime,
};
use serde_json::json;

async fn double(n: u64) -> Result<u64, String> {
    Ok(n * 2)
}

/// In mode 1, never ends (the parent kills the child while it is in flight).
async fn gated_finish(a: u64) -> Result<u64, String> {
    log("finish");
    if param() == 1 {
        report("finishing");
        std::future::pending::<()>().await;
    }
    Ok(a + 1000)
}

/// The current layout of `field_added`: its `Double` state holds `n` too, which the old one
/// (in the fixture) did not.
#[workflow(name = "field_added")]
async fn field_added(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let a = ctx.task(double, n).await?;
    let b = ctx.task(gated_finish, a).await?;
    Ok(b + n)
}

#[test]
fn child_entry() {
    let Some(dir) = child_dir() else { return };
    tokio_runtime().block_on(child(&dir));
}

/// Mode (param) 0: killed inside the migration function. 1: migrates, then is killed while
/// the run's next step is in flight. 2: finishes the run.
async fn child(dir: &Path) {
    let runtime = Runtime::builder()
        .path(dir.join("db"))
        .register(field_added)
        .migrate(field_added, |old| {
            log("migrate");
            if param() == 0 {
                report("migrating");
                // Blocks the start until the parent kills this process.
                loop {
                    std::thread::park();
                }
            }
            let a = old.fields["a"].as_u64().ok_or("no `a`")?;
            Ok(old.with("n", json!(a / 2)))
        })
        .start()
        .expect("runtime starts");
    assert!(
        runtime.incompatible_runs().is_empty(),
        "{:?}",
        runtime.incompatible_runs()
    );
    let client = runtime.client();
    let run: RunId = "1".parse().unwrap();
    let original = client.migrated_from(run).expect("read");
    report(&format!("migrated:{:?}", original.map(|(_, state)| state)));
    let output = client.wait(field_added, run).await.expect("finishes");
    report(&format!("done:{output}"));
    let original = client.migrated_from(run).expect("read");
    report(&format!(
        "kept after:{:?}",
        original.map(|(_, state)| state)
    ));
    runtime.shutdown().await;
}

#[test]
fn a_migration_survives_sigkill_before_and_after_its_commit() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upgrade/field_added");
    std::fs::create_dir_all(dir.path().join("db")).unwrap();
    std::fs::copy(fixture.join("data.mdb"), dir.path().join("db/data.mdb")).unwrap();

    // Killed inside the migration: nothing was written.
    let mut child = spawn_child(dir.path(), 0, 0);
    assert_eq!(child.next(), "migrating");
    child.kill();
    assert_eq!(read_log(dir.path()), ["migrate"]);

    // Migrated (the original kept, the run in flight), then killed before the next commit.
    let mut child = spawn_child(dir.path(), 1, 1);
    // In either order: the step runs on the run's task, the read on the child's main one.
    let mut said = [child.next(), child.next()];
    said.sort();
    assert_eq!(said, ["finishing", "migrated:Some(\"Double\")"]);
    child.kill();
    assert_eq!(read_log(dir.path()), ["migrate", "migrate", "finish"]);

    // The committed migration is not applied again; the step in flight runs again.
    let mut child = spawn_child(dir.path(), 2, 2);
    let migrated = child.next();
    assert!(migrated.starts_with("migrated:"), "{migrated}");
    assert_eq!(child.next(), "done:1015");
    // Migrated by the previous process: this one found the original at open and dropped it
    // at the run's next transition.
    assert_eq!(child.next(), "kept after:None");
    child.exit();
    assert_eq!(
        read_log(dir.path()),
        ["migrate", "migrate", "finish", "finish"]
    );
}
