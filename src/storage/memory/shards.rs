//! Tables in shards, each shard a map behind its own lock (issue 23 item 2,
//! a flat tail): a shard that fills up doubles alone, moving a 64th of the
//! rows while only that shard's writers wait, and a purge scans one shard at
//! a time. The tables that grow with requests (sessions, codes, grants and
//! tokens) are [`Sharded`].
//!
//! A method that needs several shards of one table takes their locks in
//! shard order ([`Sharded::lock`], [`Sharded::lock_all`]), which keeps the
//! table's place in the store's lock order.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash};
use std::ops::{Deref, DerefMut};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use smallvec::SmallVec;

use super::{ContextLock, IdHasher, purge, read, write};
use crate::credentials::keyring::{CredentialHash, CredentialHasher};
use crate::model::ids::GrantId;

/// How many shards a [`Sharded`] table has.
pub(super) const SHARDS: usize = 64;

/// How a key picks its shard: from bits its map's hasher does not read for
/// the bucket, so each shard's map still sees uniform hashes.
pub(super) trait ShardKey {
    /// The key's shard, below [`SHARDS`].
    fn shard(&self) -> usize;
}

impl ShardKey for CredentialHash {
    fn shard(&self) -> usize {
        // The maps' hasher reads bytes 0–7; byte 8 is as uniform and
        // independent.
        usize::from(self.as_bytes()[8]) % SHARDS
    }
}

impl ShardKey for GrantId {
    fn shard(&self) -> usize {
        // The map takes a bucket from the low bits of the same hash (and a
        // tag from the top 7); bits 32–37 are neither until a shard holds
        // billions of grants.
        let hash = BuildHasherDefault::<IdHasher>::default().hash_one(self);
        (hash >> 32) as usize % SHARDS
    }
}

/// A table in [`SHARDS`] maps, each behind its own lock.
#[derive(Debug)]
pub(super) struct Sharded<K, V, S> {
    shards: Box<[RwLock<HashMap<K, V, S>>]>,
}

/// A table keyed by credential hashes.
pub(super) type CredentialShards<V> =
    Sharded<CredentialHash, V, BuildHasherDefault<CredentialHasher>>;

/// A table keyed by identifiers the server draws (see [`IdHasher`]).
pub(super) type IdShards<K, V> = Sharded<K, V, BuildHasherDefault<IdHasher>>;

/// Write locks on some shards of a table.
pub(super) type WriteLocked<'a, K, V, S> = Locked<RwLockWriteGuard<'a, HashMap<K, V, S>>>;

/// Read locks on some shards of a table.
pub(super) type ReadLocked<'a, K, V, S> = Locked<RwLockReadGuard<'a, HashMap<K, V, S>>>;

impl<K, V, S: Default> Default for Sharded<K, V, S> {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
        }
    }
}

impl<K: ShardKey + Eq + Hash, V, S: BuildHasher> Sharded<K, V, S> {
    /// The shard that holds `key`.
    pub(super) fn shard(&self, key: &K) -> &RwLock<HashMap<K, V, S>> {
        &self.shards[key.shard()]
    }

    /// Every shard, in shard order.
    pub(super) fn shards(&self) -> &[RwLock<HashMap<K, V, S>>] {
        &self.shards
    }

    /// The shards holding `keys`, each once, in shard order.
    fn wanted<'k>(keys: impl IntoIterator<Item = &'k K>) -> Indices
    where
        K: 'k,
    {
        let mut wanted: Indices = keys.into_iter().map(ShardKey::shard).collect();
        wanted.sort_unstable();
        wanted.dedup();
        wanted
    }

    /// The write locks of the shards holding `keys`, each once, taken in
    /// shard order.
    pub(super) fn lock<'k>(&self, keys: impl IntoIterator<Item = &'k K>) -> WriteLocked<'_, K, V, S>
    where
        K: 'k,
    {
        self.lock_shards(&Self::wanted(keys))
    }

    /// The write locks of the shards `indices` (each below [`SHARDS`],
    /// ascending, each once: the lock order), as [`ShardKey::shard`] names
    /// them.
    pub(super) fn lock_shards(&self, indices: &[usize]) -> WriteLocked<'_, K, V, S> {
        debug_assert!(indices.windows(2).all(|w| w[0] < w[1]));
        Locked::take(indices, |i| self.shards.get(i).map(write))
    }

    /// The read locks of the shards holding `keys`, each once, taken in
    /// shard order.
    pub(super) fn read<'k>(&self, keys: impl IntoIterator<Item = &'k K>) -> ReadLocked<'_, K, V, S>
    where
        K: 'k,
    {
        Locked::take(&Self::wanted(keys), |i| self.shards.get(i).map(read))
    }

    /// The write locks of every shard, in shard order.
    pub(super) fn lock_all(&self) -> WriteLocked<'_, K, V, S> {
        Locked {
            guards: self.shards.iter().map(write).enumerate().collect(),
        }
    }

    /// The read locks of every shard, in shard order.
    pub(super) fn read_all(&self) -> ReadLocked<'_, K, V, S> {
        Locked {
            guards: self.shards.iter().map(read).enumerate().collect(),
        }
    }

    /// [`purge`] one shard after the other, within one `budget`: the write
    /// lock of one shard at a time, for one bounded batch.
    pub(super) fn purge<C>(
        &self,
        budget: &mut usize,
        order: ContextLock,
        context: impl Fn() -> C,
        expired: impl Fn(&V, &C) -> bool,
    ) -> u64
    where
        K: Clone,
    {
        self.shards
            .iter()
            .map(|shard| purge(shard, budget, order, &context, &expired))
            .sum()
    }
}

