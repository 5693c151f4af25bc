//! Connect in the browser, through `AuthorizationServer::handle`: the
//! hosted page opened by the embed script (`embed` and `nonce` in the
//! query), its headers (CSP with a per-response script nonce, COOP that
//! keeps the opener only for a popup, framing only by the app's origins for
//! a modal), the messages it posts (steps, the one result, errors) and
//! where to (the redirect URL's origin, never `*`), the marker surviving
//! the steps, the provider sign-in window, the status an embedded page
//! polls, and the scripts themselves (ETag, 304, immutable versioned URLs,
//! CORS, SRI, and the manual (docs/browser.md) stating the SRI and the size).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use oauth_connect::LinkHook;
use oauth_connect::hooks::{LinkContext, LinkError, LinkedAccount, Provider};
use oauth_connect::http::ConnectScript;
use oauth_connect::registry::AppUpdate;
use serde_json::{Value, json};
use support::*;
use time::Duration;

const NONCE: &str = "Zm9yLXRoZS1lbWJlZC1zY3JpcHQ";
const OTHER_NONCE: &str = "YW5vdGhlci1vcGVuaW5nLW9mLWl0";
const APP_ORIGIN: &str = "https://app.example.com";

/// A provider with its own sign-in page: the callback's `code=good` links.
#[derive(Debug)]
struct Upstream;

#[async_trait]
impl LinkHook for Upstream {
    async fn authorization_url(&self, ctx: &LinkContext, state: &str) -> Result<String, LinkError> {
        Ok(format!(
            "https://upstream.example/authorize?{}",
            query(&[("redirect_uri", &ctx.callback_url), ("state", state)])
        ))
    }

    async fn complete_redirect(
        &self,
        _: &LinkContext,
        q: &[(String, String)],
    ) -> Result<LinkedAccount, LinkError> {
        match q.iter().find(|(n, _)| n == "code").map(|(_, v)| v.as_str()) {
            Some("good") => Ok(LinkedAccount::new("", "acct-1", "Upstream account")),
            _ => Err(LinkError::Denied),
        }
    }
}

async fn plain() -> Harness {
    harness().await
}

async fn with_provider() -> Harness {
    let (builder, clock, events) = builder();
    let server = builder
        .provider(Provider::redirect(
            "upstream",
            "Upstream",
            Arc::new(Upstream),
        ))
        .build()
        .unwrap();
    harness_with(server, clock, events).await
}

const FULL_CUSTOMER: &str = r#"{"firstName": "Ada", "lastName": "L", "email": "ada@example.com",
    "location": {"streetOne": "1 Main St", "city": "Springfield", "state": "IL", "postalCode": "62701", "country": "US"}}"#;

