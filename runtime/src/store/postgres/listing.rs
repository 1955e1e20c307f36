//! Listing and counting runs, from the `runs` table's listing columns and their indexes
//! (status, workflow, finish time), never by decoding every record; counts by status from the
//! counts kept by `status_counts.rs`.

use super::quarantine::listed;
use super::runs::code;
use super::sql::Sql;
use super::{PgStore, big, unbig};
use crate::client::listing::{RunFilter, StatusCounts};
use crate::error::Error;
use crate::run::{RunId, RunStatus, Status};

/// The columns a listed run is read from.
const LISTED: &str = "SELECT r.id, r.record, q.entry FROM runs r
     LEFT JOIN quarantine q ON q.run = r.id";

impl PgStore {
    pub(super) fn list_status_impl(&self, status: Option<Status>) -> Result<Vec<RunStatus>, Error> {
        self.driver.run(|client| async move {
            let rows = Sql::Conn(&client)
                .rows(&format!("{LISTED} ORDER BY r.id"), &[])
                .await?;
            Ok(rows
                .iter()
                .map(|row| listed(RunId(unbig(row.get(0))), row.get(1), row.get(2)))
                .filter(|run| status.is_none_or(|wanted| wanted == run.status))
                .collect())
        })
    }

    pub(super) fn run_status_impl(&self, run: RunId) -> Result<RunStatus, Error> {
        self.driver.run(|client| async move {
            let row = Sql::Conn(&client)
                .opt(&format!("{LISTED} WHERE r.id = $1"), &[&super::rid(run)])
                .await?
                .ok_or(Error::UnknownRun { run })?;
            Ok(listed(run, row.get(1), row.get(2)))
        })
    }

    #[allow(clippy::type_complexity)]
    pub(super) fn list_runs_impl(
        &self,
        filter: &RunFilter,
        after: Option<RunId>,
        limit: usize,
    ) -> Result<(Vec<RunStatus>, Option<RunId>), Error> {
        let status = filter.status.map(code);
        let (since, before) = filter.created;
        let (from, to) = filter.finished;
        let after = after.map_or(0, |run| big(run.0));
        let fetch = i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1;
        self.driver.run(|client| async move {
            let rows = Sql::Conn(&client)
                .rows(
                    &format!(
                        "{LISTED}
                         WHERE r.id > $1
                           AND ($2::integer IS NULL OR r.status = $2)
                           AND ($3::text IS NULL OR r.workflow = $3)
                           AND ($4::bigint IS NULL OR r.created_ms >= $4)
                           AND ($5::bigint IS NULL OR r.created_ms < $5)
                           AND ($6::bigint IS NULL OR r.finished_ms >= $6)
                           AND ($7::bigint IS NULL OR r.finished_ms < $7)
                         ORDER BY r.id LIMIT $8"
                    ),
                    &[
                        &after,
                        &status,
                        &filter.workflow,
                        &since.map(big),
                        &before.map(big),
                        &from.map(big),
                        &to.map(big),
                        &fetch,
                    ],
                )
                .await?;
            let more = rows.len() > limit;
            let runs: Vec<RunStatus> = rows
                .iter()
                .take(limit)
                .map(|row| listed(RunId(unbig(row.get(0))), row.get(1), row.get(2)))
                .collect();
            let last = if more {
                runs.last().map(|run| run.id)
            } else {
                None
            };
            Ok((runs, last))
        })
    }

    /// From the counts kept by `status_counts.rs`: a few rows, however many runs.
    pub(super) fn count_by_status_impl(&self) -> Result<StatusCounts, Error> {
        self.driver
            .run(|client| async move { super::status_counts::count(Sql::Conn(&client)).await })
    }
}
