//! The handle a workflow body receives: runs steps and commits states.
//!
//! `step` and `task` are what users call; `__checkpoint` and `__decode_state` are what the
//! generated driver calls between steps. Neither of the latter returns on failure: they put
//! the error in the run's [`AbortSlot`] and park, and the runtime's supervisor ends the run, so
//! the generated code never has to fit runtime errors into the user's error type.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use tracing::Instrument;

use crate::error::Error;
use crate::run::RunId;
use crate::runtime::{Flow, Shared, Transition};
use crate::storable::Codec;
use crate::supervise::{Abort, AbortSlot};
use crate::workflow::StateInfo;

/// The context of one run, passed to the workflow fn as `ctx: &mut Context`.
///
/// Steps take `&mut self` although they need no mutation today, so that per-step bookkeeping
/// (attempts, idempotency keys, key-value state) can be added without changing the API.
pub struct Context {
    run: RunId,
    workflow: &'static str,
    shared: Arc<Shared>,
    slot: AbortSlot,
}

impl Context {
    pub(crate) fn new(
        run: RunId,
        workflow: &'static str,
        shared: Arc<Shared>,
        slot: AbortSlot,
    ) -> Context {
        Context {
            run,
            workflow,
            shared,
            slot,
        }
    }

    /// The id of this run.
    pub fn run_id(&self) -> RunId {
        self.run
    }

    /// The name of this run's workflow.
    pub fn workflow(&self) -> &'static str {
        self.workflow
    }

    /// Runs `fut` as a step named `name` and returns its output.
    ///
    /// The step's result becomes durable at the next checkpoint, which the generated code puts
    /// right after the `.await`; a step interrupted by a crash before that runs again.
    // The returned future captures the borrow of the context anyway (edition 2024 captures
    // every lifetime in scope); writing `+ '_` would also demand `F: '_` for no gain.
    pub fn step<F: Future + Send>(
        &mut self,
        name: &'static str,
        fut: F,
    ) -> impl Future<Output = F::Output> + Send {
        let span =
            tracing::debug_span!("step", run = %self.run, workflow = self.workflow, step = name);
        fut.instrument(span)
    }

    /// Runs `f(arg)` as a step named after the function (the last segment of its path).
    ///
    /// Inside `#[workflow]`, the macro accepts `ctx.task(f, a, b, ...)` with any number of
    /// arguments and names the step after the path written at the call site, which stays the
    /// same when the function moves; this method is the fallback for a direct call.
    pub fn task<F, A, Fut>(&mut self, f: F, arg: A) -> impl Future<Output = Fut::Output> + Send
    where
        F: FnOnce(A) -> Fut,
        Fut: Future + Send,
    {
        let name = short_name(std::any::type_name::<F>());
        self.step(name, f(arg))
    }

    /// Commits `state` as the run's new state and returns once it is durable. `codec` only
    /// carries the encoding's type (see [`Codec`]).
    #[doc(hidden)]
    pub fn __checkpoint<'a, S, C>(
        &'a mut self,
        _codec: &C,
        state: &'a S,
    ) -> impl Future<Output = ()> + Send + 'a
    where
        S: StateInfo,
        C: Codec<S>,
    {
        // Encoding before the first await keeps `S` out of the future, so it is `Send`
        // whatever `S` is.
        let encoded = C::encode(state);
        let state_name = state.state_name();
        let step = state.step_name();
        async move {
            let bytes = match encoded {
                Ok(bytes) => bytes,
                Err(reason) => {
                    let error = Error::Encode {
                        workflow: self.workflow.to_owned(),
                        what: "state",
                        reason,
                    };
                    return self.abort(Abort::Error(error)).await;
                }
            };
            let run = self.run;
            let committed = self
                .shared
                .blocking(move |store| store.commit_state(run, state_name, step, &bytes))
                .await;
            let number = match committed {
                Ok(number) => number,
                Err(error) => return self.abort(Abort::Error(error)).await,
            };
            tracing::debug!(%run, workflow = self.workflow, state = state_name, step, number, "committed");
            if let Some(hook) = &self.shared.hook {
                let transition = Transition {
                    run,
                    workflow: self.workflow,
                    state: state_name,
                    step,
                    number,
                };
                if let Flow::Halt = hook(&transition) {
                    self.abort(Abort::Halt).await
                }
            }
        }
    }

    /// Decodes the state bytes of a resumed run. `codec` only carries the encoding's type.
    #[doc(hidden)]
    pub fn __decode_state<S, C: Codec<S>>(
        &mut self,
        _codec: &C,
        bytes: &[u8],
    ) -> impl Future<Output = S> + Send {
        DecodeState {
            ctx: self,
            bytes: bytes.to_vec(),
            decode: C::decode,
        }
    }

    /// Ends the run through the supervisor: records why, then never completes.
    pub(crate) async fn abort<T>(&self, abort: Abort) -> T {
        self.slot.set(abort);
        std::future::pending().await
    }

    pub(crate) fn corrupt(&self, reason: String) -> Abort {
        Abort::Error(Error::CorruptState {
            run: self.run,
            workflow: self.workflow.to_owned(),
            reason,
        })
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("run", &self.run)
            .field("workflow", &self.workflow)
            .finish_non_exhaustive()
    }
}

/// Decodes in `poll` rather than up front, so that the future holds no `S` and is `Send`
/// without asking `S: Send`.
struct DecodeState<'a, S> {
    ctx: &'a Context,
    bytes: Vec<u8>,
    decode: fn(&[u8]) -> Result<S, String>,
}

impl<S> Future for DecodeState<'_, S> {
    type Output = S;

    fn poll(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<S> {
        match (self.decode)(&self.bytes) {
            Ok(state) => Poll::Ready(state),
            Err(e) => {
                // Parked for good: the supervisor sees the slot after this `Pending`.
                self.ctx
                    .slot
                    .set(self.ctx.corrupt(format!("state does not decode: {e}")));
                Poll::Pending
            }
        }
    }
}

/// `crate::module::fetch_papers::<T>` -> `fetch_papers`.
fn short_name(type_name: &'static str) -> &'static str {
    let path = type_name.split('<').next().unwrap_or(type_name);
    let path = path.trim_end_matches("::");
    path.rsplit("::").next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::short_name;

    #[test]
    fn short_names() {
        assert_eq!(short_name("a::b::fetch"), "fetch");
        assert_eq!(short_name("fetch"), "fetch");
        assert_eq!(short_name("a::b::fetch<u32, c::D>"), "fetch");
        assert_eq!(short_name("a::b::fetch::<u32>"), "fetch");
        assert_eq!(short_name("a::b::{{closure}}"), "{{closure}}");
    }
}
