//! The storage conformance suite against PostgreSQL.
//!
//! Needs a database: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/test
//! cargo test --all-features`. Without `DATABASE_URL` every check returns at
//! once and says so on stderr. Each check runs in a fresh schema of its own
//! (`oc_test_<unix seconds>_<random>`), so runs never see each other's rows;
//! schemas of runs older than an hour are dropped on the way.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hash::{BuildHasher as _, RandomState};
use std::io::Write as _;
use std::sync::Once;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use oauth_connect::conformance::{app_record, fresh_workspace};
use oauth_connect::{
    AppStore as _, DEFAULT_ACQUIRE_TIMEOUT, PostgresStore, StorageErrorKind, WorkspaceId,
};
use sqlx::Row as _;
use time::OffsetDateTime;

const SCHEMA_PREFIX: &str = "oc_test_";
const STALE_AFTER_SECS: u64 = 60 * 60;

/// `DATABASE_URL`, or `None` after saying (once per process, on the real
/// stderr so the test harness does not swallow it) that the PostgreSQL tests
/// did not run.
fn database_url() -> Option<String> {
    static SKIPPED: Once = Once::new();
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            SKIPPED.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "\nNOTE: DATABASE_URL is not set: the PostgreSQL conformance tests were NOT run.\n\
                     Run them with: DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo test --all-features\n"
                );
            });
            None
        }
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Drops the schemas of test runs older than [`STALE_AFTER_SECS`]; best
/// effort (a concurrent run may be dropping the same ones).
async fn drop_stale_schemas(store: &PostgresStore) {
    let names = sqlx::query("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)")
        .bind(SCHEMA_PREFIX)
        .fetch_all(store.pool())
        .await
        .unwrap();
    let now = unix_secs();
    for row in names {
        let name: String = row.get("nspname");
        let created = name
            .strip_prefix(SCHEMA_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|created| now.saturating_sub(created) > STALE_AFTER_SECS)
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            let drop = format!("DROP SCHEMA IF EXISTS {name} CASCADE");
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                .execute(store.pool())
                .await;
        }
    }
}

/// A store in a new, migrated schema of its own.
async fn fresh_store(url: String) -> PostgresStore {
    let schema = format!(
        "{SCHEMA_PREFIX}{}_{:016x}",
        unix_secs(),
        RandomState::new().hash_one(Instant::now())
    );
    // Create the schema up front (a connection without a search path),
    // then connect inside it.
    let admin = PostgresStore::connect(&url).await.expect("connect");
    drop_stale_schemas(&admin).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(admin.pool())
        .await
        .unwrap();
    admin.pool().close().await;
    let store = PostgresStore::connect_with_schema(&url, &schema)
        .await
        .expect("connect with schema");
    store.migrate().await.expect("migrate");
    store
}

oauth_connect::storage_conformance_tests!({
    // Without a database, this returns from the generated test itself.
    let Some(url) = database_url() else { return };
    fresh_store(url)
});

/// The schema is really per store: a table in one is invisible from
/// another, and migrating twice is harmless.
#[tokio::test]
async fn schemas_isolate_stores_and_migrate_is_idempotent() {
    let Some(url) = database_url() else { return };
    let one = fresh_store(url.clone()).await;
    let two = fresh_store(url).await;
    one.migrate().await.expect("second migrate is a no-op");
    two.migrate_unlocked().await.expect("so is an unlocked one");
    let record = app_record(&fresh_workspace(), OffsetDateTime::UNIX_EPOCH, None);
    one.insert_app(&record).await.unwrap();
    assert!(
        two.get_app_by_client_id(&record.app.client_id)
            .await
            .unwrap()
            .is_none()
    );
    let search_path: String = sqlx::query("SHOW search_path")
        .fetch_one(one.pool())
        .await
        .unwrap()
        .get(0);
    assert!(search_path.starts_with(SCHEMA_PREFIX), "{search_path}");
    for store in [one, two] {
        let drop = format!(
            "DROP SCHEMA {search_path} CASCADE",
            search_path = schema_of(&store).await
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
            .execute(store.pool())
            .await
            .unwrap();
    }
}

async fn schema_of(store: &PostgresStore) -> String {
    sqlx::query("SELECT current_schema()")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0)
}

