//! Wake-ups without busy polling: `LISTEN/NOTIFY` on one channel per schema.
//!
//! A write that leaves work for other processes notifies in its own transaction (PostgreSQL
//! delivers the notification at commit, never for a rolled-back write): runs that wait for a
//! worker (started, resumed or unpaused by a client-only process) and answers given, as
//! [`Change::Runs`]; sleeps committed, as [`Change::Timers`], so that every worker's timer
//! knows of a wake-up whose worker may die before it is due. Each worker keeps one
//! connection outside the pool that `LISTEN`s and calls the runtime's waker (see
//! [`Store::set_waker`](crate::store::Store::set_waker)). A notification missed (the
//! connection broke, the worker was starting) is covered by the runtime's polls, whose
//! interval is jittered so that workers do not poll in step.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::sql::Sql;
use crate::error::Error;
use crate::store::{Change, WriteOp};

/// The runtime's waker, once registered.
pub(super) type Waker = Arc<Mutex<Option<Arc<dyn Fn(Change) + Send + Sync>>>>;

/// The notification channel of `schema`.
pub(super) fn channel(schema: &str) -> String {
    let mut name = format!("cairn_{schema}");
    name.truncate(63);
    name
}

/// What `ops`, written by a process that runs workflows (`runs_here`) or not, leave for
/// other processes to do.
pub(super) fn changes(ops: &[&WriteOp], runs_here: bool) -> (bool, bool) {
    let mut runs = false;
    let mut timers = false;
    for op in ops {
        match op {
            WriteOp::Answer { .. } => runs = true,
            WriteOp::CreateRun { .. }
            | WriteOp::CreateRuns { .. }
            | WriteOp::CreateUnique { .. }
            | WriteOp::CreateInSession { .. }
            | WriteOp::Reopen { .. }
            | WriteOp::Unpause { .. }
            | WriteOp::Release { .. }
            | WriteOp::HandOver { .. }
            | WriteOp::CreateWithPriority { .. }
            | WriteOp::ScheduleTick { .. } => runs |= !runs_here,
            // A run woken by an event waits for a worker to claim it.
            WriteOp::SendEvent { .. } => runs = true,
            // A wait for an event with a timeout stores its deadline as a sleep.
            WriteOp::Suspend { .. } | WriteOp::AwaitEvent { .. } => timers = true,
            _ => {}
        }
    }
    (runs, timers)
}

/// Notifies the listeners of the schema, delivered when the transaction commits.
pub(super) async fn notify(sql: Sql<'_, '_>, channel: &str, change: Change) -> Result<(), Error> {
    let payload = match change {
        Change::Runs => "runs",
        Change::Timers => "timers",
    };
    sql.exec("SELECT pg_notify($1, $2)", &[&channel, &payload])
        .await?;
    Ok(())
}

/// Spawns the listener on the store's runtime: a connection of its own that `LISTEN`s on
/// `channel` and calls the waker on each notification, reconnecting after a second if the
/// connection breaks.
pub(super) fn listen(
    handle: &tokio::runtime::Handle,
    config: tokio_postgres::Config,
    channel: String,
    waker: Waker,
) {
    handle.spawn(async move {
        loop {
            if let Err(error) = listen_once(&config, &channel, &waker).await {
                tracing::warn!(%error, "PostgreSQL notifications lost; polling until reconnected");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

async fn listen_once(
    config: &tokio_postgres::Config,
    channel: &str,
    waker: &Waker,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(tokio_postgres::NoTls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // The connection delivers notifications as it is polled: drive it in a task of its own.
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(tokio_postgres::AsyncMessage::Notification(note))) => {
                    let _ = tx.send(note.payload().to_owned());
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error),
                None => return Ok(()),
            }
        }
    });
    client.batch_execute(&format!("LISTEN {channel}")).await?;
    // Whatever happened while this connection was not listening is found by one poll now.
    wake(waker, Change::Runs);
    wake(waker, Change::Timers);
    while let Some(payload) = rx.recv().await {
        wake(
            waker,
            if payload == "timers" {
                Change::Timers
            } else {
                Change::Runs
            },
        );
    }
    drop(client);
    match driver.await {
        Ok(result) => result,
        Err(_) => Ok(()),
    }
}

fn wake(waker: &Waker, change: Change) {
    let waker = waker
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    if let Some(waker) = waker {
        waker(change);
    }
}
