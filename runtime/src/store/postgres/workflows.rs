//! Each registered workflow's state graph, for tools without the user's code: one row per
//! (name, fingerprint), the graph as JSON.

use super::error::encode_error;
use super::sql::Sql;
use super::{PgStore, fingerprint};
use crate::error::Error;
use crate::graph::StoredWorkflow;

fn decode(bytes: &[u8]) -> Result<StoredWorkflow, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::CorruptState {
        run: crate::run::RunId(0),
        workflow: "<unknown>".to_owned(),
        reason: format!("a stored workflow does not decode: {e}"),
    })
}

async fn put(sql: Sql<'_, '_>, workflow: &StoredWorkflow) -> Result<(), Error> {
    let json = serde_json::to_vec(workflow).map_err(|e| encode_error("state graph", e))?;
    sql.exec(
        "INSERT INTO workflows (name, fingerprint, graph) VALUES ($1, $2, $3)
         ON CONFLICT (name, fingerprint) DO UPDATE SET graph = EXCLUDED.graph",
        &[&workflow.name, &fingerprint(workflow.fingerprint), &json],
    )
    .await?;
    Ok(())
}

async fn versions(sql: Sql<'_, '_>, name: &str) -> Result<Vec<StoredWorkflow>, Error> {
    let rows = sql
        .rows(
            "SELECT graph FROM workflows WHERE name = $1 ORDER BY fingerprint",
            &[&name],
        )
        .await?;
    rows.iter().map(|row| decode(row.get(0))).collect()
}

/// Serializes the registrations of one schema (every worker's start writes the graphs of the
/// workflows it registered, and queues) until the transaction ends: workers starting at once
/// would otherwise upsert the same rows in different orders (a process's registry is a hash
/// map) and deadlock, each waiting for a row the other inserted first. Taken again in the
/// same transaction, it is a no-op.
pub(super) async fn registration_lock(sql: Sql<'_, '_>) -> Result<(), Error> {
    sql.exec(
        "SELECT pg_advisory_xact_lock(hashtext('cairn registrations ' || current_schema()))",
        &[],
    )
    .await?;
    Ok(())
}

/// Stores each workflow stamped with `now`; a current version makes the other stored
/// versions of its name not current.
pub(super) async fn register(
    sql: Sql<'_, '_>,
    workflows: &[StoredWorkflow],
    now: u64,
) -> Result<(), Error> {
    registration_lock(sql).await?;
    for workflow in workflows {
        if workflow.current {
            for mut other in versions(sql, &workflow.name).await? {
                if other.current && other.fingerprint != workflow.fingerprint {
                    other.current = false;
                    put(sql, &other).await?;
                }
            }
        }
        let mut workflow = workflow.clone();
        workflow.registered_at_ms = now;
        put(sql, &workflow).await?;
    }
    Ok(())
}

impl PgStore {
    pub(super) fn workflows_impl(&self) -> Result<Vec<StoredWorkflow>, Error> {
        self.driver.run(|client| async move {
            let rows = Sql::Conn(&client)
                .rows("SELECT graph FROM workflows", &[])
                .await?;
            let mut out = rows
                .iter()
                .map(|row| decode(row.get(0)))
                .collect::<Result<Vec<_>, _>>()?;
            // By name, then fingerprint, as LMDB's keys order them.
            out.sort_by(|a, b| (&a.name, a.fingerprint).cmp(&(&b.name, b.fingerprint)));
            Ok(out)
        })
    }

    pub(super) fn workflow_impl(&self, name: &str) -> Result<Option<StoredWorkflow>, Error> {
        self.driver.run(|client| async move {
            let mut versions = versions(Sql::Conn(&client), name).await?;
            versions.sort_by_key(|w| w.fingerprint);
            let current = versions.iter().position(|w| w.current);
            let chosen = current
                .or_else(|| (0..versions.len()).max_by_key(|&i| versions[i].registered_at_ms));
            Ok(chosen.map(|i| versions.swap_remove(i)))
        })
    }
}
