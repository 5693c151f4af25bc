//! Connect sessions: a service's backend creates a short-lived session for
//! one of its users; the user reviews and approves on the hosted page; the
//! service gets an authorization code (and, if it asked, a scoped key).
//!
//! A Connect session is a pushed authorization request (RFC 9126) with
//! Connect context: the same pending authorization as `/oauth/authorize`
//! makes, found by its Connect token, which therefore also works as a
//! `request_uri`. Completing it writes the customer, the grant, the code, the
//! connection and the scoped key in one atomic storage step.

pub(crate) mod browser;
pub(crate) mod connections;
pub(crate) mod customers;
pub(crate) mod publishable_keys;
pub(crate) mod scoped_keys;
pub(crate) mod steps;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::connect::browser::BrowserSecret;
use crate::connect::scoped_keys::ScopedKey;
use crate::credentials::{AuthorizationCode, ConnectToken, Redacted, RedactedUrl, Secret};
use crate::error::{FieldError, Problem};
use crate::model::ids::{ConnectionId, CustomerId, GrantId, Subject};
use crate::model::random::{RandomError, random_array};
use crate::model::redirect::{RedirectUriKind, append_query, find_match};
use crate::model::scope::ScopeSet;
use crate::model::timestamp::rfc3339_ms;
use crate::oauth::authorize::{AuthorizeError, ClientRedirect, ErrorPage};
use crate::oauth::pkce;
use crate::registry::apps::{AppType, OAuthApp};
use crate::server::AuthorizationServer;
use crate::storage::{
    CodeRecord, ConnectApproval, ConnectContext, ConnectMode, ConnectProgress, ConnectionRecord,
    ConnectionStatus, CustomerInfo, CustomerRecord, GrantRecord, Location, ResponseMode,
    ScopedKeyDelivery, SessionCompletion, SessionDecision, SessionRecord, SessionStatus, Storage,
    StorageError, StorageErrorKind,
};

/// The longest reference id.
pub const MAX_REFERENCE_ID_CHARS: usize = 255;
/// The most tags a session or connection may carry.
pub const MAX_TAGS: usize = 20;
/// The longest tag.
pub const MAX_TAG_CHARS: usize = 64;
/// The largest `filters` object, serialized.
pub const MAX_FILTERS_BYTES: usize = 8 * 1024;
const MAX_NAME_CHARS: usize = 100;
const MAX_EMAIL_CHARS: usize = 254;
const MAX_PHONE_CHARS: usize = 32;
const MAX_ADDRESS_CHARS: usize = 200;

/// A location as a request carries it: each part optional, so that a partial
/// one can be refused by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct LocationInput {
    /// Street address.
    #[serde(default)]
    pub street_one: Option<String>,
    /// City.
    #[serde(default)]
    pub city: Option<String>,
    /// State or region.
    #[serde(default)]
    pub state: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub postal_code: Option<String>,
    /// Country.
    #[serde(default)]
    pub country: Option<String>,
}

/// Customer details as a request carries them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct CustomerInfoInput {
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// Postal location: all five parts or none.
    #[serde(default)]
    pub location: Option<LocationInput>,
}

/// The body of `POST /v1/connect/sessions`.
///
/// `Debug` redacts [`state`](Self::state): clients often use it as their
/// own CSRF token.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct NewConnectSession {
    /// The app, when a workspace admin creates the session (a client's own
    /// credentials name their app).
    #[serde(default)]
    pub app_id: Option<String>,
    /// Where the browser returns: one of the app's redirect URIs. Required.
    #[serde(default)]
    pub redirect_url: Option<String>,
    /// The service's id for its user; generated when absent. With a
    /// publishable key, an unverified label only (see
    /// [`create_connect_session`](AuthorizationServer::create_connect_session)).
    #[serde(default)]
    pub reference_id: Option<String>,
    /// Tags for the connection.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// The name the page shows; defaults to the app's name.
    #[serde(default)]
    pub client_name: Option<String>,
    /// An existing customer of the app (never with a publishable key).
    #[serde(default)]
    pub customer_id: Option<String>,
    /// Details to prefill the customer form with.
    #[serde(default)]
    pub customer_info: Option<CustomerInfoInput>,
    /// A JSON object the page may use (size-bounded), passed on untouched.
    #[serde(default)]
    pub filters: Option<serde_json::Value>,
    /// Scopes within the app's allowed scopes; default: all of them.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Returned with the code, as OAuth `state`.
    #[serde(default)]
    pub state: Option<Redacted<String>>,
    /// Whether completion also yields a scoped key.
    #[serde(default)]
    pub scoped_key: Option<bool>,
    /// How the scoped key is delivered (default `tokenResponse`).
    #[serde(default)]
    pub scoped_key_delivery: Option<ScopedKeyDelivery>,
    /// The scoped key's lifetime in seconds (default: no expiry).
    #[serde(default)]
    pub scoped_key_expires_in: Option<i64>,
    /// An optional PKCE `S256` challenge the code exchange must answer.
    #[serde(default)]
    pub code_challenge: Option<String>,
    /// `S256` when `codeChallenge` is given.
    #[serde(default)]
    pub code_challenge_method: Option<String>,
}

