//! A run's history as a timeline a person can read at any length: one bar per step, sleeps
//! and waits for a person as gaps, overlapping bars in lanes side by side, and loop
//! iterations folded.
//!
//! **Folding.** A loop leaves the same few (state, step) pairs over and over. At each record
//! the fold looks for the period (1 to [`MAX_PERIOD`] records) whose blocks repeat most
//! often from there, and folds at least [`MIN_REPEATS`] consecutive repeats into one
//! [`TimelineItem::Loop`] with the iteration count, total time, the shortest and longest
//! iteration, and the retries in it. 100,000 transitions of a loop become a handful of items;
//! the records inside stay reachable a page at a time (`/api/runs/{id}/history`). End
//! records (completed, failed) are never folded.
//!
//! **Lanes.** Items are laid out greedily: each goes to the first lane free at its start, so
//! items whose times overlap (branches that record their own spans) sit side by side, and a
//! sequential history uses one lane.

use std::collections::{BTreeMap, HashMap};

use cairn_runtime::{HistoryOutcome, HistoryRecord};
use serde::Serialize;

/// The step name the history gives a wait for a person (`Context::wait_for_user`).
const WAIT_STEP: &str = "wait_for_user";

/// The step name the history gives a durable sleep (`Context::sleep`).
const SLEEP_STEP: &str = "sleep";

/// The longest loop body, in records, that folding looks for.
pub const MAX_PERIOD: usize = 8;

/// The fewest consecutive repeats of a body that are folded.
pub const MIN_REPEATS: usize = 3;

/// One page of a run's timeline, with what the whole history says about the run's path.
#[derive(Clone, Debug, Serialize)]
pub struct Timeline {
    /// How many history records the run has.
    pub records: usize,
    /// How many items the whole timeline has (after folding).
    pub total_items: usize,
    /// Index of the first item of this page.
    pub offset: usize,
    /// The items of this page.
    pub items: Vec<TimelineItem>,
    /// How many lanes the whole timeline uses.
    pub lanes: usize,
    /// When the first record started, in milliseconds since the Unix epoch.
    pub start_ms: Option<u64>,
    /// When the last record ended.
    pub end_ms: Option<u64>,
    /// Every state the run reached, with how many times: the path drawn on the graph.
    pub visited: BTreeMap<String, u64>,
    /// Every pair of consecutive states the run went through (`"Start"` first), with how
    /// many times.
    pub moves: Vec<(String, String, u64)>,
}

/// One bar (or folded loop) of a [`Timeline`].
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TimelineItem {
    /// One history record.
    Record {
        /// Its index in the history.
        index: usize,
        /// `step`, `wait` (a durable sleep or a wait for a person: time passed, no code ran)
        /// or `end`.
        kind: &'static str,
        /// The transition count after it.
        number: u64,
        /// The state committed.
        state: String,
        /// The step that ran, if any.
        step: Option<String>,
        /// When it started, ms since the Unix epoch.
        started_at_ms: u64,
        /// When it was committed.
        ended_at_ms: u64,
        /// Attempts of its step (0 without a step).
        attempts: u32,
        /// The errors of failed attempts.
        attempt_errors: Vec<String>,
        /// `committed`, `completed` or `failed`.
        outcome: &'static str,
        /// The message of a failed run's end.
        message: Option<String>,
        /// Which lane it is drawn in.
        lane: usize,
    },
    /// Consecutive repeats of the same records: a loop's iterations.
    Loop {
        /// Index in the history of its first record.
        index: usize,
        /// How many records it folds.
        count: usize,
        /// How many iterations.
        iterations: usize,
        /// The (state, step) pairs of one iteration.
        body: Vec<(String, Option<String>)>,
        /// When its first record started.
        started_at_ms: u64,
        /// When its last record ended.
        ended_at_ms: u64,
        /// Shortest iteration, ms.
        min_ms: u64,
        /// Longest iteration, ms.
        max_ms: u64,
        /// Attempts beyond the first, over all its records.
        retries: u64,
        /// Which lane it is drawn in.
        lane: usize,
    },
}

impl TimelineItem {
    fn span(&self) -> (u64, u64) {
        match self {
            TimelineItem::Record {
                started_at_ms,
                ended_at_ms,
                ..
            }
            | TimelineItem::Loop {
                started_at_ms,
                ended_at_ms,
                ..
            } => (*started_at_ms, *ended_at_ms),
        }
    }

