//! [`AdminKeyStore`] in memory.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{MemoryStore, read, write};
use crate::credentials::keyring::CredentialHash;
use crate::model::ids::WorkspaceId;
use crate::storage::{AdminKeyStore, StorageError, StorageErrorKind};

#[derive(Debug)]
pub(super) struct AdminKeyRow {
    pub(super) workspace: WorkspaceId,
    #[allow(dead_code)] // kept as a database row would keep it
    pub(super) created_at: OffsetDateTime,
}

#[async_trait]
impl AdminKeyStore for MemoryStore {
    async fn insert_admin_key(
        &self,
        workspace: &WorkspaceId,
        hash: &CredentialHash,
        created_at: OffsetDateTime,
    ) -> Result<(), StorageError> {
        let mut keys = write(&self.admin_keys);
        if keys.contains_key(hash) {
            return Err(StorageError::new(StorageErrorKind::Conflict));
        }
        keys.insert(
            *hash,
            AdminKeyRow {
                workspace: workspace.clone(),
                created_at,
            },
        );
        Ok(())
    }

    async fn find_admin_key(
        &self,
        hash: &CredentialHash,
    ) -> Result<Option<WorkspaceId>, StorageError> {
        Ok(read(&self.admin_keys)
            .get(hash)
            .map(|row| row.workspace.clone()))
    }

    async fn delete_admin_key(&self, hash: &CredentialHash) -> Result<bool, StorageError> {
        Ok(write(&self.admin_keys).remove(hash).is_some())
    }
}
