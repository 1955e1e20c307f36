//! `wait_for_user` in one process: the question is committed and listed, the waiting run holds
//! no task, every invalid answer is a typed error that changes nothing, a skip and a timeout's
//! default answer reach the workflow. Time is a test clock: nothing here sleeps for real.

use std::time::Duration;

use cairn::{
    Answer, AnswerOption, Client, Clock, Context, Error, InputKind, Question, RunId, Runtime,
    Status, TestClock, workflow,
};

use super::support;
use super::{Backend, BackendUnderTest, fresh_store};
use support::ran;

async fn validate(changes: String) -> Result<String, String> {
    ran("validate");
    Ok(format!("plan for {changes}"))
}

async fn deploy(plan: String) -> Result<String, String> {
    ran("deploy");
    Ok(format!("deployed {plan}"))
}

#[workflow]
async fn approve_deploy(ctx: &mut Context, changes: String) -> Result<String, String> {
    let plan = ctx.task(validate, changes).await?;
    let question = Question::approval(format!("Deploy {plan}?"))
        .timeout(Duration::from_secs(3600), Answer::Rejected);
    let answer = ctx.wait_for_user(question).await?;
    if !answer.is_approved() {
        return Ok(format!("cancelled: {answer}"));
    }
    let done = ctx.task(deploy, plan).await?;
    Ok(done)
}

#[workflow]
async fn pick_regions(ctx: &mut Context, prompt: String) -> Result<String, String> {
    let question = Question::multiple_choice(
        prompt,
        [
            AnswerOption::new("eu", "Europe"),
            AnswerOption::new("us", "United States"),
        ],
    )
    .allow_skip();
    let answer = ctx.wait_for_user(question).await?;
    Ok(match answer {
        Answer::Choices(ids) => ids.join("+"),
        other => other.to_string(),
    })
}

#[workflow]
async fn pick_one(ctx: &mut Context, prompt: String) -> Result<String, String> {
    let question = Question::choice(
        prompt,
        [AnswerOption::new("a", "A"), AnswerOption::new("b", "B")],
    )
    .allow_custom();
    let answer = ctx.wait_for_user(question).await?;
    Ok(answer.to_string())
}

fn start(store: &BackendUnderTest, clock: &TestClock) -> Runtime {
    store
        .runtime()
        .register(approve_deploy)
        .register(pick_regions)
        .register(pick_one)
        .clock(clock.clone())
        .start()
        .unwrap()
}

/// Waits until the run's task is gone (it ends right after committing the question).
async fn until_no_task(runtime: &Runtime) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while runtime.live_runs() > 0 || runtime.waiting_for_answers() == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the waiting run's task ends");
}

