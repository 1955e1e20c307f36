//! What a dashboard is configured with: today, the access token that a non-loopback bind
//! requires.

/// How a dashboard serves.
///
/// Without a token the dashboard must be bound to a loopback address (see
/// [`serve`](crate::serve)) and answers only requests whose `Host` is a loopback name, so that
/// a web page elsewhere cannot reach it through DNS rebinding. With a token, every request
/// must carry it: `Authorization: Bearer TOKEN` from scripts, or, from a browser, open
/// `/?token=TOKEN` once: the dashboard then sets an `HttpOnly`, `SameSite=Strict` cookie and
/// redirects to `/`, so that the token leaves the address bar.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The access token every request must carry; `None`: loopback only.
    pub token: Option<String>,
}

impl Options {
    /// Options with an access token.
    pub fn with_token(token: impl Into<String>) -> Options {
        Options {
            token: Some(token.into()),
        }
    }
}
