//! Statements sent together on one connection (pipelined), reporting the error of the one
//! that failed.
//!
//! The driver pipelines the statements of futures awaited together: one round trip instead
//! of one each. In a transaction, once a statement fails, the server answers every statement
//! after it with `25P02` ("current transaction is aborted"). `tokio::try_join!` returns the
//! first error among the futures in the order they are *declared*, and a future declared
//! first may send its second statement after another future's failing one: its `25P02` then
//! hides the cause. The cause is what the caller acts on: a deadlock (`40P01`) or a
//! serialization failure (`40001`) runs the transaction again (`connect.rs`), a full disk is
//! reported as such, while a `25P02` is neither.
//!
//! [`pipelined!`] awaits every future (no statement is left behind: the ones after the
//! failure are answered at once) and reports the error of the statement that failed first:
//! the one error that is not `25P02`, or the first error if all are.

use crate::error::Error;

/// `tokio::try_join!` for statements pipelined in one transaction: the values of every
/// future, or the error of the statement that failed first (see the module doc).
macro_rules! pipelined {
    ($($future:expr),+ $(,)?) => {
        $crate::store::postgres::pipeline::Settle::settle(tokio::join!($($future),+))
    };
}
pub(super) use pipelined;

/// Whether `error` is the server's answer to a statement sent after another one failed in
/// the same transaction (`25P02`), rather than a cause of its own.
fn is_aborted_transaction(error: &Error) -> bool {
    matches!(error, Error::Storage(e) if e.message().starts_with("PostgreSQL 25P02:"))
}

/// The error to report among `errors` (each future's, in declared order, `None` for those
/// that succeeded): the first that is not `25P02`, else the first.
fn cause<'a>(errors: &[Option<&'a Error>]) -> Option<&'a Error> {
    let mut errors = errors.iter().flatten().copied();
    let first = errors.clone().next();
    errors
        .find(|error| !is_aborted_transaction(error))
        .or(first)
}

/// The results of futures joined by [`pipelined!`], settled into one result.
pub(crate) trait Settle {
    type Output;
    fn settle(self) -> Result<Self::Output, Error>;
}

macro_rules! settle_tuple {
    ($($result:ident: $value:ident),+) => {
        impl<$($value),+> Settle for ($(Result<$value, Error>,)+) {
            type Output = ($($value,)+);

            fn settle(self) -> Result<Self::Output, Error> {
                let ($($result,)+) = self;
                if let Some(error) = cause(&[$($result.as_ref().err()),+]) {
                    return Err(error.clone());
                }
                // No error left: each `?` is an `Ok`.
                Ok(($($result?,)+))
            }
        }
    };
}

settle_tuple!(a: A);
settle_tuple!(a: A, b: B);
settle_tuple!(a: A, b: B, c: C);
settle_tuple!(a: A, b: B, c: C, d: D);
settle_tuple!(a: A, b: B, c: C, d: D, e: E);
settle_tuple!(a: A, b: B, c: C, d: D, e: E, f: F);
settle_tuple!(a: A, b: B, c: C, d: D, e: E, f: F, g: G);
settle_tuple!(a: A, b: B, c: C, d: D, e: E, f: F, g: G, h: H);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{StorageError, StorageErrorKind};

    fn server(code: &str) -> Error {
        Error::Storage(StorageError::new(
            StorageErrorKind::Other,
            format!("PostgreSQL {code}: what the server said"),
        ))
    }

    fn code(result: Result<impl Sized, Error>) -> String {
        match result {
            Err(Error::Storage(e)) => e.message()[11..16].to_owned(),
            Err(other) => panic!("not a server error: {other}"),
            Ok(_) => "ok".to_owned(),
        }
    }

    /// A statement that answers `result` once the future is polled `delay` times: a later
    /// answer on the wire.
    async fn answer<T>(result: Result<T, Error>, delay: usize) -> Result<T, Error> {
        for _ in 0..delay {
            tokio::task::yield_now().await;
        }
        result
    }

    #[tokio::test]
    async fn the_failed_statement_is_reported_not_the_aborted_ones_declared_before_it() {
        // The first future's second statement went after the third future's deadlock, and
        // was answered first in the join's order.
        let joined = pipelined!(
            answer(Err::<(), _>(server("25P02")), 0),
            answer(Ok(1), 0),
            answer(Err::<(), _>(server("40P01")), 3),
            answer(Err::<(), _>(server("25P02")), 1),
        );
        assert_eq!(code(joined), "40P01");
        let try_joined = tokio::try_join!(
            answer(Err::<(), _>(server("25P02")), 0),
            answer(Ok(1), 0),
            answer(Err::<(), _>(server("40P01")), 3),
        );
        assert_eq!(code(try_joined), "25P02", "what this file is for");
    }

    #[tokio::test]
    async fn values_come_back_in_order_and_an_all_aborted_join_reports_25p02() {
        let joined = pipelined!(answer(Ok(1), 2), answer(Ok("two"), 0), answer(Ok(()), 1));
        assert_eq!(joined.unwrap(), (1, "two", ()));
        let aborted = pipelined!(answer(Ok(1), 0), answer(Err::<(), _>(server("25P02")), 0));
        assert_eq!(code(aborted), "25P02");
        let client_side = pipelined!(answer(Err::<(), _>(Error::ShutDown), 0), answer(Ok(1), 0));
        assert!(matches!(client_side, Err(Error::ShutDown)));
    }
}
