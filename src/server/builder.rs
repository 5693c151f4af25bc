//! [`AuthorizationServerBuilder`]: the configuration checked once, then the
//! server built.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use time::Duration;
use url::Url;

use crate::config::{ConfigError, Lifetimes, RateLimit, ServerConfig};
use crate::credentials::CredentialPrefixes;
use crate::credentials::keyring::KeyRing;
use crate::hooks::clock::{Clock, SystemClock};
use crate::hooks::events::{EventSink, NoEvents};
use crate::hooks::link::{LinkMethod, Provider, Terms, valid_field_name, valid_id};
use crate::hooks::resource_owner::{
    DemoSignIn, NoResourceOwner, ResourceOwnerAuthenticator, ScopeCatalogue,
};
use crate::model::random::{ChaChaRandom, RandomSource};
use crate::model::scope::ScopeSet;
use crate::presentation::brand::{Brand, Theme};
use crate::presentation::i18n::{Catalogue, Messages};
use crate::server::{AuthorizationServer, Inner};
use crate::storage::Storage;

mod dangerous;

pub use dangerous::DangerousConfig;

impl<S: Storage> AuthorizationServer<S> {
    /// Starts building a server over `storage`.
    pub fn builder(storage: S) -> AuthorizationServerBuilder<S> {
        AuthorizationServerBuilder::new(storage)
    }
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
    events: Arc<dyn EventSink>,
    webhook_destinations: crate::config::WebhookDestinations,
    revoked_grant_retention: Duration,
    max_connection_tags: usize,
    max_secret_grace: Duration,
    lifetimes: Lifetimes,
    pkce_for_public_clients_only: bool,
    demo_sign_in: bool,
    refresh_grace: Duration,
    scopes_supported: Option<ScopeSet>,
    resource_owner: Option<Arc<dyn ResourceOwnerAuthenticator>>,
    scope_catalogue: ScopeCatalogue,
    reference_id_prefix: String,
    frame_ancestors: Vec<String>,
    providers: Vec<Provider>,
    terms: Option<Terms>,
    publishable_key_rate_limit: RateLimit,
    authentication_failure_limit: RateLimit,
    public_pushed_request_cap: u32,
    trusted_proxies: Vec<String>,
    brand: Brand,
    messages: BTreeMap<String, Messages>,
}

