//! Loop items stored once, so that a `for` loop costs the same at every iteration.
//!
//! A durable `for` loop over a `Vec` used to keep its iterator (the remaining items) in the
//! state, so every transition in the loop re-encoded and rewrote what was left: O(n) bytes per
//! step and O(n²) in all. Instead, when the loop is entered,
//! [`Context::__durable_iter`](crate::Context::__durable_iter) encodes the items once and
//! buffers them; the next commit writes them, in the same transaction as the new state, to
//! the `loop_items` database under `run ‖ position ‖ seq ‖ index` (big-endian), where
//! `position` is the run's position when the loop was entered and `seq` counts loop entries
//! since that commit (nested loops enter at the same position). The state keeps only a
//! [`StoredIter`] handle of a few bytes; [`Context::__iter_next`](crate::Context::__iter_next)
//! reads item `index` from the buffer or with a short read transaction. Nothing is deleted
//! before the run completes, because a restart resumes from a handle that may point at any
//! index; completion deletes all of the run's items in its commit.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::error::Error;

/// Where one loop's items are stored: the run's position when the loop was entered and the
/// loop's number among the loops entered at that position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoopKey {
    position: u64,
    seq: u32,
}

impl LoopKey {
    /// The run's position when the loop was entered.
    pub(crate) fn position(self) -> u64 {
        self.position
    }

    /// The loop's number among the loops entered at that position.
    pub(crate) fn seq(self) -> u32 {
        self.seq
    }
}

/// The durable iterator of a loop whose items are stored once: a handle of a few bytes in the
/// state, whatever the number of items.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct StoredIter<T> {
    key: LoopKey,
    next: u64,
    len: u64,
    #[serde(skip)]
    item: PhantomData<fn() -> T>,
}

// By hand: a derive would ask `T: Clone`, which the handle does not hold.
impl<T> Clone for StoredIter<T> {
    fn clone(&self) -> Self {
        StoredIter {
            key: self.key,
            next: self.next,
            len: self.len,
            item: PhantomData,
        }
    }
}

impl<T> StoredIter<T> {
    pub(crate) fn new(key: LoopKey, len: u64) -> StoredIter<T> {
        StoredIter {
            key,
            next: 0,
            len,
            item: PhantomData,
        }
    }
}

/// What a stored loop iterator yields next.
#[derive(Debug)]
pub enum Cursor<T> {
    /// The loop is over.
    Done,
    /// The item itself (ranges compute theirs).
    Ready(T),
    /// Item `index` of the loop stored under `key`.
    Stored {
        /// Which loop.
        key: LoopKey,
        /// Which item.
        index: u64,
    },
}

/// An iterator kept in the state of a loop with an `.await` in its body, advanced by
/// [`Context::__iter_next`](crate::Context::__iter_next).
pub trait StoredCursor {
    /// Items yielded.
    type Item;
    /// Moves past the next item and says where it is.
    fn advance(&mut self) -> Cursor<Self::Item>;
}

/// Decodes the stored items of a [`StoredCursor`]. Apart from it, so that the cursor of a loop
/// refused at compile time asks nothing of its items and adds no error of its own.
pub trait DecodeItem: StoredCursor {
    /// Decodes a stored item (only called for [`Cursor::Stored`]).
    fn decode(bytes: &[u8]) -> Result<Self::Item, String>;
}

impl<T: DeserializeOwned> DecodeItem for StoredIter<T> {
    fn decode(bytes: &[u8]) -> Result<T, String> {
        crate::codec::decode(bytes)
    }
}

impl<T> StoredCursor for StoredIter<T> {
    type Item = T;

    fn advance(&mut self) -> Cursor<T> {
        if self.next >= self.len {
            return Cursor::Done;
        }
        let index = self.next;
        self.next += 1;
        Cursor::Stored {
            key: self.key,
            index,
        }
    }
}

