//! The management API over `AuthorizationServer::handle`, driven with plain
//! `http::Request` values: every status code, its edges, admin-key
//! authentication, workspace isolation, secret rotation and storage
//! failures.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use oauth_connect::conformance::FaultyStore;
use oauth_connect::hooks::ManualClock;
use oauth_connect::limits::MAX_BODY_BYTES;
use oauth_connect::storage::StorageErrorKind;
use oauth_connect::{AuthorizationServer, MemoryStore, WorkspaceId};
use serde_json::{Value, json};
use time::{Duration, macros::datetime};

/// A memory store that fails on demand.
type FlakyStore = FaultyStore<MemoryStore>;

type Server = AuthorizationServer<FlakyStore>;

struct Fixture {
    server: Server,
    clock: Arc<ManualClock>,
    /// The admin key of workspace `ws_a`.
    key: String,
    /// The admin key of workspace `ws_b`.
    other_key: String,
}

async fn fixture() -> Fixture {
    let clock = Arc::new(ManualClock::new(datetime!(2025-06-01 00:00 UTC)));
    let server = AuthorizationServer::builder(FaultyStore::new(MemoryStore::new()))
        .issuer("https://auth.example.com")
        .clock(clock.clone())
        .build()
        .unwrap();
    let key = server.create_admin_key(&ws("ws_a")).await.unwrap();
    let other_key = server.create_admin_key(&ws("ws_b")).await.unwrap();
    Fixture {
        server,
        clock,
        key: key.expose_secret().to_owned(),
        other_key: other_key.expose_secret().to_owned(),
    }
}

fn ws(name: &str) -> WorkspaceId {
    WorkspaceId::parse(name).unwrap()
}

/// A parsed response.
struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    raw: Bytes,
    body: Value,
}

impl Answer {
    fn from(response: Response<Bytes>) -> Self {
        let (parts, raw) = response.into_parts();
        let body = if raw.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&raw).expect("every body is JSON")
        };
        assert_eq!(
            parts.headers["x-content-type-options"], "nosniff",
            "every response sets nosniff"
        );
        Self {
            status: parts.status,
            headers: parts.headers,
            raw,
            body,
        }
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("header {name} missing"))
            .to_str()
            .unwrap()
    }

    /// Asserts an error answer: status, code and, for validation errors,
    /// the field.
    fn assert_error(&self, status: StatusCode, code: &str, field: Option<&str>) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.body["error"], code, "body: {}", self.body);
        assert!(self.body["message"].is_string(), "body: {}", self.body);
        match field {
            Some(field) => assert_eq!(self.body["field"], field, "body: {}", self.body),
            None => assert!(self.body.get("field").is_none(), "body: {}", self.body),
        }
    }
}

/// Builds a request; a body is sent as `application/json`.
fn request(method: Method, uri: &str, key: Option<&str>, body: Option<&str>) -> Request<Bytes> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(key) = key {
        builder = builder.header("authorization", format!("Bearer {key}"));
    }
    if body.is_some() {
        builder = builder.header("content-type", "application/json");
    }
    builder
        .body(Bytes::from(body.unwrap_or_default().to_owned()))
        .unwrap()
}

impl Fixture {
    async fn send(&self, request: Request<Bytes>) -> Answer {
        Answer::from(self.server.handle(request).await)
    }

    async fn call(&self, method: Method, uri: &str, body: Option<&str>) -> Answer {
        self.send(request(method, uri, Some(&self.key), body)).await
    }

    async fn create(&self, app_type: &str) -> Value {
        let body = json!({
            "name": "My Energy App",
            "description": "Connects customers to their energy data.",
            "redirectUris": ["https://myapp.com/callback"],
            "allowedScopes": ["read:devices", "read:sites"],
            "type": app_type,
        })
        .to_string();
        let answer = self.call(Method::POST, "/v1/oauth-apps", Some(&body)).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body
    }
}

fn app_uri(app: &Value) -> String {
    format!("/v1/oauth-apps/{}", app["id"].as_str().unwrap())
}

