//! [`RateLimitStore`] in memory: the counters and their sweep.

use std::sync::RwLock;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{MemoryStore, read, write};
use crate::credentials::keyring::{CredentialHash, CredentialHashMap};
use crate::storage::{RateLimitStore, StorageError};

/// The rate-limit counters, and when to sweep out the ones whose window
/// ended: whenever the table has doubled since the last sweep, so it holds
/// at most about twice the buckets of the current windows even if the host
/// never purges.
#[derive(Debug, Default)]
pub(super) struct RateLimitTable {
    pub(super) counters: CredentialHashMap<RateCounter>,
    pub(super) sweep_at: usize,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct RateCounter {
    pub(super) window_start: OffsetDateTime,
    pub(super) window_end: OffsetDateTime,
    pub(super) count: u32,
}

/// The smallest table size that triggers a sweep.
pub(super) const RATE_LIMIT_SWEEP_MIN: usize = 1024;

#[async_trait]
impl RateLimitStore for MemoryStore {
    async fn count_rate_limit(
        &self,
        bucket: &CredentialHash,
        window_start: OffsetDateTime,
        window_end: OffsetDateTime,
    ) -> Result<u32, StorageError> {
        let mut table = write(&self.rate_limits);
        if table.counters.len() >= table.sweep_at.max(RATE_LIMIT_SWEEP_MIN) {
            table.counters.retain(|_, c| c.window_end > window_start);
            table.sweep_at = table.counters.len().saturating_mul(2);
        }
        let counter = table.counters.entry(*bucket).or_insert(RateCounter {
            window_start,
            window_end,
            count: 0,
        });
        if counter.window_start >= window_start {
            counter.count = counter.count.saturating_add(1);
        } else {
            *counter = RateCounter {
                window_start,
                window_end,
                count: 1,
            };
        }
        Ok(counter.count)
    }

    async fn rate_limit_count(
        &self,
        bucket: &CredentialHash,
        window_start: OffsetDateTime,
    ) -> Result<u32, StorageError> {
        Ok(read(&self.rate_limits)
            .counters
            .get(bucket)
            .filter(|c| c.window_start >= window_start)
            .map_or(0, |c| c.count))
    }

    async fn refund_rate_limit(
        &self,
        bucket: &CredentialHash,
        window_start: OffsetDateTime,
    ) -> Result<(), StorageError> {
        let mut table = write(&self.rate_limits);
        if let Some(counter) = table
            .counters
            .get_mut(bucket)
            .filter(|c| c.window_start == window_start)
        {
            counter.count = counter.count.saturating_sub(1);
        }
        Ok(())
    }

    async fn purge_rate_limits(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StorageError> {
        let mut budget = usize::try_from(limit).unwrap_or(usize::MAX);
        let removed = purge_map(&self.rate_limits, &mut budget, |c: &RateCounter| {
            c.window_end <= now
        });
        Ok(removed)
    }
}

/// [`purge`] for the rate-limit table, whose map sits in a struct.
pub(super) fn purge_map(
    table: &RwLock<RateLimitTable>,
    budget: &mut usize,
    expired: impl Fn(&RateCounter) -> bool,
) -> u64 {
    if *budget == 0 {
        return 0;
    }
    let candidates: Vec<CredentialHash> = read(table)
        .counters
        .iter()
        .filter(|(_, c)| expired(c))
        .map(|(k, _)| *k)
        .take(*budget)
        .collect();
    if candidates.is_empty() {
        return 0;
    }
    let mut table = write(table);
    let mut removed = 0;
    for key in &candidates {
        if table.counters.get(key).is_some_and(&expired) {
            table.counters.remove(key);
            removed += 1;
        }
    }
    *budget -= removed;
    removed as u64
}
