//! [`ConnectStore`] in memory: customers, connections and scoped keys.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::connect_tables::{ScopedKeyTable, revoke_one_connection, with_grant_revocation};
use super::grants::grant_is_live;
use super::{MemoryStore, page, read, write};
use crate::credentials::keyring::CredentialHash;
use crate::model::ids::{AppId, ConnectionId, CustomerId, ScopedKeyId, WorkspaceId};
use crate::storage::webhook_events::{WebhookEventType as Hook, data as hook};
use crate::storage::{
    AttachTarget, ConnectContext, ConnectStore, ConnectionAttach, ConnectionFilter,
    ConnectionRecord, ConnectionStatus, CustomerRecord, Listing, ScopedKeyInsert, ScopedKeyRecord,
    SessionStatus, StepAdvance, StorageError, StorageErrorKind, TagEdit, TagUpdate,
};

#[async_trait]
impl ConnectStore for MemoryStore {
    async fn get_customer(
        &self,
        workspace: &WorkspaceId,
        app_id: Option<&AppId>,
        id: &CustomerId,
    ) -> Result<Option<CustomerRecord>, StorageError> {
        Ok(read(&self.customers).get(workspace, app_id, id).cloned())
    }

    async fn find_customer(
        &self,
        workspace: &WorkspaceId,
        app_id: &AppId,
        reference_id: &str,
    ) -> Result<Option<CustomerRecord>, StorageError> {
        let customers = read(&self.customers);
        let key = (app_id.clone(), reference_id.to_owned());
        Ok(customers
            .by_reference
            .get(&key)
            .and_then(|id| customers.get(workspace, Some(app_id), id))
            .cloned())
    }

    async fn list_customers(
        &self,
        workspace: &WorkspaceId,
        reference_id: Option<&str>,
        app_id: Option<&AppId>,
        offset: u64,
        limit: u32,
    ) -> Result<Listing<CustomerRecord>, StorageError> {
        let customers = read(&self.customers);
        let in_workspace = |id: &CustomerId| {
            customers
                .by_id
                .get(id)
                .is_some_and(|c| &c.workspace_id == workspace)
        };
        let order = match app_id {
            // An app's customers are all of the app's workspace: one look
            // tells whether the app is of this one.
            Some(app_id) => customers
                .by_app
                .get(app_id)
                .filter(|order| order.first().is_some_and(|(_, id)| in_workspace(id))),
            None => customers.order.get(workspace),
        };
        let order = order.map_or(&[][..], Vec::as_slice);
        if let Some(reference_id) = reference_id {
            // At most one per app: by the (app, reference id) index when
            // the app is given, else by the (workspace, reference id) one,
            // oldest first.
            let found: Vec<CustomerRecord> = match app_id {
                Some(app_id) => customers
                    .by_reference
                    .get(&(app_id.clone(), reference_id.to_owned()))
                    .filter(|id| in_workspace(id))
                    .and_then(|id| customers.by_id.get(id))
                    .cloned()
                    .into_iter()
                    .collect(),
                None => {
                    let key = (workspace.clone(), reference_id.to_owned());
                    let mut found: Vec<CustomerRecord> = customers
                        .by_workspace_reference
                        .get(&key)
                        .into_iter()
                        .flatten()
                        .filter_map(|id| customers.by_id.get(id))
                        .cloned()
                        .collect();
                    found.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
                    found
                }
            };
            return Ok(page(found, offset, limit));
        }
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(order.len());
        let end = start.saturating_add(limit as usize).min(order.len());
        Ok(Listing {
            items: order[start..end]
                .iter()
                .filter_map(|(_, id)| customers.by_id.get(id).cloned())
                .collect(),
            total: order.len() as u64,
        })
    }

