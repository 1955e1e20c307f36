//! `cairn send RUN NAME JSON`: the event is committed into the run while no program runs it;
//! the next runtime on the directory delivers it and the run finishes. Bad JSON and a finished
//! run are one-line errors.

use cairn::{Context, Runtime, Status, workflow};

use crate::fixture::{block_on, cairn};

#[workflow]
async fn wait_for_payment(ctx: &mut Context, order: String) -> Result<String, String> {
    let cents = ctx.wait_for_event::<u64>("paid").await?;
    Ok(format!("{order} paid {cents}"))
}

fn runtime(path: &std::path::Path) -> Runtime {
    Runtime::builder()
        .path(path)
        .register(wait_for_payment)
        .start()
        .unwrap()
}

#[test]
fn an_event_sent_from_the_cli_is_delivered_by_the_next_runtime() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("cairn-data");
    let dir = path.to_str().unwrap();
    let run = block_on(async {
        let runtime = runtime(&path);
        let client = runtime.client();
        let run = client
            .start(wait_for_payment, "o-1".to_owned())
            .await
            .unwrap();
        client.wait_for_status(run, Status::Waiting).await.unwrap();
        runtime.shutdown().await;
        run
    });
    let id = run.to_string();

    let refused = cairn(&["--dir", dir, "send", &id, "paid", "{not json"]).error(1);
    assert!(
        refused.starts_with("error: the payload is not JSON"),
        "{refused}"
    );
    let said = cairn(&["--dir", dir, "send", &id, "paid", "1200"]).ok();
    assert_eq!(said, format!("event `paid` sent to run {id}\n"));

    let output = block_on(async {
        let runtime = runtime(&path);
        let output = runtime.client().wait(wait_for_payment, run).await;
        runtime.shutdown().await;
        output
    });
    assert_eq!(output.unwrap(), "o-1 paid 1200");
    let finished = cairn(&["--dir", dir, "send", &id, "paid", "1", "--json"]).error(1);
    assert_eq!(
        finished,
        format!("error: run {id} has finished (status: completed): it takes no more events")
    );
}
