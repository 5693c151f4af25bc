//! [`GrantStore`] on PostgreSQL: tables `oauth_sessions`, `oauth_grants`,
//! `oauth_codes` and `oauth_tokens` (`migrations/0002_grants.sql`).
//!
//! # Atomicity
//!
//! Every state change is **one statement**: a conditional `UPDATE` that
//! only matches a row in the state the change needs (a pending, opened,
//! unexpired session; an unredeemed, unexpired code of a live grant; an
//! unrotated, unexpired refresh token of a live grant), with the writes that
//! go with it (the new grant and code, the new tokens, the grant's later
//! expiry) in data-modifying common table expressions guarded by that
//! `UPDATE`'s `RETURNING`. PostgreSQL runs the whole statement atomically:
//! of concurrent callers, the first to lock the row changes it, and each
//! other one waits for its commit, re-checks the condition on the new row
//! (READ COMMITTED re-evaluation) and matches nothing, so it writes nothing.
//!
//! When the conditional `UPDATE` matches nothing, a second, read-only
//! statement (for a refresh token: one that may also revoke the grant) reads
//! the row as it now is, to tell the outcomes apart (already completed or
//! expired, already redeemed or invalid, replayed or reused or invalid). It
//! runs after the first statement has seen every earlier commit, and the
//! states it tells apart only move forward (a session never returns to
//! pending, a code to unredeemed, a token to unrotated, a grant to live), so
//! its answer is the one of a serial order; no explicit transaction is
//! needed, and the successful path costs a single round trip.
//!
//! # Round trips
//!
//! | operation | statements |
//! |---|---|
//! | `insert_session`, `insert_pushed_session`, `open_session`, `get_code`, `insert_grant`, `insert_code`, `get_grant`, `get_token`, `revoke_token`, `revoke_grant`, `revoke_code_grant`, `purge_expired` | 1 |
//! | `complete_session`, `redeem_code`, `rotate_refresh_token` | 1 when the change is made, 2 when it is refused |
//!
//! Approving a Connect session is the same one statement: it also upserts
//! the customer, updates the app's active connection for the reference id
//! and linked provider account in place (revoking its old grant) or inserts
//! one, and inserts the scoped
//! key (see [`APPROVE_CONNECT`](super::grants_sql::APPROVE_CONNECT)). A customer refused because its id or its
//! reference id belongs to another customer makes the statement write
//! nothing and costs the second, reading statement (`Conflict`); a
//! conflicting row committed concurrently fails the statement itself with
//! a unique violation (`Conflict`, 1 round trip, nothing written).
//!
//! So the token endpoint's code exchange is `get_code` + `redeem_code` (2
//! round trips), a refresh is `get_token` + `rotate_refresh_token` (2), and
//! client authentication is `get_app_by_client_id` (1), each on top of
//! acquiring a pooled connection.
//!
//! # Lock order
//!
//! A statement locks the session, code or token row before the grant row
//! (whose expiry it moves or which it revokes). A Connect approval locks
//! the session, then the customer, then the app's active connection, then
//! that connection's old grant; `delete_customer` (in `connect.rs`) locks
//! the customer, then its connections, then their grants, then its scoped
//! keys, and `revoke_connection` the connection, then its grant, then the
//! scoped keys, as do `revoke_grant`, `revoke_code_grant` (a replayed
//! code's connection, grant and scoped key) and a reused refresh token's
//! revocation: the same order. `attach_connection` (in `connect.rs`) locks
//! the connection before the customer it moves to: against an approval of
//! a backend session naming the connection's browser-created customer,
//! the reverse order, PostgreSQL may detect a deadlock and abort one of the
//! two statements, which fails with [`StorageErrorKind::Conflict`] and
//! writes nothing. The purge locks only rows
//! it can take at once (`FOR UPDATE SKIP LOCKED`) and deletes a grant only
//! with all its codes and tokens already in hand, so purges never wait for
//! each other. The one reverse order is `delete_app`, whose cascade goes
//! from the grant to its codes and tokens (and from the app to its
//! connections and scoped keys): deleting an app while one of its codes is
//! redeemed (tokens rotated, Connect sessions approved, scoped keys minted:
//! `insert_scoped_key` share-locks the connection, then its grant, then the
//! app) can deadlock; PostgreSQL then aborts one statement, which fails
//! with [`StorageErrorKind::Conflict`] and writes nothing, and the other
//! completes.
//!
//! The statements are in `grants_sql.rs`, their column lists in
//! `columns.rs`.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use super::apps::decode_joined_app;
use super::binds::bind_approval;
use super::error::Within as _;
use super::grants_sql::{
    APPROVE_CONNECT, APPROVE_SESSION, DENY_SESSION, GET_APP_AND_CODE, GET_APP_AND_TOKEN, GET_CODE,
    GET_GRANT, GET_SESSION, GET_TOKEN, INSERT_GRANT, INSERT_GRANT_CODE, INSERT_PUSHED_SESSION,
    INSERT_SESSION, OPEN_SESSION, PURGE, REDEEM_CODE, REFUSED_ROTATION, REVOKE_CODE_GRANT,
    REVOKE_GRANT, REVOKE_TOKEN, ROTATE_REFRESH,
};
use super::rows::{PgQuery, get, hash, hash_param, json, json_param, parsed};
use super::{PostgresStore, error};
use crate::credentials::Redacted;
use crate::credentials::keyring::CredentialHash;
use crate::model::ids::{
    AppId, ClientId, ConnectionId, GrantId, ScopedKeyId, Subject, WorkspaceId,
};
use crate::model::scope::ScopeSet;
use crate::storage::{
    CodeRecord, CodeRedemption, GrantRecord, GrantRevocation, GrantStore, Prefetched,
    RefreshRotation, ResponseMode, SessionCompletion, SessionDecision, SessionRecord,
    SessionStatus, StorageError, StorageErrorKind, TokenKind, TokenRecord,
};

