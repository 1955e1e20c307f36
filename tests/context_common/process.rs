//! Child processes for the SIGKILL tests: the test binary re-runs itself as the child (a test
//! named `child_entry`, which does nothing unless `CAIRN_CHILD_DIR` is set). The child talks
//! to the parent with `@@` lines on stdout, so the parent kills it at a known point without
//! sleeping. Shared by the LMDB-only tests (through [`spawn_child`]) and the conformance
//! suite (`tests/conformance/process.rs`, which passes the backend under test to the child).

use std::io::{self, BufRead, BufReader, Lines, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// A child still running this long after its start is killed and the test fails: a hang
/// guard (the children of these tests take well under a second).
const CHILD_TIMEOUT: Duration = Duration::from_secs(30);

/// The child's directory, if this process is a child.
pub fn child_dir() -> Option<PathBuf> {
    std::env::var_os("CAIRN_CHILD_DIR").map(PathBuf::from)
}

/// The child's generation (0 for the first process of a directory).
pub fn generation() -> u32 {
    std::env::var("CAIRN_GENERATION")
        .ok()
        .and_then(|g| g.parse().ok())
        .unwrap_or(0)
}

/// A number the parent passed to the child.
pub fn param() -> u64 {
    std::env::var("CAIRN_PARAM")
        .ok()
        .and_then(|g| g.parse().ok())
        .unwrap_or(0)
}

/// Tells the parent, on stdout, right away.
pub fn report(message: &str) {
    let mut out = io::stdout().lock();
    writeln!(out, "@@{message}").expect("stdout");
    out.flush().expect("stdout");
}

/// Appends a line to the directory's log in one `write` (O_APPEND), which survives SIGKILL.
pub fn log(line: &str) {
    let dir = child_dir().expect("only children log");
    append_line(&dir.join("log"), line).expect("write log");
}

/// Appends `line` to the file at `path` (created if missing) in one `write` with O_APPEND:
/// lines from processes and steps running at once never interleave, and a line written
/// survives a SIGKILL right after it.
pub fn append_line(path: &Path, line: &str) -> io::Result<()> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(format!("{line}\n").as_bytes())
}

/// The log's lines.
pub fn read_log(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// How many lines of the log are `line`.
pub fn count_in_log(dir: &Path, line: &str) -> usize {
    read_log(dir).iter().filter(|l| *l == line).count()
}

/// The multi-threaded tokio runtime that a child, and a parent driving a client, run on (two
/// worker threads: the machine the tests run on may have two cores).
///
/// In a child it also prints the runtime's warnings and errors to stderr (the test's output):
/// a run that stops on an error in a child otherwise leaves only a silent child behind.
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    if child_dir().is_some() {
        // Fails only if a subscriber is set already (a test of its own): that one stays.
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_writer(io::stderr)
            .try_init();
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A running child and the `@@` lines of its stdout; killed when dropped.
pub struct Proc {
    child: Arc<Mutex<Child>>,
    lines: Lines<BufReader<ChildStdout>>,
    _watchdog: mpsc::Sender<()>,
    /// Set when the watchdog killed the child, so the failure says so.
    timed_out: Arc<AtomicBool>,
}

/// The command that re-runs this test binary as a child: only its test `entry`, with the
/// scratch directory `dir`, the generation and the parameter in its environment.
pub fn child_command(entry: &str, dir: &Path, generation: u32, param: u64) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("current exe"));
    command
        .args(["--exact", entry, "--nocapture", "--test-threads=1"])
        .env("CAIRN_CHILD_DIR", dir)
        .env("CAIRN_GENERATION", generation.to_string())
        .env("CAIRN_PARAM", param.to_string());
    command
}

/// Runs the test `child_entry` of this binary as a child with the scratch directory `dir`.
pub fn spawn_child(dir: &Path, generation: u32, param: u64) -> Proc {
    Proc::start(child_command("child_entry", dir, generation, param))
}

