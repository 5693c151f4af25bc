//! The statements of [`ConnectStore`](crate::storage::ConnectStore) on
//! PostgreSQL.

/// The customer `$3` of workspace `$1` (and of app `$2`, unless NULL).
pub(super) const GET_CUSTOMER: &str = concat!(
    "SELECT ",
    customer_fields!(),
    " FROM oauth_customers \
     WHERE workspace_id = $1 AND ($2::text IS NULL OR app_id = $2) AND id = $3"
);

pub(super) const FIND_CUSTOMER: &str = concat!(
    "SELECT ",
    customer_fields!(),
    " FROM oauth_customers WHERE workspace_id = $1 AND app_id = $2 AND reference_id = $3"
);

/// The filter of a customer listing: `$1` the workspace, `$2` a reference
/// id and `$5` the app, each NULL not filtering.
macro_rules! customer_filter {
    () => {
        " FROM oauth_customers u \
         WHERE u.workspace_id = $1 AND ($2::text IS NULL OR u.reference_id = $2) \
           AND ($5::text IS NULL OR u.app_id = $5)"
    };
}

/// As the apps' listing: the page joined to the total, one row of NULLs
/// beside it past the end.
pub(super) const LIST_CUSTOMERS: &str = concat!(
    "SELECT t.total, p.* FROM (SELECT count(*) AS total",
    customer_filter!(),
    ") AS t LEFT JOIN (SELECT ",
    customer_fields!(),
    customer_filter!(),
    " ORDER BY u.created_at, u.id LIMIT $3 OFFSET $4) AS p ON true \
     ORDER BY p.created_at, p.id"
);

/// Deletes the customer `$2` of workspace `$1` (and of app `$4`, unless
/// NULL) and, only if it did, revokes at `$3` its active connections, their
/// grants and its live scoped keys: one row per revoked connection (or one
/// row of NULLs), each with the count of deleted customers.
pub(super) const DELETE_CUSTOMER: &str = concat!(
    "WITH gone AS ( \
       DELETE FROM oauth_customers \
       WHERE workspace_id = $1 AND id = $2 AND ($4::text IS NULL OR app_id = $4) \
       RETURNING id \
     ), connections AS ( \
       UPDATE oauth_connections c SET status = 'revoked', updated_at = $3 \
       FROM gone WHERE c.customer_id = gone.id AND c.status = 'active' \
       RETURNING c.* \
     ), grants AS ( \
       UPDATE oauth_grants g SET revoked_at = $3 \
       FROM connections c WHERE g.id = c.grant_id AND g.revoked_at IS NULL \
     ), keys AS ( \
       UPDATE oauth_scoped_keys k SET revoked_at = $3 \
       FROM gone WHERE k.customer_id = gone.id AND k.revoked_at IS NULL \
     ) \
     SELECT (SELECT count(*) FROM gone) AS deleted, c.* \
     FROM (SELECT 1) AS one LEFT JOIN (SELECT ",
    connection_columns!(),
    " FROM connections) AS c ON true ORDER BY c.created_at, c.id"
);

/// Replaces the Connect context of a pending, unexpired Connect session
/// with `$3` if its `stepVersion` is still `$2` (a context serialized
/// before the field existed has none: version 0).
pub(super) const ADVANCE_CONNECT: &str = "\
    UPDATE oauth_sessions SET connect = $3::jsonb \
    WHERE hash = $1 AND status = 'pending' AND expires_at > $4 AND connect IS NOT NULL \
      AND COALESCE((connect->>'stepVersion')::bigint, 0) = $2";

/// The most recently changed of the app's active connections for the
/// reference id (one per linked provider account).
pub(super) const FIND_CONNECTION: &str = concat!(
    "SELECT ",
    connection_columns!(),
    " FROM oauth_connections \
     WHERE app_id = $1 AND reference_id = $2 AND status = 'active' \
     ORDER BY updated_at DESC, id DESC LIMIT 1"
);

