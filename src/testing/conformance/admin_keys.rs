//! The [`AdminKeyStore`](crate::storage::AdminKeyStore) checks.

use std::sync::Arc;

use super::fixtures::{base_time, fresh_workspace, random_hash};
use crate::storage::{Storage, StorageErrorKind};

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
