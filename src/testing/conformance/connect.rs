//! The [`ConnectStore`](crate::storage::ConnectStore) checks of approvals
//! and Connect sessions' steps.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use super::fixtures::{
    approve_connect, base_time, connect_approval, connect_session_record, customer_record,
    fresh_workspace, grant_and_code, grant_fixture, random_hash, session_record, token_record,
};
use crate::storage::CustomerRecord;
use crate::storage::{
    SessionCompletion, SessionDecision, SessionStatus, Storage, StorageErrorKind, TokenKind,
};

/// Approving a Connect session writes the customer, the connection and the
/// scoped key with the grant and code.
pub async fn connect_approval_writes_customer_connection_and_key<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let customer = customer_record(&app, "user-1", now);
    let approval = connect_approval(&app, &customer, true, now);
    let (grant, code, connect) = approval.clone();
    let done = approve_connect(&*store, &app, approval, now).await;
    assert!(matches!(done, SessionCompletion::Completed(_)));
    let ws = &app.app.workspace_id;
    assert_eq!(
        store.get_customer(ws, None, &customer.id).await.unwrap(),
        Some(customer.clone())
    );
    assert_eq!(
        store
            .get_customer(ws, Some(&app.app.id), &customer.id)
            .await
            .unwrap(),
        Some(customer.clone())
    );
    assert_eq!(
        store
            .find_customer(ws, &app.app.id, "user-1")
            .await
            .unwrap(),
        Some(customer.clone())
    );
    assert!(
        store
            .get_customer(&fresh_workspace(), None, &customer.id)
            .await
            .unwrap()
            .is_none(),
        "workspace-scoped"
    );
    let connection = store
        .find_connection(&app.app.id, "user-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(connection, connect.connection);
    let key = connect.scoped_key.unwrap();
    assert_eq!(
        store.get_scoped_key(&key.id).await.unwrap(),
        Some(key.clone())
    );
    assert_eq!(
        store
            .get_code(&code.hash)
            .await
            .unwrap()
            .unwrap()
            .scoped_key_id,
        Some(key.id)
    );
    assert_eq!(store.get_grant(&grant.id).await.unwrap(), Some(grant));
}

/// A second approval for the same app and reference id updates the
/// connection in place: same id, the new grant, the old grant revoked.
pub async fn connect_update_mode_replaces_the_grant_in_place<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let customer = customer_record(&app, "user-2", now);
    let first = connect_approval(&app, &customer, false, now);
    let first_grant = first.0.clone();
    let first_code = first.1.clone();
    let first_connection = first.2.connection.clone();
    approve_connect(&*store, &app, first, now).await;
    let access = token_record(&first_grant, TokenKind::Access, now);
    store
        .redeem_code(
            &first_code.hash,
            std::slice::from_ref(&access),
            now + Duration::hours(1),
            now,
        )
        .await
        .unwrap();
    assert!(store.get_token(&access.hash).await.unwrap().is_some());

    let mut updated = customer.clone();
    updated.info.email = Some("new@example.com".to_owned());
    updated.updated_at = now + Duration::minutes(1);
    let second = connect_approval(&app, &updated, false, now + Duration::minutes(1));
    let second_grant = second.0.clone();
    let done = approve_connect(&*store, &app, second, now + Duration::minutes(1)).await;
    assert!(matches!(done, SessionCompletion::Completed(_)));
    let connection = store
        .find_connection(&app.app.id, "user-2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        connection.id, first_connection.id,
        "updated, not duplicated"
    );
    assert_eq!(connection.grant_id, second_grant.id, "the new grant");
    let old = store.get_grant(&first_grant.id).await.unwrap().unwrap();
    assert!(old.revoked_at.is_some(), "the old grant is revoked");
    assert!(
        store.get_token(&access.hash).await.unwrap().is_none(),
        "with its tokens"
    );
    let ws = &app.app.workspace_id;
    let stored = store
        .get_customer(ws, None, &customer.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.info.email.as_deref(), Some("new@example.com"));
    assert_eq!(stored.created_at, customer.created_at);
    assert_eq!(
        store
            .list_customers(ws, None, None, 0, 10)
            .await
            .unwrap()
            .total,
        1
    );
}

