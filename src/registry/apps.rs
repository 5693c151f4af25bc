//! The OAuth app registry: registration, listing, update, deletion, secret
//! rotation and client authentication (RFC 6749 §2).

use serde::de::{Deserializer, Error as _};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use time::{Duration, OffsetDateTime};

use crate::credentials::ClientSecret;
use crate::error::{ClientAuthError, FieldError, Problem, RegistryError};
use crate::model::ids::{AppId, ClientId, WorkspaceId};
use crate::model::origin::Origin;
use crate::model::redirect::RedirectUri;
use crate::model::scope::ScopeSet;
use crate::model::timestamp::rfc3339_ms_option;
use crate::server::AuthorizationServer;
use crate::storage::{
    AppChanges, AppRecord, SecretRotation, SecretState, Storage, StorageErrorKind,
};

/// The longest app name, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// The longest app description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
/// The most redirect URIs one app may register.
pub const MAX_REDIRECT_URIS: usize = 32;
/// The most origins one app may list in `allowedOrigins`.
pub const MAX_ALLOWED_ORIGINS: usize = 32;

pub use crate::model::app::{AppType, OAuthApp};

/// A request to register an app, as the management API takes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewOAuthApp {
    /// 1–255 characters.
    pub name: String,
    /// At most 1000 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// At least one redirect URI.
    pub redirect_uris: Vec<String>,
    /// At least one scope token.
    pub allowed_scopes: Vec<String>,
    /// Web origins (`https://app.example.com`), exactly as a browser sends
    /// them in `Origin`; default none.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// The app's logo: an absolute `https` URL, shown on the hosted pages.
    #[serde(default)]
    pub logo_uri: Option<String>,
    /// `CONFIDENTIAL` or `PUBLIC`.
    #[serde(rename = "type")]
    pub app_type: AppType,
}

/// A change to an app: any of name, description, redirect URIs, allowed
/// scopes and allowed origins; at least one. The app type cannot change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppUpdate {
    /// A new name.
    #[serde(default)]
    pub name: Option<String>,
    /// A new description; `Some(None)` (JSON `null`) clears it.
    #[serde(default, deserialize_with = "present_or_null")]
    pub description: Option<Option<String>>,
    /// New redirect URIs, replacing the old ones.
    #[serde(default)]
    pub redirect_uris: Option<Vec<String>>,
    /// New allowed scopes, replacing the old ones.
    #[serde(default)]
    pub allowed_scopes: Option<Vec<String>>,
    /// New allowed origins, replacing the old ones (`[]` clears them).
    #[serde(default)]
    pub allowed_origins: Option<Vec<String>>,
    /// A new logo (`https`); `Some(None)` (JSON `null`) removes it.
    #[serde(default, deserialize_with = "present_or_null")]
    pub logo_uri: Option<Option<String>>,
}

fn present_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A registered app with its client secret, shown once.
#[derive(Debug)]
#[non_exhaustive]
pub struct CreatedApp {
    /// The app.
    pub app: OAuthApp,
    /// The client secret of a confidential app. It is returned only here and
    /// by rotation, and cannot be retrieved later.
    pub client_secret: Option<ClientSecret>,
}

impl Serialize for CreatedApp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let value = serde_json::to_value(&self.app).map_err(serde::ser::Error::custom)?;
        let serde_json::Value::Object(fields) = value else {
            return Err(serde::ser::Error::custom("an app serializes as an object"));
        };
        let mut map = s.serialize_map(Some(fields.len() + 1))?;
        for (key, value) in &fields {
            map.serialize_entry(key, value)?;
            if let (true, Some(secret)) = (key == "clientId", &self.client_secret) {
                map.serialize_entry("clientSecret", secret.expose_secret())?;
            }
        }
        map.end()
    }
}

/// The result of a secret rotation: the new secret, shown once.
#[derive(Debug)]
#[non_exhaustive]
pub struct RotatedSecret {
    /// The app's client id.
    pub client_id: ClientId,
    /// The new secret.
    pub client_secret: ClientSecret,
    /// Until when the previous secret keeps working; `None` when it stopped
    /// at once.
    pub previous_secret_expires_at: Option<OffsetDateTime>,
}

