//! The client-credentials grant (RFC 6749 §4.4).

use zeroize::Zeroizing;

use super::error::TokenError;
use super::response::{TokenResponse, array};
use crate::credentials::{AccessToken, RANDOM_LEN};
use crate::hooks::events::Event;
use crate::model::ids::GrantId;
use crate::model::scope::ScopeSet;
use crate::oauth::error::OAuthErrorCode;
use crate::registry::secrets::AuthenticatedClient;
use crate::server::AuthorizationServer;
use crate::storage::{GrantRecord, Storage, TokenKind};

impl<S: Storage> AuthorizationServer<S> {
    /// The client-credentials grant (RFC 6749 §4.4): confidential clients
    /// only, scopes within the app's allowed scopes (all of them when
    /// `scope` is omitted), no refresh token.
    ///
    /// # Errors
    ///
    /// `unauthorized_client` for a public client; `invalid_scope`; storage
    /// errors.
    pub async fn client_credentials(
        &self,
        client: &AuthenticatedClient,
        scope: Option<&str>,
    ) -> Result<TokenResponse, TokenError> {
        if !client.authenticated {
            return Err(TokenError::new(
                OAuthErrorCode::UnauthorizedClient,
                "public clients cannot use client_credentials",
            ));
        }
        let app = &client.app;
        let scopes = match scope {
            None => app.allowed_scopes.clone(),
            Some(scope) => ScopeSet::parse_sharing(scope, &app.allowed_scopes)
                .map_err(|_| TokenError::new(OAuthErrorCode::InvalidScope, "scope is malformed"))?,
        };
        if !scopes.is_subset_of(&app.allowed_scopes) {
            return Err(TokenError::new(
                OAuthErrorCode::InvalidScope,
                "scope exceeds what the client is allowed",
            ));
        }
        let config = self.config();
        let now = self.now();
        let expires_at = now + config.lifetimes().access_token;
        // One draw from the CSPRNG for the grant id and the token.
        let mut random = Zeroizing::new([0u8; 16 + RANDOM_LEN]);
        config.rng().fill(random.as_mut_slice())?;
        let mut grant_id = [0u8; 16];
        grant_id.copy_from_slice(&random[..16]);
        let grant = GrantRecord {
            id: GrantId::from_bytes(&grant_id),
            workspace_id: app.workspace_id.clone(),
            app_id: app.id.clone(),
            client_id: app.client_id.clone(),
            subject: None,
            scopes: scopes.clone(),
            created_at: now,
            expires_at: Some(expires_at),
            revoked_at: None,
        };
        let (access, hash) =
            AccessToken::from_random(config.prefixes(), config.keys(), &array(&random[16..]))?;
        let token = self.new_token_record(hash, TokenKind::Access, &grant, scopes.clone(), now);
        self.storage().insert_grant(&grant, &[token]).await?;
        config.events().emit(&Event::TokenIssued {
            client_id: app.client_id.clone(),
            grant_type: "client_credentials",
            scopes: scopes.clone(),
            subject: None,
        });
        Ok(TokenResponse {
            access_token: access,
            expires_in: config.lifetimes().access_token.whole_seconds(),
            refresh_token: None,
            scope: scopes,
            scoped_key: None,
        })
    }
}
