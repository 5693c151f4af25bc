//! The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §5, §6), client
//! authentication there (§2.3), revocation (RFC 7009), introspection
//! (RFC 7662) and access-token validation for resource servers.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::credentials::keyring::CredentialHash;
use crate::credentials::scoped_key::ScopedKey;
use crate::credentials::{
    AccessToken, AuthorizationCode, RANDOM_LEN, Redacted, RefreshToken, Secret,
};
use crate::error::ClientAuthError;
use crate::hooks::events::Event;
use crate::model::ids::{AppId, ClientId, GrantId, Subject, WorkspaceId};
use crate::model::scope::ScopeSet;
use crate::oauth::error::{OAuthError, OAuthErrorCode};
use crate::oauth::params::Params;
use crate::oauth::pkce;
use crate::registry::apps::AuthenticatedClient;
use crate::server::AuthorizationServer;
use crate::storage::{
    AppRecord, CodeRecord, CodeRedemption, GrantRecord, GrantRevocation, RefreshRotation, Storage,
    StorageError, StorageErrorKind, TokenKind, TokenRecord,
};

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

/// An error of the token, revocation, introspection or PAR endpoints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
#[non_exhaustive]
pub struct TokenError {
    /// The OAuth error.
    pub error: OAuthError,
    /// Whether the client used `Authorization: Basic`: an `invalid_client`
    /// answer then carries `WWW-Authenticate: Basic` (RFC 6749 §5.2).
    pub basic_auth: bool,
    /// Whether a presented client id and secret failed to authenticate:
    /// the failures [`AuthorizationServer::handle`] counts per address.
    pub(crate) failed_authentication: FailedAuthentication,
}

/// A failed client authentication, as the limits count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailedAuthentication {
    /// None (or not a failure of the presented credentials).
    No,
    /// No client has the presented id: counted for the address alone, so
    /// made-up ids do not each make a counter.
    UnknownClient,
    /// A registered client's secret was wrong, missing or unexpected:
    /// counted for that client and the address.
    Client,
}

impl TokenError {
    pub(crate) fn new(code: OAuthErrorCode, description: &'static str) -> Self {
        Self {
            error: OAuthError::new(code, description),
            basic_auth: false,
            failed_authentication: FailedAuthentication::No,
        }
    }

    /// The HTTP status: 401 for `invalid_client`, 503 for
    /// `temporarily_unavailable`, 500 for `server_error`, else 400.
    pub fn status(&self) -> u16 {
        match self.error.code {
            OAuthErrorCode::InvalidClient => 401,
            OAuthErrorCode::TemporarilyUnavailable => 503,
            OAuthErrorCode::ServerError => 500,
            _ => 400,
        }
    }
}

impl From<StorageError> for TokenError {
    fn from(e: StorageError) -> Self {
        match e.kind() {
            StorageErrorKind::Unavailable | StorageErrorKind::Timeout => Self::new(
                OAuthErrorCode::TemporarilyUnavailable,
                "storage is unavailable; retry",
            ),
            _ => Self::new(OAuthErrorCode::ServerError, "internal error"),
        }
    }
}

impl From<crate::model::random::RandomError> for TokenError {
    fn from(_: crate::model::random::RandomError) -> Self {
        Self::new(OAuthErrorCode::ServerError, "internal error")
    }
}

impl From<OAuthError> for TokenError {
    fn from(error: OAuthError) -> Self {
        Self {
            error,
            basic_auth: false,
            failed_authentication: FailedAuthentication::No,
        }
    }
}

fn invalid_request(description: &'static str) -> TokenError {
    TokenError::new(OAuthErrorCode::InvalidRequest, description)
}

fn invalid_grant(description: &'static str) -> TokenError {
    TokenError::new(OAuthErrorCode::InvalidGrant, description)
}

/// A successful token response (RFC 6749 §5.1). Serializes to its JSON
/// body; the HTTP layer adds `Cache-Control: no-store`.
#[derive(Debug)]
#[non_exhaustive]
pub struct TokenResponse {
    /// The access token.
    pub access_token: AccessToken,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The refresh token, for the authorization-code and refresh grants.
    pub refresh_token: Option<RefreshToken>,
    /// The access token's scopes.
    pub scope: ScopeSet,
    /// A scoped key minted by the Connect session this code completed, when
    /// the session asked for one (server-side delivery).
    pub scoped_key: Option<ScopedKey>,
}

