//! Connect's JSON API over HTTP: creating sessions (`POST /v1/connect/sessions`),
//! scoped keys (`/v1/scoped-keys`), connections and customers.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};

use super::auth::{self, AuthHeaderError};
use super::management::{
    authenticate as admin, body_required, invalid_field, json_body, page_param,
};
use super::{allow, cors, response, storage_error};
use crate::connect::publishable_keys::PublishableKeyError;
use crate::connect::scoped_keys::{MintError, NewScopedKey};
use crate::connect::{ConnectError, NewConnectSession};
use crate::error::ClientAuthError;
use crate::http::params::Params;
use crate::model::ids::{AppId, CustomerId, ScopedKeyId};
use crate::registry::apps::{AuthenticatedClient, OAuthApp, PageRequest};
use crate::server::AuthorizationServer;
use crate::storage::Storage;

const BASIC_CHALLENGE: &str = "Basic realm=\"oauth-connect\"";

fn unauthorized(message: &str) -> Response<Bytes> {
    response::unauthorized(
        BASIC_CHALLENGE,
        response::api_error(StatusCode::UNAUTHORIZED, "unauthorized", message, None),
    )
}

/// A confidential client authenticated with `Authorization: Basic`. A
/// failed secret is counted for the client id and the client's address:
/// past the [limit](crate::AuthorizationServerBuilder::authentication_failure_limit)
/// the answer is 429 with `Retry-After`.
async fn client<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Result<AuthenticatedClient, Response<Bytes>> {
    let basic = match auth::basic(request.headers()) {
        Ok(Some(basic)) => basic,
        Ok(None) | Err(AuthHeaderError::WrongScheme) => {
            return Err(unauthorized(
                "send the client's credentials with `Authorization: Basic`",
            ));
        }
        Err(_) => return Err(unauthorized("malformed Authorization header")),
    };
    match server
        .authenticate_client(&basic.client_id, Some(basic.client_secret.expose_secret()))
        .await
    {
        Ok(client) if client.authenticated => Ok(client),
        Ok(_) => Err(unauthorized("a confidential client is required")),
        Err(ClientAuthError::Storage(e)) => Err(storage_error(&e)),
        Err(failure) => {
            // Counted for the client when one has the presented id; made-up
            // ids share their address's one count.
            let client = match failure {
                ClientAuthError::UnknownClient => None,
                _ => server.registered_client_id(&basic.client_id).await,
            };
            match super::oauth::count_client_failure(server, request, client).await {
                Some(retry_after) => Err(response::rate_limited(
                    "too many failed client authentications from this address; retry after the time in Retry-After",
                    retry_after,
                )),
                None => Err(unauthorized("client authentication failed")),
            }
        }
    }
}

/// `POST /v1/connect/sessions`: a confidential client (Basic) for its own
/// app, a workspace admin (Bearer) naming the app with `appId`, or a web
/// page with the app's publishable key (Bearer `oc_pk_…`, from an allowed
/// origin); `OPTIONS` is the CORS preflight of the last.
pub(super) async fn sessions<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Response<Bytes> {
    if let Err(response) = allow(request.method(), &[Method::POST, Method::OPTIONS]) {
        return response;
    }
    if request.method() == Method::OPTIONS {
        return cors::preflight(request.headers());
    }
    let publishable_prefix = server.config().prefixes().publishable_key();
    if let Ok(Some(key)) = auth::bearer_credential(request.headers())
        && key.starts_with(publishable_prefix)
    {
        return browser_session(server, request, key).await;
    }
    let is_admin = auth::authorization(request.headers())
        .ok()
        .flatten()
        .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "));
    let app = if is_admin {
        match admin(server, request).await {
            Ok(ws) => Err(ws),
            Err(response) => return response,
        }
    } else {
        match client(server, request).await {
            Ok(client) => Ok(client.app),
            Err(response) => return response,
        }
    };
    let body: NewConnectSession = match json_body(request) {
        Ok(Some(body)) => body,
        Ok(None) => return body_required(),
        Err(response) => return response,
    };
    let app: OAuthApp = match app {
        Ok(app) => {
            if body
                .app_id
                .as_deref()
                .is_some_and(|id| id != app.id.as_str())
            {
                return invalid_field(&crate::FieldError::new("appId", crate::Problem::Mismatch));
            }
            app
        }
        Err(ws) => {
            let Some(id) = body.app_id.as_deref().and_then(|id| AppId::parse(id).ok()) else {
                return invalid_field(&crate::FieldError::new("appId", crate::Problem::Required));
            };
            match server.get_app(&ws, &id).await {
                Ok(app) => app,
                Err(crate::RegistryError::Storage(e)) => return storage_error(&e),
                Err(_) => return response::not_found("no such OAuth app"),
            }
        }
    };
    match server.create_connect_session(&app, &body, false).await {
        Ok(created) => response::no_store(response::json(StatusCode::CREATED, &created)),
        Err(ConnectError::Invalid(field)) => invalid_field(&field),
        Err(ConnectError::Storage(e)) => storage_error(&e),
        Err(ConnectError::Random(_)) => response::server_error(),
        // Only a publishable key's sessions are counted.
        Err(ConnectError::RateLimited { .. }) => response::server_error(),
    }
}

