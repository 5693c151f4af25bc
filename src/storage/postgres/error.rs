//! sqlx errors as backend-neutral [`StorageError`]s.
//!
//! Every call into sqlx goes through [`map`] (or [`map_migrate`]), so the
//! mapping lives in one place. The sqlx error is kept as the source; it
//! carries the server's message, never a bound value (and no credential
//! reaches storage anyway: only hashes).

use std::future::Future;
use std::time::Duration;

use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::migrate::MigrateError;

use crate::storage::{StorageError, StorageErrorKind};

/// The kind of a sqlx error.
pub(super) fn kind_of(error: &sqlx::Error) -> StorageErrorKind {
    match error {
        sqlx::Error::PoolTimedOut => StorageErrorKind::Timeout,
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StorageErrorKind::Unavailable,
        sqlx::Error::Database(db) => database_kind(db.as_ref()),
        sqlx::Error::RowNotFound
        | sqlx::Error::TypeNotFound { .. }
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_) => StorageErrorKind::Corrupt,
        sqlx::Error::Migrate(migrate) => migrate_kind(migrate),
        _ => StorageErrorKind::Other,
    }
}

/// The kind of an error the server reported, by SQLSTATE class and code
/// (PostgreSQL Appendix A).
fn database_kind(db: &dyn DatabaseError) -> StorageErrorKind {
    if matches!(db.kind(), ErrorKind::UniqueViolation) {
        return StorageErrorKind::Conflict;
    }
    let code = db.code();
    let code = code.as_deref().unwrap_or_default();
    match code {
        // foreign_key_violation: the app (or grant) a new record belongs to
        // was deleted.
        "23503" => StorageErrorKind::NotFound,
        // serialization_failure, deadlock_detected: the statement lost a race
        // with a concurrent one and wrote nothing.
        "40001" | "40P01" => StorageErrorKind::Conflict,
        // query_canceled (statement_timeout), lock_not_available
        // (lock_timeout).
        "57014" | "55P03" => StorageErrorKind::Timeout,
        // admin_shutdown, crash_shutdown, cannot_connect_now,
        // read_only_sql_transaction (a standby).
        "57P01" | "57P02" | "57P03" | "25006" => StorageErrorKind::Unavailable,
        // connection_exception, insufficient_resources (too many
        // connections, out of memory or disk).
        _ if code.starts_with("08") || code.starts_with("53") => StorageErrorKind::Unavailable,
        _ => StorageErrorKind::Other,
    }
}

fn migrate_kind(error: &MigrateError) -> StorageErrorKind {
    match error {
        MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => kind_of(e),
        _ => StorageErrorKind::Other,
    }
}

/// A sqlx error as a storage error of the matching kind, with the sqlx error
/// as its source.
pub(super) fn map(error: sqlx::Error) -> StorageError {
    StorageError::with_source(kind_of(&error), error)
}

/// One statement's future, bounded in time.
pub(super) trait Within<T>: Future<Output = Result<T, sqlx::Error>> + Sized {
    /// The statement's outcome as a storage result, or
    /// [`StorageErrorKind::Timeout`] when it took longer than `limit`
    /// (acquiring a connection included). The statement is then abandoned:
    /// its connection is checked before it returns to the pool, and it may
    /// still have committed, like one whose answer was lost.
    fn within(self, limit: Duration) -> impl Future<Output = Result<T, StorageError>> + Send
    where
        Self: Send,
        T: Send,
    {
        async move {
            let started = std::time::Instant::now();
            let result = match tokio::time::timeout(limit, self).await {
                Ok(outcome) => outcome.map_err(map),
                Err(_) => Err(StorageError::with_source(
                    StorageErrorKind::Timeout,
                    format!("no answer from the database within {limit:?}"),
                )),
            };
            crate::telemetry::storage("postgres", result.is_ok(), started.elapsed());
            result
        }
    }
}

impl<T, F: Future<Output = Result<T, sqlx::Error>>> Within<T> for F {}

/// A migration error as a storage error.
pub(super) fn map_migrate(error: MigrateError) -> StorageError {
    StorageError::with_source(migrate_kind(&error), error)
}

/// A stored value that does not decode into its Rust type.
pub(super) fn corrupt(column: &'static str, problem: &'static str) -> StorageError {
    StorageError::with_source(
        StorageErrorKind::Corrupt,
        format!("column {column}: {problem}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_and_connection_failures() {
        assert_eq!(
            kind_of(&sqlx::Error::PoolTimedOut),
            StorageErrorKind::Timeout
        );
        assert_eq!(
            kind_of(&sqlx::Error::PoolClosed),
            StorageErrorKind::Unavailable
        );
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            kind_of(&sqlx::Error::Io(refused)),
            StorageErrorKind::Unavailable
        );
        let eof = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
        assert_eq!(
            map(sqlx::Error::Io(eof)).kind(),
            StorageErrorKind::Unavailable
        );
    }

    #[test]
    fn decoding_failures_are_corrupt() {
        assert_eq!(
            kind_of(&sqlx::Error::ColumnNotFound("id".into())),
            StorageErrorKind::Corrupt
        );
        assert_eq!(
            kind_of(&sqlx::Error::Decode("bad".into())),
            StorageErrorKind::Corrupt
        );
        assert_eq!(
            corrupt("secret_hash", "not 32 bytes").kind(),
            StorageErrorKind::Corrupt
        );
    }

    #[test]
    fn migration_errors_keep_the_kind_of_their_cause() {
        let e = MigrateError::Execute(sqlx::Error::PoolTimedOut);
        assert_eq!(map_migrate(e).kind(), StorageErrorKind::Timeout);
        assert_eq!(
            map_migrate(MigrateError::VersionMismatch(1)).kind(),
            StorageErrorKind::Other
        );
    }
}
