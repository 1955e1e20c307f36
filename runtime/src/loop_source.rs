//! What a durable `for` loop (one with an `.await` in its body) may loop over, decided from the
//! type of the value after `in`.
//!
//! The items of such a loop are stored once when it starts (see the `loop_items` module), so
//! any iterator of owned, storable items works: a `Vec`, a range, a map or a set, an adaptor
//! chain (`enumerate`, `rev`, `step_by`, `zip`, `chain`, `filter`, `map`, ...). The generated
//! code asks a [`LoopProbe`] which case holds, by autoref specialisation: method lookup for
//! `(&&&&&&&LoopProbe::of(&source)).loop_kind()` tries the impl on `&&&&&&LoopProbe` first,
//! then one `&` fewer at each step, so the first case below that applies wins (as in the
//! `storable` module):
//!
//! 0. a `Vec`, `VecDeque` or array of references ([`BorrowedItems`]): refused at compile
//!    time;
//! 1. [`IntoDurableIter`] types ([`Known`]): a range is kept as two integers, a `Vec`,
//!    `VecDeque` or array is stored without collecting it first;
//! 2. iterators that never end ([`Endless`]: `repeat`, `repeat_with`, `cycle`): refused at
//!    compile time;
//! 3. iterators of references ([`BorrowedItems`], `.iter()`, `&v`): refused at compile time;
//! 4. iterators of serializable items ([`Collected`]): collected into a `Vec` when the loop
//!    starts, then stored like one;
//! 5. iterators of other items ([`UnstorableItems`]): refused at compile time;
//! 6. anything else ([`NotIterable`]): refused at compile time.
//!
//! The refusals are bounds of [`Context::__durable_iter`](crate::Context::__durable_iter) on
//! the marker, each with its own `#[diagnostic::on_unimplemented]` message, so the user reads
//! one error that says what to do and no suggestion to edit the iterator away (rustc's "consider
//! removing this method call" would change what the loop does). An iterator whose size hint has
//! no upper bound is refused at run time, before anything is stored, if it has not ended after
//! [`MAX_ITEMS_WITHOUT_BOUND`] items.

use std::collections::VecDeque;
use std::iter::{Cycle, Repeat, RepeatWith};
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serializer};

use crate::context::loop_items::{Cursor, DecodeItem, StoredCursor, StoredIter};
use crate::durable_iter::IntoDurableIter;

/// How many items an iterator without an upper bound on its size may yield before its loop is
/// refused as endless. Items are collected in memory before they are stored, so the limit
/// also bounds that memory.
pub const MAX_ITEMS_WITHOUT_BOUND: usize = 1_000_000;

/// Stands for the type of a loop's source; only its type matters.
pub struct LoopProbe<I>(PhantomData<I>);

impl<I> LoopProbe<I> {
    /// The probe of `source`'s type.
    pub fn of(_: &I) -> Self {
        LoopProbe(PhantomData)
    }
}

/// The source is one of the [`IntoDurableIter`] types.
pub struct Known;
/// The source never ends.
pub struct Endless;
/// The source yields references.
pub struct BorrowedItems;
/// The source yields items that can be stored: they are collected when the loop starts.
pub struct Collected;
/// The source yields items that cannot be stored.
pub struct UnstorableItems;
/// The source is not an iterator.
pub struct NotIterable;

/// Before all: a collection of references, known by its shape. (The choice below between
/// [`Known`] and [`BorrowedItems`] cannot see lifetimes: without this, `["a", "b"]` would be
/// taken as [`Known`] and fail later with serde's "not general enough".)
pub trait ProbeBorrowedCollection {
    /// Which case holds.
    fn loop_kind(&self) -> BorrowedItems {
        BorrowedItems
    }
}
impl<T: ?Sized, const N: usize> ProbeBorrowedCollection for &&&&&&LoopProbe<[&T; N]> {}
impl<T: ?Sized> ProbeBorrowedCollection for &&&&&&LoopProbe<Vec<&T>> {}
impl<T: ?Sized> ProbeBorrowedCollection for &&&&&&LoopProbe<VecDeque<&T>> {}

/// First choice.
pub trait ProbeKnown {
    /// Which case holds.
    fn loop_kind(&self) -> Known {
        Known
    }
}
impl<I: IntoDurableIter> ProbeKnown for &&&&&LoopProbe<I> {}

/// Iterators that never end, by their type.
pub trait NeverEnds {}
impl<T: Clone> NeverEnds for Repeat<T> {}
impl<T, F: FnMut() -> T> NeverEnds for RepeatWith<F> {}
impl<I: Clone + Iterator> NeverEnds for Cycle<I> {}

/// Second choice.
pub trait ProbeEndless {
    /// Which case holds.
    fn loop_kind(&self) -> Endless {
        Endless
    }
}
impl<I: NeverEnds> ProbeEndless for &&&&LoopProbe<I> {}

