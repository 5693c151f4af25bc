//! The resource-server side over HTTP (RFC 6750): authenticate a request's
//! `Authorization: Bearer` credential, check a scope, and answer a refusal
//! with the right status and `WWW-Authenticate` challenge. The framework
//! extractors (features `axum` and `actix`) are thin wrappers over this.

use std::fmt;

use bytes::Bytes;
use http::header::{HeaderValue, WWW_AUTHENTICATE};
use http::{HeaderMap, Response, StatusCode};

use super::auth::{self, AuthHeaderError};
use super::response;
use crate::oauth::token::BearerError;
use crate::resource::BearerPrincipal;
use crate::server::AuthorizationServer;
use crate::storage::{Storage, StorageErrorKind};

/// The realm of every challenge a resource server sends.
const REALM: &str = "oauth-connect";

/// Why a request to a protected resource was refused, ready to answer as
/// RFC 6750 §3 says: [`status`](Self::status) and
/// [`to_response`](Self::to_response) give the HTTP answer, with its
/// `WWW-Authenticate: Bearer realm="oauth-connect", …` challenge.
///
/// Neither `Display`, `Debug` nor the response ever contains the
/// credential that was presented.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BearerRejection {
    /// No bearer credential was sent (no `Authorization` header, or another
    /// scheme): 401 with a bare `Bearer realm="…"` challenge and no error
    /// code (RFC 6750 §3.1).
    Missing,
    /// The `Authorization` header is malformed or repeated: 400
    /// `invalid_request`.
    InvalidRequest,
    /// The credential is malformed, unknown, expired or revoked: 401
    /// `invalid_token`.
    InvalidToken,
    /// The credential is valid but lacks a scope: 403 `insufficient_scope`,
    /// naming the scope in the challenge.
    InsufficientScope {
        /// The scope the resource needs.
        scope: String,
    },
    /// Storage is unavailable; retrying may help: 503.
    Unavailable,
    /// An internal error (storage failure, or the server missing from the
    /// framework's state): 500. Details stay on the server.
    ServerError,
}

impl fmt::Display for BearerRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("a bearer token is required"),
            Self::InvalidRequest => {
                f.write_str("send exactly one well-formed Authorization header")
            }
            Self::InvalidToken => f.write_str("the access token is invalid, expired or revoked"),
            Self::InsufficientScope { scope } => {
                write!(f, "the access token lacks the scope {scope}")
            }
            Self::Unavailable => f.write_str("the service is temporarily unavailable; retry later"),
            Self::ServerError => f.write_str("the server met an unexpected condition"),
        }
    }
}

impl std::error::Error for BearerRejection {}

impl From<BearerError> for BearerRejection {
    fn from(error: BearerError) -> Self {
        match error {
            BearerError::InvalidToken => Self::InvalidToken,
            BearerError::Storage(e) => match e.kind() {
                StorageErrorKind::Unavailable | StorageErrorKind::Timeout => Self::Unavailable,
                _ => Self::ServerError,
            },
        }
    }
}

/// Whether `scope` can be quoted in a challenge as is (RFC 6750 §3:
/// `%x21 / %x23-5B / %x5D-7E`, space-separated).
fn quotable(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| matches!(b, 0x20 | 0x21 | 0x23..=0x5b | 0x5d..=0x7e))
}

impl BearerRejection {
    /// The HTTP status: 401, 400, 403, 503 or 500.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Missing | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error code of the challenge and the JSON body (RFC 6750 §3.1).
    pub fn error_code(&self) -> &'static str {
        match self {
            Self::Missing => "unauthorized",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope { .. } => "insufficient_scope",
            Self::Unavailable => "temporarily_unavailable",
            Self::ServerError => "server_error",
        }
    }

    /// The `WWW-Authenticate` challenge, if this refusal carries one: a
    /// bare `Bearer realm="oauth-connect"` for missing credentials, else
    /// with `error=` (and `scope=` for insufficient scope).
    pub fn challenge(&self) -> Option<String> {
        match self {
            Self::Missing => Some(format!("Bearer realm=\"{REALM}\"")),
            Self::InvalidRequest | Self::InvalidToken => Some(format!(
                "Bearer realm=\"{REALM}\", error=\"{}\"",
                self.error_code()
            )),
            Self::InsufficientScope { scope } if quotable(scope) => Some(format!(
                "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{scope}\""
            )),
            Self::InsufficientScope { .. } => Some(format!(
                "Bearer realm=\"{REALM}\", error=\"insufficient_scope\""
            )),
            Self::Unavailable | Self::ServerError => None,
        }
    }

    /// The whole answer: [`status`](Self::status), the
    /// [`challenge`](Self::challenge) and a JSON body
    /// `{"error": "<code>", "message": "…"}`.
    pub fn to_response(&self) -> Response<Bytes> {
        let mut answer =
            response::api_error(self.status(), self.error_code(), &self.to_string(), None);
        if let Some(value) = self
            .challenge()
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            answer.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        answer
    }
}

