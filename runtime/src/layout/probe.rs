//! Asking a workflow's driver about its own state enum, whose type has no name outside the
//! generated body (its type parameters are inferred there).
//!
//! The driver's first act on a resumed run is `ctx.__decode_state(&codec, &bytes)`, generic
//! over the state enum. A probe sets a thread-local question, polls the driver once on this
//! thread, and that decode answers it instead of decoding for real: with the traced
//! description of the enum ([`Probe::Describe`]), or with whether given bytes decode as the
//! enum ([`Probe::Decode`], to check a migrated state before it is committed). The driver then
//! parks and is dropped: no user code runs, nothing is written.

use std::cell::RefCell;
use std::sync::Arc;
use std::task::Waker;

use super::StateLayout;
use crate::context::Context;
use crate::registry::{Entry, ErasedStart};
use crate::run::RunId;
use crate::runtime::Shared;
use crate::supervise::AbortSlot;

/// The question asked of a driver, and its answer once given.
pub(crate) enum Probe {
    Describe(Option<StateLayout>),
    Decode(Option<Result<(), String>>),
}

thread_local! {
    static PROBE: RefCell<Option<Probe>> = const { RefCell::new(None) };
}

/// Called by the generated driver's decode of a stored state: answers the probe asked on this
/// thread, if any, and says whether it did (the driver then parks instead of decoding).
pub(crate) fn intercept<S>(
    describe: fn() -> StateLayout,
    decode: fn(&[u8]) -> Result<S, String>,
    bytes: &[u8],
) -> bool {
    PROBE.with(|probe| match probe.borrow_mut().as_mut() {
        None => false,
        Some(Probe::Describe(answer)) => {
            *answer = Some(describe());
            true
        }
        Some(Probe::Decode(answer)) => {
            *answer = Some(decode(bytes).map(drop));
            true
        }
    })
}

/// Polls `entry`'s driver once on a resume from `bytes`, with `probe` asked; returns it
/// answered (or not, for a workflow written by hand, whose driver never decodes that way).
fn ask(shared: &Arc<Shared>, entry: &dyn Entry, bytes: Vec<u8>, probe: Probe) -> Probe {
    let mut ctx = Context::new(
        RunId(0),
        entry.name(),
        shared.clone(),
        AbortSlot::default(),
        1,
    );
    let before = PROBE.with(|p| p.replace(Some(probe)));
    {
        let mut driver = entry.drive(&mut ctx, ErasedStart::Resume(bytes));
        let mut cx = std::task::Context::from_waker(Waker::noop());
        // The generated driver decodes before any user code; a hand-written one might do
        // anything, and a panic there only leaves the probe unanswered.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = driver.as_mut().poll(&mut cx);
        }));
    }
    PROBE
        .with(|p| p.replace(before))
        .unwrap_or(Probe::Describe(None))
}

/// The description of `entry`'s state enum.
pub(crate) fn describe(shared: &Arc<Shared>, entry: &dyn Entry) -> StateLayout {
    match ask(shared, entry, Vec::new(), Probe::Describe(None)) {
        Probe::Describe(Some(layout)) => layout,
        _ => StateLayout::untraced(
            "the workflow's driver does not describe its states (not made by #[workflow])"
                .to_owned(),
            Vec::new(),
        ),
    }
}

/// Whether `bytes` (a sealed state) decode as `entry`'s state enum.
pub(crate) fn decodes(
    shared: &Arc<Shared>,
    entry: &dyn Entry,
    bytes: Vec<u8>,
) -> Result<(), String> {
    match ask(shared, entry, bytes, Probe::Decode(None)) {
        Probe::Decode(Some(answer)) => answer,
        _ => Err("the workflow's driver cannot check a state (not made by #[workflow])".to_owned()),
    }
}

/// Describes every registered workflow (current and previous versions) once, at start, and
/// refuses a previous version whose layout is the current one's.
pub(crate) fn describe_registered(shared: &Arc<Shared>) -> Result<(), crate::error::Error> {
    let started = std::time::Instant::now();
    let entries = shared.registry.values().chain(shared.previous.values());
    for entry in entries {
        if entry.layout().is_none() {
            let layout = describe(shared, entry.as_ref());
            if let Some(reason) = layout.untraced_reason() {
                tracing::warn!(
                    workflow = entry.name(),
                    "{reason}: runs of this workflow are told apart by the fingerprint of the written types only"
                );
            }
            entry.set_layout(layout);
        }
    }
    tracing::debug!(
        workflows = shared.registry.len() + shared.previous.len(),
        micros = started.elapsed().as_micros(),
        "described the state layouts"
    );
    for previous in shared.previous.values() {
        let current = shared.registry.get(previous.name());
        if current.is_some_and(|current| current.layout_id() == previous.layout_id()) {
            return Err(crate::error::Error::DuplicateWorkflow {
                name: previous.name().to_owned(),
            });
        }
    }
    Ok(())
}
