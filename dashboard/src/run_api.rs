//! One run's endpoints: `GET /api/runs/{id}` (everything the run page shows, its first page
//! of timeline included, so the page opens with one request), `GET /api/runs/{id}/timeline`
//! (another page of it) and `GET /api/runs/{id}/history` (raw history records, a page at a
//! time, to open a folded loop).
//!
//! The history is read on a blocking thread: a run with 100,000 transitions takes tens of
//! milliseconds to read, which must not hold up the other requests of the same worker.

use std::collections::HashMap;
use std::time::UNIX_EPOCH;

use axum::Json;
use axum::extract::{Path, Query, State};
use cairn_runtime::{
    Answer, AnswerOption, Client, HistoryRecord, InputKind, PendingQuestion, RunId, RunStatus,
    Status, WorkflowGraph,
};
use serde::Serialize;

use crate::api_error::ApiError;
use crate::app_state::AppState;
use crate::timeline::Timeline;

/// Timeline items per page when the query names no limit.
const TIMELINE_PAGE: usize = 200;

/// The most items or records one page returns.
const MAX_PAGE: usize = 2_000;

/// Everything the run page shows.
#[derive(Serialize)]
pub(crate) struct RunView {
    run: RunStatus,
    /// The question it waits on, if any.
    question: Option<QuestionView>,
    /// Its key-value state as JSON.
    state: serde_json::Value,
    /// The output of a completed run, when it can be read without the workflow's code.
    output: Option<serde_json::Value>,
    /// The graph of the workflow version that stored it, if a runtime registered it.
    graph: Option<WorkflowGraph>,
    /// The first page of its timeline.
    timeline: Timeline,
}

/// A pending question, as the page draws it.
#[derive(Serialize)]
pub(crate) struct QuestionView {
    text: String,
    kind: InputKind,
    options: Vec<AnswerOption>,
    allow_custom: bool,
    allow_skip: bool,
    asked_at_ms: u64,
    deadline_ms: Option<u64>,
    default: Option<Answer>,
}

impl QuestionView {
    fn new(pending: PendingQuestion) -> QuestionView {
        let q = &pending.question;
        let ms = |t: std::time::SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        };
        QuestionView {
            text: q.prompt().to_owned(),
            kind: q.kind(),
            options: q.options().to_vec(),
            allow_custom: q.allows_custom(),
            allow_skip: q.allows_skip(),
            asked_at_ms: ms(pending.asked_at),
            deadline_ms: pending.deadline.map(ms),
            default: q.timeout_and_default().map(|(_, answer)| answer.clone()),
        }
    }
}

/// Reads a run id from the path: 400 unless it is a whole number.
pub(crate) fn run_id(text: &str) -> Result<RunId, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request("a run id is a whole number, such as 42"))
}

/// `offset` and `limit` from a query, `limit` defaulting to `default`.
fn page_of(query: &HashMap<String, String>, default: usize) -> Result<(usize, usize), ApiError> {
    let number = |name: &str, fallback: usize, range: std::ops::RangeInclusive<usize>| match query
        .get(name)
    {
        None => Ok(fallback),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "{name} must be a number from {} to {}",
                    range.start(),
                    range.end()
                ))
            }),
    };
    Ok((
        number("offset", 0, 0..=usize::MAX)?,
        number("limit", default, 1..=MAX_PAGE)?,
    ))
}

/// Reads the history of `run` on a blocking thread.
async fn history(client: &Client, run: RunId) -> Result<Vec<HistoryRecord>, ApiError> {
    let client = client.clone();
    tokio::task::spawn_blocking(move || client.history(run))
        .await
        .map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("reading the history failed: {e}"),
            )
        })?
        .map_err(ApiError::from)
}

/// `GET /api/runs/{id}`.
pub(crate) async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RunView>, ApiError> {
    let run = run_id(&id)?;
    let client = &state.client;
    let status = client.status(run)?;
    let records = history(client, run).await?;
    let timeline = Timeline::build(&records, 0, TIMELINE_PAGE);
    let question = client.question(run)?.map(QuestionView::new);
    let output = if status.status == Status::Completed {
        // Outputs not stored as JSON need the workflow's code, which a client-only process
        // does not have: the page then shows none.
        client.result_json(run).ok()
    } else {
        None
    };
    Ok(Json(RunView {
        state: client.state(run)?.to_json(),
        graph: client.run_graph(run)?,
        run: status,
        question,
        output,
        timeline,
    }))
}

/// `GET /api/runs/{id}/timeline?offset=&limit=`.
pub(crate) async fn timeline(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Timeline>, ApiError> {
    let run = run_id(&id)?;
    let (offset, limit) = page_of(&query, TIMELINE_PAGE)?;
    let records = history(&state.client, run).await?;
    Ok(Json(Timeline::build(&records, offset, limit)))
}

/// A page of raw history records.
#[derive(Serialize)]
pub(crate) struct HistoryPage {
    /// How many records the run has.
    total: usize,
    offset: usize,
    records: Vec<HistoryRecord>,
}

/// `GET /api/runs/{id}/history?offset=&limit=`.
pub(crate) async fn history_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<HistoryPage>, ApiError> {
    let run = run_id(&id)?;
    let (offset, limit) = page_of(&query, TIMELINE_PAGE)?;
    let records = history(&state.client, run).await?;
    let total = records.len();
    let offset = offset.min(total);
    Ok(Json(HistoryPage {
        total,
        offset,
        records: records.into_iter().skip(offset).take(limit).collect(),
    }))
}
