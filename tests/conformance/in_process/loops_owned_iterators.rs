//! `for` loops with an `.await` in the body over any iterator of owned, storable items:
//! adaptors (`enumerate`, `rev`, `step_by`, `zip`, `chain`, `filter`, `map`), maps and sets,
//! each resumed from every stored state (see `support`). The items are stored once when the
//! loop starts, so a resumed loop goes on in the stored order: a `HashMap`, whose iteration
//! order changes with every instance, is the test of that. An iterator without an end is
//! refused at run time before anything is stored.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use cairn::{Context, Error, Flow, workflow};

use super::support;
use super::{Backend, fresh_store};
use support::{check_restarts, ran, serial, take_step_counts};

async fn visit(label: String) -> Result<String, String> {
    ran(format!("visit {label}"));
    Ok(label)
}

async fn double(x: u64) -> Result<u64, String> {
    ran("double");
    Ok(x * 2)
}

/// `enumerate` over an owned `Vec`.
#[workflow]
async fn enumerated(ctx: &mut Context, words: Vec<String>) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (i, word) in words.into_iter().enumerate() {
        out.push(ctx.task(visit, format!("{i}:{word}")).await?);
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enumerate_over_an_owned_vec() {
    let words = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
    check_restarts(
        enumerated,
        words,
        Ok(vec!["0:a".to_owned(), "1:b".to_owned(), "2:c".to_owned()]),
        &[("visit 0:a", 1), ("visit 1:b", 1), ("visit 2:c", 1)],
    )
    .await;
}

/// `rev` and `step_by` over ranges: the loop runs backwards and by twos, as written.
#[workflow]
async fn ranges(ctx: &mut Context, n: u64) -> Result<Vec<u64>, String> {
    let mut out = Vec::new();
    for i in (0..n).rev() {
        out.push(ctx.task(double, i).await?);
    }
    for i in (0..n).step_by(2) {
        out.push(ctx.task(double, i).await?);
    }
    for i in (1..=n).rev().step_by(3) {
        out.push(ctx.task(double, i).await?);
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rev_and_step_by_keep_their_meaning() {
    // rev: 3, 2, 1, 0; step_by(2): 0, 2; (1..=4).rev().step_by(3): 4, 1.
    check_restarts(
        ranges,
        4,
        Ok(vec![6, 4, 2, 0, 0, 4, 8, 2]),
        &[("double", 8)],
    )
    .await;
}

/// `zip`, `chain`, and `filter`/`map` with closures over owned data and over a local.
#[workflow]
async fn adaptors(ctx: &mut Context, names: Vec<String>) -> Result<Vec<String>, String> {
    let scores = vec![10u64, 20, 30];
    let mut out = Vec::new();
    for (name, score) in names.clone().into_iter().zip(scores) {
        out.push(ctx.task(visit, format!("{name}={score}")).await?);
    }
    for name in names.clone().into_iter().chain(vec!["extra".to_owned()]) {
        out.push(ctx.task(visit, name).await?);
    }
    // What the error about borrowed items recommends: items cloned out of a borrow.
    for name in names.iter().take(1).cloned() {
        out.push(ctx.task(visit, format!("cloned {name}")).await?);
    }
    let suffix = "!".to_owned();
    let min_len = 2;
    for shout in names
        .into_iter()
        .filter(|name| name.len() >= min_len)
        .map(|name| format!("{name}{suffix}"))
    {
        out.push(ctx.task(visit, shout).await?);
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zip_chain_filter_and_map() {
    let names = vec!["ab".to_owned(), "c".to_owned(), "de".to_owned()];
    let expected: Vec<String> = [
        "ab=10",
        "c=20",
        "de=30",
        "ab",
        "c",
        "de",
        "extra",
        "cloned ab",
        "ab!",
        "de!",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let steps: Vec<(String, usize)> = expected
        .iter()
        .map(|label| (format!("visit {label}"), 1))
        .collect();
    let steps: Vec<(&str, usize)> = steps.iter().map(|(s, n)| (s.as_str(), *n)).collect();
    check_restarts(adaptors, names, Ok(expected), &steps).await;
}

/// Maps and sets of every kind, by value.
#[workflow]
async fn collections(
    ctx: &mut Context,
    input: (BTreeMap<String, u64>, BTreeSet<u64>, HashSet<u64>),
) -> Result<Vec<String>, String> {
    let (tree_map, tree_set, hash_set) = input;
    let mut out = Vec::new();
    for (key, value) in tree_map {
        out.push(ctx.task(visit, format!("{key}={value}")).await?);
    }
    for x in tree_set {
        out.push(ctx.task(visit, format!("tree {x}")).await?);
    }
    let mut from_hash_set = Vec::new();
    for x in hash_set {
        from_hash_set.push(ctx.task(visit, format!("hash {x}")).await?);
    }
    from_hash_set.sort();
    out.extend(from_hash_set);
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn btree_map_btree_set_and_hash_set() {
    let input = (
        BTreeMap::from([("b".to_owned(), 2), ("a".to_owned(), 1)]),
        BTreeSet::from([9, 7]),
        HashSet::from([5, 3, 4]),
    );
    let expected: Vec<String> = [
        "a=1", "b=2", "tree 7", "tree 9", "hash 3", "hash 4", "hash 5",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let steps: Vec<(String, usize)> = expected
        .iter()
        .map(|label| (format!("visit {label}"), 1))
        .collect();
    let steps: Vec<(&str, usize)> = steps.iter().map(|(s, n)| (s.as_str(), *n)).collect();
    check_restarts(collections, input, Ok(expected), &steps).await;
}

/// A `HashMap` by value, returning the keys in the order the loop visited them.
#[workflow]
async fn hash_map_order(
    ctx: &mut Context,
    map: HashMap<String, u64>,
) -> Result<Vec<String>, String> {
    let mut order = Vec::new();
    for (key, value) in map {
        order.push(ctx.task(visit, format!("{key}={value}")).await?);
    }
    Ok(order)
}

/// The same loop, with its output sorted so that every run has the same output.
#[workflow]
async fn hash_map_sorted(
    ctx: &mut Context,
    map: HashMap<String, u64>,
) -> Result<Vec<String>, String> {
    let mut order = Vec::new();
    for (key, value) in map {
        order.push(ctx.task(visit, format!("{key}={value}")).await?);
    }
    order.sort();
    Ok(order)
}

fn sixteen_keys() -> HashMap<String, u64> {
    (0..16u64).map(|i| (format!("k{i:02}"), i)).collect()
}

fn sorted_labels(map: &HashMap<String, u64>) -> Vec<String> {
    let mut labels: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
    labels.sort();
    labels
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hash_map_loop_visits_every_entry_once_from_every_stored_state() {
    // A resumed run decodes its input into a new `HashMap`, which iterates in another order:
    // only the stored items keep the resumed loop on the order it started with.
    let map = sixteen_keys();
    let expected = sorted_labels(&map);
    let steps: Vec<(String, usize)> = expected.iter().map(|l| (format!("visit {l}"), 1)).collect();
    let steps: Vec<(&str, usize)> = steps.iter().map(|(s, n)| (s.as_str(), *n)).collect();
    check_restarts(hash_map_sorted, map, Ok(expected), &steps).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_hash_map_loop_continues_in_the_stored_order() {
    let _serial = serial().await;
    let map = sixteen_keys();
    let store = fresh_store();

    // The first runtime visits five entries, then stops as a crash after that commit would.
    let runtime = store
        .runtime()
        .register(hash_map_order)
        .on_transition(|t| {
            if t.number == 5 {
                Flow::Halt
            } else {
                Flow::Continue
            }
        })
        .start()
        .unwrap();
    let run = runtime
        .client()
        .start(hash_map_order, map.clone())
        .await
        .unwrap();
    let halted = runtime.client().wait(hash_map_order, run).await;
    assert!(matches!(halted, Err(Error::Halted { .. })), "{halted:?}");
    runtime.shutdown().await;
    let visited_first = take_step_counts();
    assert_eq!(visited_first.len(), 5, "{visited_first:?}");

    let runtime = store.runtime().register(hash_map_order).start().unwrap();
    let order = runtime.client().wait(hash_map_order, run).await.unwrap();
    runtime.shutdown().await;

    // The output is the visiting order: the first five are those the first runtime visited,
    // and every entry comes exactly once.
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(sorted, sorted_labels(&map), "order {order:?}");
    let first_five: BTreeSet<String> = order[..5].iter().map(|l| format!("visit {l}")).collect();
    assert_eq!(first_five, visited_first.into_keys().collect());
    assert!(take_step_counts().values().all(|&n| n == 1));
}

/// `for i in 1..` ends with `break`: the range is stored as a counter.
#[workflow]
async fn counter(ctx: &mut Context, target: u64) -> Result<u64, String> {
    let mut last = 0;
    for i in 1.. {
        last = ctx.task(double, i).await?;
        if last >= target {
            break;
        }
    }
    Ok(last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_range_with_a_break_is_a_durable_counter() {
    check_restarts(counter, 7, Ok(8), &[("double", 4)]).await;
}

/// An iterator with no upper bound on its length cannot have its items stored.
#[workflow]
async fn endless(ctx: &mut Context, n: u64) -> Result<u64, String> {
    let first = ctx.task(double, n).await?;
    let mut total = first;
    for x in (1u64..).map(|x| x * 10) {
        total += ctx.task(double, x).await?;
        if total > 100 {
            break;
        }
    }
    Ok(total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iterator_without_an_end_fails_the_run_before_storing_anything() {
    let _serial = serial().await;
    let store = fresh_store();
    let runtime = store.runtime().register(endless).start().unwrap();
    let run = runtime.client().start(endless, 1).await.unwrap();
    let outcome = runtime.client().wait(endless, run).await;
    let status = runtime.client().status(run).unwrap();
    runtime.shutdown().await;
    let Err(Error::RunFailed { message, .. }) = outcome else {
        panic!("expected the run to fail, got {outcome:?}");
    };
    assert!(message.contains("never ends"), "{message}");
    assert!(message.contains(".take(n)"), "{message}");
    assert!(message.contains("the `for` loop at line "), "{message}");
    assert_eq!(status.status, cairn::Status::Failed);
    // The step before the loop ran and was committed; the loop stored nothing and ran nothing.
    assert_eq!(status.transitions, 1);
    assert_eq!(take_step_counts().get("double"), Some(&1));
}
