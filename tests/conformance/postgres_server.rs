//! A throwaway PostgreSQL server for one test process, started from the installed binaries on
//! first use: `initdb` into a temporary directory, `postgres` on a free port of 127.0.0.1 with
//! its socket in that directory, as the unprivileged user `nobody` when the tests run as root
//! (PostgreSQL refuses to run as root). `CAIRN_TEST_POSTGRES_URL` names an existing server
//! instead. Without PostgreSQL the tests fail, saying how to install it, unless
//! `CAIRN_SKIP_POSTGRES=1` (see [`url`]).
//!
//! The server dies with the test process: it is spawned from a thread that lives as long as
//! the process, with `PR_SET_PDEATHSIG` = `SIGQUIT` (PostgreSQL's immediate shutdown), so that
//! a test process killed by a signal does not leave a server behind. Its directory is removed
//! by the next test process that starts a server (each directory is named by the pid that
//! made it, and only those of processes that are gone are removed).
//!
//! The tests' server favours speed over power-loss durability (`fsync=off`): a test's crashes
//! are crashes of cairn's processes, never of the server's host. The PostgreSQL benchmark
//! (`benches/postgres.rs`) starts its server through [`start_server`] with full durability
//! instead, in a directory on the real disk, and stops it with [`Server::stop`].

// The tests use `url`, the benchmark `start_server` and `Server::stop`: each leaves some unused.
#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Where the test servers' directories live, one per test process (named by its pid).
const ROOT: &str = "/tmp/cairn-test-postgres";

/// The URL of this process's server (the `postgres` user's database), started on first call.
///
/// With `CAIRN_SKIP_POSTGRES=1` (and no `CAIRN_TEST_POSTGRES_URL`), the first call ends this
/// test process instead, successfully, saying that its PostgreSQL tests were skipped: a test
/// binary's tests all need the server, and Rust's test harness has no way to mark a test
/// skipped at run time. For machines without PostgreSQL; CI never sets it.
pub fn url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| match std::env::var("CAIRN_TEST_POSTGRES_URL") {
        Ok(url) => url,
        Err(_) if std::env::var("CAIRN_SKIP_POSTGRES").is_ok_and(|v| v == "1") => skip(),
        Err(_) => start_server(Path::new(ROOT), Durability::Off).url,
    })
}

/// Ends this test process, successfully, saying why (see [`url`]).
fn skip() -> ! {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    // Written to the file descriptor, not with `eprintln!`: the test harness captures what
    // the macros print in a test, and would drop it at the exit.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "\nSKIPPED: the PostgreSQL tests of {binary} did not run (CAIRN_SKIP_POSTGRES=1); \
         those that had finished before this line passed"
    );
    std::process::exit(0)
}

/// Whether the server makes each commit durable on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// `fsync=off`, `full_page_writes=off`: for tests, whose crashes are cairn's, not the host's.
    Off,
    /// `fsync=on`, `synchronous_commit=on`, `full_page_writes=on` (PostgreSQL's defaults,
    /// spelled out): every commit waits for its WAL flush, as in production. For benchmarks.
    Full,
}

/// A server this process started.
#[derive(Debug)]
pub struct Server {
    /// Its connection string.
    pub url: String,
    /// The postmaster's process id.
    pub pid: u32,
    /// Its directory (data directory and socket), removed by [`stop`](Self::stop).
    pub dir: PathBuf,
}

