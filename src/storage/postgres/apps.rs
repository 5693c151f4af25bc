//! [`AppStore`] on PostgreSQL: table `oauth_apps` (`migrations/0001_apps.sql`)
//! and the per-workspace app counts (`oauth_workspace_app_counts`,
//! `migrations/0007_workspace_app_counts.sql`).
//!
//! Every method is one statement, so it is atomic on its own and costs one
//! round trip: no read-then-write, no explicit transaction. Inserting or
//! deleting an app moves its workspace's count in the same statement.
//!
//! # Listing cost
//!
//! A page reads its total from the count (one primary-key lookup) and its
//! rows from the index on `(workspace_id, created_at, id)` with `LIMIT` and
//! `OFFSET`: the index walk skips `offset` entries, so a page costs
//! O(offset + page size), never O(apps in the workspace). The management
//! API bounds the offset (`page` ≤ 1000 × `perPage` ≤ 100: at most 99 900
//! entries skipped); a keyset cursor would make deep pages O(page size) too,
//! and is the way to go if that bound is ever lifted.

use async_trait::async_trait;
use sqlx::postgres::PgRow;

use super::error::Within as _;
use super::rows::{get, hash, hash_param, parsed, parsed_each};
use super::{PostgresStore, error};
use crate::model::app::{AppType, OAuthApp};
use crate::model::ids::{AppId, ClientId, WorkspaceId};
use crate::model::origin::Origin;
use crate::model::redirect::RedirectUri;
use crate::model::scope::ScopeSet;
use crate::storage::{
    AppChanges, AppRecord, AppStore, GraceSecret, Listing, SecretRotation, SecretState,
    StorageError, StorageErrorKind,
};

/// The columns [`decode_app`] reads, in table order.
macro_rules! app_columns {
    () => {
        "id, client_id, workspace_id, name, description, redirect_uris, allowed_scopes, \
         app_type, created_at, updated_at, secret_hash, previous_secret_hash, \
         previous_valid_until, allowed_origins, logo_uri"
    };
}

/// Inserts the app and, only if it did, counts it in its workspace; the
/// number of apps inserted (0 on a conflict: nothing is written).
const INSERT: &str = concat!(
    "WITH inserted AS ( \
       INSERT INTO oauth_apps (",
    app_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
       ON CONFLICT DO NOTHING \
       RETURNING workspace_id \
     ), counted AS ( \
       INSERT INTO oauth_workspace_app_counts (workspace_id, apps) \
       SELECT workspace_id, 1 FROM inserted \
       ON CONFLICT (workspace_id) DO UPDATE \
         SET apps = oauth_workspace_app_counts.apps + 1 \
     ) \
     SELECT count(*) AS inserted FROM inserted"
);

const GET: &str = concat!(
    "SELECT ",
    app_columns!(),
    " FROM oauth_apps WHERE workspace_id = $1 AND id = $2"
);

const GET_BY_CLIENT_ID: &str = concat!(
    "SELECT ",
    app_columns!(),
    " FROM oauth_apps WHERE client_id = $1"
);

/// The page joined to the total (the workspace's count, read in the same
/// snapshot as the page): an empty page is one row of NULLs beside the
/// total, so the total comes back even past the end.
const LIST: &str = concat!(
    "SELECT t.total, p.* \
     FROM (SELECT COALESCE((SELECT apps FROM oauth_workspace_app_counts \
                            WHERE workspace_id = $1), 0) AS total) AS t \
     LEFT JOIN (SELECT ",
    app_columns!(),
    " FROM oauth_apps WHERE workspace_id = $1 \
       ORDER BY created_at, id LIMIT $2 OFFSET $3) AS p ON true \
     ORDER BY p.created_at, p.id"
);

/// `$4` says whether to set the description (to `$5`, possibly NULL); the
/// other fields keep their value when their parameter is NULL.
const UPDATE: &str = concat!(
    "UPDATE oauth_apps SET \
       name = COALESCE($3, name), \
       description = CASE WHEN $4 THEN $5 ELSE description END, \
       redirect_uris = COALESCE($6, redirect_uris), \
       allowed_scopes = COALESCE($7, allowed_scopes), \
       allowed_origins = COALESCE($9, allowed_origins), \
       logo_uri = CASE WHEN $10 THEN $11 ELSE logo_uri END, \
       updated_at = $8 \
     WHERE workspace_id = $1 AND id = $2 \
     RETURNING ",
    app_columns!()
);

/// Answered from the GIN index on `allowed_origins`.
const ORIGIN_ALLOWED: &str = "SELECT EXISTS (SELECT 1 FROM oauth_apps \
                              WHERE allowed_origins @> ARRAY[$1::text]) AS found";

