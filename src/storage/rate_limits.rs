//! The rate-limit side of the storage contract ([`RateLimitStore`]):
//! fixed-window counters that every server node over one store shares.
//!
//! A counter is found by its bucket, an opaque keyed hash of what it counts
//! (the limit, a credential's id, the client's network): storage never
//! sees an address or an id. Each bucket is one record holding the window
//! it counts in; a record whose window has ended is worth nothing and goes
//! with [`purge_rate_limits`](RateLimitStore::purge_rate_limits), so the
//! records are bounded by the buckets used within one window.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StorageError;
use crate::credentials::keyring::CredentialHash;

/// Storage of rate-limit counters.
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Counts one event in `bucket` for the fixed window
    /// `[window_start, window_end)`, atomically, and returns the events
    /// counted in that window including this one (saturating at
    /// `u32::MAX`). A bucket holding an earlier window restarts at 1 in
    /// this one; a call naming a window earlier than the one the bucket
    /// holds (a server whose clock lags) counts in the held one. Of any
    /// number of concurrent calls each is counted exactly once.
    async fn count_rate_limit(
        &self,
        bucket: &CredentialHash,
        window_start: OffsetDateTime,
        window_end: OffsetDateTime,
    ) -> Result<u32, StorageError>;

    /// The events counted in `bucket` in the window starting at
    /// `window_start` (or a later one it holds), without counting; 0 for a
    /// bucket that holds an earlier window or does not exist.
    async fn rate_limit_count(
        &self,
        bucket: &CredentialHash,
        window_start: OffsetDateTime,
    ) -> Result<u32, StorageError>;

    /// Takes back one event counted in `bucket` in the window starting at
    /// `window_start` (a request that turned out not to spend the budget),
    /// atomically; nothing when the bucket holds another window or counts
    /// none.
    async fn refund_rate_limit(
        &self,
        bucket: &CredentialHash,
        window_start: OffsetDateTime,
    ) -> Result<(), StorageError>;

    /// Deletes up to `limit` buckets whose window ended at or before `now`
    /// and returns how many. Safe to run from several processes at once.
    async fn purge_rate_limits(&self, now: OffsetDateTime, limit: u32)
    -> Result<u64, StorageError>;
}