const PUBLISHABLE_CHALLENGE: &str = r#"Bearer realm="oauth-connect", error="invalid_token""#;

/// `POST /v1/connect/sessions` with a publishable key: the key, its app, the
/// `Origin`, the body, then the rate limit of the key and client address.
/// Every answer to an allowed origin carries its CORS headers, so the
/// page's script can read it.
async fn browser_session<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
    key: &str,
) -> Response<Bytes> {
    let origin = cors::origin(request.headers());
    let caller = match server.authenticate_publishable_key(key, origin).await {
        Ok(caller) => caller,
        Err(PublishableKeyError::InvalidKey) => {
            let answer = response::unauthorized(
                PUBLISHABLE_CHALLENGE,
                response::api_error(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "the publishable key is invalid or revoked",
                    None,
                ),
            );
            // Readable by the page that sent it, whatever its origin: the
            // answer depends on the key alone, never on which origins other
            // apps allow.
            return match origin {
                Some(o) => cors::allow_origin(answer, o),
                None => answer,
            };
        }
        Err(PublishableKeyError::OriginNotAllowed) => return cors::forbidden_origin(),
        Err(PublishableKeyError::Storage(e)) => return storage_error(&e),
    };
    let answer = |response: Response<Bytes>| cors::allow_origin(response, caller.origin.as_str());
    let body: NewConnectSession = match json_body(request) {
        Ok(Some(body)) => body,
        Ok(None) => return answer(body_required()),
        Err(response) => return answer(response),
    };
    if body.customer_id.is_some() {
        return answer(invalid_field(&crate::FieldError::new(
            "customerId",
            crate::Problem::NotWithPublishableKey,
        )));
    }
    if body
        .app_id
        .as_deref()
        .is_some_and(|id| id != caller.app.id.as_str())
    {
        return answer(invalid_field(&crate::FieldError::new(
            "appId",
            crate::Problem::Mismatch,
        )));
    }
    // Counted against the key's budget for this client address only now
    // that the request is well formed, and given back if it is refused.
    let address = server.client_address(request);
    answer(
        match server
            .create_browser_connect_session(&caller, &body, address)
            .await
        {
            Ok(created) => response::no_store(response::json(StatusCode::CREATED, &created)),
            Err(ConnectError::Invalid(field)) => invalid_field(&field),
            Err(ConnectError::Storage(e)) => storage_error(&e),
            Err(ConnectError::Random(_)) => response::server_error(),
            Err(ConnectError::RateLimited { retry_after }) => response::rate_limited(
                "too many Connect sessions for this publishable key from this address; retry after the time in Retry-After",
                retry_after,
            ),
        },
    )
}