/// A Connect session made by the confidential app's backend; its token.
async fn session(h: &Harness, extra: Value) -> String {
    let mut body = json!({"redirectUrl": REDIRECT, "referenceId": "user-7", "state": "st",
        "customerInfo": serde_json::from_str::<Value>(FULL_CUSTOMER).unwrap()});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let response = h
        .server
        .handle(
            Request::post("/v1/connect/sessions")
                .header("content-type", "application/json")
                .header("authorization", basic(&h.confidential))
                .body(Bytes::from(body.to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{}",
        text(&response)
    );
    json(&response)["connectToken"].as_str().unwrap().to_owned()
}

fn embedded(token: &str, mode: &str, nonce: &str) -> String {
    format!(
        "/connect?{}",
        query(&[("token", token), ("embed", mode), ("nonce", nonce)])
    )
}

fn header<'a>(response: &'a Response<Bytes>, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .map_or("", |v| v.to_str().unwrap())
}

/// The value of the page script's `data-<name>` attribute, unescaped.
fn data(html: &str, name: &str) -> Option<String> {
    let marker = format!(" data-{name}=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html_escape::decode_html_entities(&html[start..end]).into_owned())
}

/// The message the page posts, parsed.
fn message(html: &str) -> Value {
    serde_json::from_str(&data(html, "message").expect("a message to post")).unwrap()
}

/// The CSP's script nonce, checked against the one `<script>` element.
fn script_nonce(response: &Response<Bytes>) -> String {
    let csp = header(response, "content-security-policy");
    let nonce = csp
        .split("script-src 'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("no script nonce in {csp}"))
        .to_owned();
    let html = text(response);
    assert_eq!(html.matches("<script").count(), 1, "one script element");
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the script carries the CSP nonce"
    );
    let page = ConnectScript::page();
    assert!(html.contains(&format!(
        "<script src=\"{}\" integrity=\"{}\"",
        page.versioned_path, page.integrity
    )));
    assert!(!csp.contains("unsafe-inline") && !csp.contains("'self' 'unsafe"));
    nonce
}

/// Posts a step (or the decision) of the hosted page.
async fn post_step(h: &Harness, html: &str, step: &str, extra: &[(&str, &str)]) -> Response<Bytes> {
    let token = field(html, "token");
    let csrf = field(html, "csrf_token");
    let mut pairs = vec![
        ("token", token.as_str()),
        ("csrf_token", csrf.as_str()),
        ("step", step),
    ];
    pairs.extend_from_slice(extra);
    h.browser.post_form(&h.server, "/connect", &pairs).await
}

#[tokio::test]
async fn an_embedded_popup_page_keeps_its_opener_and_runs_only_its_nonced_script() {
    let h = plain().await;
    let token = session(&h, json!({})).await;
    // Never embedded: no script, and COOP isolates the page.
    let page = h
        .browser
        .get(
            &h.server,
            &format!("/connect?{}", query(&[("token", &token)])),
        )
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(header(&page, "cross-origin-opener-policy"), "same-origin");
    assert!(!header(&page, "content-security-policy").contains("script-src"));
    assert!(!text(&page).contains("<script"));

    let page = h
        .browser
        .get(&h.server, &embedded(&token, "popup", NONCE))
        .await;
    assert_eq!(page.status(), StatusCode::OK, "{}", text(&page));
    // COOP: only unsafe-none keeps a cross-origin opener's reference.
    assert_eq!(header(&page, "cross-origin-opener-policy"), "unsafe-none");
    let csp = header(&page, "content-security-policy");
    assert!(
        csp.starts_with("default-src 'none'; script-src 'nonce-"),
        "{csp}"
    );
    assert!(
        csp.contains("frame-ancestors 'none'"),
        "a popup is not framed"
    );
    assert!(
        !csp.contains("connect-src"),
        "nothing to fetch on this step"
    );
    let first = script_nonce(&page);
    let html = text(&page);
    assert_eq!(data(&html, "target").as_deref(), Some("opener"));
    assert_eq!(data(&html, "target-origin").as_deref(), Some(APP_ORIGIN));
    assert_eq!(
        message(&html),
        json!({"type": "oauth-connect", "v": 1, "nonce": NONCE, "event": "step", "step": "consent"})
    );
    // A fresh script nonce per response.
    let again = h
        .browser
        .get(&h.server, &embedded(&token, "popup", NONCE))
        .await;
    assert_ne!(script_nonce(&again), first);
}

#[tokio::test]
async fn the_marker_survives_the_steps_form_posts_and_a_new_opening_replaces_it() {
    let h = plain().await;
    // Customer details incomplete: the customer step first.
    let token = session(&h, json!({"customerInfo": {"firstName": "Ada"}})).await;
    let page = h
        .browser
        .get(&h.server, &embedded(&token, "popup", NONCE))
        .await;
    let html = text(&page);
    assert_eq!(message(&html)["step"], "customer");
    let next = post_step(
        &h,
        &html,
        "customer",
        &[
            ("firstName", "Ada"),
            ("lastName", "Lovelace"),
            ("email", "ada@example.com"),
        ],
    )
    .await;
    assert_eq!(next.status(), StatusCode::SEE_OTHER, "{}", text(&next));
    let back = location(&next);
    assert!(!back.contains("embed=") && !back.contains("nonce="));
    let page = h
        .browser
        .get(&h.server, back.strip_prefix(ISSUER).unwrap())
        .await;
    assert_eq!(header(&page, "cross-origin-opener-policy"), "unsafe-none");
    let html = text(&page);
    assert_eq!(
        message(&html),
        json!({"type": "oauth-connect", "v": 1, "nonce": NONCE, "event": "step", "step": "consent"})
    );
    // The script's next open() (say, as a modal) replaces the marker.
    let page = h
        .browser
        .get(&h.server, &embedded(&token, "modal", OTHER_NONCE))
        .await;
    let html = text(&page);
    assert_eq!(message(&html)["nonce"], OTHER_NONCE);
    assert_eq!(data(&html, "target").as_deref(), Some("parent"));
    assert_eq!(header(&page, "cross-origin-opener-policy"), "same-origin");
}

#[tokio::test]
async fn approving_posts_one_success_message_to_the_redirect_origin_with_a_redirect_fallback() {
    let h = plain().await;
    let token = session(&h, json!({})).await;
    let html = text(
        &h.browser
            .get(&h.server, &embedded(&token, "popup", NONCE))
            .await,
    );
    let done = post_step(&h, &html, "consent", &[("decision", "approve")]).await;
    assert_eq!(
        done.status(),
        StatusCode::OK,
        "not a redirect: {}",
        text(&done)
    );
    assert!(done.headers().get("location").is_none());
    assert_eq!(header(&done, "cross-origin-opener-policy"), "unsafe-none");
    assert_eq!(header(&done, "cache-control"), "no-store");
    script_nonce(&done);
    let html = text(&done);
    assert_eq!(data(&html, "target").as_deref(), Some("opener"));
    assert_eq!(data(&html, "target-origin").as_deref(), Some(APP_ORIGIN));
    let posted = message(&html);
    assert_eq!(posted["type"], "oauth-connect");
    assert_eq!(posted["nonce"], NONCE);
    assert_eq!(posted["event"], "success");
    assert_eq!(posted["state"], "st");
    assert_eq!(posted["iss"], ISSUER);
    assert!(
        posted.get("scopedKey").is_none(),
        "no browser delivery asked"
    );
    let code = posted["code"].as_str().unwrap().to_owned();
    // The fallback: the ordinary redirect, by script or without one.
    let fallback = data(&html, "fallback").unwrap();
    assert_eq!(param(&fallback, "code").as_deref(), Some(code.as_str()));
    assert!(fallback.starts_with(REDIRECT));
    assert!(html.contains("<noscript><meta http-equiv=\"refresh\" content=\"0;url="));
    // The code is an ordinary code: the backend exchanges it once.
    let tokens = token_exchange(&h, &code).await;
    assert_eq!(tokens.status(), StatusCode::OK, "{}", text(&tokens));
    assert!(json(&tokens).get("scoped_key").is_none());
}

async fn token_exchange(h: &Harness, code: &str) -> Response<Bytes> {
    token(
        &h.server,
        &h.confidential,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await
}

#[tokio::test]
async fn a_scoped_key_is_in_the_message_only_when_the_session_opted_in_to_browser_delivery() {
    let h = plain().await;
    for (delivery, in_browser) in [("tokenResponse", false), ("redirect", true)] {
        let token = session(
            &h,
            json!({"referenceId": format!("user-{delivery}"), "scopedKey": true, "scopedKeyDelivery": delivery}),
        )
        .await;
        let html = text(
            &h.browser
                .get(&h.server, &embedded(&token, "popup", NONCE))
                .await,
        );
        let done = post_step(&h, &html, "consent", &[("decision", "approve")]).await;
        let posted = message(&text(&done));
        assert_eq!(posted["event"], "success");
        assert_eq!(posted.get("scopedKey").is_some(), in_browser, "{delivery}");
        if in_browser {
            let key = posted["scopedKey"].as_str().unwrap();
            assert!(key.starts_with("oc_sk_"));
            let me = h
                .server
                .authenticate_request(
                    &[(
                        http::header::AUTHORIZATION,
                        format!("Bearer {key}").parse().unwrap(),
                    )]
                    .into_iter()
                    .collect(),
                )
                .await;
            assert!(me.is_ok(), "the delivered key works");
        }
    }
}

#[tokio::test]
async fn denying_exits_denied_on_consent_and_user_cancelled_on_an_earlier_step() {
    let h = plain().await;
    let token = session(&h, json!({})).await;
    let html = text(
        &h.browser
            .get(&h.server, &embedded(&token, "popup", NONCE))
            .await,
    );
    let done = post_step(&h, &html, "consent", &[("decision", "deny")]).await;
    assert_eq!(done.status(), StatusCode::OK);
    let html = text(&done);
    assert_eq!(
        message(&html),
        json!({"type": "oauth-connect", "v": 1, "nonce": NONCE, "event": "exit", "reason": "denied"})
    );
    let fallback = data(&html, "fallback").unwrap();
    assert_eq!(param(&fallback, "error").as_deref(), Some("access_denied"));
    assert!(param(&fallback, "code").is_none());

    let token = session(
        &h,
        json!({"referenceId": "user-8", "customerInfo": {"firstName": "Ada"}}),
    )
    .await;
    let html = text(
        &h.browser
            .get(&h.server, &embedded(&token, "popup", NONCE))
            .await,
    );
    assert_eq!(message(&html)["step"], "customer");
    let done = post_step(&h, &html, "customer", &[("decision", "deny")]).await;
    assert_eq!(message(&text(&done))["reason"], "user-cancelled");
}

#[tokio::test]
async fn a_modal_is_framable_by_the_apps_allowed_origins_only_and_reports_to_its_parent() {
    let h = plain().await;
    let app = h
        .server
        .authenticate_client(&h.confidential.client_id, h.confidential.secret.as_deref())
        .await
        .unwrap()
        .app;
    h.server
        .update_app(
            &h.workspace,
            &app.id,
            &AppUpdate {
                allowed_origins: Some(vec![APP_ORIGIN.to_owned()]),
                ..AppUpdate::default()
            },
        )
        .await
        .unwrap();
    let token = session(&h, json!({})).await;
    let page = h
        .browser
        .get(&h.server, &embedded(&token, "modal", NONCE))
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let csp = header(&page, "content-security-policy");
    assert!(
        csp.contains(&format!("frame-ancestors {APP_ORIGIN};")),
        "{csp}"
    );
    // A frame has no opener to keep: COOP stays strict.
    assert_eq!(header(&page, "cross-origin-opener-policy"), "same-origin");
    let html = text(&page);
    assert_eq!(data(&html, "target").as_deref(), Some("parent"));
    assert_eq!(data(&html, "nonce").as_deref(), Some(NONCE), "for Escape");
    let done = post_step(&h, &html, "consent", &[("decision", "approve")]).await;
    let csp = header(&done, "content-security-policy");
    assert!(
        csp.contains(&format!("frame-ancestors {APP_ORIGIN};")),
        "the result page shows in the same frame: {csp}"
    );
    assert_eq!(header(&done, "cross-origin-opener-policy"), "same-origin");
    assert_eq!(message(&text(&done))["event"], "success");
}

/// Issue 17, item 9: a page no one may frame says so twice,
/// `frame-ancestors 'none'` and `X-Frame-Options: DENY` (for browsers that
/// know only the latter). An embedded popup's pages are framed by no one,
/// though the app lists `allowedOrigins` (those are for its modal); the
/// modal's pages and the plain hosted page keep their `frame-ancestors`
/// list and no `X-Frame-Options`, which cannot name an origin. Error pages
/// are never framed.
#[tokio::test]
async fn pages_no_one_may_frame_also_say_x_frame_options_deny() {
    let h = plain().await;
    let denied = |response: &Response<Bytes>, what: &str| {
        let csp = header(response, "content-security-policy");
        assert!(csp.contains("frame-ancestors 'none';"), "{what}: {csp}");
        assert_eq!(header(response, "x-frame-options"), "DENY", "{what}");
    };
    let framable = |response: &Response<Bytes>, what: &str| {
        let csp = header(response, "content-security-policy");
        assert!(
            csp.contains(&format!("frame-ancestors {APP_ORIGIN};")),
            "{what}: {csp}"
        );
        assert!(
            response.headers().get("x-frame-options").is_none(),
            "{what}"
        );
    };
    // No framer allowed yet: the plain page is framed by no one.
    let token = session(&h, json!({})).await;
    let plain_page = h
        .browser
        .get(
            &h.server,
            &format!("/connect?{}", query(&[("token", &token)])),
        )
        .await;
    denied(
        &plain_page,
        "the plain page of an app without allowedOrigins",
    );
    let unknown = h.browser.get(&h.server, "/connect?token=oc_ct_nope").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    denied(&unknown, "an error page");

    let app = h
        .server
        .authenticate_client(&h.confidential.client_id, h.confidential.secret.as_deref())
        .await
        .unwrap()
        .app;
    h.server
        .update_app(
            &h.workspace,
            &app.id,
            &AppUpdate {
                allowed_origins: Some(vec![APP_ORIGIN.to_owned()]),
                ..AppUpdate::default()
            },
        )
        .await
        .unwrap();
    let plain_page = h
        .browser
        .get(
            &h.server,
            &format!("/connect?{}", query(&[("token", &token)])),
        )
        .await;
    framable(&plain_page, "the plain page of an app with allowedOrigins");
    let popup = h
        .browser
        .get(&h.server, &embedded(&token, "popup", NONCE))
        .await;
    assert_eq!(popup.status(), StatusCode::OK);
    denied(&popup, "a popup's step page");
    let done = post_step(&h, &text(&popup), "consent", &[("decision", "approve")]).await;
    assert_eq!(message(&text(&done))["event"], "success");
    denied(&done, "a popup's result page");
    let used = h
        .browser
        .get(&h.server, &embedded(&token, "popup", NONCE))
        .await;
    assert_eq!(used.status(), StatusCode::GONE);
    denied(&used, "a popup's error page");

    let token = session(&h, json!({})).await;
    let modal = h
        .browser
        .get(&h.server, &embedded(&token, "modal", NONCE))
        .await;
    framable(&modal, "a modal's step page");
    let done = post_step(&h, &text(&modal), "consent", &[("decision", "approve")]).await;
    framable(&done, "a modal's result page");
}

#[tokio::test]
async fn expired_and_used_sessions_report_their_error_to_the_embedder() {
    let h = plain().await;
    // Opened embedded, then left until it expired: the decision fails and
    // the stored marker says where to report.
    let token = session(&h, json!({})).await;
    let html = text(
        &h.browser
            .get(&h.server, &embedded(&token, "popup", NONCE))
            .await,
    );
    h.clock.advance(Duration::minutes(31));
    let late = post_step(&h, &html, "consent", &[("decision", "approve")]).await;
    assert_eq!(late.status(), StatusCode::GONE);
    assert_eq!(header(&late, "cross-origin-opener-policy"), "unsafe-none");
    script_nonce(&late);
    let html = text(&late);
    assert_eq!(data(&html, "target-origin").as_deref(), Some(APP_ORIGIN));
    let posted = message(&html);
    assert_eq!(
        (&posted["event"], &posted["error"], &posted["nonce"]),
        (&json!("error"), &json!("session-expired"), &json!(NONCE))
    );
    assert!(
        data(&html, "fallback").is_none(),
        "nothing to redirect with"
    );
    // Opened embedded only after it expired: the query's marker.
    let fresh = session(&h, json!({"referenceId": "user-9"})).await;
    h.clock.advance(Duration::minutes(31));
    let page = h
        .browser
        .get(&h.server, &embedded(&fresh, "modal", OTHER_NONCE))
        .await;
    assert_eq!(page.status(), StatusCode::GONE);
    let posted = message(&text(&page));
    assert_eq!(posted["error"], "session-expired");
    assert_eq!(posted["nonce"], OTHER_NONCE);

    // Used: the second opening hears `session-used`.
    let used = session(&h, json!({"referenceId": "user-10"})).await;
    let html = text(
        &h.browser
            .get(&h.server, &embedded(&used, "popup", NONCE))
            .await,
    );
    let done = post_step(&h, &html, "consent", &[("decision", "approve")]).await;
    assert_eq!(message(&text(&done))["event"], "success");
    let again = h
        .browser
        .get(&h.server, &embedded(&used, "popup", OTHER_NONCE))
        .await;
    assert_eq!(again.status(), StatusCode::GONE);
    let posted = message(&text(&again));
    assert_eq!(
        (&posted["error"], &posted["nonce"]),
        (&json!("session-used"), &json!(OTHER_NONCE))
    );

    // Unknown: no session, no redirect URL, so no one to tell.
    let unknown = h
        .browser
        .get(&h.server, &embedded("oc_ct_unknown", "popup", NONCE))
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(!text(&unknown).contains("<script"));
    assert_eq!(
        header(&unknown, "cross-origin-opener-policy"),
        "same-origin"
    );
}

#[tokio::test]
async fn a_malformed_marker_is_refused_and_nothing_is_stored() {
    let h = plain().await;
    let token = session(&h, json!({})).await;
    for path in [
        format!(
            "/connect?{}",
            query(&[("token", &token), ("embed", "popup")])
        ),
        format!("/connect?{}", query(&[("token", &token), ("nonce", NONCE)])),
        embedded(&token, "window", NONCE),
        embedded(&token, "popup", "short"),
        embedded(&token, "popup", &"n".repeat(129)),
        embedded(&token, "popup", "has spaces and ünicode in it!!"),
    ] {
        let refused = h.browser.get(&h.server, &path).await;
        assert_eq!(refused.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(!text(&refused).contains("<script"), "{path}");
    }
    let page = h
        .browser
        .get(
            &h.server,
            &format!("/connect?{}", query(&[("token", &token)])),
        )
        .await;
    assert!(!text(&page).contains("<script"), "no marker was stored");
}

#[tokio::test]
async fn embedded_the_provider_sign_in_runs_in_a_window_of_its_own_and_closes() {
    let h = with_provider().await;
    let token = session(&h, json!({})).await;
    let page = h
        .browser
        .get(&h.server, &embedded(&token, "popup", NONCE))
        .await;
    let html = text(&page);
    assert_eq!(message(&html)["step"], "link");
    let csp = header(&page, "content-security-policy");
    assert!(
        csp.contains("connect-src 'self';"),
        "it polls its status: {csp}"
    );
    assert!(csp.contains("form-action 'self' https://app.example.com https:;"));
    let window = format!("oc-link-{}", &NONCE[..12]);
    assert!(html.contains(&format!(
        "value=\"start\" formtarget=\"{window}\" data-link-window>Continue to Upstream"
    )));
    let status_url = data(&html, "status").unwrap();
    assert_eq!(
        status_url,
        format!("/connect/status?{}", query(&[("token", &token)]))
    );
    let version = data(&html, "version").unwrap();
    let status = h.browser.get(&h.server, &status_url).await;
    assert_eq!(status.status(), StatusCode::OK);
    assert_eq!(header(&status, "cache-control"), "no-store");
    assert_eq!(
        json(&status),
        json!({"step": "link", "version": version.parse::<u64>().unwrap()})
    );

    // The start post (from the sign-in window) goes to the provider.
    let go = post_step(&h, &html, "link", &[("action", "start")]).await;
    assert_eq!(go.status(), StatusCode::SEE_OTHER);
    let state = param(&location(&go), "state").unwrap();
    let back = h
        .browser
        .get(
            &h.server,
            &format!(
                "/connect/callback/upstream?{}",
                query(&[("code", "good"), ("state", &state)])
            ),
        )
        .await;
    // The sign-in window closes; it never shows the flow itself.
    assert_eq!(back.status(), StatusCode::OK, "{}", text(&back));
    assert!(back.headers().get("location").is_none());
    script_nonce(&back);
    let returned = text(&back);
    assert_eq!(data(&returned, "close").as_deref(), Some("1"));
    assert!(header(&back, "content-security-policy").contains("frame-ancestors 'none'"));
    assert_eq!(header(&back, "x-frame-options"), "DENY");
    assert!(data(&returned, "message").is_none(), "it posts nothing");
    assert!(returned.contains("Your Upstream account is linked"));
    // The embedded page sees the flow move on, and shows the next step.
    let status = json(&h.browser.get(&h.server, &status_url).await);
    assert_eq!(status["step"], "consent");
    assert_ne!(status["version"].to_string(), version);
    let page = h
        .browser
        .get(&h.server, &embedded(&token, "popup", NONCE))
        .await;
    let html = text(&page);
    assert_eq!(message(&html)["step"], "consent");
    assert!(html.contains("Upstream account"));
    assert!(!header(&page, "content-security-policy").contains("connect-src"));
}

#[tokio::test]
async fn not_embedded_the_provider_return_still_redirects_to_the_page() {
    let h = with_provider().await;
    let token = session(&h, json!({})).await;
    let html = text(
        &h.browser
            .get(
                &h.server,
                &format!("/connect?{}", query(&[("token", &token)])),
            )
            .await,
    );
    assert!(!html.contains("formtarget"));
    let go = post_step(&h, &html, "link", &[("action", "start")]).await;
    let state = param(&location(&go), "state").unwrap();
    let back = h
        .browser
        .get(
            &h.server,
            &format!(
                "/connect/callback/upstream?{}",
                query(&[("code", "good"), ("state", &state)])
            ),
        )
        .await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_status_answers_400_404_and_410() {
    let h = plain().await;
    let missing = h.browser.get(&h.server, "/connect/status").await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(&missing)["field"], "token");
    let unknown = h
        .browser
        .get(&h.server, "/connect/status?token=oc_ct_nope")
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(
        unknown
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let token = session(&h, json!({})).await;
    let path = format!("/connect/status?{}", query(&[("token", &token)]));
    assert_eq!(
        json(&h.browser.get(&h.server, &path).await)["step"],
        "consent"
    );
    h.clock.advance(Duration::minutes(31));
    let gone = h.browser.get(&h.server, &path).await;
    assert_eq!(gone.status(), StatusCode::GONE);
    assert_eq!(error_of(&gone), "session_expired");
    let post = h
        .server
        .handle(Request::post(&path).body(Bytes::new()).unwrap())
        .await;
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
}

/// Another browser opening a session the first one claimed with its
/// first post (RFC 9700 §2.1): the 403 page tells the embedder
/// `session-other-browser` (the embed script's own `onError` type), to its
/// nonce and the redirect URL's origin only; the first browser goes on.
#[tokio::test]
async fn another_browser_is_reported_to_the_embedder_as_session_other_browser() {
    let h = plain().await;
    let token = session(&h, json!({"customerInfo": {"firstName": "Ada"}})).await;
    let first = h
        .browser
        .get(&h.server, &embedded(&token, "popup", NONCE))
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    let html = text(&first);
    assert_eq!(field(&html, "step"), "customer");
    let other = Browser::new();
    // Opening claims nothing: before the first post another browser still
    // sees the page.
    let before = other
        .get(&h.server, &format!("/connect?token={token}"))
        .await;
    assert_eq!(before.status(), StatusCode::OK);
    let claimed = h
        .browser
        .post_form(
            &h.server,
            "/connect",
            &[
                ("token", token.as_str()),
                ("csrf_token", field(&html, "csrf_token").as_str()),
                ("step", "customer"),
                ("firstName", "Ada"),
                ("lastName", "Lovelace"),
                ("email", "ada@example.com"),
            ],
        )
        .await;
    assert_eq!(
        claimed.status(),
        StatusCode::SEE_OTHER,
        "{}",
        text(&claimed)
    );
    for (mode, target) in [("popup", "opener"), ("modal", "parent")] {
        let refused = other
            .get(&h.server, &embedded(&token, mode, OTHER_NONCE))
            .await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{mode}");
        script_nonce(&refused);
        let html = text(&refused);
        assert_eq!(data(&html, "target").as_deref(), Some(target));
        assert_eq!(data(&html, "target-origin").as_deref(), Some(APP_ORIGIN));
        assert_eq!(
            message(&html),
            json!({"type": "oauth-connect", "v": 1, "nonce": OTHER_NONCE, "event": "error",
                   "error": "session-other-browser",
                   "reason": "For your security, a Connect session continues only in the browser that opened it. Start again from the app."}),
            "{mode}"
        );
    }
    // The session is still the first browser's.
    let again = h
        .browser
        .get(&h.server, &embedded(&token, "popup", NONCE))
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(message(&text(&again))["event"], "step");
}

/// `GET /connect/status` with `Origin` (the embed script, before a
/// modal): whether the hosted page lets that origin frame it (the app's
/// `allowedOrigins`, the server's `frame_ancestors`) and reports to it (the
/// redirect URL's origin), readable there (CORS naming the origin, errors
/// included); it claims nothing. Without `Origin`, the page's own poll,
/// neither the check nor CORS headers.
#[tokio::test]
async fn the_status_tells_an_origin_whether_a_modal_can_work_there() {
    const FRAMER: &str = "https://framer.example.com";
    const EVIL: &str = "https://evil.example";
    let (builder, clock, events) = builder();
    let server = builder.frame_ancestors([FRAMER]).build().unwrap();
    let h = harness_with(server, clock, events).await;
    let token = session(&h, json!({})).await;
    let path = format!("/connect/status?{}", query(&[("token", &token)]));
    let ask = |origin: &'static str| {
        let server = h.server.clone();
        let path = path.clone();
        async move {
            server
                .handle(
                    Request::get(path)
                        .header("origin", origin)
                        .body(Bytes::new())
                        .unwrap(),
                )
                .await
        }
    };
    let embed = |answer: &Response<Bytes>| {
        let body = json(answer);
        (
            body["embed"]["framable"].clone(),
            body["embed"]["messages"].clone(),
        )
    };

    // The app has no allowedOrigins yet: its own origin receives the
    // messages but may not frame the page.
    let answer = ask(APP_ORIGIN).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(header(&answer, "access-control-allow-origin"), APP_ORIGIN);
    assert_eq!(header(&answer, "vary"), "Origin");
    assert!(
        answer
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    assert_eq!(header(&answer, "cache-control"), "no-store");
    assert_eq!(json(&answer)["step"], "consent");
    assert_eq!(json(&answer)["embed"]["origin"], APP_ORIGIN);
    assert_eq!(embed(&answer), (json!(false), json!(true)));
    // A server-wide frame ancestor may frame it, but hears nothing.
    assert_eq!(embed(&ask(FRAMER).await), (json!(true), json!(false)));
    // Anyone else: neither.
    let evil = ask(EVIL).await;
    assert_eq!(header(&evil, "access-control-allow-origin"), EVIL);
    assert_eq!(embed(&evil), (json!(false), json!(false)));
    let null = ask("null").await;
    assert_eq!(embed(&null), (json!(false), json!(false)));

    // The app allows its origin: a modal can work there.
    let app = h
        .server
        .authenticate_client(&h.confidential.client_id, h.confidential.secret.as_deref())
        .await
        .unwrap()
        .app;
    h.server
        .update_app(
            &h.workspace,
            &app.id,
            &AppUpdate {
                allowed_origins: Some(vec![APP_ORIGIN.to_owned()]),
                ..AppUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(embed(&ask(APP_ORIGIN).await), (json!(true), json!(true)));

    // Asking claimed nothing: the first browser to open the page gets it.
    let page = h
        .browser
        .get(&h.server, &embedded(&token, "modal", NONCE))
        .await;
    assert_eq!(page.status(), StatusCode::OK, "{}", text(&page));

    // Errors are readable there too, so the script can say which.
    let unknown = h
        .server
        .handle(
            Request::get("/connect/status?token=oc_ct_nope")
                .header("origin", APP_ORIGIN)
                .body(Bytes::new())
                .unwrap(),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(header(&unknown, "access-control-allow-origin"), APP_ORIGIN);
    h.clock.advance(Duration::minutes(31));
    let gone = ask(APP_ORIGIN).await;
    assert_eq!(gone.status(), StatusCode::GONE);
    assert_eq!(error_of(&gone), "session_expired");
    assert_eq!(header(&gone, "access-control-allow-origin"), APP_ORIGIN);
    // Without Origin: the page's own poll, as before.
    let plain = h.browser.get(&h.server, &path).await;
    assert!(plain.headers().get("access-control-allow-origin").is_none());
}

// ---- the scripts ----

async fn fetch(h: &Harness, path: &str, if_none_match: Option<&str>) -> Response<Bytes> {
    let mut request = Request::get(path);
    if let Some(tag) = if_none_match {
        request = request.header("if-none-match", tag);
    }
    h.server.handle(request.body(Bytes::new()).unwrap()).await
}

#[tokio::test]
async fn the_sdk_is_served_with_an_etag_a_304_and_cors() {
    let h = plain().await;
    for (path, script) in [
        ("/connect/sdk.js", ConnectScript::classic()),
        ("/connect/sdk.mjs", ConnectScript::module()),
    ] {
        let answer = fetch(&h, path, None).await;
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        assert_eq!(
            header(&answer, "content-type"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(header(&answer, "cache-control"), "public, max-age=300");
        assert_eq!(header(&answer, "access-control-allow-origin"), "*");
        assert_eq!(
            header(&answer, "cross-origin-resource-policy"),
            "cross-origin"
        );
        assert_eq!(header(&answer, "x-content-type-options"), "nosniff");
        assert_eq!(answer.body().as_ref(), script.body.as_bytes());
        let etag = header(&answer, "etag").to_owned();
        assert!(etag.starts_with('"') && etag.len() == 98, "{etag}");
        // RFC 9110 §13.1.2: a matching If-None-Match is a 304 without body.
        let again = fetch(&h, path, Some(&etag)).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(again.body().is_empty());
        assert_eq!(header(&again, "etag"), etag);
        let weak = fetch(&h, path, Some(&format!("\"stale\", W/{etag}"))).await;
        assert_eq!(weak.status(), StatusCode::NOT_MODIFIED);
        let stale = fetch(&h, path, Some("\"stale\"")).await;
        assert_eq!(stale.status(), StatusCode::OK);

        let versioned = fetch(&h, &script.versioned_path, None).await;
        assert_eq!(versioned.status(), StatusCode::OK);
        assert_eq!(
            header(&versioned, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(versioned.body().as_ref(), script.body.as_bytes());
        assert_eq!(header(&versioned, "etag"), etag);
    }
    assert_ne!(
        ConnectScript::classic().versioned_path,
        ConnectScript::module().versioned_path
    );
    for gone in [
        "/connect/sdk/0000000000000000.js",
        "/connect/sdk/latest.js",
        "/connect/sdk.json",
        "/connect/page/0000000000000000.js",
    ] {
        assert_eq!(
            fetch(&h, gone, None).await.status(),
            StatusCode::NOT_FOUND,
            "{gone}"
        );
    }
    let head = h
        .server
        .handle(Request::head("/connect/sdk.js").body(Bytes::new()).unwrap())
        .await;
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.body().is_empty());
    assert_eq!(
        header(&head, "content-length"),
        ConnectScript::classic().body.len().to_string()
    );
    let post = h
        .server
        .handle(Request::post("/connect/sdk.js").body(Bytes::new()).unwrap())
        .await;
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    // The hosted pages' script: for this server's pages only.
    let page = ConnectScript::page();
    let answer = fetch(&h, &page.versioned_path, None).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        header(&answer, "cross-origin-resource-policy"),
        "same-origin"
    );
    assert!(
        answer
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

/// `sha384-<base64>` of bytes, as a browser computes Subresource
/// Integrity.
fn sri(bytes: &[u8]) -> String {
    use base64::Engine as _;
    let digest = ring::digest::digest(&ring::digest::SHA384, bytes);
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    )
}

#[tokio::test]
async fn the_manual_states_the_sri_path_and_size_of_the_served_scripts() {
    let h = plain().await;
    let manual = include_str!("../docs/browser.md");
    for script in [ConnectScript::classic(), ConnectScript::module()] {
        let served = fetch(&h, &script.versioned_path, None).await;
        let hash = sri(served.body());
        assert_eq!(hash, script.integrity);
        assert!(
            manual.contains(&hash),
            "docs/browser.md must give the SRI of {}: {hash}",
            script.versioned_path
        );
        assert!(
            manual.contains(&script.versioned_path),
            "docs/browser.md must give the versioned URL {}",
            script.versioned_path
        );
    }
    let size = ConnectScript::classic().body.len();
    assert!(
        manual.contains(&format!("{size} bytes")),
        "docs/browser.md must state the script's size: {size} bytes"
    );
}