impl Serialize for TokenResponse {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("access_token", self.access_token.expose_secret())?;
        map.serialize_entry("token_type", "Bearer")?;
        map.serialize_entry("expires_in", &self.expires_in)?;
        if let Some(refresh) = &self.refresh_token {
            map.serialize_entry("refresh_token", refresh.expose_secret())?;
        }
        map.serialize_entry("scope", &self.scope.to_param())?;
        if let Some(key) = &self.scoped_key {
            map.serialize_entry("scoped_key", key.expose_secret())?;
        }
        map.end()
    }
}

impl TokenResponse {
    /// The JSON body, exactly as its `Serialize` implementation writes it
    /// with `serde_json`, but written directly: credentials are base64url
    /// after an `[a-z0-9_]` prefix and scope tokens exclude `"` and `\`
    /// (RFC 6749 §3.3), so nothing needs escaping. A value that would need
    /// it (never expected) goes through `serde_json` instead.
    pub(crate) fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        fn plain(text: &str) -> bool {
            text.bytes().fold(true, |ok, b| {
                ok & (b >= 0x20) & (b != b'"') & (b != b'\\') & (b < 0x7f)
            })
        }
        let access = self.access_token.expose_secret();
        let refresh = self.refresh_token.as_ref().map(RefreshToken::expose_secret);
        let key = self.scoped_key.as_ref().map(ScopedKey::expose_secret);
        let scopes_plain = self.scope.iter().all(|s| plain(s.as_str()));
        if !(plain(access) && refresh.is_none_or(plain) && key.is_none_or(plain) && scopes_plain) {
            return serde_json::to_vec(self);
        }
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"{\"access_token\":\"");
        out.extend_from_slice(access.as_bytes());
        out.extend_from_slice(b"\",\"token_type\":\"Bearer\",\"expires_in\":");
        out.extend_from_slice(self.expires_in.to_string().as_bytes());
        if let Some(refresh) = refresh {
            out.extend_from_slice(b",\"refresh_token\":\"");
            out.extend_from_slice(refresh.as_bytes());
            out.push(b'"');
        }
        out.extend_from_slice(b",\"scope\":\"");
        for (i, scope) in self.scope.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(scope.as_str().as_bytes());
        }
        out.push(b'"');
        if let Some(key) = key {
            out.extend_from_slice(b",\"scoped_key\":\"");
            out.extend_from_slice(key.as_bytes());
            out.push(b'"');
        }
        out.push(b'}');
        Ok(out)
    }
}

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

/// A valid access token, as a resource server sees it (through
/// [`AuthorizationServer::authenticate_bearer`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) struct AccessTokenInfo {
    /// The client's workspace.
    pub(crate) workspace_id: WorkspaceId,
    /// The client's app.
    pub(crate) app_id: AppId,
    /// The client.
    pub(crate) client_id: ClientId,
    /// The resource owner; `None` for `client_credentials` tokens.
    pub(crate) subject: Option<Subject>,
    /// The token's scopes.
    pub(crate) scopes: ScopeSet,
    /// The grant it belongs to.
    pub(crate) grant_id: GrantId,
    /// When it expires.
    pub(crate) expires_at: OffsetDateTime,
}

/// Why an access token was refused (RFC 6750 §3.1: `invalid_token`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BearerError {
    /// Malformed, unknown, expired or revoked.
    #[error("the access token is invalid, expired or revoked")]
    InvalidToken,
    /// Storage failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}

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

