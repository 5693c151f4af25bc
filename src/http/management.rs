//! The management API for OAuth apps, authenticated by a workspace admin
//! key (`Authorization: Bearer <admin key>`):
//!
//! | method, path | answer |
//! |---|---|
//! | `GET /v1/oauth-apps?page=&perPage=` | 200 `{ data, meta }` |
//! | `POST /v1/oauth-apps` | 201 the app with its `clientSecret` |
//! | `GET /v1/oauth-apps/{id}` | 200 the app |
//! | `PATCH /v1/oauth-apps/{id}` | 200 the updated app |
//! | `DELETE /v1/oauth-apps/{id}` | 204 |
//! | `POST /v1/oauth-apps/{id}/rotate-secret` | 200 `{ clientId, clientSecret, previousSecretExpiresAt? }` |
//! | `POST /v1/oauth-apps/{id}/publishable-keys` | 201 `{ id, appId, publishableKey, createdAt }` |
//! | `GET /v1/oauth-apps/{id}/publishable-keys` | 200 `{ data: [{ id, appId, createdAt }] }` |
//! | `DELETE /v1/oauth-apps/{id}/publishable-keys/{keyId}` | 204 |
//!
//! Errors are `{"error": "<code>", "message": "…", "field"?: "<path>"}`:
//! 400 `invalid_request` (naming the field when one is at fault), 401
//! `unauthorized`, 404 `not_found` (also for another workspace's app or a
//! malformed id), 405 `method_not_allowed`, 409 `conflict`, 413
//! `payload_too_large`, 415 `unsupported_media_type`, 500 `server_error`,
//! 503 `temporarily_unavailable`. The checks run in that order of concern:
//! route, method, admin key, body size, content type, body, id.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION};
use http::{Method, Request, Response, StatusCode};
use serde::de::DeserializeOwned;

use super::api_error::answer;
use super::auth::{self, AuthHeaderError};
use super::{MAX_BODY_BYTES, allow, response};
use crate::error::{AuthFailure, Error, FieldError, Problem, Resource, Throttle};
use crate::http::params::Params;
use crate::model::ids::{AppId, WorkspaceId};
use crate::registry::apps::{AppUpdate, NewOAuthApp};
use crate::registry::paging::PageRequest;
use crate::registry::secrets::RotateSecretRequest;
use crate::server::AuthorizationServer;
use crate::server::rate_limit::Limit;
use crate::storage::Storage;

