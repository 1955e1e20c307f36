//! `cairn ui`: serves the web dashboard (`cairn::dashboard`) over the data directory until the
//! process is interrupted. It binds first, so that a port in use or a refused address is one
//! line on standard error, then prints the address to open.

use cairn::Client;
use cairn::dashboard::{Options, ServeError, serve_listener};

use crate::args::UiArgs;
use crate::failure::Failure;

pub async fn ui(client: Client, how: &UiArgs) -> Result<(), Failure> {
    let options = Options {
        token: how.token.clone(),
    };
    if options.token.is_none() && !how.bind.ip().is_loopback() {
        return Err(Failure(
            ServeError::NonLoopbackWithoutToken { addr: how.bind }.to_string(),
        ));
    }
    let listener = tokio::net::TcpListener::bind(how.bind)
        .await
        .map_err(|e| Failure(format!("cannot serve on {}: {e}", how.bind)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure(format!("cannot serve on {}: {e}", how.bind)))?;
    let url = match &options.token {
        Some(_) => format!("http://{addr}/?token=<TOKEN>"),
        None => format!("http://{addr}/"),
    };
    // On standard output, flushed now: a script (or a test) waits for this line.
    println!("cairn dashboard on {url} (Ctrl-C to stop)");
    serve_listener(client, listener, options)
        .await
        .map_err(|e| Failure(e.to_string()))
}
