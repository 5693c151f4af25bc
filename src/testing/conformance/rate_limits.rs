//! The [`RateLimitStore`](crate::storage::RateLimitStore) checks.

use std::sync::Arc;

use time::Duration;

use super::fixtures::{base_time, random_hash};
use crate::credentials::keyring::CredentialHash;
use crate::storage::Storage;

/// A bucket counts within its window, restarts at 1 in a later window,
/// counts a lagging (earlier) window in the one it holds, reads without
/// counting, and is independent of every other bucket.
pub async fn rate_limits_count_in_fixed_windows<S: Storage>(store: Arc<S>) {
    let (bucket, other) = (random_hash(), random_hash());
    let w0 = base_time();
    let w1 = w0 + Duration::minutes(1);
    let w2 = w1 + Duration::minutes(1);
    assert_eq!(store.rate_limit_count(&bucket, w0).await.unwrap(), 0);
    for expected in 1..=3 {
        assert_eq!(
            store.count_rate_limit(&bucket, w0, w1).await.unwrap(),
            expected
        );
    }
    assert_eq!(store.rate_limit_count(&bucket, w0).await.unwrap(), 3);
    assert_eq!(
        store.rate_limit_count(&bucket, w0).await.unwrap(),
        3,
        "reading counts nothing"
    );
    assert_eq!(
        store.count_rate_limit(&other, w0, w1).await.unwrap(),
        1,
        "per bucket"
    );
    assert_eq!(
        store.count_rate_limit(&bucket, w1, w2).await.unwrap(),
        1,
        "a new window restarts"
    );
    assert_eq!(
        store.rate_limit_count(&bucket, w1).await.unwrap(),
        1,
        "the new window's count"
    );
    assert_eq!(
        store.count_rate_limit(&bucket, w0, w1).await.unwrap(),
        2,
        "an earlier window counts in the held one"
    );
    assert_eq!(
        store.rate_limit_count(&bucket, w2).await.unwrap(),
        0,
        "a later window has counted nothing yet"
    );
}

/// Concurrent counts of one bucket are each counted exactly once: the
/// counts returned are 1..=n, every one of them once.
pub async fn rate_limits_concurrent_counts_are_each_counted_once<S: Storage>(store: Arc<S>) {
    let bucket = random_hash();
    let start = base_time();
    let end = start + Duration::minutes(1);
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store.count_rate_limit(&bucket, start, end).await.unwrap()
        }));
    }
    let mut counts = Vec::new();
    for task in tasks {
        counts.push(task.await.unwrap());
    }
    counts.sort_unstable();
    assert_eq!(
        counts,
        (1..=40).collect::<Vec<u32>>(),
        "no count lost or doubled"
    );
    assert_eq!(store.rate_limit_count(&bucket, start).await.unwrap(), 40);
}

/// A refund takes back one count of its own window, never below zero, and
/// nothing of another window or an unknown bucket.
pub async fn rate_limits_refund_takes_back_one_in_its_window<S: Storage>(store: Arc<S>) {
    let bucket = random_hash();
    let w0 = base_time();
    let w1 = w0 + Duration::minutes(1);
    store.count_rate_limit(&bucket, w0, w1).await.unwrap();
    store.count_rate_limit(&bucket, w0, w1).await.unwrap();
    store.refund_rate_limit(&bucket, w0).await.unwrap();
    assert_eq!(store.rate_limit_count(&bucket, w0).await.unwrap(), 1);
    store.refund_rate_limit(&bucket, w1).await.unwrap();
    assert_eq!(
        store.rate_limit_count(&bucket, w0).await.unwrap(),
        1,
        "another window's refund takes nothing"
    );
    store.refund_rate_limit(&bucket, w0).await.unwrap();
    store.refund_rate_limit(&bucket, w0).await.unwrap();
    assert_eq!(
        store.rate_limit_count(&bucket, w0).await.unwrap(),
        0,
        "never below zero"
    );
    assert_eq!(store.count_rate_limit(&bucket, w0, w1).await.unwrap(), 1);
    store.refund_rate_limit(&random_hash(), w0).await.unwrap();
}

/// The purge removes buckets whose window has ended, at most `limit` per
/// call, and keeps every bucket whose window is still running.
pub async fn rate_limits_purge_removes_only_ended_windows<S: Storage>(store: Arc<S>) {
    let now = base_time();
    let ended: Vec<CredentialHash> = (0..5).map(|_| random_hash()).collect();
    for bucket in &ended {
        store
            .count_rate_limit(
                bucket,
                now - Duration::minutes(2),
                now - Duration::minutes(1),
            )
            .await
            .unwrap();
    }
    let live = random_hash();
    store
        .count_rate_limit(&live, now, now + Duration::minutes(1))
        .await
        .unwrap();
    // Ended exactly now: gone too.
    let at_end = random_hash();
    store
        .count_rate_limit(&at_end, now - Duration::minutes(1), now)
        .await
        .unwrap();
    assert!(
        store.purge_rate_limits(now, 2).await.unwrap() <= 2,
        "bounded by the limit"
    );
    while store.purge_rate_limits(now, 2).await.unwrap() == 2 {}
    for bucket in ended.iter().chain([&at_end]) {
        assert_eq!(
            store
                .rate_limit_count(bucket, now - Duration::minutes(2))
                .await
                .unwrap(),
            0,
            "an ended window is purged"
        );
    }
    assert_eq!(
        store.rate_limit_count(&live, now).await.unwrap(),
        1,
        "a live window stays"
    );
}
