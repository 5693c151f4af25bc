//! The OAuth app registry through its typed API: every validation rule and
//! its edges, pagination, update, delete, rotation with and without a grace
//! period, client authentication and workspace isolation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers outside #[test] fns

use std::sync::Arc;

use oauth_connect::error::Problem;
use oauth_connect::error::{AuthFailure, Conflict, RegistryProblem, Resource};
use oauth_connect::hooks::ManualClock;
use oauth_connect::registry::AppUpdate;
use oauth_connect::{
    AppType, AuthorizationServer, Error, MemoryStore, NewOAuthApp, PageRequest, WorkspaceId,
};
use time::{Duration, macros::datetime};

type Server = AuthorizationServer<MemoryStore>;

fn server() -> (Server, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(datetime!(2025-06-01 00:00 UTC)));
    let server = AuthorizationServer::builder(MemoryStore::new())
        .issuer("https://auth.example.com")
        .clock(clock.clone())
        .build()
        .unwrap();
    (server, clock)
}

fn ws(name: &str) -> WorkspaceId {
    WorkspaceId::parse(name).unwrap()
}

fn new_app(app_type: AppType) -> NewOAuthApp {
    NewOAuthApp {
        name: "My Energy App".into(),
        description: Some("Connects customers to their energy data.".into()),
        redirect_uris: vec!["https://myapp.com/callback".into()],
        allowed_scopes: vec!["read:devices".into(), "read:sites".into()],
        allowed_origins: vec![],
        app_type,
        logo_uri: None,
    }
}

fn field_of(err: Error) -> (String, Problem) {
    match err {
        Error::Invalid(e) => (e.path(), e.problem),
        other => panic!("expected a field error, got {other:?}"),
    }
}

async fn total(server: &Server, workspace: &WorkspaceId) -> u64 {
    server
        .list_apps(workspace, PageRequest::default())
        .await
        .unwrap()
        .meta
        .total
}

#[tokio::test]
async fn create_confidential_returns_a_secret_once_and_public_none() {
    let (server, _) = server();
    let w = ws("ws_a");
    let confidential = server
        .create_app(&w, &new_app(AppType::Confidential))
        .await
        .unwrap();
    assert!(confidential.app.id.as_str().starts_with("oauth_"));
    assert!(
        confidential
            .app
            .client_id
            .as_str()
            .starts_with("oc_client_")
    );
    let secret = confidential.client_secret.as_ref().unwrap();
    assert!(secret.expose_secret().starts_with("oc_secret_"));

    let public = server
        .create_app(&w, &new_app(AppType::Public))
        .await
        .unwrap();
    assert!(public.client_secret.is_none(), "public apps have no secret");

    // The secret is in the create response's JSON, never in the app's.
    let created_json = serde_json::to_value(&confidential).unwrap();
    assert_eq!(created_json["clientSecret"], secret.expose_secret());
    let fetched = server.get_app(&w, &confidential.app.id).await.unwrap();
    let fetched_json = serde_json::to_string(&fetched).unwrap();
    assert!(!fetched_json.contains("clientSecret"));
    assert!(!fetched_json.contains(secret.expose_secret()));
    assert!(
        !serde_json::to_string(&public)
            .unwrap()
            .contains("clientSecret")
    );
}

#[tokio::test]
async fn app_json_is_camel_case_with_millisecond_utc_timestamps() {
    let (server, _) = server();
    let created = server
        .create_app(&ws("ws_a"), &new_app(AppType::Confidential))
        .await
        .unwrap();
    let json = serde_json::to_value(&created.app).unwrap();
    assert_eq!(json["createdAt"], "2025-06-01T00:00:00.000Z");
    assert_eq!(json["updatedAt"], "2025-06-01T00:00:00.000Z");
    assert_eq!(json["type"], "CONFIDENTIAL");
    assert_eq!(json["workspaceId"], "ws_a");
    assert_eq!(
        json["redirectUris"],
        serde_json::json!(["https://myapp.com/callback"])
    );
    assert_eq!(
        json["allowedScopes"],
        serde_json::json!(["read:devices", "read:sites"])
    );
    assert_eq!(json["clientId"], created.app.client_id.as_str());
    assert_eq!(json["name"], "My Energy App");
    assert_eq!(
        json["description"],
        "Connects customers to their energy data."
    );
    assert_eq!(
        json["allowedOrigins"],
        serde_json::json!([]),
        "none by default"
    );
    let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys.len(), 11, "exactly the documented fields: {keys:?}");
}

