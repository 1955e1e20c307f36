//! At most one run per workflow and unique key (`Client::start_unique`): a row binding the
//! key to its run, unique per database (not per worker), freed when the run is purged.

use super::sql::Sql;
use super::{rid, unbig};
use crate::error::Error;
use crate::run::RunId;
use crate::store::RunRecord;

/// The run `key` is bound to in `record`'s workflow (and `false`), or a new run bound to it
/// (and `true`).
pub(super) async fn create_unique(
    sql: Sql<'_, '_>,
    worker: &super::leases::Worker,
    key: &str,
    record: &RunRecord,
    hand_over: bool,
) -> Result<(RunId, bool), Error> {
    // Serializes the creators of one key across processes until this transaction ends: the
    // second one then finds the first one's binding.
    sql.exec(
        "SELECT pg_advisory_xact_lock(hashtext('cairn unique ' || $1::text), hashtext($2::text))",
        &[&record.workflow, &key],
    )
    .await?;
    let bound = sql
        .opt(
            "SELECT u.run FROM unique_keys u JOIN runs r ON r.id = u.run
             WHERE u.workflow = $1 AND u.key = $2",
            &[&record.workflow, &key],
        )
        .await?;
    if let Some(row) = bound {
        return Ok((RunId(unbig(row.get(0))), false));
    }
    let run =
        super::writes::create_runs(sql, worker, std::slice::from_ref(record), hand_over).await?;
    sql.exec(
        "INSERT INTO unique_keys (workflow, key, run) VALUES ($1, $2, $3)
         ON CONFLICT (workflow, key) DO UPDATE SET run = EXCLUDED.run",
        &[&record.workflow, &key, &rid(run)],
    )
    .await?;
    Ok((run, true))
}
