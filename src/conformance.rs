//! The storage conformance suite: the behaviour every backend must show,
//! written once, generic over the storage traits.
//!
//! Each check is a public `async fn` taking the store in an `Arc`; each uses
//! workspaces of its own, so all of them can share one store (a database that
//! is not emptied between checks is fine). The
//! [`storage_conformance_tests!`](crate::storage_conformance_tests) macro
//! turns the whole list into one `#[tokio::test]` per check:
//!
//! ```text
//! oauth_connect::storage_conformance_tests!(async { my_backend::connect().await });
//! ```
//!
//! The checks panic (through `assert!`) on the first violation, naming the
//! rule; they are tests, not library code.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::ids::{AppId, ClientId, WorkspaceId, hex};
use crate::keyring::CredentialHash;
use crate::random::{SystemRandom, random_array};
use crate::redirect::RedirectUri;
use crate::registration::{AppType, OAuthApp};
use crate::scope::ScopeSet;
use crate::storage::{
    AppChanges, AppRecord, SecretRotation, SecretState, Storage, StorageErrorKind,
};
use crate::timestamp::truncate_ms;

/// Generates one `#[tokio::test]` per conformance check. `$make` is an
/// expression of a future that yields a fresh (or shared) store; it is
/// evaluated once per test.
#[macro_export]
macro_rules! storage_conformance_tests {
    ($make:expr) => {
        $crate::storage_conformance_tests!(@each $make;
            apps_insert_and_get,
            apps_insert_conflicts,
            apps_list_pages_in_stable_order,
            apps_update_changes_only_given_fields,
            apps_delete_removes_everything,
            apps_rotate_secret_with_and_without_grace,
            apps_rotate_secret_refuses_stale_expectation,
            apps_concurrent_rotations_have_one_winner,
            apps_are_isolated_between_workspaces,
            admin_keys_insert_find_delete,
            admin_keys_insert_conflicts,
            admin_keys_unknown_hash_is_absent,
        );
    };
    (@each $make:expr; $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let store = ::std::sync::Arc::new($make.await);
                $crate::conformance::$check(store).await;
            }
        )+
    };
}