    fn set_lane(&mut self, to: usize) {
        match self {
            TimelineItem::Record { lane, .. } | TimelineItem::Loop { lane, .. } => *lane = to,
        }
    }
}

impl Timeline {
    /// The timeline of `history`, items `offset..offset + limit`.
    pub fn build(history: &[HistoryRecord], offset: usize, limit: usize) -> Timeline {
        let mut items = fold(history);
        let lanes = assign_lanes(&mut items);
        let total_items = items.len();
        let offset = offset.min(total_items);
        let page: Vec<TimelineItem> = items.into_iter().skip(offset).take(limit).collect();
        let (visited, moves) = path(history);
        Timeline {
            records: history.len(),
            total_items,
            offset,
            items: page,
            lanes,
            start_ms: history.iter().map(|r| r.started_at_ms).min(),
            end_ms: history.iter().map(|r| r.ended_at_ms).max(),
            visited,
            moves,
        }
    }
}

/// The items of the whole history, loops folded.
fn fold(history: &[HistoryRecord]) -> Vec<TimelineItem> {
    // Each record's key as a small number: equal keys = same state and step. End records get
    // a key of their own each, so they never fold.
    let mut ids: HashMap<(&str, Option<&str>), u32> = HashMap::new();
    let keys: Vec<u32> = history
        .iter()
        .enumerate()
        .map(|(i, r)| match r.outcome {
            HistoryOutcome::Committed => {
                let next = u32::try_from(ids.len()).unwrap_or(u32::MAX);
                *ids.entry((r.state.as_str(), r.step.as_deref()))
                    .or_insert(next)
            }
            _ => u32::MAX - u32::try_from(i % 1_000_000).unwrap_or(0),
        })
        .collect();
    let mut items = Vec::new();
    let mut i = 0;
    while i < history.len() {
        match best_repeat(&keys, i) {
            Some((period, repeats)) => {
                items.push(folded(history, i, period, repeats));
                i += period * repeats;
            }
            None => {
                items.push(single(i, &history[i]));
                i += 1;
            }
        }
    }
    items
}

/// The period and repeat count that fold the most records from `at`, if any folds.
fn best_repeat(keys: &[u32], at: usize) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    for period in 1..=MAX_PERIOD {
        if at + period * MIN_REPEATS > keys.len() {
            break;
        }
        let body = &keys[at..at + period];
        let mut repeats = 1;
        while keys
            .get(at + repeats * period..at + (repeats + 1) * period)
            .is_some_and(|block| block == body)
        {
            repeats += 1;
        }
        let covers = |(p, r): (usize, usize)| p * r;
        if repeats >= MIN_REPEATS && best.is_none_or(|b| covers((period, repeats)) > covers(b)) {
            best = Some((period, repeats));
        }
    }
    best
}

fn folded(history: &[HistoryRecord], at: usize, period: usize, repeats: usize) -> TimelineItem {
    let records = &history[at..at + period * repeats];
    let iteration_ms = records.chunks(period).map(|chunk| {
        let start = chunk.first().map_or(0, |r| r.started_at_ms);
        let end = chunk.last().map_or(0, |r| r.ended_at_ms);
        end.saturating_sub(start)
    });
    let (min_ms, max_ms) =
        iteration_ms.fold((u64::MAX, 0), |(lo, hi), ms| (lo.min(ms), hi.max(ms)));
    TimelineItem::Loop {
        index: at,
        count: records.len(),
        iterations: repeats,
        body: records[..period]
            .iter()
            .map(|r| (r.state.clone(), r.step.clone()))
            .collect(),
        started_at_ms: records[0].started_at_ms,
        ended_at_ms: records[records.len() - 1].ended_at_ms,
        min_ms,
        max_ms,
        retries: records
            .iter()
            .map(|r| u64::from(r.attempts.saturating_sub(1)))
            .sum(),
        lane: 0,
    }
}

