//! Process-crash durability runs with LMDB's write map by default on Linux, with disk reserved
//! ahead of it: a full disk fails the commit with `Error::DiskFull` instead of killing the
//! process with `SIGBUS`, and what was committed before stays readable.

use cairn::{Context, Durability, LmdbOptions, Runtime, workflow};

async fn tick(i: u64) -> u64 {
    i
}

/// Stores 256 KiB more per step (in its key-value state), so the database outgrows a small
/// disk in a few hundred steps.
#[workflow]
async fn grow(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let mut last = 0;
    for i in 0..n {
        ctx.state()
            .set(&format!("blob{i}"), &"x".repeat(256 << 10))?;
        last = ctx.step("tick", tick(i)).await;
    }
    Ok(last)
}

/// On Linux, process-crash mode turns the write map on (the data file's apparent size is the
/// map size) and reserves disk ahead of it (allocated blocks past what LMDB uses).
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_crash_defaults_to_the_write_map_with_disk_reserved() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let map_size = 1 << 30;
    let runtime = Runtime::builder()
        .path(dir.path())
        .durability(Durability::ProcessCrash)
        .lmdb(LmdbOptions::new().map_size(map_size))
        .register(grow)
        .start()
        .unwrap();
    assert_eq!(runtime.client().run(grow, 3).await.unwrap(), 2);
    runtime.shutdown().await;
    let meta = std::fs::metadata(dir.path().join("data.mdb")).unwrap();
    assert_eq!(meta.len(), map_size as u64);
    // At least the 64 MiB chunk reserved at open, far less than the map.
    let allocated = meta.blocks() * 512;
    assert!((64 << 20..1 << 29).contains(&allocated), "{allocated}");
}

// A full disk in both modes, a small disk and damaged files: `tests/disk_faults.rs`, on
// file systems that test mounts itself.