/// What the code generated for a durable `for` loop calls. A loop
///
/// ```ignore
/// for paper in papers { notes.push(ctx.task(summarize, paper).await?); }
/// ```
///
/// becomes, with `__iter` a live variable of the state:
///
/// ```ignore
/// let mut __iter = {                                       // at loop entry
///     let __source = papers;
///     let __kind = (&&&&&&&LoopProbe::of(&__source)).loop_kind();
///     ctx.__durable_iter(__source, __kind, " at line 3").await
/// };
/// while let Some(paper) = ctx.__iter_next(&mut __iter).await { ... }  // at the loop head
/// ```
impl Context {
    /// Reads and decodes item `index` of loop `key`.
    pub(super) fn loop_item<T>(
        &self,
        key: LoopKey,
        index: u64,
        decode: fn(&[u8]) -> Result<T, String>,
    ) -> Result<T, Error> {
        let run = self.run_id();
        let stored;
        let bytes = match self.loops.get(key, index) {
            Some(bytes) => bytes,
            None => {
                stored = self.shared.store()?.loop_item(run, key, index)?;
                stored.as_deref()
            }
        };
        let corrupt = |reason: String| Error::CorruptState {
            run,
            workflow: self.workflow().to_owned(),
            reason,
        };
        let bytes = bytes.ok_or_else(|| {
            corrupt(format!(
                "item {index} of the loop entered at position {} is missing",
                key.position
            ))
        })?;
        decode(bytes).map_err(|e| {
            corrupt(format!(
                "item {index} of the loop entered at position {}: {e}",
                key.position
            ))
        })
    }
}

/// The encoded items of one loop, written with the next commit.
#[derive(Debug)]
pub(crate) struct LoopItems {
    pub(crate) key: LoopKey,
    pub(crate) items: Vec<Vec<u8>>,
}

impl LoopItems {
    /// Encoded bytes of all items.
    pub(crate) fn byte_len(&self) -> usize {
        self.items.iter().map(Vec::len).sum()
    }

    /// Number of items.
    pub(crate) fn count(&self) -> usize {
        self.items.len()
    }
}

/// Loops entered since the last commit, in a run's [`Context`](crate::Context).
#[derive(Debug, Default)]
pub(crate) struct PendingLoops {
    /// Loops entered at the current position so far.
    entered: u32,
    buffered: Vec<LoopItems>,
}

impl PendingLoops {
    /// Buffers the encoded items of a loop entered at `position` and returns its key.
    pub fn enter(&mut self, position: u64, items: Vec<Vec<u8>>) -> LoopKey {
        let key = LoopKey {
            position,
            seq: self.entered,
        };
        self.entered = self.entered.saturating_add(1);
        self.buffered.push(LoopItems { key, items });
        key
    }

    /// The encoded item `index` of loop `key`, if that loop was entered since the last
    /// commit.
    pub fn get(&self, key: LoopKey, index: u64) -> Option<Option<&[u8]>> {
        let loop_items = self.buffered.iter().find(|l| l.key == key)?;
        let index = usize::try_from(index).ok()?;
        Some(loop_items.items.get(index).map(Vec::as_slice))
    }

    /// The buffered items, to write with the commit that is about to happen; the next
    /// position starts counting loops from 0.
    pub fn take(&mut self) -> Vec<LoopItems> {
        self.entered = 0;
        std::mem::take(&mut self.buffered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_loops_at_one_position_get_distinct_keys_and_a_commit_resets_the_count() {
        let mut pending = PendingLoops::default();
        let outer = pending.enter(5, vec![vec![1], vec![2]]);
        let inner = pending.enter(5, vec![vec![3]]);
        assert_ne!(outer, inner);
        assert_eq!(pending.get(inner, 0), Some(Some(&[3][..])));
        assert_eq!(pending.get(outer, 2), Some(None));
        assert_eq!(pending.take().len(), 2);
        assert_eq!(pending.get(outer, 0), None);
        assert_eq!(pending.enter(6, Vec::new()).seq, 0);
    }

    #[test]
    fn the_handle_is_small_and_survives_a_round_trip() {
        let key = LoopKey {
            position: 3,
            seq: 0,
        };
        let mut iter = StoredIter::<String>::new(key, 100_000);
        assert!(matches!(iter.advance(), Cursor::Stored { index: 0, .. }));
        let bytes = postcard::to_stdvec(&iter).unwrap();
        assert!(bytes.len() < 16, "{} bytes", bytes.len());
        let mut back: StoredIter<String> = postcard::from_bytes(&bytes).unwrap();
        assert!(matches!(back.advance(), Cursor::Stored { index: 1, .. }));
        let mut done = StoredIter::<u8>::new(key, 0);
        assert!(matches!(done.advance(), Cursor::Done));
    }
}
