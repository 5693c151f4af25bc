//! The resource-server side: who a bearer credential (an access token, or
//! a scoped key) speaks for, and whether it carries a scope (RFC 6750).

use time::OffsetDateTime;

use crate::model::ids::{AppId, ClientId, CustomerId, GrantId, Subject, WorkspaceId};
use crate::model::scope::ScopeSet;
use crate::oauth::token::BearerError;
use crate::server::AuthorizationServer;
use crate::storage::Storage;

/// What kind of bearer credential authenticated a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BearerKind {
    /// An OAuth access token.
    AccessToken,
    /// A scoped key bound to one customer.
    ScopedKey,
}

/// The principal behind a valid bearer credential.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BearerPrincipal {
    /// Access token or scoped key.
    pub kind: BearerKind,
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The app the credential was issued to.
    pub app_id: AppId,
    /// The app's client id.
    pub client_id: ClientId,
    /// The resource owner (for access tokens from a user's grant).
    pub subject: Option<Subject>,
    /// The scopes the credential carries.
    pub scopes: ScopeSet,
    /// The grant it belongs to (access tokens).
    pub grant_id: Option<GrantId>,
    /// The customer a scoped key is bound to.
    pub customer_id: Option<CustomerId>,
    /// When the credential expires; `None` for a scoped key without expiry.
    pub expires_at: Option<OffsetDateTime>,
}

impl BearerPrincipal {
    /// Whether the credential carries `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }
}

impl<S: Storage> AuthorizationServer<S> {
    /// Authenticates a bearer credential from `Authorization: Bearer …` for
    /// a resource server: an access token or a scoped key, told apart by
    /// prefix. This is the one check of a bearer credential;
    /// [`authenticate_request`](Self::authenticate_request) is the same
    /// check reading the credential from a request's headers (and answering
    /// RFC 6750's refusals).
    ///
    /// # Errors
    ///
    /// [`BearerError::InvalidToken`] for anything malformed, unknown,
    /// expired or revoked; storage errors.
    pub async fn authenticate_bearer(
        &self,
        credential: &str,
    ) -> Result<BearerPrincipal, BearerError> {
        if credential.starts_with(self.config().prefixes().scoped_key()) {
            let key = self
                .verify_scoped_key(credential)
                .await
                .map_err(|e| match e {
                    crate::connect::scoped_keys::ScopedKeyError::Storage(e) => {
                        BearerError::Storage(e)
                    }
                    _ => BearerError::InvalidToken,
                })?;
            return Ok(BearerPrincipal {
                kind: BearerKind::ScopedKey,
                workspace_id: key.workspace_id,
                app_id: key.app_id,
                client_id: key.client_id,
                subject: Subject::parse(&key.reference_id).ok(),
                scopes: key.scopes,
                grant_id: None,
                customer_id: Some(key.customer_id),
                expires_at: key.expires_at,
            });
        }
        let info = self.validate_access_token(credential).await?;
        Ok(BearerPrincipal {
            kind: BearerKind::AccessToken,
            workspace_id: info.workspace_id,
            app_id: info.app_id,
            client_id: info.client_id,
            subject: info.subject,
            scopes: info.scopes,
            grant_id: Some(info.grant_id),
            customer_id: None,
            expires_at: Some(info.expires_at),
        })
    }
}
