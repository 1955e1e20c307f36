//! `ctx.parallel`: tuples and `Vec`s of branches, a concurrency limit, per-branch outcomes,
//! results by name, a failing branch, bad arguments; resumed from every stored state and from
//! every committed branch (halted by the branch hook right after it), re-running only the
//! branches that had not completed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use cairn::{Context, Error, Flow, step, workflow};

use super::support;
use super::{Backend, fresh_store};
use support::{check_restarts_with, ran};

async fn measure(doc: String) -> Result<u64, String> {
    ran(format!("measure {doc}"));
    if doc.starts_with("bad") && FAIL_BAD.load(Ordering::SeqCst) {
        return Err(format!("cannot measure {doc}"));
    }
    Ok(doc.len() as u64)
}

async fn label(n: u64) -> Result<String, String> {
    ran("label");
    Ok(format!("#{n}"))
}

static FAIL_BAD: AtomicBool = AtomicBool::new(true);

#[workflow]
async fn fan_out(ctx: &mut Context, docs: Vec<String>) -> Result<(Vec<u64>, u64, String), String> {
    let branches: Vec<_> = docs
        .into_iter()
        .map(|doc| step(doc.clone(), measure(doc)))
        .collect();
    let lengths = ctx.parallel(branches).limit(2).await?;
    let total: u64 = lengths.iter().sum();
    let (again, tag) = ctx
        .parallel((
            step("again", measure("xyz".to_owned())),
            step("label", label(total)),
        ))
        .await?;
    Ok((lengths, again, tag))
}

fn docs() -> Vec<String> {
    ["a", "bb", "ccc", "dddd"].map(str::to_owned).to_vec()
}

