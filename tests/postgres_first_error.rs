//! A commit whose statements are pipelined reports the error of the statement that failed,
//! not the `25P02` ("current transaction is aborted") of the statements sent after it: a
//! deadlock reported as itself is run again, where a `25P02` stopped the run.
//!
//! The checkpoint of a one-step run meets a trigger on `history` (through `psql`-free SQL on
//! a connection of the test's own). Its first firing raises `disk_full`, which makes the
//! write go again op by op (`store/postgres/writes.rs`); there the checkpoint sends its
//! statements together, and its state writes (two, one after the other, declared before the
//! history insert) send their second statement while the history insert is still running
//! (the trigger sleeps first), so that statement is answered `25P02` right after the insert
//! fails. The second firing raises `40P01`
//! (`deadlock_detected`). Reported as such, the transaction is run again and the third
//! firing lets it through: the run completes, its step once. Reported as `25P02`, the run
//! stopped with that error (with `tokio::try_join!` in `writes.rs`: 2 failures in 3 runs;
//! the two answers may reach the join in two reads, and then the cause is seen first).
//! `store/postgres/pipeline.rs` has the deterministic unit test of the rule.

mod postgres_common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cairn::{Context, Runtime, workflow};
use postgres_common::Store;

static STEPS: AtomicU64 = AtomicU64::new(0);

async fn double(n: u64) -> Result<u64, String> {
    STEPS.fetch_add(1, Ordering::SeqCst);
    Ok(n * 2)
}

#[workflow]
async fn one_step(ctx: &mut Context, n: u64) -> Result<u64, String> {
    // Two state writes, committed with the checkpoint: two statements, one after the other.
    ctx.state().set("first", &n)?;
    ctx.state().set("second", &n)?;
    let doubled = ctx.task(double, n).await?;
    Ok(doubled + 1)
}

#[test]
fn a_deadlock_in_a_pipelined_commit_is_reported_as_itself_and_run_again() {
    let store = Store::fresh(Duration::from_secs(60));
    let tokio = postgres_common::tokio_runtime();
    tokio.block_on(async {
        let runtime = Runtime::builder()
            .postgres(store.options())
            .register(one_step)
            .start()
            .unwrap();
        let db = postgres_common::connect(&store).await;
        let schema = &store.schema;
        db.batch_execute(&format!(
            "CREATE SEQUENCE {schema}.firings;
             CREATE FUNCTION {schema}.fault() RETURNS trigger LANGUAGE plpgsql AS $fault$
             BEGIN
                 CASE nextval('{schema}.firings')
                 WHEN 1 THEN
                     RAISE EXCEPTION 'could not extend file' USING ERRCODE = 'disk_full';
                 WHEN 2 THEN
                     -- The statements sent after this one are queued behind it meanwhile.
                     PERFORM pg_sleep(0.2);
                     RAISE EXCEPTION 'deadlock detected' USING ERRCODE = 'deadlock_detected';
                 ELSE
                     RETURN NEW;
                 END CASE;
             END $fault$;
             CREATE TRIGGER fault BEFORE INSERT ON {schema}.history
                 FOR EACH ROW EXECUTE FUNCTION {schema}.fault();"
        ))
        .await
        .expect("arm the fault");

        let client = runtime.client();
        let run = client.start(one_step, 20).await.unwrap();
        let output = tokio::time::timeout(Duration::from_secs(30), client.wait(one_step, run))
            .await
            .expect("the run ends");
        assert_eq!(output.unwrap(), 41, "the run stopped on the commit's error");
        assert_eq!(STEPS.load(Ordering::SeqCst), 1, "the step ran once");
        let firings: i64 = db
            .query_one(&format!("SELECT last_value FROM {schema}.firings"), &[])
            .await
            .unwrap()
            .get(0);
        // disk_full, deadlock, the checkpoint written, the completion written.
        assert_eq!(firings, 4);
        runtime.shutdown().await;
    });
}
