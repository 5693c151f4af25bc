//! The storage conformance suite: the behaviour every backend must show,
//! written once, generic over the storage traits.
//!
//! Each check is a public `async fn` taking the store in an `Arc`; each uses
//! workspaces of its own, so all of them can share one store (a database that
//! is not emptied between checks is fine). The
//! [`storage_conformance_tests!`](crate::storage_conformance_tests) macro
//! turns the whole list into one `#[test]` per check, each on a tokio
//! runtime this crate brings (your crate needs no tokio for it):
//!
//! ```text
//! oauth_connect::storage_conformance_tests!(async { my_backend::connect().await });
//! ```
//!
//! The checks panic (through `assert!`) on the first violation, naming the
//! rule; they are tests, not library code.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cloned_ref_to_slice_refs,
    missing_docs
)]

use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::credentials::Redacted;
use crate::credentials::keyring::CredentialHash;
use crate::model::ids::{AppId, ClientId, GrantId, Subject, WorkspaceId, hex};
use crate::model::ids::{ConnectionId, CustomerId, PublishableKeyId, ScopedKeyId};
use crate::model::origin::Origin;
use crate::model::random::{SystemRandom, random_array};
use crate::model::redirect::RedirectUri;
use crate::model::scope::ScopeSet;
use crate::model::timestamp::truncate_ms;
use crate::registry::apps::{AppType, OAuthApp};
use crate::storage::{
    AppChanges, AppRecord, CodeRecord, CodeRedemption, GrantRecord, RefreshRotation,
    SecretRotation, SecretState, SessionCompletion, SessionDecision, SessionRecord, SessionStatus,
    Storage, StorageErrorKind, TokenKind, TokenRecord,
};
use crate::storage::{
    ConnectApproval, ConnectionRecord, ConnectionStatus, CustomerInfo, CustomerRecord, Location,
    PublishableKeyInsert, PublishableKeyRecord, ScopedKeyRecord,
};

/// Generates one `#[test]` per conformance check, each running on a
/// multi-threaded tokio runtime of its own ([`run`]). `$make` is an
/// expression of a future that yields a fresh (or shared) store; it is
/// evaluated once per test, inside that runtime (a `return` in it ends the
/// test, passing: a way to skip when a database is not configured). The
/// crate using the macro needs no tokio of its own: the runtime comes from
/// this crate's `conformance` feature.
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
#[macro_export]
macro_rules! storage_conformance_tests {
    ($make:expr) => {
        $crate::storage_conformance_tests!(@each $make;
            apps_insert_and_get,
            apps_insert_conflicts,
            apps_list_pages_in_stable_order,
            apps_list_total_stays_exact_under_concurrent_inserts_and_deletes,
            apps_update_changes_only_given_fields,
            apps_delete_removes_everything,
            apps_rotate_secret_with_and_without_grace,
            apps_rotate_secret_refuses_stale_expectation,
            apps_concurrent_rotations_have_one_winner,
            apps_are_isolated_between_workspaces,
            sessions_complete_once,
            sessions_pushed_must_be_opened_in_time,
            sessions_pushed_by_one_requester_keep_the_newest,
            sessions_pushed_concurrently_never_exceed_the_bound,
            sessions_expired_cannot_complete,
            sessions_concurrent_completions_have_one_winner,
            sessions_keep_response_mode_and_embed,
            codes_redeem_once_and_write_tokens,
            prefetch_reads_agree_with_single_reads,
            codes_inserted_with_their_grant_in_one_step,
            codes_expired_are_not_redeemed,
            codes_concurrent_redemptions_have_one_winner,
            grants_revocation_hides_codes_and_tokens,
            grants_revocation_takes_the_connection_and_its_keys,
            refresh_reuse_revokes_the_connection_and_its_keys,
            refresh_rotation_and_reuse_detection,
            refresh_replay_within_threshold_writes_nothing,
            refresh_replay_after_the_successor_was_used_is_reuse,
            codes_replay_revokes_grant_key_and_connection_at_once,
            codes_redeemed_survive_purge_until_their_grant_expires,
            refresh_concurrent_rotations_have_one_winner,
            refresh_expired_or_access_tokens_do_not_rotate,
            tokens_revoke_single_access_token,
            purge_removes_only_expired_records,
            purge_removes_grants_whose_code_expired_unredeemed,
            apps_delete_cascades_to_grants,
            apps_deleted_get_no_new_sessions_or_grants,
            connect_approval_writes_customer_connection_and_key,
            connect_update_mode_replaces_the_grant_in_place,
            connect_customer_reference_conflict_writes_nothing,
            connect_concurrent_approvals_have_one_winner,
            customers_list_and_delete_revokes_everything,
            connect_steps_advance_by_compare_and_swap,
            connect_linked_accounts_are_separate_connections,
            connect_update_mode_keeps_tags_and_revokes_old_keys,
            customers_belong_to_their_app,
            connect_browser_created_approvals_never_update,
            connections_attach_to_a_customer_of_their_app,
            connections_concurrent_attachments_have_one_winner,
            connections_list_and_get_filter,
            connections_tag_edits_apply_atomically,
            connections_revoke_cascades_once,
            connections_revoke_only_their_own_keys,
            scoped_keys_insert_list_and_revoke,
            scoped_keys_insert_only_under_a_live_connection,
            scoped_keys_minted_during_a_revocation_die_with_it,
            scoped_keys_read_revoked_with_their_grant,
            apps_delete_cascades_to_connections_and_keys,
            admin_keys_insert_find_delete,
            admin_keys_insert_conflicts,
            admin_keys_unknown_hash_is_absent,
            apps_allowed_origins_are_stored_and_looked_up,
            publishable_keys_insert_find_list_revoke,
            publishable_keys_are_bounded_per_app,
            publishable_keys_concurrent_inserts_respect_the_bound,
            apps_delete_cascades_to_publishable_keys,
            rate_limits_count_in_fixed_windows,
            rate_limits_concurrent_counts_are_each_counted_once,
            rate_limits_refund_takes_back_one_in_its_window,
            rate_limits_purge_removes_only_ended_windows,
            webhooks_outbox_is_written_with_the_change,
            webhooks_claims_never_overlap,
            webhooks_attempts_are_recorded_and_retried,
            webhooks_endpoints_belong_to_their_app,
        );
    };
    (@each $make:expr; $($check:ident),+ $(,)?) => {
        $(
            #[test]
            fn $check() {
                $crate::conformance::run(async {
                    let store = ::std::sync::Arc::new($make.await);
                    $crate::conformance::$check(store).await;
                });
            }
        )+
    };
}