impl Serialize for RotatedSecret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            client_id: &'a ClientId,
            client_secret: &'a str,
            #[serde(with = "rfc3339_ms_option", skip_serializing_if = "Option::is_none")]
            previous_secret_expires_at: Option<OffsetDateTime>,
        }
        Wire {
            client_id: &self.client_id,
            client_secret: self.client_secret.expose_secret(),
            previous_secret_expires_at: self.previous_secret_expires_at,
        }
        .serialize(s)
    }
}

/// Which page of a listing: `page` 1–1000 (default 1), `perPage` 1–100
/// (default 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageRequest {
    /// 1–1000.
    #[serde(default = "PageRequest::default_page")]
    pub page: u32,
    /// 1–100.
    #[serde(default = "PageRequest::default_per_page")]
    pub per_page: u32,
}

impl PageRequest {
    /// The largest page number.
    pub const MAX_PAGE: u32 = 1000;
    /// The largest page size.
    pub const MAX_PER_PAGE: u32 = 100;

    fn default_page() -> u32 {
        1
    }

    fn default_per_page() -> u32 {
        10
    }

    /// Page `page` of `per_page` items.
    pub fn new(page: u32, per_page: u32) -> Self {
        Self { page, per_page }
    }

    /// Checks the bounds and returns the offset of the page's first item.
    ///
    /// # Errors
    ///
    /// A [`FieldError`] naming `page` or `perPage` when out of range.
    pub fn offset(&self) -> Result<u64, FieldError> {
        if !(1..=Self::MAX_PAGE).contains(&self.page) {
            return Err(FieldError::new(
                "page",
                Problem::OutOfRange {
                    min: 1,
                    max: Self::MAX_PAGE.into(),
                },
            ));
        }
        if !(1..=Self::MAX_PER_PAGE).contains(&self.per_page) {
            return Err(FieldError::new(
                "perPage",
                Problem::OutOfRange {
                    min: 1,
                    max: Self::MAX_PER_PAGE.into(),
                },
            ));
        }
        Ok(u64::from(self.page - 1) * u64::from(self.per_page))
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::new(1, 10)
    }
}

/// One page of a listing: `{ "data": [...], "meta": { "total", "page", "perPage" } }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Paged<T> {
    /// The items on this page.
    pub data: Vec<T>,
    /// Where the page stands.
    pub meta: PageMeta,
}

impl<T> Paged<T> {
    pub(crate) fn new(data: Vec<T>, total: u64, request: PageRequest) -> Self {
        Self {
            data,
            meta: PageMeta {
                total,
                page: request.page,
                per_page: request.per_page,
            },
        }
    }
}

/// The position of a [`Paged`] list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PageMeta {
    /// How many items there are in all.
    pub total: u64,
    /// This page's number.
    pub page: u32,
    /// The page size asked for.
    pub per_page: u32,
}

/// A client that proved its identity (RFC 6749 §2.3), or a public client
/// that identified itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthenticatedClient {
    /// The client's app.
    pub app: OAuthApp,
    /// Whether a confidential client authenticated with its secret (false
    /// for a public client, which has none).
    pub authenticated: bool,
    /// Whether the secret used was the previous one, within its grace
    /// period; a hint to finish the rotation.
    pub used_previous_secret: bool,
}

fn check_text(
    field: &'static str,
    value: &str,
    min: usize,
    max: usize,
    allow_newlines: bool,
) -> Result<String, FieldError> {
    let chars = value.chars().count();
    if chars < min || (min > 0 && value.trim().is_empty()) {
        return Err(FieldError::new(field, Problem::TooShort { min }));
    }
    if chars > max {
        return Err(FieldError::new(field, Problem::TooLong { max }));
    }
    let bad = |c: char| c.is_control() && !(allow_newlines && matches!(c, '\n' | '\r' | '\t'));
    if value.chars().any(bad) {
        return Err(FieldError::new(field, Problem::InvalidCharacters));
    }
    Ok(value.to_owned())
}

