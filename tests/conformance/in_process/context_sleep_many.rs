//! Many runs in a durable sleep: the runtime keeps only a small window of their wake-ups in
//! memory (the rest stays in the on-disk index), before and after a restart, and still wakes
//! every run, in wake-up order. Time is a test clock: nothing here sleeps for real.

use std::sync::Mutex;
use std::time::Duration;

use cairn::{Context, Durability, Runtime, TestClock, workflow};

use super::{Backend, BackendUnderTest, fresh_store};

const RUNS: u64 = 2_000;
/// The timer reads 256 wake-ups at a time and never holds more than twice that.
const MAX_IN_MEMORY: usize = 512;

static WOKEN: Mutex<Vec<u64>> = Mutex::new(Vec::new());

async fn woke(secs: u64) -> Result<u64, String> {
    WOKEN.lock().unwrap().push(secs);
    Ok(secs)
}

#[workflow]
async fn dozer(ctx: &mut Context, secs: u64) -> Result<u64, String> {
    ctx.sleep(Duration::from_secs(secs)).await?;
    ctx.task(woke, secs).await
}

fn start(store: &BackendUnderTest, clock: &TestClock) -> Runtime {
    store
        .runtime()
        .durability(Durability::ProcessCrash)
        .register(dozer)
        .clock(clock.clone())
        .start()
        .unwrap()
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..6_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_sleeping_runs_keep_a_bounded_window_and_wake_in_order() {
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = start(&store, &clock);
    let client = runtime.client();
    // Sleeps of 1..=RUNS seconds, started in a scrambled order (7919 is prime to RUNS).
    let mut runs = Vec::new();
    for i in 0..RUNS {
        let secs = i * 7919 % RUNS + 1;
        runs.push((client.start(dozer, secs).await.unwrap(), secs));
    }
    until("every run to sleep", || {
        runtime.sleeping_runs() as u64 == RUNS && runtime.live_runs() == 0
    })
    .await;
    assert!(
        runtime.timers_in_memory() <= MAX_IN_MEMORY,
        "{} wake-ups in memory",
        runtime.timers_in_memory()
    );
    runtime.shutdown().await;

    // A new runtime reads none of the sleeping runs at start, only the first wake-ups.
    let runtime = start(&store, &clock);
    let client = runtime.client();
    clock.wait_for_sleepers(1).await;
    assert_eq!(runtime.sleeping_runs() as u64, RUNS);
    assert_eq!(runtime.live_runs(), 0);
    let window = runtime.timers_in_memory();
    assert!(
        0 < window && window <= MAX_IN_MEMORY,
        "{window} wake-ups in memory"
    );
    let mut now = 0;
    while now < RUNS {
        now += 25;
        clock.advance(Duration::from_secs(25));
        until("the runs due to wake", || {
            WOKEN.lock().unwrap().len() as u64 == now
        })
        .await;
        let mut woken = WOKEN.lock().unwrap().clone();
        woken.sort_unstable();
        // Exactly the runs due by now, each once: none early, none left behind.
        assert_eq!(woken, (1..=now).collect::<Vec<_>>());
        assert!(runtime.timers_in_memory() <= MAX_IN_MEMORY);
    }
    for (run, secs) in runs {
        assert_eq!(client.wait(dozer, run).await.unwrap(), secs);
    }
    assert_eq!(runtime.sleeping_runs(), 0);
    runtime.shutdown().await;
}
