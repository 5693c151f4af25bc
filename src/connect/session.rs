//! Creating a Connect session: the request, its checks, the created session.

use crate::connect::input::*;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::credentials::{ConnectToken, Redacted, RedactedUrl};
use crate::error::{ConnectProblem, Error, FieldError, Problem};
use crate::model::ids::CustomerId;
use crate::model::random::{RandomError, random_array};
use crate::model::redirect::{RedirectUriKind, append_query, find_match};
use crate::model::scope::ScopeSet;
use crate::model::timestamp::rfc3339_ms;
use crate::oauth::pkce;
use crate::registry::apps::{AppType, OAuthApp};
use crate::server::AuthorizationServer;
use crate::storage::{
    ConnectContext, ConnectMode, ConnectProgress, CustomerInfo, ResponseMode, ScopedKeyDelivery,
    SessionRecord, SessionStatus, Storage,
};

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
    /// The language of the hosted pages: a BCP 47 language tag (`fr`,
    /// `es-MX`). Without it, the browser's `Accept-Language` decides.
    #[serde(default)]
    pub locale: Option<String>,
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

impl<S: Storage> AuthorizationServer<S> {
    /// `<prefix>-generated:<uuidv7>`, from the injected clock and RNG.
    pub(crate) fn generate_reference_id(&self) -> Result<String, RandomError> {
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
    /// [`Error::Invalid`] naming the first offending field; nothing is
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
    ) -> Result<CreatedConnectSession, Error> {
        let config = self.config();
        let redirect_url = request
            .redirect_url
            .as_deref()
            .ok_or(FieldError::new("redirectUrl", Problem::Required))?;
        let Some(registered) = find_match(&app.redirect_uris, redirect_url) else {
            return Err(FieldError::new(
                "redirectUrl",
                Problem::Connect(ConnectProblem::NotRegistered),
            )
            .into());
        };
        let given_reference = request
            .reference_id
            .as_deref()
            .map(check_reference_id)
            .transpose()?;
        let tags = check_tags(
            request.tags.as_deref().unwrap_or_default(),
            "tags",
            self.config().max_connection_tags(),
        )?;
        let client_name = match request.client_name.as_deref() {
            Some(name) => text_field(
                "clientName",
                Some(name),
                crate::registry::apps::MAX_NAME_CHARS,
            )?
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
            Some(state) if state.len() > crate::oauth::authorize::MAX_STATE_LEN => {
                return Err(FieldError::new(
                    "state",
                    Problem::TooLong {
                        max: crate::oauth::authorize::MAX_STATE_LEN,
                    },
                )
                .into());
            }
            state => state
                .filter(|s| !s.is_empty())
                .map(|s| Redacted::new(s.to_owned())),
        };
        let locale = request
            .locale
            .as_deref()
            .map(crate::presentation::i18n::check_locale)
            .transpose()?;
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
            return Err(FieldError::new(
                "scopedKeyDelivery",
                Problem::Connect(ConnectProblem::ClaimableRedirect),
            )
            .into());
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
            return Err(FieldError::new(
                "codeChallenge",
                Problem::Connect(ConnectProblem::PkceRequired),
            )
            .into());
        }
        let storage = self.storage();
        let (reference_id, claimed_reference_id, customer_id, mode) = if browser_created {
            // A web page names no stored record: no lookup at all.
            if request.customer_id.is_some() {
                return Err(FieldError::new(
                    "customerId",
                    Problem::Connect(ConnectProblem::NotWithPublishableKey),
                )
                .into());
            }
            let reference_id = self.generate_reference_id()?;
            (reference_id, given_reference, None, ConnectMode::Create)
        } else {
            let customer = match request.customer_id.as_deref() {
                None => None,
                Some(id) => {
                    let id = CustomerId::parse(id).map_err(|_| {
                        FieldError::new(
                            "customerId",
                            Problem::Connect(ConnectProblem::UnknownCustomer),
                        )
                    })?;
                    Some(
                        storage
                            .get_customer(&app.workspace_id, Some(&app.id), &id)
                            .await?
                            .ok_or(FieldError::new(
                                "customerId",
                                Problem::Connect(ConnectProblem::UnknownCustomer),
                            ))?,
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
                locale,
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
}