fn check_name(name: &str) -> Result<String, FieldError> {
    check_text("name", name, 1, MAX_NAME_CHARS, false)
}

fn check_description(description: &str) -> Result<String, FieldError> {
    check_text("description", description, 0, MAX_DESCRIPTION_CHARS, true)
}

fn check_redirect_uris(uris: &[String]) -> Result<Vec<RedirectUri>, FieldError> {
    if uris.is_empty() {
        return Err(FieldError::new("redirectUris", Problem::TooFew { min: 1 }));
    }
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(FieldError::new(
            "redirectUris",
            Problem::TooMany {
                max: MAX_REDIRECT_URIS,
            },
        ));
    }
    let mut out: Vec<RedirectUri> = Vec::with_capacity(uris.len());
    for (index, raw) in uris.iter().enumerate() {
        let uri =
            RedirectUri::parse(raw).map_err(|e| FieldError::at("redirectUris", index, e.into()))?;
        if !out.contains(&uri) {
            out.push(uri);
        }
    }
    Ok(out)
}

fn check_origins(origins: &[String]) -> Result<Vec<Origin>, FieldError> {
    if origins.len() > MAX_ALLOWED_ORIGINS {
        return Err(FieldError::new(
            "allowedOrigins",
            Problem::TooMany {
                max: MAX_ALLOWED_ORIGINS,
            },
        ));
    }
    let mut out: Vec<Origin> = Vec::with_capacity(origins.len());
    for (index, raw) in origins.iter().enumerate() {
        let origin =
            Origin::parse(raw).map_err(|e| FieldError::at("allowedOrigins", index, e.into()))?;
        if !out.contains(&origin) {
            out.push(origin);
        }
    }
    Ok(out)
}

fn check_scopes(scopes: &[String]) -> Result<ScopeSet, FieldError> {
    let set = ScopeSet::from_tokens(scopes).map_err(|e| {
        let index = match &e {
            crate::model::scope::ScopeError::InvalidToken { index }
            | crate::model::scope::ScopeError::TooLong { index, .. } => Some(*index),
            _ => None,
        };
        FieldError {
            field: "allowedScopes",
            index,
            problem: e.into(),
        }
    })?;
    if set.is_empty() {
        return Err(FieldError::new("allowedScopes", Problem::TooFew { min: 1 }));
    }
    Ok(set)
}

/// A registration's fields, checked.
struct CheckedApp {
    name: String,
    description: Option<String>,
    redirect_uris: Vec<RedirectUri>,
    allowed_scopes: ScopeSet,
    allowed_origins: Vec<Origin>,
    logo_uri: Option<String>,
}

impl NewOAuthApp {
    fn validate(&self) -> Result<CheckedApp, FieldError> {
        Ok(CheckedApp {
            name: check_name(&self.name)?,
            description: self
                .description
                .as_deref()
                .map(check_description)
                .transpose()?,
            redirect_uris: check_redirect_uris(&self.redirect_uris)?,
            allowed_scopes: check_scopes(&self.allowed_scopes)?,
            allowed_origins: check_origins(&self.allowed_origins)?,
            logo_uri: self
                .logo_uri
                .as_deref()
                .map(crate::hooks::link::check_logo_uri)
                .transpose()?,
        })
    }
}

impl AppUpdate {
    fn validate(&self, updated_at: OffsetDateTime) -> Result<AppChanges, FieldError> {
        if self.name.is_none()
            && self.description.is_none()
            && self.redirect_uris.is_none()
            && self.allowed_scopes.is_none()
            && self.allowed_origins.is_none()
            && self.logo_uri.is_none()
        {
            return Err(FieldError::new("body", Problem::NothingToUpdate));
        }
        Ok(AppChanges {
            name: self.name.as_deref().map(check_name).transpose()?,
            description: self
                .description
                .as_ref()
                .map(|d| d.as_deref().map(check_description).transpose())
                .transpose()?,
            redirect_uris: self
                .redirect_uris
                .as_deref()
                .map(check_redirect_uris)
                .transpose()?,
            allowed_scopes: self
                .allowed_scopes
                .as_deref()
                .map(check_scopes)
                .transpose()?,
            allowed_origins: self
                .allowed_origins
                .as_deref()
                .map(check_origins)
                .transpose()?,
            logo_uri: self
                .logo_uri
                .as_ref()
                .map(|l| {
                    l.as_deref()
                        .map(crate::hooks::link::check_logo_uri)
                        .transpose()
                })
                .transpose()?,
            updated_at,
        })
    }
}

