//! CORS (the Fetch standard, §3.2) for the endpoints a web page calls
//! cross-origin: `POST /v1/connect/sessions` with a publishable key, and
//! `GET /connect/status`, which the embed script asks before it opens a
//! modal (a simple request, no preflight; readable by any origin that
//! holds the Connect token, see `connect_page::status`).
//!
//! A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`,
//! Fetch §4.8) is answered the same way for every origin: 204, naming the
//! requesting origin. It reads nothing: whether some app (of any workspace)
//! lists an origin in its `allowedOrigins` is not anyone's to ask. The real
//! check is on the actual request, which must carry a publishable key whose
//! own app allows its `Origin` (403 otherwise, without CORS headers).
//! Actual responses name the one origin that was checked
//! (`Access-Control-Allow-Origin: <origin>`, never `*`), with `Vary: Origin`
//! and without `Access-Control-Allow-Credentials`: the endpoint uses no
//! cookies.

use bytes::Bytes;
use http::Response;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, HeaderMap, HeaderValue, ORIGIN, VARY,
};

use super::response;

/// How long a browser may cache a successful preflight, in seconds.
pub(super) const PREFLIGHT_MAX_AGE_SECS: u32 = 600;

/// The request's single `Origin` header, if it has exactly one that is
/// visible ASCII.
pub(super) fn origin(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(ORIGIN).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().ok(),
        _ => None,
    }
}

/// `response` readable by a script of `origin`: `Access-Control-Allow-Origin`
/// naming it, `Vary: Origin`, and `Retry-After` exposed (not a safelisted
/// response header, Fetch §2.2.6).
pub(super) fn allow_origin(mut response: Response<Bytes>, origin: &str) -> Response<Bytes> {
    let Ok(value) = HeaderValue::from_str(origin) else {
        return response;
    };
    let headers = response.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, value);
    headers.append(VARY, HeaderValue::from_static("Origin"));
    headers.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Retry-After"),
    );
    response
}

/// 403 for an origin that may not call the endpoint; no CORS headers.
pub(super) fn forbidden_origin() -> Response<Bytes> {
    super::api_error::answer(&crate::error::Forbidden::OriginNotAllowed.into())
}

/// `OPTIONS /v1/connect/sessions`: the CORS preflight, answered alike for
/// every origin (403 only without a single `Origin`, which no browser's
/// preflight lacks): it reveals nothing about any app's `allowedOrigins`.
pub(super) fn preflight(headers: &HeaderMap) -> Response<Bytes> {
    let Some(origin) = origin(headers) else {
        return forbidden_origin();
    };
    let mut answer = allow_origin(response::no_content(), origin);
    let h = answer.headers_mut();
    h.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST"),
    );
    h.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type"),
    );
    h.insert(
        ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from(PREFLIGHT_MAX_AGE_SECS),
    );
    h.remove(ACCESS_CONTROL_EXPOSE_HEADERS);
    answer
}