/// A created Connect session: `201 { connectToken, url, expiresAt,
/// referenceId, customerId, mode }`.
///
/// `Debug` redacts the Connect token, also in the page's URL.
#[derive(Debug)]
#[non_exhaustive]
pub struct CreatedConnectSession {
    /// The single-use Connect token (also a PAR `request_uri`).
    pub connect_token: ConnectToken,
    /// The hosted page for this session.
    pub url: RedactedUrl,
    /// When the token expires.
    pub expires_at: OffsetDateTime,
    /// The reference id, given or generated (always generated for a
    /// browser-created session).
    pub reference_id: String,
    /// The app's customer the session is for, when known (never for a
    /// browser-created session).
    pub customer_id: Option<CustomerId>,
    /// `create` or `update`.
    pub mode: ConnectMode,
}

impl Serialize for CreatedConnectSession {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            connect_token: &'a str,
            url: &'a str,
            #[serde(with = "rfc3339_ms")]
            expires_at: OffsetDateTime,
            reference_id: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            customer_id: Option<&'a CustomerId>,
            mode: ConnectMode,
        }
        Wire {
            connect_token: self.connect_token.expose_secret(),
            url: &self.url,
            expires_at: self.expires_at,
            reference_id: &self.reference_id,
            customer_id: self.customer_id.as_ref(),
            mode: self.mode,
        }
        .serialize(s)
    }
}

/// Why a Connect session could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// A field is invalid (answered with 400 naming it); nothing was stored.
    #[error("invalid {0}")]
    Invalid(FieldError),
    /// Storage failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The RNG failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The publishable key's session budget for this client address is
    /// spent in the current window (answered with 429 and `Retry-After`);
    /// nothing was stored.
    #[error("too many Connect sessions for this publishable key from this address; retry later")]
    RateLimited {
        /// How long until the window ends.
        retry_after: time::Duration,
    },
}

impl From<FieldError> for ConnectError {
    fn from(e: FieldError) -> Self {
        Self::Invalid(e)
    }
}

/// What the hosted Connect page shows, for the crate's renderer or a host's
/// own.
///
/// `Debug` redacts the CSRF token (the Connect token redacts itself).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectPage {
    /// The session's Connect token; the form posts it back as `token`.
    pub session: ConnectToken,
    /// The CSRF token; the form posts it back as `csrf_token`.
    pub csrf_token: Secret,
    /// The app.
    pub app: OAuthApp,
    /// The name to show (the session's `clientName` or the app's name).
    pub client_name: String,
    /// The requested scopes.
    pub scopes: ScopeSet,
    /// The customer details to prefill.
    pub customer: CustomerInfo,
    /// Whether the customer form must be shown (something is missing).
    pub ask_customer: bool,
    /// `create` or `update`.
    pub mode: ConnectMode,
    /// The session's filters (JSON text), for a host's page.
    pub filters: Option<String>,
    /// Where the browser returns.
    pub redirect_url: String,
    /// When the session expires.
    pub expires_at: OffsetDateTime,
    /// Where the flow stands.
    pub flow: StepView,
    /// Set when the embed script opened the page (popup or modal): the
    /// page then reports to that window.
    pub embed: Option<crate::storage::ConnectEmbed>,
    /// The version of the flow's state shown (it changes with every step).
    pub step_version: u32,
    /// Whether the session is claimed (by this browser: another one would
    /// have got [`ErrorPage::OtherBrowser`]). Until its first form post
    /// claims it, the session can still be taken by another browser that
    /// posts first.
    pub claimed: bool,
    /// This browser's binding (the keyed hash of its secret, hex; not a
    /// secret: it cannot be turned back into the cookie). An embedded
    /// modal's link form posts it back as `binding`, for the provider
    /// sign-in window, which does not carry the iframe's cookie
    /// ([`start_link_in_window`](AuthorizationServer::start_link_in_window)).
    pub browser_binding: String,
}

/// The user's decision on the Connect page.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectDecision {
    /// Approve (on the consent step, the last one).
    Approve,
    /// Deny: the app gets `access_denied`.
    Deny,
}

/// Why completing a Connect session failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompleteError {
    /// Show this page.
    Page(ErrorPage),
    /// The customer form has an invalid field: show the form again with it.
    Invalid(FieldError),
    /// The post was for another step than the current one (a reload, Back,
    /// a second tab): nothing changed; show where the flow stands.
    OutOfOrder,
}

/// A provider as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderView {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its categories.
    pub categories: Vec<String>,
    /// Its logo.
    pub logo_url: Option<String>,
    /// Redirect or form, with the form's fields.
    pub method: crate::hooks::link::LinkMethod,
}

impl From<&crate::hooks::link::Provider> for ProviderView {
    fn from(p: &crate::hooks::link::Provider) -> Self {
        Self {
            id: p.id.clone(),
            name: p.name.clone(),
            categories: p.categories.clone(),
            logo_url: p.logo_url.clone(),
            method: p.method.clone(),
        }
    }
}

/// Where the hosted flow stands and what its current step shows.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StepView {
    /// The current step.
    pub step: crate::connect::steps::Step,
    /// The providers to pick from (narrowed by the session's filters and the
    /// search, if any).
    pub providers: Vec<ProviderView>,
    /// The provider picked (or the only candidate).
    pub provider: Option<ProviderView>,
    /// Whether the user may go back to the picker.
    pub can_change_provider: bool,
    /// Why the last link attempt failed.
    pub link_error: Option<String>,
    /// The account linked.
    pub linked: Option<crate::storage::LinkedAccount>,
    /// The host's terms.
    pub terms: Option<crate::hooks::link::Terms>,
}

