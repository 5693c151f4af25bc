//! The refresh-token grant (RFC 6749 §6, RFC 9700 §4.14): rotation on
//! every use, reuse detection, the grace window.

use super::error::{TokenError, invalid_grant};
use super::response::TokenResponse;
use crate::credentials::keyring::CredentialHash;
use crate::credentials::{AccessToken, RefreshToken};
use crate::hooks::events::Event;
use crate::model::scope::ScopeSet;
use crate::oauth::error::OAuthErrorCode;
use crate::registry::secrets::AuthenticatedClient;
use crate::server::AuthorizationServer;
use crate::storage::{RefreshRotation, Storage, TokenKind, TokenRecord};

/// A presented refresh token's decoded body (its key id and random
/// bytes), zeroized on drop: all its successors are derived from.
pub(super) type RawToken = zeroize::Zeroizing<[u8; crate::credentials::RAW_LEN]>;

impl<S: Storage> AuthorizationServer<S> {
    /// The refresh-token grant (RFC 6749 §6, RFC 9700 §4.14).
    ///
    /// Refresh tokens rotate on every use: the response carries a new one
    /// and the old one is spent. Presenting a spent one revokes the whole
    /// family (the grant), unless it comes within the configured
    /// [`refresh_grace`](crate::AuthorizationServerBuilder::refresh_grace)
    /// window, in which case the same successor is returned. `scope` may
    /// narrow the new access token's scopes, never widen them; the new
    /// refresh token keeps the original scopes (§6).
    ///
    /// # Errors
    ///
    /// `invalid_grant` for an unknown, expired, spent or foreign refresh
    /// token; `invalid_scope` for a wider scope; storage errors.
    pub async fn refresh(
        &self,
        client: &AuthenticatedClient,
        refresh_token: &str,
        scope: Option<&str>,
    ) -> Result<TokenResponse, TokenError> {
        self.refresh_prefetched(client, refresh_token, scope, None)
            .await
    }

    /// A presented refresh token's decoded body and its hash, `None` when
    /// it is malformed (or its key retired).
    pub(super) fn refresh_token_hash(&self, token: &str) -> Option<(RawToken, CredentialHash)> {
        let config = self.config();
        RefreshToken::raw_and_hash_presented(config.prefixes(), config.keys(), token)
    }

