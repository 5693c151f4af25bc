//! Refusals that must never reach storage, shown with a store that counts
//! its calls and fails on demand (`conformance::FaultyStore`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{Request, StatusCode};
use oauth_connect::conformance::FaultyStore;
use oauth_connect::connect::NewScopedKey;
use oauth_connect::connect::{ConnectDecision, ScopedKeyError};
use oauth_connect::hooks::ManualClock;
use oauth_connect::registry::AuthenticatedClient;
use oauth_connect::storage::StorageErrorKind;
use oauth_connect::{
    AppType, AuthorizationServer, MemoryStore, NewConnectSession, NewOAuthApp, WorkspaceId,
};
use serde_json::{Value, json};
use time::Duration;
use time::macros::datetime;

const REDIRECT: &str = "https://app.example.com/callback";

type Server = AuthorizationServer<FaultyStore<MemoryStore>>;

struct Fixture {
    server: Server,
    clock: Arc<ManualClock>,
    client: AuthenticatedClient,
    basic: String,
}

async fn fixture() -> Fixture {
    let clock = Arc::new(ManualClock::new(datetime!(2025-06-01 00:00 UTC)));
    let server = AuthorizationServer::builder(FaultyStore::new(MemoryStore::new()))
        .issuer("https://auth.example.com")
        .clock(clock.clone())
        .build()
        .unwrap();
    let created = server
        .create_app(
            &WorkspaceId::parse("ws_counted").unwrap(),
            &NewOAuthApp {
                name: "Counted".into(),
                description: None,
                redirect_uris: vec![REDIRECT.into()],
                allowed_scopes: vec!["read:devices".into()],
                allowed_origins: vec![],
                app_type: AppType::Confidential,
                logo_uri: None,
            },
        )
        .await
        .unwrap();
    let secret = created.client_secret.unwrap().expose_secret().to_owned();
    let client_id = created.app.client_id.as_str().to_owned();
    let client = server
        .authenticate_client(&client_id, Some(&secret))
        .await
        .unwrap();
    Fixture {
        server,
        clock,
        client,
        basic: format!("Basic {}", STANDARD.encode(format!("{client_id}:{secret}"))),
    }
}

/// Connects customer `reference` (a Connect session approved through the
/// typed API) and mints a scoped key for them.
async fn key_for(f: &Fixture, reference: &str, expires_in: Option<i64>) -> String {
    let request: NewConnectSession = serde_json::from_value(json!({
        "redirectUrl": REDIRECT,
        "referenceId": reference,
        "customerInfo": {
            "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
            "location": {"streetOne": "1 Main St", "city": "Springfield", "state": "IL",
                         "postalCode": "62701", "country": "US"}
        }
    }))
    .unwrap();
    let session = f
        .server
        .create_connect_session(&f.client.app, &request, false)
        .await
        .unwrap();
    let token = session.connect_token.expose_secret();
    let browser = f.server.new_browser_secret().unwrap();
    let page = f.server.connect_open(token, &browser, None).await.unwrap();
    f.server
        .connect_complete(
            token,
            page.csrf_token.expose_secret(),
            &browser,
            ConnectDecision::Approve,
        )
        .await
        .unwrap();
    let mut request = NewScopedKey::default();
    request.reference_id = Some(reference.into());
    request.expires_in = expires_in;
    let minted = f.server.mint_scoped_key(&f.client, &request).await.unwrap();
    minted.key.expose_secret().to_owned()
}

/// Issue 4: "none of those refusals costs more than a parse and one HMAC
/// before the storage check". With `get_scoped_key` failing, a tampered, a
/// truncated, an expired or a garbage key is still refused with its own
/// error, never a storage one, and storage is never asked; a valid key
/// does reach storage (and meets its failure).
#[tokio::test]
async fn scoped_key_refusals_never_reach_storage() {
    let f = fixture().await;
    let key = key_for(&f, "counted-1", Some(60)).await;
    assert!(f.server.verify_scoped_key(&key).await.is_ok());
    let store = f.server.storage();
    store.fail_method("get_scoped_key", Some(StorageErrorKind::Unavailable));
    let before = store.calls("get_scoped_key");

    // One character of the MAC changed: the checksum catches it first.
    let mut typo = key.clone().into_bytes();
    let at = key.len() - 12;
    typo[at] = if typo[at] == b'A' { b'B' } else { b'A' };
    let typo = String::from_utf8(typo).unwrap();
    assert!(matches!(
        f.server.verify_scoped_key(&typo).await,
        Err(ScopedKeyError::Malformed)
    ));
    assert!(matches!(
        f.server.verify_scoped_key(&key[..key.len() - 1]).await,
        Err(ScopedKeyError::Malformed)
    ));
    assert!(matches!(
        f.server.verify_scoped_key("oc_sk_").await,
        Err(ScopedKeyError::Malformed)
    ));
    // A well-formed key (checksum and all) that another server signed,
    // under a key this server's ring does not hold: the HMAC refuses it.
    let elsewhere = fixture().await;
    let foreign = key_for(&elsewhere, "counted-2", None).await;
    assert!(matches!(
        f.server.verify_scoped_key(&foreign).await,
        Err(ScopedKeyError::BadSignature)
    ));
    f.clock.advance(Duration::seconds(61));
    assert!(matches!(
        f.server.verify_scoped_key(&key).await,
        Err(ScopedKeyError::Expired)
    ));
    assert_eq!(
        store.calls("get_scoped_key"),
        before,
        "no refusal reached storage"
    );

    // A valid key does reach it: the failure shows, as a storage error.
    let live = key_for(&f, "counted-3", None).await;
    let before = store.calls("get_scoped_key");
    assert!(matches!(
        f.server.verify_scoped_key(&live).await,
        Err(ScopedKeyError::Storage(_))
    ));
    assert_eq!(store.calls("get_scoped_key"), before + 1);
}

