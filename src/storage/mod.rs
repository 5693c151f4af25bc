//! The storage contract.
//!
//! Storage is a set of `async-trait` traits, all taking `&self` and returning
//! [`StorageError`] with a backend-neutral [`StorageErrorKind`]. The rule that
//! shapes them: **every state change that must not race is one method**, which
//! the backend performs atomically (one statement or one transaction in
//! PostgreSQL, one critical section in memory). The core never reads, decides
//! and then writes in two calls where a concurrent caller could slip between.
//!
//! [`Storage`] is the union of the traits; the server is generic over it.
//! [`MemoryStore`](crate::MemoryStore) is the reference implementation; `PostgresStore`
//! (feature `postgres`) the production one. A third-party backend
//! proves itself with the conformance suite (`conformance` feature).
//!
//! Credentials never reach storage: only their [`CredentialHash`]
//! (HMAC-SHA-256 under the server key ring).

use std::error::Error as StdError;
use std::fmt;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::credentials::keyring::CredentialHash;
use crate::model::app::OAuthApp;
use crate::model::ids::{AppId, ClientId, WorkspaceId};
use crate::model::origin::Origin;
use crate::model::redirect::RedirectUri;
use crate::model::scope::ScopeSet;

pub(crate) mod connect;
pub(crate) mod grants;
pub(crate) mod memory;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
mod publishable_keys;
mod rate_limits;
pub(crate) mod webhook_events;
pub(crate) mod webhooks;

pub use connect::{
    AttachTarget, ConnectApproval, ConnectContext, ConnectEmbed, ConnectProgress, ConnectStore,
    ConnectionAttach, ConnectionFilter, ConnectionRecord, CustomerRecord, EmbedMode,
    ScopedKeyDelivery, ScopedKeyInsert, ScopedKeyRecord, StepAdvance, TagEdit, TagUpdate,
};
pub(crate) use connect::{ConnectMode, ConnectionStatus, CustomerInfo, LinkedAccount, Location};
pub(crate) use grants::ResponseMode;
pub use grants::{
    CodeRecord, CodeRedemption, GrantRecord, GrantRevocation, GrantStore, Prefetched, PurgePolicy,
    RefreshRotation, SessionCompletion, SessionDecision, SessionRecord, SessionStatus, TokenKind,
    TokenRecord,
};
pub use publishable_keys::{PublishableKeyInsert, PublishableKeyRecord, PublishableKeyStore};
pub use rate_limits::RateLimitStore;

/// What kind of failure a backend met, independent of the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StorageErrorKind {
    /// The record does not exist.
    NotFound,
    /// A uniqueness rule or a precondition (an expected current value) did
    /// not hold; nothing was written.
    Conflict,
    /// The backend cannot be reached or is restarting; retrying later may
    /// succeed.
    Unavailable,
    /// The backend did not answer within its configured time.
    Timeout,
    /// A stored value could not be decoded.
    Corrupt,
    /// Anything else.
    Other,
}

impl fmt::Display for StorageErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotFound => "not found",
            Self::Conflict => "conflict",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timed out",
            Self::Corrupt => "corrupt record",
            Self::Other => "backend error",
        })
    }
}

/// A storage backend failed.
///
/// Backends attach their own error as the source; its text must not contain
/// credential material (none reaches storage, so none can).
#[derive(Debug)]
pub struct StorageError {
    kind: StorageErrorKind,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl StorageError {
    /// An error of `kind` with no further detail.
    pub fn new(kind: StorageErrorKind) -> Self {
        Self { kind, source: None }
    }

    /// An error of `kind` caused by `source`.
    pub fn with_source(
        kind: StorageErrorKind,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            source: Some(source.into()),
        }
    }

    /// The backend-neutral kind.
    pub fn kind(&self) -> StorageErrorKind {
        self.kind
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {source}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl StdError for StorageError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// An OAuth app as stored: the public record and, for a confidential app,
/// the hashes of its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRecord {
    /// What the management API shows.
    pub app: OAuthApp,
    /// The secret state; `None` for public apps.
    pub secret: Option<SecretState>,
}

/// The hashes of a confidential app's client secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretState {
    /// The hash of the current secret.
    pub current: CredentialHash,
    /// The previous secret, still accepted until the end of its grace period.
    pub previous: Option<GraceSecret>,
}

/// A rotated-out secret that stays valid until `valid_until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraceSecret {
    /// The hash of the old secret.
    pub hash: CredentialHash,
    /// The end of the grace period (exclusive).
    pub valid_until: OffsetDateTime,
}

/// The fields an update changes; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppChanges {
    /// A new name.
    pub name: Option<String>,
    /// A new description; `Some(None)` clears it.
    pub description: Option<Option<String>>,
    /// New redirect URIs (replacing the old list).
    pub redirect_uris: Option<Vec<RedirectUri>>,
    /// New allowed scopes (replacing the old set).
    pub allowed_scopes: Option<ScopeSet>,
    /// New allowed origins (replacing the old list).
    pub allowed_origins: Option<Vec<Origin>>,
    /// A new logo; `Some(None)` removes it.
    pub logo_uri: Option<Option<String>>,
    /// The new `updatedAt`.
    pub updated_at: OffsetDateTime,
}

