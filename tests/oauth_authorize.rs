//! The authorization endpoint, the consent decision and pushed
//! authorization requests, through `AuthorizationServer::handle`.
//! Every "never", "refused" and "fails" of the protocol issue is a test;
//! each names its RFC section.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)]

mod support;

use http::StatusCode;
use oauth_connect::Subject;
use oauth_connect::oauth::{
    AuthorizationRequest, AuthorizeError, AuthorizeOutcome, ConsentPrompt, Decision, ScopeSet,
};
use oauth_connect::{AuthorizationServer, MemoryStore};
use support::*;
use time::Duration;

fn no_redirect(response: &http::Response<bytes::Bytes>) {
    assert!(
        response.headers().get("location").is_none(),
        "must not redirect"
    );
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "an error page"
    );
}

#[tokio::test]
async fn rfc6749_4_1_happy_path_public_client_with_pkce_and_rfc9207_iss() {
    let h = harness().await;
    let (verifier, challenge) = pkce();
    let page = authorize(
        &h.server,
        &[
            ("response_type", "code"),
            ("client_id", &h.public.client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "read:devices"),
            ("state", "xyz"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let form = consent(&page);
    assert!(
        form.html.contains("Test &lt;App&gt;"),
        "the app name, escaped"
    );
    assert!(form.html.contains("read:devices"));
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'")
            && csp.contains("form-action 'self' https://app.example.com")
    );
    // Issue 17, item 9: and for browsers that know only the older header.
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.headers()["cache-control"], "no-store");

    let answer = decide(&h.server, &form, "approve", "user-42").await;
    assert_eq!(
        answer.status(),
        StatusCode::SEE_OTHER,
        "RFC 6749 §4.1.2 by 303"
    );
    let to = location(&answer);
    assert!(to.starts_with("https://app.example.com/callback?"));
    assert_eq!(param(&to, "state").as_deref(), Some("xyz"));
    assert_eq!(param(&to, "iss").as_deref(), Some(ISSUER), "RFC 9207 §2");
    let code = param(&to, "code").unwrap();
    assert!(code.starts_with("oc_code_"));

    let tokens = exchange(&h.server, &h.public, &code, &verifier).await;
    assert_eq!(tokens.status(), StatusCode::OK, "{}", text(&tokens));
    let body = json(&tokens);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "read:devices");
    assert!(body["access_token"].as_str().unwrap().starts_with("oc_at_"));
    assert!(
        body["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("oc_rt_")
    );
}

#[tokio::test]
async fn rfc6749_4_1_2_1_unverified_client_or_redirect_uri_yields_a_page_never_a_redirect() {
    let h = harness().await;
    let (_, challenge) = pkce();
    let id = h.public.client_id.as_str();
    let base = [
        ("response_type", "code"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("missing client_id", vec![("redirect_uri", REDIRECT)]),
        (
            "unknown client_id",
            vec![
                ("client_id", "oc_client_0123456789abcdef01234567"),
                ("redirect_uri", REDIRECT),
            ],
        ),
        (
            "malformed client_id",
            vec![("client_id", "not a client"), ("redirect_uri", REDIRECT)],
        ),
        (
            "unregistered redirect_uri",
            vec![
                ("client_id", id),
                ("redirect_uri", "https://evil.example/cb"),
            ],
        ),
        (
            "redirect_uri differing by a trailing slash",
            vec![
                ("client_id", id),
                ("redirect_uri", "https://app.example.com/callback/"),
            ],
        ),
        (
            "redirect_uri with a fragment",
            vec![
                ("client_id", id),
                ("redirect_uri", "https://app.example.com/callback#x"),
            ],
        ),
        (
            "omitted redirect_uri with several registered",
            vec![("client_id", id)],
        ),
        (
            "client_id twice (§3.1)",
            vec![
                ("client_id", id),
                ("client_id", id),
                ("redirect_uri", REDIRECT),
            ],
        ),
        (
            "redirect_uri twice (§3.1)",
            vec![
                ("client_id", id),
                ("redirect_uri", REDIRECT),
                ("redirect_uri", REDIRECT),
            ],
        ),
        // Another parameter repeated first must not hide the repeat of one
        // that decides where the browser goes.
        (
            "state twice, then client_id twice",
            vec![
                ("state", "a"),
                ("state", "b"),
                ("client_id", id),
                ("client_id", "oc_client_0123456789abcdef01234567"),
                ("redirect_uri", REDIRECT),
            ],
        ),
        (
            "scope twice, then redirect_uri twice",
            vec![
                ("client_id", id),
                ("scope", "read:devices"),
                ("scope", "read:sites"),
                ("redirect_uri", REDIRECT),
                ("redirect_uri", "https://evil.example/cb"),
            ],
        ),
        (
            "client_id twice, the second one first repeated after state",
            vec![
                ("client_id", id),
                ("state", "a"),
                ("redirect_uri", REDIRECT),
                ("state", "b"),
                ("client_id", id),
            ],
        ),
        (
            "state twice, then request_uri twice",
            vec![
                ("client_id", id),
                ("state", "a"),
                ("state", "b"),
                ("request_uri", "urn:ietf:params:oauth:request_uri:a"),
                ("request_uri", "urn:ietf:params:oauth:request_uri:b"),
            ],
        ),
    ];
    for (name, mut pairs) in cases {
        pairs.extend_from_slice(&base);
        let response = authorize(&h.server, &pairs).await;
        assert!(
            response.status().is_client_error(),
            "{name}: {}",
            response.status()
        );
        no_redirect(&response);
    }
}

#[tokio::test]
async fn rfc6749_3_1_2_3_redirect_uri_may_be_omitted_when_exactly_one_is_registered() {
    let h = harness().await;
    let (_, challenge) = pkce();
    let page = authorize(
        &h.server,
        &[
            ("response_type", "code"),
            ("client_id", &h.confidential.client_id),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let form = consent(&page);
    let to = location(&decide(&h.server, &form, "approve", "u").await);
    assert!(to.starts_with(REDIRECT));
}

/// RFC 8252 §7.3 lets the port of a loopback IP literal vary; §8.3 says
/// `localhost` is NOT such a literal, so its port must match exactly. Each
/// case runs against an app that registered exactly the URI it varies.
#[tokio::test]
async fn rfc8252_8_3_localhost_gets_no_port_exception_but_ip_literals_do() {
    let h = harness().await;
    let native = register(
        &h.server,
        &h.workspace,
        oauth_connect::AppType::Public,
        &[
            "http://localhost/native",
            "http://127.0.0.1/native",
            "http://[::1]/native",
        ],
    )
    .await;
    let (_, challenge) = pkce();
    let attempt = |redirect: &'static str| {
        let (client, challenge) = (native.client_id.clone(), challenge.clone());
        let server = &h.server;
        async move {
            authorize(
                server,
                &[
                    ("response_type", "code"),
                    ("client_id", &client),
                    ("redirect_uri", redirect),
                    ("code_challenge", &challenge),
                    ("code_challenge_method", "S256"),
                ],
            )
            .await
        }
    };
    for (redirect, accepted) in [
        ("http://localhost/native", true),
        ("http://localhost:4000/native", false),
        ("http://127.0.0.1:4000/native", true),
        ("http://[::1]:4000/native", true),
        ("http://127.0.0.1:4000/other", false),
        ("https://127.0.0.1:4000/native", false),
    ] {
        let response = attempt(redirect).await;
        if accepted {
            assert_eq!(
                response.status(),
                StatusCode::OK,
                "{redirect}: the consent page"
            );
        } else {
            assert!(response.status().is_client_error(), "{redirect}");
            no_redirect(&response);
        }
    }
}

#[tokio::test]
async fn rfc8252_7_3_loopback_ip_redirect_may_use_any_port() {
    let h = harness().await;
    let (_, challenge) = pkce();
    let page = authorize(
        &h.server,
        &[
            ("response_type", "code"),
            ("client_id", &h.public.client_id),
            ("redirect_uri", "http://127.0.0.1:53123/native"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let form = consent(&page);
    let to = location(&decide(&h.server, &form, "approve", "u").await);
    assert!(
        to.starts_with("http://127.0.0.1:53123/native?code="),
        "{to}"
    );
}

/// RFC 6749 §4.1.2.1 returns the request's `state` with an error, but one
/// longer than the server accepts (1,024 bytes) is the error itself: the
/// redirect says `invalid_request` without echoing it (issue 17, item 9),
/// and the page of the consent step is never shown. At the limit it is
/// echoed as usual.
#[tokio::test]
async fn rfc6749_4_1_2_1_an_over_long_state_is_refused_without_being_echoed() {
    let h = harness().await;
    let (_, challenge) = pkce();
    let (h, challenge) = (&h, challenge.as_str());
    let request = |state: &str, scope: &str| {
        let (state, scope) = (state.to_owned(), scope.to_owned());
        async move {
            authorize(
                &h.server,
                &[
                    ("response_type", "code"),
                    ("client_id", h.public.client_id.as_str()),
                    ("redirect_uri", REDIRECT),
                    ("scope", &scope),
                    ("state", &state),
                    ("code_challenge", challenge),
                    ("code_challenge_method", "S256"),
                ],
            )
            .await
        }
    };
    let long = "s".repeat(oauth_connect::limits::MAX_STATE_LEN + 1);
    let refused = request(&long, "read:devices").await;
    assert_eq!(
        refused.status(),
        StatusCode::SEE_OTHER,
        "{}",
        text(&refused)
    );
    let to = location(&refused);
    assert!(to.starts_with(REDIRECT), "{to}");
    assert_eq!(param(&to, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(&to, "state"), None, "not echoed: {} bytes", to.len());
    assert!(!to.contains(&long[..64]));
    assert!(param(&to, "iss").is_some());
    // Another error with an over-long state: not echoed either.
    let refused = request(&long, "admin").await;
    assert_eq!(param(&location(&refused), "state"), None);
    // At the limit: accepted, and echoed with an error.
    let longest = "s".repeat(oauth_connect::limits::MAX_STATE_LEN);
    assert_eq!(
        request(&longest, "read:devices").await.status(),
        StatusCode::OK
    );
    let refused = request(&longest, "admin").await;
    assert_eq!(
        param(&location(&refused), "state").as_deref(),
        Some(longest.as_str())
    );
}

#[tokio::test]
async fn rfc6749_4_1_2_1_errors_after_verification_redirect_with_error_exact_state_and_iss() {
    let h = harness().await;
    let (_, challenge) = pkce();
    let id = h.public.client_id.as_str();
    let state = "st ate&=%/é";
    let good = |extra: &[(&'static str, &'static str)]| {
        let mut pairs: Vec<(&str, String)> = vec![
            ("response_type", "code".into()),
            ("client_id", id.into()),
            ("redirect_uri", REDIRECT.into()),
            ("state", state.into()),
            ("code_challenge", challenge.clone()),
            ("code_challenge_method", "S256".into()),
        ];
        for (name, value) in extra {
            pairs.retain(|(n, _)| n != name);
            if !value.is_empty() {
                pairs.push((name, (*value).to_owned()));
            }
        }
        pairs
    };
    let cases: Vec<(&str, Vec<(&str, String)>, &str)> = vec![
        (
            "missing response_type",
            good(&[("response_type", "")]),
            "invalid_request",
        ),
        (
            "response_type=token",
            good(&[("response_type", "token")]),
            "unsupported_response_type",
        ),
        (
            "response_type=code id_token",
            good(&[("response_type", "code id_token")]),
            "unsupported_response_type",
        ),
        (
            "scope outside allowedScopes",
            good(&[("scope", "admin")]),
            "invalid_scope",
        ),
        (
            "scope with wrong case (§3.3 case-sensitive)",
            good(&[("scope", "READ:devices")]),
            "invalid_scope",
        ),
        (
            "scope with a double space (§3.3 grammar)",
            good(&[("scope", "read:devices  read:sites")]),
            "invalid_scope",
        ),
        (
            "public client without PKCE (RFC 7636 §4.4.1)",
            good(&[("code_challenge", ""), ("code_challenge_method", "")]),
            "invalid_request",
        ),
        (
            "challenge without method means plain (RFC 7636 §4.3)",
            good(&[("code_challenge_method", "")]),
            "invalid_request",
        ),
        (
            "plain method refused",
            good(&[("code_challenge_method", "plain")]),
            "invalid_request",
        ),
        (
            "challenge of 42 characters (RFC 7636 §4.2)",
            good(&[("code_challenge", "a".repeat(42).leak())]),
            "invalid_request",
        ),
        (
            "challenge of 129 characters",
            good(&[("code_challenge", "a".repeat(129).leak())]),
            "invalid_request",
        ),
        (
            "challenge with a reserved character",
            good(&[("code_challenge", format!("{}+", "a".repeat(42)).leak())]),
            "invalid_request",
        ),
        (
            "method without challenge",
            good(&[("code_challenge", "")]),
            "invalid_request",
        ),
        (
            "unsupported response_mode",
            good(&[("response_mode", "fragment")]),
            "invalid_request",
        ),
    ];
    for (name, pairs, error) in cases {
        let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let response = authorize(&h.server, &borrowed).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "{name}: {}",
            text(&response)
        );
        let to = location(&response);
        assert!(to.starts_with(REDIRECT), "{name}");
        assert_eq!(param(&to, "error").as_deref(), Some(error), "{name}");
        assert_eq!(
            param(&to, "state").as_deref(),
            Some(state),
            "{name}: the exact state"
        );
        assert_eq!(
            param(&to, "iss").as_deref(),
            Some(ISSUER),
            "{name}: RFC 9207"
        );
        assert!(param(&to, "code").is_none());
    }
    // §3.1: a repeated parameter other than client_id/redirect_uri.
    let mut pairs = good(&[]);
    pairs.push(("scope", "read:devices".into()));
    pairs.push(("scope", "read:sites".into()));
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let to = location(&authorize(&h.server, &borrowed).await);
    assert_eq!(param(&to, "error").as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn rfc6749_3_1_unknown_parameters_are_ignored_and_empty_ones_count_as_absent() {
    let h = harness().await;
    let (_, challenge) = pkce();
    let page = authorize(
        &h.server,
        &[
            ("response_type", "code"),
            ("client_id", &h.public.client_id),
            ("redirect_uri", REDIRECT),
            ("scope", ""),
            ("state", ""),
            ("prompt", "consent"),
            ("unknown_thing", "42"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let form = consent(&page);
    // The default scope when scope is omitted: every allowed scope.
    for scope in ["read:devices", "write:devices", "read:sites"] {
        assert!(form.html.contains(scope), "{scope}");
    }
    let to = location(&decide(&h.server, &form, "approve", "u").await);
    assert!(param(&to, "state").is_none(), "state= sent empty is absent");
}

#[tokio::test]
async fn rfc7636_pkce_required_for_confidential_clients_by_default_and_configurable() {
    let h = harness().await;
    let pairs = [
        ("response_type", "code"),
        ("client_id", h.confidential.client_id.as_str()),
    ];
    let to = location(&authorize(&h.server, &pairs).await);
    assert_eq!(param(&to, "error").as_deref(), Some("invalid_request"));

    let (builder, clock, events) = builder();
    let relaxed = builder
        .dangerous()
        .pkce_for_public_clients_only()
        .build()
        .unwrap();
    let h2 = harness_with(relaxed, clock, events).await;
    let pairs = [
        ("response_type", "code"),
        ("client_id", h2.confidential.client_id.as_str()),
    ];
    consent(&authorize(&h2.server, &pairs).await);
    let public = [
        ("response_type", "code"),
        ("client_id", h2.public.client_id.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let to = location(&authorize(&h2.server, &public).await);
    assert_eq!(
        param(&to, "error").as_deref(),
        Some("invalid_request"),
        "public clients always need PKCE"
    );
}

/// RFC 6749 §4.1.2.1 (`access_denied`, the exact `state`) and RFC 9207 §2
/// (`iss`) when the resource owner denies.
#[tokio::test]
async fn consent_deny_redirects_with_access_denied_state_and_iss() {
    let h = harness().await;
    let (_, challenge) = pkce();
    let page = authorize(
        &h.server,
        &[
            ("response_type", "code"),
            ("client_id", &h.public.client_id),
            ("redirect_uri", REDIRECT),
            ("state", "abc"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let form = consent(&page);
    let answer = decide(&h.server, &form, "deny", "").await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let to = location(&answer);
    assert_eq!(param(&to, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&to, "state").as_deref(), Some("abc"));
    assert_eq!(param(&to, "iss").as_deref(), Some(ISSUER));
    assert!(param(&to, "code").is_none());
    // A denial writes nothing (the request is sealed in the page, so an
    // unauthenticated post cannot grow storage): it clears the page's
    // consent cookie, so the browser that denied cannot approve that form
    // afterwards (RFC 6749 §10.12's binding to the user agent).
    let cleared = answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .any(|c| {
            c.starts_with(&format!("{}=;", form.cookie.split('=').next().unwrap()))
                && c.contains("Max-Age=0")
        });
    assert!(cleared, "the consent cookie is cleared");
    let after = post_form(
        &h.server,
        "/oauth/authorize",
        &[
            ("session", &form.session),
            ("csrf_token", &form.csrf),
            ("decision", "approve"),
            ("subject", "u"),
        ],
        None,
        None,
    )
    .await;
    assert_eq!(after.status(), StatusCode::FORBIDDEN);
    no_redirect(&after);
}

/// RFC 6749 §4.1.2: after an approval, a denial of the same pending
/// authorization is refused as completed (the grant the approval wrote
/// answers for it), and the code stays good.
#[tokio::test]
async fn consent_deny_after_approval_is_refused_as_completed() {
    let h = harness().await;
    let form = fresh_consent(&h).await;
    assert_eq!(
        decide(&h.server, &form, "approve", "u").await.status(),
        StatusCode::SEE_OTHER
    );
    let denied = decide(&h.server, &form, "deny", "").await;
    assert_eq!(denied.status(), StatusCode::GONE);
    assert!(text(&denied).contains("already"));
    no_redirect(&denied);
}

async fn fresh_consent(h: &Harness) -> Consent {
    let (_, challenge) = pkce();
    consent(
        &authorize(
            &h.server,
            &[
                ("response_type", "code"),
                ("client_id", &h.public.client_id),
                ("redirect_uri", REDIRECT),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await,
    )
}

/// RFC 6749 §10.12 (CSRF) and RFC 9700 §4.7: the decision needs the token
/// bound to the pending authorization.
#[tokio::test]
async fn consent_decision_is_csrf_protected() {
    let h = harness().await;
    let form = fresh_consent(&h).await;
    let session = form.session.as_str();
    let csrf = form.csrf.as_str();
    let cases: Vec<(&str, Vec<(&str, &str)>, Option<&str>)> = vec![
        (
            "missing token",
            vec![
                ("session", session),
                ("decision", "approve"),
                ("subject", "u"),
            ],
            Some(form.cookie.as_str()),
        ),
        (
            "wrong token",
            vec![
                ("session", session),
                ("csrf_token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                ("decision", "approve"),
                ("subject", "u"),
            ],
            Some(form.cookie.as_str()),
        ),
        (
            "right token, no cookie (another browser)",
            vec![
                ("session", session),
                ("csrf_token", csrf),
                ("decision", "approve"),
                ("subject", "u"),
            ],
            None,
        ),
    ];
    for (name, pairs, cookie) in cases {
        let response = post_form(&h.server, "/oauth/authorize", &pairs, None, cookie).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{name}");
        no_redirect(&response);
    }
    // Another session's valid token does not fit this session.
    let other = fresh_consent(&h).await;
    let response = post_form(
        &h.server,
        "/oauth/authorize",
        &[
            ("session", session),
            ("csrf_token", &other.csrf),
            ("decision", "approve"),
            ("subject", "u"),
        ],
        None,
        Some(&other.cookie),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // The refused attempts left the session usable.
    assert_eq!(
        decide(&h.server, &form, "approve", "u").await.status(),
        StatusCode::SEE_OTHER
    );
}

/// RFC 6749 §3.1: the authorization server must first authenticate the
/// resource owner.
#[tokio::test]
async fn consent_needs_a_signed_in_user() {
    let h = harness().await;
    let form = fresh_consent(&h).await;
    let response = decide(&h.server, &form, "approve", "").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    no_redirect(&response);
}

/// RFC 6749 §10.5 and §4.1.2 (a code is single use): two tabs approving one
/// pending authorization get one code between them.
#[tokio::test]
async fn consent_is_single_use_two_tabs_get_one_code() {
    let h = harness().await;
    let form = fresh_consent(&h).await;
    let first = decide(&h.server, &form, "approve", "u").await;
    let second = decide(&h.server, &form, "approve", "u").await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(second.status(), StatusCode::GONE, "already completed");
    assert!(text(&second).contains("already"));
    no_redirect(&second);
}

/// RFC 6749 §4.1.2 ("short lifetime"): a pending authorization expires;
/// the injected clock moves instead of a sleep.
#[tokio::test]
async fn consent_expires_with_the_injected_clock() {
    let h = harness().await;
    let form = fresh_consent(&h).await;
    h.clock.advance(Duration::minutes(10));
    let response = decide(&h.server, &form, "approve", "u").await;
    assert_eq!(response.status(), StatusCode::GONE);
    assert!(text(&response).contains("expired"));
}

#[tokio::test]
async fn rfc9126_pushed_authorization_request() {
    let h = harness().await;
    let (verifier, challenge) = pkce();
    let pushed = post_form(
        &h.server,
        "/oauth/par",
        &[
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", "read:sites"),
            ("state", "par-state"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
        Some(&basic(&h.confidential)),
        None,
    )
    .await;
    assert_eq!(
        pushed.status(),
        StatusCode::CREATED,
        "RFC 9126 §2.2: {}",
        text(&pushed)
    );
    assert_eq!(pushed.headers()["cache-control"], "no-store");
    let body = json(&pushed);
    assert_eq!(body["expires_in"], 60);
    let request_uri = body["request_uri"].as_str().unwrap().to_owned();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));

    // Only the pushing client may use it (§4).
    let foreign = authorize(
        &h.server,
        &[
            ("client_id", &h.public.client_id),
            ("request_uri", &request_uri),
        ],
    )
    .await;
    no_redirect(&foreign);

    let page = authorize(
        &h.server,
        &[
            ("client_id", &h.confidential.client_id),
            ("request_uri", &request_uri),
        ],
    )
    .await;
    let form = consent(&page);
    assert!(form.html.contains("read:sites"));
    // A reload of the same request_uri is allowed (§4: MAY allow duplicates).
    consent(
        &authorize(
            &h.server,
            &[
                ("client_id", &h.confidential.client_id),
                ("request_uri", &request_uri),
            ],
        )
        .await,
    );
    let to = location(&decide(&h.server, &form, "approve", "u").await);
    assert_eq!(param(&to, "state").as_deref(), Some("par-state"));
    let code = param(&to, "code").unwrap();
    let tokens = exchange(&h.server, &h.confidential, &code, &verifier).await;
    assert_eq!(tokens.status(), StatusCode::OK, "{}", text(&tokens));
    assert_eq!(json(&tokens)["scope"], "read:sites");
    // Used: a second visit shows a page.
    let again = authorize(
        &h.server,
        &[
            ("client_id", &h.confidential.client_id),
            ("request_uri", &request_uri),
        ],
    )
    .await;
    assert_eq!(again.status(), StatusCode::GONE);
}

#[tokio::test]
async fn rfc9126_request_uri_expires_unopened_and_par_needs_client_authentication() {
    let h = harness().await;
    let (_, challenge) = pkce();
    let pairs = [
        ("response_type", "code"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let pushed = post_form(
        &h.server,
        "/oauth/par",
        &pairs,
        Some(&basic(&h.confidential)),
        None,
    )
    .await;
    let request_uri = json(&pushed)["request_uri"].as_str().unwrap().to_owned();
    h.clock.advance(Duration::seconds(60));
    let late = authorize(
        &h.server,
        &[
            ("client_id", &h.confidential.client_id),
            ("request_uri", &request_uri),
        ],
    )
    .await;
    assert_eq!(late.status(), StatusCode::GONE);
    no_redirect(&late);

    let anonymous = post_form(&h.server, "/oauth/par", &pairs, None, None).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(&anonymous), "invalid_client");
    let mut with_request_uri = pairs.to_vec();
    with_request_uri.push(("request_uri", "urn:x"));
    let refused = post_form(
        &h.server,
        "/oauth/par",
        &with_request_uri,
        Some(&basic(&h.confidential)),
        None,
    )
    .await;
    assert_eq!(
        (refused.status(), error_of(&refused).as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let mut bad_redirect = pairs.to_vec();
    bad_redirect.push(("redirect_uri", "https://evil.example/cb"));
    let refused = post_form(
        &h.server,
        "/oauth/par",
        &bad_redirect,
        Some(&basic(&h.confidential)),
        None,
    )
    .await;
    assert_eq!(error_of(&refused), "invalid_request");
    let unknown = authorize(
        &h.server,
        &[
            ("client_id", &h.confidential.client_id),
            ("request_uri", "urn:ietf:params:oauth:request_uri:nope"),
        ],
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn rfc8414_metadata_lists_every_endpoint() {
    let (builder, clock, events) = builder();
    let server = builder
        .scopes_supported(oauth_connect::oauth::ScopeSet::from_tokens(["read:devices"]).unwrap())
        .build()
        .unwrap();
    let h = harness_with(server, clock, events).await;
    let response = get(&h.server, "/.well-known/oauth-authorization-server").await;
    assert_eq!(response.status(), StatusCode::OK);
    let m = json(&response);
    assert_eq!(m["issuer"], ISSUER);
    assert_eq!(
        m["authorization_endpoint"],
        format!("{ISSUER}/oauth/authorize")
    );
    assert_eq!(m["token_endpoint"], format!("{ISSUER}/oauth/token"));
    assert_eq!(m["revocation_endpoint"], format!("{ISSUER}/oauth/revoke"));
    assert_eq!(
        m["introspection_endpoint"],
        format!("{ISSUER}/oauth/introspect")
    );
    assert_eq!(
        m["pushed_authorization_request_endpoint"],
        format!("{ISSUER}/oauth/par")
    );
    assert_eq!(m["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        m["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        m["grant_types_supported"],
        serde_json::json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(m["scopes_supported"], serde_json::json!(["read:devices"]));
    assert_eq!(m["authorization_response_iss_parameter_supported"], true);
    let post = post_form(
        &h.server,
        "/.well-known/oauth-authorization-server",
        &[],
        None,
        None,
    )
    .await;
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
}

// ---- The host's consent policy (`ResourceOwnerAuthenticator::prior_consent`) ----

/// A host login that reads `Cookie: sid=<user>` and remembers that every
/// signed-in user consented to `read:devices` for every client.
#[derive(Debug)]
struct RememberedConsent;

#[async_trait::async_trait]
impl oauth_connect::ResourceOwnerAuthenticator for RememberedConsent {
    async fn authenticate(
        &self,
        headers: &http::HeaderMap,
        _: Option<&str>,
    ) -> Option<oauth_connect::Subject> {
        let cookie = headers.get("cookie")?.to_str().ok()?;
        let user = cookie.strip_prefix("sid=")?;
        oauth_connect::Subject::parse(user).ok()
    }

    async fn prior_consent(
        &self,
        headers: &http::HeaderMap,
        request: &oauth_connect::hooks::ConsentRequest<'_>,
    ) -> oauth_connect::hooks::PriorConsent {
        assert!(request.redirect_uri.starts_with("https://app.example.com/"));
        assert_eq!(request.app.name, "Test <App>");
        match self.authenticate(headers, None).await {
            Some(subject) => oauth_connect::hooks::PriorConsent::Granted {
                subject,
                scopes: oauth_connect::oauth::ScopeSet::parse("read:devices").unwrap(),
            },
            None => oauth_connect::hooks::PriorConsent::Ask,
        }
    }
}

async fn remembering_harness() -> Harness {
    let (builder, clock, events) = support::builder();
    let server = builder
        .resource_owner(std::sync::Arc::new(RememberedConsent))
        .build()
        .unwrap();
    support::harness_with(server, clock, events).await
}

async fn authorize_signed_in(
    server: &Server,
    pairs: &[(&str, &str)],
    cookie: Option<&str>,
) -> http::Response<bytes::Bytes> {
    let mut request = http::Request::get(format!("/oauth/authorize?{}", query(pairs)));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    server
        .handle(request.body(bytes::Bytes::new()).unwrap())
        .await
}

#[tokio::test]
async fn rfc6749_4_1_2_remembered_consent_answers_with_the_code_without_the_page() {
    let h = remembering_harness().await;
    let (verifier, challenge) = pkce();
    let answer = authorize_signed_in(
        &h.server,
        &[
            ("response_type", "code"),
            ("client_id", &h.public.client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "read:devices"),
            ("state", "xyz"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
        Some("sid=user-42"),
    )
    .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{}", text(&answer));
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let to = location(&answer);
    assert!(to.starts_with("https://app.example.com/callback?"));
    assert_eq!(param(&to, "state").as_deref(), Some("xyz"));
    assert_eq!(param(&to, "iss").as_deref(), Some(ISSUER), "RFC 9207 §2");
    let code = param(&to, "code").unwrap();

    // The code is an ordinary one: bound to PKCE (RFC 7636 §4.6), single use.
    let wrong = exchange(&h.server, &h.public, &code, &pkce().0).await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let tokens = exchange(&h.server, &h.public, &code, &verifier).await;
    assert_eq!(tokens.status(), StatusCode::OK, "{}", text(&tokens));
    let body = json(&tokens);
    assert_eq!(body["scope"], "read:devices");
    let info = h
        .server
        .authenticate_bearer(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(info.subject.unwrap().as_str(), "user-42");
    let again = exchange(&h.server, &h.public, &code, &verifier).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST, "RFC 6749 §4.1.2");
}

#[tokio::test]
async fn rfc6749_3_3_a_request_wider_than_the_remembered_consent_gets_the_page() {
    let h = remembering_harness().await;
    let (_, challenge) = pkce();
    for scope in ["read:devices write:devices", "read:sites"] {
        let page = authorize_signed_in(
            &h.server,
            &[
                ("response_type", "code"),
                ("client_id", &h.public.client_id),
                ("redirect_uri", REDIRECT),
                ("scope", scope),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
            Some("sid=user-42"),
        )
        .await;
        assert_eq!(page.status(), StatusCode::OK, "{scope}: the consent page");
        assert!(page.headers().get("location").is_none(), "{scope}");
        assert!(text(&page).contains("write:devices") || scope == "read:sites");
    }
    // No `scope` asks for everything the app is allowed: wider too.
    let page = authorize_signed_in(
        &h.server,
        &[
            ("response_type", "code"),
            ("client_id", &h.public.client_id),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
        Some("sid=user-42"),
    )
    .await;
    assert_eq!(page.status(), StatusCode::OK);
}

#[tokio::test]
async fn remembered_consent_needs_a_signed_in_user_and_yields_to_prompt_consent() {
    let h = remembering_harness().await;
    let (_, challenge) = pkce();
    let request = [
        ("response_type", "code"),
        ("client_id", h.public.client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "read:devices"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let page = authorize_signed_in(&h.server, &request, None).await;
    assert_eq!(page.status(), StatusCode::OK, "nobody signed in: the page");
    assert!(page.headers().get("location").is_none());
    let mut asking = request.to_vec();
    asking.push(("prompt", "consent"));
    let page = authorize_signed_in(&h.server, &asking, Some("sid=user-42")).await;
    assert_eq!(page.status(), StatusCode::OK, "prompt=consent: the page");
    assert!(page.headers().get("location").is_none());
}

#[tokio::test]
async fn rfc7636_4_4_1_remembered_consent_never_skips_the_request_checks() {
    let h = remembering_harness().await;
    // A public client without PKCE: the error goes back, no code is issued.
    let answer = authorize_signed_in(
        &h.server,
        &[
            ("response_type", "code"),
            ("client_id", &h.public.client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "read:devices"),
            ("state", "s1"),
        ],
        Some("sid=user-42"),
    )
    .await;
    let to = location(&answer);
    assert_eq!(param(&to, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(&to, "state").as_deref(), Some("s1"));
    assert!(param(&to, "code").is_none());
    // An unregistered redirect URI: a page, never a redirect (RFC 6749 §4.1.2.1).
    let (_, challenge) = pkce();
    let page = authorize_signed_in(
        &h.server,
        &[
            ("response_type", "code"),
            ("client_id", &h.public.client_id),
            ("redirect_uri", "https://evil.example/cb"),
            ("scope", "read:devices"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
        Some("sid=user-42"),
    )
    .await;
    no_redirect(&page);
}

#[tokio::test]
async fn the_default_consent_policy_always_shows_the_page() {
    // The demo sign-in keeps the trait's default policy: ask.
    let h = harness().await;
    let (_, challenge) = pkce();
    let page = authorize_signed_in(
        &h.server,
        &[
            ("response_type", "code"),
            ("client_id", &h.public.client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "read:devices"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
        Some("sid=user-42"),
    )
    .await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers().get("location").is_none());
}

/// The typed consent API: `pairs` as the authorization endpoint decodes
/// them.
fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

fn scopes(text: &str) -> ScopeSet {
    ScopeSet::parse(text).unwrap()
}

/// The consent prompt of the authorization request `pairs`, through the
/// typed API (no headers: the consent policy is not asked).
async fn consent_prompt(
    server: &AuthorizationServer<MemoryStore>,
    pairs: &[(String, String)],
) -> ConsentPrompt {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let request = AuthorizationRequest {
        response_type: get("response_type"),
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        scope: get("scope"),
        state: get("state").map(Into::into),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
        ..AuthorizationRequest::default()
    };
    match server.authorize_request(None, &request).await.unwrap() {
        AuthorizeOutcome::Consent(prompt) => *prompt,
        other => panic!("a consent prompt, got {other:?}"),
    }
}

/// RFC 6749 §3.3 and §4.1.2: the resource owner may grant fewer scopes
/// than requested (`Decision::Approve { scopes: Some(..) }`); the code and
/// its tokens carry exactly those. A wider set — even one the app is
/// allowed but did not request — or an empty one is `invalid_scope`
/// (§4.1.2.1), sent back by redirect with the exact `state` and `iss`, and
/// leaves the request pending. (The crate's consent form approves all
/// requested scopes; narrowing is for a host's own page, through the typed
/// API.)
#[tokio::test]
async fn rfc6749_3_3_consent_may_narrow_the_requested_scopes_never_widen_or_empty() {
    let h = harness().await;
    let (verifier, challenge) = pkce();
    let request = owned(&[
        ("response_type", "code"),
        ("client_id", &h.public.client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "read:devices read:sites"),
        ("state", "narrow"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    let prompt = consent_prompt(&h.server, &request).await;
    assert_eq!(prompt.scopes, scopes("read:devices read:sites"));
    let session = prompt.session.expose_secret();
    let subject = || Subject::parse("user-42").unwrap();

    let refused: [(&str, ScopeSet); 3] = [
        (
            "wider: allowed but not requested",
            scopes("read:devices write:devices"),
        ),
        ("not allowed at all", scopes("admin")),
        ("empty", ScopeSet::new()),
    ];
    for (name, granted) in refused {
        let err = h
            .server
            .decide(
                session,
                prompt.csrf_token.expose_secret(),
                Decision::Approve {
                    subject: subject(),
                    scopes: Some(granted),
                },
            )
            .await
            .unwrap_err();
        let AuthorizeError::Redirect(to) = err else {
            panic!("{name}: a redirect to the verified URI, got {err:?}");
        };
        assert_eq!(
            param(&to.location, "error").as_deref(),
            Some("invalid_scope"),
            "{name}"
        );
        assert_eq!(param(&to.location, "state").as_deref(), Some("narrow"));
        assert_eq!(param(&to.location, "iss").as_deref(), Some(ISSUER));
        assert!(param(&to.location, "code").is_none(), "{name}");
    }

    // Still pending: the narrowed approval succeeds.
    let to = h
        .server
        .decide(
            session,
            prompt.csrf_token.expose_secret(),
            Decision::Approve {
                subject: subject(),
                scopes: Some(scopes("read:sites")),
            },
        )
        .await
        .unwrap();
    assert_eq!(param(&to.location, "state").as_deref(), Some("narrow"));
    let code = param(&to.location, "code").unwrap();
    let tokens = exchange(&h.server, &h.public, &code, &verifier).await;
    assert_eq!(tokens.status(), StatusCode::OK, "{}", text(&tokens));
    let body = json(&tokens);
    assert_eq!(body["scope"], "read:sites", "only the granted scope");
    let access = body["access_token"].as_str().unwrap();
    let info = h.server.authenticate_bearer(access).await.unwrap();
    assert_eq!(info.scopes, scopes("read:sites"));
    // The refresh token carries the grant's (narrowed) scopes: asking for a
    // requested-but-not-granted scope at refresh is wider (RFC 6749 §6).
    let refreshed = token(
        &h.server,
        &h.public,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
            ("scope", "read:devices"),
        ],
    )
    .await;
    assert_eq!(error_of(&refreshed), "invalid_scope");

    // `scopes: None` grants everything requested.
    let (verifier, challenge) = pkce();
    let mut all = request.clone();
    all[5].1 = challenge;
    let prompt = consent_prompt(&h.server, &all).await;
    let to = h
        .server
        .decide(
            prompt.session.expose_secret(),
            prompt.csrf_token.expose_secret(),
            Decision::Approve {
                subject: subject(),
                scopes: None,
            },
        )
        .await
        .unwrap();
    let code = param(&to.location, "code").unwrap();
    let tokens = exchange(&h.server, &h.public, &code, &verifier).await;
    assert_eq!(json(&tokens)["scope"], "read:devices read:sites");
}
