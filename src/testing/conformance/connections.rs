//! The [`ConnectStore`](crate::storage::ConnectStore) checks of connections:
//! attachment, listing, tags, revocation.

use std::sync::Arc;

use time::Duration;

use super::fixtures::{
    app_record, approve_connect, base_time, browser_connected, connect_approval, connected,
    customer_record, fresh_workspace, grant_fixture, insert, random_hash, rng, scoped_key_record,
    token_record,
};
use crate::model::ids::{ConnectionId, CustomerId};
use crate::storage::ConnectionStatus;
use crate::storage::{Storage, StorageErrorKind, TokenKind};

/// Revoking a connection revokes the keys minted under its grant and no
/// other: a second connection of the same app and customer (another linked
/// account) keeps its keys.
pub async fn connections_revoke_only_their_own_keys<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let ws = app.app.workspace_id.clone();
    let now = base_time();
    let customer = customer_record(&app, "two-accounts", now);
    let mut grants = Vec::new();
    let mut ids = Vec::new();
    for (i, account) in ["acct-1", "acct-2"].into_iter().enumerate() {
        let at = now + Duration::seconds(i64::try_from(i).unwrap());
        let (grant, code, mut connect) = connect_approval(&app, &customer, true, at);
        connect.connection.linked = Some(crate::storage::LinkedAccount::new(
            "tesla", account, account,
        ));
        let key = connect.scoped_key.clone().unwrap();
        ids.push(connect.connection.id.clone());
        approve_connect(&*store, &app, (grant.clone(), code, connect), at).await;
        grants.push((grant, key));
    }
    let extra = scoped_key_record(&app, &customer, &grants[0].0.id, now);
    assert_eq!(
        store.insert_scoped_key(&extra).await.unwrap(),
        crate::storage::ScopedKeyInsert::Inserted
    );
    let later = now + Duration::minutes(1);
    store
        .revoke_connection(&ws, None, &ids[0], later)
        .await
        .unwrap()
        .expect("active");
    for id in [&grants[0].1.id, &extra.id] {
        let key = store.get_scoped_key(id).await.unwrap().unwrap();
        assert_eq!(key.revoked_at, Some(later), "the revoked connection's keys");
    }
    let kept = store
        .get_scoped_key(&grants[1].1.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.revoked_at, None, "the other connection's key lives");
    let listed = store
        .list_scoped_keys(&ws, Some(&app.app.id), Some(&customer.id), 0, 10)
        .await
        .unwrap();
    assert_eq!(
        listed
            .items
            .iter()
            .filter(|k| k.revoked_at.is_none())
            .map(|k| k.id.clone())
            .collect::<Vec<_>>(),
        [grants[1].1.id.clone()]
    );
}

