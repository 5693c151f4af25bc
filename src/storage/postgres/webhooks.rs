//! [`WebhookStore`] on PostgreSQL: tables `oauth_webhook_endpoints`,
//! `oauth_webhook_messages` and `oauth_webhook_deliveries`
//! (`migrations/0012_webhooks.sql`, whose triggers write the outbox in the
//! transaction of each change that is an event).
//!
//! Every method is one statement. Workers claim deliveries with
//! `FOR UPDATE SKIP LOCKED` and a lease (`lease_until`): concurrent workers
//! on any number of nodes split the due deliveries, and none claims one
//! whose lease runs.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use time::{Duration, OffsetDateTime};

use super::error::Within as _;
use super::rows::{get, parsed};
use super::{PostgresStore, error};
use crate::model::ids::{AppId, WorkspaceId};
use crate::storage::webhook_events::{WebhookEvent, WebhookEventType};
use crate::storage::webhooks::{
    AttemptResult, ClaimedDelivery, DeliveryRecord, DeliveryStatus, EndpointChanges,
    EndpointRecord, SealedSecret, WebhookMessage, WebhookStore,
};
use crate::storage::{StorageError, StorageErrorKind};

macro_rules! endpoint_columns {
    ($e:literal) => {
        concat!(
            $e,
            ".id AS e_id, ",
            $e,
            ".workspace_id AS e_workspace_id, ",
            $e,
            ".app_id AS e_app_id, ",
            $e,
            ".url AS e_url, ",
            $e,
            ".events AS e_events, ",
            $e,
            ".enabled AS e_enabled, ",
            $e,
            ".secret_key_id AS e_secret_key_id, ",
            $e,
            ".secret AS e_secret, ",
            $e,
            ".previous_secret_key_id AS e_previous_secret_key_id, ",
            $e,
            ".previous_secret AS e_previous_secret, ",
            $e,
            ".previous_valid_until AS e_previous_valid_until, ",
            $e,
            ".failing_since AS e_failing_since, ",
            $e,
            ".created_at AS e_created_at, ",
            $e,
            ".updated_at AS e_updated_at"
        )
    };
}

macro_rules! delivery_columns {
    ($d:literal) => {
        concat!(
            $d,
            ".id AS d_id, ",
            $d,
            ".endpoint_id AS d_endpoint_id, ",
            $d,
            ".message_id AS d_message_id, ",
            $d,
            ".event_type AS d_event_type, ",
            $d,
            ".status AS d_status, ",
            $d,
            ".attempts AS d_attempts, NULLIF(",
            $d,
            ".next_attempt_at, '-infinity') AS d_next_attempt_at, ",
            $d,
            ".first_attempt_at AS d_first_attempt_at, ",
            $d,
            ".last_attempt_at AS d_last_attempt_at, ",
            $d,
            ".last_status_code AS d_last_status_code, ",
            $d,
            ".last_latency_ms AS d_last_latency_ms, ",
            $d,
            ".last_error AS d_last_error, ",
            $d,
            ".created_at AS d_created_at"
        )
    };
}

const INSERT: &str = "WITH app AS ( \
       SELECT id FROM oauth_apps WHERE id = $3 AND workspace_id = $2 FOR UPDATE \
     ) \
     INSERT INTO oauth_webhook_endpoints (id, workspace_id, app_id, url, events, enabled, \
       secret_key_id, secret, failing_since, created_at, updated_at) \
     SELECT $1, $2, app.id, $4, $5, $6, $7, $8, NULL, $9, $10 FROM app \
     WHERE (SELECT count(*) FROM oauth_webhook_endpoints WHERE app_id = $3) < $11";

const LIST: &str = concat!(
    "SELECT ",
    endpoint_columns!("e"),
    " FROM oauth_webhook_endpoints e WHERE e.workspace_id = $1 AND e.app_id = $2 \
     ORDER BY e.created_at, e.id"
);

const GET: &str = concat!(
    "SELECT ",
    endpoint_columns!("e"),
    " FROM oauth_webhook_endpoints e WHERE e.workspace_id = $1 AND e.app_id = $2 AND e.id = $3"
);

/// The right-hand sides read the old row: a new secret moves the current
/// one to `previous_*` when a grace end is given.
const UPDATE: &str = concat!(
    "UPDATE oauth_webhook_endpoints e SET \
       url = COALESCE($4, e.url), \
       events = COALESCE($5, e.events), \
       failing_since = CASE WHEN $6 AND NOT e.enabled THEN NULL ELSE e.failing_since END, \
       enabled = COALESCE($6, e.enabled), \
       previous_secret_key_id = CASE WHEN $7::bytea IS NULL THEN e.previous_secret_key_id \
         WHEN $9::timestamptz IS NULL THEN NULL ELSE e.secret_key_id END, \
       previous_secret = CASE WHEN $7::bytea IS NULL THEN e.previous_secret \
         WHEN $9::timestamptz IS NULL THEN NULL ELSE e.secret END, \
       previous_valid_until = CASE WHEN $7::bytea IS NULL THEN e.previous_valid_until \
         ELSE $9 END, \
       secret_key_id = COALESCE($8, e.secret_key_id), \
       secret = COALESCE($7, e.secret), \
       updated_at = $10 \
     WHERE e.workspace_id = $1 AND e.app_id = $2 AND e.id = $3 RETURNING ",
    endpoint_columns!("e")
);