fn text_field(
    field: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, FieldError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > max {
        return Err(FieldError::new(field, Problem::TooLong { max }));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(field, Problem::InvalidCharacters));
    }
    Ok(Some(value.to_owned()))
}

/// A plausible e-mail address: one `@`, a non-empty local part, a domain
/// with a dot and no empty label, no spaces.
fn looks_like_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn looks_like_phone(value: &str) -> bool {
    value.chars().any(|c| c.is_ascii_digit())
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')' | '.'))
}

/// Field names of the customer details, in the JSON API (`customerInfo.…`)
/// or in the hosted page's form (bare).
struct Names {
    first_name: &'static str,
    last_name: &'static str,
    email: &'static str,
    phone: &'static str,
    location: &'static str,
    street_one: &'static str,
    city: &'static str,
    state: &'static str,
    postal_code: &'static str,
    country: &'static str,
}

const API_NAMES: Names = Names {
    first_name: "customerInfo.firstName",
    last_name: "customerInfo.lastName",
    email: "customerInfo.email",
    phone: "customerInfo.phone",
    location: "customerInfo.location",
    street_one: "customerInfo.location.streetOne",
    city: "customerInfo.location.city",
    state: "customerInfo.location.state",
    postal_code: "customerInfo.location.postalCode",
    country: "customerInfo.location.country",
};

const FORM_NAMES: Names = Names {
    first_name: "firstName",
    last_name: "lastName",
    email: "email",
    phone: "phone",
    location: "location",
    street_one: "streetOne",
    city: "city",
    state: "state",
    postal_code: "postalCode",
    country: "country",
};

fn check_customer(
    input: &CustomerInfoInput,
    names: &Names,
    require_contact: bool,
) -> Result<CustomerInfo, FieldError> {
    let first_name = text_field(
        names.first_name,
        input.first_name.as_deref(),
        MAX_NAME_CHARS,
    )?;
    let last_name = text_field(names.last_name, input.last_name.as_deref(), MAX_NAME_CHARS)?;
    let email = text_field(names.email, input.email.as_deref(), MAX_EMAIL_CHARS)?;
    if email.as_deref().is_some_and(|e| !looks_like_email(e)) {
        return Err(FieldError::new(names.email, Problem::InvalidEmail));
    }
    let phone = text_field(names.phone, input.phone.as_deref(), MAX_PHONE_CHARS)?;
    if phone.as_deref().is_some_and(|p| !looks_like_phone(p)) {
        return Err(FieldError::new(names.phone, Problem::InvalidPhone));
    }
    let location = match &input.location {
        None => None,
        Some(l) => {
            let parts = [
                text_field(names.street_one, l.street_one.as_deref(), MAX_ADDRESS_CHARS)?,
                text_field(names.city, l.city.as_deref(), MAX_ADDRESS_CHARS)?,
                text_field(names.state, l.state.as_deref(), MAX_ADDRESS_CHARS)?,
                text_field(
                    names.postal_code,
                    l.postal_code.as_deref(),
                    MAX_ADDRESS_CHARS,
                )?,
                text_field(names.country, l.country.as_deref(), MAX_ADDRESS_CHARS)?,
            ];
            match parts {
                [
                    Some(street_one),
                    Some(city),
                    Some(state),
                    Some(postal_code),
                    Some(country),
                ] => Some(Location {
                    street_one,
                    city,
                    state,
                    postal_code,
                    country,
                }),
                [None, None, None, None, None] => None,
                _ => return Err(FieldError::new(names.location, Problem::IncompleteLocation)),
            }
        }
    };
    if require_contact {
        for (name, value) in [
            (names.first_name, &first_name),
            (names.last_name, &last_name),
            (names.email, &email),
        ] {
            if value.is_none() {
                return Err(FieldError::new(name, Problem::Required));
            }
        }
    }
    Ok(CustomerInfo {
        first_name,
        last_name,
        email,
        phone,
        location,
    })
}

/// The customer step's form: first and last name and e-mail required, the
/// rest optional, a location all or nothing.
pub(crate) fn check_form_customer(input: &CustomerInfoInput) -> Result<CustomerInfo, FieldError> {
    check_customer(input, &FORM_NAMES, true)
}

/// A `referenceId` as given: 1 to [`MAX_REFERENCE_ID_CHARS`] characters,
/// no control characters, no surrounding whitespace.
pub(crate) fn check_reference_id(reference: &str) -> Result<String, FieldError> {
    // An identifier is kept exactly as given: trimming it would make
    // `"user-42 "` and `"user-42"` one customer, and lookups by the text the
    // service sent find nothing.
    if reference.trim() != reference {
        return Err(FieldError::new("referenceId", Problem::InvalidCharacters));
    }
    text_field("referenceId", Some(reference), MAX_REFERENCE_ID_CHARS)?
        .ok_or(FieldError::new("referenceId", Problem::TooShort { min: 1 }))
}

