//! Iterators that survive a restart, for `for` loops with an `.await` in the body.
//!
//! The iterator of such a loop is a live variable at every await, so it is persisted with the
//! state. The types here have a representation of their own: integer ranges (`a..b`, `a..=b`,
//! and `a..`, which a `break` ends) are kept as two integers whatever their length, and owned
//! collections are stored as they are. Any other iterator of storable items is collected into a
//! `Vec` when its loop starts (see the `loop_source` module).

use std::collections::VecDeque;
use std::ops::{Range, RangeFrom, RangeInclusive};

use serde::{Deserialize, Serialize};

use crate::context::loop_items::{Cursor, DecodeItem, StoredCursor, StoredIter};

/// A value a `for` loop can iterate durably across an `.await`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be iterated durably across an `.await`",
    label = "this iterator borrows or cannot be persisted",
    note = "collect it into a `Vec` first (e.g. `.collect::<Vec<_>>()`) and loop over the Vec"
)]
pub trait IntoDurableIter {
    /// Items yielded.
    type Item;
    /// The persisted iterator.
    type IntoIter: DurableIter<Item = Self::Item>;
    /// Starts iterating.
    fn into_durable_iter(self) -> Self::IntoIter;
    /// What the state keeps when the items are stored once (see the `loop_items` module): a
    /// [`StoredIter`] handle for a collection, the [`RangeIter`] itself for a range.
    type Stored: StoredCursor<Item = Self::Item>;
    /// Starts iterating with the items stored once: `store` takes a collection's items and
    /// returns the handle that reads them back; a range never calls it.
    fn into_stored(
        self,
        store: impl FnOnce(Vec<Self::Item>) -> StoredIter<Self::Item>,
    ) -> Self::Stored;
}

/// An iterator whose position is part of the persisted state.
pub trait DurableIter {
    /// Items yielded.
    type Item;
    /// The next item, or `None` at the end.
    fn next(&mut self) -> Option<Self::Item>;
}

/// Durable iterator over the remaining elements of an owned collection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VecIter<T> {
    rest: VecDeque<T>,
}

impl<T> DurableIter for VecIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rest.pop_front()
    }
}

impl<T> IntoDurableIter for VecIter<T> {
    type Item = T;
    type IntoIter = Self;

    fn into_durable_iter(self) -> Self {
        self
    }

    type Stored = StoredIter<T>;

    fn into_stored(self, store: impl FnOnce(Vec<T>) -> StoredIter<T>) -> StoredIter<T> {
        store(self.rest.into())
    }
}

impl<T> IntoDurableIter for Vec<T> {
    type Item = T;
    type IntoIter = VecIter<T>;

    fn into_durable_iter(self) -> VecIter<T> {
        VecIter { rest: self.into() }
    }

    type Stored = StoredIter<T>;

    fn into_stored(self, store: impl FnOnce(Vec<T>) -> StoredIter<T>) -> StoredIter<T> {
        store(self)
    }
}

impl<T> IntoDurableIter for VecDeque<T> {
    type Item = T;
    type IntoIter = VecIter<T>;

    fn into_durable_iter(self) -> VecIter<T> {
        VecIter { rest: self }
    }

    type Stored = StoredIter<T>;

    fn into_stored(self, store: impl FnOnce(Vec<T>) -> StoredIter<T>) -> StoredIter<T> {
        store(self.into())
    }
}

impl<T, const N: usize> IntoDurableIter for [T; N] {
    type Item = T;
    type IntoIter = VecIter<T>;

    fn into_durable_iter(self) -> VecIter<T> {
        VecIter {
            rest: self.into_iter().collect(),
        }
    }

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

impl<I: DurableInt> DurableIter for RangeIter<I> {
    type Item = I;

    fn next(&mut self) -> Option<I> {
        if self.done {
            return None;
        }
        let value = self.next;
        // Stepping past `last` could overflow for ranges ending at the type's maximum.
        if value == self.last {
            self.done = true;
        } else {
            self.next = self.next.next_up();
        }
        Some(value)
    }
}

impl<I: DurableInt> IntoDurableIter for RangeIter<I> {
    type Item = I;
    type IntoIter = Self;

    fn into_durable_iter(self) -> Self {
        self
    }

    type Stored = Self;

    fn into_stored(self, _: impl FnOnce(Vec<I>) -> StoredIter<I>) -> Self {
        self
    }
}

impl<I: DurableInt> StoredCursor for RangeIter<I> {
    type Item = I;

    fn advance(&mut self) -> Cursor<I> {
        DurableIter::next(self).map_or(Cursor::Done, Cursor::Ready)
    }
}

impl<I: DurableInt> DecodeItem for RangeIter<I> {
    fn decode(_: &[u8]) -> Result<I, String> {
        Err("a range computes its items; none is stored".to_owned())
    }
}

impl<I: DurableInt> IntoDurableIter for Range<I> {
    type Item = I;
    type IntoIter = RangeIter<I>;

    type Stored = RangeIter<I>;

    fn into_stored(self, _: impl FnOnce(Vec<I>) -> StoredIter<I>) -> RangeIter<I> {
        self.into_durable_iter()
    }

    fn into_durable_iter(self) -> RangeIter<I> {
        if self.start >= self.end {
            RangeIter {
                next: self.start,
                last: self.start,
                done: true,
            }
        } else {
            RangeIter {
                next: self.start,
                last: self.end.next_down(),
                done: false,
            }
        }
    }
}

/// `a..` as a counter: it ends after the type's maximum (where `std` may panic or wrap
/// instead), so a loop over it ends with a `break` or a `return`.
impl<I: DurableInt> IntoDurableIter for RangeFrom<I> {
    type Item = I;
    type IntoIter = RangeIter<I>;

    type Stored = RangeIter<I>;

    fn into_stored(self, _: impl FnOnce(Vec<I>) -> StoredIter<I>) -> RangeIter<I> {
        self.into_durable_iter()
    }

    fn into_durable_iter(self) -> RangeIter<I> {
        RangeIter {
            next: self.start,
            last: I::MAX,
            done: false,
        }
    }
}

impl<I: DurableInt> IntoDurableIter for RangeInclusive<I> {
    type Item = I;
    type IntoIter = RangeIter<I>;

    type Stored = RangeIter<I>;

    fn into_stored(self, _: impl FnOnce(Vec<I>) -> StoredIter<I>) -> RangeIter<I> {
        self.into_durable_iter()
    }

    fn into_durable_iter(self) -> RangeIter<I> {
        let done = self.is_empty();
        RangeIter {
            next: *self.start(),
            last: *self.end(),
            done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain<I: IntoDurableIter>(iter: I) -> Vec<I::Item> {
        let mut iter = iter.into_durable_iter();
        let mut out = Vec::new();
        while let Some(item) = iter.next() {
            out.push(item);
        }
        out
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
    fn collections_keep_order() {
        assert_eq!(drain(vec!["a", "b"]), vec!["a", "b"]);
        assert_eq!(drain([1, 2, 3]), vec![1, 2, 3]);
        assert_eq!(drain(VecDeque::from([4, 5])), vec![4, 5]);
    }

    #[test]
    fn position_survives_a_round_trip() {
        let mut iter = (10..20u32).into_durable_iter();
        assert_eq!(iter.next(), Some(10));
        let bytes = postcard::to_stdvec(&iter).unwrap();
        let mut back: RangeIter<u32> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.next(), Some(11));

        let mut iter = vec![1, 2, 3].into_durable_iter();
        iter.next();
        let bytes = postcard::to_stdvec(&iter).unwrap();
        let back: VecIter<i32> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(drain(back), vec![2, 3]);
    }
}