fn rng() -> SystemRandom {
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

fn base_time() -> OffsetDateTime {
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

async fn insert<S: Storage>(store: &S, record: &AppRecord) {
    store.insert_app(record).await.expect("insert_app");
}

/// An inserted app reads back equal, by id within its workspace and by
/// client id.
pub async fn apps_insert_and_get<S: Storage>(store: Arc<S>) {
    let ws = fresh_workspace();
    let record = app_record(&ws, base_time(), Some(random_hash()));
    insert(&*store, &record).await;
    let got = store.get_app(&ws, &record.app.id).await.unwrap();
    assert_eq!(
        got.as_ref(),
        Some(&record),
        "get_app returns the record as inserted"
    );
    let by_client = store
        .get_app_by_client_id(&record.app.client_id)
        .await
        .unwrap();
    assert_eq!(
        by_client.as_ref(),
        Some(&record),
        "get_app_by_client_id finds it"
    );
    let unknown = AppId::generate(&rng()).unwrap();
    assert!(
        store.get_app(&ws, &unknown).await.unwrap().is_none(),
        "unknown id is None"
    );
}

/// A second app with the same id or client id is a conflict and changes
/// nothing.
pub async fn apps_insert_conflicts<S: Storage>(store: Arc<S>) {
    let ws = fresh_workspace();
    let record = app_record(&ws, base_time(), None);
    insert(&*store, &record).await;

    let mut same_id = app_record(&ws, base_time(), None);
    same_id.app.id = record.app.id.clone();
    let err = store.insert_app(&same_id).await.unwrap_err();
    assert_eq!(err.kind(), StorageErrorKind::Conflict, "duplicate app id");
    assert!(
        store
            .get_app_by_client_id(&same_id.app.client_id)
            .await
            .unwrap()
            .is_none()
    );

    let mut same_client = app_record(&ws, base_time(), None);
    same_client.app.client_id = record.app.client_id.clone();
    let err = store.insert_app(&same_client).await.unwrap_err();
    assert_eq!(
        err.kind(),
        StorageErrorKind::Conflict,
        "duplicate client id"
    );
    assert!(
        store
            .get_app(&ws, &same_client.app.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.list_apps(&ws, 0, 100).await.unwrap().total, 1);
}

/// Listing is ordered by creation time then id, pages by offset and limit,
/// reports the total, and a page past the end is empty with the total.
pub async fn apps_list_pages_in_stable_order<S: Storage>(store: Arc<S>) {
    let ws = fresh_workspace();
    let t0 = base_time();
    let mut records = Vec::new();
    // Inserted out of order, two sharing one creation time.
    for i in [4i64, 0, 3, 1, 2, 2] {
        let record = app_record(&ws, t0 + Duration::seconds(i), None);
        insert(&*store, &record).await;
        records.push(record);
    }
    records.sort_by(|a, b| (a.app.created_at, &a.app.id).cmp(&(b.app.created_at, &b.app.id)));
    let expected: Vec<_> = records.iter().map(|r| r.app.id.clone()).collect();

    let all = store.list_apps(&ws, 0, 100).await.unwrap();
    assert_eq!(all.total, 6);
    let ids: Vec<_> = all.items.iter().map(|a| a.id.clone()).collect();
    assert_eq!(ids, expected, "stable order: created_at, then id");

    let page2 = store.list_apps(&ws, 2, 2).await.unwrap();
    assert_eq!(page2.total, 6);
    let ids: Vec<_> = page2.items.iter().map(|a| a.id.clone()).collect();
    assert_eq!(ids, expected[2..4], "offset 2, limit 2");

    let past = store.list_apps(&ws, 99_900, 100).await.unwrap();
    assert!(past.items.is_empty(), "a page past the end is empty");
    assert_eq!(past.total, 6, "and still reports the total");

    let empty = store.list_apps(&fresh_workspace(), 0, 10).await.unwrap();
    assert_eq!((empty.items.len(), empty.total), (0, 0));
}

/// An update changes exactly the given fields and `updated_at`.
pub async fn apps_update_changes_only_given_fields<S: Storage>(store: Arc<S>) {
    let ws = fresh_workspace();
    let record = app_record(&ws, base_time(), Some(random_hash()));
    insert(&*store, &record).await;
    let later = record.app.created_at + Duration::minutes(5);
    let changes = AppChanges {
        name: Some("Renamed".to_owned()),
        description: Some(None),
        redirect_uris: None,
        allowed_scopes: Some(ScopeSet::from_tokens(["read:sites"]).unwrap()),
        updated_at: later,
    };
    let updated = store
        .update_app(&ws, &record.app.id, &changes)
        .await
        .unwrap()
        .expect("the app exists");
    let mut expected = record.clone();
    expected.app.name = "Renamed".to_owned();
    expected.app.description = None;
    expected.app.allowed_scopes = ScopeSet::from_tokens(["read:sites"]).unwrap();
    expected.app.updated_at = later;
    assert_eq!(updated, expected);
    assert_eq!(
        store.get_app(&ws, &record.app.id).await.unwrap(),
        Some(expected)
    );

    let missing = store
        .update_app(&ws, &AppId::generate(&rng()).unwrap(), &changes)
        .await
        .unwrap();
    assert!(missing.is_none(), "updating an unknown app is None");
}

/// Deleting removes the app from every lookup and from listings; a second
/// delete reports false.
pub async fn apps_delete_removes_everything<S: Storage>(store: Arc<S>) {
    let ws = fresh_workspace();
    let keep = app_record(&ws, base_time(), None);
    let gone = app_record(&ws, base_time() + Duration::seconds(1), Some(random_hash()));
    insert(&*store, &keep).await;
    insert(&*store, &gone).await;
    assert!(store.delete_app(&ws, &gone.app.id).await.unwrap());
    assert!(store.get_app(&ws, &gone.app.id).await.unwrap().is_none());
    assert!(
        store
            .get_app_by_client_id(&gone.app.client_id)
            .await
            .unwrap()
            .is_none()
    );
    let listing = store.list_apps(&ws, 0, 10).await.unwrap();
    assert_eq!(listing.total, 1);
    assert_eq!(listing.items[0].id, keep.app.id);
    assert!(
        !store.delete_app(&ws, &gone.app.id).await.unwrap(),
        "second delete is false"
    );
}

/// Rotation replaces the current hash; with a grace end the old hash becomes
/// the previous one, without it there is no previous one.
pub async fn apps_rotate_secret_with_and_without_grace<S: Storage>(store: Arc<S>) {
    let ws = fresh_workspace();
    let first = random_hash();
    let record = app_record(&ws, base_time(), Some(first));
    insert(&*store, &record).await;

    let second = random_hash();
    let until = record.app.created_at + Duration::hours(1);
    let rotated = store
        .rotate_client_secret(
            &ws,
            &record.app.id,
            &SecretRotation {
                expected_current: first,
                new_current: second,
                previous_valid_until: Some(until),
                updated_at: record.app.created_at + Duration::seconds(1),
            },
        )
        .await
        .unwrap()
        .expect("confidential app");
    let secret = rotated.secret.expect("still confidential");
    assert_eq!(secret.current, second);
    let previous = secret.previous.expect("grace keeps the old secret");
    assert_eq!((previous.hash, previous.valid_until), (first, until));
    assert_eq!(
        rotated.app.updated_at,
        record.app.created_at + Duration::seconds(1)
    );

    let third = random_hash();
    let rotated = store
        .rotate_client_secret(
            &ws,
            &record.app.id,
            &SecretRotation {
                expected_current: second,
                new_current: third,
                previous_valid_until: None,
                updated_at: record.app.created_at + Duration::seconds(2),
            },
        )
        .await
        .unwrap()
        .expect("confidential app");
    let secret = rotated.secret.expect("still confidential");
    assert_eq!(secret.current, third);
    assert!(
        secret.previous.is_none(),
        "no grace: the old secret is gone"
    );
    let stored = store.get_app(&ws, &record.app.id).await.unwrap().unwrap();
    assert_eq!(stored.secret.unwrap().current, third);

    let public = app_record(&ws, base_time(), None);
    insert(&*store, &public).await;
    let none = store
        .rotate_client_secret(
            &ws,
            &public.app.id,
            &SecretRotation {
                expected_current: third,
                new_current: random_hash(),
                previous_valid_until: None,
                updated_at: base_time(),
            },
        )
        .await
        .unwrap();
    assert!(none.is_none(), "a public app has no secret to rotate");
}

/// A rotation whose expected current hash is stale is a conflict and writes
/// nothing.
pub async fn apps_rotate_secret_refuses_stale_expectation<S: Storage>(store: Arc<S>) {
    let ws = fresh_workspace();
    let current = random_hash();
    let record = app_record(&ws, base_time(), Some(current));
    insert(&*store, &record).await;
    let err = store
        .rotate_client_secret(
            &ws,
            &record.app.id,
            &SecretRotation {
                expected_current: random_hash(),
                new_current: random_hash(),
                previous_valid_until: None,
                updated_at: base_time(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StorageErrorKind::Conflict);
    let stored = store.get_app(&ws, &record.app.id).await.unwrap().unwrap();
    assert_eq!(
        stored, record,
        "a refused rotation leaves the app unchanged"
    );
}

/// Of many concurrent rotations from the same starting secret exactly one
/// wins, and the stored secret is the winner's.
pub async fn apps_concurrent_rotations_have_one_winner<S: Storage>(store: Arc<S>) {
    let ws = fresh_workspace();
    let current = random_hash();
    let record = app_record(&ws, base_time(), Some(current));
    insert(&*store, &record).await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = Arc::clone(&store);
        let ws = ws.clone();
        let id = record.app.id.clone();
        tasks.push(tokio::spawn(async move {
            let new_current = random_hash();
            let outcome = store
                .rotate_client_secret(
                    &ws,
                    &id,
                    &SecretRotation {
                        expected_current: current,
                        new_current,
                        previous_valid_until: Some(base_time() + Duration::hours(1)),
                        updated_at: base_time(),
                    },
                )
                .await;
            (new_current, outcome)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (hash, outcome) = task.await.unwrap();
        match outcome {
            Ok(Some(_)) => winners.push(hash),
            Ok(None) => panic!("the app exists"),
            Err(e) => assert_eq!(e.kind(), StorageErrorKind::Conflict, "losers get Conflict"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one rotation wins");
    let stored = store.get_app(&ws, &record.app.id).await.unwrap().unwrap();
    let secret = stored.secret.unwrap();
    assert_eq!(
        secret.current, winners[0],
        "the winner's secret is the one stored"
    );
    assert_eq!(secret.previous.unwrap().hash, current);
}

/// Nothing of one workspace is visible or changeable from another.
pub async fn apps_are_isolated_between_workspaces<S: Storage>(store: Arc<S>) {
    let ws = fresh_workspace();
    let other = fresh_workspace();
    let current = random_hash();
    let record = app_record(&ws, base_time(), Some(current));
    insert(&*store, &record).await;
    let id = &record.app.id;
    assert!(store.get_app(&other, id).await.unwrap().is_none(), "get");
    assert_eq!(
        store.list_apps(&other, 0, 100).await.unwrap().total,
        0,
        "list"
    );
    let changes = AppChanges {
        name: Some("Hijacked".to_owned()),
        ..AppChanges::at(base_time())
    };
    assert!(
        store
            .update_app(&other, id, &changes)
            .await
            .unwrap()
            .is_none(),
        "update"
    );
    let rotation = SecretRotation {
        expected_current: current,
        new_current: random_hash(),
        previous_valid_until: None,
        updated_at: base_time(),
    };
    assert!(
        store
            .rotate_client_secret(&other, id, &rotation)
            .await
            .unwrap()
            .is_none(),
        "rotate"
    );
    assert!(!store.delete_app(&other, id).await.unwrap(), "delete");
    assert_eq!(
        store.get_app(&ws, id).await.unwrap(),
        Some(record),
        "untouched"
    );
}

/// An inserted admin key is found by its hash, maps to its workspace, and
/// is gone after deletion (a second deletion reports `false`).
pub async fn admin_keys_insert_find_delete<S: Storage>(store: Arc<S>) {
    let ws = fresh_workspace();
    let other = fresh_workspace();
    let hash = random_hash();
    let second = random_hash();
    store
        .insert_admin_key(&ws, &hash, base_time())
        .await
        .expect("insert_admin_key");
    store
        .insert_admin_key(&other, &second, base_time())
        .await
        .expect("insert_admin_key");
    assert_eq!(
        store.find_admin_key(&hash).await.unwrap().as_ref(),
        Some(&ws),
        "find_admin_key returns the key's workspace"
    );
    assert_eq!(
        store.find_admin_key(&second).await.unwrap().as_ref(),
        Some(&other),
        "each key keeps its own workspace"
    );
    assert!(store.delete_admin_key(&hash).await.unwrap(), "delete");
    assert!(
        store.find_admin_key(&hash).await.unwrap().is_none(),
        "a deleted key is not found"
    );
    assert!(
        !store.delete_admin_key(&hash).await.unwrap(),
        "a second delete reports false"
    );
    assert_eq!(
        store.find_admin_key(&second).await.unwrap().as_ref(),
        Some(&other),
        "deleting one key leaves the others"
    );
}

/// A hash recorded once cannot be recorded again, for the same workspace or
/// another; the first mapping stays.
pub async fn admin_keys_insert_conflicts<S: Storage>(store: Arc<S>) {
    let ws = fresh_workspace();
    let other = fresh_workspace();
    let hash = random_hash();
    store
        .insert_admin_key(&ws, &hash, base_time())
        .await
        .expect("insert_admin_key");
    for workspace in [&ws, &other] {
        let err = store
            .insert_admin_key(workspace, &hash, base_time())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), StorageErrorKind::Conflict, "duplicate hash");
    }
    assert_eq!(
        store.find_admin_key(&hash).await.unwrap().as_ref(),
        Some(&ws),
        "the first mapping is kept"
    );
}

/// An unknown hash is not found and deleting it reports `false`.
pub async fn admin_keys_unknown_hash_is_absent<S: Storage>(store: Arc<S>) {
    let hash = random_hash();
    assert!(store.find_admin_key(&hash).await.unwrap().is_none(), "find");
    assert!(!store.delete_admin_key(&hash).await.unwrap(), "delete");
}
