//! The [`GrantStore`](crate::storage::GrantStore) checks of authorization
//! sessions: completion, pushed requests, expiry.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use super::fixtures::{
    base_time, connect_session_record, grant_and_code, grant_fixture, random_hash, session_record,
    sessions_held, token_record,
};
use crate::credentials::Redacted;
use crate::credentials::keyring::CredentialHash;
use crate::storage::{
    SessionCompletion, SessionDecision, SessionStatus, Storage, StorageErrorKind, TokenKind,
};

/// Approving writes the grant and code and completes the session once; a
/// second decision is refused and writes nothing.
pub async fn sessions_complete_once<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let session = session_record(&app, now);
    store.insert_session(&session).await.unwrap();
    assert_eq!(
        store.insert_session(&session).await.unwrap_err().kind(),
        StorageErrorKind::Conflict
    );
    let opened = store
        .open_session(&session.hash, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(opened, session, "an opened session reads back unchanged");
    let (grant, code) = grant_and_code(&app, now);
    let approve = SessionDecision::Approve {
        grant: Box::new(grant.clone()),
        code: Box::new(code.clone()),
        connect: None,
    };
    let done = store
        .complete_session(&session.hash, &approve, now)
        .await
        .unwrap();
    assert_eq!(done, SessionCompletion::Completed(session.clone()));
    assert_eq!(
        store.get_code(&code.hash).await.unwrap(),
        Some(code.clone())
    );
    assert_eq!(store.get_grant(&grant.id).await.unwrap(), Some(grant));

    let (grant2, code2) = grant_and_code(&app, now);
    let again = SessionDecision::Approve {
        grant: Box::new(grant2.clone()),
        code: Box::new(code2.clone()),
        connect: None,
    };
    match store
        .complete_session(&session.hash, &again, now)
        .await
        .unwrap()
    {
        SessionCompletion::AlreadyCompleted(s) => assert_eq!(s.status, SessionStatus::Approved),
        other => panic!("second approval must be refused, got {other:?}"),
    }
    assert!(
        store.get_code(&code2.hash).await.unwrap().is_none(),
        "no second code"
    );
    assert!(
        store.get_grant(&grant2.id).await.unwrap().is_none(),
        "no second grant"
    );
    let deny = store
        .complete_session(&session.hash, &SessionDecision::Deny, now)
        .await
        .unwrap();
    assert!(matches!(deny, SessionCompletion::AlreadyCompleted(_)));
    assert_eq!(
        store
            .complete_session(&random_hash(), &SessionDecision::Deny, now)
            .await
            .unwrap(),
        SessionCompletion::NotFound
    );
}

/// A session's response mode (`web_message`) reads back as written, and a
/// Connect session's embed marker, set by a step transition, too.
pub async fn sessions_keep_response_mode_and_embed<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let mut session = session_record(&app, now);
    session.response_mode = crate::storage::ResponseMode::WebMessage;
    store.insert_session(&session).await.unwrap();
    let opened = store
        .open_session(&session.hash, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        opened.response_mode,
        crate::storage::ResponseMode::WebMessage
    );
    assert_eq!(opened, session);
    match store
        .complete_session(&session.hash, &SessionDecision::Deny, now)
        .await
        .unwrap()
    {
        SessionCompletion::Completed(done) => {
            assert_eq!(done.response_mode, crate::storage::ResponseMode::WebMessage);
        }
        other => panic!("the denial completes the session, got {other:?}"),
    }

    let connect = connect_session_record(&app, now);
    store.insert_session(&connect).await.unwrap();
    let mut next = connect.connect.as_deref().unwrap().clone();
    next.progress.embed =
        crate::storage::ConnectEmbed::parse("modal", "n0nce-of-the-embed-script_1");
    assert!(next.progress.embed.is_some());
    next.step_version = 1;
    assert_eq!(
        store
            .advance_connect(&connect.hash, 0, &next, now)
            .await
            .unwrap(),
        crate::storage::StepAdvance::Advanced
    );
    let stored = store
        .open_session(&connect.hash, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.connect.as_deref(), Some(&next));
    assert_eq!(stored.response_mode, crate::storage::ResponseMode::Query);
}

