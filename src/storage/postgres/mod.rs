//! The PostgreSQL backend (feature `postgres`).
//!
//! One module per storage trait (`apps.rs`, `admin_keys.rs`, `grants.rs`,
//! `connect.rs`, `publishable_keys.rs`, `rate_limits.rs`),
//! each with its SQL as constants and a `decode_*` function per record;
//! typed column access in `rows.rs`; the one mapping of sqlx errors to
//! [`StorageErrorKind`] in `error.rs`; the embedded schema in
//! `migrations.rs`.
//!
//! Every state change is a single statement (common table expressions where
//! a method must both check and write), so it is atomic without an explicit
//! transaction and costs one round trip. A few methods whose change can be
//! refused for several reasons (`complete_session`, `redeem_code`,
//! `rotate_refresh_token`) send a second statement only when the first
//! changed nothing, to report why; see `grants.rs` for why that is as good
//! as one transaction. Round trips per storage call:
//!
//! | operation | round trips |
//! |---|---|
//! | client authentication (`get_app_by_client_id`) | 1 |
//! | bearer access-token validation (`get_token`) | 1 |
//! | scoped-key verification, after its signature checked out (`get_scoped_key`) | 1 |
//! | code exchange (`get_code` + `redeem_code`) | 2 (3 when refused) |
//! | refresh (`get_token` + `rotate_refresh_token`) | 2 (3 when refused) |
//! | client authentication with the code or the refresh token (`get_app_and_code`, `get_app_and_token`) | 1 |
//! | approving a session (`complete_session`), with a Connect session's customer, connection and scoped key | 1 (2 when refused) |
//! | every other method | 1 |
//!
//! And per request, through [`AuthorizationServer`](crate::AuthorizationServer):
//! `POST /oauth/token` is 2 for a code or a refresh (the client's app read
//! together with the code or the refresh token, then the redemption or the
//! rotation; 3 for a Connect code whose scoped key comes with the tokens),
//! and client authentication plus the grant's write for `client_credentials`; approving a consent is 1 (the grant and its code:
//! the pending request is sealed in the page; 2 for a pushed request, its
//! session then the approval); approving a Connect session 5 (the session, the customer by
//! reference id, the app, the approval, and the connection it left, for
//! the event). `tests/conformance_postgres.rs` counts every one of these.
//! A malformed credential (a wrong checksum) costs none.
//!
//! Besides, sqlx prepares each distinct statement once per connection (one
//! more round trip, the first time), and on returning a connection to the
//! pool it checks it with a Sync message: a round trip off the caller's
//! path, which holds the connection a little longer. With the default pool
//! ([`PostgresStore::default_pool_options`]) a connection that sat idle
//! for [`DEFAULT_PING_IDLE_AFTER`] or longer is pinged before it is handed
//! out: one more round trip, only after such a pause.
//!
//! # Pool and concurrency
//!
//! Concurrent operations on one row (say, 64 redemptions of one code)
//! each take a pooled connection and queue on the row lock inside
//! PostgreSQL; each holds it for one short statement. Tasks beyond the
//! pool's size wait for a connection in the pool's queue, which is fine as
//! long as the queue drains within the acquire timeout: with the default
//! 10 connections and 5 s, that is thousands of such statements.

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::storage::{StorageError, StorageErrorKind};

// First: its column-list macros are used by the statements of the others.
#[macro_use]
mod columns;
mod admin_keys;
mod apps;
mod binds;
mod connect;
mod connect_sql;
mod error;
mod grants;
mod grants_sql;
mod migrations;
mod publishable_keys;
mod rate_limits;
mod rows;
mod webhooks;

/// How many connections [`PostgresStore::connect`] keeps at most.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// How long [`PostgresStore::connect`]'s pool waits for a connection (a free
/// one, or a new one to be opened) before an operation fails with
/// [`StorageErrorKind::Timeout`].
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one statement may take, from asking the pool for a connection
/// to its last row, before the operation fails with
/// [`StorageErrorKind::Timeout`]: the bound on a database that accepted the
/// statement and then went silent (a network partition, a host gone
/// without closing its connections). Longer than
/// [`DEFAULT_ACQUIRE_TIMEOUT`], so a refused database still fails as the
/// pool's acquire timeout says.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(10);