/// Attaching a browser-created connection to a customer of its app:
/// refused (nothing changed) for an unknown connection, another app's or
/// workspace's, one the backend made, a revoked one, another app's or an
/// unknown customer, and a customer with an active connection for the same
/// linked account; by a reference id the app has no customer for, the
/// connection's own customer takes it; by a customer's id, the connection
/// moves there and its former customer is deleted; either way its keys
/// follow the customer while keeping their subject, and only once.
pub async fn connections_attach_to_a_customer_of_their_app<S: Storage>(store: Arc<S>) {
    use crate::storage::{AttachTarget, ConnectionAttach};

    let app = grant_fixture(&*store).await;
    let ws = app.app.workspace_id.clone();
    let other_app = app_record(&ws, base_time(), Some(random_hash()));
    insert(&*store, &other_app).await;
    let now = base_time();
    let a = Some(&app.app.id);
    let backend = customer_record(&app, "backend", now);
    let (_, backend_connection) = connected(&*store, &app, &backend, now).await;
    let foreign = customer_record(&other_app, "foreign", now);
    connected(&*store, &other_app, &foreign, now).await;
    let (own, connection, key) = browser_connected(&*store, &app, "generated-1", now).await;
    let at = now + Duration::minutes(1);
    let reference = |r: &str| AttachTarget::Reference(r.to_owned());

    for (workspace, app_id, id, to, expected, why) in [
        (
            fresh_workspace(),
            None,
            connection.id.clone(),
            reference("u-1"),
            ConnectionAttach::NotFound,
            "another workspace",
        ),
        (
            ws.clone(),
            Some(&other_app.app.id),
            connection.id.clone(),
            reference("u-1"),
            ConnectionAttach::NotFound,
            "another app",
        ),
        (
            ws.clone(),
            None,
            ConnectionId::generate(&rng()).unwrap(),
            reference("u-1"),
            ConnectionAttach::NotFound,
            "unknown",
        ),
        (
            ws.clone(),
            None,
            backend_connection.id.clone(),
            reference("u-1"),
            ConnectionAttach::NotAttachable,
            "made by the backend",
        ),
        (
            ws.clone(),
            a,
            connection.id.clone(),
            AttachTarget::Customer(foreign.id.clone()),
            ConnectionAttach::UnknownCustomer,
            "another app's customer",
        ),
        (
            ws.clone(),
            a,
            connection.id.clone(),
            AttachTarget::Customer(CustomerId::generate(&rng()).unwrap()),
            ConnectionAttach::UnknownCustomer,
            "an unknown customer",
        ),
        (
            ws.clone(),
            a,
            connection.id.clone(),
            AttachTarget::Customer(backend.id.clone()),
            ConnectionAttach::AlreadyConnected,
            "the customer's active connection (no link) is in the way",
        ),
        (
            ws.clone(),
            a,
            connection.id.clone(),
            reference("backend"),
            ConnectionAttach::AlreadyConnected,
            "the same, by reference id",
        ),
    ] {
        assert_eq!(
            store
                .attach_connection(&workspace, app_id, &id, &to, at)
                .await
                .unwrap(),
            expected,
            "{why}"
        );
    }
    assert_eq!(
        store
            .get_connection(&ws, None, &connection.id)
            .await
            .unwrap(),
        Some(connection.clone()),
        "nothing changed"
    );
    assert_eq!(
        store.get_customer(&ws, None, &own.id).await.unwrap(),
        Some(own.clone())
    );

    // By a reference id the app has no customer for: its own customer
    // takes it.
    let ConnectionAttach::Attached(attached) = store
        .attach_connection(&ws, a, &connection.id, &reference("u-1"), at)
        .await
        .unwrap()
    else {
        panic!("attached")
    };
    assert_eq!(attached.customer_id, own.id);
    assert_eq!(attached.reference_id, "u-1");
    assert_eq!(attached.attached_at, Some(at));
    assert_eq!(attached.updated_at, at);
    assert_eq!(attached.grant_id, connection.grant_id, "same grant");
    assert_eq!(
        store
            .get_connection(&ws, None, &connection.id)
            .await
            .unwrap(),
        Some(*attached.clone())
    );
    let renamed = store
        .find_customer(&ws, &app.app.id, "u-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (renamed.id.clone(), renamed.info),
        (own.id.clone(), own.info.clone())
    );
    assert!(
        store
            .find_customer(&ws, &app.app.id, "generated-1")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.find_connection(&app.app.id, "u-1").await.unwrap(),
        Some(*attached)
    );
    let key_now = store.get_scoped_key(&key.id).await.unwrap().unwrap();
    assert_eq!(
        key_now.reference_id, "generated-1",
        "the key's subject stays"
    );
    assert_eq!(key_now.revoked_at, None);
    assert_eq!(
        store
            .attach_connection(&ws, a, &connection.id, &reference("u-2"), at)
            .await
            .unwrap(),
        ConnectionAttach::NotAttachable,
        "once"
    );

    // By a customer's id (its own connection revoked first): the
    // connection moves there and its former customer goes.
    store
        .revoke_connection(&ws, None, &backend_connection.id, at)
        .await
        .unwrap()
        .unwrap();
    let (second_own, second, second_key) =
        browser_connected(&*store, &app, "generated-2", now).await;
    let ConnectionAttach::Attached(moved) = store
        .attach_connection(
            &ws,
            None,
            &second.id,
            &AttachTarget::Customer(backend.id.clone()),
            at,
        )
        .await
        .unwrap()
    else {
        panic!("attached")
    };
    assert_eq!(
        (moved.customer_id.clone(), moved.reference_id.as_str()),
        (backend.id.clone(), "backend")
    );
    assert!(
        store
            .get_customer(&ws, None, &second_own.id)
            .await
            .unwrap()
            .is_none(),
        "the browser-created customer went"
    );
    assert_eq!(
        store.get_customer(&ws, None, &backend.id).await.unwrap(),
        Some(backend.clone()),
        "the customer's details are unchanged"
    );
    let key_now = store.get_scoped_key(&second_key.id).await.unwrap().unwrap();
    assert_eq!(key_now.customer_id, backend.id, "the key follows");
    assert_eq!(key_now.reference_id, "generated-2", "with its own subject");
    assert_eq!(
        store
            .list_scoped_keys(&ws, None, Some(&backend.id), 0, 10)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|k| k.id)
            .collect::<Vec<_>>(),
        [second_key.id.clone()]
    );

    // A revoked browser-created connection is not attached.
    let (_, third, _) = browser_connected(&*store, &app, "generated-3", now).await;
    store
        .revoke_connection(&ws, None, &third.id, at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store
            .attach_connection(&ws, a, &third.id, &reference("u-3"), at)
            .await
            .unwrap(),
        ConnectionAttach::NotAttachable
    );
    assert!(
        store
            .find_customer(&ws, &app.app.id, "u-3")
            .await
            .unwrap()
            .is_none()
    );
}