#[tokio::test]
async fn name_is_1_to_255_characters() {
    let (server, _) = server();
    let w = ws("ws_a");
    let mut app = new_app(AppType::Public);
    app.name = "é".repeat(255); // characters, not bytes
    assert!(server.create_app(&w, &app).await.is_ok());
    for (name, problem) in [
        ("é".repeat(256), Problem::TooLong { max: 255 }),
        (String::new(), Problem::TooShort { min: 1 }),
        ("   ".into(), Problem::TooShort { min: 1 }),
        ("tab\tname".into(), Problem::InvalidCharacters),
    ] {
        app.name = name;
        let (field, got) = field_of(server.create_app(&w, &app).await.unwrap_err());
        assert_eq!((field.as_str(), got), ("name", problem));
    }
    assert_eq!(total(&server, &w).await, 1, "refusals wrote nothing");
}

#[tokio::test]
async fn description_is_at_most_1000_characters_and_optional() {
    let (server, _) = server();
    let w = ws("ws_a");
    let mut app = new_app(AppType::Public);
    app.description = None;
    assert!(
        server
            .create_app(&w, &app)
            .await
            .unwrap()
            .app
            .description
            .is_none()
    );
    app.description = Some("d".repeat(1000));
    assert!(server.create_app(&w, &app).await.is_ok());
    app.description = Some("d".repeat(1001));
    let (field, problem) = field_of(server.create_app(&w, &app).await.unwrap_err());
    assert_eq!(
        (field.as_str(), problem),
        ("description", Problem::TooLong { max: 1000 })
    );
    assert_eq!(total(&server, &w).await, 2);
}

#[tokio::test]
async fn redirect_uris_are_validated_and_errors_name_the_element() {
    let (server, _) = server();
    let w = ws("ws_a");
    let mut app = new_app(AppType::Public);
    app.redirect_uris = vec![];
    let (field, problem) = field_of(server.create_app(&w, &app).await.unwrap_err());
    assert_eq!(
        (field.as_str(), problem),
        ("redirectUris", Problem::TooFew { min: 1 })
    );

    // RFC 6749 §3.1.2 (absolute, no fragment), RFC 8252 §7.1 and §8.3,
    // RFC 9700 §2.1 (no wildcards), no script, file or intent schemes, no
    // drive letter.
    for bad in [
        "/relative/path",
        "https://myapp.com/cb#fragment",
        "https://*.myapp.com/cb",
        "http://myapp.com/cb",
        "javascript:alert(1)",
        "data:text/html,hi",
        "file:///etc/passwd",
        "intent://cb",
        "c:/cb",
    ] {
        app.redirect_uris = vec!["https://myapp.com/ok".into(), bad.into()];
        let (field, problem) = field_of(server.create_app(&w, &app).await.unwrap_err());
        assert_eq!(field, "redirectUris[1]", "{bad}");
        assert!(
            matches!(problem, Problem::RedirectUri(_)),
            "{bad}: {problem:?}"
        );
    }
    for good in [
        "http://127.0.0.1/callback",
        "http://[::1]:8080/cb",
        "http://localhost:3000/cb",
        "com.example.app:/oauth2redirect",
        "myapp://device/connected",
        "https://myapp.com/cb?tenant=1",
    ] {
        app.redirect_uris = vec![good.into()];
        let created = server.create_app(&w, &app).await.unwrap();
        assert_eq!(
            created.app.redirect_uris[0].as_str(),
            good,
            "stored exactly as given"
        );
    }
    app.redirect_uris = vec!["https://a.example/cb".into(), "https://a.example/cb".into()];
    let created = server.create_app(&w, &app).await.unwrap();
    assert_eq!(created.app.redirect_uris.len(), 1, "duplicates removed");
    assert_eq!(total(&server, &w).await, 7);
}

