//! The Connect tables (customers, connections, scoped keys) and the changes
//! that span them and the grants: an approval's Connect part and the
//! revocation cascade (grant, connection, scoped keys).

use std::collections::HashMap;

use time::OffsetDateTime;

use super::shards::Locked;
use super::{GrantsLocked, IdMap, MemoryStore, insert_ordered, webhooks, write};
use crate::model::ids::{AppId, ConnectionId, CustomerId, GrantId, ScopedKeyId, WorkspaceId};
use crate::storage::webhook_events::{WebhookEventType as Hook, data as hook};
use crate::storage::{
    ConnectApproval, ConnectionRecord, ConnectionStatus, CustomerRecord, GrantRecord,
    GrantRevocation, ScopedKeyRecord, StorageError, StorageErrorKind,
};

#[derive(Debug, Default)]
pub(super) struct CustomerTable {
    pub(super) by_id: HashMap<CustomerId, CustomerRecord>,
    /// Reference ids are unique per app.
    pub(super) by_reference: HashMap<(AppId, String), CustomerId>,
    /// A workspace's customers with a reference id (one per app), for the
    /// workspace's listing by reference id.
    pub(super) by_workspace_reference: HashMap<(WorkspaceId, String), Vec<CustomerId>>,
    /// Per workspace, the customers by (creation time, id).
    pub(super) order: HashMap<WorkspaceId, Vec<(OffsetDateTime, CustomerId)>>,
    /// Per app, the same: an app's own listing is a slice of it.
    pub(super) by_app: HashMap<AppId, Vec<(OffsetDateTime, CustomerId)>>,
    /// Webhook events of changes made under this table's lock.
    pub(super) outbox: webhooks::Outbox,
}

impl CustomerTable {
    pub(super) fn insert(&mut self, customer: &CustomerRecord) {
        let order = self.order.entry(customer.workspace_id.clone()).or_default();
        insert_ordered(order, customer.created_at, customer.id.clone());
        let by_app = self.by_app.entry(customer.app_id.clone()).or_default();
        insert_ordered(by_app, customer.created_at, customer.id.clone());
        self.by_reference.insert(
            (customer.app_id.clone(), customer.reference_id.clone()),
            customer.id.clone(),
        );
        self.by_workspace_reference
            .entry((customer.workspace_id.clone(), customer.reference_id.clone()))
            .or_default()
            .push(customer.id.clone());
        self.by_id.insert(customer.id.clone(), customer.clone());
    }

    pub(super) fn remove(&mut self, id: &CustomerId) -> Option<CustomerRecord> {
        let customer = self.by_id.remove(id)?;
        self.by_reference
            .remove(&(customer.app_id.clone(), customer.reference_id.clone()));
        let key = (customer.workspace_id.clone(), customer.reference_id.clone());
        if let Some(ids) = self.by_workspace_reference.get_mut(&key) {
            ids.retain(|c| c != id);
            if ids.is_empty() {
                self.by_workspace_reference.remove(&key);
            }
        }
        let entry = (customer.created_at, customer.id.clone());
        for order in [
            self.order.get_mut(&customer.workspace_id),
            self.by_app.get_mut(&customer.app_id),
        ]
        .into_iter()
        .flatten()
        {
            if let Ok(position) = order.binary_search(&entry) {
                order.remove(position);
            }
        }
        Some(customer)
    }

    /// The customer `id`, if it is of `workspace` (and of `app`, when
    /// given).
    pub(super) fn get(
        &self,
        workspace: &WorkspaceId,
        app: Option<&AppId>,
        id: &CustomerId,
    ) -> Option<&CustomerRecord> {
        self.by_id
            .get(id)
            .filter(|c| &c.workspace_id == workspace && app.is_none_or(|a| &c.app_id == a))
    }
}

#[derive(Debug, Default)]
pub(super) struct ConnectionTable {
    pub(super) by_id: HashMap<ConnectionId, ConnectionRecord>,
    /// The active connections of an app for a reference id (one per linked
    /// provider account).
    pub(super) active: HashMap<(AppId, String), Vec<ConnectionId>>,
    /// The connection holding each grant (a connection's current grant
    /// only: an update-mode approval moves it to the new one).
    pub(super) by_grant: IdMap<GrantId, ConnectionId>,
    /// Webhook events of changes made under this table's lock.
    pub(super) outbox: webhooks::Outbox,
}

