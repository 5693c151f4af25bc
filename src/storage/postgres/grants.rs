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
//! | `insert_session`, `open_session`, `get_code`, `insert_grant`, `get_grant`, `get_token`, `revoke_token`, `revoke_grant`, `purge_expired` | 1 |
//! | `complete_session`, `redeem_code`, `rotate_refresh_token` | 1 when the change is made, 2 when it is refused |
//!
//! So the token endpoint's code exchange is `get_code` + `redeem_code` (2
//! round trips), a refresh is `get_token` + `rotate_refresh_token` (2), and
//! client authentication is `get_app_by_client_id` (1), each on top of
//! acquiring a pooled connection.
//!
//! # Lock order
//!
//! A statement locks the session, code or token row before the grant row
//! (whose expiry it moves or which it revokes). The purge locks only rows
//! it can take at once (`FOR UPDATE SKIP LOCKED`) and deletes a grant only
//! with all its codes and tokens already in hand, so purges never wait for
//! each other. The one reverse order is `delete_app`, whose cascade goes
//! from the grant to its codes and tokens: deleting an app while one of its
//! codes is redeemed (or tokens rotated) can deadlock; PostgreSQL then
//! aborts one statement, which fails with [`StorageErrorKind::Conflict`]
//! and writes nothing, and the other completes.

use async_trait::async_trait;
use sqlx::postgres::{PgArguments, PgRow, Postgres};
use sqlx::query::Query;
use time::OffsetDateTime;

use super::rows::{get, hash, hash_param, parsed};
use super::{PostgresStore, error};
use crate::ids::{AppId, ClientId, GrantId, Subject, WorkspaceId};
use crate::keyring::CredentialHash;
use crate::scope::ScopeSet;
use crate::storage::{
    CodeRecord, CodeRedemption, GrantRecord, GrantStore, RefreshRotation, SessionCompletion,
    SessionDecision, SessionRecord, SessionStatus, StorageError, StorageErrorKind, TokenKind,
    TokenRecord,
};

/// The columns [`decode_session`] reads, in table order.
macro_rules! session_columns {
    () => {
        "hash, workspace_id, app_id, client_id, redirect_uri, redirect_uri_in_request, \
         scopes, state, code_challenge, created_at, expires_at, open_by, opened_at, status"
    };
}

/// The columns [`decode_grant`] reads, in table order.
macro_rules! grant_columns {
    () => {
        "id, workspace_id, app_id, client_id, subject, scopes, created_at, expires_at, \
         revoked_at"
    };
}

/// The columns [`decode_code`] reads, in table order.
macro_rules! code_columns {
    () => {
        "hash, grant_id, workspace_id, app_id, client_id, redirect_uri, \
         redirect_uri_in_request, code_challenge, scopes, subject, issued_at, expires_at, \
         redeemed_at"
    };
}

/// The columns [`decode_token`] reads, in table order.
macro_rules! token_columns {
    () => {
        "hash, kind, grant_id, workspace_id, app_id, client_id, subject, scopes, issued_at, \
         expires_at, rotated_at, successor"
    };
}

/// An `INSERT` of any number of tokens, one array parameter per column (see
/// [`bind_tokens`]; the parameters are numbered from `$first`), if the
/// common table expression `$guard` returned a row. Scopes travel as one
/// space-separated text per token (a scope token never contains a space)
/// since `unnest` would flatten an array of arrays.
macro_rules! insert_tokens {
    ($guard:literal, $a:literal, $b:literal, $c:literal, $d:literal, $e:literal, $f:literal,
     $g:literal, $h:literal, $i:literal, $j:literal, $k:literal, $l:literal) => {
        concat!(
            "INSERT INTO oauth_tokens (",
            token_columns!(),
            ") SELECT n.hash, n.kind, n.grant_id, n.workspace_id, n.app_id, n.client_id, \
               n.subject, string_to_array(n.scopes, ' '), n.issued_at, n.expires_at, \
               n.rotated_at, n.successor \
             FROM unnest($",
            $a,
            "::bytea[], $",
            $b,
            "::text[], $",
            $c,
            "::text[], $",
            $d,
            "::text[], $",
            $e,
            "::text[], $",
            $f,
            "::text[], $",
            $g,
            "::text[], $",
            $h,
            "::text[], $",
            $i,
            "::timestamptz[], $",
            $j,
            "::timestamptz[], $",
            $k,
            "::timestamptz[], $",
            $l,
            "::bytea[]) \
             AS n (hash, kind, grant_id, workspace_id, app_id, client_id, subject, scopes, \
                   issued_at, expires_at, rotated_at, successor) \
             WHERE EXISTS (SELECT 1 FROM ",
            $guard,
            ")"
        )
    };
}

