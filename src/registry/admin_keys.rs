//! Workspace admin keys: the credentials of the management API.
//!
//! A workspace admin sends `Authorization: Bearer <admin key>`. Two kinds of
//! key are accepted:
//!
//! * **our format**, `oc_admin_…` (the configured admin-key prefix), made by
//!   [`AuthorizationServer::create_admin_key`]: checked for its checksum
//!   before any storage lookup and hashed under the key id it carries, like
//!   every other credential;
//! * **external keys**, chosen outside the crate (typically supplied by
//!   configuration such as an environment variable): 32–256 printable ASCII
//!   characters without spaces, not starting with the admin-key or the
//!   publishable-key prefix (a publishable key is public by design). They
//!   are hashed under the ring's *current* key in a MAC domain of their own,
//!   so an external key can never collide with a key of our format.
//!
//! Either way storage keeps only the keyed hash ([`AdminKeyStore`]).
//!
//! [`AdminKeyStore`]: crate::storage::AdminKeyStore

use zeroize::Zeroizing;

use crate::credentials::AdminKey;
use crate::credentials::keyring::CredentialHash;
use crate::model::ids::WorkspaceId;
use crate::model::random::RandomError;
use crate::server::AuthorizationServer;
use crate::storage::{Storage, StorageError, StorageErrorKind};

/// The fewest characters of an external admin key.
pub const MIN_EXTERNAL_ADMIN_KEY_LEN: usize = 32;
/// The most characters of an external admin key.
pub const MAX_EXTERNAL_ADMIN_KEY_LEN: usize = 256;

/// The MAC domain of external admin keys; distinct from `"admin_key"`, the
/// domain of keys in our format.
const EXTERNAL_DOMAIN: &str = "admin_key/external";

/// Why an admin-key operation failed.
///
/// No variant carries or prints any part of a key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The key is malformed, unknown, revoked, or hashed under a retired
    /// server key. On the wire: 401.
    #[error(
        "invalid admin key: send `Authorization: Bearer <admin key>` with a key registered for the workspace"
    )]
    InvalidKey,
    /// The key is already registered for another workspace.
    #[error("this admin key is already registered for another workspace; use a distinct key")]
    KeyInUse,
    /// The storage backend failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The random number generator failed.
    #[error(transparent)]
    Random(#[from] RandomError),
}

/// What a presented admin key hashes to, or why it cannot be valid.
enum Presented {
    Hash(CredentialHash),
    Invalid,
}

impl<S: Storage> AuthorizationServer<S> {
    /// Makes a fresh admin key (`oc_admin_…`) for `workspace` and records its
    /// hash.
    ///
    /// # Errors
    ///
    /// [`AdminError::Random`] when the RNG fails; storage failures.
    ///
    /// # Security
    ///
    /// The returned key is shown once; storage keeps only its keyed hash.
    /// Hand it to the workspace admin and drop it.
    pub async fn create_admin_key(&self, workspace: &WorkspaceId) -> Result<AdminKey, AdminError> {
        let config = self.config();
        let (key, hash) =
            AdminKey::generate_hashed(config.prefixes(), config.keys(), config.rng())?;
        self.storage()
            .insert_admin_key(workspace, &hash, self.now())
            .await?;
        Ok(key)
    }