async fn waiting(runtime: &Runtime, run: RunId) {
    let status = runtime
        .client()
        .wait_for_status(run, Status::Waiting)
        .await
        .unwrap();
    assert_eq!(status.status, Status::Waiting);
    until_no_task(runtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_question_resumes_the_run_which_held_no_task() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = start(&store, &clock);
    let client = runtime.client();
    let run = client.start(approve_deploy, "v2".to_owned()).await.unwrap();
    waiting(&runtime, run).await;
    assert_eq!(runtime.live_runs(), 0);

    let pending = client.pending_questions().unwrap();
    assert_eq!(pending.len(), 1);
    let asked = &pending[0];
    assert_eq!(asked.run, run);
    assert_eq!(asked.workflow, "approve_deploy");
    assert_eq!(asked.question.prompt(), "Deploy plan for v2?");
    assert_eq!(asked.question.kind(), InputKind::Approval);
    let ids: Vec<&str> = asked
        .question
        .options()
        .iter()
        .map(|o| o.id.as_str())
        .collect();
    assert_eq!(ids, ["approve", "reject"]);
    assert_eq!(asked.asked_at, Clock::now(&clock));
    assert_eq!(
        asked.deadline,
        Some(asked.asked_at + Duration::from_secs(3600))
    );
    assert_eq!(client.question(run).unwrap().as_ref(), Some(asked));

    // An option id is accepted for an approval, and comes back typed.
    let answer = client
        .answer(run, Answer::Choice("approve".to_owned()))
        .await
        .unwrap();
    assert_eq!(answer, Answer::Approved);
    let output = client.wait(approve_deploy, run).await.unwrap();
    assert_eq!(output, "deployed plan for v2");
    assert!(client.pending_questions().unwrap().is_empty());
    let history = client.history(run).unwrap();
    assert!(
        history
            .iter()
            .any(|h| h.step.as_deref() == Some("wait_for_user"))
    );
    runtime.shutdown().await;
    let steps = support::take_step_counts();
    assert_eq!(steps.get("validate"), Some(&1), "{steps:?}");
    assert_eq!(steps.get("deploy"), Some(&1), "{steps:?}");
}

/// Asserts that `result` is the error `expected` describes and that the run still waits on an
/// unanswered question.
fn refused(client: &Client, run: RunId, result: Result<Answer, Error>, expected: &str) {
    let error = result.expect_err("the answer is refused");
    let name = format!("{error:?}");
    assert!(name.starts_with(expected), "{expected}: got {error:?}");
    assert_eq!(client.status(run).unwrap().status, Status::Waiting);
    assert!(client.question(run).unwrap().is_some(), "still unanswered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_answers_are_typed_errors_that_change_nothing() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = start(&store, &clock);
    let client = runtime.client();
    let approval = client.start(approve_deploy, "v3".to_owned()).await.unwrap();
    waiting(&runtime, approval).await;
    let choice = client.start(pick_one, "which?".to_owned()).await.unwrap();
    waiting(&runtime, choice).await;

    // A text for an approval, an option that is not offered, a skip or a custom answer where
    // neither is allowed.
    for wrong in [
        Answer::Text("yes please".to_owned()),
        Answer::Choice("maybe".to_owned()),
        Answer::Skipped,
        Answer::Custom("later".to_owned()),
        Answer::Choices(vec!["approve".to_owned()]),
    ] {
        let result = client.answer(approval, wrong).await;
        refused(&client, approval, result, "InvalidAnswer");
    }
    let result = client.answer(choice, Answer::Choice("c".to_owned())).await;
    refused(&client, choice, result, "InvalidAnswer");
    let result = client.answer(choice, Answer::Approved).await;
    refused(&client, choice, result, "InvalidAnswer");

    // A run that does not exist, and one that is not waiting (it has finished).
    assert!(matches!(
        client.answer(RunId(999), Answer::Approved).await,
        Err(Error::UnknownRun { run: RunId(999) })
    ));
    client
        .answer(choice, Answer::Custom("c".to_owned()))
        .await
        .unwrap();
    assert_eq!(client.wait(pick_one, choice).await.unwrap(), "custom \"c\"");
    assert!(matches!(
        client.answer(choice, Answer::Choice("a".to_owned())).await,
        Err(Error::NotWaiting {
            status: Status::Completed,
            ..
        })
    ));
    runtime.shutdown().await;

    // A second answer to the same question: in a process that runs nothing, so that the run
    // cannot move on between the two answers.
    let answers = store.client().unwrap();
    assert_eq!(
        answers.answer(approval, Answer::Rejected).await.unwrap(),
        Answer::Rejected
    );
    assert!(matches!(
        answers.answer(approval, Answer::Approved).await,
        Err(Error::AlreadyAnswered { run }) if run == approval
    ));
    assert!(answers.pending_questions().unwrap().is_empty());
    drop(answers);

    // The first answer is the one the run gets.
    let runtime = start(&store, &clock);
    let output = runtime
        .client()
        .wait(approve_deploy, approval)
        .await
        .unwrap();
    assert_eq!(output, "cancelled: rejected");
    runtime.shutdown().await;
    let steps = support::take_step_counts();
    assert_eq!(steps.get("validate"), Some(&1), "{steps:?}");
    assert_eq!(steps.get("deploy"), None, "{steps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skipped_question_returns_skipped_and_choices_come_back_typed() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = start(&store, &clock);
    let client = runtime.client();
    let skipped = client
        .start(pick_regions, "where?".to_owned())
        .await
        .unwrap();
    waiting(&runtime, skipped).await;
    let chosen = client
        .start(pick_regions, "where?".to_owned())
        .await
        .unwrap();
    let status = client
        .wait_for_status(chosen, Status::Waiting)
        .await
        .unwrap();
    assert_eq!(status.status, Status::Waiting);
    assert_eq!(client.pending_questions().unwrap().len(), 2);

    client.answer(skipped, Answer::Skipped).await.unwrap();
    assert_eq!(client.wait(pick_regions, skipped).await.unwrap(), "skipped");
    let ids = vec!["us".to_owned(), "eu".to_owned()];
    client.answer(chosen, Answer::Choices(ids)).await.unwrap();
    assert_eq!(client.wait(pick_regions, chosen).await.unwrap(), "us+eu");
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_answer_is_taken_at_the_deadline_across_a_restart() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let clock = TestClock::default();
    let runtime = start(&store, &clock);
    let run = runtime
        .client()
        .start(approve_deploy, "v4".to_owned())
        .await
        .unwrap();
    waiting(&runtime, run).await;
    runtime.shutdown().await;

    // The deadline was committed with the question: a restart does not push it back.
    clock.advance(Duration::from_secs(3000));
    let runtime = start(&store, &clock);
    let client = runtime.client();
    waiting(&runtime, run).await;
    clock.wait_for_sleepers(1).await;
    clock.advance(Duration::from_secs(599));
    clock.wait_for_sleepers(1).await;
    assert_eq!(client.status(run).unwrap().status, Status::Waiting);
    assert_eq!(client.pending_questions().unwrap().len(), 1);
    clock.advance(Duration::from_secs(1));
    let output = client.wait(approve_deploy, run).await.unwrap();
    assert_eq!(output, "cancelled: rejected");
    // Too late to answer now.
    assert!(matches!(
        client.answer(run, Answer::Approved).await,
        Err(Error::NotWaiting { .. })
    ));
    runtime.shutdown().await;
    let steps = support::take_step_counts();
    assert_eq!(steps.get("validate"), Some(&1), "{steps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_that_makes_no_sense_fails_the_run() {
    #[workflow]
    async fn no_options(ctx: &mut Context, prompt: String) -> Result<String, String> {
        let answer = ctx
            .wait_for_user(Question::choice(prompt, Vec::<AnswerOption>::new()))
            .await?;
        Ok(answer.to_string())
    }
    let store = fresh_store();
    let runtime = store.runtime().register(no_options).start().unwrap();
    let result = runtime.client().run(no_options, "which?".to_owned()).await;
    match result {
        Err(Error::RunFailed { message, .. }) => {
            assert!(message.contains("needs options"), "{message}");
        }
        other => panic!("expected a failed run, got {other:?}"),
    }
    runtime.shutdown().await;
}
