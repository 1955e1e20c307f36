//! Disk faults on real file systems: a full disk in both durability modes, a data file that
//! is truncated or not LMDB's, and a disk too small for the write map's reservation.
//!
//! The small file systems are mounted by the test itself (a tmpfs, and ext4 on a loop device)
//! in a temporary directory, which needs root (CI runs as root). Where mounting is refused the
//! test prints why and returns: there is no other way to fill a disk for real.

use std::path::{Path, PathBuf};
use std::process::Command;

use cairn::{Context, Durability, Error, LmdbOptions, Runtime, workflow};

async fn tick(i: u64) -> u64 {
    i
}

/// Stores 256 KiB more per step (in its key-value state).
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

/// A file system of a few MiB mounted on a temporary directory; unmounted when dropped.
struct SmallFs {
    mount: tempfile::TempDir,
    /// The loop image behind an ext4 mount.
    _image: Option<tempfile::NamedTempFile>,
}

impl SmallFs {
    /// A tmpfs of `mib` MiB, or `None` (with the reason printed) where mounting is refused.
    fn tmpfs(mib: u64) -> Option<SmallFs> {
        let mount = tempfile::tempdir().unwrap();
        let size = format!("size={mib}m");
        let args = ["-t", "tmpfs", "-o", size.as_str(), "tmpfs"];
        SmallFs::mount(&args, mount, None)
    }

    /// ext4 on a loop device, `mib` MiB in all, or `None` where that is refused.
    fn ext4(mib: u64) -> Option<SmallFs> {
        let image = tempfile::NamedTempFile::new().unwrap();
        image.as_file().set_len(mib << 20).unwrap();
        let made = Command::new("mkfs.ext4")
            .args(["-q", "-F", "-m", "0"])
            .arg(image.path())
            .output();
        match made {
            Ok(out) if out.status.success() => {}
            other => {
                println!("skipped: mkfs.ext4 failed: {other:?}");
                return None;
            }
        }
        let mount = tempfile::tempdir().unwrap();
        let path = image.path().to_str().unwrap().to_owned();
        SmallFs::mount(&["-o", "loop", path.as_str()], mount, Some(image))
    }

