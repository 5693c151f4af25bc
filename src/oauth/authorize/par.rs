//! Pushed authorization requests (RFC 9126).

use std::net::IpAddr;

use super::validate::problem;
use crate::credentials::Redacted;
use crate::model::redirect::find_match;
use crate::oauth::error::{OAuthError, OAuthErrorCode};
use crate::oauth::request::AuthorizationRequest;
use crate::registry::secrets::AuthenticatedClient;
use crate::server::AuthorizationServer;
use crate::storage::{SessionRecord, SessionStatus, Storage, StorageError};

/// The `request_uri` scheme of pushed authorization requests (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// The answer to a pushed authorization request (RFC 9126 §2.2).
///
/// `Debug` redacts the `request_uri`: it carries the session's handle, a
/// Connect token.
#[derive(Debug)]
#[non_exhaustive]
pub struct PushedRequest {
    /// `urn:ietf:params:oauth:request_uri:…`, for `/oauth/authorize`.
    pub request_uri: Redacted<String>,
    /// Seconds until it must be used.
    pub expires_in: i64,
}

impl<S: Storage> AuthorizationServer<S> {
    /// A pushed authorization request (RFC 9126 §2) from an authenticated
    /// client: validates the parameters as the authorization endpoint would
    /// and returns a single-use `request_uri`.
    ///
    /// `request` is what the client pushed, its client authentication
    /// excluded. `client_address` is the pushing client's
    /// ([`client_address`](Self::client_address)).
    ///
    /// # Errors
    ///
    /// [`PushError::Invalid`] for the JSON error response (RFC 9126 §2.3).
    ///
    /// # Security
    ///
    /// A public client's push needs no secret: its pushed requests are kept
    /// per client and address, at most
    /// [`public_pushed_request_cap`](crate::AuthorizationServerBuilder::public_pushed_request_cap)
    /// of them, a push beyond that replacing the oldest (whose
    /// `request_uri` then stops working). Without an address every such
    /// push of the client shares one bound. A confidential client's pushes
    /// are its own business and are not capped.
    pub async fn push_authorization_request(
        &self,
        client: &AuthenticatedClient,
        request: &AuthorizationRequest,
        client_address: Option<IpAddr>,
    ) -> Result<PushedRequest, PushError> {
        use OAuthErrorCode::InvalidRequest;
        let app = &client.app;
        // RFC 9126 §2.1: request_uri must not be pushed.
        if request.request_uri.is_some() {
            return Err(problem(InvalidRequest, "request_uri must not be pushed").into());
        }
        if request
            .client_id
            .as_deref()
            .is_some_and(|id| id != app.client_id.as_str())
        {
            return Err(problem(
                InvalidRequest,
                "client_id does not match the authenticated client",
            )
            .into());
        }
        let (redirect_uri, in_request) = match request.redirect_uri.as_deref() {
            Some(requested) if find_match(&app.redirect_uris, requested).is_some() => {
                (requested.to_owned(), true)
            }
            Some(_) => return Err(problem(InvalidRequest, "redirect_uri is not registered").into()),
            None => match app.redirect_uris.as_slice() {
                [only] => (only.as_str().to_owned(), false),
                _ => return Err(problem(InvalidRequest, "redirect_uri is required").into()),
            },
        };
        let valid = self.validate_request(app, request, redirect_uri, in_request)?;
        let now = self.now();
        let lifetimes = self.config().lifetimes();
        let (session, hash) = self.new_session_handle()?;
        let record = SessionRecord {
            hash,
            workspace_id: app.workspace_id.clone(),
            app_id: app.id.clone(),
            client_id: app.client_id.clone(),
            redirect_uri: valid.redirect_uri,
            redirect_uri_in_request: valid.redirect_uri_in_request,
            scopes: valid.scopes,
            state: valid.state.map(Redacted::new),
            code_challenge: valid.code_challenge,
            response_mode: valid.response_mode,
            created_at: now,
            expires_at: now + lifetimes.consent,
            open_by: Some(now + lifetimes.pushed_request),
            opened_at: None,
            status: SessionStatus::Pending,
            connect: None,
        };
        if client.authenticated {
            self.storage().insert_session(&record).await?;
        } else {
            let keys = self.config().keys();
            let network = crate::server::client_address::limit_key(client_address);
            let requester = keys
                .hash(
                    keys.current_id(),
                    "pushed_request/requester",
                    &[app.client_id.as_str().as_bytes(), &network],
                )
                // Never fails with the current key; were it to, every such
                // push would share one bound: stricter, never looser.
                .unwrap_or_else(|| {
                    crate::credentials::keyring::CredentialHash::from_bytes([0; 32])
                });
            self.storage()
                .insert_pushed_session(
                    &record,
                    &requester,
                    self.config().public_pushed_request_cap(),
                )
                .await?;
        }
        Ok(PushedRequest {
            request_uri: Redacted::new(format!("{REQUEST_URI_PREFIX}{}", session.expose_secret())),
            expires_in: lifetimes.pushed_request.whole_seconds(),
        })
    }
}

/// Why a pushed authorization request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The request is invalid; answer 400 with this error.
    #[error(transparent)]
    Invalid(#[from] OAuthError),
    /// Storage failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The RNG failed.
    #[error(transparent)]
    Random(#[from] crate::model::random::RandomError),
}
