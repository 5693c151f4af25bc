//! Publishable Connect keys: per-app credentials that are safe to ship in a
//! web page, because they authenticate exactly one thing — creating a
//! Connect session for their app (`POST /v1/connect/sessions`) from one of
//! the app's `allowedOrigins`, at a bounded rate per client address.
//!
//! They are managed by workspace admins (create, list, revoke), stored as a
//! keyed hash like every credential, and carry their own prefix (`oc_pk_`)
//! so that no other endpoint mistakes them for its own credential.

use std::net::IpAddr;

use serde::Serialize;
use serde::ser::Serializer;
use time::OffsetDateTime;

use crate::connect::{ConnectError, CreatedConnectSession, NewConnectSession};
use crate::credentials::PublishableKey;
use crate::error::RegistryError;
use crate::model::ids::{AppId, PublishableKeyId, WorkspaceId};
use crate::model::origin::Origin;
use crate::model::timestamp::rfc3339_ms;
use crate::registry::apps::{AppType, OAuthApp};
use crate::server::AuthorizationServer;
use crate::server::rate_limit::Limit;
use crate::storage::{PublishableKeyInsert, PublishableKeyRecord, Storage, StorageError};

/// The most active publishable keys one app may have.
pub const MAX_PUBLISHABLE_KEYS_PER_APP: u32 = 10;

/// A publishable key as the management API lists it: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PublishableKeyInfo {
    /// `pk_…`: the id to revoke it by.
    pub id: PublishableKeyId,
    /// The app it creates sessions for.
    pub app_id: AppId,
    /// When it was created.
    #[serde(with = "rfc3339_ms")]
    pub created_at: OffsetDateTime,
}

impl From<PublishableKeyRecord> for PublishableKeyInfo {
    fn from(record: PublishableKeyRecord) -> Self {
        Self {
            id: record.id,
            app_id: record.app_id,
            created_at: record.created_at,
        }
    }
}

/// A new publishable key, shown once.
#[derive(Debug)]
#[non_exhaustive]
pub struct CreatedPublishableKey {
    /// The key's record.
    pub info: PublishableKeyInfo,
    /// The key (`oc_pk_…`). Returned only here; storage keeps its hash.
    pub key: PublishableKey,
}

impl Serialize for CreatedPublishableKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            id: &'a PublishableKeyId,
            app_id: &'a AppId,
            publishable_key: &'a str,
            #[serde(with = "rfc3339_ms")]
            created_at: OffsetDateTime,
        }
        Wire {
            id: &self.info.id,
            app_id: &self.info.app_id,
            publishable_key: self.key.expose_secret(),
            created_at: self.info.created_at,
        }
        .serialize(s)
    }
}

/// Why a publishable key did not let a request through.
///
/// No variant carries any part of the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishableKeyError {
    /// Malformed, unknown or revoked, or its app is gone. On the wire: 401.
    #[error("the publishable key is invalid or revoked")]
    InvalidKey,
    /// The request's `Origin` is absent or not one of the app's
    /// `allowedOrigins`. On the wire: 403.
    #[error("this origin may not use the publishable key: add it to the app's allowedOrigins")]
    OriginNotAllowed,
    /// The storage backend failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}

/// A request that a publishable key let through: the app to create a
/// session for, from an allowed origin.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BrowserCaller {
    /// The key's app.
    pub app: OAuthApp,
    /// The key's id.
    pub key_id: PublishableKeyId,
    /// The request's origin, one of the app's `allowedOrigins`.
    pub origin: Origin,
}

