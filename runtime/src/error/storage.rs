//! The failure of a storage backend, in cairn's own terms.
//!
//! [`Error::Storage`](crate::Error::Storage) carries a [`StorageError`] rather than the error
//! type of the backend's driver, for two reasons: the public error type must not tie cairn's
//! version to a dependency's, and it must be able to carry what any backend reports (LMDB
//! today, PostgreSQL next). Each backend converts its driver's errors into a
//! [`StorageErrorKind`], which says what the runtime and the user act on (a full database, a
//! value over the size limit, a damaged file, a failed disk), plus the driver's own message,
//! kept word for word because it is what a search or a bug report needs.

use std::fmt;
use std::io;
use std::sync::Arc;

/// What kind of failure a storage backend reported; [`StorageError::kind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StorageErrorKind {
    /// The operating system failed a read or write of the database (the disk, the file
    /// system, a permission); [`StorageError::io_error`] has the error it reported.
    Io,
    /// The database reached its configured size limit (LMDB: the map is full). Nothing of the
    /// failed transaction was written; a larger limit lets it through.
    DatabaseFull,
    /// A key or value is over the backend's size limit. Retrying fails the same way.
    TooLarge,
    /// The backend could not encode a value. Retrying fails the same way.
    Encoding,
    /// The backend could not decode stored bytes.
    Decoding,
    /// The database file is damaged, is not a database of this backend, or was written by an
    /// incompatible version of it.
    InvalidDatabase,
    /// One of the backend's fixed limits was reached: readers, open databases, pages or
    /// cursors of one transaction.
    LimitReached,
    /// Anything else the backend reported.
    Other,
}

impl StorageErrorKind {
    /// The kind in a few words, as a message starts with it.
    fn describe(self) -> &'static str {
        match self {
            StorageErrorKind::Io => "disk I/O error",
            StorageErrorKind::DatabaseFull => "database full",
            StorageErrorKind::TooLarge => "key or value too large",
            StorageErrorKind::Encoding => "could not encode a value",
            StorageErrorKind::Decoding => "could not decode stored bytes",
            StorageErrorKind::InvalidDatabase => "invalid database",
            StorageErrorKind::LimitReached => "storage limit reached",
            StorageErrorKind::Other => "storage backend error",
        }
    }
}

impl fmt::Display for StorageErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// A storage backend failed: what kind of failure, and what the backend said.
///
/// Displayed as the kind, then the backend's message:
/// `database full: MDB_MAP_FULL: Environment mapsize limit reached`. An I/O failure keeps the
/// operating system's error as its [`source`](std::error::Error::source) (and
/// [`io_error`](StorageError::io_error)), so its `raw_os_error` stays readable.
#[derive(Clone, Debug)]
pub struct StorageError {
    kind: StorageErrorKind,
    message: String,
    /// Shared, because `io::Error` cannot be cloned and [`Error`](crate::Error) is `Clone`.
    io: Option<Arc<io::Error>>,
}

impl StorageError {
    /// A failure of `kind` that the backend describes as `message`.
    pub(crate) fn new(kind: StorageErrorKind, message: impl Into<String>) -> StorageError {
        StorageError {
            kind,
            message: message.into(),
            io: None,
        }
    }

    /// A failure the operating system reported to the backend.
    pub(crate) fn io(error: io::Error) -> StorageError {
        StorageError {
            kind: StorageErrorKind::Io,
            message: error.to_string(),
            io: Some(Arc::new(error)),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> StorageErrorKind {
        self.kind
    }

    /// What the backend said, word for word.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The operating system's error, for a failure of kind [`StorageErrorKind::Io`].
    pub fn io_error(&self) -> Option<&io::Error> {
        self.io.as_deref()
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.io
            .as_deref()
            .map(|io| io as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_the_kind_then_the_backends_words() {
        let error = StorageError::new(
            StorageErrorKind::DatabaseFull,
            "MDB_MAP_FULL: Environment mapsize limit reached",
        );
        assert_eq!(
            error.to_string(),
            "database full: MDB_MAP_FULL: Environment mapsize limit reached"
        );
        assert!(std::error::Error::source(&error).is_none());
    }

    #[test]
    fn an_io_failure_keeps_the_os_error_through_a_clone() {
        let error = StorageError::io(io::Error::from_raw_os_error(5)).clone();
        assert_eq!(error.kind(), StorageErrorKind::Io);
        assert_eq!(error.io_error().and_then(io::Error::raw_os_error), Some(5));
        assert!(error.to_string().starts_with("disk I/O error: "));
        assert!(std::error::Error::source(&error).is_some());
    }
}