/// What a revocation took with its grant: the `connection_id` column.
fn revocation(row: &PgRow) -> Result<GrantRevocation, StorageError> {
    let connection_id = get::<Option<&str>>(row, "connection_id")?
        .map(|id| {
            ConnectionId::parse(id).map_err(|_| error::corrupt("connection_id", "does not parse"))
        })
        .transpose()?;
    Ok(GrantRevocation { connection_id })
}

fn scopes(row: &PgRow, column: &'static str) -> Result<ScopeSet, StorageError> {
    let tokens: Vec<String> = get(row, column)?;
    ScopeSet::from_tokens(tokens).map_err(|_| error::corrupt(column, "an element does not parse"))
}

fn scope_texts(scopes: &ScopeSet) -> Vec<&str> {
    scopes.iter().map(|scope| scope.as_str()).collect()
}

fn required_hash(row: &PgRow, column: &'static str) -> Result<CredentialHash, StorageError> {
    hash(row, column)?.ok_or_else(|| error::corrupt(column, "NULL"))
}

fn optional_subject(row: &PgRow, column: &'static str) -> Result<Option<Subject>, StorageError> {
    get::<Option<&str>>(row, column)?
        .map(|text| Subject::parse(text).map_err(|_| error::corrupt(column, "does not parse")))
        .transpose()
}

/// The session in a row holding [`session_fields!`].
pub(super) fn decode_session(row: &PgRow) -> Result<SessionRecord, StorageError> {
    Ok(SessionRecord {
        hash: required_hash(row, "hash")?,
        workspace_id: parsed(row, "workspace_id", WorkspaceId::parse)?,
        app_id: parsed(row, "app_id", AppId::parse)?,
        client_id: parsed(row, "client_id", ClientId::parse)?,
        redirect_uri: get(row, "redirect_uri")?,
        redirect_uri_in_request: get(row, "redirect_uri_in_request")?,
        scopes: scopes(row, "scopes")?,
        state: get::<Option<String>>(row, "state")?.map(Redacted::new),
        code_challenge: get(row, "code_challenge")?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
        open_by: get(row, "open_by")?,
        opened_at: get(row, "opened_at")?,
        status: parsed(row, "status", |s| SessionStatus::from_name(s).ok_or(()))?,
        connect: json(row, "connect")?.map(Box::new),
        response_mode: parsed(row, "response_mode", |s| {
            ResponseMode::from_name(s).ok_or(())
        })?,
    })
}