#[tokio::test]
async fn allowed_scopes_follow_the_rfc6749_section_3_3_grammar() {
    let (server, _) = server();
    let w = ws("ws_a");
    let mut app = new_app(AppType::Public);
    app.allowed_scopes = vec![];
    let (field, problem) = field_of(server.create_app(&w, &app).await.unwrap_err());
    assert_eq!(
        (field.as_str(), problem),
        ("allowedScopes", Problem::TooFew { min: 1 })
    );

    app.allowed_scopes = vec!["read:devices".into(), "has space".into()];
    let (field, problem) = field_of(server.create_app(&w, &app).await.unwrap_err());
    assert_eq!(field, "allowedScopes[1]");
    assert!(matches!(problem, Problem::Scope(_)));

    app.allowed_scopes = vec!["quote\"".into()];
    assert!(server.create_app(&w, &app).await.is_err());

    // Case-sensitive, duplicates removed, first order kept.
    app.allowed_scopes = vec!["Read".into(), "read".into(), "Read".into()];
    let created = server.create_app(&w, &app).await.unwrap();
    let scopes: Vec<&str> = created
        .app
        .allowed_scopes
        .iter()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(scopes, ["Read", "read"]);
    assert_eq!(total(&server, &w).await, 1);
}

#[tokio::test]
async fn type_parses_only_confidential_or_public() {
    let ok: NewOAuthApp = serde_json::from_value(serde_json::json!({
        "name": "x", "redirectUris": ["https://a.example/cb"],
        "allowedScopes": ["s"], "type": "PUBLIC"
    }))
    .unwrap();
    assert_eq!(ok.app_type, AppType::Public);
    let bad = serde_json::from_value::<NewOAuthApp>(serde_json::json!({
        "name": "x", "redirectUris": ["https://a.example/cb"],
        "allowedScopes": ["s"], "type": "confidential"
    }));
    assert!(bad.is_err(), "the enum is case-sensitive");
}

#[tokio::test]
async fn pagination_bounds_page_1000_and_per_page_100() {
    let (server, clock) = server();
    let w = ws("ws_a");
    let mut ids = Vec::new();
    for _ in 0..25 {
        ids.push(
            server
                .create_app(&w, &new_app(AppType::Public))
                .await
                .unwrap()
                .app
                .id,
        );
        clock.advance(Duration::milliseconds(1));
    }
    let first = server.list_apps(&w, PageRequest::default()).await.unwrap();
    assert_eq!(
        (first.meta.total, first.meta.page, first.meta.per_page),
        (25, 1, 10)
    );
    assert_eq!(
        first.data.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
        ids[..10]
    );
    let third = server.list_apps(&w, PageRequest::new(3, 10)).await.unwrap();
    assert_eq!(
        third.data.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
        ids[20..]
    );

    let last_allowed = server
        .list_apps(&w, PageRequest::new(1000, 100))
        .await
        .unwrap();
    assert!(last_allowed.data.is_empty(), "past the end: empty");
    assert_eq!(last_allowed.meta.total, 25, "with the right total");
    let all = server
        .list_apps(&w, PageRequest::new(1, 100))
        .await
        .unwrap();
    assert_eq!(all.data.len(), 25);

    for (page, field) in [
        (PageRequest::new(1001, 10), "page"),
        (PageRequest::new(0, 10), "page"),
        (PageRequest::new(1, 101), "perPage"),
        (PageRequest::new(1, 0), "perPage"),
    ] {
        let (got, problem) = field_of(server.list_apps(&w, page).await.unwrap_err());
        assert_eq!(got, field);
        assert!(matches!(problem, Problem::OutOfRange { .. }));
    }
    let json = serde_json::to_value(&first).unwrap();
    assert_eq!(
        json["meta"],
        serde_json::json!({"total": 25, "page": 1, "perPage": 10})
    );
}