impl<S: Storage> AuthorizationServer<S> {
    /// Creates a publishable key for the confidential app `app_id`.
    ///
    /// # Errors
    ///
    /// [`RegistryError::NotFound`]; [`RegistryError::NotConfidential`] for a
    /// public app (Connect sessions need a confidential one);
    /// [`RegistryError::TooManyKeys`] when the app has
    /// [`MAX_PUBLISHABLE_KEYS_PER_APP`] already; storage and RNG failures.
    ///
    /// # Security
    ///
    /// The key is shown once; storage keeps only its keyed hash. It is
    /// meant to be public: what protects the app is the origin check, the
    /// rate limit, and that it can do nothing but create sessions.
    pub async fn create_publishable_key(
        &self,
        workspace: &WorkspaceId,
        app_id: &AppId,
    ) -> Result<CreatedPublishableKey, RegistryError> {
        let app = self.get_app(workspace, app_id).await?;
        if app.app_type != AppType::Confidential {
            return Err(RegistryError::NotConfidential);
        }
        let config = self.config();
        let (key, hash) =
            PublishableKey::generate_hashed(config.prefixes(), config.keys(), config.rng())?;
        let record = PublishableKeyRecord {
            id: PublishableKeyId::generate(config.rng())?,
            hash,
            workspace_id: workspace.clone(),
            app_id: app_id.clone(),
            created_at: self.now(),
        };
        match self
            .storage()
            .insert_publishable_key(&record, MAX_PUBLISHABLE_KEYS_PER_APP)
            .await?
        {
            PublishableKeyInsert::Inserted => Ok(CreatedPublishableKey {
                info: record.into(),
                key,
            }),
            PublishableKeyInsert::LimitReached => Err(RegistryError::TooManyKeys {
                max: MAX_PUBLISHABLE_KEYS_PER_APP,
            }),
            PublishableKeyInsert::AppNotFound => Err(RegistryError::NotFound),
        }
    }

    /// The app's publishable keys, oldest first (never the keys).
    ///
    /// # Errors
    ///
    /// [`RegistryError::NotFound`]; storage failures.
    pub async fn list_publishable_keys(
        &self,
        workspace: &WorkspaceId,
        app_id: &AppId,
    ) -> Result<Vec<PublishableKeyInfo>, RegistryError> {
        self.get_app(workspace, app_id).await?;
        let keys = self
            .storage()
            .list_publishable_keys(workspace, app_id)
            .await?;
        Ok(keys.into_iter().map(Into::into).collect())
    }

    /// Revokes a publishable key at once.
    ///
    /// # Errors
    ///
    /// [`RegistryError::NotFound`] when the app in this workspace has no
    /// such key; storage failures.
    pub async fn revoke_publishable_key(
        &self,
        workspace: &WorkspaceId,
        app_id: &AppId,
        key_id: &PublishableKeyId,
    ) -> Result<(), RegistryError> {
        if self
            .storage()
            .revoke_publishable_key(workspace, app_id, key_id)
            .await?
        {
            Ok(())
        } else {
            Err(RegistryError::NotFound)
        }
    }

    /// Lets a browser's request to create a Connect session through, or
    /// says why not, in this order: the key's prefix and checksum (no
    /// storage call for a mistyped key), the key in storage, its app, the
    /// request's `Origin` against the app's `allowedOrigins` (exact string
    /// comparison). Nothing is counted here:
    /// [`create_browser_connect_session`](Self::create_browser_connect_session)
    /// counts the session against the key's budget for the client's
    /// address once the request is known to be valid.
    ///
    /// # Errors
    ///
    /// A [`PublishableKeyError`].
    ///
    /// # Security
    ///
    /// `Origin` is what a browser sends and cannot be forged by a page, but
    /// any non-browser client can send any value: the origin check keeps
    /// other sites' pages from using the key, not scripts. The rate limit
    /// per client address and the narrow power of the key bound what such
    /// a script can do.
    pub async fn authenticate_publishable_key(
        &self,
        presented: &str,
        origin: Option<&str>,
    ) -> Result<BrowserCaller, PublishableKeyError> {
        let config = self.config();
        let hash = PublishableKey::parse(config.prefixes(), presented)
            .ok()
            .and_then(|key| key.hash(config.keys()))
            .ok_or(PublishableKeyError::InvalidKey)?;
        let storage = self.storage();
        let record = storage
            .find_publishable_key(&hash)
            .await?
            .ok_or(PublishableKeyError::InvalidKey)?;
        let app = storage
            .get_app(&record.workspace_id, &record.app_id)
            .await?
            .ok_or(PublishableKeyError::InvalidKey)?
            .app;
        let origin = origin
            .and_then(|origin| {
                app.allowed_origins
                    .iter()
                    .find(|allowed| allowed.as_str() == origin)
            })
            .cloned()
            .ok_or(PublishableKeyError::OriginNotAllowed)?;
        Ok(BrowserCaller {
            app,
            key_id: record.id,
            origin,
        })
    }

