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
//! key (see [`APPROVE_CONNECT`]). A customer refused because its id or its
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

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use super::apps::decode_joined_app;
use super::binds::bind_approval;
use super::error::Within as _;
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

/// The columns of `oauth_sessions`, in table order (to write).
macro_rules! session_columns {
    () => {
        "hash, workspace_id, app_id, client_id, redirect_uri, redirect_uri_in_request, \
         scopes, state, code_challenge, created_at, expires_at, open_by, opened_at, status, \
         connect, response_mode"
    };
}

/// The columns [`decode_session`] reads, in table order (`connect` as
/// text).
macro_rules! session_fields {
    () => {
        "hash, workspace_id, app_id, client_id, redirect_uri, redirect_uri_in_request, \
         scopes, state, code_challenge, created_at, expires_at, open_by, opened_at, status, \
         connect::text AS connect, response_mode"
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
         redeemed_at, scoped_key_id"
    };
}

/// The columns the apps' decoder reads, of the table aliased `a` (beside
/// a code or a token, whose columns have the same names).
macro_rules! joined_app_columns {
    () => {
        "a.id, a.client_id, a.workspace_id, a.name, a.description, a.redirect_uris, \
         a.allowed_scopes, a.app_type, a.created_at, a.updated_at, a.secret_hash, \
         a.previous_secret_hash, a.previous_valid_until, a.allowed_origins, a.logo_uri"
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
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb, $16) \
     ON CONFLICT DO NOTHING"
);

/// [`INSERT_SESSION`] into a slot of the requester `$17`: a free one of
/// `0..$18`, else the one holding its oldest session, which the new one
/// replaces (every column, the hash included). Two concurrent pushes may
/// pick the same slot; the unique index on (requester, slot) then makes the
/// second replace the first, so a requester never holds more than `$18`.
const INSERT_PUSHED_SESSION: &str = concat!(
    "WITH taken AS ( \
       SELECT requester_slot AS slot, created_at, hash FROM oauth_sessions \
       WHERE requester = $17 \
     ), pick AS ( \
       SELECT s.slot FROM generate_series(0, $18 - 1) AS s(slot) \
       LEFT JOIN taken ON taken.slot = s.slot \
       ORDER BY taken.created_at NULLS FIRST, taken.hash, s.slot LIMIT 1 \
     ) INSERT INTO oauth_sessions (",
    session_columns!(),
    ", requester, requester_slot) \
     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb, $16, \
            $17, pick.slot FROM pick \
     ON CONFLICT (requester, requester_slot) WHERE requester IS NOT NULL DO UPDATE SET \
       hash = excluded.hash, workspace_id = excluded.workspace_id, \
       app_id = excluded.app_id, client_id = excluded.client_id, \
       redirect_uri = excluded.redirect_uri, \
       redirect_uri_in_request = excluded.redirect_uri_in_request, \
       scopes = excluded.scopes, state = excluded.state, \
       code_challenge = excluded.code_challenge, created_at = excluded.created_at, \
       expires_at = excluded.expires_at, open_by = excluded.open_by, \
       opened_at = excluded.opened_at, status = excluded.status, \
       connect = excluded.connect, response_mode = excluded.response_mode"
);

/// Sets `opened_at` once, and only before a pushed request's `open_by`.
const OPEN_SESSION: &str = concat!(
    "UPDATE oauth_sessions SET opened_at = COALESCE(opened_at, \
       CASE WHEN open_by IS NULL OR open_by > $2 THEN $2 END) \
     WHERE hash = $1 RETURNING ",
    session_fields!()
);

pub(super) const GET_SESSION: &str = concat!(
    "SELECT ",
    session_fields!(),
    " FROM oauth_sessions WHERE hash = $1"
);

/// The condition a session must meet to be completed at `$2`.
macro_rules! completable {
    () => {
        "WHERE hash = $1 AND status = 'pending' AND expires_at > $2 AND opened_at IS NOT NULL"
    };
}

/// Approves the session and, only if it did, writes the grant (`$3`–`$11`)
/// and its code (`$12`–`$25`).
const APPROVE_SESSION: &str = concat!(
    "WITH done AS ( \
       UPDATE oauth_sessions SET status = 'approved' ",
    completable!(),
    " RETURNING ",
    session_fields!(),
    " ), new_grant AS ( \
       INSERT INTO oauth_grants (",
    grant_columns!(),
    ") SELECT $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM done \
       RETURNING id \
     ), new_code AS ( \
       INSERT INTO oauth_codes (",
    code_columns!(),
    ") SELECT $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25 \
       FROM new_grant \
     ) SELECT ",
    session_columns!(),
    " FROM done"
);

