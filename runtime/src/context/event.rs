//! `ctx.wait_for_event::<T>("name")`: waits durably for an event sent into the run with
//! [`Client::send`](crate::Client::send), from any process.
//!
//! Works like [`wait_for_user`](crate::Context::wait_for_user) (see `ask.rs`), through the
//! same machinery: at position n (the await in progress) one write takes the first queued event
//! of the name off the run's queue and binds it to (run, n), or, with none queued, stores the
//! wait and parks the run (status waiting, no task, no memory), its deadline as a durable
//! sleep. A send to the parked run makes it runnable and hands it over to the runtime (the
//! answer watcher starts it); the timer resumes it at the deadline. Resumed, the run reaches
//! the same call at the same n and finds the bound event (or the deadline passed). The commit
//! after the await drops the binding, so each event is delivered once (see
//! [`crate::store::events`]).
//!
//! Payloads are stored as JSON. A payload that is not a `T` fails the run with
//! [`Error::EventType`], naming the event and the type (a send from a process where the
//! workflow is registered refuses it before it is stored: see [`EventType`]).

use std::future::IntoFuture;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::clock::{from_ms, to_ms};
use crate::context::Context;
use crate::context::task::deadline;
use crate::error::Error;
use crate::store::WriteOp;
use crate::store::events::{Awaited, EVENT_STEP, StoredWait};
use crate::supervise::Abort;
use crate::workflow::BoxFuture;

impl Context {
    /// Waits for the next event named `name` sent into this run with
    /// [`Client::send`](crate::Client::send), however long it takes: the run is suspended
    /// (status [`Waiting`](crate::Status::Waiting), no task, no memory) until one is sent.
    /// Events sent before the run waits are kept, in the order they were sent, and each is
    /// delivered once.
    ///
    /// ```ignore
    /// let payment: Payment = ctx.wait_for_event::<Payment>("paid").await?;
    /// let paid: Option<Payment> = ctx.wait_for_event("paid").timeout(Duration::from_secs(3600)).await?;
    /// let approved: bool = ctx.wait_for_event("approved").timeout_or(Duration::from_secs(60), false).await?;
    /// ```
    ///
    /// A payload that does not decode as a `T` fails the run with [`Error::EventType`].
    /// Write the type as `wait_for_event::<T>(..)` with the name as a string literal, and
    /// `#[workflow]` registers it, so that [`Client::send`](crate::Client::send) refuses a
    /// payload of the wrong type before it is stored (when the workflow is registered in the
    /// sending process).
    pub fn wait_for_event<T: EventPayload>(&mut self, name: &str) -> WaitForEvent<'_, T> {
        WaitForEvent {
            ctx: self,
            name: name.to_owned(),
            decode: decode_event::<T>,
        }
    }
}

/// What an event's payload type needs: to be decoded from the stored JSON, and to live in the
/// run's task. Implemented for every such type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the payload of an event: it does not implement `Deserialize`",
    label = "the event's payload type",
    note = "derive `serde::Deserialize` for it (and `serde::Serialize`, to send it with `Client::send`): payloads are sent and stored as JSON"
)]
pub trait EventPayload: DeserializeOwned + Send + 'static {}

impl<T: DeserializeOwned + Send + 'static> EventPayload for T {}

fn decode_event<T: DeserializeOwned>(payload: &[u8]) -> Result<T, String> {
    crate::codec::decode::<T>(payload)
}

/// An event to wait for, made by [`Context::wait_for_event`]: await it for the event, or
/// give it a timeout first.
#[must_use = "an event wait does nothing until it is awaited"]
pub struct WaitForEvent<'c, T> {
    ctx: &'c mut Context,
    name: String,
    /// Set where the payload type's bound is checked ([`Context::wait_for_event`]), so that
    /// the futures need no bound of their own and a missing `Deserialize` is one error.
    decode: fn(&[u8]) -> Result<T, String>,
}

impl<'c, T: Send + 'static> WaitForEvent<'c, T> {
    /// Gives up after `timeout` (on the runtime's clock, durably: a restart waits only for
    /// what remains): awaited, `None` if no event came in time. The deadline is kept as a
    /// durable sleep, so such a wait counts in
    /// [`Runtime::sleeping_runs`](crate::Runtime::sleeping_runs).
    pub fn timeout(self, timeout: Duration) -> WaitForEventTimeout<'c, T> {
        WaitForEventTimeout {
            wait: self,
            timeout,
        }
    }

    /// Like [`timeout`](Self::timeout), with `default` as the event if none came in time.
    pub fn timeout_or(self, timeout: Duration, default: T) -> WaitForEventOr<'c, T> {
        WaitForEventOr {
            wait: self.timeout(timeout),
            default,
        }
    }
}

impl<'c, T: Send + 'static> IntoFuture for WaitForEvent<'c, T> {
    type Output = Result<T, Error>;
    type IntoFuture = BoxFuture<'c, Result<T, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            match receive(self.ctx, self.name, self.decode, None).await? {
                Some(event) => Ok(event),
                None => unreachable!("a wait without a timeout ends only with an event"),
            }
        })
    }
}

/// An event wait with a timeout, made by [`WaitForEvent::timeout`]: awaited, `Ok(None)` if no
/// event came in time.
#[must_use = "an event wait does nothing until it is awaited"]
pub struct WaitForEventTimeout<'c, T> {
    wait: WaitForEvent<'c, T>,
    timeout: Duration,
}

impl<'c, T: Send + 'static> IntoFuture for WaitForEventTimeout<'c, T> {
    type Output = Result<Option<T>, Error>;
    type IntoFuture = BoxFuture<'c, Result<Option<T>, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        let WaitForEvent { ctx, name, decode } = self.wait;
        Box::pin(receive(ctx, name, decode, Some(self.timeout)))
    }
}

