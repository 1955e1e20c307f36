//! Chat sessions: the durable state of a session's run carries over to the next, across
//! restarts, and a session runs one turn at a time.

use std::time::Duration;

use cairn::{Answer, Context, Error, Question, Runtime, Status, workflow};

use super::support;
use super::{Backend, BackendUnderTest, fresh_store};
use support::ran;

async fn respond(messages: Vec<String>) -> Result<String, String> {
    ran("respond");
    Ok(format!("reply #{}", messages.len() / 2 + 1))
}

/// One turn of a conversation: the messages so far come from the session's state.
#[workflow]
async fn chat(ctx: &mut Context, message: String) -> Result<Vec<String>, String> {
    let mut messages: Vec<String> = ctx.state().get("messages")?.unwrap_or_default();
    messages.push(format!("user: {message}"));
    let reply = ctx.task(respond, messages.clone()).await?;
    messages.push(format!("bot: {reply}"));
    ctx.state().set("messages", &messages)?;
    Ok(messages)
}

/// A turn that asks the person something before it ends.
#[workflow]
async fn chat_ask(ctx: &mut Context, message: String) -> Result<Vec<String>, String> {
    let mut messages: Vec<String> = ctx.state().get("messages")?.unwrap_or_default();
    messages.push(format!("user: {message}"));
    let answer = ctx.wait_for_user(Question::text("Anything else?")).await?;
    messages.push(format!("user: {}", answer.text().unwrap_or("")));
    ctx.state().set("messages", &messages)?;
    Ok(messages)
}

fn start(store: &BackendUnderTest) -> Runtime {
    store
        .runtime()
        .register(chat)
        .register(chat_ask)
        .start()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_keeps_its_messages_across_three_runs_and_a_restart() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let runtime = start(&store);
    let client = runtime.client();
    let first = client
        .start_in_session("alice", chat, "hello".to_owned())
        .await
        .unwrap();
    assert_eq!(client.wait(chat, first).await.unwrap().len(), 2);
    // Another session does not see Alice's messages.
    let other = client
        .start_in_session("bob", chat, "hi".to_owned())
        .await
        .unwrap();
    assert_eq!(client.wait(chat, other).await.unwrap().len(), 2);
    runtime.shutdown().await;

    let runtime = start(&store);
    let client = runtime.client();
    let second = client
        .start_in_session("alice", chat_ask, "deploy it".to_owned())
        .await
        .unwrap();
    client
        .wait_for_status(second, Status::Waiting)
        .await
        .unwrap();
    // One turn at a time: the next waits for this one to finish.
    assert!(matches!(
        client.start_in_session("alice", chat, "hurry".to_owned()).await,
        Err(Error::SessionBusy { run, .. }) if run == second
    ));
    client
        .answer(second, Answer::Text("no".to_owned()))
        .await
        .unwrap();
    assert_eq!(client.wait(chat_ask, second).await.unwrap().len(), 4);

    let third = client
        .start_in_session("alice", chat, "thanks".to_owned())
        .await
        .unwrap();
    let messages = tokio::time::timeout(Duration::from_secs(10), client.wait(chat, third))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        messages,
        [
            "user: hello",
            "bot: reply #1",
            "user: deploy it",
            "user: no",
            "user: thanks",
            "bot: reply #3",
        ]
    );
    assert_eq!(
        client.session_runs("alice").unwrap(),
        [first, second, third]
    );
    let state: Vec<String> = client
        .session_state("alice")
        .unwrap()
        .get("messages")
        .unwrap()
        .unwrap();
    assert_eq!(state, messages);
    // Each run keeps its own state: the first turn's is as it left it.
    let first_state: Vec<String> = client
        .state(first)
        .unwrap()
        .get("messages")
        .unwrap()
        .unwrap();
    assert_eq!(first_state.len(), 2);
    assert!(client.session_runs("nobody").unwrap().is_empty());
    runtime.shutdown().await;
    let steps = support::take_step_counts();
    assert_eq!(steps.get("respond"), Some(&3), "{steps:?}");
}
