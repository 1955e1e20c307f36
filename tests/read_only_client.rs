//! A read-only copy of a data directory (a backup, a snapshot mounted read-only, files the
//! process may not write) can be inspected with a client-only open: every read works, and
//! every write is the typed `Error::ReadOnly` naming the directory.
//!
//! Made read-only with a read-only bind mount when the test runs as root (root ignores file
//! modes), else by taking the write permission away from the directory and the data file
//! (LMDB still needs to write its lock file then: only on a read-only file system does it go
//! without); skipped, with the reason printed, where neither is possible.

#![cfg(target_os = "linux")]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use cairn::{Answer, Client, Context, Error, Question, Runtime, Status, workflow};

async fn double(n: u64) -> Result<u64, String> {
    Ok(n * 2)
}

#[workflow]
async fn ask_then_double(ctx: &mut Context, n: u64) -> Result<u64, String> {
    ctx.state().set("n", &n)?;
    if n > 10 {
        ctx.wait_for_user(Question::approval("big one?")).await?;
    }
    let doubled = ctx.task(double, n).await?;
    Ok(doubled)
}

/// Undoes the read-only view when dropped, so that the temporary directory can be removed.
enum ReadOnly {
    Mount(PathBuf),
    Modes(PathBuf),
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        match self {
            ReadOnly::Mount(at) => {
                let _ = Command::new("umount").arg(&*at).status();
            }
            ReadOnly::Modes(dir) => set_modes(dir, true),
        }
    }
}

fn set_modes(dir: &Path, writable: bool) {
    let paths = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path());
    for path in paths.chain([dir.to_owned()]) {
        if path.ends_with("lock.mdb") && !writable {
            // LMDB needs its lock file writable unless the file system is read-only.
            continue;
        }
        let mode = match (path.is_dir(), writable) {
            (true, true) => 0o700,
            (true, false) => 0o500,
            (false, true) => 0o600,
            (false, false) => 0o400,
        };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// A read-only view of `dir`: the path to open and the guard that undoes it; `None`, with the
/// reason printed, where this machine allows neither way.
fn read_only_view(dir: &Path, mount_at: &Path) -> Option<(PathBuf, ReadOnly)> {
    let root = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).ok()?;
    if !root {
        set_modes(dir, false);
        return Some((dir.to_owned(), ReadOnly::Modes(dir.to_owned())));
    }
    let bind = Command::new("mount")
        .arg("--bind")
        .arg(dir)
        .arg(mount_at)
        .status();
    if !bind.is_ok_and(|s| s.success()) {
        eprintln!("skipped: running as root and `mount --bind` was refused");
        return None;
    }
    let guard = ReadOnly::Mount(mount_at.to_owned());
    let remount = Command::new("mount")
        .args(["-o", "remount,ro,bind"])
        .arg(mount_at)
        .status();
    if !remount.is_ok_and(|s| s.success()) {
        eprintln!("skipped: running as root and a read-only remount was refused");
        return None;
    }
    Some((mount_at.to_owned(), guard))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_only_open_reads_a_read_only_directory_and_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let runtime = Runtime::builder()
        .path(&db)
        .register(ask_then_double)
        .start()
        .unwrap();
    let client = runtime.client();
    let done = client.start(ask_then_double, 4).await.unwrap();
    assert_eq!(client.wait(ask_then_double, done).await.unwrap(), 8);
    let waiting = client.start(ask_then_double, 40).await.unwrap();
    client
        .wait_for_status(waiting, Status::Waiting)
        .await
        .unwrap();
    runtime.shutdown().await;

    let mount_at = tempfile::tempdir().unwrap();
    let Some((view, _guard)) = read_only_view(&db, mount_at.path()) else {
        return;
    };
    assert!(
        std::fs::File::create(view.join("probe")).is_err(),
        "the view is read-only"
    );

    let client = Runtime::builder()
        .path(&view)
        .register(ask_then_double)
        .client_only()
        .start()
        .expect("a client-only open of a read-only directory")
        .client();
    assert_eq!(client.list(None).unwrap().len(), 2);
    assert_eq!(client.result(ask_then_double, done).unwrap(), 8);
    assert_eq!(
        client.state(done).unwrap().get::<u64>("n").unwrap(),
        Some(4)
    );
    assert_eq!(client.history(done).unwrap().len(), 2);
    assert_eq!(client.pending_questions().unwrap().len(), 1);

    let refused = client.answer(waiting, Answer::Approved).await;
    assert!(
        matches!(&refused, Err(Error::ReadOnly { path }) if *path == view),
        "{refused:?}"
    );
    let refused = client.start(ask_then_double, 1).await;
    assert!(
        matches!(refused, Err(Error::ReadOnly { .. })),
        "{refused:?}"
    );
    assert_eq!(client.list(None).unwrap().len(), 2);
    drop(client);
    // `Client::open` is the same open.
    let client = Client::open(&view).unwrap();
    assert_eq!(client.pending_questions().unwrap().len(), 1);
}
