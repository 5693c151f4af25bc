//! [`GrantStore`] in memory: sessions, pushed requests, codes, grants and
//! tokens.

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::connect_tables::revoke_grant_in;
use super::shards::{Locked, ReadLocked, ShardKey as _};
use super::tokens::{StoredToken, nanos};
use super::{ContextLock, IdMap, MemoryStore, purge, read, webhooks, write};
use crate::credentials::keyring::CredentialHash;
use crate::model::ids::{ClientId, GrantId};
use crate::storage::{
    CodeRecord, CodeRedemption, GrantRecord, GrantRevocation, GrantStore, Prefetched,
    RefreshRotation, SessionCompletion, SessionDecision, SessionRecord, SessionStatus,
    StorageError, StorageErrorKind, TokenKind, TokenRecord,
};

/// Whether the grant `id` is stored and not revoked; its shard of `grants`
/// must be locked.
pub(super) fn grant_is_live<G>(grants: &Locked<G>, id: &GrantId) -> bool
where
    G: std::ops::Deref<Target = IdMap<GrantId, Box<GrantRecord>>>,
{
    grants.get(id).is_some_and(|g| g.revoked_at.is_none())
}

/// Read locks on every shard of the grants.
type GrantsRead<'a> =
    ReadLocked<'a, GrantId, Box<GrantRecord>, std::hash::BuildHasherDefault<super::IdHasher>>;

pub(super) fn extend_expiry(grant: &mut GrantRecord, to: OffsetDateTime) {
    if let Some(at) = grant.expires_at.as_mut() {
        *at = (*at).max(to);
    }
}

impl MemoryStore {
    /// [`GrantStore::get_code`]'s answer, for the combined read too.
    fn code(&self, hash: &CredentialHash) -> Option<CodeRecord> {
        let code = read(self.codes.shard(hash))
            .get(hash)
            .map(|c| CodeRecord::clone(c));
        code.filter(|c| grant_is_live(&self.grants.read([&c.grant_id]), &c.grant_id))
    }

    /// [`GrantStore::get_token`]'s answer, for the combined read too.
    fn token(&self, hash: &CredentialHash) -> Option<TokenRecord> {
        let token = read(self.tokens.shard(hash))
            .get(hash)
            .map(|t| t.to_record(*hash));
        token.filter(|t| grant_is_live(&self.grants.read([&t.grant_id]), &t.grant_id))
    }
}

#[async_trait]
impl GrantStore for MemoryStore {
    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StorageError> {
        // Lock order: apps before sessions, as in `delete_app`, so an app
        // deleted a moment ago gets nothing new (a foreign key in SQL).
        let apps = read(&self.apps);
        let mut sessions = write(self.sessions.shard(&session.hash));
        if apps.get(&session.workspace_id, &session.app_id).is_none() {
            return Err(StorageError::new(StorageErrorKind::NotFound));
        }
        if sessions.contains_key(&session.hash) {
            return Err(StorageError::new(StorageErrorKind::Conflict));
        }
        sessions.insert(session.hash, Box::new(session.clone()));
        Ok(())
    }

    async fn insert_pushed_session(
        &self,
        session: &SessionRecord,
        requester: &CredentialHash,
        max_pending: u32,
    ) -> Result<(), StorageError> {
        // Every shard of the sessions: the requester's oldest pushed
        // requests may go, wherever they are.
        let apps = read(&self.apps);
        let mut sessions = self.sessions.lock_all();
        let mut pushed = write(&self.pushed);
        if apps.get(&session.workspace_id, &session.app_id).is_none() {
            return Err(StorageError::new(StorageErrorKind::NotFound));
        }
        if sessions.contains_key(&session.hash) {
            return Err(StorageError::new(StorageErrorKind::Conflict));
        }
        let held = pushed.entry(*requester).or_default();
        held.retain(|hash| sessions.contains_key(hash));
        let max = usize::try_from(max_pending).unwrap_or(usize::MAX).max(1);
        while held.len() >= max {
            let oldest = held.remove(0);
            sessions.remove(&oldest);
        }
        held.push(session.hash);
        sessions.insert(session.hash, Box::new(session.clone()));
        Ok(())
    }