/// A pooled connection idle for this long or longer is pinged (one round
/// trip) before [`PostgresStore::default_pool_options`]' pool hands it
/// out, and replaced if the ping fails: a connection the database dropped
/// while it sat idle (a restart, a failover, a network cut) then costs a
/// new connection, not a failed request. Connections in steady use are
/// never pinged, and a pool pings at most its size in connections per
/// this interval; the cost is one round trip on the first request after a
/// pause. A connection broken less than this long after its last use
/// still fails its next operation once (`Unavailable`, a 503).
pub const DEFAULT_PING_IDLE_AFTER: Duration = Duration::from_secs(1);

/// How long [`PostgresStore::migrate`] may take, waiting for another
/// node's migration (its advisory lock) included, before it fails with
/// [`StorageErrorKind::Timeout`]; see
/// [`with_migration_timeout`](PostgresStore::with_migration_timeout).
pub const DEFAULT_MIGRATION_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// The longest schema name PostgreSQL keeps (`NAMEDATALEN - 1`).
const MAX_SCHEMA_LEN: usize = 63;

/// Storage in PostgreSQL (or a PostgreSQL-compatible engine), through a
/// connection pool. Cloning is cheap and shares the pool.
///
/// Several server processes may share one database: nothing a flow needs
/// is kept in a process (give them the same key ring and issuer).
///
/// # Round trips
///
/// One statement per storage call, so a fixed number per request: client
/// authentication, bearer access-token validation and scoped-key
/// verification 1 each; `POST /oauth/token` 2 for a code exchange or a
/// refresh (3 when a Connect session's scoped key comes with the tokens);
/// approving a consent 1 (2 for a pushed request), a Connect session 5. A
/// refused change (a code presented twice, a spent refresh token) costs
/// one more; so does a failed client authentication (its count, per
/// address), and every admin-key request reads its address's count of
/// failures first.
///
/// # Failures
///
/// A database that is down, unreachable or restarting makes operations
/// fail with [`StorageErrorKind::Unavailable`] (a broken connection) or
/// [`StorageErrorKind::Timeout`] (no connection within the pool's acquire
/// timeout, or no answer within the operation timeout,
/// [`DEFAULT_OPERATION_TIMEOUT`]), which [`AuthorizationServer::handle`](crate::AuthorizationServer::handle)
/// answers with a 503 `temporarily_unavailable`; nothing is half-written
/// (every change is one statement). The pool reconnects by itself once the
/// database is back. A pooled connection that sat idle through the outage
/// is pinged before its next use ([`DEFAULT_PING_IDLE_AFTER`]) and
/// replaced, so the first request after the database is back succeeds;
/// only a connection broken within that interval of its last use fails
/// its next operation once.
///
/// # Shutdown
///
/// Once the server stopped taking requests, [`close`](Self::close) the
/// store: its connections end cleanly instead of being dropped with the
/// process.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use oauth_connect::{AuthorizationServer, PostgresStore};
///
/// let store = PostgresStore::connect("postgres://app@db.internal/oauth").await?;
/// store.migrate().await?;
/// let server = AuthorizationServer::builder(store)
///     .issuer("https://auth.example.com")
///     .build()?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    schema: Option<String>,
    timeout: Duration,
    migration_timeout: Duration,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`,
    /// with libpq-style query parameters such as `sslmode`), with the default
    /// pool: at most [`DEFAULT_MAX_CONNECTIONS`], opened on demand, each
    /// operation waiting at most [`DEFAULT_ACQUIRE_TIMEOUT`] for one. One
    /// connection is opened at once, so a wrong address fails here.
    ///
    /// # Errors
    ///
    /// [`StorageErrorKind::Unavailable`] or [`StorageErrorKind::Timeout`]
    /// when the database cannot be reached, [`StorageErrorKind::Other`] for
    /// a malformed URL or a refused login. The error never contains the URL
    /// (it may hold a password).
    pub async fn connect(url: &str) -> Result<Self, StorageError> {
        Self::connect_options(url, None).await
    }

    /// Like [`connect`](Self::connect), but every pooled connection uses the
    /// schema `schema` (its `search_path` is set to it when the connection
    /// opens), and [`migrate`](Self::migrate) creates the schema if needed.
    /// Several stores can so share one database without seeing each other's
    /// tables: tenants, or test runs.
    ///
    /// `schema` is 1 to 63 characters of `a`–`z`, `0`–`9` and `_`, not
    /// starting with a digit (so it never needs quoting).
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect); [`StorageErrorKind::Other`] for an
    /// invalid schema name.
    pub async fn connect_with_schema(url: &str, schema: &str) -> Result<Self, StorageError> {
        if !is_plain_identifier(schema) {
            return Err(StorageError::with_source(
                StorageErrorKind::Other,
                "a schema name is 1-63 characters of a-z, 0-9 and _, not starting with a digit",
            ));
        }
        Self::connect_options(url, Some(schema)).await
    }

    async fn connect_options(url: &str, schema: Option<&str>) -> Result<Self, StorageError> {
        // Parsing errors name the problem, never the URL.
        let mut options = PgConnectOptions::from_str(url).map_err(error::map)?;
        if let Some(schema) = schema {
            // Sent as a startup parameter: every connection of the pool,
            // including replacements, gets it with no extra round trip.
            options = options.options([("search_path", schema)]);
        }
        let pool = Self::default_pool_options()
            .connect_with(options)
            .await
            .map_err(error::map)?;
        Ok(Self {
            pool,
            schema: schema.map(str::to_owned),
            timeout: DEFAULT_OPERATION_TIMEOUT,
            migration_timeout: DEFAULT_MIGRATION_TIMEOUT,
        })
    }

    /// The pool settings [`connect`](Self::connect) uses; change them and
    /// pass the pool to [`from_pool`](Self::from_pool) to size it yourself.
    ///
    /// At most [`DEFAULT_MAX_CONNECTIONS`] connections, none kept open when
    /// idle for 10 minutes, none older than 30 minutes; an operation waits
    /// [`DEFAULT_ACQUIRE_TIMEOUT`] at most for a connection (a ping and a
    /// replacement included). A connection idle for
    /// [`DEFAULT_PING_IDLE_AFTER`] or longer is pinged before use and
    /// replaced if the database dropped it; one in steady use is not
    /// (pinging every use would double the round trips). See
    /// [`pool_options`](Self::pool_options) for another interval.
    pub fn default_pool_options() -> PgPoolOptions {
        Self::pool_options(DEFAULT_PING_IDLE_AFTER)
    }

    /// [`default_pool_options`](Self::default_pool_options), pinging a
    /// connection before use once it has been idle for `ping_idle_after`
    /// (`Duration::ZERO`: before every use, one more round trip per
    /// operation; `Duration::MAX`: never, so a connection the database
    /// dropped while idle fails its next operation once).
    pub fn pool_options(ping_idle_after: Duration) -> PgPoolOptions {
        PgPoolOptions::new()
            .max_connections(DEFAULT_MAX_CONNECTIONS)
            .min_connections(0)
            .acquire_timeout(DEFAULT_ACQUIRE_TIMEOUT)
            .idle_timeout(Some(Duration::from_secs(10 * 60)))
            .max_lifetime(Some(Duration::from_secs(30 * 60)))
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                Box::pin(async move {
                    // An error closes the connection and the pool tries
                    // another idle one, or opens a new one, within the
                    // acquire timeout.
                    if meta.idle_for >= ping_idle_after {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
    }

    /// A store over an existing pool (sqlx 0.9's `PgPool`), whose
    /// connections already use the intended schema.
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            pool,
            schema: None,
            timeout: DEFAULT_OPERATION_TIMEOUT,
            migration_timeout: DEFAULT_MIGRATION_TIMEOUT,
        }
    }

    /// Bounds every statement (acquiring its connection included) by
    /// `timeout` instead of [`DEFAULT_OPERATION_TIMEOUT`]; past it, the
    /// operation fails with [`StorageErrorKind::Timeout`]. Keep it above
    /// the pool's acquire timeout and above the slowest statement you
    /// expect (a purge batch, a large listing).
    ///
    /// A statement abandoned this way may still have committed, as when a
    /// connection breaks after the commit: every change is one statement,
    /// so it is then whole, and a client's retry sees it (a code already
    /// redeemed is a replay).
    #[must_use]
    pub fn with_operation_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Bounds [`migrate`](Self::migrate) and
    /// [`migrate_unlocked`](Self::migrate_unlocked) by `timeout` instead of
    /// [`DEFAULT_MIGRATION_TIMEOUT`]: the wait for another node's migration
    /// (the advisory lock) and every migration still to apply. Raise it for
    /// a migration that rewrites a large table.
    #[must_use]
    pub fn with_migration_timeout(mut self, timeout: Duration) -> Self {
        self.migration_timeout = timeout;
        self
    }

    /// The connection pool, e.g. to share it with the rest of the service.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool, for a clean shutdown: waits for the connections in
    /// use to come back, then ends every connection (PostgreSQL sees a
    /// session end, not a dropped socket). Every later operation, on this
    /// store or a clone (they share the pool), fails with
    /// [`StorageErrorKind::Unavailable`]. Call it after the server stopped
    /// taking requests (a graceful shutdown); calling it again does nothing.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Creates or upgrades the tables: applies, in order, each embedded
    /// migration (`migrations/` in the crate) not yet recorded in the
    /// schema's `_sqlx_migrations` table, each in its own transaction.
    /// Idempotent. Concurrent callers (several nodes starting at once) are
    /// serialised by a PostgreSQL advisory lock, held only while migrating;
    /// see [`migrate_unlocked`](Self::migrate_unlocked) for engines without
    /// advisory locks.
    ///
    /// Bounded in time: [`DEFAULT_MIGRATION_TIMEOUT`] (5 minutes) unless
    /// [`with_migration_timeout`](Self::with_migration_timeout) says
    /// otherwise, the wait for the lock included, so a node never hangs at
    /// start-up behind a stuck database or another node's stuck migration.
    /// Past it, the migration's connection is closed: PostgreSQL rolls back
    /// the migration in progress (or, if its commit was already under way,
    /// keeps it whole), the lock is released with the session, and the
    /// next `migrate` goes on from what is recorded.
    ///
    /// # Errors
    ///
    /// The kind of the failing statement's error; [`StorageErrorKind::Other`]
    /// when an applied migration differs from the embedded one;
    /// [`StorageErrorKind::Timeout`] past the migration timeout.
    pub async fn migrate(&self) -> Result<(), StorageError> {
        self.run_migrations(true).await
    }

    /// [`migrate`](Self::migrate) without the advisory lock, for
    /// PostgreSQL-compatible engines that lack `pg_advisory_lock`. Run it
    /// from one process at a time (a deployment step, not every node).
    ///
    /// # Errors
    ///
    /// As [`migrate`](Self::migrate).
    pub async fn migrate_unlocked(&self) -> Result<(), StorageError> {
        self.run_migrations(false).await
    }

    async fn run_migrations(&self, locking: bool) -> Result<(), StorageError> {
        let mut migrator = migrations::migrator();
        migrator.set_locking(locking);
        if let Some(schema) = &self.schema {
            migrator.create_schema(schema.clone());
        }
        // A connection of its own, closed afterwards: a failed migration
        // leaves nothing (such as a held advisory lock) on a pooled one.
        let limit = self.migration_timeout;
        let mut conn = self.pool.acquire().await.map_err(error::map)?;
        // Cut off by the timeout, the connection is dropped mid-migration:
        // closed, never returned to the pool.
        conn.close_on_drop();
        let outcome = match tokio::time::timeout(limit, migrator.run(&mut *conn)).await {
            Ok(outcome) => outcome,
            Err(_) => {
                return Err(StorageError::with_source(
                    StorageErrorKind::Timeout,
                    format!("the migrations did not finish within {limit:?}"),
                ));
            }
        };
        let closed = conn.close().await;
        outcome.map_err(error::map_migrate)?;
        closed.map_err(error::map)
    }
}

/// `[a-z_][a-z0-9_]{0,62}`.
fn is_plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= MAX_SCHEMA_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_need_no_quoting() {
        for ok in ["a", "_x", "oc_test_0123abcd", &"s".repeat(63)] {
            assert!(is_plain_identifier(ok), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "Upper",
            "with-dash",
            "a b",
            "x\"; DROP TABLE y; --",
            "é",
            &"s".repeat(64),
        ] {
            assert!(!is_plain_identifier(bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn an_invalid_schema_is_refused_before_connecting() {
        let err = PostgresStore::connect_with_schema("postgres://127.0.0.1:1/x", "Bad-Name")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), StorageErrorKind::Other);
    }
}
