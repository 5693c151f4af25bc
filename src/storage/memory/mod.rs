//! The in-memory backend: the default and the reference implementation of
//! the storage contract.
//!
//! Each table sits behind its own lock, so readers of one never wait for
//! writers of another; a method that must change several tables atomically
//! takes their locks in one fixed order — apps, sessions, pushed requests,
//! codes, grants, tokens, customers,
//! connections, scoped keys, publishable keys, rate limits — so two methods
//! can never deadlock; within a table in shards (sessions, codes, grants,
//! tokens: see [`shards`]) the shards are taken in shard order. Locks are
//! never held across an `.await`.

use std::collections::HashMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use time::OffsetDateTime;

use super::{CodeRecord, GrantRecord, Listing, SessionRecord};
use crate::credentials::keyring::{CredentialHash, CredentialHashMap};
use crate::model::ids::GrantId;

mod admin_keys;
mod apps;
mod connect;
mod connect_tables;
mod grants;
mod publishable_keys;
mod rate_limits;
mod shards;
mod tokens;
mod webhooks;

use admin_keys::AdminKeyRow;
use apps::AppTable;
use connect_tables::{ConnectionTable, CustomerTable, ScopedKeyTable};
use publishable_keys::PublishableKeyTable;
use rate_limits::RateLimitTable;
use shards::{CredentialShards, IdShards};
use tokens::TokenTable;

/// Everything in process memory. Safe to share between tasks and threads;
/// lost when the process exits.
#[derive(Debug, Default)]
pub struct MemoryStore {
    apps: RwLock<AppTable>,
    // Records are boxed: the tables of a busy store grow by the million, and
    // a table of boxes moves and zeroes far less memory as it grows. The
    // tables that grow with requests are in shards (see [`shards`]).
    sessions: CredentialShards<Box<SessionRecord>>,
    /// The sessions of each requester of `insert_pushed_session`, oldest
    /// first (at most its bound; pruned of gone sessions as they go).
    pushed: RwLock<CredentialHashMap<Vec<CredentialHash>>>,
    codes: CredentialShards<Box<CodeRecord>>,
    grants: GrantTable,
    /// Inline, not boxed: a compact row of 64 bytes (see [`StoredToken`](tokens::StoredToken)).
    tokens: TokenTable,
    customers: RwLock<CustomerTable>,
    connections: RwLock<ConnectionTable>,
    scoped_keys: RwLock<ScopedKeyTable>,
    admin_keys: RwLock<HashMap<CredentialHash, AdminKeyRow>>,
    publishable_keys: RwLock<PublishableKeyTable>,
    rate_limits: RwLock<RateLimitTable>,
    webhooks: webhooks::MemoryWebhooks,
}

/// The grants, in shards.
type GrantTable = IdShards<GrantId, Box<GrantRecord>>;

/// Write locks on some shards of the grants.
type GrantsLocked<'a> =
    shards::WriteLocked<'a, GrantId, Box<GrantRecord>, std::hash::BuildHasherDefault<IdHasher>>;

/// A map keyed by identifiers the server generates from its CSPRNG (grant
/// and scoped-key ids), with [`IdHasher`].
type IdMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<IdHasher>>;

/// A fast, unkeyed hasher (FxHash's multiply-rotate over 8-byte words) for
/// [`IdMap`].
///
/// # Security
///
/// Not flood-resistant: only for keys an attacker cannot choose. Every key
/// inserted into an `IdMap` is an id the server drew at random; looking up
/// an attacker's id costs one probe like any other.
#[derive(Debug, Default, Clone, Copy)]
struct IdHasher(u64);

impl IdHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let mut last = [0u8; 8];
        let rest = chunks.remainder();
        last[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(last) ^ (rest.len() as u64) << 56);
    }

    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }
}

/// Inserts `key` into a per-workspace creation-order index.
fn insert_ordered<K: Ord + Clone>(
    order: &mut Vec<(OffsetDateTime, K)>,
    at: OffsetDateTime,
    key: K,
) {
    let entry = (at, key);
    let position = order.partition_point(|existing| existing < &entry);
    order.insert(position, entry);
}

/// A slice of `items` by offset and limit.
fn page<T: Clone>(items: Vec<T>, offset: u64, limit: u32) -> Listing<T> {
    let total = items.len() as u64;
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(items.len());
    let end = start.saturating_add(limit as usize).min(items.len());
    Listing {
        items: items[start..end].to_vec(),
        total,
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

    /// Bounds the webhook deliveries kept once finished (succeeded or
    /// failed) for the deliveries listing: the oldest beyond `kept` are
    /// forgotten, messages with them (default 10,000). A bound on this
    /// store's memory, not a retention policy: pending deliveries are never
    /// dropped, and the PostgreSQL backend keeps every delivery until its
    /// endpoint is deleted.
    pub fn with_kept_webhook_deliveries(mut self, kept: usize) -> Self {
        self.webhooks.kept_finished = kept;
        self
    }
}

/// Where a purge's `context` (another table's read lock) sits in the lock
/// order beside the purged table's lock.
#[derive(Clone, Copy)]
enum ContextLock {
    /// Taken after the table's lock in each phase.
    AfterTable,
    /// Taken before the table's lock in each phase.
    BeforeTable,
}

/// Removes up to `budget` entries of `table` for which `expired` holds,
/// lowering the budget by as many; how many were removed.
///
/// The candidates are found under the table's read lock, so readers never
/// wait for the scan; the write lock is then held only to re-check and
/// remove them. `context` is taken in each phase where `order` puts it in
/// the lock order, and handed to `expired`.
fn purge<K: Clone + Eq + std::hash::Hash, V, C, H: std::hash::BuildHasher>(
    table: &RwLock<HashMap<K, V, H>>,
    budget: &mut usize,
    order: ContextLock,
    context: impl Fn() -> C,
    expired: impl Fn(&V, &C) -> bool,
) -> u64 {
    if *budget == 0 {
        return 0;
    }
    let candidates: Vec<K> = {
        let (rows, context) = match order {
            ContextLock::AfterTable => {
                let rows = read(table);
                (rows, context())
            }
            ContextLock::BeforeTable => {
                let context = context();
                (read(table), context)
            }
        };
        rows.iter()
            .filter(|(_, v)| expired(v, &context))
            .map(|(k, _)| k.clone())
            .take(*budget)
            .collect()
    };
    if candidates.is_empty() {
        return 0;
    }
    let (mut rows, context) = match order {
        ContextLock::AfterTable => {
            let rows = write(table);
            (rows, context())
        }
        ContextLock::BeforeTable => {
            let context = context();
            (write(table), context)
        }
    };
    let mut removed = 0;
    for key in &candidates {
        // Re-checked: the entry may have changed since the scan.
        if rows.get(key).is_some_and(|v| expired(v, &context)) {
            rows.remove(key);
            removed += 1;
        }
    }
    *budget -= removed;
    removed as u64
}