/// `true` for a row of `oauth_codes` or `oauth_tokens` (named by the
/// table) whose grant is live.
macro_rules! grant_is_live {
    ($table:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM oauth_grants g WHERE g.id = ",
            $table,
            ".grant_id AND g.revoked_at IS NULL)"
        )
    };
}

/// Moves the expiry of the grant of the row in `$from` to `$param` if that
/// is later; a grant without expiry keeps none.
macro_rules! extend_grant {
    ($from:literal, $param:literal) => {
        concat!(
            "UPDATE oauth_grants g SET expires_at = GREATEST(g.expires_at, $",
            $param,
            ") FROM ",
            $from,
            " r WHERE g.id = r.grant_id AND g.expires_at IS NOT NULL"
        )
    };
}

const INSERT_SESSION: &str = concat!(
    "INSERT INTO oauth_sessions (",
    session_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
     ON CONFLICT DO NOTHING"
);

/// Sets `opened_at` once, and only before a pushed request's `open_by`.
const OPEN_SESSION: &str = concat!(
    "UPDATE oauth_sessions SET opened_at = COALESCE(opened_at, \
       CASE WHEN open_by IS NULL OR open_by > $2 THEN $2 END) \
     WHERE hash = $1 RETURNING ",
    session_columns!()
);

const GET_SESSION: &str = concat!(
    "SELECT ",
    session_columns!(),
    " FROM oauth_sessions WHERE hash = $1"
);

/// The condition a session must meet to be completed at `$2`.
macro_rules! completable {
    () => {
        "WHERE hash = $1 AND status = 'pending' AND expires_at > $2 AND opened_at IS NOT NULL"
    };
}

/// Approves the session and, only if it did, writes the grant (`$3`–`$11`)
/// and its code (`$12`–`$24`).
const APPROVE_SESSION: &str = concat!(
    "WITH done AS ( \
       UPDATE oauth_sessions SET status = 'approved' ",
    completable!(),
    " RETURNING ",
    session_columns!(),
    " ), new_grant AS ( \
       INSERT INTO oauth_grants (",
    grant_columns!(),
    ") SELECT $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM done \
       RETURNING id \
     ), new_code AS ( \
       INSERT INTO oauth_codes (",
    code_columns!(),
    ") SELECT $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24 \
       FROM new_grant \
     ) SELECT ",
    session_columns!(),
    " FROM done"
);

const DENY_SESSION: &str = concat!(
    "UPDATE oauth_sessions SET status = 'denied' ",
    completable!(),
    " RETURNING ",
    session_columns!()
);

const GET_CODE: &str = concat!(
    "SELECT ",
    code_columns!(),
    " FROM oauth_codes WHERE hash = $1 AND ",
    grant_is_live!("oauth_codes")
);

/// Redeems the code at `$2` and, only if it did, moves the grant's expiry
/// to `$3` and writes the tokens (`$4`–`$15`).
const REDEEM_CODE: &str = concat!(
    "WITH redeemed AS ( \
       UPDATE oauth_codes SET redeemed_at = $2 \
       WHERE hash = $1 AND redeemed_at IS NULL AND expires_at > $2 AND ",
    grant_is_live!("oauth_codes"),
    " RETURNING ",
    code_columns!(),
    " ), extended AS (",
    extend_grant!("redeemed", 3),
    "), tokens AS (",
    insert_tokens!("redeemed", 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
    ") SELECT ",
    code_columns!(),
    " FROM redeemed"
);

/// The grant (`$1`–`$9`) and its tokens (`$10`–`$21`).
const INSERT_GRANT: &str = concat!(
    "WITH new_grant AS ( \
       INSERT INTO oauth_grants (",
    grant_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id \
     ) ",
    insert_tokens!("new_grant", 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21)
);

