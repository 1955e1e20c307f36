//! What a runtime does with a run stored under a layout that no registered version has
//! exactly, before anything of it is decoded.
//!
//! The rule, per run and per state: the run's stored description (the one its layout id was
//! registered with) and the current one are compared *for the state the run is in*. A run is
//! resumed from that state, so only that state's bytes are ever decoded by the new code; a
//! change in another state does not concern them, and every state the new code commits after
//! it is the new layout's. So:
//!
//! - a migration registered for the workflow ([`RuntimeBuilder::migrate`](crate::RuntimeBuilder::migrate))
//!   is applied: the run moves to the current layout with the state the migration returns, or
//!   is left untouched and reported if it fails;
//! - else, if the run's state is stored exactly the same way in both (same variant position,
//!   same fields in the same order, same types spelled out) and the `version` of
//!   `#[workflow(version = N)]` is the same, the run is *adopted*: its record takes the
//!   current layout id (the bytes stay), and it resumes with the current code;
//! - else it is left untouched and reported ([`Error::IncompatibleState`] with each change).
//!
//! Both moves are one write that keeps the original layout and state until the run's next
//! transition (see [`WriteOp::MigrateRun`]). Without a traced description on either side (a
//! run stored by a build before descriptions, a type serde-reflection cannot follow) only the
//! fingerprints are known: the run is reported, with the reason.

use std::sync::Arc;

use super::compare::{LayoutChange, state_changes};
use super::migrate::{MigrateFn, encodings, read};
use super::{Parsed, StateLayout, probe};
use crate::error::Error;
use crate::registry::Entry;
use crate::run::RunId;
use crate::runtime::Shared;
use crate::store::{RunRecord, WriteError, WriteOp};

/// Migrates or adopts `run` (see the module doc); `Err` is the report of a run left untouched.
pub(crate) fn settle(shared: &Arc<Shared>, run: RunId, record: &RunRecord) -> Result<(), Error> {
    let current = shared.entry(&record.workflow)?.clone();
    let refused = |changes: Vec<LayoutChange>, note: Option<String>| Error::IncompatibleState {
        run,
        workflow: record.workflow.clone(),
        stored: record.fingerprint,
        expected: current.layout_id(),
        changes,
        note,
    };
    let stored = shared
        .store()?
        .workflows()?
        .into_iter()
        .find(|w| w.name == record.workflow && w.has_layout(record.fingerprint));
    let old_layout = stored.as_ref().and_then(|w| w.layout.clone());
    let old = old_layout.as_ref().and_then(StateLayout::parsed);
    let new = current.layout().and_then(StateLayout::parsed);
    let (Some(old), Some(new)) = (old, new) else {
        let note = if stored.is_none() {
            "its layout was never registered here by a build that stores descriptions, so only \
             its fingerprint is known"
                .to_owned()
        } else if let Some(reason) = old_layout.as_ref().and_then(StateLayout::untraced_reason) {
            format!("the description of the layout that stored it is incomplete: {reason}")
        } else if old_layout.is_none() {
            "the build that stored it kept no description of its states, so only its \
             fingerprint is known"
                .to_owned()
        } else {
            let reason = current
                .layout()
                .and_then(StateLayout::untraced_reason)
                .unwrap_or_else(|| "no description".to_owned());
            format!("the description of this build's states is incomplete: {reason}")
        };
        return Err(refused(Vec::new(), Some(note)));
    };
    let changes = state_changes(&old, &new, &record.state_name);
    if let Some(migrate) = shared.migrations.get(current.name()) {
        return migrate_run(shared, run, record, (&old, &new), &current, migrate)
            .map_err(|why| refused(changes, Some(format!("its migration failed: {why}"))));
    }
    if !changes.is_empty() {
        return Err(refused(changes, None));
    }
    let old_version = stored.as_ref().and_then(|w| w.version);
    if let Some(old_version) = old_version.filter(|&v| v != current.version()) {
        // The user said so: old runs must not go on with this code, whatever their layout.
        return Err(refused(
            changes,
            Some(format!(
                "its state is stored the same way, but `version` went from {old_version} to {}",
                current.version()
            )),
        ));
    }
    tracing::info!(%run, workflow = record.workflow, state = record.state_name,
        "adopting a run of an older layout: its state is stored the same way in this build");
    write(
        shared,
        WriteOp::MigrateRun {
            run,
            from: record.fingerprint,
            fingerprint: current.layout_id(),
            state: None,
        },
    )
}

fn migrate_run(
    shared: &Arc<Shared>,
    run: RunId,
    record: &RunRecord,
    (old, new): (&Parsed, &Parsed),
    current: &Arc<dyn Entry>,
    migrate: &MigrateFn,
) -> Result<(), String> {
    let Some(bytes) = &record.state else {
        return Err(
            "the run has not committed a state yet (its input is stored as the old \
                    parameters; migrating inputs is not supported): finish it with \
                    `register_previous`"
                .to_owned(),
        );
    };
    let old_state = read(old, bytes, record.fingerprint)?;
    let migrated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| migrate(old_state)))
        .map_err(|_| "the migration function panicked".to_owned())??;
    if migrated.state == "Start" {
        return Err("a run cannot be migrated to `Start` (not a stored state)".to_owned());
    }
    let mut why = String::new();
    for bytes in encodings(new, &migrated)? {
        match probe::decodes(shared, current.as_ref(), bytes.clone()) {
            Ok(()) => {
                tracing::info!(%run, workflow = record.workflow, from = record.state_name,
                    to = migrated.state, "migrated a run of an older layout");
                return write(
                    shared,
                    WriteOp::MigrateRun {
                        run,
                        from: record.fingerprint,
                        fingerprint: current.layout_id(),
                        state: Some((migrated.state, bytes)),
                    },
                )
                .map_err(|e| e.to_string());
            }
            Err(e) => why = e,
        }
    }
    Err(format!(
        "the state it returned (`{}`) does not decode as a state of this build: {why}",
        migrated.state
    ))
}

/// Written straight to the store, as the other writes of start-up are: the run has no task.
fn write(shared: &Shared, op: WriteOp) -> Result<(), Error> {
    match shared.store()?.write(&[&op], shared.now_ms()) {
        Ok(_) => Ok(()),
        Err(WriteError::Refused { error, .. } | WriteError::Failed(error)) => Err(*error),
    }
}

/// The part of [`Error::IncompatibleState`]'s message that says what changed.
pub(crate) fn explain(changes: &[LayoutChange], note: Option<&str>) -> String {
    let mut out = String::new();
    for (i, change) in changes.iter().enumerate() {
        out.push_str(if i == 0 { ": " } else { "; " });
        out.push_str(&change.to_string());
    }
    if let Some(note) = note {
        out.push_str(if changes.is_empty() { ": " } else { "; " });
        out.push_str(note);
    }
    out
}