    async fn delete_customer(
        &self,
        workspace: &WorkspaceId,
        app_id: Option<&AppId>,
        id: &CustomerId,
        now: OffsetDateTime,
    ) -> Result<Option<Vec<ConnectionRecord>>, StorageError> {
        let mut grants = self.grants.lock_all();
        let mut customers = write(&self.customers);
        let mut connections = write(&self.connections);
        let mut keys = write(&self.scoped_keys);
        if customers.get(workspace, app_id, id).is_none() {
            return Ok(None);
        }
        let theirs: Vec<ConnectionId> = connections
            .by_id
            .values()
            .filter(|c| &c.customer_id == id && c.status == ConnectionStatus::Active)
            .map(|c| c.id.clone())
            .collect();
        let mut revoked = Vec::with_capacity(theirs.len());
        for connection in &theirs {
            revoked.extend(revoke_one_connection(
                &mut grants,
                &mut connections,
                &mut keys,
                connection,
                now,
            ));
        }
        let ScopedKeyTable { by_id, outbox, .. } = &mut *keys;
        for key in by_id
            .values_mut()
            .filter(|k| &k.customer_id == id && k.revoked_at.is_none())
        {
            key.revoked_at = Some(now);
            outbox.push(hook::scoped_key(key, now));
        }
        if let Some(customer) = customers.by_id.get(id) {
            let event = hook::customer(Hook::CustomerDeleted, customer, now);
            customers.outbox.push(event);
        }
        customers.remove(id);
        revoked.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
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
        // Lock order: customers, connections, scoped keys. Everything is
        // checked before anything changes.
        let mut customers = write(&self.customers);
        let mut connections = write(&self.connections);
        let mut keys = write(&self.scoped_keys);
        let Some(connection) = connections
            .by_id
            .get(id)
            .filter(|c| &c.workspace_id == workspace && app_id.is_none_or(|a| &c.app_id == a))
            .cloned()
        else {
            return Ok(ConnectionAttach::NotFound);
        };
        if connection.status != ConnectionStatus::Active
            || !connection.browser_created
            || connection.attached_at.is_some()
        {
            return Ok(ConnectionAttach::NotAttachable);
        }
        let app = &connection.app_id;
        // The target: a customer of the connection's app, or (a reference
        // id the app has no customer for) the connection's own, renamed.
        let (target, rename) = match to {
            AttachTarget::Customer(target) => match customers.get(workspace, Some(app), target) {
                Some(c) => (c.clone(), false),
                None => return Ok(ConnectionAttach::UnknownCustomer),
            },
            AttachTarget::Reference(reference) => {
                match customers
                    .by_reference
                    .get(&(app.clone(), reference.clone()))
                {
                    Some(target) => match customers.get(workspace, Some(app), target) {
                        Some(c) => (c.clone(), false),
                        None => return Ok(ConnectionAttach::UnknownCustomer),
                    },
                    None => match customers.get(workspace, Some(app), &connection.customer_id) {
                        Some(own) => {
                            let mut own = own.clone();
                            own.reference_id.clone_from(reference);
                            own.updated_at = now;
                            (own, true)
                        }
                        None => return Ok(ConnectionAttach::UnknownCustomer),
                    },
                }
            }
        };
        let old_slot = (app.clone(), connection.reference_id.clone());
        let new_slot = (app.clone(), target.reference_id.clone());
        let same_account = |c: &ConnectionRecord| {
            c.id != connection.id
                && c.linked
                    .as_ref()
                    .map(|l| (&l.provider, &l.account_reference))
                    == connection
                        .linked
                        .as_ref()
                        .map(|l| (&l.provider, &l.account_reference))
        };
        if new_slot != old_slot
            && connections
                .active
                .get(&new_slot)
                .into_iter()
                .flatten()
                .filter_map(|c| connections.by_id.get(c))
                .any(same_account)
        {
            return Ok(ConnectionAttach::AlreadyConnected);
        }
        // Renaming the connection's own customer moves every active
        // connection of theirs to the new reference id with it.
        let moving: Vec<ConnectionId> = if rename {
            connections.active.remove(&old_slot).unwrap_or_default()
        } else {
            let ids = connections.active.entry(old_slot.clone()).or_default();
            ids.retain(|c| c != id);
            if ids.is_empty() {
                connections.active.remove(&old_slot);
            }
            vec![id.clone()]
        };
        let former = connection.customer_id.clone();
        for moved in &moving {
            if let Some(c) = connections.by_id.get_mut(moved) {
                c.customer_id = target.id.clone();
                c.reference_id.clone_from(&target.reference_id);
                c.updated_at = now;
                if c.id == *id {
                    c.attached_at = Some(now);
                }
                let event = hook::connection(Hook::ConnectionUpdated, c, now);
                connections.outbox.push(event);
            }
        }
        connections
            .active
            .entry(new_slot)
            .or_default()
            .extend(moving);
        if rename {
            customers.remove(&former);
            customers.insert(&target);
        } else if former != target.id {
            // The former customer goes unless another active connection
            // still holds them.
            let held = connections
                .active
                .get(&old_slot)
                .into_iter()
                .flatten()
                .filter_map(|c| connections.by_id.get(c))
                .any(|c| c.customer_id == former);
            if !held {
                if let Some(gone) = customers.by_id.get(&former) {
                    let event = hook::customer(Hook::CustomerDeleted, gone, now);
                    customers.outbox.push(event);
                }
                customers.remove(&former);
            }
        }
        if let Some(minted) = keys.by_grant.get(&connection.grant_id).cloned() {
            for key in minted {
                if let Some(key) = keys.by_id.get_mut(&key) {
                    key.customer_id = target.id.clone();
                }
            }
        }
        Ok(connections
            .by_id
            .get(id)
            .cloned()
            .map_or(ConnectionAttach::NotFound, |c| {
                ConnectionAttach::Attached(Box::new(c))
            }))
    }