fn single(index: usize, record: &HistoryRecord) -> TimelineItem {
    let (outcome, message) = match &record.outcome {
        HistoryOutcome::Committed => ("committed", None),
        HistoryOutcome::Completed => ("completed", None),
        HistoryOutcome::Failed { message } => ("failed", Some(message.clone())),
        // Outcomes added later are shown as what they are called in the history's JSON.
        _ => ("other", None),
    };
    let kind = match (&record.outcome, record.step.as_deref()) {
        (HistoryOutcome::Committed, Some(WAIT_STEP | SLEEP_STEP) | None) => "wait",
        (HistoryOutcome::Committed, Some(_)) => "step",
        _ => "end",
    };
    TimelineItem::Record {
        index,
        kind,
        number: record.number,
        state: record.state.clone(),
        step: record.step.clone(),
        started_at_ms: record.started_at_ms,
        ended_at_ms: record.ended_at_ms,
        attempts: record.attempts,
        attempt_errors: record.attempt_errors.clone(),
        outcome,
        message,
        lane: 0,
    }
}

/// Puts each item in the first lane free at its start; returns the number of lanes.
fn assign_lanes(items: &mut [TimelineItem]) -> usize {
    let mut lane_ends: Vec<u64> = Vec::new();
    for item in items.iter_mut() {
        let (start, end) = item.span();
        let lane = match lane_ends.iter().position(|&free_at| free_at <= start) {
            Some(lane) => lane,
            None => {
                lane_ends.push(0);
                lane_ends.len() - 1
            }
        };
        lane_ends[lane] = end.max(start);
        item.set_lane(lane);
    }
    lane_ends.len()
}

type Path = (BTreeMap<String, u64>, Vec<(String, String, u64)>);

/// The states reached and the moves between them, with counts.
fn path(history: &[HistoryRecord]) -> Path {
    let mut visited: BTreeMap<String, u64> = BTreeMap::new();
    let mut moves: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    let mut from = "Start";
    for record in history {
        if record.outcome != HistoryOutcome::Committed {
            continue;
        }
        *visited.entry(record.state.clone()).or_default() += 1;
        *moves.entry((from, record.state.as_str())).or_default() += 1;
        from = &record.state;
    }
    let moves = moves
        .into_iter()
        .map(|((a, b), n)| (a.to_owned(), b.to_owned(), n))
        .collect();
    (visited, moves)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(number: u64, state: &str, step: Option<&str>, start: u64, end: u64) -> HistoryRecord {
        HistoryRecord {
            number,
            state: state.to_owned(),
            step: step.map(str::to_owned),
            started_at_ms: start,
            ended_at_ms: end,
            attempts: u32::from(step.is_some()),
            attempt_errors: Vec::new(),
            outcome: HistoryOutcome::Committed,
        }
    }

    /// A loop of two steps run 1,000 times between a first step and the end folds into one
    /// item; the records before and after stay single.
    #[test]
    fn a_loop_folds_into_one_item() {
        let mut history = vec![record(1, "Fetched", Some("fetch"), 0, 5)];
        for i in 0..1_000u64 {
            history.push(record(2 + 2 * i, "A", Some("a"), 10 + i * 4, 11 + i * 4));
            history.push(record(3 + 2 * i, "B", Some("b"), 11 + i * 4, 13 + i * 4));
        }
        let mut end = record(2_002, "Completed", None, 5_000, 5_000);
        end.outcome = HistoryOutcome::Completed;
        history.push(end);

        let timeline = Timeline::build(&history, 0, 100);
        assert_eq!(timeline.total_items, 3);
        assert_eq!(timeline.lanes, 1);
        match &timeline.items[1] {
            TimelineItem::Loop {
                iterations,
                count,
                min_ms,
                max_ms,
                ..
            } => {
                assert_eq!((*iterations, *count), (1_000, 2_000));
                assert_eq!((*min_ms, *max_ms), (3, 3));
            }
            other => panic!("expected a loop, got {other:?}"),
        }
        assert!(matches!(
            &timeline.items[2],
            TimelineItem::Record { kind: "end", .. }
        ));
        assert_eq!(timeline.visited["A"], 1_000);
    }

    /// Two repeats are not a loop worth folding; overlapping records go to two lanes.
    #[test]
    fn short_repeats_stay_and_overlaps_get_lanes() {
        let history = vec![
            record(1, "A", Some("a"), 0, 10),
            record(2, "A", Some("a"), 5, 12),
            record(3, "B", Some("b"), 12, 13),
        ];
        let timeline = Timeline::build(&history, 0, 10);
        assert_eq!(timeline.total_items, 3);
        assert_eq!(timeline.lanes, 2);
    }
}