/// Deletes the app (its cascade with it) and, only if it did, uncounts it
/// (never below zero: a count skewed by an older node must not block a
/// delete).
const DELETE: &str = "\
    WITH deleted AS ( \
      DELETE FROM oauth_apps WHERE workspace_id = $1 AND id = $2 RETURNING id, workspace_id \
    ), counted AS ( \
      UPDATE oauth_workspace_app_counts c SET apps = GREATEST(c.apps - 1, 0) \
      FROM deleted d WHERE c.workspace_id = d.workspace_id \
    ) \
    SELECT id FROM deleted";

/// A compare-and-set on `secret_hash`. `found` tells, from the same
/// snapshot, whether the confidential app exists at all, so that no row
/// updated means either "no such app" (`found` false) or "someone rotated
/// first" (`found` true) without a second statement. A concurrent rotation
/// that commits first makes this one re-check the row and match nothing.
const ROTATE: &str = concat!(
    "WITH target AS ( \
       SELECT 1 FROM oauth_apps \
       WHERE workspace_id = $1 AND id = $2 AND secret_hash IS NOT NULL \
     ), rotated AS ( \
       UPDATE oauth_apps SET \
         previous_secret_hash = CASE WHEN $5 IS NULL THEN NULL ELSE secret_hash END, \
         previous_valid_until = $5, \
         secret_hash = $4, \
         updated_at = $6 \
       WHERE workspace_id = $1 AND id = $2 AND secret_hash = $3 \
       RETURNING ",
    app_columns!(),
    " ) \
     SELECT EXISTS (SELECT 1 FROM target) AS found, rotated.* \
     FROM (SELECT 1) AS one LEFT JOIN rotated ON true"
);

fn app_type_text(app_type: AppType) -> &'static str {
    match app_type {
        AppType::Confidential => "CONFIDENTIAL",
        AppType::Public => "PUBLIC",
    }
}

fn parse_app_type(text: &str) -> Result<AppType, ()> {
    match text {
        "CONFIDENTIAL" => Ok(AppType::Confidential),
        "PUBLIC" => Ok(AppType::Public),
        _ => Err(()),
    }
}

/// The record in a row holding [`app_columns!`].
fn decode_app(row: &PgRow) -> Result<AppRecord, StorageError> {
    let scopes: Vec<String> = get(row, "allowed_scopes")?;
    let allowed_scopes = ScopeSet::from_tokens(scopes)
        .map_err(|_| error::corrupt("allowed_scopes", "an element does not parse"))?;
    let app = OAuthApp {
        id: parsed(row, "id", AppId::parse)?,
        client_id: parsed(row, "client_id", ClientId::parse)?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        redirect_uris: parsed_each(row, "redirect_uris", RedirectUri::parse)?,
        allowed_scopes,
        allowed_origins: parsed_each(row, "allowed_origins", Origin::parse)?,
        logo_uri: get(row, "logo_uri")?,
        app_type: parsed(row, "app_type", parse_app_type)?,
        workspace_id: parsed(row, "workspace_id", WorkspaceId::parse)?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    };
    let previous = match (
        hash(row, "previous_secret_hash")?,
        get(row, "previous_valid_until")?,
    ) {
        (Some(hash), Some(valid_until)) => Some(GraceSecret { hash, valid_until }),
        (None, None) => None,
        _ => {
            return Err(error::corrupt(
                "previous_valid_until",
                "set without previous_secret_hash or the reverse",
            ));
        }
    };
    let secret = match hash(row, "secret_hash")? {
        Some(current) => Some(SecretState { current, previous }),
        None if previous.is_none() => None,
        None => {
            return Err(error::corrupt(
                "secret_hash",
                "NULL beside a previous secret",
            ));
        }
    };
    Ok(AppRecord { app, secret })
}

/// The record in a row of a `LEFT JOIN`, `None` when the joined side is
/// NULL.
pub(super) fn decode_joined_app(row: &PgRow) -> Result<Option<AppRecord>, StorageError> {
    match get::<Option<&str>>(row, "id")? {
        Some(_) => decode_app(row).map(Some),
        None => Ok(None),
    }
}

fn uri_texts(uris: &[RedirectUri]) -> Vec<&str> {
    uris.iter().map(RedirectUri::as_str).collect()
}

fn origin_texts(origins: &[Origin]) -> Vec<&str> {
    origins.iter().map(Origin::as_str).collect()
}

fn scope_texts(scopes: &ScopeSet) -> Vec<&str> {
    scopes.iter().map(|scope| scope.as_str()).collect()
}