async fn create_session(f: &Fixture, body: &Value) -> http::Response<Bytes> {
    f.server
        .handle(
            Request::post("/v1/connect/sessions")
                .header("content-type", "application/json")
                .header("authorization", &f.basic)
                .body(Bytes::from(body.to_string()))
                .unwrap(),
        )
        .await
}

/// Issue 4: each refusal of `POST /v1/connect/sessions` is a 400 naming
/// the field, and stores nothing: the store counts no `insert_session` at
/// all (nor any customer), while one valid request afterwards counts one.
#[tokio::test]
async fn every_refusal_is_a_400_naming_the_field_and_stores_nothing() {
    let f = fixture().await;
    let long = "x".repeat(256);
    let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    let big = "y".repeat(9000);
    let cases: Vec<(&str, Value)> = vec![
        ("redirectUrl", json!({})),
        (
            "redirectUrl",
            json!({"redirectUrl": "https://evil.example/cb"}),
        ),
        (
            "referenceId",
            json!({"redirectUrl": REDIRECT, "referenceId": long}),
        ),
        ("tags", json!({"redirectUrl": REDIRECT, "tags": many})),
        (
            "tags[0]",
            json!({"redirectUrl": REDIRECT, "tags": ["x".repeat(65)]}),
        ),
        (
            "customerId",
            json!({"redirectUrl": REDIRECT, "customerId": "cus_00000000000000000000000000000000"}),
        ),
        (
            "customerInfo.location",
            json!({"redirectUrl": REDIRECT, "customerInfo": {"location": {"city": "Springfield"}}}),
        ),
        (
            "customerInfo.email",
            json!({"redirectUrl": REDIRECT, "customerInfo": {"email": "not-an-email"}}),
        ),
        (
            "filters",
            json!({"redirectUrl": REDIRECT, "filters": ["not", "an", "object"]}),
        ),
        (
            "filters",
            json!({"redirectUrl": REDIRECT, "filters": {"big": big}}),
        ),
        (
            "scopes",
            json!({"redirectUrl": REDIRECT, "scopes": ["admin"]}),
        ),
        (
            "scopedKeyDelivery",
            json!({"redirectUrl": REDIRECT, "scopedKeyDelivery": "redirect"}),
        ),
        (
            "clientName",
            json!({"redirectUrl": REDIRECT, "clientName": "n".repeat(256)}),
        ),
        (
            "appId",
            json!({"redirectUrl": REDIRECT, "appId": "oauth_00000000000000000000000000000000"}),
        ),
    ];
    for (field, body) in &cases {
        let response = create_session(&f, body).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{field}: {:?}",
            response.body()
        );
        let answer: Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(answer["field"], *field, "{body}");
    }
    let unknown = create_session(
        &f,
        &json!({"redirectUrl": REDIRECT, "manufacturerFilters": {}}),
    )
    .await;
    assert_eq!(
        unknown.status(),
        StatusCode::BAD_REQUEST,
        "unknown fields are refused"
    );
    let store = f.server.storage();
    assert_eq!(store.calls("insert_session"), 0, "no session was stored");
    use oauth_connect::storage::ConnectStore as _;
    assert_eq!(
        store
            .list_customers(&f.client.app.workspace_id, None, None, 0, 10)
            .await
            .unwrap()
            .total,
        0,
        "nor a customer"
    );
    // The counter counts: a valid request stores one session.
    let created = create_session(&f, &json!({"redirectUrl": REDIRECT})).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(store.calls("insert_session"), 1);
}
