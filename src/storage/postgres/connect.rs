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
//! its scoped keys; see [`ATTACH_CONNECTION`](super::connect_sql::ATTACH_CONNECTION)). `insert_scoped_key` inserts
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
//! single statement in `grants_sql.rs`, with the column lists of
//! `columns.rs` and the binder of `binds.rs`. The statements are in
//! `connect_sql.rs`.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use super::binds::{bind_scoped_key, status_text};
use super::connect_sql::{
    ADVANCE_CONNECT, ATTACH_CONNECTION, DELETE_CUSTOMER, FIND_CONNECTION, FIND_CUSTOMER,
    GET_CONNECTION, GET_CUSTOMER, GET_SCOPED_KEY, INSERT_SCOPED_KEY, LIST_CONNECTIONS,
    LIST_CUSTOMERS, LIST_SCOPED_KEYS, REVOKE_CONNECTION, REVOKE_CUSTOMER_SCOPED_KEYS,
    REVOKE_SCOPED_KEY, UPDATE_CONNECTION_TAGS,
};
use super::error::Within as _;
use super::grants::decode_session;
use super::grants_sql::GET_SESSION;
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
