//! Introspection (RFC 7662).

use serde::Serialize;

use super::error::TokenError;
use super::revoke::Presented;
use crate::hooks::events::Event;
use crate::model::ids::{ClientId, Subject};
use crate::oauth::client_auth::ClientAuth;
use crate::oauth::error::OAuthErrorCode;
use crate::oauth::request::IntrospectionRequest;
use crate::registry::secrets::AuthenticatedClient;
use crate::server::AuthorizationServer;
use crate::storage::Storage;

/// An RFC 7662 introspection response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Introspection {
    /// Whether the token is active.
    pub active: bool,
    /// Space-separated scopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client the token was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<ClientId>,
    /// The resource owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<Subject>,
    /// Expiry, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issue time, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// `Bearer` for access tokens, `refresh_token` for refresh tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// The issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
}

impl Introspection {
    /// `{"active": false}`: all an inactive token reveals.
    pub fn inactive() -> Self {
        Self {
            active: false,
            scope: None,
            client_id: None,
            sub: None,
            exp: None,
            iat: None,
            token_type: None,
            iss: None,
        }
    }
}

impl<S: Storage> AuthorizationServer<S> {
    /// The introspection endpoint (`POST /oauth/introspect`, RFC 7662): a
    /// confidential client authenticates (public clients are refused,
    /// §2.1); an active token of its own is described, and
    /// anything else — expired, revoked, spent, unknown, another client's —
    /// is exactly `{"active": false}`.
    ///
    /// # Errors
    ///
    /// `invalid_client` (also for a public client).
    pub async fn introspect(
        &self,
        auth: &ClientAuth,
        request: &IntrospectionRequest,
    ) -> Result<Introspection, TokenError> {
        let client = self.introspecting_client(auth).await?;
        let token = request.token.expose_secret();
        if token.starts_with(self.config().prefixes().scoped_key()) {
            return self.introspect_scoped_key(&client, token).await;
        }
        let Some((presented, hash)) = self.classify(token) else {
            return Ok(Introspection::inactive());
        };
        let Some(record) = self.storage().get_token(&hash).await? else {
            return Ok(Introspection::inactive());
        };
        let now = self.now();
        if record.client_id != client.app.client_id
            || record.is_expired(now)
            || record.rotated_at.is_some()
        {
            return Ok(Introspection::inactive());
        }
        Ok(Introspection {
            active: true,
            scope: Some(record.scopes.to_param()),
            client_id: Some(record.client_id),
            sub: record.subject,
            exp: Some(record.expires_at.unix_timestamp()),
            iat: Some(record.issued_at.unix_timestamp()),
            token_type: Some(match presented {
                Presented::Access => "Bearer",
                Presented::Refresh => "refresh_token",
            }),
            iss: Some(self.config().issuer_str().to_owned()),
        })
    }

    /// The client of an introspection request, authenticated as `auth`
    /// presents it: a confidential client only.
    ///
    /// # Errors
    ///
    /// `invalid_client` (also for a public client); storage errors.
    pub(crate) async fn introspecting_client(
        &self,
        auth: &ClientAuth,
    ) -> Result<AuthenticatedClient, TokenError> {
        let client = self.authenticate_endpoint_client(auth).await?;
        // RFC 7662 §2.1: the endpoint MUST require authorization, so that
        // it cannot be used to scan for tokens; a public client's
        // `client_id` alone proves nothing.
        if !client.authenticated {
            self.config()
                .events()
                .emit(&Event::ClientAuthenticationFailed {
                    client_id: Some(client.app.client_id.clone()),
                    reason: "public client at the introspection endpoint",
                });
            return Err(TokenError::new(
                OAuthErrorCode::InvalidClient,
                "introspection requires a confidential client's credentials",
            ));
        }
        Ok(client)
    }
}
