//! The token endpoint (RFC 6749 §3.2, §5): one file per grant —
//! [`code`] (§4.1.3), [`refresh`] (§6), [`client_credentials`] (§4.4) — and
//! revocation (RFC 7009), introspection (RFC 7662) and access-token
//! validation for resource servers beside them.

use crate::credentials::RefreshToken;
use crate::credentials::keyring::CredentialHash;
pub use crate::oauth::client_auth::BasicCredentials;
use crate::oauth::error::OAuthErrorCode;
use crate::oauth::params::Params;
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
use error::invalid_request;
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
    token: Option<(RefreshToken, CredentialHash, Option<Option<TokenRecord>>)>,
}

impl<S: Storage> AuthorizationServer<S> {
    /// The token endpoint (`POST /oauth/token`): authenticates the client,
    /// then runs the grant named by `grant_type` — `authorization_code`,
    /// `refresh_token` or `client_credentials`.
    ///
    /// `pairs` are the decoded form parameters in order.
    ///
    /// # Errors
    ///
    /// A [`TokenError`] carrying the RFC 6749 §5.2 error.
    pub async fn token<N, V>(
        &self,
        basic: Option<&BasicCredentials>,
        pairs: &[(N, V)],
    ) -> Result<TokenResponse, TokenError>
    where
        N: AsRef<str> + Sync,
        V: AsRef<str> + Sync,
    {
        let params =
            Params::from_pairs(pairs).map_err(|_| invalid_request("a parameter is repeated"))?;
        let (client_id, secret) = self.endpoint_credentials(basic, &params)?;
        // The client's app and the code or refresh token in one read where
        // the backend can (`get_app_and_code`, `get_app_and_token`): the
        // exchange and the refresh then cost two round trips, not three.
        let mut prefetch = Prefetch::default();
        let checked = self.client_to_look_up(client_id, secret);
        if let Some(id) = &checked {
            match params.get("grant_type") {
                // The credential is hashed once, whether or not the
                // backend reads it with the app.
                Some("authorization_code") => {
                    if let Some(hash) = params.get("code").and_then(|code| self.code_hash(code)) {
                        let found = self.storage().get_app_and_code(id, &hash).await?;
                        let record = found.map(|found| {
                            prefetch.app = Some(found.app);
                            found.record
                        });
                        prefetch.code = Some((hash, record));
                    }
                }
                Some("refresh_token") => {
                    if let Some((old, hash)) = params
                        .get("refresh_token")
                        .and_then(|token| self.refresh_token_hash(token))
                    {
                        let found = self.storage().get_app_and_token(id, &hash).await?;
                        let record = found.map(|found| {
                            prefetch.app = Some(found.app);
                            found.record
                        });
                        prefetch.token = Some((old, hash, record));
                    }
                }
                _ => {}
            }
        }
        let client = self
            .authenticate_presented_client(
                basic.is_some(),
                client_id,
                secret,
                checked,
                prefetch.app,
            )
            .await?;
        match params.get("grant_type") {
            None => Err(invalid_request("grant_type is required")),
            Some("authorization_code") => {
                let code = params
                    .get("code")
                    .ok_or(invalid_request("code is required"))?;
                self.exchange_code_prefetched(
                    &client,
                    code,
                    params.get("redirect_uri"),
                    params.get("code_verifier"),
                    prefetch.code,
                )
                .await
            }
            Some("refresh_token") => {
                let token = params
                    .get("refresh_token")
                    .ok_or(invalid_request("refresh_token is required"))?;
                self.refresh_prefetched(&client, token, params.get("scope"), prefetch.token)
                    .await
            }
            Some("client_credentials") => {
                self.client_credentials(&client, params.get("scope")).await
            }
            Some(_) => Err(TokenError::new(
                OAuthErrorCode::UnsupportedGrantType,
                "supported: authorization_code, refresh_token, client_credentials",
            )),
        }
    }

    /// Removes expired sessions, codes, tokens and grants, and the
    /// rate-limit counters of windows that ended, at most `batch` records
    /// per call. Returns how many were removed.
    ///
    /// A grant goes once nothing issued from it can work any more: a
    /// grant whose code expired unredeemed, a grant whose last token
    /// expired, a grant revoked a day ago; a Connect connection's grant
    /// stays while the connection is active, exchanged or not (its scoped
    /// keys rest on it), and goes a day after the connection's revocation.
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
        let purged = self.storage().purge_expired(now, batch).await?;
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
