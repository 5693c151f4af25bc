//! [`PublishableKeyStore`] in memory.

use std::collections::HashMap;

use async_trait::async_trait;

use super::{MemoryStore, read, write};
use crate::credentials::keyring::CredentialHash;
use crate::model::ids::{AppId, PublishableKeyId, WorkspaceId};
use crate::storage::{
    PublishableKeyInsert, PublishableKeyRecord, PublishableKeyStore, StorageError, StorageErrorKind,
};

#[derive(Debug, Default)]
pub(super) struct PublishableKeyTable {
    pub(super) by_id: HashMap<PublishableKeyId, PublishableKeyRow>,
    pub(super) by_hash: HashMap<CredentialHash, PublishableKeyId>,
    /// Each app's keys, for the per-app bound and the listing.
    pub(super) by_app: HashMap<AppId, Vec<PublishableKeyId>>,
}

#[derive(Debug)]
pub(super) struct PublishableKeyRow {
    pub(super) record: PublishableKeyRecord,
}

impl PublishableKeyTable {
    pub(super) fn remove(&mut self, id: &PublishableKeyId) -> Option<PublishableKeyRow> {
        let row = self.by_id.remove(id)?;
        self.by_hash.remove(&row.record.hash);
        if let Some(ids) = self.by_app.get_mut(&row.record.app_id) {
            ids.retain(|k| k != id);
            if ids.is_empty() {
                self.by_app.remove(&row.record.app_id);
            }
        }
        Some(row)
    }
}

#[async_trait]
impl PublishableKeyStore for MemoryStore {
    async fn insert_publishable_key(
        &self,
        key: &PublishableKeyRecord,
        max_active: u32,
    ) -> Result<PublishableKeyInsert, StorageError> {
        // The apps lock first: a concurrent delete_app cannot slip between
        // the check that the app exists and the insert.
        let apps = read(&self.apps);
        let mut table = write(&self.publishable_keys);
        if apps.get(&key.workspace_id, &key.app_id).is_none() {
            return Ok(PublishableKeyInsert::AppNotFound);
        }
        if table.by_id.contains_key(&key.id) || table.by_hash.contains_key(&key.hash) {
            return Err(StorageError::new(StorageErrorKind::Conflict));
        }
        let active = table.by_app.get(&key.app_id).map_or(0, Vec::len);
        if active >= max_active as usize {
            return Ok(PublishableKeyInsert::LimitReached);
        }
        table.by_hash.insert(key.hash, key.id.clone());
        table
            .by_app
            .entry(key.app_id.clone())
            .or_default()
            .push(key.id.clone());
        table.by_id.insert(
            key.id.clone(),
            PublishableKeyRow {
                record: key.clone(),
            },
        );
        Ok(PublishableKeyInsert::Inserted)
    }

    async fn list_publishable_keys(
        &self,
        workspace: &WorkspaceId,
        app_id: &AppId,
    ) -> Result<Vec<PublishableKeyRecord>, StorageError> {
        let table = read(&self.publishable_keys);
        let mut keys: Vec<PublishableKeyRecord> = table
            .by_app
            .get(app_id)
            .into_iter()
            .flatten()
            .filter_map(|id| table.by_id.get(id))
            .filter(|row| &row.record.workspace_id == workspace)
            .map(|row| row.record.clone())
            .collect();
        keys.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(keys)
    }

    async fn revoke_publishable_key(
        &self,
        workspace: &WorkspaceId,
        app_id: &AppId,
        id: &PublishableKeyId,
    ) -> Result<bool, StorageError> {
        let mut table = write(&self.publishable_keys);
        let owned = table.by_id.get(id).is_some_and(|row| {
            &row.record.workspace_id == workspace && &row.record.app_id == app_id
        });
        Ok(owned && table.remove(id).is_some())
    }

    async fn find_publishable_key(
        &self,
        hash: &CredentialHash,
    ) -> Result<Option<PublishableKeyRecord>, StorageError> {
        let table = read(&self.publishable_keys);
        Ok(table
            .by_hash
            .get(hash)
            .and_then(|id| table.by_id.get(id))
            .map(|row| row.record.clone()))
    }
}
