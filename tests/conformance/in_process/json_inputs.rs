//! JSON inputs as users write them: an object keyed by the workflow's parameter names
//! (`{"topic": "quantum computing"}`), besides the input type's own JSON (the value of a
//! single parameter, an array of several); and a typed error naming the keys of a bad object.

use cairn::{Context, Error, Workflow, workflow};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Backend, fresh_store};

async fn echo(text: String) -> Result<String, String> {
    Ok(text)
}

#[workflow]
async fn research_pipeline(ctx: &mut Context, topic: String) -> Result<String, String> {
    let text = ctx.task(echo, topic).await?;
    Ok(text)
}

#[workflow]
async fn deep_research(ctx: &mut Context, topic: String, depth: u32) -> Result<String, String> {
    let text = ctx.task(echo, format!("{topic} x{depth}")).await?;
    Ok(text)
}

/// A single parameter whose type is an object with a field named like the parameter: the
/// case where an object could be either form.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Topic {
    topic: String,
}

#[workflow]
async fn topical(ctx: &mut Context, topic: Topic) -> Result<String, String> {
    let text = ctx.task(echo, topic.topic).await?;
    Ok(text)
}

#[workflow]
async fn no_input(ctx: &mut Context) -> Result<String, String> {
    let text = ctx.task(echo, "none".to_owned()).await?;
    Ok(text)
}

#[test]
fn the_macro_names_the_parameters() {
    assert_eq!(research_pipeline::PARAMETERS, ["topic"]);
    assert_eq!(deep_research::PARAMETERS, ["topic", "depth"]);
    assert!(no_input::PARAMETERS.is_empty());
}

#[tokio::test]
async fn inputs_keyed_by_parameter_name_and_positional_ones_both_work() {
    let store = fresh_store();
    let runtime = store
        .runtime()
        .register(research_pipeline)
        .register(deep_research)
        .register(topical)
        .register(no_input)
        .start()
        .unwrap();
    let client = runtime.client();
    let run = |name: &'static str, input: serde_json::Value| {
        let client = client.clone();
        async move { client.run_json(name, input).await.unwrap() }
    };
    // One parameter: keyed, or its value.
    let keyed = json!({ "topic": "quantum computing" });
    assert_eq!(
        run("research_pipeline", keyed).await,
        json!("quantum computing")
    );
    assert_eq!(run("research_pipeline", json!("qc")).await, json!("qc"));
    // Several: keyed in any order, or an array in parameter order.
    let keyed = json!({ "depth": 2, "topic": "qc" });
    assert_eq!(run("deep_research", keyed).await, json!("qc x2"));
    assert_eq!(run("deep_research", json!(["qc", 3])).await, json!("qc x3"));
    // A struct parameter with a field named like it: the keyed form is read first, and the
    // object itself when its only key's value is not a `Topic`.
    let keyed = json!({ "topic": { "topic": "keyed" } });
    assert_eq!(run("topical", keyed).await, json!("keyed"));
    assert_eq!(
        run("topical", json!({ "topic": "as is" })).await,
        json!("as is")
    );
    // No parameter: an empty object, or null.
    assert_eq!(run("no_input", json!({})).await, json!("none"));
    assert_eq!(run("no_input", json!(null)).await, json!("none"));
    runtime.shutdown().await;
}

#[tokio::test]
async fn a_bad_object_is_a_typed_error_naming_the_keys() {
    let store = fresh_store();
    let runtime = store
        .runtime()
        .register(research_pipeline)
        .register(deep_research)
        .register(no_input)
        .start()
        .unwrap();
    let client = runtime.client();

    let error = client
        .start_json("deep_research", json!({ "topic": "qc", "dept": 2 }))
        .await
        .unwrap_err();
    match &error {
        Error::InputKeys {
            workflow,
            parameters,
            missing,
            unknown,
            ..
        } => {
            assert_eq!(workflow, "deep_research");
            assert_eq!(parameters, &["topic", "depth"]);
            assert_eq!(missing, &["depth"]);
            assert_eq!(unknown, &["dept"]);
        }
        other => panic!("expected InputKeys, got {other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.contains("`depth`") && message.contains("`dept`"),
        "{message}"
    );

    // One parameter: an object that is neither keyed by it nor its value.
    match client
        .start_json("research_pipeline", json!({ "title": "qc" }))
        .await
    {
        Err(Error::InputKeys {
            missing, unknown, ..
        }) => {
            assert_eq!(missing, ["topic"]);
            assert_eq!(unknown, ["title"]);
        }
        other => panic!("expected InputKeys, got {other:?}"),
    }
    match client
        .start_json("no_input", json!({ "topic": "qc" }))
        .await
    {
        Err(Error::InputKeys {
            missing, unknown, ..
        }) => {
            assert!(missing.is_empty());
            assert_eq!(unknown, ["topic"]);
        }
        other => panic!("expected InputKeys, got {other:?}"),
    }
    // A keyed value of the wrong type names the parameter.
    match client
        .start_json("research_pipeline", json!({ "topic": 7 }))
        .await
    {
        Err(Error::MalformedInput { reason, .. }) => {
            assert!(reason.contains("`topic`"), "{reason}");
        }
        other => panic!("expected MalformedInput, got {other:?}"),
    }
    // None of these created a run.
    assert!(client.list(None).unwrap().is_empty());
    runtime.shutdown().await;
}
