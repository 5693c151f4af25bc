//! The statements of [`GrantStore`](crate::storage::GrantStore) on
//! PostgreSQL (see `grants.rs` for their atomicity, round trips and lock
//! order).

/// An `INSERT` of any number of tokens, one array parameter per column (see
/// [`bind_tokens`](super::grants::bind_tokens); the parameters are numbered from `$first`), if the
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

pub(super) const INSERT_SESSION: &str = concat!(
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
pub(super) const INSERT_PUSHED_SESSION: &str = concat!(
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
pub(super) const OPEN_SESSION: &str = concat!(
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
pub(super) const APPROVE_SESSION: &str = concat!(
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
/// session's (`$39`) added, those it lacks, up to the cap (`$63`, the
/// server's `max_connection_tags`; tags it already holds beyond that stay), and its
/// old grant is revoked at `$2` with the scoped keys minted under it;
/// without one, or for a browser-created connection, the new connection is
/// inserted. (Two approvals of two sessions racing to create the first
/// connection for a reference id: the loser's insert violates the partial
/// unique index, `Conflict`, nothing written.)
///
/// [`bind_approval`]: super::binds::bind_approval
pub(super) const APPROVE_CONNECT: &str = concat!(
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
             WHERE t <> ALL (c.tags) ORDER BY i))[1:GREATEST($63::int, cardinality(c.tags))] \
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

pub(super) const DENY_SESSION: &str = concat!(
    "UPDATE oauth_sessions SET status = 'denied' ",
    completable!(),
    " RETURNING ",
    session_fields!()
);

pub(super) const GET_CODE: &str = concat!(
    "SELECT ",
    code_columns!(),
    " FROM oauth_codes WHERE hash = $1 AND ",
    grant_is_live!("oauth_codes")
);

/// Redeems the code at `$2` and, only if it did, moves the grant's expiry
/// to `$3` and writes the tokens (`$4`–`$15`).
pub(super) const REDEEM_CODE: &str = concat!(
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
pub(super) const INSERT_GRANT: &str = concat!(
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
pub(super) const INSERT_GRANT_CODE: &str = concat!(
    "WITH new_grant AS ( \
       INSERT INTO oauth_grants (",
    grant_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id \
     ) INSERT INTO oauth_codes (",
    code_columns!(),
    ") SELECT $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23 \
       FROM new_grant"
);

pub(super) const GET_GRANT: &str = concat!(
    "SELECT ",
    grant_columns!(),
    " FROM oauth_grants WHERE id = $1"
);

pub(super) const GET_TOKEN: &str = concat!(
    "SELECT ",
    token_columns!(),
    " FROM oauth_tokens WHERE hash = $1 AND ",
    grant_is_live!("oauth_tokens")
);

/// The app with client id `$1` (its columns as `get_app_by_client_id`
/// reads them) beside the code with hash `$2` (its columns as [`GET_CODE`]
/// reads them, prefixed `c_`): one row, each side NULL when missing.
pub(super) const GET_APP_AND_CODE: &str = concat!(
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
pub(super) const GET_APP_AND_TOKEN: &str = concat!(
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
pub(super) const ROTATE_REFRESH: &str = concat!(
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
pub(super) const REFUSED_ROTATION: &str = concat!(
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

pub(super) const REVOKE_TOKEN: &str =
    "DELETE FROM oauth_tokens WHERE hash = $1 AND kind = 'access'";

/// Revokes the grant `$1` at `$2`, only while it is live, with the active
/// connection whose grant it is (of the grant's app) and the scoped keys
/// minted under it, in one statement. The rows are locked in the order of
/// `revoke_connection` (connection, grant, scoped keys): the grant's
/// update waits for the connection's (it reads its output), and the keys'
/// for the grant's. Two concurrent revocations: the second finds the
/// connection no longer active and the grant no longer live once the first
/// commits, and writes nothing.
pub(super) const REVOKE_GRANT: &str = "\
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
pub(super) const REVOKE_CODE_GRANT: &str = "\
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
/// revoked the retention (`$3`, in microseconds: the server's
/// `PurgePolicy`) ago or more, once none of their codes and tokens is
/// left outside this batch. Rows are claimed with `FOR UPDATE SKIP LOCKED`,
/// so concurrent purges split the work instead of waiting for each other,
/// and a grant is deleted only by the purge that holds all its codes and
/// tokens (the `ON DELETE CASCADE` then has nothing left to lock).
pub(super) const PURGE: &str = "\
    WITH doomed_grants AS ( \
      SELECT id FROM oauth_grants \
      WHERE expires_at <= $1 OR revoked_at <= $1 - $3::bigint * interval '1 microsecond' \
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
