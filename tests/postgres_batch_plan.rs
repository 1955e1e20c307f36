//! How the server plans two statements of a worker's usual path on a `runs` table it has no
//! statistics for yet: a new schema's first minute, before autovacuum first analyzes it,
//! when the workers claim and write their first runs.
//!
//! - The group committer's statement (`store/postgres/one_trip.rs`) updates the batch's runs
//!   from arrays (`unnest`), each run's row under its guards. Whatever the server estimates,
//!   it must read each run by its key or read the batch once (a hash join): never read the
//!   batch again for every row of `runs`, which made a batch of 64 checkpoints cost 3-13 ms
//!   instead of about 0.5 ms on 1,000 runs (the planner took the guards on the run's row,
//!   `owner = $11 AND rare_rows = 0`, without statistics, for a filter that keeps one row).
//! - A claim (`store/postgres/leases.rs`) takes the first claimable runs in id order: it
//!   must walk `active` in that order up to its limit, not read and sort every pending and
//!   running run (2-3.5 ms per claim of 64 among 1,000 new runs).
//!
//! Plans are read with `EXPLAIN` of the statement prepared and executed with real values,
//! as a worker's connection runs it: its first executions get custom plans.

mod postgres_common;

use std::time::Duration;

use cairn::{Context, Runtime, workflow};
use postgres_common::{Store, sql};
use serde_json::Value;

async fn echo(n: u64) -> Result<u64, String> {
    Ok(n)
}

#[workflow]
async fn one_step(ctx: &mut Context, n: u64) -> Result<u64, String> {
    ctx.task(echo, n).await
}

/// How many runs the table holds at each look, and the batch sizes looked at: without the
/// fix, the bad plan showed at 1,000 runs for batches of 8 and 32, at 2,000 for 32 and 64,
/// at 4,000 for 64 and 128 (PostgreSQL 15).
const TABLE_SIZES: [u64; 5] = [100, 300, 1_000, 2_000, 4_000];
const BATCH_SIZES: [usize; 6] = [8, 32, 64, 128, 256, 512];

#[test]
fn without_statistics_a_batch_reads_each_run_once_and_a_claim_walks_active_in_order() {
    let store = Store::fresh(Duration::from_secs(60));
    let tokio = postgres_common::tokio_runtime();
    let _entered = tokio.enter();
    let client = store.client(Runtime::builder().register(one_step));
    // No statistics, as in a new schema: autovacuum must not analyze the tables meanwhile.
    sql(
        &store,
        "ALTER TABLE runs SET (autovacuum_enabled = false);
         ALTER TABLE active SET (autovacuum_enabled = false)",
    );
    let mut stored = 0;
    for size in TABLE_SIZES {
        tokio
            .block_on(client.start_many(one_step, 0..size - stored))
            .unwrap();
        stored = size;
        // Three workers share the runs: "me" writes a batch of the runs it holds.
        sql(
            &store,
            "UPDATE runs SET owner = CASE WHEN id % 3 = 0 THEN 'me' ELSE 'other' END, epoch = 1
             WHERE owner IS NULL",
        );
        for batch in BATCH_SIZES {
            let join = plan_of_batch(&store, batch);
            if join["Node Type"] != "Nested Loop" {
                continue;
            }
            let inner = join["Plans"]
                .as_array()
                .and_then(|plans| plans.iter().find(|p| p["Parent Relationship"] == "Inner"))
                .expect("a nested loop's inner side");
            assert!(
                inner["Node Type"] == "Index Scan" && inner["Relation Name"] == "runs",
                "{stored} runs, a batch of {batch}: the nested loop's inner side must read one \
                 run by its key, not {}: {join:#}",
                inner["Node Type"]
            );
        }
        // Limits well below the runs stored: a claim that must read them all may sort them.
        for limit in [16, 64, 256]
            .into_iter()
            .filter(|limit| limit * 4 <= stored)
        {
            let claim = plan_of_claim(&store, limit);
            let sorts = nodes(&claim, &|node| node["Node Type"] == "Sort");
            assert!(
                sorts.is_empty(),
                "{stored} runs, a claim of {limit}: it must walk `active` in id order, not sort \
                 the claimable runs: {claim:#}"
            );
        }
    }
    assert_eq!(
        sql(
            &store,
            "SELECT count(*) FROM pg_stats
             WHERE schemaname = current_schema() AND tablename IN ('runs', 'active')"
        ),
        "0",
        "a table was analyzed meanwhile"
    );
}

/// The join under the statement's update of `runs`, planned for a batch of (at most) `size`
/// of the runs "me" holds.
fn plan_of_batch(store: &Store, size: usize) -> Value {
    let batch: Vec<String> = sql(
        store,
        &format!("SELECT id FROM runs WHERE owner = 'me' ORDER BY id LIMIT {size}"),
    )
    .lines()
    .map(str::to_owned)
    .collect();
    let size = batch.len();
    let repeated = |value: &str, kind: &str| format!("array_fill({value}::{kind}, ARRAY[{size}])");
    // $1 ids, $2 epochs, $3 old records, $4 new records, $5 statuses, $6 finish times,
    // $7 history records, $8 ended positions, $9 events, $10 attempts, $11 the worker,
    // $12 the lease.
    let arguments = [
        format!("ARRAY[{}]::bigint[]", batch.join(",")),
        repeated("1", "bigint"),
        repeated("'\\x0102'", "bytea"),
        repeated("'\\x0304'", "bytea"),
        repeated("1", "integer"),
        repeated("NULL", "bigint"),
        repeated("'\\x05'", "bytea"),
        repeated("NULL", "bigint"),
        repeated("false", "boolean"),
        repeated("false", "boolean"),
        "'me'".to_owned(),
        "30000".to_owned(),
    ];
    let plan = explained(
        store,
        cairn::__postgres_planned::usual_checkpoints(),
        &arguments.join(", "),
    );
    let updates = nodes(&plan, &|node| {
        node["Node Type"] == "ModifyTable" && node["Relation Name"] == "runs"
    });
    let update = updates
        .first()
        .unwrap_or_else(|| panic!("no update of runs in {plan:#}"));
    update["Plans"][0].clone()
}

/// The plan of a claim of at most `limit` runs by a new worker, "new", that holds none.
fn plan_of_claim(store: &Store, limit: u64) -> Value {
    explained(
        store,
        &cairn::__postgres_planned::claim(),
        &format!("0, 'new', 30000, false, ARRAY[0, 1], {limit}"),
    )
}

/// The plan of `statement` prepared and executed with `arguments`, as the server chooses it
/// for a connection's first executions (a custom plan for those values).
fn explained(store: &Store, statement: &str, arguments: &str) -> Value {
    let plan = sql(
        store,
        &format!(
            "PREPARE planned AS {statement};
             EXPLAIN (FORMAT JSON) EXECUTE planned({arguments});"
        ),
    );
    serde_json::from_str(&plan).expect("a plan in JSON")
}

/// Every node of `plan` that `wanted` accepts.
fn nodes<'a>(plan: &'a Value, wanted: &dyn Fn(&Value) -> bool) -> Vec<&'a Value> {
    let mut found = Vec::new();
    let mut stack = vec![plan];
    while let Some(value) = stack.pop() {
        if wanted(value) {
            found.push(value);
        }
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(fields) => stack.extend(fields.values()),
            _ => {}
        }
    }
    found
}
