//! A pending authorization of the authorization endpoint, sealed into the
//! consent page instead of stored.
//!
//! `GET /oauth/authorize` needs no secret: were each request stored until
//! the resource owner decides, anyone could fill storage. So the validated
//! request travels in the consent form's `session` field, sealed with
//! ChaCha20-Poly1305 under a key derived from the server key ring (the
//! scheme of the link step's `state`, `crate::connect::steps`): the browser
//! can neither read nor change it, and any server node with the same key
//! ring opens it. Nothing is written before the decision.
//!
//! What storage used to give, the seal gives otherwise:
//!
//! - **Expiry**: the sealed request carries its `expires_at`.
//! - **CSRF binding** (RFC 6749 §10.12): the form's CSRF token is derived
//!   from the request's random id under the server key, and the
//!   double-submit cookie of the consent page is unchanged.
//! - **Single use** (RFC 6749 §4.1.2): the grant an approval writes has an
//!   id derived from the request's id, and lives at least as long as the
//!   request; a second approval of the same request finds it and is
//!   refused (`insert_code` conflicts), and a denial after an approval is
//!   refused too. A denial writes nothing (an unauthenticated post must
//!   not grow storage); the page's consent cookie is cleared with it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::model::ids::{AppId, ClientId, GrantId, WorkspaceId};
use crate::model::random::random_array;
use crate::model::scope::ScopeSet;
use crate::oauth::authorize::{ConsentHandle, ValidRequest};
use crate::registry::apps::OAuthApp;
use crate::server::AuthorizationServer;
use crate::storage::{ResponseMode, Storage};

/// The MAC domain of the sealing key and the AEAD's additional data.
const SEAL_DOMAIN: &str = "consent/seal";
/// The MAC domain of a sealed request's CSRF token.
const CSRF_DOMAIN: &str = "consent/csrf";
/// The MAC domain of the grant id an approval of it writes.
const GRANT_DOMAIN: &str = "consent/grant";
/// The longest handle looked at: the largest body an adapter passes on.
const MAX_HANDLE_LEN: usize = crate::config::MAX_BODY_BYTES;
/// Key id, nonce, tag.
const OVERHEAD: usize = 1 + 12 + 16;

/// A sealed request and its CSRF token.
pub(crate) struct Sealed {
    pub(crate) handle: ConsentHandle,
    pub(crate) csrf_token: String,
}

/// What a handle holds, as sealed.
#[derive(Serialize, Deserialize)]
struct Wire {
    id: String,
    workspace_id: String,
    app_id: String,
    client_id: String,
    redirect_uri: String,
    redirect_uri_in_request: bool,
    scopes: String,
    state: Option<String>,
    code_challenge: Option<String>,
    response_mode: String,
    /// Unix time in milliseconds.
    expires_at: i64,
}

/// A sealed request, opened.
pub(crate) struct OpenedRequest {
    key_id: u8,
    id: [u8; 16],
    pub(crate) workspace_id: WorkspaceId,
    pub(crate) app_id: AppId,
    pub(crate) client_id: ClientId,
    pub(crate) redirect_uri: String,
    pub(crate) redirect_uri_in_request: bool,
    pub(crate) scopes: ScopeSet,
    pub(crate) state: Option<String>,
    pub(crate) code_challenge: Option<String>,
    pub(crate) response_mode: ResponseMode,
    pub(crate) expires_at: OffsetDateTime,
}

fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

impl<S: Storage> AuthorizationServer<S> {
    fn seal_key(&self, key_id: u8) -> Option<LessSafeKey> {
        let raw = Zeroizing::new(self.config().keys().derive(key_id, SEAL_DOMAIN, &[])?);
        UnboundKey::new(&CHACHA20_POLY1305, raw.as_slice())
            .ok()
            .map(LessSafeKey::new)
    }

    fn sealed_csrf(&self, key_id: u8, id: &[u8; 16]) -> Option<String> {
        let tag = self.config().keys().derive(key_id, CSRF_DOMAIN, &[id])?;
        Some(URL_SAFE_NO_PAD.encode(tag))
    }

