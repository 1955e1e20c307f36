//! Options given in the connection URL reach the server: cairn adds the `search_path` of its
//! schema to them instead of replacing them (it used to replace them, silently dropping a
//! user's `statement_timeout` or the like).
//!
//! Shown with an option whose effect cannot be missed: a URL asking for read-only
//! transactions makes the runtime's start fail on the schema's first write, with the
//! server's own error. With the option dropped, the start succeeded.

mod postgres_common;

use std::time::Duration;

use cairn::{Context, PostgresOptions, Runtime, workflow};
use postgres_common::Store;

#[workflow]
async fn nothing(_ctx: &mut Context, n: u64) -> Result<u64, String> {
    Ok(n)
}

#[test]
fn options_in_the_url_are_kept_beside_the_schema() {
    let store = Store::fresh(Duration::from_secs(60));
    let tokio = postgres_common::tokio_runtime();
    let _inside = tokio.enter();
    let url = format!(
        "{} options='-c default_transaction_read_only=on'",
        store.url
    );
    let started = Runtime::builder()
        .postgres(PostgresOptions::new(url).schema(store.schema.clone()))
        .register(nothing)
        .start();
    let error = match started {
        Ok(_) => panic!("a read-only URL started a runtime: its options were dropped"),
        Err(error) => error.to_string(),
    };
    assert!(
        error.contains("read-only transaction"),
        "expected the server's read-only error, got: {error}"
    );

    // The same store without the option starts, so the failure above is the option's.
    let runtime = Runtime::builder()
        .postgres(store.options())
        .register(nothing)
        .start()
        .expect("the same store without the option");
    tokio.block_on(runtime.shutdown());
}