const FAN_OUT_STEPS: &[(&str, usize)] = &[
    ("label", 1),
    ("measure a", 1),
    ("measure bb", 1),
    ("measure ccc", 1),
    ("measure dddd", 1),
    ("measure xyz", 1),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_calls_resume_from_every_stored_state() {
    check_restarts_with(
        fan_out,
        docs(),
        Ok((vec![1, 2, 3, 4], 3, "#10".to_owned())),
        FAN_OUT_STEPS,
        2,
        |builder| builder,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_halt_after_k_branches_reruns_only_the_others() {
    // Branch commits in an uninterrupted run: 4 + 2. Halting right after the k-th (in commit
    // order), then restarting, must run every step exactly once in all.
    for halt_at in 1..=6 {
        let _serial = support::serial().await;
        let store = fresh_store();
        let commits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = commits.clone();
        let runtime = store
            .runtime()
            .register(fan_out)
            .on_branch(move |_| {
                if seen.fetch_add(1, Ordering::SeqCst) + 1 == halt_at {
                    Flow::Halt
                } else {
                    Flow::Continue
                }
            })
            .start()
            .unwrap();
        let run = runtime.client().start(fan_out, docs()).await.unwrap();
        assert!(matches!(
            runtime.client().wait(fan_out, run).await,
            Err(Error::Halted { .. })
        ));
        runtime.shutdown().await;
        let before = support::take_step_counts();

        let runtime = store.runtime().register(fan_out).start().unwrap();
        let output = runtime.client().wait(fan_out, run).await.unwrap();
        runtime.shutdown().await;
        assert_eq!(output, (vec![1, 2, 3, 4], 3, "#10".to_owned()));
        let mut all = before.clone();
        for (step, n) in support::take_step_counts() {
            *all.entry(step).or_default() += n;
        }
        // With a limit of 2, the branch running next to the halted one may have finished
        // without committing: it runs again. Every other branch ran exactly once.
        let expected: BTreeMap<String, usize> = FAN_OUT_STEPS
            .iter()
            .map(|(name, n)| (name.to_string(), *n))
            .collect();
        let extra: usize = all.values().sum::<usize>() - expected.values().sum::<usize>();
        assert!(
            extra <= 1,
            "halt at {halt_at}: {all:?} (before: {before:?})"
        );
        for (step, n) in &all {
            assert!(
                *n == expected[step] || *n == expected[step] + 1,
                "{step}: {all:?}"
            );
        }
    }
}

/// A sequential fan-out (limit 1): a halt after branch k leaves exactly k+1 committed and no
/// other started, so the counts after the restart are exact.
#[workflow]
async fn sequential(ctx: &mut Context, docs: Vec<String>) -> Result<u64, String> {
    let branches: Vec<_> = docs
        .into_iter()
        .map(|doc| step(doc.clone(), measure(doc)))
        .collect();
    let lengths = ctx.parallel(branches).limit(1).await?;
    Ok(lengths.iter().sum())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completed_branches_never_run_again() {
    for halt_at in 0..4 {
        let _serial = support::serial().await;
        let store = fresh_store();
        let runtime = store
            .runtime()
            .register(sequential)
            .on_branch(move |b| {
                if b.index == halt_at {
                    Flow::Halt
                } else {
                    Flow::Continue
                }
            })
            .start()
            .unwrap();
        let run = runtime.client().start(sequential, docs()).await.unwrap();
        assert!(runtime.client().wait(sequential, run).await.is_err());
        runtime.shutdown().await;
        assert_eq!(
            support::take_step_counts().len(),
            halt_at + 1,
            "halt at {halt_at}"
        );
        let runtime = store.runtime().register(sequential).start().unwrap();
        assert_eq!(runtime.client().wait(sequential, run).await.unwrap(), 10);
        runtime.shutdown().await;
        let rest = support::take_step_counts();
        assert_eq!(rest.len(), 3 - halt_at, "halt at {halt_at}: {rest:?}");
        assert!(rest.values().all(|&n| n == 1));
    }
}

/// A failing branch fails the call after the others settle; `settled` collects every outcome;
/// `named` keys the outputs by branch name.
#[workflow]
async fn outcomes(
    ctx: &mut Context,
    docs: Vec<String>,
) -> Result<(Vec<Result<u64, String>>, BTreeMap<String, u64>, Vec<u64>), String> {
    let settled = ctx
        .parallel(
            docs.iter()
                .map(|doc| step(doc.clone(), measure(doc.clone())))
                .collect::<Vec<_>>(),
        )
        .settled()
        .await?;
    let named = ctx
        .parallel(
            docs.iter()
                .filter(|doc| !doc.starts_with("bad"))
                .map(|doc| step(doc.clone(), measure(doc.clone())))
                .collect::<Vec<_>>(),
        )
        .named()
        .await?;
    let all = ctx
        .parallel(
            docs.iter()
                .map(|doc| step(doc.clone(), measure(doc.clone())))
                .collect::<Vec<_>>(),
        )
        .await?;
    Ok((settled, named, all))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_settled_named_and_resume() {
    let _serial = support::serial().await;
    FAIL_BAD.store(true, Ordering::SeqCst);
    let store = fresh_store();
    let runtime = store.runtime().register(outcomes).start().unwrap();
    let client = runtime.client();
    let input: Vec<String> = ["a", "bad1", "ccc"].map(str::to_owned).to_vec();
    let run = client.start(outcomes, input).await.unwrap();
    match client.wait(outcomes, run).await {
        Err(Error::RunFailed { message, .. }) => assert_eq!(message, "cannot measure bad1"),
        other => panic!("expected the branch's error, got {other:?}"),
    }
    // The other branches of the failing call settled (ran) before the run failed.
    let counts = support::take_step_counts();
    assert_eq!(counts["measure a"], 3);
    assert_eq!(counts["measure ccc"], 3);
    assert_eq!(counts["measure bad1"], 2);

    // Resumed with the cause fixed: the failed call's completed branches are not run again.
    FAIL_BAD.store(false, Ordering::SeqCst);
    client.resume(run).await.unwrap();
    let (settled, named, all) = client.wait(outcomes, run).await.unwrap();
    assert_eq!(
        settled,
        vec![Ok(1), Err("cannot measure bad1".to_owned()), Ok(3)]
    );
    assert_eq!(
        named,
        BTreeMap::from([("a".to_owned(), 1), ("ccc".to_owned(), 3)])
    );
    assert_eq!(all, vec![1, 4, 3]);
    let counts = support::take_step_counts();
    assert_eq!(counts.len(), 1, "{counts:?}");
    assert_eq!(counts["measure bad1"], 1);
    assert!(matches!(
        client.resume(run).await,
        Err(Error::NotResumable { .. })
    ));
    runtime.shutdown().await;
    FAIL_BAD.store(true, Ordering::SeqCst);
}

#[workflow]
async fn bad_arguments(ctx: &mut Context, case: u8) -> Result<u64, String> {
    let docs: Vec<String> = if case == 0 {
        Vec::new()
    } else {
        vec!["x".to_owned(), "x".to_owned()]
    };
    let branches: Vec<_> = docs
        .into_iter()
        .map(|doc| step(doc.clone(), measure(doc)))
        .collect();
    let total: u64 = match case {
        0 => ctx.parallel(branches).await?.iter().sum(),
        1 => ctx.parallel(branches).limit(0).await?.iter().sum(),
        _ => ctx.parallel(branches).named().await?.values().sum(),
    };
    Ok(total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_typed_errors() {
    // `measure` counts steps: the suite's other checks must not see them.
    let _serial = support::serial().await;
    let store = fresh_store();
    let runtime = store.runtime().register(bad_arguments).start().unwrap();
    let client = runtime.client();
    // No branches is not a bad argument: the call returns an empty `Vec`.
    let run = client.start(bad_arguments, 0).await.unwrap();
    assert_eq!(client.wait(bad_arguments, run).await.unwrap(), 0);
    for (case, expected) in [(1, "limit must be at least 1"), (2, "are both named `x`")] {
        let run = client.start(bad_arguments, case).await.unwrap();
        match client.wait(bad_arguments, run).await {
            Err(Error::RunFailed { message, .. }) => {
                assert!(message.contains(expected), "case {case}: {message}")
            }
            other => panic!("case {case}: expected a typed error, got {other:?}"),
        }
    }
    runtime.shutdown().await;
}
