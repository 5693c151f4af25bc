//! The webhook checks of the conformance suite ([`WebhookStore`]): the
//! outbox written with the change, claims that never overlap, the attempt
//! bookkeeping, and endpoints kept to their app.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::json;
use time::Duration;

use super::{app_record, base_time, fresh_workspace, random_hash};
use crate::model::random::random_array;
use crate::storage::{SecretRotation, Storage};
use crate::webhooks::{
    AttemptResult, DeliveryStatus, EndpointChanges, EndpointRecord, SealedSecret, WebhookEvent,
    WebhookEventType,
};

fn endpoint(record: &crate::storage::AppRecord, events: &[WebhookEventType]) -> EndpointRecord {
    let id: [u8; 16] = random_array(&super::rng()).unwrap();
    let at = base_time();
    EndpointRecord {
        id: format!("whk_{}", crate::model::ids::hex(&id)),
        workspace_id: record.app.workspace_id.clone(),
        app_id: record.app.id.clone(),
        url: "https://hooks.example.com/in".to_owned(),
        events: events.to_vec(),
        enabled: true,
        secret: SealedSecret {
            key_id: 1,
            ciphertext: vec![7; 60],
        },
        previous_secret: None,
        failing_since: None,
        created_at: at,
        updated_at: at,
    }
}

fn event(record: &crate::storage::AppRecord, n: usize) -> WebhookEvent {
    WebhookEvent {
        workspace_id: record.app.workspace_id.clone(),
        app_id: record.app.id.clone(),
        event_type: WebhookEventType::ConnectionRevoked,
        timestamp: base_time(),
        data: json!({"n": n}),
    }
}

/// A change that is an event (a client-secret rotation) writes its message
/// in the same step, for the subscribed endpoint of its app only.
pub async fn webhooks_outbox_is_written_with_the_change<S: Storage>(store: Arc<S>) {
    let ws = fresh_workspace();
    let current = random_hash();
    let app = app_record(&ws, base_time(), Some(current));
    let other = app_record(&ws, base_time(), Some(random_hash()));
    store.insert_app(&app).await.unwrap();
    store.insert_app(&other).await.unwrap();
    let subscribed = endpoint(&app, &[WebhookEventType::AppSecretRotated]);
    let elsewhere = endpoint(&other, &[WebhookEventType::AppSecretRotated]);
    let unsubscribed = endpoint(&app, &[WebhookEventType::ConnectionRevoked]);
    for e in [&subscribed, &elsewhere, &unsubscribed] {
        store.insert_webhook_endpoint(e, 16).await.unwrap();
    }
    let rotated = store
        .rotate_client_secret(
            &ws,
            &app.app.id,
            &SecretRotation {
                expected_current: current,
                new_current: random_hash(),
                previous_valid_until: None,
                updated_at: base_time(),
            },
        )
        .await
        .unwrap();
    assert!(rotated.is_some());
    let deliveries = store
        .list_webhook_deliveries(&ws, &app.app.id, &subscribed.id, 10)
        .await
        .unwrap();
    assert_eq!(
        deliveries.len(),
        1,
        "one delivery, written with the rotation"
    );
    assert_eq!(deliveries[0].event_type, WebhookEventType::AppSecretRotated);
    assert_eq!(deliveries[0].status, DeliveryStatus::Pending);
    for (app_id, id) in [
        (&other.app.id, &elsewhere.id),
        (&app.app.id, &unsubscribed.id),
    ] {
        let none = store
            .list_webhook_deliveries(&ws, app_id, id, 10)
            .await
            .unwrap();
        assert!(none.is_empty(), "another app's or an unsubscribed endpoint");
    }
    let claimed = store
        .claim_webhook_deliveries(base_time() + Duration::SECOND, Duration::MINUTE, 100)
        .await
        .unwrap();
    let mine: Vec<_> = claimed
        .iter()
        .filter(|c| c.endpoint.id == subscribed.id)
        .collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].message.event.data["appId"], app.app.id.as_str());
    assert_eq!(
        mine[0].message.event.data["clientId"],
        app.app.client_id.as_str()
    );
}

