//! The retry schedule: exponential backoff with jitter, for a day.
//!
//! The first attempt is made at once. After the n-th failed attempt the
//! next one waits `10 s × 3^(n-1)`, capped at 4 hours, each delay moved at
//! random by up to ±20 % so that many failing deliveries do not retry in
//! step:
//!
//! | after attempt | waits about |
//! |---|---|
//! | 1 | 10 s |
//! | 2 | 30 s |
//! | 3 | 1.5 min |
//! | 4 | 4.5 min |
//! | 5 | 13.5 min |
//! | 6 | 40.5 min |
//! | 7 | 2 h |
//! | 8 and later | 4 h |
//!
//! A message is given up ([`DeliveryStatus::Failed`](super::DeliveryStatus))
//! once its next attempt would start more than [`GIVE_UP_AFTER`] (a day)
//! after its first: about 13 attempts. An endpoint is disabled when a
//! message is given up so, or when it has had no success for
//! [`DISABLE_AFTER`] (a day) of failures; [`Event::WebhookEndpointDisabled`]
//! reports it
//! (its pending deliveries fail with it). Enabling it again
//! (`PATCH … {"enabled": true}`) starts afresh, and a failed delivery can be
//! sent again (`POST …/deliveries/{id}/retry`).
//!
//! [`Event::WebhookEndpointDisabled`]: crate::hooks::events::Event::WebhookEndpointDisabled

use time::{Duration, OffsetDateTime};

/// The first retry's delay.
pub const FIRST_DELAY: Duration = Duration::seconds(10);

/// The longest delay between two attempts.
pub const MAX_DELAY: Duration = Duration::hours(4);

/// How long after its first attempt a message is still retried.
pub const GIVE_UP_AFTER: Duration = Duration::DAY;

/// How long an endpoint may fail without a single success before it is
/// disabled.
pub const DISABLE_AFTER: Duration = Duration::DAY;

/// The delay before the next attempt after `failed_attempts` failures
/// (1 or more), before jitter.
pub fn base_delay(failed_attempts: u32) -> Duration {
    let exponent = failed_attempts.saturating_sub(1).min(10);
    let delay = FIRST_DELAY * 3_i32.pow(exponent);
    delay.min(MAX_DELAY)
}

/// The delay with jitter: `jitter` is a random value in `0..=u16::MAX`,
/// mapped onto ±20 %.
pub fn jittered_delay(failed_attempts: u32, jitter: u16) -> Duration {
    let base = base_delay(failed_attempts);
    // factor in [0.8, 1.2]
    let factor = 0.8 + 0.4 * (f64::from(jitter) / f64::from(u16::MAX));
    base * factor
}

/// When to try again after `failed_attempts` failures, or `None` when the
/// message is given up (the next attempt would start more than
/// [`GIVE_UP_AFTER`] after `first_attempt`).
pub fn next_attempt(
    first_attempt: OffsetDateTime,
    failed_attempts: u32,
    now: OffsetDateTime,
    jitter: u16,
) -> Option<OffsetDateTime> {
    let at = now + jittered_delay(failed_attempts, jitter);
    (at - first_attempt <= GIVE_UP_AFTER).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_threefold_up_to_four_hours() {
        let secs: Vec<i64> = (1..=9).map(|n| base_delay(n).whole_seconds()).collect();
        assert_eq!(secs[..6], [10, 30, 90, 270, 810, 2430]);
        assert_eq!(secs[6], 7290);
        assert_eq!(secs[7..], [14400, 14400]);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        for n in 1..12 {
            let base = base_delay(n).as_seconds_f64();
            let low = jittered_delay(n, 0).as_seconds_f64();
            let high = jittered_delay(n, u16::MAX).as_seconds_f64();
            assert!((low - 0.8 * base).abs() < 1e-3 && (high - 1.2 * base).abs() < 1e-3);
        }
    }

    #[test]
    fn retries_stop_after_a_day() {
        let start = OffsetDateTime::UNIX_EPOCH;
        let mut now = start;
        let mut attempts = 1;
        while let Some(at) = next_attempt(start, attempts, now, u16::MAX / 2) {
            now = at;
            attempts += 1;
        }
        assert!(now - start <= GIVE_UP_AFTER);
        assert!((10..=16).contains(&attempts), "{attempts} attempts");
    }
}
