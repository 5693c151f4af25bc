//! The webhook endpoints API, under `/v1/oauth-apps/{id}/webhooks`, for a
//! workspace admin (`Authorization: Bearer <admin key>`) or the app's own
//! confidential client (`Authorization: Basic`, its own app only):
//!
//! | method, path | answer |
//! |---|---|
//! | `POST …/webhooks` `{ url, events }` | 201 the endpoint with its `secret` (`whsec_…`, shown once) |
//! | `GET …/webhooks` | 200 `{ data: [endpoint] }` |
//! | `GET …/webhooks/{whId}` | 200 the endpoint |
//! | `PATCH …/webhooks/{whId}` `{ url?, events?, enabled? }` | 200 the endpoint |
//! | `DELETE …/webhooks/{whId}` | 204 |
//! | `POST …/webhooks/{whId}/rotate-secret` `{ gracePeriodSeconds? }` | 200 `{ secret, previousSecretExpiresAt? }` |
//! | `GET …/webhooks/{whId}/deliveries` | 200 `{ data: [delivery] }`, newest first |
//! | `POST …/webhooks/{whId}/deliveries/{dId}/retry` | 200 the delivery, due again |

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use serde::Serialize;
use time::OffsetDateTime;

use super::connect::connections_caller;
use super::management::json_body;
use super::{allow, response, storage_error};
use crate::model::ids::AppId;
use crate::model::timestamp::{rfc3339_ms, rfc3339_ms_option};
use crate::registry::secrets::RotateSecretRequest;
use crate::server::AuthorizationServer;
use crate::storage::Storage;
use crate::webhooks::{
    DeliveryRecord, NewWebhookEndpoint, WebhookEndpoint, WebhookEndpointUpdate, WebhookError,
};

/// A delivery as the API shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryView<'a> {
    id: &'a str,
    endpoint_id: &'a str,
    /// The message id, sent as `webhook-id`.
    event_id: &'a str,
    event_type: &'static str,
    status: &'static str,
    attempts: u32,
    #[serde(with = "rfc3339_ms_option", skip_serializing_if = "Option::is_none")]
    next_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "rfc3339_ms_option", skip_serializing_if = "Option::is_none")]
    last_attempt_at: Option<OffsetDateTime>,
    status_code: Option<u16>,
    latency_ms: Option<u32>,
    error: Option<&'a str>,
    #[serde(with = "rfc3339_ms")]
    created_at: OffsetDateTime,
}

impl<'a> From<&'a DeliveryRecord> for DeliveryView<'a> {
    fn from(d: &'a DeliveryRecord) -> Self {
        Self {
            id: &d.id,
            endpoint_id: &d.endpoint_id,
            event_id: &d.message_id,
            event_type: d.event_type.as_str(),
            status: d.status.as_str(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_attempt_at: d.last_attempt_at,
            status_code: d.last_status_code,
            latency_ms: d.last_latency_ms,
            error: d.last_error.as_deref(),
            created_at: d.created_at,
        }
    }
}

#[derive(Serialize)]
struct List<T> {
    data: Vec<T>,
}

fn webhook_error(error: WebhookError) -> Response<Bytes> {
    match error {
        WebhookError::Invalid { field, message } => {
            let path = (field != "body").then_some(field);
            response::api_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("{field}: {message}"),
                path,
            )
        }
        WebhookError::NotFound => response::not_found("no such webhook endpoint"),
        WebhookError::TooMany => {
            response::api_error(StatusCode::CONFLICT, "conflict", &error.to_string(), None)
        }
        WebhookError::Storage(e) => storage_error(&e),
        _ => response::server_error(),
    }
}

/// Answers `/v1/oauth-apps/{app}/webhooks…` (`rest` follows `webhooks`).
pub(super) async fn webhooks<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
    app: &str,
    rest: &[&str],
) -> Response<Bytes> {
    let allowed: &[Method] = match rest {
        [] => &[Method::GET, Method::POST],
        [_] => &[Method::GET, Method::PATCH, Method::DELETE],
        [_, "rotate-secret"] | [_, "deliveries", _, "retry"] => &[Method::POST],
        [_, "deliveries"] => &[Method::GET],
        _ => return response::not_found("no such resource"),
    };
    if let Err(response) = allow(request.method(), allowed) {
        return response;
    }
    let (workspace, own_app) = match connections_caller(server, request).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    // A malformed id, or another app than the client's own, is unknown.
    let Ok(app) = AppId::parse(app) else {
        return response::not_found("no such OAuth app");
    };
    if own_app.as_ref().is_some_and(|own| own != &app) {
        return response::not_found("no such OAuth app");
    }
    let result = match (request.method().clone(), rest) {
        (Method::POST, []) => match json_body::<NewWebhookEndpoint>(request) {
            Ok(Some(new)) => server
                .create_webhook_endpoint(&workspace, &app, &new)
                .await
                .map(|created| response::no_store(response::json(StatusCode::CREATED, &created))),
            Ok(None) => Ok(response::api_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "a JSON body with url and events is required",
                None,
            )),
            Err(response) => return response,
        },
        (Method::GET, []) => server
            .list_webhook_endpoints(&workspace, &app)
            .await
            .map(|data| response::json(StatusCode::OK, &List { data })),
        (Method::GET, [id]) => server
            .get_webhook_endpoint(&workspace, &app, id)
            .await
            .map(|e| response::json(StatusCode::OK, &e)),
        (Method::PATCH, [id]) => {
            let update: WebhookEndpointUpdate = match json_body(request) {
                Ok(update) => update.unwrap_or_default(),
                Err(response) => return response,
            };
            server
                .update_webhook_endpoint(&workspace, &app, id, &update)
                .await
                .map(|e: WebhookEndpoint| response::json(StatusCode::OK, &e))
        }
        (Method::DELETE, [id]) => server
            .delete_webhook_endpoint(&workspace, &app, id)
            .await
            .map(|()| response::no_content()),
        (Method::POST, [id, "rotate-secret"]) => {
            let rotation: RotateSecretRequest = match json_body(request) {
                Ok(rotation) => rotation.unwrap_or_default(),
                Err(response) => return response,
            };
            server
                .rotate_webhook_secret(&workspace, &app, id, rotation.grace_period)
                .await
                .map(|r| response::no_store(response::json(StatusCode::OK, &r)))
        }
        (Method::GET, [id, "deliveries"]) => server
            .list_webhook_deliveries(&workspace, &app, id)
            .await
            .map(|list| {
                let data: Vec<DeliveryView<'_>> = list.iter().map(DeliveryView::from).collect();
                response::json(StatusCode::OK, &List { data })
            }),
        (Method::POST, [id, "deliveries", delivery, "retry"]) => server
            .retry_webhook_delivery(&workspace, &app, id, delivery)
            .await
            .map(|d| response::json(StatusCode::OK, &DeliveryView::from(&d))),
        _ => return response::not_found("no such resource"),
    };
    result.unwrap_or_else(webhook_error)
}
