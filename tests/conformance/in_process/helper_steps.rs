//! Steps inside an `async fn` helper that takes `&mut Context`.
//!
//! The workflow awaits the helper once, so only that one `.await` is committed: the steps
//! inside it are not committed one by one. A helper that runs one step is fine (the step is
//! at-least-once, as any step in flight at a crash is). A second step started inside the same
//! `.await` is refused with a typed error before it runs, so that a completed step is never
//! silently run again after a failure and resume.

use std::sync::atomic::{AtomicBool, Ordering};

use cairn::{Context, Error, workflow};

use super::support;
use super::{Backend, fresh_store};
use support::{check_restarts, ran, serial, take_step_counts};

async fn double(x: u64) -> Result<u64, String> {
    ran("double");
    Ok(x * 2)
}

static FAIL_ONCE: AtomicBool = AtomicBool::new(true);

/// Fails the first time it runs in this process, then succeeds.
async fn flaky(x: u64) -> Result<u64, String> {
    ran("flaky");
    if FAIL_ONCE.swap(false, Ordering::SeqCst) {
        Err("flaky failed".to_owned())
    } else {
        Ok(x + 1)
    }
}

/// Two steps in one helper.
async fn two_steps(ctx: &mut Context, x: u64) -> Result<u64, String> {
    let doubled = ctx.task(double, x).await?;
    let bumped = ctx.task(flaky, doubled).await?;
    Ok(bumped)
}

#[workflow]
async fn uses_two_steps(ctx: &mut Context, x: u64) -> Result<u64, String> {
    let y = two_steps(ctx, x).await?;
    let z = ctx.task(double, y).await?;
    Ok(z)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_step_inside_one_await_is_refused_before_it_runs() {
    let _serial = serial().await;
    FAIL_ONCE.store(true, Ordering::SeqCst);
    let store = fresh_store();
    let runtime = store.runtime().register(uses_two_steps).start().unwrap();
    let client = runtime.client();
    let run = client.start(uses_two_steps, 5).await.unwrap();
    let outcome = client.wait(uses_two_steps, run).await;
    let Err(Error::RunFailed { message, .. }) = &outcome else {
        panic!("expected the run to be refused, got {outcome:?}");
    };
    // The message names the workflow, the await, both steps and the fix.
    for part in [
        "uses_two_steps",
        "`double`",
        "`flaky`",
        "after state `Start`",
        "inline its steps",
    ] {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }
    // The second step never ran: nothing it did can be lost or repeated. (Today's failure
    // was: `flaky` ran and failed, and resuming ran the completed `double` again.)
    let counts = take_step_counts();
    assert_eq!(counts.get("flaky"), None);
    assert_eq!(counts.get("double"), Some(&1));

    // Resuming refuses again, the same way: the helper has to change.
    client.resume(run).await.unwrap();
    let again = client.wait(uses_two_steps, run).await;
    assert!(
        matches!(&again, Err(Error::RunFailed { message: m, .. }) if m == message),
        "{again:?}"
    );
    assert_eq!(take_step_counts().get("flaky"), None);
    runtime.shutdown().await;
}

/// One step in a helper, awaited from a loop: legitimate, and resumed correctly.
async fn one_step(ctx: &mut Context, x: u64) -> Result<u64, String> {
    let doubled = ctx.task(double, x).await?;
    Ok(doubled + 1)
}

#[workflow]
async fn uses_one_step(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let mut total = 0;
    for i in 0..n {
        total += one_step(ctx, i).await?;
    }
    Ok(total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helper_with_one_step_resumes_from_every_stored_state() {
    // (0 + 1) + (2 + 1) + (4 + 1) = 9.
    check_restarts(uses_one_step, 3, Ok(9), &[("double", 3)]).await;
}
