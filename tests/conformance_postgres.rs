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
