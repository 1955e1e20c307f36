//! [`PostgresOptions`]: how the PostgreSQL backend is reached, for
//! [`RuntimeBuilder::postgres`](crate::RuntimeBuilder::postgres).

use std::sync::Arc;

use super::PgStore;
use super::connect::Driver;
use crate::error::Error;
use crate::store::{Opened, Store};

/// Options of the PostgreSQL backend (cargo feature `postgres`).
///
/// ```no_run
/// # fn demo() -> Result<(), cairn_runtime::Error> {
/// use cairn_runtime::{PostgresOptions, Runtime};
///
/// let runtime = Runtime::builder()
///     .postgres(PostgresOptions::new("postgresql://cairn@db.internal/app").schema("cairn"))
///     .start()?;
/// # let _ = runtime; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct PostgresOptions {
    pub(crate) url: String,
    pub(crate) schema: String,
    pub(crate) max_connections: usize,
}

impl PostgresOptions {
    /// The database at `url`: a `postgresql://user:password@host:port/database` URL or a
    /// `key=value` connection string (`host=/run/postgresql dbname=app`), as libpq reads them.
    /// Every table lives in the schema `cairn` unless [`schema`](Self::schema) says otherwise.
    pub fn new(url: impl Into<String>) -> PostgresOptions {
        PostgresOptions {
            url: url.into(),
            schema: "cairn".to_owned(),
            max_connections: 8,
        }
    }

    /// The schema that holds cairn's tables, created on first start. A lower-case SQL
    /// identifier (letters, digits, `_`); another name is refused at start with
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument). Two schemas of one database
    /// are two independent stores.
    pub fn schema(mut self, name: impl Into<String>) -> Self {
        self.schema = name.into();
        self
    }

    /// At most how many connections this process opens (default 8): one per concurrent
    /// read, and one for the group committer's transaction.
    pub fn max_connections(mut self, count: usize) -> Self {
        self.max_connections = count.max(1);
        self
    }

    /// Connects, creates or migrates the schema, and returns the store.
    pub(crate) fn open(&self) -> Result<Opened, Error> {
        if !super::schema::valid_schema_name(&self.schema) {
            return Err(Error::InvalidArgument {
                call: "PostgresOptions::schema",
                reason: format!(
                    "PostgreSQL schema name `{}` is not a lower-case SQL identifier \
                     (letters a-z, digits and `_`, not starting with a digit, at most 63 bytes)",
                    self.schema
                ),
            });
        }
        let config: tokio_postgres::Config =
            self.url.parse().map_err(|e| Error::InvalidArgument {
                call: "PostgresOptions::new",
                reason: format!("PostgreSQL connection string does not parse: {e}"),
            })?;
        let driver = Driver::connect(config, &self.schema, self.max_connections)?;
        let schema = self.schema.clone();
        let instance = driver.run(|mut client| async move {
            super::schema::migrate(&mut client, &schema).await
        })?;
        let store: Arc<dyn Store> = Arc::new(PgStore { driver, instance });
        let description = format!("PostgreSQL schema `{}`", self.schema);
        Ok(Opened {
            store,
            description,
            on_closed: Box::new(|| {}),
        })
    }
}

impl From<&str> for PostgresOptions {
    fn from(url: &str) -> PostgresOptions {
        PostgresOptions::new(url)
    }
}

impl From<String> for PostgresOptions {
    fn from(url: String) -> PostgresOptions {
        PostgresOptions::new(url)
    }
}
