//! One table for every credential kind and every struct that holds a
//! credential or a value that must not be printed (RFC 6749 §10.3, §10.5,
//! §10.12: tokens, codes and `state` are confidential; RFC 9126 §7.1: the
//! `request_uri`): neither `{:?}` nor `{:#?}` of any of them contains the
//! secret.
//!
//! The structs derive `Debug` over [`Secret`](super::Secret),
//! [`Redacted`](super::Redacted) and [`RedactedUrl`](super::RedactedUrl);
//! a new struct holding a secret belongs in this table.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Debug;

use time::macros::datetime;

use super::keyring::{CredentialHash, KeyRing, ServerKey};
use super::{Credential, CredentialKind, CredentialPrefixes, Redacted, Secret, kind};
use crate::connect::scoped_keys::ScopedKey;
use crate::connect::steps::{LinkFormValues, StepAction, StepOutcome};
use crate::hooks::link::{LinkContext, ProviderQuery};
use crate::model::ids::{AppId, ClientId, WorkspaceId};
use crate::model::random::SystemRandom;
use crate::model::scope::ScopeSet;
use crate::oauth::authorize::{ConsentHandle, Decision};
use crate::oauth::token::{BasicCredentials, ClientAuth};
use crate::oauth::{
    AuthorizationRequest, AuthorizeOutcome, IntrospectionRequest, RevocationRequest, TokenRequest,
};
use crate::storage::ResponseMode;
use crate::storage::{SessionRecord, SessionStatus};
use crate::webhooks::WebhookSecret;
use crate::{AppType, AuthorizationServer, MemoryStore, NewConnectSession, NewOAuthApp, Subject};

const REDIRECT: &str = "https://app.example.com/callback";
const STATE: &str = "client-state-f00dfeed";

/// A row: what is printed, and the secrets it must not contain.
struct Row {
    name: &'static str,
    compact: String,
    pretty: String,
    secrets: Vec<String>,
}

