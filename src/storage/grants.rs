//! The grant side of the storage contract: pending authorizations
//! (sessions), authorization codes, grants and tokens.

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use super::connect::{ConnectApproval, ConnectContext};
use super::{AppRecord, StorageError};
use crate::credentials::Redacted;
use crate::credentials::keyring::CredentialHash;
use crate::model::ids::{
    AppId, ClientId, ConnectionId, GrantId, ScopedKeyId, Subject, WorkspaceId,
};
use crate::model::scope::ScopeSet;

/// Where a pending authorization stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionStatus {
    /// Waiting for the resource owner's decision.
    Pending,
    /// Approved: a grant and a code were issued.
    Approved,
    /// Denied by the resource owner.
    Denied,
}

impl SessionStatus {
    /// The status as stored (`pending`, `approved`, `denied`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
        }
    }

    /// The status from its stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "denied" => Some(Self::Denied),
            _ => None,
        }
    }
}

/// How the authorization response reaches the client (`response_mode`).
///
/// `query` (RFC 6749 §4.1.2, the default for `response_type=code`) appends
/// the response to the redirect URI and redirects the browser there.
/// `web_message` (the OAuth 2.0 Web Message Response Mode draft,
/// `draft-meyerzuselha-oauth-web-message-response-mode`) posts it with
/// `postMessage` to the window that opened the authorization page (a popup's
/// opener), with the redirect URI's origin as the target origin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseMode {
    /// Redirect to the redirect URI with the response in its query.
    #[default]
    Query,
    /// Post the response to the opener window (`postMessage`).
    WebMessage,
}

impl ResponseMode {
    /// The mode as `response_mode` names it (`query`, `web_message`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::WebMessage => "web_message",
        }
    }

    /// The mode named `name`, if it is one this server supports.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "query" => Some(Self::Query),
            "web_message" => Some(Self::WebMessage),
            _ => None,
        }
    }
}

/// A validated authorization request waiting for the resource owner's
/// decision: made by the authorization endpoint, or pushed (RFC 9126) and
/// opened later. Found by the hash of its handle, a Connect token.
///
/// `Debug` redacts [`state`](Self::state): clients often use it as their
/// own CSRF token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionRecord {
    /// The hash of the session's handle.
    pub hash: CredentialHash,
    /// The client's workspace.
    pub workspace_id: WorkspaceId,
    /// The client's app.
    pub app_id: AppId,
    /// The client.
    pub client_id: ClientId,
    /// Where the response goes: the `redirect_uri` as requested (it matched a
    /// registered one), or the single registered one.
    pub redirect_uri: String,
    /// Whether `redirect_uri` was in the request (RFC 6749 §4.1.3 then
    /// requires it, identical, at the token endpoint).
    pub redirect_uri_in_request: bool,
    /// The requested scopes.
    pub scopes: ScopeSet,
    /// The client's `state`, returned exactly.
    pub state: Option<Redacted<String>>,
    /// The PKCE `S256` challenge, if any.
    pub code_challenge: Option<String>,
    /// How the response reaches the client (`query` unless the request
    /// asked for `web_message`).
    pub response_mode: ResponseMode,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When it expires.
    pub expires_at: OffsetDateTime,
    /// For a pushed request: it must be opened before this time.
    pub open_by: Option<OffsetDateTime>,
    /// When the resource owner's browser first opened it.
    pub opened_at: Option<OffsetDateTime>,
    /// Where it stands.
    pub status: SessionStatus,
    /// For a Connect session: who it is for and what completing it writes.
    pub connect: Option<Box<ConnectContext>>,
}

/// A grant: what was authorized for one client. Tokens belong to it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GrantRecord {
    /// The grant's id.
    pub id: GrantId,
    /// The client's workspace.
    pub workspace_id: WorkspaceId,
    /// The client's app.
    pub app_id: AppId,
    /// The client.
    pub client_id: ClientId,
    /// The resource owner; `None` for `client_credentials`.
    pub subject: Option<Subject>,
    /// The granted scopes.
    pub scopes: ScopeSet,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When nothing issued from it can be valid any more; moves forward as
    /// tokens are issued. `None`: never (purge keeps it).
    pub expires_at: Option<OffsetDateTime>,
    /// When it was revoked; every token of a revoked grant is invalid.
    pub revoked_at: Option<OffsetDateTime>,
}

