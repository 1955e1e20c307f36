//! What every handler shares: the client, the per-server CSRF token and the access token.

use std::sync::Arc;

use cairn_runtime::Client;

/// Shared by every request of one router.
#[derive(Clone)]
pub(crate) struct AppState {
    pub client: Client,
    pub secrets: Arc<Secrets>,
}

/// The two tokens a router checks.
pub(crate) struct Secrets {
    /// Random per router, embedded in each page and required on every POST.
    pub csrf: String,
    /// From [`Options::token`](crate::Options::token).
    pub access: Option<String>,
}

impl Secrets {
    pub fn new(access: Option<String>) -> Secrets {
        Secrets {
            csrf: random_token(),
            access,
        }
    }
}

/// 32 random bytes from the operating system, as hex.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system gives random bytes");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two secrets in time independent of where they differ.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
