//! Client authentication at the token, revocation, introspection and PAR
//! endpoints (RFC 6749 §2.3): `client_secret_basic`, `client_secret_post`,
//! or a public client's `client_id` alone.

use crate::credentials::{Redacted, Secret};
use crate::error::ClientAuthError;
use crate::hooks::events::Event;
use crate::model::ids::ClientId;
use crate::oauth::error::{OAuthError, OAuthErrorCode};
use crate::oauth::params::Params;
use crate::oauth::token::error::{FailedAuthentication, TokenError, invalid_request};
use crate::registry::apps::AuthenticatedClient;
use crate::server::AuthorizationServer;
use crate::storage::{AppRecord, Storage};

/// Client credentials from an `Authorization: Basic` header (RFC 6749
/// §2.3.1), already form-decoded. The secret is zeroized on drop.
///
/// `Debug` redacts both fields: until the client is authenticated, what was
/// presented as the id may as well be a secret (swapped fields).
#[derive(Debug, Clone)]
pub struct BasicCredentials {
    /// The client id.
    pub client_id: Redacted<String>,
    /// The client secret.
    pub client_secret: Secret,
}

impl<S: Storage> AuthorizationServer<S> {
    /// Authenticates the client of a token, revocation, introspection or PAR
    /// request (RFC 6749 §2.3): `client_secret_basic` (`basic`) or
    /// `client_secret_post` (`client_id` and `client_secret` in `params`),
    /// exactly one; a public client sends only `client_id`.
    pub(crate) async fn authenticate_endpoint_client(
        &self,
        basic: Option<&BasicCredentials>,
        params: &Params<'_>,
    ) -> Result<AuthenticatedClient, TokenError> {
        let (client_id, secret) = self.endpoint_credentials(basic, params)?;
        self.authenticate_presented_client(basic.is_some(), client_id, secret, None, None)
            .await
    }

    /// The client id and secret of an endpoint request: from
    /// `client_secret_basic` or `client_secret_post`, exactly one (RFC 6749
    /// §2.3); a public client's `client_id` alone.
    pub(crate) fn endpoint_credentials<'a>(
        &self,
        basic: Option<&'a BasicCredentials>,
        params: &'a Params<'_>,
    ) -> Result<(&'a str, Option<&'a str>), TokenError> {
        Ok(match basic {
            Some(basic) => {
                // RFC 6749 §2.3: one authentication method per request.
                if params.contains("client_secret") {
                    return Err(invalid_request(
                        "use exactly one client authentication method",
                    ));
                }
                if params
                    .get("client_id")
                    .is_some_and(|id| id != basic.client_id.as_str())
                {
                    return Err(TokenError {
                        basic_auth: true,
                        ..invalid_request("client_id does not match the Authorization header")
                    });
                }
                (
                    basic.client_id.as_str(),
                    Some(basic.client_secret.expose_secret()),
                )
            }
            None => match params.get("client_id") {
                Some(id) => (id, params.get("client_secret")),
                None => {
                    self.config()
                        .events()
                        .emit(&Event::ClientAuthenticationFailed {
                            client_id: None,
                            reason: "no client authentication",
                        });
                    return Err(TokenError::new(
                        OAuthErrorCode::InvalidClient,
                        "client authentication is required",
                    ));
                }
            },
        })
    }

    /// Authenticates the client `client_id` with `secret`, as presented
    /// (`basic`: in the `Authorization` header), reporting a failure as the
    /// endpoint answers it; `checked` and `prefetched` as for
    /// [`authenticate_client_prefetched`](Self::authenticate_client_prefetched).
    pub(crate) async fn authenticate_presented_client(
        &self,
        basic: bool,
        client_id: &str,
        secret: Option<&str>,
        checked: Option<ClientId>,
        prefetched: Option<Option<AppRecord>>,
    ) -> Result<AuthenticatedClient, TokenError> {
        match self
            .authenticate_client_prefetched(client_id, secret, checked, prefetched)
            .await
        {
            Ok(client) => Ok(client),
            Err(ClientAuthError::Storage(e)) => Err(e.into()),
            Err(e) => {
                let reason = match e {
                    ClientAuthError::UnknownClient => "unknown client",
                    ClientAuthError::MissingSecret => "missing secret",
                    ClientAuthError::UnexpectedSecret => "public client sent a secret",
                    _ => "invalid secret",
                };
                // The event names the client only when an app has that id:
                // whatever else was presented as `client_id` may be a
                // secret (a client that swapped id and secret), and hosts
                // log events.
                let client_id = match e {
                    ClientAuthError::UnknownClient => None,
                    _ => self.registered_client_id(client_id).await,
                };
                let failed_authentication = if client_id.is_some() {
                    FailedAuthentication::Client
                } else {
                    FailedAuthentication::UnknownClient
                };
                self.config()
                    .events()
                    .emit(&Event::ClientAuthenticationFailed { client_id, reason });
                Err(TokenError {
                    error: OAuthError::new(
                        OAuthErrorCode::InvalidClient,
                        "client authentication failed",
                    ),
                    basic_auth: basic,
                    failed_authentication,
                })
            }
        }
    }

    /// `presented` as a client id, if an app has it; `None` otherwise (or
    /// when storage fails: the event then names no client).
    pub(crate) async fn registered_client_id(&self, presented: &str) -> Option<ClientId> {
        let id = ClientId::parse(presented).ok()?;
        let record = self.storage().get_app_by_client_id(&id).await.ok()??;
        Some(record.app.client_id)
    }
}