    async fn open_session(
        &self,
        hash: &CredentialHash,
        now: OffsetDateTime,
    ) -> Result<Option<SessionRecord>, StorageError> {
        let mut sessions = write(self.sessions.shard(hash));
        let Some(session) = sessions.get_mut(hash) else {
            return Ok(None);
        };
        if session.opened_at.is_none() && session.open_by.is_none_or(|by| now < by) {
            session.opened_at = Some(now);
        }
        Ok(Some(SessionRecord::clone(session)))
    }

    async fn complete_session(
        &self,
        hash: &CredentialHash,
        decision: &SessionDecision,
        now: OffsetDateTime,
    ) -> Result<SessionCompletion, StorageError> {
        let mut sessions = write(self.sessions.shard(hash));
        let Some(session) = sessions.get_mut(hash) else {
            return Ok(SessionCompletion::NotFound);
        };
        if session.status != SessionStatus::Pending {
            return Ok(SessionCompletion::AlreadyCompleted(SessionRecord::clone(
                session,
            )));
        }
        if now >= session.expires_at || session.opened_at.is_none() {
            return Ok(SessionCompletion::Expired);
        }
        let before = SessionRecord::clone(session);
        match decision {
            SessionDecision::Approve {
                grant,
                code,
                connect,
            } => {
                let mut codes = write(self.codes.shard(&code.hash));
                // A Connect approval may revoke the grant it replaces, in
                // any shard.
                let mut grants = if connect.is_some() {
                    self.grants.lock_all()
                } else {
                    self.grants.lock([&grant.id])
                };
                if codes.contains_key(&code.hash) || grants.contains_key(&grant.id) {
                    return Err(StorageError::new(StorageErrorKind::Conflict));
                }
                if let Some(connect) = connect {
                    self.write_connect_approval(connect, &mut grants, now)?;
                }
                grants.insert(grant.id.clone(), grant.clone());
                codes.insert(code.hash, code.clone());
                session.status = SessionStatus::Approved;
            }
            SessionDecision::Deny => session.status = SessionStatus::Denied,
        }
        if let Some(event) = webhooks::session_event(session, now) {
            self.webhooks.record(event);
        }
        Ok(SessionCompletion::Completed(before))
    }

    async fn get_code(&self, hash: &CredentialHash) -> Result<Option<CodeRecord>, StorageError> {
        Ok(self.code(hash))
    }

