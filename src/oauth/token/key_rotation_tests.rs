//! Server-key rotation and refresh-token families: a family moves to the
//! current key at its next refresh, so retiring the old key (DESIGN
//! "Credentials": rotate, then retire) leaves it working, while what was
//! made under the retired key stops (RFC 9700 §4.14: rotation keeps the
//! family one chain of single-use tokens).
//!
//! A unit test because a host rotating its key ring restarts its server
//! over the same storage, which the in-memory store only allows in-crate
//! ([`AuthorizationServer::with_key_ring`]).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::Duration;
use time::macros::datetime;

use crate::credentials::RefreshToken;
use crate::credentials::ServerKey;
use crate::hooks::clock::ManualClock;
use crate::oauth::authorize::Decision;
use crate::oauth::token::TokenResponse;
use crate::oauth::{AuthorizationRequest, AuthorizeOutcome};
use crate::registry::secrets::AuthenticatedClient;
use crate::{
    AppType, AuthorizationServer, KeyRing, MemoryStore, NewOAuthApp, Subject, WorkspaceId,
};

const REDIRECT: &str = "https://app.example.com/callback";

fn key(id: u8) -> ServerKey {
    ServerKey::new(id, &[id; 32]).unwrap()
}

/// Key 1 alone; key 2 current with key 1; key 2 alone (1 retired).
fn ring(keys: &[u8]) -> KeyRing {
    let mut ring = KeyRing::new(key(keys[0]));
    for &id in &keys[1..] {
        ring = ring.with_key(key(id)).unwrap();
    }
    ring
}

struct Fixture {
    server: AuthorizationServer<MemoryStore>,
    clock: Arc<ManualClock>,
    client: AuthenticatedClient,
}

