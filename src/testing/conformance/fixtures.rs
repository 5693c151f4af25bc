//! The records and fixtures the checks build on (public ones for a
//! backend's own tests).

use time::{Duration, OffsetDateTime};

use crate::credentials::Redacted;
use crate::credentials::keyring::CredentialHash;
use crate::model::ids::{AppId, ClientId, GrantId, Subject, WorkspaceId, hex};
use crate::model::ids::{ConnectionId, CustomerId, PublishableKeyId, ScopedKeyId};
use crate::model::origin::Origin;
use crate::model::random::{SystemRandom, random_array};
use crate::model::redirect::RedirectUri;
use crate::model::scope::ScopeSet;
use crate::model::timestamp::truncate_ms;
use crate::registry::apps::{AppType, OAuthApp};
use crate::storage::{
    AppRecord, CodeRecord, GrantRecord, SecretState, SessionCompletion, SessionDecision,
    SessionRecord, SessionStatus, Storage, TokenKind, TokenRecord,
};
use crate::storage::{
    ConnectApproval, ConnectionRecord, ConnectionStatus, CustomerInfo, CustomerRecord, Location,
    PublishableKeyRecord, ScopedKeyRecord,
};

pub(super) fn rng() -> SystemRandom {
    SystemRandom::new()
}

/// A workspace no other check uses.
pub fn fresh_workspace() -> WorkspaceId {
    WorkspaceId::parse(&format!("ws_{}", hex(&random_array::<8>(&rng()).unwrap()))).unwrap()
}

/// A random hash, standing in for a credential's.
pub fn random_hash() -> CredentialHash {
    CredentialHash::from_bytes(random_array::<32>(&rng()).unwrap())
}

pub(super) fn base_time() -> OffsetDateTime {
    truncate_ms(OffsetDateTime::now_utc())
}

/// An app record for `workspace`, confidential when `secret` is given.
pub fn app_record(
    workspace: &WorkspaceId,
    created_at: OffsetDateTime,
    secret: Option<CredentialHash>,
) -> AppRecord {
    let r = rng();
    AppRecord {
        app: OAuthApp {
            id: AppId::generate(&r).unwrap(),
            client_id: ClientId::generate("oc_client_", &r).unwrap(),
            name: "Conformance app".to_owned(),
            description: Some("made by the conformance suite".to_owned()),
            redirect_uris: vec![RedirectUri::parse("https://app.example.com/callback").unwrap()],
            allowed_scopes: ScopeSet::from_tokens(["read:devices", "write:devices"]).unwrap(),
            allowed_origins: Vec::new(),
            logo_uri: Some("https://cdn.example.com/logos/app.svg".to_owned()),
            app_type: if secret.is_some() {
                AppType::Confidential
            } else {
                AppType::Public
            },
            workspace_id: workspace.clone(),
            created_at,
            updated_at: created_at,
        },
        secret: secret.map(|current| SecretState {
            current,
            previous: None,
        }),
    }
}

pub(super) async fn insert<S: Storage>(store: &S, record: &AppRecord) {
    store.insert_app(record).await.expect("insert_app");
}

/// An app inserted into a fresh workspace, for the grant checks.
pub(super) async fn grant_fixture<S: Storage>(store: &S) -> AppRecord {
    let ws = fresh_workspace();
    let record = app_record(&ws, base_time(), Some(random_hash()));
    insert(store, &record).await;
    record
}

/// A pending session of `app`, opened now, expiring in ten minutes.
pub fn session_record(app: &AppRecord, now: OffsetDateTime) -> SessionRecord {
    SessionRecord {
        hash: random_hash(),
        workspace_id: app.app.workspace_id.clone(),
        app_id: app.app.id.clone(),
        client_id: app.app.client_id.clone(),
        redirect_uri: "https://app.example.com/callback".to_owned(),
        redirect_uri_in_request: true,
        scopes: ScopeSet::from_tokens(["read:devices"]).unwrap(),
        state: Some(Redacted::new("xyz".to_owned())),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned()),
        response_mode: crate::storage::ResponseMode::Query,
        created_at: now,
        expires_at: now + Duration::minutes(10),
        open_by: None,
        opened_at: Some(now),
        status: SessionStatus::Pending,
        connect: None,
    }
}