    async fn redeem_code(
        &self,
        hash: &CredentialHash,
        tokens: &[TokenRecord],
        grant_expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<CodeRedemption, StorageError> {
        let mut codes = write(self.codes.shard(hash));
        let Some(code) = codes.get_mut(hash) else {
            return Ok(CodeRedemption::Invalid);
        };
        let mut grants = self.grants.lock([&code.grant_id]);
        if !grant_is_live(&grants, &code.grant_id) {
            return Ok(CodeRedemption::Invalid);
        }
        if code.redeemed_at.is_some() {
            return Ok(CodeRedemption::AlreadyRedeemed(CodeRecord::clone(code)));
        }
        if now >= code.expires_at {
            return Ok(CodeRedemption::Invalid);
        }
        let mut table = self.tokens.lock(tokens.iter().map(|t| &t.hash));
        if tokens.iter().any(|t| table.contains_key(&t.hash)) {
            return Err(StorageError::new(StorageErrorKind::Conflict));
        }
        let rows = StoredToken::rows(tokens, None)?;
        let before = CodeRecord::clone(code);
        code.redeemed_at = Some(now);
        if let Some(grant) = grants.get_mut(&code.grant_id) {
            extend_expiry(grant, grant_expires_at);
        }
        table.extend(rows);
        Ok(CodeRedemption::Redeemed(before))
    }

    async fn insert_grant(
        &self,
        grant: &GrantRecord,
        tokens: &[TokenRecord],
    ) -> Result<(), StorageError> {
        // Lock order: apps first, as in `delete_app`.
        let apps = read(&self.apps);
        let mut grants = self.grants.lock([&grant.id]);
        let mut table = self.tokens.lock(tokens.iter().map(|t| &t.hash));
        if apps.get(&grant.workspace_id, &grant.app_id).is_none() {
            return Err(StorageError::new(StorageErrorKind::NotFound));
        }
        if grants.contains_key(&grant.id) || tokens.iter().any(|t| table.contains_key(&t.hash)) {
            return Err(StorageError::new(StorageErrorKind::Conflict));
        }
        let rows = StoredToken::rows(tokens, None)?;
        grants.insert(grant.id.clone(), Box::new(grant.clone()));
        table.extend(rows);
        Ok(())
    }

    async fn insert_code(
        &self,
        grant: &GrantRecord,
        code: &CodeRecord,
    ) -> Result<(), StorageError> {
        // Lock order: apps, codes, grants, as everywhere.
        let apps = read(&self.apps);
        let mut codes = write(self.codes.shard(&code.hash));
        let mut grants = self.grants.lock([&grant.id]);
        if apps.get(&grant.workspace_id, &grant.app_id).is_none() {
            return Err(StorageError::new(StorageErrorKind::NotFound));
        }
        if grants.contains_key(&grant.id) || codes.contains_key(&code.hash) {
            return Err(StorageError::new(StorageErrorKind::Conflict));
        }
        grants.insert(grant.id.clone(), Box::new(grant.clone()));
        codes.insert(code.hash, Box::new(code.clone()));
        Ok(())
    }

    async fn get_grant(&self, id: &GrantId) -> Result<Option<GrantRecord>, StorageError> {
        Ok(read(self.grants.shard(id))
            .get(id)
            .map(|g| GrantRecord::clone(g)))
    }

    async fn get_token(&self, hash: &CredentialHash) -> Result<Option<TokenRecord>, StorageError> {
        Ok(self.token(hash))
    }

    /// Both reads in one call (one future, not three: the memory store has
    /// no round trips to save, but each `async_trait` call is an
    /// allocation).
    async fn get_app_and_code(
        &self,
        client_id: &ClientId,
        hash: &CredentialHash,
    ) -> Result<Option<Prefetched<CodeRecord>>, StorageError> {
        Ok(Some(Prefetched::new(
            self.app_by_client_id(client_id),
            self.code(hash),
        )))
    }

    /// As [`get_app_and_code`](Self::get_app_and_code).
    async fn get_app_and_token(
        &self,
        client_id: &ClientId,
        hash: &CredentialHash,
    ) -> Result<Option<Prefetched<TokenRecord>>, StorageError> {
        Ok(Some(Prefetched::new(
            self.app_by_client_id(client_id),
            self.token(hash),
        )))
    }

    async fn rotate_refresh_token(
        &self,
        hash: &CredentialHash,
        successors: &[TokenRecord],
        grant_expires_at: OffsetDateTime,
        replay_since: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<RefreshRotation, StorageError> {
        // The old token's grant and successor, if any, are read first, to
        // lock the grant's shard and the successor's shard too. A token's
        // grant never changes; only a rotation sets the successor, and
        // rotations hold the write lock of their grant's shard, so it cannot
        // change between this look and the locks.
        let Some((grant_shard, successor)) = read(self.tokens.shard(hash))
            .get(hash)
            .map(|t| (t.grant.grant_id.shard(), t.successor.as_deref().copied()))
        else {
            return Ok(RefreshRotation::Invalid);
        };
        let mut grants = self.grants.lock_shards(&[grant_shard]);
        let mut tokens = self.tokens.lock(
            std::iter::once(hash)
                .chain(successors.iter().map(|t| &t.hash))
                .chain(successor.as_ref()),
        );
        let Some((old, old_grant)) = tokens
            .get(hash)
            .map(|t| (t.to_record(*hash), Arc::clone(&t.grant)))
        else {
            return Ok(RefreshRotation::Invalid);
        };
        if old.kind != TokenKind::Refresh || !grant_is_live(&grants, &old.grant_id) {
            return Ok(RefreshRotation::Invalid);
        }
        if let Some(rotated_at) = old.rotated_at {
            let successor = old
                .successor
                .and_then(|s| tokens.get(&s).map(|t| t.to_record(s)));
            // A replay (a lost response retried) only while the successor is
            // unused: once it rotated in turn, the old token is reuse
            // (RFC 9700 §4.14.2).
            return Ok(match successor {
                Some(successor)
                    if successor.rotated_at.is_none()
                        && replay_since.is_some_and(|since| rotated_at >= since) =>
                {
                    RefreshRotation::Replayed {
                        old: Box::new(old),
                        successor: Box::new(successor),
                    }
                }
                _ => {
                    // Lock order: grants, tokens, connections, scoped keys.
                    let mut connections = write(&self.connections);
                    let mut keys = write(&self.scoped_keys);
                    let revocation = revoke_grant_in(
                        &mut grants,
                        &mut connections,
                        &mut keys,
                        &old.grant_id,
                        now,
                    )
                    .unwrap_or_default();
                    RefreshRotation::Reused {
                        old: Box::new(old),
                        revocation,
                    }
                }
            });
        }
        if old.is_expired(now) {
            return Ok(RefreshRotation::Invalid);
        }
        if successors.iter().any(|t| tokens.contains_key(&t.hash)) {
            return Err(StorageError::new(StorageErrorKind::Conflict));
        }
        let rows = StoredToken::rows(successors, Some(&old_grant))?;
        let rotated_at = nanos(now)?;
        let successor = successors
            .iter()
            .find(|t| t.kind == TokenKind::Refresh)
            .map(|t| Box::new(t.hash));
        if let Some(entry) = tokens.get_mut(hash) {
            entry.rotated_at = rotated_at;
            entry.successor = successor;
        }
        if let Some(grant) = grants.get_mut(&old.grant_id) {
            extend_expiry(grant, grant_expires_at);
        }
        tokens.extend(rows);
        Ok(RefreshRotation::Rotated(old))
    }

    async fn revoke_token(&self, hash: &CredentialHash) -> Result<bool, StorageError> {
        let mut tokens = write(self.tokens.shard(hash));
        match tokens.get(hash) {
            Some(t) if t.kind == TokenKind::Access => Ok(tokens.remove(hash).is_some()),
            _ => Ok(false),
        }
    }

    async fn revoke_grant(
        &self,
        id: &GrantId,
        now: OffsetDateTime,
    ) -> Result<Option<GrantRevocation>, StorageError> {
        // Lock order: grants, connections, scoped keys.
        let mut grants = self.grants.lock([id]);
        let mut connections = write(&self.connections);
        let mut keys = write(&self.scoped_keys);
        Ok(revoke_grant_in(
            &mut grants,
            &mut connections,
            &mut keys,
            id,
            now,
        ))
    }

    async fn revoke_code_grant(
        &self,
        hash: &CredentialHash,
        now: OffsetDateTime,
    ) -> Result<Option<GrantRevocation>, StorageError> {
        // Lock order: codes, grants, connections, scoped keys.
        let codes = read(self.codes.shard(hash));
        let Some(code) = codes.get(hash).filter(|c| c.redeemed_at.is_some()) else {
            return Ok(None);
        };
        let mut grants = self.grants.lock([&code.grant_id]);
        let mut connections = write(&self.connections);
        let mut keys = write(&self.scoped_keys);
        let Some(revocation) = revoke_grant_in(
            &mut grants,
            &mut connections,
            &mut keys,
            &code.grant_id,
            now,
        ) else {
            return Ok(None);
        };
        if let Some(key) = code
            .scoped_key_id
            .as_ref()
            .and_then(|id| keys.by_id.get_mut(id))
            .filter(|k| k.app_id == code.app_id)
        {
            key.revoked_at.get_or_insert(now);
        }
        Ok(Some(revocation))
    }

    async fn purge_expired(
        &self,
        now: OffsetDateTime,
        limit: u32,
        policy: &crate::storage::PurgePolicy,
    ) -> Result<u64, StorageError> {
        // Sessions, then codes and tokens, then grants, within one budget.
        // For each table the candidates are collected under its read lock
        // (readers go on; the scan stops at the budget) and removed under
        // the write lock, each re-checked there, so no write lock is held
        // longer than one batch of removals. Codes and tokens are judged
        // with the grants table read-locked after theirs (the lock order).
        let mut budget = limit as usize;
        let retention = policy.revoked_grant_retention;
        let doomed = |g: &GrantRecord| {
            g.expires_at.is_some_and(|at| now >= at)
                || g.revoked_at.is_some_and(|at| now >= at + retention)
        };
        let grant_gone =
            |grants: &GrantsRead<'_>, id: &GrantId| grants.get(id).is_none_or(|g| doomed(g));
        let grants = || self.grants.read_all();
        // One shard of the sessions at a time.
        let mut removed = 0;
        for shard in self.sessions.shards() {
            // Connect sessions ending unanswered: `connect.session.expired`.
            let unanswered: Vec<(CredentialHash, crate::storage::webhook_events::WebhookEvent)> =
                read(shard)
                    .iter()
                    .filter(|(_, s)| now >= s.expires_at)
                    .filter_map(|(h, s)| Some((*h, webhooks::expired_event(s)?)))
                    .take(budget)
                    .collect();
            removed += purge(
                shard,
                &mut budget,
                ContextLock::AfterTable,
                || (),
                |s, ()| now >= s.expires_at,
            );
            if !unanswered.is_empty() {
                let sessions = read(shard);
                for (hash, event) in unanswered {
                    if !sessions.contains_key(&hash) {
                        self.webhooks.record(event);
                    }
                }
            }
        }
        {
            // The pushed requests' index forgets the sessions gone (purged
            // now, or with their app).
            let sessions = self.sessions.read_all();
            let mut pushed = write(&self.pushed);
            pushed.retain(|_, held| {
                held.retain(|hash| sessions.contains_key(hash));
                !held.is_empty()
            });
        }
        // A redeemed code is the tombstone a late replay needs to revoke its
        // grant (RFC 6749 §4.1.2): it stays until its grant goes.
        removed += self
            .codes
            .purge(&mut budget, ContextLock::AfterTable, grants, |c, grants| {
                (c.redeemed_at.is_none() && now >= c.expires_at) || grant_gone(grants, &c.grant_id)
            });
        // One shard at a time, each judged with the grants read-locked first
        // (the lock order: grants, then tokens).
        let now_nanos = nanos(now)?;
        removed += self.tokens.purge(
            &mut budget,
            ContextLock::BeforeTable,
            grants,
            |t, grants| now_nanos >= t.expires_at || grant_gone(grants, &t.grant.grant_id),
        );
        // A grant may go before the last of its codes and tokens (another
        // batch's work): they are dead without it (`grant_is_live`) and the
        // next purge removes them.
        removed += self.grants.purge(
            &mut budget,
            ContextLock::AfterTable,
            || (),
            |g, ()| doomed(g),
        );
        // Webhook events queued beside the tables become messages (or go,
        // when no endpoint wants them), even where no worker runs.
        self.drain_webhook_events()?;
        Ok(removed)
    }
}
