//! SIGKILL during a `parallel` call: the child is killed after k of its n branches have
//! committed (the others are in flight), and a new process finishes the run. Per-branch
//! counters in an append-only log show that the k committed branches never ran again and the
//! others ran to completion exactly once, with the same idempotency key as in the killed
//! process.

use cairn::{Context, Flow, step, workflow};

use super::process::{
    Proc, child_dir, generation, log, param, parent_store, read_log, report, tokio_runtime,
};
use super::{Backend, fresh_store};

const BRANCHES: u64 = 5;

/// Branch `index` logs that it began (with its key), and in the first process blocks forever
/// unless it is one of the first `param()` branches; then it logs that it ran.
async fn branch(index: u64, key: String) -> Result<u64, String> {
    log(&format!("begin {index} {} {key}", generation()));
    report(&format!("begin {index}"));
    if generation() == 0 && index >= param() {
        std::future::pending::<()>().await;
    }
    log(&format!("exec {index} {}", generation()));
    Ok(index * 10)
}

#[workflow]
async fn fan(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let branches: Vec<_> = (0..n)
        .map(|i| step(format!("b{i}"), branch(i, ctx.branch_key(i as usize))))
        .collect();
    let outputs = ctx.parallel(branches).await?;
    Ok(outputs.iter().sum())
}

#[test]
fn child_entry() {
    if child_dir().is_none() {
        return;
    }
    tokio_runtime().block_on(child());
}

async fn child() {
    let store = parent_store();
    let runtime = store
        .runtime()
        .register(fan)
        .on_branch(|b| {
            report(&format!("branch {}", b.index));
            Flow::Continue
        })
        .start()
        .expect("runtime starts");
    let client = runtime.client();
    let run = match client.list(None).expect("list").first() {
        Some(run) => run.id,
        None => client.start(fan, BRANCHES).await.expect("start"),
    };
    let output = client.wait(fan, run).await.expect("run completes");
    report(&format!("output {output}"));
    runtime.shutdown().await;
}

#[test]
fn sigkill_after_k_branches_reruns_only_the_others() {
    if child_dir().is_some() {
        return;
    }
    for k in 0..=BRANCHES {
        let store = fresh_store();
        let dir = tempfile::tempdir().unwrap();
        let mut first = Proc::spawn(module_path!(), &store, dir.path(), 0, k);
        if k == BRANCHES {
            // Every branch completes: the run finishes in the first process.
            assert_eq!(first.until("output"), "output 100");
            first.exit();
        } else {
            // Every branch has begun and k have committed: the others are in flight.
            let (mut begun, mut committed) = (0, 0);
            while begun < BRANCHES || committed < k {
                let message = first.next();
                begun += u64::from(message.starts_with("begin"));
                committed += u64::from(message.starts_with("branch"));
            }
            first.kill();
            let mut second = Proc::spawn(module_path!(), &store, dir.path(), 1, k);
            assert_eq!(second.until("output"), "output 100");
            second.exit();
        }

        let log = read_log(dir.path());
        for index in 0..BRANCHES {
            let lines = |kind: &str| -> Vec<Vec<String>> {
                log.iter()
                    .map(|l| l.split(' ').map(str::to_owned).collect::<Vec<_>>())
                    .filter(|w| w[0] == kind && w[1] == index.to_string())
                    .collect()
            };
            let execs: Vec<String> = lines("exec").into_iter().map(|w| w[2].clone()).collect();
            let begins = lines("begin");
            if index < k {
                assert_eq!(
                    execs,
                    ["0"],
                    "k={k}: committed branch {index} ran once: {log:?}"
                );
                assert_eq!(begins.len(), 1, "k={k}: branch {index}: {log:?}");
            } else if k < BRANCHES {
                assert_eq!(
                    execs,
                    ["1"],
                    "k={k}: branch {index} ran once, after the kill"
                );
                assert_eq!(begins.len(), 2, "k={k}: branch {index}: {log:?}");
                assert_eq!(
                    begins[0][3], begins[1][3],
                    "k={k}: same key in both processes"
                );
            }
        }
    }
}
