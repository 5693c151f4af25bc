//! The hosted pages as a product (issue 20), through
//! `AuthorizationServer::handle`: the host's brand and the app's logo on
//! every page with a CSP that lists exactly their origins, the rules of
//! the new settings (400 naming the field), the session's `locale` and
//! `Accept-Language`, "Step N of M", the way back from error pages, the
//! customer rule, the way to the host's login and who is signed in
//! (issue 19 item 6).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use oauth_connect::hooks::SignIn;
use oauth_connect::http::{Brand, Messages};
use oauth_connect::{ConfigError, ResourceOwnerAuthenticator, Subject};
use serde_json::{Value, json};
use support::*;

const LOGO: &str = "https://cdn.acme.example/logo.svg";
const APP_LOGO: &str = "https://apps.example/logo.png";

async fn branded() -> Harness {
    let (builder, clock, events) = builder();
    let server = builder
        .brand(
            Brand::new("Acme Energy")
                .logo_url(LOGO)
                .color("#facc15")
                .support_url("https://acme.example/help"),
        )
        .messages("de", Messages::new().set("consent.allow", "Erlauben"))
        .build()
        .unwrap();
    harness_with(server, clock, events).await
}

async fn send(h: &Harness, request: Request<Bytes>) -> http::Response<Bytes> {
    h.server.handle(request).await
}

async fn json_request(
    h: &Harness,
    method: &str,
    uri: &str,
    authorization: &str,
    body: Value,
) -> http::Response<Bytes> {
    send(
        h,
        Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .header("authorization", authorization)
            .body(Bytes::from(body.to_string()))
            .unwrap(),
    )
    .await
}

async fn admin(h: &Harness) -> String {
    let key = h.server.create_admin_key(&h.workspace).await.unwrap();
    format!("Bearer {}", key.expose_secret())
}

fn csp(response: &http::Response<Bytes>) -> String {
    response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned()
}

async fn session(h: &Harness, body: Value) -> String {
    let mut full = json!({ "redirectUrl": REDIRECT, "referenceId": "user-1" });
    full.as_object_mut()
        .unwrap()
        .extend(body.as_object().unwrap().clone());
    let created = json_request(
        h,
        "POST",
        "/v1/connect/sessions",
        &basic(&h.confidential),
        full,
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED, "{}", text(&created));
    json(&created)["url"]
        .as_str()
        .unwrap()
        .strip_prefix(ISSUER)
        .unwrap()
        .to_owned()
}

