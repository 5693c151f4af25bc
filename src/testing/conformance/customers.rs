//! The [`ConnectStore`](crate::storage::ConnectStore) checks of customers.

use std::sync::Arc;

use time::Duration;

use super::fixtures::{
    app_record, approve_connect, base_time, connect_approval, connected, customer_record,
    fresh_workspace, grant_fixture, insert, random_hash, session_record,
};
use crate::storage::{ConnectionStatus, CustomerRecord};
use crate::storage::{SessionDecision, Storage, StorageErrorKind};

/// Customers list by creation and by reference id; deleting one revokes its
/// connections, their grants and its scoped keys.
pub async fn customers_list_and_delete_revokes_everything<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let ws = &app.app.workspace_id;
    let a = customer_record(&app, "ref-a", now);
    let b = customer_record(&app, "ref-b", now + Duration::seconds(1));
    let (grant_a, code_a, connect_a) = connect_approval(&app, &a, true, now);
    let key_a = connect_a.scoped_key.clone().unwrap();
    let connect_a_id = connect_a.connection.id.clone();
    approve_connect(&*store, &app, (grant_a.clone(), code_a, connect_a), now).await;
    approve_connect(
        &*store,
        &app,
        connect_approval(&app, &b, false, now),
        now + Duration::seconds(1),
    )
    .await;
    let all = store.list_customers(ws, None, None, 0, 10).await.unwrap();
    assert_eq!(all.total, 2);
    assert_eq!(
        all.items
            .iter()
            .map(|c| c.reference_id.as_str())
            .collect::<Vec<_>>(),
        ["ref-a", "ref-b"]
    );
    let one = store
        .list_customers(ws, Some("ref-b"), None, 0, 10)
        .await
        .unwrap();
    assert_eq!((one.total, one.items[0].id.clone()), (1, b.id.clone()));
    assert_eq!(
        store
            .list_customers(ws, None, None, 1, 1)
            .await
            .unwrap()
            .items[0]
            .id,
        b.id
    );

    assert!(
        store
            .delete_customer(&fresh_workspace(), None, &a.id, now)
            .await
            .unwrap()
            .is_none(),
        "other workspace"
    );
    let revoked = store.delete_customer(ws, None, &a.id, now).await.unwrap();
    let revoked = revoked.expect("deleted");
    assert_eq!(
        revoked
            .iter()
            .map(|c| (c.id.clone(), c.status))
            .collect::<Vec<_>>(),
        [(connect_a_id.clone(), ConnectionStatus::Revoked)],
        "the connections it revoked"
    );
    assert!(store.get_customer(ws, None, &a.id).await.unwrap().is_none());
    assert!(
        store
            .find_connection(&app.app.id, "ref-a")
            .await
            .unwrap()
            .is_none(),
        "connection revoked"
    );
    assert!(
        store
            .get_grant(&grant_a.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some(),
        "grant revoked"
    );
    assert!(
        store
            .get_scoped_key(&key_a.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some(),
        "key revoked"
    );
    assert!(
        store
            .find_connection(&app.app.id, "ref-b")
            .await
            .unwrap()
            .is_some(),
        "others untouched"
    );
    assert!(
        store
            .delete_customer(ws, None, &a.id, now)
            .await
            .unwrap()
            .is_none(),
        "second delete"
    );
}

/// Customers belong to the app whose approval created them. Two apps of a
/// workspace each have their own customer for one reference id; an app
/// reads, finds, lists and deletes only its own; an approval naming
/// another app's customer (by its id, or the app of the connection and of
/// the customer disagreeing) is a `Conflict` that writes nothing; the
/// workspace's view (no app) sees all; deleting an app deletes only its
/// own customers.
pub async fn customers_belong_to_their_app<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let ws = app.app.workspace_id.clone();
    let other_app = app_record(&ws, base_time(), Some(random_hash()));
    insert(&*store, &other_app).await;
    let now = base_time();
    let mine = customer_record(&app, "shared", now);
    let theirs = customer_record(&other_app, "shared", now + Duration::seconds(1));
    let (grant, code, connect) = connect_approval(&app, &mine, true, now);
    let key = connect.scoped_key.clone().unwrap();
    let my_connection = connect.connection.clone();
    approve_connect(&*store, &app, (grant.clone(), code, connect), now).await;
    let (their_grant, their_connection) =
        connected(&*store, &other_app, &theirs, now + Duration::seconds(1)).await;

    // Reads: each app its own, the workspace both.
    let a = Some(&app.app.id);
    let b = Some(&other_app.app.id);
    assert_eq!(
        store.get_customer(&ws, a, &mine.id).await.unwrap(),
        Some(mine.clone())
    );
    assert!(
        store
            .get_customer(&ws, b, &mine.id)
            .await
            .unwrap()
            .is_none(),
        "another app's customer is not found"
    );
    assert_eq!(
        store
            .find_customer(&ws, &other_app.app.id, "shared")
            .await
            .unwrap(),
        Some(theirs.clone()),
        "one reference id, one customer per app"
    );
    assert_eq!(
        store
            .find_customer(&ws, &app.app.id, "shared")
            .await
            .unwrap(),
        Some(mine.clone())
    );
    let ids = |listing: crate::storage::Listing<CustomerRecord>| {
        (
            listing.total,
            listing.items.into_iter().map(|c| c.id).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        ids(store.list_customers(&ws, None, a, 0, 10).await.unwrap()),
        (1, vec![mine.id.clone()])
    );
    assert_eq!(
        ids(store
            .list_customers(&ws, Some("shared"), b, 0, 10)
            .await
            .unwrap()),
        (1, vec![theirs.id.clone()])
    );
    assert_eq!(
        ids(store.list_customers(&ws, None, None, 0, 10).await.unwrap()),
        (2, vec![mine.id.clone(), theirs.id.clone()])
    );
    assert_eq!(
        ids(store
            .list_customers(&ws, Some("shared"), None, 0, 10)
            .await
            .unwrap()),
        (2, vec![mine.id.clone(), theirs.id.clone()])
    );
    assert_eq!(
        store
            .list_customers(&fresh_workspace(), None, a, 0, 10)
            .await
            .unwrap()
            .total,
        0,
        "an app of another workspace"
    );

    // An approval of the other app reaching this app's customer: by its id
    // (the customer record as the other app would write it), or with the
    // customer and the connection of different apps.
    let mut hijack = mine.clone();
    hijack.app_id = other_app.app.id.clone();
    hijack.reference_id = "hijack".to_owned();
    hijack.info.first_name = Some("Mallory".to_owned());
    let (g1, c1, x1) = connect_approval(&other_app, &hijack, true, now);
    let mut mixed = mine.clone();
    mixed.info.first_name = Some("Mallory".to_owned());
    let (g2, c2, x2) = connect_approval(&other_app, &mixed, false, now);
    for (grant, code, connect, why) in [
        (g1, c1, x1, "another app's customer id"),
        (
            g2,
            c2,
            x2,
            "a customer of another app than the connection's",
        ),
    ] {
        let key = connect.scoped_key.clone();
        let session = session_record(&other_app, now);
        store.insert_session(&session).await.unwrap();
        let decision = SessionDecision::Approve {
            grant: Box::new(grant.clone()),
            code: Box::new(code.clone()),
            connect: Some(Box::new(connect)),
        };
        let err = store
            .complete_session(&session.hash, &decision, now)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), StorageErrorKind::Conflict, "{why}");
        assert!(store.get_grant(&grant.id).await.unwrap().is_none(), "{why}");
        assert!(store.get_code(&code.hash).await.unwrap().is_none(), "{why}");
        if let Some(key) = key {
            assert!(store.get_scoped_key(&key.id).await.unwrap().is_none());
        }
    }
    assert_eq!(
        store.get_customer(&ws, None, &mine.id).await.unwrap(),
        Some(mine.clone()),
        "unchanged"
    );
    assert_eq!(
        store
            .get_connection(&ws, None, &their_connection.id)
            .await
            .unwrap()
            .unwrap()
            .grant_id,
        their_grant.id,
        "the other app's connection is as it was"
    );

    // Deleting: not another app's; the own app's takes its connections.
    assert!(
        store
            .delete_customer(&ws, b, &mine.id, now)
            .await
            .unwrap()
            .is_none(),
        "another app's customer"
    );
    assert_eq!(
        store
            .get_connection(&ws, None, &my_connection.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        ConnectionStatus::Active
    );
    let later = now + Duration::minutes(1);
    let revoked = store
        .delete_customer(&ws, a, &mine.id, later)
        .await
        .unwrap()
        .expect("its own");
    assert_eq!(
        revoked.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        [my_connection.id.clone()]
    );
    assert_eq!(
        store
            .get_scoped_key(&key.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(later)
    );
    assert!(
        store
            .get_grant(&grant.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    assert_eq!(
        store.get_customer(&ws, b, &theirs.id).await.unwrap(),
        Some(theirs.clone()),
        "the other app's customer stays"
    );

    // Deleting the other app deletes its customers, and only those.
    let kept = customer_record(&app, "kept", later);
    connected(&*store, &app, &kept, later).await;
    assert!(store.delete_app(&ws, &other_app.app.id).await.unwrap());
    assert!(
        store
            .get_customer(&ws, None, &theirs.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        ids(store.list_customers(&ws, None, None, 0, 10).await.unwrap()),
        (1, vec![kept.id.clone()])
    );
    assert_eq!(
        store
            .list_customers(&ws, None, b, 0, 10)
            .await
            .unwrap()
            .total,
        0
    );
}