/// The filter of a connection listing: `$1` the workspace, then app,
/// customer, reference id, tag, provider and status (`$2`–`$7`), and grant
/// (`$10`), each NULL not filtering.
macro_rules! connection_filter {
    () => {
        " FROM oauth_connections \
         WHERE workspace_id = $1 AND ($2::text IS NULL OR app_id = $2) \
           AND ($3::text IS NULL OR customer_id = $3) \
           AND ($4::text IS NULL OR reference_id = $4) \
           AND ($5::text IS NULL OR $5 = ANY (tags)) \
           AND ($6::text IS NULL OR linked_provider = $6) \
           AND ($7::text IS NULL OR status = $7) \
           AND ($10::text IS NULL OR grant_id = $10)"
    };
}

/// As the customers' listing, with [`connection_filter!`].
pub(super) const LIST_CONNECTIONS: &str = concat!(
    "SELECT t.total, p.* FROM (SELECT count(*) AS total",
    connection_filter!(),
    ") AS t LEFT JOIN (SELECT ",
    connection_columns!(),
    connection_filter!(),
    " ORDER BY created_at, id LIMIT $8 OFFSET $9) AS p ON true \
     ORDER BY p.created_at, p.id"
);

/// The condition naming a connection: `$1` workspace, `$2` app (NULL: any),
/// `$3` id.
macro_rules! connection_named {
    () => {
        " WHERE workspace_id = $1 AND ($2::text IS NULL OR app_id = $2) AND id = $3"
    };
}

pub(super) const GET_CONNECTION: &str = concat!(
    "SELECT ",
    connection_columns!(),
    " FROM oauth_connections",
    connection_named!()
);

/// Edits the tags of the connection named by `$1`–`$3`, at `$8`, under its
/// row lock (`FOR UPDATE` yields the latest version, so concurrent edits
/// apply one after the other): start from `$4` (NULL: the current tags),
/// append each of `$5` not yet present (in their order, once), drop every
/// one of `$6`; written only if at most `$7` remain. `found` tells an
/// unknown connection from one with too many tags.
pub(super) const UPDATE_CONNECTION_TAGS: &str = concat!(
    "WITH target AS ( \
       SELECT id, COALESCE($4::text[], tags) AS base FROM oauth_connections",
    connection_named!(),
    " FOR UPDATE \
     ), edited AS ( \
       SELECT id, ARRAY( \
         SELECT t FROM unnest(base || ARRAY( \
           SELECT a FROM unnest($5::text[]) WITH ORDINALITY AS x (a, i) \
           WHERE a <> ALL (base) GROUP BY a ORDER BY min(i) \
         )) WITH ORDINALITY AS y (t, j) \
         WHERE t <> ALL ($6::text[]) ORDER BY j \
       ) AS tags FROM target \
     ), updated AS ( \
       UPDATE oauth_connections c SET tags = e.tags, updated_at = $8 \
       FROM edited e WHERE c.id = e.id AND cardinality(e.tags) <= $7 \
       RETURNING c.* \
     ) SELECT (SELECT count(*) FROM target) AS found, u.* \
     FROM (SELECT 1) AS one LEFT JOIN updated u ON true"
);

/// Revokes at `$4` the active connection named by `$1`–`$3` and, only if
/// it did, its grant and the live scoped keys minted under that grant.
pub(super) const REVOKE_CONNECTION: &str = concat!(
    "WITH revoked AS ( \
       UPDATE oauth_connections SET status = 'revoked', updated_at = $4",
    connection_named!(),
    " AND status = 'active' RETURNING * \
     ), grants AS ( \
       UPDATE oauth_grants g SET revoked_at = $4 \
       FROM revoked r WHERE g.id = r.grant_id AND g.revoked_at IS NULL \
     ), keys AS ( \
       UPDATE oauth_scoped_keys k SET revoked_at = $4 \
       FROM revoked r WHERE k.grant_id = r.grant_id AND k.revoked_at IS NULL \
     ) SELECT ",
    connection_columns!(),
    " FROM revoked"
);