    fn mount(
        args: &[&str],
        mount: tempfile::TempDir,
        image: Option<tempfile::NamedTempFile>,
    ) -> Option<SmallFs> {
        match Command::new("mount").args(args).arg(mount.path()).output() {
            Ok(out) if out.status.success() => Some(SmallFs {
                mount,
                _image: image,
            }),
            Ok(out) => {
                println!(
                    "skipped: mounting a small file system was refused: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(error) => {
                println!("skipped: no mount command: {error}");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.mount.path()
    }

    /// Bytes free for an unprivileged writer.
    fn available(&self) -> u64 {
        available(self.path())
    }

    /// Fills all but `keep` bytes with a ballast file, to be removed later.
    fn fill_leaving(&self, keep: u64) -> PathBuf {
        let ballast = self.path().join("ballast");
        let size = self.available().saturating_sub(keep);
        let file = std::fs::File::create(&ballast).unwrap();
        // Written, not sparse: tmpfs and ext4 both count the blocks.
        use std::io::Write;
        let mut writer = std::io::BufWriter::new(file);
        let chunk = vec![1u8; 1 << 16];
        let mut written = 0;
        while written < size {
            let n = chunk.len().min((size - written) as usize);
            if writer.write_all(&chunk[..n]).is_err() {
                break;
            }
            written += n as u64;
        }
        let _ = writer.flush();
        ballast
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        // Lazy: LMDB may still hold the data file open for a moment after shutdown (and a
        // failed test may not have shut its runtime down); a plain `umount` would then fail
        // and leave the mount, and its loop device, behind.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.mount.path())
            .output();
    }
}

fn available(path: &Path) -> u64 {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines().nth(1).unwrap().trim().parse().unwrap()
}

fn runtime_on(dir: &Path, durability: Durability) -> Result<Runtime, Error> {
    Runtime::builder()
        .path(dir)
        .durability(durability)
        .lmdb(LmdbOptions::new().map_size(1 << 30))
        .register(grow)
        .start()
}

/// Fills the disk but `keep` bytes, runs a workflow that wants `steps` x 256 KiB, expects
/// `DiskFull`, frees the space, resumes the run in the same runtime (no restart) and expects
/// it to finish with each step committed once.
async fn full_disk_then_resume(fs: &SmallFs, durability: Durability, keep: u64, steps: u64) {
    let ballast = fs.fill_leaving(keep);
    let runtime = runtime_on(&fs.path().join("db"), durability).unwrap();
    let client = runtime.client();
    let run = client.start(grow, steps).await.unwrap();
    let outcome = client.wait(grow, run).await;
    assert!(
        matches!(&outcome, Err(Error::DiskFull { .. })),
        "{durability:?}: {outcome:?}"
    );
    let stopped = client.status(run).unwrap();
    assert!(!stopped.status.is_finished(), "{stopped:?}");
    assert!(stopped.transitions > 0, "{stopped:?}");

    std::fs::remove_file(ballast).unwrap();
    client.resume(run).await.unwrap();
    assert_eq!(client.wait(grow, run).await.unwrap(), steps - 1);
    // Every step committed once: no gap and no repeat in the history.
    let status = client.status(run).unwrap();
    let steps: Vec<u64> = client
        .history(run)
        .unwrap()
        .iter()
        .filter(|record| record.step.is_some())
        .map(|record| record.number)
        .collect();
    assert_eq!(steps, (1..=status.transitions).collect::<Vec<_>>());
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_durability_reports_a_full_disk_and_resumes_once_space_is_back() {
    let Some(fs) = SmallFs::ext4(64) else { return };
    full_disk_then_resume(&fs, Durability::Full, 3 << 20, 24).await;
}

/// With the write map (the free space is enough to reserve ahead of it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_crash_durability_reports_a_full_disk_and_resumes_once_space_is_back() {
    let Some(fs) = SmallFs::ext4(128) else { return };
    full_disk_then_resume(&fs, Durability::ProcessCrash, 24 << 20, 120).await;
}

/// A disk too small for the write map's reservation: the runtime starts anyway (without the
/// write map), runs a workflow, and takes no more than a bounded share of the free space.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_crash_mode_starts_on_a_small_disk() {
    let Some(fs) = SmallFs::tmpfs(8) else { return };
    let before = fs.available();
    let runtime = runtime_on(&fs.path().join("db"), Durability::ProcessCrash).unwrap();
    let taken = before - fs.available();
    assert!(
        taken <= before / 2,
        "took {taken} of {before} bytes at open"
    );
    assert_eq!(runtime.client().run(grow, 2).await.unwrap(), 1);
    runtime.shutdown().await;
}

/// Writes a few runs in full durability and returns the data file's path.
async fn some_runs(dir: &Path) -> PathBuf {
    let runtime = runtime_on(dir, Durability::Full).unwrap();
    for _ in 0..3 {
        runtime.client().run(grow, 8).await.unwrap();
    }
    runtime.shutdown().await;
    dir.join("data.mdb")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_data_file_is_an_error_at_open_not_a_signal() {
    let dir = tempfile::tempdir().unwrap();
    let data = some_runs(dir.path()).await;
    let len = std::fs::metadata(&data).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&data)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    for durability in [Durability::Full, Durability::ProcessCrash] {
        let outcome = runtime_on(dir.path(), durability).map(|_| ());
        assert!(
            matches!(&outcome, Err(Error::CorruptDirectory { .. })),
            "{durability:?}: {outcome:?}"
        );
        let message = outcome.unwrap_err().to_string();
        assert!(message.contains("data.mdb"), "{message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_file_that_is_not_lmdb_is_an_error_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let junk: Vec<u8> = (0..64u32 << 10)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dir.path().join("data.mdb"), junk).unwrap();
    for durability in [Durability::Full, Durability::ProcessCrash] {
        let outcome = runtime_on(dir.path(), durability).map(|_| ());
        assert!(
            matches!(&outcome, Err(Error::CorruptDirectory { .. })),
            "{durability:?}: {outcome:?}"
        );
    }
}
