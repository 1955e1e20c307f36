//! The runs table's endpoints: `GET /api/runs` (a page of runs, filtered, with the cursor of
//! the next), `GET /api/counts` (runs per status) and `GET /api/workflows` (the names to
//! filter by). All are answered from the store's indexes and counters, never by a scan.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Query, State};
use cairn_runtime::{Cursor, RunFilter, RunStatus, StateKind, Status, WorkflowGraph};
use serde::Serialize;

use crate::api_error::ApiError;
use crate::app_state::AppState;

/// Runs per page when the query names no limit.
const DEFAULT_LIMIT: usize = 50;

/// The most runs one page returns.
const MAX_LIMIT: usize = 500;

/// Every status a run can have, by the name `Status` displays (and serializes to).
pub(crate) const STATUSES: [Status; 9] = [
    Status::Queued,
    Status::Pending,
    Status::Running,
    Status::Waiting,
    Status::Paused,
    Status::Completed,
    Status::Failed,
    Status::Cancelled,
    Status::Corrupt,
];

/// One row of the runs table.
#[derive(Serialize)]
pub(crate) struct RunRow {
    #[serde(flatten)]
    pub status: RunStatus,
    /// Where the current state is among the workflow's stored states (1-based) and how many
    /// there are, from the current version's graph; `None` without a graph.
    pub progress: Option<(usize, usize)>,
}

/// A page of runs.
#[derive(Serialize)]
pub(crate) struct RunsPage {
    pub runs: Vec<RunRow>,
    /// The cursor of the next page, as text; `None` at the end.
    pub next: Option<String>,
}

/// `GET /api/runs?status=&workflow=&created_since=&created_before=&finished_since=&finished_before=&limit=&after=`
/// (times in milliseconds since the Unix epoch).
pub(crate) async fn list(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<RunsPage>, ApiError> {
    let filter = filter_of(&query)?;
    let limit = match query.get("limit") {
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!("limit must be a number from 1 to {MAX_LIMIT}"))
            })?,
        None => DEFAULT_LIMIT,
    };
    let after = match query.get("after").filter(|t| !t.is_empty()) {
        Some(text) => Some(
            text.parse::<Cursor>()
                .map_err(|_| ApiError::bad_request("after must be a cursor a page returned"))?,
        ),
        None => None,
    };
    let page = state.client.list_runs(&filter, limit, after)?;
    let mut graphs: HashMap<String, Option<WorkflowGraph>> = HashMap::new();
    let mut runs = Vec::with_capacity(page.runs.len());
    for run in page.runs {
        if !graphs.contains_key(&run.workflow) {
            let graph = state.client.workflow_graph(&run.workflow)?;
            graphs.insert(run.workflow.clone(), graph);
        }
        let progress = graphs[&run.workflow]
            .as_ref()
            .and_then(|graph| progress(graph, &run));
        runs.push(RunRow {
            status: run,
            progress,
        });
    }
    Ok(Json(RunsPage {
        runs,
        next: page.next.map(|c| c.to_string()),
    }))
}

/// Where `run` is among the stored states of `graph`, 1-based, and their number. A finished
/// run is at the end.
fn progress(graph: &WorkflowGraph, run: &RunStatus) -> Option<(usize, usize)> {
    let stored: Vec<&str> = graph
        .states
        .iter()
        .filter(|s| matches!(s.kind, StateKind::Stored | StateKind::Start))
        .map(|s| s.name.as_str())
        .collect();
    let total = stored.len();
    if run.status == Status::Completed {
        return Some((total, total));
    }
    let at = stored.iter().position(|s| *s == run.state)?;
    Some((at + 1, total))
}

/// The filter a query names; 400 for a value it cannot read.
fn filter_of(query: &HashMap<String, String>) -> Result<RunFilter, ApiError> {
    let mut filter = RunFilter::new();
    if let Some(text) = query.get("status").filter(|t| !t.is_empty()) {
        filter = filter.status(parse_status(text)?);
    }
    if let Some(name) = query.get("workflow").filter(|t| !t.is_empty()) {
        filter = filter.workflow(name.clone());
    }
    type Bound = fn(RunFilter, SystemTime) -> RunFilter;
    let bounds: [(&str, Bound); 4] = [
        ("created_since", RunFilter::created_since),
        ("created_before", RunFilter::created_before),
        ("finished_since", RunFilter::finished_since),
        ("finished_before", RunFilter::finished_before),
    ];
    for (name, bound) in bounds {
        if let Some(text) = query.get(name).filter(|t| !t.is_empty()) {
            let ms: u64 = text.parse().map_err(|_| {
                ApiError::bad_request(format!(
                    "{name} must be a time in milliseconds since the Unix epoch"
                ))
            })?;
            filter = bound(filter, UNIX_EPOCH + Duration::from_millis(ms));
        }
    }
    Ok(filter)
}

pub(crate) fn parse_status(text: &str) -> Result<Status, ApiError> {
    STATUSES
        .into_iter()
        .find(|status| status.to_string() == text)
        .ok_or_else(|| {
            let names: Vec<String> = STATUSES.iter().map(Status::to_string).collect();
            ApiError::bad_request(format!("status must be one of: {}", names.join(", ")))
        })
}

/// Runs per status.
#[derive(Serialize, PartialEq, Eq, Clone)]
pub(crate) struct Counts {
    pub total: u64,
    pub by_status: BTreeMap<String, u64>,
}

pub(crate) fn counts_of(state: &AppState) -> Result<Counts, ApiError> {
    let counts = state.client.count_by_status()?;
    Ok(Counts {
        total: counts.total(),
        by_status: STATUSES
            .iter()
            .map(|s| (s.to_string(), counts.get(*s)))
            .collect(),
    })
}

/// `GET /api/counts`.
pub(crate) async fn counts(State(state): State<AppState>) -> Result<Json<Counts>, ApiError> {
    Ok(Json(counts_of(&state)?))
}

/// One workflow registered on the store.
#[derive(Serialize)]
pub(crate) struct WorkflowRow {
    name: String,
    /// How many versions (layouts) the store keeps.
    versions: usize,
}

/// `GET /api/workflows`: every workflow a runtime registered on the store, by name.
pub(crate) async fn workflows(
    State(state): State<AppState>,
) -> Result<Json<Vec<WorkflowRow>>, ApiError> {
    let mut rows: BTreeMap<String, usize> = BTreeMap::new();
    for workflow in state.client.workflows()? {
        *rows.entry(workflow.name).or_default() += 1;
    }
    Ok(Json(
        rows.into_iter()
            .map(|(name, versions)| WorkflowRow { name, versions })
            .collect(),
    ))
}
