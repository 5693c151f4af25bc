//! The [`GrantStore`](crate::storage::GrantStore) checks of grants:
//! revocation and its cascade, the purge.

use std::sync::Arc;

use time::Duration;

use super::fixtures::{
    approve_connect, base_time, connect_approval, customer_record, grant_and_code, grant_fixture,
    scoped_key_record, session_record, token_record,
};
use crate::storage::ConnectionStatus;
use crate::storage::{
    CodeRedemption, PurgePolicy, SessionCompletion, SessionDecision, SessionStatus, Storage,
    TokenKind,
};

/// A revoked grant's codes and tokens are invisible and cannot be used.
pub async fn grants_revocation_hides_codes_and_tokens<S: Storage>(store: Arc<S>) {
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
    store
        .redeem_code(&code.hash, &[access.clone()], now + Duration::hours(1), now)
        .await
        .unwrap();
    assert_eq!(
        store.revoke_grant(&grant.id, now).await.unwrap(),
        Some(crate::storage::GrantRevocation::default()),
        "revoked, with no connection to take along"
    );
    assert_eq!(
        store.revoke_grant(&grant.id, now).await.unwrap(),
        None,
        "second revoke is None"
    );
    assert!(store.get_token(&access.hash).await.unwrap().is_none());
    assert!(store.get_code(&code.hash).await.unwrap().is_none());
    assert_eq!(
        store
            .redeem_code(&code.hash, &[], now + Duration::hours(1), now)
            .await
            .unwrap(),
        CodeRedemption::Invalid
    );
    let revoked = store.get_grant(&grant.id).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(now));
}