/// How many shards' indices and locks a method holds without a heap
/// allocation: a request's methods lock one to four shards of a table (a
/// rotation: the old refresh token, its two successors, a replay's
/// successor), and each lock taken is one less `malloc` on the hot path.
const FEW: usize = 4;

/// Shard indices, inline up to [`FEW`].
type Indices = SmallVec<[usize; FEW]>;

/// Locks on some shards of a table, by shard index, in shard order: up to
/// [`FEW`] inline, more (every shard, for a scan) on the heap. A key whose
/// shard is not locked is a caller's bug: it reads as absent (and a debug
/// build panics) rather than racing.
pub(super) struct Locked<G> {
    guards: SmallVec<[(usize, G); FEW]>,
}

impl<G> Locked<G> {
    /// The locks `lock` takes of the shards `indices`, in their order.
    fn take(indices: &[usize], mut lock: impl FnMut(usize) -> Option<G>) -> Self {
        Self {
            guards: indices
                .iter()
                .filter_map(|&i| Some((i, lock(i)?)))
                .collect(),
        }
    }

    /// Where shard `index` sits in `guards`.
    fn position(&self, index: usize) -> Option<usize> {
        if self.guards.len() == SHARDS {
            return Some(index);
        }
        let found = self.guards.iter().position(|(i, _)| *i == index);
        debug_assert!(found.is_some(), "shard {index} is not locked");
        found
    }

    /// The lock of shard `index`.
    fn guard(&self, index: usize) -> Option<&G> {
        let at = self.position(index)?;
        self.guards.get(at).map(|(_, guard)| guard)
    }

    /// The lock of shard `index`, to change its map.
    fn guard_mut(&mut self, index: usize) -> Option<&mut G> {
        let at = self.position(index)?;
        self.guards.get_mut(at).map(|(_, guard)| guard)
    }

    /// Every lock held, in shard order.
    fn guards_mut(&mut self) -> impl Iterator<Item = &mut G> {
        self.guards.iter_mut().map(|(_, guard)| guard)
    }

    /// How many shards are locked.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.guards.len()
    }

    /// Every lock held, in shard order.
    #[cfg(test)]
    fn guards(&self) -> impl Iterator<Item = &G> {
        self.guards.iter().map(|(_, guard)| guard)
    }
}

impl<G, K, V, S> Locked<G>
where
    G: Deref<Target = HashMap<K, V, S>>,
    K: ShardKey + Eq + Hash + 'static,
    V: 'static,
    S: BuildHasher + 'static,
{
    /// The locked map that holds `key`.
    pub(super) fn map(&self, key: &K) -> Option<&HashMap<K, V, S>> {
        Some(&**self.guard(key.shard())?)
    }

    pub(super) fn get(&self, key: &K) -> Option<&V> {
        self.map(key)?.get(key)
    }

    pub(super) fn contains_key(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// The rows of every locked shard.
    #[cfg(test)]
    pub(super) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.guards().flat_map(|shard| shard.iter())
    }
}