#[tokio::test]
async fn create_returns_201_with_the_secret_once_and_no_store() {
    let f = fixture().await;
    let body = json!({
        "name": "My Energy App",
        "redirectUris": ["https://myapp.com/callback"],
        "allowedScopes": ["read:devices"],
        "type": "CONFIDENTIAL",
    })
    .to_string();
    let answer = f.call(Method::POST, "/v1/oauth-apps", Some(&body)).await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(answer.header("cache-control"), "no-store");
    assert_eq!(answer.header("content-type"), "application/json");
    let app = &answer.body;
    assert!(
        app["clientSecret"]
            .as_str()
            .unwrap()
            .starts_with("oc_secret_")
    );
    assert!(app["clientId"].as_str().unwrap().starts_with("oc_client_"));
    assert_eq!(app["workspaceId"], "ws_a");
    assert_eq!(app["type"], "CONFIDENTIAL");
    assert_eq!(app["createdAt"], "2025-06-01T00:00:00.000Z");
    assert_eq!(answer.header("location"), app_uri(app));

    // The secret is never shown again.
    let got = f.call(Method::GET, &app_uri(app), None).await;
    assert_eq!(got.status, StatusCode::OK);
    assert!(got.body.get("clientSecret").is_none());
    assert_eq!(got.body["id"], app["id"]);
    assert!(got.headers.get("cache-control").is_none());
    let listed = f.call(Method::GET, "/v1/oauth-apps", None).await;
    assert!(!String::from_utf8_lossy(&listed.raw).contains("clientSecret"));
}

#[tokio::test]
async fn public_apps_get_no_secret() {
    let f = fixture().await;
    let app = f.create("PUBLIC").await;
    assert!(app.get("clientSecret").is_none());
    assert_eq!(app["type"], "PUBLIC");
}

#[tokio::test]
async fn validation_errors_are_400_naming_the_field() {
    let f = fixture().await;
    let cases = [
        (
            json!({"name": "A", "redirectUris": ["https://ok.example/cb", "https://bad.example/cb#frag"], "allowedScopes": ["read"], "type": "PUBLIC"}),
            "redirectUris[1]",
        ),
        (
            json!({"name": "", "redirectUris": ["https://ok.example/cb"], "allowedScopes": ["read"], "type": "PUBLIC"}),
            "name",
        ),
        (
            json!({"name": "A", "redirectUris": [], "allowedScopes": ["read"], "type": "PUBLIC"}),
            "redirectUris",
        ),
        (
            json!({"name": "A", "redirectUris": ["https://ok.example/cb"], "allowedScopes": ["read", "bad\"scope"], "type": "PUBLIC"}),
            "allowedScopes[1]",
        ),
        // serde's own errors name the field too.
        (
            json!({"redirectUris": ["https://ok.example/cb"], "allowedScopes": ["read"], "type": "PUBLIC"}),
            "name",
        ),
        (
            json!({"name": "A", "redirectUris": ["https://ok.example/cb"], "allowedScopes": ["read"], "type": "PUBLIC", "clientSecret": "x"}),
            "clientSecret",
        ),
    ];
    for (body, field) in cases {
        let answer = f
            .call(Method::POST, "/v1/oauth-apps", Some(&body.to_string()))
            .await;
        answer.assert_error(StatusCode::BAD_REQUEST, "invalid_request", Some(field));
    }
    let listed = f.call(Method::GET, "/v1/oauth-apps", None).await;
    assert_eq!(listed.body["meta"]["total"], 0, "nothing was created");
}