/// The grant in a row holding [`grant_columns!`].
fn decode_grant(row: &PgRow) -> Result<GrantRecord, StorageError> {
    Ok(GrantRecord {
        id: parsed(row, "id", GrantId::parse)?,
        workspace_id: parsed(row, "workspace_id", WorkspaceId::parse)?,
        app_id: parsed(row, "app_id", AppId::parse)?,
        client_id: parsed(row, "client_id", ClientId::parse)?,
        subject: optional_subject(row, "subject")?,
        scopes: scopes(row, "scopes")?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
        revoked_at: get(row, "revoked_at")?,
    })
}

/// A decoder of the code in a row holding [`code_columns!`], each column
/// named with the prefix `$p` (`""` for a plain row).
macro_rules! code_decoder {
    ($(#[$meta:meta])* $name:ident, $p:literal) => {
        $(#[$meta])*
        fn $name(row: &PgRow) -> Result<CodeRecord, StorageError> {
            Ok(CodeRecord {
                hash: required_hash(row, concat!($p, "hash"))?,
                grant_id: parsed(row, concat!($p, "grant_id"), GrantId::parse)?,
                workspace_id: parsed(row, concat!($p, "workspace_id"), WorkspaceId::parse)?,
                app_id: parsed(row, concat!($p, "app_id"), AppId::parse)?,
                client_id: parsed(row, concat!($p, "client_id"), ClientId::parse)?,
                redirect_uri: get(row, concat!($p, "redirect_uri"))?,
                redirect_uri_in_request: get(row, concat!($p, "redirect_uri_in_request"))?,
                code_challenge: get(row, concat!($p, "code_challenge"))?,
                scopes: scopes(row, concat!($p, "scopes"))?,
                subject: parsed(row, concat!($p, "subject"), Subject::parse)?,
                issued_at: get(row, concat!($p, "issued_at"))?,
                expires_at: get(row, concat!($p, "expires_at"))?,
                redeemed_at: get(row, concat!($p, "redeemed_at"))?,
                scoped_key_id: get::<Option<&str>>(row, concat!($p, "scoped_key_id"))?
                    .map(|text| {
                        ScopedKeyId::parse(text).map_err(|_| {
                            error::corrupt(concat!($p, "scoped_key_id"), "does not parse")
                        })
                    })
                    .transpose()?,
            })
        }
    };
}

code_decoder!(
    /// The code in a row holding [`code_columns!`].
    decode_code,
    ""
);
code_decoder!(
    /// The code in a row of [`GET_APP_AND_CODE`] (columns `c_…`).
    decode_prefixed_code,
    "c_"
);

/// A decoder of the token in a row holding [`token_columns!`], each column
/// named with the prefix `$p` (`""` for a plain row).
macro_rules! token_decoder {
    ($(#[$meta:meta])* $name:ident, $p:literal) => {
        $(#[$meta])*
        fn $name(row: &PgRow) -> Result<TokenRecord, StorageError> {
            Ok(TokenRecord {
                hash: required_hash(row, concat!($p, "hash"))?,
                kind: parsed(row, concat!($p, "kind"), |s| {
                    TokenKind::from_name(s).ok_or(())
                })?,
                grant_id: parsed(row, concat!($p, "grant_id"), GrantId::parse)?,
                workspace_id: parsed(row, concat!($p, "workspace_id"), WorkspaceId::parse)?,
                app_id: parsed(row, concat!($p, "app_id"), AppId::parse)?,
                client_id: parsed(row, concat!($p, "client_id"), ClientId::parse)?,
                subject: optional_subject(row, concat!($p, "subject"))?,
                scopes: scopes(row, concat!($p, "scopes"))?,
                issued_at: get(row, concat!($p, "issued_at"))?,
                expires_at: get(row, concat!($p, "expires_at"))?,
                rotated_at: get(row, concat!($p, "rotated_at"))?,
                successor: hash(row, concat!($p, "successor"))?,
            })
        }
    };
}

token_decoder!(
    /// The token in a row holding [`token_columns!`].
    decode_token,
    ""
);
token_decoder!(
    /// The token in a row of [`GET_APP_AND_TOKEN`] (columns `t_…`).
    decode_prefixed_token,
    "t_"
);

/// Binds the twelve column arrays [`insert_tokens!`] reads.
fn bind_tokens<'q>(query: PgQuery<'q>, tokens: &'q [TokenRecord]) -> PgQuery<'q> {
    fn column<'q, T>(tokens: &'q [TokenRecord], f: impl Fn(&'q TokenRecord) -> T) -> Vec<T> {
        tokens.iter().map(f).collect()
    }
    query
        .bind(column(tokens, |t| hash_param(&t.hash)))
        .bind(column(tokens, |t| t.kind.as_str()))
        .bind(column(tokens, |t| t.grant_id.as_str()))
        .bind(column(tokens, |t| t.workspace_id.as_str()))
        .bind(column(tokens, |t| t.app_id.as_str()))
        .bind(column(tokens, |t| t.client_id.as_str()))
        .bind(column(tokens, |t| t.subject.as_ref().map(Subject::as_str)))
        .bind(column(tokens, |t| t.scopes.to_param()))
        .bind(column(tokens, |t| t.issued_at))
        .bind(column(tokens, |t| t.expires_at))
        .bind(column(tokens, |t| t.rotated_at))
        .bind(column(tokens, |t| t.successor.as_ref().map(hash_param)))
}

/// Binds the sixteen columns of a session, in [`session_columns!`] order.
fn bind_session<'q>(
    query: PgQuery<'q>,
    session: &'q SessionRecord,
) -> Result<PgQuery<'q>, StorageError> {
    Ok(query
        .bind(hash_param(&session.hash))
        .bind(session.workspace_id.as_str())
        .bind(session.app_id.as_str())
        .bind(session.client_id.as_str())
        .bind(session.redirect_uri.as_str())
        .bind(session.redirect_uri_in_request)
        .bind(scope_texts(&session.scopes))
        .bind(session.state.as_deref().map(String::as_str))
        .bind(session.code_challenge.as_deref())
        .bind(session.created_at)
        .bind(session.expires_at)
        .bind(session.open_by)
        .bind(session.opened_at)
        .bind(session.status.as_str())
        .bind(session.connect.as_deref().map(json_param).transpose()?)
        .bind(session.response_mode.as_str()))
}

/// Binds the nine columns of a grant, in [`grant_columns!`] order.
fn bind_grant<'q>(query: PgQuery<'q>, grant: &'q GrantRecord) -> PgQuery<'q> {
    query
        .bind(grant.id.as_str())
        .bind(grant.workspace_id.as_str())
        .bind(grant.app_id.as_str())
        .bind(grant.client_id.as_str())
        .bind(grant.subject.as_ref().map(Subject::as_str))
        .bind(scope_texts(&grant.scopes))
        .bind(grant.created_at)
        .bind(grant.expires_at)
        .bind(grant.revoked_at)
}

/// Binds the fourteen columns of a code, in [`code_columns!`] order.
fn bind_code<'q>(query: PgQuery<'q>, code: &'q CodeRecord) -> PgQuery<'q> {
    query
        .bind(hash_param(&code.hash))
        .bind(code.grant_id.as_str())
        .bind(code.workspace_id.as_str())
        .bind(code.app_id.as_str())
        .bind(code.client_id.as_str())
        .bind(code.redirect_uri.as_str())
        .bind(code.redirect_uri_in_request)
        .bind(code.code_challenge.as_deref())
        .bind(scope_texts(&code.scopes))
        .bind(code.subject.as_str())
        .bind(code.issued_at)
        .bind(code.expires_at)
        .bind(code.redeemed_at)
        .bind(code.scoped_key_id.as_ref().map(ScopedKeyId::as_str))
}

/// The outcome of an update that matched (only) a pending session, from
/// the row it returned.
fn completed(mut before: SessionRecord) -> SessionCompletion {
    before.status = SessionStatus::Pending;
    SessionCompletion::Completed(before)
}

impl PostgresStore {
    /// Why `complete_session`'s update matched nothing, from the session as
    /// it now is: gone, completed, expired or not opened; otherwise (still
    /// completable) the Connect customer was refused (`customer_ok` false),
    /// a `Conflict`.
    async fn refused_completion(
        &self,
        hash: &CredentialHash,
        customer_ok: bool,
        now: OffsetDateTime,
    ) -> Result<SessionCompletion, StorageError> {
        let query = sqlx::query(GET_SESSION).bind(hash_param(hash));
        Ok(match self.fetch_optional(query, decode_session).await? {
            None => SessionCompletion::NotFound,
            Some(session) if session.status != SessionStatus::Pending => {
                SessionCompletion::AlreadyCompleted(session)
            }
            Some(session)
                if !customer_ok && session.expires_at > now && session.opened_at.is_some() =>
            {
                return Err(StorageError::new(StorageErrorKind::Conflict));
            }
            // Pending, so expired, or not opened when the update ran.
            Some(_) => SessionCompletion::Expired,
        })
    }

    /// The record in the row `query` returns, if any.
    pub(super) async fn fetch_optional<T>(
        &self,
        query: PgQuery<'_>,
        decode: fn(&PgRow) -> Result<T, StorageError>,
    ) -> Result<Option<T>, StorageError> {
        query
            .fetch_optional(&self.pool)
            .within(self.timeout)
            .await?
            .as_ref()
            .map(decode)
            .transpose()
    }
}

#[async_trait]
impl GrantStore for PostgresStore {
    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StorageError> {
        let done = bind_session(sqlx::query(INSERT_SESSION), session)?
            .execute(&self.pool)
            .within(self.timeout)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::new(StorageErrorKind::Conflict));
        }
        Ok(())
    }

    async fn insert_pushed_session(
        &self,
        session: &SessionRecord,
        requester: &CredentialHash,
        max_pending: u32,
    ) -> Result<(), StorageError> {
        bind_session(sqlx::query(INSERT_PUSHED_SESSION), session)?
            .bind(hash_param(requester))
            .bind(i32::try_from(max_pending.max(1)).unwrap_or(i32::MAX))
            .execute(&self.pool)
            .within(self.timeout)
            .await?;
        Ok(())
    }

    async fn open_session(
        &self,
        hash: &CredentialHash,
        now: OffsetDateTime,
    ) -> Result<Option<SessionRecord>, StorageError> {
        let query = sqlx::query(OPEN_SESSION).bind(hash_param(hash)).bind(now);
        self.fetch_optional(query, decode_session).await
    }

    async fn complete_session(
        &self,
        hash: &CredentialHash,
        decision: &SessionDecision,
        now: OffsetDateTime,
    ) -> Result<SessionCompletion, StorageError> {
        let query = match decision {
            SessionDecision::Approve {
                grant,
                code,
                connect: Some(connect),
            } => {
                let query = sqlx::query(APPROVE_CONNECT)
                    .bind(hash_param(hash))
                    .bind(now);
                let query = bind_approval(bind_code(bind_grant(query, grant), code), connect)?;
                let row = query.fetch_one(&self.pool).within(self.timeout).await?;
                if get::<Option<&[u8]>>(&row, "hash")?.is_some() {
                    return Ok(completed(decode_session(&row)?));
                }
                let customer_ok: bool = get(&row, "customer_ok")?;
                return self.refused_completion(hash, customer_ok, now).await;
            }
            SessionDecision::Approve {
                grant,
                code,
                connect: None,
            } => {
                let query = sqlx::query(APPROVE_SESSION)
                    .bind(hash_param(hash))
                    .bind(now);
                bind_code(bind_grant(query, grant), code)
            }
            SessionDecision::Deny => sqlx::query(DENY_SESSION).bind(hash_param(hash)).bind(now),
        };
        match self.fetch_optional(query, decode_session).await? {
            Some(before) => Ok(completed(before)),
            None => self.refused_completion(hash, true, now).await,
        }
    }

    async fn get_code(&self, hash: &CredentialHash) -> Result<Option<CodeRecord>, StorageError> {
        let query = sqlx::query(GET_CODE).bind(hash_param(hash));
        self.fetch_optional(query, decode_code).await
    }

    async fn redeem_code(
        &self,
        hash: &CredentialHash,
        tokens: &[TokenRecord],
        grant_expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<CodeRedemption, StorageError> {
        let query = sqlx::query(REDEEM_CODE)
            .bind(hash_param(hash))
            .bind(now)
            .bind(grant_expires_at);
        let query = bind_tokens(query, tokens);
        if let Some(mut before) = self.fetch_optional(query, decode_code).await? {
            // The update matched only an unredeemed code.
            before.redeemed_at = None;
            return Ok(CodeRedemption::Redeemed(before));
        }
        let query = sqlx::query(GET_CODE).bind(hash_param(hash));
        Ok(match self.fetch_optional(query, decode_code).await? {
            Some(code) if code.redeemed_at.is_some() => CodeRedemption::AlreadyRedeemed(code),
            // Unknown, grant revoked, or unredeemed but expired.
            _ => CodeRedemption::Invalid,
        })
    }

    async fn insert_grant(
        &self,
        grant: &GrantRecord,
        tokens: &[TokenRecord],
    ) -> Result<(), StorageError> {
        let query = bind_tokens(bind_grant(sqlx::query(INSERT_GRANT), grant), tokens);
        // A duplicate grant id or token hash is a unique violation, which
        // maps to `Conflict`; the statement then writes nothing.
        query.execute(&self.pool).within(self.timeout).await?;
        Ok(())
    }

    async fn insert_code(
        &self,
        grant: &GrantRecord,
        code: &CodeRecord,
    ) -> Result<(), StorageError> {
        let query = bind_code(bind_grant(sqlx::query(INSERT_GRANT_CODE), grant), code);
        query.execute(&self.pool).within(self.timeout).await?;
        Ok(())
    }

    async fn get_grant(&self, id: &GrantId) -> Result<Option<GrantRecord>, StorageError> {
        let query = sqlx::query(GET_GRANT).bind(id.as_str());
        self.fetch_optional(query, decode_grant).await
    }

    async fn get_token(&self, hash: &CredentialHash) -> Result<Option<TokenRecord>, StorageError> {
        let query = sqlx::query(GET_TOKEN).bind(hash_param(hash));
        self.fetch_optional(query, decode_token).await
    }

    async fn get_app_and_code(
        &self,
        client_id: &ClientId,
        hash: &CredentialHash,
    ) -> Result<Option<Prefetched<CodeRecord>>, StorageError> {
        let row = sqlx::query(GET_APP_AND_CODE)
            .bind(client_id.as_str())
            .bind(hash_param(hash))
            .fetch_one(&self.pool)
            .within(self.timeout)
            .await?;
        let code = match get::<Option<&[u8]>>(&row, "c_hash")? {
            Some(_) => Some(decode_prefixed_code(&row)?),
            None => None,
        };
        Ok(Some(Prefetched::new(decode_joined_app(&row)?, code)))
    }

    async fn get_app_and_token(
        &self,
        client_id: &ClientId,
        hash: &CredentialHash,
    ) -> Result<Option<Prefetched<TokenRecord>>, StorageError> {
        let row = sqlx::query(GET_APP_AND_TOKEN)
            .bind(client_id.as_str())
            .bind(hash_param(hash))
            .fetch_one(&self.pool)
            .within(self.timeout)
            .await?;
        let token = match get::<Option<&[u8]>>(&row, "t_hash")? {
            Some(_) => Some(decode_prefixed_token(&row)?),
            None => None,
        };
        Ok(Some(Prefetched::new(decode_joined_app(&row)?, token)))
    }

    async fn rotate_refresh_token(
        &self,
        hash: &CredentialHash,
        successors: &[TokenRecord],
        grant_expires_at: OffsetDateTime,
        replay_since: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<RefreshRotation, StorageError> {
        let successor = successors
            .iter()
            .find(|t| t.kind == TokenKind::Refresh)
            .map(|t| hash_param(&t.hash));
        let query = sqlx::query(ROTATE_REFRESH)
            .bind(hash_param(hash))
            .bind(now)
            .bind(successor)
            .bind(grant_expires_at);
        let query = bind_tokens(query, successors);
        if let Some(mut before) = self.fetch_optional(query, decode_token).await? {
            // The update matched only an unrotated token, which has no
            // successor (a table constraint).
            before.rotated_at = None;
            before.successor = None;
            return Ok(RefreshRotation::Rotated(before));
        }
        let rows = sqlx::query(REFUSED_ROTATION)
            .bind(hash_param(hash))
            .bind(replay_since)
            .bind(now)
            .fetch_all(&self.pool)
            .within(self.timeout)
            .await?;
        let Some(target) = rows.first() else {
            return Ok(RefreshRotation::Invalid);
        };
        let old = decode_token(target)?;
        let spent: bool = get(target, "spent")?;
        let replay: bool = get(target, "replay")?;
        Ok(match (spent, replay, rows.get(1)) {
            (true, true, Some(next)) => RefreshRotation::Replayed {
                old: Box::new(old),
                successor: Box::new(decode_token(next)?),
            },
            // The statement revoked the grant (or a concurrent one did).
            (true, false, _) => RefreshRotation::Reused {
                old: Box::new(old),
                revocation: revocation(target)?,
            },
            (true, true, None) => {
                return Err(error::corrupt("successor", "a replay without a successor"));
            }
            (false, _, _) => RefreshRotation::Invalid,
        })
    }

    async fn revoke_token(&self, hash: &CredentialHash) -> Result<bool, StorageError> {
        let done = sqlx::query(REVOKE_TOKEN)
            .bind(hash_param(hash))
            .execute(&self.pool)
            .within(self.timeout)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_grant(
        &self,
        id: &GrantId,
        now: OffsetDateTime,
    ) -> Result<Option<GrantRevocation>, StorageError> {
        let row = sqlx::query(REVOKE_GRANT)
            .bind(id.as_str())
            .bind(now)
            .fetch_one(&self.pool)
            .within(self.timeout)
            .await?;
        if get::<i64>(&row, "revoked")? == 0 {
            return Ok(None);
        }
        revocation(&row).map(Some)
    }

    async fn revoke_code_grant(
        &self,
        hash: &CredentialHash,
        now: OffsetDateTime,
    ) -> Result<Option<GrantRevocation>, StorageError> {
        let row = sqlx::query(REVOKE_CODE_GRANT)
            .bind(hash_param(hash))
            .bind(now)
            .fetch_one(&self.pool)
            .within(self.timeout)
            .await?;
        if get::<i64>(&row, "revoked")? == 0 {
            return Ok(None);
        }
        revocation(&row).map(Some)
    }

    async fn purge_expired(
        &self,
        now: OffsetDateTime,
        limit: u32,
        policy: &crate::storage::PurgePolicy,
    ) -> Result<u64, StorageError> {
        // The retention in microseconds, the resolution of an interval (the
        // builder bounds it to a year; saturated, it is still an interval).
        let retention =
            i64::try_from(policy.revoked_grant_retention.whole_microseconds()).unwrap_or(i64::MAX);
        let row = sqlx::query(PURGE)
            .bind(now)
            .bind(i64::from(limit))
            .bind(retention)
            .fetch_one(&self.pool)
            .within(self.timeout)
            .await?;
        let purged: i64 = get(&row, "purged")?;
        u64::try_from(purged).map_err(|_| error::corrupt("purged", "a negative count"))
    }
}