impl<G, K, V, S> Locked<G>
where
    G: DerefMut<Target = HashMap<K, V, S>>,
    K: ShardKey + Eq + Hash + 'static,
    V: 'static,
    S: BuildHasher + 'static,
{
    /// The locked map that holds `key`, to change.
    pub(super) fn map_mut(&mut self, key: &K) -> Option<&mut HashMap<K, V, S>> {
        Some(&mut **self.guard_mut(key.shard())?)
    }

    pub(super) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.map_mut(key)?.get_mut(key)
    }

    /// Writes `value` under `key`, whose shard must be locked.
    pub(super) fn insert(&mut self, key: K, value: V) {
        if let Some(map) = self.map_mut(&key) {
            map.insert(key, value);
        }
    }

    pub(super) fn remove(&mut self, key: &K) -> Option<V> {
        self.map_mut(key)?.remove(key)
    }

    /// Writes `rows`, whose shards must be locked.
    pub(super) fn extend(&mut self, rows: impl IntoIterator<Item = (K, V)>) {
        for (key, value) in rows {
            self.insert(key, value);
        }
    }

    /// Keeps, in every locked shard, the rows for which `keep` holds.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        for shard in self.guards_mut() {
            shard.retain(&mut keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(byte: u8) -> CredentialHash {
        let mut bytes = [0u8; 32];
        bytes[8] = byte;
        CredentialHash::from_bytes(bytes)
    }

    /// Keys land in every shard, and a method sees only the shards it
    /// locked.
    #[test]
    fn keys_spread_over_the_shards_and_locks_cover_only_theirs() {
        let table = CredentialShards::<u8>::default();
        let hashes: Vec<CredentialHash> = (0..=255u8).map(hash).collect();
        let used: std::collections::HashSet<usize> = hashes.iter().map(ShardKey::shard).collect();
        assert_eq!(used.len(), SHARDS);
        let mut guards = table.lock(&hashes[..2]);
        guards.insert(hashes[0], 0);
        guards.insert(hashes[1], 1);
        assert_eq!(guards.get(&hashes[0]), Some(&0));
        assert_eq!(guards.get(&hashes[1]), Some(&1));
        assert_eq!(guards.len(), 2);
        drop(guards);
        let all = table.read_all();
        assert_eq!(all.len(), SHARDS);
        assert_eq!(all.iter().count(), 2);
        assert_eq!(all.get(&hashes[1]), Some(&1));
        drop(all);
        let mut all = table.lock_all();
        all.retain(|_, v| *v == 1);
        assert_eq!(all.iter().count(), 1);
        assert_eq!(all.remove(&hashes[1]), Some(1));
    }

    /// Up to four shards are held inline, more on the heap; either way each
    /// shard is locked once, in shard order, and every key's shard is found.
    #[test]
    fn few_and_many_locks_find_their_keys() {
        let table = CredentialShards::<u8>::default();
        for count in [1u8, 3, 4, 5, 9] {
            // Each key twice, in descending order.
            let keys: Vec<CredentialHash> =
                (0..count).rev().flat_map(|b| [hash(b), hash(b)]).collect();
            let wanted = CredentialShards::<u8>::wanted(&keys);
            let expected: Vec<usize> = (0..usize::from(count)).collect();
            assert_eq!(wanted.as_slice(), &expected[..], "{count}");
            let mut guards = table.lock(&keys);
            assert_eq!(guards.len(), usize::from(count));
            for (i, key) in keys.iter().enumerate() {
                guards.insert(*key, i as u8);
            }
            assert!(keys.iter().all(|key| guards.contains_key(key)));
            guards.retain(|_, _| false);
            assert!(!keys.iter().any(|key| guards.contains_key(key)));
        }
    }

    /// Grant ids, drawn at random, spread over every shard.
    #[test]
    fn grant_ids_spread_over_the_shards() {
        let used: std::collections::HashSet<usize> = (0..4096u32)
            .map(|n| {
                let id = GrantId::parse(&format!(
                    "grant_{:032x}",
                    u128::from(n) * 0x9e37_79b9_7f4a_7c15
                ))
                .unwrap();
                id.shard()
            })
            .collect();
        assert_eq!(used.len(), SHARDS);
    }

    /// A purge goes through every shard within one budget.
    #[test]
    fn a_purge_goes_through_every_shard_within_its_budget() {
        let table = CredentialShards::<u8>::default();
        table.lock_all().extend((0..=255u8).map(|b| (hash(b), b)));
        let mut budget = 100;
        let removed = table.purge(
            &mut budget,
            ContextLock::AfterTable,
            || (),
            |v, ()| v % 2 == 0,
        );
        assert_eq!((removed, budget), (100, 0));
        let mut budget = 100;
        let removed = table.purge(
            &mut budget,
            ContextLock::AfterTable,
            || (),
            |v, ()| v % 2 == 0,
        );
        assert_eq!((removed, budget), (28, 72));
        assert_eq!(table.read_all().iter().count(), 128);
    }
}
