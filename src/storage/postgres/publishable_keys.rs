//! [`PublishableKeyStore`] on PostgreSQL: table `oauth_publishable_keys`
//! and the counter `oauth_apps.publishable_key_count`
//! (`migrations/0006_publishable_keys.sql`).
//!
//! Every method is one statement and one round trip. The per-app bound is a
//! compare-and-increment on the app row inside the inserting statement, so
//! concurrent inserts queue on that row lock and each re-checks the count
//! the previous one left.

use async_trait::async_trait;
use sqlx::postgres::PgRow;

use super::error::Within as _;
use super::rows::{get, hash, hash_param, parsed};
use super::{PostgresStore, error};
use crate::credentials::keyring::CredentialHash;
use crate::model::ids::{AppId, PublishableKeyId, WorkspaceId};
use crate::storage::{
    PublishableKeyInsert, PublishableKeyRecord, PublishableKeyStore, StorageError,
};

macro_rules! key_columns {
    () => {
        "id, hash, workspace_id, app_id, created_at"
    };
}

/// `claimed` increments the app's key count only while it is below `$6`;
/// the key row is inserted only when that happened. A duplicate id or hash
/// fails the whole statement (the increment included).
const INSERT: &str = "WITH claimed AS ( \
       UPDATE oauth_apps SET publishable_key_count = publishable_key_count + 1 \
       WHERE workspace_id = $3 AND id = $4 AND publishable_key_count < $6 \
       RETURNING id \
     ), inserted AS ( \
       INSERT INTO oauth_publishable_keys (id, hash, workspace_id, app_id, created_at) \
       SELECT $1, $2, $3, claimed.id, $5 FROM claimed \
       RETURNING id \
     ) \
     SELECT EXISTS (SELECT 1 FROM oauth_apps WHERE workspace_id = $3 AND id = $4) AS found, \
            EXISTS (SELECT 1 FROM inserted) AS inserted";

const LIST: &str = concat!(
    "SELECT ",
    key_columns!(),
    " FROM oauth_publishable_keys WHERE workspace_id = $1 AND app_id = $2 \
     ORDER BY created_at, id"
);

/// Deletes the key and gives its slot back to the app in one statement.
const REVOKE: &str = "WITH gone AS ( \
       DELETE FROM oauth_publishable_keys \
       WHERE workspace_id = $1 AND app_id = $2 AND id = $3 \
       RETURNING app_id \
     ), released AS ( \
       UPDATE oauth_apps SET publishable_key_count = publishable_key_count - 1 \
       WHERE id IN (SELECT app_id FROM gone) \
       RETURNING id \
     ) \
     SELECT count(*) AS revoked FROM gone";

const FIND: &str = concat!(
    "SELECT ",
    key_columns!(),
    " FROM oauth_publishable_keys WHERE hash = $1"
);

fn decode_key(row: &PgRow) -> Result<PublishableKeyRecord, StorageError> {
    Ok(PublishableKeyRecord {
        id: parsed(row, "id", PublishableKeyId::parse)?,
        hash: hash(row, "hash")?.ok_or_else(|| error::corrupt("hash", "NULL"))?,
        workspace_id: parsed(row, "workspace_id", WorkspaceId::parse)?,
        app_id: parsed(row, "app_id", AppId::parse)?,
        created_at: get(row, "created_at")?,
    })
}

#[async_trait]
impl PublishableKeyStore for PostgresStore {
    async fn insert_publishable_key(
        &self,
        key: &PublishableKeyRecord,
        max_active: u32,
    ) -> Result<PublishableKeyInsert, StorageError> {
        let row = sqlx::query(INSERT)
            .bind(key.id.as_str())
            .bind(hash_param(&key.hash))
            .bind(key.workspace_id.as_str())
            .bind(key.app_id.as_str())
            .bind(key.created_at)
            .bind(i32::try_from(max_active).unwrap_or(i32::MAX))
            .fetch_one(&self.pool)
            .within(self.timeout)
            .await?;
        Ok(
            match (get::<bool>(&row, "found")?, get::<bool>(&row, "inserted")?) {
                (_, true) => PublishableKeyInsert::Inserted,
                (true, false) => PublishableKeyInsert::LimitReached,
                (false, false) => PublishableKeyInsert::AppNotFound,
            },
        )
    }

    async fn list_publishable_keys(
        &self,
        workspace: &WorkspaceId,
        app_id: &AppId,
    ) -> Result<Vec<PublishableKeyRecord>, StorageError> {
        sqlx::query(LIST)
            .bind(workspace.as_str())
            .bind(app_id.as_str())
            .fetch_all(&self.pool)
            .within(self.timeout)
            .await?
            .iter()
            .map(decode_key)
            .collect()
    }

    async fn revoke_publishable_key(
        &self,
        workspace: &WorkspaceId,
        app_id: &AppId,
        id: &PublishableKeyId,
    ) -> Result<bool, StorageError> {
        let row = sqlx::query(REVOKE)
            .bind(workspace.as_str())
            .bind(app_id.as_str())
            .bind(id.as_str())
            .fetch_one(&self.pool)
            .within(self.timeout)
            .await?;
        Ok(get::<i64>(&row, "revoked")? > 0)
    }

    async fn find_publishable_key(
        &self,
        hash: &CredentialHash,
    ) -> Result<Option<PublishableKeyRecord>, StorageError> {
        sqlx::query(FIND)
            .bind(hash_param(hash))
            .fetch_optional(&self.pool)
            .within(self.timeout)
            .await?
            .as_ref()
            .map(decode_key)
            .transpose()
    }
}