    async fn find_connection(
        &self,
        app_id: &AppId,
        reference_id: &str,
    ) -> Result<Option<ConnectionRecord>, StorageError> {
        let connections = read(&self.connections);
        let slot = (app_id.clone(), reference_id.to_owned());
        Ok(connections
            .active
            .get(&slot)
            .into_iter()
            .flatten()
            .filter_map(|id| connections.by_id.get(id))
            .max_by_key(|c| (c.updated_at, c.id.clone()))
            .cloned())
    }

    async fn advance_connect(
        &self,
        hash: &CredentialHash,
        expected_version: u32,
        context: &ConnectContext,
        now: OffsetDateTime,
    ) -> Result<StepAdvance, StorageError> {
        let mut sessions = write(self.sessions.shard(hash));
        let Some(session) = sessions.get_mut(hash) else {
            return Ok(StepAdvance::Closed);
        };
        let open = session.status == SessionStatus::Pending && now < session.expires_at;
        let Some(current) = session.connect.as_mut().filter(|_| open) else {
            return Ok(StepAdvance::Closed);
        };
        if current.step_version != expected_version {
            return Ok(StepAdvance::Stale(session.clone()));
        }
        **current = context.clone();
        Ok(StepAdvance::Advanced)
    }

    async fn list_connections(
        &self,
        workspace: &WorkspaceId,
        filter: &ConnectionFilter,
        offset: u64,
        limit: u32,
    ) -> Result<Listing<ConnectionRecord>, StorageError> {
        let connections = read(&self.connections);
        let mut matching: Vec<&ConnectionRecord> = connections
            .by_id
            .values()
            .filter(|c| &c.workspace_id == workspace)
            .filter(|c| filter.app_id.as_ref().is_none_or(|a| &c.app_id == a))
            .filter(|c| {
                filter
                    .customer_id
                    .as_ref()
                    .is_none_or(|x| &c.customer_id == x)
            })
            .filter(|c| {
                filter
                    .reference_id
                    .as_ref()
                    .is_none_or(|r| &c.reference_id == r)
            })
            .filter(|c| filter.tag.as_ref().is_none_or(|t| c.tags.contains(t)))
            .filter(|c| {
                filter
                    .provider
                    .as_ref()
                    .is_none_or(|p| c.linked.as_ref().is_some_and(|l| &l.provider == p))
            })
            .filter(|c| filter.status.is_none_or(|s| c.status == s))
            .filter(|c| filter.grant_id.as_ref().is_none_or(|g| &c.grant_id == g))
            .collect();
        matching.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(page(matching.into_iter().cloned().collect(), offset, limit))
    }

    async fn get_connection(
        &self,
        workspace: &WorkspaceId,
        app_id: Option<&AppId>,
        id: &ConnectionId,
    ) -> Result<Option<ConnectionRecord>, StorageError> {
        Ok(read(&self.connections)
            .by_id
            .get(id)
            .filter(|c| &c.workspace_id == workspace && app_id.is_none_or(|a| &c.app_id == a))
            .cloned())
    }

    async fn update_connection_tags(
        &self,
        workspace: &WorkspaceId,
        app_id: Option<&AppId>,
        id: &ConnectionId,
        edit: &TagEdit,
        now: OffsetDateTime,
    ) -> Result<TagUpdate, StorageError> {
        let mut connections = write(&self.connections);
        let Some(connection) = connections
            .by_id
            .get_mut(id)
            .filter(|c| &c.workspace_id == workspace && app_id.is_none_or(|a| &c.app_id == a))
        else {
            return Ok(TagUpdate::NotFound);
        };
        match edit.apply(&connection.tags) {
            Some(tags) => {
                connection.tags = tags;
                connection.updated_at = now;
                let updated = connection.clone();
                let event = hook::connection(Hook::ConnectionUpdated, &updated, now);
                connections.outbox.push(event);
                Ok(TagUpdate::Updated(Box::new(updated)))
            }
            None => Ok(TagUpdate::TooMany),
        }
    }

    async fn revoke_connection(
        &self,
        workspace: &WorkspaceId,
        app_id: Option<&AppId>,
        id: &ConnectionId,
        now: OffsetDateTime,
    ) -> Result<Option<ConnectionRecord>, StorageError> {
        let mut grants = self.grants.lock_all();
        let mut connections = write(&self.connections);
        let mut keys = write(&self.scoped_keys);
        let named = connections
            .by_id
            .get(id)
            .is_some_and(|c| &c.workspace_id == workspace && app_id.is_none_or(|a| &c.app_id == a));
        if !named {
            return Ok(None);
        }
        Ok(revoke_one_connection(
            &mut grants,
            &mut connections,
            &mut keys,
            id,
            now,
        ))
    }

