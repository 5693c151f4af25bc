//! The in-memory backend: the default and the reference implementation of
//! the storage contract.
//!
//! Each table sits behind its own lock, so readers of one never wait for
//! writers of another; a method that must change several tables atomically
//! takes their locks in one fixed order — apps, sessions, codes, grants,
//! tokens — so two methods can never deadlock. Locks are never held across
//! an `.await`.

use std::collections::HashMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;

use super::{
    AdminKeyStore, AppChanges, AppRecord, AppStore, CodeRecord, CodeRedemption, GraceSecret,
    GrantRecord, GrantStore, Listing, RefreshRotation, SecretRotation, SessionCompletion,
    SessionDecision, SessionRecord, SessionStatus, StorageError, StorageErrorKind, TokenKind,
    TokenRecord,
};
use crate::ids::{AppId, ClientId, GrantId, WorkspaceId};
use crate::keyring::CredentialHash;
use crate::registration::OAuthApp;

/// Everything in process memory. Safe to share between tasks and threads;
/// lost when the process exits.
#[derive(Debug, Default)]
pub struct MemoryStore {
    apps: RwLock<AppTable>,
    sessions: RwLock<HashMap<CredentialHash, SessionRecord>>,
    codes: RwLock<HashMap<CredentialHash, CodeRecord>>,
    grants: RwLock<HashMap<GrantId, GrantRecord>>,
    tokens: RwLock<HashMap<CredentialHash, TokenRecord>>,
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
        // Everything issued to the app goes in the same critical section.
        let mut sessions = write(&self.sessions);
        let mut codes = write(&self.codes);
        let mut grants = write(&self.grants);
        let mut tokens = write(&self.tokens);
        sessions.retain(|_, s| &s.app_id != id);
        codes.retain(|_, c| &c.app_id != id);
        grants.retain(|_, g| &g.app_id != id);
        tokens.retain(|_, t| &t.app_id != id);
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

fn grant_is_live(grants: &HashMap<GrantId, GrantRecord>, id: &GrantId) -> bool {
    grants.get(id).is_some_and(|g| g.revoked_at.is_none())
}

fn extend_expiry(grant: &mut GrantRecord, to: OffsetDateTime) {
    if let Some(at) = grant.expires_at.as_mut() {
        *at = (*at).max(to);
    }
}

#[async_trait]
impl GrantStore for MemoryStore {
    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StorageError> {
        let mut sessions = write(&self.sessions);
        if sessions.contains_key(&session.hash) {
            return Err(StorageError::new(StorageErrorKind::Conflict));
        }
        sessions.insert(session.hash, session.clone());
        Ok(())
    }

    async fn open_session(
        &self,
        hash: &CredentialHash,
        now: OffsetDateTime,
    ) -> Result<Option<SessionRecord>, StorageError> {
        let mut sessions = write(&self.sessions);
        let Some(session) = sessions.get_mut(hash) else {
            return Ok(None);
        };
        if session.opened_at.is_none() && session.open_by.is_none_or(|by| now < by) {
            session.opened_at = Some(now);
        }
        Ok(Some(session.clone()))
    }

    async fn complete_session(
        &self,
        hash: &CredentialHash,
        decision: &SessionDecision,
        now: OffsetDateTime,
    ) -> Result<SessionCompletion, StorageError> {
        let mut sessions = write(&self.sessions);
        let Some(session) = sessions.get_mut(hash) else {
            return Ok(SessionCompletion::NotFound);
        };
        if session.status != SessionStatus::Pending {
            return Ok(SessionCompletion::AlreadyCompleted(session.clone()));
        }
        if now >= session.expires_at || session.opened_at.is_none() {
            return Ok(SessionCompletion::Expired);
        }
        let before = session.clone();
        match decision {
            SessionDecision::Approve { grant, code } => {
                let mut codes = write(&self.codes);
                let mut grants = write(&self.grants);
                if codes.contains_key(&code.hash) || grants.contains_key(&grant.id) {
                    return Err(StorageError::new(StorageErrorKind::Conflict));
                }
                grants.insert(grant.id.clone(), GrantRecord::clone(grant));
                codes.insert(code.hash, CodeRecord::clone(code));
                session.status = SessionStatus::Approved;
            }
            SessionDecision::Deny => session.status = SessionStatus::Denied,
        }
        Ok(SessionCompletion::Completed(before))
    }

    async fn get_code(&self, hash: &CredentialHash) -> Result<Option<CodeRecord>, StorageError> {
        let code = read(&self.codes).get(hash).cloned();
        Ok(code.filter(|c| grant_is_live(&read(&self.grants), &c.grant_id)))
    }

