//! Sessions: runs grouped so that a conversation's durable state carries over between them.
//!
//! A chat workflow handles one turn per run. `client.start_in_session(id, workflow, input)`
//! starts the session's next run with a copy of the durable key-value state
//! ([`Context::state`](crate::Context::state)) that the session's previous run finished with,
//! so the workflow reads the conversation so far with `ctx.state().get("messages")` and adds
//! to it; no macro support is needed. The copy is made in the transaction that creates the
//! run, after the previous run has finished (its state is final then), and each run keeps its
//! own state, so a turn that fails leaves the one before it intact.

use crate::client::Client;
use crate::context::state::RunState;
use crate::error::Error;
use crate::registry::encode_input;
use crate::run::RunId;
use crate::store::{RunRecord, WriteOp};
use crate::workflow::Workflow;

/// Longest session id, in bytes: LMDB's key limit, as the id is the key of its run list.
pub const MAX_SESSION_ID_BYTES: usize = 511;

/// [`Error::InvalidArgument`] for a session id that cannot be a key: empty, or over
/// [`MAX_SESSION_ID_BYTES`].
fn check_session(call: &'static str, session: &str) -> Result<(), Error> {
    if !session.is_empty() && session.len() <= MAX_SESSION_ID_BYTES {
        return Ok(());
    }
    Err(Error::InvalidArgument {
        call,
        reason: format!(
            "the session id is {} bytes long; it must be 1 to {MAX_SESSION_ID_BYTES} bytes",
            session.len()
        ),
    })
}

impl Client {
    /// Starts a run of `workflow` in session `session` (created on first use), starting from
    /// the durable state of the session's previous run. [`Error::SessionBusy`] while that run
    /// has not finished; [`Error::InvalidArgument`] for an empty session id or one over
    /// [`MAX_SESSION_ID_BYTES`].
    pub async fn start_in_session<W: Workflow>(
        &self,
        session: &str,
        workflow: W,
        input: W::Input,
    ) -> Result<RunId, Error> {
        let _ = workflow;
        check_session("Client::start_in_session", session)?;
        let entry = self.shared.typed_entry::<W>()?.clone();
        let input = encode_input::<W>(&input)?;
        let record = RunRecord::new(
            entry.name(),
            entry.layout_id(),
            input.clone(),
            self.shared.now_ms(),
        );
        let session = session.to_owned();
        let run = self
            .shared
            .commit(WriteOp::CreateInSession {
                session: session.clone(),
                record,
            })
            .await?
            .created()?;
        tracing::info!(%run, session, workflow = entry.name(), "run started in a session");
        self.shared
            .launch(run, entry, crate::registry::ErasedStart::New(input), 0)
            .await?;
        Ok(run)
    }

    /// The runs of `session`, oldest first (empty for an unknown session).
    pub fn session_runs(&self, session: &str) -> Result<Vec<RunId>, Error> {
        check_session("Client::session_runs", session)?;
        self.shared.store()?.session_runs(session)
    }

    /// The durable state of `session`: its latest run's, as of that run's last commit (empty
    /// for an unknown session).
    pub fn session_state(&self, session: &str) -> Result<RunState, Error> {
        match self.session_runs(session)?.last() {
            Some(&run) => self.state(run),
            None => Ok(RunState::new(RunId(0), Default::default())),
        }
    }
}