/// Attaches the connection `$3` of workspace `$1` (and of app `$2`, unless
/// NULL), if active, browser-created and not yet attached, to the customer
/// `$4` or the one with reference id `$5` of its app (one of the two is
/// NULL), at `$6`:
///
/// - `connection` locks the connection row; `attachable` keeps it if it
///   may be attached;
/// - `target` is the customer named (locked, so that a concurrent deletion
///   of it comes wholly before or after); `chosen` is that customer, or,
///   for a reference id the app has no customer for, the connection's own
///   customer under that reference id (`rename`);
/// - `duplicate` finds another active connection of the app for the
///   chosen reference id and the same linked account, which refuses it;
/// - `renamed` gives the own customer its new reference id, `moved`
///   the connection (and, on a rename, every other active connection of
///   that customer) the chosen customer and reference id, `keys` the
///   scoped keys minted under its grant the chosen customer's id;
/// - `gone` deletes the former customer when the connection moved to
///   another and no other active connection holds it (the statement's
///   snapshot still shows the moved connection under its former customer,
///   hence `n.id <> $3`).
///
/// One row: the counts telling why nothing happened, beside the attached
/// connection's columns (NULL when nothing was attached).
pub(super) const ATTACH_CONNECTION: &str = concat!(
    "WITH connection AS ( \
       SELECT * FROM oauth_connections",
    connection_named!(),
    " FOR UPDATE \
     ), attachable AS ( \
       SELECT * FROM connection \
       WHERE status = 'active' AND browser_created AND attached_at IS NULL \
     ), target AS ( \
       SELECT u.id, u.reference_id FROM oauth_customers u, attachable a \
       WHERE u.workspace_id = $1 AND u.app_id = a.app_id \
         AND (u.id = $4 OR u.reference_id = $5) \
       FOR UPDATE OF u \
     ), chosen AS ( \
       SELECT id, reference_id, false AS rename FROM target \
       UNION ALL \
       SELECT a.customer_id, $5, true FROM attachable a \
       WHERE $5::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM target) \
         AND EXISTS (SELECT 1 FROM oauth_customers u \
                     WHERE u.id = a.customer_id AND u.app_id = a.app_id) \
     ), duplicate AS ( \
       SELECT 1 FROM oauth_connections n, attachable a, chosen c \
       WHERE n.app_id = a.app_id AND n.reference_id = c.reference_id \
         AND n.status = 'active' AND n.id <> a.id \
         AND n.reference_id <> a.reference_id \
         AND n.linked_provider IS NOT DISTINCT FROM a.linked_provider \
         AND n.linked_account_reference IS NOT DISTINCT FROM a.linked_account_reference \
     ), go AS ( \
       SELECT c.id, c.reference_id, c.rename, a.customer_id AS former, a.reference_id AS \
              former_reference, a.app_id, a.grant_id \
       FROM chosen c, attachable a WHERE NOT EXISTS (SELECT 1 FROM duplicate) \
     ), renamed AS ( \
       UPDATE oauth_customers u SET reference_id = g.reference_id, updated_at = $6 \
       FROM go g WHERE g.rename AND u.id = g.id \
     ), moved AS ( \
       UPDATE oauth_connections n \
       SET customer_id = g.id, reference_id = g.reference_id, updated_at = $6, \
           attached_at = CASE WHEN n.id = $3 THEN $6 ELSE n.attached_at END \
       FROM go g \
       WHERE n.id = $3 OR (g.rename AND n.app_id = g.app_id AND n.customer_id = g.former \
                           AND n.reference_id = g.former_reference AND n.status = 'active') \
       RETURNING n.* \
     ), keys AS ( \
       UPDATE oauth_scoped_keys k SET customer_id = g.id \
       FROM go g WHERE k.grant_id = g.grant_id \
     ), gone AS ( \
       DELETE FROM oauth_customers u USING go g \
       WHERE NOT g.rename AND u.id = g.former AND u.id <> g.id \
         AND NOT EXISTS (SELECT 1 FROM oauth_connections n \
                         WHERE n.customer_id = g.former AND n.status = 'active' \
                           AND n.id <> $3) \
     ) SELECT (SELECT count(*) FROM connection) AS found, \
              (SELECT count(*) FROM attachable) AS attachable, \
              (SELECT count(*) FROM chosen) AS chosen, m.* \
     FROM (SELECT 1) AS one LEFT JOIN (SELECT ",
    connection_columns!(),
    " FROM moved WHERE id = $3) AS m ON true"
);