/// Concurrent claims never return the same delivery, and a claimed one is
/// not claimed again while its lease runs; after it, it is (at least once).
pub async fn webhooks_claims_never_overlap<S: Storage>(store: Arc<S>) {
    let ws = fresh_workspace();
    let app = app_record(&ws, base_time(), None);
    store.insert_app(&app).await.unwrap();
    let e = endpoint(&app, &[WebhookEventType::ConnectionRevoked]);
    store.insert_webhook_endpoint(&e, 16).await.unwrap();
    for n in 0..40 {
        assert_eq!(
            store.record_webhook_event(&event(&app, n)).await.unwrap(),
            1
        );
    }
    let now = base_time() + Duration::SECOND;
    let claims = (0..4).map(|_| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            store
                .claim_webhook_deliveries(now, Duration::MINUTE, 40)
                .await
                .unwrap()
        })
    });
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for claim in claims {
        for c in claim.await.unwrap() {
            if c.endpoint.id == e.id {
                total += 1;
                assert_eq!(c.delivery.attempts, 1);
                seen.insert(c.delivery.id);
            }
        }
    }
    assert_eq!(total, 40, "every delivery claimed once");
    assert_eq!(seen.len(), 40, "no delivery claimed twice");
    let again = store
        .claim_webhook_deliveries(now + Duration::SECOND, Duration::MINUTE, 100)
        .await
        .unwrap();
    assert!(again.iter().all(|c| c.endpoint.id != e.id), "leased");
    let after = store
        .claim_webhook_deliveries(now + Duration::minutes(2), Duration::MINUTE, 100)
        .await
        .unwrap();
    assert_eq!(
        after.iter().filter(|c| c.endpoint.id == e.id).count(),
        40,
        "an expired lease is claimed again"
    );
}

/// A failed attempt waits for its retry time, a success ends it, a given-up
/// one fails, a retry by hand makes it due again, and disabling the endpoint
/// fails its pending deliveries.
pub async fn webhooks_attempts_are_recorded_and_retried<S: Storage>(store: Arc<S>) {
    let ws = fresh_workspace();
    let app = app_record(&ws, base_time(), None);
    store.insert_app(&app).await.unwrap();
    let e = endpoint(&app, &[WebhookEventType::ConnectionRevoked]);
    store.insert_webhook_endpoint(&e, 16).await.unwrap();
    store.record_webhook_event(&event(&app, 0)).await.unwrap();
    let t0 = base_time() + Duration::SECOND;
    let mine = |claimed: Vec<crate::webhooks::ClaimedDelivery>| {
        claimed
            .into_iter()
            .filter(|c| c.endpoint.id == e.id)
            .collect::<Vec<_>>()
    };
    let first = mine(
        store
            .claim_webhook_deliveries(t0, Duration::MINUTE, 100)
            .await
            .unwrap(),
    );
    assert_eq!(first.len(), 1);
    let id = first[0].delivery.id.clone();
    store
        .finish_webhook_attempt(
            &id,
            &AttemptResult {
                attempted_at: t0,
                status_code: Some(503),
                latency_ms: 12,
                error: Some("HTTP 503".into()),
                retry_at: Some(t0 + Duration::seconds(10)),
                disable_endpoint: false,
            },
        )
        .await
        .unwrap();
    let early = mine(
        store
            .claim_webhook_deliveries(t0 + Duration::seconds(5), Duration::MINUTE, 100)
            .await
            .unwrap(),
    );
    assert!(early.is_empty(), "not before its retry time");
    let failing = store
        .get_webhook_endpoint(&ws, &app.app.id, &e.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(failing.failing_since, Some(t0));
    let second = mine(
        store
            .claim_webhook_deliveries(t0 + Duration::seconds(11), Duration::MINUTE, 100)
            .await
            .unwrap(),
    );
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].delivery.attempts, 2);
    assert_eq!(second[0].delivery.first_attempt_at, Some(t0));
    store
        .finish_webhook_attempt(
            &id,
            &AttemptResult {
                attempted_at: t0 + Duration::seconds(11),
                status_code: Some(204),
                latency_ms: 3,
                error: None,
                retry_at: None,
                disable_endpoint: false,
            },
        )
        .await
        .unwrap();
    let listed = store
        .list_webhook_deliveries(&ws, &app.app.id, &e.id, 10)
        .await
        .unwrap();
    assert_eq!(listed[0].status, DeliveryStatus::Succeeded);
    assert_eq!(listed[0].last_status_code, Some(204));
    assert_eq!(listed[0].last_error, None);
    let healthy = store
        .get_webhook_endpoint(&ws, &app.app.id, &e.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        healthy.failing_since, None,
        "a success clears failing_since"
    );
    let t1 = t0 + Duration::minutes(1);
    let retried = store
        .retry_webhook_delivery(&ws, &app.app.id, &e.id, &id, t1)
        .await
        .unwrap()
        .expect("the delivery");
    assert_eq!(retried.status, DeliveryStatus::Pending);
    assert_eq!(retried.attempts, 0);
    // Disabling the endpoint (a day of failures) fails what is pending.
    store.record_webhook_event(&event(&app, 1)).await.unwrap();
    let third = mine(
        store
            .claim_webhook_deliveries(t1, Duration::MINUTE, 100)
            .await
            .unwrap(),
    );
    assert_eq!(third.len(), 2);
    store
        .finish_webhook_attempt(
            &third[0].delivery.id,
            &AttemptResult {
                attempted_at: t1,
                status_code: None,
                latency_ms: 10_000,
                error: Some("timed out".into()),
                retry_at: None,
                disable_endpoint: true,
            },
        )
        .await
        .unwrap();
    let disabled = store
        .get_webhook_endpoint(&ws, &app.app.id, &e.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!disabled.enabled);
    let listed = store
        .list_webhook_deliveries(&ws, &app.app.id, &e.id, 10)
        .await
        .unwrap();
    let failed = listed
        .iter()
        .filter(|d| d.status == DeliveryStatus::Failed)
        .count();
    assert!(failed >= 1);
    assert!(
        store
            .retry_webhook_delivery(&ws, &app.app.id, &e.id, "whd_unknown", t1)
            .await
            .unwrap()
            .is_none()
    );
}

