//! Server configuration and its builder.

use std::net::IpAddr;
use std::sync::Arc;

use time::Duration;
use url::Url;

use crate::credentials::CredentialPrefixes;
use crate::credentials::keyring::{KeyRing, KeyRingError};
use crate::hooks::clock::Clock;
use crate::hooks::events::EventSink;
use crate::hooks::link::{Provider, Terms};
use crate::hooks::resource_owner::{ResourceOwnerAuthenticator, ScopeCatalogue};
use crate::model::random::RandomSource;
use crate::model::scope::ScopeSet;
use crate::presentation::brand::{Brand, Theme};
use crate::presentation::i18n::Catalogue;

/// The largest request body [`AuthorizationServer::handle`](crate::AuthorizationServer::handle) accepts, in
/// bytes (the management API's limit; OAuth form bodies are limited to
/// 16 KiB). An adapter should stop reading a body beyond this size and may
/// answer 413 itself.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The server's configuration: issuer, key ring, clock, RNG, credential
/// prefixes and limits. Built by
/// [`AuthorizationServerBuilder`](crate::AuthorizationServerBuilder).
#[derive(Debug)]
pub struct ServerConfig {
    pub(crate) issuer: Url,
    pub(crate) prefixes: CredentialPrefixes,
    pub(crate) keys: KeyRing,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rng: Arc<dyn RandomSource>,
    pub(crate) events: Arc<dyn EventSink>,
    pub(crate) webhook_destinations: WebhookDestinations,
    pub(crate) purge_policy: crate::storage::PurgePolicy,
    pub(crate) max_connection_tags: usize,
    pub(crate) max_secret_grace: Duration,
    pub(crate) lifetimes: Lifetimes,
    pub(crate) pkce_for_public_clients_only: bool,
    pub(crate) demo_sign_in: bool,
    pub(crate) refresh_grace: Duration,
    pub(crate) scopes_supported: Option<ScopeSet>,
    pub(crate) resource_owner: Arc<dyn ResourceOwnerAuthenticator>,
    pub(crate) scope_catalogue: ScopeCatalogue,
    pub(crate) reference_id_prefix: String,
    pub(crate) frame_ancestors: Vec<String>,
    pub(crate) providers: Vec<Provider>,
    pub(crate) terms: Option<Terms>,
    pub(crate) publishable_key_rate_limit: RateLimit,
    pub(crate) authentication_failure_limit: RateLimit,
    pub(crate) public_pushed_request_cap: u32,
    pub(crate) trusted_proxies: Vec<ipnet::IpNet>,
    pub(crate) brand: Brand,
    pub(crate) theme: Theme,
    pub(crate) catalogue: Catalogue,
}

/// A fixed-window rate limit: at most `requests` in each `window`, windows
/// aligned to the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// The most requests per window.
    pub requests: u32,
    /// The window's length.
    pub window: Duration,
}

impl RateLimit {
    /// At most `requests` per `window`.
    pub fn new(requests: u32, window: Duration) -> Self {
        Self { requests, window }
    }
}

/// How long each kind of grant artefact lives. Every value is configurable
/// on the builder; these are the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lifetimes {
    /// Authorization codes: 60 s (RFC 6749 §4.1.2 recommends at most 10
    /// minutes, which is the cap).
    pub code: Duration,
    /// Access tokens: 1 hour.
    pub access_token: Duration,
    /// Refresh tokens: 30 days, counted from each rotation.
    pub refresh_token: Duration,
    /// A pending authorization on the consent page: 10 minutes.
    pub consent: Duration,
    /// A pushed authorization request's `request_uri` (RFC 9126 §2.2
    /// `expires_in`): 60 s to be opened.
    pub pushed_request: Duration,
    /// A Connect session (its Connect token): 30 minutes.
    pub connect_session: Duration,
    /// A redirect link step, from the provider's authorization page to its
    /// callback (the user signs in at the provider): 15 minutes. The link's
    /// `state` is refused after that (and with the session in any case).
    pub connect_link: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            code: Duration::seconds(60),
            access_token: Duration::hours(1),
            refresh_token: Duration::days(30),
            consent: Duration::minutes(10),
            pushed_request: Duration::seconds(60),
            connect_session: Duration::minutes(30),
            connect_link: Duration::minutes(15),
        }
    }
}

impl ServerConfig {
    /// Tests: replaces the key ring, as a host restarting with a rotated
    /// ring would.
    #[cfg(test)]
    pub(crate) fn replace_keys(&mut self, keys: KeyRing) {
        self.keys = keys;
    }

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

    /// The event sink.
    pub fn events(&self) -> &dyn EventSink {
        self.events.as_ref()
    }

    /// Which destinations webhook endpoints may point at.
    pub fn webhook_destinations(&self) -> WebhookDestinations {
        self.webhook_destinations
    }

    /// What [`purge_expired`](crate::AuthorizationServer::purge_expired)
    /// keeps: how long revoked grants stay
    /// ([`revoked_grant_retention`](crate::AuthorizationServerBuilder::revoked_grant_retention)).
    pub fn purge_policy(&self) -> crate::storage::PurgePolicy {
        self.purge_policy
    }

