//! [`AuthorizationServer`]: the one type a host holds.

pub(crate) mod builder;
pub(crate) mod client_address;
pub(crate) mod rate_limit;

use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::config::ServerConfig;
use crate::model::timestamp::truncate_ms;
use crate::storage::Storage;

/// The authorization server: configuration plus storage.
///
/// Cheap to clone (an `Arc` inside); share one between all request handlers.
/// Every flow is a method on it, grouped by module (registration, and in
/// later modules authorization, token, Connect, scoped keys).
pub struct AuthorizationServer<S> {
    inner: Arc<Inner<S>>,
}

pub(crate) struct Inner<S> {
    pub(crate) storage: S,
    pub(crate) config: ServerConfig,
}

impl<S> Clone for AuthorizationServer<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

/// Written by hand: a derive would require `S: Debug` of the storage; the
/// configuration is what is worth showing.
impl<S> fmt::Debug for AuthorizationServer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationServer")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl<S: Storage> AuthorizationServer<S> {
    pub(crate) fn from_inner(inner: Inner<S>) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Tests: the same server, storage and all, with another key ring (a
    /// host restarting with a rotated ring); `None` while clones exist.
    #[cfg(test)]
    pub(crate) fn with_key_ring(self, keys: crate::KeyRing) -> Option<Self> {
        let mut inner = Arc::try_unwrap(self.inner).ok()?;
        inner.config.replace_keys(keys);
        Some(Self::from_inner(inner))
    }

    /// The storage backend.
    pub fn storage(&self) -> &S {
        &self.inner.storage
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// The configured clock's time, truncated to the millisecond precision
    /// every record keeps.
    pub(crate) fn now(&self) -> OffsetDateTime {
        truncate_ms(self.inner.config.clock().now())
    }
}
