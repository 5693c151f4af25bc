//! The token endpoint (RFC 6749 §3.2, §5): one file per grant —
//! [`code`] (§4.1.3), [`refresh`] (§6), [`client_credentials`] (§4.4) — and
//! revocation (RFC 7009), introspection (RFC 7662) and access-token
//! validation for resource servers beside them.

use crate::credentials::Secret;
use crate::credentials::keyring::CredentialHash;
pub(crate) use crate::oauth::client_auth::{BasicCredentials, ClientAuth};
use crate::oauth::request::TokenRequest;
use crate::server::AuthorizationServer;
use crate::storage::{AppRecord, CodeRecord, Storage, StorageError, TokenRecord};

mod access;
mod client_credentials;
mod code;
pub(crate) mod error;
mod introspect;
mod refresh;
mod response;
mod revoke;

pub use access::BearerError;
pub(crate) use error::FailedAuthentication;
pub use error::TokenError;
pub use introspect::Introspection;
pub use response::TokenResponse;

/// What a token request read before authenticating its client (see
/// [`GrantStore::get_app_and_code`](crate::storage::GrantStore::get_app_and_code)):
/// each `None` when not read.
#[derive(Default)]
struct Prefetch {
    /// The client's app, as `get_app_by_client_id` answered.
    app: Option<Option<AppRecord>>,
    /// The code's hash and, if read, its record as `get_code` answers.
    code: Option<(CredentialHash, Option<Option<CodeRecord>>)>,
    /// The refresh token, its hash and, if read, its record as
    /// `get_token` answers.
    token: Option<(
        refresh::RawToken,
        CredentialHash,
        Option<Option<TokenRecord>>,
    )>,
}

impl<S: Storage> AuthorizationServer<S> {
    /// The token endpoint (`POST /oauth/token`): authenticates the client
    /// as `auth` presents it, then runs the grant of `request` —
    /// `authorization_code`, `refresh_token` or `client_credentials`.
    ///
    /// # Errors
    ///
    /// A [`TokenError`] carrying the RFC 6749 §5.2 error.
    pub async fn token(
        &self,
        auth: &ClientAuth,
        request: &TokenRequest,
    ) -> Result<TokenResponse, TokenError> {
        let (client_id, secret) = (auth.client_id(), auth.secret());
        // The client's app and the code or refresh token in one read where
        // the backend can (`get_app_and_code`, `get_app_and_token`): the
        // exchange and the refresh then cost two round trips, not three.
        let mut prefetch = Prefetch::default();
        // The id is checked once, here; a malformed secret fails in
        // `authenticate_presented_client`, so it is checked here only when
        // it would save a read.
        let checked = self.client_to_look_up(client_id);
        if let Some(id) = &checked
            && !matches!(request, TokenRequest::ClientCredentials { .. })
            && self.is_well_formed_secret(secret)
        {
            match request {
                // The credential is hashed once, whether or not the
                // backend reads it with the app.
                TokenRequest::AuthorizationCode { code, .. } => {
                    if let Some(hash) = self.code_hash(code.expose_secret()) {
                        let found = self.storage().get_app_and_code(id, &hash).await?;
                        let record = found.map(|found| {
                            prefetch.app = Some(found.app);
                            found.record
                        });
                        prefetch.code = Some((hash, record));
                    }
                }
                TokenRequest::RefreshToken { refresh_token, .. } => {
                    if let Some((old, hash)) =
                        self.refresh_token_hash(refresh_token.expose_secret())
                    {
                        let found = self.storage().get_app_and_token(id, &hash).await?;
                        let record = found.map(|found| {
                            prefetch.app = Some(found.app);
                            found.record
                        });
                        prefetch.token = Some((old, hash, record));
                    }
                }
                TokenRequest::ClientCredentials { .. } => {}
            }
        }
        let client = self
            .authenticate_presented_client(client_id, secret, checked, prefetch.app)
            .await?;
        match request {
            TokenRequest::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => {
                self.exchange_code_prefetched(
                    &client,
                    code.expose_secret(),
                    redirect_uri.as_deref(),
                    code_verifier.as_ref().map(Secret::expose_secret),
                    prefetch.code,
                )
                .await
            }
            TokenRequest::RefreshToken {
                refresh_token,
                scope,
            } => {
                self.refresh_prefetched(
                    &client,
                    refresh_token.expose_secret(),
                    scope.as_deref(),
                    prefetch.token,
                )
                .await
            }
            TokenRequest::ClientCredentials { scope } => {
                self.client_credentials(&client, scope.as_deref()).await
            }
        }
    }

    /// Removes expired sessions, codes, tokens and grants, and the
    /// rate-limit counters of windows that ended, at most `batch` records
    /// per call. Returns how many were removed.
    ///
    /// A grant goes once nothing issued from it can work any more: a
    /// grant whose code expired unredeemed, a grant whose last token
    /// expired, a grant revoked longer ago than the retention
    /// ([`revoked_grant_retention`](crate::AuthorizationServerBuilder::revoked_grant_retention),
    /// a day by default); a Connect connection's grant stays while the
    /// connection is active, exchanged or not (its scoped keys rest on it),
    /// and goes the retention after the connection's revocation.
    /// See [`GrantStore::purge_expired`](crate::storage::GrantStore::purge_expired).
    ///
    /// Schedule it from the host, for example every minute, calling again
    /// while it returns `batch` (more may remain). Safe to run from several
    /// server processes at once.
    ///
    /// # Errors
    ///
    /// Storage errors.
    pub async fn purge_expired(&self, batch: u32) -> Result<u64, StorageError> {
        let now = self.now();
        let purged = self
            .storage()
            .purge_expired(now, batch, &self.config().purge_policy())
            .await?;
        let left = u32::try_from(u64::from(batch).saturating_sub(purged)).unwrap_or(0);
        if left == 0 {
            return Ok(purged);
        }
        let counters = self.storage().purge_rate_limits(now, left).await?;
        Ok(purged + counters)
    }
}

#[cfg(test)]
mod key_rotation_tests;