/// A grant of `app` for a user, and a code for it valid for a minute.
pub fn grant_and_code(app: &AppRecord, now: OffsetDateTime) -> (GrantRecord, CodeRecord) {
    let grant = GrantRecord {
        id: GrantId::generate(&rng()).unwrap(),
        workspace_id: app.app.workspace_id.clone(),
        app_id: app.app.id.clone(),
        client_id: app.app.client_id.clone(),
        subject: Some(Subject::parse("user-1").unwrap()),
        scopes: ScopeSet::from_tokens(["read:devices"]).unwrap(),
        created_at: now,
        expires_at: Some(now + Duration::minutes(1)),
        revoked_at: None,
    };
    let code = CodeRecord {
        hash: random_hash(),
        grant_id: grant.id.clone(),
        workspace_id: grant.workspace_id.clone(),
        app_id: grant.app_id.clone(),
        client_id: grant.client_id.clone(),
        redirect_uri: "https://app.example.com/callback".to_owned(),
        redirect_uri_in_request: true,
        code_challenge: None,
        scopes: grant.scopes.clone(),
        subject: Subject::parse("user-1").unwrap(),
        issued_at: now,
        expires_at: now + Duration::minutes(1),
        redeemed_at: None,
        scoped_key_id: None,
    };
    (grant, code)
}

/// A token of `grant`, valid for an hour.
pub fn token_record(grant: &GrantRecord, kind: TokenKind, now: OffsetDateTime) -> TokenRecord {
    TokenRecord {
        hash: random_hash(),
        kind,
        grant_id: grant.id.clone(),
        workspace_id: grant.workspace_id.clone(),
        app_id: grant.app_id.clone(),
        client_id: grant.client_id.clone(),
        subject: grant.subject.clone(),
        scopes: grant.scopes.clone(),
        issued_at: now,
        expires_at: now + Duration::hours(1),
        rotated_at: None,
        successor: None,
    }
}

/// A grant with a live refresh token, written through `insert_grant`.
pub(super) async fn refresh_fixture<S: Storage>(
    store: &S,
    now: OffsetDateTime,
) -> (GrantRecord, TokenRecord) {
    let app = grant_fixture(store).await;
    let (mut grant, _) = grant_and_code(&app, now);
    grant.expires_at = Some(now + Duration::hours(1));
    let refresh = token_record(&grant, TokenKind::Refresh, now);
    store
        .insert_grant(&grant, &[refresh.clone()])
        .await
        .unwrap();
    (grant, refresh)
}

/// A customer record for `app`'s workspace.
pub fn customer_record(app: &AppRecord, reference_id: &str, now: OffsetDateTime) -> CustomerRecord {
    CustomerRecord {
        id: CustomerId::generate(&rng()).unwrap(),
        workspace_id: app.app.workspace_id.clone(),
        app_id: app.app.id.clone(),
        reference_id: reference_id.to_owned(),
        info: CustomerInfo {
            first_name: Some("Ada".to_owned()),
            last_name: Some("Lovelace".to_owned()),
            email: Some("ada@example.com".to_owned()),
            phone: None,
            location: Some(Location {
                street_one: "1 Main St".to_owned(),
                city: "Springfield".to_owned(),
                state: "IL".to_owned(),
                postal_code: "62701".to_owned(),
                country: "US".to_owned(),
            }),
        },
        created_at: now,
        updated_at: now,
    }
}

/// A scoped key record for `customer` of `app`, under `grant`.
pub fn scoped_key_record(
    app: &AppRecord,
    customer: &CustomerRecord,
    grant: &GrantId,
    now: OffsetDateTime,
) -> ScopedKeyRecord {
    ScopedKeyRecord {
        id: ScopedKeyId::from_bytes(&random_array::<16>(&rng()).unwrap()),
        workspace_id: app.app.workspace_id.clone(),
        app_id: app.app.id.clone(),
        client_id: app.app.client_id.clone(),
        customer_id: customer.id.clone(),
        reference_id: customer.reference_id.clone(),
        grant_id: grant.clone(),
        scopes: ScopeSet::from_tokens(["read:devices"]).unwrap(),
        label: Some("test".to_owned()),
        nonce: random_array::<16>(&rng()).unwrap(),
        signing_key_id: 1,
        created_at: now,
        expires_at: None,
        revoked_at: None,
    }
}

