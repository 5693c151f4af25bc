//! The [`AppStore`](crate::storage::AppStore) checks.

use std::sync::Arc;

use time::Duration;

use super::fixtures::{
    app_record, base_time, fresh_origin, fresh_workspace, insert, random_hash, rng,
};
use crate::model::ids::AppId;
use crate::model::scope::ScopeSet;
use crate::storage::{AppChanges, AppRecord, SecretRotation, Storage, StorageErrorKind};

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

/// The listing's total stays exact when apps are inserted and deleted
/// concurrently (a backend that keeps a count must move it in the same
/// atomic step as the insert or delete): conflicting inserts and repeated
/// deletes count nothing, another workspace's changes count nothing, and
/// the total always equals the apps a full listing returns.
pub async fn apps_list_total_stays_exact_under_concurrent_inserts_and_deletes<S: Storage>(
    store: Arc<S>,
) {
    let ws = fresh_workspace();
    let other = fresh_workspace();
    let t0 = base_time();
    let mut existing = Vec::new();
    for i in 0..20 {
        let record = app_record(&ws, t0 + Duration::milliseconds(i), None);
        insert(&*store, &record).await;
        existing.push(record);
    }
    let fresh: Vec<AppRecord> = (0..30)
        .map(|i| {
            app_record(
                &ws,
                t0 + Duration::seconds(1) + Duration::milliseconds(i),
                None,
            )
        })
        .collect();
    let mut tasks = Vec::new();
    for record in fresh.clone() {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store.insert_app(&record).await.unwrap();
            true
        }));
    }
    // Each of the first ten deleted twice at once: one delete each wins.
    for record in existing.iter().take(10) {
        for _ in 0..2 {
            let (store, record) = (Arc::clone(&store), record.clone());
            tasks.push(tokio::spawn(async move {
                store
                    .delete_app(&record.app.workspace_id, &record.app.id)
                    .await
                    .unwrap()
            }));
        }
    }
    // Duplicates of apps that exist: conflicts, counting nothing.
    for record in existing.iter().skip(10).take(5) {
        let (store, record) = (Arc::clone(&store), record.clone());
        tasks.push(tokio::spawn(async move {
            let err = store.insert_app(&record).await.unwrap_err();
            assert_eq!(err.kind(), StorageErrorKind::Conflict);
            false
        }));
    }
    // Another workspace's inserts and deletes.
    for i in 0..5 {
        let store = Arc::clone(&store);
        let record = app_record(&other, t0 + Duration::milliseconds(i), None);
        tasks.push(tokio::spawn(async move {
            store.insert_app(&record).await.unwrap();
            store
                .delete_app(&record.app.workspace_id, &record.app.id)
                .await
                .unwrap()
        }));
    }
    let mut deletes_won = 0;
    for task in tasks {
        deletes_won += u64::from(task.await.unwrap());
    }
    // 30 inserts and 10 deletes won (plus the other workspace's 5 deletes).
    assert_eq!(deletes_won, 30 + 10 + 5);
    for record in existing.iter().take(10) {
        assert!(store.get_app(&ws, &record.app.id).await.unwrap().is_none());
    }
    let expected = 20 + 30 - 10;
    let listing = store.list_apps(&ws, 0, 100).await.unwrap();
    assert_eq!(listing.total, expected, "the total after the storm");
    assert_eq!(listing.items.len() as u64, expected, "a full listing");
    let page = store.list_apps(&ws, 35, 10).await.unwrap();
    assert_eq!((page.total, page.items.len()), (expected, 5));
    let other_listing = store.list_apps(&other, 0, 100).await.unwrap();
    assert_eq!((other_listing.total, other_listing.items.len()), (0, 0));
    // And on: deleting everything brings it to zero.
    for app in &listing.items {
        assert!(store.delete_app(&ws, &app.id).await.unwrap());
    }
    let listing = store.list_apps(&ws, 0, 100).await.unwrap();
    assert_eq!((listing.total, listing.items.len()), (0, 0));
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
        allowed_origins: None,
        logo_uri: Some(None),
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
    expected.app.logo_uri = None;
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

/// Allowed origins read back as stored, an update replaces the list, and
/// [`origin_is_allowed`](crate::storage::AppStore::origin_is_allowed) follows
/// inserts, updates and deletes, across workspaces.
pub async fn apps_allowed_origins_are_stored_and_looked_up<S: Storage>(store: Arc<S>) {
    let ws = fresh_workspace();
    let (a, b, c) = (fresh_origin(), fresh_origin(), fresh_origin());
    let mut record = app_record(&ws, base_time(), Some(random_hash()));
    record.app.allowed_origins = vec![a.clone(), b.clone()];
    insert(&*store, &record).await;
    assert_eq!(
        store.get_app(&ws, &record.app.id).await.unwrap(),
        Some(record.clone()),
        "the origins read back in order"
    );
    let mut other = app_record(&fresh_workspace(), base_time(), None);
    other.app.allowed_origins = vec![b.clone()];
    insert(&*store, &other).await;
    for (origin, expected) in [(&a, true), (&b, true), (&c, false)] {
        assert_eq!(
            store.origin_is_allowed(origin).await.unwrap(),
            expected,
            "{origin}"
        );
    }
    let changes = AppChanges {
        allowed_origins: Some(vec![c.clone()]),
        ..AppChanges::at(base_time() + Duration::seconds(1))
    };
    let updated = store
        .update_app(&ws, &record.app.id, &changes)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.app.allowed_origins, vec![c.clone()], "replaced");
    assert_eq!(updated.app.name, record.app.name, "nothing else changed");
    assert!(!store.origin_is_allowed(&a).await.unwrap(), "a is gone");
    assert!(store.origin_is_allowed(&b).await.unwrap(), "b is other's");
    assert!(store.origin_is_allowed(&c).await.unwrap(), "c is new");
    let cleared = AppChanges {
        allowed_origins: Some(Vec::new()),
        ..AppChanges::at(base_time() + Duration::seconds(2))
    };
    store
        .update_app(&ws, &record.app.id, &cleared)
        .await
        .unwrap()
        .unwrap();
    assert!(!store.origin_is_allowed(&c).await.unwrap(), "cleared");
    assert!(
        store
            .delete_app(&other.app.workspace_id, &other.app.id)
            .await
            .unwrap()
    );
    assert!(
        !store.origin_is_allowed(&b).await.unwrap(),
        "deleting the app drops its origins"
    );
}
