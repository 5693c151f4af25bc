//! OAuth 2.0 error codes (RFC 6749 §4.1.2.1, §4.2.2.1 and §5.2).

use std::fmt;

use serde::{Serialize, Serializer};

/// An OAuth 2.0 `error` code.
///
/// The named variants are exactly the codes of RFC 6749: §5.2 (token
/// endpoint) defines `invalid_request`, `invalid_client`, `invalid_grant`,
/// `unauthorized_client`, `unsupported_grant_type` and `invalid_scope`;
/// §4.1.2.1 (authorization endpoint) adds `access_denied`,
/// `unsupported_response_type`, `server_error` and
/// `temporarily_unavailable`. The enum is open: [`OAuthErrorCode::Other`]
/// carries a code registered elsewhere (e.g. RFC 6750's `invalid_token`,
/// RFC 9126's `invalid_request_uri`… ) or by an extension.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// The request is missing a required parameter, includes an invalid or
    /// repeated parameter, or is otherwise malformed.
    InvalidRequest,
    /// Client authentication failed (§5.2).
    InvalidClient,
    /// The grant or refresh token is invalid, expired, revoked, does not
    /// match the redirect URI, or was issued to another client (§5.2).
    InvalidGrant,
    /// The client is not authorized to use this grant or response type.
    UnauthorizedClient,
    /// The grant type is not supported (§5.2).
    UnsupportedGrantType,
    /// The requested scope is invalid, unknown, malformed, or exceeds what
    /// was granted.
    InvalidScope,
    /// The resource owner or server denied the request (§4.1.2.1).
    AccessDenied,
    /// The response type is not supported (§4.1.2.1).
    UnsupportedResponseType,
    /// The server met an unexpected condition (§4.1.2.1).
    ServerError,
    /// The server is temporarily overloaded or down (§4.1.2.1).
    TemporarilyUnavailable,
    /// Any other code. It must consist of the characters RFC 6749 allows
    /// (`%x20-21 / %x23-5B / %x5D-7E`); [`OAuthErrorCode::parse`] maps
    /// the codes above to their variants.
    Other(String),
}

impl OAuthErrorCode {
    /// The code as it appears on the wire, e.g. `"invalid_request"`.
    pub fn as_str(&self) -> &str {
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
            Self::Other(code) => code,
        }
    }

    /// The code for `code`: a named variant when RFC 6749 defines it,
    /// otherwise [`OAuthErrorCode::Other`].
    pub fn parse(code: &str) -> Self {
        match code {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            "access_denied" => Self::AccessDenied,
            "unsupported_response_type" => Self::UnsupportedResponseType,
            "server_error" => Self::ServerError,
            "temporarily_unavailable" => Self::TemporarilyUnavailable,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The HTTP status of a JSON error response with this code (§5.2):
    /// 401 for `invalid_client` (the caller may answer 400 when the client
    /// did not use the `Authorization` header), 500 for `server_error`, 503
    /// for `temporarily_unavailable`, 400 for everything else.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::InvalidClient => http::StatusCode::UNAUTHORIZED,
            Self::ServerError => http::StatusCode::INTERNAL_SERVER_ERROR,
            Self::TemporarilyUnavailable => http::StatusCode::SERVICE_UNAVAILABLE,
            _ => http::StatusCode::BAD_REQUEST,
        }
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for OAuthErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
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

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [(OAuthErrorCode, &str); 10] = [
        (OAuthErrorCode::InvalidRequest, "invalid_request"),
        (OAuthErrorCode::InvalidClient, "invalid_client"),
        (OAuthErrorCode::InvalidGrant, "invalid_grant"),
        (OAuthErrorCode::UnauthorizedClient, "unauthorized_client"),
        (
            OAuthErrorCode::UnsupportedGrantType,
            "unsupported_grant_type",
        ),
        (OAuthErrorCode::InvalidScope, "invalid_scope"),
        (OAuthErrorCode::AccessDenied, "access_denied"),
        (
            OAuthErrorCode::UnsupportedResponseType,
            "unsupported_response_type",
        ),
        (OAuthErrorCode::ServerError, "server_error"),
        (
            OAuthErrorCode::TemporarilyUnavailable,
            "temporarily_unavailable",
        ),
    ];

    #[test]
    fn codes_are_spelled_as_rfc_6749() {
        for (code, text) in ALL {
            assert_eq!(code.as_str(), text);
            assert_eq!(code.to_string(), text);
            assert_eq!(OAuthErrorCode::parse(text), code);
            assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{text}\""));
        }
    }

    #[test]
    fn other_codes_round_trip() {
        let code = OAuthErrorCode::parse("invalid_token");
        assert_eq!(code, OAuthErrorCode::Other("invalid_token".into()));
        assert_eq!(code.as_str(), "invalid_token");
        assert_eq!(code.status(), http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn statuses_follow_section_5_2() {
        assert_eq!(OAuthErrorCode::InvalidClient.status(), 401);
        assert_eq!(OAuthErrorCode::InvalidGrant.status(), 400);
        assert_eq!(OAuthErrorCode::ServerError.status(), 500);
        assert_eq!(OAuthErrorCode::TemporarilyUnavailable.status(), 503);
    }
}