/// `logoUri` is `https` only (RFC 9700 §4.16-style care for what a page
/// loads): create and update refuse anything else with a 400 naming the
/// field; a valid one is stored, returned, and removed with `null`.
#[tokio::test]
async fn app_logo_uri_is_https_only_and_round_trips() {
    let h = harness().await;
    let auth = admin(&h).await;
    let app = |logo: Value| {
        json!({
            "name": "Logo app", "redirectUris": [REDIRECT], "allowedScopes": ["read:devices"],
            "type": "CONFIDENTIAL", "logoUri": logo,
        })
    };
    for bad in [
        json!("http://apps.example/logo.png"),
        json!("javascript:alert(1)"),
        json!("https://user:pw@apps.example/logo.png"),
        json!("https://apps.example/logo.png#x"),
        json!("/logo.png"),
    ] {
        let refused = json_request(&h, "POST", "/v1/oauth-apps", &auth, app(bad.clone())).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(text(&refused).contains("logoUri"), "{}", text(&refused));
    }
    let created = json_request(&h, "POST", "/v1/oauth-apps", &auth, app(json!(APP_LOGO))).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = json(&created)["id"].as_str().unwrap().to_owned();
    assert_eq!(json(&created)["logoUri"], APP_LOGO);
    let path = format!("/v1/oauth-apps/{id}");
    let refused = json_request(
        &h,
        "PATCH",
        &path,
        &auth,
        json!({ "logoUri": "http://apps.example/x.png" }),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(text(&refused).contains("logoUri"));
    let got = send(
        &h,
        Request::get(&path)
            .header("authorization", &auth)
            .body(Bytes::new())
            .unwrap(),
    )
    .await;
    assert_eq!(json(&got)["logoUri"], APP_LOGO, "unchanged by the refusal");
    let cleared = json_request(&h, "PATCH", &path, &auth, json!({ "logoUri": null })).await;
    assert_eq!(cleared.status(), StatusCode::OK);
    assert!(json(&cleared).get("logoUri").is_none());
}

/// A session's `locale` is a BCP 47 tag (RFC 5646): anything else is a
/// 400 naming `locale`, and nothing is created.
#[tokio::test]
async fn a_bad_locale_is_refused_naming_the_field() {
    let h = harness().await;
    for bad in [json!("french!"), json!("fr_FR"), json!(""), json!(12)] {
        let refused = json_request(
            &h,
            "POST",
            "/v1/connect/sessions",
            &basic(&h.confidential),
            json!({ "redirectUrl": REDIRECT, "locale": bad }),
        )
        .await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(text(&refused).contains("locale"), "{}", text(&refused));
    }
}

/// The builder refuses a colour that is not `#rrggbb`, an `http` logo and
/// a support URL that is not `https`, naming the setting.
#[test]
fn brand_settings_are_checked_at_build() {
    for (brand, what) in [
        (Brand::new("Acme").color("blue"), "brand color"),
        (Brand::new("Acme").color("#12345g"), "brand color"),
        (
            Brand::new("Acme").logo_url("http://cdn.acme.example/l.svg"),
            "brand logo_url",
        ),
        (
            Brand::new("Acme").support_url("ftp://acme.example"),
            "brand support_url",
        ),
    ] {
        let (builder, _, _) = builder();
        match builder.brand(brand).build() {
            Err(ConfigError::Invalid(setting)) => assert!(setting.starts_with(what), "{setting}"),
            other => panic!("{what}: {:?}", other.map(|_| ())),
        }
    }
    let (builder, _, _) = builder();
    assert!(matches!(
        builder
            .messages("de", Messages::new().set("no.such.key", "x"))
            .build(),
        Err(ConfigError::Invalid(_))
    ));
}

/// The brand (name, logo, accent, help link) is on the consent page, every
/// Connect step and error pages; the CSP's `img-src` is exactly the logos'
/// origins and its `style-src` two hashes, no `unsafe-inline`.
#[tokio::test]
async fn the_brand_is_on_every_page_under_a_strict_csp() {
    let h = branded().await;
    let path = session(&h, json!({})).await;
    let page = h.browser.get(&h.server, &path).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = text(&page);
    assert!(html.contains("<span>Acme Energy</span>"), "{html}");
    assert!(html.contains(&format!("<img src=\"{LOGO}\"")), "{html}");
    assert!(
        html.contains("--accent:#facc15;--on-accent:#111827"),
        "{html}"
    );
    assert!(html.contains("href=\"https://acme.example/help\""));
    let policy = csp(&page);
    assert!(
        policy.contains("img-src https://cdn.acme.example;"),
        "{policy}"
    );
    assert_eq!(policy.matches("'sha256-").count(), 2, "{policy}");
    assert!(!policy.contains("unsafe"), "{policy}");

    let (verifier, challenge) = pkce();
    let _ = verifier;
    let consent = authorize(
        &h.server,
        &[
            ("response_type", "code"),
            ("client_id", &h.public.client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "read:devices"),
            ("state", "s"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(consent.status(), StatusCode::OK);
    assert!(text(&consent).contains("<span>Acme Energy</span>"));
    assert!(csp(&consent).contains("img-src https://cdn.acme.example;"));

    let error = get(&h.server, "/connect?token=oc_ct_unknown").await;
    assert_eq!(error.status(), StatusCode::NOT_FOUND);
    let html = text(&error);
    assert!(html.contains("<span>Acme Energy</span>"), "{html}");
    assert!(
        html.contains("href=\"https://acme.example/help\""),
        "{html}"
    );
}

/// The app's logo is shown beside its name, and its origin joins `img-src`.
#[tokio::test]
async fn the_app_logo_is_shown_and_allowed() {
    let h = harness().await;
    let auth = admin(&h).await;
    let apps = send(
        &h,
        Request::get("/v1/oauth-apps?perPage=100")
            .header("authorization", &auth)
            .body(Bytes::new())
            .unwrap(),
    )
    .await;
    let id = json(&apps)["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["clientId"] == h.confidential.client_id.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let patched = json_request(
        &h,
        "PATCH",
        &format!("/v1/oauth-apps/{id}"),
        &auth,
        json!({ "logoUri": APP_LOGO }),
    )
    .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let path = session(&h, json!({})).await;
    let page = h.browser.get(&h.server, &path).await;
    assert!(text(&page).contains(&format!("<img src=\"{APP_LOGO}\" alt=\"\"")));
    assert!(
        csp(&page).contains("img-src https://apps.example;"),
        "{}",
        csp(&page)
    );
}

/// `"locale": "fr"` shows the page in French with `lang="fr"` and no
/// English button label; `Accept-Language: es` does the same in Spanish
/// without a locale; the session's locale wins over the browser's.
#[tokio::test]
async fn the_session_locale_then_accept_language_choose_the_language() {
    let h = harness().await;
    let path = session(&h, json!({ "locale": "fr-CA" })).await;
    let page = h.browser.get(&h.server, &path).await;
    let html = text(&page);
    assert!(html.contains("<html lang=\"fr\">"), "{html}");
    assert!(html.contains("Étape 1 sur 2"), "{html}");
    assert!(html.contains(">Quitter</button>") && html.contains(">Continuer</button>"));
    for english in [">Exit<", ">Continue<", ">Allow<", ">Deny<"] {
        assert!(!html.contains(english), "{english} in {html}");
    }
    let spanish = session(&h, json!({})).await;
    let page = send(
        &h,
        Request::get(&spanish)
            .header("accept-language", "es-MX,es;q=0.9,en;q=0.5")
            .body(Bytes::new())
            .unwrap(),
    )
    .await;
    let html = text(&page);
    assert!(html.contains("<html lang=\"es\">"), "{html}");
    assert!(html.contains("Paso 1 de 2") && html.contains(">Salir</button>"));
    let page = send(
        &h,
        Request::get(&path)
            .header("accept-language", "es")
            .body(Bytes::new())
            .unwrap(),
    )
    .await;
    assert!(
        text(&page).contains("<html lang=\"fr\">"),
        "the session's locale wins"
    );
}

/// A host's language: added through the builder, English filling its gaps.
#[tokio::test]
async fn a_host_adds_a_language() {
    let h = branded().await;
    let (_, challenge) = pkce();
    let consent = h
        .server
        .handle(
            Request::get(format!(
                "/oauth/authorize?{}",
                query(&[
                    ("response_type", "code"),
                    ("client_id", &h.public.client_id),
                    ("redirect_uri", REDIRECT),
                    ("scope", "read:devices"),
                    ("code_challenge", &challenge),
                    ("code_challenge_method", "S256"),
                ])
            ))
            .header("accept-language", "de-DE")
            .body(Bytes::new())
            .unwrap(),
        )
        .await;
    let html = text(&consent);
    assert!(html.contains("<html lang=\"de\">"), "{html}");
    assert!(html.contains(">Erlauben</button>") && html.contains(">Deny</button>"));
}

/// Error pages are no dead end: a known Connect session's page links back
/// to its redirect URL with `error=access_denied` and the state (RFC 6749
/// §4.1.2.1); without a session, the host's support URL.
#[tokio::test]
async fn error_pages_link_back_to_the_app() {
    let h = branded().await;
    let path = session(&h, json!({ "state": "st-1" })).await;
    // Another browser: the session is known, the way back is the app's.
    let first = h.browser.get(&h.server, &path).await;
    let token = field(&text(&first), "token");
    let csrf = field(&text(&first), "csrf_token");
    let claim = h
        .browser
        .post_form(
            &h.server,
            "/connect",
            &[
                ("token", &token),
                ("csrf_token", &csrf),
                ("step", "customer"),
                ("firstName", "Ada"),
                ("lastName", "Lovelace"),
                ("email", "ada@example.com"),
            ],
        )
        .await;
    assert_eq!(claim.status(), StatusCode::SEE_OTHER, "{}", text(&claim));
    let other = Browser::new();
    let refused = other.get(&h.server, &path).await;
    let html = text(&refused);
    assert!(
        html.contains(&format!(
            "href=\"{REDIRECT}?error=access_denied&amp;state=st-1&amp;iss="
        )),
        "{html}"
    );
    assert!(html.contains("Back to the application"), "{html}");
    let unknown = get(&h.server, "/connect?token=nope").await;
    assert!(text(&unknown).contains("href=\"https://acme.example/help\""));
}

/// One rule for a complete customer (issue 19 item 7): first name, last
/// name and e-mail known skip the customer step, location or not; the form
/// marks exactly those three required.
#[tokio::test]
async fn the_customer_step_follows_the_forms_rule() {
    let h = harness().await;
    let known = session(
        &h,
        json!({ "customerInfo": { "firstName": "Ada", "lastName": "L", "email": "ada@example.com" } }),
    )
    .await;
    let html = text(&h.browser.get(&h.server, &known).await);
    assert_eq!(field(&html, "step"), "consent", "{html}");
    assert!(html.contains("Step 1 of 1"), "{html}");
    let partial = session(&h, json!({ "customerInfo": { "firstName": "Ada" } })).await;
    let html = text(&h.browser.get(&h.server, &partial).await);
    assert_eq!(field(&html, "step"), "customer");
    for required in ["firstName", "lastName", "email"] {
        assert!(
            html.contains(&format!("name=\"{required}\" autocomplete")),
            "{required}"
        );
        let input = html.split(&format!("id=\"{required}\"")).nth(1).unwrap();
        assert!(
            input.split('>').next().unwrap().contains(" required"),
            "{required}"
        );
    }
    for optional in ["phone", "streetOne", "city", "state", "postalCode"] {
        let input = html.split(&format!("id=\"{optional}\"")).nth(1).unwrap();
        assert!(
            !input.split('>').next().unwrap().contains(" required"),
            "{optional}"
        );
    }
    assert!(html.contains("<select id=\"country\" name=\"country\""));
}

/// A field error sits next to its field, tied with `aria-describedby`.
#[tokio::test]
async fn field_errors_are_next_to_their_fields() {
    let h = harness().await;
    let path = session(&h, json!({})).await;
    let page = h.browser.get(&h.server, &path).await;
    let html = text(&page);
    let answer = h
        .browser
        .post_form(
            &h.server,
            "/connect",
            &[
                ("token", &field(&html, "token")),
                ("csrf_token", &field(&html, "csrf_token")),
                ("step", "customer"),
                ("firstName", "Ada"),
                ("lastName", "Lovelace"),
                ("email", "not-an-address"),
            ],
        )
        .await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let html = text(&answer);
    assert!(
        html.contains("aria-invalid=\"true\" aria-describedby=\"err-email\"><p class=\"field-error\" id=\"err-email\">"),
        "{html}"
    );
    assert!(
        html.contains("value=\"not-an-address\""),
        "what was typed is kept"
    );
}

/// "Sign in first" (issue 19 item 6): a signed-out user is sent to the
/// host's login with a same-origin return URL to the pending consent;
/// signed in, the page shows who. `return_url` accepts only this server's
/// own pages.
#[tokio::test]
async fn a_signed_out_user_goes_to_the_hosts_login_and_back() {
    let (builder, clock, events) = builder();
    let server = builder
        .resource_owner(Arc::new(SignIn::new(
            "host_session",
            "/login",
            |v: &str| (v == "s3cret").then(|| Subject::parse("ada").unwrap()),
        )))
        .build()
        .unwrap();
    let h = harness_with(server, clock, events).await;
    let (_, challenge) = pkce();
    let uri = format!(
        "/oauth/authorize?{}",
        query(&[
            ("response_type", "code"),
            ("client_id", &h.public.client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "read:devices"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
    );
    let away = get(&h.server, &uri).await;
    assert_eq!(away.status(), StatusCode::SEE_OTHER);
    let login = location(&away);
    assert!(
        login.starts_with("/login?return_to=%2Foauth%2Fauthorize%3F"),
        "{login}"
    );
    let back = param(&format!("https://x{login}"), "return_to").unwrap();
    assert_eq!(back, uri);
    assert_eq!(h.server.return_url(&back).as_deref(), Some(uri.as_str()));
    let page = h
        .server
        .handle(
            Request::get(&back)
                .header("cookie", "host_session=s3cret")
                .body(Bytes::new())
                .unwrap(),
        )
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(text(&page).contains("Signed in as <strong>ada</strong>"));
    for evil in [
        "https://evil.example/oauth/authorize",
        "//evil.example/oauth/authorize",
        "/\\evil.example",
        "/v1/oauth-apps",
        "javascript:alert(1)",
    ] {
        assert!(h.server.return_url(evil).is_none(), "{evil}");
    }
    assert!(
        h.server
            .return_url(&format!("{ISSUER}/connect?token=t"))
            .is_some()
    );
}

/// The host's login with a directory: the page names the user by
/// `display_name`, escaped, and shows neither the raw subject nor the
/// session cookie.
#[derive(Debug)]
struct Directory(SignIn<fn(&str) -> Option<Subject>>);

#[async_trait]
impl ResourceOwnerAuthenticator for Directory {
    async fn authenticate(&self, headers: &HeaderMap, demo: Option<&str>) -> Option<Subject> {
        self.0.authenticate(headers, demo).await
    }

    fn sign_in_url(&self, return_to: &str) -> Option<String> {
        self.0.sign_in_url(return_to)
    }

    fn display_name(&self, subject: &Subject) -> String {
        match subject.as_str() {
            "user-7f3a9c" => "Ada <Lovelace>".to_owned(),
            other => other.to_owned(),
        }
    }
}

fn authorize_uri(h: &Harness) -> String {
    let (_, challenge) = pkce();
    format!(
        "/oauth/authorize?{}",
        query(&[
            ("response_type", "code"),
            ("client_id", &h.public.client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "read:devices"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
    )
}

#[tokio::test]
async fn the_consent_page_names_the_signed_in_user_by_display_name_only() {
    let (builder, clock, events) = builder();
    let lookup: fn(&str) -> Option<Subject> =
        |v| (v == "s3cret-session").then(|| Subject::parse("user-7f3a9c").unwrap());
    let server = builder
        .resource_owner(Arc::new(Directory(SignIn::new(
            "host_session",
            "/login",
            lookup,
        ))))
        .build()
        .unwrap();
    let h = harness_with(server, clock, events).await;
    let uri = authorize_uri(&h);
    let page = send(
        &h,
        Request::get(&uri)
            .header("cookie", "host_session=s3cret-session")
            .body(Bytes::new())
            .unwrap(),
    )
    .await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = text(&page);
    assert!(
        html.contains("Signed in as <strong>Ada &lt;Lovelace&gt;</strong>"),
        "{html}"
    );
    assert!(!html.contains("user-7f3a9c"), "the raw subject: {html}");
    assert!(!html.contains("s3cret"), "the host's session: {html}");
    assert!(!html.contains("name=\"subject\""), "no demo field: {html}");
    // "Not you?": the host's login, back to this very request.
    assert!(
        html.contains(" · <a href=\"/login?return_to=%2Foauth%2Fauthorize%3F"),
        "{html}"
    );
}

/// Opens the consent page in `browser` and answers it with `decision`
/// and the demo sign-in field `subject`: the page, the answer and the
/// PKCE verifier.
async fn demo_decision(
    h: &Harness,
    browser: &Browser,
    decision: &str,
    subject: &str,
) -> (String, http::Response<Bytes>, String) {
    let (verifier, challenge) = pkce();
    let uri = format!(
        "/oauth/authorize?{}",
        query(&[
            ("response_type", "code"),
            ("client_id", &h.confidential.client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "read:devices"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
    );
    let page = browser.get(&h.server, &uri).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = text(&page);
    let answer = browser
        .post_form(
            &h.server,
            "/oauth/authorize",
            &[
                ("session", &field(&html, "session")),
                ("csrf_token", &field(&html, "csrf_token")),
                ("decision", decision),
                ("subject", subject),
            ],
        )
        .await;
    (html, answer, verifier)
}

/// The demo sign-in (`.dangerous().demo_sign_in()`) shows who is signed in:
/// the browser keeps the id it approved with, the next consent page says
/// "Signed in as" and fills the field in; typing another id switches.
#[tokio::test]
async fn the_demo_sign_in_shows_who_is_signed_in_and_switches() {
    let h = harness().await;
    let browser = Browser::new();
    let (first, answer, _) = demo_decision(&h, &browser, "approve", "ada").await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{}", text(&answer));
    assert!(!first.contains("Signed in as"), "{first}");
    assert!(
        first.contains("maxlength=\"255\" required aria-describedby"),
        "{first}"
    );
    let kept: Vec<&str> = answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .filter(|v| v.starts_with("oc_demo_user="))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        kept[0].ends_with("; Path=/oauth/authorize; HttpOnly; SameSite=Lax; Secure"),
        "{}",
        kept[0]
    );

    // Signed in: the page says who and fills the field in; typing another
    // id switches.
    let (second, answer, _) = demo_decision(&h, &browser, "approve", "grace").await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{}", text(&answer));
    assert!(
        second.contains("Signed in as <strong>ada</strong>"),
        "{second}"
    );
    assert!(second.contains("required value=\"ada\""), "{second}");

    // Without a typed id, the kept one (grace now) approves.
    let (third, answer, verifier) = demo_decision(&h, &browser, "approve", "").await;
    assert!(
        third.contains("Signed in as <strong>grace</strong>"),
        "{third}"
    );
    assert!(third.contains("required value=\"grace\""), "{third}");
    assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{}", text(&answer));
    let code = param(&location(&answer), "code").unwrap();
    let tokens = exchange(&h.server, &h.confidential, &code, &verifier).await;
    assert_eq!(tokens.status(), StatusCode::OK, "{}", text(&tokens));
    let access = json(&tokens)["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        introspect(&h.server, &h.confidential, &access).await["sub"],
        "grace"
    );

    // A browser that kept none is asked to sign in.
    let stranger = Browser::new();
    let (page, refused, _) = demo_decision(&h, &stranger, "approve", "").await;
    assert!(!page.contains("Signed in as"), "{page}");
    assert_ne!(
        refused.status(),
        StatusCode::SEE_OTHER,
        "{}",
        text(&refused)
    );
    assert!(text(&refused).contains("Sign in"), "{}", text(&refused));
}