fn row<T: Debug>(name: &'static str, value: &T, secrets: &[&str]) -> Row {
    Row {
        name,
        compact: format!("{value:?}"),
        pretty: format!("{value:#?}"),
        secrets: secrets.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn credential<K: CredentialKind>(name: &'static str, keys: &KeyRing) -> Row {
    let credential =
        Credential::<K>::generate(&CredentialPrefixes::default(), keys, &SystemRandom::new())
            .unwrap();
    let text = credential.expose_secret();
    // The body alone (past the prefix) must not show either.
    let body = &text[text.len() - 50..text.len() - 40];
    let mut row = row(name, &credential, &[text, body]);
    assert!(row.compact.contains(K::NAME), "{}", row.compact);
    row.secrets.dedup();
    row
}

fn param(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(n, _)| n == name)
        .unwrap()
        .1
        .into_owned()
}

#[tokio::test]
async fn debug_never_prints_a_secret() {
    let key_bytes = [0xAB_u8; 32];
    let keys = KeyRing::new(ServerKey::new(1, &key_bytes).unwrap());
    let server = AuthorizationServer::builder(MemoryStore::new())
        .issuer("https://auth.example.com")
        .key_ring(KeyRing::new(ServerKey::new(1, &key_bytes).unwrap()))
        .build()
        .unwrap();
    let workspace = WorkspaceId::parse("ws_redaction").unwrap();
    let created = server
        .create_app(
            &workspace,
            &NewOAuthApp {
                name: "Redaction".into(),
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
    let client_secret = created.client_secret.as_ref().unwrap();
    let client = server
        .authenticate_client(
            created.app.client_id.as_str(),
            Some(client_secret.expose_secret()),
        )
        .await
        .unwrap();
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let request = AuthorizationRequest {
        response_type: Some("code".into()),
        client_id: Some(created.app.client_id.as_str().into()),
        redirect_uri: Some(REDIRECT.into()),
        state: Some(STATE.into()),
        code_challenge: Some(challenge.into()),
        code_challenge_method: Some("S256".into()),
        ..AuthorizationRequest::default()
    };
    // The consent prompt, and the redirect its approval makes.
    let AuthorizeOutcome::Consent(prompt) = server.authorize_request(None, &request).await.unwrap()
    else {
        panic!("a consent prompt");
    };
    let handle = prompt.session.expose_secret().to_owned();
    let csrf = prompt.csrf_token.expose_secret().to_owned();
    let approved = server
        .decide(
            &handle,
            &csrf,
            Decision::Approve {
                subject: Subject::parse("user-1").unwrap(),
                scopes: None,
            },
        )
        .await
        .unwrap();
    let code = param(&approved.location, "code");
    // An error redirect echoes `state` too.
    let refused = server
        .authorize_request(
            None,
            &AuthorizationRequest {
                response_type: Some("token".into()),
                client_id: Some(created.app.client_id.as_str().into()),
                redirect_uri: Some(REDIRECT.into()),
                state: Some(STATE.into()),
                ..AuthorizationRequest::default()
            },
        )
        .await
        .unwrap_err();
    // Its message names the error, never `state`.
    assert!(!refused.to_string().contains(STATE), "{refused}");

    // A pushed request: its `request_uri` carries a Connect token.
    let pushed = server
        .push_authorization_request(&client, &request, None)
        .await
        .unwrap();
    let request_uri = pushed.request_uri.as_str().to_owned();

    // A Connect session (its token, also in its page's URL) and its page.
    let new_session = NewConnectSession {
        redirect_url: Some(REDIRECT.to_owned()),
        state: Some(Redacted::new(STATE.to_owned())),
        ..NewConnectSession::default()
    };
    let connect = server
        .create_connect_session(&client.app, &new_session, false)
        .await
        .unwrap();
    let connect_token = connect.connect_token.expose_secret().to_owned();
    let browser = server.new_browser_secret().unwrap();
    let page = server
        .connect_open(&connect_token, &browser, None)
        .await
        .unwrap();
    let page_csrf = page.csrf_token.expose_secret().to_owned();

    let at = datetime!(2025-06-01 00:00 UTC);
    let session = SessionRecord {
        hash: CredentialHash::from_bytes([7; 32]),
        workspace_id: workspace.clone(),
        app_id: AppId::parse("oauth_0123456789abcdef0123456789abcdef").unwrap(),
        client_id: ClientId::parse("oc_client_0123456789abcdef").unwrap(),
        redirect_uri: REDIRECT.to_owned(),
        redirect_uri_in_request: true,
        scopes: ScopeSet::from_tokens(["read:devices"]).unwrap(),
        state: Some(Redacted::new(STATE.to_owned())),
        code_challenge: None,
        response_mode: ResponseMode::Query,
        created_at: at,
        expires_at: at,
        open_by: None,
        opened_at: None,
        status: SessionStatus::Pending,
        connect: None,
    };
    let link_values = LinkFormValues::new()
        .with("username", "ada")
        .with("password", "hunter2-secret");
    let provider_query = ProviderQuery::new()
        .with("code", "PROVIDER-CODE")
        .with("iss", "https://provider.example");
    let provider_url = "https://provider.example/authorize?client_id=c&state=LINK-STATE";
    let link_context = LinkContext {
        provider: "acme".to_owned(),
        reference_id: "user-1".to_owned(),
        callback_url: "https://auth.example.com/connect/callback/acme".to_owned(),
        link_secret: Redacted::new([0xCD; 32]),
    };
    let basic = BasicCredentials {
        client_id: Redacted::new("swapped-secret-as-id".to_owned()),
        client_secret: Secret::from("presented-client-secret"),
    };
    let scoped = ScopedKey(Secret::from("oc_sk_0123456789abcdefghijklmnopqrstuvwxyz"));
    let server_key = ServerKey::new(3, &key_bytes).unwrap();
    let webhook_secret = WebhookSecret::generate(&SystemRandom::new()).unwrap();
    let webhook_text = webhook_secret.expose_secret().to_owned();

    let rows = [
        credential::<kind::ClientSecret>("Credential<ClientSecret>", &keys),
        credential::<kind::AuthorizationCode>("Credential<AuthorizationCode>", &keys),
        credential::<kind::AccessToken>("Credential<AccessToken>", &keys),
        credential::<kind::RefreshToken>("Credential<RefreshToken>", &keys),
        credential::<kind::ConnectToken>("Credential<ConnectToken>", &keys),
        credential::<kind::AdminKey>("Credential<AdminKey>", &keys),
        credential::<kind::PublishableKey>("Credential<PublishableKey>", &keys),
        row("Secret", &Secret::from("plain-secret"), &["plain-secret"]),
        row("Redacted", &Redacted::new("plain-state"), &["plain-state"]),
        row(
            "ScopedKey",
            &scoped,
            &[scoped.expose_secret(), "0123456789"],
        ),
        row("BrowserSecret", &browser, &[browser.expose_secret()]),
        row(
            "ConsentHandle",
            &ConsentHandle::sealed(handle.clone()),
            &[&handle],
        ),
        row("ConsentPrompt", &prompt, &[&handle, &csrf]),
        row("ClientRedirect", &approved, &[&code, STATE]),
        row("AuthorizeError::Redirect", &refused, &[STATE]),
        row("PushedRequest", &pushed, &[&request_uri]),
        row("NewConnectSession", &new_session, &[STATE]),
        row("CreatedConnectSession", &connect, &[&connect_token]),
        row("ConnectPage", &page, &[&connect_token, &page_csrf]),
        row("SessionRecord", &session, &[STATE]),
        row("LinkFormValues", &link_values, &["hunter2-secret", "ada"]),
        row(
            "ProviderQuery",
            &provider_query,
            &["PROVIDER-CODE", "provider.example"],
        ),
        row(
            "StepAction",
            &StepAction::SubmitLink(link_values.clone()),
            &["hunter2-secret"],
        ),
        row(
            "StepOutcome",
            &StepOutcome::Redirect(provider_url.to_owned().into()),
            &["LINK-STATE"],
        ),
        row("LinkContext", &link_context, &["205, 205", "0xcd", "CD"]),
        row(
            "BasicCredentials",
            &basic,
            &["swapped-secret-as-id", "presented-client-secret"],
        ),
        row("AuthorizationRequest", &request, &[STATE]),
        row(
            "TokenRequest::AuthorizationCode",
            &TokenRequest::AuthorizationCode {
                code: Secret::from("presented-code"),
                redirect_uri: Some(REDIRECT.into()),
                code_verifier: Some(Secret::from("presented-verifier")),
            },
            &["presented-code", "presented-verifier"],
        ),
        row(
            "TokenRequest::RefreshToken",
            &TokenRequest::RefreshToken {
                refresh_token: Secret::from("presented-refresh-token"),
                scope: None,
            },
            &["presented-refresh-token"],
        ),
        row(
            "ClientAuth::Post",
            &ClientAuth::Post {
                client_id: Redacted::new("swapped-secret-as-id".to_owned()),
                client_secret: Secret::from("presented-client-secret"),
            },
            &["swapped-secret-as-id", "presented-client-secret"],
        ),
        row(
            "RevocationRequest",
            &RevocationRequest::new("presented-token"),
            &["presented-token"],
        ),
        row(
            "IntrospectionRequest",
            &IntrospectionRequest::new("presented-token"),
            &["presented-token"],
        ),
        row(
            "WebhookSecret",
            &webhook_secret,
            &[&webhook_text, &webhook_text[10..20]],
        ),
        row("ServerKey", &server_key, &["171, 171", "0xab", "ab, ab"]),
        row("KeyRing", &keys, &["171, 171", "0xab", "ab, ab"]),
        row(
            "AuthorizationServer",
            &server,
            &["171, 171", "0xab", "ab, ab"],
        ),
    ];
    for Row {
        name,
        compact,
        pretty,
        secrets,
    } in &rows
    {
        for shown in [compact, pretty] {
            for secret in secrets {
                assert!(
                    !shown.contains(secret.as_str()),
                    "{name} shows {secret:?}: {shown}"
                );
            }
        }
        assert!(compact.contains("[redacted]"), "{name}: {compact}");
    }
    // What is not secret stays visible: the redirect's parameter names, the
    // form's field names, whether there was a `state`.
    let shown = |name: &str| &rows.iter().find(|r| r.name == name).unwrap().compact;
    assert!(
        shown("ClientRedirect").contains(
            "https://app.example.com/callback?code=[redacted]&state=[redacted]&iss=[redacted]"
        ),
        "{}",
        shown("ClientRedirect")
    );
    assert!(shown("LinkFormValues").contains("password"));
    assert!(shown("SessionRecord").contains("state: Some(\"[redacted]\")"));
    assert!(shown("CreatedConnectSession").contains("?token=[redacted]"));
    assert!(shown("ConnectPage").contains("csrf_token: \"[redacted]\""));
    assert!(shown("StepOutcome").contains("state=[redacted]"));
}