    /// Registers an existing key as an admin key of `workspace`.
    ///
    /// `key` is either a key in our format (its checksum is verified) or an
    /// external key of 32–256 printable ASCII characters without spaces, for
    /// keys chosen by configuration. Registering the same key again for the
    /// same workspace succeeds and changes nothing, so a key from an
    /// environment variable can be registered at every start-up.
    ///
    /// # Errors
    ///
    /// [`AdminError::InvalidKey`] when the key has neither form (or names a
    /// retired server key); [`AdminError::KeyInUse`] when it is registered
    /// for another workspace; storage failures.
    ///
    /// # Security
    ///
    /// External keys are hashed under the key ring's *current* key: after
    /// the current server key changes, register them again (a key read from
    /// configuration at start-up is). Choose them from a CSPRNG: the hash is
    /// keyed, not slow, so a short or guessable key is only as strong as it
    /// looks.
    pub async fn register_admin_key(
        &self,
        workspace: &WorkspaceId,
        key: &str,
    ) -> Result<(), AdminError> {
        let Presented::Hash(hash) = self.admin_key_hash(key) else {
            return Err(AdminError::InvalidKey);
        };
        match self
            .storage()
            .insert_admin_key(workspace, &hash, self.now())
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == StorageErrorKind::Conflict => {
                match self.storage().find_admin_key(&hash).await? {
                    Some(owner) if &owner == workspace => Ok(()),
                    Some(_) => Err(AdminError::KeyInUse),
                    // Deleted between the two calls: report the conflict as is.
                    None => Err(AdminError::Storage(e)),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The workspace a presented admin key (the Bearer token of the
    /// management API) administers.
    ///
    /// # Errors
    ///
    /// [`AdminError::InvalidKey`] for a malformed, unknown or revoked key;
    /// storage failures.
    ///
    /// # Security
    ///
    /// A key in our format is refused on its checksum before any storage
    /// lookup. The key is never logged, stored or echoed, and no error says
    /// which check failed.
    pub async fn authenticate_admin(&self, bearer: &str) -> Result<WorkspaceId, AdminError> {
        let Presented::Hash(hash) = self.admin_key_hash(bearer) else {
            return Err(AdminError::InvalidKey);
        };
        self.storage()
            .find_admin_key(&hash)
            .await?
            .ok_or(AdminError::InvalidKey)
    }

    /// Revokes an admin key at once; `false` if it was not registered.
    ///
    /// # Errors
    ///
    /// [`AdminError::InvalidKey`] when the key has neither accepted form;
    /// storage failures.
    pub async fn revoke_admin_key(&self, key: &str) -> Result<bool, AdminError> {
        let Presented::Hash(hash) = self.admin_key_hash(key) else {
            return Err(AdminError::InvalidKey);
        };
        Ok(self.storage().delete_admin_key(&hash).await?)
    }

    /// The keyed hash of a presented admin key of either form.
    fn admin_key_hash(&self, presented: &str) -> Presented {
        let config = self.config();
        // A publishable key is public by design: it must never pass for an
        // external admin key, even if someone registered one as such.
        let hash = if presented.starts_with(config.prefixes().publishable_key()) {
            None
        } else if presented.starts_with(config.prefixes().admin_key()) {
            AdminKey::parse(config.prefixes(), presented)
                .ok()
                .and_then(|key| key.hash(config.keys()))
        } else if is_external_key(presented) {
            let text = Zeroizing::new(presented.as_bytes().to_vec());
            config
                .keys()
                .hash(config.keys().current_id(), EXTERNAL_DOMAIN, &[&text])
        } else {
            None
        };
        hash.map_or(Presented::Invalid, Presented::Hash)
    }
}

/// Whether `key` is an acceptable external admin key: 32–256 characters of
/// printable ASCII without spaces.
fn is_external_key(key: &str) -> bool {
    (MIN_EXTERNAL_ADMIN_KEY_LEN..=MAX_EXTERNAL_ADMIN_KEY_LEN).contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use time::macros::datetime;

    use super::*;
    use crate::credentials::keyring::{KeyRing, ServerKey};
    use crate::credentials::{CredentialKind as _, kind};
    use crate::hooks::clock::ManualClock;
    use crate::storage::AdminKeyStore as _;
    use crate::storage::memory::MemoryStore;

    fn server() -> AuthorizationServer<MemoryStore> {
        server_with(KeyRing::new(ServerKey::new(1, &[7; 32]).unwrap()))
    }

    fn server_with(keys: KeyRing) -> AuthorizationServer<MemoryStore> {
        AuthorizationServer::builder(MemoryStore::new())
            .issuer("https://auth.example.com")
            .clock(Arc::new(ManualClock::new(datetime!(2025-06-01 00:00 UTC))))
            .key_ring(keys)
            .build()
            .unwrap()
    }

    fn ws(name: &str) -> WorkspaceId {
        WorkspaceId::parse(name).unwrap()
    }

    const EXTERNAL: &str = "k3y-from-the-environment!#$%&()*+,./:;<=>?@[]^_{|}~";

    #[tokio::test]
    async fn created_key_authenticates_its_workspace() {
        let server = server();
        let key = server.create_admin_key(&ws("ws_a")).await.unwrap();
        assert!(key.expose_secret().starts_with("oc_admin_"));
        assert_eq!(
            server
                .authenticate_admin(key.expose_secret())
                .await
                .unwrap(),
            ws("ws_a")
        );
        let other = server.create_admin_key(&ws("ws_b")).await.unwrap();
        assert_eq!(
            server
                .authenticate_admin(other.expose_secret())
                .await
                .unwrap(),
            ws("ws_b")
        );
    }

    #[tokio::test]
    async fn storage_keeps_only_the_hash() {
        let server = server();
        let key = server.create_admin_key(&ws("ws_a")).await.unwrap();
        let hash = key.hash(server.config().keys()).unwrap();
        assert_eq!(
            server.storage().find_admin_key(&hash).await.unwrap(),
            Some(ws("ws_a"))
        );
        assert!(
            !format!("{:?}", server.storage()).contains(&key.expose_secret()["oc_admin_".len()..])
        );
    }

    #[tokio::test]
    async fn unknown_mistyped_and_foreign_keys_are_refused() {
        let server = server();
        let key = server.create_admin_key(&ws("ws_a")).await.unwrap();
        let text = key.expose_secret();
        let mut typo = text.to_owned();
        let last = typo.pop().unwrap();
        typo.push(if last == 'A' { 'B' } else { 'A' });
        let other_server = server_with(KeyRing::new(ServerKey::new(1, &[8; 32]).unwrap()));
        let foreign = other_server.create_admin_key(&ws("ws_a")).await.unwrap();
        for bad in [
            "",
            "oc_admin_",
            typo.as_str(),
            &text[..text.len() - 1],
            foreign.expose_secret(),
            "short-external-key",
            EXTERNAL,
            &"x".repeat(257),
            &format!("{}\u{e9}", "x".repeat(40)),
        ] {
            assert!(
                matches!(
                    server.authenticate_admin(bad).await,
                    Err(AdminError::InvalidKey)
                ),
                "{bad:?}"
            );
        }
    }

    #[tokio::test]
    async fn external_keys_register_and_authenticate() {
        let server = server();
        server
            .register_admin_key(&ws("ws_env"), EXTERNAL)
            .await
            .unwrap();
        assert_eq!(
            server.authenticate_admin(EXTERNAL).await.unwrap(),
            ws("ws_env")
        );
        // Registering again for the same workspace is idempotent.
        server
            .register_admin_key(&ws("ws_env"), EXTERNAL)
            .await
            .unwrap();
        // ... and refused for another.
        assert!(matches!(
            server.register_admin_key(&ws("ws_other"), EXTERNAL).await,
            Err(AdminError::KeyInUse)
        ));
        // Exactly at the bounds.
        for len in [MIN_EXTERNAL_ADMIN_KEY_LEN, MAX_EXTERNAL_ADMIN_KEY_LEN] {
            let key = "k".repeat(len);
            server
                .register_admin_key(&ws("ws_env"), &key)
                .await
                .unwrap();
            assert_eq!(server.authenticate_admin(&key).await.unwrap(), ws("ws_env"));
        }
    }

    #[tokio::test]
    async fn malformed_external_keys_are_refused_at_registration() {
        let server = server();
        for bad in [
            "k".repeat(MIN_EXTERNAL_ADMIN_KEY_LEN - 1),
            "k".repeat(MAX_EXTERNAL_ADMIN_KEY_LEN + 1),
            format!("{} {}", "k".repeat(20), "k".repeat(20)),
            format!("{}\t", "k".repeat(40)),
            format!("{}\u{e9}", "k".repeat(40)),
            // Starts with our prefix, so it must be in our format.
            format!("oc_admin_{}", "k".repeat(50)),
        ] {
            assert!(
                matches!(
                    server.register_admin_key(&ws("ws_a"), &bad).await,
                    Err(AdminError::InvalidKey)
                ),
                "{bad:?}"
            );
        }
    }

    #[tokio::test]
    async fn keys_of_our_format_can_be_registered_on_another_server() {
        // Two nodes sharing a key ring but not storage, e.g. a key printed
        // by one and configured on the other.
        let a = server();
        let b = server();
        let key = a.create_admin_key(&ws("ws_a")).await.unwrap();
        b.register_admin_key(&ws("ws_a"), key.expose_secret())
            .await
            .unwrap();
        assert_eq!(
            b.authenticate_admin(key.expose_secret()).await.unwrap(),
            ws("ws_a")
        );
    }

    #[tokio::test]
    async fn external_and_our_format_hash_in_distinct_domains() {
        let server = server();
        let keys = server.config().keys();
        let key = server.create_admin_key(&ws("ws_a")).await.unwrap();
        let text: &[&[u8]] = &[key.expose_secret().as_bytes()];
        assert_ne!(
            keys.hash(1, kind::AdminKey::DOMAIN, text),
            keys.hash(1, EXTERNAL_DOMAIN, text)
        );
    }

    #[tokio::test]
    async fn revoked_keys_stop_working_at_once() {
        let server = server();
        let key = server.create_admin_key(&ws("ws_a")).await.unwrap();
        assert!(server.revoke_admin_key(key.expose_secret()).await.unwrap());
        assert!(matches!(
            server.authenticate_admin(key.expose_secret()).await,
            Err(AdminError::InvalidKey)
        ));
        assert!(!server.revoke_admin_key(key.expose_secret()).await.unwrap());
        server
            .register_admin_key(&ws("ws_a"), EXTERNAL)
            .await
            .unwrap();
        assert!(server.revoke_admin_key(EXTERNAL).await.unwrap());
        assert!(server.authenticate_admin(EXTERNAL).await.is_err());
    }

    #[tokio::test]
    async fn errors_never_show_the_key() {
        let server = server();
        let key = server.create_admin_key(&ws("ws_a")).await.unwrap();
        let body = &key.expose_secret()["oc_admin_".len()..];
        let mut altered = key.expose_secret().to_owned();
        altered.push('x');
        let err = server.authenticate_admin(&altered).await.unwrap_err();
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains(&body[..8]), "{shown}");
        }
        let err = server.authenticate_admin(EXTERNAL).await.unwrap_err();
        assert!(!format!("{err} {err:?}").contains(EXTERNAL));
        assert!(format!("{key:?}").contains("[redacted]"));
    }
}
