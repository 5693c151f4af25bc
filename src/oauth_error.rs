//! OAuth error codes (RFC 6749 §4.1.2.1 and §5.2, RFC 7009 §2.2.1).

use std::fmt;

/// An OAuth `error` code, exactly as the RFCs spell it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// The request is missing a parameter, repeats one, or is otherwise
    /// malformed.
    InvalidRequest,
    /// Client authentication failed (§5.2).
    InvalidClient,
    /// The grant (code, refresh token) is invalid, expired, revoked or was
    /// issued to another client (§5.2).
    InvalidGrant,
    /// The client may not use this grant type or response type.
    UnauthorizedClient,
    /// The grant type is not supported (§5.2).
    UnsupportedGrantType,
    /// The requested scope is invalid, unknown or exceeds what is allowed.
    InvalidScope,
    /// The resource owner or the server denied the request (§4.1.2.1).
    AccessDenied,
    /// The response type is not supported (§4.1.2.1).
    UnsupportedResponseType,
    /// The server met an unexpected condition (§4.1.2.1).
    ServerError,
    /// The server is temporarily unable to handle the request (§4.1.2.1).
    TemporarilyUnavailable,
    /// The token type cannot be revoked (RFC 7009 §2.2.1).
    UnsupportedTokenType,
    /// The `request_uri` is invalid or expired (RFC 9126 §2.2 and §4, via
    /// RFC 9101 §7).
    InvalidRequestUri,
}

impl OAuthErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidRequestUri => "invalid_request_uri",
        }
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error response: a code and a human-readable description
/// (RFC 6749 §5.2 `error_description`: ASCII, no `"` or `\`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
#[non_exhaustive]
pub struct OAuthError {
    /// The error code.
    pub code: OAuthErrorCode,
    /// What went wrong, for the developer of the client.
    pub description: &'static str,
}

impl OAuthError {
    pub(crate) const fn new(code: OAuthErrorCode, description: &'static str) -> Self {
        Self { code, description }
    }
}
