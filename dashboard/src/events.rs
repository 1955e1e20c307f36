//! Live updates as server-sent events, so the pages change without a reload.
//!
//! - `GET /api/runs/{id}/events`: one `update` event per change of the run (from
//!   [`Client::watch`](cairn_runtime::Client::watch): at once in the process that runs it,
//!   within 100 ms from another), its progress without the history (the page reads that
//!   again); the stream ends after the final update.
//! - `GET /api/events?runs=1,2,3`: the runs table's stream. Every [`TABLE_POLL`] it reads the
//!   counts by status (kept counters) and the status of the runs the page shows (at most
//!   [`MAX_WATCHED`]), and sends a `counts` event when the counts changed and a `run` event
//!   per shown run that changed. New runs change the counts, so the page knows to reload
//!   its first page.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use cairn_runtime::{RunId, RunStatus, RunUpdate, RunWatch};
use futures_util::Stream;
use futures_util::stream;
use serde::Serialize;

use crate::api_error::ApiError;
use crate::app_state::AppState;
use crate::run_api::run_id;
use crate::runs_api::{Counts, counts_of};

/// How often the runs table's stream reads the store.
pub(crate) const TABLE_POLL: Duration = Duration::from_millis(250);

/// The most runs one table stream follows.
pub(crate) const MAX_WATCHED: usize = 500;

/// A run's progress, as an `update` event carries it.
#[derive(Serialize)]
struct Progress<'a> {
    run: RunId,
    status: String,
    state: &'a str,
    step: Option<&'a str>,
    transitions: u64,
    error: Option<&'a str>,
    /// History records committed since the previous event.
    new_records: usize,
    last: bool,
}

fn update_event(update: &RunUpdate) -> Event {
    let progress = Progress {
        run: update.run,
        status: update.status.to_string(),
        state: &update.state,
        step: update.step.as_deref(),
        transitions: update.transitions,
        error: update.error.as_deref(),
        new_records: update.history.len(),
        last: update.is_final(),
    };
    Event::default()
        .event("update")
        .json_data(progress)
        .unwrap_or_else(|_| Event::default().event("update"))
}

/// `GET /api/runs/{id}/events`.
pub(crate) async fn run_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let run = run_id(&id)?;
    let watch: RunWatch = state.client.watch(run)?;
    let events = stream::unfold(Some(watch), |watch| async move {
        let mut watch = watch?;
        match watch.next().await? {
            Ok(update) => {
                let event = update_event(&update);
                let next = (!update.is_final()).then_some(watch);
                Some((Ok(event), next))
            }
            Err(error) => {
                let event = Event::default()
                    .event("failure")
                    .data(ApiError::from(error).message);
                Some((Ok(event), None))
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// What the table stream has sent so far.
struct TableWatch {
    state: AppState,
    runs: Vec<RunId>,
    counts: Option<Counts>,
    statuses: HashMap<RunId, RunStatus>,
    /// Events read but not sent yet.
    queue: Vec<Event>,
    first: bool,
}

impl TableWatch {
    /// Reads the store and queues an event per change.
    fn read(&mut self) {
        match counts_of(&self.state) {
            Ok(counts) => {
                if self.counts.as_ref() != Some(&counts) {
                    if let Ok(event) = Event::default().event("counts").json_data(&counts) {
                        self.queue.push(event);
                    }
                    self.counts = Some(counts);
                }
            }
            Err(error) => self
                .queue
                .push(Event::default().event("failure").data(error.message)),
        }
        for &run in &self.runs {
            // A run purged meanwhile is simply no longer followed.
            let Ok(status) = self.state.client.status(run) else {
                continue;
            };
            if self.statuses.get(&run) != Some(&status) {
                if let Ok(event) = Event::default().event("run").json_data(&status) {
                    self.queue.push(event);
                }
                self.statuses.insert(run, status);
            }
        }
    }
}

/// `GET /api/events?runs=1,2,3`.
pub(crate) async fn table_events(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let runs = match query.get("runs").filter(|t| !t.is_empty()) {
        Some(text) => text
            .split(',')
            .map(run_id)
            .collect::<Result<Vec<RunId>, ApiError>>()?,
        None => Vec::new(),
    };
    if runs.len() > MAX_WATCHED {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_WATCHED} runs can be followed by one stream"
        )));
    }
    let watch = TableWatch {
        state,
        runs,
        counts: None,
        statuses: HashMap::new(),
        queue: Vec::new(),
        first: true,
    };
    let events = stream::unfold(watch, |mut watch| async move {
        loop {
            if let Some(event) = watch.queue.pop() {
                return Some((Ok(event), watch));
            }
            if !watch.first {
                tokio::time::sleep(TABLE_POLL).await;
            }
            watch.first = false;
            watch.read();
            // Sent oldest first.
            watch.queue.reverse();
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
