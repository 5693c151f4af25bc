//! The authorization-code grant (RFC 6749 §4.1.3, RFC 7636 §4.6), and
//! what a replayed code revokes (§4.1.2).

use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::error::{TokenError, invalid_grant};
use super::response::{TokenResponse, array};
use crate::credentials::keyring::CredentialHash;
use crate::credentials::{AccessToken, AuthorizationCode, RANDOM_LEN, RefreshToken};
use crate::hooks::events::Event;
use crate::oauth::pkce;
use crate::registry::secrets::AuthenticatedClient;
use crate::server::AuthorizationServer;
use crate::storage::{CodeRecord, CodeRedemption, GrantRecord, Storage, TokenKind};

impl<S: Storage> AuthorizationServer<S> {
    /// The authorization-code grant (RFC 6749 §4.1.3, RFC 7636 §4.6).
    ///
    /// The code must be the client's, unexpired, presented with the same
    /// `redirect_uri` as the authorization request (if that had one) and
    /// the PKCE verifier of its challenge. A second redemption with valid
    /// parameters fails and revokes every token issued from the first
    /// (§4.1.2); one with invalid parameters fails and changes nothing.
    ///
    /// # Errors
    ///
    /// `invalid_grant` for any problem with the code; storage errors.
    pub async fn exchange_code(
        &self,
        client: &AuthenticatedClient,
        code: &str,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
    ) -> Result<TokenResponse, TokenError> {
        self.exchange_code_prefetched(client, code, redirect_uri, code_verifier, None)
            .await
    }

    /// The hash of a presented authorization code, `None` when it is
    /// malformed.
    pub(super) fn code_hash(&self, code: &str) -> Option<CredentialHash> {
        let config = self.config();
        AuthorizationCode::hash_presented(config.prefixes(), config.keys(), code)
            .ok()
            .flatten()
    }

    /// [`exchange_code`](Self::exchange_code), with the code's hash and
    /// record already read when `prefetched` is `Some` (`get_code`'s answer
    /// for `code`).
    pub(super) async fn exchange_code_prefetched(
        &self,
        client: &AuthenticatedClient,
        code: &str,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
        prefetched: Option<(CredentialHash, Option<Option<CodeRecord>>)>,
    ) -> Result<TokenResponse, TokenError> {
        let config = self.config();
        let (hash, record) = match prefetched {
            Some((hash, Some(record))) => (hash, record),
            Some((hash, None)) => (hash, self.storage().get_code(&hash).await?),
            None => {
                let hash = self.code_hash(code).ok_or(invalid_grant("invalid code"))?;
                (hash, self.storage().get_code(&hash).await?)
            }
        };
        let record = record.ok_or(invalid_grant("invalid code"))?;
        // Every binding is checked before anything changes, so a replay with
        // wrong parameters revokes nothing.
        if record.client_id != client.app.client_id {
            return Err(invalid_grant("the code was issued to another client"));
        }
        let redirect_ok = match (record.redirect_uri_in_request, redirect_uri) {
            (true, Some(given)) => given == record.redirect_uri,
            (true, None) => false,
            (false, given) => given.is_none_or(|g| g == record.redirect_uri),
        };
        if !redirect_ok {
            return Err(invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        match (&record.code_challenge, code_verifier) {
            (Some(challenge), Some(verifier)) if pkce::verify(verifier, challenge) => {}
            (Some(_), _) => return Err(invalid_grant("PKCE verification failed")),
            // RFC 9700 §2.1.1: a verifier without a challenge is a downgrade.
            (None, Some(_)) => {
                return Err(invalid_grant("no code_challenge was sent for this code"));
            }
            (None, None) => {}
        }
        let now = self.now();
        if record.redeemed_at.is_none() && now >= record.expires_at {
            return Err(invalid_grant("the code has expired"));
        }
        if record.redeemed_at.is_some() {
            return Err(self.code_replayed(&record, now).await);
        }
        let grant = GrantRecord {
            id: record.grant_id.clone(),
            workspace_id: record.workspace_id.clone(),
            app_id: record.app_id.clone(),
            client_id: record.client_id.clone(),
            subject: Some(record.subject.clone()),
            scopes: record.scopes.clone(),
            created_at: record.issued_at,
            expires_at: None,
            revoked_at: None,
        };
        // One draw from the system CSPRNG for both tokens.
        let mut random = Zeroizing::new([0u8; 2 * RANDOM_LEN]);
        config.rng().fill(random.as_mut_slice())?;
        let (first, second) = random.split_at(RANDOM_LEN);
        let (access, access_hash) =
            AccessToken::from_random(config.prefixes(), config.keys(), &array(first))?;
        let (refresh, refresh_hash) =
            RefreshToken::from_random(config.prefixes(), config.keys(), &array(second))?;
        let tokens = [
            self.new_token_record(
                access_hash,
                TokenKind::Access,
                &grant,
                record.scopes.clone(),
                now,
            ),
            self.new_token_record(
                refresh_hash,
                TokenKind::Refresh,
                &grant,
                record.scopes.clone(),
                now,
            ),
        ];
        let grant_expires_at = tokens[1].expires_at;
        match self
            .storage()
            .redeem_code(&hash, &tokens, grant_expires_at, now)
            .await?
        {
            CodeRedemption::Redeemed(_) => {}
            CodeRedemption::AlreadyRedeemed(_) => {
                return Err(self.code_replayed(&record, now).await);
            }
            CodeRedemption::Invalid => return Err(invalid_grant("invalid code")),
        }
        let scoped_key = match &record.scoped_key_id {
            Some(id) => self
                .storage()
                .get_scoped_key(id)
                .await?
                .filter(|k| k.revoked_at.is_none())
                .and_then(|k| self.scoped_key_text(&k)),
            None => None,
        };
        config.events().emit(&Event::TokenIssued {
            client_id: record.client_id.clone(),
            grant_type: "authorization_code",
            scopes: record.scopes.clone(),
            subject: Some(record.subject.as_str().to_owned()),
        });
        Ok(TokenResponse {
            access_token: access,
            expires_in: config.lifetimes().access_token.whole_seconds(),
            refresh_token: Some(refresh),
            scope: record.scopes,
            scoped_key,
        })
    }

    async fn code_replayed(
        &self,
        code: &crate::storage::CodeRecord,
        now: OffsetDateTime,
    ) -> TokenError {
        // RFC 6749 §4.1.2: deny, and revoke what the first use issued — the
        // grant with its tokens, the scoped key delivered with them and a
        // Connect connection resting on the grant — in one atomic step.
        let revocation = match self.storage().revoke_code_grant(&code.hash, now).await {
            Ok(revocation) => revocation,
            Err(e) => return e.into(),
        };
        self.config().events().emit(&Event::CodeReplayDetected {
            client_id: code.client_id.clone(),
        });
        if let Some(revocation) = revocation {
            self.connection_revoked(&code.workspace_id, &revocation);
        }
        invalid_grant("the code was already used")
    }
}
