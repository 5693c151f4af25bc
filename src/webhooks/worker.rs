//! The delivery worker: claims due deliveries from storage, signs and sends
//! them concurrently, and records each outcome with the retry schedule.
//!
//! Run one per process (any number of processes over one PostgreSQL
//! database: claims never overlap). Each delivery is sent in its own task,
//! at most [`WebhookWorker::concurrency`] at once, so a slow receiver holds
//! one slot for at most the sender's timeout and never delays the others.

use std::future::Future;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use tokio::sync::Semaphore;

use super::schedule;
use super::sender::{SendError, WebhookSender};
use super::signing::{WebhookSecret, signature_header};
use crate::hooks::events::Event;
use crate::model::random::random_array;
use crate::server::AuthorizationServer;
use crate::storage::webhooks::{AttemptResult, ClaimedDelivery};
use crate::storage::{Storage, StorageError};

/// Delivers webhooks for one [`AuthorizationServer`].
#[derive(Debug)]
pub struct WebhookWorker<S> {
    server: AuthorizationServer<S>,
    sender: WebhookSender,
    slots: Arc<Semaphore>,
    concurrency: usize,
    poll_interval: std::time::Duration,
    lease: Duration,
}

impl<S: Storage> WebhookWorker<S> {
    /// A worker for `server`, reaching the destinations its configuration
    /// allows, with 32 concurrent sends, a 10 s timeout per attempt and a
    /// poll every second.
    ///
    /// # Errors
    ///
    /// [`SendError`] when the HTTP client cannot be built.
    pub fn new(server: AuthorizationServer<S>) -> Result<Self, SendError> {
        let sender = WebhookSender::new(server.config().webhook_destinations())?;
        Ok(Self::with_sender(server, sender))
    }

    /// A worker sending with `sender`.
    pub fn with_sender(server: AuthorizationServer<S>, sender: WebhookSender) -> Self {
        Self {
            server,
            sender,
            slots: Arc::new(Semaphore::new(32)),
            concurrency: 32,
            poll_interval: std::time::Duration::from_secs(1),
            lease: Duration::seconds(60),
        }
    }

    /// How many deliveries are sent at once (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self.slots = Arc::new(Semaphore::new(self.concurrency));
        self
    }

    /// How long to wait between polls when nothing is due.
    pub fn poll_interval(mut self, every: std::time::Duration) -> Self {
        self.poll_interval = every;
        self
    }

    /// Claims what is due and sends it, each in its own task, without
    /// waiting for the sends to finish; returns how many were claimed.
    ///
    /// # Errors
    ///
    /// The storage failure of the claim.
    pub async fn poll(&self) -> Result<usize, StorageError> {
        let free = self.slots.available_permits();
        if free == 0 {
            return Ok(0);
        }
        let now = self.server.now();
        let limit = u32::try_from(free).unwrap_or(u32::MAX);
        let claimed = self
            .server
            .storage()
            .claim_webhook_deliveries(now, self.lease, limit)
            .await?;
        let count = claimed.len();
        for claim in claimed {
            let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() else {
                // Cannot happen (claimed at most the free slots); the lease
                // runs out and another poll sends it.
                break;
            };
            let server = self.server.clone();
            let sender = self.sender.clone();
            tokio::spawn(async move {
                deliver(&server, &sender, claim).await;
                drop(permit);
            });
        }
        Ok(count)
    }

    /// Sends what is due until every send in flight is done and nothing is
    /// due any more; for tests and one-shot jobs.
    ///
    /// # Errors
    ///
    /// A storage failure of a claim.
    pub async fn drain(&self) -> Result<(), StorageError> {
        loop {
            let claimed = self.poll().await?;
            if claimed == 0 && self.slots.available_permits() == self.concurrency {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Polls until `shutdown` completes, then waits for the sends in flight.
    /// A storage failure is logged (feature `tracing`) and retried at the
    /// next poll.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let claimed = match self.poll().await {
                Ok(n) => n,
                Err(error) => {
                    crate::telemetry::webhook_poll_failed(error.kind());
                    0
                }
            };
            let pause = if claimed > 0 {
                std::time::Duration::from_millis(10)
            } else {
                self.poll_interval
            };
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
        // Let the sends in flight finish (each within its timeout).
        let all = u32::try_from(self.concurrency).unwrap_or(u32::MAX);
        let _ = self.slots.acquire_many(all).await;
    }
}

