//! `response_mode=web_message` at the authorization endpoint (the OAuth
//! 2.0 Web Message Response Mode draft,
//! `draft-meyerzuselha-oauth-web-message-response-mode`), through
//! `AuthorizationServer::handle`: the decision answers a page that posts
//! `{type: "authorization_response", response: {…}}` to its opener, to the
//! redirect URI's origin only; errors after the redirect URI is verified
//! go the same way; unknown modes are `invalid_request` (RFC 6749
//! §4.1.2.1); pushed requests (RFC 9126) keep their mode; the metadata
//! lists the modes (RFC 8414 §2).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::{Value, json};
use support::*;

fn header<'a>(response: &'a Response<Bytes>, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .map_or("", |v| v.to_str().unwrap())
}

fn data(html: &str, name: &str) -> Option<String> {
    let marker = format!(" data-{name}=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html_escape::decode_html_entities(&html[start..end]).into_owned())
}

/// The page's message, checked to go to the opener at the redirect URI's
/// origin (draft §5: never `*`), under the page's CSP script nonce.
fn posted(response: &Response<Bytes>) -> Value {
    assert_eq!(response.status(), StatusCode::OK, "{}", text(response));
    assert!(
        response.headers().get("location").is_none(),
        "not a redirect"
    );
    // The popup keeps its opener (draft: the response page must not sever
    // it with its Cross-Origin-Opener-Policy).
    assert_eq!(
        header(response, "cross-origin-opener-policy"),
        "unsafe-none"
    );
    let csp = header(response, "content-security-policy");
    assert!(csp.contains("script-src 'nonce-"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(header(response, "x-frame-options"), "DENY");
    let html = text(response);
    assert_eq!(data(&html, "target").as_deref(), Some("opener"));
    assert_eq!(
        data(&html, "target-origin").as_deref(),
        Some("https://app.example.com")
    );
    assert!(data(&html, "fallback").is_none(), "no redirect fallback");
    serde_json::from_str(&data(&html, "message").unwrap()).unwrap()
}

fn request<'a>(client: &'a Client, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client.client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("state", "s-1"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("response_mode", "web_message"),
    ]
}

#[tokio::test]
async fn approval_posts_code_state_and_iss_to_the_opener_and_the_code_works() {
    let h = harness().await;
    let (verifier, challenge) = pkce();
    let page = authorize(&h.server, &request(&h.public, &challenge)).await;
    // The consent page, in the popup, must keep its opener too.
    assert_eq!(header(&page, "cross-origin-opener-policy"), "unsafe-none");
    let form = consent(&page);
    let answer = decide(&h.server, &form, "approve", "user-42").await;
    let message = posted(&answer);
    assert_eq!(message["type"], "authorization_response");
    let response = &message["response"];
    assert_eq!(response["state"], "s-1");
    assert_eq!(response["iss"], ISSUER, "RFC 9207");
    let code = response["code"].as_str().unwrap();
    assert_eq!(response.as_object().unwrap().len(), 3, "{response}");
    let tokens = exchange(&h.server, &h.public, code, &verifier).await;
    assert_eq!(tokens.status(), StatusCode::OK, "{}", text(&tokens));
}

#[tokio::test]
async fn denial_posts_access_denied() {
    let h = harness().await;
    let (_, challenge) = pkce();
    let form = consent(&authorize(&h.server, &request(&h.public, &challenge)).await);
    let message = posted(&decide(&h.server, &form, "deny", "user-42").await);
    assert_eq!(
        message,
        json!({"type": "authorization_response", "response": {
            "error": "access_denied",
            "error_description": "the resource owner denied the request",
            "state": "s-1",
            "iss": ISSUER,
        }})
    );
}

#[tokio::test]
async fn errors_after_the_redirect_uri_is_verified_are_posted_too() {
    let h = harness().await;
    let (_, challenge) = pkce();
    let mut pairs = request(&h.public, &challenge);
    pairs.push(("scope", "admin:everything"));
    let message = posted(&authorize(&h.server, &pairs).await);
    assert_eq!(message["response"]["error"], "invalid_scope");
    assert_eq!(message["response"]["state"], "s-1");
    // Before it is verified: a page, never a message (draft §5, RFC 6749
    // §4.1.2.1).
    let mut pairs = request(&h.public, &challenge);
    pairs[2] = ("redirect_uri", "https://evil.example/cb");
    let page = authorize(&h.server, &pairs).await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(!text(&page).contains("<script"));
}

#[tokio::test]
async fn unknown_modes_are_invalid_request_by_redirect_and_query_stays_the_default() {
    let h = harness().await;
    let (_, challenge) = pkce();
    for mode in ["fragment", "form_post", "WEB_MESSAGE", "web_message "] {
        let mut pairs = request(&h.public, &challenge);
        pairs[6] = ("response_mode", mode);
        let answer = authorize(&h.server, &pairs).await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{mode:?}");
        let to = location(&answer);
        assert!(to.starts_with(REDIRECT), "{to}");
        assert_eq!(param(&to, "error").as_deref(), Some("invalid_request"));
        assert_eq!(param(&to, "state").as_deref(), Some("s-1"));
    }
    // A repeated mode: RFC 6749 §3.1, by the default mode.
    let mut pairs = request(&h.public, &challenge);
    pairs.push(("response_mode", "web_message"));
    let answer = authorize(&h.server, &pairs).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        param(&location(&answer), "error").as_deref(),
        Some("invalid_request")
    );
    // `query`, named, empty (RFC 6749 §3.1: as if omitted) or omitted,
    // redirects.
    for mode in [Some("query"), Some(""), None] {
        let mut pairs = request(&h.public, &challenge);
        pairs.pop();
        if let Some(mode) = mode {
            pairs.push(("response_mode", mode));
        }
        let page = authorize(&h.server, &pairs).await;
        assert_eq!(header(&page, "cross-origin-opener-policy"), "same-origin");
        let answer = decide(&h.server, &consent(&page), "approve", "user-42").await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{mode:?}");
        assert!(param(&location(&answer), "code").is_some());
    }
}

#[tokio::test]
async fn a_redirect_uri_without_a_web_origin_cannot_take_web_messages() {
    let h = harness().await;
    let (_, challenge) = pkce();
    let mut pairs = request(&h.public, &challenge);
    pairs[2] = ("redirect_uri", "com.example.app:/cb");
    let answer = authorize(&h.server, &pairs).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let to = location(&answer);
    assert!(to.starts_with("com.example.app:/cb?"), "{to}");
    assert_eq!(param(&to, "error").as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn a_pushed_request_keeps_its_mode() {
    let h = harness().await;
    let (verifier, challenge) = pkce();
    let pushed = post_form(
        &h.server,
        "/oauth/par",
        &[
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("state", "pushed"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("response_mode", "web_message"),
        ],
        Some(&basic(&h.confidential)),
        None,
    )
    .await;
    assert_eq!(pushed.status(), StatusCode::CREATED, "{}", text(&pushed));
    let request_uri = json(&pushed)["request_uri"].as_str().unwrap().to_owned();
    let page = authorize(
        &h.server,
        &[
            ("client_id", h.confidential.client_id.as_str()),
            ("request_uri", &request_uri),
        ],
    )
    .await;
    assert_eq!(header(&page, "cross-origin-opener-policy"), "unsafe-none");
    let message = posted(&decide(&h.server, &consent(&page), "approve", "user-42").await);
    assert_eq!(message["response"]["state"], "pushed");
    let code = message["response"]["code"].as_str().unwrap();
    let tokens = exchange(&h.server, &h.confidential, code, &verifier).await;
    assert_eq!(tokens.status(), StatusCode::OK, "{}", text(&tokens));

    let refused = post_form(
        &h.server,
        "/oauth/par",
        &[
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("response_mode", "fragment"),
        ],
        Some(&basic(&h.confidential)),
        None,
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&refused), "invalid_request");
}

#[tokio::test]
async fn the_metadata_lists_query_and_web_message() {
    let h = harness().await;
    let metadata = json(&get(&h.server, "/.well-known/oauth-authorization-server").await);
    assert_eq!(
        metadata["response_modes_supported"],
        json!(["query", "web_message"])
    );
}
