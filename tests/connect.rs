//! Connect sessions, the hosted page, customers and scoped keys, through
//! `AuthorizationServer::handle` with plain `http::Request` values.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)]

mod isolation;
mod support;

use bytes::Bytes;
use http::{Request, StatusCode};
use oauth_connect::{BearerKind, MemoryStore};
use serde_json::{Value, json};
use support::*;
use time::Duration;

async fn create_session(h: &Harness, body: Value) -> http::Response<Bytes> {
    post_json(h, "/v1/connect/sessions", &basic(&h.confidential), body).await
}

async fn post_json(
    h: &Harness,
    uri: &str,
    authorization: &str,
    body: Value,
) -> http::Response<Bytes> {
    h.server
        .handle(
            Request::post(uri)
                .header("content-type", "application/json")
                .header("authorization", authorization)
                .body(Bytes::from(body.to_string()))
                .unwrap(),
        )
        .await
}

fn full_customer() -> Value {
    json!({
        "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "phone": "555-555-0100",
        "location": {"streetOne": "1 Main St", "city": "Springfield", "state": "IL", "postalCode": "62701", "country": "US"}
    })
}

/// The hosted page's form fields.
struct Page {
    token: String,
    csrf: String,
    html: String,
}

async fn open(h: &Harness, url: &str) -> (StatusCode, Page, http::HeaderMap) {
    let path = url.strip_prefix(ISSUER).unwrap();
    let response = h.browser.get(&h.server, path).await;
    let status = response.status();
    let html = text(&response);
    let page = if status == StatusCode::OK {
        Page {
            token: field(&html, "token"),
            csrf: field(&html, "csrf_token"),
            html,
        }
    } else {
        Page {
            token: String::new(),
            csrf: String::new(),
            html,
        }
    };
    (status, page, response.headers().clone())
}

/// Posts `decision` from `page`. Approving from the customer step first
/// posts the customer details (`extra`), then approves on the consent step.
async fn submit(
    h: &Harness,
    page: &Page,
    decision: &str,
    extra: &[(&str, &str)],
) -> http::Response<Bytes> {
    let step = field(&page.html, "step");
    if decision == "approve" && step == "customer" {
        let mut pairs = vec![
            ("token", page.token.as_str()),
            ("csrf_token", page.csrf.as_str()),
            ("step", "customer"),
        ];
        pairs.extend_from_slice(extra);
        let answer = h.browser.post_form(&h.server, "/connect", &pairs).await;
        if answer.status() != StatusCode::SEE_OTHER {
            return answer;
        }
        let (_, consent_page, _) = open(h, &location(&answer)).await;
        assert_eq!(field(&consent_page.html, "step"), "consent");
        return Box::pin(submit(h, &consent_page, "approve", &[])).await;
    }
    let mut pairs = vec![
        ("token", page.token.as_str()),
        ("csrf_token", page.csrf.as_str()),
        ("step", step.as_str()),
        ("decision", decision),
    ];
    pairs.extend_from_slice(extra);
    h.browser.post_form(&h.server, "/connect", &pairs).await
}

async fn exchange_connect(h: &Harness, code: &str) -> Value {
    let response = token(
        &h.server,
        &h.confidential,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK, "{}", text(&response));
    json(&response)
}

#[tokio::test]
async fn whole_connect_path_with_a_scoped_key_in_the_token_response() {
    let h = harness().await;
    let created = create_session(
        &h,
        json!({
            "redirectUrl": REDIRECT, "referenceId": "user-123", "tags": ["boston", "pilot"],
            "clientName": "Energy Coffee", "customerInfo": {"firstName": "Ada", "email": "ada@example.com"},
            "scopes": ["read:devices"], "state": "st-1", "scopedKey": true,
            "filters": {"theme": "dark"}
        }),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED, "{}", text(&created));
    assert_eq!(created.headers()["cache-control"], "no-store");
    let body = json(&created);
    assert!(body["connectToken"].as_str().unwrap().starts_with("oc_ct_"));
    assert_eq!(body["referenceId"], "user-123");
    assert_eq!(body["mode"], "create");
    assert_eq!(
        body["expiresAt"], "2025-06-01T00:30:00.000Z",
        "30 minutes by default"
    );
    assert!(body.get("customerId").is_none(), "no customer yet");
    let url = body["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{ISSUER}/connect?token=oc_ct_")));

    let (status, page, headers) = open(&h, url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.html.contains("Energy Coffee"));
    assert!(page.html.contains("value=\"Ada\""), "prefilled");
    assert!(
        page.html.contains("name=\"lastName\""),
        "the form asks what is missing"
    );
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"));

    let answer = submit(
        &h,
        &page,
        "approve",
        &[
            ("firstName", "Ada"),
            ("lastName", "Lovelace"),
            ("email", "ada@example.com"),
        ],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{}", text(&answer));
    let to = location(&answer);
    assert!(to.starts_with(REDIRECT));
    assert_eq!(param(&to, "state").as_deref(), Some("st-1"));
    assert_eq!(param(&to, "iss").as_deref(), Some(ISSUER));
    assert!(
        param(&to, "scoped_key").is_none(),
        "server-side delivery by default"
    );
    let tokens = exchange_connect(&h, &param(&to, "code").unwrap()).await;
    let scoped_key = tokens["scoped_key"]
        .as_str()
        .expect("scoped_key in the token response")
        .to_owned();
    assert!(scoped_key.starts_with("oc_sk_"));
    assert_eq!(tokens["scope"], "read:devices");

    // The access token and the scoped key both speak for the customer.
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        introspect(&h.server, &h.confidential, at).await["sub"],
        "user-123"
    );
    if let Err(e) = h.server.verify_scoped_key(&scoped_key).await {
        panic!("verify: {e:?} {}", scoped_key.len());
    }
    let principal = h.server.authenticate_bearer(&scoped_key).await.unwrap();
    assert_eq!(principal.kind, BearerKind::ScopedKey);
    assert_eq!(principal.subject.as_ref().unwrap().as_str(), "user-123");
    assert!(principal.has_scope("read:devices") && !principal.has_scope("write:devices"));
    let info = introspect(&h.server, &h.confidential, &scoped_key).await;
    assert_eq!(
        (info["active"].clone(), info["token_type"].clone()),
        (json!(true), json!("scoped_key"))
    );

    // The customer was created with the confirmed details.
    let customer = h
        .server
        .storage()
        .find_customer_record(&h.workspace, "user-123")
        .await;
    assert_eq!(customer.info.last_name.as_deref(), Some("Lovelace"));
    assert_eq!(principal.customer_id.unwrap(), customer.id);

    // RFC 7009 §2.1: another client may not revoke it (and it stays
    // valid); its own client revokes it at the revocation endpoint; a
    // second revocation succeeds silently (§2.2).
    let other = register(
        &h.server,
        &h.workspace,
        oauth_connect::AppType::Confidential,
        &[REDIRECT],
    )
    .await;
    let foreign = post_form(
        &h.server,
        "/oauth/revoke",
        &[("token", &scoped_key)],
        Some(&basic(&other)),
        None,
    )
    .await;
    assert_eq!(foreign.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&foreign), "unauthorized_client");
    assert!(h.server.verify_scoped_key(&scoped_key).await.is_ok());
    for round in ["revokes", "already revoked"] {
        let revoked = post_form(
            &h.server,
            "/oauth/revoke",
            &[("token", &scoped_key)],
            Some(&basic(&h.confidential)),
            None,
        )
        .await;
        assert_eq!(revoked.status(), StatusCode::OK, "{round}");
    }
    assert!(matches!(
        h.server.verify_scoped_key(&scoped_key).await,
        Err(oauth_connect::connect::ScopedKeyError::Revoked)
    ));
    assert_eq!(
        introspect(&h.server, &h.confidential, &scoped_key).await,
        json!({"active": false})
    );
}

