//! The errors of the client endpoints (token, revocation, introspection,
//! PAR): RFC 6749 §5.2 answers, and what the limits count.

use crate::oauth::error::{OAuthError, OAuthErrorCode};
use crate::storage::{StorageError, StorageErrorKind};

/// An error of the token, revocation, introspection or PAR endpoints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
#[non_exhaustive]
pub struct TokenError {
    /// The OAuth error.
    pub error: OAuthError,
    /// Whether the client used `Authorization: Basic`: an `invalid_client`
    /// answer then carries `WWW-Authenticate: Basic` (RFC 6749 §5.2).
    pub basic_auth: bool,
    /// Whether a presented client id and secret failed to authenticate:
    /// the failures [`AuthorizationServer::handle`] counts per address.
    pub(crate) failed_authentication: FailedAuthentication,
}

/// A failed client authentication, as the limits count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailedAuthentication {
    /// None (or not a failure of the presented credentials).
    No,
    /// No client has the presented id: counted for the address alone, so
    /// made-up ids do not each make a counter.
    UnknownClient,
    /// A registered client's secret was wrong, missing or unexpected:
    /// counted for that client and the address.
    Client,
}

impl TokenError {
    pub(crate) fn new(code: OAuthErrorCode, description: &'static str) -> Self {
        Self {
            error: OAuthError::new(code, description),
            basic_auth: false,
            failed_authentication: FailedAuthentication::No,
        }
    }

    /// The HTTP status: 401 for `invalid_client`, 503 for
    /// `temporarily_unavailable`, 500 for `server_error`, else 400.
    pub fn status(&self) -> u16 {
        match self.error.code {
            OAuthErrorCode::InvalidClient => 401,
            OAuthErrorCode::TemporarilyUnavailable => 503,
            OAuthErrorCode::ServerError => 500,
            _ => 400,
        }
    }
}

impl From<StorageError> for TokenError {
    fn from(e: StorageError) -> Self {
        match e.kind() {
            StorageErrorKind::Unavailable | StorageErrorKind::Timeout => Self::new(
                OAuthErrorCode::TemporarilyUnavailable,
                "storage is unavailable; retry",
            ),
            _ => Self::new(OAuthErrorCode::ServerError, "internal error"),
        }
    }
}

impl From<crate::model::random::RandomError> for TokenError {
    fn from(_: crate::model::random::RandomError) -> Self {
        Self::new(OAuthErrorCode::ServerError, "internal error")
    }
}

impl From<OAuthError> for TokenError {
    fn from(error: OAuthError) -> Self {
        Self {
            error,
            basic_auth: false,
            failed_authentication: FailedAuthentication::No,
        }
    }
}

/// `invalid_request` with `description`.
pub(crate) fn invalid_request(description: &'static str) -> TokenError {
    TokenError::new(OAuthErrorCode::InvalidRequest, description)
}

/// `invalid_grant` with `description`.
pub(crate) fn invalid_grant(description: &'static str) -> TokenError {
    TokenError::new(OAuthErrorCode::InvalidGrant, description)
}
