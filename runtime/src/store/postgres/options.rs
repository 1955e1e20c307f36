//! [`PostgresOptions`]: how the PostgreSQL backend is reached, for
//! [`RuntimeBuilder::postgres`](crate::RuntimeBuilder::postgres).

use std::sync::Arc;

use super::PgStore;
use super::connect::Driver;

/// Default of [`PostgresOptions::lease`].
const DEFAULT_LEASE: std::time::Duration = std::time::Duration::from_secs(30);
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
    pub(crate) worker_id: Option<String>,
    pub(crate) lease: std::time::Duration,
    pub(crate) claim_batch: usize,
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
            worker_id: None,
            lease: DEFAULT_LEASE,
            claim_batch: 64,
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

    /// At most how many connections this process opens (default 8, at least 2): one of its
    /// own for the group committer's small writes, the others shared by larger ones, reads,
    /// claims and the heartbeat.
    pub fn max_connections(mut self, count: usize) -> Self {
        self.max_connections = count.max(2);
        self
    }

    /// How long a worker holds a run without renewing its lease (default 30 s). A worker
    /// renews all its leases in one statement every third of this; a worker that stops (a
    /// crash, a pause, a network cut) has its runs taken over by the others this long after
    /// its last renewal. Shorter means faster take-over, and more risk that a worker stalled
    /// for that long (a long GC-like pause, an overloaded host) loses a run it still runs:
    /// its commit is then refused ([`Error::LeaseLost`](crate::Error::LeaseLost)) and its
    /// step may run twice.
    pub fn lease(mut self, lease: std::time::Duration) -> Self {
        self.lease = lease.max(std::time::Duration::from_millis(30));
        self
    }

    /// How many waiting runs (new ones started by client-only processes, or those of a worker
    /// that died) one worker claims at its first poll (default 64). While its claims come
    /// back full (a burst of runs waits), each next poll claims twice as many, up to eight
    /// times this; a claim that comes back short starts again from it. A smaller batch
    /// spreads a burst of runs over more workers, a larger one drains it in fewer polls.
    pub fn claim_batch(mut self, runs: usize) -> Self {
        self.claim_batch = runs.max(1);
        self
    }

    /// This worker's id, stored as the owner of the runs it holds. Default: the host name,
    /// the process id and random bits, new at every start, so that a restarted worker's runs
    /// are taken over (by it or another) once their leases expire. A fixed id (one per
    /// process slot, such as a pod name) lets a restarted worker take its runs back at once;
    /// two processes must then never run with the same id at the same time.
    pub fn worker_id(mut self, id: impl Into<String>) -> Self {
        self.worker_id = Some(id.into());
        self
    }

    /// Connects, creates or migrates the schema, and returns the store.
    pub(crate) fn open(&self, client_only: bool) -> Result<Opened, Error> {
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
        let driver = Driver::connect(config.clone(), &self.schema, self.max_connections)?;
        let schema = self.schema.clone();
        let instance = driver
            .run(|mut client| async move { super::schema::migrate(&mut client, &schema).await })?;
        let worker = Arc::new(super::leases::Worker::new(
            self.worker_id
                .clone()
                .unwrap_or_else(super::leases::default_worker_id),
            !client_only,
            self.lease,
            self.claim_batch,
        ));
        let mut own_config = config.clone();
        own_config.options(format!("-c search_path={}", self.schema));
        if !client_only {
            super::leases::start_heartbeat(&driver, own_config.clone(), worker.clone());
            tracing::info!(worker = worker.id, lease = ?self.lease, "PostgreSQL worker started");
        }
        let channel = super::notify::channel(&self.schema);
        let waker = super::notify::Waker::default();
        if !client_only {
            super::notify::listen(driver.handle(), own_config, channel.clone(), waker.clone());
        }
        let store: Arc<dyn Store> = Arc::new(PgStore {
            driver,
            instance,
            worker,
            channel,
            waker,
            known: Default::default(),
        });
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
