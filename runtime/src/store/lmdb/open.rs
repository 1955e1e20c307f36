//! Opening the LMDB backend for a runtime or a client: the directory lock, the environment
//! (read-only for a client that cannot write the directory), and what shutdown waits for.

use std::path::PathBuf;
use std::sync::Arc;

use super::LmdbStore;
use super::dir_lock::DirLock;
use super::options::LmdbOptions;
use crate::durability::Durability;
use crate::error::Error;
use crate::store::{Opened, Store};

impl LmdbOptions {
    /// Opens the store. A runtime (`client_only: false`) first takes the directory's lock (see
    /// [`super::dir_lock`]), so that a refused runtime never touches the directory; a client
    /// opens without it, and read-only if it cannot write the directory (a read-only copy can
    /// still be inspected).
    pub(crate) fn open(&self, durability: Durability, client_only: bool) -> Result<Opened, Error> {
        let path = self.path.clone().unwrap_or_else(|| {
            std::env::var_os("CAIRN_DATA_DIR")
                .map_or_else(|| PathBuf::from("cairn-data"), PathBuf::from)
        });
        let dir_lock = if client_only {
            None
        } else {
            Some(DirLock::acquire(&path)?)
        };
        let write_map = self
            .write_map
            .unwrap_or_else(|| LmdbStore::default_write_map(&path, durability));
        let opened =
            LmdbStore::open_with(&path, self.map_size, durability, write_map, self.read_ahead);
        let store = match opened {
            Ok(store) => store,
            Err(error) if client_only && cannot_write(&error) => {
                tracing::info!(path = %path.display(), %error, "opening the data directory read-only");
                LmdbStore::open_read_only(&path, self.map_size)?
            }
            Err(error) => return Err(error),
        };
        let closing = store.closing_event();
        let store: Arc<dyn Store> = Arc::new(store);
        Ok(Opened {
            store,
            description: path.display().to_string(),
            // Run once every handle on the store is dropped: waits until the environment is
            // closed (so the directory can be opened again in this process), then releases
            // the directory lock, once nothing of this runtime writes to it any more.
            on_closed: Box::new(move || {
                closing.wait();
                drop(dir_lock);
            }),
        })
    }
}

/// Whether `error` says this process may not write the directory.
fn cannot_write(error: &Error) -> bool {
    let Some(io) = error.io_error() else {
        return false;
    };
    matches!(
        io.kind(),
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
    )
}