/// References, shared or not.
pub trait IsReference {}
impl<T: ?Sized> IsReference for &T {}
impl<T: ?Sized> IsReference for &mut T {}

/// Third choice.
pub trait ProbeBorrowed {
    /// Which case holds.
    fn loop_kind(&self) -> BorrowedItems {
        BorrowedItems
    }
}
impl<I> ProbeBorrowed for &&&LoopProbe<I>
where
    I: IntoIterator,
    I::Item: IsReference,
{
}

/// Fourth choice.
pub trait ProbeCollected {
    /// Which case holds.
    fn loop_kind(&self) -> Collected {
        Collected
    }
}
impl<I> ProbeCollected for &&LoopProbe<I>
where
    I: IntoIterator,
    I::Item: Serialize + DeserializeOwned,
{
}

/// Fifth choice.
pub trait ProbeUnstorable {
    /// Which case holds.
    fn loop_kind(&self) -> UnstorableItems {
        UnstorableItems
    }
}
impl<I: IntoIterator> ProbeUnstorable for &LoopProbe<I> {}

/// Last choice.
pub trait ProbeNotIterable {
    /// Which case holds.
    fn loop_kind(&self) -> NotIterable {
        NotIterable
    }
}
impl<I> ProbeNotIterable for LoopProbe<I> {}

/// Why a loop's items could not be made ready to store.
#[derive(Debug)]
pub enum LoopRefusal {
    /// An item can be stored neither with postcard nor as JSON (see `codec.rs`).
    Encode(crate::codec::Unstorable),
    /// The iterator has no upper bound on its size and did not end after `yielded` items.
    Unbounded {
        /// How many items it yielded before it was given up.
        yielded: usize,
    },
}

/// Starts a loop over `I` the way the probe's marker says.
#[diagnostic::on_unimplemented(
    message = "a `for` loop cannot loop over `{I}`: it is not an iterator",
    label = "not an iterator",
    note = "loop over a collection or an iterator (anything that implements `IntoIterator`)"
)]
pub trait LoopSource<I> {
    /// Items yielded.
    type Item;
    /// What the state keeps: a [`StoredIter`] handle, or a range's two integers.
    type Stored: StoredCursor<Item = Self::Item>;
    /// Encodes the items of `source` and hands them to `store`, which buffers them for the
    /// next commit and returns the handle that reads them back; a range never calls it.
    fn start(
        self,
        source: I,
        store: impl FnOnce(Vec<Vec<u8>>) -> StoredIter<Self::Item>,
    ) -> Result<Self::Stored, LoopRefusal>;
}

fn encode_all<T: Serialize + DeserializeOwned>(items: &[T]) -> Result<Vec<Vec<u8>>, LoopRefusal> {
    items
        .iter()
        .map(|item| crate::codec::encode(item).map_err(LoopRefusal::Encode))
        .collect()
}

impl<I> LoopSource<I> for Known
where
    I: IntoDurableIter,
    I::Item: Serialize + DeserializeOwned,
{
    type Item = I::Item;
    type Stored = I::Stored;

    fn start(
        self,
        source: I,
        store: impl FnOnce(Vec<Vec<u8>>) -> StoredIter<I::Item>,
    ) -> Result<I::Stored, LoopRefusal> {
        let mut failed = None;
        let stored = source.into_stored(|items| {
            let encoded = encode_all(&items).unwrap_or_else(|refusal| {
                failed = Some(refusal);
                Vec::new()
            });
            store(encoded)
        });
        match failed {
            Some(refusal) => Err(refusal),
            None => Ok(stored),
        }
    }
}

impl<I> LoopSource<I> for Collected
where
    I: IntoIterator,
    I::Item: Serialize + DeserializeOwned,
{
    type Item = I::Item;
    type Stored = StoredIter<I::Item>;

    fn start(
        self,
        source: I,
        store: impl FnOnce(Vec<Vec<u8>>) -> StoredIter<I::Item>,
    ) -> Result<StoredIter<I::Item>, LoopRefusal> {
        let items = collect_bounded(source.into_iter())?;
        Ok(store(encode_all(&items)?))
    }
}

/// All the items of `iter`, or a refusal if it has no upper bound on its size and does not end
/// within [`MAX_ITEMS_WITHOUT_BOUND`] items.
fn collect_bounded<It: Iterator>(iter: It) -> Result<Vec<It::Item>, LoopRefusal> {
    match iter.size_hint() {
        (_, Some(_)) => Ok(iter.collect()),
        // `0..`, `repeat(x).map(f)`: known to be endless without trying.
        (usize::MAX, None) => Err(LoopRefusal::Unbounded { yielded: 0 }),
        // `flat_map`, `from_fn`, `successors`: finite or not, nobody can say without trying.
        (_, None) => {
            let items: Vec<It::Item> = iter.take(MAX_ITEMS_WITHOUT_BOUND + 1).collect();
            if items.len() > MAX_ITEMS_WITHOUT_BOUND {
                Err(LoopRefusal::Unbounded {
                    yielded: MAX_ITEMS_WITHOUT_BOUND,
                })
            } else {
                Ok(items)
            }
        }
    }
}

