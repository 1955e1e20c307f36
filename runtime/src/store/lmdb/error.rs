//! heed's errors in cairn's terms: the one place that turns a [`heed::Error`] into an
//! [`Error`], so that no heed type reaches the public [`Error`] and `?` works on every heed
//! call of the backend.
//!
//! LMDB's error codes map onto [`StorageErrorKind`] by what the runtime and the user act on;
//! the message is heed's own, kept word for word (`MDB_MAP_FULL: Environment mapsize limit
//! reached`), since it is what names the problem in LMDB's documentation.

use heed::MdbError;

use crate::error::{Error, StorageError, StorageErrorKind};

impl From<heed::Error> for Error {
    fn from(error: heed::Error) -> Error {
        Error::Storage(storage_error(error))
    }
}

/// `error` as a backend-neutral [`StorageError`].
fn storage_error(error: heed::Error) -> StorageError {
    match error {
        // heed also reports LMDB codes that are errno values (`MdbError::Other`) as `Io`.
        heed::Error::Io(io) => StorageError::io(io),
        heed::Error::Mdb(code) => StorageError::new(mdb_kind(code), code.to_string()),
        // The codec's own message, without heed's "error while encoding: " before it, which
        // the kind already says.
        heed::Error::Encoding(cause) => {
            StorageError::new(StorageErrorKind::Encoding, cause.to_string())
        }
        heed::Error::Decoding(cause) => {
            StorageError::new(StorageErrorKind::Decoding, cause.to_string())
        }
        heed::Error::EnvAlreadyOpened => {
            StorageError::new(StorageErrorKind::Other, error.to_string())
        }
    }
}

/// The kind of an LMDB return code.
fn mdb_kind(code: MdbError) -> StorageErrorKind {
    match code {
        MdbError::MapFull => StorageErrorKind::DatabaseFull,
        MdbError::BadValSize => StorageErrorKind::TooLarge,
        MdbError::Corrupted
        | MdbError::PageNotFound
        | MdbError::Invalid
        | MdbError::VersionMismatch
        | MdbError::Incompatible => StorageErrorKind::InvalidDatabase,
        MdbError::ReadersFull
        | MdbError::DbsFull
        | MdbError::TlsFull
        | MdbError::TxnFull
        | MdbError::CursorFull
        | MdbError::PageFull => StorageErrorKind::LimitReached,
        _ => StorageErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn storage(error: heed::Error) -> StorageError {
        match Error::from(error) {
            Error::Storage(storage) => storage,
            other => panic!("not a storage error: {other:?}"),
        }
    }

    #[test]
    fn a_full_map_says_so_in_lmdbs_words() {
        let error = storage(heed::Error::Mdb(MdbError::MapFull));
        assert_eq!(error.kind(), StorageErrorKind::DatabaseFull);
        assert_eq!(
            Error::Storage(error).to_string(),
            "storage error: database full: MDB_MAP_FULL: Environment mapsize limit reached"
        );
    }

    #[test]
    fn an_oversized_value_is_refused_for_good() {
        let error = Error::from(heed::Error::Mdb(MdbError::BadValSize));
        assert!(error.refused_for_good());
        assert!(Error::from(heed::Error::Encoding("no".into())).refused_for_good());
        assert!(!Error::from(heed::Error::Mdb(MdbError::MapFull)).refused_for_good());
    }

    #[test]
    fn an_os_error_keeps_its_code() {
        // ENOSPC, as heed reports it for a failed `pwrite`.
        let error = storage(heed::Error::Io(std::io::Error::from_raw_os_error(28)));
        assert_eq!(error.kind(), StorageErrorKind::Io);
        assert_eq!(error.io_error().and_then(|io| io.raw_os_error()), Some(28));
    }

    #[test]
    fn a_damaged_file_is_an_invalid_database() {
        let error = storage(heed::Error::Mdb(MdbError::Invalid));
        assert_eq!(error.kind(), StorageErrorKind::InvalidDatabase);
        assert!(
            error
                .to_string()
                .starts_with("invalid database: MDB_INVALID")
        );
    }
}