/// Endpoints belong to their app and workspace: reads, changes and
/// deletion through another app or workspace find nothing; a rotation with
/// a grace period keeps the old secret as the previous one; the per-app
/// bound holds.
pub async fn webhooks_endpoints_belong_to_their_app<S: Storage>(store: Arc<S>) {
    let ws = fresh_workspace();
    let app = app_record(&ws, base_time(), None);
    let other = app_record(&ws, base_time(), None);
    store.insert_app(&app).await.unwrap();
    store.insert_app(&other).await.unwrap();
    let e = endpoint(&app, &[WebhookEventType::CustomerDeleted]);
    store.insert_webhook_endpoint(&e, 2).await.unwrap();
    assert_eq!(
        store
            .get_webhook_endpoint(&ws, &app.app.id, &e.id)
            .await
            .unwrap()
            .as_ref(),
        Some(&e)
    );
    assert!(
        store
            .get_webhook_endpoint(&ws, &other.app.id, &e.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get_webhook_endpoint(&fresh_workspace(), &app.app.id, &e.id)
            .await
            .unwrap()
            .is_none()
    );
    let until = base_time() + Duration::HOUR;
    let new_secret = SealedSecret {
        key_id: 2,
        ciphertext: vec![9; 60],
    };
    let changed = store
        .update_webhook_endpoint(
            &ws,
            &app.app.id,
            &e.id,
            &EndpointChanges {
                url: Some("https://hooks.example.com/v2".into()),
                events: None,
                enabled: None,
                secret: Some((new_secret.clone(), Some(until))),
                updated_at: base_time(),
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.url, "https://hooks.example.com/v2");
    assert_eq!(changed.events, e.events);
    assert_eq!(changed.secret, new_secret);
    assert_eq!(changed.previous_secret, Some((e.secret.clone(), until)));
    assert!(
        store
            .update_webhook_endpoint(
                &ws,
                &other.app.id,
                &e.id,
                &EndpointChanges {
                    url: None,
                    events: None,
                    enabled: Some(false),
                    secret: None,
                    updated_at: base_time(),
                },
            )
            .await
            .unwrap()
            .is_none()
    );
    store
        .insert_webhook_endpoint(&endpoint(&app, &[WebhookEventType::CustomerDeleted]), 2)
        .await
        .unwrap();
    let third = store
        .insert_webhook_endpoint(&endpoint(&app, &[WebhookEventType::CustomerDeleted]), 2)
        .await;
    assert_eq!(
        third.unwrap_err().kind(),
        crate::storage::StorageErrorKind::Conflict,
        "at most the bound per app"
    );
    assert!(
        !store
            .delete_webhook_endpoint(&ws, &other.app.id, &e.id)
            .await
            .unwrap()
    );
    assert!(
        store
            .delete_webhook_endpoint(&ws, &app.app.id, &e.id)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .list_webhook_endpoints(&ws, &app.app.id)
            .await
            .unwrap()
            .len(),
        1
    );
}
