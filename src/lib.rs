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
//!   - authorization (RFC 6749 §4.1): [`begin_authorization`] validates the
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
//!   decision. The adapter passes the socket's peer as a [`PeerAddress`];
//!   trusted proxies' `Forwarded`/`X-Forwarded-For` is believed
//!   ([`AuthorizationServerBuilder::trusted_proxies`]).
//! - **Pluggable async storage**: one atomic method per state change that must
//!   not race; an in-memory backend ([`MemoryStore`]); a PostgreSQL backend
//!   (feature `postgres`); a conformance suite
//!   (feature `conformance`) any backend can run.
//! - **Connect in the browser**: [`AuthorizationServer::handle`] serves an
//!   embed script (`/connect/sdk.js`, and `/connect/sdk.mjs` as an ES
//!   module; [`ConnectScript`] gives its versioned path and Subresource
//!   Integrity) that opens the hosted Connect page in a popup or a modal and
//!   reports through `postMessage` to the exact origin of the session's
//!   redirect URL, never `*`; publishable Connect keys let a page create
//!   sessions from the app's `allowedOrigins`; `response_mode=web_message`
//!   ([`ResponseMode`]) does the same for plain authorizations.
//! - **Injected clock and RNG**: tests move time instead of sleeping.
//!
//! [`begin_authorization`]: AuthorizationServer::begin_authorization
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
//! scope; a refusal is a [`BearerRejection`] that renders its RFC 6750
//! answer ([`BearerRejection::to_response`]). The `axum` and `actix`
//! features wrap them as extractors.

// docs.rs builds with every feature and `--cfg docsrs`: each feature-gated
// item says which feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod connect;
mod credentials;
mod error;
mod hooks;
mod http;
mod model;
mod oauth;
mod registry;
mod resource;
mod server;
mod storage;
mod telemetry;
mod testing;
pub mod webhooks;

#[cfg(feature = "conformance")]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub use testing::conformance;

// Transitional: the module paths from before the folders (`crate::token`,
// `crate::connect_steps`, ...), so that code written against them on other
// branches still compiles once merged. Removed when those branches are in.
#[allow(unused_imports)]
use {
    connect::{
        browser as connect_browser, connections as connection, customers as customer,
        publishable_keys as publishable_key, scoped_keys as scoped_key, steps as connect_steps,
    },
    credentials as credential,
    credentials::keyring,
    hooks::{clock, events, link as providers, resource_owner},
    http::ui,
    model::{ids, origin, random, redirect, scope, timestamp},
    oauth::{authorize, consent_seal, error as oauth_error, metadata, params, pkce, token},
    registry::{admin_keys as admin, apps as registration},
    server::{client_address, rate_limit},
};

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
pub use adapter::{AdapterOptions, DEFAULT_BODY_TIMEOUT};
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use testing::fuzzing;