/// `POST /v1/scoped-keys` (mint), `GET /v1/scoped-keys` (list the app's), and
/// `DELETE /v1/scoped-keys/{id}` (revoke): a confidential client's own keys.
pub(super) async fn scoped_keys<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
    rest: &[&str],
) -> Response<Bytes> {
    let allowed: &[Method] = match rest {
        [] => &[Method::GET, Method::POST],
        [_] => &[Method::DELETE],
        _ => return response::not_found("no such resource"),
    };
    if let Err(response) = allow(request.method(), allowed) {
        return response;
    }
    let client = match client(server, request).await {
        Ok(client) => client,
        Err(response) => return response,
    };
    match (request.method().clone(), rest) {
        (Method::POST, []) => {
            let body: NewScopedKey = match json_body(request) {
                Ok(Some(body)) => body,
                Ok(None) => return body_required(),
                Err(response) => return response,
            };
            match server.mint_scoped_key(&client, &body).await {
                Ok(minted) => response::no_store(response::json(StatusCode::CREATED, &minted)),
                Err(MintError::Invalid(field)) => invalid_field(&field),
                Err(MintError::NotConfidential) => {
                    unauthorized("a confidential client is required")
                }
                Err(MintError::Storage(e)) => storage_error(&e),
                Err(MintError::Random(_)) => response::server_error(),
            }
        }
        (Method::GET, []) => {
            let Ok(query) = Params::parse_query(request.uri().query()) else {
                return invalid_field(&crate::FieldError::new(
                    "query",
                    crate::Problem::InvalidCharacters,
                ));
            };
            let page = match (
                page_param(&query, "page", 1, PageRequest::MAX_PAGE),
                page_param(&query, "perPage", 10, PageRequest::MAX_PER_PAGE),
            ) {
                (Ok(page), Ok(per_page)) => PageRequest::new(page, per_page),
                (Err(response), _) | (_, Err(response)) => return response,
            };
            let customer = match query.get("customerId").map(CustomerId::parse) {
                None => None,
                Some(Ok(id)) => Some(id),
                Some(Err(_)) => {
                    return invalid_field(&crate::FieldError::new(
                        "customerId",
                        crate::Problem::UnknownCustomer,
                    ));
                }
            };
            let app = &client.app;
            match server
                .list_scoped_keys(&app.workspace_id, Some(&app.id), customer.as_ref(), page)
                .await
            {
                Ok(page) => response::json(StatusCode::OK, &page),
                Err(crate::RegistryError::Invalid(field)) => invalid_field(&field),
                Err(crate::RegistryError::Storage(e)) => storage_error(&e),
                Err(_) => response::server_error(),
            }
        }
        (Method::DELETE, [id]) => {
            let Ok(id) = ScopedKeyId::parse(id) else {
                return response::not_found("no such scoped key");
            };
            match server.revoke_scoped_key(&client, &id).await {
                Ok(true) => response::no_content(),
                Ok(false) => response::not_found("no such scoped key"),
                Err(e) => storage_error(&e),
            }
        }
        _ => response::not_found("no such resource"),
    }
}

/// Who may read connections and customers: a workspace admin (the whole
/// workspace) or a confidential client (its own app's).
pub(super) async fn connections_caller<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
) -> Result<(crate::WorkspaceId, Option<AppId>), Response<Bytes>> {
    let is_bearer = auth::authorization(request.headers())
        .ok()
        .flatten()
        .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "));
    if is_bearer {
        admin(server, request).await.map(|ws| (ws, None))
    } else {
        client(server, request)
            .await
            .map(|c| (c.app.workspace_id, Some(c.app.id)))
    }
}

fn registry_response(error: crate::RegistryError, what: &str) -> Response<Bytes> {
    match error {
        crate::RegistryError::Invalid(field) => invalid_field(&field),
        crate::RegistryError::NotFound => response::not_found(what),
        crate::RegistryError::NotAttachable
        | crate::RegistryError::AlreadyConnected
        | crate::RegistryError::Conflict => {
            response::api_error(StatusCode::CONFLICT, "conflict", &error.to_string(), None)
        }
        crate::RegistryError::Storage(e) => storage_error(&e),
        _ => response::server_error(),
    }
}

#[allow(clippy::result_large_err)] // the error is the response itself
fn page_of_query(query: &Params) -> Result<PageRequest, Response<Bytes>> {
    Ok(PageRequest::new(
        page_param(query, "page", 1, PageRequest::MAX_PAGE)?,
        page_param(query, "perPage", 10, PageRequest::MAX_PER_PAGE)?,
    ))
}