#[tokio::test]
async fn update_changes_fields_and_moves_updated_at() {
    let (server, clock) = server();
    let w = ws("ws_a");
    let created = server
        .create_app(&w, &new_app(AppType::Confidential))
        .await
        .unwrap();
    clock.advance(Duration::minutes(3));
    let update: AppUpdate = serde_json::from_value(serde_json::json!({
        "name": "Renamed", "description": null, "allowedScopes": ["read:devices"]
    }))
    .unwrap();
    let updated = server
        .update_app(&w, &created.app.id, &update)
        .await
        .unwrap();
    assert_eq!(updated.name, "Renamed");
    assert_eq!(updated.description, None, "null clears the description");
    assert_eq!(updated.allowed_scopes.to_param(), "read:devices");
    assert_eq!(
        updated.redirect_uris, created.app.redirect_uris,
        "untouched"
    );
    assert_eq!(updated.created_at, created.app.created_at);
    assert_eq!(
        updated.updated_at,
        created.app.created_at + Duration::minutes(3)
    );
}

#[tokio::test]
async fn update_refuses_empty_and_invalid_changes_without_writing() {
    let (server, _) = server();
    let w = ws("ws_a");
    let created = server
        .create_app(&w, &new_app(AppType::Public))
        .await
        .unwrap();
    let (field, problem) = field_of(
        server
            .update_app(&w, &created.app.id, &AppUpdate::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (field.as_str(), problem),
        ("body", Problem::Registry(RegistryProblem::NothingToUpdate))
    );

    let update = AppUpdate {
        name: Some("New name".into()),
        redirect_uris: Some(vec![
            "https://ok.example/cb".into(),
            "ftp://x.example/".into(),
        ]),
        ..AppUpdate::default()
    };
    let (field, _) = field_of(
        server
            .update_app(&w, &created.app.id, &update)
            .await
            .unwrap_err(),
    );
    assert_eq!(field, "redirectUris[1]");
    assert_eq!(
        server.get_app(&w, &created.app.id).await.unwrap(),
        created.app,
        "unchanged"
    );

    // The type cannot change: the update has no such field.
    let with_type = serde_json::from_value::<AppUpdate>(serde_json::json!({"type": "PUBLIC"}));
    assert!(with_type.unwrap_err().to_string().contains("type"));
}

#[tokio::test]
async fn delete_makes_the_app_and_its_secret_stop_working() {
    let (server, _) = server();
    let w = ws("ws_a");
    let created = server
        .create_app(&w, &new_app(AppType::Confidential))
        .await
        .unwrap();
    let secret = created.client_secret.unwrap();
    server.delete_app(&w, &created.app.id).await.unwrap();
    assert!(matches!(
        server.get_app(&w, &created.app.id).await,
        Err(Error::NotFound(Resource::App))
    ));
    let auth = server
        .authenticate_client(created.app.client_id.as_str(), Some(secret.expose_secret()))
        .await;
    assert!(matches!(
        auth,
        Err(Error::Unauthenticated(AuthFailure::UnknownClient))
    ));
    assert!(matches!(
        server.delete_app(&w, &created.app.id).await,
        Err(Error::NotFound(Resource::App))
    ));
}

#[tokio::test]
async fn another_workspaces_app_is_not_found_never_forbidden() {
    let (server, _) = server();
    let (a, b) = (ws("ws_a"), ws("ws_b"));
    let created = server
        .create_app(&a, &new_app(AppType::Confidential))
        .await
        .unwrap();
    let id = &created.app.id;
    assert!(matches!(
        server.get_app(&b, id).await,
        Err(Error::NotFound(Resource::App))
    ));
    let update = AppUpdate {
        name: Some("x".into()),
        ..AppUpdate::default()
    };
    assert!(matches!(
        server.update_app(&b, id, &update).await,
        Err(Error::NotFound(Resource::App))
    ));
    assert!(matches!(
        server.delete_app(&b, id).await,
        Err(Error::NotFound(Resource::App))
    ));
    assert!(matches!(
        server.rotate_client_secret(&b, id, None).await,
        Err(Error::NotFound(Resource::App))
    ));
    assert_eq!(total(&server, &b).await, 0);
    assert_eq!(
        server.get_app(&a, id).await.unwrap(),
        created.app,
        "untouched"
    );
}

#[tokio::test]
async fn client_authentication_rfc6749_section_2_3_1() {
    let (server, _) = server();
    let w = ws("ws_a");
    let confidential = server
        .create_app(&w, &new_app(AppType::Confidential))
        .await
        .unwrap();
    let id = confidential.app.client_id.as_str();
    let secret = confidential
        .client_secret
        .as_ref()
        .unwrap()
        .expose_secret()
        .to_owned();

    let ok = server.authenticate_client(id, Some(&secret)).await.unwrap();
    assert!(ok.authenticated && !ok.used_previous_secret);

    // Another app's real secret: well-formed, wrong.
    let other = server
        .create_app(&w, &new_app(AppType::Confidential))
        .await
        .unwrap();
    let wrong = other.client_secret.as_ref().unwrap().expose_secret();
    assert!(matches!(
        server.authenticate_client(id, Some(wrong)).await,
        Err(Error::Unauthenticated(AuthFailure::InvalidSecret))
    ));
    // One character changed: refused by the checksum.
    let mut typo = secret.clone().into_bytes();
    let at = typo.len() - 10;
    typo[at] = if typo[at] == b'A' { b'B' } else { b'A' };
    let typo = String::from_utf8(typo).unwrap();
    assert!(matches!(
        server.authenticate_client(id, Some(&typo)).await,
        Err(Error::Unauthenticated(AuthFailure::InvalidSecret))
    ));
    assert!(matches!(
        server.authenticate_client(id, None).await,
        Err(Error::Unauthenticated(AuthFailure::MissingSecret))
    ));
    assert!(matches!(
        server
            .authenticate_client("oc_client_000000000000000000000000", Some(&secret))
            .await,
        Err(Error::Unauthenticated(AuthFailure::UnknownClient))
    ));

    let public = server
        .create_app(&w, &new_app(AppType::Public))
        .await
        .unwrap();
    let pid = public.app.client_id.as_str();
    let identified = server.authenticate_client(pid, None).await.unwrap();
    assert!(
        !identified.authenticated,
        "a public client is identified, not authenticated"
    );
    assert!(matches!(
        server.authenticate_client(pid, Some(&secret)).await,
        Err(Error::Unauthenticated(AuthFailure::UnexpectedSecret))
    ));
}

#[tokio::test]
async fn rotation_without_grace_invalidates_the_old_secret_at_once() {
    let (server, clock) = server();
    let w = ws("ws_a");
    let created = server
        .create_app(&w, &new_app(AppType::Confidential))
        .await
        .unwrap();
    let id = created.app.client_id.as_str();
    let old = created.client_secret.unwrap();
    clock.advance(Duration::seconds(5));
    let rotated = server
        .rotate_client_secret(&w, &created.app.id, None)
        .await
        .unwrap();
    assert_eq!(rotated.client_id, created.app.client_id);
    assert!(rotated.previous_secret_expires_at.is_none());
    assert_ne!(rotated.client_secret, old);
    assert!(
        server
            .authenticate_client(id, Some(old.expose_secret()))
            .await
            .is_err()
    );
    assert!(
        server
            .authenticate_client(id, Some(rotated.client_secret.expose_secret()))
            .await
            .is_ok()
    );
    let app = server.get_app(&w, &created.app.id).await.unwrap();
    assert_eq!(
        app.updated_at,
        created.app.created_at + Duration::seconds(5),
        "updatedAt moves"
    );
    // Zero grace is the same as none.
    let again = server
        .rotate_client_secret(&w, &created.app.id, Some(Duration::ZERO))
        .await
        .unwrap();
    assert!(again.previous_secret_expires_at.is_none());
    assert!(
        server
            .authenticate_client(id, Some(rotated.client_secret.expose_secret()))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn rotation_with_grace_keeps_both_until_the_grace_ends() {
    let (server, clock) = server();
    let w = ws("ws_a");
    let created = server
        .create_app(&w, &new_app(AppType::Confidential))
        .await
        .unwrap();
    let id = created.app.client_id.as_str();
    let old = created.client_secret.unwrap();
    let rotated = server
        .rotate_client_secret(&w, &created.app.id, Some(Duration::hours(1)))
        .await
        .unwrap();
    assert_eq!(
        rotated.previous_secret_expires_at,
        Some(datetime!(2025-06-01 01:00 UTC))
    );
    let new = rotated.client_secret;

    clock.advance(Duration::minutes(59));
    let with_old = server
        .authenticate_client(id, Some(old.expose_secret()))
        .await
        .unwrap();
    assert!(with_old.used_previous_secret);
    assert!(
        server
            .authenticate_client(id, Some(new.expose_secret()))
            .await
            .is_ok()
    );

    clock.advance(Duration::minutes(1)); // exactly at the end: over
    assert!(matches!(
        server
            .authenticate_client(id, Some(old.expose_secret()))
            .await,
        Err(Error::Unauthenticated(AuthFailure::InvalidSecret))
    ));
    assert!(
        server
            .authenticate_client(id, Some(new.expose_secret()))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn rotation_grace_is_capped_and_needs_a_confidential_app() {
    let (server, _) = server();
    let w = ws("ws_a");
    let created = server
        .create_app(&w, &new_app(AppType::Confidential))
        .await
        .unwrap();
    let (field, problem) = field_of(
        server
            .rotate_client_secret(
                &w,
                &created.app.id,
                Some(Duration::days(7) + Duration::SECOND),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(field, "gracePeriodSeconds");
    assert!(matches!(
        problem,
        Problem::OutOfRange {
            min: 0,
            max: 604_800
        }
    ));
    assert!(
        server
            .rotate_client_secret(&w, &created.app.id, Some(Duration::days(7)))
            .await
            .is_ok()
    );
    let public = server
        .create_app(&w, &new_app(AppType::Public))
        .await
        .unwrap();
    assert!(matches!(
        server.rotate_client_secret(&w, &public.app.id, None).await,
        Err(Error::PublicApp)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rotations_return_exactly_one_working_secret() {
    let (server, _) = server();
    let w = ws("ws_a");
    let created = server
        .create_app(&w, &new_app(AppType::Confidential))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (server, w, id) = (server.clone(), w.clone(), created.app.id.clone());
            tokio::spawn(async move { server.rotate_client_secret(&w, &id, None).await })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(rotated) => winners.push(rotated.client_secret),
            Err(Error::Conflict(Conflict::Concurrent)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert!(!winners.is_empty(), "at least one rotation succeeds");
    // Rotations that read the same current secret cannot both win; a later
    // rotation may supersede an earlier winner only after reading its
    // secret as current. Either way exactly one handed-out secret is live.
    let id = created.app.client_id.as_str();
    let live: Vec<_> = {
        let mut live = Vec::new();
        for secret in &winners {
            if server
                .authenticate_client(id, Some(secret.expose_secret()))
                .await
                .is_ok()
            {
                live.push(secret);
            }
        }
        live
    };
    assert_eq!(live.len(), 1, "exactly one secret works after the race");
}

#[tokio::test]
async fn rotate_request_body_parses_grace_seconds() {
    let body: oauth_connect::registry::RotateSecretRequest =
        serde_json::from_str(r#"{"gracePeriodSeconds": 3600}"#).unwrap();
    assert_eq!(body.grace_period, Some(Duration::hours(1)));
    assert!(
        serde_json::from_str::<oauth_connect::registry::RotateSecretRequest>(
            r#"{"gracePeriodSeconds": -1}"#
        )
        .is_err()
    );
    assert!(
        serde_json::from_str::<oauth_connect::registry::RotateSecretRequest>(r#"{"grace": 1}"#)
            .is_err()
    );
}