/// An event wait with a timeout and a default, made by [`WaitForEvent::timeout_or`].
#[must_use = "an event wait does nothing until it is awaited"]
pub struct WaitForEventOr<'c, T> {
    wait: WaitForEventTimeout<'c, T>,
    default: T,
}

impl<'c, T: Send + 'static> IntoFuture for WaitForEventOr<'c, T> {
    type Output = Result<T, Error>;
    type IntoFuture = BoxFuture<'c, Result<T, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        let default = self.default;
        let received = self.wait.into_future();
        Box::pin(async move { Ok(received.await?.unwrap_or(default)) })
    }
}

/// The event named `name`, or `None` once `timeout` has passed.
async fn receive<T: Send + 'static>(
    ctx: &mut Context,
    name: String,
    decode: fn(&[u8]) -> Result<T, String>,
    timeout: Option<Duration>,
) -> Result<Option<T>, Error> {
    if let Err(refused) = ctx.begin_step(EVENT_STEP) {
        return ctx.abort(refused).await;
    }
    let now = ctx.shared.clock.now();
    let deadline_ms = match timeout {
        Some(timeout) => Some(to_ms(deadline(now, timeout, "WaitForEvent::timeout")?)),
        None => None,
    };
    let wait = StoredWait {
        name: name.clone(),
        started_ms: to_ms(ctx.segment.started_at),
        deadline_ms,
        delivered: None,
    };
    let (run, position) = (ctx.run_id(), ctx.position());
    let awaited = ctx
        .shared
        .commit(WriteOp::AwaitEvent {
            run,
            position,
            wait,
        })
        .await
        .and_then(crate::store::Outcome::awaited);
    let workflow = ctx.workflow();
    match awaited {
        Ok(Awaited::Received {
            payload,
            started_ms,
        }) => {
            // The wait began when the run first reached it, maybe days ago.
            ctx.segment.started_at = from_ms(started_ms);
            tracing::debug!(%run, workflow, position, event = name, "event received");
            match decode(&payload) {
                Ok(event) => Ok(Some(event)),
                Err(reason) => {
                    let error = Error::EventType {
                        run,
                        event: name,
                        expected: std::any::type_name::<T>().to_owned(),
                        reason,
                    };
                    ctx.abort(Abort::Fail(error)).await
                }
            }
        }
        Ok(Awaited::TimedOut { started_ms }) => {
            ctx.segment.started_at = from_ms(started_ms);
            tracing::debug!(%run, workflow, position, event = name, "event wait timed out");
            Ok(None)
        }
        Ok(Awaited::Waiting { deadline_ms }) => {
            tracing::debug!(%run, workflow, position, event = name, "run waits for an event");
            // Drops the driver: the runtime resumes the run from its last committed state
            // once the event is sent (handed over) or at the deadline (the timer).
            let abort = match deadline_ms {
                Some(deadline_ms) => Abort::Suspend {
                    wake_at: from_ms(deadline_ms),
                },
                None => Abort::AwaitAnswer { deadline: None },
            };
            ctx.abort(abort).await
        }
        Err(error) => ctx.abort(Abort::Error(error)).await,
    }
}

/// An event a workflow waits for, by name and payload type: generated by `#[workflow]` for
/// each `ctx.wait_for_event::<T>("name")` it finds, so that
/// [`Client::send`](crate::Client::send) can refuse a payload of the wrong type before it is
/// stored. Not public API.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct EventType {
    /// The event's name.
    pub name: &'static str,
    /// `std::any::type_name` of the payload type.
    pub type_name: fn() -> &'static str,
    /// Whether the JSON payload decodes as the type; serde's reason if not.
    pub check: fn(&[u8]) -> Result<(), String>,
}

impl EventType {
    /// The event `name` with payload type `T`.
    pub const fn of<T: DeserializeOwned + 'static>(name: &'static str) -> EventType {
        EventType {
            name,
            type_name: std::any::type_name::<T>,
            check: check_json::<T>,
        }
    }
}

/// The probe behind the generated `Workflow::events`: `(&&EventProbe::<T>::named(n)).event_type()`
/// is the [`EventType`] if `T` can be a payload, else `None` (autoref specialisation, as in
/// `crate::storable`), so that a payload type without `Deserialize` is reported once, at the
/// `wait_for_event` call, not a second time in the generated code.
#[doc(hidden)]
pub struct EventProbe<T>(PhantomData<fn() -> T>, &'static str);

impl<T> EventProbe<T> {
    /// The probe of the event `name` with payload type `T`.
    pub fn named(name: &'static str) -> Self {
        EventProbe(PhantomData, name)
    }
}

/// First choice: `T` can be a payload.
#[doc(hidden)]
pub trait ProbeEventType {
    /// The event's type.
    fn event_type(&self) -> Option<EventType>;
}

impl<T: DeserializeOwned + 'static> ProbeEventType for &EventProbe<T> {
    fn event_type(&self) -> Option<EventType> {
        Some(EventType::of::<T>(self.1))
    }
}

/// Last choice: it cannot (the `wait_for_event` call is the error).
#[doc(hidden)]
pub trait ProbeNoEventType {
    /// Nothing.
    fn event_type(&self) -> Option<EventType> {
        None
    }
}

impl<T> ProbeNoEventType for EventProbe<T> {}

fn check_json<T: DeserializeOwned>(json: &[u8]) -> Result<(), String> {
    serde_json::from_slice::<T>(json)
        .map(drop)
        .map_err(|e| e.to_string())
}