/// Lets tests read storage through the `ConnectStore` trait concisely.
trait FindCustomer {
    async fn find_customer_record(
        &self,
        ws: &oauth_connect::WorkspaceId,
        reference: &str,
    ) -> oauth_connect::storage::CustomerRecord;
}

impl FindCustomer for MemoryStore {
    async fn find_customer_record(
        &self,
        ws: &oauth_connect::WorkspaceId,
        reference: &str,
    ) -> oauth_connect::storage::CustomerRecord {
        use oauth_connect::storage::ConnectStore as _;
        // The workspace's view: these tests' customers are all one app's.
        let mut found = self
            .list_customers(ws, Some(reference), None, 0, 2)
            .await
            .unwrap();
        assert_eq!(found.total, 1, "one customer of that reference id");
        found.items.pop().expect("customer exists")
    }
}

#[tokio::test]
async fn connect_without_scoped_key_and_with_redirect_delivery_opt_in() {
    let h = harness().await;
    let plain = json(
        &create_session(
            &h,
            json!({"redirectUrl": REDIRECT, "customerInfo": full_customer()}),
        )
        .await,
    );
    let reference = plain["referenceId"].as_str().unwrap();
    let (prefix, uuid) = reference.split_once(':').unwrap();
    assert_eq!(prefix, "oc-generated");
    assert_eq!(uuid.len(), 36);
    assert_eq!(&uuid[14..15], "7", "a UUIDv7");
    let (_, page, _) = open(&h, plain["url"].as_str().unwrap()).await;
    assert!(
        !page.html.contains("name=\"firstName\""),
        "a complete customerInfo skips the form"
    );
    assert!(page.html.contains("Ada Lovelace"));
    let to = location(&submit(&h, &page, "approve", &[]).await);
    let tokens = exchange_connect(&h, &param(&to, "code").unwrap()).await;
    assert!(tokens.get("scoped_key").is_none());

    let opted = json(
        &create_session(
            &h,
            json!({"redirectUrl": REDIRECT, "customerInfo": full_customer(), "scopedKey": true, "scopedKeyDelivery": "redirect"}),
        )
        .await,
    );
    let (_, page, _) = open(&h, opted["url"].as_str().unwrap()).await;
    let to = location(&submit(&h, &page, "approve", &[]).await);
    let in_url = param(&to, "scoped_key").expect("opted in: the key is in the redirect");
    assert!(h.server.verify_scoped_key(&in_url).await.is_ok());
}

// `every_refusal_is_a_400_naming_the_field_and_stores_nothing` is in
// `tests/counted_store.rs`: it counts the store's calls.

