//! The in-memory backend: the default and the reference implementation of
//! the storage contract.
//!
//! Each table sits behind its own lock, so readers of one never wait for
//! writers of another; a method that must change several tables atomically
//! takes their locks in one fixed order (apps first). Locks are never held
//! across an `.await`.

use std::collections::HashMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;

use super::{
    AdminKeyStore, AppChanges, AppRecord, AppStore, GraceSecret, Listing, SecretRotation,
    StorageError, StorageErrorKind,
};
use crate::ids::{AppId, ClientId, WorkspaceId};
use crate::keyring::CredentialHash;
use crate::registration::OAuthApp;

/// Everything in process memory. Safe to share between tasks and threads;
/// lost when the process exits.
#[derive(Debug, Default)]
pub struct MemoryStore {
    apps: RwLock<AppTable>,
    admin_keys: RwLock<HashMap<CredentialHash, AdminKeyRow>>,
}

#[derive(Debug)]
struct AdminKeyRow {
    workspace: WorkspaceId,
    #[allow(dead_code)] // kept as a database row would keep it
    created_at: OffsetDateTime,
}

#[derive(Debug, Default)]
struct AppTable {
    by_id: HashMap<AppId, AppRecord>,
    by_client_id: HashMap<ClientId, AppId>,
    /// Per workspace, the apps sorted by (creation time, id): a page is a
    /// slice of this vector, so its cost is its length.
    order: HashMap<WorkspaceId, Vec<(OffsetDateTime, AppId)>>,
}

impl AppTable {
    fn get(&self, workspace: &WorkspaceId, id: &AppId) -> Option<&AppRecord> {
        self.by_id
            .get(id)
            .filter(|r| &r.app.workspace_id == workspace)
    }

    fn get_mut(&mut self, workspace: &WorkspaceId, id: &AppId) -> Option<&mut AppRecord> {
        self.by_id
            .get_mut(id)
            .filter(|r| &r.app.workspace_id == workspace)
    }
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // A poisoned lock means a panic elsewhere while writing; the tables are
    // only changed by code that cannot panic mid-update, so the data is
    // consistent and serving on is safe.
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl AppStore for MemoryStore {
    async fn insert_app(&self, record: &AppRecord) -> Result<(), StorageError> {
        let mut apps = write(&self.apps);
        let app = &record.app;
        if apps.by_id.contains_key(&app.id) || apps.by_client_id.contains_key(&app.client_id) {
            return Err(StorageError::new(StorageErrorKind::Conflict));
        }
        let key = (app.created_at, app.id.clone());
        let order = apps.order.entry(app.workspace_id.clone()).or_default();
        let at = order.partition_point(|existing| existing < &key);
        order.insert(at, key);
        apps.by_client_id
            .insert(app.client_id.clone(), app.id.clone());
        apps.by_id.insert(app.id.clone(), record.clone());
        Ok(())
    }

    async fn get_app(
        &self,
        workspace: &WorkspaceId,
        id: &AppId,
    ) -> Result<Option<AppRecord>, StorageError> {
        Ok(read(&self.apps).get(workspace, id).cloned())
    }

    async fn get_app_by_client_id(
        &self,
        client_id: &ClientId,
    ) -> Result<Option<AppRecord>, StorageError> {
        let apps = read(&self.apps);
        Ok(apps
            .by_client_id
            .get(client_id)
            .and_then(|id| apps.by_id.get(id))
            .cloned())
    }

    async fn list_apps(
        &self,
        workspace: &WorkspaceId,
        offset: u64,
        limit: u32,
    ) -> Result<Listing<OAuthApp>, StorageError> {
        let apps = read(&self.apps);
        let Some(order) = apps.order.get(workspace) else {
            return Ok(Listing {
                items: Vec::new(),
                total: 0,
            });
        };
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(order.len());
        let end = start.saturating_add(limit as usize).min(order.len());
        let items = order[start..end]
            .iter()
            .filter_map(|(_, id)| apps.by_id.get(id).map(|r| r.app.clone()))
            .collect();
        Ok(Listing {
            items,
            total: order.len() as u64,
        })
    }

    async fn update_app(
        &self,
        workspace: &WorkspaceId,
        id: &AppId,
        changes: &AppChanges,
    ) -> Result<Option<AppRecord>, StorageError> {
        let mut apps = write(&self.apps);
        let Some(record) = apps.get_mut(workspace, id) else {
            return Ok(None);
        };
        let app = &mut record.app;
        if let Some(name) = &changes.name {
            app.name.clone_from(name);
        }
        if let Some(description) = &changes.description {
            app.description.clone_from(description);
        }
        if let Some(uris) = &changes.redirect_uris {
            app.redirect_uris.clone_from(uris);
        }
        if let Some(scopes) = &changes.allowed_scopes {
            app.allowed_scopes.clone_from(scopes);
        }
        app.updated_at = changes.updated_at;
        Ok(Some(record.clone()))
    }

    async fn delete_app(&self, workspace: &WorkspaceId, id: &AppId) -> Result<bool, StorageError> {
        let mut apps = write(&self.apps);
        let Some(record) = apps.get(workspace, id).cloned() else {
            return Ok(false);
        };
        apps.by_id.remove(id);
        apps.by_client_id.remove(&record.app.client_id);
        if let Some(order) = apps.order.get_mut(workspace) {
            order.retain(|(_, app_id)| app_id != id);
        }
        Ok(true)
    }

    async fn rotate_client_secret(
        &self,
        workspace: &WorkspaceId,
        id: &AppId,
        rotation: &SecretRotation,
    ) -> Result<Option<AppRecord>, StorageError> {
        let mut apps = write(&self.apps);
        let Some(record) = apps.get_mut(workspace, id) else {
            return Ok(None);
        };
        let Some(secret) = record.secret.as_mut() else {
            return Ok(None);
        };
        if !bool::from(secret.current.ct_eq(&rotation.expected_current)) {
            return Err(StorageError::new(StorageErrorKind::Conflict));
        }
        secret.previous = rotation
            .previous_valid_until
            .map(|valid_until| GraceSecret {
                hash: secret.current,
                valid_until,
            });
        secret.current = rotation.new_current;
        record.app.updated_at = rotation.updated_at;
        Ok(Some(record.clone()))
    }
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