/// Inserts the key (`$1`–`$14`, [`scoped_key_columns!`] order) only if an
/// active connection of its app (`$3`) and customer (`$5`, reference id
/// `$6`) in its workspace (`$2`) holds its grant (`$14`), that grant is
/// not revoked, and the app (with client id `$4`) exists: the rows are
/// share-locked in that order (connection, grant, app), so a concurrent
/// revocation or deletion waits for this statement or, committed first,
/// makes it match nothing. `live` tells a refusal from an id conflict.
pub(super) const INSERT_SCOPED_KEY: &str = concat!(
    "WITH connection AS ( \
       SELECT n.grant_id FROM oauth_connections n \
       WHERE n.workspace_id = $2 AND n.app_id = $3 AND n.customer_id = $5 \
         AND n.reference_id = $6 AND n.grant_id = $14 AND n.status = 'active' \
       FOR SHARE \
     ), live_grant AS ( \
       SELECT g.id FROM oauth_grants g \
       WHERE g.id IN (SELECT grant_id FROM connection) AND g.revoked_at IS NULL \
       FOR SHARE \
     ), app AS ( \
       SELECT a.id FROM oauth_apps a \
       WHERE a.id = $3 AND a.workspace_id = $2 AND a.client_id = $4 \
         AND EXISTS (SELECT 1 FROM live_grant) \
       FOR KEY SHARE \
     ), inserted AS ( \
       INSERT INTO oauth_scoped_keys (",
    scoped_key_columns!(),
    ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 FROM app \
       ON CONFLICT DO NOTHING RETURNING 1 \
     ) SELECT (SELECT count(*) FROM app) AS live, (SELECT count(*) FROM inserted) AS inserted"
);

pub(super) const GET_SCOPED_KEY: &str = concat!(
    "SELECT ",
    scoped_key_fields!(),
    " FROM oauth_scoped_keys k LEFT JOIN oauth_grants g ON g.id = k.grant_id WHERE k.id = $1"
);

/// `$2` (app) and `$3` (customer) NULL do not filter.
pub(super) const LIST_SCOPED_KEYS: &str = concat!(
    "SELECT t.total, p.* \
     FROM (SELECT count(*) AS total FROM oauth_scoped_keys \
           WHERE workspace_id = $1 AND ($2::text IS NULL OR app_id = $2) \
             AND ($3::text IS NULL OR customer_id = $3)) AS t \
     LEFT JOIN (SELECT ",
    scoped_key_fields!(),
    " FROM oauth_scoped_keys k LEFT JOIN oauth_grants g ON g.id = k.grant_id \
       WHERE k.workspace_id = $1 AND ($2::text IS NULL OR k.app_id = $2) \
         AND ($3::text IS NULL OR k.customer_id = $3) \
       ORDER BY k.created_at, k.id LIMIT $4 OFFSET $5) AS p ON true \
     ORDER BY p.created_at, p.id"
);

pub(super) const REVOKE_SCOPED_KEY: &str = "UPDATE oauth_scoped_keys SET revoked_at = $4 \
     WHERE workspace_id = $1 AND app_id = $2 AND id = $3 AND revoked_at IS NULL";

pub(super) const REVOKE_CUSTOMER_SCOPED_KEYS: &str = "UPDATE oauth_scoped_keys SET revoked_at = $3 \
     WHERE workspace_id = $1 AND customer_id = $2 AND revoked_at IS NULL";
