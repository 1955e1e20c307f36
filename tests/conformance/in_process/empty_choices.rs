//! A multiple-choice answer that chooses nothing is refused: as a question's default answer at
//! `wait_for_user` (`Error::InvalidArgument`, before anything is committed) and as a person's
//! answer at `Client::answer` (`Error::InvalidAnswer`, the question stays open). A question
//! that allows skipping takes `Answer::Skipped` for "none of these".

use cairn::{Answer, AnswerOption, Context, Error, Question, Status, workflow};
use std::time::Duration;

use super::{Backend, fresh_store};

fn options() -> [AnswerOption; 2] {
    [AnswerOption::new("a", "A"), AnswerOption::new("b", "B")]
}

#[workflow]
async fn pick(ctx: &mut Context, empty_default: bool) -> Result<String, String> {
    let mut question = Question::multiple_choice("which?", options()).allow_skip();
    if empty_default {
        question = question.timeout(Duration::from_secs(60), Answer::Choices(Vec::new()));
    }
    let answer = ctx.wait_for_user(question).await?;
    Ok(answer.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn choosing_nothing_is_refused_as_a_default_and_as_an_answer() {
    let store = fresh_store();
    let runtime = store.runtime().register(pick).start().unwrap();
    let client = runtime.client();

    let refused = client.run(pick, true).await;
    assert!(
        matches!(&refused, Err(Error::RunFailed { message, .. })
            if message.contains("invalid argument to `Context::wait_for_user`: the default answer does not fit")
                && message.contains("at least one")),
        "{refused:?}"
    );

    let run = client.start(pick, false).await.unwrap();
    client.wait_for_status(run, Status::Waiting).await.unwrap();
    let empty = client.answer(run, Answer::Choices(Vec::new())).await;
    assert!(
        matches!(&empty, Err(Error::InvalidAnswer { reason, .. }) if reason.contains("at least one")),
        "{empty:?}"
    );
    assert!(
        client.question(run).unwrap().is_some(),
        "the question stays open"
    );
    client.answer(run, Answer::Skipped).await.unwrap();
    assert_eq!(
        client.wait(pick, run).await.unwrap(),
        Answer::Skipped.to_string()
    );
    runtime.shutdown().await;
}
