//! [`RateLimitStore`] on PostgreSQL: table `oauth_rate_limits`
//! (`migrations/0010_limits.sql`).
//!
//! Every method is one statement and one round trip. Counting is an upsert
//! on the bucket's row: concurrent counts queue on its row lock and each
//! sees the count the previous one left (`ON CONFLICT DO UPDATE` works on
//! the latest version of the row), so none is lost.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::error::Within as _;
use super::rows::{get, hash_param};
use super::{PostgresStore, error};
use crate::credentials::keyring::CredentialHash;
use crate::storage::{RateLimitStore, StorageError};

/// The right-hand sides read the row's old values: a held window at or
/// after `$2` counts on (a lagging clock counts in the held window), an
/// earlier one restarts at 1 in the new window.
const COUNT: &str = "INSERT INTO oauth_rate_limits AS r (bucket, window_start, window_end, count) \
     VALUES ($1, $2, $3, 1) \
     ON CONFLICT (bucket) DO UPDATE SET \
       count = CASE WHEN r.window_start >= excluded.window_start \
         THEN LEAST(r.count, 2147483646) + 1 ELSE 1 END, \
       window_end = CASE WHEN r.window_start >= excluded.window_start \
         THEN r.window_end ELSE excluded.window_end END, \
       window_start = GREATEST(r.window_start, excluded.window_start) \
     RETURNING count";

const READ: &str = "SELECT count FROM oauth_rate_limits WHERE bucket = $1 AND window_start >= $2";

const REFUND: &str = "UPDATE oauth_rate_limits SET count = count - 1 \
     WHERE bucket = $1 AND window_start = $2 AND count > 0";

/// Rows are claimed with `FOR UPDATE SKIP LOCKED`: concurrent purges split
/// the work.
const PURGE: &str = "WITH gone AS ( \
       DELETE FROM oauth_rate_limits WHERE bucket IN ( \
         SELECT bucket FROM oauth_rate_limits WHERE window_end <= $1 \
         LIMIT $2 FOR UPDATE SKIP LOCKED) \
       RETURNING 1 \
     ) SELECT count(*) AS purged FROM gone";

fn count_of(value: i32) -> Result<u32, StorageError> {
    u32::try_from(value).map_err(|_| error::corrupt("count", "negative"))
}

#[async_trait]
impl RateLimitStore for PostgresStore {
    async fn count_rate_limit(
        &self,
        bucket: &CredentialHash,
        window_start: OffsetDateTime,
        window_end: OffsetDateTime,
    ) -> Result<u32, StorageError> {
        let row = sqlx::query(COUNT)
            .bind(hash_param(bucket))
            .bind(window_start)
            .bind(window_end)
            .fetch_one(&self.pool)
            .within(self.timeout)
            .await?;
        count_of(get(&row, "count")?)
    }

    async fn rate_limit_count(
        &self,
        bucket: &CredentialHash,
        window_start: OffsetDateTime,
    ) -> Result<u32, StorageError> {
        let row = sqlx::query(READ)
            .bind(hash_param(bucket))
            .bind(window_start)
            .fetch_optional(&self.pool)
            .within(self.timeout)
            .await?;
        match row {
            Some(row) => count_of(get(&row, "count")?),
            None => Ok(0),
        }
    }

    async fn refund_rate_limit(
        &self,
        bucket: &CredentialHash,
        window_start: OffsetDateTime,
    ) -> Result<(), StorageError> {
        sqlx::query(REFUND)
            .bind(hash_param(bucket))
            .bind(window_start)
            .execute(&self.pool)
            .within(self.timeout)
            .await?;
        Ok(())
    }

    async fn purge_rate_limits(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StorageError> {
        let row = sqlx::query(PURGE)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_one(&self.pool)
            .within(self.timeout)
            .await?;
        Ok(u64::try_from(get::<i64>(&row, "purged")?).unwrap_or(0))
    }
}
