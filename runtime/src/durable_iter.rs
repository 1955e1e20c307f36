//! The sources a durable `for` loop (one with an `.await` in its body) knows how to store
//! without collecting them first, and the iterator of an integer range.
//!
//! Such a loop's iterator is live at every await in its body, so it is part of the state. What
//! the state keeps is decided when the loop starts, by [`IntoDurableIter::into_stored`]:
//!
//! - a `Vec`, `VecDeque` or array hands its items to the loop-item store (see the `loop_items`
//!   module), which writes them once with the next commit; the state keeps a
//!   [`StoredIter`] handle of a few bytes;
//! - an integer range (`a..b`, `a..=b`, and `a..`, which a `break` ends) stores no items: the
//!   state keeps a [`RangeIter`], its next and last values, whatever its length.
//!
//! Any other iterator of storable items is collected into a `Vec` when its loop starts (see
//! the `loop_source` module, which also picks between these cases).

use std::collections::VecDeque;
use std::ops::{Range, RangeFrom, RangeInclusive};

use serde::{Deserialize, Serialize};

use crate::context::loop_items::{Cursor, DecodeItem, StoredCursor, StoredIter};

/// A loop source whose durable form is known without collecting it: an owned collection or an
/// integer range.
pub trait IntoDurableIter {
    /// Items yielded.
    type Item;
    /// What the state keeps: a [`StoredIter`] handle for a collection, the [`RangeIter`]
    /// itself for a range.
    type Stored: StoredCursor<Item = Self::Item>;
    /// Starts the loop: `store` takes a collection's items (in iteration order) and returns
    /// the handle that reads them back; a range never calls it.
    fn into_stored(
        self,
        store: impl FnOnce(Vec<Self::Item>) -> StoredIter<Self::Item>,
    ) -> Self::Stored;
}

impl<T> IntoDurableIter for Vec<T> {
    type Item = T;
    type Stored = StoredIter<T>;

    fn into_stored(self, store: impl FnOnce(Vec<T>) -> StoredIter<T>) -> StoredIter<T> {
        store(self)
    }
}

impl<T> IntoDurableIter for VecDeque<T> {
    type Item = T;
    type Stored = StoredIter<T>;

    fn into_stored(self, store: impl FnOnce(Vec<T>) -> StoredIter<T>) -> StoredIter<T> {
        store(self.into())
    }
}

impl<T, const N: usize> IntoDurableIter for [T; N] {
    type Item = T;
    type Stored = StoredIter<T>;

    fn into_stored(self, store: impl FnOnce(Vec<T>) -> StoredIter<T>) -> StoredIter<T> {
        store(self.into())
    }
}

/// Durable iterator over an integer range, stored as its next value and its last value, so the
/// state stays the same size however long the range is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "RangeParts<I>",
    bound(deserialize = "I: DurableInt + Deserialize<'de>")
)]
pub struct RangeIter<I> {
    next: I,
    last: I,
    done: bool,
}

/// The fields of a [`RangeIter`] as stored (same names and order, so the same bytes), checked
/// before they become one: a handle past its last value and not done would count up to the
/// type's maximum and overflow.
#[derive(Deserialize)]
#[serde(rename = "RangeIter")]
struct RangeParts<I> {
    next: I,
    last: I,
    done: bool,
}

impl<I: DurableInt> TryFrom<RangeParts<I>> for RangeIter<I> {
    type Error = &'static str;

    fn try_from(RangeParts { next, last, done }: RangeParts<I>) -> Result<Self, Self::Error> {
        if !done && next > last {
            return Err("a range loop's iterator is past its last value");
        }
        Ok(RangeIter { next, last, done })
    }
}

/// The integer types a range of a durable loop can have. One generic impl per range type (and
/// not one per integer type) lets an unsuffixed literal (`for i in 1..`) take its type from how
/// the loop uses `i`, as in a plain `for` loop.
pub trait DurableInt: Copy + Ord + sealed::Sealed {
    /// The largest value of the type.
    const MAX: Self;
    /// `self + 1`, for a value below `MAX`.
    fn next_up(self) -> Self;
    /// `self - 1`, for a value above the type's minimum.
    fn next_down(self) -> Self;
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! durable_ints {
    ($($int:ty),* $(,)?) => {$(
        impl sealed::Sealed for $int {}
        impl DurableInt for $int {
            const MAX: $int = <$int>::MAX;
            fn next_up(self) -> $int {
                self + 1
            }
            fn next_down(self) -> $int {
                self - 1
            }
        }
    )*};
}

durable_ints!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize
);