/// An authorization code, bound to its client, redirect URI, PKCE challenge,
/// scopes and subject.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CodeRecord {
    /// The hash of the code.
    pub hash: CredentialHash,
    /// The grant the code was issued for.
    pub grant_id: GrantId,
    /// The client's workspace.
    pub workspace_id: WorkspaceId,
    /// The client's app.
    pub app_id: AppId,
    /// The client.
    pub client_id: ClientId,
    /// The redirect URI the code was sent to.
    pub redirect_uri: String,
    /// Whether the authorization request carried `redirect_uri`.
    pub redirect_uri_in_request: bool,
    /// The PKCE `S256` challenge.
    pub code_challenge: Option<String>,
    /// The granted scopes.
    pub scopes: ScopeSet,
    /// The resource owner.
    pub subject: Subject,
    /// When it was issued.
    pub issued_at: OffsetDateTime,
    /// When it expires.
    pub expires_at: OffsetDateTime,
    /// When it was redeemed; a code is redeemed at most once.
    pub redeemed_at: Option<OffsetDateTime>,
    /// A scoped key minted with the grant, to deliver in the token response.
    pub scoped_key_id: Option<ScopedKeyId>,
}

/// Access or refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenKind {
    /// An access token.
    Access,
    /// A refresh token.
    Refresh,
}

impl TokenKind {
    /// The kind as stored (`access`, `refresh`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }

    /// The kind from its stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "access" => Some(Self::Access),
            "refresh" => Some(Self::Refresh),
            _ => None,
        }
    }
}

/// An issued access or refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenRecord {
    /// The hash of the token.
    pub hash: CredentialHash,
    /// Access or refresh.
    pub kind: TokenKind,
    /// The grant (the refresh-token family).
    pub grant_id: GrantId,
    /// The client's workspace.
    pub workspace_id: WorkspaceId,
    /// The client's app.
    pub app_id: AppId,
    /// The client.
    pub client_id: ClientId,
    /// The resource owner; `None` for `client_credentials`.
    pub subject: Option<Subject>,
    /// The token's scopes.
    pub scopes: ScopeSet,
    /// When it was issued.
    pub issued_at: OffsetDateTime,
    /// When it expires.
    pub expires_at: OffsetDateTime,
    /// Refresh tokens: when it was rotated out (used).
    pub rotated_at: Option<OffsetDateTime>,
    /// Refresh tokens: the hash of the refresh token that replaced it.
    pub successor: Option<CredentialHash>,
}

impl TokenRecord {
    pub(crate) fn is_expired(&self, now: OffsetDateTime) -> bool {
        now >= self.expires_at
    }
}

/// What approving or denying a pending authorization writes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionDecision {
    /// Approve: the grant and its code, written together (with, for a
    /// Connect session, the customer, the connection and a scoped key).
    Approve {
        /// The new grant.
        grant: Box<GrantRecord>,
        /// Its authorization code.
        code: Box<CodeRecord>,
        /// What a Connect session's approval writes besides.
        connect: Option<Box<ConnectApproval>>,
    },
    /// Deny: only the status changes.
    Deny,
}

/// The outcome of [`GrantStore::complete_session`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionCompletion {
    /// The decision was recorded (and, for an approval, the grant and code
    /// written); the session as it was before.
    Completed(SessionRecord),
    /// The session was already approved or denied; nothing was written.
    AlreadyCompleted(SessionRecord),
    /// The session expired (or, pushed, was never opened); nothing written.
    Expired,
    /// No such session.
    NotFound,
}

/// The outcome of [`GrantStore::redeem_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodeRedemption {
    /// The code was unused: it is now redeemed and the tokens are written.
    Redeemed(CodeRecord),
    /// The code had been redeemed before; nothing was written.
    AlreadyRedeemed(CodeRecord),
    /// Unknown, expired, or its grant revoked; nothing was written.
    Invalid,
}