const GET_GRANT: &str = concat!(
    "SELECT ",
    grant_columns!(),
    " FROM oauth_grants WHERE id = $1"
);

const GET_TOKEN: &str = concat!(
    "SELECT ",
    token_columns!(),
    " FROM oauth_tokens WHERE hash = $1 AND ",
    grant_is_live!("oauth_tokens")
);

/// Rotates the refresh token out at `$2` with successor `$3` and, only if
/// it did, moves the grant's expiry to `$4` and writes the successors
/// (`$5`–`$16`).
const ROTATE_REFRESH: &str = concat!(
    "WITH rotated AS ( \
       UPDATE oauth_tokens SET rotated_at = $2, successor = $3 \
       WHERE hash = $1 AND kind = 'refresh' AND rotated_at IS NULL AND expires_at > $2 AND ",
    grant_is_live!("oauth_tokens"),
    " RETURNING ",
    token_columns!(),
    " ), extended AS (",
    extend_grant!("rotated", 4),
    "), tokens AS (",
    insert_tokens!("rotated", 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16),
    ") SELECT ",
    token_columns!(),
    " FROM rotated"
);

/// After [`ROTATE_REFRESH`] matched nothing: the token as it is now (role
/// 0, with `spent`: a rotated-out refresh token of a live grant, and
/// `replay`: rotated out at or after `$2`, with its successor at hand) and
/// its successor (role 1); a spent token that is not a replay revokes its
/// grant at `$3`, in the same statement.
const REFUSED_ROTATION: &str = concat!(
    "WITH target AS ( \
       SELECT ",
    token_columns!(),
    ", ",
    grant_is_live!("oauth_tokens"),
    " AS live FROM oauth_tokens WHERE hash = $1 \
     ), next_token AS ( \
       SELECT ",
    token_columns!(),
    " FROM oauth_tokens WHERE hash = (SELECT successor FROM target) \
     ), verdict AS ( \
       SELECT t.live AND t.kind = 'refresh' AND t.rotated_at IS NOT NULL AS spent, \
              COALESCE($2 <= t.rotated_at, false) \
                AND EXISTS (SELECT 1 FROM next_token) AS replay \
       FROM target t \
     ), revoked AS ( \
       UPDATE oauth_grants g SET revoked_at = $3 \
       FROM target t, verdict v \
       WHERE g.id = t.grant_id AND g.revoked_at IS NULL AND v.spent AND NOT v.replay \
     ) \
     SELECT 0 AS role, t.*, v.spent, v.replay FROM target t, verdict v \
     UNION ALL \
     SELECT 1, n.*, NULL, NULL, NULL FROM next_token n \
     ORDER BY role"
);

const REVOKE_TOKEN: &str = "DELETE FROM oauth_tokens WHERE hash = $1 AND kind = 'access'";

const REVOKE_GRANT: &str =
    "UPDATE oauth_grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";

