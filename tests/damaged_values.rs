//! A damaged stored byte is `CorruptState`, never a different value: a run record and a loop
//! item are damaged one bit at a time in the LMDB tables, with no runtime open (the rest of
//! the serde checks are in the conformance suite, `tests/conformance/serde_types.rs`).

mod support;

use cairn::{Context, Error, Runtime, workflow};
use support::raw_store::with_database;

async fn echo_number(n: u64) -> Result<u64, String> {
    Ok(n)
}

#[workflow]
async fn number(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let a = ctx.task(echo_number, n).await?;
    Ok(a)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_bit_in_a_stored_run_is_corrupt_state_never_another_value() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(number)
        .start()
        .unwrap();
    assert_eq!(runtime.client().run(number, 10).await.unwrap(), 10);
    let run = runtime.client().list(None).unwrap()[0].id;
    runtime.shutdown().await;

    let key = run.0.to_be_bytes();
    let mut stored = Vec::new();
    with_database(dir.path(), "runs", |txn, db| {
        stored = db.get(txn, &key).unwrap().unwrap().to_vec();
    });
    // Every byte of the record, one bit at a time (the low bit: a 10 becomes an 11).
    for at in 0..stored.len() {
        let mut damaged = stored.clone();
        damaged[at] ^= 1;
        with_database(dir.path(), "runs", |txn, db| {
            db.put(txn, &key, &damaged).unwrap()
        });
        let runtime = Runtime::builder()
            .path(dir.path())
            .register(number)
            .client_only()
            .start()
            .unwrap();
        match runtime.client().result(number, run) {
            Err(Error::CorruptState { run: of, .. }) => assert_eq!(of, run),
            other => panic!("byte {at}: expected CorruptState, got {other:?}"),
        }
        runtime.shutdown().await;
    }
}

async fn total(items: Vec<u64>) -> Result<u64, String> {
    Ok(items.iter().sum())
}

#[workflow]
async fn looping(ctx: &mut Context, items: Vec<u64>) -> Result<u64, String> {
    let mut sum = 0;
    for item in items {
        let got = ctx.task(echo_number, item).await?;
        sum += got;
    }
    let checked = ctx.task(total, vec![sum]).await?;
    Ok(checked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_bit_in_a_stored_loop_item_is_corrupt_state() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(looping)
        .on_transition(|t| {
            if t.number == 1 {
                cairn::Flow::Halt
            } else {
                cairn::Flow::Continue
            }
        })
        .start()
        .unwrap();
    let run = runtime
        .client()
        .start(looping, vec![10, 20, 30])
        .await
        .unwrap();
    assert!(matches!(
        runtime.client().wait(looping, run).await,
        Err(Error::Halted { .. })
    ));
    runtime.shutdown().await;

    // Damage the last item, not yet reached: without a checksum it would decode as 31.
    with_database(dir.path(), "loop_items", |txn, db| {
        let (key, value) = {
            let mut iter = db.rev_iter(txn).unwrap();
            let (k, v) = iter.next().unwrap().unwrap();
            (k.to_vec(), v.to_vec())
        };
        let mut damaged = value;
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        db.put(txn, &key, &damaged).unwrap();
    });
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(looping)
        .start()
        .unwrap();
    match runtime.client().wait(looping, run).await {
        Err(Error::CorruptState { reason, .. }) => {
            assert!(reason.contains("checksum"), "{reason}");
            assert!(reason.contains("item 2 of the loop"), "{reason}");
        }
        other => panic!("expected CorruptState, got {other:?}"),
    }
    runtime.shutdown().await;
}