#[async_trait]
impl AppStore for PostgresStore {
    async fn insert_app(&self, record: &AppRecord) -> Result<(), StorageError> {
        let app = &record.app;
        let secret = record.secret.as_ref();
        let previous = secret.and_then(|s| s.previous.as_ref());
        let row = sqlx::query(INSERT)
            .bind(app.id.as_str())
            .bind(app.client_id.as_str())
            .bind(app.workspace_id.as_str())
            .bind(app.name.as_str())
            .bind(app.description.as_deref())
            .bind(uri_texts(&app.redirect_uris))
            .bind(scope_texts(&app.allowed_scopes))
            .bind(app_type_text(app.app_type))
            .bind(app.created_at)
            .bind(app.updated_at)
            .bind(secret.map(|s| hash_param(&s.current)))
            .bind(previous.map(|p| hash_param(&p.hash)))
            .bind(previous.map(|p| p.valid_until))
            .bind(origin_texts(&app.allowed_origins))
            .bind(app.logo_uri.as_deref())
            .fetch_one(&self.pool)
            .within(self.timeout)
            .await?;
        // `ON CONFLICT DO NOTHING`: a duplicate id or client id inserts no
        // row (and, unlike a unique violation, aborts no transaction); the
        // count then does not move either.
        if get::<i64>(&row, "inserted")? == 0 {
            return Err(StorageError::new(StorageErrorKind::Conflict));
        }
        Ok(())
    }

    async fn get_app(
        &self,
        workspace: &WorkspaceId,
        id: &AppId,
    ) -> Result<Option<AppRecord>, StorageError> {
        sqlx::query(GET)
            .bind(workspace.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .within(self.timeout)
            .await?
            .as_ref()
            .map(decode_app)
            .transpose()
    }

    async fn get_app_by_client_id(
        &self,
        client_id: &ClientId,
    ) -> Result<Option<AppRecord>, StorageError> {
        sqlx::query(GET_BY_CLIENT_ID)
            .bind(client_id.as_str())
            .fetch_optional(&self.pool)
            .within(self.timeout)
            .await?
            .as_ref()
            .map(decode_app)
            .transpose()
    }

    async fn list_apps(
        &self,
        workspace: &WorkspaceId,
        offset: u64,
        limit: u32,
    ) -> Result<Listing<OAuthApp>, StorageError> {
        let rows = sqlx::query(LIST)
            .bind(workspace.as_str())
            .bind(i64::from(limit))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .within(self.timeout)
            .await?;
        let mut total = 0;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            total = get::<i64>(row, "total")?;
            if let Some(record) = decode_joined_app(row)? {
                items.push(record.app);
            }
        }
        let total =
            u64::try_from(total).map_err(|_| error::corrupt("total", "a negative count"))?;
        Ok(Listing { items, total })
    }

    async fn update_app(
        &self,
        workspace: &WorkspaceId,
        id: &AppId,
        changes: &AppChanges,
    ) -> Result<Option<AppRecord>, StorageError> {
        sqlx::query(UPDATE)
            .bind(workspace.as_str())
            .bind(id.as_str())
            .bind(changes.name.as_deref())
            .bind(changes.description.is_some())
            .bind(changes.description.as_ref().and_then(Option::as_deref))
            .bind(changes.redirect_uris.as_deref().map(uri_texts))
            .bind(changes.allowed_scopes.as_ref().map(scope_texts))
            .bind(changes.updated_at)
            .bind(changes.allowed_origins.as_deref().map(origin_texts))
            .bind(changes.logo_uri.is_some())
            .bind(changes.logo_uri.as_ref().and_then(Option::as_deref))
            .fetch_optional(&self.pool)
            .within(self.timeout)
            .await?
            .as_ref()
            .map(decode_app)
            .transpose()
    }

    async fn delete_app(&self, workspace: &WorkspaceId, id: &AppId) -> Result<bool, StorageError> {
        let deleted = sqlx::query(DELETE)
            .bind(workspace.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .within(self.timeout)
            .await?;
        Ok(deleted.is_some())
    }

    async fn rotate_client_secret(
        &self,
        workspace: &WorkspaceId,
        id: &AppId,
        rotation: &SecretRotation,
    ) -> Result<Option<AppRecord>, StorageError> {
        let row = sqlx::query(ROTATE)
            .bind(workspace.as_str())
            .bind(id.as_str())
            .bind(hash_param(&rotation.expected_current))
            .bind(hash_param(&rotation.new_current))
            .bind(rotation.previous_valid_until)
            .bind(rotation.updated_at)
            .fetch_one(&self.pool)
            .within(self.timeout)
            .await?;
        match (get::<bool>(&row, "found")?, decode_joined_app(&row)?) {
            (_, Some(record)) => Ok(Some(record)),
            (true, None) => Err(StorageError::new(StorageErrorKind::Conflict)),
            (false, None) => Ok(None),
        }
    }

    async fn origin_is_allowed(&self, origin: &Origin) -> Result<bool, StorageError> {
        let row = sqlx::query(ORIGIN_ALLOWED)
            .bind(origin.as_str())
            .fetch_one(&self.pool)
            .within(self.timeout)
            .await?;
        get::<bool>(&row, "found")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_types_round_trip() {
        for app_type in [AppType::Confidential, AppType::Public] {
            assert_eq!(parse_app_type(app_type_text(app_type)), Ok(app_type));
        }
        assert_eq!(parse_app_type("confidential"), Err(()));
    }
}
