//! A PostgreSQL schema of version 7, whose run records carry their input inline (the
//! `inputs` table came with version 8), opened by the current build: the schema is migrated,
//! its runs finish from where they stopped with their own inputs, and each run's input moves
//! to the `inputs` table when its record is first written.
//!
//! The version-7 schema is made as that build left it: its tables from the DDL of the time
//! (`tests/fixtures/postgres_schema7.sql`, taken from git history), filled with the rows of
//! two runs that the current build stored in a schema of its own and stopped (one halted
//! after its first step, one started by a client-only process and never run), each record
//! rewritten with its input inline, as version 7 stored it. The rewrite knows the record's
//! layout (postcard fields in order, in cairn's envelope: a tag, a CRC-32C, the payload); it
//! checks the checksum of every record it reads, so a change of that layout fails here
//! loudly rather than making a record that proves nothing.

mod postgres_common;

use std::sync::Mutex;

use cairn::{Context, Flow, PostgresOptions, Runtime, workflow};
use postgres_common::Store;

/// Every step that ran: (step, its argument).
static STEPS: Mutex<Vec<String>> = Mutex::new(Vec::new());

async fn greet(name: String) -> Result<String, String> {
    STEPS.lock().unwrap().push(format!("greet {name}"));
    Ok(format!("hello {name}"))
}

async fn shout(text: String) -> Result<String, String> {
    STEPS.lock().unwrap().push(format!("shout {text}"));
    Ok(text.to_uppercase())
}

#[workflow]
async fn greeting(ctx: &mut Context, name: String) -> Result<String, String> {
    let text = ctx.task(greet, name).await?;
    let loud = ctx.task(shout, text).await?;
    Ok(loud)
}

/// One worker id for both builds' runtimes: a restart with it takes its runs back at once.
const WORKER: &str = "schema7-worker";

fn options(url: &str, schema: &str) -> PostgresOptions {
    PostgresOptions::new(url).schema(schema).worker_id(WORKER)
}

/// A postcard varint at `at`: its value and the offset after it.
fn varint(bytes: &[u8], mut at: usize) -> (u64, usize) {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = bytes[at];
        at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
    }
    (value, at)
}

fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// The offset after a postcard string or byte string at `at`.
fn skip_bytes(bytes: &[u8], at: usize) -> usize {
    let (len, at) = varint(bytes, at);
    at + len as usize
}

/// The offset of `RunRecord::input` in a record's payload: after `workflow`, `fingerprint`,
/// `status`, `state_name`, `step` and `transitions`.
fn input_at(payload: &[u8]) -> usize {
    let at = skip_bytes(payload, 0);
    let (_, at) = varint(payload, at);
    let (_, at) = varint(payload, at);
    let at = skip_bytes(payload, at);
    let at = match payload[at] {
        0 => at + 1,
        _ => skip_bytes(payload, at + 1),
    };
    varint(payload, at).1
}

