//! Statements on a pooled connection or inside a transaction, prepared once per connection
//! (the pool's statement cache), so that each statement after the first is one round trip.

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::connect::PgResult;
use crate::error::Error;

/// Parameters of a statement.
pub(super) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Where a statement runs: a transaction (every write, and reads that must agree) or a
/// connection on its own (a read of one statement).
#[derive(Clone, Copy)]
pub(super) enum Sql<'c, 't> {
    Tx(&'c deadpool_postgres::Transaction<'t>),
    Conn(&'c deadpool_postgres::Object),
}

impl Sql<'_, '_> {
    async fn statement(&self, sql: &str) -> Result<tokio_postgres::Statement, Error> {
        match self {
            Sql::Tx(tx) => tx.prepare_cached(sql).await.pg(),
            Sql::Conn(conn) => conn.prepare_cached(sql).await.pg(),
        }
    }

    /// Every row `sql` returns.
    pub(super) async fn rows(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, Error> {
        let statement = self.statement(sql).await?;
        match self {
            Sql::Tx(tx) => tx.query(&statement, params).await.pg(),
            Sql::Conn(conn) => conn.query(&statement, params).await.pg(),
        }
    }

    /// The row `sql` returns, if any (at most one).
    pub(super) async fn opt(&self, sql: &str, params: Params<'_>) -> Result<Option<Row>, Error> {
        let statement = self.statement(sql).await?;
        match self {
            Sql::Tx(tx) => tx.query_opt(&statement, params).await.pg(),
            Sql::Conn(conn) => conn.query_opt(&statement, params).await.pg(),
        }
    }

    /// The one row `sql` returns.
    pub(super) async fn one(&self, sql: &str, params: Params<'_>) -> Result<Row, Error> {
        let statement = self.statement(sql).await?;
        match self {
            Sql::Tx(tx) => tx.query_one(&statement, params).await.pg(),
            Sql::Conn(conn) => conn.query_one(&statement, params).await.pg(),
        }
    }

    /// `sql` prepared on this connection (at once when its cache holds it), for
    /// [`rows_of`](Self::rows_of): statements prepared first and then sent together go to the
    /// server in the order they are first polled, in one round trip (`batch.rs`).
    pub(super) async fn prepare(&self, sql: &str) -> Result<tokio_postgres::Statement, Error> {
        self.statement(sql).await
    }

    /// Every row a `statement` of [`prepare`](Self::prepare) returns. Its request is queued
    /// on the connection at the first poll.
    pub(super) async fn rows_of(
        &self,
        statement: &tokio_postgres::Statement,
        params: Params<'_>,
    ) -> Result<Vec<Row>, Error> {
        match self {
            Sql::Tx(tx) => tx.query(statement, params).await.pg(),
            Sql::Conn(conn) => conn.query(statement, params).await.pg(),
        }
    }

    /// Runs `sql`; how many rows it changed.
    pub(super) async fn exec(&self, sql: &str, params: Params<'_>) -> Result<u64, Error> {
        let statement = self.statement(sql).await?;
        match self {
            Sql::Tx(tx) => tx.execute(&statement, params).await.pg(),
            Sql::Conn(conn) => conn.execute(&statement, params).await.pg(),
        }
    }
}
