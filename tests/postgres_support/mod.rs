//! What the PostgreSQL tests share: `DATABASE_URL` (or a clear note that
//! the tests did not run), a fresh schema per store or per run, and a TCP
//! proxy to cut the database ([`proxy`]).

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod proxy;

use std::hash::{BuildHasher as _, RandomState};
use std::io::Write as _;
use std::sync::Once;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use oauth_connect::PostgresStore;
use sqlx::Row as _;

/// Every test schema starts with this, then the Unix time of its creation.
pub const SCHEMA_PREFIX: &str = "oc_test_";
/// Schemas of runs older than this are dropped by later runs.
const STALE_AFTER_SECS: u64 = 60 * 60;

/// `DATABASE_URL`, or `None` after saying (once per test binary, on the
/// real stderr so the test harness does not swallow it) that `what` did
/// not run, and how to run it. In CI (`CI` set) a missing `DATABASE_URL`
/// fails instead.
pub fn database_url(what: &str) -> Option<String> {
    static SKIPPED: Once = Once::new();
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            // In CI (`.ci/run` sets CI=1 and DATABASE_URL) nothing passes
            // by skipping.
            let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
            assert!(!ci, "CI is set but DATABASE_URL is not: {what} cannot run");
            SKIPPED.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "\nNOTE: DATABASE_URL is not set: {what} were NOT run.\n\
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

/// A schema name no other run or test uses: `oc_test_<unix seconds>_<random>`.
pub fn fresh_schema_name() -> String {
    format!(
        "{SCHEMA_PREFIX}{}_{:016x}",
        unix_secs(),
        RandomState::new().hash_one(Instant::now())
    )
}

/// Drops the schemas of test runs older than an hour; best effort (a
/// concurrent run may be dropping the same ones).
pub async fn drop_stale_schemas(store: &PostgresStore) {
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
        if created.is_some_and(|created| now.saturating_sub(created) > STALE_AFTER_SECS) {
            drop_schema(store, &name).await;
        }
    }
}

/// Drops `schema` and everything in it; best effort.
pub async fn drop_schema(store: &PostgresStore, schema: &str) {
    assert!(
        schema
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "{schema}"
    );
    let drop = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
        .execute(store.pool())
        .await;
}

/// A store in a new, migrated schema of its own.
pub async fn fresh_store(url: &str) -> PostgresStore {
    let store = fresh_empty_store(url).await;
    store.migrate().await.expect("migrate");
    store
}

/// A store in a new, empty schema of its own: no migration applied.
pub async fn fresh_empty_store(url: &str) -> PostgresStore {
    let schema = fresh_schema_name();
    // Create the schema up front (a connection without a search path),
    // then connect inside it.
    let admin = PostgresStore::connect(url).await.expect("connect");
    drop_stale_schemas(&admin).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(admin.pool())
        .await
        .unwrap();
    admin.pool().close().await;
    PostgresStore::connect_with_schema(url, &schema)
        .await
        .expect("connect with schema")
}