impl BearerPrincipal {
    /// `Ok` when the credential carries `scope`, else the 403
    /// `insufficient_scope` refusal to answer with: a one-line scope check
    /// in a handler, `bearer.require_scope("read:devices")?`.
    ///
    /// # Errors
    ///
    /// [`BearerRejection::InsufficientScope`] naming `scope`.
    pub fn require_scope(&self, scope: &str) -> Result<(), BearerRejection> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(BearerRejection::InsufficientScope {
                scope: scope.to_owned(),
            })
        }
    }

    /// `Ok` when the credential belongs to `workspace`, else the 401
    /// `invalid_token` refusal: for a resource server that serves one
    /// workspace, a credential of another one does not authenticate there
    /// (`bearer.require_workspace(&my_workspace)?`).
    ///
    /// # Errors
    ///
    /// [`BearerRejection::InvalidToken`].
    pub fn require_workspace(&self, workspace: &crate::WorkspaceId) -> Result<(), BearerRejection> {
        if &self.workspace_id == workspace {
            Ok(())
        } else {
            Err(BearerRejection::InvalidToken)
        }
    }

    /// `Ok` when the credential was issued to the app `app`, else the 401
    /// `invalid_token` refusal (RFC 6750 §3.1: the token is not valid for
    /// this resource): for a resource server that serves one app's tokens,
    /// a valid token of another app does not authenticate there
    /// (`bearer.require_app(&my_app)?`). A multi-tenant host checks the
    /// workspace with [`require_workspace`](Self::require_workspace).
    ///
    /// # Errors
    ///
    /// [`BearerRejection::InvalidToken`].
    pub fn require_app(&self, app: &crate::AppId) -> Result<(), BearerRejection> {
        if &self.app_id == app {
            Ok(())
        } else {
            Err(BearerRejection::InvalidToken)
        }
    }
}

impl<S: Storage> AuthorizationServer<S> {
    /// Authenticates a request to a protected resource from its headers:
    /// exactly one `Authorization: Bearer <credential>` (RFC 6750 §2.1),
    /// checked by [`authenticate_bearer`](Self::authenticate_bearer).
    ///
    /// This is what the `axum` and `actix` extractors call; use it directly
    /// in any other framework and answer a refusal with
    /// [`BearerRejection::to_response`].
    ///
    /// # Errors
    ///
    /// [`BearerRejection::Missing`] without a bearer credential,
    /// [`BearerRejection::InvalidRequest`] for a malformed or repeated
    /// header, [`BearerRejection::InvalidToken`] for a credential that does
    /// not authenticate, and 503/500 refusals for storage failures.
    ///
    /// # Security
    ///
    /// The credential never appears in the refusal.
    pub async fn authenticate_request(
        &self,
        headers: &HeaderMap,
    ) -> Result<BearerPrincipal, BearerRejection> {
        let credential = match auth::bearer(headers) {
            Ok(Some(credential)) => credential,
            Ok(None) | Err(AuthHeaderError::WrongScheme) => return Err(BearerRejection::Missing),
            Err(AuthHeaderError::Multiple) => return Err(BearerRejection::InvalidRequest),
            Err(AuthHeaderError::Malformed) => return Err(BearerRejection::InvalidToken),
        };
        Ok(self.authenticate_bearer(credential).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_follow_rfc_6750() {
        assert_eq!(
            BearerRejection::Missing.challenge().unwrap(),
            "Bearer realm=\"oauth-connect\""
        );
        assert_eq!(
            BearerRejection::InvalidToken.challenge().unwrap(),
            "Bearer realm=\"oauth-connect\", error=\"invalid_token\""
        );
        let scope = BearerRejection::InsufficientScope {
            scope: "read:devices".into(),
        };
        assert_eq!(scope.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            scope.challenge().unwrap(),
            "Bearer realm=\"oauth-connect\", error=\"insufficient_scope\", scope=\"read:devices\""
        );
        let odd = BearerRejection::InsufficientScope {
            scope: "a\"b".into(),
        };
        assert_eq!(
            odd.challenge().unwrap(),
            "Bearer realm=\"oauth-connect\", error=\"insufficient_scope\""
        );
        assert!(BearerRejection::ServerError.challenge().is_none());
    }

    #[test]
    fn responses_carry_status_challenge_and_json() {
        let response = BearerRejection::InvalidToken.to_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[WWW_AUTHENTICATE],
            "Bearer realm=\"oauth-connect\", error=\"invalid_token\""
        );
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(body["error"], "invalid_token");
        let response = BearerRejection::Missing.to_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[WWW_AUTHENTICATE],
            "Bearer realm=\"oauth-connect\""
        );
    }
}
