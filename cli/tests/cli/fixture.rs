//! The data directory the tests run the CLI on, and how they run it.
//!
//! Four runs, one per thing the CLI shows or does: a completed one with key-value state, one
//! waiting for an approval, one waiting for a choice, and a failed one that can be resumed.

use std::path::{Path, PathBuf};
use std::process::Command;

use cairn::{AnswerOption, Context, Question, RunId, Runtime, Status, workflow};

async fn shout(name: String) -> Result<String, String> {
    Ok(format!("HELLO, {}!", name.to_uppercase()))
}

/// Completes in one step, leaving key-value state behind.
#[workflow]
pub async fn greet(ctx: &mut Context, name: String) -> Result<String, String> {
    ctx.state().set("name", &name)?;
    let greeting = ctx.task(shout, name).await?;
    ctx.state().set("greeting", &greeting)?;
    Ok(greeting)
}

async fn build(version: String) -> Result<String, String> {
    Ok(format!("cairn-{version}.tar.gz"))
}

async fn release(version: String) -> Result<String, String> {
    Ok(format!("https://example.test/releases/{version}"))
}

/// Builds, waits for an approval, then releases. (Key-value state is committed with the
/// build: a run waiting for a person resumes from its last committed state, so what it sets
/// after that is not stored until it goes on.)
#[workflow]
pub async fn deploy(ctx: &mut Context, version: String) -> Result<String, String> {
    ctx.state().set("version", &version)?;
    let artifact = ctx.task(build, version.clone()).await?;
    ctx.state().set("artifact", &artifact)?;
    let question = Question::approval(format!("Deploy {version} to prod?"));
    let answer = ctx.wait_for_user(question).await?;
    if !answer.is_approved() {
        return Err(format!("the deploy of {version} was rejected"));
    }
    let url = ctx.task(release, version).await?;
    Ok(url)
}

/// Waits for a choice among two regions, which may be skipped.
#[workflow]
pub async fn pick_region(ctx: &mut Context, service: String) -> Result<String, String> {
    let options = [
        AnswerOption::new("eu", "Europe"),
        AnswerOption::new("us", "United States"),
    ];
    let question = Question::choice(format!("Where should {service} run?"), options).allow_skip();
    let answer = ctx.wait_for_user(question).await?;
    Ok(answer.choice().unwrap_or("nowhere").to_owned())
}

async fn price(cents: u64) -> Result<u64, String> {
    Ok(cents + 30)
}

/// Declined while the file `declined_while` exists: the test removes it to let a resume pass.
async fn charge_card(declined_while: String) -> Result<String, String> {
    if Path::new(&declined_while).exists() {
        return Err("card declined".to_owned());
    }
    Ok("receipt-1".to_owned())
}

/// Commits one step, then fails at the second while the card is declined.
#[workflow]
pub async fn checkout(ctx: &mut Context, declined_while: String) -> Result<String, String> {
    ctx.state().set("cart", "3 books")?;
    let total = ctx.task(price, 970).await?;
    let receipt = ctx.task(charge_card, declined_while).await?;
    Ok(format!("{receipt} for {total} cents"))
}

/// A data directory holding the four runs, removed when dropped.
pub struct DataDir {
    _temp: tempfile::TempDir,
    pub path: PathBuf,
    /// While this file exists, `checkout` fails.
    pub declined: PathBuf,
    pub completed: RunId,
    pub approval: RunId,
    pub choice: RunId,
    pub failed: RunId,
}

impl DataDir {
    /// Makes the directory: starts a runtime, runs each workflow until it finishes or waits,
    /// and shuts the runtime down, so that the CLI is the only process on it.
    pub fn new() -> DataDir {
        let mut temp = tempfile::tempdir().unwrap();
        // To look at the directory by hand (the README's session was taken from one):
        // `CAIRN_CLI_TEST_KEEP=1 cargo test -p cairn-cli -- --nocapture` keeps each and
        // prints where it is.
        if std::env::var_os("CAIRN_CLI_TEST_KEEP").is_some() {
            temp.disable_cleanup(true);
            eprintln!("kept {}", temp.path().display());
        }
        let path = temp.path().join("cairn-data");
        let declined = temp.path().join("declined");
        std::fs::write(&declined, "").unwrap();
        let declined_while = declined.to_str().unwrap().to_owned();
        let (completed, approval, choice, failed) = block_on(async {
            let runtime = runtime(&path);
            let client = runtime.client();
            let completed = client.start(greet, "ada".to_owned()).await.unwrap();
            client.wait(greet, completed).await.unwrap();
            let approval = client.start(deploy, "v2.1".to_owned()).await.unwrap();
            client
                .wait_for_status(approval, Status::Waiting)
                .await
                .unwrap();
            let choice = client.start(pick_region, "api".to_owned()).await.unwrap();
            client
                .wait_for_status(choice, Status::Waiting)
                .await
                .unwrap();
            let failed = client.start(checkout, declined_while).await.unwrap();
            client.wait(checkout, failed).await.unwrap_err();
            runtime.shutdown().await;
            (completed, approval, choice, failed)
        });
        DataDir {
            _temp: temp,
            path,
            declined,
            completed,
            approval,
            choice,
            failed,
        }
    }

    /// Runs the built `cairn` with `args` on this directory (`--dir` first).
    pub fn cairn(&self, args: &[&str]) -> Outcome {
        let mut full = vec!["--dir", self.path.to_str().unwrap()];
        full.extend_from_slice(args);
        cairn(&full)
    }
}

/// A runtime on `path` that runs the test workflows. Must be called inside a tokio runtime.
pub fn runtime(path: &Path) -> Runtime {
    Runtime::builder()
        .path(path)
        .register(greet)
        .register(deploy)
        .register(pick_region)
        .register(checkout)
        .start()
        .unwrap()
}

/// Runs `future` to its end on a fresh multi-threaded tokio runtime.
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// What one run of the binary gave.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Standard output, after checking that the command succeeded and printed no error.
    pub fn ok(self) -> String {
        assert_eq!(self.code, 0, "{self:#?}");
        assert_eq!(self.stderr, "", "{self:#?}");
        self.stdout
    }

    /// Standard output parsed as JSON, after checking that the command succeeded.
    pub fn json(self) -> serde_json::Value {
        let stdout = self.ok();
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    }

    /// The error line, after checking the exit code, that nothing went to standard output
    /// and that the error is one line.
    pub fn error(self, code: i32) -> String {
        assert_eq!(self.code, code, "{self:#?}");
        assert_eq!(self.stdout, "", "{self:#?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{self:#?}");
        assert!(lines[0].starts_with("error: "), "{self:#?}");
        lines[0].to_owned()
    }
}

/// Runs the built `cairn` with `args`, with no `$CAIRN_DATA_DIR` from the test's environment.
pub fn cairn(args: &[&str]) -> Outcome {
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .env_remove("CAIRN_DATA_DIR")
        .output()
        .unwrap();
    Outcome {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}