/// The outcome of [`GrantStore::rotate_refresh_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshRotation {
    /// The token was current: it is now rotated out and the successors are
    /// written. The old token as it was.
    Rotated(TokenRecord),
    /// The token was rotated out at or after the replay threshold and its
    /// successor has not been used yet: nothing was written; the successor
    /// refresh token it was replaced by.
    Replayed {
        /// The rotated-out token.
        old: Box<TokenRecord>,
        /// Its successor refresh token.
        successor: Box<TokenRecord>,
    },
    /// The token was rotated out before the replay threshold, or its
    /// successor was itself used: its whole grant is now revoked (RFC 9700
    /// §4.14.2), with what rested on it.
    Reused {
        /// The rotated-out token.
        old: Box<TokenRecord>,
        /// What the revocation took with the grant (a Connect connection).
        revocation: GrantRevocation,
    },
    /// Unknown, expired, not a refresh token, or its grant revoked.
    Invalid,
}

/// What revoking a grant took with it besides its tokens and codes
/// ([`GrantStore::revoke_grant`], [`GrantStore::revoke_code_grant`], a
/// reused refresh token).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GrantRevocation {
    /// The active Connect connection whose grant it was, now revoked, with
    /// the scoped keys minted under the grant; `None` for a grant that no
    /// active connection held (a plain authorization, `client_credentials`,
    /// a grant an update-mode approval already replaced).
    pub connection_id: Option<ConnectionId>,
}

/// What [`GrantStore::get_app_and_code`] and
/// [`GrantStore::get_app_and_token`] read in one round trip: the app of the
/// presented client id and the presented code or token, each `None` when
/// there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Prefetched<T> {
    /// The app with the client id, as `get_app_by_client_id` returns it.
    pub app: Option<AppRecord>,
    /// The code or token, as `get_code` or `get_token` returns it.
    pub record: Option<T>,
}

impl<T> Prefetched<T> {
    /// Both reads' answers.
    #[must_use]
    pub fn new(app: Option<AppRecord>, record: Option<T>) -> Self {
        Self { app, record }
    }
}

/// What [`GrantStore::purge_expired`] keeps: the retention periods of the
/// server's configuration, passed with every call so that no backend holds
/// a policy of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PurgePolicy {
    /// How long a revoked grant (with its codes and tokens) stays before it
    /// is purged: the window in which a replayed code or refresh token is
    /// still recognised as belonging to a revoked grant. Default: a day.
    pub revoked_grant_retention: Duration,
}

impl PurgePolicy {
    /// The default policy: revoked grants kept a day.
    pub const DEFAULT: Self = Self {
        revoked_grant_retention: Duration::DAY,
    };

    /// A policy keeping revoked grants for `revoked_grant_retention`.
    pub fn new(revoked_grant_retention: Duration) -> Self {
        Self {
            revoked_grant_retention,
        }
    }
}

impl Default for PurgePolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Storage of pending authorizations, codes, grants and tokens.
///
/// Methods that change state are atomic: each is one statement or one
/// transaction in a database backend.
#[async_trait]
pub trait GrantStore: Send + Sync {
    /// Stores a new pending authorization.
    ///
    /// # Errors
    ///
    /// `Conflict` when the hash exists; `NotFound` when its app no longer
    /// exists (deleted concurrently): nothing is written.
    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StorageError>;

    /// Stores a pushed authorization request (RFC 9126) that needed no
    /// secret (a public client's) for `requester`, an opaque keyed hash of
    /// the client and the pushing address, keeping at most `max_pending`
    /// sessions of that requester: when it holds that many, the one stored
    /// earliest is replaced, in the same atomic step. Concurrent calls for
    /// one requester never leave it more than `max_pending` sessions (under
    /// a burst, one of the burst may be the one replaced).
    ///
    /// # Errors
    ///
    /// As [`insert_session`](Self::insert_session); nothing is written.
    async fn insert_pushed_session(
        &self,
        session: &SessionRecord,
        requester: &CredentialHash,
        max_pending: u32,
    ) -> Result<(), StorageError>;

