//! Unit tests of retry policies and task options.

use super::*;

#[test]
fn backoff_grows_is_capped_and_jittered() {
    let policy = RetryPolicy::exponential(10)
        .initial_delay(Duration::from_millis(100))
        .max_delay(Duration::from_secs(1))
        .jitter(0.0);
    let waits: Vec<u128> = (1..=6).map(|a| policy.delay(a, 0).as_millis()).collect();
    assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
    let jittered = policy.jitter(0.5);
    let mut random = seed(1, 2, SystemTime::UNIX_EPOCH);
    for attempt in 1..=6 {
        let wait = jittered.delay(attempt, xorshift(&mut random));
        let full = policy.delay(attempt, 0);
        assert!(wait <= full && wait >= full / 2, "{wait:?} of {full:?}");
    }
}

#[test]
fn bad_policies_are_typed_errors() {
    for policy in [
        RetryPolicy::exponential(0),
        RetryPolicy::exponential(3).factor(0.5),
        RetryPolicy::exponential(3).factor(f64::NAN),
        RetryPolicy::exponential(3).jitter(2.0),
    ] {
        assert!(matches!(policy.check(), Err(Error::InvalidArgument { .. })));
    }
    let huge = RetryPolicy::fixed(2, Duration::MAX);
    assert_eq!(huge.delay(1, 0), Duration::MAX);
    assert!(deadline(SystemTime::now(), Duration::MAX, "t").is_err());
}
