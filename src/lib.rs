//! # oauth-connect
//!
//! An embeddable OAuth 2.0 authorization server for Rust services that let
//! their users link accounts and devices through a hosted "Connect" flow.
//!
//! ## Quick start
//!
//! Register a confidential app in a workspace and authenticate its client:
//!
//! ```
//! use oauth_connect::{AppType, AuthorizationServer, MemoryStore, NewOAuthApp, WorkspaceId};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = AuthorizationServer::builder(MemoryStore::new())
//!     .issuer("https://auth.example.com")
//!     .build()?;
//!
//! let workspace = WorkspaceId::parse("ws_demo")?;
//! let created = server
//!     .create_app(
//!         &workspace,
//!         &NewOAuthApp {
//!             name: "My Energy App".into(),
//!             description: None,
//!             redirect_uris: vec!["https://myapp.com/callback".into()],
//!             allowed_scopes: vec!["read:devices".into(), "read:sites".into()],
//!             allowed_origins: vec![],
//!             app_type: AppType::Confidential,
//!             logo_uri: None,
//!         },
//!     )
//!     .await?;
//!
//! // The secret is shown once, here; storage keeps only a keyed hash.
//! let secret = created.client_secret.as_ref().ok_or("confidential apps get a secret")?;
//! let client = server
//!     .authenticate_client(created.app.client_id.as_str(), Some(secret.expose_secret()))
//!     .await?;
//! assert_eq!(client.app.name, "My Energy App");
//!
//! // A wrong secret fails, and Debug never shows a secret.
//! assert!(server.authenticate_client(created.app.client_id.as_str(), Some("oc_secret_x")).await.is_err());
//! assert!(format!("{secret:?}").contains("[redacted]"));
//! # Ok(())
//! # }
//! ```
//!
//! ## Features
//!
//! - **The OAuth 2.0 endpoints**, each a typed method and all of them behind
//!   [`AuthorizationServer::handle`] (an `http::Request<Bytes>` in, an
//!   `http::Response<Bytes>` out):
//!   - authorization (RFC 6749 §4.1): [`authorize_request`] validates the
//!     request in the order that never redirects to an unverified URI
//!     (§4.1.2.1) and seals it into the consent page as a short-lived
//!     pending authorization (nothing is stored before the decision);
//!     [`decide`] records the resource owner's CSRF-protected decision,
//!     possibly narrowing the scopes, and redirects with `code`, `state`
//!     and `iss` (RFC 9207);
//!   - pushed authorization requests (RFC 9126,
//!     [`push_authorization_request`]);
//!   - the token endpoint ([`token`]): `authorization_code` with PKCE
//!     (RFC 7636, `S256` only, required for every client by default),
//!     `refresh_token` and `client_credentials`, with `client_secret_basic`
//!     or `client_secret_post` (§2.3);
//!   - revocation (RFC 7009, [`revoke`]), introspection for confidential
//!     clients (RFC 7662, [`introspect`]) and metadata (RFC 8414,
//!     [`metadata`]).
//! - **Refresh-token rotation** (RFC 9700 §4.14): every use rotates the
//!   token; a rotated-out one presented again revokes the whole family,
//!   except within an optional grace window for a lost response
//!   ([`refresh_grace`]). A code redeemed twice revokes what its first use
//!   issued (§4.1.2).
//! - **OAuth app registry**: confidential and public clients, validated
//!   redirect URIs (RFC 6749 §3.1.2, RFC 8252) and scopes (§3.3), paginated
//!   listing, client-secret rotation with an optional grace period, and the
//!   management API for workspace admins ([`create_admin_key`],
//!   [`register_admin_key`]).
//! - **Connect**: server-created sessions ([`create_connect_session`]; or
//!   from a web page with a publishable key, [`create_publishable_key`])
//!   open a hosted, step-by-step page (terms, provider, link, customer,
//!   consent) whose approval writes the customer and the connection
//!   ([`list_connections`], [`revoke_connection`]) and returns a code.
//! - **Scoped keys**: narrow, revocable, self-verifying keys bound to one
//!   customer ([`mint_scoped_key`], [`verify_scoped_key`]).
//! - **Identifiable credentials**: every secret has a configurable prefix and a
//!   checksum, so a typo is refused before any storage lookup and a leaked one
//!   is recognisable; secrets print as `[redacted]`, are zeroized on drop and
//!   compare in constant time.
//! - **No usable credential at rest**: storage sees only HMAC-SHA-256 hashes
//!   under a server key ring with key ids, so the server key can be rotated
//!   ([`KeyRing`]).
//! - **Events**: an [`EventSink`] receives what happens (tokens issued,
//!   refreshed, revoked; reuse and replay detected; authentication
//!   failures; secrets rotated; apps deleted; connections), never a secret.
//! - **Purge**: [`purge_expired`] removes expired sessions, codes, tokens
//!   and grants (a grant whose code expired unredeemed too; a Connect
//!   connection's grant once the connection is revoked) and ended
//!   rate-limit counters in bounded batches; the host schedules it.
//! - **Limits per client address** for what needs no secret: the
//!   publishable keys' session budget, failed client and admin-key
//!   authentications (429 with `Retry-After`), public clients' pushed
//!   requests; the authorization endpoint stores nothing before the
//!   decision. The adapter passes the socket's peer as a [`PeerAddress`](http::PeerAddress);
//!   trusted proxies' `Forwarded`/`X-Forwarded-For` is believed
//!   ([`AuthorizationServerBuilder::trusted_proxies`]).
//! - **Pluggable async storage**: one atomic method per state change that must
//!   not race; an in-memory backend ([`MemoryStore`]); a PostgreSQL backend
//!   (feature `postgres`); a conformance suite
//!   (feature `conformance`) any backend can run.
//! - **Connect in the browser**: [`AuthorizationServer::handle`] serves an
//!   embed script (`/connect/sdk.js`, and `/connect/sdk.mjs` as an ES
//!   module; [`ConnectScript`](http::ConnectScript) gives its versioned path and Subresource
//!   Integrity) that opens the hosted Connect page in a popup or a modal and
//!   reports through `postMessage` to the exact origin of the session's
//!   redirect URL, never `*`; publishable Connect keys let a page create
//!   sessions from the app's `allowedOrigins`; `response_mode=web_message`
//!   ([`ResponseMode`](oauth::ResponseMode)) does the same for plain authorizations.
//! - **Injected clock and RNG**: tests move time instead of sleeping.
//!
//! [`authorize_request`]: AuthorizationServer::authorize_request
//! [`decide`]: AuthorizationServer::decide
//! [`push_authorization_request`]: AuthorizationServer::push_authorization_request
//! [`token`]: AuthorizationServer::token
//! [`revoke`]: AuthorizationServer::revoke
//! [`introspect`]: AuthorizationServer::introspect
//! [`metadata`]: AuthorizationServer::metadata
//! [`refresh_grace`]: AuthorizationServerBuilder::refresh_grace
//! [`create_admin_key`]: AuthorizationServer::create_admin_key
//! [`register_admin_key`]: AuthorizationServer::register_admin_key
//! [`create_connect_session`]: AuthorizationServer::create_connect_session
//! [`create_publishable_key`]: AuthorizationServer::create_publishable_key
//! [`list_connections`]: AuthorizationServer::list_connections
//! [`revoke_connection`]: AuthorizationServer::revoke_connection
//! [`mint_scoped_key`]: AuthorizationServer::mint_scoped_key
//! [`verify_scoped_key`]: AuthorizationServer::verify_scoped_key
//! [`purge_expired`]: AuthorizationServer::purge_expired
//!
//! ## Where things are
//!
//! The crate root holds what a host touches to build, embed and protect:
//! the server, its builder and configuration, the stores, the server key,
//! the hook traits, the ids, the inputs and outputs of apps, Connect
//! sessions and scoped keys, the bearer principal and the top-level errors.
//! The rest is in public modules, by audience:
//!
//! - [`oauth`]: the OAuth flows' requests, responses and errors, for hosts
//!   that render their own pages or call the flows directly;
//! - [`connect`]: the hosted Connect page's views and steps, connections,
//!   customers, publishable and scoped keys;
//! - [`registry`]: the rest of the management API (secrets, admin keys,
//!   publishable keys, pagination);
//! - [`hooks`]: the types the hook traits speak, and their ready-made
//!   implementations;
//! - [`credentials`]: the credential types, the secret building blocks and
//!   the prefixes;
//! - [`storage`]: the storage traits and their records, for backend authors;
//! - [`http`]: the OpenAPI document, the embed script, the hosted pages'
//!   brand and messages;
//! - [`limits`]: every bound and default, in one place;
//! - [`webhooks`]: the webhook API, its signing and its delivery worker.
//!
//! ## Cargo features
//!
//! - `conformance`: exports `oauth_connect::conformance`, the storage
//!   conformance suite, and the `storage_conformance_tests!` macro.
//! - `postgres`: the PostgreSQL backend, `PostgresStore` (sqlx 0.9, tokio),
//!   with its schema embedded as migrations.
//! - `axum`: `oauth_connect::axum::Bearer`, a resource-server extractor for
//!   axum 0.8 (401/403 answers per RFC 6750 §3).
//! - `actix`: `oauth_connect::actix::Bearer`, the same for actix-web 4.
//! - `webhooks`: `oauth_connect::webhooks::WebhookWorker`, the delivery
//!   worker, and its safe HTTP client (the webhook API, signing and the
//!   outbox need no feature); see `docs/webhooks.md`.
//! - `tracing`: spans and events for every request and flow, never a
//!   credential; `metrics`: counters and histograms through the `metrics`
//!   facade (`docs/observability.md`).
//!
//! ## Protecting your own resources
//!
//! [`AuthorizationServer::authenticate_request`] checks a request's
//! `Authorization: Bearer` header and [`BearerPrincipal::require_scope`] a
//! scope; a refusal is a [`BearerRejection`](http::BearerRejection) that renders its RFC 6750
//! answer ([`BearerRejection::to_response`](http::BearerRejection::to_response)). The `axum` and `actix`
//! features wrap them as extractors.

