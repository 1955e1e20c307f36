//! Waking a parent in this process as soon as its child ends here.
//!
//! The write that finishes a child puts its waiting parent in the answer watcher's index (see
//! `store/lmdb/children.rs`); a watcher polls that index, so a parent in another process is
//! resumed within its poll interval. When the child ran here, its task tells this process's
//! watcher at once, at the cost of one read per finished run (is it a child?).

use std::sync::Arc;

use super::Shared;
use crate::run::RunId;

/// Called by a run's task once its end (completed, failed, cancelled) is committed.
pub(super) fn wake_parent(shared: &Arc<Shared>, run: RunId) {
    match shared.store().and_then(|store| store.parent_of(run)) {
        Ok(Some((parent, _))) => {
            tracing::debug!(%run, %parent, "child finished: waking the answer watcher for its parent");
            shared.answers.notify();
        }
        Ok(None) => {}
        Err(error) => {
            tracing::debug!(%run, %error, "could not look up the parent of a finished run")
        }
    }
}