/// Nothing listens on port 1: connecting fails with a retryable kind, within
/// the pool's acquire timeout, and without a panic.
#[tokio::test]
async fn an_unreachable_database_fails_fast() {
    let bound = DEFAULT_ACQUIRE_TIMEOUT + Duration::from_secs(5);
    let started = Instant::now();
    let outcome = tokio::time::timeout(
        bound,
        PostgresStore::connect("postgres://postgres@127.0.0.1:1/test"),
    )
    .await
    .expect("connect gave up within the acquire timeout");
    let err = outcome.expect_err("nothing listens on port 1");
    assert!(
        matches!(
            err.kind(),
            StorageErrorKind::Unavailable | StorageErrorKind::Timeout
        ),
        "{err}"
    );
    assert!(started.elapsed() < bound);
}

/// A lazily connected pool meets the same failure at the first operation.
#[tokio::test]
async fn an_unreachable_database_fails_operations_within_the_timeout() {
    let acquire = Duration::from_secs(1);
    let pool = PostgresStore::default_pool_options()
        .acquire_timeout(acquire)
        .connect_lazy("postgres://postgres@127.0.0.1:1/test")
        .unwrap();
    let store = PostgresStore::from_pool(pool);
    let ws = WorkspaceId::parse("ws_unreachable").unwrap();
    let record = app_record(&ws, OffsetDateTime::UNIX_EPOCH, None);
    let err = tokio::time::timeout(
        acquire + Duration::from_secs(5),
        store.get_app(&ws, &record.app.id),
    )
    .await
    .expect("the operation gave up within the acquire timeout")
    .expect_err("nothing listens on port 1");
    assert!(
        matches!(
            err.kind(),
            StorageErrorKind::Unavailable | StorageErrorKind::Timeout
        ),
        "{err}"
    );
}

