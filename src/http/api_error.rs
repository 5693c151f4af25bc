//! The answer of the management and Connect API to an [`Error`]: its
//! status and code from the one table beside the error ([`Error::status`],
//! [`Error::code`]), the JSON body `{"error", "message", "field"?}`, and the
//! headers the case needs (an authentication challenge, `Retry-After`,
//! `Vary: Origin`).

use bytes::Bytes;
use http::Response;
use http::header::{HeaderValue, VARY};

use super::response;
use crate::error::{AuthFailure, Error, FieldError, Forbidden};

/// The `WWW-Authenticate` challenge of client credentials (RFC 6749 §2.3.1).
const BASIC: &str = r#"Basic realm="oauth-connect""#;
/// The challenges of Bearer keys (RFC 6750 §3): no error code when none was
/// sent, `invalid_token` for a wrong one, `invalid_request` for a malformed
/// header.
const BEARER: &str = r#"Bearer realm="oauth-connect""#;
const BEARER_INVALID: &str = r#"Bearer realm="oauth-connect", error="invalid_token""#;
const BEARER_MALFORMED: &str = r#"Bearer realm="oauth-connect", error="invalid_request""#;

/// The response to `error`.
pub(super) fn answer(error: &Error) -> Response<Bytes> {
    let status = error.status();
    let code = error.code();
    let body = match error {
        Error::Invalid(field) => {
            let (message, path) = field_message(field);
            response::api_error(status, code, &message, path.as_deref())
        }
        // The wire never details a storage or RNG failure.
        Error::Storage(e) => super::storage_error(e),
        Error::Random(_) => response::server_error(),
        _ => response::api_error(status, code, &error.to_string(), None),
    };
    match error {
        Error::Unauthenticated(failure) => response::with_challenge(body, challenge(*failure)),
        Error::RateLimited { retry_after, .. } => response::with_retry_after(body, *retry_after),
        Error::Forbidden(Forbidden::OriginNotAllowed) => {
            let mut body = body;
            body.headers_mut()
                .append(VARY, HeaderValue::from_static("Origin"));
            body
        }
        _ => body,
    }
}

/// The message and the `field` of a 400 naming a field; a problem with the
/// body as a whole (an update that changes nothing) names none.
fn field_message(field: &FieldError) -> (String, Option<String>) {
    if field.field == "body" {
        (field.problem.to_string(), None)
    } else {
        (field.to_string(), Some(field.path()))
    }
}

/// The challenge of the credential that failed.
fn challenge(failure: AuthFailure) -> &'static str {
    match failure {
        AuthFailure::MissingAdminKey => BEARER,
        AuthFailure::InvalidAdminKey | AuthFailure::InvalidPublishableKey => BEARER_INVALID,
        AuthFailure::MultipleAuthorizationHeaders => BEARER_MALFORMED,
        _ => BASIC,
    }
}

#[cfg(test)]
mod tests {
    use http::StatusCode;
    use http::header::{RETRY_AFTER, WWW_AUTHENTICATE};

    use super::*;
    use crate::error::{Conflict, Problem, Resource, Throttle};
    use crate::storage::{StorageError, StorageErrorKind};

    fn body(response: &Response<Bytes>) -> serde_json::Value {
        serde_json::from_slice(response.body()).unwrap()
    }

    /// Every kind of error answers with the status and code of the one
    /// table, [`Error::status`] and [`Error::code`], in the body's `error`,
    /// with the header its case needs; storage and RNG failures say
    /// nothing of their cause.
    #[test]
    fn each_error_answers_with_its_status_code_and_headers() {
        let minute = time::Duration::MINUTE;
        let cases: Vec<(Error, StatusCode, &str, Option<&str>)> = vec![
            (
                FieldError::new("name", Problem::Required).into(),
                StatusCode::BAD_REQUEST,
                "invalid_request",
                None,
            ),
            (
                Error::PublicApp,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                None,
            ),
            (
                Resource::App.into(),
                StatusCode::NOT_FOUND,
                "not_found",
                None,
            ),
            (
                Conflict::TooManyKeys { max: 10 }.into(),
                StatusCode::CONFLICT,
                "conflict",
                None,
            ),
            (
                AuthFailure::InvalidSecret.into(),
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                Some(BASIC),
            ),
            (
                AuthFailure::MissingAdminKey.into(),
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                Some(BEARER),
            ),
            (
                AuthFailure::InvalidPublishableKey.into(),
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                Some(BEARER_INVALID),
            ),
            (
                AuthFailure::MultipleAuthorizationHeaders.into(),
                StatusCode::BAD_REQUEST,
                "invalid_request",
                Some(BEARER_MALFORMED),
            ),
            (
                Forbidden::OriginNotAllowed.into(),
                StatusCode::FORBIDDEN,
                "forbidden",
                None,
            ),
            (
                Error::RateLimited {
                    limit: Throttle::FailedAdminKeys,
                    retry_after: minute,
                },
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                None,
            ),
            (
                StorageError::with_source(StorageErrorKind::Timeout, "db: secret detail").into(),
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                None,
            ),
            (
                StorageError::with_source(StorageErrorKind::Other, "db: secret detail").into(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                None,
            ),
        ];
        for (error, status, code, challenge) in cases {
            assert_eq!(error.status(), status, "{error:?}");
            assert_eq!(error.code(), code, "{error:?}");
            let response = answer(&error);
            assert_eq!(response.status(), status, "{error:?}");
            let json = body(&response);
            assert_eq!(json["error"], code, "{error:?}");
            assert!(!json.to_string().contains("secret detail"), "{json}");
            assert_eq!(
                response
                    .headers()
                    .get(WWW_AUTHENTICATE)
                    .map(|v| v.to_str().unwrap()),
                challenge,
                "{error:?}"
            );
            let retry = response.headers().get(RETRY_AFTER);
            assert_eq!(retry.is_some(), status == StatusCode::TOO_MANY_REQUESTS);
        }
    }

    /// A field error names its path; a problem with the body as a whole
    /// names none.
    #[test]
    fn a_field_error_names_its_field() {
        let named = body(&answer(
            &FieldError::at("redirectUris", 2, Problem::InvalidCharacters).into(),
        ));
        assert_eq!(named["field"], "redirectUris[2]");
        let whole = body(&answer(
            &FieldError::new(
                "body",
                Problem::Registry(crate::error::RegistryProblem::NothingToUpdate),
            )
            .into(),
        ));
        assert!(whole.get("field").is_none(), "{whole}");
    }
}