const DELETE: &str = "DELETE FROM oauth_webhook_endpoints \
     WHERE workspace_id = $1 AND app_id = $2 AND id = $3";

const RECORD: &str = "SELECT oauth_webhook_record($1, $2, $3, $4::jsonb, $5) AS made";

const CLAIM: &str = concat!(
    "WITH due AS ( \
       SELECT d.id FROM oauth_webhook_deliveries d \
       JOIN oauth_webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled \
       WHERE d.status = 'pending' AND d.next_attempt_at <= $1 \
         AND (d.lease_until IS NULL OR d.lease_until <= $1) \
       ORDER BY d.next_attempt_at, d.seq \
       LIMIT $3 FOR UPDATE OF d SKIP LOCKED \
     ), claimed AS ( \
       UPDATE oauth_webhook_deliveries d SET lease_until = $2, attempts = d.attempts + 1, \
         first_attempt_at = COALESCE(d.first_attempt_at, $1) \
       FROM due WHERE d.id = due.id RETURNING d.* \
     ) SELECT ",
    delivery_columns!("c"),
    ", ",
    endpoint_columns!("e"),
    ", m.workspace_id AS m_workspace_id, m.app_id AS m_app_id, m.event_type AS m_event_type, \
       m.data::text AS m_data, m.occurred_at AS m_occurred_at \
     FROM claimed c \
     JOIN oauth_webhook_messages m ON m.id = c.message_id \
     JOIN oauth_webhook_endpoints e ON e.id = c.endpoint_id \
     ORDER BY c.seq"
);

const FINISH: &str = "WITH d AS ( \
       UPDATE oauth_webhook_deliveries SET lease_until = NULL, last_attempt_at = $2, \
         last_status_code = $3, last_latency_ms = $4, last_error = $5, \
         status = CASE WHEN $5::text IS NULL THEN 'succeeded' \
           WHEN $6::timestamptz IS NOT NULL THEN 'pending' ELSE 'failed' END, \
         next_attempt_at = CASE WHEN $5::text IS NOT NULL THEN $6 END \
       WHERE id = $1 RETURNING endpoint_id \
     ), e AS ( \
       UPDATE oauth_webhook_endpoints e SET \
         failing_since = CASE WHEN $5::text IS NULL THEN NULL \
           ELSE COALESCE(e.failing_since, $2) END, \
         enabled = e.enabled AND NOT $7 \
       FROM d WHERE e.id = d.endpoint_id RETURNING e.id \
     ), f AS ( \
       UPDATE oauth_webhook_deliveries x SET status = 'failed', next_attempt_at = NULL, \
         lease_until = NULL \
       FROM d WHERE $7 AND x.endpoint_id = d.endpoint_id AND x.status = 'pending' \
         AND x.id <> $1 RETURNING 1 \
     ) SELECT (SELECT count(*) FROM e) AS endpoints";

const LIST_DELIVERIES: &str = concat!(
    "SELECT ",
    delivery_columns!("d"),
    " FROM oauth_webhook_deliveries d \
     JOIN oauth_webhook_endpoints e ON e.id = d.endpoint_id \
     WHERE e.workspace_id = $1 AND e.app_id = $2 AND d.endpoint_id = $3 \
     ORDER BY d.seq DESC LIMIT $4"
);

const RETRY: &str = concat!(
    "WITH target AS ( \
       SELECT d.id, (d.lease_until IS NULL OR d.lease_until <= $5) AS free \
       FROM oauth_webhook_deliveries d \
       JOIN oauth_webhook_endpoints e ON e.id = d.endpoint_id \
       WHERE e.workspace_id = $1 AND e.app_id = $2 AND d.endpoint_id = $3 AND d.id = $4 \
       FOR UPDATE OF d \
     ), updated AS ( \
       UPDATE oauth_webhook_deliveries d SET status = 'pending', next_attempt_at = $5, \
         first_attempt_at = NULL, attempts = 0 \
       FROM target t WHERE d.id = t.id AND t.free RETURNING d.* \
     ) SELECT ",
    delivery_columns!("u"),
    " FROM updated u UNION ALL SELECT ",
    delivery_columns!("d"),
    " FROM oauth_webhook_deliveries d JOIN target t ON t.id = d.id AND NOT t.free"
);