/// `GET /v1/connections`, `GET`/`PATCH`/`DELETE /v1/connections/{id}`, and
/// `POST /v1/connections/{id}/attach` (a browser-created connection to a
/// customer of the app).
pub(super) async fn connections<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
    rest: &[&str],
) -> Response<Bytes> {
    let allowed: &[Method] = match rest {
        [] => &[Method::GET],
        [_] => &[Method::GET, Method::PATCH, Method::DELETE],
        [_, "attach"] => &[Method::POST],
        _ => return response::not_found("no such resource"),
    };
    if let Err(response) = allow(request.method(), allowed) {
        return response;
    }
    let (ws, app) = match connections_caller(server, request).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    const MISSING: &str = "no such connection";
    match (request.method().clone(), rest) {
        (Method::GET, []) => {
            let Ok(query) = Params::parse_query(request.uri().query()) else {
                return invalid_field(&crate::FieldError::new(
                    "query",
                    crate::Problem::InvalidCharacters,
                ));
            };
            let page = match page_of_query(&query) {
                Ok(page) => page,
                Err(response) => return response,
            };
            let status = match query.get("status") {
                None => None,
                Some("active") => Some(crate::storage::ConnectionStatus::Active),
                Some("revoked") => Some(crate::storage::ConnectionStatus::Revoked),
                Some(_) => {
                    return invalid_field(&crate::FieldError::new(
                        "status",
                        crate::Problem::InvalidCharacters,
                    ));
                }
            };
            let customer_id = match query.get("customerId").map(CustomerId::parse) {
                None => None,
                Some(Ok(id)) => Some(id),
                Some(Err(_)) => {
                    return invalid_field(&crate::FieldError::new(
                        "customerId",
                        crate::Problem::UnknownCustomer,
                    ));
                }
            };
            let filter = crate::storage::ConnectionFilter {
                customer_id,
                reference_id: query.get("referenceId").map(str::to_owned),
                tag: query.get("tag").map(str::to_owned),
                provider: query.get("provider").map(str::to_owned),
                status,
                ..crate::storage::ConnectionFilter::default()
            };
            match server
                .list_connections(&ws, app.as_ref(), filter, page)
                .await
            {
                Ok(page) => response::json(StatusCode::OK, &page),
                Err(e) => registry_response(e, MISSING),
            }
        }
        (method, [id]) => {
            let Ok(id) = crate::ConnectionId::parse(id) else {
                return response::not_found(MISSING);
            };
            match method {
                Method::GET => match server.get_connection(&ws, app.as_ref(), &id).await {
                    Ok(c) => response::json(StatusCode::OK, &c),
                    Err(e) => registry_response(e, MISSING),
                },
                Method::DELETE => match server.revoke_connection(&ws, app.as_ref(), &id).await {
                    Ok(_) => response::no_content(),
                    Err(e) => registry_response(e, MISSING),
                },
                _ => {
                    let update: crate::connect::connections::ConnectionUpdate =
                        match json_body(request) {
                            Ok(Some(body)) => body,
                            Ok(None) => return body_required(),
                            Err(response) => return response,
                        };
                    match server
                        .update_connection_tags(&ws, app.as_ref(), &id, &update)
                        .await
                    {
                        Ok(c) => response::json(StatusCode::OK, &c),
                        Err(e) => registry_response(e, MISSING),
                    }
                }
            }
        }
        (Method::POST, [id, "attach"]) => {
            let Ok(id) = crate::ConnectionId::parse(id) else {
                return response::not_found(MISSING);
            };
            let body: crate::connect::connections::AttachConnection = match json_body(request) {
                Ok(Some(body)) => body,
                Ok(None) => return body_required(),
                Err(response) => return response,
            };
            match server
                .attach_connection(&ws, app.as_ref(), &id, &body)
                .await
            {
                Ok(c) => response::json(StatusCode::OK, &c),
                Err(e) => registry_response(e, MISSING),
            }
        }
        _ => response::not_found("no such resource"),
    }
}

/// `GET /v1/customers`, `GET`/`DELETE /v1/customers/{id}`: a workspace
/// admin (every customer of the workspace) or a confidential client (only
/// its app's own customers: another app's are 404). DELETE deletes the
/// customer and revokes all their connections.
pub(super) async fn customers<S: Storage>(
    server: &AuthorizationServer<S>,
    request: &Request<Bytes>,
    rest: &[&str],
) -> Response<Bytes> {
    let allowed: &[Method] = match rest {
        [] => &[Method::GET],
        [_] => &[Method::GET, Method::DELETE],
        _ => return response::not_found("no such resource"),
    };
    if let Err(response) = allow(request.method(), allowed) {
        return response;
    }
    let (ws, app) = match connections_caller(server, request).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    const MISSING: &str = "no such customer";
    match (request.method().clone(), rest) {
        (Method::GET, []) => {
            let Ok(query) = Params::parse_query(request.uri().query()) else {
                return invalid_field(&crate::FieldError::new(
                    "query",
                    crate::Problem::InvalidCharacters,
                ));
            };
            let page = match page_of_query(&query) {
                Ok(page) => page,
                Err(response) => return response,
            };
            match server
                .list_customers(&ws, app.as_ref(), query.get("referenceId"), page)
                .await
            {
                Ok(page) => response::json(StatusCode::OK, &page),
                Err(e) => registry_response(e, MISSING),
            }
        }
        (method, [id]) => {
            let Ok(id) = CustomerId::parse(id) else {
                return response::not_found(MISSING);
            };
            if method == Method::DELETE {
                match server.delete_customer(&ws, app.as_ref(), &id).await {
                    Ok(()) => response::no_content(),
                    Err(e) => registry_response(e, MISSING),
                }
            } else {
                match server.get_customer(&ws, app.as_ref(), &id).await {
                    Ok(c) => response::json(StatusCode::OK, &c),
                    Err(e) => registry_response(e, MISSING),
                }
            }
        }
        _ => response::not_found("no such resource"),
    }
}