#[tokio::test]
async fn sessions_need_a_confidential_client_or_an_admin_naming_the_app() {
    let h = harness().await;
    let public = post_form(&h.server, "/v1/connect/sessions", &[], None, None).await;
    assert_eq!(public.status(), StatusCode::UNAUTHORIZED);
    let wrong = Client {
        client_id: h.confidential.client_id.clone(),
        secret: Some("oc_secret_wrong".into()),
    };
    let response = post_json(
        &h,
        "/v1/connect/sessions",
        &basic(&wrong),
        json!({"redirectUrl": REDIRECT}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let key = h.server.create_admin_key(&h.workspace).await.unwrap();
    let app = h
        .server
        .authenticate_client(&h.confidential.client_id, h.confidential.secret.as_deref())
        .await
        .unwrap()
        .app;
    let admin = format!("Bearer {}", key.expose_secret());
    let unnamed = post_json(
        &h,
        "/v1/connect/sessions",
        &admin,
        json!({"redirectUrl": REDIRECT}),
    )
    .await;
    assert_eq!(json(&unnamed)["field"], "appId");
    let named = post_json(
        &h,
        "/v1/connect/sessions",
        &admin,
        json!({"redirectUrl": REDIRECT, "appId": app.id.as_str()}),
    )
    .await;
    assert_eq!(named.status(), StatusCode::CREATED, "{}", text(&named));
    let other_ws = h
        .server
        .create_admin_key(&oauth_connect::WorkspaceId::parse("ws_other").unwrap())
        .await
        .unwrap();
    let foreign = post_json(
        &h,
        "/v1/connect/sessions",
        &format!("Bearer {}", other_ws.expose_secret()),
        json!({"redirectUrl": REDIRECT, "appId": app.id.as_str()}),
    )
    .await;
    assert_eq!(
        foreign.status(),
        StatusCode::NOT_FOUND,
        "another workspace's app"
    );
}

#[tokio::test]
async fn deny_expiry_reuse_and_two_tabs() {
    let h = harness().await;
    async fn new(h: &Harness) -> Value {
        json(
            &create_session(
                h,
                json!({"redirectUrl": REDIRECT, "customerInfo": full_customer(), "state": "s"}),
            )
            .await,
        )
    }
    // Deny.
    let s = new(&h).await;
    let (_, page, _) = open(&h, s["url"].as_str().unwrap()).await;
    let to = location(&submit(&h, &page, "deny", &[]).await);
    assert_eq!(param(&to, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&to, "state").as_deref(), Some("s"));
    assert_eq!(param(&to, "iss").as_deref(), Some(ISSUER));

    // Two tabs: one grant; the completed token then shows a page.
    let s = new(&h).await;
    let (_, page, _) = open(&h, s["url"].as_str().unwrap()).await;
    let (_, second_tab, _) = open(&h, s["url"].as_str().unwrap()).await;
    assert_eq!(
        submit(&h, &page, "approve", &[]).await.status(),
        StatusCode::SEE_OTHER
    );
    let again = submit(&h, &second_tab, "approve", &[]).await;
    assert_eq!(again.status(), StatusCode::GONE);
    assert!(text(&again).contains("already"));
    let (status, page, _) = open(&h, s["url"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::GONE, "reuse of a completed token");
    assert!(page.html.contains("already"));

    // Expiry with the injected clock.
    let s = new(&h).await;
    let (_, page, _) = open(&h, s["url"].as_str().unwrap()).await;
    h.clock.advance(Duration::minutes(30));
    assert_eq!(
        submit(&h, &page, "approve", &[]).await.status(),
        StatusCode::GONE
    );
    let (status, page, _) = open(&h, s["url"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.html.contains("expired"), "the page says what happened");

    // Unknown and tampered tokens; a wrong CSRF token.
    let (status, _, _) = open(&h, &format!("{ISSUER}/connect?token=oc_ct_nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let s = new(&h).await;
    let (_, mut page, _) = open(&h, s["url"].as_str().unwrap()).await;
    page.csrf = "A".repeat(43);
    assert_eq!(
        submit(&h, &page, "approve", &[]).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn connect_token_is_a_par_request_uri_and_cannot_complete_through_plain_consent() {
    let h = harness().await;
    let s = json(&create_session(&h, json!({"redirectUrl": REDIRECT, "customerInfo": full_customer(), "clientName": "Via PAR"})).await);
    let token_value = s["connectToken"].as_str().unwrap();
    let page = authorize(
        &h.server,
        &[
            ("client_id", &h.confidential.client_id),
            ("request_uri", token_value),
        ],
    )
    .await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = text(&page);
    assert!(
        html.contains("Via PAR") && html.contains("action=\"/connect\""),
        "the Connect page"
    );
    let foreign = authorize(
        &h.server,
        &[
            ("client_id", &h.public.client_id),
            ("request_uri", token_value),
        ],
    )
    .await;
    assert!(foreign.status().is_client_error());
    // The plain consent endpoint refuses a Connect session.
    let csrf = field(&html, "csrf_token");
    let cookie = format!(
        "oc_consent_{}={csrf}",
        csrf.chars()
            .filter(char::is_ascii_alphanumeric)
            .take(12)
            .collect::<String>()
    );
    let plain = post_form(
        &h.server,
        "/oauth/authorize",
        &[
            ("session", token_value),
            ("csrf_token", &csrf),
            ("decision", "approve"),
            ("subject", "u"),
        ],
        None,
        Some(&cookie),
    )
    .await;
    assert!(
        plain.status().is_client_error(),
        "{} {:?}",
        plain.status(),
        plain.headers()
    );
    assert!(plain.headers().get("location").is_none());
}

#[tokio::test]
async fn customer_form_validation_rerenders_with_the_field() {
    let h = harness().await;
    let s = json(&create_session(&h, json!({"redirectUrl": REDIRECT})).await);
    let (_, page, _) = open(&h, s["url"].as_str().unwrap()).await;
    let partial = submit(
        &h,
        &page,
        "approve",
        &[
            ("firstName", "Ada"),
            ("lastName", "L"),
            ("email", "ada@example.com"),
            ("city", "Springfield"),
        ],
    )
    .await;
    assert_eq!(
        partial.status(),
        StatusCode::BAD_REQUEST,
        "location is all or nothing"
    );
    let html = text(&partial);
    assert!(html.contains("role=\"alert\"") && html.contains("location"));
    assert!(
        html.contains("value=\"Springfield\""),
        "the user's input is kept"
    );
    let bad_email = submit(
        &h,
        &page,
        "approve",
        &[("firstName", "Ada"), ("lastName", "L"), ("email", "nope")],
    )
    .await;
    assert_eq!(bad_email.status(), StatusCode::BAD_REQUEST);
    assert!(text(&bad_email).contains("aria-invalid=\"true\""));
    let missing = submit(&h, &page, "approve", &[("firstName", "Ada")]).await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    // None of that completed the session.
    assert_eq!(
        submit(
            &h,
            &page,
            "approve",
            &[
                ("firstName", "Ada"),
                ("lastName", "L"),
                ("email", "ada@example.com")
            ]
        )
        .await
        .status(),
        StatusCode::SEE_OTHER
    );
}

/// A `referenceId` is the service's own id for its user, kept exactly as
/// given: with leading or trailing whitespace it is refused (trimming it
/// would fold `"u-7 "` into the customer `"u-7"`), and nothing is stored.
#[tokio::test]
async fn reference_id_with_surrounding_whitespace_is_refused() {
    let h = harness().await;
    let customer = json!({"firstName": "Ada", "email": "ada@example.com"});
    for reference in ["u-7 ", " u-7", "u-7\t", "   "] {
        let refused = create_session(
            &h,
            json!({"redirectUrl": REDIRECT, "referenceId": reference, "customerInfo": customer}),
        )
        .await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{reference:?}");
        assert_eq!(json(&refused)["field"], "referenceId", "{reference:?}");
    }
    let customers = get_as_client(&h, "/v1/customers?referenceId=u-7").await;
    assert_eq!(customers["data"], json!([]), "nothing stored: {customers}");
    let kept =
        json(&create_session(&h, json!({"redirectUrl": REDIRECT, "referenceId": "u 7"})).await);
    assert_eq!(kept["referenceId"], "u 7", "inner spaces are the id's own");
}

#[tokio::test]
async fn update_mode_and_customer_reuse() {
    let h = harness().await;
    let first = json(
        &create_session(
            &h,
            json!({"redirectUrl": REDIRECT, "referenceId": "u-9", "customerInfo": full_customer()}),
        )
        .await,
    );
    let (_, page, _) = open(&h, first["url"].as_str().unwrap()).await;
    let to = location(&submit(&h, &page, "approve", &[]).await);
    let old = exchange_connect(&h, &param(&to, "code").unwrap()).await;
    let old_at = old["access_token"].as_str().unwrap().to_owned();

    let second =
        json(&create_session(&h, json!({"redirectUrl": REDIRECT, "referenceId": "u-9"})).await);
    assert_eq!(
        second["mode"], "update",
        "the app already holds a grant for this referenceId"
    );
    let customer_id = second["customerId"]
        .as_str()
        .expect("the known customer")
        .to_owned();
    let (_, page, _) = open(&h, second["url"].as_str().unwrap()).await;
    assert!(page.html.contains("Update your connection"));
    assert!(
        !page.html.contains("name=\"firstName\""),
        "the stored customer is complete"
    );
    let to = location(&submit(&h, &page, "approve", &[]).await);
    exchange_connect(&h, &param(&to, "code").unwrap()).await;
    assert_eq!(
        introspect(&h.server, &h.confidential, &old_at).await["active"],
        false,
        "the old grant is replaced"
    );

    // A session naming the customer by id reuses them.
    let third = json(
        &create_session(
            &h,
            json!({"redirectUrl": REDIRECT, "customerId": customer_id}),
        )
        .await,
    );
    assert_eq!(third["referenceId"], "u-9");
    assert_eq!(third["customerId"], customer_id.as_str());
    let mismatch = create_session(
        &h,
        json!({"redirectUrl": REDIRECT, "customerId": customer_id, "referenceId": "other"}),
    )
    .await;
    assert_eq!(json(&mismatch)["field"], "referenceId");
    use oauth_connect::storage::ConnectStore as _;
    assert_eq!(
        h.server
            .storage()
            .list_customers(&h.workspace, None, None, 0, 10)
            .await
            .unwrap()
            .total,
        1,
        "one customer"
    );
}

#[tokio::test]
async fn hosted_page_escapes_everything_and_sends_security_headers() {
    let (builder, clock, events) = builder();
    let server = builder
        .frame_ancestors(["https://app.example.com"])
        .build()
        .unwrap();
    let h = harness_with(server, clock, events).await;
    let s = json(
        &create_session(
            &h,
            json!({"redirectUrl": REDIRECT, "clientName": "<script>alert(1)</script>"}),
        )
        .await,
    );
    let response = get(
        &h.server,
        s["url"].as_str().unwrap().strip_prefix(ISSUER).unwrap(),
    )
    .await;
    let html = text(&response);
    assert!(!html.contains("<script>alert(1)</script>"), "inert");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<script"), "no script at all");
    let headers = response.headers();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("frame-ancestors https://app.example.com")
    );
    assert!(csp.contains("form-action 'self' https://app.example.com"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

async fn connected_customer(h: &Harness, reference: &str) -> Value {
    let s = json(&create_session(h, json!({"redirectUrl": REDIRECT, "referenceId": reference, "customerInfo": full_customer(), "scopes": ["read:devices", "read:sites"]})).await);
    let (_, page, _) = open(h, s["url"].as_str().unwrap()).await;
    let to = location(&submit(h, &page, "approve", &[]).await);
    exchange_connect(h, &param(&to, "code").unwrap()).await
}

#[tokio::test]
async fn scoped_keys_mint_list_revoke_over_http() {
    let h = harness().await;
    connected_customer(&h, "k-1").await;
    let auth = basic(&h.confidential);
    let minted = post_json(
        &h,
        "/v1/scoped-keys",
        &auth,
        json!({"referenceId": "k-1", "scopes": ["read:sites"], "label": "backend"}),
    )
    .await;
    assert_eq!(minted.status(), StatusCode::CREATED, "{}", text(&minted));
    assert_eq!(minted.headers()["cache-control"], "no-store");
    let body = json(&minted);
    let key = body["scopedKey"].as_str().unwrap().to_owned();
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(body["scopes"], json!(["read:sites"]));
    let principal = h.server.authenticate_bearer(&key).await.unwrap();
    assert!(principal.has_scope("read:sites") && !principal.has_scope("read:devices"));

    for (field, request) in [
        (
            "scopes",
            json!({"referenceId": "k-1", "scopes": ["write:devices"]}),
        ),
        ("referenceId", json!({"referenceId": "nobody"})),
        ("customerId", json!({})),
        ("expiresIn", json!({"referenceId": "k-1", "expiresIn": 59})),
    ] {
        let response = post_json(&h, "/v1/scoped-keys", &auth, request).await;
        assert_eq!(json(&response)["field"], field);
    }
    let listed = h
        .server
        .handle(
            Request::get("/v1/scoped-keys")
                .header("authorization", &auth)
                .body(Bytes::new())
                .unwrap(),
        )
        .await;
    let listed = json(&listed);
    assert_eq!(
        listed["meta"]["total"], 1,
        "the minted key (that session asked for none): {listed}"
    );
    assert!(
        !listed.to_string().contains(&key),
        "listing never shows a key"
    );

    let other = register(
        &h.server,
        &h.workspace,
        oauth_connect::AppType::Confidential,
        &[REDIRECT],
    )
    .await;
    let delete = |auth: String| {
        let server = h.server.clone();
        let id = id.clone();
        async move {
            server
                .handle(
                    Request::delete(format!("/v1/scoped-keys/{id}"))
                        .header("authorization", auth)
                        .body(Bytes::new())
                        .unwrap(),
                )
                .await
                .status()
        }
    };
    assert_eq!(
        delete(basic(&other)).await,
        StatusCode::NOT_FOUND,
        "another app's key"
    );
    assert_eq!(delete(auth.clone()).await, StatusCode::NO_CONTENT);
    assert_eq!(delete(auth.clone()).await, StatusCode::NOT_FOUND);
    assert!(h.server.authenticate_bearer(&key).await.is_err(), "revoked");
}

#[tokio::test]
async fn scoped_key_refusals_tampered_truncated_expired_revoked_foreign_deleted() {
    let h = harness().await;
    connected_customer(&h, "k-2").await;
    let auth = basic(&h.confidential);
    let mint = |body: Value| {
        let h = &h;
        let auth = auth.clone();
        async move {
            json(&post_json(h, "/v1/scoped-keys", &auth, body).await)["scopedKey"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let key = mint(json!({"referenceId": "k-2"})).await;
    assert!(h.server.verify_scoped_key(&key).await.is_ok());
    // Tampered: one character of the signed part changed. The checksum,
    // which anyone can recompute, catches a typo first; a tampered key
    // with a recomputed checksum fails the signature instead (the unit
    // test `a_tampered_key_with_a_valid_checksum_fails_the_signature` in
    // src/connect/scoped_keys.rs).
    let mut bytes = key.clone().into_bytes();
    let at = key.len() - 20;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert!(matches!(
        h.server.verify_scoped_key(&tampered).await,
        Err(oauth_connect::connect::ScopedKeyError::Malformed)
    ));
    assert!(
        h.server
            .verify_scoped_key(&key[..key.len() - 1])
            .await
            .is_err(),
        "truncated"
    );
    assert!(h.server.verify_scoped_key("oc_sk_").await.is_err());
    // Expired.
    let short = mint(json!({"referenceId": "k-2", "expiresIn": 60})).await;
    assert!(h.server.verify_scoped_key(&short).await.is_ok());
    h.clock.advance(Duration::seconds(60));
    assert!(matches!(
        h.server.verify_scoped_key(&short).await,
        Err(oauth_connect::connect::ScopedKeyError::Expired)
    ));
    // Foreign workspace.
    let other = oauth_connect::WorkspaceId::parse("ws_other").unwrap();
    let principal = h.server.verify_scoped_key(&key).await.unwrap();
    assert!(matches!(
        principal.require_workspace(&other),
        Err(oauth_connect::connect::ScopedKeyError::Revoked)
    ));
    assert!(principal.require_workspace(&h.workspace).is_ok());
    // Customer deletion revokes; app deletion removes.
    use oauth_connect::storage::ConnectStore as _;
    let customer = h
        .server
        .storage()
        .find_customer_record(&h.workspace, "k-2")
        .await;
    connected_customer(&h, "k-3").await;
    let other_key = mint(json!({"referenceId": "k-3"})).await;
    assert!(
        h.server
            .storage()
            .delete_customer(
                &h.workspace,
                None,
                &customer.id,
                time::OffsetDateTime::now_utc()
            )
            .await
            .unwrap()
            .is_some()
    );
    assert!(matches!(
        h.server.verify_scoped_key(&key).await,
        Err(oauth_connect::connect::ScopedKeyError::Revoked)
    ));
    assert!(h.server.verify_scoped_key(&other_key).await.is_ok());
    let app = h
        .server
        .authenticate_client(&h.confidential.client_id, h.confidential.secret.as_deref())
        .await
        .unwrap()
        .app;
    h.server.delete_app(&h.workspace, &app.id).await.unwrap();
    assert!(
        h.server.verify_scoped_key(&other_key).await.is_err(),
        "deleted app"
    );
}

/// Over HTTP, a tampered, an expired, a foreign-workspace and a
/// deleted-app scoped key are `{"active": false}` at introspection (RFC 7662
/// §2.2: nothing more is said of an inactive token) and a 401
/// `invalid_token` at the bearer check (RFC 6750 §3.1).
#[tokio::test]
async fn refused_scoped_keys_are_inactive_at_introspection_and_401_at_the_bearer_check() {
    let h = harness().await;
    connected_customer(&h, "http-1").await;
    let auth = basic(&h.confidential);
    let mint = |body: Value| {
        let h = &h;
        let auth = auth.clone();
        async move {
            json(&post_json(h, "/v1/scoped-keys", &auth, body).await)["scopedKey"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let bearer = |key: String| {
        let h = &h;
        async move {
            let mut headers = http::HeaderMap::new();
            headers.insert("authorization", format!("Bearer {key}").parse().unwrap());
            h.server.authenticate_request(&headers).await
        }
    };
    let live = mint(json!({"referenceId": "http-1"})).await;
    assert_eq!(
        introspect(&h.server, &h.confidential, &live).await["active"],
        true
    );
    assert!(bearer(live.clone()).await.is_ok());

    let mut bytes = live.clone().into_bytes();
    let at = live.len() - 20;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    let expired = mint(json!({"referenceId": "http-1", "expiresIn": 60})).await;
    h.clock.advance(Duration::seconds(60));
    let refusals = [("tampered", tampered), ("expired", expired)];
    for (what, key) in &refusals {
        assert_eq!(
            introspect(&h.server, &h.confidential, key).await,
            json!({"active": false}),
            "{what}"
        );
        let refused = bearer(key.clone()).await.unwrap_err();
        let answer = refused.to_response();
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(
            answer.headers()["www-authenticate"],
            "Bearer realm=\"oauth-connect\", error=\"invalid_token\"",
            "{what}"
        );
    }

    // Foreign workspace: another workspace's client learns nothing, and a
    // resource server of another workspace refuses it.
    let elsewhere = oauth_connect::WorkspaceId::parse("ws_elsewhere").unwrap();
    let foreign_client = register(
        &h.server,
        &elsewhere,
        oauth_connect::AppType::Confidential,
        &[REDIRECT],
    )
    .await;
    assert_eq!(
        introspect(&h.server, &foreign_client, &live).await,
        json!({"active": false})
    );
    let principal = bearer(live.clone()).await.unwrap();
    let refused = principal.require_workspace(&elsewhere).unwrap_err();
    assert_eq!(refused.to_response().status(), StatusCode::UNAUTHORIZED);
    assert!(principal.require_workspace(&h.workspace).is_ok());

    // The app deleted.
    let app = h
        .server
        .authenticate_client(&h.confidential.client_id, h.confidential.secret.as_deref())
        .await
        .unwrap()
        .app;
    h.server.delete_app(&h.workspace, &app.id).await.unwrap();
    let other = register(
        &h.server,
        &h.workspace,
        oauth_connect::AppType::Confidential,
        &[REDIRECT],
    )
    .await;
    assert_eq!(
        introspect(&h.server, &other, &live).await,
        json!({"active": false}),
        "deleted app"
    );
    let refused = bearer(live).await.unwrap_err();
    assert_eq!(refused.to_response().status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn customers_typed_api_get_list_delete_revokes_tokens_and_keys() {
    let h = harness().await;
    let first = connected_customer(&h, "c-1").await;
    connected_customer(&h, "c-2").await;
    let minted = json(
        &post_json(
            &h,
            "/v1/scoped-keys",
            &basic(&h.confidential),
            json!({"referenceId": "c-1"}),
        )
        .await,
    );
    let key = minted["scopedKey"].as_str().unwrap().to_owned();
    let page = h
        .server
        .list_customers(
            &h.workspace,
            None,
            None,
            oauth_connect::PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(page.meta.total, 2);
    let c1 = h
        .server
        .list_customers(
            &h.workspace,
            None,
            Some("c-1"),
            oauth_connect::PageRequest::default(),
        )
        .await
        .unwrap();
    let c1 = c1.data[0].clone();
    let as_json = serde_json::to_value(&c1).unwrap();
    assert_eq!(as_json["referenceId"], "c-1");
    assert_eq!(as_json["location"]["postalCode"], "62701");
    assert_eq!(
        h.server
            .get_customer(&h.workspace, None, &c1.id)
            .await
            .unwrap(),
        c1
    );
    let other = oauth_connect::WorkspaceId::parse("ws_other").unwrap();
    assert!(matches!(
        h.server.get_customer(&other, None, &c1.id).await,
        Err(oauth_connect::Error::NotFound(
            oauth_connect::error::Resource::Customer
        ))
    ));

    h.server
        .delete_customer(&h.workspace, None, &c1.id)
        .await
        .unwrap();
    let at = first["access_token"].as_str().unwrap();
    assert_eq!(
        introspect(&h.server, &h.confidential, at).await["active"],
        false,
        "grant revoked"
    );
    let rt = first["refresh_token"].as_str().unwrap();
    let refreshed = token(
        &h.server,
        &h.confidential,
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await;
    assert_eq!(error_of(&refreshed), "invalid_grant");
    assert!(
        h.server.verify_scoped_key(&key).await.is_err(),
        "scoped keys revoked"
    );
    assert!(matches!(
        h.server.delete_customer(&h.workspace, None, &c1.id).await,
        Err(oauth_connect::Error::NotFound(
            oauth_connect::error::Resource::Customer
        ))
    ));
    assert_eq!(
        h.server
            .list_customers(
                &h.workspace,
                None,
                None,
                oauth_connect::PageRequest::default(),
            )
            .await
            .unwrap()
            .meta
            .total,
        1
    );
}

#[tokio::test]
async fn rfc6749_4_1_2_replaying_a_connect_code_also_revokes_its_scoped_key() {
    let h = harness().await;
    let s = json(
        &create_session(
            &h,
            json!({"redirectUrl": REDIRECT, "customerInfo": full_customer(), "scopedKey": true}),
        )
        .await,
    );
    let (_, page, _) = open(&h, s["url"].as_str().unwrap()).await;
    let code = param(&location(&submit(&h, &page, "approve", &[]).await), "code").unwrap();
    let tokens = exchange_connect(&h, &code).await;
    let key = tokens["scoped_key"].as_str().unwrap();
    assert!(h.server.verify_scoped_key(key).await.is_ok());
    let replay = token(
        &h.server,
        &h.confidential,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(error_of(&replay), "invalid_grant");
    assert!(
        h.server.verify_scoped_key(key).await.is_err(),
        "the key delivered with the first exchange is revoked"
    );
    let access = tokens["access_token"].as_str().unwrap();
    assert!(h.server.authenticate_bearer(access).await.is_err());
    // The connection resting on the revoked grant is revoked with it (one
    // atomic storage step), not left "active" with a dead grant.
    use oauth_connect::storage::ConnectStore as _;
    let listed = h
        .server
        .storage()
        .list_connections(
            &h.workspace,
            &oauth_connect::storage::ConnectionFilter::default(),
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(
        listed.items[0].status,
        oauth_connect::connect::ConnectionStatus::Revoked
    );
    assert_eq!(
        connection_revoked_events(&h, listed.items[0].id.as_str()),
        1,
        "reported like any connection's revocation"
    );
    assert!(
        h.events
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, oauth_connect::hooks::Event::CodeReplayDetected { .. }))
    );
}

/// A server mounted under a path (its issuer `https://host/prefix`, the
/// adapter stripping the prefix): the hosted page's forms (the step posts,
/// the exit form and the picker's search) go to `/prefix/connect`.
#[tokio::test]
async fn hosted_page_forms_follow_the_issuers_path() {
    let (builder, clock, events) = builder();
    let server = builder
        .issuer("https://auth.example.com/prefix")
        .build()
        .unwrap();
    let h = harness_with(server, clock, events).await;
    let created = create_session(&h, json!({ "redirectUrl": REDIRECT })).await;
    assert_eq!(created.status(), StatusCode::CREATED, "{}", text(&created));
    let url = json(&created)["url"].as_str().unwrap().to_owned();
    let path = url
        .strip_prefix("https://auth.example.com/prefix")
        .expect("the page lives under the issuer");
    let page = h.browser.get(&h.server, path).await;
    assert_eq!(page.status(), StatusCode::OK);
    let cookie = page.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("__Host-oc_connect_browser=") && cookie.contains("; Path=/;"),
        "on https the binding cookie is host-only, as `__Host-` requires: {cookie}"
    );
    let html = text(&page);
    assert!(html.contains("action=\"/prefix/connect\""), "{html}");
    assert!(!html.contains("action=\"/connect\""), "{html}");
}

/// `GET uri` with the confidential client's credentials; the JSON answer.
async fn get_as_client(h: &Harness, uri: &str) -> Value {
    let response = h
        .server
        .handle(
            Request::get(uri)
                .header("authorization", basic(&h.confidential))
                .body(Bytes::new())
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "{}", text(&response));
    json(&response)
}

/// `POST /oauth/revoke` of `token` by the confidential client (RFC 7009
/// §2.1); always 200 for its own tokens (§2.2).
async fn revoke(h: &Harness, token: &str) {
    let answer = post_form(
        &h.server,
        "/oauth/revoke",
        &[("token", token)],
        Some(&basic(&h.confidential)),
        None,
    )
    .await;
    assert_eq!(answer.status(), StatusCode::OK, "{}", text(&answer));
}

/// How many `ConnectionRevoked` events named `connection`.
fn connection_revoked_events(h: &Harness, connection: &str) -> usize {
    h.events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|e| {
            matches!(e, oauth_connect::hooks::Event::ConnectionRevoked { connection_id, .. }
                if connection_id.as_str() == connection)
        })
        .count()
}

/// A completed Connect session for `reference` that asked for a scoped key
/// (its code exchanged), a second key minted through the API under the
/// same connection; the token response, that key and the connection's id.
async fn connected_with_keys(h: &Harness, reference: &str) -> (Value, String, String) {
    let s = json(
        &create_session(
            h,
            json!({"redirectUrl": REDIRECT, "referenceId": reference,
                   "customerInfo": full_customer(), "scopedKey": true}),
        )
        .await,
    );
    let (_, page, _) = open(h, s["url"].as_str().unwrap()).await;
    let code = param(&location(&submit(h, &page, "approve", &[]).await), "code").unwrap();
    let tokens = exchange_connect(h, &code).await;
    let minted = post_json(
        h,
        "/v1/scoped-keys",
        &basic(&h.confidential),
        json!({"referenceId": reference, "label": "backend"}),
    )
    .await;
    assert_eq!(minted.status(), StatusCode::CREATED, "{}", text(&minted));
    let minted = json(&minted)["scopedKey"].as_str().unwrap().to_owned();
    let listed = get_as_client(h, &format!("/v1/connections?referenceId={reference}")).await;
    assert_eq!(listed["meta"]["total"], 1, "{listed}");
    let connection = listed["data"][0]["id"].as_str().unwrap().to_owned();
    (tokens, minted, connection)
}

/// RFC 7009 §2.1: revoking the refresh token of a Connect grant revokes
/// the grant, and with it (one atomic storage step) its connection and the
/// scoped keys minted under it, with a `ConnectionRevoked` event. Revoking
/// only an access token revokes that token, as for any grant: the refresh
/// token, the connection and its keys stay (the server does not use §2.1's
/// "MAY" to revoke the grant for an access token).
#[tokio::test]
async fn rfc7009_2_1_revoking_a_connect_refresh_token_revokes_its_connection_and_keys() {
    let h = harness().await;
    let (tokens, minted, connection) = connected_with_keys(&h, "revoked-rt").await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let delivered = tokens["scoped_key"].as_str().unwrap();
    let connection_path = format!("/v1/connections/{connection}");

    // An access token alone.
    revoke(&h, access).await;
    assert!(h.server.authenticate_bearer(access).await.is_err());
    assert_eq!(
        get_as_client(&h, &connection_path).await["status"],
        "active"
    );
    for key in [delivered, minted.as_str()] {
        assert!(h.server.verify_scoped_key(key).await.is_ok());
    }
    assert_eq!(connection_revoked_events(&h, &connection), 0);
    let refreshed = token(
        &h.server,
        &h.confidential,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(
        refreshed.status(),
        StatusCode::OK,
        "the refresh token lives"
    );
    let refreshed = json(&refreshed);
    let access = refreshed["access_token"].as_str().unwrap();
    let refresh = refreshed["refresh_token"].as_str().unwrap();

    // The refresh token: the whole grant, its connection and its keys.
    revoke(&h, refresh).await;
    assert!(h.server.authenticate_bearer(access).await.is_err());
    let again = token(
        &h.server,
        &h.confidential,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(error_of(&again), "invalid_grant");
    let shown = get_as_client(&h, &connection_path).await;
    assert_eq!(shown["status"], "revoked", "{shown}");
    for key in [delivered, minted.as_str()] {
        assert!(matches!(
            h.server.verify_scoped_key(key).await,
            Err(oauth_connect::connect::ScopedKeyError::Revoked)
        ));
        assert_eq!(
            introspect(&h.server, &h.confidential, key).await,
            json!({"active": false})
        );
    }
    let keys = get_as_client(&h, "/v1/scoped-keys").await;
    assert!(
        keys["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["revokedAt"].is_string()),
        "listed as revoked: {keys}"
    );
    assert_eq!(connection_revoked_events(&h, &connection), 1);
    // Nothing more to mint under it, and a second revocation (§2.2: 200)
    // reports nothing again.
    let refused = post_json(
        &h,
        "/v1/scoped-keys",
        &basic(&h.confidential),
        json!({"referenceId": "revoked-rt"}),
    )
    .await;
    assert_eq!(
        refused.status(),
        StatusCode::BAD_REQUEST,
        "{}",
        text(&refused)
    );
    revoke(&h, refresh).await;
    assert_eq!(connection_revoked_events(&h, &connection), 1);
    // The next session for the reference id starts over (create mode).
    let next = json(
        &create_session(
            &h,
            json!({"redirectUrl": REDIRECT, "referenceId": "revoked-rt"}),
        )
        .await,
    );
    assert_eq!(next["mode"], "create");
}

/// RFC 9700 §4.14.2: a rotated-out refresh token of a Connect grant
/// presented again revokes the grant as a revocation does: its connection
/// and scoped keys with it, and a `ConnectionRevoked` event.
#[tokio::test]
async fn rfc9700_4_14_2_refresh_reuse_on_a_connect_grant_revokes_its_connection() {
    let h = harness().await;
    let (tokens, minted, connection) = connected_with_keys(&h, "reused-rt").await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let pairs = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    let first = token(&h.server, &h.confidential, &pairs).await;
    assert_eq!(first.status(), StatusCode::OK);
    let reused = token(&h.server, &h.confidential, &pairs).await;
    assert_eq!(error_of(&reused), "invalid_grant");
    assert_eq!(
        get_as_client(&h, &format!("/v1/connections/{connection}")).await["status"],
        "revoked"
    );
    for key in [tokens["scoped_key"].as_str().unwrap(), minted.as_str()] {
        assert!(h.server.verify_scoped_key(key).await.is_err());
    }
    assert_eq!(connection_revoked_events(&h, &connection), 1);
}

/// A Connect session whose code is never exchanged — its scoped key went
/// to the browser in the redirect (the opt-in), which is all the app
/// needed — keeps its connection and grant through purges: the key
/// verifies and keys are still minted for the customer, while the expired
/// code (RFC 6749 §4.1.2) is refused and purged. A day after the
/// connection's revocation the purge removes the grant; the key still
/// reads revoked.
#[tokio::test]
async fn purge_keeps_a_connection_whose_code_was_never_exchanged_until_it_is_revoked() {
    let h = harness().await;
    let s = json(
        &create_session(
            &h,
            json!({"redirectUrl": REDIRECT, "referenceId": "browser-only", "customerInfo": full_customer(),
                   "scopedKey": true, "scopedKeyDelivery": "redirect"}),
        )
        .await,
    );
    let (_, page, _) = open(&h, s["url"].as_str().unwrap()).await;
    let to = location(&submit(&h, &page, "approve", &[]).await);
    let key = param(&to, "scoped_key").unwrap();
    let code = param(&to, "code").unwrap();

    h.clock.advance(Duration::days(2));
    while h.server.purge_expired(2).await.unwrap() > 0 {}
    assert!(h.server.verify_scoped_key(&key).await.is_ok());
    let late = token(
        &h.server,
        &h.confidential,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(error_of(&late), "invalid_grant");
    let minted = post_json(
        &h,
        "/v1/scoped-keys",
        &basic(&h.confidential),
        json!({"referenceId": "browser-only"}),
    )
    .await;
    assert_eq!(minted.status(), StatusCode::CREATED, "{}", text(&minted));
    let listed = get_as_client(&h, "/v1/connections?referenceId=browser-only").await;
    assert_eq!(listed["data"][0]["status"], "active");
    let connection = listed["data"][0]["id"].as_str().unwrap();

    let revoked = h
        .server
        .handle(
            Request::delete(format!("/v1/connections/{connection}"))
                .header("authorization", basic(&h.confidential))
                .body(Bytes::new())
                .unwrap(),
        )
        .await;
    assert!(revoked.status().is_success(), "{}", text(&revoked));
    h.clock.advance(Duration::days(2));
    let mut purged = 0;
    loop {
        let n = h.server.purge_expired(2).await.unwrap();
        purged += n;
        if n == 0 {
            break;
        }
    }
    assert!(purged >= 1, "the revoked connection's grant goes");
    use oauth_connect::storage::{ConnectStore as _, GrantStore as _};
    let record = h
        .server
        .storage()
        .list_connections(
            &h.workspace,
            &oauth_connect::storage::ConnectionFilter::default(),
            0,
            10,
        )
        .await
        .unwrap()
        .items
        .remove(0);
    assert!(
        h.server
            .storage()
            .get_grant(&record.grant_id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        h.server.verify_scoped_key(&key).await,
        Err(oauth_connect::connect::ScopedKeyError::Revoked)
    ));
    assert_eq!(
        get_as_client(&h, &format!("/v1/connections/{connection}")).await["status"],
        "revoked",
        "the connection's record stays"
    );
}

/// Issue 17, item 2: customers belong to the app whose session created
/// them; another app of the workspace never reaches them.
#[tokio::test]
async fn an_app_never_reaches_another_apps_customer() {
    let (builder, _, _) = builder();
    let world = isolation::World::new(
        builder.build().unwrap(),
        oauth_connect::WorkspaceId::parse("ws_isolation").unwrap(),
    )
    .await;
    isolation::an_app_never_reaches_another_apps_customer(&world).await;
}

/// Issue 18 item 7: the tag cap and the revoked grants' retention are the
/// server's configuration, honoured end to end. With
/// `max_connection_tags(3)`: a session with four tags is refused naming
/// `tags`, an edit past three too, and an update-mode session adds only
/// what fits. With `revoked_grant_retention(1 h)`: the grant of a revoked
/// connection is still stored half an hour later and purged two hours
/// later (the default would keep it a day).
#[tokio::test]
async fn configured_tag_cap_and_grant_retention_are_honoured() {
    use oauth_connect::storage::{ConnectStore as _, GrantStore as _};

    let (builder, clock, events) = builder();
    let server = builder
        .max_connection_tags(3)
        .revoked_grant_retention(Duration::HOUR)
        .build()
        .unwrap();
    let h = harness_with(server, clock, events).await;
    let four =
        json!({"redirectUrl": REDIRECT, "referenceId": "capped", "tags": ["a", "b", "c", "d"]});
    let refused = create_session(&h, four).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let refused = json(&refused);
    assert_eq!(refused["field"], "tags", "{refused}");

    let approve = |tags: Value| {
        let h = &h;
        async move {
            let s = json(
                &create_session(
                    h,
                    json!({"redirectUrl": REDIRECT, "referenceId": "capped",
                           "customerInfo": full_customer(), "tags": tags}),
                )
                .await,
            );
            let (_, page, _) = open(h, s["url"].as_str().expect("a session")).await;
            location(&submit(h, &page, "approve", &[]).await)
        }
    };
    approve(json!(["a", "b"])).await;
    let listed = get_as_client(&h, "/v1/connections?referenceId=capped").await;
    let connection = listed["data"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/connections/{connection}");
    let patch = |body: Value| {
        let h = &h;
        let path = path.clone();
        async move {
            h.server
                .handle(
                    Request::patch(path)
                        .header("content-type", "application/json")
                        .header("authorization", basic(&h.confidential))
                        .body(Bytes::from(body.to_string()))
                        .unwrap(),
                )
                .await
        }
    };
    let too_many = patch(json!({"addTags": ["c", "d"]})).await;
    assert_eq!(too_many.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(&too_many)["field"], "tags");
    // An update-mode session adds the session's tags up to the cap.
    approve(json!(["c", "d"])).await;
    let shown = get_as_client(&h, &path).await;
    assert_eq!(shown["tags"], json!(["a", "b", "c"]), "{shown}");

    let grant = {
        let ws = oauth_connect::WorkspaceId::parse("ws_test").unwrap();
        let id = oauth_connect::ConnectionId::parse(&connection).unwrap();
        h.server
            .storage()
            .get_connection(&ws, None, &id)
            .await
            .unwrap()
            .unwrap()
            .grant_id
    };
    let revoked = h
        .server
        .handle(
            Request::delete(path.as_str())
                .header("authorization", basic(&h.confidential))
                .body(Bytes::new())
                .unwrap(),
        )
        .await;
    assert!(revoked.status().is_success(), "{}", text(&revoked));
    h.clock.advance(Duration::minutes(30));
    while h.server.purge_expired(100).await.unwrap() > 0 {}
    assert!(
        h.server
            .storage()
            .get_grant(&grant)
            .await
            .unwrap()
            .is_some(),
        "revoked half an hour ago: kept"
    );
    h.clock.advance(Duration::minutes(90));
    while h.server.purge_expired(100).await.unwrap() > 0 {}
    assert!(
        h.server
            .storage()
            .get_grant(&grant)
            .await
            .unwrap()
            .is_none(),
        "revoked two hours ago, an hour's retention: purged"
    );
}