pub(crate) fn check_tags(tags: &[String], field: &'static str) -> Result<Vec<String>, FieldError> {
    if tags.len() > MAX_TAGS {
        return Err(FieldError::new(field, Problem::TooMany { max: MAX_TAGS }));
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for (index, tag) in tags.iter().enumerate() {
        let count = tag.chars().count();
        if count == 0 || tag.trim().is_empty() {
            return Err(FieldError::at(field, index, Problem::TooShort { min: 1 }));
        }
        if count > MAX_TAG_CHARS {
            return Err(FieldError::at(
                field,
                index,
                Problem::TooLong { max: MAX_TAG_CHARS },
            ));
        }
        if tag.chars().any(char::is_control) {
            return Err(FieldError::at(field, index, Problem::InvalidCharacters));
        }
        if !out.contains(tag) {
            out.push(tag.clone());
        }
    }
    Ok(out)
}

/// Merges what a session knows of its customer: a stored customer's details
/// first (`customerId` takes priority), the session's `customerInfo` for what
/// they lack.
pub(crate) fn merged(stored: Option<&CustomerInfo>, given: &CustomerInfo) -> CustomerInfo {
    let Some(stored) = stored else {
        return given.clone();
    };
    CustomerInfo {
        first_name: stored
            .first_name
            .clone()
            .or_else(|| given.first_name.clone()),
        last_name: stored.last_name.clone().or_else(|| given.last_name.clone()),
        email: stored.email.clone().or_else(|| given.email.clone()),
        phone: stored.phone.clone().or_else(|| given.phone.clone()),
        location: stored.location.clone().or_else(|| given.location.clone()),
    }
}

pub(crate) fn page_of(error: AuthorizeError) -> ErrorPage {
    match error {
        AuthorizeError::Page(page) => page,
        AuthorizeError::Redirect(_) => ErrorPage::UnknownRequest,
    }
}

impl<S: Storage> AuthorizationServer<S> {
    /// `<prefix>-generated:<uuidv7>`, from the injected clock and RNG.
    fn generate_reference_id(&self) -> Result<String, RandomError> {
        let millis = (self.now().unix_timestamp_nanos() / 1_000_000).max(0);
        let millis = u64::try_from(millis).unwrap_or(0);
        let random = random_array::<10>(self.config().rng())?;
        let uuid = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
        Ok(format!(
            "{}-generated:{}",
            self.config().reference_id_prefix(),
            uuid.hyphenated()
        ))
    }

    /// Creates a Connect session for `app` (`POST /v1/connect/sessions`),
    /// for one of the service's users. A public app's session (a native
    /// app's, made by the service's backend with the admin key) must carry
    /// a PKCE `codeChallenge`: the app redeems the code with its verifier.
    ///
    /// A session reaches only `app`'s own customers: `customerId` must name
    /// one of them (another app's customer is as unknown as a missing one)
    /// and `referenceId` resolves among them only.
    ///
    /// `browser_created` marks sessions made with a publishable key from a
    /// web page rather than by the app's backend. Such a session reaches no
    /// stored record at all: it may not name a `customerId`, its
    /// `referenceId` is kept only as an unverified label
    /// ([`ConnectContext::claimed_reference_id`]) while the session gets a
    /// reference id generated for it, its `mode` is `create`, and completing
    /// it creates a new customer and a new connection (marked
    /// `browserCreated`), which the app's backend may later attach to one of
    /// its customers ([`attach_connection`](Self::attach_connection)).
    ///
    /// # Errors
    ///
    /// [`ConnectError::Invalid`] naming the first offending field; nothing is
    /// stored then.
    ///
    /// # Security
    ///
    /// A publishable key is public: whoever holds it picks the session's
    /// body. The reference id it gets is the subject of the tokens and the
    /// scoped key the session yields, so a label of the page's choosing
    /// never becomes one: they speak for the new customer only.
    pub async fn create_connect_session(
        &self,
        app: &OAuthApp,
        request: &NewConnectSession,
        browser_created: bool,
    ) -> Result<CreatedConnectSession, ConnectError> {
        let config = self.config();
        let redirect_url = request
            .redirect_url
            .as_deref()
            .ok_or(FieldError::new("redirectUrl", Problem::Required))?;
        let Some(registered) = find_match(&app.redirect_uris, redirect_url) else {
            return Err(FieldError::new("redirectUrl", Problem::NotRegistered).into());
        };
        let given_reference = request
            .reference_id
            .as_deref()
            .map(check_reference_id)
            .transpose()?;
        let tags = check_tags(request.tags.as_deref().unwrap_or_default(), "tags")?;
        let client_name = match request.client_name.as_deref() {
            Some(name) => text_field("clientName", Some(name), crate::MAX_NAME_CHARS)?
                .ok_or(FieldError::new("clientName", Problem::TooShort { min: 1 }))?,
            None => app.name.clone(),
        };
        crate::connect::steps::check_filters(config.providers(), request.filters.as_ref())?;
        let customer_info = match &request.customer_info {
            Some(info) => check_customer(info, &API_NAMES, false)?,
            None => CustomerInfo::default(),
        };
        let filters = match &request.filters {
            None => None,
            Some(value @ serde_json::Value::Object(_)) => {
                let text = serde_json::to_string(value)
                    .map_err(|_| FieldError::new("filters", Problem::NotAnObject))?;
                if text.len() > MAX_FILTERS_BYTES {
                    return Err(FieldError::new(
                        "filters",
                        Problem::TooLong {
                            max: MAX_FILTERS_BYTES,
                        },
                    )
                    .into());
                }
                Some(text)
            }
            Some(_) => return Err(FieldError::new("filters", Problem::NotAnObject).into()),
        };
        let scopes = match &request.scopes {
            None => app.allowed_scopes.clone(),
            Some(tokens) => {
                let set = ScopeSet::from_tokens(tokens)
                    .map_err(|e| FieldError::new("scopes", e.into()))?;
                if set.is_empty() {
                    return Err(FieldError::new("scopes", Problem::TooFew { min: 1 }).into());
                }
                if !set.is_subset_of(&app.allowed_scopes) {
                    return Err(FieldError::new("scopes", Problem::ScopeNotAllowed).into());
                }
                set
            }
        };
        let state = match request.state.as_deref().map(String::as_str) {
            Some(state) if state.len() > crate::MAX_STATE_LEN => {
                return Err(FieldError::new(
                    "state",
                    Problem::TooLong {
                        max: crate::MAX_STATE_LEN,
                    },
                )
                .into());
            }
            state => state
                .filter(|s| !s.is_empty())
                .map(|s| Redacted::new(s.to_owned())),
        };
        let scoped_key = match (
            request.scoped_key.unwrap_or(false),
            request.scoped_key_delivery,
        ) {
            (true, delivery) => Some(delivery.unwrap_or(ScopedKeyDelivery::TokenResponse)),
            (false, Some(_)) => {
                return Err(FieldError::new("scopedKeyDelivery", Problem::Mismatch).into());
            }
            (false, None) => None,
        };
        // A scoped key outlives the code: it goes in the redirect only to
        // a URL no other app can claim (RFC 8252 §8.6).
        if scoped_key == Some(ScopedKeyDelivery::Redirect)
            && registered.kind() == RedirectUriKind::PrivateUse
        {
            return Err(FieldError::new("scopedKeyDelivery", Problem::ClaimableRedirect).into());
        }
        if let Some(seconds) = request.scoped_key_expires_in
            && (scoped_key.is_none() || !(60..=315_360_000).contains(&seconds))
        {
            return Err(FieldError::new(
                "scopedKeyExpiresIn",
                Problem::OutOfRange {
                    min: 60,
                    max: 315_360_000,
                },
            )
            .into());
        }
        let code_challenge = match (
            request.code_challenge.as_deref(),
            request.code_challenge_method.as_deref(),
        ) {
            (None, None) => None,
            (Some(c), Some("S256")) if pkce::is_well_formed(c) => Some(c.to_owned()),
            (Some(_), Some("S256")) => {
                return Err(FieldError::new("codeChallenge", Problem::InvalidCharacters).into());
            }
            (_, _) => {
                return Err(FieldError::new("codeChallengeMethod", Problem::Mismatch).into());
            }
        };
        // A public app (a native or browser app: no secret) redeems its
        // code with the verifier alone, so its session must carry the
        // challenge (RFC 7636 §1, RFC 8252 §8.1): whoever catches the
        // redirect cannot use the code.
        if app.app_type == AppType::Public && code_challenge.is_none() {
            return Err(FieldError::new("codeChallenge", Problem::PkceRequired).into());
        }
        let storage = self.storage();
        let (reference_id, claimed_reference_id, customer_id, mode) = if browser_created {
            // A web page names no stored record: no lookup at all.
            if request.customer_id.is_some() {
                return Err(FieldError::new("customerId", Problem::NotWithPublishableKey).into());
            }
            let reference_id = self.generate_reference_id()?;
            (reference_id, given_reference, None, ConnectMode::Create)
        } else {
            let customer = match request.customer_id.as_deref() {
                None => None,
                Some(id) => {
                    let id = CustomerId::parse(id)
                        .map_err(|_| FieldError::new("customerId", Problem::UnknownCustomer))?;
                    Some(
                        storage
                            .get_customer(&app.workspace_id, Some(&app.id), &id)
                            .await?
                            .ok_or(FieldError::new("customerId", Problem::UnknownCustomer))?,
                    )
                }
            };
            let reference_id = match (&customer, given_reference) {
                (Some(c), Some(r)) if c.reference_id != r => {
                    return Err(FieldError::new("referenceId", Problem::Mismatch).into());
                }
                (Some(c), _) => c.reference_id.clone(),
                (None, Some(r)) => r,
                (None, None) => self.generate_reference_id()?,
            };
            let customer_id = match customer {
                Some(c) => Some(c.id),
                None => storage
                    .find_customer(&app.workspace_id, &app.id, &reference_id)
                    .await?
                    .map(|c| c.id),
            };
            let mode = match storage.find_connection(&app.id, &reference_id).await? {
                Some(_) => ConnectMode::Update,
                None => ConnectMode::Create,
            };
            (reference_id, None, customer_id, mode)
        };
        let now = self.now();
        let expires_at = now + config.lifetimes().connect_session;
        let (connect_token, hash) =
            ConnectToken::generate_hashed(config.prefixes(), config.keys(), config.rng())?;
        let record = SessionRecord {
            hash,
            workspace_id: app.workspace_id.clone(),
            app_id: app.id.clone(),
            client_id: app.client_id.clone(),
            redirect_uri: redirect_url.to_owned(),
            redirect_uri_in_request: false,
            scopes,
            state,
            code_challenge,
            response_mode: ResponseMode::Query,
            created_at: now,
            expires_at,
            open_by: None,
            opened_at: Some(now),
            status: SessionStatus::Pending,
            connect: Some(Box::new(ConnectContext {
                reference_id: reference_id.clone(),
                claimed_reference_id,
                tags,
                client_name,
                customer_id: customer_id.clone(),
                customer_info,
                filters,
                mode,
                scoped_key,
                scoped_key_expires_in: request.scoped_key_expires_in,
                browser_created,
                progress: ConnectProgress::default(),
                step_version: 0,
            })),
        };
        storage.insert_session(&record).await?;
        let url = append_query(
            &format!("{}/connect", config.issuer_str()),
            &[("token", connect_token.expose_secret())],
        );
        Ok(CreatedConnectSession {
            connect_token,
            url: RedactedUrl::new(url),
            expires_at,
            reference_id,
            customer_id,
            mode,
        })
    }

    /// The session behind a Connect token whatever its state (pending,
    /// completed or expired), for an embedded page's error report: where
    /// to send it and with which nonce. `None` when there is no such
    /// session (any more).
    pub(crate) async fn any_connect_session(&self, token: &str) -> Option<SessionRecord> {
        let config = self.config();
        let handle = ConnectToken::parse(config.prefixes(), token).ok()?;
        let hash = handle.hash(config.keys())?;
        let record = self
            .storage()
            .open_session(&hash, self.now())
            .await
            .ok()
            .flatten()?;
        record.connect.is_some().then_some(record)
    }

    /// Opens a Connect session's page (`GET /connect?token=…`, or
    /// `/oauth/authorize` with the token as `request_uri`) for `browser`.
    ///
    /// Opening claims nothing (a `GET` may come from a link scanner or a
    /// chat unfurl): the session is claimed for a browser by its first
    /// form post ([`connect_step`](Self::connect_step),
    /// [`complete_connect`](Self::complete_connect)); once claimed, the
    /// page opens only for that browser. Until then every browser sees the
    /// page, each with a CSRF token of its own ([`ConnectPage::claimed`]
    /// says which case it is).
    ///
    /// # Errors
    ///
    /// An [`ErrorPage`] for an unknown, expired or completed session;
    /// [`ErrorPage::OtherBrowser`] for another browser than the one that
    /// claimed it.
    ///
    /// # Security
    ///
    /// `browser` is the secret of the request's binding cookie
    /// ([`browser_from_cookie`](Self::browser_from_cookie) with the value
    /// of the cookie [`browser_cookie_name`](Self::browser_cookie_name)),
    /// or, for a browser without a valid one, a new one
    /// ([`new_browser_secret`](Self::new_browser_secret)) to set
    /// ([`browser_cookie`](Self::browser_cookie)) with the page. A host
    /// rendering its own page must do the same: the page's CSRF token is
    /// bound to that browser, and the flow goes on only with its cookie.
    pub async fn open_connect(
        &self,
        token: &str,
        browser: &BrowserSecret,
    ) -> Result<ConnectPage, ErrorPage> {
        self.open_connect_search(token, browser, None).await
    }

    /// As [`open_connect`](Self::open_connect), narrowing the provider picker
    /// to the providers matching `search` (id, name or category).
    ///
    /// # Errors
    ///
    /// As [`open_connect`](Self::open_connect).
    pub async fn open_connect_search(
        &self,
        token: &str,
        browser: &BrowserSecret,
        search: Option<&str>,
    ) -> Result<ConnectPage, ErrorPage> {
        let (session, record, browser_hash) = self.view_as_browser(token, browser).await?;
        let Some(connect) = record.connect.as_deref() else {
            return Err(ErrorPage::UnknownRequest);
        };
        let storage = self.storage();
        let app = storage
            .get_app(&record.workspace_id, &record.app_id)
            .await
            .map_err(|_| ErrorPage::TemporarilyUnavailable)?
            .ok_or(ErrorPage::UnknownRequest)?
            .app;
        let customer = self
            .known_customer(&record, connect)
            .await
            .map_err(|e| match e {
                CompleteError::Page(page) => page,
                _ => ErrorPage::TemporarilyUnavailable,
            })?;
        let flow = self.step_view(connect, &customer, search);
        Ok(ConnectPage {
            flow,
            csrf_token: self
                .connect_csrf(&session, &browser_hash)
                .map(Secret::new)
                .ok_or(ErrorPage::TemporarilyUnavailable)?,
            session,
            app,
            client_name: connect.client_name.clone(),
            scopes: record.scopes.clone(),
            ask_customer: !customer.is_complete(),
            customer,
            mode: connect.mode,
            filters: connect.filters.clone(),
            redirect_url: record.redirect_uri.clone(),
            expires_at: record.expires_at,
            embed: connect.progress.embed.clone(),
            step_version: connect.step_version,
            claimed: connect.progress.browser.is_some(),
            browser_binding: browser_hash,
        })
    }

    /// Completes a Connect session (`POST /connect`): approve writes the
    /// customer, the grant, the code, the connection and any scoped key in
    /// one atomic step and redirects with `code`, `state` and `iss`; deny
    /// redirects with `error=access_denied`. Single use: of two tabs, one
    /// completes and the other gets a page saying it is done.
    ///
    /// # Errors
    ///
    /// [`CompleteError::Page`] for a bad CSRF token, another browser than
    /// the one the session is bound to, or an unknown, expired or completed
    /// session; [`CompleteError::Invalid`] for a customer field to correct
    /// (nothing was written).
    ///
    /// # Security
    ///
    /// `browser` is the secret of the request's binding cookie
    /// ([`browser_from_cookie`](Self::browser_from_cookie)); the CSRF token
    /// must be the one of the page shown to that browser. A first post
    /// (deny from the first step) claims the session for it.
    pub async fn complete_connect(
        &self,
        token: &str,
        csrf_token: &str,
        browser: &BrowserSecret,
        decision: ConnectDecision,
    ) -> Result<ClientRedirect, CompleteError> {
        let page = CompleteError::Page;
        let config = self.config();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (handle, record) = self.open_bound(token, csrf_token, browser).await?;
            let hash = handle
                .hash(config.keys())
                .ok_or(page(ErrorPage::UnknownRequest))?;
            let Some(connect) = record.connect.as_deref() else {
                return Err(page(ErrorPage::UnknownRequest));
            };
            let (stored, code, scoped_key) = match &decision {
                ConnectDecision::Deny => (SessionDecision::Deny, None, None),
                ConnectDecision::Approve => {
                    let info = self.known_customer(&record, connect).await?;
                    // Approval is the last step: everything before it is done.
                    if self.current_step(connect, &info) != crate::connect::steps::Step::Consent {
                        return Err(CompleteError::OutOfOrder);
                    }
                    let (approval, code, key) = self
                        .connect_approval(&record, connect, info)
                        .await
                        .map_err(|_| page(ErrorPage::TemporarilyUnavailable))?;
                    (approval, Some(code), key)
                }
            };
            match self
                .storage()
                .complete_session(&hash, &stored, self.now())
                .await
            {
                Ok(SessionCompletion::Completed(_)) => {
                    if let SessionDecision::Approve {
                        connect: Some(approval),
                        ..
                    } = &stored
                    {
                        self.connection_event(&approval.connection).await;
                    }
                }
                Ok(SessionCompletion::AlreadyCompleted(_)) => {
                    return Err(page(ErrorPage::CompletedRequest));
                }
                Ok(SessionCompletion::Expired) => return Err(page(ErrorPage::ExpiredRequest)),
                Ok(SessionCompletion::NotFound) => return Err(page(ErrorPage::UnknownRequest)),
                // A concurrent session made the same customer first: read
                // again and update theirs.
                Err(e) if e.kind() == StorageErrorKind::Conflict && attempts < 3 => continue,
                Err(_) => return Err(page(ErrorPage::TemporarilyUnavailable)),
            }
            let mut params: Vec<(&str, &str)> = Vec::new();
            match &code {
                Some(code) => params.push(("code", code.expose_secret())),
                None => {
                    params.push(("error", "access_denied"));
                    params.push(("error_description", "the user denied the request"));
                }
            }
            if let Some(state) = record.state.as_deref().map(String::as_str) {
                params.push(("state", state));
            }
            params.push(("iss", config.issuer_str()));
            if let (Some(key), Some(ScopedKeyDelivery::Redirect)) =
                (&scoped_key, connect.scoped_key)
            {
                params.push(("scoped_key", key.expose_secret()));
            }
            let mut to = ClientRedirect::new(&record.redirect_uri, &params, ResponseMode::Query);
            to.embed.clone_from(&connect.progress.embed);
            return Ok(to);
        }
    }

    /// Reports the connection an approval wrote: created (the proposed id
    /// was stored) or updated (an existing one was updated in place and now
    /// holds the approval's grant).
    async fn connection_event(&self, proposed: &ConnectionRecord) {
        let filter = crate::ConnectionFilter {
            app_id: Some(proposed.app_id.clone()),
            grant_id: Some(proposed.grant_id.clone()),
            ..crate::ConnectionFilter::default()
        };
        let stored = self
            .storage()
            .list_connections(&proposed.workspace_id, &filter, 0, 1)
            .await
            .ok()
            .and_then(|listing| listing.items.into_iter().next());
        let event = match stored {
            Some(c) if c.id != proposed.id => crate::hooks::events::Event::ConnectionUpdated {
                workspace_id: c.workspace_id,
                connection_id: c.id,
            },
            _ => crate::hooks::events::Event::ConnectionCreated {
                workspace_id: proposed.workspace_id.clone(),
                app_id: proposed.app_id.clone(),
                connection_id: proposed.id.clone(),
                reference_id: proposed.reference_id.clone(),
            },
        };
        self.config().events().emit(&event);
    }

    /// Everything an approval writes, and the code and scoped key to hand out.
    async fn connect_approval(
        &self,
        record: &SessionRecord,
        connect: &ConnectContext,
        info: CustomerInfo,
    ) -> Result<(SessionDecision, AuthorizationCode, Option<ScopedKey>), ConnectError> {
        let config = self.config();
        let storage = self.storage();
        let now = self.now();
        let ws = &record.workspace_id;
        let app_id = &record.app_id;
        // Only the app's own customer; none for a browser-created session,
        // which always makes a new one.
        let existing = match &connect.customer_id {
            Some(id) if !connect.browser_created => {
                storage.get_customer(ws, Some(app_id), id).await?
            }
            _ => None,
        };
        let existing = match existing {
            Some(c) => Some(c),
            None if connect.browser_created => None,
            None => {
                storage
                    .find_customer(ws, app_id, &connect.reference_id)
                    .await?
            }
        };
        let customer = CustomerRecord {
            id: match &existing {
                Some(c) => c.id.clone(),
                None => CustomerId::generate(config.rng())?,
            },
            workspace_id: ws.clone(),
            app_id: app_id.clone(),
            reference_id: connect.reference_id.clone(),
            info,
            created_at: existing.as_ref().map_or(now, |c| c.created_at),
            updated_at: now,
        };
        let subject = Subject::parse(&connect.reference_id)
            .map_err(|_| StorageError::new(StorageErrorKind::Corrupt))?;
        let grant = GrantRecord {
            id: GrantId::generate(config.rng())?,
            workspace_id: ws.clone(),
            app_id: record.app_id.clone(),
            client_id: record.client_id.clone(),
            subject: Some(subject.clone()),
            scopes: record.scopes.clone(),
            created_at: now,
            // A connection's grant lives as long as the connection.
            expires_at: None,
            revoked_at: None,
        };
        let app = storage
            .get_app(ws, &record.app_id)
            .await?
            .ok_or(StorageError::new(StorageErrorKind::NotFound))?
            .app;
        let scoped_key = match connect.scoped_key {
            None => None,
            Some(_) => Some(self.new_scoped_key_record(
                &app,
                customer.id.clone(),
                connect.reference_id.clone(),
                grant.id.clone(),
                record.scopes.clone(),
                Some("Connect".to_owned()),
                connect.scoped_key_expires_in.map(Duration::seconds),
            )?),
        };
        let key_text = match &scoped_key {
            Some(k) => Some(self.scoped_key_text(k).ok_or(RandomError)?),
            None => None,
        };
        let (code, code_hash) =
            AuthorizationCode::generate_hashed(config.prefixes(), config.keys(), config.rng())?;
        let code_record = CodeRecord {
            hash: code_hash,
            grant_id: grant.id.clone(),
            workspace_id: ws.clone(),
            app_id: record.app_id.clone(),
            client_id: record.client_id.clone(),
            redirect_uri: record.redirect_uri.clone(),
            redirect_uri_in_request: false,
            code_challenge: record.code_challenge.clone(),
            scopes: record.scopes.clone(),
            subject,
            issued_at: now,
            expires_at: now + config.lifetimes().code,
            redeemed_at: None,
            scoped_key_id: scoped_key.as_ref().map(|k| k.id.clone()),
        };
        let connection = ConnectionRecord {
            id: ConnectionId::generate(config.rng())?,
            workspace_id: ws.clone(),
            app_id: record.app_id.clone(),
            customer_id: customer.id.clone(),
            reference_id: connect.reference_id.clone(),
            grant_id: grant.id.clone(),
            tags: connect.tags.clone(),
            linked: connect.progress.linked.clone(),
            status: ConnectionStatus::Active,
            browser_created: connect.browser_created,
            claimed_reference_id: connect.claimed_reference_id.clone(),
            attached_at: None,
            created_at: now,
            updated_at: now,
        };
        let decision = SessionDecision::Approve {
            grant: Box::new(grant),
            code: Box::new(code_record),
            connect: Some(Box::new(ConnectApproval {
                customer,
                connection,
                scoped_key,
            })),
        };
        Ok((decision, code, key_text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_plausibility() {
        for good in ["a@b.co", "first.last+tag@example.com"] {
            assert!(looks_like_email(good), "{good}");
        }
        for bad in [
            "", "a", "a@", "@b.co", "a@b", "a@@b.co", "a b@c.co", "a@b..co", "a@.co",
        ] {
            assert!(!looks_like_email(bad), "{bad}");
        }
    }

    #[test]
    fn location_is_all_or_nothing() {
        let partial = CustomerInfoInput {
            location: Some(LocationInput {
                street_one: Some("1 Main St".into()),
                city: Some("Springfield".into()),
                ..LocationInput::default()
            }),
            ..CustomerInfoInput::default()
        };
        let err = check_customer(&partial, &API_NAMES, false).unwrap_err();
        assert_eq!(err.field, "customerInfo.location");
        assert_eq!(err.problem, Problem::IncompleteLocation);
        let empty = CustomerInfoInput {
            location: Some(LocationInput::default()),
            ..CustomerInfoInput::default()
        };
        assert_eq!(
            check_customer(&empty, &API_NAMES, false).unwrap().location,
            None
        );
    }

    #[test]
    fn tags_are_bounded_and_deduplicated() {
        let tags: Vec<String> = ["a", "b", "a"].iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(check_tags(&tags, "tags").unwrap(), ["a", "b"]);
        let many: Vec<String> = (0..21).map(|i| i.to_string()).collect();
        assert!(check_tags(&many, "tags").is_err());
        assert!(check_tags(&["x".repeat(65)], "tags").is_err());
        assert!(check_tags(&["x".repeat(64)], "tags").is_ok());
        assert!(check_tags(&[String::new()], "tags").is_err());
    }
}
