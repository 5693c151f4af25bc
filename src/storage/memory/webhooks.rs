//! The in-memory webhook store: endpoints, the outbox and deliveries, in
//! process (lost on exit, like the rest of the memory store), with the same
//! claim, retry and disable rules as the PostgreSQL backend.
//!
//! Changes that cause an event record it in their own critical section:
//! into [`Outbox`] queues kept beside the tables they change (taken under
//! the same lock), turned into messages and deliveries the next time the
//! webhook store is used.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use super::MemoryStore;
use crate::model::ids::{AppId, WorkspaceId};
use crate::model::random::{RandomSource, SystemRandom, random_array};
use crate::storage::webhook_events::WebhookEvent;
use crate::storage::webhooks::{
    AttemptResult, ClaimedDelivery, DeliveryRecord, DeliveryStatus, EndpointChanges,
    EndpointRecord, WebhookMessage, WebhookStore,
};
use crate::storage::{StorageError, StorageErrorKind};

/// Finished deliveries kept for the deliveries listing, per store, by
/// default: a bound on the store's memory, not a retention policy (the
/// PostgreSQL backend keeps every delivery until its endpoint goes), so it
/// is the memory store's to set ([`MemoryStore::with_kept_webhook_deliveries`]).
pub(crate) const KEPT_FINISHED: usize = 10_000;

/// Events recorded under a table's lock, waiting to become messages.
pub(super) type Outbox = Vec<WebhookEvent>;

#[derive(Debug)]
pub(super) struct MemoryWebhooks {
    state: Mutex<State>,
    /// Finished deliveries kept (see [`KEPT_FINISHED`]).
    pub(super) kept_finished: usize,
}

impl Default for MemoryWebhooks {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            kept_finished: KEPT_FINISHED,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    endpoints: Vec<EndpointRecord>,
    messages: HashMap<String, WebhookMessage>,
    deliveries: Vec<Row>,
    /// Events recorded directly (sessions, apps), in order.
    pending: Outbox,
}

#[derive(Debug)]
struct Row {
    record: DeliveryRecord,
    lease_until: Option<OffsetDateTime>,
}

