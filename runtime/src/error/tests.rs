//! Unit tests of the public error: Clone and Send, io errors in and out, what is refused for good.

use super::*;

/// One failed commit is reported to every waiter of its batch, across threads.
#[test]
fn an_error_is_cloned_and_sent() {
    fn clone_send_sync<T: Clone + Send + Sync + 'static>() {}
    clone_send_sync::<Error>();
}

#[test]
fn an_io_error_goes_in_with_question_mark_and_comes_back_out_whole() {
    fn open() -> Result<(), Error> {
        Err(std::io::Error::from_raw_os_error(13))?
    }
    let error = open().unwrap_err();
    assert!(matches!(error, Error::Io(_)));
    assert_eq!(
        error.io_error().map(std::io::Error::kind),
        Some(std::io::ErrorKind::PermissionDenied)
    );
    let shared = error.clone();
    assert_eq!(error.to_string(), shared.to_string());
    // While a clone holds it, the kind survives; once alone, the OS code too.
    let io = std::io::Error::from(error);
    assert_eq!(io.kind(), std::io::ErrorKind::PermissionDenied);
    drop(io);
    assert_eq!(std::io::Error::from(shared).raw_os_error(), Some(13));
}

#[test]
fn only_failures_that_repeat_are_refused_for_good() {
    let storage = |kind| Error::Storage(StorageError::new(kind, "said the backend"));
    assert!(storage(StorageErrorKind::TooLarge).refused_for_good());
    assert!(storage(StorageErrorKind::Encoding).refused_for_good());
    assert!(!storage(StorageErrorKind::DatabaseFull).refused_for_good());
    assert!(!Error::from(std::io::Error::other("disk")).refused_for_good());
    assert!(!Error::ShutDown.refused_for_good());
}