/// Runs one check to completion on a fresh multi-threaded tokio runtime
/// (two workers, I/O and timers enabled), as
/// [`storage_conformance_tests!`](crate::storage_conformance_tests) does
/// for each check; call it to run a check from a plain `#[test]`.
pub fn run<F: std::future::Future<Output = ()>>(check: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime for the conformance suite")
        .block_on(check);
}

mod webhooks;
pub use webhooks::*;

fn rng() -> SystemRandom {
    SystemRandom::new()
}

/// A workspace no other check uses.
pub fn fresh_workspace() -> WorkspaceId {
    WorkspaceId::parse(&format!("ws_{}", hex(&random_array::<8>(&rng()).unwrap()))).unwrap()
}

/// A random hash, standing in for a credential's.
pub fn random_hash() -> CredentialHash {
    CredentialHash::from_bytes(random_array::<32>(&rng()).unwrap())
}

fn base_time() -> OffsetDateTime {
    truncate_ms(OffsetDateTime::now_utc())
}

/// An app record for `workspace`, confidential when `secret` is given.
pub fn app_record(
    workspace: &WorkspaceId,
    created_at: OffsetDateTime,
    secret: Option<CredentialHash>,
) -> AppRecord {
    let r = rng();
    AppRecord {
        app: OAuthApp {
            id: AppId::generate(&r).unwrap(),
            client_id: ClientId::generate("oc_client_", &r).unwrap(),
            name: "Conformance app".to_owned(),
            description: Some("made by the conformance suite".to_owned()),
            redirect_uris: vec![RedirectUri::parse("https://app.example.com/callback").unwrap()],
            allowed_scopes: ScopeSet::from_tokens(["read:devices", "write:devices"]).unwrap(),
            allowed_origins: Vec::new(),
            logo_uri: Some("https://cdn.example.com/logos/app.svg".to_owned()),
            app_type: if secret.is_some() {
                AppType::Confidential
            } else {
                AppType::Public
            },
            workspace_id: workspace.clone(),
            created_at,
            updated_at: created_at,
        },
        secret: secret.map(|current| SecretState {
            current,
            previous: None,
        }),
    }
}

async fn insert<S: Storage>(store: &S, record: &AppRecord) {
    store.insert_app(record).await.expect("insert_app");
}

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

/// An app inserted into a fresh workspace, for the grant checks.
async fn grant_fixture<S: Storage>(store: &S) -> AppRecord {
    let ws = fresh_workspace();
    let record = app_record(&ws, base_time(), Some(random_hash()));
    insert(store, &record).await;
    record
}

/// A pending session of `app`, opened now, expiring in ten minutes.
pub fn session_record(app: &AppRecord, now: OffsetDateTime) -> SessionRecord {
    SessionRecord {
        hash: random_hash(),
        workspace_id: app.app.workspace_id.clone(),
        app_id: app.app.id.clone(),
        client_id: app.app.client_id.clone(),
        redirect_uri: "https://app.example.com/callback".to_owned(),
        redirect_uri_in_request: true,
        scopes: ScopeSet::from_tokens(["read:devices"]).unwrap(),
        state: Some(Redacted::new("xyz".to_owned())),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned()),
        response_mode: crate::storage::ResponseMode::Query,
        created_at: now,
        expires_at: now + Duration::minutes(10),
        open_by: None,
        opened_at: Some(now),
        status: SessionStatus::Pending,
        connect: None,
    }
}

/// A grant of `app` for a user, and a code for it valid for a minute.
pub fn grant_and_code(app: &AppRecord, now: OffsetDateTime) -> (GrantRecord, CodeRecord) {
    let grant = GrantRecord {
        id: GrantId::generate(&rng()).unwrap(),
        workspace_id: app.app.workspace_id.clone(),
        app_id: app.app.id.clone(),
        client_id: app.app.client_id.clone(),
        subject: Some(Subject::parse("user-1").unwrap()),
        scopes: ScopeSet::from_tokens(["read:devices"]).unwrap(),
        created_at: now,
        expires_at: Some(now + Duration::minutes(1)),
        revoked_at: None,
    };
    let code = CodeRecord {
        hash: random_hash(),
        grant_id: grant.id.clone(),
        workspace_id: grant.workspace_id.clone(),
        app_id: grant.app_id.clone(),
        client_id: grant.client_id.clone(),
        redirect_uri: "https://app.example.com/callback".to_owned(),
        redirect_uri_in_request: true,
        code_challenge: None,
        scopes: grant.scopes.clone(),
        subject: Subject::parse("user-1").unwrap(),
        issued_at: now,
        expires_at: now + Duration::minutes(1),
        redeemed_at: None,
        scoped_key_id: None,
    };
    (grant, code)
}