    async fn insert_scoped_key(
        &self,
        key: &ScopedKeyRecord,
    ) -> Result<ScopedKeyInsert, StorageError> {
        // Lock order: apps, grants, connections, scoped keys; the checks
        // and the insert happen under all of them, so a concurrent
        // revocation or deletion comes wholly before or wholly after.
        let apps = read(&self.apps);
        let grants = self.grants.read([&key.grant_id]);
        let connections = read(&self.connections);
        let mut keys = write(&self.scoped_keys);
        if keys.by_id.contains_key(&key.id) {
            return Err(StorageError::new(StorageErrorKind::Conflict));
        }
        let app_ok = apps
            .get(&key.workspace_id, &key.app_id)
            .is_some_and(|a| a.app.client_id == key.client_id);
        let connection_ok = connections
            .active
            .get(&(key.app_id.clone(), key.reference_id.clone()))
            .into_iter()
            .flatten()
            .filter_map(|id| connections.by_id.get(id))
            .any(|c| {
                c.grant_id == key.grant_id
                    && c.customer_id == key.customer_id
                    && c.workspace_id == key.workspace_id
            });
        if !(app_ok && connection_ok && grant_is_live(&grants, &key.grant_id)) {
            return Ok(ScopedKeyInsert::NoLiveGrant);
        }
        keys.insert(key);
        Ok(ScopedKeyInsert::Inserted)
    }

    async fn get_scoped_key(
        &self,
        id: &ScopedKeyId,
    ) -> Result<Option<ScopedKeyRecord>, StorageError> {
        // The key first, then its grant: the lock order (grants before
        // scoped keys) forbids holding both this way round, and a grant only
        // ever goes from live to revoked (or gone), so the grant read after
        // the key is at least as revoked as at the key's reading.
        let Some(key) = read(&self.scoped_keys).by_id.get(id).cloned() else {
            return Ok(None);
        };
        Ok(Some(with_grant_revocation(
            &self.grants.read([&key.grant_id]),
            &key,
        )))
    }

    async fn list_scoped_keys(
        &self,
        workspace: &WorkspaceId,
        app_id: Option<&AppId>,
        customer_id: Option<&CustomerId>,
        offset: u64,
        limit: u32,
    ) -> Result<Listing<ScopedKeyRecord>, StorageError> {
        let grants = self.grants.read_all();
        let keys = read(&self.scoped_keys);
        let matching: Vec<&ScopedKeyRecord> = keys
            .order
            .get(workspace)
            .map(|order| {
                order
                    .iter()
                    .filter_map(|(_, id)| keys.by_id.get(id))
                    .filter(|k| app_id.is_none_or(|a| &k.app_id == a))
                    .filter(|k| customer_id.is_none_or(|c| &k.customer_id == c))
                    .collect()
            })
            .unwrap_or_default();
        let listing = page(matching, offset, limit);
        Ok(Listing {
            items: listing
                .items
                .into_iter()
                .map(|k| with_grant_revocation(&grants, k))
                .collect(),
            total: listing.total,
        })
    }

    async fn revoke_scoped_key(
        &self,
        workspace: &WorkspaceId,
        app_id: &AppId,
        id: &ScopedKeyId,
        now: OffsetDateTime,
    ) -> Result<bool, StorageError> {
        let mut keys = write(&self.scoped_keys);
        match keys.by_id.get_mut(id) {
            Some(key)
                if &key.workspace_id == workspace
                    && &key.app_id == app_id
                    && key.revoked_at.is_none() =>
            {
                key.revoked_at = Some(now);
                let event = hook::scoped_key(key, now);
                keys.outbox.push(event);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn revoke_customer_scoped_keys(
        &self,
        workspace: &WorkspaceId,
        customer_id: &CustomerId,
        now: OffsetDateTime,
    ) -> Result<u64, StorageError> {
        let mut keys = write(&self.scoped_keys);
        let mut revoked = 0;
        let ScopedKeyTable { by_id, outbox, .. } = &mut *keys;
        for key in by_id.values_mut().filter(|k| {
            &k.workspace_id == workspace && &k.customer_id == customer_id && k.revoked_at.is_none()
        }) {
            key.revoked_at = Some(now);
            outbox.push(hook::scoped_key(key, now));
            revoked += 1;
        }
        Ok(revoked)
    }
}
