//! How the server plans the group committer's usual statement (`store/postgres/one_trip.rs`)
//! on a `runs` table it has no statistics for yet: a new schema's first minute, before
//! autovacuum first analyzes it, when a worker writes its first batches.
//!
//! The statement updates the batch's runs from arrays (`unnest`), each run's row under its
//! guards. Whatever the server estimates, it must either read each run by its key or read
//! the batch once (a hash join): never read the batch again for every row of `runs`, which
//! made a batch of 64 checkpoints cost 3-13 ms instead of about 0.5 ms on 1,000 runs (the
//! planner took the run's guards, `owner = $11 AND rare_rows = 0`, without statistics, for a
//! filter that leaves one row of `runs`).
//!
//! The plan is read with `EXPLAIN` of the statement prepared and executed with a batch's
//! values, as the worker's connection would: its first executions get custom plans.

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
fn a_batch_of_checkpoints_never_reads_the_batch_again_for_each_row_of_runs() {
    let store = Store::fresh(Duration::from_secs(60));
    let tokio = postgres_common::tokio_runtime();
    let _entered = tokio.enter();
    let client = store.client(Runtime::builder().register(one_step));
    // No statistics, as in a new schema: autovacuum must not analyze the table meanwhile.
    sql(&store, "ALTER TABLE runs SET (autovacuum_enabled = false)");
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
    }
    assert_eq!(
        sql(
            &store,
            "SELECT count(*) FROM pg_stats
             WHERE schemaname = current_schema() AND tablename = 'runs'"
        ),
        "0",
        "the table was analyzed meanwhile"
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
    let plan = sql(
        store,
        &format!(
            "PREPARE usual AS {};
             EXPLAIN (FORMAT JSON) EXECUTE usual({});",
            cairn::usual_checkpoints_statement(),
            arguments.join(", ")
        ),
    );
    let plan: Value = serde_json::from_str(&plan).expect("a plan in JSON");
    let update = find(&plan, &|node| {
        node["Node Type"] == "ModifyTable" && node["Relation Name"] == "runs"
    })
    .unwrap_or_else(|| panic!("no update of runs in {plan:#}"));
    update["Plans"][0].clone()
}

/// The first node of `plan` (depth first) that `wanted` accepts.
fn find<'a>(plan: &'a Value, wanted: &dyn Fn(&Value) -> bool) -> Option<&'a Value> {
    if wanted(plan) {
        return Some(plan);
    }
    match plan {
        Value::Array(items) => items.iter().find_map(|item| find(item, wanted)),
        Value::Object(fields) => fields.values().find_map(|field| find(field, wanted)),
        _ => None,
    }
}
