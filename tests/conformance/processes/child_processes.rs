//! SIGKILL around a child workflow: the process running a parent and its child is killed
//! once while the child's first step is in flight (the child just started, the parent
//! parked or about to), and once with the parent parked and the child in its second step; a new
//! process finishes both. An append-only log of step executions shows that no committed step
//! of either ran again, that exactly one child run exists, and that the parent gets the
//! child's output. And a child parked on a question, cancelled by the test's own process: the
//! runtime's process resumes the parked parent (the wake-up path of answers), which fails with
//! `Error::ChildCancelled`.

use cairn::{Context, Error, Question, RunId, Status, workflow};

use super::process::{
    Proc, child_dir, generation, log, param, parent_store, read_log, report, tokio_runtime,
};
use super::{Backend, fresh_store};

/// Step `name` of the run: in the first process it blocks forever if it is the step the test
/// kills in (`param()`: 1 the child's first step, 2 its second); it logs when it has run.
async fn work(name: &'static str, blocks_at: u64, x: u64) -> Result<u64, String> {
    report(&format!("begin {name}"));
    if generation() == 0 && param() == blocks_at {
        std::future::pending::<()>().await;
    }
    log(&format!("exec {name} {}", generation()));
    Ok(x + 1)
}

async fn load(x: u64) -> Result<u64, String> {
    work("load", 0, x).await
}

async fn first(x: u64) -> Result<u64, String> {
    work("first", 1, x).await
}

async fn second(x: u64) -> Result<u64, String> {
    work("second", 2, x).await
}

async fn finish(x: u64) -> Result<u64, String> {
    work("finish", 0, x).await
}

#[workflow]
async fn kid(ctx: &mut Context, x: u64) -> Result<u64, String> {
    let a = ctx.task(first, x).await?;
    let b = ctx.task(second, a).await?;
    Ok(b * 10)
}

#[workflow]
async fn parent(ctx: &mut Context, x: u64) -> Result<u64, String> {
    let a = ctx.task(load, x).await?;
    let b = ctx.child(kid, a).await?;
    let c = ctx.task(finish, b).await?;
    Ok(c)
}

/// A child that waits for a person (the test cancels it from its own process instead).
#[workflow]
async fn asking_kid(ctx: &mut Context, x: u64) -> Result<u64, String> {
    let answer = ctx.wait_for_user(Question::approval("go on?")).await?;
    Ok(x + u64::from(answer.is_approved()))
}

#[workflow]
async fn asking_parent(ctx: &mut Context, x: u64) -> Result<u64, String> {
    let y = ctx.child(asking_kid, x).await?;
    Ok(y)
}

/// `param()` 3: runs `asking_parent` and reports how it ended.
const ASKING: u64 = 3;

#[test]
fn child_entry() {
    if child_dir().is_none() {
        return;
    }
    tokio_runtime().block_on(run_child());
}

async fn run_child() {
    let store = parent_store();
    let runtime = store
        .runtime()
        .register(parent)
        .register(kid)
        .register(asking_parent)
        .register(asking_kid)
        .start()
        .expect("runtime starts");
    let client = runtime.client();
    if param() == ASKING {
        let run = client.start(asking_parent, 1).await.expect("start");
        report(&format!("started {run}"));
        match client.wait(asking_parent, run).await {
            Ok(output) => report(&format!("output {output}")),
            Err(Error::RunFailed { message, .. }) => report(&format!("failed {message}")),
            Err(other) => report(&format!("error {other}")),
        }
        runtime.shutdown().await;
        return;
    }
    let runs = client.list(None).expect("list");
    let run = match runs.iter().find(|r| r.workflow == "parent") {
        Some(run) => run.id,
        None => client.start(parent, 1).await.expect("start"),
    };
    let output = client.wait(parent, run).await.expect("run completes");
    report(&format!("output {output}"));
    runtime.shutdown().await;
}

