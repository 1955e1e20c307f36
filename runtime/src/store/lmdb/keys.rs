//! The byte layout of the LMDB backend's keys: big-endian run ids first, so that one run's
//! entries are one contiguous range, and the helpers that build and split them.

use std::ops::Bound;

use heed::RwTxn;

use super::ByRun;
use crate::error::Error;
use crate::run::RunId;

/// `run ‖ n`: a history, sleep or branch-prefix key, without allocating (the hot path builds
/// several per transition).
pub(super) fn key_at(run: RunId, n: u64) -> [u8; 16] {
    be_pair(run.0, n)
}

/// `a ‖ b`, big-endian, so that keys sort by `a`, then `b`: the layout of every two-part key
/// (run ‖ position, time ‖ run).
pub(super) fn be_pair(a: u64, b: u64) -> [u8; 16] {
    let mut key = [0; 16];
    key[..8].copy_from_slice(&a.to_be_bytes());
    key[8..].copy_from_slice(&b.to_be_bytes());
    key
}

/// The two halves of a [`be_pair`] key; `None` for a key of another length.
pub(super) fn split_pair(key: &[u8]) -> Option<(u64, u64)> {
    Some((be_u64(key.get(..8)?)?, be_u64(key.get(8..)?)?))
}

/// A big-endian `u64` of exactly eight bytes.
pub(super) fn be_u64(bytes: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(bytes).ok().map(u64::from_be_bytes)
}

/// Postcard bytes of `value` in the envelope of [`crate::codec`], written into a vector of
/// about `capacity` bytes: `to_stdvec` starts empty and reallocates as it grows, several times
/// for a run record, on every transition.
pub(super) fn encode<T: serde::Serialize>(value: &T, capacity: usize) -> postcard::Result<Vec<u8>> {
    crate::codec::seal_record(value, capacity)
}

/// `run ‖ parts...`, all big-endian.
pub(super) fn key(run: RunId, parts: &[&[u8]]) -> Vec<u8> {
    let mut key = run.0.to_be_bytes().to_vec();
    for part in parts {
        key.extend_from_slice(part);
    }
    key
}

/// Deletes every key that starts with `prefix`.
pub(super) fn delete_prefix(db: ByRun, txn: &mut RwTxn<'_>, prefix: &[u8]) -> Result<(), Error> {
    let end = successor(prefix);
    let range = (
        Bound::Included(prefix),
        end.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
    );
    db.delete_range(txn, &range)?;
    Ok(())
}

/// The smallest byte string greater than every string starting with `prefix`; `None` if there
/// is none (all `0xff`).
pub(super) fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}
