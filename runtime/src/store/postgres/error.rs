//! The driver's errors in cairn's terms: the one place that turns a [`tokio_postgres::Error`]
//! (or a pool error) into an [`Error`], so that no driver type reaches the public [`Error`].
//!
//! SQLSTATE classes map onto [`StorageErrorKind`] by what the runtime and the user act on; the
//! message is the server's own.

use crate::error::{Error, StorageError, StorageErrorKind};

/// `error`, from the server or the connection, as cairn's.
pub(super) fn pg_error(error: tokio_postgres::Error) -> Error {
    let Some(db) = error.as_db_error() else {
        // No answer from the server: the connection broke or could not be made.
        let kind = if error.is_closed() {
            std::io::ErrorKind::ConnectionAborted
        } else {
            std::io::ErrorKind::Other
        };
        return Error::Storage(StorageError::io(std::io::Error::new(
            kind,
            format!("PostgreSQL: {error}"),
        )));
    };
    let code = db.code().code();
    let kind = match code {
        // disk_full, insufficient_resources, out_of_memory
        "53100" | "53000" | "53200" => StorageErrorKind::DatabaseFull,
        // program_limit_exceeded, string_data_right_truncation
        c if c.starts_with("54") || c == "22001" => StorageErrorKind::TooLarge,
        // character_not_in_repertoire, untranslatable_character (a NUL in a text key)
        "22021" | "22P05" => StorageErrorKind::Encoding,
        // data_corrupted, index_corrupted
        "XX001" | "XX002" => StorageErrorKind::InvalidDatabase,
        // too_many_connections, configuration_limit_exceeded
        "53300" | "53400" => StorageErrorKind::LimitReached,
        _ => StorageErrorKind::Other,
    };
    Error::Storage(StorageError::new(
        kind,
        format!("PostgreSQL {code}: {}", db.message()),
    ))
}

/// Whether `error` is one PostgreSQL asks the client to answer by running the transaction
/// again: a deadlock (`40P01`, the server aborted one of two transactions that waited for each
/// other, e.g. a start-up claim and another worker's heartbeat) or a serialization failure
/// (`40001`). Nothing of the aborted transaction was written.
pub(super) fn is_retryable(error: &Error) -> bool {
    matches!(error, Error::Storage(e)
        if e.message().starts_with("PostgreSQL 40P01:") || e.message().starts_with("PostgreSQL 40001:"))
}

/// A connection that the pool could not hand out.
pub(super) fn pool_error(error: deadpool_postgres::PoolError) -> Error {
    match error {
        deadpool_postgres::PoolError::Backend(error) => pg_error(error),
        other => Error::Storage(StorageError::io(std::io::Error::other(format!(
            "PostgreSQL connection pool: {other}"
        )))),
    }
}

/// A record the store wrote that does not decode.
pub(super) fn corrupt(run: crate::run::RunId, what: &str, e: impl std::fmt::Display) -> Error {
    Error::CorruptState {
        run,
        workflow: "<unknown>".to_owned(),
        reason: format!("{what} does not decode: {e}"),
    }
}

/// A value the store could not encode.
pub(super) fn encode_error(what: &'static str, e: impl std::fmt::Display) -> Error {
    Error::Encode {
        workflow: String::new(),
        what,
        reason: e.to_string(),
    }
}