#[derive(Debug, Default)]
pub(super) struct ScopedKeyTable {
    pub(super) by_id: IdMap<ScopedKeyId, ScopedKeyRecord>,
    pub(super) order: HashMap<WorkspaceId, Vec<(OffsetDateTime, ScopedKeyId)>>,
    /// The keys minted under each grant, to revoke them with it.
    pub(super) by_grant: IdMap<GrantId, Vec<ScopedKeyId>>,
    /// Webhook events of changes made under this table's lock.
    pub(super) outbox: webhooks::Outbox,
}

impl ScopedKeyTable {
    pub(super) fn insert(&mut self, key: &ScopedKeyRecord) {
        let order = self.order.entry(key.workspace_id.clone()).or_default();
        insert_ordered(order, key.created_at, key.id.clone());
        self.by_grant
            .entry(key.grant_id.clone())
            .or_default()
            .push(key.id.clone());
        self.by_id.insert(key.id.clone(), key.clone());
    }
}

impl MemoryStore {
    /// The Connect part of an approval; the caller holds the grants lock
    /// (and, before it, the sessions and codes locks). Checks everything
    /// before changing anything, so a `Conflict` writes nothing.
    pub(super) fn write_connect_approval(
        &self,
        approval: &ConnectApproval,
        grants: &mut GrantsLocked<'_>,
        now: OffsetDateTime,
    ) -> Result<(), StorageError> {
        let mut customers = write(&self.customers);
        let mut connections = write(&self.connections);
        let mut keys = write(&self.scoped_keys);
        let customer = &approval.customer;
        let connection = &approval.connection;
        let reference = (customer.app_id.clone(), customer.reference_id.clone());
        let existing = customers.by_id.get(&customer.id);
        // A browser-created approval only ever creates; any other updates
        // only its own app's customer, the one with its reference id.
        let conflict = match existing {
            Some(_) if connection.browser_created => true,
            Some(found) => {
                found.workspace_id != customer.workspace_id
                    || found.app_id != customer.app_id
                    || found.reference_id != customer.reference_id
            }
            None => customers.by_reference.contains_key(&reference),
        };
        let slot = (connection.app_id.clone(), connection.reference_id.clone());
        let same_account = |c: &ConnectionRecord| {
            c.linked
                .as_ref()
                .map(|l| (&l.provider, &l.account_reference))
                == connection
                    .linked
                    .as_ref()
                    .map(|l| (&l.provider, &l.account_reference))
        };
        let existing = connections.active.get(&slot).and_then(|ids| {
            ids.iter()
                .find(|id| connections.by_id.get(*id).is_some_and(same_account))
                .cloned()
        });
        let conflict = conflict
            || customer.app_id != connection.app_id
            || customer.id != connection.customer_id
            || (connection.browser_created && existing.is_some());
        let key_taken = approval
            .scoped_key
            .as_ref()
            .is_some_and(|k| keys.by_id.contains_key(&k.id));
        if conflict || key_taken {
            return Err(StorageError::new(StorageErrorKind::Conflict));
        }
        match customers.by_id.get_mut(&customer.id) {
            Some(found) => {
                found.info = customer.info.clone();
                found.updated_at = customer.updated_at;
                let event = hook::customer(Hook::CustomerUpdated, found, now);
                customers.outbox.push(event);
            }
            None => customers.insert(customer),
        }
        match existing {
            Some(id) => {
                let ConnectionTable {
                    by_id,
                    by_grant,
                    outbox,
                    ..
                } = &mut *connections;
                if let Some(found) = by_id.get_mut(&id) {
                    if let Some(old) = grants.get_mut(&found.grant_id) {
                        old.revoked_at.get_or_insert(now);
                    }
                    revoke_keys_of(&mut keys, std::slice::from_ref(&found.grant_id), now);
                    by_grant.remove(&found.grant_id);
                    by_grant.insert(connection.grant_id.clone(), id.clone());
                    found.grant_id = connection.grant_id.clone();
                    // The connection's own tags (edited with the API, perhaps)
                    // stay; the session's are added.
                    for tag in &connection.tags {
                        if found.tags.len() < approval.max_tags && !found.tags.contains(tag) {
                            found.tags.push(tag.clone());
                        }
                    }
                    found.linked.clone_from(&connection.linked);
                    found.customer_id = connection.customer_id.clone();
                    found.updated_at = connection.updated_at;
                    outbox.push(hook::connection(Hook::ConnectionUpdated, found, now));
                }
            }
            None => {
                connections
                    .active
                    .entry(slot)
                    .or_default()
                    .push(connection.id.clone());
                connections
                    .by_grant
                    .insert(connection.grant_id.clone(), connection.id.clone());
                connections
                    .by_id
                    .insert(connection.id.clone(), connection.clone());
                let event = hook::connection(Hook::ConnectionCreated, connection, now);
                connections.outbox.push(event);
            }
        }
        if let Some(key) = &approval.scoped_key {
            keys.insert(key);
        }
        Ok(())
    }
}

