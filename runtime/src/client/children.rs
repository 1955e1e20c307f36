//! Child workflows as the client sees them: which run started a run
//! ([`Client::parent`]) and which runs a run started ([`Client::children`]), read from the
//! store, so from any process (see [`Context::child`](crate::Context::child)).

use crate::client::Client;
use crate::error::Error;
use crate::run::RunId;

impl Client {
    /// The run that started `run` with [`Context::child`](crate::Context::child) (or a
    /// [`child`](crate::child) branch of `parallel`), if `run` is a child.
    pub fn parent(&self, run: RunId) -> Result<Option<RunId>, Error> {
        Ok(self
            .shared
            .store()?
            .parent_of(run)?
            .map(|(parent, _)| parent))
    }

    /// The runs `run` started as children, in the order of the awaits that started them
    /// (branch order inside one `parallel` call); empty for a run that started none.
    pub fn children(&self, run: RunId) -> Result<Vec<RunId>, Error> {
        self.shared.store()?.children_of(run)
    }
}