/// Counts the statements sqlx executes on this thread: sqlx emits one
/// `sqlx::query` event per statement it runs (when a subscriber wants it),
/// whether it succeeds or fails.
struct StatementCounter(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl tracing::Subscriber for StatementCounter {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target() == "sqlx::query" {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// The statements `step` sends.
async fn statements<T>(
    count: &std::sync::atomic::AtomicUsize,
    step: impl std::future::Future<Output = T>,
) -> (usize, T) {
    let before = count.load(std::sync::atomic::Ordering::SeqCst);
    let out = step.await;
    (
        count.load(std::sync::atomic::Ordering::SeqCst) - before,
        out,
    )
}

/// The round trips the module docs promise: client authentication, the
/// code exchange, a refresh and an approval (Connect or not) are one
/// statement per storage call, and a refused change costs one more. (Counted by sqlx's own per-statement
/// events, on a current-thread runtime so that every event lands on the
/// thread whose subscriber counts them.)
#[tokio::test]
async fn token_endpoint_paths_send_one_statement_per_call() {
    use oauth_connect::conformance::{
        connect_approval, customer_record, grant_and_code, session_record, token_record,
    };
    use oauth_connect::{
        CodeRedemption, GrantStore as _, RefreshRotation, SessionCompletion, SessionDecision,
        TokenKind,
    };

    let Some(url) = database_url() else { return };
    let store = fresh_store(url).await;
    let now = OffsetDateTime::now_utc();
    let app = app_record(
        &fresh_workspace(),
        now,
        Some(oauth_connect::conformance::random_hash()),
    );
    store.insert_app(&app).await.unwrap();
    let session = session_record(&app, now);
    store.insert_session(&session).await.unwrap();
    let (grant, code) = grant_and_code(&app, now);

    // A second registered dispatcher, alive as long as the counter: with
    // only one, tracing-core computes the interest of a callsite first hit
    // on another thread (another test's, without a subscriber) from that
    // thread's dispatcher alone, caches "never", and our events are lost.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let dispatch = tracing::Dispatch::new(StatementCounter(std::sync::Arc::clone(&count)));
    let _guard = tracing::dispatcher::set_default(&dispatch);

    let (n, found) = statements(&count, store.get_app_by_client_id(&app.app.client_id)).await;
    assert!(found.unwrap().is_some());
    assert_eq!(n, 1, "client authentication");

    let approve = SessionDecision::Approve {
        grant: Box::new(grant.clone()),
        code: Box::new(code.clone()),
        connect: None,
    };
    let (n, done) = statements(&count, store.complete_session(&session.hash, &approve, now)).await;
    assert!(matches!(done.unwrap(), SessionCompletion::Completed(_)));
    assert_eq!(
        n, 1,
        "an approval: session, grant and code in one statement"
    );

    // A Connect approval: customer, connection and scoped key too, still
    // one statement; a second one for the same reference id updates the
    // connection in place and revokes the old grant, also in one.
    let customer = customer_record(&app, "counted", now);
    for _ in 0..2 {
        let connect_session = session_record(&app, now);
        store.insert_session(&connect_session).await.unwrap();
        let (grant, code, connect) = connect_approval(&app, &customer, true, now);
        let decision = SessionDecision::Approve {
            grant: Box::new(grant),
            code: Box::new(code),
            connect: Some(Box::new(connect)),
        };
        let (n, done) = statements(
            &count,
            store.complete_session(&connect_session.hash, &decision, now),
        )
        .await;
        assert!(matches!(done.unwrap(), SessionCompletion::Completed(_)));
        assert_eq!(n, 1, "a Connect approval: one statement");
    }
    // A new customer under a taken reference id: refused, and the session
    // read once more to tell the conflict from a completed session.
    let impostor = customer_record(&app, "counted", now);
    let connect_session = session_record(&app, now);
    store.insert_session(&connect_session).await.unwrap();
    let (grant2, code2, connect) = connect_approval(&app, &impostor, false, now);
    let decision = SessionDecision::Approve {
        grant: Box::new(grant2),
        code: Box::new(code2),
        connect: Some(Box::new(connect)),
    };
    let (n, refused) = statements(
        &count,
        store.complete_session(&connect_session.hash, &decision, now),
    )
    .await;
    assert_eq!(refused.unwrap_err().kind(), StorageErrorKind::Conflict);
    assert_eq!(n, 2, "a refused customer: the approval, then the reread");

    let access = token_record(&grant, TokenKind::Access, now);
    let refresh = token_record(&grant, TokenKind::Refresh, now);
    let tokens = [access, refresh.clone()];
    let expiry = now + time::Duration::days(30);
    let (n, got) = statements(&count, store.get_code(&code.hash)).await;
    assert!(got.unwrap().is_some());
    let (m, redeemed) =
        statements(&count, store.redeem_code(&code.hash, &tokens, expiry, now)).await;
    assert!(matches!(redeemed.unwrap(), CodeRedemption::Redeemed(_)));
    assert_eq!((n, m), (1, 1), "code exchange: get_code + redeem_code");

    let (n, again) = statements(&count, store.redeem_code(&code.hash, &[], expiry, now)).await;
    assert!(matches!(again.unwrap(), CodeRedemption::AlreadyRedeemed(_)));
    assert_eq!(n, 2, "a refused redemption reads the code once more");

    let next = [
        token_record(&grant, TokenKind::Access, now),
        token_record(&grant, TokenKind::Refresh, now),
    ];
    let (n, got) = statements(&count, store.get_token(&refresh.hash)).await;
    assert!(got.unwrap().is_some());
    let (m, rotated) = statements(
        &count,
        store.rotate_refresh_token(&refresh.hash, &next, expiry, None, now),
    )
    .await;
    assert!(matches!(rotated.unwrap(), RefreshRotation::Rotated(_)));
    assert_eq!((n, m), (1, 1), "refresh: get_token + rotate_refresh_token");

    let (n, reused) = statements(
        &count,
        store.rotate_refresh_token(&refresh.hash, &[], expiry, None, now),
    )
    .await;
    assert!(matches!(reused.unwrap(), RefreshRotation::Reused(_)));
    assert_eq!(n, 2, "reuse: the refused rotation, then the revoking one");
}

/// Several purges at once (as from several nodes) split the work: no
/// error, no record counted twice, everything expired gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_purges_split_the_work() {
    use oauth_connect::conformance::{grant_and_code, random_hash, session_record, token_record};
    use oauth_connect::{GrantStore as _, TokenKind};

    let Some(url) = database_url() else { return };
    let store = std::sync::Arc::new(fresh_store(url).await);
    let then = OffsetDateTime::now_utc() - time::Duration::days(400);
    let app = app_record(&fresh_workspace(), then, Some(random_hash()));
    store.insert_app(&app).await.unwrap();
    let mut expected = 0u64;
    for _ in 0..40 {
        store
            .insert_session(&session_record(&app, then))
            .await
            .unwrap();
        let (mut grant, _) = grant_and_code(&app, then);
        grant.expires_at = Some(then + time::Duration::hours(1));
        let tokens = [
            token_record(&grant, TokenKind::Access, then),
            token_record(&grant, TokenKind::Refresh, then),
        ];
        store.insert_grant(&grant, &tokens).await.unwrap();
        expected += 4;
    }
    let at = then + time::Duration::days(2);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = std::sync::Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut total = 0;
            // Until a pass finds nothing: a short batch from one purger
            // may only mean the others hold the rest.
            loop {
                let n = store.purge_expired(at, 7).await.unwrap();
                total += n;
                if n == 0 {
                    break total;
                }
            }
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, expected, "each record purged exactly once");
    assert_eq!(store.purge_expired(at, 100).await.unwrap(), 0);
}