impl<S: Storage> AuthorizationServer<S> {
    /// Registers an OAuth app in `workspace`.
    ///
    /// A confidential app gets a client secret, returned in
    /// [`CreatedApp::client_secret`] and nowhere else, ever.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Invalid`] naming the first offending field (storage
    /// is unchanged); storage and RNG failures.
    pub async fn create_app(
        &self,
        workspace: &WorkspaceId,
        new: &NewOAuthApp,
    ) -> Result<CreatedApp, RegistryError> {
        let CheckedApp {
            name,
            description,
            redirect_uris,
            allowed_scopes,
            allowed_origins,
            logo_uri,
        } = new.validate()?;
        let config = self.config();
        let now = self.now();
        let (client_secret, secret) = match new.app_type {
            AppType::Confidential => {
                let (secret, current) =
                    ClientSecret::generate_hashed(config.prefixes(), config.keys(), config.rng())?;
                (
                    Some(secret),
                    Some(SecretState {
                        current,
                        previous: None,
                    }),
                )
            }
            AppType::Public => (None, None),
        };
        let app = OAuthApp {
            id: AppId::generate(config.rng())?,
            client_id: ClientId::generate(config.prefixes().client_id(), config.rng())?,
            name,
            description,
            redirect_uris,
            allowed_scopes,
            allowed_origins,
            logo_uri,
            app_type: new.app_type,
            workspace_id: workspace.clone(),
            created_at: now,
            updated_at: now,
        };
        self.storage()
            .insert_app(&AppRecord {
                app: app.clone(),
                secret,
            })
            .await?;
        Ok(CreatedApp { app, client_secret })
    }

    /// The app `id` of `workspace`.
    ///
    /// # Errors
    ///
    /// [`RegistryError::NotFound`] when it does not exist or belongs to
    /// another workspace; storage failures.
    pub async fn get_app(
        &self,
        workspace: &WorkspaceId,
        id: &AppId,
    ) -> Result<OAuthApp, RegistryError> {
        self.storage()
            .get_app(workspace, id)
            .await?
            .map(|record| record.app)
            .ok_or(RegistryError::NotFound)
    }

    /// A page of the workspace's apps, oldest first. A page past the end is
    /// empty and still reports the total.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Invalid`] naming `page` or `perPage` when out of
    /// range; storage failures.
    pub async fn list_apps(
        &self,
        workspace: &WorkspaceId,
        page: PageRequest,
    ) -> Result<Paged<OAuthApp>, RegistryError> {
        let offset = page.offset()?;
        let listing = self
            .storage()
            .list_apps(workspace, offset, page.per_page)
            .await?;
        Ok(Paged {
            data: listing.items,
            meta: PageMeta {
                total: listing.total,
                page: page.page,
                per_page: page.per_page,
            },
        })
    }

    /// Changes an app's name, description, redirect URIs, allowed scopes or
    /// allowed origins; `updatedAt` moves.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Invalid`] for an empty update or a bad field (storage
    /// is unchanged); [`RegistryError::NotFound`]; storage failures.
    pub async fn update_app(
        &self,
        workspace: &WorkspaceId,
        id: &AppId,
        update: &AppUpdate,
    ) -> Result<OAuthApp, RegistryError> {
        let changes = update.validate(self.now())?;
        self.storage()
            .update_app(workspace, id, &changes)
            .await?
            .map(|record| record.app)
            .ok_or(RegistryError::NotFound)
    }

