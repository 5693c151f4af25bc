//! Access-token validation for resource servers (RFC 6750).

use time::OffsetDateTime;

use crate::credentials::AccessToken;
use crate::model::ids::{AppId, ClientId, GrantId, Subject, WorkspaceId};
use crate::model::scope::ScopeSet;
use crate::server::AuthorizationServer;
use crate::storage::{Storage, StorageError, TokenKind};

/// A valid access token, as a resource server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) struct AccessTokenInfo {
    /// The client's workspace.
    pub(crate) workspace_id: WorkspaceId,
    /// The client's app.
    pub(crate) app_id: AppId,
    /// The client.
    pub(crate) client_id: ClientId,
    /// The resource owner; `None` for `client_credentials` tokens.
    pub(crate) subject: Option<Subject>,
    /// The token's scopes.
    pub(crate) scopes: ScopeSet,
    /// The grant it belongs to.
    pub(crate) grant_id: GrantId,
    /// When it expires.
    pub(crate) expires_at: OffsetDateTime,
}

/// Why an access token was refused (RFC 6750 §3.1: `invalid_token`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BearerError {
    /// Malformed, unknown, expired or revoked.
    #[error("the access token is invalid, expired or revoked")]
    InvalidToken,
    /// Storage failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}

impl<S: Storage> AuthorizationServer<S> {
    /// Validates a bearer access token for a resource server (RFC 6750):
    /// well formed, known, unexpired, not revoked, its grant and app live.
    ///
    /// # Errors
    ///
    /// [`BearerError::InvalidToken`]; storage errors.
    ///
    /// # Security
    ///
    /// The prefix and checksum are checked before any storage lookup, and
    /// the lookup is by keyed hash.
    pub(crate) async fn validate_access_token(
        &self,
        token: &str,
    ) -> Result<AccessTokenInfo, BearerError> {
        let config = self.config();
        let hash = AccessToken::hash_presented(config.prefixes(), config.keys(), token)
            .ok()
            .flatten()
            .ok_or(BearerError::InvalidToken)?;
        let record = self
            .storage()
            .get_token(&hash)
            .await?
            .filter(|t| t.kind == TokenKind::Access)
            .ok_or(BearerError::InvalidToken)?;
        if record.is_expired(self.now()) {
            return Err(BearerError::InvalidToken);
        }
        Ok(AccessTokenInfo {
            workspace_id: record.workspace_id,
            app_id: record.app_id,
            client_id: record.client_id,
            subject: record.subject,
            scopes: record.scopes,
            grant_id: record.grant_id,
            expires_at: record.expires_at,
        })
    }
}