/// A token of `grant`, valid for an hour.
pub fn token_record(grant: &GrantRecord, kind: TokenKind, now: OffsetDateTime) -> TokenRecord {
    TokenRecord {
        hash: random_hash(),
        kind,
        grant_id: grant.id.clone(),
        workspace_id: grant.workspace_id.clone(),
        app_id: grant.app_id.clone(),
        client_id: grant.client_id.clone(),
        subject: grant.subject.clone(),
        scopes: grant.scopes.clone(),
        issued_at: now,
        expires_at: now + Duration::hours(1),
        rotated_at: None,
        successor: None,
    }
}

/// A grant with a live refresh token, written through `insert_grant`.
async fn refresh_fixture<S: Storage>(store: &S, now: OffsetDateTime) -> (GrantRecord, TokenRecord) {
    let app = grant_fixture(store).await;
    let (mut grant, _) = grant_and_code(&app, now);
    grant.expires_at = Some(now + Duration::hours(1));
    let refresh = token_record(&grant, TokenKind::Refresh, now);
    store
        .insert_grant(&grant, &[refresh.clone()])
        .await
        .unwrap();
    (grant, refresh)
}

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
    while store.purge_expired(purge_at, 50).await.unwrap() > 0 {}
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
    while store.purge_expired(purge_at, 3).await.unwrap() > 0 {}
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
    while store.purge_expired(after, 3).await.unwrap() > 0 {}
    for (grant, code, refresh) in &redeemed {
        assert!(store.get_code(&code.hash).await.unwrap().is_none());
        assert!(store.get_token(&refresh.hash).await.unwrap().is_none());
        assert!(store.get_grant(&grant.id).await.unwrap().is_none());
    }
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

    let first = store.purge_expired(purge_at, 2).await.unwrap();
    assert_eq!(first, 2, "the batch limit holds");
    let mut total = first;
    loop {
        let n = store.purge_expired(purge_at, 2).await.unwrap();
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
        let n = store.purge_expired(purge_at, limit).await.unwrap();
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
    while store.purge_expired(after, limit).await.unwrap() > 0 {}
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

/// A customer record for `app`'s workspace.
pub fn customer_record(app: &AppRecord, reference_id: &str, now: OffsetDateTime) -> CustomerRecord {
    CustomerRecord {
        id: CustomerId::generate(&rng()).unwrap(),
        workspace_id: app.app.workspace_id.clone(),
        app_id: app.app.id.clone(),
        reference_id: reference_id.to_owned(),
        info: CustomerInfo {
            first_name: Some("Ada".to_owned()),
            last_name: Some("Lovelace".to_owned()),
            email: Some("ada@example.com".to_owned()),
            phone: None,
            location: Some(Location {
                street_one: "1 Main St".to_owned(),
                city: "Springfield".to_owned(),
                state: "IL".to_owned(),
                postal_code: "62701".to_owned(),
                country: "US".to_owned(),
            }),
        },
        created_at: now,
        updated_at: now,
    }
}

/// A scoped key record for `customer` of `app`, under `grant`.
pub fn scoped_key_record(
    app: &AppRecord,
    customer: &CustomerRecord,
    grant: &GrantId,
    now: OffsetDateTime,
) -> ScopedKeyRecord {
    ScopedKeyRecord {
        id: ScopedKeyId::from_bytes(&random_array::<16>(&rng()).unwrap()),
        workspace_id: app.app.workspace_id.clone(),
        app_id: app.app.id.clone(),
        client_id: app.app.client_id.clone(),
        customer_id: customer.id.clone(),
        reference_id: customer.reference_id.clone(),
        grant_id: grant.clone(),
        scopes: ScopeSet::from_tokens(["read:devices"]).unwrap(),
        label: Some("test".to_owned()),
        nonce: random_array::<16>(&rng()).unwrap(),
        signing_key_id: 1,
        created_at: now,
        expires_at: None,
        revoked_at: None,
    }
}

/// A Connect approval of a session of `app` for `reference_id`: grant, code
/// and the Connect part (customer, connection, optionally a scoped key).
pub fn connect_approval(
    app: &AppRecord,
    customer: &CustomerRecord,
    with_key: bool,
    now: OffsetDateTime,
) -> (GrantRecord, CodeRecord, ConnectApproval) {
    let (mut grant, mut code) = grant_and_code(app, now);
    grant.expires_at = None;
    let key = with_key.then(|| scoped_key_record(app, customer, &grant.id, now));
    code.scoped_key_id = key.as_ref().map(|k| k.id.clone());
    let connection = ConnectionRecord {
        id: ConnectionId::generate(&rng()).unwrap(),
        workspace_id: app.app.workspace_id.clone(),
        app_id: app.app.id.clone(),
        customer_id: customer.id.clone(),
        reference_id: customer.reference_id.clone(),
        grant_id: grant.id.clone(),
        tags: vec!["boston".to_owned()],
        linked: None,
        status: ConnectionStatus::Active,
        browser_created: false,
        claimed_reference_id: None,
        attached_at: None,
        created_at: now,
        updated_at: now,
    };
    let approval = ConnectApproval {
        customer: customer.clone(),
        connection,
        scoped_key: key,
    };
    (grant, code, approval)
}

async fn approve_connect<S: Storage>(
    store: &S,
    app: &AppRecord,
    approval: (GrantRecord, CodeRecord, ConnectApproval),
    now: OffsetDateTime,
) -> SessionCompletion {
    let session = session_record(app, now);
    store.insert_session(&session).await.unwrap();
    let (grant, code, connect) = approval;
    let decision = SessionDecision::Approve {
        grant: Box::new(grant),
        code: Box::new(code),
        connect: Some(Box::new(connect)),
    };
    store
        .complete_session(&session.hash, &decision, now)
        .await
        .unwrap()
}

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

/// An approved connection of `app` to `customer` (a new customer record
/// when none of that reference id exists yet), made at `now`.
async fn connected<S: Storage>(
    store: &S,
    app: &AppRecord,
    customer: &CustomerRecord,
    now: OffsetDateTime,
) -> (GrantRecord, ConnectionRecord) {
    let (grant, code, connect) = connect_approval(app, customer, false, now);
    let connection = connect.connection.clone();
    let done = approve_connect(store, app, (grant.clone(), code, connect), now).await;
    assert!(matches!(done, SessionCompletion::Completed(_)), "{done:?}");
    (grant, connection)
}

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

/// A browser-created approval of `app` for a new customer under
/// `reference`, with a scoped key: the customer, the connection and the
/// key.
async fn browser_connected<S: Storage>(
    store: &S,
    app: &AppRecord,
    reference: &str,
    now: OffsetDateTime,
) -> (CustomerRecord, ConnectionRecord, ScopedKeyRecord) {
    let customer = customer_record(app, reference, now);
    let (grant, code, mut connect) = connect_approval(app, &customer, true, now);
    connect.connection.browser_created = true;
    connect.connection.claimed_reference_id = Some("claimed".to_owned());
    let connection = connect.connection.clone();
    let key = connect.scoped_key.clone().unwrap();
    let done = approve_connect(store, app, (grant, code, connect), now).await;
    assert!(matches!(done, SessionCompletion::Completed(_)), "{done:?}");
    (customer, connection, key)
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

/// An origin no other check uses (the origin lookup spans workspaces).
pub fn fresh_origin() -> Origin {
    Origin::parse(&format!(
        "https://{}.example.com",
        hex(&random_array::<8>(&rng()).unwrap())
    ))
    .unwrap()
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

/// A publishable key record for `app`.
pub fn publishable_key_record(app: &AppRecord, created_at: OffsetDateTime) -> PublishableKeyRecord {
    PublishableKeyRecord {
        id: PublishableKeyId::generate(&rng()).unwrap(),
        hash: random_hash(),
        workspace_id: app.app.workspace_id.clone(),
        app_id: app.app.id.clone(),
        created_at,
    }
}

/// A key reads back by hash and in its app's listing (oldest first, never
/// in another workspace's); a duplicate id or hash is a conflict; revoking
/// removes it from both, once, and only for its own app and workspace.
pub async fn publishable_keys_insert_find_list_revoke<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let ws = &app.app.workspace_id;
    let t0 = base_time();
    let second = publishable_key_record(&app, t0 + Duration::seconds(1));
    let first = publishable_key_record(&app, t0);
    for key in [&second, &first] {
        assert_eq!(
            store.insert_publishable_key(key, 10).await.unwrap(),
            PublishableKeyInsert::Inserted
        );
    }
    assert_eq!(
        store.find_publishable_key(&first.hash).await.unwrap(),
        Some(first.clone())
    );
    assert!(
        store
            .find_publishable_key(&random_hash())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.list_publishable_keys(ws, &app.app.id).await.unwrap(),
        vec![first.clone(), second.clone()],
        "oldest first"
    );
    assert!(
        store
            .list_publishable_keys(&fresh_workspace(), &app.app.id)
            .await
            .unwrap()
            .is_empty(),
        "not in another workspace"
    );
    let mut same_hash = publishable_key_record(&app, t0);
    same_hash.hash = first.hash;
    let mut same_id = publishable_key_record(&app, t0);
    same_id.id = first.id.clone();
    for dup in [&same_hash, &same_id] {
        let err = store.insert_publishable_key(dup, 10).await.unwrap_err();
        assert_eq!(err.kind(), StorageErrorKind::Conflict);
    }
    assert_eq!(
        store
            .list_publishable_keys(ws, &app.app.id)
            .await
            .unwrap()
            .len(),
        2,
        "a conflict writes nothing"
    );
    let other_app = grant_fixture(&*store).await;
    assert!(
        !store
            .revoke_publishable_key(&other_app.app.workspace_id, &other_app.app.id, &first.id)
            .await
            .unwrap(),
        "another app cannot revoke it"
    );
    assert!(
        !store
            .revoke_publishable_key(&fresh_workspace(), &app.app.id, &first.id)
            .await
            .unwrap(),
        "another workspace cannot revoke it"
    );
    assert!(
        store
            .revoke_publishable_key(ws, &app.app.id, &first.id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_publishable_key(ws, &app.app.id, &first.id)
            .await
            .unwrap(),
        "a second revocation is false"
    );
    assert!(
        store
            .find_publishable_key(&first.hash)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.list_publishable_keys(ws, &app.app.id).await.unwrap(),
        vec![second]
    );
}

/// An app holds at most `max_active` keys; revoking one frees a slot; an
/// unknown app (or another workspace's) gets none.
pub async fn publishable_keys_are_bounded_per_app<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let mut kept = Vec::new();
    for _ in 0..3 {
        let key = publishable_key_record(&app, now);
        assert_eq!(
            store.insert_publishable_key(&key, 3).await.unwrap(),
            PublishableKeyInsert::Inserted
        );
        kept.push(key);
    }
    let extra = publishable_key_record(&app, now);
    assert_eq!(
        store.insert_publishable_key(&extra, 3).await.unwrap(),
        PublishableKeyInsert::LimitReached
    );
    assert!(
        store
            .find_publishable_key(&extra.hash)
            .await
            .unwrap()
            .is_none(),
        "nothing written"
    );
    assert!(
        store
            .revoke_publishable_key(&app.app.workspace_id, &app.app.id, &kept[0].id)
            .await
            .unwrap()
    );
    assert_eq!(
        store.insert_publishable_key(&extra, 3).await.unwrap(),
        PublishableKeyInsert::Inserted,
        "revoking frees a slot"
    );
    let mut stray = publishable_key_record(&app, now);
    stray.workspace_id = fresh_workspace();
    assert_eq!(
        store.insert_publishable_key(&stray, 3).await.unwrap(),
        PublishableKeyInsert::AppNotFound,
        "the app is not in that workspace"
    );
    let mut orphan = publishable_key_record(&app, now);
    orphan.app_id = AppId::generate(&rng()).unwrap();
    assert_eq!(
        store.insert_publishable_key(&orphan, 3).await.unwrap(),
        PublishableKeyInsert::AppNotFound
    );
}

/// Concurrent inserts never take an app past the bound: exactly
/// `max_active` of them win.
pub async fn publishable_keys_concurrent_inserts_respect_the_bound<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let now = base_time();
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let store = Arc::clone(&store);
        let key = publishable_key_record(&app, now);
        tasks.push(tokio::spawn(async move {
            store.insert_publishable_key(&key, 4).await.unwrap()
        }));
    }
    let mut inserted = 0;
    for task in tasks {
        match task.await.unwrap() {
            PublishableKeyInsert::Inserted => inserted += 1,
            PublishableKeyInsert::LimitReached => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(inserted, 4, "exactly the bound wins");
    assert_eq!(
        store
            .list_publishable_keys(&app.app.workspace_id, &app.app.id)
            .await
            .unwrap()
            .len(),
        4
    );
}

/// Deleting an app removes its publishable keys in the same step.
pub async fn apps_delete_cascades_to_publishable_keys<S: Storage>(store: Arc<S>) {
    let app = grant_fixture(&*store).await;
    let key = publishable_key_record(&app, base_time());
    store.insert_publishable_key(&key, 10).await.unwrap();
    assert!(
        store
            .delete_app(&app.app.workspace_id, &app.app.id)
            .await
            .unwrap()
    );
    assert!(
        store
            .find_publishable_key(&key.hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .list_publishable_keys(&app.app.workspace_id, &app.app.id)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A bucket counts within its window, restarts at 1 in a later window,
/// counts a lagging (earlier) window in the one it holds, reads without
/// counting, and is independent of every other bucket.
pub async fn rate_limits_count_in_fixed_windows<S: Storage>(store: Arc<S>) {
    let (bucket, other) = (random_hash(), random_hash());
    let w0 = base_time();
    let w1 = w0 + Duration::minutes(1);
    let w2 = w1 + Duration::minutes(1);
    assert_eq!(store.rate_limit_count(&bucket, w0).await.unwrap(), 0);
    for expected in 1..=3 {
        assert_eq!(
            store.count_rate_limit(&bucket, w0, w1).await.unwrap(),
            expected
        );
    }
    assert_eq!(store.rate_limit_count(&bucket, w0).await.unwrap(), 3);
    assert_eq!(
        store.rate_limit_count(&bucket, w0).await.unwrap(),
        3,
        "reading counts nothing"
    );
    assert_eq!(
        store.count_rate_limit(&other, w0, w1).await.unwrap(),
        1,
        "per bucket"
    );
    assert_eq!(
        store.count_rate_limit(&bucket, w1, w2).await.unwrap(),
        1,
        "a new window restarts"
    );
    assert_eq!(
        store.rate_limit_count(&bucket, w1).await.unwrap(),
        1,
        "the new window's count"
    );
    assert_eq!(
        store.count_rate_limit(&bucket, w0, w1).await.unwrap(),
        2,
        "an earlier window counts in the held one"
    );
    assert_eq!(
        store.rate_limit_count(&bucket, w2).await.unwrap(),
        0,
        "a later window has counted nothing yet"
    );
}

/// Concurrent counts of one bucket are each counted exactly once: the
/// counts returned are 1..=n, every one of them once.
pub async fn rate_limits_concurrent_counts_are_each_counted_once<S: Storage>(store: Arc<S>) {
    let bucket = random_hash();
    let start = base_time();
    let end = start + Duration::minutes(1);
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store.count_rate_limit(&bucket, start, end).await.unwrap()
        }));
    }
    let mut counts = Vec::new();
    for task in tasks {
        counts.push(task.await.unwrap());
    }
    counts.sort_unstable();
    assert_eq!(
        counts,
        (1..=40).collect::<Vec<u32>>(),
        "no count lost or doubled"
    );
    assert_eq!(store.rate_limit_count(&bucket, start).await.unwrap(), 40);
}

/// A refund takes back one count of its own window, never below zero, and
/// nothing of another window or an unknown bucket.
pub async fn rate_limits_refund_takes_back_one_in_its_window<S: Storage>(store: Arc<S>) {
    let bucket = random_hash();
    let w0 = base_time();
    let w1 = w0 + Duration::minutes(1);
    store.count_rate_limit(&bucket, w0, w1).await.unwrap();
    store.count_rate_limit(&bucket, w0, w1).await.unwrap();
    store.refund_rate_limit(&bucket, w0).await.unwrap();
    assert_eq!(store.rate_limit_count(&bucket, w0).await.unwrap(), 1);
    store.refund_rate_limit(&bucket, w1).await.unwrap();
    assert_eq!(
        store.rate_limit_count(&bucket, w0).await.unwrap(),
        1,
        "another window's refund takes nothing"
    );
    store.refund_rate_limit(&bucket, w0).await.unwrap();
    store.refund_rate_limit(&bucket, w0).await.unwrap();
    assert_eq!(
        store.rate_limit_count(&bucket, w0).await.unwrap(),
        0,
        "never below zero"
    );
    assert_eq!(store.count_rate_limit(&bucket, w0, w1).await.unwrap(), 1);
    store.refund_rate_limit(&random_hash(), w0).await.unwrap();
}

/// The purge removes buckets whose window has ended, at most `limit` per
/// call, and keeps every bucket whose window is still running.
pub async fn rate_limits_purge_removes_only_ended_windows<S: Storage>(store: Arc<S>) {
    let now = base_time();
    let ended: Vec<CredentialHash> = (0..5).map(|_| random_hash()).collect();
    for bucket in &ended {
        store
            .count_rate_limit(
                bucket,
                now - Duration::minutes(2),
                now - Duration::minutes(1),
            )
            .await
            .unwrap();
    }
    let live = random_hash();
    store
        .count_rate_limit(&live, now, now + Duration::minutes(1))
        .await
        .unwrap();
    // Ended exactly now: gone too.
    let at_end = random_hash();
    store
        .count_rate_limit(&at_end, now - Duration::minutes(1), now)
        .await
        .unwrap();
    assert!(
        store.purge_rate_limits(now, 2).await.unwrap() <= 2,
        "bounded by the limit"
    );
    while store.purge_rate_limits(now, 2).await.unwrap() == 2 {}
    for bucket in ended.iter().chain([&at_end]) {
        assert_eq!(
            store
                .rate_limit_count(bucket, now - Duration::minutes(2))
                .await
                .unwrap(),
            0,
            "an ended window is purged"
        );
    }
    assert_eq!(
        store.rate_limit_count(&live, now).await.unwrap(),
        1,
        "a live window stays"
    );
}

/// How many of `hashes` storage still holds.
async fn sessions_held<S: Storage>(store: &S, hashes: &[CredentialHash]) -> usize {
    let mut held = 0;
    for hash in hashes {
        if store
            .open_session(hash, base_time())
            .await
            .unwrap()
            .is_some()
        {
            held += 1;
        }
    }
    held
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

/// A pending Connect session of `app` (version 0, nothing done yet).
pub fn connect_session_record(app: &AppRecord, now: OffsetDateTime) -> SessionRecord {
    let mut session = session_record(app, now);
    session.connect = Some(Box::new(crate::storage::ConnectContext {
        reference_id: "steps".to_owned(),
        claimed_reference_id: None,
        tags: Vec::new(),
        client_name: "Steps".to_owned(),
        customer_id: None,
        customer_info: CustomerInfo::default(),
        filters: None,
        mode: crate::storage::ConnectMode::Create,
        scoped_key: None,
        scoped_key_expires_in: None,
        browser_created: false,
        progress: crate::storage::ConnectProgress::default(),
        step_version: 0,
        locale: Some("fr".to_owned()),
    }));
    session
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

/// A store that fails on demand, wrapping a working one: for testing how a
/// server (or a host) behaves when its backend is down or loses a race.
///
/// Failures carry a source message naming an internal host, so a test can
/// also check that no storage detail reaches a response.
///
/// It also counts the calls of each method ([`calls`](Self::calls)), so a
/// test can show that a refused request never reached storage.
#[derive(Debug, Default)]
pub struct FaultyStore<S> {
    inner: S,
    fail_all: std::sync::Mutex<Option<StorageErrorKind>>,
    fail_method: std::sync::Mutex<Option<(&'static str, StorageErrorKind)>>,
    calls: std::sync::Mutex<std::collections::HashMap<&'static str, usize>>,
}

impl<S> FaultyStore<S> {
    /// Wraps `inner`; nothing fails until told to.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            fail_all: std::sync::Mutex::new(None),
            fail_method: std::sync::Mutex::new(None),
            calls: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// How many times the method named `method` was called (failed calls
    /// included) since the store was made.
    pub fn calls(&self, method: &str) -> usize {
        self.calls.lock().unwrap().get(method).copied().unwrap_or(0)
    }

    /// Makes every call fail with `kind` (`None`: stop failing).
    pub fn fail_all(&self, kind: Option<StorageErrorKind>) {
        *self.fail_all.lock().unwrap() = kind;
    }

    /// Makes only calls of the method named `method` fail with `kind`.
    pub fn fail_method(&self, method: &'static str, kind: Option<StorageErrorKind>) {
        *self.fail_method.lock().unwrap() = kind.map(|k| (method, k));
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn check(&self, method: &'static str) -> Result<(), crate::StorageError> {
        *self.calls.lock().unwrap().entry(method).or_default() += 1;
        let kind = (*self.fail_all.lock().unwrap()).or_else(|| {
            (*self.fail_method.lock().unwrap())
                .filter(|(m, _)| *m == method)
                .map(|(_, k)| k)
        });
        match kind {
            Some(kind) => Err(crate::StorageError::with_source(
                kind,
                "db01.internal:5432 refused connection",
            )),
            None => Ok(()),
        }
    }
}

/// Implements a storage trait for `FaultyStore` by delegation, each method
/// failing first when told to.
macro_rules! delegate {
    ($trait:path { $(async fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)+ }) => {
        #[async_trait::async_trait]
        impl<S: Storage> $trait for FaultyStore<S> {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> Result<$ret, crate::StorageError> {
                    self.check(stringify!($name))?;
                    self.inner.$name($($arg),*).await
                }
            )+
        }
    };
}

delegate! {
    crate::storage::AppStore {
        async fn insert_app(&self, record: &AppRecord) -> ();
        async fn get_app(&self, workspace: &WorkspaceId, id: &AppId) -> Option<AppRecord>;
        async fn get_app_by_client_id(&self, client_id: &ClientId) -> Option<AppRecord>;
        async fn list_apps(&self, workspace: &WorkspaceId, offset: u64, limit: u32) -> crate::storage::Listing<OAuthApp>;
        async fn update_app(&self, workspace: &WorkspaceId, id: &AppId, changes: &AppChanges) -> Option<AppRecord>;
        async fn delete_app(&self, workspace: &WorkspaceId, id: &AppId) -> bool;
        async fn rotate_client_secret(&self, workspace: &WorkspaceId, id: &AppId, rotation: &SecretRotation) -> Option<AppRecord>;
        async fn origin_is_allowed(&self, origin: &Origin) -> bool;
    }
}

delegate! {
    crate::storage::PublishableKeyStore {
        async fn insert_publishable_key(&self, key: &PublishableKeyRecord, max_active: u32) -> PublishableKeyInsert;
        async fn list_publishable_keys(&self, workspace: &WorkspaceId, app_id: &AppId) -> Vec<PublishableKeyRecord>;
        async fn revoke_publishable_key(&self, workspace: &WorkspaceId, app_id: &AppId, id: &PublishableKeyId) -> bool;
        async fn find_publishable_key(&self, hash: &CredentialHash) -> Option<PublishableKeyRecord>;
    }
}

delegate! {
    crate::storage::RateLimitStore {
        async fn count_rate_limit(&self, bucket: &CredentialHash, window_start: OffsetDateTime, window_end: OffsetDateTime) -> u32;
        async fn rate_limit_count(&self, bucket: &CredentialHash, window_start: OffsetDateTime) -> u32;
        async fn refund_rate_limit(&self, bucket: &CredentialHash, window_start: OffsetDateTime) -> ();
        async fn purge_rate_limits(&self, now: OffsetDateTime, limit: u32) -> u64;
    }
}

delegate! {
    crate::storage::AdminKeyStore {
        async fn insert_admin_key(&self, workspace: &WorkspaceId, hash: &CredentialHash, created_at: OffsetDateTime) -> ();
        async fn find_admin_key(&self, hash: &CredentialHash) -> Option<WorkspaceId>;
        async fn delete_admin_key(&self, hash: &CredentialHash) -> bool;
    }
}

delegate! {
    crate::storage::GrantStore {
        async fn insert_session(&self, session: &SessionRecord) -> ();
        async fn insert_pushed_session(&self, session: &SessionRecord, requester: &CredentialHash, max_pending: u32) -> ();
        async fn open_session(&self, hash: &CredentialHash, now: OffsetDateTime) -> Option<SessionRecord>;
        async fn complete_session(&self, hash: &CredentialHash, decision: &SessionDecision, now: OffsetDateTime) -> SessionCompletion;
        async fn get_code(&self, hash: &CredentialHash) -> Option<CodeRecord>;
        async fn redeem_code(&self, hash: &CredentialHash, tokens: &[TokenRecord], grant_expires_at: OffsetDateTime, now: OffsetDateTime) -> CodeRedemption;
        async fn insert_grant(&self, grant: &GrantRecord, tokens: &[TokenRecord]) -> ();
        async fn insert_code(&self, grant: &GrantRecord, code: &CodeRecord) -> ();
        async fn get_grant(&self, id: &GrantId) -> Option<GrantRecord>;
        async fn get_token(&self, hash: &CredentialHash) -> Option<TokenRecord>;
        async fn get_app_and_code(&self, client_id: &ClientId, hash: &CredentialHash) -> Option<crate::storage::Prefetched<CodeRecord>>;
        async fn get_app_and_token(&self, client_id: &ClientId, hash: &CredentialHash) -> Option<crate::storage::Prefetched<TokenRecord>>;
        async fn rotate_refresh_token(&self, hash: &CredentialHash, successors: &[TokenRecord], grant_expires_at: OffsetDateTime, replay_since: Option<OffsetDateTime>, now: OffsetDateTime) -> RefreshRotation;
        async fn revoke_token(&self, hash: &CredentialHash) -> bool;
        async fn revoke_grant(&self, id: &GrantId, now: OffsetDateTime) -> Option<crate::storage::GrantRevocation>;
        async fn revoke_code_grant(&self, hash: &CredentialHash, now: OffsetDateTime) -> Option<crate::storage::GrantRevocation>;
        async fn purge_expired(&self, now: OffsetDateTime, limit: u32) -> u64;
    }
}

delegate! {
    crate::webhooks::WebhookStore {
        async fn insert_webhook_endpoint(&self, endpoint: &crate::webhooks::EndpointRecord, max_per_app: usize) -> ();
        async fn list_webhook_endpoints(&self, workspace: &WorkspaceId, app: &AppId) -> Vec<crate::webhooks::EndpointRecord>;
        async fn get_webhook_endpoint(&self, workspace: &WorkspaceId, app: &AppId, id: &str) -> Option<crate::webhooks::EndpointRecord>;
        async fn update_webhook_endpoint(&self, workspace: &WorkspaceId, app: &AppId, id: &str, changes: &crate::webhooks::EndpointChanges) -> Option<crate::webhooks::EndpointRecord>;
        async fn delete_webhook_endpoint(&self, workspace: &WorkspaceId, app: &AppId, id: &str) -> bool;
        async fn record_webhook_event(&self, event: &crate::webhooks::WebhookEvent) -> u64;
        async fn claim_webhook_deliveries(&self, now: OffsetDateTime, lease: time::Duration, limit: u32) -> Vec<crate::webhooks::ClaimedDelivery>;
        async fn finish_webhook_attempt(&self, delivery_id: &str, result: &crate::webhooks::AttemptResult) -> ();
        async fn list_webhook_deliveries(&self, workspace: &WorkspaceId, app: &AppId, endpoint: &str, limit: u32) -> Vec<crate::webhooks::DeliveryRecord>;
        async fn retry_webhook_delivery(&self, workspace: &WorkspaceId, app: &AppId, endpoint: &str, delivery: &str, now: OffsetDateTime) -> Option<crate::webhooks::DeliveryRecord>;
    }
}

delegate! {
    crate::storage::ConnectStore {
        async fn get_customer(&self, workspace: &WorkspaceId, app_id: Option<&AppId>, id: &CustomerId) -> Option<CustomerRecord>;
        async fn find_customer(&self, workspace: &WorkspaceId, app_id: &AppId, reference_id: &str) -> Option<CustomerRecord>;
        async fn list_customers(&self, workspace: &WorkspaceId, reference_id: Option<&str>, app_id: Option<&AppId>, offset: u64, limit: u32) -> crate::storage::Listing<CustomerRecord>;
        async fn delete_customer(&self, workspace: &WorkspaceId, app_id: Option<&AppId>, id: &CustomerId, now: OffsetDateTime) -> Option<Vec<ConnectionRecord>>;
        async fn attach_connection(&self, workspace: &WorkspaceId, app_id: Option<&AppId>, id: &ConnectionId, to: &crate::storage::AttachTarget, now: OffsetDateTime) -> crate::storage::ConnectionAttach;
        async fn advance_connect(&self, hash: &CredentialHash, expected_version: u32, context: &crate::storage::ConnectContext, now: OffsetDateTime) -> crate::storage::StepAdvance;
        async fn find_connection(&self, app_id: &AppId, reference_id: &str) -> Option<ConnectionRecord>;
        async fn list_connections(&self, workspace: &WorkspaceId, filter: &crate::storage::ConnectionFilter, offset: u64, limit: u32) -> crate::storage::Listing<ConnectionRecord>;
        async fn get_connection(&self, workspace: &WorkspaceId, app_id: Option<&AppId>, id: &ConnectionId) -> Option<ConnectionRecord>;
        async fn update_connection_tags(&self, workspace: &WorkspaceId, app_id: Option<&AppId>, id: &ConnectionId, edit: &crate::storage::TagEdit, now: OffsetDateTime) -> crate::storage::TagUpdate;
        async fn revoke_connection(&self, workspace: &WorkspaceId, app_id: Option<&AppId>, id: &ConnectionId, now: OffsetDateTime) -> Option<ConnectionRecord>;
        async fn insert_scoped_key(&self, key: &ScopedKeyRecord) -> crate::storage::ScopedKeyInsert;
        async fn get_scoped_key(&self, id: &ScopedKeyId) -> Option<ScopedKeyRecord>;
        async fn list_scoped_keys(&self, workspace: &WorkspaceId, app_id: Option<&AppId>, customer_id: Option<&CustomerId>, offset: u64, limit: u32) -> crate::storage::Listing<ScopedKeyRecord>;
        async fn revoke_scoped_key(&self, workspace: &WorkspaceId, app_id: &AppId, id: &ScopedKeyId, now: OffsetDateTime) -> bool;
        async fn revoke_customer_scoped_keys(&self, workspace: &WorkspaceId, customer_id: &CustomerId, now: OffsetDateTime) -> u64;
    }
}