#[derive(Clone, Copy)]
enum Presented {
    Access,
    Refresh,
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
    fn endpoint_credentials<'a>(
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
    async fn authenticate_presented_client(
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

    fn new_token_record(
        &self,
        hash: CredentialHash,
        kind: TokenKind,
        grant: &GrantRecord,
        scopes: ScopeSet,
        now: OffsetDateTime,
    ) -> TokenRecord {
        let lifetimes = self.config().lifetimes();
        let lifetime = match kind {
            TokenKind::Access => lifetimes.access_token,
            TokenKind::Refresh => lifetimes.refresh_token,
        };
        TokenRecord {
            hash,
            kind,
            grant_id: grant.id.clone(),
            workspace_id: grant.workspace_id.clone(),
            app_id: grant.app_id.clone(),
            client_id: grant.client_id.clone(),
            subject: grant.subject.clone(),
            scopes,
            issued_at: now,
            expires_at: now + lifetime,
            rotated_at: None,
            successor: None,
        }
    }

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
    fn code_hash(&self, code: &str) -> Option<CredentialHash> {
        let config = self.config();
        AuthorizationCode::hash_presented(config.prefixes(), config.keys(), code)
            .ok()
            .flatten()
    }

    /// [`exchange_code`](Self::exchange_code), with the code's hash and
    /// record already read when `prefetched` is `Some` (`get_code`'s answer
    /// for `code`).
    async fn exchange_code_prefetched(
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

    /// Reports the Connect connection a grant's revocation took with it,
    /// if any ([`Event::ConnectionRevoked`]).
    fn connection_revoked(&self, workspace: &WorkspaceId, revocation: &GrantRevocation) {
        if let Some(connection_id) = &revocation.connection_id {
            self.config().events().emit(&Event::ConnectionRevoked {
                workspace_id: workspace.clone(),
                connection_id: connection_id.clone(),
            });
        }
    }

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

    /// A presented refresh token and its hash, `None` when it is malformed.
    fn refresh_token_hash(&self, token: &str) -> Option<(RefreshToken, CredentialHash)> {
        let config = self.config();
        let old = RefreshToken::parse(config.prefixes(), token).ok()?;
        let hash = old.hash(config.keys())?;
        Some((old, hash))
    }

    /// [`refresh`](Self::refresh), with the token parsed, hashed and read
    /// already when `prefetched` is `Some` (`get_token`'s answer for
    /// `refresh_token`).
    async fn refresh_prefetched(
        &self,
        client: &AuthenticatedClient,
        refresh_token: &str,
        scope: Option<&str>,
        prefetched: Option<(RefreshToken, CredentialHash, Option<Option<TokenRecord>>)>,
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
        let grant = GrantRecord {
            id: record.grant_id.clone(),
            workspace_id: record.workspace_id.clone(),
            app_id: record.app_id.clone(),
            client_id: record.client_id.clone(),
            subject: record.subject.clone(),
            scopes: record.scopes.clone(),
            created_at: record.issued_at,
            expires_at: None,
            revoked_at: None,
        };
        let successors = [
            self.new_token_record(access_hash, TokenKind::Access, &grant, scopes.clone(), now),
            self.new_token_record(
                refresh_hash,
                TokenKind::Refresh,
                &grant,
                record.scopes.clone(),
                now,
            ),
        ];
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
    /// their hashes), derived from it under the derive subkey of `key_id`.
    fn successors(
        &self,
        old: &RefreshToken,
        key_id: u8,
    ) -> Result<(AccessToken, RefreshToken, CredentialHash, CredentialHash), TokenError> {
        let config = self.config();
        let (prefixes, keys) = (config.prefixes(), config.keys());
        let invalid = || invalid_grant("invalid refresh token");
        // The old token's body, decoded once for both successors.
        let raw = old.raw().ok_or_else(invalid)?;
        let (access, access_hash) =
            AccessToken::successor_of_raw(prefixes, keys, key_id, &raw).ok_or_else(invalid)?;
        let (refresh, refresh_hash) =
            RefreshToken::successor_of_raw(prefixes, keys, key_id, &raw).ok_or_else(invalid)?;
        Ok((access, refresh, access_hash, refresh_hash))
    }

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
            Some(scope) => ScopeSet::parse(scope)
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

    fn classify(&self, token: &str) -> Option<(Presented, CredentialHash)> {
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
    /// `invalid_client`; `invalid_request` without `token`;
    /// `unauthorized_client` for another client's token (which stays valid).
    pub async fn revoke<N, V>(
        &self,
        basic: Option<&BasicCredentials>,
        pairs: &[(N, V)],
    ) -> Result<(), TokenError>
    where
        N: AsRef<str> + Sync,
        V: AsRef<str> + Sync,
    {
        let params =
            Params::from_pairs(pairs).map_err(|_| invalid_request("a parameter is repeated"))?;
        let client = self.authenticate_endpoint_client(basic, &params).await?;
        let token = params
            .get("token")
            .ok_or(invalid_request("token is required"))?;
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

    /// The introspection endpoint (`POST /oauth/introspect`, RFC 7662): a
    /// confidential client authenticates (public clients are refused,
    /// §2.1); an active token of its own is described, and
    /// anything else — expired, revoked, spent, unknown, another client's —
    /// is exactly `{"active": false}`.
    ///
    /// # Errors
    ///
    /// `invalid_client` (also for a public client); `invalid_request`
    /// without `token`.
    pub async fn introspect<N, V>(
        &self,
        basic: Option<&BasicCredentials>,
        pairs: &[(N, V)],
    ) -> Result<Introspection, TokenError>
    where
        N: AsRef<str> + Sync,
        V: AsRef<str> + Sync,
    {
        let params =
            Params::from_pairs(pairs).map_err(|_| invalid_request("a parameter is repeated"))?;
        let client = self.authenticate_endpoint_client(basic, &params).await?;
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
        let token = params
            .get("token")
            .ok_or(invalid_request("token is required"))?;
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

    /// Validates a bearer access token for a resource server (RFC 6750):
    /// well formed, known, unexpired, not revoked, its grant and app live.
    ///
    /// # Errors
    ///
    /// [`BearerError::InvalidToken`]; storage errors.
    ///
    /// # Security
    ///
    /// The prefix and checksum are checked before any storage lookup, and
    /// the lookup is by keyed hash.
    pub(crate) async fn validate_access_token(
        &self,
        token: &str,
    ) -> Result<AccessTokenInfo, BearerError> {
        let config = self.config();
        let hash = AccessToken::hash_presented(config.prefixes(), config.keys(), token)
            .ok()
            .flatten()
            .ok_or(BearerError::InvalidToken)?;
        let record = self
            .storage()
            .get_token(&hash)
            .await?
            .filter(|t| t.kind == TokenKind::Access)
            .ok_or(BearerError::InvalidToken)?;
        if record.is_expired(self.now()) {
            return Err(BearerError::InvalidToken);
        }
        Ok(AccessTokenInfo {
            workspace_id: record.workspace_id,
            app_id: record.app_id,
            client_id: record.client_id,
            subject: record.subject,
            scopes: record.scopes,
            grant_id: record.grant_id,
            expires_at: record.expires_at,
        })
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

/// The first [`RANDOM_LEN`] bytes of `bytes` (zero-padded if shorter, which
/// the callers' fixed-size buffers rule out).
fn array(bytes: &[u8]) -> Zeroizing<[u8; RANDOM_LEN]> {
    let mut out = Zeroizing::new([0u8; RANDOM_LEN]);
    for (dest, byte) in out.iter_mut().zip(bytes) {
        *dest = *byte;
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::credentials::CredentialPrefixes;
    use crate::credentials::keyring::{KeyRing, ServerKey};
    use crate::model::random::SystemRandom;

    fn response(refresh: bool, scope: &str) -> TokenResponse {
        let prefixes = CredentialPrefixes::default();
        let keys = KeyRing::new(ServerKey::new(1, &[1; 32]).unwrap());
        let rng = SystemRandom::new();
        TokenResponse {
            access_token: AccessToken::generate_hashed(&prefixes, &keys, &rng)
                .unwrap()
                .0,
            expires_in: 3600,
            refresh_token: refresh.then(|| {
                RefreshToken::generate_hashed(&prefixes, &keys, &rng)
                    .unwrap()
                    .0
            }),
            scope: ScopeSet::parse(scope).unwrap(),
            scoped_key: None,
        }
    }

    #[test]
    fn rfc6749_5_1_token_json_is_what_serde_json_writes() {
        for (refresh, scope) in [
            (true, "read:devices"),
            (false, "read:devices write:devices"),
            (true, "a!#$%&'()*+,-./:;<=>?@[]^_`{|}~ z"),
        ] {
            let tokens = response(refresh, scope);
            assert_eq!(
                tokens.to_json().unwrap(),
                serde_json::to_vec(&tokens).unwrap(),
                "{scope}"
            );
            let parsed: serde_json::Value =
                serde_json::from_slice(&tokens.to_json().unwrap()).unwrap();
            assert_eq!(parsed["token_type"], "Bearer");
            assert_eq!(parsed["scope"], scope);
        }
    }
}

#[cfg(test)]
mod key_rotation_tests;