pub use config::{ConfigError, Lifetimes, RateLimit, ServerConfig};
pub use connect::browser::{BROWSER_COOKIE, BROWSER_COOKIE_HOST, BrowserSecret};
pub use connect::connections::{AttachConnection, Connection, ConnectionUpdate};
pub use connect::customers::Customer;
pub use connect::publishable_keys::{
    BrowserCaller, CreatedPublishableKey, MAX_PUBLISHABLE_KEYS_PER_APP, PublishableKeyError,
    PublishableKeyInfo,
};
pub use connect::scoped_keys::{
    MintError, MintedScopedKey, NewScopedKey, ScopedKey, ScopedKeyError, ScopedKeyInfo,
    ScopedKeyPrincipal,
};
pub use connect::steps::{
    ConnectStatus, EmbedCheck, LinkFormValues, LinkReturn, Step, StepAction, StepOutcome,
};
pub use connect::{
    CompleteError, ConnectDecision, ConnectError, ConnectPage, CreatedConnectSession,
    CustomerInfoInput, LocationInput, MAX_FILTERS_BYTES, MAX_REFERENCE_ID_CHARS, MAX_TAG_CHARS,
    MAX_TAGS, NewConnectSession, ProviderView, StepView,
};
pub use credentials::keyring::{CredentialHash, KeyRing, KeyRingError, ServerKey};
pub use credentials::{
    AccessToken, AdminKey, AuthorizationCode, ClientSecret, ConnectToken, Credential,
    CredentialError, CredentialKind, CredentialPrefixes, PrefixError, PrefixKind, PublishableKey,
    Redacted, RedactedUrl, RefreshToken, Secret, kind,
};
pub use error::{ClientAuthError, FieldError, Problem, RegistryError};
pub use hooks::clock::{Clock, ManualClock, SystemClock};
pub use hooks::events::{Event, EventSink, NoEvents};
pub use hooks::link::{LinkContext, LinkError, LinkField, LinkHook, LinkMethod, Provider, Terms};
pub use hooks::resource_owner::{
    ConsentRequest, NoResourceOwner, PriorConsent, ResourceOwnerAuthenticator, ScopeCatalogue,
    SignIn,
};
pub use http::bearer::BearerRejection;
pub use http::ui::brand::Brand;
pub use http::ui::i18n::Messages;
pub use http::{ConnectScript, MAX_BODY_BYTES, OPENAPI_JSON};
pub use model::ids::{
    AppId, ClientId, ConnectionId, CustomerId, GrantId, InvalidId, PublishableKeyId, ScopedKeyId,
    Subject, WorkspaceId,
};
pub use model::origin::{MAX_ORIGIN_LEN, Origin, OriginError};
pub use model::random::{ChaChaRandom, RandomError, RandomSource, SystemRandom};
pub use model::redirect::{RedirectUri, RedirectUriError, RedirectUriKind};
pub use model::scope::{MAX_SCOPE_LEN, MAX_SCOPES, Scope, ScopeError, ScopeSet};
pub use oauth::authorize::{
    AuthorizationStep, AuthorizeError, ClientRedirect, ConsentHandle, ConsentPrompt, Decision,
    ErrorPage, MAX_STATE_LEN, PushError, PushedRequest, REQUEST_URI_PREFIX,
};
pub use oauth::error::{OAuthError, OAuthErrorCode};
pub use oauth::metadata::Metadata;
pub use oauth::token::{
    AccessTokenInfo, BasicCredentials, BearerError, Introspection, TokenError, TokenResponse,
};
pub use registry::admin_keys::{
    AdminError, MAX_EXTERNAL_ADMIN_KEY_LEN, MIN_EXTERNAL_ADMIN_KEY_LEN,
};
pub use registry::apps::{
    AppType, AppUpdate, AuthenticatedClient, CreatedApp, MAX_ALLOWED_ORIGINS,
    MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, MAX_REDIRECT_URIS, NewOAuthApp, OAuthApp, Page,
    PageMeta, PageRequest, RotateSecretRequest, RotatedSecret,
};
pub use resource::{BearerKind, BearerPrincipal};
pub use server::AuthorizationServer;
pub use server::builder::{AuthorizationServerBuilder, DangerousConfig};
pub use server::client_address::PeerAddress;
pub use storage::{
    AdminKeyStore, AppChanges, AppRecord, AppStore, AttachTarget, CodeRecord, CodeRedemption,
    ConnectApproval, ConnectContext, ConnectEmbed, ConnectMode, ConnectProgress, ConnectStore,
    ConnectionAttach, ConnectionFilter, ConnectionRecord, ConnectionStatus, CustomerInfo,
    CustomerRecord, EmbedMode, GraceSecret, GrantRecord, GrantRevocation, GrantStore,
    LinkedAccount, Listing, Location, MemoryStore, Prefetched, PublishableKeyInsert,
    PublishableKeyRecord, PublishableKeyStore, RateLimitStore, RefreshRotation, ResponseMode,
    ScopedKeyDelivery, ScopedKeyInsert, ScopedKeyRecord, SecretRotation, SecretState,
    SessionCompletion, SessionDecision, SessionRecord, SessionStatus, StepAdvance, Storage,
    StorageError, StorageErrorKind, TagEdit, TagUpdate, TokenKind, TokenRecord,
};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use storage::{
    DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MIGRATION_TIMEOUT,
    DEFAULT_OPERATION_TIMEOUT, DEFAULT_PING_IDLE_AFTER, PostgresStore,
};