// docs.rs builds with every feature and `--cfg docsrs`: each feature-gated
// item says which feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
pub mod connect;
pub mod credentials;
pub mod error;
pub mod hooks;
pub mod http;
pub mod limits;
mod model;
pub mod oauth;
mod presentation;
pub mod registry;
mod resource;
mod server;
pub mod storage;
mod telemetry;
mod testing;
pub mod webhooks;

#[cfg(feature = "conformance")]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub use testing::conformance;

// The README and the manual (`docs/`): their snippets are doc tests.
#[cfg(any(
    test,
    all(doctest, feature = "postgres", feature = "axum", feature = "actix")
))]
mod manual;

#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub mod actix;
#[cfg(any(feature = "axum", feature = "actix"))]
mod adapter;
#[cfg(any(feature = "axum", feature = "actix"))]
pub use adapter::AdapterOptions;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use testing::fuzzing;

// Tier 1: what a host touches to build, embed and protect. Everything else
// is in the public modules above, by audience (`tests/public_api.rs` keeps
// this list short and every change to the API visible).

// The server, its builder and configuration.
pub use config::{ConfigError, Lifetimes, RateLimit, ServerConfig};
pub use server::AuthorizationServer;
pub use server::builder::{AuthorizationServerBuilder, DangerousConfig};
// Storage and the server key.
pub use credentials::keyring::KeyRing;
pub use storage::memory::MemoryStore;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use storage::postgres::PostgresStore;
pub use storage::{Storage, StorageError};
// The hooks a host plugs in.
pub use hooks::events::EventSink;
pub use hooks::link::LinkHook;
pub use hooks::resource_owner::ResourceOwnerAuthenticator;
// Ids.
pub use model::ids::{
    AppId, ClientId, ConnectionId, CustomerId, GrantId, PublishableKeyId, ScopedKeyId, Subject,
    WorkspaceId,
};
// Apps: inputs and outputs.
pub use registry::apps::{AppType, CreatedApp, NewOAuthApp, OAuthApp};
pub use registry::paging::{PageRequest, Paged};
// Connect sessions: input and output.
pub use connect::session::{CreatedConnectSession, NewConnectSession};
// Protecting resources.
pub use resource::{BearerKind, BearerPrincipal};
// Errors.
pub use error::Error;