    async fn redeem_code(
        &self,
        hash: &CredentialHash,
        tokens: &[TokenRecord],
        grant_expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<CodeRedemption, StorageError> {
        let mut codes = write(&self.codes);
        let mut grants = write(&self.grants);
        let Some(code) = codes.get_mut(hash) else {
            return Ok(CodeRedemption::Invalid);
        };
        if !grant_is_live(&grants, &code.grant_id) {
            return Ok(CodeRedemption::Invalid);
        }
        if code.redeemed_at.is_some() {
            return Ok(CodeRedemption::AlreadyRedeemed(code.clone()));
        }
        if now >= code.expires_at {
            return Ok(CodeRedemption::Invalid);
        }
        let mut table = write(&self.tokens);
        if tokens.iter().any(|t| table.contains_key(&t.hash)) {
            return Err(StorageError::new(StorageErrorKind::Conflict));
        }
        let before = code.clone();
        code.redeemed_at = Some(now);
        if let Some(grant) = grants.get_mut(&code.grant_id) {
            extend_expiry(grant, grant_expires_at);
        }
        for token in tokens {
            table.insert(token.hash, token.clone());
        }
        Ok(CodeRedemption::Redeemed(before))
    }

    async fn insert_grant(
        &self,
        grant: &GrantRecord,
        tokens: &[TokenRecord],
    ) -> Result<(), StorageError> {
        let mut grants = write(&self.grants);
        let mut table = write(&self.tokens);
        if grants.contains_key(&grant.id) || tokens.iter().any(|t| table.contains_key(&t.hash)) {
            return Err(StorageError::new(StorageErrorKind::Conflict));
        }
        grants.insert(grant.id.clone(), grant.clone());
        for token in tokens {
            table.insert(token.hash, token.clone());
        }
        Ok(())
    }

    async fn get_grant(&self, id: &GrantId) -> Result<Option<GrantRecord>, StorageError> {
        Ok(read(&self.grants).get(id).cloned())
    }

    async fn get_token(&self, hash: &CredentialHash) -> Result<Option<TokenRecord>, StorageError> {
        let token = read(&self.tokens).get(hash).cloned();
        Ok(token.filter(|t| grant_is_live(&read(&self.grants), &t.grant_id)))
    }

    async fn rotate_refresh_token(
        &self,
        hash: &CredentialHash,
        successors: &[TokenRecord],
        grant_expires_at: OffsetDateTime,
        replay_since: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<RefreshRotation, StorageError> {
        let mut grants = write(&self.grants);
        let mut tokens = write(&self.tokens);
        let Some(old) = tokens.get(hash).cloned() else {
            return Ok(RefreshRotation::Invalid);
        };
        if old.kind != TokenKind::Refresh || !grant_is_live(&grants, &old.grant_id) {
            return Ok(RefreshRotation::Invalid);
        }
        if let Some(rotated_at) = old.rotated_at {
            let successor = old.successor.and_then(|s| tokens.get(&s)).cloned();
            return Ok(match successor {
                Some(successor) if replay_since.is_some_and(|since| rotated_at >= since) => {
                    RefreshRotation::Replayed {
                        old: Box::new(old),
                        successor: Box::new(successor),
                    }
                }
                _ => {
                    if let Some(grant) = grants.get_mut(&old.grant_id) {
                        grant.revoked_at = Some(now);
                    }
                    RefreshRotation::Reused(old)
                }
            });
        }
        if old.is_expired(now) {
            return Ok(RefreshRotation::Invalid);
        }
        if successors.iter().any(|t| tokens.contains_key(&t.hash)) {
            return Err(StorageError::new(StorageErrorKind::Conflict));
        }
        let successor = successors
            .iter()
            .find(|t| t.kind == TokenKind::Refresh)
            .map(|t| t.hash);
        if let Some(entry) = tokens.get_mut(hash) {
            entry.rotated_at = Some(now);
            entry.successor = successor;
        }
        if let Some(grant) = grants.get_mut(&old.grant_id) {
            extend_expiry(grant, grant_expires_at);
        }
        for token in successors {
            tokens.insert(token.hash, token.clone());
        }
        Ok(RefreshRotation::Rotated(old))
    }

    async fn revoke_token(&self, hash: &CredentialHash) -> Result<bool, StorageError> {
        let mut tokens = write(&self.tokens);
        match tokens.get(hash) {
            Some(t) if t.kind == TokenKind::Access => Ok(tokens.remove(hash).is_some()),
            _ => Ok(false),
        }
    }

    async fn revoke_grant(&self, id: &GrantId, now: OffsetDateTime) -> Result<bool, StorageError> {
        let mut grants = write(&self.grants);
        match grants.get_mut(id) {
            Some(grant) if grant.revoked_at.is_none() => {
                grant.revoked_at = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn purge_expired(&self, now: OffsetDateTime, limit: u32) -> Result<u64, StorageError> {
        let mut budget = limit as usize;
        let mut removed = 0u64;
        // Sessions and codes first, then tokens, then grants (a grant outlives
        // its tokens), each in its own short critical section.
        {
            let mut sessions = write(&self.sessions);
            let expired: Vec<_> = sessions
                .iter()
                .filter(|(_, s)| now >= s.expires_at)
                .map(|(h, _)| *h)
                .take(budget)
                .collect();
            for hash in &expired {
                sessions.remove(hash);
            }
            budget -= expired.len();
            removed += expired.len() as u64;
        }
        {
            let mut codes = write(&self.codes);
            let expired: Vec<_> = codes
                .iter()
                .filter(|(_, c)| now >= c.expires_at)
                .map(|(h, _)| *h)
                .take(budget)
                .collect();
            for hash in &expired {
                codes.remove(hash);
            }
            budget -= expired.len();
            removed += expired.len() as u64;
        }
        {
            let mut tokens = write(&self.tokens);
            let expired: Vec<_> = tokens
                .iter()
                .filter(|(_, t)| t.is_expired(now))
                .map(|(h, _)| *h)
                .take(budget)
                .collect();
            for hash in &expired {
                tokens.remove(hash);
            }
            budget -= expired.len();
            removed += expired.len() as u64;
        }
        {
            let retention = time::Duration::DAY;
            let mut grants = write(&self.grants);
            let expired: Vec<_> = grants
                .iter()
                .filter(|(_, g)| {
                    g.expires_at.is_some_and(|at| now >= at)
                        || g.revoked_at.is_some_and(|at| now >= at + retention)
                })
                .map(|(id, _)| id.clone())
                .take(budget)
                .collect();
            for id in &expired {
                grants.remove(id);
            }
            removed += expired.len() as u64;
        }
        Ok(removed)
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