impl Proc {
    /// Starts `command` (see [`child_command`]) with its stdout read for `@@` messages, and a
    /// watchdog that kills it if it says nothing for [`CHILD_TIMEOUT`].
    pub fn start(command: Command) -> Proc {
        Proc::start_for(command, CHILD_TIMEOUT)
    }

    /// [`start`](Self::start) with a watchdog of `timeout` instead of [`CHILD_TIMEOUT`], for
    /// children that work longer than that (a worker process sharing hundreds of runs).
    pub fn start_for(mut command: Command, timeout: Duration) -> Proc {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("piped stdout");
        let child = Arc::new(Mutex::new(child));
        let (watchdog, watchdog_rx) = mpsc::channel::<()>();
        let guarded = child.clone();
        let timed_out = Arc::new(AtomicBool::new(false));
        let fired = timed_out.clone();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = watchdog_rx.recv_timeout(timeout) {
                let mut child = guarded.lock().unwrap();
                if let Ok(None) = child.try_wait() {
                    eprintln!(
                        "watchdog: child {} still running after {timeout:?}, killed; {}",
                        child.id(),
                        where_threads_wait(child.id())
                    );
                    fired.store(true, Ordering::SeqCst);
                    let _ = child.kill();
                }
            }
        });
        Proc {
            child,
            lines: BufReader::new(stdout).lines(),
            _watchdog: watchdog,
            timed_out,
        }
    }

    /// The next `@@` message; panics if the child exits first.
    pub fn next(&mut self) -> String {
        for line in self.lines.by_ref() {
            let line = line.expect("read child stdout");
            if let Some((_, message)) = line.split_once("@@") {
                return message.to_owned();
            }
        }
        let status = self.child.lock().unwrap().wait();
        if self.timed_out.load(Ordering::SeqCst) {
            panic!("child hung: killed by the watchdog; see its stderr above");
        }
        panic!("child exited early ({status:?}); see its stderr above");
    }

    /// Reads messages until one starts with `prefix`, and returns it.
    pub fn until(&mut self, prefix: &str) -> String {
        loop {
            let message = self.next();
            if message.starts_with(prefix) {
                return message;
            }
        }
    }

    /// Sends `signal` (say `SIGSTOP`, `SIGCONT`) to the child.
    pub fn signal(&self, signal: i32) {
        let pid = self.child.lock().unwrap().id();
        // SAFETY: `kill` only sends a signal, to our own child, not yet reaped.
        let sent = unsafe { libc::kill(pid as i32, signal) };
        assert_eq!(sent, 0, "signal {signal} to child {pid}");
    }

    /// SIGKILL, then reap.
    pub fn kill(self) {
        let mut child = self.child.lock().unwrap();
        child.kill().expect("kill child");
        child.wait().expect("wait child");
    }

    /// Waits for a clean exit.
    pub fn exit(self) {
        let status = self.child.lock().unwrap().wait().expect("wait child");
        assert!(status.success(), "child failed: {status}");
    }
}

/// Where each thread of process `pid` waits, from `/proc` (thread name, kernel wait channel,
/// syscall number): tells a hang in the process (futex) from one in the kernel (say an
/// `fsync` waiting on the journal) when a child is killed for hanging.
fn where_threads_wait(pid: u32) -> String {
    let read = |path: String| std::fs::read_to_string(path).unwrap_or_default();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return "threads unreadable".to_owned();
    };
    let threads: Vec<String> = tasks
        .flatten()
        .map(|task| {
            let dir = task.path().display().to_string();
            let syscall = read(format!("{dir}/syscall"));
            format!(
                "{} wchan={} syscall={}",
                read(format!("{dir}/comm")).trim(),
                read(format!("{dir}/wchan")).trim(),
                syscall.split_whitespace().next().unwrap_or("?"),
            )
        })
        .collect();
    format!("threads: [{}]", threads.join("; "))
}

impl Drop for Proc {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if let Ok(None) = child.try_wait() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
