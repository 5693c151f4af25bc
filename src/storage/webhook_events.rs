//! The webhook events as storage records them: what happened
//! ([`WebhookEventType`]), the [`WebhookEvent`] written to the outbox in the
//! same atomic step as the change, and the builders of each event's `data`
//! shared by the backends. Re-exported by [`crate::webhooks`].

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::model::ids::{AppId, WorkspaceId};

/// What happened: the `type` of a webhook payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum WebhookEventType {
    /// `connect.session.completed`: a Connect session was approved.
    ConnectSessionCompleted,
    /// `connect.session.denied`: the user denied a Connect session.
    ConnectSessionDenied,
    /// `connect.session.expired`: a Connect session ended unanswered (sent
    /// when [`purge_expired`](crate::AuthorizationServer::purge_expired)
    /// removes it).
    ConnectSessionExpired,
    /// `connection.created`: a completed session created a connection.
    ConnectionCreated,
    /// `connection.updated`: a connection was updated (an update-mode
    /// session, edited tags, attached to a customer).
    ConnectionUpdated,
    /// `connection.revoked`: a connection was revoked (through the API, with
    /// its customer, or with its grant).
    ConnectionRevoked,
    /// `customer.updated`: a session updated an existing customer.
    CustomerUpdated,
    /// `customer.deleted`: a customer was deleted.
    CustomerDeleted,
    /// `scoped_key.revoked`: a scoped key was revoked (alone, with its
    /// customer, or with its grant).
    ScopedKeyRevoked,
    /// `app.secret_rotated`: the app's client secret was rotated.
    AppSecretRotated,
}

impl WebhookEventType {
    /// Every event type, in the documented order.
    pub const ALL: [Self; 10] = [
        Self::ConnectSessionCompleted,
        Self::ConnectSessionDenied,
        Self::ConnectSessionExpired,
        Self::ConnectionCreated,
        Self::ConnectionUpdated,
        Self::ConnectionRevoked,
        Self::CustomerUpdated,
        Self::CustomerDeleted,
        Self::ScopedKeyRevoked,
        Self::AppSecretRotated,
    ];

    /// The name in payloads and in the API (`connection.revoked`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConnectSessionCompleted => "connect.session.completed",
            Self::ConnectSessionDenied => "connect.session.denied",
            Self::ConnectSessionExpired => "connect.session.expired",
            Self::ConnectionCreated => "connection.created",
            Self::ConnectionUpdated => "connection.updated",
            Self::ConnectionRevoked => "connection.revoked",
            Self::CustomerUpdated => "customer.updated",
            Self::CustomerDeleted => "customer.deleted",
            Self::ScopedKeyRevoked => "scoped_key.revoked",
            Self::AppSecretRotated => "app.secret_rotated",
        }
    }

    /// The event type with this name; `None` for any other text.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for WebhookEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for WebhookEventType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// An event as storage records it, before it becomes a message: what
/// happened, to which app, when, and the payload's `data` (ids only).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The app whose endpoints receive it.
    pub app_id: AppId,
    /// What happened.
    pub event_type: WebhookEventType,
    /// When.
    pub timestamp: OffsetDateTime,
    /// The payload's `data`: ids and statuses, never a credential or
    /// personal data.
    pub data: Value,
}

/// Builders of the `data` of each event, shared by the backends (the
/// PostgreSQL triggers of migration `0012_webhooks.sql` build the same
/// objects).
pub(crate) mod data {
    use super::*;
    use crate::storage::{ConnectionRecord, ConnectionStatus, CustomerRecord, ScopedKeyRecord};

    fn object(pairs: &[(&str, Value)]) -> Value {
        let mut map = Map::new();
        for (k, v) in pairs {
            map.insert((*k).to_owned(), v.clone());
        }
        Value::Object(map)
    }

    fn text(value: &str) -> Value {
        Value::String(value.to_owned())
    }

    /// `connection.*`: `{ id, appId, customerId, referenceId, status }`.
    pub(crate) fn connection(
        event_type: WebhookEventType,
        c: &ConnectionRecord,
        at: OffsetDateTime,
    ) -> WebhookEvent {
        let status = match c.status {
            ConnectionStatus::Active => "active",
            ConnectionStatus::Revoked => "revoked",
        };
        WebhookEvent {
            workspace_id: c.workspace_id.clone(),
            app_id: c.app_id.clone(),
            event_type,
            timestamp: at,
            data: object(&[
                ("id", text(c.id.as_str())),
                ("appId", text(c.app_id.as_str())),
                ("customerId", text(c.customer_id.as_str())),
                ("referenceId", text(&c.reference_id)),
                ("status", text(status)),
            ]),
        }
    }

    /// `customer.*`: `{ id, appId, referenceId }` (no contact details).
    pub(crate) fn customer(
        event_type: WebhookEventType,
        c: &CustomerRecord,
        at: OffsetDateTime,
    ) -> WebhookEvent {
        WebhookEvent {
            workspace_id: c.workspace_id.clone(),
            app_id: c.app_id.clone(),
            event_type,
            timestamp: at,
            data: object(&[
                ("id", text(c.id.as_str())),
                ("appId", text(c.app_id.as_str())),
                ("referenceId", text(&c.reference_id)),
            ]),
        }
    }

    /// `scoped_key.revoked`: `{ id, appId, customerId, referenceId }`.
    pub(crate) fn scoped_key(k: &ScopedKeyRecord, at: OffsetDateTime) -> WebhookEvent {
        WebhookEvent {
            workspace_id: k.workspace_id.clone(),
            app_id: k.app_id.clone(),
            event_type: WebhookEventType::ScopedKeyRevoked,
            timestamp: at,
            data: object(&[
                ("id", text(k.id.as_str())),
                ("appId", text(k.app_id.as_str())),
                ("customerId", text(k.customer_id.as_str())),
                ("referenceId", text(&k.reference_id)),
            ]),
        }
    }

    /// `connect.session.*`: `{ appId, clientId, referenceId, mode }`.
    pub(crate) fn session(
        event_type: WebhookEventType,
        workspace_id: &WorkspaceId,
        app_id: &AppId,
        client_id: &str,
        reference_id: &str,
        mode: &str,
        at: OffsetDateTime,
    ) -> WebhookEvent {
        WebhookEvent {
            workspace_id: workspace_id.clone(),
            app_id: app_id.clone(),
            event_type,
            timestamp: at,
            data: object(&[
                ("appId", text(app_id.as_str())),
                ("clientId", text(client_id)),
                ("referenceId", text(reference_id)),
                ("mode", text(mode)),
            ]),
        }
    }

    /// `app.secret_rotated`: `{ appId, clientId }`.
    pub(crate) fn secret_rotated(
        workspace_id: &WorkspaceId,
        app_id: &AppId,
        client_id: &str,
        at: OffsetDateTime,
    ) -> WebhookEvent {
        WebhookEvent {
            workspace_id: workspace_id.clone(),
            app_id: app_id.clone(),
            event_type: WebhookEventType::AppSecretRotated,
            timestamp: at,
            data: object(&[
                ("appId", text(app_id.as_str())),
                ("clientId", text(client_id)),
            ]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_round_trips_by_name() {
        for t in WebhookEventType::ALL {
            assert_eq!(WebhookEventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(WebhookEventType::parse("connection.deleted"), None);
        let names: std::collections::BTreeSet<_> =
            WebhookEventType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(names.len(), 10);
    }
}
