//! Limits on what a client without a secret can spend, counted per client
//! address in storage ([`RateLimitStore`](crate::storage::RateLimitStore)), so that
//! every server node over one store shares them.
//!
//! Each limit is a fixed window aligned to the Unix epoch (every node
//! agrees on it) and a budget per window, kept in a bucket: the keyed hash
//! of the limit's name, what it is counted for (a publishable key's id, a
//! presented client id) and the client's network (an IPv4 address, an
//! IPv6 /64; see [`AuthorizationServer::client_address`]). Storage sees
//! neither the address nor the id.

use std::net::IpAddr;

use time::{Duration, OffsetDateTime};

use crate::config::RateLimit;
use crate::credentials::keyring::CredentialHash;
use crate::hooks::events::Event;
use crate::model::ids::ClientId;
use crate::server::AuthorizationServer;
use crate::server::client_address::limit_key;
use crate::storage::{Storage, StorageError};

/// The MAC domain of rate-limit buckets.
const BUCKET_DOMAIN: &str = "rate_limit";

/// The longest part of a subject that goes into a bucket (a client id is
/// far shorter; a longer one is no client's).
const MAX_SUBJECT: usize = 256;

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    /// Connect sessions a publishable key creates for one address.
    PublishableKeySessions,
    /// Failed client authentications for one client id from one address.
    ClientAuthentication,
    /// Failed admin-key authentications from one address.
    AdminAuthentication,
}

impl Limit {
    /// The limit's name, in buckets and in [`Event::RateLimited`].
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::PublishableKeySessions => "publishable_key_sessions",
            Self::ClientAuthentication => "client_authentication",
            Self::AdminAuthentication => "admin_authentication",
        }
    }
}

/// One bucket in its current window.
#[derive(Debug, Clone)]
pub(crate) struct Counter {
    limit: Limit,
    rule: RateLimit,
    bucket: CredentialHash,
    window_start: OffsetDateTime,
    window_end: OffsetDateTime,
    now: OffsetDateTime,
    client_id: Option<ClientId>,
    address: Option<IpAddr>,
}

impl Counter {
    /// How long until the window ends.
    fn retry_after(&self) -> Duration {
        self.window_end - self.now
    }
}

/// The fixed window of length `window` holding `now`: windows are aligned to
/// the Unix epoch, so every server agrees on them.
pub(crate) fn fixed_window(
    now: OffsetDateTime,
    window: Duration,
) -> (OffsetDateTime, OffsetDateTime) {
    let length = window.whole_nanoseconds().max(1);
    let at = now.unix_timestamp_nanos();
    let start_nanos = at - at.rem_euclid(length);
    let start = OffsetDateTime::from_unix_timestamp_nanos(start_nanos).unwrap_or(now);
    (start, start + window)
}

/// `Retry-After` in whole seconds (RFC 9110 §10.2.3), rounded up, at least 1.
pub(crate) fn retry_after_seconds(retry_after: Duration) -> i64 {
    let seconds = retry_after.whole_seconds() + i64::from(retry_after.subsec_nanoseconds() > 0);
    seconds.max(1)
}

impl<S: Storage> AuthorizationServer<S> {
    /// The counter of `limit` for `subject` (what it is counted for) from
    /// `address`, in the current window. `client_id` only names the
    /// client in the event of a refusal.
    pub(crate) fn counter(
        &self,
        limit: Limit,
        subject: &[u8],
        address: Option<IpAddr>,
        client_id: Option<ClientId>,
    ) -> Counter {
        let config = self.config();
        let rule = match limit {
            Limit::PublishableKeySessions => config.publishable_key_rate_limit(),
            Limit::ClientAuthentication | Limit::AdminAuthentication => {
                config.authentication_failure_limit()
            }
        };
        let keys = config.keys();
        let network = limit_key(address);
        let subject = &subject[..subject.len().min(MAX_SUBJECT)];
        // The current key always hashes (a part would have to exceed
        // 4 GiB otherwise); were it ever not to, every request would share
        // one bucket: stricter, never looser.
        let bucket = keys
            .hash(
                keys.current_id(),
                BUCKET_DOMAIN,
                &[limit.name().as_bytes(), subject, &network],
            )
            .unwrap_or_else(|| CredentialHash::from_bytes([0; 32]));
        let now = self.now();
        let (window_start, window_end) = fixed_window(now, rule.window);
        Counter {
            limit,
            rule,
            bucket,
            window_start,
            window_end,
            now,
            client_id,
            address,
        }
    }

