//! An OAuth app (client) as the registry keeps it and every flow reads it:
//! its type (RFC 6749 §2.1), redirect URIs, scopes and origins.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::ids::{AppId, ClientId, WorkspaceId};
use crate::model::origin::Origin;
use crate::model::redirect::RedirectUri;
use crate::model::scope::ScopeSet;
use crate::model::timestamp::rfc3339_ms;

/// Whether a client can keep a secret (RFC 6749 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AppType {
    /// A server-side app that can keep a client secret; it authenticates at
    /// the token endpoint.
    Confidential,
    /// A browser or native app that cannot keep a secret; it has none and
    /// must use PKCE with `S256`.
    Public,
}

/// An OAuth app (client) as the management API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct OAuthApp {
    /// `oauth_…`
    pub id: AppId,
    /// The OAuth `client_id`.
    pub client_id: ClientId,
    /// 1–255 characters.
    pub name: String,
    /// At most 1000 characters.
    pub description: Option<String>,
    /// At least one; matched by exact string comparison.
    pub redirect_uris: Vec<RedirectUri>,
    /// At least one RFC 6749 §3.3 scope token.
    pub allowed_scopes: ScopeSet,
    /// The web origins the app's pages are served from (at most
    /// [`MAX_ALLOWED_ORIGINS`](crate::registry::apps::MAX_ALLOWED_ORIGINS); empty by
    /// default): the only origins from which its publishable keys create
    /// Connect sessions, and which may frame its hosted Connect page.
    #[serde(default)]
    pub allowed_origins: Vec<Origin>,
    /// The app's logo (an `https` URL), shown on the consent and Connect
    /// pages beside its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// Confidential or public.
    #[serde(rename = "type")]
    pub app_type: AppType,
    /// The owning workspace.
    pub workspace_id: WorkspaceId,
    /// When the app was created.
    #[serde(with = "rfc3339_ms")]
    pub created_at: OffsetDateTime,
    /// When the app last changed (including secret rotation).
    #[serde(with = "rfc3339_ms")]
    pub updated_at: OffsetDateTime,
}

impl fmt::Display for AppType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Confidential => "CONFIDENTIAL",
            Self::Public => "PUBLIC",
        })
    }
}
