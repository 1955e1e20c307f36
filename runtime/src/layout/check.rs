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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::compare::{LayoutChange, state_changes};
use super::migrate::{MigrateFn, encodings, read};
use super::render::{StateShape, states};
use super::{StateLayout, probe};
use crate::error::Error;
use crate::registry::Entry;
use crate::run::RunId;
use crate::runtime::Shared;
use crate::store::{RunRecord, WriteError, WriteOp};
use crate::supervise::lock;

/// What is known of one stored layout of a workflow, read once per runtime (a deploy can
/// meet thousands of runs of the same older layout at start).
pub(crate) struct Known {
    /// Whether a version with this layout was registered on the store.
    stored: bool,
    layout: Option<StateLayout>,
    /// The states spelled out, if the description is traced.
    shapes: Option<Vec<StateShape>>,
    version: Option<u32>,
}

/// The stored layouts met so far, by workflow and layout id.
#[derive(Default)]
pub(crate) struct KnownLayouts(Mutex<HashMap<(String, u64), Arc<Known>>>);

impl KnownLayouts {
    fn get(&self, shared: &Shared, workflow: &str, layout: u64) -> Result<Arc<Known>, Error> {
        let key = (workflow.to_owned(), layout);
        if let Some(known) = lock(&self.0).get(&key) {
            return Ok(known.clone());
        }
        let stored = shared
            .store()?
            .workflows()?
            .into_iter()
            .find(|w| w.name == workflow && w.has_layout(layout));
        let known = Arc::new(Known {
            stored: stored.is_some(),
            shapes: stored
                .as_ref()
                .and_then(|w| w.layout.as_ref())
                .and_then(StateLayout::parsed)
                .map(|parsed| states(&parsed)),
            version: stored.as_ref().and_then(|w| w.version),
            layout: stored.and_then(|w| w.layout),
        });
        lock(&self.0).insert(key, known.clone());
        Ok(known)
    }
}

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
    let old = shared
        .known_layouts
        .get(shared, &record.workflow, record.fingerprint)?;
    let new_shapes = current
        .layout()
        .and_then(StateLayout::parsed)
        .map(|parsed| states(&parsed));
    let (Some(old_shapes), Some(new_shapes)) = (&old.shapes, new_shapes) else {
        let note = if !old.stored {
            "its layout was never registered here by a build that stores descriptions, so only \
             its fingerprint is known"
                .to_owned()
        } else if let Some(reason) = old.layout.as_ref().and_then(StateLayout::untraced_reason) {
            format!("the description of the layout that stored it is incomplete: {reason}")
        } else if old.layout.is_none() {
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
    let mut changes = state_changes(old_shapes, &new_shapes, &record.state_name);
    if !changes.is_empty() {
        super::pinpoint::refine(
            &mut changes,
            old.layout.as_ref().and_then(StateLayout::parsed),
            current.layout().and_then(StateLayout::parsed),
        );
    }
    if let Some(migrate) = shared.migrations.get(current.name()) {
        return migrate_run(shared, run, record, &old, &current, migrate)
            .map_err(|why| refused(changes, Some(format!("its migration failed: {why}"))));
    }
    if !changes.is_empty() {
        return Err(refused(changes, None));
    }
    if let Some(old_version) = old.version.filter(|&v| v != current.version()) {
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
    old: &Known,
    current: &Arc<dyn Entry>,
    migrate: &MigrateFn,
) -> Result<(), String> {
    // Parsed per run: serde-reflection's types cannot be kept across threads, and a migration
    // writes (and syncs) once per run anyway.
    let (Some(old), Some(new)) = (
        old.layout.as_ref().and_then(StateLayout::parsed),
        current.layout().and_then(StateLayout::parsed),
    ) else {
        return Err("a description is missing".to_owned());
    };
    let Some(bytes) = &record.state else {
        return Err(
            "the run has not committed a state yet (its input is stored as the old \
                    parameters; migrating inputs is not supported): finish it with \
                    `register_previous`"
                .to_owned(),
        );
    };
    let old_state = read(&old, bytes, record.fingerprint)?;
    let migrated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| migrate(old_state)))
        .map_err(|_| "the migration function panicked".to_owned())??;
    if migrated.state == "Start" {
        return Err("a run cannot be migrated to `Start` (not a stored state)".to_owned());
    }
    let mut why = String::new();
    for bytes in encodings(&new, &migrated)? {
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
