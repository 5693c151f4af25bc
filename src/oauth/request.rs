//! The typed requests of the OAuth endpoints: what a client sent, parsed
//! from its form or query at the HTTP edge (where RFC 6749's "parameters
//! sent without a value are treated as omitted" and "each parameter at most
//! once", §3.1 and §3.2, are enforced), and what the flows take.
//!
//! The values are as the client sent them; the flows check their meaning
//! (a scope's syntax, a redirect URI's registration, a code's binding) in
//! the order the RFCs ask, so an error answer does not depend on whether
//! the request came over HTTP or from a host calling the flow directly.

use crate::credentials::{Redacted, Secret};

/// A token request (RFC 6749 §4.1.3, §6, §4.4): the grant and its
/// parameters.
///
/// `Debug` redacts the code, the verifier and the refresh token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TokenRequest {
    /// `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.5).
    AuthorizationCode {
        /// The authorization code.
        code: Secret,
        /// The `redirect_uri` of the authorization request, when it had one.
        redirect_uri: Option<String>,
        /// The PKCE verifier, when the request had a challenge.
        code_verifier: Option<Secret>,
    },
    /// `grant_type=refresh_token` (RFC 6749 §6).
    RefreshToken {
        /// The refresh token.
        refresh_token: Secret,
        /// Narrower scopes for the new access token (space-separated).
        scope: Option<String>,
    },
    /// `grant_type=client_credentials` (RFC 6749 §4.4).
    ClientCredentials {
        /// The scopes asked for (space-separated); all the app's when
        /// `None`.
        scope: Option<String>,
    },
}

impl TokenRequest {
    /// The `grant_type` this request carries.
    pub fn grant_type(&self) -> &'static str {
        match self {
            Self::AuthorizationCode { .. } => "authorization_code",
            Self::RefreshToken { .. } => "refresh_token",
            Self::ClientCredentials { .. } => "client_credentials",
        }
    }
}

/// A revocation request (RFC 7009 §2.1).
///
/// `Debug` redacts the token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RevocationRequest {
    /// The token to revoke: an access token, a refresh token or a scoped
    /// key.
    pub token: Secret,
    /// The client's hint of the token's type (`access_token`,
    /// `refresh_token`); the server finds the type by itself.
    pub token_type_hint: Option<String>,
}

impl RevocationRequest {
    /// A request to revoke `token`, without a hint.
    pub fn new(token: impl Into<Secret>) -> Self {
        Self {
            token: token.into(),
            token_type_hint: None,
        }
    }
}

/// An introspection request (RFC 7662 §2.1).
///
/// `Debug` redacts the token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IntrospectionRequest {
    /// The token to describe: an access token, a refresh token or a scoped
    /// key.
    pub token: Secret,
    /// The client's hint of the token's type; the server finds the type
    /// by itself.
    pub token_type_hint: Option<String>,
}

impl IntrospectionRequest {
    /// A request to describe `token`, without a hint.
    pub fn new(token: impl Into<Secret>) -> Self {
        Self {
            token: token.into(),
            token_type_hint: None,
        }
    }
}

/// An authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, RFC 9126 §4):
/// the query of `GET /oauth/authorize`, or the form body a client pushes
/// (RFC 9126 §2.1, client authentication excluded).
///
/// Every field is as sent, `None` when omitted; the flow checks them in the
/// order RFC 6749 §4.1.2.1 asks (nothing goes to a redirect URI before the
/// client and the URI are verified). Build one with
/// `..Default::default()` for the fields not sent. `Debug` redacts `state`.
#[derive(Debug, Clone, Default)]
pub struct AuthorizationRequest {
    /// `client_id`.
    pub client_id: Option<String>,
    /// `response_type` (only `code` is supported).
    pub response_type: Option<String>,
    /// `redirect_uri`: optional when the client registered exactly one.
    pub redirect_uri: Option<String>,
    /// `scope`, space-separated; all the app's allowed scopes when `None`.
    pub scope: Option<String>,
    /// `state`, echoed to the client.
    pub state: Option<Redacted<String>>,
    /// `code_challenge` (RFC 7636 §4.2).
    pub code_challenge: Option<String>,
    /// `code_challenge_method` (only `S256` is accepted).
    pub code_challenge_method: Option<String>,
    /// `response_mode` (`query`, or `web_message`).
    pub response_mode: Option<String>,
    /// `prompt`: `consent` asks for the consent page even when the host's
    /// policy would answer at once.
    pub prompt: Option<String>,
    /// `request_uri` (RFC 9126 §4): a pushed request or a Connect session
    /// to open instead. Never part of a pushed request.
    pub request_uri: Option<String>,
}
