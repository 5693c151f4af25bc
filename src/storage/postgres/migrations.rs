//! The schema, embedded in the binary.
//!
//! Each file `migrations/NNNN_<description>.sql` at the crate root is one
//! migration, listed in [`MIGRATIONS`] with the same version and
//! description (a test keeps the list and the folder in step). Applied
//! migrations are recorded in the table `_sqlx_migrations` of the store's
//! schema, in the format of `sqlx::migrate!` and the sqlx CLI, so either can
//! take over. A migration, once released, never changes (its checksum is
//! verified); a change is a new file.
//!
//! The list is written out instead of using `sqlx::migrate!`, which would
//! need sqlx's `macros` feature and a second build of the driver for the
//! proc-macro.

use std::borrow::Cow;

use sqlx::SqlSafeStr as _;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// `(version, description, SQL)`, in version order.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "apps", include_str!("../../../migrations/0001_apps.sql")),
    (
        2,
        "grants",
        include_str!("../../../migrations/0002_grants.sql"),
    ),
    (
        3,
        "admin keys",
        include_str!("../../../migrations/0003_admin_keys.sql"),
    ),
    (
        4,
        "connect",
        include_str!("../../../migrations/0004_connect.sql"),
    ),
    (
        5,
        "connect steps",
        include_str!("../../../migrations/0005_connect_steps.sql"),
    ),
    (
        6,
        "publishable keys",
        include_str!("../../../migrations/0006_publishable_keys.sql"),
    ),
    (
        7,
        "workspace app counts",
        include_str!("../../../migrations/0007_workspace_app_counts.sql"),
    ),
    (
        8,
        "response mode",
        include_str!("../../../migrations/0008_response_mode.sql"),
    ),
    (
        9,
        "scoped key grants",
        include_str!("../../../migrations/0009_scoped_key_grants.sql"),
    ),
    (
        10,
        "customer apps",
        include_str!("../../../migrations/0010_customer_apps.sql"),
    ),
    (
        11,
        "limits",
        include_str!("../../../migrations/0011_limits.sql"),
    ),
    (
        12,
        "webhooks",
        include_str!("../../../migrations/0012_webhooks.sql"),
    ),
    (
        13,
        "app logos",
        include_str!("../../../migrations/0013_app_logos.sql"),
    ),
];

/// A migrator for every embedded migration; each runs in its own
/// transaction.
pub(super) fn migrator() -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::path::Path;

    use super::*;

    /// Every file in `migrations/` is embedded, with the version and
    /// description of its name and its exact text, and nothing else is.
    #[test]
    fn embedded_list_matches_the_folder() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
            .collect();
        files.sort();
        assert_eq!(files.len(), MIGRATIONS.len(), "one entry per file");
        for (path, &(version, description, sql)) in files.iter().zip(MIGRATIONS) {
            let stem = path.file_stem().unwrap().to_str().unwrap();
            let (number, name) = stem.split_once('_').unwrap();
            assert_eq!(number.len(), 4, "{stem}: four-digit version");
            assert_eq!(number.parse::<i64>().unwrap(), version, "{stem}");
            assert_eq!(name.replace('_', " "), description, "{stem}");
            assert_eq!(std::fs::read_to_string(path).unwrap(), sql, "{stem}");
        }
        let versions: Vec<_> = migrator().iter().map(|m| m.version).collect();
        assert!(versions.windows(2).all(|w| w[0] < w[1]), "versions ascend");
    }
}