    /// Marks the session opened by the resource owner's browser (if it is not
    /// yet, and a pushed request's `open_by` has not passed) and returns it
    /// as it now is, whatever its status; the caller judges expiry and
    /// status. `None` if unknown.
    async fn open_session(
        &self,
        hash: &CredentialHash,
        now: OffsetDateTime,
    ) -> Result<Option<SessionRecord>, StorageError>;

    /// Records the resource owner's decision if the session is pending,
    /// opened and unexpired at `now`; for an approval, writes the grant and
    /// code in the same atomic step. Of two concurrent completions exactly
    /// one succeeds.
    async fn complete_session(
        &self,
        hash: &CredentialHash,
        decision: &SessionDecision,
        now: OffsetDateTime,
    ) -> Result<SessionCompletion, StorageError>;

    /// The code with this hash, redeemed or not; `None` if unknown or its
    /// grant was revoked.
    async fn get_code(&self, hash: &CredentialHash) -> Result<Option<CodeRecord>, StorageError>;

    /// Redeems the code if it is unredeemed and unexpired at `now` and its
    /// grant is live, writing `tokens` (issued from its grant) and moving the
    /// grant's expiry to `grant_expires_at`, all in one atomic step. Of any
    /// number of concurrent redemptions at most one succeeds.
    async fn redeem_code(
        &self,
        hash: &CredentialHash,
        tokens: &[TokenRecord],
        grant_expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<CodeRedemption, StorageError>;

    /// Writes a new grant with its tokens (the `client_credentials` grant).
    ///
    /// # Errors
    ///
    /// `Conflict` when the grant id or a token hash exists; `NotFound` when
    /// the grant's app no longer exists (deleted concurrently): nothing is
    /// written, so no token outlives its app.
    async fn insert_grant(
        &self,
        grant: &GrantRecord,
        tokens: &[TokenRecord],
    ) -> Result<(), StorageError>;

    /// Writes a new grant with its authorization code, atomically: an
    /// authorization the host's consent policy approved without the consent
    /// page, so there is no pending session to complete.
    ///
    /// # Errors
    ///
    /// `Conflict` when the grant id or the code hash exists; `NotFound` when
    /// the grant's app no longer exists (deleted concurrently): nothing is
    /// written.
    async fn insert_code(&self, grant: &GrantRecord, code: &CodeRecord)
    -> Result<(), StorageError>;

    /// The grant with this id, revoked or not.
    async fn get_grant(&self, id: &GrantId) -> Result<Option<GrantRecord>, StorageError>;

    /// The token with this hash; `None` if unknown, revoked, or its grant is
    /// revoked. Expired and rotated-out tokens are returned: the caller
    /// judges them.
    async fn get_token(&self, hash: &CredentialHash) -> Result<Option<TokenRecord>, StorageError>;

    /// The app with `client_id` and the code with `hash` (as
    /// [`get_app_by_client_id`](super::AppStore::get_app_by_client_id) and
    /// [`get_code`](Self::get_code) return them), read together in one
    /// round trip, so that a code exchange costs two (this and
    /// [`redeem_code`](Self::redeem_code)) instead of three. `Ok(None)`
    /// (the default) says the backend has no such combined read: the server
    /// then makes the two reads one after the other, which is as correct.
    /// (The memory store answers both too: one call instead of two.)
    async fn get_app_and_code(
        &self,
        client_id: &ClientId,
        hash: &CredentialHash,
    ) -> Result<Option<Prefetched<CodeRecord>>, StorageError> {
        let _ = (client_id, hash);
        Ok(None)
    }

    /// The app with `client_id` and the token with `hash` (as
    /// [`get_app_by_client_id`](super::AppStore::get_app_by_client_id) and
    /// [`get_token`](Self::get_token) return them), read together in one
    /// round trip: a refresh then costs two (this and
    /// [`rotate_refresh_token`](Self::rotate_refresh_token)). `Ok(None)` (the
    /// default): no combined read, as for
    /// [`get_app_and_code`](Self::get_app_and_code).
    async fn get_app_and_token(
        &self,
        client_id: &ClientId,
        hash: &CredentialHash,
    ) -> Result<Option<Prefetched<TokenRecord>>, StorageError> {
        let _ = (client_id, hash);
        Ok(None)
    }

    /// Rotates a refresh token, atomically:
    /// - current (not rotated, unexpired at `now`, grant live): mark it rotated
    ///   with `successors`' refresh token as its successor, write
    ///   `successors`, move the grant's expiry to `grant_expires_at` →
    ///   [`RefreshRotation::Rotated`];
    /// - rotated out at or after `replay_since` (when given), and its
    ///   successor refresh token is itself still unused →
    ///   [`RefreshRotation::Replayed`], nothing written;
    /// - rotated out otherwise (before `replay_since`, or its successor was
    ///   already rotated in turn: RFC 9700 §4.14.2) → revoke its grant as
    ///   [`revoke_grant`](Self::revoke_grant) does (with the Connect
    ///   connection resting on it and that grant's scoped keys) →
    ///   [`RefreshRotation::Reused`];
    /// - otherwise [`RefreshRotation::Invalid`].
    async fn rotate_refresh_token(
        &self,
        hash: &CredentialHash,
        successors: &[TokenRecord],
        grant_expires_at: OffsetDateTime,
        replay_since: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<RefreshRotation, StorageError>;

    /// Revokes one access token. `false` if it was unknown or already gone.
    async fn revoke_token(&self, hash: &CredentialHash) -> Result<bool, StorageError>;

    /// Revokes a grant at `now` and with it, in one atomic step, every
    /// token and code issued from it, the active Connect connection whose
    /// grant it is (its status becomes revoked) and the scoped keys minted
    /// under it. `None`, writing nothing, if the grant is unknown or
    /// already revoked.
    async fn revoke_grant(
        &self,
        id: &GrantId,
        now: OffsetDateTime,
    ) -> Result<Option<GrantRevocation>, StorageError>;

    /// Answers the replay of a redeemed authorization code (RFC 6749
    /// §4.1.2: revoke what its first use issued), in one atomic step: if the
    /// code with this hash is redeemed and its grant is live, revokes at
    /// `now` the grant (and with it every token issued from it), the scoped
    /// key minted with the code (its
    /// [`scoped_key_id`](CodeRecord::scoped_key_id), if any, when it belongs
    /// to the code's app), and the active Connect connection whose grant it
    /// is (its status becomes revoked) with the scoped keys minted under
    /// the grant. `None`, writing nothing, when the code is unknown or
    /// unredeemed or its grant is already revoked.
    async fn revoke_code_grant(
        &self,
        hash: &CredentialHash,
        now: OffsetDateTime,
    ) -> Result<Option<GrantRevocation>, StorageError>;

    /// Deletes up to `limit` expired records and returns how many: sessions
    /// past their expiry; codes never redeemed past their expiry; grants
    /// past their expiry or revoked at least
    /// [`policy.revoked_grant_retention`](PurgePolicy::revoked_grant_retention)
    /// ago (a day by default), with their codes and tokens; tokens past
    /// their expiry. A redeemed code stays (as the
    /// tombstone that lets a late replay revoke its grant) until its grant
    /// goes. Call repeatedly until it returns less than `limit`; safe to
    /// run from several processes at once, and it never blocks readers for
    /// longer than one batch.
    ///
    /// A grant's [`expires_at`](GrantRecord::expires_at) is set by the
    /// server: its code's expiry until the code is redeemed (so a grant
    /// whose code expired unredeemed goes with that code; for a decision
    /// on the consent page, the later of that and the pending request's
    /// expiry, the grant being what makes a second decision fail), then
    /// its last refresh or access token's. A Connect connection's grant has none
    /// (`None`): it backs the connection's scoped keys whether or not its
    /// code was ever exchanged (a key delivered in the browser needs no
    /// exchange), so it stays while the connection is active and goes the
    /// retention after the connection is revoked or its grant replaced
    /// (both revoke it).
    ///
    /// The retention is the server's policy
    /// ([`revoked_grant_retention`](crate::AuthorizationServerBuilder::revoked_grant_retention)),
    /// never the backend's.
    async fn purge_expired(
        &self,
        now: OffsetDateTime,
        limit: u32,
        policy: &PurgePolicy,
    ) -> Result<u64, StorageError>;
}
