//! The status counts of one batch, written once at its end rather than at every move.
//!
//! Every status change of a run moves one unit from one count of `status_counts` to another
//! (see `listing.rs`): a read and a write of that table each time. A batch of the group
//! committer makes thousands of such moves (a round of `start_many`'s runs: a thousand runs
//! going from pending to running, or from running to completed), which add up to a few
//! net changes. While [`Gathering`] lives, the moves made on its thread are summed here, and
//! the batch writes each count once, after its last op and before its commit (see
//! `write_batch` in `writes.rs`).
//!
//! Thread-local, because an LMDB write transaction is bound to the thread that began it
//! (heed's `RwTxn` is not `Send`) and a thread holds at most one: what a thread gathers
//! belongs to its one open write. Writes outside a batch (opening a directory, the start-up
//! check, tests) find no gathering and write each move at once, as before.
//!
//! The counts come out the same as when written move by move, except in a count that is
//! already wrong (damage): moves that would take it below zero are summed before the floor
//! at zero is applied rather than one by one. The start-up check rebuilds such counts anyway.

use std::cell::RefCell;

thread_local! {
    /// The summed moves of the batch being applied on this thread, by status code; `None`
    /// outside a batch.
    static DELTAS: RefCell<Option<Vec<(u32, i64)>>> = const { RefCell::new(None) };
}

/// While alive, status-count moves on this thread are summed instead of written (see the
/// module doc). Dropped without [`finish`](Self::finish) (the batch failed and its
/// transaction is aborted), it discards what it gathered.
pub(in crate::store::lmdb) struct Gathering(());

impl Gathering {
    /// Starts summing this thread's moves.
    pub fn begin() -> Gathering {
        DELTAS.with(|deltas| *deltas.borrow_mut() = Some(Vec::new()));
        Gathering(())
    }

    /// Ends the gathering: the net change of each count touched, for the caller to write in
    /// the same transaction (zero changes left out).
    pub fn finish(self) -> Vec<(u32, i64)> {
        let gathered = DELTAS.with(|deltas| deltas.borrow_mut().take());
        let mut gathered = gathered.unwrap_or_default();
        gathered.retain(|&(_, delta)| delta != 0);
        gathered
    }
}

impl Drop for Gathering {
    fn drop(&mut self) {
        DELTAS.with(|deltas| *deltas.borrow_mut() = None);
    }
}

/// Adds `delta` to the count of `code` gathered on this thread; `false` if none is being
/// gathered, and the caller writes the move itself.
pub(super) fn gather(code: u32, delta: i64) -> bool {
    DELTAS.with(|deltas| match deltas.borrow_mut().as_mut() {
        Some(deltas) => {
            // A handful of statuses: a scan beats a map.
            match deltas.iter_mut().find(|(c, _)| *c == code) {
                Some((_, sum)) => *sum += delta,
                None => deltas.push((code, delta)),
            }
            true
        }
        None => false,
    })
}