#[tokio::test]
async fn malformed_or_mistyped_json_is_400_never_500() {
    let f = fixture().await;
    for body in [
        "{",
        "not json",
        "[]",
        "null",
        r#"{"name": 5, "redirectUris": ["https://ok.example/cb"], "allowedScopes": ["read"], "type": "PUBLIC"}"#,
        r#"{"name": "A", "redirectUris": "https://ok.example/cb", "allowedScopes": ["read"], "type": "PUBLIC"}"#,
        r#"{"name": "A", "redirectUris": ["https://ok.example/cb"], "allowedScopes": ["read"], "type": "SECRET"}"#,
        r#"{"name": "A", "name": "B", "redirectUris": ["https://ok.example/cb"], "allowedScopes": ["read"], "type": "PUBLIC"}"#,
        "{\"name\": \"\u{0}\"}",
    ] {
        let answer = f.call(Method::POST, "/v1/oauth-apps", Some(body)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer.body["error"], "invalid_request");
    }
    // A value of the wrong type is named by its field's path.
    for (body, field) in [
        (
            r#"{"name": 5, "redirectUris": ["https://ok.example/cb"], "allowedScopes": ["read"], "type": "PUBLIC"}"#,
            "name",
        ),
        (
            r#"{"name": "A", "redirectUris": "https://ok.example/cb", "allowedScopes": ["read"], "type": "PUBLIC"}"#,
            "redirectUris",
        ),
        (
            r#"{"name": "A", "redirectUris": ["https://ok.example/cb", 7], "allowedScopes": ["read"], "type": "PUBLIC"}"#,
            "redirectUris[1]",
        ),
        (
            r#"{"name": "A", "redirectUris": ["https://ok.example/cb"], "allowedScopes": ["read"], "type": "SECRET"}"#,
            "type",
        ),
    ] {
        let answer = f.call(Method::POST, "/v1/oauth-apps", Some(body)).await;
        answer.assert_error(StatusCode::BAD_REQUEST, "invalid_request", Some(field));
    }
    let invalid_utf8 = request(Method::POST, "/v1/oauth-apps", Some(&f.key), Some("x"));
    let (parts, _) = invalid_utf8.into_parts();
    let answer = f
        .send(Request::from_parts(
            parts,
            Bytes::from_static(b"{\"name\": \"\xff\"}"),
        ))
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn empty_create_body_is_400() {
    let f = fixture().await;
    let answer = f
        .send(request(Method::POST, "/v1/oauth-apps", Some(&f.key), None))
        .await;
    answer.assert_error(StatusCode::BAD_REQUEST, "invalid_request", None);
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let f = fixture().await;
    let body = format!(
        r#"{{"name": "A", "description": "{}"}}"#,
        "x".repeat(MAX_BODY_BYTES)
    );
    let answer = f.call(Method::POST, "/v1/oauth-apps", Some(&body)).await;
    answer.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", None);
    // Exactly at the limit is read (and here refused for its content).
    let padded = format!(
        "{}{}",
        json!({"name": "A", "redirectUris": ["https://ok.example/cb"], "allowedScopes": ["read"], "type": "PUBLIC"}),
        " ".repeat(MAX_BODY_BYTES)
    );
    let at_limit = &padded[..MAX_BODY_BYTES];
    let answer = f.call(Method::POST, "/v1/oauth-apps", Some(at_limit)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
}

#[tokio::test]
async fn content_type_must_be_json_415() {
    let f = fixture().await;
    let app = f.create("CONFIDENTIAL").await;
    let body = json!({"name": "B"}).to_string();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        for (method, uri) in [
            (Method::POST, "/v1/oauth-apps".to_owned()),
            (Method::PATCH, app_uri(&app)),
            (Method::POST, format!("{}/rotate-secret", app_uri(&app))),
        ] {
            let mut builder = Request::builder()
                .method(method)
                .uri(&uri)
                .header("authorization", format!("Bearer {}", f.key));
            if let Some(content_type) = content_type {
                builder = builder.header("content-type", content_type);
            }
            let answer = f
                .send(builder.body(Bytes::from(body.clone())).unwrap())
                .await;
            answer.assert_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                None,
            );
        }
    }
    // Parameters are fine.
    let answer = f
        .send(
            Request::patch(app_uri(&app))
                .header("authorization", format!("Bearer {}", f.key))
                .header("content-type", "application/json; charset=utf-8")
                .body(Bytes::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["name"], "B");
}

#[tokio::test]
async fn list_paginates_and_checks_its_bounds() {
    let f = fixture().await;
    for _ in 0..3 {
        f.create("PUBLIC").await;
    }
    let answer = f.call(Method::GET, "/v1/oauth-apps", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body["meta"],
        json!({"total": 3, "page": 1, "perPage": 10})
    );
    assert_eq!(answer.body["data"].as_array().unwrap().len(), 3);

    let answer = f
        .call(Method::GET, "/v1/oauth-apps?page=2&perPage=2", None)
        .await;
    assert_eq!(
        answer.body["meta"],
        json!({"total": 3, "page": 2, "perPage": 2})
    );
    assert_eq!(answer.body["data"].as_array().unwrap().len(), 1);

    // The largest page and page size are fine (and empty).
    let answer = f
        .call(Method::GET, "/v1/oauth-apps?page=1000&perPage=100", None)
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["data"], json!([]));
    assert_eq!(answer.body["meta"]["total"], 3);

    // An empty value is not an integer: the document says integer, so it is
    // refused like any other malformed number (not read as the default).
    for (query, field) in [
        ("page=", "page"),
        ("perPage=", "perPage"),
        ("page=&perPage=5", "page"),
        ("page=1001", "page"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=99999999999", "page"),
        ("perPage=101", "perPage"),
        ("perPage=0", "perPage"),
        ("perPage=1.5", "perPage"),
        ("page=1&page=2", "page"),
        ("perPage=10&perPage=10", "perPage"),
    ] {
        let answer = f
            .call(Method::GET, &format!("/v1/oauth-apps?{query}"), None)
            .await;
        answer.assert_error(StatusCode::BAD_REQUEST, "invalid_request", Some(field));
    }
    let answer = f.call(Method::GET, "/v1/oauth-apps?page=%zz", None).await;
    answer.assert_error(StatusCode::BAD_REQUEST, "invalid_request", None);
}

#[tokio::test]
async fn patch_updates_and_refuses_empty_or_type_changes() {
    let f = fixture().await;
    let app = f.create("CONFIDENTIAL").await;
    let uri = app_uri(&app);
    f.clock.advance(Duration::seconds(5));

    let answer = f
        .call(
            Method::PATCH,
            &uri,
            Some(&json!({"name": "Renamed", "description": null}).to_string()),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["name"], "Renamed");
    assert_eq!(answer.body["description"], Value::Null);
    assert_eq!(answer.body["updatedAt"], "2025-06-01T00:00:05.000Z");
    assert_eq!(answer.body["redirectUris"], app["redirectUris"]);
    assert!(answer.body.get("clientSecret").is_none());

    let answer = f.call(Method::PATCH, &uri, Some("{}")).await;
    answer.assert_error(StatusCode::BAD_REQUEST, "invalid_request", None);
    assert!(
        answer.body["message"]
            .as_str()
            .unwrap()
            .starts_with("at least one of name")
    );
    let answer = f
        .send(request(Method::PATCH, &uri, Some(&f.key), None))
        .await;
    answer.assert_error(StatusCode::BAD_REQUEST, "invalid_request", None);

    let answer = f
        .call(Method::PATCH, &uri, Some(r#"{"type": "PUBLIC"}"#))
        .await;
    answer.assert_error(StatusCode::BAD_REQUEST, "invalid_request", Some("type"));
    assert!(answer.body["message"].as_str().unwrap().contains("type"));

    let answer = f
        .call(
            Method::PATCH,
            &uri,
            Some(r#"{"redirectUris": ["https://ok.example/cb", "ftp://x"]}"#),
        )
        .await;
    answer.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        Some("redirectUris[1]"),
    );
    let answer = f.call(Method::PATCH, &uri, Some(r#"{"name": 7}"#)).await;
    answer.assert_error(StatusCode::BAD_REQUEST, "invalid_request", Some("name"));

    let got = f.call(Method::GET, &uri, None).await;
    assert_eq!(
        got.body["name"], "Renamed",
        "failed updates changed nothing"
    );
    assert_eq!(got.body["redirectUris"], app["redirectUris"]);
}

#[tokio::test]
async fn delete_is_204_then_the_app_is_gone() {
    let f = fixture().await;
    let app = f.create("CONFIDENTIAL").await;
    let uri = app_uri(&app);
    let answer = f.call(Method::DELETE, &uri, None).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert!(answer.raw.is_empty());
    for (method, path) in [
        (Method::GET, uri.clone()),
        (Method::DELETE, uri.clone()),
        (Method::POST, format!("{uri}/rotate-secret")),
    ] {
        let answer = f.call(method, &path, None).await;
        answer.assert_error(StatusCode::NOT_FOUND, "not_found", None);
    }
    let answer = f.call(Method::PATCH, &uri, Some(r#"{"name": "B"}"#)).await;
    answer.assert_error(StatusCode::NOT_FOUND, "not_found", None);
    // Its client no longer authenticates.
    let secret = app["clientSecret"].as_str().unwrap();
    assert!(
        f.server
            .authenticate_client(app["clientId"].as_str().unwrap(), Some(secret))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn another_workspace_sees_404_and_changes_nothing() {
    let f = fixture().await;
    let app = f.create("CONFIDENTIAL").await;
    let uri = app_uri(&app);
    let as_other = |method: Method, path: &str, body: Option<&str>| {
        request(method, path, Some(&f.other_key), body)
    };
    for req in [
        as_other(Method::GET, &uri, None),
        as_other(Method::PATCH, &uri, Some(r#"{"name": "Hijacked"}"#)),
        as_other(Method::DELETE, &uri, None),
        as_other(Method::POST, &format!("{uri}/rotate-secret"), None),
    ] {
        f.send(req)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found", None);
    }
    let listed = f.send(as_other(Method::GET, "/v1/oauth-apps", None)).await;
    assert_eq!(listed.body["meta"]["total"], 0);
    let got = f.call(Method::GET, &uri, None).await;
    assert_eq!(got.body["name"], "My Energy App");
    let secret = app["clientSecret"].as_str().unwrap();
    assert!(
        f.server
            .authenticate_client(app["clientId"].as_str().unwrap(), Some(secret))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn unknown_or_malformed_ids_are_404() {
    let f = fixture().await;
    for id in [
        "oauth_0123456789abcdef0123456789abcdef",
        "oauth_XYZ",
        "..",
        "%2e%2e",
        "",
    ] {
        let answer = f
            .call(Method::GET, &format!("/v1/oauth-apps/{id}"), None)
            .await;
        answer.assert_error(StatusCode::NOT_FOUND, "not_found", None);
    }
}

#[tokio::test]
async fn missing_or_wrong_admin_keys_are_401_with_a_challenge() {
    let f = fixture().await;
    let app = f.create("PUBLIC").await;
    let mut typo = f.key.clone();
    typo.pop();
    typo.push('A');
    if typo == f.key {
        typo.pop();
        typo.push('B');
    }
    let revoked = f.server.create_admin_key(&ws("ws_a")).await.unwrap();
    assert!(
        f.server
            .revoke_admin_key(revoked.expose_secret())
            .await
            .unwrap()
    );
    for uri in ["/v1/oauth-apps".to_owned(), app_uri(&app)] {
        let answer = f.send(request(Method::GET, &uri, None, None)).await;
        answer.assert_error(StatusCode::UNAUTHORIZED, "unauthorized", None);
        assert_eq!(
            answer.header("www-authenticate"),
            r#"Bearer realm="oauth-connect""#
        );
        for key in [
            typo.as_str(),
            "oc_admin_",
            "nonsense",
            "an-external-key-nobody-registered-0123456789",
            revoked.expose_secret(),
        ] {
            let answer = f.send(request(Method::GET, &uri, Some(key), None)).await;
            answer.assert_error(StatusCode::UNAUTHORIZED, "unauthorized", None);
            assert!(
                answer
                    .header("www-authenticate")
                    .starts_with(r#"Bearer realm="oauth-connect""#)
            );
            assert!(!String::from_utf8_lossy(&answer.raw).contains(key));
        }
        // Another scheme is as good as none.
        let answer = f
            .send(
                Request::get(&uri)
                    .header("authorization", format!("Basic {}", f.key))
                    .body(Bytes::new())
                    .unwrap(),
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert!(answer.headers.contains_key("www-authenticate"));
    }
    // Two Authorization headers are a malformed request.
    let answer = f
        .send(
            Request::get("/v1/oauth-apps")
                .header("authorization", format!("Bearer {}", f.key))
                .header("authorization", format!("Bearer {}", f.key))
                .body(Bytes::new())
                .unwrap(),
        )
        .await;
    answer.assert_error(StatusCode::BAD_REQUEST, "invalid_request", None);
    // The scheme is case-insensitive.
    let answer = f
        .send(
            Request::get("/v1/oauth-apps")
                .header("authorization", format!("bearer {}", f.key))
                .body(Bytes::new())
                .unwrap(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn authentication_comes_before_body_checks() {
    let f = fixture().await;
    let huge = "x".repeat(MAX_BODY_BYTES + 1);
    let answer = f
        .send(request(Method::POST, "/v1/oauth-apps", None, Some(&huge)))
        .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn external_admin_keys_from_configuration_work() {
    let f = fixture().await;
    let key = "env-key:with/any+printable!chars#0123456789";
    f.server
        .register_admin_key(&ws("ws_env"), key)
        .await
        .unwrap();
    let answer = f
        .send(request(Method::GET, "/v1/oauth-apps", Some(key), None))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn rotation_with_grace_keeps_the_old_secret_for_a_while() {
    let f = fixture().await;
    let app = f.create("CONFIDENTIAL").await;
    let client_id = app["clientId"].as_str().unwrap();
    let old = app["clientSecret"].as_str().unwrap();
    let uri = format!("{}/rotate-secret", app_uri(&app));

    let answer = f
        .call(Method::POST, &uri, Some(r#"{"gracePeriodSeconds": 3600}"#))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("cache-control"), "no-store");
    assert_eq!(answer.body["clientId"], client_id);
    assert_eq!(
        answer.body["previousSecretExpiresAt"],
        "2025-06-01T01:00:00.000Z"
    );
    let new = answer.body["clientSecret"].as_str().unwrap();
    assert_ne!(new, old);

    let used_old = f
        .server
        .authenticate_client(client_id, Some(old))
        .await
        .unwrap();
    assert!(used_old.used_previous_secret);
    assert!(
        f.server
            .authenticate_client(client_id, Some(new))
            .await
            .is_ok()
    );
    f.clock.advance(Duration::seconds(3600));
    assert!(
        f.server
            .authenticate_client(client_id, Some(old))
            .await
            .is_err(),
        "the grace period has ended"
    );
    assert!(
        f.server
            .authenticate_client(client_id, Some(new))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn rotation_without_grace_invalidates_at_once() {
    let f = fixture().await;
    let app = f.create("CONFIDENTIAL").await;
    let client_id = app["clientId"].as_str().unwrap();
    let old = app["clientSecret"].as_str().unwrap();
    let uri = format!("{}/rotate-secret", app_uri(&app));

    // An empty body means no grace.
    let answer = f
        .send(request(Method::POST, &uri, Some(&f.key), None))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body.get("previousSecretExpiresAt").is_none());
    let new = answer.body["clientSecret"].as_str().unwrap().to_owned();
    assert!(
        f.server
            .authenticate_client(client_id, Some(old))
            .await
            .is_err()
    );
    assert!(
        f.server
            .authenticate_client(client_id, Some(&new))
            .await
            .is_ok()
    );

    // So does `{}`.
    let answer = f.call(Method::POST, &uri, Some("{}")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        f.server
            .authenticate_client(client_id, Some(&new))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn rotation_refuses_bad_grace_and_public_apps() {
    let f = fixture().await;
    let app = f.create("CONFIDENTIAL").await;
    let uri = format!("{}/rotate-secret", app_uri(&app));
    let answer = f
        .call(
            Method::POST,
            &uri,
            Some(r#"{"gracePeriodSeconds": 99999999}"#),
        )
        .await;
    answer.assert_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        Some("gracePeriodSeconds"),
    );
    for body in [
        r#"{"gracePeriodSeconds": -1}"#,
        r#"{"gracePeriodSeconds": "1h"}"#,
        r#"{"grace": 1}"#,
    ] {
        let answer = f.call(Method::POST, &uri, Some(body)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
    }
    let public = f.create("PUBLIC").await;
    let answer = f
        .call(
            Method::POST,
            &format!("{}/rotate-secret", app_uri(&public)),
            None,
        )
        .await;
    answer.assert_error(StatusCode::BAD_REQUEST, "invalid_request", None);
}

#[tokio::test]
async fn a_lost_rotation_race_is_409() {
    let f = fixture().await;
    let app = f.create("CONFIDENTIAL").await;
    f.server
        .storage()
        .fail_method("rotate_client_secret", Some(StorageErrorKind::Conflict));
    let answer = f
        .call(
            Method::POST,
            &format!("{}/rotate-secret", app_uri(&app)),
            None,
        )
        .await;
    answer.assert_error(StatusCode::CONFLICT, "conflict", None);
}

#[tokio::test]
async fn storage_failures_are_503_or_500_without_details() {
    let f = fixture().await;
    let app = f.create("CONFIDENTIAL").await;
    for (kind, status, code) in [
        (
            StorageErrorKind::Unavailable,
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
        ),
        (
            StorageErrorKind::Timeout,
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
        ),
        (
            StorageErrorKind::Corrupt,
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
        ),
        (
            StorageErrorKind::Other,
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
        ),
    ] {
        f.server.storage().fail_all(Some(kind));
        for (method, uri) in [
            (Method::GET, "/v1/oauth-apps".to_owned()),
            (Method::GET, app_uri(&app)),
            (Method::DELETE, app_uri(&app)),
        ] {
            let answer = f.call(method, &uri, None).await;
            answer.assert_error(status, code, None);
            assert!(!String::from_utf8_lossy(&answer.raw).contains("db01"));
        }
    }
    // Failures past authentication map the same way.
    f.server.storage().fail_all(None);
    f.server
        .storage()
        .fail_method("rotate_client_secret", Some(StorageErrorKind::Unavailable));
    let answer = f
        .call(
            Method::POST,
            &format!("{}/rotate-secret", app_uri(&app)),
            None,
        )
        .await;
    answer.assert_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        None,
    );
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow() {
    let f = fixture().await;
    let app = f.create("PUBLIC").await;
    let uri = app_uri(&app);
    for (method, path, allow) in [
        (Method::PUT, "/v1/oauth-apps".to_owned(), "GET, POST"),
        (Method::DELETE, "/v1/oauth-apps".to_owned(), "GET, POST"),
        (Method::POST, uri.clone(), "GET, PATCH, DELETE"),
        (Method::PUT, uri.clone(), "GET, PATCH, DELETE"),
        (Method::GET, format!("{uri}/rotate-secret"), "POST"),
    ] {
        // 405 does not depend on the key.
        for key in [Some(f.key.as_str()), None] {
            let answer = f.send(request(method.clone(), &path, key, None)).await;
            answer.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None);
            assert_eq!(answer.header("allow"), allow);
        }
    }
}

#[tokio::test]
async fn unknown_paths_are_json_404() {
    let f = fixture().await;
    for path in [
        "/",
        "/v1",
        "/v1/oauth-app",
        "/v1/oauth-apps/",
        "/v2/oauth-apps",
        "/v1/oauth-apps/oauth_0123456789abcdef0123456789abcdef/rotate",
        "/v1/oauth-apps/a/b/c",
    ] {
        let answer = f.call(Method::GET, path, None).await;
        answer.assert_error(StatusCode::NOT_FOUND, "not_found", None);
        assert_eq!(answer.header("content-type"), "application/json");
    }
}

#[test]
fn handle_is_send_for_multi_threaded_runtimes() {
    fn assert_send<T: Send>(_: &T) {}
    let server = AuthorizationServer::builder(MemoryStore::new())
        .issuer("https://auth.example.com")
        .build()
        .unwrap();
    let future = server.handle(Request::new(Bytes::new()));
    assert_send(&future);
}