/// Deletes, at `$1`, at most `$2` records: expired sessions; codes and
/// tokens that expired or whose grant is to go; grants past their expiry or
/// revoked 24 hours ago or more, once none of their codes and tokens is
/// left outside this batch. Rows are claimed with `FOR UPDATE SKIP LOCKED`,
/// so concurrent purges split the work instead of waiting for each other,
/// and a grant is deleted only by the purge that holds all its codes and
/// tokens (the `ON DELETE CASCADE` then has nothing left to lock).
const PURGE: &str = "\
    WITH doomed_grants AS ( \
      SELECT id FROM oauth_grants \
      WHERE expires_at <= $1 OR revoked_at <= $1 - interval '24 hours' \
    ), sessions AS ( \
      DELETE FROM oauth_sessions WHERE hash IN ( \
        SELECT hash FROM oauth_sessions WHERE expires_at <= $1 \
        LIMIT $2 FOR UPDATE SKIP LOCKED) \
      RETURNING 1 \
    ), codes AS ( \
      DELETE FROM oauth_codes WHERE hash IN ( \
        SELECT hash FROM oauth_codes \
        WHERE expires_at <= $1 OR grant_id IN (SELECT id FROM doomed_grants) \
        LIMIT GREATEST($2 - (SELECT count(*) FROM sessions), 0) \
        FOR UPDATE SKIP LOCKED) \
      RETURNING hash \
    ), tokens AS ( \
      DELETE FROM oauth_tokens WHERE hash IN ( \
        SELECT hash FROM oauth_tokens \
        WHERE expires_at <= $1 OR grant_id IN (SELECT id FROM doomed_grants) \
        LIMIT GREATEST($2 - (SELECT count(*) FROM sessions) \
                          - (SELECT count(*) FROM codes), 0) \
        FOR UPDATE SKIP LOCKED) \
      RETURNING hash \
    ), grants AS ( \
      DELETE FROM oauth_grants WHERE id IN ( \
        SELECT g.id FROM oauth_grants g \
        WHERE g.id IN (SELECT id FROM doomed_grants) \
          AND NOT EXISTS (SELECT 1 FROM oauth_codes c \
                          WHERE c.grant_id = g.id AND c.hash NOT IN (SELECT hash FROM codes)) \
          AND NOT EXISTS (SELECT 1 FROM oauth_tokens t \
                          WHERE t.grant_id = g.id AND t.hash NOT IN (SELECT hash FROM tokens)) \
        LIMIT GREATEST($2 - (SELECT count(*) FROM sessions) - (SELECT count(*) FROM codes) \
                          - (SELECT count(*) FROM tokens), 0) \
        FOR UPDATE SKIP LOCKED) \
      RETURNING 1 \
    ) \
    SELECT (SELECT count(*) FROM sessions) + (SELECT count(*) FROM codes) \
         + (SELECT count(*) FROM tokens) + (SELECT count(*) FROM grants) AS purged";

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

fn optional_subject(row: &PgRow) -> Result<Option<Subject>, StorageError> {
    get::<Option<&str>>(row, "subject")?
        .map(|text| Subject::parse(text).map_err(|_| error::corrupt("subject", "does not parse")))
        .transpose()
}

/// The session in a row holding [`session_columns!`].
fn decode_session(row: &PgRow) -> Result<SessionRecord, StorageError> {
    Ok(SessionRecord {
        hash: required_hash(row, "hash")?,
        workspace_id: parsed(row, "workspace_id", WorkspaceId::parse)?,
        app_id: parsed(row, "app_id", AppId::parse)?,
        client_id: parsed(row, "client_id", ClientId::parse)?,
        redirect_uri: get(row, "redirect_uri")?,
        redirect_uri_in_request: get(row, "redirect_uri_in_request")?,
        scopes: scopes(row, "scopes")?,
        state: get(row, "state")?,
        code_challenge: get(row, "code_challenge")?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
        open_by: get(row, "open_by")?,
        opened_at: get(row, "opened_at")?,
        status: parsed(row, "status", |s| SessionStatus::from_name(s).ok_or(()))?,
    })
}

/// The grant in a row holding [`grant_columns!`].
fn decode_grant(row: &PgRow) -> Result<GrantRecord, StorageError> {
    Ok(GrantRecord {
        id: parsed(row, "id", GrantId::parse)?,
        workspace_id: parsed(row, "workspace_id", WorkspaceId::parse)?,
        app_id: parsed(row, "app_id", AppId::parse)?,
        client_id: parsed(row, "client_id", ClientId::parse)?,
        subject: optional_subject(row)?,
        scopes: scopes(row, "scopes")?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
        revoked_at: get(row, "revoked_at")?,
    })
}

/// The code in a row holding [`code_columns!`].
fn decode_code(row: &PgRow) -> Result<CodeRecord, StorageError> {
    Ok(CodeRecord {
        hash: required_hash(row, "hash")?,
        grant_id: parsed(row, "grant_id", GrantId::parse)?,
        workspace_id: parsed(row, "workspace_id", WorkspaceId::parse)?,
        app_id: parsed(row, "app_id", AppId::parse)?,
        client_id: parsed(row, "client_id", ClientId::parse)?,
        redirect_uri: get(row, "redirect_uri")?,
        redirect_uri_in_request: get(row, "redirect_uri_in_request")?,
        code_challenge: get(row, "code_challenge")?,
        scopes: scopes(row, "scopes")?,
        subject: parsed(row, "subject", Subject::parse)?,
        issued_at: get(row, "issued_at")?,
        expires_at: get(row, "expires_at")?,
        redeemed_at: get(row, "redeemed_at")?,
    })
}