    /// Deletes an app. Everything issued to it (codes, tokens, Connect
    /// sessions, scoped keys, publishable keys) stops working at once.
    ///
    /// # Errors
    ///
    /// [`RegistryError::NotFound`]; storage failures.
    pub async fn delete_app(
        &self,
        workspace: &WorkspaceId,
        id: &AppId,
    ) -> Result<(), RegistryError> {
        if self.storage().delete_app(workspace, id).await? {
            self.config()
                .events()
                .emit(&crate::hooks::events::Event::AppDeleted {
                    workspace_id: workspace.clone(),
                    app_id: id.clone(),
                });
            Ok(())
        } else {
            Err(RegistryError::NotFound)
        }
    }

    /// Gives a confidential app a new client secret.
    ///
    /// With `grace` of `None` or zero the old secret stops working at once;
    /// otherwise both work until `grace` has passed (zero-downtime rotation),
    /// then only the new one. `grace` is capped by
    /// [`max_secret_grace`](crate::AuthorizationServerBuilder::max_secret_grace).
    ///
    /// # Errors
    ///
    /// [`RegistryError::Invalid`] naming `gracePeriodSeconds` when out of
    /// range; [`RegistryError::NotFound`]; [`RegistryError::NotConfidential`];
    /// [`RegistryError::Conflict`] when a concurrent rotation won (nothing
    /// changed, and the secret it returned is the valid one).
    pub async fn rotate_client_secret(
        &self,
        workspace: &WorkspaceId,
        id: &AppId,
        grace: Option<Duration>,
    ) -> Result<RotatedSecret, RegistryError> {
        let config = self.config();
        let max = config.max_secret_grace();
        let grace = grace.filter(|g| !g.is_zero());
        if let Some(g) = grace
            && (g.is_negative() || g > max)
        {
            return Err(FieldError::new(
                "gracePeriodSeconds",
                Problem::OutOfRange {
                    min: 0,
                    max: u64::try_from(max.whole_seconds()).unwrap_or(0),
                },
            )
            .into());
        }
        let record = self
            .storage()
            .get_app(workspace, id)
            .await?
            .ok_or(RegistryError::NotFound)?;
        let current = record.secret.ok_or(RegistryError::NotConfidential)?.current;
        let (secret, new_current) =
            ClientSecret::generate_hashed(config.prefixes(), config.keys(), config.rng())?;
        let now = self.now();
        let previous_valid_until = grace.map(|g| now + g);
        let rotation = SecretRotation {
            expected_current: current,
            new_current,
            previous_valid_until,
            updated_at: now,
        };
        match self
            .storage()
            .rotate_client_secret(workspace, id, &rotation)
            .await
        {
            Ok(Some(record)) => {
                config
                    .events()
                    .emit(&crate::hooks::events::Event::SecretRotated {
                        workspace_id: workspace.clone(),
                        app_id: id.clone(),
                        with_grace: previous_valid_until.is_some(),
                    });
                Ok(RotatedSecret {
                    client_id: record.app.client_id,
                    client_secret: secret,
                    previous_secret_expires_at: previous_valid_until,
                })
            }
            Ok(None) => Err(RegistryError::NotFound),
            Err(e) if e.kind() == StorageErrorKind::Conflict => Err(RegistryError::Conflict),
            Err(e) => Err(e.into()),
        }
    }

    /// Authenticates a client by id and secret (RFC 6749 §2.3.1).
    ///
    /// A confidential client must present its current secret, or its
    /// previous one within the grace period of a rotation. A public client
    /// presents no secret and is identified, not authenticated.
    ///
    /// # Errors
    ///
    /// A [`ClientAuthError`]; on the wire every case is `invalid_client`.
    ///
    /// # Security
    ///
    /// The secret is checked for its prefix and checksum before any storage
    /// lookup, then compared as a keyed hash in constant time.
    pub async fn authenticate_client(
        &self,
        client_id: &str,
        secret: Option<&str>,
    ) -> Result<AuthenticatedClient, ClientAuthError> {
        self.authenticate_client_prefetched(client_id, secret, None, None)
            .await
    }

