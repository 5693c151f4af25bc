//! The webhook storage contract: endpoints, the outbox of messages and
//! their deliveries.

use async_trait::async_trait;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use super::webhook_events::{WebhookEvent, WebhookEventType};
use crate::model::ids::{AppId, WorkspaceId};
use crate::storage::StorageError;

/// A webhook signing secret as stored: encrypted under the key ring's key
/// `key_id` (nonce, then ciphertext and tag).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    /// The key ring key it is encrypted under.
    pub key_id: u8,
    /// Nonce, ciphertext and tag.
    pub ciphertext: Vec<u8>,
}

/// Written by hand, to be short: the ciphertext is sealed (AES-256-GCM) and
/// its bytes tell a reader nothing; the key id is what is worth showing.
impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedSecret")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// A webhook endpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRecord {
    /// `whk_…`.
    pub id: String,
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The app whose events it receives.
    pub app_id: AppId,
    /// Where messages are posted.
    pub url: String,
    /// The event types it receives.
    pub events: Vec<WebhookEventType>,
    /// Whether deliveries are made.
    pub enabled: bool,
    /// The signing secret.
    pub secret: SealedSecret,
    /// The previous secret, still signing until its time (a rotation's
    /// grace period).
    pub previous_secret: Option<(SealedSecret, OffsetDateTime)>,
    /// Since when every attempt failed; `None` after a success.
    pub failing_since: Option<OffsetDateTime>,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Last changed.
    pub updated_at: OffsetDateTime,
}

/// A change of an endpoint; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointChanges {
    /// A new URL.
    pub url: Option<String>,
    /// New event types.
    pub events: Option<Vec<WebhookEventType>>,
    /// Enable or disable; enabling clears `failing_since`.
    pub enabled: Option<bool>,
    /// A new secret; the current one becomes the previous one until the
    /// given time (or is dropped at once when `None`).
    pub secret: Option<(SealedSecret, Option<OffsetDateTime>)>,
    /// The new `updatedAt`.
    pub updated_at: OffsetDateTime,
}

/// A message of the outbox: one event, sent to every endpoint of the app
/// that subscribed to its type when it was recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookMessage {
    /// `msg_…`: the `webhook-id`, the same on every attempt.
    pub id: String,
    /// The event.
    pub event: WebhookEvent,
}

impl WebhookMessage {
    /// The body sent: `{"type", "timestamp", "data"}`.
    pub fn body(&self) -> Vec<u8> {
        let payload = serde_json::json!({
            "type": self.event.event_type.as_str(),
            "timestamp": crate::model::timestamp::format(self.event.timestamp),
            "data": self.event.data,
        });
        serde_json::to_vec(&payload).unwrap_or_default()
    }

    /// The payload's `data`.
    pub fn data(&self) -> &Value {
        &self.event.data
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Given up after a day of failures (or the endpoint was disabled).
    Failed,
}

impl DeliveryStatus {
    /// `pending`, `succeeded` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// The status with this name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "pending" => Some(Self::Pending),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One message to one endpoint, and its last attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// `whd_…`.
    pub id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// The message (`webhook-id`).
    pub message_id: String,
    /// The message's event type.
    pub event_type: WebhookEventType,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<OffsetDateTime>,
    /// When the first attempt was made.
    pub first_attempt_at: Option<OffsetDateTime>,
    /// When the last attempt was made.
    pub last_attempt_at: Option<OffsetDateTime>,
    /// The last attempt's HTTP status, if an answer came.
    pub last_status_code: Option<u16>,
    /// The last attempt's duration in milliseconds.
    pub last_latency_ms: Option<u32>,
    /// Why the last attempt failed, in a few words (never a body).
    pub last_error: Option<String>,
    /// When the message was recorded.
    pub created_at: OffsetDateTime,
}

/// A delivery claimed by a worker, with what it needs to send it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    /// The delivery (its `attempts` counts this attempt).
    pub delivery: DeliveryRecord,
    /// The message.
    pub message: WebhookMessage,
    /// The endpoint.
    pub endpoint: EndpointRecord,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    /// When the attempt started.
    pub attempted_at: OffsetDateTime,
    /// The answer's status, if one came.
    pub status_code: Option<u16>,
    /// How long it took.
    pub latency_ms: u32,
    /// Why it failed; `None` on success.
    pub error: Option<String>,
    /// The next attempt, for a failure that is retried; `None` with an
    /// error gives the message up.
    pub retry_at: Option<OffsetDateTime>,
    /// Disable the endpoint (it failed for a day); its pending deliveries
    /// fail with it.
    pub disable_endpoint: bool,
}

/// Storage of webhook endpoints, the outbox and deliveries.
///
/// Every state change that causes an event (see
/// [`WebhookEventType`]) records its message in the same atomic step as
/// the change itself, with one delivery per enabled endpoint of the app
/// that subscribed to the type: on PostgreSQL the triggers of migration
/// `0012_webhooks.sql` do so inside the statement's transaction.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Inserts an endpoint.
    ///
    /// # Errors
    ///
    /// [`StorageErrorKind::Conflict`](crate::storage::StorageErrorKind::Conflict)
    /// when the id exists or the app already has `max_per_app` endpoints.
    async fn insert_webhook_endpoint(
        &self,
        endpoint: &EndpointRecord,
        max_per_app: usize,
    ) -> Result<(), StorageError>;

    /// The app's endpoints, oldest first.
    async fn list_webhook_endpoints(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
    ) -> Result<Vec<EndpointRecord>, StorageError>;

    /// One endpoint of the app.
    async fn get_webhook_endpoint(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
        id: &str,
    ) -> Result<Option<EndpointRecord>, StorageError>;

    /// Applies `changes` atomically; `None` if there is no such endpoint.
    async fn update_webhook_endpoint(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
        id: &str,
        changes: &EndpointChanges,
    ) -> Result<Option<EndpointRecord>, StorageError>;

    /// Deletes an endpoint and its deliveries; `false` if there was none.
    async fn delete_webhook_endpoint(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
        id: &str,
    ) -> Result<bool, StorageError>;

    /// Records a message for an event the core raises itself (outside a
    /// storage change), with its deliveries. Returns how many deliveries.
    async fn record_webhook_event(&self, event: &WebhookEvent) -> Result<u64, StorageError>;

    /// Claims up to `limit` deliveries due at `now` (pending, of enabled
    /// endpoints, not claimed by another worker whose lease is running),
    /// counts the attempt and leases them until `now + lease`. Two workers
    /// never claim the same delivery while its lease runs.
    async fn claim_webhook_deliveries(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StorageError>;

    /// Records how a claimed attempt ended: a success, a retry at
    /// `retry_at`, or a failure that gives up; updates the endpoint's
    /// `failing_since` and disables it when asked.
    async fn finish_webhook_attempt(
        &self,
        delivery_id: &str,
        result: &AttemptResult,
    ) -> Result<(), StorageError>;

    /// The endpoint's most recent deliveries, newest first, at most
    /// `limit`.
    async fn list_webhook_deliveries(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
        endpoint: &str,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StorageError>;

    /// Makes a delivery of the endpoint due again at `now` (whatever its
    /// status), its attempt count and first attempt reset; `None` if
    /// there is no such delivery.
    async fn retry_webhook_delivery(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
        endpoint: &str,
        delivery: &str,
        now: OffsetDateTime,
    ) -> Result<Option<DeliveryRecord>, StorageError>;
}
