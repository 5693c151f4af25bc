//! [`ConnectStore`] on PostgreSQL: tables `oauth_customers`,
//! `oauth_connections` and `oauth_scoped_keys`
//! (`migrations/0004_connect.sql`; customers belong to an app since
//! `0010_customer_apps.sql`).
//!
//! Every method is one statement and one round trip; `delete_customer`
//! deletes the customer and revokes its connections, their grants and its
//! scoped keys in one statement (data-modifying common table expressions),
//! so it is atomic without a transaction, as are `revoke_connection` (the
//! connection, its grant, the scoped keys minted under that grant) and
//! `attach_connection` (the connection, its customer's rename or deletion,
//! its scoped keys; see [`ATTACH_CONNECTION`]). `insert_scoped_key` inserts
//! only while the key's connection is active, its grant live and its app
//! present, holding share locks on those rows, so a concurrent revocation
//! or deletion either waits for the insert (and then revokes the new key
//! with the grant) or wins and the insert writes nothing. A scoped key is
//! read with its grant (`LEFT JOIN`): revoked with it.
//! `update_connection_tags` edits the tags with SQL array operations in one
//! statement, under the row's lock. `advance_connect`, the step
//! transitions' compare-and-swap on the session's Connect context, is one
//! statement when it applies and a second, reading one when it does not (to
//! tell a stale version from a closed session). What approving a Connect session
//! writes (customer, connection, scoped key) is part of the approval's
//! single statement in `grants.rs`; this module provides its column lists,
//! and `binds.rs` its binder.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use super::binds::{bind_scoped_key, status_text};
use super::error::Within as _;
use super::grants::{GET_SESSION, decode_session};
use super::rows::{get, hash_param, json, json_param, parsed};
use super::{PostgresStore, error};
use crate::credentials::keyring::CredentialHash;
use crate::model::ids::{
    AppId, ClientId, ConnectionId, CustomerId, GrantId, ScopedKeyId, WorkspaceId,
};
use crate::model::scope::ScopeSet;
use crate::storage::{
    AttachTarget, ConnectContext, ConnectStore, ConnectionAttach, ConnectionFilter,
    ConnectionRecord, ConnectionStatus, CustomerRecord, LinkedAccount, Listing, ScopedKeyInsert,
    ScopedKeyRecord, SessionStatus, StepAdvance, StorageError, StorageErrorKind, TagEdit,
    TagUpdate,
};

/// The columns of `oauth_customers`, in table order (to write).
macro_rules! customer_columns {
    () => {
        "id, workspace_id, reference_id, info, created_at, updated_at, app_id"
    };
}

/// The columns [`decode_customer`] reads (`info` as text).
macro_rules! customer_fields {
    () => {
        "id, workspace_id, reference_id, info::text AS info, created_at, updated_at, app_id"
    };
}

/// The columns [`decode_connection`] reads, in table order.
macro_rules! connection_columns {
    () => {
        "id, workspace_id, app_id, customer_id, reference_id, grant_id, tags, status, \
         browser_created, created_at, updated_at, linked_provider, linked_account_reference, \
         linked_label, claimed_reference_id, attached_at"
    };
}

/// The columns of `oauth_scoped_keys`, in table order (to write).
macro_rules! scoped_key_columns {
    () => {
        "id, workspace_id, app_id, client_id, customer_id, reference_id, scopes, label, nonce, \
         signing_key_id, created_at, expires_at, revoked_at, grant_id"
    };
}

/// The columns [`decode_scoped_key`] reads, of `oauth_scoped_keys k LEFT
/// JOIN oauth_grants g ON g.id = k.grant_id`: `revoked_at` is the key's own
/// revocation, else its grant's (a grant no longer stored, purged after its
/// revocation, leaves the key revoked at its creation time).
macro_rules! scoped_key_fields {
    () => {
        "k.id, k.workspace_id, k.app_id, k.client_id, k.customer_id, k.reference_id, k.scopes, \
         k.label, k.nonce, k.signing_key_id, k.created_at, k.expires_at, \
         COALESCE(k.revoked_at, g.revoked_at, CASE WHEN g.id IS NULL THEN k.created_at END) \
           AS revoked_at, \
         k.grant_id"
    };
}