    /// The most tags a Connect session or a connection may carry
    /// ([`max_connection_tags`](crate::AuthorizationServerBuilder::max_connection_tags)).
    pub fn max_connection_tags(&self) -> usize {
        self.max_connection_tags
    }

    /// The lifetimes of codes, tokens and pending authorizations.
    pub fn lifetimes(&self) -> &Lifetimes {
        &self.lifetimes
    }

    /// Whether only public clients must send a PKCE challenge (a
    /// [dangerous](crate::DangerousConfig::pkce_for_public_clients_only)
    /// switch; by default every client must).
    pub fn pkce_for_public_clients_only(&self) -> bool {
        self.pkce_for_public_clients_only
    }

    /// Whether the consent page asks for a user id and believes it (a
    /// [dangerous](crate::DangerousConfig::demo_sign_in) switch for demos;
    /// off by default).
    pub fn demo_sign_in(&self) -> bool {
        self.demo_sign_in
    }

    /// How long after a refresh-token rotation the same refresh token may be
    /// presented again and receive the same successor (a lost response)
    /// instead of revoking the family. Zero (the default) disables it.
    pub fn refresh_grace(&self) -> Duration {
        self.refresh_grace
    }

    /// The scopes advertised in the metadata document, if configured.
    pub fn scopes_supported(&self) -> Option<&ScopeSet> {
        self.scopes_supported.as_ref()
    }

    /// Who the end user is on a plain flow's consent page.
    pub fn resource_owner(&self) -> &dyn ResourceOwnerAuthenticator {
        self.resource_owner.as_ref()
    }

    /// The human descriptions of scopes.
    pub fn scope_catalogue(&self) -> &ScopeCatalogue {
        &self.scope_catalogue
    }

    /// The prefix of generated reference ids (`<prefix>-generated:<uuidv7>`).
    pub fn reference_id_prefix(&self) -> &str {
        &self.reference_id_prefix
    }

    /// The origins allowed to frame the hosted Connect page
    /// (`frame-ancestors`); empty: none.
    pub fn frame_ancestors(&self) -> &[String] {
        &self.frame_ancestors
    }

    /// The provider catalogue of the hosted Connect flow.
    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }

    /// The host's terms, shown first in create mode.
    pub fn terms(&self) -> Option<&Terms> {
        self.terms.as_ref()
    }

    /// How many Connect sessions one publishable key may create per window
    /// for one client address.
    pub fn publishable_key_rate_limit(&self) -> RateLimit {
        self.publishable_key_rate_limit
    }

    /// How many failed authentications (a client's, by client id; an admin
    /// key's) one client address may make per window before it is refused
    /// with 429.
    pub fn authentication_failure_limit(&self) -> RateLimit {
        self.authentication_failure_limit
    }

    /// How many pushed authorization requests of one public client from one
    /// client address are kept at most (the oldest is replaced).
    pub fn public_pushed_request_cap(&self) -> u32 {
        self.public_pushed_request_cap
    }

    /// Whether `ip` is one of the trusted proxies, whose forwarding headers
    /// name the client.
    pub fn is_trusted_proxy(&self, ip: std::net::IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    pub(crate) fn trusted_proxy_networks(&self) -> &[ipnet::IpNet] {
        &self.trusted_proxies
    }

    /// The host's brand on the hosted pages.
    pub fn brand(&self) -> &Brand {
        &self.brand
    }

    pub(crate) fn theme(&self) -> &Theme {
        &self.theme
    }

    pub(crate) fn catalogue(&self) -> &Catalogue {
        &self.catalogue
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
    /// A setting is malformed.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// The key ring could not be made.
    #[error("key ring: {0}")]
    KeyRing(#[from] KeyRingError),
}

/// Whether an address is private, loopback, link-local or otherwise not a
/// public unicast destination.
fn is_restricted(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64/10, shared
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_restricted(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64
        }
    }
}

/// Whether an address is loopback.
pub(crate) fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v| v.is_loopback()),
    }
}

/// Which destinations webhooks may reach besides public addresses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookDestinations {
    /// Loopback addresses (`127.0.0.0/8`, `::1`, `localhost`), over plain
    /// `http` too. For development and demos only.
    pub loopback: bool,
    /// Private and link-local addresses (RFC 1918, `fc00::/7`,
    /// `169.254.0.0/16`, `fe80::/10`…), over `https`. For a host whose
    /// receivers live in its own network.
    pub private: bool,
}

impl WebhookDestinations {
    /// Public addresses only, `https` only. The default.
    pub fn public_only() -> Self {
        Self::default()
    }

    /// Public addresses and loopback (plain `http` allowed to loopback), as
    /// the example servers configure for their demo.
    pub fn with_loopback() -> Self {
        Self {
            loopback: true,
            private: false,
        }
    }

    /// Whether a resolved address may be reached.
    pub fn allows(&self, ip: IpAddr) -> bool {
        if !is_restricted(ip) {
            return true;
        }
        if is_loopback(ip) {
            return self.loopback;
        }
        self.private
            && match ip {
                IpAddr::V4(v4) => v4.is_private() || v4.is_link_local(),
                IpAddr::V6(v6) => {
                    let s = v6.segments();
                    (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfe80
                }
            }
    }
}