/// A Connect approval of a session of `app` for `reference_id`: grant, code
/// and the Connect part (customer, connection, optionally a scoped key).
pub fn connect_approval(
    app: &AppRecord,
    customer: &CustomerRecord,
    with_key: bool,
    now: OffsetDateTime,
) -> (GrantRecord, CodeRecord, ConnectApproval) {
    let (mut grant, mut code) = grant_and_code(app, now);
    grant.expires_at = None;
    let key = with_key.then(|| scoped_key_record(app, customer, &grant.id, now));
    code.scoped_key_id = key.as_ref().map(|k| k.id.clone());
    let connection = ConnectionRecord {
        id: ConnectionId::generate(&rng()).unwrap(),
        workspace_id: app.app.workspace_id.clone(),
        app_id: app.app.id.clone(),
        customer_id: customer.id.clone(),
        reference_id: customer.reference_id.clone(),
        grant_id: grant.id.clone(),
        tags: vec!["boston".to_owned()],
        linked: None,
        status: ConnectionStatus::Active,
        browser_created: false,
        claimed_reference_id: None,
        attached_at: None,
        created_at: now,
        updated_at: now,
    };
    let approval = ConnectApproval {
        customer: customer.clone(),
        connection,
        scoped_key: key,
        max_tags: crate::connect::MAX_TAGS,
    };
    (grant, code, approval)
}

pub(super) async fn approve_connect<S: Storage>(
    store: &S,
    app: &AppRecord,
    approval: (GrantRecord, CodeRecord, ConnectApproval),
    now: OffsetDateTime,
) -> SessionCompletion {
    let session = session_record(app, now);
    store.insert_session(&session).await.unwrap();
    let (grant, code, connect) = approval;
    let decision = SessionDecision::Approve {
        grant: Box::new(grant),
        code: Box::new(code),
        connect: Some(Box::new(connect)),
    };
    store
        .complete_session(&session.hash, &decision, now)
        .await
        .unwrap()
}

/// An approved connection of `app` to `customer` (a new customer record
/// when none of that reference id exists yet), made at `now`.
pub(super) async fn connected<S: Storage>(
    store: &S,
    app: &AppRecord,
    customer: &CustomerRecord,
    now: OffsetDateTime,
) -> (GrantRecord, ConnectionRecord) {
    let (grant, code, connect) = connect_approval(app, customer, false, now);
    let connection = connect.connection.clone();
    let done = approve_connect(store, app, (grant.clone(), code, connect), now).await;
    assert!(matches!(done, SessionCompletion::Completed(_)), "{done:?}");
    (grant, connection)
}

/// A browser-created approval of `app` for a new customer under
/// `reference`, with a scoped key: the customer, the connection and the
/// key.
pub(super) async fn browser_connected<S: Storage>(
    store: &S,
    app: &AppRecord,
    reference: &str,
    now: OffsetDateTime,
) -> (CustomerRecord, ConnectionRecord, ScopedKeyRecord) {
    let customer = customer_record(app, reference, now);
    let (grant, code, mut connect) = connect_approval(app, &customer, true, now);
    connect.connection.browser_created = true;
    connect.connection.claimed_reference_id = Some("claimed".to_owned());
    let connection = connect.connection.clone();
    let key = connect.scoped_key.clone().unwrap();
    let done = approve_connect(store, app, (grant, code, connect), now).await;
    assert!(matches!(done, SessionCompletion::Completed(_)), "{done:?}");
    (customer, connection, key)
}

/// An origin no other check uses (the origin lookup spans workspaces).
pub fn fresh_origin() -> Origin {
    Origin::parse(&format!(
        "https://{}.example.com",
        hex(&random_array::<8>(&rng()).unwrap())
    ))
    .unwrap()
}

/// A publishable key record for `app`.
pub fn publishable_key_record(app: &AppRecord, created_at: OffsetDateTime) -> PublishableKeyRecord {
    PublishableKeyRecord {
        id: PublishableKeyId::generate(&rng()).unwrap(),
        hash: random_hash(),
        workspace_id: app.app.workspace_id.clone(),
        app_id: app.app.id.clone(),
        created_at,
    }
}

/// How many of `hashes` storage still holds.
pub(super) async fn sessions_held<S: Storage>(store: &S, hashes: &[CredentialHash]) -> usize {
    let mut held = 0;
    for hash in hashes {
        if store
            .open_session(hash, base_time())
            .await
            .unwrap()
            .is_some()
        {
            held += 1;
        }
    }
    held
}

/// A pending Connect session of `app` (version 0, nothing done yet).
pub fn connect_session_record(app: &AppRecord, now: OffsetDateTime) -> SessionRecord {
    let mut session = session_record(app, now);
    session.connect = Some(Box::new(crate::storage::ConnectContext {
        reference_id: "steps".to_owned(),
        claimed_reference_id: None,
        tags: Vec::new(),
        client_name: "Steps".to_owned(),
        customer_id: None,
        customer_info: CustomerInfo::default(),
        filters: None,
        mode: crate::storage::ConnectMode::Create,
        scoped_key: None,
        scoped_key_expires_in: None,
        browser_created: false,
        progress: crate::storage::ConnectProgress::default(),
        step_version: 0,
        locale: Some("fr".to_owned()),
    }));
    session
}
