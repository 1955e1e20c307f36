//! Migrations on the PostgreSQL backend: [`WriteOp::MigrateRun`](crate::store::WriteOp::MigrateRun)
//! moves a run to a newer layout and keeps what it replaced in the `migrated` table until the
//! run's next transition (its commit, completion, failure or purge drops it), so that a
//! migrated run that cannot go on can be put back by hand. What a migration checks and changes is
//! decided in `store/migration.rs`, shared with LMDB's `lmdb/originals.rs`; this file reads
//! and writes the tables.

use super::runs::{self, must_get};
use super::sql::Sql;
use super::{PgStore, rid};
use crate::error::Error;
use crate::run::RunId;
use crate::store::{MigratedOriginal, migration};

/// The table, as a migration of `schema.rs`: the sealed [`MigratedOriginal`] of each run
/// migrated since its last transition.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE migrated (run bigint PRIMARY KEY, original bytea NOT NULL);
"#;

/// [`WriteOp::MigrateRun`](crate::store::WriteOp::MigrateRun): `run`, stored under layout
/// `from`, takes layout `fingerprint` and, if given, the migrated state; its original is kept.
pub(super) async fn migrate_run(
    sql: Sql<'_, '_>,
    run: RunId,
    from: u64,
    fingerprint: u64,
    state: Option<&(String, Vec<u8>)>,
) -> Result<(), Error> {
    let mut record = must_get(sql, run).await?;
    let original = migration::migrate(run, &mut record, from, fingerprint, state)?;
    sql.exec(
        "INSERT INTO migrated (run, original) VALUES ($1, $2)
         ON CONFLICT (run) DO UPDATE SET original = EXCLUDED.original",
        &[&rid(run), &original],
    )
    .await?;
    runs::put(sql, run, &record).await
}

/// Drops the original kept by a migration of `run`, if any: at its next transition.
pub(super) async fn drop_original(sql: Sql<'_, '_>, run: RunId) -> Result<(), Error> {
    sql.exec("DELETE FROM migrated WHERE run = $1", &[&rid(run)])
        .await?;
    Ok(())
}

impl PgStore {
    /// [`Store::migrated_original`](crate::store::Store::migrated_original).
    pub(super) fn migrated_original_impl(
        &self,
        run: RunId,
    ) -> Result<Option<MigratedOriginal>, Error> {
        self.driver.run(|client| async move {
            let row = Sql::Conn(&client)
                .opt("SELECT original FROM migrated WHERE run = $1", &[&rid(run)])
                .await?;
            row.map(|row| migration::open_original(run, row.get(0)))
                .transpose()
        })
    }
}