    /// Creates the Connect session a publishable key let through
    /// ([`authenticate_publishable_key`](Self::authenticate_publishable_key)),
    /// as [`create_connect_session`](Self::create_connect_session) does for
    /// the key's app, counted against the key's
    /// [budget](crate::AuthorizationServerBuilder::publishable_key_rate_limit)
    /// for `client_address` ([`client_address`](Self::client_address);
    /// `None`: one budget shared by every request without an address).
    ///
    /// # Errors
    ///
    /// [`ConnectError::RateLimited`] when this address spent the key's
    /// budget for the current window; otherwise those of
    /// `create_connect_session`. A request refused for any other reason
    /// (an invalid field, a storage failure) spends nothing.
    ///
    /// # Security
    ///
    /// The budget is per key *and* client address: a stranger holding the
    /// public key spends only the budget of its own address, never that of
    /// the site's visitors. The count is atomic in storage, so every server
    /// node over one store shares it.
    pub async fn create_browser_connect_session(
        &self,
        caller: &BrowserCaller,
        request: &NewConnectSession,
        client_address: Option<IpAddr>,
    ) -> Result<CreatedConnectSession, ConnectError> {
        let counter = self.counter(
            Limit::PublishableKeySessions,
            caller.key_id.as_str().as_bytes(),
            client_address,
            Some(caller.app.client_id.clone()),
        );
        if let Err(retry_after) = self.spend(&counter).await? {
            return Err(ConnectError::RateLimited { retry_after });
        }
        let created = self
            .create_connect_session(&caller.app, request, true)
            .await;
        if created.is_err() {
            // Refused: the session budget was not spent. A failed refund
            // leaves one use counted until the window ends, no more.
            let _ = self.refund(&counter).await;
        }
        created
    }

    /// Whether any app lists `origin` in its `allowedOrigins`: the check of
    /// a CORS preflight, made before any credential is sent.
    ///
    /// # Errors
    ///
    /// Storage failures.
    pub async fn is_allowed_origin(&self, origin: &str) -> Result<bool, StorageError> {
        match Origin::parse(origin) {
            Ok(origin) => self.storage().origin_is_allowed(&origin).await,
            Err(_) => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn created_key_serialises_once_with_its_key() {
        let ring = crate::KeyRing::generate(&crate::model::random::SystemRandom::new()).unwrap();
        let prefixes = crate::credentials::CredentialPrefixes::default();
        let key =
            PublishableKey::generate(&prefixes, &ring, &crate::model::random::SystemRandom::new())
                .unwrap();
        let text = key.expose_secret().to_owned();
        let created = CreatedPublishableKey {
            info: PublishableKeyInfo {
                id: PublishableKeyId::parse("pk_0123456789abcdef0123456789abcdef").unwrap(),
                app_id: AppId::parse("oauth_0123456789abcdef0123456789abcdef").unwrap(),
                created_at: datetime!(2025-06-01 00:00 UTC),
            },
            key,
        };
        let json = serde_json::to_value(&created).unwrap();
        assert_eq!(json["publishableKey"], text.as_str());
        assert_eq!(json["id"], "pk_0123456789abcdef0123456789abcdef");
        assert_eq!(json["createdAt"], "2025-06-01T00:00:00.000Z");
        assert!(!format!("{created:?}").contains(&text), "Debug redacts it");
        let listed = serde_json::to_value(&created.info).unwrap();
        assert!(listed.get("publishableKey").is_none());
    }
}