fn event_types(row: &PgRow, column: &'static str) -> Result<Vec<WebhookEventType>, StorageError> {
    get::<Vec<String>>(row, column)?
        .iter()
        .map(|name| WebhookEventType::parse(name))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| error::corrupt(column, "an unknown event type"))
}

fn key_id(value: i16, column: &'static str) -> Result<u8, StorageError> {
    u8::try_from(value).map_err(|_| error::corrupt(column, "out of range"))
}

fn decode_endpoint(row: &PgRow) -> Result<EndpointRecord, StorageError> {
    let previous_key: Option<i16> = get(row, "e_previous_secret_key_id")?;
    let previous: Option<Vec<u8>> = get(row, "e_previous_secret")?;
    let until: Option<OffsetDateTime> = get(row, "e_previous_valid_until")?;
    let previous_secret = match (previous_key, previous, until) {
        (Some(k), Some(ciphertext), Some(until)) => Some((
            SealedSecret {
                key_id: key_id(k, "previous_secret_key_id")?,
                ciphertext,
            },
            until,
        )),
        (None, None, None) => None,
        _ => return Err(error::corrupt("previous_secret", "partly NULL")),
    };
    Ok(EndpointRecord {
        id: get(row, "e_id")?,
        workspace_id: parsed(row, "e_workspace_id", WorkspaceId::parse)?,
        app_id: parsed(row, "e_app_id", AppId::parse)?,
        url: get(row, "e_url")?,
        events: event_types(row, "e_events")?,
        enabled: get(row, "e_enabled")?,
        secret: SealedSecret {
            key_id: key_id(get(row, "e_secret_key_id")?, "secret_key_id")?,
            ciphertext: get(row, "e_secret")?,
        },
        previous_secret,
        failing_since: get(row, "e_failing_since")?,
        created_at: get(row, "e_created_at")?,
        updated_at: get(row, "e_updated_at")?,
    })
}

fn decode_delivery(row: &PgRow) -> Result<DeliveryRecord, StorageError> {
    let code: Option<i32> = get(row, "d_last_status_code")?;
    let latency: Option<i32> = get(row, "d_last_latency_ms")?;
    let attempts: i32 = get(row, "d_attempts")?;
    Ok(DeliveryRecord {
        id: get(row, "d_id")?,
        endpoint_id: get(row, "d_endpoint_id")?,
        message_id: get(row, "d_message_id")?,
        event_type: parsed(row, "d_event_type", |t| {
            WebhookEventType::parse(t).ok_or(())
        })?,
        status: parsed(row, "d_status", |s| DeliveryStatus::parse(s).ok_or(()))?,
        attempts: u32::try_from(attempts).map_err(|_| error::corrupt("attempts", "negative"))?,
        next_attempt_at: get(row, "d_next_attempt_at")?,
        first_attempt_at: get(row, "d_first_attempt_at")?,
        last_attempt_at: get(row, "d_last_attempt_at")?,
        last_status_code: code
            .map(u16::try_from)
            .transpose()
            .map_err(|_| error::corrupt("last_status_code", "out of range"))?,
        last_latency_ms: latency
            .map(u32::try_from)
            .transpose()
            .map_err(|_| error::corrupt("last_latency_ms", "negative"))?,
        last_error: get(row, "d_last_error")?,
        created_at: get(row, "d_created_at")?,
    })
}

fn decode_claim(row: &PgRow) -> Result<ClaimedDelivery, StorageError> {
    let delivery = decode_delivery(row)?;
    let data: String = get(row, "m_data")?;
    let data = serde_json::from_str(&data).map_err(|_| error::corrupt("data", "not JSON"))?;
    let message = WebhookMessage {
        id: delivery.message_id.clone(),
        event: WebhookEvent {
            workspace_id: parsed(row, "m_workspace_id", WorkspaceId::parse)?,
            app_id: parsed(row, "m_app_id", AppId::parse)?,
            event_type: parsed(row, "m_event_type", |t| {
                WebhookEventType::parse(t).ok_or(())
            })?,
            timestamp: get(row, "m_occurred_at")?,
            data,
        },
    };
    Ok(ClaimedDelivery {
        delivery,
        message,
        endpoint: decode_endpoint(row)?,
    })
}

fn names(events: &[WebhookEventType]) -> Vec<&'static str> {
    events.iter().map(|t| t.as_str()).collect()
}