async fn fixture() -> Fixture {
    let clock = Arc::new(ManualClock::new(datetime!(2025-06-01 00:00 UTC)));
    let server = AuthorizationServer::builder(MemoryStore::new())
        .issuer("https://auth.example.com")
        .key_ring(ring(&[1]))
        .clock(clock.clone())
        .refresh_grace(Duration::seconds(30))
        .build()
        .unwrap();
    let workspace = WorkspaceId::parse("ws_rotation").unwrap();
    let created = server
        .create_app(
            &workspace,
            &NewOAuthApp {
                name: "Rotation".into(),
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
    Fixture {
        server,
        clock,
        client,
    }
}

/// Authorization code + PKCE through the typed API: the first tokens.
async fn first_tokens(f: &Fixture) -> TokenResponse {
    let verifier = "a".repeat(43);
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    let request = AuthorizationRequest {
        response_type: Some("code".into()),
        client_id: Some(f.client.app.client_id.as_str().into()),
        redirect_uri: Some(REDIRECT.into()),
        code_challenge: Some(challenge),
        code_challenge_method: Some("S256".into()),
        ..AuthorizationRequest::default()
    };
    let AuthorizeOutcome::Consent(prompt) =
        f.server.authorize_request(None, &request).await.unwrap()
    else {
        panic!("a consent prompt");
    };
    let to = f
        .server
        .decide(
            prompt.session.expose_secret(),
            prompt.csrf_token.expose_secret(),
            Decision::Approve {
                subject: Subject::parse("user-1").unwrap(),
                scopes: None,
            },
        )
        .await
        .unwrap();
    let code = url::Url::parse(&to.location)
        .unwrap()
        .query_pairs()
        .find(|(n, _)| n == "code")
        .unwrap()
        .1
        .into_owned();
    f.server
        .exchange_code(&f.client, &code, Some(REDIRECT), Some(&verifier))
        .await
        .unwrap()
}

fn refresh_text(response: &TokenResponse) -> String {
    response
        .refresh_token
        .as_ref()
        .unwrap()
        .expose_secret()
        .to_owned()
}

fn key_id_of(f: &Fixture, refresh: &str) -> u8 {
    RefreshToken::parse(f.server.config().prefixes(), refresh)
        .unwrap()
        .key_id()
}

async fn rekey(f: Fixture, keys: &[u8]) -> Fixture {
    let mut ring = ring(keys);
    ring.set_current(keys[0]).unwrap();
    Fixture {
        server: f.server.with_key_ring(ring).unwrap(),
        ..f
    }
}

#[tokio::test]
async fn refresh_families_move_to_the_current_key_and_survive_retiring_the_old_one() {
    let f = fixture().await;
    let first = first_tokens(&f).await;
    let (at1, rt1) = (
        first.access_token.expose_secret().to_owned(),
        refresh_text(&first),
    );
    assert_eq!(key_id_of(&f, &rt1), 1);

    // Key 2 becomes current; key 1 still hashes and verifies.
    let f = rekey(f, &[2, 1]).await;
    let second = f.server.refresh(&f.client, &rt1, None).await.unwrap();
    let rt2 = refresh_text(&second);
    assert_eq!(
        key_id_of(&f, &rt2),
        2,
        "the successor is under the current key"
    );
    assert!(
        f.server
            .validate_access_token(second.access_token.expose_secret())
            .await
            .is_ok()
    );
    // The grace replay still answers with the same successors.
    f.clock.advance(Duration::seconds(5));
    let replay = f.server.refresh(&f.client, &rt1, None).await.unwrap();
    assert_eq!(refresh_text(&replay), rt2);
    assert_eq!(
        replay.access_token.expose_secret(),
        second.access_token.expose_secret()
    );

    // Key 1 retired: the family, now under key 2, goes on.
    let f = rekey(f, &[2]).await;
    let third = f.server.refresh(&f.client, &rt2, None).await.unwrap();
    assert_eq!(key_id_of(&f, &refresh_text(&third)), 2);
    assert!(
        f.server
            .validate_access_token(third.access_token.expose_secret())
            .await
            .is_ok()
    );
    // What was minted under key 1 is dead.
    assert!(f.server.validate_access_token(&at1).await.is_err());
    let old = f.server.refresh(&f.client, &rt1, None).await.unwrap_err();
    assert_eq!(
        old.error.code,
        crate::oauth::error::OAuthErrorCode::InvalidGrant
    );
}

/// A family left alone while the key rotated and the old one retired is
/// dead: its refresh token was made under the retired key. (Hence the
/// advice: retire a key only after the refresh-token lifetime, or once
/// every family refreshed.)
#[tokio::test]
async fn a_family_not_refreshed_before_retirement_stops() {
    let f = fixture().await;
    let rt1 = refresh_text(&first_tokens(&f).await);
    let f = rekey(f, &[2]).await;
    let err = f.server.refresh(&f.client, &rt1, None).await.unwrap_err();
    assert_eq!(
        err.error.code,
        crate::oauth::error::OAuthErrorCode::InvalidGrant
    );
}

/// The key changes between a refresh and its grace replay (RFC 9700
/// §4.14.2's lost response): the replay still answers with the successors
/// made under the key that was current at the rotation, found by their
/// stored hash.
#[tokio::test]
async fn a_grace_replay_across_a_key_change_returns_the_same_successors() {
    let f = fixture().await;
    let rt1 = refresh_text(&first_tokens(&f).await);
    let second = f.server.refresh(&f.client, &rt1, None).await.unwrap();
    let rt2 = refresh_text(&second);
    assert_eq!(key_id_of(&f, &rt2), 1);
    let f = rekey(f, &[2, 1]).await;
    f.clock.advance(Duration::seconds(5));
    let replay = f.server.refresh(&f.client, &rt1, None).await.unwrap();
    assert_eq!(refresh_text(&replay), rt2, "the same successor");
    assert_eq!(
        replay.access_token.expose_secret(),
        second.access_token.expose_secret()
    );
    // And the family goes on from it, onto key 2.
    let third = f.server.refresh(&f.client, &rt2, None).await.unwrap();
    assert_eq!(key_id_of(&f, &refresh_text(&third)), 2);
}
