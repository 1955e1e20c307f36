//! The changes a person makes from the run page, each a POST (the CSRF token is checked
//! before, in `guard.rs`): answer the pending question, cancel, pause, unpause, resume. Each
//! answers with the run's status after the change, or the client's typed error.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use cairn_runtime::{Answer, RunStatus};
use serde::{Deserialize, Serialize};

use crate::api_error::ApiError;
use crate::app_state::AppState;
use crate::run_api::run_id;

/// What a change answers.
#[derive(Serialize)]
pub(crate) struct Changed {
    run: RunStatus,
    /// The answer as committed (for `answer` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    answer: Option<Answer>,
}

/// The body of `POST /api/runs/{id}/answer`: `{"answer": "approved"}`,
/// `{"answer": {"choice": "eu"}}`, `{"answer": {"choices": ["a", "b"]}}`,
/// `{"answer": {"text": "..."}}`, `{"answer": {"custom": "..."}}`, `{"answer": "skipped"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerBody {
    answer: Answer,
}

/// `POST /api/runs/{id}/answer`.
pub(crate) async fn answer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Changed>, ApiError> {
    let run = run_id(&id)?;
    let body: AnswerBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be {{\"answer\": ...}} with an answer such as \"approved\" or \
             {{\"choice\": \"id\"}}: {e}"
        ))
    })?;
    let answer = state.client.answer(run, body.answer).await?;
    Ok(Json(Changed {
        run: state.client.status(run)?,
        answer: Some(answer),
    }))
}

/// One of the four buttons.
#[derive(Clone, Copy)]
pub(crate) enum Control {
    Cancel,
    Pause,
    Unpause,
    Resume,
}

async fn control(state: AppState, id: String, control: Control) -> Result<Json<Changed>, ApiError> {
    let run = run_id(&id)?;
    let client = &state.client;
    match control {
        Control::Cancel => client.cancel(run).await?,
        Control::Pause => client.pause(run).await?,
        Control::Unpause => client.unpause(run).await?,
        Control::Resume => client.resume(run).await?,
    }
    Ok(Json(Changed {
        run: client.status(run)?,
        answer: None,
    }))
}

/// `POST /api/runs/{id}/cancel`.
pub(crate) async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Changed>, ApiError> {
    control(state, id, Control::Cancel).await
}

/// `POST /api/runs/{id}/pause`.
pub(crate) async fn pause(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Changed>, ApiError> {
    control(state, id, Control::Pause).await
}

/// `POST /api/runs/{id}/unpause`.
pub(crate) async fn unpause(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Changed>, ApiError> {
    control(state, id, Control::Unpause).await
}

/// `POST /api/runs/{id}/resume`.
pub(crate) async fn resume(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Changed>, ApiError> {
    control(state, id, Control::Resume).await
}