/// What a request asks for, once routed.
enum Action<'a> {
    List,
    Create,
    Get(&'a str),
    Update(&'a str),
    Delete(&'a str),
    RotateSecret(&'a str),
    CreateKey(&'a str),
    ListKeys(&'a str),
    RevokeKey(&'a str, &'a str),
}

/// Routes `/v1/oauth-apps/…` (`rest` is what follows `oauth-apps`).
#[allow(clippy::result_large_err)] // the error is the response itself
fn route<'a>(method: &Method, rest: &[&'a str]) -> Result<Action<'a>, Response<Bytes>> {
    match rest {
        [] => {
            allow(method, &[Method::GET, Method::POST])?;
            Ok(if method == Method::GET {
                Action::List
            } else {
                Action::Create
            })
        }
        [id] => {
            allow(method, &[Method::GET, Method::PATCH, Method::DELETE])?;
            Ok(match *method {
                Method::GET => Action::Get(id),
                Method::PATCH => Action::Update(id),
                _ => Action::Delete(id),
            })
        }
        [id, "rotate-secret"] => {
            allow(method, &[Method::POST])?;
            Ok(Action::RotateSecret(id))
        }
        [id, "publishable-keys"] => {
            allow(method, &[Method::GET, Method::POST])?;
            Ok(if method == Method::GET {
                Action::ListKeys(id)
            } else {
                Action::CreateKey(id)
            })
        }
        [id, "publishable-keys", key] => {
            allow(method, &[Method::DELETE])?;
            Ok(Action::RevokeKey(id, key))
        }
        _ => Err(response::not_found("no such resource")),
    }
}

/// Answers a request under `/v1/oauth-apps`.
pub(super) async fn oauth_apps<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
    rest: &[&str],
) -> Response<Bytes> {
    let action = match route(request.method(), rest) {
        Ok(action) => action,
        Err(response) => return response,
    };
    let workspace = match authenticate(server, request).await {
        Ok(workspace) => workspace,
        Err(response) => return response,
    };
    let result = match action {
        Action::List => list(server, &workspace, request).await,
        Action::Create => create(server, &workspace, request).await,
        Action::Get(id) => get(server, &workspace, id).await,
        Action::Update(id) => update(server, &workspace, id, request).await,
        Action::Delete(id) => delete(server, &workspace, id).await,
        Action::RotateSecret(id) => rotate_secret(server, &workspace, id, request).await,
        Action::CreateKey(id) => create_key(server, &workspace, id, request).await,
        Action::ListKeys(id) => list_keys(server, &workspace, id).await,
        Action::RevokeKey(id, key) => revoke_key(server, &workspace, id, key).await,
    };
    result.unwrap_or_else(|response| response)
}

type Answer = Result<Response<Bytes>, Response<Bytes>>;

/// The workspace of the request's admin key, or the 401 (400 for a
/// malformed header) to answer.
///
/// Failed keys are counted per client address: once an address reached
/// the [limit](crate::AuthorizationServerBuilder::authentication_failure_limit)
/// of the window, every admin key it presents, the right one included, is
/// refused with 429 and `Retry-After` until the window ends, without
/// being checked. Other addresses are not affected.
#[allow(clippy::result_large_err)] // the error is the response itself
pub(super) async fn authenticate<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Result<WorkspaceId, Response<Bytes>> {
    admin_workspace(server, request)
        .await
        .map_err(|e| answer(&e))
}

/// The workspace of the request's admin key, or why not.
async fn admin_workspace<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Result<WorkspaceId, Error> {
    let key = match auth::bearer_credential(request.headers()) {
        Ok(Some(key)) => Some(key),
        Ok(None) | Err(AuthHeaderError::WrongScheme) => {
            return Err(AuthFailure::MissingAdminKey.into());
        }
        Err(AuthHeaderError::Multiple) => {
            return Err(AuthFailure::MultipleAuthorizationHeaders.into());
        }
        Err(AuthHeaderError::Malformed) => None,
    };
    let counter = server.counter(
        Limit::AdminAuthentication,
        b"",
        server.client_address(request),
        None,
    );
    let too_many = |retry_after| Error::RateLimited {
        limit: Throttle::FailedAdminKeys,
        retry_after,
    };
    if let Some(retry_after) = server.exhausted(&counter).await? {
        return Err(too_many(retry_after));
    }
    let outcome = match key {
        Some(key) => server.authenticate_admin(key).await,
        None => Err(AuthFailure::InvalidAdminKey.into()),
    };
    match outcome {
        Err(Error::Unauthenticated(_) | Error::Conflict(_)) => match server.spend(&counter).await {
            Ok(Err(retry_after)) => Err(too_many(retry_after)),
            Ok(Ok(())) | Err(_) => Err(AuthFailure::InvalidAdminKey.into()),
        },
        outcome => outcome,
    }
}

/// 400 naming the field.
pub(super) fn invalid_field(field: FieldError) -> Response<Bytes> {
    answer(&Error::Invalid(field))
}

/// The app id from the path; a malformed one is as unknown as a missing one.
#[allow(clippy::result_large_err)] // the error is the response itself
fn app_id(raw: &str) -> Result<AppId, Response<Bytes>> {
    AppId::parse(raw).map_err(|_| answer(&Resource::App.into()))
}

/// The request's JSON body, `None` when it is empty.
///
/// 413 over [`MAX_BODY_BYTES`]; 415 unless `Content-Type` is
/// `application/json` (parameters allowed); 400 for JSON that does not
/// match `T`, naming the field when serde does.
#[allow(clippy::result_large_err)] // the error is the response itself
pub(super) fn json_body<T: DeserializeOwned>(
    request: &Request<Bytes>,
) -> Result<Option<T>, Response<Bytes>> {
    let body = request.body();
    if body.len() > MAX_BODY_BYTES {
        return Err(response::api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            &format!("the request body exceeds {MAX_BODY_BYTES} bytes"),
            None,
        ));
    }
    if body.is_empty() {
        return Ok(None);
    }
    if !is_json(request.headers()) {
        return Err(response::api_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as `Content-Type: application/json`",
            None,
        ));
    }
    let invalid = |message: String, path: Option<String>| {
        // Unknown, missing and duplicate fields name themselves in the
        // message; a value of the wrong type is named by its path
        // (`name`, `redirectUris[1]`, `customerInfo.location.city`).
        let field = serde_field(&message)
            .map(str::to_owned)
            .or(path.filter(|p| p != "."));
        response::api_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &message,
            field.as_deref(),
        )
    };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|e| invalid(e.inner().to_string(), Some(e.path().to_string())))?;
    deserializer
        .end()
        .map_err(|e| invalid(e.to_string(), None))?;
    Ok(Some(value))
}

