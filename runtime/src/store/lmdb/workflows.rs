//! The `workflows` table of the LMDB backend: each workflow a runtime registered, with its
//! state graph and fingerprint ([`StoredWorkflow`]), so that a process without the user's code
//! (the `cairn` CLI, a dashboard, any [`Client::open`](crate::Client::open)) can draw a
//! workflow and where its runs are.
//!
//! Keys are `name ‖ 0x00 ‖ fingerprint` (big-endian), so that every version of a workflow is
//! one contiguous range and the versions of one name sort together; values are the
//! [`StoredWorkflow`] as JSON in the envelope of [`crate::codec`] (JSON rather than postcard:
//! a graph is written once per start and read by tools, and JSON lets a later build add
//! fields without a format bump). A runtime writes the table at every start
//! ([`WriteOp::RegisterWorkflows`](crate::store::WriteOp::RegisterWorkflows)), one small
//! entry per registered version, in one write.
//!
//! A directory written before this table gets it, empty, on open; a read-only open of such a
//! directory reads it as empty.

use heed::types::Bytes;
use heed::{Database, Env, RoTxn, RwTxn, WithoutTls};

use super::LmdbStore;
use super::table_pair::{self, Db};
use crate::codec::Format;
use crate::error::Error;
use crate::graph::StoredWorkflow;

/// Number of LMDB databases opened here.
pub(super) const DATABASES: u32 = 3;

/// The table's name in the environment.
const NAME: &str = "workflows";

pub(super) struct Table {
    /// `None` only in a read-only open of a directory from before the table.
    workflows: Option<Db>,
    /// The originals of migrated runs (see `originals.rs`), opened here with this table.
    pub(super) migrated: Option<Db>,
    /// The runs' inputs (see `inputs.rs`), opened here with this table.
    pub(super) inputs: Option<Db>,
}

impl Table {
    /// Opens (creating if needed) the table, with the `migrated` and `inputs` tables, in one
    /// write transaction.
    pub(super) fn open(env: &Env<WithoutTls>) -> Result<Table, Error> {
        let [workflows, migrated, inputs] =
            table_pair::create_all(env, [NAME, super::originals::NAME, super::inputs::NAME])?;
        Ok(Table {
            workflows: Some(workflows),
            migrated: Some(migrated),
            inputs: Some(inputs),
        })
    }

    /// Opens the tables of a directory opened read-only, each if it has it (they were added
    /// one after the other, so an older directory may have some and not others).
    pub(super) fn open_existing(env: &Env<WithoutTls>) -> Result<Table, Error> {
        let one = |name: &str| -> Result<Option<Db>, Error> {
            Ok(table_pair::open_all_existing(env, [name])?.map(|[db]| db))
        };
        Ok(Table {
            workflows: one(NAME)?,
            migrated: one(super::originals::NAME)?,
            inputs: one(super::inputs::NAME)?,
        })
    }
}

/// `name ‖ 0x00`: the prefix of every version of `name`.
fn prefix(name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 9);
    key.extend_from_slice(name.as_bytes());
    key.push(0);
    key
}

fn key(name: &str, fingerprint: u64) -> Vec<u8> {
    let mut key = prefix(name);
    key.extend_from_slice(&fingerprint.to_be_bytes());
    key
}

impl LmdbStore {
    fn workflows_db(&self) -> Option<Database<'static, Bytes, Bytes>> {
        self.workflows.workflows
    }

    fn decode_workflow(&self, bytes: &[u8]) -> Result<StoredWorkflow, Error> {
        let damaged = |reason: String| Error::CorruptDirectory {
            path: self.dir.clone(),
            key: NAME,
            reason,
        };
        match crate::codec::open(bytes).map_err(damaged)? {
            (Format::Json, json) => serde_json::from_slice(json)
                .map_err(|e| damaged(format!("a stored workflow does not decode: {e}"))),
            (format, _) => Err(damaged(format!(
                "a workflow stored as {format:?}, not JSON"
            ))),
        }
    }

    fn put_workflow(&self, txn: &mut RwTxn<'_>, workflow: &StoredWorkflow) -> Result<(), Error> {
        let Some(db) = self.workflows_db() else {
            return Err(Error::ReadOnly {
                path: self.dir.clone(),
            });
        };
        let json = serde_json::to_vec(workflow).map_err(|e| Error::Encode {
            workflow: workflow.name.clone(),
            what: "state graph",
            reason: e.to_string(),
        })?;
        let bytes = crate::codec::seal(Format::Json, &json);
        db.put(txn, &key(&workflow.name, workflow.fingerprint), &bytes)?;
        Ok(())
    }

    /// Every stored version of `name`, in fingerprint order.
    fn versions_in(&self, txn: &RoTxn<'_>, name: &str) -> Result<Vec<StoredWorkflow>, Error> {
        let Some(db) = self.workflows_db() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in db.prefix_iter(txn, &prefix(name))? {
            let (_, bytes) = entry?;
            out.push(self.decode_workflow(bytes)?);
        }
        Ok(out)
    }

    /// [`WriteOp::RegisterWorkflows`](crate::store::WriteOp::RegisterWorkflows) inside `txn`:
    /// stores each workflow stamped `now`; a current one makes every other stored version
    /// of its name not current.
    pub(super) fn register_workflows_in(
        &self,
        txn: &mut RwTxn<'_>,
        workflows: &[StoredWorkflow],
        now: u64,
    ) -> Result<(), Error> {
        for workflow in workflows {
            if workflow.current {
                for mut other in self.versions_in(txn, &workflow.name)? {
                    if other.current && other.fingerprint != workflow.fingerprint {
                        other.current = false;
                        self.put_workflow(txn, &other)?;
                    }
                }
            }
            let mut workflow = workflow.clone();
            workflow.registered_at_ms = now;
            self.put_workflow(txn, &workflow)?;
        }
        Ok(())
    }

    /// [`Store::workflows`](crate::store::Store::workflows).
    pub(super) fn workflows_impl(&self) -> Result<Vec<StoredWorkflow>, Error> {
        let Some(db) = self.workflows_db() else {
            return Ok(Vec::new());
        };
        let txn = self.env.read_txn()?;
        let mut out = Vec::new();
        for entry in db.iter(&txn)? {
            let (_, bytes) = entry?;
            out.push(self.decode_workflow(bytes)?);
        }
        Ok(out)
    }

    /// [`Store::workflow`](crate::store::Store::workflow): the current version, else (none is
    /// marked, which a registration never leaves) the one registered last.
    pub(super) fn workflow_impl(&self, name: &str) -> Result<Option<StoredWorkflow>, Error> {
        let txn = self.env.read_txn()?;
        let versions = self.versions_in(&txn, name)?;
        let current = versions.iter().position(|w| w.current);
        let chosen =
            current.or_else(|| (0..versions.len()).max_by_key(|&i| versions[i].registered_at_ms));
        Ok(chosen.map(|i| versions[i].clone()))
    }
}
