//! The unit tests of `connect::scoped_keys`.

use std::sync::Arc;

use time::macros::datetime;

use super::*;
use crate::connect::ConnectDecision;
use crate::credentials::ServerKey;
use crate::hooks::clock::ManualClock;
use crate::{AppType, AuthorizationServer, KeyRing, MemoryStore, NewConnectSession, NewOAuthApp};

const REDIRECT: &str = "https://app.example.com/callback";

fn server_key(id: u8) -> ServerKey {
    ServerKey::new(id, &[id; 32]).unwrap()
}

/// A server on key 1 with a confidential app connected to customer
/// `ref-1` through an approved Connect session.
async fn connected() -> (AuthorizationServer<MemoryStore>, AuthenticatedClient) {
    let clock = Arc::new(ManualClock::new(datetime!(2025-06-01 00:00 UTC)));
    let server = AuthorizationServer::builder(MemoryStore::new())
        .issuer("https://auth.example.com")
        .key_ring(KeyRing::new(server_key(1)))
        .clock(clock)
        .build()
        .unwrap();
    let ws = WorkspaceId::parse("ws_scoped").unwrap();
    let created = server
        .create_app(
            &ws,
            &NewOAuthApp {
                name: "Keys".into(),
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
    let client = server
        .authenticate_client(
            created.app.client_id.as_str(),
            created.client_secret.as_ref().map(|s| s.expose_secret()),
        )
        .await
        .unwrap();
    let request: NewConnectSession = serde_json::from_value(serde_json::json!({
        "redirectUrl": REDIRECT,
        "referenceId": "ref-1",
        "customerInfo": {
            "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
            "location": {"streetOne": "1 Main St", "city": "Springfield", "state": "IL",
                         "postalCode": "62701", "country": "US"}
        }
    }))
    .unwrap();
    let session = server
        .create_connect_session(&client.app, &request, false)
        .await
        .unwrap();
    let token = session.connect_token.expose_secret();
    let browser = server.new_browser_secret().unwrap();
    let page = server.connect_open(token, &browser, None).await.unwrap();
    server
        .connect_complete(
            token,
            page.csrf_token.expose_secret(),
            &browser,
            ConnectDecision::Approve,
        )
        .await
        .unwrap();
    (server, client)
}

async fn mint(
    server: &AuthorizationServer<MemoryStore>,
    client: &AuthenticatedClient,
    expires_in: Option<i64>,
) -> String {
    let request = NewScopedKey {
        reference_id: Some("ref-1".into()),
        expires_in,
        ..NewScopedKey::default()
    };
    let minted = server.mint_scoped_key(client, &request).await.unwrap();
    minted.key.expose_secret().to_owned()
}

/// The key `text` with its body (and MAC) changed by `edit`, re-encoded
/// with a valid checksum by the crate's own encoder: a well-formed key
/// whose signature no longer matches.
fn tampered(
    server: &AuthorizationServer<MemoryStore>,
    text: &str,
    edit: impl FnOnce(&mut [u8]),
) -> String {
    let prefix = server.config().prefixes().scoped_key();
    let encoded = &text[prefix.len()..prefix.len() + ENCODED_LEN];
    let mut raw = URL_SAFE_NO_PAD.decode(encoded).unwrap();
    edit(&mut raw);
    encode_key(prefix, &raw).unwrap().to_string()
}

/// Tampering that keeps the format valid (the checksum recomputed, as
/// anyone can) reaches the signature check and fails there: a changed
/// record id, a later expiry, a changed MAC, a key id of the ring.
#[tokio::test]
async fn a_tampered_key_with_a_valid_checksum_fails_the_signature() {
    let (server, client) = connected().await;
    let key = mint(&server, &client, Some(3600)).await;
    assert!(server.verify_scoped_key(&key).await.is_ok());
    type Edit = (&'static str, fn(&mut [u8]));
    let edits: [Edit; 4] = [
        ("the record id", |raw| raw[5] ^= 0x01),
        ("the expiry, pushed later", |raw| {
            raw[40] = raw[40].wrapping_add(1)
        }),
        ("the MAC", |raw| raw[BODY_LEN + 3] ^= 0x80),
        ("the nonce", |raw| raw[20] ^= 0x10),
    ];
    for (what, edit) in edits {
        let forged = tampered(&server, &key, edit);
        assert_ne!(forged, key);
        assert!(
            matches!(
                server.verify_scoped_key(&forged).await,
                Err(ScopedKeyError::BadSignature)
            ),
            "{what}"
        );
    }
    // Without the recomputed checksum it never gets that far.
    let mut typo = key.clone().into_bytes();
    let at = key.len() - 10;
    typo[at] = if typo[at] == b'A' { b'B' } else { b'A' };
    assert!(matches!(
        server
            .verify_scoped_key(&String::from_utf8(typo).unwrap())
            .await,
        Err(ScopedKeyError::Malformed)
    ));
}

/// DESIGN "Scoped key": keys minted before a rotation of the server
/// signing key verify until the old key is retired, and fail after; keys
/// minted after the rotation are signed by the new key and keep
/// verifying. (A host restarts over the same storage with the new ring.)
#[tokio::test]
async fn keys_minted_before_a_rotation_verify_until_the_old_key_is_retired() {
    let (server, client) = connected().await;
    let old = mint(&server, &client, None).await;
    let rotated = KeyRing::new(server_key(2)).with_key(server_key(1)).unwrap();
    let server = server.with_key_ring(rotated).unwrap();
    assert!(
        server.verify_scoped_key(&old).await.is_ok(),
        "minted before the rotation, verifies after it"
    );
    let new = mint(&server, &client, None).await;
    let mut retired = KeyRing::new(server_key(2)).with_key(server_key(1)).unwrap();
    retired.retire(1).unwrap();
    let server = server.with_key_ring(retired).unwrap();
    assert!(matches!(
        server.verify_scoped_key(&old).await,
        Err(ScopedKeyError::BadSignature)
    ));
    assert!(
        server.verify_scoped_key(&new).await.is_ok(),
        "signed by the current key"
    );
}

fn key(text: &str) -> ScopedKey {
    ScopedKey(crate::credentials::Secret::from(text))
}

#[test]
fn two_different_keys_never_compare_equal() {
    let a = key("oc_sk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    let b = key("oc_sk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab");
    let shorter = key("oc_sk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_ne!(a, b, "one character apart");
    assert_ne!(a, shorter, "a prefix of the other");
    assert_eq!(a, a.clone());
}