/// [`APPROVE_SESSION`] for a Connect session, with its Connect part: the
/// customer (`$26`–`$32`), the connection (`$33`–`$48`) and the scoped key
/// (`$49`–`$62`, all NULL when none is minted); see [`bind_approval`].
///
/// `customer_ok` first checks, in the statement's snapshot, that the
/// customer's id and its (app, reference id) do not belong to different
/// customers, that a customer with its id is of the same workspace and app,
/// that the customer is the connection's and of the connection's app, and,
/// for a browser-created connection (`$41`), that the customer is new and
/// the app has no active connection in the new one's place; the session is
/// approved only if so, and every write hangs off that approval, so a
/// refused customer writes nothing (and the caller then reports
/// `Conflict`). A customer inserted concurrently under the same reference
/// id makes the customer insert a unique violation: the whole statement
/// fails with `Conflict` and writes nothing either. A known customer id
/// updates the customer's info.
///
/// The app's active connection for the reference id and the same linked
/// provider account (`$44`, `$45`; both NULL without a link step) is locked
/// (`FOR UPDATE`, which under READ COMMITTED yields its latest version),
/// given the new grant and customer in place, its tags kept with the
/// session's (`$39`) added, those it lacks, up to 20 (`MAX_TAGS`), and its
/// old grant is revoked at `$2` with the scoped keys minted under it;
/// without one, or for a browser-created connection, the new connection is
/// inserted. (Two approvals of two sessions racing to create the first
/// connection for a reference id: the loser's insert violates the partial
/// unique index, `Conflict`, nothing written.)
///
/// [`bind_approval`]: super::binds::bind_approval
// APPROVE_CONNECT writes the cap on a connection's tags as a literal.
const _: () = assert!(crate::model::connect::MAX_TAGS == 20);

const APPROVE_CONNECT: &str = concat!(
    "WITH customer_ok AS ( \
       SELECT NOT EXISTS ( \
         SELECT 1 FROM oauth_customers \
         WHERE (id = $26 AND (workspace_id <> $27 OR app_id <> $32 OR reference_id <> $28 \
                              OR $41)) \
            OR (app_id = $32 AND reference_id = $28 AND id <> $26) \
       ) AND $32 = $35 AND $26 = $36 \
         AND NOT ($41 AND EXISTS ( \
           SELECT 1 FROM oauth_connections \
           WHERE app_id = $35 AND reference_id = $37 AND status = 'active' \
             AND linked_provider IS NOT DISTINCT FROM $44 \
             AND linked_account_reference IS NOT DISTINCT FROM $45)) AS ok \
     ), done AS ( \
       UPDATE oauth_sessions SET status = 'approved' ",
    completable!(),
    " AND (SELECT ok FROM customer_ok) \
       RETURNING ",
    session_fields!(),
    " ), new_grant AS ( \
       INSERT INTO oauth_grants (",
    grant_columns!(),
    ") SELECT $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM done \
       RETURNING id \
     ), new_code AS ( \
       INSERT INTO oauth_codes (",
    code_columns!(),
    ") SELECT $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25 \
       FROM new_grant \
     ), customer AS ( \
       INSERT INTO oauth_customers (",
    customer_columns!(),
    ") SELECT $26, $27, $28, $29::jsonb, $30, $31, $32 FROM done \
       ON CONFLICT (id) DO UPDATE SET info = EXCLUDED.info, updated_at = EXCLUDED.updated_at \
     ), old_connection AS ( \
       SELECT id, grant_id FROM oauth_connections \
       WHERE app_id = $35 AND reference_id = $37 AND status = 'active' \
         AND linked_provider IS NOT DISTINCT FROM $44 \
         AND linked_account_reference IS NOT DISTINCT FROM $45 \
         AND NOT $41 \
         AND EXISTS (SELECT 1 FROM done) \
       FOR UPDATE \
     ), updated_connection AS ( \
       UPDATE oauth_connections c \
       SET grant_id = $38, customer_id = $36, updated_at = $43, linked_label = $46, \
           tags = (c.tags || ARRAY( \
             SELECT t FROM unnest($39::text[]) WITH ORDINALITY AS x (t, i) \
             WHERE t <> ALL (c.tags) ORDER BY i))[1:20] \
       FROM old_connection o WHERE c.id = o.id \
     ), old_grant AS ( \
       UPDATE oauth_grants g SET revoked_at = $2 \
       FROM old_connection o WHERE g.id = o.grant_id AND g.revoked_at IS NULL \
     ), old_keys AS ( \
       UPDATE oauth_scoped_keys k SET revoked_at = $2 \
       FROM old_connection o WHERE k.grant_id = o.grant_id AND k.revoked_at IS NULL \
     ), new_connection AS ( \
       INSERT INTO oauth_connections (",
    connection_columns!(),
    ") SELECT $33, $34, $35, $36, $37, $38, $39, $40, $41, $42, $43, $44, $45, $46, $47, $48 \
       FROM done WHERE NOT EXISTS (SELECT 1 FROM old_connection) \
     ), new_key AS ( \
       INSERT INTO oauth_scoped_keys (",
    scoped_key_columns!(),
    ") SELECT $49, $50, $51, $52, $53, $54, $55, $56, $57, $58, $59, $60, $61, $62 \
       FROM done WHERE $49::text IS NOT NULL \
     ) SELECT c.ok AS customer_ok, d.* FROM customer_ok c LEFT JOIN done d ON true"
);

