//! What the PostgreSQL tests share: `DATABASE_URL` (or a clear note that
//! the tests did not run), a fresh schema per store or per run, dropped
//! when the test that made it ends, and a TCP proxy to cut the database
//! ([`proxy`]).
//!
//! Schemas are named `oc_test_<unix seconds>_<run>_<n>`: `<run>` is this
//! test process, which holds a session-level advisory lock on that number
//! (on a connection of its own) until it exits. A schema is dropped when
//! the test thread that made it ends (passing or failing); what a killed
//! run left behind is swept by the next run: any schema whose run no
//! longer holds its lock, never one of a run still going.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod proxy;

use std::cell::RefCell;
use std::hash::{BuildHasher as _, RandomState};
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Once, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use oauth_connect::PostgresStore;
use sqlx::{Connection as _, Row as _};

/// Every test schema starts with this, then the Unix time of its creation.
pub const SCHEMA_PREFIX: &str = "oc_test_";
/// Schemas without a run (named before runs were) are dropped by later
/// runs once they are older than this.
const STALE_AFTER_SECS: u64 = 60 * 60;
/// A schema of a run that holds no lock is swept only once it is this old:
/// a schema a test is still making or migrating is never dropped, whatever
/// the lock check says (on 2026-12-07 a run sharing the database with
/// others lost schemas seconds after making them, mid-migration).
const SWEEP_GRACE_SECS: u64 = 10 * 60;
/// The advisory-lock namespace of test runs (the first key of
/// `pg_advisory_lock(int, int)`): "oc" and "tr".
pub const RUN_LOCK_CLASS: i32 = 0x6f63_7472;

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
                     Run them with: DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo test --workspace --all-features\n"
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

/// This test process, as the schemas it makes name it: a random number
/// whose advisory lock a connection of its own holds until the process
/// exits (a thread with its own runtime keeps it), so that other runs can
/// tell this run's schemas from a dead run's.
pub fn run_id(url: &str) -> u32 {
    static RUN: OnceLock<u32> = OnceLock::new();
    *RUN.get_or_init(|| {
        // 31 bits: it fits the lock's `int` key without a sign.
        let id = (RandomState::new().hash_one(Instant::now()) & 0x7fff_ffff) as u32;
        let (locked, wait) = std::sync::mpsc::channel();
        let url = url.to_owned();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let mut connection = sqlx::PgConnection::connect(&url)
                    .await
                    .expect("connect for the run's lock");
                sqlx::query("SELECT pg_advisory_lock($1, $2)")
                    .bind(RUN_LOCK_CLASS)
                    .bind(id as i32)
                    .execute(&mut connection)
                    .await
                    .expect("the run's lock");
                let _ = locked.send(());
                // Hold the connection, and with it the lock, until the
                // process exits.
                std::future::pending::<()>().await;
            });
        });
        wait.recv().expect("the run's lock is taken");
        id
    })
}

/// The schemas this thread made, dropped when it ends: a test's thread
/// ends when the test does, passing or failing.
struct ThreadSchemas {
    url: String,
    names: Vec<String>,
}

impl Drop for ThreadSchemas {
    fn drop(&mut self) {
        if self.names.is_empty() {
            return;
        }
        let url = std::mem::take(&mut self.url);
        let names = std::mem::take(&mut self.names);
        // A runtime of its own, on a thread of its own: the test's runtime
        // is gone by now.
        let dropper = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                if let Ok(store) = PostgresStore::connect(&url).await {
                    for name in &names {
                        drop_schema(&store, name).await;
                    }
                    store.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

thread_local! {
    static THREAD_SCHEMAS: RefCell<ThreadSchemas> = const {
        RefCell::new(ThreadSchemas { url: String::new(), names: Vec::new() })
    };
}

/// A schema name no other run or test uses,
/// `oc_test_<unix seconds>_<run>_<n>`; the schema (once someone creates it)
/// is dropped when the calling thread (the test) ends.
pub fn fresh_schema_name(url: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "{SCHEMA_PREFIX}{}_{}_{}",
        unix_secs(),
        run_id(url),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    THREAD_SCHEMAS.with(|schemas| {
        let mut schemas = schemas.borrow_mut();
        schemas.url = url.to_owned();
        schemas.names.push(name.clone());
    });
    name
}

/// The run a test schema's name gives (`None` for an older name without
/// one), and its creation time.
fn parse_schema_name(name: &str) -> Option<(u64, Option<u32>)> {
    let mut parts = name.strip_prefix(SCHEMA_PREFIX)?.split('_');
    let created = parts.next()?.parse::<u64>().ok()?;
    let run = parts.next()?;
    match parts.next() {
        // `<secs>_<run>_<n>`
        Some(_) => Some((created, Some(run.parse().ok()?))),
        // `<secs>_<random>`, before runs were named
        None => Some((created, None)),
    }
}

/// Drops what dead runs left behind: every test schema whose run no
/// longer holds its lock (a run killed before its tests ended) once it is
/// ten minutes old, and the schemas of the old naming once an hour old.
/// Never a schema of a run still going. Best effort (a concurrent run may
/// be dropping the same ones).
pub async fn drop_stale_schemas(store: &PostgresStore) {
    let names = sqlx::query("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)")
        .bind(SCHEMA_PREFIX)
        .fetch_all(store.pool())
        .await
        .unwrap();
    let now = unix_secs();
    for row in names {
        let name: String = row.get("nspname");
        let stale = match parse_schema_name(&name) {
            Some((created, Some(run))) => {
                now.saturating_sub(created) > SWEEP_GRACE_SECS && !run_is_alive(store, run).await
            }
            Some((created, None)) => now.saturating_sub(created) > STALE_AFTER_SECS,
            None => false,
        };
        if stale {
            drop_schema(store, &name).await;
        }
    }
}

/// Whether a test run still holds its lock: taking it, on one connection,
/// succeeds only when no live session holds it (and is then released).
async fn run_is_alive(store: &PostgresStore, run: u32) -> bool {
    let Ok(mut connection) = store.pool().acquire().await else {
        return true;
    };
    let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
        .bind(RUN_LOCK_CLASS)
        .bind(run as i32)
        .fetch_one(&mut *connection)
        .await
        .unwrap_or(false);
    if taken {
        let _ = sqlx::query("SELECT pg_advisory_unlock($1, $2)")
            .bind(RUN_LOCK_CLASS)
            .bind(run as i32)
            .execute(&mut *connection)
            .await;
    }
    !taken
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
    let schema = fresh_schema_name(url);
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
