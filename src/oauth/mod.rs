//! The OAuth 2.0 flows: authorization (RFC 6749 §4.1, RFC 9126 PAR, RFC
//! 9207), PKCE (RFC 7636), the token endpoint, revocation (RFC 7009),
//! introspection (RFC 7662) and metadata (RFC 8414).
//!
//! For hosts that render their own pages or call the flows without
//! [`AuthorizationServer::handle`](crate::AuthorizationServer::handle): the
//! consent prompt and the decision, the redirects and error pages, the token
//! and introspection responses, the protocol's errors, and the scope and
//! redirect-URI values.

pub(crate) mod authorize;
pub(crate) mod client_auth;
pub(crate) mod consent_seal;
pub(crate) mod error;
pub(crate) mod metadata;
pub(crate) mod pkce;
pub(crate) mod request;
pub(crate) mod token;

pub use crate::error::ClientAuthError;
pub use crate::model::redirect::{RedirectUri, RedirectUriError, RedirectUriKind};
pub use crate::model::scope::{Scope, ScopeError, ScopeSet};
pub use crate::storage::grants::ResponseMode;
pub use authorize::{
    AuthorizeError, AuthorizeOutcome, ClientRedirect, ConsentHandle, ConsentPrompt, Decision,
    ErrorPage, PushError, PushedRequest, REQUEST_URI_PREFIX,
};
pub use client_auth::{BasicCredentials, ClientAuth};
pub use error::{OAuthError, OAuthErrorCode};
pub use metadata::Metadata;
pub use request::{AuthorizationRequest, IntrospectionRequest, RevocationRequest, TokenRequest};
pub use token::{BearerError, Introspection, TokenError, TokenResponse};