/// A new customer whose reference id another customer of the app already
/// has is a conflict, and the whole approval writes nothing.
pub async fn connect_customer_reference_conflict_writes_nothing<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let existing = customer_record(&app, "user-3", now);
    approve_connect(
        &*store,
        &app,
        connect_approval(&app, &existing, false, now),
        now,
    )
    .await;

    let impostor = customer_record(&app, "user-3", now);
    let (grant, code, connect) = connect_approval(&app, &impostor, true, now);
    let key = connect.scoped_key.clone().unwrap();
    let session = session_record(&app, now);
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
    assert_eq!(err.kind(), StorageErrorKind::Conflict);
    let ws = &app.app.workspace_id;
    assert!(
        store
            .get_customer(ws, None, &impostor.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store.get_grant(&grant.id).await.unwrap().is_none(),
        "no grant"
    );
    assert!(
        store.get_code(&code.hash).await.unwrap().is_none(),
        "no code"
    );
    assert!(
        store.get_scoped_key(&key.id).await.unwrap().is_none(),
        "no key"
    );
    let still = store
        .open_session(&session.hash, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        still.status,
        SessionStatus::Pending,
        "the session is still pending"
    );
}

/// Of 20 concurrent approvals of one Connect session exactly one writes
/// its customer, connection and grant.
pub async fn connect_concurrent_approvals_have_one_winner<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let session = session_record(&app, now);
    store.insert_session(&session).await.unwrap();
    let customer = customer_record(&app, "user-4", now);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = Arc::clone(&store);
        let (grant, code, connect) = connect_approval(&app, &customer, true, now);
        let hash = session.hash;
        tasks.push(tokio::spawn(async move {
            let decision = SessionDecision::Approve {
                grant: Box::new(grant.clone()),
                code: Box::new(code),
                connect: Some(Box::new(connect)),
            };
            (
                store.complete_session(&hash, &decision, now).await.unwrap(),
                grant,
            )
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (outcome, grant) = task.await.unwrap();
        if matches!(outcome, SessionCompletion::Completed(_)) {
            winners.push(grant);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one approval");
    let connection = store
        .find_connection(&app.app.id, "user-4")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(connection.grant_id, winners[0].id);
    let keys = store
        .list_scoped_keys(&app.app.workspace_id, Some(&app.app.id), None, 0, 100)
        .await
        .unwrap();
    assert_eq!(keys.total, 1, "one scoped key");
}

/// An update-mode approval replacing a connection's grant revokes the
/// keys minted under the old grant, keeps the connection's tags (edited
/// since, even to none) and adds the session's.
pub async fn connect_update_mode_keeps_tags_and_revokes_old_keys<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let ws = app.app.workspace_id.clone();
    let now = base_time();
    let customer = customer_record(&app, "update-tags", now);
    let (grant, code, connect) = connect_approval(&app, &customer, true, now);
    let old_key = connect.scoped_key.clone().unwrap();
    let id = connect.connection.id.clone();
    approve_connect(&*store, &app, (grant, code, connect), now).await;
    let edit = crate::storage::TagEdit {
        replace: Some(vec!["vip".to_owned(), "boston".to_owned()]),
        max: crate::connect::MAX_TAGS,
        ..crate::storage::TagEdit::default()
    };
    store
        .update_connection_tags(&ws, None, &id, &edit, now)
        .await
        .unwrap();

    let later = now + Duration::minutes(1);
    let (grant, code, mut connect) = connect_approval(&app, &customer, true, later);
    connect.connection.tags = vec!["boston".to_owned(), "spring".to_owned()];
    let new_key = connect.scoped_key.clone().unwrap();
    approve_connect(&*store, &app, (grant.clone(), code, connect), later).await;
    let updated = store.get_connection(&ws, None, &id).await.unwrap().unwrap();
    assert_eq!(updated.grant_id, grant.id);
    assert_eq!(
        updated.tags,
        ["vip", "boston", "spring"],
        "kept, then added"
    );
    assert_eq!(
        store
            .get_scoped_key(&old_key.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(later),
        "the old grant's key"
    );
    assert_eq!(
        store
            .get_scoped_key(&new_key.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None,
        "the new grant's key"
    );

    // Tags emptied with the API stay empty but for the session's.
    let clear = crate::storage::TagEdit {
        replace: Some(Vec::new()),
        max: crate::connect::MAX_TAGS,
        ..crate::storage::TagEdit::default()
    };
    store
        .update_connection_tags(&ws, None, &id, &clear, later)
        .await
        .unwrap();
    let last = later + Duration::minutes(1);
    let (grant, code, mut connect) = connect_approval(&app, &customer, false, last);
    connect.connection.tags = vec!["autumn".to_owned()];
    approve_connect(&*store, &app, (grant, code, connect), last).await;
    let updated = store.get_connection(&ws, None, &id).await.unwrap().unwrap();
    assert_eq!(updated.tags, ["autumn"]);

    // Never more than MAX_TAGS: the connection's own come first.
    let full = crate::storage::TagEdit {
        replace: Some(
            (0..crate::connect::MAX_TAGS)
                .map(|i| format!("own-{i}"))
                .collect(),
        ),
        max: crate::connect::MAX_TAGS,
        ..crate::storage::TagEdit::default()
    };
    store
        .update_connection_tags(&ws, None, &id, &full, last)
        .await
        .unwrap();
    let (grant, code, mut connect) = connect_approval(&app, &customer, false, last);
    connect.connection.tags = vec!["one-more".to_owned()];
    approve_connect(&*store, &app, (grant, code, connect), last).await;
    let updated = store.get_connection(&ws, None, &id).await.unwrap().unwrap();
    assert_eq!(updated.tags.len(), crate::connect::MAX_TAGS);
    assert!(!updated.tags.contains(&"one-more".to_owned()));
}

/// The cap on a connection's tags comes with the approval (the server's
/// `max_connection_tags`), not from the backend: with a cap of 3, a
/// connection updated in place keeps its own tags first and gains the
/// session's only up to 3; with a cap lowered below what it holds, it keeps
/// them all and gains none.
pub async fn connect_update_mode_caps_tags_at_the_approvals_max<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let ws = app.app.workspace_id.clone();
    let now = base_time();
    let customer = customer_record(&app, "tag-cap", now);
    let (grant, code, mut connect) = connect_approval(&app, &customer, false, now);
    connect.connection.tags = vec!["a".to_owned(), "b".to_owned()];
    connect.max_tags = 3;
    let id = connect.connection.id.clone();
    approve_connect(&*store, &app, (grant, code, connect), now).await;

    let later = now + Duration::minutes(1);
    let (grant, code, mut connect) = connect_approval(&app, &customer, false, later);
    connect.connection.tags = vec!["b".to_owned(), "c".to_owned(), "d".to_owned()];
    connect.max_tags = 3;
    approve_connect(&*store, &app, (grant, code, connect), later).await;
    let updated = store.get_connection(&ws, None, &id).await.unwrap().unwrap();
    assert_eq!(updated.tags, ["a", "b", "c"], "own first, then up to 3");

    let last = later + Duration::minutes(1);
    let (grant, code, mut connect) = connect_approval(&app, &customer, false, last);
    connect.connection.tags = vec!["e".to_owned()];
    connect.max_tags = 2;
    approve_connect(&*store, &app, (grant, code, connect), last).await;
    let updated = store.get_connection(&ws, None, &id).await.unwrap().unwrap();
    assert_eq!(
        updated.tags,
        ["a", "b", "c"],
        "a lower cap drops nothing and adds nothing"
    );
}

/// A browser-created approval (a session made with a publishable key)
/// only ever creates: one reaching a stored customer (its id, or the app
/// and reference id of one) or taking the place of an active connection is
/// a `Conflict` that writes nothing, the stored customer, connection,
/// grant and key untouched; a new one is inserted, with the label the page
/// claimed.
pub async fn connect_browser_created_approvals_never_update<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let ws = app.app.workspace_id.clone();
    let now = base_time();
    let victim = customer_record(&app, "victim", now);
    let (grant, code, connect) = connect_approval(&app, &victim, true, now);
    let key = connect.scoped_key.clone().unwrap();
    let connection = connect.connection.clone();
    approve_connect(&*store, &app, (grant.clone(), code, connect), now).await;

    let browser = |customer: &CustomerRecord, reference: &str| {
        let (grant, code, mut connect) = connect_approval(&app, customer, true, now);
        connect.connection.browser_created = true;
        connect.connection.reference_id = reference.to_owned();
        connect.connection.claimed_reference_id = Some("victim".to_owned());
        if let Some(key) = connect.scoped_key.as_mut() {
            key.reference_id = reference.to_owned();
        }
        (grant, code, connect)
    };
    let mut same_id = victim.clone();
    same_id.info.first_name = Some("Mallory".to_owned());
    let same_reference = customer_record(&app, "victim", now);
    for (approval, why) in [
        (browser(&same_id, "victim"), "the stored customer's id"),
        (
            browser(&same_reference, "victim"),
            "the stored customer's reference id",
        ),
    ] {
        let (grant, code, connect) = approval;
        let minted = connect.scoped_key.clone().unwrap();
        let session = session_record(&app, now);
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
        assert!(
            store.get_scoped_key(&minted.id).await.unwrap().is_none(),
            "{why}"
        );
    }
    assert_eq!(
        store.get_customer(&ws, None, &victim.id).await.unwrap(),
        Some(victim.clone())
    );
    assert_eq!(
        store
            .get_connection(&ws, None, &connection.id)
            .await
            .unwrap(),
        Some(connection.clone()),
        "the stored connection keeps its grant"
    );
    assert!(
        store
            .get_grant(&grant.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    assert!(
        store
            .get_scoped_key(&key.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );

    // A new customer under a reference id of its own: inserted.
    let fresh = customer_record(&app, "generated-1", now);
    let (grant, code, connect) = browser(&fresh, "generated-1");
    let written = connect.connection.clone();
    let session = session_record(&app, now);
    store.insert_session(&session).await.unwrap();
    let decision = SessionDecision::Approve {
        grant: Box::new(grant),
        code: Box::new(code),
        connect: Some(Box::new(connect)),
    };
    let done = store
        .complete_session(&session.hash, &decision, now)
        .await
        .unwrap();
    assert!(matches!(done, SessionCompletion::Completed(_)));
    let stored = store
        .get_connection(&ws, None, &written.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, written, "read back as written");
    assert!(stored.browser_created);
    assert_eq!(stored.claimed_reference_id.as_deref(), Some("victim"));
    assert_eq!(
        store.get_customer(&ws, None, &fresh.id).await.unwrap(),
        Some(fresh)
    );
}

/// A step transition applies only to the version it read: of 10 concurrent
/// transitions from version 0 exactly one applies, the others see the
/// winner's state; completed or expired sessions do not move.
pub async fn connect_steps_advance_by_compare_and_swap<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let session = connect_session_record(&app, now);
    store.insert_session(&session).await.unwrap();
    let base = session.connect.as_deref().unwrap().clone();
    let mut tasks = Vec::new();
    for i in 0..10 {
        let store = Arc::clone(&store);
        let mut next = base.clone();
        next.progress.provider = Some(format!("provider-{i}"));
        next.step_version = 1;
        let hash = session.hash;
        tasks.push(tokio::spawn(async move {
            (
                store.advance_connect(&hash, 0, &next, now).await.unwrap(),
                next,
            )
        }));
    }
    let mut winner = None;
    for task in tasks {
        match task.await.unwrap() {
            (crate::storage::StepAdvance::Advanced, next) => {
                assert!(winner.is_none(), "two transitions applied");
                winner = Some(next);
            }
            (crate::storage::StepAdvance::Stale(current), _) => {
                assert_eq!(
                    current.connect.unwrap().step_version,
                    1,
                    "stale callers see the new version"
                );
            }
            (crate::storage::StepAdvance::Closed, _) => panic!("the session is open"),
        }
    }
    let winner = winner.expect("one transition applies");
    let stored = store
        .open_session(&session.hash, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.connect.as_deref(), Some(&winner));

    let (grant, code) = grant_and_code(&app, now);
    let approve = SessionDecision::Approve {
        grant: Box::new(grant),
        code: Box::new(code),
        connect: None,
    };
    store
        .complete_session(&session.hash, &approve, now)
        .await
        .unwrap();
    let mut later = winner.clone();
    later.step_version = 2;
    assert_eq!(
        store
            .advance_connect(&session.hash, 1, &later, now)
            .await
            .unwrap(),
        crate::storage::StepAdvance::Closed,
        "completed"
    );
    let expiring = connect_session_record(&app, now);
    store.insert_session(&expiring).await.unwrap();
    let ctx = expiring.connect.as_deref().unwrap().clone();
    assert_eq!(
        store
            .advance_connect(&expiring.hash, 0, &ctx, expiring.expires_at)
            .await
            .unwrap(),
        crate::storage::StepAdvance::Closed,
        "expired"
    );
    assert_eq!(
        store
            .advance_connect(&random_hash(), 0, &ctx, now)
            .await
            .unwrap(),
        crate::storage::StepAdvance::Closed
    );
}

/// Two different linked provider accounts of one reference id are two
/// connections; the same account again updates its connection.
pub async fn connect_linked_accounts_are_separate_connections<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let customer = customer_record(&app, "multi", now);
    let with_link = |provider: &str, account: &str, at: OffsetDateTime| {
        let (grant, code, mut connect) = connect_approval(&app, &customer, false, at);
        connect.connection.linked = Some(crate::storage::LinkedAccount::new(
            provider, account, "label",
        ));
        connect.connection.updated_at = at;
        (grant, code, connect)
    };
    let first = with_link("tesla", "acct-1", now);
    let first_id = first.2.connection.id.clone();
    approve_connect(&*store, &app, first, now).await;
    let second = with_link("enphase", "acct-9", now + Duration::seconds(1));
    let second_id = second.2.connection.id.clone();
    approve_connect(&*store, &app, second, now + Duration::seconds(1)).await;
    assert_ne!(first_id, second_id);
    let latest = store
        .find_connection(&app.app.id, "multi")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.id, second_id, "the most recently changed");
    let again = with_link("tesla", "acct-1", now + Duration::seconds(2));
    let again_grant = again.0.id.clone();
    approve_connect(&*store, &app, again, now + Duration::seconds(2)).await;
    let latest = store
        .find_connection(&app.app.id, "multi")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (latest.id, latest.grant_id),
        (first_id, again_grant),
        "updated in place"
    );
}