/// Signs and sends one claimed delivery, and records how it went.
async fn deliver<S: Storage>(
    server: &AuthorizationServer<S>,
    sender: &WebhookSender,
    claim: ClaimedDelivery,
) {
    let config = server.config();
    let ClaimedDelivery {
        delivery,
        message,
        endpoint,
    } = claim;
    let attempted_at = server.now();
    let mut secrets = Vec::with_capacity(2);
    let opened = WebhookSecret::open(config.keys(), &endpoint.id, &endpoint.secret);
    if let Ok(secret) = opened {
        secrets.push(secret);
    }
    if let Some((sealed, until)) = &endpoint.previous_secret
        && *until > attempted_at
        && let Ok(previous) = WebhookSecret::open(config.keys(), &endpoint.id, sealed)
    {
        secrets.push(previous);
    }
    let outcome = if secrets.is_empty() {
        None
    } else {
        let body = message.body();
        let timestamp = attempted_at.unix_timestamp();
        let headers = [
            ("webhook-id", message.id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            (
                "webhook-signature",
                signature_header(&secrets, &message.id, timestamp, &body),
            ),
        ];
        Some(sender.post(&endpoint.url, &headers, body).await)
    };
    let (status_code, latency, error) = match outcome {
        Some(o) => (o.status, o.latency, o.error),
        None => (
            None,
            std::time::Duration::ZERO,
            Some("the endpoint's secret cannot be opened with the key ring".to_owned()),
        ),
    };
    let finished_at = server.now();
    let mut retry_at = match &error {
        Some(_) => {
            let jitter = random_array::<2>(config.rng())
                .map(u16::from_le_bytes)
                .unwrap_or(u16::MAX / 2);
            let first = delivery.first_attempt_at.unwrap_or(attempted_at);
            schedule::next_attempt(first, delivery.attempts, finished_at, jitter)
        }
        None => None,
    };
    // Disabled when it has failed for a day, or when a message is given up
    // after a day of retries (every attempt of that day failed).
    let disable = error.is_some()
        && (retry_at.is_none()
            || endpoint
                .failing_since
                .is_some_and(|since| finished_at - since >= schedule::DISABLE_AFTER));
    if disable {
        retry_at = None;
    }
    let outcome_name = match (&error, retry_at) {
        (None, _) => "succeeded",
        (Some(_), Some(_)) => "retrying",
        (Some(_), None) => "failed",
    };
    let latency_ms = u32::try_from(latency.as_millis()).unwrap_or(u32::MAX);
    crate::telemetry::webhook_delivery(
        endpoint.app_id.as_str(),
        message.event.event_type.as_str(),
        outcome_name,
        status_code,
        latency,
    );
    let result = AttemptResult {
        attempted_at: truncate(attempted_at),
        status_code,
        latency_ms,
        error,
        retry_at: retry_at.map(truncate),
        disable_endpoint: disable,
    };
    if let Err(e) = server
        .storage()
        .finish_webhook_attempt(&delivery.id, &result)
        .await
    {
        // The lease runs out and the attempt is made again: at least once.
        crate::telemetry::webhook_poll_failed(e.kind());
        return;
    }
    if disable {
        config.events().emit(&Event::WebhookEndpointDisabled {
            workspace_id: endpoint.workspace_id.clone(),
            app_id: endpoint.app_id.clone(),
            endpoint_id: endpoint.id.clone(),
        });
    }
}

fn truncate(at: OffsetDateTime) -> OffsetDateTime {
    crate::model::timestamp::truncate_ms(at)
}
