//! The OAuth app registry: registration, reading, listing, update and
//! deletion of apps, and the checks of their fields. Secret rotation and
//! client authentication are [`secrets`](super::secrets)'s, the listing's
//! page types [`paging`](super::paging)'s.

use serde::de::Deserializer;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::paging::{PageMeta, PageRequest, Paged};
use crate::credentials::ClientSecret;
use crate::error::{Error, FieldError, Problem, RegistryProblem, Resource};
use crate::model::ids::{AppId, ClientId, WorkspaceId};
use crate::model::origin::Origin;
use crate::model::redirect::RedirectUri;
use crate::model::scope::ScopeSet;
use crate::server::AuthorizationServer;
use crate::storage::{AppChanges, AppRecord, SecretState, Storage};

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

/// `logoUri`: an absolute `https` URL the hosted pages may show.
fn check_logo_uri(uri: &str) -> Result<String, FieldError> {
    use crate::hooks::link::LogoUriError;
    crate::hooks::link::check_logo_uri(uri).map_err(|e| {
        let problem = match e {
            LogoUriError::TooLong { max } => Problem::TooLong { max },
            LogoUriError::NotHttps => Problem::Registry(RegistryProblem::NotHttpsUrl),
        };
        FieldError::new("logoUri", problem)
    })
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
            logo_uri: self.logo_uri.as_deref().map(check_logo_uri).transpose()?,
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
            return Err(FieldError::new(
                "body",
                Problem::Registry(RegistryProblem::NothingToUpdate),
            ));
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
                .map(|l| l.as_deref().map(check_logo_uri).transpose())
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
    /// [`Error::Invalid`] naming the first offending field (storage
    /// is unchanged); storage and RNG failures.
    pub async fn create_app(
        &self,
        workspace: &WorkspaceId,
        new: &NewOAuthApp,
    ) -> Result<CreatedApp, Error> {
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
    /// [`Error::NotFound`] when it does not exist or belongs to
    /// another workspace; storage failures.
    pub async fn get_app(&self, workspace: &WorkspaceId, id: &AppId) -> Result<OAuthApp, Error> {
        self.storage()
            .get_app(workspace, id)
            .await?
            .map(|record| record.app)
            .ok_or(Error::NotFound(Resource::App))
    }

    /// A page of the workspace's apps, oldest first. A page past the end is
    /// empty and still reports the total.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming `page` or `perPage` when out of
    /// range; storage failures.
    pub async fn list_apps(
        &self,
        workspace: &WorkspaceId,
        page: PageRequest,
    ) -> Result<Paged<OAuthApp>, Error> {
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
    /// [`Error::Invalid`] for an empty update or a bad field (storage
    /// is unchanged); [`Error::NotFound`]; storage failures.
    pub async fn update_app(
        &self,
        workspace: &WorkspaceId,
        id: &AppId,
        update: &AppUpdate,
    ) -> Result<OAuthApp, Error> {
        let changes = update.validate(self.now())?;
        self.storage()
            .update_app(workspace, id, &changes)
            .await?
            .map(|record| record.app)
            .ok_or(Error::NotFound(Resource::App))
    }

    /// Deletes an app. Everything issued to it (codes, tokens, Connect
    /// sessions, scoped keys, publishable keys) stops working at once.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; storage failures.
    pub async fn delete_app(&self, workspace: &WorkspaceId, id: &AppId) -> Result<(), Error> {
        if self.storage().delete_app(workspace, id).await? {
            self.config()
                .events()
                .emit(&crate::hooks::events::Event::AppDeleted {
                    workspace_id: workspace.clone(),
                    app_id: id.clone(),
                });
            Ok(())
        } else {
            Err(Error::NotFound(Resource::App))
        }
    }
}
