//! A look at `data.mdb` before LMDB maps it, so that a file cut short or not LMDB's is a
//! typed [`Error::CorruptDirectory`] at open rather than a signal later.
//!
//! LMDB maps the whole data file and trusts its meta pages. In a file that was truncated
//! (a copy cut short, a restore that ran out of space), the first read of a page past the end
//! of the file faults, and the kernel kills the process with `SIGBUS`: no error, no message,
//! and the same again at every restart. A file that is not LMDB's fails LMDB's own check
//! with `MDB_INVALID`, which says nothing of which file or why.
//!
//! So before opening, [`check`] reads the two meta pages (the first two pages of the file)
//! and takes the newer valid one, as LMDB does:
//!
//! - neither has LMDB's magic number: not an LMDB data file;
//! - the roots of the two core B-trees (the free-page tree and the main tree, whose records
//!   lead to every named database) lie past the end of the file: truncated;
//! - the file ends more than [`LOOSE_TAIL`] pages before the last page the meta page counts
//!   as used: truncated;
//! - it ends fewer pages before it: those pages may legitimately never have been written
//!   (LMDB does not write pages that a transaction dirtied and freed again, "loose" pages), so
//!   this alone is not damage. The file is extended with a hole to that length, which allocates nothing and makes any read there
//!   return zeros: LMDB then reports a missing page as `MDB_PAGE_NOTFOUND` or `MDB_CORRUPTED`
//!   (an error of the read that met it) instead of faulting.
//!
//! The layout read here is LMDB's `MDB_meta` on a 64-bit build (`mdb.c`: a 16-byte page
//! header, then magic, version, address, map size, two 48-byte `MDB_db` records, the last
//! page number and the transaction id), in native byte order, as LMDB writes it.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::error::Error;

/// `MDB_MAGIC`.
const MAGIC: u32 = 0xBEEF_C0DE;
/// `PAGEHDRSZ` on a 64-bit build.
const PAGE_HEADER: usize = 16;
/// Bytes of `MDB_meta` read: up to and including `mm_txnid`.
const META_LEN: usize = 136;
/// Pages a healthy file may lack at its end: pages that the last transactions dirtied and
/// freed again ("loose") are counted as used but never written. LMDB hands loose pages out
/// again before new ones, so only a few are left at a commit; a larger shortfall is a file
/// cut short.
const LOOSE_TAIL: u64 = 64;
/// `P_INVALID`: the root of an empty tree.
const NO_PAGE: u64 = u64::MAX;

/// One meta page, the fields [`check`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Meta {
    page_size: u64,
    free_root: u64,
    main_root: u64,
    last_page: u64,
    txn_id: u64,
}

impl Meta {
    /// The meta record at the start of `bytes` (right after the page header), if it has
    /// LMDB's magic number and a sane page size.
    fn parse(bytes: &[u8]) -> Option<Meta> {
        let meta = bytes.get(PAGE_HEADER..PAGE_HEADER + META_LEN)?;
        let u32_at = |at: usize| u32::from_ne_bytes(meta[at..at + 4].try_into().unwrap());
        let u64_at = |at: usize| u64::from_ne_bytes(meta[at..at + 8].try_into().unwrap());
        if u32_at(0) != MAGIC {
            return None;
        }
        // `mm_dbs` starts at 24; `md_pad` of the first (free-page) record is the page size,
        // `md_root` is at 40 in each 48-byte record.
        let page_size = u64::from(u32_at(24));
        if !page_size.is_power_of_two() || !(512..=65_536).contains(&page_size) {
            return None;
        }
        Some(Meta {
            page_size,
            free_root: u64_at(24 + 40),
            main_root: u64_at(24 + 48 + 40),
            last_page: u64_at(120),
            txn_id: u64_at(128),
        })
    }
}

