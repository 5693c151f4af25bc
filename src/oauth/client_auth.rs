//! Client authentication at the token, revocation, introspection and PAR
//! endpoints (RFC 6749 §2.3): `client_secret_basic`, `client_secret_post`,
//! or a public client's `client_id` alone.

use crate::credentials::{Redacted, Secret};
use crate::error::{AuthFailure, Error};
use crate::hooks::events::Event;
use crate::model::ids::ClientId;
use crate::oauth::error::{OAuthError, OAuthErrorCode};
use crate::oauth::token::error::{FailedAuthentication, TokenError};
use crate::registry::secrets::AuthenticatedClient;
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

/// How a client authenticates at the token, revocation, introspection and
/// PAR endpoints (RFC 6749 §2.3): exactly one method per request.
///
/// `Debug` redacts the id and the secret: until the client is
/// authenticated, what was presented as the id may as well be a secret.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ClientAuth {
    /// `client_secret_basic`: the `Authorization: Basic` header (§2.3.1).
    Basic(BasicCredentials),
    /// `client_secret_post`: `client_id` and `client_secret` in the form
    /// body (§2.3.1).
    Post {
        /// The client id.
        client_id: Redacted<String>,
        /// The client secret.
        client_secret: Secret,
    },
    /// No secret: a public client, identified by its `client_id` (§2.1).
    None {
        /// The client id.
        client_id: Redacted<String>,
    },
}

impl ClientAuth {
    /// The presented client id.
    pub fn client_id(&self) -> &str {
        match self {
            Self::Basic(basic) => basic.client_id.as_str(),
            Self::Post { client_id, .. } | Self::None { client_id } => client_id.as_str(),
        }
    }

    /// The presented secret, if any.
    pub(crate) fn secret(&self) -> Option<&str> {
        match self {
            Self::Basic(basic) => Some(basic.client_secret.expose_secret()),
            Self::Post { client_secret, .. } => Some(client_secret.expose_secret()),
            Self::None { .. } => None,
        }
    }
}

impl<S: Storage> AuthorizationServer<S> {
    /// Authenticates the client of a token, revocation, introspection or PAR
    /// request (RFC 6749 §2.3) as `auth` presents it.
    ///
    /// # Errors
    ///
    /// `invalid_client` (counted by the limits as a failed
    /// authentication); storage errors.
    pub(crate) async fn authenticate_endpoint_client(
        &self,
        auth: &ClientAuth,
    ) -> Result<AuthenticatedClient, TokenError> {
        self.authenticate_presented_client(auth.client_id(), auth.secret(), None, None)
            .await
    }

    /// Authenticates the client `client_id` with `secret`, as presented,
    /// reporting a failure as the endpoint answers it; `checked` and `prefetched` as for
    /// [`authenticate_client_prefetched`](Self::authenticate_client_prefetched).
    pub(crate) async fn authenticate_presented_client(
        &self,
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
            Err(Error::Unauthenticated(e)) => {
                let reason = match e {
                    AuthFailure::UnknownClient => "unknown client",
                    AuthFailure::MissingSecret => "missing secret",
                    AuthFailure::UnexpectedSecret => "public client sent a secret",
                    _ => "invalid secret",
                };
                // The event names the client only when an app has that id:
                // whatever else was presented as `client_id` may be a
                // secret (a client that swapped id and secret), and hosts
                // log events.
                let client_id = match e {
                    AuthFailure::UnknownClient => None,
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
                    failed_authentication,
                })
            }
            Err(Error::Storage(e)) => Err(e.into()),
            Err(_) => Err(TokenError::new(
                OAuthErrorCode::ServerError,
                "internal error",
            )),
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
