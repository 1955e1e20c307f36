//! Waking a parent in this process as soon as its child ends here.
//!
//! The write that finishes a child puts its waiting parent in the answer watcher's index (see
//! `store/lmdb/children.rs`); a watcher polls that index, so a parent in another process is
//! resumed within its poll interval. When the child ran here, its task tells this process's
//! watcher at once. The commit of a run's end says whether the run was a child
//! ([`Outcome::ChildEnded`](crate::store::Outcome::ChildEnded)); only a run cancelled by a
//! client, whose end its task did not commit, costs a read (is it a child?). On PostgreSQL
//! that read was a round trip per finished run.

use std::sync::Arc;

use super::Shared;
use crate::run::RunId;

/// Called by the task of a child run once its end (completed, failed) is committed.
pub(super) fn parent_may_go_on(shared: &Arc<Shared>, run: RunId) {
    tracing::debug!(%run, "child finished: waking the answer watcher for its parent");
    shared.answers.notify();
}

/// Called by a run's task once it finds the run cancelled: wakes the answer watcher if the
/// run is a child.
pub(super) fn wake_parent(shared: &Arc<Shared>, run: RunId) {
    match shared.store().and_then(|store| store.parent_of(run)) {
        Ok(Some((parent, _))) => {
            tracing::debug!(%run, %parent, "child cancelled: waking the answer watcher for its parent");
            shared.answers.notify();
        }
        Ok(None) => {}
        Err(error) => {
            tracing::debug!(%run, %error, "could not look up the parent of a finished run")
        }
    }
}