    /// Counts one event: `Ok(())` within the budget, `Err(retry_after)`
    /// beyond it (reported as an [`Event::RateLimited`]).
    pub(crate) async fn spend(
        &self,
        counter: &Counter,
    ) -> Result<Result<(), Duration>, StorageError> {
        let count = self
            .storage()
            .count_rate_limit(&counter.bucket, counter.window_start, counter.window_end)
            .await?;
        if count > counter.rule.requests {
            Ok(Err(self.refused(counter)))
        } else {
            Ok(Ok(()))
        }
    }

    /// Without counting: `Some(retry_after)` when the budget is spent
    /// (reported as an [`Event::RateLimited`]).
    pub(crate) async fn exhausted(
        &self,
        counter: &Counter,
    ) -> Result<Option<Duration>, StorageError> {
        let count = self
            .storage()
            .rate_limit_count(&counter.bucket, counter.window_start)
            .await?;
        Ok((count >= counter.rule.requests).then(|| self.refused(counter)))
    }

    /// Takes back one event counted by [`spend`](Self::spend).
    pub(crate) async fn refund(&self, counter: &Counter) -> Result<(), StorageError> {
        self.storage()
            .refund_rate_limit(&counter.bucket, counter.window_start)
            .await
    }

    /// Reports a refusal and says how long until the window ends.
    fn refused(&self, counter: &Counter) -> Duration {
        let retry_after = counter.retry_after();
        self.config().events().emit(&Event::RateLimited {
            limit: counter.limit.name(),
            client_id: counter.client_id.clone(),
            client_address: counter.address,
            retry_after,
        });
        retry_after
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn windows_are_aligned_to_the_epoch() {
        let (start, end) = fixed_window(datetime!(2025-06-01 12:34:56.789 UTC), Duration::MINUTE);
        assert_eq!(start, datetime!(2025-06-01 12:34:00 UTC));
        assert_eq!(end, datetime!(2025-06-01 12:35:00 UTC));
        let (start, _) = fixed_window(datetime!(2025-06-01 12:35:00 UTC), Duration::MINUTE);
        assert_eq!(start, datetime!(2025-06-01 12:35:00 UTC));
        let (start, end) = fixed_window(datetime!(2025-06-01 00:00:07 UTC), Duration::seconds(5));
        assert_eq!(
            (start, end),
            (
                datetime!(2025-06-01 00:00:05 UTC),
                datetime!(2025-06-01 00:00:10 UTC)
            )
        );
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Duration::milliseconds(1)), 1);
        assert_eq!(retry_after_seconds(Duration::seconds(3)), 3);
        assert_eq!(retry_after_seconds(Duration::milliseconds(3001)), 4);
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
    }

    /// Buckets differ by limit, subject and network, and are the same for
    /// two addresses of one IPv6 /64.
    #[test]
    fn buckets_separate_limits_subjects_and_networks() {
        let server = crate::AuthorizationServer::builder(crate::MemoryStore::new())
            .issuer("https://auth.example.com")
            .build()
            .unwrap();
        let ip = |t: &str| Some(t.parse::<IpAddr>().unwrap());
        let bucket = |limit, subject: &str, address| {
            server
                .counter(limit, subject.as_bytes(), address, None)
                .bucket
        };
        let base = bucket(Limit::ClientAuthentication, "oc_client_a", ip("192.0.2.1"));
        assert_ne!(
            base,
            bucket(Limit::AdminAuthentication, "oc_client_a", ip("192.0.2.1"))
        );
        assert_ne!(
            base,
            bucket(Limit::ClientAuthentication, "oc_client_b", ip("192.0.2.1"))
        );
        assert_ne!(
            base,
            bucket(Limit::ClientAuthentication, "oc_client_a", ip("192.0.2.2"))
        );
        assert_ne!(
            base,
            bucket(Limit::ClientAuthentication, "oc_client_a", None)
        );
        assert_eq!(
            bucket(Limit::ClientAuthentication, "x", ip("2001:db8::1")),
            bucket(Limit::ClientAuthentication, "x", ip("2001:db8::ffff:2"))
        );
    }
}