/// Whether the single `Content-Type` is `application/json`, with any
/// parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false;
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The field a serde message names: `unknown field `type``, `missing field
/// `name``, `duplicate field `name``.
fn serde_field(message: &str) -> Option<&str> {
    ["unknown field `", "missing field `", "duplicate field `"]
        .iter()
        .find_map(|lead| message.strip_prefix(lead))
        .and_then(|rest| rest.split_once('`'))
        .map(|(field, _)| field)
}

pub(super) fn body_required() -> Response<Bytes> {
    response::api_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "a JSON body is required",
        None,
    )
}

/// `page` or `perPage` from the query: absent means the default; anything
/// but a number in range, an empty value included (the document says
/// integer), is a 400 naming it.
#[allow(clippy::result_large_err)] // the error is the response itself
pub(super) fn page_param(
    params: &Params,
    name: &'static str,
    default: u32,
    max: u32,
) -> Result<u32, Response<Bytes>> {
    let raw = match params.get(name) {
        Some(raw) => raw,
        None if params.sent_empty(name) => "",
        None => return Ok(default),
    };
    raw.parse::<u32>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| {
            invalid_field(FieldError::new(
                name,
                Problem::OutOfRange {
                    min: 1,
                    max: max.into(),
                },
            ))
        })
}

async fn list<S: Storage>(
    server: &AuthorizationServer<S>,
    workspace: &WorkspaceId,
    request: &Request<Bytes>,
) -> Answer {
    let params = Params::parse_query(request.uri().query()).map_err(|e| {
        response::api_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &e.to_string(),
            e.parameter(),
        )
    })?;
    let defaults = PageRequest::default();
    let page = PageRequest::new(
        page_param(&params, "page", defaults.page, PageRequest::MAX_PAGE)?,
        page_param(
            &params,
            "perPage",
            defaults.per_page,
            PageRequest::MAX_PER_PAGE,
        )?,
    );
    let page = server
        .list_apps(workspace, page)
        .await
        .map_err(|e| answer(&e))?;
    Ok(response::json(StatusCode::OK, &page))
}

async fn create<S: Storage>(
    server: &AuthorizationServer<S>,
    workspace: &WorkspaceId,
    request: &Request<Bytes>,
) -> Answer {
    let new: NewOAuthApp = json_body(request)?.ok_or_else(body_required)?;
    let created = server
        .create_app(workspace, &new)
        .await
        .map_err(|e| answer(&e))?;
    let mut answer = response::no_store(response::json(StatusCode::CREATED, &created));
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/oauth-apps/{}", created.app.id)) {
        answer.headers_mut().insert(LOCATION, location);
    }
    Ok(answer)
}

async fn get<S: Storage>(
    server: &AuthorizationServer<S>,
    workspace: &WorkspaceId,
    id: &str,
) -> Answer {
    let id = app_id(id)?;
    let app = server
        .get_app(workspace, &id)
        .await
        .map_err(|e| answer(&e))?;
    Ok(response::json(StatusCode::OK, &app))
}

