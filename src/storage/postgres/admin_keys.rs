//! [`AdminKeyStore`] on PostgreSQL: table `oauth_admin_keys`
//! (`migrations/0003_admin_keys.sql`).
//!
//! Every method is one statement and one round trip.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::PostgresStore;
use super::error::Within as _;
use super::rows::{hash_param, parsed};
use crate::credentials::keyring::CredentialHash;
use crate::model::ids::WorkspaceId;
use crate::storage::{AdminKeyStore, StorageError, StorageErrorKind};

const INSERT: &str = "INSERT INTO oauth_admin_keys (hash, workspace_id, created_at) \
                      VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";

const FIND: &str = "SELECT workspace_id FROM oauth_admin_keys WHERE hash = $1";

const DELETE: &str = "DELETE FROM oauth_admin_keys WHERE hash = $1";

#[async_trait]
impl AdminKeyStore for PostgresStore {
    async fn insert_admin_key(
        &self,
        workspace: &WorkspaceId,
        hash: &CredentialHash,
        created_at: OffsetDateTime,
    ) -> Result<(), StorageError> {
        let done = sqlx::query(INSERT)
            .bind(hash_param(hash))
            .bind(workspace.as_str())
            .bind(created_at)
            .execute(&self.pool)
            .within(self.timeout)
            .await?;
        // A known hash inserts no row (for whichever workspace).
        if done.rows_affected() == 0 {
            return Err(StorageError::new(StorageErrorKind::Conflict));
        }
        Ok(())
    }

    async fn find_admin_key(
        &self,
        hash: &CredentialHash,
    ) -> Result<Option<WorkspaceId>, StorageError> {
        sqlx::query(FIND)
            .bind(hash_param(hash))
            .fetch_optional(&self.pool)
            .within(self.timeout)
            .await?
            .map(|row| parsed(&row, "workspace_id", WorkspaceId::parse))
            .transpose()
    }

    async fn delete_admin_key(&self, hash: &CredentialHash) -> Result<bool, StorageError> {
        let done = sqlx::query(DELETE)
            .bind(hash_param(hash))
            .execute(&self.pool)
            .within(self.timeout)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
