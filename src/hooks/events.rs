//! Structured events for audit logs and metrics.
//!
//! The server reports what happens through the [`EventSink`] in its
//! configuration (by default [`NoEvents`]). Events carry identifiers, never
//! a credential.

use std::fmt;
use std::net::IpAddr;

use crate::model::ids::{AppId, ClientId, WorkspaceId};
use crate::model::scope::ScopeSet;

/// Something that happened, for audit and metrics. Never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Tokens were issued by a grant.
    TokenIssued {
        /// The client.
        client_id: ClientId,
        /// `authorization_code`, `refresh_token` or `client_credentials`.
        grant_type: &'static str,
        /// The access token's scopes.
        scopes: ScopeSet,
        /// The resource owner, when there is one.
        subject: Option<String>,
    },
    /// A refresh token was rotated.
    TokenRefreshed {
        /// The client.
        client_id: ClientId,
    },
    /// A token (or a whole grant) was revoked.
    TokenRevoked {
        /// The client that revoked it.
        client_id: ClientId,
        /// Whether the whole grant went with it (a refresh token).
        whole_grant: bool,
    },
    /// A rotated-out refresh token was presented again; its whole family was
    /// revoked (RFC 9700 §4.14.2).
    RefreshReuseDetected {
        /// The client the token belongs to.
        client_id: ClientId,
    },
    /// An authorization code was redeemed twice; every token issued from it
    /// was revoked (RFC 6749 §4.1.2).
    CodeReplayDetected {
        /// The client the code belongs to.
        client_id: ClientId,
    },
    /// A client failed to authenticate.
    ClientAuthenticationFailed {
        /// The client id presented, if it was well formed.
        client_id: Option<ClientId>,
        /// Why, in a word or two (never the secret).
        reason: &'static str,
    },
    /// A request was refused with 429 because a limit counted per client
    /// address was reached.
    RateLimited {
        /// Which limit: `client_authentication` (failed client
        /// authentications for one client id), `admin_authentication`
        /// (failed admin keys) or `publishable_key_sessions` (Connect
        /// sessions made with a publishable key).
        limit: &'static str,
        /// The client: the app of a publishable key, or the client id
        /// presented, when it is a well-formed client id.
        client_id: Option<ClientId>,
        /// The client address the limit was counted for; `None` when the
        /// adapter gave the request no [`PeerAddress`](crate::http::PeerAddress).
        client_address: Option<IpAddr>,
        /// How long until the limit's window ends (the `Retry-After`).
        retry_after: time::Duration,
    },
    /// A client secret was rotated.
    SecretRotated {
        /// The workspace.
        workspace_id: WorkspaceId,
        /// The app.
        app_id: AppId,
        /// Whether the old secret keeps working for a grace period.
        with_grace: bool,
    },
    /// A Connect session's link step failed at the provider.
    LinkFailed {
        /// The provider.
        provider: String,
        /// `denied`, `refused` or `unavailable`.
        reason: &'static str,
    },
    /// A completed Connect session created a connection.
    ConnectionCreated {
        /// The workspace.
        workspace_id: WorkspaceId,
        /// The app.
        app_id: AppId,
        /// The connection.
        connection_id: crate::model::ids::ConnectionId,
        /// The customer's reference id.
        reference_id: String,
    },
    /// A completed Connect session (update mode) updated a connection, or its
    /// tags were edited.
    ConnectionUpdated {
        /// The workspace.
        workspace_id: WorkspaceId,
        /// The connection.
        connection_id: crate::model::ids::ConnectionId,
    },
    /// The app's backend attached a browser-created connection to one of
    /// its customers (`POST /v1/connections/{id}/attach`).
    ConnectionAttached {
        /// The workspace.
        workspace_id: WorkspaceId,
        /// The app.
        app_id: AppId,
        /// The connection.
        connection_id: crate::model::ids::ConnectionId,
        /// The customer it now belongs to.
        customer_id: crate::model::ids::CustomerId,
    },
    /// A connection was revoked (with its grant, tokens and scoped keys):
    /// through the API, one event per connection when its customer was
    /// deleted, or with its grant: its refresh token revoked (RFC 7009), a
    /// rotated-out refresh token presented again, its authorization code
    /// replayed.
    ConnectionRevoked {
        /// The workspace.
        workspace_id: WorkspaceId,
        /// The connection.
        connection_id: crate::model::ids::ConnectionId,
    },
    /// An app was deleted, with everything issued to it.
    AppDeleted {
        /// The workspace.
        workspace_id: WorkspaceId,
        /// The app.
        app_id: AppId,
    },
    /// A webhook endpoint failed for a day without a success and was
    /// disabled; its pending deliveries failed with it.
    WebhookEndpointDisabled {
        /// The workspace.
        workspace_id: WorkspaceId,
        /// The app.
        app_id: AppId,
        /// The endpoint (`whk_…`).
        endpoint_id: String,
    },
}

/// Receives the server's events. Implementations must be quick (hand the
/// event to a channel or a logger) and must not fail.
pub trait EventSink: Send + Sync + fmt::Debug {
    /// Called once per event.
    fn emit(&self, event: &Event) {
        let _ = event;
    }
}

/// Discards every event. The default.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvents;

impl EventSink for NoEvents {}
