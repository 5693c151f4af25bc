//! The [`ConnectStore`](crate::storage::ConnectStore) checks of scoped keys.

use std::sync::Arc;

use time::Duration;

use super::fixtures::{
    app_record, base_time, connected, customer_record, fresh_workspace, grant_fixture, insert,
    random_hash, rng, scoped_key_record,
};
use crate::model::ids::GrantId;
use crate::storage::ScopedKeyRecord;
use crate::storage::{Storage, StorageErrorKind};

/// Scoped keys list by app and customer, revoke only by their own app, once.
pub async fn scoped_keys_insert_list_and_revoke<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let ws = app.app.workspace_id.clone();
    let other_app = app_record(&ws, base_time(), Some(random_hash()));
    insert(&*store, &other_app).await;
    let now = base_time();
    let customer = customer_record(&app, "ref-k", now);
    let (grant, _) = connected(&*store, &app, &customer, now).await;
    // The other app's customer of the same reference id is its own.
    let other_customer = customer_record(&other_app, "ref-k", now);
    let (other_grant, _) = connected(&*store, &other_app, &other_customer, now).await;
    let k1 = scoped_key_record(&app, &customer, &grant.id, now);
    let k2 = scoped_key_record(&app, &customer, &grant.id, now + Duration::seconds(1));
    let k3 = scoped_key_record(
        &other_app,
        &other_customer,
        &other_grant.id,
        now + Duration::seconds(2),
    );
    for key in [&k1, &k2, &k3] {
        assert_eq!(
            store.insert_scoped_key(key).await.unwrap(),
            crate::storage::ScopedKeyInsert::Inserted
        );
    }
    assert_eq!(
        store.insert_scoped_key(&k1).await.unwrap_err().kind(),
        StorageErrorKind::Conflict
    );
    let mine = store
        .list_scoped_keys(&ws, Some(&app.app.id), None, 0, 10)
        .await
        .unwrap();
    assert_eq!(
        mine.items.iter().map(|k| k.id.clone()).collect::<Vec<_>>(),
        [k1.id.clone(), k2.id.clone()]
    );
    assert_eq!(mine.items[0], k1, "read back as written");
    let theirs = store
        .list_scoped_keys(&ws, None, Some(&customer.id), 0, 10)
        .await
        .unwrap();
    assert_eq!(theirs.total, 2);
    assert_eq!(
        store
            .list_scoped_keys(&fresh_workspace(), None, None, 0, 10)
            .await
            .unwrap()
            .total,
        0
    );

    assert!(
        !store
            .revoke_scoped_key(&ws, &other_app.app.id, &k1.id, now)
            .await
            .unwrap(),
        "another app's key"
    );
    assert!(
        store
            .revoke_scoped_key(&ws, &app.app.id, &k1.id, now)
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_scoped_key(&ws, &app.app.id, &k1.id, now)
            .await
            .unwrap(),
        "already revoked"
    );
    assert_eq!(
        store
            .get_scoped_key(&k1.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(now)
    );
    assert_eq!(
        store
            .revoke_customer_scoped_keys(&ws, &customer.id, now)
            .await
            .unwrap(),
        1,
        "k2 (k1 was revoked already)"
    );
    assert!(
        store
            .get_scoped_key(&k3.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none(),
        "another customer's key stays"
    );
    assert_eq!(
        store
            .revoke_customer_scoped_keys(&ws, &other_customer.id, now)
            .await
            .unwrap(),
        1
    );
    assert!(
        store
            .get_scoped_key(&k3.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
}

/// A scoped key is stored only under a live grant held by an active
/// connection of its app and customer, with its app present: a key for a
/// revoked connection, a deleted customer, a deleted app, a revoked grant,
/// a grant of another customer's connection or an unknown grant writes
/// nothing.
pub async fn scoped_keys_insert_only_under_a_live_connection<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let ws = app.app.workspace_id.clone();
    let now = base_time();
    let absent = |key: ScopedKeyRecord| {
        let store = Arc::clone(&store);
        async move { store.get_scoped_key(&key.id).await.unwrap().is_none() }
    };
    let refused = |key: ScopedKeyRecord, why: &'static str| {
        let store = Arc::clone(&store);
        async move {
            assert_eq!(
                store.insert_scoped_key(&key).await.unwrap(),
                crate::storage::ScopedKeyInsert::NoLiveGrant,
                "{why}"
            );
            assert!(
                store.get_scoped_key(&key.id).await.unwrap().is_none(),
                "{why}: nothing written"
            );
        }
    };

    let live = customer_record(&app, "mint-live", now);
    let (live_grant, _) = connected(&*store, &app, &live, now).await;
    let ok = scoped_key_record(&app, &live, &live_grant.id, now);
    assert_eq!(
        store.insert_scoped_key(&ok).await.unwrap(),
        crate::storage::ScopedKeyInsert::Inserted
    );
    assert!(!absent(ok.clone()).await);

    // Under another customer's grant, or a grant nobody holds.
    let other = customer_record(&app, "mint-other", now);
    let (other_grant, _) = connected(&*store, &app, &other, now).await;
    refused(
        scoped_key_record(&app, &live, &other_grant.id, now),
        "another customer's grant",
    )
    .await;
    refused(
        scoped_key_record(&app, &live, &GrantId::generate(&rng()).unwrap(), now),
        "an unknown grant",
    )
    .await;

    // The connection revoked.
    let revoked = customer_record(&app, "mint-revoked", now);
    let (revoked_grant, connection) = connected(&*store, &app, &revoked, now).await;
    store
        .revoke_connection(&ws, None, &connection.id, now)
        .await
        .unwrap()
        .unwrap();
    refused(
        scoped_key_record(&app, &revoked, &revoked_grant.id, now),
        "a revoked connection",
    )
    .await;

    // The grant alone revoked (RFC 7009: a refresh token's revocation).
    let grant_only = customer_record(&app, "mint-grant", now);
    let (grant, _) = connected(&*store, &app, &grant_only, now).await;
    assert!(store.revoke_grant(&grant.id, now).await.unwrap().is_some());
    refused(
        scoped_key_record(&app, &grant_only, &grant.id, now),
        "a revoked grant",
    )
    .await;

    // The customer deleted.
    let deleted = customer_record(&app, "mint-deleted", now);
    let (deleted_grant, _) = connected(&*store, &app, &deleted, now).await;
    store
        .delete_customer(&ws, None, &deleted.id, now)
        .await
        .unwrap()
        .unwrap();
    refused(
        scoped_key_record(&app, &deleted, &deleted_grant.id, now),
        "a deleted customer",
    )
    .await;

    // The app deleted.
    let doomed = app_record(&ws, now, Some(random_hash()));
    insert(&*store, &doomed).await;
    let doomed_customer = customer_record(&doomed, "mint-app", now);
    let (doomed_grant, _) = connected(&*store, &doomed, &doomed_customer, now).await;
    assert!(store.delete_app(&ws, &doomed.app.id).await.unwrap());
    refused(
        scoped_key_record(&doomed, &doomed_customer, &doomed_grant.id, now),
        "a deleted app",
    )
    .await;
}

/// Minting races revocation: of concurrent inserts of keys under one
/// connection and the connection's revocation, every key that was stored
/// reads as revoked afterwards (none outlives its connection).
pub async fn scoped_keys_minted_during_a_revocation_die_with_it<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let ws = app.app.workspace_id.clone();
    let now = base_time();
    let customer = customer_record(&app, "mint-race", now);
    let (grant, connection) = connected(&*store, &app, &customer, now).await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let store = Arc::clone(&store);
        let key = scoped_key_record(&app, &customer, &grant.id, now);
        let (ws, id) = (ws.clone(), connection.id.clone());
        tasks.push(tokio::spawn(async move {
            if i == 6 {
                store.revoke_connection(&ws, None, &id, now).await.unwrap();
                None
            } else {
                let outcome = store.insert_scoped_key(&key).await.unwrap();
                Some((key.id, outcome))
            }
        }));
    }
    let mut stored = Vec::new();
    for task in tasks {
        if let Some((id, crate::storage::ScopedKeyInsert::Inserted)) = task.await.unwrap() {
            stored.push(id);
        }
    }
    for id in stored {
        let key = store.get_scoped_key(&id).await.unwrap().unwrap();
        assert!(key.revoked_at.is_some(), "a key outlived its connection");
    }
}

/// A key reads as revoked as soon as its grant is, however the grant was
/// revoked (here directly, as RFC 7009 revocation of a refresh token or a
/// refresh token's reuse does), in `get_scoped_key` (verification's one
/// read) and in the listing, at the grant's revocation time.
pub async fn scoped_keys_read_revoked_with_their_grant<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let ws = app.app.workspace_id.clone();
    let now = base_time();
    let customer = customer_record(&app, "grant-dies", now);
    let (grant, _) = connected(&*store, &app, &customer, now).await;
    let key = scoped_key_record(&app, &customer, &grant.id, now);
    store.insert_scoped_key(&key).await.unwrap();
    assert_eq!(
        store
            .get_scoped_key(&key.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );
    let later = now + Duration::minutes(5);
    assert!(
        store
            .revoke_grant(&grant.id, later)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store
            .get_scoped_key(&key.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(later),
        "verification's read sees the grant's revocation"
    );
    let listed = store
        .list_scoped_keys(&ws, Some(&app.app.id), None, 0, 10)
        .await
        .unwrap();
    assert_eq!(listed.items[0].revoked_at, Some(later));
}
