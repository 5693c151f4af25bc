//! Server configuration and its builder.

use std::fmt;
use std::sync::Arc;

use time::Duration;
use url::Url;

use crate::clock::{Clock, SystemClock};
use crate::credential::CredentialPrefixes;
use crate::keyring::{KeyRing, KeyRingError};
use crate::random::{RandomSource, SystemRandom};
use crate::server::{AuthorizationServer, Inner};
use crate::storage::Storage;

/// The server's configuration: issuer, key ring, clock, RNG, credential
/// prefixes and limits. Built by [`AuthorizationServerBuilder`].
pub struct ServerConfig {
    issuer: Url,
    prefixes: CredentialPrefixes,
    keys: KeyRing,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn RandomSource>,
    max_secret_grace: Duration,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("issuer", &self.issuer.as_str())
            .field("prefixes", &self.prefixes)
            .field("keys", &self.keys)
            .field("clock", &self.clock)
            .field("rng", &self.rng)
            .field("max_secret_grace", &self.max_secret_grace)
            .finish()
    }
}

impl ServerConfig {
    /// The issuer identifier (RFC 8414 §2): an `https` URL without query or
    /// fragment (`http` only on a loopback host, for development).
    pub fn issuer(&self) -> &Url {
        &self.issuer
    }

    /// The issuer as the `iss` value: the URL without a trailing slash when
    /// it has no path.
    pub fn issuer_str(&self) -> &str {
        self.issuer.as_str().trim_end_matches('/')
    }

    /// The credential prefixes.
    pub fn prefixes(&self) -> &CredentialPrefixes {
        &self.prefixes
    }

    /// The server key ring.
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// The clock.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// The random source.
    pub fn rng(&self) -> &dyn RandomSource {
        self.rng.as_ref()
    }

    /// The longest grace period a secret rotation may ask for.
    pub fn max_secret_grace(&self) -> Duration {
        self.max_secret_grace
    }
}

/// The configuration is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No issuer was set.
    #[error("an issuer is required (AuthorizationServerBuilder::issuer)")]
    MissingIssuer,
    /// The issuer is not an acceptable RFC 8414 issuer identifier.
    #[error("invalid issuer: {0}")]
    InvalidIssuer(&'static str),
    /// A duration is out of its allowed range.
    #[error("{what} must be between {min} and {max}")]
    OutOfRange {
        /// The setting.
        what: &'static str,
        /// The smallest value allowed.
        min: Duration,
        /// The largest value allowed.
        max: Duration,
    },
    /// The key ring could not be made.
    #[error("key ring: {0}")]
    KeyRing(#[from] KeyRingError),
}

/// Builds an [`AuthorizationServer`].
///
/// Only the storage and the issuer are required. Without a key ring the
/// builder generates one: fine for the in-memory store and tests, but every
/// credential then dies with the process; a deployment with persistent
/// storage must configure its keys ([`key_ring`](Self::key_ring)).
pub struct AuthorizationServerBuilder<S> {
    storage: S,
    issuer: Option<String>,
    prefixes: CredentialPrefixes,
    keys: Option<KeyRing>,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn RandomSource>,
    max_secret_grace: Duration,
}

impl<S> fmt::Debug for AuthorizationServerBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationServerBuilder")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl<S: Storage> AuthorizationServerBuilder<S> {
    pub(crate) fn new(storage: S) -> Self {
        Self {
            storage,
            issuer: None,
            prefixes: CredentialPrefixes::default(),
            keys: None,
            clock: Arc::new(SystemClock),
            rng: Arc::new(SystemRandom::new()),
            max_secret_grace: Duration::days(7),
        }
    }

    /// The issuer identifier: `https://auth.example.com` (or
    /// `http://127.0.0.1:3000` for local development).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The credential prefixes (default brand `oc`).
    pub fn credential_prefixes(mut self, prefixes: CredentialPrefixes) -> Self {
        self.prefixes = prefixes;
        self
    }

    /// The server key ring that hashes credentials and signs scoped keys.
    pub fn key_ring(mut self, keys: KeyRing) -> Self {
        self.keys = Some(keys);
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The random source (default: the system CSPRNG).
    pub fn random(mut self, rng: Arc<dyn RandomSource>) -> Self {
        self.rng = rng;
        self
    }

    /// The longest grace period a client-secret rotation may ask for
    /// (default 7 days, at most 90 days).
    pub fn max_secret_grace(mut self, max: Duration) -> Self {
        self.max_secret_grace = max;
        self
    }

    /// Checks the configuration and builds the server.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming what is wrong.
    pub fn build(self) -> Result<AuthorizationServer<S>, ConfigError> {
        let issuer = parse_issuer(self.issuer.as_deref().ok_or(ConfigError::MissingIssuer)?)?;
        check_range(
            "max_secret_grace",
            self.max_secret_grace,
            Duration::ZERO,
            Duration::days(90),
        )?;
        let keys = match self.keys {
            Some(keys) => keys,
            None => KeyRing::generate(self.rng.as_ref())?,
        };
        let config = ServerConfig {
            issuer,
            prefixes: self.prefixes,
            keys,
            clock: self.clock,
            rng: self.rng,
            max_secret_grace: self.max_secret_grace,
        };
        Ok(AuthorizationServer::from_inner(Inner {
            storage: self.storage,
            config,
        }))
    }
}

fn check_range(
    what: &'static str,
    value: Duration,
    min: Duration,
    max: Duration,
) -> Result<(), ConfigError> {
    if value < min || value > max {
        Err(ConfigError::OutOfRange { what, min, max })
    } else {
        Ok(())
    }
}

/// RFC 8414 §2: "a URL that uses the "https" scheme and has no query or
/// fragment components".
fn parse_issuer(raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|_| ConfigError::InvalidIssuer("not an absolute URL"))?;
    if url.query().is_some() || url.fragment().is_some() || raw.contains(['?', '#']) {
        return Err(ConfigError::InvalidIssuer("must have no query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::InvalidIssuer("must have no user information"));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(ConfigError::InvalidIssuer(
            "http is allowed only on a loopback host",
        )),
        _ => Err(ConfigError::InvalidIssuer("must use https")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_rules_rfc8414_section_2() {
        assert!(parse_issuer("https://auth.example.com").is_ok());
        assert!(parse_issuer("https://example.com/tenant/1").is_ok());
        assert!(parse_issuer("http://127.0.0.1:3000").is_ok());
        assert!(parse_issuer("http://localhost:3000").is_ok());
        assert!(parse_issuer("http://auth.example.com").is_err());
        assert!(parse_issuer("https://auth.example.com?x=1").is_err());
        assert!(parse_issuer("https://auth.example.com#frag").is_err());
        assert!(parse_issuer("https://user@auth.example.com").is_err());
        assert!(parse_issuer("ftp://auth.example.com").is_err());
        assert!(parse_issuer("/relative").is_err());
    }
}