/// The customer `$3` of workspace `$1` (and of app `$2`, unless NULL).
const GET_CUSTOMER: &str = concat!(
    "SELECT ",
    customer_fields!(),
    " FROM oauth_customers \
     WHERE workspace_id = $1 AND ($2::text IS NULL OR app_id = $2) AND id = $3"
);

const FIND_CUSTOMER: &str = concat!(
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
const LIST_CUSTOMERS: &str = concat!(
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
const DELETE_CUSTOMER: &str = concat!(
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
const ADVANCE_CONNECT: &str = "\
    UPDATE oauth_sessions SET connect = $3::jsonb \
    WHERE hash = $1 AND status = 'pending' AND expires_at > $4 AND connect IS NOT NULL \
      AND COALESCE((connect->>'stepVersion')::bigint, 0) = $2";

/// The most recently changed of the app's active connections for the
/// reference id (one per linked provider account).
const FIND_CONNECTION: &str = concat!(
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
const LIST_CONNECTIONS: &str = concat!(
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

const GET_CONNECTION: &str = concat!(
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
const UPDATE_CONNECTION_TAGS: &str = concat!(
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
const REVOKE_CONNECTION: &str = concat!(
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
const ATTACH_CONNECTION: &str = concat!(
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
const INSERT_SCOPED_KEY: &str = concat!(
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

const GET_SCOPED_KEY: &str = concat!(
    "SELECT ",
    scoped_key_fields!(),
    " FROM oauth_scoped_keys k LEFT JOIN oauth_grants g ON g.id = k.grant_id WHERE k.id = $1"
);

/// `$2` (app) and `$3` (customer) NULL do not filter.
const LIST_SCOPED_KEYS: &str = concat!(
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

const REVOKE_SCOPED_KEY: &str = "UPDATE oauth_scoped_keys SET revoked_at = $4 \
     WHERE workspace_id = $1 AND app_id = $2 AND id = $3 AND revoked_at IS NULL";

const REVOKE_CUSTOMER_SCOPED_KEYS: &str = "UPDATE oauth_scoped_keys SET revoked_at = $3 \
     WHERE workspace_id = $1 AND customer_id = $2 AND revoked_at IS NULL";

fn parse_status(text: &str) -> Result<ConnectionStatus, ()> {
    match text {
        "active" => Ok(ConnectionStatus::Active),
        "revoked" => Ok(ConnectionStatus::Revoked),
        _ => Err(()),
    }
}

/// The customer in a row holding [`customer_fields!`].
fn decode_customer(row: &PgRow) -> Result<CustomerRecord, StorageError> {
    Ok(CustomerRecord {
        id: parsed(row, "id", CustomerId::parse)?,
        workspace_id: parsed(row, "workspace_id", WorkspaceId::parse)?,
        app_id: parsed(row, "app_id", AppId::parse)?,
        reference_id: get(row, "reference_id")?,
        info: json(row, "info")?.ok_or_else(|| error::corrupt("info", "NULL"))?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    })
}

/// The connection in a row holding [`connection_columns!`].
fn decode_connection(row: &PgRow) -> Result<ConnectionRecord, StorageError> {
    Ok(ConnectionRecord {
        id: parsed(row, "id", ConnectionId::parse)?,
        workspace_id: parsed(row, "workspace_id", WorkspaceId::parse)?,
        app_id: parsed(row, "app_id", AppId::parse)?,
        customer_id: parsed(row, "customer_id", CustomerId::parse)?,
        reference_id: get(row, "reference_id")?,
        grant_id: parsed(row, "grant_id", GrantId::parse)?,
        tags: get(row, "tags")?,
        status: parsed(row, "status", parse_status)?,
        browser_created: get(row, "browser_created")?,
        claimed_reference_id: get(row, "claimed_reference_id")?,
        attached_at: get(row, "attached_at")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        linked: decode_linked(row)?,
    })
}

/// The linked account of a connection row: all three columns, or none.
fn decode_linked(row: &PgRow) -> Result<Option<LinkedAccount>, StorageError> {
    let provider: Option<String> = get(row, "linked_provider")?;
    let account: Option<String> = get(row, "linked_account_reference")?;
    let label: Option<String> = get(row, "linked_label")?;
    match (provider, account, label) {
        (Some(provider), Some(account), Some(label)) => {
            Ok(Some(LinkedAccount::new(provider, account, label)))
        }
        (None, None, None) => Ok(None),
        _ => Err(error::corrupt("linked_provider", "partly NULL")),
    }
}

/// The scoped key in a row holding [`scoped_key_columns!`].
fn decode_scoped_key(row: &PgRow) -> Result<ScopedKeyRecord, StorageError> {
    let scopes: Vec<String> = get(row, "scopes")?;
    let nonce: &[u8] = get(row, "nonce")?;
    let signing_key_id: i16 = get(row, "signing_key_id")?;
    Ok(ScopedKeyRecord {
        id: parsed(row, "id", ScopedKeyId::parse)?,
        workspace_id: parsed(row, "workspace_id", WorkspaceId::parse)?,
        app_id: parsed(row, "app_id", AppId::parse)?,
        client_id: parsed(row, "client_id", ClientId::parse)?,
        customer_id: parsed(row, "customer_id", CustomerId::parse)?,
        reference_id: get(row, "reference_id")?,
        grant_id: parsed(row, "grant_id", GrantId::parse)?,
        scopes: ScopeSet::from_tokens(scopes)
            .map_err(|_| error::corrupt("scopes", "an element does not parse"))?,
        label: get(row, "label")?,
        nonce: nonce
            .try_into()
            .map_err(|_| error::corrupt("nonce", "a nonce is 16 bytes"))?,
        signing_key_id: u8::try_from(signing_key_id)
            .map_err(|_| error::corrupt("signing_key_id", "out of 0-255"))?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
        revoked_at: get(row, "revoked_at")?,
    })
}

/// The page and total of a listing whose rows join the total (`total`) to
/// the page's columns (`id` NULL on the one row of an empty page).
fn listing<T>(
    rows: &[PgRow],
    decode: fn(&PgRow) -> Result<T, StorageError>,
) -> Result<Listing<T>, StorageError> {
    let mut total = 0;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        total = get::<i64>(row, "total")?;
        if get::<Option<&str>>(row, "id")?.is_some() {
            items.push(decode(row)?);
        }
    }
    let total = u64::try_from(total).map_err(|_| error::corrupt("total", "a negative count"))?;
    Ok(Listing { items, total })
}

#[async_trait]
impl ConnectStore for PostgresStore {
    async fn get_customer(
        &self,
        workspace: &WorkspaceId,
        app_id: Option<&AppId>,
        id: &CustomerId,
    ) -> Result<Option<CustomerRecord>, StorageError> {
        let query = sqlx::query(GET_CUSTOMER)
            .bind(workspace.as_str())
            .bind(app_id.map(AppId::as_str))
            .bind(id.as_str());
        self.fetch_optional(query, decode_customer).await
    }

    async fn find_customer(
        &self,
        workspace: &WorkspaceId,
        app_id: &AppId,
        reference_id: &str,
    ) -> Result<Option<CustomerRecord>, StorageError> {
        let query = sqlx::query(FIND_CUSTOMER)
            .bind(workspace.as_str())
            .bind(app_id.as_str())
            .bind(reference_id);
        self.fetch_optional(query, decode_customer).await
    }

    async fn list_customers(
        &self,
        workspace: &WorkspaceId,
        reference_id: Option<&str>,
        app_id: Option<&AppId>,
        offset: u64,
        limit: u32,
    ) -> Result<Listing<CustomerRecord>, StorageError> {
        let rows = sqlx::query(LIST_CUSTOMERS)
            .bind(workspace.as_str())
            .bind(reference_id)
            .bind(i64::from(limit))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .bind(app_id.map(AppId::as_str))
            .fetch_all(&self.pool)
            .within(self.timeout)
            .await?;
        listing(&rows, decode_customer)
    }

    async fn delete_customer(
        &self,
        workspace: &WorkspaceId,
        app_id: Option<&AppId>,
        id: &CustomerId,
        now: OffsetDateTime,
    ) -> Result<Option<Vec<ConnectionRecord>>, StorageError> {
        let rows = sqlx::query(DELETE_CUSTOMER)
            .bind(workspace.as_str())
            .bind(id.as_str())
            .bind(now)
            .bind(app_id.map(AppId::as_str))
            .fetch_all(&self.pool)
            .within(self.timeout)
            .await?;
        let mut revoked = Vec::new();
        for row in &rows {
            if get::<i64>(row, "deleted")? == 0 {
                return Ok(None);
            }
            if get::<Option<&str>>(row, "id")?.is_some() {
                revoked.push(decode_connection(row)?);
            }
        }
        Ok(Some(revoked))
    }

    async fn attach_connection(
        &self,
        workspace: &WorkspaceId,
        app_id: Option<&AppId>,
        id: &ConnectionId,
        to: &AttachTarget,
        now: OffsetDateTime,
    ) -> Result<ConnectionAttach, StorageError> {
        let (customer, reference) = match to {
            AttachTarget::Customer(c) => (Some(c.as_str()), None),
            AttachTarget::Reference(r) => (None, Some(r.as_str())),
        };
        let row = sqlx::query(ATTACH_CONNECTION)
            .bind(workspace.as_str())
            .bind(app_id.map(AppId::as_str))
            .bind(id.as_str())
            .bind(customer)
            .bind(reference)
            .bind(now)
            .fetch_one(&self.pool)
            .within(self.timeout)
            .await?;
        if get::<Option<&str>>(&row, "id")?.is_some() {
            return Ok(ConnectionAttach::Attached(Box::new(decode_connection(
                &row,
            )?)));
        }
        Ok(if get::<i64>(&row, "found")? == 0 {
            ConnectionAttach::NotFound
        } else if get::<i64>(&row, "attachable")? == 0 {
            ConnectionAttach::NotAttachable
        } else if get::<i64>(&row, "chosen")? == 0 {
            ConnectionAttach::UnknownCustomer
        } else {
            ConnectionAttach::AlreadyConnected
        })
    }

    async fn find_connection(
        &self,
        app_id: &AppId,
        reference_id: &str,
    ) -> Result<Option<ConnectionRecord>, StorageError> {
        let query = sqlx::query(FIND_CONNECTION)
            .bind(app_id.as_str())
            .bind(reference_id);
        self.fetch_optional(query, decode_connection).await
    }

    async fn advance_connect(
        &self,
        hash: &CredentialHash,
        expected_version: u32,
        context: &ConnectContext,
        now: OffsetDateTime,
    ) -> Result<StepAdvance, StorageError> {
        let done = sqlx::query(ADVANCE_CONNECT)
            .bind(hash_param(hash))
            .bind(i64::from(expected_version))
            .bind(json_param(context)?)
            .bind(now)
            .execute(&self.pool)
            .within(self.timeout)
            .await?;
        if done.rows_affected() > 0 {
            return Ok(StepAdvance::Advanced);
        }
        // Not applied: stale if the session is still open (another
        // transition won), closed otherwise.
        let query = sqlx::query(GET_SESSION).bind(hash_param(hash));
        Ok(match self.fetch_optional(query, decode_session).await? {
            Some(session)
                if session.status == SessionStatus::Pending
                    && now < session.expires_at
                    && session.connect.is_some() =>
            {
                StepAdvance::Stale(Box::new(session))
            }
            _ => StepAdvance::Closed,
        })
    }

    async fn list_connections(
        &self,
        workspace: &WorkspaceId,
        filter: &ConnectionFilter,
        offset: u64,
        limit: u32,
    ) -> Result<Listing<ConnectionRecord>, StorageError> {
        let rows = sqlx::query(LIST_CONNECTIONS)
            .bind(workspace.as_str())
            .bind(filter.app_id.as_ref().map(AppId::as_str))
            .bind(filter.customer_id.as_ref().map(CustomerId::as_str))
            .bind(filter.reference_id.as_deref())
            .bind(filter.tag.as_deref())
            .bind(filter.provider.as_deref())
            .bind(filter.status.map(status_text))
            .bind(i64::from(limit))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .bind(filter.grant_id.as_ref().map(GrantId::as_str))
            .fetch_all(&self.pool)
            .within(self.timeout)
            .await?;
        listing(&rows, decode_connection)
    }

    async fn get_connection(
        &self,
        workspace: &WorkspaceId,
        app_id: Option<&AppId>,
        id: &ConnectionId,
    ) -> Result<Option<ConnectionRecord>, StorageError> {
        let query = sqlx::query(GET_CONNECTION)
            .bind(workspace.as_str())
            .bind(app_id.map(AppId::as_str))
            .bind(id.as_str());
        self.fetch_optional(query, decode_connection).await
    }

    async fn update_connection_tags(
        &self,
        workspace: &WorkspaceId,
        app_id: Option<&AppId>,
        id: &ConnectionId,
        edit: &TagEdit,
        now: OffsetDateTime,
    ) -> Result<TagUpdate, StorageError> {
        let row = sqlx::query(UPDATE_CONNECTION_TAGS)
            .bind(workspace.as_str())
            .bind(app_id.map(AppId::as_str))
            .bind(id.as_str())
            .bind(edit.replace.as_deref())
            .bind(edit.add.as_slice())
            .bind(edit.remove.as_slice())
            .bind(i64::try_from(edit.max).unwrap_or(i64::MAX))
            .bind(now)
            .fetch_one(&self.pool)
            .within(self.timeout)
            .await?;
        if get::<Option<&str>>(&row, "id")?.is_some() {
            return Ok(TagUpdate::Updated(Box::new(decode_connection(&row)?)));
        }
        Ok(if get::<i64>(&row, "found")? > 0 {
            TagUpdate::TooMany
        } else {
            TagUpdate::NotFound
        })
    }

    async fn revoke_connection(
        &self,
        workspace: &WorkspaceId,
        app_id: Option<&AppId>,
        id: &ConnectionId,
        now: OffsetDateTime,
    ) -> Result<Option<ConnectionRecord>, StorageError> {
        let query = sqlx::query(REVOKE_CONNECTION)
            .bind(workspace.as_str())
            .bind(app_id.map(AppId::as_str))
            .bind(id.as_str())
            .bind(now);
        self.fetch_optional(query, decode_connection).await
    }

    async fn insert_scoped_key(
        &self,
        key: &ScopedKeyRecord,
    ) -> Result<ScopedKeyInsert, StorageError> {
        let query = bind_scoped_key(sqlx::query(INSERT_SCOPED_KEY), Some(key));
        let row = query.fetch_one(&self.pool).within(self.timeout).await?;
        if get::<i64>(&row, "inserted")? > 0 {
            return Ok(ScopedKeyInsert::Inserted);
        }
        // Checks passed but no row went in: the id is taken.
        if get::<i64>(&row, "live")? > 0 {
            return Err(StorageError::new(StorageErrorKind::Conflict));
        }
        Ok(ScopedKeyInsert::NoLiveGrant)
    }

    async fn get_scoped_key(
        &self,
        id: &ScopedKeyId,
    ) -> Result<Option<ScopedKeyRecord>, StorageError> {
        let query = sqlx::query(GET_SCOPED_KEY).bind(id.as_str());
        self.fetch_optional(query, decode_scoped_key).await
    }

    async fn list_scoped_keys(
        &self,
        workspace: &WorkspaceId,
        app_id: Option<&AppId>,
        customer_id: Option<&CustomerId>,
        offset: u64,
        limit: u32,
    ) -> Result<Listing<ScopedKeyRecord>, StorageError> {
        let rows = sqlx::query(LIST_SCOPED_KEYS)
            .bind(workspace.as_str())
            .bind(app_id.map(AppId::as_str))
            .bind(customer_id.map(CustomerId::as_str))
            .bind(i64::from(limit))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .within(self.timeout)
            .await?;
        listing(&rows, decode_scoped_key)
    }

    async fn revoke_scoped_key(
        &self,
        workspace: &WorkspaceId,
        app_id: &AppId,
        id: &ScopedKeyId,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        let done = sqlx::query(REVOKE_SCOPED_KEY)
            .bind(workspace.as_str())
            .bind(app_id.as_str())
            .bind(id.as_str())
            .bind(now)
            .execute(&self.pool)
            .within(self.timeout)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_customer_scoped_keys(
        &self,
        workspace: &WorkspaceId,
        customer_id: &CustomerId,
        now: OffsetDateTime,
    ) -> Result<u64, StorageError> {
        let done = sqlx::query(REVOKE_CUSTOMER_SCOPED_KEYS)
            .bind(workspace.as_str())
            .bind(customer_id.as_str())
            .bind(now)
            .execute(&self.pool)
            .within(self.timeout)
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_statuses_round_trip() {
        for status in [ConnectionStatus::Active, ConnectionStatus::Revoked] {
            assert_eq!(parse_status(status_text(status)), Ok(status));
        }
        assert_eq!(parse_status("Active"), Err(()));
    }
}