/// A pushed request opens only before `open_by`; opening twice keeps the
/// first time; one never opened cannot be completed.
pub async fn sessions_pushed_must_be_opened_in_time<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let mut pushed = session_record(&app, now);
    pushed.opened_at = None;
    pushed.open_by = Some(now + Duration::seconds(60));
    store.insert_session(&pushed).await.unwrap();
    let opened = store
        .open_session(&pushed.hash, now + Duration::seconds(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(opened.opened_at, Some(now + Duration::seconds(10)));
    let reopened = store
        .open_session(&pushed.hash, now + Duration::seconds(20))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        reopened.opened_at,
        Some(now + Duration::seconds(10)),
        "first open kept"
    );

    let mut late = session_record(&app, now);
    late.opened_at = None;
    late.open_by = Some(now + Duration::seconds(60));
    store.insert_session(&late).await.unwrap();
    let seen = store
        .open_session(&late.hash, now + Duration::seconds(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.opened_at, None, "open_by has passed: not opened");
    let done = store
        .complete_session(
            &late.hash,
            &SessionDecision::Deny,
            now + Duration::seconds(61),
        )
        .await
        .unwrap();
    assert_eq!(done, SessionCompletion::Expired);
    assert!(
        store
            .open_session(&random_hash(), now)
            .await
            .unwrap()
            .is_none()
    );
}

/// At or after `expires_at` a session cannot be completed.
pub async fn sessions_expired_cannot_complete<S: Storage>(store: Arc<S>) {
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
    let done = store
        .complete_session(&session.hash, &approve, session.expires_at)
        .await
        .unwrap();
    assert_eq!(done, SessionCompletion::Expired);
    assert!(store.get_code(&code.hash).await.unwrap().is_none());
    assert!(store.get_grant(&grant.id).await.unwrap().is_none());
    let still = store
        .open_session(&session.hash, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.status, SessionStatus::Pending);
}

/// Of 20 concurrent approvals of one session exactly one completes, and only
/// its grant and code exist.
pub async fn sessions_concurrent_completions_have_one_winner<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let session = session_record(&app, now);
    store.insert_session(&session).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (store, hash) = (Arc::clone(&store), session.hash);
        let (grant, code) = grant_and_code(&app, now);
        tasks.push(tokio::spawn(async move {
            let decision = SessionDecision::Approve {
                grant: Box::new(grant.clone()),
                code: Box::new(code.clone()),
                connect: None,
            };
            let outcome = store.complete_session(&hash, &decision, now).await.unwrap();
            (outcome, grant, code)
        }));
    }
    let mut winners = 0;
    for task in tasks {
        let (outcome, grant, code) = task.await.unwrap();
        match outcome {
            SessionCompletion::Completed(_) => {
                winners += 1;
                assert!(store.get_code(&code.hash).await.unwrap().is_some());
            }
            SessionCompletion::AlreadyCompleted(_) => {
                assert!(
                    store.get_code(&code.hash).await.unwrap().is_none(),
                    "loser wrote a code"
                );
                assert!(
                    store.get_grant(&grant.id).await.unwrap().is_none(),
                    "loser wrote a grant"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners, 1, "exactly one completion");
}

/// A session or a grant written for an app that was just deleted (a race
/// of `delete_app` with an authorization or a `client_credentials` grant)
/// is refused with `NotFound` and nothing is written: no token outlives its
/// app (a foreign key in SQL, a check under the apps lock in memory).
pub async fn apps_deleted_get_no_new_sessions_or_grants<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    assert!(
        store
            .delete_app(&app.app.workspace_id, &app.app.id)
            .await
            .unwrap()
    );
    let session = session_record(&app, now);
    let refused = store.insert_session(&session).await.unwrap_err();
    assert_eq!(refused.kind(), StorageErrorKind::NotFound);
    assert!(
        store
            .open_session(&session.hash, now)
            .await
            .unwrap()
            .is_none(),
        "no session written"
    );
    let (grant, _) = grant_and_code(&app, now);
    let access = token_record(&grant, TokenKind::Access, now);
    let refused = store
        .insert_grant(&grant, std::slice::from_ref(&access))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), StorageErrorKind::NotFound);
    assert!(
        store.get_grant(&grant.id).await.unwrap().is_none(),
        "no grant"
    );
    assert!(
        store.get_token(&access.hash).await.unwrap().is_none(),
        "no token"
    );
}

/// A requester of `insert_pushed_session` holds at most its bound: each
/// push beyond it replaces the one stored earliest; another requester,
/// and sessions stored without a requester, are untouched; the replacing
/// session is whole (its own state, not the old one's).
pub async fn sessions_pushed_by_one_requester_keep_the_newest<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let (requester, other) = (random_hash(), random_hash());
    let pushed = |at: OffsetDateTime, state: &str| {
        let mut session = session_record(&app, at);
        session.opened_at = None;
        session.open_by = Some(at + Duration::seconds(60));
        session.state = Some(Redacted::new(state.to_owned()));
        session
    };
    let plain = session_record(&app, now);
    store.insert_session(&plain).await.unwrap();
    let theirs = pushed(now, "theirs");
    store
        .insert_pushed_session(&theirs, &other, 3)
        .await
        .unwrap();
    let mut mine = Vec::new();
    for n in 0..5 {
        let session = pushed(now + Duration::milliseconds(n), &format!("mine-{n}"));
        store
            .insert_pushed_session(&session, &requester, 3)
            .await
            .unwrap();
        mine.push(session);
    }
    let hashes: Vec<CredentialHash> = mine.iter().map(|s| s.hash).collect();
    assert_eq!(
        sessions_held(&*store, &hashes[..2]).await,
        0,
        "the oldest two replaced"
    );
    assert_eq!(
        sessions_held(&*store, &hashes[2..]).await,
        3,
        "the newest three kept"
    );
    for session in &mine[2..] {
        let held = store
            .open_session(&session.hash, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(held.state, session.state, "each slot holds its own session");
        assert!(held.opened_at.is_some(), "opened before its open_by");
    }
    assert_eq!(
        sessions_held(&*store, &[theirs.hash, plain.hash]).await,
        2,
        "others untouched"
    );
    // A duplicate hash is refused, as by `insert_session`, writing nothing.
    let refused = store
        .insert_pushed_session(&mine[4], &requester, 3)
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), StorageErrorKind::Conflict);
    assert_eq!(sessions_held(&*store, &hashes[2..]).await, 3);
}

/// Concurrent pushes of one requester never leave it more than its bound.
pub async fn sessions_pushed_concurrently_never_exceed_the_bound<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let requester = random_hash();
    let mut tasks = Vec::new();
    let mut hashes = Vec::new();
    for _ in 0..24 {
        let mut session = session_record(&app, base_time());
        session.opened_at = None;
        session.open_by = Some(base_time() + Duration::seconds(60));
        hashes.push(session.hash);
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store.insert_pushed_session(&session, &requester, 4).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let held = sessions_held(&*store, &hashes).await;
    assert!((1..=4).contains(&held), "{held} sessions held, at most 4");
}