/// Of 10 concurrent attachments of one connection (each to a reference id
/// of its own), exactly one applies; the others are refused (or fail with
/// `Conflict`) and write nothing: one customer, one reference id.
pub async fn connections_concurrent_attachments_have_one_winner<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let ws = app.app.workspace_id.clone();
    let now = base_time();
    let (own, connection, _) = browser_connected(&*store, &app, "generated", now).await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let store = Arc::clone(&store);
        let (ws, id) = (ws.clone(), connection.id.clone());
        tasks.push(tokio::spawn(async move {
            let to = crate::storage::AttachTarget::Reference(format!("race-{i}"));
            store.attach_connection(&ws, None, &id, &to, now).await
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(crate::storage::ConnectionAttach::Attached(c)) => winners.push(c.reference_id),
            Ok(crate::storage::ConnectionAttach::NotAttachable) => {}
            Err(e) => assert_eq!(e.kind(), StorageErrorKind::Conflict),
            Ok(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one attachment");
    let customer = store
        .get_customer(&ws, None, &own.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(customer.reference_id, winners[0]);
    let all = store.list_customers(&ws, None, None, 0, 20).await.unwrap();
    assert_eq!(all.total, 1, "no customer half-written");
    let stored = store
        .get_connection(&ws, None, &connection.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.reference_id, winners[0]);
}

/// Connection listings filter by app, customer, reference id, tag,
/// provider, status and grant, oldest first, paged; a connection is read
/// only in its workspace (and of its app, when one is named).
pub async fn connections_list_and_get_filter<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let ws = app.app.workspace_id.clone();
    let now = base_time();
    let ada = customer_record(&app, "ada", now);
    let bob = customer_record(&app, "bob", now);
    let mut ids = Vec::new();
    let mut grants = Vec::new();
    for (i, (customer, linked)) in [
        (&ada, Some(("tesla", "acct-1"))),
        (&ada, Some(("enphase", "acct-2"))),
        (&bob, None),
    ]
    .into_iter()
    .enumerate()
    {
        let at = now + Duration::seconds(i64::try_from(i).unwrap());
        let (grant, code, mut connect) = connect_approval(&app, customer, true, at);
        connect.connection.linked =
            linked.map(|(p, a)| crate::storage::LinkedAccount::new(p, a, "label"));
        ids.push(connect.connection.id.clone());
        grants.push(grant.id.clone());
        approve_connect(&*store, &app, (grant, code, connect), at).await;
    }
    let list = |filter: crate::storage::ConnectionFilter| {
        let store = Arc::clone(&store);
        let ws = ws.clone();
        async move {
            let page = store.list_connections(&ws, &filter, 0, 10).await.unwrap();
            let listed: Vec<_> = page.items.into_iter().map(|c| c.id).collect();
            (page.total, listed)
        }
    };
    let filter = crate::storage::ConnectionFilter::default;
    assert_eq!(list(filter()).await, (3, ids.clone()));
    let by_provider = crate::storage::ConnectionFilter {
        provider: Some("tesla".to_owned()),
        ..filter()
    };
    assert_eq!(list(by_provider).await, (1, vec![ids[0].clone()]));
    let by_reference_and_tag = crate::storage::ConnectionFilter {
        reference_id: Some("ada".to_owned()),
        tag: Some("boston".to_owned()),
        ..filter()
    };
    assert_eq!(list(by_reference_and_tag).await, (2, ids[..2].to_vec()));
    let no_such_tag = crate::storage::ConnectionFilter {
        tag: Some("nowhere".to_owned()),
        ..filter()
    };
    assert_eq!(list(no_such_tag).await, (0, Vec::new()));
    let by_customer = crate::storage::ConnectionFilter {
        customer_id: Some(bob.id.clone()),
        app_id: Some(app.app.id.clone()),
        ..filter()
    };
    assert_eq!(list(by_customer).await, (1, vec![ids[2].clone()]));
    let by_grant = crate::storage::ConnectionFilter {
        grant_id: Some(grants[1].clone()),
        ..filter()
    };
    assert_eq!(list(by_grant).await, (1, vec![ids[1].clone()]));
    let other_app = app_record(&ws, now, Some(random_hash()));
    let by_other_app = crate::storage::ConnectionFilter {
        app_id: Some(other_app.app.id.clone()),
        ..filter()
    };
    assert_eq!(list(by_other_app).await, (0, Vec::new()));
    let paged = store.list_connections(&ws, &filter(), 2, 10).await.unwrap();
    assert_eq!((paged.total, paged.items.len()), (3, 1), "past the page");
    assert_eq!(
        store
            .list_connections(&fresh_workspace(), &filter(), 0, 10)
            .await
            .unwrap()
            .total,
        0,
        "another workspace"
    );

    let first = store.get_connection(&ws, None, &ids[0]).await.unwrap();
    let first = first.expect("found in its workspace");
    assert_eq!(
        first.linked,
        Some(crate::storage::LinkedAccount::new(
            "tesla", "acct-1", "label"
        ))
    );
    assert!(
        store
            .get_connection(&ws, Some(&app.app.id), &ids[0])
            .await
            .unwrap()
            .is_some(),
        "of its app"
    );
    assert!(
        store
            .get_connection(&ws, Some(&other_app.app.id), &ids[0])
            .await
            .unwrap()
            .is_none(),
        "of another app"
    );
    assert!(
        store
            .get_connection(&fresh_workspace(), None, &ids[0])
            .await
            .unwrap()
            .is_none(),
        "of another workspace"
    );
}

/// Tag edits apply as [`TagEdit::apply`](crate::storage::TagEdit::apply) says,
/// refuse a result over the maximum (writing nothing) and an unknown or
/// another app's connection; ten concurrent edits each adding a tag lose
/// none.
pub async fn connections_tag_edits_apply_atomically<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let ws = app.app.workspace_id.clone();
    let now = base_time();
    let customer = customer_record(&app, "tags", now);
    let (_, connection) = connected(&*store, &app, &customer, now).await;
    let id = connection.id.clone();
    let strings = |tags: &[&str]| tags.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>();
    // (replace, add, remove)
    type Case<'a> = (Option<&'a [&'a str]>, &'a [&'a str], &'a [&'a str]);
    let cases: [Case<'_>; 4] = [
        (None, &["x", "y", "x", "boston"], &[]),
        (None, &["z"], &["x", "q"]),
        (Some(&["b", "a", "b"]), &["a", "c"], &["c"]),
        (Some(&[]), &[], &[]),
    ];
    let mut tags = connection.tags.clone();
    for (i, (replace, add, remove)) in cases.into_iter().enumerate() {
        let edit = crate::storage::TagEdit {
            replace: replace.map(strings),
            add: strings(add),
            remove: strings(remove),
            max: 10,
        };
        let expected = edit.apply(&tags).unwrap();
        let later = now + Duration::minutes(i64::try_from(i).unwrap() + 1);
        match store
            .update_connection_tags(&ws, Some(&app.app.id), &id, &edit, later)
            .await
            .unwrap()
        {
            crate::storage::TagUpdate::Updated(updated) => {
                assert_eq!(updated.tags, expected, "{edit:?} on {tags:?}");
                assert_eq!(updated.updated_at, later);
                tags = updated.tags;
            }
            other => panic!("{other:?}"),
        }
    }
    let stored = store.get_connection(&ws, None, &id).await.unwrap().unwrap();
    assert_eq!(stored.tags, tags, "stored as answered");
    let too_many = crate::storage::TagEdit {
        add: strings(&["1", "2"]),
        max: 1,
        ..crate::storage::TagEdit::default()
    };
    assert_eq!(
        store
            .update_connection_tags(&ws, None, &id, &too_many, now)
            .await
            .unwrap(),
        crate::storage::TagUpdate::TooMany
    );
    let unchanged = store.get_connection(&ws, None, &id).await.unwrap().unwrap();
    assert_eq!(unchanged.tags, tags, "a refused edit writes nothing");
    let other_app = app_record(&ws, now, Some(random_hash()));
    assert_eq!(
        store
            .update_connection_tags(&ws, Some(&other_app.app.id), &id, &too_many, now)
            .await
            .unwrap(),
        crate::storage::TagUpdate::NotFound
    );
    assert_eq!(
        store
            .update_connection_tags(&fresh_workspace(), None, &id, &too_many, now)
            .await
            .unwrap(),
        crate::storage::TagUpdate::NotFound
    );

    // Ten concurrent edits each add their own tag: none is lost.
    let mut tasks = Vec::new();
    for i in 0..10 {
        let store = Arc::clone(&store);
        let (ws, id) = (ws.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let edit = crate::storage::TagEdit {
                add: vec![format!("t{i}")],
                max: 20,
                ..crate::storage::TagEdit::default()
            };
            store
                .update_connection_tags(&ws, None, &id, &edit, now)
                .await
                .unwrap()
        }));
    }
    for task in tasks {
        assert!(matches!(
            task.await.unwrap(),
            crate::storage::TagUpdate::Updated(_)
        ));
    }
    let raced = store.get_connection(&ws, None, &id).await.unwrap().unwrap();
    assert_eq!(raced.tags.len(), 10, "t0..t9, none lost");
}

/// Revoking a connection revokes it once, with its grant (its tokens stop
/// working) and the keys under that grant; it leaves the active index
/// (`find_connection`) and lists as revoked; another workspace or app
/// cannot revoke it.
pub async fn connections_revoke_cascades_once<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let ws = app.app.workspace_id.clone();
    let now = base_time();
    let customer = customer_record(&app, "revoke-me", now);
    let (grant, code, connect) = connect_approval(&app, &customer, true, now);
    let key = connect.scoped_key.clone().unwrap();
    let id = connect.connection.id.clone();
    approve_connect(&*store, &app, (grant.clone(), code.clone(), connect), now).await;
    let access = token_record(&grant, TokenKind::Access, now);
    store
        .redeem_code(
            &code.hash,
            std::slice::from_ref(&access),
            now + Duration::hours(1),
            now,
        )
        .await
        .unwrap();
    let other_app = app_record(&ws, now, Some(random_hash()));
    assert!(
        store
            .revoke_connection(&ws, Some(&other_app.app.id), &id, now)
            .await
            .unwrap()
            .is_none(),
        "another app's"
    );
    assert!(
        store
            .revoke_connection(&fresh_workspace(), None, &id, now)
            .await
            .unwrap()
            .is_none(),
        "another workspace's"
    );
    let later = now + Duration::minutes(2);
    let revoked = store
        .revoke_connection(&ws, Some(&app.app.id), &id, later)
        .await
        .unwrap()
        .expect("active");
    assert_eq!(
        (revoked.status, revoked.updated_at),
        (ConnectionStatus::Revoked, later)
    );
    let stored_grant = store.get_grant(&grant.id).await.unwrap().unwrap();
    assert_eq!(stored_grant.revoked_at, Some(later));
    assert!(
        store.get_token(&access.hash).await.unwrap().is_none(),
        "its tokens stop working"
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
            .revoke_connection(&ws, None, &id, later)
            .await
            .unwrap()
            .is_none(),
        "already revoked"
    );
    assert!(
        store
            .find_connection(&app.app.id, "revoke-me")
            .await
            .unwrap()
            .is_none()
    );
    let revoked_only = crate::storage::ConnectionFilter {
        status: Some(ConnectionStatus::Revoked),
        ..crate::storage::ConnectionFilter::default()
    };
    let listed = store
        .list_connections(&ws, &revoked_only, 0, 10)
        .await
        .unwrap();
    assert_eq!(
        listed
            .items
            .iter()
            .map(|c| c.id.clone())
            .collect::<Vec<_>>(),
        [id]
    );
}

/// Deleting an app removes its connections, scoped keys and customers
/// (customers belong to their app).
pub async fn apps_delete_cascades_to_connections_and_keys<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let customer = customer_record(&app, "ref-d", now);
    let approval = connect_approval(&app, &customer, true, now);
    let key = approval.2.scoped_key.clone().unwrap();
    approve_connect(&*store, &app, approval, now).await;
    assert!(
        store
            .delete_app(&app.app.workspace_id, &app.app.id)
            .await
            .unwrap()
    );
    assert!(
        store
            .find_connection(&app.app.id, "ref-d")
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.get_scoped_key(&key.id).await.unwrap().is_none());
    assert!(
        store
            .get_customer(&app.app.workspace_id, None, &customer.id)
            .await
            .unwrap()
            .is_none(),
        "the app's customer goes with it"
    );
    assert!(
        store
            .find_customer(&app.app.workspace_id, &app.app.id, "ref-d")
            .await
            .unwrap()
            .is_none()
    );
}
