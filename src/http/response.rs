//! Response builders. Every response leaves through [`finish`], which adds
//! `X-Content-Type-Options: nosniff`; none of them can panic.

use bytes::Bytes;
use http::header::{
    ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue, LOCATION, PRAGMA,
    WWW_AUTHENTICATE, X_CONTENT_TYPE_OPTIONS,
};
use http::{Method, Response, StatusCode};
use serde::Serialize;

use crate::oauth::error::OAuthErrorCode;

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Adds the headers every response carries.
pub(crate) fn finish(mut response: Response<Bytes>) -> Response<Bytes> {
    response
        .headers_mut()
        .insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

fn with_status(status: StatusCode, body: Bytes) -> Response<Bytes> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}

fn header(mut response: Response<Bytes>, name: HeaderName, value: HeaderValue) -> Response<Bytes> {
    response.headers_mut().insert(name, value);
    response
}

/// Marks a response as not cacheable: `Cache-Control: no-store` and
/// `Pragma: no-cache` (RFC 6749 §5.1), for anything carrying a credential.
pub(crate) fn no_store(response: Response<Bytes>) -> Response<Bytes> {
    let response = header(
        response,
        CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    header(response, PRAGMA, HeaderValue::from_static("no-cache"))
}

/// `value` as a JSON body with `status`; a value that cannot be serialized
/// (never expected) becomes a bare 500.
pub(crate) fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Bytes> {
    // Room for a token response without growing the buffer.
    let mut body = Vec::with_capacity(512);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => finish(header(
            with_status(status, Bytes::from(body)),
            CONTENT_TYPE,
            JSON,
        )),
        Err(_) => finish(with_status(
            StatusCode::INTERNAL_SERVER_ERROR,
            Bytes::from_static(br#"{"error":"server_error"}"#),
        )),
    }
}

/// An already serialized JSON body with `status`.
pub(crate) fn json_body(status: StatusCode, body: Vec<u8>) -> Response<Bytes> {
    finish(header(
        with_status(status, Bytes::from(body)),
        CONTENT_TYPE,
        JSON,
    ))
}

/// 204 No Content with an empty body.
pub(crate) fn no_content() -> Response<Bytes> {
    finish(with_status(StatusCode::NO_CONTENT, Bytes::new()))
}

/// Keeps only the characters RFC 6749 allows in `error_description`
/// (`%x20-21 / %x23-5B / %x5D-7E`), replacing the others with a space.
fn nqschar(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e' => c,
            _ => ' ',
        })
        .collect()
}

/// The OAuth error response of RFC 6749 §5.2: `{"error", "error_description"}`
/// with `Cache-Control: no-store` and `Pragma: no-cache`, at the code's
/// status ([`OAuthErrorCode::status`]) unless `status` overrides it.
#[allow(dead_code)] // for the protocol endpoints
pub(crate) fn oauth_error(
    code: &OAuthErrorCode,
    description: Option<&str>,
    status: Option<StatusCode>,
) -> Response<Bytes> {
    #[derive(Serialize)]
    struct Body<'a> {
        error: &'a OAuthErrorCode,
        #[serde(skip_serializing_if = "Option::is_none")]
        error_description: Option<String>,
    }
    let body = Body {
        error: code,
        error_description: description.map(nqschar),
    };
    no_store(json(status.unwrap_or_else(|| code.status()), &body))
}

/// `response` with a `WWW-Authenticate` challenge, status unchanged.
pub(crate) fn with_challenge(
    response: Response<Bytes>,
    challenge: &'static str,
) -> Response<Bytes> {
    header(
        response,
        WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    )
}

/// The management API's error body, `{"error", "message", "field"?}`, with
/// `status`. `field` is set only for validation errors.
pub(crate) fn api_error(
    status: StatusCode,
    code: &str,
    message: &str,
    field: Option<&str>,
) -> Response<Bytes> {
    #[derive(Serialize)]
    struct Body<'a> {
        error: &'a str,
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        field: Option<&'a str>,
    }
    json(
        status,
        &Body {
            error: code,
            message,
            field,
        },
    )
}

/// `response` with `Retry-After` (RFC 9110 §10.2.3) in whole seconds,
/// rounded up.
pub(crate) fn with_retry_after(
    response: Response<Bytes>,
    retry_after: time::Duration,
) -> Response<Bytes> {
    let seconds = crate::server::rate_limit::retry_after_seconds(retry_after);
    header(
        response,
        http::header::RETRY_AFTER,
        HeaderValue::from(seconds),
    )
}

