//! The [`GrantStore`](crate::storage::GrantStore) checks of tokens: refresh
//! rotation, replay and reuse, access-token revocation.

use std::sync::Arc;

use time::Duration;

use super::fixtures::{
    approve_connect, base_time, connect_approval, customer_record, grant_and_code, grant_fixture,
    refresh_fixture, token_record,
};
use crate::storage::ConnectionStatus;
use crate::storage::{RefreshRotation, Storage, TokenKind};

/// Rotation spends the old refresh token and writes its successors;
/// presenting the spent one again revokes the whole family.
pub async fn refresh_rotation_and_reuse_detection<S: Storage>(store: Arc<S>) {
    let now = base_time();
    let (grant, refresh) = refresh_fixture(&*store, now).await;
    let access2 = token_record(&grant, TokenKind::Access, now);
    let refresh2 = token_record(&grant, TokenKind::Refresh, now);
    let later = now + Duration::minutes(1);
    let outcome = store
        .rotate_refresh_token(
            &refresh.hash,
            &[access2.clone(), refresh2.clone()],
            now + Duration::days(30),
            None,
            later,
        )
        .await
        .unwrap();
    assert_eq!(outcome, RefreshRotation::Rotated(refresh.clone()));
    let old = store.get_token(&refresh.hash).await.unwrap().unwrap();
    assert_eq!(old.rotated_at, Some(later));
    assert_eq!(old.successor, Some(refresh2.hash));
    assert_eq!(
        store.get_token(&refresh2.hash).await.unwrap(),
        Some(refresh2.clone())
    );
    assert_eq!(
        store
            .get_grant(&grant.id)
            .await
            .unwrap()
            .unwrap()
            .expires_at,
        Some(now + Duration::days(30))
    );

    let reuse = store
        .rotate_refresh_token(
            &refresh.hash,
            &[token_record(&grant, TokenKind::Refresh, now)],
            now + Duration::days(30),
            None,
            later + Duration::seconds(1),
        )
        .await
        .unwrap();
    assert!(
        matches!(reuse, RefreshRotation::Reused { .. }),
        "spent token presented again"
    );
    assert!(
        store.get_token(&refresh2.hash).await.unwrap().is_none(),
        "family revoked"
    );
    assert!(
        store.get_token(&access2.hash).await.unwrap().is_none(),
        "family revoked"
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
}

/// A spent token presented again at or after `replay_since` returns its
/// successor and writes nothing.
pub async fn refresh_replay_within_threshold_writes_nothing<S: Storage>(store: Arc<S>) {
    let now = base_time();
    let (grant, refresh) = refresh_fixture(&*store, now).await;
    let refresh2 = token_record(&grant, TokenKind::Refresh, now);
    store
        .rotate_refresh_token(
            &refresh.hash,
            &[refresh2.clone()],
            now + Duration::days(1),
            None,
            now,
        )
        .await
        .unwrap();
    let stray = token_record(&grant, TokenKind::Refresh, now);
    let replay = store
        .rotate_refresh_token(
            &refresh.hash,
            &[stray.clone()],
            now + Duration::days(1),
            Some(now - Duration::seconds(5)),
            now + Duration::seconds(2),
        )
        .await
        .unwrap();
    match replay {
        RefreshRotation::Replayed { successor, .. } => assert_eq!(*successor, refresh2),
        other => panic!("expected a replay, got {other:?}"),
    }
    assert!(
        store.get_token(&stray.hash).await.unwrap().is_none(),
        "nothing written"
    );
    assert!(
        store.get_token(&refresh2.hash).await.unwrap().is_some(),
        "family intact"
    );
}

/// RFC 9700 §4.14.2: a spent token presented again within the replay
/// window is a replay only while its successor is unused. Once the
/// successor was rotated in turn, the old token is reuse: the whole family
/// is revoked, the newest token with it, and nothing new is written.
pub async fn refresh_replay_after_the_successor_was_used_is_reuse<S: Storage>(store: Arc<S>) {
    let now = base_time();
    let (grant, refresh) = refresh_fixture(&*store, now).await;
    let refresh2 = token_record(&grant, TokenKind::Refresh, now);
    let refresh3 = token_record(&grant, TokenKind::Refresh, now);
    let expiry = now + Duration::days(1);
    let rotated = store
        .rotate_refresh_token(&refresh.hash, &[refresh2.clone()], expiry, None, now)
        .await
        .unwrap();
    assert!(matches!(rotated, RefreshRotation::Rotated(_)));
    let second = now + Duration::seconds(1);
    let rotated = store
        .rotate_refresh_token(&refresh2.hash, &[refresh3.clone()], expiry, None, second)
        .await
        .unwrap();
    assert!(matches!(rotated, RefreshRotation::Rotated(_)));

    // The first token again, inside the window that would make it a replay
    // were its successor unused.
    let stray = token_record(&grant, TokenKind::Refresh, now);
    let outcome = store
        .rotate_refresh_token(
            &refresh.hash,
            &[stray.clone()],
            expiry,
            Some(now - Duration::seconds(30)),
            now + Duration::seconds(2),
        )
        .await
        .unwrap();
    assert!(
        matches!(outcome, RefreshRotation::Reused { .. }),
        "the successor was used: reuse, not a replay ({outcome:?})"
    );
    assert!(
        store
            .get_grant(&grant.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some(),
        "the family is revoked"
    );
    assert!(
        store.get_token(&refresh3.hash).await.unwrap().is_none(),
        "the newest refresh token goes with it"
    );
    assert!(
        store.get_token(&stray.hash).await.unwrap().is_none(),
        "nothing written"
    );
}

/// RFC 9700 §4.14.2: a rotated-out refresh token of a Connect grant
/// presented again revokes the grant as a revocation does: with its
/// connection and the scoped keys minted under it, named in the outcome.
pub async fn refresh_reuse_revokes_the_connection_and_its_keys<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let ws = &app.app.workspace_id;
    let customer = customer_record(&app, "reused-refresh", now);
    let approval = connect_approval(&app, &customer, true, now);
    let (grant, code, connect) = approval.clone();
    approve_connect(&*store, &app, approval, now).await;
    let refresh = token_record(&grant, TokenKind::Refresh, now);
    store
        .redeem_code(
            &code.hash,
            &[refresh.clone()],
            now + Duration::days(30),
            now,
        )
        .await
        .unwrap();
    let successor = token_record(&grant, TokenKind::Refresh, now);
    let rotated = store
        .rotate_refresh_token(
            &refresh.hash,
            &[successor.clone()],
            now + Duration::days(30),
            None,
            now,
        )
        .await
        .unwrap();
    assert!(matches!(rotated, RefreshRotation::Rotated(_)));
    let later = now + Duration::minutes(5);
    let reused = store
        .rotate_refresh_token(&refresh.hash, &[], now + Duration::days(30), None, later)
        .await
        .unwrap();
    let RefreshRotation::Reused { old, revocation } = reused else {
        panic!("a reuse: {reused:?}");
    };
    assert_eq!(old.hash, refresh.hash);
    assert_eq!(
        revocation.connection_id.as_ref(),
        Some(&connect.connection.id)
    );
    assert!(store.get_token(&successor.hash).await.unwrap().is_none());
    let connection = store
        .get_connection(ws, None, &connect.connection.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(connection.status, ConnectionStatus::Revoked);
    assert_eq!(connection.updated_at, later);
    let key = connect.scoped_key.unwrap();
    assert_eq!(
        store
            .get_scoped_key(&key.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(later)
    );
    // A plain grant's reuse names no connection.
    let (plain, plain_refresh) = refresh_fixture(&*store, now).await;
    store
        .rotate_refresh_token(
            &plain_refresh.hash,
            &[token_record(&plain, TokenKind::Refresh, now)],
            now + Duration::hours(1),
            None,
            now,
        )
        .await
        .unwrap();
    let reused = store
        .rotate_refresh_token(
            &plain_refresh.hash,
            &[],
            now + Duration::hours(1),
            None,
            now,
        )
        .await
        .unwrap();
    assert!(
        matches!(
            &reused,
            RefreshRotation::Reused { revocation, .. } if revocation.connection_id.is_none()
        ),
        "{reused:?}"
    );
}

/// Of 50 concurrent rotations of one refresh token exactly one wins; the
/// others are reuse, and the family ends revoked.
pub async fn refresh_concurrent_rotations_have_one_winner<S: Storage>(store: Arc<S>) {
    let now = base_time();
    let (grant, refresh) = refresh_fixture(&*store, now).await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let store = Arc::clone(&store);
        let successor = token_record(&grant, TokenKind::Refresh, now);
        let hash = refresh.hash;
        tasks.push(tokio::spawn(async move {
            store
                .rotate_refresh_token(&hash, &[successor], now + Duration::days(1), None, now)
                .await
                .unwrap()
        }));
    }
    let (mut rotated, mut reused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            RefreshRotation::Rotated(_) => rotated += 1,
            RefreshRotation::Reused { .. } | RefreshRotation::Invalid => reused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(rotated, 1, "exactly one rotation");
    assert_eq!(reused, 49);
    assert!(
        store
            .get_grant(&grant.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
}

/// Expired refresh tokens and access tokens do not rotate.
pub async fn refresh_expired_or_access_tokens_do_not_rotate<S: Storage>(store: Arc<S>) {
    let now = base_time();
    let (grant, refresh) = refresh_fixture(&*store, now).await;
    let successor = token_record(&grant, TokenKind::Refresh, now);
    let outcome = store
        .rotate_refresh_token(
            &refresh.hash,
            &[successor.clone()],
            now + Duration::days(1),
            None,
            refresh.expires_at,
        )
        .await
        .unwrap();
    assert_eq!(outcome, RefreshRotation::Invalid);
    assert!(store.get_token(&successor.hash).await.unwrap().is_none());

    let (mut other_grant, _) = grant_and_code(&grant_fixture(&*store).await, now);
    other_grant.expires_at = Some(now + Duration::hours(1));
    let access_of_other = token_record(&other_grant, TokenKind::Access, now);
    store
        .insert_grant(&other_grant, &[access_of_other.clone()])
        .await
        .unwrap();
    let outcome = store
        .rotate_refresh_token(
            &access_of_other.hash,
            &[],
            now + Duration::days(1),
            None,
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        outcome,
        RefreshRotation::Invalid,
        "an access token does not rotate"
    );
}

/// `revoke_token` removes one access token and leaves its grant's others.
pub async fn tokens_revoke_single_access_token<S: Storage>(store: Arc<S>) {
    let now = base_time();
    let (grant, refresh) = refresh_fixture(&*store, now).await;
    let a1 = token_record(&grant, TokenKind::Access, now);
    let a2 = token_record(&grant, TokenKind::Access, now);
    store
        .rotate_refresh_token(
            &refresh.hash,
            &[a1.clone(), a2.clone()],
            now + Duration::days(1),
            None,
            now,
        )
        .await
        .unwrap();
    assert!(store.revoke_token(&a1.hash).await.unwrap());
    assert!(!store.revoke_token(&a1.hash).await.unwrap(), "already gone");
    assert!(store.get_token(&a1.hash).await.unwrap().is_none());
    assert!(
        store.get_token(&a2.hash).await.unwrap().is_some(),
        "the other stays"
    );
    assert!(
        !store.revoke_token(&refresh.hash).await.unwrap(),
        "refresh tokens go by grant"
    );
}