/// CRC-32C, continuing from `crc` (as the `crc32c` crate's `crc32c_append`).
fn crc32c(crc: u32, bytes: &[u8]) -> u32 {
    let mut crc = !crc;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The envelope's header: a format tag and the payload's checksum.
const HEADER: usize = 5;

/// The payload of a sealed record, after checking its checksum.
fn opened(sealed: &[u8]) -> &[u8] {
    let (tag, payload) = (sealed[0], &sealed[HEADER..]);
    let stored = u32::from_le_bytes(sealed[1..HEADER].try_into().unwrap());
    assert_eq!(
        stored,
        crc32c(u32::from(tag), payload),
        "a record in the envelope this test knows"
    );
    payload
}

/// The input a sealed record carries inline (empty: in the `inputs` table).
fn inline_input(sealed: &[u8]) -> Vec<u8> {
    let payload = opened(sealed);
    let at = input_at(payload);
    let (len, at) = varint(payload, at);
    payload[at..at + len as usize].to_vec()
}

/// `sealed`, a record with an empty input, with `input` inline instead, sealed again.
fn with_inline_input(sealed: &[u8], input: &[u8]) -> Vec<u8> {
    let tag = sealed[0];
    let payload = opened(sealed);
    let at = input_at(payload);
    assert_eq!(payload[at], 0, "the current build stores an empty input");
    let mut rewritten = payload[..at].to_vec();
    push_varint(&mut rewritten, input.len() as u64);
    rewritten.extend_from_slice(input);
    rewritten.extend_from_slice(&payload[at + 1..]);
    let mut out = vec![tag];
    out.extend_from_slice(&crc32c(u32::from(tag), &rewritten).to_le_bytes());
    out.extend_from_slice(&rewritten);
    out
}

/// Fills schema `old` (version 7, empty) with the rows of schema `current`, whose records
/// get their inputs inline, and no `inputs` table.
async fn copy_as_version_7(db: &tokio_postgres::Client, current: &str, old: &str) {
    let tables = db
        .query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
            &[&old],
        )
        .await
        .unwrap();
    for table in tables {
        let table: String = table.get(0);
        let columns: Vec<String> = db
            .query(
                "SELECT column_name FROM information_schema.columns
                 WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
                &[&old, &table],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        let columns = columns.join(", ");
        db.batch_execute(&format!(
            "INSERT INTO {old}.{table} ({columns}) SELECT {columns} FROM {current}.{table}"
        ))
        .await
        .unwrap();
    }
    db.batch_execute(&format!(
        "UPDATE {old}.meta SET value = 7 WHERE key = 'schema_version'"
    ))
    .await
    .unwrap();
    let rows = db
        .query(
            &format!(
                "SELECT r.id, r.record, i.input FROM {current}.runs r
                 JOIN {current}.inputs i ON i.run = r.id"
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        let (id, record, input): (i64, Vec<u8>, Vec<u8>) = (row.get(0), row.get(1), row.get(2));
        let record = with_inline_input(&record, &input);
        db.execute(
            &format!("UPDATE {old}.runs SET record = $2 WHERE id = $1"),
            &[&id, &record],
        )
        .await
        .unwrap();
    }
}

/// The rows of `schema`'s `inputs` table, in run order.
async fn inputs_of(db: &tokio_postgres::Client, schema: &str) -> Vec<(i64, Vec<u8>)> {
    db.query(
        &format!("SELECT run, input FROM {schema}.inputs ORDER BY run"),
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|row| (row.get(0), row.get(1)))
    .collect()
}

/// The input that run `run`'s record in `schema` carries inline.
async fn stored(db: &tokio_postgres::Client, schema: &str, run: i64) -> Vec<u8> {
    let row = db
        .query_one(
            &format!("SELECT record FROM {schema}.runs WHERE id = $1"),
            &[&run],
        )
        .await
        .unwrap();
    inline_input(&row.get::<_, Vec<u8>>(0))
}

#[test]
fn a_version_7_schema_with_inputs_inline_is_migrated_and_its_runs_finish() {
    let store = Store::fresh(std::time::Duration::from_secs(60));
    let tokio = postgres_common::tokio_runtime();
    tokio.block_on(async {
        // The runs, stored and stopped by the current build.
        let current = &store.schema;
        let runtime = Runtime::builder()
            .postgres(options(&store.url, current))
            .register(greeting)
            .on_transition(|_| Flow::Halt)
            .start()
            .unwrap();
        let client = runtime.client();
        let ada = client.start(greeting, "ada".to_owned()).await.unwrap();
        assert!(client.wait(greeting, ada).await.is_err(), "halted");
        runtime.shutdown().await;
        let bob = Runtime::builder()
            .postgres(options(&store.url, current))
            .register(greeting)
            .client_only()
            .start()
            .unwrap()
            .client()
            .start(greeting, "bob".to_owned())
            .await
            .unwrap();
        assert_eq!(*STEPS.lock().unwrap(), ["greet ada"]);

        // The same runs in a schema of version 7.
        let db = postgres_common::connect(&store).await;
        let old = format!("{current}_v7");
        let ddl = include_str!("fixtures/postgres_schema7.sql");
        db.batch_execute(&format!(
            "CREATE SCHEMA {old}; SET search_path = {old}; {ddl}; RESET search_path"
        ))
        .await
        .unwrap();
        copy_as_version_7(&db, current, &old).await;
        let inputs = inputs_of(&db, current).await;
        for (run, input) in &inputs {
            assert_eq!(
                &stored(&db, &old, *run).await,
                input,
                "run {run} carries its input inline"
            );
        }

        // Opened by the current build.
        let runtime = Runtime::builder()
            .postgres(options(&store.url, &old))
            .register(greeting)
            .start()
            .unwrap();
        let version: i64 = db
            .query_one(
                &format!("SELECT value FROM {old}.meta WHERE key = 'schema_version'"),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert!(version >= 8, "migrated to {version}");
        let client = runtime.client();
        assert_eq!(client.wait(greeting, ada).await.unwrap(), "HELLO ADA");
        assert_eq!(client.wait(greeting, bob).await.unwrap(), "HELLO BOB");
        runtime.shutdown().await;
        let mut steps = STEPS.lock().unwrap().clone();
        steps.sort();
        assert_eq!(
            steps,
            [
                "greet ada",
                "greet bob",
                "shout hello ada",
                "shout hello bob"
            ],
            "each step once"
        );
        // Each input moved to the `inputs` table at the record's first write.
        let moved = inputs_of(&db, &old).await;
        assert_eq!(moved, inputs);
        for (run, _) in &inputs {
            assert!(
                stored(&db, &old, *run).await.is_empty(),
                "run {run}'s record, rewritten"
            );
        }
    });
}
