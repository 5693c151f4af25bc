//! A pending authorization as the consent page shows it, and the resource
//! owner's decision on it.

use time::OffsetDateTime;

use super::redirect::ClientRedirect;
use crate::credentials::{ConnectToken, Secret};
use crate::model::ids::Subject;
use crate::model::scope::ScopeSet;
use crate::registry::apps::OAuthApp;
use crate::storage::ResponseMode;

/// The handle of a pending authorization, as the consent form posts it back
/// (`session`).
///
/// For a request made at the authorization endpoint it is the request
/// itself, sealed: encrypted and authenticated (ChaCha20-Poly1305) under a
/// key derived from the server key ring, so nothing is stored before the
/// resource owner decides. For a pushed request or a Connect session it is
/// the session's Connect token.
///
/// `Debug` redacts it.
#[derive(Clone, Debug)]
pub struct ConsentHandle(Secret);

impl ConsentHandle {
    /// The handle, for the form's hidden field.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    pub(crate) fn sealed(handle: String) -> Self {
        Self(Secret::new(handle))
    }
}

impl From<&ConnectToken> for ConsentHandle {
    fn from(token: &ConnectToken) -> Self {
        Self(Secret::from(token.expose_secret()))
    }
}

/// A validated authorization request waiting for the resource owner: what
/// the consent page shows and the hidden fields its form posts back.
///
/// `Debug` redacts the session handle and the CSRF token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConsentPrompt {
    /// The pending authorization's handle; the form posts it back as
    /// `session`.
    pub session: ConsentHandle,
    /// The CSRF token bound to the session; the form posts it back as
    /// `csrf_token`.
    pub csrf_token: Secret,
    /// The client's app (show its name).
    pub app: OAuthApp,
    /// The requested scopes.
    pub scopes: ScopeSet,
    /// Where the browser returns.
    pub redirect_uri: String,
    /// When the prompt expires.
    pub expires_at: OffsetDateTime,
    /// Whether this is a Connect session (show the Connect page instead).
    pub connect: bool,
    /// How the decision's response reaches the client: a
    /// [`ResponseMode::WebMessage`] page keeps its opener (its
    /// Cross-Origin-Opener-Policy must not sever it).
    pub response_mode: ResponseMode,
}

/// What the authorization endpoint answers with
/// [`AuthorizationServer::authorize_request`](crate::AuthorizationServer::authorize_request).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AuthorizeOutcome {
    /// Ask the resource owner: show the consent page (or, when
    /// [`ConsentPrompt::connect`], the Connect page).
    Consent(Box<ConsentPrompt>),
    /// The host's consent policy already covers the request: send the
    /// browser here (`303`), with `code`, `state` and `iss`.
    Approved(ClientRedirect),
}

/// The resource owner's decision on the consent page.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Approve, as `subject`, for `scopes` (a subset of the requested scopes;
    /// `None` grants all of them).
    Approve {
        /// The resource owner, as the host's login identified them.
        subject: Subject,
        /// The scopes granted; `None` for all requested.
        scopes: Option<ScopeSet>,
    },
    /// Deny: the client gets `access_denied`.
    Deny,
}
