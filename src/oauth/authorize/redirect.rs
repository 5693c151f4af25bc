//! The authorization response for the client (RFC 6749 §4.1.2,
//! §4.1.2.1, RFC 9207): where it goes, with which parameters, and how.

use crate::credentials::{Redacted, RedactedUrl};
use crate::model::redirect::append_query;
use crate::storage::{ConnectEmbed, ResponseMode};

/// The authorization response (or error response) for the client: where it
/// goes and how.
///
/// With [`ResponseMode::Query`] the browser is redirected to
/// [`location`](Self::location). With [`ResponseMode::WebMessage`] a page
/// posts [`params`](Self::params) to the window that opened the
/// authorization page, with the origin of
/// [`redirect_uri`](Self::redirect_uri) as the target origin. A Connect
/// session opened by the embed script carries its [`embed`](Self::embed)
/// marker: the completion page posts the result to that window, and
/// [`location`](Self::location) is the fallback when it is gone.
///
/// `Debug` shows the redirect URI and the parameters' names, never their
/// values (the code, a scoped key).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientRedirect {
    /// The full URL, parameters included: the redirect URI exactly as
    /// registered or requested, with the response parameters appended.
    pub location: RedactedUrl,
    /// The redirect URI, without the response parameters.
    pub redirect_uri: String,
    /// The response parameters, in order (`code`, `state`, `iss`, … or
    /// `error`, `error_description`, `state`, `iss`).
    pub params: Redacted<Vec<(String, String)>>,
    /// How the response reaches the client.
    pub response_mode: ResponseMode,
    /// For a Connect session opened by the embed script: how, and its
    /// nonce.
    pub embed: Option<ConnectEmbed>,
}

impl ClientRedirect {
    /// The response `params` for `redirect_uri`, delivered by `mode`.
    pub(crate) fn new(redirect_uri: &str, params: &[(&str, &str)], mode: ResponseMode) -> Self {
        Self {
            location: RedactedUrl::new(append_query(redirect_uri, params)),
            redirect_uri: redirect_uri.to_owned(),
            params: Redacted::new(
                params
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            response_mode: mode,
            embed: None,
        }
    }

    /// The value of the response parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}
