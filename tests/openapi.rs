#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `GET /openapi.json`: the document is served, every path in it is routed
//! by `handle`, and what `handle` answers matches it.

mod openapi_check;
mod support;

use bytes::Bytes;
use http::{Request, StatusCode};
use openapi_check::Spec;
use serde_json::Value;
use support::*;

async fn send(server: &Server, request: Request<Bytes>, spec: &Spec) -> (StatusCode, Value) {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let response = server.handle(request).await;
    let body = json(&response);
    let body_opt = (!response.body().is_empty()).then_some(&body);
    spec.check(&method, &path, response.status().as_u16(), body_opt);
    (response.status(), body)
}

#[tokio::test]
async fn the_document_is_served_as_openapi_3_1() {
    let h = harness().await;
    let response = get(&h.server, "/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let doc = json(&response);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(&doc, Spec::load().doc());
    let post = h
        .server
        .handle(Request::post("/openapi.json").body(Bytes::new()).unwrap())
        .await;
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn every_documented_path_is_routed_by_handle() {
    let h = harness().await;
    let spec = Spec::load();
    let paths = spec.paths();
    assert!(paths.len() >= 9, "{paths:?}");
    for (template, methods, host) in paths {
        let path = documented_path(&template);
        for method in methods {
            let request = Request::builder()
                .method(method.to_ascii_uppercase().as_str())
                .uri(&path)
                .body(Bytes::new())
                .unwrap();
            let status = h.server.handle(request).await.status();
            if host {
                // Served by the host's framework route, not by `handle`.
                assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
            } else {
                assert_ne!(status, StatusCode::NOT_FOUND, "{method} {path}");
                assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            }
        }
    }
}

#[tokio::test]
async fn handle_answers_match_the_document() {
    let h = harness().await;
    let spec = Spec::load();
    let key = h.server.create_admin_key(&h.workspace).await.unwrap();
    let bearer = format!("Bearer {}", key.expose_secret());
    let admin = |method: &str, uri: &str, body: &str| {
        Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", &bearer)
            .header("content-type", "application/json")
            .body(Bytes::from(body.to_owned()))
            .unwrap()
    };
    let new_app = r#"{"name":"Doc","redirectUris":["https://app.example.com/cb"],"allowedScopes":["read:devices"],"type":"CONFIDENTIAL"}"#;
    let (status, created) = send(&h.server, admin("POST", "/v1/oauth-apps", new_app), &spec).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap().to_owned();
    let one = format!("/v1/oauth-apps/{id}");
    for (method, uri, body, want) in [
        ("GET", "/v1/oauth-apps?perPage=2", "", 200),
        ("GET", "/v1/oauth-apps?page=0", "", 400),
        ("POST", "/v1/oauth-apps", r#"{"name":""}"#, 400),
        ("GET", one.as_str(), "", 200),
        ("PATCH", one.as_str(), r#"{"name":"Renamed"}"#, 200),
        ("PATCH", one.as_str(), "{}", 400),
        ("PUT", one.as_str(), "", 405),
        (
            "POST",
            &format!("{one}/rotate-secret"),
            r#"{"gracePeriodSeconds":60}"#,
            200,
        ),
        // The document says an integer: `null` is refused.
        (
            "POST",
            &format!("{one}/rotate-secret"),
            r#"{"gracePeriodSeconds":null}"#,
            400,
        ),
        ("GET", "/v1/oauth-apps/oauth_0000000000000000", "", 404),
        ("DELETE", one.as_str(), "", 204),
        ("GET", "/.well-known/oauth-authorization-server", "", 200),
    ] {
        let (status, _) = send(&h.server, admin(method, uri, body), &spec).await;
        assert_eq!(status.as_u16(), want, "{method} {uri}");
    }
    let unauthenticated = Request::get("/v1/oauth-apps").body(Bytes::new()).unwrap();
    assert_eq!(send(&h.server, unauthenticated, &spec).await.0, 401);

    // The OAuth client endpoints.
    let (code, verifier, _) = code_for(&h.server, &h.confidential, &[]).await;
    let response = exchange(&h.server, &h.confidential, &code, &verifier).await;
    spec.check(
        "POST",
        "/oauth/token",
        response.status().as_u16(),
        Some(&json(&response)),
    );
    let tokens = json(&response);
    let replay = exchange(&h.server, &h.confidential, &code, &verifier).await;
    spec.check(
        "POST",
        "/oauth/token",
        replay.status().as_u16(),
        Some(&json(&replay)),
    );
    for path in ["/oauth/introspect", "/oauth/revoke"] {
        let pairs = [("token", tokens["access_token"].as_str().unwrap())];
        let ok = post_form(&h.server, path, &pairs, Some(&basic(&h.confidential)), None).await;
        assert_eq!(ok.status(), StatusCode::OK);
        spec.check("POST", path, 200, Some(&json(&ok)));
        let bad = post_form(&h.server, path, &pairs, Some("Basic Zm9vOmJhcg=="), None).await;
        assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
        spec.check("POST", path, 401, Some(&json(&bad)));
    }
    let (_, challenge) = pkce();
    let pushed = post_form(
        &h.server,
        "/oauth/par",
        &[
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
        Some(&basic(&h.confidential)),
        None,
    )
    .await;
    assert_eq!(pushed.status(), StatusCode::CREATED, "{}", text(&pushed));
    spec.check("POST", "/oauth/par", 201, Some(&json(&pushed)));
}

/// The checker knows every keyword the document uses (a new one would
/// otherwise be ignored silently), and enforces the ones the document
/// relies on: `anyOf` (a timestamp or null), `pattern`, string lengths,
/// `minimum`, item counts and the `date-time` format.
#[test]
fn the_checker_knows_every_keyword_and_enforces_them() {
    let spec = Spec::load();
    assert_eq!(spec.unknown_keywords(), Vec::<String>::new());
    let revoked_at = serde_json::json!({
        "anyOf": [{"$ref": "#/components/schemas/Timestamp"}, {"type": "null"}]
    });
    assert!(spec.matches(&revoked_at, &Value::Null));
    assert!(spec.matches(&revoked_at, &serde_json::json!("2025-06-01T00:00:00.000Z")));
    assert!(!spec.matches(&revoked_at, &serde_json::json!("yesterday")));
    assert!(!spec.matches(&revoked_at, &serde_json::json!(17)));
    let id = serde_json::json!({"type": "string", "pattern": "^cus_", "maxLength": 8});
    assert!(spec.matches(&id, &serde_json::json!("cus_1")));
    assert!(!spec.matches(&id, &serde_json::json!("conn_1")));
    assert!(!spec.matches(&id, &serde_json::json!("cus_12345")));
    let page = serde_json::json!({"type": "integer", "minimum": 1});
    assert!(!spec.matches(&page, &serde_json::json!(0)));
    let list = serde_json::json!({"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string"}});
    assert!(spec.matches(&list, &serde_json::json!(["a"])));
    assert!(!spec.matches(&list, &serde_json::json!([])));
    assert!(!spec.matches(&list, &serde_json::json!(["a", "b", "c"])));
    assert!(!spec.matches(&list, &serde_json::json!([1])));
    let one =
        serde_json::json!({"oneOf": [{"type": "string"}, {"type": "string", "maxLength": 3}]});
    assert!(spec.matches(&one, &serde_json::json!("long enough")));
    assert!(!spec.matches(&one, &serde_json::json!("ab")), "both match");
}

/// The success answers of the Connect API are what the document says:
/// customers (listed and read, by an admin and by the app's own
/// credentials), scoped keys (minted and listed), and a connection (read
/// and its tags edited).
#[tokio::test]
async fn connect_api_answers_match_the_document() {
    let h = harness().await;
    let spec = Spec::load();
    let key = h.server.create_admin_key(&h.workspace).await.unwrap();
    let admin = format!("Bearer {}", key.expose_secret());
    let client = basic(&h.confidential);
    let request = |method: &str, uri: &str, auth: &str, body: Option<Value>| {
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", auth);
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        builder
            .body(Bytes::from(body.map(|b| b.to_string()).unwrap_or_default()))
            .unwrap()
    };
    // A connection: a session approved in a browser.
    let body = serde_json::json!({
        "redirectUrl": REDIRECT, "referenceId": "documented", "tags": ["doc"],
        "customerInfo": {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
            "location": {"streetOne": "1 Main St", "city": "Springfield", "state": "IL",
                "postalCode": "62701", "country": "US"}}
    });
    let (status, created) = send(
        &h.server,
        request("POST", "/v1/connect/sessions", &client, Some(body)),
        &spec,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let path = created["url"]
        .as_str()
        .unwrap()
        .strip_prefix(ISSUER)
        .unwrap();
    let page = text(&h.browser.get(&h.server, path).await);
    let done = h
        .browser
        .post_form(
            &h.server,
            "/connect",
            &[
                ("token", &field(&page, "token")),
                ("csrf_token", &field(&page, "csrf_token")),
                ("step", "consent"),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER, "{}", text(&done));

    let mut checked = Vec::new();
    for auth in [&admin, &client] {
        let (status, customers) = send(
            &h.server,
            request("GET", "/v1/customers", auth, None),
            &spec,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let id = customers["data"][0]["id"].as_str().unwrap().to_owned();
        let (status, _) = send(
            &h.server,
            request("GET", &format!("/v1/customers/{id}"), auth, None),
            &spec,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = send(
            &h.server,
            request("GET", "/v1/customers?referenceId=documented", auth, None),
            &spec,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        checked.push("customers");
    }
    let (status, minted) = send(
        &h.server,
        request(
            "POST",
            "/v1/scoped-keys",
            &client,
            Some(
                serde_json::json!({"referenceId": "documented", "expiresIn": 3600, "label": "doc"}),
            ),
        ),
        &spec,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(minted["expiresAt"].is_string());
    let (status, keys) = send(
        &h.server,
        request("GET", "/v1/scoped-keys", &client, None),
        &spec,
    )
    .await;
    assert_eq!(
        (status, keys["meta"]["total"].clone()),
        (StatusCode::OK, 1.into())
    );
    // A revoked key lists with its revocation time.
    let key_id = minted["id"].as_str().unwrap();
    let (status, _) = send(
        &h.server,
        request(
            "DELETE",
            &format!("/v1/scoped-keys/{key_id}"),
            &client,
            None,
        ),
        &spec,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, keys) = send(
        &h.server,
        request("GET", "/v1/scoped-keys", &client, None),
        &spec,
    )
    .await;
    assert!(keys["data"][0]["revokedAt"].is_string());

    let (status, connections) = send(
        &h.server,
        request("GET", "/v1/connections", &client, None),
        &spec,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let connection = connections["data"][0]["id"].as_str().unwrap().to_owned();
    let one = format!("/v1/connections/{connection}");
    for auth in [&admin, &client] {
        let (status, _) = send(&h.server, request("GET", &one, auth, None), &spec).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, patched) = send(
        &h.server,
        request(
            "PATCH",
            &one,
            &client,
            Some(serde_json::json!({"addTags": ["vip"], "removeTags": ["doc"]})),
        ),
        &spec,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["tags"], serde_json::json!(["vip"]));
    // The document types the tag lists as arrays: `null` is refused (400
    // naming the field), and the tags stay as they are.
    for field in ["tags", "addTags", "removeTags"] {
        let (status, refused) = send(
            &h.server,
            request(
                "PATCH",
                &one,
                &client,
                Some(serde_json::json!({ field: null })),
            ),
            &spec,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: null");
        assert_eq!(refused["field"], field);
    }
    let (_, unchanged) = send(&h.server, request("GET", &one, &client, None), &spec).await;
    assert_eq!(unchanged["tags"], serde_json::json!(["vip"]));
    assert_eq!(checked.len(), 2);
    // Attaching: a body without exactly one target is a 400; a connection
    // the backend made is not attachable, a 409.
    let attach = format!("{one}/attach");
    let (status, _) = send(
        &h.server,
        request("POST", &attach, &client, Some(serde_json::json!({}))),
        &spec,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, refused) = send(
        &h.server,
        request(
            "POST",
            &attach,
            &admin,
            Some(serde_json::json!({"referenceId": "someone"})),
        ),
        &spec,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["error"], "conflict");
}

/// A concrete path for a documented template: an app id that does not
/// exist, and the current version of a script.
fn documented_path(template: &str) -> String {
    let script = if template.starts_with("/connect/page/") {
        oauth_connect::http::ConnectScript::page()
    } else {
        oauth_connect::http::ConnectScript::classic()
    };
    let file = script.versioned_path.rsplit('/').next().unwrap_or_default();
    template
        .replace("{id}", "oauth_0000000000000000")
        .replace("{file}", file)
}