async fn update<S: Storage>(
    server: &AuthorizationServer<S>,
    workspace: &WorkspaceId,
    id: &str,
    request: &Request<Bytes>,
) -> Answer {
    let update: AppUpdate = json_body(request)?.ok_or_else(body_required)?;
    let id = app_id(id)?;
    let app = server
        .update_app(workspace, &id, &update)
        .await
        .map_err(|e| answer(&e))?;
    Ok(response::json(StatusCode::OK, &app))
}

async fn delete<S: Storage>(
    server: &AuthorizationServer<S>,
    workspace: &WorkspaceId,
    id: &str,
) -> Answer {
    let id = app_id(id)?;
    server
        .delete_app(workspace, &id)
        .await
        .map_err(|e| answer(&e))?;
    Ok(response::no_content())
}

async fn rotate_secret<S: Storage>(
    server: &AuthorizationServer<S>,
    workspace: &WorkspaceId,
    id: &str,
    request: &Request<Bytes>,
) -> Answer {
    let rotation: RotateSecretRequest = json_body(request)?.unwrap_or_default();
    let id = app_id(id)?;
    let rotated = server
        .rotate_client_secret(workspace, &id, rotation.grace_period)
        .await
        .map_err(|e| answer(&e))?;
    Ok(response::no_store(response::json(StatusCode::OK, &rotated)))
}

async fn create_key<S: Storage>(
    server: &AuthorizationServer<S>,
    workspace: &WorkspaceId,
    id: &str,
    request: &Request<Bytes>,
) -> Answer {
    // No body is needed; one that is sent must be an empty JSON object.
    if let Some(serde_json::Value::Object(fields)) = json_body::<serde_json::Value>(request)?
        && let Some(field) = fields.keys().next()
    {
        return Err(response::api_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("unknown field `{field}`"),
            Some(field),
        ));
    }
    let id = app_id(id)?;
    let created = server
        .create_publishable_key(workspace, &id)
        .await
        .map_err(|e| answer(&e))?;
    Ok(response::no_store(response::json(
        StatusCode::CREATED,
        &created,
    )))
}

async fn list_keys<S: Storage>(
    server: &AuthorizationServer<S>,
    workspace: &WorkspaceId,
    id: &str,
) -> Answer {
    #[derive(serde::Serialize)]
    struct Keys {
        data: Vec<crate::connect::publishable_keys::PublishableKeyInfo>,
    }
    let id = app_id(id)?;
    let data = server
        .list_publishable_keys(workspace, &id)
        .await
        .map_err(|e| answer(&e))?;
    Ok(response::json(StatusCode::OK, &Keys { data }))
}

async fn revoke_key<S: Storage>(
    server: &AuthorizationServer<S>,
    workspace: &WorkspaceId,
    id: &str,
    key: &str,
) -> Answer {
    let id = app_id(id)?;
    let key = crate::PublishableKeyId::parse(key)
        .map_err(|_| answer(&Resource::PublishableKey.into()))?;
    server
        .revoke_publishable_key(workspace, &id, &key)
        .await
        .map_err(|e| answer(&e))?;
    Ok(response::no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_field_names_the_field() {
        assert_eq!(
            serde_field("unknown field `type`, expected one of `name` at line 1 column 7"),
            Some("type")
        );
        assert_eq!(
            serde_field("missing field `name` at line 1 column 2"),
            Some("name")
        );
        assert_eq!(serde_field("duplicate field `name`"), Some("name"));
        assert_eq!(serde_field("invalid type: integer `1`"), None);
    }

    #[test]
    fn content_type_must_be_json() {
        let check = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for v in values {
                headers.append(CONTENT_TYPE, HeaderValue::from_str(v).unwrap());
            }
            is_json(&headers)
        };
        assert!(check(&["application/json"]));
        assert!(check(&["Application/JSON; charset=utf-8"]));
        assert!(check(&["application/json ;charset=UTF-8"]));
        assert!(!check(&[]));
        assert!(!check(&["text/plain"]));
        assert!(!check(&["application/jsonx"]));
        assert!(!check(&["application/x-www-form-urlencoded"]));
        assert!(!check(&["application/json", "application/json"]));
    }
}