    /// The client id a lookup for [`authenticate_client`](Self::authenticate_client)
    /// would read, `None` when it would fail before any lookup (a malformed
    /// id or secret).
    pub(crate) fn client_to_look_up(
        &self,
        client_id: &str,
        secret: Option<&str>,
    ) -> Option<ClientId> {
        let prefixes = self.config().prefixes();
        let client_id = ClientId::parse(client_id).ok()?;
        if !client_id.as_str().starts_with(prefixes.client_id()) {
            return None;
        }
        match secret {
            Some(s) if ClientSecret::parse(prefixes, s).is_err() => None,
            _ => Some(client_id),
        }
    }

    /// As [`authenticate_client`](Self::authenticate_client), with the id
    /// already checked when `checked` is `Some` (what
    /// [`client_to_look_up`](Self::client_to_look_up) gave for
    /// `client_id`) and the app's record already read when `prefetched` is
    /// `Some` (what `get_app_by_client_id` returned for that id).
    pub(crate) async fn authenticate_client_prefetched(
        &self,
        client_id: &str,
        secret: Option<&str>,
        checked: Option<ClientId>,
        prefetched: Option<Option<AppRecord>>,
    ) -> Result<AuthenticatedClient, ClientAuthError> {
        let config = self.config();
        let client_id = match checked {
            Some(id) => id,
            None => {
                let id = ClientId::parse(client_id).map_err(|_| ClientAuthError::UnknownClient)?;
                if !id.as_str().starts_with(config.prefixes().client_id()) {
                    return Err(ClientAuthError::UnknownClient);
                }
                id
            }
        };
        // Parse before the lookup: a mistyped secret costs no storage call.
        let presented = secret
            .map(|s| {
                ClientSecret::parse(config.prefixes(), s)
                    .map_err(|_| ClientAuthError::InvalidSecret)
            })
            .transpose()?;
        let record = match prefetched {
            Some(record) => record,
            None => self.storage().get_app_by_client_id(&client_id).await?,
        }
        .ok_or(ClientAuthError::UnknownClient)?;
        let state = match (&record.secret, &presented) {
            (None, None) => {
                return Ok(AuthenticatedClient {
                    app: record.app,
                    authenticated: false,
                    used_previous_secret: false,
                });
            }
            (None, Some(_)) => return Err(ClientAuthError::UnexpectedSecret),
            (Some(_), None) => return Err(ClientAuthError::MissingSecret),
            (Some(state), Some(_)) => state,
        };
        let hash = presented
            .as_ref()
            .and_then(|s| s.hash(config.keys()))
            .ok_or(ClientAuthError::InvalidSecret)?;
        let is_current = bool::from(hash.ct_eq(&state.current));
        let is_previous = state.previous.as_ref().is_some_and(|previous| {
            bool::from(hash.ct_eq(&previous.hash)) && self.now() < previous.valid_until
        });
        if is_current || is_previous {
            Ok(AuthenticatedClient {
                app: record.app,
                authenticated: true,
                used_previous_secret: !is_current,
            })
        } else {
            Err(ClientAuthError::InvalidSecret)
        }
    }
}

impl<'de> Deserialize<'de> for RotateSecretRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct Wire {
            // Left out: no grace; JSON `null` is refused, as the OpenAPI
            // document says (an integer).
            #[serde(default, deserialize_with = "present_integer")]
            grace_period_seconds: Option<i64>,
        }
        fn present_integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
            i64::deserialize(d).map(Some)
        }
        let wire = Wire::deserialize(d)?;
        match wire.grace_period_seconds {
            Some(s) if s < 0 => Err(D::Error::custom("gracePeriodSeconds must not be negative")),
            s => Ok(Self {
                grace_period: s.map(Duration::seconds),
            }),
        }
    }
}

/// The optional body of `POST /v1/oauth-apps/{id}/rotate-secret`:
/// `{ "gracePeriodSeconds": 3600 }`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RotateSecretRequest {
    /// How long the old secret keeps working.
    pub grace_period: Option<Duration>,
}
