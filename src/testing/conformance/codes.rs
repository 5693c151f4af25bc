//! The [`GrantStore`](crate::storage::GrantStore) checks of authorization
//! codes: redemption, expiry, replay.

use std::sync::Arc;

use time::Duration;

use super::fixtures::{
    approve_connect, base_time, connect_approval, customer_record, grant_and_code, grant_fixture,
    random_hash, refresh_fixture, scoped_key_record, session_record, token_record,
};
use crate::model::ids::ClientId;
use crate::storage::ConnectionStatus;
use crate::storage::{
    CodeRedemption, SessionCompletion, SessionDecision, Storage, StorageErrorKind, TokenKind,
};

/// Redeeming marks the code, writes the tokens and moves the grant's expiry;
/// a second redemption writes nothing and reports the first.
pub async fn codes_redeem_once_and_write_tokens<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let session = session_record(&app, now);
    store.insert_session(&session).await.unwrap();
    let (grant, code) = grant_and_code(&app, now);
    let approve = SessionDecision::Approve {
        grant: Box::new(grant.clone()),
        code: Box::new(code.clone()),
        connect: None,
    };
    store
        .complete_session(&session.hash, &approve, now)
        .await
        .unwrap();
    let access = token_record(&grant, TokenKind::Access, now);
    let refresh = token_record(&grant, TokenKind::Refresh, now);
    let grant_expiry = now + Duration::days(30);
    let later = now + Duration::seconds(5);
    let outcome = store
        .redeem_code(
            &code.hash,
            &[access.clone(), refresh.clone()],
            grant_expiry,
            later,
        )
        .await
        .unwrap();
    assert_eq!(outcome, CodeRedemption::Redeemed(code.clone()));
    assert_eq!(
        store.get_token(&access.hash).await.unwrap(),
        Some(access.clone())
    );
    assert_eq!(store.get_token(&refresh.hash).await.unwrap(), Some(refresh));
    let stored = store.get_grant(&grant.id).await.unwrap().unwrap();
    assert_eq!(
        stored.expires_at,
        Some(grant_expiry),
        "grant expiry moved to the refresh token's"
    );
    let redeemed = store.get_code(&code.hash).await.unwrap().unwrap();
    assert_eq!(redeemed.redeemed_at, Some(later));

    let extra = token_record(&grant, TokenKind::Access, now);
    match store
        .redeem_code(&code.hash, &[extra.clone()], grant_expiry, later)
        .await
        .unwrap()
    {
        CodeRedemption::AlreadyRedeemed(c) => assert_eq!(c.redeemed_at, Some(later)),
        other => panic!("second redemption must be refused, got {other:?}"),
    }
    assert!(
        store.get_token(&extra.hash).await.unwrap().is_none(),
        "nothing written"
    );
    assert_eq!(
        store
            .redeem_code(&random_hash(), &[], grant_expiry, later)
            .await
            .unwrap(),
        CodeRedemption::Invalid
    );
}

/// The combined reads of a code exchange and a refresh
/// (`get_app_and_code`, `get_app_and_token`), where a backend has them,
/// answer what the single reads answer: the app of the client id and the
/// code or token, each `None` when unknown, a revoked grant's code or token
/// `None`, whatever the other side holds.
pub async fn prefetch_reads_agree_with_single_reads<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let other = grant_fixture(&*store).await;
    let unknown = ClientId::parse("oc_client_000000000000000000000000").unwrap();
    let now = base_time();
    let (grant, code) = grant_and_code(&app, now);
    store.insert_code(&grant, &code).await.unwrap();
    let (token_grant, refresh) = refresh_fixture(&*store, now).await;
    for client in [&app.app.client_id, &other.app.client_id, &unknown] {
        let expected_app = store.get_app_by_client_id(client).await.unwrap();
        for hash in [code.hash, random_hash()] {
            if let Some(found) = store.get_app_and_code(client, &hash).await.unwrap() {
                assert_eq!(found.app, expected_app);
                assert_eq!(found.record, store.get_code(&hash).await.unwrap());
            }
        }
        for hash in [refresh.hash, random_hash()] {
            if let Some(found) = store.get_app_and_token(client, &hash).await.unwrap() {
                assert_eq!(found.app, expected_app);
                assert_eq!(found.record, store.get_token(&hash).await.unwrap());
            }
        }
    }
    // Both records are there for the right client...
    if let Some(found) = store
        .get_app_and_code(&app.app.client_id, &code.hash)
        .await
        .unwrap()
    {
        assert_eq!(found.app, Some(app.clone()));
        assert_eq!(found.record, Some(code.clone()));
    }
    // ...and gone with their grants.
    store.revoke_grant(&grant.id, now).await.unwrap();
    store.revoke_grant(&token_grant.id, now).await.unwrap();
    if let Some(found) = store
        .get_app_and_code(&app.app.client_id, &code.hash)
        .await
        .unwrap()
    {
        assert_eq!(found.app, Some(app.clone()));
        assert_eq!(found.record, None, "a revoked grant's code");
    }
    if let Some(found) = store
        .get_app_and_token(&app.app.client_id, &refresh.hash)
        .await
        .unwrap()
    {
        assert_eq!(found.app, Some(app.clone()));
        assert_eq!(found.record, None, "a revoked grant's token");
    }
}

