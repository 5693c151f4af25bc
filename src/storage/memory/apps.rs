//! [`AppStore`] in memory.

use std::collections::HashMap;

use async_trait::async_trait;
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;

use super::connect_tables::{ConnectionTable, ScopedKeyTable};
use super::{MemoryStore, read, write};
use crate::model::app::OAuthApp;
use crate::model::ids::{AppId, ClientId, WorkspaceId};
use crate::model::origin::Origin;
use crate::storage::webhook_events::data as hook;
use crate::storage::{
    AppChanges, AppRecord, AppStore, GraceSecret, Listing, SecretRotation, StorageError,
    StorageErrorKind,
};

impl MemoryStore {
    /// [`AppStore::get_app_by_client_id`]'s answer, for the combined reads
    /// too.
    pub(super) fn app_by_client_id(&self, client_id: &ClientId) -> Option<AppRecord> {
        let apps = read(&self.apps);
        apps.by_client_id
            .get(client_id)
            .and_then(|id| apps.by_id.get(id))
            .cloned()
    }
}

#[derive(Debug, Default)]
pub(super) struct AppTable {
    pub(super) by_id: HashMap<AppId, AppRecord>,
    pub(super) by_client_id: HashMap<ClientId, AppId>,
    /// Per workspace, the apps sorted by (creation time, id): a page is a
    /// slice of this vector, so its cost is its length.
    pub(super) order: HashMap<WorkspaceId, Vec<(OffsetDateTime, AppId)>>,
    /// How many apps list each allowed origin.
    pub(super) by_origin: HashMap<Origin, usize>,
}

impl AppTable {
    pub(super) fn get(&self, workspace: &WorkspaceId, id: &AppId) -> Option<&AppRecord> {
        self.by_id
            .get(id)
            .filter(|r| &r.app.workspace_id == workspace)
    }

    pub(super) fn get_mut(
        &mut self,
        workspace: &WorkspaceId,
        id: &AppId,
    ) -> Option<&mut AppRecord> {
        self.by_id
            .get_mut(id)
            .filter(|r| &r.app.workspace_id == workspace)
    }

    pub(super) fn count_origins(&mut self, origins: &[Origin]) {
        for origin in origins {
            *self.by_origin.entry(origin.clone()).or_default() += 1;
        }
    }

    pub(super) fn uncount_origins(&mut self, origins: &[Origin]) {
        for origin in origins {
            if let Some(n) = self.by_origin.get_mut(origin) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.by_origin.remove(origin);
                }
            }
        }
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
        apps.count_origins(&app.allowed_origins);
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
        Ok(self.app_by_client_id(client_id))
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
        if let Some(origins) = &changes.allowed_origins {
            let Some(old) = apps
                .get(workspace, id)
                .map(|r| r.app.allowed_origins.clone())
            else {
                return Ok(None);
            };
            apps.uncount_origins(&old);
            apps.count_origins(origins);
        }
        let Some(record) = apps.get_mut(workspace, id) else {
            return Ok(None);
        };
        let app = &mut record.app;
        if let Some(origins) = &changes.allowed_origins {
            app.allowed_origins.clone_from(origins);
        }
        if let Some(name) = &changes.name {
            app.name.clone_from(name);
        }
        if let Some(description) = &changes.description {
            app.description.clone_from(description);
        }
        if let Some(logo) = &changes.logo_uri {
            app.logo_uri.clone_from(logo);
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
        // Everything issued to the app goes in the same critical section.
        let mut sessions = self.sessions.lock_all();
        let mut codes = self.codes.lock_all();
        let mut grants = self.grants.lock_all();
        let mut tokens = self.tokens.lock_all();
        let mut customers = write(&self.customers);
        let mut connections = write(&self.connections);
        let mut keys = write(&self.scoped_keys);
        let mut publishable = write(&self.publishable_keys);
        sessions.retain(|_, s| &s.app_id != id);
        // The app's customers are its own: they go with it.
        let theirs = customers.by_app.remove(id).unwrap_or_default();
        for (_, customer) in &theirs {
            customers.remove(customer);
        }
        codes.retain(|_, c| &c.app_id != id);
        grants.retain(|_, g| &g.app_id != id);
        tokens.retain(|_, t| &t.grant.app_id != id);
        connections.by_id.retain(|_, c| &c.app_id != id);
        connections.active.retain(|(app, _), _| app != id);
        let ConnectionTable {
            by_id, by_grant, ..
        } = &mut *connections;
        by_grant.retain(|_, connection| by_id.contains_key(connection));
        keys.by_id.retain(|_, k| &k.app_id != id);
        let ScopedKeyTable {
            by_id,
            order,
            by_grant,
            ..
        } = &mut *keys;
        for entries in order.values_mut() {
            entries.retain(|(_, key)| by_id.contains_key(key));
        }
        by_grant.retain(|_, ids| {
            ids.retain(|key| by_id.contains_key(key));
            !ids.is_empty()
        });
        for key in publishable.by_app.get(id).cloned().unwrap_or_default() {
            publishable.remove(&key);
        }
        apps.uncount_origins(&record.app.allowed_origins);
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
        let app = &record.app;
        self.webhooks.record(hook::secret_rotated(
            &app.workspace_id,
            &app.id,
            app.client_id.as_str(),
            rotation.updated_at,
        ));
        Ok(Some(record.clone()))
    }

    async fn origin_is_allowed(&self, origin: &Origin) -> Result<bool, StorageError> {
        Ok(read(&self.apps).by_origin.contains_key(origin))
    }
}
