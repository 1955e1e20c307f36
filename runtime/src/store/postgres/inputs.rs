//! Run inputs on the PostgreSQL backend: the `inputs` table holds each run's sealed input,
//! written once when the run is created (`runs::insert`) and deleted with the run, so that a
//! commit's `UPDATE runs SET record = ...` writes a record of the size of its state, not of
//! its input (the record holds an empty input, see [`crate::store::stored_record`]). A record
//! written before the table still carries its input inline; the first write of it moves the
//! input here. The same rules as LMDB's `lmdb/inputs.rs`.

use std::collections::HashMap;

use super::sql::Sql;
use super::{rid, unbig};
use crate::error::Error;
use crate::run::RunId;

/// The table, as a migration of `schema.rs`.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE inputs (run bigint PRIMARY KEY, input bytea NOT NULL);
"#;

/// Stores `input` as `run`'s.
pub(super) async fn put(sql: Sql<'_, '_>, run: RunId, input: &[u8]) -> Result<(), Error> {
    sql.exec(
        "INSERT INTO inputs (run, input) VALUES ($1, $2)
         ON CONFLICT (run) DO UPDATE SET input = EXCLUDED.input",
        &[&rid(run), &input],
    )
    .await?;
    Ok(())
}

/// The inputs the table holds for `runs`, in one statement (a run without a row is left out:
/// its input is inline in its record, or it is unknown; see [`get`]).
pub(super) async fn get_many(
    sql: Sql<'_, '_>,
    runs: &[RunId],
) -> Result<HashMap<RunId, Vec<u8>>, Error> {
    let ids: Vec<i64> = runs.iter().map(|run| rid(*run)).collect();
    let rows = sql
        .rows("SELECT run, input FROM inputs WHERE run = ANY($1)", &[&ids])
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| (RunId(unbig(row.get(0))), row.get(1)))
        .collect())
}

/// `run`'s input: from the table, else inline in its record (written before the table);
/// `None` for an unknown run.
pub(super) async fn get(sql: Sql<'_, '_>, run: RunId) -> Result<Option<Vec<u8>>, Error> {
    let row = sql
        .opt("SELECT input FROM inputs WHERE run = $1", &[&rid(run)])
        .await?;
    if let Some(row) = row {
        return Ok(Some(row.get(0)));
    }
    Ok(super::runs::get(sql, run).await?.map(|record| record.input))
}