/// An expired code is not redeemed and nothing is written.
pub async fn codes_expired_are_not_redeemed<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let session = session_record(&app, now);
    store.insert_session(&session).await.unwrap();
    let (grant, code) = grant_and_code(&app, now);
    let approve = SessionDecision::Approve {
        grant: Box::new(grant.clone()),
        code: Box::new(code.clone()),
        connect: None,
    };
    store
        .complete_session(&session.hash, &approve, now)
        .await
        .unwrap();
    let access = token_record(&grant, TokenKind::Access, now);
    let outcome = store
        .redeem_code(
            &code.hash,
            &[access.clone()],
            now + Duration::days(1),
            code.expires_at,
        )
        .await
        .unwrap();
    assert_eq!(outcome, CodeRedemption::Invalid);
    assert!(store.get_token(&access.hash).await.unwrap().is_none());
    assert_eq!(
        store
            .get_code(&code.hash)
            .await
            .unwrap()
            .unwrap()
            .redeemed_at,
        None
    );
}

/// Of 64 concurrent redemptions of one code exactly one succeeds and only
/// its tokens exist.
pub async fn codes_concurrent_redemptions_have_one_winner<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let session = session_record(&app, now);
    store.insert_session(&session).await.unwrap();
    let (grant, code) = grant_and_code(&app, now);
    let approve = SessionDecision::Approve {
        grant: Box::new(grant.clone()),
        code: Box::new(code.clone()),
        connect: None,
    };
    store
        .complete_session(&session.hash, &approve, now)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let store = Arc::clone(&store);
        let token = token_record(&grant, TokenKind::Access, now);
        let hash = code.hash;
        tasks.push(tokio::spawn(async move {
            let outcome = store
                .redeem_code(&hash, &[token.clone()], now + Duration::days(1), now)
                .await
                .unwrap();
            (outcome, token)
        }));
    }
    let mut winners = 0;
    for task in tasks {
        let (outcome, token) = task.await.unwrap();
        let stored = store.get_token(&token.hash).await.unwrap();
        match outcome {
            CodeRedemption::Redeemed(_) => {
                winners += 1;
                assert!(stored.is_some());
            }
            CodeRedemption::AlreadyRedeemed(_) => assert!(stored.is_none(), "loser wrote a token"),
            CodeRedemption::Invalid => panic!("the code is valid"),
        }
    }
    assert_eq!(winners, 1, "exactly one redemption");
}

