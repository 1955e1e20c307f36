//! A step that waits in flight until the test lets it go: the test sees it begin
//! ([`STEP_BEGAN`]), acts on the store while the run's task is live, then opens [`GATE`].
//! One gate per test binary (its statics), for one gated step at a time.

use tokio::sync::Notify;

/// Notified when [`gated_step`] begins.
pub static STEP_BEGAN: Notify = Notify::const_new();
/// What [`gated_step`] waits for.
pub static GATE: Notify = Notify::const_new();

/// Tells the test it began, then waits for the test to open the gate; returns `n + 1`.
pub async fn gated_step(n: u64) -> Result<u64, String> {
    STEP_BEGAN.notify_one();
    GATE.notified().await;
    Ok(n + 1)
}