const DENY_SESSION: &str = concat!(
    "UPDATE oauth_sessions SET status = 'denied' ",
    completable!(),
    " RETURNING ",
    session_fields!()
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

/// A new grant (`$1`–`$9`) with its code (`$10`–`$23`), in one statement;
/// an unknown app fails the grant's foreign key (`NotFound`), a duplicate
/// id or hash is a unique violation (`Conflict`): nothing is written.
const INSERT_GRANT_CODE: &str = concat!(
    "WITH new_grant AS ( \
       INSERT INTO oauth_grants (",
    grant_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id \
     ) INSERT INTO oauth_codes (",
    code_columns!(),
    ") SELECT $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23 \
       FROM new_grant"
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

/// The app with client id `$1` (its columns as `get_app_by_client_id`
/// reads them) beside the code with hash `$2` (its columns as [`GET_CODE`]
/// reads them, prefixed `c_`): one row, each side NULL when missing.
const GET_APP_AND_CODE: &str = concat!(
    "SELECT ",
    joined_app_columns!(),
    ", c.hash AS c_hash, c.grant_id AS c_grant_id, c.workspace_id AS c_workspace_id, \
       c.app_id AS c_app_id, c.client_id AS c_client_id, c.redirect_uri AS c_redirect_uri, \
       c.redirect_uri_in_request AS c_redirect_uri_in_request, \
       c.code_challenge AS c_code_challenge, c.scopes AS c_scopes, c.subject AS c_subject, \
       c.issued_at AS c_issued_at, c.expires_at AS c_expires_at, \
       c.redeemed_at AS c_redeemed_at, c.scoped_key_id AS c_scoped_key_id \
     FROM (SELECT 1) AS one \
     LEFT JOIN oauth_apps a ON a.client_id = $1 \
     LEFT JOIN oauth_codes c ON c.hash = $2 AND ",
    grant_is_live!("c")
);

/// The app with client id `$1` beside the token with hash `$2` (its
/// columns as [`GET_TOKEN`] reads them, prefixed `t_`): one row, each side
/// NULL when missing.
const GET_APP_AND_TOKEN: &str = concat!(
    "SELECT ",
    joined_app_columns!(),
    ", t.hash AS t_hash, t.kind AS t_kind, t.grant_id AS t_grant_id, \
       t.workspace_id AS t_workspace_id, t.app_id AS t_app_id, t.client_id AS t_client_id, \
       t.subject AS t_subject, t.scopes AS t_scopes, t.issued_at AS t_issued_at, \
       t.expires_at AS t_expires_at, t.rotated_at AS t_rotated_at, \
       t.successor AS t_successor \
     FROM (SELECT 1) AS one \
     LEFT JOIN oauth_apps a ON a.client_id = $1 \
     LEFT JOIN oauth_tokens t ON t.hash = $2 AND ",
    grant_is_live!("t")
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
/// `replay`: rotated out at or after `$2`, with its successor at hand and
/// not yet rotated in turn) and its successor (role 1); a spent token that
/// is not a replay revokes its grant at `$3`, in the same statement
/// (RFC 9700 §4.14.2), as [`REVOKE_GRANT`] does: with the active
/// connection resting on it (its id in role 0's `connection_id`) and the
/// scoped keys minted under it, in the same lock order.
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
                AND EXISTS (SELECT 1 FROM next_token WHERE rotated_at IS NULL) AS replay \
       FROM target t \
     ), doomed AS ( \
       SELECT t.grant_id, t.app_id FROM target t, verdict v \
       WHERE v.spent AND NOT v.replay \
     ), connection AS ( \
       UPDATE oauth_connections n SET status = 'revoked', updated_at = $3 \
       FROM doomed d \
       WHERE n.grant_id = d.grant_id AND n.app_id = d.app_id AND n.status = 'active' \
       RETURNING n.id \
     ), revoked AS ( \
       UPDATE oauth_grants g SET revoked_at = $3 \
       FROM doomed d \
       WHERE g.id = d.grant_id AND g.revoked_at IS NULL \
         AND (SELECT count(*) FROM connection) >= 0 \
       RETURNING g.id \
     ), keys AS ( \
       UPDATE oauth_scoped_keys k SET revoked_at = $3 \
       FROM revoked r WHERE k.grant_id = r.id AND k.revoked_at IS NULL \
     ) \
     SELECT 0 AS role, t.*, v.spent, v.replay, \
            (SELECT id FROM connection LIMIT 1) AS connection_id \
     FROM target t, verdict v \
     UNION ALL \
     SELECT 1, n.*, NULL, NULL, NULL, NULL FROM next_token n \
     ORDER BY role"
);

const REVOKE_TOKEN: &str = "DELETE FROM oauth_tokens WHERE hash = $1 AND kind = 'access'";

/// Revokes the grant `$1` at `$2`, only while it is live, with the active
/// connection whose grant it is (of the grant's app) and the scoped keys
/// minted under it, in one statement. The rows are locked in the order of
/// `revoke_connection` (connection, grant, scoped keys): the grant's
/// update waits for the connection's (it reads its output), and the keys'
/// for the grant's. Two concurrent revocations: the second finds the
/// connection no longer active and the grant no longer live once the first
/// commits, and writes nothing.
const REVOKE_GRANT: &str = "\
    WITH target AS ( \
      SELECT id, app_id FROM oauth_grants WHERE id = $1 AND revoked_at IS NULL \
    ), connection AS ( \
      UPDATE oauth_connections n SET status = 'revoked', updated_at = $2 \
      FROM target t \
      WHERE n.grant_id = t.id AND n.app_id = t.app_id AND n.status = 'active' \
      RETURNING n.id \
    ), revoked AS ( \
      UPDATE oauth_grants g SET revoked_at = $2 \
      FROM target t \
      WHERE g.id = t.id AND g.revoked_at IS NULL \
        AND (SELECT count(*) FROM connection) >= 0 \
      RETURNING g.id \
    ), keys AS ( \
      UPDATE oauth_scoped_keys k SET revoked_at = $2 \
      FROM revoked r WHERE k.grant_id = r.id AND k.revoked_at IS NULL \
    ) \
    SELECT (SELECT count(*) FROM revoked) AS revoked, \
           (SELECT id FROM connection LIMIT 1) AS connection_id";

/// The replay of the redeemed code `$1`, answered at `$2`: the active
/// connection whose grant it is (of the code's app) is revoked, then the
/// grant, then the scoped keys minted with the code or under its grant, in
/// one statement, and
/// only while the grant is live. The rows are locked in the order of
/// `revoke_connection` (connection, grant, scoped key): the grant's update
/// waits for the connection's (it reads its output), and the key's for the
/// grant's.
const REVOKE_CODE_GRANT: &str = "\
    WITH code AS ( \
      SELECT c.grant_id, c.app_id, c.scoped_key_id FROM oauth_codes c \
      WHERE c.hash = $1 AND c.redeemed_at IS NOT NULL \
        AND EXISTS (SELECT 1 FROM oauth_grants g \
                    WHERE g.id = c.grant_id AND g.revoked_at IS NULL) \
    ), connection AS ( \
      UPDATE oauth_connections n SET status = 'revoked', updated_at = $2 \
      FROM code c \
      WHERE n.app_id = c.app_id AND n.grant_id = c.grant_id AND n.status = 'active' \
      RETURNING n.id \
    ), revoked AS ( \
      UPDATE oauth_grants g SET revoked_at = $2 \
      FROM code c \
      WHERE g.id = c.grant_id AND g.revoked_at IS NULL \
        AND (SELECT count(*) FROM connection) >= 0 \
      RETURNING g.id \
    ), key AS ( \
      UPDATE oauth_scoped_keys k SET revoked_at = $2 \
      FROM code c \
      WHERE ((k.id = c.scoped_key_id AND k.app_id = c.app_id) OR k.grant_id = c.grant_id) \
        AND k.revoked_at IS NULL \
        AND EXISTS (SELECT 1 FROM revoked) \
    ) \
    SELECT (SELECT count(*) FROM revoked) AS revoked, \
           (SELECT id FROM connection LIMIT 1) AS connection_id";

/// Deletes, at `$1`, at most `$2` records: expired sessions; codes that
/// expired unredeemed (a redeemed code is the tombstone a late replay needs
/// to revoke its grant, so it stays until its grant goes); tokens that
/// expired; codes and tokens whose grant is to go; grants past their expiry or
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
        WHERE (expires_at <= $1 AND redeemed_at IS NULL) \
           OR grant_id IN (SELECT id FROM doomed_grants) \
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

    async fn purge_expired(&self, now: OffsetDateTime, limit: u32) -> Result<u64, StorageError> {
        let row = sqlx::query(PURGE)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_one(&self.pool)
            .within(self.timeout)
            .await?;
        let purged: i64 = get(&row, "purged")?;
        u64::try_from(purged).map_err(|_| error::corrupt("purged", "a negative count"))
    }
}