/// RFC 6749 §4.1.2: the replay of a redeemed code revokes, in one step, the
/// grant with its tokens, the scoped key minted with the code and the
/// Connect connection resting on the grant; a second call, an unredeemed
/// code or an unknown one revokes nothing. A key minted later under the
/// same grant goes too; a key of the same customer under another connection
/// (another linked account) stays valid.
pub async fn codes_replay_revokes_grant_key_and_connection_at_once<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let ws = &app.app.workspace_id;
    let customer = customer_record(&app, "replayed", now);
    let approval = connect_approval(&app, &customer, true, now);
    let (grant, code, connect) = approval.clone();
    let done = approve_connect(&*store, &app, approval, now).await;
    assert!(matches!(done, SessionCompletion::Completed(_)));
    let same_grant_key = scoped_key_record(&app, &customer, &grant.id, now);
    store.insert_scoped_key(&same_grant_key).await.unwrap();
    let (other_grant, other_code, mut other) = connect_approval(&app, &customer, false, now);
    other.connection.linked = Some(crate::storage::LinkedAccount::new(
        "tesla", "another", "another",
    ));
    let other_connection = other.connection.id.clone();
    approve_connect(&*store, &app, (other_grant.clone(), other_code, other), now).await;
    let other_key = scoped_key_record(&app, &customer, &other_grant.id, now);
    store.insert_scoped_key(&other_key).await.unwrap();

    // Unredeemed: not a replay, nothing written.
    assert_eq!(
        store.revoke_code_grant(&code.hash, now).await.unwrap(),
        None
    );
    assert_eq!(
        store.revoke_code_grant(&random_hash(), now).await.unwrap(),
        None
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

    let access = token_record(&grant, TokenKind::Access, now);
    let refresh = token_record(&grant, TokenKind::Refresh, now);
    let redeemed = store
        .redeem_code(
            &code.hash,
            &[access.clone(), refresh.clone()],
            now + Duration::days(30),
            now,
        )
        .await
        .unwrap();
    assert!(matches!(redeemed, CodeRedemption::Redeemed(_)));

    let later = now + Duration::minutes(5);
    let revocation = store.revoke_code_grant(&code.hash, later).await.unwrap();
    assert_eq!(
        revocation.and_then(|r| r.connection_id).as_ref(),
        Some(&connect.connection.id),
        "it names the connection it revoked"
    );
    assert_eq!(
        store
            .get_grant(&grant.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(later)
    );
    assert!(store.get_token(&access.hash).await.unwrap().is_none());
    assert!(store.get_token(&refresh.hash).await.unwrap().is_none());
    let key = connect.scoped_key.unwrap();
    assert_eq!(
        store
            .get_scoped_key(&key.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(later),
        "the key minted with the code"
    );
    assert_eq!(
        store
            .get_scoped_key(&same_grant_key.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(later),
        "a key minted under the same grant"
    );
    assert!(
        store
            .get_scoped_key(&other_key.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none(),
        "another connection's key"
    );
    let connection = store
        .get_connection(ws, None, &connect.connection.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(connection.status, ConnectionStatus::Revoked);
    assert_eq!(connection.updated_at, later);
    assert_eq!(
        store
            .find_connection(&app.app.id, "replayed")
            .await
            .unwrap()
            .map(|c| c.id),
        Some(other_connection),
        "no longer an active connection: only the other one is"
    );
    // Once revoked, a further replay changes nothing.
    assert_eq!(
        store
            .revoke_code_grant(&code.hash, later + Duration::minutes(1))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .get_grant(&grant.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(later)
    );
}

/// `insert_code` writes a grant and its code together (a request the
/// host's consent policy approved without a session): the code reads back,
/// redeems once, disappears with its grant; a duplicate writes nothing, and
/// neither does a grant of a deleted app.
pub async fn codes_inserted_with_their_grant_in_one_step<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let (grant, code) = grant_and_code(&app, now);
    store.insert_code(&grant, &code).await.unwrap();
    assert_eq!(
        store.get_code(&code.hash).await.unwrap(),
        Some(code.clone())
    );
    assert_eq!(
        store.get_grant(&grant.id).await.unwrap(),
        Some(grant.clone())
    );
    // The same grant id, or the same code hash: Conflict, nothing written.
    let (_, other_code) = grant_and_code(&app, now);
    let refused = store.insert_code(&grant, &other_code).await.unwrap_err();
    assert_eq!(refused.kind(), StorageErrorKind::Conflict);
    assert!(store.get_code(&other_code.hash).await.unwrap().is_none());
    let (other_grant, _) = grant_and_code(&app, now);
    let refused = store.insert_code(&other_grant, &code).await.unwrap_err();
    assert_eq!(refused.kind(), StorageErrorKind::Conflict);
    assert!(store.get_grant(&other_grant.id).await.unwrap().is_none());
    // It redeems like any code, once.
    let access = token_record(&grant, TokenKind::Access, now);
    assert!(matches!(
        store
            .redeem_code(&code.hash, &[access.clone()], now + Duration::hours(1), now)
            .await
            .unwrap(),
        CodeRedemption::Redeemed(_)
    ));
    assert!(matches!(
        store
            .redeem_code(&code.hash, &[], now + Duration::hours(1), now)
            .await
            .unwrap(),
        CodeRedemption::AlreadyRedeemed(_)
    ));
    // Revoking the grant hides the code and its token.
    assert!(store.revoke_grant(&grant.id, now).await.unwrap().is_some());
    assert!(store.get_code(&code.hash).await.unwrap().is_none());
    assert!(store.get_token(&access.hash).await.unwrap().is_none());
    // A grant of a deleted app: NotFound, nothing written.
    assert!(
        store
            .delete_app(&app.app.workspace_id, &app.app.id)
            .await
            .unwrap()
    );
    let (late_grant, late_code) = grant_and_code(&app, now);
    let refused = store
        .insert_code(&late_grant, &late_code)
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), StorageErrorKind::NotFound);
    assert!(store.get_grant(&late_grant.id).await.unwrap().is_none());
    assert!(store.get_code(&late_code.hash).await.unwrap().is_none());
}

/// Deleting an app removes, in the same step, its pending and completed
/// sessions, its grants, their codes (redeemed or not) and their tokens.
pub async fn apps_delete_cascades_to_grants<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let session = session_record(&app, now);
    store.insert_session(&session).await.unwrap();
    let pending = session_record(&app, now);
    store.insert_session(&pending).await.unwrap();
    let (grant, code) = grant_and_code(&app, now);
    let approve = SessionDecision::Approve {
        grant: Box::new(grant.clone()),
        code: Box::new(code.clone()),
        connect: None,
    };
    store
        .complete_session(&session.hash, &approve, now)
        .await
        .unwrap();
    let access = token_record(&grant, TokenKind::Access, now);
    store
        .redeem_code(&code.hash, &[access.clone()], now + Duration::hours(1), now)
        .await
        .unwrap();
    assert!(
        store
            .delete_app(&app.app.workspace_id, &app.app.id)
            .await
            .unwrap()
    );
    assert!(
        store.get_token(&access.hash).await.unwrap().is_none(),
        "token gone"
    );
    assert!(
        store.get_code(&code.hash).await.unwrap().is_none(),
        "code gone"
    );
    assert!(
        store.get_grant(&grant.id).await.unwrap().is_none(),
        "grant gone"
    );
    assert!(
        store
            .open_session(&pending.hash, now)
            .await
            .unwrap()
            .is_none(),
        "session gone"
    );
}
