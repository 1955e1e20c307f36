//! Finding the data directory and opening it as a client, without ever creating one.
//!
//! The library creates a data directory that is not there (a runtime's first start needs
//! that); a tool that inspects one must not: a mistyped `--dir` would leave an empty store
//! behind and list no runs, as if all were well. So the directory is checked first, and
//! opened only if it holds a cairn store.

use std::path::{Path, PathBuf};

use cairn::Client;

use crate::failure::Failure;

/// The file LMDB keeps a store in; a directory without it holds no cairn data.
const DATA_FILE: &str = "data.mdb";

/// The directory the library itself would use: `--dir`, else `$CAIRN_DATA_DIR`, else
/// `cairn-data` in the current directory.
pub fn resolve(dir: Option<&Path>) -> PathBuf {
    match dir {
        Some(dir) => dir.to_owned(),
        None => std::env::var_os("CAIRN_DATA_DIR")
            .map_or_else(|| PathBuf::from("cairn-data"), PathBuf::from),
    }
}

/// A client on `dir`, which must already hold a cairn store. Must be called inside a tokio
/// runtime.
pub fn open(dir: &Path) -> Result<Client, Failure> {
    if !dir.is_dir() {
        return Err(Failure(format!(
            "no data directory at {} (give one with --dir or $CAIRN_DATA_DIR)",
            dir.display()
        )));
    }
    if !dir.join(DATA_FILE).is_file() {
        return Err(Failure(format!(
            "{} is not a cairn data directory: it has no {DATA_FILE}",
            dir.display()
        )));
    }
    Ok(Client::open(dir)?)
}
