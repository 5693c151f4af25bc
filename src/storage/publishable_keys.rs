//! The publishable-key side of the storage contract ([`PublishableKeyStore`]).
//!
//! A publishable key belongs to one app; storage keeps its keyed hash, never
//! the key. Revoking a key removes its record, so a key that is found is
//! active and an app's listing is bounded by the per-app limit that
//! [`insert_publishable_key`](PublishableKeyStore::insert_publishable_key)
//! enforces atomically. Deleting the app removes its keys in the same atomic
//! step ([`AppStore::delete_app`](super::AppStore::delete_app)).

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StorageError;
use crate::credentials::keyring::CredentialHash;
use crate::model::ids::{AppId, PublishableKeyId, WorkspaceId};

/// A publishable key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishableKeyRecord {
    /// `pk_…`, the key's public id (not the key).
    pub id: PublishableKeyId,
    /// The keyed hash of the key.
    pub hash: CredentialHash,
    /// The app's workspace.
    pub workspace_id: WorkspaceId,
    /// The app the key creates Connect sessions for.
    pub app_id: AppId,
    /// When the key was created.
    pub created_at: OffsetDateTime,
}

/// The outcome of [`PublishableKeyStore::insert_publishable_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishableKeyInsert {
    /// The key was stored.
    Inserted,
    /// The app already has `max_active` keys; nothing was written.
    LimitReached,
    /// No such app in the workspace; nothing was written.
    AppNotFound,
}

/// Storage of publishable keys. (Their rate limit, per key and client
/// address, is counted in [`RateLimitStore`](super::RateLimitStore).)
#[async_trait]
pub trait PublishableKeyStore: Send + Sync {
    /// Stores `key` if its app exists in its workspace and has fewer than
    /// `max_active` keys, atomically: two concurrent inserts never take an
    /// app past the bound.
    ///
    /// # Errors
    ///
    /// [`StorageErrorKind::Conflict`](super::StorageErrorKind::Conflict)
    /// when the id or the hash is already stored; nothing is written.
    async fn insert_publishable_key(
        &self,
        key: &PublishableKeyRecord,
        max_active: u32,
    ) -> Result<PublishableKeyInsert, StorageError>;

    /// The app's keys, oldest first (then by id); empty for an unknown app
    /// or another workspace's.
    async fn list_publishable_keys(
        &self,
        workspace: &WorkspaceId,
        app_id: &AppId,
    ) -> Result<Vec<PublishableKeyRecord>, StorageError>;

    /// Revokes (removes) the app's key `id`; `false` if the app in this
    /// workspace has no such key.
    async fn revoke_publishable_key(
        &self,
        workspace: &WorkspaceId,
        app_id: &AppId,
        id: &PublishableKeyId,
    ) -> Result<bool, StorageError>;

    /// The active key with this hash, if any.
    async fn find_publishable_key(
        &self,
        hash: &CredentialHash,
    ) -> Result<Option<PublishableKeyRecord>, StorageError>;
}