/// The cursor of a loop that does not compile: the build has already failed on a bound of
/// [`Context::__durable_iter`](crate::Context::__durable_iter), and this type only keeps the
/// rest of the generated code free of further errors.
pub struct Refused<T>(PhantomData<fn() -> T>);

impl<T> StoredCursor for Refused<T> {
    type Item = T;

    fn advance(&mut self) -> Cursor<T> {
        Cursor::Done
    }
}

impl<T> DecodeItem for Refused<T> {
    fn decode(_: &[u8]) -> Result<T, String> {
        Err("this loop was refused at compile time".to_owned())
    }
}

impl<T> Serialize for Refused<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
}

impl<'de, T> Deserialize<'de> for Refused<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <()>::deserialize(deserializer).map(|()| Refused(PhantomData))
    }
}

macro_rules! refused_sources {
    ($($kind:ty),*) => {$(
        impl<I: IntoIterator> LoopSource<I> for $kind {
            type Item = I::Item;
            type Stored = Refused<I::Item>;

            fn start(
                self,
                _: I,
                _: impl FnOnce(Vec<Vec<u8>>) -> StoredIter<I::Item>,
            ) -> Result<Refused<I::Item>, LoopRefusal> {
                Ok(Refused(PhantomData))
            }
        }
    )*};
}

refused_sources!(Endless, BorrowedItems, UnstorableItems);

/// Required of a loop's marker: the source ends.
#[diagnostic::on_unimplemented(
    message = "this `for` loop over `{I}` never ends by itself, so its items cannot be stored when it starts",
    label = "an iterator without an end",
    note = "a `for` loop with an `.await` in its body stores its items when it starts: bound the iterator (`.take(n)`), or collect the items to loop over into a `Vec` first"
)]
pub trait Ends<I> {}
impl<I> Ends<I> for Known {}
impl<I> Ends<I> for BorrowedItems {}
impl<I> Ends<I> for Collected {}
impl<I> Ends<I> for UnstorableItems {}
impl<I> Ends<I> for NotIterable {}

/// Required of a loop's marker: the items are owned.
#[diagnostic::on_unimplemented(
    message = "this `for` loop over `{I}` borrows its items, but a loop with an `.await` in its body stores its items in the workflow's state",
    label = "an iterator of references",
    note = "a stored state outlives every borrow: iterate over an owned collection (`.into_iter()`, `.iter().cloned()`, or collect into a Vec)"
)]
pub trait OwnsItems<I> {}
impl<I> OwnsItems<I> for Known {}
impl<I> OwnsItems<I> for Endless {}
impl<I> OwnsItems<I> for Collected {}
impl<I> OwnsItems<I> for UnstorableItems {}
impl<I> OwnsItems<I> for NotIterable {}

/// Required of a loop's marker: the items can be stored.
#[diagnostic::on_unimplemented(
    message = "the items of this `for` loop over `{I}` cannot be stored: they borrow, or do not implement `Serialize` and `DeserializeOwned`",
    label = "items that cannot be stored",
    note = "a loop with an `.await` in its body stores its items in the workflow's state: iterate over an owned collection (`.into_iter()`, `.iter().cloned()`, or collect into a Vec) of items that derive `serde::Serialize` and `serde::Deserialize`"
)]
pub trait StorableItems<I> {}
impl<I> StorableItems<I> for Known {}
impl<I> StorableItems<I> for Endless {}
impl<I> StorableItems<I> for BorrowedItems {}
impl<I> StorableItems<I> for Collected {}
impl<I> StorableItems<I> for NotIterable {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finite_iterator_without_a_bound_is_collected() {
        let items = collect_bounded((0..10u32).flat_map(|x| [x, x])).unwrap();
        assert_eq!(items.len(), 20);
    }

    #[test]
    fn endless_iterators_are_refused_without_hanging() {
        let at_once = collect_bounded((0u64..).map(|x| x * 2));
        assert!(matches!(
            at_once,
            Err(LoopRefusal::Unbounded { yielded: 0 })
        ));
        let after_trying = collect_bounded((0u64..).filter(|x| x % 2 == 0));
        assert!(matches!(
            after_trying,
            Err(LoopRefusal::Unbounded {
                yielded: MAX_ITEMS_WITHOUT_BOUND
            })
        ));
    }
}