fn clamp_i32(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[async_trait]
impl WebhookStore for PostgresStore {
    async fn insert_webhook_endpoint(
        &self,
        endpoint: &EndpointRecord,
        max_per_app: usize,
    ) -> Result<(), StorageError> {
        let done = sqlx::query(INSERT)
            .bind(&endpoint.id)
            .bind(endpoint.workspace_id.as_str())
            .bind(endpoint.app_id.as_str())
            .bind(&endpoint.url)
            .bind(names(&endpoint.events))
            .bind(endpoint.enabled)
            .bind(i16::from(endpoint.secret.key_id))
            .bind(&endpoint.secret.ciphertext)
            .bind(endpoint.created_at)
            .bind(endpoint.updated_at)
            .bind(clamp_i32(max_per_app as u64))
            .execute(&self.pool)
            .within(self.timeout)
            .await?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StorageError::new(StorageErrorKind::Conflict))
        }
    }

    async fn list_webhook_endpoints(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
    ) -> Result<Vec<EndpointRecord>, StorageError> {
        let rows = sqlx::query(LIST)
            .bind(workspace.as_str())
            .bind(app.as_str())
            .fetch_all(&self.pool)
            .within(self.timeout)
            .await?;
        rows.iter().map(decode_endpoint).collect()
    }

    async fn get_webhook_endpoint(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
        id: &str,
    ) -> Result<Option<EndpointRecord>, StorageError> {
        let row = sqlx::query(GET)
            .bind(workspace.as_str())
            .bind(app.as_str())
            .bind(id)
            .fetch_optional(&self.pool)
            .within(self.timeout)
            .await?;
        row.as_ref().map(decode_endpoint).transpose()
    }

    async fn update_webhook_endpoint(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
        id: &str,
        changes: &EndpointChanges,
    ) -> Result<Option<EndpointRecord>, StorageError> {
        let (secret, key, until) = match &changes.secret {
            Some((sealed, until)) => (
                Some(sealed.ciphertext.as_slice()),
                Some(i16::from(sealed.key_id)),
                *until,
            ),
            None => (None, None, None),
        };
        let row = sqlx::query(UPDATE)
            .bind(workspace.as_str())
            .bind(app.as_str())
            .bind(id)
            .bind(changes.url.as_deref())
            .bind(changes.events.as_deref().map(names))
            .bind(changes.enabled)
            .bind(secret)
            .bind(key)
            .bind(until)
            .bind(changes.updated_at)
            .fetch_optional(&self.pool)
            .within(self.timeout)
            .await?;
        row.as_ref().map(decode_endpoint).transpose()
    }

    async fn delete_webhook_endpoint(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
        id: &str,
    ) -> Result<bool, StorageError> {
        let done = sqlx::query(DELETE)
            .bind(workspace.as_str())
            .bind(app.as_str())
            .bind(id)
            .execute(&self.pool)
            .within(self.timeout)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn record_webhook_event(&self, event: &WebhookEvent) -> Result<u64, StorageError> {
        let row = sqlx::query(RECORD)
            .bind(event.workspace_id.as_str())
            .bind(event.app_id.as_str())
            .bind(event.event_type.as_str())
            .bind(event.data.to_string())
            .bind(event.timestamp)
            .fetch_one(&self.pool)
            .within(self.timeout)
            .await?;
        let made: i32 = get(&row, "made")?;
        Ok(u64::try_from(made).unwrap_or(0))
    }

    async fn claim_webhook_deliveries(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StorageError> {
        let rows = sqlx::query(CLAIM)
            .bind(now)
            .bind(now + lease)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .within(self.timeout)
            .await?;
        rows.iter().map(decode_claim).collect()
    }

    async fn finish_webhook_attempt(
        &self,
        delivery_id: &str,
        result: &AttemptResult,
    ) -> Result<(), StorageError> {
        sqlx::query(FINISH)
            .bind(delivery_id)
            .bind(result.attempted_at)
            .bind(result.status_code.map(i32::from))
            .bind(i32::try_from(result.latency_ms).unwrap_or(i32::MAX))
            .bind(result.error.as_deref())
            .bind(result.retry_at)
            .bind(result.disable_endpoint)
            .fetch_one(&self.pool)
            .within(self.timeout)
            .await?;
        Ok(())
    }

    async fn list_webhook_deliveries(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
        endpoint: &str,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StorageError> {
        let rows = sqlx::query(LIST_DELIVERIES)
            .bind(workspace.as_str())
            .bind(app.as_str())
            .bind(endpoint)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .within(self.timeout)
            .await?;
        rows.iter().map(decode_delivery).collect()
    }

    async fn retry_webhook_delivery(
        &self,
        workspace: &WorkspaceId,
        app: &AppId,
        endpoint: &str,
        delivery: &str,
        now: OffsetDateTime,
    ) -> Result<Option<DeliveryRecord>, StorageError> {
        let row = sqlx::query(RETRY)
            .bind(workspace.as_str())
            .bind(app.as_str())
            .bind(endpoint)
            .bind(delivery)
            .bind(now)
            .fetch_optional(&self.pool)
            .within(self.timeout)
            .await?;
        row.as_ref().map(decode_delivery).transpose()
    }
}