/// Checks the data file in `dir`, if there is one with content (see the module doc); may
/// extend it with a hole to the length its meta page records.
pub(crate) fn check(dir: &Path) -> Result<(), Error> {
    let path = dir.join("data.mdb");
    let damaged = |reason: String| Error::CorruptDirectory {
        path: dir.to_owned(),
        key: "data.mdb",
        reason,
    };
    let mut file = match File::open(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(Error::from(error)),
    };
    let len = file.metadata()?.len();
    if len == 0 {
        // Made empty by cairn's own probe before LMDB's first open; LMDB initializes it.
        return Ok(());
    }
    let mut first = vec![0; PAGE_HEADER + META_LEN];
    if file.read_exact(&mut first).is_err() {
        return Err(damaged(format!(
            "is {len} bytes long, too short to be an LMDB data file"
        )));
    }
    let Some(meta0) = Meta::parse(&first) else {
        return Err(damaged(
            "is not an LMDB data file (no LMDB meta page at its start)".to_owned(),
        ));
    };
    let mut second = vec![0; PAGE_HEADER + META_LEN];
    let meta1 = std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(meta0.page_size))
        .and_then(|_| file.read_exact(&mut second))
        .ok()
        .and_then(|()| Meta::parse(&second))
        .filter(|meta| meta.page_size == meta0.page_size);
    let meta = match meta1 {
        Some(meta1) if meta1.txn_id > meta0.txn_id => meta1,
        _ => meta0,
    };
    let pages_in_file = len / meta.page_size;
    for (tree, root) in [("free-page", meta.free_root), ("main", meta.main_root)] {
        if root != NO_PAGE && root >= pages_in_file {
            return Err(damaged(format!(
                "was cut short: it is {len} bytes long, but the root of its {tree} tree is \
                 page {root} of {} bytes",
                meta.page_size
            )));
        }
    }
    let used = meta
        .last_page
        .saturating_add(1)
        .saturating_mul(meta.page_size);
    if len.saturating_add(LOOSE_TAIL * meta.page_size) < used {
        return Err(damaged(format!(
            "was cut short: it is {len} bytes long, but its committed pages reach {used} bytes"
        )));
    }
    if len < used {
        tracing::warn!(
            path = %path.display(),
            len,
            used,
            "data file shorter than its last used page: extended with a hole, so that a \
             missing page is an error rather than SIGBUS"
        );
        match std::fs::OpenOptions::new().write(true).open(&path) {
            Ok(file) => file.set_len(used)?,
            // A read-only directory: opening it read-only maps no more than the file.
            Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => {}
            Err(error) => return Err(Error::from(error)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::lmdb::LmdbStore;
    use crate::store::{RunRecord, Store};

    fn meta_of(dir: &Path) -> Meta {
        let bytes = std::fs::read(dir.join("data.mdb")).unwrap();
        let meta0 = Meta::parse(&bytes).unwrap();
        let meta1 = Meta::parse(&bytes[meta0.page_size as usize..]).unwrap();
        if meta1.txn_id > meta0.txn_id {
            meta1
        } else {
            meta0
        }
    }

    /// The layout read here is the one LMDB writes: the newer meta page agrees with what
    /// LMDB itself reports of the open environment.
    #[test]
    fn reads_the_meta_page_lmdb_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = LmdbStore::open(dir.path(), 1 << 26).unwrap();
        for _ in 0..50 {
            store
                .create_run(&RunRecord::new("w", 7, vec![7; 3000], 0))
                .unwrap();
        }
        let info = store.env.info();
        let page_size = u64::from(store.env.unnamed_database_stat().page_size);
        let meta = meta_of(dir.path());
        assert_eq!(meta.page_size, page_size);
        assert_eq!(meta.last_page, info.last_page_number as u64);
        assert_eq!(meta.txn_id, info.last_txn_id as u64);
        assert!(meta.main_root != NO_PAGE && meta.main_root <= meta.last_page);
        drop(store);
        check(dir.path()).unwrap();
    }

    #[test]
    fn a_missing_or_empty_file_is_left_to_lmdb() {
        let dir = tempfile::tempdir().unwrap();
        check(dir.path()).unwrap();
        std::fs::write(dir.path().join("data.mdb"), b"").unwrap();
        check(dir.path()).unwrap();
    }

    /// A file that ends before the last page its meta page counts (as when the last pages
    /// were loose) opens, extended with a hole to that length.
    #[test]
    fn a_short_tail_is_extended_with_a_hole() {
        let dir = tempfile::tempdir().unwrap();
        let store = LmdbStore::open(dir.path(), 1 << 26).unwrap();
        store
            .create_run(&RunRecord::new("w", 7, vec![], 0))
            .unwrap();
        drop(store);
        let data = dir.path().join("data.mdb");
        let len = std::fs::metadata(&data).unwrap().len();
        // Both meta pages claim 5 pages more than the file has.
        let mut bytes = std::fs::read(&data).unwrap();
        let page_size = meta_of(dir.path()).page_size as usize;
        for page in [0, page_size] {
            let at = page + PAGE_HEADER + 120;
            let last = u64::from_ne_bytes(bytes[at..at + 8].try_into().unwrap());
            bytes[at..at + 8].copy_from_slice(&(last + 5).to_ne_bytes());
        }
        std::fs::write(&data, &bytes).unwrap();
        let used = (meta_of(dir.path()).last_page + 1) * page_size as u64;
        assert!(used > len);
        check(dir.path()).unwrap();
        assert_eq!(std::fs::metadata(&data).unwrap().len(), used);
        // LMDB opens it and reads what was there.
        let store = LmdbStore::open(dir.path(), 1 << 26).unwrap();
        assert!(store.load(crate::run::RunId(1)).unwrap().is_some());
    }
}