    /// Seals a validated request of `app` that expires at `expires_at`;
    /// `None` when the RNG or the key ring fails.
    pub(crate) fn seal_consent(
        &self,
        app: &OAuthApp,
        valid: &ValidRequest,
        expires_at: OffsetDateTime,
    ) -> Option<Sealed> {
        let config = self.config();
        let key_id = config.keys().current_id();
        let key = self.seal_key(key_id)?;
        let random = random_array::<{ 16 + 12 }>(config.rng()).ok()?;
        let mut id = [0u8; 16];
        id.copy_from_slice(&random[..16]);
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&random[16..]);
        let wire = Wire {
            id: URL_SAFE_NO_PAD.encode(id),
            workspace_id: app.workspace_id.as_str().to_owned(),
            app_id: app.id.as_str().to_owned(),
            client_id: app.client_id.as_str().to_owned(),
            redirect_uri: valid.redirect_uri.clone(),
            redirect_uri_in_request: valid.redirect_uri_in_request,
            scopes: valid.scopes.to_param(),
            state: valid.state.clone(),
            code_challenge: valid.code_challenge.clone(),
            response_mode: valid.response_mode.as_str().to_owned(),
            expires_at: millis(expires_at),
        };
        let mut sealed = Zeroizing::new(serde_json::to_vec(&wire).ok()?);
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(SEAL_DOMAIN),
            &mut *sealed,
        )
        .ok()?;
        let mut raw = Vec::with_capacity(OVERHEAD + sealed.len());
        raw.push(key_id);
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&sealed);
        Some(Sealed {
            handle: ConsentHandle::sealed(URL_SAFE_NO_PAD.encode(raw)),
            csrf_token: self.sealed_csrf(key_id, &id)?,
        })
    }

    /// The request sealed in `handle`, if it is authentic (and its key is
    /// still in the ring); its expiry is the caller's to judge.
    pub(crate) fn open_consent(&self, handle: &str) -> Option<OpenedRequest> {
        if handle.len() > MAX_HANDLE_LEN {
            return None;
        }
        let mut raw = Zeroizing::new(URL_SAFE_NO_PAD.decode(handle).ok()?);
        if raw.len() < OVERHEAD {
            return None;
        }
        let key_id = raw[0];
        let key = self.seal_key(key_id)?;
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&raw[1..13]);
        let opened = key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(SEAL_DOMAIN),
                &mut raw[13..],
            )
            .ok()?;
        let wire: Wire = serde_json::from_slice(opened).ok()?;
        let id: [u8; 16] = URL_SAFE_NO_PAD.decode(&wire.id).ok()?.try_into().ok()?;
        Some(OpenedRequest {
            key_id,
            id,
            workspace_id: WorkspaceId::parse(&wire.workspace_id).ok()?,
            app_id: AppId::parse(&wire.app_id).ok()?,
            client_id: ClientId::parse(&wire.client_id).ok()?,
            redirect_uri: wire.redirect_uri,
            redirect_uri_in_request: wire.redirect_uri_in_request,
            scopes: ScopeSet::parse(&wire.scopes).ok()?,
            state: wire.state,
            code_challenge: wire.code_challenge,
            response_mode: ResponseMode::from_name(&wire.response_mode)?,
            expires_at: OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(wire.expires_at) * 1_000_000,
            )
            .ok()?,
        })
    }

    /// Whether `presented` is the CSRF token of `request`, compared in
    /// constant time.
    pub(crate) fn check_sealed_csrf(&self, request: &OpenedRequest, presented: &str) -> bool {
        self.sealed_csrf(request.key_id, &request.id)
            .is_some_and(|expected| bool::from(expected.as_bytes().ct_eq(presented.as_bytes())))
    }

    /// The id of the grant an approval of `request` writes: the same for
    /// every approval of it, so only the first one can be written.
    pub(crate) fn sealed_grant_id(&self, request: &OpenedRequest) -> Option<GrantId> {
        let tag = self
            .config()
            .keys()
            .derive(request.key_id, GRANT_DOMAIN, &[&request.id])?;
        let mut id = [0u8; 16];
        id.copy_from_slice(&tag[..16]);
        Some(GrantId::from_bytes(&id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn server_and_app() -> (AuthorizationServer<crate::MemoryStore>, OAuthApp) {
        let server = AuthorizationServer::builder(crate::MemoryStore::new())
            .issuer("https://auth.example.com")
            .build()
            .unwrap();
        let app = server
            .create_app(
                &WorkspaceId::parse("ws_test").unwrap(),
                &crate::NewOAuthApp {
                    name: "App".into(),
                    description: None,
                    redirect_uris: vec!["https://app.example.com/cb".into()],
                    allowed_scopes: vec!["read:devices".into()],
                    allowed_origins: vec![],
                    app_type: crate::AppType::Public,
                    logo_uri: None,
                },
            )
            .await
            .unwrap()
            .app;
        (server, app)
    }

    fn valid() -> ValidRequest {
        ValidRequest {
            redirect_uri: "https://app.example.com/cb".to_owned(),
            redirect_uri_in_request: true,
            scopes: ScopeSet::parse("read:devices").unwrap(),
            state: Some("st&te".to_owned()),
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned()),
            response_mode: ResponseMode::WebMessage,
        }
    }

    #[tokio::test]
    async fn a_sealed_request_opens_as_it_was_and_hides_its_content() {
        let (server, app) = server_and_app().await;
        let expires = time::macros::datetime!(2025-06-01 00:10:00.123 UTC);
        let sealed = server.seal_consent(&app, &valid(), expires).unwrap();
        let handle = sealed.handle.expose_secret();
        assert!(!handle.contains("app.example.com"), "encrypted");
        let opened = server.open_consent(handle).unwrap();
        assert_eq!(opened.redirect_uri, "https://app.example.com/cb");
        assert_eq!(opened.state.as_deref(), Some("st&te"));
        assert_eq!(opened.scopes, ScopeSet::parse("read:devices").unwrap());
        assert_eq!(opened.response_mode, ResponseMode::WebMessage);
        assert_eq!(opened.expires_at, expires);
        assert_eq!(opened.client_id, app.client_id);
        assert_eq!(opened.app_id, app.id);
        assert!(server.check_sealed_csrf(&opened, &sealed.csrf_token));
        assert!(!server.check_sealed_csrf(&opened, "forged"));
        // Two seals of one request are two requests.
        let again = server.seal_consent(&app, &valid(), expires).unwrap();
        let other = server.open_consent(again.handle.expose_secret()).unwrap();
        assert_ne!(sealed.csrf_token, again.csrf_token);
        assert_ne!(
            server.sealed_grant_id(&opened),
            server.sealed_grant_id(&other)
        );
        assert_eq!(
            server.sealed_grant_id(&opened),
            server.sealed_grant_id(&server.open_consent(handle).unwrap())
        );
    }

    #[tokio::test]
    async fn a_changed_or_foreign_handle_does_not_open() {
        let (server, app) = server_and_app().await;
        let expires = time::macros::datetime!(2025-06-01 00:10 UTC);
        let sealed = server.seal_consent(&app, &valid(), expires).unwrap();
        let mut raw = URL_SAFE_NO_PAD
            .decode(sealed.handle.expose_secret())
            .unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert!(server.open_consent(&URL_SAFE_NO_PAD.encode(&raw)).is_none());
        // Another server's key ring.
        let (other, _) = server_and_app().await;
        assert!(other.open_consent(sealed.handle.expose_secret()).is_none());
        for junk in ["", "AAAA", "not base64!", &"A".repeat(MAX_HANDLE_LEN + 4)] {
            assert!(server.open_consent(junk).is_none(), "{junk:.8}");
        }
    }
}