    /// [`refresh`](Self::refresh), with the token parsed, hashed and read
    /// already when `prefetched` is `Some` (`get_token`'s answer for
    /// `refresh_token`).
    pub(super) async fn refresh_prefetched(
        &self,
        client: &AuthenticatedClient,
        refresh_token: &str,
        scope: Option<&str>,
        prefetched: Option<(RawToken, CredentialHash, Option<Option<TokenRecord>>)>,
    ) -> Result<TokenResponse, TokenError> {
        let config = self.config();
        let (old, hash, record) = match prefetched {
            Some((old, hash, Some(record))) => (old, hash, record),
            Some((old, hash, None)) => {
                let record = self.storage().get_token(&hash).await?;
                (old, hash, record)
            }
            None => {
                let (old, hash) = self
                    .refresh_token_hash(refresh_token)
                    .ok_or(invalid_grant("invalid refresh token"))?;
                let record = self.storage().get_token(&hash).await?;
                (old, hash, record)
            }
        };
        let record = record
            .filter(|t| t.kind == TokenKind::Refresh)
            .ok_or(invalid_grant("invalid refresh token"))?;
        if record.client_id != client.app.client_id {
            return Err(invalid_grant(
                "the refresh token was issued to another client",
            ));
        }
        let now = self.now();
        if record.is_expired(now) {
            return Err(invalid_grant("the refresh token has expired"));
        }
        let scopes = match scope {
            None => record.scopes.clone(),
            Some(scope) => {
                let asked = ScopeSet::parse(scope).map_err(|_| {
                    TokenError::new(OAuthErrorCode::InvalidScope, "scope is malformed")
                })?;
                if !asked.is_subset_of(&record.scopes) {
                    return Err(TokenError::new(
                        OAuthErrorCode::InvalidScope,
                        "scope exceeds the original grant",
                    ));
                }
                asked
            }
        };
        // The successors are derived from the old token under the server
        // key's derive subkey, so a replay within the grace window can be
        // answered with the same tokens without storing them. They are made
        // under the current key, so a family moves to a new key at its next
        // refresh and survives the retirement of the old one.
        let (mut access, mut refresh, mut access_hash, refresh_hash) =
            self.successors(&old, config.keys().current_id())?;
        // The successors take the old record's grant and scopes: the access
        // token a copy (its scopes perhaps narrowed), the refresh token the
        // record itself (the original scopes, RFC 6749 §6), so that no
        // identifier is copied twice.
        let lifetimes = config.lifetimes();
        let access_record = TokenRecord {
            hash: access_hash,
            kind: TokenKind::Access,
            grant_id: record.grant_id.clone(),
            workspace_id: record.workspace_id.clone(),
            app_id: record.app_id.clone(),
            client_id: record.client_id.clone(),
            subject: record.subject.clone(),
            scopes: scopes.clone(),
            issued_at: now,
            expires_at: now + lifetimes.access_token,
            rotated_at: None,
            successor: None,
        };
        let successors = [
            access_record,
            TokenRecord {
                hash: refresh_hash,
                kind: TokenKind::Refresh,
                issued_at: now,
                expires_at: now + lifetimes.refresh_token,
                rotated_at: None,
                successor: None,
                ..record
            },
        ];
        // The old token's grant, as the successors carry it.
        let record = &successors[1];
        let grace = config.refresh_grace();
        let replay_since = (!grace.is_zero()).then(|| now - grace);
        let outcome = self
            .storage()
            .rotate_refresh_token(
                &hash,
                &successors,
                successors[1].expires_at,
                replay_since,
                now,
            )
            .await?;
        let access_lifetime = config.lifetimes().access_token;
        let (expires_in, scope) = match outcome {
            RefreshRotation::Rotated(_) => (access_lifetime.whole_seconds(), scopes),
            RefreshRotation::Replayed { successor, .. } => {
                // Made under the key that was current at the rotation: if
                // the current key changed since, find that one by the
                // successor's stored hash.
                if successor.hash != refresh_hash {
                    let keys = config.keys();
                    let found = keys
                        .ids()
                        .filter(|&id| id != keys.current_id())
                        .filter_map(|id| self.successors(&old, id).ok())
                        .find(|(_, _, _, r)| *r == successor.hash)
                        .ok_or(invalid_grant("invalid refresh token"))?;
                    (access, refresh, access_hash, _) = found;
                }
                let expires_at = successor.issued_at + access_lifetime;
                let access_scopes = match self.storage().get_token(&access_hash).await? {
                    Some(t) => t.scopes,
                    None => return Err(invalid_grant("invalid refresh token")),
                };
                ((expires_at - now).whole_seconds().max(0), access_scopes)
            }
            RefreshRotation::Reused { revocation, .. } => {
                config.events().emit(&Event::RefreshReuseDetected {
                    client_id: record.client_id.clone(),
                });
                self.connection_revoked(&record.workspace_id, &revocation);
                return Err(invalid_grant("the refresh token was already used"));
            }
            RefreshRotation::Invalid => return Err(invalid_grant("invalid refresh token")),
        };
        config.events().emit(&Event::TokenRefreshed {
            client_id: record.client_id.clone(),
        });
        Ok(TokenResponse {
            access_token: access,
            expires_in,
            refresh_token: Some(refresh),
            scope,
            scoped_key: None,
        })
    }

    /// The successors of a refresh token (access and refresh token, with
    /// their hashes), derived from its decoded body under the derive subkey
    /// of `key_id`.
    fn successors(
        &self,
        raw: &RawToken,
        key_id: u8,
    ) -> Result<(AccessToken, RefreshToken, CredentialHash, CredentialHash), TokenError> {
        let config = self.config();
        let (prefixes, keys) = (config.prefixes(), config.keys());
        let invalid = || invalid_grant("invalid refresh token");
        let (access, access_hash) =
            AccessToken::successor_of_raw(prefixes, keys, key_id, raw).ok_or_else(invalid)?;
        let (refresh, refresh_hash) =
            RefreshToken::successor_of_raw(prefixes, keys, key_id, raw).ok_or_else(invalid)?;
        Ok((access, refresh, access_hash, refresh_hash))
    }
}