impl<I: DurableInt> StoredCursor for RangeIter<I> {
    type Item = I;

    fn advance(&mut self) -> Cursor<I> {
        if self.done {
            return Cursor::Done;
        }
        let value = self.next;
        // Stepping past `last` could overflow for ranges ending at the type's maximum.
        if value == self.last {
            self.done = true;
        } else {
            self.next = self.next.next_up();
        }
        Cursor::Ready(value)
    }
}

impl<I: DurableInt> DecodeItem for RangeIter<I> {
    fn decode(_: &[u8]) -> Result<I, String> {
        Err("a range computes its items; none is stored".to_owned())
    }
}

impl<I: DurableInt> From<Range<I>> for RangeIter<I> {
    fn from(range: Range<I>) -> Self {
        if range.start >= range.end {
            RangeIter {
                next: range.start,
                last: range.start,
                done: true,
            }
        } else {
            RangeIter {
                next: range.start,
                last: range.end.next_down(),
                done: false,
            }
        }
    }
}

/// `a..` as a counter: it ends after the type's maximum (where `std` may panic or wrap
/// instead), so a loop over it ends with a `break` or a `return`.
impl<I: DurableInt> From<RangeFrom<I>> for RangeIter<I> {
    fn from(range: RangeFrom<I>) -> Self {
        RangeIter {
            next: range.start,
            last: I::MAX,
            done: false,
        }
    }
}

impl<I: DurableInt> From<RangeInclusive<I>> for RangeIter<I> {
    fn from(range: RangeInclusive<I>) -> Self {
        RangeIter {
            next: *range.start(),
            last: *range.end(),
            done: range.is_empty(),
        }
    }
}

/// The three range types, stored as a [`RangeIter`].
macro_rules! ranges_into_durable_iter {
    ($($range:ident),*) => {$(
        impl<I: DurableInt> IntoDurableIter for $range<I> {
            type Item = I;
            type Stored = RangeIter<I>;

            fn into_stored(self, _: impl FnOnce(Vec<I>) -> StoredIter<I>) -> RangeIter<I> {
                self.into()
            }
        }
    )*};
}

ranges_into_durable_iter!(Range, RangeFrom, RangeInclusive);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::loop_items::PendingLoops;

    /// The items a range's cursor yields, all of them.
    fn drain<I: DurableInt>(range: impl Into<RangeIter<I>>) -> Vec<I> {
        let mut iter = range.into();
        let mut out = Vec::new();
        while let Cursor::Ready(item) = iter.advance() {
            out.push(item);
        }
        out
    }

    /// The items a collection hands to the loop-item store.
    fn stored<T, C: IntoDurableIter<Item = T>>(collection: C) -> Vec<T> {
        let mut items = Vec::new();
        collection.into_stored(|all| {
            let len = all.len() as u64;
            items = all;
            StoredIter::new(PendingLoops::default().enter(0, Vec::new()), len)
        });
        items
    }

    #[test]
    #[allow(clippy::reversed_empty_ranges)]
    fn ranges_match_std() {
        assert_eq!(drain(0..5u8), (0..5u8).collect::<Vec<_>>());
        assert_eq!(drain(5..5i32), Vec::<i32>::new());
        assert_eq!(drain(7..3i32), Vec::<i32>::new());
        assert_eq!(drain(250..=255u8), (250..=255u8).collect::<Vec<_>>());
        assert_eq!(drain(-2..=1i64), vec![-2, -1, 0, 1]);
        assert_eq!(drain(3..=1u32), Vec::<u32>::new());
        assert_eq!(drain(250u8..), (250..=255u8).collect::<Vec<_>>());
    }

    #[test]
    fn collections_are_stored_in_order() {
        assert_eq!(stored(vec!["a", "b"]), vec!["a", "b"]);
        assert_eq!(stored([1, 2, 3]), vec![1, 2, 3]);
        assert_eq!(stored(VecDeque::from([4, 5])), vec![4, 5]);
    }

    #[test]
    fn a_range_position_survives_a_round_trip() {
        let mut iter = RangeIter::from(10..20u32);
        assert!(matches!(iter.advance(), Cursor::Ready(10)));
        let bytes = postcard::to_stdvec(&iter).unwrap();
        let mut back: RangeIter<u32> = postcard::from_bytes(&bytes).unwrap();
        assert!(matches!(back.advance(), Cursor::Ready(11)));
    }
}