/// 404 `{"error":"not_found"}`.
pub(crate) fn not_found(message: &str) -> Response<Bytes> {
    api_error(StatusCode::NOT_FOUND, "not_found", message, None)
}

/// 405 with `Allow` listing `allowed`.
pub(crate) fn method_not_allowed(allowed: &[Method]) -> Response<Bytes> {
    let list = allowed
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let response = api_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        &format!("this resource allows {list}"),
        None,
    );
    match HeaderValue::from_str(&list) {
        Ok(value) => header(response, ALLOW, value),
        Err(_) => response,
    }
}

/// 303 See Other to `location` (RFC 9110 §15.4.4): what a form POST answers
/// with to send the browser on with a GET. A location that is not a valid
/// header value (never expected: callers pass URLs) becomes a 500.
pub(crate) fn see_other(location: &str) -> Response<Bytes> {
    match HeaderValue::from_str(location) {
        Ok(value) => no_store(finish(header(
            with_status(StatusCode::SEE_OTHER, Bytes::new()),
            LOCATION,
            value,
        ))),
        Err(_) => server_error(),
    }
}

/// 500 `server_error`: details stay on the server.
pub(crate) fn server_error() -> Response<Bytes> {
    api_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "the server met an unexpected condition",
        None,
    )
}

/// 503 `temporarily_unavailable`.
pub(crate) fn unavailable() -> Response<Bytes> {
    api_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "the service is temporarily unavailable; retry later",
        None,
    )
}

/// The policy of the page [`html`] answers instead of one whose own policy
/// cannot be sent: nothing loads, nothing frames it, no form posts.
const FALLBACK_CSP: &str =
    "default-src 'none'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Whether `csp` lets no one frame the page: its `frame-ancestors`
/// directive (the first, as CSP reads it) is `'none'`.
fn frames_nowhere(csp: &str) -> bool {
    csp.split(';')
        .filter_map(|directive| {
            let mut words = directive.split_ascii_whitespace();
            (words.next()?.eq_ignore_ascii_case("frame-ancestors"))
                .then(|| words.collect::<Vec<_>>())
        })
        .next()
        .is_some_and(|sources| sources == ["'none'"])
}

/// An HTML page with `status` and the page's Content-Security-Policy; never
/// cached, never framed unless `csp` allows it: a page that no one may
/// frame (`frame-ancestors 'none'`) also says `X-Frame-Options: DENY`, for
/// browsers that know only that.
///
/// The policy is never dropped: a `csp` that is not a valid header value
/// (every value that goes into one is checked when the server is built or
/// the app registered, so this is not expected) answers a bare 500 page
/// under [`FALLBACK_CSP`] instead of the page without its policy.
pub(crate) fn html(status: StatusCode, body: String, csp: &str) -> Response<Bytes> {
    let (status, body, policy) = match HeaderValue::from_str(csp) {
        Ok(policy) => (status, body, policy),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            crate::http::ui::plain_error_page(),
            HeaderValue::from_static(FALLBACK_CSP),
        ),
    };
    let deny_framing = frames_nowhere(policy.to_str().unwrap_or(FALLBACK_CSP));
    let mut response = no_store(finish(header(
        with_status(status, Bytes::from(body)),
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    )));
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_SECURITY_POLICY, policy);
    if deny_framing {
        headers.insert(
            http::header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        );
    }
    headers.insert(
        http::header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// `response` (a page shown in a popup that must keep its opener: the
/// embed script's popup, a `web_message` request) with
/// `Cross-Origin-Opener-Policy: unsafe-none`.
///
/// Every other value severs a popup opened by a page of another origin
/// from that page (`same-origin` and `same-origin-allow-popups` alike: the
/// latter only spares popups that the page itself opens), after which
/// `window.opener` is `null` and the opener sees the popup as closed. So
/// the hosted pages keep `same-origin` except in exactly these responses.
pub(crate) fn keep_opener(mut response: Response<Bytes>) -> Response<Bytes> {
    response.headers_mut().insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("unsafe-none"),
    );
    response
}