fn hex_id(prefix: &str) -> Result<String, StorageError> {
    let bytes = random_array::<16>(&SystemRandom::new() as &dyn RandomSource)
        .map_err(|e| StorageError::with_source(StorageErrorKind::Other, e))?;
    Ok(format!(
        "{prefix}{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

impl MemoryWebhooks {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records an event raised in a critical section of the store (the
    /// caller may hold table locks: this lock is always taken last).
    pub(super) fn record(&self, event: WebhookEvent) {
        self.lock().pending.push(event);
    }
}

impl State {
    /// Turns events into messages with one delivery per subscribed,
    /// enabled endpoint of the app; an event no endpoint wants is dropped.
    fn fan_out(&mut self, events: Outbox) -> Result<u64, StorageError> {
        let mut made = 0;
        for event in events {
            let targets: Vec<String> = self
                .endpoints
                .iter()
                .filter(|e| {
                    e.enabled
                        && e.app_id == event.app_id
                        && e.workspace_id == event.workspace_id
                        && e.events.contains(&event.event_type)
                })
                .map(|e| e.id.clone())
                .collect();
            if targets.is_empty() {
                continue;
            }
            let message = WebhookMessage {
                id: hex_id("msg_")?,
                event,
            };
            for endpoint_id in targets {
                self.deliveries.push(Row {
                    record: DeliveryRecord {
                        id: hex_id("whd_")?,
                        endpoint_id,
                        message_id: message.id.clone(),
                        event_type: message.event.event_type,
                        status: DeliveryStatus::Pending,
                        attempts: 0,
                        next_attempt_at: None,
                        first_attempt_at: None,
                        last_attempt_at: None,
                        last_status_code: None,
                        last_latency_ms: None,
                        last_error: None,
                        created_at: message.event.timestamp,
                    },
                    lease_until: None,
                });
                made += 1;
            }
            self.messages.insert(message.id.clone(), message);
        }
        Ok(made)
    }

    /// Drops the oldest finished deliveries beyond `kept` (once there are
    /// twice as many, so the work is amortised), and messages no delivery
    /// refers to.
    fn compact(&mut self, kept: usize) {
        let finished = self
            .deliveries
            .iter()
            .filter(|r| r.record.status != DeliveryStatus::Pending)
            .count();
        if finished <= kept.saturating_mul(2) {
            return;
        }
        let mut drop = finished - kept;
        self.deliveries.retain(|r| {
            if drop > 0 && r.record.status != DeliveryStatus::Pending {
                drop -= 1;
                false
            } else {
                true
            }
        });
        let live: std::collections::HashSet<&str> = self
            .deliveries
            .iter()
            .map(|r| r.record.message_id.as_str())
            .collect();
        self.messages.retain(|id, _| live.contains(id.as_str()));
    }

    fn endpoint_of(&self, ws: &WorkspaceId, app: &AppId, id: &str) -> Option<usize> {
        self.endpoints
            .iter()
            .position(|e| e.id == id && &e.workspace_id == ws && &e.app_id == app)
    }
}

impl MemoryStore {
    /// Moves the events queued beside the tables into the webhook outbox
    /// (locks in the store's order: customers, connections, scoped keys,
    /// then the webhooks); events no endpoint wants are dropped. Every
    /// webhook method and `purge_expired` call it, so the queues stay short
    /// whether or not a worker runs.
    pub(super) fn drain_webhook_events(&self) -> Result<(), StorageError> {
        let mut events = Vec::new();
        {
            let mut customers = super::write(&self.customers);
            let mut connections = super::write(&self.connections);
            let mut keys = super::write(&self.scoped_keys);
            events.append(&mut customers.outbox);
            events.append(&mut connections.outbox);
            events.append(&mut keys.outbox);
        }
        let mut state = self.webhooks.lock();
        let mut all = std::mem::take(&mut state.pending);
        all.append(&mut events);
        all.sort_by_key(|e| e.timestamp);
        state.fan_out(all)?;
        Ok(())
    }
}

#[async_trait]
impl WebhookStore for MemoryStore {
    async fn insert_webhook_endpoint(
        &self,
        endpoint: &EndpointRecord,
        max_per_app: usize,
    ) -> Result<(), StorageError> {
        self.drain_webhook_events()?;
        let mut state = self.webhooks.lock();
        let count = state
            .endpoints
            .iter()
            .filter(|e| e.app_id == endpoint.app_id)
            .count();
        if count >= max_per_app || state.endpoints.iter().any(|e| e.id == endpoint.id) {
            return Err(StorageError::new(StorageErrorKind::Conflict));
        }
        state.endpoints.push(endpoint.clone());
        Ok(())
    }

    async fn list_webhook_endpoints(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
    ) -> Result<Vec<EndpointRecord>, StorageError> {
        let state = self.webhooks.lock();
        Ok(state
            .endpoints
            .iter()
            .filter(|e| &e.workspace_id == workspace && &e.app_id == app)
            .cloned()
            .collect())
    }

    async fn get_webhook_endpoint(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
        id: &str,
    ) -> Result<Option<EndpointRecord>, StorageError> {
        let state = self.webhooks.lock();
        Ok(state
            .endpoint_of(workspace, app, id)
            .map(|i| state.endpoints[i].clone()))
    }

    async fn update_webhook_endpoint(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
        id: &str,
        changes: &EndpointChanges,
    ) -> Result<Option<EndpointRecord>, StorageError> {
        self.drain_webhook_events()?;
        let mut state = self.webhooks.lock();
        let Some(i) = state.endpoint_of(workspace, app, id) else {
            return Ok(None);
        };
        let endpoint = &mut state.endpoints[i];
        if let Some(url) = &changes.url {
            endpoint.url.clone_from(url);
        }
        if let Some(events) = &changes.events {
            endpoint.events.clone_from(events);
        }
        if let Some(enabled) = changes.enabled {
            if enabled && !endpoint.enabled {
                endpoint.failing_since = None;
            }
            endpoint.enabled = enabled;
        }
        if let Some((secret, previous_until)) = &changes.secret {
            let old = std::mem::replace(&mut endpoint.secret, secret.clone());
            endpoint.previous_secret = previous_until.map(|until| (old, until));
        }
        endpoint.updated_at = changes.updated_at;
        Ok(Some(endpoint.clone()))
    }

    async fn delete_webhook_endpoint(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
        id: &str,
    ) -> Result<bool, StorageError> {
        let mut state = self.webhooks.lock();
        let Some(i) = state.endpoint_of(workspace, app, id) else {
            return Ok(false);
        };
        state.endpoints.remove(i);
        state.deliveries.retain(|r| r.record.endpoint_id != id);
        Ok(true)
    }

    async fn record_webhook_event(&self, event: &WebhookEvent) -> Result<u64, StorageError> {
        self.drain_webhook_events()?;
        self.webhooks.lock().fan_out(vec![event.clone()])
    }

    async fn claim_webhook_deliveries(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StorageError> {
        self.drain_webhook_events()?;
        let mut state = self.webhooks.lock();
        let State {
            endpoints,
            messages,
            deliveries,
            ..
        } = &mut *state;
        let mut claimed = Vec::new();
        for row in deliveries.iter_mut() {
            if claimed.len() >= limit as usize {
                break;
            }
            let due = row.record.status == DeliveryStatus::Pending
                && row.record.next_attempt_at.is_none_or(|at| at <= now)
                && row.lease_until.is_none_or(|until| until <= now);
            if !due {
                continue;
            }
            let Some(endpoint) = endpoints
                .iter()
                .find(|e| e.id == row.record.endpoint_id && e.enabled)
            else {
                continue;
            };
            let Some(message) = messages.get(&row.record.message_id) else {
                continue;
            };
            row.lease_until = Some(now + lease);
            row.record.attempts += 1;
            row.record.first_attempt_at.get_or_insert(now);
            claimed.push(ClaimedDelivery {
                delivery: row.record.clone(),
                message: message.clone(),
                endpoint: endpoint.clone(),
            });
        }
        Ok(claimed)
    }

    async fn finish_webhook_attempt(
        &self,
        delivery_id: &str,
        result: &AttemptResult,
    ) -> Result<(), StorageError> {
        let mut state = self.webhooks.lock();
        let Some(row) = state
            .deliveries
            .iter_mut()
            .find(|r| r.record.id == delivery_id)
        else {
            return Ok(());
        };
        row.lease_until = None;
        let record = &mut row.record;
        record.last_attempt_at = Some(result.attempted_at);
        record.last_status_code = result.status_code;
        record.last_latency_ms = Some(result.latency_ms);
        record.last_error.clone_from(&result.error);
        record.next_attempt_at = None;
        record.status = match (&result.error, result.retry_at) {
            (None, _) => DeliveryStatus::Succeeded,
            (Some(_), Some(at)) => {
                record.next_attempt_at = Some(at);
                DeliveryStatus::Pending
            }
            (Some(_), None) => DeliveryStatus::Failed,
        };
        let endpoint_id = record.endpoint_id.clone();
        let failed = result.error.is_some();
        if let Some(endpoint) = state.endpoints.iter_mut().find(|e| e.id == endpoint_id) {
            if failed {
                endpoint.failing_since.get_or_insert(result.attempted_at);
            } else {
                endpoint.failing_since = None;
            }
            if result.disable_endpoint {
                endpoint.enabled = false;
            }
        }
        if result.disable_endpoint {
            for row in state
                .deliveries
                .iter_mut()
                .filter(|r| r.record.endpoint_id == endpoint_id)
                .filter(|r| r.record.status == DeliveryStatus::Pending)
            {
                row.record.status = DeliveryStatus::Failed;
                row.record.next_attempt_at = None;
                row.lease_until = None;
            }
        }
        state.compact(self.webhooks.kept_finished);
        Ok(())
    }

    async fn list_webhook_deliveries(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
        endpoint: &str,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StorageError> {
        self.drain_webhook_events()?;
        let state = self.webhooks.lock();
        if state.endpoint_of(workspace, app, endpoint).is_none() {
            return Ok(Vec::new());
        }
        Ok(state
            .deliveries
            .iter()
            .rev()
            .filter(|r| r.record.endpoint_id == endpoint)
            .take(limit as usize)
            .map(|r| r.record.clone())
            .collect())
    }

    async fn retry_webhook_delivery(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
        endpoint: &str,
        delivery: &str,
        now: OffsetDateTime,
    ) -> Result<Option<DeliveryRecord>, StorageError> {
        let mut state = self.webhooks.lock();
        if state.endpoint_of(workspace, app, endpoint).is_none() {
            return Ok(None);
        }
        let Some(row) = state
            .deliveries
            .iter_mut()
            .find(|r| r.record.id == delivery && r.record.endpoint_id == endpoint)
        else {
            return Ok(None);
        };
        if row.lease_until.is_some_and(|until| until > now) {
            // Being sent right now: that attempt decides.
            return Ok(Some(row.record.clone()));
        }
        row.record.status = DeliveryStatus::Pending;
        row.record.next_attempt_at = Some(now);
        row.record.first_attempt_at = None;
        row.record.attempts = 0;
        Ok(Some(row.record.clone()))
    }
}

fn session_data(
    session: &crate::storage::SessionRecord,
    event_type: crate::storage::webhook_events::WebhookEventType,
    at: OffsetDateTime,
) -> Option<WebhookEvent> {
    let connect = session.connect.as_ref()?;
    let mode = match connect.mode {
        crate::storage::ConnectMode::Create => "create",
        crate::storage::ConnectMode::Update => "update",
    };
    Some(crate::storage::webhook_events::data::session(
        event_type,
        &session.workspace_id,
        &session.app_id,
        session.client_id.as_str(),
        &connect.reference_id,
        mode,
        at,
    ))
}

/// `connect.session.completed` or `.denied` for a Connect session just
/// decided; `None` for a plain OAuth session.
pub(super) fn session_event(
    session: &crate::storage::SessionRecord,
    at: OffsetDateTime,
) -> Option<WebhookEvent> {
    use crate::storage::SessionStatus;
    use crate::storage::webhook_events::WebhookEventType as Hook;
    let event_type = match session.status {
        SessionStatus::Approved => Hook::ConnectSessionCompleted,
        SessionStatus::Denied => Hook::ConnectSessionDenied,
        _ => return None,
    };
    session_data(session, event_type, at)
}

/// `connect.session.expired` for an unanswered Connect session, at its
/// expiry.
pub(super) fn expired_event(session: &crate::storage::SessionRecord) -> Option<WebhookEvent> {
    if session.status != crate::storage::SessionStatus::Pending {
        return None;
    }
    session_data(
        session,
        crate::storage::webhook_events::WebhookEventType::ConnectSessionExpired,
        session.expires_at,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::webhook_events::WebhookEventType;

    fn row(n: usize, status: DeliveryStatus) -> Row {
        Row {
            record: DeliveryRecord {
                id: format!("whd_{n}"),
                endpoint_id: "whk_1".to_owned(),
                message_id: format!("msg_{n}"),
                event_type: WebhookEventType::ConnectionCreated,
                status,
                attempts: 1,
                next_attempt_at: None,
                first_attempt_at: None,
                last_attempt_at: None,
                last_status_code: None,
                last_latency_ms: None,
                last_error: None,
                created_at: OffsetDateTime::UNIX_EPOCH,
            },
            lease_until: None,
        }
    }

    /// The memory bound on finished deliveries is the store's option: the
    /// oldest finished ones beyond it go (once twice as many pile up), the
    /// pending ones never.
    #[test]
    fn finished_deliveries_are_bounded_by_the_store_option() {
        let store = MemoryStore::new();
        assert_eq!(store.webhooks.kept_finished, KEPT_FINISHED);
        let store = MemoryStore::new().with_kept_webhook_deliveries(2);
        let kept = store.webhooks.kept_finished;
        assert_eq!(kept, 2);
        let mut state = State::default();
        state.deliveries.push(row(0, DeliveryStatus::Pending));
        for n in 1..=5 {
            state.deliveries.push(row(n, DeliveryStatus::Succeeded));
        }
        state.compact(KEPT_FINISHED);
        assert_eq!(state.deliveries.len(), 6, "the default keeps them all");
        state.compact(kept);
        let ids: Vec<&str> = state
            .deliveries
            .iter()
            .map(|r| r.record.id.as_str())
            .collect();
        assert_eq!(ids, ["whd_0", "whd_4", "whd_5"]);
    }
}