impl Server {
    /// Stops the server (PostgreSQL's fast shutdown, SIGINT), waits at most 30 s for it to
    /// exit, then removes its directory.
    pub fn stop(self) {
        let pid = self.pid as i32;
        // SAFETY: `kill` only sends a signal, to the server this process started.
        unsafe {
            libc::kill(pid, libc::SIGINT);
        }
        let began = Instant::now();
        // The server's thread reaps it, after which the pid is gone.
        // SAFETY: signal 0 only checks that the process exists; it sends nothing.
        while unsafe { libc::kill(pid, 0) } == 0 && began.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The directory of PostgreSQL's server binaries: on the `PATH`, else Debian's
/// `/usr/lib/postgresql/<version>/bin`, newest first.
fn bin_dir() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("postgres").is_file() {
                return Some(dir);
            }
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

/// Whether this process runs as root (PostgreSQL must then run as someone else).
fn is_root() -> bool {
    // SAFETY: `geteuid` only reads the process's credentials.
    unsafe { libc::geteuid() == 0 }
}

const NOBODY: u32 = 65534;

/// A command run as `nobody` when we are root.
fn unprivileged(program: PathBuf) -> Command {
    let mut command = Command::new(program);
    if is_root() {
        command.uid(NOBODY).gid(NOBODY);
    }
    command
}

/// Removes the directories under `root` of earlier processes that died without cleaning up.
fn remove_stale_dirs(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let pid: Option<i32> = entry.file_name().to_str().and_then(|s| s.parse().ok());
        let gone = |pid: i32| {
            // SAFETY: signal 0 only checks that the process exists; it sends nothing.
            unsafe { libc::kill(pid, 0) != 0 }
        };
        if let Some(pid) = pid
            && gone(pid)
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free local port");
    listener.local_addr().expect("its address").port()
}

/// Starts a server in `root`/<this process's id>, with the `durability` asked for.
pub fn start_server(root: &Path, durability: Durability) -> Server {
    let bin = bin_dir().unwrap_or_else(|| {
        panic!(
            "PostgreSQL is not installed, and the PostgreSQL tests start a server of their own: \
             install it (Debian/Ubuntu: `apt-get install -y postgresql`; Fedora: `dnf install \
             postgresql-server`; macOS: `brew install postgresql`), set \
             CAIRN_TEST_POSTGRES_URL to an existing server's URL, or set CAIRN_SKIP_POSTGRES=1 \
             to skip the PostgreSQL tests"
        )
    });
    remove_stale_dirs(root);
    let dir = root.join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the test server's directory");
    if is_root() {
        let root = std::ffi::CString::new(root.to_str().unwrap()).unwrap();
        let path = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
        // SAFETY: `chmod` and `chown` of directories we just made, through C strings that
        // live across the calls.
        unsafe {
            libc::chmod(root.as_ptr(), 0o1777);
            libc::chown(path.as_ptr(), NOBODY, NOBODY);
        }
    }
    let data = dir.join("data");
    let status = unprivileged(bin.join("initdb"))
        .args(["-D", data.to_str().unwrap()])
        .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        .stdout(Stdio::null())
        .status()
        .expect("initdb runs");
    assert!(status.success(), "initdb failed: {status}");
    let port = free_port();
    let server = unprivileged(bin.join("postgres"));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let data_arg = data.to_str().unwrap().to_owned();
    let socket_dir = dir.to_str().unwrap().to_owned();
    // The server is the child of this thread, which never ends: `PR_SET_PDEATHSIG` fires when
    // the thread that spawned the child exits, so it must be the process's last breath.
    std::thread::Builder::new()
        .name("postgres-test-server".to_owned())
        .spawn(move || {
            let mut server = server;
            server
                .args(["-D", &data_arg, "-p", &port.to_string(), "-k", &socket_dir])
                .args(["-c", "listen_addresses=127.0.0.1"])
                .args(match durability {
                    Durability::Off => ["-c", "fsync=off", "-c", "full_page_writes=off"],
                    Durability::Full => ["-c", "fsync=on", "-c", "full_page_writes=on"],
                })
                .args(["-c", "synchronous_commit=on"])
                .args(["-c", "max_connections=400", "-c", "shared_buffers=64MB"])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // SAFETY: `prctl` is async-signal-safe and touches no memory of the parent.
            unsafe {
                server.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT);
                    Ok(())
                });
            }
            let mut child = server.spawn().expect("postgres starts");
            ready_tx.send(child.id()).unwrap();
            // Reaped if it ever exits; else this thread lives as long as the process.
            let _ = child.wait();
            loop {
                std::thread::park();
            }
        })
        .expect("the server's thread");
    let pid = ready_rx.recv().expect("postgres spawned");
    wait_ready(&bin, port);
    Server {
        url: format!("host=127.0.0.1 port={port} user=postgres dbname=postgres"),
        pid,
        dir,
    }
}

/// Waits until the server accepts connections (at most a minute).
fn wait_ready(bin: &Path, port: u16) {
    let began = Instant::now();
    let ready = bin.join("pg_isready");
    loop {
        let status = Command::new(if ready.is_file() {
            ready.clone()
        } else {
            "pg_isready".into()
        })
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-q",
        ])
        .status()
        .expect("pg_isready runs");
        if status.success() {
            return;
        }
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "postgres did not start in a minute"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