#[test]
fn sigkill_while_the_child_runs_resumes_the_same_child() {
    if child_dir().is_some() {
        return;
    }
    // The store's client reads synchronously but is made inside a tokio runtime.
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let _inside = tokio.enter();
    // 1: killed in the child's first step (just started); 2: in its second.
    for blocks_at in [1, 2] {
        let store = fresh_store();
        let dir = tempfile::tempdir().unwrap();
        let mut first = Proc::spawn(module_path!(), &store, dir.path(), 0, blocks_at);
        let step = if blocks_at == 1 { "first" } else { "second" };
        first.until(&format!("begin {step}"));
        let client = store.client().unwrap();
        let parent_run = RunId(1);
        if blocks_at == 2 {
            // Killed while parked: the parent's park and the child's first commit race, so
            // the kill waits for the park (the child is blocked in its second step).
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while client.status(parent_run).unwrap().status != Status::Waiting {
                assert!(std::time::Instant::now() < deadline, "the parent parks");
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        first.kill();

        // What the kill left: the parent with its one child, which is unfinished; parked,
        // or, killed between the child's start and the park (two commits of one await),
        // running: start-up resumes it and it parks then.
        let runs = client.list(None).unwrap();
        assert_eq!(runs.len(), 2, "{runs:?}");
        assert_eq!(runs[0].workflow, "parent");
        let child_run = runs.iter().find(|r| r.workflow == "kid").unwrap().id;
        assert_eq!(client.children(parent_run).unwrap(), [child_run]);
        assert_eq!(client.parent(child_run).unwrap(), Some(parent_run));
        let status = client.status(parent_run).unwrap().status;
        assert!(
            matches!(status, Status::Waiting | Status::Running),
            "blocks_at={blocks_at}: {status}"
        );
        assert!(!client.status(child_run).unwrap().status.is_finished());
        drop(client);

        let mut second = Proc::spawn(module_path!(), &store, dir.path(), 1, blocks_at);
        // load 1 -> 2; kid: first 3, second 4, x10 = 40; finish 41.
        assert_eq!(second.until("output"), "output 41");
        second.exit();

        let client = store.client().unwrap();
        let runs = client.list(None).unwrap();
        assert_eq!(runs.len(), 2, "exactly one child run: {runs:?}");
        assert!(
            runs.iter().all(|r| r.status == Status::Completed),
            "{runs:?}"
        );
        assert_eq!(client.children(parent_run).unwrap(), [child_run]);

        let log = read_log(dir.path());
        let execs = |name: &str| -> Vec<String> {
            log.iter()
                .filter_map(|l| l.strip_prefix(&format!("exec {name} ")))
                .map(str::to_owned)
                .collect()
        };
        // Committed before the kill: ran in the first process only.
        assert_eq!(execs("load"), ["0"], "blocks_at={blocks_at}: {log:?}");
        if blocks_at == 2 {
            assert_eq!(execs("first"), ["0"], "blocks_at={blocks_at}: {log:?}");
        } else {
            assert_eq!(execs("first"), ["1"], "blocks_at={blocks_at}: {log:?}");
        }
        // In flight at the kill, or after it: ran once, in the second process.
        assert_eq!(execs("second"), ["1"], "blocks_at={blocks_at}: {log:?}");
        assert_eq!(execs("finish"), ["1"], "blocks_at={blocks_at}: {log:?}");
    }
}

#[test]
fn a_child_cancelled_from_another_process_wakes_its_parked_parent() {
    if child_dir().is_some() {
        return;
    }
    let tokio = tokio::runtime::Runtime::new().unwrap();
    let store = fresh_store();
    let dir = tempfile::tempdir().unwrap();
    let mut runtime = Proc::spawn(module_path!(), &store, dir.path(), 0, ASKING);
    let parent_run: RunId = runtime
        .until("started")
        .strip_prefix("started ")
        .unwrap()
        .parse()
        .unwrap();
    let client = {
        let _inside = tokio.enter();
        store.client().unwrap()
    };
    // Both parked: the parent on its child, the child on its question.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let child_run = loop {
        let children = client.children(parent_run).unwrap();
        if let [child_run] = children[..]
            && client.status(parent_run).unwrap().status == Status::Waiting
            && client.status(child_run).unwrap().status == Status::Waiting
        {
            break child_run;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "parent and child park"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    };
    tokio.block_on(client.cancel(child_run)).unwrap();
    // The runtime's process resumes the parent (its answer watcher polls the index the
    // cancel wrote to): the parent fails with the child's cancel.
    assert_eq!(
        runtime.until("failed"),
        format!(
            "failed child run {child_run} (workflow `asking_kid`) of run {parent_run} was cancelled"
        )
    );
    runtime.exit();
    assert_eq!(client.status(child_run).unwrap().status, Status::Cancelled);
    assert_eq!(client.status(parent_run).unwrap().status, Status::Failed);
}
