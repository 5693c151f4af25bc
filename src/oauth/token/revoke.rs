//! Revocation (RFC 7009), and the classification of a presented token
//! that revocation and introspection share.

use super::error::TokenError;
use crate::credentials::keyring::CredentialHash;
use crate::credentials::{AccessToken, RefreshToken};
use crate::hooks::events::Event;
use crate::model::ids::WorkspaceId;
use crate::oauth::client_auth::ClientAuth;
use crate::oauth::error::OAuthErrorCode;
use crate::oauth::request::RevocationRequest;
use crate::server::AuthorizationServer;
use crate::storage::{GrantRevocation, Storage};

/// What a presented token is, by its prefix.
#[derive(Clone, Copy)]
pub(super) enum Presented {
    /// An access token.
    Access,
    /// A refresh token.
    Refresh,
}

impl<S: Storage> AuthorizationServer<S> {
    /// The kind and hash of a presented access or refresh token; `None`
    /// when it is neither (or malformed).
    pub(super) fn classify(&self, token: &str) -> Option<(Presented, CredentialHash)> {
        let config = self.config();
        let (prefixes, keys) = (config.prefixes(), config.keys());
        if let Ok(hash) = AccessToken::hash_presented(prefixes, keys, token) {
            return Some((Presented::Access, hash?));
        }
        if let Ok(hash) = RefreshToken::hash_presented(prefixes, keys, token) {
            return Some((Presented::Refresh, hash?));
        }
        None
    }

    /// The revocation endpoint (`POST /oauth/revoke`, RFC 7009): the client
    /// authenticates; revoking an access token revokes that access token
    /// only (its refresh token and grant stay: RFC 7009 §2.1 leaves that to
    /// the server, and a client that wants the whole grant gone revokes the
    /// refresh token); revoking a refresh token revokes its whole grant
    /// (every access token issued from it) and, for a Connect grant, in the
    /// same atomic storage step, its connection and the scoped keys minted
    /// under it ([`Event::ConnectionRevoked`]); revoking a scoped key of
    /// the client's app revokes that key. Unknown, malformed and
    /// already-revoked tokens succeed (§2.2).
    ///
    /// # Errors
    ///
    /// `invalid_client`;
    /// `unauthorized_client` for another client's token (which stays valid).
    pub async fn revoke(
        &self,
        auth: &ClientAuth,
        request: &RevocationRequest,
    ) -> Result<(), TokenError> {
        let client = self.authenticate_endpoint_client(auth).await?;
        let token = request.token.expose_secret();
        if token.starts_with(self.config().prefixes().scoped_key()) {
            return self.revoke_presented_scoped_key(&client, token).await;
        }
        let Some((presented, hash)) = self.classify(token) else {
            return Ok(());
        };
        let Some(record) = self.storage().get_token(&hash).await? else {
            return Ok(());
        };
        if record.client_id != client.app.client_id {
            return Err(TokenError::new(
                OAuthErrorCode::UnauthorizedClient,
                "the token was issued to another client",
            ));
        }
        let whole_grant = matches!(presented, Presented::Refresh);
        let revocation = if whole_grant {
            self.storage()
                .revoke_grant(&record.grant_id, self.now())
                .await?
        } else {
            self.storage().revoke_token(&hash).await?;
            None
        };
        self.config().events().emit(&Event::TokenRevoked {
            client_id: client.app.client_id.clone(),
            whole_grant,
        });
        if let Some(revocation) = revocation {
            self.connection_revoked(&record.workspace_id, &revocation);
        }
        Ok(())
    }

    /// Reports the Connect connection a grant's revocation took with it,
    /// if any ([`Event::ConnectionRevoked`]).
    pub(super) fn connection_revoked(&self, workspace: &WorkspaceId, revocation: &GrantRevocation) {
        if let Some(connection_id) = &revocation.connection_id {
            self.config().events().emit(&Event::ConnectionRevoked {
                workspace_id: workspace.clone(),
                connection_id: connection_id.clone(),
            });
        }
    }
}