/// `response` with a `Set-Cookie` header added.
pub(crate) fn with_cookie(mut response: Response<Bytes>, cookie: &str) -> Response<Bytes> {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response
            .headers_mut()
            .append(http::header::SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::redirect::append_query;

    fn body(response: &Response<Bytes>) -> serde_json::Value {
        serde_json::from_slice(response.body()).unwrap()
    }

    #[test]
    fn every_builder_sets_nosniff() {
        for response in [
            json(StatusCode::OK, &serde_json::json!({})),
            no_content(),
            oauth_error(&OAuthErrorCode::InvalidRequest, None, None),
            not_found("x"),
            method_not_allowed(&[Method::GET]),
            see_other("https://app.example.com/cb?code=x"),
            server_error(),
            unavailable(),
            with_challenge(not_found("x"), "Bearer"),
        ] {
            assert_eq!(response.headers()[X_CONTENT_TYPE_OPTIONS], "nosniff");
        }
    }

    #[test]
    fn oauth_error_follows_section_5_2() {
        let response = oauth_error(
            &OAuthErrorCode::InvalidGrant,
            Some("code \"expired\"\\ é"),
            None,
        );
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(response.headers()[PRAGMA], "no-cache");
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(
            body(&response),
            serde_json::json!({"error": "invalid_grant", "error_description": "code  expired    "})
        );
        let response = oauth_error(&OAuthErrorCode::InvalidClient, None, None);
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            body(&response),
            serde_json::json!({"error": "invalid_client"})
        );
        let response = oauth_error(
            &OAuthErrorCode::InvalidClient,
            None,
            Some(StatusCode::BAD_REQUEST),
        );
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn api_error_names_the_field_only_when_given() {
        let response = api_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "bad",
            Some("redirectUris[1]"),
        );
        assert_eq!(
            body(&response),
            serde_json::json!({"error": "invalid_request", "message": "bad", "field": "redirectUris[1]"})
        );
        let response = not_found("no such app");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            body(&response),
            serde_json::json!({"error": "not_found", "message": "no such app"})
        );
    }

    #[test]
    fn method_not_allowed_lists_allow() {
        let response = method_not_allowed(&[Method::GET, Method::PATCH, Method::DELETE]);
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[ALLOW], "GET, PATCH, DELETE");
    }

    #[test]
    fn see_other_redirects() {
        let response = see_other("https://app.example.com/cb?code=x&state=y");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            response.headers()[LOCATION],
            "https://app.example.com/cb?code=x&state=y"
        );
        assert!(response.body().is_empty());
        assert_eq!(
            see_other("bad\nvalue").status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn append_query_keeps_the_existing_query() {
        assert_eq!(
            append_query("https://a.example/cb", &[("code", "x y"), ("state", "a&b")]),
            "https://a.example/cb?code=x+y&state=a%26b"
        );
        assert_eq!(
            append_query("https://a.example/cb?tenant=1", &[("code", "x")]),
            "https://a.example/cb?tenant=1&code=x"
        );
        assert_eq!(
            append_query("https://a.example/cb", &[]),
            "https://a.example/cb"
        );
        assert_eq!(
            append_query("https://a.example/cb#frag", &[("code", "x")]),
            "https://a.example/cb?code=x"
        );
    }

    /// A page's policy is never dropped: one that cannot be a header value
    /// answers a 500 page under the fallback policy, not the page without
    /// a policy; `X-Frame-Options: DENY` goes with `frame-ancestors 'none'`
    /// and only with it.
    #[test]
    fn html_never_sends_a_page_without_its_policy() {
        let csp = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";
        let page = html(StatusCode::OK, "<p>secret form</p>".into(), csp);
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()[http::header::CONTENT_SECURITY_POLICY], csp);
        assert_eq!(page.headers()[http::header::X_FRAME_OPTIONS], "DENY");
        let framable = "default-src 'none'; frame-ancestors https://app.example; base-uri 'none'";
        let page = html(StatusCode::OK, "<p>modal</p>".into(), framable);
        assert_eq!(
            page.headers()[http::header::CONTENT_SECURITY_POLICY],
            framable
        );
        assert!(page.headers().get(http::header::X_FRAME_OPTIONS).is_none());
        for bad in [
            "default-src 'none'; img-src https://cdn.example\n; frame-ancestors 'none'",
            "default-src 'none'\r\nX-Injected: 1",
            "img-src \u{7f}",
        ] {
            let page = html(StatusCode::OK, "<p>secret form</p>".into(), bad);
            assert_eq!(page.status(), StatusCode::INTERNAL_SERVER_ERROR, "{bad:?}");
            assert_eq!(
                page.headers()[http::header::CONTENT_SECURITY_POLICY],
                FALLBACK_CSP
            );
            assert_eq!(page.headers()[http::header::X_FRAME_OPTIONS], "DENY");
            let body = std::str::from_utf8(page.body()).unwrap();
            assert!(!body.contains("secret form"), "{body}");
        }
        assert!(!frames_nowhere("frame-ancestors 'none' https://a.example"));
        assert!(!frames_nowhere("default-src 'none'"));
        assert!(frames_nowhere(
            "default-src 'none';frame-ancestors   'none'"
        ));
    }
}