/// Revokes, at `now`, the live scoped keys minted under any of `grants`
/// (verification reads the grant anyway, [`with_grant_revocation`]; this
/// dates the keys' own revocation, which outlives the grant's purge).
pub(super) fn revoke_keys_of(keys: &mut ScopedKeyTable, grants: &[GrantId], now: OffsetDateTime) {
    let ScopedKeyTable {
        by_id,
        by_grant,
        outbox,
        ..
    } = keys;
    for id in grants.iter().filter_map(|g| by_grant.get(g)).flatten() {
        if let Some(key) = by_id.get_mut(id).filter(|k| k.revoked_at.is_none()) {
            key.revoked_at = Some(now);
            outbox.push(hook::scoped_key(key, now));
        }
    }
}

/// Revokes, at `now`, the grant `id` if it is live, and with it the active
/// connection whose grant it is and the scoped keys minted under it (the
/// caller holds the grants, connections and scoped-keys locks). `None` if
/// the grant is unknown or already revoked.
pub(super) fn revoke_grant_in(
    grants: &mut GrantsLocked<'_>,
    connections: &mut ConnectionTable,
    keys: &mut ScopedKeyTable,
    id: &GrantId,
    now: OffsetDateTime,
) -> Option<GrantRevocation> {
    let grant = grants.get_mut(id).filter(|g| g.revoked_at.is_none())?;
    grant.revoked_at = Some(now);
    let app_id = grant.app_id.clone();
    let holder = connections
        .by_grant
        .get(id)
        .filter(|c| {
            connections
                .by_id
                .get(*c)
                .is_some_and(|c| c.app_id == app_id && c.status == ConnectionStatus::Active)
        })
        .cloned();
    let connection_id = holder
        .and_then(|c| revoke_one_connection(grants, connections, keys, &c, now))
        .map(|c| c.id);
    revoke_keys_of(keys, std::slice::from_ref(id), now);
    Some(GrantRevocation { connection_id })
}

/// A scoped key as storage reports it: revoked with its grant (at the
/// grant's revocation time; at its own creation time when the grant is no
/// longer stored).
pub(super) fn with_grant_revocation<G>(grants: &Locked<G>, key: &ScopedKeyRecord) -> ScopedKeyRecord
where
    G: std::ops::Deref<Target = IdMap<GrantId, Box<GrantRecord>>>,
{
    let mut key = key.clone();
    if key.revoked_at.is_none() {
        key.revoked_at = match grants.get(&key.grant_id) {
            Some(grant) => grant.revoked_at,
            None => Some(key.created_at),
        };
    }
    key
}

/// Revokes an active connection (taking it out of the active index), its
/// grant and the keys minted under that grant.
pub(super) fn revoke_one_connection(
    grants: &mut GrantsLocked<'_>,
    connections: &mut ConnectionTable,
    keys: &mut ScopedKeyTable,
    id: &ConnectionId,
    now: OffsetDateTime,
) -> Option<ConnectionRecord> {
    let ConnectionTable {
        by_id,
        active,
        outbox,
        ..
    } = connections;
    let connection = by_id
        .get_mut(id)
        .filter(|c| c.status == ConnectionStatus::Active)?;
    connection.status = ConnectionStatus::Revoked;
    connection.updated_at = now;
    outbox.push(hook::connection(Hook::ConnectionRevoked, connection, now));
    if let Some(grant) = grants.get_mut(&connection.grant_id) {
        grant.revoked_at.get_or_insert(now);
    }
    revoke_keys_of(keys, std::slice::from_ref(&connection.grant_id), now);
    let slot = (connection.app_id.clone(), connection.reference_id.clone());
    if let Some(ids) = active.get_mut(&slot) {
        ids.retain(|c| c != id);
        if ids.is_empty() {
            active.remove(&slot);
        }
    }
    Some(connection.clone())
}
