//! The conformance suite's LMDB backend: one temporary directory per store, reached with
//! `Runtime::builder().path(dir)` and `Client::open(dir)`; a child process gets the directory
//! in `CAIRN_LMDB_DIR`.

use std::path::PathBuf;
use std::process::Command;

use cairn::{Client, Error, Runtime, RuntimeBuilder};

use super::backend::Backend;

/// The variable that carries the data directory to a child process.
const CHILD_DIR_VAR: &str = "CAIRN_LMDB_DIR";

/// An LMDB data directory.
pub struct LmdbBackend {
    dir: PathBuf,
    /// Owns (and on drop removes) the directory, in the process that made it.
    _owned: Option<tempfile::TempDir>,
}

impl Backend for LmdbBackend {
    fn fresh() -> Self {
        let owned = tempfile::tempdir().expect("a temporary directory");
        LmdbBackend {
            dir: owned.path().to_owned(),
            _owned: Some(owned),
        }
    }

    fn runtime(&self) -> RuntimeBuilder {
        Runtime::builder().path(&self.dir)
    }

    fn client(&self) -> Result<Client, Error> {
        Client::open(&self.dir)
    }

    fn pass_to_child(&self, command: &mut Command) {
        command.env(CHILD_DIR_VAR, &self.dir);
    }

    fn from_parent() -> Self {
        let dir = std::env::var_os(CHILD_DIR_VAR).expect("the parent passes the data directory");
        LmdbBackend {
            dir: dir.into(),
            _owned: None,
        }
    }
}
