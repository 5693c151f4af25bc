//! The [`PublishableKeyStore`](crate::storage::PublishableKeyStore) checks.

use std::sync::Arc;

use time::Duration;

use super::fixtures::{
    base_time, fresh_workspace, grant_fixture, publishable_key_record, random_hash, rng,
};
use crate::model::ids::AppId;
use crate::storage::PublishableKeyInsert;
use crate::storage::{Storage, StorageErrorKind};

/// A key reads back by hash and in its app's listing (oldest first, never
/// in another workspace's); a duplicate id or hash is a conflict; revoking
/// removes it from both, once, and only for its own app and workspace.
pub async fn publishable_keys_insert_find_list_revoke<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let ws = &app.app.workspace_id;
    let t0 = base_time();
    let second = publishable_key_record(&app, t0 + Duration::seconds(1));
    let first = publishable_key_record(&app, t0);
    for key in [&second, &first] {
        assert_eq!(
            store.insert_publishable_key(key, 10).await.unwrap(),
            PublishableKeyInsert::Inserted
        );
    }
    assert_eq!(
        store.find_publishable_key(&first.hash).await.unwrap(),
        Some(first.clone())
    );
    assert!(
        store
            .find_publishable_key(&random_hash())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.list_publishable_keys(ws, &app.app.id).await.unwrap(),
        vec![first.clone(), second.clone()],
        "oldest first"
    );
    assert!(
        store
            .list_publishable_keys(&fresh_workspace(), &app.app.id)
            .await
            .unwrap()
            .is_empty(),
        "not in another workspace"
    );
    let mut same_hash = publishable_key_record(&app, t0);
    same_hash.hash = first.hash;
    let mut same_id = publishable_key_record(&app, t0);
    same_id.id = first.id.clone();
    for dup in [&same_hash, &same_id] {
        let err = store.insert_publishable_key(dup, 10).await.unwrap_err();
        assert_eq!(err.kind(), StorageErrorKind::Conflict);
    }
    assert_eq!(
        store
            .list_publishable_keys(ws, &app.app.id)
            .await
            .unwrap()
            .len(),
        2,
        "a conflict writes nothing"
    );
    let other_app = grant_fixture(&*store).await;
    assert!(
        !store
            .revoke_publishable_key(&other_app.app.workspace_id, &other_app.app.id, &first.id)
            .await
            .unwrap(),
        "another app cannot revoke it"
    );
    assert!(
        !store
            .revoke_publishable_key(&fresh_workspace(), &app.app.id, &first.id)
            .await
            .unwrap(),
        "another workspace cannot revoke it"
    );
    assert!(
        store
            .revoke_publishable_key(ws, &app.app.id, &first.id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_publishable_key(ws, &app.app.id, &first.id)
            .await
            .unwrap(),
        "a second revocation is false"
    );
    assert!(
        store
            .find_publishable_key(&first.hash)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.list_publishable_keys(ws, &app.app.id).await.unwrap(),
        vec![second]
    );
}

/// An app holds at most `max_active` keys; revoking one frees a slot; an
/// unknown app (or another workspace's) gets none.
pub async fn publishable_keys_are_bounded_per_app<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let mut kept = Vec::new();
    for _ in 0..3 {
        let key = publishable_key_record(&app, now);
        assert_eq!(
            store.insert_publishable_key(&key, 3).await.unwrap(),
            PublishableKeyInsert::Inserted
        );
        kept.push(key);
    }
    let extra = publishable_key_record(&app, now);
    assert_eq!(
        store.insert_publishable_key(&extra, 3).await.unwrap(),
        PublishableKeyInsert::LimitReached
    );
    assert!(
        store
            .find_publishable_key(&extra.hash)
            .await
            .unwrap()
            .is_none(),
        "nothing written"
    );
    assert!(
        store
            .revoke_publishable_key(&app.app.workspace_id, &app.app.id, &kept[0].id)
            .await
            .unwrap()
    );
    assert_eq!(
        store.insert_publishable_key(&extra, 3).await.unwrap(),
        PublishableKeyInsert::Inserted,
        "revoking frees a slot"
    );
    let mut stray = publishable_key_record(&app, now);
    stray.workspace_id = fresh_workspace();
    assert_eq!(
        store.insert_publishable_key(&stray, 3).await.unwrap(),
        PublishableKeyInsert::AppNotFound,
        "the app is not in that workspace"
    );
    let mut orphan = publishable_key_record(&app, now);
    orphan.app_id = AppId::generate(&rng()).unwrap();
    assert_eq!(
        store.insert_publishable_key(&orphan, 3).await.unwrap(),
        PublishableKeyInsert::AppNotFound
    );
}

/// Concurrent inserts never take an app past the bound: exactly
/// `max_active` of them win.
pub async fn publishable_keys_concurrent_inserts_respect_the_bound<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let store = Arc::clone(&store);
        let key = publishable_key_record(&app, now);
        tasks.push(tokio::spawn(async move {
            store.insert_publishable_key(&key, 4).await.unwrap()
        }));
    }
    let mut inserted = 0;
    for task in tasks {
        match task.await.unwrap() {
            PublishableKeyInsert::Inserted => inserted += 1,
            PublishableKeyInsert::LimitReached => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(inserted, 4, "exactly the bound wins");
    assert_eq!(
        store
            .list_publishable_keys(&app.app.workspace_id, &app.app.id)
            .await
            .unwrap()
            .len(),
        4
    );
}

/// Deleting an app removes its publishable keys in the same step.
pub async fn apps_delete_cascades_to_publishable_keys<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let key = publishable_key_record(&app, base_time());
    store.insert_publishable_key(&key, 10).await.unwrap();
    assert!(
        store
            .delete_app(&app.app.workspace_id, &app.app.id)
            .await
            .unwrap()
    );
    assert!(
        store
            .find_publishable_key(&key.hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .list_publishable_keys(&app.app.workspace_id, &app.app.id)
            .await
            .unwrap()
            .is_empty()
    );
}
