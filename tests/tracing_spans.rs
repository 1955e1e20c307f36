//! Every run and every step is a `tracing` span, as a user's subscriber (or an OpenTelemetry
//! layer) sees them: a `run` span with the run's id and workflow, entered while its task is
//! polled, and inside it one `step` span per step, with the step's name, its attempts, and on
//! close its duration and outcome. A small `tracing_subscriber::Layer` collects the spans.
//!
//! Outside the conformance suite: nothing here is about storage, and the subscriber is this
//! test's own (a thread-local default on a current-thread tokio runtime, so that run tasks,
//! polled on that thread, report to it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn::{Context, RetryPolicy, Runtime, workflow};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// One span, as the layer saw it by the time it closed.
#[derive(Clone, Debug, Default)]
struct SeenSpan {
    name: String,
    fields: HashMap<String, String>,
    /// The name and fields of its parent span.
    parent: Option<(String, HashMap<String, String>)>,
    closed: bool,
}

/// Collects the spans of cairn (target `cairn_runtime`), keyed by the order they opened.
#[derive(Clone, Default)]
struct Collect {
    spans: Arc<Mutex<Vec<SeenSpan>>>,
    /// Span id -> index in `spans`.
    index: Arc<Mutex<HashMap<u64, usize>>>,
}

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Collect {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        if !attrs.metadata().target().starts_with("cairn") {
            return;
        }
        let mut fields = HashMap::new();
        attrs.record(&mut Fields(&mut fields));
        let parent = ctx
            .span(id)
            .and_then(|span| span.parent())
            .and_then(|parent| {
                let index = *self.index.lock().unwrap().get(&parent.id().into_u64())?;
                let seen = &self.spans.lock().unwrap()[index];
                Some((seen.name.clone(), seen.fields.clone()))
            });
        let mut spans = self.spans.lock().unwrap();
        self.index
            .lock()
            .unwrap()
            .insert(id.into_u64(), spans.len());
        spans.push(SeenSpan {
            name: attrs.metadata().name().to_owned(),
            fields,
            parent,
            closed: false,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: LayerContext<'_, S>) {
        if let Some(&index) = self.index.lock().unwrap().get(&id.into_u64()) {
            values.record(&mut Fields(&mut self.spans.lock().unwrap()[index].fields));
        }
    }

    fn on_close(&self, id: Id, _: LayerContext<'_, S>) {
        if let Some(index) = self.index.lock().unwrap().remove(&id.into_u64()) {
            self.spans.lock().unwrap()[index].closed = true;
        }
    }
}

async fn fetch(n: u32) -> Result<u32, String> {
    Ok(n + 1)
}

static FLAKY_CALLS: Mutex<u32> = Mutex::new(0);

/// Fails its first attempt.
async fn flaky(n: u32) -> Result<u32, String> {
    let mut calls = FLAKY_CALLS.lock().unwrap();
    *calls += 1;
    if *calls == 1 {
        return Err("not yet".to_owned());
    }
    Ok(n * 2)
}

#[workflow]
async fn traced(ctx: &mut Context, n: u32) -> Result<u32, String> {
    let a = ctx.task(fetch, n).await?;
    let b = ctx
        .task(flaky, a)
        .retry(RetryPolicy::fixed(3, Duration::from_millis(1)))
        .await?;
    Ok(b)
}

#[tokio::test(flavor = "current_thread")]
async fn a_run_and_its_steps_are_spans_with_their_fields() {
    let collect = Collect::default();
    let subscriber = tracing_subscriber::registry().with(collect.clone());
    let _default = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::builder()
        .path(dir.path())
        .register(traced)
        .start()
        .unwrap();
    let client = runtime.client();
    let run = client.start(traced, 4).await.unwrap();
    assert_eq!(client.wait(traced, run).await.unwrap(), 10);
    runtime.shutdown().await;

    let spans = collect.spans.lock().unwrap().clone();
    let runs: Vec<&SeenSpan> = spans.iter().filter(|s| s.name == "run").collect();
    assert_eq!(runs.len(), 1, "{spans:#?}");
    let run_span = runs[0];
    assert_eq!(run_span.fields["run"], run.0.to_string());
    assert_eq!(run_span.fields["workflow"], "traced");
    assert_eq!(run_span.fields["position"], "0");
    assert_eq!(run_span.fields["outcome"], "completed");
    assert_eq!(run_span.fields["transitions"], "2");
    assert!(run_span.closed, "the run span closes with its task");

    let steps: Vec<&SeenSpan> = spans.iter().filter(|s| s.name == "step").collect();
    let names: Vec<&str> = steps.iter().map(|s| s.fields["step"].as_str()).collect();
    assert_eq!(names, ["fetch", "flaky"], "{steps:#?}");
    for (position, step) in steps.iter().enumerate() {
        assert!(step.closed, "{step:?}");
        assert_eq!(step.fields["outcome"], "committed", "{step:?}");
        assert_eq!(step.fields["position"], position.to_string());
        assert_eq!(step.fields["run"], run.0.to_string());
        assert_eq!(step.fields["workflow"], "traced");
        let duration: f64 = step.fields["duration_ms"].parse().unwrap();
        assert!(duration >= 0.0, "{step:?}");
        let (parent, parent_fields) = step.parent.as_ref().expect("a step's parent is its run");
        assert_eq!(parent, "run");
        assert_eq!(parent_fields["run"], run.0.to_string());
    }
    assert_eq!(steps[0].fields["attempt"], "1");
    assert!(!steps[0].fields.contains_key("error"));
    // Retried once: two attempts, the first one's error recorded.
    assert_eq!(steps[1].fields["attempt"], "2");
    assert_eq!(steps[1].fields["error"], "not yet");
}