/// RFC 7009 §2.1: revoking a Connect grant (its refresh token's
/// revocation) revokes, in one step, the grant with its tokens, the active
/// connection whose grant it is and the scoped keys minted under it, and
/// names the connection; a second call writes nothing. Another connection
/// of the same customer (another linked account) and its key stay. The
/// keys' own revocation is stored: they still read revoked, at the same
/// time, once the grant is purged.
pub async fn grants_revocation_takes_the_connection_and_its_keys<S: Storage>(store: Arc<S>) {
    // Far in the past (the purge below must not touch other checks'
    // records).
    let now = base_time() - Duration::days(700);
    let app = grant_fixture(&*store).await;
    let ws = &app.app.workspace_id;
    let customer = customer_record(&app, "revoked-by-token", now);
    let approval = connect_approval(&app, &customer, true, now);
    let (grant, code, connect) = approval.clone();
    let done = approve_connect(&*store, &app, approval, now).await;
    assert!(matches!(done, SessionCompletion::Completed(_)));
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
    let minted_later = scoped_key_record(&app, &customer, &grant.id, now);
    store.insert_scoped_key(&minted_later).await.unwrap();
    let (other_grant, other_code, mut other) = connect_approval(&app, &customer, false, now);
    other.connection.linked = Some(crate::storage::LinkedAccount::new(
        "tesla", "second", "second",
    ));
    let other_connection = other.connection.id.clone();
    approve_connect(&*store, &app, (other_grant.clone(), other_code, other), now).await;
    let other_key = scoped_key_record(&app, &customer, &other_grant.id, now);
    store.insert_scoped_key(&other_key).await.unwrap();

    let later = now + Duration::minutes(5);
    let revocation = store.revoke_grant(&grant.id, later).await.unwrap();
    assert_eq!(
        revocation.and_then(|r| r.connection_id).as_ref(),
        Some(&connect.connection.id),
        "it names the connection it revoked"
    );
    assert!(store.get_token(&access.hash).await.unwrap().is_none());
    assert!(store.get_token(&refresh.hash).await.unwrap().is_none());
    let connection = store
        .get_connection(ws, None, &connect.connection.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(connection.status, ConnectionStatus::Revoked);
    assert_eq!(connection.updated_at, later);
    assert_eq!(
        store
            .find_connection(&app.app.id, "revoked-by-token")
            .await
            .unwrap()
            .map(|c| c.id),
        Some(other_connection.clone()),
        "no longer an active connection: only the other one is"
    );
    let minted_with = connect.scoped_key.clone().unwrap();
    for key in [&minted_with, &minted_later] {
        assert_eq!(
            store
                .get_scoped_key(&key.id)
                .await
                .unwrap()
                .unwrap()
                .revoked_at,
            Some(later),
            "a key minted under the grant"
        );
    }
    assert_eq!(
        store
            .get_scoped_key(&other_key.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None,
        "another connection's key"
    );
    assert_eq!(
        store
            .insert_scoped_key(&scoped_key_record(&app, &customer, &grant.id, later))
            .await
            .unwrap(),
        crate::storage::ScopedKeyInsert::NoLiveGrant,
        "nothing more is minted under it"
    );
    // Once revoked, nothing more is written.
    let again = later + Duration::minutes(1);
    assert_eq!(store.revoke_grant(&grant.id, again).await.unwrap(), None);
    let connection = store
        .get_connection(ws, None, &connect.connection.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(connection.updated_at, later, "not touched again");

    // The grant is purged a day after its revocation; its keys stay
    // revoked at the time they were.
    let purge_at = later + Duration::days(2);
    while store
        .purge_expired(purge_at, 50, &PurgePolicy::DEFAULT)
        .await
        .unwrap()
        > 0
    {}
    assert!(store.get_grant(&grant.id).await.unwrap().is_none());
    for key in [&minted_with, &minted_later] {
        assert_eq!(
            store
                .get_scoped_key(&key.id)
                .await
                .unwrap()
                .unwrap()
                .revoked_at,
            Some(later),
            "the key's revocation outlives its grant"
        );
    }
    assert_eq!(
        store
            .get_connection(ws, None, &other_connection)
            .await
            .unwrap()
            .unwrap()
            .status,
        ConnectionStatus::Active,
        "the other connection is untouched"
    );
}

/// A redeemed code outlives its own expiry as a tombstone (its grant still
/// live), so that a replay after a purge still finds it and revokes its
/// grant; it goes with its grant. An unredeemed expired code goes at once.
pub async fn codes_redeemed_survive_purge_until_their_grant_expires<S: Storage>(store: Arc<S>) {
    // Far in the past, so other checks' records are not touched.
    let then = base_time() - Duration::days(500);
    let app = grant_fixture(&*store).await;
    let mut redeemed = Vec::new();
    let mut unredeemed = Vec::new();
    for i in 0..4 {
        let session = session_record(&app, then);
        store.insert_session(&session).await.unwrap();
        let (grant, code) = grant_and_code(&app, then);
        let approve = SessionDecision::Approve {
            grant: Box::new(grant.clone()),
            code: Box::new(code.clone()),
            connect: None,
        };
        store
            .complete_session(&session.hash, &approve, then)
            .await
            .unwrap();
        if i % 2 == 0 {
            let access = token_record(&grant, TokenKind::Access, then);
            let mut refresh = token_record(&grant, TokenKind::Refresh, then);
            refresh.expires_at = then + Duration::days(30);
            store
                .redeem_code(
                    &code.hash,
                    &[access, refresh.clone()],
                    refresh.expires_at,
                    then,
                )
                .await
                .unwrap();
            redeemed.push((grant, code, refresh));
        } else {
            unredeemed.push((grant, code));
        }
    }
    // A day later: every code is past its minute, the refresh tokens live.
    let purge_at = then + Duration::days(1);
    while store
        .purge_expired(purge_at, 3, &PurgePolicy::DEFAULT)
        .await
        .unwrap()
        > 0
    {}
    for (grant, code) in &unredeemed {
        assert!(store.get_code(&code.hash).await.unwrap().is_none());
        assert!(store.get_grant(&grant.id).await.unwrap().is_none());
    }
    for (grant, code, refresh) in &redeemed {
        let kept = store.get_code(&code.hash).await.unwrap();
        assert!(
            kept.is_some_and(|c| c.redeemed_at.is_some()),
            "a redeemed code stays while its grant lives"
        );
        assert!(store.get_token(&refresh.hash).await.unwrap().is_some());
        assert!(store.get_grant(&grant.id).await.unwrap().is_some());
    }
    // The late replay of the first one still revokes its grant.
    let (grant, code, refresh) = &redeemed[0];
    assert!(
        store
            .revoke_code_grant(&code.hash, purge_at)
            .await
            .unwrap()
            .is_some()
    );
    assert!(store.get_token(&refresh.hash).await.unwrap().is_none());
    assert!(
        store
            .get_grant(&grant.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    // Once the grants expire (the refresh tokens' 30 days), everything goes.
    let after = then + Duration::days(31);
    while store
        .purge_expired(after, 3, &PurgePolicy::DEFAULT)
        .await
        .unwrap()
        > 0
    {}
    for (grant, code, refresh) in &redeemed {
        assert!(store.get_code(&code.hash).await.unwrap().is_none());
        assert!(store.get_token(&refresh.hash).await.unwrap().is_none());
        assert!(store.get_grant(&grant.id).await.unwrap().is_none());
    }
}

/// Purging removes expired sessions (pending authorizations), codes and
/// tokens and their grants, keeps live ones — a live code still redeems, a
/// live token still reads back — and honours the batch limit.
pub async fn purge_removes_only_expired_records<S: Storage>(store: Arc<S>) {
    // Far in the past, so other checks' records (dated now) are not
    // touched by this purge.
    let then = base_time() - Duration::days(400);
    let app = grant_fixture(&*store).await;
    let mut expired_sessions = Vec::new();
    for _ in 0..3 {
        let session = session_record(&app, then);
        store.insert_session(&session).await.unwrap();
        expired_sessions.push(session);
    }
    // An expired token of an expired client-credentials-like grant.
    let (mut grant, _) = grant_and_code(&app, then);
    grant.expires_at = Some(then + Duration::hours(1));
    let old_token = token_record(&grant, TokenKind::Access, then);
    store
        .insert_grant(&grant, &[old_token.clone()])
        .await
        .unwrap();
    // An expired code, never redeemed, with its grant.
    let approved = session_record(&app, then);
    store.insert_session(&approved).await.unwrap();
    let (old_code_grant, old_code) = grant_and_code(&app, then);
    let approve = SessionDecision::Approve {
        grant: Box::new(old_code_grant.clone()),
        code: Box::new(old_code.clone()),
        connect: None,
    };
    store
        .complete_session(&approved.hash, &approve, then)
        .await
        .unwrap();

    // Live: a pending authorization, a code and a token issued at the purge
    // time.
    let purge_at = then + Duration::days(2);
    let live = session_record(&app, purge_at);
    store.insert_session(&live).await.unwrap();
    let live_approved = session_record(&app, purge_at);
    store.insert_session(&live_approved).await.unwrap();
    let (live_code_grant, live_code) = grant_and_code(&app, purge_at);
    let approve = SessionDecision::Approve {
        grant: Box::new(live_code_grant.clone()),
        code: Box::new(live_code.clone()),
        connect: None,
    };
    store
        .complete_session(&live_approved.hash, &approve, purge_at)
        .await
        .unwrap();
    let (mut live_grant, _) = grant_and_code(&app, purge_at);
    live_grant.expires_at = Some(purge_at + Duration::hours(1));
    let live_token = token_record(&live_grant, TokenKind::Access, purge_at);
    store
        .insert_grant(&live_grant, &[live_token.clone()])
        .await
        .unwrap();

    let first = store
        .purge_expired(purge_at, 2, &PurgePolicy::DEFAULT)
        .await
        .unwrap();
    assert_eq!(first, 2, "the batch limit holds");
    let mut total = first;
    loop {
        let n = store
            .purge_expired(purge_at, 2, &PurgePolicy::DEFAULT)
            .await
            .unwrap();
        total += n;
        if n < 2 {
            break;
        }
    }
    assert!(
        total >= 8,
        "4 sessions, 1 token, 1 code and 2 grants at least: {total}"
    );
    for session in expired_sessions.iter().chain([&approved]) {
        assert!(
            store
                .open_session(&session.hash, purge_at)
                .await
                .unwrap()
                .is_none()
        );
    }
    assert!(store.get_token(&old_token.hash).await.unwrap().is_none());
    assert!(store.get_grant(&grant.id).await.unwrap().is_none());
    assert!(store.get_code(&old_code.hash).await.unwrap().is_none());
    assert!(store.get_grant(&old_code_grant.id).await.unwrap().is_none());

    // What is live is untouched, and still works.
    assert!(
        store
            .open_session(&live.hash, purge_at)
            .await
            .unwrap()
            .is_some_and(|s| s.status == SessionStatus::Pending),
        "a live pending authorization is kept"
    );
    assert_eq!(
        store.get_token(&live_token.hash).await.unwrap(),
        Some(live_token.clone()),
        "a live token is kept"
    );
    let tokens = [token_record(&live_code_grant, TokenKind::Access, purge_at)];
    let redeemed = store
        .redeem_code(
            &live_code.hash,
            &tokens,
            purge_at + Duration::hours(1),
            purge_at,
        )
        .await
        .unwrap();
    assert!(
        matches!(redeemed, CodeRedemption::Redeemed(_)),
        "a live code still redeems after the purge"
    );
}

/// A grant whose code expired unredeemed goes, in bounded batches, with its
/// code: a plain grant at once (its expiry is its code's until the code is
/// redeemed), a Connect grant a day after its connection is revoked. A
/// Connect grant stays while its connection is active, whether or not its
/// code was ever exchanged: the connection's scoped keys rest on it (a
/// session that delivered its key in the browser may never exchange its
/// code) and keys are still minted under it. A grant with live tokens, or
/// with a redeemed code (the tombstone a late replay needs), stays.
pub async fn purge_removes_grants_whose_code_expired_unredeemed<S: Storage>(store: Arc<S>) {
    // Far in the past, so other checks' records are not touched.
    let then = base_time() - Duration::days(800);
    let app = grant_fixture(&*store).await;
    let ws = &app.app.workspace_id;
    let mut abandoned = Vec::new();
    for _ in 0..5 {
        let session = session_record(&app, then);
        store.insert_session(&session).await.unwrap();
        let (grant, code) = grant_and_code(&app, then);
        let approve = SessionDecision::Approve {
            grant: Box::new(grant.clone()),
            code: Box::new(code.clone()),
            connect: None,
        };
        store
            .complete_session(&session.hash, &approve, then)
            .await
            .unwrap();
        abandoned.push((grant, code));
    }
    // Redeemed, its refresh token good for 30 days.
    let session = session_record(&app, then);
    store.insert_session(&session).await.unwrap();
    let (used_grant, used_code) = grant_and_code(&app, then);
    let approve = SessionDecision::Approve {
        grant: Box::new(used_grant.clone()),
        code: Box::new(used_code.clone()),
        connect: None,
    };
    store
        .complete_session(&session.hash, &approve, then)
        .await
        .unwrap();
    let mut refresh = token_record(&used_grant, TokenKind::Refresh, then);
    refresh.expires_at = then + Duration::days(30);
    store
        .redeem_code(
            &used_code.hash,
            &[refresh.clone()],
            refresh.expires_at,
            then,
        )
        .await
        .unwrap();
    // Connect approvals whose codes are never exchanged: one keeps its
    // connection, one is revoked later.
    let kept_customer = customer_record(&app, "never-exchanged", then);
    let kept = connect_approval(&app, &kept_customer, true, then);
    approve_connect(&*store, &app, kept.clone(), then).await;
    let (kept_grant, kept_code, kept_connect) = kept;
    let gone_customer = customer_record(&app, "never-exchanged-revoked", then);
    let gone = connect_approval(&app, &gone_customer, false, then);
    approve_connect(&*store, &app, gone.clone(), then).await;
    let (gone_grant, gone_code, gone_connect) = gone;

    // A day later every code is past its minute.
    let purge_at = then + Duration::days(1);
    let limit = 2;
    loop {
        let n = store
            .purge_expired(purge_at, limit, &PurgePolicy::DEFAULT)
            .await
            .unwrap();
        assert!(n <= u64::from(limit), "a bounded batch: {n}");
        if n == 0 {
            break;
        }
    }
    for (grant, code) in &abandoned {
        assert!(store.get_grant(&grant.id).await.unwrap().is_none());
        assert!(store.get_code(&code.hash).await.unwrap().is_none());
        assert_eq!(
            store.revoke_code_grant(&code.hash, purge_at).await.unwrap(),
            None
        );
    }
    assert!(store.get_grant(&used_grant.id).await.unwrap().is_some());
    assert!(
        store
            .get_code(&used_code.hash)
            .await
            .unwrap()
            .is_some_and(|c| c.redeemed_at.is_some()),
        "the tombstone of a redeemed code stays"
    );
    assert!(store.get_token(&refresh.hash).await.unwrap().is_some());
    for code in [&kept_code, &gone_code] {
        assert!(
            store.get_code(&code.hash).await.unwrap().is_none(),
            "an expired unredeemed Connect code goes"
        );
    }
    let grant = store.get_grant(&kept_grant.id).await.unwrap();
    assert!(
        grant.is_some_and(|g| g.revoked_at.is_none()),
        "an active connection's grant stays"
    );
    let key = kept_connect.scoped_key.as_ref().unwrap();
    assert_eq!(
        store
            .get_scoped_key(&key.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None,
        "its scoped key still verifies"
    );
    assert_eq!(
        store
            .insert_scoped_key(&scoped_key_record(
                &app,
                &kept_customer,
                &kept_grant.id,
                purge_at
            ))
            .await
            .unwrap(),
        crate::storage::ScopedKeyInsert::Inserted,
        "keys are still minted under it"
    );
    assert!(store.get_grant(&gone_grant.id).await.unwrap().is_some());

    // Revoked: its grant goes a day later; the active one still stays.
    store
        .revoke_connection(ws, None, &gone_connect.connection.id, purge_at)
        .await
        .unwrap()
        .unwrap();
    let after = purge_at + Duration::days(2);
    while store
        .purge_expired(after, limit, &PurgePolicy::DEFAULT)
        .await
        .unwrap()
        > 0
    {}
    assert!(store.get_grant(&gone_grant.id).await.unwrap().is_none());
    assert!(store.get_grant(&kept_grant.id).await.unwrap().is_some());
    assert_eq!(
        store
            .get_connection(ws, None, &kept_connect.connection.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        ConnectionStatus::Active
    );
}

/// The retention of revoked grants is the caller's policy, not the
/// backend's: with the default (a day) a grant revoked two hours ago and
/// one revoked half an hour ago both stay; with an hour, the first goes
/// (its tokens with it) and the second stays.
pub async fn purge_honours_the_revoked_grant_retention<S: Storage>(store: Arc<S>) {
    // Far in the past, apart from the other checks' times.
    let then = base_time() - Duration::days(900);
    let app = grant_fixture(&*store).await;
    let mut grants = Vec::new();
    for _ in 0..2 {
        let (mut grant, _) = grant_and_code(&app, then);
        grant.expires_at = Some(then + Duration::days(30));
        let mut refresh = token_record(&grant, TokenKind::Refresh, then);
        refresh.expires_at = then + Duration::days(30);
        store
            .insert_grant(&grant, std::slice::from_ref(&refresh))
            .await
            .unwrap();
        grants.push(grant);
    }
    let purge_at = then + Duration::hours(3);
    let (old, recent) = (&grants[0], &grants[1]);
    assert!(
        store
            .revoke_grant(&old.id, purge_at - Duration::hours(2))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .revoke_grant(&recent.id, purge_at - Duration::minutes(30))
            .await
            .unwrap()
            .is_some()
    );

    while store
        .purge_expired(purge_at, 10, &PurgePolicy::DEFAULT)
        .await
        .unwrap()
        > 0
    {}
    for grant in [old, recent] {
        assert!(
            store.get_grant(&grant.id).await.unwrap().is_some(),
            "a day's retention keeps a grant revoked hours ago"
        );
    }

    let hour = PurgePolicy::new(Duration::HOUR);
    while store.purge_expired(purge_at, 10, &hour).await.unwrap() > 0 {}
    assert!(
        store.get_grant(&old.id).await.unwrap().is_none(),
        "revoked two hours ago, an hour's retention: purged"
    );
    assert!(
        store.get_grant(&recent.id).await.unwrap().is_some(),
        "revoked half an hour ago, an hour's retention: kept"
    );
}