/// Written by hand: a derive would require `S: Debug` of the storage.
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
            rng: Arc::new(ChaChaRandom::new()),
            events: Arc::new(NoEvents),
            webhook_destinations: crate::config::WebhookDestinations::public_only(),
            revoked_grant_retention: crate::storage::PurgePolicy::DEFAULT.revoked_grant_retention,
            max_connection_tags: crate::model::connect::MAX_TAGS,
            max_secret_grace: Duration::days(7),
            lifetimes: Lifetimes::default(),
            pkce_for_public_clients_only: false,
            demo_sign_in: false,
            refresh_grace: Duration::ZERO,
            scopes_supported: None,
            resource_owner: None,
            scope_catalogue: ScopeCatalogue::new(),
            reference_id_prefix: "oc".to_owned(),
            frame_ancestors: Vec::new(),
            providers: Vec::new(),
            terms: None,
            publishable_key_rate_limit: RateLimit::new(10, Duration::MINUTE),
            authentication_failure_limit: RateLimit::new(20, Duration::MINUTE),
            public_pushed_request_cap: 32,
            trusted_proxies: Vec::new(),
            brand: Brand::default(),
            messages: BTreeMap::new(),
        }
    }

    /// The host's brand on every hosted page: name, logo, accent colour,
    /// support link ([`Brand`]). [`build`](Self::build) refuses a logo that
    /// is not `https`, a colour that is not `#rrggbb` and a support URL
    /// that is not `https` (or `http` on a loopback host).
    pub fn brand(mut self, brand: Brand) -> Self {
        self.brand = brand;
        self
    }

    /// Adds a language to the hosted pages, or overrides strings of one
    /// (English `en`, French `fr` and Spanish `es` ship): `locale` is a
    /// BCP 47 tag, `messages` the texts by key ([`Messages::keys`]); a
    /// message missing in that language is shown in English. Called twice
    /// for one language, the strings add up. [`build`](Self::build) refuses
    /// an unknown key and a malformed tag.
    pub fn messages(mut self, locale: impl Into<String>, messages: Messages) -> Self {
        let entry = self
            .messages
            .entry(locale.into().to_ascii_lowercase())
            .or_default();
        for (key, text) in messages.entries() {
            *entry = std::mem::take(entry).set(key, text);
        }
        self
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

    /// The random source (default: [`ChaChaRandom`](crate::hooks::ChaChaRandom),
    /// ChaCha20 in user space seeded from the operating system's CSPRNG;
    /// [`SystemRandom`](crate::model::random::SystemRandom) draws every byte from the
    /// operating system).
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

    /// Where events go (default: nowhere).
    pub fn events(mut self, events: Arc<dyn EventSink>) -> Self {
        self.events = events;
        self
    }

    /// Which destinations webhook endpoints may point at besides public
    /// addresses over `https` (default: none; the example servers allow
    /// loopback for their demo).
    pub fn webhook_destinations(mut self, allowed: crate::config::WebhookDestinations) -> Self {
        self.webhook_destinations = allowed;
        self
    }

    /// How long a revoked grant, with its codes and tokens, stays in storage
    /// before [`purge_expired`](AuthorizationServer::purge_expired) removes
    /// it (default 1 day; 1 minute to 365 days). While it stays, a replayed
    /// code or refresh token of the grant is recognised as revoked; after,
    /// it is merely unknown (refused all the same).
    pub fn revoked_grant_retention(mut self, retention: Duration) -> Self {
        self.revoked_grant_retention = retention;
        self
    }

    /// The most tags a Connect session and a connection may carry (default
    /// 20, [`limits::MAX_TAGS`](crate::limits::MAX_TAGS); 1 to
    /// 100). Sessions and tag edits asking for more are refused; when an
    /// approved session's tags are merged into an existing connection, the
    /// connection's own come first and the session's are added up to this
    /// many (a connection holding more, from a higher cap before, keeps
    /// them).
    pub fn max_connection_tags(mut self, max: usize) -> Self {
        self.max_connection_tags = max;
        self
    }

    /// Authorization-code lifetime (default 60 s; 1 s to 10 minutes).
    pub fn code_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetimes.code = lifetime;
        self
    }

    /// Access-token lifetime (default 1 hour; 1 minute to 1 day).
    pub fn access_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetimes.access_token = lifetime;
        self
    }

    /// Refresh-token lifetime, counted from each rotation (default 30 days;
    /// 1 hour to 365 days).
    pub fn refresh_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetimes.refresh_token = lifetime;
        self
    }

    /// How long a pending authorization waits on the consent page (default
    /// 10 minutes; 1 minute to 1 hour).
    pub fn consent_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetimes.consent = lifetime;
        self
    }

    /// How long a pushed authorization request's `request_uri` may wait to be
    /// opened (default 60 s; 5 s to 10 minutes).
    pub fn pushed_request_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetimes.pushed_request = lifetime;
        self
    }

    /// The switches that weaken the server (a demo sign-in, PKCE for
    /// public clients only), each spelled `.dangerous().…()` where it is
    /// turned on. See [`DangerousConfig`].
    pub fn dangerous(self) -> DangerousConfig<S> {
        DangerousConfig::new(self)
    }

    /// A window after a refresh-token rotation in which presenting the same
    /// refresh token again returns the same successor instead of revoking
    /// the family (default 0 = off; at most 60 s).
    ///
    /// # Security
    ///
    /// Within the window a thief holding the old refresh token receives the
    /// same tokens as the client. Keep it to a few seconds, or off.
    pub fn refresh_grace(mut self, window: Duration) -> Self {
        self.refresh_grace = window;
        self
    }

    /// Scopes to advertise as `scopes_supported` in the metadata.
    pub fn scopes_supported(mut self, scopes: ScopeSet) -> Self {
        self.scopes_supported = Some(scopes);
        self
    }

    /// How the consent page of a plain `/oauth/authorize` flow knows its end
    /// user: your login (default: none, so plain-flow consent is refused;
    /// for demos, [`DangerousConfig::demo_sign_in`]). The last of the two
    /// calls wins: this one turns the demo sign-in off.
    pub fn resource_owner(mut self, authenticator: Arc<dyn ResourceOwnerAuthenticator>) -> Self {
        self.resource_owner = Some(authenticator);
        self.demo_sign_in = false;
        self
    }

    /// Human descriptions of scopes for the consent and Connect pages.
    pub fn scope_catalogue(mut self, catalogue: ScopeCatalogue) -> Self {
        self.scope_catalogue = catalogue;
        self
    }

    /// How long a Connect session (its token) lives (default 30 minutes; 1
    /// minute to 24 hours).
    pub fn connect_session_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetimes.connect_session = lifetime;
        self
    }

    /// How long a redirect link step may take, from the provider's
    /// authorization page to its callback (default 15 minutes; 1 minute to
    /// 1 hour). The session's own lifetime bounds it too.
    pub fn connect_link_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetimes.connect_link = lifetime;
        self
    }

    /// The prefix of generated reference ids: `<prefix>-generated:<uuidv7>`
    /// (default `oc`; 1–32 characters of `a–z 0–9 -`).
    pub fn reference_id_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.reference_id_prefix = prefix.into();
        self
    }

    /// Origins allowed to embed the hosted Connect page in a frame
    /// (`Content-Security-Policy: frame-ancestors`), such as
    /// `https://app.example.com`. Default: none (`'none'`). The plain
    /// consent page is never framable.
    pub fn frame_ancestors<I, T>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.frame_ancestors = origins.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a provider to the Connect flow's catalogue (the `provider` and
    /// `link` steps). Ids must be unique.
    pub fn provider(mut self, provider: Provider) -> Self {
        self.providers.push(provider);
        self
    }

    /// The host's terms, the Connect flow's first step in create mode.
    pub fn terms(mut self, terms: Terms) -> Self {
        self.terms = Some(terms);
        self
    }

    /// How many Connect sessions one publishable key may create per fixed
    /// window for one client address (default 10 per minute; 1–100 000
    /// requests, a window of 1 second to 1 day). Beyond it `POST
    /// /v1/connect/sessions` answers that address 429 with `Retry-After`;
    /// other addresses keep their own budget. A request refused for
    /// another reason (a malformed body, an unregistered `redirectUrl`)
    /// spends nothing.
    pub fn publishable_key_rate_limit(mut self, requests: u32, window: Duration) -> Self {
        self.publishable_key_rate_limit = RateLimit::new(requests, window);
        self
    }

    /// How many failed authentications one client address may make per
    /// fixed window before it is refused with 429 and `Retry-After`
    /// (default 20 per minute; 1–100 000, a window of 1 second to 1 day):
    /// counted per client id for client credentials (the OAuth endpoints'
    /// `invalid_client`, the Connect API's Basic authentication) and per
    /// address for admin keys. See the manual's "How it stays safe" (`docs/security.md`).
    pub fn authentication_failure_limit(mut self, failures: u32, window: Duration) -> Self {
        self.authentication_failure_limit = RateLimit::new(failures, window);
        self
    }

    /// How many pushed authorization requests (RFC 9126) of one public
    /// client from one client address are kept at most (default 32; 1 to
    /// 10 000): a push beyond it replaces the oldest. A public client's
    /// push needs no secret, so without a bound anyone could fill storage.
    pub fn public_pushed_request_cap(mut self, max: u32) -> Self {
        self.public_pushed_request_cap = max;
        self
    }

    /// The proxies whose `Forwarded` (RFC 7239) and `X-Forwarded-For`
    /// headers name the client (default: none, so the socket's peer is the
    /// client): CIDR blocks (`10.0.0.0/8`, `2001:db8::/32`) or single
    /// addresses. An entry that is neither fails [`build`](Self::build)
    /// with [`ConfigError::Invalid`]`("trusted_proxies")`. See
    /// [`AuthorizationServer::client_address`] for how the headers are
    /// read.
    ///
    /// # Security
    ///
    /// List only proxies that overwrite or append to these headers: a
    /// trusted address that passes a client's own header through lets that
    /// client choose the address its limits are counted for.
    pub fn trusted_proxies<I, T>(mut self, proxies: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.trusted_proxies = proxies.into_iter().map(Into::into).collect();
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
        let l = &self.lifetimes;
        check_range(
            "code_lifetime",
            l.code,
            Duration::SECOND,
            Duration::minutes(10),
        )?;
        check_range(
            "access_token_lifetime",
            l.access_token,
            Duration::MINUTE,
            Duration::DAY,
        )?;
        check_range(
            "refresh_token_lifetime",
            l.refresh_token,
            Duration::HOUR,
            Duration::days(365),
        )?;
        check_range(
            "consent_lifetime",
            l.consent,
            Duration::MINUTE,
            Duration::HOUR,
        )?;
        check_range(
            "pushed_request_lifetime",
            l.pushed_request,
            Duration::seconds(5),
            Duration::minutes(10),
        )?;
        check_range(
            "refresh_grace",
            self.refresh_grace,
            Duration::ZERO,
            Duration::MINUTE,
        )?;
        check_range(
            "connect_session_lifetime",
            l.connect_session,
            Duration::MINUTE,
            Duration::DAY,
        )?;
        check_range(
            "connect_link_lifetime",
            l.connect_link,
            Duration::MINUTE,
            Duration::HOUR,
        )?;
        check_range(
            "publishable_key_rate_limit window",
            self.publishable_key_rate_limit.window,
            Duration::SECOND,
            Duration::DAY,
        )?;
        if !(1..=100_000).contains(&self.publishable_key_rate_limit.requests) {
            return Err(ConfigError::Invalid("publishable_key_rate_limit requests"));
        }
        check_range(
            "authentication_failure_limit window",
            self.authentication_failure_limit.window,
            Duration::SECOND,
            Duration::DAY,
        )?;
        if !(1..=100_000).contains(&self.authentication_failure_limit.requests) {
            return Err(ConfigError::Invalid(
                "authentication_failure_limit failures",
            ));
        }
        check_range(
            "revoked_grant_retention",
            self.revoked_grant_retention,
            Duration::MINUTE,
            Duration::days(365),
        )?;
        if !(1..=MAX_CONNECTION_TAGS_CEILING).contains(&self.max_connection_tags) {
            return Err(ConfigError::Invalid("max_connection_tags (1 to 100)"));
        }
        if !(1..=10_000).contains(&self.public_pushed_request_cap) {
            return Err(ConfigError::Invalid("public_pushed_request_cap"));
        }
        let trusted_proxies = crate::server::client_address::parse_proxies(&self.trusted_proxies)
            .ok_or(ConfigError::Invalid("trusted_proxies"))?;
        if let Some(problem) = self.brand.problem() {
            return Err(ConfigError::Invalid(problem));
        }
        for (locale, messages) in &self.messages {
            if crate::presentation::i18n::check_locale(locale).is_err() {
                return Err(ConfigError::Invalid("messages locale (a BCP 47 tag)"));
            }
            if messages.unknown_key().is_some() {
                return Err(ConfigError::Invalid("messages key (see Messages::keys)"));
            }
            if messages.has_control_characters() {
                return Err(ConfigError::Invalid("messages text"));
            }
        }
        let prefix_ok = (1..=32).contains(&self.reference_id_prefix.len())
            && self
                .reference_id_prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !prefix_ok {
            return Err(ConfigError::Invalid("reference_id_prefix"));
        }
        // Each frame ancestor must be an origin: scheme, host and port only.
        for origin in &self.frame_ancestors {
            let is_origin = crate::model::redirect::RedirectUri::parse(origin)
                .ok()
                .and_then(|uri| uri.origin())
                .is_some_and(|o| &o == origin);
            if !is_origin {
                return Err(ConfigError::Invalid("frame_ancestors"));
            }
        }
        for (index, provider) in self.providers.iter().enumerate() {
            let unique = !self.providers[..index].iter().any(|p| p.id == provider.id);
            let logo_ok = provider
                .logo_url
                .as_deref()
                .is_none_or(|u| crate::hooks::link::logo_origin(u).is_some());
            let fields_ok = match &provider.method {
                LinkMethod::Redirect => true,
                LinkMethod::Form(fields) => fields.iter().all(|f| {
                    valid_field_name(&f.name)
                        && !matches!(
                            f.name.as_str(),
                            "token" | "csrf_token" | "step" | "action" | "decision"
                        )
                        && matches!(
                            f.kind.as_str(),
                            "text" | "email" | "password" | "tel" | "number"
                        )
                }),
            };
            if !(valid_id(&provider.id)
                && unique
                && logo_ok
                && fields_ok
                && !provider.name.is_empty())
            {
                return Err(ConfigError::Invalid("provider"));
            }
        }
        if self.terms.as_ref().is_some_and(|t| {
            t.text.is_empty() || t.url.as_deref().is_some_and(|u| !u.starts_with("https://"))
        }) {
            return Err(ConfigError::Invalid("terms"));
        }
        let keys = match self.keys {
            Some(keys) => keys,
            None => KeyRing::generate(self.rng.as_ref())?,
        };
        let resource_owner: Arc<dyn ResourceOwnerAuthenticator> = match self.resource_owner {
            _ if self.demo_sign_in => Arc::new(DemoSignIn),
            Some(authenticator) => authenticator,
            None => Arc::new(NoResourceOwner),
        };
        let config = ServerConfig {
            issuer,
            prefixes: self.prefixes,
            keys,
            clock: self.clock,
            rng: self.rng,
            events: crate::telemetry::wrap(self.events),
            webhook_destinations: self.webhook_destinations,
            purge_policy: crate::storage::PurgePolicy::new(self.revoked_grant_retention),
            max_connection_tags: self.max_connection_tags,
            max_secret_grace: self.max_secret_grace,
            lifetimes: self.lifetimes,
            pkce_for_public_clients_only: self.pkce_for_public_clients_only,
            demo_sign_in: self.demo_sign_in,
            refresh_grace: self.refresh_grace,
            scopes_supported: self.scopes_supported,
            resource_owner,
            scope_catalogue: self.scope_catalogue,
            reference_id_prefix: self.reference_id_prefix,
            frame_ancestors: self.frame_ancestors,
            providers: self.providers,
            terms: self.terms,
            publishable_key_rate_limit: self.publishable_key_rate_limit,
            authentication_failure_limit: self.authentication_failure_limit,
            public_pushed_request_cap: self.public_pushed_request_cap,
            trusted_proxies,
            theme: Theme::new(&self.brand),
            brand: self.brand,
            catalogue: Catalogue::new(self.messages),
        };
        Ok(AuthorizationServer::from_inner(Inner {
            storage: self.storage,
            config,
        }))
    }
}

/// The highest [`max_connection_tags`](AuthorizationServerBuilder::max_connection_tags)
/// accepted: a connection's tags come back whole in every listing, so
/// their number stays small.
const MAX_CONNECTION_TAGS_CEILING: usize = 100;

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
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(ConfigError::InvalidIssuer(
                "http is allowed only on a loopback host",
            ));
        }
        _ => return Err(ConfigError::InvalidIssuer("must use https")),
    }
    // The host and the path go into headers (`Location`, a cookie's
    // `Path`): a plain host name, and no `;` or `,` in the path.
    let plain_host = match url.host() {
        Some(url::Host::Domain(d)) => d
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')),
        Some(_) => true,
        None => false,
    };
    if !plain_host {
        return Err(ConfigError::InvalidIssuer(
            "the host may hold only letters, digits, '.', '-' and '_'",
        ));
    }
    if url.path().contains([';', ',']) {
        return Err(ConfigError::InvalidIssuer(
            "must have no ';' or ',' in its path",
        ));
    }
    Ok(url)
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
mod tests;
