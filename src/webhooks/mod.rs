//! Webhooks: signed, durable, at-least-once notifications of what happened
//! to an app's connections, customers, Connect sessions, scoped keys and
//! secret, sent to the endpoints the app registered.
//!
//! - [`WebhookEventType`]: the ten event types, each a Standard Webhooks
//!   payload `{ "type", "timestamp", "data" }` with ids and no credential.
//! - [`signing`]: the `whsec_…` signing secrets (kept encrypted under the
//!   server key ring) and the Standard Webhooks signature.
//! - [`WebhookStore`]: the storage contract. The state change that causes
//!   an event writes its message in the same atomic step (an outbox: one
//!   transaction on PostgreSQL, one critical section in memory), and
//!   deliveries are claimed by one worker at a time.
//! - [`schedule`]: the retry schedule (exponential backoff with jitter, for
//!   a day), and when an endpoint is disabled.
//! - The sender and the delivery worker (feature `webhooks`).

pub(crate) mod api;
pub mod schedule;
pub mod signing;

#[cfg(feature = "webhooks")]
pub(crate) mod sender;
#[cfg(feature = "webhooks")]
mod worker;

pub use api::{
    CreatedWebhookEndpoint, NewWebhookEndpoint, RotatedWebhookSecret, WebhookEndpoint,
    WebhookEndpointUpdate, WebhookError,
};
// Configuration, defined with the server's (`config.rs`).
pub use crate::config::WebhookDestinations;
#[cfg(feature = "webhooks")]
#[cfg_attr(docsrs, doc(cfg(feature = "webhooks")))]
pub use sender::{SendError, SendOutcome, WebhookSender};
pub use signing::{SealError, WebhookSecret};
// The storage contract and the events it records are defined with the
// other storage traits (`storage/webhooks.rs`, `storage/webhook_events.rs`),
// below this flow; these are their public paths.
pub use crate::storage::webhook_events::{WebhookEvent, WebhookEventType};
pub use crate::storage::webhooks::{
    AttemptResult, ClaimedDelivery, DeliveryRecord, DeliveryStatus, EndpointChanges,
    EndpointRecord, SealedSecret, WebhookMessage, WebhookStore,
};
#[cfg(feature = "webhooks")]
#[cfg_attr(docsrs, doc(cfg(feature = "webhooks")))]
pub use worker::WebhookWorker;