/// The token in a row holding [`token_columns!`].
fn decode_token(row: &PgRow) -> Result<TokenRecord, StorageError> {
    Ok(TokenRecord {
        hash: required_hash(row, "hash")?,
        kind: parsed(row, "kind", |s| TokenKind::from_name(s).ok_or(()))?,
        grant_id: parsed(row, "grant_id", GrantId::parse)?,
        workspace_id: parsed(row, "workspace_id", WorkspaceId::parse)?,
        app_id: parsed(row, "app_id", AppId::parse)?,
        client_id: parsed(row, "client_id", ClientId::parse)?,
        subject: optional_subject(row)?,
        scopes: scopes(row, "scopes")?,
        issued_at: get(row, "issued_at")?,
        expires_at: get(row, "expires_at")?,
        rotated_at: get(row, "rotated_at")?,
        successor: hash(row, "successor")?,
    })
}

type PgQuery<'q> = Query<'q, Postgres, PgArguments>;

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

/// Binds the thirteen columns of a code, in [`code_columns!`] order.
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
}

impl PostgresStore {
    async fn fetch_optional<T>(
        &self,
        query: PgQuery<'_>,
        decode: fn(&PgRow) -> Result<T, StorageError>,
    ) -> Result<Option<T>, StorageError> {
        query
            .fetch_optional(&self.pool)
            .await
            .map_err(error::map)?
            .as_ref()
            .map(decode)
            .transpose()
    }
}

#[async_trait]
impl GrantStore for PostgresStore {
    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StorageError> {
        let done = sqlx::query(INSERT_SESSION)
            .bind(hash_param(&session.hash))
            .bind(session.workspace_id.as_str())
            .bind(session.app_id.as_str())
            .bind(session.client_id.as_str())
            .bind(session.redirect_uri.as_str())
            .bind(session.redirect_uri_in_request)
            .bind(scope_texts(&session.scopes))
            .bind(session.state.as_deref())
            .bind(session.code_challenge.as_deref())
            .bind(session.created_at)
            .bind(session.expires_at)
            .bind(session.open_by)
            .bind(session.opened_at)
            .bind(session.status.as_str())
            .execute(&self.pool)
            .await
            .map_err(error::map)?;
        if done.rows_affected() == 0 {
            return Err(StorageError::new(StorageErrorKind::Conflict));
        }
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
            SessionDecision::Approve { grant, code } => {
                let query = sqlx::query(APPROVE_SESSION)
                    .bind(hash_param(hash))
                    .bind(now);
                bind_code(bind_grant(query, grant), code)
            }
            SessionDecision::Deny => sqlx::query(DENY_SESSION).bind(hash_param(hash)).bind(now),
        };
        if let Some(mut before) = self.fetch_optional(query, decode_session).await? {
            // The update matched only a pending session.
            before.status = SessionStatus::Pending;
            return Ok(SessionCompletion::Completed(before));
        }
        let query = sqlx::query(GET_SESSION).bind(hash_param(hash));
        Ok(match self.fetch_optional(query, decode_session).await? {
            None => SessionCompletion::NotFound,
            Some(session) if session.status != SessionStatus::Pending => {
                SessionCompletion::AlreadyCompleted(session)
            }
            // Pending, so expired, or not opened when the update ran.
            Some(_) => SessionCompletion::Expired,
        })
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
        query.execute(&self.pool).await.map_err(error::map)?;
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
            .await
            .map_err(error::map)?;
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
            (true, false, _) => RefreshRotation::Reused(old),
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
            .await
            .map_err(error::map)?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_grant(&self, id: &GrantId, now: OffsetDateTime) -> Result<bool, StorageError> {
        let done = sqlx::query(REVOKE_GRANT)
            .bind(id.as_str())
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(error::map)?;
        Ok(done.rows_affected() > 0)
    }

    async fn purge_expired(&self, now: OffsetDateTime, limit: u32) -> Result<u64, StorageError> {
        let row = sqlx::query(PURGE)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_one(&self.pool)
            .await
            .map_err(error::map)?;
        let purged: i64 = get(&row, "purged")?;
        u64::try_from(purged).map_err(|_| error::corrupt("purged", "a negative count"))
    }
}