impl AppChanges {
    /// A change of nothing but `updatedAt`; set the fields to change.
    pub fn at(updated_at: OffsetDateTime) -> Self {
        Self {
            name: None,
            description: None,
            redirect_uris: None,
            allowed_scopes: None,
            allowed_origins: None,
            logo_uri: None,
            updated_at,
        }
    }
}

/// A secret rotation: replace the secret whose hash is `expected_current`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRotation {
    /// The hash the caller read as current; if another rotation changed it
    /// since, the backend refuses with [`StorageErrorKind::Conflict`].
    pub expected_current: CredentialHash,
    /// The hash of the new secret.
    pub new_current: CredentialHash,
    /// Keep the old secret valid until then; `None` invalidates it at once.
    pub previous_valid_until: Option<OffsetDateTime>,
    /// The new `updatedAt`.
    pub updated_at: OffsetDateTime,
}

/// One page of a listing, with the total count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing<T> {
    /// The records on this page.
    pub items: Vec<T>,
    /// How many records there are in all.
    pub total: u64,
}

/// Storage of OAuth apps (clients).
#[async_trait]
pub trait AppStore: Send + Sync {
    /// Inserts a new app.
    ///
    /// # Errors
    ///
    /// [`StorageErrorKind::Conflict`] when the app id or client id exists.
    async fn insert_app(&self, record: &AppRecord) -> Result<(), StorageError>;

    /// The app with this id in this workspace; `None` if it does not exist
    /// or belongs to another workspace.
    async fn get_app(
        &self,
        workspace: &WorkspaceId,
        id: &AppId,
    ) -> Result<Option<AppRecord>, StorageError>;

    /// The app with this client id, in any workspace (the OAuth endpoints
    /// know only the client id).
    async fn get_app_by_client_id(
        &self,
        client_id: &ClientId,
    ) -> Result<Option<AppRecord>, StorageError>;

    /// A page of the workspace's apps in a stable order (creation time, then
    /// id), skipping `offset`, at most `limit`, with the workspace's total.
    /// The cost may grow with `offset` and `limit` (the management API
    /// bounds both), never with the number of apps in the workspace: keep
    /// the total as a count moved with each insert and delete rather than
    /// counting the apps.
    async fn list_apps(
        &self,
        workspace: &WorkspaceId,
        offset: u64,
        limit: u32,
    ) -> Result<Listing<OAuthApp>, StorageError>;

    /// Applies `changes` atomically; `None` if there is no such app.
    async fn update_app(
        &self,
        workspace: &WorkspaceId,
        id: &AppId,
        changes: &AppChanges,
    ) -> Result<Option<AppRecord>, StorageError>;

    /// Deletes the app and, in the same atomic step, everything issued to it
    /// (codes, tokens, Connect sessions, scoped keys, publishable keys), so
    /// that none of it works a moment later. `false` if there was no such
    /// app.
    async fn delete_app(&self, workspace: &WorkspaceId, id: &AppId) -> Result<bool, StorageError>;

    /// Rotates a confidential app's secret if its current hash is still
    /// `rotation.expected_current`; `None` if there is no such confidential
    /// app.
    ///
    /// # Errors
    ///
    /// [`StorageErrorKind::Conflict`] when another rotation changed the
    /// secret first; nothing is written.
    async fn rotate_client_secret(
        &self,
        workspace: &WorkspaceId,
        id: &AppId,
        rotation: &SecretRotation,
    ) -> Result<Option<AppRecord>, StorageError>;

    /// Whether any app, in any workspace, lists `origin` in its
    /// `allowedOrigins` (the CORS preflight of `POST /v1/connect/sessions`
    /// asks this before any credential is sent). An indexed lookup: its
    /// cost must not grow with the number of apps.
    async fn origin_is_allowed(&self, origin: &Origin) -> Result<bool, StorageError>;
}

/// Storage of workspace admin keys: each maps the keyed hash of a key to the
/// workspace it administers.
#[async_trait]
pub trait AdminKeyStore: Send + Sync {
    /// Records that the key with this hash administers `workspace`.
    ///
    /// # Errors
    ///
    /// [`StorageErrorKind::Conflict`] when the hash is already recorded (for
    /// any workspace); nothing is written.
    async fn insert_admin_key(
        &self,
        workspace: &WorkspaceId,
        hash: &CredentialHash,
        created_at: OffsetDateTime,
    ) -> Result<(), StorageError>;

    /// The workspace of the admin key with this hash; `None` if unknown.
    async fn find_admin_key(
        &self,
        hash: &CredentialHash,
    ) -> Result<Option<WorkspaceId>, StorageError>;

    /// Forgets the admin key with this hash; `false` if it was unknown.
    async fn delete_admin_key(&self, hash: &CredentialHash) -> Result<bool, StorageError>;
}

/// Everything the server stores: the union of the storage traits.
///
/// Implemented automatically for any type that implements each of them.
pub trait Storage:
    AppStore
    + AdminKeyStore
    + GrantStore
    + ConnectStore
    + PublishableKeyStore
    + RateLimitStore
    + webhooks::WebhookStore
    + Send
    + Sync
    + 'static
{
}

impl<T> Storage for T where
    T: AppStore
        + AdminKeyStore
        + GrantStore
        + ConnectStore
        + PublishableKeyStore
        + RateLimitStore
        + webhooks::WebhookStore
        + Send
        + Sync
        + 'static
{
}
